/*
 * The user's own ~/.aws files: the long-term key of a profile from
 * ~/.aws/credentials, and mfa_serial and region from ~/.aws/config
 * ("[default]" or "[profile NAME]").  Read by a child that has dropped to the
 * user, never following a symlink below the home directory.  Environment
 * variables such as AWS_SHARED_CREDENTIALS_FILE are not consulted: they are
 * the login program's, not the user's.
 */
#ifndef AMFA_AWS_PROFILE_H
#define AMFA_AWS_PROFILE_H

#include <stddef.h>

#include "privdrop.h"

struct amfa_aws_profile {
	char *access_key_id;
	char *secret_access_key; /* wiped on free */
	char *mfa_serial;	 /* NULL if the config has none */
	char *region;		 /* NULL if the config has none */
};

/*
 * Find `key' in `section' of an AWS INI file (sections "[name]", lines
 * "key = value", comments starting with '#' or ';').  Returns 1 and copies
 * the value into out, 0 if absent, -1 if it does not fit.
 */
int amfa_aws_ini_get(const char *buf, const char *section, const char *key,
    char *out, size_t outlen);

/* Read `profile' of the user `t'.  0 or -1 (logged). */
int amfa_aws_profile_read(const struct amfa_target *t, const char *profile,
    struct amfa_aws_profile *p);
void amfa_aws_profile_free(struct amfa_aws_profile *p);

#endif
