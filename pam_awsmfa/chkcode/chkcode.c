/*
 * awsmfa-chkcode: the set-user-ID root code checker for the PAM module in
 * a process that is not root (a screen locker runs PAM as the user).  The
 * model is pam_unix's unix_chkpwd: it decides for its caller (the real
 * uid) only, and tells nothing but the verdict.  The request and the
 * answers are in chkcode_proto.h; awsmfa-chkcode(8) has the guarantees.
 *
 * Its caller is hostile in every way the caller guard (caller_guard.c)
 * and the set-id programs' start-up (gateway/setid/startup.c) cover, and
 * owns this process by its real uid until the ids change:
 *
 *  1. every catchable signal is blocked first thing, and stays blocked:
 *     the caller's kill(2) before the ids change, and the terminal's
 *     signals (a ^C, a hangup) at any time, cannot end the check between
 *     the verdict and its record.  Dispositions go back to the default
 *     (ignored ones stay ignored across exec); pending ones stay pending.
 *  2. the environment is emptied before anything reads it (the name
 *     service, the C library); the caller's descriptors above 2 are
 *     closed, and 0, 1, 2 opened on /dev/null where closed, so that no
 *     file the check opens takes their number.  Standard input must be a
 *     pipe: the code never comes in argv or the environment.
 *  3. not dumpable: no ptrace, no core.
 *  4. once the request is checked (USER is the caller's own name), the
 *     caller guard takes root's ids for all three uids and gids, so the
 *     caller can no longer signal the process (SIGKILL and SIGSTOP
 *     included), raises the resource limits the check needs (RLIMIT_CORE
 *     0), ignores SIGXFSZ and SIGPIPE, lowers a raised oom_score_adj
 *     (amfa_guard_defer_signals) and sets the umask to 077.
 *
 * Then the check is the root login's: the same configuration file (built
 * in, never the caller's), the same decision (amfa_login_run, under the
 * same lockout, replay refusal and state backend), the same audit record.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "audit.h"
#include "caller_guard.h"
#include "chkcode_proto.h"
#include "config.h"
#include "creds/creds_store.h"
#include "decision/login.h"
#include "log.h"
#include "privdrop.h"
#include "store/enrolment_table.h"
#include "user.h"

#ifndef AMFA_CHKCODE_CONFIG
#define AMFA_CHKCODE_CONFIG AMFA_DEFAULT_CONFIG
#endif

extern char **environ;

static char *empty_env[] = { NULL };

static void
syslog_sink(void *ctx, int priority, const char *msg)
{
	(void)ctx;
	syslog(priority, "%s", msg);
}

/* 1 to 3 of the comment above; -1 when the process cannot be made safe. */
static int
startup(void)
{
	struct sigaction dfl;
	sigset_t all;

	sigfillset(&all);
	if (sigprocmask(SIG_SETMASK, &all, NULL) != 0)
		return -1;
	environ = empty_env;
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	for (int sig = 1; sig < NSIG; sig++) {
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)sigaction(sig, &dfl, NULL);
	}
	for (int fd = 0; fd <= 2; fd++) {
		int nfd;

		if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
			continue;
		if ((nfd = open("/dev/null", O_RDWR | O_NOCTTY)) != fd) {
			if (nfd >= 0)
				close(nfd);
			return -1;
		}
	}
	closefrom(3);
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return -1;
	umask(077);
	return 0;
}

/* The caller's own name: `user' must be the name of the real uid. */
static int
caller_is(const char *user)
{
	struct passwd *pw;

	if (amfa_user_name_invalid(user) != NULL)
		return 0;
	errno = 0;
	pw = getpwuid(getuid());
	return pw != NULL && strcmp(pw->pw_name, user) == 0;
}

static int
service_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n < AMFA_CHKCODE_SERVICE_MAX &&
	    strspn(s,
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		"0123456789._-") == n;
}

/*
 * The code from standard input, a pipe: at most AMFA_CHKCODE_MAX bytes,
 * then end of file; one trailing newline dropped; no NUL.  0 or -1.
 */
static int
read_code(char *code, size_t size)
{
	struct stat st;
	size_t len = 0;
	ssize_t n;

	if (fstat(0, &st) != 0 || !S_ISFIFO(st.st_mode)) {
		amfa_log(LOG_ERR,
		    "uid %u: refused: the code must come on a pipe",
		    (unsigned)getuid());
		return -1;
	}
	for (;;) {
		n = read(0, code + len, size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == size) {
			amfa_log(LOG_ERR, "uid %u: refused: input too long",
			    (unsigned)getuid());
			return -1;
		}
	}
	if (len > 0 && code[len - 1] == '\n')
		len--;
	code[len] = '\0';
	if (len == 0 || memchr(code, '\0', len) != NULL)
		return -1;
	return 0;
}

static int
status_of(enum amfa_auth_result r)
{
	switch (r) {
	case AMFA_AUTH_OK:
		return AMFA_CHKCODE_OK;
	case AMFA_AUTH_LOCKED:
		return AMFA_CHKCODE_LOCKED;
	case AMFA_AUTH_BAD_CODE:
	case AMFA_AUTH_REPLAY:
		return AMFA_CHKCODE_DENIED;
	case AMFA_AUTH_UNAVAILABLE:
	case AMFA_AUTH_ERROR:
		break;
	}
	return AMFA_CHKCODE_UNAVAILABLE;
}

static void
tell(const char *text)
{
	size_t n = strlen(text);

	if (n < AMFA_CHKCODE_NOTICE_MAX - 1) {
		(void)!write(1, text, n);
		(void)!write(1, "\n", 1);
	}
}

static const char *
result_word(int status)
{
	switch (status) {
	case AMFA_CHKCODE_OK:
		return "ok";
	case AMFA_CHKCODE_UNAVAILABLE:
		return "error";
	case AMFA_CHKCODE_NOT_ENROLLED:
		return "ignored";
	}
	return "denied";
}

/* The check, as root; the exit status. */
static int
check(const struct amfa_config *cfg, const char *user, const char *service,
    const char *code)
{
	struct amfa_audit_rec a;
	struct amfa_target t;
	struct amfa_user u;
	struct amfa_login l;
	char line[200];
	int r = -1, status, have_t = 0;

	memset(&a, 0, sizeof(a));
	memset(&l, 0, sizeof(l));
	a.service = service;
	a.via = "awsmfa-chkcode";
	a.user = user;
	if (amfa_audit_ready(cfg) != 0) {
		a.reason = "the audit log cannot take a record";
		status = AMFA_CHKCODE_UNAVAILABLE;
		goto audit;
	}
	/* Where awsmfa.conf says (enrolment = table: the table's record,
	 * counted and pinned as a root login's), never users.d regardless. */
	r = amfa_enrolment_load_login(cfg, user, 0, &u);
	if (r == AMFA_ENROLMENT_DISABLED) {
		amfa_log(LOG_NOTICE, "user %s: enrolment disabled: denied",
		    user);
		a.reason = "enrolment disabled";
		status = AMFA_CHKCODE_DENIED;
		goto audit;
	}
	if (r == AMFA_USER_NOT_ENROLLED) {
		amfa_log(LOG_NOTICE, "user %s: not enrolled", user);
		a.reason = "not enrolled";
		status = AMFA_CHKCODE_NOT_ENROLLED;
		goto audit;
	}
	if (r != 0) {
		amfa_log(LOG_ERR, "user %s: denied: enrolment unusable", user);
		a.reason = "enrolment unusable";
		status = AMFA_CHKCODE_UNAVAILABLE;
		goto audit;
	}
	a.iam_user = u.iam_user;
	/* A renewal staged by an earlier check is not this one's. */
	if (amfa_target_lookup(user, &t) == 0) {
		have_t = 1;
		amfa_store_drop_renewal(cfg->store_dir, &t);
	}
	amfa_login_run(cfg, &u, code, time(NULL), 0, &l);
	status = status_of(l.result);
	a.recovery = l.recovery;
	a.recovery_left = l.recovery_left;
	if (status != AMFA_CHKCODE_OK)
		a.reason = amfa_auth_result_str(l.result);
	if (status == AMFA_CHKCODE_OK && l.have_session) {
		a.credentials = 1;
		a.access_key_id = l.s.creds.access_key_id;
		a.request_id = l.s.request_id[0] ? l.s.request_id : NULL;
	}
audit:
	a.result = result_word(status);
	if (amfa_audit_emit(cfg, &a) != 0 && status == AMFA_CHKCODE_OK) {
		amfa_log(LOG_ERR,
		    "user %s: denied: the audit record was not written", user);
		status = AMFA_CHKCODE_UNAVAILABLE;
	}
	if (status == AMFA_CHKCODE_OK && l.have_session &&
	    (!have_t ||
		amfa_store_stage_renewal(cfg->store_dir, &t, &l.s.creds,
		    time(NULL)) != 0))
		amfa_log(LOG_ERR,
		    "user %s: the new session is not kept for renewal", user);
	if (status == AMFA_CHKCODE_OK && l.degraded)
		tell(l.notice != NULL ?
			l.notice :
			"AWS STS could not be reached: the "
			"session's AWS credentials were not "
			"renewed.");
	if (status == AMFA_CHKCODE_OK && l.recovery) {
		snprintf(line, sizeof(line),
		    "Recovery code accepted; it cannot be used again. %d "
		    "recovery code%s left.",
		    l.recovery_left, l.recovery_left == 1 ? "" : "s");
		tell(line);
	}
	if (r == 0)
		amfa_user_free(&u);
	amfa_login_free(&l);
	amfa_enrolment_login_done(cfg);
	return status;
}

static int
renew(const struct amfa_config *cfg, const char *user)
{
	struct amfa_target t;
	int r;

	if (amfa_target_lookup(user, &t) != 0)
		return AMFA_CHKCODE_UNAVAILABLE;
	r = amfa_store_apply_renewal(cfg->store_dir, &t, time(NULL),
	    AMFA_CHKCODE_RENEW_MAX_AGE);
	if (r == 0)
		return AMFA_CHKCODE_OK;
	return r > 0 ? AMFA_CHKCODE_NOTHING : AMFA_CHKCODE_UNAVAILABLE;
}

int
main(int argc, char **argv)
{
	char code[AMFA_CHKCODE_MAX + 1];
	struct amfa_guard guard;
	struct amfa_config cfg;
	const char *user;
	int is_check, status;

	/* Without root's effective uid there is nothing to guard. */
	if (geteuid() != 0) {
		syslog(LOG_ERR,
		    "not installed set-user-ID root: refused "
		    "(awsmfa-chkcode(8))");
		return AMFA_CHKCODE_UNAVAILABLE;
	}
	if (startup() != 0)
		return AMFA_CHKCODE_UNAVAILABLE;
	openlog("awsmfa-chkcode", LOG_PID, LOG_AUTHPRIV);
	amfa_log_set_sink(syslog_sink, NULL);
	is_check = argc == 4 && strcmp(argv[1], "check") == 0;
	if (!is_check && !(argc == 3 && strcmp(argv[1], "renew") == 0)) {
		amfa_log(LOG_ERR, "uid %u: refused: not a request",
		    (unsigned)getuid());
		return AMFA_CHKCODE_REFUSED;
	}
	user = argv[2];
	if (!caller_is(user)) {
		amfa_log(LOG_ERR,
		    "uid %u: refused: asked about %s, which is not the "
		    "caller's name",
		    (unsigned)getuid(),
		    amfa_user_name_invalid(user) ? "(invalid)" : user);
		return AMFA_CHKCODE_REFUSED;
	}
	if (is_check && !service_ok(argv[3])) {
		amfa_log(LOG_ERR, "user %s: refused: bad service name", user);
		return AMFA_CHKCODE_REFUSED;
	}
	if (is_check && read_code(code, sizeof(code)) != 0) {
		OPENSSL_cleanse(code, sizeof(code));
		return AMFA_CHKCODE_REFUSED;
	}
	/* The caller has no hold on the process from here on: root's ids,
	 * and (as in the module) the signals a caller can cause deferred and
	 * a raised oom_score_adj lowered (caller_guard.h); every catchable
	 * signal is blocked already. */
	if (amfa_guard_enter(&guard, 1) != 0 || getuid() != 0 ||
	    amfa_guard_defer_signals(&guard) != 0) {
		amfa_log(LOG_ERR, "user %s: cannot take root's ids: refused",
		    user);
		OPENSSL_cleanse(code, sizeof(code));
		return AMFA_CHKCODE_UNAVAILABLE;
	}
	if (amfa_config_load(AMFA_CHKCODE_CONFIG, 0, &cfg) != 0) {
		amfa_log(LOG_ERR, "user %s: denied: configuration unusable",
		    user);
		OPENSSL_cleanse(code, sizeof(code));
		return AMFA_CHKCODE_UNAVAILABLE;
	}
	status = is_check ?
	    check(&cfg, user, argv[3], code) :
	    renew(&cfg, user);
	OPENSSL_cleanse(code, sizeof(code));
	amfa_config_free(&cfg);
	return status;
}
