/* The per-user credential store; see creds_store.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "creds_store.h"
#include "log.h"
#include "secure_file.h"

#define LOCK_WAIT_MS 5000

/* The root-owned top directory, created 0755 if missing. */
static int
open_top(const char *store_dir)
{
	return amfa_dir_create_open(store_dir, geteuid(), 0755);
}

/* STORE_DIR/UID, owned by the user, 0700; created if missing. */
static int
make_user_dir(int top, const char *store_dir, const struct amfa_target *t)
{
	char name[32];
	struct stat st;
	int fd;

	snprintf(name, sizeof(name), "%u", (unsigned)t->uid);
	if (mkdirat(top, name, 0700) == 0) {
		fd = openat(top, name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || fchown(fd, t->uid, t->gid) != 0 ||
		    fchmod(fd, 0700) != 0) {
			amfa_log(LOG_ERR, "%s/%s: cannot set up: %s", store_dir,
			    name, strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		close(fd);
		return 0;
	}
	if (errno != EEXIST)
		return -1;
	fd = openat(top, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0 || st.st_uid != t->uid ||
	    (st.st_mode & 07777) != 0700) {
		amfa_log(LOG_ERR,
		    "%s/%s: exists but is not the user's 0700 "
		    "directory; refusing to use it",
		    store_dir, name);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

struct job {
	const char *path; /* STORE_DIR/UID */
	const char *data;
	size_t len;
};

/* As the user. */
static int
write_file(void *arg, int fd)
{
	const struct job *j = arg;
	int dir, r;

	(void)fd;
	dir = open(j->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir < 0)
		return -1;
	r = amfa_file_write_atomic(dir, AMFA_STORE_FILE, j->data, j->len, 0600);
	close(dir);
	if (r == 0 && write(fd, "end\n", 4) != 4)
		r = -1;
	return r;
}

/* As the user: the role caches of awsmfa-creds (role-NAME.json, their
 * locks and temporary files). */
static void
remove_role_caches(int dir)
{
	struct dirent *de;
	int fd;
	DIR *d;

	if ((fd = dup(dir)) < 0)
		return;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		const char *n = de->d_name;

		if (n[0] == '.')
			n++;
		if (strncmp(n, AMFA_ROLE_CACHE_PREFIX,
			strlen(AMFA_ROLE_CACHE_PREFIX)) == 0)
			unlinkat(dir, de->d_name, 0);
	}
	closedir(d);
}

/* As the user. */
static int
remove_file(void *arg, int fd)
{
	const struct job *j = arg;
	int dir, r;

	dir = open(j->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir < 0) {
		/* No store: nothing to remove, which is success. */
		if (errno != ENOENT)
			return -1;
		return write(fd, "end\n", 4) == 4 ? 0 : -1;
	}
	r = unlinkat(dir, AMFA_STORE_FILE, 0);
	if (r != 0 && errno == ENOENT)
		r = 0;
	unlinkat(dir, "." AMFA_STORE_FILE ".tmp", 0);
	remove_role_caches(dir);
	close(dir);
	if (r == 0 && write(fd, "end\n", 4) != 4)
		r = -1;
	return r;
}

static int
run_job(const struct amfa_target *t, int (*fn)(void *, int), struct job *j)
{
	char *out;
	size_t len;
	int ok;

	if (amfa_run_as(t, fn, j, 16, &out, &len) != 0)
		return -1;
	ok = strcmp(out, "end\n") == 0;
	amfa_wipe_free(out, len + 1);
	return ok ? 0 : -1;
}

/* Read, change by `delta' and write the session count; returns the new
 * count or -1. */
static int
count_sessions(int top, const struct amfa_target *t, int delta)
{
	struct amfa_file_policy policy = { geteuid(), 077, 64 };
	char name[48], lock[48], text[32], *buf = NULL;
	size_t len = 0;
	long n = 0;
	int lfd, r;

	snprintf(name, sizeof(name), "%u.sessions", (unsigned)t->uid);
	snprintf(lock, sizeof(lock), "%u.lock", (unsigned)t->uid);
	if ((lfd = amfa_lock_take(top, lock, LOCK_WAIT_MS)) < 0)
		return -1;
	r = amfa_file_read(top, name, name, &policy, &buf, &len);
	if (r == 0) {
		n = strtol(buf, NULL, 10);
		free(buf);
		if (n < 0 || n > 100000)
			n = 0;
	} else if (r != -ENOENT) {
		close(lfd);
		return -1;
	}
	n += delta;
	if (n < 0)
		n = 0;
	snprintf(text, sizeof(text), "%ld\n", n);
	if (n == 0)
		r = unlinkat(top, name, 0) == 0 || errno == ENOENT ? 0 : -1;
	else
		r = amfa_file_write_atomic(top, name, text, strlen(text), 0600);
	close(lfd);
	return r == 0 ? (int)n : -1;
}

static void
user_dir_path(char *buf, size_t n, const char *store_dir,
    const struct amfa_target *t)
{
	snprintf(buf, n, "%s/%u", store_dir, (unsigned)t->uid);
}

int
amfa_store_open_session(const char *store_dir, const struct amfa_target *t,
    const struct amfa_creds *c)
{
	char path[4096];
	struct job j;
	int top, r = -1;

	if ((top = open_top(store_dir)) < 0)
		return -1;
	if (make_user_dir(top, store_dir, t) != 0)
		goto out;
	user_dir_path(path, sizeof(path), store_dir, t);
	j.path = path;
	if ((j.data = amfa_creds_to_json(c, &j.len)) == NULL)
		goto out;
	r = run_job(t, write_file, &j);
	amfa_wipe_free((char *)j.data, j.len + 1);
	if (r != 0) {
		amfa_log(LOG_ERR, "%s/%s: cannot write the credentials", path,
		    AMFA_STORE_FILE);
		goto out;
	}
	if (count_sessions(top, t, +1) < 0)
		amfa_log(LOG_WARNING,
		    "uid %u: cannot count sessions; the store "
		    "may outlive them",
		    (unsigned)t->uid);
out:
	close(top);
	return r;
}

/* As the user: the new credentials, then the role caches made with the
 * old ones (the role cache also names the session that signed it:
 * role_creds.c serves none made with another). */
static int
renew_file(void *arg, int fd)
{
	const struct job *j = arg;
	int dir, r;

	dir = open(j->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir < 0)
		return -1;
	r = amfa_file_write_atomic(dir, AMFA_STORE_FILE, j->data, j->len, 0600);
	if (r == 0)
		remove_role_caches(dir);
	close(dir);
	if (r == 0 && write(fd, "end\n", 4) != 4)
		r = -1;
	return r;
}

/* Open sessions of the user (the count file, read under its lock), or -1. */
static int
sessions_open(int top, const struct amfa_target *t)
{
	struct amfa_file_policy policy = { geteuid(), 077, 64 };
	char name[48], lock[48], *buf = NULL;
	size_t len = 0;
	long n = 0;
	int lfd, r;

	snprintf(name, sizeof(name), "%u.sessions", (unsigned)t->uid);
	snprintf(lock, sizeof(lock), "%u.lock", (unsigned)t->uid);
	if ((lfd = amfa_lock_take(top, lock, LOCK_WAIT_MS)) < 0)
		return -1;
	r = amfa_file_read(top, name, name, &policy, &buf, &len);
	close(lfd);
	if (r == -ENOENT)
		return 0;
	if (r != 0)
		return -1;
	n = strtol(buf, NULL, 10);
	free(buf);
	return n > 0 && n <= 100000 ? (int)n : 0;
}

int
amfa_store_renew(const char *store_dir, const struct amfa_target *t,
    const struct amfa_creds *c)
{
	char path[4096], name[32];
	struct stat st;
	struct job j;
	int top, r = -1, n;

	if ((top = open_top(store_dir)) < 0)
		return -1;
	user_dir_path(path, sizeof(path), store_dir, t);
	n = sessions_open(top, t);
	if (n <= 0) {
		amfa_log(n < 0 ? LOG_ERR : LOG_NOTICE,
		    "uid %u: %s: nothing renewed", (unsigned)t->uid,
		    n < 0 ? "cannot read the session count" :
			    "no session open");
		close(top);
		return n < 0 ? -1 : 1;
	}
	snprintf(name, sizeof(name), "%u", (unsigned)t->uid);
	if (fstatat(top, name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
	    !S_ISDIR(st.st_mode) || st.st_uid != t->uid ||
	    (st.st_mode & 07777) != 0700) {
		amfa_log(LOG_ERR,
		    "%s: not the user's 0700 directory; nothing renewed", path);
		close(top);
		return -1;
	}
	j.path = path;
	if ((j.data = amfa_creds_to_json(c, &j.len)) != NULL) {
		r = run_job(t, renew_file, &j);
		amfa_wipe_free((char *)j.data, j.len + 1);
	}
	if (r != 0)
		amfa_log(LOG_ERR, "%s/%s: cannot renew the credentials", path,
		    AMFA_STORE_FILE);
	else
		amfa_log(LOG_INFO,
		    "uid %u: session credentials renewed in %s (%s)",
		    (unsigned)t->uid, path, c->access_key_id);
	close(top);
	return r;
}

static void
renew_name(char *buf, size_t n, const struct amfa_target *t)
{
	snprintf(buf, n, "%u.renew", (unsigned)t->uid);
}

int
amfa_store_stage_renewal(const char *store_dir, const struct amfa_target *t,
    const struct amfa_creds *c, time_t now)
{
	char name[48], *json, *doc;
	size_t jlen, dlen;
	int top, r = -1;

	if ((top = open_top(store_dir)) < 0)
		return -1;
	renew_name(name, sizeof(name), t);
	if ((json = amfa_creds_to_json(c, &jlen)) != NULL) {
		dlen = jlen + 32;
		if ((doc = malloc(dlen)) != NULL) {
			dlen = (size_t)snprintf(doc, dlen, "%lld\n%s",
			    (long long)now, json);
			r = amfa_file_write_atomic(top, name, doc, dlen, 0600);
			amfa_wipe_free(doc, dlen + 1);
		}
		amfa_wipe_free(json, jlen + 1);
	}
	if (r != 0)
		amfa_log(LOG_ERR, "%s/%s: cannot stage the renewal", store_dir,
		    name);
	close(top);
	return r == 0 ? 0 : -1;
}

void
amfa_store_drop_renewal(const char *store_dir, const struct amfa_target *t)
{
	char name[48];
	int top;

	if ((top = open_top(store_dir)) < 0)
		return;
	renew_name(name, sizeof(name), t);
	(void)unlinkat(top, name, 0);
	close(top);
}

int
amfa_store_apply_renewal(const char *store_dir, const struct amfa_target *t,
    time_t now, long max_age)
{
	struct amfa_file_policy policy = { geteuid(), 077, 64 * 1024 };
	struct amfa_creds c;
	const char *why, *json;
	char name[48], *buf = NULL, *end;
	size_t len = 0;
	long long staged;
	int top, r;

	if ((top = open_top(store_dir)) < 0)
		return -1;
	renew_name(name, sizeof(name), t);
	r = amfa_file_read(top, name, name, &policy, &buf, &len);
	(void)unlinkat(top, name, 0);
	close(top);
	if (r == -ENOENT) {
		amfa_log(LOG_NOTICE, "uid %u: no renewal staged",
		    (unsigned)t->uid);
		return 1;
	}
	if (r != 0)
		return -1;
	staged = strtoll(buf, &end, 10);
	if (end == buf || *end != '\n' || staged > (long long)now ||
	    (long long)now - staged > max_age) {
		amfa_log(LOG_NOTICE,
		    "uid %u: the staged renewal is stale: nothing renewed",
		    (unsigned)t->uid);
		amfa_wipe_free(buf, len + 1);
		return 1;
	}
	json = end + 1;
	r = amfa_creds_from_json(json, &c, &why);
	amfa_wipe_free(buf, len + 1);
	if (r != 0) {
		amfa_log(LOG_ERR, "uid %u: the staged renewal: %s",
		    (unsigned)t->uid, why);
		return -1;
	}
	r = amfa_store_renew(store_dir, t, &c);
	amfa_creds_free(&c);
	return r;
}

static void
roles_name(char *buf, size_t n, const struct amfa_target *t)
{
	snprintf(buf, n, "%u" AMFA_ROLES_SUFFIX, (unsigned)t->uid);
}

/* A file in root's directory, the user's own and readable by the user
 * only (roles_file.h says why the user owns it): no drop needed, nothing
 * of the user's is opened.  Written like amfa_file_write_atomic, owner and
 * mode set before the rename, so whatever stood under the name (a file of
 * another mode, written before) is replaced whole. */
static int
write_roles(int top, const char *name, const struct amfa_target *t,
    const char *data, size_t len)
{
	char tmp[64];
	size_t off = 0;
	ssize_t w;
	int fd, r = -1;

	snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	if (unlinkat(top, tmp, 0) != 0 && errno != ENOENT)
		return -1;
	fd = openat(top, tmp,
	    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (fchown(fd, t->uid, 0) != 0 || fchmod(fd, 0400) != 0)
		goto out;
	while (off < len) {
		if ((w = write(fd, data + off, len - off)) < 0) {
			if (errno == EINTR)
				continue;
			goto out;
		}
		off += (size_t)w;
	}
	if (fsync(fd) != 0)
		goto out;
	if (close(fd) != 0) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (renameat(top, tmp, top, name) != 0)
		goto out;
	fsync(top);
	return 0;
out:
	if (fd >= 0)
		close(fd);
	unlinkat(top, tmp, 0);
	return r;
}

int
amfa_store_write_roles(const char *store_dir, const struct amfa_target *t,
    const struct amfa_roles_file *f)
{
	char name[48], *json;
	size_t len;
	int top, r = -1;

	if ((top = open_top(store_dir)) < 0)
		return -1;
	roles_name(name, sizeof(name), t);
	if (f == NULL || f->nroles == 0) {
		r = unlinkat(top, name, 0) == 0 || errno == ENOENT ? 0 : -1;
	} else if ((json = amfa_roles_to_json(f, &len)) != NULL) {
		r = write_roles(top, name, t, json, len);
		free(json);
	}
	if (r != 0)
		amfa_log(LOG_ERR, "%s/%s: cannot write the roles: %s",
		    store_dir, name, strerror(errno));
	close(top);
	return r;
}

static int
remove_store(int top, const char *store_dir, const struct amfa_target *t)
{
	char path[4096], name[32];
	struct job j = { path, NULL, 0 };

	roles_name(name, sizeof(name), t);
	unlinkat(top, name, 0);

	user_dir_path(path, sizeof(path), store_dir, t);
	if (run_job(t, remove_file, &j) != 0) {
		amfa_log(LOG_ERR, "%s: cannot remove the credentials", path);
		return -1;
	}
	snprintf(name, sizeof(name), "%u", (unsigned)t->uid);
	if (unlinkat(top, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
		amfa_log(LOG_NOTICE, "%s: left in place (not empty)", path);
	return 0;
}

int
amfa_store_close_session(const char *store_dir, const struct amfa_target *t)
{
	int top, n, r = 0;

	if ((top = open_top(store_dir)) < 0)
		return -1;
	n = count_sessions(top, t, -1);
	if (n == 0)
		r = remove_store(top, store_dir, t);
	close(top);
	return n < 0 ? -1 : r;
}

int
amfa_store_remove(const char *store_dir, const struct amfa_target *t)
{
	char name[48];
	int top, r;

	if ((top = open_top(store_dir)) < 0)
		return -1;
	r = remove_store(top, store_dir, t);
	snprintf(name, sizeof(name), "%u.sessions", (unsigned)t->uid);
	unlinkat(top, name, 0);
	close(top);
	return r;
}
