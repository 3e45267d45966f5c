/*
 * The steps of `awsmfa enroll' that the TOTP and the YubiKey paths share
 * (see enroll_steps.h): the user file's text, its check by the module's own
 * parser, writing it, noting the proof in the user's state.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "admin.h"
#include "enroll_steps.h"
#include "log.h"
#include "secure_file.h"
#include "store/state.h"
#include "user.h"
#include "user_file.h"

#define TEXT_MAX 4096 /* a user file written here */

/*
 * Append to a buffer of fixed size, allocated once: a growing buffer would
 * leave copies of the secret behind in freed memory.
 */
static int append(char *buf, size_t size, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
append(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf + *len, size - *len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size - *len)
		return -1;
	*len += (size_t)n;
	return 0;
}

char *
adm_enroll_text(const struct adm_enroll_opts *o, const char *serial,
    const char *factor_line)
{
	char stamp[64], *text;
	size_t len = 0;
	int bad = 0;

	adm_format_time((int64_t)time(NULL), stamp, sizeof(stamp));
	if ((text = calloc(1, TEXT_MAX)) == NULL)
		return NULL;
	bad |= append(text, TEXT_MAX, &len, "# Enrolled by awsmfa on %s.\n",
	    stamp);
	bad |= append(text, TEXT_MAX, &len, "iam_user = %s\n", o->iam_user);
	if (serial != NULL)
		bad |= append(text, TEXT_MAX, &len, "mfa_serial = %s\n",
		    serial);
	if (o->verify != NULL)
		bad |= append(text, TEXT_MAX, &len, "verify = %s\n", o->verify);
	if (o->aws_profile != NULL)
		bad |= append(text, TEXT_MAX, &len, "aws_profile = %s\n",
		    o->aws_profile);
	bad |= append(text, TEXT_MAX, &len, "%s\n", factor_line);
	if (bad) {
		amfa_wipe_free(text, TEXT_MAX);
		return NULL;
	}
	return text;
}

int
adm_enroll_check(struct adm_ctx *ctx, const struct adm_enroll_opts *o,
    const char *text)
{
	struct amfa_user u;
	char shown[4096];

	snprintf(shown, sizeof(shown), "%s/%s.conf (to be written)",
	    ctx->cfg.users_dir, o->user);
	if (amfa_user_parse(text, strlen(text), shown, o->user, &ctx->cfg,
		&u) != 0) {
		adm_err("the options above would make a file the module "
			"refuses; nothing was written");
		return ADM_USAGE;
	}
	amfa_user_free(&u);
	return ADM_OK;
}

int
adm_enroll_write(struct adm_ctx *ctx, const struct adm_enroll_opts *o,
    const char *text)
{
	int r;

	r = adm_user_file_write(&ctx->cfg, o->user, text, strlen(text),
	    o->force);
	if (r == 1) {
		char where[4096];

		adm_user_file_where(&ctx->cfg, o->user, where, sizeof(where));
		adm_err("%s: an enrolment appeared in %s meanwhile; not "
			"replaced (use --force)",
		    o->user, where);
		return ADM_NOT_ENROLLED;
	}
	return r == 0 ? ADM_OK : ADM_FAIL;
}

struct note_call {
	void (*note)(struct amfa_state *st, const void *arg);
	const void *arg;
};

static int
apply_note(struct amfa_state *st, void *arg)
{
	struct note_call *c = arg;

	c->note(st, c->arg);
	return 1;
}

int
adm_enroll_note_state(struct adm_ctx *ctx, const char *user,
    void (*note)(struct amfa_state *st, const void *arg), const void *arg)
{
	struct note_call c = { note, arg };

	if (adm_state_update(&ctx->cfg, user, apply_note, &c) != ADM_OK) {
		adm_err(
		    "%s is enrolled, but its state could not be updated "
		    "(see above); logins are refused until that is repaired",
		    user);
		return ADM_FAIL;
	}
	return ADM_OK;
}
