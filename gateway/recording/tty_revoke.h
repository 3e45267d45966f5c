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
 * reads end-of-file and writes EIO for good.  The recorder does it once
 * the terminal is exclusive, so nobody but CAP_SYS_ADMIN opens it again,
 * and then opens it afresh for itself:
 *   1. descriptor 0 must be the controlling terminal of a session this
 *      process leads (ForceCommand "exec awsmfa-gateway": the gateway,
 *      then the recorder, is what sshd started);
 *   2. what the client typed ahead is read first (the terminal set
 *      non-canonical for a moment, then as it was): a hang-up discards
 *      it, and it goes to the shell instead (recorded_shell.h);
 *      vhangup(2), with CAP_SYS_TTY_CONFIG (SIGHUP ignored meanwhile);
 *   3. open(2) of the same /dev/pts node, with CAP_SYS_ADMIN to pass the
 *      exclusive flag and the user's file-system uid to pass its mode
 *      (0620, the user's); checked to be the same device; it becomes the
 *      controlling terminal again and descriptors 0-2 where those were
 *      the terminal;
 *   4. every capability is dropped, for good, before anything else.
 * The two capabilities are file capabilities of the recorder, permitted
 * only (setcap cap_sys_admin,cap_sys_tty_config=p, awsmfa-recorder(8)):
 * never effective but for those two calls.  Without them, or if any step
 * fails, the session does not start: fail closed.
 */
#ifndef GW_TTY_REVOKE_H
#define GW_TTY_REVOKE_H

/*
 * Drop every capability (permitted, effective, inheritable), for good.
 * 0, or -1 (the process must then stop).
 */
int gw_caps_drop(void);

/*
 * Steps 1-4 above for descriptor 0, which the caller has made exclusive.
 * 0 when every earlier open of the terminal is hung up and 0-2 hold a
 * fresh one, what was typed ahead in typed[cap] (its length in *len);
 * -1 with why[size] said otherwise (capabilities dropped in both cases).
 */
int gw_tty_revoke(char *typed, size_t cap, size_t *len, char *why, size_t size);

#endif
