"""Two real sshd bastions sharing one state table (state_backend =
dynamodb): each with the shipped sshd_config snippet and PAM stack pointed
at the built module and gateway, its own awsmfa.conf, state_dir and
store_dir; the table is dynalite behind the SigV4-checking front, the
module's credentials from the IMDSv2 fixture (tests/pam/fleetlib.py).  The
real ssh client under a pty, codes from oathtool.

Shown end to end: a code that got a shell on bastion A is refused at
bastion B's door; failures spread over both bastions lock the account at
both."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "pam"))

from amfa_testlib import Tree, new_seed, totp, wait_fresh_step  # noqa: E402
from gwlib import (GATEWAY, MODULE, Client, Sshd, SshKey,  # noqa: E402
                   answer, finish, janitor, make_account, sanitizer_env,
                   shipped_pam_stack, shipped_sshd_options, temp_dir,
                   write_file, TAG)

import dynalite                                                  # noqa: E402
from fleetlib import Fleet, table_settings                       # noqa: E402

FLEET = BASTIONS = PERSON = None


class Person:
    def __init__(self):
        self.name = "amfa-gf-" + TAG[-6:]
        self.pw = make_account(self.name)
        self.seed = new_seed()
        self.key = SshKey(temp_dir("amfa-key-"))
        self.key.authorize(self.pw)


def bastion(tag, person):
    tree = Tree()
    janitor.add(tree.cleanup)
    tree.store = os.path.join(tree.root, "run")
    tree.write_config(table_settings(FLEET, tree, lockout_attempts=3,
                                     lockout_seconds=300))
    tree.enroll(person.name, seed=person.seed)
    gwconf = os.path.join(temp_dir("amfa-gwf-"), "gateway.conf")
    write_file(gwconf, "awsmfa_config = %s\nallow users %s shell\n"
               % (tree.conf, person.name), 0o644)
    return Sshd(tag, shipped_sshd_options("%s -f %s" % (GATEWAY, gwconf)) +
                ["AllowUsers amfa-*"], pam=shipped_pam_stack(tree.conf),
                env=sanitizer_env(MODULE))


def setUpModule():
    global FLEET, BASTIONS, PERSON
    why = dynalite.available()
    if why:
        raise unittest.SkipTest(why)
    FLEET = Fleet()
    janitor.add(FLEET.close)
    PERSON = Person()
    BASTIONS = [bastion("fleeta", PERSON), bastion("fleetb", PERSON)]


def tearDownModule():
    janitor.run()


class TwoBastions(unittest.TestCase):
    def login(self, which, code):
        c = Client(PERSON.key, BASTIONS)
        args = c.ssh_args(BASTIONS[which], PERSON.name, tty=True)
        args[1:1] = ["-o", "NumberOfPasswordPrompts=1"]
        child = c.spawn(args)
        answer(child, [code])
        return child

    def test_one_code_one_login_then_fleet_wide_lock(self):
        wait_fresh_step(margin=12)
        code = totp(PERSON.seed)
        child = self.login(0, code)
        child.sendline("echo @@S$((6*7))@@")
        child.expect_exact("@@S42@@", timeout=30)
        child.sendline("exit")
        status, out = finish(child)
        self.assertEqual(status, 0, out)
        status, out = finish(self.login(1, code))
        self.assertEqual(status, 255, out)
        self.assertIn("Permission denied", out)
        item = FLEET.item(PERSON.name)
        self.assertEqual(item["fail_count"], "1", "B's refusal counted")
        # Two more failures, one on each: the third locks, everywhere.
        wrong = "%06d" % ((int(code) + 7) % 1000000)
        for which in (0, 1):
            status, out = finish(self.login(which, wrong))
            self.assertEqual(status, 255, out)
        self.assertGreater(int(FLEET.item(PERSON.name)["locked_until"]), 0)
        nxt = totp(PERSON.seed, at=time.time() + 30)
        for which in (0, 1):
            status, out = finish(self.login(which, nxt))
            self.assertEqual(status, 255, "locked on bastion %d" % which)
        item = FLEET.item(PERSON.name)
        self.assertEqual(item["fail_count"], "3", "a locked user's tries "
                         "are not counted")
        self.assertEqual(int(item["totp_step"]), int(time.time()) // 30)


if __name__ == "__main__":
    unittest.main(verbosity=2)
