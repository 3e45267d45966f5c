/*
 * The caller guard: a hostile caller's environment, limits, signal
 * dispositions and umask are replaced for the call and put back after it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "caller_guard.h"
#include "logcap.h"
#include "secure_file.h"
#include "tap.h"

static void
on_pipe(int sig)
{
	(void)sig;
}

static mode_t
current_umask(void)
{
	mode_t m = umask(0);

	umask(m);
	return m;
}

static void
same_limit(int resource, const struct rlimit *want, const char *name)
{
	struct rlimit now;

	ok(getrlimit(resource, &now) == 0 && now.rlim_cur == want->rlim_cur &&
		now.rlim_max == want->rlim_max,
	    "%s put back", name);
}

static void
hostile_caller(void)
{
	struct rlimit fsize, nofile, core, fsize_in, nofile_in, core_in,
	    as = { 64 << 20, RLIM_INFINITY }, as_in;
	struct sigaction sa, got;
	struct amfa_guard g;

	umask(0);
	setenv("SSLKEYLOGFILE", "/tmp/amfa-keylog", 1);
	setenv("http_proxy", "http://127.0.0.1:9", 1);
	signal(SIGXFSZ, SIG_DFL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_pipe;
	sigaction(SIGPIPE, &sa, NULL);
#ifdef __SANITIZE_ADDRESS__
	/* AddressSanitizer's shadow memory needs tens of TiB of addresses. */
	as.rlim_cur = (rlim_t)1 << 46;
#endif
	/* Soft limits: any caller may lower them (hard ones: below). */
	getrlimit(RLIMIT_FSIZE, &fsize);
	getrlimit(RLIMIT_NOFILE, &nofile);
	fsize.rlim_cur = 100;
	nofile.rlim_cur = 12;
	getrlimit(RLIMIT_CORE, &core);
	core.rlim_cur = core.rlim_max;
	ok(setrlimit(RLIMIT_FSIZE, &fsize) == 0 &&
		setrlimit(RLIMIT_NOFILE, &nofile) == 0 &&
		setrlimit(RLIMIT_AS, &as) == 0 &&
		setrlimit(RLIMIT_CORE, &core) == 0,
	    "a caller's low limits");

	logcap_start();
	ok(amfa_guard_enter(&g, 1) == 0, "guard entered");
	ok(current_umask() == 077, "umask 077 for the call");
	ok(getenv("SSLKEYLOGFILE") == NULL && getenv("http_proxy") == NULL,
	    "the caller's variables are gone for the call");
	ok(getenv("PATH") != NULL &&
		strcmp(getenv("PATH"), "/usr/sbin:/usr/bin:/sbin:/bin") == 0,
	    "a fixed PATH");
	ok(getrlimit(RLIMIT_FSIZE, &fsize_in) == 0 &&
		fsize_in.rlim_cur == fsize.rlim_max,
	    "no file size limit for the call");
	ok(getrlimit(RLIMIT_NOFILE, &nofile_in) == 0 &&
		nofile_in.rlim_cur >= 1024,
	    "at least 1024 descriptors");
	ok(getrlimit(RLIMIT_AS, &as_in) == 0 && as_in.rlim_cur == RLIM_INFINITY,
	    "no address space limit");
	ok(getrlimit(RLIMIT_CORE, &core_in) == 0 && core_in.rlim_cur == 0,
	    "no core dump while secrets are in memory");
	ok(sigaction(SIGXFSZ, NULL, &got) == 0 && got.sa_handler == SIG_IGN,
	    "SIGXFSZ ignored for the call");
	ok(sigaction(SIGPIPE, NULL, &got) == 0 && got.sa_handler == SIG_IGN,
	    "SIGPIPE ignored for the call");
	amfa_guard_leave(&g);

	ok(current_umask() == 0, "the caller's umask put back");
	ok(getenv("SSLKEYLOGFILE") != NULL &&
		strcmp(getenv("SSLKEYLOGFILE"), "/tmp/amfa-keylog") == 0,
	    "the caller's environment put back");
	same_limit(RLIMIT_FSIZE, &fsize, "RLIMIT_FSIZE");
	same_limit(RLIMIT_NOFILE, &nofile, "RLIMIT_NOFILE");
	same_limit(RLIMIT_AS, &as, "RLIMIT_AS");
	same_limit(RLIMIT_CORE, &core, "RLIMIT_CORE");
	ok(sigaction(SIGXFSZ, NULL, &got) == 0 && got.sa_handler == SIG_DFL,
	    "SIGXFSZ put back");
	ok(sigaction(SIGPIPE, NULL, &got) == 0 && got.sa_handler == on_pipe,
	    "the caller's SIGPIPE handler put back");
	amfa_guard_leave(&g);
	ok(current_umask() == 0, "leaving twice changes nothing");

	/* A trusted caller (sshd, login): only the umask. */
	ok(amfa_guard_enter(&g, 0) == 0 && current_umask() == 077 &&
		getenv("SSLKEYLOGFILE") != NULL &&
		getrlimit(RLIMIT_FSIZE, &fsize_in) == 0 &&
		fsize_in.rlim_cur == fsize.rlim_cur,
	    "not secure: the umask only");
	amfa_guard_leave(&g);
	ok(current_umask() == 0, "umask put back");
	umask(022);
	setrlimit(RLIMIT_FSIZE,
	    &(struct rlimit){ fsize.rlim_max, fsize.rlim_max });
	setrlimit(RLIMIT_NOFILE,
	    &(struct rlimit){ nofile.rlim_max, nofile.rlim_max });
	setrlimit(RLIMIT_AS, &(struct rlimit){ RLIM_INFINITY, RLIM_INFINITY });
}

/* Can this process raise a hard limit (CAP_SYS_RESOURCE)? */
static int
can_raise_hard(void)
{
	struct rlimit l;
	int status;
	pid_t pid;

	if ((pid = fork()) == 0) {
		getrlimit(RLIMIT_FSIZE, &l);
		if (l.rlim_max == RLIM_INFINITY) {
			l.rlim_cur = l.rlim_max = 1 << 20;
			if (setrlimit(RLIMIT_FSIZE, &l) != 0)
				_exit(2);
		}
		l.rlim_cur = l.rlim_max = l.rlim_max + 1;
		_exit(setrlimit(RLIMIT_FSIZE, &l) == 0 ? 0 : 1);
	}
	waitpid(pid, &status, 0);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/*
 * A caller's hard limits: raised where the process may (root on a host),
 * else the soft limit goes up to the hard one and that is logged; in both
 * cases a record that the limit would cut is not begun.
 */
static void
hard_limits(void)
{
	/* Room for the 250 bytes there, the slack and 100 bytes more. */
	rlim_t lim = 250 + AMFA_APPEND_SLACK + 100;
	struct rlimit fsize = { lim, lim }, in;
	char stays[64];
	struct amfa_guard g;
	char path[] = "/tmp/amfa-guard-XXXXXX", line[250];
	struct stat st;
	int raise = can_raise_hard(), fd, good;

	memset(line, 'x', sizeof(line));
	fd = mkstemp(path);
	ok(fd >= 0 && write(fd, line, 250) == 250, "a log of 250 bytes");
	close(fd);
	fflush(stdout);
	if (fork() == 0) {
		tap_n = 100;
		signal(SIGXFSZ, SIG_IGN);
		setrlimit(RLIMIT_FSIZE, &fsize);
		logcap_start();
		amfa_guard_enter(&g, 1);
		getrlimit(RLIMIT_FSIZE, &in);
		fd = open(path, O_WRONLY | O_APPEND);
		if (raise) {
			good = in.rlim_cur == RLIM_INFINITY &&
			    amfa_append_whole(fd, line, 200) == 0;
		} else {
			snprintf(stays, sizeof(stays),
			    "hard limit (%llu) stays", (unsigned long long)lim);
			good = in.rlim_cur == lim && logcap_has(stays) &&
			    amfa_append_whole(fd, line, 200) == -EFBIG &&
			    amfa_append_whole(fd, line, 50) == 0;
		}
		_exit(!good);
	}
	int status;
	wait(&status);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "a hard file size "
	    "limit: %s",
	    raise ? "raised (CAP_SYS_RESOURCE)" :
		    "kept, and a record it would cut is not begun");
	ok(stat(path, &st) == 0 && st.st_size == (raise ? 450 : 300),
	    "the log holds whole records only (%lld bytes)",
	    (long long)st.st_size);
	unlink(path);
}

/*
 * A set-user-ID root process keeps its caller's real ids (so the caller may
 * signal it): root's for the call, the caller's back after it.
 */
static void
caller_ids(void)
{
	struct sigaction got;
	struct amfa_guard g;
	uid_t r, e, s;
	gid_t rg, eg, sg;
	int status, good;

	if (geteuid() != 0) {
		ok(1, "# SKIP not root: no set-user-ID ids to take");
		return;
	}
	fflush(stdout);
	if (fork() == 0) {
		good = setresgid(65534, 0, 0) == 0 &&
		    setresuid(65534, 0, 0) == 0;
		good &= amfa_guard_enter(&g, 1) == 0;
		good &= getresuid(&r, &e, &s) == 0 && r == 0 && e == 0 &&
		    s == 0;
		good &= getresgid(&rg, &eg, &sg) == 0 && rg == 0 && eg == 0 &&
		    sg == 0;
		good &= sigaction(SIGTSTP, NULL, &got) == 0 &&
		    got.sa_handler == SIG_IGN;
		amfa_guard_leave(&g);
		good &= getresuid(&r, &e, &s) == 0 && r == 65534 && e == 0 &&
		    s == 0;
		good &= getresgid(&rg, &eg, &sg) == 0 && rg == 65534 &&
		    eg == 0 && sg == 0;
		good &= sigaction(SIGTSTP, NULL, &got) == 0 &&
		    got.sa_handler == SIG_DFL;
		_exit(!good);
	}
	wait(&status);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "the caller's real ids: root's for the call (the caller cannot "
	    "stop it), put back after; terminal stops ignored for the call");
}

static volatile sig_atomic_t caught;

static void
catch_signal(int sig)
{
	caught = sig;
}

static int
oom_adj(void)
{
	char buf[16] = "";
	int fd = open("/proc/self/oom_score_adj", O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	return n > 0 ? atoi(buf) : -9999;
}

static void
set_oom_adj(int v)
{
	char buf[16];
	int fd = open("/proc/self/oom_score_adj", O_WRONLY);

	if (fd >= 0) {
		snprintf(buf, sizeof(buf), "%d", v);
		(void)!write(fd, buf, strlen(buf));
		close(fd);
	}
}

/* In a process that is not set-uid (sshd's PAM child): the terminal's and
 * sshd's signals wait until the call returns, then arrive; a stop signal
 * that came meanwhile is dropped in an untrusted caller's process; a raised
 * oom_score_adj is lowered for the call. */
static void
deferred_signals(void)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		struct amfa_guard g;
		struct sigaction sa;
		sigset_t pending;
		int good = 1;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = catch_signal;
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
		set_oom_adj(500);
		good &= amfa_guard_enter(&g, 0) == 0;
		good &= amfa_guard_defer_signals(&g) == 0;
		good &= geteuid() != 0 || oom_adj() == 0;
		kill(getpid(), SIGINT);
		kill(getpid(), SIGTERM);
		kill(getpid(), SIGHUP);
		good &= caught == 0;
		good &= sigpending(&pending) == 0 &&
		    sigismember(&pending, SIGINT) &&
		    sigismember(&pending, SIGTERM) &&
		    sigismember(&pending, SIGHUP);
		amfa_guard_leave(&g);
		good &= caught != 0;
		good &= oom_adj() == 500;
		/* Untrusted caller: a ^Z during the call does not stop the
		 * program on its way out. */
		good &= amfa_guard_enter(&g, 1) == 0;
		good &= amfa_guard_defer_signals(&g) == 0;
		kill(getpid(), SIGTSTP);
		amfa_guard_leave(&g);
		_exit(!good);
	}
	waitpid(pid, &status, WUNTRACED);
	if (WIFSTOPPED(status)) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		ok(0, "a ^Z during the call stopped the program afterwards");
		return;
	}
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "signals a caller causes are deferred to the end of the call, in "
	    "every process; oom_score_adj lowered for the call");
}

int
main(void)
{
	hostile_caller();
	deferred_signals();
	caller_ids();
	hard_limits();
	ok(!amfa_guard_process_secure(), "a test is not set-user-ID");
	ok(amfa_guard_env_clean(
	       (const char *const[]){ "SSLKEYLOGFILE", NULL }) == 0,
	    "outside a set-user-ID program the check passes");
	return tap_done();
}
