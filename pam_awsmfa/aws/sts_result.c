/*
 * The words for an STS outcome and the freeing of its credentials (sts.h):
 * kept out of sts.c because the module's local code needs them without the
 * network client (net.h).
 */
#include <stdlib.h>
#include <string.h>

#include "secure_file.h"
#include "sts.h"

const char *
amfa_sts_result_str(enum amfa_sts_result r)
{
	switch (r) {
	case AMFA_STS_OK:
		return "ok";
	case AMFA_STS_BAD_CODE:
		return "AWS refused the MFA code";
	case AMFA_STS_CODE_CONSUMED:
		return "the code was consumed by an earlier try that reached "
		       "AWS but got no answer back";
	case AMFA_STS_BAD_SERIAL:
		return "the MFA serial is not a device of this IAM user "
		       "(check mfa_serial)";
	case AMFA_STS_BAD_KEY:
		return "the access key is unknown or inactive (check "
		       "access_key_id)";
	case AMFA_STS_BAD_SECRET:
		return "the signature does not match (check secret_access_key, "
		       "and the clock)";
	case AMFA_STS_EXPIRED:
		return "the credentials used to sign have expired";
	case AMFA_STS_DENIED:
		return "access denied by AWS (check the IAM policy)";
	case AMFA_STS_REFUSED:
		return "AWS refused the request";
	case AMFA_STS_MALFORMED:
		return "STS answered without usable credentials";
	case AMFA_STS_TLS:
		return "TLS verification of the STS endpoint failed";
	case AMFA_STS_UNREACHABLE:
		return "STS could not be reached in time";
	case AMFA_STS_INTERNAL:
		return "internal error";
	}
	return "unknown";
}

void
amfa_sts_credentials_free(struct amfa_sts_credentials *c)
{
	free(c->access_key_id);
	free(c->assumed_role_arn);
	if (c->secret_access_key != NULL)
		amfa_wipe_free_str(c->secret_access_key);
	if (c->session_token != NULL)
		amfa_wipe_free_str(c->session_token);
	memset(c, 0, sizeof(*c));
}

int
amfa_sts_field_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s < 0x21 || *s > 0x7e)
			return 0;
	return 1;
}
