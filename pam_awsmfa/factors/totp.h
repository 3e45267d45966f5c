/*
 * HOTP (RFC 4226) and TOTP (RFC 6238) over OpenSSL EVP_MAC.  Codes are
 * compared in constant time; every step of the window is computed whether or
 * not an earlier one matched.
 */
#ifndef AMFA_TOTP_H
#define AMFA_TOTP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum amfa_totp_alg { AMFA_TOTP_SHA1, AMFA_TOTP_SHA256, AMFA_TOTP_SHA512 };

#define AMFA_TOTP_MIN_KEY    16 /* bytes: RFC 4226 R6, 128 bits */
#define AMFA_TOTP_MAX_KEY    128
#define AMFA_TOTP_MAX_WINDOW 10

struct amfa_totp_params {
	enum amfa_totp_alg alg;
	int digits;	 /* 6..8 */
	unsigned period; /* seconds */
	const unsigned char *key;
	size_t keylen;
};

/* The HOTP value of `counter' as a zero-padded string (digits + 1 bytes).
 * Returns 0 or -1. */
int amfa_hotp(const struct amfa_totp_params *p, uint64_t counter, char *out,
    size_t outlen);

/* The time step of `now' (now / period); -1 if before the epoch. */
int64_t amfa_totp_step(const struct amfa_totp_params *p, time_t now);

/*
 * Check `code' against the steps [step(now) - window, step(now) + window]
 * that are greater than `after' (the last accepted step; -1 for none).
 * Returns 1 and the smallest matching step in *matched, 0 for no match, -1
 * on error.  Every step of the window is computed and compared, whatever
 * `after' and the code; if `seen' is not NULL, *seen is 1 when the code
 * matches any of them, used or not (a replay, when the answer is 0), else
 * 0: one pass tells a replay from a wrong code.
 */
int amfa_totp_verify(const struct amfa_totp_params *p, const char *code,
    time_t now, int window, int64_t after, int64_t *matched, int *seen);

/* Is `s' shaped like a code of `digits' digits? */
int amfa_totp_code_shaped(const char *s, int digits);

#endif
