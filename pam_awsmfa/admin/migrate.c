/*
 * awsmfa migrate-state [USER...]: copy the state files of this host
 * (state_dir) into the state table (state_backend = dynamodb), without
 * reopening any spent code.  Each user's item is merged with the file, never
 * replaced: the later of the two TOTP steps, each YubiKey's higher
 * counters, the recovery codes used in either (of the set the user file
 * holds now), the higher failure count, the later lock and the later
 * success.  One conditional write per user (store.h), taken again if
 * another host wrote meanwhile; running it on every bastion merges the
 * whole fleet's history.  Without USER: every USER.state file in state_dir.
 * The files are left as they are.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "secure_file.h"
#include "store/state.h"
#include "store/store.h"
#include "user.h"

struct merge {
	const struct amfa_state *file;
	uint32_t user_gen; /* the user file's recovery set, 0: unknown */
	int changed;
	const char *why; /* when it cannot be merged */
};

/* The recovery marks to keep: of the user's current set if either has
 * it, both ORed when both have it. */
static void
merge_recovery(struct amfa_state *t, const struct amfa_state *f,
    uint32_t user_gen)
{
	if (f->recovery_gen == 0 || f->recovery_gen == t->recovery_gen) {
		t->recovery_used |= f->recovery_gen ? f->recovery_used : 0;
		return;
	}
	if (t->recovery_gen == 0 ||
	    (user_gen != 0 && f->recovery_gen == user_gen &&
		t->recovery_gen != user_gen)) {
		t->recovery_gen = f->recovery_gen;
		t->recovery_used = f->recovery_used;
	}
}

/* `st' (the table's) becomes the merge of itself and the file. */
static int
merge_into(struct amfa_state *st, void *arg)
{
	struct merge *m = arg;
	const struct amfa_state *f = m->file;
	struct amfa_state before = *st;

	if (f->last_step > st->last_step)
		st->last_step = f->last_step;
	if (f->failures > st->failures)
		st->failures = f->failures;
	if (f->locked_until > st->locked_until)
		st->locked_until = f->locked_until;
	if (f->last_success > st->last_success)
		st->last_success = f->last_success;
	merge_recovery(st, f, m->user_gen);
	for (int i = 0; i < f->ntokens; i++) {
		const struct amfa_token_counter *ft = &f->tokens[i];
		struct amfa_token_counter *t = NULL;

		for (int j = 0; j < st->ntokens; j++) {
			if (strcmp(st->tokens[j].public_id, ft->public_id) == 0)
				t = &st->tokens[j];
		}
		if (t == NULL) {
			if (st->ntokens >= AMFA_STATE_MAX_TOKENS) {
				m->why = "more YubiKeys between the file and "
					 "the table than a state holds";
				return -1;
			}
			t = &st->tokens[st->ntokens++];
			*t = *ft;
			continue;
		}
		if (ft->session > t->session ||
		    (ft->session == t->session && ft->use > t->use)) {
			t->session = ft->session;
			t->use = ft->use;
		}
	}
	m->changed = !amfa_state_equal(&before, st);
	return m->changed;
}

static int
migrate_one(struct adm_ctx *ctx, const char *user)
{
	struct merge m = { NULL, 0, 0, NULL };
	struct amfa_state file;
	struct amfa_user u;
	int r;

	if ((r = adm_state_peek_files(&ctx->cfg, user, &file)) < 0)
		return ADM_FAIL;
	if (r == 0) {
		printf("%s: no state file in %s; nothing to copy\n", user,
		    ctx->cfg.state_dir);
		return ADM_OK;
	}
	if (amfa_user_load(&ctx->cfg, user, 0, &u) == 0) {
		m.user_gen = u.recovery_gen;
		amfa_user_free(&u);
	}
	m.file = &file;
	r = adm_state_update(&ctx->cfg, user, merge_into, &m);
	if (r != ADM_OK) {
		if (m.why != NULL)
			adm_err("%s: not copied: %s", user, m.why);
		return r;
	}
	printf("%s: %s\n", user,
	    m.changed ? "copied into the table (merged with its item)" :
			"the table already holds all of it");
	return ADM_OK;
}

static int
has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n > m && strcmp(s + n - m, suffix) == 0;
}

/* Every USER.state of state_dir. */
static int
migrate_all(struct adm_ctx *ctx)
{
	char user[AMFA_USER_NAME_MAX + 1];
	struct dirent *de;
	int dirfd, r, worst = ADM_OK, n = 0;
	DIR *d;

	if ((dirfd = amfa_dir_open(ctx->cfg.state_dir, 0, 077)) < 0)
		return ADM_FAIL;
	if ((d = fdopendir(dirfd)) == NULL) {
		adm_err("%s: %s", ctx->cfg.state_dir, strerror(errno));
		close(dirfd);
		return ADM_FAIL;
	}
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (!has_suffix(de->d_name, ".state") ||
		    len - 6 > AMFA_USER_NAME_MAX)
			continue;
		snprintf(user, sizeof(user), "%.*s", (int)(len - 6),
		    de->d_name);
		if (amfa_user_name_invalid(user) != NULL)
			continue;
		n++;
		if ((r = migrate_one(ctx, user)) != ADM_OK)
			worst = r;
	}
	closedir(d);
	if (n == 0)
		printf("%s: no state files; nothing to copy\n",
		    ctx->cfg.state_dir);
	return worst;
}

int
adm_migrate_state(struct adm_ctx *ctx, int argc, char **argv)
{
	const char *why;
	int r, worst = ADM_OK;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			printf("usage: awsmfa migrate-state [USER...]\n");
			return ADM_OK;
		}
		if (argv[i][0] == '-') {
			fprintf(stderr,
			    "usage: awsmfa migrate-state "
			    "[USER...]\n");
			return ADM_USAGE;
		}
		if ((why = amfa_user_name_invalid(argv[i])) != NULL) {
			adm_err("%s: %s", argv[i], why);
			return ADM_USAGE;
		}
	}
	if ((r = adm_load_config(ctx)) != ADM_OK)
		return r;
	if (ctx->cfg.state_backend != AMFA_BACKEND_DYNAMODB) {
		adm_err("%s: state_backend is files: there is no table to copy "
			"into (set state_backend = dynamodb and dynamodb_table "
			"first)",
		    ctx->config_path);
		return ADM_CONFIG;
	}
	if (argc == 1)
		return migrate_all(ctx);
	for (int i = 1; i < argc; i++) {
		if ((r = migrate_one(ctx, argv[i])) != ADM_OK)
			worst = r;
	}
	return worst;
}
