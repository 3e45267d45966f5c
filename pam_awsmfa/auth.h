/*
 * The decision: given a user's record and what they typed, under the user's
 * state lock, apply the lockout, check the code, refuse replays, update the
 * failure count, and write the state before answering yes.
 */
#ifndef AMFA_AUTH_H
#define AMFA_AUTH_H

#include <sys/types.h>
#include <time.h>

#include "config.h"
#include "user.h"

enum amfa_auth_result {
	AMFA_AUTH_OK,
	AMFA_AUTH_BAD_CODE,	/* wrong, or not shaped like a code */
	AMFA_AUTH_REPLAY,	/* right code of a step already used */
	AMFA_AUTH_LOCKED,	/* too many failures; code not checked */
	AMFA_AUTH_ERROR		/* state or crypto trouble: fail closed */
};

const char *amfa_auth_result_str(enum amfa_auth_result r);

/*
 * Check `code' for `u' at time `now'.  `state_owner' is the required owner
 * of state_dir (0 in the module).  Logs the outcome (user and reason, never
 * the code).
 */
enum amfa_auth_result amfa_auth_check(const struct amfa_config *cfg,
	    const struct amfa_user *u, const char *code, time_t now,
	    uid_t state_owner);

#endif
