/*
 * What the gateway resets before it does anything else; see startup.h.
 *
 * The gateway writes the audit trail with a group its caller does not
 * have, so nothing the caller hands down may shape what it writes or
 * where.  A process inherits, and the caller chooses:
 *
 *  1. descriptors 0, 1 and 2.  Closed, the next open() takes their
 *     number: the audit log would become stderr and the gateway's own
 *     messages (which quote the user's input) would land in it.  Each one
 *     closed is opened on /dev/null.
 *  2. signal dispositions and the signal mask.  Ignored signals stay
 *     ignored across exec and blocked ones stay blocked: an ignored or
 *     blocked SIGTERM would keep the relay from ending, an ignored SIGXFSZ
 *     turns a write past the file-size limit into a short write.  All go
 *     back to the default and the mask is emptied; then the gateway
 *     ignores SIGPIPE (the relay handles EPIPE) and SIGXFSZ (a write past
 *     the limit then fails with EFBIG and is handled; audit.c checks the
 *     limit before each record, so a record is written whole or not at
 *     all).
 *  3. resource limits.  RLIMIT_FSIZE cuts a write short at the chosen
 *     size: the soft limit is raised to the hard one (a set-group-ID
 *     program can go no further), and audit.c writes nothing that the hard
 *     limit could cut.  RLIMIT_CORE goes to 0: no core image of a process
 *     that held the audit log open.  The others (open files, memory, CPU)
 *     can only make the gateway fail, and every failure refuses service.
 *  4. dumpable.  The caller must not ptrace the gateway and write through
 *     its audit descriptor.  The kernel clears the flag for a set-group-ID
 *     program unless fs.suid_dumpable says otherwise; it is cleared here
 *     whatever the sysctl says (exec of the login shell sets it again).
 *  5. the umask.  The only files created are recordings (by the recorder),
 *     whose mode it sets whatever the umask (recording_dir.c); anything
 *     else it might create is its own: 077.  A recording's writes follow
 *     (3): checked against the hard RLIMIT_FSIZE line by line, SIGXFSZ
 *     ignored, so a limit ends the recording (recording_failure) and never
 *     cuts a line.
 *  6. the environment.  Every library the gateway links reads variables
 *     of its own: glibc (TZ for syslog's time stamps, LANG and LC_* for
 *     messages, the resolver's LOCALDOMAIN, RES_OPTIONS and HOSTALIASES,
 *     GCONV_PATH, MALLOC_* and GLIBC_TUNABLES, ...), the NSS modules,
 *     json-c, OpenSSL.  Under AT_SECURE glibc drops some of these but not
 *     all (TZ, LANG and LC_* stay).  The gateway reads only
 *     SSH_CONNECTION and SSH_ORIGINAL_COMMAND: those two are kept, the
 *     process runs with an empty environment, and the caller's is handed
 *     on only to the login shell, which is the user's own.
 *
 * The current directory, the priority and the like change nothing the
 * gateway writes: every path it opens is absolute.
 *
 * The recorder (recorder.c, set-user-ID and set-group-ID to its own
 * account) is a second entry point and calls the same function first:
 * all of the above holds for it, with "the recording" for "the audit log";
 * the caller's environment goes on only to the shell it runs as the user.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "startup.h"

extern char **environ;

static char *empty_env[] = { NULL };

static int
std_fds(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		int nfd;

		if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
			continue;
		if ((nfd = open("/dev/null", O_RDWR | O_NOCTTY)) != fd) {
			if (nfd >= 0)
				close(nfd);
			return -1;
		}
	}
	return 0;
}

static int
signals(void)
{
	struct sigaction sa;
	sigset_t none;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (int sig = 1; sig < NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		/* Numbers the C library keeps for itself fail: fine. */
		(void)sigaction(sig, &sa, NULL);
	}
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) != 0)
		return -1;
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) != 0 ||
	    sigaction(SIGXFSZ, &sa, NULL) != 0)
		return -1;
	return 0;
}

static int
limits(struct gw_startup *st)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_FSIZE, &st->fsize) != 0 ||
	    getrlimit(RLIMIT_CORE, &st->core) != 0)
		return -1;
	rl.rlim_cur = rl.rlim_max = st->fsize.rlim_max;
	if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
		return -1;
	rl.rlim_cur = 0;
	rl.rlim_max = st->core.rlim_max;
	if (setrlimit(RLIMIT_CORE, &rl) != 0)
		return -1;
	return 0;
}

int
gw_startup_sanitize(struct gw_startup *st)
{
	const char *v;

	memset(st, 0, sizeof(*st));
	st->env = environ;
	if (std_fds() != 0 || signals() != 0 || limits(st) != 0 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return -1;
	st->umask = umask(077);
	if ((v = getenv("SSH_CONNECTION")) != NULL &&
	    (st->ssh_connection = strdup(v)) == NULL)
		return -1;
	if ((v = getenv("SSH_ORIGINAL_COMMAND")) != NULL &&
	    (st->ssh_original_command = strdup(v)) == NULL)
		return -1;
	environ = empty_env;
	return 0;
}

void
gw_startup_restore(const struct gw_startup *st)
{
	signal(SIGPIPE, SIG_DFL);
	signal(SIGXFSZ, SIG_DFL);
	(void)setrlimit(RLIMIT_FSIZE, &st->fsize);
	(void)setrlimit(RLIMIT_CORE, &st->core);
	umask(st->umask);
}
