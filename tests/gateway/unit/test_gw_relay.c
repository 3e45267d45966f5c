/*
 * The relay over real descriptors: pipes on the client's side (as sshd
 * gives them), a TCP connection on loopback to the target.  Bulk data both
 * ways checked byte for byte, half-close each way, the read/write fallback
 * for descriptors splice cannot take, a reset target, a client that goes
 * away, a stop by signal.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "relay.h"
#include "tap.h"

#define MIB (1024 * 1024)

static volatile sig_atomic_t stop;

static void
on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static unsigned char
pattern(uint64_t i, unsigned seed)
{
	return (unsigned char)(((i + seed) * 2654435761u) >> 13);
}

/* A connected TCP pair on 127.0.0.1: *gw is the gateway's end. */
static void
tcp_pair(int *gw, int *target)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int l = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(l, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(l, 1) != 0 ||
	    getsockname(l, (struct sockaddr *)&sin, &len) != 0)
		abort();
	*gw = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(*gw, (struct sockaddr *)&sin, sizeof(sin)) != 0)
		abort();
	*target = accept(l, NULL, NULL);
	close(l);
}

struct run {
	pid_t pid;
	int result; /* read end: the child's stats */
};

/*
 * Run gw_relay(in, out, sock) in a child; the parent keeps the far ends.
 * With `starve', the child has one free descriptor left: no pipes.
 */
static int starve;

static struct run
start(int in, int out, int sock, int *close_in_parent, int nclose)
{
	struct run r;
	sigset_t term, old;
	int rp[2];

	if (pipe(rp) != 0)
		abort();
	/*
	 * SIGTERM stays blocked until the child's handler is in place: a test
	 * that signals the child soon after the fork must not kill it.
	 */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, &old);
	r.pid = fork();
	if (r.pid != 0)
		sigprocmask(SIG_SETMASK, &old, NULL);
	if (r.pid == 0) {
		struct gw_relay_stats st;
		struct sigaction sa;
		char line[128];
		int rc;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_term;
		sigaction(SIGTERM, &sa, NULL);
		sigprocmask(SIG_SETMASK, &old, NULL);
		signal(SIGPIPE, SIG_IGN);
		alarm(60);
		close(rp[0]);
		for (int i = 0; i < nclose; i++)
			close(close_in_parent[i]);
		if (starve) {
			struct rlimit rl = { 64, 64 };
			int last = -1, fd;

			setrlimit(RLIMIT_NOFILE, &rl);
			while ((fd = open("/dev/null", O_RDONLY)) >= 0)
				last = fd;
			close(last);
		}
		rc = gw_relay(in, out, sock, &stop, &st);
		snprintf(line, sizeof(line), "%d %llu %llu %d %s", rc,
		    (unsigned long long)st.up, (unsigned long long)st.down,
		    st.spliced, st.end ? st.end : "-");
		if (write(rp[1], line, strlen(line)) < 0)
			_exit(2);
		_exit(0);
	}
	close(rp[1]);
	close(in);
	if (out != in)
		close(out);
	close(sock);
	r.result = rp[0];
	return r;
}

struct stats {
	int rc;
	unsigned long long up, down;
	int spliced;
	char end[64];
};

static int
finish(struct run r, struct stats *s)
{
	char line[128];
	ssize_t n;
	int status;

	memset(s, 0, sizeof(*s));
	n = read(r.result, line, sizeof(line) - 1);
	close(r.result);
	waitpid(r.pid, &status, 0);
	if (n <= 0)
		return -1;
	line[n] = '\0';
	if (sscanf(line, "%d %llu %llu %d %63[^\n]", &s->rc, &s->up, &s->down,
		&s->spliced, s->end) != 5)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/*
 * Write `n' pattern bytes to fd from a child process, then end the stream:
 * shutdown(SHUT_WR) for a socket (the parent keeps reading from it), close
 * for a pipe.  The parent closes its copy of a pipe itself.
 */
static pid_t
feed(int fd, uint64_t n, unsigned seed)
{
	pid_t pid = fork();

	if (pid == 0) {
		unsigned char buf[65536];
		uint64_t off = 0;

		signal(SIGPIPE, SIG_IGN);
		alarm(60);
		while (off < n) {
			size_t k = n - off < sizeof(buf) ?
			    n - off :
			    sizeof(buf);

			for (size_t i = 0; i < k; i++)
				buf[i] = pattern(off + i, seed);
			ssize_t w = write(fd, buf, k);
			if (w <= 0)
				_exit(1);
			off += (uint64_t)w;
		}
		if (shutdown(fd, SHUT_WR) != 0 && errno != ENOTSOCK)
			_exit(1);
		_exit(0);
	}
	return pid;
}

/* Read fd to EOF; count bytes and check them against the pattern. */
static int
drain(int fd, unsigned seed, uint64_t *n)
{
	unsigned char buf[65536];
	ssize_t r;
	int good = 1;

	*n = 0;
	while ((r = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < r; i++)
			if (buf[i] != pattern(*n + (uint64_t)i, seed))
				good = 0;
		*n += (uint64_t)r;
	}
	return r == 0 && good;
}

static int
waited_ok(pid_t pid)
{
	int status;

	return waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0;
}

/* A relay between fresh pipes (client) and a loopback TCP pair. */
struct rig {
	int cin, cout, tg; /* our ends */
	struct run r;
};

static void
rig_start(struct rig *g)
{
	int in[2], out[2], gw;

	if (pipe(in) != 0 || pipe(out) != 0)
		abort();
	tcp_pair(&gw, &g->tg);
	g->cin = in[1];
	g->cout = out[0];
	int far[] = { in[1], out[0], g->tg };
	g->r = start(in[0], out[1], gw, far, 3);
}

/* Client sends 32 MiB and EOF; target reads it all, then answers. */
static void
upload_then_answer(void)
{
	struct rig g;
	struct stats s;
	uint64_t n;
	pid_t w;

	rig_start(&g);
	w = feed(g.cin, 32 * MIB, 1);
	close(g.cin);
	ok(drain(g.tg, 1, &n) && n == 32 * MIB,
	    "target got 32 MiB intact, then EOF (the half-close passed on)");
	ok(waited_ok(w), "client wrote everything");
	w = feed(g.tg, 3 * MIB + 7, 2);
	ok(drain(g.cout, 2, &n) && n == 3 * MIB + 7,
	    "after its own EOF the client still got the 3 MiB answer, then EOF");
	ok(waited_ok(w), "target wrote everything");
	ok(finish(g.r, &s) == 0 && s.rc == 0, "relay ended cleanly");
	is_str(s.end, "closed", "end reason");
	ok(s.up == 32 * MIB && s.down == 3 * MIB + 7, "byte counts both ways");
	ok(s.spliced, "pipes and sockets were spliced");
	close(g.cout);
	close(g.tg);
}

/* No descriptors left for pipes: read/write both ways, same results. */
static void
no_pipes(void)
{
	struct rig g;
	struct stats s;
	uint64_t n;
	pid_t w;

	starve = 1;
	rig_start(&g);
	starve = 0;
	w = feed(g.cin, 4 * MIB + 1, 7);
	close(g.cin);
	ok(drain(g.tg, 7, &n) && n == 4 * MIB + 1,
	    "without pipes: target got 4 MiB intact, then EOF");
	waited_ok(w);
	w = feed(g.tg, 2 * MIB, 8);
	ok(drain(g.cout, 8, &n) && n == 2 * MIB,
	    "without pipes: client got the answer, then EOF");
	waited_ok(w);
	ok(finish(g.r, &s) == 0 && s.rc == 0 && !s.spliced &&
		s.up == 4 * MIB + 1 && s.down == 2 * MIB,
	    "without pipes: clean end by read/write, counts right");
	close(g.cout);
	close(g.tg);
}

/* Both directions at once, the target finishing first. */
static void
both_ways(void)
{
	struct rig g;
	struct stats s;
	uint64_t n;
	pid_t wc, wt, rc;

	rig_start(&g);
	wt = feed(g.tg, 16 * MIB, 4);
	wc = feed(g.cin, 24 * MIB, 5);
	close(g.cin);
	/* Read the target side in a child, the client side here. */
	rc = fork();
	if (rc == 0) {
		alarm(60);
		_exit(drain(g.tg, 5, &n) && n == 24 * MIB ? 0 : 1);
	}
	ok(drain(g.cout, 4, &n) && n == 16 * MIB,
	    "client got 16 MiB while sending 24 MiB");
	ok(waited_ok(rc), "target got 24 MiB intact");
	ok(waited_ok(wt) && waited_ok(wc), "both writers done");
	ok(finish(g.r, &s) == 0 && s.rc == 0 && s.up == 24 * MIB &&
		s.down == 16 * MIB,
	    "clean end, counts right");
	close(g.cout);
	close(g.tg);
}

/* Files: splice cannot write to O_APPEND; read/write takes over. */
static void
fallback(void)
{
	char path[] = "/tmp/gw-relay-XXXXXX";
	int in[2], gw, tg, out, tmp;
	struct stats s;
	uint64_t n;
	pid_t w;

	if ((tmp = mkstemp(path)) < 0 || pipe(in) != 0)
		abort();
	close(tmp);
	out = open(path, O_WRONLY | O_APPEND);
	tcp_pair(&gw, &tg);
	int far[] = { in[1], tg };
	struct run r = start(in[0], out, gw, far, 2);
	close(in[1]); /* the client sends nothing */
	w = feed(tg, 5 * MIB + 3, 6);
	ok(waited_ok(w), "target wrote 5 MiB");
	ok(drain(tg, 0, &n) && n == 0, "target saw the client's EOF");
	ok(finish(r, &s) == 0 && s.rc == 0, "relay ended cleanly");
	ok(!s.spliced && s.down == 5 * MIB + 3,
	    "the O_APPEND file took read/write, all bytes counted");
	out = open(path, O_RDONLY);
	ok(drain(out, 6, &n) && n == 5 * MIB + 3,
	    "file holds the bytes intact");
	close(out);
	close(tg);
	unlink(path);
}

/* The target resets the connection. */
static void
reset(void)
{
	struct linger lg = { 1, 0 };
	struct rig g;
	struct stats s;
	unsigned char buf[4096];

	rig_start(&g);
	if (write(g.cin, "hello", 5) != 5 || read(g.tg, buf, 5) != 5)
		abort();
	setsockopt(g.tg, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(g.tg); /* RST */
	ok(read(g.cout, buf, sizeof(buf)) == 0,
	    "client sees EOF after a reset");
	close(g.cin);
	ok(finish(g.r, &s) == 0 && s.rc == 0, "relay ran to the end");
	is_str(s.end, "target reset", "end reason");
	close(g.cout);
}

/* The client vanishes while the target says nothing: no hang. */
static void
client_gone(void)
{
	struct rig g;
	struct stats s;

	rig_start(&g);
	close(g.cin);
	close(g.cout);
	/* The target never writes nor closes; only POLLERR ends it. */
	ok(finish(g.r, &s) == 0 && s.rc == 0 &&
		strcmp(s.end, "client closed") == 0,
	    "relay ends when the client's side is gone (%s)", s.end);
	close(g.tg);
}

/* A signal (sshd's SIGTERM/SIGHUP) stops an idle relay. */
static void
signalled(void)
{
	struct rig g;
	struct stats s;

	rig_start(&g);
	usleep(100000);
	kill(g.r.pid, SIGTERM);
	ok(finish(g.r, &s) == 0 && s.rc == -1, "relay stopped");
	is_str(s.end, "interrupted", "end reason");
	close(g.cin);
	close(g.cout);
	close(g.tg);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	upload_then_answer();
	both_ways();
	no_pipes();
	fallback();
	reset();
	client_gone();
	signalled();
	return tap_done();
}
