/* Audit records as JSON lines; see audit.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <syslog.h>
#include <unistd.h>

#include "audit.h"
#include "audit_chain.h"
#include "audit_json.h"
#include "audit_writer.h"
#include "json_line.h"
#include "log.h"
#include "secure_file.h"

void
gw_audit_prove_source(struct gw_audit *a, const char *rhost)
{
	if (rhost != NULL && rhost[0] != '\0' && a->src_addr != NULL &&
	    strcmp(rhost, a->src_addr) == 0)
		return;
	a->claimed_addr = a->src_addr;
	a->claimed_port = a->src_port;
	a->src_addr = rhost != NULL && rhost[0] != '\0' ? rhost : NULL;
	a->src_port = 0;
}

char *
gw_audit_format(const struct gw_audit *a, const struct gw_event *ev,
    const struct timespec *now)
{
	struct amfa_json_line o;
	char when[AMFA_AUDIT_TIME_LEN], rule[4200];

	if (amfa_audit_time(now, when) != 0)
		return NULL;
	amfa_jl_begin(&o);
	amfa_jl_str(&o, "time", when);
	amfa_jl_str(&o, "event", ev->event);
	amfa_jl_str(&o, "result", ev->result);
	amfa_jl_str(&o, "user", a->user);
	amfa_jl_int(&o, "uid", (int64_t)a->uid);
	amfa_jl_str(&o, "iam_user", a->iam_user);
	if (a->verified) {
		amfa_jl_str(&o, "source", a->src_addr);
		if (a->src_port != 0)
			amfa_jl_int(&o, "source_port", a->src_port);
		if (a->sshd_pid != 0)
			amfa_jl_int(&o, "sshd_pid", a->sshd_pid);
		amfa_jl_str(&o, "claimed_source", a->claimed_addr);
		if (a->claimed_port != 0)
			amfa_jl_int(&o, "claimed_source_port", a->claimed_port);
	} else {
		/* Anyone may have run us by hand: nothing here is proven. */
		amfa_jl_str(&o, "connection", "unverified");
		amfa_jl_str(&o, "claimed_source", a->src_addr);
		if (a->src_port != 0)
			amfa_jl_int(&o, "claimed_source_port", a->src_port);
		if (a->sshd_pid != 0)
			amfa_jl_int(&o, "leader_pid", a->sshd_pid);
	}
	amfa_jl_str(&o, "command", ev->command);
	amfa_jl_str(&o, "target", ev->host);
	if (ev->port != 0)
		amfa_jl_int(&o, "port", ev->port);
	amfa_jl_str(&o, "address", ev->addr);
	if (ev->rule_line != 0) {
		snprintf(rule, sizeof(rule), "%s:%u",
		    a->config ? a->config : "?", ev->rule_line);
		amfa_jl_str(&o, "rule", rule);
	}
	amfa_jl_str(&o, "reason", ev->reason);
	amfa_jl_str(&o, "recording", ev->recording);
	if (ev->has_status)
		amfa_jl_int(&o, "exit_status", ev->exit_status);
	if (ev->relay) {
		amfa_jl_int(&o, "bytes_up", (int64_t)ev->bytes_up);
		amfa_jl_int(&o, "bytes_down", (int64_t)ev->bytes_down);
		amfa_jl_int(&o, "duration_ms", (int64_t)ev->duration_ms);
	}
	return amfa_jl_end(&o);
}

int
gw_audit_open(const char *path, uid_t owner, int chained)
{
	struct stat st;
	int fd;

	/* No O_CREAT: the administrator decides where, who and what mode. */
	if (chained)
		/* Only looked at (fstat, fstatvfs): no access to it needed. */
		fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	else
		fd = open(path,
		    O_WRONLY | O_APPEND | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK |
			O_CLOEXEC);
	if (fd < 0) {
		amfa_log(LOG_ERR, "%s: cannot open the audit log: %s", path,
		    errno == ELOOP ? "is a symbolic link" : strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		amfa_log(LOG_ERR, "%s: the audit log must be a regular file",
		    path);
		close(fd);
		return -1;
	}
	if (st.st_uid != owner || (st.st_mode & 002) != 0) {
		amfa_log(LOG_ERR,
		    "%s: the audit log must be owned by uid %u "
		    "and not writable by others",
		    path, (unsigned)owner);
		close(fd);
		return -1;
	}
	return fd;
}

/* amfa_append_room, logged (secure_file.h). */
static int
room_for(int fd, size_t len)
{
	int r = amfa_append_room(fd, len);

	if (r == -EFBIG)
		syslog(LOG_ERR,
		    "audit log: the file size limit leaves no room "
		    "for a record; nothing written");
	else if (r == -ENOSPC)
		syslog(LOG_ERR,
		    "audit log: the file system is full; nothing "
		    "written");
	else if (r != 0)
		syslog(LOG_ERR, "audit log: cannot check for room: %s",
		    strerror(-r));
	return r == 0 ? 0 : -1;
}

/* Is `len' free beyond a part of the file system: size / `part', at most
 * `max' bytes? */
static int
room_beyond(const struct statvfs *vfs, size_t len, unsigned part,
    unsigned long long max)
{
	unsigned long long size, avail, keep;

	size = (unsigned long long)vfs->f_blocks * vfs->f_frsize;
	avail = (unsigned long long)vfs->f_bavail * vfs->f_frsize;
	keep = size / part;
	if (keep > max)
		keep = max;
	return avail >= keep && avail - keep >= len;
}

int
gw_audit_reserve_ok(const struct statvfs *vfs, size_t len)
{
	return room_beyond(vfs, len, 10, GW_AUDIT_RESERVE_MAX);
}

int
gw_audit_floor_ok(const struct statvfs *vfs, size_t len)
{
	return room_beyond(vfs, len, 40, GW_AUDIT_FLOOR_MAX);
}

/*
 * Does this record go to the file, or to syslog alone?  The log is written
 * with the audit group, outside the caller's disk quota, and a full file
 * system refuses everyone's service (no record, no service), so no caller
 * may take the last of it:
 *
 *   - unverified records (any local account can run the gateway by hand,
 *     as often as it likes) stop at the reserve kept for MFA connections;
 *   - verified ones stop at the floor kept for everyone else.  A user who
 *     passed MFA can run the gateway by hand in a loop too (and open
 *     sessions over one connection without end); what the gateway cannot
 *     do is tell that user's records from the others' without state of
 *     its own (it may not read the log), so it bounds them all: past the
 *     floor, each record goes to syslog alone, where it was sent anyway,
 *     with a warning that the file lacks it, and the service goes on.
 *     Refusing instead would hand the flooding user what this prevents:
 *     everyone else refused.  The floor is left for the writers that
 *     must not fail (the module's audit records on the same file system,
 *     sshd, the journal), and the file is never filled by the gateway.
 *
 * A file system that cannot be asked (fstatvfs fails) takes an unverified
 * record nowhere but in syslog; a verified one is tried, under room_for.
 * `quiet': the question only (gw_audit_check), nothing logged.
 */
static int
file_takes(const struct gw_audit *a, const struct gw_event *ev, size_t len,
    int quiet)
{
	struct statvfs vfs;
	int have = fstatvfs(a->fd, &vfs) == 0;

	if (!a->verified) {
		if (have && gw_audit_reserve_ok(&vfs, len))
			return 1;
		if (!quiet)
			syslog(LOG_WARNING,
			    "audit log: the file system is down to its "
			    "reserve for MFA connections: an unverified "
			    "record (event %s) goes to syslog only",
			    ev->event);
		return 0;
	}
	if (!have || gw_audit_floor_ok(&vfs, len))
		return 1;
	if (!quiet)
		syslog(LOG_WARNING,
		    "audit log: the file system is down to the floor kept "
		    "for everyone else: the record of an MFA connection "
		    "(user %s, event %s) is in syslog only, not in the file",
		    a->user != NULL ? a->user : "?", ev->event);
	return 0;
}

int
gw_audit_check(const struct gw_audit *a, const struct gw_event *ev)
{
	struct timespec now;
	char *text;
	size_t len;
	int r;

	if (a->fd < 0)
		return 0;
	clock_gettime(CLOCK_REALTIME, &now);
	if ((text = gw_audit_format(a, ev, &now)) == NULL) {
		syslog(LOG_ERR, "cannot format an audit record (event %s)",
		    ev->event);
		return -1;
	}
	/* A record the file would not take goes to syslog: no refusal.  (The
	 * chain's fields take up to 100 bytes more.) */
	len = strlen(text) + 1 + 100;
	/* The file size limit is this process's only when it writes. */
	r = file_takes(a, ev, len + AMFA_APPEND_SLACK, 1) && a->writer_fd < 0 ?
	    room_for(a->fd, len) :
	    0;
	free(text);
	return r;
}

int
gw_audit_emit(const struct gw_audit *a, const struct gw_event *ev)
{
	struct timespec now;
	char *text;
	size_t len;
	ssize_t w;
	int r = 0;

	clock_gettime(CLOCK_REALTIME, &now);
	if ((text = gw_audit_format(a, ev, &now)) == NULL) {
		syslog(LOG_ERR, "cannot format an audit record (event %s)",
		    ev->event);
		return -1;
	}
	syslog(strcmp(ev->result, "ok") == 0 ? LOG_INFO : LOG_NOTICE, "%s",
	    text);
	/* The chain's fields take this much more room. */
	len = strlen(text) + 100;
	if (a->fd >= 0 && file_takes(a, ev, len + 1 + AMFA_APPEND_SLACK, 0)) {
		/* A chained log: its root writer appends the record, chained
		 * and anchored (audit_writer.h).  Otherwise one write with
		 * O_APPEND: records never interleave. */
		if (a->writer_fd >= 0) {
			if ((w = amfa_audit_writer_send(a->writer_fd, text)) !=
			    0)
				syslog(LOG_ERR, "audit writer: %s",
				    strerror((int)-w));
		} else if (room_for(a->fd, len + 1) != 0)
			w = -1;
		else if ((w = amfa_chain_append(a->fd, -1, text)) != 0)
			syslog(LOG_ERR, "audit log write failed: %s",
			    strerror((int)-w));
		if (w != 0) {
			syslog(LOG_ERR,
			    "audit record not written (event %s): "
			    "service refused",
			    ev->event);
			r = -1;
		}
	}
	free(text);
	return r;
}
