/* The byte relay; see relay.h. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "relay.h"

#define PIPE_SIZE (1024 * 1024) /* the unprivileged maximum */
#define COPY_SIZE (256 * 1024)

/* One direction. */
struct flow {
	int from, to;
	int p[2];      /* the splice pipe */
	size_t cap;    /* its capacity */
	size_t queued; /* bytes in it */
	int copy;      /* read/write instead of splice */
	char *buf;     /* copy mode */
	size_t off, len;
	int eof;       /* nothing more from `from' */
	int done;      /* `to' has been half-closed */
	int lost_from; /* `from' failed (reset), not an EOF */
	int lost_to;   /* `to' went away (EPIPE, reset) */
	uint64_t bytes;
};

static int
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int
flow_init(struct flow *f, int from, int to)
{
	int sz;

	memset(f, 0, sizeof(*f));
	f->from = from;
	f->to = to;
	if (pipe2(f->p, O_NONBLOCK | O_CLOEXEC) != 0) {
		/* No pipe to splice through: read/write from the start. */
		f->p[0] = f->p[1] = -1;
		if ((f->buf = malloc(COPY_SIZE)) == NULL)
			return -1;
		f->copy = 1;
	} else {
		/* A bigger pipe means fewer, larger splices. */
		(void)fcntl(f->p[1], F_SETPIPE_SZ, PIPE_SIZE);
		sz = fcntl(f->p[1], F_GETPIPE_SZ);
		f->cap = sz > 0 ? (size_t)sz : 65536;
	}
	return 0;
}

static void
flow_free(struct flow *f)
{
	if (f->p[0] >= 0)
		close(f->p[0]);
	if (f->p[1] >= 0)
		close(f->p[1]);
	free(f->buf);
}

/*
 * Pass the end of file on.  A socket is shut for writing (the other
 * direction stays open); anything else is replaced by /dev/null, which
 * closes it without freeing its descriptor number for reuse.
 */
static void
half_close(int fd, int devnull)
{
	if (shutdown(fd, SHUT_WR) == 0 || errno != ENOTSOCK)
		return;
	if (devnull >= 0)
		dup2(devnull, fd);
	else
		close(fd);
}

/* The receiver is gone: stop taking data for it. */
static void
cut(struct flow *f)
{
	f->lost_to = 1;
	f->eof = 1;
	f->done = 1;
	f->queued = 0;
	f->len = 0;
	(void)shutdown(f->from, SHUT_RD);
}

static int
to_copy_mode(struct flow *f)
{
	if ((f->buf = malloc(COPY_SIZE)) == NULL)
		return -1;
	f->copy = 1;
	f->off = f->len = 0;
	return 0;
}

static int
is_wait(int e)
{
	return e == EAGAIN || e == EWOULDBLOCK || e == EINTR;
}

/* Splice as far as possible.  Returns whether anything happened. */
static int
pump_splice(struct flow *f)
{
	ssize_t n;
	int moved = 0;

	if (!f->eof && f->queued < f->cap) {
		n = splice(f->from, NULL, f->p[1], NULL, f->cap - f->queued,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n > 0) {
			f->queued += (size_t)n;
			moved = 1;
		} else if (n == 0) {
			f->eof = 1;
			moved = 1;
		} else if (errno == EINVAL) {
			/* `from' cannot be spliced (a terminal, say). */
			return to_copy_mode(f) == 0 ? 1 : (cut(f), 1);
		} else if (!is_wait(errno)) {
			f->eof = 1;
			f->lost_from = 1;
			moved = 1;
		}
	}
	if (f->queued > 0) {
		n = splice(f->p[0], NULL, f->to, NULL, f->queued,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n > 0) {
			f->queued -= (size_t)n;
			f->bytes += (uint64_t)n;
			moved = 1;
		} else if (n < 0 && errno == EINVAL) {
			/* `to' cannot take a splice: drain the pipe by copy. */
			return to_copy_mode(f) == 0 ? 1 : (cut(f), 1);
		} else if (n < 0 && !is_wait(errno)) {
			cut(f);
			return 1;
		}
	}
	return moved;
}

/* The read/write fallback; data left in the pipe goes first. */
static int
pump_copy(struct flow *f)
{
	ssize_t n;
	int moved = 0;

	if (f->len == 0 && (f->queued > 0 || !f->eof)) {
		if (f->queued > 0)
			n = read(f->p[0], f->buf,
			    f->queued < COPY_SIZE ? f->queued : COPY_SIZE);
		else
			n = read(f->from, f->buf, COPY_SIZE);
		if (n > 0) {
			if (f->queued > 0)
				f->queued -= (size_t)n;
			f->off = 0;
			f->len = (size_t)n;
			moved = 1;
		} else if (n == 0 && f->queued == 0) {
			f->eof = 1;
			moved = 1;
		} else if (n < 0 && !is_wait(errno)) {
			f->eof = 1;
			f->lost_from = 1;
			f->queued = 0;
			moved = 1;
		}
	}
	if (f->len > 0) {
		n = write(f->to, f->buf + f->off, f->len);
		if (n > 0) {
			f->off += (size_t)n;
			f->len -= (size_t)n;
			f->bytes += (uint64_t)n;
			moved = 1;
		} else if (n < 0 && !is_wait(errno)) {
			cut(f);
			return 1;
		}
	}
	return moved;
}

static void
pump(struct flow *f, int devnull)
{
	int moved;

	do {
		if (f->done)
			return;
		moved = f->copy ? pump_copy(f) : pump_splice(f);
		if (f->eof && f->queued == 0 && f->len == 0 && !f->done) {
			half_close(f->to, devnull);
			f->done = 1;
		}
	} while (moved);
}

static void
want(const struct flow *f, struct pollfd *rd, struct pollfd *wr)
{
	rd->fd = wr->fd = -1;
	rd->events = POLLIN;
	wr->events = POLLOUT;
	rd->revents = wr->revents = 0;
	if (f->done)
		return;
	if (!f->eof &&
	    (f->copy ? f->len == 0 && f->queued == 0 : f->queued < f->cap))
		rd->fd = f->from;
	/*
	 * The receiver is watched even with nothing to send: POLLERR says it
	 * is gone (a pipe whose reader closed, a reset socket), and then the
	 * direction is over even if its sender stays quiet.
	 */
	wr->fd = f->to;
	if (!(f->copy ? f->len > 0 || f->queued > 0 : f->queued > 0))
		wr->events = 0;
}

static void
check_receiver(struct flow *f, const struct pollfd *wr)
{
	if (!f->done && wr->fd >= 0 && (wr->revents & POLLERR))
		cut(f);
}

int
gw_relay(int in, int out, int sock, volatile sig_atomic_t *stop,
    struct gw_relay_stats *st)
{
	struct flow up, down;
	struct pollfd pfd[4];
	sigset_t block, old;
	int devnull, r = 0;

	memset(st, 0, sizeof(*st));
	if (set_nonblock(in) != 0 || set_nonblock(out) != 0 ||
	    set_nonblock(sock) != 0) {
		st->end = "cannot set up the relay";
		return -1;
	}
	/*
	 * The stopping signals are blocked except inside ppoll: one that
	 * arrives between the check of *stop and the wait is not lost.
	 */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &old);
	devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	/* Both safe to free even if the first init fails. */
	memset(&up, 0, sizeof(up));
	memset(&down, 0, sizeof(down));
	up.p[0] = up.p[1] = down.p[0] = down.p[1] = -1;
	if (flow_init(&up, in, sock) != 0 || flow_init(&down, sock, out) != 0) {
		st->end = "out of memory";
		r = -1;
		goto out;
	}
	for (;;) {
		pump(&up, devnull);
		pump(&down, devnull);
		if (up.done && down.done)
			break;
		want(&up, &pfd[0], &pfd[1]);
		want(&down, &pfd[2], &pfd[3]);
		if (*stop) {
			st->end = "interrupted";
			r = -1;
			break;
		}
		if (ppoll(pfd, 4, NULL, &old) < 0 && errno != EINTR) {
			st->end = "poll failed";
			r = -1;
			break;
		}
		check_receiver(&up, &pfd[1]);
		check_receiver(&down, &pfd[3]);
	}
out:
	st->up = up.bytes;
	st->down = down.bytes;
	st->spliced = !up.copy && !down.copy;
	/*
	 * How it ended.  Ends other than two EOFs are still ends, not
	 * failures of the relay: a ProxyCommand's ssh is killed by its
	 * client when done, and targets reset connections.
	 */
	if (r == 0) {
		if (down.lost_from || up.lost_to)
			st->end = "target reset";
		else if (up.lost_from || down.lost_to)
			st->end = "client closed";
		else
			st->end = "closed";
	}
	flow_free(&up);
	flow_free(&down);
	if (devnull >= 0)
		close(devnull);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return r;
}
