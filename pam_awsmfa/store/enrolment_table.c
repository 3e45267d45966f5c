/*
 * Enrolments in the table, under KMS; see enrolment_table.h.  The one
 * place that unwraps a data key and opens a record.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/stat.h>

#include <openssl/crypto.h>

#include "aws/base64.h"
#include "enrolment_floor.h"
#include "enrolment_seal.h"
#include "enrolment_table.h"
#include "log.h"
#include "net/net.h"
#include "secure_file.h"
#include "state_item.h"
#include "state_table.h"
#include "store.h"

void
amfa_enrolment_kms_config(const struct amfa_config *cfg,
    struct amfa_ddb_config *dc, char *endpoint, char *cache)
{
	char ddb_endpoint[256];

	amfa_table_config(cfg, dc, ddb_endpoint, cache);
	if (cfg->kms_endpoint != NULL)
		snprintf(endpoint, 256, "%s", cfg->kms_endpoint);
	else
		snprintf(endpoint, 256, "https://kms.%s.amazonaws.com/",
		    dc->region);
	dc->endpoint = endpoint;
}

static void
kms_failed(const struct amfa_config *cfg, const char *action, const char *user,
    enum amfa_ddb_result r, const struct amfa_ddb_error *err)
{
	char detail[800];

	amfa_table_error_str(err, detail, sizeof(detail));
	amfa_log(LOG_ERR, "KMS %s (key %s): user %s: %s: %s", action,
	    cfg->kms_key_id, user, amfa_ddb_result_str(r), detail);
}

int
amfa_enrolment_from_item(const struct amfa_config *cfg, const char *name,
    const struct amfa_ddb_item *it, struct amfa_user *u)
{
	struct amfa_kms_context kc = { cfg->ddb_table, name, 0 };
	unsigned char key[AMFA_KMS_DATA_KEY_LEN], *sealed = NULL;
	struct amfa_item_enrolment e;
	struct amfa_ddb_config dc;
	struct amfa_ddb_error err;
	struct amfa_seal_where w;
	enum amfa_ddb_result r;
	char endpoint[256], cache[4096], shown[600];
	const char *why, *key_attr;
	size_t slen = 0, plen = 0, max;
	char *plain = NULL;
	int ret = -1;

	memset(u, 0, sizeof(*u));
	key_attr = amfa_ddb_item_get(it, AMFA_ITEM_KEY, AMFA_DDB_S);
	if (key_attr == NULL || strcmp(key_attr, name) != 0) {
		amfa_log(LOG_ERR,
		    "enrolment table %s: user %s: the item is "
		    "not this user's",
		    cfg->ddb_table, name);
		return -1;
	}
	if (amfa_item_enrolment(it, &e, &why) != 0) {
		amfa_log(LOG_ERR, "enrolment table %s: user %s: %s",
		    cfg->ddb_table, name, why);
		return -1;
	}
	if (e.version == 0)
		return AMFA_USER_NOT_ENROLLED;
	if (e.ct == NULL) {
		amfa_log(LOG_NOTICE,
		    "enrolment table %s: user %s: disabled (enrolment "
		    "version %" PRIu64 ")",
		    cfg->ddb_table, name, e.version);
		return AMFA_ENROLMENT_DISABLED;
	}
	max = strlen(e.ct) / 4 * 3;
	if ((sealed = malloc(max)) == NULL ||
	    amfa_b64_decode(e.ct, sealed, max, &slen) != 0) {
		amfa_log(LOG_ERR,
		    "enrolment table %s: user %s: the record is "
		    "not base64",
		    cfg->ddb_table, name);
		free(sealed);
		return -1;
	}
	amfa_enrolment_kms_config(cfg, &dc, endpoint, cache);
	kc.version = e.version;
	r = amfa_net_kms_decrypt(&dc, cfg->kms_key_id, &kc, e.key, key, &err);
	if (r != AMFA_DDB_OK) {
		kms_failed(cfg, "Decrypt", name, r, &err);
		free(sealed);
		return -1;
	}
	w.table = cfg->ddb_table;
	w.user = name;
	w.version = e.version;
	if (amfa_seal_open(key, &w, sealed, slen, &plain, &plen) != 0) {
		amfa_log(LOG_ERR,
		    "enrolment table %s: user %s: the record does not open "
		    "under its data key (changed, or not this user's, "
		    "table's or version's)",
		    cfg->ddb_table, name);
		goto out;
	}
	snprintf(shown, sizeof(shown), "table %s: %s's enrolment",
	    cfg->ddb_table, name);
	if (amfa_user_parse(plain, plen, shown, name, cfg, u) != 0)
		goto out;
	ret = 0;
out:
	OPENSSL_cleanse(key, sizeof(key));
	if (plain != NULL)
		amfa_wipe_free(plain, plen + 1);
	free(sealed);
	return ret;
}

/* The user's item: 0 with *it, AMFA_USER_NOT_ENROLLED (no item), -1. */
static int
read_item(const struct amfa_config *cfg, const char *user,
    struct amfa_ddb_item *it)
{
	struct amfa_ddb_attr key = { AMFA_ITEM_KEY, AMFA_DDB_S, user };
	struct amfa_ddb_config dc;
	struct amfa_ddb_error err;
	enum amfa_ddb_result r;
	char endpoint[256], cache[4096], detail[800];

	amfa_table_config(cfg, &dc, endpoint, cache);
	r = amfa_net_ddb_get_item(&dc, &key, it, &err);
	if (r == AMFA_DDB_NO_ITEM)
		return AMFA_USER_NOT_ENROLLED;
	if (r == AMFA_DDB_OK)
		return 0;
	amfa_table_error_str(&err, detail, sizeof(detail));
	amfa_log(LOG_ERR, "enrolment table %s: user %s: read: %s: %s",
	    cfg->ddb_table, user, amfa_ddb_result_str(r), detail);
	return -1;
}

/* This host's floor for the user (enrolment_floor.h): 0, or -1 logged
 * (denied). */
static int
floor_of(const struct amfa_config *cfg, const char *name, uint64_t *floor)
{
	if (amfa_enrolment_floor_get(cfg, name, floor) == 0)
		return 0;
	amfa_log(LOG_ERR,
	    "enrolment table %s: user %s: this host's enrolment version floor "
	    "cannot be read: denied",
	    cfg->ddb_table, name);
	return -1;
}

/*
 * The host's version floor (enrolment_floor.h): an item whose enrolment
 * version is below the highest this host has seen for the user is an old
 * triple put back (a rollback): refused before KMS is asked.  0, or -1.
 */
static int
under_floor(const struct amfa_config *cfg, const char *name,
    const struct amfa_ddb_item *it)
{
	struct amfa_item_enrolment e;
	const char *why;
	uint64_t floor;

	if (amfa_item_enrolment(it, &e, &why) != 0 || e.version == 0)
		return 0; /* amfa_enrolment_from_item says what it is */
	if (floor_of(cfg, name, &floor) != 0)
		return -1;
	if (e.version < floor) {
		amfa_log(LOG_ERR,
		    "enrolment table %s: user %s: enrolment version %" PRIu64
		    " is older than version %" PRIu64
		    " this host has seen: an old record put back (rolled "
		    "back); denied",
		    cfg->ddb_table, name, e.version, floor);
		return -1;
	}
	return 0;
}

/* A version seen genuine (a record that opened under it, or a disable's
 * tombstone) becomes the host's floor for the user: 0, or -1. */
static int
raise_floor(const struct amfa_config *cfg, const char *name,
    const struct amfa_ddb_item *it)
{
	struct amfa_item_enrolment e;
	const char *why;

	if (amfa_item_enrolment(it, &e, &why) != 0 || e.version == 0)
		return 0;
	if (amfa_enrolment_floor_raise(cfg, name, e.version) == 0)
		return 0;
	amfa_log(LOG_ERR,
	    "enrolment table %s: user %s: this host's enrolment version "
	    "floor cannot be raised to %" PRIu64 ": denied",
	    cfg->ddb_table, name, e.version);
	return -1;
}

/*
 * Not enrolled in the table: is the user enrolled in users_dir instead
 * (enrolment = table set before the files were moved)?  That file is not
 * read, and the user must not then look unenrolled, which nullok passes
 * over: refused, naming the file.  Only its presence is looked at.
 * AMFA_USER_NOT_ENROLLED, or -1.
 */
static int
not_in_table(const struct amfa_config *cfg, const char *name)
{
	char file[AMFA_USER_NAME_MAX + 8];
	struct stat st;
	uint64_t floor;
	int dirfd, r;

	/* A user this host has seen enrolled (or disabled: a tombstone) whose
	 * record is gone -- attributes removed, the item deleted -- is not
	 * "never enrolled", which nullok passes over: awsmfa disable leaves
	 * a tombstone, never nothing. */
	if (floor_of(cfg, name, &floor) != 0)
		return -1;
	if (floor > 0) {
		amfa_log(LOG_ERR,
		    "enrolment table %s: user %s: no enrolment record, but "
		    "this host has seen version %" PRIu64
		    ": the record was removed; denied, nullok or not",
		    cfg->ddb_table, name, floor);
		return -1;
	}
	snprintf(file, sizeof(file), "%s.conf", name);
	if (access(cfg->users_dir, F_OK) != 0 && errno == ENOENT)
		return AMFA_USER_NOT_ENROLLED;
	if ((dirfd = amfa_dir_open(cfg->users_dir, 0, 022)) < 0)
		return -1;
	r = fstatat(dirfd, file, &st, AT_SYMLINK_NOFOLLOW);
	close(dirfd);
	if (r != 0 && errno == ENOENT)
		return AMFA_USER_NOT_ENROLLED;
	if (r != 0) {
		amfa_log(LOG_ERR, "%s/%s: %s: denied", cfg->users_dir, file,
		    strerror(errno));
		return -1;
	}
	amfa_log(LOG_ERR,
	    "user %s: not enrolled in table %s, but %s/%s is there, which "
	    "enrolment = table does not read: denied, nullok or not (move "
	    "it: awsmfa migrate-enrolment %s)",
	    name, cfg->ddb_table, cfg->users_dir, file, name);
	return -1;
}

static int
load(const struct amfa_config *cfg, const char *name, uid_t owner,
    struct amfa_user *u, int login)
{
	struct amfa_item_enrolment e;
	struct amfa_ddb_item it;
	const char *why;
	int r, counted = 0;

	if (cfg->enrolment != AMFA_ENROL_TABLE)
		return amfa_user_load(cfg, name, owner, u);
	memset(u, 0, sizeof(*u));
	if ((why = amfa_user_name_invalid(name)) != NULL) {
		amfa_log(LOG_ERR, "refusing user: %s", why);
		return -1;
	}
	memset(&it, 0, sizeof(it));
	/* A login's first request counts the attempt and brings the item
	 * (enrolment_table.h); only when its condition fails (no record:
	 * not enrolled or disabled; locked out) does a read say which. */
	if (login) {
		r = amfa_table_count_enrolled(cfg, name, (int64_t)time(NULL),
		    &it);
		if (r < 0)
			return -1;
		counted = r == 0;
	}
	if (!counted && (r = read_item(cfg, name, &it)) != 0)
		return r == AMFA_USER_NOT_ENROLLED ?
		    not_in_table(cfg, name) :
		    r;
	r = under_floor(cfg, name, &it);
	if (r == 0)
		r = amfa_enrolment_from_item(cfg, name, &it, u);
	if (r == AMFA_USER_NOT_ENROLLED)
		r = not_in_table(cfg, name);
	if ((r == 0 || r == AMFA_ENROLMENT_DISABLED) &&
	    raise_floor(cfg, name, &it) != 0) {
		if (r == 0)
			amfa_user_free(u);
		r = -1;
	}
	if (login && (r == 0 || counted) &&
	    amfa_item_enrolment(&it, &e, &why) == 0) {
		/* The state store's first load of this login takes this
		 * item (no second read; a counted one is the decision's
		 * count), and no later load of it may bring another
		 * enrolment version.  A count the decision never takes
		 * (this failed: KMS, the record) is taken back at
		 * amfa_enrolment_login_done. */
		amfa_table_prefetch_put(name, &it, e.version, counted);
	}
	amfa_ddb_item_free(&it);
	return r;
}

int
amfa_enrolment_load(const struct amfa_config *cfg, const char *name,
    uid_t owner, struct amfa_user *u)
{
	return load(cfg, name, owner, u, 0);
}

int
amfa_enrolment_load_login(const struct amfa_config *cfg, const char *name,
    uid_t owner, struct amfa_user *u)
{
	return load(cfg, name, owner, u, 1);
}

/*
 * A count that no decision took (the login ended before its verdict: KMS
 * did not answer, the record did not open, no code was given, grace= let
 * the user in): nothing was decided about a code, so the count is taken
 * back, as decide_ahead (auth.c) takes it back when the verifier cannot
 * be asked.  The write is conditioned on the item being as the count left
 * it (the store's snapshot is the counted item, read without a request);
 * if it fails, or the process dies first, the attempt stays counted
 * (closed).
 */
static void
take_back(const struct amfa_config *cfg, const char *user)
{
	struct amfa_store s;
	struct amfa_state st;

	if (amfa_store_init(&s, cfg, user, 0) != 0)
		return;
	if (amfa_store_load(&s, &st) == AMFA_STORE_OK && st.failures > 0) {
		st.failures--;
		if (amfa_store_commit(&s, &st, (int64_t)time(NULL)) !=
		    AMFA_STORE_OK)
			amfa_log(LOG_NOTICE,
			    "state table %s: user %s: the attempt counted "
			    "before the login ended stays counted",
			    cfg->ddb_table, user);
	}
	amfa_store_close(&s);
}

void
amfa_enrolment_login_done(const struct amfa_config *cfg)
{
	const char *user = amfa_table_prefetch_untaken_count();

	if (user != NULL)
		take_back(cfg, user);
	amfa_table_prefetch_drop();
	/* The login's connection to the table ends with it. */
	amfa_net_release();
}

int
amfa_enrolment_table_exists(const struct amfa_config *cfg, const char *user)
{
	struct amfa_item_enrolment e;
	struct amfa_ddb_item it;
	const char *why;
	int r;

	memset(&it, 0, sizeof(it));
	if ((r = read_item(cfg, user, &it)) != 0)
		return r == AMFA_USER_NOT_ENROLLED ? 0 : -1;
	r = amfa_item_enrolment(&it, &e, &why);
	amfa_ddb_item_free(&it);
	if (r != 0) {
		amfa_log(LOG_ERR, "enrolment table %s: user %s: %s",
		    cfg->ddb_table, user, why);
		return -1;
	}
	return e.ct != NULL;
}

/*
 * The write.  SET the record, its key and enr_ver = the version read + 1
 * (REMOVE the record and key for a disable), bump amfa_ver (a login
 * decided on the old record then cannot commit), and give a new item the
 * state attributes of a fresh state (if_not_exists: an existing state is
 * kept, its step, counters and marks included), on the condition that
 * enr_ver is still the one read.
 */
#define FRESH_STATE                                           \
	"amfa_ver = if_not_exists(amfa_ver, :zero) + :one, "  \
	"totp_step = if_not_exists(totp_step, :mone), "       \
	"fail_count = if_not_exists(fail_count, :zero), "     \
	"locked_until = if_not_exists(locked_until, :zero), " \
	"last_ok = if_not_exists(last_ok, :zero), "           \
	"rc_gen = if_not_exists(rc_gen, :zero), "             \
	"rc_used = if_not_exists(rc_used, :zero)"

static int
write_item(const struct amfa_config *cfg, const char *user, uint64_t old_ver,
    const char *ct, const char *wrapped)
{
	struct amfa_ddb_attr key = { AMFA_ITEM_KEY, AMFA_DDB_S, user };
	struct amfa_ddb_attr v[7];
	struct amfa_ddb_config dc;
	struct amfa_ddb_error err;
	enum amfa_ddb_result r;
	char endpoint[256], cache[4096], detail[800], nv[24], ov[24];
	size_t n = 0;

	snprintf(nv, sizeof(nv), "%" PRIu64, old_ver + 1);
	snprintf(ov, sizeof(ov), "%" PRIu64, old_ver);
	v[n++] = (struct amfa_ddb_attr){ ":zero", AMFA_DDB_N, "0" };
	v[n++] = (struct amfa_ddb_attr){ ":one", AMFA_DDB_N, "1" };
	v[n++] = (struct amfa_ddb_attr){ ":mone", AMFA_DDB_N, "-1" };
	v[n++] = (struct amfa_ddb_attr){ ":ev", AMFA_DDB_N, nv };
	if (old_ver > 0)
		v[n++] = (struct amfa_ddb_attr){ ":oev", AMFA_DDB_N, ov };
	if (ct != NULL) {
		v[n++] = (struct amfa_ddb_attr){ ":ct", AMFA_DDB_S, ct };
		v[n++] = (struct amfa_ddb_attr){ ":ek", AMFA_DDB_S, wrapped };
	}
	amfa_table_config(cfg, &dc, endpoint, cache);
	r = amfa_net_ddb_update_item(&dc, &key,
	    ct != NULL ?
		"SET enr_ct = :ct, enr_key = :ek, enr_ver = :ev, " FRESH_STATE :
		"SET enr_ver = :ev, " FRESH_STATE " REMOVE enr_ct, enr_key",
	    old_ver > 0 ? "enr_ver = :oev" : "attribute_not_exists(enr_ver)", v,
	    n, NULL, &err);
	if (r == AMFA_DDB_OK)
		return 0;
	amfa_table_error_str(&err, detail, sizeof(detail));
	amfa_log(LOG_ERR, "enrolment table %s: user %s: write: %s: %s",
	    cfg->ddb_table, user,
	    r == AMFA_DDB_CONDITION ?
		"another administrator wrote it "
		"meanwhile; nothing written" :
		amfa_ddb_result_str(r),
	    detail);
	return -1;
}

int
amfa_enrolment_table_write(const struct amfa_config *cfg, const char *user,
    const char *text, size_t len, int force)
{
	struct amfa_kms_context kc = { cfg->ddb_table, user, 0 };
	unsigned char key[AMFA_KMS_DATA_KEY_LEN], *sealed = NULL;
	struct amfa_item_enrolment e;
	struct amfa_ddb_item it;
	struct amfa_ddb_config dc;
	struct amfa_ddb_error err;
	struct amfa_seal_where w;
	enum amfa_ddb_result r;
	char endpoint[256], cache[4096];
	char *wrapped = NULL, *ct = NULL;
	const char *why;
	size_t slen = 0;
	int ret = -1, rr;

	memset(&it, 0, sizeof(it));
	memset(&e, 0, sizeof(e));
	if ((rr = read_item(cfg, user, &it)) == -1)
		return -1;
	if (rr == 0 && amfa_item_enrolment(&it, &e, &why) != 0) {
		amfa_log(LOG_ERR, "enrolment table %s: user %s: %s",
		    cfg->ddb_table, user, why);
		amfa_ddb_item_free(&it);
		return -1;
	}
	amfa_ddb_item_free(&it);
	/* The next version must be one every reader can parse (a forged
	 * tombstone at the top of the range would otherwise make it 2^63). */
	if (e.version >= (uint64_t)INT64_MAX) {
		amfa_log(LOG_ERR,
		    "enrolment table %s: user %s: enrolment version %" PRIu64
		    " is at the top of its range (forged?): nothing written; "
		    "remove the item's enr_ver attribute and every host's "
		    "floor file of the user (awsmfa.conf(5))",
		    cfg->ddb_table, user, e.version);
		return -1;
	}
	if (text == NULL) {
		if (e.ct == NULL)
			return 1;
		return write_item(cfg, user, e.version, NULL, NULL);
	}
	if (e.ct != NULL && !force)
		return 1;
	amfa_enrolment_kms_config(cfg, &dc, endpoint, cache);
	kc.version = e.version + 1;
	r = amfa_net_kms_generate_data_key(&dc, cfg->kms_key_id, &kc, key,
	    &wrapped, &err);
	if (r != AMFA_DDB_OK) {
		kms_failed(cfg, "GenerateDataKey", user, r, &err);
		return -1;
	}
	w.table = cfg->ddb_table;
	w.user = user;
	w.version = e.version + 1;
	if (amfa_seal(key, &w, text, len, &sealed, &slen) != 0 ||
	    (ct = amfa_b64_encode(sealed, slen)) == NULL) {
		amfa_log(LOG_ERR,
		    "enrolment table %s: user %s: cannot seal "
		    "the record",
		    cfg->ddb_table, user);
		goto out;
	}
	ret = write_item(cfg, user, e.version, ct, wrapped);
out:
	OPENSSL_cleanse(key, sizeof(key));
	free(sealed);
	free(ct);
	free(wrapped);
	return ret;
}
