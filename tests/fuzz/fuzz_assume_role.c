/*
 * The AssumeRole answer: amfa_sts_parse_assume_role on arbitrary bytes.
 * Whatever it accepts must be what awsmfa-creds may cache and print:
 * non-empty, printable credentials, a parsed expiration, an ARN.
 */
#include "aws/sts.h"
#include "fuzz_common.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct amfa_sts_credentials c;

	if (amfa_sts_parse_assume_role((const char *)data, size, &c) !=
	    AMFA_STS_OK)
		return 0;
	if (c.access_key_id == NULL || c.secret_access_key == NULL ||
	    c.session_token == NULL || c.assumed_role_arn == NULL ||
	    c.access_key_id[0] == '\0' || !amfa_sts_field_ok(c.access_key_id) ||
	    !amfa_sts_field_ok(c.secret_access_key) ||
	    !amfa_sts_field_ok(c.session_token) ||
	    !amfa_sts_field_ok(c.assumed_role_arn) ||
	    !amfa_sts_field_ok(c.expiration) ||
	    strncmp(c.assumed_role_arn, "arn:", 4) != 0)
		abort();
	amfa_sts_credentials_free(&c);
	return 0;
}
