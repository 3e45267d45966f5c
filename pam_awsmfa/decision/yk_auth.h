/*
 * The YubiKey OTP factor: the decision for one OTP, run through
 * amfa_auth_run (lockout, failure count, state written before the answer).
 *
 * The OTP names its token by public id; the token must be one of the
 * user's `yubikey' lines.
 *
 * A token with its AES key in the user file is checked here with
 * libyubikey: the CRC must hold, the private id must match, and the
 * counters (session, use) must be strictly greater than the last accepted
 * ones of that token, which are kept in the user's state and committed
 * (fsync) before the answer.  Equal counters are a replay; lower ones are
 * logged as a possible cloned token or an old OTP replayed.  Because the
 * check runs under the user's state lock, of several logins with the same
 * OTP exactly one succeeds.
 *
 * With yubikey_validation set in awsmfa.conf, the OTP is also sent to the
 * validation servers (ykval.h), and only their signed OK lets it in: the
 * servers refuse an OTP already used anywhere in the fleet.  A token with
 * a known key is checked here first (nothing leaves the host for a wrong,
 * replayed or rolled-back OTP) and keeps its local counter floor, so a
 * validation database that is restored or reset reopens nothing here.  If
 * no server answers, failmode = safe accepts an OTP that passed the local
 * check (and says so in the log); failmode = secure refuses.  A token given
 * by public id alone has no local check: it is refused whenever the
 * servers cannot vouch for it, whatever the failmode.
 */
#ifndef AMFA_YK_AUTH_H
#define AMFA_YK_AUTH_H

#include <sys/types.h>
#include <time.h>

#include "auth.h"
#include "config.h"
#include "user.h"

struct amfa_yk_outcome {
	int unverified_online; /* accepted locally, servers unreachable */
};

/*
 * Check the YubiKey OTP `otp' for `u' (an OTP of no token of the user's
 * is a wrong code, counted as a failure).
 * `state_owner' is the required owner of state_dir and of
 * yubikey_api_key_file (0 in the module).  `out' may be NULL.
 */
enum amfa_auth_result amfa_auth_yubikey(const struct amfa_config *cfg,
    const struct amfa_user *u, const char *otp, time_t now, uid_t state_owner,
    struct amfa_yk_outcome *out);

#endif
