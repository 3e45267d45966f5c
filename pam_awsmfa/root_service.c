/* The start of the root services: see root_service.h. */
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"
#include "root_service.h"

volatile sig_atomic_t amfa_service_stopping;

static const char *service_name = "awsmfa";

static void
on_term(int sig)
{
	(void)sig;
	amfa_service_stopping = 1;
}

static void
stderr_sink(void *ctx, int prio, const char *msg)
{
	(void)ctx;
	fprintf(stderr, "%s: %s\n", service_name, msg);
	syslog(prio, "%s", msg);
}

int
amfa_root_service_start(const char *name)
{
	struct sigaction sa;

	service_name = name;
	openlog(name, LOG_PID, LOG_AUTHPRIV);
	amfa_log_set_sink(stderr_sink, NULL);
	umask(077);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (geteuid() != 0) {
		amfa_log(LOG_ERR, "must run as root");
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	return 0;
}
