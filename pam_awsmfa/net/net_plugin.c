/*
 * awsmfa_net.so: the network clients for pam_awsmfa.so, which loads this
 * on demand (net_dlopen.c, net.h).  Exports only AMFA_NET_OPS_SYMBOL.
 */
#include "log.h"
#include "net.h"

/* This copy of log.c logs through the caller's sink for one call. */
static void
enter(const struct amfa_net_log *log)
{
	amfa_log_set_sink(log->sink, log->ctx);
	amfa_log_set_debug(log->debug);
}

static void
leave(void)
{
	amfa_log_set_sink(NULL, NULL);
	amfa_log_set_debug(0);
}

static enum amfa_sts_result
plugin_sts(const struct amfa_net_log *log, const struct amfa_sts_config *c,
    const struct amfa_aws_key *key, const char *serial, const char *code,
    struct amfa_sts_credentials *out)
{
	enum amfa_sts_result r;

	enter(log);
	r = amfa_sts_get_session_token(c, key, serial, code, out);
	leave();
	return r;
}

static enum amfa_ykval_result
plugin_ykval(const struct amfa_net_log *log, const struct amfa_ykval_config *c,
    const char *otp)
{
	enum amfa_ykval_result r;

	enter(log);
	r = amfa_ykval_verify(c, otp);
	leave();
	return r;
}

extern const struct amfa_net_ops amfa_net_ops_v2;

const struct amfa_net_ops amfa_net_ops_v2 = {
	.size = sizeof(struct amfa_net_ops),
	.version = AMFA_VERSION,
	.sts_get_session_token = plugin_sts,
	.ykval_verify = plugin_ykval,
};
