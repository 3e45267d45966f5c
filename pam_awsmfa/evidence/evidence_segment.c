/* Audit-log segments: see evidence_segment.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "audit_chain.h"
#include "audit_rotation.h"
#include "evidence_segment.h"
#include "log.h"
#include "secure_file.h"

#define STATE "audit.state"
/* The most one segment holds: the chain's lock is held while it is copied
 * and synced, and every login waits for it meanwhile (AMFA_CHAIN_LOCK_MS,
 * then refused); more is cut in further segments, CUT_ROUNDS a run. */
#define SEGMENT_MAX (16L * 1024 * 1024)
#define CUT_ROUNDS  64

/* The log's anchor (audit_chain.h), root's, 0600, if it has none. */
static int
anchor_make(const char *log_path)
{
	char *path;
	int fd, r = -1;

	if ((fd = amfa_chain_anchor_open(log_path)) >= 0) {
		close(fd);
		return 0;
	}
	if (fd == -2 ||
	    asprintf(&path, "%s%s", log_path, AMFA_ANCHOR_SUFFIX) < 0)
		return -1;
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd >= 0 && fchown(fd, 0, 0) == 0 && fchmod(fd, 0600) == 0)
		r = 0;
	if (r != 0)
		amfa_log(LOG_ERR, "%s: cannot make the anchor: %s", path,
		    strerror(errno));
	if (fd >= 0)
		close(fd);
	free(path);
	return r;
}

int
amfa_evidence_head_make(const char *log_path)
{
	struct stat st;
	char *path;
	int fd, r = -1;

	if ((fd = amfa_chain_open(log_path)) >= 0) {
		close(fd);
		return anchor_make(log_path);
	}
	if (fd == -2)
		return -1;
	if (lstat(log_path, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_uid != 0) {
		amfa_log(LOG_ERR, "audit_log %s: not a root-owned regular file",
		    log_path);
		return -1;
	}
	if (asprintf(&path, "%s%s", log_path, AMFA_CHAIN_SUFFIX) < 0)
		return -1;
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	/* Root's alone: the gateway's records go through the log's root
	 * writer (awsmfa-audit-writer), and no one else takes the lock. */
	if (fd >= 0 && fchown(fd, 0, 0) == 0 && fchmod(fd, 0600) == 0)
		r = 0;
	if (r != 0)
		amfa_log(LOG_ERR, "%s: cannot make the chain head: %s", path,
		    strerror(errno));
	else
		amfa_log(LOG_NOTICE,
		    "%s: made; records are chained from now on", path);
	if (fd >= 0)
		close(fd);
	free(path);
	return r == 0 ? anchor_make(log_path) : r;
}

struct state {
	unsigned long long ino, off, seq;
	char hex[AMFA_CHAIN_HEX];
};

static void
state_read(int spool_fd, struct state *s)
{
	struct amfa_file_policy policy = { 0, 077, 4096 };
	char *buf;
	size_t len;

	memset(s, 0, sizeof(*s));
	if (amfa_file_read(spool_fd, STATE, STATE, &policy, &buf, &len) != 0)
		return;
	if (sscanf(buf, "%llu %llu %llu %64[0-9a-f]", &s->ino, &s->off, &s->seq,
		s->hex) != 4 ||
	    strlen(s->hex) != 64) {
		amfa_log(LOG_ERR,
		    "spool %s: malformed; starting over at the "
		    "log's beginning",
		    STATE);
		memset(s, 0, sizeof(*s));
	}
	amfa_wipe_free(buf, len);
}

/* The first and last chain fields of a segment's lines. */
static void
span(const char *d, size_t n, unsigned long long *first,
    unsigned long long *last, char first_prev[AMFA_CHAIN_HEX])
{
	unsigned long long s;
	char prev[AMFA_CHAIN_HEX];

	*first = *last = 0;
	for (size_t i = 0; i < n;) {
		const char *nl = memchr(d + i, '\n', n - i);
		size_t l = nl ? (size_t)(nl - (d + i)) : n - i;

		if (amfa_chain_fields(d + i, l, &s, prev) == 0) {
			if (*first == 0) {
				*first = s;
				memcpy(first_prev, prev, AMFA_CHAIN_HEX);
			}
			*last = s;
		}
		i += l + 1;
	}
}

/* The chain fields and digest of the last line of a cut (whole lines):
 * 0, or -1 when it is not chained. */
static int
last_line_seq(const char *d, size_t n, unsigned long long *seq,
    char hex[AMFA_CHAIN_HEX])
{
	char prev[AMFA_CHAIN_HEX];
	size_t e = n - 1, b = e;

	while (b > 0 && d[b - 1] != '\n')
		b--;
	if (amfa_chain_fields(d + b, e - b, seq, prev) != 0 ||
	    amfa_chain_digest(d + b, e - b, hex) != 0)
		return -1;
	return 0;
}

/*
 * May a copy of `len' bytes go to the spool?  Only while a tenth of its
 * file system (at most 1 GiB) stays free after it, with the append slack
 * the audit writers need: the spool is on the audit log's file system, and
 * a full one refuses every service (no record, no service).  A long outage
 * piles up segments until then; after that the records stay in the log
 * alone, which goes on growing until the writers' own room check refuses.
 */
static int
spool_room(int queue_fd, size_t len)
{
	struct statvfs vfs;
	unsigned long long size, avail, reserve;

	if (fstatvfs(queue_fd, &vfs) != 0)
		return 0;
	size = (unsigned long long)vfs.f_blocks * vfs.f_frsize;
	avail = (unsigned long long)vfs.f_bavail * vfs.f_frsize;
	reserve = size / 10;
	if (reserve > 1024ULL * 1024 * 1024)
		reserve = 1024ULL * 1024 * 1024;
	reserve += AMFA_APPEND_SLACK;
	return avail >= reserve && avail - reserve >= len;
}

/* Write `name' in the queue: temporary file, fsync, rename, fsync. */
static int
queue_put(int queue_fd, const char *name, const char *data, size_t len)
{
	return amfa_file_write_atomic(queue_fd, name, data, len, 0600);
}

static int
state_write(int spool_fd, const struct state *s)
{
	char buf[200];

	snprintf(buf, sizeof(buf), "%llu %llu %llu %s\n", s->ino, s->off,
	    s->seq, s->hex);
	if (amfa_file_write_atomic(spool_fd, STATE, buf, strlen(buf), 0600) !=
	    0) {
		amfa_log(LOG_ERR,
		    "spool %s: not written: the segment may be "
		    "cut again",
		    STATE);
		return -1;
	}
	return 0;
}

/*
 * Is the file `fd' (stat `ost') found by the state's inode the log the last
 * cut was of, rather than a file that got the number after that one was
 * deleted?  Root's, the log's group (`log_st'), one link, not others' to
 * write, and the last cut's last record ends where the state says (more
 * links only where no one but root names files beside the log: a member
 * of the group may link it from elsewhere).
 */
static int
was_cut_from(const char *log_path, int fd, const struct stat *ost,
    const struct stat *log_st, const struct state *s)
{
	struct amfa_anchor a = { .ino = s->ino, .end = s->off, .seq = s->seq };

	if (!S_ISREG(ost->st_mode) || ost->st_uid != 0 ||
	    ost->st_gid != log_st->st_gid ||
	    (ost->st_nlink != 1 && !amfa_chain_names_roots_only(log_path)) ||
	    (ost->st_mode & 002) != 0)
		return 0;
	if (s->off == 0 || s->seq == 0)
		return 1;
	memcpy(a.hex, s->hex, AMFA_CHAIN_HEX);
	return amfa_anchor_holds(fd, &a) == 1;
}

/*
 * Where the next cut reads: the log (`log_fd'), or a file it was renamed
 * to, while that one has bytes left to cut (audit_rotation.h): first the
 * one the state names, found by its inode; once that is cut whole (or
 * gone), the file that begins with the record after the last cut, which
 * is the log itself unless it was renamed twice between cuts.  The
 * descriptor to read (log_fd or a new one) and its stat in *st, the state
 * moved on (and written) when it moves to another file; -2 when there is
 * nothing to cut now, -1 on error.
 */
static int
cut_source(const char *log_path, int log_fd, int spool_fd, struct state *s,
    struct stat *st)
{
	struct stat ost, lst;
	char *name = NULL;
	int old, found;

	if (fstat(log_fd, &lst) != 0)
		return -1;
	*st = lst;
	if (s->ino == 0 || s->ino == (unsigned long long)lst.st_ino) {
		if (s->ino != 0 && (unsigned long long)lst.st_size < s->off) {
			amfa_log(LOG_WARNING,
			    "%s: truncated since the last cut (rotation by "
			    "copy and truncate?): cutting it from its start; "
			    "what it gained after offset %llu is not uploaded",
			    log_path, s->off);
			s->off = 0;
		}
		s->ino = (unsigned long long)lst.st_ino;
		return log_fd;
	}
	old = amfa_rotated_open(log_path, s->ino, &name);
	if (old >= 0 &&
	    (fstat(old, &ost) != 0 ||
		((unsigned long long)ost.st_size > s->off &&
		    !was_cut_from(log_path, old, &ost, &lst, s)))) {
		amfa_log(LOG_ERR,
		    "%s: %s has the inode of the log the last cut was of, but "
		    "not its records (another file, given the number after "
		    "the log's was deleted?): not uploaded",
		    log_path, name);
		close(old);
		old = -1;
	}
	if (old >= 0 && (unsigned long long)ost.st_size > s->off) {
		amfa_log(LOG_INFO, "%s: rotated to %s: cutting its end first",
		    log_path, name);
		free(name);
		*st = ost;
		return old;
	}
	found = old >= 0;
	if (old < 0)
		amfa_log(LOG_WARNING,
		    "%s: rotated, and no file beside it is the old one (inode "
		    "%llu: deleted, compressed?): what it gained after offset "
		    "%llu is not uploaded",
		    log_path, s->ino, s->off);
	else {
		if ((unsigned long long)ost.st_size < s->off)
			amfa_log(LOG_ALERT,
			    "%s: rotated to %s, which is shorter than the last "
			    "cut reached (%llu bytes): cut since",
			    log_path, name, s->off);
		close(old);
	}
	free(name);
	name = NULL;
	/* Where the chain went on. */
	old = s->seq > 0 ?
	    amfa_rotated_successor(log_path, lst.st_gid, s->seq, s->hex,
		&name) :
	    -1;
	if (old >= 0 && fstat(old, &ost) == 0 && ost.st_ino != lst.st_ino) {
		amfa_log(LOG_INFO,
		    "%s: the chain goes on in %s (renamed again since): "
		    "cutting it next",
		    log_path, name);
		free(name);
		s->ino = (unsigned long long)ost.st_ino;
		s->off = 0;
		if (state_write(spool_fd, s) != 0) {
			close(old);
			return -1;
		}
		*st = ost;
		return old;
	}
	if (old >= 0)
		close(old); /* the log itself */
	else if (lst.st_size == 0 && found) {
		free(name);
		return -2; /* its first record not written yet */
	} else if (s->seq > 0 && lst.st_size > 0)
		amfa_log(LOG_WARNING,
		    "%s: no file beside it begins with seq %llu, the record "
		    "after the last cut: the records before the log's first "
		    "are not uploaded",
		    log_path, s->seq + 1);
	free(name);
	s->ino = (unsigned long long)lst.st_ino;
	s->off = 0;
	if (state_write(spool_fd, s) != 0)
		return -1;
	return log_fd;
}

static void
torn_tail(const char *log_path, unsigned long long bytes)
{
	amfa_log(LOG_WARNING,
	    "%s: the file it was rotated to ends in part of a record (%llu "
	    "bytes: its writer ended inside write(2)): not uploaded",
	    log_path, bytes);
}

/* One cut under the head's lock (amfa_evidence_cut).  *again when it cut
 * a rotated file to its end (the log itself is next). */
static int
cut_locked(const char *log_path, int head, int spool_fd, int queue_fd,
    time_t now, int *again)
{
	struct state s;
	struct stat st;
	unsigned long long first, last, hseq;
	char first_prev[AMFA_CHAIN_HEX] = "", hhex[AMFA_CHAIN_HEX];
	char name[200], when[32], sbuf[200], seal[200];
	char end_hex[AMFA_CHAIN_HEX];
	unsigned long long lseq;
	struct amfa_anchor a;
	int anchor, rotated, whole;
	const char *prev;
	char *data = NULL;
	struct tm tm;
	size_t len, got = 0, read_n;
	ssize_t n;
	int log_fd, src = -1, r = -1;

	*again = 0;
	/* Without blocking: a FIFO put under the log's name (where others may
	 * add names) is refused, not waited on for good. */
	log_fd = open(log_path,
	    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (log_fd < 0 || fstat(log_fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		amfa_log(LOG_ERR, "%s: %s", log_path,
		    log_fd < 0 ? strerror(errno) : "not a regular file");
		goto out;
	}
	state_read(spool_fd, &s);
	if ((src = cut_source(log_path, log_fd, spool_fd, &s, &st)) < 0) {
		if (src == -2)
			r = 0;
		src = -1;
		goto out;
	}
	rotated = src != log_fd;
	if ((unsigned long long)st.st_size == s.off) {
		r = 0;
		goto out;
	}
	len = (size_t)((unsigned long long)st.st_size - s.off);
	whole = len <= SEGMENT_MAX;
	if (!whole)
		len = SEGMENT_MAX;
	if ((data = malloc(len)) == NULL)
		goto out;
	while (got < len &&
	    (n = pread(src, data + got, len - got, (off_t)(s.off + got))) > 0)
		got += (size_t)n;
	/* Whole lines only (a record is one line).  A segment's worth with no
	 * line end is no record (none is that long): written into the log by
	 * its group, it goes as it is, for verify-audit to name, rather than
	 * stop the cuts for good. */
	read_n = got;
	while (got > 0 && data[got - 1] != '\n')
		got--;
	if (got == 0 && !whole)
		got = read_n;
	if (got == 0) {
		/* A rotated file that ends in part of a record: passed. */
		if (rotated && whole) {
			torn_tail(log_path, len);
			s.off = (unsigned long long)st.st_size;
			if (state_write(spool_fd, &s) != 0)
				goto out;
			*again = 1;
		}
		r = 0;
		goto out;
	}
	span(data, got, &first, &last, first_prev);
	if (amfa_chain_read_log(head, log_fd, &hseq, hhex) != 0) {
		amfa_log(LOG_ERR, "%s: chain head malformed; not cut",
		    log_path);
		goto out;
	}
	prev = s.seq > 0 ? s.hex : first_prev[0] ? first_prev : hhex;
	if (first != 0 && first_prev[0] && strcmp(prev, first_prev) != 0)
		amfa_log(LOG_ERR,
		    "%s: the chain breaks at seq %llu: its prev is not the "
		    "last digest of the segment before (uploaded all the same;"
		    " verify-audit names it)",
		    log_path, first);
	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y%m%dT%H%M%SZ", &tm) == 0)
		goto out;
	snprintf(name, sizeof(name), "audit-%s-%020llu-%020llu-%s", when, first,
	    last, prev);
	if (!spool_room(queue_fd, got)) {
		amfa_log(LOG_WARNING,
		    "spool: no room for a copy of %zu bytes beside the log's "
		    "reserve: the records stay in the log, cut later",
		    got);
		goto out;
	}
	/* The seal of the cut (evidence_segment.h), queued first: a seal
	 * without its segment is a set cut short, never the other way. */
	if (last_line_seq(data, got, &lseq, end_hex) == 0 && lseq == last &&
	    last != 0) {
		snprintf(seal, sizeof(seal), "seal-%s-%020llu-%020llu-%s", when,
		    first, last, end_hex);
		snprintf(sbuf, sizeof(sbuf),
		    "{\"seal_seq\":%llu,\"seal_digest\":\"%s\"}\n", last,
		    end_hex);
		if (queue_put(queue_fd, seal, sbuf, strlen(sbuf)) != 0) {
			amfa_log(LOG_ERR, "spool: cannot queue %s: %s", seal,
			    strerror(errno));
			goto out;
		}
	} else
		end_hex[0] = '\0';
	if (queue_put(queue_fd, name, data, got) != 0) {
		amfa_log(LOG_ERR, "spool: cannot queue segment %s: %s", name,
		    strerror(errno));
		goto out;
	}
	/* The state moves on only once the copy is safe.  At a cut that
	 * ends at the log's end the head's digest is the last record's. */
	s.off += got;
	if (last != 0) {
		s.seq = last;
		if (!rotated && s.off == (unsigned long long)st.st_size &&
		    hseq == last)
			memcpy(s.hex, hhex, AMFA_CHAIN_HEX);
		else {
			/* The last line's digest. */
			size_t e = got - 1, b = e;

			while (b > 0 && data[b - 1] != '\n')
				b--;
			amfa_chain_digest(data + b, e - b, s.hex);
		}
	} else if (s.hex[0] == '\0')
		memcpy(s.hex, hhex, AMFA_CHAIN_HEX);
	/* The anchor moved on to the cut's end (audit_chain.h): the gateway's
	 * records, which do not move it, are anchored here at the latest; a
	 * rotated file's in its own (audit_rotation.h). */
	a.ino = s.ino;
	a.end = s.off;
	a.seq = last;
	memcpy(a.hex, end_hex, AMFA_CHAIN_HEX);
	/* A rotated file cut to its end, or to a torn record there (a writer
	 * appends whole records under the lock held here, so no line ends
	 * such a part): the log itself from its start. */
	if (!whole)
		*again = 1; /* more of it now */
	else if (rotated) {
		if (s.off < (unsigned long long)st.st_size)
			torn_tail(log_path,
			    (unsigned long long)st.st_size - s.off);
		s.off = (unsigned long long)
			    st.st_size; /* done: see cut_source */
		*again = 1;
	}
	if (state_write(spool_fd, &s) != 0)
		goto out;
	if (end_hex[0] != '\0' &&
	    (anchor = rotated ? amfa_anchor_rotated_open(log_path, a.ino, 1) :
				amfa_chain_anchor_open(log_path)) >= 0) {
		amfa_anchor_write(rotated ? NULL : log_path, anchor, src, &a);
		close(anchor);
	}
	amfa_log(LOG_INFO, "queued %s (%zu bytes)", name, got);
	r = 1;
out:
	free(data);
	if (src >= 0 && src != log_fd)
		close(src);
	if (log_fd >= 0)
		close(log_fd);
	return r;
}

int
amfa_evidence_cut(const char *log_path, int spool_fd, int queue_fd, int force,
    long every, time_t *last_cut)
{
	time_t now = time(NULL);
	int head, r = 0, c, again, rounds = 0;

	if (!force && now - *last_cut < every)
		return 0;
	if ((head = amfa_chain_open(log_path)) < 0)
		return -1; /* amfa_evidence_head_make made it at start */
	/* One segment per hold of the lock (every login waits for it), as
	 * many as there are, up to CUT_ROUNDS a run. */
	do {
		if (amfa_chain_lock(head) != 0) {
			amfa_log(LOG_ERR, "%s: chain head busy; cut later",
			    log_path);
			r = -1;
			break;
		}
		c = cut_locked(log_path, head, spool_fd, queue_fd, now, &again);
		amfa_chain_unlock(head);
		if (c < 0)
			r = -1;
		else if (c > 0)
			r = 1;
	} while (c >= 0 && again && ++rounds < CUT_ROUNDS);
	close(head);
	amfa_anchor_rotated_sweep(log_path);
	if (r >= 0)
		*last_cut = now;
	return r;
}
