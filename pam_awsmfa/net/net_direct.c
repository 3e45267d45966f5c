/* The network clients called directly (programs and tests); see net.h. */
#include "aws/http.h"
#include "net.h"

enum amfa_sts_result
amfa_net_sts_get_session_token(const struct amfa_sts_config *c,
    const struct amfa_aws_key *key, const char *serial, const char *code,
    struct amfa_sts_credentials *out)
{
	return amfa_sts_get_session_token(c, key, serial, code, out);
}

enum amfa_ykval_result
amfa_net_ykval_verify(const struct amfa_ykval_config *c, const char *otp)
{
	return amfa_ykval_verify(c, otp);
}

enum amfa_ddb_result
amfa_net_ddb_get_item(const struct amfa_ddb_config *c,
    const struct amfa_ddb_attr *key, struct amfa_ddb_item *out,
    struct amfa_ddb_error *err)
{
	return amfa_ddb_get_item(c, key, out, err);
}

enum amfa_ddb_result
amfa_net_ddb_update_item(const struct amfa_ddb_config *c,
    const struct amfa_ddb_attr *key, const char *update, const char *condition,
    const struct amfa_ddb_attr *values, size_t nvalues,
    struct amfa_ddb_item *out, struct amfa_ddb_error *err)
{
	return amfa_ddb_update_item(c, key, update, condition, values, nvalues,
	    out, err);
}

enum amfa_ddb_result
amfa_net_ddb_delete_item(const struct amfa_ddb_config *c,
    const struct amfa_ddb_attr *key, const char *condition,
    const struct amfa_ddb_attr *values, size_t nvalues,
    struct amfa_ddb_error *err)
{
	return amfa_ddb_delete_item(c, key, condition, values, nvalues, err);
}

enum amfa_ddb_result
amfa_net_kms_generate_data_key(const struct amfa_ddb_config *c,
    const char *key_id, const struct amfa_kms_context *ctx,
    unsigned char key[AMFA_KMS_DATA_KEY_LEN], char **blob_b64,
    struct amfa_ddb_error *err)
{
	return amfa_kms_generate_data_key(c, key_id, ctx, key, blob_b64, err);
}

enum amfa_ddb_result
amfa_net_kms_decrypt(const struct amfa_ddb_config *c, const char *key_id,
    const struct amfa_kms_context *ctx, const char *blob_b64,
    unsigned char key[AMFA_KMS_DATA_KEY_LEN], struct amfa_ddb_error *err)
{
	return amfa_kms_decrypt(c, key_id, ctx, blob_b64, key, err);
}

void
amfa_net_release(void)
{
	amfa_http_release();
}
