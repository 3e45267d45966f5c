"""sudo step-up with the real sudo: the shipped config/pam.d/sudo snippet
(pointed at the built module and a throwaway awsmfa.conf) asks for a fresh
code before a privileged command.  A right code runs the command, a wrong or
replayed one does not, and with grace=MINUTES a code proven within the
window lets the next sudo in without a prompt.

sudo has no PAM confdir, but sudoers has `pam_service': a file in
/etc/sudoers.d gives the test user a service of its own
(/etc/pam.d/amfa-sudo-PID), so the system's /etc/pam.d/sudo is never
touched.  Both files are removed at the end, also on failure.  sudo's own
credential cache is off for the user (timestamp_timeout=0), so every sudo
really goes through PAM."""

import os
import sys
import unittest

import pexpect

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "pam"))

from amfa_testlib import Tree, totp, wait_fresh_step   # noqa: E402
from gwlib import (CODE_PROMPT, MODULE, SOURCE_ROOT, TAG, janitor,  # noqa
                   main_with_real_sudo, make_account, read, sudoers_file,
                   system_file)

SNIPPET = os.path.join(SOURCE_ROOT, "config", "pam.d", "sudo")
USER = "amfa-sudo-" + TAG[-5:]
SUDO_FAILED = "incorrect password attempt"   # sudo's own wording


def snippet_auth_lines(conf, extra=""):
    """The auth lines of the shipped snippet, pointed at the built module
    and the test's awsmfa.conf."""
    lines = []
    for line in read(SNIPPET).splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        lines.append(line.replace("pam_awsmfa.so", "%s config=%s%s" %
                                  (MODULE, conf, extra)))
    if not lines or not all(l.startswith("auth") for l in lines):
        raise RuntimeError("%s: expected auth lines only, got %r" %
                           (SNIPPET, lines))
    return lines


class SudoStepUp(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pw = make_account(USER)
        cls.tree = Tree()
        janitor.add(cls.tree.cleanup)
        cls.seed = cls.tree.enroll(USER)
        cls.services = {}
        for name, extra in (("plain", ""), ("grace", " grace=5")):
            service = "amfa-sudo-%s-%s" % (name, TAG)
            system_file(os.path.join("/etc/pam.d", service),
                        "#%PAM-1.0\n" +
                        "\n".join(snippet_auth_lines(cls.tree.conf, extra)) +
                        "\n@include common-account\n"
                        "@include common-session-noninteractive\n")
            cls.services[name] = service
        cls.sudoers = "amfa-test-%s" % TAG
        cls.use_service("plain")

    @classmethod
    def use_service(cls, name):
        """Point the user's sudo at one of the two stacks."""
        service = cls.services[name]
        text = ("Defaults:%s pam_service=%s, pam_login_service=%s\n"
                "Defaults:%s timestamp_timeout=0, passwd_tries=1, !lecture\n"
                "%s ALL=(root) /usr/bin/id\n"
                % (USER, service, service, USER, USER))
        entry = getattr(cls, "_sudoers_entry", None)
        if entry is not None:
            janitor.done(entry)
        cls._sudoers_entry = sudoers_file(cls.sudoers, text)

    def setUp(self):
        # Each test starts without state: no earlier success, no failures.
        state = self.tree.state_file(USER)
        if os.path.exists(state):
            os.unlink(state)
        self.use_service("plain")
        wait_fresh_step(margin=8)

    def sudo(self, code=None, command=("/usr/bin/id", "-u")):
        """sudo as the test user under a pty; answers the code prompt with
        `code' (None: none expected; an empty line if one comes).
        (status, output, prompted)."""
        child = pexpect.spawn("/usr/sbin/runuser",
                              ["-u", USER, "--", "sudo", "--"] +
                              list(command), encoding="utf-8", timeout=30,
                              env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
                                   "LANG": "C"})
        janitor_entry = janitor.add(child.close, True)
        i = child.expect_exact([CODE_PROMPT, pexpect.EOF])
        prompted = i == 0
        if prompted:
            # With code None no prompt was expected: an empty answer ends
            # sudo at once.
            child.sendline(code if code is not None else "")
            child.expect(pexpect.EOF)
        out = child.before
        child.close()
        janitor.done(janitor_entry)
        return child.exitstatus, out, prompted

    def test_right_code_runs_the_command(self):
        status, out, prompted = self.sudo(totp(self.seed))
        self.assertTrue(prompted)
        self.assertEqual(status, 0, out)
        self.assertEqual(out.strip().splitlines()[-1], "0")

    def test_wrong_code_does_not(self):
        code = totp(self.seed)
        status, out, prompted = self.sudo("%06d" % ((int(code) + 1) % 10**6))
        self.assertTrue(prompted)
        self.assertNotEqual(status, 0)
        self.assertIn(SUDO_FAILED, out)
        self.assertNotIn("\n0\r", "\n" + out)

    def test_replayed_code_does_not(self):
        code = totp(self.seed)
        self.assertEqual(self.sudo(code)[0], 0)
        status, out, prompted = self.sudo(code)
        self.assertTrue(prompted, "without grace every sudo asks")
        self.assertNotEqual(status, 0, out)
        self.assertIn(SUDO_FAILED, out)

    def test_no_grace_asks_every_time(self):
        self.assertEqual(self.sudo(totp(self.seed))[0], 0)
        status, out, prompted = self.sudo(None)
        self.assertTrue(prompted)
        self.assertNotEqual(status, 0)

    def test_grace_lets_a_recent_factor_count(self):
        self.use_service("grace")
        status, out, prompted = self.sudo(None)
        self.assertTrue(prompted, "grace needs a factor proven first")
        self.assertNotEqual(status, 0)
        self.assertEqual(self.sudo(totp(self.seed))[0], 0)
        status, out, prompted = self.sudo(None)
        self.assertFalse(prompted, out)
        self.assertEqual(status, 0, out)
        self.assertEqual(out.strip().splitlines()[-1], "0")

    def test_grace_does_not_count_a_failure(self):
        self.use_service("grace")
        code = totp(self.seed)
        self.assertNotEqual(self.sudo("%06d" % ((int(code) + 1) % 10**6))[0],
                            0)
        status, out, prompted = self.sudo(None)
        self.assertTrue(prompted)
        self.assertNotEqual(status, 0)


def tearDownModule():
    janitor.run()


if __name__ == "__main__":
    main_with_real_sudo([("module", MODULE)])
