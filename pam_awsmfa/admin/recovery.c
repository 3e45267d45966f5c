/*
 * awsmfa recovery USER [--count N]: a new set of recovery codes for an
 * enrolled user (recovery.h), replacing any earlier set.  The codes are
 * printed once, on standard output, and only after the user file holding
 * their salted hashes is in place; they are never in a file, an argument
 * or a log.  The set gets a new random generation, so the used marks of
 * the old set in the user's state mean nothing for the new one, and the
 * old codes no longer match anything.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "admin.h"
#include "conffile.h"
#include "factors/recovery.h"
#include "log.h"
#include "secure_file.h"
#include "store/enrolment_table.h"
#include "store/state.h"
#include "user.h"
#include "user_file.h"

static void
usage(FILE *f)
{
	fprintf(f, "usage: awsmfa recovery USER [--count N]\n");
}

/* The user file's text as it is (heap; free with amfa_wipe_free). */
static int
read_user_file(const struct amfa_config *cfg, const char *user, char **buf,
    size_t *len)
{
	struct amfa_file_policy policy = { 0, 066, AMFA_CONF_MAX_SIZE };
	char name[AMFA_USER_NAME_MAX + 8], shown[4096];
	int dirfd, r;

	snprintf(name, sizeof(name), "%s.conf", user);
	snprintf(shown, sizeof(shown), "%s/%s", cfg->users_dir, name);
	if ((dirfd = amfa_dir_open(cfg->users_dir, 0, 022)) < 0)
		return -1;
	r = amfa_file_read(dirfd, name, shown, &policy, buf, len);
	close(dirfd);
	return r == 0 ? 0 : -1;
}

/* Is this line a `recovery = ...' line (not recovery_codes)? */
static int
is_recovery_line(const char *line, size_t n)
{
	size_t i = 0;

	while (i < n && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (n - i < 8 || memcmp(line + i, "recovery", 8) != 0)
		return 0;
	for (i += 8; i < n && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	return i < n && line[i] == '=';
}

/* The state's recovery set becomes `arg' (a uint32_t), nothing used. */
static int
record_generation(struct amfa_state *st, void *arg)
{
	st->recovery_gen = *(const uint32_t *)arg;
	st->recovery_used = 0;
	return 1;
}

/* A generation that neither the file nor the state has. */
static int
new_generation(const struct amfa_config *cfg, const struct amfa_user *u,
    uint32_t *gen)
{
	struct amfa_state st;
	uint32_t g;

	memset(&st, 0, sizeof(st));
	if (adm_state_peek(cfg, u->name, &st) < 0)
		return -1;
	do {
		if (RAND_bytes((unsigned char *)&g, sizeof(g)) != 1)
			return -1;
	} while (g == 0 || g == u->recovery_gen || g == st.recovery_gen);
	*gen = g;
	return 0;
}

int
adm_recovery_issue(struct adm_ctx *ctx, const char *user, int count)
{
	char shown[AMFA_RECOVERY_MAX][AMFA_RECOVERY_SHOWN + 1];
	char line[AMFA_RECOVERY_LINE_MAX], stamp[64];
	struct amfa_user u, check;
	char *old = NULL, *text = NULL;
	size_t oldlen = 0, size, n = 0;
	uint32_t gen;
	int r = ADM_FAIL;

	r = amfa_enrolment_load(&ctx->cfg, user, 0, &u);
	if (r == AMFA_USER_NOT_ENROLLED) {
		adm_err("%s is not enrolled (no %s/%s.conf)", user,
		    ctx->cfg.users_dir, user);
		return ADM_NOT_ENROLLED;
	}
	if (r != 0)
		return ADM_CONFIG;
	r = ADM_FAIL;
	if (read_user_file(&ctx->cfg, user, &old, &oldlen) != 0 ||
	    new_generation(&ctx->cfg, &u, &gen) != 0)
		goto out;
	size = oldlen + 256 + (size_t)count * (AMFA_RECOVERY_LINE_MAX + 16);
	if ((text = calloc(1, size)) == NULL)
		goto out;
	/* The file as it was, without the earlier set's lines. */
	for (size_t at = 0; at < oldlen;) {
		const char *nl = memchr(old + at, '\n', oldlen - at);
		size_t end = nl != NULL ? (size_t)(nl - old) + 1 : oldlen;

		if (!is_recovery_line(old + at, end - at)) {
			memcpy(text + n, old + at, end - at);
			n += end - at;
		}
		at = end;
	}
	if (n > 0 && text[n - 1] != '\n')
		text[n++] = '\n';
	adm_format_time((int64_t)time(NULL), stamp, sizeof(stamp));
	n += (size_t)snprintf(text + n, size - n,
	    "# recovery codes: set %08x, %d codes, issued %s; salted scrypt "
	    "hashes only\n",
	    (unsigned)gen, count, stamp);
	for (int i = 0; i < count; i++) {
		if (amfa_recovery_new(gen, (unsigned)i, shown[i], line) != 0) {
			adm_err("cannot make a recovery code (RAND/KDF)");
			goto out;
		}
		n += (size_t)snprintf(text + n, size - n, "recovery = %s\n",
		    line);
	}
	/* As the module will read it, before it replaces the file. */
	if (amfa_user_parse(text, n, "(new user file)", user, &ctx->cfg,
		&check) != 0) {
		adm_err("the new user file would not parse; nothing written");
		goto out;
	}
	amfa_user_free(&check);
	/* The new set on record first: from then on no host takes a code
	 * of another set (login.c), whatever user file it still has. */
	if (adm_state_update(&ctx->cfg, user, record_generation, &gen) !=
	    ADM_OK) {
		adm_err("%s: the new set could not be recorded in the state; "
			"nothing written",
		    user);
		goto out;
	}
	if (adm_user_file_write(&ctx->cfg, user, text, n, 1) != 0)
		goto out;
	if (!u.recovery_codes)
		adm_warn("recovery codes are turned off (recovery_codes = no) "
			 "for %s: these codes are refused until they are "
			 "turned on",
		    user);
	if (u.nrecovery > 0)
		printf("The earlier set (%08x) of %s is replaced: its codes no "
		       "longer work.\n",
		    (unsigned)u.recovery_gen, user);
	printf("Recovery codes for %s (set %08x). Each works once, in place "
	       "of a\nverification code. Write them down now: they are not "
	       "shown again.\n\n",
	    user, (unsigned)gen);
	for (int i = 0; i < count; i++)
		printf("  %2d.  %s\n", i + 1, shown[i]);
	printf("\n");
	r = ADM_OK;
out:
	OPENSSL_cleanse(shown, sizeof(shown));
	if (text != NULL)
		amfa_wipe_free(text, size);
	if (old != NULL)
		amfa_wipe_free(old, oldlen);
	amfa_user_free(&u);
	return r;
}

int
adm_recovery(struct adm_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 }
	};
	const char *user, *why;
	long count = AMFA_RECOVERY_DEFAULT;
	char *end;
	int c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			errno = 0;
			count = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || end == optarg ||
			    count < 1 || count > AMFA_RECOVERY_MAX) {
				adm_err("--count: 1 to %d", AMFA_RECOVERY_MAX);
				return ADM_USAGE;
			}
			break;
		case 'h':
			usage(stdout);
			return ADM_OK;
		default:
			usage(stderr);
			return ADM_USAGE;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return ADM_USAGE;
	}
	user = argv[optind];
	if ((why = amfa_user_name_invalid(user)) != NULL) {
		adm_err("%s: %s", user, why);
		return ADM_USAGE;
	}
	if ((r = adm_load_config(ctx)) != ADM_OK)
		return r;
	if (!adm_local_account(user)) {
		adm_err("%s: no codes issued", user);
		return ADM_NOT_ENROLLED;
	}
	return adm_recovery_issue(ctx, user, (int)count);
}
