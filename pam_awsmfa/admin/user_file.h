/*
 * Writing enrolment files: USERS_DIR/USER.conf, owned by root, mode 0600,
 * replaced atomically so a login never reads half a file.  With enrolment
 * = table, the same calls write the user's enrolment to the table under
 * KMS instead (store/enrolment_table.h), and nothing to users_dir.
 */
#ifndef AMFA_ADMIN_USER_FILE_H
#define AMFA_ADMIN_USER_FILE_H

#include <stddef.h>

#include "config.h"

/*
 * Does USER.conf exist?  1 yes, 0 no, -1 when users_dir cannot be opened or
 * checked (the reason is logged).
 */
int adm_user_file_exists(const struct amfa_config *cfg, const char *user);

/* Where USER's enrolment is written, for people: "DIR/USER.conf", or
 * "table T" with enrolment = table. */
void adm_user_file_where(const struct amfa_config *cfg, const char *user,
    char *out, size_t outlen);

/*
 * Write `text' as USER.conf.  Without `force' an existing file is never
 * replaced (the file appears complete or not at all, and a file created
 * meanwhile by someone else wins).  Returns 0, 1 if it exists and force is
 * off, -1 on error (logged).
 */
int adm_user_file_write(const struct amfa_config *cfg, const char *user,
    const char *text, size_t len, int force);

#endif
