/*
 * Take the client's terminal back from everyone else (tty_revoke.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include "tty_revoke.h"

int
gw_caps_drop(void)
{
	cap_t none = cap_init(); /* all clear */
	int rc = -1;

	if (none != NULL && cap_set_proc(none) == 0)
		rc = 0;
	if (none != NULL)
		cap_free(none);
	return rc;
}

/* Make `cap' effective (on = 1) or not; it must be permitted. */
static int
cap_effective(cap_value_t cap, int on)
{
	cap_t c = cap_get_proc();
	int rc = -1;

	if (c != NULL &&
	    cap_set_flag(c, CAP_EFFECTIVE, 1, &cap, on ? CAP_SET : CAP_CLEAR) ==
		0 &&
	    cap_set_proc(c) == 0)
		rc = 0;
	if (c != NULL)
		cap_free(c);
	return rc;
}

static int
fail(char *why, size_t size, const char *what, int err)
{
	(void)gw_caps_drop();
	if (err != 0)
		snprintf(why, size, "%s: %s", what, strerror(err));
	else
		snprintf(why, size, "%s", what);
	return -1;
}

/* vhangup(2) of our controlling terminal, SIGHUP (ours) ignored. */
static int
hang_up(void)
{
	struct sigaction ign, old;
	int rc, e;

	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigemptyset(&ign.sa_mask);
	if (sigaction(SIGHUP, &ign, &old) != 0)
		return -1;
	if (cap_effective(CAP_SYS_TTY_CONFIG, 1) != 0)
		rc = -1, e = EPERM;
	else {
		rc = vhangup();
		e = errno;
	}
	(void)cap_effective(CAP_SYS_TTY_CONFIG, 0);
	(void)sigaction(SIGHUP, &old, NULL);
	errno = e;
	return rc;
}

/*
 * The client's terminal non-canonical, no waiting, for the moment before
 * the hang-up: a line being typed is readable then (typed_ahead).  0, or
 * -1 (errno).
 */
static int
uncooked(const struct termios *was)
{
	struct termios now = *was;

	now.c_lflag &= ~(tcflag_t)ICANON;
	now.c_cc[VMIN] = 0;
	now.c_cc[VTIME] = 0;
	return tcsetattr(STDIN_FILENO, TCSANOW, &now);
}

/* What the client typed ahead, up to cap bytes (uncooked() first). */
static size_t
typed_ahead(char *typed, size_t cap)
{
	size_t len = 0;

	while (len < cap) {
		ssize_t n = read(STDIN_FILENO, typed + len, cap - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	return len;
}

/*
 * The terminal's node made the recorder's own: owner its account, mode
 * 0600 (CAP_CHOWN for the chown; the mode as its owner).  From then on no
 * process of the user's opens it -- by its /dev/pts path, another mount
 * of it or /proc/PID/fd -- nor gives it back (only its owner may chmod
 * it); the node goes when sshd closes the pty.  0, or
 * -1 (errno).
 */
static int
take_node(int fd)
{
	struct stat st;
	int r, e;

	if (cap_effective(CAP_CHOWN, 1) != 0) {
		errno = EPERM;
		return -1;
	}
	r = fchown(fd, geteuid(), (gid_t)-1);
	e = errno;
	(void)cap_effective(CAP_CHOWN, 0);
	if (r != 0) {
		errno = e;
		return -1;
	}
	if (fchmod(fd, 0600) != 0 || fstat(fd, &st) != 0)
		return -1;
	if (st.st_uid != geteuid() || (st.st_mode & 07777) != 0600) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

/*
 * The session this process leads holds nothing but itself and `side', its
 * child (the gateway's audit side): a member of it could open /dev/tty,
 * which asks the terminal's exclusive flag only, never the node's owner,
 * while the flag is clear for our own open.  A session gains members only
 * by fork from one, and neither forks now; a child forked before the
 * gateway's exec is a child of ours too, so only the audit side's pid
 * counts.  A member /proc does not show (hidepid) cannot be told from
 * none: the audit side must be seen.  0 alone; -1 (why in msg[size]).
 */
static int
session_alone(pid_t side, char *msg, size_t size)
{
	char path[64], buf[512], *p;
	struct dirent *d;
	DIR *dir;
	long me = (long)getpid();
	int seen = 0, r = 0;

	if ((dir = opendir("/proc")) == NULL) {
		snprintf(msg, size, "cannot read /proc");
		return -1;
	}
	while (r == 0 && (d = readdir(dir)) != NULL) {
		long pid = strtol(d->d_name, &p, 10), ppid, pgrp, sid;
		ssize_t n;
		int fd;

		if (*p != '\0' || pid <= 0 || pid == me)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue; /* gone */
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		/* ") STATE PPID PGRP SESSION" */
		if ((p = strrchr(buf, ')')) == NULL ||
		    sscanf(p + 1, " %*c %ld %ld %ld", &ppid, &pgrp, &sid) !=
			3 ||
		    sid != me)
			continue;
		if (pid == (long)side && ppid == me)
			seen = 1;
		else {
			snprintf(msg, size,
			    "process %ld is in the session of the client's "
			    "terminal (a start-up file's? one left by the "
			    "caller?)",
			    pid);
			r = -1;
		}
	}
	closedir(dir);
	if (r == 0 && !seen) {
		snprintf(msg, size,
		    "the session's processes cannot be seen in /proc "
		    "(hidepid?)");
		r = -1;
	}
	return r;
}

int
gw_tty_revoke(pid_t side, char *typed, size_t cap, size_t *len, char *why,
    size_t size)
{
	char path[64], msg[160];
	struct stat was, now;
	struct termios modes;
	pid_t sid;
	int fd, same[3], excl;

	*len = 0;
	if (fstat(STDIN_FILENO, &was) != 0 || !S_ISCHR(was.st_mode))
		return fail(why, size, "the client's terminal is not one", 0);
	if (ioctl(STDIN_FILENO, TIOCGSID, &sid) != 0 || sid != getpid() ||
	    getsid(0) != getpid())
		return fail(why, size,
		    "the client's terminal is not the controlling terminal "
		    "of the session sshd started (is the ForceCommand \"exec "
		    "/usr/bin/awsmfa-gateway\"?)",
		    0);
	/* A pty's slave (/dev/pts/N, majors 136-143), never a master or the
	 * devpts ptmx node, which are not a session's to take. */
	if (ttyname_r(STDIN_FILENO, path, sizeof(path)) != 0 ||
	    strncmp(path, "/dev/pts/", 9) != 0 || path[9] == '\0' ||
	    strspn(path + 9, "0123456789") != strlen(path + 9) ||
	    major(was.st_rdev) < 136 || major(was.st_rdev) > 143)
		return fail(why, size, "the client's terminal is not a pty", 0);
	for (int i = 0; i < 3; i++) {
		struct stat st;

		same[i] = fstat(i, &st) == 0 && S_ISCHR(st.st_mode) &&
		    st.st_rdev == was.st_rdev;
	}
	/* Non-canonical from here to the reopen: what the client types
	 * meanwhile is read just before the hang-up (which discards the
	 * input queue), or stays queued after it and is pushed as a line
	 * when the modes are set back. */
	if (tcgetattr(STDIN_FILENO, &modes) != 0 || uncooked(&modes) != 0)
		return fail(why, size, "cannot set the terminal's modes",
		    errno);
	/* No new open of it by the user from here on, whatever flags a
	 * descriptor of theirs from before sets or clears; then every such
	 * descriptor is hung up. */
	if (take_node(STDIN_FILENO) != 0) {
		int e = errno;

		(void)tcsetattr(STDIN_FILENO, TCSANOW, &modes);
		return fail(why, size,
		    "cannot take the client's terminal (chown; is the "
		    "recorder's capability cap_chown set? see "
		    "awsmfa-recorder(8))",
		    e);
	}
	if (session_alone(side, msg, sizeof(msg)) != 0) {
		(void)tcsetattr(STDIN_FILENO, TCSANOW, &modes);
		return fail(why, size, msg, 0);
	}
	*len = typed_ahead(typed, cap);
	(void)ioctl(STDIN_FILENO, TIOCNXCL); /* for our own open below */
	if (hang_up() != 0)
		return fail(why, size,
		    "cannot hang up the client's terminal (vhangup; is the "
		    "recorder's capability cap_sys_tty_config set? see "
		    "awsmfa-recorder(8))",
		    errno);
	if (gw_caps_drop() != 0)
		return fail(why, size, "cannot drop the capabilities", errno);
	/* As its owner now; EBUSY: a descriptor from before set the
	 * exclusive flag again before the hang-up (refused, not raced). */
	if ((fd = open(path, O_RDWR | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return fail(why, size,
		    "cannot open the client's terminal again", errno);
	if (fstat(fd, &now) != 0 || !S_ISCHR(now.st_mode) ||
	    now.st_rdev != was.st_rdev || now.st_uid != geteuid()) {
		close(fd);
		return fail(why, size,
		    "the client's terminal is not the one it was", 0);
	}
	if (ioctl(fd, TIOCEXCL) != 0 || ioctl(fd, TIOCGEXCL, &excl) != 0 ||
	    !excl || tcsetattr(fd, TCSANOW, &modes) != 0 ||
	    ioctl(fd, TIOCSCTTY, 0) != 0) {
		int e = errno;

		close(fd);
		return fail(why, size,
		    "cannot make the client's terminal exclusive and "
		    "controlling again",
		    e);
	}
	for (int i = 0; i < 3; i++)
		if (same[i] && dup2(fd, i) != i) {
			int e = errno;

			close(fd);
			return fail(why, size, "dup2", e);
		}
	close(fd);
	return 0;
}
