/* The state file: format, strict parsing, locked atomic updates. */
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "logcap.h"
#include "state.h"
#include "tap.h"
#include "yubikey/ykotp.h"

static void
roundtrip(void)
{
	struct amfa_state st, back;
	char buf[4096];
	const char *why;

	memset(&st, 0, sizeof(st));
	st.last_step = 56789012;
	st.failures = 3;
	st.locked_until = 1700000000;
	st.last_success = 1690000000;
	st.ntokens = 1;
	strcpy(st.tokens[0].public_id, "vvccccfhcbcd");
	st.tokens[0].session = 7;
	st.tokens[0].use = 2;
	ok(amfa_state_format(&st, buf, sizeof(buf)) == 0, "format");
	ok(amfa_state_parse(buf, strlen(buf), &back, &why) == 0, "parse back");
	is_int(back.last_step, 56789012, "last_step");
	is_int(back.failures, 3, "failures");
	is_int(back.locked_until, 1700000000, "locked_until");
	is_int(back.last_success, 1690000000, "last_success");
	is_int(back.ntokens, 1, "one token");
	is_str(back.tokens[0].public_id, "vvccccfhcbcd", "token id");
	is_int(back.tokens[0].session, 7, "session counter");
	is_int(back.tokens[0].use, 2, "use counter");
}

static void
corrupt(void)
{
	static const char *bad[] = {
		"",
		"version 1\n",
		"version 2\nlast_step 1\nfailures 0\nlocked_until 0\nend\n",
		"version 1\nlast_step 1\nfailures 0\nlocked_until 0\n",
		"version 1\nlast_step 1\nfailures 0\nlocked_until 0\nend",
		"version 1\nlast_step 1\nfailures 0\nend\n",
		"version 1\nlast_step 1\nlast_step 2\nfailures 0\nlocked_until 0\nend\n",
		"version 1\nlast_step x\nfailures 0\nlocked_until 0\nend\n",
		"version 1\nlast_step -2\nfailures 0\nlocked_until 0\nend\n",
		"version 1\nlast_step 1\nfailures -1\nlocked_until 0\nend\n",
		"version 1\nlast_step 1\nfailures 0\nlocked_until 0\nbogus 1\nend\n",
		"version 1\nlast_step 1\nfailures 0\nlocked_until 0\nend\nlast_step 9\n",
		"version 1\nlast_step 1\nfailures 0\nlocked_until 0\ntoken ABC 1 1\nend\n",
		"version 1\nlast_step 1\nfailures 0\nlocked_until 0\ntoken cccc 70000 1\nend\n",
		"version 1\nlast_step 1\nfailures 0\nlocked_until 0\ntoken cccc 1 1\ntoken cccc 2 2\nend\n",
		"version 1\nlast_step 99999999999999999999\nfailures 0\nlocked_until 0\nend\n",
		"version 1\nlast_step 1\nfailures 0\nlocked_until 0\nend\n",
		"version 1\nlast_step 1\nfailures 0\nlocked_until 0\nlast_success -5\nend\n",
	};
	struct amfa_state st;
	const char *why;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(amfa_state_parse(bad[i], strlen(bad[i]), &st, &why) == -1 &&
			why != NULL,
		    "corrupt state %zu refused (%s)", i, why);
	const char nul[] =
	    "version 1\nlast_step 1\0\nfailures 0\nlocked_until 0\nend\n";
	ok(amfa_state_parse(nul, sizeof(nul) - 1, &st, &why) == -1,
	    "NUL in state refused");
}

static void
files(void)
{
	char dir[] = "/tmp/amfa-state-XXXXXX", sd[300], path[400], cmd[400];
	struct amfa_config cfg = { 0 };
	struct amfa_state_handle h;
	struct amfa_state st;
	int fd;

	ok(mkdtemp(dir) != NULL, "temp dir");
	snprintf(sd, sizeof(sd), "%s/state", dir);
	cfg.state_dir = sd;
	logcap_start();
	ok(amfa_state_open(&cfg, "alice", getuid(), &h, &st) == 0,
	    "open creates the state dir");
	struct stat sb;
	ok(stat(sd, &sb) == 0 && (sb.st_mode & 0777) == 0700,
	    "state dir is 0700");
	is_int(st.last_step, -1, "fresh state has no step");
	st.last_step = 42;
	ok(amfa_state_commit(&h, &st) == 0, "commit");
	amfa_state_close(&h);
	snprintf(path, sizeof(path), "%s/alice.state", sd);
	ok(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600,
	    "state file is 0600");
	ok(amfa_state_open(&cfg, "alice", getuid(), &h, &st) == 0 &&
		st.last_step == 42,
	    "state read back");

	/* While we hold the lock nobody else gets it. */
	pid_t pid = fork();
	if (pid == 0) {
		struct amfa_state_handle h2;
		struct amfa_state st2;
		amfa_log_set_sink(logcap_sink, NULL);
		/* The lock wait is 10 s; we give up long before by alarm. */
		alarm(1);
		_exit(amfa_state_open(&cfg, "alice", getuid(), &h2, &st2) == 0 ?
			0 :
			1);
	}
	int status;
	waitpid(pid, &status, 0);
	ok(WIFSIGNALED(status), "a second opener waits for the lock");
	amfa_state_close(&h);

	/* Corrupt state: refused, and left as it was. */
	fd = open(path, O_WRONLY | O_TRUNC);
	ok(write(fd, "version 1\nlast_st", 17) == 17, "truncate state");
	close(fd);
	logcap_start();
	ok(amfa_state_open(&cfg, "alice", getuid(), &h, &st) == -1,
	    "corrupt state refused");
	ok(logcap_has("corrupt state"), "and logged");
	ok(stat(path, &sb) == 0 && sb.st_size == 17, "corrupt file untouched");
	unlink(path);

	ok(symlink("/etc/passwd", path) == 0,
	    "plant a symlink at the state path");
	logcap_start();
	ok(amfa_state_open(&cfg, "alice", getuid(), &h, &st) == -1,
	    "symlinked state refused");
	unlink(path);

	chmod(sd, 0755);
	logcap_start();
	ok(amfa_state_open(&cfg, "alice", getuid(), &h, &st) == -1 &&
		logcap_has("too open"),
	    "state dir readable by others refused");
	chmod(sd, 0700);

	logcap_start();
	ok(amfa_state_open(&cfg, "../x", getuid(), &h, &st) == -1,
	    "bad user name refused");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)!system(cmd);
}

/* The largest state there can be still fits one record. */
static void
largest(void)
{
	struct amfa_state st;
	char buf[AMFA_STATE_RECORD_SIZE];

	memset(&st, 0, sizeof(st));
	st.last_step = INT64_MIN;
	st.failures = LONG_MIN;
	st.locked_until = INT64_MIN;
	st.last_success = INT64_MIN;
	st.ntokens = AMFA_STATE_MAX_TOKENS;
	for (int i = 0; i < st.ntokens; i++) {
		memset(st.tokens[i].public_id, 'v', AMFA_YK_PUBLIC_ID_MAX);
		st.tokens[i].public_id[AMFA_YK_PUBLIC_ID_MAX] = '\0';
		st.tokens[i].session = UINT_MAX;
		st.tokens[i].use = UINT_MAX;
	}
	ok(amfa_state_format(&st, buf, sizeof(buf)) == 0 && strlen(buf) <= 1126,
	    "the largest state (%zu bytes) fits a record "
	    "of %d",
	    strlen(buf), AMFA_STATE_RECORD_SIZE);
}

/*
 * Every commit writes the same number of bytes, whatever it records: a
 * lock, new token counters, a success (a write that a size limit lets
 * through for one outcome lets it through for all).  The padding parses,
 * and a file of the earlier, unpadded form is read as before.
 */
static void
record_size(void)
{
	char dir[] = "/tmp/amfa-state-XXXXXX", path[400], cmd[400];
	struct amfa_config cfg = { 0 };
	struct amfa_state_handle h;
	struct amfa_state st;
	struct stat sb;
	const char *old = "version 1\nlast_step 7\nfailures 2\n"
			  "locked_until 0\nlast_success 5\nend\n";
	int fd;

	ok(mkdtemp(dir) != NULL, "temp dir");
	cfg.state_dir = dir;
	snprintf(path, sizeof(path), "%s/bob.state", dir);
	logcap_start();
	for (int outcome = 0; outcome < 3; outcome++) {
		ok(amfa_state_open(&cfg, "bob", getuid(), &h, &st) == 0,
		    "open (%d)", outcome);
		if (outcome == 0) {
			st.last_step = 1; /* a success */
		} else if (outcome == 1) {
			st.failures = 1000; /* a lock */
			st.locked_until = 9999999999;
		} else {
			st.ntokens = AMFA_STATE_MAX_TOKENS;
			for (int i = 0; i < st.ntokens; i++) {
				snprintf(st.tokens[i].public_id,
				    sizeof(st.tokens[i].public_id),
				    "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvv%c%c",
				    "cbdefghijklnrtuv"[i], 'c');
				st.tokens[i].session = 65535;
				st.tokens[i].use = 255;
			}
		}
		ok(amfa_state_commit(&h, &st) == 0, "commit (%d)", outcome);
		amfa_state_close(&h);
		ok(stat(path, &sb) == 0 && sb.st_size == AMFA_STATE_RECORD_SIZE,
		    "record %d is %d bytes (%lld)", outcome,
		    AMFA_STATE_RECORD_SIZE, (long long)sb.st_size);
	}
	ok(amfa_state_open(&cfg, "bob", getuid(), &h, &st) == 0 &&
		st.ntokens == AMFA_STATE_MAX_TOKENS &&
		st.locked_until == 9999999999,
	    "a padded record reads back");
	amfa_state_close(&h);

	fd = open(path, O_WRONLY | O_TRUNC);
	ok(fd >= 0 && write(fd, old, strlen(old)) == (ssize_t)strlen(old),
	    "an unpadded state file of the earlier form");
	close(fd);
	ok(amfa_state_open(&cfg, "bob", getuid(), &h, &st) == 0 &&
		st.last_step == 7 && st.failures == 2 && st.last_success == 5,
	    "is read as before");
	ok(amfa_state_commit(&h, &st) == 0, "and rewritten");
	amfa_state_close(&h);
	ok(stat(path, &sb) == 0 && sb.st_size == AMFA_STATE_RECORD_SIZE,
	    "as a whole record");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)!system(cmd);
}

int
main(void)
{
	roundtrip();
	corrupt();
	files();
	largest();
	record_size();
	return tap_done();
}
