/* Capture the core's log messages in unit tests. */
#ifndef AMFA_LOGCAP_H
#define AMFA_LOGCAP_H

#include <stdio.h>
#include <string.h>

#include "log.h"

static char logcap_buf[8192];

static void
logcap_sink(void *ctx, int prio, const char *msg)
{
	size_t n = strlen(logcap_buf);

	(void)ctx;
	(void)prio;
	snprintf(logcap_buf + n, sizeof(logcap_buf) - n, "%s\n", msg);
}

static inline void
logcap_start(void)
{
	logcap_buf[0] = '\0';
	amfa_log_set_sink(logcap_sink, NULL);
}

static inline int
logcap_has(const char *s)
{
	return strstr(logcap_buf, s) != NULL;
}

#endif
