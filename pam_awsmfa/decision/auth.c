/* The authentication decision; see auth.h. */
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "auth.h"
#include "caller_guard.h"
#include "factors/totp.h"
#include "log.h"
#include "monotonic.h"
#include "store/state.h"
#include "store/store.h"

const char *
amfa_auth_result_str(enum amfa_auth_result r)
{
	switch (r) {
	case AMFA_AUTH_OK:
		return "accepted";
	case AMFA_AUTH_BAD_CODE:
		return "wrong code";
	case AMFA_AUTH_REPLAY:
		return "code of an already used or earlier step";
	case AMFA_AUTH_LOCKED:
		return "locked out";
	case AMFA_AUTH_UNAVAILABLE:
		return "verifier unreachable";
	case AMFA_AUTH_ERROR:
		return "internal error";
	}
	return "unknown";
}

/* Record a failure; lock the user once the limit is reached.  1 if this
 * failure set the lock. */
static int
count_failure(const struct amfa_config *cfg, struct amfa_state *st, time_t now)
{
	st->failures++;
	if (st->failures >= cfg->lockout_attempts) {
		st->locked_until = (int64_t)now + cfg->lockout_seconds;
		return 1;
	}
	return 0;
}

enum amfa_auth_result
amfa_auth_totp(const struct amfa_config *cfg, const struct amfa_user *u,
    const char *code, time_t now, struct amfa_state *st, void *arg)
{
	struct amfa_totp_params p;
	int64_t matched;
	int r, replay, seen;

	(void)arg;
	if (u->totp_key == NULL)
		return AMFA_AUTH_ERROR;
	amfa_user_totp(u, &p);
	/* One pass over the window answers both: is the code good, and
	 * (only for the log) was it a used one.  The work before the state
	 * is written is the same for a right code and a wrong one (the
	 * single-write path below relies on it). */
	r = amfa_totp_verify(&p, code, now, (int)cfg->window, st->last_step,
	    &matched, &seen);
	replay = st->last_step >= 0 && seen;
	if (r < 0)
		return AMFA_AUTH_ERROR;
	if (r == 1) {
		st->last_step = matched;
		return AMFA_AUTH_OK;
	}
	return replay ? AMFA_AUTH_REPLAY : AMFA_AUTH_BAD_CODE;
}

static void
log_outcome(const struct amfa_user *u, enum amfa_auth_result res, long failures)
{
	switch (res) {
	case AMFA_AUTH_OK:
		amfa_log(LOG_INFO, "user %s (IAM %s): code accepted", u->name,
		    u->iam_user);
		break;
	case AMFA_AUTH_BAD_CODE:
	case AMFA_AUTH_REPLAY:
		amfa_log(LOG_NOTICE,
		    "user %s (IAM %s): denied: %s (%ld "
		    "consecutive failures)",
		    u->name, u->iam_user, amfa_auth_result_str(res), failures);
		break;
	default:
		amfa_log(LOG_ERR, "user %s (IAM %s): denied: %s", u->name,
		    u->iam_user, amfa_auth_result_str(res));
		break;
	}
}

/* A pause between two decisions that met another host's write: a few
 * milliseconds, jittered so that racing hosts spread out. */
static void
conflict_pause(int tries)
{
	unsigned char r = 0;
	long ms = tries < 6 ? (1L << tries) : 64;
	struct timespec ts;

	if (RAND_bytes(&r, 1) != 1)
		r = 128;
	ms = 1 + ms * r / 255;
	ts.tv_sec = 0;
	ts.tv_nsec = ms * 1000000L;
	nanosleep(&ts, NULL);
}

/* How long decisions may be retaken after conflicts: the table's own
 * time for one call (the files never conflict). */
static long long
conflict_budget_ms(const struct amfa_config *cfg)
{
	return cfg->ddb_timeout * 1000;
}

/*
 * The store could not give a snapshot.  failmode = safe with a verifier
 * whose yes is AWS's own (STS refuses an MFA code it has already seen,
 * fleet-wide): STS alone decides, on a blank state, and nothing is
 * recorded.  Every other case is refused: no factor is accepted on a
 * local guess when the state could not be read.
 */
static enum amfa_auth_result
without_state(const struct amfa_config *cfg, const struct amfa_user *u,
    const char *code, time_t now, amfa_verifier *verify, void *arg,
    amfa_vouched *vouched, enum amfa_store_result sr)
{
	struct amfa_state blank;
	enum amfa_auth_result res;

	if (sr != AMFA_STORE_UNAVAILABLE) {
		amfa_log(LOG_ERR, "user %s: denied: state unavailable",
		    u->name);
		return AMFA_AUTH_ERROR;
	}
	if (cfg->failmode != AMFA_FAIL_SAFE || vouched == NULL) {
		amfa_log(LOG_ERR,
		    "user %s: denied: the state table cannot be reached "
		    "(no code is accepted without it%s)",
		    u->name, vouched != NULL ? "; failmode = secure" : "");
		return AMFA_AUTH_UNAVAILABLE;
	}
	/* The lockout is the table's: an outage the user made (stopping
	 * the login past the table's time) must not skip it. */
	if (amfa_guard_outage_suspect()) {
		amfa_log(LOG_ERR,
		    "user %s: denied: the state table could not be reached "
		    "by a login its user can stop (set-user-ID, or stopped "
		    "meanwhile): failmode = safe does not apply",
		    u->name);
		return AMFA_AUTH_UNAVAILABLE;
	}
	memset(&blank, 0, sizeof(blank));
	blank.last_step = -1;
	res = verify(cfg, u, code, now, &blank, arg);
	if (res == AMFA_AUTH_OK && vouched(arg)) {
		amfa_log(LOG_WARNING,
		    "user %s (IAM %s): the state table cannot be reached; "
		    "failmode = safe: accepted on STS's answer alone (not "
		    "recorded; no lockout count)",
		    u->name, u->iam_user);
		return AMFA_AUTH_OK;
	}
	if (res == AMFA_AUTH_OK)
		res = AMFA_AUTH_UNAVAILABLE;
	amfa_log(LOG_ERR,
	    "user %s: denied: the state table cannot be reached and AWS "
	    "did not vouch for the code (%s)",
	    u->name, amfa_auth_result_str(res));
	return res == AMFA_AUTH_BAD_CODE || res == AMFA_AUTH_REPLAY ?
	    res :
	    AMFA_AUTH_UNAVAILABLE;
}

/*
 * One decision on a snapshot, committed once; taken again on a fresh
 * snapshot when another host changed the state in between (the table
 * store; the files hold a lock and never conflict).  A verifier with side
 * effects beyond the state (a call to STS or the validation servers)
 * remembers their outcome in `arg' so that a second decision does not
 * spend the code there again; a fresh snapshot that shows the step or the
 * counters spent answers REPLAY before any such call.
 */
static enum amfa_auth_result
decide_once(const struct amfa_config *cfg, const struct amfa_user *u,
    const char *code, time_t now, struct amfa_store *s, amfa_verifier *verify,
    void *arg, amfa_vouched *vouched)
{
	struct amfa_state st;
	enum amfa_auth_result res;
	enum amfa_store_result sr;
	long long deadline;
	int tries = 0, locked_now;

	deadline = amfa_monotonic_ms() + conflict_budget_ms(cfg);
	for (;;) {
		sr = amfa_store_load(s, &st);
		if (sr != AMFA_STORE_OK) {
			amfa_store_close(s);
			if (tries > 0) {
				amfa_log(LOG_ERR,
				    "user %s: denied: state unavailable on "
				    "a second look (%s)",
				    u->name, amfa_store_result_str(sr));
				return sr == AMFA_STORE_UNAVAILABLE ?
				    AMFA_AUTH_UNAVAILABLE :
				    AMFA_AUTH_ERROR;
			}
			return without_state(cfg, u, code, now, verify, arg,
			    vouched, sr);
		}
		tries++;
		if (st.locked_until > (int64_t)now) {
			amfa_store_close(s);
			amfa_log(LOG_NOTICE,
			    "user %s: denied: locked out for %" PRId64
			    " more seconds",
			    u->name, st.locked_until - (int64_t)now);
			return AMFA_AUTH_LOCKED;
		}
		if (st.locked_until != 0) {
			/* The lock has expired: the count starts afresh. */
			st.locked_until = 0;
			st.failures = 0;
		}
		res = verify(cfg, u, code, now, &st, arg);
		locked_now = 0;
		switch (res) {
		case AMFA_AUTH_OK:
			st.failures = 0;
			st.last_success = (int64_t)now;
			break;
		case AMFA_AUTH_BAD_CODE:
		case AMFA_AUTH_REPLAY:
			locked_now = count_failure(cfg, &st, now);
			break;
		default:
			/* Nothing was decided about the code: the state
			 * stays. */
			amfa_store_close(s);
			log_outcome(u, res, st.failures);
			return res;
		}
		/* The state is durable before anyone is let in: one write. */
		sr = amfa_store_commit(s, &st, (int64_t)now);
		if (sr == AMFA_STORE_OK)
			break;
		if (sr == AMFA_STORE_CONFLICT && tries < AMFA_AUTH_MAX_TRIES &&
		    amfa_monotonic_ms() < deadline) {
			conflict_pause(tries);
			continue;
		}
		amfa_store_close(s);
		if (sr == AMFA_STORE_CONFLICT)
			amfa_log(LOG_ERR,
			    "user %s: denied: the state kept changing "
			    "meanwhile (%d decisions)",
			    u->name, tries);
		else
			amfa_log(LOG_ERR,
			    "user %s: denied: state not saved (%s)", u->name,
			    amfa_store_result_str(sr));
		return sr == AMFA_STORE_ERROR ?
		    AMFA_AUTH_ERROR :
		    AMFA_AUTH_UNAVAILABLE;
	}
	amfa_store_close(s);
	if (locked_now)
		amfa_log(LOG_WARNING,
		    "user %s: %ld consecutive failures, locked "
		    "for %ld seconds",
		    u->name, st.failures, cfg->lockout_seconds);
	log_outcome(u, res, st.failures);
	return res;
}

/*
 * When is a verdict seen, and what can end the process before it is on
 * record?  (The design; issue 23.)
 *
 * A caller decides when su dies even without kill(2) rights: the terminal
 * it owns sends SIGINT, SIGQUIT, SIGHUP (TIOCSIG, ^C, closing the
 * master), sshd sends SIGTERM to its PAM child when the client goes away,
 * a user may kill a process of a cgroup it was delegated (cgroup.kill)
 * and may raise oom_score_adj, which su inherits.  Meanwhile every local
 * user sees root's sockets (sock_diag as ss(8) uses it, /proc/net/tcp,
 * the sizes in tcp_info).  Had the verdict shown there before its record
 * was durable (a connection to STS for a right code, a second one to the
 * table for a wrong code's write, or a write of another size), the caller
 * would kill su on a wrong code before it counts, and guess without limit.
 *
 * Two defences, each enough for what it covers:
 * 1. The guarded call (caller_guard.h, amfa_guard_defer_signals) blocks
 *    every catchable signal a caller can cause, in every process, from
 *    the moment the code is in hand until the module returns: no catchable
 *    signal ends the process between a verdict and its record.
 * 2. What no mask stops (SIGKILL from a delegated cgroup or the OOM
 *    killer) must find nothing worth killing for.  So wherever a verdict
 *    could be seen before its record, the attempt is counted first
 *    ("write-ahead", decide_ahead below): a durable write that counts it
 *    as a failure, the same write whatever the code, before the code is
 *    looked at; then the verdict; a right code is a second write that
 *    spends the code (step, counters) and clears the count; a wrong one
 *    needs nothing more.  Killed anywhere after the count, the attempt
 *    is a failure on record.  The attempt that reaches lockout_attempts
 *    writes the lock with its count (still before its verdict), and a
 *    right code on it takes the lock back out: "a right code on the last
 *    allowed attempt still works" holds, and a kill between leaves the
 *    user locked (closed).  A count at the limit found without a lock
 *    (a count whose lock write was lost) locks then, unlooked at.
 *    This is the table's path always: there the write itself goes out to
 *    the network, and a write that spends a step differs in size from
 *    one that counts a failure.  It is the files' path when the verifier
 *    calls out (STS, the YubiKey validation servers).
 *    Cost per login, the table: one UpdateItem that counts and returns
 *    the item (ReturnValues ALL_NEW; it is the snapshot, no GetItem), a
 *    second for a right code: wrong 1 request and 1 write (was 2 and 1),
 *    right 2 requests and 2 writes (was 2 and 1); one more, before the
 *    verdict, on the attempt that reaches the limit or the first after a
 *    lock expired.  With enrolment = table the same UpdateItem, sent
 *    when the login begins (before the prompt, still before the
 *    verdict), also brings the sealed enrolment: no GetItem, one KMS
 *    Decrypt, the same 1 and 2 requests (enrolment_table.h).  The files
 *    with a calling-out verifier: 2 fdatasyncs for a right code (was 1),
 *    1 for a wrong one.
 * 3. The files with a local verifier (TOTP, recovery codes, shape
 *    refusals) keep one write (decide_once): load under the user's lock,
 *    verdict, one fdatasync'ed slot of fixed size.  Nothing leaves the
 *    process between verdict and record: no connection, the file is in a
 *    root-only directory, every record is the same size, the work before
 *    the write does not depend on the verdict (amfa_auth_totp makes both
 *    of its checks either way; a recovery code's KDF runs whatever the
 *    code), and the answer (a prompt, su's message, its exit) comes only
 *    after the write.  A SIGKILL that lands before the fdatasync returns
 *    is blind: it loses an attempt whose verdict nobody outside has seen,
 *    and such a kill cannot be timed on the verdict.
 * The guard also lowers a raised oom_score_adj for the call.
 */

/* The attempt being counted, by the lockout's rules: from `before' (the
 * state without it) to `after'. */
enum attempt { ATTEMPT_LOCKED, ATTEMPT_LOCK_NOW, ATTEMPT_COUNTED };

static enum attempt
count_attempt(const struct amfa_config *cfg, time_t now,
    const struct amfa_state *before, struct amfa_state *after)
{
	*after = *before;
	if (before->locked_until > (int64_t)now)
		return ATTEMPT_LOCKED;
	if (before->locked_until != 0) {
		/* The lock has expired: the count starts afresh. */
		after->locked_until = 0;
		after->failures = 0;
	} else if (before->failures >= cfg->lockout_attempts) {
		/* At the limit without a lock (its write was lost, or the
		 * limit was lowered): lock now, the code unlooked at. */
		after->locked_until = (int64_t)now + cfg->lockout_seconds;
		return ATTEMPT_LOCK_NOW;
	}
	/* The last allowed attempt carries the lock; its right code takes
	 * it back out. */
	count_failure(cfg, after, now);
	return ATTEMPT_COUNTED;
}

static enum amfa_auth_result
store_failed(const struct amfa_user *u, enum amfa_store_result sr, int tries)
{
	if (sr == AMFA_STORE_CONFLICT)
		amfa_log(LOG_ERR,
		    "user %s: denied: the state kept changing meanwhile (%d "
		    "tries)",
		    u->name, tries);
	else
		amfa_log(LOG_ERR, "user %s: denied: state not saved (%s)",
		    u->name, amfa_store_result_str(sr));
	return sr == AMFA_STORE_ERROR ? AMFA_AUTH_ERROR : AMFA_AUTH_UNAVAILABLE;
}

static void
log_locked(const struct amfa_user *u, const struct amfa_state *st, time_t now)
{
	amfa_log(LOG_NOTICE,
	    "user %s: denied: locked out for %" PRId64 " more seconds", u->name,
	    st->locked_until - (int64_t)now);
}

/*
 * Count the attempt durably before its verdict: 0 with `st' the state on
 * record (this attempt in its failure count), or an answer to give now
 * (locked out, the state unavailable).
 */
static int
count_ahead(const struct amfa_config *cfg, const struct amfa_user *u,
    const char *code, time_t now, struct amfa_store *s, amfa_verifier *verify,
    void *arg, amfa_vouched *vouched, struct amfa_state *st,
    struct amfa_state *prior, enum amfa_auth_result *res)
{
	struct amfa_state before, after;
	enum amfa_store_result sr;
	long long deadline = amfa_monotonic_ms() + conflict_budget_ms(cfg);
	enum attempt a;
	int tries = 0, counted;

	for (;;) {
		sr = amfa_store_load_counted(s, st, (int64_t)now, &counted);
		if (sr != AMFA_STORE_OK) {
			if (tries == 0) {
				*res = without_state(cfg, u, code, now, verify,
				    arg, vouched, sr);
				return -1;
			}
			*res = store_failed(u, sr, tries);
			return -1;
		}
		tries++;
		before = *st;
		if (counted)
			before.failures--; /* the table counted it already */
		a = count_attempt(cfg, now, &before, &after);
		if (a == ATTEMPT_LOCKED) {
			log_locked(u, st, now);
			*res = AMFA_AUTH_LOCKED;
			return -1;
		}
		*prior = before;
		/* Counted by the table as the rules count it: on record. */
		if (counted && amfa_state_equal(&after, st))
			return 0;
		sr = amfa_store_commit(s, &after, (int64_t)now);
		if (sr == AMFA_STORE_OK) {
			*st = after;
			if (a == ATTEMPT_LOCK_NOW) {
				log_locked(u, st, now);
				*res = AMFA_AUTH_LOCKED;
				return -1;
			}
			return 0;
		}
		/* A conflict: another attempt wrote in between (its count,
		 * or a reset of an expired lock that may have dropped this
		 * one's): count again on what is there now. */
		if (sr == AMFA_STORE_CONFLICT && tries < AMFA_AUTH_MAX_TRIES &&
		    amfa_monotonic_ms() < deadline) {
			conflict_pause(tries);
			continue;
		}
		*res = store_failed(u, sr, tries);
		return -1;
	}
}

/*
 * The write-ahead decision (see above): count, then the verdict, then for
 * a right code the write that spends it.  A conflict on that write
 * (another host wrote since the count) is decided again on a fresh read,
 * which holds this attempt's count already: it is not counted twice, and
 * the verifier remembers what STS or the servers said.
 */
static enum amfa_auth_result
decide_ahead(const struct amfa_config *cfg, const struct amfa_user *u,
    const char *code, time_t now, struct amfa_store *s, amfa_verifier *verify,
    void *arg, amfa_vouched *vouched)
{
	struct amfa_state st, counted, prior;
	enum amfa_auth_result res;
	enum amfa_store_result sr;
	long long deadline;
	int tries = 0;

	if (count_ahead(cfg, u, code, now, s, verify, arg, vouched, &st, &prior,
		&res) != 0) {
		amfa_store_close(s);
		return res;
	}
	counted = st;
	deadline = amfa_monotonic_ms() + conflict_budget_ms(cfg);
	for (;;) {
		tries++;
		res = verify(cfg, u, code, now, &st, arg);
		if (res != AMFA_AUTH_OK) {
			if (res != AMFA_AUTH_BAD_CODE &&
			    res != AMFA_AUTH_REPLAY && tries == 1 &&
			    amfa_store_commit(s, &prior, (int64_t)now) ==
				AMFA_STORE_OK)
				counted = prior;
			break;
		}
		st.failures = 0;
		st.locked_until = 0;
		st.last_success = (int64_t)now;
		sr = amfa_store_commit_acceptance(s, &st, (int64_t)now);
		if (sr == AMFA_STORE_OK)
			break;
		if (sr != AMFA_STORE_CONFLICT || tries >= AMFA_AUTH_MAX_TRIES ||
		    amfa_monotonic_ms() >= deadline) {
			amfa_store_close(s);
			return store_failed(u, sr, tries);
		}
		conflict_pause(tries);
		if ((sr = amfa_store_load(s, &st)) != AMFA_STORE_OK) {
			amfa_store_close(s);
			return store_failed(u, sr, tries);
		}
		if (st.locked_until > (int64_t)now) {
			amfa_store_close(s);
			log_locked(u, &st, now);
			return AMFA_AUTH_LOCKED;
		}
		counted = st;
	}
	switch (res) {
	case AMFA_AUTH_OK:
		break;
	case AMFA_AUTH_BAD_CODE:
	case AMFA_AUTH_REPLAY:
		/* Already on record: nothing more is sent, unless the
		 * verifier learnt something to keep although it refused (a
		 * YubiKey OTP the validation servers call used elsewhere:
		 * its counters are spent).  That write comes after the
		 * verdict, but the failure is counted already: a kill before
		 * it saves nothing. */
		if (!amfa_state_equal(&st, &counted) &&
		    amfa_store_commit(s, &st, (int64_t)now) != AMFA_STORE_OK)
			amfa_log(LOG_NOTICE,
			    "user %s: what the refusal spent was not "
			    "recorded (the failure is)",
			    u->name);
		if (counted.locked_until > (int64_t)now)
			amfa_log(LOG_WARNING,
			    "user %s: %ld consecutive failures, locked "
			    "for %ld seconds",
			    u->name, counted.failures, cfg->lockout_seconds);
		break;
	default:
		/* Nothing was decided about the code (the verifier could
		 * not be asked): the count is taken back, as it was before
		 * (above; if that write fails, or the state changed since,
		 * the attempt stays counted: closed).  That write comes
		 * after a verdict ("right here, AWS unreachable") but only
		 * ever lowers the count: killing the process before it
		 * gains nothing. */
		break;
	}
	amfa_store_close(s);
	log_outcome(u, res, counted.failures);
	return res;
}

static enum amfa_auth_result
run(const struct amfa_config *cfg, const struct amfa_user *u, const char *code,
    time_t now, uid_t state_owner, amfa_verifier *verify, void *arg,
    amfa_vouched *vouched, int calls_out)
{
	struct amfa_store s;

	if (amfa_store_init(&s, cfg, u->name, state_owner) != 0) {
		amfa_log(LOG_ERR, "user %s: denied: state unavailable",
		    u->name);
		return AMFA_AUTH_ERROR;
	}
	if (calls_out || cfg->state_backend == AMFA_BACKEND_DYNAMODB)
		return decide_ahead(cfg, u, code, now, &s, verify, arg,
		    vouched);
	return decide_once(cfg, u, code, now, &s, verify, arg, vouched);
}

enum amfa_auth_result
amfa_auth_run_vouched(const struct amfa_config *cfg, const struct amfa_user *u,
    const char *code, time_t now, uid_t state_owner, amfa_verifier *verify,
    void *arg, amfa_vouched *vouched)
{
	return run(cfg, u, code, now, state_owner, verify, arg, vouched, 1);
}

enum amfa_auth_result
amfa_auth_run_remote(const struct amfa_config *cfg, const struct amfa_user *u,
    const char *code, time_t now, uid_t state_owner, amfa_verifier *verify,
    void *arg)
{
	return run(cfg, u, code, now, state_owner, verify, arg, NULL, 1);
}

enum amfa_auth_result
amfa_auth_run(const struct amfa_config *cfg, const struct amfa_user *u,
    const char *code, time_t now, uid_t state_owner, amfa_verifier *verify,
    void *arg)
{
	return run(cfg, u, code, now, state_owner, verify, arg, NULL, 0);
}

enum amfa_auth_result
amfa_auth_check(const struct amfa_config *cfg, const struct amfa_user *u,
    const char *code, time_t now, uid_t state_owner)
{
	return amfa_auth_run(cfg, u, code, now, state_owner, amfa_auth_totp,
	    NULL);
}

static enum amfa_auth_result
refuse(const struct amfa_config *cfg, const struct amfa_user *u,
    const char *code, time_t now, struct amfa_state *st, void *arg)
{
	(void)cfg;
	(void)code;
	(void)now;
	(void)st;
	amfa_log(LOG_NOTICE, "user %s: %s", u->name, (const char *)arg);
	return AMFA_AUTH_BAD_CODE;
}

enum amfa_auth_result
amfa_auth_refuse(const struct amfa_config *cfg, const struct amfa_user *u,
    const char *code, time_t now, uid_t state_owner, const char *why)
{
	return amfa_auth_run(cfg, u, code, now, state_owner, refuse,
	    (void *)(uintptr_t)why);
}

/* A look at the state, nothing written.  0 with `st', or -1. */
static int
peek(const struct amfa_config *cfg, const struct amfa_user *u, uid_t owner,
    struct amfa_state *st)
{
	struct amfa_store s;
	enum amfa_store_result r;

	if (amfa_store_init(&s, cfg, u->name, owner) != 0)
		return -1;
	r = amfa_store_load(&s, st);
	amfa_store_close(&s);
	return r == AMFA_STORE_OK ? 0 : -1;
}

int
amfa_auth_locked(const struct amfa_config *cfg, const struct amfa_user *u,
    time_t now, uid_t state_owner)
{
	struct amfa_state st;

	if (peek(cfg, u, state_owner, &st) != 0)
		return 0; /* amfa_auth_run will say why, and refuse */
	return st.locked_until > (int64_t)now;
}

int
amfa_auth_recent(const struct amfa_config *cfg, const struct amfa_user *u,
    time_t now, uid_t state_owner, long seconds)
{
	struct amfa_state st;
	int recent;

	if (peek(cfg, u, state_owner, &st) != 0)
		return 0;
	/* A success "in the future" (clock stepped back) does not count. */
	recent = st.last_success > 0 && st.locked_until <= (int64_t)now &&
	    st.last_success <= (int64_t)now &&
	    (int64_t)now - st.last_success < seconds;
	if (recent)
		amfa_log(LOG_INFO,
		    "user %s (IAM %s): factor proven %" PRId64
		    " s ago counts (grace)",
		    u->name, u->iam_user, (int64_t)now - st.last_success);
	return recent;
}
