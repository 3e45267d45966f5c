/* Strict base64 over OpenSSL's EVP encoder; see base64.h. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "base64.h"

#define B64_ALPHABET \
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

char *
amfa_b64_encode(const unsigned char *in, size_t len)
{
	char *out;

	if (len > 64 * 1024 * 1024)
		return NULL;
	if ((out = malloc(4 * ((len + 2) / 3) + 1)) == NULL)
		return NULL;
	EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	return out;
}

int
amfa_b64_decode(const char *in, unsigned char *out, size_t max, size_t *outlen)
{
	size_t n = strlen(in), pad = 0, body;
	unsigned char *tmp;
	int r;

	*outlen = 0;
	if (n == 0 || n % 4 != 0 || n / 4 * 3 > max + 2)
		return -1;
	if (in[n - 1] == '=')
		pad = in[n - 2] == '=' ? 2 : 1;
	body = n - pad;
	if (strspn(in, B64_ALPHABET) != body)
		return -1;
	if (n / 4 * 3 - pad > max)
		return -1;
	if ((tmp = malloc(n / 4 * 3)) == NULL)
		return -1;
	r = EVP_DecodeBlock(tmp, (const unsigned char *)in, (int)n);
	if (r < 0 || (size_t)r != n / 4 * 3) {
		OPENSSL_cleanse(tmp, n / 4 * 3);
		free(tmp);
		return -1;
	}
	memcpy(out, tmp, n / 4 * 3 - pad);
	*outlen = n / 4 * 3 - pad;
	OPENSSL_cleanse(tmp, n / 4 * 3);
	free(tmp);
	return 0;
}
