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
/* Remove the store now, whatever the count (admin "revoke"). */
int amfa_store_remove(const char *store_dir, const struct amfa_target *t);

#endif
