/*
 * OpenSSL 3's algorithms, fetched once per process.
 *
 * A fetch by name (EVP_MD_fetch, or the implicit one EVP_sha256() makes on
 * every EVP_DigestInit_ex, or a MAC's digest named in its parameters) asks
 * the providers each time; for a login's small inputs that was more than
 * the hashing.  The module's body stays loaded from one transaction to
 * the next (pam/module_body.h), and so do these.  Each is the default
 * library context's, fetched on first use; never freed.  NULL if OpenSSL
 * cannot give it (the caller fails closed).
 */
#ifndef AMFA_ALGORITHMS_H
#define AMFA_ALGORITHMS_H

#include <openssl/evp.h>

enum amfa_md { AMFA_MD_SHA1, AMFA_MD_SHA256, AMFA_MD_SHA512, AMFA_MD_COUNT };

const EVP_MD *amfa_md(enum amfa_md which);

/*
 * A new HMAC context over digest `which', with no key yet: EVP_MAC_init it
 * with the key and no parameters.  Free with EVP_MAC_CTX_free.
 */
EVP_MAC_CTX *amfa_hmac_new(enum amfa_md which);

#endif
