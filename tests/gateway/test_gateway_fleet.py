"""Two real bastions sharing one state table (fleet mode), end to end:

- two sshd instances (the real OpenSSH server) on two loopback ports, each
  with the shipped sshd_config snippet and /etc/pam.d/sshd stack pointed at
  the built module and the built gateway (ForceCommand), and each with its
  own awsmfa.conf, state_dir, store_dir, gateway.conf and audit logs;
- both with state_backend = dynamodb and one table: dynalite (a real
  DynamoDB implementation) behind ddb_front.py, which checks every
  request's SigV4 signature as DynamoDB does.  Bastion A signs with the
  instance role's credentials from the IMDSv2 fixture, bastion B with a
  root-only key file;
- the real ssh client under a pseudo-terminal, codes from oathtool.

Shown: a code that let a login in on A is refused on B (replay across the
fleet); wrong codes spread over A and B lock the user on both
(lockout_attempts); once locked both refuse the right code; the module's
audit records on each bastion name the reason.  With a per-host state
(state_backend = files on both) the first two fail: B has never seen A's
code nor A's failures."""

import grp
import json
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "pam"))

from amfa_testlib import (Tree, new_seed, totp,           # noqa: E402
                          wait_fresh_step)
from gwlib import (GATEWAY, MODULE, TAG, Client, Sshd,   # noqa: E402
                   SshKey, answer, finish, janitor, make_account, read,
                   sanitizer_env, shipped_pam_stack, shipped_sshd_options,
                   temp_dir, write_file)

import dynalite                                            # noqa: E402
from fleetlib import (STATIC_AKID, STATIC_SECRET, TABLE,   # noqa: E402
                      Fleet, table_settings)

LOCKOUT = 4
REPLAY = "code of an already used or earlier step"
LOCKED = "locked out"
WRONG = "wrong code"


class Person:
    """A test account with an ssh key and a TOTP seed, enrolled with the
    same seed on both bastions (as a fleet's enrolment files would be)."""

    def __init__(self, role, group):
        self.name = "amfa-f%s-%s" % (role[:6], TAG[-5:])
        self.pw = make_account(self.name)
        subprocess.run(["usermod", "-a", "-G", group, self.name],
                       check=True, capture_output=True)
        self.key = SshKey(temp_dir("amfa-key-"))
        self.key.authorize(self.pw)
        self.seed = None

    def code(self, delta=0):
        c = totp(self.seed)
        return "%06d" % ((int(c) + delta) % 10**6) if delta else c


class Bastion:
    """One bastion host: its own configuration tree, state and store
    directories, gateway policy and audit logs, and a real sshd."""

    def __init__(self, name, people, audit_group, **table):
        self.name = name
        self.tree = Tree()
        janitor.add(self.tree.cleanup)
        self.tree.store = os.path.join(self.tree.root, "run")
        self.module_audit = os.path.join(self.tree.root, "module-audit.log")
        self.settings = table_settings(FLEET, self.tree, **table)
        self.settings.update({
            "lockout_attempts": LOCKOUT, "lockout_seconds": 300,
            "audit_log": self.module_audit})
        self.tree.write_config(self.settings)
        gwdir = temp_dir("amfa-gwf-")
        self.gateway_audit = os.path.join(gwdir, "audit.log")
        # As the gateway's manual says: root's, its audit group's, 0620
        # (in production the gateway is setgid to that group).
        write_file(self.gateway_audit, "", 0o620)
        os.chown(self.gateway_audit, 0, grp.getgrnam(audit_group).gr_gid)
        self.gwconf = os.path.join(gwdir, "gateway.conf")
        write_file(self.gwconf,
                   "# written by test_gateway_fleet.py (bastion %s)\n"
                   "audit_log = %s\n"
                   "awsmfa_config = %s\n"
                   "allow users %s shell\n"
                   % (name, self.gateway_audit, self.tree.conf,
                      ", ".join(p.name for p in people)), 0o644)
        check = subprocess.run([GATEWAY, "-t", "-f", self.gwconf],
                               capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError("gateway -t: " + check.stderr)
        self.sshd = Sshd("fleet%s" % name.lower(), shipped_sshd_options(
            "%s -f %s" % (GATEWAY, self.gwconf)) + ["AllowUsers amfa-*"],
            pam=shipped_pam_stack(self.tree.conf), env=sanitizer_env(MODULE))

    def enroll(self, person):
        self.tree.enroll(person.name, seed=person.seed)

    def module_records(self, person):
        return [json.loads(l) for l in read(self.module_audit).splitlines()
                if l.strip() and json.loads(l).get("user") == person.name]

    def gateway_records(self, person, event=None, result=None):
        return [r for r in (json.loads(l) for l in
                            read(self.gateway_audit).splitlines()
                            if l.strip())
                if r.get("user") == person.name and
                (event is None or r.get("event") == event) and
                (result is None or r.get("result") == result)]


FLEET = None
PEOPLE = {}
A = B = None


def setUpModule():
    global FLEET, A, B
    why = dynalite.available()
    if why:
        raise unittest.SkipTest(why)
    FLEET = Fleet()
    janitor.add(FLEET.close)
    audit_group = "amfa-gwfa-" + TAG
    subprocess.run(["groupadd", audit_group], check=True,
                   capture_output=True)
    janitor.add(subprocess.run, ["groupdel", audit_group])
    for role in ("replay", "lock", "keys"):
        PEOPLE[role] = Person(role, audit_group)
    people = list(PEOPLE.values())
    A = Bastion("A", people, audit_group)     # the instance role (IMDSv2)
    keydir = temp_dir("amfa-fleetkey-")
    os.chmod(keydir, 0o700)
    key = os.path.join(keydir, "table.key")
    write_file(key, "[default]\naws_access_key_id = %s\n"
               "aws_secret_access_key = %s\n" % (STATIC_AKID, STATIC_SECRET),
               0o600)
    B = Bastion("B", people, audit_group, dynamodb_key_file=key)  # key file
    for p in people:
        p.seed = new_seed()
        A.enroll(p)
        B.enroll(p)


def tearDownModule():
    janitor.run()


class GatewayFleet(unittest.TestCase):
    def setUp(self):
        self.addCleanup(self.logs_on_failure)
        FLEET.front.clear()

    def logs_on_failure(self):
        result = self._outcome.result
        if any(t is self for t, _ in result.failures + result.errors):
            for what, text in (("bastion A sshd", A.sshd.log_text()),
                               ("bastion B sshd", B.sshd.log_text()),
                               ("A module audit", read(A.module_audit)),
                               ("B module audit", read(B.module_audit)),
                               ("A gateway audit", read(A.gateway_audit)),
                               ("B gateway audit", read(B.gateway_audit)),
                               ("front", json.dumps(FLEET.front.stats()))):
                print("--- %s (last lines)\n%s" % (
                    what, "\n".join(text.splitlines()[-25:])),
                    file=sys.stderr)

    def login(self, person, bastion, code):
        """ssh to `bastion' with one code, into the gateway's shell; a
        login that gets in leaves at once.  (exit status, output)."""
        c = Client(person.key, [A.sshd, B.sshd])
        args = c.ssh_args(bastion.sshd, person.name, tty=True)
        args[1:1] = ["-o", "NumberOfPasswordPrompts=1"]
        child = c.spawn(args)
        answer(child, [code])
        child.sendline("echo @@IN$((6*7))@@; exit")
        return finish(child)

    def assertIn_(self, status, out, bastion, msg):
        self.assertEqual(status, 0, "%s\n%s" % (msg, out))
        self.assertIn("@@IN42@@", out, msg)

    def assertRefused(self, status, out, msg):
        self.assertEqual(status, 255, "%s\n%s" % (msg, out))
        self.assertIn("Permission denied", out, msg)
        self.assertNotIn("@@IN42@@", out, msg)

    def item(self, person):
        got = FLEET.item(person.name)
        self.assertIsNotNone(got, "%s has an item in the table" % person.name)
        return got

    def test_code_used_on_a_is_refused_on_b(self):
        p = PEOPLE["replay"]
        wait_fresh_step(margin=12)
        # The step of the code (the logins may end in the next one).
        step = int(time.time()) // 30
        code = p.code()
        status, out = self.login(p, A, code)
        self.assertIn_(status, out, A, "a fresh code on A")
        self.assertEqual(len(A.gateway_records(p, "login", "ok")), 1,
                         read(A.gateway_audit))
        status, out = self.login(p, B, code)
        self.assertRefused(status, out, "the same code on B")
        self.assertEqual(B.gateway_records(p), [],
                         "the gateway never ran on B")
        ok = [r for r in A.module_records(p) if r["result"] == "ok"]
        self.assertEqual(len(ok), 1, read(A.module_audit))
        denied = B.module_records(p)
        self.assertEqual([(r["result"], r["reason"]) for r in denied],
                         [("denied", REPLAY)], read(B.module_audit))
        item = self.item(p)
        self.assertEqual(int(item["totp_step"]), step)
        self.assertEqual(item["fail_count"], "1", "B's refusal counted")
        for b in (A, B):
            self.assertFalse(os.path.exists(b.tree.state_file(p.name)),
                             "no state file on a table bastion")
        # Back on A, the spent code is refused there too.
        status, out = self.login(p, A, code)
        self.assertRefused(status, out, "the same code again on A")
        self.assertEqual(A.module_records(p)[-1]["reason"], REPLAY)

    def test_failures_over_both_lock_both(self):
        p = PEOPLE["lock"]
        wait_fresh_step(margin=20)
        # Deltas far from 0 and ±1 are never a code of the window.
        for i, delta in enumerate((+3, +4, +5, +6)):
            b = (A, B)[i % 2]
            status, out = self.login(p, b, p.code(delta))
            self.assertRefused(status, out, "wrong code %d on %s" % (
                i + 1, b.name))
        # Each bastion saw two failures, fewer than lockout_attempts: only
        # the shared count locks.  Now the right code, on both.
        code = p.code()
        for b in (A, B):
            status, out = self.login(p, b, code)
            self.assertRefused(status, out, "the right code while locked, "
                               "on %s" % b.name)
            self.assertEqual(b.gateway_records(p), [],
                             "the gateway never ran on %s" % b.name)
            reasons = [(r["result"], r["reason"])
                       for r in b.module_records(p)]
            self.assertEqual(reasons, [("denied", WRONG)] * 2 +
                             [("denied", LOCKED)], read(b.module_audit))
        item = self.item(p)
        self.assertEqual(item["fail_count"], str(LOCKOUT))
        self.assertGreater(int(item["locked_until"]), int(time.time()))
        self.assertEqual(int(item["totp_step"]), -1,
                         "no code was accepted while locked")

    def test_both_signed_their_own_way(self):
        """A's calls carried the instance role's key, B's the key file's:
        both bastions really talked to the table, each with its own
        credentials (otherwise the tests above prove nothing of B)."""
        p = PEOPLE["keys"]
        FLEET.front.reset_stats()
        wait_fresh_step(margin=12)
        status, out = self.login(p, B, p.code(+3))
        self.assertRefused(status, out, "a wrong code on B")
        self.assertEqual(set(FLEET.front.stats()["keys"]), {STATIC_AKID})
        FLEET.front.reset_stats()
        status, out = self.login(p, A, p.code(+3))
        self.assertRefused(status, out, "a wrong code on A")
        keys = set(FLEET.front.stats()["keys"])
        self.assertEqual(len(keys), 1, keys)
        self.assertTrue(keys.pop().startswith("ASIA"),
                        "A signs with the role's temporary key")
        self.assertEqual(FLEET.front.stats()["refused"], 0)


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("SKIP: needs root (sshd, test accounts, /etc/pam.d)")
        sys.exit(77)
    for what, path in (("module", MODULE), ("gateway", GATEWAY)):
        if not path or not os.path.exists(path):
            print("missing %s (%r): run through meson test" % (what, path))
            sys.exit(1)
    unittest.main(verbosity=2)
