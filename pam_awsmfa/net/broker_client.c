/* The module's side of the network broker; see broker_client.h. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "broker_client.h"
#include "log.h"
#include "monotonic.h"
#include "secure_file.h"

/* Beyond the request's own time: the broker's queue and the answer. */
#define SLACK_MS 5000

static int
is_write(enum amfa_broker_op op)
{
	return op == AMFA_BROKER_DDB_UPDATE || op == AMFA_BROKER_DDB_DELETE;
}

/* A failure of ours, as the answer `r': `sent' when the request went
 * out.  Only a broker that gave no answer is AMFA_DDB_UNAVAILABLE (as an
 * unreachable table): failmode = safe then lets STS alone decide, so
 * nothing the caller can bring about (memory its limits deny, an answer
 * not read) may be called that. */
static enum amfa_broker_outcome
failed(struct amfa_broker_answer *a, const struct amfa_broker_request *rq,
    enum amfa_ddb_result r, int sent, const char *path, const char *what)
{
	memset(a, 0, sizeof(*a));
	a->result = r;
	a->err.sent_before = sent && is_write(rq->op);
	snprintf(a->err.detail, sizeof(a->err.detail), "awsmfa-netd %s: %s",
	    path, what);
	amfa_log(LOG_ERR, "%s", a->err.detail);
	return AMFA_BROKER_ANSWERED;
}

static int
connect_to(const char *path, int *fd)
{
	struct sockaddr_un sa;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if ((*fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(*fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int e = errno;

		close(*fd);
		*fd = -1;
		errno = e;
		return -1;
	}
	return 0;
}

/* Wait for the answer until `deadline'; its length, or -1 (errno).  An
 * answer already there is taken, also after the deadline: a login its
 * user stopped after the send and continued later has its answer waiting
 * (the write it tells of made), and must not call it none. */
static ssize_t
receive(int fd, unsigned char *buf, size_t size, long long deadline)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	long long left;
	ssize_t n;
	int ms;

	for (;;) {
		left = deadline - amfa_monotonic_ms();
		ms = left <= 0 ? 0 : left > 60000 ? 60000 : (int)left;
		p.revents = 0;
		if (poll(&p, 1, ms) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if ((p.revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
			if (left <= 0) {
				errno = ETIMEDOUT;
				return -1;
			}
			continue;
		}
		n = recv(fd, buf, size, MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n == 0)
			errno = ECONNRESET; /* closed with no answer */
		if (n > 0 && (size_t)n > size)
			errno = EMSGSIZE;
		return n > 0 && (size_t)n <= size ? n : -1;
	}
}

enum amfa_broker_outcome
amfa_broker_call(const char *path, const struct amfa_broker_request *rq,
    struct amfa_broker_answer *a)
{
	struct ucred peer;
	socklen_t plen = sizeof(peer);
	unsigned char *msg = NULL, *buf = NULL;
	size_t len;
	ssize_t n;
	long long deadline;
	enum amfa_broker_outcome o;
	char why[160];
	int fd;

	if (connect_to(path, &fd) != 0) {
		if (errno == ENOENT || errno == ECONNREFUSED ||
		    errno == EACCES || errno == ENOTDIR) {
			amfa_debug("awsmfa-netd %s: %s: calling directly", path,
			    strerror(errno));
			return AMFA_BROKER_ABSENT;
		}
		snprintf(why, sizeof(why), "connect: %s", strerror(errno));
		return failed(a, rq, AMFA_DDB_INTERNAL, 0, path, why);
	}
	/* Only root's broker gets the request (it names the module's key
	 * file), and only root's answer is believed. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &plen) != 0 ||
	    peer.uid != 0) {
		close(fd);
		return failed(a, rq, AMFA_DDB_INTERNAL, 0, path,
		    "the process listening there is not root's: not used");
	}
	/* The answer's buffer before the send: memory denied after it would
	 * leave a request out and its answer unread. */
	if ((buf = malloc(AMFA_BROKER_MAX_MSG)) == NULL) {
		close(fd);
		return failed(a, rq, AMFA_DDB_INTERNAL, 0, path,
		    "out of memory");
	}
	if (amfa_broker_request_encode(rq, &msg, &len) != 0) {
		free(buf);
		close(fd);
		return failed(a, rq, AMFA_DDB_INTERNAL, 0, path,
		    "the request is too large");
	}
	n = send(fd, msg, len, MSG_NOSIGNAL);
	amfa_wipe_free(msg, len);
	if (n < 0 || (size_t)n != len) {
		snprintf(why, sizeof(why), "send: %s",
		    n < 0 ? strerror(errno) : "short");
		free(buf);
		close(fd);
		return failed(a, rq, AMFA_DDB_INTERNAL, 0, path, why);
	}
	/* From the send: a login stopped before it (a user may stop theirs)
	 * finds its connection dropped (the broker's REQUEST_MS) and the send
	 * refused, never a request sent after its own deadline. */
	deadline = amfa_monotonic_ms() + rq->c.timeout_ms + SLACK_MS;
	n = receive(fd, buf, AMFA_BROKER_MAX_MSG, deadline);
	if (n < 0) {
		snprintf(why, sizeof(why), "no answer: %s", strerror(errno));
		o = failed(a, rq, AMFA_DDB_UNAVAILABLE, 1, path, why);
	} else if (amfa_broker_answer_decode(buf, (size_t)n, a) != 0)
		o = failed(a, rq, AMFA_DDB_MALFORMED, 1, path,
		    "an answer that is not one");
	else
		o = AMFA_BROKER_ANSWERED;
	amfa_wipe_free(buf, AMFA_BROKER_MAX_MSG);
	close(fd);
	return o;
}
