/*
 * Logging for the shared core.  The core never calls syslog itself: the
 * caller (the PAM module, the gateway, a test) installs a sink for the
 * current thread.  Messages name users and reasons, never codes or secrets.
 */
#ifndef AMFA_LOG_H
#define AMFA_LOG_H

#include <syslog.h>

typedef void amfa_log_sink(void *ctx, int priority, const char *msg);

/* Install a sink for this thread; NULL restores the default (stderr). */
void amfa_log_set_sink(amfa_log_sink *sink, void *ctx);
/* This thread's sink and its context (NULL, NULL: the default). */
void amfa_log_get_sink(amfa_log_sink **sink, void **ctx);
/* Debug messages are dropped unless enabled (module argument "debug"). */
void amfa_log_set_debug(int on);
int amfa_log_debug_enabled(void);

void amfa_log(int priority, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
#define amfa_debug(...)                                   \
	do {                                              \
		if (amfa_log_debug_enabled())             \
			amfa_log(LOG_DEBUG, __VA_ARGS__); \
	} while (0)

#endif
