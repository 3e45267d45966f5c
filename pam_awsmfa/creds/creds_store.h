/*
 * The per-user credential store on tmpfs: STORE_DIR/UID/credentials.json
 * (directory 0700 and file 0600, owned by the user), read by awsmfa-creds for
 * credential_process.  Root creates the directory; the file is written and
 * removed by a child that has dropped to the user, since the user controls
 * the directory.  Open sessions are counted in STORE_DIR/UID.sessions (root's)
 * so that the store goes away when the user's last session closes.
 */
#ifndef AMFA_CREDS_STORE_H
#define AMFA_CREDS_STORE_H

#include "creds.h"
#include "privdrop.h"
#include "roles_file.h"

#define AMFA_STORE_FILE "credentials.json"
/* awsmfa-creds --role NAME: STORE_DIR/UID/role-NAME.json (the user's). */
#define AMFA_ROLE_CACHE_PREFIX "role-"

/* Write the credentials and count one more session.  0 or -1 (logged). */
int amfa_store_open_session(const char *store_dir, const struct amfa_target *t,
    const struct amfa_creds *c);
/*
 * Write STORE_DIR/UID.roles (roles_file.h): the user's, 0400, group root,
 * atomically; with no roles, remove it.  0 or -1 (logged).
 */
int amfa_store_write_roles(const char *store_dir, const struct amfa_target *t,
    const struct amfa_roles_file *f);

/* Count one session less; at zero remove the store.  0 or -1. */
int amfa_store_close_session(const char *store_dir,
    const struct amfa_target *t);
/*
 * Renewal (pam_setcred with PAM_REFRESH_CRED or PAM_REINITIALIZE_CRED after
 * a factor was proven): replace credentials.json with `c' atomically, as
 * the user, and remove the role caches made with the session it replaces.
 * Only while a session is open (STORE_DIR/UID.sessions above zero): no
 * store is made for a user who has none.  0 renewed, 1 no session open,
 * -1 error (logged).
 */
int amfa_store_renew(const char *store_dir, const struct amfa_target *t,
    const struct amfa_creds *c);

/*
 * A renewal staged by the set-user-ID code checker (awsmfa-chkcode(8)) at
 * the check that got `c' (STS refuses a code twice, so the new session is
 * got when the code is verified), for pam_setcred to apply:
 * STORE_DIR/UID.renew, root's, 0600, with the time it was staged.
 * amfa_store_stage_renewal: 0 or -1.  amfa_store_drop_renewal: remove it.
 * amfa_store_apply_renewal: take it (it is removed whatever happens) and,
 * if staged at most `max_age' seconds before `now', renew with it:
 * 0 renewed, 1 nothing to renew (none staged, too old, no session open),
 * -1 error.
 */
int amfa_store_stage_renewal(const char *store_dir, const struct amfa_target *t,
    const struct amfa_creds *c, time_t now);
void amfa_store_drop_renewal(const char *store_dir,
    const struct amfa_target *t);
int amfa_store_apply_renewal(const char *store_dir, const struct amfa_target *t,
    time_t now, long max_age);

/* Remove the store now, whatever the count (admin "revoke"). */
int amfa_store_remove(const char *store_dir, const struct amfa_target *t);

#endif
