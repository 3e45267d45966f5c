/* TOTP/HOTP against RFC 4226 Appendix D and RFC 6238 Appendix B. */
#include <string.h>

#include "factors/totp.h"
#include "tap.h"

static const unsigned char seed20[] = "12345678901234567890";
static const unsigned char seed32[] = "12345678901234567890123456789012";
static const unsigned char seed64[] =
    "1234567890123456789012345678901234567890123456789012345678901234";

static void
rfc4226(void)
{
	static const char *want[] = { "755224", "287082", "359152", "969429",
		"338314", "254676", "287922", "162583", "399871", "520489" };
	struct amfa_totp_params p = { AMFA_TOTP_SHA1, 6, 30, seed20, 20 };
	char got[16];

	for (unsigned i = 0; i < 10; i++) {
		ok(amfa_hotp(&p, i, got, sizeof(got)) == 0, "hotp %u", i);
		is_str(got, want[i], "RFC 4226 HOTP count %u", i);
	}
}

static void
rfc6238(void)
{
	static const struct {
		long long t;
		const char *sha1, *sha256, *sha512;
	} v[] = {
		{ 59, "94287082", "46119246", "90693936" },
		{ 1111111109, "07081804", "68084774", "25091201" },
		{ 1111111111, "14050471", "67062674", "99943326" },
		{ 1234567890, "89005924", "91819424", "93441116" },
		{ 2000000000, "69279037", "90698825", "38618901" },
		{ 20000000000LL, "65353130", "77737706", "47863826" },
	};
	struct amfa_totp_params p1 = { AMFA_TOTP_SHA1, 8, 30, seed20, 20 };
	struct amfa_totp_params p2 = { AMFA_TOTP_SHA256, 8, 30, seed32, 32 };
	struct amfa_totp_params p5 = { AMFA_TOTP_SHA512, 8, 30, seed64, 64 };
	int64_t m;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		time_t t = (time_t)v[i].t;
		is_int(amfa_totp_verify(&p1, v[i].sha1, t, 0, -1, &m, NULL), 1,
		    "RFC 6238 SHA1 at %lld", v[i].t);
		is_int(m, v[i].t / 30, "matched step at %lld", v[i].t);
		is_int(amfa_totp_verify(&p2, v[i].sha256, t, 0, -1, &m, NULL),
		    1, "RFC 6238 SHA256 at %lld", v[i].t);
		is_int(amfa_totp_verify(&p5, v[i].sha512, t, 0, -1, &m, NULL),
		    1, "RFC 6238 SHA512 at %lld", v[i].t);
		/* The last step of a window of 1 (each step after the first
		 * reuses the keyed HMAC: factors/totp.c), for each digest. */
		is_int(amfa_totp_verify(&p1, v[i].sha1, t - 30, 1, -1, &m,
			   NULL),
		    1, "RFC 6238 SHA1, last of a window, at %lld", v[i].t);
		is_int(m, v[i].t / 30, "matched step, last of a window");
		is_int(amfa_totp_verify(&p2, v[i].sha256, t - 30, 1, -1, &m,
			   NULL),
		    1, "RFC 6238 SHA256, last of a window, at %lld", v[i].t);
		is_int(amfa_totp_verify(&p5, v[i].sha512, t - 30, 1, -1, &m,
			   NULL),
		    1, "RFC 6238 SHA512, last of a window, at %lld", v[i].t);
		/* The wrong algorithm's code must not pass. */
		is_int(amfa_totp_verify(&p1, v[i].sha256, t, 0, -1, &m, NULL),
		    0, "SHA256 code refused under SHA1 at %lld", v[i].t);
	}
}

static void
window_and_replay(void)
{
	struct amfa_totp_params p = { AMFA_TOTP_SHA1, 8, 30, seed20, 20 };
	int64_t m = 0;
	int seen;

	/* 1111111109 is step 37037036; its code one step later is in window 1. */
	is_int(amfa_totp_verify(&p, "07081804", 1111111109 + 30, 1, -1, &m,
		   NULL),
	    1, "previous step accepted inside window 1");
	is_int(m, 37037036, "it matched the previous step");
	is_int(amfa_totp_verify(&p, "07081804", 1111111109 + 30, 0, -1, &m,
		   NULL),
	    0, "previous step refused with window 0");
	is_int(amfa_totp_verify(&p, "07081804", 1111111109 + 60, 1, -1, &m,
		   NULL),
	    0, "two steps back refused with window 1");
	is_int(amfa_totp_verify(&p, "07081804", 1111111109 - 30, 1, -1, &m,
		   NULL),
	    1, "next step accepted inside window 1 (clock behind)");
	is_int(amfa_totp_verify(&p, "07081804", 1111111109, 1, 37037036, &m,
		   NULL),
	    0, "a step not after the last accepted one is refused");
	is_int(amfa_totp_verify(&p, "07081804", 1111111109, 1, 37037035, &m,
		   NULL),
	    1, "a step after the last accepted one is accepted");
	/* `seen': the code matched a step of the window, used or not. */
	static const struct {
		const char *code;
		time_t now;
		int64_t after;
		int answer, seen;
		const char *what;
	} seen_cases[] = {
		{ "07081804", 1111111109, 37037036, 0, 1,
		    "a used code: refused, seen (a replay)" },
		{ "07081804", 1111111109, 37037037, 0, 1,
		    "a code before the last accepted step: refused, seen" },
		{ "07081804", 1111111109, 37037035, 1, 1,
		    "a code not used yet: accepted, seen" },
		{ "07081805", 1111111109, 37037036, 0, 0,
		    "a wrong code: refused, not seen (no replay)" },
		{ "07081804", 1111111109 + 60, -1, 0, 0,
		    "two steps back with window 1: refused, not seen" },
		{ "0708180", 1111111109, -1, 0, 0,
		    "the wrong length: refused, not seen" },
	};
	for (size_t i = 0; i < sizeof(seen_cases) / sizeof(seen_cases[0]);
	     i++) {
		int r;

		seen = -1;
		r = amfa_totp_verify(&p, seen_cases[i].code, seen_cases[i].now,
		    1, seen_cases[i].after, &m, &seen);
		is_int(r * 10 + seen,
		    seen_cases[i].answer * 10 + seen_cases[i].seen, "%s",
		    seen_cases[i].what);
	}
}

static void
bad_input(void)
{
	struct amfa_totp_params p = { AMFA_TOTP_SHA1, 8, 30, seed20, 20 };
	struct amfa_totp_params bad = p;
	int64_t m;

	is_int(amfa_totp_verify(&p, "0708180", 1111111109, 1, -1, &m, NULL), 0,
	    "too short refused");
	is_int(amfa_totp_verify(&p, "070818044", 1111111109, 1, -1, &m, NULL),
	    0, "too long refused");
	is_int(amfa_totp_verify(&p, "0708180a", 1111111109, 1, -1, &m, NULL), 0,
	    "non-digit refused");
	is_int(amfa_totp_verify(&p, "", 1111111109, 1, -1, &m, NULL), 0,
	    "empty refused");
	is_int(amfa_totp_verify(&p, "07081804", -5, 1, -1, &m, NULL), -1,
	    "time before the epoch is an error");
	is_int(amfa_totp_verify(&p, "07081804", 1111111109, 11, -1, &m, NULL),
	    -1, "window over the limit is an error");
	bad.digits = 9;
	is_int(amfa_totp_verify(&bad, "070818044", 1111111109, 1, -1, &m, NULL),
	    -1, "9 digits is an error");
	ok(amfa_totp_code_shaped("123456", 6), "shaped 6");
	ok(!amfa_totp_code_shaped("12345", 6), "not shaped 5");
	ok(!amfa_totp_code_shaped("12 456", 6), "not shaped with space");
}

int
main(void)
{
	rfc4226();
	rfc6238();
	window_and_replay();
	bad_input();
	return tap_done();
}
