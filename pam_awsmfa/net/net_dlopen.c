/*
 * The network clients for the module's body (awsmfa_pam.so): loaded from
 * awsmfa_net.so, next to the module, by each call that needs them; see
 * net.h.
 *
 * The plugin is looked for only in the directory pam_awsmfa.so was loaded
 * from, which pam_awsmfa.so tells the body (amfa_net_located), never
 * through the environment or the library search path: sudo and su are
 * setuid and their environment is the caller's.  plugin_load.c checks the
 * directory and the file on open descriptors and loads the checked
 * descriptor.  Any failure is logged and fails the call closed.
 *
 * A loaded plugin stays loaded (RTLD_NODELETE, plugin_load.h), and each
 * call takes the copy of the file there now: after an upgrade, the next
 * call uses the new file.  A failure is not remembered.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "broker_client.h"
#include "log.h"
#include "net.h"
#include "plugin_load.h"

static pthread_mutex_t net_lock = PTHREAD_MUTEX_INITIALIZER;
/* Where pam_awsmfa.so was loaded from, and its owner (the first call of
 * amfa_net_located). */
static char net_dir[PATH_MAX];
static uid_t net_dir_owner;
/* The ops of the copy the last call used: amfa_net_release's. */
static const struct amfa_net_ops *net_ops;

void
amfa_net_located(const char *dir, uid_t owner)
{
	pthread_mutex_lock(&net_lock);
	if (net_dir[0] == '\0' && strlen(dir) < sizeof(net_dir)) {
		memcpy(net_dir, dir, strlen(dir) + 1);
		net_dir_owner = owner;
	}
	pthread_mutex_unlock(&net_lock);
}

static const struct amfa_net_ops *
load(void)
{
	const struct amfa_plugin_head *head;
	const struct amfa_net_ops *ops;
	char err[AMFA_PLUGIN_ERR_MAX];
	void *h;

	if (net_dir[0] == '\0') {
		amfa_log(LOG_ERR,
		    "%s: cannot tell where pam_awsmfa.so was "
		    "loaded from",
		    AMFA_NET_PLUGIN);
		goto fail;
	}
	head = amfa_plugin_load(net_dir, net_dir_owner, AMFA_NET_PLUGIN,
	    AMFA_NET_OPS_SYMBOL, AMFA_VERSION, &h, err, sizeof(err));
	if (head == NULL) {
		amfa_log(LOG_ERR, "%s", err);
		goto fail;
	}
	ops = (const struct amfa_net_ops *)head;
	if (head->size != sizeof(*ops) || ops->sts_get_session_token == NULL ||
	    ops->ykval_verify == NULL || ops->ddb_get_item == NULL ||
	    ops->ddb_update_item == NULL || ops->ddb_delete_item == NULL ||
	    ops->kms_generate_data_key == NULL || ops->kms_decrypt == NULL ||
	    ops->release == NULL) {
		amfa_log(LOG_ERR,
		    "%s/%s: not the plugin of pam_awsmfa %s (%s of another "
		    "form)",
		    net_dir, AMFA_NET_PLUGIN, AMFA_VERSION,
		    AMFA_NET_OPS_SYMBOL);
		dlclose(h);
		goto fail;
	}
	/* Pinned: the ops stay valid after the handle is let go. */
	dlclose(h);
	net_ops = ops;
	amfa_debug("%s/%s in use", net_dir, AMFA_NET_PLUGIN);
	return ops;
fail:
	amfa_log(LOG_ERR,
	    "the network clients (STS, YubiKey validation, DynamoDB) are "
	    "unavailable: %s is missing or unusable",
	    AMFA_NET_PLUGIN);
	return NULL;
}

static const struct amfa_net_ops *
ops_get(struct amfa_net_log *log)
{
	const struct amfa_net_ops *ops;

	pthread_mutex_lock(&net_lock);
	ops = load();
	pthread_mutex_unlock(&net_lock);
	amfa_log_get_sink(&log->sink, &log->ctx);
	log->debug = amfa_log_debug_enabled();
	return ops;
}

enum amfa_sts_result
amfa_net_sts_get_session_token(const struct amfa_sts_config *c,
    const struct amfa_aws_key *key, const char *serial, const char *code,
    struct amfa_sts_credentials *out)
{
	const struct amfa_net_ops *ops;
	struct amfa_net_log log;

	memset(out, 0, sizeof(*out));
	if ((ops = ops_get(&log)) == NULL)
		return AMFA_STS_INTERNAL;
	return ops->sts_get_session_token(&log, c, key, serial, code, out);
}

enum amfa_ykval_result
amfa_net_ykval_verify(const struct amfa_ykval_config *c, const char *otp)
{
	const struct amfa_net_ops *ops;
	struct amfa_net_log log;

	if ((ops = ops_get(&log)) == NULL)
		return AMFA_YKVAL_ERROR;
	return ops->ykval_verify(&log, c, otp);
}

/* The ops for a table call, with `err' cleared; NULL (said in `err') when
 * the plugin cannot be had. */
static const struct amfa_net_ops *
ddb_ops(struct amfa_net_log *log, struct amfa_ddb_error *err)
{
	const struct amfa_net_ops *ops;

	memset(err, 0, sizeof(*err));
	if ((ops = ops_get(log)) == NULL)
		snprintf(err->detail, sizeof(err->detail), "%s unusable",
		    AMFA_NET_PLUGIN);
	return ops;
}

/*
 * The call through awsmfa-netd when one is configured and listening: 1,
 * with *a its answer; 0: make the call here.
 */
static int
brokered(const struct amfa_ddb_config *c, struct amfa_broker_request *rq,
    struct amfa_broker_answer *a)
{
	memset(a, 0, sizeof(*a));
	if (c->broker == NULL)
		return 0;
	rq->c = *c;
	return amfa_broker_call(c->broker, rq, a) == AMFA_BROKER_ANSWERED;
}

/* The item of an answer, handed over to `out' (or dropped). */
static enum amfa_ddb_result
take_item(struct amfa_broker_answer *a, struct amfa_ddb_item *out,
    struct amfa_ddb_error *err)
{
	enum amfa_ddb_result r = a->result;

	if (a->has_item && out != NULL) {
		*out = a->item;
		a->item.n = 0;
	} else if (r == AMFA_DDB_OK && out != NULL) {
		snprintf(a->err.detail, sizeof(a->err.detail),
		    "awsmfa-netd: an answer without its item");
		r = AMFA_DDB_MALFORMED;
	}
	*err = a->err;
	amfa_broker_answer_free(a);
	return r;
}

/* The data key (and the blob) of a KMS answer, handed over. */
static enum amfa_ddb_result
take_key(struct amfa_broker_answer *a, unsigned char *key, char **blob_b64,
    struct amfa_ddb_error *err)
{
	enum amfa_ddb_result r = a->result;

	if (r == AMFA_DDB_OK &&
	    (!a->has_key || (blob_b64 != NULL && a->blob_b64 == NULL))) {
		snprintf(a->err.detail, sizeof(a->err.detail),
		    "awsmfa-netd: an answer without its key");
		r = AMFA_DDB_MALFORMED;
	}
	if (r == AMFA_DDB_OK) {
		memcpy(key, a->key, AMFA_KMS_DATA_KEY_LEN);
		if (blob_b64 != NULL) {
			*blob_b64 = a->blob_b64;
			a->blob_b64 = NULL;
		}
	}
	*err = a->err;
	amfa_broker_answer_free(a);
	return r;
}

enum amfa_ddb_result
amfa_net_ddb_get_item(const struct amfa_ddb_config *c,
    const struct amfa_ddb_attr *key, struct amfa_ddb_item *out,
    struct amfa_ddb_error *err)
{
	struct amfa_broker_request rq = { 0 };
	struct amfa_broker_answer a;
	const struct amfa_net_ops *ops;
	struct amfa_net_log log;

	memset(out, 0, sizeof(*out));
	memset(err, 0, sizeof(*err));
	rq.op = AMFA_BROKER_DDB_GET;
	rq.key = *key;
	if (brokered(c, &rq, &a))
		return take_item(&a, out, err);
	if ((ops = ddb_ops(&log, err)) == NULL)
		return AMFA_DDB_INTERNAL;
	return ops->ddb_get_item(&log, c, key, out, err);
}

enum amfa_ddb_result
amfa_net_ddb_update_item(const struct amfa_ddb_config *c,
    const struct amfa_ddb_attr *key, const char *update, const char *condition,
    const struct amfa_ddb_attr *values, size_t nvalues,
    struct amfa_ddb_item *out, struct amfa_ddb_error *err)
{
	struct amfa_broker_request rq = { 0 };
	struct amfa_broker_answer a;
	const struct amfa_net_ops *ops;
	struct amfa_net_log log;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	memset(err, 0, sizeof(*err));
	if (nvalues <= AMFA_BROKER_MAX_VALUES) {
		rq.op = AMFA_BROKER_DDB_UPDATE;
		rq.key = *key;
		rq.update = update;
		rq.condition = condition;
		memcpy(rq.values, values, nvalues * sizeof(*values));
		rq.nvalues = nvalues;
		rq.want_item = out != NULL;
		if (brokered(c, &rq, &a))
			return take_item(&a, out, err);
	}
	if ((ops = ddb_ops(&log, err)) == NULL)
		return AMFA_DDB_INTERNAL;
	return ops->ddb_update_item(&log, c, key, update, condition, values,
	    nvalues, out, err);
}

enum amfa_ddb_result
amfa_net_ddb_delete_item(const struct amfa_ddb_config *c,
    const struct amfa_ddb_attr *key, const char *condition,
    const struct amfa_ddb_attr *values, size_t nvalues,
    struct amfa_ddb_error *err)
{
	struct amfa_broker_request rq = { 0 };
	struct amfa_broker_answer a;
	const struct amfa_net_ops *ops;
	struct amfa_net_log log;

	memset(err, 0, sizeof(*err));
	if (nvalues <= AMFA_BROKER_MAX_VALUES) {
		rq.op = AMFA_BROKER_DDB_DELETE;
		rq.key = *key;
		rq.condition = condition;
		memcpy(rq.values, values, nvalues * sizeof(*values));
		rq.nvalues = nvalues;
		if (brokered(c, &rq, &a))
			return take_item(&a, NULL, err);
	}
	if ((ops = ddb_ops(&log, err)) == NULL)
		return AMFA_DDB_INTERNAL;
	return ops->ddb_delete_item(&log, c, key, condition, values, nvalues,
	    err);
}

enum amfa_ddb_result
amfa_net_kms_generate_data_key(const struct amfa_ddb_config *c,
    const char *key_id, const struct amfa_kms_context *ctx,
    unsigned char key[AMFA_KMS_DATA_KEY_LEN], char **blob_b64,
    struct amfa_ddb_error *err)
{
	struct amfa_broker_request rq = { 0 };
	struct amfa_broker_answer a;
	const struct amfa_net_ops *ops;
	struct amfa_net_log log;

	*blob_b64 = NULL;
	memset(err, 0, sizeof(*err));
	rq.op = AMFA_BROKER_KMS_GENERATE;
	rq.key_id = key_id;
	rq.ctx = *ctx;
	if (brokered(c, &rq, &a))
		return take_key(&a, key, blob_b64, err);
	if ((ops = ddb_ops(&log, err)) == NULL)
		return AMFA_DDB_INTERNAL;
	return ops->kms_generate_data_key(&log, c, key_id, ctx, key, blob_b64,
	    err);
}

enum amfa_ddb_result
amfa_net_kms_decrypt(const struct amfa_ddb_config *c, const char *key_id,
    const struct amfa_kms_context *ctx, const char *blob_b64,
    unsigned char key[AMFA_KMS_DATA_KEY_LEN], struct amfa_ddb_error *err)
{
	struct amfa_broker_request rq = { 0 };
	struct amfa_broker_answer a;
	const struct amfa_net_ops *ops;
	struct amfa_net_log log;

	memset(err, 0, sizeof(*err));
	rq.op = AMFA_BROKER_KMS_DECRYPT;
	rq.key_id = key_id;
	rq.ctx = *ctx;
	rq.blob_b64 = blob_b64;
	if (brokered(c, &rq, &a))
		return take_key(&a, key, NULL, err);
	if ((ops = ddb_ops(&log, err)) == NULL)
		return AMFA_DDB_INTERNAL;
	return ops->kms_decrypt(&log, c, key_id, ctx, blob_b64, key, err);
}

void
amfa_net_release(void)
{
	const struct amfa_net_ops *ops;

	pthread_mutex_lock(&net_lock);
	ops = net_ops;
	pthread_mutex_unlock(&net_lock);
	if (ops != NULL)
		ops->release();
}
