/*
 * Recovery codes (recovery.h): what a user types (amfa_recovery_normalize)
 * and the administrator's `recovery' lines (amfa_recovery_line_parse).
 * The first byte picks which; the rest is the input.
 *
 * Checked beyond "no crash": a typed input that is accepted normalises to
 * exactly twelve symbols of the alphabet, and normalising those again
 * gives the same (so the module hashes one canonical form); a line that
 * parses is canonical: written back from the parsed fields it is the
 * input, byte for byte (no second spelling of a line that a grep for an
 * index or a hash would miss).  The KDF is not run here (it costs 24 ms).
 */
#include <stdio.h>

#include "factors/recovery.h"
#include "fuzz_common.h"

static const char alphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	return 0;
}

static void
typed(const char *s)
{
	char norm[AMFA_RECOVERY_SYMBOLS + 1], again[AMFA_RECOVERY_SYMBOLS + 1];

	if (amfa_recovery_normalize(s, norm) != 0)
		return;
	if (strlen(norm) != AMFA_RECOVERY_SYMBOLS ||
	    strspn(norm, alphabet) != AMFA_RECOVERY_SYMBOLS)
		abort();
	if (amfa_recovery_normalize(norm, again) != 0 ||
	    strcmp(norm, again) != 0)
		abort();
	/* Never a TOTP code or a YubiKey OTP by length. */
	if (strlen(s) > AMFA_RECOVERY_SHOWN)
		abort();
}

static void
line(const char *s)
{
	struct amfa_recovery_code c;
	char back[AMFA_RECOVERY_LINE_MAX + 1];
	const char *why = NULL;
	uint32_t gen = 0;
	size_t n;

	if (amfa_recovery_line_parse(s, &gen, &c, &why) != 0) {
		if (why == NULL)
			abort();
		return;
	}
	if (gen == 0 || c.idx >= AMFA_RECOVERY_MAX)
		abort();
	n = (size_t)snprintf(back, sizeof(back), "%08x.%u:", (unsigned)gen,
	    c.idx);
	for (size_t i = 0; i < AMFA_RECOVERY_SALT; i++)
		n += (size_t)snprintf(back + n, sizeof(back) - n, "%02x",
		    c.salt[i]);
	back[n++] = ':';
	for (size_t i = 0; i < AMFA_RECOVERY_HASH; i++)
		n += (size_t)snprintf(back + n, sizeof(back) - n, "%02x",
		    c.hash[i]);
	if (strcmp(back, s) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size == 0)
		return 0;
	s = fuzz_cstr(data + 1, size - 1);
	if (data[0] & 1)
		line(s);
	else
		typed(s);
	free(s);
	return 0;
}
