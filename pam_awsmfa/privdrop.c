/* Doing things as the user; see privdrop.h. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "privdrop.h"
#include "secure_file.h"

int
amfa_target_lookup(const char *name, struct amfa_target *t)
{
	struct passwd pw, *res = NULL;
	char buf[16384];

	if (getpwnam_r(name, &pw, buf, sizeof(buf), &res) != 0 || res == NULL) {
		amfa_log(LOG_ERR, "user %s: not in the password database",
		    name);
		return -1;
	}
	if (pw.pw_dir == NULL || pw.pw_dir[0] != '/' ||
	    strlen(pw.pw_dir) >= sizeof(t->home)) {
		amfa_log(LOG_ERR, "user %s: unusable home directory", name);
		return -1;
	}
	t->uid = pw.pw_uid;
	t->gid = pw.pw_gid;
	snprintf(t->home, sizeof(t->home), "%s", pw.pw_dir);
	return 0;
}

/* In the child: become the user for good, or fail. */
static int
drop(const struct amfa_target *t)
{
	if (geteuid() != 0)
		return getuid() == t->uid && geteuid() == t->uid ? 0 : -1;
	if (setgroups(1, &t->gid) != 0 ||
	    setresgid(t->gid, t->gid, t->gid) != 0 ||
	    setresuid(t->uid, t->uid, t->uid) != 0)
		return -1;
	/* Root must really be gone. */
	if (t->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
		return -1;
	if (getuid() != t->uid || geteuid() != t->uid || getgid() != t->gid)
		return -1;
	return 0;
}

static void
child(const struct amfa_target *t, int (*fn)(void *, int), void *arg, int fd)
{
	prctl(PR_SET_DUMPABLE, 0);
	if (drop(t) != 0)
		_exit(126);
	_exit(fn(arg, fd) == 0 ? 0 : 1);
}

static int
read_bounded(int fd, size_t max, char **out, size_t *outlen)
{
	char *buf;
	size_t n = 0;
	ssize_t r;

	if ((buf = malloc(max + 1)) == NULL)
		return -1;
	for (;;) {
		if (n == max) {
			char extra;
			r = read(fd, &extra, 1);
			if (r == 0)
				break;
			amfa_wipe_free(buf, max + 1);
			return -1; /* more than allowed */
		}
		r = read(fd, buf + n, max - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			amfa_wipe_free(buf, max + 1);
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	return 0;
}

int
amfa_run_as(const struct amfa_target *t, int (*fn)(void *arg, int fd),
    void *arg, size_t max, char **out, size_t *outlen)
{
	int p[2], status = 0, rr;
	pid_t pid;

	*out = NULL;
	*outlen = 0;
	if (pipe2(p, O_CLOEXEC) != 0)
		return -1;
	if ((pid = fork()) < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		close(p[0]);
		child(t, fn, arg, p[1]);
	}
	close(p[1]);
	rr = read_bounded(p[0], max, out, outlen);
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno == ECHILD) {
			/* The host ignores SIGCHLD: the status is lost.  Callers
			 * accept only output that ends with their end marker. */
			status = 0;
			break;
		}
		if (errno != EINTR) {
			status = -1;
			break;
		}
	}
	if (rr != 0 || status == -1 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		if (status != -1 && WIFEXITED(status) &&
		    WEXITSTATUS(status) == 126)
			amfa_log(LOG_ERR, "could not drop privileges to uid %u",
			    (unsigned)t->uid);
		if (*out != NULL)
			amfa_wipe_free(*out, *outlen + 1);
		*out = NULL;
		*outlen = 0;
		return -1;
	}
	return 0;
}
