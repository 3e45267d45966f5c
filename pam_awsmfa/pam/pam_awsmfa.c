/*
 * pam_awsmfa: the PAM entry points, as the module's body awsmfa_pam.so
 * exports them to pam_awsmfa.so (module_body.h).  This file is glue only:
 * arguments in, the core's answer out.  The decisions live in plain C
 * functions in the rest of the core, which the tests call directly.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#define PAM_SM_AUTH
#define PAM_SM_SESSION
#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "audit.h"
#include "caller_guard.h"
#include "chkcode_proto.h"
#include "config.h"
#include "decision/login.h"
#include "gate_marker.h"
#include "log.h"
#include "module_body.h"
#include "net/net.h"
#include "pam_args.h"
#include "pam_chkcode.h"
#include "pam_export.h"
#include "pam_input.h"
#include "plugin_origin.h"
#include "secure_file.h"
#include "store/enrolment_table.h"
#include "user.h"

/* Where the core's messages go: pam_syslog's line for this module. */
struct log_to {
	pam_handle_t *pamh;
	const char *choice; /* "auth", "setcred", "session" */
};

/*
 * The line pam_syslog writes, "pam_awsmfa(SERVICE:CHOICE): MSG" at
 * LOG_AUTHPRIV, formatted once: pam_syslog formats the message twice more
 * into two allocations (a fifth of a login's own work, for two lines).
 * errno is kept, as pam_syslog keeps it.
 */
static void
syslog_sink(void *ctx, int priority, const char *msg)
{
	const struct log_to *to = ctx;
	const void *service = NULL;
	int saved = errno;

	if (pam_get_item(to->pamh, PAM_SERVICE, &service) != PAM_SUCCESS ||
	    service == NULL)
		service = "<unknown>";
	syslog(LOG_AUTHPRIV | LOG_PRI(priority), "pam_awsmfa(%s:%s): %s",
	    (const char *)service, to->choice, msg);
	errno = saved;
}

static int
result_to_pam(enum amfa_auth_result r)
{
	switch (r) {
	case AMFA_AUTH_OK:
		return PAM_SUCCESS;
	case AMFA_AUTH_LOCKED:
		return PAM_MAXTRIES;
	case AMFA_AUTH_UNAVAILABLE:
	case AMFA_AUTH_ERROR:
		return PAM_AUTHINFO_UNAVAIL;
	case AMFA_AUTH_BAD_CODE:
	case AMFA_AUTH_REPLAY:
		break;
	}
	return PAM_AUTH_ERR;
}

/* The module's setup for one call: log sink, arguments, user, config. */
struct call {
	struct log_to log;
	struct amfa_guard guard;
	struct amfa_pam_args args;
	struct amfa_config cfg;
	const char *user;
	char *iam_user; /* for the audit record */
	/* The session's temporary access key id and the STS request id, for
	 * the audit record (never the secret or the token). */
	char access_key_id[129];
	char request_id[80];
};

/* This transaction proved a factor (and got a new session, if any):
 * pam_setcred may renew the store once. */
#define PROVEN_KEY "pam_awsmfa_proven"
/* The user whose code got the session exported at authentication. */
#define AUTH_USER_KEY "pam_awsmfa_auth_user"

/* The module is root (a login, su, sudo) or a user's own process (a
 * screen locker), whose checks go to awsmfa-chkcode. */
static int
run_by_user(void)
{
	return geteuid() != 0;
}

static int
begin(pam_handle_t *pamh, const char *choice, int argc, const char **argv,
    struct call *c, int load)
{
	c->log.pamh = pamh;
	c->log.choice = choice;
	amfa_log_set_sink(syslog_sink, &c->log);
	/* Before anything else: the caller of su or sudo chose this
	 * process's environment, limits, signals and umask. */
	if (amfa_guard_enter(&c->guard, amfa_guard_process_secure()) != 0) {
		amfa_log(LOG_ERR,
		    "denied: the process could not be made safe "
		    "from its caller's settings");
		return PAM_AUTHINFO_UNAVAIL;
	}
	if (amfa_pam_args_parse(argc, argv, &c->args) != 0)
		return PAM_SERVICE_ERR;
	amfa_log_set_debug(c->args.debug);
	if (pam_get_user(pamh, &c->user, NULL) != PAM_SUCCESS ||
	    c->user == NULL) {
		amfa_log(LOG_ERR, "cannot determine the user");
		return PAM_USER_UNKNOWN;
	}
	if (!load)
		return PAM_SUCCESS;
	if (amfa_config_load(c->args.config, 0, &c->cfg) != 0) {
		amfa_log(LOG_ERR, "user %s: denied: configuration unusable",
		    amfa_user_name_invalid(c->user) ? "(invalid)" : c->user);
		return PAM_AUTHINFO_UNAVAIL;
	}
	return PAM_SUCCESS;
}

static int
end(pam_handle_t *pamh, struct call *c, int r, int loaded, const char *what)
{
	if (loaded)
		amfa_config_free(&c->cfg);
	amfa_debug("%s: %s", what, pam_strerror(pamh, r));
	amfa_log_set_debug(0);
	amfa_log_set_sink(NULL, NULL);
	amfa_guard_leave(&c->guard);
	return r;
}

static void
drop_str(pam_handle_t *pamh, void *data, int status)
{
	(void)pamh;
	(void)status;
	free(data);
}

/*
 * The application changed PAM_USER after this module exported a session
 * at authentication (some do, to a mapped name; sudo does, to the target
 * user): that session is the authenticated user's, and goes neither into
 * `user''s store nor on to `user''s programs.  1 (taken out of the PAM
 * environment, logged), 0 the same user or nothing exported.
 */
static int
other_user(pam_handle_t *pamh, const char *user)
{
	const void *who = NULL;

	if (pam_get_data(pamh, AUTH_USER_KEY, &who) != PAM_SUCCESS ||
	    who == NULL || strcmp((const char *)who, user) == 0)
		return 0;
	amfa_log(LOG_WARNING,
	    "user %s: the AWS session exported at authentication is %s's "
	    "(the application changed the user since): not stored, and "
	    "taken out of the environment",
	    amfa_user_name_invalid(user) ? "(invalid)" : user,
	    (const char *)who);
	amfa_pam_unexport_env(pamh);
	return 1;
}

/* PAM_RHOST, or NULL. */
static const char *
rhost_of(pam_handle_t *pamh)
{
	const void *item;

	if (pam_get_item(pamh, PAM_RHOST, &item) != PAM_SUCCESS)
		return NULL;
	return item;
}

/*
 * grace= is the user's own step-up: a success on record counts only for a
 * request the user makes.  su sets PAM_RUSER to its caller; with the state
 * in a table the record may come from any host of the fleet, so "proven
 * recently" says nothing about who asks here.  Unset or the user: counts.
 */
static int
grace_for_own_request(pam_handle_t *pamh, const char *user)
{
	const void *item = NULL;

	if (pam_get_item(pamh, PAM_RUSER, &item) != PAM_SUCCESS ||
	    item == NULL || ((const char *)item)[0] == '\0' ||
	    strcmp(item, user) == 0)
		return 1;
	amfa_log(LOG_NOTICE,
	    "user %s: asked for by another user (PAM_RUSER): grace= does "
	    "not count; a code is asked",
	    user);
	return 0;
}

/* After a login by recovery code: what is left, and what to do at none. */
static void
tell_recovery_left(pam_handle_t *pamh, int left)
{
	if (left > 0)
		pam_info(pamh,
		    "Recovery code accepted; it cannot be used again. "
		    "%d recovery code%s left.",
		    left, left == 1 ? "" : "s");
	else
		pam_info(pamh,
		    "Recovery code accepted; that was your last one. Ask "
		    "an administrator for new recovery codes (awsmfa "
		    "recovery), and replace your lost device.");
}

static int
authenticate_enrolled(pam_handle_t *pamh, struct call *c,
    struct amfa_audit_rec *a)
{
	struct amfa_user user;
	struct amfa_login login;
	char *code = NULL;
	int r;

	r = amfa_enrolment_load_login(&c->cfg, c->user, 0, &user);
	if (r == AMFA_ENROLMENT_DISABLED) {
		amfa_log(LOG_NOTICE, "user %s: enrolment disabled: denied",
		    c->user);
		a->reason = "enrolment disabled";
		return PAM_AUTH_ERR;
	}
	if (r == AMFA_USER_NOT_ENROLLED && c->args.nullok &&
	    !amfa_user_name_canonical(c->user)) {
		amfa_log(LOG_ERR,
		    "user %s: not enrolled under this name, but "
		    "the account has another name: nullok does not pass it "
		    "over; denied",
		    c->user);
		a->reason = "another name of an account";
		return PAM_AUTH_ERR;
	}
	if (r == AMFA_USER_NOT_ENROLLED) {
		amfa_log(LOG_NOTICE, "user %s: not enrolled%s", c->user,
		    c->args.nullok ? ", passing over (nullok)" : ": denied");
		a->reason = "not enrolled";
		return c->args.nullok ? PAM_IGNORE : PAM_AUTH_ERR;
	}
	if (r != 0) {
		amfa_log(LOG_ERR, "user %s: denied: enrolment unusable",
		    amfa_user_name_invalid(c->user) ? "(invalid)" : c->user);
		a->reason = "enrolment unusable";
		return PAM_AUTHINFO_UNAVAIL;
	}
	a->iam_user = c->iam_user = strdup(user.iam_user);
	if (c->args.grace > 0 && grace_for_own_request(pamh, c->user) &&
	    amfa_auth_recent(&c->cfg, &user, time(NULL), 0,
		c->args.grace * 60)) {
		amfa_gate_mark_login(c->cfg.store_dir, c->user, user.iam_user,
		    rhost_of(pamh));
		amfa_user_free(&user);
		a->grace = 1;
		return PAM_SUCCESS;
	}
	r = amfa_pam_get_code(pamh, &c->args, &user, &code);
	if (r != PAM_SUCCESS) {
		amfa_user_free(&user);
		a->reason = "no code given";
		return r == PAM_CONV_ERR || r == PAM_BUF_ERR ? r : PAM_AUTH_ERR;
	}
	/* From here to the return, nothing the caller can send ends the
	 * process between the verdict and its record (caller_guard.h). */
	if (amfa_guard_defer_signals(&c->guard) != 0) {
		amfa_wipe_free_str(code);
		amfa_user_free(&user);
		a->reason = "signals could not be deferred";
		return PAM_AUTHINFO_UNAVAIL;
	}
	amfa_login_run(&c->cfg, &user, code, time(NULL), 0, &login);
	amfa_wipe_free_str(code);
	r = result_to_pam(login.result);
	a->recovery = login.recovery;
	a->recovery_left = login.recovery_left;
	if (r != PAM_SUCCESS)
		a->reason = login.recovery_why != NULL ?
		    login.recovery_why :
		    amfa_auth_result_str(login.result);
	if (r == PAM_SUCCESS && login.have_session) {
		r = amfa_pam_export_env(pamh, &login.s);
		a->credentials = r == PAM_SUCCESS;
		if (r != PAM_SUCCESS)
			a->reason = "cannot set the PAM environment";
		else {
			pam_set_data(pamh, PROVEN_KEY, (void *)1, NULL);
			pam_set_data(pamh, AUTH_USER_KEY, strdup(c->user),
			    drop_str);
			snprintf(c->access_key_id, sizeof(c->access_key_id),
			    "%s", login.s.creds.access_key_id);
			snprintf(c->request_id, sizeof(c->request_id), "%s",
			    login.s.request_id);
			a->access_key_id = c->access_key_id;
			a->request_id = c->request_id[0] ? c->request_id : NULL;
		}
	}
	if (r == PAM_SUCCESS && login.degraded)
		pam_info(pamh, "%s",
		    login.notice != NULL ?
			login.notice :
			"AWS STS could not be reached: you are logged in without "
			"AWS credentials.");
	if (r == PAM_SUCCESS && login.recovery)
		tell_recovery_left(pamh, login.recovery_left);
	amfa_login_free(&login);
	/* For awsmfa-gateway: this SSH connection passed the factor. */
	if (r == PAM_SUCCESS)
		amfa_gate_mark_login(c->cfg.store_dir, c->user, user.iam_user,
		    rhost_of(pamh));
	if (r == PAM_SUCCESS && a->credentials)
		amfa_pam_keep_enrolment(pamh, &user); /* for open_session */
	else
		amfa_user_free(&user);
	return r;
}

/* The enrolment's item (table) is this login's only: dropped after it. */
static int
authenticate(pam_handle_t *pamh, struct call *c, struct amfa_audit_rec *a)
{
	int r = authenticate_enrolled(pamh, c, a);

	amfa_enrolment_login_done(&c->cfg);
	return r;
}

static const char *
result_word(int r)
{
	switch (r) {
	case PAM_SUCCESS:
		return "ok";
	case PAM_IGNORE:
		return "ignored";
	case PAM_AUTHINFO_UNAVAIL:
	case PAM_SERVICE_ERR:
		return "error";
	}
	return "denied";
}

/* One audit record for the decision (audit.h); 0, or -1 if not in the
 * audit log. */
static int
audit(pam_handle_t *pamh, struct call *c, struct amfa_audit_rec *a, int r)
{
	const void *item;

	a->user = amfa_user_name_invalid(c->user) ? "(invalid)" : c->user;
	if (pam_get_item(pamh, PAM_SERVICE, &item) == PAM_SUCCESS)
		a->service = item;
	if (pam_get_item(pamh, PAM_RHOST, &item) == PAM_SUCCESS)
		a->rhost = item;
	if (pam_get_item(pamh, PAM_RUSER, &item) == PAM_SUCCESS)
		a->ruser = item;
	if (pam_get_item(pamh, PAM_TTY, &item) == PAM_SUCCESS)
		a->tty = item;
	a->result = result_word(r);
	return amfa_audit_emit(&c->cfg, a);
}

/* Show what the checker said for the user, line by line. */
static void
tell_notices(pam_handle_t *pamh, char *notice)
{
	char *save = NULL;

	for (char *l = strtok_r(notice, "\n", &save); l != NULL;
	     l = strtok_r(NULL, "\n", &save))
		pam_info(pamh, "%s", l);
}

/*
 * Not root: the enrolment and the state are not readable here, and must
 * not become so.  The code goes on a pipe to awsmfa-chkcode, which checks
 * it for the calling user only, records and audits the attempt as a root
 * login does, and stages the new session (if any) for pam_setcred.
 */
static int
authenticate_by_checker(pam_handle_t *pamh, struct call *c)
{
	const void *svc = NULL;
	const char *args[5];
	char notice[AMFA_CHKCODE_NOTICE_MAX], *code = NULL;
	struct amfa_user shape;
	int r, status;

	/* forward_pass splits without the enrolment: a TOTP code's six
	 * digits at the end. */
	memset(&shape, 0, sizeof(shape));
	shape.totp_digits = 6;
	r = amfa_pam_get_code(pamh, &c->args, &shape, &code);
	if (r != PAM_SUCCESS)
		return r == PAM_CONV_ERR || r == PAM_BUF_ERR ? r : PAM_AUTH_ERR;
	if (pam_get_item(pamh, PAM_SERVICE, &svc) != PAM_SUCCESS || svc == NULL)
		svc = "unknown";
	args[0] = "check";
	args[1] = c->user;
	args[2] = svc;
	args[3] = NULL;
	status = amfa_chkcode_run(c->args.chkcode, args, code, notice,
	    sizeof(notice));
	amfa_wipe_free_str(code);
	switch (status) {
	case AMFA_CHKCODE_OK:
		pam_set_data(pamh, PROVEN_KEY, (void *)2, NULL);
		tell_notices(pamh, notice);
		return PAM_SUCCESS;
	case AMFA_CHKCODE_DENIED:
		return PAM_AUTH_ERR;
	case AMFA_CHKCODE_LOCKED:
		return PAM_MAXTRIES;
	case AMFA_CHKCODE_NOT_ENROLLED:
		return c->args.nullok ? PAM_IGNORE : PAM_AUTH_ERR;
	case AMFA_CHKCODE_REFUSED:
		amfa_log(LOG_ERR, "user %s: %s refused the request", c->user,
		    c->args.chkcode);
		return PAM_AUTH_ERR;
	}
	amfa_log(LOG_ERR, "user %s: %s could not decide (status %d): denied",
	    c->user, c->args.chkcode, status);
	return PAM_AUTHINFO_UNAVAIL;
}

static int
entry_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct amfa_audit_rec a;
	struct call c;
	int r;

	memset(&a, 0, sizeof(a));
	memset(&c, 0, sizeof(c));
	pam_set_data(pamh, PROVEN_KEY, NULL, NULL);
	if ((r = begin(pamh, "auth", argc, argv, &c, !run_by_user())) !=
	    PAM_SUCCESS)
		return end(pamh, &c, r, 0, "authenticate");
	if (run_by_user())
		return end(pamh, &c, authenticate_by_checker(pamh, &c), 0,
		    "authenticate");
	/* No audit record, no login: the code is not looked at while the
	 * audit log cannot take a record (a full disk, a file size limit). */
	if (amfa_audit_ready(&c.cfg) != 0) {
		r = PAM_AUTHINFO_UNAVAIL;
		a.reason = "the audit log cannot take a record";
	} else {
		r = authenticate(pamh, &c, &a);
	}
	if (audit(pamh, &c, &a, r) != 0 && r == PAM_SUCCESS) {
		amfa_log(LOG_ERR,
		    "user %s: denied: the audit record was not written",
		    amfa_user_name_invalid(c.user) ? "(invalid)" : c.user);
		amfa_pam_unexport_env(pamh);
		amfa_gate_mark_logout(c.cfg.store_dir);
		r = PAM_AUTHINFO_UNAVAIL;
	}
	free(c.iam_user);
	if (r != PAM_SUCCESS)
		pam_set_data(pamh, PROVEN_KEY, NULL, NULL);
	return end(pamh, &c, r, 1, "authenticate");
}

/*
 * PAM_ESTABLISH_CRED and PAM_DELETE_CRED do nothing here (the session
 * calls store the credentials).  PAM_REFRESH_CRED and
 * PAM_REINITIALIZE_CRED (a screen locker at unlock) renew the user's store
 * with the session got when this transaction proved a factor: once, and
 * nothing without a proof.
 */
static int
entry_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	const void *proven = NULL;
	const char *args[3];
	char notice[AMFA_CHKCODE_NOTICE_MAX];
	struct call c;
	int r, status;

	if (!(flags & (PAM_REFRESH_CRED | PAM_REINITIALIZE_CRED)))
		return PAM_SUCCESS;
	if (pam_get_data(pamh, PROVEN_KEY, &proven) != PAM_SUCCESS ||
	    proven == NULL)
		return PAM_SUCCESS; /* nothing proven: nothing renewed */
	pam_set_data(pamh, PROVEN_KEY, NULL, NULL);
	memset(&c, 0, sizeof(c));
	if ((r = begin(pamh, "setcred", argc, argv, &c, !run_by_user())) !=
	    PAM_SUCCESS)
		return end(pamh, &c, r, 0, "setcred");
	if (!run_by_user())
		return end(pamh, &c,
		    other_user(pamh, c.user) ?
			PAM_SUCCESS :
			amfa_pam_store_renew(pamh, &c.cfg, c.user),
		    1, "setcred");
	args[0] = "renew";
	args[1] = c.user;
	args[2] = NULL;
	status = amfa_chkcode_run(c.args.chkcode, args, NULL, notice,
	    sizeof(notice));
	r = status == AMFA_CHKCODE_OK || status == AMFA_CHKCODE_NOTHING ?
	    PAM_SUCCESS :
	    PAM_CRED_ERR;
	if (r != PAM_SUCCESS)
		amfa_log(LOG_ERR, "user %s: %s could not renew (status %d)",
		    c.user, c.args.chkcode, status);
	return end(pamh, &c, r, 0, "setcred");
}

static int
entry_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct call c;
	int r;

	memset(&c, 0, sizeof(c));
	if ((r = begin(pamh, "session", argc, argv, &c, 1)) != PAM_SUCCESS)
		return end(pamh, &c, r, 0, "open_session");
	(void)other_user(pamh, c.user); /* then no credentials: roles only */
	r = amfa_pam_store_open(pamh, &c.cfg, c.user);
	/* A session this handle did not authenticate loads the enrolment
	 * (the table's, and KMS) for its roles: that connection ends here,
	 * not with the session (sshd's and su's process lives as long). */
	amfa_net_release();
	return end(pamh, &c, r, 1, "open_session");
}

static int
entry_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct call c;
	int r;

	memset(&c, 0, sizeof(c));
	if ((r = begin(pamh, "session", argc, argv, &c, 1)) != PAM_SUCCESS)
		return end(pamh, &c, r, 0, "close_session");
	amfa_gate_mark_logout(c.cfg.store_dir);
	return end(pamh, &c, amfa_pam_store_close(pamh, &c.cfg, c.user), 1,
	    "close_session");
}

/* The file this copy of the body was loaded from (plugin_origin.h). */
static struct amfa_plugin_origin origin = AMFA_PLUGIN_ORIGIN_INIT;

static int
claim(dev_t dev, ino_t ino, int record)
{
	return amfa_plugin_origin_claim(&origin, dev, ino, record);
}

extern const struct amfa_pam_ops amfa_pam_ops_v1;

const struct amfa_pam_ops amfa_pam_ops_v1 = {
	.head = { .size = sizeof(struct amfa_pam_ops),
	    .version = AMFA_VERSION,
	    .claim = claim },
	.located = amfa_net_located,
	.authenticate = entry_authenticate,
	.setcred = entry_setcred,
	.open_session = entry_open_session,
	.close_session = entry_close_session,
};
