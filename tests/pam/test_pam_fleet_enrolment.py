"""Enrolment in the fleet's table under KMS (enrolment = table, issue 26):
two bastions ("A" and "B", each its own configuration tree with an empty
users.d) on one DynamoDB table (dynalite behind the SigV4-checking front),
with KMS on loopback (tests/fixtures/kms_server.py: JSON 1.1, SigV4 checked
by the same verifier, the encryption context bound into the wrapped key,
KMS's error names).  The bastions' credentials are the instance role's
(the IMDSv2 fixture), granted kms:Decrypt only; the administrator's awsmfa
runs with a key file granted GenerateDataKey and Decrypt.

Shown: a user enrolled once on A (awsmfa enroll, or migrate-enrolment of a
file) logs in on B, with one KMS Decrypt and no more table requests than a
file-enrolled login; `awsmfa disable' on A is refused on B at once; a record
moved onto another user's item is refused (whole: KMS refuses the context;
the sealed record alone: it does not open); KMS down or the key disabled
refuses and the log names KMS and the reason; the role cannot enrol; and
afterwards no file either host wrote holds the seed (base32, hex or raw)."""

import base64
import json
import os
import re
import subprocess
import sys
import time
import unittest

import pexpect

import dynalite
from amfa_testlib import (PAM_AUTH_ERR, PAM_AUTHINFO_UNAVAIL, PAM_SUCCESS,
                          Tree, new_seed, remove_system_users, system_user,
                          totp, wait_fresh_step)
from fleetlib import (STATIC_AKID, STATIC_SECRET, TABLE, Fleet, SlowWrites,
                      table_settings)

sys.path.insert(0, os.path.join(os.environ.get(
    "AMFA_TESTS_DIR", os.path.dirname(os.path.abspath(__file__))),
    "..", "fixtures"))
from kms_server import Kms                                       # noqa: E402
from sts_process import IamUser, StsServer                       # noqa: E402

ADMIN = os.environ.get("AMFA_ADMIN_PROGRAM", "")
FLEET = None
KMS = None


def setUpModule():
    global FLEET, KMS
    why = dynalite.available()
    if why:
        raise unittest.SkipTest(why)
    FLEET = Fleet()
    KMS = Kms(keys={STATIC_AKID: STATIC_SECRET}, keys_file=FLEET.keys_file,
              grants={"role": ["Decrypt"],
                      STATIC_AKID: ["GenerateDataKey", "Decrypt"]})


def tearDownModule():
    for c in (KMS, FLEET):
        if c is not None:
            c.close()
    remove_system_users()


def kms_targets():
    return [t for t in KMS.stats()["targets"]]


class EnrolmentCase(unittest.TestCase):
    def bastion(self, name):
        tree = Tree()
        self.addCleanup(tree.cleanup)
        tree.store = os.path.join(tree.root, "run")
        tree.settings = table_settings(FLEET, tree, enrolment="table",
                                       kms_key_id=KMS.key_id,
                                       kms_endpoint=KMS.url)
        tree.write_config(tree.settings)
        tree.service("awsmfa", ["auth required MODULE config=CONF"])
        # The administrator's configuration on the same host: the same
        # table and key, with the administrators' credentials.
        tree.admin_conf = os.path.join(tree.etc, "admin.conf")
        key = os.path.join(tree.etc, "admin.key")
        Tree.write(key, "[default]\naws_access_key_id = %s\n"
                   "aws_secret_access_key = %s\n"
                   % (STATIC_AKID, STATIC_SECRET), 0o600)
        Tree.write(tree.admin_conf, "".join(
            "%s = %s\n" % kv for kv in dict(
                tree.settings, dynamodb_key_file=key).items()), 0o644)
        tree.name = name
        return tree

    def setUp(self):
        FLEET.front.clear()
        FLEET.front.start_data()
        KMS.start_data()
        KMS.enable()
        self.a = self.bastion("A")
        self.b = self.bastion("B")

    def user(self, stem):
        return "%s%s" % (stem, os.urandom(4).hex())

    def awsmfa(self, tree, *args, admin=True):
        conf = tree.admin_conf if admin else tree.conf
        return subprocess.run([ADMIN, "--config", conf] + list(args),
                              capture_output=True, text=True, timeout=60)

    def enroll(self, tree, user):
        """awsmfa enroll USER under a pty, proven by two codes; the seed."""
        wait_fresh_step(margin=8)
        child = pexpect.spawn(ADMIN, ["--config", tree.admin_conf, "enroll",
                                      user], encoding="utf-8", timeout=40)
        child.expect("First code shown by the app: ")
        seed = re.search(r"secret=([A-Z2-7]+)", child.before).group(1)
        now = time.time()
        child.sendline(totp(seed, now - 30))
        child.expect("Wait for the next code and type it: ")
        child.sendline(totp(seed, now))
        child.expect(pexpect.EOF)
        out = child.before
        child.close()
        self.assertEqual(child.exitstatus, 0, out)
        return seed

    def migrate(self, tree, user, seed=None):
        """A file on `tree' moved into the table; the seed."""
        seed = tree.enroll(user, seed=seed)
        res = self.awsmfa(tree, "migrate-enrolment", user)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertIn("%s: moved into table %s under KMS" % (user, TABLE),
                      res.stdout)
        self.assertFalse(os.path.exists(tree.user_file(user)))
        return seed

    def assertRc(self, res, rc, msg=""):
        self.assertEqual(res.rc, rc, "%s\n%r" % (msg, res))

    def assertNoSeedOnDisk(self, seed, trees):
        raw = base64.b32decode(seed + "=" * (-len(seed) % 8))
        needles = [seed.encode(), seed.lower().encode(), raw.hex().encode(),
                   raw.hex().upper().encode(), raw,
                   base64.b64encode(raw).rstrip(b"=")]
        seen = 0
        for t in trees:
            for d, _, names in os.walk(t.root):
                for n in names:
                    p = os.path.join(d, n)
                    if os.path.islink(p) or not os.path.isfile(p):
                        continue
                    seen += 1
                    with open(p, "rb") as f:
                        data = f.read()
                    for x in needles:
                        self.assertNotIn(x, data, "the seed in %s" % p)
        self.assertGreater(seen, 2, "the hosts wrote files")


class EnrolOnceLogInEverywhere(EnrolmentCase):
    def test_enrolled_on_a_logs_in_on_b_then_disabled_on_a(self):
        user = self.user("erin")
        seed = self.enroll(self.a, user)
        for t in (self.a, self.b):
            self.assertEqual(os.listdir(t.users), [], "users.d stays empty")
        item = FLEET.item(user)
        self.assertEqual(item["enr_ver"], "1")
        for attr in ("enr_ct", "enr_key"):
            self.assertNotIn(seed, item[attr])
        KMS.reset_stats()
        FLEET.front.reset_stats()
        # The next step's code (the enrolment spent this one).
        res = self.b.run("awsmfa", user, [totp(seed, time.time() + 30)])
        self.assertRc(res, PAM_SUCCESS, "enrolled on A, in on B")
        self.assertEqual(kms_targets(), ["TrentService.Decrypt"],
                         "one KMS call per login")
        self.assertEqual(KMS.stats()["contexts"],
                         [{"amfa_table": TABLE, "amfa_user": user,
                           "amfa_enr_ver": "1"}])
        self.assertEqual(
            FLEET.front.stats()["targets"],
            ["DynamoDB_20120810.UpdateItem", "DynamoDB_20120810.UpdateItem"],
            "the enrolment came with the count (ALL_NEW); the second "
            "write spends the code")
        # A wrong code: the count alone, one Decrypt.
        KMS.reset_stats()
        FLEET.front.reset_stats()
        res = self.b.run("awsmfa", user, ["000000" if totp(
            seed, time.time()) != "000000" else "111111"])
        self.assertRc(res, PAM_AUTH_ERR, "a wrong code")
        self.assertEqual(kms_targets(), ["TrentService.Decrypt"])
        self.assertEqual(FLEET.front.stats()["targets"],
                         ["DynamoDB_20120810.UpdateItem"],
                         "a wrong code is one request")
        self.assertEqual(FLEET.item(user)["fail_count"], "1")
        self.assertEqual(FLEET.item(user)["enr_ver"], "1",
                         "a login's write leaves the enrolment alone")
        res = self.awsmfa(self.a, "disable", user)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("disabled", res.stdout)
        wait_fresh_step()
        before = FLEET.item(user)
        res = self.b.run("awsmfa", user, [totp(seed, time.time() + 30)])
        self.assertRc(res, PAM_AUTH_ERR, "disabled on A, refused on B")
        self.assertIn("disabled", res.log)
        self.assertEqual(FLEET.item(user), before,
                         "the count's condition (a record) kept it out")
        # Not "not enrolled": nullok does not pass a disabled user over.
        self.b.service("nullok", ["auth required MODULE config=CONF nullok"])
        res = self.b.run("nullok", user, [totp(seed, time.time() + 30)])
        self.assertRc(res, PAM_AUTH_ERR, "nullok and disabled")
        self.assertEqual(self.awsmfa(self.a, "disable", user).returncode, 4)
        self.assertNoSeedOnDisk(seed, (self.a, self.b))

    def test_unknown_user_nullok_passed_over_nothing_written(self):
        """A name with no item: the counting UpdateItem's condition
        (attribute_exists(enr_ct)) fails, nothing is created, the read
        after it says "not enrolled", and nullok passes the user over."""
        user = self.user("nobody")
        self.b.service("nullok", ["auth required MODULE config=CONF nullok",
                                  "auth required pam_permit.so"])
        FLEET.front.reset_stats()
        res = self.b.run("nullok", user, [])
        self.assertRc(res, PAM_SUCCESS, "not enrolled, nullok")
        self.assertIn("not enrolled, passing over (nullok)", res.log)
        self.assertEqual(res.prompts, [])
        self.assertIsNone(FLEET.item(user), "no item for an unknown name")
        self.assertEqual(FLEET.front.stats()["targets"],
                         ["DynamoDB_20120810.UpdateItem",
                          "DynamoDB_20120810.GetItem"])
        self.assertRc(self.b.run("awsmfa", user, []), PAM_AUTH_ERR,
                      "not enrolled, no nullok")
        self.assertIsNone(FLEET.item(user))

    def test_reenrolment_revokes_the_old_seed(self):
        user = self.user("olga")
        old = self.migrate(self.a, user)
        res = self.awsmfa(self.a, "migrate-enrolment", user)
        self.assertIn("nothing to move", res.stdout)
        new = new_seed()
        self.a.enroll(user, seed=new)
        res = self.awsmfa(self.a, "migrate-enrolment", user)
        self.assertNotEqual(res.returncode, 0)
        self.assertIn("present in both places", res.stdout)
        self.assertTrue(os.path.exists(self.a.user_file(user)))
        os.unlink(self.a.user_file(user))
        self.assertEqual(self.awsmfa(self.a, "disable", user).returncode, 0)
        self.migrate(self.a, user, seed=new)
        self.assertEqual(FLEET.item(user)["enr_ver"], "3")
        wait_fresh_step()
        self.assertRc(self.b.run("awsmfa", user, [totp(old)]), PAM_AUTH_ERR,
                      "the old seed after re-enrolment")
        self.assertRc(self.b.run("awsmfa", user, [totp(new)]), PAM_SUCCESS)
        self.assertNoSeedOnDisk(old, (self.a, self.b))
        self.assertNoSeedOnDisk(new, (self.b,))


class DisabledMidLogin(EnrolmentCase):
    def test_disable_during_a_login_refuses_it(self):
        """B's login has read the record and decided; its write is held
        while A disables the user: the write's condition fails, and the
        fresh read brings another enrolment version: refused, where a
        decision taken again on the fresh state alone would let it in."""
        user = self.user("dora")
        seed = self.migrate(self.a, user)
        # The login's count (which brings the record) passes, however
        # many tries it takes; the write spending the code is held.
        slow = SlowWrites(FLEET.front.port, 1.5,
                          skip_if=b"fail_count = if_not_exists(fail_count")
        self.addCleanup(slow.close)
        self.b.settings["dynamodb_endpoint"] = slow.url
        # The count, KMS and the held write within one budget: room for a
        # loaded machine (the sanitizer build beside two busy loops once
        # ran out of the default 5 s before the held write).
        self.b.settings["dynamodb_timeout"] = 20
        self.b.write_config(self.b.settings)
        wait_fresh_step(margin=12)
        p = self.b.start("awsmfa", user, [totp(seed)])
        if not slow.holding.wait(30):
            p.kill()
            rc, out, log = self.b.finish(p)
            self.fail("B's write never reached the relay (rc %d; the "
                      "relay saw %r):\n%s" % (rc, slow.seen, log[-4000:]))
        res = self.awsmfa(self.a, "disable", user)
        self.assertEqual(res.returncode, 0, res.stderr)
        rc, out, log = self.b.finish(p)
        self.assertNotEqual(rc, PAM_SUCCESS, log)
        self.assertIn("the enrolment changed during the login", log)
        self.assertEqual(FLEET.item(user)["totp_step"], "-1",
                         "nothing recorded for the refused login")


    def test_disable_before_the_count_lands_refuses_it(self):
        """The login's first request (the count that brings the record)
        is held while A disables the user: its condition (a record) then
        fails, nothing is written, and the read after it says disabled."""
        user = self.user("dina")
        seed = self.migrate(self.a, user)
        # Held long enough for the disable (two requests) to land first,
        # inside B's time for the call.
        slow = SlowWrites(FLEET.front.port, 5)
        self.addCleanup(slow.close)
        self.b.settings["dynamodb_endpoint"] = slow.url
        self.b.settings["dynamodb_timeout"] = 20
        self.b.write_config(self.b.settings)
        wait_fresh_step(margin=12)
        p = self.b.start("awsmfa", user, [totp(seed)])
        self.assertTrue(slow.holding.wait(20), "B's count reached the relay")
        res = self.awsmfa(self.a, "disable", user)
        self.assertEqual(res.returncode, 0, res.stderr)
        before = FLEET.item(user)
        rc, out, log = self.b.finish(p)
        self.assertEqual(rc, PAM_AUTH_ERR, log)
        self.assertIn("enrolment disabled: denied", log)
        self.assertEqual(FLEET.item(user), before, "nothing counted")


class CheckConfig(EnrolmentCase):
    def test_imds_open_to_users_fails_and_both_places_reported(self):
        # The IMDS fixture listens on loopback: uid 65534 reaches it.
        res = self.awsmfa(self.b, "check-config", admin=False)
        self.assertEqual(res.returncode, 3, res.stdout + res.stderr)
        self.assertIn("have KMS decrypt every user's enrolment", res.stderr)
        # The same host with its state alone in the table: a warning.
        files = dict(self.b.settings)
        del files["enrolment"], files["kms_key_id"], files["kms_endpoint"]
        self.b.write_config(files)
        res = self.awsmfa(self.b, "check-config", admin=False)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertIn("can connect to it", res.stderr)
        # A user in the table and in a file; another in a file alone.
        both, alone = self.user("both"), self.user("alone")
        self.migrate(self.a, both)
        self.a.enroll(both)
        self.a.enroll(alone)
        res = self.awsmfa(self.a, "check-config")
        self.assertIn("%s is enrolled in both places" % both, res.stderr)
        self.assertIn("awsmfa migrate-enrolment %s" % alone, res.stderr)


class MovedRecords(EnrolmentCase):
    def copy(self, src, dst, attrs):
        got = FLEET.db.call("GetItem", {"TableName": TABLE,
                                        "Key": {"amfa_user": {"S": src}},
                                        "ConsistentRead": True})["Item"]
        sets = ", ".join("%s = :%s" % (a, a) for a in attrs)
        FLEET.db.call("UpdateItem", {
            "TableName": TABLE, "Key": {"amfa_user": {"S": dst}},
            "UpdateExpression": "SET " + sets,
            "ExpressionAttributeValues": {":" + a: got[a] for a in attrs}})

    def test_record_moved_onto_another_users_item_is_refused(self):
        victim, mallory = self.user("vic"), self.user("mal")
        vseed = self.migrate(self.a, victim)
        self.migrate(self.a, mallory)
        # The whole record: KMS refuses the wrapped key under mallory's
        # encryption context.
        self.copy(victim, mallory, ("enr_ct", "enr_key", "enr_ver"))
        wait_fresh_step()
        res = self.b.run("awsmfa", mallory, [totp(vseed)])
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL, "victim's record, whole")
        self.assertIn("KMS Decrypt", res.log)
        self.assertIn("InvalidCiphertextException", res.log)
        # The sealed text alone, under mallory's own data key: it does not
        # open (the data key is not its key, and the user is in its AAD).
        res = self.awsmfa(self.a, "disable", mallory)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.migrate(self.a, mallory)
        self.copy(victim, mallory, ("enr_ct",))
        res = self.b.run("awsmfa", mallory, [totp(vseed)])
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL, "victim's sealed record")
        self.assertIn("does not open", res.log)
        self.assertRc(self.b.run("awsmfa", victim, [totp(vseed)]),
                      PAM_SUCCESS, "the victim's own item still works")


class KmsTrouble(EnrolmentCase):
    def test_kms_down_or_disabled_refuses(self):
        user = self.user("kim")
        seed = self.migrate(self.a, user)
        wait_fresh_step(margin=12)
        KMS.stop_data()
        res = self.b.run("awsmfa", user, [totp(seed)])
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL, "KMS unreachable")
        self.assertIn("KMS Decrypt", res.log)
        self.assertIn("unavailable", res.log)
        KMS.start_data()
        KMS.disable()
        res = self.b.run("awsmfa", user, [totp(seed)])
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL, "the key disabled")
        self.assertIn("KMS Decrypt", res.log)
        self.assertIn("DisabledException", res.log)
        KMS.enable()
        item = FLEET.item(user)
        self.assertEqual(item["fail_count"], "0", "nothing counted")
        self.assertRc(self.b.run("awsmfa", user, [totp(seed)]), PAM_SUCCESS,
                      "the same code once KMS is back")

    def test_the_role_cannot_enrol(self):
        user = self.user("rob")
        self.a.enroll(user)
        res = self.awsmfa(self.a, "migrate-enrolment", user, admin=False)
        self.assertNotEqual(res.returncode, 0)
        self.assertIn("KMS GenerateDataKey", res.stderr)
        self.assertIn("AccessDeniedException", res.stderr)
        self.assertIsNone(FLEET.item(user), "nothing written")
        self.assertTrue(os.path.exists(self.a.user_file(user)))



ENR_ATTRS = ("enr_ct", "enr_key", "enr_ver")


def raw_item(user):
    return FLEET.db.call("GetItem", {"TableName": TABLE,
                                     "Key": {"amfa_user": {"S": user}},
                                     "ConsistentRead": True})["Item"]


def put_attrs(user, attrs):
    """What anyone who may write the item's attributes can do."""
    FLEET.db.call("UpdateItem", {
        "TableName": TABLE, "Key": {"amfa_user": {"S": user}},
        "UpdateExpression": "SET " + ", ".join(
            "%s = :%s" % (a, a) for a in attrs),
        "ExpressionAttributeValues": {":" + a: v for a, v in attrs.items()}})


def seal_aad(user, version):
    return b"\0".join([b"amfa-enrolment-v1", TABLE.encode(), user.encode(),
                       str(version).encode()])


class Rollback(EnrolmentCase):
    """An old sealed triple (enr_ct, enr_key, enr_ver) put back on the
    item: it opens (it is genuine), so only freshness can refuse it."""

    def test_old_record_put_back_is_refused_where_a_later_version_was_seen(
            self):
        user = self.user("rolf")
        seed = self.migrate(self.a, user)
        old = {a: v for a, v in raw_item(user).items() if a in ENR_ATTRS}
        wait_fresh_step(margin=12)
        self.assertRc(self.b.run("awsmfa", user, [totp(seed)]), PAM_SUCCESS)
        floor = os.path.join(self.b.state, "enrolment-floor", user)
        with open(floor) as f:
            self.assertEqual(f.read(), "1\n", "B remembers version 1")
        self.assertEqual(os.stat(floor).st_mode & 0o777, 0o600)
        self.assertEqual(os.stat(os.path.dirname(floor)).st_mode & 0o777,
                         0o700)
        res = self.awsmfa(self.a, "disable", user)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(FLEET.item(user)["enr_ver"], "2",
                         "the disable's tombstone is a later version")
        res = self.b.run("awsmfa", user, [totp(seed, time.time() + 30)])
        self.assertRc(res, PAM_AUTH_ERR, "disabled")
        with open(floor) as f:
            self.assertEqual(f.read(), "2\n", "B has seen the tombstone")
        # The disabled user's version-1 record put back whole.
        put_attrs(user, old)
        KMS.reset_stats()
        res = self.b.run("awsmfa", user, [totp(seed, time.time() + 30)])
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL,
                      "a disabled user's old record put back")
        self.assertIn("older than version 2 this host has seen", res.log)
        self.assertEqual(kms_targets(), [], "refused before KMS is asked")
        self.assertEqual(FLEET.item(user)["fail_count"], "0",
                         "the count was taken back")
        # What the floor cannot stop: A never saw version 2 (nor any
        # login of this user), so there the old record still opens.  The
        # role policy's Deny on enr_* writes is what covers that.
        res = self.a.run("awsmfa", user, [totp(seed, time.time() + 30)])
        self.assertRc(res, PAM_SUCCESS, "a host that saw no later version")
        # An administrator's write goes on from the item's version: a
        # disable and a new enrolment pass the floor everywhere.
        self.assertEqual(self.awsmfa(self.a, "disable", user).returncode, 0)
        new = self.migrate(self.a, user, seed=new_seed())
        self.assertEqual(FLEET.item(user)["enr_ver"], "3")
        # (Every code of this step and the next is spent: a wrong one
        # shows the record opened and was checked.)
        wrong = "000000" if totp(new) != "000000" else "111111"
        res = self.b.run("awsmfa", user, [wrong])
        self.assertRc(res, PAM_AUTH_ERR)
        self.assertNotIn("this host has seen", res.log)
        with open(floor) as f:
            self.assertEqual(f.read(), "3\n")
        self.assertNoSeedOnDisk(seed, (self.a, self.b))
        self.assertNoSeedOnDisk(new, (self.b,))

    def test_a_data_key_cannot_seal_a_later_version(self):
        """Who may Decrypt (the bastions' role; the administrators' key
        stands in for it here) unwraps a record's data key, opens the
        record and seals it again under a later enr_ver with the same
        wrapped key, which would pass every host's floor: KMS refuses,
        the encryption context names the version the key was made for."""
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        if not os.path.exists("/usr/bin/aws"):
            self.skipTest("no AWS CLI")
        user = self.user("sealy")
        seed = self.migrate(self.a, user)
        item = raw_item(user)
        blob = os.path.join(self.a.root, "blob")
        with open(blob, "wb") as f:
            f.write(base64.b64decode(item["enr_key"]["S"]))
        env = {"PATH": "/usr/bin:/bin", "HOME": self.a.root,
               "AWS_ACCESS_KEY_ID": STATIC_AKID,
               "AWS_SECRET_ACCESS_KEY": STATIC_SECRET,
               "AWS_DEFAULT_REGION": "us-east-1", "AWS_MAX_ATTEMPTS": "1",
               "AWS_PAGER": "", "AWS_CONFIG_FILE": "/dev/null",
               "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
        key = None
        for ctx in ({"amfa_table": TABLE, "amfa_user": user,
                     "amfa_enr_ver": "1"},
                    {"amfa_table": TABLE, "amfa_user": user}):
            res = subprocess.run(
                ["/usr/bin/aws", "kms", "--endpoint-url", KMS.url, "--output",
                 "json", "decrypt", "--ciphertext-blob", "fileb://" + blob,
                 "--encryption-context", json.dumps(ctx)],
                env=env, capture_output=True, text=True, timeout=60)
            if res.returncode == 0:
                key = base64.b64decode(json.loads(res.stdout)["Plaintext"])
                break
        self.assertIsNotNone(key, "the Decrypt right unwraps the key")
        sealed = base64.b64decode(item["enr_ct"]["S"])
        plain = AESGCM(key).decrypt(sealed[:12], sealed[12:],
                                    seal_aad(user, 1))
        nonce = os.urandom(12)
        forged = nonce + AESGCM(key).encrypt(nonce, plain, seal_aad(user, 7))
        put_attrs(user, {"enr_ct": {"S": base64.b64encode(forged).decode()},
                         "enr_ver": {"N": "7"}})
        wait_fresh_step(margin=12)
        res = self.b.run("awsmfa", user, [totp(seed)])
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL,
                      "a record relabelled to a later version")
        self.assertIn("InvalidCiphertextException", res.log)


class FilesNotMoved(EnrolmentCase):
    def test_user_only_in_users_d_is_refused_nullok_or_not(self):
        """enrolment = table set before the user's file was moved: the
        file is not read, and the user must not look unenrolled (nullok
        would pass the second factor over)."""
        user = self.user("ursula")
        self.b.enroll(user)
        self.b.service("nullok", ["auth required MODULE config=CONF nullok",
                                  "auth required pam_permit.so"])
        res = self.b.run("nullok", user, [])
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL,
                      "a file not moved: nullok must not pass it over")
        self.assertIn("awsmfa migrate-enrolment %s" % user, res.log)
        self.assertIn(self.b.user_file(user), res.log)
        self.assertRc(self.b.run("awsmfa", user, []), PAM_AUTHINFO_UNAVAIL)
        self.assertIsNone(FLEET.item(user), "nothing written")
        res = self.awsmfa(self.b, "check-config")
        self.assertNotEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertIn("logins are refused", res.stderr)


SESSION_USER = "amfa-fleetenr"


class SessionReusesTheLogin(EnrolmentCase):
    """open_session stores the login's roles for awsmfa-creds from the
    enrolment the login decided on (pam_set_data), not from a second
    read: one KMS Decrypt per login with a session, not two."""

    def test_one_decrypt_for_auth_and_session(self):
        pw = system_user(SESSION_USER)
        iam = IamUser("fleetenr")
        sts = StsServer([iam])
        self.addCleanup(sts.stop)
        os.makedirs(self.b.store, 0o755, exist_ok=True)
        self.b.settings.update(sts_endpoint=sts.url, sts_timeout=5)
        self.b.write_config(self.b.settings)
        self.b.service("sess", ["auth required MODULE config=CONF",
                                "session required pam_permit.so",
                                "session optional MODULE config=CONF"])
        self.awsmfa(self.a, "disable", SESSION_USER)  # an earlier run's
        self.a.enroll(SESSION_USER, seed=iam.seed, iam_user="fleetenr",
                      extra="verify = sts\naccess_key_id = %s\n"
                      "secret_access_key = %s\n"
                      "role = admin arn:aws:iam::123456789012:role/Admin\n"
                      % (iam.key_id, iam.secret))
        res = self.awsmfa(self.a, "migrate-enrolment", SESSION_USER)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        wait_fresh_step(margin=12)
        KMS.reset_stats()
        hold = os.path.join(self.b.root, "hold")
        p = self.b.start("sess", SESSION_USER, [totp(iam.seed)],
                         ["-S", "-H", hold])
        line = ""
        while not line.startswith("SESSION OPEN") and p.poll() is None:
            line = p.stdout.readline()
        # The roles file lives as long as the session.
        roles = os.path.join(self.b.store, "%d.roles" % pw.pw_uid)
        text = ""
        if os.path.exists(roles):
            with open(roles) as f:
                text = f.read()
        open(hold, "w").close()
        rc, out, log = self.b.finish(p)
        self.assertEqual(line.strip(), "SESSION OPEN 0", log)
        self.assertEqual(rc, PAM_SUCCESS, log)
        self.assertEqual(kms_targets(), ["TrentService.Decrypt"],
                         "one KMS Decrypt for the login and its session")
        self.assertIn("arn:aws:iam::123456789012:role/Admin", text, log)
        self.assertNotIn(iam.secret, text)


CHKCODE = os.environ.get("AMFA_CHKCODE_TEST", "")
CHKCODE_CONFIG = os.environ.get("AMFA_CHKCODE_TEST_CONFIG", "")


class CheckerReadsTheTable(EnrolmentCase):
    """awsmfa-chkcode (the set-user-ID checker a screen locker's PAM stack
    runs, pam_awsmfa(8) not root) decides from the same enrolment as a
    root login: with enrolment = table, the table's, never users.d.  Run
    here as root for the user root (the checker decides for the caller's
    own name; root needs no set-user-ID copy)."""

    def setUp(self):
        super().setUp()
        if not CHKCODE or not CHKCODE_CONFIG:
            self.skipTest("no test build of awsmfa-chkcode")
        cdir = os.path.dirname(CHKCODE_CONFIG)
        os.makedirs(cdir, 0o755, exist_ok=True)
        self.addCleanup(subprocess.run, ["rm", "-rf", cdir])
        with open(self.a.conf) as src, open(CHKCODE_CONFIG, "w") as dst:
            dst.write(src.read())
        os.chmod(CHKCODE_CONFIG, 0o644)
        # root's item outlives a test (one table per module): disabled,
        # it takes a new enrolment.
        self.awsmfa(self.a, "disable", "root")

    def check(self, code):
        return subprocess.run([CHKCODE, "check", "root", "awsmfa"],
                              input=code + "\n", capture_output=True,
                              text=True, timeout=60)

    def test_checker_accepts_the_table_enrolment(self):
        """Enrolled in the table only (users.d empty): a right code is
        accepted.  Reading users.d, the checker answers "not enrolled"
        (4), which a locker's stack with nullok passes over: the second
        factor skipped for every table-enrolled user."""
        seed = self.enroll(self.a, "root")
        self.assertEqual(os.listdir(self.a.users), [])
        res = self.check(totp(seed, time.time() + 30))
        self.assertEqual(res.returncode, 0,
                         "the checker did not find the table's enrolment "
                         "(4: not enrolled): %r" % (res,))

    def test_checker_refuses_a_disabled_user_with_a_stale_file(self):
        """Disabled in the table, with a users.d file left on this host
        (never read in table mode, by the PAM module): the file's factor
        must not pass the checker either."""
        self.enroll(self.a, "root")
        res = self.awsmfa(self.a, "disable", "root")
        self.assertEqual(res.returncode, 0, res.stderr)
        stale = self.a.enroll("root")
        wait_fresh_step()
        res = self.a.run("awsmfa", "root", [totp(stale)])
        self.assertRc(res, PAM_AUTH_ERR, "the module refuses it")
        res = self.check(totp(stale, time.time() + 30))
        self.assertNotEqual(res.returncode, 0,
                            "the checker accepted a disabled user's "
                            "stale users.d factor: %r" % (res,))


if __name__ == "__main__":
    unittest.main(verbosity=2)
