/*
 * awsmfa_net.so: the network clients for pam_awsmfa.so, which loads this
 * on demand (net_dlopen.c, net.h).  Exports only AMFA_NET_OPS_SYMBOL.
 */
#include "aws/http.h"
#include "log.h"
#include "net.h"
#include "plugin_origin.h"

/* This copy of log.c logs through the caller's sink for one call. */
static void
enter(const struct amfa_net_log *log)
{
	amfa_log_set_sink(log->sink, log->ctx);
	amfa_log_set_debug(log->debug);
}

static void
leave(void)
{
	amfa_log_set_sink(NULL, NULL);
	amfa_log_set_debug(0);
}

static enum amfa_sts_result
plugin_sts(const struct amfa_net_log *log, const struct amfa_sts_config *c,
    const struct amfa_aws_key *key, const char *serial, const char *code,
    struct amfa_sts_credentials *out)
{
	enum amfa_sts_result r;

	enter(log);
	r = amfa_sts_get_session_token(c, key, serial, code, out);
	leave();
	return r;
}

static enum amfa_ykval_result
plugin_ykval(const struct amfa_net_log *log, const struct amfa_ykval_config *c,
    const char *otp)
{
	enum amfa_ykval_result r;

	enter(log);
	r = amfa_ykval_verify(c, otp);
	leave();
	return r;
}

static enum amfa_ddb_result
plugin_ddb_get(const struct amfa_net_log *log, const struct amfa_ddb_config *c,
    const struct amfa_ddb_attr *key, struct amfa_ddb_item *out,
    struct amfa_ddb_error *err)
{
	enum amfa_ddb_result r;

	enter(log);
	r = amfa_ddb_get_item(c, key, out, err);
	leave();
	return r;
}

static enum amfa_ddb_result
plugin_ddb_update(const struct amfa_net_log *log,
    const struct amfa_ddb_config *c, const struct amfa_ddb_attr *key,
    const char *update, const char *condition,
    const struct amfa_ddb_attr *values, size_t nvalues,
    struct amfa_ddb_item *out, struct amfa_ddb_error *err)
{
	enum amfa_ddb_result r;

	enter(log);
	r = amfa_ddb_update_item(c, key, update, condition, values, nvalues,
	    out, err);
	leave();
	return r;
}

static enum amfa_ddb_result
plugin_ddb_delete(const struct amfa_net_log *log,
    const struct amfa_ddb_config *c, const struct amfa_ddb_attr *key,
    const char *condition, const struct amfa_ddb_attr *values, size_t nvalues,
    struct amfa_ddb_error *err)
{
	enum amfa_ddb_result r;

	enter(log);
	r = amfa_ddb_delete_item(c, key, condition, values, nvalues, err);
	leave();
	return r;
}

static enum amfa_ddb_result
plugin_kms_generate(const struct amfa_net_log *log,
    const struct amfa_ddb_config *c, const char *key_id,
    const struct amfa_kms_context *ctx, unsigned char *key, char **blob_b64,
    struct amfa_ddb_error *err)
{
	enum amfa_ddb_result r;

	enter(log);
	r = amfa_kms_generate_data_key(c, key_id, ctx, key, blob_b64, err);
	leave();
	return r;
}

static enum amfa_ddb_result
plugin_kms_decrypt(const struct amfa_net_log *log,
    const struct amfa_ddb_config *c, const char *key_id,
    const struct amfa_kms_context *ctx, const char *blob_b64,
    unsigned char *key, struct amfa_ddb_error *err)
{
	enum amfa_ddb_result r;

	enter(log);
	r = amfa_kms_decrypt(c, key_id, ctx, blob_b64, key, err);
	leave();
	return r;
}

static void
plugin_release(void)
{
	amfa_http_release();
}

/* The file this copy was loaded from (plugin_origin.h). */
static struct amfa_plugin_origin origin = AMFA_PLUGIN_ORIGIN_INIT;

static int
plugin_claim(dev_t dev, ino_t ino, int record)
{
	return amfa_plugin_origin_claim(&origin, dev, ino, record);
}

extern const struct amfa_net_ops amfa_net_ops_v7;

const struct amfa_net_ops amfa_net_ops_v7 = {
	.head = { .size = sizeof(struct amfa_net_ops),
	    .version = AMFA_VERSION,
	    .claim = plugin_claim },
	.sts_get_session_token = plugin_sts,
	.ykval_verify = plugin_ykval,
	.ddb_get_item = plugin_ddb_get,
	.ddb_update_item = plugin_ddb_update,
	.ddb_delete_item = plugin_ddb_delete,
	.kms_generate_data_key = plugin_kms_generate,
	.kms_decrypt = plugin_kms_decrypt,
	.release = plugin_release,
};
