/*
 * What a user types as a one-time password: TOTP digits
 * (amfa_totp_code_shaped, amfa_totp_verify) and YubiKey OTPs in modhex or
 * Dvorak form (amfa_yk_otp_normalize, amfa_yk_otp_shaped, amfa_yk_decode),
 * plus the administrator's token specifications (amfa_yk_token_parse).
 *
 * Inputs starting with 0xff instead build a real OTP: the next 16 bytes
 * are the plaintext block (private id, counters), the CRC is set, the block
 * is encrypted with the test token's key, modhex-encoded, and optionally
 * one character is altered.  The decoder must then accept exactly the
 * untouched OTPs whose private id is the token's, with the right counters.
 */
#include <yubikey.h>

#include "factors/totp.h"
#include "fuzz_common.h"
#include "yubikey/ykotp.h"

static struct amfa_yk_token token;
static const unsigned char totp_key[20] = "12345678901234567890";

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *why;

	fuzz_quiet();
	if (amfa_yk_token_parse("vvccccfhcbvl:00112233445566778899aabbccddeeff:"
				"0a1b2c3d4e5f",
		&token, &why) != 0)
		abort();
	return 0;
}

static void
raw(const char *s)
{
	struct amfa_totp_params p = { AMFA_TOTP_SHA1, 6, 30, totp_key,
		sizeof(totp_key) };
	struct amfa_yk_token t;
	char norm[AMFA_YK_OTP_MAX + 1];
	const char *why;
	size_t which = 99;
	unsigned ses = 0, use = 0;
	int64_t m;
	int n, r;

	for (int d = 6; d <= 8; d++) {
		p.digits = d;
		r = amfa_totp_verify(&p, s, 1111111109, 1, -1, &m, NULL);
		if (r == 1 && !amfa_totp_code_shaped(s, d))
			abort();
	}
	n = amfa_yk_otp_normalize(s, norm, sizeof(norm));
	if ((n >= 0) != (amfa_yk_otp_shaped(s) != 0))
		abort();
	if (n >= 0 &&
	    ((size_t)n != strlen(norm) || n < AMFA_YK_OTP_MIN ||
		n > AMFA_YK_OTP_MAX || n % 2 != 0 ||
		strspn(norm, "cbdefghijklnrtuv") != (size_t)n))
		abort();
	r = amfa_yk_decode(&token, 1, s, &which, &ses, &use);
	if (r == AMFA_YK_OK &&
	    (which != 0 || ses > AMFA_YK_SESSION_MAX || use > AMFA_YK_USE_MAX))
		abort();
	if (r != AMFA_YK_OK && (which != 99 || ses != 0 || use != 0))
		abort(); /* outputs untouched on failure */
	(void)amfa_yk_result_str((enum amfa_yk_result)r);
	if (amfa_yk_token_parse(s, &t, &why) == 0) {
		size_t len = strlen(t.public_id);
		if (len < 2 || len > AMFA_YK_PUBLIC_ID_MAX || len % 2 != 0 ||
		    strspn(t.public_id, "cbdefghijklnrtuv") != len)
			abort();
		amfa_yk_token_wipe(&t, 1);
	} else if (why == NULL) {
		abort();
	}
}

static void
built(const uint8_t *data, size_t size)
{
	yubikey_token_st tok;
	char otp[AMFA_YK_OTP_MAX + 1];
	size_t which = 99;
	unsigned ses = 0, use = 0;
	int altered = 0, r;

	if (size < sizeof(tok))
		return;
	memcpy(&tok, data, sizeof(tok));
	tok.crc = ~yubikey_crc16((const uint8_t *)&tok,
	    sizeof(tok) - sizeof(tok.crc));
	yubikey_aes_encrypt((uint8_t *)&tok, token.aes_key);
	strcpy(otp, token.public_id);
	yubikey_modhex_encode(otp + strlen(otp), (const char *)&tok,
	    sizeof(tok));
	if (size >= sizeof(tok) + 2) {
		/* Alter one character to another modhex one. */
		size_t at = data[sizeof(tok)] % strlen(otp);
		char c = "cbdefghijklnrtuv"[data[sizeof(tok) + 1] % 16];
		altered = otp[at] != c;
		otp[at] = c;
	}
	if (size >= sizeof(tok) + 3 && (data[sizeof(tok) + 2] & 1)) {
		for (char *p = otp; *p != '\0'; p++) /* caps lock */
			*p = (char)(*p - 'a' + 'A');
	}
	r = amfa_yk_decode(&token, 1, otp, &which, &ses, &use);
	memcpy(&tok, data, sizeof(tok));
	if (!altered &&
	    memcmp(tok.uid, token.private_id, sizeof(tok.uid)) == 0) {
		if (r != AMFA_YK_OK || which != 0 ||
		    ses != yubikey_counter(tok.ctr) || use != tok.use)
			abort();
	} else if (!altered && r != AMFA_YK_BAD_PRIVATE_ID) {
		abort();
	} else if (altered && r == AMFA_YK_OK &&
	    memcmp(tok.uid, token.private_id, sizeof(tok.uid)) != 0) {
		abort(); /* an altered OTP of a wrong id slipped in */
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size > 0 && data[0] == 0xff) {
		built(data + 1, size - 1);
		return 0;
	}
	s = fuzz_cstr(data, size);
	raw(s);
	free(s);
	return 0;
}
