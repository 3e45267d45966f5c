/* The gateway's control socket to its recorder; see recorder_ctl.h. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "recorder_ctl.h"

int
gw_ctl_send(int fd, const char *fmt, ...)
{
	char buf[GW_CTL_MAX];
	va_list ap;
	ssize_t n;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (len < 0 || (size_t)len >= sizeof(buf))
		len = (int)sizeof(buf) - 1;
	do
		n = send(fd, buf, (size_t)len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n == len ? 0 : -1;
}

int
gw_ctl_recv(int fd, char *buf, int timeout_ms, const char **arg)
{
	struct pollfd p = { fd, POLLIN, 0 };
	ssize_t n;
	int r;

	buf[0] = '\0';
	*arg = buf;
	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return -2;
	if (r != 1)
		return -1;
	/*
	 * A peer that closed with a message of ours unread leaves ECONNRESET,
	 * which recv(2) reports before the messages still queued for us:
	 * once reported it is cleared, and they follow.
	 */
	do
		n = recv(fd, buf, GW_CTL_MAX - 1, 0);
	while (n < 0 && (errno == EINTR || errno == ECONNRESET));
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if (strlen(buf) != (size_t)n)
		return -1; /* a NUL inside: not ours */
	*arg = strchr(buf, ' ') ? strchr(buf, ' ') + 1 : buf + n;
	return (int)n;
}

void
gw_ctl_drain(int fd)
{
	char buf[GW_CTL_MAX];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

int
gw_ctl_is(const char *msg, const char *w)
{
	size_t n = strlen(w);

	return strncmp(msg, w, n) == 0 && (msg[n] == ' ' || msg[n] == '\0');
}
