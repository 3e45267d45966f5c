/* The audit log's hash chain: see audit_chain.h. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "audit_chain.h"
#include "hex.h"
#include "log.h"
#include "secure_file.h"

#define ZERO_DIGEST \
	"0000000000000000000000000000000000000000000000000000000000000000"

/*
 * The file next to the log named log_path + suffix, opened read-write
 * (created 0600 with O_CREAT in `create'): a root-owned regular file with
 * one link (or more with `links_ok') and none of the mode bits in `loose'.  The descriptor; -1 when
 * it does not exist, -2 when it cannot be used (logged, with what it must
 * be: `want').
 */
static int
open_beside(const char *log_path, const char *suffix, int create, mode_t loose,
    int links_ok, const char *what, const char *want)
{
	char *path;
	struct stat st;
	int fd;

	if (asprintf(&path, "%s%s", log_path, suffix) < 0)
		return -2;
	fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | create,
	    0600);
	if (fd < 0 && errno == ENOENT) {
		free(path);
		return -1;
	}
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_uid != 0 || (st.st_nlink != 1 && !links_ok) ||
	    (st.st_mode & loose) != 0) {
		amfa_log(LOG_ERR, "%s %s: %s; %s", what, path,
		    fd < 0 ? strerror(errno) : "unusable", want);
		if (fd >= 0)
			close(fd);
		free(path);
		return -2;
	}
	free(path);
	return fd;
}

/*
 * Can the names beside the log `log_path' be made by root alone?  Its
 * directory is root's, and neither others nor the log's group may add
 * names to it.  Then a head of more than one link was not planted there
 * as a link to another file: the other links are elsewhere, made by a
 * member of the log's group (it may read and write the head, so
 * fs.protected_hardlinks lets it link it from a directory of its own on
 * the same file system), and refusing the head would refuse every record.
 */
int
amfa_chain_names_roots_only(const char *log_path)
{
	struct stat lst, dst;
	char *copy = strdup(log_path);
	int r = 0;

	if (copy == NULL)
		return 0;
	if (lstat(log_path, &lst) == 0 && stat(dirname(copy), &dst) == 0 &&
	    S_ISDIR(dst.st_mode) && dst.st_uid == 0 &&
	    (dst.st_mode & 002) == 0 &&
	    ((dst.st_mode & 020) == 0 || dst.st_gid != lst.st_gid))
		r = 1;
	free(copy);
	return r;
}

/*
 * A head the log's group could open (as made before the writer existed):
 * whoever can open it can hold its lock, and whoever opened it keeps its
 * descriptor after a chmod.  So it is replaced: a new file of root's, mode
 * 0600, with its content (copied under its lock when that can be had),
 * takes its name, and the old descriptors lock a file no writer uses
 * again (a writer that waited on it sees that: amfa_chain_append).  The
 * new head's descriptor; or, if it could not be made, the old one made
 * 0600.
 */
static int
replace_head(const char *log_path, int fd)
{
	char *d = strdup(log_path), *b = strdup(log_path);
	char *head = NULL, *tmp = NULL, buf[128];
	int locked, nfd = -1;
	ssize_t n;

	locked = amfa_chain_lock(fd) == 0;
	n = pread(fd, buf, sizeof(buf), 0);
	if (d != NULL && b != NULL && n >= 0 &&
	    asprintf(&head, "%s%s", log_path, AMFA_CHAIN_SUFFIX) >= 0 &&
	    asprintf(&tmp, "%s/.%s%s.XXXXXX", dirname(d), basename(b),
		AMFA_CHAIN_SUFFIX) >= 0 &&
	    (nfd = mkostemp(tmp, O_CLOEXEC)) >= 0 &&
	    (pwrite(nfd, buf, (size_t)n, 0) != n || fchmod(nfd, 0600) != 0 ||
		fsync(nfd) != 0 || rename(tmp, head) != 0)) {
		(void)unlink(tmp);
		close(nfd);
		nfd = -1;
	}
	if (nfd >= 0) {
		amfa_log(LOG_NOTICE,
		    "audit chain head %s: the group could open it: replaced "
		    "by a new one of root's, 0600 (the gateway's records go "
		    "through awsmfa-audit-writer)",
		    head);
		close(fd); /* and its lock */
		fd = nfd;
	} else {
		amfa_log(LOG_ERR,
		    "audit chain head %s%s: the group could open it and it "
		    "could not be replaced (%s): made 0600",
		    log_path, AMFA_CHAIN_SUFFIX, strerror(errno));
		(void)fchmod(fd, 0600);
		if (locked)
			amfa_chain_unlock(fd);
	}
	free(tmp);
	free(head);
	free(b);
	free(d);
	return fd;
}

int
amfa_chain_open(const char *log_path)
{
	struct stat st;
	int fd;

	fd = open_beside(log_path, AMFA_CHAIN_SUFFIX, 0, 0117,
	    amfa_chain_names_roots_only(log_path), "audit chain head",
	    "not a root-owned regular file of mode 0660 or tighter");
	/* A head the log's group may open: root's alone. */
	if (fd >= 0 && geteuid() == 0 && fstat(fd, &st) == 0 &&
	    (st.st_mode & 077) != 0)
		fd = replace_head(log_path, fd);
	return fd;
}

/* Is `head_fd' still the file named LOG.chain (not replaced since it was
 * opened: replace_head)?  1 yes (or `log_path' NULL), 0 no. */
static int
head_current(const char *log_path, int head_fd)
{
	struct stat a, b;
	char *path;
	int r;

	if (log_path == NULL)
		return 1;
	if (asprintf(&path, "%s%s", log_path, AMFA_CHAIN_SUFFIX) < 0)
		return 1;
	r = fstat(head_fd, &a) != 0 || lstat(path, &b) != 0 ||
	    (a.st_dev == b.st_dev && a.st_ino == b.st_ino);
	free(path);
	return r;
}

int
amfa_chain_exists(const char *log_path)
{
	struct stat st;
	char *path;
	int r;

	if (asprintf(&path, "%s%s", log_path, AMFA_CHAIN_SUFFIX) < 0)
		return 1;
	r = lstat(path, &st) == 0 || errno != ENOENT;
	free(path);
	return r;
}

/*
 * A POSIX record lock on the whole head: it belongs to the process, so
 * processes that share the head's descriptor (a fork) still exclude each
 * other, which flock(2), per open file description, would not.
 */
static int
lock_op(int head_fd, short type, int cmd)
{
	struct flock l;

	memset(&l, 0, sizeof(l));
	l.l_type = type;
	l.l_whence = SEEK_SET;
	return fcntl(head_fd, cmd, &l);
}

/* /proc/PID/NAME into buf[size], NUL-ended: its length, or -1. */
static ssize_t
proc_read(pid_t pid, const char *name, char *buf, size_t size)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return n;
}

/*
 * Is the process `pid' stopped (job control, SIGSTOP) or traced?  From
 * /proc/PID/stat: the state after the command's closing parenthesis.
 */
static int
stopped(pid_t pid)
{
	char buf[512], *p;

	if (proc_read(pid, "stat", buf, sizeof(buf)) < 0 ||
	    (p = strrchr(buf, ')')) == NULL || p[1] != ' ')
		return 0;
	return p[2] == 'T' || p[2] == 't';
}

/* Whether `pid' runs with an effective uid other than root's. */
static int
not_root(pid_t pid)
{
	char buf[2048], *p;
	unsigned long ruid, euid;

	if (proc_read(pid, "status", buf, sizeof(buf)) < 0 ||
	    (p = strstr(buf, "\nUid:")) == NULL ||
	    sscanf(p + 5, "%lu %lu", &ruid, &euid) != 2)
		return 0;
	return euid != 0;
}

/*
 * A holder that keeps the lock and is held back: stopped (T, t), or not
 * root's -- a writer that is not root is the user's set-group-ID gateway,
 * which the user can keep from running without it ever being seen
 * stopped (SIGCONT then SIGSTOP at once, SCHED_IDLE on a busy CPU: the
 * stop is taken before any of its own code runs).  Root's writers the
 * user cannot pin or deprioritise (EPERM), and root's uploader may hold
 * the lock for as long as a cut takes.
 */
static int
stalled(pid_t pid)
{
	return stopped(pid) || not_root(pid);
}

/*
 * The head's lock is held by a process that has been stalled (above) for
 * AMFA_CHAIN_STOPPED_MS: end it.  A writer holds the lock for a read, one
 * append and one rewrite of the head, so a holder that stays stopped was
 * stopped on purpose: a local user may stop their own set-user-ID su or
 * set-group-ID gateway (its real uid is theirs) while it holds the lock,
 * and every other login's record would then wait and be refused (no
 * record, no service).  Deferring signals does not help (SIGSTOP cannot be
 * blocked), nor does handing the append to a process the user cannot
 * signal (the gateway cannot leave the user's uid).  So the next writer
 * kills the stopped holder through a pidfd (the holder checked again
 * through it: no pid reuse), the kernel drops the lock when it dies, and
 * the writer that gets the lock first repairs the head if the holder died
 * between its append and the head's rewrite (amfa_chain_append): nothing
 * is lost, the killed login never finished (its own record or not, it was
 * not told yes).  Root's writers (the module under sshd, su, sudo; the
 * uploader at every cut; the gateway's records' writer) may kill any
 * holder.  (The gateway no longer takes the lock: the head is root's, and
 * its records go through awsmfa-audit-writer.)  1 killed, 0 not.
 */
static int
break_stopped(int head_fd, pid_t *seen, int *since)
{
	struct flock l;
	int pfd, r = 0;

	memset(&l, 0, sizeof(l));
	l.l_type = F_WRLCK;
	l.l_whence = SEEK_SET;
	if (fcntl(head_fd, F_GETLK, &l) != 0 || l.l_type == F_UNLCK ||
	    l.l_pid <= 0 || !stalled(l.l_pid)) {
		*seen = 0;
		return 0;
	}
	if (l.l_pid != *seen) {
		*seen = l.l_pid;
		*since = 0;
		return 0;
	}
	if (*since < AMFA_CHAIN_STOPPED_MS)
		return 0;
	if ((pfd = (int)syscall(SYS_pidfd_open, l.l_pid, 0)) < 0)
		return 0;
	/* Through the pidfd: the same process, still stalled, still the
	 * holder. */
	memset(&l, 0, sizeof(l));
	l.l_type = F_WRLCK;
	l.l_whence = SEEK_SET;
	if (fcntl(head_fd, F_GETLK, &l) == 0 && l.l_type != F_UNLCK &&
	    l.l_pid == *seen && stalled(l.l_pid)) {
		if (syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0) ==
		    0) {
			amfa_log(LOG_WARNING,
			    "audit chain head: its lock holder, pid %d, was "
			    "held back (stopped, or not root's and still "
			    "holding) for %d ms: killed, so that others' "
			    "records go on",
			    (int)l.l_pid, *since);
			r = 1;
		} else if (*since < AMFA_CHAIN_STOPPED_MS + 50)
			amfa_log(LOG_ERR,
			    "audit chain head: its lock holder, pid %d, is "
			    "held back and cannot be ended here: %s",
			    (int)l.l_pid, strerror(errno));
	}
	close(pfd);
	if (r)
		*seen = 0;
	return r;
}

int
amfa_chain_lock(int head_fd)
{
	struct timespec pause = { 0, 10 * 1000 * 1000 };
	pid_t seen = 0;
	int since = 0;

	for (int waited = 0; waited < AMFA_CHAIN_LOCK_MS; waited += 10) {
		if (lock_op(head_fd, F_WRLCK, F_SETLK) == 0)
			return 0;
		if (errno != EACCES && errno != EAGAIN && errno != EINTR)
			return -1;
		if (waited % 50 == 0)
			break_stopped(head_fd, &seen, &since);
		nanosleep(&pause, NULL);
		since += 10;
	}
	return -1;
}

void
amfa_chain_unlock(int head_fd)
{
	lock_op(head_fd, F_UNLCK, F_SETLK);
}

int
amfa_chain_read(int head_fd, unsigned long long *seq, char hex[AMFA_CHAIN_HEX])
{
	char buf[128];
	ssize_t n;
	size_t len;

	n = pread(head_fd, buf, sizeof(buf) - 1, 0);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	if (n == 0) {
		*seq = 0;
		memcpy(hex, ZERO_DIGEST, AMFA_CHAIN_HEX);
		return 0;
	}
	/* "SEQ HEX\n" exactly. */
	len = strspn(buf, "0123456789");
	if (len == 0 || len > 19 || buf[len] != ' ' ||
	    strspn(buf + len + 1, "0123456789abcdef") != 64 ||
	    strcmp(buf + len + 65, "\n") != 0)
		return -1;
	*seq = strtoull(buf, NULL, 10);
	memcpy(hex, buf + len + 1, 64);
	hex[64] = '\0';
	return 0;
}

int
amfa_chain_digest(const char *line, size_t len, char hex[AMFA_CHAIN_HEX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (EVP_Digest(line, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32)
		return -1;
	amfa_hex(md, mdlen, hex);
	return 0;
}

char *
amfa_chain_line(const char *json, unsigned long long seq, const char *prev)
{
	char *line;

	if (json[0] != '{' || json[1] == '\0' || json[1] == '}')
		return NULL;
	if (asprintf(&line, "{\"seq\":%llu,\"prev\":\"%s\",%s\n", seq + 1, prev,
		json + 1) < 0)
		return NULL;
	return line;
}

int
amfa_chain_fields(const char *line, size_t len, unsigned long long *seq,
    char prev[AMFA_CHAIN_HEX])
{
	static const char a[] = "{\"seq\":", b[] = ",\"prev\":\"";
	size_t i = sizeof(a) - 1, d;

	if (len < i || memcmp(line, a, i) != 0)
		return -1;
	d = 0;
	while (i + d < len && line[i + d] >= '0' && line[i + d] <= '9')
		d++;
	if (d == 0 || d > 19 || (d > 1 && line[i] == '0'))
		return -1;
	*seq = strtoull(line + i, NULL, 10);
	i += d;
	if (len < i + sizeof(b) - 1 + 64 + 2 ||
	    memcmp(line + i, b, sizeof(b) - 1) != 0)
		return -1;
	i += sizeof(b) - 1;
	for (d = 0; d < 64; d++)
		if (!((line[i + d] >= '0' && line[i + d] <= '9') ||
			(line[i + d] >= 'a' && line[i + d] <= 'f')))
			return -1;
	if (line[i + 64] != '"' || line[i + 65] != ',')
		return -1;
	memcpy(prev, line + i, 64);
	prev[64] = '\0';
	return 0;
}

/* Rewrite the head: "SEQ HEX\n". */
static int
write_head(int head_fd, unsigned long long seq, const char *hex)
{
	char buf[128];
	int n = snprintf(buf, sizeof(buf), "%llu %s\n", seq, hex);

	if (n < 0 || (size_t)n >= sizeof(buf) ||
	    pwrite(head_fd, buf, (size_t)n, 0) != n ||
	    ftruncate(head_fd, n) != 0)
		return -1;
	return 0;
}

/*
 * The line of the log that ends at `end' (its newline the byte before
 * `end'), read into `buf' (AMFA_CHAIN_TAIL bytes): its length, or -1 (none:
 * the log is not that long, the byte is not a newline, the line is longer
 * than a record can be, or the descriptor is not readable).
 */
static ssize_t
line_before(int log_fd, unsigned long long end, char *buf)
{
	size_t want = end < AMFA_CHAIN_TAIL ? (size_t)end : AMFA_CHAIN_TAIL;
	ssize_t n, b;

	if (end == 0)
		return -1;
	n = pread(log_fd, buf, want, (off_t)(end - want));
	if (n != (ssize_t)want || buf[want - 1] != '\n')
		return -1;
	for (b = (ssize_t)want - 1; b > 0 && buf[b - 1] != '\n'; b--)
		;
	if (b == 0 && want == AMFA_CHAIN_TAIL)
		return -1;
	memmove(buf, buf + b, (size_t)want - (size_t)b - 1);
	return (ssize_t)want - b - 1;
}

/*
 * The head is one record behind the log when a writer died between its
 * append and the head's rewrite (a stopped holder killed: see
 * break_stopped): the log's last record then follows the head.  Take the
 * head on to it, so that the next record does not repeat its place.
 */
/*
 * A log that does not end with a newline ends with part of a record whose
 * writer died inside its write(2) (SIGKILL between two pages, the OOM
 * killer, a crash): under the lock no one else is writing, so that part
 * is cut off (it is no record; the head never moved past it), and the
 * next record follows the last whole one.  A part longer than
 * AMFA_CHAIN_TAIL (no record is) is left, ended with a newline: it stands
 * as a broken line of its own.  Needs a readable log (root's).
 */
static void
cut_torn(int log_fd, char *buf)
{
	struct stat st;
	size_t want;
	ssize_t n, nl;
	char c;

	if (fstat(log_fd, &st) != 0 || st.st_size == 0 ||
	    pread(log_fd, &c, 1, st.st_size - 1) != 1 || c == '\n')
		return;
	want = (unsigned long long)st.st_size < AMFA_CHAIN_TAIL ?
	    (size_t)st.st_size :
	    AMFA_CHAIN_TAIL;
	if ((n = pread(log_fd, buf, want, st.st_size - (off_t)want)) !=
	    (ssize_t)want)
		return;
	for (nl = n - 1; nl >= 0 && buf[nl] != '\n'; nl--)
		;
	if (nl >= 0 || want == (size_t)st.st_size) {
		off_t end = st.st_size - (off_t)want + (off_t)(nl + 1);

		if (ftruncate(log_fd, end) == 0)
			amfa_log(LOG_WARNING,
			    "audit log: %lld bytes of a record cut short at "
			    "its end (its writer died writing it) taken away",
			    (long long)(st.st_size - end));
		return;
	}
	if (amfa_append_whole(log_fd, "\n", 1) == 0)
		amfa_log(LOG_ERR,
		    "audit log: it ended in %zu or more bytes that are no "
		    "record; ended with a newline",
		    want);
}

static void
catch_up(int log_fd, unsigned long long *seq, char prev[AMFA_CHAIN_HEX],
    char *buf)
{
	struct stat st;
	unsigned long long s;
	char p[AMFA_CHAIN_HEX];
	ssize_t l;

	cut_torn(log_fd, buf);
	if (fstat(log_fd, &st) != 0 ||
	    (l = line_before(log_fd, (unsigned long long)st.st_size, buf)) <
		0 ||
	    amfa_chain_fields(buf, (size_t)l, &s, p) != 0 || s != *seq + 1 ||
	    strcmp(p, prev) != 0 || amfa_chain_digest(buf, (size_t)l, p) != 0)
		return;
	amfa_log(LOG_WARNING,
	    "audit chain head: one record behind the log (a writer ended "
	    "between its record and the head): taken on to seq %llu",
	    s);
	*seq = s;
	memcpy(prev, p, AMFA_CHAIN_HEX);
}

int
amfa_chain_read_log(int head_fd, int log_fd, unsigned long long *seq,
    char hex[AMFA_CHAIN_HEX])
{
	struct stat st;
	char *buf;
	ssize_t l;
	int r = -1;

	if (amfa_chain_read(head_fd, seq, hex) == 0)
		return 0;
	/* The group may write the head: a malformed one would refuse every
	 * record for good.  Root's writers take it on from the log's last
	 * record (the group could as well have written that head itself); a
	 * log with none (empty, just rotated) leaves it refused. */
	if (geteuid() != 0 || (buf = malloc(AMFA_CHAIN_TAIL)) == NULL)
		return -1;
	cut_torn(log_fd, buf);
	if (fstat(log_fd, &st) == 0 &&
	    (l = line_before(log_fd, (unsigned long long)st.st_size, buf)) >=
		0 &&
	    amfa_chain_fields(buf, (size_t)l, seq, hex) == 0 &&
	    amfa_chain_digest(buf, (size_t)l, hex) == 0 &&
	    write_head(head_fd, *seq, hex) == 0) {
		amfa_log(LOG_ALERT,
		    "audit chain head: malformed (written by the log's "
		    "group?): taken on from the log's last record, seq %llu",
		    *seq);
		r = 0;
	}
	free(buf);
	return r;
}

int
amfa_chain_anchor_open(const char *log_path)
{
	if (geteuid() != 0)
		return -1;
	return open_beside(log_path, AMFA_ANCHOR_SUFFIX, 0, 077, 0,
	    "audit chain anchor", "not a root-owned regular file of mode 0600");
}

int
amfa_anchor_rotated_open(const char *log_path, unsigned long long ino,
    int create)
{
	char suffix[48], *path;
	int fd;

	if (geteuid() != 0)
		return -1;
	snprintf(suffix, sizeof(suffix), "%s.%llu", AMFA_ANCHOR_SUFFIX, ino);
	fd = open_beside(log_path, suffix, create ? O_CREAT : 0, 077, 0,
	    "audit chain anchor", "not a root-owned regular file of mode 0600");
	/* Where others may add names beside the log, one may have put a file
	 * of its own under the name before the log was renamed: the old
	 * file's anchor could not be kept, and LOG.anchor would stay on it for
	 * good, the new log's records anchored nowhere.  What is not root's
	 * 0600 file of one link anchors nothing: replaced. */
	if (fd != -2 || !create ||
	    asprintf(&path, "%s%s", log_path, suffix) < 0)
		return fd;
	if (unlink(path) == 0) {
		amfa_log(LOG_WARNING,
		    "audit chain anchor %s: unusable (put there by another "
		    "user?): replaced",
		    path);
		fd = open_beside(log_path, suffix, O_CREAT | O_EXCL, 077, 0,
		    "audit chain anchor",
		    "not a root-owned regular file of mode 0600");
	}
	free(path);
	return fd;
}

int
amfa_anchor_read(int anchor_fd, struct amfa_anchor *a)
{
	char buf[160];
	ssize_t n;

	memset(a, 0, sizeof(*a));
	n = pread(anchor_fd, buf, sizeof(buf) - 1, 0);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	if (n == 0)
		return 0;
	if (sscanf(buf, "%llu %llu %llu %64[0-9a-f]", &a->ino, &a->end, &a->seq,
		a->hex) != 4 ||
	    strlen(a->hex) != 64) {
		memset(a, 0, sizeof(*a));
		return -1;
	}
	return 0;
}

int
amfa_anchor_holds(int log_fd, const struct amfa_anchor *a)
{
	struct stat st;
	char *buf, hex[AMFA_CHAIN_HEX], p[AMFA_CHAIN_HEX];
	unsigned long long s;
	ssize_t l;
	int r = 0;

	if (a->hex[0] == '\0')
		return 1; /* no anchor yet */
	if (fstat(log_fd, &st) != 0)
		return -1;
	if ((unsigned long long)st.st_ino != a->ino)
		return 2; /* another log (rotated) */
	if ((buf = malloc(AMFA_CHAIN_TAIL)) == NULL)
		return -1;
	if ((unsigned long long)st.st_size >= a->end &&
	    (l = line_before(log_fd, a->end, buf)) >= 0 &&
	    amfa_chain_fields(buf, (size_t)l, &s, p) == 0 && s == a->seq &&
	    amfa_chain_digest(buf, (size_t)l, hex) == 0 &&
	    strcmp(hex, a->hex) == 0)
		r = 1;
	free(buf);
	return r;
}

int
amfa_anchor_put(int anchor_fd, const struct amfa_anchor *a)
{
	char buf[160];
	int n;

	n = snprintf(buf, sizeof(buf), "%llu %llu %llu %s\n", a->ino, a->end,
	    a->seq, a->hex);
	if (n < 0 || (size_t)n >= sizeof(buf) ||
	    pwrite(anchor_fd, buf, (size_t)n, 0) != n ||
	    ftruncate(anchor_fd, n) != 0)
		return -1;
	return 0;
}

int
amfa_anchor_keep_rotated(const char *log_path, const struct amfa_anchor *old)
{
	struct amfa_anchor was;
	int fd, r = 0;

	if (old->hex[0] == '\0')
		return 0;
	if ((fd = amfa_anchor_rotated_open(log_path, old->ino, 1)) < 0)
		return -1;
	if (amfa_anchor_read(fd, &was) != 0 || was.hex[0] == '\0' ||
	    was.ino != old->ino || was.seq < old->seq)
		r = amfa_anchor_put(fd, old);
	if (r != 0)
		amfa_log(LOG_ERR,
		    "audit chain anchor of the rotated log (inode %llu): not "
		    "written: %s",
		    old->ino, strerror(errno));
	close(fd);
	return r;
}

int
amfa_anchor_write(const char *log_path, int anchor_fd, int log_fd,
    const struct amfa_anchor *now)
{
	struct amfa_anchor was;
	int h;

	if (amfa_anchor_read(anchor_fd, &was) != 0)
		return amfa_anchor_put(anchor_fd, now);
	h = amfa_anchor_holds(log_fd, &was);
	/* The log rotated (audit_rotation.h): the old file's anchor is kept
	 * beside the log under its inode before this one follows the new
	 * file. */
	if (h == 2 && log_path != NULL &&
	    amfa_anchor_keep_rotated(log_path, &was) != 0)
		return -1;
	if (h == 0) {
		/* Kept: it is the evidence. */
		amfa_log(LOG_ALERT,
		    "audit chain anchor: the log no longer holds seq %llu "
		    "(digest %s) ending at byte %llu: records were cut from "
		    "it; the anchor keeps them named for verify-audit",
		    was.seq, was.hex, was.end);
		return -1;
	}
	return amfa_anchor_put(anchor_fd, now);
}

int
amfa_chain_append(int log_fd, int head_fd, const char *json)
{
	return amfa_chain_append_anchored(NULL, log_fd, head_fd, -1, json);
}

int
amfa_chain_append_anchored(const char *log_path, int log_fd, int head_fd,
    int anchor_fd, const char *json)
{
	unsigned long long seq;
	char prev[AMFA_CHAIN_HEX], next[AMFA_CHAIN_HEX];
	char *line, *buf;
	struct amfa_anchor a;
	struct stat st;
	size_t len;
	int r;

	if (head_fd < 0) {
		if (asprintf(&line, "%s\n", json) < 0)
			return -ENOMEM;
		r = amfa_append_whole(log_fd, line, strlen(line));
		free(line);
		return r;
	}
	if ((buf = malloc(AMFA_CHAIN_TAIL)) == NULL)
		return -ENOMEM;
	if (amfa_chain_lock(head_fd) != 0) {
		free(buf);
		return -ETIMEDOUT;
	}
	if (!head_current(log_path, head_fd)) {
		/* Replaced while this writer waited: the caller opens the new
		 * one. */
		amfa_chain_unlock(head_fd);
		free(buf);
		return -ESTALE;
	}
	if (amfa_chain_read_log(head_fd, log_fd, &seq, prev) != 0) {
		amfa_chain_unlock(head_fd);
		free(buf);
		return -EBADMSG;
	}
	catch_up(log_fd, &seq, prev, buf);
	free(buf);
	if ((line = amfa_chain_line(json, seq, prev)) == NULL) {
		amfa_chain_unlock(head_fd);
		return -ENOMEM;
	}
	len = strlen(line);
	r = amfa_append_whole(log_fd, line, len);
	if (r == 0 &&
	    (amfa_chain_digest(line, len - 1, next) != 0 ||
		write_head(head_fd, seq + 1, next) != 0)) {
		/* The record is in the log but the head is not: the next
		 * writer takes the head on to it (catch_up). */
		amfa_log(LOG_ERR,
		    "audit chain head: not updated after seq %llu", seq + 1);
		r = -EIO;
	}
	/* Root's record anchored where the audit group cannot write
	 * (audit_chain.h).  A failure is logged, the record stands. */
	if (r == 0 && anchor_fd >= 0 && fstat(log_fd, &st) == 0) {
		a.ino = (unsigned long long)st.st_ino;
		a.end = (unsigned long long)st.st_size;
		a.seq = seq + 1;
		memcpy(a.hex, next, AMFA_CHAIN_HEX);
		amfa_anchor_write(log_path, anchor_fd, log_fd, &a);
	}
	free(line);
	amfa_chain_unlock(head_fd);
	return r;
}
