/* The gate marker; see gate_marker.h for the design. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pwd.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conffile.h"
#include "gate_marker.h"
#include "log.h"
#include "secure_file.h"

#define MAX_DEPTH 64 /* ancestors walked before giving up */
#define MARK_MAX  2048

/* Read a small /proc file below `dirfd' into buf.  0 or -1. */
static int
read_small(int dirfd, const char *name, char *buf, size_t n)
{
	size_t got = 0;
	ssize_t r;
	int fd;

	if ((fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return -1;
	while (got < n - 1) {
		r = read(fd, buf + got, n - 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	return got > 0 ? 0 : -1;
}

int
amfa_proc_parse_stat(const char *buf, struct amfa_proc *p)
{
	const char *s;
	char *end;
	long long v[20];
	int i;

	/* "PID (COMM) S PPID PGRP SID ..." where COMM may hold anything. */
	errno = 0;
	v[0] = strtoll(buf, &end, 10);
	if (errno != 0 || end == buf || v[0] <= 0 || strncmp(end, " (", 2))
		return -1;
	p->pid = (pid_t)v[0];
	if ((s = strrchr(buf, ')')) == NULL || s[1] != ' ')
		return -1;
	s += 2;
	/* Field 3 is the state letter; fields 4..22 are numbers. */
	if (!isalpha((unsigned char)*s) || s[1] != ' ')
		return -1;
	s += 2;
	for (i = 0; i < 19; i++) {
		errno = 0;
		v[i] = strtoll(s, &end, 10);
		if (errno != 0 || end == s ||
		    (*end != ' ' && *end != '\n' && *end != '\0'))
			return -1;
		s = end;
		while (*s == ' ')
			s++;
	}
	if (v[0] < 0 || v[2] < 0 || v[18] < 0)
		return -1;
	p->ppid = (pid_t)v[0];		      /* field 4 */
	p->sid = (pid_t)v[2];		      /* field 6 */
	p->start = (unsigned long long)v[18]; /* field 22 */
	return 0;
}

/* The real uid from /proc/PID/status ("Uid:\treal\teffective..."). */
static int
parse_status_ruid(const char *buf, uid_t *ruid)
{
	const char *s;
	char *end;
	unsigned long v;

	if (strncmp(buf, "Uid:", 4) == 0)
		s = buf;
	else if ((s = strstr(buf, "\nUid:")) != NULL)
		s++;
	else
		return -1;
	s += 4;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || v > (uid_t)-1)
		return -1;
	*ruid = (uid_t)v;
	return 0;
}

int
amfa_proc_read(pid_t pid, struct amfa_proc *p)
{
	char path[64], buf[4096];
	int dirfd, r = -1;

	/*
	 * Both files are read through one descriptor of /proc/PID: it stays
	 * bound to that process, so they cannot describe two different ones.
	 */
	snprintf(path, sizeof(path), "/proc/%ld", (long)pid);
	if ((dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	if (read_small(dirfd, "stat", buf, sizeof(buf)) == 0 &&
	    amfa_proc_parse_stat(buf, p) == 0 && p->pid == pid &&
	    read_small(dirfd, "status", buf, sizeof(buf)) == 0 &&
	    parse_status_ruid(buf, &p->ruid) == 0)
		r = 0;
	close(dirfd);
	return r;
}

int
amfa_boot_id(char out[AMFA_BOOT_ID_LEN + 1])
{
	char buf[64];
	int dirfd, r;

	if ((dirfd = open("/proc/sys/kernel/random",
		 O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	r = read_small(dirfd, "boot_id", buf, sizeof(buf));
	close(dirfd);
	if (r != 0 || strlen(buf) < AMFA_BOOT_ID_LEN)
		return -1;
	memcpy(out, buf, AMFA_BOOT_ID_LEN);
	out[AMFA_BOOT_ID_LEN] = '\0';
	return 0;
}

int
amfa_gate_connection_self(struct amfa_proc *m)
{
	pid_t sid = getsid(0), self = getpid(), parent = getppid();

	if (sid == self) {
		if (amfa_proc_read(self, m) != 0)
			return -1;
	} else if (sid == parent) {
		if (amfa_proc_read(parent, m) != 0)
			return -1;
		/*
		 * Still our parent after the read: it was alive while we read
		 * it, so the pid was not reused under us.
		 */
		if (getppid() != parent)
			return -1;
	} else
		return -1;
	return m->ruid == 0 && m->sid == m->pid ? 0 : -1;
}

int
amfa_gate_connection_above(pid_t from, struct amfa_proc *m)
{
	pid_t pid = from;

	for (int depth = 0; depth < MAX_DEPTH && pid > 0; depth++) {
		if (amfa_proc_read(pid, m) != 0) {
			amfa_log(LOG_ERR, "cannot read process %ld", (long)pid);
			return -1;
		}
		if (m->ruid == 0 && m->sid == m->pid)
			return 0;
		pid = m->ppid;
	}
	amfa_log(LOG_ERR,
	    "no process above %ld runs as root and leads a "
	    "session",
	    (long)from);
	return -1;
}

int
amfa_gate_mark_format(const struct amfa_gate_mark *mk, char *buf, size_t n)
{
	int r;

	r = snprintf(buf, n,
	    "# pam_awsmfa gate marker: written by the module, read by "
	    "awsmfa-gateway\n"
	    "user = %s\nuid = %lu\niam_user = %s\npid = %ld\n"
	    "start = %llu\nboot_id = %s\ntime = %lld\nrhost = %s\n",
	    mk->user, (unsigned long)mk->uid,
	    mk->iam_user[0] ? mk->iam_user : "-", (long)mk->pid, mk->start,
	    mk->boot_id, mk->time, mk->rhost[0] ? mk->rhost : "-");
	if (r < 0 || (size_t)r >= n) {
		amfa_log(LOG_ERR, "gate marker too long");
		return -1;
	}
	return 0;
}

/* The parsed form, as the option table wants it. */
struct mark_text {
	char *user;
	long uid;
	char *iam_user;
	long pid;
	char *start;
	char *boot_id;
	long time;
	char *rhost; /* NULL in markers written before it */
};

static const char *
check_digits(const char *v)
{
	for (const char *p = v; *p != '\0'; p++)
		if (!isdigit((unsigned char)*p))
			return "must be a number";
	return strlen(v) > 20 ? "too long" : NULL;
}

/* A host name or address: printable, no blanks (it goes into records). */
static const char *
check_rhost(const char *v)
{
	for (const char *p = v; *p != '\0'; p++)
		if (*p <= ' ' || *p > '~')
			return "must be printable, without blanks";
	return NULL;
}

static const struct amfa_opt mark_opts[] = {
	{ "user", AMFA_OPT_STRING, offsetof(struct mark_text, user), 0, 0, NULL,
	    0, NULL, NULL },
	{ "uid", AMFA_OPT_INT, offsetof(struct mark_text, uid), 0, 0xffffffffL,
	    NULL, 0, NULL, NULL },
	{ "iam_user", AMFA_OPT_STRING, offsetof(struct mark_text, iam_user), 0,
	    0, NULL, 0, NULL, NULL },
	{ "pid", AMFA_OPT_INT, offsetof(struct mark_text, pid), 1, 0x7fffffffL,
	    NULL, 0, NULL, NULL },
	{ "start", AMFA_OPT_STRING, offsetof(struct mark_text, start), 0, 0,
	    NULL, 0, NULL, check_digits },
	{ "boot_id", AMFA_OPT_STRING, offsetof(struct mark_text, boot_id), 0, 0,
	    NULL, 0, NULL, NULL },
	{ "time", AMFA_OPT_INT, offsetof(struct mark_text, time), 0,
	    0x7fffffffffffffffL, NULL, 0, NULL, NULL },
	{ "rhost", AMFA_OPT_STRING, offsetof(struct mark_text, rhost), 0, 0,
	    NULL, 0, NULL, check_rhost },
};
#define NMARK_OPTS (sizeof(mark_opts) / sizeof(mark_opts[0]))

static int
copy_field(char *dst, size_t n, const char *src, const char *shown,
    const char *key)
{
	if (src == NULL) {
		amfa_log(LOG_ERR, "%s: %s missing", shown, key);
		return -1;
	}
	if (strlen(src) >= n) {
		amfa_log(LOG_ERR, "%s: %s too long", shown, key);
		return -1;
	}
	strcpy(dst, src);
	return 0;
}

int
amfa_gate_mark_parse(const char *buf, size_t len, const char *shown,
    struct amfa_gate_mark *mk)
{
	struct mark_text t = { .uid = -1, .pid = -1, .time = -1 };
	int r = -1;

	memset(mk, 0, sizeof(*mk));
	if (amfa_conf_parse(buf, len, shown, mark_opts, NMARK_OPTS, &t) != 0)
		goto out;
	if (copy_field(mk->user, sizeof(mk->user), t.user, shown, "user") ||
	    copy_field(mk->iam_user, sizeof(mk->iam_user), t.iam_user, shown,
		"iam_user") ||
	    copy_field(mk->boot_id, sizeof(mk->boot_id), t.boot_id, shown,
		"boot_id"))
		goto out;
	if (t.uid < 0 || t.pid < 0 || t.time < 0 || t.start == NULL) {
		amfa_log(LOG_ERR, "%s: incomplete marker", shown);
		goto out;
	}
	if (strcmp(mk->iam_user, "-") == 0)
		mk->iam_user[0] = '\0';
	if (t.rhost != NULL && strcmp(t.rhost, "-") != 0 &&
	    copy_field(mk->rhost, sizeof(mk->rhost), t.rhost, shown, "rhost"))
		goto out;
	mk->uid = (uid_t)t.uid;
	mk->pid = (pid_t)t.pid;
	mk->time = t.time;
	errno = 0;
	mk->start = strtoull(t.start, NULL, 10);
	if (errno != 0) {
		amfa_log(LOG_ERR, "%s: start out of range", shown);
		goto out;
	}
	r = 0;
out:
	amfa_conf_free(mark_opts, NMARK_OPTS, &t);
	return r;
}

/* STORE_DIR/gate, opened and checked; created (0711) when `create'. */
static int
open_gate_dir(const char *store_dir, uid_t owner, int create)
{
	struct stat st;
	int top, fd;

	top = create ? amfa_dir_create_open(store_dir, owner, 0755) :
		       amfa_dir_open(store_dir, owner, 022);
	if (top < 0)
		return -1;
	if (create && mkdirat(top, AMFA_GATE_SUBDIR, 0711) != 0 &&
	    errno != EEXIST) {
		amfa_log(LOG_ERR, "%s/%s: cannot create: %s", store_dir,
		    AMFA_GATE_SUBDIR, strerror(errno));
		close(top);
		return -1;
	}
	/*
	 * O_PATH for readers: the gateway, running as the user, may only
	 * search the directory (mode 0711), not list it.
	 */
	fd = openat(top, AMFA_GATE_SUBDIR,
	    (create ? O_RDONLY : O_PATH) | O_DIRECTORY | O_NOFOLLOW |
		O_CLOEXEC);
	close(top);
	if (fd < 0) {
		amfa_log(LOG_ERR, "%s/%s: cannot open: %s", store_dir,
		    AMFA_GATE_SUBDIR, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || st.st_uid != owner ||
	    (st.st_mode & 022) != 0) {
		amfa_log(LOG_ERR,
		    "%s/%s: must be a directory owned by uid %u, "
		    "not writable by group or others",
		    store_dir, AMFA_GATE_SUBDIR, (unsigned)owner);
		close(fd);
		return -1;
	}
	/* The writer keeps the mode what the gateway needs. */
	if (create && (st.st_mode & 07777) != 0711 && fchmod(fd, 0711) != 0) {
		amfa_log(LOG_ERR, "%s/%s: cannot set mode 0711: %s", store_dir,
		    AMFA_GATE_SUBDIR, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* A marker's file name: the pid in decimal. */
static int
pid_from_name(const char *name, pid_t *pid)
{
	char *end;
	long v;

	if (!isdigit((unsigned char)name[0]) || strlen(name) > 10)
		return -1;
	errno = 0;
	v = strtol(name, &end, 10);
	if (errno != 0 || *end != '\0' || v <= 0 || v > 0x7fffffffL)
		return -1;
	*pid = (pid_t)v;
	return 0;
}

/* Does a marker name a process that still exists, the same one? */
static int
mark_is_live(int gatefd, const char *name, pid_t pid, uid_t owner)
{
	struct amfa_file_policy pol = { owner, 022, MARK_MAX };
	struct amfa_gate_mark mk;
	struct amfa_proc p;
	char *buf;
	size_t len;
	int live = 0;

	if (amfa_proc_read(pid, &p) != 0)
		return 0;
	if (amfa_file_read(gatefd, name, name, &pol, &buf, &len) != 0)
		return 0;
	if (amfa_gate_mark_parse(buf, len, name, &mk) == 0 && mk.pid == pid &&
	    mk.start == p.start)
		live = 1;
	amfa_wipe_free(buf, len + 1);
	return live;
}

/* Remove the markers (and leftover temporary files) of dead processes. */
static void
sweep(int gatefd, uid_t owner)
{
	struct dirent *de;
	DIR *d;
	pid_t pid;
	int fd;

	if ((fd = openat(gatefd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (pid_from_name(de->d_name, &pid) == 0) {
			if (!mark_is_live(gatefd, de->d_name, pid, owner))
				unlinkat(gatefd, de->d_name, 0);
		} else if (de->d_name[0] == '.' && de->d_name[1] != '\0' &&
		    de->d_name[1] != '.') {
			/* ".PID.tmp": a writer that died half-way. */
			char num[16];
			size_t n = strcspn(de->d_name + 1, ".");

			if (n == 0 || n >= sizeof(num))
				continue;
			memcpy(num, de->d_name + 1, n);
			num[n] = '\0';
			if (strcmp(de->d_name + 1 + n, ".tmp") == 0 &&
			    pid_from_name(num, &pid) == 0 &&
			    kill(pid, 0) != 0 && errno == ESRCH)
				unlinkat(gatefd, de->d_name, 0);
		}
	}
	closedir(d);
}

int
amfa_gate_mark_write(const char *store_dir, uid_t owner, gid_t gid,
    const struct amfa_gate_mark *mk)
{
	char buf[MARK_MAX], name[16], tmp[32];
	size_t len, off = 0;
	ssize_t w;
	int gatefd, fd, r = -1;

	if (amfa_gate_mark_format(mk, buf, sizeof(buf)) != 0)
		return -1;
	len = strlen(buf);
	if ((gatefd = open_gate_dir(store_dir, owner, 1)) < 0)
		return -1;
	sweep(gatefd, owner);
	snprintf(name, sizeof(name), "%ld", (long)mk->pid);
	snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	/*
	 * Only this connection's authentication writes this name, one at a
	 * time; a leftover temporary file is from a dead one.  No fsync: the
	 * directory is on tmpfs, and a marker need not survive a crash (its
	 * connection does not).
	 */
	if (unlinkat(gatefd, tmp, 0) != 0 && errno != ENOENT)
		goto fail;
	fd = openat(gatefd, tmp,
	    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		goto fail;
	if (fchown(fd, owner, gid) != 0 || fchmod(fd, 0640) != 0) {
		close(fd);
		goto fail_tmp;
	}
	while (off < len) {
		w = write(fd, buf + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			close(fd);
			goto fail_tmp;
		}
		off += (size_t)w;
	}
	if (close(fd) != 0 || renameat(gatefd, tmp, gatefd, name) != 0)
		goto fail_tmp;
	close(gatefd);
	return 0;
fail_tmp:
	r = errno;
	unlinkat(gatefd, tmp, 0);
	errno = r;
fail:
	amfa_log(LOG_ERR, "%s/%s/%s: cannot write the gate marker: %s",
	    store_dir, AMFA_GATE_SUBDIR, name, strerror(errno));
	close(gatefd);
	return -1;
}

static int
refuse(const char **why, const char *reason, const char *store_dir,
    const char *name)
{
	amfa_log(LOG_NOTICE, "%s/%s/%s: %s", store_dir, AMFA_GATE_SUBDIR, name,
	    reason);
	if (why != NULL)
		*why = reason;
	return -1;
}

int
amfa_gate_mark_check(const char *store_dir, uid_t owner,
    const struct amfa_proc *m, const char *user, uid_t uid,
    struct amfa_gate_mark *mk, const char **why)
{
	struct amfa_file_policy pol = { owner, 022, MARK_MAX };
	char name[16], shown[600], boot[AMFA_BOOT_ID_LEN + 1];
	char *buf;
	size_t len;
	int gatefd, r;

	snprintf(name, sizeof(name), "%ld", (long)m->pid);
	if ((gatefd = open_gate_dir(store_dir, owner, 0)) < 0)
		return refuse(why, "marker directory unusable", store_dir, "");
	snprintf(shown, sizeof(shown), "%s/%s/%s", store_dir, AMFA_GATE_SUBDIR,
	    name);
	r = amfa_file_read(gatefd, name, shown, &pol, &buf, &len);
	close(gatefd);
	if (r == -ENOENT)
		return refuse(why, "no MFA marker for this connection",
		    store_dir, name);
	if (r != 0)
		return refuse(why, "MFA marker unusable", store_dir, name);
	r = amfa_gate_mark_parse(buf, len, shown, mk);
	amfa_wipe_free(buf, len + 1);
	if (r != 0)
		return refuse(why, "MFA marker unusable", store_dir, name);
	if (mk->pid != m->pid || mk->start != m->start)
		return refuse(why, "MFA marker is from another connection",
		    store_dir, name);
	if (amfa_boot_id(boot) != 0 || strcmp(boot, mk->boot_id) != 0)
		return refuse(why, "MFA marker is from another boot", store_dir,
		    name);
	if (mk->uid != uid || strcmp(mk->user, user) != 0)
		return refuse(why, "MFA marker is for another user", store_dir,
		    name);
	return 0;
}

int
amfa_gate_mark_remove(const char *store_dir, uid_t owner,
    const struct amfa_proc *m)
{
	char name[16], path[4096];
	struct stat st;
	int gatefd, r = 0;

	/* No directory: no marker was ever written; nothing to say. */
	snprintf(path, sizeof(path), "%s/%s", store_dir, AMFA_GATE_SUBDIR);
	if (lstat(path, &st) != 0 && errno == ENOENT)
		return 0;
	if ((gatefd = open_gate_dir(store_dir, owner, 0)) < 0)
		return -1;
	snprintf(name, sizeof(name), "%ld", (long)m->pid);
	if (unlinkat(gatefd, name, 0) != 0 && errno != ENOENT) {
		amfa_log(LOG_ERR, "%s/%s/%s: cannot remove: %s", store_dir,
		    AMFA_GATE_SUBDIR, name, strerror(errno));
		r = -1;
	}
	sweep(gatefd, owner);
	close(gatefd);
	return r;
}

void
amfa_gate_mark_login(const char *store_dir, const char *user,
    const char *iam_user, const char *rhost)
{
	struct amfa_gate_mark mk;
	struct amfa_proc m;
	struct passwd pw, *pwp = NULL;
	char pwbuf[4096];

	if (geteuid() != 0 || amfa_gate_connection_self(&m) != 0) {
		amfa_debug("user %s: not below a root session leader: no gate "
			   "marker",
		    user);
		return;
	}
	memset(&mk, 0, sizeof(mk));
	if (getpwnam_r(user, &pw, pwbuf, sizeof(pwbuf), &pwp) != 0 ||
	    pwp == NULL) {
		amfa_log(LOG_ERR,
		    "user %s: not in the password database: no "
		    "gate marker",
		    user);
		return;
	}
	if (strlen(user) >= sizeof(mk.user) ||
	    (iam_user != NULL && strlen(iam_user) >= sizeof(mk.iam_user)) ||
	    amfa_boot_id(mk.boot_id) != 0) {
		amfa_log(LOG_ERR, "user %s: cannot describe the gate marker",
		    user);
		return;
	}
	strcpy(mk.user, user);
	if (iam_user != NULL)
		strcpy(mk.iam_user, iam_user);
	mk.uid = pw.pw_uid;
	mk.pid = m.pid;
	mk.start = m.start;
	mk.time = (long long)time(NULL);
	/* An rhost the marker cannot carry is left out: the gateway then
	 * records the address only as claimed. */
	if (rhost != NULL && rhost[0] != '\0' &&
	    strlen(rhost) < sizeof(mk.rhost) && check_rhost(rhost) == NULL)
		strcpy(mk.rhost, rhost);
	else if (rhost != NULL && rhost[0] != '\0')
		amfa_log(LOG_WARNING,
		    "user %s: PAM_RHOST unusable in the gate marker: left out",
		    user);
	if (amfa_gate_mark_write(store_dir, 0, pw.pw_gid, &mk) == 0)
		amfa_debug("user %s: gate marker for connection %ld", user,
		    (long)m.pid);
}

void
amfa_gate_mark_logout(const char *store_dir)
{
	struct amfa_proc m;

	if (geteuid() != 0 || amfa_gate_connection_self(&m) != 0)
		return;
	(void)amfa_gate_mark_remove(store_dir, 0, &m);
}
