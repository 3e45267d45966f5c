/*
 * Careful file access: every open is relative to a directory descriptor,
 * never follows a symlink in the last component, checks type, owner and mode
 * on the open descriptor (no check-then-open race), caps sizes, and writes
 * atomically (temporary file, fsync, rename, fsync of the directory).
 */
#ifndef AMFA_SECURE_FILE_H
#define AMFA_SECURE_FILE_H

#include <stddef.h>
#include <sys/types.h>

struct amfa_file_policy {
	uid_t owner;	  /* required owner */
	mode_t forbidden; /* mode bits that must be clear, e.g. 066 */
	size_t max_size;  /* larger files are refused */
};

/*
 * Open a directory and check that it is a directory owned by `owner' with
 * none of `forbidden' set.  Returns an O_DIRECTORY descriptor or -1 (errno
 * set, reason logged).
 */
int amfa_dir_open(const char *path, uid_t owner, mode_t forbidden);
/*
 * The same for a directory that is created if missing, with exactly `mode'
 * whatever the umask; an existing one must have no bit outside `mode'.
 */
int amfa_dir_create_open(const char *path, uid_t owner, mode_t mode);

/*
 * Read `name' below `dirfd' into a NUL-terminated heap buffer.  Returns 0,
 * -ENOENT when the file does not exist, or another negative errno (logged,
 * naming `shown', the path as a person knows it).  Free with amfa_wipe_free.
 */
int amfa_file_read(int dirfd, const char *name, const char *shown,
    const struct amfa_file_policy *policy, char **buf, size_t *len);

/*
 * The same, opened for reading and writing; on success *fdp is the checked
 * descriptor, left open for the caller (-1 otherwise).
 */
int amfa_file_read_rw(int dirfd, const char *name, const char *shown,
    const struct amfa_file_policy *policy, char **buf, size_t *len, int *fdp);

/* Replace `name' atomically with `data', mode `mode'.  0 or -errno. */
int amfa_file_write_atomic(int dirfd, const char *name, const void *data,
    size_t len, mode_t mode);

/*
 * Appending records whole or not at all.  A write past RLIMIT_FSIZE is cut
 * at the limit (or fails with EFBIG), one on a full file system is cut
 * where the space ends: either leaves half a line that the next record is
 * glued to.  The limit may be the caller's (su, a set-group-ID program).
 *
 * amfa_append_room: do the file size limit and the free space leave room
 * for `len' more bytes and AMFA_APPEND_SLACK beyond them (for what other
 * writers append between this check and the write)?  0, -EFBIG (the
 * limit), -ENOSPC (the file system) or another -errno.
 * amfa_append_whole: append `data' to `fd' (opened O_APPEND) in one write
 * if there is room; a part written all the same is taken back.  EINTR is
 * retried.  0 or -errno.
 */
#define AMFA_APPEND_SLACK (64 * 1024)
int amfa_append_room(int fd, size_t len);
int amfa_append_whole(int fd, const void *data, size_t len);

/*
 * Take an exclusive lock on `name' (created 0600 if missing) below dirfd,
 * waiting at most `timeout_ms'.  Returns the locked descriptor, or -errno
 * (-ETIMEDOUT when it stayed busy).  Closing the descriptor releases it.
 */
int amfa_lock_take(int dirfd, const char *name, int timeout_ms);

/* Zero `len' bytes of `p' (secret), then free it. */
void amfa_wipe_free(void *p, size_t len);
/* The same for a NUL-terminated string. */
void amfa_wipe_free_str(char *s);

#endif
