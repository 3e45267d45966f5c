"""Secrets: logins with `debug' on (TOTP local, sts, local+sts; right,
wrong and replayed codes; a session opened and closed) leave the seed, the
codes typed and the long-term secret key nowhere: not in any log line, not
in the argv or environment of any process of the transaction (every execve
is traced, and the live processes are read from /proc while the session is
held), not in the state or the credential store."""

import base64
import os
import subprocess
import time
import unittest
import urllib.parse

from amfa_testlib import (PAMTEST, PAM_SUCCESS, PamTestCase,
                          remove_system_users, require_root, system_user,
                          totp, wait_fresh_step)
from sts_process import IamUser, StsServer

USER = "amfa-hd-secret"


def forms(secret):
    """The ways a secret could show up: as given, in other cases, URL- and
    base64-encoded, and (for a base32 seed) the key bytes in hex."""
    out = {secret, secret.lower(), secret.upper(),
           urllib.parse.quote(secret, safe=""),
           base64.b64encode(secret.encode()).decode()}
    try:
        key = base64.b32decode(secret + "=" * (-len(secret) % 8))
        out |= {key.hex(), key.hex().upper(),
                base64.b64encode(key).decode()}
    except Exception:
        pass
    return {s for s in out if len(s) >= 6}


def children(pid):
    """pid and all its descendants, from /proc."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += kids.get(p, [])
    return out


class Secrets(PamTestCase):
    verify = "local"

    def setUp(self):
        self.pw = system_user(USER)
        self.iam = IamUser("alice")
        self.sts = StsServer([self.iam])
        self.addCleanup(self.sts.stop)
        self.config = {"verify": self.verify, "sts_endpoint": self.sts.url,
                       "sts_timeout": 5, "lockout_attempts": 100}
        super().setUp()
        self.store = os.path.join(self.tree.root, "run")
        os.makedirs(self.store, 0o755)
        self.tree.write_config(dict(users_dir=self.tree.users,
                                    state_dir=self.tree.state,
                                    store_dir=self.store, **self.config))
        self.tree.write(self.tree.user_file(USER),
                        "iam_user = alice\nmfa_serial = %s\n"
                        "totp_secret = %s\naccess_key_id = %s\n"
                        "secret_access_key = %s\n"
                        % (self.iam.serial, self.iam.seed, self.iam.key_id,
                           self.iam.secret), 0o600)
        self.tree.service("dbg", ["auth required MODULE config=CONF debug",
                                  "session required pam_permit.so",
                                  "session optional MODULE config=CONF "
                                  "debug"])
        self.seen = []          # (where, text)
        self.typed = []

    def transaction(self, code, session):
        """One login (and session) under strace, held open while /proc is
        read.  Returns pamtest's output."""
        self.typed.append(code)
        trace = os.path.join(self.tree.root, "trace.%d" % len(self.typed))
        hold = os.path.join(self.tree.root, "hold")
        if os.path.exists(hold):
            os.unlink(hold)
        args = ["strace", "-f", "-qq", "-v", "-s", "65536", "-e",
                "trace=execve,execveat", "-o", trace, PAMTEST, "-E"]
        if session:
            args += ["-S", "-H", hold]
        # LeakSanitizer cannot run under ptrace (sanitizer builds).
        env = dict(os.environ)
        env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") +
                               ":detect_leaks=0").lstrip(":")
        p = subprocess.Popen(args + [self.tree.pamd, "dbg", USER],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env)
        p.stdin.write(code + "\n")
        p.stdin.close()
        out = []
        while True:
            line = p.stdout.readline()
            if not line:
                break
            out.append(line)
            if line.startswith("SESSION OPEN") or line.startswith("RESULT") \
                    and not session:
                self.read_proc(p.pid)
                if line.startswith("SESSION OPEN"):
                    self.read_files("during the session")
                    open(hold, "w").close()
        p.wait(timeout=60)
        log = p.stderr.read()
        p.stdout.close()
        p.stderr.close()
        self.seen.append(("log", log))
        with open(trace, encoding="utf-8", errors="replace") as f:
            self.seen.append(("execve trace (argv, env)", f.read()))
        self.read_files("after")
        return "".join(out), log

    def read_proc(self, pid):
        for q in children(pid):
            for what in ("environ", "cmdline"):
                try:
                    with open("/proc/%d/%s" % (q, what), "rb") as f:
                        text = f.read().decode("utf-8", "replace")
                except OSError:
                    continue
                self.seen.append(("/proc/%d/%s" % (q, what), text))

    def read_files(self, when):
        for top in (self.tree.state, self.store):
            for d, _, files in os.walk(top):
                for name in files:
                    p = os.path.join(d, name)
                    try:
                        with open(p, encoding="utf-8",
                                  errors="replace") as f:
                            self.seen.append(("%s (%s)" % (p, when),
                                              f.read()))
                    except OSError:
                        pass

    def assertNothingLeaked(self):
        secrets = {"seed": forms(self.iam.seed),
                   "long-term secret key": forms(self.iam.secret)}
        for i, c in enumerate(self.typed):
            if len(c) >= 6:
                secrets["typed code %d" % i] = {c}
        self.assertGreater(len(self.seen), 5)
        for where, text in self.seen:
            for name, variants in secrets.items():
                for v in variants:
                    self.assertNotIn(v, text, "%s found in %s" % (name,
                                                                  where))

    def run_logins(self):
        wait_fresh_step(margin=10)
        code = totp(self.iam.seed)
        out, log = self.transaction(code, session=True)
        self.assertIn("RESULT 0", out, log)
        self.assertIn("SESSION OPEN 0", out)
        self.assertIn("authenticate: Success", log, "debug is on")
        # Replayed, wrong, and malformed codes.
        self.transaction(code, session=False)
        wrong = "%06d" % ((int(code) + 123457) % 1000000)
        self.transaction(wrong, session=False)
        self.transaction("98765x", session=False)
        self.assertNothingLeaked()
        return out

    def test_logins(self):
        self.run_logins()


class SecretsSts(Secrets):
    verify = "sts"

    def test_logins(self):
        out = self.run_logins()
        self.assertIn("ENV AWS_SESSION_TOKEN=", out)
        self.assertGreaterEqual(self.sts.requests()["total"], 3)


class SecretsBoth(Secrets):
    verify = "local+sts"

    def test_logins(self):
        out = self.run_logins()
        self.assertIn("ENV AWS_SESSION_TOKEN=", out)


class DebugSaysMore(Secrets):
    """The harness can fail: a secret that is in a log is found."""

    def test_detector(self):
        self.seen.append(("log", "x " + self.iam.seed.lower() + " y"))
        with self.assertRaises(AssertionError):
            self.assertNothingLeaked()
        self.seen[:] = [("log", "key %s" % base64.b32decode(
            self.iam.seed + "=" * (-len(self.iam.seed) % 8)).hex())]
        with self.assertRaises(AssertionError):
            self.assertNothingLeaked()

    def test_logins(self):
        pass


def tearDownModule():
    remove_system_users()


if __name__ == "__main__":
    require_root()
    unittest.main(verbosity=2)
