/*
 * awsmfa-audit-writer: the audit chain's record writer, run as root by
 * systemd (awsmfa-audit-writer(8); the protocol is in audit_writer.h).
 *
 * Why it exists: every writer of a chained log takes a lock on the chain
 * head.  When the set-group-ID gateway wrote its own records, the head had
 * to be its group's to open, and so any member of the group could hold
 * the lock (an open-file-description lock, which has no process to end;
 * or a pool of lockers queued behind each other) and refuse every record,
 * and with it every login.  Now the gateway hands its records to this
 * process, the head is root's alone (0600), and only root's processes
 * take its lock: this one, the module (as root) and the uploader.
 *
 * One process, one thread, poll(2): each ready client gets one record
 * written per round, so a client that floods the writer gets its share
 * and no more.  A client is taken when its credentials at connect(2) are
 * root's or have the log's group as the effective one (the set-group-ID
 * gateway), at most PER_UID connections per user and MAX_CLIENTS in all
 * (make_room: when all are held, the user holding the most gives one up).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include <json-c/json.h>

#include "audit.h"
#include "audit_writer.h"
#include "evidence_conf.h"
#include "log.h"
#include "root_service.h"
#include "secure_file.h"

#define MAX_CLIENTS 1000
#define PER_UID	    64
/* The floor the gateway keeps (GW_AUDIT_FLOOR_MAX, gateway/audit.h): a
 * part of the log's file system, at most FLOOR_MAX. */
#define FLOOR_PART 40
#define FLOOR_MAX  (256ULL * 1024 * 1024)

struct client {
	int fd;
	uid_t uid;
	pid_t pid;
	unsigned long long since; /* the order it was taken in */
};

static unsigned long long taken;

/*
 * Listen at `path' (the log's name and AMFA_WRITER_SUFFIX): a socket made
 * root's, of group `gid', mode 0660 as it is bound (the umask and the
 * effective group at bind(2)), never changed by name afterwards.
 */
static int
listen_at(const char *path, gid_t gid)
{
	struct sockaddr_un sa;
	struct stat st;
	mode_t old;
	int fd, r;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		amfa_log(LOG_ERR, "%s: the socket's path is too long", path);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path));
	/* A socket left by the writer before (or anything planted under its
	 * name, where the log's group may add names): gone. */
	if (lstat(path, &st) == 0 && !S_ISDIR(st.st_mode) &&
	    unlink(path) != 0) {
		amfa_log(LOG_ERR, "%s: cannot remove: %s", path,
		    strerror(errno));
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK,
		 0)) < 0) {
		amfa_log(LOG_ERR, "socket: %s", strerror(errno));
		return -1;
	}
	old = umask(0117);
	if (setegid(gid) != 0) {
		amfa_log(LOG_ERR, "setegid %u: %s", (unsigned)gid,
		    strerror(errno));
		r = -1;
	} else {
		r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
		if (r != 0)
			amfa_log(LOG_ERR, "%s: bind: %s", path,
			    strerror(errno));
		if (setegid(0) != 0)
			abort();
	}
	umask(old);
	if (r == 0 && listen(fd, 128) != 0) {
		amfa_log(LOG_ERR, "%s: listen: %s", path, strerror(errno));
		r = -1;
	}
	if (r != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* As many descriptors as the hard limit allows (systemd sets 1024 soft). */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int
answer(int fd, int32_t err)
{
	ssize_t n;

	do
		n = send(fd, &err, sizeof(err), MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof(err) ? 0 : -1;
}

/*
 * Is `buf' a record `c' may have written?  One line of one JSON object,
 * parsed whole (strict, UTF-8, 8 levels at most), no control character
 * (a terminal's escape sequences: JSON escapes them, and the gateway's
 * records come escaped); at least one member, and none named as the
 * chain's own fields, which the writer puts first (a second "seq" would
 * read as the record's own to a parser that keeps the last of two names).
 * A record of a connection that is not root's names its sender: "uid",
 * the connection's (the gateway's records carry the uid it runs as), so
 * that a member of the group cannot write another user's records.  0, or
 * EINVAL, or EPERM.
 */
static int32_t
record_check(const char *buf, size_t len, const struct client *c)
{
	struct json_tokener *tok;
	struct json_object *o, *uid;
	int32_t err = EINVAL;

	if (len < 2 || buf[0] != '{' || buf[len - 1] != '}' ||
	    strlen(buf) != len)
		return EINVAL;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)buf[i] < 0x20)
			return EINVAL;
	if ((tok = json_tokener_new_ex(8)) == NULL)
		return EINVAL;
	json_tokener_set_flags(tok,
	    JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, buf, (int)len);
	if (o != NULL && json_tokener_get_error(tok) == json_tokener_success &&
	    json_tokener_get_parse_end(tok) == len &&
	    json_object_is_type(o, json_type_object) &&
	    json_object_object_length(o) > 0 &&
	    !json_object_object_get_ex(o, "seq", NULL) &&
	    !json_object_object_get_ex(o, "prev", NULL)) {
		err = 0;
		if (c->uid != 0 &&
		    (!json_object_object_get_ex(o, "uid", &uid) ||
			!json_object_is_type(uid, json_type_int) ||
			json_object_get_int64(uid) != (int64_t)c->uid))
			err = EPERM;
	}
	json_object_put(o);
	json_tokener_free(tok);
	return err;
}

/*
 * Close a client's connection.  Descriptors passed in messages still
 * queued there (SCM_RIGHTS) would be released by the process that closes
 * it, and a release may wait: close(2) of a TCP socket with unsent data
 * and SO_LINGER waits for its linger time, and every record with it.  So
 * the connection is closed by a child of this one that exits at once
 * (when a process exits, nothing it releases lingers); this process lets
 * go of it first, so the child's is the last hold.
 */
static void
let_go(int fd)
{
	int p[2];
	pid_t pid;
	char c;

	(void)shutdown(fd, SHUT_RDWR);
	if (pipe2(p, O_CLOEXEC) != 0) {
		amfa_log(LOG_ERR, "pipe: %s", strerror(errno));
		close(fd);
		return;
	}
	if ((pid = fork()) == 0) {
		close(p[1]);
		while (read(p[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	if (pid < 0)
		amfa_log(LOG_ERR, "fork: %s", strerror(errno));
	close(fd);
	close(p[0]);
	close(p[1]);
}

/*
 * Does a record of `len' bytes leave the floor free on the log's file
 * system?  Root writes the records, past any quota and into root's
 * reserve, and a full file system refuses every login (the module finds
 * no room for its record: no record, no login).  The gateway keeps to
 * this floor before it sends, but a member of the log's group may connect
 * without it: so the records that are not root's stop here.
 */
static int
above_floor(const char *log_path, size_t len)
{
	struct statvfs vfs;
	unsigned long long size, avail, keep, need;

	if (statvfs(log_path, &vfs) != 0)
		return 0;
	size = (unsigned long long)vfs.f_blocks * vfs.f_frsize;
	avail = (unsigned long long)vfs.f_bavail * vfs.f_frsize;
	keep = size / FLOOR_PART < FLOOR_MAX ? size / FLOOR_PART : FLOOR_MAX;
	/* The chain's fields and the newline, and the append's slack. */
	need = (unsigned long long)len + 101 + AMFA_APPEND_SLACK;
	return avail >= keep && avail - keep >= need;
}

/* A client's next record: written, answered.  0 keep the client, -1 drop
 * it. */
static int
serve(const char *log_path, struct client *c)
{
	char buf[AMFA_AUDIT_RECORD_MAX + 1];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) - 1 };
	struct msghdr mh;
	ssize_t n;
	int32_t err = 0;

	/* Looked at first: a message that carries descriptors (SCM_RIGHTS;
	 * MSG_CTRUNC, as no room is given for them) is never taken, as
	 * taking it would release them here (let_go). */
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	do
		n = recvmsg(c->fd, &mh, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN ? 0 : -1;
	if (mh.msg_flags & MSG_CTRUNC) {
		amfa_log(LOG_WARNING,
		    "uid %u (pid %ld) sent descriptors: connection closed",
		    (unsigned)c->uid, (long)c->pid);
		return -1;
	}
	if (n == 0)
		return -1;
	/* The same message, taken (only this process takes from the
	 * queue). */
	if (recv(c->fd, buf, sizeof(buf) - 1, MSG_TRUNC | MSG_DONTWAIT) != n)
		return -1;
	if ((size_t)n > sizeof(buf) - 1)
		err = EMSGSIZE;
	else {
		buf[n] = '\0';
		err = record_check(buf, (size_t)n, c);
		if (err == 0 && c->uid != 0 &&
		    !above_floor(log_path, (size_t)n))
			err = ENOSPC;
		else if (err == 0 && amfa_audit_append(log_path, buf) != 0)
			err = EIO;
	}
	if (err != 0)
		amfa_log(LOG_WARNING,
		    "record of uid %u (pid %ld) not written: %s",
		    (unsigned)c->uid, (long)c->pid, strerror(err));
	return answer(c->fd, err);
}

/*
 * All MAX_CLIENTS connections are held (any local user may run the
 * set-group-ID gateway, which connects, and stop it; sixteen users at
 * PER_UID each were enough): the oldest connection of the user who holds
 * the most goes, if that is more than the newcomer's user holds (`same'),
 * so that holding connections takes as many users as there are places.
 * 0 a place was made, -1 not.
 */
static int
make_room(struct client *cl, int *ncl, int same)
{
	int most = 0, victim = -1;

	for (int i = 0; i < *ncl; i++) {
		int n = 0;

		for (int j = 0; j < *ncl; j++)
			n += cl[j].uid == cl[i].uid;
		if (n > most ||
		    (n == most && victim >= 0 &&
			cl[i].since < cl[victim].since)) {
			most = n;
			victim = i;
		}
	}
	if (victim < 0 || most <= same + 1)
		return -1;
	amfa_log(LOG_WARNING,
	    "every connection is held: the oldest of uid %u (pid %ld), which "
	    "holds %d, closed for another user's",
	    (unsigned)cl[victim].uid, (long)cl[victim].pid, most);
	let_go(cl[victim].fd);
	cl[victim] = cl[--*ncl];
	return 0;
}

/* A new connection, if its credentials may write and it fits. */
static void
take(int lfd, gid_t gid, struct client *cl, int *ncl)
{
	struct ucred peer;
	socklen_t len = sizeof(peer);
	int fd, same = 0;

	if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0 ||
	    (peer.uid != 0 && peer.gid != gid)) {
		amfa_log(LOG_WARNING,
		    "connection of uid %u gid %u (pid %ld) refused: "
		    "not root, and not the log's group",
		    (unsigned)peer.uid, (unsigned)peer.gid, (long)peer.pid);
		let_go(fd);
		return;
	}
	for (int i = 0; i < *ncl; i++)
		same += cl[i].uid == peer.uid;
	if (peer.uid != 0 && same >= PER_UID) {
		amfa_log(LOG_WARNING,
		    "connection of uid %u (pid %ld) refused: too many "
		    "connections of that user",
		    (unsigned)peer.uid, (long)peer.pid);
		let_go(fd);
		return;
	}
	if (*ncl >= MAX_CLIENTS && make_room(cl, ncl, same) != 0) {
		amfa_log(LOG_WARNING,
		    "connection of uid %u (pid %ld) refused: too many "
		    "connections",
		    (unsigned)peer.uid, (long)peer.pid);
		let_go(fd);
		return;
	}
	cl[*ncl].fd = fd;
	cl[*ncl].uid = peer.uid;
	cl[*ncl].pid = peer.pid;
	cl[*ncl].since = ++taken;
	(*ncl)++;
}

static int
run(const char *log_path)
{
	static struct client cl[MAX_CLIENTS];
	static struct pollfd pf[MAX_CLIENTS + 1];
	char *sock_path;
	struct stat st;
	int lfd, ncl = 0, np;

	if (lstat(log_path, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_uid != 0) {
		amfa_log(LOG_ERR, "audit_log %s: not a root-owned regular file",
		    log_path);
		return 1;
	}
	if (asprintf(&sock_path, "%s%s", log_path, AMFA_WRITER_SUFFIX) < 0)
		return 1;
	if ((lfd = listen_at(sock_path, st.st_gid)) < 0) {
		free(sock_path);
		return 1;
	}
	amfa_log(LOG_NOTICE, "%s: writing the records of root and group %u",
	    sock_path, (unsigned)st.st_gid);
	while (!amfa_service_stopping) {
		pf[0].fd = lfd;
		pf[0].events = POLLIN;
		for (int i = 0; i < ncl; i++) {
			pf[i + 1].fd = cl[i].fd;
			pf[i + 1].events = POLLIN;
			pf[i + 1].revents = 0;
		}
		np = ncl;
		if (poll(pf, (nfds_t)np + 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			amfa_log(LOG_ERR, "poll: %s", strerror(errno));
			break;
		}
		/* Each ready client once, then the new ones. */
		for (int i = np - 1; i >= 0; i--) {
			short re = pf[i + 1].revents;

			if (re == 0)
				continue;
			if ((re & POLLIN) ?
				serve(log_path, &cl[i]) == 0 :
				(re & (POLLHUP | POLLERR | POLLNVAL)) == 0)
				continue;
			let_go(cl[i].fd);
			cl[i] = cl[--ncl];
		}
		if (pf[0].revents & POLLIN)
			take(lfd, st.st_gid, cl, &ncl);
	}
	/* Only our own socket: another writer may have bound the name since. */
	if (lstat(sock_path, &st) == 0 && S_ISSOCK(st.st_mode))
		(void)unlink(sock_path);
	/* lfd is left to the exit: connections not yet taken may hold
	 * descriptors, and an exiting process's releases never linger
	 * (let_go). */
	free(sock_path);
	return 0;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: awsmfa-audit-writer [--config PATH]\n");
}

int
main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = AMFA_EVIDENCE_DEFAULT_CONFIG;
	struct amfa_evidence_conf c;
	struct sigaction sa;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config = optarg;
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
	if (amfa_root_service_start("awsmfa-audit-writer") != 0)
		return 1;
	/* let_go's children: reaped by the kernel. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGCHLD, &sa, NULL);
	raise_nofile();
	if (amfa_evidence_conf_load(config, 0, &c) != 0)
		return 3;
	if (c.audit_log == NULL) {
		amfa_log(LOG_ERR, "%s: no audit_log: nothing to write", config);
		amfa_evidence_conf_free(&c);
		return 3;
	}
	rc = run(c.audit_log);
	amfa_evidence_conf_free(&c);
	return rc;
}
