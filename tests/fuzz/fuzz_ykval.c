/*
 * The Yubico validation server's answer.  The parser and the judge are
 * static in ykval.c, so this harness compiles that file in (the archive's
 * copy is then not linked).  The first input byte picks the setup:
 *   bit 0: signed (an API key is configured) or not;
 *   bit 1: sign the answer here with the right key, so the fuzzer gets past
 *          the HMAC check to the status and echo logic;
 *   bit 2: an earlier server may have consumed the OTP.
 * The rest is the HTTP body.  A forged answer must never come out OK.
 */
#include "../../pam_awsmfa/yubikey/ykval.c"

#include "fuzz_common.h"

#define FUZZ_OTP   "vvccccfhcbvlhilnrtndcfklbtuhtlucgnhttruhbnhc"
#define FUZZ_NONCE "0123456789abcdef0123456789abcdef"

static unsigned char key[AMFA_YKVAL_MAX_KEY];
static long keylen;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	keylen = b64_decode("bW9kaGV4IGlzIGEgZnV6emVyIGtleQ==", key,
	    sizeof(key));
	if (keylen <= 0)
		abort();
	return 0;
}

/* body + "\r\nh=" + the HMAC of body's pairs, or NULL. */
static char *
signed_copy(const char *body, size_t len)
{
	char sig[SIG_B64_LEN + 1], *copy, *out;
	struct answer a;
	const char *why;

	copy = strdup(body);
	if (copy == NULL)
		abort();
	if (parse_answer(copy, len, &a, &why) != 0 ||
	    sign_pairs(key, (size_t)keylen, a.p, a.n, sig) != 0) {
		free(copy);
		return NULL;
	}
	free(copy);
	if ((out = malloc(len + 4 + SIG_B64_LEN + 1)) == NULL)
		abort();
	memcpy(out, body, len);
	memcpy(out + len, "\r\nh=", 4);
	memcpy(out + len + 4, sig, SIG_B64_LEN + 1);
	return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const urls[] = { "http://127.0.0.1/wsapi/2.0/verify",
		NULL };
	struct amfa_ykval_config c = { urls, "1", NULL, NULL, 1000 };
	struct call k;
	enum amfa_ykval_result res = AMFA_YKVAL_ERROR;
	enum action act;
	unsigned char scratch[AMFA_YKVAL_MAX_KEY];
	char *body, *orig, *sbody = NULL;
	size_t len;
	int mode;

	if (size == 0)
		return 0;
	mode = data[0];
	body = fuzz_cstr(data + 1, size - 1);
	len = size - 1;
	memset(&k, 0, sizeof(k));
	k.c = &c;
	k.otp = FUZZ_OTP;
	k.nonce = FUZZ_NONCE;
	k.sent_before = (mode & 4) != 0;
	if (mode & 1) {
		k.key = key;
		k.keylen = (size_t)keylen;
	}
	if ((mode & 3) == 3 && memchr(body, '\0', len) == NULL &&
	    (sbody = signed_copy(body, len)) != NULL) {
		free(body);
		body = sbody;
		len = strlen(body);
	}
	if ((orig = malloc(len + 1)) == NULL)
		abort();
	memcpy(orig, body, len + 1);
	act = judge(&k, "http://127.0.0.1/wsapi/2.0/verify", body, len, &res);
	if (act == ACT_DONE && res == AMFA_YKVAL_OK) {
		/* OK needs our OTP and nonce echoed, and with a key a
		 * signature that only we could have made. */
		if (memmem(orig, len, "otp=" FUZZ_OTP,
			strlen("otp=" FUZZ_OTP)) == NULL ||
		    memmem(orig, len, "nonce=" FUZZ_NONCE,
			strlen("nonce=" FUZZ_NONCE)) == NULL)
			abort();
		if ((mode & 1) && sbody == NULL)
			abort();
	}
	(void)amfa_ykval_result_str(res);
	free(orig);
	free(body);
	/* The API-key decoder, on the raw input. */
	body = fuzz_cstr(data + 1, size - 1);
	(void)b64_decode(body, scratch, sizeof(scratch));
	free(body);
	return 0;
}
