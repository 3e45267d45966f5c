/* The recording directory and its files; see recording_dir.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "recording_dir.h"

int
gw_recdir_open(const char *path, uid_t owner, gid_t group)
{
	struct stat st;
	int fd;

	fd = open(path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		amfa_log(LOG_ERR, "%s: cannot open the recording directory: %s",
		    path,
		    errno == ELOOP || errno == ENOTDIR ?
			"not a directory, or a symbolic link" :
			strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode)) {
		amfa_log(LOG_ERR, "%s: the recording directory is not one",
		    path);
		close(fd);
		return -1;
	}
	if (st.st_uid != owner || st.st_gid != group ||
	    (st.st_mode & 07777) != GW_RECDIR_MODE) {
		amfa_log(LOG_ERR,
		    "%s: the recording directory must be owned by uid %u "
		    "and the recorder's group (gid %u), mode %04o; it is uid "
		    "%u, gid %u, mode %04o",
		    path, (unsigned)owner, (unsigned)group, GW_RECDIR_MODE,
		    (unsigned)st.st_uid, (unsigned)st.st_gid,
		    (unsigned)(st.st_mode & 07777));
		close(fd);
		return -1;
	}
	return fd;
}

int
gw_recfile_create(int dirfd, const char *user, char *name, size_t size)
{
	char when[32];
	struct stat st;
	struct tm tm;
	time_t now = time(NULL);
	mode_t old;
	int fd = -1, e = EEXIST;

	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y%m%dT%H%M%SZ", &tm) == 0)
		return -EINVAL;
	/* The mode is the file's whatever the umask (which is 077). */
	old = umask(0);
	for (int i = 0; i < 100 && fd < 0 && e == EEXIST; i++) {
		int n = i == 0 ?
		    snprintf(name, size, "%s-%s-%ld.cast", user, when,
			(long)getpid()) :
		    snprintf(name, size, "%s-%s-%ld-%d.cast", user, when,
			(long)getpid(), i);

		if (n < 0 || (size_t)n >= size || strchr(name, '/') != NULL) {
			e = ENAMETOOLONG;
			break;
		}
		fd = openat(dirfd, name,
		    O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW |
			O_NOCTTY | O_CLOEXEC,
		    GW_RECFILE_MODE);
		if (fd < 0)
			e = errno;
	}
	umask(old);
	if (fd < 0)
		return -e;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
	    st.st_size != 0) {
		close(fd);
		return -EINVAL;
	}
	/* Held while it is recorded: awsmfa-evidence(8) uploads a recording
	 * once nobody holds this lock any more. */
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		e = errno;
		close(fd);
		return -e;
	}
	return fd;
}
