/* The authentication decision; see auth.h. */
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "auth.h"
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
	int r;

	(void)arg;
	if (u->totp_key == NULL)
		return AMFA_AUTH_ERROR;
	amfa_user_totp(u, &p);
	r = amfa_totp_verify(&p, code, now, (int)cfg->window, st->last_step,
	    &matched);
	if (r < 0)
		return AMFA_AUTH_ERROR;
	if (r == 1) {
		st->last_step = matched;
		return AMFA_AUTH_OK;
	}
	/* Only to tell a replay from a wrong code in the log. */
	if (st->last_step >= 0 &&
	    amfa_totp_verify(&p, code, now, (int)cfg->window, -1, &matched) ==
		1)
		return AMFA_AUTH_REPLAY;
	return AMFA_AUTH_BAD_CODE;
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
enum amfa_auth_result
amfa_auth_run_vouched(const struct amfa_config *cfg, const struct amfa_user *u,
    const char *code, time_t now, uid_t state_owner, amfa_verifier *verify,
    void *arg, amfa_vouched *vouched)
{
	struct amfa_store s;
	struct amfa_state st;
	enum amfa_auth_result res;
	enum amfa_store_result sr;
	long long deadline;
	int tries = 0, locked_now;

	if (amfa_store_init(&s, cfg, u->name, state_owner) != 0) {
		amfa_log(LOG_ERR, "user %s: denied: state unavailable",
		    u->name);
		return AMFA_AUTH_ERROR;
	}
	deadline = amfa_monotonic_ms() + conflict_budget_ms(cfg);
	for (;;) {
		sr = amfa_store_load(&s, &st);
		if (sr != AMFA_STORE_OK) {
			amfa_store_close(&s);
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
			amfa_store_close(&s);
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
			amfa_store_close(&s);
			log_outcome(u, res, st.failures);
			return res;
		}
		/* The state is durable before anyone is let in: one write. */
		sr = amfa_store_commit(&s, &st, (int64_t)now);
		if (sr == AMFA_STORE_OK)
			break;
		if (sr == AMFA_STORE_CONFLICT && tries < AMFA_AUTH_MAX_TRIES &&
		    amfa_monotonic_ms() < deadline) {
			conflict_pause(tries);
			continue;
		}
		amfa_store_close(&s);
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
	amfa_store_close(&s);
	if (locked_now)
		amfa_log(LOG_WARNING,
		    "user %s: %ld consecutive failures, locked "
		    "for %ld seconds",
		    u->name, st.failures, cfg->lockout_seconds);
	log_outcome(u, res, st.failures);
	return res;
}

enum amfa_auth_result
amfa_auth_run(const struct amfa_config *cfg, const struct amfa_user *u,
    const char *code, time_t now, uid_t state_owner, amfa_verifier *verify,
    void *arg)
{
	return amfa_auth_run_vouched(cfg, u, code, now, state_owner, verify,
	    arg, NULL);
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
