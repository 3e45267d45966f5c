"""pam_awsmfa.so and its body awsmfa_pam.so (pam/module_body.h): libpam
maps pam_awsmfa.so in every transaction; the body is mapped once per
process and kept, and each transaction takes the copy of the file next to
pam_awsmfa.so then.

- pam_awsmfa.so links libpam and libc only, and exports the four PAM entry
  points; the body exports one symbol.
- The body is found next to a copy of the module, and refused (the login
  denied, the code not looked at) when it is missing, a symlink, writable
  by others, owned by someone else, in a directory others may write, not
  the body, or not a regular file.
- Two transactions in one process (pamtest -A): the body stays mapped after
  the first; a body replaced in between (an upgrade) is loaded for the
  second, the old copy left unused; replaced by a bad file or made
  writable in between, the second login is refused, so the kept copy
  cannot stand in for the file there now.
- pam_awsmfa.so itself stays mapped after its first transaction (-z
  nodelete, module_loader.c): replaced in between, the second transaction
  still runs the mapped loader and the body next to it; and a loader takes
  a body of another version (the interface is amfa_pam_ops_v1), as a
  loader mapped before an upgrade must."""

import os
import shutil
import time
import unittest

import amfa_testlib
from amfa_testlib import (BODY, CheckedFileChecks, NOT_OURS, PAM_AUTH_ERR,
                          PAM_AUTHINFO_UNAVAIL, PAM_SUCCESS, PamTestCase,
                          copy_as_version, elf_exported, elf_needed,
                          module_copy, new_seed, other_version,
                          require_root, totp, wait_fresh_step)

REFUSED = "denied: the module's body awsmfa_pam.so is missing or unusable"


def two_logins(case, between, mapped, second_code=None):
    """alice's two logins in one process (pamtest -A), between() called
    between them, each followed by the count of mapped copies of files
    named `mapped'; second_code: the second's code (default: the next
    step's, right)."""
    now = time.time()
    return case.tree.run_twice(
        "awsmfa", "alice",
        [totp(case.seed, now), second_code or totp(case.seed, now + 30)],
        between, ["-M", mapped])


class Files(unittest.TestCase):
    def test_module_links_only_libpam_and_libc(self):
        # (and the sanitizers' runtimes, in that build)
        self.assertEqual(sorted(l for l in elf_needed(amfa_testlib.MODULE)
                                if not l.startswith(("libasan.",
                                                     "libubsan."))),
                         ["libc.so.6", "libpam.so.0"])

    def test_module_exports_the_entry_points(self):
        self.assertEqual(elf_exported(amfa_testlib.MODULE),
                         ["pam_sm_authenticate", "pam_sm_close_session",
                          "pam_sm_open_session", "pam_sm_setcred"])

    def test_body_exports_one_symbol(self):
        self.assertEqual(elf_exported(BODY), ["amfa_pam_ops_v1"])


class Body(CheckedFileChecks, PamTestCase):
    """A copy of the module and its body in a directory of their own;
    verify = local."""

    def setUp(self):
        super().setUp()
        self.mods, self.module, self.body = module_copy(
            self, "amfa-body-")
        self.checked = self.body
        self.seed = new_seed()
        self.tree.enroll("alice", seed=self.seed)
        self.tree.service("awsmfa", ["auth required %s config=%s debug"
                                     % (self.module, self.tree.conf)])
        wait_fresh_step(margin=8)

    def login(self):
        return self.tree.run("awsmfa", "alice", [totp(self.seed)])

    def assertRefused(self, why):
        res = self.login()
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL)
        self.assertIn(why, res.log)
        self.assertIn(REFUSED, res.log)
        # Refused before the code was asked for.
        self.assertEqual(res.prompts, [])

    def replace_body(self, source, mode=0o644):
        new = self.body + ".new"
        shutil.copy(source, new)
        os.chmod(new, mode)
        os.rename(new, self.body)

    def twice(self, between):
        return two_logins(self, between, "awsmfa_pam.so")

    def test_found_next_to_the_module(self):
        self.assertRc(self.login(), PAM_SUCCESS)

    def test_directory_writable_by_others(self):
        os.chmod(self.mods, 0o777)
        self.addCleanup(os.chmod, self.mods, 0o755)
        self.assertRefused("writable by group or others")

    def test_not_the_body(self):
        self.replace_body(amfa_testlib.AUTHTOK_MODULE)
        self.assertRefused("amfa_pam_ops_v1 missing")

    def test_kept_between_transactions(self):
        res, first = self.twice(lambda: None)
        self.assertIn("RESULT 0 ", first)
        # Still mapped after the transaction's pam_end: kept.
        self.assertIn("MAPPED awsmfa_pam.so 1\n", first)
        self.assertRc(res, PAM_SUCCESS)
        self.assertIn("MAPPED awsmfa_pam.so 1\n", res.out.split("DONE")[1])

    def test_replaced_between_transactions(self):
        """An upgrade between two transactions: the second loads the new
        file (two copies mapped) and logs in with it."""
        res, first = self.twice(lambda: self.replace_body(BODY))
        self.assertIn("RESULT 0 ", first)
        self.assertIn("MAPPED awsmfa_pam.so 1\n", first)
        self.assertRc(res, PAM_SUCCESS)
        self.assertIn("MAPPED awsmfa_pam.so 2\n", res.out.split("DONE")[1])

    def test_replaced_by_a_bad_file_between_transactions(self):
        # Not ours (the sanitizer build's own test module would trip
        # LeakSanitizer at exit: amfa_testlib's NOT_OURS).
        res, first = self.twice(lambda: self.replace_body(NOT_OURS))
        self.assertIn("RESULT 0 ", first)
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL)
        self.assertIn("amfa_pam_ops_v1 missing", res.log)
        self.assertIn(REFUSED, res.log)

    def test_made_writable_between_transactions(self):
        res, first = self.twice(lambda: os.chmod(self.body, 0o666))
        self.assertIn("RESULT 0 ", first)
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL)
        self.assertIn("writable by group or others", res.log)

    def test_removed_between_transactions(self):
        res, first = self.twice(lambda: os.unlink(self.body))
        self.assertIn("RESULT 0 ", first)
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL)
        self.assertIn("No such file or directory", res.log)


class Loader(PamTestCase):
    """pam_awsmfa.so kept mapped, in a directory of its own with its
    body; verify = local."""

    def setUp(self):
        super().setUp()
        self.mods, self.module, self.body = module_copy(
            self, "amfa-loader-")
        self.seed = new_seed()
        self.tree.enroll("alice", seed=self.seed)
        self.tree.service("awsmfa", ["auth required %s config=%s debug"
                                     % (self.module, self.tree.conf)])
        wait_fresh_step(margin=8)

    def twice(self, between, second_code=None):
        return two_logins(self, between, "pam_awsmfa.so", second_code)

    def test_kept_after_its_transaction(self):
        res, first = self.twice(lambda: None)
        self.assertIn("RESULT 0 ", first)
        # libpam's pam_end let it go; it is still mapped, once.
        self.assertIn("MAPPED pam_awsmfa.so 1\n", first)
        self.assertRc(res, PAM_SUCCESS)
        self.assertIn("MAPPED pam_awsmfa.so 1\n", res.out.split("DONE")[1])

    def test_replaced_between_transactions(self):
        """A new pam_awsmfa.so (here one that would let anyone in) takes
        effect at the process's next start, not in its next transaction:
        the mapped loader runs it, with the body next to it, and a wrong
        code is refused."""
        def replace():
            new = self.module + ".new"
            shutil.copy(NOT_OURS, new)
            os.rename(new, self.module)
        res, first = self.twice(replace, second_code="000000")
        self.assertIn("RESULT 0 ", first)
        self.assertRc(res, PAM_AUTH_ERR)
        self.assertIn("MAPPED pam_awsmfa.so 1\n", res.out.split("DONE")[1])

    def test_takes_a_body_of_another_version(self):
        copy_as_version(BODY, self.body, other_version())
        res = self.tree.run("awsmfa", "alice", [totp(self.seed)])
        self.assertRc(res, PAM_SUCCESS)
        self.assertNotIn(REFUSED, res.log)


if __name__ == "__main__":
    require_root()
    unittest.main(verbosity=2)
