/*
 * The STS half of a login: find the user's long-term key (their file, or
 * their own ~/.aws profile read as them), MFA serial and region; call
 * GetSessionToken; and, when STS is the verifier (verify = sts), apply the
 * local lockout around it.
 */
#ifndef AMFA_STS_LOGIN_H
#define AMFA_STS_LOGIN_H

#include <sys/types.h>
#include <time.h>

#include "auth.h"
#include "config.h"
#include "creds/creds.h"
#include "user.h"

struct amfa_session {
	struct amfa_creds creds;
	char region[33];
	char request_id[80]; /* of the GetSessionToken call, for the audit */
};

/*
 * GetSessionToken for `u' with `code'.  Returns AMFA_AUTH_OK with `s'
 * filled, AMFA_AUTH_BAD_CODE or AMFA_AUTH_REPLAY when AWS refused the code,
 * AMFA_AUTH_UNAVAILABLE when STS could not be reached in time, and
 * AMFA_AUTH_ERROR for configuration trouble (bad key, serial, ...).  Logs
 * the reason.
 */
enum amfa_auth_result amfa_sts_fetch(const struct amfa_config *cfg,
    const struct amfa_user *u, const char *code, struct amfa_session *s);

/*
 * verify = sts: STS decides, under the user's state lock, with the lockout
 * and failure count of the local check.  `state_owner' as for
 * amfa_auth_check.
 */
enum amfa_auth_result amfa_auth_sts(const struct amfa_config *cfg,
    const struct amfa_user *u, const char *code, time_t now, uid_t state_owner,
    struct amfa_session *s);

void amfa_session_free(struct amfa_session *s);

#endif
