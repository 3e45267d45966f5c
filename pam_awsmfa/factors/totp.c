/* HOTP/TOTP; see totp.h. */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "algorithms.h"
#include "totp.h"

/* The digest of each TOTP algorithm. */
static int
md_of(enum amfa_totp_alg alg, enum amfa_md *md)
{
	switch (alg) {
	case AMFA_TOTP_SHA1:
		*md = AMFA_MD_SHA1;
		return 0;
	case AMFA_TOTP_SHA256:
		*md = AMFA_MD_SHA256;
		return 0;
	case AMFA_TOTP_SHA512:
		*md = AMFA_MD_SHA512;
		return 0;
	}
	return -1;
}

static const uint32_t powers_of_ten[] = { 1, 10, 100, 1000, 10000, 100000,
	1000000, 10000000, 100000000 };

static int
params_ok(const struct amfa_totp_params *p)
{
	return p->digits >= 6 && p->digits <= 8 && p->period > 0 &&
	    p->key != NULL && p->keylen > 0 && p->keylen <= AMFA_TOTP_MAX_KEY &&
	    md_of(p->alg, &(enum amfa_md){ 0 }) == 0;
}

/*
 * HMAC of the 8-byte big-endian counter, truncated per RFC 4226 5.3.
 * `keyed': ctx already holds p's key from an earlier call (the key's
 * padded blocks are not hashed again for each step of a window).
 */
static int
hotp_with(EVP_MAC_CTX *ctx, const struct amfa_totp_params *p, uint64_t counter,
    int keyed, char *out, size_t outlen)
{
	unsigned char msg[8], mac[EVP_MAX_MD_SIZE];
	size_t maclen = 0;
	uint32_t bin;
	int off, rc = -1;

	if (outlen < (size_t)p->digits + 1)
		return -1;
	for (int i = 7; i >= 0; i--) {
		msg[i] = (unsigned char)(counter & 0xff);
		counter >>= 8;
	}
	if (!(keyed ? EVP_MAC_init(ctx, NULL, 0, NULL) :
		      EVP_MAC_init(ctx, p->key, p->keylen, NULL)) ||
	    !EVP_MAC_update(ctx, msg, sizeof(msg)) ||
	    !EVP_MAC_final(ctx, mac, &maclen, sizeof(mac)) || maclen < 20)
		goto out;
	off = mac[maclen - 1] & 0x0f;
	bin = ((uint32_t)(mac[off] & 0x7f) << 24) |
	    ((uint32_t)mac[off + 1] << 16) | ((uint32_t)mac[off + 2] << 8) |
	    (uint32_t)mac[off + 3];
	bin %= powers_of_ten[p->digits];
	/* The code's digits, leading zeros kept. */
	for (int i = p->digits - 1; i >= 0; i--) {
		out[i] = (char)('0' + bin % 10);
		bin /= 10;
	}
	out[p->digits] = '\0';
	OPENSSL_cleanse(&bin, sizeof(bin));
	rc = 0;
out:
	OPENSSL_cleanse(mac, sizeof(mac));
	return rc;
}

/* An HMAC context of p's digest, not yet keyed. */
static EVP_MAC_CTX *
hmac_ctx_new(const struct amfa_totp_params *p)
{
	enum amfa_md md;

	if (md_of(p->alg, &md) != 0)
		return NULL;
	return amfa_hmac_new(md);
}

int
amfa_hotp(const struct amfa_totp_params *p, uint64_t counter, char *out,
    size_t outlen)
{
	EVP_MAC_CTX *ctx;
	int rc;

	if (!params_ok(p) || (ctx = hmac_ctx_new(p)) == NULL)
		return -1;
	rc = hotp_with(ctx, p, counter, 0, out, outlen);
	EVP_MAC_CTX_free(ctx);
	return rc;
}

int64_t
amfa_totp_step(const struct amfa_totp_params *p, time_t now)
{
	if (now < 0 || p->period == 0)
		return -1;
	return (int64_t)now / (int64_t)p->period;
}

int
amfa_totp_code_shaped(const char *s, int digits)
{
	int n = 0;

	for (; s[n] != '\0'; n++) {
		if (s[n] < '0' || s[n] > '9')
			return 0;
	}
	return n == digits;
}

int
amfa_totp_verify(const struct amfa_totp_params *p, const char *code, time_t now,
    int window, int64_t after, int64_t *matched, int *seen)
{
	char want[16];
	EVP_MAC_CTX *ctx;
	int64_t step, found = -1;
	int rc = 0, keyed = 0, any = 0;

	if (seen != NULL)
		*seen = 0;

	if (!params_ok(p) || window < 0 || window > AMFA_TOTP_MAX_WINDOW ||
	    (step = amfa_totp_step(p, now)) < 0)
		return -1;
	if (!amfa_totp_code_shaped(code, p->digits))
		return 0;
	if ((ctx = hmac_ctx_new(p)) == NULL)
		return -1;
	for (int64_t s = step - window; s <= step + window; s++) {
		if (s < 0)
			continue;
		if (hotp_with(ctx, p, (uint64_t)s, keyed, want, sizeof(want)) !=
		    0) {
			rc = -1;
			break;
		}
		keyed = 1;
		/* Every step is computed and compared; no early exit. */
		int same = CRYPTO_memcmp(want, code, (size_t)p->digits) == 0;
		any |= same;
		if (same && s > after && found < 0)
			found = s;
	}
	OPENSSL_cleanse(want, sizeof(want));
	EVP_MAC_CTX_free(ctx);
	if (rc != 0)
		return -1;
	if (seen != NULL)
		*seen = any;
	if (found < 0)
		return 0;
	*matched = found;
	return 1;
}
