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
	AMFA_AUTH_BAD_CODE,    /* wrong, or not shaped like a code */
	AMFA_AUTH_REPLAY,      /* right code of a step already used */
	AMFA_AUTH_LOCKED,      /* too many failures; code not checked */
	AMFA_AUTH_UNAVAILABLE, /* the verifier (STS) could not be reached */
	AMFA_AUTH_ERROR	       /* state, config or crypto trouble */
};

const char *amfa_auth_result_str(enum amfa_auth_result r);

struct amfa_state;

/*
 * A verifier: decides on `code' with the user's state in hand (locked and
 * not locked out).  It may update `st' (the last accepted step, token
 * counters); the failure count and the lock are handled by amfa_auth_run.
 */
typedef enum amfa_auth_result amfa_verifier(const struct amfa_config *cfg,
    const struct amfa_user *u, const char *code, time_t now,
    struct amfa_state *st, void *arg);

/*
 * Run `verify' on a snapshot of the user's state (store.h: under the
 * user's lock for the files): refuse while locked out (the code is not
 * looked at), count a failure for a wrong or replayed code and lock after
 * lockout_attempts, reset the count on success, and write the state
 * durably before answering.  With the table, and for verifiers that call
 * out (amfa_auth_run_vouched, amfa_auth_run_remote), the attempt is
 * counted durably before `verify' runs (write-ahead: auth.c says why and
 * what it costs); with the files and a local verifier (amfa_auth_run),
 * one write after it.  When the store says the state changed since
 * the snapshot (another host, the table store), the decision is taken
 * again on a fresh snapshot, at most AMFA_AUTH_MAX_TRIES times within
 * dynamodb_timeout; then the login is refused (AMFA_AUTH_UNAVAILABLE).
 * `verify' may thus run more than once for one login: a verifier that
 * calls out (STS, validation servers) keeps that call's outcome in `arg'
 * and does not make it twice.  Logs the outcome.
 */
#define AMFA_AUTH_MAX_TRIES 64
enum amfa_auth_result amfa_auth_run(const struct amfa_config *cfg,
    const struct amfa_user *u, const char *code, time_t now, uid_t state_owner,
    amfa_verifier *verify, void *arg);

/* amfa_auth_run for a verifier that calls out (the YubiKey validation
 * servers): the attempt is counted before the call, whatever the store. */
enum amfa_auth_result amfa_auth_run_remote(const struct amfa_config *cfg,
    const struct amfa_user *u, const char *code, time_t now, uid_t state_owner,
    amfa_verifier *verify, void *arg);

/*
 * Did the acceptance `verify' just gave come from AWS itself (STS issued
 * credentials for the code)?  1 yes, 0 no.
 */
typedef int amfa_vouched(void *arg);
/*
 * amfa_auth_run for verifiers whose acceptance AWS may vouch for.  When
 * the state cannot be read because the table does not answer, failmode =
 * safe lets such a login in when `vouched' says AWS accepted the code (STS
 * refuses a code it has seen, on any host), without recording anything;
 * every other login is refused while the table is away.
 */
enum amfa_auth_result amfa_auth_run_vouched(const struct amfa_config *cfg,
    const struct amfa_user *u, const char *code, time_t now, uid_t state_owner,
    amfa_verifier *verify, void *arg, amfa_vouched *vouched);

/*
 * Is `u' locked out at `now'?  For a factor whose check is costly (a
 * recovery code's KDF), to ask before doing the work: amfa_auth_run asks
 * again under the lock.  1 yes, 0 no (also when the state cannot be read:
 * amfa_auth_run then refuses).
 */
int amfa_auth_locked(const struct amfa_config *cfg, const struct amfa_user *u,
    time_t now, uid_t state_owner);

/*
 * Did `u' prove a factor within the last `seconds' (and is not locked out)?
 * For sudo step-up with grace=MINUTES.  1 yes, 0 no (also on any error).
 */
int amfa_auth_recent(const struct amfa_config *cfg, const struct amfa_user *u,
    time_t now, uid_t state_owner, long seconds);

/*
 * Refuse `code' without checking it against anything (it is not shaped like
 * any factor `u' can use here): a failure under the lockout, nothing else
 * in the state changes.  Logs `why' (never the code).
 */
enum amfa_auth_result amfa_auth_refuse(const struct amfa_config *cfg,
    const struct amfa_user *u, const char *code, time_t now, uid_t state_owner,
    const char *why);

/*
 * Check a TOTP `code' for `u' at time `now'.  `state_owner' is the required owner
 * of state_dir (0 in the module).  Logs the outcome (user and reason, never
 * the code).
 */
enum amfa_auth_result amfa_auth_check(const struct amfa_config *cfg,
    const struct amfa_user *u, const char *code, time_t now, uid_t state_owner);

/*
 * The TOTP verifier of amfa_auth_check: the code against the seed, `window'
 * steps either side, above the last accepted step (which it advances).  For
 * verifiers that check a TOTP code first (local+sts).
 */
enum amfa_auth_result amfa_auth_totp(const struct amfa_config *cfg,
    const struct amfa_user *u, const char *code, time_t now,
    struct amfa_state *st, void *arg);

#endif
