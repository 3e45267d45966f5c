/*
 * The network broker's messages (net/broker_wire.h): each request and
 * answer survives the round trip; every cut of a message, a byte added,
 * a string whose NUL is moved, an unknown operation or a field out of
 * range is refused, and a refused answer leaves nothing allocated.
 */
#include <stdlib.h>
#include <string.h>

#include "net/broker_wire.h"
#include "secure_file.h"
#include "tap.h"

static struct amfa_ddb_config config = {
	.endpoint = "https://dynamodb.eu-west-1.amazonaws.com/",
	.region = "eu-west-1",
	.table = "awsmfa-state",
	.ca_file = NULL,
	.timeout_ms = 5000,
	.key_file = "/etc/awsmfa/table.key",
	.imds_endpoint = NULL,
	.cred_cache = "/var/lib/awsmfa/.imds-credentials",
};

static struct amfa_broker_request
update_request(void)
{
	struct amfa_broker_request rq = { 0 };

	rq.op = AMFA_BROKER_DDB_UPDATE;
	rq.c = config;
	rq.key = (struct amfa_ddb_attr){ "amfa_user", AMFA_DDB_S, "alice" };
	rq.update = "SET fails = fails + :one";
	rq.condition = "attribute_exists(amfa_user) AND ver = :v";
	rq.values[0] = (struct amfa_ddb_attr){ ":one", AMFA_DDB_N, "1" };
	rq.values[1] = (struct amfa_ddb_attr){ ":v", AMFA_DDB_N, "-42" };
	rq.nvalues = 2;
	rq.want_item = 1;
	return rq;
}

static int
same(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Every proper prefix of a message, and the message with a byte more,
 * are refused. */
static void
cuts_refused(const unsigned char *msg, size_t len, int answer, const char *what)
{
	struct amfa_broker_request rq;
	struct amfa_broker_answer a;
	unsigned char *more;
	size_t k, taken = 0;

	for (k = 0; k < len; k++)
		taken += (answer ? amfa_broker_answer_decode(msg, k, &a) :
				   amfa_broker_request_decode(msg, k, &rq)) ==
		    0;
	is_int(taken, 0, "%s: none of its %zu cuts is taken", what, len);
	more = malloc(len + 1);
	memcpy(more, msg, len);
	more[len] = 0;
	ok((answer ? amfa_broker_answer_decode(more, len + 1, &a) :
		     amfa_broker_request_decode(more, len + 1, &rq)) != 0,
	    "%s: a byte more is refused", what);
	free(more);
}

static void
test_update(void)
{
	struct amfa_broker_request rq = update_request(), back;
	unsigned char *msg;
	size_t len;

	ok(amfa_broker_request_encode(&rq, &msg, &len) == 0, "update encoded");
	ok(amfa_broker_request_decode(msg, len, &back) == 0, "update decoded");
	ok(back.op == rq.op && same(back.c.endpoint, rq.c.endpoint) &&
		same(back.c.region, rq.c.region) &&
		same(back.c.table, rq.c.table) && back.c.ca_file == NULL &&
		back.c.timeout_ms == 5000 &&
		same(back.c.key_file, rq.c.key_file) &&
		back.c.imds_endpoint == NULL &&
		same(back.c.cred_cache, rq.c.cred_cache) &&
		back.c.broker == NULL,
	    "update: the configuration comes through (NULLs too)");
	ok(same(back.key.name, "amfa_user") && back.key.type == AMFA_DDB_S &&
		same(back.key.value, "alice") && same(back.update, rq.update) &&
		same(back.condition, rq.condition) && back.nvalues == 2 &&
		same(back.values[1].name, ":v") &&
		back.values[1].type == AMFA_DDB_N &&
		same(back.values[1].value, "-42") && back.want_item == 1,
	    "update: key, expressions and values come through");
	cuts_refused(msg, len, 0, "update");

	/* The key's value "alice" with its NUL moved: "ali\0e\0". */
	{
		unsigned char *p = memmem(msg, len, "alice", 6);

		ok(p != NULL, "the key's value is in the message");
		p[3] = '\0';
		ok(amfa_broker_request_decode(msg, len, &back) != 0,
		    "a NUL inside a string is refused");
		p[3] = 'c';
		p[5] = 'x';
		ok(amfa_broker_request_decode(msg, len, &back) != 0,
		    "a string without its NUL is refused");
		p[5] = '\0';
		ok(amfa_broker_request_decode(msg, len, &back) == 0,
		    "and mended, taken again");
	}
	/* The operation (after the magic) made unknown. */
	msg[4] = 99;
	ok(amfa_broker_request_decode(msg, len, &back) != 0,
	    "an unknown operation is refused");
	msg[4] = AMFA_BROKER_DDB_UPDATE;
	msg[0] ^= 1;
	ok(amfa_broker_request_decode(msg, len, &back) != 0,
	    "another magic is refused");
	amfa_wipe_free(msg, len);

	rq.nvalues = AMFA_BROKER_MAX_VALUES + 1;
	ok(amfa_broker_request_encode(&rq, &msg, &len) != 0,
	    "too many values are not encoded");
	rq = update_request();
	rq.c.timeout_ms = 0;
	ok(amfa_broker_request_encode(&rq, &msg, &len) == 0 &&
		amfa_broker_request_decode(msg, len, &back) != 0,
	    "a timeout of 0 is refused");
	amfa_wipe_free(msg, len);
	rq = update_request();
	rq.update = NULL;
	ok(amfa_broker_request_encode(&rq, &msg, &len) == 0 &&
		amfa_broker_request_decode(msg, len, &back) != 0,
	    "an update without its expression is refused");
	amfa_wipe_free(msg, len);
	rq = update_request();
	rq.key.type = (enum amfa_ddb_type)7;
	ok(amfa_broker_request_encode(&rq, &msg, &len) == 0 &&
		amfa_broker_request_decode(msg, len, &back) != 0,
	    "an attribute of another type is refused");
	amfa_wipe_free(msg, len);
	rq = update_request();
	rq.op = AMFA_BROKER_DDB_DELETE;
	rq.update = NULL;
	ok(amfa_broker_request_encode(&rq, &msg, &len) == 0 &&
		amfa_broker_request_decode(msg, len, &back) != 0,
	    "a delete that asks for the item is refused");
	amfa_wipe_free(msg, len);
	rq.want_item = 0;
	ok(amfa_broker_request_encode(&rq, &msg, &len) == 0 &&
		amfa_broker_request_decode(msg, len, &back) == 0 &&
		back.op == AMFA_BROKER_DDB_DELETE && back.update == NULL &&
		same(back.condition, rq.condition),
	    "a delete comes through");
	amfa_wipe_free(msg, len);
}

static void
test_kms(void)
{
	struct amfa_broker_request rq = { 0 }, back;
	unsigned char *msg;
	size_t len;

	rq.op = AMFA_BROKER_KMS_DECRYPT;
	rq.c = config;
	rq.c.table = NULL;
	rq.key_id = "arn:aws:kms:eu-west-1:111122223333:key/abcd";
	rq.ctx = (struct amfa_kms_context){ "awsmfa-state", "alice", 7 };
	rq.blob_b64 = "AQIDBAUGBwg=";
	ok(amfa_broker_request_encode(&rq, &msg, &len) == 0 &&
		amfa_broker_request_decode(msg, len, &back) == 0,
	    "decrypt: round trip");
	ok(same(back.key_id, rq.key_id) &&
		same(back.ctx.table, "awsmfa-state") &&
		same(back.ctx.user, "alice") && back.ctx.version == 7 &&
		same(back.blob_b64, rq.blob_b64) && back.c.table == NULL,
	    "decrypt: key, context and blob come through");
	cuts_refused(msg, len, 0, "decrypt");
	amfa_wipe_free(msg, len);
	rq.ctx.version = 0;
	ok(amfa_broker_request_encode(&rq, &msg, &len) == 0 &&
		amfa_broker_request_decode(msg, len, &back) != 0,
	    "decrypt: version 0 is refused");
	amfa_wipe_free(msg, len);
	rq.ctx.version = 7;
	rq.op = AMFA_BROKER_KMS_GENERATE;
	ok(amfa_broker_request_encode(&rq, &msg, &len) == 0 &&
		amfa_broker_request_decode(msg, len, &back) != 0,
	    "generate with a blob is refused");
	amfa_wipe_free(msg, len);
	rq.op = AMFA_BROKER_DDB_GET;
	rq.key = (struct amfa_ddb_attr){ "amfa_user", AMFA_DDB_S, "alice" };
	ok(amfa_broker_request_encode(&rq, &msg, &len) == 0 &&
		amfa_broker_request_decode(msg, len, &back) != 0,
	    "a table call without a table is refused");
	amfa_wipe_free(msg, len);
}

static void
test_answers(void)
{
	struct amfa_broker_answer a = { 0 }, back;
	unsigned char *msg;
	size_t len;
	int i;

	a.result = AMFA_DDB_OK;
	a.err.tries = 2;
	a.err.sent_before = 1;
	snprintf(a.err.request_id, sizeof(a.err.request_id), "RID-1");
	a.has_item = 1;
	a.item.n = 3;
	a.item.attrs[0].name = "amfa_user";
	a.item.attrs[0].type = AMFA_DDB_S;
	a.item.attrs[0].value = "alice";
	a.item.attrs[1].name = "fails";
	a.item.attrs[1].type = AMFA_DDB_N;
	a.item.attrs[1].value = "3";
	a.item.attrs[2].name = "empty";
	a.item.attrs[2].type = AMFA_DDB_S;
	a.item.attrs[2].value = "";
	a.has_key = 1;
	for (i = 0; i < AMFA_KMS_DATA_KEY_LEN; i++)
		a.key[i] = (unsigned char)(i * 7);
	a.blob_b64 = "AQIDBAUGBwg=";
	ok(amfa_broker_answer_encode(&a, &msg, &len) == 0 &&
		amfa_broker_answer_decode(msg, len, &back) == 0,
	    "answer: round trip");
	ok(back.result == AMFA_DDB_OK && back.err.tries == 2 &&
		back.err.sent_before == 1 &&
		strcmp(back.err.request_id, "RID-1") == 0 &&
		back.err.code[0] == '\0' && back.has_item && back.item.n == 3 &&
		same(back.item.attrs[1].name, "fails") &&
		back.item.attrs[1].type == AMFA_DDB_N &&
		same(back.item.attrs[1].value, "3") &&
		same(back.item.attrs[2].value, "") && back.has_key &&
		memcmp(back.key, a.key, sizeof(a.key)) == 0 &&
		same(back.blob_b64, a.blob_b64),
	    "answer: error, item, key and blob come through");
	amfa_broker_answer_free(&back);
	cuts_refused(msg, len, 1, "answer");
	amfa_wipe_free(msg, len);

	a.item.attrs[1].value = "03";
	ok(amfa_broker_answer_encode(&a, &msg, &len) == 0 &&
		amfa_broker_answer_decode(msg, len, &back) != 0,
	    "answer: a number that is not one is refused");
	amfa_wipe_free(msg, len);
	a.item.attrs[1].value = "3";
	a.result = (enum amfa_ddb_result)(AMFA_DDB_INTERNAL + 1);
	ok(amfa_broker_answer_encode(&a, &msg, &len) == 0 &&
		amfa_broker_answer_decode(msg, len, &back) != 0,
	    "answer: an unknown result is refused");
	amfa_wipe_free(msg, len);
	a.result = AMFA_DDB_REFUSED;
	a.item.n = AMFA_DDB_MAX_ATTRS + 1;
	if (amfa_broker_answer_encode(&a, &msg, &len) == 0) {
		ok(amfa_broker_answer_decode(msg, len, &back) != 0,
		    "answer: more attributes than an item holds are refused");
		amfa_wipe_free(msg, len);
	} else
		ok(1, "answer: more attributes than an item holds: not sent");
}

int
main(void)
{
	test_update();
	test_kms();
	test_answers();
	printf("1..%d\n", tap_n);
	return tap_failed != 0;
}
