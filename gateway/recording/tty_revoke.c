/*
 * Take the client's terminal back from everyone else (tty_revoke.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/fsuid.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
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
 * What the client typed ahead, up to cap bytes: non-canonical for the
 * moment (a line being typed is readable then), no waiting.  The terminal
 * keeps that setting until restore_modes().
 */
static size_t
typed_ahead(char *typed, size_t cap, const struct termios *was)
{
	struct termios now = *was;
	size_t len = 0;

	now.c_lflag &= ~(tcflag_t)ICANON;
	now.c_cc[VMIN] = 0;
	now.c_cc[VTIME] = 0;
	if (tcsetattr(STDIN_FILENO, TCSANOW, &now) != 0)
		return 0;
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
 * The node `path' opened afresh, past the exclusive flag (CAP_SYS_ADMIN)
 * and its mode (the user's file-system uid: the real uid); -1 otherwise.
 */
static int
reopen(const char *path)
{
	uid_t mine = geteuid();
	int fd = -1, e = EPERM;

	(void)setfsuid(getuid());
	if ((uid_t)setfsuid((uid_t)-1) == getuid() &&
	    cap_effective(CAP_SYS_ADMIN, 1) == 0) {
		fd = open(path, O_RDWR | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC);
		e = errno;
	}
	(void)cap_effective(CAP_SYS_ADMIN, 0);
	(void)setfsuid(mine);
	if ((uid_t)setfsuid((uid_t)-1) != mine) {
		if (fd >= 0)
			close(fd);
		errno = EPERM;
		return -1;
	}
	errno = e;
	return fd;
}

/*
 * An inotify watch of the node's opens (IN_OPEN: every successful open(2)
 * of the inode, by any path or mount of it), added as the user (read
 * permission on the node, the user's); -1 otherwise.
 */
static int
watch_opens(const char *path)
{
	uid_t mine = geteuid();
	int ifd, wd = -1;

	if ((ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0)
		return -1;
	(void)setfsuid(getuid());
	if ((uid_t)setfsuid((uid_t)-1) == getuid())
		wd = inotify_add_watch(ifd, path, IN_OPEN);
	(void)setfsuid(mine);
	if (wd < 0 || (uid_t)setfsuid((uid_t)-1) != mine) {
		close(ifd);
		return -1;
	}
	return ifd;
}

/* The opens the watch has seen since it was last read; -1 when they
 * cannot be counted (an overflow, an error). */
static int
opens_seen(int ifd)
{
	char buf[4096]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	int opens = 0;

	for (;;) {
		ssize_t n = read(ifd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return opens;
		if (n <= 0)
			return -1;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const void *)p;

			if (ev->mask & IN_Q_OVERFLOW)
				return -1;
			if (ev->mask & IN_OPEN)
				opens++;
			p += sizeof(*ev) + ev->len;
		}
	}
}

/*
 * Hang up every open of the terminal and open it afresh, as the only live
 * descriptor of it.  The exclusive flag alone does not make that so: a
 * descriptor opened before the flag was set can clear it (TIOCNXCL needs
 * no privilege) just before the hang-up, and its process then open the
 * terminal again between the hang-up and our open, and set the flag
 * itself.  So the opens are counted (inotify, `ifd'): after the hang-up
 * and our open, with the flag set again, ours must be the only one; any
 * other is hung up with ours in the next round.  A few rounds, then
 * fail closed.  Our fresh descriptor, or -1 (why[size]).
 */
static int
only_opener(int ifd, const char *path, const struct stat *was, char *why,
    size_t size)
{
	struct stat now;
	int fd = -1, excl;

	for (int round = 0; round < 3; round++) {
		if (opens_seen(ifd) < 0) /* what came before: hung up below */
			break;
		if (hang_up() != 0)
			return fail(why, size,
			    "cannot hang up the client's terminal (vhangup; is "
			    "the recorder's capability cap_sys_tty_config set? "
			    "see awsmfa-recorder(8))",
			    errno);
		if (fd >= 0)
			close(fd);
		if ((fd = reopen(path)) < 0)
			return fail(why, size,
			    "cannot open the client's terminal again (is the "
			    "recorder's capability cap_sys_admin set? see "
			    "awsmfa-recorder(8))",
			    errno);
		if (fstat(fd, &now) != 0 || !S_ISCHR(now.st_mode) ||
		    now.st_rdev != was->st_rdev) {
			close(fd);
			return fail(why, size,
			    "the client's terminal is not the one it was", 0);
		}
		/* Ours again (the next round's hang-up needs it), exclusive
		 * from here on, then: was ours the only open? */
		if (ioctl(fd, TIOCSCTTY, 0) != 0 || ioctl(fd, TIOCEXCL) != 0 ||
		    ioctl(fd, TIOCGEXCL, &excl) != 0 || !excl) {
			int e = errno;

			close(fd);
			return fail(why, size,
			    "cannot make the client's terminal controlling and "
			    "exclusive again",
			    e);
		}
		if (opens_seen(ifd) == 1)
			return fd;
	}
	if (fd >= 0)
		close(fd);
	return fail(why, size,
	    "another process kept opening the client's terminal while it "
	    "was taken back",
	    0);
}

int
gw_tty_revoke(char *typed, size_t cap, size_t *len, char *why, size_t size)
{
	char path[64];
	struct stat was;
	struct termios modes;
	pid_t sid;
	int fd, ifd, same[3];

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
	if (ttyname_r(STDIN_FILENO, path, sizeof(path)) != 0 ||
	    strncmp(path, "/dev/pts/", 9) != 0)
		return fail(why, size, "the client's terminal is not a pty", 0);
	for (int i = 0; i < 3; i++) {
		struct stat st;

		same[i] = fstat(i, &st) == 0 && S_ISCHR(st.st_mode) &&
		    st.st_rdev == was.st_rdev;
	}
	if (tcgetattr(STDIN_FILENO, &modes) != 0)
		return fail(why, size, "cannot read the terminal's modes",
		    errno);
	*len = typed_ahead(typed, cap, &modes);
	if ((ifd = watch_opens(path)) < 0)
		return fail(why, size,
		    "cannot watch the client's terminal for opens (inotify)",
		    errno);
	fd = only_opener(ifd, path, &was, why, size);
	close(ifd);
	if (fd < 0)
		return -1; /* capabilities dropped, why[] said */
	if (gw_caps_drop() != 0) {
		close(fd);
		return fail(why, size, "cannot drop the capabilities", errno);
	}
	if (tcsetattr(fd, TCSANOW, &modes) != 0) {
		close(fd);
		return fail(why, size,
		    "the client's terminal's modes cannot be set again", errno);
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
