/* Who else holds the client's terminal; see tty_holders.h. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tty_holders.h"

/* Is `st' the object of `target': the same terminal (any of its paths),
 * or the same pipe or socket? */
static int
same(const struct stat *st, const struct stat *target)
{
	if (S_ISCHR(target->st_mode))
		return S_ISCHR(st->st_mode) && st->st_rdev == target->st_rdev;
	return st->st_dev == target->st_dev && st->st_ino == target->st_ino;
}

/* Does process `pid' (its /proc directory open as `pdir') hold `target'? */
static int
holds(int pdir, const struct stat *target)
{
	struct dirent *d;
	struct stat st;
	DIR *fds;
	int fdir, found = 0;

	if ((fdir = openat(pdir, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return 0; /* not ours to see: not the user's to take */
	if ((fds = fdopendir(fdir)) == NULL) {
		close(fdir);
		return 0;
	}
	while (!found && (d = readdir(fds)) != NULL)
		if (d->d_name[0] != '.' &&
		    fstatat(dirfd(fds), d->d_name, &st, 0) == 0 &&
		    same(&st, target))
			found = 1;
	closedir(fds);
	return found;
}

pid_t
gw_tty_holder(int fd, pid_t self, char *name, size_t size)
{
	struct stat st;

	if (size > 0)
		name[0] = '\0';
	if (!isatty(fd) || fstat(fd, &st) != 0 || !S_ISCHR(st.st_mode))
		return -1;
	return gw_holder_of(&st, self, name, size);
}

pid_t
gw_holder_of(const struct stat *target, pid_t self, char *name, size_t size)
{
	struct dirent *d;
	pid_t found = 0;
	DIR *proc;

	if (size > 0)
		name[0] = '\0';
	if ((proc = opendir("/proc")) == NULL)
		return 0;
	while (found == 0 && (d = readdir(proc)) != NULL) {
		char *end;
		long pid = strtol(d->d_name, &end, 10);
		int pdir;

		if (*end != '\0' || pid <= 0 || (pid_t)pid == self)
			continue;
		pdir = openat(dirfd(proc), d->d_name,
		    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (pdir < 0)
			continue;
		if (holds(pdir, target)) {
			int c = openat(pdir, "comm", O_RDONLY | O_CLOEXEC);
			ssize_t n = c >= 0 && size > 0 ?
			    read(c, name, size - 1) :
			    0;

			if (c >= 0)
				close(c);
			if (n > 0) {
				name[n] = '\0';
				name[strcspn(name, "\n")] = '\0';
			}
			found = (pid_t)pid;
		}
		close(pdir);
	}
	closedir(proc);
	return found;
}
