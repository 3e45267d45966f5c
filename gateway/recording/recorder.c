/*
 * awsmfa-recorder: the recorder of a recorded shell, under an account of
 * its own.  awsmfa-gateway runs it (never a person) when a shell must be
 * recorded; see awsmfa-recorder(8) and awsmfa-gateway(8), SESSION
 * RECORDING.
 *
 * Installed set-user-ID and set-group-ID to a system account that no user
 * is or shares (awsmfa-rec), it
 *  1. resets what its caller hands down (startup.c: descriptors 0-2,
 *     signals, limits, not dumpable, umask, environment): it is a set-id
 *     entry point that any local user can run by hand;
 *  2. makes the client's terminal (descriptor 0, sshd's pty) exclusive
 *     (TIOCEXCL), and, once the gateway is known to have started it,
 *     takes it back from everyone else (tty_revoke.h: the node made its
 *     own, every earlier descriptor hung up);
 *  3. creates the recording in the recording directory (root:awsmfa-rec,
 *     1730, checked on the descriptor), owned by its account, mode 0440,
 *     and writes the header; tells the gateway its name and waits for "go"
 *     (the gateway's audit record of it is written);
 *  4. runs the shell (recorded_shell.h): the shell's child takes the
 *     user's uid and gid, all three, before anything else; the recorder
 *     takes its account's, all three, and is made not dumpable again,
 *     before the shell starts: the user can then neither signal it
 *     (EPERM) nor trace it nor open its descriptors;
 *  5. copies and records until the shell's end, the client's hang-up, the
 *     recording's end (the gateway decides: recording_failure), or the
 *     gateway's end (its control socket closes); then how the session
 *     ended goes into the recording (a marker) and to the gateway, which
 *     writes shell_end; whether that record was written goes into the
 *     recording too, and the recorder exits.
 *
 * The process sshd waits on.  The gateway does not start the recorder in
 * a child: it forks, its child keeps the audit log and writes the audit
 * records (the "audit side"), and the process sshd started execs the
 * recorder.  So the session sshd keeps for the client lasts exactly as
 * long as the recorder, which the user can neither stop nor kill: when
 * the shell ends, the recorder exits and sshd closes the session, whatever
 * the user does to their own processes.  The audit side runs as the user,
 * who can stop or kill it:
 *  - killed (or its socket closed) during the session: the session ends
 *    at once (no audit trail, no session), the recording says so;
 *  - stopped: the recorder waits for its answers (the "go" before the
 *    shell, "continue" or "end" after a recording failure, the
 *    acknowledgement of shell_end) at most GW_CTL_ANSWER_MS, then takes
 *    the answer that ends the session, and says in the recording that the
 *    gateway did not answer;
 * and the client's terminal stays exclusive (TIOCEXCL) until sshd closes
 * it: the recorder never clears the flag for a session, so after the
 * shell's end no process of the user's opens the terminal either.
 *
 * The user's own: the user's uid is the real uid at exec, the user name
 * from it; the header's other fields (IAM user, source, sshd) and the size
 * limit come from the gateway, so it runs for no one else: its control
 * socket must have been made by this very process, before the exec, with
 * a group the user has not (from_gateway).  A person who runs it by hand
 * is refused, and so is a user in the recorder's group (who could read
 * every recording).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "audit_json.h"
#include "log.h"
#include "monotonic.h"
#include "recorded_shell.h"
#include "recorder_ctl.h"
#include "recording.h"
#include "recording_dir.h"
#include "setid/startup.h"
#include "tty_revoke.h"

static struct gw_startup startup;
static int exclusive; /* TIOCEXCL set on descriptor 0 */
static int trusted;   /* the control socket is the gateway's */

static void
syslog_sink(void *ctx, int priority, const char *msg)
{
	(void)ctx;
	syslog(priority, "%s", msg);
}

/*
 * A terminal that is not a session's (the recorder run by hand on the
 * caller's own) is given back as it was.  A session's stays exclusive:
 * sshd closes it when the recorder has exited, and until then nobody
 * opens it again.
 */
static void
release_tty(void)
{
	if (exclusive && !trusted)
		(void)ioctl(STDIN_FILENO, TIOCNXCL);
	exclusive = 0;
}

static int __attribute__((noreturn)) fail(const char *msg)
{
	release_tty();
	fprintf(stderr, "awsmfa-recorder: %s\n", msg);
	exit(1);
}

/*
 * The gateway's answer to what we said: the first message that is one of
 * `words' (a NULL-terminated list), waiting at most GW_CTL_ANSWER_MS in
 * all (its audit side runs as the user, who may stop it).  The message in
 * buf[GW_CTL_MAX]; -1 when none came (closed, or no answer in time).
 */
static int
answer(char *buf, const char *const *words)
{
	long long until = amfa_monotonic_ms() + GW_CTL_ANSWER_MS;
	const char *arg;

	for (;;) {
		long long left = until - amfa_monotonic_ms();

		if (left <= 0 ||
		    gw_ctl_recv(GW_CTL_FD, buf, (int)left, &arg) < 0)
			return -1;
		for (const char *const *w = words; *w != NULL; w++)
			if (gw_ctl_is(buf, *w))
				return 0;
	}
}

/*
 * No recording, no shell: say why to the gateway, which audits it, then
 * to the user, and end.  The user's message waits for the audit record
 * (at most GW_CTL_ANSWER_MS), so that the record precedes the end.
 */
static int __attribute__((noreturn)) refused(const char *why)
{
	char buf[GW_CTL_MAX];

	syslog(LOG_ERR, "uid %u: no recording: %s", (unsigned)getuid(), why);
	if (gw_ctl_send(GW_CTL_FD, "refused %s", why) == 0)
		(void)answer(buf, (const char *const[]){ "ok", NULL });
	release_tty();
	fprintf(stderr,
	    "awsmfa-gateway: refused: this session must be recorded and "
	    "cannot be; see the system log\n");
	exit(1);
}

/*
 * The gateway's "go" (the shell record is written) or "no MESSAGE" (it
 * is not: MESSAGE is the user's).  Its audit side may take its time (it
 * looks through /proc) and the user may stop it: no shell meanwhile, and
 * the wait ends when the client goes away (its side of descriptor 1 hangs
 * up).  0 for "go", -1 otherwise (told to the user).
 */
static int
wait_for_go(void)
{
	char buf[GW_CTL_MAX];
	const char *arg;

	for (;;) {
		struct pollfd p[2] = { { GW_CTL_FD, POLLIN, 0 },
			{ STDOUT_FILENO, 0, 0 } };

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (p[0].revents) {
			if (gw_ctl_recv(GW_CTL_FD, buf, 0, &arg) < 0)
				return -1;
			if (gw_ctl_is(buf, "go"))
				return 0;
			if (gw_ctl_is(buf, "no"))
				fprintf(stderr, "awsmfa-gateway: %s\n", arg);
			return -1;
		}
		if (p[1].revents & (POLLHUP | POLLERR))
			return -1;
	}
}

/* How the session ended, for the recording's last markers and syslog. */
static const char *
ending(const char *end)
{
	if (strcmp(end, "hangup") == 0)
		return "the client went away";
	if (strcmp(end, "gateway") == 0)
		return "the gateway was told to stop";
	if (strcmp(end, "gateway lost") == 0)
		return "the gateway's audit side is gone (no audit trail, no "
		       "session)";
	if (strcmp(end, "recording") == 0)
		return "it could not be recorded any further";
	return "an error";
}

/* A variable of the caller's environment (for the header). */
static const char *
caller_env(const char *name)
{
	size_t n = strlen(name);

	for (char **e = startup.env; e != NULL && *e != NULL; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

/* The recording ended early: the gateway audits it and decides. */
static int
recording_failed(void *ctx, const char *why)
{
	char buf[GW_CTL_MAX];

	(void)ctx;
	syslog(LOG_WARNING, "uid %u: the recording ended: %s",
	    (unsigned)getuid(), why);
	/* No answer (a stopped or dead gateway), or "stop": it ends. */
	if (gw_ctl_send(GW_CTL_FD, "failed %s", why) != 0 ||
	    answer(buf,
		(const char *const[]){ "continue", "end", "stop", NULL }) != 0)
		return -1;
	return gw_ctl_is(buf, "continue") ? 0 : -1;
}

static void
shell_started(pid_t pid)
{
	(void)gw_ctl_send(GW_CTL_FD, "shell %ld", (long)pid);
}

/* Is `g' one of the caller's groups (real, effective at exec, or
 * supplementary)? */
static int
in_group(gid_t g)
{
	int n = getgroups(0, NULL), found = 0;
	gid_t *list;

	if (g == getgid() || n < 0)
		return 1;
	/* On the heap: the caller's stack limit may be small. */
	if ((list = calloc((size_t)n + 1, sizeof(*list))) == NULL ||
	    (n = getgroups(n, list)) < 0)
		found = 1; /* cannot tell: as if it were */
	for (int i = 0; !found && i < n; i++)
		found = list[i] == g;
	free(list);
	return found;
}

/*
 * Was descriptor 3 made by the gateway that became us?  The gateway makes
 * the control socket while its effective group is its set-group-ID audit
 * group, and SO_PEERCRED gives the creator's process, user and effective
 * group as they were at socketpair(2).  A person who runs the recorder by
 * hand would otherwise choose its arguments (the size limit, the header's
 * IAM user and source) and answer its questions: a recording without
 * limit or audit record, in the recording directory.  So: this very
 * process made it before its exec (the gateway execs the recorder in the
 * process sshd started; its forked audit side holds the other end), as
 * the user, with a group that is not one of the user's.  A caller cannot
 * make such a socket without being the set-group-ID gateway, which execs
 * the recorder only with its own arguments, and cannot take one from a
 * gateway (close-on-exec, not dumpable).
 */
static int
from_gateway(const struct gw_ids *ids)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (getsockopt(GW_CTL_FD, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0 ||
	    len != sizeof(cr))
		return 0;
	return cr.pid == getpid() && cr.uid == ids->user &&
	    cr.gid != ids->rec_group && !in_group(cr.gid);
}

static unsigned long long
number(const char *s, unsigned long long max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v > max || *s == '-')
		refused("a bad number in the arguments");
	return v;
}

int
main(int argc, char **argv)
{
	const char *dir = NULL, *shell = NULL, *argv0 = NULL;
	char name[NAME_MAX + 1], host[256] = "", when[AMFA_AUDIT_TIME_LEN];
	char buf[GW_CTL_MAX], status[32], typed[4096];
	size_t typed_len = 0;
	struct gw_ids ids;
	struct gw_cast_header h;
	struct gw_recording rec;
	struct gw_session sess;
	struct gw_session_result res;
	struct gw_shell_spec spec;
	struct timespec now;
	struct passwd *pw;
	struct stat st;
	unsigned long long max = 0;
	int c, dirfd, fd, record_input = 0, tty;
	pid_t side = 0;

	if (gw_startup_sanitize(&startup) != 0) {
		fprintf(stderr, "awsmfa-recorder: cannot set up the process\n");
		return 1;
	}
	/* The client's terminal: nobody opens it again from now on. */
	if ((tty = isatty(STDIN_FILENO)) && ioctl(STDIN_FILENO, TIOCEXCL) == 0)
		exclusive = 1;
	/* Without one, no use for the capabilities (tty_revoke.h). */
	if (!tty && gw_caps_drop() != 0) {
		fprintf(stderr, "awsmfa-recorder: cannot drop capabilities\n");
		return 1;
	}
	memset(&h, 0, sizeof(h));
	ids.user = getuid();
	ids.user_group = getgid();
	ids.rec = geteuid();
	ids.rec_group = getegid();
	ids.ctl = GW_CTL_FD;
	ids.started = shell_started;
	if (ids.rec == ids.user || ids.rec == 0 || ids.rec_group == 0 ||
	    ids.rec_group == ids.user_group)
		fail("must be installed set-user-ID and set-group-ID to an "
		     "account of its own (see awsmfa-recorder(8))");
	if (fstat(GW_CTL_FD, &st) != 0 || !S_ISSOCK(st.st_mode))
		fail("for awsmfa-gateway's use only");
	if (!from_gateway(&ids)) {
		(void)gw_ctl_send(GW_CTL_FD,
		    "refused the control socket is not the gateway's (is "
		    "awsmfa-gateway installed set-group-ID?)");
		/* For the audit record to precede the end, as in refused(). */
		(void)answer(buf, (const char *const[]){ "ok", NULL });
		fprintf(stderr,
		    "awsmfa-gateway: refused: this session must be recorded "
		    "and cannot be; see the system log\n");
		fail("for awsmfa-gateway's use only");
	}
	trusted = 1;
	if (in_group(ids.rec_group)) {
		/* Its members could read every recording: a mistake. */
		fprintf(stderr,
		    "awsmfa-recorder: the user is in the recorder's group: no "
		    "member may be (see awsmfa-recorder(8))\n");
		refused("the user is in the recorder's group");
	}
	openlog("awsmfa-recorder", LOG_PID, LOG_AUTHPRIV);
	amfa_log_set_sink(syslog_sink, NULL);
	while ((c = getopt(argc, argv, "a:A:d:iI:m:p:P:s:S:")) != -1) {
		switch (c) {
		case 'A':
			side = (pid_t)number(optarg, INT_MAX);
			break;
		case 'a':
			argv0 = optarg;
			break;
		case 'd':
			dir = optarg;
			break;
		case 'i':
			record_input = 1;
			break;
		case 'I':
			h.iam_user = optarg;
			break;
		case 'm':
			max = number(optarg, ~0ULL);
			break;
		case 'p':
			h.sshd_pid = (long)number(optarg, LONG_MAX);
			break;
		case 'P':
			h.source_port = (unsigned)number(optarg, 65535);
			break;
		case 's':
			shell = optarg;
			break;
		case 'S':
			h.source = optarg;
			break;
		default:
			fail("bad arguments");
		}
	}
	if (optind != argc || dir == NULL || dir[0] != '/' || shell == NULL ||
	    argv0 == NULL || max == 0 || side <= 0 || side == getpid())
		refused("bad arguments");
	/*
	 * Every descriptor of the client's terminal opened before it was
	 * exclusive is hung up, and 0-2 hold a fresh one (tty_revoke.h);
	 * the capabilities that takes are gone after.  The audit side is
	 * the one other process its session may hold.
	 */
	if (tty && !exclusive)
		refused("cannot make the client's terminal exclusive");
	if (tty &&
	    gw_tty_revoke(side, typed, sizeof(typed), &typed_len, buf,
		sizeof(buf)) != 0)
		refused(buf);
	if ((pw = getpwuid(ids.user)) == NULL)
		refused("the user is not in the password database");

	/* The recording, ours (the account's), before any of the user's
	 * programs run. */
	if ((dirfd = gw_recdir_open(dir, 0, ids.rec_group)) < 0)
		refused("the recording directory is unusable (recording_dir)");
	fd = gw_recfile_create(dirfd, pw->pw_name, name, sizeof(name));
	close(dirfd);
	if (fd < 0) {
		snprintf(buf, sizeof(buf), "cannot create a recording: %s",
		    strerror(-fd));
		refused(buf);
	}
	gw_session_probe(&sess);
	sess.typeahead = typed;
	sess.typeahead_len = typed_len;
	clock_gettime(CLOCK_REALTIME, &now);
	(void)gethostname(host, sizeof(host) - 1);
	h.width = sess.ws.ws_col;
	h.height = sess.ws.ws_row;
	h.timestamp = (int64_t)now.tv_sec;
	h.term = caller_env("TERM");
	h.shell = shell;
	h.user = pw->pw_name;
	h.uid = (int64_t)ids.user;
	h.host = host[0] ? host : NULL;
	if (amfa_audit_time(&now, when) == 0)
		h.time = when;
	if (gw_recording_start(&rec, fd, max, record_input, &h) != 0) {
		snprintf(buf, sizeof(buf), "its header cannot be written: %s",
		    rec.failed);
		gw_recording_close(&rec);
		refused(buf);
	}
	if (gw_ctl_send(GW_CTL_FD, "created %s", name) != 0 ||
	    wait_for_go() != 0) {
		/* The gateway did not audit it (or refused): nothing runs. */
		(void)gw_recording_marker(&rec,
		    "no session: the gateway did not let the shell start");
		gw_recording_close(&rec);
		return 1;
	}

	/*
	 * From the session's end on, a hang-up or stop signal (the kernel's,
	 * at the client's terminal's hang-up; only root's otherwise) must not
	 * cut short what is left: the recording's last markers, the
	 * gateway's shell_end.  The shell gets the default dispositions
	 * (recorded_shell.c's handlers do not survive its exec).
	 */
	signal(SIGHUP, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	spec.path = shell;
	spec.argv0 = argv0;
	spec.env = startup.env;
	spec.startup = &startup;
	spec.ids = &ids;
	c = gw_session_run(&sess, &spec, &rec, recording_failed, NULL, &res);
	explicit_bzero(typed, sizeof(typed)); /* it may hold a password */
	if (c != 0) {
		(void)gw_recording_marker(&rec, "no session: an error");
		gw_recording_close(&rec);
		(void)gw_ctl_send(GW_CTL_FD, "end error 1 0 0");
		(void)answer(buf,
		    (const char *const[]){ "audited", "unaudited", NULL });
		fprintf(stderr, "awsmfa-gateway: cannot start the shell\n");
		return 1;
	}
	if (strcmp(res.end, "exit") == 0)
		snprintf(status, sizeof(status), "exit status %d", res.status);
	else
		snprintf(status, sizeof(status), "status %d", res.status);
	if (strcmp(res.end, "exit") == 0)
		(void)gw_recording_marker(&rec, status);
	else {
		snprintf(buf, sizeof(buf), "session ended: %s; %s",
		    ending(res.end), status);
		(void)gw_recording_marker(&rec, buf);
	}
	if (strcmp(res.end, "recording") == 0)
		fprintf(stderr,
		    "awsmfa-gateway: the session ended: it could not be "
		    "recorded any further (%s)\n",
		    rec.failed ? rec.failed : "see the system log");
	/*
	 * The gateway writes shell_end and says so; it runs as the user, who
	 * may have stopped or killed it: the end does not wait for it longer
	 * than GW_CTL_ANSWER_MS, and the recording says which it was.
	 */
	gw_ctl_drain(GW_CTL_FD);
	if (gw_ctl_send(GW_CTL_FD, "end %s %d %d %ld", res.end, res.status,
		res.shell_alive, (long)res.shell) != 0 ||
	    answer(buf,
		(const char *const[]){ "audited", "unaudited", NULL }) != 0) {
		(void)gw_recording_marker(&rec,
		    "shell_end not confirmed: the gateway did not answer "
		    "(stopped or gone); its record may be late or missing");
		syslog(LOG_WARNING,
		    "uid %u: %s: the session ended (%s, %s); the gateway did "
		    "not confirm its shell_end record",
		    (unsigned)ids.user, name,
		    strcmp(res.end, "exit") == 0 ? "exit" : ending(res.end),
		    status);
	} else
		(void)gw_recording_marker(&rec,
		    gw_ctl_is(buf, "audited") ? "shell_end audited" :
						"shell_end not audited");
	gw_recording_close(&rec);
	return res.status;
}
