/*
 * DynamoDB, JSON 1.0 protocol (POST /, X-Amz-Target:
 * DynamoDB_20120810.<Action>, Content-Type: application/x-amz-json-1.0),
 * SigV4-signed (sigv4.h, service "dynamodb"), over http.h, answers parsed
 * with json-c.  Generic over items whose attributes are strings (S) and
 * numbers (N): the state store (state_table.c) decides what an item holds;
 * this file only carries it.
 *
 * The module's own credentials (not a user's): the EC2 instance role
 * through IMDSv2 (imds.h), or a root-only key file.  See
 * amfa_ddb_config.
 *
 * Throttling (ProvisionedThroughputExceededException, ThrottlingException,
 * RequestLimitExceeded), HTTP 5xx and transport failures are retried with
 * jittered exponential backoff while the call's time allows; each try is
 * signed anew.  A conditional write whose condition failed is
 * AMFA_DDB_CONDITION, never retried here (the caller decides again on a
 * fresh read).  Every other AWS error is final.
 */
#ifndef AMFA_DYNAMODB_H
#define AMFA_DYNAMODB_H

#include <stddef.h>

/* The largest item this client accepts in an answer (attributes). */
#define AMFA_DDB_MAX_ATTRS 64
/* The largest answer body this client reads (bytes); larger: MALFORMED. */
#define AMFA_DDB_MAX_ANSWER (256 * 1024)

struct amfa_ddb_config {
	const char *endpoint; /* https://dynamodb.REGION.amazonaws.com/ */
	const char *region;   /* signing region */
	const char *table;
	const char *ca_file; /* NULL: the system's CAs */
	long timeout_ms;     /* all tries of one call together */
	/* The module's own AWS credentials.  key_file: a root-owned file,
	 * not readable by group or others, in the ~/.aws/credentials form
	 * ([default] aws_access_key_id, aws_secret_access_key and optionally
	 * aws_session_token).  NULL: the instance role through IMDSv2. */
	const char *key_file;
	const char *imds_endpoint; /* NULL: http://169.254.169.254 */
	/* A root-only file caching the instance role's credentials until
	 * shortly before they expire, or NULL (no cache). */
	const char *cred_cache;
	/* awsmfa-netd's socket (net/broker_client.h), or NULL: the module
	 * makes its calls in its own process.  Only the module reads it. */
	const char *broker;
};

enum amfa_ddb_type { AMFA_DDB_S, AMFA_DDB_N };

/* An attribute of a request: a key, or an expression value (":name"). */
struct amfa_ddb_attr {
	const char *name;
	enum amfa_ddb_type type;
	const char *value; /* a number in decimal for AMFA_DDB_N */
};

/* An item of an answer (heap; amfa_ddb_item_free). */
struct amfa_ddb_item {
	size_t n;
	struct {
		char *name;
		enum amfa_ddb_type type;
		char *value;
	} attrs[AMFA_DDB_MAX_ATTRS];
};

enum amfa_ddb_result {
	AMFA_DDB_OK,
	AMFA_DDB_NO_ITEM,	 /* GetItem: the table has no such item */
	AMFA_DDB_CONDITION,	 /* ConditionalCheckFailedException */
	AMFA_DDB_UNAVAILABLE,	 /* no answer within the time (after retries:
				  * unreachable, throttled, 5xx) */
	AMFA_DDB_REFUSED,	 /* another AWS error (err says which) */
	AMFA_DDB_MALFORMED,	 /* an answer that cannot be used */
	AMFA_DDB_NO_CREDENTIALS, /* the module's own credentials: none */
	AMFA_DDB_INTERNAL
};

/* What happened, for logs (never a key or token). */
struct amfa_ddb_error {
	char code[64];	   /* AWS's __type, after the '#' */
	char message[256]; /* AWS's message */
	char request_id[80];
	char detail[256]; /* transport trouble */
	int tries;
	/* An earlier try of a write may have reached the table. */
	int sent_before;
};

/* GetItem with ConsistentRead, by one key attribute. */
enum amfa_ddb_result amfa_ddb_get_item(const struct amfa_ddb_config *c,
    const struct amfa_ddb_attr *key, struct amfa_ddb_item *out,
    struct amfa_ddb_error *err);

/*
 * UpdateItem of the item `key' with UpdateExpression `update' and, unless
 * NULL, ConditionExpression `condition'; `values' are the
 * ExpressionAttributeValues (names ":x").  Attribute names in expressions
 * are used as written (the caller picks names that are not reserved
 * words).  With `out' (else NULL), the request asks ReturnValues ALL_NEW
 * and *out is the whole item as the write left it (amfa_ddb_item_free):
 * a write that is also a consistent read, in one request.
 */
enum amfa_ddb_result amfa_ddb_update_item(const struct amfa_ddb_config *c,
    const struct amfa_ddb_attr *key, const char *update, const char *condition,
    const struct amfa_ddb_attr *values, size_t nvalues,
    struct amfa_ddb_item *out, struct amfa_ddb_error *err);

/* DeleteItem, with an optional condition as above. */
enum amfa_ddb_result amfa_ddb_delete_item(const struct amfa_ddb_config *c,
    const struct amfa_ddb_attr *key, const char *condition,
    const struct amfa_ddb_attr *values, size_t nvalues,
    struct amfa_ddb_error *err);

/*
 * The "Item" of a GetItem answer (a 200's body), checked as
 * amfa_ddb_get_item checks it: AMFA_DDB_OK, AMFA_DDB_NO_ITEM or
 * AMFA_DDB_MALFORMED (not JSON, an attribute of another type than S or N,
 * a number that is not a decimal, more than AMFA_DDB_MAX_ATTRS
 * attributes, a NUL in a string).  For the fuzzers and tests.
 */
enum amfa_ddb_result amfa_ddb_parse_item(const char *buf, size_t len,
    struct amfa_ddb_item *out);

/* The same for the "Attributes" of an UpdateItem answer with ReturnValues
 * (AMFA_DDB_NO_ITEM when there are none). */
enum amfa_ddb_result amfa_ddb_parse_attributes(const char *buf, size_t len,
    struct amfa_ddb_item *out);

/* The value of attribute `name' of type `type', or NULL. */
const char *amfa_ddb_item_get(const struct amfa_ddb_item *it, const char *name,
    enum amfa_ddb_type type);
void amfa_ddb_item_free(struct amfa_ddb_item *it);
/* Is s[0..len) a number as this client reads and writes them: a decimal
 * integer, optional '-', no leading zeros, at most 38 digits? */
int amfa_ddb_number_ok(const char *s, size_t len);
const char *amfa_ddb_result_str(enum amfa_ddb_result r);

/*
 * Another AWS JSON service with this client's credentials, signing,
 * retries and error reading (KMS: kms.h).  The endpoint and signing region
 * of `c' are that service's; `table' is not used.  On AMFA_DDB_OK
 * *answer is the 200's body (heap, NUL-terminated, the caller wipes and
 * frees it); otherwise NULL, with err as for DynamoDB.  "__type" names
 * the AWS error; HTTP 5xx and throttling are retried.
 */
struct amfa_aws_json_protocol {
	const char *service;	   /* SigV4 service name */
	const char *target_prefix; /* X-Amz-Target before the action */
	const char *content_type;
	const char *name; /* for logs */
};
enum amfa_ddb_result amfa_aws_json_call(const struct amfa_aws_json_protocol *pr,
    const struct amfa_ddb_config *c, const char *action, const char *body,
    size_t body_len, char **answer, size_t *answer_len,
    struct amfa_ddb_error *err);

#endif
