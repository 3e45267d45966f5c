/*
 * STS GetSessionToken with an MFA serial and code, signed with the IAM
 * user's long-term key (aws_query.h), and its answer turned into session
 * credentials; STS AssumeRole signed with those session credentials, and
 * its answer turned into role credentials.
 */
#ifndef AMFA_STS_H
#define AMFA_STS_H

#include <time.h>

#include "sigv4.h"

struct amfa_sts_config {
	const char *endpoint; /* https://sts.REGION.amazonaws.com/ */
	const char *region;
	const char *ca_file; /* NULL: the system's CAs */
	long timeout_ms;     /* all tries together */
	long duration;	     /* DurationSeconds, 900..129600 */
};

struct amfa_sts_credentials {
	char *access_key_id;
	char *secret_access_key; /* secret, wiped on free */
	char *session_token;	 /* secret, wiped on free */
	char expiration[40];	 /* as AWS wrote it */
	time_t expires;
	char request_id[80]; /* STS's RequestId of the call that issued them */
	char *assumed_role_arn; /* AssumeRole: AssumedRoleUser/Arn; else NULL */
};

/* One AssumeRole request. */
struct amfa_sts_role_request {
	const char *role_arn;
	const char *session_name;    /* RoleSessionName */
	const char *source_identity; /* SourceIdentity, or NULL */
	const char *external_id;     /* ExternalId, or NULL; never logged */
	long duration;		     /* DurationSeconds, 900..43200 */
};

/* What AWS said when it refused (its code and message, as given). */
struct amfa_sts_error {
	char code[64];
	char message[256];
	char request_id[80];
};

enum amfa_sts_result {
	AMFA_STS_OK,
	AMFA_STS_BAD_CODE,	/* AccessDenied on the MFA code */
	AMFA_STS_CODE_CONSUMED, /* refused after a try that reached AWS */
	AMFA_STS_BAD_SERIAL,	/* the serial is not this user's device */
	AMFA_STS_BAD_KEY,	/* InvalidClientTokenId: unknown/inactive key */
	AMFA_STS_BAD_SECRET,	/* SignatureDoesNotMatch */
	AMFA_STS_EXPIRED,	/* ExpiredToken */
	AMFA_STS_DENIED,	/* another AccessDenied (policy) */
	AMFA_STS_REFUSED,	/* another AWS error */
	AMFA_STS_MALFORMED,	/* a 200 without usable credentials */
	AMFA_STS_TLS,		/* TLS verification failed */
	AMFA_STS_UNREACHABLE,	/* no answer within the time */
	AMFA_STS_INTERNAL
};

/*
 * Call GetSessionToken.  Logs the outcome (AWS's code and message, the
 * request id; never the code, key or token).
 */
enum amfa_sts_result amfa_sts_get_session_token(const struct amfa_sts_config *c,
    const struct amfa_aws_key *key, const char *serial, const char *code,
    struct amfa_sts_credentials *out);

/*
 * Call AssumeRole, signed with temporary credentials (`session' carries the
 * session token).  Logs the outcome with the role's ARN (AWS's code and
 * message, the request id; never a key, token or external id).  When AWS
 * refused, `err' (if not NULL) gets its words.
 */
enum amfa_sts_result amfa_sts_assume_role(const struct amfa_sts_config *c,
    const struct amfa_aws_key *session, const struct amfa_sts_role_request *req,
    struct amfa_sts_credentials *out, struct amfa_sts_error *err);

/*
 * The credentials of an AssumeRole answer (a 200's body), checked as
 * amfa_sts_assume_role checks them: AMFA_STS_OK or AMFA_STS_MALFORMED.
 * For the fuzzers and tests.
 */
enum amfa_sts_result amfa_sts_parse_assume_role(const char *buf, size_t len,
    struct amfa_sts_credentials *out);

const char *amfa_sts_result_str(enum amfa_sts_result r);
void amfa_sts_credentials_free(struct amfa_sts_credentials *c);

/*
 * Is `s' printable ASCII without blanks?  Only such values of an STS answer
 * (or a cache of one) go into environments and files: a line break in a
 * token would forge variables.
 */
int amfa_sts_field_ok(const char *s);

#endif
