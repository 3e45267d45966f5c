/*
 * The control socket between the recorder (recorder.c, the process sshd
 * started, after the gateway's exec) and the gateway's audit side (its
 * forked child, which keeps the audit log): one SOCK_SEQPACKET pair made
 * by the gateway before the fork, the recorder's end on its descriptor 3,
 * one text message per packet, a word and its argument:
 *
 *   recorder -> gateway   "created NAME"    the recording exists, header
 *                                            written; waits for "go" or
 *                                            "no MESSAGE"
 *                         "refused REASON"  no recording: nothing runs;
 *                                            waits for "ok" (audited)
 *                         "shell PID"       the shell's pid
 *                         "failed WHY"      the recording ended early;
 *                                            waits for "continue" or "end"
 *                         "end HOW STATUS ALIVE PID"
 *                                            the session is over: how
 *                                            (recorded_shell.h's end), the
 *                                            exit status, whether the
 *                                            shell (process group PID)
 *                                            outlived its hang-up; waits
 *                                            for "audited" or "unaudited"
 *   gateway -> recorder   "go", "no MESSAGE" (shell record not written:
 *                         MESSAGE for the user), "ok", "continue", "end",
 *                         "audited", "unaudited"; "stop" (SIGTERM, SIGHUP
 *                         or SIGINT to the gateway): the session ends
 *
 * The recorder ends the session when the socket closes (the gateway's
 * audit side is gone): no audit trail, no session.  The audit side runs
 * as the user, who may stop it: the recorder waits for an answer at most
 * GW_CTL_ANSWER_MS (for "go": until the client goes away), then ends.
 */
#ifndef GW_RECORDER_CTL_H
#define GW_RECORDER_CTL_H

#include <stddef.h>

#define GW_CTL_FD  3
#define GW_CTL_MAX 512
/* The longest the recorder waits for one of the gateway's answers. */
#define GW_CTL_ANSWER_MS 5000

/* Send one message (printf-style).  0 or -1. */
int gw_ctl_send(int fd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Receive one message into buf[GW_CTL_MAX], NUL-terminated, waiting up to
 * `timeout_ms' (-1: for ever).  Its length, -2 when the time ran out, or
 * -1 (closed, error).
 * *arg points after the first space (or to the end).
 */
int gw_ctl_recv(int fd, char *buf, int timeout_ms, const char **arg);

/* Read and drop what is waiting (a "stop" the session's end made moot), so
 * that closing the socket does not reset the peer's.  */
void gw_ctl_drain(int fd);

/* Is this message the word `w' (followed by a space or its end)? */
int gw_ctl_is(const char *msg, const char *w);

#endif
