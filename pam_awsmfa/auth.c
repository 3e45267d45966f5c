/* The authentication decision; see auth.h. */
#include <inttypes.h>
#include <string.h>

#include "auth.h"
#include "log.h"
#include "state.h"
#include "totp.h"

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

/* Record a failure; lock the user once the limit is reached. */
static void
count_failure(const struct amfa_config *cfg, const struct amfa_user *u,
    struct amfa_state *st, time_t now)
{
	st->failures++;
	if (st->failures >= cfg->lockout_attempts) {
		st->locked_until = (int64_t)now + cfg->lockout_seconds;
		amfa_log(LOG_WARNING,
		    "user %s: %ld consecutive failures, locked "
		    "for %ld seconds",
		    u->name, st->failures, cfg->lockout_seconds);
	}
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

enum amfa_auth_result
amfa_auth_run(const struct amfa_config *cfg, const struct amfa_user *u,
    const char *code, time_t now, uid_t state_owner, amfa_verifier *verify,
    void *arg)
{
	struct amfa_state_handle h;
	struct amfa_state st;
	enum amfa_auth_result res;

	if (amfa_state_open(cfg, u->name, state_owner, &h, &st) != 0) {
		amfa_log(LOG_ERR, "user %s: denied: state unavailable",
		    u->name);
		return AMFA_AUTH_ERROR;
	}
	if (st.locked_until > (int64_t)now) {
		amfa_state_close(&h);
		amfa_log(LOG_NOTICE,
		    "user %s: denied: locked out for %" PRId64 " more seconds",
		    u->name, st.locked_until - (int64_t)now);
		return AMFA_AUTH_LOCKED;
	}
	if (st.locked_until != 0) {
		/* The lock has expired: the count starts afresh. */
		st.locked_until = 0;
		st.failures = 0;
	}
	res = verify(cfg, u, code, now, &st, arg);
	switch (res) {
	case AMFA_AUTH_OK:
		st.failures = 0;
		st.last_success = (int64_t)now;
		break;
	case AMFA_AUTH_BAD_CODE:
	case AMFA_AUTH_REPLAY:
		count_failure(cfg, u, &st, now);
		break;
	default:
		/* Nothing was decided about the code: the state stays. */
		amfa_state_close(&h);
		log_outcome(u, res, st.failures);
		return res;
	}
	/* The state is durable before anyone is let in: one write. */
	if (amfa_state_commit(&h, &st) != 0) {
		amfa_state_close(&h);
		amfa_log(LOG_ERR, "user %s: denied: state not saved", u->name);
		return AMFA_AUTH_ERROR;
	}
	amfa_state_close(&h);
	log_outcome(u, res, st.failures);
	return res;
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

int
amfa_auth_locked(const struct amfa_config *cfg, const struct amfa_user *u,
    time_t now, uid_t state_owner)
{
	struct amfa_state_handle h;
	struct amfa_state st;

	if (amfa_state_open(cfg, u->name, state_owner, &h, &st) != 0)
		return 0; /* amfa_auth_run will say why, and refuse */
	amfa_state_close(&h);
	return st.locked_until > (int64_t)now;
}

int
amfa_auth_recent(const struct amfa_config *cfg, const struct amfa_user *u,
    time_t now, uid_t state_owner, long seconds)
{
	struct amfa_state_handle h;
	struct amfa_state st;
	int recent;

	if (amfa_state_open(cfg, u->name, state_owner, &h, &st) != 0)
		return 0;
	amfa_state_close(&h);
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
