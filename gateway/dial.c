/* Resolving, checking and connecting; see dial.h. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dial.h"
#include "log.h"
#include "monotonic.h"

#define MAX_ADDRS 16

static void
to_sockaddr(const struct gw_addr *a, unsigned port, struct sockaddr_storage *ss,
    socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		memcpy(&sin->sin_addr, a->a, 4);
		*len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		memcpy(&sin6->sin6_addr, a->a, 16);
		*len = sizeof(*sin6);
	}
}

/* One non-blocking connect, waiting until `deadline'.  fd or -1. */
static int
try_connect(const struct gw_addr *a, unsigned port, long long deadline,
    int *err)
{
	struct sockaddr_storage ss;
	struct pollfd pfd;
	socklen_t len, elen = sizeof(int);
	long long left;
	int fd, r, one = 1;

	to_sockaddr(a, port, &ss, &len);
	fd = socket(a->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*err = errno;
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&ss, len) == 0)
		goto done;
	if (errno != EINPROGRESS) {
		*err = errno;
		goto fail;
	}
	pfd.fd = fd;
	pfd.events = POLLOUT;
	for (;;) {
		if ((left = deadline - amfa_monotonic_ms()) <= 0) {
			*err = ETIMEDOUT;
			goto fail;
		}
		r = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			*err = errno;
			goto fail;
		}
		if (r > 0)
			break;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, err, &elen) != 0)
		*err = errno;
	if (*err != 0)
		goto fail;
done:
	/* Interactive sessions go through here: no Nagle delay. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
fail:
	close(fd);
	return -1;
}

static void
from_ai(const struct addrinfo *ai, struct gw_addr *a)
{
	memset(a, 0, sizeof(*a));
	a->family = ai->ai_family;
	if (ai->ai_family == AF_INET)
		memcpy(a->a, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, 4);
	else
		memcpy(a->a, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr,
		    16);
}

/* 0.0.0.0/8 or :: (or 0.0.0.0/8 mapped into IPv6), which the kernel
 * connects to a local address. */
static int
unspecified(const struct gw_addr *a)
{
	static const unsigned char zero[16];
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0xff, 0xff };

	if (a->family == AF_INET)
		return a->a[0] == 0;
	if (memcmp(a->a, mapped, sizeof(mapped)) == 0)
		return a->a[12] == 0;
	return memcmp(a->a, zero, sizeof(zero)) == 0;
}

int
gw_dial(const struct gw_policy *p, const struct gw_subject *s,
    const struct gw_command *cmd, long timeout, gw_dial_ready ready, void *ctx,
    struct gw_dial *d)
{
	struct gw_addr addrs[MAX_ADDRS], a;
	struct gw_verdict v;
	struct addrinfo hints, *res = NULL, *ai;
	const char *name = cmd->literal ? NULL : cmd->host;
	long long deadline = amfa_monotonic_ms() + timeout * 1000;
	size_t n = 0, nallowed = 0;
	int err = 0, r;

	memset(d, 0, sizeof(*d));
	d->fd = -1;
	/* A literal address is judged below, with the rule that decides. */
	if (!cmd->literal &&
	    !gw_policy_may_connect(p, s, name, cmd->port, &d->rule)) {
		d->denied = 1;
		d->why = "not allowed by policy";
		return -1;
	}
	if (cmd->literal)
		addrs[n++] = cmd->addr;
	else {
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		if ((r = getaddrinfo(cmd->host, NULL, &hints, &res)) != 0) {
			amfa_log(LOG_NOTICE, "%s: cannot resolve: %s",
			    cmd->host, gai_strerror(r));
			d->why = "cannot resolve the host name";
			return -1;
		}
		for (ai = res; ai != NULL && n < MAX_ADDRS; ai = ai->ai_next) {
			if (ai->ai_family != AF_INET &&
			    ai->ai_family != AF_INET6)
				continue;
			from_ai(ai, &a);
			/* getaddrinfo repeats addresses; keep each once. */
			size_t i;
			for (i = 0; i < n; i++)
				if (memcmp(&addrs[i], &a, sizeof(a)) == 0)
					break;
			if (i == n)
				addrs[n++] = a;
		}
		freeaddrinfo(res);
	}
	/*
	 * Every address is judged before any is tried.  One that a rule
	 * denies outright refuses the whole request, even if another
	 * address would have been allowed: the name points somewhere it must
	 * not.  One that no rule mentions is only left out (a dual-stack
	 * host whose IPv6 address the policy does not list).
	 */
	for (size_t i = 0; i < n; i++) {
		/* Connecting to 0.0.0.0/8 or :: reaches this very host, past
		 * any rule about 127.0.0.0/8 and ::1: never, whatever the
		 * policy says. */
		if (unspecified(&addrs[i])) {
			gw_addr_str(&addrs[i], d->addr, sizeof(d->addr));
			d->denied = 1;
			d->why = "the unspecified address (it reaches the "
				 "bastion itself)";
			return -1;
		}
		gw_policy_connect(p, s, name, &addrs[i], cmd->port, &v);
		if (v.allow) {
			addrs[nallowed++] = addrs[i];
			if (d->rule == NULL)
				d->rule = v.rule;
			continue;
		}
		gw_addr_str(&addrs[i], d->addr, sizeof(d->addr));
		if (v.rule == NULL)
			continue;
		d->rule = v.addr_rule ? v.addr_rule : v.rule;
		d->denied = 1;
		d->why = v.addr_rule ?
		    "resolves to an address the policy "
		    "denies" :
		    "not allowed by policy";
		return -1;
	}
	if (nallowed == 0) {
		d->denied = n > 0;
		d->why = n > 0 ? "not allowed by policy" :
				 "the host name has no address";
		return -1;
	}
	for (size_t i = 0; i < nallowed; i++) {
		gw_addr_str(&addrs[i], d->addr, sizeof(d->addr));
		if (ready != NULL && ready(ctx, d->addr, d->rule) != 0) {
			d->unready = 1;
			d->why = "the audit log cannot take the record";
			return -1;
		}
		if ((d->fd = try_connect(&addrs[i], cmd->port, deadline,
			 &err)) >= 0)
			return 0;
		if (err == ETIMEDOUT)
			break;
	}
	d->why = err == ETIMEDOUT		      ? "connection timed out" :
	    err == ECONNREFUSED			      ? "connection refused" :
	    err == ENETUNREACH || err == EHOSTUNREACH ? "no route to host" :
							"cannot connect";
	return -1;
}
