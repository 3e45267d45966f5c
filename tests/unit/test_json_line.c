/*
 * The audit record's writers (json_line.c, text_out.c, amfa_audit_time)
 * held to what they replace: json-c's text, byte for byte, for every byte
 * in a string and for random strings; snprintf's numbers and time stamps.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "audit_json.h"
#include "json_line.h"
#include "tap.h"
#include "text_out.h"

#define FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint64_t
next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* One record of `n' string fields, an int and a bool, both ways; 1 if the
 * texts are the same (the differing pair shown otherwise). */
static int
same_record(const char *const *keys, const char *const *vals, int n, int64_t iv,
    int bv)
{
	struct json_object *o = json_object_new_object();
	struct amfa_json_line j;
	const char *want;
	char *got;
	int same;

	amfa_jl_begin(&j);
	for (int i = 0; i < n; i++) {
		amfa_jl_str(&j, keys[i], vals[i]);
		if (vals[i] != NULL)
			json_object_object_add(o, keys[i],
			    json_object_new_string(vals[i]));
	}
	amfa_jl_int(&j, "n", iv);
	json_object_object_add(o, "n", json_object_new_int64(iv));
	amfa_jl_bool(&j, "b", bv);
	json_object_object_add(o, "b", json_object_new_boolean(bv));
	got = amfa_jl_end(&j);
	want = json_object_to_json_string_ext(o, FLAGS);
	same = got != NULL && want != NULL && strcmp(got, want) == 0;
	if (!same)
		printf("#   got:  %s\n#   want: %s\n", got ? got : "(null)",
		    want ? want : "(null)");
	free(got);
	json_object_put(o);
	return same;
}

static void
every_byte(void)
{
	const char *keys[2] = { "k", "key \"with\" \\ and \x01" };
	char s[4], t[300];
	const char *vals[2] = { s, t };
	int bad = 0;

	for (int c = 1; c < 256; c++) {
		s[0] = 'a';
		s[1] = (char)c;
		s[2] = 'z';
		s[3] = '\0';
		t[0] = (char)c;
		t[1] = '\0';
		if (!same_record(keys, vals, 2, c, c & 1))
			bad++;
	}
	/* All of them in one string. */
	for (int c = 1; c < 256; c++)
		t[c - 1] = (char)c;
	t[255] = '\0';
	if (!same_record(keys, vals, 2, 0, 0))
		bad++;
	ok(bad == 0,
	    "every byte 1..255, alone and between others, as json-c "
	    "writes it (%d differ)",
	    bad);
}

static void
random_records(void)
{
	static const char *const keys[5] = { "time", "user", "rhost", "tty",
		"reason" };
	char buf[5][64];
	const char *vals[5];
	int bad = 0;

	for (int r = 0; r < 3000; r++) {
		for (int i = 0; i < 5; i++) {
			size_t len = next() % sizeof(buf[i]);

			for (size_t k = 0; k < len; k++)
				buf[i][k] = (char)(1 + next() % 255);
			buf[i][len] = '\0';
			vals[i] = next() % 7 == 0 ? NULL : buf[i];
		}
		if (!same_record(keys, vals, 5, (int64_t)next(),
			(int)(next() & 1)))
			bad++;
	}
	ok(bad == 0, "3000 random records as json-c writes them (%d differ)",
	    bad);
	{
		const char *none[1] = { NULL };
		ok(same_record(keys, none, 1, INT64_MIN, 1) &&
			same_record(keys, none, 1, INT64_MAX, 0) &&
			same_record(keys, none, 1, -1, 0) &&
			same_record(keys, none, 1, 0, 1),
		    "the extreme numbers, and a NULL string left out");
	}
}

static void
numbers(void)
{
	static const int64_t v[] = { 0, 1, -1, 9, 10, 99, 100, INT64_MAX,
		INT64_MIN, INT64_MIN + 1, 4294967295LL, -4294967296LL };
	char got[32], want[32];
	struct amfa_text t;
	int bad = 0;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		amfa_text_fixed(&t, got, sizeof(got));
		amfa_text_i64(&t, v[i]);
		snprintf(want, sizeof(want), "%" PRId64, v[i]);
		if (amfa_text_end(&t) == NULL || strcmp(got, want) != 0)
			bad++;
		amfa_text_fixed(&t, got, sizeof(got));
		amfa_text_u64(&t, (uint64_t)v[i]);
		snprintf(want, sizeof(want), "%" PRIu64, (uint64_t)v[i]);
		if (amfa_text_end(&t) == NULL || strcmp(got, want) != 0)
			bad++;
	}
	for (int r = 0; r < 20000; r++) {
		uint64_t x = next() >> (next() % 64);
		unsigned w = 1 + (unsigned)(next() % 8);

		amfa_text_fixed(&t, got, sizeof(got));
		amfa_text_u64(&t, x);
		snprintf(want, sizeof(want), "%" PRIu64, x);
		if (amfa_text_end(&t) == NULL || strcmp(got, want) != 0)
			bad++;
		x &= 0xffffffffu;
		amfa_text_fixed(&t, got, sizeof(got));
		amfa_text_fixed_digits(&t, x, (int)w, 16);
		snprintf(want, sizeof(want), "%0*" PRIx64, (int)w, x);
		/* snprintf widens a number that does not fit; we refuse it. */
		if ((amfa_text_end(&t) != NULL) != (strlen(want) == w) ||
		    (strlen(want) == w && strcmp(got, want) != 0))
			bad++;
		amfa_text_fixed(&t, got, sizeof(got));
		amfa_text_fixed_digits(&t, x % 100000, (int)w, 10);
		snprintf(want, sizeof(want), "%0*" PRIu64, (int)w, x % 100000);
		if ((amfa_text_end(&t) != NULL) != (strlen(want) == w) ||
		    (strlen(want) == w && strcmp(got, want) != 0))
			bad++;
	}
	ok(bad == 0,
	    "numbers as snprintf writes them; a fixed width too "
	    "small refused (%d differ)",
	    bad);
}

static void
bounds(void)
{
	char small[8], *big;
	struct amfa_text t;

	amfa_text_fixed(&t, small, sizeof(small));
	amfa_text_str(&t, "1234567");
	ok(amfa_text_end(&t) == small && strcmp(small, "1234567") == 0,
	    "a fixed buffer takes cap - 1 bytes and the NUL");
	amfa_text_fixed(&t, small, sizeof(small));
	amfa_text_str(&t, "123");
	amfa_text_str(&t, "45678");
	amfa_text_str(&t, "9");
	ok(amfa_text_end(&t) == NULL && strcmp(small, "123") == 0,
	    "one byte too many: the text is bad, nothing after it is "
	    "taken, the whole pieces before it are left NUL-terminated");
	amfa_text_heap(&t);
	for (int i = 0; i < 5000; i++)
		amfa_text_str(&t, "0123456789");
	big = amfa_text_end(&t);
	ok(big != NULL && t.len == 50000 && strlen(big) == 50000 &&
		memcmp(big + 49990, "0123456789", 10) == 0,
	    "a heap text grows (50000 bytes)");
	free(big);
}

static void
time_stamps(void)
{
	char got[AMFA_AUDIT_TIME_LEN], want[96];
	int bad = 0;

	for (int r = 0; r < 20000; r++) {
		struct timespec ts;
		struct tm tm;

		/* 1970 to 9999. */
		ts.tv_sec = (time_t)(next() % 253402300800ULL);
		ts.tv_nsec = (long)(next() % 1000000000);
		if (r == 0)
			ts.tv_sec = 0, ts.tv_nsec = 0;
		if (r == 1)
			ts.tv_sec = 253402300799, ts.tv_nsec = 999999999;
		gmtime_r(&ts.tv_sec, &tm);
		snprintf(want, sizeof(want),
		    "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
		    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		    (ts.tv_nsec / 1000000) % 1000);
		if (amfa_audit_time(&ts, got) != 0 || strcmp(got, want) != 0) {
			if (bad++ == 0)
				printf("#   got %s, want %s\n", got, want);
		}
	}
	ok(bad == 0,
	    "time stamps as snprintf wrote them, 1970 to 9999 "
	    "(%d differ)",
	    bad);
	{
		struct timespec ts = { (time_t)253402300800LL, 0 };
		ok(amfa_audit_time(&ts, got) == -1,
		    "the year 10000 is refused, not written in five digits");
	}
}

int
main(void)
{
	every_byte();
	random_records();
	numbers();
	bounds();
	time_stamps();
	return tap_done();
}
