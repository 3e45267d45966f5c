/*
 * The version floor of table enrolments (enrolment = table): per host,
 * root-only, the highest enrolment version (enr_ver) this host has seen
 * for each user, whether a record that opened or a disable's tombstone.
 * A login refuses an item whose enr_ver is below it: someone who can
 * write the item's attributes cannot put back an old sealed triple
 * (enr_ct, enr_key, enr_ver) -- a disabled user's record, or an old seed
 * -- on a host that has seen a later version.  The sealed record cannot
 * be relabelled to a higher version instead: the version is in the seal's
 * additional data and in KMS's encryption context (enrolment_seal.h,
 * kms.h).  What it cannot stop: a rollback on a host that never saw the
 * later version (awsmfa.conf(5), "Enrolment in the table").
 *
 * Kept as STATE_DIR/enrolment-floor/USER (mode 0600 in a 0700 directory
 * owned by root), one decimal number; raised under a lock, never lowered.
 * No secret in it.
 */
#ifndef AMFA_ENROLMENT_FLOOR_H
#define AMFA_ENROLMENT_FLOOR_H

#include <stdint.h>

#include "config.h"

#define AMFA_FLOOR_DIR "enrolment-floor"

/* The floor of `user' into *floor (0: none seen): 0, or -1 (logged). */
int amfa_enrolment_floor_get(const struct amfa_config *cfg, const char *user,
    uint64_t *floor);
/* Raise the floor of `user' to `version' (no change when it is not
 * higher): 0, or -1 (logged). */
int amfa_enrolment_floor_raise(const struct amfa_config *cfg, const char *user,
    uint64_t version);

#endif
