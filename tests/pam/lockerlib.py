"""What the screen locker tests share: an enrolled account with a long-term
key in its ~/.aws (verify = local+sts against the local STS fixture), a
set-user-ID root copy of awsmfa-chkcode (the test build, which reads its
configuration from AMFA_CHKCODE_TEST_CONFIG, a path the test owns), a login
session held open by root (pamtest -S) so that the user has a credential
store, the audit log and the state file to read."""

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

from amfa_testlib import (CREDS_PROGRAM, PAMTEST, PamTestCase, read_state,
                          system_user, totp, wait_fresh_step)
from sts_process import IamUser, StsServer

CHKCODE = os.environ.get("AMFA_CHKCODE_TEST", "")
CHKCODE_CONFIG = os.environ.get("AMFA_CHKCODE_TEST_CONFIG", "")
USER = "amfa-lock"
OTHER = "amfa-lock2"
LOCKOUT = 3


def wait_until(what, pred, timeout=120, every=0.1):
    """Poll `pred' until true; fail with `what' after `timeout' (generous:
    a loaded machine under AddressSanitizer)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(every)
    raise AssertionError("timed out waiting for " + what)


class LockerCase(PamTestCase):
    lockout = LOCKOUT

    def setUp(self):
        self.iam = IamUser("lockuser")
        self.sts = StsServer([self.iam])
        self.addCleanup(self.sts.stop)
        super().setUp()
        self.user = system_user(USER)
        self.other = system_user(OTHER)
        self.store = os.path.join(self.tree.root, "run")
        self.audit = os.path.join(self.tree.root, "audit.log")
        self.tree.write_config({"users_dir": self.tree.users,
                                "state_dir": self.tree.state,
                                "verify": "local+sts",
                                "failmode": "secure",
                                "sts_endpoint": self.sts.url,
                                "store_dir": self.store,
                                "audit_log": self.audit,
                                "lockout_attempts": str(self.lockout),
                                "lockout_seconds": "600"})
        self.tree.enroll(USER, seed=self.iam.seed,
                         extra="aws_profile = default\n", iam_user="lockuser")
        self.other_seed = self.tree.enroll(OTHER)
        self.aws_dir(self.user, self.iam)
        # The checker's configuration: the tree's, at the path it reads.
        cdir = os.path.dirname(CHKCODE_CONFIG)
        os.makedirs(cdir, 0o755, exist_ok=True)
        shutil.copy(self.tree.conf, CHKCODE_CONFIG)
        os.chmod(CHKCODE_CONFIG, 0o644)
        self.addCleanup(shutil.rmtree, cdir, True)
        # The set-user-ID copy.
        self.bindir = tempfile.mkdtemp(prefix="amfa-chkcode-")
        self.addCleanup(shutil.rmtree, self.bindir, True)
        os.chmod(self.bindir, 0o755)
        self.chkcode = os.path.join(self.bindir, "awsmfa-chkcode")
        shutil.copy(CHKCODE, self.chkcode)
        os.chown(self.chkcode, 0, 0)
        os.chmod(self.chkcode, 0o4755)
        for p in (self.tree.root, self.tree.etc):
            os.chmod(p, 0o755)
        self.tree.service("login", [
            "auth required MODULE config=CONF",
            "session required MODULE config=CONF"])
        self.tree.service("locker", [
            "auth required MODULE config=CONF chkcode=%s" % self.chkcode])
        self.session = None

    @staticmethod
    def aws_dir(pw, iam):
        aws = os.path.join(pw.pw_dir, ".aws")
        os.makedirs(aws, 0o700, exist_ok=True)
        with open(os.path.join(aws, "credentials"), "w") as f:
            f.write("[default]\naws_access_key_id = %s\n"
                    "aws_secret_access_key = %s\n" % (iam.key_id, iam.secret))
        for p in (aws, os.path.join(aws, "credentials")):
            os.chown(p, pw.pw_uid, pw.pw_gid)
            os.chmod(p, 0o700 if os.path.isdir(p) else 0o600)

    # -- the login session --------------------------------------------------

    def login(self):
        """A root login with the previous step's code, its session held
        open (the store stays); returns the session's access key id."""
        wait_fresh_step(margin=10)
        code = totp(self.iam.seed, at=time.time() - 30)
        hold = os.path.join(self.tree.root, "hold")
        p = subprocess.Popen([PAMTEST, "-S", "-H", hold, self.tree.pamd,
                              "login", USER], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        p.stdin.write(code + "\n")
        p.stdin.close()
        self.session = (p, hold)
        self.addCleanup(self.logout)
        line = wait_until("the login session", lambda: self._open_line(p))
        self.assertIn("SESSION OPEN 0", line)
        return self.store_key()

    @staticmethod
    def _open_line(p):
        line = p.stdout.readline()
        if line.startswith("SESSION OPEN") or not line:
            return line or "EOF"
        return None

    def logout(self):
        if self.session is None:
            return
        p, hold = self.session
        self.session = None
        open(hold, "w").close()
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        p.stdout.close()
        p.stderr.close()

    def store_file(self):
        return os.path.join(self.store, str(self.user.pw_uid),
                            "credentials.json")

    def store_key(self):
        with open(self.store_file()) as f:
            return json.load(f)["AccessKeyId"]

    # -- what was recorded ----------------------------------------------------

    def audit_records(self, user=USER):
        try:
            with open(self.audit) as f:
                recs = [json.loads(l) for l in f if l.strip()]
        except FileNotFoundError:
            return []
        return [r for r in recs if r.get("user") == user]

    def failures(self, user=USER):
        text = read_state(self.tree.state_file(user)) or ""
        m = re.search(r"^failures ([0-9]+)$", text, re.M)
        return int(m.group(1)) if m else 0

    def locked(self, user=USER):
        text = read_state(self.tree.state_file(user)) or ""
        m = re.search(r"^locked_until ([0-9]+)$", text, re.M)
        return bool(m) and int(m.group(1)) > time.time()

    # -- the user's side ------------------------------------------------------

    def as_user(self, args, pw=None, **kw):
        pw = pw or self.user
        env = {"HOME": pw.pw_dir, "USER": pw.pw_name, "LOGNAME": pw.pw_name,
               "PATH": "/usr/local/bin:/usr/bin:/bin"}
        env.update(kw.pop("env", {}))
        return subprocess.run(args, env=env, user=pw.pw_uid, group=pw.pw_gid,
                              extra_groups=[], capture_output=True,
                              text=True, cwd="/", timeout=kw.pop("timeout",
                                                                 120), **kw)

    def pam_as_user(self, code, flags=("-F",), service="locker", pw=None):
        """pamtest as the user: a locker's transaction (authenticate, then
        pam_setcred PAM_REFRESH_CRED with -F)."""
        return self.as_user([PAMTEST] + list(flags) +
                            [self.tree.pamd, service, (pw or self.user)
                             .pw_name], pw=pw, input=code + "\n")

    def check_as(self, pw, user, code, pre=(), **kw):
        """The checker run by hand by `pw' for `user'."""
        return self.as_user(list(pre) + [self.chkcode, "check", user,
                                         "test"], pw=pw, input=code + "\n",
                            **kw)

    def aws_identity_key(self):
        """aws sts get-caller-identity through credential_process as the
        user: the access key the call was signed with, per the fixture."""
        cfg = os.path.join(self.user.pw_dir, ".aws", "config")
        with open(cfg, "w") as f:
            f.write("[profile mfa]\ncredential_process = %s --store-dir %s\n"
                    "region = us-east-1\n" % (CREDS_PROGRAM, self.store))
        os.chown(cfg, self.user.pw_uid, self.user.pw_gid)
        before = max([r["seq"] for r in self.sts.requests()["requests"]] or
                     [0])
        res = self.as_user(["/usr/bin/aws", "sts", "get-caller-identity",
                            "--profile", "mfa", "--endpoint-url",
                            self.sts.url, "--output", "json"],
                           env={"AWS_PAGER": "", "AWS_MAX_ATTEMPTS": "1",
                                "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"})
        self.assertEqual(res.returncode, 0, res.stderr)
        calls = [r for r in self.sts.requests()["requests"]
                 if r["action"] == "GetCallerIdentity" and
                 r["seq"] > before]
        self.assertEqual(len(calls), 1, calls)
        return calls[0]["caller_access_key_id"]


def kill_quietly(p):
    if p.poll() is None:
        p.send_signal(signal.SIGKILL)
    p.wait()
