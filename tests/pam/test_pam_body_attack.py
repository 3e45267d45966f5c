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
  pam_awsmfa.so, of two versions (a package's and a local build's): the
  second must not call the first's body (another version's ops, given its
  own arguments), and passes on to its own, or fails closed."""

import os
import re
import shutil
import tempfile
import time
import unittest

import amfa_testlib
from amfa_testlib import (BODY, PAM_SUCCESS, PamTestCase, module_copy,
                          new_seed, require_root, totp, wait_fresh_step)
from test_pam_net_plugin import LoaderBase

PAM_SESSION_ERR = 14
REFUSED = "denied: the module's body awsmfa_pam.so is missing or unusable"


def project_version():
    top = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    with open(os.path.join(top, "meson.build")) as f:
        return re.search(r"version : '([^']+)'", f.read()).group(1)


def copy_as_version(src, dst, version):
    """A copy of a built object that says another version (AMFA_VERSION,
    the same length, everywhere it is)."""
    with open(src, "rb") as f:
        data = f.read()
    old = project_version().encode() + b"\0"
    new = version.encode() + b"\0"
    assert len(old) == len(new) and old != new and data.count(old) >= 1
    with open(dst, "wb") as f:
        f.write(data.replace(old, new))
    os.chmod(dst, 0o644)


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


class TwoLoaders(PamTestCase):
    """auth by a pam_awsmfa.so of another version (with its body), the
    session by this build's, whose body is missing."""

    def setUp(self):
        super().setUp()
        self.other = tempfile.mkdtemp(prefix="amfa-other-version-")
        self.addCleanup(shutil.rmtree, self.other, True)
        os.chmod(self.other, 0o755)
        v = project_version()
        other_version = v[:-1] + ("9" if v[-1] != "9" else "8")
        copy_as_version(amfa_testlib.MODULE,
                        os.path.join(self.other, "pam_awsmfa.so"),
                        other_version)
        copy_as_version(BODY, os.path.join(self.other, "awsmfa_pam.so"),
                        other_version)
        self.mods = tempfile.mkdtemp(prefix="amfa-no-body-")
        self.addCleanup(shutil.rmtree, self.mods, True)
        os.chmod(self.mods, 0o755)
        shutil.copy(amfa_testlib.MODULE, self.mods)
        self.seed = new_seed()
        self.tree.enroll("alice", seed=self.seed)
        self.tree.service("awsmfa", [
            "auth required %s/pam_awsmfa.so config=%s"
            % (self.other, self.tree.conf),
            "session required %s/pam_awsmfa.so config=%s"
            % (self.mods, self.tree.conf)])
        wait_fresh_step(margin=8)

    def test_other_version_body_not_taken(self):
        res = self.tree.run("awsmfa", "alice", [totp(self.seed)],
                            extra_args=["-S"])
        self.assertRc(res, PAM_SUCCESS)
        self.assertIn("SESSION OPEN %d\n" % PAM_SESSION_ERR, res.out)
        self.assertIn(REFUSED, res.log)


if __name__ == "__main__":
    require_root()
    unittest.main(verbosity=2)
