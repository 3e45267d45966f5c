/* One request of the module carried out by awsmfa-netd. */
#ifndef AMFA_NETD_CALL_H
#define AMFA_NETD_CALL_H

#include "net/broker_wire.h"

/*
 * Make the call `rq' names with this process's clients (dynamodb.h,
 * kms.h: its own kept connections, the credentials the request names) and
 * fill `a' (amfa_netd_answer_free).
 */
void amfa_netd_call(const struct amfa_broker_request *rq,
    struct amfa_broker_answer *a);
void amfa_netd_answer_free(struct amfa_broker_answer *a);

#endif
