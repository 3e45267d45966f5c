/*
 * Reaching a target: resolve it, hold every address to the policy, connect
 * to the first allowed address that answers within the timeout.  An
 * address the policy refuses is never connected to.
 */
#ifndef GW_DIAL_H
#define GW_DIAL_H

#include "command.h"
#include "policy.h"

struct gw_dial {
	int fd;			    /* connected, non-blocking */
	char addr[64];		    /* the address used or refused */
	const char *why;	    /* failure: the reason */
	int denied;		    /* failure by policy, not network */
	const struct gw_rule *rule; /* the rule that decided */
	int unready;		    /* `ready' said no */
};

/*
 * Asked before each connection attempt, with the allowed address about to
 * be tried and the rule that allowed it: 0 to go ahead, -1 to stop with no
 * connection made (the audit record of the decision cannot be written).
 */
typedef int (
    *gw_dial_ready)(void *ctx, const char *addr, const struct gw_rule *rule);

/*
 * Connect `s' to `cmd' (a GW_CMD_CONNECT), within `timeout' seconds for
 * all the addresses together.  0 with d->fd set, or -1 with d->why.
 * `ready' may be NULL.
 */
int gw_dial(const struct gw_policy *p, const struct gw_subject *s,
    const struct gw_command *cmd, long timeout, gw_dial_ready ready, void *ctx,
    struct gw_dial *d);

#endif
