/*
 * The caller's process settings, made harmless for one call; see
 * caller_guard.h.
 *
 * What is set, and why (only in an untrusted caller's process, except the
 * umask):
 *
 * - The environment.  `environ' is replaced by a fixed one (a PATH, nothing
 *   else) for the call.  The module itself reads no variable, but what it
 *   links does: libcurl SSLKEYLOGFILE (opened for appending as root: a
 *   root-owned file anywhere, with the caller's umask), the proxy
 *   variables (http_proxy, HTTPS_PROXY, ALL_PROXY, NO_PROXY: the request
 *   sent to the caller's listener), CURL_SSL_BACKEND and CURL_HOME/HOME;
 *   OpenSSL OPENSSL_CONF, OPENSSL_MODULES, OPENSSL_ENGINES, SSL_CERT_FILE,
 *   SSL_CERT_DIR (most through secure_getenv, which is already empty here,
 *   but not all in every version; OPENSSL_ia32cap is read when libcrypto
 *   is loaded, before any call: out of the module's reach); libxml2
 *   XML_CATALOG_FILES and XML_DEBUG_CATALOG; the resolver LOCALDOMAIN,
 *   RES_OPTIONS, HOSTALIASES (ld.so drops these at exec, but the program
 *   may have set them since); libc TZ, TZDIR, LANGUAGE, LC_*, MALLOC_* and
 *   GLIBC_TUNABLES-like settings for anything it reads late.  json-c reads
 *   none.  A host program that answers getenv() itself (sudo does) is not
 *   reached by this: amfa_guard_env_clean checks the few variables that
 *   would matter before the network clients start, and refuses then.
 * - Resource limits.  A soft RLIMIT_FSIZE makes a write fail (or, with
 *   SIGXFSZ ignored, come out short) at a size the caller chooses: the state
 *   write that records a failure or a lock must never be the one that fails
 *   (state.c also makes every record the same size).  RLIMIT_NOFILE makes
 *   an open fail, RLIMIT_AS and RLIMIT_DATA an allocation, RLIMIT_STACK a
 *   deep call, RLIMIT_CPU kills the process with SIGXCPU between the check
 *   of a code and the write that counts it.  All are raised for the call
 *   (root may raise hard limits), and RLIMIT_CORE is set to 0 while secrets
 *   are in memory.  Where a hard limit cannot be raised (no
 *   CAP_SYS_RESOURCE), see set_limit.
 * - Signal dispositions.  SIGXFSZ and SIGPIPE are ignored for the call, so
 *   that a write beyond a limit, or to a peer that went away, is an error
 *   the module sees and handles (refuses), never the death of the process
 *   in the middle of an update.  SIGTSTP, SIGTTIN and SIGTTOU (the stops a
 *   terminal sends) are ignored too: see the next item.
 * - Who may signal the process.  A set-user-ID program keeps its caller's
 *   real user id, so the caller may send it any signal, SIGSTOP included:
 *   stopped while it holds a user's state lock (during an STS or YubiKey
 *   validation request, for instance), it would keep every other login of
 *   that user, and `awsmfa unlock', waiting until someone finds it.  For
 *   the call the real and saved ids become root's (and the group ids
 *   root's group, so that nothing the module creates is the caller's
 *   group's): the caller's kill(2) is refused.  They are put back on
 *   return.
 * - Signals a caller can cause without kill(2) rights (every process, from
 *   the moment a code is in hand: amfa_guard_defer_signals).  The
 *   terminal the caller owns sends SIGINT, SIGQUIT, SIGTSTP (^C, ^\, ^Z,
 *   or ioctl(TIOCSIG) on the master) and SIGHUP when the master is
 *   closed; sshd sends SIGTERM to its PAM child when the client goes
 *   away.  Each of them could end the process after the code is checked
 *   and before the check is on record (auth.c: the lockout bypass of
 *   issue 23), so all catchable ones are blocked until the call returns.
 *   What happens to one that came meanwhile, when the mask is put back:
 *   the call has returned, every decision it took is durable (auth.c
 *   writes before answering), so its delivery decides nothing: a failure
 *   is counted, a success is spent, whether the program then dies or not.
 *   It is delivered then, as the caller's terminal or sshd meant it (su
 *   and sshd's child end; the module does not swallow a ^C or a
 *   hang-up).  That it ends su before su's own failure delay (FAIL_DELAY,
 *   or libpam's pam_fail_delay) gives the caller nothing it lacks
 *   anyway: those delays run in the caller's process after the module,
 *   where a ^C ends them at any time, with or without this module; the
 *   limit on guessing is the lockout count, which is on record first.
 *   The stop signals (SIGTSTP, SIGTTIN, SIGTTOU), ignored for the call in
 *   an untrusted caller's process, are unblocked while still ignored, so
 *   that one that came meanwhile is dropped rather than stopping the
 *   program on its way out.
 * - oom_score_adj.  A user may raise their own (and su inherits it), so
 *   that the OOM killer picks su first under memory pressure they make.
 *   A raised value is set to 0 for the call (root may lower it) and put
 *   back after.  SIGKILL (the OOM killer's, or a delegated cgroup's
 *   cgroup.kill) is not blockable: auth.c's write-ahead count is what
 *   makes it worthless.
 * - The umask.  077 for the call, in every process: files and directories
 *   get the modes the module asks for, set with fchmod on the descriptor
 *   where a mode wider than 0700 is meant, whatever umask the caller had.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "caller_guard.h"
#include "log.h"

extern char **environ;

#define STACK_MIN  (8UL << 20)
#define NOFILE_MIN 1024UL

/* The limits for the call: at least `value' (RLIMIT_CORE: exactly). */
static const struct {
	int resource;
	const char *name;
	rlim_t value;
} limits[AMFA_GUARD_NLIMITS] = {
	{ RLIMIT_FSIZE, "RLIMIT_FSIZE", RLIM_INFINITY },
	{ RLIMIT_NOFILE, "RLIMIT_NOFILE", NOFILE_MIN },
	{ RLIMIT_AS, "RLIMIT_AS", RLIM_INFINITY },
	{ RLIMIT_DATA, "RLIMIT_DATA", RLIM_INFINITY },
	{ RLIMIT_STACK, "RLIMIT_STACK", STACK_MIN },
	{ RLIMIT_CPU, "RLIMIT_CPU", RLIM_INFINITY },
	{ RLIMIT_CORE, "RLIMIT_CORE", 0 },
};

static const int signals[AMFA_GUARD_NSIGNALS] = { SIGXFSZ, SIGPIPE, SIGTSTP,
	SIGTTIN, SIGTTOU };

int
amfa_guard_process_secure(void)
{
	return getauxval(AT_SECURE) != 0;
}

/* Is `v' at least `want' (RLIM_INFINITY above all)? */
static int
at_least(rlim_t v, rlim_t want)
{
	return v == RLIM_INFINITY || (want != RLIM_INFINITY && v >= want);
}

/*
 * Raising a hard limit takes CAP_SYS_RESOURCE, which root has on a host but
 * not in every container: there the soft limit goes up to the hard one and
 * no further.  What a limit can still make fail then fails closed (a state
 * write refuses the login, whatever the code: state.c; an audit record is
 * written whole or not at all: audit.c).
 */
static void
set_limit(struct amfa_guard *g, int i)
{
	struct rlimit want;

	if (getrlimit(limits[i].resource, &g->limits[i]) != 0)
		return;
	g->limit_saved[i] = 1;
	want = g->limits[i];
	if (limits[i].resource == RLIMIT_CORE) {
		want.rlim_cur = 0;
	} else {
		if (at_least(want.rlim_cur, limits[i].value))
			return;
		want.rlim_cur = limits[i].value;
		if (!at_least(want.rlim_max, want.rlim_cur))
			want.rlim_max = want.rlim_cur;
	}
	if (setrlimit(limits[i].resource, &want) == 0)
		return;
	want = g->limits[i];
	want.rlim_cur = want.rlim_max;
	(void)setrlimit(limits[i].resource, &want);
	amfa_log(LOG_NOTICE,
	    "%s: the caller's hard limit (%llu) stays for the "
	    "call",
	    limits[i].name, (unsigned long long)want.rlim_max);
}

int
amfa_guard_enter(struct amfa_guard *g, int secure)
{
	static char path[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
	static char *clean_env[] = { path, NULL };
	struct sigaction ign;
	int r = 0;

	memset(g, 0, sizeof(*g));
	g->entered = 1;
	g->secure = secure;
	g->umask = umask(077);
	if (!secure)
		return 0;
	g->environ = environ;
	environ = clean_env;
	for (int i = 0; i < AMFA_GUARD_NLIMITS; i++)
		set_limit(g, i);
	/* Root's ids for the call (only a process running as root can). */
	if (getresuid(&g->ruid, &g->euid, &g->suid) == 0 &&
	    getresgid(&g->rgid, &g->egid, &g->sgid) == 0 && g->euid == 0) {
		if (setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0) {
			amfa_log(LOG_ERR,
			    "cannot take root's ids for the call: %s",
			    strerror(errno));
			r = -1;
		}
		g->ids_saved = 1;
	}
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigemptyset(&ign.sa_mask);
	for (int i = 0; i < AMFA_GUARD_NSIGNALS; i++) {
		if (sigaction(signals[i], &ign, &g->signals[i]) != 0) {
			amfa_log(LOG_ERR,
			    "signal %d: cannot ignore for the "
			    "call: %s",
			    signals[i], strerror(errno));
			r = -1;
			continue;
		}
		g->signal_saved[i] = 1;
	}
	return r;
}

#define OOM_ADJ_FILE "/proc/self/oom_score_adj"

static int
oom_adj_read(int *v)
{
	char buf[16];
	ssize_t n;
	int fd = open(OOM_ADJ_FILE, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return sscanf(buf, "%d", v) == 1 ? 0 : -1;
}

static int
oom_adj_write(int v)
{
	char buf[16];
	int fd = open(OOM_ADJ_FILE, O_WRONLY | O_CLOEXEC), n, r;

	if (fd < 0)
		return -1;
	n = snprintf(buf, sizeof(buf), "%d\n", v);
	r = write(fd, buf, (size_t)n) == n ? 0 : -1;
	close(fd);
	return r;
}

/* Raised by the process itself (a fault, its own write): not deferred. */
static const int own_signals[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP,
	SIGSYS, SIGABRT, SIGPIPE, SIGXFSZ };

int
amfa_guard_defer_signals(struct amfa_guard *g)
{
	sigset_t all;
	int adj;

	if (!g->entered || g->deferred)
		return 0;
	sigfillset(&all);
	for (size_t i = 0; i < sizeof(own_signals) / sizeof(own_signals[0]);
	     i++)
		sigdelset(&all, own_signals[i]);
	if (sigprocmask(SIG_BLOCK, &all, &g->mask) != 0) {
		amfa_log(LOG_ERR, "cannot defer signals for the call: %s",
		    strerror(errno));
		return -1;
	}
	g->deferred = 1;
	/* Only a raised value; lowering takes root (CAP_SYS_RESOURCE). */
	if (oom_adj_read(&adj) == 0 && adj > 0) {
		if (oom_adj_write(0) == 0) {
			g->oom_saved = 1;
			g->oom_adj = adj;
		} else {
			amfa_log(LOG_NOTICE,
			    "oom_score_adj %d stays for the call: %s", adj,
			    strerror(errno));
		}
	}
	return 0;
}

int
amfa_guard_outage_suspect(void)
{
	sigset_t pending;

	if (amfa_guard_process_secure())
		return 1;
	/* Deferred (blocked), a SIGCONT stays pending once it has
	 * continued the process. */
	return sigpending(&pending) == 0 && sigismember(&pending, SIGCONT) == 1;
}

void
amfa_guard_leave(struct amfa_guard *g)
{
	if (!g->entered)
		return;
	if (g->oom_saved)
		(void)oom_adj_write(g->oom_adj);
	/* Before the dispositions: a stop signal that came meanwhile is
	 * dropped while still ignored (see the top). */
	if (g->deferred)
		(void)sigprocmask(SIG_SETMASK, &g->mask, NULL);
	if (g->secure) {
		for (int i = 0; i < AMFA_GUARD_NSIGNALS; i++) {
			if (g->signal_saved[i])
				(void)sigaction(signals[i], &g->signals[i],
				    NULL);
		}
		for (int i = AMFA_GUARD_NLIMITS - 1; i >= 0; i--) {
			if (g->limit_saved[i])
				(void)setrlimit(limits[i].resource,
				    &g->limits[i]);
		}
		environ = g->environ;
		/* The gids first, while the process is still root. */
		if (g->ids_saved &&
		    (setresgid(g->rgid, g->egid, g->sgid) != 0 ||
			setresuid(g->ruid, g->euid, g->suid) != 0))
			amfa_log(LOG_ERR,
			    "cannot put the caller's ids back: %s",
			    strerror(errno));
	}
	(void)umask(g->umask);
	g->entered = 0;
}

int
amfa_guard_env_clean(const char *const *names)
{
	if (!amfa_guard_process_secure())
		return 0;
	for (const char *const *n = names; *n != NULL; n++) {
		if (getenv(*n) != NULL) {
			amfa_log(LOG_ERR,
			    "%s is set in the environment of a "
			    "set-user-ID program (its caller's): refused, the "
			    "network clients would read it",
			    *n);
			return -1;
		}
	}
	return 0;
}
