/*
 * Enrolment records: one file per PAM user, USERS_DIR/<user>.conf, holding
 * the IAM identity and the factor's secret.  Owned by root, mode 0600 (no
 * group or other access), never a link.
 */
#ifndef AMFA_USER_H
#define AMFA_USER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "creds/roles_file.h"
#include "factors/recovery.h"
#include "factors/totp.h"
#include "yubikey/ykotp.h"

#define AMFA_USER_NAME_MAX     64
#define AMFA_USER_MAX_YUBIKEYS 16 /* = AMFA_STATE_MAX_TOKENS */

struct amfa_user {
	char *name; /* the PAM user */
	char *iam_user;
	char *mfa_serial;
	unsigned char *totp_key; /* decoded seed, wiped on free */
	size_t totp_keylen;
	int totp_algorithm; /* enum amfa_totp_alg */
	long totp_digits;
	long totp_period;
	int verify;		 /* enum amfa_verify, after inheriting */
	char *access_key_id;	 /* the IAM user's long-term key */
	char *secret_access_key; /* secret, wiped on free */
	char *aws_profile;	 /* or: the key from ~/.aws of the user */
	char *region;		 /* NULL: the host's */
	/* yubikey = ... lines; keys wiped on free.  NULL: none. */
	struct amfa_yk_token *yubikeys; /* AMFA_USER_MAX_YUBIKEYS slots */
	size_t nyubikeys;
	/* role = ... lines (roles_file.h); NULL: none. */
	struct amfa_role *roles; /* AMFA_ROLES_MAX slots */
	size_t nroles;
	/* recovery = ... lines (recovery.h): one generation; NULL: none. */
	struct amfa_recovery_code *recovery; /* AMFA_RECOVERY_MAX slots */
	size_t nrecovery;
	uint32_t recovery_gen;
	uint32_t recovery_present; /* mask of the indices */
	/* recovery_codes = yes|no; after inheriting awsmfa.conf's. */
	int recovery_codes;
};

/* Does this user's login call STS? */
#define amfa_user_uses_sts(u) ((u)->verify != AMFA_VERIFY_LOCAL)
/* Does it check the factor locally? */
#define amfa_user_checks_local(u) ((u)->verify != AMFA_VERIFY_STS)

/*
 * Is `name' safe to use as a file name and plausible as a login name?
 * Letters, digits, '.', '_', '-', '@'; no leading '.' or '-'; at most
 * AMFA_USER_NAME_MAX bytes.  Returns NULL or the reason it is not.
 */
const char *amfa_user_name_invalid(const char *name);

/*
 * Is `name' the account's own name?  0 when the system knows the account
 * under another name too (getpwnam gives another pw_name, or its uid's
 * first entry has another name: case-folding directories, aliases), so that
 * an unenrolled spelling must not pass an enrolled account over (nullok).
 * 1 otherwise, also when there is no such account; 0 when a lookup fails
 * (fail closed).
 */
int amfa_user_name_canonical(const char *name);

/*
 * Load the record of `name'.  Returns 0; AMFA_USER_NOT_ENROLLED when there
 * is no file; -1 on any problem (logged with file and line).  The file must
 * be owned by `owner' (0 in the module).
 */
#define AMFA_USER_NOT_ENROLLED 1
int amfa_user_load(const struct amfa_config *cfg, const char *name, uid_t owner,
    struct amfa_user *u);
/* Parse an in-memory user file; `cfg' gives the defaults (verify). */
int amfa_user_parse(const char *buf, size_t len, const char *shown,
    const char *name, const struct amfa_config *cfg, struct amfa_user *u);
void amfa_user_free(struct amfa_user *u);

/* The TOTP parameters of a loaded user (pointing into `u'). */
void amfa_user_totp(const struct amfa_user *u, struct amfa_totp_params *p);

#endif
