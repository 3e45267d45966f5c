/* The network clients called directly (programs and tests); see net.h. */
#include "net.h"

enum amfa_sts_result
amfa_net_sts_get_session_token(const struct amfa_sts_config *c,
    const struct amfa_aws_key *key, const char *serial, const char *code,
    struct amfa_sts_credentials *out)
{
	return amfa_sts_get_session_token(c, key, serial, code, out);
}

enum amfa_ykval_result
amfa_net_ykval_verify(const struct amfa_ykval_config *c, const char *otp)
{
	return amfa_ykval_verify(c, otp);
}
