/*
 * Doing things as the user.  Anything in a place the user controls (their
 * home, their credential store) is read or written by a child process that
 * has given up root for good: groups, gid and uid set to the user's, not
 * dumpable.  The parent gets back only what the child writes to a pipe,
 * bounded in size, and the child's exit status.
 */
#ifndef AMFA_PRIVDROP_H
#define AMFA_PRIVDROP_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

struct amfa_target {
	uid_t uid;
	gid_t gid;
	char home[PATH_MAX];
};

/* Look the user up in the password database.  0 or -1 (logged). */
int amfa_target_lookup(const char *name, struct amfa_target *t);

/*
 * Fork; in the child drop to `t' and call fn(arg, fd).  fn returns 0 for
 * success; what it writes to fd (at most `max' bytes) lands in *out
 * (NUL-terminated; free with amfa_wipe_free(*out, *outlen + 1)).  Returns
 * 0, or -1 if the child failed or could not drop.  Callers must check that
 * the output is complete (an end marker): a host that ignores SIGCHLD hides
 * the child's status.  Without
 * root, only the caller's own uid is possible (tests).
 */
int amfa_run_as(const struct amfa_target *t, int (*fn)(void *arg, int fd),
    void *arg, size_t max, char **out, size_t *outlen);

#endif
