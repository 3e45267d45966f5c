"""awsmfa-audit-writer, the chained audit log's root writer for the
set-group-ID gateway's records (awsmfa-audit-writer(8)), against the real
program, as root in throwaway directories set up as test_evidence.py does
(the log root:nogroup 0660, its head and anchor made by awsmfa-evidence's
first run).  The clients are writer_append (the gateway's own calls,
amfa_audit_writer_connect and amfa_audit_writer_send) and, for what the
gateway never sends, a raw SOCK_SEQPACKET socket.

- the socket is root's, of the log's group, 0660; a member's records are
  chained and anchored (root writes them), the log verifies;
- a process that reaches the socket through a supplementary group, but has
  not the log's group as its effective one, is refused, and writes nothing;
- what is not one JSON object on one line (parsed whole, one member at
  least, UTF-8, no control character, none of the chain's own names), or is
  longer than a record, is answered with an error, not written, and the
  connection goes on; a record that does not name its sender ("uid", the
  connection's own) is refused unless the connection is root's;
- a user's 65th connection is refused while root's are taken;
- a listener at LOG.writer that is not root's is not used (the gateway's
  records would go nowhere), nor is a missing one;
- SIGTERM: the socket is removed, exit 0.
"""

import errno
import json
import os
import pwd
import signal
import socket
import stat
import struct
import subprocess
import sys
import textwrap
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import s3rver  # noqa: E402
import test_evidence as base  # noqa: E402

NOBODY = pwd.getpwnam("nobody")
OTHER_GID = 1  # daemon: not the log's group

# Run as a member (or not): connect to argv[1], send each message of the
# JSON list on stdin, print the answers (an errno, or "closed").
RAW = textwrap.dedent(r"""
    import json, socket, struct, sys
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(30)
    s.connect(sys.argv[1])
    for m in json.load(sys.stdin):
        try:
            s.send(m.encode("latin-1"))
            a = s.recv(16)
        except OSError as e:
            print("closed %s" % e.__class__.__name__)
            break
        if len(a) != 4:
            print("closed")
            break
        print(struct.unpack("i", a)[0])
""")


def member():
    os.setgroups([NOBODY.pw_gid])
    os.setgid(NOBODY.pw_gid)
    os.setuid(NOBODY.pw_uid)


def supplementary_only():
    """The log's group as a supplementary group only: the socket's mode
    lets it connect, the writer must not take it."""
    os.setgroups([NOBODY.pw_gid])
    os.setgid(OTHER_GID)
    os.setuid(NOBODY.pw_uid)


@unittest.skipIf(os.geteuid() != 0, "needs root")
@unittest.skipIf(s3rver.available() is not None, str(s3rver.available()))
class AuditWriter(base.Evidence):
    # The set-up of test_evidence.py; its own tests are not run again.
    locals().update({n: None for n in dir(base.Evidence) if n.startswith("test")})

    def setUp(self):
        super().setUp()
        os.chown(self.log, 0, NOBODY.pw_gid)
        os.chmod(self.log, 0o660)
        self.assertEqual(self.once().returncode, 0)  # head and anchor
        self.sock = self.log + ".writer"

    def raw(self, messages, preexec_fn=member):
        r = subprocess.run([sys.executable, "-c", RAW, self.sock], input=json.dumps(messages),
                           preexec_fn=preexec_fn, capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.split("\n")[:-1]

    def records(self):
        with open(self.log, "rb") as f:
            return f.read().splitlines()

    def test_members_records_chained_anchored_by_root(self):
        self.start_writer()
        st = os.lstat(self.sock)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual((st.st_uid, st.st_gid, st.st_mode & 0o777), (0, NOBODY.pw_gid, 0o660))
        head = os.stat(self.log + ".chain")
        self.assertEqual((head.st_uid, head.st_mode & 0o777), (0, 0o600))
        self.append(1, "module")
        r = self.writer_append(3, "gateway", preexec_fn=member)
        self.assertEqual(r.stdout.split(), ["sent", "0", "sent", "1", "sent", "2"])
        lines = self.records()
        self.assertEqual(len(lines), 4)
        self.assertTrue(all(x.startswith(b'{"seq":%d,"prev":"' % (i + 1))
                            for i, x in enumerate(lines)), lines)
        # Root wrote them: the anchor is on the last one.
        with open(self.log + ".anchor") as f:
            ino, end, seq = f.read().split()[:3]
        self.assertEqual((int(ino), int(end), int(seq)),
                         (os.stat(self.log).st_ino, os.path.getsize(self.log), 4))
        v = self.verify(self.log)
        self.assertEqual(v.returncode, 0, v.stdout)
        self.assertIn("ok: 4 records", v.stdout)

    def test_supplementary_group_is_not_enough(self):
        self.start_writer()
        r = self.writer_append(1, "intruder", preexec_fn=supplementary_only, check=False)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertNotIn("sent", r.stdout)
        self.assertEqual(self.records(), [])
        # The writer said why, and goes on.
        self.writer.send_signal(signal.SIGTERM)
        self.assertEqual(self.writer.wait(timeout=30), 0)
        self.assertIn("not root, and not the log's group", self.writer.stderr.read())

    def test_bad_records_answered_not_written(self):
        self.start_writer()
        u = NOBODY.pw_uid
        good = '{"event":"test","uid":%d,"n":1}' % u
        bad, big, perm = str(errno.EINVAL), str(errno.EMSGSIZE), str(errno.EPERM)
        got = self.raw(['{"event":"a"}\n{"event":"b"}', "[1,2]", '{"a":"b"} ', "x" * 5000,
                        '{"a":"' + "y" * 5000 + '"}', '{"a":"\x00"}', "{}", '{"a":1}{"b":2}',
                        '{"a":}', '{"seq":1}', '{"x":1,"prev":"00"}', '{"a":"\xe9"}',
                        '{"a":"\x1b[2J","uid":%d}' % u,
                        '{"event":"x"}', '{"event":"x","uid":0}', '{"event":"x","uid":"%d"}' % u,
                        '{"a":"\\u00e9","uid":%d}' % u,
                        '{"a":"%s","uid":%d}' % ("\u00e9".encode().decode("latin-1"), u),
                        good])
        self.assertEqual(got, [bad, bad, bad, big, big, bad, bad, bad, bad, bad, bad, bad, bad,
                               perm, perm, perm, "0", "0", "0"])
        # Root's records name no sender.
        self.assertEqual(self.raw(['{"event":"root"}'], preexec_fn=None), ["0"])
        lines = self.records()
        self.assertEqual(len(lines), 4, lines)
        self.assertTrue(lines[2].endswith(b',"event":"test","uid":%d,"n":1}' % u), lines)
        v = self.verify(self.log)
        self.assertEqual(v.returncode, 0, v.stdout)

    def test_a_users_connections_are_capped_roots_are_not(self):
        self.start_writer()
        hold = textwrap.dedent(r"""
            import os, socket, sys, time
            socks = []
            for i in range(70):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                s.connect(sys.argv[1])
                socks.append(s)
            time.sleep(1)
            ok = 0
            for s in socks:
                s.settimeout(10)
                try:
                    s.send(b'{"e":"cap","uid":%d}' % os.getuid())
                    ok += len(s.recv(4)) == 4
                except OSError:
                    pass
            print(ok)
        """)
        r = subprocess.run([sys.executable, "-c", hold, self.sock], preexec_fn=member,
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), "64")
        self.assertEqual(self.raw(['{"e":"root"}'], preexec_fn=None), ["0"])
        self.assertEqual(len(self.records()), 65)

    def test_no_writer_or_one_not_roots_is_not_used(self):
        r = self.writer_append(1, "nowhere", preexec_fn=member, check=False)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("cannot reach the audit writer", r.stderr)
        # A listener bound there and listening as another user (a member
        # of the group where it may add names beside the log).
        rd, wr = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(rd)
                s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                s.bind(self.sock)
                os.chmod(self.sock, 0o666)
                os.setgroups([])
                os.setresgid(NOBODY.pw_gid, NOBODY.pw_gid, NOBODY.pw_gid)
                os.setresuid(NOBODY.pw_uid, NOBODY.pw_uid, NOBODY.pw_uid)
                s.listen(8)
                os.write(wr, b"r")
                while True:
                    c, _ = s.accept()
                    c.recv(8192)
                    c.send(struct.pack("i", 0))
            finally:
                os._exit(0)
        os.close(wr)
        self.addCleanup(lambda: (os.kill(pid, signal.SIGKILL), os.waitpid(pid, 0)))
        self.assertEqual(os.read(rd, 1), b"r")
        os.close(rd)
        r = self.writer_append(1, "planted", preexec_fn=member, check=False)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("is not root's", r.stderr)

    def test_sigterm_removes_the_socket(self):
        w = self.start_writer()
        w.send_signal(signal.SIGTERM)
        self.assertEqual(w.wait(timeout=30), 0)
        self.assertFalse(os.path.lexists(self.sock))


if __name__ == "__main__":
    unittest.main(verbosity=2)
