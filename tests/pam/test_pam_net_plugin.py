"""pam_awsmfa.so without libcurl and libxml2: the network clients live in
awsmfa_net.so, loaded next to the module only when a login needs them.
Checks the module's dependencies, its body's included (so that a link
change cannot quietly bring the network libraries back into every login),
and the loader: found next to a copy of the module, refused when missing,
a symlink, writable by others, owned by someone else, in a writable
directory, or not the plugin; each refusal denies the login, also with
failmode = safe.  The plugin stays loaded, and a process's next
transaction takes the file there then (replaced: the new one)."""

import os
import shutil
import subprocess
import tempfile
import time
import unittest

import amfa_testlib
from amfa_testlib import (CheckedFileChecks, NOT_OURS, PAM_AUTHINFO_UNAVAIL,
                          PAM_SUCCESS, PamTestCase, elf_exported, elf_needed,
                          require_root, totp, wait_fresh_step)
from sts_process import IamUser, StsServer

# Libraries a local login must not load: libcurl, libxml2 and what they
# bring (TLS stacks, Kerberos, LDAP, ICU, ...).
NETWORK_LIBS = ("libcurl", "libxml2", "libgnutls", "libnghttp2", "librtmp",
                "libssh2", "libpsl", "libidn2", "libldap", "liblber",
                "libgssapi", "libkrb5", "libk5crypto", "libsasl2",
                "libicu", "libbrotli", "libzstd", "liblzma")

PLUGIN = os.path.join(os.path.dirname(amfa_testlib.MODULE), "awsmfa_net.so")
BODY = os.path.join(os.path.dirname(amfa_testlib.MODULE), "awsmfa_pam.so")


def loaded(path):
    """Every library the dynamic linker loads for `path' (ldd)."""
    out = subprocess.run(["ldd", path], capture_output=True, text=True,
                         check=True).stdout
    return [l.split()[0] for l in out.splitlines() if l.strip()]


def network(libs):
    return [l for l in libs if os.path.basename(l).startswith(NETWORK_LIBS)]


class Dependencies(unittest.TestCase):
    def test_module_needs_no_network_library(self):
        for so in (amfa_testlib.MODULE, BODY):
            self.assertEqual(network(elf_needed(so)), [], so)
            self.assertEqual(network(loaded(so)), [],
                             "\n".join(loaded(so)))

    def test_plugin_has_them(self):
        # The check above looks for the right names: the plugin links them.
        libs = elf_needed(PLUGIN)
        self.assertTrue(any(l.startswith("libcurl") for l in libs), libs)
        self.assertTrue(any(l.startswith("libxml2") for l in libs), libs)

    def test_plugin_exports_one_symbol(self):
        self.assertEqual(elf_exported(PLUGIN), ["amfa_net_ops_v7"])


class LoaderBase(PamTestCase):
    """A copy of the module in a directory of its own, with or without a
    plugin next to it, doing verify = local+sts."""
    failmode = "secure"

    def setUp(self):
        self.iam = IamUser("alice")
        self.sts = StsServer([self.iam], tls=False)
        self.addCleanup(self.sts.stop)
        super().setUp()
        self.mods = tempfile.mkdtemp(prefix="amfa-mods-")
        self.addCleanup(shutil.rmtree, self.mods, True)
        os.chmod(self.mods, 0o755)
        self.module = os.path.join(self.mods, "pam_awsmfa.so")
        shutil.copy(amfa_testlib.MODULE, self.module)
        shutil.copy(BODY, os.path.join(self.mods, "awsmfa_pam.so"))
        self.plugin = self.checked = os.path.join(self.mods, "awsmfa_net.so")
        shutil.copy(PLUGIN, self.plugin)
        os.chmod(self.plugin, 0o644)
        self.tree.write_config(dict(users_dir=self.tree.users,
                                    state_dir=self.tree.state,
                                    verify="local+sts", failmode=self.failmode,
                                    sts_endpoint=self.sts.url,
                                    sts_timeout=5))
        self.tree.enroll("alice", seed=self.iam.seed, extra=(
            "access_key_id = %s\nsecret_access_key = %s\n"
            % (self.iam.key_id, self.iam.secret)))
        self.tree.service("awsmfa", ["auth required %s config=CONF debug"
                                     % self.module])
        self.tree.service("local", ["auth required %s config=%s debug"
                                    % (self.module, self.local_conf())])
        wait_fresh_step(margin=6)

    def local_conf(self):
        path = os.path.join(self.tree.etc, "local.conf")
        self.tree.write(path, "users_dir = %s\nstate_dir = %s\n"
                        "verify = local\n" % (self.tree.users,
                                              self.tree.state), 0o644)
        return path

    def login(self, service="awsmfa"):
        return self.tree.run(service, "alice", [totp(self.iam.seed)],
                             extra_args=["-E"])

    def assertRefused(self, why, what="awsmfa_net.so is missing or unusable"):
        res = self.login()
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL)
        self.assertIn(why, res.log)
        self.assertIn(what, res.log)
        self.assertNotIn("AWS_ACCESS_KEY_ID", res.env)
        self.assertEqual(self.sts.requests()["total"], 0)


class Loader(CheckedFileChecks, LoaderBase):
    def test_found_next_to_the_module(self):
        res = self.login()
        self.assertRc(res, PAM_SUCCESS)
        self.assertIn("AWS_ACCESS_KEY_ID", res.env)
        self.assertIn(self.plugin + " in use", res.log)

    def test_local_login_does_not_load_it(self):
        os.unlink(self.plugin)
        res = self.login("local")
        self.assertRc(res, PAM_SUCCESS)
        self.assertNotIn("awsmfa_net.so", res.log)

    def test_directory_writable_by_others(self):
        os.chmod(self.mods, 0o777)
        self.addCleanup(os.chmod, self.mods, 0o755)
        # The module's body, in the same directory, is refused first.
        self.assertRefused("writable by group or others",
                           "the module's body awsmfa_pam.so is missing or "
                           "unusable")

    def test_not_the_plugin(self):
        shutil.copy(amfa_testlib.AUTHTOK_MODULE, self.plugin)
        self.assertRefused("amfa_net_ops_v7 missing")

    def codes(self):
        """This step's code and the next's: two logins of one process."""
        now = time.time()
        return [totp(self.iam.seed, now), totp(self.iam.seed, now + 30)]

    def replace_plugin(self, source):
        new = self.plugin + ".new"
        shutil.copy(source, new)
        os.chmod(new, 0o644)
        os.rename(new, self.plugin)

    def test_kept_and_replaced_between_transactions(self):
        """The plugin stays mapped after the transaction that loaded it;
        replaced by a new copy, the next transaction loads that one."""
        res, first = self.tree.run_twice(
            "awsmfa", "alice", self.codes(),
            lambda: self.replace_plugin(PLUGIN),
            ["-E", "-M", "awsmfa_net.so"])
        self.assertIn("RESULT 0 ", first)
        self.assertIn("MAPPED awsmfa_net.so 1\n", first)
        self.assertRc(res, PAM_SUCCESS)
        self.assertIn("MAPPED awsmfa_net.so 2\n", res.out.split("DONE")[1])
        self.assertEqual(self.sts.requests()["total"], 2)

    def test_replaced_by_a_bad_file_between_transactions(self):
        """The copy kept from the first transaction is not used once the
        file is another: the second login is refused."""
        res, first = self.tree.run_twice(
            "awsmfa", "alice", self.codes(),
            lambda: self.replace_plugin(NOT_OURS), ["-E"])
        self.assertIn("RESULT 0 ", first)
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL)
        self.assertIn("amfa_net_ops_v7 missing", res.log)
        self.assertEqual(self.sts.requests()["total"], 1)

class LoaderFailSafe(LoaderBase):
    """A missing plugin is a configuration error, not an outage:
    failmode = safe does not let the login through."""
    failmode = "safe"

    def test_missing(self):
        os.unlink(self.plugin)
        self.assertRefused("No such file or directory")


if __name__ == "__main__":
    require_root()
    unittest.main(verbosity=2)
