/*
 * The sealed enrolment record of the table (enrolment_table.h): the text of
 * a USERS_DIR/USER.conf file, encrypted with AES-256-GCM (OpenSSL EVP)
 * under a data key that KMS generated and wrapped.  Pure crypto, no
 * network.
 *
 * The sealed form: nonce (12 random bytes) || ciphertext || tag (16).  The
 * additional data binds it to where it belongs: "amfa-enrolment-v1", the
 * table, the user and the enrolment version, NUL-separated.  A record
 * copied onto another user's item, another table, or put back under
 * another version does not open (KMS's encryption context binds the
 * wrapped data key to the table and the user the same way).
 */
#ifndef AMFA_ENROLMENT_SEAL_H
#define AMFA_ENROLMENT_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "aws/kms.h"

#define AMFA_SEAL_NONCE	   12
#define AMFA_SEAL_TAG	   16
#define AMFA_SEAL_OVERHEAD (AMFA_SEAL_NONCE + AMFA_SEAL_TAG)
/* The largest enrolment text sealed (an enrolment file's own limit). */
#define AMFA_SEAL_MAX_PLAIN (16 * 1024)

struct amfa_seal_where {
	const char *table;
	const char *user;
	uint64_t version; /* enr_ver */
};

/*
 * Seal `plain' (len bytes) under `key': 0 with *out (heap, *outlen =
 * len + AMFA_SEAL_OVERHEAD), or -1.
 */
int amfa_seal(const unsigned char key[AMFA_KMS_DATA_KEY_LEN],
    const struct amfa_seal_where *w, const char *plain, size_t len,
    unsigned char **out, size_t *outlen);
/*
 * Open a sealed record: 0 with *plain (heap, NUL-terminated, *len bytes;
 * the caller wipes it: amfa_wipe_free(p, len + 1)), or -1 (too short, too
 * long, or the tag does not check: another key, another place, changed).
 */
int amfa_seal_open(const unsigned char key[AMFA_KMS_DATA_KEY_LEN],
    const struct amfa_seal_where *w, const unsigned char *sealed,
    size_t sealed_len, char **plain, size_t *len);

#endif
