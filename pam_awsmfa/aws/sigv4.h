/*
 * AWS Signature Version 4, header form (HMAC-SHA256 and SHA-256 over
 * OpenSSL EVP).  The steps are separate so that the published test suite
 * can check each one: canonical request, string to sign, signature.
 *
 * The caller puts every header it will send into the request, including
 * Host, X-Amz-Date and (with temporary credentials) X-Amz-Security-Token;
 * all of them are signed.  Header names are compared case-insensitively,
 * values are trimmed and inner runs of spaces folded, repeated headers are
 * joined with ',' in the order given.
 */
#ifndef AMFA_SIGV4_H
#define AMFA_SIGV4_H

#include <stddef.h>

struct amfa_sigv4_header {
	const char *name;
	const char *value;
};

struct amfa_sigv4_request {
	const char *method; /* "GET", "POST" */
	const char *path;   /* before '?', as sent */
	const char *query;  /* after '?', or NULL */
	const struct amfa_sigv4_header *headers;
	size_t nheaders;
	const void *payload; /* may be NULL if 0 */
	size_t payload_len;
	int normalize_path; /* all but S3 */
};

struct amfa_aws_key {
	const char *access_key_id;
	const char *secret_access_key; /* secret */
	const char *session_token;     /* NULL for long-term keys */
};

/*
 * Percent-encode `in' as SigV4 wants (unreserved A-Z a-z 0-9 - _ . ~ kept,
 * everything else %XX upper-case; '/' kept if keep_slash).  Heap string or
 * NULL.
 */
char *amfa_sigv4_uri_encode(const char *in, size_t len, int keep_slash);

/* The canonical request and the SignedHeaders list (heap strings). */
int amfa_sigv4_canonical_request(const struct amfa_sigv4_request *r,
    char **canonical, char **signed_headers);

/* "AWS4-HMAC-SHA256\nDATE\nSCOPE\nhex(sha256(canonical))" (heap). */
char *amfa_sigv4_string_to_sign(const char *amz_date, const char *scope,
    const char *canonical);

/* "YYYYMMDD/REGION/SERVICE/aws4_request" from amz_date (YYYYMMDDTHHMMSSZ). */
int amfa_sigv4_scope(const char *amz_date, const char *region,
    const char *service, char *out, size_t outlen);

/* The hex signature of string_to_sign (64 chars + NUL in out). */
int amfa_sigv4_signature(const char *secret, const char *amz_date,
    const char *region, const char *service, const char *string_to_sign,
    char out[65]);

/*
 * All of the above: the value of the Authorization header (heap), e.g.
 * "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/sts/aws4_request,
 * SignedHeaders=host;x-amz-date, Signature=...".  NULL on failure.
 */
char *amfa_sigv4_authorization(const struct amfa_sigv4_request *r,
    const struct amfa_aws_key *key, const char *amz_date, const char *region,
    const char *service);

/* amz_date (16 chars + NUL) for `t'. */
void amfa_sigv4_date(long long t, char out[17]);

#endif
