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
 * (ownership of *it passes; *it is cleared).  Until amfa_table_prefetch_drop,
 * any load of that user whose item holds another enrolment version than
 * `enr_ver', or none, is refused: the enrolment changed during the login
 * (re-enrolled or disabled), and the decision was taken on the old one.
 */
void amfa_table_prefetch_put(const char *user, struct amfa_ddb_item *it,
    uint64_t enr_ver);
void amfa_table_prefetch_drop(void);

#endif
