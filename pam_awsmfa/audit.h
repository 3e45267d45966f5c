/*
 * The module's audit trail: one JSON object per authentication decision,
 * on one line, sent to syslog (always, through log.h) and appended to
 * `audit_log' when awsmfa.conf names one.  The shape matches the records
 * of awsmfa-gateway(8), so one file can hold both: a sudo step-up is
 * {"event":"stepup","service":"sudo",...}; any other service is "auth".
 * Never a code or a secret: of the session's credentials only the access
 * key id, which CloudTrail records with every call the session makes.
 */
#ifndef AMFA_AUDIT_H
#define AMFA_AUDIT_H

#include <sys/types.h>
#include <time.h>

#include "config.h"

struct amfa_audit_rec {
	const char *service; /* PAM_SERVICE */
	const char *user;
	const char *iam_user; /* NULL: not enrolled */
	const char *rhost;    /* PAM_RHOST, NULL: local */
	const char *ruser;    /* PAM_RUSER (sudo: the caller) */
	const char *tty;      /* PAM_TTY */
	const char *result;   /* "ok", "denied", "error", "ignored" */
	const char *reason;   /* why; NULL for ok */
	int grace;	      /* let in on an earlier proof */
	int credentials;      /* AWS credentials were issued */
	/* Of those credentials: the temporary access key id (ASIA..., what
	 * CloudTrail records as the session's AccessKeyId) and the STS
	 * request id of GetSessionToken.  NULL: none. */
	const char *access_key_id;
	const char *request_id;
	/* A recovery code was typed: the event is "recovery", with the
	 * codes left after it ("recovery_left", when known: >= 0). */
	int recovery;
	int recovery_left;
	/* The program that asked on its caller's behalf (awsmfa-chkcode: a
	 * screen locker run by the user, whose service name is the caller's
	 * word): "via" in the record, and never a step-up.  NULL: the PAM
	 * stack of `service' itself. */
	const char *via;
};

/* The JSON text of `r' at `now', no newline (heap), or NULL. */
char *amfa_audit_format(const struct amfa_audit_rec *r,
    const struct timespec *now);

/*
 * Can a record be written to the audit log, if one is configured (the log
 * opens, and the file size limit and the free space leave room for
 * AMFA_AUDIT_RECORD_MAX bytes and the append slack)?  0 yes (or no log),
 * -1 no (logged).  No audit record, no login: the PAM glue asks before the
 * decision, and refuses a success whose record could not be written.
 */
#define AMFA_AUDIT_RECORD_MAX 4096
int amfa_audit_ready(const struct amfa_config *cfg);

/*
 * Append one record (a JSON object, no newline) to the log at `path', as
 * root: whole or not at all, chained and anchored when the log has a chain
 * head (audit_chain.h).  0, or -1 (logged).  The module's records and the
 * audit writer's (awsmfa-audit-writer(8)) are written so.
 */
int amfa_audit_append(const char *path, const char *json);

/*
 * Record `r': syslog, and the audit log if configured (a regular root-owned
 * file, not a link, not writable by others; created 0600 if missing).
 * 0, or -1 if the log file could not be written (logged).
 */
int amfa_audit_emit(const struct amfa_config *cfg,
    const struct amfa_audit_rec *r);

#endif
