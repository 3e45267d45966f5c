/*
 * awsmfa-creds --role NAME and --print-config: role credentials assumed
 * with the MFA session's credentials, cached in the user's store.
 *
 * --role NAME: the role must be one of the user's (STORE_DIR/UID.roles,
 * roles_file.h); the MFA session (STORE_DIR/UID/credentials.json) must not
 * have expired, or nothing is served, not even cached role credentials.
 * Cached role credentials (STORE_DIR/UID/role-NAME.json, the user's, 0600,
 * written atomically) are served while more than AMFA_ROLE_RENEW_MARGIN (or
 * a third of the duration asked for, if less) is left; otherwise, under an
 * exclusive lock (role-NAME.lock) so that programs asking at once make one
 * call, AssumeRole is called, signed with the MFA session's credentials,
 * with RoleSessionName and SourceIdentity the IAM user.  A cache that is
 * not a regular file of the user's with one link, or whose content does not
 * check out (another role, a malformed key, token or expiration), is never
 * served: it is reported and replaced (by rename, never written through).
 * Each AssumeRole is one JSON audit record ("event":"assume_role") on
 * syslog (LOG_AUTHPRIV) and standard error, naming the MFA session's and
 * the role session's access key ids and STS's request id.
 */
#ifndef AMFA_CREDS_ROLE_CREDS_H
#define AMFA_CREDS_ROLE_CREDS_H

#include <stdio.h>

#define AMFA_ROLE_RENEW_MARGIN 900 /* seconds */

/* Exit status: 0 printed, 1 refused (why on standard error). */
int amfa_creds_role(const char *store_dir, const char *role, const char *prog,
    FILE *out);

/*
 * The ~/.aws/config profile blocks of the user's roles, to paste; `extra'
 * (NULL or e.g. "--store-dir DIR") is added to each command line.  0, or 1
 * when the user has no roles here.
 */
int amfa_creds_print_config(const char *store_dir, const char *extra,
    const char *prog, FILE *out);

#endif
