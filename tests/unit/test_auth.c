/* The authentication decision with a controlled clock. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "decision/auth.h"
#include "factors/totp.h"
#include "logcap.h"
#include "store/state.h"
#include "tap.h"

static const unsigned char seed[] = "12345678901234567890";
static struct amfa_config cfg;
static struct amfa_user user;

static const char *
code_at(time_t t)
{
	static char buf[16];
	struct amfa_totp_params p;

	amfa_user_totp(&user, &p);
	amfa_hotp(&p, (uint64_t)(t / 30), buf, sizeof(buf));
	return buf;
}

static enum amfa_auth_result
try(const char *code, time_t now)
{
	logcap_start();
	return amfa_auth_check(&cfg, &user, code, now, getuid());
}

/* The state on disk as it is at this moment (no lock: a verifier runs
 * while the decision holds it). */
static long
disk_failures(void)
{
	char path[300], buf[8192];
	struct amfa_state st;
	enum amfa_state_form form;
	uint64_t seq;
	const char *why;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/alice.state", cfg.state_dir);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (amfa_state_file_parse(buf, n, &st, &form, &seq, &why) != 0)
		return -2;
	return st.failures;
}

/* A verifier that calls out, as STS does: notes what is on record when
 * it runs, answers `arg'. */
static long seen_on_disk;

static enum amfa_auth_result
remote(const struct amfa_config *c, const struct amfa_user *u, const char *code,
    time_t now, struct amfa_state *st, void *arg)
{
	seen_on_disk = disk_failures();
	if (*(enum amfa_auth_result *)arg == AMFA_AUTH_OK)
		return amfa_auth_totp(c, u, code, now, st, NULL);
	return *(enum amfa_auth_result *)arg;
}

static enum amfa_auth_result
try_remote(const char *code, time_t now, enum amfa_auth_result answer)
{
	logcap_start();
	seen_on_disk = -100;
	return amfa_auth_run_remote(&cfg, &user, code, now, getuid(), remote,
	    &answer);
}

static enum amfa_auth_result
local(const struct amfa_config *c, const struct amfa_user *u, const char *code,
    time_t now, struct amfa_state *st, void *arg)
{
	(void)arg;
	seen_on_disk = disk_failures();
	return amfa_auth_totp(c, u, code, now, st, NULL);
}

static void
read_state(struct amfa_state *st)
{
	struct amfa_state_handle h;

	amfa_state_open(&cfg, "alice", getuid(), &h, st);
	amfa_state_close(&h);
}

int
main(void)
{
	char dir[] = "/tmp/amfa-auth-XXXXXX", cmd[300];
	const time_t t0 = 1700000010; /* 10 s into a step */
	char code[16];
	struct amfa_state st;

	ok(mkdtemp(dir) != NULL, "temp dir");
	cfg.state_dir = dir;
	cfg.window = 1;
	cfg.lockout_attempts = 3;
	cfg.lockout_seconds = 60;
	user.name = "alice";
	user.iam_user = "alice";
	user.totp_key = (unsigned char *)seed;
	user.totp_keylen = 20;
	user.totp_digits = 6;
	user.totp_period = 30;

	is_int(try(code_at(t0), t0), AMFA_AUTH_OK, "right code accepted");
	ok(logcap_has("user alice (IAM alice): code accepted"),
	    "success logged");
	ok(!logcap_has(code_at(t0)), "the code is not logged");
	is_int(try(code_at(t0), t0 + 5), AMFA_AUTH_REPLAY, "same code refused");
	ok(logcap_has("already used or earlier step"), "replay logged as such");
	is_int(try(code_at(t0 - 30), t0 + 5), AMFA_AUTH_REPLAY,
	    "earlier step inside the window refused after a newer one");
	read_state(&st);
	is_int(st.failures, 2, "refused replays count as failures");
	is_int(try(code_at(t0 + 30), t0 + 30), AMFA_AUTH_OK,
	    "next step accepted");
	read_state(&st);
	is_int(st.failures, 0, "success resets the failure count");
	is_int(st.last_step, (t0 + 30) / 30, "last step recorded");

	/* A clock stepped backwards does not reopen used steps. */
	is_int(try(code_at(t0), t0), AMFA_AUTH_REPLAY,
	    "clock stepped back: the old code is still refused");

	read_state(&st);
	is_int(st.failures, 1, "that counted as a failure too");

	/* Lockout after three failures; the next right code is not checked. */
	time_t t1 = t0 + 300;
	is_int(try(code_at(t1 - 30), t1 - 30), AMFA_AUTH_OK, "success resets");
	strcpy(code, code_at(t1));
	code[0] = code[0] == '9' ? '0' : (char)(code[0] + 1);
	is_int(try(code, t1), AMFA_AUTH_BAD_CODE, "wrong code 1");
	is_int(try("abcdef", t1), AMFA_AUTH_BAD_CODE,
	    "non-code counts as a failure");
	is_int(try(code, t1), AMFA_AUTH_BAD_CODE, "wrong code 3");
	ok(logcap_has("locked for 60 seconds"), "lock logged");
	is_int(try(code_at(t1), t1 + 1), AMFA_AUTH_LOCKED,
	    "right code refused while locked");
	read_state(&st);
	is_int(st.last_step, (t1 - 30) / 30,
	    "a locked attempt accepted nothing");
	is_int(st.locked_until, t1 + 60, "lock time recorded");
	is_int(try(code_at(t1 + 59), t1 + 59), AMFA_AUTH_LOCKED,
	    "still locked at 59 s");
	is_int(try(code_at(t1 + 61), t1 + 61), AMFA_AUTH_OK,
	    "right code accepted after the lock expires");
	read_state(&st);
	is_int(st.failures, 0, "count reset");
	is_int(st.locked_until, 0, "lock cleared");

	/* After expiry the count starts afresh: one failure does not relock. */
	time_t t2 = t1 + 600;
	is_int(try(code, t2), AMFA_AUTH_BAD_CODE, "a failure");
	is_int(try(code, t2), AMFA_AUTH_BAD_CODE, "a failure");
	is_int(try(code_at(t2), t2), AMFA_AUTH_OK, "success before the limit");

	/* grace: a success within the window counts, not after it. */
	logcap_start();
	ok(amfa_auth_recent(&cfg, &user, t2 + 100, getuid(), 300) == 1,
	    "success 100 s ago counts within 300 s");
	ok(logcap_has("counts (grace)"), "grace logged");
	ok(amfa_auth_recent(&cfg, &user, t2 + 301, getuid(), 300) == 0,
	    "not after 300 s");
	ok(amfa_auth_recent(&cfg, &user, t2 - 50, getuid(), 300) == 0,
	    "a success in the future (clock stepped back) does not count");
	strcpy(code, code_at(t2 + 60));
	code[0] = code[0] == '9' ? '0' : (char)(code[0] + 1);
	for (int i = 0; i < 3; i++)
		try(code, t2 + 60);
	ok(amfa_auth_recent(&cfg, &user, t2 + 61, getuid(), 300) == 0,
	    "a locked-out user gets no grace");

	/* Write-ahead (issue 23): a verifier that calls out runs with its
	 * attempt already counted on disk; a wrong code writes nothing
	 * more, a right one clears the count. */
	time_t t3 = t2 + 1200;
	is_int(try_remote(code_at(t3), t3, AMFA_AUTH_BAD_CODE),
	    AMFA_AUTH_BAD_CODE, "remote: wrong code");
	is_int(seen_on_disk, 1, "counted on disk before the verdict");
	read_state(&st);
	is_int(st.failures, 1, "and stays counted");
	is_int(try_remote(code_at(t3), t3, AMFA_AUTH_BAD_CODE),
	    AMFA_AUTH_BAD_CODE, "remote: a second wrong code");
	is_int(seen_on_disk, 2, "counted before the verdict again");
	is_int(try_remote(code_at(t3), t3, AMFA_AUTH_OK), AMFA_AUTH_OK,
	    "remote: a right code on the last allowed attempt logs in");
	is_int(seen_on_disk, 3, "that attempt was counted (and locked) first");
	read_state(&st);
	is_int(st.failures, 0, "the right code cleared the count");
	is_int(st.locked_until, 0, "and took the lock back out");
	is_int(st.last_step, t3 / 30, "and spent its step");
	is_int(try_remote(code_at(t3 + 30), t3 + 30, AMFA_AUTH_UNAVAILABLE),
	    AMFA_AUTH_UNAVAILABLE, "remote: the verifier unreachable");
	is_int(seen_on_disk, 1, "counted while it was asked");
	read_state(&st);
	is_int(st.failures, 0, "and taken back: nothing was decided");
	for (int i = 0; i < 3; i++)
		try_remote(code_at(t3 + 30), t3 + 30, AMFA_AUTH_BAD_CODE);
	is_int(try_remote(code_at(t3 + 30), t3 + 31, AMFA_AUTH_OK),
	    AMFA_AUTH_LOCKED, "remote: locked after three counted failures");
	is_int(seen_on_disk, -100, "the verifier was not asked");

	/* A local verifier on the files: one write, after the verdict. */
	time_t t4 = t3 + 1200;
	logcap_start();
	is_int(amfa_auth_run(&cfg, &user, code_at(t4), t4, getuid(), local,
		   NULL),
	    AMFA_AUTH_OK, "local: right code");
	is_int(seen_on_disk, 3, "nothing written before the verdict");
	read_state(&st);
	is_int(st.failures, 0, "one write after it");

	/* Corrupt state: fail closed, state not reset. */
	snprintf(cmd, sizeof(cmd), "printf 'garbage\\n' > %s/alice.state", dir);
	(void)!system(cmd);
	is_int(try(code_at(t2 + 30), t2 + 30), AMFA_AUTH_ERROR,
	    "corrupt state denies");
	ok(logcap_has("corrupt state"), "and says so");

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)!system(cmd);
	return tap_done();
}
