/*
 * The EC2 instance metadata service, version 2 (IMDSv2), for the instance
 * role's credentials: PUT /latest/api/token (with
 * X-aws-ec2-metadata-token-ttl-seconds), then, with the token
 * (X-aws-ec2-metadata-token), GET
 * /latest/meta-data/iam/security-credentials/ for the role's name and
 * GET .../security-credentials/ROLE for its credentials (JSON).  Over
 * http.h; no retries beyond one call's time, no redirects.
 */
#ifndef AMFA_IMDS_H
#define AMFA_IMDS_H

#include <stddef.h>

#include "dynamodb.h"

#define AMFA_IMDS_DEFAULT      "http://169.254.169.254"
#define AMFA_IMDS_TOKEN_TTL_S  "60"
#define AMFA_IMDS_MAX_RESPONSE (16 * 1024)

/*
 * The role's credentials document as IMDS gives it (a secret: heap,
 * NUL-terminated, free with amfa_wipe_free(*json, *len + 1)), fetched
 * within timeout_ms.  AMFA_DDB_OK, AMFA_DDB_NO_CREDENTIALS (IMDS answered:
 * no role, no token), AMFA_DDB_UNAVAILABLE (no answer), AMFA_DDB_MALFORMED
 * or AMFA_DDB_INTERNAL; err->detail says why.
 */
enum amfa_ddb_result amfa_imds_role_credentials(const char *endpoint,
    long timeout_ms, char **json, size_t *len, struct amfa_ddb_error *err);

#endif
