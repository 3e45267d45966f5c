"""Recorded shells, end to end: the real sshd on loopback with the shipped
sshd_config snippet and PAM stack, and as ForceCommand the gateway
installed as documented (root:GROUP 2755, the audit log root:GROUP 0620)
with its recorder (a system account REC of its own, the recorder REC:REC
6755, named by gateway.conf's recorder =; the recording directory root:REC
1730), which each test user logs in to through a pseudo-terminal with
their key and a TOTP code.  The set-id copies run in the ASan build too.

The installed gateway reads /etc/awsmfa/gateway.conf and refuses -f, so
sshd runs in a mount namespace of its own: /etc is an overlay there, with
a directory of this run's bind-mounted on /etc/awsmfa (the tests rewrite
its gateway.conf), and a small tmpfs for the full-disk case.  The real /etc
is not touched.

- A session through the gateway: commands, a window resize, Ctrl-C, job
  control, an exit status; `asciinema cat' (Debian's asciinema) prints back
  what the session showed; the header names the user, the IAM user, the
  host, the source address and the time; the audit records name the
  recording.
- As the recorded user, during the session (from its own shell) and after
  it: reading, writing, truncating, removing, chmod of the recording, and
  listing the directory all fail; the gateway's descriptors are out of
  reach; the file is unchanged.
- Typed input with the echo off is not in the recording, unless
  record_input = yes.
- The size limit and a full file system: with recording_failure = end the
  session ends, with continue it goes on, audited; the file is whole lines.
- A recording directory that is a link, or has loose modes or the wrong
  owner: the shell that must be recorded does not start.
- The recorder is out of the user's reach: from the recorded shell,
  SIGSTOP and SIGKILL to it fail (EPERM); sshd's terminal (the client's)
  cannot be opened by its /dev/pts path (EBUSY: TIOCEXCL) nor through
  /proc/PID/fd of the recorder or the gateway; the shell holds no
  descriptor of it; the recording belongs to the recorder's account.
- The recorder run by hand (a control socket of the user's own, a size
  limit and header of their choosing) refuses and creates nothing: the
  gateway makes the socket with its audit group, and the recorder checks
  the socket's creator (SO_PEERCRED).  A member of the recorder's group
  is refused a recorded shell, and so is a member of the audit group.
- A size the shell sets itself (stty cols N rows M) is recorded.
- The recorder's death (root kills it): the session ends, the shell and
  what runs in its session go too, even when they ignore SIGHUP, and the
  audit record says so."""

import grp
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import unittest

import pexpect

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "pam"))

from amfa_testlib import Tree, totp                        # noqa: E402
from gwlib import (GATEWAY, MODULE, TAG, Client, Sshd,     # noqa: E402
                   SshKey, answer, finish, janitor, make_account, read,
                   sanitizer_env, shipped_pam_stack, shipped_sshd_options,
                   temp_dir, write_file)

GROUP = "amfa-gwrec-" + TAG
RECUSER = "amfa-rec-" + TAG           # the recorder's account and group
RECORDER = os.environ.get("AMFA_RECORDER", "")
# The recorder's file capabilities (awsmfa-recorder(8)): permitted only.
RECORDER_CAPS = "cap_chown,cap_sys_tty_config=p"
ROLES = ("main", "input", "inyes", "limend", "limgo", "disk", "link", "loose",
         "owner", "attack", "death", "noexec", "bash", "hangup", "member",
         "byhand", "stty", "auditr", "nocaps")


class Person:
    def __init__(self, role):
        self.name = "amfa-r%s-%s" % (role[:6], TAG[-5:])
        self.pw = make_account(self.name)
        self.key = SshKey(temp_dir("amfa-key-"))
        self.key.authorize(self.pw)
        self.seed = TREE.enroll(self.name, iam_user=self.name + ".iam")

    def code(self):
        return totp(self.seed)


def ns(*args, **kw):
    """A command in the sshd's mount namespace."""
    return subprocess.run(["nsenter", "-t", str(HOLDER.pid), "-m", "--"] +
                          list(args), capture_output=True, check=True, **kw)


def setUpModule():
    global DIR, GW, AUDIT, REC, CONFDIR, SMALL, HOLDER, TREE, PEOPLE, BASTION
    global REC_PW, RECBIN
    subprocess.run(["groupadd", "--system", GROUP], check=True,
                   capture_output=True)
    janitor.add(subprocess.run, ["groupdel", GROUP])
    gid = grp.getgrnam(GROUP).gr_gid
    # The recorder's account: a system account of its own, no login, no
    # home, its own group (as awsmfa-gateway.postinst makes awsmfa-rec).
    subprocess.run(["useradd", "--system", "--user-group", "--no-create-home",
                    "--home-dir", "/nonexistent", "--shell",
                    "/usr/sbin/nologin", RECUSER], check=True,
                   capture_output=True)
    janitor.add(subprocess.run, ["userdel", RECUSER])
    REC_PW = pwd.getpwnam(RECUSER)
    DIR = temp_dir("amfa-gwrec-")
    GW = os.path.join(DIR, "awsmfa-gateway")
    shutil.copy(GATEWAY, GW)
    os.chown(GW, 0, gid)
    os.chmod(GW, 0o2755)
    RECBIN = os.path.join(DIR, "awsmfa-recorder")
    shutil.copy(RECORDER, RECBIN)
    os.chown(RECBIN, REC_PW.pw_uid, REC_PW.pw_gid)
    os.chmod(RECBIN, 0o6755)
    # Its two capabilities, permitted only, after the chown (which clears
    # them), as awsmfa-gateway.postinst does (awsmfa-recorder(8)).
    subprocess.run(["setcap", RECORDER_CAPS, RECBIN], check=True)
    AUDIT = os.path.join(DIR, "audit.log")
    write_file(AUDIT, "", 0o620)
    os.chown(AUDIT, 0, gid)
    REC = os.path.join(DIR, "rec")
    os.mkdir(REC)
    os.chown(REC, 0, REC_PW.pw_gid)
    os.chmod(REC, 0o1730)
    CONFDIR = os.path.join(DIR, "conf")
    os.mkdir(CONFDIR, 0o755)
    SMALL = os.path.join(DIR, "small")
    os.mkdir(SMALL, 0o755)
    upper, work = os.path.join(DIR, "upper"), os.path.join(DIR, "work")
    os.makedirs(os.path.join(upper, "awsmfa"), 0o755)
    os.mkdir(work, 0o700)
    TREE = Tree()
    janitor.add(TREE.cleanup)
    TREE.write_config({"users_dir": TREE.users, "state_dir": TREE.state,
                       "verify": "local",
                       "store_dir": os.path.join(TREE.root, "run")})
    PEOPLE = {r: Person(r) for r in ROLES}
    # Before the namespace's overlay of /etc, which would not see it.
    subprocess.run(["usermod", "-s", "/bin/bash", PEOPLE["bash"].name],
                   check=True, capture_output=True)
    # A member of the recorder's group by mistake (it could read every
    # recording): the recorder refuses to record them.
    subprocess.run(["usermod", "-a", "-G", RECUSER, PEOPLE["member"].name],
                   check=True, capture_output=True)
    # And one of the gateway's audit group (who could write the log, and
    # make a control socket with that group).
    subprocess.run(["usermod", "-a", "-G", GROUP, PEOPLE["auditr"].name],
                   check=True, capture_output=True)
    gateway_conf()
    HOLDER = subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c",
         "mount -t overlay overlay -o lowerdir=/etc,upperdir=%s,workdir=%s "
         "/etc && mount --bind %s /etc/awsmfa && "
         "mount -t tmpfs -o size=384k,mode=0755 amfa-small %s && "
         "echo ready && exec sleep 3600" % (upper, work, CONFDIR, SMALL)],
        stdout=subprocess.PIPE, text=True)
    janitor.add(stop_holder)
    if HOLDER.stdout.readline().strip() != "ready":
        raise RuntimeError("cannot set up the mount namespace")
    small_rec = os.path.join(SMALL, "rec")
    ns("install", "-d", "-o", "root", "-g", RECUSER, "-m", "1730", small_rec)
    BASTION = Sshd("recbastion", shipped_sshd_options(GW) +
                   ["AllowUsers amfa-*"], pam=shipped_pam_stack(TREE.conf),
                   env=sanitizer_env(MODULE),
                   wrap=["nsenter", "-t", str(HOLDER.pid), "-m", "--"])


def stop_holder():
    if HOLDER.poll() is None:
        HOLDER.terminate()
        HOLDER.wait(10)


def tearDownModule():
    janitor.run()


def gateway_conf(rules=None, **settings):
    """/etc/awsmfa/gateway.conf as the namespace sees it."""
    conf = {"audit_log": AUDIT, "awsmfa_config": TREE.conf,
            "recording_dir": REC, "recorder": RECBIN}
    conf.update(settings)
    text = "".join("%s = %s\n" % kv for kv in conf.items())
    text += "\n".join(rules or ["allow users * shell record"]) + "\n"
    path = os.path.join(CONFDIR, "gateway.conf")
    write_file(path + ".new", text, 0o644)
    os.rename(path + ".new", path)


def audit_records(name, event=None):
    out = []
    for line in read(AUDIT).splitlines():
        r = json.loads(line)
        if r.get("user") == name and (event is None or
                                      r.get("event") == event):
            out.append(r)
    return out


def cast(path, reader=None):
    """(header, events) of a recording; every line must be JSON."""
    text = reader(path) if reader else read_bytes(path)
    assert text.endswith(b"\n"), "the recording ends inside a line"
    lines = [json.loads(l) for l in text.decode("utf-8").splitlines()]
    return lines[0], lines[1:]


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


# Run by the recorded user: pidfd_getfd(2) of descriptors 0-2 of each
# process named, and a write through what it gives; GETFD<i><fd>=errno.
GETFD = """
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
for i, pid in enumerate(map(int, sys.argv[1:])):
    pfd = os.pidfd_open(pid)
    for n in (0, 1, 2):
        fd = libc.syscall(438, pfd, n, 0)
        e = ctypes.get_errno() if fd < 0 else 0
        if fd >= 0:
            try:
                os.write(fd, b"leak-" + b"42\\n")
            except OSError as x:
                e = x.errno
        print("GETFD%d%d=%d" % (i, n, e))
""".strip()


def parent(pid):
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def children(pid):
    """The processes whose parent is `pid'."""
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if parent(int(name)) == pid:
                    out.append(int(name))
            except (OSError, ValueError, IndexError):
                pass
    return out


def in_session(sid):
    """The live processes of session `sid'."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            out.append(int(name))
    return out


def kill_session(sid):
    """What is left of session `sid' (a failing run's), so that its
    account can be removed."""
    for pid in in_session(sid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def as_user(p, *args):
    """A command as the recorded user, outside any session."""
    return subprocess.run(["setpriv", "--reuid=" + p.name,
                           "--regid=%d" % p.pw.pw_gid, "--init-groups",
                           "--"] + list(args), capture_output=True,
                          text=True, cwd="/", timeout=30)


class Recording(unittest.TestCase):
    def setUp(self):
        self.addCleanup(self.logs_on_failure)

    def logs_on_failure(self):
        result = self._outcome.result
        if any(t is self for t, _ in result.failures + result.errors):
            for what, text in (("bastion sshd", BASTION.log_text()),
                               ("audit", read(AUDIT))):
                print("--- %s (last lines)\n%s" % (
                    what, "\n".join(text.splitlines()[-25:])),
                    file=sys.stderr)

    def login(self, role):
        p = PEOPLE[role]
        c = Client(p.key, [BASTION])
        args = c.ssh_args(BASTION, p.name, tty=True)
        child = c.spawn(args, timeout=60)
        child.setwinsize(24, 80)
        answer(child, [p.code()])
        return p, child

    def shell(self, child, command, timeout=60):
        """Run `command' in the interactive shell; its output."""
        child.sendline("echo @@S$((6*7))@@; %s; echo @@E$((6*7))@@" %
                       command)
        child.expect_exact("@@S42@@", timeout=30)
        child.expect_exact("@@E42@@", timeout=timeout)
        return child.before.replace("\r", "")

    def recording_of(self, p):
        shells = audit_records(p.name, "shell")
        self.assertEqual(len(shells), 1, read(AUDIT))
        self.assertEqual(shells[0]["result"], "ok", shells)
        path = shells[0].get("recording", "")
        self.assertTrue(path.startswith(REC + "/" + p.name + "-"), shells)
        return path

    def test_session_recorded_and_played_back(self):
        gateway_conf()
        p, child = self.login("main")
        self.assertIn("hello-42", self.shell(child, "echo hello-$((6*7))"))
        path = self.recording_of(p)
        # During the session, as the user, from the session itself.
        out = self.shell(child, " ; ".join(
            ["cat %s >/dev/null 2>&1; echo R=$?" % path,
             "echo x 2>/dev/null >>%s; echo W=$?" % path,
             "truncate -s 0 %s 2>/dev/null; echo T=$?" % path,
             "rm -f %s 2>/dev/null; echo U=$?" % path,
             "chmod 666 %s 2>/dev/null; echo C=$?" % path,
             "ls %s >/dev/null 2>&1; echo L=$?" % REC,
             "ls /proc/$PPID/fd >/dev/null 2>&1; echo P=$?",
             "for f in /proc/$$/fd/*; do readlink $f; done"]))
        for what in "RWTUCLP":
            self.assertRegex(out, r"\b%s=[1-9]" % what, out)
        self.assertNotIn(REC, re.sub(r"\b(ls|cat|chmod|truncate|rm)\b.*", "",
                                     out), "a descriptor of the recording")
        # A resize reaches the shell's terminal.
        child.setwinsize(30, 100)
        time.sleep(0.5)
        self.assertIn("30 100", self.shell(child, "stty size"))
        # Ctrl-C interrupts the foreground job, not the session.
        child.sendline("sleep 60")
        time.sleep(1)
        child.sendcontrol("c")
        # Back well before the 60 s sleep would end (30 s: a loaded machine).
        self.shell(child, "true", timeout=30)
        # Job control: Ctrl-Z stops it, the shell gets it back.
        child.sendline("sleep 61")
        time.sleep(1)
        child.sendcontrol("z")
        child.expect("Stopped", timeout=10)
        self.assertIn("sleep 61", self.shell(child, "jobs; kill -KILL %1"))
        # The shell notes the job's end at its next prompt.
        self.shell(child, "sleep 0.3")
        child.sendline("exit 3")
        status, _ = finish(child)
        self.assertEqual(status, 3, "the shell's exit status")

        st = os.stat(path)
        self.assertEqual((st.st_uid, st.st_gid, st.st_mode & 0o7777),
                         (REC_PW.pw_uid, REC_PW.pw_gid, 0o440))
        header, events = cast(path)
        self.assertEqual(header["version"], 2)
        self.assertEqual((header["width"], header["height"]), (80, 24))
        self.assertLess(abs(header["timestamp"] - time.time()), 120)
        who = header["awsmfa"]
        self.assertEqual(who["user"], p.name)
        self.assertEqual(who["uid"], p.pw.pw_uid)
        self.assertEqual(who["iam_user"], p.name + ".iam")
        self.assertEqual(who["host"], socket.gethostname())
        self.assertEqual(who["source"], "127.0.0.1")
        self.assertIn("100x30", [e[2] for e in events if e[1] == "r"])
        # How it ended, and that the gateway wrote its shell_end record.
        self.assertEqual([e[2] for e in events if e[1] == "m"],
                         ["exit status 3", "shell_end audited"])
        self.assertEqual([e for e in events if e[1] == "i"], [])
        times = [e[0] for e in events]
        self.assertEqual(times, sorted(times))
        # The real player prints back what the session showed.
        play = pexpect.spawn("asciinema", ["cat", path], encoding="utf-8",
                             timeout=30, env={"PATH": "/usr/bin:/bin",
                                              "LANG": "C.UTF-8",
                                              "HOME": DIR})
        play.expect(pexpect.EOF)
        shown = play.before
        play.close()
        self.assertEqual(play.exitstatus, 0, shown)
        for text in ("hello-42", "R=1", "30 100", "Stopped", "exit 3"):
            self.assertIn(text, shown)
        ends = audit_records(p.name, "shell_end")
        self.assertEqual([(e["result"], e["exit_status"], e["recording"])
                          for e in ends], [("ok", 3, path)])

        # After the session, as the user: nothing reaches it.
        before = read_bytes(path)
        for args in (["cat", path], ["sh", "-c", "echo x >>" + path],
                     ["truncate", "-s", "0", path], ["rm", "-f", path],
                     ["chmod", "0666", path], ["ln", path, "/tmp/x" + TAG],
                     ["ls", REC]):
            res = as_user(p, *args)
            self.assertNotEqual(res.returncode, 0, args)
            self.assertIn("Permission denied", res.stderr, args)
        self.assertEqual(read_bytes(path), before)

    def session_ids(self, child):
        """(shell, its parent: the recorder, which sshd started, the
        recorder's other child: the gateway's audit side, the client's
        terminal) of the session."""
        out = self.shell(child, "echo SH=$$ PP=$PPID")
        m = re.search(r"SH=(\d+) PP=(\d+)", out)
        self.assertTrue(m, out)
        shell, rec = int(m.group(1)), int(m.group(2))
        tty = os.readlink("/proc/%d/fd/0" % rec)
        self.assertTrue(tty.startswith("/dev/pts/"), tty)
        gws = [pid for pid in children(rec) if pid != shell]
        self.assertEqual(len(gws), 1, gws)
        return shell, rec, gws[0], tty

    def test_user_cannot_stop_kill_or_bypass_the_recorder(self):
        gateway_conf()
        p, child = self.login("attack")
        shell, rec, gw, tty = self.session_ids(child)
        st = os.stat("/proc/%d" % rec)
        self.assertEqual(st.st_uid, REC_PW.pw_uid, "the recorder's account")
        # As the user, from the recorded shell: the recorder cannot be
        # stopped (if it were, CONT lets the test see it), nor its memory
        # or descriptors reached; sshd's terminal cannot be opened, for
        # writing or reading, by path or through /proc.
        # The recorder, the gateway's audit side and the recorder's parent
        # (sshd's session process): none gives the client's terminal away.
        holders = (rec, gw, parent(rec))
        out = self.shell(child, " ; ".join(
            ["kill -STOP %d; echo STOP=$?; kill -CONT %d" % (rec, rec),
             "cat /proc/%d/environ >/dev/null; echo ENV=$?" % rec,
             "echo leak-$((6*7)) >%s; echo TTYW=$?" % tty,
             "dd if=%s of=/dev/null count=0 status=none; echo TTYR=$?" % tty]
            + ["echo leak-$((6*7)) >/proc/%d/fd/%d; echo PW%d%d=$?"
               % (pid, fd, i, fd) for i, pid in enumerate(holders)
               for fd in (0, 1, 2)]
            + ["/usr/bin/python3 -c '%s' %s" % (GETFD, " ".join(
                str(h) for h in holders))]))
        for what in ["STOP", "ENV", "TTYW", "TTYR"] + [
                "%s%d%d" % (w, i, fd) for w in ("PW", "GETFD")
                for i in range(len(holders)) for fd in (0, 1, 2)]:
            self.assertRegex(out, r"\b%s=[1-9]" % what, out)
        self.assertIn("Operation not permitted", out)
        # The node is the recorder's, mode 0600 (tty_revoke.h): EACCES
        # before the exclusive flag's EBUSY.
        self.assertIn("cannot create %s: Permission denied" % tty, out)
        self.assertNotIn("leak-42", re.sub(r"echo leak.*", "", out))
        # The shell holds no descriptor of the client's terminal.
        fds = self.shell(child, "for f in /proc/$$/fd/*; do "
                         "echo FD=$(readlink $f); done")
        self.assertNotIn("FD=%s\n" % tty, fds + "\n")
        out = self.shell(child, "kill -KILL %d; echo KILL=$?" % rec)
        self.assertRegex(out, r"\bKILL=[1-9]", out)
        self.assertIn("still-42", self.shell(child, "echo still-$((6*7))"))
        child.sendline("exit 5")
        status, _ = finish(child)
        self.assertEqual(status, 5)
        path = self.recording_of(p)
        st = os.stat(path)
        self.assertEqual((st.st_uid, st.st_gid, st.st_mode & 0o7777),
                         (REC_PW.pw_uid, REC_PW.pw_gid, 0o440))
        header, events = cast(path)
        shown = "".join(e[2] for e in events if e[1] == "o")
        self.assertIn("STOP=1", shown)
        self.assertIn("still-42", shown)
        # After the session the terminal is sshd's again, and gone.
        ends = audit_records(p.name, "shell_end")
        self.assertEqual([(e["result"], e["exit_status"]) for e in ends],
                         [("ok", 5)])

    def test_recorder_death_ends_the_session(self):
        gateway_conf()
        p, child = self.login("death")
        shell, rec, gw, tty = self.session_ids(child)
        self.addCleanup(kill_session, shell)
        # The shell and its job ignore the hang-up of their terminal.
        child.sendline("trap '' HUP; sleep 300")
        time.sleep(1)
        os.kill(rec, signal.SIGKILL)      # as the OOM killer would
        status, out = finish(child, timeout=30)
        self.assertNotEqual(status, 0, out)
        deadline = time.time() + 10
        while time.time() < deadline and in_session(shell):
            time.sleep(0.1)
        self.assertEqual(in_session(shell), [],
                         "the shell's session outlived the recorder")
        ends = audit_records(p.name, "shell_end")
        self.assertEqual([(e["result"], e["reason"]) for e in ends],
                         [("error", "recorder")], ends)

    def test_client_gone_ends_and_audits_the_session(self):
        """The client's connection drops: sshd hangs up the terminal (and
        signals the gateway); the gateway lives to write shell_end, and the
        shell's session is gone."""
        gateway_conf()
        p, child = self.login("hangup")
        shell, rec, gw, tty = self.session_ids(child)
        self.addCleanup(kill_session, shell)
        child.sendline("trap '' HUP; sleep 300")
        time.sleep(1)
        child.terminate(force=True)
        deadline = time.time() + 20
        while time.time() < deadline and not audit_records(p.name,
                                                           "shell_end"):
            time.sleep(0.1)
        ends = audit_records(p.name, "shell_end")
        self.assertEqual([e["result"] for e in ends], ["interrupted"], ends)
        while time.time() < deadline and in_session(shell):
            time.sleep(0.1)
        self.assertEqual(in_session(shell), [])
        self.assertTrue(cast(self.recording_of(p))[1])

    def test_forcecommand_that_keeps_the_terminal_refuses(self):
        """sshd runs the ForceCommand with $SHELL -c; without "exec" dash
        stays, the leader of the session the client's terminal controls:
        the recorder cannot take the terminal back from everyone else
        (vhangup(2) would end dash, and sshd's session with it;
        tty_revoke.h), and the recorded shell does not start.  bash execs
        a lone command: the same sshd records its session."""
        gateway_conf()
        options = [o.replace("ForceCommand exec ", "ForceCommand ")
                   for o in shipped_sshd_options(GW)]
        self.assertIn("ForceCommand " + GW, options)
        sshd = Sshd("recnoexec", options + ["AllowUsers amfa-*"],
                    pam=shipped_pam_stack(TREE.conf),
                    env=sanitizer_env(MODULE),
                    wrap=["nsenter", "-t", str(HOLDER.pid), "-m", "--"])
        self.addCleanup(sshd.stop)
        p = PEOPLE["noexec"]
        c = Client(p.key, [sshd])
        child = c.spawn(c.ssh_args(sshd, p.name, tty=True), timeout=60)
        answer(child, [p.code()])
        status, out = finish(child)
        self.assertEqual(status, 1, out)
        self.assertIn("refused: this session must be recorded and cannot "
                      "be", out)
        shells = audit_records(p.name, "shell")
        self.assertEqual(len(shells), 1, shells)
        self.assertEqual(shells[0]["result"], "error")
        self.assertIn("not the controlling terminal of the session sshd "
                      "started (is the ForceCommand \"exec "
                      "/usr/bin/awsmfa-gateway\"?)", shells[0]["reason"])
        # bash as the login shell: it execs the gateway.
        q = PEOPLE["bash"]
        c = Client(q.key, [sshd])
        child = c.spawn(c.ssh_args(sshd, q.name, tty=True), timeout=60)
        answer(child, [q.code()])
        self.assertIn("bash-42", self.shell(child, "echo bash-$((6*7))"))
        child.sendline("exit 4")
        self.assertEqual(finish(child)[0], 4)
        self.recording_of(q)

    def secret_session(self, role):
        """Type a secret with the echo off; the recording's text."""
        p, child = self.login(role)
        secret = "hunter2-%s" % TAG
        child.sendline("stty -echo; read x; stty echo; echo got-${#x}")
        time.sleep(0.5)
        child.sendline(secret)
        child.expect_exact("got-%d" % len(secret))
        child.sendline("exit")
        self.assertEqual(finish(child)[0], 0)
        return secret, read_bytes(self.recording_of(p)).decode()

    def test_typed_input_is_not_recorded_unless_configured(self):
        gateway_conf()
        secret, text = self.secret_session("input")
        self.assertNotIn(secret, text)
        self.assertNotIn('"i"', text)
        # The same with record_input = yes: the check above can see it.
        gateway_conf(record_input="yes")
        secret, text = self.secret_session("inyes")
        self.assertIn(secret, text)

    def big_output_session(self, role, expect_end):
        p, child = self.login(role)
        child.sendline("seq 1 60000; echo still-$((1+1))-here")
        if expect_end:
            child.expect_exact("awsmfa-gateway: the session ended",
                               timeout=60)
            status, out = finish(child)
            self.assertEqual(status, 1, out)
            self.assertNotIn("still-2-here", out)
        else:
            child.expect_exact("still-2-here", timeout=60)
            child.sendline("exit")
            status, _ = finish(child)
            self.assertEqual(status, 0)
        return p

    def test_size_limit_ends_the_session(self):
        gateway_conf(record_all_shells="yes", recording_max_size="16K",
                     rules=["allow users * shell"])
        p = self.big_output_session("limend", True)
        path = self.recording_of(p)
        self.assertLessEqual(os.path.getsize(path), 16 * 1024)
        header, events = cast(path)
        self.assertTrue(events)
        rec = audit_records(p.name, "recording")
        self.assertEqual(len(rec), 1, read(AUDIT))
        self.assertEqual(rec[0]["result"], "error")
        self.assertIn("recording_max_size; the session ends",
                      rec[0]["reason"])
        self.assertEqual(audit_records(p.name, "shell_end")[0]["reason"],
                         "recording")

    def test_size_limit_continue_goes_on_unrecorded(self):
        gateway_conf(recording_max_size="16K", recording_failure="continue")
        p = self.big_output_session("limgo", False)
        path = self.recording_of(p)
        self.assertLessEqual(os.path.getsize(path), 16 * 1024)
        cast(path)
        rec = audit_records(p.name, "recording")
        self.assertEqual(len(rec), 1, read(AUDIT))
        self.assertIn("the session goes on unrecorded", rec[0]["reason"])
        end = audit_records(p.name, "shell_end")
        self.assertEqual([(e["result"], e["exit_status"]) for e in end],
                         [("ok", 0)])

    def test_full_disk_ends_the_session(self):
        small_rec = os.path.join(SMALL, "rec")
        gateway_conf(recording_dir=small_rec)
        p = self.big_output_session("disk", True)
        shells = audit_records(p.name, "shell")
        path = shells[0]["recording"]
        self.assertTrue(path.startswith(small_rec + "/"), shells)
        header, events = cast(path, lambda f: ns("cat", f).stdout)
        self.assertEqual(header["awsmfa"]["user"], p.name)
        rec = audit_records(p.name, "recording")
        self.assertEqual(len(rec), 1, read(AUDIT))
        self.assertIn("file system is full; the session ends",
                      rec[0]["reason"])

    def refused(self, role, recdir):
        gateway_conf(recording_dir=recdir)
        files = set(os.listdir(REC))
        p, child = self.login(role)
        status, out = finish(child)
        self.assertEqual(status, 1, out)
        self.assertIn("awsmfa-gateway: refused: this session must be "
                      "recorded and cannot be", out)
        shells = audit_records(p.name, "shell")
        self.assertEqual([(s["result"], s.get("recording")) for s in shells],
                         [("error", None)], shells)
        self.assertEqual(set(os.listdir(REC)), files)

    def test_recorder_without_its_capabilities_refuses_the_shell(self):
        """Set-id, but without cap_chown and cap_sys_tty_config (a
        chown after setcap, a file system without extended attributes):
        it cannot hang up earlier opens of the client's terminal, so the
        shell does not start (fail closed), and the audit record says
        why."""
        nocaps = RECBIN + "-nocaps"
        shutil.copy(RECORDER, nocaps)
        os.chown(nocaps, REC_PW.pw_uid, REC_PW.pw_gid)
        os.chmod(nocaps, 0o6755)
        self.addCleanup(os.unlink, nocaps)
        gateway_conf(recorder=nocaps)
        files = set(os.listdir(REC))
        p, child = self.login("nocaps")
        status, out = finish(child)
        self.assertEqual(status, 1, out)
        self.assertIn("awsmfa-gateway: refused: this session must be "
                      "recorded and cannot be", out)
        shells = audit_records(p.name, "shell")
        self.assertEqual([s["result"] for s in shells], ["error"], shells)
        self.assertIn("cannot take the client's terminal (chown; is the "
                      "recorder's capability cap_chown set?",
                      shells[0]["reason"])
        self.assertEqual(set(os.listdir(REC)), files)

    def test_directory_planted_as_a_link_refuses_the_shell(self):
        link = os.path.join(DIR, "rec-link")
        os.symlink(REC, link)
        self.refused("link", link)

    def test_directory_with_loose_modes_refuses_the_shell(self):
        loose = os.path.join(DIR, "rec-loose")
        os.mkdir(loose)
        os.chown(loose, 0, REC_PW.pw_gid)
        os.chmod(loose, 0o1733)
        self.refused("loose", loose)

    def test_directory_of_another_owner_refuses_the_shell(self):
        theirs = os.path.join(DIR, "rec-owner")
        os.mkdir(theirs)
        os.chown(theirs, PEOPLE["owner"].pw.pw_uid, REC_PW.pw_gid)
        os.chmod(theirs, 0o1730)
        self.refused("owner", theirs)

    def test_size_set_from_the_shell_is_recorded(self):
        """`stty cols N rows M' in the shell sets its terminal's size
        with no resize from the client: output drawn for that size is
        recorded after an "r" event saying so, or a playback would draw
        it at the old size."""
        gateway_conf()
        p, child = self.login("stty")
        self.shell(child, "stty cols 123 rows 45; echo sized-$((6*7))")
        child.sendline("exit")
        self.assertEqual(finish(child)[0], 0)
        header, events = cast(self.recording_of(p))
        self.assertEqual((header["width"], header["height"]), (80, 24))
        resized = [i for i, e in enumerate(events)
                   if e[1] == "r" and e[2] == "123x45"]
        drawn = [i for i, e in enumerate(events)
                 if e[1] == "o" and "sized-42" in e[2]]
        self.assertTrue(resized and drawn, events)
        self.assertLess(resized[0], drawn[0], events)

    def test_member_of_the_recorders_group_is_refused(self):
        self.refused("member", REC)
        shells = audit_records(PEOPLE["member"].name, "shell")
        self.assertIn("the user is in the recorder's group",
                      shells[0]["reason"])

    def test_member_of_the_audit_group_is_refused(self):
        self.refused("auditr", REC)
        shells = audit_records(PEOPLE["auditr"].name, "shell")
        self.assertIn("the control socket is not the gateway's",
                      shells[0]["reason"])

    def test_recorder_run_by_hand_refuses(self):
        """A local user runs the set-id recorder with a control socket of
        their own: it would take their size limit and header fields, and
        their "go" (no audit record).  It refuses and creates nothing."""
        p = PEOPLE["byhand"]
        files = set(os.listdir(REC))
        r = as_user(p, sys.executable, "-c", BYHAND, RECBIN, REC)
        self.assertIn("FIRST=refused ", r.stdout, r.stdout + r.stderr)
        self.assertIn("for awsmfa-gateway's use only", r.stderr)
        self.assertIn("STATUS=1", r.stdout)
        self.assertNotIn("BYHAND-SHELL", r.stdout)
        self.assertEqual(set(os.listdir(REC)), files)


# Run by a user: the recorder by hand, descriptor 3 a socket pair of the
# user's own, no size limit to speak of, a forged IAM user and source.
BYHAND = """
import os, socket, subprocess, sys
os.dup2(os.open("/dev/null", os.O_RDONLY), 3)  # the pair above 3
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
os.dup2(b.fileno(), 3, inheritable=True)
p = subprocess.Popen([sys.argv[1], "-d", sys.argv[2], "-m",
                      "18446744073709551615", "-s", "/bin/sh", "-a", "sh",
                      "-I", "someone-else.iam", "-S", "192.0.2.1", "-P", "22"],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                     close_fds=False)
os.close(3)
b.close()
a.settimeout(20)
try:
    first = a.recv(512)
except OSError as e:
    first = repr(e).encode()
print("FIRST=" + first.decode(errors="replace"))
if first.startswith(b"created"):
    a.send(b"go")
out = p.communicate(b"echo BYHAND-SHELL; exit 3\\n", timeout=20)[0]
print(out.decode(errors="replace"))
print("STATUS=%d" % p.returncode)
""".strip()


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("SKIP: needs root (sshd, accounts, a set-group-ID copy, a "
              "mount namespace)")
        sys.exit(77)
    for what, path in (("module", MODULE), ("gateway", GATEWAY),
                       ("recorder", RECORDER)):
        if not path or not os.path.exists(path):
            print("missing %s (%r): run through meson test" % (what, path))
            sys.exit(1)
    for prog in ("unshare", "nsenter", "setpriv", "asciinema"):
        if shutil.which(prog) is None:
            print("missing %s" % prog)
            sys.exit(1)
    unittest.main(verbosity=2)
