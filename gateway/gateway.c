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
 * rules) are run by awsmfa-recorder (recorder.c), set-user-ID to an account
 * of its own so that the user can neither stop it nor reach the client's
 * terminal around it; the gateway starts it in a child, audits what it
 * reports over a control socket (recorder_ctl.h) and keeps no descriptor
 * of the client's terminal meanwhile.  A shell that must be recorded and
 * cannot be does not start.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "audit_chain.h"
#include "audit_json.h"
#include "audit_writer.h"
#include "command.h"
#include "config.h"
#include "dial.h"
#include "gate_marker.h"
#include "groups.h"
#include "gwconf.h"
#include "log.h"
#include "monotonic.h"
#include "policy.h"
#include "recording/recorder_ctl.h"
#include "recording/tty_holders.h"
#include "relay.h"
#include "setid/startup.h"

static volatile sig_atomic_t stop_relay;
static struct gw_startup startup;
/* The recorder's control socket (see main); -1 when there is none. */
static int rec_ctl[2] = { -1, -1 };

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

/*
 * The recorder: awsmfa-recorder (recorder.c), set-user-ID to an account of
 * its own, exec'd in this process (the one sshd waits on), with the
 * client's terminal as 0-2, the control socket as 3, the caller's
 * environment, signals, limits and umask back; `side' is the audit side's
 * pid (the one process the recorder lets share its session).  Never
 * returns.
 */
static void __attribute__((noreturn))
exec_recorder(const struct gw_config *cfg, const struct gw_audit *a,
    const char *shell, const char *argv0, int ctl, pid_t side)
{
	char max[32], port[16], sshd[32], audit[32], buf[GW_CTL_MAX];
	const char *argv[24], *path, *arg;
	size_t n = 0;
	int e;

	snprintf(max, sizeof(max), "%llu", cfg->recording_max_size);
	snprintf(port, sizeof(port), "%u", a->src_port);
	snprintf(sshd, sizeof(sshd), "%ld", a->sshd_pid);
	snprintf(audit, sizeof(audit), "%ld", (long)side);
	argv[n++] = "awsmfa-recorder";
	argv[n++] = "-A";
	argv[n++] = audit;
	argv[n++] = "-d";
	argv[n++] = cfg->recording_dir;
	argv[n++] = "-m";
	argv[n++] = max;
	argv[n++] = "-s";
	argv[n++] = shell;
	argv[n++] = "-a";
	argv[n++] = argv0;
	if (cfg->record_input)
		argv[n++] = "-i";
	if (a->iam_user) {
		argv[n++] = "-I";
		argv[n++] = a->iam_user;
	}
	if (a->src_addr) {
		argv[n++] = "-S";
		argv[n++] = a->src_addr;
		argv[n++] = "-P";
		argv[n++] = port;
	}
	if (a->sshd_pid > 0) {
		argv[n++] = "-p";
		argv[n++] = sshd;
	}
	argv[n] = NULL;
	path = cfg->recorder ? cfg->recorder : GW_RECORDER_PATH;
	closelog();
	if ((ctl == GW_CTL_FD || dup2(ctl, GW_CTL_FD) == GW_CTL_FD) &&
	    fcntl(GW_CTL_FD, F_SETFD, 0) == 0) {
		/* The audit log and everything else stay with the audit side. */
		close_range(GW_CTL_FD + 1, ~0U, 0);
		gw_startup_restore(&startup);
		execve(path, (char **)argv, startup.env);
	}
	e = errno;
	/* The audit side audits it; the user hears of it after that. */
	signal(SIGPIPE, SIG_IGN);
	if (gw_ctl_send(GW_CTL_FD, "refused cannot run the recorder %s: %s",
		path, strerror(e)) == 0)
		(void)gw_ctl_recv(GW_CTL_FD, buf, GW_CTL_ANSWER_MS, &arg);
	fprintf(stderr, "awsmfa-gateway: %s\n", NO_RECORDING);
	_exit(1);
}

/*
 * Send `sig' to every process of the session `sid' (the shell's: it is
 * a session leader) that /proc shows; how many there were.
 */
static int
signal_session(pid_t sid, int sig)
{
	char path[64], buf[512], *p;
	struct dirent *d;
	DIR *dir;
	int n = 0;

	if ((dir = opendir("/proc")) == NULL)
		return 0;
	while ((d = readdir(dir)) != NULL) {
		long pid = strtol(d->d_name, &p, 10);
		long fields[4];
		FILE *f;

		if (*p != '\0' || pid <= 1)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
		if ((f = fopen(path, "re")) == NULL)
			continue;
		p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
		fclose(f);
		/* ") STATE PPID PGRP SESSION" */
		if (p == NULL ||
		    sscanf(p + 1, " %*c %ld %ld %ld", &fields[0], &fields[1],
			&fields[2]) != 3 ||
		    fields[2] != (long)sid)
			continue;
		if (kill((pid_t)pid, sig) == 0)
			n++;
	}
	closedir(dir);
	return n;
}

/*
 * After the recorder: a shell that outlived its hang-up (the recorder may
 * not signal it) or a recorder that died (its pty master closed, the shell
 * hung up).  The shell's session is the user's, and so is the gateway:
 * SIGHUP and SIGCONT to all of it, then SIGKILL to what is left.  A
 * process that left the session (setsid) is not found: its terminal is
 * the hung-up pty all the same.
 */
static void
end_session(pid_t sid)
{
	if (sid <= 1)
		return;
	(void)signal_session(sid, SIGHUP);
	(void)signal_session(sid, SIGCONT);
	for (int i = 0; i < 50 && signal_session(sid, 0) > 0; i++)
		usleep(20000);
	for (int i = 0; i < 5 && signal_session(sid, SIGKILL) > 0; i++)
		usleep(20000);
}

/*
 * The audit side of a recorded shell: the gateway's child, which keeps the
 * audit log while its parent, the process sshd waits on, has become the
 * recorder.  It holds no descriptor of the client's (0-2 are /dev/null),
 * answers the recorder over `ctl' (recorder_ctl.h) and writes the shell,
 * recording and shell_end records.  It runs as the user, who may stop or
 * kill it: the recorder then ends the session without waiting for it
 * (recorder.c), and the recording says so.  Returns the exit status of
 * this process, which no one waits for.
 */
static int
audit_side(const struct gw_audit *a, const struct gw_config *cfg, int ctl,
    unsigned rule_line, const struct stat *client, int nclient)
{
	char path[PATH_MAX + 1], msg[GW_CTL_MAX], how[32] = "error", hname[64];
	const char *arg;
	struct gw_event ev = { .event = "shell",
		.result = "error",
		.rule_line = rule_line };
	struct rec_ctx rc = { .a = a, .cfg = cfg };
	int status = 1, alive = 0, ended = 0, audited;
	long shell_pid = 0;
	struct sigaction sa;
	pid_t holder = 0;

	if (gw_ctl_recv(ctl, msg, -1, &arg) < 0 || !gw_ctl_is(msg, "created")) {
		snprintf(rc.reason, sizeof(rc.reason),
		    "recording required, but no recording can be made: %s",
		    gw_ctl_is(msg, "refused") ? arg : "the recorder ended");
		ev.reason = rc.reason;
		gw_audit_emit(a, &ev);
		(void)gw_ctl_send(ctl, "ok");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/%s", cfg->recording_dir, arg);
	ev.recording = path;
	/*
	 * The terminal is exclusive now (the recorder's first act): does a
	 * process the user can reach hold it (or, without one, sshd's pipes)
	 * still?  Then output could go around the recorder: the shell does
	 * not start (tty_holders.h).  Neither this process (0-2 are
	 * /dev/null) nor the recorder (not the user's) counts.
	 */
	for (int i = 0; i < nclient && holder <= 0; i++)
		holder = gw_holder_of(&client[i], getpid(), hname,
		    sizeof(hname));
	if (holder > 0) {
		snprintf(rc.reason, sizeof(rc.reason),
		    "recording required, but the client's terminal is held by "
		    "process %ld (%s), which the user can reach (is the "
		    "ForceCommand \"exec /usr/bin/awsmfa-gateway\"?)",
		    (long)holder, hname);
		ev.reason = rc.reason;
		syslog(LOG_ERR, "user %s: %s", a->user, rc.reason);
		gw_audit_emit(a, &ev);
		(void)gw_ctl_send(ctl, "no %s", NO_RECORDING);
		return 1;
	}
	ev.result = "ok";
	if (strchr(arg, '/') != NULL || gw_audit_emit(a, &ev) != 0) {
		(void)gw_ctl_send(ctl, "no %s", NO_AUDIT);
		return 1;
	}
	/*
	 * sshd's SIGHUP or SIGTERM (or the terminal's hang-up) must not end
	 * this process before its shell_end record: they become "stop" to
	 * the recorder, which ends the session.
	 */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	(void)gw_ctl_send(ctl, "go");
	rc.path = path;
	for (;;) {
		int n;

		if (stop_relay == 1) {
			stop_relay = 2;
			(void)gw_ctl_send(ctl, "stop");
		}
		if ((n = gw_ctl_recv(ctl, msg, 200, &arg)) == -2)
			continue;
		if (n < 0)
			break;
		if (gw_ctl_is(msg, "failed")) {
			(void)gw_ctl_send(ctl, "%s",
			    recording_failed(&rc, arg) == 0 ?
				"continue" :
				"end");
			continue;
		}
		if (gw_ctl_is(msg, "shell")) {
			shell_pid = strtol(arg, NULL, 10);
			continue;
		}
		if (gw_ctl_is(msg, "end") &&
		    sscanf(arg, "%31s %d %d %ld", how, &status, &alive,
			&shell_pid) == 4) {
			ended = 1;
			break;
		}
	}
	memset(&ev, 0, sizeof(ev));
	ev.event = "shell_end";
	ev.recording = path;
	if (!ended) {
		/* No "end": the recorder died (killed, out of memory). */
		syslog(LOG_ERR, "user %s: %s: the recorder ended", a->user,
		    path);
		ev.result = "error";
		ev.reason = "recorder";
	} else {
		/* "gateway lost" is ours: the socket closed on our side. */
		if (strcmp(how, "exit") == 0)
			ev.result = "ok";
		else if (strcmp(how, "hangup") == 0 ||
		    (strcmp(how, "gateway") == 0 && stop_relay))
			ev.result = "interrupted";
		else
			ev.result = "error";
		ev.reason = how;
		ev.has_status = 1;
		ev.exit_status = status;
	}
	audited = gw_audit_emit(a, &ev) == 0;
	if (!audited && status == 0)
		status = 1;
	/* Too late for the recorder (this process was stopped): it has
	 * ended the session and said so in the recording. */
	if (ended &&
	    gw_ctl_send(ctl, "%s", audited ? "audited" : "unaudited") != 0)
		syslog(LOG_WARNING,
		    "user %s: %s: shell_end written after the session's end "
		    "(the gateway was stopped)",
		    a->user, path);
	close(ctl);
	if (alive || !ended)
		end_session((pid_t)shell_pid);
	return status;
}

/*
 * A recorded shell.  The process sshd started and waits on becomes the
 * recorder, set-user-ID to an account of its own, which the user can
 * neither stop nor kill: the session lasts exactly as long as the
 * recorded shell, whatever the user does to their own processes (this
 * process, its audit side, anything left behind).  Its forked child keeps
 * the audit log and writes the records (audit_side).  See recorder.c.
 */
static int
run_recorded_shell(const struct gw_audit *a, const struct gw_config *cfg,
    const struct passwd *pw, unsigned rule_line)
{
	char argv0[PATH_MAX + 1];
	const char *shell;
	struct gw_event ev = { .event = "shell",
		.result = "error",
		.rule_line = rule_line };
	struct stat client[3];
	int sv[2], null, nclient = 0;
	pid_t pid;

	if (login_shell(a, &ev, pw, &shell, argv0, sizeof(argv0)) != 0)
		return 1;
	/* Made in main() with the audit group (the recorder checks it). */
	sv[0] = rec_ctl[0];
	sv[1] = rec_ctl[1];
	rec_ctl[0] = rec_ctl[1] = -1;
	/* What the client's side is, for the audit side's look at /proc. */
	for (int fd = 0; fd <= 2; fd++)
		if (fstat(fd, &client[nclient]) == 0 &&
		    (S_ISCHR(client[nclient].st_mode) ?
			    isatty(fd) :
			    S_ISFIFO(client[nclient].st_mode) ||
				S_ISSOCK(client[nclient].st_mode)))
			nclient++;
	if (sv[0] < 0 || (pid = fork()) < 0) {
		ev.reason = "recording required, but the recorder cannot be "
			    "started";
		return refuse(a, &ev, NO_RECORDING);
	}
	if (pid > 0) {
		close(sv[0]);
		if (a->fd >= 0)
			close(a->fd);
		exec_recorder(cfg, a, shell, argv0, sv[1], pid);
	}
	/* The client's side is the recorder's: none of it stays here. */
	close(sv[1]);
	if ((null = open("/dev/null", O_RDWR | O_NOCTTY)) < 0) {
		(void)gw_ctl_send(sv[0], "no internal error");
		return 1;
	}
	for (int fd = 0; fd <= 2; fd++)
		if (dup2(null, fd) != fd) {
			(void)gw_ctl_send(sv[0], "no internal error");
			return 1;
		}
	if (null > 2)
		close(null);
	return audit_side(a, cfg, sv[0], rule_line, client, nclient);
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
	int c, test = 0, r, chained;

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
	audit.writer_fd = -1;
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
	/*
	 * The recorder's control socket, made now, with the audit group as
	 * the effective one: its peer credentials (SO_PEERCRED, fixed at
	 * socketpair(2)) carry that group, which the user has not, and the
	 * recorder runs for no caller whose socket lacks it (recorder.c).
	 */
	if (cfg.recording_dir != NULL) {
		if (setegid(audit_gid) != 0)
			drop_group();
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
			rec_ctl) != 0)
			rec_ctl[0] = rec_ctl[1] = -1;
	}
	if (cfg.audit_log != NULL) {
		if (setegid(audit_gid) != 0)
			drop_group();
		/* A chained log (it has a head, audit_chain.h) is written by
		 * its root writer: connected now, with the audit group as the
		 * effective one, which the writer checks (audit_writer.h). */
		chained = amfa_chain_exists(cfg.audit_log);
		audit.fd = gw_audit_open(cfg.audit_log, 0, chained);
		if (audit.fd >= 0 && chained &&
		    (audit.writer_fd = amfa_audit_writer_connect(
			 cfg.audit_log)) < 0) {
			close(audit.fd);
			audit.fd = -1;
		}
		if (audit.fd < 0) {
			drop_group();
			/* No audit trail, no service. */
			ev.reason = "audit log unusable";
			return refuse(&audit, &ev,
			    "the audit log is unusable; "
			    "see the system log");
		}
	}
	drop_group();
	/* A change of ids resets "dumpable" to fs.suid_dumpable: again. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
		fprintf(stderr, "awsmfa-gateway: internal error\n");
		return 1;
	}

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
			r = run_recorded_shell(&audit, &cfg, pw, v.rule->line);
			break;
		}
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
