/* The state table's item and its conditional write; see state_item.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state_item.h"

#define YK_PREFIX "yk_"

uint64_t
amfa_item_counter(unsigned session, unsigned use)
{
	return (uint64_t)session * 65536u + use;
}

/* A decimal integer in [min, max], nothing else ("-0", "+1", "1e3",
 * "01" are refused: DynamoDB gives back what was written). */
static int
parse_num(const char *s, int64_t min, int64_t max, int64_t *out)
{
	const char *d = s[0] == '-' ? s + 1 : s;
	size_t n = strlen(d);
	long long v;
	char *end;

	if (n == 0 || n > 19 || strspn(d, "0123456789") != n ||
	    (d[0] == '0' && (n > 1 || d != s)))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int
is_modhex(const char *s)
{
	size_t n = strlen(s);

	return n >= 2 && n <= 32 && n % 2 == 0 &&
	    strspn(s, "cbdefghijklnrtuv") == n;
}

struct fixed {
	const char *name;
	int64_t min, max;
	int seen;
	int64_t v;
};

enum { F_VER, F_STEP, F_FAIL, F_LOCK, F_OK, F_RCGEN, F_RCUSED, F_N };

static int
is_b64(const char *s, size_t max)
{
	size_t n = strlen(s),
	       body = strspn(s,
		   "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn"
		   "opqrstuvwxyz0123456789+/");

	return n > 0 && n <= max && n % 4 == 0 &&
	    (body == n || (body >= n - 2 && strspn(s + body, "=") == n - body));
}

int
amfa_item_enrolment(const struct amfa_ddb_item *it,
    struct amfa_item_enrolment *e, const char **why)
{
	int seen_ver = 0, seen_ct = 0, seen_key = 0;
	int64_t v;

	memset(e, 0, sizeof(*e));
	for (size_t i = 0; i < it->n && i < AMFA_DDB_MAX_ATTRS; i++) {
		const char *name = it->attrs[i].name, *val = it->attrs[i].value;
		int type = it->attrs[i].type;

		if (name == NULL || val == NULL ||
		    strncmp(name, "enr_", 4) != 0)
			continue;
		if (strcmp(name, "enr_ver") == 0 && type == AMFA_DDB_N &&
		    !seen_ver++ && parse_num(val, 1, INT64_MAX, &v) == 0)
			e->version = (uint64_t)v;
		else if (strcmp(name, "enr_ct") == 0 && type == AMFA_DDB_S &&
		    !seen_ct++ && is_b64(val, AMFA_ITEM_ENR_CT_MAX))
			e->ct = val;
		else if (strcmp(name, "enr_key") == 0 && type == AMFA_DDB_S &&
		    !seen_key++ && is_b64(val, AMFA_ITEM_ENR_KEY_MAX))
			e->key = val;
		else {
			*why = "an enrolment attribute of the wrong name, type "
			       "or form";
			memset(e, 0, sizeof(*e));
			return -1;
		}
	}
	if ((e->ct == NULL) != (e->key == NULL) ||
	    (e->ct != NULL && e->version == 0)) {
		*why = "an enrolment without its key, record or version";
		memset(e, 0, sizeof(*e));
		return -1;
	}
	return 0;
}

int
amfa_item_to_state(const struct amfa_ddb_item *it, const char *user,
    struct amfa_state *st, uint64_t *version, const char **why)
{
	struct fixed f[F_N] = {
		{ "amfa_ver", 1, INT64_MAX, 0, 0 },
		{ "totp_step", -1, INT64_MAX, 0, 0 },
		{ "fail_count", 0, 1000000, 0, 0 },
		{ "locked_until", 0, INT64_MAX, 0, 0 },
		{ "last_ok", 0, INT64_MAX, 0, 0 },
		{ "rc_gen", 0, UINT32_MAX, 0, 0 },
		{ "rc_used", 0, 0xffff, 0, 0 },
	};
	struct amfa_item_enrolment enr;
	int key_seen = 0;
	int64_t v;

	memset(st, 0, sizeof(*st));
	st->last_step = -1;
	*why = "malformed";
	if (it->n > AMFA_DDB_MAX_ATTRS) {
		*why = "too many attributes";
		return -1;
	}
	if (amfa_item_enrolment(it, &enr, why) != 0)
		return -1;
	for (size_t i = 0; i < it->n; i++) {
		const char *name = it->attrs[i].name, *val = it->attrs[i].value;
		int type = it->attrs[i].type, known = 0;

		if (name == NULL || val == NULL) {
			*why = "an attribute without a name or value";
			return -1;
		}
		if (strcmp(name, AMFA_ITEM_KEY) == 0) {
			if (type != AMFA_DDB_S || strcmp(val, user) != 0 ||
			    key_seen++) {
				*why = "the item is not this user's";
				return -1;
			}
			continue;
		}
		for (int k = 0; k < F_N; k++) {
			if (strcmp(name, f[k].name) != 0)
				continue;
			known = 1;
			if (type != AMFA_DDB_N || f[k].seen++ ||
			    parse_num(val, f[k].min, f[k].max, &f[k].v) != 0) {
				*why = "an attribute of the wrong type or out "
				       "of range";
				return -1;
			}
		}
		if (known)
			continue;
		if (strncmp(name, YK_PREFIX, strlen(YK_PREFIX)) == 0) {
			const char *id = name + strlen(YK_PREFIX);
			struct amfa_token_counter *t;

			if (!is_modhex(id) || type != AMFA_DDB_N ||
			    parse_num(val, 0, 0xffff00ffLL, &v) != 0 ||
			    (v & 0xffff) > 0xff) {
				*why = "a YubiKey counter attribute of the "
				       "wrong name, type or range";
				return -1;
			}
			if (st->ntokens >= AMFA_STATE_MAX_TOKENS) {
				*why = "more YubiKey counters than a state "
				       "holds";
				return -1;
			}
			for (int j = 0; j < st->ntokens; j++) {
				if (strcmp(st->tokens[j].public_id, id) == 0) {
					*why = "a YubiKey counter twice";
					return -1;
				}
			}
			t = &st->tokens[st->ntokens++];
			snprintf(t->public_id, sizeof(t->public_id), "%s", id);
			t->session = (unsigned)(v >> 16);
			t->use = (unsigned)(v & 0xffff);
		}
		/* Anything else: a later version's, left alone. */
	}
	if (!key_seen) {
		*why = "no key attribute";
		return -1;
	}
	for (int k = 0; k < F_N; k++) {
		if (!f[k].seen) {
			*why = "an attribute is missing";
			return -1;
		}
	}
	if (f[F_RCGEN].v == 0 && f[F_RCUSED].v != 0) {
		*why = "recovery marks without a set";
		return -1;
	}
	*version = (uint64_t)f[F_VER].v;
	st->last_step = f[F_STEP].v;
	st->failures = (long)f[F_FAIL].v;
	st->locked_until = f[F_LOCK].v;
	st->last_success = f[F_OK].v;
	st->recovery_gen = (uint32_t)f[F_RCGEN].v;
	st->recovery_used = (uint32_t)f[F_RCUSED].v;
	*why = NULL;
	return 0;
}

/* Append to an expression; -1 when it would not fit. */
static int append(char *buf, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
append(char *buf, const char *fmt, ...)
{
	size_t n = strlen(buf);
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsnprintf(buf + n, AMFA_ITEM_EXPR_MAX - n, fmt, ap);
	va_end(ap);
	return r < 0 || (size_t)r >= AMFA_ITEM_EXPR_MAX - n ? -1 : 0;
}

/* A number value; its name (":x") is returned, or NULL when full. */
static const char *
value(struct amfa_item_write *w, const char *name, int64_t v)
{
	size_t i = w->nvalues;

	if (i >= AMFA_ITEM_MAX_VALUES)
		return NULL;
	snprintf(w->names[i], sizeof(w->names[i]), ":%s", name);
	snprintf(w->nums[i], sizeof(w->nums[i]), "%" PRId64, v);
	w->values[i].name = w->names[i];
	w->values[i].type = AMFA_DDB_N;
	w->values[i].value = w->nums[i];
	w->nvalues++;
	return w->names[i];
}

static const struct amfa_token_counter *
find_token(const struct amfa_state *st, const char *id)
{
	for (int i = 0; i < st->ntokens; i++) {
		if (strcmp(st->tokens[i].public_id, id) == 0)
			return &st->tokens[i];
	}
	return NULL;
}

/* SET a token's counters (value :kI), and with `replay' on the condition
 * that the stored ones are lower (or none). */
static int
write_token(struct amfa_item_write *w, int i,
    const struct amfa_token_counter *t, int replay)
{
	char vname[12];
	const char *nm;

	if (i < 0 || i >= AMFA_STATE_MAX_TOKENS)
		return -1;
	snprintf(vname, sizeof(vname), "k%d", i);
	if ((nm = value(w, vname,
		 (int64_t)amfa_item_counter(t->session, t->use))) == NULL ||
	    append(w->update, ", " YK_PREFIX "%s = %s", t->public_id, nm) != 0)
		return -1;
	if (replay &&
	    append(w->condition,
		" AND (attribute_not_exists(" YK_PREFIX "%s) OR " YK_PREFIX
		"%s < %s)",
		t->public_id, t->public_id, nm) != 0)
		return -1;
	return 0;
}

int
amfa_item_write(const struct amfa_state *old, int exists, uint64_t version,
    const struct amfa_state *st, int64_t now, struct amfa_item_write *w,
    const char **why)
{
	const char *fix[F_N], *nm;
	int removed = 0, bad = 0;

	memset(w, 0, sizeof(*w));
	*why = "the new state lowers the last step or a token's counters";
	if (st->last_step < old->last_step)
		return -1;
	for (int i = 0; i < st->ntokens; i++) {
		const struct amfa_token_counter *o = find_token(old,
		    st->tokens[i].public_id);
		if (!is_modhex(st->tokens[i].public_id))
			return -1;
		if (o != NULL &&
		    amfa_item_counter(st->tokens[i].session,
			st->tokens[i].use) <
			amfa_item_counter(o->session, o->use))
			return -1;
	}
	*why = "the write does not fit";
	if (version >= (uint64_t)INT64_MAX)
		return -1;
	fix[F_VER] = value(w, "nv", (int64_t)version + 1);
	fix[F_STEP] = value(w, "ts", st->last_step);
	fix[F_FAIL] = value(w, "fc", st->failures);
	fix[F_LOCK] = value(w, "lu", st->locked_until);
	fix[F_OK] = value(w, "lo", st->last_success);
	fix[F_RCGEN] = value(w, "rg", st->recovery_gen);
	fix[F_RCUSED] = value(w, "ru", st->recovery_used);
	for (int k = 0; k < F_N; k++)
		bad |= fix[k] == NULL;
	if (bad ||
	    append(w->update,
		"SET amfa_ver = %s, totp_step = %s, fail_count = %s, "
		"locked_until = %s, last_ok = %s, rc_gen = %s, rc_used = %s",
		fix[F_VER], fix[F_STEP], fix[F_FAIL], fix[F_LOCK], fix[F_OK],
		fix[F_RCGEN], fix[F_RCUSED]) != 0)
		return -1;
	if (!exists) {
		if (append(w->condition, "attribute_not_exists(%s)",
			AMFA_ITEM_KEY) != 0)
			return -1;
	} else {
		if ((nm = value(w, "ov", (int64_t)version)) == NULL ||
		    append(w->condition, "amfa_ver = %s", nm) != 0)
			return -1;
		/* The replay rule, for what this write spends. */
		if (st->last_step > old->last_step &&
		    append(w->condition, " AND totp_step < %s", fix[F_STEP]) !=
			0)
			return -1;
		/* (A snapshot locked by this very attempt's count, the last
		 * allowed one, is pinned by the version: auth.c.) */
		if (st->last_success > old->last_success &&
		    st->locked_until <= now && old->locked_until <= now) {
			if ((nm = value(w, "now", now)) == NULL ||
			    append(w->condition, " AND locked_until <= %s",
				nm) != 0)
				return -1;
		}
	}
	for (int i = 0; i < st->ntokens; i++) {
		const struct amfa_token_counter *o = find_token(old,
		    st->tokens[i].public_id);

		if (write_token(w, i, &st->tokens[i],
			exists &&
			    (o == NULL ||
				amfa_item_counter(st->tokens[i].session,
				    st->tokens[i].use) >
				    amfa_item_counter(o->session, o->use))) !=
		    0)
			return -1;
	}
	/* A slot reused for another token: the old one's counters go. */
	for (int i = 0; i < old->ntokens; i++) {
		if (find_token(st, old->tokens[i].public_id) != NULL ||
		    !is_modhex(old->tokens[i].public_id))
			continue;
		if (append(w->update, "%s" YK_PREFIX "%s",
			removed++ ? ", " : " REMOVE ",
			old->tokens[i].public_id) != 0)
			return -1;
	}
	*why = NULL;
	return 0;
}

/*
 * Is `st', a write that lets the user in at `now', an acceptance of the
 * plain kind on the snapshot `old': nothing changed but what it spends
 * and clears, and last_success?
 */
static int
plain_acceptance(const struct amfa_state *old, const struct amfa_state *st,
    int64_t now)
{
	if (st->last_success < old->last_success || st->last_success != now ||
	    st->failures != 0 || st->locked_until != 0 ||
	    old->locked_until > now || st->last_step < old->last_step ||
	    st->recovery_gen != old->recovery_gen ||
	    (st->recovery_used != old->recovery_used &&
		(st->recovery_used & old->recovery_used) !=
		    old->recovery_used) ||
	    st->ntokens != old->ntokens)
		return 0;
	for (int i = 0; i < st->ntokens; i++) {
		const struct amfa_token_counter *o = find_token(old,
		    st->tokens[i].public_id);
		if (o == NULL || !is_modhex(st->tokens[i].public_id) ||
		    amfa_item_counter(st->tokens[i].session,
			st->tokens[i].use) <
			amfa_item_counter(o->session, o->use))
			return 0;
	}
	return 1;
}

int
amfa_item_write_acceptance(const struct amfa_state *old, uint64_t enr_version,
    const struct amfa_state *st, int64_t now, struct amfa_item_write *w)
{
	const char *nm, *zero, *one;

	memset(w, 0, sizeof(*w));
	if (!plain_acceptance(old, st, now))
		return 1;
	if ((zero = value(w, "zero", 0)) == NULL ||
	    (one = value(w, "one", 1)) == NULL ||
	    (nm = value(w, "lo", st->last_success)) == NULL ||
	    append(w->update,
		"SET amfa_ver = amfa_ver + %s, fail_count = %s, "
		"locked_until = %s, last_ok = %s",
		one, zero, zero, nm) != 0)
		return -1;
	/* The item is there, not locked now, of the enrolment read (when
	 * the enrolment is the table's: otherwise no enr_* is named). */
	if ((nm = value(w, "now", now)) == NULL ||
	    append(w->condition, "attribute_exists(%s) AND locked_until <= %s",
		AMFA_ITEM_KEY, nm) != 0)
		return -1;
	if (enr_version != 0 &&
	    ((nm = value(w, "ev", (int64_t)enr_version)) == NULL ||
		append(w->condition, " AND enr_ver = %s", nm) != 0))
		return -1;
	/* What it spends, each with the replay rule as its condition. */
	if (st->last_step > old->last_step &&
	    ((nm = value(w, "ts", st->last_step)) == NULL ||
		append(w->update, ", totp_step = %s", nm) != 0 ||
		append(w->condition, " AND totp_step < %s", nm) != 0))
		return -1;
	if (st->recovery_used != old->recovery_used) {
		const char *ru, *oru, *rg;

		if ((ru = value(w, "ru", st->recovery_used)) == NULL ||
		    (oru = value(w, "oru", old->recovery_used)) == NULL ||
		    (rg = value(w, "rg", old->recovery_gen)) == NULL ||
		    append(w->update, ", rc_used = %s", ru) != 0 ||
		    append(w->condition, " AND rc_gen = %s AND rc_used = %s",
			rg, oru) != 0)
			return -1;
	}
	for (int i = 0; i < st->ntokens; i++) {
		const struct amfa_token_counter *t = &st->tokens[i];
		const struct amfa_token_counter *o = find_token(old,
		    t->public_id);

		/* An unchanged token is not written: another's raise stays. */
		if (amfa_item_counter(t->session, t->use) !=
			amfa_item_counter(o->session, o->use) &&
		    write_token(w, i, t, 1) != 0)
			return -1;
	}
	return 0;
}
