/*
 * The state table's item: one per user, holding what a state file holds,
 * and the conditional write that makes a new state the user's.  Pure
 * mapping, no network (state_table.c sends it).
 *
 * The attributes (names with '_', so none is a DynamoDB reserved word):
 *   amfa_user     S  the key: the login name
 *   amfa_ver      N  the item's version: 1 for a new item, +1 per write
 *   totp_step     N  the last accepted TOTP step (-1: none)
 *   fail_count    N  consecutive failures
 *   locked_until  N  Unix time the lock ends (0: not locked)
 *   last_ok       N  Unix time of the last success (0: never), for grace=
 *   rc_gen        N  the recovery set the used marks are of (0: none)
 *   rc_used       N  the used recovery codes, a mask of indices
 *   yk_<id>       N  one per YubiKey public id (modhex): the last accepted
 *                    counters as session * 65536 + use, which orders as the
 *                    pair does
 *   enr_ver       N  the enrolment's version (enrolment = table): 1 for
 *                    the first, +1 per administrator's write
 *   enr_ct        S  the sealed enrolment (enrolment_seal.h), base64
 *   enr_key       S  its data key wrapped by KMS, base64
 *                    (enr_ct and enr_key both or neither, with enr_ver;
 *                    enr_ver alone: disabled.  Written only by awsmfa's
 *                    enrolment writes, never by a login's: a login's write
 *                    names the attributes above, and none of these)
 * Other attributes are left alone (read past, never written): room for
 * what later versions add.  Ours must be there, of their type and in
 * their range, or the item is refused (the login fails closed and
 * `awsmfa status' says why).
 *
 * The write.  One UpdateItem that SETs every attribute of the new state
 * (and REMOVEs the counters of a token whose slot was reused) on the
 * condition that the item is the snapshot's:
 *     attribute_not_exists(amfa_user)          (no item when it was read)
 *     amfa_ver = :ov                           (else)
 * and, for an existing item, the replay rule itself for what the write
 * spends:
 *     AND totp_step < :ts                      a new step
 *     AND (attribute_not_exists(yk_ID) OR yk_ID < :kN)  a token's counters
 *     AND locked_until <= :now                 an acceptance (on a
 *                                              snapshot not locked)
 * so that, of logins racing with one code on any number of hosts, one
 * write succeeds and the others find the condition false.
 */
#ifndef AMFA_STATE_ITEM_H
#define AMFA_STATE_ITEM_H

#include <stdint.h>

#include "aws/dynamodb.h"
#include "state.h"

#define AMFA_ITEM_KEY	     "amfa_user"
#define AMFA_ITEM_MAX_VALUES (12 + 2 * AMFA_STATE_MAX_TOKENS)
#define AMFA_ITEM_EXPR_MAX   4096

struct amfa_item_write {
	char update[AMFA_ITEM_EXPR_MAX];
	char condition[AMFA_ITEM_EXPR_MAX];
	struct amfa_ddb_attr values[AMFA_ITEM_MAX_VALUES];
	size_t nvalues;
	char names[AMFA_ITEM_MAX_VALUES][16];
	char nums[AMFA_ITEM_MAX_VALUES][24];
};

/*
 * The state of `user' held by item `it': 0 with *st and *version, or -1
 * with *why (an item of another user, an attribute missing, of the wrong
 * type or out of range, too many tokens).
 */
int amfa_item_to_state(const struct amfa_ddb_item *it, const char *user,
    struct amfa_state *st, uint64_t *version, const char **why);

/*
 * The write that turns the snapshot `old' (of an item of version
 * `version', or of no item when !exists) into `st', at time `now': 0 with
 * *w, or -1 with *why (a state that lowers the step or a token's counters:
 * never written).
 */
int amfa_item_write(const struct amfa_state *old, int exists, uint64_t version,
    const struct amfa_state *st, int64_t now, struct amfa_item_write *w,
    const char **why);

/*
 * The write of a plain acceptance (the user let in; what changed is what
 * the acceptance spends, the failures and lock cleared, last_ok), for a
 * login on the fleet's table where other attempts are counted at the same
 * moment.  Unlike amfa_item_write it is not conditioned on amfa_ver,
 * which every count raises (so that, in a race, a count would send the
 * acceptance round again): it writes only what it changes, each on the
 * condition that makes it right whatever else was written since:
 *     attribute_exists(amfa_user) AND locked_until <= :now
 *     AND enr_ver = :ev  the enrolment read (`enr_version', with
 *                        enrolment = table; 0: none named)
 *     AND totp_step < :ts                      a new step
 *     AND (attribute_not_exists(yk_ID) OR yk_ID < :kN)  a token's counters
 *     AND rc_gen = :rg AND rc_used = :oru      a recovery code
 * and SETs amfa_ver = amfa_ver + 1.  Counts that land between the count
 * of this login and this write are cleared with it, as a success after
 * them clears them when they come one at a time.  0 with *w; 1 when `st'
 * is not a plain acceptance of `old' (amfa_item_write then); -1 when the
 * write does not fit.  `old' must be of an existing item.
 */
int amfa_item_write_acceptance(const struct amfa_state *old,
    uint64_t enr_version, const struct amfa_state *st, int64_t now,
    struct amfa_item_write *w);

/* The enrolment attributes of an item, pointing into it. */
#define AMFA_ITEM_ENR_CT_MAX  (24 * 1024) /* base64 of a sealed record */
#define AMFA_ITEM_ENR_KEY_MAX 1024	  /* base64 of a KMS blob */
struct amfa_item_enrolment {
	uint64_t version; /* 0: none ever written */
	const char *ct;	  /* NULL: none (never, or disabled) */
	const char *key;
};
/*
 * The enrolment attributes of `it', checked as amfa_item_to_state checks
 * them (amfa_item_to_state refuses an item where this fails): 0, or -1
 * with *why.
 */
int amfa_item_enrolment(const struct amfa_ddb_item *it,
    struct amfa_item_enrolment *e, const char **why);

/* A token's counters as one number, and back. */
uint64_t amfa_item_counter(unsigned session, unsigned use);

#endif
