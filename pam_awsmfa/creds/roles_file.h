/*
 * Roles a user may assume through the host, and the file that hands them to
 * awsmfa-creds.
 *
 * In the user's enrolment file (root's, 0600), one line per role:
 *
 *	role = NAME ARN [duration=SECONDS] [external_id=ID] [region=REGION]
 *
 * The enrolment file is root's alone, and awsmfa-creds runs as the user, so
 * at session open the module (as root) writes what awsmfa-creds needs into
 * STORE_DIR/UID.roles: owned by the user, mode 0400, group root, in the
 * root-owned store directory.  Nobody else reads it: not the members of the
 * user's primary group, which may be shared (`users', directory services
 * without per-user groups), since it names role ARNs and external ids.
 * With no ACLs to count on, only ownership gives one non-root user alone
 * the right to read; the cost is that the user, as owner, could chmod it
 * and edit it.  The user can neither replace nor remove it (the directory
 * is root's), and what an edit could change binds only the user's own
 * awsmfa-creds, run as the user with the user's credentials: the list is a
 * convenience and a policy hint, not a boundary.  The user holds the MFA
 * session's credentials and can call AssumeRole on any role whose trust
 * policy lets them; the trust policy is the boundary.  The module never
 * opens the file: it writes a new one under a temporary name and renames
 * it over the old, and removes it, all in root's directory.  awsmfa-creds
 * refuses a file that is not the caller's or that others may read (one
 * left by an earlier version: root's, 0640) until a login rewrites it.  The file also carries the STS endpoint, region, CA file and
 * timeout from root's configuration and the IAM user (RoleSessionName,
 * SourceIdentity), as they were when the session opened.
 */
#ifndef AMFA_CREDS_ROLES_FILE_H
#define AMFA_CREDS_ROLES_FILE_H

#include <stddef.h>

#define AMFA_ROLES_MAX		   32
#define AMFA_ROLE_DEFAULT_DURATION 3600
#define AMFA_ROLES_SUFFIX	   ".roles"

struct amfa_role {
	char *name;	   /* the profile name: [A-Za-z0-9_.-]{1,64} */
	char *arn;	   /* arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME */
	long duration;	   /* DurationSeconds, 900..43200 */
	char *external_id; /* or NULL */
	char *region;	   /* for the profile; NULL: the session's */
};

/* Syntax checks; NULL or the reason. */
const char *amfa_role_check_name(const char *name);
const char *amfa_role_check_arn(const char *arn);
const char *amfa_role_check_external_id(const char *id);

/*
 * Parse the value of a role line into *r.  0, or -1 with *why set (the
 * reason, without the external id).
 */
int amfa_role_parse(const char *value, struct amfa_role *r, const char **why);
void amfa_role_free(struct amfa_role *r);

/* STORE_DIR/UID.roles. */
struct amfa_roles_file {
	unsigned uid;
	char *user;	    /* the PAM user */
	char *iam_user;	    /* RoleSessionName and SourceIdentity */
	char *sts_endpoint; /* as the login used it */
	char *region;	    /* signing region of the endpoint */
	char *ca_file;	    /* or NULL */
	long sts_timeout;   /* seconds */
	struct amfa_role *roles;
	size_t nroles;
};

/* JSON text (heap, NUL-terminated), or NULL. */
char *amfa_roles_to_json(const struct amfa_roles_file *f, size_t *len);
/* Parse and check every field as the enrolment parser does.  0 or -1. */
int amfa_roles_from_json(const char *buf, struct amfa_roles_file *f,
    const char **why);
void amfa_roles_file_free(struct amfa_roles_file *f);

#endif
