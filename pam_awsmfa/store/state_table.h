/*
 * The state table store (store.h): one item per user in a DynamoDB table
 * (state_item.h says what it holds and how it is written), reached through
 * the network boundary (net.h: the plugin awsmfa_net.so in the module).
 *
 * The table's answers as the store reports them: no item is a fresh
 * state; a condition that failed is a conflict (another host wrote since
 * the snapshot); no answer within dynamodb_timeout, after the client's
 * retries of throttling and 5xx answers, is AMFA_STORE_UNAVAILABLE; an
 * item that does not parse, a refusal (AccessDenied, no such table) and
 * missing credentials are AMFA_STORE_ERROR, logged with AWS's error code
 * and request id.  Nothing here ever accepts on a guess.
 */
#ifndef AMFA_STATE_TABLE_H
#define AMFA_STATE_TABLE_H

#include <stdint.h>

#include "aws/dynamodb.h"
#include "config.h"

/* The client's settings from awsmfa.conf; `endpoint' (256 bytes) and
 * `cache' (4096) are its storage. */
void amfa_table_config(const struct amfa_config *cfg,
    struct amfa_ddb_config *dc, char *endpoint, char *cache);

/* What a client error means for a log line: "CODE: MESSAGE (request id
 * ID)" or the transport's detail. */
void amfa_table_error_str(const struct amfa_ddb_error *err, char *out,
    size_t outlen);

/*
 * The item a login's enrolment read brought (enrolment_table.h), for this
 * thread's next load of the same user: taken instead of a GetItem
 * (ownership of *it passes; *it is cleared).  With `counted', *it is the
 * answer of amfa_table_count_enrolled: the decision's write-ahead load
 * (store.h, amfa_store_load_counted) takes it as its count, with no
 * request of its own, and a plain load before it (a look: grace=) reads
 * it without taking it.  Until amfa_table_prefetch_drop, any load of that
 * user whose item holds another enrolment version than `enr_ver', or
 * none, is refused: the enrolment changed during the login (re-enrolled
 * or disabled), and the decision was taken on the old one.
 */
void amfa_table_prefetch_put(const char *user, struct amfa_ddb_item *it,
    uint64_t enr_ver, int counted);
/* The user of a counted item that no decision took yet, or NULL. */
const char *amfa_table_prefetch_untaken_count(void);
/* The login is over: the item and the pin are forgotten. */
void amfa_table_prefetch_drop(void);

/*
 * The write-ahead count (state_table.c) as the first request of a login
 * with enrolment = table: one UpdateItem that counts the attempt and
 * answers ALL_NEW (the snapshot, the count and the sealed enrolment in
 * one request), on the condition that the item holds an enrolment record
 * (attribute_exists(enr_ct): a name with no item, or disabled, gets no
 * item and no count) and the user is not locked out at `now'.  0 with
 * *it; 1 the condition failed (nothing written: not enrolled, disabled or
 * locked out; a GetItem says which); -2 the table did not answer in time,
 * -1 anything else (both logged).
 */
int amfa_table_count_enrolled(const struct amfa_config *cfg, const char *user,
    int64_t now, struct amfa_ddb_item *it);

#endif
