"""The module's body (pam/module_body.h, plugin_load.h) attacked.

- Names.  plugin_load.c loads a checked descriptor under the name
  /proc/self/fd/N, and glibc matches an object by name before it looks at
  the file: a name an earlier copy (or the other plugin) was loaded or
  found under leads to that object, and each such name costs the load one
  more try.  A long-lived process whose lowest free descriptor varies from
  one transaction to the next (a daemon with connections of its callers)
  gives the copy a name for every descriptor number it was opened at: after
  an upgrade the new file must still be loaded, however many names the old
  copy holds; and the network clients awsmfa_net.so, opened at the numbers
  the body was found at, must still be loaded after those names.
- One handle, two loaders.  The body a transaction took is kept with the
  PAM handle (pam_set_data), for its later calls.  A stack may name two
  pam_awsmfa.so in two directories, of two versions (a package's and a
  local build's) or of one (two copies of a build, or one kept mapped since
  before an upgrade beside a new one): the second must not call the
  first's body, and passes on to its own, or fails closed (its own missing
  or writable by others)."""

import os
import re
import shutil
import tempfile
import time
import unittest

import amfa_testlib
from amfa_testlib import (BODY, PAM_SUCCESS, PamTestCase, copy_as_version,
                          module_copy, new_seed, other_version, require_root,
                          totp, wait_fresh_step)
from test_pam_net_plugin import LoaderBase

PAM_SESSION_ERR = 14
REFUSED = "denied: the module's body awsmfa_pam.so is missing or unusable"


class Names(PamTestCase):
    """A copy of the module and its body in a directory of their own;
    verify = local."""

    def setUp(self):
        super().setUp()
        self.mods, self.module, self.body = module_copy(
            self, "amfa-body-attack-")
        self.seed = new_seed()
        self.tree.enroll("alice", seed=self.seed)
        self.tree.service("awsmfa", ["auth required %s config=%s debug"
                                     % (self.module, self.tree.conf)])
        wait_fresh_step(margin=8)

    def replace_body(self):
        new = self.body + ".new"
        shutil.copy(BODY, new)
        os.chmod(new, 0o644)
        os.rename(new, self.body)

    def twice(self, between, warm):
        now = time.time()
        return self.tree.run_twice(
            "awsmfa", "alice",
            [totp(self.seed, now), totp(self.seed, now + 30)], between,
            ["-M", "awsmfa_pam.so", "-D", str(warm)])

    def test_upgrade_after_many_descriptor_numbers(self):
        """40 transactions at 40 descriptor numbers, then an upgrade: the
        second login takes the new file."""
        res, first = self.twice(self.replace_body, 40)
        self.assertIn("WARM 0\n", first)
        self.assertIn("RESULT 0 ", first)
        self.assertRc(res, PAM_SUCCESS)
        self.assertIn("MAPPED awsmfa_pam.so 2\n", res.out.split("DONE")[1])


class NetNames(LoaderBase):
    """verify = local+sts: the login needs awsmfa_net.so."""

    def test_network_login_after_many_descriptor_numbers(self):
        """The body found at 40 descriptor numbers (a setcred each), then
        a login that asks STS: the plugin is loaded, the session got."""
        res = self.tree.run("awsmfa", "alice", [totp(self.iam.seed)],
                            extra_args=["-E", "-D", "40"])
        self.assertIn("WARM 0\n", res.out)
        self.assertRc(res, PAM_SUCCESS)
        self.assertIn("AWS_ACCESS_KEY_ID", res.env)
        self.assertIn(self.plugin + " in use", res.log)


class TwoLoadersChecks:
    """A mixin for a PamTestCase, not run by itself.  auth by a copy of
    pam_awsmfa.so with its body (of another version when `first_version'
    is set), the session by a copy of this build in a directory of its
    own, whose body is missing or unusable: the second must fail its
    calls closed, never run on the first's kept body."""

    first_version = None

    def setUp(self):
        super().setUp()
        self.first, module, body = module_copy(self, "amfa-first-")
        if self.first_version:
            copy_as_version(amfa_testlib.MODULE, module, self.first_version)
            copy_as_version(BODY, body, self.first_version)
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
        shutil.copy(BODY, body)
        os.chmod(body, 0o666)
        self.assertSecondRefused("writable by group or others")


class TwoLoaders(TwoLoadersChecks, PamTestCase):
    """The first of another version (a package's and a local build's)."""

    first_version = other_version()


class SameVersionTwoLoaders(TwoLoadersChecks, PamTestCase):
    """Both of this build: two copies that say one version (or one kept
    mapped since before an upgrade, -z nodelete, beside a new one) must
    not share the kept body either."""


if __name__ == "__main__":
    require_root()
    unittest.main(verbosity=2)
