"""pam_awsmfa.so through the real libpam: codes, replays, lockout, stacking
options, and every way a configuration can be wrong."""

import os
import pwd
import subprocess
import time
import unittest

from amfa_testlib import (PAM_AUTH_ERR, PAM_AUTHINFO_UNAVAIL, PAM_IGNORE,
                          PAM_MAXTRIES, PAM_SERVICE_ERR, PAM_SUCCESS,
                          PamTestCase, read_state, remove_system_users,
                          require_root, system_user, totp, wait_fresh_step)


class Codes(PamTestCase):
    config = {"lockout_attempts": 100}

    def setUp(self):
        super().setUp()
        self.seed = self.tree.enroll("alice")
        wait_fresh_step()

    def test_right_code(self):
        res = self.tree.run("awsmfa", "alice", [totp(self.seed)])
        self.assertRc(res, PAM_SUCCESS)
        self.assertEqual(res.prompts, ["Verification code: "])
        self.assertIn("user alice (IAM alice): code accepted", res.log)

    def test_code_with_spaces_as_apps_show_it(self):
        code = totp(self.seed)
        res = self.tree.run("awsmfa", "alice", [code[:3] + " " + code[3:]])
        self.assertRc(res, PAM_SUCCESS)

    def test_wrong_code(self):
        code = totp(self.seed)
        wrong = "%06d" % ((int(code) + 1) % 1000000)
        res = self.tree.run("awsmfa", "alice", [wrong])
        self.assertRc(res, PAM_AUTH_ERR)
        self.assertIn("denied: wrong code", res.log)

    def test_other_users_code(self):
        other = self.tree.enroll("bob")
        res = self.tree.run("awsmfa", "alice", [totp(other)])
        self.assertRc(res, PAM_AUTH_ERR)

    def test_garbage_input(self):
        for typed in ["", "abcdef", "12345", "1234567", "12345\x01",
                      "9" * 5000]:
            res = self.tree.run("awsmfa", "alice", [typed])
            self.assertRc(res, PAM_AUTH_ERR, repr(typed[:20]))

    def test_replayed_code(self):
        code = totp(self.seed)
        self.assertRc(self.tree.run("awsmfa", "alice", [code]), PAM_SUCCESS)
        res = self.tree.run("awsmfa", "alice", [code])
        self.assertRc(res, PAM_AUTH_ERR)
        self.assertIn("already used or earlier step", res.log)

    def test_earlier_step_after_newer(self):
        now = time.time()
        newer, older = totp(self.seed, now), totp(self.seed, now - 30)
        self.assertRc(self.tree.run("awsmfa", "alice", [newer]), PAM_SUCCESS)
        res = self.tree.run("awsmfa", "alice", [older])
        self.assertRc(res, PAM_AUTH_ERR,
                      "an earlier step inside the window after a newer one")

    def test_window(self):
        # Both logins in the same step as `now' (a step change in between
        # would make one step back two).
        wait_fresh_step(margin=10)
        now = time.time()
        # One step back is inside the default window of 1 ...
        self.assertRc(self.tree.run("awsmfa", "alice",
                                    [totp(self.seed, now - 30)]), PAM_SUCCESS)
        # ... two steps ahead is not.
        self.assertRc(self.tree.run("awsmfa", "alice",
                                    [totp(self.seed, now + 60)]), PAM_AUTH_ERR)

    def test_no_secret_or_code_in_logs(self):
        code = totp(self.seed)
        res = self.tree.run("awsmfa", "alice", [code], )
        self.assertRc(res, PAM_SUCCESS)
        res2 = self.tree.run("awsmfa", "alice", [code])
        for r in (res, res2):
            self.assertNotIn(code, r.log)
            self.assertNotIn(self.seed, r.log)
            self.assertNotIn(self.seed.lower(), r.log)
        with open(self.tree.state_file("alice")) as f:
            state = f.read()
        self.assertIsNotNone(read_state(self.tree.state_file("alice")))
        self.assertNotIn(code, state)
        self.assertNotIn(self.seed, state)

    def test_state_file(self):
        self.assertRc(self.tree.run("awsmfa", "alice", [totp(self.seed)]),
                      PAM_SUCCESS)
        st = os.stat(self.tree.state_file("alice"))
        self.assertEqual(st.st_mode & 0o777, 0o600)
        self.assertEqual(st.st_uid, 0)
        self.assertEqual(os.stat(self.tree.state).st_mode & 0o777, 0o700)

    def test_sha256_eight_digits_period_60(self):
        seed = self.tree.enroll("carol", extra="totp_algorithm = sha256\n"
                                "totp_digits = 8\ntotp_period = 60\n")
        wait_fresh_step(period=60)
        code = totp(seed, digits=8, algorithm="sha256", period=60)
        self.assertRc(self.tree.run("awsmfa", "carol", [code]), PAM_SUCCESS)
        self.assertRc(self.tree.run("awsmfa", "carol", [totp(seed)]),
                      PAM_AUTH_ERR, "a 6-digit SHA1 code is not the same")

    def test_prompt_argument(self):
        self.tree.service("p", ["auth required MODULE config=CONF "
                                "[prompt=MFA code for AWS: ]"])
        res = self.tree.run("p", "alice", [totp(self.seed)])
        self.assertRc(res, PAM_SUCCESS)
        self.assertEqual(res.prompts, ["MFA code for AWS: "])

    def test_conversation_fails(self):
        res = self.tree.run("awsmfa", "alice", [])   # stdin closed
        self.assertNotEqual(res.rc, PAM_SUCCESS)


class Lockout(PamTestCase):
    # Long enough that a loaded machine cannot let the lock run out between
    # two logins that expect it to hold (whole seconds, stored as a time).
    LOCK = 10
    config = {"lockout_attempts": 2, "lockout_seconds": LOCK}

    def test_lock_and_expiry(self):
        seed = self.tree.enroll("alice")
        wait_fresh_step(margin=10)
        good = totp(seed)
        bad = "%06d" % ((int(good) + 1) % 1000000)
        self.assertRc(self.tree.run("awsmfa", "alice", [bad]), PAM_AUTH_ERR)
        self.assertRc(self.tree.run("awsmfa", "alice", [bad]), PAM_AUTH_ERR)
        res = self.tree.run("awsmfa", "alice", [good])
        self.assertRc(res, PAM_MAXTRIES, "right code refused while locked")
        self.assertIn("locked out", res.log)
        time.sleep(self.LOCK + 0.2)
        res = self.tree.run("awsmfa", "alice", [good])
        self.assertRc(res, PAM_SUCCESS, "accepted after the lock expired")

    def test_success_resets_count(self):
        seed = self.tree.enroll("alice")
        wait_fresh_step(margin=10)
        now = time.time()
        bad = "%06d" % ((int(totp(seed, now)) + 1) % 1000000)
        self.assertRc(self.tree.run("awsmfa", "alice", [bad]), PAM_AUTH_ERR)
        self.assertRc(self.tree.run("awsmfa", "alice",
                                    [totp(seed, now - 30)]), PAM_SUCCESS)
        self.assertRc(self.tree.run("awsmfa", "alice", [bad]), PAM_AUTH_ERR)
        self.assertRc(self.tree.run("awsmfa", "alice", [totp(seed, now)]),
                      PAM_SUCCESS, "one failure after a success: not locked")

    def test_users_are_locked_separately(self):
        a, b = self.tree.enroll("alice"), self.tree.enroll("bob")
        wait_fresh_step(margin=10)
        for _ in range(2):
            self.tree.run("awsmfa", "alice", ["000000"])
        self.assertRc(self.tree.run("awsmfa", "bob", [totp(b)]), PAM_SUCCESS)
        self.assertRc(self.tree.run("awsmfa", "alice", [totp(a)]),
                      PAM_MAXTRIES)


class Stacking(PamTestCase):
    def setUp(self):
        super().setUp()
        self.seed = self.tree.enroll("alice")
        wait_fresh_step()

    def test_nullok(self):
        self.tree.service("n", ["auth required MODULE config=CONF nullok",
                                "auth required pam_permit.so"])
        res = self.tree.run("n", "nobody_enrolled", [])
        self.assertRc(res, PAM_SUCCESS)
        self.assertIn("not enrolled, passing over (nullok)", res.log)
        self.assertEqual(res.prompts, [])
        # nullok does not weaken enrolled users.
        self.assertRc(self.tree.run("n", "alice", ["000000"]), PAM_AUTH_ERR)

    def test_nullok_returns_ignore(self):
        self.tree.service("n", ["auth [ignore=ignore success=ok default=die] "
                                "MODULE config=CONF nullok",
                                "auth required pam_deny.so"])
        self.assertRc(self.tree.run("n", "nobody_enrolled", []),
                      PAM_AUTH_ERR, "IGNORE is not success: pam_deny decides")

    def test_nullok_not_for_another_name_of_an_account(self):
        # Two names for one account (as case-folding directories or
        # aliases give): the unenrolled one must not pass it over.
        canon = system_user("amfa-canon")
        # A run killed before its clean-up may have left the alias.
        subprocess.run(["userdel", "amfa-alias"], capture_output=True)
        made = subprocess.run(["useradd", "-o", "-u", str(canon.pw_uid),
                               "-g", str(canon.pw_gid), "-M", "-d", "/",
                               "-s", "/bin/sh", "amfa-alias"],
                              capture_output=True, text=True)
        self.assertEqual(made.returncode, 0, made.stderr)
        self.addCleanup(subprocess.run, ["userdel", "amfa-alias"],
                        capture_output=True)
        self.assertEqual(pwd.getpwnam("amfa-alias").pw_uid, canon.pw_uid)
        self.tree.enroll("amfa-canon")
        self.tree.service("n", ["auth required MODULE config=CONF nullok"])
        res = self.tree.run("n", "amfa-alias", ["123456"])
        self.assertRc(res, PAM_AUTH_ERR)
        self.assertIn("account has another name", res.log)
        # A name no account has is still passed over (libpam turns a
        # stack of nothing but PAM_IGNORE into a refusal).
        res = self.tree.run("n", "amfa-nosuchuser", ["123456"])
        self.assertIn("not enrolled, passing over (nullok)", res.log)

    def test_not_enrolled_without_nullok(self):
        self.tree.service("n", ["auth required MODULE config=CONF",
                                "auth required pam_permit.so"])
        res = self.tree.run("n", "nobody_enrolled", ["123456"])
        self.assertRc(res, PAM_AUTH_ERR)
        self.assertIn("not enrolled: denied", res.log)

    def test_use_first_pass(self):
        self.tree.service("u", ["auth required AUTHTOK ask",
                                "auth required MODULE config=CONF "
                                "use_first_pass"])
        res = self.tree.run("u", "alice", [totp(self.seed)])
        self.assertRc(res, PAM_SUCCESS)
        self.assertEqual(res.prompts, ["Token: "], "no second prompt")

    def test_use_first_pass_without_token(self):
        self.tree.service("u", ["auth required MODULE config=CONF "
                                "use_first_pass"])
        res = self.tree.run("u", "alice", [totp(self.seed)])
        self.assertRc(res, PAM_AUTH_ERR)
        self.assertEqual(res.prompts, [], "use_first_pass never prompts")

    def test_use_first_pass_wrong_token(self):
        self.tree.service("u", ["auth required AUTHTOK ask",
                                "auth required MODULE config=CONF "
                                "use_first_pass"])
        self.assertRc(self.tree.run("u", "alice", ["hunter2"]), PAM_AUTH_ERR)

    def test_try_first_pass(self):
        self.tree.service("t", ["auth required AUTHTOK ask",
                                "auth required MODULE config=CONF "
                                "try_first_pass"])
        res = self.tree.run("t", "alice", [totp(self.seed)])
        self.assertRc(res, PAM_SUCCESS)
        self.assertEqual(res.prompts, ["Token: "])
        # Without an earlier token it asks.
        self.tree.service("t2", ["auth required MODULE config=CONF "
                                 "try_first_pass"])
        res = self.tree.run("t2", "alice", [totp(self.seed, time.time() + 30)])
        self.assertRc(res, PAM_SUCCESS)
        self.assertEqual(res.prompts, ["Verification code: "])

    def test_forward_pass(self):
        self.tree.service("f", ["auth required MODULE config=CONF "
                                "forward_pass",
                                "auth required AUTHTOK [expect=s3cret pw]"])
        res = self.tree.run("f", "alice", ["s3cret pw" + totp(self.seed)])
        self.assertRc(res, PAM_SUCCESS)
        self.assertEqual(res.prompts, ["Password and verification code: "])

    def test_forward_pass_wrong_password(self):
        self.tree.service("f", ["auth required MODULE config=CONF "
                                "forward_pass",
                                "auth required AUTHTOK expect=s3cret"])
        self.assertRc(self.tree.run("f", "alice",
                                    ["wrong" + totp(self.seed)]),
                      PAM_AUTH_ERR, "the next module sees the password part")

    def test_forward_pass_wrong_code(self):
        self.tree.service("f", ["auth required MODULE config=CONF "
                                "forward_pass",
                                "auth required AUTHTOK expect=s3cret"])
        self.assertRc(self.tree.run("f", "alice", ["s3cret000000"]),
                      PAM_AUTH_ERR)


class Grace(PamTestCase):
    def test_grace(self):
        seed = self.tree.enroll("alice")
        wait_fresh_step()
        self.tree.service("sudo", ["auth required MODULE config=CONF grace=5"])
        # No answer to the prompt: the conversation fails, nobody gets in.
        res = self.tree.run("sudo", "alice", [])
        self.assertNotEqual(res.rc, PAM_SUCCESS, "no earlier success: asks")
        self.assertEqual(res.prompts, ["Verification code: "])
        self.assertRc(self.tree.run("awsmfa", "alice", [totp(seed)]),
                      PAM_SUCCESS)
        res = self.tree.run("sudo", "alice", [])
        self.assertRc(res, PAM_SUCCESS, "proven a moment ago: counts")
        self.assertEqual(res.prompts, [], "no prompt within grace")
        self.assertIn("counts (grace)", res.log)
        self.tree.service("fresh", ["auth required MODULE config=CONF"])
        res = self.tree.run("fresh", "alice", [])
        self.assertNotEqual(res.rc, PAM_SUCCESS,
                            "without grace a fresh code is always asked for")
        self.assertEqual(res.prompts, ["Verification code: "])

    def test_bad_grace(self):
        self.tree.enroll("alice")
        for arg in ["grace=0", "grace=1441", "grace=x", "grace="]:
            self.tree.service("g", ["auth required MODULE config=CONF " + arg])
            self.assertRc(self.tree.run("g", "alice", ["123456"]),
                          PAM_SERVICE_ERR, arg)


class BadSetup(PamTestCase):
    def setUp(self):
        super().setUp()
        self.seed = self.tree.enroll("alice")
        wait_fresh_step()

    def login(self):
        return self.tree.run("awsmfa", "alice", [totp(self.seed)])

    def test_unknown_argument(self):
        self.tree.service("x", ["auth required MODULE config=CONF nulok"])
        res = self.tree.run("x", "alice", [totp(self.seed)])
        self.assertRc(res, PAM_SERVICE_ERR)
        self.assertIn('unknown or malformed module argument "nulok"', res.log)

    def test_conflicting_arguments(self):
        self.tree.service("x", ["auth required MODULE config=CONF "
                                "use_first_pass forward_pass"])
        self.assertRc(self.tree.run("x", "alice", [totp(self.seed)]),
                      PAM_SERVICE_ERR)

    def test_relative_config_argument(self):
        self.tree.service("x", ["auth required MODULE config=etc/awsmfa.conf"])
        self.assertRc(self.tree.run("x", "alice", [totp(self.seed)]),
                      PAM_SERVICE_ERR)

    def test_missing_config(self):
        os.unlink(self.tree.conf)
        res = self.login()
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL)
        self.assertIn("no such file", res.log)

    def test_config_unknown_key(self):
        with open(self.tree.conf, "a") as f:
            f.write("windo = 2\n")
        res = self.login()
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL)
        self.assertIn('%s:3: unknown key "windo"' % self.tree.conf, res.log)

    def test_config_group_writable(self):
        os.chmod(self.tree.conf, 0o664)
        res = self.login()
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL)
        self.assertIn("too open", res.log)

    def test_user_file_readable_by_others(self):
        os.chmod(self.tree.user_file("alice"), 0o644)
        res = self.login()
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL)
        self.assertIn("alice.conf: mode 0644 is too open", res.log)

    def test_user_file_not_owned_by_root(self):
        nobody = pwd.getpwnam("nobody").pw_uid
        os.chown(self.tree.user_file("alice"), nobody, -1)
        res = self.login()
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL)
        self.assertIn("must be owned by uid 0", res.log)

    def test_user_file_symlink(self):
        path = self.tree.user_file("alice")
        os.rename(path, path + ".real")
        os.symlink(path + ".real", path)
        res = self.login()
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL)
        self.assertIn("symbolic link", res.log)

    def test_user_file_bad_line(self):
        with open(self.tree.user_file("alice"), "a") as f:
            f.write("totp_digits = 12\n")
        res = self.login()
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL)
        self.assertIn("alice.conf:4: totp_digits must be", res.log)
        self.assertNotIn(self.seed, res.log)

    def test_user_name_tricks(self):
        for name in ["../etc/alice", "alice/../alice", ".alice", "-alice",
                     "al ice", "a" * 300]:
            res = self.tree.run("awsmfa", name, [totp(self.seed)])
            self.assertNotEqual(res.rc, PAM_SUCCESS, name)

    def test_corrupt_state(self):
        self.assertRc(self.login(), PAM_SUCCESS)
        path = self.tree.state_file("alice")
        with open(path, "w") as f:
            f.write("version 1\nlast_st")
        res = self.tree.run("awsmfa", "alice",
                            [totp(self.seed, time.time() + 30)])
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL)
        self.assertIn("corrupt state", res.log)
        with open(path) as f:
            self.assertEqual(f.read(), "version 1\nlast_st",
                             "never silently reset")

    def test_state_dir_too_open(self):
        self.assertRc(self.login(), PAM_SUCCESS)
        os.chmod(self.tree.state, 0o755)
        res = self.tree.run("awsmfa", "alice",
                            [totp(self.seed, time.time() + 30)])
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL)
        self.assertIn("too open", res.log)

    def test_state_symlink(self):
        os.makedirs(self.tree.state, 0o700)
        target = os.path.join(self.tree.root, "victim")
        with open(target, "w") as f:
            f.write("precious\n")
        os.symlink(target, self.tree.state_file("alice"))
        res = self.login()
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL)
        with open(target) as f:
            self.assertEqual(f.read(), "precious\n")


def tearDownModule():
    remove_system_users()


if __name__ == "__main__":
    require_root()
    unittest.main(verbosity=2)
