"""The module's JSON audit records through real libpam: one per decision,
to syslog and to audit_log; a sudo step-up is its own event; the file
rules (root-owned, no links, not writable by others); never a code."""

import json
import os
import unittest

from amfa_testlib import (PAM_AUTH_ERR, PAM_AUTHINFO_UNAVAIL, PAM_SUCCESS,
                          PamTestCase,
                          require_root, totp, wait_fresh_step)


class Audit(PamTestCase):
    def setUp(self):
        super().setUp()
        self.log = os.path.join(self.tree.root, "audit.log")
        self.tree.write_config({"users_dir": self.tree.users,
                                "state_dir": self.tree.state,
                                "audit_log": self.log})
        self.seed = self.tree.enroll("alice", iam_user="alice.iam")
        self.tree.service("sudo", ["auth required MODULE config=CONF grace=5"])
        wait_fresh_step()

    def records(self):
        with open(self.log) as f:
            return [json.loads(line) for line in f]

    def test_stepup_records(self):
        code = totp(self.seed)
        res = self.tree.run("sudo", "alice", [code])
        self.assertRc(res, PAM_SUCCESS)
        self.assertRc(self.tree.run("sudo", "alice", []), PAM_SUCCESS)
        self.assertRc(self.tree.run("awsmfa", "alice", ["000000"]),
                      PAM_AUTH_ERR)
        recs = self.records()
        self.assertEqual(len(recs), 3, recs)
        first, second, third = recs
        self.assertEqual((first["event"], first["service"], first["result"],
                          first["user"], first["iam_user"], first["grace"]),
                         ("stepup", "sudo", "ok", "alice", "alice.iam",
                          False))
        self.assertEqual((second["event"], second["result"], second["grace"]),
                         ("stepup", "ok", True))
        self.assertEqual((third["event"], third["service"], third["result"],
                          third["reason"]),
                         ("auth", "awsmfa", "denied", "wrong code"))
        # The same records went to syslog.
        self.assertIn('"event":"stepup"', res.log)
        with open(self.log) as f:
            text = f.read()
        self.assertNotIn(code, text)
        self.assertNotIn(self.seed, text)
        st = os.stat(self.log)
        self.assertEqual((st.st_uid, st.st_mode & 0o777), (0, 0o600))

    def test_unknown_user_is_recorded(self):
        self.assertRc(self.tree.run("sudo", "nobody-here", ["123456"]),
                      PAM_AUTH_ERR)
        rec = self.records()[-1]
        self.assertEqual((rec["user"], rec["result"], rec["reason"]),
                         ("nobody-here", "denied", "not enrolled"))
        self.assertNotIn("iam_user", rec)

    def test_link_at_audit_log_not_followed(self):
        victim = os.path.join(self.tree.root, "victim")
        with open(victim, "w") as f:
            f.write("precious\n")
        os.symlink(victim, self.log)
        res = self.tree.run("sudo", "alice", [totp(self.seed)])
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL,
                      "no audit record, no login")
        self.assertIn("audit_log", res.log)
        with open(victim) as f:
            self.assertEqual(f.read(), "precious\n")

    def test_log_writable_by_others_not_written(self):
        with open(self.log, "w") as f:
            f.write("")
        os.chmod(self.log, 0o666)
        res = self.tree.run("sudo", "alice", [totp(self.seed)])
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL, "no audit record, no login")
        self.assertIn("not written", res.log)
        self.assertEqual(os.path.getsize(self.log), 0)


if __name__ == "__main__":
    require_root()
    unittest.main(verbosity=2)
