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
#include "store/state.h"
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

/* The used marks of recovery codes: a field of their own, optional. */
static void
recovery_marks(void)
{
	const char old[] = "version 1\nlast_step 5\nfailures 1\n"
			   "locked_until 0\nlast_success 9\nend\n";
	struct amfa_state st, back;
	char buf[4096];
	const char *why;

	ok(amfa_state_parse(old, strlen(old), &st, &why) == 0 &&
		st.recovery_gen == 0 && st.recovery_used == 0,
	    "a file without recovery_used: nothing used");
	ok(amfa_state_format(&st, buf, sizeof(buf)) == 0 &&
		strcmp(buf, old) == 0,
	    "and written back unchanged (no empty field)");
	st.recovery_gen = 0x5eed0001;
	st.recovery_used = 0x0205;
	ok(amfa_state_format(&st, buf, sizeof(buf)) == 0 &&
		strstr(buf, "\nrecovery_used 5eed0001 0205\nend\n") != NULL,
	    "recovery_used GEN MASK");
	ok(amfa_state_parse(buf, strlen(buf), &back, &why) == 0 &&
		back.recovery_gen == 0x5eed0001 &&
		back.recovery_used == 0x0205 && back.last_step == 5,
	    "reads back");
}

/* The largest state there can be still fits one slot. */
static void
largest(void)
{
	struct amfa_state st, back;
	char slot[AMFA_STATE_SLOT_SIZE], file[AMFA_STATE_FILE_SIZE];
	const char *why;
	uint64_t seq = 0;

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
	st.recovery_gen = UINT32_MAX;
	st.recovery_used = 0xffff;
	ok(amfa_state_slot_format(&st, UINT64_MAX, slot) == 0,
	    "the largest state, at the largest sequence number, fits a slot "
	    "of %d bytes",
	    AMFA_STATE_SLOT_SIZE);
	/* Counters as the parser bounds them, so that it reads back. */
	for (int i = 0; i < st.ntokens; i++) {
		st.tokens[i].public_id[i + 1] = 'c';
		st.tokens[i].session = 0xffff;
		st.tokens[i].use = 0xff;
	}
	st.failures = 1000000;
	st.last_step = INT64_MAX;
	st.locked_until = st.last_success = INT64_MAX;
	memset(file, '\n', sizeof(file));
	ok(amfa_state_slot_format(&st, 7, file + AMFA_STATE_SLOT_SIZE) == 0 &&
		amfa_state_slots_parse(file, sizeof(file), &back, &seq, &why) ==
		    0 &&
		seq == 7 && memcmp(&back, &st, sizeof(st)) == 0,
	    "and reads back");
}

/* Two slots: `older' (seq n) in its slot, `newer' (n + 1) in the other. */
static void
two_slots(char *file, const struct amfa_state *older,
    const struct amfa_state *newer, uint64_t n)
{
	memset(file, '\n', AMFA_STATE_FILE_SIZE);
	amfa_state_slot_format(older, n, file + (n % 2) * AMFA_STATE_SLOT_SIZE);
	amfa_state_slot_format(newer, n + 1,
	    file + ((n + 1) % 2) * AMFA_STATE_SLOT_SIZE);
}

static void
sample_states(struct amfa_state *a, struct amfa_state *b, struct amfa_state *c)
{
	memset(a, 0, sizeof(*a));
	a->last_step = 100;
	*b = *a;
	b->last_step = 101;
	b->ntokens = 1;
	strcpy(b->tokens[0].public_id, "vvccccfhcbcd");
	b->tokens[0].session = 3;
	*c = *b;
	c->failures = 4;
	c->locked_until = 1700000300;
}

/*
 * A write cut short at any byte of its slot leaves the previous state; a
 * flipped bit in either slot leaves a valid state, never a mix; both slots
 * bad is refused; the sequence number may wrap.
 */
static void
slots(void)
{
	struct amfa_state a, b, c, got;
	char file[AMFA_STATE_FILE_SIZE], torn[AMFA_STATE_FILE_SIZE];
	char fresh[AMFA_STATE_SLOT_SIZE];
	const char *why;
	uint64_t seq;
	int bad = 0, newer = 0;
	size_t at;

	sample_states(&a, &b, &c);
	/* slot 0: a (seq 10), slot 1: b (seq 11); c (seq 12) goes to 0. */
	two_slots(file, &a, &b, 10);
	ok(amfa_state_slots_parse(file, sizeof(file), &got, &seq, &why) == 0 &&
		seq == 11 && memcmp(&got, &b, sizeof(b)) == 0,
	    "the later slot is the state");
	amfa_state_slot_format(&c, 12, fresh);
	for (size_t k = 0; k <= AMFA_STATE_SLOT_SIZE; k++) {
		memcpy(torn, file, sizeof(torn));
		memcpy(torn, fresh, k);
		if (amfa_state_slots_parse(torn, sizeof(torn), &got, &seq,
			&why) != 0) {
			bad++;
			continue;
		}
		if (seq == 12 && memcmp(&got, &c, sizeof(c)) == 0 &&
		    memcmp(torn, fresh, AMFA_STATE_SLOT_SIZE) == 0)
			newer++;
		else if (!(seq == 11 && memcmp(&got, &b, sizeof(b)) == 0))
			bad++;
	}
	ok(bad == 0 && newer >= 1,
	    "a write torn at each of %d offsets leaves the previous state or, "
	    "once the slot is whole, the new one (%d bad)",
	    AMFA_STATE_SLOT_SIZE + 1, bad);

	bad = 0;
	for (size_t bit = 0; bit < 8 * sizeof(file); bit++) {
		memcpy(torn, file, sizeof(torn));
		torn[bit / 8] ^= (char)(1 << (bit % 8));
		at = bit / 8 / AMFA_STATE_SLOT_SIZE;
		if (amfa_state_slots_parse(torn, sizeof(torn), &got, &seq,
			&why) != 0) {
			bad++;
			continue;
		}
		/* Slot 1 (b) altered: a, unless the bit was padding. */
		if (!(seq == 11 && memcmp(&got, &b, sizeof(b)) == 0) &&
		    !(at == 1 && seq == 10 && memcmp(&got, &a, sizeof(a)) == 0))
			bad++;
	}
	ok(bad == 0,
	    "any one bit flipped in either slot leaves a whole state "
	    "(%d of %zu not)",
	    bad, 8 * sizeof(file));

	memcpy(torn, file, sizeof(torn));
	torn[100] ^= 1;
	torn[AMFA_STATE_SLOT_SIZE + 100] ^= 1;
	got = b;
	ok(amfa_state_slots_parse(torn, sizeof(torn), &got, &seq, &why) == -1 &&
		why != NULL && got.last_step == -1 && got.failures == 0 &&
		got.ntokens == 0,
	    "both slots bad: refused (%s), and nothing of either left in the "
	    "state",
	    why ? why : "");
	memset(torn, '\n', sizeof(torn));
	ok(amfa_state_slots_parse(torn, sizeof(torn), &got, &seq, &why) == -1,
	    "two empty slots: refused");
	ok(amfa_state_slots_parse(file, sizeof(file) - 1, &got, &seq, &why) ==
		-1,
	    "a file of another size: refused");

	two_slots(file, &a, &b, UINT64_MAX);
	ok(amfa_state_slots_parse(file, sizeof(file), &got, &seq, &why) == 0 &&
		seq == 0 && memcmp(&got, &b, sizeof(b)) == 0,
	    "the sequence number wraps: 0 follows 2^64 - 1");
}

/*
 * On disk: the first update writes the whole file; every later one writes
 * one slot in place (same file, same size), whatever it records (a
 * success, a lock, new token counters): no write needs room that an
 * earlier one did not take.  An earlier-form file is read as before and
 * becomes slots on its next update.
 */
static void
on_disk(void)
{
	char dir[] = "/tmp/amfa-state-XXXXXX", path[400], cmd[400];
	char before[AMFA_STATE_FILE_SIZE], after[AMFA_STATE_FILE_SIZE];
	struct amfa_config cfg = { 0 };
	struct amfa_state_handle h;
	struct amfa_state st;
	struct stat sb;
	ino_t ino = 0;
	const char *old = "version 1\nlast_step 7\nfailures 2\n"
			  "locked_until 0\nlast_success 5\nend\n";
	int fd, changed;

	ok(mkdtemp(dir) != NULL, "temp dir");
	cfg.state_dir = dir;
	snprintf(path, sizeof(path), "%s/bob.state", dir);
	logcap_start();
	for (int outcome = 0; outcome < 4; outcome++) {
		memset(before, 0, sizeof(before));
		if ((fd = open(path, O_RDONLY)) >= 0) {
			(void)!read(fd, before, sizeof(before));
			close(fd);
		}
		ok(amfa_state_open(&cfg, "bob", getuid(), &h, &st) == 0,
		    "open (%d)", outcome);
		if (outcome == 0 || outcome == 3) {
			st.last_step = 1 + outcome; /* a success */
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
		ok(stat(path, &sb) == 0 && sb.st_size == AMFA_STATE_FILE_SIZE &&
			(sb.st_mode & 0777) == 0600,
		    "file %d: %d bytes, 0600 (%lld)", outcome,
		    AMFA_STATE_FILE_SIZE, (long long)sb.st_size);
		fd = open(path, O_RDONLY);
		(void)!read(fd, after, sizeof(after));
		close(fd);
		if (outcome == 0) {
			ino = sb.st_ino;
			continue;
		}
		changed = (memcmp(before, after, AMFA_STATE_SLOT_SIZE) != 0) +
		    (memcmp(before + AMFA_STATE_SLOT_SIZE,
			 after + AMFA_STATE_SLOT_SIZE,
			 AMFA_STATE_SLOT_SIZE) != 0);
		ok(sb.st_ino == ino && changed == 1,
		    "update %d: in place, one slot written", outcome);
	}
	ok(amfa_state_open(&cfg, "bob", getuid(), &h, &st) == 0 &&
		st.ntokens == AMFA_STATE_MAX_TOKENS && st.last_step == 4 &&
		st.locked_until == 9999999999,
	    "the last update reads back");
	amfa_state_close(&h);

	/* Both slots broken: refused, and the file left alone. */
	fd = open(path, O_WRONLY);
	ok(pwrite(fd, "x", 1, 100) == 1 &&
		pwrite(fd, "x", 1, AMFA_STATE_SLOT_SIZE + 100) == 1,
	    "break both slots");
	close(fd);
	ok(amfa_state_open(&cfg, "bob", getuid(), &h, &st) == -1 &&
		logcap_has("neither slot is valid"),
	    "refused, saying why");
	ok(stat(path, &sb) == 0 && sb.st_size == AMFA_STATE_FILE_SIZE,
	    "and not reset");

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ok(fd >= 0 && write(fd, old, strlen(old)) == (ssize_t)strlen(old),
	    "a state file of the earlier form");
	close(fd);
	ok(amfa_state_open(&cfg, "bob", getuid(), &h, &st) == 0 &&
		st.last_step == 7 && st.failures == 2 && st.last_success == 5,
	    "is read as before");
	ok(amfa_state_commit(&h, &st) == 0, "and updated");
	amfa_state_close(&h);
	ok(stat(path, &sb) == 0 && sb.st_size == AMFA_STATE_FILE_SIZE &&
		amfa_state_open(&cfg, "bob", getuid(), &h, &st) == 0 &&
		st.last_step == 7 && st.failures == 2 && st.last_success == 5,
	    "as slots, nothing lost");
	amfa_state_close(&h);
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
	recovery_marks();
	slots();
	on_disk();
	return tap_done();
}
