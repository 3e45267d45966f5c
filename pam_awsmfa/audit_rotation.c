/* The audit log rotated by renaming: see audit_rotation.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "audit_rotation.h"
#include "log.h"

/* The log's directory, opened; its base name in *base (heap).  -1. */
static int
log_dir(const char *log_path, char **base)
{
	char *a = strdup(log_path), *b = strdup(log_path);
	int fd = -1;

	if (a != NULL && b != NULL && (*base = strdup(basename(b))) != NULL) {
		fd = open(dirname(a), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0) {
			free(*base);
			*base = NULL;
		}
	}
	free(a);
	free(b);
	return fd;
}

/* A regular file of the directory (not a link) on `dev' of inode `ino'? */
static int
is_inode(int dfd, const char *name, dev_t dev, unsigned long long ino)
{
	struct stat st;

	return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode) && st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

/* The name (heap) of the directory's regular file of inode `ino', or NULL. */
static char *
find_inode(int dfd, unsigned long long ino)
{
	struct stat dst;
	struct dirent *e;
	char *found = NULL;
	DIR *d;
	int fd;

	if (fstat(dfd, &dst) != 0 || (fd = dup(dfd)) < 0)
		return NULL;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return NULL;
	}
	rewinddir(d);
	while (found == NULL && (e = readdir(d)) != NULL)
		if (e->d_name[0] != '.' &&
		    is_inode(dfd, e->d_name, dst.st_dev, ino))
			found = strdup(e->d_name);
	closedir(d);
	return found;
}

int
amfa_rotated_open(const char *log_path, unsigned long long ino, char **name)
{
	struct stat st, dst;
	char *base, *found;
	int dfd, fd = -1;

	if (name != NULL)
		*name = NULL;
	if ((dfd = log_dir(log_path, &base)) < 0)
		return -1;
	free(base);
	if (fstat(dfd, &dst) == 0 && (found = find_inode(dfd, ino)) != NULL) {
		fd = openat(dfd, found,
		    O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
		/* The same file as the one found (a rename between). */
		if (fd >= 0 &&
		    (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
			st.st_dev != dst.st_dev ||
			(unsigned long long)st.st_ino != ino)) {
			close(fd);
			fd = -1;
		}
		if (fd >= 0 && name != NULL)
			*name = found;
		else
			free(found);
	}
	close(dfd);
	return fd;
}

/* Does the file `name' of the directory begin with the record after (seq,
 * hex)?  Root's, the group `gid', one link (or more with `links_ok'),
 * regular.  Its descriptor (stat
 * in *st) or -1. */
static int
continues(int dfd, const char *name, gid_t gid, int links_ok,
    unsigned long long seq, const char *hex, struct stat *st)
{
	char buf[AMFA_CHAIN_TAIL], prev[AMFA_CHAIN_HEX], *nl;
	unsigned long long s;
	ssize_t n;
	int fd;

	fd = openat(dfd, name,
	    O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode) || st->st_uid != 0 ||
	    st->st_gid != gid || (st->st_nlink != 1 && !links_ok) ||
	    (n = pread(fd, buf, sizeof(buf), 0)) <= 0 ||
	    (nl = memchr(buf, '\n', (size_t)n)) == NULL ||
	    amfa_chain_fields(buf, (size_t)(nl - buf), &s, prev) != 0 ||
	    s != seq + 1 || strcmp(prev, hex) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int
amfa_rotated_successor(const char *log_path, gid_t gid, unsigned long long seq,
    const char *hex, char **name)
{
	struct stat st;
	struct dirent *e;
	char *base;
	DIR *d;
	int dfd, dup_fd, fd = -1, links_ok;

	*name = NULL;
	links_ok = amfa_chain_names_roots_only(log_path);
	if ((dfd = log_dir(log_path, &base)) < 0)
		return -1;
	free(base);
	if ((dup_fd = dup(dfd)) < 0 || (d = fdopendir(dup_fd)) == NULL) {
		if (dup_fd >= 0)
			close(dup_fd);
		close(dfd);
		return -1;
	}
	while (fd < 0 && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || amfa_anchor_name(e->d_name))
			continue;
		if ((fd = continues(dfd, e->d_name, gid, links_ok, seq, hex,
			 &st)) >= 0 &&
		    (*name = strdup(e->d_name)) == NULL) {
			close(fd);
			fd = -1;
			break;
		}
	}
	closedir(d);
	close(dfd);
	return fd;
}

/* The inode INO of an anchor's name "BASE.anchor.INO"; 0 when it is not
 * one of the log `base'. */
static unsigned long long
rotated_anchor_ino(const char *name, const char *base)
{
	size_t n = strlen(base), k = strlen(AMFA_ANCHOR_SUFFIX);
	unsigned long long ino;
	char *end;

	if (strncmp(name, base, n) != 0 ||
	    strncmp(name + n, AMFA_ANCHOR_SUFFIX, k) != 0 ||
	    name[n + k] != '.' || name[n + k + 1] < '1' ||
	    name[n + k + 1] > '9')
		return 0;
	errno = 0;
	ino = strtoull(name + n + k + 1, &end, 10);
	return errno == 0 && *end == '\0' ? ino : 0;
}

void
amfa_anchor_rotated_sweep(const char *log_path)
{
	struct stat dst;
	struct dirent *e;
	unsigned long long ino;
	char *base, *found;
	DIR *d;
	int dfd, fd;

	if (geteuid() != 0 || (dfd = log_dir(log_path, &base)) < 0)
		return;
	if (fstat(dfd, &dst) != 0 || (fd = dup(dfd)) < 0 ||
	    (d = fdopendir(fd)) == NULL) {
		free(base);
		close(dfd);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		if ((ino = rotated_anchor_ino(e->d_name, base)) == 0)
			continue;
		if ((found = find_inode(dfd, ino)) != NULL) {
			free(found);
			continue;
		}
		if (unlinkat(dfd, e->d_name, 0) == 0)
			amfa_log(LOG_INFO,
			    "%s%s.%llu: removed (no file of inode %llu is "
			    "left beside the log)",
			    log_path, AMFA_ANCHOR_SUFFIX, ino, ino);
	}
	closedir(d);
	free(base);
	close(dfd);
}

int
amfa_anchor_name(const char *name)
{
	const char *p = strstr(name, AMFA_ANCHOR_SUFFIX);

	while (p != NULL) {
		const char *q = p + strlen(AMFA_ANCHOR_SUFFIX);

		if (*q == '\0')
			return 1;
		if (*q == '.' && q[1] >= '1' && q[1] <= '9' &&
		    strspn(q + 1, "0123456789") == strlen(q + 1))
			return 1;
		p = strstr(p + 1, AMFA_ANCHOR_SUFFIX);
	}
	return 0;
}
