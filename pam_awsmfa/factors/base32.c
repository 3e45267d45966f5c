/* RFC 4648 base32; see base32.h. */
#include <string.h>

#include "base32.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

static int
value_of(int c)
{
	if (c >= 'a' && c <= 'z')
		c -= 'a' - 'A';
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= '2' && c <= '7')
		return c - '2' + 26;
	return -1;
}

long
amfa_base32_decode(const char *in, unsigned char *out, size_t outmax)
{
	unsigned long buf = 0;
	int bits = 0, v, padding = 0;
	size_t n = 0;

	for (; *in != '\0'; in++) {
		if (*in == ' ')
			continue;
		if (*in == '=') {
			padding = 1;
			continue;
		}
		if (padding || (v = value_of((unsigned char)*in)) < 0)
			return -1;
		buf = (buf << 5) | (unsigned long)v;
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			if (n >= outmax)
				return -1;
			out[n++] = (unsigned char)(buf >> bits);
			buf &= (1UL << bits) - 1;
		}
	}
	/* Leftover bits must be padding zeros of a whole encoding. */
	if (bits >= 5 || buf != 0)
		return -1;
	return (long)n;
}

long
amfa_base32_encode(const unsigned char *in, size_t len, char *out,
    size_t outmax)
{
	unsigned long buf = 0;
	int bits = 0;
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		buf = (buf << 8) | in[i];
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			if (n + 1 >= outmax)
				return -1;
			out[n++] = alphabet[(buf >> bits) & 31];
		}
		buf &= (1UL << bits) - 1;
	}
	if (bits > 0) {
		if (n + 1 >= outmax)
			return -1;
		out[n++] = alphabet[(buf << (5 - bits)) & 31];
	}
	if (n >= outmax)
		return -1;
	out[n] = '\0';
	return (long)n;
}
