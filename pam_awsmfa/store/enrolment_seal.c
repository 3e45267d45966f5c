/* AES-256-GCM over an enrolment's text; see enrolment_seal.h. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "enrolment_seal.h"
#include "secure_file.h"

#define AAD_LABEL "amfa-enrolment-v1"

/* The additional data; -1 when it does not fit. */
static int
aad(const struct amfa_seal_where *w, unsigned char *buf, size_t max,
    size_t *len)
{
	int n = snprintf((char *)buf, max, "%s%c%s%c%s%c%" PRIu64, AAD_LABEL, 0,
	    w->table, 0, w->user, 0, w->version);

	if (n < 0 || (size_t)n >= max || w->version == 0)
		return -1;
	*len = (size_t)n;
	return 0;
}

int
amfa_seal(const unsigned char key[AMFA_KMS_DATA_KEY_LEN],
    const struct amfa_seal_where *w, const char *plain, size_t len,
    unsigned char **out, size_t *outlen)
{
	unsigned char ad[1024], *buf;
	EVP_CIPHER_CTX *c;
	size_t adlen;
	int n, ok = 0;

	*out = NULL;
	*outlen = 0;
	if (len > AMFA_SEAL_MAX_PLAIN || aad(w, ad, sizeof(ad), &adlen) != 0)
		return -1;
	if ((buf = malloc(len + AMFA_SEAL_OVERHEAD)) == NULL)
		return -1;
	if ((c = EVP_CIPHER_CTX_new()) == NULL) {
		free(buf);
		return -1;
	}
	if (RAND_bytes(buf, AMFA_SEAL_NONCE) == 1 &&
	    EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, AMFA_SEAL_NONCE,
		NULL) == 1 &&
	    EVP_EncryptInit_ex(c, NULL, NULL, key, buf) == 1 &&
	    EVP_EncryptUpdate(c, NULL, &n, ad, (int)adlen) == 1 &&
	    EVP_EncryptUpdate(c, buf + AMFA_SEAL_NONCE, &n,
		(const unsigned char *)plain, (int)len) == 1 &&
	    (size_t)n == len &&
	    EVP_EncryptFinal_ex(c, buf + AMFA_SEAL_NONCE + len, &n) == 1 &&
	    n == 0 &&
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, AMFA_SEAL_TAG,
		buf + AMFA_SEAL_NONCE + len) == 1)
		ok = 1;
	EVP_CIPHER_CTX_free(c);
	if (!ok) {
		amfa_wipe_free(buf, len + AMFA_SEAL_OVERHEAD);
		return -1;
	}
	*out = buf;
	*outlen = len + AMFA_SEAL_OVERHEAD;
	return 0;
}

int
amfa_seal_open(const unsigned char key[AMFA_KMS_DATA_KEY_LEN],
    const struct amfa_seal_where *w, const unsigned char *sealed,
    size_t sealed_len, char **plain, size_t *len)
{
	unsigned char ad[1024], tag[AMFA_SEAL_TAG];
	EVP_CIPHER_CTX *c;
	size_t adlen, clen;
	char *buf;
	int n, ok = 0;

	*plain = NULL;
	*len = 0;
	if (sealed_len < AMFA_SEAL_OVERHEAD ||
	    sealed_len - AMFA_SEAL_OVERHEAD > AMFA_SEAL_MAX_PLAIN ||
	    aad(w, ad, sizeof(ad), &adlen) != 0)
		return -1;
	clen = sealed_len - AMFA_SEAL_OVERHEAD;
	memcpy(tag, sealed + AMFA_SEAL_NONCE + clen, AMFA_SEAL_TAG);
	if ((buf = malloc(clen + 1)) == NULL)
		return -1;
	if ((c = EVP_CIPHER_CTX_new()) == NULL) {
		free(buf);
		return -1;
	}
	if (EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, AMFA_SEAL_NONCE,
		NULL) == 1 &&
	    EVP_DecryptInit_ex(c, NULL, NULL, key, sealed) == 1 &&
	    EVP_DecryptUpdate(c, NULL, &n, ad, (int)adlen) == 1 &&
	    EVP_DecryptUpdate(c, (unsigned char *)buf, &n,
		sealed + AMFA_SEAL_NONCE, (int)clen) == 1 &&
	    (size_t)n == clen &&
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, AMFA_SEAL_TAG, tag) ==
		1 &&
	    EVP_DecryptFinal_ex(c, (unsigned char *)buf + clen, &n) == 1)
		ok = 1;
	EVP_CIPHER_CTX_free(c);
	if (!ok) {
		amfa_wipe_free(buf, clen + 1);
		return -1;
	}
	buf[clen] = '\0';
	*plain = buf;
	*len = clen;
	return 0;
}
