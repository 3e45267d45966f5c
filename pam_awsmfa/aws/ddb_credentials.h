/*
 * The module's own AWS credentials for the state table (not a user's):
 * - config key_file: a root-owned file, no group or other permission bits,
 *   in the ~/.aws/credentials form, section [default]
 *   (aws_access_key_id, aws_secret_access_key, optional
 *   aws_session_token);
 * - otherwise the EC2 instance role through IMDSv2 (imds.h), cached in
 *   config cred_cache (a root-owned 0600 file in a root-owned directory
 *   not writable by others, replaced atomically) until
 *   AMFA_DDB_CRED_MARGIN_S before they expire.
 */
#ifndef AMFA_DDB_CREDENTIALS_H
#define AMFA_DDB_CREDENTIALS_H

#include <stddef.h>
#include <time.h>

#include "dynamodb.h"

#define AMFA_DDB_CRED_MARGIN_S 300
#define AMFA_DDB_CRED_MAX_FILE (16 * 1024)

struct amfa_ddb_creds {
	char *access_key_id;
	char *secret_access_key; /* secret; wiped on free */
	char *session_token;	 /* secret; NULL for a long-term key */
	time_t expires;		 /* 0: does not expire */
	int from_cache;		 /* read from cred_cache */
};

/* The credentials for `c' within timeout_ms.  AMFA_DDB_OK, or
 * AMFA_DDB_NO_CREDENTIALS, AMFA_DDB_UNAVAILABLE, AMFA_DDB_MALFORMED,
 * AMFA_DDB_INTERNAL with err->detail (logged by the caller). */
enum amfa_ddb_result amfa_ddb_creds_get(const struct amfa_ddb_config *c,
    long timeout_ms, struct amfa_ddb_creds *out, struct amfa_ddb_error *err);

/* The cached credentials were refused by DynamoDB: remove the cache. */
void amfa_ddb_creds_forget(const struct amfa_ddb_config *c);

/* An IMDS (or cache) credentials document: Code "Success" (when present),
 * AccessKeyId, SecretAccessKey, Token, Expiration.  0 or -1. */
int amfa_ddb_creds_parse_json(const char *buf, size_t len,
    struct amfa_ddb_creds *out);

void amfa_ddb_creds_free(struct amfa_ddb_creds *cr);

#endif
