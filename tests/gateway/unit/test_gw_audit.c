/* Audit records: JSON shape, escaping, omitted fields, the log file rules. */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <json-c/json.h>

#include "audit.h"
#include "logcap.h"
#include "secure_file.h"
#include "tap.h"

static struct json_object *
field(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static const char *
str(struct json_object *o, const char *key)
{
	struct json_object *v = field(o, key);

	return v ? json_object_get_string(v) : NULL;
}

static void
format(void)
{
	struct gw_audit a = { .fd = -1,
		.user = "alice",
		.uid = 1001,
		.iam_user = "alice.iam",
		.src_addr = "192.0.2.9",
		.src_port = 51234,
		.sshd_pid = 4242,
		.config = "/etc/awsmfa/gateway.conf",
		.verified = 1 };
	struct gw_event ev = { .event = "relay_end",
		.result = "ok",
		.reason = "closed",
		.host = "db.corp",
		.addr = "10.1.1.1",
		.port = 22,
		.rule_line = 7,
		.relay = 1,
		.bytes_up = 5000000000ULL,
		.bytes_down = 12,
		.duration_ms = 1500 };
	struct timespec now = { 1795563000, 123456789 };
	struct json_object *o;
	char *text;

	text = gw_audit_format(&a, &ev, &now);
	ok(text != NULL && strchr(text, '\n') == NULL, "one line");
	o = json_tokener_parse(text);
	ok(o != NULL && json_object_is_type(o, json_type_object),
	    "parses as a JSON object");
	is_str(str(o, "time"), "2026-11-24T23:30:00.123Z", "UTC time, ms");
	is_str(str(o, "event"), "relay_end", "event");
	is_str(str(o, "result"), "ok", "result");
	is_str(str(o, "user"), "alice", "user");
	is_int(json_object_get_int64(field(o, "uid")), 1001, "uid");
	is_str(str(o, "iam_user"), "alice.iam", "iam_user");
	is_str(str(o, "source"), "192.0.2.9", "source");
	is_int(json_object_get_int64(field(o, "source_port")), 51234,
	    "source_port");
	is_int(json_object_get_int64(field(o, "sshd_pid")), 4242, "sshd_pid");
	is_str(str(o, "target"), "db.corp", "target");
	is_int(json_object_get_int64(field(o, "port")), 22, "port");
	is_str(str(o, "address"), "10.1.1.1", "address");
	is_str(str(o, "rule"), "/etc/awsmfa/gateway.conf:7", "rule");
	is_int(json_object_get_int64(field(o, "bytes_up")), 5000000000LL,
	    "bytes_up beyond 32 bits");
	is_int(json_object_get_int64(field(o, "bytes_down")), 12, "bytes_down");
	is_int(json_object_get_int64(field(o, "duration_ms")), 1500,
	    "duration_ms");
	json_object_put(o);
	free(text);

	/* A refusal before the marker was read: fewer fields. */
	struct gw_audit b = { .fd = -1, .user = "bob", .uid = 7 };
	struct gw_event ev2 = { .event = "command",
		.result = "denied",
		.reason = "unknown command",
		.command = "x\"}\n{\"forged\":1" };

	text = gw_audit_format(&b, &ev2, &now);
	o = text ? json_tokener_parse(text) : NULL;
	ok(o != NULL && strchr(text, '\n') == NULL,
	    "quotes and newlines in user input stay inside one string");
	is_str(str(o, "command"), "x\"}\n{\"forged\":1",
	    "and come back intact");
	ok(field(o, "forged") == NULL, "no forged field");
	ok(field(o, "iam_user") == NULL && field(o, "source") == NULL &&
		field(o, "port") == NULL && field(o, "rule") == NULL &&
		field(o, "bytes_up") == NULL && field(o, "sshd_pid") == NULL &&
		field(o, "claimed_source") == NULL &&
		field(o, "leader_pid") == NULL,
	    "unknown values are left out");
	json_object_put(o);
	free(text);

	/*
	 * No valid gate marker: anyone may have run the gateway by hand with
	 * an SSH_CONNECTION of their own.  The record says so and carries
	 * what the caller chose only under names that say so.
	 */
	struct gw_audit c = { .fd = -1,
		.user = "mallory",
		.uid = 66,
		.src_addr = "203.0.113.5",
		.src_port = 4444,
		.sshd_pid = 1 };
	struct gw_event ev3 = { .event = "login",
		.result = "denied",
		.reason = "no marker" };

	text = gw_audit_format(&c, &ev3, &now);
	o = text ? json_tokener_parse(text) : NULL;
	ok(o != NULL, "unverified record parses");
	is_str(str(o, "connection"), "unverified", "marked unverified");
	ok(field(o, "source") == NULL && field(o, "source_port") == NULL &&
		field(o, "sshd_pid") == NULL,
	    "no source, source_port or sshd_pid the caller chose");
	is_str(str(o, "claimed_source"), "203.0.113.5", "claimed_source");
	is_int(json_object_get_int64(field(o, "claimed_source_port")), 4444,
	    "claimed_source_port");
	is_int(json_object_get_int64(field(o, "leader_pid")), 1,
	    "leader_pid (not proven to be sshd)");
	json_object_put(o);
	free(text);
	text = gw_audit_format(&a, &ev, &now);
	o = text ? json_tokener_parse(text) : NULL;
	ok(o != NULL && field(o, "connection") == NULL &&
		field(o, "claimed_source") == NULL,
	    "a verified record is not");
	json_object_put(o);
	free(text);

	/*
	 * Verified, but SSH_CONNECTION (the user's to set, by running the
	 * gateway by hand inside their connection) disagrees with sshd's
	 * PAM_RHOST in the marker: the marker's address is the source.
	 */
	struct gw_audit d = { .fd = -1,
		.user = "mallory",
		.uid = 66,
		.src_addr = "203.0.113.5",
		.src_port = 4444,
		.verified = 1 };
	gw_audit_prove_source(&d, "192.0.2.44");
	text = gw_audit_format(&d, &ev, &now);
	o = text ? json_tokener_parse(text) : NULL;
	is_str(o ? str(o, "source") : NULL, "192.0.2.44",
	    "source: the marker's rhost");
	ok(o != NULL && field(o, "source_port") == NULL,
	    "no source_port from a disagreeing SSH_CONNECTION");
	is_str(o ? str(o, "claimed_source") : NULL, "203.0.113.5",
	    "the forged address only as claimed_source");
	json_object_put(o);
	free(text);
	struct gw_audit e = { .src_addr = "192.0.2.44", .src_port = 50022 };
	gw_audit_prove_source(&e, "192.0.2.44");
	ok(e.src_addr != NULL && strcmp(e.src_addr, "192.0.2.44") == 0 &&
		e.src_port == 50022 && e.claimed_addr == NULL,
	    "agreeing: the source and its port");
	struct gw_audit f = { .src_addr = "192.0.2.44", .src_port = 50022 };
	gw_audit_prove_source(&f, "");
	ok(f.src_addr == NULL && f.claimed_addr != NULL &&
		f.claimed_port == 50022,
	    "a marker without rhost: only claims");
}

static off_t
size_of(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}

/*
 * Whole or nothing under RLIMIT_FSIZE (SIGXFSZ ignored, as startup.c
 * does): no room for the line and the slack, no write at all.
 */
static void
size_limit(void)
{
	char dir[] = "/tmp/gw-audit-XXXXXX", path[128];
	struct gw_audit a = { .user = "alice", .uid = 1, .writer_fd = -1 };
	struct gw_event ev = { .event = "login", .result = "ok" };
	struct rlimit old, rl;
	off_t before;
	int fd;

	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	ok(mkdtemp(dir) != NULL, "temp dir");
	snprintf(path, sizeof(path), "%s/audit.log", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0620);
	write(fd, "{}\n", 3);
	close(fd);
	ok((a.fd = gw_audit_open(path, getuid(), 0)) >= 0, "log opens");
	before = size_of(path);
	logcap_start();
	for (rlim_t extra = 0; extra < 400; extra += 7) {
		rl.rlim_cur = (rlim_t)before + extra;
		rl.rlim_max = old.rlim_max;
		if (setrlimit(RLIMIT_FSIZE, &rl) != 0 ||
		    gw_audit_emit(&a, &ev) != -1 || size_of(path) != before)
			break;
		if (extra + 7 >= 400)
			ok(1, "limit at size + 0..399: -1, nothing written");
	}
	ok(size_of(path) == before, "the log did not grow");
	rl.rlim_cur = (rlim_t)before + AMFA_APPEND_SLACK + 1000;
	ok(setrlimit(RLIMIT_FSIZE, &rl) == 0 && gw_audit_emit(&a, &ev) == 0 &&
		size_of(path) > before,
	    "room for the record and the slack: "
	    "written");
	close(a.fd);
	unlink(path);
	rmdir(dir);
}

static void
logfile(void)
{
	char dir[] = "/tmp/gw-audit-XXXXXX", path[128], link[128];
	struct gw_audit a = { .user = "alice", .uid = 1, .writer_fd = -1 };
	struct gw_event ev = { .event = "login", .result = "ok" };
	char buf[4096];
	ssize_t n;
	int fd;

	ok(mkdtemp(dir) != NULL, "temp dir");
	snprintf(path, sizeof(path), "%s/audit.log", dir);
	snprintf(link, sizeof(link), "%s/link.log", dir);

	logcap_start();
	ok(gw_audit_open(path, getuid(), 0) == -1 && logcap_has("cannot open"),
	    "a missing log is not created");
	ok(access(path, F_OK) != 0, "and does not exist afterwards");

	fd = open(path, O_WRONLY | O_CREAT, 0620);
	close(fd);
	chmod(path, 0620);
	ok((a.fd = gw_audit_open(path, getuid(), 0)) >= 0, "0620 log opens");
	ok(gw_audit_emit(&a, &ev) == 0, "record written");
	ev.event = "shell";
	ok(gw_audit_emit(&a, &ev) == 0, "second record written");
	close(a.fd);
	fd = open(path, O_RDONLY);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	ok(n > 0 && buf[n - 1] == '\n' && strstr(buf, "\"event\":\"login\"") &&
		strstr(buf, "}\n{") && strstr(buf, "\"event\":\"shell\""),
	    "two newline-terminated records, appended in order");

	logcap_start();
	ok(gw_audit_open(path, getuid() + 1, 0) == -1 && logcap_has("owned by"),
	    "wrong owner refused");
	chmod(path, 0622);
	logcap_start();
	ok(gw_audit_open(path, getuid(), 0) == -1 &&
		logcap_has("not writable by others"),
	    "world-writable refused");
	chmod(path, 0620);
	symlink(path, link);
	logcap_start();
	ok(gw_audit_open(link, getuid(), 0) == -1 &&
		logcap_has("symbolic link"),
	    "symlink refused");
	logcap_start();
	ok(gw_audit_open(dir, getuid(), 0) == -1, "a directory is refused");
	unlink(link);
	unlink(path);
	rmdir(dir);
}

/* The reserve kept for MFA connections' records. */
static void
reserve(void)
{
	struct statvfs v;

	memset(&v, 0, sizeof(v));
	v.f_frsize = 4096;
	v.f_blocks = 25600; /* 100 MiB: a reserve of 10 MiB */
	v.f_bavail = 2560 + 2;
	ok(gw_audit_reserve_ok(&v, 4096), "10 MiB + 8 KiB free: room");
	v.f_bavail = 2560;
	ok(!gw_audit_reserve_ok(&v, 4096), "10 MiB free: the reserve");
	v.f_bavail = 0;
	ok(!gw_audit_reserve_ok(&v, 1), "nothing free");
	v.f_blocks = 1ULL << 30; /* 4 TiB: the reserve stops at 1 GiB */
	v.f_bavail = (1ULL << 18) + 1;
	ok(gw_audit_reserve_ok(&v, 4096), "1 GiB + 4 KiB free of 4 TiB: room");
	v.f_bavail = 1ULL << 18;
	ok(!gw_audit_reserve_ok(&v, 4096), "1 GiB free of 4 TiB: the reserve");
}

/* The floor kept for everyone else, below verified records. */
static void
floor_kept(void)
{
	struct statvfs v;

	memset(&v, 0, sizeof(v));
	v.f_frsize = 4096;
	v.f_blocks = 25600; /* 100 MiB: a floor of 2.5 MiB */
	v.f_bavail = 640 + 2;
	ok(gw_audit_floor_ok(&v, 4096), "2.5 MiB + 8 KiB free: room");
	ok(!gw_audit_reserve_ok(&v, 4096), "... below the reserve");
	v.f_bavail = 640;
	ok(!gw_audit_floor_ok(&v, 4096), "2.5 MiB free: the floor");
	v.f_bavail = 0;
	ok(!gw_audit_floor_ok(&v, 1), "nothing free");
	v.f_blocks = 1ULL << 30; /* 4 TiB: the floor stops at 256 MiB */
	v.f_bavail = (1ULL << 16) + 1;
	ok(gw_audit_floor_ok(&v, 4096), "256 MiB + 4 KiB free of 4 TiB: room");
	v.f_bavail = 1ULL << 16;
	ok(!gw_audit_floor_ok(&v, 4096), "256 MiB free of 4 TiB: the floor");
}

int
main(void)
{
	format();
	logfile();
	size_limit();
	reserve();
	floor_kept();
	return tap_done();
}
