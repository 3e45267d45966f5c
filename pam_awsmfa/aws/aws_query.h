/*
 * One call of an AWS Query API (STS, IAM): the parameters form-encoded in a
 * POST body, SigV4-signed, sent over http.h, the XML answer parsed with
 * libxml2 (no DTD, no entities, no network).
 *
 * Throttling, HTTP 5xx and transport failures (timeout, reset, truncated or
 * unparseable answers) are retried with jittered exponential backoff while
 * the total time allows; each try is signed anew.  Every other AWS error is
 * final and returned with its Code and Message.
 *
 * `sent_before' tells the caller that an earlier try may have reached AWS
 * (it was sent and then failed without a usable answer): for an action that
 * consumes something (an MFA code), a later refusal may be the echo of that
 * first try.
 */
#ifndef AMFA_AWS_QUERY_H
#define AMFA_AWS_QUERY_H

#include <libxml/tree.h>

#include "sigv4.h"

#define AMFA_AWS_MAX_RESPONSE (256 * 1024)

struct amfa_aws_param {
	const char *name;
	const char *value; /* may be secret (a code): never logged */
};

struct amfa_aws_endpoint {
	const char *url;     /* https://sts.us-east-1.amazonaws.com/ */
	const char *region;  /* signing region */
	const char *service; /* "sts", "iam" */
	const char *version; /* API version, e.g. "2011-06-15" */
	const char *ca_file; /* NULL: the system's CAs */
	long timeout_ms;     /* all tries together */
};

enum amfa_aws_status {
	AMFA_AWS_OK,	      /* 2xx with a well-formed XML answer */
	AMFA_AWS_REFUSED,     /* an AWS error answer: code and message */
	AMFA_AWS_UNREACHABLE, /* no usable answer within the time */
	AMFA_AWS_TLS,	      /* TLS verification failed (not retried) */
	AMFA_AWS_INTERNAL     /* bad arguments, out of memory */
};

struct amfa_aws_answer {
	enum amfa_aws_status status;
	long http_status;
	xmlDocPtr doc;	   /* the parsed answer (OK) */
	char code[64];	   /* AWS error code (REFUSED) */
	char message[256]; /* AWS error message */
	char request_id[80];
	char detail[256]; /* transport trouble, for logs */
	int tries;
	int sent_before; /* see above */
};

/*
 * Call `action' with `params' (n of them; Action and Version are added).
 * Returns ans->status.  Free with amfa_aws_answer_free.
 */
enum amfa_aws_status amfa_aws_query(const struct amfa_aws_endpoint *ep,
    const struct amfa_aws_key *key, const char *action,
    const struct amfa_aws_param *params, size_t n, struct amfa_aws_answer *ans);

/*
 * The text of the element at `path' below the document element, e.g.
 * "GetSessionTokenResult/Credentials/AccessKeyId" (namespace ignored,
 * first match at each step).  Heap string, or NULL when absent.
 */
char *amfa_aws_xml_text(xmlDocPtr doc, const char *path);

/* Parse an AWS XML answer (for the fuzzers too).  NULL if not well-formed. */
xmlDocPtr amfa_aws_xml_parse(const char *buf, size_t len);

/* Code and Message of an ErrorResponse/Error (or Response/Errors/Error). */
int amfa_aws_xml_error(xmlDocPtr doc, char *code, size_t codelen, char *message,
    size_t msglen);

/* Shared with the JSON protocol client (dynamodb.c). */
/* Full jitter: a random wait in [0, min(cap, base * 2^try)] ms. */
long amfa_aws_backoff_ms(int try);
void amfa_aws_sleep_ms(long ms);
/* Host header value ("host[:port]"), path and query of `url' (libcurl's URL
 * parser).  0 or -1. */
int amfa_aws_split_url(const char *url, char *host, size_t hostlen, char *path,
    size_t pathlen, char *query, size_t querylen);

/* Free a parsed answer, its texts wiped first (they may be secrets). */
void amfa_aws_xml_free(xmlDocPtr doc);
void amfa_aws_answer_free(struct amfa_aws_answer *ans);

#endif
