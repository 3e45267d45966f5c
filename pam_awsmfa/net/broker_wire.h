/*
 * The messages between pam_awsmfa.so and awsmfa-netd, the network broker
 * (awsmfa-netd(8)): the state table's and KMS's five calls (net.h), each
 * one request and one answer, one SOCK_SEQPACKET message each way.
 *
 * A message is a magic number, then fields in order: 32-bit and 64-bit
 * numbers little-endian, strings as a 32-bit length counting their NUL and
 * the bytes with it (length 0: NULL), the data key as its 32 bytes.  A
 * decoder takes nothing on trust: every length is checked against what is
 * left, a string must end at its one NUL, numbers must be in range, and a
 * message with bytes left over is refused.  Decoded strings of a request
 * point into the message (the caller keeps it while they are used); those
 * of an answer are copies on the heap (amfa_broker_answer_free).
 */
#ifndef AMFA_BROKER_WIRE_H
#define AMFA_BROKER_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "aws/dynamodb.h"
#include "aws/kms.h"

/* The largest message either way.  Below the kernel's default socket send
 * buffer (a SOCK_SEQPACKET message must fit it whole). */
#define AMFA_BROKER_MAX_MSG (128 * 1024)
/* The most expression values of one request (the module sends < 16). */
#define AMFA_BROKER_MAX_VALUES 32

enum amfa_broker_op {
	AMFA_BROKER_DDB_GET = 1,
	AMFA_BROKER_DDB_UPDATE,
	AMFA_BROKER_DDB_DELETE,
	AMFA_BROKER_KMS_GENERATE,
	AMFA_BROKER_KMS_DECRYPT,
};

struct amfa_broker_request {
	enum amfa_broker_op op;
	struct amfa_ddb_config c; /* c.broker is not sent */
	struct amfa_ddb_attr key; /* DDB_* */
	const char *update;	  /* DDB_UPDATE */
	const char *condition;	  /* DDB_UPDATE, DDB_DELETE; or NULL */
	struct amfa_ddb_attr values[AMFA_BROKER_MAX_VALUES];
	size_t nvalues;
	int want_item;		     /* DDB_UPDATE: ReturnValues ALL_NEW */
	const char *key_id;	     /* KMS_* */
	struct amfa_kms_context ctx; /* KMS_* */
	const char *blob_b64;	     /* KMS_DECRYPT */
};

struct amfa_broker_answer {
	enum amfa_ddb_result result;
	struct amfa_ddb_error err;
	int has_item;
	struct amfa_ddb_item item; /* DDB_GET, DDB_UPDATE with want_item */
	int has_key;
	unsigned char key[AMFA_KMS_DATA_KEY_LEN]; /* KMS_*: secret */
	char *blob_b64;				  /* KMS_GENERATE */
};

/*
 * Encode into a new heap buffer (*msg, *len; wipe and free it: a request
 * may carry nothing secret but an answer may carry a data key).  0, or -1
 * when it would not fit AMFA_BROKER_MAX_MSG or memory ran out.
 */
int amfa_broker_request_encode(const struct amfa_broker_request *rq,
    unsigned char **msg, size_t *len);
int amfa_broker_answer_encode(const struct amfa_broker_answer *a,
    unsigned char **msg, size_t *len);

/* Decode; 0, or -1 for a message that is not one (nothing kept). */
int amfa_broker_request_decode(const unsigned char *msg, size_t len,
    struct amfa_broker_request *rq);
int amfa_broker_answer_decode(const unsigned char *msg, size_t len,
    struct amfa_broker_answer *a);
/* Wipes the data key, frees the item and the blob. */
void amfa_broker_answer_free(struct amfa_broker_answer *a);

#endif
