/* The state table's item (state_item.h): state <-> item, and the
 * conditional write's expressions. */
#include <stdlib.h>
#include <string.h>

#include "store/state_item.h"
#include "tap.h"

static void
add(struct amfa_ddb_item *it, const char *name, enum amfa_ddb_type t,
    const char *v)
{
	it->attrs[it->n].name = strdup(name);
	it->attrs[it->n].type = t;
	it->attrs[it->n].value = strdup(v);
	it->n++;
}

static void
base_item(struct amfa_ddb_item *it, const char *user)
{
	memset(it, 0, sizeof(*it));
	add(it, "amfa_user", AMFA_DDB_S, user);
	add(it, "amfa_ver", AMFA_DDB_N, "7");
	add(it, "totp_step", AMFA_DDB_N, "59000000");
	add(it, "fail_count", AMFA_DDB_N, "2");
	add(it, "locked_until", AMFA_DDB_N, "0");
	add(it, "last_ok", AMFA_DDB_N, "1764000000");
	add(it, "rc_gen", AMFA_DDB_N, "305419896");
	add(it, "rc_used", AMFA_DDB_N, "5");
}

/* The value the write gives `name' (":x"), or NULL. */
static const char *
val(const struct amfa_item_write *w, const char *name)
{
	for (size_t i = 0; i < w->nvalues; i++) {
		if (strcmp(w->values[i].name, name) == 0)
			return w->values[i].value;
	}
	return NULL;
}

/* The item a write makes (every SET attribute; the key), as DynamoDB
 * would hold it: parsed back, it must be the state written. */
static void
apply(const struct amfa_item_write *w, const char *user,
    struct amfa_ddb_item *it)
{
	char copy[AMFA_ITEM_EXPR_MAX], *p, *save = NULL, *tok;

	memset(it, 0, sizeof(*it));
	add(it, "amfa_user", AMFA_DDB_S, user);
	snprintf(copy, sizeof(copy), "%s", w->update + 4);
	if ((p = strstr(copy, " REMOVE ")) != NULL)
		*p = '\0';
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		char name[64], vname[16];
		while (*tok == ' ')
			tok++;
		if (sscanf(tok, "%63s = %15s", name, vname) == 2 &&
		    val(w, vname) != NULL)
			add(it, name, AMFA_DDB_N, val(w, vname));
	}
}

static void
test_parse(void)
{
	struct amfa_ddb_item it;
	struct amfa_state st;
	uint64_t ver = 0;
	const char *why;

	base_item(&it, "alice");
	add(&it, "yk_cccccccccccb", AMFA_DDB_N, "196613"); /* 3/5 */
	add(&it, "note_by_a_later_version", AMFA_DDB_S, "left alone");
	ok(amfa_item_to_state(&it, "alice", &st, &ver, &why) == 0 && ver == 7 &&
		st.last_step == 59000000 && st.failures == 2 &&
		st.locked_until == 0 && st.last_success == 1764000000 &&
		st.recovery_gen == 0x12345678 && st.recovery_used == 5 &&
		st.ntokens == 1 && st.tokens[0].session == 3 &&
		st.tokens[0].use == 5 &&
		strcmp(st.tokens[0].public_id, "cccccccccccb") == 0,
	    "an item reads as its state (session*65536+use; others ignored)");
	ok(amfa_item_to_state(&it, "bob", &st, &ver, &why) == -1,
	    "another user's item is refused");
	amfa_ddb_item_free(&it);

	static const struct {
		const char *name;
		enum amfa_ddb_type t;
		const char *v;
		const char *what;
	} bad[] = {
		{ "totp_step", AMFA_DDB_S, "5", "a number as a string" },
		{ "fail_count", AMFA_DDB_N, "-1", "negative failures" },
		{ "fail_count", AMFA_DDB_N, "1000001", "failures too large" },
		{ "locked_until", AMFA_DDB_N, "1e3", "an exponent" },
		{ "last_ok", AMFA_DDB_N, "01", "a leading zero" },
		{ "last_ok", AMFA_DDB_N, "-0", "minus zero" },
		{ "last_ok", AMFA_DDB_N, "1.5", "a fraction" },
		{ "last_ok", AMFA_DDB_N, "99999999999999999999", "overflow" },
		{ "totp_step", AMFA_DDB_N, "-2", "a step below -1" },
		{ "rc_used", AMFA_DDB_N, "65536", "recovery marks too wide" },
		{ "rc_gen", AMFA_DDB_N, "4294967296", "a generation too wide" },
		{ "yk_cccccccccccb", AMFA_DDB_N, "256",
		    "use counter over 255" },
		{ "yk_cccccccccccb", AMFA_DDB_S, "1", "a counter as a string" },
		{ "yk_xyz", AMFA_DDB_N, "1", "a token id not modhex" },
		{ "yk_c", AMFA_DDB_N, "1", "a token id of odd length" },
		{ "amfa_ver", AMFA_DDB_N, "8", "a second version" },
		{ "amfa_user", AMFA_DDB_S, "alice", "a second key" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		base_item(&it, "alice");
		/* Replace the attribute, or add it. */
		size_t k;
		for (k = 0; k < it.n; k++) {
			if (strcmp(it.attrs[k].name, bad[i].name) == 0 &&
			    strcmp(bad[i].name, "amfa_ver") != 0 &&
			    strcmp(bad[i].name, "amfa_user") != 0)
				break;
		}
		if (k < it.n) {
			free(it.attrs[k].value);
			it.attrs[k].value = strdup(bad[i].v);
			it.attrs[k].type = bad[i].t;
		} else {
			add(&it, bad[i].name, bad[i].t, bad[i].v);
		}
		ok(amfa_item_to_state(&it, "alice", &st, &ver, &why) == -1 &&
			why != NULL,
		    "refused: %s (%s)", bad[i].what, why ? why : "-");
		amfa_ddb_item_free(&it);
	}
	static const char *const need[] = { "amfa_user", "amfa_ver",
		"totp_step", "fail_count", "locked_until", "last_ok", "rc_gen",
		"rc_used" };
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		base_item(&it, "alice");
		for (size_t k = 0; k < it.n; k++) {
			if (strcmp(it.attrs[k].name, need[i]) == 0) {
				free(it.attrs[k].name);
				it.attrs[k].name = strdup("something_else");
			}
		}
		ok(amfa_item_to_state(&it, "alice", &st, &ver, &why) == -1,
		    "refused: no %s", need[i]);
		amfa_ddb_item_free(&it);
	}
	base_item(&it, "alice");
	for (int i = 0; i <= AMFA_STATE_MAX_TOKENS; i++) {
		char name[40];
		snprintf(name, sizeof(name), "yk_cccccccccc%c%c",
		    "bdefghijklnrtuvc"[i % 16], "bdefghijklnrtuvc"[i / 16]);
		add(&it, name, AMFA_DDB_N, "1");
	}
	ok(amfa_item_to_state(&it, "alice", &st, &ver, &why) == -1,
	    "refused: more tokens than a state holds");
	amfa_ddb_item_free(&it);
}

static void
test_write(void)
{
	struct amfa_state old, st, back;
	struct amfa_item_write w;
	struct amfa_ddb_item it;
	uint64_t ver = 0;
	const char *why;

	memset(&old, 0, sizeof(old));
	old.last_step = -1;
	st = old;
	st.last_step = 100;
	st.last_success = 3000;
	st.ntokens = 1;
	snprintf(st.tokens[0].public_id, 33, "cccccccccccb");
	st.tokens[0].session = 2;
	st.tokens[0].use = 9;
	ok(amfa_item_write(&old, 0, 0, &st, 3000, &w, &why) == 0,
	    "the first write of a user");
	is_str(w.condition, "attribute_not_exists(amfa_user)",
	    "a new item: on the condition that there is none");
	is_str(w.update,
	    "SET amfa_ver = :nv, totp_step = :ts, fail_count = :fc, "
	    "locked_until = :lu, last_ok = :lo, rc_gen = :rg, rc_used = :ru, "
	    "yk_cccccccccccb = :k0",
	    "every attribute is set");
	is_str(val(&w, ":nv"), "1", "version 1");
	is_str(val(&w, ":k0"), "131081", "counters 2/9 as 2*65536+9");
	apply(&w, "alice", &it);
	ok(amfa_item_to_state(&it, "alice", &back, &ver, &why) == 0 &&
		amfa_state_equal(&st, &back) && ver == 1,
	    "what is written reads back as the state");
	amfa_ddb_item_free(&it);

	/* An acceptance on an existing item: the replay rule. */
	old = st;
	st.last_step = 101;
	st.last_success = 3030;
	st.tokens[0].use = 10;
	ok(amfa_item_write(&old, 1, 1, &st, 3030, &w, &why) == 0,
	    "an acceptance");
	is_str(w.condition,
	    "amfa_ver = :ov AND totp_step < :ts AND locked_until <= :now "
	    "AND (attribute_not_exists(yk_cccccccccccb) OR "
	    "yk_cccccccccccb < :k0)",
	    "condition: this version, the step and counters above the "
	    "stored ones, not locked");
	is_str(val(&w, ":ov"), "1", "the snapshot's version");
	is_str(val(&w, ":nv"), "2", "the next version");
	is_str(val(&w, ":now"), "3030", "now");

	/* A failure: nothing spent, only the version. */
	old = st;
	st.failures = 1;
	ok(amfa_item_write(&old, 1, 2, &st, 3040, &w, &why) == 0 &&
		strcmp(w.condition, "amfa_ver = :ov") == 0,
	    "a failure: on the version alone");
	/* The write that crosses the threshold sets the lock. */
	old = st;
	st.failures = 5;
	st.locked_until = 3340;
	ok(amfa_item_write(&old, 1, 3, &st, 3040, &w, &why) == 0 &&
		strcmp(val(&w, ":lu"), "3340") == 0 &&
		strcmp(val(&w, ":fc"), "5") == 0,
	    "the lock is in the failure's write");

	/* Never lower. */
	old = st;
	st.last_step = 50;
	ok(amfa_item_write(&old, 1, 4, &st, 3040, &w, &why) == -1,
	    "a lower step is never written");
	st = old;
	st.tokens[0].use = 1;
	ok(amfa_item_write(&old, 1, 4, &st, 3040, &w, &why) == -1,
	    "lower counters are never written");

	/* A reused slot: the old token's counters are removed. */
	st = old;
	snprintf(st.tokens[0].public_id, 33, "cccccccccccd");
	st.tokens[0].session = 1;
	st.tokens[0].use = 0;
	ok(amfa_item_write(&old, 1, 4, &st, 3040, &w, &why) == 0 &&
		strstr(w.update, " REMOVE yk_cccccccccccb") != NULL &&
		strstr(w.condition, "attribute_not_exists(yk_cccccccccccd)") !=
		    NULL,
	    "a token's slot reused: REMOVE the old one, the new one's "
	    "counters conditioned");

	/* Sixteen tokens and recovery marks fit. */
	memset(&old, 0, sizeof(old));
	old.last_step = -1;
	st = old;
	st.recovery_gen = 0xdeadbeef;
	st.recovery_used = 0xffff;
	st.ntokens = AMFA_STATE_MAX_TOKENS;
	for (int i = 0; i < AMFA_STATE_MAX_TOKENS; i++) {
		snprintf(st.tokens[i].public_id, 33,
		    "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvv%c%c", "bdefghijklnrtuvc"[i],
		    "bdefghijklnrtuvc"[i]);
		st.tokens[i].session = 0xffff;
		st.tokens[i].use = 0xff;
	}
	ok(amfa_item_write(&old, 1, 9, &st, 1, &w, &why) == 0,
	    "sixteen 32-character tokens fit");
	apply(&w, "alice", &it);
	ok(amfa_item_to_state(&it, "alice", &back, &ver, &why) == 0 &&
		amfa_state_equal(&st, &back) && ver == 10,
	    "and read back");
	amfa_ddb_item_free(&it);
}

/* The acceptance written field by field (state_item.h). */
static void
test_acceptance(void)
{
	struct amfa_state old, st, bad;
	struct amfa_item_write w;

	memset(&old, 0, sizeof(old));
	old.last_step = 100;
	old.failures = 3;
	old.last_success = 2000;
	old.recovery_gen = 7;
	old.recovery_used = 1;
	old.ntokens = 2;
	snprintf(old.tokens[0].public_id, 33, "cccccccccccb");
	old.tokens[0].session = 2;
	old.tokens[0].use = 9;
	snprintf(old.tokens[1].public_id, 33, "cccccccccccd");
	old.tokens[1].session = 5;
	old.tokens[1].use = 1;
	st = old;
	st.last_step = 101;
	st.failures = 0;
	st.last_success = 3000;
	ok(amfa_item_write_acceptance(&old, 0, &st, 3000, &w) == 0,
	    "a TOTP acceptance");
	is_str(w.update,
	    "SET amfa_ver = amfa_ver + :one, fail_count = :zero, "
	    "locked_until = :zero, last_ok = :lo, totp_step = :ts",
	    "writes what it spends and clears, nothing else (no token, no "
	    "recovery mark: another host's stay)");
	is_str(w.condition,
	    "attribute_exists(amfa_user) AND locked_until <= :now AND "
	    "totp_step < :ts",
	    "no version: the replay rule and the lock; no enr_* named when "
	    "the enrolment is not the table's");
	ok(amfa_item_write_acceptance(&old, 4, &st, 3000, &w) == 0 &&
		strstr(w.condition, " AND enr_ver = :ev") != NULL &&
		strcmp(val(&w, ":ev"), "4") == 0,
	    "pinned to the enrolment read");

	st = old;
	st.failures = 0;
	st.last_success = 3000;
	st.recovery_used = 3;
	ok(amfa_item_write_acceptance(&old, 0, &st, 3000, &w) == 0 &&
		strstr(w.update, "totp_step") == NULL &&
		strstr(w.update, ", rc_used = :ru") != NULL &&
		strstr(w.condition, " AND rc_gen = :rg AND rc_used = :oru") !=
		    NULL &&
		strcmp(val(&w, ":oru"), "1") == 0,
	    "a recovery code: its mark on the marks read");

	st = old;
	st.failures = 0;
	st.last_success = 3000;
	st.tokens[1].use = 2;
	ok(amfa_item_write_acceptance(&old, 0, &st, 3000, &w) == 0 &&
		strstr(w.update, "yk_cccccccccccb") == NULL &&
		strstr(w.update, ", yk_cccccccccccd = :k1") != NULL &&
		strstr(w.condition,
		    "(attribute_not_exists(yk_cccccccccccd) OR "
		    "yk_cccccccccccd < :k1)") != NULL,
	    "a token: its counters alone, under the replay rule");

	/* Not a plain acceptance: the version-pinned write instead. */
	bad = st;
	bad.last_success = 2999;
	ok(amfa_item_write_acceptance(&old, 0, &bad, 3000, &w) == 1,
	    "not: last_success is not now");
	bad = st;
	bad.failures = 1;
	ok(amfa_item_write_acceptance(&old, 0, &bad, 3000, &w) == 1,
	    "not: a failure kept (a count, a take-back)");
	bad = st;
	old.locked_until = 3100;
	ok(amfa_item_write_acceptance(&old, 0, &bad, 3000, &w) == 1,
	    "not: on a snapshot locked (by this attempt's own count)");
	old.locked_until = 0;
	bad.recovery_gen = 8;
	ok(amfa_item_write_acceptance(&old, 0, &bad, 3000, &w) == 1,
	    "not: another recovery set");
	bad = st;
	bad.recovery_used = 2; /* drops mark 0 */
	ok(amfa_item_write_acceptance(&old, 0, &bad, 3000, &w) == 1,
	    "not: a recovery mark taken away");
	bad = st;
	bad.ntokens = 3;
	snprintf(bad.tokens[2].public_id, 33, "ccccccccccce");
	ok(amfa_item_write_acceptance(&old, 0, &bad, 3000, &w) == 1,
	    "not: a token new to the item");
	bad = st;
	snprintf(bad.tokens[1].public_id, 33, "ccccccccccce");
	ok(amfa_item_write_acceptance(&old, 0, &bad, 3000, &w) == 1,
	    "not: a token's slot reused");
	bad = st;
	bad.tokens[0].use = 8;
	ok(amfa_item_write_acceptance(&old, 0, &bad, 3000, &w) == 1,
	    "not: a token's counters lowered");
	bad = st;
	bad.last_step = 99;
	ok(amfa_item_write_acceptance(&old, 0, &bad, 3000, &w) == 1,
	    "not: the step lowered");
}

int
main(void)
{
	test_parse();
	test_write();
	test_acceptance();
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}
