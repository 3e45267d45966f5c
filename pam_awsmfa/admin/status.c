/*
 * awsmfa status USER: what the module knows about a user, without secrets.
 * awsmfa unlock USER: clear the failure count and the lock, through the
 * state store (under the files' lock, or by a conditional write to the
 * table), keeping the last accepted step and token counters so that no
 * spent code becomes good again.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "creds/creds_store.h"
#include "factors/recovery.h"
#include "privdrop.h"
#include "secure_file.h"
#include "store/enrolment_table.h"
#include "store/state.h"
#include "store/store.h"
#include "user.h"

static const char *const alg_names[] = { "SHA1", "SHA256", "SHA512" };

static void
print_state(const struct amfa_config *cfg, const struct amfa_state *st,
    long period)
{
	time_t now = time(NULL);
	char t[64];

	printf("failures:     %ld of %ld\n", st->failures,
	    cfg->lockout_attempts);
	adm_format_time(st->locked_until, t, sizeof(t));
	if (st->locked_until > (int64_t)now)
		printf("locked:       yes, until %s\n", t);
	else
		printf("locked:       no\n");
	adm_format_time(st->last_success, t, sizeof(t));
	printf("last success: %s\n", t);
	if (st->last_step >= 0) {
		adm_format_time(st->last_step * period, t, sizeof(t));
		printf("last code:    step %" PRId64 " (%s)\n", st->last_step,
		    t);
	}
	for (int i = 0; i < st->ntokens; i++)
		printf("yubikey %s: last counter %u/%u\n",
		    st->tokens[i].public_id, st->tokens[i].session,
		    st->tokens[i].use);
}

/* Recovery codes: how many of the set are left, or why none is taken
 * (login.c takes codes only of the set on record in the state). */
static void
print_recovery(const struct amfa_user *u, const struct amfa_state *st)
{
	uint32_t gen = st != NULL ? st->recovery_gen : 0;
	int left;

	if (u->nrecovery == 0) {
		printf("recovery:     none issued%s\n",
		    u->recovery_codes ? "" : " (turned off)");
		return;
	}
	if (gen == 0) {
		printf("recovery:     set %08x not usable: the state has no "
		       "record of it (lost or removed, and with it the marks "
		       "of spent codes); issue a new set: awsmfa recovery "
		       "USER\n",
		    (unsigned)u->recovery_gen);
		return;
	}
	if (gen != u->recovery_gen) {
		printf("recovery:     set %08x not usable: the state's set "
		       "is %08x (copy the user file it was issued into, or "
		       "issue a new set: awsmfa recovery USER)\n",
		    (unsigned)u->recovery_gen, (unsigned)gen);
		return;
	}
	left = amfa_recovery_left(u->recovery_present, st->recovery_used);
	printf("recovery:     %d of %zu codes left (set %08x)%s%s\n", left,
	    u->nrecovery, (unsigned)u->recovery_gen,
	    u->recovery_codes ? "" : ", turned off",
	    left == 0 ? "; issue new ones: awsmfa recovery USER" : "");
}

/* The session credential store: there or not (stat only, no reading). */
static void
print_store(const struct amfa_config *cfg, const char *user)
{
	struct amfa_target t;
	char path[4096];
	struct stat sb;

	if (amfa_target_lookup(user, &t) != 0) {
		printf("credentials:  (not a local account)\n");
		return;
	}
	snprintf(path, sizeof(path), "%s/%u/%s", cfg->store_dir,
	    (unsigned)t.uid, AMFA_STORE_FILE);
	if (fstatat(AT_FDCWD, path, &sb, AT_SYMLINK_NOFOLLOW) == 0)
		printf("credentials:  session credentials in %s\n", path);
	else
		printf("credentials:  none\n");
}

int
adm_status(struct adm_ctx *ctx, int argc, char **argv)
{
	char where[4096];
	struct amfa_state st;
	struct amfa_user u;
	const char *user;
	int r, s;

	r = adm_user_arg(argc, argv, "awsmfa status USER", &user);
	if (r != ADM_OK)
		return r < 0 ? ADM_OK : r;
	if ((r = adm_load_config(ctx)) != ADM_OK)
		return r;
	r = amfa_enrolment_load(&ctx->cfg, user, 0, &u);
	if (r == AMFA_USER_NOT_ENROLLED) {
		adm_err("%s is not enrolled (no %s/%s.conf)", user,
		    ctx->cfg.users_dir, user);
		return ADM_NOT_ENROLLED;
	}
	if (r != 0)
		return ADM_CONFIG;
	printf("user:         %s\n", user);
	printf("file:         %s/%s.conf\n", ctx->cfg.users_dir, user);
	printf("iam user:     %s\n", u.iam_user);
	printf("mfa serial:   %s\n",
	    u.mfa_serial != NULL ? u.mfa_serial : "(none)");
	printf("verify:       %s\n", amfa_verify_names[u.verify]);
	if (u.totp_key != NULL)
		printf("totp:         %s, %ld digits, %ld s, %zu-bit seed\n",
		    alg_names[u.totp_algorithm], u.totp_digits, u.totp_period,
		    u.totp_keylen * 8);
	for (size_t i = 0; i < u.nyubikeys; i++)
		printf("yubikey:      %s\n", u.yubikeys[i].public_id);
	if (u.access_key_id != NULL)
		printf("aws key:      %s (in the file)\n", u.access_key_id);
	else if (u.aws_profile != NULL)
		printf("aws key:      profile %s of ~%s/.aws/credentials\n",
		    u.aws_profile, user);
	if (u.region != NULL)
		printf("region:       %s\n", u.region);
	adm_state_where(&ctx->cfg, user, where, sizeof(where));
	printf("state in:     %s\n", where);
	s = adm_state_peek(&ctx->cfg, user, &st);
	if (s == 1)
		print_state(&ctx->cfg, &st, u.totp_period);
	else if (s == 0)
		printf("state:        none yet (no login so far)\n");
	if (s >= 0)
		print_recovery(&u, s == 1 ? &st : NULL);
	print_store(&ctx->cfg, user);
	amfa_user_free(&u);
	/* What is known is shown, and the exit status says the rest. */
	if (!adm_local_account(user))
		return ADM_NOT_ENROLLED;
	return s < 0 ? ADM_FAIL : ADM_OK;
}

struct unlock_note {
	const char *user;
	int was; /* there was something to clear */
};

static int
clear_lock(struct amfa_state *st, void *arg)
{
	struct unlock_note *n = arg;
	char t[64];

	adm_format_time(st->locked_until, t, sizeof(t));
	n->was = st->failures != 0 || st->locked_until != 0;
	if (!n->was)
		return 0;
	printf("%s: %ld failures, %s%s; unlocking\n", n->user, st->failures,
	    st->locked_until > (int64_t)time(NULL) ?
		"locked until " :
		"not locked",
	    st->locked_until > (int64_t)time(NULL) ? t : "");
	/* last_step, last_success and the token counters stay. */
	st->failures = 0;
	st->locked_until = 0;
	return 1;
}

int
adm_unlock(struct adm_ctx *ctx, int argc, char **argv)
{
	struct unlock_note n = { NULL, 0 };
	struct amfa_user u;
	const char *user;
	int r;

	r = adm_user_arg(argc, argv, "awsmfa unlock USER", &user);
	if (r != ADM_OK)
		return r < 0 ? ADM_OK : r;
	if ((r = adm_load_config(ctx)) != ADM_OK)
		return r;
	/* A user file with problems is reported, but the unlock goes on. */
	r = amfa_enrolment_load(&ctx->cfg, user, 0, &u);
	if (r == AMFA_USER_NOT_ENROLLED) {
		adm_err("%s is not enrolled", user);
		return ADM_NOT_ENROLLED;
	}
	if (r == 0)
		amfa_user_free(&u);
	if (!adm_local_account(user)) {
		adm_err("%s: nothing changed", user);
		return ADM_NOT_ENROLLED;
	}
	n.user = user;
	r = adm_state_update(&ctx->cfg, user, clear_lock, &n);
	if (r == ADM_OK && !n.was)
		printf("%s was not locked (no failures)\n", user);
	else if (r == ADM_OK)
		printf("%s unlocked\n", user);
	else
		adm_err("%s: the state cannot be read or written; nothing "
			"changed",
		    user);
	return r;
}
