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
 * item itself, not in a sibling item: the read that brings the state
 * brings the enrolment, so a login makes no table request it did not make
 * before.  The item read here is handed to the state store
 * (state_table.h: amfa_table_prefetch_put), whose first load of the same
 * login takes it instead of a GetItem; a write decided on it is
 * conditional on the item's version, so a stale snapshot only costs a
 * conflict and a fresh read.  When the login's first table request becomes
 * an UpdateItem that counts the attempt and returns the item (ALL_NEW),
 * the enrolment is taken from that answer the same way
 * (amfa_enrolment_from_item works on any item); that write's condition
 * then adds attribute_exists(enr_ct), so that a name with no enrolment
 * creates no item (a failed condition is followed by a read that says
 * why: not enrolled, disabled, or locked out).  KMS: one Decrypt per login (a data key per user, generated anew
 * by every administrator's write; nothing cached between logins, so a
 * disable is seen by the next login, everywhere).  Item size: the sealed
 * text of a user file (about 0.3 to 2 KB with recovery codes) plus the
 * wrapped key (~250 bytes): far under DynamoDB's 400 KB, one read unit
 * (4 KB) for a consistent read of a typical item.
 *
 * Revocation.  Every administrator's write bumps enr_ver and the item's
 * amfa_ver under a condition on the enr_ver it read, so a login decided on
 * the old record cannot commit (its write's condition names the old
 * amfa_ver) and its fresh read brings the new enr_ver, which the store
 * refuses for a login that began under another (amfa_table_prefetch_put's
 * version).  `awsmfa disable' keeps enr_ver and removes the record: the
 * user is refused everywhere, nullok or not.
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
 * or an item without an enrolment ever); AMFA_ENROLMENT_DISABLED; -1
 * (logged: the table or KMS unreachable or refusing, a record that does
 * not open or parse).
 */
int amfa_enrolment_load(const struct amfa_config *cfg, const char *name,
    uid_t owner, struct amfa_user *u);

/*
 * The same for a login (the PAM module): in table mode, the item read is
 * handed to the state store (no second read) and the enrolment version is
 * pinned for the rest of the login.  amfa_enrolment_login_done after it.
 */
int amfa_enrolment_load_login(const struct amfa_config *cfg, const char *name,
    uid_t owner, struct amfa_user *u);
void amfa_enrolment_login_done(void);

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
