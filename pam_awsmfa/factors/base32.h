/* RFC 4648 base32, as authenticator apps show TOTP seeds. */
#ifndef AMFA_BASE32_H
#define AMFA_BASE32_H

#include <stddef.h>

/*
 * Decode `in' (case-insensitive; spaces and trailing '=' padding allowed)
 * into `out' (room for `outmax' bytes).  Returns the number of bytes, or -1
 * on a character outside the alphabet, misplaced padding, non-zero trailing
 * bits, or an output that would not fit.
 */
long amfa_base32_decode(const char *in, unsigned char *out, size_t outmax);

/* Encode `len' bytes into `out' (room for `outmax', NUL-terminated), no
 * padding.  Returns the length or -1 if it does not fit. */
long amfa_base32_encode(const unsigned char *in, size_t len, char *out,
    size_t outmax);

#endif
