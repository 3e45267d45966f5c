/* Logging sink dispatch; see log.h. */
#include <stdarg.h>
#include <stdio.h>

#include "log.h"

static __thread amfa_log_sink *log_sink;
static __thread void *log_ctx;
static __thread int log_debug;

void
amfa_log_set_sink(amfa_log_sink *sink, void *ctx)
{
	log_sink = sink;
	log_ctx = ctx;
}

void
amfa_log_get_sink(amfa_log_sink **sink, void **ctx)
{
	*sink = log_sink;
	*ctx = log_ctx;
}

void
amfa_log_set_debug(int on)
{
	log_debug = on;
}

int
amfa_log_debug_enabled(void)
{
	return log_debug;
}

void
amfa_log(int priority, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (log_sink != NULL)
		log_sink(log_ctx, priority, msg);
	else
		fprintf(stderr, "pam_awsmfa: %s\n", msg);
}
