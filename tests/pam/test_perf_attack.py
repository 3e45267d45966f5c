"""The performance work of issue 27 attacked where it changed who decides.

- Two loaders of one version.  pam_awsmfa.so keeps the body a transaction
  took with the PAM handle (pam_set_data), for the transaction's later
  calls, and takes a body of any version that exports amfa_pam_ops_v1.  A
  stack may name two copies of pam_awsmfa.so in two directories (a
  package's and a local build's, or one kept mapped since before an
  upgrade, -z nodelete, beside a new one): each must use the body next to
  it (pam_awsmfa(8)).  Two copies that say the same version must not share
  the kept body: the second's own body missing, or writable by others,
  must make its calls fail closed, not run on the first's body."""

import os
import shutil
import tempfile
import unittest

import amfa_testlib
from amfa_testlib import (PAM_SUCCESS, PamTestCase, module_copy, new_seed,
                          require_root, totp, wait_fresh_step)

PAM_SESSION_ERR = 14
REFUSED = "denied: the module's body awsmfa_pam.so is missing or unusable"


class SameVersionTwoLoaders(PamTestCase):
    """auth by a copy of this build's pam_awsmfa.so with its body; the
    session by another copy of the same build, in a directory of its own,
    whose body is missing or unusable."""

    def setUp(self):
        super().setUp()
        self.first, _, _ = module_copy(self, "amfa-first-")
        self.second = tempfile.mkdtemp(prefix="amfa-second-")
        self.addCleanup(shutil.rmtree, self.second, True)
        os.chmod(self.second, 0o755)
        shutil.copy(amfa_testlib.MODULE, self.second)
        self.seed = new_seed()
        self.tree.enroll("alice", seed=self.seed)
        self.tree.service("awsmfa", [
            "auth required %s/pam_awsmfa.so config=%s"
            % (self.first, self.tree.conf),
            "session required %s/pam_awsmfa.so config=%s"
            % (self.second, self.tree.conf)])
        wait_fresh_step(margin=8)

    def assertSecondRefused(self, why):
        res = self.tree.run("awsmfa", "alice", [totp(self.seed)],
                            extra_args=["-S"])
        self.assertRc(res, PAM_SUCCESS)
        self.assertIn("SESSION OPEN %d\n" % PAM_SESSION_ERR, res.out,
                      "the second copy ran the first's body\n%r" % res)
        self.assertIn(why, res.log)
        self.assertIn(REFUSED, res.log)

    def test_second_body_missing(self):
        self.assertSecondRefused("No such file or directory")

    def test_second_body_writable_by_others(self):
        body = os.path.join(self.second, "awsmfa_pam.so")
        shutil.copy(amfa_testlib.BODY, body)
        os.chmod(body, 0o666)
        self.assertSecondRefused("writable by group or others")


if __name__ == "__main__":
    require_root()
    unittest.main(verbosity=2)
