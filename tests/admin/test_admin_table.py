"""The admin program with the state in a DynamoDB table (state_backend =
dynamodb): status, unlock, revoke and check-config against the table, and
migrate-state copying a host's state files into it without reopening any
spent code.  The table is dynalite behind the SigV4-checking front, the
module's credentials from the IMDSv2 fixture (tests/pam/fleetlib.py)."""

import os
import socket
import subprocess
import time
import unittest

from amfa_testlib import (PAM_AUTH_ERR, PAM_MAXTRIES, PAM_SUCCESS,
                          PamTestCase, remove_system_users, require_root,
                          system_user, totp, wait_fresh_step)

import dynalite
from fleetlib import STATIC_AKID, STATIC_SECRET, Fleet, table_settings

AWSMFA = os.environ.get("AMFA_ADMIN_PROGRAM", "")
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


def step(at=None):
    return int((time.time() if at is None else at) // 30)


class TableAdmin(PamTestCase):
    config = {"lockout_attempts": 2, "lockout_seconds": 600}

    def setUp(self):
        super().setUp()
        FLEET.front.clear()
        self.tree.store = os.path.join(self.tree.root, "run")
        self.files = {"users_dir": self.tree.users,
                      "state_dir": self.tree.state,
                      "store_dir": self.tree.store}
        self.files.update(self.config)
        self.table = table_settings(FLEET, self.tree, **self.config)
        self.tree.write_config(self.table)
        self.user = "adm%s" % os.urandom(3).hex()

    def awsmfa(self, *args):
        return subprocess.run([AWSMFA, "--config", self.tree.conf] +
                              list(args), capture_output=True, text=True,
                              timeout=60)

    def login(self, code, user=None):
        return self.tree.run("awsmfa", user or self.user, [code])

    def test_status_and_unlock(self):
        seed = self.tree.enroll(self.user)
        wait_fresh_step(margin=20)
        good = totp(seed)
        self.assertRc(self.login(good), PAM_SUCCESS)
        bad = "%06d" % ((int(good) + 1) % 1000000)
        for _ in range(2):
            self.assertRc(self.login(bad), PAM_AUTH_ERR)
        res = self.awsmfa("status", self.user)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("state in:     item %s of table awsmfa-state (%s)"
                      % (self.user, FLEET.front.url), res.stdout)
        self.assertIn("failures:     2 of 2", res.stdout)
        self.assertIn("locked:       yes, until", res.stdout)
        self.assertIn("last code:    step %d" % step(), res.stdout)
        nxt = totp(seed, time.time() + 30)
        self.assertRc(self.login(nxt), PAM_MAXTRIES)
        res = self.awsmfa("unlock", self.user)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("unlocked", res.stdout)
        item = FLEET.item(self.user)
        self.assertEqual((item["fail_count"], item["locked_until"]),
                         ("0", "0"))
        self.assertEqual(int(item["totp_step"]), step(),
                         "the spent step stays")
        self.assertRc(self.login(good), PAM_AUTH_ERR, "still spent")
        self.assertRc(self.login(nxt), PAM_SUCCESS)
        self.assertIn("was not locked", self.awsmfa("unlock",
                                                    self.user).stdout)
        self.assertFalse(os.path.exists(self.tree.state_file(self.user)))

    def test_status_of_a_bad_item(self):
        self.tree.enroll(self.user)
        FLEET.db.call("PutItem", {"TableName": "awsmfa-state", "Item": {
            "amfa_user": {"S": self.user}, "amfa_ver": {"N": "1"},
            "totp_step": {"S": "not a number"}}})
        res = self.awsmfa("status", self.user)
        self.assertEqual(res.returncode, 1)
        self.assertIn("the item is unusable", res.stderr)
        seed_code = "123456"
        res = self.login(seed_code)
        self.assertEqual(res.rc, 9, "a bad item refuses every login")
        res = self.awsmfa("check-config")
        self.assertEqual(res.returncode, 3, res.stdout + res.stderr)
        self.assertIn("the module refuses %s" % self.user, res.stderr)

    def test_migrate_state_merges_without_reopening(self):
        seed = self.tree.enroll(self.user)
        wait_fresh_step(margin=20)
        now = time.time()
        # This host, on files: a login at the current step, one failure.
        self.tree.write_config(self.files)
        self.assertRc(self.login(totp(seed, now)), PAM_SUCCESS)
        self.assertRc(self.login("%06d" % ((int(totp(seed, now)) + 1) %
                                          1000000)), PAM_AUTH_ERR)
        # Another host already wrote the table: an older step, and a
        # YubiKey's counters the file does not have.
        FLEET.db.call("PutItem", {"TableName": "awsmfa-state", "Item": {
            "amfa_user": {"S": self.user}, "amfa_ver": {"N": "4"},
            "totp_step": {"N": str(step(now) - 10)},
            "fail_count": {"N": "0"}, "locked_until": {"N": "0"},
            "last_ok": {"N": "1000"}, "rc_gen": {"N": "0"},
            "rc_used": {"N": "0"}, "yk_cccccccccccb": {"N": "458755"}}})
        self.tree.write_config(self.table)
        res = self.awsmfa("migrate-state", self.user)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("copied into the table", res.stdout)
        item = FLEET.item(self.user)
        self.assertEqual(int(item["totp_step"]), step(now), "the later step")
        self.assertEqual(item["yk_cccccccccccb"], "458755", "kept")
        self.assertEqual(item["fail_count"], "1")
        self.assertEqual(item["amfa_ver"], "5")
        self.assertGreater(int(item["last_ok"]), 1000)
        # The code spent on files is spent in the fleet.
        self.assertRc(self.login(totp(seed, now)), PAM_AUTH_ERR)
        # Again: nothing to do; all of state_dir by default.
        res = self.awsmfa("migrate-state")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("%s: the table already holds all of it" % self.user,
                      res.stdout)
        # The failure that reaches lockout_attempts (2) writes the lock
        # after its count (auth.c): two writes, nothing by migrate.
        self.assertEqual(FLEET.item(self.user)["amfa_ver"], "7",
                         "one failure (count and lock) since, nothing by "
                         "migrate")

    def test_migrate_never_lowers(self):
        seed = self.tree.enroll(self.user)
        wait_fresh_step(margin=20)
        self.tree.write_config(self.files)
        self.assertRc(self.login(totp(seed, time.time() - 30)), PAM_SUCCESS)
        self.tree.write_config(self.table)
        self.assertRc(self.login(totp(seed)), PAM_SUCCESS)
        before = FLEET.item(self.user)
        res = self.awsmfa("migrate-state", self.user)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("already holds", res.stdout)
        self.assertEqual(FLEET.item(self.user), before)

    def test_migrate_needs_the_table(self):
        self.tree.write_config(self.files)
        res = self.awsmfa("migrate-state")
        self.assertEqual(res.returncode, 3)
        self.assertIn("state_backend is files", res.stderr)
        self.assertEqual(self.awsmfa("migrate-state", "../x").returncode, 2)

    def test_check_config_reaches_the_table(self):
        self.tree.enroll(self.user)
        res = self.awsmfa("check-config")
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertIn("state table awsmfa-state at %s: reachable"
                      % FLEET.front.url, res.stdout)
        self.tree.write_config(dict(self.table,
                                    dynamodb_table="no-such-table"))
        res = self.awsmfa("check-config")
        self.assertEqual(res.returncode, 3)
        self.assertIn("ResourceNotFoundException", res.stderr)
        self.assertIn("no such table", res.stderr)
        key = os.path.join(self.tree.etc, "bad.key")
        self.tree.write(key, "[default]\naws_access_key_id = AKIAUNKNOWN00000"
                        "0001\naws_secret_access_key = x%s\n" % ("y" * 39),
                        0o600)
        self.tree.write_config(dict(self.table, dynamodb_key_file=key))
        res = self.awsmfa("check-config")
        self.assertEqual(res.returncode, 3)
        self.assertIn("UnrecognizedClientException", res.stderr)
        FLEET.front.stop_data()
        try:
            self.tree.write_config(dict(self.table, dynamodb_timeout=1))
            res = self.awsmfa("check-config")
        finally:
            FLEET.front.start_data()
        self.assertEqual(res.returncode, 3)
        self.assertIn("state table awsmfa-state", res.stderr)

    def test_check_config_warns_when_users_reach_imds(self):
        # The instance role's credentials write every user's item: any
        # user who reaches the metadata service (every local user of an
        # EC2 host unless a firewall rule says otherwise) could lift a
        # lockout or fake a recent success for grace=.  The fixture on
        # loopback is open to everyone, as 169.254.169.254 is by default.
        # (With state_dir there, the role's credentials are cached.)
        os.makedirs(self.tree.state, mode=0o700, exist_ok=True)
        res = self.awsmfa("check-config")
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertIn("warning: imds_endpoint %s: a user who is not root"
                      % FLEET.imds.url, res.stderr)
        self.assertIn("(see the warnings)", res.stdout)
        # Closed to them (nothing listens; the role's credentials come
        # from the cache the first run left): no warning.
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        closed = "http://127.0.0.1:%d" % s.getsockname()[1]
        s.close()
        self.tree.write_config(dict(self.table, imds_endpoint=closed))
        res = self.awsmfa("check-config")
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertNotIn("warning: imds_endpoint", res.stderr)
        self.assertIn("imds_endpoint %s: not reachable as uid 65534"
                      % closed, res.stdout)
        # A key file: the metadata service is not the module's concern.
        key = os.path.join(self.tree.etc, "table.key")
        self.tree.write(key, "[default]\naws_access_key_id = %s\n"
                        "aws_secret_access_key = %s\n"
                        % (STATIC_AKID, STATIC_SECRET), 0o600)
        self.tree.write_config(dict(self.table, dynamodb_key_file=key))
        res = self.awsmfa("check-config")
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertNotIn("imds_endpoint", res.stdout + res.stderr)

    def test_revoke_clears_grace_fleet_wide(self):
        pw = system_user("amfatbl")
        user = pw.pw_name
        FLEET.db.call("DeleteItem", {"TableName": "awsmfa-state",
                                     "Key": {"amfa_user": {"S": user}}})
        seed = self.tree.enroll(user)
        self.tree.service("sudo", ["auth required MODULE config=CONF "
                                   "grace=5"])
        wait_fresh_step()
        self.assertRc(self.login(totp(seed), user), PAM_SUCCESS)
        self.assertRc(self.tree.run("sudo", user, []), PAM_SUCCESS)
        res = self.awsmfa("revoke", user)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("cleared in the state table", res.stdout)
        self.assertEqual(FLEET.item(user)["last_ok"], "0")
        self.assertNotEqual(self.tree.run("sudo", user, []).rc, PAM_SUCCESS)


if __name__ == "__main__":
    require_root()
    unittest.main(verbosity=2)
