/*
 * The user's ~/.aws/credentials and ~/.aws/config (read as the user, so
 * attacker-controlled): amfa_aws_ini_get on arbitrary bytes, for the keys
 * and sections the module asks for, into buffers of several sizes.
 */
#include "aws/aws_profile.h"
#include "fuzz_common.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	return 0;
}

static void
lookup(const char *buf, const char *section, const char *key, size_t outlen)
{
	char *out = malloc(outlen);
	int r;

	if (out == NULL)
		abort();
	r = amfa_aws_ini_get(buf, section, key, out, outlen);
	if (r == 1 && strnlen(out, outlen) >= outlen)
		abort(); /* claimed a value that is not terminated */
	if (r < -1 || r > 1)
		abort();
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const sections[] = { "default", "work",
		"profile work", "profile default" };
	static const char *const keys[] = { "aws_access_key_id",
		"aws_secret_access_key", "mfa_serial", "region" };
	static const size_t sizes[] = { 1, 8, 129, 512 };
	char *buf = fuzz_cstr(data, size);

	for (size_t s = 0; s < 4; s++) {
		for (size_t k = 0; k < 4; k++)
			lookup(buf, sections[s], keys[k], sizes[(s + k) % 4]);
	}
	free(buf);
	return 0;
}
