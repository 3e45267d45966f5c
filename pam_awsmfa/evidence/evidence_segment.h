/*
 * Audit-log segments: the uploader's cut of the live audit log.  Under the
 * chain head's lock (audit_chain.h), so that no writer is half-way through
 * a record, the bytes of the log since the last cut are copied into the
 * queue as one file, named so that it sorts by time and carries the chain:
 *
 *     audit-YYYYmmddTHHMMSSZ-FIRST-LAST-PREV
 *
 * FIRST and LAST the sequence numbers of its first and last record (20
 * digits, 0: not chained), PREV the last digest of the segment before it.
 * The log itself is left as it is (log rotation stays the system's); where
 * the next cut starts is kept in the spool's audit.state ("INODE OFFSET
 * SEQ HEX").  When the log was rotated by renaming, the file it became is
 * found by that inode and cut to its end first, then the file that begins
 * with the record after it (the new log, or the log renamed a second
 * time), in the same run (audit_rotation.h).  The copy is fsynced and renamed into place before the state
 * moves on, so a crash copies a segment twice at worst, never loses one.
 *
 * Each cut also queues its seal, uploaded beside the segment:
 *
 *     seal-YYYYmmddTHHMMSSZ-FIRST-LAST-DIGEST
 *     {"seal_seq":LAST,"seal_digest":"DIGEST"}
 *
 * DIGEST the last record's.  The chain shows a segment missing in the
 * middle (the one after does not carry its digest) but not one missing at
 * the end; a seal names the end its cut reached, so a set with a seal of
 * a record it does not hold is short (verify-audit).  A set short of its
 * last segment and that segment's seal is the set of one cut before: the
 * bucket's listing (Object Lock keeps both) is the witness of its end.
 * The cut also moves the log's anchor on (audit_chain.h).
 */
#ifndef AMFA_EVIDENCE_SEGMENT_H
#define AMFA_EVIDENCE_SEGMENT_H

#include <time.h>

/* Make the log's chain head if it has none: root-owned, the log's group,
 * 0660 when the group may write the log (the gateway), 0600 otherwise.
 * 0 or -1 (logged). */
int amfa_evidence_head_make(const char *log_path);

/*
 * Cut a segment of `log_path' into `queue_fd' when the log grew and
 * `force' or the last cut (*last_cut) is `every' seconds old.  1 cut, 0
 * nothing to cut, -1 failed (logged; the bytes stay in the log for the
 * next try).
 */
int amfa_evidence_cut(const char *log_path, int spool_fd, int queue_fd,
    int force, long every, time_t *last_cut);

#endif
