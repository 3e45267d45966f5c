/*
 * DynamoDB's JSON 1.0 protocol: GetItem, UpdateItem, DeleteItem, signed
 * with the module's own credentials, retried while the call's time allows;
 * see dynamodb.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "aws_query.h"
#include "aws_signed_post.h"
#include "ddb_credentials.h"
#include "dynamodb.h"
#include "http.h"
#include "log.h"
#include "monotonic.h"
#include "secure_file.h"
#include "sigv4.h"

#define DDB_SERVICE	   "dynamodb"
#define DDB_TARGET	   "DynamoDB_20120810."
#define DDB_CTYPE	   "application/x-amz-json-1.0"
#define MIN_TRY_MS	   200 /* less time left than this: give up */
#define CONNECT_TIMEOUT_MS 3000
#define IMDS_SHARE_MS	   3000 /* at most this much of a call for IMDS */

/* Keep log text from a server printable and short. */
static void
clean_copy(char *out, size_t outlen, const char *in)
{
	size_t n = 0;

	for (; in != NULL && *in != '\0' && n + 1 < outlen; in++)
		out[n++] = (*in >= 0x20 && *in < 0x7f) ? *in : '?';
	out[n] = '\0';
}

/* {"NAME": {"S"|"N": "VALUE"}} members added to `obj'. */
static int
add_attrs(json_object *obj, const struct amfa_ddb_attr *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		json_object *v, *s;

		if (a[i].name == NULL || a[i].name[0] == '\0' ||
		    a[i].value == NULL ||
		    (a[i].type != AMFA_DDB_S && a[i].type != AMFA_DDB_N) ||
		    (a[i].type == AMFA_DDB_N &&
			!amfa_ddb_number_ok(a[i].value, strlen(a[i].value))))
			return -1;
		if ((v = json_object_new_object()) == NULL)
			return -1;
		if ((s = json_object_new_string(a[i].value)) == NULL ||
		    json_object_object_add(v,
			a[i].type == AMFA_DDB_S ? "S" : "N", s) != 0 ||
		    json_object_object_add(obj, a[i].name, v) != 0) {
			json_object_put(v);
			return -1;
		}
	}
	return 0;
}

static int
add_string(json_object *obj, const char *name, const char *value)
{
	json_object *s;

	if ((s = json_object_new_string(value)) == NULL)
		return -1;
	if (json_object_object_add(obj, name, s) != 0) {
		json_object_put(s);
		return -1;
	}
	return 0;
}

/* The request body of an action (heap, or NULL on bad arguments). */
static char *
request_body(const struct amfa_ddb_config *c, const struct amfa_ddb_attr *key,
    const char *update, const char *condition,
    const struct amfa_ddb_attr *values, size_t nvalues, int consistent,
    int all_new, size_t *len)
{
	json_object *root, *k = NULL, *vals = NULL;
	const char *text;
	char *out = NULL;

	if ((root = json_object_new_object()) == NULL)
		return NULL;
	if (c->table == NULL || c->table[0] == '\0' || key == NULL ||
	    add_string(root, "TableName", c->table) != 0 ||
	    (k = json_object_new_object()) == NULL)
		goto out;
	if (json_object_object_add(root, "Key", k) != 0) {
		json_object_put(k);
		goto out;
	}
	if (add_attrs(k, key, 1) != 0)
		goto out;
	if (consistent &&
	    json_object_object_add(root, "ConsistentRead",
		json_object_new_boolean(1)) != 0)
		goto out;
	if (update != NULL && add_string(root, "UpdateExpression", update) != 0)
		goto out;
	if (all_new && add_string(root, "ReturnValues", "ALL_NEW") != 0)
		goto out;
	if (condition != NULL &&
	    add_string(root, "ConditionExpression", condition) != 0)
		goto out;
	if (nvalues > 0) {
		if (values == NULL || (vals = json_object_new_object()) == NULL)
			goto out;
		if (json_object_object_add(root, "ExpressionAttributeValues",
			vals) != 0) {
			json_object_put(vals);
			goto out;
		}
		if (add_attrs(vals, values, nvalues) != 0)
			goto out;
		for (size_t i = 0; i < nvalues; i++)
			if (values[i].name[0] != ':')
				goto out;
	}
	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
	if (text != NULL && (out = strdup(text)) != NULL)
		*len = strlen(out);
out:
	json_object_put(root);
	return out;
}

/* Headers of one try, signed at this moment. */
/* A JSON object, strictly, or NULL. */
static json_object *
parse_object(const char *buf, size_t len)
{
	struct json_tokener *tok;
	json_object *o;

	if (buf == NULL || len > AMFA_DDB_MAX_ANSWER ||
	    memchr(buf, '\0', len) != NULL)
		return NULL;
	if ((tok = json_tokener_new_ex(32)) == NULL)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, buf, (int)len);
	if (o != NULL &&
	    (json_tokener_get_error(tok) != json_tokener_success ||
		!json_object_is_type(o, json_type_object))) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

static const char *
string_member(json_object *o, const char *name)
{
	json_object *v;

	if (o != NULL && json_object_object_get_ex(o, name, &v) &&
	    json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return NULL;
}

static int
retryable_code(const char *code)
{
	static const char *const codes[] = {
		"ProvisionedThroughputExceededException",
		"ThrottlingException",
		"RequestLimitExceeded",
		"InternalServerError",
		"ServiceUnavailable",
		"LimitExceededException",
		"TransactionInProgressException",
	};

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(code, codes[i]) == 0)
			return 1;
	return 0;
}

/* What one try came to. */
enum try_outcome { TRY_DONE, TRY_RETRY };

static enum try_outcome
judge(struct amfa_http_response *resp, enum amfa_ddb_result *r,
    struct amfa_ddb_error *err)
{
	json_object *o;
	const char *type, *msg, *hash;

	if (resp->error == AMFA_HTTP_TLS) {
		snprintf(err->detail, sizeof(err->detail), "TLS: %.200s",
		    resp->detail);
		*r = AMFA_DDB_UNAVAILABLE;
		return TRY_DONE;
	}
	if (resp->error == AMFA_HTTP_INTERNAL) {
		snprintf(err->detail, sizeof(err->detail), "%.200s",
		    resp->detail);
		*r = AMFA_DDB_INTERNAL;
		return TRY_DONE;
	}
	if (resp->error == AMFA_HTTP_TOO_LARGE) {
		snprintf(err->detail, sizeof(err->detail),
		    "an answer over %d bytes", AMFA_DDB_MAX_ANSWER);
		if (resp->request_sent)
			err->sent_before = 1;
		*r = AMFA_DDB_MALFORMED;
		return TRY_DONE;
	}
	if (resp->error != AMFA_HTTP_OK) {
		snprintf(err->detail, sizeof(err->detail), "%s%s%.200s",
		    amfa_http_error_str(resp->error),
		    resp->detail[0] ? ": " : "", resp->detail);
		if (resp->request_sent)
			err->sent_before = 1;
		return TRY_RETRY;
	}
	o = parse_object(resp->body, resp->body_len);
	if (resp->status >= 200 && resp->status < 300) {
		*r = o != NULL ? AMFA_DDB_OK : AMFA_DDB_MALFORMED;
		if (o == NULL) {
			snprintf(err->detail, sizeof(err->detail),
			    "HTTP %ld with an answer that is not a JSON "
			    "object",
			    resp->status);
			/* The action may have been carried out. */
			err->sent_before = 1;
		}
		json_object_put(o);
		return TRY_DONE;
	}
	type = string_member(o, "__type");
	if (type == NULL) {
		snprintf(err->detail, sizeof(err->detail),
		    "HTTP %ld without a DynamoDB error answer", resp->status);
		json_object_put(o);
		if (resp->status >= 500) {
			err->sent_before = 1;
			return TRY_RETRY;
		}
		*r = AMFA_DDB_MALFORMED;
		return TRY_DONE;
	}
	hash = strrchr(type, '#');
	clean_copy(err->code, sizeof(err->code), hash ? hash + 1 : type);
	if ((msg = string_member(o, "message")) == NULL)
		msg = string_member(o, "Message");
	clean_copy(err->message, sizeof(err->message), msg ? msg : "");
	json_object_put(o);
	if (retryable_code(err->code) || resp->status >= 500) {
		snprintf(err->detail, sizeof(err->detail), "HTTP %ld %s",
		    resp->status, err->code);
		if (resp->status >= 500)
			err->sent_before = 1;
		return TRY_RETRY;
	}
	err->detail[0] = '\0';
	*r = strcmp(err->code, "ConditionalCheckFailedException") == 0 ?
	    AMFA_DDB_CONDITION :
	    AMFA_DDB_REFUSED;
	return TRY_DONE;
}

/* Would fresh credentials help?  (Cached ones revoked or rotated.) */
static int
stale_credentials(const struct amfa_ddb_error *err)
{
	return strcmp(err->code, "UnrecognizedClientException") == 0 ||
	    strcmp(err->code, "ExpiredTokenException") == 0 ||
	    strcmp(err->code, "InvalidSignatureException") == 0;
}

static const struct amfa_aws_json_protocol ddb_protocol = { DDB_SERVICE,
	DDB_TARGET, DDB_CTYPE, "DynamoDB" };

/*
 * One action with retries.  On AMFA_DDB_OK, *answer (unless NULL) holds
 * the 200's body (heap, free with amfa_http_response_free).
 */
static enum amfa_ddb_result
json_call(const struct amfa_aws_json_protocol *pr,
    const struct amfa_ddb_config *c, const char *action, const char *body,
    size_t body_len, struct amfa_http_response *answer,
    struct amfa_ddb_error *err)
{
	struct amfa_http_request req;
	struct amfa_http_response resp;
	struct amfa_aws_post post = { 0 };
	struct amfa_aws_signed sh;
	struct amfa_ddb_creds cr;
	struct amfa_aws_key key;
	char host[256], path[1024], query[1024], target[64];
	long long deadline, left;
	enum amfa_ddb_result r = AMFA_DDB_INTERNAL;
	int refreshed = 0;
	long wait;

	memset(answer, 0, sizeof(*answer));
	if (c->endpoint == NULL || c->region == NULL || c->timeout_ms <= 0 ||
	    amfa_aws_split_url(c->endpoint, host, sizeof(host), path,
		sizeof(path), query, sizeof(query)) != 0) {
		snprintf(err->detail, sizeof(err->detail), "bad endpoint");
		return AMFA_DDB_INTERNAL;
	}
	snprintf(target, sizeof(target), "%s%s", pr->target_prefix, action);
	deadline = amfa_monotonic_ms() + c->timeout_ms;
again:
	left = deadline - amfa_monotonic_ms();
	r = amfa_ddb_creds_get(c,
	    left < IMDS_SHARE_MS ? (long)left : IMDS_SHARE_MS, &cr, err);
	if (r != AMFA_DDB_OK)
		return r;
	key.access_key_id = cr.access_key_id;
	key.secret_access_key = cr.secret_access_key;
	key.session_token = cr.session_token;
	for (;;) {
		left = deadline - amfa_monotonic_ms();
		if (left < MIN_TRY_MS) {
			if (err->tries == 0)
				snprintf(err->detail, sizeof(err->detail),
				    "no time left for a try");
			r = AMFA_DDB_UNAVAILABLE;
			break;
		}
		post.region = c->region;
		post.service = pr->service;
		post.host = host;
		post.path = path;
		post.query = query;
		post.content_type = pr->content_type;
		post.extra_name = "X-Amz-Target";
		post.extra_value = target;
		post.body = body;
		post.body_len = body_len;
		if (amfa_aws_sign_post(&post, &key, &sh) != 0) {
			amfa_aws_signed_free(&sh);
			r = AMFA_DDB_INTERNAL;
			break;
		}
		memset(&req, 0, sizeof(req));
		req.url = c->endpoint;
		req.method = "POST";
		req.headers = sh.list;
		req.body = body;
		req.body_len = body_len;
		req.ca_file = c->ca_file;
		req.connect_timeout_ms = left < CONNECT_TIMEOUT_MS ?
		    (long)left :
		    CONNECT_TIMEOUT_MS;
		req.total_timeout_ms = (long)left;
		req.max_response = AMFA_DDB_MAX_ANSWER;
		req.keep = 1; /* a login's requests share one connection */
		err->tries++;
		amfa_http_perform(&req, &resp);
		amfa_aws_signed_free(&sh);
		if (judge(&resp, &r, err) == TRY_DONE) {
			if (r == AMFA_DDB_OK)
				*answer = resp;
			else
				amfa_http_response_free(&resp);
			break;
		}
		amfa_http_response_free(&resp);
		wait = amfa_aws_backoff_ms(err->tries);
		left = deadline - amfa_monotonic_ms();
		amfa_log(LOG_NOTICE, "%s %s (%s): try %d: %s%s", pr->name,
		    action, c->endpoint, err->tries, err->detail,
		    left - wait >= MIN_TRY_MS ? "; trying again" :
						"; out of time");
		if (left - wait < MIN_TRY_MS) {
			r = AMFA_DDB_UNAVAILABLE;
			break;
		}
		amfa_aws_sleep_ms(wait);
	}
	/* Cached instance-role credentials refused: once more with new
	 * ones (a rotated or revoked role session). */
	if (r == AMFA_DDB_REFUSED && cr.from_cache && !refreshed &&
	    stale_credentials(err)) {
		amfa_log(LOG_NOTICE,
		    "%s %s: cached credentials refused (%s); "
		    "fetching new ones",
		    pr->name, action, err->code);
		amfa_ddb_creds_free(&cr);
		amfa_ddb_creds_forget(c);
		refreshed = 1;
		err->code[0] = err->message[0] = '\0';
		goto again;
	}
	amfa_ddb_creds_free(&cr);
	return r;
}

static enum amfa_ddb_result
ddb_call(const struct amfa_ddb_config *c, const char *action, const char *body,
    size_t body_len, struct amfa_http_response *answer,
    struct amfa_ddb_error *err)
{
	return json_call(&ddb_protocol, c, action, body, body_len, answer, err);
}

enum amfa_ddb_result
amfa_aws_json_call(const struct amfa_aws_json_protocol *pr,
    const struct amfa_ddb_config *c, const char *action, const char *body,
    size_t body_len, char **answer, size_t *answer_len,
    struct amfa_ddb_error *err)
{
	struct amfa_http_response ans;
	enum amfa_ddb_result r;

	*answer = NULL;
	*answer_len = 0;
	r = json_call(pr, c, action, body, body_len, &ans, err);
	if (r == AMFA_DDB_OK) {
		*answer = ans.body;
		*answer_len = ans.body_len;
		ans.body = NULL;
		ans.body_len = 0;
	}
	amfa_http_response_free(&ans);
	return r;
}

static void
log_outcome(const struct amfa_ddb_config *c, const char *action,
    enum amfa_ddb_result r, const struct amfa_ddb_error *err)
{
	switch (r) {
	case AMFA_DDB_OK:
	case AMFA_DDB_NO_ITEM:
	case AMFA_DDB_CONDITION:
		amfa_debug("DynamoDB %s (table %s): %s after %d tr%s", action,
		    c->table, amfa_ddb_result_str(r), err->tries,
		    err->tries == 1 ? "y" : "ies");
		break;
	case AMFA_DDB_REFUSED:
		amfa_log(LOG_ERR, "DynamoDB %s (table %s, %s): %s: %s: \"%s\"",
		    action, c->table, c->endpoint, amfa_ddb_result_str(r),
		    err->code, err->message);
		break;
	default:
		amfa_log(LOG_ERR,
		    "DynamoDB %s (table %s, %s): %s after %d tr%s in %ld "
		    "ms%s%s",
		    action, c->table, c->endpoint, amfa_ddb_result_str(r),
		    err->tries, err->tries == 1 ? "y" : "ies", c->timeout_ms,
		    err->detail[0] ? ": " : "", err->detail);
		break;
	}
}

/* Build, call, check a write's answer; with `out', the item as the write
 * left it (ReturnValues ALL_NEW). */
static enum amfa_ddb_result
write_action(const struct amfa_ddb_config *c, const char *action,
    const struct amfa_ddb_attr *key, const char *update, const char *condition,
    const struct amfa_ddb_attr *values, size_t nvalues,
    struct amfa_ddb_item *out, struct amfa_ddb_error *err)
{
	struct amfa_http_response ans;
	enum amfa_ddb_result r;
	size_t len = 0;
	char *body;

	memset(err, 0, sizeof(*err));
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	body = request_body(c, key, update, condition, values, nvalues, 0,
	    out != NULL, &len);
	if (body == NULL) {
		snprintf(err->detail, sizeof(err->detail),
		    "bad request arguments");
		r = AMFA_DDB_INTERNAL;
	} else {
		r = ddb_call(c, action, body, len, &ans, err);
		if (r == AMFA_DDB_OK && out != NULL) {
			r = amfa_ddb_parse_attributes(ans.body, ans.body_len,
			    out);
			if (r != AMFA_DDB_OK) {
				r = AMFA_DDB_MALFORMED;
				snprintf(err->detail, sizeof(err->detail),
				    "the written item is not in the answer, "
				    "or not S and N attributes");
			}
		}
		amfa_http_response_free(&ans);
		amfa_wipe_free(body, len + 1);
	}
	log_outcome(c, action, r, err);
	return r;
}

enum amfa_ddb_result
amfa_ddb_get_item(const struct amfa_ddb_config *c,
    const struct amfa_ddb_attr *key, struct amfa_ddb_item *out,
    struct amfa_ddb_error *err)
{
	struct amfa_http_response ans;
	enum amfa_ddb_result r;
	size_t len = 0;
	char *body;

	memset(err, 0, sizeof(*err));
	memset(out, 0, sizeof(*out));
	body = request_body(c, key, NULL, NULL, NULL, 0, 1, 0, &len);
	if (body == NULL) {
		snprintf(err->detail, sizeof(err->detail),
		    "bad request arguments");
		r = AMFA_DDB_INTERNAL;
	} else {
		r = ddb_call(c, "GetItem", body, len, &ans, err);
		if (r == AMFA_DDB_OK) {
			r = amfa_ddb_parse_item(ans.body, ans.body_len, out);
			if (r == AMFA_DDB_MALFORMED)
				snprintf(err->detail, sizeof(err->detail),
				    "an item that is not S and N attributes "
				    "as this client writes them");
		}
		amfa_http_response_free(&ans);
		amfa_wipe_free(body, len + 1);
	}
	log_outcome(c, "GetItem", r, err);
	return r;
}

enum amfa_ddb_result
amfa_ddb_update_item(const struct amfa_ddb_config *c,
    const struct amfa_ddb_attr *key, const char *update, const char *condition,
    const struct amfa_ddb_attr *values, size_t nvalues,
    struct amfa_ddb_item *out, struct amfa_ddb_error *err)
{
	if (update == NULL) {
		memset(err, 0, sizeof(*err));
		if (out != NULL)
			memset(out, 0, sizeof(*out));
		return AMFA_DDB_INTERNAL;
	}
	return write_action(c, "UpdateItem", key, update, condition, values,
	    nvalues, out, err);
}

enum amfa_ddb_result
amfa_ddb_delete_item(const struct amfa_ddb_config *c,
    const struct amfa_ddb_attr *key, const char *condition,
    const struct amfa_ddb_attr *values, size_t nvalues,
    struct amfa_ddb_error *err)
{
	return write_action(c, "DeleteItem", key, NULL, condition, values,
	    nvalues, NULL, err);
}
