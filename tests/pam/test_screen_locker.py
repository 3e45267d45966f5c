"""A real screen locker: Debian's i3lock on a virtual X server (Xvfb), run
as an enrolled user who is not root, the code typed on its keyboard with
xdotool.  i3lock runs PAM as the user; its service file comes from a test
directory through pam_wrapper (LD_PRELOAD libpam_wrapper.so,
PAM_WRAPPER_SERVICE_DIR): /etc/pam.d is never touched.  The module hands
the code to the set-user-ID checker (a root-owned 4755 copy of the test
build of awsmfa-chkcode).

The user logged in first (a root login through pamtest, its session held
open: the credential store holds the login's session).  At the locker:

 * a wrong code does not unlock, and is counted (the state's failures) and
   audited;
 * the right code unlocks (i3lock ends with status 0); i3lock's
   pam_setcred(PAM_REFRESH_CRED) renews the store: the access key differs
   from the login's, and `aws sts get-caller-identity' through
   credential_process (awsmfa-creds) is signed with the new one;
 * the same code typed again at a new lock does not unlock (a replay).

Readiness is not guessed from time: the test waits until i3lock holds the
keyboard grab (a grab of its own is refused), and each attempt is over
when its audit record is there."""

import ctypes
import ctypes.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

from amfa_testlib import MODULE, remove_system_users, require_root, totp
from lockerlib import CHKCODE, USER, LockerCase, kill_quietly, wait_until

PAM_WRAPPER = "/usr/lib/x86_64-linux-gnu/libpam_wrapper.so"
I3LOCK = "/usr/bin/i3lock"
XVFB = "/usr/bin/Xvfb"
XDOTOOL = "/usr/bin/xdotool"


def sanitizer_libs(module):
    """An AddressSanitizer module in a program that is not: its runtimes
    must come first (LD_PRELOAD)."""
    with open(module, "rb") as f:
        if b"__asan_init" not in f.read():
            return []
    libs = []
    for name in ("libasan.so", "libubsan.so"):
        out = subprocess.run(["gcc", "-print-file-name=" + name],
                             capture_output=True, text=True).stdout.strip()
        if out and os.path.isabs(out):
            libs.append(os.path.realpath(out))
    return libs


class Display:
    """Xvfb on a free display number; keyboard-grab probe through Xlib."""

    def __init__(self):
        self.num = None
        for n in range(70, 99):
            if not os.path.exists("/tmp/.X11-unix/X%d" % n) and \
                    not os.path.exists("/tmp/.X%d-lock" % n):
                self.num = n
                break
        self.name = ":%d" % self.num
        self.proc = subprocess.Popen([XVFB, self.name, "-nolisten", "tcp",
                                      "-ac", "-screen", "0", "640x480x24"],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self.x11 = ctypes.CDLL(ctypes.util.find_library("X11"))
        self.x11.XOpenDisplay.restype = ctypes.c_void_p
        self.x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
        self.x11.XDefaultRootWindow.restype = ctypes.c_ulong
        self.x11.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
        self.x11.XGrabKeyboard.argtypes = [ctypes.c_void_p, ctypes.c_ulong,
                                           ctypes.c_int, ctypes.c_int,
                                           ctypes.c_int, ctypes.c_ulong]
        self.x11.XUngrabKeyboard.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
        self.x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
        self.x11.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
        self.dpy = wait_until("Xvfb", self._open, timeout=60)

    def _open(self):
        return self.x11.XOpenDisplay(self.name.encode())

    def keyboard_grabbed(self):
        """Someone else (the locker) holds the keyboard grab."""
        root = self.x11.XDefaultRootWindow(self.dpy)
        r = self.x11.XGrabKeyboard(self.dpy, root, 0, 1, 1, 0)
        if r == 0:
            self.x11.XUngrabKeyboard(self.dpy, 0)
            self.x11.XSync(self.dpy, 0)
        return r == 1  # AlreadyGrabbed

    def type(self, text):
        env = {"DISPLAY": self.name, "PATH": "/usr/bin:/bin"}
        subprocess.run([XDOTOOL, "type", "--delay", "40", text], env=env,
                       check=True, timeout=60)
        subprocess.run([XDOTOOL, "key", "Return"], env=env, check=True,
                       timeout=60)

    def close(self):
        self.x11.XCloseDisplay(self.dpy)
        self.proc.terminate()
        self.proc.wait(timeout=30)


class ScreenLocker(LockerCase):
    def setUp(self):
        super().setUp()
        self.svcdir = tempfile.mkdtemp(prefix="amfa-i3lock-")
        self.addCleanup(shutil.rmtree, self.svcdir, True)
        os.chmod(self.svcdir, 0o755)
        path = os.path.join(self.svcdir, "i3lock")
        with open(path, "w") as f:
            f.write("auth required %s chkcode=%s\n" % (MODULE, self.chkcode))
        os.chmod(path, 0o644)
        self.display = Display()
        self.addCleanup(self.display.close)

    def lock(self):
        """i3lock as the user, holding the keyboard."""
        env = {"HOME": self.user.pw_dir, "USER": USER, "LOGNAME": USER,
               "PATH": "/usr/bin:/bin", "DISPLAY": self.display.name,
               "LD_PRELOAD": ":".join(sanitizer_libs(MODULE) +
                                      [PAM_WRAPPER]),
               "PAM_WRAPPER": "1", "PAM_WRAPPER_SERVICE_DIR": self.svcdir,
               "PAM_WRAPPER_DISABLE_DEEPBIND": "1",
               "ASAN_OPTIONS": "detect_leaks=0"}
        p = subprocess.Popen([I3LOCK, "-n"], env=env, cwd="/",
                             user=self.user.pw_uid, group=self.user.pw_gid,
                             extra_groups=[], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        self.addCleanup(kill_quietly, p)
        wait_until("i3lock's keyboard grab",
                   lambda: p.poll() is not None or
                   self.display.keyboard_grabbed())
        self.assertIsNone(p.poll(), "i3lock ended at start")
        return p

    def attempt(self, p, code):
        """Type `code' at the locker; wait for its audit record; return
        the record and whether i3lock ended (status) or still locks."""
        n = len(self.audit_records())
        self.display.type(code)
        wait_until("the attempt's audit record",
                   lambda: len(self.audit_records()) > n)
        rec = self.audit_records()[-1]
        if rec["result"] == "ok":
            return rec, p.wait(timeout=120)
        # Refused: i3lock goes on locking; it must still hold the grab once
        # the checker has answered.
        wait_until("no checker left", lambda: subprocess.run(
            ["pgrep", "-x", "awsmfa-chkcode"],
            capture_output=True).returncode != 0)
        wait_until("i3lock locking again",
                   lambda: p.poll() is not None or
                   self.display.keyboard_grabbed())
        return rec, p.poll()

    def test_unlock_renews_and_refuses_wrong_and_replayed(self):
        old = self.login()
        p = self.lock()
        rec, status = self.attempt(p, "000000")
        self.assertEqual(rec["result"], "denied", rec)
        self.assertIsNone(status, "a wrong code unlocked")
        self.assertEqual(self.failures(), 1, "the locker's wrong code "
                         "is counted")
        code = totp(self.iam.seed)
        rec, status = self.attempt(p, code)
        self.assertEqual(rec["result"], "ok", rec)
        self.assertEqual(rec["service"], "i3lock")
        self.assertEqual(status, 0)
        new = self.store_key()
        self.assertNotEqual(new, old, "the session was renewed")
        self.assertEqual(rec["access_key_id"], new)
        self.assertEqual(self.aws_identity_key(), new)
        # The same code at the next lock: a replay.
        p = self.lock()
        rec, status = self.attempt(p, code)
        self.assertEqual(rec["result"], "denied", rec)
        self.assertIsNone(status, "a replayed code unlocked")
        self.assertEqual(self.store_key(), new)
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=60)


def tearDownModule():
    remove_system_users()


if __name__ == "__main__":
    require_root()
    for prog in (I3LOCK, XVFB, XDOTOOL, PAM_WRAPPER):
        if not os.path.exists(prog):
            print("%s is missing (tests/debian-packages)" % prog)
            sys.exit(1)
    if not CHKCODE:
        print("AMFA_CHKCODE_TEST is not set: run through meson test")
        sys.exit(1)
    unittest.main(verbosity=2)
