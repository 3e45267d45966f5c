/* The client side of the audit chain's record writer: see audit_writer.h. */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "audit.h"
#include "audit_writer.h"
#include "log.h"
#include "monotonic.h"

int
amfa_audit_writer_connect(const char *log_path)
{
	struct sockaddr_un sa;
	struct ucred peer;
	socklen_t len = sizeof(peer);
	int fd, n;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s%s", log_path,
	    AMFA_WRITER_SUFFIX);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path)) {
		amfa_log(LOG_ERR, "%s%s: the writer's socket path is too long",
		    log_path, AMFA_WRITER_SUFFIX);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) < 0) {
		amfa_log(LOG_ERR, "audit writer: socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		amfa_log(LOG_ERR,
		    "%s: cannot reach the audit writer: %s "
		    "(is awsmfa-audit-writer running?)",
		    sa.sun_path, strerror(errno));
		close(fd);
		return -1;
	}
	/* A socket a member of the group planted there would take records
	 * and keep them: the writer is root's. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0 ||
	    peer.uid != 0) {
		amfa_log(LOG_ERR,
		    "%s: the process listening there is not root's; "
		    "not used",
		    sa.sun_path);
		close(fd);
		return -1;
	}
	return fd;
}

/* Wait until `fd' is ready for `events', until `deadline' (monotonic ms). */
static int
wait_for(int fd, short events, long long deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	long long left;
	int r;

	for (;;) {
		left = deadline - amfa_monotonic_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

/* After a failure the connection is done: an answer that comes late must
 * not be taken for the next record's. */
static int
fail(int fd, int r)
{
	(void)shutdown(fd, SHUT_RDWR);
	return r;
}

int
amfa_audit_writer_send(int fd, const char *json)
{
	long long deadline = amfa_monotonic_ms() + AMFA_WRITER_ANSWER_MS;
	size_t len = strlen(json);
	int32_t answer;
	ssize_t n;
	int r;

	if (len == 0 || len > AMFA_AUDIT_RECORD_MAX)
		return -EMSGSIZE;
	if ((r = wait_for(fd, POLLOUT, deadline)) != 0)
		return fail(fd, r);
	do
		n = send(fd, json, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)len)
		return fail(fd, n < 0 ? -errno : -EIO);
	if ((r = wait_for(fd, POLLIN, deadline)) != 0)
		return fail(fd, r);
	do
		n = recv(fd, &answer, sizeof(answer), MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(answer))
		/* The writer went away: whether it wrote is unknown, and a
		 * record not known written is not written. */
		return fail(fd, n < 0 ? -errno : -EPIPE);
	return answer == 0 ? 0 : answer > 0 ? -answer : -EIO;
}
