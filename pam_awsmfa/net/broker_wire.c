/* The broker's messages; see broker_wire.h. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "broker_wire.h"
#include "secure_file.h"

#define MAGIC_REQUEST 0x31716d61u /* "amq1" */
#define MAGIC_ANSWER  0x31616d61u /* "ama1" */

struct out {
	unsigned char *p;
	size_t len;
	int failed;
};

struct in {
	const unsigned char *p;
	size_t len, off;
	int failed;
};

static void
put(struct out *o, const void *v, size_t n)
{
	if (o->failed || n > AMFA_BROKER_MAX_MSG - o->len) {
		o->failed = 1;
		return;
	}
	memcpy(o->p + o->len, v, n);
	o->len += n;
}

static void
put_u32(struct out *o, uint32_t v)
{
	unsigned char b[4];
	int i;

	for (i = 0; i < 4; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	put(o, b, sizeof(b));
}

static void
put_u64(struct out *o, uint64_t v)
{
	unsigned char b[8];
	int i;

	for (i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	put(o, b, sizeof(b));
}

static void
put_str(struct out *o, const char *s)
{
	size_t n;

	if (s == NULL) {
		put_u32(o, 0);
		return;
	}
	n = strlen(s) + 1;
	if (n > AMFA_BROKER_MAX_MSG) {
		o->failed = 1;
		return;
	}
	put_u32(o, (uint32_t)n);
	put(o, s, n);
}

static const unsigned char *
take(struct in *i, size_t n)
{
	const unsigned char *p;

	if (i->failed || n > i->len - i->off) {
		i->failed = 1;
		return NULL;
	}
	p = i->p + i->off;
	i->off += n;
	return p;
}

static uint32_t
get_u32(struct in *i)
{
	const unsigned char *b = take(i, 4);

	return b == NULL ? 0 :
			   (uint32_t)b[0] | (uint32_t)b[1] << 8 |
		(uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint64_t
get_u64(struct in *i)
{
	const unsigned char *b = take(i, 8);
	uint64_t v = 0;
	int k;

	if (b == NULL)
		return 0;
	for (k = 7; k >= 0; k--)
		v = v << 8 | b[k];
	return v;
}

/* A string in the message (NULL for length 0), NUL-terminated at its end
 * and nowhere before; `max': the most bytes with its NUL (0: any). */
static const char *
get_str(struct in *i, size_t max)
{
	uint32_t n = get_u32(i);
	const unsigned char *s;

	if (i->failed || n == 0)
		return NULL;
	if ((max != 0 && n > max) || (s = take(i, n)) == NULL ||
	    memchr(s, '\0', n) != s + n - 1) {
		i->failed = 1;
		return NULL;
	}
	return (const char *)s;
}

/* A string that must be there. */
static const char *
get_str_set(struct in *i, size_t max)
{
	const char *s = get_str(i, max);

	if (s == NULL)
		i->failed = 1;
	return s;
}

static int
out_start(struct out *o, uint32_t magic)
{
	memset(o, 0, sizeof(*o));
	if ((o->p = malloc(AMFA_BROKER_MAX_MSG)) == NULL)
		return -1;
	put_u32(o, magic);
	return 0;
}

static int
out_end(struct out *o, unsigned char **msg, size_t *len)
{
	if (o->failed) {
		amfa_wipe_free(o->p, AMFA_BROKER_MAX_MSG);
		return -1;
	}
	*msg = o->p;
	*len = o->len;
	return 0;
}

static void
put_attr(struct out *o, const struct amfa_ddb_attr *a)
{
	put_str(o, a->name);
	put_u32(o, (uint32_t)a->type);
	put_str(o, a->value);
}

static void
get_attr(struct in *i, struct amfa_ddb_attr *a)
{
	uint32_t t;

	a->name = get_str_set(i, 256);
	t = get_u32(i);
	if (t != AMFA_DDB_S && t != AMFA_DDB_N)
		i->failed = 1;
	a->type = (enum amfa_ddb_type)t;
	a->value = get_str_set(i, 0);
}

int
amfa_broker_request_encode(const struct amfa_broker_request *rq,
    unsigned char **msg, size_t *len)
{
	struct out o;
	size_t k;

	if (rq->nvalues > AMFA_BROKER_MAX_VALUES ||
	    out_start(&o, MAGIC_REQUEST))
		return -1;
	put_u32(&o, (uint32_t)rq->op);
	put_str(&o, rq->c.endpoint);
	put_str(&o, rq->c.region);
	put_str(&o, rq->c.table);
	put_str(&o, rq->c.ca_file);
	put_u64(&o, (uint64_t)rq->c.timeout_ms);
	put_str(&o, rq->c.key_file);
	put_str(&o, rq->c.imds_endpoint);
	put_str(&o, rq->c.cred_cache);
	switch (rq->op) {
	case AMFA_BROKER_DDB_GET:
		put_attr(&o, &rq->key);
		break;
	case AMFA_BROKER_DDB_UPDATE:
	case AMFA_BROKER_DDB_DELETE:
		put_attr(&o, &rq->key);
		put_str(&o, rq->update);
		put_str(&o, rq->condition);
		put_u32(&o, (uint32_t)rq->nvalues);
		for (k = 0; k < rq->nvalues; k++)
			put_attr(&o, &rq->values[k]);
		put_u32(&o, rq->want_item ? 1 : 0);
		break;
	case AMFA_BROKER_KMS_GENERATE:
	case AMFA_BROKER_KMS_DECRYPT:
		put_str(&o, rq->key_id);
		put_str(&o, rq->ctx.table);
		put_str(&o, rq->ctx.user);
		put_u64(&o, rq->ctx.version);
		put_str(&o, rq->blob_b64);
		break;
	default:
		o.failed = 1;
	}
	return out_end(&o, msg, len);
}

int
amfa_broker_request_decode(const unsigned char *msg, size_t len,
    struct amfa_broker_request *rq)
{
	struct in i = { msg, len, 0, 0 };
	uint64_t timeout;
	uint32_t op;
	size_t k;

	memset(rq, 0, sizeof(*rq));
	if (get_u32(&i) != MAGIC_REQUEST)
		return -1;
	op = get_u32(&i);
	rq->op = (enum amfa_broker_op)op;
	rq->c.endpoint = get_str_set(&i, 1024);
	rq->c.region = get_str_set(&i, 64);
	rq->c.table = get_str(&i, 256);
	rq->c.ca_file = get_str(&i, 4096);
	timeout = get_u64(&i);
	/* The module's own bounds (dynamodb_timeout: 1..60 s). */
	if (timeout < 1 || timeout > 600000)
		i.failed = 1;
	rq->c.timeout_ms = (long)timeout;
	rq->c.key_file = get_str(&i, 4096);
	rq->c.imds_endpoint = get_str(&i, 1024);
	rq->c.cred_cache = get_str(&i, 4096);
	switch (op) {
	case AMFA_BROKER_DDB_GET:
		get_attr(&i, &rq->key);
		break;
	case AMFA_BROKER_DDB_UPDATE:
	case AMFA_BROKER_DDB_DELETE:
		get_attr(&i, &rq->key);
		rq->update = get_str(&i, 0);
		rq->condition = get_str(&i, 0);
		if ((op == AMFA_BROKER_DDB_UPDATE) != (rq->update != NULL))
			i.failed = 1;
		rq->nvalues = get_u32(&i);
		if (rq->nvalues > AMFA_BROKER_MAX_VALUES)
			i.failed = 1;
		for (k = 0; k < rq->nvalues && !i.failed; k++)
			get_attr(&i, &rq->values[k]);
		rq->want_item = (int)get_u32(&i);
		if (rq->want_item != 0 &&
		    (rq->want_item != 1 || op != AMFA_BROKER_DDB_UPDATE))
			i.failed = 1;
		break;
	case AMFA_BROKER_KMS_GENERATE:
	case AMFA_BROKER_KMS_DECRYPT:
		rq->key_id = get_str_set(&i, 2048);
		rq->ctx.table = get_str_set(&i, 256);
		rq->ctx.user = get_str_set(&i, 256);
		rq->ctx.version = get_u64(&i);
		if (rq->ctx.version == 0)
			i.failed = 1;
		rq->blob_b64 = get_str(&i, AMFA_KMS_BLOB_MAX + 1);
		if ((op == AMFA_BROKER_KMS_DECRYPT) != (rq->blob_b64 != NULL))
			i.failed = 1;
		break;
	default:
		i.failed = 1;
	}
	if (rq->c.table == NULL && op <= AMFA_BROKER_DDB_DELETE)
		i.failed = 1;
	if (i.failed || i.off != len) {
		memset(rq, 0, sizeof(*rq));
		return -1;
	}
	return 0;
}

int
amfa_broker_answer_encode(const struct amfa_broker_answer *a,
    unsigned char **msg, size_t *len)
{
	struct out o;
	size_t k;

	if (out_start(&o, MAGIC_ANSWER) != 0)
		return -1;
	put_u32(&o, (uint32_t)a->result);
	put_str(&o, a->err.code);
	put_str(&o, a->err.message);
	put_str(&o, a->err.request_id);
	put_str(&o, a->err.detail);
	put_u32(&o, (uint32_t)a->err.tries);
	put_u32(&o, a->err.sent_before ? 1 : 0);
	put_u32(&o, a->has_item ? 1 : 0);
	if (a->has_item) {
		put_u32(&o, (uint32_t)a->item.n);
		for (k = 0; k < a->item.n && k < AMFA_DDB_MAX_ATTRS; k++) {
			put_str(&o, a->item.attrs[k].name);
			put_u32(&o, (uint32_t)a->item.attrs[k].type);
			put_str(&o, a->item.attrs[k].value);
		}
	}
	put_u32(&o, a->has_key ? 1 : 0);
	if (a->has_key)
		put(&o, a->key, sizeof(a->key));
	put_str(&o, a->blob_b64);
	return out_end(&o, msg, len);
}

/* Copy a string of the answer into a fixed field of err. */
static void
get_field(struct in *i, char *field, size_t size)
{
	const char *s = get_str(i, size);

	field[0] = '\0';
	if (s != NULL)
		memcpy(field, s, strlen(s) + 1);
}

static char *
dup_str(struct in *i, size_t max)
{
	const char *s = get_str_set(i, max);
	char *d;

	if (s == NULL)
		return NULL;
	if ((d = strdup(s)) == NULL)
		i->failed = 1;
	return d;
}

int
amfa_broker_answer_decode(const unsigned char *msg, size_t len,
    struct amfa_broker_answer *a)
{
	struct in i = { msg, len, 0, 0 };
	const unsigned char *key;
	const char *blob;
	uint32_t r, t;
	size_t k;

	memset(a, 0, sizeof(*a));
	if (get_u32(&i) != MAGIC_ANSWER)
		return -1;
	r = get_u32(&i);
	if (r > AMFA_DDB_INTERNAL)
		i.failed = 1;
	a->result = (enum amfa_ddb_result)r;
	get_field(&i, a->err.code, sizeof(a->err.code));
	get_field(&i, a->err.message, sizeof(a->err.message));
	get_field(&i, a->err.request_id, sizeof(a->err.request_id));
	get_field(&i, a->err.detail, sizeof(a->err.detail));
	a->err.tries = (int)(get_u32(&i) & 0xffff);
	a->err.sent_before = get_u32(&i) != 0;
	/* 0 or 1, read unsigned: a cast first lets 0x80000000 through as a
	 * negative "yes". */
	if ((t = get_u32(&i)) > 1)
		i.failed = 1;
	a->has_item = t == 1;
	if (a->has_item && !i.failed) {
		a->item.n = get_u32(&i);
		if (a->item.n > AMFA_DDB_MAX_ATTRS)
			i.failed = 1;
		for (k = 0; k < a->item.n && !i.failed; k++) {
			a->item.attrs[k].name = dup_str(&i, 256);
			t = get_u32(&i);
			if (t != AMFA_DDB_S && t != AMFA_DDB_N)
				i.failed = 1;
			a->item.attrs[k].type = (enum amfa_ddb_type)t;
			a->item.attrs[k].value = dup_str(&i, 0);
			if (t == AMFA_DDB_N && a->item.attrs[k].value != NULL &&
			    !amfa_ddb_number_ok(a->item.attrs[k].value,
				strlen(a->item.attrs[k].value)))
				i.failed = 1;
		}
	}
	if ((t = get_u32(&i)) > 1)
		i.failed = 1;
	a->has_key = t == 1;
	if (a->has_key && (key = take(&i, sizeof(a->key))) != NULL)
		memcpy(a->key, key, sizeof(a->key));
	blob = get_str(&i, AMFA_KMS_BLOB_MAX + 1);
	if (blob != NULL && (a->blob_b64 = strdup(blob)) == NULL)
		i.failed = 1;
	if (i.failed || i.off != len) {
		amfa_broker_answer_free(a);
		return -1;
	}
	return 0;
}

void
amfa_broker_answer_free(struct amfa_broker_answer *a)
{
	size_t k;

	for (k = 0; k < a->item.n && k < AMFA_DDB_MAX_ATTRS; k++) {
		amfa_wipe_free_str(a->item.attrs[k].name);
		amfa_wipe_free_str(a->item.attrs[k].value);
	}
	if (a->blob_b64 != NULL)
		free(a->blob_b64);
	OPENSSL_cleanse(a, sizeof(*a));
}
