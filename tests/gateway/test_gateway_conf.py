"""gateway.conf rules that could never apply are errors, not dead rules:
the built awsmfa-gateway reports each with FILE:LINE under -t, and refuses
all service at run time when its configuration holds one (fail closed).

- an IPv4-mapped IPv6 range (::ffff:10.9.0.0/112): addresses are compared
  as IPv4, so it would never match;
- a host pattern that looks like an address (10.*): patterns match host
  names only;
- a host pattern with a trailing dot, a leading dot or an empty label:
  the names it is matched against have none."""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

GATEWAY = os.environ.get("AMFA_GATEWAY", "")

# (rule, what the message says); each goes on its own line below a comment.
NEVER = [
    ("deny users * to ::ffff:10.9.0.0/112 ports 22",
     "IPv4-mapped IPv6 range"),
    ("deny users * to ::ffff:10.9.8.7 ports 22", "IPv4-mapped IPv6 range"),
    ("deny users * to 10.* ports 22", "looks like an address"),
    ("deny groups ops to db.example.com, 192.168.?.* ports *",
     "looks like an address"),
    ("deny users * to name.example.com. ports 22", "never ends with '.'"),
    ("deny users * to .example.com ports 22", "never starts with '.'"),
]


class NeverMatching(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="amfa-gwconf-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        os.chmod(self.dir, 0o755)
        self.conf = os.path.join(self.dir, "gateway.conf")

    def write(self, lines):
        with open(self.conf, "w") as f:
            f.write("".join(l + "\n" for l in lines))
        os.chmod(self.conf, 0o644)

    def test_each_form_named_with_file_and_line(self):
        lines = ["# never-matching rules, one per line",
                 "allow users * to 127.0.0.0/8 ports 22"]
        where = []
        for rule, msg in NEVER:
            lines.append(rule)
            where.append((len(lines), msg))
        self.write(lines)
        res = subprocess.run([GATEWAY, "-t", "-f", self.conf],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(res.returncode, 1, res.stdout + res.stderr)
        self.assertNotIn("OK", res.stdout)
        for lineno, msg in where:
            found = [l for l in res.stderr.splitlines()
                     if "%s:%d: " % (self.conf, lineno) in l]
            self.assertEqual(len(found), 1, res.stderr)
            self.assertIn(msg, found[0])
        self.assertNotIn("%s:2:" % self.conf, res.stderr)

    def test_each_form_alone_is_refused(self):
        for rule, msg in NEVER:
            self.write(["allow users * to 127.0.0.0/8 ports 22", rule])
            res = subprocess.run([GATEWAY, "-t", "-f", self.conf],
                                 capture_output=True, text=True, timeout=30)
            self.assertEqual(res.returncode, 1, rule)
            self.assertIn("%s:2: " % self.conf, res.stderr)
            self.assertIn(msg, res.stderr)

    def test_the_written_forms_that_do_match_are_accepted(self):
        self.write(["deny users * to 10.9.0.0/16, *.example.com, "
                    "name.example.com ports 22",
                    "allow users * to ::/0, 127.0.0.0/8 ports 22"])
        res = subprocess.run([GATEWAY, "-t", "-f", self.conf],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("2 rules, OK", res.stdout)

    def test_run_time_refuses_all_service(self):
        """Not -t: the gateway itself will not run on such a policy."""
        self.write(["allow users * shell",
                    "deny users * to 10.* ports 22"])
        res = subprocess.run([GATEWAY, "-f", self.conf],
                             capture_output=True, text=True, timeout=30,
                             stdin=subprocess.DEVNULL,
                             env={"PATH": "/usr/bin:/bin"})
        self.assertEqual(res.returncode, 1, res.stderr)
        self.assertIn("the gateway's configuration is unusable", res.stderr)


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("SKIP: needs root (the configuration must be root's)")
        sys.exit(77)
    if not GATEWAY or not os.path.exists(GATEWAY):
        print("AMFA_GATEWAY is not set: run through meson test")
        sys.exit(1)
    unittest.main(verbosity=2)
