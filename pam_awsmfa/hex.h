/* Bytes as lowercase hexadecimal (digests, nonces, salts in files). */
#ifndef AMFA_HEX_H
#define AMFA_HEX_H

#include <stddef.h>

/* `n' bytes of `in' into out[0..2n], NUL-terminated (2n + 1 bytes). */
void amfa_hex(const unsigned char *in, size_t n, char *out);

#endif
