/*
 * The relay: bytes from the client (our stdin) to the target socket and
 * from the target back to the client (our stdout), nothing else.
 *
 * Each direction moves data with splice(2) through a pipe of its own, so
 * the bytes never enter user space; a descriptor splice cannot handle (a
 * terminal, a file opened for appending) falls back to read/write for that
 * direction.  Everything is non-blocking under one ppoll(2) loop.  An end of
 * file in one direction is passed on as a half-close (shutdown(SHUT_WR) of
 * a socket, close of a pipe) while the other direction carries on; the
 * relay ends when both directions have ended.  A direction whose receiver
 * is gone (EPIPE, reset) stops reading its sender too.
 */
#ifndef GW_RELAY_H
#define GW_RELAY_H

#include <signal.h>
#include <stdint.h>

struct gw_relay_stats {
	uint64_t up;   /* client to target */
	uint64_t down; /* target to client */
	/*
	 * How it ended: "closed" (an EOF each way), "client closed" (the
	 * client's side went away or failed first), "target reset", or, for
	 * -1, "interrupted" or what failed.
	 */
	const char *end;
	int spliced; /* both directions used splice */
};

/*
 * Relay between `in'/`out' (the client's side; may be one descriptor) and
 * `sock' until both directions end or *stop is set (by a signal handler).
 * All three are made non-blocking.  0 when the relay ran until both
 * directions were over, however they ended; -1 when it was stopped or
 * could not go on (st->end says why).  Closes nothing but what
 * half-closing needs; the caller closes the rest.
 */
int gw_relay(int in, int out, int sock, volatile sig_atomic_t *stop,
    struct gw_relay_stats *st);

#endif
