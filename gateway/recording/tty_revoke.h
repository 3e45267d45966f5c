/*
 * Take the client's terminal back from everyone else.
 *
 * sshd hands the session's pty to the user (chown, 0620) before it runs
 * the ForceCommand.  From then until the recorder makes it exclusive
 * (TIOCEXCL), any process of the user's can open it -- one left behind
 * by an earlier session, polling /dev/pts -- and a descriptor opened then
 * stays good after: kept by a process that is not dumpable, or in flight
 * in a unix socket, it is out of the gateway's sight (tty_holders.h),
 * and through it the process writes to the client and reads what the
 * client types, none of it recorded.
 *
 * Only the kernel can take such descriptors back: vhangup(2) hangs up
 * every open file of the terminal, wherever it is, and a hung-up file
 * reads end-of-file and writes EIO for good.  What must not happen is an
 * open between the hang-up and the recorder's own: the exclusive flag
 * does not stop that (a descriptor from before clears it with TIOCNXCL,
 * which needs no privilege), ownership does.  So the recorder:
 *   1. requires descriptor 0 to be the controlling terminal of a session
 *      this process leads (ForceCommand "exec awsmfa-gateway": the
 *      gateway, then the recorder, is what sshd started);
 *   2. makes the terminal non-canonical until step 5 (a line being
 *      typed is readable then);
 *   3. makes the node its own: chown to its account (CAP_CHOWN), mode
 *      0600 as its owner; no process of the user's opens it from then
 *      on, by any path, nor changes that back (only an owner may);
 *   4. reads what the client typed ahead, right before it hangs the
 *      terminal up (a hang-up discards it; it goes to the shell instead,
 *      recorded_shell.h), vhangup(2) with CAP_SYS_TTY_CONFIG (SIGHUP
 *      ignored meanwhile); what arrives after stays queued and is pushed
 *      as a line when step 5 sets the modes back;
 *   5. opens it again as its owner, checks that it is the same device and
 *      its own, makes it exclusive, its controlling terminal again and
 *      descriptors 0-2 where those were the terminal;
 * and drops every capability, for good, right after the hang-up.  The two
 * capabilities are file capabilities of the recorder, permitted only
 * (setcap cap_chown,cap_sys_tty_config=p, awsmfa-recorder(8)): never
 * effective but for those two calls.  Without them, or if any step
 * fails, the session does not start: fail closed.  The node goes away
 * when sshd closes the pty at the session's end (devpts).
 *
 * Between the chown and the recorder's own open the exclusive flag is
 * clear (the recorder holds no CAP_SYS_ADMIN to pass it): a member of the
 * session could open /dev/tty, which asks no owner, so the session must
 * hold nothing but the recorder and the gateway's audit side first
 * (session_alone).  What remains is an open(2) of the node's path that
 * passed its permission check before the chown and reaches the terminal
 * after the hang-up, in the microseconds before the flag is set again: a
 * thread kept from running inside the call (not shown in three tries:
 * tests/gateway/test_gateway_attack_chown.py, AMFA_RACE=1).
 */
#ifndef GW_TTY_REVOKE_H
#define GW_TTY_REVOKE_H

#include <sys/types.h>

/*
 * Drop every capability (permitted, effective, inheritable), for good.
 * 0, or -1 (the process must then stop).
 */
int gw_caps_drop(void);

/*
 * Steps 1-5 above for descriptor 0, which the caller has made exclusive;
 * `side' is the gateway's audit side, the one other process the session
 * may hold (a child of this process).
 * 0 when every earlier open of the terminal is hung up and 0-2 hold a
 * fresh one, what was typed ahead in typed[cap] (its length in *len);
 * -1 with why[size] said otherwise (capabilities dropped in both cases).
 */
int gw_tty_revoke(pid_t side, char *typed, size_t cap, size_t *len, char *why,
    size_t size);

#endif
