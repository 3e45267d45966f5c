/*
 * The recording directory and the files in it.
 *
 * Who owns a recording, and why its user cannot touch it.  The recorder
 * (recorder.c) runs set-user-ID and set-group-ID to an account of its own
 * (awsmfa-rec), so the file it creates is that account's, not the user's;
 * and no path into the directory resolves for the user:
 *
 *  - the directory is root:GROUP (the recorder's group), mode 1730.  The
 *    user is neither its owner nor in its group, so they cannot search it:
 *    open, chmod, truncate, unlink, link, rename all fail with EACCES,
 *    whatever the files' modes.  The group may add files (w, x) but not
 *    list them (no r).
 *  - the file is created exclusively (O_CREAT|O_EXCL, never following a
 *    link), mode 0440; the descriptor stays in the recorder, which the user
 *    can neither signal nor trace, and the shell runs in a child that
 *    closed it before exec.
 *
 * The directory's modes are checked on the open descriptor before every
 * recording (gw_recdir_open): a link or looser modes refuse the recording.
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
