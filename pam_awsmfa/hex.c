/* Bytes as lowercase hexadecimal: see hex.h.  A table, not snprintf: the
 * state file's two slot digests are formatted or checked at every login. */
#include "hex.h"

void
amfa_hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}
