/*
 * Enrolments in the fleet's table (enrolment = table): the text of what
 * would be USERS_DIR/USER.conf, sealed (enrolment_seal.h) under a data key
 * that KMS generated and wrapped, kept in the user's state item
 * (state_item.h: enr_ver, enr_ct, enr_key).  Written once by an
 * administrator (awsmfa enroll, recovery, disable, migrate-enrolment),
 * read by every bastion at login.  Nothing of it is written to a
 * bastion's disk: the item is read into memory, the data key unwrapped by
 * KMS, the record opened, parsed as a user file is parsed (user.h), and
 * every plaintext copy is wiped when the login is done.
 *
 * The layout, and what a login costs.  The enrolment sits in the state
 * item itself, not in a sibling item, so the request that brings the
 * state brings the enrolment.  A login's first table request is the
 * write-ahead count (auth.c, above count_attempt): one UpdateItem that
 * adds the attempt to the failure count and answers with the item
 * (ReturnValues ALL_NEW), here on the condition
 * attribute_exists(enr_ct) AND locked_until <= now
 * (state_table.h: amfa_table_count_enrolled).  That one answer is the
 * decision's snapshot with this attempt counted, and the sealed
 * enrolment; it is handed to the state store (amfa_table_prefetch_put,
 * counted), whose write-ahead load takes it as its count with no request
 * of its own.  Then one KMS Decrypt, the prompt, the verdict, and for a
 * right code the second conditional UpdateItem (on the counted item's
 * version) that spends the code.  Per login: a right code 2 table
 * requests and 1 Decrypt, a wrong code 1 and 1 (with files: the same
 * table requests, no Decrypt).
 *
 * The count comes before the prompt (the prompt needs the enrolment: a
 * YubiKey's or TOTP's length, and nullok needs to know there is none).
 * That is still before the verdict, which is what the count must
 * precede.  An attempt that never reaches a verdict (KMS unreachable or
 * refusing, a record that does not open, no code given, a grace= login)
 * has its count taken back at amfa_enrolment_login_done, as the
 * write-ahead decision takes it back when a verifier cannot be asked: a
 * conditional write on the counted version; killed before it, or beaten
 * by another write, the attempt stays counted (closed).  (Decrypting
 * before the count is not possible: the wrapped key comes with it.)
 *
 * The condition failing means no record (no item: a name that is not
 * enrolled, which creates no item and no lockout state; enr_ver alone: a
 * disabled user) or a lock; nothing was written, and a GetItem says which
 * (DynamoDB's ReturnValuesOnConditionCheckFailure would save that read,
 * but the cheap read is what every DynamoDB and dynalite answer the
 * same): not enrolled (nullok may pass over), disabled (refused, nullok
 * or not), or enrolled and locked out (the item is handed over uncounted;
 * the decision's own count then finds the lock).  Those paths cost 2
 * requests, a locked-out login 3.
 *
 * KMS: one Decrypt per login (a data key per user, generated anew by
 * every administrator's write; nothing cached between logins, so a
 * disable is seen by the next login, everywhere).  Item size: the sealed
 * text of a user file (about 0.3 to 2 KB with recovery codes) plus the
 * wrapped key (~250 bytes): far under DynamoDB's 400 KB, one write unit
 * per KB of the item for each write (an UpdateItem is billed on the
 * item's size), one read unit for a typical item's read.
 *
 * Revocation.  Every administrator's write bumps enr_ver and the item's
 * amfa_ver under a condition on the enr_ver it read, so a login decided on
 * the old record cannot commit (its write's condition names the counted
 * amfa_ver) and its fresh read brings the new enr_ver, which the store
 * refuses for a login that began under another (amfa_table_prefetch_put's
 * version, the pin): a disable or re-enrolment landing between the count
 * and the write that spends the code refuses the login, never accepts.
 * `awsmfa disable' removes the record and bumps enr_ver (a tombstone):
 * the user is refused everywhere, nullok or not.
 *
 * Rollback.  Whoever may write the item's attributes can put back an old
 * triple (enr_ct, enr_key, enr_ver): it is genuine, so it opens.  Each
 * host keeps the highest enr_ver it has seen per user (a record that
 * opened, or a tombstone) and refuses a lower one before asking KMS
 * (enrolment_floor.h); the version is bound into the seal and into KMS's
 * encryption context, so a triple cannot be relabelled above the floor,
 * nor a data key unwrapped by the bastions' Decrypt reused to seal a later
 * version.  A host that never saw the later version is not protected: the
 * bastions' role policy denies enr_* writes for that (awsmfa.conf(5)).
 */
#ifndef AMFA_ENROLMENT_TABLE_H
#define AMFA_ENROLMENT_TABLE_H

#include <stddef.h>
#include <sys/types.h>

#include "aws/dynamodb.h"
#include "config.h"
#include "user.h"

/* Returned for a user whose enrolment was disabled (awsmfa disable). */
#define AMFA_ENROLMENT_DISABLED 2

/*
 * The enrolment of `name', from where awsmfa.conf says (files: user.h's
 * amfa_user_load, `owner' as there).  0; AMFA_USER_NOT_ENROLLED (no item,
 * or an item without an enrolment ever, and no USERS_DIR/USER.conf);
 * AMFA_ENROLMENT_DISABLED; -1 (logged: the table or KMS unreachable or
 * refusing, a record that does not open or parse, a version below the
 * host's floor, or a users_dir file not moved into the table: never read,
 * and never "not enrolled", which nullok would pass over).
 */
int amfa_enrolment_load(const struct amfa_config *cfg, const char *name,
    uid_t owner, struct amfa_user *u);

/*
 * The same for a login (the PAM module): in table mode, the item comes
 * from the counting UpdateItem (above), is handed to the state store as
 * the decision's count (no second request) and the enrolment version is
 * pinned for the rest of the login.  amfa_enrolment_login_done after it
 * (takes back a count no decision took).
 */
int amfa_enrolment_load_login(const struct amfa_config *cfg, const char *name,
    uid_t owner, struct amfa_user *u);
void amfa_enrolment_login_done(const struct amfa_config *cfg);

/* The same from an item already read (`it' of the user `name'). */
int amfa_enrolment_from_item(const struct amfa_config *cfg, const char *name,
    const struct amfa_ddb_item *it, struct amfa_user *u);

/*
 * The administrator's write: `text' (a user file's text, checked by the
 * caller) sealed as USER's enrolment, or with text NULL the enrolment
 * removed (disabled).  Without `force' an existing enrolment is never
 * replaced.  0 written; 1 an enrolment exists and !force (or, for a
 * disable, none exists); -1 (logged).
 */
int amfa_enrolment_table_write(const struct amfa_config *cfg, const char *user,
    const char *text, size_t len, int force);

/* Is there an enrolment in the table for USER?  1 yes, 0 no (or
 * disabled), -1 (logged). */
int amfa_enrolment_table_exists(const struct amfa_config *cfg,
    const char *user);

/* The KMS client's settings: the table's, with kms_endpoint; `endpoint'
 * (256 bytes) and `cache' (4096) are its storage. */
void amfa_enrolment_kms_config(const struct amfa_config *cfg,
    struct amfa_ddb_config *dc, char *endpoint, char *cache);

#endif
