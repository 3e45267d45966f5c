/* One login's decision; see login.h. */
#include <string.h>

#include <openssl/crypto.h>

#include "factors/recovery.h"
#include "log.h"
#include "login.h"
#include "store/state.h"
#include "yk_auth.h"
#include "yubikey/ykotp.h"

enum factor { FACTOR_NONE, FACTOR_TOTP, FACTOR_YUBIKEY, FACTOR_RECOVERY };

/* Which factor `code' is, by its shape, among those `u' can use. */
static enum factor
factor_of(const struct amfa_user *u, const char *code, const char **why)
{
	char norm[AMFA_RECOVERY_SYMBOLS + 1];
	size_t n = strlen(code);

	/* First: twelve symbols are never a TOTP code (6 to 8 digits), even
	 * when all of them are digits, nor a YubiKey OTP (32 or more). */
	if (amfa_recovery_normalize(code, norm) == 0) {
		OPENSSL_cleanse(norm, sizeof(norm));
		if (u->nrecovery > 0 && u->recovery_codes)
			return FACTOR_RECOVERY;
		*why = u->nrecovery == 0 ?
		    "a recovery code, but none are issued" :
		    "a recovery code, but recovery codes are turned off";
		return FACTOR_NONE;
	}
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
	*why = "input is neither a TOTP code nor a YubiKey OTP (nor a "
	       "recovery code)";
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
 * A recovery code.  What was typed is hashed with every code's salt before
 * the user's lock is taken (recovery.h: a quarter of a second for ten
 * codes, which must not hold the lock); under it, the state says whether
 * the matching code is already used, and the mark that spends it is part
 * of the one state write of the decision: of two logins with the same
 * code, the second sees the first's mark.
 */
struct recovery_try {
	int match; /* index into u->recovery, or -1 */
	struct amfa_login *l;
};

static enum amfa_auth_result
check_recovery(const struct amfa_config *cfg, const struct amfa_user *u,
    const char *code, time_t now, struct amfa_state *st, void *arg)
{
	struct recovery_try *t = arg;
	uint32_t used, bit;

	(void)cfg;
	(void)code;
	(void)now;
	t->l->recovery_why = NULL; /* taken again after a conflict */
	/*
	 * The state names the set in force (awsmfa recovery records it when
	 * it issues one).  Another set in the user file here is a replaced
	 * one, or a new one not yet copied to this host: taking its codes
	 * would drop the marks of the set on record (with the state in a
	 * table, another host's), and the spent codes of either set would
	 * work again.
	 *
	 * None on record takes no code either: awsmfa recovery records
	 * every set it issues, so a state without one was lost or removed
	 * (the repair of a corrupt file, a table item deleted) or predates
	 * the record, and the used marks went with it.  Letting the file's
	 * set start it would reopen every spent code of the set; until
	 * awsmfa recovery issues a new set, nothing is taken.
	 */
	if (st->recovery_gen == 0) {
		t->l->recovery_left = 0;
		t->l->recovery_why = "recovery set not on record in the state";
		amfa_log(LOG_NOTICE,
		    "user %s: recovery code refused: the state has no record "
		    "of the set (%08x): the state was lost or removed, and "
		    "with it the marks of spent codes; issue a new set "
		    "(awsmfa recovery %s)",
		    u->name, (unsigned)u->recovery_gen, u->name);
		return AMFA_AUTH_BAD_CODE;
	}
	if (st->recovery_gen != u->recovery_gen) {
		t->l->recovery_left = 0;
		t->l->recovery_why = "recovery set not the one on record";
		amfa_log(LOG_NOTICE,
		    "user %s: recovery code refused: this host's set "
		    "(%08x) is not the one on record (%08x): replaced, or "
		    "not yet copied here",
		    u->name, (unsigned)u->recovery_gen,
		    (unsigned)st->recovery_gen);
		return AMFA_AUTH_BAD_CODE;
	}
	used = st->recovery_used;
	t->l->recovery_left = amfa_recovery_left(u->recovery_present, used);
	if (t->match < 0) {
		amfa_log(LOG_NOTICE, "user %s: wrong recovery code", u->name);
		return AMFA_AUTH_BAD_CODE;
	}
	bit = 1u << u->recovery[t->match].idx;
	if (used & bit) {
		amfa_log(LOG_NOTICE, "user %s: recovery code %u already used",
		    u->name, u->recovery[t->match].idx);
		t->l->recovery_why = "recovery code already used";
		return AMFA_AUTH_REPLAY;
	}
	st->recovery_gen = u->recovery_gen;
	st->recovery_used = used | bit;
	t->l->recovery_left = amfa_recovery_left(u->recovery_present,
	    st->recovery_used);
	return AMFA_AUTH_OK;
}

static void
recovery_login(const struct amfa_config *cfg, const struct amfa_user *u,
    const char *code, time_t now, uid_t owner, struct amfa_login *l)
{
	char norm[AMFA_RECOVERY_SYMBOLS + 1];
	struct recovery_try t = { -1, l };

	l->recovery = 1;
	l->recovery_left = -1;
	if (amfa_user_uses_sts(u) &&
	    cfg->recovery_sts != AMFA_RECOVERY_STS_LOGIN) {
		l->result = amfa_auth_refuse(cfg, u, code, now, owner,
		    "a recovery code cannot get AWS credentials (STS takes "
		    "the device's codes only) and recovery_sts = refuse: "
		    "refused");
		return;
	}
	/* A locked-out user costs no KDF work (a quarter second of root's
	 * CPU a try): the lock answers first. */
	if (amfa_auth_locked(cfg, u, now, owner)) {
		amfa_log(LOG_NOTICE,
		    "user %s: locked out: the recovery code is not hashed",
		    u->name);
		l->result = amfa_auth_refuse(cfg, u, code, now, owner,
		    "a recovery code while locked out");
		return;
	}
	if (amfa_recovery_normalize(code, norm) != 0) {
		l->result = AMFA_AUTH_ERROR;
		return;
	}
	t.match = amfa_recovery_match(norm, u->recovery, u->nrecovery);
	OPENSSL_cleanse(norm, sizeof(norm));
	if (t.match == -2) {
		amfa_log(LOG_ERR, "user %s: recovery code: the KDF failed",
		    u->name);
		l->result = AMFA_AUTH_ERROR;
		return;
	}
	l->result = amfa_auth_run(cfg, u, code, now, owner, check_recovery, &t);
	if (l->result != AMFA_AUTH_OK)
		return;
	amfa_log(LOG_NOTICE,
	    "user %s (IAM %s): logged in with a recovery code, %d left",
	    u->name, u->iam_user, l->recovery_left);
	if (amfa_user_uses_sts(u)) {
		l->degraded = 1;
		l->notice = "Recovery code accepted: you are logged in without "
			    "AWS credentials (STS takes the device's codes "
			    "only).";
		amfa_log(LOG_WARNING,
		    "user %s: logged in with a recovery code, without AWS "
		    "credentials (recovery_sts = login)",
		    u->name);
	}
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
	/* A decision taken again on a fresh snapshot (the state table
	 * changed meanwhile) whose step is still unspent: AWS already gave
	 * credentials for this code and would now call it used. */
	if (l->have_session)
		return AMFA_AUTH_OK;
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

static int
local_then_sts_vouched(void *arg)
{
	const struct amfa_login *l = arg;

	return l->have_session;
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
	case FACTOR_RECOVERY:
		recovery_login(cfg, u, code, now, state_owner, l);
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
		l->result = amfa_auth_run_vouched(cfg, u, code, now,
		    state_owner, check_local_then_sts, l,
		    local_then_sts_vouched);
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
