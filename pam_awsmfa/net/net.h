/*
 * The network clients as the rest of the core calls them: STS
 * GetSessionToken (sts.h), Yubico OTP validation (ykval.h) and the
 * DynamoDB state table (dynamodb.h), KMS for the enrolments in the table
 * (kms.h).  They are the
 * only users of libcurl and libxml2, which with their own dependencies are
 * most of what loading the module costs; a local TOTP login needs none of it.
 *
 * Two implementations of the same calls:
 * - net_direct.c calls sts.c and ykval.c.  Programs and tests link it with
 *   the network code (core_net).
 * - net_dlopen.c, in the module's body awsmfa_pam.so only, loads the
 *   private plugin awsmfa_net.so (net_plugin.c + core_net) when a call
 *   needs the network, from the directory the module itself was loaded
 *   from, after checking the file (plugin_load.h: owner, mode, no
 *   symlink).  If it cannot be loaded the call fails closed:
 *   AMFA_STS_INTERNAL, AMFA_YKVAL_ERROR, AMFA_DDB_INTERNAL.
 */
#ifndef AMFA_NET_H
#define AMFA_NET_H

#include <stddef.h>

#include "aws/dynamodb.h"
#include "aws/kms.h"
#include "aws/sts.h"
#include "log.h"
#include "plugin_load.h"
#include "yubikey/ykval.h"

enum amfa_sts_result
amfa_net_sts_get_session_token(const struct amfa_sts_config *c,
    const struct amfa_aws_key *key, const char *serial, const char *code,
    struct amfa_sts_credentials *out);
enum amfa_ykval_result amfa_net_ykval_verify(const struct amfa_ykval_config *c,
    const char *otp);
/* The state table (dynamodb.h).  Failing to load the plugin:
 * AMFA_DDB_INTERNAL. */
enum amfa_ddb_result amfa_net_ddb_get_item(const struct amfa_ddb_config *c,
    const struct amfa_ddb_attr *key, struct amfa_ddb_item *out,
    struct amfa_ddb_error *err);
enum amfa_ddb_result amfa_net_ddb_update_item(const struct amfa_ddb_config *c,
    const struct amfa_ddb_attr *key, const char *update, const char *condition,
    const struct amfa_ddb_attr *values, size_t nvalues,
    struct amfa_ddb_item *out, struct amfa_ddb_error *err);
enum amfa_ddb_result amfa_net_ddb_delete_item(const struct amfa_ddb_config *c,
    const struct amfa_ddb_attr *key, const char *condition,
    const struct amfa_ddb_attr *values, size_t nvalues,
    struct amfa_ddb_error *err);

/* KMS (kms.h): the enrolments' data keys.  Failing to load the plugin:
 * AMFA_DDB_INTERNAL. */
enum amfa_ddb_result
amfa_net_kms_generate_data_key(const struct amfa_ddb_config *c,
    const char *key_id, const struct amfa_kms_context *ctx,
    unsigned char key[AMFA_KMS_DATA_KEY_LEN], char **blob_b64,
    struct amfa_ddb_error *err);
enum amfa_ddb_result amfa_net_kms_decrypt(const struct amfa_ddb_config *c,
    const char *key_id, const struct amfa_kms_context *ctx,
    const char *blob_b64, unsigned char key[AMFA_KMS_DATA_KEY_LEN],
    struct amfa_ddb_error *err);

/*
 * Between net_dlopen.c and the plugin.  The plugin exports one symbol,
 * AMFA_NET_OPS_SYMBOL, naming a struct amfa_net_ops; a change to anything
 * passed across (this struct, the configs, the results) bumps the suffix.
 * The plugin links its own copy of log.c, so each call carries the
 * caller's log sink, set in the plugin for the call and cleared after it.
 */
/*
 * Close the connections this thread kept open for a login's requests to
 * the state table and KMS (aws/http.h, amfa_http_release): called when
 * the login is done, so that none outlives it (an sshd process forks the
 * session from the one that authenticated).  Loads nothing.
 */
void amfa_net_release(void);

/*
 * net_dlopen.c: the directory pam_awsmfa.so was loaded from, where
 * awsmfa_net.so is looked for, and the module's owner (pam_awsmfa.so
 * says it to the body before each call; the first is kept).
 */
void amfa_net_located(const char *dir, uid_t owner);

#define AMFA_NET_PLUGIN	    "awsmfa_net.so"
#define AMFA_NET_OPS_SYMBOL "amfa_net_ops_v7"

struct amfa_net_log {
	amfa_log_sink *sink; /* NULL: stderr */
	void *ctx;
	int debug;
};

struct amfa_net_ops {
	/* sizeof(struct amfa_net_ops), AMFA_VERSION, where it came from */
	struct amfa_plugin_head head;
	enum amfa_sts_result (
	    *sts_get_session_token)(const struct amfa_net_log *log,
	    const struct amfa_sts_config *c, const struct amfa_aws_key *key,
	    const char *serial, const char *code,
	    struct amfa_sts_credentials *out);
	enum amfa_ykval_result (*ykval_verify)(const struct amfa_net_log *log,
	    const struct amfa_ykval_config *c, const char *otp);
	enum amfa_ddb_result (*ddb_get_item)(const struct amfa_net_log *log,
	    const struct amfa_ddb_config *c, const struct amfa_ddb_attr *key,
	    struct amfa_ddb_item *out, struct amfa_ddb_error *err);
	enum amfa_ddb_result (*ddb_update_item)(const struct amfa_net_log *log,
	    const struct amfa_ddb_config *c, const struct amfa_ddb_attr *key,
	    const char *update, const char *condition,
	    const struct amfa_ddb_attr *values, size_t nvalues,
	    struct amfa_ddb_item *out, struct amfa_ddb_error *err);
	enum amfa_ddb_result (*ddb_delete_item)(const struct amfa_net_log *log,
	    const struct amfa_ddb_config *c, const struct amfa_ddb_attr *key,
	    const char *condition, const struct amfa_ddb_attr *values,
	    size_t nvalues, struct amfa_ddb_error *err);
	enum amfa_ddb_result (
	    *kms_generate_data_key)(const struct amfa_net_log *log,
	    const struct amfa_ddb_config *c, const char *key_id,
	    const struct amfa_kms_context *ctx, unsigned char *key,
	    char **blob_b64, struct amfa_ddb_error *err);
	enum amfa_ddb_result (*kms_decrypt)(const struct amfa_net_log *log,
	    const struct amfa_ddb_config *c, const char *key_id,
	    const struct amfa_kms_context *ctx, const char *blob_b64,
	    unsigned char *key, struct amfa_ddb_error *err);
	void (*release)(void); /* amfa_net_release */
};

#endif
