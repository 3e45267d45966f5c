/*
 * Who else holds the client's terminal, or sshd's pipes?  The recorder
 * hangs up every earlier descriptor of a terminal (tty_revoke.h), but
 * pipes (ssh -T) cannot be hung up: a process of the user's that holds
 * one and is dumpable gives it away to the user (ptrace(2),
 * pidfd_getfd(2)), and output written through it reaches the client
 * unrecorded.  For a terminal this look is a second line only.  The usual case is the
 * login shell that sshd runs the ForceCommand with ($SHELL -c COMMAND):
 * bash execs a single command, dash does not, and stays holding the
 * terminal (hence "ForceCommand exec /usr/bin/awsmfa-gateway").
 *
 * The gateway runs as the user, so it sees the descriptors of exactly the
 * processes the user can reach that way (same uid, dumpable): those that
 * it cannot see (sshd's, the recorder's, other non-dumpable ones) the user
 * cannot take descriptors from either -- except a process of the user's
 * own that took sshd's pipes before the gateway started and then made
 * itself non-dumpable (awsmfa-gateway(8), SESSION RECORDING).
 */
#ifndef GW_TTY_HOLDERS_H
#define GW_TTY_HOLDERS_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/*
 * The first process other than `self' whose descriptors this process can
 * read and that holds the terminal of `fd'; its name (/proc/PID/comm) goes
 * to name[size].  Its pid, 0 when there is none, -1 when `fd' is not a
 * terminal.
 */
pid_t gw_tty_holder(int fd, pid_t self, char *name, size_t size);

/*
 * The same for what `target' (from fstat(2)) describes: a terminal, or
 * a pipe or socket (sshd's, without a terminal: ssh -T), which the
 * gateway's audit side looks for after it has given its own descriptors
 * of them up.  Its pid, or 0.
 */
pid_t gw_holder_of(const struct stat *target, pid_t self, char *name,
    size_t size);

#endif
