"""The PAM-level transactions once under valgrind memcheck: the real
pamtest driver, libpam and the built module, for representative logins
(local TOTP right, wrong, replayed, malformed; lockout; stacking options;
configuration and state errors; STS success with a session and the
credential store, STS refusals and outages; ~/.aws profiles).  Each run
must report no memory error and no definitely or indirectly lost block,
forked helper children included.  No suppressions are needed: anything
valgrind reports fails the test."""

import os
import re
import shutil
import subprocess
import time
import unittest

from amfa_testlib import (PAMTEST, PAM_AUTH_ERR, PAM_AUTHINFO_UNAVAIL,
                          PAM_MAXTRIES, PAM_SUCCESS, PamTestCase,
                          remove_system_users, require_root, system_user,
                          totp, wait_fresh_step)
from sts_process import IamUser, StsServer

VALGRIND_ERROR = 99
USER = "amfa-hd-vg"


class MemcheckBase(PamTestCase):
    """Runs pamtest under valgrind; the tests are in the classes below."""
    config = {"lockout_attempts": 3}

    @classmethod
    def setUpClass(cls):
        if shutil.which("valgrind") is None:
            raise RuntimeError("valgrind missing (apt-get install valgrind)")
        with open(os.environ["AMFA_PAM_MODULE"], "rb") as f:
            if b"__asan_init" in f.read():
                raise unittest.SkipTest("an AddressSanitizer build")

    def vg(self, service, user, answers, extra=()):
        log = os.path.join(self.tree.root, "vg.%d.log" % time.monotonic_ns())
        args = ["valgrind", "--tool=memcheck", "--trace-children=no",
                "--error-exitcode=%d" % VALGRIND_ERROR, "--leak-check=full",
                "--show-leak-kinds=definite,indirect",
                "--errors-for-leak-kinds=definite,indirect",
                "--keep-debuginfo=yes", "--track-origins=yes",
                "--num-callers=30", "--log-file=" + log + ".%p",
                PAMTEST] + list(extra) + [self.tree.pamd, service, user]
        p = subprocess.run(args, input="".join(a + "\n" for a in answers),
                           capture_output=True, text=True, timeout=300)
        reports = ""
        d = os.path.dirname(log)
        for name in sorted(os.listdir(d)):
            if name.startswith(os.path.basename(log)):
                with open(os.path.join(d, name)) as f:
                    reports += f.read()
        return p, reports

    def check(self, service, user, answers, rc, extra=()):
        p, reports = self.vg(service, user, answers, extra)
        self.assertNotEqual(p.returncode, VALGRIND_ERROR, reports)
        for m in re.finditer(r"ERROR SUMMARY: (\d+) errors", reports):
            self.assertEqual(m.group(1), "0", reports)
        for m in re.finditer(r"(definitely|indirectly) lost: ([\d,]+) bytes",
                             reports):
            self.assertEqual(m.group(2), "0", reports)
        self.assertIn("ERROR SUMMARY", reports)
        self.assertEqual(p.returncode, rc, p.stdout + p.stderr)
        return p


class Memcheck(MemcheckBase):
    def test_local(self):
        seed = self.tree.enroll("alice")
        self.tree.service("fwd", ["auth required MODULE config=CONF "
                                  "forward_pass debug",
                                  "auth required AUTHTOK expect=pw"])
        self.tree.service("first", ["auth required AUTHTOK ask",
                                    "auth required MODULE config=CONF "
                                    "use_first_pass"])
        self.tree.service("nullok", ["auth sufficient MODULE config=CONF "
                                     "nullok", "auth required pam_deny.so"])
        wait_fresh_step(margin=4)
        code, later = totp(seed), totp(seed, time.time() + 30)
        self.check("awsmfa", "alice", [code], PAM_SUCCESS)
        self.check("awsmfa", "alice", [code], PAM_AUTH_ERR)      # replay
        self.check("awsmfa", "alice", ["12345x"], PAM_AUTH_ERR)
        self.check("first", "alice", [later], PAM_SUCCESS)
        self.check("awsmfa", "alice", ["9" * 5000], PAM_AUTH_ERR)
        self.check("awsmfa", "alice", ["000000"], PAM_AUTH_ERR)
        self.check("awsmfa", "alice", ["111111"], PAM_AUTH_ERR)  # locks
        self.check("awsmfa", "alice", [totp(seed, time.time() + 60)],
                   PAM_MAXTRIES)
        self.check("fwd", "bob", ["pw123456"], PAM_AUTH_ERR)
        self.check("awsmfa", "nobody", ["123456"], PAM_AUTH_ERR)
        self.check("nullok", "nobody", ["123456"], PAM_AUTH_ERR)
        self.check("awsmfa", "../x", ["123456"], PAM_AUTHINFO_UNAVAIL)

    def test_errors(self):
        seed = self.tree.enroll("alice")
        with open(self.tree.conf, "a") as f:
            f.write("window = 99\n")
        self.check("awsmfa", "alice", ["123456"], PAM_AUTHINFO_UNAVAIL)
        self.tree.write_config({"users_dir": self.tree.users,
                                "state_dir": self.tree.state})
        with open(self.tree.user_file("alice"), "a") as f:
            f.write("totp_digits = 12\n")
        self.check("awsmfa", "alice", ["123456"], PAM_AUTHINFO_UNAVAIL)
        self.tree.enroll("alice", seed=seed)
        os.makedirs(self.tree.state, 0o700, exist_ok=True)
        self.tree.write(self.tree.state_file("alice"), "version 1\nlast_",
                        0o600)
        self.check("awsmfa", "alice", [totp(seed)], PAM_AUTHINFO_UNAVAIL)
        self.tree.service("bad", ["auth required MODULE config=CONF bogus"])
        self.check("bad", "alice", ["123456"], 3)      # PAM_SERVICE_ERR


class MemcheckSts(MemcheckBase):
    def setUp(self):
        self.pw = system_user(USER)
        self.iam = IamUser("alice")
        self.sts = StsServer([self.iam])
        self.addCleanup(self.sts.stop)
        self.config = {"verify": "sts", "sts_endpoint": self.sts.url,
                       "sts_timeout": 20}
        super().setUp()
        self.store = os.path.join(self.tree.root, "run")
        os.makedirs(self.store, 0o755)
        self.write_config()
        self.tree.service("sess", ["auth required MODULE config=CONF",
                                   "session required pam_permit.so",
                                   "session optional MODULE config=CONF"])

    def write_config(self, **more):
        self.tree.write_config(dict(users_dir=self.tree.users,
                                    state_dir=self.tree.state,
                                    store_dir=self.store,
                                    **dict(self.config, **more)))

    def enroll(self, verify, extra=""):
        self.tree.write(self.tree.user_file(USER),
                        "iam_user = alice\nmfa_serial = %s\n"
                        "totp_secret = %s\nverify = %s\n%s"
                        % (self.iam.serial, self.iam.seed, verify, extra),
                        0o600)

    def keys(self):
        return "access_key_id = %s\nsecret_access_key = %s\n" % (
            self.iam.key_id, self.iam.secret)

    def test_sts(self):
        self.enroll("sts", self.keys())
        wait_fresh_step(margin=4)
        code = totp(self.iam.seed)
        p = self.check("sess", USER, [code], PAM_SUCCESS, ["-S"])
        self.assertIn("SESSION CLOSE 0", p.stdout)
        self.check("awsmfa", USER, [code], PAM_AUTH_ERR)   # reused at AWS
        self.sts.fault(fault="error5xx", status=503, count=1000)
        self.write_config(sts_timeout=3)
        self.check("awsmfa", USER, [totp(self.iam.seed, time.time() + 30)],
                   PAM_AUTHINFO_UNAVAIL)

    def test_local_then_sts_with_profile(self):
        self.enroll("local+sts", "aws_profile = work\n")
        aws = os.path.join(self.pw.pw_dir, ".aws")
        shutil.rmtree(aws, ignore_errors=True)
        os.makedirs(aws, 0o700)
        with open(os.path.join(aws, "credentials"), "w") as f:
            f.write("[work]\naws_access_key_id = %s\n"
                    "aws_secret_access_key = %s\n" % (self.iam.key_id,
                                                      self.iam.secret))
        with open(os.path.join(aws, "config"), "w") as f:
            f.write("[profile work]\nmfa_serial = %s\n" % self.iam.serial)
        for p in (aws, aws + "/credentials", aws + "/config"):
            os.chown(p, self.pw.pw_uid, self.pw.pw_gid)
        wait_fresh_step(margin=4)
        self.check("awsmfa", USER, [totp(self.iam.seed)], PAM_SUCCESS,
                   ["-E"])
        self.check("awsmfa", USER, ["000000"], PAM_AUTH_ERR)
        shutil.rmtree(aws)


def tearDownModule():
    remove_system_users()


if __name__ == "__main__":
    require_root()
    unittest.main(verbosity=2)
