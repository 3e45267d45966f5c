/* Careful file access; see secure_file.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "log.h"
#include "secure_file.h"

#define TMP_SUFFIX ".tmp"

void
amfa_wipe_free(void *p, size_t len)
{
	if (p == NULL)
		return;
	OPENSSL_cleanse(p, len);
	free(p);
}

void
amfa_wipe_free_str(char *s)
{
	if (s != NULL)
		amfa_wipe_free(s, strlen(s));
}

static int
check_stat(const struct stat *st, uid_t owner, mode_t forbidden,
    const char *shown)
{
	if (st->st_uid != owner) {
		amfa_log(LOG_ERR,
		    "%s: owned by uid %u, must be owned by uid %u", shown,
		    (unsigned)st->st_uid, (unsigned)owner);
		return -EPERM;
	}
	if ((st->st_mode & forbidden) != 0) {
		amfa_log(LOG_ERR,
		    "%s: mode %04o is too open (must not have %04o)", shown,
		    (unsigned)(st->st_mode & 07777), (unsigned)forbidden);
		return -EPERM;
	}
	return 0;
}

/* amfa_dir_open; a missing directory is not logged when `quiet_enoent'. */
static int
dir_open(const char *path, uid_t owner, mode_t forbidden, int quiet_enoent)
{
	struct stat st;
	int fd, r;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		r = errno;
		if (!(quiet_enoent && r == ENOENT))
			amfa_log(LOG_ERR, "%s: cannot open directory: %s", path,
			    strerror(r));
		errno = r;
		return -1;
	}
	if (fstat(fd, &st) != 0 || check_stat(&st, owner, forbidden, path)) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}

int
amfa_dir_open(const char *path, uid_t owner, mode_t forbidden)
{
	return dir_open(path, owner, forbidden, 0);
}

int
amfa_dir_create_open(const char *path, uid_t owner, mode_t mode)
{
	int made, fd, r;

	/* Opened first: it exists at every login but the first (a mkdir
	 * that fails with EEXIST is one more path lookup a login). */
	if ((fd = dir_open(path, owner, 0777 & ~mode, 1)) >= 0)
		return fd;
	if (errno != ENOENT)
		return -1;
	made = mkdir(path, mode) == 0;
	if (!made && errno != EEXIST) {
		r = errno;
		amfa_log(LOG_ERR, "%s: cannot create: %s", path, strerror(r));
		errno = r;
		return -1;
	}
	if ((fd = amfa_dir_open(path, owner, 0777 & ~mode)) < 0)
		return -1;
	/* mkdir's mode went through the umask, which may be the caller's
	 * (077 or 000): set it on the directory just checked. */
	if (made && fchmod(fd, mode) != 0) {
		r = errno;
		amfa_log(LOG_ERR, "%s: cannot set mode %04o: %s", path,
		    (unsigned)mode, strerror(r));
		close(fd);
		errno = r;
		return -1;
	}
	return fd;
}

int
amfa_append_room(int fd, size_t len)
{
	unsigned long long need = (unsigned long long)len + AMFA_APPEND_SLACK;
	struct rlimit lim;
	struct statvfs vfs;
	struct stat st;

	if (fstat(fd, &st) != 0 || getrlimit(RLIMIT_FSIZE, &lim) != 0 ||
	    fstatvfs(fd, &vfs) != 0)
		return -errno;
	if (lim.rlim_cur != RLIM_INFINITY &&
	    ((unsigned long long)lim.rlim_cur <
		    (unsigned long long)st.st_size ||
		(unsigned long long)lim.rlim_cur -
			(unsigned long long)st.st_size <
		    need))
		return -EFBIG;
	if ((unsigned long long)vfs.f_bavail * vfs.f_frsize < need)
		return -ENOSPC;
	return 0;
}

int
amfa_append_whole(int fd, const void *data, size_t len)
{
	struct stat st;
	ssize_t w;
	int r;

	/* The process's file size limit may be a caller's (a set-group-ID
	 * program, su): a record that would cross it is not begun. */
	if ((r = amfa_append_room(fd, len)) != 0)
		return r;
	do
		w = write(fd, data, len);
	while (w < 0 && errno == EINTR);
	if (w == (ssize_t)len)
		return 0;
	r = w < 0 ? -errno : -ENOSPC;
	/* A part written (another writer took the room meanwhile): take it
	 * back, so that no line is left cut. */
	if (w > 0 && fstat(fd, &st) == 0 && st.st_size >= w &&
	    ftruncate(fd, st.st_size - w) != 0)
		r = -errno;
	return r;
}

/* amfa_file_read, opened with `mode'; *fdp (if not NULL) keeps it open. */
static int
file_read(int dirfd, const char *name, const char *shown,
    const struct amfa_file_policy *policy, int mode, char **bufp, size_t *lenp,
    int *fdp)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0, want;
	int fd, r;

	*bufp = NULL;
	*lenp = 0;
	if (fdp != NULL)
		*fdp = -1;
	fd = openat(dirfd, name,
	    mode | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		r = errno;
		if (r == ENOENT)
			return -ENOENT;
		if (r == ELOOP)
			amfa_log(LOG_ERR, "%s: is a symbolic link, refused",
			    shown);
		else if (r == EISDIR)
			amfa_log(LOG_ERR, "%s: not a regular file, refused",
			    shown);
		else
			amfa_log(LOG_ERR, "%s: cannot open: %s", shown,
			    strerror(r));
		return -r;
	}
	if (fstat(fd, &st) != 0) {
		r = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		amfa_log(LOG_ERR, "%s: not a regular file, refused", shown);
		r = -EINVAL;
		goto out;
	}
	if ((r = check_stat(&st, policy->owner, policy->forbidden, shown)))
		goto out;
	if (st.st_nlink != 1) {
		amfa_log(LOG_ERR, "%s: has %lu hard links, refused", shown,
		    (unsigned long)st.st_nlink);
		r = -EPERM;
		goto out;
	}
	if ((size_t)st.st_size > policy->max_size) {
		amfa_log(LOG_ERR, "%s: larger than %zu bytes, refused", shown,
		    policy->max_size);
		r = -EFBIG;
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		r = -ENOMEM;
		goto out;
	}
	/*
	 * One byte more than the file holds is asked for.  A regular file's
	 * read stops at its end, so one call both reads the file and tells
	 * it has not grown (a second read of one byte told it before); a
	 * read cut short before the end is read on.
	 */
	want = (size_t)st.st_size + 1;
	while (len < want) {
		size_t asked = want - len;
		ssize_t n = read(fd, buf + len, asked);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			amfa_log(LOG_ERR, "%s: read failed: %s", shown,
			    strerror(-r));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if ((size_t)n < asked && len == (size_t)st.st_size)
			break; /* short, at the size: the end */
	}
	/* The file must not have grown or shrunk behind our back. */
	if (len != (size_t)st.st_size) {
		amfa_log(LOG_ERR, "%s: changed while being read, refused",
		    shown);
		r = -EAGAIN;
		goto out;
	}
	buf[len] = '\0';
	*bufp = buf;
	*lenp = len;
	buf = NULL;
	if (fdp != NULL) {
		*fdp = fd;
		fd = -1;
	}
out:
	if (buf != NULL)
		amfa_wipe_free(buf, (size_t)st.st_size + 1);
	if (fd >= 0)
		close(fd);
	return r;
}

int
amfa_file_read(int dirfd, const char *name, const char *shown,
    const struct amfa_file_policy *policy, char **bufp, size_t *lenp)
{
	return file_read(dirfd, name, shown, policy, O_RDONLY, bufp, lenp,
	    NULL);
}

int
amfa_file_read_rw(int dirfd, const char *name, const char *shown,
    const struct amfa_file_policy *policy, char **bufp, size_t *lenp, int *fdp)
{
	return file_read(dirfd, name, shown, policy, O_RDWR, bufp, lenp, fdp);
}

static int
write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	ssize_t r;

	while (len > 0) {
		r = write(fd, p, len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

int
amfa_file_write_atomic(int dirfd, const char *name, const void *data,
    size_t len, mode_t mode)
{
	char tmp[512];
	int fd, r;

	if ((size_t)snprintf(tmp, sizeof(tmp), ".%s" TMP_SUFFIX, name) >=
	    sizeof(tmp))
		return -ENAMETOOLONG;
	/* A leftover from a crash is ours to remove: callers hold the lock. */
	if (unlinkat(dirfd, tmp, 0) != 0 && errno != ENOENT)
		return -errno;
	fd = openat(dirfd, tmp,
	    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, mode) != 0 || (r = write_all(fd, data, len)) != 0 ||
	    fsync(fd) != 0) {
		r = errno ? -errno : -EIO;
		goto fail;
	}
	if (close(fd) != 0) {
		fd = -1;
		r = -errno;
		goto fail;
	}
	fd = -1;
	if (renameat(dirfd, tmp, dirfd, name) != 0) {
		r = -errno;
		goto fail;
	}
	if (fsync(dirfd) != 0)
		return -errno;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlinkat(dirfd, tmp, 0);
	return r;
}

int
amfa_lock_take(int dirfd, const char *name, int timeout_ms)
{
	struct timespec nap = { 0, 10 * 1000 * 1000 };
	struct stat st;
	int fd, waited = 0;

	fd = openat(dirfd, name,
	    O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_uid != geteuid()) {
		close(fd);
		return -EPERM;
	}
	while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			int e = errno;
			close(fd);
			return -e;
		}
		if (waited >= timeout_ms) {
			close(fd);
			return -ETIMEDOUT;
		}
		nanosleep(&nap, NULL);
		waited += 10;
	}
	return fd;
}
