/*
 * The network clients for pam_awsmfa.so: loaded from awsmfa_net.so on the
 * first call that needs them; see net.h.
 *
 * The plugin is looked for only next to the module itself (dladdr of a
 * function of ours), never through the environment or the library search
 * path: sudo and su are setuid and their environment is the caller's.  The
 * directory and the file are checked on open descriptors (no symlink as the
 * last component, a regular file, owned by root or by the module's own
 * owner, writable by no one else), and the checked descriptor is what is
 * loaded, through /proc/self/fd, so the file cannot be swapped between the
 * check and the load.  Any failure is logged and fails the call closed.
 *
 * Once loaded the plugin stays loaded until the module is unloaded (pam_end
 * of the transaction that loaded the module); the destructor below closes
 * it then.  A failure is not remembered: the next call tries again.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker_client.h"
#include "log.h"
#include "net.h"
#include "secure_file.h"

static pthread_mutex_t net_lock = PTHREAD_MUTEX_INITIALIZER;
static void *net_handle;
static const struct amfa_net_ops *net_ops;

/* Owned by root or by `owner', and writable by nobody else. */
static int
trusted(const struct stat *st, uid_t owner, const char *path)
{
	if (st->st_uid != 0 && st->st_uid != owner) {
		amfa_log(LOG_ERR, "%s: owned by uid %lu, not root: not loaded",
		    path, (unsigned long)st->st_uid);
		return 0;
	}
	if ((st->st_mode & 022) != 0) {
		amfa_log(LOG_ERR,
		    "%s: writable by group or others (mode %04o): "
		    "not loaded",
		    path, (unsigned)(st->st_mode & 07777));
		return 0;
	}
	return 1;
}

/* The directory pam_awsmfa.so was loaded from, and the module's owner. */
static int
module_dir(char *dir, size_t dirlen, uid_t *owner)
{
	Dl_info info;
	struct stat st;
	const char *slash;

	/* Any object of the module will do; a function pointer may not be
	 * passed as a void * in ISO C. */
	if (dladdr(&net_lock, &info) == 0 || info.dli_fname == NULL ||
	    info.dli_fname[0] != '/') {
		amfa_log(LOG_ERR,
		    "%s: cannot tell where pam_awsmfa.so was "
		    "loaded from",
		    AMFA_NET_PLUGIN);
		return -1;
	}
	if (stat(info.dli_fname, &st) != 0) {
		amfa_log(LOG_ERR, "%s: %s", info.dli_fname, strerror(errno));
		return -1;
	}
	*owner = st.st_uid;
	slash = strrchr(info.dli_fname, '/');
	if ((size_t)(slash - info.dli_fname) + 1 >= dirlen) {
		amfa_log(LOG_ERR, "%s: path too long", info.dli_fname);
		return -1;
	}
	/* "/x.so" -> "/" */
	snprintf(dir, dirlen, "%.*s",
	    slash == info.dli_fname ? 1 : (int)(slash - info.dli_fname),
	    info.dli_fname);
	return 0;
}

/* Open and check the plugin; a descriptor of it, or -1 (logged). */
static int
open_plugin(char *path, size_t pathlen)
{
	char dir[PATH_MAX];
	struct stat st;
	uid_t owner;
	int dfd, fd;

	if (module_dir(dir, sizeof(dir), &owner) != 0)
		return -1;
	snprintf(path, pathlen, "%s%s%s", dir, strcmp(dir, "/") == 0 ? "" : "/",
	    AMFA_NET_PLUGIN);
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		amfa_log(LOG_ERR, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (fstat(dfd, &st) != 0 || !trusted(&st, owner, dir)) {
		close(dfd);
		return -1;
	}
	fd = openat(dfd, AMFA_NET_PLUGIN, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	close(dfd);
	if (fd < 0) {
		amfa_log(LOG_ERR, "%s: %s%s", path, strerror(errno),
		    errno == ELOOP ? " (a symlink: not followed)" : "");
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		amfa_log(LOG_ERR, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	if (!trusted(&st, owner, path)) {
		close(fd);
		return -1;
	}
	return fd;
}

static const struct amfa_net_ops *
load(void)
{
	const struct amfa_net_ops *ops;
	char path[PATH_MAX + 32], fdpath[64];
	const char *err;
	void *h;
	int fd;

	if ((fd = open_plugin(path, sizeof(path))) < 0)
		goto fail;
	snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", fd);
	/* RTLD_NODELETE: once loaded, the plugin and what it links stay
	 * mapped until the process ends, even after libpam unloads the
	 * module.  Their thread-local storage (libcurl, OpenSSL, what they
	 * pull in) stays valid in every thread that touched it; unmapped
	 * under it, LeakSanitizer's scan of that storage at exit crashed on
	 * a YubiKey validation login (test_pam_yubikey, Online, in the
	 * sanitizer build).  The processes that load it (sshd's PAM child,
	 * su, sudo) end soon after pam_end: nothing is kept for long. */
	h = dlopen(fdpath, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	close(fd);
	if (h == NULL) {
		err = dlerror();
		amfa_log(LOG_ERR, "%s: cannot load: %s", path,
		    err != NULL ? err : "unknown error");
		goto fail;
	}
	ops = dlsym(h, AMFA_NET_OPS_SYMBOL);
	if (ops == NULL || ops->size != sizeof(*ops) || ops->version == NULL ||
	    strcmp(ops->version, AMFA_VERSION) != 0 ||
	    ops->sts_get_session_token == NULL || ops->ykval_verify == NULL ||
	    ops->ddb_get_item == NULL || ops->ddb_update_item == NULL ||
	    ops->ddb_delete_item == NULL ||
	    ops->kms_generate_data_key == NULL || ops->kms_decrypt == NULL) {
		amfa_log(LOG_ERR,
		    "%s: not the plugin of pam_awsmfa %s "
		    "(%s missing or of another version)",
		    path, AMFA_VERSION, AMFA_NET_OPS_SYMBOL);
		dlclose(h);
		goto fail;
	}
	net_handle = h;
	net_ops = ops;
	amfa_debug("%s loaded", path);
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
	ops = net_ops != NULL ? net_ops : load();
	pthread_mutex_unlock(&net_lock);
	amfa_log_get_sink(&log->sink, &log->ctx);
	log->debug = amfa_log_debug_enabled();
	return ops;
}

__attribute__((destructor)) static void
unload(void)
{
	if (net_handle != NULL)
		dlclose(net_handle);
	net_handle = NULL;
	net_ops = NULL;
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
