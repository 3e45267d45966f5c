/*
 * awsmfa-evidence's configuration (/etc/awsmfa/evidence.conf, a root-owned
 * file others cannot write; see awsmfa-evidence(8)).  Errors name
 * FILE:LINE.
 */
#ifndef AMFA_EVIDENCE_CONF_H
#define AMFA_EVIDENCE_CONF_H

#include <sys/types.h>

#define AMFA_EVIDENCE_DEFAULT_CONFIG "/etc/awsmfa/evidence.conf"

struct amfa_evidence_conf {
	char *bucket_url; /* https://BUCKET.s3.REGION.amazonaws.com */
	char *region;
	char *key_prefix;   /* before every key ("" by default) */
	char *host;	    /* the host's name in keys (default: hostname) */
	int retention_mode; /* index: 0 COMPLIANCE, 1 GOVERNANCE */
	long retention_days;
	char *audit_log;     /* NULL: no audit segments */
	char *recording_dir; /* NULL: no recordings */
	char *spool_dir;
	long segment_seconds;	  /* a segment is cut after this long */
	int remove_after_upload;  /* 0 no, 1 yes */
	char *key_file;		  /* NULL: the instance role (IMDSv2) */
	char *imds_endpoint;	  /* NULL: the default */
	char *cred_cache;	  /* NULL: none */
	char *ca_file;		  /* NULL: the system's */
	long poll_seconds;	  /* between passes */
	long backoff_max_seconds; /* the longest wait after failures */
	long upload_timeout_seconds;
};

extern const char *const amfa_evidence_lock_modes[];

/* Load `path' (owned by `owner'): 0 or -1 (logged, FILE:LINE). */
int amfa_evidence_conf_load(const char *path, uid_t owner,
    struct amfa_evidence_conf *c);
void amfa_evidence_conf_free(struct amfa_evidence_conf *c);

#endif
