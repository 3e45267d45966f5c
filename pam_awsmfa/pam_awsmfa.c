/*
 * pam_awsmfa: the PAM entry points.  This file is glue only: arguments in,
 * the core's answer out.  The decisions live in plain C functions in the
 * rest of this directory, which the tests call directly.
 */
#include <stdarg.h>
#include <syslog.h>
#include <time.h>

#define PAM_SM_AUTH
#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "auth.h"
#include "config.h"
#include "log.h"
#include "pam_args.h"
#include "pam_input.h"
#include "secure_file.h"
#include "user.h"

static void
syslog_sink(void *ctx, int priority, const char *msg)
{
	pam_syslog((pam_handle_t *)ctx, priority, "%s", msg);
}

static int
result_to_pam(enum amfa_auth_result r)
{
	switch (r) {
	case AMFA_AUTH_OK:
		return PAM_SUCCESS;
	case AMFA_AUTH_LOCKED:
		return PAM_MAXTRIES;
	case AMFA_AUTH_ERROR:
		return PAM_AUTHINFO_UNAVAIL;
	case AMFA_AUTH_BAD_CODE:
	case AMFA_AUTH_REPLAY:
		break;
	}
	return PAM_AUTH_ERR;
}

static int
authenticate(pam_handle_t *pamh, const struct amfa_pam_args *args)
{
	struct amfa_config cfg;
	struct amfa_user user;
	const char *name = NULL;
	char *code = NULL;
	int r;

	if (pam_get_user(pamh, &name, NULL) != PAM_SUCCESS || name == NULL) {
		amfa_log(LOG_ERR, "cannot determine the user");
		return PAM_USER_UNKNOWN;
	}
	if (amfa_config_load(args->config, 0, &cfg) != 0) {
		amfa_log(LOG_ERR, "user %s: denied: configuration unusable",
		    amfa_user_name_invalid(name) ? "(invalid)" : name);
		return PAM_AUTHINFO_UNAVAIL;
	}
	r = amfa_user_load(&cfg, name, 0, &user);
	if (r == AMFA_USER_NOT_ENROLLED) {
		amfa_config_free(&cfg);
		amfa_log(LOG_NOTICE, "user %s: not enrolled%s", name,
		    args->nullok ? ", passing over (nullok)" : ": denied");
		return args->nullok ? PAM_IGNORE : PAM_AUTH_ERR;
	}
	if (r != 0) {
		amfa_config_free(&cfg);
		amfa_log(LOG_ERR, "user %s: denied: enrolment unusable",
		    amfa_user_name_invalid(name) ? "(invalid)" : name);
		return PAM_AUTHINFO_UNAVAIL;
	}
	r = amfa_pam_get_code(pamh, args, (int)user.totp_digits, &code);
	if (r == PAM_SUCCESS) {
		r = result_to_pam(amfa_auth_check(&cfg, &user, code,
		    time(NULL), 0));
		amfa_wipe_free_str(code);
	} else if (r != PAM_CONV_ERR && r != PAM_BUF_ERR) {
		r = PAM_AUTH_ERR;
	}
	amfa_user_free(&user);
	amfa_config_free(&cfg);
	return r;
}

PAM_EXTERN int
pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc,
    const char **argv)
{
	struct amfa_pam_args args;
	int r;

	amfa_log_set_sink(syslog_sink, pamh);
	if (amfa_pam_args_parse(argc, argv, &args) != 0)
		r = PAM_SERVICE_ERR;
	else {
		amfa_log_set_debug(args.debug);
		r = authenticate(pamh, &args);
	}
	amfa_debug("authenticate: %s", pam_strerror(pamh, r));
	amfa_log_set_debug(0);
	amfa_log_set_sink(NULL, NULL);
	return r;
}

PAM_EXTERN int
pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	return PAM_SUCCESS;
}
