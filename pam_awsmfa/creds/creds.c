/* Session credentials and their JSON form; see creds.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/crypto.h>

#include "aws/aws_time.h"
#include "creds.h"
#include "secure_file.h"

char *
amfa_creds_to_json(const struct amfa_creds *c, size_t *len)
{
	json_object *o;
	const char *text;
	char *copy = NULL;
	size_t n;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	if (json_object_object_add(o, "Version", json_object_new_int(1)) ||
	    json_object_object_add(o, "AccessKeyId",
		json_object_new_string(c->access_key_id)) ||
	    json_object_object_add(o, "SecretAccessKey",
		json_object_new_string(c->secret_access_key)) ||
	    json_object_object_add(o, "SessionToken",
		json_object_new_string(c->session_token)) ||
	    json_object_object_add(o, "Expiration",
		json_object_new_string(c->expiration)))
		goto out;
	text = json_object_to_json_string_length(o,
	    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
	if (text == NULL || (copy = malloc(n + 2)) == NULL)
		goto out;
	memcpy(copy, text, n);
	copy[n++] = '\n';
	copy[n] = '\0';
	*len = n;
	/* json-c's own buffer held the secret too. */
	OPENSSL_cleanse((char *)text, strlen(text));
out:
	json_object_put(o);
	return copy;
}

static const char *
get_string(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

int
amfa_creds_set(struct amfa_creds *c, const char *id, const char *secret,
    const char *token, const char *exp, const char **why)
{
	memset(c, 0, sizeof(*c));
	*why = "a field is missing";
	if (id == NULL || secret == NULL || token == NULL || exp == NULL)
		return -1;
	*why = "bad Expiration";
	if (strlen(exp) >= sizeof(c->expiration) ||
	    amfa_parse_iso8601(exp, &c->expires) != 0)
		return -1;
	*why = "out of memory";
	snprintf(c->expiration, sizeof(c->expiration), "%s", exp);
	c->access_key_id = strdup(id);
	c->secret_access_key = strdup(secret);
	c->session_token = strdup(token);
	if (c->access_key_id == NULL || c->secret_access_key == NULL ||
	    c->session_token == NULL) {
		amfa_creds_free(c);
		return -1;
	}
	*why = NULL;
	return 0;
}

int
amfa_creds_from_json(const char *buf, struct amfa_creds *c, const char **why)
{
	json_object *o, *v;
	const char *id, *secret = NULL, *token = NULL, *exp;
	int rc = -1;

	memset(c, 0, sizeof(*c));
	*why = "not JSON";
	if ((o = json_tokener_parse(buf)) == NULL)
		return -1;
	*why = "not the credential_process shape";
	if (!json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, "Version", &v) ||
	    !json_object_is_type(v, json_type_int) ||
	    json_object_get_int(v) != 1)
		goto out;
	id = get_string(o, "AccessKeyId");
	secret = get_string(o, "SecretAccessKey");
	token = get_string(o, "SessionToken");
	exp = get_string(o, "Expiration");
	if (amfa_creds_set(c, id, secret, token, exp, why) == 0)
		rc = 0;
out:
	/* json-c frees without wiping: wipe its copies of the secrets. */
	if (secret != NULL)
		OPENSSL_cleanse((char *)secret, strlen(secret));
	if (token != NULL)
		OPENSSL_cleanse((char *)token, strlen(token));
	json_object_put(o);
	return rc;
}

void
amfa_creds_free(struct amfa_creds *c)
{
	free(c->access_key_id);
	amfa_wipe_free_str(c->secret_access_key);
	amfa_wipe_free_str(c->session_token);
	memset(c, 0, sizeof(*c));
}
