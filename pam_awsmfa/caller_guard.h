/*
 * The caller's process settings, made harmless for the length of one call
 * into the module.
 *
 * su, sudo, login-like and passwd-like programs run the module as root in a
 * process whose environment, resource limits, signal dispositions and umask
 * were chosen by the person who started them.  Every library the module
 * links reads some of that: libcurl opens SSLKEYLOGFILE, a low
 * RLIMIT_FSIZE makes the write that records a lock fail while a shorter one
 * succeeds, an ignored SIGXFSZ turns that into a silent short write, a
 * umask of 077 or 000 changes the modes of what the module creates.  Every
 * PAM entry point calls amfa_guard_enter first and amfa_guard_leave before
 * returning, so the caller's settings are back when the program goes on.
 * caller_guard.c lists what is set and why.
 */
#ifndef AMFA_CALLER_GUARD_H
#define AMFA_CALLER_GUARD_H

#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>

#define AMFA_GUARD_NLIMITS  7
#define AMFA_GUARD_NSIGNALS 5

struct amfa_guard {
	int secure; /* the caller is not trusted */
	int entered;
	mode_t umask;
	char **environ;
	struct rlimit limits[AMFA_GUARD_NLIMITS];
	int limit_saved[AMFA_GUARD_NLIMITS];
	int ids_saved;
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;
	struct sigaction signals[AMFA_GUARD_NSIGNALS];
	int signal_saved[AMFA_GUARD_NSIGNALS];
	int deferred; /* amfa_guard_defer_signals: `mask' is the caller's */
	sigset_t mask;
	int oom_saved; /* the caller's oom_score_adj, lowered for the call */
	int oom_adj;
};

/*
 * Is this process set-user-ID, set-group-ID or otherwise started with
 * privileges its caller does not have (AT_SECURE)?
 */
int amfa_guard_process_secure(void);

/*
 * Save the caller's settings in `g' and put the process into the module's
 * own.  `secure' (amfa_guard_process_secure() in the module; tests pass 1)
 * says whether the caller is untrusted: then the environment, the resource
 * limits and the signal dispositions are replaced too; the umask is set in
 * every case.  Returns 0, or -1 when a signal disposition could not be
 * set (logged): the caller then refuses the call, after amfa_guard_leave.
 */
int amfa_guard_enter(struct amfa_guard *g, int secure);
/*
 * From the moment the module holds a code until it returns, in every
 * process (set-uid or not: sshd's PAM child is not): block every signal a
 * caller can cause and a handler could catch (the terminal's SIGINT,
 * SIGQUIT, SIGTSTP, SIGHUP when the master is closed, sshd's SIGTERM when
 * the client goes away, anything sent with kill(2)), so that nothing the
 * caller controls ends the process between a verdict and its record
 * (auth.c says what covers SIGKILL); and lower a raised oom_score_adj
 * (inherited, and a user may raise their own) to 0.  Signals the process
 * raises itself on a fault (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP,
 * SIGSYS, SIGABRT) and those its own writes raise (SIGPIPE, SIGXFSZ: the
 * write then fails and is handled) stay as they are.  amfa_guard_leave
 * puts the mask back: caller_guard.c says what then happens to a signal
 * that came meanwhile.  0, or -1 (logged): the caller refuses the call.
 */
int amfa_guard_defer_signals(struct amfa_guard *g);

/*
 * Could this login's own user have made an outage of what it waited for?
 * Yes in an untrusted caller's process (the user may stop it, or freeze
 * its cgroup, past any call's time), and in any process that was stopped
 * and continued while its signals were deferred (a SIGCONT is pending):
 * a call that timed out then says nothing about the service.  failmode =
 * safe is not applied then (decision/auth.c, decision/yk_auth.c).
 */
int amfa_guard_outage_suspect(void);

/* Put back everything amfa_guard_enter changed. */
void amfa_guard_leave(struct amfa_guard *g);

/*
 * In an untrusted caller's process (amfa_guard_process_secure), a variable
 * that a linked library reads must not reach it.  The guard empties
 * `environ', but a host program may answer getenv() itself (sudo's
 * plugins hook it and answer from the command's environment): for the
 * variables of `names' (NULL-terminated), 0 when none has a value, or -1
 * (logged, naming the variable, never its value) when one does.
 */
int amfa_guard_env_clean(const char *const *names);

#endif
