"""verify = sts | local+sts through real libpam against the local STS
endpoint: credentials in the PAM environment that the real AWS CLI accepts,
the credential store and credential_process, each AWS error, faults,
timeouts, failmode, ~/.aws profiles read as the user, planted links."""

import calendar
import json
import os
import shutil
import stat
import subprocess
import time
import unittest

from amfa_testlib import (AWS_CLI, CREDS_PROGRAM, PAM_AUTH_ERR,
                          PAM_AUTHINFO_UNAVAIL, PAM_SUCCESS, PamTestCase,
                          remove_system_users, require_root, run_as,
                          system_user, totp, wait_fresh_step)
from sts_process import IamUser, StsServer, role_record

ENV_NAMES = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
             "AWS_SESSION_TOKEN", "AWS_CREDENTIAL_EXPIRATION", "AWS_REGION",
             "AWS_DEFAULT_REGION"]


def caller_identity(endpoint, env, ca=None, pw=None, extra_env=None):
    """aws sts get-caller-identity with credentials from the environment."""
    e = {"AWS_CONFIG_FILE": "/dev/null",
         "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
         "AWS_MAX_ATTEMPTS": "1", "AWS_PAGER": ""}
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
              "AWS_SESSION_TOKEN"):
        if k in env:
            e[k] = env[k]
    if ca:
        e["AWS_CA_BUNDLE"] = ca
    e.update(extra_env or {})
    args = [AWS_CLI, "sts", "get-caller-identity", "--endpoint-url",
            endpoint, "--region", "us-east-1", "--output", "json"]
    if pw is not None:
        return run_as(pw, args, env=e, timeout=60)
    # Nothing AWS_* of the caller's (a CI machine's AWS_PROFILE or
    # AWS_ENDPOINT_URL would change what the CLI does).
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    base.update(e)
    return subprocess.run(args, env=base, capture_output=True, text=True,
                          timeout=60)


class StsCase(PamTestCase):
    tls = False
    verify = "sts"
    extra_config = {}

    def setUp(self):
        self.iam = IamUser("alice")
        self.sts = StsServer([self.iam], tls=self.tls)
        self.addCleanup(self.sts.stop)
        self.config = dict({"verify": self.verify, "sts_endpoint":
                            self.sts.url, "sts_timeout": 5},
                           **self.extra_config)
        if self.sts.ca:
            self.config["ca_file"] = self.sts.ca
        super().setUp()
        self.tree.store = os.path.join(self.tree.root, "run")
        self.config["store_dir"] = self.tree.store
        self.tree.write_config(dict(users_dir=self.tree.users,
                                    state_dir=self.tree.state,
                                    **self.config))
        self.enroll_alice()
        wait_fresh_step(margin=6)

    def enroll_alice(self, extra=""):
        keys = ("access_key_id = %s\nsecret_access_key = %s\n"
                % (self.iam.key_id, self.iam.secret))
        self.tree.enroll("alice", seed=self.iam.seed, extra=keys + extra)

    def login(self, code=None, user="alice", args=("-E",)):
        return self.tree.run("awsmfa", user, [code or totp(self.iam.seed)],
                             extra_args=list(args))

    def assertNoSecrets(self, res):
        for s in (self.iam.secret, self.iam.seed,
                  res.env.get("AWS_SECRET_ACCESS_KEY", "\0"),
                  res.env.get("AWS_SESSION_TOKEN", "\0")):
            self.assertNotIn(s, res.log)
            self.assertNotIn(s, self.sts.server_log())


class VerifySts(StsCase):
    def test_right_code_gives_working_credentials(self):
        res = self.login()
        self.assertRc(res, PAM_SUCCESS)
        for name in ENV_NAMES:
            self.assertIn(name, res.env)
        self.assertTrue(res.env["AWS_ACCESS_KEY_ID"].startswith("ASIA"))
        self.assertEqual(res.env["AWS_REGION"], "us-east-1")
        exp = time.strptime(res.env["AWS_CREDENTIAL_EXPIRATION"],
                            "%Y-%m-%dT%H:%M:%SZ")
        # timegm: the Expiration is UTC, whatever the machine's zone.
        self.assertGreater(calendar.timegm(exp), time.time() + 11 * 3600)
        out = caller_identity(self.sts.url, res.env)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(json.loads(out.stdout)["Arn"], self.iam.arn)
        self.assertNoSecrets(res)

    def test_wrong_code(self):
        code = totp(self.iam.seed)
        res = self.login("%06d" % ((int(code) + 1) % 1000000))
        self.assertRc(res, PAM_AUTH_ERR)
        self.assertIn("AccessDenied", res.log)
        self.assertNotIn("AWS_ACCESS_KEY_ID", res.env)
        self.assertEqual(self.sts.requests()["mfa"].get("invalid"), 1)

    def test_reused_code_refused_by_sts(self):
        code = totp(self.iam.seed)
        self.assertRc(self.login(code), PAM_SUCCESS)
        res = self.login(code)
        self.assertRc(res, PAM_AUTH_ERR)
        self.assertEqual(self.sts.requests()["mfa"].get("reused"), 1)

    def test_malformed_code_never_sent(self):
        res = self.login("12345a")
        self.assertRc(res, PAM_AUTH_ERR)
        self.assertEqual(self.sts.requests()["total"], 0)

    def test_duration(self):
        self.tree.write_config(dict(users_dir=self.tree.users,
                                    state_dir=self.tree.state,
                                    session_duration=900, **self.config))
        res = self.login()
        self.assertRc(res, PAM_SUCCESS)
        exp = calendar.timegm(time.strptime(
            res.env["AWS_CREDENTIAL_EXPIRATION"], "%Y-%m-%dT%H:%M:%SZ"))
        self.assertLess(exp - time.time(), 905)
        self.assertGreater(exp - time.time(), 900 - 120)

    def test_bad_secret_is_configuration(self):
        # A different first character, never the same one: a random secret
        # that already began with "X" made this a no-op (seen in CI).
        first = "X" if self.iam.secret[0] != "X" else "Y"
        self.iam.secret = first + self.iam.secret[1:]
        self.enroll_alice()
        res = self.login()
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL)
        self.assertIn("SignatureDoesNotMatch", res.log)

    def test_unknown_key_is_configuration(self):
        self.iam.key_id = "AKIA" + "Z" * 16
        self.enroll_alice()
        res = self.login()
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL)
        self.assertIn("InvalidClientTokenId", res.log)

    def test_foreign_serial(self):
        self.enroll_alice()
        path = self.tree.user_file("alice")
        with open(path) as f:
            text = f.read().replace("mfa/alice", "mfa/bob")
        self.tree.write(path, text, 0o600)
        res = self.login()
        self.assertNotEqual(res.rc, PAM_SUCCESS)
        self.assertIn("AccessDenied", res.log)

    def test_throttled_then_ok(self):
        self.sts.fault(fault="throttle", count=2)
        res = self.login()
        self.assertRc(res, PAM_SUCCESS)
        self.assertEqual(self.sts.requests()["by_action"]["GetSessionToken"], 3)

    def test_5xx_then_ok(self):
        self.sts.fault(fault="error5xx", status=503, count=1)
        self.assertRc(self.login(), PAM_SUCCESS)

    def test_unreachable_is_denied(self):
        self.sts.fault(fault="error5xx", count=1000)
        start = time.time()
        res = self.login()
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL)
        # Bounded by the deadline, not by the 1000 faults queued (the
        # margin is for a loaded machine and the sanitizer build).
        self.assertLess(time.time() - start, 5 + 10)

    def test_stall_bounded_by_sts_timeout(self):
        self.sts.fault(fault="stall", forever=True)
        start = time.time()
        res = self.login()
        took = time.time() - start
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL)
        self.assertLess(took, 5 + 10, "sts_timeout is 5 s; the stall never "
                        "ends")
        self.assertGreater(took, 4)

    def test_code_consumed_by_first_try(self):
        self.sts.fault(fault="consume_then_fail", then="drop")
        res = self.login()
        self.assertNotEqual(res.rc, PAM_SUCCESS)
        self.assertIn("consumed", res.log)

    def test_garbage_answer(self):
        self.sts.fault(fault="garbage", count=1000)
        self.assertNotEqual(self.login().rc, PAM_SUCCESS)

    def test_truncated_answer(self):
        self.sts.fault(fault="truncate")
        self.assertNotEqual(self.login().rc, PAM_SUCCESS)

    def test_huge_answer(self):
        self.sts.fault(fault="huge", count=1000)
        self.assertNotEqual(self.login().rc, PAM_SUCCESS)

    def test_lockout_applies_to_sts(self):
        self.tree.write_config(dict(users_dir=self.tree.users,
                                    state_dir=self.tree.state,
                                    lockout_attempts=2, **self.config))
        for _ in range(2):
            self.assertRc(self.login("000000"), PAM_AUTH_ERR)
        before = self.sts.requests()["total"]
        res = self.login()
        self.assertNotEqual(res.rc, PAM_SUCCESS)
        self.assertEqual(self.sts.requests()["total"], before,
                         "a locked user's code never goes to AWS")


class AuditNamesTheSession(StsCase):
    """The audit record of a login that obtained credentials names the
    temporary access key id and the STS request id the endpoint issued
    (what CloudTrail records), never the secret or the token."""

    def setUp(self):
        super().setUp()
        self.audit = os.path.join(self.tree.root, "audit.log")
        self.tree.write_config(dict(users_dir=self.tree.users,
                                    state_dir=self.tree.state,
                                    audit_log=self.audit, **self.config))

    def test_record_names_key_id_and_request_id(self):
        res = self.login()
        self.assertRc(res, PAM_SUCCESS)
        with open(self.audit) as f:
            text = f.read()
        rec = json.loads(text.splitlines()[-1])
        issued = [r for r in self.sts.requests()["requests"]
                  if r["action"] == "GetSessionToken"]
        self.assertEqual(len(issued), 1)
        self.assertEqual(rec["access_key_id"], res.env["AWS_ACCESS_KEY_ID"])
        self.assertEqual(rec["access_key_id"],
                         issued[0]["issued_access_key_id"])
        self.assertEqual(rec["request_id"], issued[0]["request_id"])
        self.assertTrue(rec["credentials"])
        # The syslog copy too, and no secret anywhere.
        self.assertIn(issued[0]["request_id"], res.log)
        for secret in (res.env["AWS_SECRET_ACCESS_KEY"],
                       res.env["AWS_SESSION_TOKEN"], self.iam.secret):
            self.assertNotIn(secret, text)
        self.assertNoSecrets(res)

    def test_refused_login_names_no_key(self):
        code = totp(self.iam.seed)
        self.assertRc(self.login("%06d" % ((int(code) + 1) % 1000000)),
                      PAM_AUTH_ERR)
        with open(self.audit) as f:
            rec = json.loads(f.read().splitlines()[-1])
        self.assertNotIn("access_key_id", rec)
        self.assertNotIn("request_id", rec)


class VerifyLocalThenSts(StsCase):
    verify = "local+sts"

    def test_both(self):
        res = self.login()
        self.assertRc(res, PAM_SUCCESS)
        self.assertIn("AWS_SESSION_TOKEN", res.env)

    def test_local_failure_never_calls_sts(self):
        res = self.login("000000")
        self.assertRc(res, PAM_AUTH_ERR)
        self.assertEqual(self.sts.requests()["total"], 0)

    def test_secure_denies_when_sts_down(self):
        self.sts.fault(fault="reset", count=1000)
        res = self.login()
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL)

    def test_seed_mismatch_with_aws(self):
        self.tree.enroll("alice", extra="access_key_id = %s\n"
                         "secret_access_key = %s\n" % (self.iam.key_id,
                                                       self.iam.secret))
        res = self.login(totp(self.tree.seeds["alice"]))
        self.assertRc(res, PAM_AUTH_ERR)
        self.assertIn("AWS refused", res.log)


    def test_refused_by_sts_is_no_success_for_grace(self):
        self.tree.enroll("alice", extra="access_key_id = %s\n"
                         "secret_access_key = %s\n" % (self.iam.key_id,
                                                       self.iam.secret))
        self.assertRc(self.login(totp(self.tree.seeds["alice"])),
                      PAM_AUTH_ERR)
        self.tree.service("sudo", ["auth required MODULE config=CONF grace=5"])
        res = self.tree.run("sudo", "alice", [])
        self.assertNotEqual(res.rc, PAM_SUCCESS)
        self.assertEqual(res.prompts, ["Verification code: "],
                         "a login STS refused is no proof for grace")

    def test_success_counts_for_grace(self):
        self.assertRc(self.login(), PAM_SUCCESS)
        self.tree.service("sudo", ["auth required MODULE config=CONF grace=5"])
        res = self.tree.run("sudo", "alice", [])
        self.assertRc(res, PAM_SUCCESS)
        self.assertEqual(res.prompts, [])


class FailSafe(StsCase):
    verify = "local+sts"
    extra_config = {"failmode": "safe"}

    def test_safe_lets_in_without_credentials(self):
        self.sts.fault(fault="reset", count=1000)
        res = self.login()
        self.assertRc(res, PAM_SUCCESS)
        self.assertNotIn("AWS_ACCESS_KEY_ID", res.env)
        self.assertIn("without AWS credentials", res.out)
        self.assertIn("failmode = safe", res.log)

    def test_safe_does_not_excuse_a_wrong_code(self):
        self.sts.fault(fault="reset", count=1000)
        self.assertRc(self.login("000000"), PAM_AUTH_ERR)


class Local(StsCase):
    verify = "local"

    def test_no_aws_call(self):
        res = self.login()
        self.assertRc(res, PAM_SUCCESS)
        self.assertNotIn("AWS_ACCESS_KEY_ID", res.env)
        self.assertEqual(self.sts.requests()["total"], 0)


class Tls(StsCase):
    tls = True

    def test_https_with_test_ca(self):
        res = self.login()
        self.assertRc(res, PAM_SUCCESS)
        out = caller_identity(self.sts.url, res.env, ca=self.sts.ca)
        self.assertEqual(out.returncode, 0, out.stderr)

    def system_store(self, with_ca):
        """A command prefix: pamtest in a private mount namespace whose
        /etc/ssl/certs holds an empty bundle file and, `with_ca', the test
        CA as a hashed link only (as update-ca-certificates makes it)."""
        h = subprocess.run(["openssl", "x509", "-hash", "-noout", "-in", self.sts.ca],
                           capture_output=True, text=True, check=True).stdout.strip()
        setup = "mount -t tmpfs -o mode=0755 tmpfs /etc/ssl/certs && " \
            ": > /etc/ssl/certs/ca-certificates.crt && "
        if with_ca:
            setup += "cp %s /etc/ssl/certs/%s.0 && " % (self.sts.ca, h)
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                setup + 'exec "$@"', "sh"]

    def test_https_system_store_read_as_a_directory(self):
        """No ca_file: the system's trust store, read as libcurl's hashed
        directory (OpenSSL reads the one certificate the chain names), not
        as the bundle file (OpenSSL 3 parses all of its certificates, in
        every process: about 200 M instructions on Debian).  Here the
        bundle is empty and the CA is only in the directory."""
        cfg = {k: v for k, v in self.config.items() if k != "ca_file"}
        self.tree.write_config(dict(users_dir=self.tree.users,
                                    state_dir=self.tree.state, **cfg))
        # With the CA in neither: refused, no credentials (the code not
        # spent: STS never answered).
        res = self.tree.run("awsmfa", "alice", [totp(self.iam.seed)], extra_args=["-E"],
                            prefix=self.system_store(False))
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL)
        self.assertIn("TLS", res.log)
        self.assertNotIn("AWS_SESSION_TOKEN", res.env)
        res = self.tree.run("awsmfa", "alice", [totp(self.iam.seed)], extra_args=["-E"],
                            prefix=self.system_store(True))
        self.assertRc(res, PAM_SUCCESS)
        self.assertIn("AWS_SESSION_TOKEN", res.env)

    def test_https_with_wrong_ca(self):
        cfg = dict(self.config)
        cfg["ca_file"] = "/etc/ssl/certs/ca-certificates.crt"
        self.tree.write_config(dict(users_dir=self.tree.users,
                                    state_dir=self.tree.state, **cfg))
        res = self.login()
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL)
        self.assertIn("TLS", res.log)


class StoreBase(StsCase):
    """A real account, and sessions that keep credentials in the store."""

    def setUp(self):
        self.pw = system_user("amfa-alice")
        super().setUp()
        self.tree.service("sess", ["auth required MODULE config=CONF",
                                   "session required pam_permit.so",
                                   "session optional MODULE config=CONF"])
        os.makedirs(self.tree.store, 0o755)
        self.iam_name = "alice"

    def enroll_alice(self, extra=""):
        keys = ("access_key_id = %s\nsecret_access_key = %s\n"
                % (self.iam.key_id, self.iam.secret))
        self.tree.enroll("amfa-alice", seed=self.iam.seed, extra=keys + extra,
                         iam_user="alice")
        text = open(self.tree.user_file("amfa-alice")).read()
        self.tree.write(self.tree.user_file("amfa-alice"),
                        text.replace("mfa/amfa-alice", "mfa/alice"), 0o600)

    def open_session(self, at=None):
        # Each session waits for a file of its own before it closes.
        # `at': the time of the code (default now).
        self.holds = getattr(self, "holds", 0) + 1
        hold = os.path.join(self.tree.root, "hold%d" % self.holds)
        p = self.tree.start("sess", "amfa-alice",
                            [totp(self.iam.seed, at=at)],
                            ["-S", "-H", hold])
        line = ""
        while not line.startswith("SESSION OPEN") and p.poll() is None:
            line = p.stdout.readline()
        self.assertEqual(line.strip(), "SESSION OPEN 0")
        return p, hold

    def close_session(self, p, hold):
        open(hold, "w").close()
        rc, out, log = self.tree.finish(p)
        self.assertIn("SESSION CLOSE 0", out)
        return rc, out, log

    def user_dir(self):
        return os.path.join(self.tree.store, str(self.pw.pw_uid))



class Store(StoreBase):
    """The session's credential store and credential_process."""

    def test_store_lifecycle_and_credential_process(self):
        p, hold = self.open_session()
        d = self.user_dir()
        st = os.stat(d, follow_symlinks=False)
        self.assertTrue(stat.S_ISDIR(st.st_mode))
        self.assertEqual((st.st_uid, st.st_mode & 0o777),
                         (self.pw.pw_uid, 0o700))
        f = os.path.join(d, "credentials.json")
        st = os.stat(f, follow_symlinks=False)
        self.assertEqual((st.st_uid, st.st_mode & 0o777),
                         (self.pw.pw_uid, 0o600))
        out = run_as(self.pw, [CREDS_PROGRAM, "--store-dir", self.tree.store])
        self.assertEqual(out.returncode, 0, out.stderr)
        doc = json.loads(out.stdout)
        self.assertEqual(doc["Version"], 1)
        self.assertTrue(doc["AccessKeyId"].startswith("ASIA"))
        # The real AWS CLI through credential_process, as the user.
        cfg = os.path.join(self.pw.pw_dir, "aws-config")
        with open(cfg, "w") as fh:
            fh.write("[profile mfa]\ncredential_process = %s --store-dir %s\n"
                     % (CREDS_PROGRAM, self.tree.store))
        os.chown(cfg, self.pw.pw_uid, self.pw.pw_gid)
        out = run_as(self.pw, [AWS_CLI, "sts", "get-caller-identity",
                               "--profile", "mfa", "--endpoint-url",
                               self.sts.url, "--region", "us-east-1"],
                     env={"AWS_CONFIG_FILE": cfg,
                          "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
                          "AWS_MAX_ATTEMPTS": "1", "AWS_PAGER": ""},
                     timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(json.loads(out.stdout)["Arn"], self.iam.arn)
        # Another user cannot read it.
        other = system_user("amfa-bob")
        out = run_as(other, ["cat", f])
        self.assertNotEqual(out.returncode, 0)
        self.close_session(p, hold)
        self.assertFalse(os.path.exists(d), "store removed at last close")

    def test_store_survives_until_last_session(self):
        p1, h1 = self.open_session()
        # The second login needs a code not used yet: the next step's,
        # good now (window = 1, here and at STS), instead of a wait of up
        # to 30 s for the next step.  (setUp waited for a fresh step: the
        # first code's step is still the current one.)
        p2, h2 = self.open_session(at=time.time() + 30)
        self.close_session(p1, h1)
        self.assertTrue(os.path.exists(os.path.join(self.user_dir(),
                                                    "credentials.json")))
        self.close_session(p2, h2)
        self.assertFalse(os.path.exists(self.user_dir()))

    def test_expired_credentials_refused_by_creds_program(self):
        p, hold = self.open_session()
        f = os.path.join(self.user_dir(), "credentials.json")
        doc = json.load(open(f))
        doc["Expiration"] = "2020-01-01T00:00:00Z"
        run_as(self.pw, ["sh", "-c", "umask 077 && cat > %s.new && mv %s.new %s"
                         % (f, f, f)], input=json.dumps(doc))
        out = run_as(self.pw, [CREDS_PROGRAM, "--store-dir", self.tree.store])
        self.assertEqual(out.returncode, 1)
        self.assertIn("expired at 2020-01-01T00:00:00Z", out.stderr)
        self.assertEqual(out.stdout, "")
        self.close_session(p, hold)

    def test_symlink_planted_at_store(self):
        victim = os.path.join(self.tree.root, "victim")
        os.makedirs(victim, 0o700)
        os.symlink(victim, self.user_dir())
        hold = os.path.join(self.tree.root, "hold")
        p = self.tree.start("sess", "amfa-alice", [totp(self.iam.seed)],
                            ["-S", "-H", hold])
        open(hold, "w").close()
        rc, out, log = self.tree.finish(p)
        self.assertIn("not the user's 0700 directory", log)
        self.assertEqual(os.listdir(victim), [])
        self.assertEqual(os.stat(victim).st_uid, 0, "not chowned")

    def test_symlink_planted_at_credentials_file(self):
        d = self.user_dir()
        os.makedirs(d, 0o700)
        os.chown(d, self.pw.pw_uid, self.pw.pw_gid)
        victim = os.path.join(self.tree.root, "victim-file")
        with open(victim, "w") as fh:
            fh.write("precious\n")
        os.symlink(victim, os.path.join(d, "credentials.json"))
        p, hold = self.open_session()
        with open(victim) as fh:
            self.assertEqual(fh.read(), "precious\n")
        self.assertFalse(os.path.islink(os.path.join(d, "credentials.json")),
                         "replaced by rename, not written through")
        self.close_session(p, hold)


ROLE_ACCOUNT = "210987654321"
PROD = "arn:aws:iam::%s:role/prod" % ROLE_ACCOUNT
VENDOR = "arn:aws:iam::%s:role/vendor" % ROLE_ACCOUNT
UNTRUSTED = "arn:aws:iam::%s:role/audit" % ROLE_ACCOUNT
ROLE_LINES = ("role = prod %s duration=3600 region=eu-west-1\n"
              "role = vendor %s external_id=vendor-4711\n"
              "role = audit %s\n" % (PROD, VENDOR, UNTRUSTED))


class Roles(StoreBase):
    """awsmfa-creds --role: AssumeRole with the MFA session, the cache, the
    real AWS CLI through credential_process, the audit trail."""

    def setUp(self):
        super().setUp()
        self.sts.roles = [role_record(PROD, [self.iam]),
                          role_record(VENDOR, [self.iam],
                                      external_id="vendor-4711"),
                          role_record(UNTRUSTED, [])]
        self.sts.write_db()
        self.session = self.open_session()
        self.cfg = os.path.join(self.pw.pw_dir, "aws-config")

    def enroll_alice(self, extra=""):
        super().enroll_alice(ROLE_LINES + extra)

    def tearDown(self):
        if getattr(self, "session", None):
            self.close_session(*self.session)

    def creds(self, *args):
        return run_as(self.pw, [CREDS_PROGRAM, "--store-dir", self.tree.store]
                      + list(args), timeout=60)

    def cli(self, profile="prod"):
        with open(self.cfg, "w") as fh:
            fh.write("[profile prod]\ncredential_process = %s --store-dir %s "
                     "--role prod\n" % (CREDS_PROGRAM, self.tree.store))
        os.chown(self.cfg, self.pw.pw_uid, self.pw.pw_gid)
        return run_as(self.pw, [AWS_CLI, "sts", "get-caller-identity",
                                "--profile", profile, "--endpoint-url",
                                self.sts.url, "--region", "us-east-1"],
                      env={"AWS_CONFIG_FILE": self.cfg,
                           "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
                           "AWS_MAX_ATTEMPTS": "1", "AWS_PAGER": ""},
                      timeout=60)

    def calls(self):
        return self.sts.assume_role_calls()

    def cache(self, name="prod"):
        return os.path.join(self.user_dir(), "role-%s.json" % name)

    def as_user_write(self, path, text):
        out = run_as(self.pw, ["sh", "-c", "umask 077 && cat > %s.new && "
                               "mv -f %s.new %s" % (path, path, path)],
                     input=text)
        self.assertEqual(out.returncode, 0, out.stderr)

    def assumed(self):
        return "arn:aws:sts::%s:assumed-role/prod/alice" % ROLE_ACCOUNT

    def test_roles_file_is_the_users_alone(self):
        f = os.path.join(self.tree.store, "%d.roles" % self.pw.pw_uid)
        st = os.stat(f, follow_symlinks=False)
        self.assertEqual((st.st_uid, st.st_gid, st.st_mode & 0o777),
                         (self.pw.pw_uid, 0, 0o400))
        doc = json.load(open(f))
        self.assertEqual([r["name"] for r in doc["roles"]],
                         ["prod", "vendor", "audit"])
        self.assertEqual(doc["iam_user"], "alice")
        # Another user of the same primary group (a shared `users') cannot
        # read it.
        mate = subprocess.run(["cat", f], user=65534, group=self.pw.pw_gid,
                              extra_groups=[], capture_output=True,
                              text=True, cwd="/")
        self.assertNotEqual(mate.returncode, 0, "a group member read it")
        self.assertNotIn("vendor-4711", mate.stdout)
        # The user reads it, but can neither write it as it is nor replace
        # or remove it.
        out = run_as(self.pw, ["cat", f])
        self.assertEqual(out.returncode, 0, out.stderr)
        out = run_as(self.pw, ["sh", "-c", "echo '{}' > %s" % f])
        self.assertNotEqual(out.returncode, 0)
        out = run_as(self.pw, ["mv", f, f + ".x"])
        self.assertNotEqual(out.returncode, 0)
        out = run_as(self.pw, ["rm", "-f", f])
        self.assertNotEqual(out.returncode, 0)
        out = self.creds("--print-config")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("[profile prod]\n# %s\ncredential_process = %s "
                      "--store-dir %s --role prod\nregion = eu-west-1\n"
                      % (PROD, CREDS_PROGRAM, self.tree.store), out.stdout)
        self.assertIn("[profile audit]", out.stdout)
        self.assertNotIn("vendor-4711", out.stdout)

    def test_roles_file_others_may_read_is_refused(self):
        # As an earlier version wrote it: root's, 0640 to the user's group.
        f = os.path.join(self.tree.store, "%d.roles" % self.pw.pw_uid)
        os.chown(f, 0, self.pw.pw_gid)
        os.chmod(f, 0o640)
        out = self.creds("--role", "prod")
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("log in again", out.stderr)
        self.assertEqual(self.calls(), [])
        os.chown(f, self.pw.pw_uid, 0)
        os.chmod(f, 0o440)
        self.assertNotEqual(self.creds("--role", "prod").returncode, 0)

    def test_cli_cache_renewal_and_expiry(self):
        out = self.cli()
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(json.loads(out.stdout)["Arn"], self.assumed())
        calls = self.calls()
        self.assertEqual(len(calls), 1)
        self.assertEqual((calls[0]["role_arn"], calls[0]["source_identity"],
                          calls[0]["role_session_name"]),
                         (PROD, "alice", "alice"))
        st = os.stat(self.cache(), follow_symlinks=False)
        self.assertEqual((st.st_uid, st.st_mode & 0o777),
                         (self.pw.pw_uid, 0o600))
        # Again: from the cache, no new call.
        out = self.cli()
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(len(self.calls()), 1)
        # Credentials about to expire (the fixture issues 5-minute ones):
        # the next call renews them.
        self.sts.control(role_lifetime=300)
        os.unlink(self.cache())
        out = self.creds("--role", "prod")
        self.assertEqual(out.returncode, 0, out.stderr)
        short = json.loads(out.stdout)["AccessKeyId"]
        self.assertEqual(len(self.calls()), 2)
        self.sts.control(role_lifetime=None)
        out = self.cli()
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(json.loads(out.stdout)["Arn"], self.assumed())
        calls = self.calls()
        self.assertEqual(len(calls), 3)
        self.assertNotEqual(calls[2]["issued_access_key_id"], short)
        self.assertEqual(json.load(open(self.cache()))["AccessKeyId"],
                         calls[2]["issued_access_key_id"])
        # After the MFA session's expiry: the clear message, nothing
        # served, not even the cached role credentials.
        f = os.path.join(self.user_dir(), "credentials.json")
        doc = json.load(open(f))
        doc["Expiration"] = "2020-01-01T00:00:00Z"
        self.as_user_write(f, json.dumps(doc))
        out = self.cli()
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("expired at 2020-01-01T00:00:00Z; log in again with "
                      "MFA", out.stderr)
        self.assertEqual(len(self.calls()), 3)

    def test_ten_at_once_make_one_call(self):
        procs = [subprocess.Popen(
            [CREDS_PROGRAM, "--store-dir", self.tree.store, "--role", "prod"],
            user=self.pw.pw_uid, group=self.pw.pw_gid, extra_groups=[],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={"PATH": "/usr/bin:/bin"}, cwd="/") for _ in range(10)]
        outs = [p.communicate(timeout=60) for p in procs]
        for p, (o, e) in zip(procs, outs):
            self.assertEqual(p.returncode, 0, e)
        keys = {json.loads(o)["AccessKeyId"] for o, _ in outs}
        self.assertEqual(len(keys), 1)
        self.assertEqual(len(self.calls()), 1)

    def test_role_not_listed(self):
        out = self.creds("--role", "staging")
        self.assertEqual(out.returncode, 1)
        self.assertIn("staging is not one of your roles", out.stderr)
        self.assertEqual(out.stdout, "")
        self.assertEqual(self.calls(), [])

    def test_audit_records_and_no_secrets(self):
        out = self.creds("--role", "prod")
        self.assertEqual(out.returncode, 0, out.stderr)
        issued = json.loads(out.stdout)
        recs = [json.loads(l.split("audit ", 1)[1])
                for l in out.stderr.splitlines() if " audit {" in l]
        self.assertEqual(len(recs), 1)
        rec, call = recs[0], self.calls()[0]
        session = json.load(open(os.path.join(self.user_dir(),
                                              "credentials.json")))
        self.assertEqual((rec["event"], rec["result"], rec["role"],
                          rec["role_arn"], rec["source_identity"]),
                         ("assume_role", "ok", "prod", PROD, "alice"))
        self.assertEqual(rec["access_key_id"], issued["AccessKeyId"])
        self.assertEqual(rec["access_key_id"], call["issued_access_key_id"])
        self.assertEqual(rec["request_id"], call["request_id"])
        self.assertEqual(rec["session_access_key_id"],
                         call["caller_access_key_id"])
        self.assertEqual(rec["session_access_key_id"], session["AccessKeyId"])
        self.assertEqual(rec["assumed_role_arn"], self.assumed())
        # A refusal: AWS's words, the role named, recorded with its id.
        bad = self.creds("--role", "audit")
        self.assertEqual(bad.returncode, 1)
        self.assertIn("role audit (%s): AWS refused: AccessDenied: User: "
                      "%s is not authorized to perform: sts:AssumeRole on "
                      "resource: %s" % (UNTRUSTED, self.iam.arn, UNTRUSTED),
                      bad.stderr)
        denied = [json.loads(l.split("audit ", 1)[1])
                  for l in bad.stderr.splitlines() if " audit {" in l][0]
        self.assertEqual((denied["result"], denied["aws_code"],
                          denied["request_id"]),
                         ("denied", "AccessDenied", self.calls()[-1]["request_id"]))
        vendor = self.creds("--role", "vendor")
        self.assertEqual(vendor.returncode, 0, vendor.stderr)
        texts = [out.stderr, bad.stderr, vendor.stderr, self.sts.server_log()]
        for secret in (issued["SecretAccessKey"], issued["SessionToken"],
                       session["SecretAccessKey"], session["SessionToken"],
                       self.iam.secret, "vendor-4711"):
            for t in texts:
                self.assertNotIn(secret, t)

    def test_expired_token_and_throttling(self):
        self.sts.fault(fault="throttle", count=2, action="AssumeRole")
        out = self.creds("--role", "prod")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(self.sts.requests()["by_action"]["AssumeRole"], 3)
        os.unlink(self.cache())
        self.sts.fault(expire_sessions=True)
        out = self.creds("--role", "prod")
        self.assertEqual(out.returncode, 1)
        self.assertIn("AWS no longer accepts the MFA session (ExpiredToken: "
                      "The security token included in the request is "
                      "expired); log in again with MFA", out.stderr)
        self.assertEqual(out.stdout, "")

    def test_tampered_cache_not_served(self):
        out = self.creds("--role", "prod")
        self.assertEqual(out.returncode, 0, out.stderr)
        good = json.load(open(self.cache()))
        cases = [
            ("another role", dict(good, RoleArn=VENDOR), "another role"),
            ("not JSON", "{", "not JSON"),
            ("token with a newline", dict(good, SessionToken="a\nb"),
             "malformed"),
            ("bad expiration", dict(good, Expiration="soon"),
             "Expiration"),
            ("foreign key id", dict(good, AccessKeyId="ASIA-../x"),
             "malformed"),
        ]
        for name, doc, why in cases:
            with self.subTest(name):
                text = doc if isinstance(doc, str) else json.dumps(doc)
                self.as_user_write(self.cache(), text)
                before = len(self.calls())
                out = self.creds("--role", "prod")
                self.assertEqual(out.returncode, 0, out.stderr)
                self.assertIn("not used", out.stderr)
                self.assertIn(why, out.stderr)
                self.assertEqual(len(self.calls()), before + 1)
                self.assertEqual(json.loads(out.stdout)["AccessKeyId"],
                                 self.calls()[-1]["issued_access_key_id"])
        # Readable by others: not used either.
        os.chmod(self.cache(), 0o644)
        out = self.creds("--role", "prod")
        self.assertIn("not used", out.stderr)
        self.assertEqual(os.stat(self.cache()).st_mode & 0o777, 0o600)

    def test_cache_planted_as_link(self):
        out = self.creds("--role", "prod")
        good = open(self.cache()).read()
        victim = os.path.join(self.pw.pw_dir, "victim.json")
        self.as_user_write(victim, good)
        os.unlink(self.cache())
        os.symlink(victim, self.cache())
        before = len(self.calls())
        out = self.creds("--role", "prod")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("not used", out.stderr)
        self.assertEqual(len(self.calls()), before + 1, "the link's "
                         "target was not served")
        self.assertFalse(os.path.islink(self.cache()))
        self.assertEqual(open(victim).read(), good, "not written through")

    def test_last_close_removes_roles_and_caches(self):
        self.assertEqual(self.creds("--role", "prod").returncode, 0)
        self.close_session(*self.session)
        self.session = None
        self.assertFalse(os.path.exists(self.user_dir()))
        self.assertFalse(os.path.exists(os.path.join(
            self.tree.store, "%d.roles" % self.pw.pw_uid)))


class Profile(StsCase):
    """aws_profile: the user's own ~/.aws, read as the user."""

    def setUp(self):
        self.pw = system_user("amfa-carol")
        super().setUp()

    def enroll_alice(self, extra=""):
        self.tree.enroll("amfa-carol", seed=self.iam.seed,
                         extra="aws_profile = work\n" + extra,
                         iam_user="alice")
        aws = os.path.join(self.pw.pw_dir, ".aws")
        # Fresh files: a link left by an earlier (killed) run must not be
        # written through.
        shutil.rmtree(aws, ignore_errors=True)
        os.makedirs(aws, 0o700)
        with open(os.path.join(aws, "credentials"), "w") as fh:
            fh.write("[default]\naws_access_key_id = AKIAWRONGWRONGWRONG1\n"
                     "aws_secret_access_key = nope\n\n[work]\n"
                     "aws_access_key_id = %s\naws_secret_access_key = %s\n"
                     % (self.iam.key_id, self.iam.secret))
        with open(os.path.join(aws, "config"), "w") as fh:
            fh.write("[profile work]\nregion = us-east-1\nmfa_serial = %s\n"
                     % self.iam.serial)
        for f in (aws, os.path.join(aws, "credentials"),
                  os.path.join(aws, "config")):
            os.chown(f, self.pw.pw_uid, self.pw.pw_gid)
            os.chmod(f, 0o600 if os.path.isfile(f) else 0o700)

    def test_profile_login(self):
        res = self.login(user="amfa-carol")
        self.assertRc(res, PAM_SUCCESS)
        out = caller_identity(self.sts.url, res.env)
        self.assertEqual(json.loads(out.stdout)["Arn"], self.iam.arn)
        self.assertNoSecrets(res)

    def test_serial_only_from_the_user_file(self):
        # ~/.aws/config names a device, root's file none: the user's own
        # files do not choose the device that proves them.
        path = self.tree.user_file("amfa-carol")
        with open(path) as f:
            text = "".join(l for l in f if not l.startswith("mfa_serial"))
        self.tree.write(path, text, 0o600)
        res = self.login(user="amfa-carol")
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL)
        self.assertIn("needs mfa_serial", res.log)
        self.assertEqual(self.sts.requests()["total"], 0)

    def test_symlinked_credentials_refused(self):
        creds = os.path.join(self.pw.pw_dir, ".aws", "credentials")
        os.rename(creds, creds + ".real")
        os.symlink(creds + ".real", creds)
        res = self.login(user="amfa-carol")
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL)
        self.assertEqual(self.sts.requests()["total"], 0)

    def test_credentials_owned_by_someone_else(self):
        creds = os.path.join(self.pw.pw_dir, ".aws", "credentials")
        os.chown(creds, 0, 0)
        res = self.login(user="amfa-carol")
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL)

    def test_read_as_the_user(self):
        # Root could read a 0000 file; the user cannot: proof of the drop.
        creds = os.path.join(self.pw.pw_dir, ".aws", "credentials")
        os.chmod(creds, 0)
        res = self.login(user="amfa-carol")
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL)


def tearDownModule():
    remove_system_users()


if __name__ == "__main__":
    require_root()
    unittest.main(verbosity=2)
