/* awsmfa.conf: the host-wide settings. */
#ifndef AMFA_CONFIG_H
#define AMFA_CONFIG_H

#include <sys/types.h>

#define AMFA_DEFAULT_CONFIG	 "/etc/awsmfa/awsmfa.conf"
#define AMFA_DEFAULT_USERS_DIR	 "/etc/awsmfa/users.d"
#define AMFA_DEFAULT_STATE_DIR	 "/var/lib/awsmfa"
#define AMFA_DEFAULT_STORE_DIR	 "/run/awsmfa"
#define AMFA_DEFAULT_NETD_SOCKET "/run/awsmfa-netd/socket"
#define AMFA_DEFAULT_REGION	 "us-east-1"

/* How the factor is verified (verify = ...). */
enum amfa_verify {
	AMFA_VERIFY_LOCAL, /* local TOTP/YubiKey check, no AWS call */
	AMFA_VERIFY_STS,   /* STS decides; no seed on the host */
	AMFA_VERIFY_BOTH   /* local check, then STS for credentials */
};
#define AMFA_VERIFY_INHERIT (-1) /* a user file that does not say */

enum amfa_failmode { AMFA_FAIL_SECURE, AMFA_FAIL_SAFE };

/* Where the per-user state lives (state_backend = ...; store.h). */
enum amfa_state_backend {
	AMFA_BACKEND_FILES,   /* state_dir, one file per user (state.h) */
	AMFA_BACKEND_DYNAMODB /* one item per user in a table (state_table.h) */
};
extern const char *const amfa_backend_names[];

struct amfa_config {
	char *users_dir;
	char *state_dir;
	long window;	       /* TOTP steps accepted each side */
	long lockout_attempts; /* consecutive failures before a lock */
	long lockout_seconds;  /* how long a lock lasts */
	int verify;	       /* enum amfa_verify */
	int failmode;	       /* enum amfa_failmode */
	long session_duration; /* GetSessionToken DurationSeconds */
	char *region;
	char *sts_endpoint; /* NULL: https://sts.REGION.amazonaws.com/ */
	long sts_timeout;   /* seconds, all tries together */
	char *ca_file;	    /* NULL: the system's CAs */
	char *store_dir;    /* per-user credential stores */
	char *audit_log;    /* JSON audit lines, or NULL */
	/* YubiKey validation servers (yubikey_validation); NULL: offline. */
	char **yk_urls; /* NULL-ended */
	char *yk_client_id;
	char *yk_api_key_file; /* the API key; root's, 0600 or 0400 */
	long yk_timeout;       /* seconds, per server */
	int recovery_codes;    /* 0 no, 1 yes: recovery codes accepted */
	int recovery_sts;      /* enum amfa_recovery_sts */
	/* The state table (state_backend = dynamodb). */
	int state_backend;   /* enum amfa_state_backend */
	char *ddb_table;     /* dynamodb_table */
	char *ddb_region;    /* NULL: region */
	char *ddb_endpoint;  /* NULL: https://dynamodb.REGION.amazonaws.com/ */
	char *ddb_key_file;  /* NULL: the instance role through IMDSv2 */
	char *imds_endpoint; /* NULL: http://169.254.169.254 */
	char *netd_socket;   /* awsmfa-netd's; NULL: "none" */
	long ddb_timeout;    /* seconds, all tries of one call together */
	/* Where enrolments live (enrolment = ...; store/enrolment_table.h). */
	int enrolment;	    /* enum amfa_enrolment */
	char *kms_key_id;   /* kms_key_id: the key wrapping their data keys */
	char *kms_endpoint; /* NULL: https://kms.REGION.amazonaws.com/ */
};

/* enrolment = files (users_dir) | table (the state table, under KMS). */
enum amfa_enrolment { AMFA_ENROL_FILES, AMFA_ENROL_TABLE };
extern const char *const amfa_enrolment_names[];

/* recovery_sts: a recovery code with verify = sts or local+sts. */
enum amfa_recovery_sts { AMFA_RECOVERY_STS_REFUSE, AMFA_RECOVERY_STS_LOGIN };
extern const char *const amfa_yes_no[]; /* "no", "yes" */

#define AMFA_YK_MAX_URLS 8

/* The names of the verify modes, as written in the files. */
extern const char *const amfa_verify_names[];

/* Is `url' acceptable as an endpoint?  https, or http to loopback only. */
const char *amfa_check_endpoint(const char *url);
/* An AWS region name: lower-case letters, digits and '-'. */
const char *amfa_check_region(const char *v);

/*
 * Read `path', which must be a regular file owned by `owner' and not
 * writable by group or others.  Missing keys get their defaults.  Returns 0,
 * or -1 with every problem logged as FILE:LINE.  The module passes owner 0.
 */
int amfa_config_load(const char *path, uid_t owner, struct amfa_config *cfg);
/* Parse an in-memory file (`shown' names it in messages). */
int amfa_config_parse(const char *buf, size_t len, const char *shown,
    struct amfa_config *cfg);
void amfa_config_free(struct amfa_config *cfg);

#endif
