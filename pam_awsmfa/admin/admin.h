/*
 * awsmfa, the administration program: what the subcommands share.  Each
 * subcommand lives in its own file and returns one of the exit codes below;
 * messages go to standard error through adm_err/adm_warn (and the core's log
 * messages through the sink that main installs), never a secret.
 */
#ifndef AMFA_ADMIN_H
#define AMFA_ADMIN_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Exit codes (documented in awsmfa(8)). */
#define ADM_OK		 0 /* done */
#define ADM_FAIL	 1 /* the operation failed or was refused */
#define ADM_USAGE	 2 /* bad command line */
#define ADM_CONFIG	 3 /* configuration problems */
#define ADM_NOT_ENROLLED 4 /* no such enrolment (or one exists) */
#define ADM_UNREACHABLE	 5 /* AWS could not be reached */

struct adm_ctx {
	const char *config_path;
	struct amfa_config cfg;
	int cfg_loaded;
};

/*
 * Is `user' a local account (in the password database, whatever NSS
 * serves it)?  1, or 0 said on standard error (no such account, or a
 * lookup that failed): the caller exits ADM_NOT_ENROLLED, as awsmfa(8)
 * gives for a user with no local account.
 */
int adm_local_account(const char *user);

/* Load ctx->config_path into ctx->cfg.  ADM_OK or ADM_CONFIG (logged). */
int adm_load_config(struct adm_ctx *ctx);

void adm_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void adm_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "awsmfa: ...": a progress line before something that waits. */
void adm_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A time as "2026-11-25 12:00:00 UTC" (or "never" for 0). */
void adm_format_time(int64_t t, char *out, size_t outlen);

/*
 * The arguments of a subcommand that takes one USER and no options (but
 * --help): ADM_OK with *user set, ADM_USAGE, or -1 after printing help.
 */
int adm_user_arg(int argc, char **argv, const char *usage, const char **user);

struct amfa_state;
/*
 * Read USER's state from the store awsmfa.conf names, changing nothing:
 * the file without its lock (a slot being written fails its digest and the
 * other is read), or the table's item.  1 read, 0 no state yet, -1
 * unreadable, corrupt or unreachable (said on standard error).
 */
int adm_state_peek(const struct amfa_config *cfg, const char *user,
    struct amfa_state *st);
/* The same from the files under state_dir, whatever the backend. */
int adm_state_peek_files(const struct amfa_config *cfg, const char *user,
    struct amfa_state *st);
/* Where USER's state is, for people: "FILE" or "table T (ENDPOINT)". */
void adm_state_where(const struct amfa_config *cfg, const char *user, char *out,
    size_t outlen);
/*
 * Change USER's state through the store: `change' gets a snapshot and
 * returns 1 to write it as changed, 0 to leave it, -1 to give up.  Taken
 * again on a fresh snapshot when another host wrote meanwhile (the
 * table).  ADM_OK (written or left), ADM_FAIL (logged), ADM_UNREACHABLE
 * (the table did not answer).
 */
int adm_state_update(const struct amfa_config *cfg, const char *user,
    int (*change)(struct amfa_state *st, void *arg), void *arg);

/* The subcommands: argc/argv start at the subcommand's name. */
int adm_enroll(struct adm_ctx *ctx, int argc, char **argv);
int adm_check_config(struct adm_ctx *ctx, int argc, char **argv);
int adm_status(struct adm_ctx *ctx, int argc, char **argv);
int adm_unlock(struct adm_ctx *ctx, int argc, char **argv);
int adm_revoke(struct adm_ctx *ctx, int argc, char **argv);
int adm_creds(struct adm_ctx *ctx, int argc, char **argv);
int adm_recovery(struct adm_ctx *ctx, int argc, char **argv);
int adm_migrate_state(struct adm_ctx *ctx, int argc, char **argv);
int adm_verify_audit(struct adm_ctx *ctx, int argc, char **argv);
int adm_disable(struct adm_ctx *ctx, int argc, char **argv);
int adm_migrate_enrolment(struct adm_ctx *ctx, int argc, char **argv);

/*
 * Can a user who is not root (nobody, 65534) open a TCP connection to the
 * instance metadata service at `endpoint' (NULL: the default)?  1 yes, 0
 * no (refused, unreachable or no answer within 2 s), -1 not known (not
 * root, or an endpoint that cannot be parsed).  check_imds.c.
 */
int adm_imds_open_to_users(const char *endpoint);

/*
 * Issue `count' recovery codes to the enrolled `user', replacing any
 * earlier set: hashes into the user file, the codes printed once.  An
 * ADM_ exit code.
 */
int adm_recovery_issue(struct adm_ctx *ctx, const char *user, int count);

#endif
