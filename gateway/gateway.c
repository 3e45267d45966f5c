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
 */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "audit.h"
#include "command.h"
#include "config.h"
#include "dial.h"
#include "gate_marker.h"
#include "groups.h"
#include "gwconf.h"
#include "log.h"
#include "monotonic.h"
#include "policy.h"
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

static int
run_shell(const struct gw_audit *a, const struct passwd *pw)
{
	char self[PATH_MAX], target[PATH_MAX], argv0[PATH_MAX + 1];
	const char *shell = pw->pw_shell && *pw->pw_shell ?
	    pw->pw_shell :
	    "/bin/sh";
	const char *base = strrchr(shell, '/') ?
	    strrchr(shell, '/') + 1 :
	    shell;
	struct gw_event ev = { .event = "shell", .result = "ok" };
	ssize_t n;

	/* A gateway as login shell would start itself over and over. */
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		if (realpath(shell, target) != NULL &&
		    strcmp(self, target) == 0) {
			ev.result = "error";
			ev.reason = "the login shell is the gateway itself";
			return refuse(a, &ev, "no usable login shell");
		}
	}
	if (gw_audit_emit(a, &ev) != 0) {
		fprintf(stderr, "awsmfa-gateway: %s\n", NO_AUDIT);
		return 1;
	}
	/* A login shell, as sshd starts one: "-" before its name. */
	snprintf(argv0, sizeof(argv0), "-%s", base);
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
	int c, test = 0, r;

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
	if (cfg.audit_log != NULL) {
		if (setegid(audit_gid) != 0)
			drop_group();
		audit.fd = gw_audit_open(cfg.audit_log, 0);
		drop_group();
		if (audit.fd < 0) {
			/* No audit trail, no service. */
			ev.reason = "audit log unusable";
			return refuse(&audit, &ev,
			    "the audit log is unusable; "
			    "see the system log");
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
		r = run_connect(&audit, &cfg, &subj, &cmd);
		break;
	default:
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
	gw_groups_free(groups, ngroups);
	gw_config_free(&cfg);
	if (audit.fd >= 0)
		close(audit.fd);
	return r;
}
