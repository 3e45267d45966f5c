/* Recovery codes: the typed form, the lines, hashing and matching. */
#include <string.h>

#include "factors/recovery.h"
#include "tap.h"

static const char alphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";

static int
norm_is(const char *typed, const char *want)
{
	char norm[AMFA_RECOVERY_SYMBOLS + 1];

	if (amfa_recovery_normalize(typed, norm) != 0)
		return want == NULL;
	return want != NULL && strcmp(norm, want) == 0;
}

static void
form(void)
{
	static const char *const refused[] = { "", "7kq2m9xh3tf",
		"7kq2m9xh3tfaa", "7kq2--m9xh-3tfa", "-7kq2m9xh3tfa",
		"7kq2m9xh3tfa-", "7kq-2m9xh3tfa", "7kq2m9xh3tfu",
		"7kq2m9xh3tf!", "7kq2_m9xh_3tfa", "123456", "12345678",
		"vvccccfhcbvlcccccccccccccccccccccccc", "7kq2-m9xh-3tfa ",
		"7kq2\tm9xh\t3tfa", NULL };

	ok(norm_is("7kq2-m9xh-3tfa", "7kq2m9xh3tfa"), "the printed form");
	ok(norm_is("7kq2m9xh3tfa", "7kq2m9xh3tfa"), "without dashes");
	ok(norm_is("7KQ2-M9XH-3TFA", "7kq2m9xh3tfa"), "upper case");
	ok(norm_is("7kq2 m9xh 3tfa", "7kq2m9xh3tfa"), "blanks between groups");
	ok(norm_is("oIlO-0000-0000", "011000000000"),
	    "o reads as 0, i and l as 1 (Crockford)");
	ok(norm_is("123412341234", "123412341234"),
	    "twelve digits are a recovery code, not a TOTP code");
	for (int i = 0; refused[i] != NULL; i++)
		ok(norm_is(refused[i], NULL), "refused: \"%s\"", refused[i]);
}

static void
lines(void)
{
	char shown[AMFA_RECOVERY_SHOWN + 1], line[AMFA_RECOVERY_LINE_MAX];
	char shown2[AMFA_RECOVERY_SHOWN + 1], line2[AMFA_RECOVERY_LINE_MAX];
	char norm[AMFA_RECOVERY_SYMBOLS + 1];
	struct amfa_recovery_code c[2];
	const char *why;
	uint32_t gen = 0;

	ok(amfa_recovery_new(0x5eed0001, 3, shown, line) == 0, "a new code");
	ok(strlen(shown) == 14 && shown[4] == '-' && shown[9] == '-',
	    "shown as xxxx-xxxx-xxxx");
	ok(strncmp(line, "5eed0001.3:", 11) == 0 && strlen(line) == 108,
	    "line GEN.IDX:SALT:HASH");
	ok(amfa_recovery_normalize(shown, norm) == 0 &&
		strspn(norm, alphabet) == 12 && strstr(line, norm) == NULL,
	    "the code is not in the line");
	ok(amfa_recovery_line_parse(line, &gen, &c[0], &why) == 0 &&
		gen == 0x5eed0001 && c[0].idx == 3,
	    "the line parses");
	ok(amfa_recovery_new(0x5eed0001, 4, shown2, line2) == 0 &&
		strcmp(shown, shown2) != 0 &&
		amfa_recovery_line_parse(line2, &gen, &c[1], &why) == 0,
	    "a second, different code");
	ok(amfa_recovery_match(norm, c, 2) == 0, "the first matches itself");
	ok(amfa_recovery_normalize(shown2, norm) == 0 &&
		amfa_recovery_match(norm, c, 2) == 1,
	    "the second matches the second");
	norm[0] = norm[0] == 'z' ? 'y' : 'z';
	ok(amfa_recovery_match(norm, c, 2) == -1, "one symbol off: none");
	ok(amfa_recovery_new(0, 0, shown, line) == -1, "generation 0 refused");
	ok(amfa_recovery_new(1, 16, shown, line) == -1, "index 16 refused");
	is_int(amfa_recovery_left(0x3ff, 0), 10, "ten left of ten");
	is_int(amfa_recovery_left(0x3ff, 0x201), 8, "two used");
	is_int(amfa_recovery_left(0x3ff, 0xfc00), 10,
	    "marks of indices not in the set do not count");
}

int
main(void)
{
	form();
	lines();
	return tap_done();
}
