/* Running the code checker; see pam_chkcode.h. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "chkcode_proto.h"
#include "log.h"
#include "pam_chkcode.h"

#define MAX_ARGS 8

/* In the child: only async-signal-safe calls. */
static void
child(const char *path, char *const *argv, int in, int out)
{
	static char *const empty_env[] = { NULL };
	int null;

	if (dup2(in, 0) != 0 || dup2(out, 1) != 1)
		_exit(127);
	null = open("/dev/null", O_WRONLY | O_NOCTTY);
	if (null < 0 || dup2(null, 2) != 2)
		_exit(127);
	closefrom(3);
	execve(path, argv, empty_env);
	_exit(127);
}

/* Write all of `input'; a checker gone early is an error, never the
 * host's death by SIGPIPE. */
static int
write_input(int fd, const char *input)
{
	size_t len = strlen(input), off = 0;
	sigset_t pipe_set, old;
	struct timespec zero = { 0, 0 };
	ssize_t n;
	int r = 0;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	while (off < len) {
		n = write(fd, input + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -1;
			break;
		}
		off += (size_t)n;
	}
	/* The SIGPIPE this thread caused, if any, is not the host's. */
	if (r != 0 && !sigismember(&old, SIGPIPE))
		(void)sigtimedwait(&pipe_set, NULL, &zero);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r;
}

static void
read_notice(int fd, char *notice, size_t size)
{
	size_t len = 0;
	char sink[256];
	ssize_t n;

	for (;;) {
		if (len + 1 < size)
			n = read(fd, notice + len, size - 1 - len);
		else
			n = read(fd, sink, sizeof(sink));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (len + 1 < size)
			len += (size_t)n;
	}
	notice[len] = '\0';
}

int
amfa_chkcode_run(const char *path, const char *const *args, const char *input,
    char *notice, size_t notice_size)
{
	char *argv[MAX_ARGS + 2];
	struct sigaction chld, dfl;
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, status, r = -1, n = 0;
	int chld_saved = 0;
	pid_t pid, w;

	notice[0] = '\0';
	argv[n++] = (char *)path;
	for (; *args != NULL && n <= MAX_ARGS; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	/* A host that ignores SIGCHLD has its children reaped by the
	 * kernel: the checker's status would be lost.  Default for the
	 * call. */
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	if (sigaction(SIGCHLD, NULL, &chld) == 0 &&
	    (chld.sa_handler == SIG_IGN || (chld.sa_flags & SA_NOCLDWAIT)) &&
	    sigaction(SIGCHLD, &dfl, NULL) == 0)
		chld_saved = 1;
	if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
		amfa_log(LOG_ERR, "cannot make pipes for %s: %s", path,
		    strerror(errno));
		goto out;
	}
	if ((pid = fork()) < 0) {
		amfa_log(LOG_ERR, "cannot fork for %s: %s", path,
		    strerror(errno));
		goto out;
	}
	if (pid == 0)
		child(path, argv, in[0], out[1]);
	close(in[0]);
	close(out[1]);
	in[0] = out[1] = -1;
	if (input != NULL && write_input(in[1], input) != 0)
		amfa_log(LOG_NOTICE, "%s did not take the code", path);
	close(in[1]);
	in[1] = -1;
	read_notice(out[0], notice, notice_size);
	while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
		;
	if (w != pid) {
		amfa_log(LOG_ERR, "%s: its status is lost: %s", path,
		    strerror(errno));
	} else if (!WIFEXITED(status) || WEXITSTATUS(status) == 127) {
		amfa_log(LOG_ERR, "%s did not run to its end (status %d)", path,
		    status);
	} else {
		r = WEXITSTATUS(status);
	}
out:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
	}
	if (chld_saved)
		(void)sigaction(SIGCHLD, &chld, NULL);
	return r;
}
