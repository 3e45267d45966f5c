/*
 * A recorded login shell, as script(1) runs one: the shell gets a
 * pseudo-terminal of the recorder's own (recorder.c), and the recorder
 * copies between it and the client's terminal (sshd's), recording what
 * goes by
 * (recording.h).  The client's terminal is put into raw mode for the
 * session and restored after it, so that everything the user types (Ctrl-C,
 * Ctrl-Z, a full screen program's keys) reaches the shell's terminal,
 * whose line discipline acts on it as sshd's would have; the pty starts
 * with the client's terminal modes and size, and each SIGWINCH passes the
 * new size on (and records it).  Without a client terminal (ssh -T), the
 * shell gets pipes of the recorder's own for its input, output and
 * errors: what the client sends is copied to the shell's input (and
 * recorded as typed input with record_input), the shell's output and
 * errors to the client's, recorded.  The shell holds no descriptor of
 * sshd's, in either mode.
 *
 * The shell runs in a child: a session of its own, every descriptor but
 * 0-2 closed (the client's terminal, the recording and the pty master stay
 * with the recorder, which is not dumpable), the caller's signals, limits
 * and umask back (startup.h).  Its terminal belongs to the user (the pty is
 * opened with the user's file system uid).  The session ends when the
 * shell exits; its exit status (or 128 + the signal that ended it) is the
 * recorder's and the gateway's.
 */
#ifndef GW_RECORDED_SHELL_H
#define GW_RECORDED_SHELL_H

#include <sys/ioctl.h>
#include <sys/types.h>
#include <termios.h>

#include "recording.h"
#include "setid/startup.h"

/*
 * In the set-user-ID recorder (recorder.c): who the shell runs as, and the
 * recorder's own account.  The shell's child takes the user's ids (all
 * three) and the parent the recorder's (all three) before the shell starts,
 * so that the user can neither signal nor trace the process that copies and
 * records.  `ctl' is the gateway's control socket: its end of file (the
 * gateway is gone) ends the session.
 */
struct gw_ids {
	uid_t user;
	gid_t user_group;
	uid_t rec;
	gid_t rec_group;
	int ctl;
	/* The shell's pid, before it may start (the gateway's to kill). */
	void (*started)(pid_t shell);
};

struct gw_shell_spec {
	const char *path;		  /* the login shell */
	const char *argv0;		  /* "-sh" */
	char **env;			  /* its environment */
	const struct gw_startup *startup; /* restored in the child */
	const struct gw_ids *ids;	  /* NULL: all runs as the caller */
};

/* The client's side, from gw_session_probe. */
struct gw_session {
	int tty; /* standard input is a terminal */
	struct termios orig;
	struct winsize ws; /* 80x24 without a terminal */
	/* What the client typed before the shell (tty_revoke.h): it goes
	 * to the shell first, recorded as input; set after the probe. */
	const char *typeahead;
	size_t typeahead_len; /* at most 4096 */
};

/*
 * When the recording ends early (r->failed says why): 0 to let the session
 * go on unrecorded, -1 to end it.  Decided and audited by the caller.
 */
typedef int (*gw_rec_failed_fn)(void *ctx, const char *why);

struct gw_session_result {
	int status;	       /* to exit with */
	const char *end;       /* "exit", "hangup", "recording", "error",
				  "gateway" (it said "stop"), "gateway lost"
				  (its control socket closed) */
	pid_t shell;	       /* the shell's pid (its process group's) */
	int shell_alive;       /* it outlived the hang-up (recorder.c) */
	int recording_stopped; /* the recording ended early */
};

/* Look at the client's side: terminal or not, modes, size. */
void gw_session_probe(struct gw_session *s);

/*
 * Run the shell and copy until it ends.  0 when the shell ran (res says
 * how it ended), -1 when it could not be started (logged; nothing ran).
 */
int gw_session_run(const struct gw_session *s, const struct gw_shell_spec *sh,
    struct gw_recording *rec, gw_rec_failed_fn failed, void *ctx,
    struct gw_session_result *res);

#endif
