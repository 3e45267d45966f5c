"""The workstation use end to end: the real `su -l` under a pseudo-terminal,
with the shipped config/pam.d/login snippet as its stack, for a user whose
long-term key is in their own ~/.aws/credentials (aws_profile).  The shell
that su starts must have working AWS credentials (the real AWS CLI calls the
local STS endpoint with them).

su reads /etc/pam.d/su-l: the test replaces it for its run and puts the
original back (this is why the suite runs on throwaway machines as root)."""

import json
import os
import sys
import re
import shutil
import subprocess
import unittest

import pexpect

from amfa_testlib import (AWS_CLI, MODULE, PamTestCase, remove_system_users,
                          require_root, sanitizer_build, system_user, totp,
                          wait_fresh_step)
from sts_process import IamUser, StsServer

SNIPPET = os.path.join(os.environ.get("AMFA_SOURCE_ROOT", "."), "config",
                       "pam.d", "login")
PAM_FILE = "/etc/pam.d/su-l"
PASSWORD = "Corr3ct-Horse"


def snippet_lines(conf):
    """The shipped snippet, pointed at the built module and test config."""
    lines = []
    with open(SNIPPET) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            lines.append(line.replace("pam_awsmfa.so",
                                      "%s config=%s" % (MODULE, conf)))
    return lines


class WorkstationSu(PamTestCase):
    def setUp(self):
        self.iam = IamUser("dave")
        self.sts = StsServer([self.iam])
        self.addCleanup(self.sts.stop)
        super().setUp()
        self.user = system_user("amfa-dave")
        self.caller = system_user("amfa-caller")
        subprocess.run(["chpasswd"], input="amfa-dave:%s\n" % PASSWORD,
                       text=True, check=True)
        store = os.path.join(self.tree.root, "run")
        self.tree.write_config({"users_dir": self.tree.users,
                                "state_dir": self.tree.state,
                                "verify": "local+sts",
                                "sts_endpoint": self.sts.url,
                                "store_dir": store})
        self.tree.enroll("amfa-dave", seed=self.iam.seed,
                         extra="aws_profile = default\n", iam_user="dave")
        aws = os.path.join(self.user.pw_dir, ".aws")
        os.makedirs(aws, 0o700, exist_ok=True)
        with open(os.path.join(aws, "credentials"), "w") as f:
            f.write("[default]\naws_access_key_id = %s\n"
                    "aws_secret_access_key = %s\n"
                    % (self.iam.key_id, self.iam.secret))
        for p in (aws, os.path.join(aws, "credentials")):
            os.chown(p, self.user.pw_uid, self.user.pw_gid)
            os.chmod(p, 0o700 if os.path.isdir(p) else 0o600)
        # The stack: the shipped snippet, plus Debian's account and session.
        saved = PAM_FILE + ".amfa-saved"
        shutil.copy2(PAM_FILE, saved)
        self.addCleanup(os.replace, saved, PAM_FILE)
        with open(PAM_FILE, "w") as f:
            f.write("#%PAM-1.0\n")
            f.write("\n".join(l for l in snippet_lines(self.tree.conf)
                              if l.startswith("auth")) + "\n")
            f.write("account required pam_unix.so\n"
                    "session required pam_unix.so\n")
            f.write("\n".join(l for l in snippet_lines(self.tree.conf)
                              if l.startswith("session")) + "\n")
        wait_fresh_step(margin=8)

    def su(self, typed, command):
        child = pexpect.spawn("runuser", ["-u", "amfa-caller", "--", "su",
                                          "-l", "amfa-dave", "-c", command],
                              encoding="utf-8", timeout=60)
        child.expect("Password and verification code: ")
        child.sendline(typed)
        child.expect(pexpect.EOF)
        child.close()
        return child.exitstatus, child.before

    def test_shell_has_working_credentials(self):
        cmd = ("echo KEY=$AWS_ACCESS_KEY_ID; echo REGION=$AWS_REGION; "
               "AWS_PAGER= AWS_MAX_ATTEMPTS=1 %s sts get-caller-identity "
               "--endpoint-url %s --output json" % (AWS_CLI, self.sts.url))
        status, out = self.su(PASSWORD + totp(self.iam.seed), cmd)
        self.assertEqual(status, 0, out)
        self.assertRegex(out, r"KEY=ASIA[A-Z0-9]{16}")
        self.assertIn("REGION=us-east-1", out)
        doc = json.loads(out[out.index("{"):out.rindex("}") + 1])
        self.assertEqual(doc["Arn"], self.iam.arn)

    def test_wrong_password(self):
        status, out = self.su("wrong" + totp(self.iam.seed), "echo IN")
        self.assertNotEqual(status, 0)
        self.assertNotIn("IN\r\n", out)

    def test_wrong_code(self):
        status, out = self.su(PASSWORD + "000000", "echo IN")
        self.assertNotEqual(status, 0)
        self.assertNotIn("IN\r\n", out)


def tearDownModule():
    remove_system_users()


if __name__ == "__main__":
    require_root()
    if sanitizer_build(MODULE):
        print("SKIP: su is setuid and cannot load a module of an "
              "AddressSanitizer build (the plain build runs this test)")
        sys.exit(77)
    unittest.main(verbosity=2)
