/* One login's decision; see login.h. */
#include <string.h>

#include "log.h"
#include "login.h"
#include "yk_auth.h"
#include "yubikey/ykotp.h"

enum factor { FACTOR_NONE, FACTOR_TOTP, FACTOR_YUBIKEY };

/* Which factor `code' is, by its shape, among those `u' can use. */
static enum factor
factor_of(const struct amfa_user *u, const char *code, const char **why)
{
	size_t n = strlen(code);

	if (n > 0 && strspn(code, "0123456789") == n) {
		if (u->totp_key != NULL || u->verify == AMFA_VERIFY_STS)
			return FACTOR_TOTP;
		*why = "digits, but no TOTP seed is enrolled";
		return FACTOR_NONE;
	}
	if (amfa_yk_otp_shaped(code)) {
		if (u->nyubikeys > 0)
			return FACTOR_YUBIKEY;
		*why = "a YubiKey OTP, but no YubiKey is enrolled";
		return FACTOR_NONE;
	}
	*why = "input is neither a TOTP code nor a YubiKey OTP";
	return FACTOR_NONE;
}

static void
yubikey_login(const struct amfa_config *cfg, const struct amfa_user *u,
    const char *otp, time_t now, uid_t owner, struct amfa_login *l)
{
	if (u->verify == AMFA_VERIFY_LOCAL) {
		l->result = amfa_auth_yubikey(cfg, u, otp, now, owner, NULL);
		return;
	}
	if (cfg->failmode != AMFA_FAIL_SAFE) {
		l->result = amfa_auth_refuse(cfg, u, otp, now, owner,
		    "a YubiKey OTP cannot get AWS credentials (STS takes TOTP "
		    "codes only) and failmode = secure: refused; a TOTP code "
		    "is needed");
		return;
	}
	l->result = amfa_auth_yubikey(cfg, u, otp, now, owner, NULL);
	if (l->result != AMFA_AUTH_OK)
		return;
	l->degraded = 1;
	l->notice = "YubiKey accepted: you are logged in without AWS "
		    "credentials (type a TOTP code to get them).";
	amfa_log(LOG_WARNING,
	    "user %s: logged in with a YubiKey, without AWS "
	    "credentials (STS takes TOTP codes only; failmode = safe)",
	    u->name);
}

/*
 * local+sts: the code is checked here, then, while the user's state is
 * still locked and the code's step reserved, by STS; one state update
 * records the outcome of both: the step spent and the success (for grace=)
 * when the login is let in, a failure counted (and the step spent) when
 * AWS refuses the code.  When STS cannot say (unreachable, failmode =
 * secure) nothing is written, as for a YubiKey whose servers are down:
 * nothing was accepted, and the same code may be typed again.
 */
static enum amfa_auth_result
check_local_then_sts(const struct amfa_config *cfg, const struct amfa_user *u,
    const char *code, time_t now, struct amfa_state *st, void *arg)
{
	struct amfa_login *l = arg;
	enum amfa_auth_result r;

	r = amfa_auth_totp(cfg, u, code, now, st, NULL);
	if (r != AMFA_AUTH_OK)
		return r;
	r = amfa_sts_fetch(cfg, u, code, &l->s);
	if (r == AMFA_AUTH_OK) {
		l->have_session = 1;
		return r;
	}
	if (r == AMFA_AUTH_UNAVAILABLE && cfg->failmode == AMFA_FAIL_SAFE) {
		l->degraded = 1;
		amfa_log(LOG_WARNING,
		    "user %s: STS unreachable; failmode = safe: "
		    "logged in without AWS credentials",
		    u->name);
		return AMFA_AUTH_OK;
	}
	if (r == AMFA_AUTH_BAD_CODE || r == AMFA_AUTH_REPLAY) {
		amfa_log(LOG_ERR,
		    "user %s: the code passed here but AWS refused "
		    "it: the seed here and the IAM MFA device differ, or the code "
		    "was already used at AWS",
		    u->name);
		return r;
	}
	return r == AMFA_AUTH_UNAVAILABLE ? r : AMFA_AUTH_ERROR;
}

void
amfa_login_run(const struct amfa_config *cfg, const struct amfa_user *u,
    const char *code, time_t now, uid_t state_owner, struct amfa_login *l)
{
	const char *why = NULL;

	memset(l, 0, sizeof(*l));
	switch (factor_of(u, code, &why)) {
	case FACTOR_NONE:
		l->result = amfa_auth_refuse(cfg, u, code, now, state_owner,
		    why);
		return;
	case FACTOR_YUBIKEY:
		yubikey_login(cfg, u, code, now, state_owner, l);
		return;
	case FACTOR_TOTP:
		break;
	}
	switch (u->verify) {
	case AMFA_VERIFY_STS:
		l->result = amfa_auth_sts(cfg, u, code, now, state_owner,
		    &l->s);
		l->have_session = l->result == AMFA_AUTH_OK;
		break;
	case AMFA_VERIFY_BOTH:
		l->result = amfa_auth_run(cfg, u, code, now, state_owner,
		    check_local_then_sts, l);
		if (l->result != AMFA_AUTH_OK && l->have_session) {
			amfa_session_free(&l->s);
			l->have_session = 0;
		}
		break;
	default:
		l->result = amfa_auth_check(cfg, u, code, now, state_owner);
		break;
	}
}

void
amfa_login_free(struct amfa_login *l)
{
	if (l->have_session)
		amfa_session_free(&l->s);
	memset(l, 0, sizeof(*l));
}
