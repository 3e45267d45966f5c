/*
 * The first act of the gateway and of the recorder: put the process into a
 * state its caller cannot influence.  Installed set-group-ID (the gateway)
 * or set-user-ID (the recorder), they are run by hand by any local user,
 * who chooses everything a process inherits; see startup.c for
 * what is reset and why.
 */
#ifndef GW_STARTUP_H
#define GW_STARTUP_H

#include <sys/resource.h>
#include <sys/types.h>

struct gw_startup {
	char **env;			  /* the caller's environment */
	const char *ssh_connection;	  /* from it, or NULL */
	const char *ssh_original_command; /* from it, or NULL */
	mode_t umask;			  /* the caller's */
	struct rlimit fsize;		  /* the caller's RLIMIT_FSIZE */
	struct rlimit core;		  /* the caller's RLIMIT_CORE */
};

/*
 * Called first thing in main.  Returns 0, or -1 when the state cannot be
 * established (the gateway must then stop: fail closed).
 */
int gw_startup_sanitize(struct gw_startup *st);

/*
 * Before the user's login shell is started: what sshd would have given
 * it (default signals, the caller's umask and limits).  The shell gets
 * st->env.
 */
void gw_startup_restore(const struct gw_startup *st);

#endif
