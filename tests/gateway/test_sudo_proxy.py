"""In a set-user-ID program the module's STS client ignores the caller's
proxy variables.

libcurl takes a proxy from the environment (http_proxy, HTTPS_PROXY,
ALL_PROXY, ...).  Under sudo that environment is the unprivileged caller's,
so without pam_awsmfa/aws/http.c's `getauxval(AT_SECURE)' guard a user could
send the module's STS request (signed with the long-term key, carrying the
MFA code) to a "proxy" of their choosing, or make STS unreachable at will.

A recording proxy on loopback stands in for the user's.  The control case
runs the same module, same environment, NOT set-user-ID (pamtest as root):
the request must reach the proxy and not the STS endpoint.  If it did not,
the module (or this machine's libcurl) would ignore the variables anyway and
the sudo case would prove nothing, so the control fails loudly rather than
skipping.  The real case: the real sudo (set-user-ID root) run by a test
account with every proxy variable in its environment; the code goes
straight to the STS endpoint, sudo succeeds, the proxy sees no connection.

sudo exports its own getenv(), and during authentication sudoers answers it
from the environment it prepares for the command: with plain env_reset the
variables never reach the module, and the sudo case would pass even without
the guard.  So the sudoers entry keeps them (env_keep, as distributions and
proxied networks commonly do), and the command is env(1), whose output
shows they got through.  The rest is test_sudo_stepup.py's set-up: a
sudoers.d pam_service pointing at a PAM service file of this run,
timestamp_timeout=0; everything is removed at the end."""

import os
import socket
import subprocess
import sys
import threading
import unittest

import pexpect

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "pam"))

from amfa_testlib import (PAM_SUCCESS, PAMTEST, Tree, totp,  # noqa: E402
                          wait_fresh_step)
from gwlib import (CODE_PROMPT, MODULE, TAG, janitor, make_account,  # noqa
                   main_with_real_sudo, sudoers_file, system_file)
from sts_process import IamUser, StsServer   # noqa: E402

USER = "amfa-sprx-" + TAG[-5:]
PROXY_VARS = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY",
              "ALL_PROXY", "all_proxy")


class RecordingProxy:
    """Accepts connections on a loopback port, keeps the first bytes of
    each (the request head) and answers 502."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.url = "http://127.0.0.1:%d" % self.sock.getsockname()[1]
        self.seen = []
        self.lock = threading.Lock()
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with conn:
                with self.lock:
                    self.seen.append(b"")
                    index = len(self.seen) - 1
                conn.settimeout(2)
                data = b""
                try:
                    while b"\r\n\r\n" not in data and len(data) < 65536:
                        chunk = conn.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                    with self.lock:
                        self.seen[index] = data
                    conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\n"
                                 b"Content-Length: 0\r\n"
                                 b"Connection: close\r\n\r\n")
                except OSError:
                    pass

    def connections(self):
        with self.lock:
            return list(self.seen)

    def stop(self):
        self.stopping = True
        self.thread.join(5)
        self.sock.close()


class SudoIgnoresProxy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        make_account(USER)
        cls.iam = IamUser(USER)
        cls.sts = StsServer([cls.iam])
        janitor.add(cls.sts.stop)
        cls.tree = Tree(verify="sts", sts_endpoint=cls.sts.url,
                        sts_timeout=5, failmode="secure")
        janitor.add(cls.tree.cleanup)
        cls.tree.enroll(USER, seed=cls.iam.seed,
                        extra="access_key_id = %s\nsecret_access_key = %s\n"
                        % (cls.iam.key_id, cls.iam.secret))
        auth = "auth required %s config=%s" % (MODULE, cls.tree.conf)
        # The control case's service (pamtest's confdir) and sudo's.
        cls.tree.service("awsmfa", [auth])
        service = "amfa-sudo-proxy-" + TAG
        system_file(os.path.join("/etc/pam.d", service),
                    "#%PAM-1.0\n" + auth + "\n@include common-account\n"
                    "@include common-session-noninteractive\n")
        sudoers_file("amfa-proxy-" + TAG,
                     "Defaults:%s pam_service=%s, pam_login_service=%s\n"
                     "Defaults:%s timestamp_timeout=0, passwd_tries=1, "
                     "!lecture\n"
                     "Defaults:%s env_keep += \"%s\"\n"
                     "%s ALL=(root) /usr/bin/env\n"
                     % (USER, service, service, USER, USER,
                        " ".join(PROXY_VARS), USER))

    def setUp(self):
        state = self.tree.state_file(USER)
        if os.path.exists(state):
            os.unlink(state)
        self.proxy = RecordingProxy()
        self.addCleanup(self.proxy.stop)
        self.proxy_env = {name: self.proxy.url for name in PROXY_VARS}
        self.sts.reset()

    def test_control_not_setuid_follows_the_proxy(self):
        env = dict({"PATH": "/usr/bin:/bin", "LANG": "C"}, **self.proxy_env)
        res = subprocess.run([PAMTEST, self.tree.pamd, "awsmfa", USER],
                             input=totp(self.iam.seed) + "\n", env=env,
                             capture_output=True, text=True, timeout=60)
        seen = self.proxy.connections()
        self.assertTrue(seen, "CONTROL FAILED: outside a set-user-ID program "
                        "the module did not use the environment's proxy, so "
                        "the sudo case proves nothing.\nrc=%d\n%s" %
                        (res.returncode, res.stderr))
        self.assertTrue(seen[0].startswith(
            ("POST %s " % self.sts.url).encode()), seen[0][:200])
        self.assertEqual(self.sts.requests()["total"], 0,
                         "the request went around the proxy")
        self.assertNotEqual(res.returncode, PAM_SUCCESS)

    def test_sudo_ignores_the_callers_proxy(self):
        wait_fresh_step(margin=8)
        # env(1) puts the variables in sudo's own environment, whatever
        # runuser keeps.
        child = pexpect.spawn(
            "/usr/sbin/runuser",
            ["-u", USER, "--", "/usr/bin/env"] +
            ["%s=%s" % kv for kv in sorted(self.proxy_env.items())] +
            ["sudo", "--", "/usr/bin/env"],
            encoding="utf-8", timeout=30,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"})
        entry = janitor.add(child.close, True)
        child.expect_exact(CODE_PROMPT)
        child.sendline(totp(self.iam.seed))
        child.expect(pexpect.EOF)
        out = child.before
        child.close()
        janitor.done(entry)
        self.assertEqual(self.proxy.connections(), [],
                         "sudo's module went through the caller's proxy")
        self.assertEqual(child.exitstatus, 0, out)
        lines = out.replace("\r", "").splitlines()
        self.assertIn("USER=root", lines, out)
        for name in PROXY_VARS:    # offered to the module, and kept
            self.assertIn("%s=%s" % (name, self.proxy.url), lines, out)
        req = self.sts.requests()
        self.assertEqual(req["by_action"].get("GetSessionToken"), 1, req)


def tearDownModule():
    janitor.run()


if __name__ == "__main__":
    main_with_real_sudo([("module", MODULE), ("pamtest", PAMTEST)])
