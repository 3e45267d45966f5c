/*
 * Session recording, in parts: asciicast lines (JSON escaping, UTF-8 cut
 * between reads, bytes that are not UTF-8), the size limit and the file
 * size limit (every line whole, the file stays valid), the recording
 * directory's checks (a link, loose modes, the wrong owner or group are
 * refused), the exclusive 0440 file, the
 * recording settings of gateway.conf, a shell without a terminal run
 * and recorded (output, errors, exit status), the recorder's control
 * messages (one lost to ECONNRESET once), and who holds a terminal.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "gwconf.h"
#include "logcap.h"
#include "recording/asciicast.h"
#include "recording/recorded_shell.h"
#include "recording/recorder_ctl.h"
#include "recording/recording.h"
#include "recording/recording_dir.h"
#include "recording/tty_holders.h"
#include "tap.h"

static char tmpdir[] = "/tmp/amfa-gwrec-XXXXXX";

/* The JSON string that an event line holds, decoded by json-c. */
static char *
event_data(const char *line, char *type)
{
	struct json_object *o = json_tokener_parse(line), *v;
	char *out = NULL;

	if (o == NULL || !json_object_is_type(o, json_type_array) ||
	    json_object_array_length(o) != 3)
		goto done;
	v = json_object_array_get_idx(o, 1);
	*type = json_object_get_string(v)[0];
	v = json_object_array_get_idx(o, 2);
	out = strdup(json_object_get_string(v));
done:
	json_object_put(o);
	return out;
}

static void
events(void)
{
	struct gw_buf b = { 0 };
	struct gw_utf8_carry carry = { .n = 0 };
	char type = 0, *d;
	/* "é" is c3 a9; "€" is e2 82 ac. */
	const unsigned char part1[] = "a\"\\\x01\r\n\xe2\x82";
	const unsigned char part2[] = "\xac\xc3";
	const unsigned char part3[] = "\xa9z";
	const unsigned char bad[] = "x\xff\xc0\xafy\xed\xa0\x80";

	ok(gw_cast_event(&b, 1500000, 'o', part1, sizeof(part1) - 1, &carry) ==
		    0 &&
		carry.n == 2,
	    "a character cut at the end is carried over");
	ok(strncmp(b.p, "[1.500000, \"o\", \"", 17) == 0 &&
		b.p[b.len - 1] == '\n',
	    "event line: time, type, data, newline: %s", b.p);
	d = event_data(b.p, &type);
	is_str(d, "a\"\\\x01\r\n", "quotes, backslash, controls decode back");
	ok(type == 'o', "type o");
	free(d);
	b.len = 0;
	ok(gw_cast_event(&b, 2, 'o', part2, sizeof(part2) - 1, &carry) == 0 &&
		carry.n == 1,
	    "the carried bytes complete a character; a new one is carried");
	d = event_data(b.p, &type);
	is_str(d, "\xe2\x82\xac", "the euro sign is whole in the next event");
	free(d);
	b.len = 0;
	gw_cast_event(&b, 3, 'o', part3, sizeof(part3) - 1, &carry);
	d = event_data(b.p, &type);
	is_str(d, "\xc3\xa9z", "and the e acute after it");
	free(d);
	b.len = 0;
	gw_cast_event(&b, 4, 'o', bad, sizeof(bad) - 1, NULL);
	d = event_data(b.p, &type);
	is_str(d,
	    "x\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdy\xef\xbf\xbd\xef\xbf\xbd"
	    "\xef\xbf\xbd",
	    "bytes that are not UTF-8 (overlong, surrogate) become U+FFFD");
	free(d);
	gw_buf_free(&b);
}

static void
header(void)
{
	struct gw_buf b = { 0 };
	struct gw_cast_header h = { .width = 120,
		.height = 40,
		.timestamp = 1795563000,
		.term = "xterm\xff",
		.shell = "/bin/sh",
		.user = "alice",
		.uid = 1001,
		.iam_user = "alice.iam",
		.host = "bastion",
		.source = "192.0.2.9",
		.source_port = 50000,
		.sshd_pid = 42,
		.time = "2026-11-25T10:10:00.000Z" };
	struct json_object *o, *w, *v;

	ok(gw_cast_header(&b, &h) == 0 && b.p[b.len - 1] == '\n' &&
		strchr(b.p, '\n') == b.p + b.len - 1,
	    "the header is one line");
	o = json_tokener_parse(b.p);
	ok(o != NULL, "header is JSON: %s", b.p);
	ok(json_object_object_get_ex(o, "version", &v) &&
		json_object_get_int(v) == 2,
	    "version 2");
	ok(json_object_object_get_ex(o, "width", &v) &&
		json_object_get_int(v) == 120,
	    "width");
	ok(json_object_object_get_ex(o, "awsmfa", &w) &&
		json_object_object_get_ex(w, "iam_user", &v) &&
		strcmp(json_object_get_string(v), "alice.iam") == 0,
	    "awsmfa.iam_user");
	ok(json_object_object_get_ex(w, "source", &v) &&
		strcmp(json_object_get_string(v), "192.0.2.9") == 0,
	    "awsmfa.source");
	ok(json_object_object_get_ex(o, "env", &w) &&
		json_object_object_get_ex(w, "TERM", &v) &&
		strcmp(json_object_get_string(v), "xterm\xef\xbf\xbd") == 0,
	    "a TERM that is not UTF-8 is made so");
	json_object_put(o);
	gw_buf_free(&b);
}

static int
new_file(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC, 0600);
}

static char *
slurp(const char *name, size_t *len)
{
	char path[256], *buf = malloc(1 << 20);
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	fd = open(path, O_RDONLY);
	n = read(fd, buf, (1 << 20) - 1);
	close(fd);
	buf[n < 0 ? 0 : n] = '\0';
	*len = n < 0 ? 0 : (size_t)n;
	return buf;
}

/* Every line whole JSON, the file ending with a newline. */
static int
whole_lines(const char *buf, size_t len)
{
	const char *p = buf;

	if (len == 0 || buf[len - 1] != '\n')
		return 0;
	while (p < buf + len) {
		const char *nl = strchr(p, '\n');
		char *line = strndup(p, (size_t)(nl - p));
		struct json_object *o = json_tokener_parse(line);

		free(line);
		if (o == NULL)
			return 0;
		json_object_put(o);
		p = nl + 1;
	}
	return 1;
}

static void
limits(void)
{
	struct gw_cast_header h = { .width = 80, .height = 24, .user = "u" };
	struct gw_recording r;
	char chunk[1000], *buf;
	size_t len;
	int i, rc = 0;
	struct rlimit old, lim;

	memset(chunk, 'x', sizeof(chunk));
	ok(gw_recording_start(&r, new_file("max.cast"), 10000, 0, &h) == 0,
	    "recording started");
	for (i = 0; i < 100 && rc == 0; i++)
		rc = gw_recording_output(&r, 1, chunk, sizeof(chunk));
	ok(rc == -1 && !gw_recording_on(&r) && r.failed &&
		strstr(r.failed, "recording_max_size"),
	    "the size limit ends the recording: %s", r.failed);
	is_int(gw_recording_output(&r, 1, "more", 4), 0,
	    "after the end, nothing more and no error");
	gw_recording_close(&r);
	buf = slurp("max.cast", &len);
	ok(len <= 10000 && len > 8000, "file within the limit (%zu)", len);
	ok(whole_lines(buf, len), "every line whole");
	free(buf);

	/* A caller's RLIMIT_FSIZE, SIGXFSZ ignored (as startup.c has it). */
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	ok(gw_recording_start(&r, new_file("fsize.cast"), 1 << 30, 0, &h) == 0,
	    "second recording started");
	lim.rlim_cur = lim.rlim_max = old.rlim_max;
	lim.rlim_cur = r.written + 70000 + 3000;
	setrlimit(RLIMIT_FSIZE, &lim);
	rc = 0;
	for (i = 0; i < 200 && rc == 0; i++)
		rc = gw_recording_output(&r, 1, chunk, sizeof(chunk));
	setrlimit(RLIMIT_FSIZE, &old);
	ok(rc == -1 && r.failed && strstr(r.failed, "RLIMIT_FSIZE"),
	    "the file size limit ends the recording: %s", r.failed);
	gw_recording_close(&r);
	buf = slurp("fsize.cast", &len);
	ok(whole_lines(buf, len), "every line whole (%zu bytes)", len);
	free(buf);
}

static void
directory(void)
{
	char dir[256], link[256], name[256];
	struct stat st;
	int fd, f2;
	gid_t g = getegid();

	snprintf(dir, sizeof(dir), "%s/rec", tmpdir);
	snprintf(link, sizeof(link), "%s/rec-link", tmpdir);
	mkdir(dir, 0700);
	chmod(dir, GW_RECDIR_MODE);
	ok(chown(dir, geteuid(), g) == 0, "directory made");
	logcap_start();
	fd = gw_recdir_open(dir, geteuid(), g);
	ok(fd >= 0, "root:GROUP 1730 is accepted");
	symlink(dir, link);
	ok(gw_recdir_open(link, geteuid(), g) < 0 &&
		logcap_has("symbolic link"),
	    "a link to it is refused");
	ok(gw_recdir_open(dir, geteuid() + 1, g) < 0, "another owner refused");
	ok(gw_recdir_open(dir, geteuid(), g + 1) < 0, "another group refused");
	for (unsigned m = 0; m < 4; m++) {
		const mode_t loose[] = { 01731, 01770, 01734, 0730 };

		chmod(dir, loose[m]);
		logcap_start();
		ok(gw_recdir_open(dir, geteuid(), g) < 0 &&
			logcap_has("mode 1730"),
		    "mode %04o refused", (unsigned)loose[m]);
	}
	chmod(dir, GW_RECDIR_MODE);

	f2 = gw_recfile_create(fd, "alice", name, sizeof(name));
	ok(f2 >= 0 && strncmp(name, "alice-", 6) == 0 &&
		strstr(name, ".cast") != NULL,
	    "a recording is created: %s", name);
	ok(fstat(f2, &st) == 0 && (st.st_mode & 07777) == GW_RECFILE_MODE &&
		st.st_nlink == 1,
	    "mode 0440 whatever the umask");
	ok((fcntl(f2, F_GETFL) & O_APPEND) && (fcntl(f2, F_GETFD) & FD_CLOEXEC),
	    "for appending, close-on-exec");
	close(f2);
	{
		char again[256];
		int f3 = gw_recfile_create(fd, "alice", again, sizeof(again));

		ok(f3 >= 0 && strcmp(again, name) != 0,
		    "a name taken is never reused: %s", again);
		close(f3);
	}
	ok(gw_recfile_create(fd, "a/b", name, sizeof(name)) == -ENAMETOOLONG,
	    "a user name with a slash makes no path");

	close(fd);
}

static void
settings(void)
{
	struct gw_config c;
	const char *ok_text = "recording_dir = /var/log/rec\n"
			      "recorder = /opt/rec/awsmfa-recorder\n"
			      "record_all_shells = yes\n"
			      "record_input = yes\n"
			      "recording_max_size = 2M\n"
			      "recording_failure = continue\n"
			      "allow users a shell record\n";

	ok(gw_config_parse(ok_text, strlen(ok_text), "gw.conf", &c) == 0,
	    "recording settings parse");
	ok(c.record_all_shells && c.record_input &&
		c.recording_max_size == 2 * 1024 * 1024 &&
		c.recording_failure == GW_REC_FAIL_CONTINUE &&
		strcmp(c.recording_dir, "/var/log/rec") == 0 &&
		strcmp(c.recorder, "/opt/rec/awsmfa-recorder") == 0 &&
		c.policy.rules[0].record,
	    "and hold what they say");
	gw_config_free(&c);
	ok(gw_config_parse("allow users a shell\n", 20, "gw.conf", &c) == 0 &&
		c.recording_max_size == GW_REC_DEFAULT_MAX &&
		c.recording_failure == GW_REC_FAIL_END && !c.record_input &&
		c.recorder == NULL,
	    "defaults: 64M, end, no input, the built-in recorder");
	gw_config_free(&c);

	struct {
		const char *text, *msg;
	} bad[] = {
		{ "allow users a shell record\n",
		    "gw.conf:1: a \"shell record\" rule needs recording_dir" },
		{ "# x\nrecord_all_shells = yes\n",
		    "gw.conf:2: record_all_shells = yes needs recording_dir" },
		{ "deny users a shell record\n", "belongs to allow rules" },
		{ "allow users a shell recorded\n", "\"shell record\"" },
		{ "recording_dir = rec\n", "must be an absolute path" },
		{ "recorder = awsmfa-recorder\n", "must be an absolute path" },
		{ "recorder = /a\nrecorder = /b\n", "given more than once" },
		{ "record_input = maybe\n",
		    "gw.conf:1: record_input is yes or no" },
		{ "recording_max_size = 1K\n", "from 4K to 1024G" },
		{ "recording_max_size = 2T\n", "from 4K to 1024G" },
		{ "recording_max_size = 99999999999999999999\n", "from 4K" },
		{ "recording_failure = ignore\n", "end (the session ends)" },
		{ "record_input = no\nrecord_input = no\n",
		    "gw.conf:2: record_input given more than once" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		logcap_start();
		ok(gw_config_parse(bad[i].text, strlen(bad[i].text), "gw.conf",
		       &c) != 0 &&
			logcap_has(bad[i].msg),
		    "refused: %s", bad[i].msg);
	}
}

static int
no_failure(void *ctx, const char *why)
{
	(void)ctx;
	(void)why;
	return -1;
}

/* A shell without a terminal, recorded: in a child with stdin a pipe. */
static void
pipe_session(void)
{
	int in[2], st;
	pid_t pid;
	char *buf;
	size_t len;

	pipe(in);
	write(in[1], "echo out-1; echo err-1 >&2; exit 7\n", 35);
	close(in[1]);
	if ((pid = fork()) == 0) {
		struct gw_startup su;
		struct gw_session s;
		struct gw_session_result res;
		struct gw_recording r;
		struct gw_cast_header h = { .width = 80, .height = 24 };
		struct gw_shell_spec spec = { "/bin/sh", "-sh",
			(char *[]){ "PATH=/usr/bin:/bin", NULL }, &su, NULL };
		int fd = new_file("pipe.cast");

		dup2(in[0], 0);
		close(in[0]);
		dup2(open("/dev/null", O_WRONLY), 1);
		dup2(1, 2);
		memset(&su, 0, sizeof(su));
		getrlimit(RLIMIT_FSIZE, &su.fsize);
		getrlimit(RLIMIT_CORE, &su.core);
		su.umask = 022;
		gw_session_probe(&s);
		gw_recording_start(&r, fd, 1 << 20, 0, &h);
		if (gw_session_run(&s, &spec, &r, no_failure, NULL, &res) != 0)
			_exit(100);
		gw_recording_close(&r);
		_exit(strcmp(res.end, "exit") == 0 ? res.status : 101);
	}
	close(in[0]);
	waitpid(pid, &st, 0);
	is_int(WEXITSTATUS(st), 7, "the shell's exit status comes back");
	buf = slurp("pipe.cast", &len);
	ok(whole_lines(buf, len), "whole lines");
	ok(strstr(buf, "\"o\", \"out-1\\n\"") != NULL, "stdout recorded");
	ok(strstr(buf, "\"o\", \"err-1\\n\"") != NULL, "stderr recorded");
	ok(strstr(buf, "echo out-1") == NULL, "the input is not recorded");
	free(buf);
}

/* The control socket: messages whole; one queued behind a reset peer. */
static void
control(void)
{
	char buf[GW_CTL_MAX];
	const char *arg;
	int sv[2];

	socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv);
	ok(gw_ctl_send(sv[1], "created %s", "bob-1.cast") == 0, "sent");
	ok(gw_ctl_recv(sv[0], buf, 1000, &arg) == 18 &&
		gw_ctl_is(buf, "created") && strcmp(arg, "bob-1.cast") == 0 &&
		!gw_ctl_is(buf, "create"),
	    "received whole: %s", buf);
	is_int(gw_ctl_recv(sv[0], buf, 50, &arg), -2, "nothing: time runs out");
	/* The recorder ends with a "stop" of ours unread: its "end" still
	 * reaches us (the reset is reported first, then the message). */
	gw_ctl_send(sv[0], "stop");
	gw_ctl_send(sv[1], "end exit 3 0 42");
	close(sv[1]);
	ok(gw_ctl_recv(sv[0], buf, 1000, &arg) > 0 && gw_ctl_is(buf, "end") &&
		strcmp(arg, "exit 3 0 42") == 0,
	    "the last message survives the peer's reset: %s", buf);
	is_int(gw_ctl_recv(sv[0], buf, 1000, &arg), -1, "then the end");
	close(sv[0]);
	/* Drained before closing, the peer sees no reset at all. */
	socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv);
	gw_ctl_send(sv[0], "stop");
	gw_ctl_drain(sv[1]);
	gw_ctl_send(sv[1], "end hangup 129 1 42");
	close(sv[1]);
	ok(recv(sv[0], buf, sizeof(buf), 0) == 19, "no reset after a drain");
	close(sv[0]);
}

/* Who holds a terminal: a child with the pty's slave open is found. */
static void
holders(void)
{
	char name[64], path[128];
	int master, slave, p[2], st;
	pid_t pid;

	master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0 ||
	    ptsname_r(master, path, sizeof(path)) != 0) {
		ok(1, "# SKIP no pseudo-terminal");
		return;
	}
	slave = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	pipe(p);
	if ((pid = fork()) == 0) {
		char c;

		close(p[1]);
		(void)read(p[0], &c, 1); /* holds the slave until told */
		_exit(0);
	}
	close(p[0]);
	ok(gw_tty_holder(slave, getpid(), name, sizeof(name)) == pid,
	    "the child holding the terminal is found (%s)", name);
	write(p[1], "x", 1);
	close(p[1]);
	waitpid(pid, &st, 0);
	is_int(gw_tty_holder(slave, getpid(), name, sizeof(name)), 0,
	    "gone: none but us");
	pipe(p);
	is_int(gw_tty_holder(p[0], getpid(), name, sizeof(name)), -1,
	    "a pipe is not a terminal");
	close(p[0]);
	close(p[1]);
	close(slave);
	close(master);
}

int
main(void)
{
	char cmd[300];

	if (mkdtemp(tmpdir) == NULL)
		return 1;
	events();
	header();
	limits();
	settings();
	pipe_session();
	control();
	holders();
	if (geteuid() == 0)
		directory();
	else
		ok(1, "# SKIP the directory checks need root (chown)");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		return 1;
	return tap_done();
}
