/* The enrolment record of the table: the AES-256-GCM seal and where it is
 * bound (enrolment_seal.h), strict base64 (aws/base64.h), and the item's
 * enrolment attributes (state_item.h: their strictness, and that a
 * login's write never names them). */
#include <stdlib.h>
#include <string.h>

#include "aws/base64.h"
#include "store/enrolment_seal.h"
#include "store/state_item.h"
#include "tap.h"

static const char TEXT[] = "iam_user = alice\n"
			   "mfa_serial = arn:aws:iam::123456789012:mfa/alice\n"
			   "totp_secret = JBSWY3DPEHPK3PXP\n";

static int
opens(const unsigned char *key, const struct amfa_seal_where *w,
    const unsigned char *s, size_t n)
{
	char *p = NULL;
	size_t len = 0;
	int r = amfa_seal_open(key, w, s, n, &p, &len);

	if (r == 0) {
		r = len == strlen(TEXT) && memcmp(p, TEXT, len) == 0 ? 0 : -2;
		free(p);
	}
	return r;
}

static void
test_seal(void)
{
	unsigned char key[AMFA_KMS_DATA_KEY_LEN], other[AMFA_KMS_DATA_KEY_LEN];
	struct amfa_seal_where w = { "awsmfa-state", "alice", 3 }, x;
	unsigned char *s = NULL, *s2 = NULL;
	size_t n = 0, n2 = 0;

	memset(key, 0x42, sizeof(key));
	memset(other, 0x43, sizeof(other));
	ok(amfa_seal(key, &w, TEXT, strlen(TEXT), &s, &n) == 0, "sealed");
	is_int(n, strlen(TEXT) + AMFA_SEAL_OVERHEAD, "nonce + text + tag");
	ok(memmem(s, n, "JBSWY3DP", 8) == NULL, "no seed in the sealed form");
	is_int(opens(key, &w, s, n), 0, "opens where it belongs");
	x = w;
	x.user = "mallory";
	is_int(opens(key, &x, s, n), -1, "not as another user's");
	x = w;
	x.table = "other-table";
	is_int(opens(key, &x, s, n), -1, "not in another table");
	x = w;
	x.version = 2;
	is_int(opens(key, &x, s, n), -1, "not under another version");
	is_int(opens(other, &w, s, n), -1, "not under another data key");
	s[AMFA_SEAL_NONCE + 3] ^= 1;
	is_int(opens(key, &w, s, n), -1, "a changed byte: refused");
	s[AMFA_SEAL_NONCE + 3] ^= 1;
	is_int(opens(key, &w, s, n - 1), -1, "cut short: refused");
	is_int(opens(key, &w, s, AMFA_SEAL_OVERHEAD - 1), -1,
	    "shorter than nonce and tag: refused");
	ok(amfa_seal(key, &w, TEXT, strlen(TEXT), &s2, &n2) == 0 &&
		memcmp(s, s2, AMFA_SEAL_NONCE) != 0,
	    "a fresh nonce each time");
	x = w;
	x.version = 0;
	free(s2);
	s2 = NULL;
	ok(amfa_seal(key, &x, TEXT, strlen(TEXT), &s2, &n2) != 0,
	    "version 0 is never sealed");
	free(s);
	free(s2);
}

static void
test_b64(void)
{
	unsigned char out[8];
	size_t n = 0;
	char *e = amfa_b64_encode((const unsigned char *)"abcd", 4);

	is_str(e, "YWJjZA==", "encoded");
	free(e);
	ok(amfa_b64_decode("YWJjZA==", out, sizeof(out), &n) == 0 && n == 4 &&
		memcmp(out, "abcd", 4) == 0,
	    "decoded");
	ok(amfa_b64_decode("YWJjZA=", out, sizeof(out), &n) != 0,
	    "a length not a multiple of 4");
	ok(amfa_b64_decode("YW=jZA==", out, sizeof(out), &n) != 0,
	    "padding inside");
	ok(amfa_b64_decode("YWJj ZA=", out, sizeof(out), &n) != 0,
	    "whitespace");
	ok(amfa_b64_decode("YWJjZGVmZ2hp", out, 8, &n) != 0, "over max");
	ok(amfa_b64_decode("", out, sizeof(out), &n) != 0, "empty");
}

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
base_item(struct amfa_ddb_item *it)
{
	memset(it, 0, sizeof(*it));
	add(it, "amfa_user", AMFA_DDB_S, "alice");
	add(it, "amfa_ver", AMFA_DDB_N, "7");
	add(it, "totp_step", AMFA_DDB_N, "59000000");
	add(it, "fail_count", AMFA_DDB_N, "0");
	add(it, "locked_until", AMFA_DDB_N, "0");
	add(it, "last_ok", AMFA_DDB_N, "0");
	add(it, "rc_gen", AMFA_DDB_N, "0");
	add(it, "rc_used", AMFA_DDB_N, "0");
}

static char ct_seen[64], key_seen[64];

/* Does an item with these enrolment attributes parse (both ways)? */
static int
item_ok(const char *ver, const char *ct, const char *key,
    enum amfa_ddb_type ct_type, struct amfa_item_enrolment *e)
{
	struct amfa_ddb_item it;
	struct amfa_state st;
	uint64_t v;
	const char *why;
	int a, b;

	base_item(&it);
	if (ver != NULL)
		add(&it, "enr_ver", AMFA_DDB_N, ver);
	if (ct != NULL)
		add(&it, "enr_ct", ct_type, ct);
	if (key != NULL)
		add(&it, "enr_key", AMFA_DDB_S, key);
	a = amfa_item_enrolment(&it, e, &why);
	b = amfa_item_to_state(&it, "alice", &st, &v, &why);
	/* e points into the item: keep copies past its free. */
	snprintf(ct_seen, sizeof(ct_seen), "%s", e->ct ? e->ct : "");
	snprintf(key_seen, sizeof(key_seen), "%s", e->key ? e->key : "");
	amfa_ddb_item_free(&it);
	return a == 0 && b == 0 ? 0 : (a != 0 && b != 0 ? -1 : -2);
}

static void
test_item(void)
{
	struct amfa_item_enrolment e;
	struct amfa_state old, st;
	struct amfa_item_write w;
	const char *why;

	is_int(item_ok(NULL, NULL, NULL, AMFA_DDB_S, &e), 0, "none: fine");
	ok(e.version == 0 && e.ct == NULL, "none: version 0");
	is_int(item_ok("2", "QUJD", "REVGRw==", AMFA_DDB_S, &e), 0,
	    "an enrolment");
	ok(e.version == 2 && strcmp(ct_seen, "QUJD") == 0 &&
		strcmp(key_seen, "REVGRw==") == 0,
	    "read as written");
	is_int(item_ok("3", NULL, NULL, AMFA_DDB_S, &e), 0, "disabled");
	ok(e.version == 3 && e.ct == NULL, "disabled: a version, no record");
	is_int(item_ok("2", "QUJD", NULL, AMFA_DDB_S, &e), -1,
	    "a record without its key: refused");
	is_int(item_ok("2", NULL, "QUJD", AMFA_DDB_S, &e), -1,
	    "a key without its record: refused");
	is_int(item_ok(NULL, "QUJD", "QUJD", AMFA_DDB_S, &e), -1,
	    "no version: refused");
	is_int(item_ok("0", "QUJD", "QUJD", AMFA_DDB_S, &e), -1,
	    "version 0: refused");
	is_int(item_ok("2", "QUJD", "QUJD", AMFA_DDB_N, &e), -1,
	    "a record of the wrong type: refused");
	is_int(item_ok("2", "QU JD", "QUJD", AMFA_DDB_S, &e), -1,
	    "a record not base64: refused");
	is_int(item_ok("2", "QUJD", "QUJ", AMFA_DDB_S, &e), -1,
	    "a key not base64: refused");
	{
		struct amfa_ddb_item it;
		const char *w2;

		base_item(&it);
		add(&it, "enr_other", AMFA_DDB_S, "QUJD");
		ok(amfa_item_enrolment(&it, &e, &w2) != 0,
		    "an unknown enr_ attribute: refused");
		amfa_ddb_item_free(&it);
	}
	/* A login's write (every kind of change) names no enr_ attribute. */
	memset(&old, 0, sizeof(old));
	old.last_step = 5;
	old.ntokens = 1;
	snprintf(old.tokens[0].public_id, sizeof(old.tokens[0].public_id),
	    "cccccccccccb");
	st = old;
	st.last_step = 6;
	st.failures = 2;
	st.locked_until = 100;
	st.last_success = 50;
	st.recovery_gen = 9;
	st.recovery_used = 1;
	st.tokens[0].use = 3;
	ok(amfa_item_write(&old, 1, 7, &st, 40, &w, &why) == 0, "a write");
	ok(strstr(w.update, "enr_") == NULL &&
		strstr(w.condition, "enr_") == NULL,
	    "a login's write leaves the enrolment alone");
	st.ntokens = 0;
	ok(amfa_item_write(&old, 1, 7, &st, 40, &w, &why) == 0 &&
		strstr(w.update, "REMOVE") != NULL &&
		strstr(w.update, "enr_") == NULL,
	    "a removing write too");
}

int
main(void)
{
	test_seal();
	test_b64();
	test_item();
	printf("1..%d\n", tap_n);
	return tap_failed != 0;
}
