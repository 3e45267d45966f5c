"""Attacks on the fleet's field-by-field acceptance (state_item.h,
amfa_item_write_acceptance): a login's right code is counted, then its
acceptance is written with conditions on what it spends, not pinned to
amfa_ver.  Here that acceptance is held at a gate (a relay in front of the
table that passes the counts at once and holds every other write until the
test opens it) while another bastion, or an administrator, acts; then it
is let go.  Nothing here is timed: the held write waits for the test.

Shown: a TOTP code, a recovery code, a YubiKey OTP spent on B while A's
acceptance of the same one is held is refused on A; an older code or OTP
held on A never lowers what B spent after it (no later one becomes good
again); a lock an attacker's failures set on B while the legitimate
user's acceptance is held on A is not cleared by it; a re-enrolment
(enrolment = table) while the acceptance is held refuses the old seed; a
session whose login was not this module's (sshd's privilege separation,
or another handle) keeps no connection to the table or KMS open once
open_session is done.

Each attack fails when the condition it relies on is removed from the
acceptance (checked by hand: see the report of branch acc-attack)."""

import os
import re
import shutil
import sys
import threading
import time
import unittest

import dynalite
from amfa_testlib import (PAM_AUTH_ERR, PAM_MAXTRIES, PAM_SUCCESS, Tree,
                          new_seed, remove_system_users, require_root,
                          system_user, totp, wait_fresh_step)
from fleetlib import (STATIC_AKID, STATIC_SECRET, Fleet, SlowWrites)

import test_pam_fleet as fleet_tests
import test_pam_fleet_enrolment as enrolment_tests

sys.path.insert(0, os.path.join(os.environ.get(
    "AMFA_TESTS_DIR", os.path.dirname(os.path.abspath(__file__))),
    "..", "yubikey"))
from yklib import Token                                          # noqa: E402
from kms_server import Kms                                       # noqa: E402

# The count's expression (state_table.c count_update): counts pass.
COUNT = b"fail_count = if_not_exists(fail_count"
ATTACK_SESSION_USER = "amfa-accatk"

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
    # The base classes of those files read their module's globals.
    fleet_tests.FLEET = FLEET
    enrolment_tests.FLEET = FLEET
    enrolment_tests.KMS = KMS


def tearDownModule():
    for c in (KMS, FLEET):
        if c is not None:
            c.close()
    remove_system_users()


class GatedWrites(SlowWrites):
    """SlowWrites whose held writes wait for `gate' (an Event the test
    sets), not for a time: every UpdateItem without the count's
    expression is held until then, and passes at once afterwards."""

    def __init__(self, port):
        self.gate = threading.Event()
        super().__init__(port, 0, skip_if=COUNT)

    def maybe_hold(self, req):
        super().maybe_hold(req)
        if (self.MARK in req.split(b"\r\n\r\n", 1)[0] and
                COUNT not in req):
            self.gate.wait(90)


def gate(case, tree):
    """`tree''s table requests through a new gate; the gate."""
    g = GatedWrites(FLEET.front.port)
    case.addCleanup(g.close)
    case.addCleanup(g.gate.set)
    tree.settings["dynamodb_endpoint"] = g.url
    # The count, the held write and what follows within one budget.
    tree.settings["dynamodb_timeout"] = 60
    tree.write_config(tree.settings)
    return g


def held(case, g, p):
    """A's write reached the gate, else A's log in the failure."""
    if g.holding.wait(60):
        return
    p.kill()
    rc, out, log = Tree.finish(p)
    case.fail("A never wrote (rc %d; the gate saw %r)\nstdout:\n%s\nlog:\n%s"
              % (rc, g.seen, out, log[-4000:]))


class SpentWhileHeld(fleet_tests.FleetCase):
    """A's acceptance of a code is held; B spends the same code (or a
    later one); A's write is let go."""

    def test_totp_code_spent_on_b_refused_on_a(self):
        user = self.user("atotp")
        seed = self.enroll(user)
        g = gate(self, self.a)
        wait_fresh_step(margin=20)
        at = time.time()
        code = totp(seed, at=at)
        p = self.a.start("awsmfa", user, [code])
        held(self, g, p)
        self.assertRc(self.b.run("awsmfa", user, [code]), PAM_SUCCESS,
                      "B, with A's acceptance held")
        g.gate.set()
        rc, out, log = Tree.finish(p)
        self.assertEqual(rc, PAM_AUTH_ERR, "one code, two logins:\n" + log)
        self.assertIn("already used", log)
        self.assertEqual(int(FLEET.item(user)["totp_step"]), int(at) // 30)

    def test_older_totp_code_held_on_a_lowers_nothing(self):
        """A holds the code of the step before; B logs in with this
        step's.  Written, A's step would lower the replay mark and make
        B's code good again."""
        user = self.user("aolder")
        seed = self.enroll(user)
        g = gate(self, self.a)
        wait_fresh_step(margin=20)
        at = time.time()
        p = self.a.start("awsmfa", user, [totp(seed, at=at - 30)])
        held(self, g, p)
        self.assertRc(self.b.run("awsmfa", user, [totp(seed, at=at)]),
                      PAM_SUCCESS, "B, this step's code")
        g.gate.set()
        rc, out, log = Tree.finish(p)
        self.assertEqual(rc, PAM_AUTH_ERR, log)
        self.assertEqual(int(FLEET.item(user)["totp_step"]), int(at) // 30,
                         "the replay mark not lowered")
        res = self.b.run("awsmfa", user, [totp(seed, at=at)])
        self.assertRc(res, PAM_AUTH_ERR, "B's code again")
        self.assertIn("already used", res.log)

    def test_recovery_code_spent_on_b_refused_on_a(self):
        user = self.user("arc")
        system_user(user)       # awsmfa recovery needs a local account
        self.enroll(user)
        codes = self.issue_recovery(self.a, user)
        shutil.copy(self.a.user_file(user), self.b.user_file(user))
        g = gate(self, self.a)
        p = self.a.start("awsmfa", user, [codes[5]])
        held(self, g, p)
        self.assertRc(self.b.run("awsmfa", user, [codes[5]]), PAM_SUCCESS,
                      "B, with A's acceptance of the same code held")
        g.gate.set()
        rc, out, log = Tree.finish(p)
        self.assertEqual(rc, PAM_AUTH_ERR, "one recovery code, two "
                         "logins:\n" + log)
        self.assertIn("already used", log)
        self.assertEqual(int(FLEET.item(user)["rc_used"]), 1 << 5)

    def test_yubikey_otp_spent_on_b_refused_on_a(self):
        user = self.user("ayk")
        tok = Token()
        seed = new_seed()
        for t in (self.a, self.b):
            t.enroll(user, seed=seed, extra="yubikey = %s\n" % tok.spec)
        # The token's counters on record first: A's acceptance is then a
        # plain one (field by field), not a first use (pinned).
        self.assertRc(self.b.run("awsmfa", user, [tok.otp(3, 1)]),
                      PAM_SUCCESS)
        g = gate(self, self.a)
        otp = tok.otp(3, 2)
        p = self.a.start("awsmfa", user, [otp])
        held(self, g, p)
        self.assertRc(self.b.run("awsmfa", user, [otp]), PAM_SUCCESS,
                      "B, with A's acceptance of the same OTP held")
        g.gate.set()
        rc, out, log = Tree.finish(p)
        self.assertEqual(rc, PAM_AUTH_ERR, "one OTP, two logins:\n" + log)
        self.assertEqual(FLEET.item(user)["yk_" + tok.public_id],
                         str(3 * 65536 + 2))

    def test_older_yubikey_otp_held_on_a_lowers_nothing(self):
        user = self.user("aykold")
        tok = Token()
        seed = new_seed()
        for t in (self.a, self.b):
            t.enroll(user, seed=seed, extra="yubikey = %s\n" % tok.spec)
        self.assertRc(self.b.run("awsmfa", user, [tok.otp(3, 1)]),
                      PAM_SUCCESS)
        g = gate(self, self.a)
        p = self.a.start("awsmfa", user, [tok.otp(3, 2)])
        held(self, g, p)
        self.assertRc(self.b.run("awsmfa", user, [tok.otp(3, 5)]),
                      PAM_SUCCESS, "B, a later OTP")
        g.gate.set()
        rc, out, log = Tree.finish(p)
        self.assertEqual(rc, PAM_AUTH_ERR, log)
        self.assertEqual(FLEET.item(user)["yk_" + tok.public_id],
                         str(3 * 65536 + 5), "the counters not lowered")
        for use in (4, 5):
            self.assertRc(self.b.run("awsmfa", user, [tok.otp(3, use)]),
                          PAM_AUTH_ERR, "OTP 3/%d after 3/5" % use)


class LockWhileHeld(fleet_tests.FleetCase):
    config = {"lockout_attempts": 3, "lockout_seconds": 600}

    def test_lock_set_meanwhile_is_not_cleared_by_the_acceptance(self):
        """The victim's right code on A is counted and its acceptance
        held; an attacker's wrong codes on B meanwhile reach the limit
        and lock the user.  Let go, the acceptance must not clear that
        lock (no order of these logins one at a time ends unlocked)."""
        user = self.user("alock")
        seed = self.enroll(user)
        g = gate(self, self.a)
        wait_fresh_step(margin=20)
        code = totp(seed)
        wrong = "%06d" % ((int(code) + 1) % 1000000)
        p = self.a.start("awsmfa", user, [code])
        held(self, g, p)
        rcs = [self.b.run("awsmfa", user, [wrong]).rc for _ in range(3)]
        self.assertNotIn(PAM_SUCCESS, rcs)
        locked = FLEET.item(user)
        self.assertGreater(int(locked["locked_until"]), time.time(),
                           "the attacker's failures locked the user: %r"
                           % locked)
        g.gate.set()
        rc, out, log = Tree.finish(p)
        self.assertNotEqual(rc, PAM_SUCCESS, log)
        item = FLEET.item(user)
        self.assertEqual(item["locked_until"], locked["locked_until"],
                         "the lock stays: %r" % item)
        self.assertNotEqual(item["fail_count"], "0", item)
        for t in (self.a, self.b):
            res = t.run("awsmfa", user, [totp(seed, at=time.time())])
            self.assertRc(res, PAM_MAXTRIES, "still locked on " + t.name)


class ReenrolledWhileHeld(enrolment_tests.EnrolmentCase):
    def test_reenrolment_during_a_held_acceptance_refuses_the_old_seed(self):
        """B's right code of the old seed is counted and its acceptance
        held while A's administrator disables the user and moves a new
        seed into the table; let go, B is refused."""
        user = self.user("areen")
        old = self.migrate(self.a, user)
        g = gate(self, self.b)
        wait_fresh_step(margin=20)
        at = time.time()
        p = self.b.start("awsmfa", user, [totp(old, at=at)])
        held(self, g, p)
        self.assertEqual(self.awsmfa(self.a, "disable", user).returncode, 0)
        new = new_seed()
        while new == old:
            new = new_seed()
        self.migrate(self.a, user, seed=new)
        self.assertEqual(FLEET.item(user)["enr_ver"], "3")
        g.gate.set()
        rc, out, log = Tree.finish(p)
        self.assertNotEqual(rc, PAM_SUCCESS, "the old seed after "
                            "re-enrolment:\n" + log)
        self.assertEqual(FLEET.item(user)["totp_step"], "-1",
                         "nothing spent by the refused login")
        self.assertRc(self.b.run("awsmfa", user, [totp(new)]),
                      PAM_SUCCESS, "the new seed")


def table_sockets(pid, ports):
    """The TCP sockets process `pid' holds to 127.0.0.1:PORT for a port
    in `ports': [(fd, port, close_on_exec)]."""
    peers = {}
    for name in ("tcp", "tcp6"):
        try:
            with open("/proc/%d/net/%s" % (pid, name)) as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            col = line.split()
            peers[col[9]] = int(col[2].rsplit(":", 1)[1], 16)
    found = []
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        m = re.match(r"socket:\[(\d+)\]$", link)
        if not m or peers.get(m.group(1)) not in ports:
            continue
        with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
            flags = int(re.search(r"flags:\s*([0-7]+)", f.read()).group(1),
                        8)
        found.append((int(fd), peers[m.group(1)],
                      bool(flags & 0o2000000)))
    return found


class NoConnectionKeptBySession(enrolment_tests.EnrolmentCase):
    def test_session_of_another_handle_keeps_no_connection(self):
        """open_session without this module's authentication in the same
        handle (sshd's privilege separation authenticates in another
        process; su's session of another handle) loads the enrolment from
        the table for the roles file: one GetItem, one KMS Decrypt.  The
        session's process (root's, for the whole session) is to hold no
        connection of them afterwards: a login's connection ends with
        it."""
        system_user(ATTACK_SESSION_USER)
        os.makedirs(self.b.store, 0o755, exist_ok=True)
        self.awsmfa(self.a, "disable", ATTACK_SESSION_USER)  # earlier runs
        self.a.enroll(ATTACK_SESSION_USER, extra="role = admin "
                      "arn:aws:iam::123456789012:role/Admin\n")
        res = self.awsmfa(self.a, "migrate-enrolment", ATTACK_SESSION_USER)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        # Session credentials in the PAM environment as another module
        # (or the authentication's process) would leave them.
        env = os.path.join(self.b.etc, "session.env")
        empty = os.path.join(self.b.etc, "empty.conf")
        Tree.write(empty, "", 0o644)
        expires = time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                time.gmtime(time.time() + 3600))
        Tree.write(env, "AWS_ACCESS_KEY_ID=ASIAACCATTACKSESSION\n"
                   "AWS_SECRET_ACCESS_KEY=%s\n"
                   "AWS_SESSION_TOKEN=FwoGZXIvYXdzEXAMPLETOKEN\n"
                   "AWS_CREDENTIAL_EXPIRATION=%s\n" % ("s" * 40, expires),
                   0o644)
        self.b.service("sessonly", [
            "auth required pam_env.so readenv=1 conffile=%s envfile=%s"
            % (empty, env),
            "auth required pam_permit.so",
            "session optional MODULE config=CONF"])
        KMS.reset_stats()
        hold = os.path.join(self.b.root, "hold")
        p = self.b.start("sessonly", ATTACK_SESSION_USER, [],
                         ["-S", "-H", hold])
        line = ""
        while not line.startswith("SESSION OPEN") and p.poll() is None:
            line = p.stdout.readline()
        found = table_sockets(p.pid, {FLEET.front.port, KMS.port})
        open(hold, "w").close()
        rc, out, log = Tree.finish(p)
        self.assertEqual(line.strip(), "SESSION OPEN 0", log)
        # The session loaded the enrolment from the table (KMS Decrypt).
        self.assertEqual(enrolment_tests.kms_targets(),
                         ["TrentService.Decrypt"], log)
        self.assertEqual(found, [], "connections (fd, port, close-on-exec) "
                         "left open to the session:\n" + log)


if __name__ == "__main__":
    require_root()
    unittest.main(verbosity=2)
