/* The module's own credentials for the state table; see ddb_credentials.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/crypto.h>

#include "aws_profile.h"
#include "aws_time.h"
#include "ddb_credentials.h"
#include "imds.h"
#include "log.h"
#include "secure_file.h"
#include "sts.h"

#define MAX_KEY_FIELD 4096

void
amfa_ddb_creds_free(struct amfa_ddb_creds *cr)
{
	if (cr == NULL)
		return;
	free(cr->access_key_id);
	if (cr->secret_access_key != NULL)
		amfa_wipe_free_str(cr->secret_access_key);
	if (cr->session_token != NULL)
		amfa_wipe_free_str(cr->session_token);
	memset(cr, 0, sizeof(*cr));
}

/* A string member that may go into a header: printable, no spaces. */
static char *
member(json_object *o, const char *name)
{
	json_object *v;
	const char *s;

	if (!json_object_object_get_ex(o, name, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	s = json_object_get_string(v);
	if ((size_t)json_object_get_string_len(v) != strlen(s) ||
	    s[0] == '\0' || strlen(s) > MAX_KEY_FIELD || !amfa_sts_field_ok(s))
		return NULL;
	return strdup(s);
}

int
amfa_ddb_creds_parse_json(const char *buf, size_t len,
    struct amfa_ddb_creds *out)
{
	json_object *root = NULL, *code;
	struct json_tokener *tok;
	char *exp = NULL;
	int r = -1;

	memset(out, 0, sizeof(*out));
	if (len > AMFA_DDB_CRED_MAX_FILE || memchr(buf, '\0', len) != NULL)
		return -1;
	if ((tok = json_tokener_new_ex(8)) == NULL)
		return -1;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, buf, (int)len);
	if (root == NULL ||
	    json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(root, json_type_object))
		goto out;
	if (json_object_object_get_ex(root, "Code", &code) &&
	    (!json_object_is_type(code, json_type_string) ||
		strcmp(json_object_get_string(code), "Success") != 0))
		goto out;
	out->access_key_id = member(root, "AccessKeyId");
	out->secret_access_key = member(root, "SecretAccessKey");
	out->session_token = member(root, "Token");
	exp = member(root, "Expiration");
	if (out->access_key_id == NULL || out->secret_access_key == NULL ||
	    out->session_token == NULL || exp == NULL ||
	    strlen(out->access_key_id) > 128 ||
	    amfa_parse_iso8601(exp, &out->expires) != 0 || out->expires <= 0)
		goto out;
	r = 0;
out:
	free(exp);
	if (root != NULL) {
		/* The parsed strings are secrets too. */
		json_object *v;

		if (json_object_object_get_ex(root, "SecretAccessKey", &v) &&
		    json_object_is_type(v, json_type_string))
			OPENSSL_cleanse((char *)json_object_get_string(v),
			    (size_t)json_object_get_string_len(v));
		if (json_object_object_get_ex(root, "Token", &v) &&
		    json_object_is_type(v, json_type_string))
			OPENSSL_cleanse((char *)json_object_get_string(v),
			    (size_t)json_object_get_string_len(v));
	}
	json_object_put(root);
	json_tokener_free(tok);
	if (r != 0)
		amfa_ddb_creds_free(out);
	return r;
}

static enum amfa_ddb_result
from_key_file(const char *path, struct amfa_ddb_creds *out,
    struct amfa_ddb_error *err)
{
	const struct amfa_file_policy pol = { 0, 077, AMFA_DDB_CRED_MAX_FILE };
	char *buf = NULL, *v;
	size_t len = 0;
	int got;
	enum amfa_ddb_result r = AMFA_DDB_NO_CREDENTIALS;

	if ((v = malloc(MAX_KEY_FIELD + 1)) == NULL)
		return AMFA_DDB_INTERNAL;
	if (amfa_file_read(AT_FDCWD, path, path, &pol, &buf, &len) != 0) {
		snprintf(err->detail, sizeof(err->detail),
		    "key file %.180s: not usable (must be root's, mode 0600)",
		    path);
		goto out;
	}
	got = amfa_aws_ini_get(buf, "default", "aws_access_key_id", v,
	    MAX_KEY_FIELD + 1);
	if (got == 1 && amfa_sts_field_ok(v) && strlen(v) <= 128)
		out->access_key_id = strdup(v);
	got = amfa_aws_ini_get(buf, "default", "aws_secret_access_key", v,
	    MAX_KEY_FIELD + 1);
	if (got == 1 && v[0] != '\0' && amfa_sts_field_ok(v))
		out->secret_access_key = strdup(v);
	got = amfa_aws_ini_get(buf, "default", "aws_session_token", v,
	    MAX_KEY_FIELD + 1);
	if (got == 1 && v[0] != '\0' && amfa_sts_field_ok(v))
		out->session_token = strdup(v);
	if (out->access_key_id == NULL || out->secret_access_key == NULL ||
	    (got == 1 && out->session_token == NULL) || got < 0) {
		snprintf(err->detail, sizeof(err->detail),
		    "key file %.150s: no usable [default] aws_access_key_id "
		    "and aws_secret_access_key",
		    path);
		amfa_ddb_creds_free(out);
		goto out;
	}
	r = AMFA_DDB_OK;
out:
	OPENSSL_cleanse(v, MAX_KEY_FIELD + 1);
	free(v);
	if (buf != NULL)
		amfa_wipe_free(buf, len + 1);
	return r;
}

/* Split "DIR/NAME" of the cache path.  0 or -1. */
static int
split_path(const char *path, char *dir, size_t dirlen, const char **name)
{
	const char *slash = strrchr(path, '/');

	if (path[0] != '/' || slash == NULL || slash[1] == '\0' ||
	    (size_t)(slash - path) + 2 > dirlen)
		return -1;
	if (slash == path)
		snprintf(dir, dirlen, "/");
	else
		snprintf(dir, dirlen, "%.*s", (int)(slash - path), path);
	*name = slash + 1;
	return 0;
}

static int
cache_read(const char *path, struct amfa_ddb_creds *out)
{
	const struct amfa_file_policy pol = { 0, 077, AMFA_DDB_CRED_MAX_FILE };
	char dir[1024];
	const char *name;
	char *buf = NULL;
	size_t len = 0;
	int dfd, r = -1;

	if (split_path(path, dir, sizeof(dir), &name) != 0)
		return -1;
	if ((dfd = amfa_dir_open(dir, 0, 022)) < 0)
		return -1;
	if (faccessat(dfd, name, F_OK, AT_SYMLINK_NOFOLLOW) != 0) {
		close(dfd);
		return -1; /* no cache yet */
	}
	if (amfa_file_read(dfd, name, path, &pol, &buf, &len) == 0) {
		if (amfa_ddb_creds_parse_json(buf, len, out) == 0)
			r = 0;
		else
			amfa_log(LOG_WARNING,
			    "credentials cache %s: not a credentials "
			    "document; fetching new ones",
			    path);
		amfa_wipe_free(buf, len + 1);
	}
	close(dfd);
	return r;
}

static void
cache_write(const char *path, const char *json, size_t len)
{
	char dir[1024];
	const char *name;
	int dfd, e;

	if (split_path(path, dir, sizeof(dir), &name) != 0) {
		amfa_log(LOG_ERR, "credentials cache %s: not an absolute path",
		    path);
		return;
	}
	if ((dfd = amfa_dir_open(dir, 0, 022)) < 0)
		return;
	if ((e = amfa_file_write_atomic(dfd, name, json, len, 0600)) != 0)
		amfa_log(LOG_ERR, "credentials cache %s: %s", path,
		    strerror(-e));
	close(dfd);
}

void
amfa_ddb_creds_forget(const struct amfa_ddb_config *c)
{
	char dir[1024];
	const char *name;
	int dfd;

	if (c->cred_cache == NULL || c->key_file != NULL ||
	    split_path(c->cred_cache, dir, sizeof(dir), &name) != 0)
		return;
	if ((dfd = amfa_dir_open(dir, 0, 022)) < 0)
		return;
	if (unlinkat(dfd, name, 0) != 0 && errno != ENOENT)
		amfa_log(LOG_ERR, "credentials cache %s: %s", c->cred_cache,
		    strerror(errno));
	close(dfd);
}

enum amfa_ddb_result
amfa_ddb_creds_get(const struct amfa_ddb_config *c, long timeout_ms,
    struct amfa_ddb_creds *out, struct amfa_ddb_error *err)
{
	enum amfa_ddb_result r;
	char *json = NULL;
	size_t len = 0;
	time_t now = time(NULL);

	memset(out, 0, sizeof(*out));
	if (c->key_file != NULL)
		return from_key_file(c->key_file, out, err);
	if (c->cred_cache != NULL && cache_read(c->cred_cache, out) == 0) {
		if (out->expires - now > AMFA_DDB_CRED_MARGIN_S) {
			out->from_cache = 1;
			return AMFA_DDB_OK;
		}
		amfa_ddb_creds_free(out);
	}
	r = amfa_imds_role_credentials(c->imds_endpoint, timeout_ms, &json,
	    &len, err);
	if (r != AMFA_DDB_OK)
		return r;
	if (amfa_ddb_creds_parse_json(json, len, out) != 0) {
		snprintf(err->detail, sizeof(err->detail),
		    "IMDS credentials: not a usable credentials document");
		amfa_wipe_free(json, len + 1);
		return AMFA_DDB_MALFORMED;
	}
	if (out->expires - now <= AMFA_DDB_CRED_MARGIN_S)
		amfa_log(LOG_WARNING,
		    "IMDS credentials expire in %lld s; using them uncached",
		    (long long)(out->expires - now));
	else if (c->cred_cache != NULL)
		cache_write(c->cred_cache, json, len);
	amfa_wipe_free(json, len + 1);
	return AMFA_DDB_OK;
}
