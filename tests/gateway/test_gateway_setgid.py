"""awsmfa-gateway installed set-group-ID for its audit log: the caller may
not pick another configuration (and so another log opened with that
group); checking one (-t) is still allowed, and the default is used."""

import grp
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

GATEWAY = os.environ.get("AMFA_GATEWAY", "")
GROUP = "amfa-gwaudit"


class SetGid(unittest.TestCase):
    def setUp(self):
        subprocess.run(["groupadd", "--system", GROUP], capture_output=True)
        self.addCleanup(subprocess.run, ["groupdel", GROUP],
                        capture_output=True)
        self.gid = grp.getgrnam(GROUP).gr_gid
        self.dir = tempfile.mkdtemp(prefix="amfa-gw-sgid-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        os.chmod(self.dir, 0o755)
        self.gw = os.path.join(self.dir, "awsmfa-gateway")
        shutil.copy(GATEWAY, self.gw)
        os.chown(self.gw, 0, self.gid)
        os.chmod(self.gw, 0o2755)
        self.conf = os.path.join(self.dir, "gateway.conf")
        with open(self.conf, "w") as f:
            f.write("allow users * shell\n")
        os.chmod(self.conf, 0o644)

    def as_nobody(self, *args):
        return subprocess.run([self.gw] + list(args), capture_output=True,
                              text=True, user="nobody", group="nogroup",
                              extra_groups=[], cwd="/", timeout=30,
                              env={"PATH": "/usr/bin:/bin"})

    def test_other_config_refused(self):
        st = os.stat(self.gw)
        self.assertTrue(st.st_mode & 0o2000, "set-group-ID copy")
        res = self.as_nobody("-f", self.conf)
        self.assertEqual(res.returncode, 1)
        self.assertIn("-f is refused when installed set-group-ID",
                      res.stderr)

    def test_checking_a_config_allowed(self):
        res = self.as_nobody("-t", "-f", self.conf)
        self.assertEqual(res.returncode, 0, res.stderr)


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("SKIP: needs root (a set-group-ID copy and a group)")
        sys.exit(77)
    if not GATEWAY or not os.path.exists(GATEWAY):
        print("AMFA_GATEWAY is not set: run through meson test")
        sys.exit(1)
    unittest.main(verbosity=2)
