/* The module's audit trail; see audit.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "audit_chain.h"
#include "audit_json.h"
#include "json_line.h"
#include "log.h"
#include "secure_file.h"

static int
is_stepup(const char *service)
{
	return service != NULL &&
	    (strcmp(service, "sudo") == 0 || strcmp(service, "sudo-i") == 0);
}

char *
amfa_audit_format(const struct amfa_audit_rec *r, const struct timespec *now)
{
	struct amfa_json_line o;
	char when[AMFA_AUDIT_TIME_LEN];

	if (amfa_audit_time(now, when) != 0)
		return NULL;
	amfa_jl_begin(&o);
	amfa_jl_str(&o, "time", when);
	amfa_jl_str(&o, "event",
	    r->recovery					? "recovery" :
		r->via == NULL && is_stepup(r->service) ? "stepup" :
							  "auth");
	amfa_jl_str(&o, "service", r->service);
	amfa_jl_str(&o, "via", r->via);
	amfa_jl_str(&o, "result", r->result);
	amfa_jl_str(&o, "user", r->user);
	amfa_jl_str(&o, "iam_user", r->iam_user);
	amfa_jl_str(&o, "ruser", r->ruser);
	amfa_jl_str(&o, "rhost", r->rhost);
	amfa_jl_str(&o, "tty", r->tty);
	amfa_jl_str(&o, "reason", r->reason);
	amfa_jl_bool(&o, "grace", r->grace);
	amfa_jl_bool(&o, "credentials", r->credentials);
	amfa_jl_str(&o, "access_key_id", r->access_key_id);
	amfa_jl_str(&o, "request_id", r->request_id);
	if (r->recovery && r->recovery_left >= 0)
		amfa_jl_int(&o, "recovery_left", r->recovery_left);
	return amfa_jl_end(&o);
}

/* The audit log opened for appending: root's, regular, one link, not
 * writable by others (created 0600 if missing).  A descriptor or -1. */
static int
open_log(const char *path)
{
	struct stat st;
	int fd;

	fd = open(path,
	    O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
	    0600);
	if (fd < 0) {
		amfa_log(LOG_ERR, "audit_log %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 ||
	    (st.st_nlink != 1 && !amfa_chain_names_roots_only(path)) ||
	    (st.st_mode & 002) != 0) {
		amfa_log(LOG_ERR,
		    "audit_log %s: not a root-owned regular file "
		    "that others cannot write; not written",
		    path);
		close(fd);
		return -1;
	}
	return fd;
}

int
amfa_audit_append(const char *path, const char *json)
{
	int fd, head, anchor, r, tries = 0;

	if ((fd = open_log(path)) < 0)
		return -1;
	/* One write: appends of one line do not interleave; chained when the
	 * log has a chain head, and anchored when it has an anchor
	 * (audit_chain.h; read and written back: the log is open O_RDWR).
	 * A head replaced while this writer waited for it (-ESTALE): the new
	 * one. */
	do {
		anchor = -1;
		if ((head = amfa_chain_open(path)) == -2 ||
		    (head >= 0 &&
			(anchor = amfa_chain_anchor_open(path)) == -2))
			r = -EBADF;
		else
			r = amfa_chain_append_anchored(path, fd, head, anchor,
			    json);
		if (anchor >= 0)
			close(anchor);
		if (head >= 0)
			close(head);
	} while (r == -ESTALE && ++tries < 3);
	if (close(fd) != 0 && r == 0)
		r = -errno;
	if (r != 0) {
		amfa_log(LOG_ERR, "audit_log %s: record not written: %s", path,
		    strerror(-r));
		return -1;
	}
	return 0;
}

int
amfa_audit_ready(const struct amfa_config *cfg)
{
	int fd, r;

	if (cfg->audit_log == NULL)
		return 0;
	if ((fd = open_log(cfg->audit_log)) < 0)
		return -1;
	r = amfa_append_room(fd, AMFA_AUDIT_RECORD_MAX);
	close(fd);
	if (r != 0) {
		amfa_log(LOG_ERR, "audit_log %s: no room for a record (%s)",
		    cfg->audit_log, strerror(-r));
		return -1;
	}
	return 0;
}

int
amfa_audit_emit(const struct amfa_config *cfg, const struct amfa_audit_rec *r)
{
	struct timespec now;
	char *json;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &now);
	if ((json = amfa_audit_format(r, &now)) == NULL) {
		amfa_log(LOG_ERR, "audit: out of memory");
		return -1;
	}
	amfa_log(LOG_NOTICE, "audit %s", json);
	if (cfg->audit_log != NULL)
		rc = amfa_audit_append(cfg->audit_log, json);
	free(json);
	return rc;
}
