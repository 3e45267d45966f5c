/*
 * The recording directory and the files in it.
 *
 * Who owns a recording, and why its user cannot touch it.  The gateway
 * runs as the user, set-group-ID to the audit group, so a file it creates
 * belongs to the user, and an owner may chmod, truncate or remove their
 * file: but only through a path or a descriptor.  Both are kept from the
 * user:
 *
 *  - the directory is root:GROUP (the gateway's audit group), mode 1730.
 *    The user is neither its owner nor in its group, so they cannot search
 *    it: no path into it resolves for them (open, chmod, truncate, unlink,
 *    link, rename all fail with EACCES), whatever the files' modes.  The
 *    group may add files (w, x) but not list them (no r); the sticky bit
 *    keeps one user's gateway from removing another user's recording.
 *  - the file is created exclusively (O_CREAT|O_EXCL, never following a
 *    link), mode 0440, while the gateway holds the group; the descriptor
 *    stays in the gateway, which is not dumpable (no ptrace, no
 *    /proc/PID/fd for the user), and the shell runs in a child that
 *    closed it before exec.
 *
 * A dedicated recording account (tlog's way: a set-user-ID recorder) was
 * weighed and not taken: it adds a second privileged program that any
 * local user can run by hand to write files as that account, and an
 * account to manage, and gains nothing here: the ownership of a file no
 * user can reach is never exercised.  The cost of this choice: the
 * recordings count against the user's disk quota, and the directory's
 * modes are the whole protection, so they are checked on the open
 * descriptor before every recording (gw_recdir_open) and a directory that
 * is a link or whose modes are looser refuses the recording.
 */
#ifndef GW_RECORDING_DIR_H
#define GW_RECORDING_DIR_H

#include <stddef.h>
#include <sys/types.h>

/* The directory's required mode, and the files'. */
#define GW_RECDIR_MODE	01730
#define GW_RECFILE_MODE 0440

/*
 * Open `path' (O_PATH: the group cannot read the directory, only add to
 * it) without following a link, and check on the descriptor: a directory
 * owned by `owner' (root for the real thing), group `group', mode exactly
 * GW_RECDIR_MODE.  The descriptor, or -1 (logged, naming the path).
 */
int gw_recdir_open(const char *path, uid_t owner, gid_t group);

/*
 * Create a new recording below `dirfd' for `user': USER-YYYYMMDDTHHMMSSZ-
 * PID.cast (a number added if the name is taken), exclusively, mode
 * GW_RECFILE_MODE whatever the umask, for appending.  The name goes to
 * name[size].  The descriptor, or -errno.
 */
int gw_recfile_create(int dirfd, const char *user, char *name, size_t size);

#endif
