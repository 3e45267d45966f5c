/* The state table store; see state_table.h and state_item.h. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "net/net.h"
#include "secure_file.h"
#include "state_item.h"
#include "state_table.h"
#include "store.h"

#define CRED_CACHE_NAME ".imds-credentials"

void
amfa_table_config(const struct amfa_config *cfg, struct amfa_ddb_config *dc,
    char *endpoint, char *cache)
{
	const char *region = cfg->ddb_region ? cfg->ddb_region : cfg->region;
	struct stat sb;

	memset(dc, 0, sizeof(*dc));
	if (cfg->ddb_endpoint != NULL)
		snprintf(endpoint, 256, "%s", cfg->ddb_endpoint);
	else
		snprintf(endpoint, 256, "https://dynamodb.%s.amazonaws.com/",
		    region);
	dc->endpoint = endpoint;
	dc->region = region;
	dc->table = cfg->ddb_table;
	dc->ca_file = cfg->ca_file;
	dc->timeout_ms = cfg->ddb_timeout * 1000;
	dc->key_file = cfg->ddb_key_file;
	dc->imds_endpoint = cfg->imds_endpoint;
	dc->broker = cfg->netd_socket;
	/* The instance role's credentials, kept in root's state_dir (no
	 * user name starts with '.'), when there is one (the store makes it;
	 * check-config does not). */
	if (cfg->ddb_key_file == NULL && stat(cfg->state_dir, &sb) == 0 &&
	    S_ISDIR(sb.st_mode)) {
		snprintf(cache, 4096, "%s/%s", cfg->state_dir, CRED_CACHE_NAME);
		dc->cred_cache = cache;
	}
}

void
amfa_table_error_str(const struct amfa_ddb_error *err, char *out, size_t outlen)
{
	if (err->code[0] != '\0')
		snprintf(out, outlen, "%s: %s (request id %s, %d tries)",
		    err->code, err->message[0] ? err->message : "no message",
		    err->request_id[0] ? err->request_id : "none", err->tries);
	else if (err->detail[0] != '\0')
		snprintf(out, outlen, "%s (%d tries)", err->detail, err->tries);
	else
		snprintf(out, outlen, "%d tries", err->tries);
}

static enum amfa_store_result
failed(const struct amfa_store *s, const char *what, enum amfa_ddb_result r,
    const struct amfa_ddb_error *err)
{
	char detail[800];

	amfa_table_error_str(err, detail, sizeof(detail));
	amfa_log(LOG_ERR, "state table %s: user %s: %s: %s: %s",
	    s->cfg->ddb_table, s->user, what, amfa_ddb_result_str(r), detail);
	return r == AMFA_DDB_UNAVAILABLE ?
	    AMFA_STORE_UNAVAILABLE :
	    AMFA_STORE_ERROR;
}

/* state_dir for the credential cache: made as the files' store makes it. */
static void
ensure_state_dir(const struct amfa_store *s)
{
	int fd;

	if (s->cfg->ddb_key_file != NULL)
		return;
	if ((fd = amfa_dir_create_open(s->cfg->state_dir, s->owner, 0700)) >= 0)
		close(fd);
}

/* A login's prefetched item and pinned enrolment version (thread's);
 * `counted': the item is the answer of the login's counting UpdateItem
 * (amfa_table_count_enrolled), not yet taken by the decision. */
static __thread struct {
	int have_item;
	int counted;
	int pinned;
	uint64_t enr_ver;
	char user[AMFA_USER_NAME_MAX + 1];
	struct amfa_ddb_item it;
} prefetch;

static void
forget(void)
{
	if (prefetch.have_item)
		amfa_ddb_item_free(&prefetch.it);
	memset(&prefetch, 0, sizeof(prefetch));
}

void
amfa_table_prefetch_put(const char *user, struct amfa_ddb_item *it,
    uint64_t enr_ver, int counted)
{
	forget();
	if (strlen(user) >= sizeof(prefetch.user))
		return;
	snprintf(prefetch.user, sizeof(prefetch.user), "%s", user);
	prefetch.it = *it;
	memset(it, 0, sizeof(*it));
	prefetch.have_item = 1;
	prefetch.counted = counted;
	prefetch.pinned = 1;
	prefetch.enr_ver = enr_ver;
}

/* The counted item of this login's user, if no decision took it yet. */
static int
have_counted(const char *user)
{
	return prefetch.have_item && prefetch.counted &&
	    strcmp(prefetch.user, user) == 0;
}

/* Is `it' of the enrolment version this login was decided on? */
static int
enrolment_pinned_ok(const struct amfa_store *s, const struct amfa_ddb_item *it)
{
	struct amfa_item_enrolment e;
	const char *why;

	if (!prefetch.pinned || strcmp(prefetch.user, s->user) != 0)
		return 1;
	if (amfa_item_enrolment(it, &e, &why) == 0 && e.ct != NULL &&
	    e.version == prefetch.enr_ver)
		return 1;
	amfa_log(LOG_ERR,
	    "state table %s: user %s: the enrolment changed during the "
	    "login (re-enrolled or disabled): refused",
	    s->cfg->ddb_table, s->user);
	return 0;
}

/* The state held by `it', its version and its enrolment's into `s'. */
static int
to_state(struct amfa_store *s, const struct amfa_ddb_item *it,
    struct amfa_state *st, const char **why)
{
	struct amfa_item_enrolment e;

	if (amfa_item_to_state(it, s->user, st, &s->version, why) != 0 ||
	    amfa_item_enrolment(it, &e, why) != 0)
		return -1;
	s->enr_ver = e.version;
	return 0;
}

static enum amfa_store_result
table_load(struct amfa_store *s, struct amfa_state *st)
{
	struct amfa_ddb_attr key = { AMFA_ITEM_KEY, AMFA_DDB_S, s->user };
	struct amfa_ddb_config dc;
	struct amfa_ddb_error err;
	struct amfa_ddb_item it;
	enum amfa_ddb_result r;
	char endpoint[256], cache[4096];
	const char *why;
	int p;

	memset(st, 0, sizeof(*st));
	st->last_step = -1;
	memset(&err, 0, sizeof(err));
	memset(&it, 0, sizeof(it));
	ensure_state_dir(s);
	amfa_table_config(s->cfg, &dc, endpoint, cache);
	if (have_counted(s->user)) {
		/* A look before the decision (grace=, the take-back): the
		 * item as the count left it, kept for the decision. */
		p = to_state(s, &prefetch.it, st, &why);
		if (p != 0) {
			memset(st, 0, sizeof(*st));
			st->last_step = -1;
			return AMFA_STORE_ERROR;
		}
		s->exists = 1;
		return AMFA_STORE_OK;
	}
	if (prefetch.have_item && strcmp(prefetch.user, s->user) == 0) {
		it = prefetch.it;
		memset(&prefetch.it, 0, sizeof(prefetch.it));
		prefetch.have_item = 0;
		r = AMFA_DDB_OK;
	} else
		r = amfa_net_ddb_get_item(&dc, &key, &it, &err);
	if (r == AMFA_DDB_NO_ITEM && prefetch.pinned &&
	    strcmp(prefetch.user, s->user) == 0) {
		amfa_log(LOG_ERR,
		    "state table %s: user %s: the item is gone during the "
		    "login: refused",
		    s->cfg->ddb_table, s->user);
		return AMFA_STORE_ERROR;
	}
	if (r == AMFA_DDB_NO_ITEM) {
		s->exists = 0;
		s->version = 0;
		return AMFA_STORE_OK;
	}
	if (r != AMFA_DDB_OK)
		return failed(s, "read", r, &err);
	if (!enrolment_pinned_ok(s, &it)) {
		amfa_ddb_item_free(&it);
		return AMFA_STORE_ERROR;
	}
	p = to_state(s, &it, st, &why);
	amfa_ddb_item_free(&it);
	if (p != 0) {
		amfa_log(LOG_ERR,
		    "state table %s: user %s: the item is unusable (%s); "
		    "refusing until an administrator repairs or deletes it",
		    s->cfg->ddb_table, s->user, why);
		memset(st, 0, sizeof(*st));
		st->last_step = -1;
		return AMFA_STORE_ERROR;
	}
	s->exists = 1;
	return AMFA_STORE_OK;
}

static enum amfa_store_result
table_commit(struct amfa_store *s, const struct amfa_state *st, int64_t now)
{
	struct amfa_ddb_attr key = { AMFA_ITEM_KEY, AMFA_DDB_S, s->user };
	struct amfa_item_write w;
	struct amfa_ddb_config dc;
	struct amfa_ddb_error err;
	enum amfa_ddb_result r;
	char endpoint[256], cache[4096];
	const char *why;
	int acceptance;

	/* A plain acceptance on an existing item is written field by field
	 * (state_item.h): the counts of other attempts racing with it do
	 * not send it round again. */
	acceptance = s->exists && s->accepting ?
	    amfa_item_write_acceptance(&s->snap,
		s->cfg->enrolment == AMFA_ENROL_TABLE ? s->enr_ver : 0, st, now,
		&w) :
	    1;
	if (acceptance < 0) {
		amfa_log(LOG_ERR, "state table %s: user %s: not written: %s",
		    s->cfg->ddb_table, s->user, "the write does not fit");
		return AMFA_STORE_ERROR;
	}
	if (acceptance == 1 &&
	    amfa_item_write(&s->snap, s->exists, s->version, st, now, &w,
		&why) != 0) {
		amfa_log(LOG_ERR, "state table %s: user %s: not written: %s",
		    s->cfg->ddb_table, s->user, why);
		return AMFA_STORE_ERROR;
	}
	memset(&err, 0, sizeof(err));
	amfa_table_config(s->cfg, &dc, endpoint, cache);
	r = amfa_net_ddb_update_item(&dc, &key, w.update, w.condition, w.values,
	    w.nvalues, NULL, &err);
	if (r == AMFA_DDB_OK) {
		/* The snapshot of a further commit (store.h).  After an
		 * acceptance the version is not known (counts may have
		 * raised it too): 0, which no item has, so that a further
		 * commit finds a conflict and reads again. */
		s->exists = 1;
		s->version = acceptance == 0 ? 0 : s->version + 1;
		return AMFA_STORE_OK;
	}
	if (r == AMFA_DDB_CONDITION) {
		amfa_log(LOG_INFO,
		    "state table %s: user %s: changed since it was read; "
		    "deciding again",
		    s->cfg->ddb_table, s->user);
		return AMFA_STORE_CONFLICT;
	}
	return failed(s, "write", r, &err);
}

/*
 * The write-ahead count (store.h, amfa_store_load_counted): one
 * UpdateItem, conditioned on the user not being locked out at `now',
 * that adds 1 to fail_count and to the version, creates a missing item
 * with every attribute of a fresh state, and answers with the item as
 * written.  Its condition failing means a lock (or an item without
 * locked_until): a read then says which, and nothing was written.
 * Not idempotent: a try the client retries after it may have reached the
 * table (a 5xx, a lost answer: dynamodb.h) can count the attempt twice,
 * which errs closed (a lock one attempt early), never open.
 */
static const char count_update[] =
    "SET amfa_ver = if_not_exists(amfa_ver, :zero) + :one, "
    "fail_count = if_not_exists(fail_count, :zero) + :one, "
    "totp_step = if_not_exists(totp_step, :none), "
    "locked_until = if_not_exists(locked_until, :zero), "
    "last_ok = if_not_exists(last_ok, :zero), "
    "rc_gen = if_not_exists(rc_gen, :zero), "
    "rc_used = if_not_exists(rc_used, :zero)";

/* The counting UpdateItem under `condition', answering ALL_NEW in *it. */
static enum amfa_ddb_result
count_request(const struct amfa_config *cfg, const char *user,
    const char *condition, int64_t now, struct amfa_ddb_item *it,
    struct amfa_ddb_error *err)
{
	struct amfa_ddb_attr key = { AMFA_ITEM_KEY, AMFA_DDB_S, user };
	struct amfa_ddb_attr values[4];
	struct amfa_ddb_config dc;
	char endpoint[256], cache[4096], nowbuf[24];

	snprintf(nowbuf, sizeof(nowbuf), "%lld", (long long)now);
	values[0] = (struct amfa_ddb_attr){ ":zero", AMFA_DDB_N, "0" };
	values[1] = (struct amfa_ddb_attr){ ":one", AMFA_DDB_N, "1" };
	values[2] = (struct amfa_ddb_attr){ ":none", AMFA_DDB_N, "-1" };
	values[3] = (struct amfa_ddb_attr){ ":now", AMFA_DDB_N, nowbuf };
	memset(err, 0, sizeof(*err));
	memset(it, 0, sizeof(*it));
	amfa_table_config(cfg, &dc, endpoint, cache);
	return amfa_net_ddb_update_item(&dc, &key, count_update, condition,
	    values, 4, it, err);
}

int
amfa_table_count_enrolled(const struct amfa_config *cfg, const char *user,
    int64_t now, struct amfa_ddb_item *it)
{
	struct amfa_ddb_error err;
	enum amfa_ddb_result r;
	char detail[800];
	int fd;

	if (cfg->ddb_key_file == NULL &&
	    (fd = amfa_dir_create_open(cfg->state_dir, 0, 0700)) >= 0)
		close(fd);
	r = count_request(cfg, user,
	    "attribute_exists(enr_ct) AND locked_until <= :now", now, it, &err);
	if (r == AMFA_DDB_OK)
		return 0;
	amfa_ddb_item_free(it);
	if (r == AMFA_DDB_CONDITION)
		return 1;
	amfa_table_error_str(&err, detail, sizeof(detail));
	amfa_log(LOG_ERR, "state table %s: user %s: count: %s: %s",
	    cfg->ddb_table, user, amfa_ddb_result_str(r), detail);
	return r == AMFA_DDB_UNAVAILABLE ? -2 : -1;
}

static enum amfa_store_result
table_load_counted(struct amfa_store *s, struct amfa_state *st, int64_t now,
    int *counted)
{
	/* With enrolment = table no count makes an item: a user without a
	 * record (disabled meanwhile, or the item removed) is not counted,
	 * and the read after it refuses (the pin). */
	static const char condition[] = "attribute_not_exists(" AMFA_ITEM_KEY
					") OR locked_until <= :now";
	static const char enrolled[] = "attribute_exists(enr_ct) AND "
				       "locked_until <= :now";
	struct amfa_ddb_error err;
	struct amfa_ddb_item it;
	enum amfa_ddb_result r;
	const char *why;
	int p;

	*counted = 0;
	memset(st, 0, sizeof(*st));
	st->last_step = -1;
	memset(&err, 0, sizeof(err));
	ensure_state_dir(s);
	if (have_counted(s->user)) {
		/* Counted when the login read the enrolment (the same
		 * request): the decision takes that answer. */
		it = prefetch.it;
		memset(&prefetch.it, 0, sizeof(prefetch.it));
		prefetch.have_item = 0;
		prefetch.counted = 0;
		r = AMFA_DDB_OK;
	} else {
		r = count_request(s->cfg, s->user,
		    s->cfg->enrolment == AMFA_ENROL_TABLE ?
			enrolled :
			condition,
		    now, &it, &err);
		/* An item the login read uncounted (it found a lock) is
		 * stale once this count is written: a later load reads. */
		if (r == AMFA_DDB_OK && prefetch.have_item &&
		    strcmp(prefetch.user, s->user) == 0) {
			amfa_ddb_item_free(&prefetch.it);
			prefetch.have_item = 0;
		}
	}
	if (r == AMFA_DDB_CONDITION)
		return table_load(s, st); /* locked out: a look, no write */
	if (r != AMFA_DDB_OK) {
		amfa_ddb_item_free(&it);
		return failed(s, "count", r, &err);
	}
	if (!enrolment_pinned_ok(s, &it)) {
		amfa_ddb_item_free(&it);
		return AMFA_STORE_ERROR;
	}
	p = to_state(s, &it, st, &why);
	amfa_ddb_item_free(&it);
	if (p != 0) {
		amfa_log(LOG_ERR,
		    "state table %s: user %s: the item is unusable (%s); "
		    "refusing until an administrator repairs or deletes it",
		    s->cfg->ddb_table, s->user, why);
		memset(st, 0, sizeof(*st));
		st->last_step = -1;
		return AMFA_STORE_ERROR;
	}
	s->exists = 1;
	*counted = 1;
	return AMFA_STORE_OK;
}

const char *
amfa_table_prefetch_untaken_count(void)
{
	return prefetch.have_item && prefetch.counted ? prefetch.user : NULL;
}

void
amfa_table_prefetch_drop(void)
{
	forget();
}

static void
table_close(struct amfa_store *s)
{
	(void)s;
}

const struct amfa_store_ops amfa_store_table_ops = { table_load, table_commit,
	table_close, table_load_counted };
