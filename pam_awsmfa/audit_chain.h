/*
 * The audit log's hash chain.  Every record appended to a log that has a
 * chain head (the file LOG.chain beside it) begins
 *
 *     {"seq":N,"prev":"HEX",...
 *
 * where N is one more than the record before it in this log (one log per
 * host: the module's and the gateway's records share it) and HEX the
 * SHA-256 of that record's line (without its newline); the first record of
 * a chain has seq 1 and a prev of 64 zeros.  A record deleted, edited,
 * added or moved is seen by the first record after it (`awsmfa
 * verify-audit').  The head holds "SEQ HEX\n" of the newest record; every
 * writer takes an exclusive lock on it, appends the record whole and then
 * rewrites the head, so records of concurrent writers are chained in the
 * order they reach the log.  The evidence uploader (awsmfa-evidence(8))
 * cuts the log into segments under the same lock.
 *
 * The head is made by awsmfa-evidence: root's, mode 0600 (a head of mode
 * 0660, as made before, is replaced by a new one of root's, 0600, by the
 * first root writer: a chmod would leave the group's open descriptors).
 * Only root's processes take its lock: the set-group-ID gateway hands its
 * records to the log's root writer (audit_writer.h), so that no member of
 * the log's group can hold the lock off every writer.  A log without a
 * head is not chained.
 *
 * A writer stopped while it holds the lock (a user may stop their own
 * set-user-ID su) is killed by the next writer allowed to, and the head taken on to its record if it wrote one: see
 * break_stopped and catch_up in audit_chain.c.
 *
 * The anchor.  The log's group may write the log (a log of mode 0660), and
 * the head was the group's to rewrite too: with both, the group could cut
 * records off the log's end and chain what follows anew, and the chain
 * alone would not show it.  So root's writers (the module, the gateway's
 * records through the writer; the uploader at every cut) also write
 * LOG.anchor, root's, mode 0600: "INODE END SEQ HEX\n", the
 * log's record SEQ, of digest HEX, ends at byte END of the log of that
 * inode.  Before a writer moves the anchor on it checks that the log still
 * holds the anchored record; if not, the anchor is kept (and an alert
 * logged), and verify-audit of the log names the cut.  A log rotated by
 * renaming keeps its anchor as LOG.anchor.INO (audit_rotation.h).
 */
#ifndef AMFA_AUDIT_CHAIN_H
#define AMFA_AUDIT_CHAIN_H

#include <stddef.h>

#define AMFA_CHAIN_SUFFIX  ".chain"
#define AMFA_CHAIN_HEX	   65 /* 64 hex digits and a NUL */
#define AMFA_ANCHOR_SUFFIX ".anchor"
/* How long a writer waits for the head's lock. */
#define AMFA_CHAIN_LOCK_MS 5000
/* How long the lock's holder may stay stopped before a writer ends it. */
#define AMFA_CHAIN_STOPPED_MS 1000
/* The most of a log's end read back to find a record (a record is at most
 * AMFA_AUDIT_RECORD_MAX and its chain fields). */
#define AMFA_CHAIN_TAIL 16384

/*
 * Open the chain head of the log `log_path': the descriptor, -1 when the
 * log has no head (the log is not chained), -2 when there is one but it is
 * unusable (a link, not root's, writable by others, unreadable: logged).
 */
int amfa_chain_open(const char *log_path);
/* Has the log `log_path' a chain head (any name LOG.chain)?  1 yes, or
 * when it cannot be told (fail closed); 0 no. */
int amfa_chain_exists(const char *log_path);

/*
 * Can the names beside the log `log_path' be made by root alone (its
 * directory root's, and neither others nor the log's group may add names
 * to it)?  Then a file there of more than one link (the log, its head) was
 * not planted as a link: the other links are elsewhere, made by a member
 * of the log's group (fs.protected_hardlinks lets it link a file it may
 * read and write), and it is taken.  1 or 0.
 */
int amfa_chain_names_roots_only(const char *log_path);

/* Lock the head (a POSIX record lock, the process's: waiting at most
 * AMFA_CHAIN_LOCK_MS); 0 or -1.  amfa_chain_unlock, or closing any
 * descriptor of the head in this process, releases it. */
int amfa_chain_lock(int head_fd);
void amfa_chain_unlock(int head_fd);

/* Read a locked head: its sequence number and digest.  An empty head is
 * the start of a chain (seq 0, 64 zeros).  0 or -1 (malformed). */
int amfa_chain_read(int head_fd, unsigned long long *seq,
    char hex[AMFA_CHAIN_HEX]);

/* The same, but a malformed head (the log's group may write it) is taken
 * on from the last record of the log `log_fd' (readable) when the caller
 * is root (logged); -1 when it is not root or the log ends in no record. */
int amfa_chain_read_log(int head_fd, int log_fd, unsigned long long *seq,
    char hex[AMFA_CHAIN_HEX]);

/* The hex SHA-256 of a line (without its newline).  0 or -1. */
int amfa_chain_digest(const char *line, size_t len, char hex[AMFA_CHAIN_HEX]);

/*
 * The chained line of the JSON object `json' after (seq, prev):
 * {"seq":SEQ+1,"prev":"PREV", and the rest of json, and a newline.  Heap
 * string, or NULL (json is not an object, out of memory).
 */
char *amfa_chain_line(const char *json, unsigned long long seq,
    const char *prev);

/*
 * Append `json' to the log `log_fd' (opened O_APPEND), chained through
 * `head_fd' (from amfa_chain_open), or unchained when head_fd is -1: whole
 * or not at all (amfa_append_whole).  0, or -errno (logged by the caller).
 */
int amfa_chain_append(int log_fd, int head_fd, const char *json);

/* The same, and, with `anchor_fd' (from amfa_chain_anchor_open), the
 * anchor moved on to the record (root's writers; amfa_anchor_write, the
 * log at `log_path').  The log must then be open for reading too (O_RDWR
 * | O_APPEND). */
int amfa_chain_append_anchored(const char *log_path, int log_fd, int head_fd,
    int anchor_fd, const char *json);

/* The anchor of the log `log_path', for root: its descriptor, -1 when there
 * is none or the caller is not root, -2 when it is unusable (logged). */
int amfa_chain_anchor_open(const char *log_path);

struct amfa_anchor {
	unsigned long long ino, end, seq;
	char hex[AMFA_CHAIN_HEX]; /* "": no anchor yet */
};

/* Read an anchor: 0 (an empty one: hex ""), -1 malformed. */
int amfa_anchor_read(int anchor_fd, struct amfa_anchor *a);

/* Does the log (open for reading) still hold the anchored record?  1 yes
 * (or no anchor yet), 2 the anchor is another file's (the log rotated), 0
 * no: records were cut from it, -1 error. */
int amfa_anchor_holds(int log_fd, const struct amfa_anchor *a);

/* Move the anchor on to `now', unless the log no longer holds the old one
 * (then it is kept, an alert logged, -1).  When the old one is another
 * file's (the log at `log_path' rotated), it is kept first as that file's
 * (amfa_anchor_keep_rotated, audit_rotation.h).  0 or -1. */
int amfa_anchor_write(const char *log_path, int anchor_fd, int log_fd,
    const struct amfa_anchor *now);

/*
 * The anchor of the file of inode `ino' the log was rotated to,
 * LOG.anchor.INO (audit_rotation.h), for root: created empty if missing
 * (`create').  The descriptor; -1 when there is none (or not root), -2
 * when unusable (logged).
 */
int amfa_anchor_rotated_open(const char *log_path, unsigned long long ino,
    int create);

/*
 * Keep the anchor `old' of a file rotated away as LOG.anchor.INO
 * (audit_rotation.h), unless that one already anchors the same file as far
 * or farther.  0 or -1 (logged).
 */
int amfa_anchor_keep_rotated(const char *log_path,
    const struct amfa_anchor *old);

/* Write an anchor as it is.  0 or -1 (errno). */
int amfa_anchor_put(int anchor_fd, const struct amfa_anchor *a);

/*
 * Parse the chain fields at the start of a line: 0 and seq, prev; -1 when
 * the line does not begin with them.
 */
int amfa_chain_fields(const char *line, size_t len, unsigned long long *seq,
    char prev[AMFA_CHAIN_HEX]);

#endif
