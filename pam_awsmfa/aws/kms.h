/*
 * AWS KMS, JSON 1.1 protocol (POST /, X-Amz-Target: TrentService.<Action>,
 * Content-Type: application/x-amz-json-1.1), SigV4 service "kms", through
 * the DynamoDB client's signed JSON call (dynamodb.h: the same module
 * credentials, retries of throttling and 5xx, AWS's error names), for the
 * envelope encryption of enrolments in the table (store/enrolment_table.h):
 *   GenerateDataKey  a fresh AES-256 data key, in plaintext and wrapped
 *                    under the KMS key (the administrator's side)
 *   Decrypt          a wrapped data key back (a bastion at login)
 * Both under an encryption context naming the table, the user and the
 * enrolment version, which KMS binds into the wrapped key: the same blob
 * with another user's (table's, version's) context does not decrypt.  Decrypt names the key it expects
 * (KeyId), so a blob wrapped under any other key is refused by KMS.
 *
 * The plaintext data key is the caller's buffer of AMFA_KMS_DATA_KEY_LEN
 * bytes; every copy made here (the answer's body, the decoded bytes) is
 * wiped before it is freed.
 */
#ifndef AMFA_KMS_H
#define AMFA_KMS_H

#include <stdint.h>

#include "dynamodb.h"

#define AMFA_KMS_DATA_KEY_LEN 32
/* A wrapped data key's base64 (KMS blobs of a 256-bit key are ~184). */
#define AMFA_KMS_BLOB_MAX 1024

/*
 * The encryption context: {"amfa_table": table, "amfa_user": user,
 * "amfa_enr_ver": version in decimal}.  The version makes a wrapped data
 * key good for one enrolment version only: a bastion that can Decrypt an
 * old record's key cannot seal a record under a later version with it
 * (which would pass every host's version floor: enrolment_floor.h).
 */
struct amfa_kms_context {
	const char *table;
	const char *user;
	uint64_t version; /* enr_ver, > 0 */
};

/* `c': endpoint (https://kms.REGION.amazonaws.com/), signing region,
 * timeout and credentials as for the table; c->table unused. */
enum amfa_ddb_result amfa_kms_generate_data_key(const struct amfa_ddb_config *c,
    const char *key_id, const struct amfa_kms_context *ctx,
    unsigned char key[AMFA_KMS_DATA_KEY_LEN], char **blob_b64,
    struct amfa_ddb_error *err);
enum amfa_ddb_result amfa_kms_decrypt(const struct amfa_ddb_config *c,
    const char *key_id, const struct amfa_kms_context *ctx,
    const char *blob_b64, unsigned char key[AMFA_KMS_DATA_KEY_LEN],
    struct amfa_ddb_error *err);

/*
 * An answer's body (`len' bytes) read: its Plaintext (base64) decoded into
 * `key', and with `blob' non-NULL its CiphertextBlob into *blob (heap).
 * Every copy of the Plaintext json-c made (the parser's buffer, the string
 * object) is wiped before json-c frees it.  (Apart for its unit test.)
 */
enum amfa_ddb_result amfa_kms_read_answer(const char *body, size_t len,
    unsigned char *key, char **blob, struct amfa_ddb_error *err);

#endif
