/*
 * The audit trail: one JSON object per event, on one line, appended to the
 * audit log (when configured) and sent to syslog (always, LOG_AUTHPRIV).
 * Records carry who (user, uid, IAM user), from where (SSH_CONNECTION's
 * address and port, and the pid of the connection's sshd monitor, which
 * sshd's own log ties to the address), what (event, target, result, the
 * rule that decided, the reason) and for a relay the bytes each way and
 * the duration; for a recorded shell, the path of its recording and, at
 * its end, its exit status.  Never a credential: nothing from the environment but
 * SSH_CONNECTION is read into a record.
 *
 * Until the gate marker has shown that this is an MFA connection
 * (`verified'), the caller may be any local account running the gateway
 * by hand: such a record says "connection":"unverified", and what the
 * caller chose (SSH_CONNECTION; the session leader above it, which need
 * not be sshd) is recorded as claimed_source, claimed_source_port and
 * leader_pid, never as source or sshd_pid.
 *
 * A record goes to the log whole or not at all: see gw_audit_emit.
 */
#ifndef GW_AUDIT_H
#define GW_AUDIT_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct gw_audit {
	int fd; /* the log, or -1: syslog only */
	/* The log is chained (it has a head, audit_chain.h): the records go
	 * to its root writer (audit_writer.h) through this connection, made
	 * with the log; -1: the log is not chained, written through fd.  Set
	 * by the caller. */
	int writer_fd;
	const char *user;
	uid_t uid;
	const char *iam_user; /* NULL until the marker is read */
	/* The client.  Verified: src_addr is the marker's (sshd's PAM_RHOST)
	 * and src_port is SSH_CONNECTION's when its address agrees; what
	 * SSH_CONNECTION claims otherwise is in claimed_*.  Unverified:
	 * SSH_CONNECTION's, which anyone may set. */
	const char *src_addr; /* NULL: unknown */
	unsigned src_port;
	const char *claimed_addr; /* verified records only */
	unsigned claimed_port;
	long sshd_pid;	    /* 0: unknown */
	const char *config; /* the config file, for rule refs */
	int verified;	    /* the gate marker checked out */
};

struct gw_event {
	const char *event;   /* login, shell, connect, relay_start, ... */
	const char *result;  /* ok, denied, error, ... */
	const char *reason;  /* NULL or why */
	const char *command; /* NULL or the refused command's verb */
	const char *host;    /* target as asked for */
	const char *addr;    /* target address used */
	unsigned port;	     /* 0: none */
	unsigned rule_line;  /* 0: no rule (default deny) */
	int relay;	     /* the byte and time fields apply */
	uint64_t bytes_up;   /* client to target */
	uint64_t bytes_down; /* target to client */
	uint64_t duration_ms;
	const char *recording; /* the session's recording (a path), or NULL */
	int has_status;	       /* exit_status applies (shell_end) */
	int exit_status;
};

/*
 * The JSON text of `ev' at `now' (no newline).  Heap string, or NULL if
 * out of memory.
 */
/*
 * The connection is verified (its gate marker checked out): the client's
 * address becomes the marker's `rhost' (sshd's PAM_RHOST), which the user
 * cannot set; SSH_CONNECTION's address and port, which the user can, stay
 * in the record as the source only when they agree with it, and as
 * claimed_* otherwise.  A marker without rhost leaves only claims.
 */
void gw_audit_prove_source(struct gw_audit *a, const char *rhost);

char *gw_audit_format(const struct gw_audit *a, const struct gw_event *ev,
    const struct timespec *now);

/*
 * Open the audit log for appending: a regular file, not a link, owned by
 * root (or `owner'), not writable by others.  The gateway never creates
 * it.  With `chained', only looked at (O_PATH): its root writer appends
 * the records (audit_writer.h), and the gateway only checks the room left
 * (the log may then be 0600).  The descriptor or -1 (logged).
 */
int gw_audit_open(const char *path, uid_t owner, int chained);

/*
 * Record `ev' in syslog and in the log.  An unverified record goes to the
 * log only while the file system keeps its reserve (gw_audit_reserve_ok):
 * any local account can run the gateway by hand, as often as it likes,
 * and a full disk refuses everyone's service; a verified one only while
 * it keeps the floor kept for everyone else (gw_audit_floor_ok).  Past
 * those, syslog alone has the record (a warning says so), and 0 is
 * returned.  The log
 * gets the whole line or
 * nothing: before the write the file-size limit (RLIMIT_FSIZE) and the
 * free space must leave room for the line and AMFA_APPEND_SLACK bytes more
 * (other writers may append meanwhile).  0, or -1 if the record is not in
 * the log (logged): then the gateway must refuse the service.
 */
int gw_audit_emit(const struct gw_audit *a, const struct gw_event *ev);

/*
 * May an unverified record of `len' bytes go to a log on a file system in
 * the state `vfs' describes?  Only while what is free after it stays above
 * the reserve kept for MFA connections' records: a tenth of the file
 * system, at most GW_AUDIT_RESERVE_MAX.  1 or 0.
 */
#define GW_AUDIT_RESERVE_MAX (1024ULL * 1024 * 1024)
struct statvfs;
int gw_audit_reserve_ok(const struct statvfs *vfs, size_t len);

/*
 * May a verified record of `len' bytes go to the log?  Only while what is
 * free after it stays above the floor kept for everyone else: a fortieth
 * of the file system, at most GW_AUDIT_FLOOR_MAX.  Past it the record goes
 * to syslog alone and the service goes on (audit.c says why).  1 or 0.
 */
#define GW_AUDIT_FLOOR_MAX (256ULL * 1024 * 1024)
int gw_audit_floor_ok(const struct statvfs *vfs, size_t len);

/*
 * Would gw_audit_emit record `ev' now (in the log, or past the reserve or
 * the floor in syslog alone)?  0 or -1 (logged).  For a decision that must
 * not be acted upon unless its record can be written.
 */
int gw_audit_check(const struct gw_audit *a, const struct gw_event *ev);

#endif
