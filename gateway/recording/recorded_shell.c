/* A recorded shell on a pty of the gateway's own; see recorded_shell.h. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <syslog.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "monotonic.h"
#include "recorded_shell.h"
#include "recorder_ctl.h"

/* Bytes read from the shell per event, at most. */
#define CHUNK (64 * 1024)
/* After the shell's exit: how long to wait for the last of its output. */
#define DRAIN_IDLE_MS  500
#define DRAIN_TOTAL_MS 3000
/* After a hang-up: how long the shell has to go before SIGKILL. */
#define HANGUP_GRACE_MS 2000

static volatile sig_atomic_t got_chld, got_winch, got_stop;

static void
on_signal(int sig)
{
	if (sig == SIGCHLD)
		got_chld = 1;
	else if (sig == SIGWINCH)
		got_winch = 1;
	else
		got_stop = sig;
}

static const int caught[] = { SIGCHLD, SIGWINCH, SIGHUP, SIGTERM, SIGINT,
	SIGQUIT };

void
gw_session_probe(struct gw_session *s)
{
	memset(s, 0, sizeof(*s));
	s->tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &s->orig) == 0;
	if (!s->tty || ioctl(STDIN_FILENO, TIOCGWINSZ, &s->ws) != 0 ||
	    s->ws.ws_col == 0 || s->ws.ws_row == 0) {
		s->ws.ws_col = 80;
		s->ws.ws_row = 24;
	}
}

/* Write all of it to a descriptor that may be non-blocking.  0 or -1. */
static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			struct pollfd pfd = { fd, POLLOUT, 0 };

			(void)poll(&pfd, 1, 1000);
			continue;
		}
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

struct loop {
	const struct gw_session *s;
	struct gw_recording *rec;
	gw_rec_failed_fn failed;
	void *ctx;
	struct gw_session_result *res;
	pid_t pid;
	int ctl;	    /* the gateway's control socket, or -1 */
	int master, slave;  /* tty mode */
	int in[2];	    /* pipe mode: the shell's stdin, write end in [1] */
	int out[2], err[2]; /* pipe mode: read ends in [0] */
	int ended;	    /* the gateway ends the session */
	char *buf;
	struct winsize ws; /* tty mode: the size last recorded */
};

/* A recording call's result: go on (0) or end the session (-1). */
static int
recorded(struct loop *l, int r)
{
	if (r == 0)
		return 0;
	l->res->recording_stopped = 1;
	if (l->failed(l->ctx, l->rec->failed) == 0)
		return 0;
	l->res->end = "recording";
	l->ended = 1;
	return -1;
}

/*
 * Copy what `fd' has (up to CHUNK, one event) to `to', recorded as
 * stream `stream'.  The bytes go to the client only once they are in the
 * recording (or the recording was given up).  >0 copied, 0 nothing there
 * now, -1 end of file or error, -2 the session must end.
 */
static int
copy_out(struct loop *l, int fd, int to, int stream)
{
	size_t got = 0;
	ssize_t n = 0;

	while (got < CHUNK) {
		n = read(fd, l->buf + got, CHUNK - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got == 0)
		return n < 0 && errno == EAGAIN ? 0 : -1;
	/*
	 * The shell's side may set its terminal's size too (stty cols N):
	 * output drawn for that size is recorded after it, or a playback
	 * draws it at the size last recorded.
	 */
	if (fd == l->master) {
		struct winsize ws;

		if (ioctl(l->master, TIOCGWINSZ, &ws) == 0 &&
		    (ws.ws_col != l->ws.ws_col || ws.ws_row != l->ws.ws_row)) {
			l->ws = ws;
			if (recorded(l,
				gw_recording_resize(l->rec, ws.ws_col,
				    ws.ws_row)) != 0)
				return -2;
		}
	}
	if (recorded(l, gw_recording_output(l->rec, stream, l->buf, got)) != 0)
		return -2;
	if (write_all(to, l->buf, got) != 0) {
		l->res->end = "hangup"; /* the client is gone */
		l->ended = 1;
		return -2;
	}
	return 1;
}

/*
 * The control socket has something: "stop" (the gateway was told to stop
 * by a signal) or its end (the gateway's audit side is gone: no audit
 * trail, no session) ends the session; so does anything else, which is
 * not expected now.
 */
static void
ctl_event(struct loop *l)
{
	char msg[GW_CTL_MAX];
	const char *arg;

	if (gw_ctl_recv(l->ctl, msg, 0, &arg) > 0)
		l->res->end = "gateway";
	else
		l->res->end = "gateway lost";
	l->ended = 1;
}

/*
 * Pipe mode: what the client sends (sshd's pipe, standard input) goes to
 * the shell's standard input through a pipe of the recorder's own, and is
 * recorded ("i", with record_input): the shell never holds sshd's pipe,
 * so nothing the user leaves behind reads the client around the recorder.
 * The client's end of file closes the shell's input.  0, or -1 when the
 * session must end.
 */
static int
pipe_input(struct loop *l, char *in, size_t *inlen, size_t *inoff)
{
	ssize_t n = read(STDIN_FILENO, in, 4096);

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0) {
		close(l->in[1]);
		l->in[1] = -1;
		return 0;
	}
	if (recorded(l, gw_recording_input(l->rec, in, (size_t)n)) != 0)
		return -1;
	*inlen = (size_t)n;
	*inoff = 0;
	return 0;
}

/* Pipe mode: pass on what is buffered; a shell that closed its standard
 * input gets no more. */
static void
pipe_feed(struct loop *l, const char *in, size_t *inlen, size_t *inoff)
{
	ssize_t w = write(l->in[1], in + *inoff, *inlen - *inoff);

	if (w > 0)
		*inoff += (size_t)w;
	else if (w < 0 && errno != EAGAIN && errno != EINTR) {
		close(l->in[1]);
		l->in[1] = -1;
		*inoff = *inlen;
	}
	if (*inoff == *inlen)
		*inlen = *inoff = 0;
}

static void
status_of(struct loop *l, int st)
{
	if (WIFEXITED(st))
		l->res->status = WEXITSTATUS(st);
	else if (WIFSIGNALED(st))
		l->res->status = 128 + WTERMSIG(st);
}

/* The shell's exit, if it has exited.  1 yes, 0 not yet. */
static int
reap(struct loop *l)
{
	int st;
	pid_t p;

	do
		p = waitpid(l->pid, &st, WNOHANG);
	while (p < 0 && errno == EINTR);
	if (p != l->pid)
		return 0;
	status_of(l, st);
	l->pid = 0;
	return 1;
}

/*
 * End the shell's session: the pty's hang-up (closing the master sends the
 * shell SIGHUP from the kernel), SIGHUP and SIGCONT, then SIGKILL.  The
 * recorder, whose ids are no longer the user's, may not signal the shell:
 * a shell that outlives the hang-up is left running (res->shell_alive) for
 * the gateway, which runs as the user, to kill.  Its terminal is hung up:
 * what it writes goes nowhere.
 */
static void
hang_up(struct loop *l)
{
	long long until = amfa_monotonic_ms() + HANGUP_GRACE_MS;

	if (l->pid <= 0)
		return;
	if (l->master >= 0) {
		close(l->master);
		l->master = -1;
	}
	if (l->slave >= 0) {
		close(l->slave);
		l->slave = -1;
	}
	(void)kill(-l->pid, SIGHUP);
	(void)kill(-l->pid, SIGCONT);
	while (amfa_monotonic_ms() < until) {
		if (reap(l))
			return;
		usleep(20000);
	}
	l->res->status = 128 + SIGHUP;
	if (kill(-l->pid, SIGKILL) != 0) {
		l->res->shell_alive = 1;
		return;
	}
	while (l->pid > 0 && waitpid(l->pid, NULL, 0) < 0 && errno == EINTR)
		;
	l->pid = 0;
}

/* After the shell's exit: the rest of its output, then the end. */
static void
drain_tty(struct loop *l)
{
	long long until = amfa_monotonic_ms() + DRAIN_TOTAL_MS;

	/* With no slave left open, a read past the data says EIO. */
	close(l->slave);
	l->slave = -1;
	while (amfa_monotonic_ms() < until) {
		struct pollfd pfd = { l->master, POLLIN, 0 };

		if (poll(&pfd, 1, DRAIN_IDLE_MS) <= 0)
			break;
		if (copy_out(l, l->master, STDOUT_FILENO, 1) < 0)
			break;
	}
}

static void
resize(struct loop *l)
{
	struct winsize ws;

	got_winch = 0;
	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) != 0 || ws.ws_col == 0 ||
	    ws.ws_row == 0)
		return;
	/* On the master, it reaches the shell's terminal and its SIGWINCH. */
	(void)ioctl(l->master, TIOCSWINSZ, &ws);
	l->ws = ws;
	(void)recorded(l, gw_recording_resize(l->rec, ws.ws_col, ws.ws_row));
}

static void
run_tty(struct loop *l, const sigset_t *open_mask)
{
	char in[4096];
	size_t inlen = 0, inoff = 0;
	int stdin_open = 1;

	if (l->s->typeahead_len > 0 && l->s->typeahead_len <= sizeof(in)) {
		memcpy(in, l->s->typeahead, l->s->typeahead_len);
		inlen = l->s->typeahead_len;
		if (recorded(l, gw_recording_input(l->rec, in, inlen)) != 0)
			return;
	}

	while (!l->ended) {
		struct pollfd p[3];
		int r;

		if (got_stop) {
			l->res->end = "hangup";
			l->ended = 1;
			break;
		}
		if (got_winch)
			resize(l);
		if (got_chld) {
			got_chld = 0;
			if (reap(l)) {
				drain_tty(l);
				l->res->end = "exit";
				return;
			}
		}
		p[0].fd = stdin_open && inlen == 0 ? STDIN_FILENO : -1;
		p[0].events = POLLIN;
		p[1].fd = l->master;
		p[1].events = (short)(POLLIN | (inlen > inoff ? POLLOUT : 0));
		p[2].fd = l->ctl;
		p[2].events = POLLIN;
		p[0].revents = p[1].revents = p[2].revents = 0;
		r = ppoll(p, 3, NULL, open_mask);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			l->res->end = "error";
			l->ended = 1;
			break;
		}
		if (p[2].revents) {
			ctl_event(l);
			break;
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR))
			if (copy_out(l, l->master, STDOUT_FILENO, 1) == -2)
				break;
		if ((p[1].revents & POLLOUT) && inlen > inoff) {
			ssize_t w = write(l->master, in + inoff, inlen - inoff);

			if (w > 0)
				inoff += (size_t)w;
			if (inoff == inlen)
				inlen = inoff = 0;
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = read(STDIN_FILENO, in, sizeof(in));

			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0) {
				/* The client's terminal is gone: hang up. */
				stdin_open = 0;
				l->res->end = "hangup";
				l->ended = 1;
				break;
			}
			if (recorded(l,
				gw_recording_input(l->rec, in, (size_t)n)) != 0)
				break;
			inlen = (size_t)n;
			inoff = 0;
		}
	}
}

static void
run_pipes(struct loop *l, const sigset_t *open_mask)
{
	char in[4096];
	size_t inlen = 0, inoff = 0;

	while (!l->ended) {
		struct pollfd p[6];
		int r;

		if (got_stop) {
			l->res->end = "hangup";
			l->ended = 1;
			break;
		}
		if (got_chld) {
			got_chld = 0;
			(void)reap(l);
		}
		if (l->out[0] < 0 && l->err[0] < 0) {
			/* Both ends closed: wait for the exit itself. */
			if (l->pid <= 0)
				break;
			while (l->pid > 0 && !got_stop) {
				int st;
				pid_t w = waitpid(l->pid, &st, 0);

				if (w == l->pid) {
					status_of(l, st);
					l->pid = 0;
				} else if (w < 0 && errno != EINTR)
					break;
			}
			continue;
		}
		p[0].fd = l->out[0];
		p[1].fd = l->err[0];
		p[2].fd = l->ctl;
		p[0].events = p[1].events = p[2].events = POLLIN;
		/* The client's input, while the shell's pipe takes it. */
		p[3].fd = l->in[1] >= 0 && inlen == 0 ? STDIN_FILENO : -1;
		p[3].events = POLLIN;
		p[4].fd = l->in[1] >= 0 && inlen > 0 ? l->in[1] : -1;
		p[4].events = POLLOUT;
		/* Watched for nothing but its end: the client went away. */
		p[5].fd = STDOUT_FILENO;
		p[5].events = 0;
		for (int i = 0; i < 6; i++)
			p[i].revents = 0;
		r = ppoll(p, 6, NULL, open_mask);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			l->res->end = "error";
			l->ended = 1;
			break;
		}
		if (p[2].revents) {
			ctl_event(l);
			return;
		}
		if (p[5].revents & (POLLHUP | POLLERR)) {
			l->res->end = "hangup";
			l->ended = 1;
			return;
		}
		if ((p[3].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    pipe_input(l, in, &inlen, &inoff) != 0)
			return;
		if ((p[4].revents & (POLLOUT | POLLERR)) && l->in[1] >= 0 &&
		    inlen > 0)
			pipe_feed(l, in, &inlen, &inoff);
		for (int i = 0; i < 2; i++) {
			int *fd = i == 0 ? &l->out[0] : &l->err[0];

			if (*fd < 0 ||
			    !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			r = copy_out(l, *fd,
			    i == 0 ? STDOUT_FILENO : STDERR_FILENO, i + 1);
			if (r == -2)
				return;
			if (r == -1) {
				close(*fd);
				*fd = -1;
			}
		}
	}
	if (!l->ended)
		l->res->end = "exit";
}

/* All three ids, or nothing: 0 or -1. */
static int
become(uid_t u, gid_t g)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (setresgid(g, g, g) != 0 || setresuid(u, u, u) != 0 ||
	    getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0)
		return -1;
	return ru == u && eu == u && su == u && rg == g && eg == g && sg == g ?
	    0 :
	    -1;
}

/*
 * The shell's side.  With ids, it is the user's for good at once (allowed:
 * the user is the real uid of a set-user-ID exec), then waits on `sync'
 * until the recorder has taken its own ids: no shell runs while the user
 * could still signal the recorder.
 */
static void __attribute__((noreturn))
child(const struct loop *l, const struct gw_shell_spec *sh, int sync)
{
	sigset_t none;
	ssize_t n;
	char go;

	/* The change of ids resets "dumpable" to fs.suid_dumpable (1 would
	 * let the user trace this child, which holds the client's terminal,
	 * the recording and the pty master until the exec): cleared again;
	 * the shell's exec sets it. */
	if (sh->ids != NULL &&
	    (become(sh->ids->user, sh->ids->user_group) != 0 ||
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0))
		_exit(127);
	while ((n = read(sync, &go, 1)) < 0 && errno == EINTR)
		;
	if (n != 1 || setsid() < 0)
		_exit(127);
	if (l->s->tty) {
		if (ioctl(l->slave, TIOCSCTTY, 0) != 0 ||
		    dup2(l->slave, STDIN_FILENO) < 0 ||
		    dup2(l->slave, STDOUT_FILENO) < 0 ||
		    dup2(l->slave, STDERR_FILENO) < 0)
			_exit(127);
	} else if (dup2(l->in[0], STDIN_FILENO) < 0 ||
	    dup2(l->out[1], STDOUT_FILENO) < 0 ||
	    dup2(l->err[1], STDERR_FILENO) < 0)
		_exit(127);
	/* The recording, the audit log, the pty master: none goes on. */
	close_range(3, ~0U, 0);
	gw_startup_restore(sh->startup);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(sh->path, (char *[]){ (char *)sh->argv0, NULL }, sh->env);
	dprintf(STDERR_FILENO, "awsmfa-gateway: cannot run %s: %s\r\n",
	    sh->path, strerror(errno));
	_exit(127);
}

static int
open_pty(struct loop *l)
{
	char name[128];

	l->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (l->master < 0 || grantpt(l->master) != 0 ||
	    unlockpt(l->master) != 0 ||
	    ptsname_r(l->master, name, sizeof(name)) != 0)
		return -1;
	/* Kept open by the gateway too, so the master never sees a hang-up
	 * before the shell has its terminal; closed after the shell's exit. */
	l->slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (l->slave < 0 || tcsetattr(l->slave, TCSANOW, &l->s->orig) != 0 ||
	    ioctl(l->slave, TIOCSWINSZ, &l->s->ws) != 0)
		return -1;
	return fcntl(l->master, F_SETFL, O_NONBLOCK);
}

/* The pty as the user's (devpts gives the new terminal the opener's file
 * system uid and gid): the shell's terminal is theirs, as sshd's is. */
static int
open_pty_as(struct loop *l, const struct gw_ids *ids)
{
	int r;

	if (ids == NULL)
		return open_pty(l);
	(void)setfsgid(ids->user_group);
	(void)setfsuid(ids->user);
	r = open_pty(l);
	(void)setfsuid(geteuid());
	(void)setfsgid(getegid());
	if ((uid_t)setfsuid((uid_t)-1) != geteuid() ||
	    (gid_t)setfsgid((gid_t)-1) != getegid())
		return -1;
	return r;
}

/* A child that must not start the shell: without its byte on `sync' it
 * exits by itself (the recorder may no longer be allowed to kill it). */
static void
stop_child(struct loop *l, int sync[2])
{
	close(sync[1]);
	sync[1] = -1;
	(void)kill(l->pid, SIGKILL);
	while (waitpid(l->pid, NULL, 0) < 0 && errno == EINTR)
		;
	l->pid = 0;
}

int
gw_session_run(const struct gw_session *s, const struct gw_shell_spec *sh,
    struct gw_recording *rec, gw_rec_failed_fn failed, void *ctx,
    struct gw_session_result *res)
{
	struct loop l = { .s = s,
		.rec = rec,
		.failed = failed,
		.ctx = ctx,
		.res = res,
		.ctl = sh->ids ? sh->ids->ctl : -1,
		.master = -1,
		.slave = -1,
		.in = { -1, -1 },
		.out = { -1, -1 },
		.err = { -1, -1 },
		.ws = s->ws };
	struct sigaction sa, saved[sizeof(caught) / sizeof(caught[0])];
	sigset_t block, open_mask;
	struct termios raw;
	int sync[2] = { -1, -1 };
	int r = -1;

	memset(res, 0, sizeof(*res));
	res->status = 1;
	res->end = "error";
	if ((l.buf = malloc(CHUNK)) == NULL)
		return -1;
	if (s->tty ?
		open_pty_as(&l, sh->ids) != 0 :
		pipe2(l.in, O_CLOEXEC) != 0 || pipe2(l.out, O_CLOEXEC) != 0 ||
		    pipe2(l.err, O_CLOEXEC) != 0 ||
		    fcntl(l.in[1], F_SETFL, O_NONBLOCK) != 0 ||
		    fcntl(l.out[0], F_SETFL, O_NONBLOCK) != 0 ||
		    fcntl(l.err[0], F_SETFL, O_NONBLOCK) != 0) {
		amfa_log(LOG_ERR, "recorded shell: cannot set up the %s: %s",
		    s->tty ? "pseudo-terminal" : "pipes", strerror(errno));
		goto out;
	}
	got_chld = got_winch = got_stop = 0;
	sigemptyset(&block);
	for (size_t i = 0; i < sizeof(caught) / sizeof(caught[0]); i++)
		sigaddset(&block, caught[i]);
	sigprocmask(SIG_BLOCK, &block, &open_mask);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(caught) / sizeof(caught[0]); i++)
		sigaction(caught[i], &sa, &saved[i]);

	if (pipe2(sync, O_CLOEXEC) != 0 || (l.pid = fork()) < 0) {
		amfa_log(LOG_ERR, "recorded shell: fork: %s", strerror(errno));
		l.pid = 0;
		goto restore;
	}
	if (l.pid == 0)
		child(&l, sh, sync[0]);
	close(sync[0]);
	sync[0] = -1;
	res->shell = l.pid;
	/*
	 * The recorder's own ids, all three, before the shell may start: from
	 * now on the user cannot signal it (kill(2) compares the sender's ids
	 * with the target's real and saved uid) nor trace it (not dumpable;
	 * a change of ids resets that flag to fs.suid_dumpable, so it is
	 * cleared again).
	 */
	if (sh->ids != NULL &&
	    (become(sh->ids->rec, sh->ids->rec_group) != 0 ||
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)) {
		amfa_log(LOG_ERR,
		    "recorded shell: cannot take the recorder's "
		    "identity: %s",
		    strerror(errno));
		stop_child(&l, sync);
		goto restore;
	}
	if (sh->ids != NULL && sh->ids->started != NULL)
		sh->ids->started(l.pid);
	if (write(sync[1], "g", 1) != 1) {
		stop_child(&l, sync);
		goto restore;
	}
	close(sync[1]);
	sync[1] = -1;
	r = 0;
	if (s->tty) {
		raw = s->orig;
		cfmakeraw(&raw);
		(void)tcsetattr(STDIN_FILENO, TCSADRAIN, &raw);
		run_tty(&l, &open_mask);
		(void)tcsetattr(STDIN_FILENO, TCSADRAIN, &s->orig);
	} else {
		close(l.in[0]);
		close(l.out[1]);
		close(l.err[1]);
		l.in[0] = l.out[1] = l.err[1] = -1;
		run_pipes(&l, &open_mask);
	}
	if (l.pid > 0)
		hang_up(&l);
	if (l.ended && strcmp(res->end, "recording") == 0)
		res->status = 1;
restore:
	for (int i = 0; i < 2; i++)
		if (sync[i] >= 0)
			close(sync[i]);
	/*
	 * The caller's dispositions back before the mask: a hang-up that
	 * came after the loop's end is still pending, and must not kill a
	 * caller that ignores it (the recorder, which has its bookkeeping to
	 * finish).
	 */
	for (size_t i = 0; i < sizeof(caught) / sizeof(caught[0]); i++)
		sigaction(caught[i], &saved[i], NULL);
	sigprocmask(SIG_SETMASK, &open_mask, NULL);
out:
	if (l.master >= 0)
		close(l.master);
	if (l.slave >= 0)
		close(l.slave);
	for (int i = 0; i < 2; i++) {
		if (l.in[i] >= 0)
			close(l.in[i]);
		if (l.out[i] >= 0)
			close(l.out[i]);
		if (l.err[i] >= 0)
			close(l.err[i]);
	}
	free(l.buf);
	return r;
}
