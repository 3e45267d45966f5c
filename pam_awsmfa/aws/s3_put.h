/*
 * S3 PutObject of one whole object, SigV4-signed (sigv4.h), for the
 * evidence uploader (awsmfa-evidence(8)): the body's SHA-256 as
 * x-amz-content-sha256 (signed) and as the checksum S3 checks before it
 * stores the object (x-amz-checksum-sha256), the Object Lock retention
 * (x-amz-object-lock-mode, x-amz-object-lock-retain-until-date), optional
 * user metadata (x-amz-meta-*), and If-None-Match: * so that an object is
 * never replaced: a second upload of a key answers 412, which means the
 * object is there already.
 */
#ifndef AMFA_S3_PUT_H
#define AMFA_S3_PUT_H

#include <stddef.h>

#include "sigv4.h"

struct amfa_s3_put {
	/* The bucket's URL: https://BUCKET.s3.REGION.amazonaws.com, or
	 * path style http://127.0.0.1:PORT/BUCKET (no trailing '/'). */
	const char *bucket_url;
	const char *region;
	const char *key; /* the object key, unencoded */
	const char *ca_file;
	const void *body;
	size_t body_len;
	const char *content_type;
	const char *lock_mode;	  /* "COMPLIANCE" or "GOVERNANCE" */
	const char *retain_until; /* 2027-01-01T00:00:00Z */
	const char *meta_name;	  /* x-amz-meta-NAME, or NULL */
	const char *meta_value;
	long timeout_ms;
};

enum amfa_s3_result {
	AMFA_S3_STORED,	 /* 200: stored, checksum and lock accepted */
	AMFA_S3_THERE,	 /* 412: an object of that key is there already */
	AMFA_S3_RETRY,	 /* no answer, 5xx, 429, a 408, or a throttle */
	AMFA_S3_REFUSED, /* another 4xx: access denied, bad request ... */
	AMFA_S3_INTERNAL
};

/* Put the object.  `detail' gets what happened, for logs. */
enum amfa_s3_result amfa_s3_put(const struct amfa_s3_put *p,
    const struct amfa_aws_key *key, char *detail, size_t detail_len);

#endif
