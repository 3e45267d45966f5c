"""The module run by a user (as a screen locker runs it) and its set-user-ID
root code checker, awsmfa-chkcode, attacked by that user.

 * The module as non-root checks a code (today it could not: "cannot
   retrieve authentication info" for the right code), counts a wrong one,
   and renews the store at pam_setcred(PAM_REFRESH_CRED) only after a
   proof in the same transaction; PAM_ESTABLISH_CRED renews nothing.
 * The checker decides for its caller only: asked about another account
   it refuses, and nothing of that account's state or audit trail moves.
 * The code comes on a pipe only: a file or a terminal on standard input,
   standard input closed: refused.
 * A hostile caller's environment, umask and ignored signals change no
   decision: the wrong code is counted, the right one passes.  Low hard
   limits: a wrong code is counted, or the check fails closed (where root
   lacks CAP_SYS_RESOURCE, as in some containers), never answered
   uncounted.
 * Signals: once the request is checked the caller cannot signal it
   (SIGKILL refused with EPERM) while the check waits on STS; killed at
   random moments many times over, every verdict the caller saw (exit
   status 1) is a failure counted, and the audit log has a record for
   each.
 * Closed standard output and error: still decides and counts.
 * Not installed set-user-ID: refuses.
 * awsmfa-creds warns on standard error when the session is about to end
   (default: less than 30 minutes left; --warn-minutes), saying how to
   renew it; standard output is the JSON alone.
"""

import json
import os
import random
import shutil
import tempfile
import signal
import subprocess
import sys
import time
import unittest

from amfa_testlib import (CREDS_PROGRAM, PAMTEST, remove_system_users,
                          require_root, totp)
from lockerlib import (CHKCODE, OTHER, USER, LockerCase, kill_quietly,
                       wait_until)

DENIED, LOCKED, UNAVAILABLE, REFUSED = 1, 2, 3, 5


class ModuleAsUser(LockerCase):
    def test_right_code_then_refresh_renews(self):
        old = self.login()
        res = self.pam_as_user(totp(self.iam.seed))
        self.assertIn("RESULT 0 ", res.stdout, res.stderr)
        self.assertIn("REFRESH 0", res.stdout)
        new = self.store_key()
        self.assertNotEqual(new, old)
        self.assertTrue(new.startswith("ASIA"))
        # Nothing of the store or the enrolment became the user's to read
        # but their own credentials.
        st = os.stat(os.path.join(self.store, "%d.renew" % self.user.pw_uid)
                     ) if os.path.exists(os.path.join(
                         self.store, "%d.renew" % self.user.pw_uid)) else None
        self.assertIsNone(st, "the staged renewal was applied and removed")
        self.assertEqual(self.aws_identity_key(), new)

    def test_establish_renews_nothing(self):
        old = self.login()
        res = self.pam_as_user(totp(self.iam.seed), flags=("-E",))
        self.assertIn("RESULT 0 ", res.stdout, res.stderr)
        self.assertEqual(self.store_key(), old)

    def test_wrong_code_counted_and_refresh_renews_nothing(self):
        old = self.login()
        res = self.pam_as_user("000000")
        self.assertIn("RESULT 7 ", res.stdout, res.stderr)
        self.assertIn("REFRESH ", res.stdout)
        self.assertEqual(self.store_key(), old)
        self.assertEqual(self.failures(), 1)
        rec = self.audit_records()[-1]
        self.assertEqual(rec["result"], "denied")
        self.assertEqual(rec["service"], "locker")

    def test_lockout_through_the_checker(self):
        for _ in range(self.lockout):
            res = self.pam_as_user("000000")
            self.assertIn("RESULT 7 ", res.stdout, res.stderr)
        self.assertTrue(self.locked())
        res = self.pam_as_user(totp(self.iam.seed))
        self.assertIn("RESULT 11 ", res.stdout, res.stderr)


class CallerOnly(LockerCase):
    def test_another_user_refused(self):
        before = (self.failures(OTHER), len(self.audit_records(OTHER)))
        for code in ("000000", totp(self.other_seed)):
            res = self.check_as(self.user, OTHER, code)
            self.assertEqual(res.returncode, REFUSED, res)
        # The caller as root's name, an alias, an invalid name.
        for who in ("root", OTHER + "\n", "../" + USER, ""):
            res = self.check_as(self.user, who, "000000")
            self.assertEqual(res.returncode, REFUSED, (who, res))
        self.assertEqual((self.failures(OTHER),
                          len(self.audit_records(OTHER))), before)
        # The module asked by the user for another account: refused too.
        res = self.as_user([PAMTEST, self.tree.pamd, "locker", OTHER],
                           input=totp(self.other_seed) + "\n")
        self.assertNotIn("RESULT 0 ", res.stdout, res)
        self.assertEqual(self.failures(OTHER), 0)

    def test_code_only_on_a_pipe(self):
        path = os.path.join(self.bindir, "code")
        with open(path, "w") as f:
            f.write(totp(self.iam.seed) + "\n")
        os.chmod(path, 0o644)
        with open(path) as f:
            res = self.as_user([self.chkcode, "check", USER, "test"],
                               stdin=f)
        self.assertEqual(res.returncode, REFUSED, res)
        res = self.as_user(["sh", "-c", 'exec "$0" check %s test <&-'
                            % USER, self.chkcode])
        self.assertEqual(res.returncode, REFUSED, res)
        # Too long, or a NUL inside.
        res = self.check_as(self.user, USER, "1" * 300)
        self.assertEqual(res.returncode, REFUSED, res)
        res = self.check_as(self.user, USER, "123\x00456")
        self.assertEqual(res.returncode, REFUSED, res)
        self.assertEqual(self.failures(), 0)

    def test_not_setuid_refuses(self):
        plain = os.path.join(self.bindir, "plain")
        subprocess.run(["cp", CHKCODE, plain], check=True)
        os.chmod(plain, 0o755)
        res = self.as_user([plain, "check", USER, "test"],
                           input=totp(self.iam.seed) + "\n")
        self.assertEqual(res.returncode, UNAVAILABLE, res)


class HostileCaller(LockerCase):
    lockout = 1000

    def test_environment_umask_signals(self):
        canary = os.path.join(self.bindir, "keylog")
        env = {"SSLKEYLOGFILE": canary, "http_proxy": "http://127.0.0.1:9",
               "HTTPS_PROXY": "http://127.0.0.1:9", "ALL_PROXY":
               "http://127.0.0.1:9", "OPENSSL_CONF": "/nonexistent",
               "TZ": "../../../../tmp/x", "LANG": "xx_XX.UTF-8",
               "MALLOC_PERTURB_": "85", "LOCALDOMAIN": "evil"}
        os.chmod(self.bindir, 0o777)
        shim = ["sh", "-c", 'umask 0; trap "" XFSZ PIPE HUP INT TERM CHLD; '
                'exec "$@"', "sh"]
        res = self.check_as(self.user, USER, "000000", pre=shim, env=env)
        self.assertEqual(res.returncode, DENIED, res)
        self.assertEqual(self.failures(), 1)
        self.login()
        res = self.check_as(self.user, USER, totp(self.iam.seed), pre=shim,
                            env=env)
        self.assertEqual(res.returncode, 0, res)
        self.assertFalse(os.path.exists(canary), "SSLKEYLOGFILE written")
        self.assertEqual(self.failures(), 0)
        # What the check made has the modes it asks for, not umask 0's.
        st = os.stat(os.path.join(self.store, str(self.user.pw_uid)))
        self.assertEqual(st.st_mode & 0o777, 0o700)

    def test_limits_give_no_verdict_by_mistake(self):
        """Each low hard limit: a wrong code is counted (exit 1) or the
        check fails closed (exit 3: a limit root cannot raise where it
        lacks CAP_SYS_RESOURCE): never a wrong code let through, never
        one answered without being counted."""
        with open(CHKCODE, "rb") as f:
            if b"__asan_init" in f.read():
                self.skipTest("the sanitizer's runtime itself needs what "
                              "the limits deny (the plain build runs it)")
        for lim in ("--fsize=1", "--fsize=300", "--nofile=4"):
            before = self.failures()
            shim = ["prlimit", lim, "--"]
            res = self.check_as(self.user, USER, "000000", pre=shim)
            self.assertIn(res.returncode, (DENIED, UNAVAILABLE), (lim, res))
            self.assertEqual(self.failures(),
                             before + (res.returncode == DENIED), lim)

    def test_closed_output(self):
        res = self.as_user(["sh", "-c", 'exec "$0" check %s test >&- 2>&-'
                            % USER, self.chkcode], input="000000\n")
        self.assertEqual(res.returncode, DENIED, res)
        self.assertEqual(self.failures(), 1)

    def test_kill_refused_during_the_check(self):
        self.login()
        self.sts.fault(fault="stall", seconds=6)
        p = subprocess.Popen([self.chkcode, "check", USER, "test"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, user=self.user.pw_uid,
                             group=self.user.pw_gid, extra_groups=[],
                             env={"PATH": "/usr/bin:/bin"}, cwd="/")
        self.addCleanup(kill_quietly, p)
        p.stdin.write((totp(self.iam.seed) + "\n").encode())
        p.stdin.close()
        wait_until("root's ids", lambda: self.all_root(p.pid), timeout=60,
                   every=0.01)
        for sig in ("KILL", "TERM", "STOP", "INT"):
            res = self.as_user(["kill", "-" + sig, str(p.pid)])
            self.assertNotEqual(res.returncode, 0, sig)
            self.assertIn("not permitted", res.stderr)
        self.assertEqual(p.wait(timeout=120), 0)
        p.stdout.close()

    @staticmethod
    def all_root(pid):
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("Uid:"):
                        return line.split()[1:] == ["0"] * 4
        except FileNotFoundError:
            return False
        return False

    def test_killed_at_random_moments(self):
        """Every wrong code whose verdict the caller saw is counted and
        audited; a kill lands only before the check starts."""
        rng = random.Random(25)
        seen = 0
        for i in range(40):
            p = subprocess.Popen(
                [self.chkcode, "check", USER, "test"],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, env={"PATH": "/usr/bin:/bin"},
                user=self.user.pw_uid, group=self.user.pw_gid,
                extra_groups=[], cwd="/")
            p.stdin.write(b"000000\n")
            p.stdin.close()
            time.sleep(rng.random() * 0.05)
            self.as_user(["kill", "-KILL", str(p.pid)])
            rc = p.wait(timeout=120)
            if rc == DENIED:
                seen += 1
        wait_until("no checker left", lambda: subprocess.run(
            ["pgrep", "-x", "awsmfa-chkcode"],
            capture_output=True).returncode != 0)
        self.assertEqual(self.failures(), seen)
        self.assertEqual(len([r for r in self.audit_records()
                              if r["result"] == "denied"]), seen)


class CredsWarning(unittest.TestCase):
    """The store of the running uid (root's here), written by hand."""

    def setUp(self):
        self.store = tempfile.mkdtemp(prefix="amfa-creds-warn-")
        self.addCleanup(shutil.rmtree, self.store, True)
        os.chmod(self.store, 0o755)
        self.dir = os.path.join(self.store, str(os.getuid()))
        os.mkdir(self.dir, 0o700)

    def creds(self, minutes_left, *args):
        exp = time.strftime("%Y-%m-%dT%H:%M:%SZ",
                            time.gmtime(time.time() + minutes_left * 60))
        path = os.path.join(self.dir, "credentials.json")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"Version": 1, "AccessKeyId": "ASIAABCDEFGHIJKLMNOP",
                       "SecretAccessKey": "s" * 40, "SessionToken": "t" * 100,
                       "Expiration": exp}, f)
        return subprocess.run([CREDS_PROGRAM, "--store-dir", self.store] +
                              list(args), capture_output=True, text=True,
                              timeout=60)

    def test_warns_on_stderr_only(self):
        res = self.creds(10)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(json.loads(res.stdout)["AccessKeyId"],
                         "ASIAABCDEFGHIJKLMNOP")
        self.assertIn("warning", res.stderr)
        self.assertIn("unlock the screen", res.stderr)
        self.assertIn("log in again", res.stderr)

    def test_quiet_with_time_left_or_a_shorter_setting(self):
        for minutes, args in ((45, ()), (10, ("--warn-minutes", "5")),
                              (10, ("--warn-minutes", "0"))):
            res = self.creds(minutes, *args)
            self.assertEqual(res.returncode, 0, res.stderr)
            self.assertEqual(res.stderr, "", (minutes, args))
        res = self.creds(50, "--warn-minutes", "60")
        self.assertIn("warning", res.stderr)


def tearDownModule():
    remove_system_users()


if __name__ == "__main__":
    require_root()
    if not CHKCODE:
        print("AMFA_CHKCODE_TEST is not set: run through meson test")
        sys.exit(1)
    unittest.main(verbosity=2)
