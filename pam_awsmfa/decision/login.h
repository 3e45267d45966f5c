/*
 * One login's decision, by the user's verify mode:
 *   local      the local check decides; no AWS call
 *   sts        STS decides (under the local lockout); credentials on success
 *   local+sts  the local check decides; then STS for credentials.  If STS
 *              cannot be reached, failmode = safe lets the user in without
 *              credentials (and says so); failmode = secure refuses.
 *
 * The same prompt takes either factor, told apart by shape: digits are a
 * TOTP code (or go to STS), a modhex or Dvorak string of OTP length is a
 * YubiKey OTP (yk_auth.h), anything else is refused as a failure under the
 * lockout without being checked.  A YubiKey OTP never goes to STS (IAM MFA
 * is TOTP), so with verify = sts or local+sts it cannot bring credentials:
 * failmode = safe lets the user in without them once the OTP checks out
 * (as when STS is unreachable); failmode = secure refuses it (a failure)
 * and the user types a TOTP code instead.
 *
 * A recovery code (recovery.h) is recognised by its form before the
 * others, checked against the unused codes of the user's set and spent in
 * the decision's state write.  It never goes to STS either: with verify =
 * sts or local+sts it is refused unless recovery_sts = login, which lets
 * the user in without credentials (degraded).
 */
#ifndef AMFA_LOGIN_H
#define AMFA_LOGIN_H

#include "auth.h"
#include "sts_login.h"

struct amfa_login {
	enum amfa_auth_result result;
	int have_session;   /* s holds credentials */
	int degraded;	    /* in, without credentials */
	const char *notice; /* for the user, or NULL */
	int recovery;	    /* the input was a recovery code */
	int recovery_left;  /* codes left after it (-1: unknown) */
	/* Why a recovery code was refused, for the audit record, when
	 * amfa_auth_result_str would say something else (a replay of a
	 * code is not of a TOTP step); NULL otherwise. */
	const char *recovery_why;
	struct amfa_session s;
};

void amfa_login_run(const struct amfa_config *cfg, const struct amfa_user *u,
    const char *code, time_t now, uid_t state_owner, struct amfa_login *out);
void amfa_login_free(struct amfa_login *l);

#endif
