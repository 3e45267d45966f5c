/* KMS GenerateDataKey and Decrypt, JSON 1.1; see kms.h. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <json-c/printbuf.h>
#include <openssl/crypto.h>

#include "base64.h"
#include "kms.h"
#include "log.h"
#include "secure_file.h"

static const struct amfa_aws_json_protocol kms_protocol = { "kms",
	"TrentService.", "application/x-amz-json-1.1", "KMS" };

/* {"KeyId": key_id, "EncryptionContext": {...}} and the action's own. */
static char *
request_body(const char *key_id, const struct amfa_kms_context *ctx,
    const char *blob_b64, size_t *len)
{
	json_object *root = json_object_new_object(),
		    *ec = json_object_new_object();
	const char *s;
	char *out = NULL, ver[24];
	int bad = root == NULL || ec == NULL;

	snprintf(ver, sizeof(ver), "%" PRIu64, ctx->version);

	if (!bad) {
		bad |= json_object_object_add(ec, "amfa_table",
			   json_object_new_string(ctx->table)) != 0;
		bad |= json_object_object_add(ec, "amfa_user",
			   json_object_new_string(ctx->user)) != 0;
		bad |= json_object_object_add(ec, "amfa_enr_ver",
			   json_object_new_string(ver)) != 0;
		bad |= json_object_object_add(root, "KeyId",
			   json_object_new_string(key_id)) != 0;
		bad |= json_object_object_add(root, "EncryptionContext", ec) !=
		    0;
		ec = NULL;
		if (blob_b64 != NULL)
			bad |= json_object_object_add(root, "CiphertextBlob",
				   json_object_new_string(blob_b64)) != 0;
		else
			bad |= json_object_object_add(root, "KeySpec",
				   json_object_new_string("AES_256")) != 0;
	}
	if (!bad &&
	    (s = json_object_to_json_string_ext(root,
		 JSON_C_TO_STRING_PLAIN)) != NULL) {
		*len = strlen(s);
		out = strdup(s);
	}
	json_object_put(ec);
	json_object_put(root);
	return out;
}

static const char *
member(json_object *o, const char *name)
{
	json_object *v;

	if (json_object_object_get_ex(o, name, &v) &&
	    json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return NULL;
}

/* The answer's Plaintext into key, and (GenerateDataKey) its
 * CiphertextBlob; see kms.h. */
enum amfa_ddb_result
amfa_kms_read_answer(const char *body, size_t len, unsigned char *key,
    char **blob, struct amfa_ddb_error *err)
{
	struct json_tokener *tok;
	json_object *o = NULL;
	const char *pt, *cb;
	enum amfa_ddb_result r = AMFA_DDB_MALFORMED;
	size_t n = 0;

	if (memchr(body, '\0', len) == NULL &&
	    (tok = json_tokener_new_ex(8)) != NULL) {
		json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
		o = json_tokener_parse_ex(tok, body, (int)len);
		if (o != NULL &&
		    (json_tokener_get_error(tok) != json_tokener_success ||
			!json_object_is_type(o, json_type_object))) {
			json_object_put(o);
			o = NULL;
		}
		/* The tokener's buffer kept the last strings it read, the
		 * Plaintext perhaps among them: wipe it before json-c frees
		 * it (json-c has no hook for that; the field is public). */
		if (tok->pb != NULL && tok->pb->buf != NULL)
			OPENSSL_cleanse(tok->pb->buf, (size_t)tok->pb->size);
		json_tokener_free(tok);
	}
	if (o == NULL || (pt = member(o, "Plaintext")) == NULL ||
	    amfa_b64_decode(pt, key, AMFA_KMS_DATA_KEY_LEN, &n) != 0 ||
	    n != AMFA_KMS_DATA_KEY_LEN) {
		snprintf(err->detail, sizeof(err->detail),
		    "an answer without a 256-bit Plaintext");
		goto out;
	}
	if (blob != NULL) {
		cb = member(o, "CiphertextBlob");
		if (cb == NULL || strlen(cb) >= AMFA_KMS_BLOB_MAX ||
		    (*blob = strdup(cb)) == NULL) {
			snprintf(err->detail, sizeof(err->detail),
			    "an answer without a usable CiphertextBlob");
			goto out;
		}
	}
	r = AMFA_DDB_OK;
out:
	if (o != NULL) {
		/* The Plaintext's string lives in the object: wipe it. */
		if ((pt = member(o, "Plaintext")) != NULL)
			OPENSSL_cleanse((char *)pt, strlen(pt));
		json_object_put(o);
	}
	if (r != AMFA_DDB_OK)
		OPENSSL_cleanse(key, AMFA_KMS_DATA_KEY_LEN);
	return r;
}

static enum amfa_ddb_result
kms_action(const struct amfa_ddb_config *c, const char *action,
    const char *key_id, const struct amfa_kms_context *ctx, const char *blob_in,
    unsigned char *key, char **blob_out, struct amfa_ddb_error *err)
{
	enum amfa_ddb_result r;
	char *body, *ans = NULL;
	size_t len = 0, alen = 0;

	memset(err, 0, sizeof(*err));
	OPENSSL_cleanse(key, AMFA_KMS_DATA_KEY_LEN);
	if (key_id == NULL || ctx->table == NULL || ctx->user == NULL ||
	    ctx->version == 0 ||
	    (body = request_body(key_id, ctx, blob_in, &len)) == NULL) {
		snprintf(err->detail, sizeof(err->detail),
		    "bad request arguments");
		return AMFA_DDB_INTERNAL;
	}
	r = amfa_aws_json_call(&kms_protocol, c, action, body, len, &ans, &alen,
	    err);
	free(body);
	if (r == AMFA_DDB_OK) {
		r = amfa_kms_read_answer(ans, alen, key, blob_out, err);
		amfa_wipe_free(ans, alen + 1);
	}
	if (r == AMFA_DDB_OK)
		amfa_debug("KMS %s (user %s): done after %d tr%s", action,
		    ctx->user, err->tries, err->tries == 1 ? "y" : "ies");
	return r;
}

enum amfa_ddb_result
amfa_kms_generate_data_key(const struct amfa_ddb_config *c, const char *key_id,
    const struct amfa_kms_context *ctx,
    unsigned char key[AMFA_KMS_DATA_KEY_LEN], char **blob_b64,
    struct amfa_ddb_error *err)
{
	*blob_b64 = NULL;
	return kms_action(c, "GenerateDataKey", key_id, ctx, NULL, key,
	    blob_b64, err);
}

enum amfa_ddb_result
amfa_kms_decrypt(const struct amfa_ddb_config *c, const char *key_id,
    const struct amfa_kms_context *ctx, const char *blob_b64,
    unsigned char key[AMFA_KMS_DATA_KEY_LEN], struct amfa_ddb_error *err)
{
	if (blob_b64 == NULL || blob_b64[0] == '\0') {
		memset(err, 0, sizeof(*err));
		OPENSSL_cleanse(key, AMFA_KMS_DATA_KEY_LEN);
		return AMFA_DDB_INTERNAL;
	}
	return kms_action(c, "Decrypt", key_id, ctx, blob_b64, key, NULL, err);
}
