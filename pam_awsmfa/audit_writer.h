/*
 * The audit chain's record writer (awsmfa-audit-writer(8)): a root service
 * that appends the set-group-ID gateway's records to a chained log, so
 * that the chain head is root's alone and no member of the log's group
 * can hold its lock (the lock is taken on an open descriptor of the head;
 * one who cannot open the head cannot lock it).
 *
 * The writer listens on LOG.writer, beside the log it writes (a Unix
 * socket of type SOCK_SEQPACKET, root's, group the log's, mode 0660).  A
 * client connects once, while its effective group is the log's (the
 * writer takes the peer credentials fixed at connect(2)), and may give up
 * the group afterwards.  Each request is one message, the record: a JSON
 * object on one line, without its newline, at most AMFA_AUDIT_RECORD_MAX
 * bytes.  Each answer is one message, a 32-bit int: 0 written (chained,
 * anchored and synced), or an errno value: not written.
 */
#ifndef AMFA_AUDIT_WRITER_H
#define AMFA_AUDIT_WRITER_H

#define AMFA_WRITER_SUFFIX ".writer"
/* How long a client waits for an answer: the writer may wait
 * AMFA_CHAIN_LOCK_MS for the head's lock, then syncs the log. */
#define AMFA_WRITER_ANSWER_MS 30000

/*
 * Connect to the writer of the log `log_path': the descriptor (close on
 * exec), or -1 (logged: no writer there, or one that is not root's).
 */
int amfa_audit_writer_connect(const char *log_path);

/* Have the writer append `json': 0, or -errno (not written). */
int amfa_audit_writer_send(int fd, const char *json);

#endif
