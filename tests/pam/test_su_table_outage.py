"""failmode = safe and a set-user-ID caller: the real `su -l`, run by an
unprivileged user, with the module alone in /etc/pam.d/su-l, verify = sts
and the bastion's state in the fleet's table (dynalite behind ddb_front.py
on loopback).  With the table away, a login that pamtest makes (a process
its user cannot stop, as sshd's) is let in on STS's answer alone; the same
code through su is refused and STS is not asked: su's user may stop their
own login past the table's time, so an outage there could be theirs, and
failmode = safe must not let them skip the lockout that way
(decision/auth.c, caller_guard.h: amfa_guard_outage_suspect).

su reads /etc/pam.d/su-l: the test replaces it for its run and puts the
original back."""

import os
import shutil
import sys
import unittest

import dynalite
import pexpect
from amfa_testlib import (PAM_SUCCESS, Tree, remove_system_users,
                          require_root, sanitizer_build, system_user, totp,
                          wait_fresh_step)
from fleetlib import Fleet, table_settings
from sts_process import IamUser, StsServer

PAM_FILE = "/etc/pam.d/su-l"
USER = "amfa-erin"
CALLER = "amfa-caller"
FLEET = None


def setUpModule():
    global FLEET
    why = dynalite.available()
    if why:
        raise unittest.SkipTest(why)
    FLEET = Fleet()


def tearDownModule():
    if FLEET is not None:
        FLEET.close()
    remove_system_users()


class SuTableAway(unittest.TestCase):
    def setUp(self):
        FLEET.front.clear()
        FLEET.front.start_data()
        self.addCleanup(FLEET.front.start_data)
        self.iam = IamUser(USER)
        self.sts = StsServer([self.iam])
        self.addCleanup(self.sts.stop)
        system_user(USER)
        system_user(CALLER)
        self.tree = Tree()
        self.addCleanup(self.tree.cleanup)
        self.tree.store = os.path.join(self.tree.root, "run")
        self.tree.write_config(table_settings(
            FLEET, self.tree, verify="sts", failmode="safe",
            sts_endpoint=self.sts.url, sts_timeout=5, dynamodb_timeout=1))
        self.tree.enroll(USER, seed=self.iam.seed, extra=(
            "access_key_id = %s\nsecret_access_key = %s\n"
            % (self.iam.key_id, self.iam.secret)))
        self.tree.service("awsmfa", ["auth required MODULE config=CONF"])
        saved = PAM_FILE + ".amfa-saved"
        shutil.copy2(PAM_FILE, saved)
        self.addCleanup(os.replace, saved, PAM_FILE)
        with open(PAM_FILE, "w") as f:
            f.write("#%%PAM-1.0\nauth required %s config=%s\n"
                    "account required pam_permit.so\n"
                    "session required pam_permit.so\n"
                    % (os.environ["AMFA_PAM_MODULE"], self.tree.conf))

    def sts_calls(self):
        return [r for r in self.sts.requests()["requests"]
                if r["action"] == "GetSessionToken"]

    def su(self, code):
        child = pexpect.spawn("runuser", ["-u", CALLER, "--", "su", "-l",
                                          USER, "-c", "echo IN"],
                              encoding="utf-8", timeout=60)
        child.expect("Verification code: ")
        child.sendline(code)
        child.expect(pexpect.EOF)
        child.close()
        return child.exitstatus, child.before

    def test_su_with_the_table_up_is_let_in(self):
        """The stack works: the table there, su lets the code in."""
        wait_fresh_step(margin=10)
        status, out = self.su(totp(self.iam.seed))
        self.assertEqual(status, 0, out)
        self.assertIn("IN", out)

    def test_table_away_su_refuses_where_pamtest_is_let_in(self):
        wait_fresh_step(margin=20)
        FLEET.front.stop_data()
        res = self.tree.run("awsmfa", USER, [totp(self.iam.seed)])
        self.assertEqual(res.rc, PAM_SUCCESS, repr(res))
        self.assertIn("accepted on STS's answer alone", res.log)
        asked = len(self.sts_calls())
        status, out = self.su(totp(self.iam.seed))
        self.assertNotEqual(status, 0, out)
        self.assertNotIn("IN\r\n", out)
        self.assertEqual(len(self.sts_calls()), asked,
                         "STS was asked: failmode = safe applied in su")


if __name__ == "__main__":
    require_root()
    if sanitizer_build(os.environ["AMFA_PAM_MODULE"]):
        print("SKIP: su is setuid and cannot load a module of an "
              "AddressSanitizer build (the plain build runs this test)")
        sys.exit(77)
    unittest.main(verbosity=2)
