/*
 * awsmfa-netd: the network broker of pam_awsmfa.so (awsmfa-netd(8)).
 *
 * A login of a module whose state (or enrolment) is in the fleet's table
 * makes two or three AWS calls.  Made in the login's own process, each
 * login loads libcurl and what it links (about as much work as the rest
 * of the login) and opens its own TLS connection.  This root service makes
 * those calls instead, for root's processes only, on connections it keeps
 * open: the module sends each call here (net/broker_client.h) when its
 * socket is there, and makes the call itself when it is not.
 *
 * One thread takes connections and their one request each; a few workers
 * make the calls, each with its own kept connections (aws/http.h).  A
 * connection is root's or closed at once (the socket is root's, mode
 * 0600, in a directory only root may write); a request that has not come
 * within REQUEST_MS of the connection is dropped, so that a stopped login
 * holds no worker; an answer is sent without waiting (the asker waits for
 * it with an empty queue) and the connection closed.
 *
 * Usage: awsmfa-netd [--socket PATH] [--workers N] [--debug]
 */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "monotonic.h"
#include "net/broker_wire.h"
#include "netd_call.h"
#include "root_service.h"
#include "secure_file.h"

#define DEFAULT_SOCKET	"/run/awsmfa-netd/socket"
#define DEFAULT_WORKERS 8
#define MAX_WORKERS	64
/* Connections waiting for their request. */
#define MAX_WAITING 256
/* Requests waiting for a worker; beyond it no connection is taken. */
#define MAX_QUEUED 1024
#define REQUEST_MS 5000
/* Descriptors kept beyond the connections taken: each worker's own
 * connections and the one it serves, the log, the listener, libraries. */
#define FD_PER_WORKER 8
#define FD_RESERVE    32
/* Out of descriptors all the same: no accept tried for this long. */
#define FD_SHORT_MS 1000

struct job {
	int fd;
	unsigned char *msg;
	size_t len;
	struct job *next;
};

static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queue_cond = PTHREAD_COND_INITIALIZER;
static struct job *queue_head, *queue_tail;
static size_t queued;

/* Connections held at once (waiting and queued): what RLIMIT_NOFILE
 * allows, at most MAX_WAITING + MAX_QUEUED. */
static size_t max_conns = MAX_WAITING + MAX_QUEUED;
static amfa_log_sink *main_sink;
static void *main_sink_ctx;
static int debug;

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: awsmfa-netd [--socket PATH] [--workers N] [--debug]\n"
	    "  --socket PATH  listen there (default %s); its directory\n"
	    "                 must be root's and writable by no one else\n"
	    "  --workers N    calls made at once (1..%d, default %d)\n",
	    DEFAULT_SOCKET, MAX_WORKERS, DEFAULT_WORKERS);
}

static void
answer(int fd, const struct amfa_broker_answer *a)
{
	unsigned char *msg;
	size_t len;

	if (amfa_broker_answer_encode(a, &msg, &len) != 0) {
		amfa_log(LOG_ERR, "an answer too large to send: dropped");
		return;
	}
	/* The asker's queue is empty: an answer that does not go at once
	 * is an asker that is gone. */
	if (send(fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		amfa_debug("answer not sent: %s", strerror(errno));
	amfa_wipe_free(msg, len);
}

static void
serve(struct job *j)
{
	struct amfa_broker_request rq;
	struct amfa_broker_answer a;

	if (amfa_broker_request_decode(j->msg, j->len, &rq) != 0) {
		amfa_log(LOG_ERR, "a request that is not one: refused");
		memset(&a, 0, sizeof(a));
		a.result = AMFA_DDB_INTERNAL;
		snprintf(a.err.detail, sizeof(a.err.detail),
		    "awsmfa-netd: a request that is not one");
		answer(j->fd, &a);
		return;
	}
	amfa_netd_call(&rq, &a);
	answer(j->fd, &a);
	amfa_netd_answer_free(&a);
}

static void *
worker(void *arg)
{
	struct job *j;

	(void)arg;
	amfa_log_set_sink(main_sink, main_sink_ctx);
	amfa_log_set_debug(debug);
	for (;;) {
		pthread_mutex_lock(&queue_lock);
		while (queue_head == NULL)
			pthread_cond_wait(&queue_cond, &queue_lock);
		j = queue_head;
		if ((queue_head = j->next) == NULL)
			queue_tail = NULL;
		queued--;
		pthread_mutex_unlock(&queue_lock);
		serve(j);
		close(j->fd);
		amfa_wipe_free(j->msg, j->len);
		free(j);
	}
	return NULL;
}

static void
enqueue(struct job *j)
{
	pthread_mutex_lock(&queue_lock);
	j->next = NULL;
	if (queue_tail != NULL)
		queue_tail->next = j;
	else
		queue_head = j;
	queue_tail = j;
	queued++;
	pthread_cond_signal(&queue_cond);
	pthread_mutex_unlock(&queue_lock);
}

static size_t
queue_length(void)
{
	size_t n;

	pthread_mutex_lock(&queue_lock);
	n = queued;
	pthread_mutex_unlock(&queue_lock);
	return n;
}

/* The socket's directory: root's, writable by no one else. */
static int
check_dir(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct stat st;
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) == NULL || slash[1] == '\0') {
		amfa_log(LOG_ERR, "%s: not an absolute path to a socket", path);
		return -1;
	}
	if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (lstat(dir, &st) != 0) {
		amfa_log(LOG_ERR, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022) != 0) {
		amfa_log(LOG_ERR,
		    "%s: must be a directory of root's that no one else may "
		    "write (mode %04o, uid %lu)",
		    dir, (unsigned)(st.st_mode & 07777),
		    (unsigned long)st.st_uid);
		return -1;
	}
	return 0;
}

static int
listen_at(const char *path)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (path[0] != '/' || strlen(path) >= sizeof(sa.sun_path)) {
		amfa_log(LOG_ERR,
		    "%s: not an absolute path that fits a "
		    "socket's address",
		    path);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (check_dir(path) != 0)
		return -1;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			amfa_log(LOG_ERR, "%s: there and not a socket", path);
			return -1;
		}
		unlink(path);
	}
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK,
		 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    chmod(path, 0600) != 0 || listen(fd, 128) != 0) {
		amfa_log(LOG_ERR, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

struct waiting {
	int fd;
	long long since;
};

/* Take a connection; -1 when descriptors (or memory) ran out: the
 * listener stays readable, and taking again at once would spin. */
static int
take_connection(int lfd, struct waiting *w, size_t *nw)
{
	struct ucred peer;
	socklen_t len = sizeof(peer);
	int fd;

	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			errno == ENOMEM ?
		    -1 :
		    0;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0 ||
	    peer.uid != 0) {
		amfa_log(LOG_WARNING,
		    "a connection of uid %lu (pid %ld): only root's are "
		    "served",
		    (unsigned long)peer.uid, (long)peer.pid);
		close(fd);
		return 0;
	}
	w[*nw].fd = fd;
	w[*nw].since = amfa_monotonic_ms();
	(*nw)++;
	return 0;
}

/* The request of waiting connection `w', queued; 0 while it has not come,
 * 1 when the connection is no longer waiting (queued or closed). */
static int
take_request(struct waiting *w)
{
	struct job *j;
	ssize_t n;

	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->msg = malloc(AMFA_BROKER_MAX_MSG)) == NULL) {
		free(j);
		close(w->fd);
		return 1;
	}
	n = recv(w->fd, j->msg, AMFA_BROKER_MAX_MSG, MSG_DONTWAIT | MSG_TRUNC);
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		free(j->msg);
		free(j);
		return 0;
	}
	if (n <= 0 || (size_t)n > AMFA_BROKER_MAX_MSG) {
		if (n > 0)
			amfa_log(LOG_ERR, "a request of %zd bytes: refused", n);
		amfa_wipe_free(j->msg, AMFA_BROKER_MAX_MSG);
		free(j);
		close(w->fd);
		return 1;
	}
	j->fd = w->fd;
	j->len = (size_t)n;
	/* Queued requests hold what they need, not the largest message. */
	{
		unsigned char *fit = malloc(j->len);

		if (fit != NULL) {
			memcpy(fit, j->msg, j->len);
			amfa_wipe_free(j->msg, j->len);
			j->msg = fit;
		}
	}
	enqueue(j);
	return 1;
}

static void
loop(int lfd)
{
	static struct waiting w[MAX_WAITING];
	struct pollfd p[MAX_WAITING + 1];
	size_t nw = 0, i, k, nq;
	long long now, short_until = 0;

	while (!amfa_service_stopping) {
		nq = queue_length();
		p[0].fd = nw < MAX_WAITING && nq < MAX_QUEUED &&
			nw + nq < max_conns &&
			amfa_monotonic_ms() >= short_until ?
		    lfd :
		    -1;
		p[0].events = POLLIN;
		for (i = 0; i < nw; i++) {
			p[i + 1].fd = w[i].fd;
			p[i + 1].events = POLLIN;
			p[i + 1].revents = 0;
		}
		p[0].revents = 0;
		if (poll(p, nw + 1, 1000) < 0 && errno != EINTR) {
			amfa_log(LOG_ERR, "poll: %s", strerror(errno));
			return;
		}
		now = amfa_monotonic_ms();
		for (i = 0, k = 0; i < nw; i++) {
			if (p[i + 1].revents != 0 && take_request(&w[i]))
				continue;
			if (now - w[i].since > REQUEST_MS) {
				amfa_debug("a connection sent no request in "
					   "%d ms: dropped",
				    REQUEST_MS);
				close(w[i].fd);
				continue;
			}
			w[k++] = w[i];
		}
		nw = k;
		if (p[0].fd >= 0 && (p[0].revents & POLLIN) != 0 &&
		    take_connection(lfd, w, &nw) != 0) {
			if (short_until == 0 || now - short_until > 60000)
				amfa_log(LOG_ERR,
				    "cannot take a connection: %s (%zu "
				    "waiting, %zu queued)",
				    strerror(errno), nw, queue_length());
			short_until = now + FD_SHORT_MS;
		}
	}
}

/* As many connections as the descriptors allow with the workers' own
 * kept: the soft RLIMIT_NOFILE raised toward what the bounds need (a
 * service's default soft limit, 1024, is below them). */
static int
descriptor_budget(long workers)
{
	rlim_t reserve = (rlim_t)workers * FD_PER_WORKER + FD_RESERVE;
	rlim_t need = MAX_WAITING + MAX_QUEUED + reserve;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		amfa_log(LOG_ERR, "RLIMIT_NOFILE: %s", strerror(errno));
		return -1;
	}
	if (rl.rlim_cur < need && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < reserve + 16) {
		amfa_log(LOG_ERR,
		    "RLIMIT_NOFILE %lu: too few descriptors for %ld workers",
		    (unsigned long)rl.rlim_cur, workers);
		return -1;
	}
	if (rl.rlim_cur < need) {
		max_conns = (size_t)(rl.rlim_cur - reserve);
		amfa_log(LOG_WARNING,
		    "RLIMIT_NOFILE %lu: at most %zu connections at once",
		    (unsigned long)rl.rlim_cur, max_conns);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "workers", required_argument, NULL, 'w' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = DEFAULT_SOCKET;
	long workers = DEFAULT_WORKERS;
	pthread_t t;
	char *end;
	int c, lfd;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			path = optarg;
			break;
		case 'w':
			errno = 0;
			workers = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || workers < 1 ||
			    workers > MAX_WORKERS) {
				fprintf(stderr,
				    "awsmfa-netd: --workers: 1..%d\n",
				    MAX_WORKERS);
				return 2;
			}
			break;
		case 'd':
			debug = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (amfa_root_service_start("awsmfa-netd") != 0)
		return 1;
	amfa_log_set_debug(debug);
	amfa_log_get_sink(&main_sink, &main_sink_ctx);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		amfa_log(LOG_ERR, "libcurl: cannot start");
		return 1;
	}
	if (descriptor_budget(workers) != 0 || (lfd = listen_at(path)) < 0)
		return 1;
	for (c = 0; c < workers; c++) {
		if (pthread_create(&t, NULL, worker, NULL) != 0) {
			amfa_log(LOG_ERR, "cannot start a worker");
			unlink(path);
			return 1;
		}
		pthread_detach(t);
	}
	amfa_log(LOG_INFO, "listening on %s, %ld workers", path, workers);
	loop(lfd);
	unlink(path);
	amfa_log(LOG_INFO, "stopped");
	/* Workers in a call are cut off: their askers see no answer. */
	_exit(0);
}
