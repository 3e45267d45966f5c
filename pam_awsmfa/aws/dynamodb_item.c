/*
 * The local half of dynamodb.h: the item of a GetItem answer checked and
 * copied out (json-c), its attributes looked up, results named.  No
 * libcurl: the module's core uses these without the network plugin.
 *
 * Strict on purpose: an item holds only S and N attributes; a number is a
 * decimal integer (the state store writes only integers), at most 38
 * digits as DynamoDB allows; a string holds no NUL; at most
 * AMFA_DDB_MAX_ATTRS attributes.
 */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "dynamodb.h"
#include "secure_file.h"

#define MAX_NAME  255
#define MAX_VALUE (64 * 1024)

const char *
amfa_ddb_result_str(enum amfa_ddb_result r)
{
	switch (r) {
	case AMFA_DDB_OK:
		return "ok";
	case AMFA_DDB_NO_ITEM:
		return "no such item";
	case AMFA_DDB_CONDITION:
		return "condition failed";
	case AMFA_DDB_UNAVAILABLE:
		return "table unavailable";
	case AMFA_DDB_REFUSED:
		return "refused by DynamoDB";
	case AMFA_DDB_MALFORMED:
		return "malformed answer";
	case AMFA_DDB_NO_CREDENTIALS:
		return "no credentials for DynamoDB";
	case AMFA_DDB_INTERNAL:
		return "internal error";
	}
	return "unknown";
}

int
amfa_ddb_number_ok(const char *s, size_t len)
{
	size_t i = 0;

	if (len > 0 && s[0] == '-')
		i = 1;
	if (len == i || len - i > 38)
		return 0;
	/* No leading zeros but "0" itself; no "-0". */
	if (s[i] == '0' && (len - i > 1 || i == 1))
		return 0;
	for (; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

void
amfa_ddb_item_free(struct amfa_ddb_item *it)
{
	if (it == NULL)
		return;
	for (size_t i = 0; i < it->n && i < AMFA_DDB_MAX_ATTRS; i++) {
		free(it->attrs[i].name);
		if (it->attrs[i].value != NULL)
			amfa_wipe_free_str(it->attrs[i].value);
		it->attrs[i].name = it->attrs[i].value = NULL;
	}
	it->n = 0;
}

const char *
amfa_ddb_item_get(const struct amfa_ddb_item *it, const char *name,
    enum amfa_ddb_type type)
{
	if (it == NULL || name == NULL)
		return NULL;
	for (size_t i = 0; i < it->n && i < AMFA_DDB_MAX_ATTRS; i++)
		if (it->attrs[i].type == type &&
		    strcmp(it->attrs[i].name, name) == 0)
			return it->attrs[i].value;
	return NULL;
}

static char *
dup_checked(const char *s, size_t len, size_t max)
{
	char *out;

	if (len == 0 || len > max || memchr(s, '\0', len) != NULL)
		return NULL;
	if ((out = malloc(len + 1)) == NULL)
		return NULL;
	memcpy(out, s, len);
	out[len] = '\0';
	return out;
}

/* One attribute value: an object with exactly one member, "S" or "N". */
static int
take_attr(struct amfa_ddb_item *out, const char *name, json_object *v)
{
	struct json_object_iterator it, end;
	const char *tname, *s;
	json_object *tv;
	enum amfa_ddb_type type;
	size_t nlen = strlen(name), slen;
	char *nm, *val;

	if (out->n >= AMFA_DDB_MAX_ATTRS ||
	    !json_object_is_type(v, json_type_object) ||
	    json_object_object_length(v) != 1)
		return -1;
	it = json_object_iter_begin(v);
	end = json_object_iter_end(v);
	if (json_object_iter_equal(&it, &end))
		return -1;
	tname = json_object_iter_peek_name(&it);
	tv = json_object_iter_peek_value(&it);
	if (strcmp(tname, "S") == 0)
		type = AMFA_DDB_S;
	else if (strcmp(tname, "N") == 0)
		type = AMFA_DDB_N;
	else
		return -1;
	if (!json_object_is_type(tv, json_type_string))
		return -1;
	s = json_object_get_string(tv);
	slen = (size_t)json_object_get_string_len(tv);
	if (type == AMFA_DDB_N && !amfa_ddb_number_ok(s, slen))
		return -1;
	/* An attribute name twice is not an item DynamoDB writes. */
	for (size_t i = 0; i < out->n; i++)
		if (strcmp(out->attrs[i].name, name) == 0)
			return -1;
	if ((nm = dup_checked(name, nlen, MAX_NAME)) == NULL)
		return -1;
	/* An empty string is a valid S value for a non-key attribute. */
	if (slen == 0 && type == AMFA_DDB_S)
		val = strdup("");
	else
		val = dup_checked(s, slen, MAX_VALUE);
	if (val == NULL) {
		free(nm);
		return -1;
	}
	out->attrs[out->n].name = nm;
	out->attrs[out->n].type = type;
	out->attrs[out->n].value = val;
	out->n++;
	return 0;
}

static int
only_space(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return 0;
	return 1;
}

/* The item under `field' of an answer (see amfa_ddb_parse_item). */
static enum amfa_ddb_result
parse_item_at(const char *buf, size_t len, const char *field,
    struct amfa_ddb_item *out)
{
	struct json_tokener *tok;
	json_object *root = NULL, *item;
	enum amfa_ddb_result r = AMFA_DDB_MALFORMED;

	memset(out, 0, sizeof(*out));
	if (buf == NULL || len > AMFA_DDB_MAX_ANSWER ||
	    memchr(buf, '\0', len) != NULL)
		return AMFA_DDB_MALFORMED;
	if ((tok = json_tokener_new_ex(32)) == NULL)
		return AMFA_DDB_INTERNAL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, buf, (int)len);
	if (root == NULL ||
	    json_tokener_get_error(tok) != json_tokener_success ||
	    !only_space(buf + json_tokener_get_parse_end(tok),
		len - json_tokener_get_parse_end(tok)) ||
	    !json_object_is_type(root, json_type_object))
		goto out;
	if (!json_object_object_get_ex(root, field, &item)) {
		r = AMFA_DDB_NO_ITEM;
		goto out;
	}
	if (!json_object_is_type(item, json_type_object))
		goto out;
	/* The iterator, not json_object_object_foreach (a GNU statement
	 * expression, which clang's -Wpedantic refuses). */
	for (struct json_object_iterator it = json_object_iter_begin(item),
					 end = json_object_iter_end(item);
	     !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		if (take_attr(out, json_object_iter_peek_name(&it),
			json_object_iter_peek_value(&it)) != 0) {
			amfa_ddb_item_free(out);
			goto out;
		}
	}
	r = AMFA_DDB_OK;
out:
	json_object_put(root);
	json_tokener_free(tok);
	return r;
}

enum amfa_ddb_result
amfa_ddb_parse_item(const char *buf, size_t len, struct amfa_ddb_item *out)
{
	return parse_item_at(buf, len, "Item", out);
}

enum amfa_ddb_result
amfa_ddb_parse_attributes(const char *buf, size_t len,
    struct amfa_ddb_item *out)
{
	return parse_item_at(buf, len, "Attributes", out);
}
