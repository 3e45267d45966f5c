/* YubiKey OTP, offline; see ykotp.h. */
#include <string.h>

#include <openssl/crypto.h>
#include <yubikey.h>

#include "ykotp.h"

static const char modhex_alpha[] = "cbdefghijklnrtuv";
static const char dvorak_alpha[] = "jxe.uidchtnbpygk";

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* The modhex form of `len' characters of `s' read in `alpha', or -1. */
static int
translate(const char *s, size_t len, const char *alpha, char *out)
{
	const char *p;
	int c;

	for (size_t i = 0; i < len; i++) {
		c = lower((unsigned char)s[i]);
		if (c == '\0' || (p = strchr(alpha, c)) == NULL)
			return -1;
		out[i] = modhex_alpha[p - alpha];
	}
	out[len] = '\0';
	return 0;
}

static int
hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decode exactly 2 * n hex digits of `s' (up to `end') into `out'. */
static int
hex_field(const char *s, const char *end, unsigned char *out, size_t n)
{
	int hi, lo;

	if ((size_t)(end - s) != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if ((hi = hex_value((unsigned char)s[2 * i])) < 0 ||
		    (lo = hex_value((unsigned char)s[2 * i + 1])) < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

int
amfa_yk_token_parse(const char *spec, struct amfa_yk_token *out,
    const char **why)
{
	const char *c1, *c2, *end;
	size_t idlen;

	memset(out, 0, sizeof(*out));
	if ((c1 = strchr(spec, ':')) == NULL ||
	    (c2 = strchr(c1 + 1, ':')) == NULL) {
		*why = "expected PUBLICID:AESKEY:PRIVATEID";
		return -1;
	}
	end = c2 + 1 + strlen(c2 + 1);
	if (memchr(c2 + 1, ':', (size_t)(end - c2 - 1)) != NULL) {
		*why = "expected PUBLICID:AESKEY:PRIVATEID (too many fields)";
		return -1;
	}
	idlen = (size_t)(c1 - spec);
	if (idlen < 2 || idlen > AMFA_YK_PUBLIC_ID_MAX || idlen % 2 != 0) {
		*why = "public id must be 2 to 32 modhex characters, an even "
		       "number";
		goto bad;
	}
	if (translate(spec, idlen, modhex_alpha, out->public_id) != 0) {
		*why = "public id is not modhex (cbdefghijklnrtuv)";
		goto bad;
	}
	if (hex_field(c1 + 1, c2, out->aes_key, AMFA_YK_KEY_LEN) != 0) {
		*why = "AES key must be 32 hexadecimal digits";
		goto bad;
	}
	if (hex_field(c2 + 1, end, out->private_id, AMFA_YK_PRIVATE_ID_LEN) !=
	    0) {
		*why = "private id must be 12 hexadecimal digits";
		goto bad;
	}
	return 0;
bad:
	amfa_yk_token_wipe(out, 1);
	return -1;
}

int
amfa_yk_token_parse_any(const char *spec, struct amfa_yk_token *out,
    const char **why)
{
	size_t idlen = strlen(spec);

	if (strchr(spec, ':') != NULL)
		return amfa_yk_token_parse(spec, out, why);
	memset(out, 0, sizeof(*out));
	if (idlen < 2 || idlen > AMFA_YK_PUBLIC_ID_MAX || idlen % 2 != 0) {
		*why = "public id must be 2 to 32 modhex characters, an even "
		       "number";
		return -1;
	}
	if (translate(spec, idlen, modhex_alpha, out->public_id) != 0) {
		*why = "public id is not modhex (cbdefghijklnrtuv)";
		memset(out, 0, sizeof(*out));
		return -1;
	}
	out->id_only = 1;
	return 0;
}

void
amfa_yk_token_wipe(struct amfa_yk_token *tokens, size_t n)
{
	if (tokens != NULL && n > 0)
		OPENSSL_cleanse(tokens, n * sizeof(*tokens));
}

/* Length of an OTP-shaped string, or -1. */
static int
otp_length(const char *s)
{
	size_t len = strnlen(s, AMFA_YK_OTP_MAX + 1);

	if (len < AMFA_YK_OTP_MIN || len > AMFA_YK_OTP_MAX || len % 2 != 0)
		return -1;
	return (int)len;
}

int
amfa_yk_otp_normalize(const char *s, char *out, size_t outlen)
{
	int len;

	if ((len = otp_length(s)) < 0 || outlen < (size_t)len + 1)
		return -1;
	if (translate(s, (size_t)len, modhex_alpha, out) == 0 ||
	    translate(s, (size_t)len, dvorak_alpha, out) == 0)
		return len;
	OPENSSL_cleanse(out, outlen);
	return -1;
}

int
amfa_yk_otp_shaped(const char *s)
{
	char buf[AMFA_YK_OTP_MAX + 1];
	int ok;

	ok = amfa_yk_otp_normalize(s, buf, sizeof(buf)) >= 0;
	OPENSSL_cleanse(buf, sizeof(buf));
	return ok;
}

/* Decode the canonical OTP `otp' of `len' characters. */
static enum amfa_yk_result
decode_canonical(const struct amfa_yk_token *tokens, size_t n, const char *otp,
    size_t len, size_t *which, unsigned *session, unsigned *use)
{
	enum amfa_yk_result r = AMFA_YK_UNKNOWN_TOKEN;
	size_t idlen = len - AMFA_YK_TOKEN_CHARS;
	unsigned char block[YUBIKEY_BLOCK_SIZE];
	unsigned ctr;

	for (size_t i = 0; i < n; i++) {
		if (tokens[i].id_only || strlen(tokens[i].public_id) != idlen ||
		    memcmp(tokens[i].public_id, otp, idlen) != 0)
			continue;
		yubikey_modhex_decode((char *)block, otp + idlen,
		    sizeof(block));
		yubikey_aes_decrypt(block, tokens[i].aes_key);
		if (yubikey_crc16(block, sizeof(block)) !=
		    YUBIKEY_CRC_OK_RESIDUE) {
			if (r == AMFA_YK_UNKNOWN_TOKEN)
				r = AMFA_YK_BAD_CRC;
			continue;
		}
		if (CRYPTO_memcmp(block, tokens[i].private_id,
			AMFA_YK_PRIVATE_ID_LEN) != 0) {
			r = AMFA_YK_BAD_PRIVATE_ID;
			continue;
		}
		/* Layout: uid[6], ctr (16 bits, little-endian), tstpl[2],
		 * tstph, use, rnd[2], crc[2]. */
		ctr = (unsigned)block[6] | (unsigned)block[7] << 8;
		*which = i;
		*session = yubikey_counter(ctr);
		*use = block[11];
		r = AMFA_YK_OK;
		break;
	}
	OPENSSL_cleanse(block, sizeof(block));
	return r;
}

/* Does the canonical `otp' of `len' characters start with a token's id? */
static int
find_by_id(const struct amfa_yk_token *tokens, size_t n, const char *otp,
    size_t len, size_t *which)
{
	size_t idlen = len - AMFA_YK_TOKEN_CHARS;

	for (size_t i = 0; i < n; i++) {
		if (strlen(tokens[i].public_id) == idlen &&
		    memcmp(tokens[i].public_id, otp, idlen) == 0) {
			*which = i;
			return 1;
		}
	}
	return 0;
}

/*
 * How well the canonical `otp' fits the tokens: 2 it decodes with a
 * token's key, 1 it names a token, 0 neither.
 */
static int
fit(const struct amfa_yk_token *tokens, size_t n, const char *otp, size_t len)
{
	size_t which;
	unsigned s, u;

	if (decode_canonical(tokens, n, otp, len, &which, &s, &u) == AMFA_YK_OK)
		return 2;
	return find_by_id(tokens, n, otp, len, &which);
}

int
amfa_yk_read(const struct amfa_yk_token *tokens, size_t n, const char *otp,
    char *out, size_t outlen)
{
	char alt[AMFA_YK_OTP_MAX + 1];
	int len;

	if ((len = amfa_yk_otp_normalize(otp, out, outlen)) < 0)
		return -1;
	/* Typed in the characters the two alphabets share, the input has a
	 * Dvorak reading too: it replaces the modhex one only if it fits
	 * these tokens better (decodes where the other does not, or names a
	 * token where the other names none). */
	if (translate(otp, (size_t)len, modhex_alpha, alt) == 0 &&
	    translate(otp, (size_t)len, dvorak_alpha, alt) == 0 &&
	    fit(tokens, n, alt, (size_t)len) > fit(tokens, n, out, (size_t)len))
		memcpy(out, alt, (size_t)len + 1);
	OPENSSL_cleanse(alt, sizeof(alt));
	return len;
}

enum amfa_yk_result
amfa_yk_decode_read(const struct amfa_yk_token *tokens, size_t n,
    const char *otp, size_t *which, unsigned *session, unsigned *use)
{
	return decode_canonical(tokens, n, otp, strlen(otp), which, session,
	    use);
}

int
amfa_yk_token_read(const struct amfa_yk_token *tokens, size_t n,
    const char *otp, size_t *which)
{
	return find_by_id(tokens, n, otp, strlen(otp), which);
}

enum amfa_yk_result
amfa_yk_decode(const struct amfa_yk_token *tokens, size_t n, const char *otp,
    size_t *which, unsigned *session, unsigned *use)
{
	char buf[AMFA_YK_OTP_MAX + 1];
	enum amfa_yk_result r;
	int len;

	if ((len = amfa_yk_read(tokens, n, otp, buf, sizeof(buf))) < 0)
		return AMFA_YK_MALFORMED;
	r = decode_canonical(tokens, n, buf, (size_t)len, which, session, use);
	OPENSSL_cleanse(buf, sizeof(buf));
	return r;
}

int
amfa_yk_otp_token(const struct amfa_yk_token *tokens, size_t n, const char *otp,
    size_t *which)
{
	char buf[AMFA_YK_OTP_MAX + 1];
	int len, found = 0;

	if ((len = amfa_yk_read(tokens, n, otp, buf, sizeof(buf))) >= 0)
		found = find_by_id(tokens, n, buf, (size_t)len, which);
	OPENSSL_cleanse(buf, sizeof(buf));
	return found;
}

int
amfa_yk_counter_cmp(unsigned s1, unsigned u1, unsigned s2, unsigned u2)
{
	if (s1 != s2)
		return s1 < s2 ? -1 : 1;
	if (u1 != u2)
		return u1 < u2 ? -1 : 1;
	return 0;
}

const char *
amfa_yk_result_str(enum amfa_yk_result r)
{
	switch (r) {
	case AMFA_YK_OK:
		return "ok";
	case AMFA_YK_MALFORMED:
		return "not a YubiKey OTP";
	case AMFA_YK_UNKNOWN_TOKEN:
		return "unknown YubiKey";
	case AMFA_YK_BAD_CRC:
		return "OTP does not decrypt (wrong key or altered OTP)";
	case AMFA_YK_BAD_PRIVATE_ID:
		return "OTP is not from this YubiKey (private id differs)";
	}
	return "unknown";
}
