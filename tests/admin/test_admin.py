"""The admin program `awsmfa', run as built, on throwaway configuration
trees: enrolment under a pty (codes from oathtool, the QR code against the
qrencode tool), IAM registration against the local endpoint followed by the
real AWS CLI's GetSessionToken with the registered device and a real PAM
login with the same seed, YubiKey enrolment from ykgenerate OTPs,
check-config, status, unlock, revoke and creds."""

import json
import os
import pwd
import re
import shutil
import stat
import subprocess
import sys
import time
import unittest

import pexpect

from amfa_testlib import (AWS_CLI, CREDS_PROGRAM, PAM_AUTH_ERR, PAM_MAXTRIES,
                          PAM_SUCCESS,
                          PamTestCase, read_state, remove_system_users,
                          require_root, run_as, system_user, totp,
                          wait_fresh_step)
from sts_process import ACCOUNT, IamUser, StsServer

sys.path.insert(0, os.path.join(os.environ.get(
    "AMFA_TESTS_DIR", os.path.dirname(os.path.abspath(__file__))),
    "..", "yubikey"))
from yklib import Token, key_that_fails  # noqa: E402

AWSMFA = os.environ.get("AMFA_ADMIN_PROGRAM", "")
URI = re.compile(r"otpauth://totp/\S+")


def step(at=None):
    return int((time.time() if at is None else at) // 30)


class UserWithoutDevice(IamUser):
    """An IAM user with a key but no MFA device yet: enrolment makes one."""

    def record(self):
        rec = super().record()
        del rec["mfa_devices"]
        return rec


class Enrolment:
    """One `awsmfa enroll' under a pty: the transcript, the exit status and
    the seed it showed."""

    def __init__(self, child, transcript, seed, codes, at):
        self.rc = child.exitstatus
        self.out = transcript
        self.seed = seed
        self.codes = codes
        self.at = at            # the time the codes were computed for

    def __repr__(self):
        return "rc=%r\n%s" % (self.rc, self.out)


# A local account for the subcommands that need one (status, unlock,
# recovery); made once, removed at the end.
LOCAL = "amfaadm"



class AdminCase(PamTestCase):
    def awsmfa(self, *args, env=None, input=None, config=True):
        full = [AWSMFA] + (["--config", self.tree.conf] if config else [])
        e = dict(os.environ)
        e.update(env or {})
        return subprocess.run(full + list(args), capture_output=True,
                              text=True, env=e, input=input, timeout=60)

    def spawn(self, *args, env=None, prefix=()):
        e = dict(os.environ)
        e.update(env or {})
        command = list(prefix) + [AWSMFA, "--config", self.tree.conf]
        return pexpect.spawn(command[0], command[1:] + list(args), env=e,
                             encoding="utf-8", timeout=40)

    def enroll(self, *args, codes=None, env=None, margin=8, prefix=()):
        """Enrol under a pty.  `codes(seed)' gives the two codes to type
        (default: the previous and the current one, which are consecutive
        and both inside the window)."""
        wait_fresh_step(margin=margin)
        child = self.spawn("enroll", *args, env=env, prefix=prefix)
        transcript = ""
        seed = None
        typed = []
        now = None
        index = child.expect(["First code shown by the app: ", pexpect.EOF])
        transcript += child.before + (child.after if index == 0 else "")
        if index == 0:
            seed = re.search(r"secret=([A-Z2-7]+)", transcript).group(1)
            now = time.time()
            typed = (codes(seed) if codes else
                     [totp(seed, now - 30), totp(seed, now)])
            child.sendline(typed[0])
            child.expect("Wait for the next code and type it: ")
            transcript += child.before + child.after
            child.sendline(typed[1])
            child.expect(pexpect.EOF)
            transcript += child.before
        child.close()
        return Enrolment(child, transcript, seed, typed, now)

    def user_text(self, name="alice"):
        with open(self.tree.user_file(name)) as f:
            return f.read()

    def state_text(self, name="alice"):
        return read_state(self.tree.state_file(name))

    def login(self, code, user="alice"):
        return self.tree.run("awsmfa", user, [code])


class CommandLine(AdminCase):
    def test_help_and_usage(self):
        res = self.awsmfa("--help", config=False)
        self.assertEqual(res.returncode, 0)
        for word in ("enroll", "check-config", "status", "unlock", "revoke",
                     "creds", "Exit status"):
            self.assertIn(word, res.stdout)
        self.assertEqual(self.awsmfa("frobnicate").returncode, 2)
        self.assertEqual(self.awsmfa(config=False).returncode, 2)
        self.assertEqual(self.awsmfa("enroll").returncode, 2)
        self.assertEqual(self.awsmfa("enroll", "a", "b").returncode, 2)
        self.assertEqual(self.awsmfa("status").returncode, 2)
        res = self.awsmfa("enroll", "--help")
        self.assertEqual(res.returncode, 0)
        self.assertIn("--iam", res.stderr)
        self.assertIn("--yubikey", res.stderr)

    def test_help_needs_no_root_but_work_does(self):
        def as_nobody(*args):
            return subprocess.run([AWSMFA] + list(args), capture_output=True,
                                  text=True, user="nobody", group="nogroup",
                                  extra_groups=[], cwd="/")
        res = as_nobody("enroll", "--help")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("--yubikey", res.stderr)
        res = as_nobody("status", "alice")
        self.assertEqual(res.returncode, 1)
        self.assertIn("must run as root", res.stderr)

    def test_bad_user_names_and_option_mixes(self):
        for name in ("../etc/passwd", "-x", ".hidden", "a b"):
            res = self.awsmfa("enroll", name)
            self.assertEqual(res.returncode, 2, (name, res.stderr))
        res = self.awsmfa("enroll", "alice", "--iam", "--yubikey")
        self.assertEqual(res.returncode, 2)
        res = self.awsmfa("enroll", "alice", "--iam", "--serial",
                          "arn:aws:iam::%s:mfa/alice" % ACCOUNT)
        self.assertEqual(res.returncode, 2)
        res = self.awsmfa("enroll", "alice", "--profile", "x")
        self.assertEqual(res.returncode, 2)
        self.assertFalse(os.path.exists(self.tree.user_file("alice")))

    def test_options_checked_by_the_module_parser_before_the_seed(self):
        # A serial the module would refuse: nothing shown, nothing written.
        res = self.awsmfa("enroll", "alice", "--serial", "arn:aws:iam::12:mfa/x")
        self.assertEqual(res.returncode, 2, res.stderr)
        self.assertIn("alice.conf (to be written)", res.stderr)
        self.assertIn("mfa_serial", res.stderr)
        self.assertNotIn("otpauth://", res.stdout)
        # verify = sts needs keys or a profile: the module's rule, said now.
        res = self.awsmfa("enroll", "alice", "--verify", "sts")
        self.assertEqual(res.returncode, 2)
        self.assertIn("verify = sts needs", res.stderr)
        self.assertFalse(os.path.exists(self.tree.user_file("alice")))

    def test_missing_config_is_a_config_error(self):
        res = subprocess.run([AWSMFA, "--config", "/nonexistent/awsmfa.conf",
                              "status", "alice"], capture_output=True,
                             text=True)
        self.assertEqual(res.returncode, 3)
        self.assertIn("/nonexistent/awsmfa.conf", res.stderr)


class EnrollTotp(AdminCase):
    def test_enrol_then_log_in_with_the_real_module(self):
        e = self.enroll("alice", "--serial", "arn:aws:iam::%s:mfa/alice" % ACCOUNT)
        self.assertEqual(e.rc, 0, e)
        self.assertIn("Enrolled alice", e.out)
        # The file: root's, 0600, the seed that was shown, 160 bits.
        st = os.stat(self.tree.user_file("alice"))
        self.assertEqual((st.st_uid, stat.S_IMODE(st.st_mode)), (0, 0o600))
        text = self.user_text()
        self.assertIn("totp_secret = %s\n" % e.seed, text)
        self.assertIn("iam_user = alice\n", text)
        self.assertIn("mfa_serial = arn:aws:iam::%s:mfa/alice\n" % ACCOUNT, text)
        self.assertEqual(len(e.seed), 32)
        # The codes typed at enrolment are spent; the next one logs in.
        self.assertIn("last_step %d\n" % step(e.at), self.state_text())
        self.assertRc(self.login(e.codes[1]), PAM_AUTH_ERR)
        self.assertRc(self.login(totp(e.seed, time.time() + 30)), PAM_SUCCESS)

    def test_uri_and_qr_code(self):
        e = self.enroll("alice", "--issuer", "Example Corp")
        self.assertEqual(e.rc, 0, e)
        uri = URI.search(e.out).group(0)
        host = os.uname().nodename
        self.assertEqual(uri, "otpauth://totp/Example%20Corp:alice@" + host +
                         "?secret=" + e.seed + "&issuer=Example%20Corp"
                         "&algorithm=SHA1&digits=6&period=30")
        # The picture is the one the qrencode tool draws for the same URI.
        expected = subprocess.run(["qrencode", "-t", "UTF8", "-m", "2", uri],
                                  check=True, capture_output=True,
                                  text=True).stdout
        shown = e.out.replace("\r\n", "\n")
        self.assertIn("\n" + expected, shown)
        # And the key for typing it in, in groups of four.
        grouped = " ".join(e.seed[i:i + 4] for i in range(0, len(e.seed), 4))
        self.assertIn(grouped, shown)

    def test_no_qr(self):
        e = self.enroll("alice", "--no-qr")
        self.assertEqual(e.rc, 0, e)
        self.assertNotIn("\u2588", e.out)
        self.assertIn("otpauth://", e.out)

    def test_wrong_codes_save_nothing(self):
        def wrong(seed):
            good = {totp(seed, time.time() + 30 * k) for k in range(-3, 4)}
            bad = next("%06d" % n for n in range(1000000)
                       if "%06d" % n not in good)
            return [bad, bad]
        wait_fresh_step(margin=12)
        child = self.spawn("enroll", "alice")
        seed = None
        for _ in range(3):
            child.expect("First code shown by the app: ")
            seed = seed or re.search(r"secret=([A-Z2-7]+)",
                                     child.before).group(1)
            codes = wrong(seed)
            child.sendline(codes[0])
            child.expect("Wait for the next code and type it: ")
            child.sendline(codes[1])
            child.expect("does not match")
        child.expect(pexpect.EOF)
        child.close()
        self.assertEqual(child.exitstatus, 1)
        self.assertIn("nothing was saved", child.before)
        self.assertFalse(os.path.exists(self.tree.user_file("alice")))

    def test_codes_must_be_consecutive(self):
        def same_twice(seed):
            c = totp(seed)
            return [c, c]

        def swapped(seed):
            now = time.time()
            return [totp(seed, now), totp(seed, now - 30)]
        for codes in (same_twice, swapped):
            wait_fresh_step(margin=12)
            child = self.spawn("enroll", "alice")
            child.expect("First code shown by the app: ")
            seed = re.search(r"secret=([A-Z2-7]+)", child.before).group(1)
            typed = codes(seed)
            child.sendline(typed[0])
            child.expect("Wait for the next code")
            child.sendline(typed[1])
            child.expect("not the one after the first")
            child.sendeof()
            child.expect(pexpect.EOF)
            child.close()
            self.assertEqual(child.exitstatus, 1)
            self.assertFalse(os.path.exists(self.tree.user_file("alice")))

    def test_no_overwrite_without_force(self):
        first = self.enroll("alice")
        self.assertEqual(first.rc, 0, first)
        before = self.user_text()
        res = self.awsmfa("enroll", "alice")
        self.assertEqual(res.returncode, 4)
        self.assertIn("--force", res.stderr)
        self.assertNotIn("otpauth://", res.stdout)
        self.assertEqual(self.user_text(), before)
        second = self.enroll("alice", "--force")
        self.assertEqual(second.rc, 0, second)
        self.assertNotEqual(second.seed, first.seed)
        self.assertIn("totp_secret = %s\n" % second.seed, self.user_text())
        # No temporary file is left next to it.
        self.assertEqual(os.listdir(self.tree.users), ["alice.conf"])

    def test_scripted_enrolment_from_a_pipe(self):
        """Without a terminal the answers come from standard input."""
        wait_fresh_step(margin=10)
        p = subprocess.Popen([AWSMFA, "--config", self.tree.conf, "enroll",
                              "alice", "--no-qr"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        seed = None
        for line in p.stdout:
            m = re.search(r"secret=([A-Z2-7]+)", line)
            if m:
                seed = m.group(1)
                break
        now = time.time()
        out, err = p.communicate("%s\n%s\n" % (totp(seed, now - 30),
                                               totp(seed, now)), timeout=30)
        self.assertEqual(p.returncode, 0, err)
        self.assertIn("totp_secret = %s\n" % seed, self.user_text())


class EnrollIam(AdminCase):
    def setUp(self):
        super().setUp()
        self.admin = IamUser("admin")
        self.alice = UserWithoutDevice("alice")
        self.sts = StsServer([self.admin, self.alice])
        self.addCleanup(self.sts.stop)
        self.admin_env = {"AWS_ACCESS_KEY_ID": self.admin.key_id,
                          "AWS_SECRET_ACCESS_KEY": self.admin.secret}

    def enroll_iam(self, *extra, env=None):
        return self.enroll("alice", "--iam", "--endpoint-url", self.sts.url,
                           *extra, env=env or self.admin_env, margin=12)

    def get_session_token(self, serial, code):
        env = {"PATH": "/usr/bin:/bin", "HOME": self.tree.root,
               "AWS_CONFIG_FILE": "/dev/null",
               "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
               "AWS_ACCESS_KEY_ID": self.alice.key_id,
               "AWS_SECRET_ACCESS_KEY": self.alice.secret,
               "AWS_MAX_ATTEMPTS": "1", "AWS_PAGER": ""}
        return subprocess.run(
            [AWS_CLI, "sts", "get-session-token", "--serial-number", serial,
             "--token-code", code, "--endpoint-url", self.sts.url,
             "--region", "us-east-1", "--output", "json"],
            env=env, capture_output=True, text=True, timeout=60)

    def test_registered_device_works_at_sts_and_here(self):
        e = self.enroll_iam()
        self.assertEqual(e.rc, 0, e)
        serial = "arn:aws:iam::%s:mfa/alice" % ACCOUNT
        self.assertIn("asking IAM at %s" % self.sts.url, e.out)
        self.assertIn("asking IAM to enable %s" % serial, e.out)
        text = self.user_text()
        self.assertIn("mfa_serial = %s\n" % serial, text)
        # IAM made the seed (64 base32 characters, as AWS's are).
        self.assertIn("totp_secret = %s\n" % e.seed, text)
        self.assertEqual(len(e.seed), 64)
        seen = self.sts.requests()
        self.assertEqual(seen["by_action"], {"CreateVirtualMFADevice": 1,
                                             "EnableMFADevice": 1})
        # One code, two verifiers: STS (the real AWS CLI) and the module.
        code = totp(e.seed, time.time() + 30)
        out = self.get_session_token(serial, code)
        self.assertEqual(out.returncode, 0, out.stderr)
        creds = json.loads(out.stdout)["Credentials"]
        self.assertTrue(creds["AccessKeyId"].startswith("ASIA"))
        self.assertRc(self.login(code), PAM_SUCCESS)
        # The codes spent on enrolment are refused by both.
        out = self.get_session_token(serial, e.codes[1])
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("AccessDenied", out.stderr)
        self.assertRc(self.login(e.codes[1]), PAM_AUTH_ERR)
        # No secret in the fixture's log.
        log = self.sts.server_log()
        for secret in (e.seed, self.admin.secret, code) + tuple(e.codes):
            self.assertNotIn(secret, log)

    def test_device_name(self):
        e = self.enroll_iam("--device-name", "alice-phone")
        self.assertEqual(e.rc, 0, e)
        self.assertIn("mfa_serial = arn:aws:iam::%s:mfa/alice-phone\n"
                      % ACCOUNT, self.user_text())

    def test_existing_device_is_refused(self):
        self.assertEqual(self.enroll_iam().rc, 0)
        os.unlink(self.tree.user_file("alice"))
        e = self.enroll_iam()
        self.assertEqual(e.rc, 1, e)
        self.assertIn("EntityAlreadyExists", e.out)
        self.assertIsNone(e.seed)
        self.assertFalse(os.path.exists(self.tree.user_file("alice")))

    def test_unknown_iam_user(self):
        e = self.enroll("alice", "--iam", "--iam-user", "nobody",
                        "--endpoint-url", self.sts.url, env=self.admin_env,
                        margin=12)
        self.assertEqual(e.rc, 1, e)
        self.assertIn("NoSuchEntity", e.out)
        self.assertIn("delete-virtual-mfa-device", e.out)
        self.assertFalse(os.path.exists(self.tree.user_file("alice")))

    def test_admin_credentials(self):
        env = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""}
        res = self.awsmfa("enroll", "alice", "--iam", "--endpoint-url",
                          self.sts.url, env=env)
        self.assertEqual(res.returncode, 2)
        self.assertIn("AWS_ACCESS_KEY_ID", res.stderr)
        env = dict(self.admin_env, AWS_SECRET_ACCESS_KEY="x" * 40)
        res = self.awsmfa("enroll", "alice", "--iam", "--endpoint-url",
                          self.sts.url, env=env)
        self.assertEqual(res.returncode, 1)
        self.assertIn("SignatureDoesNotMatch", res.stderr)
        self.assertNotIn("x" * 40, res.stderr + res.stdout)
        self.assertFalse(os.path.exists(self.tree.user_file("alice")))

    def test_admin_profile(self):
        """--profile: the invoking administrator's ~/.aws/credentials, read
        by a process running as that user.  Root's home is replaced by a
        throwaway one in a private mount namespace."""
        home = os.path.join(self.tree.root, "adminhome")
        os.makedirs(os.path.join(home, ".aws"), 0o700)
        self.tree.write(os.path.join(home, ".aws", "credentials"),
                        "[default]\naws_access_key_id = AKIANOTTHEADMIN00001\n"
                        "aws_secret_access_key = %s\n\n[iam-admin]\n"
                        "aws_access_key_id = %s\naws_secret_access_key = %s\n"
                        % ("y" * 40, self.admin.key_id, self.admin.secret),
                        0o600)
        root_home = pwd.getpwuid(0).pw_dir
        prefix = ["unshare", "--mount", "sh", "-c",
                  'mount --bind "$0" "$1" && shift && exec "$@"', home,
                  root_home]
        probe = subprocess.run(prefix + ["true"], capture_output=True)
        if probe.returncode != 0:
            self.skipTest("no private mount namespace here: %r" % probe.stderr)
        env = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""}
        e = self.enroll("alice", "--iam", "--profile", "iam-admin",
                        "--endpoint-url", self.sts.url, env=env,
                        prefix=prefix, margin=12)
        self.assertEqual(e.rc, 0, e)
        self.assertIn("totp_secret = %s\n" % e.seed, self.user_text())
        self.assertNotIn(self.admin.secret, e.out)
        res = subprocess.run(prefix + [AWSMFA, "--config", self.tree.conf,
                                       "enroll", "bob", "--iam", "--profile",
                                       "nosuch", "--endpoint-url",
                                       self.sts.url],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(res.returncode, 1, res.stderr)
        self.assertIn("no credentials for profile nosuch", res.stderr)

    def test_endpoint_rules_and_unreachable(self):
        res = self.awsmfa("enroll", "alice", "--iam", "--endpoint-url",
                          "http://example.com/", env=self.admin_env)
        self.assertEqual(res.returncode, 2)
        self.assertIn("plain http is only allowed to 127.0.0.1", res.stderr)
        self.sts.stop()
        res = self.awsmfa("enroll", "alice", "--iam", "--endpoint-url",
                          self.sts.url, "--timeout", "2", env=self.admin_env)
        self.assertEqual(res.returncode, 5, res.stderr)
        self.assertIn("asking IAM at", res.stderr)
        self.assertFalse(os.path.exists(self.tree.user_file("alice")))


class EnrollYubikey(AdminCase):
    def enroll_yk(self, otp, key, *extra):
        child = self.spawn("enroll", "alice", "--yubikey", *extra)
        child.expect("Touch the YubiKey")
        child.sendline(otp)
        transcript = ""
        if child.expect(["AES key of the token", pexpect.EOF]) == 0:
            transcript = child.before + child.after
            child.sendline(key)
            child.expect(pexpect.EOF)
        transcript += child.before
        child.close()
        return child.exitstatus, transcript

    def test_enrol_token_then_log_in(self):
        tok = Token()
        rc, out = self.enroll_yk(tok.otp(3, 7), tok.key)
        self.assertEqual(rc, 0, out)
        # The key was typed without echo and is never printed.
        self.assertNotIn(tok.key, out)
        self.assertNotIn(tok.uid, out)
        st = os.stat(self.tree.user_file("alice"))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        # The private id came out of the OTP.
        self.assertIn("yubikey = %s\n" % tok.spec, self.user_text())
        self.assertIn("token %s 3 7\n" % tok.public_id, self.state_text())
        # The enrolment OTP is spent; a later one logs in.
        self.assertRc(self.login(tok.otp(3, 7)), PAM_AUTH_ERR)
        self.assertRc(self.login(tok.otp(3, 8)), PAM_SUCCESS)
        res = self.awsmfa("status", "alice")
        self.assertIn("yubikey:      %s" % tok.public_id, res.stdout)
        self.assertNotIn(tok.key, res.stdout)

    def test_wrong_key_or_bad_otp(self):
        tok = Token()
        rc, out = self.enroll_yk(tok.otp(1, 0),
                                 key_that_fails(tok.otp(1, 0), tok.key))
        self.assertEqual(rc, 1, out)
        self.assertIn("does not decrypt with this key", out)
        rc, out = self.enroll_yk("not-an-otp", tok.key)
        self.assertEqual(rc, 2, out)
        rc, out = self.enroll_yk(tok.otp(1, 0), "00112233")
        self.assertEqual(rc, 2, out)
        self.assertFalse(os.path.exists(self.tree.user_file("alice")))


class CheckConfig(AdminCase):
    def check(self, *extra):
        return self.awsmfa("check-config", *extra, config=False)

    def test_good_tree(self):
        self.tree.enroll("alice")
        self.tree.enroll("bob")
        res = self.check(self.tree.conf)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("OK, 2 enrolled users", res.stdout)
        # --config names the file as well.
        res = self.awsmfa("check-config")
        self.assertEqual(res.returncode, 0, res.stderr)

    def test_each_problem_with_file_and_line(self):
        self.tree.enroll("alice", extra="totp_digits = 9\n")
        self.tree.enroll("bob")
        os.chmod(self.tree.user_file("bob"), 0o644)
        self.tree.write(self.tree.user_file("carol"),
                        "iam_user = carol\nno equals sign here\n", 0o600)
        self.tree.write(os.path.join(self.tree.users, "notes.txt"), "x\n",
                        0o600)
        res = self.check(self.tree.conf)
        self.assertEqual(res.returncode, 3, res.stderr)
        alice, bob, carol = (self.tree.user_file(n)
                             for n in ("alice", "bob", "carol"))
        self.assertRegex(res.stderr, re.escape(alice) + r":4: .*totp_digits")
        self.assertRegex(res.stderr, re.escape(bob) + r": .*mode")
        self.assertRegex(res.stderr, re.escape(carol) + r":2: ")
        self.assertIn("notes.txt: not read by the module", res.stderr)
        self.assertIn("3 problems", res.stderr)
        # No seed is ever echoed.
        self.assertNotIn(self.tree.seeds["alice"], res.stderr)

    def test_role_lines(self):
        good = ("role = prod arn:aws:iam::210987654321:role/prod\n"
                "role = audit arn:aws-us-gov:iam::210987654321:role/a/b/Aud+it"
                " duration=43200 external_id=x-1:2 region=eu-west-1\n")
        self.tree.enroll("alice", extra=good)
        res = self.check(self.tree.conf)
        self.assertEqual(res.returncode, 0, res.stderr)
        bad = {
            "arn:aws:iam::210987654321:user/prod": "not a role ARN",
            "arn:aws:iam::21098765432:role/prod": "not a role ARN",
            "arn:aws:s3:::bucket": "not a role ARN",
            "arn:aws:iam::210987654321:role/": "not a role ARN",
            "arn:aws:iam::210987654321:role/pr*d": "not a role ARN",
            "arn:aws:iam::210987654321:role/prod duration=899":
                "duration must be 900 to 43200",
            "arn:aws:iam::210987654321:role/prod colour=red":
                "unknown or repeated option",
            "arn:aws:iam::210987654321:role/prod external_id=a b":
                "an external id is",
            "arn:aws:iam::210987654321:role/prod external_id=a;b":
                "an external id is",
            "arn:aws:iam::210987654321:role/prod region=EU":
                "region",
        }
        for value, why in bad.items():
            with self.subTest(value):
                self.tree.enroll("alice", extra=good + "role = x %s\n" % value)
                res = self.check(self.tree.conf)
                self.assertEqual(res.returncode, 3, res.stderr)
                self.assertRegex(res.stderr, re.escape(
                    self.tree.user_file("alice")) + r":6: role: .*" +
                    re.escape(why))
        self.tree.enroll("alice", extra=good + "role = prod "
                         "arn:aws:iam::210987654321:role/other\n")
        res = self.check(self.tree.conf)
        self.assertEqual(res.returncode, 3)
        self.assertIn(":6: role: the name prod is given twice", res.stderr)
        self.tree.enroll("alice", extra="role = ../x arn:aws:iam::"
                         "210987654321:role/prod\n")
        self.assertIn(":4: role: a role name is", self.check(
            self.tree.conf).stderr)

    def test_bad_main_config(self):
        with open(self.tree.conf, "a") as f:
            f.write("window = 99\n")
        res = self.check(self.tree.conf)
        self.assertEqual(res.returncode, 3)
        self.assertRegex(res.stderr, re.escape(self.tree.conf) + r":3: .*window")
        os.chmod(self.tree.conf, 0o666)
        res = self.check(self.tree.conf)
        self.assertEqual(res.returncode, 3)
        self.assertIn("mode", res.stderr)

    def test_users_dir_and_state(self):
        self.tree.enroll("alice")
        os.chmod(self.tree.users, 0o777)
        res = self.check(self.tree.conf)
        self.assertEqual(res.returncode, 3)
        self.assertIn(self.tree.users, res.stderr)
        os.chmod(self.tree.users, 0o700)
        os.makedirs(self.tree.state, 0o700, exist_ok=True)
        self.tree.write(self.tree.state_file("alice"), "garbage\n", 0o600)
        res = self.check(self.tree.conf)
        self.assertEqual(res.returncode, 3)
        self.assertIn("corrupt state", res.stderr)
        self.assertIn(self.tree.state_file("alice"), res.stderr)

    def test_symlinked_user_file(self):
        self.tree.enroll("alice")
        target = os.path.join(self.tree.root, "elsewhere.conf")
        os.rename(self.tree.user_file("alice"), target)
        os.symlink(target, self.tree.user_file("alice"))
        res = self.check(self.tree.conf)
        self.assertEqual(res.returncode, 3)
        self.assertIn(self.tree.user_file("alice"), res.stderr)


class LocalAccount(AdminCase):
    """status, unlock and recovery work on local accounts (awsmfa(8):
    exit status 4 for a user with no local account)."""

    def setUp(self):
        super().setUp()
        system_user(LOCAL)


class StatusUnlock(LocalAccount):
    config = {"lockout_attempts": 2, "lockout_seconds": 600}

    def test_no_local_account_exits_4(self):
        self.tree.enroll("alice")           # no such account here
        self.assertRaises(KeyError, pwd.getpwnam, "alice")
        res = self.awsmfa("status", "alice")
        self.assertEqual(res.returncode, 4, res)
        self.assertIn("iam user:     alice", res.stdout)   # still shown
        self.assertIn("alice has no local account", res.stderr)
        for _ in range(2):                  # locked
            self.assertRc(self.login("000000", "alice"), PAM_AUTH_ERR)
        locked = self.state_text("alice")
        self.assertIn("failures 2\n", locked)
        res = self.awsmfa("unlock", "alice")
        self.assertEqual(res.returncode, 4, res)
        self.assertIn("no local account", res.stderr)
        self.assertEqual(self.state_text("alice"), locked, "nothing changed")
        before = self.user_text("alice")
        res = self.awsmfa("recovery", "alice")
        self.assertEqual(res.returncode, 4, res)
        self.assertIn("no local account", res.stderr)
        self.assertNotRegex(res.stdout, RECOVERY_CODE)
        self.assertEqual(self.user_text("alice"), before)

    def test_status_shows_no_secret(self):
        seed = self.tree.enroll(LOCAL, extra="verify = local\n")
        res = self.awsmfa("status", LOCAL)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("iam user:     " + LOCAL, res.stdout)
        self.assertIn("totp:         SHA1, 6 digits, 30 s, 160-bit seed",
                      res.stdout)
        self.assertIn("none yet", res.stdout)
        self.assertNotIn(seed, res.stdout + res.stderr)
        self.assertEqual(self.awsmfa("status", "bob").returncode, 4)

    def test_lock_status_unlock_keeps_replay_protection(self):
        seed = self.tree.enroll(LOCAL)
        wait_fresh_step(margin=20)
        at = time.time()
        good = totp(seed, at)
        self.assertRc(self.login(good, LOCAL), PAM_SUCCESS)
        bad = "%06d" % ((int(good) + 1) % 1000000)
        for _ in range(2):
            self.login(bad, LOCAL)
        res = self.awsmfa("status", LOCAL)
        self.assertIn("failures:     2 of 2", res.stdout)
        self.assertIn("locked:       yes, until", res.stdout)
        self.assertIn("last success: 20", res.stdout)
        # Locked: even the next code is refused.
        nxt = totp(seed, time.time() + 30)
        self.assertRc(self.login(nxt, LOCAL), PAM_MAXTRIES)
        res = self.awsmfa("unlock", LOCAL)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn(LOCAL + " unlocked", res.stdout)
        res = self.awsmfa("status", LOCAL)
        self.assertIn("failures:     0 of 2", res.stdout)
        self.assertIn("locked:       no", res.stdout)
        self.assertIn("last code:    step %d" % step(at), res.stdout)
        # The code used before the lock stays spent; a fresh one works.
        self.assertRc(self.login(good, LOCAL), PAM_AUTH_ERR)
        self.assertRc(self.login(nxt, LOCAL), PAM_SUCCESS)
        res = self.awsmfa("unlock", LOCAL)
        self.assertIn("was not locked", res.stdout)

    def test_unlock_refuses_corrupt_state_and_unknown_users(self):
        self.tree.enroll(LOCAL)
        os.makedirs(self.tree.state, 0o700, exist_ok=True)
        self.tree.write(self.tree.state_file(LOCAL), "version 1\n", 0o600)
        res = self.awsmfa("unlock", LOCAL)
        self.assertEqual(res.returncode, 1)
        self.assertIn("corrupt state", res.stderr)
        self.assertEqual(self.state_text(LOCAL), "version 1\n")
        self.assertEqual(self.awsmfa("unlock", "bob").returncode, 4)


RECOVERY_CODE = re.compile(
    r"^ +[0-9]+\. +([0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4})\r?$", re.M)


class Recovery(LocalAccount):
    """awsmfa recovery, enroll --recovery, and what status and check-config
    say about recovery codes."""

    def test_issue_status_and_use(self):
        self.tree.enroll(LOCAL)
        before = self.user_text(LOCAL)
        res = self.awsmfa("recovery", LOCAL)
        self.assertEqual(res.returncode, 0, res.stderr)
        codes = RECOVERY_CODE.findall(res.stdout)
        self.assertEqual(len(codes), 10)
        self.assertIn("not shown again", res.stdout)
        text = self.user_text(LOCAL)
        self.assertTrue(text.startswith(before))  # nothing else changed
        self.assertEqual(len(re.findall(
            r"^recovery = [0-9a-f]{8}\.[0-9]+:[0-9a-f]{32}:[0-9a-f]{64}$",
            text, re.M)), 10)
        for c in codes:
            self.assertNotIn(c.replace("-", ""), text)
        st = os.stat(self.tree.user_file(LOCAL))
        self.assertEqual((st.st_uid, stat.S_IMODE(st.st_mode)), (0, 0o600))
        self.assertIn("recovery:     10 of 10 codes left",
                      self.awsmfa("status", LOCAL).stdout)
        self.assertRc(self.login(codes[4], LOCAL), PAM_SUCCESS)
        status = self.awsmfa("status", LOCAL).stdout
        self.assertIn("recovery:     9 of 10 codes left", status)
        for c in codes:
            self.assertNotIn(c, status)
        # A new set replaces the old one, in place.
        res = self.awsmfa("recovery", LOCAL, "--count", "2")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("is replaced", res.stdout)
        self.assertEqual(self.user_text(LOCAL).count("\nrecovery = "), 2)
        self.assertIn("recovery:     2 of 2 codes left",
                      self.awsmfa("status", LOCAL).stdout)

    def test_usage_and_unknown_user(self):
        self.assertEqual(self.awsmfa("recovery").returncode, 2)
        self.assertEqual(self.awsmfa("recovery", "../x").returncode, 2)
        self.assertEqual(self.awsmfa("recovery", "a", "b").returncode, 2)
        self.assertEqual(self.awsmfa("recovery", "--count", "99",
                                     "a").returncode, 2)
        res = self.awsmfa("recovery", "nobody")
        self.assertEqual(res.returncode, 4, res.stderr)
        self.assertEqual(self.awsmfa("recovery", "--help").returncode, 0)
        self.assertIn("recovery", self.awsmfa("--help").stdout)
        self.assertIn("none issued", (self.tree.enroll("bob") and
                      self.awsmfa("status", "bob").stdout))

    def test_a_broken_user_file_is_not_rewritten(self):
        self.tree.enroll(LOCAL, extra="totp_digits = 9\n")
        before = self.user_text(LOCAL)
        res = self.awsmfa("recovery", LOCAL)
        self.assertNotEqual(res.returncode, 0)
        self.assertNotRegex(res.stdout, RECOVERY_CODE)
        self.assertEqual(self.user_text(LOCAL), before)

    def test_enroll_with_recovery(self):
        e = self.enroll(LOCAL, "--recovery", "--no-qr")
        self.assertEqual(e.rc, 0, e)
        codes = RECOVERY_CODE.findall(e.out)
        self.assertEqual(len(codes), 10, e.out)
        self.assertIn("totp_secret = %s\n" % e.seed, self.user_text(LOCAL))
        self.assertRc(self.login(codes[0], LOCAL), PAM_SUCCESS)

    def test_check_config(self):
        self.tree.enroll(LOCAL)
        self.awsmfa("recovery", LOCAL, "--count", "1")
        with open(self.tree.user_file(LOCAL), "a") as f:
            f.write("recovery_codes = no\n")
        res = self.awsmfa("check-config")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("recovery_codes = no", res.stderr)
        with open(self.tree.user_file(LOCAL), "a") as f:
            f.write("recovery = 5eed0001.99:00:00\n")
        res = self.awsmfa("check-config")
        self.assertEqual(res.returncode, 3, res.stderr)
        self.assertIn(LOCAL + ".conf:", res.stderr)
        self.assertRegex(res.stderr, LOCAL + r"\.conf:\d+: recovery: ")


def creds_json(expires_in):
    exp = time.strftime("%Y-%m-%dT%H:%M:%SZ",
                        time.gmtime(time.time() + expires_in))
    return json.dumps({"Version": 1, "AccessKeyId": "ASIAEXAMPLEEXAMPLE01",
                       "SecretAccessKey": "s" * 40,
                       "SessionToken": "t" * 300, "Expiration": exp})


class RevokeCreds(AdminCase):
    def setUp(self):
        super().setUp()
        self.pw = system_user("amfaadm")
        self.store = os.path.join(self.tree.root, "run")
        self.tree.write_config({"users_dir": self.tree.users,
                                "state_dir": self.tree.state,
                                "store_dir": self.store})
        os.makedirs(self.store, 0o755, exist_ok=True)
        self.userdir = os.path.join(self.store, str(self.pw.pw_uid))

    def plant_store(self, expires_in=3600):
        os.makedirs(self.userdir, 0o700, exist_ok=True)
        os.chown(self.userdir, self.pw.pw_uid, self.pw.pw_gid)
        path = os.path.join(self.userdir, "credentials.json")
        self.tree.write(path, creds_json(expires_in), 0o600)
        os.chown(path, self.pw.pw_uid, self.pw.pw_gid)
        return path

    def test_revoke_removes_the_store(self):
        path = self.plant_store()
        with open(os.path.join(self.store, "%d.sessions" % self.pw.pw_uid),
                  "w") as f:
            f.write("2\n")
        res = self.awsmfa("revoke", "amfaadm")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("session credentials removed", res.stdout)
        self.assertIn("aws:TokenIssueTime", res.stdout)
        self.assertFalse(os.path.exists(path))
        self.assertFalse(os.path.exists(
            os.path.join(self.store, "%d.sessions" % self.pw.pw_uid)))
        res = self.awsmfa("revoke", "amfaadm")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("no session credentials", res.stdout)
        self.assertEqual(self.awsmfa("revoke", "no-such-user-x").returncode,
                         4)

    def test_creds_prints_what_awsmfa_creds_prints(self):
        self.plant_store()
        mine = run_as(self.pw, [AWSMFA, "--config", self.tree.conf, "creds"])
        self.assertEqual(mine.returncode, 0, mine.stderr)
        theirs = run_as(self.pw, [CREDS_PROGRAM, "--store-dir", self.store])
        self.assertEqual(theirs.returncode, 0, theirs.stderr)
        self.assertEqual(mine.stdout, theirs.stdout)
        self.assertEqual(json.loads(mine.stdout)["AccessKeyId"],
                         "ASIAEXAMPLEEXAMPLE01")
        # --store-dir works without a configuration.
        mine = run_as(self.pw, [AWSMFA, "--config", "/nonexistent", "creds",
                                "--store-dir", self.store])
        self.assertEqual(mine.returncode, 0, mine.stderr)

    def test_creds_refuses_expired_and_missing(self):
        self.plant_store(expires_in=-60)
        res = run_as(self.pw, [AWSMFA, "--config", self.tree.conf, "creds"])
        self.assertEqual(res.returncode, 1)
        self.assertIn("expired", res.stderr)
        self.assertEqual(res.stdout, "")
        shutil.rmtree(self.userdir)
        res = run_as(self.pw, [AWSMFA, "--config", self.tree.conf, "creds"])
        self.assertEqual(res.returncode, 1)
        self.assertIn("log in with MFA first", res.stderr)


if __name__ == "__main__":
    require_root()
    if not AWSMFA or not os.path.exists(AWSMFA):
        print("missing awsmfa (%r): run through meson test" % AWSMFA)
        sys.exit(1)
    try:
        unittest.main(verbosity=2)
    finally:
        remove_system_users()
