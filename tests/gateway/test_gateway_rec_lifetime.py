"""How long a recorded session lives, and what of the client's the user
can reach around the recorder: the set-id install, accounts, mount
namespace and real sshd of test_gateway_recording (imported: its
setUpModule runs for this module, with accounts of its own).

- A process the recorded shell leaves behind (setsid, before "exit")
  stops every gateway process of the user's (SIGSTOP; the recorder
  refuses), waits for the shell's end, then tries for a while to open the
  client's terminal, by its /dev/pts path and through /proc/PID/fd of the
  recorder, of sshd's session process and of the gateway's, and to write
  to and read from the client through what it gets.  The client's session
  must end when the shell ends (sshd waits on the recorder, which the
  user cannot stop), nothing of the leftover's reaches the client, every
  open fails, and the recording and the audit log say how it ended: the
  shell's exit status, and that the stopped gateway did not confirm its
  shell_end record (written late, once it runs again).
- Without a terminal (ssh -T) and with record_input = yes, what the
  client sends is recorded as typed input ("i") and played back by
  asciinema; the shell holds no descriptor of sshd's pipes."""

import os
import re
import signal
import sys
import time
import unittest

import pexpect

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import test_gateway_recording as base                     # noqa: E402
from gwlib import TAG, Client, answer, finish, read       # noqa: E402

base.ROLES = base.ROLES + ("leftov", "pipein")
setUpModule = base.setUpModule
tearDownModule = base.tearDownModule

# Run by the recorded user, left behind by the recorded shell (setsid):
# argv = log file, the shell's pid, the client's terminal.  Stops every
# gateway process of the user's, then, once the shell is gone, tries to
# open the client's terminal for 8 seconds; every attempt goes to the log.
LEFTOVER = r"""
import errno, os, signal, sys, time
log = open(sys.argv[1], "a", buffering=1)
shell, tty = int(sys.argv[2]), sys.argv[3]
def procs(name):
    out = []
    for p in os.listdir("/proc"):
        try:
            with open("/proc/%s/comm" % p) as f:
                if f.read().strip() == name:
                    out.append(int(p))
        except (OSError, ValueError):
            pass
    return out
def parent(pid):
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])
gws, recs = procs("awsmfa-gateway"), procs("awsmfa-recorder")
for pid in gws + recs:
    what = "gateway" if pid in gws else "recorder"
    try:
        os.kill(pid, signal.SIGSTOP)
        log.write("STOPPED %s %d\n" % (what, pid))
    except OSError as e:
        log.write("NOSTOP %s %d %s\n" % (what, pid,
                                          errno.errorcode[e.errno]))
holders = recs + [parent(r) for r in recs] + gws
log.write("READY %s\n" % holders)
while os.path.exists("/proc/%d" % shell):
    time.sleep(0.05)
log.write("SHELL-GONE\n")
end = time.time() + 8
paths = [tty] + ["/proc/%d/fd/%d" % (h, n) for h in holders
                 for n in (0, 1, 2)]
while time.time() < end:
    for path in paths:
        try:
            fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        except OSError as e:
            log.write("FAIL %s %s\n" % (path, errno.errorcode[e.errno]))
            continue
        log.write("OPENED %s\n" % path)
        try:
            os.write(fd, b"\r\nLEAK-" + b"42 unrecorded\r\n")
            log.write("WROTE %s\n" % path)
            log.write("READ %r\n" % os.read(fd, 100))
        except OSError as e:
            log.write("IOERR %s %s\n" % (path, errno.errorcode[e.errno]))
        os.close(fd)
    time.sleep(0.1)
log.write("DONE\n")
""".strip()


class Lifetime(unittest.TestCase):
    setUp = base.Recording.setUp
    logs_on_failure = base.Recording.logs_on_failure
    login = base.Recording.login
    shell = base.Recording.shell
    recording_of = base.Recording.recording_of

    def wait_for(self, what, path, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if os.path.exists(path) and what in read(path):
                return read(path)
            time.sleep(0.1)
        self.fail("no %r in %s: %r" % (what, path, os.path.exists(path) and
                                         read(path)))

    def test_leftover_with_stopped_gateway_gets_nothing_after_the_end(self):
        base.gateway_conf()
        p, child = self.login("leftov")
        out = self.shell(child, "echo SH=$$ PP=$PPID")
        m = re.search(r"SH=(\d+) PP=(\d+)", out)
        shell, rec = int(m.group(1)), int(m.group(2))
        self.addCleanup(base.kill_session, shell)
        tty = os.readlink("/proc/%d/fd/0" % rec)
        self.assertTrue(tty.startswith("/dev/pts/"), tty)
        log = "/tmp/amfa-leftover-%s.log" % TAG
        script = "/tmp/amfa-leftover-%s.py" % TAG
        with open(script, "w") as f:
            f.write(LEFTOVER)
        os.chmod(script, 0o644)
        self.addCleanup(os.unlink, script)
        self.addCleanup(lambda: os.path.exists(log) and os.unlink(log))
        self.shell(child, "setsid -f /usr/bin/python3 %s %s $$ %s "
                   "</dev/null >/dev/null 2>&1" % (script, log, tty))
        text = self.wait_for("READY", log)
        stopped = [int(x) for x in re.findall(r"^STOPPED \w+ (\d+)$", text,
                                              re.M)]
        self.addCleanup(self.cont, stopped)
        self.assertIn("STOPPED gateway", text, "no gateway stopped: " + text)
        self.assertNotIn("STOPPED recorder", text, text)
        child.sendline("exit 6")
        # The session ends with the shell, stopped gateway or not; the
        # leftover's writes (if any open succeeded) would show here.
        i = child.expect([pexpect.EOF, "LEAK-42", pexpect.TIMEOUT],
                         timeout=90)
        self.assertEqual(i, 0, "the session outlived its shell, or the "
                         "leftover reached the client: %r" % child.before)
        self.assertNotIn("LEAK-42", child.before)
        child.close()
        self.assertEqual(child.exitstatus, 6, "the shell's exit status")
        text = self.wait_for("DONE", log)
        self.assertIn("SHELL-GONE", text)
        self.assertNotIn("OPENED", text, text)
        self.assertIn("FAIL %s" % tty, text)
        # The recording says how the session ended, and that the gateway
        # (stopped) did not confirm its shell_end record.
        path = self.recording_of(p)
        header, events = base.cast(path)
        marks = [e[2] for e in events if e[1] == "m"]
        self.assertEqual(marks[0], "exit status 6", marks)
        self.assertIn("shell_end not confirmed", marks[-1], marks)
        self.assertNotIn("LEAK-42", read(path))
        # Running again, the gateway writes shell_end, late.
        self.cont(stopped)
        deadline = time.time() + 30
        while time.time() < deadline and not base.audit_records(
                p.name, "shell_end"):
            time.sleep(0.1)
        ends = base.audit_records(p.name, "shell_end")
        self.assertEqual([(e["result"], e["exit_status"], e["reason"])
                          for e in ends], [("ok", 6, "exit")], ends)

    @staticmethod
    def cont(pids):
        for pid in pids:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass

    def test_pipe_mode_input_is_relayed_and_recorded(self):
        base.gateway_conf(record_input="yes")
        p = base.PEOPLE["pipein"]
        c = Client(p.key, [base.BASTION])
        child = c.spawn(c.ssh_args(base.BASTION, p.name, tty=False),
                        timeout=60)
        answer(child, [p.code()])
        word = "typed-%s" % TAG
        # The shell's descriptors next to the recorder's (sshd's pipes).
        child.sendline("echo SH=$$ PP=$PPID; echo %s-$((6*7)); "
                       "for f in /proc/$$/fd/*; do echo FD=$(readlink $f); "
                       "done; echo @@E$((6*7))@@" % word)
        child.expect(r"SH=(\d+) PP=(\d+)")
        rec = int(child.match.group(2))
        sshd_fds = set(os.readlink("/proc/%d/fd/%d" % (rec, n))
                       for n in (0, 1, 2))
        child.expect_exact("@@E42@@")
        fds = set(re.findall(r"FD=(\S+)", child.before))
        self.assertTrue(fds, child.before)
        self.assertEqual(fds & sshd_fds, set(),
                         "the shell holds sshd's pipes: %s" % fds)
        child.sendline("exit 4")
        status, out = finish(child)
        self.assertEqual(status, 4, out)
        path = self.recording_of(p)
        header, events = base.cast(path)
        typed = "".join(e[2] for e in events if e[1] == "i")
        self.assertIn("echo %s-$((6*7))" % word, typed)
        self.assertIn("exit 4", typed)
        self.assertEqual([e[2] for e in events if e[1] == "m"][0],
                         "exit status 4")
        # The real player prints the output back.
        play = pexpect.spawn("asciinema", ["cat", path], encoding="utf-8",
                             timeout=30, env={"PATH": "/usr/bin:/bin",
                                              "LANG": "C.UTF-8",
                                              "HOME": base.DIR})
        play.expect(pexpect.EOF)
        shown = play.before
        play.close()
        self.assertEqual(play.exitstatus, 0, shown)
        self.assertIn("%s-42" % word, shown)


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
