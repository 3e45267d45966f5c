/*
 * What the subcommands of awsmfa share (admin.h): their messages, the
 * time as they print it, the USER argument, the configuration.
 */
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin.h"
#include "log.h"
#include "user.h"

static void vsay(const char *what, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
vsay(const char *what, const char *fmt, va_list ap)
{
	fprintf(stderr, "awsmfa: %s", what);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void
adm_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay("", fmt, ap);
	va_end(ap);
}

void
adm_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay("warning: ", fmt, ap);
	va_end(ap);
}

void
adm_progress(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	va_start(ap, fmt);
	vsay("", fmt, ap);
	va_end(ap);
}

void
adm_format_time(int64_t t, char *out, size_t outlen)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0 || gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, outlen, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(out, outlen, "never");
}

int
adm_user_arg(int argc, char **argv, const char *text, const char **user)
{
	const char *why;

	if (argc == 2 &&
	    (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		printf("usage: %s\n", text);
		return -1;
	}
	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: %s\n", text);
		return ADM_USAGE;
	}
	if ((why = amfa_user_name_invalid(argv[1])) != NULL) {
		adm_err("%s: %s", argv[1], why);
		return ADM_USAGE;
	}
	*user = argv[1];
	return ADM_OK;
}

int
adm_local_account(const char *user)
{
	struct passwd pw, *res = NULL;
	char buf[16384];
	int e;

	e = getpwnam_r(user, &pw, buf, sizeof(buf), &res);
	if (e == 0 && res != NULL)
		return 1;
	if (e == 0)
		adm_err("%s has no local account (not in the password "
			"database)",
		    user);
	else
		adm_err("%s: the account cannot be looked up: %s", user,
		    strerror(e));
	return 0;
}

int
adm_load_config(struct adm_ctx *ctx)
{
	if (ctx->cfg_loaded)
		return ADM_OK;
	if (amfa_config_load(ctx->config_path, 0, &ctx->cfg) != 0) {
		adm_err("%s: configuration not usable (see above)",
		    ctx->config_path);
		return ADM_CONFIG;
	}
	ctx->cfg_loaded = 1;
	return ADM_OK;
}
