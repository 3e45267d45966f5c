/*
 * gateway.conf: `key = value' settings and the policy's rule lines (see
 * policy.h), `#' comments, blank lines.  Every problem is logged as
 * FILE:LINE and makes the whole file unusable: the gateway does not run on
 * half a policy.
 */
#ifndef GW_CONF_H
#define GW_CONF_H

#include <stddef.h>
#include <sys/types.h>

#include "policy.h"

#define GW_DEFAULT_CONFIG  "/etc/awsmfa/gateway.conf"
#define GW_DEFAULT_TIMEOUT 10
/* The set-user-ID recorder (recorder.c), unless `recorder = PATH'. */
#ifndef GW_RECORDER_PATH
#define GW_RECORDER_PATH "/usr/libexec/awsmfa/awsmfa-recorder"
#endif
#define GW_CONF_MAX_SIZE (256 * 1024)
/* recording_max_size: default, and the range accepted. */
#define GW_REC_DEFAULT_MAX (64ULL * 1024 * 1024)
#define GW_REC_MIN_MAX	   (4ULL * 1024)
#define GW_REC_MAX_MAX	   (1ULL << 40)

/* recording_failure: what a recording that cannot go on does. */
enum gw_rec_failure {
	GW_REC_FAIL_END,     /* the session ends (default) */
	GW_REC_FAIL_CONTINUE /* the session goes on unrecorded, audited */
};

struct gw_config {
	char *audit_log;      /* NULL: syslog only */
	char *awsmfa_config;  /* where store_dir comes from */
	long connect_timeout; /* seconds */
	/* Session recording (recorder.c): */
	char *recording_dir;	  /* NULL: none possible */
	char *recorder;		  /* NULL: GW_RECORDER_PATH */
	int record_all_shells;	  /* every shell, not only `record' rules */
	unsigned record_all_line; /* where it was set */
	int record_input;	  /* typed input too ("i" events) */
	unsigned long long recording_max_size; /* bytes per recording */
	int recording_failure;		       /* enum gw_rec_failure */
	struct gw_policy policy;
};

/* Parse one rule line; `where' is "FILE:LINE".  0 or -1 (logged). */
int gw_rule_parse(const char *line, const char *where, unsigned lineno,
    struct gw_rule *r);

/* Parse an in-memory file named `shown'.  0 or -1 (logged). */
int gw_config_parse(const char *buf, size_t len, const char *shown,
    struct gw_config *c);
/*
 * Read `path': a regular file owned by `owner' (root for the real thing),
 * not writable by group or others, in a directory with the same rule.
 */
int gw_config_load(const char *path, uid_t owner, struct gw_config *c);
void gw_config_free(struct gw_config *c);

#endif
