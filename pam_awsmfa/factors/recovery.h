/*
 * Recovery codes: single-use codes for a person whose phone or YubiKey is
 * lost, issued by `awsmfa recovery' and kept only as salted hashes.
 *
 * The form.  Twelve symbols of Crockford's base32 in lower case (digits and
 * letters without i, l, o, u: no two that read or sound alike), shown in
 * three groups, "7kq2-m9xh-3tfa": 60 bits from RAND_bytes.  What is typed
 * is normalised before hashing: upper case folds to lower, and as in
 * Crockford's decoding o reads as 0 and i, l as 1; one '-' or blank may
 * stand between the groups, nowhere else.  Anything else is not a recovery
 * code, and no TOTP code (6 to 8 digits) or YubiKey OTP (32 or more
 * characters) has this shape.
 *
 * The hash.  scrypt (OpenSSL's EVP_KDF "SCRYPT"), N = 2^13, r = 8, p = 1
 * (8 MiB), 32 bytes, with a 16-byte salt of its own per code.  A code has
 * 60 bits, so the KDF is not what protects it: at about 24 ms per hash
 * (as measured on the development machine) an offline search of half of
 * 2^60 for ONE code costs some 4 x 10^8 core-years, and 8 MiB per guess
 * keeps a GPU farm from making that cheap; a slower KDF would only slow
 * every recovery login, which hashes once per code.  A recovery login hashes
 * what was typed with every code's salt (10 codes: about a quarter of a
 * second), outside the user's lock; the comparisons (CRYPTO_memcmp, every
 * code, no early exit) and the used marks are then looked at under it.
 *
 * The enrolment file holds one line per code,
 *     recovery = GEN.IDX:SALT:HASH
 * GEN the set's generation (8 hex digits, random and non-zero, the same on
 * every line), IDX its index (0..15), SALT and HASH in lower-case hex.  The
 * used marks are in the user's state ("recovery_used GEN MASK", state.h):
 * marks of another generation are of a replaced set and mean nothing.
 */
#ifndef AMFA_RECOVERY_H
#define AMFA_RECOVERY_H

#include <stddef.h>
#include <stdint.h>

#define AMFA_RECOVERY_MAX     16 /* codes in a set: bits of the used mask */
#define AMFA_RECOVERY_DEFAULT 10
#define AMFA_RECOVERY_SYMBOLS 12 /* 60 bits */
#define AMFA_RECOVERY_SHOWN   15 /* "xxxx-xxxx-xxxx" */
#define AMFA_RECOVERY_SALT    16
#define AMFA_RECOVERY_HASH    32
/* The longest value of a `recovery' line: 8+1+2+1+32+1+64. */
#define AMFA_RECOVERY_LINE_MAX 128

struct amfa_recovery_code {
	unsigned idx;
	unsigned char salt[AMFA_RECOVERY_SALT];
	unsigned char hash[AMFA_RECOVERY_HASH];
};

/*
 * Is `typed' a recovery code by its form?  0 with the normalised symbols
 * in `norm' (NUL-terminated), or -1 (`norm' wiped).
 */
int amfa_recovery_normalize(const char *typed,
    char norm[AMFA_RECOVERY_SYMBOLS + 1]);

/* The hash of normalised `norm' with `salt'.  0 or -1. */
int amfa_recovery_hash(const char *norm,
    const unsigned char salt[AMFA_RECOVERY_SALT],
    unsigned char out[AMFA_RECOVERY_HASH]);

/*
 * Parse the value of a `recovery' line: 0 with *gen and *c, or -1 with
 * *why (never the value).
 */
int amfa_recovery_line_parse(const char *value, uint32_t *gen,
    struct amfa_recovery_code *c, const char **why);

/*
 * A new code of generation `gen', index `idx': the code to show once in
 * `shown' ("xxxx-xxxx-xxxx"), and the line's value ("GEN.IDX:SALT:HASH")
 * in `line'.  0 or -1 (nothing usable left behind).
 */
int amfa_recovery_new(uint32_t gen, unsigned idx,
    char shown[AMFA_RECOVERY_SHOWN + 1], char line[AMFA_RECOVERY_LINE_MAX]);

/*
 * Which of `n' codes is `norm'?  Every code is hashed and compared
 * (CRYPTO_memcmp), whatever matched.  The index in the array, -1 for none,
 * -2 on a crypto error.
 */
int amfa_recovery_match(const char *norm, const struct amfa_recovery_code *c,
    size_t n);

/* Codes of the set (indices in `present', a mask) not marked in `used'. */
int amfa_recovery_left(uint32_t present, uint32_t used);

#endif
