/*
 * The credential_process printer shared by awsmfa-creds and `awsmfa
 * creds': the calling user's session credentials from STORE_DIR/UID,
 * checked (the user's own private directory and file, not expired) and
 * printed as credential_process JSON.
 */
#ifndef AMFA_CREDS_PRINT_H
#define AMFA_CREDS_PRINT_H

#include <stdio.h>

#include "creds.h"

/*
 * Print to `out'.  Returns the exit status: 0 printed, 1 no usable
 * credentials (the reason on standard error, prefixed with `prog').
 */
int amfa_creds_print(const char *store_dir, const char *prog, FILE *out);

/*
 * A session read with less than this many seconds left gets a warning on
 * standard error saying how to renew it (awsmfa-creds --warn-minutes;
 * 0: never).  Default 30 minutes.
 */
#define AMFA_CREDS_WARN_DEFAULT (30L * 60)
void amfa_creds_set_warn(long seconds);

/*
 * The steps of it, for awsmfa-creds --role: open STORE_DIR/UID (the
 * caller's own private directory; `path' gets its name), and read the
 * session credentials below it, refusing expired ones.  On failure the
 * reason is on standard error, prefixed with `prog': -1, and 1.
 */
int amfa_creds_open_store(const char *store_dir, const char *prog, char *path,
    size_t pathlen);
int amfa_creds_read_session(int dir, const char *path, const char *prog,
    struct amfa_creds *c);

/* Print `c' as credential_process JSON.  0, or 1 (said why). */
int amfa_creds_write(const struct amfa_creds *c, const char *prog, FILE *out);

#endif
