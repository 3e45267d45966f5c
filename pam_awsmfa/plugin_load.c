/*
 * Loading a shared object of ours next to pam_awsmfa.so, pinned, and the
 * copy of the file there now: see plugin_load.h.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plugin_load.h"

/* How many names (/proc/self/fd/N) a load tries: each name taken by an
 * object of another file costs one; fd_name makes that a rare collision. */
#define LOAD_TRIES 16
/* "/proc/self/fd", 64 bits of the file's identity (up to 2 characters
 * each), "/N": fd_name. */
#define FD_NAME_MAX 192
_Static_assert(FD_NAME_MAX > 13 + 64 * 2 + 1 + 10, "fd_name's room");

__attribute__((format(printf, 3, 4))) static void
say(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Owned by root or by `owner', and writable by nobody else. */
static int
trusted(const struct stat *st, uid_t owner, const char *path, char *err,
    size_t errlen)
{
	if (st->st_uid != 0 && st->st_uid != owner) {
		say(err, errlen, "%s: owned by uid %lu, not root: not loaded",
		    path, (unsigned long)st->st_uid);
		return 0;
	}
	if ((st->st_mode & 022) != 0) {
		say(err, errlen,
		    "%s: writable by group or others (mode %04o): not loaded",
		    path, (unsigned)(st->st_mode & 07777));
		return 0;
	}
	return 1;
}

int
amfa_plugin_dir_of(const void *addr, char *dir, size_t dirlen, uid_t *owner,
    char *err, size_t errlen)
{
	Dl_info info;
	struct stat st;
	const char *slash = NULL;

	if (dladdr(addr, &info) == 0 || info.dli_fname == NULL ||
	    info.dli_fname[0] != '/') {
		say(err, errlen,
		    "cannot tell where pam_awsmfa was loaded from");
		return -1;
	}
	if (fstatat(AT_FDCWD, info.dli_fname, &st, 0) != 0) {
		say(err, errlen, "%s: %s", info.dli_fname, strerror(errno));
		return -1;
	}
	for (const char *p = info.dli_fname; *p != '\0'; p++) {
		if (*p == '/')
			slash = p;
	}
	if ((size_t)(slash - info.dli_fname) + 1 >= dirlen) {
		say(err, errlen, "%s: path too long", info.dli_fname);
		return -1;
	}
	*owner = st.st_uid;
	/* "/x.so" -> "/" */
	say(dir, dirlen, "%.*s",
	    slash == info.dli_fname ? 1 : (int)(slash - info.dli_fname),
	    info.dli_fname);
	return 0;
}

/* dir/name, opened and checked; a descriptor, or -1 (said in err). */
static int
open_checked(const char *dir, uid_t owner, const char *name, const char *path,
    struct stat *st, char *err, size_t errlen)
{
	int dfd, fd;

	if ((dfd = openat(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) <
	    0) {
		say(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (fstatat(dfd, "", st, AT_EMPTY_PATH) != 0 ||
	    !trusted(st, owner, dir, err, errlen)) {
		close(dfd);
		return -1;
	}
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	close(dfd);
	if (fd < 0) {
		say(err, errlen, "%s: %s%s", path, strerror(errno),
		    errno == ELOOP ? " (a symlink: not followed)" : "");
		return -1;
	}
	if (fstatat(fd, "", st, AT_EMPTY_PATH) != 0 || !S_ISREG(st->st_mode)) {
		say(err, errlen, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	if (!trusted(st, owner, path, err, errlen)) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The name the descriptor `fd' of the file `st' is loaded or looked for
 * under: /proc/self/fd/N, spelt for the file.  glibc matches a loaded
 * object by every name it was loaded or found under (one per descriptor
 * number the file was opened at, for the life of the process) before it
 * looks at the file, and each number is reused by every file opened at
 * it: with the plain name, the copy an upgrade replaced, or the other
 * plugin, would hold the names a load tries, as many as the numbers a
 * long-lived process's loads met.  The bits of the file's (device,
 * inode), each as "/." (1) or "/" (0) between "fd" and N, give each file
 * names of its own; the kernel reads them all as fd/N.
 */
static void
fd_name(char name[FD_NAME_MAX], int fd, const struct stat *st)
{
	static const char base[] = "/proc/self/fd";
	uint64_t id = (uint64_t)st->st_ino ^
	    ((uint64_t)st->st_dev << 32 | (uint64_t)st->st_dev >> 32);
	unsigned v = (unsigned)fd;
	char digits[12];
	size_t n = sizeof(base) - 1, nd = 0;

	/* Written by hand: one snprintf per bit was a fifth of a login's
	 * loader. */
	memcpy(name, base, n);
	for (int i = 0; i < 64; i++, id >>= 1) {
		name[n++] = '/';
		if (id & 1)
			name[n++] = '.';
	}
	do {
		digits[nd++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	name[n++] = '/';
	while (nd > 0)
		name[n++] = digits[--nd];
	name[n] = '\0';
}

/* strcmp(a, b) == 0, here so that pam_awsmfa.so imports as few symbols
 * as it can: libpam resolves every one of them in each transaction. */
static int
same_str(const char *a, const char *b)
{
	while (*a != '\0' && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

/* The object's head, if it exports `symbol' (of `version', if not NULL);
 * else NULL, said. */
static const struct amfa_plugin_head *
head_of(void *h, const char *path, const char *symbol, const char *version,
    char *err, size_t errlen)
{
	const struct amfa_plugin_head *head = dlsym(h, symbol);

	if (head == NULL || head->version == NULL || head->claim == NULL ||
	    (version != NULL && !same_str(head->version, version))) {
		say(err, errlen,
		    "%s: not the plugin of pam_awsmfa %s "
		    "(%s missing or of another version)",
		    path, AMFA_VERSION, symbol);
		return NULL;
	}
	return head;
}

/* No object has the name `fdpath' or the file's identity: load it. */
static const struct amfa_plugin_head *
load_new(const char *fdpath, const char *path, const char *symbol,
    const char *version, const struct stat *st, void **handle, char *err,
    size_t errlen)
{
	const struct amfa_plugin_head *head;
	const char *why;
	void *h;

	/* RTLD_NODELETE: mapped until the process ends, with what it links
	 * (their thread-local storage stays valid in every thread that
	 * touched it), and not mapped and relocated again by the next
	 * transaction: plugin_load.h. */
	h = dlopen(fdpath, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (h == NULL) {
		why = dlerror();
		say(err, errlen, "%s: cannot load: %s", path,
		    why != NULL ? why : "unknown error");
		return NULL;
	}
	if ((head = head_of(h, path, symbol, version, err, errlen)) == NULL) {
		dlclose(h);
		return NULL;
	}
	if (!head->claim(st->st_dev, st->st_ino, 1)) {
		/* dlopen mapped this very descriptor: not expected. */
		say(err, errlen, "%s: the copy loaded is not this file", path);
		dlclose(h);
		return NULL;
	}
	*handle = h;
	return head;
}

const struct amfa_plugin_head *
amfa_plugin_load(const char *dir, uid_t owner, const char *name,
    const char *symbol, const char *version, void **handle, char *err,
    size_t errlen)
{
	const struct amfa_plugin_head *head;
	char path[PATH_MAX + NAME_MAX + 2], fdpath[FD_NAME_MAX];
	struct stat st;
	void *h;
	int fd, nfd, tries;

	*handle = NULL;
	/* Not strcmp: -fsanitize=undefined checks its argument for NULL and
	 * goes on, and GCC then sees a NULL reach "%s" (-Werror). */
	say(path, sizeof(path), "%s%s%s", dir,
	    dir[0] == '/' && dir[1] == '\0' ? "" : "/", name);
	if ((fd = open_checked(dir, owner, name, path, &st, err, errlen)) < 0)
		return NULL;
	for (tries = 0; tries < LOAD_TRIES; tries++) {
		fd_name(fdpath, fd, &st);
		/* A copy loaded before under this name, or from this file
		 * under another: the dynamic linker's own match. */
		h = dlopen(fdpath, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
		if (h == NULL) {
			head = load_new(fdpath, path, symbol, version, &st,
			    handle, err, errlen);
			close(fd);
			return head;
		}
		head = head_of(h, path, symbol, version, err, errlen);
		if (head != NULL && head->claim(st.st_dev, st.st_ino, 0)) {
			close(fd);
			*handle = h;
			return head;
		}
		if (head != NULL)
			say(err, errlen, "%s: %d names taken by earlier copies",
			    path, tries + 1);
		dlclose(h);
		/* The name is an object's loaded or found under it before
		 * (another file whose identity spells the same: fd_name):
		 * the same file under another number. */
		nfd = fcntl(fd, F_DUPFD_CLOEXEC, fd + 1);
		close(fd);
		if ((fd = nfd) < 0) {
			say(err, errlen, "%s: %s", path, strerror(errno));
			return NULL;
		}
	}
	close(fd);
	return NULL;
}
