"""Recovery codes (issue 15) through the real libpam and the built
`awsmfa recovery': each code works once; used, wrong, mistyped and malformed
codes are refused and counted; 32 concurrent logins with one code let in
exactly one; a new set makes the old codes fail; no file holds a code;
SIGKILL while a code is being spent leaves it spent or unspent, never a
broken state; the switches (recovery_codes, recovery_sts)."""

import json
import os
import random
import re
import signal
import subprocess
import time
import unittest

from amfa_testlib import (PAM_AUTH_ERR, PAM_AUTHINFO_UNAVAIL, PAM_MAXTRIES,
                          PAM_SUCCESS, PamTestCase, read_state,
                          remove_system_users, require_root, system_user)

AWSMFA = os.environ.get("AMFA_ADMIN_PROGRAM", "")
ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
CODE = re.compile(r"^ +[0-9]+\. +([0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4})$",
                  re.M)


# awsmfa recovery issues codes only to a local account (awsmfa(8)).
USER = "amfa-rcv"


def setUpModule():
    system_user(USER)


def tearDownModule():
    remove_system_users()


def other_symbol(c):
    return random.choice([s for s in ALPHABET if s != c])


class RecoveryCase(PamTestCase):
    config = {"lockout_attempts": 100}

    def setUp(self):
        super().setUp()
        self.log = os.path.join(self.tree.root, "audit.log")
        cfg = {"users_dir": self.tree.users, "state_dir": self.tree.state,
               "audit_log": self.log}
        cfg.update(self.config)
        self.tree.write_config(cfg)
        self.seed = self.tree.enroll(USER)
        self.codes = self.issue(USER)

    def awsmfa(self, *args):
        return subprocess.run([AWSMFA, "--config", self.tree.conf] +
                              list(args), capture_output=True, text=True,
                              timeout=60)

    def issue(self, user, *args):
        p = self.awsmfa("recovery", user, *args)
        self.assertEqual(p.returncode, 0, p.stderr)
        codes = CODE.findall(p.stdout)
        self.assertTrue(codes, p.stdout)
        self.printed = getattr(self, "printed", []) + codes
        return codes

    def login(self, typed, user=USER):
        return self.tree.run("awsmfa", user, [typed])

    def audit(self):
        with open(self.log) as f:
            return [json.loads(l) for l in f]


class Codes(RecoveryCase):
    def test_set_as_issued(self):
        self.assertEqual(len(self.codes), 10)
        self.assertEqual(len(set(self.codes)), 10)
        for c in self.codes:
            self.assertTrue(set(c.replace("-", "")) <= set(ALPHABET), c)
        st = self.awsmfa("status", USER)
        self.assertIn("recovery:     10 of 10 codes left", st.stdout)

    def test_count_option(self):
        self.assertEqual(len(self.issue(USER, "--count", "3")), 3)
        for bad in ("0", "17", "x"):
            p = self.awsmfa("recovery", USER, "--count", bad)
            self.assertEqual(p.returncode, 2, p)

    def test_each_code_works_once(self):
        for n, code in enumerate(self.codes):
            res = self.login(code)
            self.assertRc(res, PAM_SUCCESS, code)
            left = len(self.codes) - n - 1
            if left:
                self.assertIn("%d recovery code%s left" %
                              (left, "" if left == 1 else "s"), res.out)
            else:
                self.assertIn("that was your last one", res.out)
                self.assertIn("Ask an administrator for new recovery "
                              "codes", res.out)
            self.assertIn("logged in with a recovery code, %d left" % left,
                          res.log)
            for form in (code, code.replace("-", "")):
                self.assertNotIn(form, res.log + res.out)
            again = self.login(code)
            self.assertRc(again, PAM_AUTH_ERR, code)
            self.assertIn("already used", again.log)
        st = self.awsmfa("status", USER)
        self.assertIn("recovery:     0 of 10 codes left", st.stdout)
        self.assertIn("issue new ones", st.stdout)
        # Its own audit event, with the count.
        recs = [r for r in self.audit() if r["result"] == "ok"]
        self.assertEqual(len(recs), 10)
        for n, r in enumerate(recs):
            self.assertEqual(r["event"], "recovery")
            self.assertEqual(r["recovery_left"], 9 - n)

    def test_typed_as_people_type(self):
        c0, c1, c2 = self.codes[:3]
        self.assertRc(self.login(c0.upper()), PAM_SUCCESS)
        self.assertRc(self.login(c1.replace("-", "")), PAM_SUCCESS)
        self.assertRc(self.login(c2.replace("-", " ")), PAM_SUCCESS)

    def test_refused(self):
        code = self.codes[0]
        sym = code.replace("-", "")
        i = random.randrange(12)
        mistyped = sym[:i] + other_symbol(sym[i]) + sym[i + 1:]
        wrong = "".join(random.choice(ALPHABET) for _ in range(12))
        malformed = [sym[:11], sym + "a", sym[:4] + "--" + sym[4:],
                     "-" + sym, sym[:3] + "-" + sym[3:], sym[:11] + "u",
                     sym[:11] + "!", code + "-"]
        for typed in [mistyped, wrong] + malformed:
            res = self.login(typed)
            self.assertRc(res, PAM_AUTH_ERR, typed)
        st = read_state(self.tree.state_file(USER))
        self.assertIn("failures %d\n" % (2 + len(malformed)), st)
        # None of that spent the code.
        self.assertRc(self.login(code), PAM_SUCCESS)
        recs = self.audit()
        self.assertEqual([r["event"] for r in recs[:2]],
                         ["recovery", "recovery"])

    def test_totp_still_works_and_is_not_a_recovery_code(self):
        from amfa_testlib import totp, wait_fresh_step
        wait_fresh_step()
        res = self.login(totp(self.seed))
        self.assertRc(res, PAM_SUCCESS)
        self.assertEqual(self.audit()[-1]["event"], "auth")
        # Twelve digits: the shape of a recovery code, not a TOTP code.
        res = self.login("123412341234")
        self.assertRc(res, PAM_AUTH_ERR)
        self.assertIn("wrong recovery code", res.log)

    def test_replacing_the_set(self):
        old = self.codes
        self.assertRc(self.login(old[0]), PAM_SUCCESS)
        p = self.awsmfa("recovery", USER)
        self.assertIn("is replaced", p.stdout)
        new = CODE.findall(p.stdout)
        self.printed += new
        for c in old[1:]:
            self.assertRc(self.login(c), PAM_AUTH_ERR, c)
        # The old set's used mark does not carry over to index 0.
        self.assertRc(self.login(new[0]), PAM_SUCCESS)
        st = self.awsmfa("status", USER)
        self.assertIn("recovery:     9 of 10 codes left", st.stdout)
        with open(self.tree.user_file(USER)) as f:
            text = f.read()
        self.assertEqual(text.count("recovery = "), 10)
        self.assertIn("totp_secret = " + self.seed, text)

    def test_no_code_in_any_file(self):
        for c in self.codes[:3]:
            self.assertRc(self.login(c), PAM_SUCCESS)
        self.issue(USER)
        self.login(self.printed[-1])
        forms = []
        for c in self.printed:
            forms += [c, c.replace("-", ""), c.upper(),
                      c.replace("-", "").upper()]
        seen = 0
        for top, _, files in os.walk(self.tree.root):
            for name in files:
                with open(os.path.join(top, name), "rb") as f:
                    data = f.read()
                seen += 1
                for form in forms:
                    self.assertNotIn(form.encode(), data,
                                     os.path.join(top, name))
        self.assertGreaterEqual(seen, 3)  # conf, user file, state, audit

    def test_lockout_counts_recovery_failures(self):
        cfg = {"users_dir": self.tree.users, "state_dir": self.tree.state,
               "lockout_attempts": 3}
        self.tree.write_config(cfg)
        for _ in range(3):
            self.assertRc(self.login("zzzz-zzzz-zzzz"), PAM_AUTH_ERR)
        res = self.login(self.codes[0])
        self.assertRc(res, PAM_MAXTRIES)
        self.assertIn("locked out", res.log)
        # No KDF work while locked (each try would cost root a quarter
        # second of CPU): the lock answers before the code is hashed.
        self.assertIn("the recovery code is not hashed", res.log)

    def test_sigkill_while_spending(self):
        rounds = 0
        for code in self.codes:
            p = self.tree.start("awsmfa", USER, [code])
            time.sleep(random.uniform(0.0, 0.4))
            p.send_signal(signal.SIGKILL)
            self.tree.finish(p)
            rounds += 1
            self.assertIsNotNone(read_state(self.tree.state_file(USER))
                                 if os.path.exists(
                                     self.tree.state_file(USER))
                                 else "none yet")
            res = self.login(code)
            self.assertNotIn("corrupt", res.log)
            if res.rc != PAM_SUCCESS:
                # Spent by the killed login: the mark was written whole.
                self.assertRc(res, PAM_AUTH_ERR)
                self.assertIn("already used", res.log)
            # Either way it is spent now.
            self.assertIn("already used", self.login(code).log)
        self.assertEqual(rounds, 10)


class LostState(RecoveryCase):
    """Issue 23, finding 5: the state holds the spent marks, so a state
    that is removed (the documented repair of one that does not parse) or
    lost must not reopen the set: a state with no record of the set takes
    no recovery code until awsmfa recovery issues a new set."""

    def test_removed_state_reopens_no_code(self):
        spent = self.codes[:2]
        for c in spent:
            self.assertRc(self.login(c), PAM_SUCCESS, c)
        # The state stops parsing; the documented repair removes it.
        path = self.tree.state_file(USER)
        with open(path, "w") as f:
            f.write("version 1\n")
        self.assertRc(self.login(self.codes[2]), PAM_AUTHINFO_UNAVAIL)
        os.unlink(path)
        for c in spent + [self.codes[2]]:
            res = self.login(c)
            self.assertRc(res, PAM_AUTH_ERR, "%s after rm of the state" % c)
            self.assertIn("the state has no record of the set", res.log)
        self.assertEqual(self.audit()[-1]["reason"],
                         "recovery set not on record in the state")
        st = self.awsmfa("status", USER)
        self.assertIn("not usable: the state has no record of it",
                      st.stdout)
        chk = self.awsmfa("check-config")
        self.assertIn("is not on record in the state", chk.stderr)
        # A new set is the way back, and only its codes work.
        new = self.issue(USER)
        for c in spent:
            self.assertRc(self.login(c), PAM_AUTH_ERR, c)
        self.assertRc(self.login(new[0]), PAM_SUCCESS)
        self.assertIn("recovery:     9 of 10 codes left",
                      self.awsmfa("status", USER).stdout)

    def test_no_codes_for_a_user_with_no_local_account(self):
        self.tree.enroll("amfa-rcv-none")
        p = self.awsmfa("recovery", "amfa-rcv-none")
        self.assertEqual(p.returncode, 4, p)
        self.assertIn("no local account", p.stderr)
        self.assertNotRegex(p.stdout, CODE)
        with open(self.tree.user_file("amfa-rcv-none")) as f:
            self.assertNotIn("recovery = ", f.read())

    def test_reused_code_reason_names_a_recovery_code(self):
        self.assertRc(self.login(self.codes[0]), PAM_SUCCESS)
        self.assertRc(self.login(self.codes[0]), PAM_AUTH_ERR)
        rec = self.audit()[-1]
        self.assertEqual((rec["event"], rec["result"], rec["reason"]),
                         ("recovery", "denied", "recovery code already used"))


class Concurrency(RecoveryCase):
    def test_32_logins_one_code(self):
        # A set of two codes: a login hashes what was typed with every
        # code's salt before it takes the lock (about 25 ms of scrypt a
        # code), so with ten codes the 64 logins spent some 16 s of CPU on
        # hashing alone, and spread their arrival at the lock; the race
        # for the used mark is the same with two.
        codes = self.issue(USER, "--count", "2")
        for rnd, code in enumerate(codes):
            barrier = os.path.join(self.tree.root, "go%d" % rnd)
            procs = [self.tree.start("awsmfa", USER, [code],
                                     ["-w", barrier]) for _ in range(32)]
            open(barrier, "w").close()
            results = [self.tree.finish(p, timeout=120)[0] for p in procs]
            self.assertEqual(results.count(PAM_SUCCESS), 1, results)


class Switches(RecoveryCase):
    def test_turned_off_for_the_user(self):
        with open(self.tree.user_file(USER), "a") as f:
            f.write("recovery_codes = no\n")
        res = self.login(self.codes[0])
        self.assertRc(res, PAM_AUTH_ERR)
        self.assertIn("recovery codes are turned off", res.log)

    def test_turned_off_for_the_host(self):
        self.tree.write_config({"users_dir": self.tree.users,
                                "state_dir": self.tree.state,
                                "recovery_codes": "no"})
        with open(self.tree.user_file(USER), "a") as f:
            f.write("recovery_codes = yes\n")  # cannot override the host
        res = self.login(self.codes[0])
        self.assertRc(res, PAM_AUTH_ERR)
        self.assertIn("recovery codes are turned off", res.log)

    def sts_user(self):
        with open(self.tree.user_file(USER), "a") as f:
            f.write("verify = sts\naccess_key_id = AKIAIOSFODNN7EXAMPLE\n"
                    "secret_access_key = wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY\n")

    def test_sts_refused_by_default(self):
        self.sts_user()
        res = self.login(self.codes[0])
        self.assertRc(res, PAM_AUTH_ERR)
        self.assertIn("recovery_sts = refuse", res.log)

    def test_sts_login_without_credentials(self):
        self.sts_user()
        self.tree.write_config({"users_dir": self.tree.users,
                                "state_dir": self.tree.state,
                                "recovery_sts": "login",
                                # never reached: a recovery code is not
                                # sent to STS
                                "sts_endpoint": "https://127.0.0.1:9/"})
        res = self.login(self.codes[0])
        self.assertRc(res, PAM_SUCCESS)
        self.assertIn("without AWS credentials", res.out)
        self.assertFalse([k for k in res.env if k.startswith("AWS_")])


if __name__ == "__main__":
    require_root()
    unittest.main(verbosity=2)
