/*
 * What the root services (awsmfa-evidence, awsmfa-audit-writer and
 * awsmfa-netd, run by systemd) do first, and their shared wish to stop.
 */
#ifndef AMFA_ROOT_SERVICE_H
#define AMFA_ROOT_SERVICE_H

#include <signal.h>

/* Set by SIGTERM and SIGINT once amfa_root_service_start has run. */
extern volatile sig_atomic_t amfa_service_stopping;

/*
 * Log as `name' (syslog, authpriv, and standard error), umask 077, not
 * dumpable (root's credentials and records pass through: no core, no
 * tracing but by root), SIGTERM and SIGINT to amfa_service_stopping,
 * SIGPIPE and SIGHUP ignored.  0, or -1 when not run as root (logged).
 */
int amfa_root_service_start(const char *name);

#endif
