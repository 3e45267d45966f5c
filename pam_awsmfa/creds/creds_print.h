/*
 * The credential_process printer shared by awsmfa-creds and `awsmfa
 * creds': the calling user's session credentials from STORE_DIR/UID,
 * checked (the user's own private directory and file, not expired) and
 * printed as credential_process JSON.
 */
#ifndef AMFA_CREDS_PRINT_H
#define AMFA_CREDS_PRINT_H

#include <stdio.h>

/*
 * Print to `out'.  Returns the exit status: 0 printed, 1 no usable
 * credentials (the reason on standard error, prefixed with `prog').
 */
int amfa_creds_print(const char *store_dir, const char *prog, FILE *out);

#endif
