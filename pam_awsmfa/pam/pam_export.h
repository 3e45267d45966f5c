/*
 * Putting a session's AWS credentials into the login: the PAM environment
 * (sshd, su and login pass it to the shell), and the per-user store for
 * credential_process, opened and closed with the PAM session.
 */
#ifndef AMFA_PAM_EXPORT_H
#define AMFA_PAM_EXPORT_H

#include <security/pam_modules.h>

#include "user.h"

#include "config.h"
#include "decision/sts_login.h"

/* AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
 * AWS_CREDENTIAL_EXPIRATION, AWS_REGION, AWS_DEFAULT_REGION.  PAM_SUCCESS
 * or a PAM error (then none is left set). */
int amfa_pam_export_env(pam_handle_t *pamh, const struct amfa_session *s);
/* Take back what amfa_pam_export_env put (a login refused after all). */
void amfa_pam_unexport_env(pam_handle_t *pamh);

/*
 * Keep what this handle's login decided on for its session (the roles,
 * the IAM user, the region: what open_session stores for awsmfa-creds),
 * so open_session does not load the enrolment again (with enrolment =
 * table: a second table read and KMS Decrypt per login).  Takes `u' over
 * (left zeroed); its factor's secrets are wiped at once, the rest at
 * pam_end.
 */
void amfa_pam_keep_enrolment(pam_handle_t *pamh, struct amfa_user *u);

/* open_session: if the PAM environment holds credentials from
 * pam_awsmfa, write them to the user's store and count the session. */
int amfa_pam_store_open(pam_handle_t *pamh, const struct amfa_config *cfg,
    const char *user);
/* close_session: uncount a session counted by amfa_pam_store_open; the
 * last one removes the store. */
int amfa_pam_store_close(pam_handle_t *pamh, const struct amfa_config *cfg,
    const char *user);

/*
 * pam_setcred(PAM_REFRESH_CRED or PAM_REINITIALIZE_CRED) after this
 * transaction proved a factor and got a new session (in the PAM
 * environment): write it over the user's store (amfa_store_renew).
 * PAM_SUCCESS (also when nothing was renewed: no new session, no session
 * open), or PAM_CRED_ERR.
 */
int amfa_pam_store_renew(pam_handle_t *pamh, const struct amfa_config *cfg,
    const char *user);

#endif
