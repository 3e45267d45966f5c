/*
 * The module's side of awsmfa-netd, the network broker (awsmfa-netd(8)):
 * one call, one connection to its socket, one request, one answer.
 */
#ifndef AMFA_BROKER_CLIENT_H
#define AMFA_BROKER_CLIENT_H

#include "broker_wire.h"

/* What amfa_broker_call did. */
enum amfa_broker_outcome {
	AMFA_BROKER_ANSWERED, /* *a is the broker's answer, or the failure to
			       * reach it after the request may have gone:
			       * AMFA_DDB_UNAVAILABLE, err.sent_before set */
	AMFA_BROKER_ABSENT,   /* no broker listens at `path' (no socket, none
			       * listening, not ours to reach): nothing was
			       * sent; the caller makes the call itself */
};

/*
 * Connect to `path', check that the listener is root's (else
 * AMFA_DDB_INTERNAL, nothing sent: a socket that is not root's is never
 * used, and not passed over either), send `rq', and wait for the answer
 * until the request's own time and 5 s more have passed.  Logged.
 */
enum amfa_broker_outcome amfa_broker_call(const char *path,
    const struct amfa_broker_request *rq, struct amfa_broker_answer *a);

#endif
