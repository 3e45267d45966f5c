/* base32 against RFC 4648 section 10 and bad input. */
#include <string.h>

#include "factors/base32.h"
#include "tap.h"

static void
vector(const char *plain, const char *enc)
{
	unsigned char out[64];
	char back[128];
	long n;

	n = amfa_base32_decode(enc, out, sizeof(out));
	ok(n == (long)strlen(plain) && memcmp(out, plain, (size_t)n) == 0,
	    "decode \"%s\"", enc);
	n = amfa_base32_encode((const unsigned char *)plain, strlen(plain),
	    back, sizeof(back));
	ok(n >= 0, "encode \"%s\"", plain);
	/* Our encoder writes no padding. */
	ok(strncmp(back, enc, strlen(back)) == 0 &&
		strspn(enc + strlen(back), "=") == strlen(enc + strlen(back)),
	    "encode \"%s\" -> %s", plain, back);
}

int
main(void)
{
	unsigned char out[64];

	vector("", "");
	vector("f", "MY======");
	vector("fo", "MZXQ====");
	vector("foo", "MZXW6===");
	vector("foob", "MZXW6YQ=");
	vector("fooba", "MZXW6YTB");
	vector("foobar", "MZXW6YTBOI======");
	is_int(amfa_base32_decode("mzxw6ytb", out, sizeof(out)), 5,
	    "lower case accepted");
	is_int(amfa_base32_decode("MZXW 6YTB", out, sizeof(out)), 5,
	    "spaces accepted (as apps show seeds)");
	is_int(amfa_base32_decode("MZXW6YT1", out, sizeof(out)), -1,
	    "'1' is not base32");
	is_int(amfa_base32_decode("MZXW6YT8", out, sizeof(out)), -1,
	    "'8' is not base32");
	is_int(amfa_base32_decode("MZ=XW6YTB", out, sizeof(out)), -1,
	    "data after padding refused");
	is_int(amfa_base32_decode("MZ======", out, sizeof(out)), -1,
	    "non-zero trailing bits refused");
	is_int(amfa_base32_decode("M", out, sizeof(out)), -1,
	    "a lone character is not a whole encoding");
	is_int(amfa_base32_decode("MZXW6YTBOI", out, 5), -1,
	    "output that does not fit is refused");
	is_int(amfa_base32_decode("MZXW6YTB\n", out, sizeof(out)), -1,
	    "newline refused");
	return tap_done();
}
