/* Recovery codes; see recovery.h. */
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "hex.h"
#include "recovery.h"

/* Crockford's base32, lower case: no i, l, o, u. */
static const char alphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";

#define KDF_N 8192u /* 2^13: recovery.h says why */
#define KDF_R 8u
#define KDF_P 1u

int
amfa_recovery_normalize(const char *typed, char norm[AMFA_RECOVERY_SYMBOLS + 1])
{
	size_t n = 0;

	for (const char *p = typed; *p != '\0'; p++) {
		char c = *p;

		if ((c == '-' || c == ' ') && (n == 4 || n == 8) &&
		    p != typed && p[-1] != '-' && p[-1] != ' ')
			continue;
		if (n == AMFA_RECOVERY_SYMBOLS)
			goto no;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c == 'o')
			c = '0';
		else if (c == 'i' || c == 'l')
			c = '1';
		if (c == '\0' || strchr(alphabet, c) == NULL)
			goto no;
		norm[n++] = c;
	}
	if (n != AMFA_RECOVERY_SYMBOLS)
		goto no;
	norm[n] = '\0';
	return 0;
no:
	OPENSSL_cleanse(norm, AMFA_RECOVERY_SYMBOLS + 1);
	return -1;
}

int
amfa_recovery_hash(const char *norm,
    const unsigned char salt[AMFA_RECOVERY_SALT],
    unsigned char out[AMFA_RECOVERY_HASH])
{
	uint64_t n = KDF_N;
	unsigned r = KDF_R, p = KDF_P;
	OSSL_PARAM params[6];
	EVP_KDF_CTX *ctx;
	EVP_KDF *kdf;
	int ok;

	if ((kdf = EVP_KDF_fetch(NULL, "SCRYPT", NULL)) == NULL)
		return -1;
	ctx = EVP_KDF_CTX_new(kdf);
	EVP_KDF_free(kdf);
	if (ctx == NULL)
		return -1;
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD,
	    (void *)norm, strlen(norm));
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
	    (void *)salt, AMFA_RECOVERY_SALT);
	params[2] = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n);
	params[3] = OSSL_PARAM_construct_uint(OSSL_KDF_PARAM_SCRYPT_R, &r);
	params[4] = OSSL_PARAM_construct_uint(OSSL_KDF_PARAM_SCRYPT_P, &p);
	params[5] = OSSL_PARAM_construct_end();
	ok = EVP_KDF_derive(ctx, out, AMFA_RECOVERY_HASH, params) == 1;
	EVP_KDF_CTX_free(ctx);
	if (!ok)
		OPENSSL_cleanse(out, AMFA_RECOVERY_HASH);
	return ok ? 0 : -1;
}

static int
hex_decode(const char *s, size_t len, unsigned char *out)
{
	for (size_t i = 0; i < len; i++) {
		unsigned v = 0;

		for (int k = 0; k < 2; k++) {
			char c = s[2 * i + k];

			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				v |= (unsigned)(c - 'a' + 10);
			else
				return -1;
		}
		out[i] = (unsigned char)v;
	}
	return 0;
}

int
amfa_recovery_line_parse(const char *value, uint32_t *gen,
    struct amfa_recovery_code *c, const char **why)
{
	const char *p = value;
	unsigned long g = 0;
	unsigned idx = 0;
	size_t n;

	memset(c, 0, sizeof(*c));
	*why = "expected GEN.IDX:SALT:HASH (8 hex digits, an index 0-15, "
	       "32 and 64 hex digits)";
	if (strlen(value) > AMFA_RECOVERY_LINE_MAX)
		return -1;
	/* GEN: exactly 8 lower-case hex digits, not all zero. */
	if (strspn(p, "0123456789abcdef") != 8 || p[8] != '.')
		return -1;
	for (int i = 0; i < 8; i++)
		g = (g << 4) |
		    (unsigned long)(p[i] <= '9' ? p[i] - '0' : p[i] - 'a' + 10);
	if (g == 0) {
		*why = "the generation must not be 00000000";
		return -1;
	}
	p += 9;
	/* IDX: 0..15, no leading zero. */
	n = strspn(p, "0123456789");
	if (n == 0 || n > 2 || (n == 2 && p[0] == '0') || p[n] != ':')
		return -1;
	for (size_t i = 0; i < n; i++)
		idx = idx * 10 + (unsigned)(p[i] - '0');
	if (idx >= AMFA_RECOVERY_MAX) {
		*why = "the index must be 0 to 15";
		return -1;
	}
	p += n + 1;
	if (strspn(p, "0123456789abcdef") != 2 * AMFA_RECOVERY_SALT ||
	    p[2 * AMFA_RECOVERY_SALT] != ':' ||
	    hex_decode(p, AMFA_RECOVERY_SALT, c->salt) != 0)
		return -1;
	p += 2 * AMFA_RECOVERY_SALT + 1;
	if (strspn(p, "0123456789abcdef") != 2 * AMFA_RECOVERY_HASH ||
	    p[2 * AMFA_RECOVERY_HASH] != '\0' ||
	    hex_decode(p, AMFA_RECOVERY_HASH, c->hash) != 0) {
		memset(c, 0, sizeof(*c));
		return -1;
	}
	c->idx = idx;
	*gen = (uint32_t)g;
	*why = NULL;
	return 0;
}

int
amfa_recovery_new(uint32_t gen, unsigned idx,
    char shown[AMFA_RECOVERY_SHOWN + 1], char line[AMFA_RECOVERY_LINE_MAX])
{
	unsigned char rnd[AMFA_RECOVERY_SYMBOLS], salt[AMFA_RECOVERY_SALT];
	unsigned char hash[AMFA_RECOVERY_HASH];
	char norm[AMFA_RECOVERY_SYMBOLS + 1];
	char salthex[2 * AMFA_RECOVERY_SALT + 1];
	char hashhex[2 * AMFA_RECOVERY_HASH + 1];
	int r = -1, k = 0;

	if (gen == 0 || idx >= AMFA_RECOVERY_MAX)
		return -1;
	/* 5 bits from each byte: 256 is a multiple of 32, so no bias. */
	if (RAND_bytes(rnd, sizeof(rnd)) != 1 ||
	    RAND_bytes(salt, sizeof(salt)) != 1)
		goto out;
	for (int i = 0; i < AMFA_RECOVERY_SYMBOLS; i++) {
		norm[i] = alphabet[rnd[i] & 31];
		if (i > 0 && i % 4 == 0)
			shown[k++] = '-';
		shown[k++] = norm[i];
	}
	norm[AMFA_RECOVERY_SYMBOLS] = '\0';
	shown[k] = '\0';
	if (amfa_recovery_hash(norm, salt, hash) != 0)
		goto out;
	amfa_hex(salt, sizeof(salt), salthex);
	amfa_hex(hash, sizeof(hash), hashhex);
	snprintf(line, AMFA_RECOVERY_LINE_MAX, "%08x.%u:%s:%s", (unsigned)gen,
	    idx, salthex, hashhex);
	r = 0;
out:
	if (r != 0)
		OPENSSL_cleanse(shown, AMFA_RECOVERY_SHOWN + 1);
	OPENSSL_cleanse(rnd, sizeof(rnd));
	OPENSSL_cleanse(norm, sizeof(norm));
	OPENSSL_cleanse(hash, sizeof(hash));
	return r;
}

int
amfa_recovery_match(const char *norm, const struct amfa_recovery_code *c,
    size_t n)
{
	unsigned char h[AMFA_RECOVERY_HASH];
	int found = -1, err = 0;

	for (size_t i = 0; i < n; i++) {
		int eq;

		if (amfa_recovery_hash(norm, c[i].salt, h) != 0) {
			err = 1;
			continue;
		}
		eq = CRYPTO_memcmp(h, c[i].hash, sizeof(h)) == 0;
		/* No early exit: every code costs the same. */
		found = eq ? (int)i : found;
	}
	OPENSSL_cleanse(h, sizeof(h));
	return err ? -2 : found;
}

int
amfa_recovery_left(uint32_t present, uint32_t used)
{
	return __builtin_popcount(present & ~used);
}
