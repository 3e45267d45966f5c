/*
 * Standard base64 (RFC 4648, with padding) over OpenSSL's EVP encoder, for
 * the binary values of AWS JSON APIs (KMS blobs) and of the table's
 * enrolment attributes.  The decoder is strict: the alphabet, padding only
 * at the end, a length that is a multiple of four, no whitespace.
 */
#ifndef AMFA_BASE64_H
#define AMFA_BASE64_H

#include <stddef.h>

/* `len' bytes as base64 (heap, NUL-terminated), or NULL. */
char *amfa_b64_encode(const unsigned char *in, size_t len);
/* `in' decoded into out (at most `max' bytes): 0 with *outlen, or -1 (not
 * strict base64, or longer than max).  out is wiped on failure. */
int amfa_b64_decode(const char *in, unsigned char *out, size_t max,
    size_t *outlen);

#endif
