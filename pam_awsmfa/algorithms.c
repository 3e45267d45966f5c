/* OpenSSL's algorithms, fetched once per process; see algorithms.h. */
#include <pthread.h>

#include <openssl/core_names.h>
#include <openssl/params.h>

#include "algorithms.h"

static const char *const md_names[AMFA_MD_COUNT] = { "SHA1", "SHA256",
	"SHA512" };

/* Fetched on first use, under the lock; a failed fetch is tried again by
 * the next call (a limit on memory does not stick for a process's life). */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static EVP_MD *mds[AMFA_MD_COUNT];
/* An HMAC context per digest, the digest set and no key: what
 * amfa_hmac_new duplicates (no fetch, by name, of the MAC or its digest). */
static EVP_MAC_CTX *hmacs[AMFA_MD_COUNT];

const EVP_MD *
amfa_md(enum amfa_md which)
{
	EVP_MD *md;

	if ((unsigned)which >= AMFA_MD_COUNT)
		return NULL;
	if ((md = __atomic_load_n(&mds[which], __ATOMIC_ACQUIRE)) != NULL)
		return md;
	pthread_mutex_lock(&lock);
	if ((md = mds[which]) == NULL &&
	    (md = EVP_MD_fetch(NULL, md_names[which], NULL)) != NULL)
		__atomic_store_n(&mds[which], md, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&lock);
	return md;
}

static EVP_MAC_CTX *
hmac_template(enum amfa_md which)
{
	OSSL_PARAM params[2];
	EVP_MAC_CTX *t;
	EVP_MAC *mac;

	if ((t = __atomic_load_n(&hmacs[which], __ATOMIC_ACQUIRE)) != NULL)
		return t;
	pthread_mutex_lock(&lock);
	if ((t = hmacs[which]) == NULL &&
	    (mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) != NULL) {
		params[0] =
		    OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
			(char *)md_names[which], 0);
		params[1] = OSSL_PARAM_construct_end();
		if ((t = EVP_MAC_CTX_new(mac)) != NULL &&
		    EVP_MAC_CTX_set_params(t, params) != 1) {
			EVP_MAC_CTX_free(t);
			t = NULL;
		}
		EVP_MAC_free(mac);
		if (t != NULL)
			__atomic_store_n(&hmacs[which], t, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&lock);
	return t;
}

EVP_MAC_CTX *
amfa_hmac_new(enum amfa_md which)
{
	EVP_MAC_CTX *t;

	if ((unsigned)which >= AMFA_MD_COUNT ||
	    (t = hmac_template(which)) == NULL)
		return NULL;
	return EVP_MAC_CTX_dup(t);
}
