/*
 * awsmfa-gateway: what sshd runs (ForceCommand) for the users of an MFA
 * bastion.  It checks that this SSH connection passed pam_awsmfa (the gate
 * marker), then does what SSH_ORIGINAL_COMMAND asks if the policy allows:
 * nothing asked, a login shell; "connect HOST PORT", a byte relay to the
 * target.  Every decision is audited.  See awsmfa-gateway(8).
 *
 * Privilege: the gateway runs as the user.  Installed set-group-ID to the
 * audit log's group it uses that group only to open the log (before it
 * looks at any of the user's input) and then gives it up for good.  Any
 * local account can run it by hand: startup.c first resets what a caller
 * hands down (descriptors, signals, limits, environment), and a decision
 * whose audit record cannot be written is not acted upon (no audit trail,
 * no service).
 *
 * Recorded shells (gateway.conf's record_all_shells, "shell record"
 * rules) run on a pseudo-terminal of the gateway's own (recorded_shell.h)
 * and are written to a file the user cannot reach (recording_dir.h),
 * created by a child that keeps the audit group when the gateway gives it
 * up (recording_creator.h).  A shell that must be recorded and cannot be
 * does not start.
 */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "audit_json.h"
#include "command.h"
#include "config.h"
#include "dial.h"
#include "gate_marker.h"
#include "groups.h"
#include "gwconf.h"
#include "log.h"
#include "monotonic.h"
#include "policy.h"
#include "recorded_shell.h"
#include "recording.h"
#include "recording_creator.h"
#include "recording_dir.h"
#include "relay.h"
#include "startup.h"

static volatile sig_atomic_t stop_relay;
static struct gw_startup startup;

static void
on_signal(int sig)
{
	(void)sig;
	stop_relay = 1;
}

static void
syslog_sink(void *ctx, int priority, const char *msg)
{
	(void)ctx;
	syslog(priority, "%s", msg);
}

static void
stderr_sink(void *ctx, int priority, const char *msg)
{
	(void)ctx;
	(void)priority;
	fprintf(stderr, "awsmfa-gateway: %s\n", msg);
}

static void
usage(void)
{
	fprintf(stderr, "usage: awsmfa-gateway [-t] [-f config]\n");
	exit(2);
}

/*
 * Give up the set-group-ID group for good (a no-op when not installed
 * so).  Anything but success ends the program.
 */
static void
drop_group(void)
{
	gid_t g = getgid(), r, e, s;

	if (setresgid(g, g, g) != 0 || getresgid(&r, &e, &s) != 0 || r != g ||
	    e != g || s != g) {
		syslog(LOG_ERR, "cannot give up the audit group");
		fprintf(stderr, "awsmfa-gateway: internal error\n");
		exit(1);
	}
}

/* The user's message when a record of the service cannot be written. */
#define NO_AUDIT                                                  \
	"refused: the audit log cannot take the record; see the " \
	"system log"

/* Audit a refusal and tell the user.  Returns the exit status. */
static int
refuse(const struct gw_audit *a, struct gw_event *ev, const char *msg)
{
	gw_audit_emit(a, ev);
	fprintf(stderr, "awsmfa-gateway: %s\n", msg);
	return 1;
}

/*
 * The user's login shell and its argv[0] ("-" before its name, as sshd
 * starts a login shell); refused (audited) when it is the gateway itself,
 * which would start itself over and over.  0, or the exit status.
 */
static int
login_shell(const struct gw_audit *a, struct gw_event *ev,
    const struct passwd *pw, const char **shell, char *argv0, size_t size)
{
	char self[PATH_MAX], target[PATH_MAX];
	const char *base;
	ssize_t n;

	*shell = pw->pw_shell && *pw->pw_shell ? pw->pw_shell : "/bin/sh";
	base = strrchr(*shell, '/') ? strrchr(*shell, '/') + 1 : *shell;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		if (realpath(*shell, target) != NULL &&
		    strcmp(self, target) == 0) {
			ev->result = "error";
			ev->reason = "the login shell is the gateway itself";
			return refuse(a, ev, "no usable login shell");
		}
	}
	snprintf(argv0, size, "-%s", base);
	return 0;
}

static int
run_shell(const struct gw_audit *a, const struct passwd *pw)
{
	char argv0[PATH_MAX + 1];
	const char *shell;
	struct gw_event ev = { .event = "shell", .result = "ok" };

	if (login_shell(a, &ev, pw, &shell, argv0, sizeof(argv0)) != 0)
		return 1;
	if (gw_audit_emit(a, &ev) != 0) {
		fprintf(stderr, "awsmfa-gateway: %s\n", NO_AUDIT);
		return 1;
	}
	closelog();
	/* What the caller handed down goes on to the shell: startup.h. */
	gw_startup_restore(&startup);
	execve(shell, (char *[]){ argv0, NULL }, startup.env);
	syslog(LOG_ERR, "user %s: cannot run %s: %s", pw->pw_name, shell,
	    strerror(errno));
	fprintf(stderr, "awsmfa-gateway: cannot run %s: %s\n", shell,
	    strerror(errno));
	return 1;
}

/* The message for a shell that must be recorded and cannot be. */
#define NO_RECORDING \
	"refused: this session must be recorded and cannot be; see the system log"

/* A variable of the caller's environment (for the recording's header). */
static const char *
caller_env(const char *name)
{
	size_t n = strlen(name);

	for (char **e = startup.env; e != NULL && *e != NULL; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

struct rec_ctx {
	const struct gw_audit *a;
	const struct gw_config *cfg;
	const char *path;
	char reason[256];
};

/* The recording ended early: audit it, and say whether the session goes
 * on (recording_failure = continue, and the record is written). */
static int
recording_failed(void *ctx, const char *why)
{
	struct rec_ctx *rc = ctx;
	struct gw_event ev = { .event = "recording",
		.result = "error",
		.recording = rc->path };
	int go_on = rc->cfg->recording_failure == GW_REC_FAIL_CONTINUE;

	snprintf(rc->reason, sizeof(rc->reason), "%s; %s", why,
	    go_on ? "the session goes on unrecorded" : "the session ends");
	ev.reason = rc->reason;
	syslog(LOG_WARNING, "user %s: %s: %s", rc->a->user, rc->path,
	    rc->reason);
	if (gw_audit_emit(rc->a, &ev) != 0)
		return -1; /* no audit trail, no service */
	return go_on ? 0 : -1;
}

static int
run_recorded_shell(const struct gw_audit *a, const struct gw_config *cfg,
    const struct passwd *pw, struct gw_rec_creator *creator, unsigned rule_line)
{
	char argv0[PATH_MAX + 1], name[NAME_MAX + 1], path[PATH_MAX + 1];
	char host[256] = "", when[AMFA_AUDIT_TIME_LEN], status[32];
	const char *shell;
	struct gw_event ev = { .event = "shell",
		.result = "ok",
		.rule_line = rule_line };
	struct gw_cast_header h;
	struct gw_recording rec;
	struct gw_session sess;
	struct gw_session_result res;
	struct gw_shell_spec spec;
	struct rec_ctx rc = { .a = a, .cfg = cfg };
	struct timespec now;
	int fd;

	if (login_shell(a, &ev, pw, &shell, argv0, sizeof(argv0)) != 0)
		return 1;
	ev.result = "error";
	if ((fd = gw_rec_creator_create(creator, name, sizeof(name))) < 0) {
		ev.reason = "recording required, but no recording can be "
			    "created (recording_dir)";
		return refuse(a, &ev, NO_RECORDING);
	}
	snprintf(path, sizeof(path), "%s/%s", cfg->recording_dir, name);
	ev.recording = path;
	gw_session_probe(&sess);
	clock_gettime(CLOCK_REALTIME, &now);
	(void)gethostname(host, sizeof(host) - 1);
	memset(&h, 0, sizeof(h));
	h.width = sess.ws.ws_col;
	h.height = sess.ws.ws_row;
	h.timestamp = (int64_t)now.tv_sec;
	h.term = caller_env("TERM");
	h.shell = shell;
	h.user = a->user;
	h.uid = (int64_t)a->uid;
	h.iam_user = a->iam_user;
	h.host = host[0] ? host : NULL;
	h.source = a->src_addr;
	h.source_port = a->src_port;
	h.sshd_pid = a->sshd_pid;
	if (amfa_audit_time(&now, when) == 0)
		h.time = when;
	if (gw_recording_start(&rec, fd, cfg->recording_max_size,
		cfg->record_input, &h) != 0) {
		snprintf(rc.reason, sizeof(rc.reason),
		    "recording required, but its header cannot be written: %s",
		    rec.failed);
		ev.reason = rc.reason;
		gw_recording_close(&rec);
		return refuse(a, &ev, NO_RECORDING);
	}
	ev.result = "ok";
	if (gw_audit_emit(a, &ev) != 0) {
		gw_recording_close(&rec);
		fprintf(stderr, "awsmfa-gateway: %s\n", NO_AUDIT);
		return 1;
	}
	rc.path = path;
	spec.path = shell;
	spec.argv0 = argv0;
	spec.env = startup.env;
	spec.startup = &startup;
	if (gw_session_run(&sess, &spec, &rec, recording_failed, &rc, &res) !=
	    0) {
		gw_recording_close(&rec);
		ev.event = "shell_end";
		ev.result = "error";
		ev.reason = "the shell could not be started";
		return refuse(a, &ev, "cannot start the shell");
	}
	if (strcmp(res.end, "exit") == 0) {
		snprintf(status, sizeof(status), "exit status %d", res.status);
		(void)gw_recording_marker(&rec, status);
	}
	gw_recording_close(&rec);
	memset(&ev, 0, sizeof(ev));
	ev.event = "shell_end";
	ev.result = strcmp(res.end, "exit") == 0 ?
	    "ok" :
	    strcmp(res.end, "hangup") == 0 ?
	    "interrupted" :
	    "error";
	ev.reason = res.end;
	ev.recording = path;
	ev.has_status = 1;
	ev.exit_status = res.status;
	if (gw_audit_emit(a, &ev) != 0 && res.status == 0)
		res.status = 1;
	if (strcmp(res.end, "recording") == 0)
		fprintf(stderr,
		    "awsmfa-gateway: the session ended: it could "
		    "not be recorded any further (%s)\n",
		    rc.reason);
	return res.status;
}

struct ready_ctx {
	const struct gw_audit *a;
	const struct gw_event *ev;
};

/* Before each connection attempt: can its relay_start record be written? */
static int
relay_ready(void *ctx, const char *addr, const struct gw_rule *rule)
{
	const struct ready_ctx *rc = ctx;
	struct gw_event ev = *rc->ev;

	ev.event = "relay_start";
	ev.result = "ok";
	ev.addr = addr;
	ev.rule_line = rule ? rule->line : 0;
	return gw_audit_check(rc->a, &ev);
}

static int
run_connect(const struct gw_audit *a, const struct gw_config *cfg,
    const struct gw_subject *subj, const struct gw_command *cmd)
{
	struct gw_event ev = { .event = "connect",
		.host = cmd->host,
		.port = cmd->port };
	struct gw_relay_stats st;
	struct sigaction sa;
	long long t0;
	struct gw_dial d;
	struct ready_ctx rc = { a, &ev };
	int r;

	if (gw_dial(&cfg->policy, subj, cmd, cfg->connect_timeout, relay_ready,
		&rc, &d) != 0) {
		ev.result = d.denied ? "denied" : "error";
		ev.reason = d.why;
		ev.addr = d.addr[0] ? d.addr : NULL;
		ev.rule_line = d.rule ? d.rule->line : 0;
		fprintf(stderr, "awsmfa-gateway: connect %s port %u: %s%s%s\n",
		    cmd->host, cmd->port, d.why, d.addr[0] ? " " : "",
		    d.addr[0] ? d.addr : "");
		gw_audit_emit(a, &ev);
		return 1;
	}
	ev.event = "relay_start";
	ev.result = "ok";
	ev.addr = d.addr;
	ev.rule_line = d.rule ? d.rule->line : 0;
	if (gw_audit_emit(a, &ev) != 0) {
		/* Connected, but not one byte goes through unrecorded. */
		close(d.fd);
		fprintf(stderr, "awsmfa-gateway: %s\n", NO_AUDIT);
		return 1;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	t0 = amfa_monotonic_ms();
	r = gw_relay(STDIN_FILENO, STDOUT_FILENO, d.fd, &stop_relay, &st);
	close(d.fd);

	ev.event = "relay_end";
	ev.result = r == 0 ? "ok" : stop_relay ? "interrupted" : "error";
	ev.reason = st.end;
	ev.relay = 1;
	ev.bytes_up = st.up;
	ev.bytes_down = st.down;
	ev.duration_ms = (uint64_t)(amfa_monotonic_ms() - t0);
	if (gw_audit_emit(a, &ev) != 0)
		return 1;
	return r == 0 ? 0 : 1;
}

static int
check_config(const char *path)
{
	struct gw_config cfg;

	amfa_log_set_sink(stderr_sink, NULL);
	if (gw_config_load(path, 0, &cfg) != 0)
		return 1;
	printf("%s: %zu rule%s, OK\n", path, cfg.policy.nrules,
	    cfg.policy.nrules == 1 ? "" : "s");
	gw_config_free(&cfg);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *conf = GW_DEFAULT_CONFIG, *why = NULL;
	struct gw_config cfg;
	struct amfa_config acfg;
	struct amfa_gate_mark mk;
	struct amfa_proc monitor;
	struct gw_source src;
	struct gw_command cmd;
	struct gw_subject subj;
	struct gw_audit audit;
	struct gw_event ev;
	struct passwd *pw;
	char *groups[GW_MAX_GROUPS], msg[256];
	size_t ngroups = 0;
	gid_t audit_gid = getegid();
	struct gw_rec_creator creator = { 0, -1 };
	int c, test = 0, r, records;

	/*
	 * Before anything else: nothing the caller hands down shapes what
	 * the gateway writes (startup.c lists what is reset, and why).
	 */
	if (gw_startup_sanitize(&startup) != 0) {
		drop_group();
		fprintf(stderr, "awsmfa-gateway: cannot set up the process\n");
		return 1;
	}
	/* Set-user-ID would make every check below meaningless. */
	if (geteuid() != getuid()) {
		fprintf(stderr, "awsmfa-gateway: must not be set-user-ID\n");
		return 1;
	}
	/* Work as the user; the audit group only to open the log. */
	if (setegid(getgid()) != 0)
		drop_group();
	while ((c = getopt(argc, argv, "f:t")) != -1) {
		switch (c) {
		case 'f':
			conf = optarg;
			break;
		case 't':
			test = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (test) {
		drop_group();
		return check_config(conf);
	}
	/*
	 * Installed set-group-ID for the audit log, the gateway must not let
	 * its caller choose another configuration (and with it another log
	 * opened with that group): -f is for checking (-t) or unprivileged
	 * runs.
	 */
	if (audit_gid != getgid() && strcmp(conf, GW_DEFAULT_CONFIG) != 0) {
		drop_group();
		fprintf(stderr,
		    "awsmfa-gateway: -f is refused when installed "
		    "set-group-ID (use it with -t)\n");
		return 1;
	}

	openlog("awsmfa-gateway", LOG_PID, LOG_AUTHPRIV);
	amfa_log_set_sink(syslog_sink, NULL);
	memset(&audit, 0, sizeof(audit));
	audit.fd = -1;
	audit.uid = getuid();
	audit.config = conf;
	if ((pw = getpwuid(getuid())) == NULL) {
		syslog(LOG_ERR, "uid %u: not in the password database",
		    (unsigned)getuid());
		fprintf(stderr, "awsmfa-gateway: unknown user\n");
		return 1;
	}
	audit.user = pw->pw_name;
	if (gw_source_parse(startup.ssh_connection, &src) == 0) {
		audit.src_addr = src.addr;
		audit.src_port = src.port;
	}
	memset(&ev, 0, sizeof(ev));
	ev.event = "login";
	ev.result = "error";

	if (gw_config_load(conf, 0, &cfg) != 0) {
		drop_group();
		ev.reason = "gateway configuration unusable";
		return refuse(&audit, &ev,
		    "the gateway's configuration is "
		    "unusable; see the system log");
	}
	records = cfg.record_all_shells;
	for (size_t i = 0; i < cfg.policy.nrules; i++)
		records |= cfg.policy.rules[i].record;
	if (cfg.audit_log != NULL) {
		if (setegid(audit_gid) != 0)
			drop_group();
		audit.fd = gw_audit_open(cfg.audit_log, 0);
		if (audit.fd < 0) {
			drop_group();
			/* No audit trail, no service. */
			ev.reason = "audit log unusable";
			return refuse(&audit, &ev,
			    "the audit log is unusable; "
			    "see the system log");
		}
	}
	if (records) {
		/*
		 * The group, for the last time: the directory checked, and
		 * the child that may create one recording with it.  A
		 * failure here refuses only the shells that must be
		 * recorded (run_recorded_shell).
		 */
		int dirfd;

		if (setegid(audit_gid) != 0)
			drop_group();
		dirfd = gw_recdir_open(cfg.recording_dir, 0, audit_gid);
		if (dirfd >= 0) {
			(void)gw_rec_creator_start(&creator, dirfd,
			    pw->pw_name);
			close(dirfd);
		}
	}
	drop_group();

	/* Did this connection pass pam_awsmfa? */
	if (amfa_config_load(cfg.awsmfa_config, 0, &acfg) != 0) {
		ev.reason = "awsmfa.conf unusable";
		return refuse(&audit, &ev,
		    "the MFA configuration is "
		    "unusable; see the system log");
	}
	if (amfa_gate_connection_above(getppid(), &monitor) != 0)
		why = "not below an sshd connection";
	else {
		audit.sshd_pid = (long)monitor.pid;
		if (amfa_gate_mark_check(acfg.store_dir, 0, &monitor,
			pw->pw_name, pw->pw_uid, &mk, &why) == 0) {
			why = NULL;
			audit.iam_user = mk.iam_user[0] ? mk.iam_user : NULL;
		}
	}
	amfa_config_free(&acfg);
	if (why != NULL) {
		ev.result = "denied";
		ev.reason = why;
		return refuse(&audit, &ev,
		    "refused: this connection did not "
		    "pass multi-factor authentication (pam_awsmfa)");
	}
	audit.verified = 1;
	gw_audit_prove_source(&audit, mk.rhost);
	ev.result = "ok";
	if (gw_audit_emit(&audit, &ev) != 0) {
		fprintf(stderr, "awsmfa-gateway: %s\n", NO_AUDIT);
		return 1;
	}

	/* A group that cannot be looked up denies: see groups.h. */
	if (gw_groups_load(pw->pw_name, pw->pw_gid, groups, &ngroups) != 0) {
		ev.event = "login";
		ev.result = "denied";
		ev.reason = "cannot look up the user's groups";
		return refuse(&audit, &ev,
		    "refused: your groups cannot be "
		    "looked up; see the system log");
	}
	subj.user = pw->pw_name;
	subj.groups = (const char *const *)groups;
	subj.ngroups = ngroups;

	gw_command_parse(startup.ssh_original_command, &cmd);
	memset(&ev, 0, sizeof(ev));
	switch (cmd.kind) {
	case GW_CMD_SHELL: {
		struct gw_verdict v;

		gw_policy_shell(&cfg.policy, &subj, &v);
		if (v.allow && (cfg.record_all_shells || v.rule->record)) {
			r = run_recorded_shell(&audit, &cfg, pw, &creator,
			    v.rule->line);
			break;
		}
		gw_rec_creator_stop(&creator);
		if (v.allow) {
			r = run_shell(&audit, pw);
			break;
		}
		ev.event = "shell";
		ev.result = "denied";
		ev.reason = "not allowed by policy";
		ev.rule_line = v.rule ? v.rule->line : 0;
		r = refuse(&audit, &ev,
		    "no shell for you on this bastion; "
		    "reach hosts with \"connect HOST PORT\" (for example "
		    "ProxyCommand ssh BASTION connect %h %p)");
		break;
	}
	case GW_CMD_CONNECT:
		gw_rec_creator_stop(&creator);
		r = run_connect(&audit, &cfg, &subj, &cmd);
		break;
	default:
		gw_rec_creator_stop(&creator);
		ev.event = "command";
		ev.result = "denied";
		ev.reason = cmd.why;
		ev.command = cmd.verb;
		snprintf(msg, sizeof(msg),
		    "%s; this bastion only accepts "
		    "\"connect HOST PORT\" or an interactive login",
		    cmd.why);
		r = refuse(&audit, &ev, msg);
		break;
	}
	gw_rec_creator_stop(&creator);
	gw_groups_free(groups, ngroups);
	gw_config_free(&cfg);
	if (audit.fd >= 0)
		close(audit.fd);
	return r;
}
