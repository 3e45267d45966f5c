/* The recording creator; see recording_creator.h. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"
#include "recording_creator.h"
#include "recording_dir.h"

/* How long the gateway waits for the creator's answer. */
#define CREATOR_TIMEOUT_MS 10000

struct reply {
	int err; /* 0, or the errno of the creation */
	char name[NAME_MAX + 1];
};

/* Close every descriptor but a and b (a < b). */
static void
close_others(int a, int b)
{
	if (a > 0)
		close_range(0, (unsigned)a - 1, 0);
	if (b > a + 1)
		close_range((unsigned)a + 1, (unsigned)b - 1, 0);
	close_range((unsigned)b + 1, ~0U, 0);
}

static void __attribute__((noreturn))
creator(int sock, int dirfd, const char *user)
{
	struct reply rep;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { &rep, sizeof(rep) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;
	char go;
	ssize_t n;
	int fd;

	close_others(sock < dirfd ? sock : dirfd, sock < dirfd ? dirfd : sock);
	do
		n = read(sock, &go, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		_exit(0); /* the gateway did not ask */
	memset(&rep, 0, sizeof(rep));
	fd = gw_recfile_create(dirfd, user, rep.name, sizeof(rep.name));
	if (fd < 0)
		rep.err = -fd;
	else {
		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof(ctl.buf);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	while (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
	_exit(0);
}

int
gw_rec_creator_start(struct gw_rec_creator *c, int dirfd, const char *user)
{
	int sv[2];
	pid_t pid;

	c->pid = 0;
	c->sock = -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
		amfa_log(LOG_ERR, "recording: socketpair: %s", strerror(errno));
		return -1;
	}
	if ((pid = fork()) < 0) {
		amfa_log(LOG_ERR, "recording: fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0)
		creator(sv[1], dirfd, user);
	close(sv[1]);
	c->pid = pid;
	c->sock = sv[0];
	return 0;
}

void
gw_rec_creator_stop(struct gw_rec_creator *c)
{
	if (c->sock >= 0)
		close(c->sock);
	c->sock = -1;
	if (c->pid > 0)
		while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
			;
	c->pid = 0;
}

int
gw_rec_creator_create(struct gw_rec_creator *c, char *name, size_t size)
{
	struct reply rep;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { &rep, sizeof(rep) };
	struct msghdr msg = { .msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl.buf,
		.msg_controllen = sizeof(ctl.buf) };
	struct pollfd pfd;
	struct cmsghdr *cm;
	ssize_t n = -1;
	int fd = -1;

	if (c->pid <= 0) {
		amfa_log(LOG_ERR, "recording: no recording creator");
		return -1;
	}
	memset(&rep, 0, sizeof(rep));
	pfd.fd = c->sock;
	pfd.events = POLLIN;
	if (write(c->sock, "c", 1) == 1 &&
	    poll(&pfd, 1, CREATOR_TIMEOUT_MS) == 1)
		n = recvmsg(c->sock, &msg, MSG_CMSG_CLOEXEC);
	for (cm = n > 0 ? CMSG_FIRSTHDR(&msg) : NULL; cm != NULL;
	     cm = CMSG_NXTHDR(&msg, cm))
		if (cm->cmsg_level == SOL_SOCKET &&
		    cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	gw_rec_creator_stop(c);
	if (n != (ssize_t)sizeof(rep) || (msg.msg_flags & MSG_CTRUNC)) {
		amfa_log(LOG_ERR, "recording: no answer from the creator");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	rep.name[sizeof(rep.name) - 1] = '\0';
	if (rep.err != 0 || fd < 0) {
		amfa_log(LOG_ERR, "recording: cannot create %s: %s",
		    rep.name[0] ? rep.name : "a recording",
		    strerror(rep.err ? rep.err : EPROTO));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	snprintf(name, size, "%s", rep.name);
	return fd;
}
