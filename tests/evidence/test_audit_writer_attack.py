"""An attack review of the audit chain's root writer (awsmfa-audit-writer)
and the gateway's path to it, as a member of the audit log's group (who may
connect to LOG.writer: as_member) would attack it, against the real writer
and the client calls the gateway makes (writer_append).  As root, in
throwaway directories, set up as tests/evidence/test_evidence.py does.

Found (the tests failed before):
- A descriptor passed in a record's message (SCM_RIGHTS) is released by the
  writer when it takes the message (or when it closes the connection with
  the message still queued): a TCP socket with unsent data and SO_LINGER
  blocks the releasing process in close(2) for as long as its linger time.
  A member passing one stopped the writer's one thread for good, and every
  gateway record with it (no record, no session).  Now a message that
  carries a descriptor is never taken, and such a connection is closed in
  a child that exits at once (an exiting process never lingers).
- Records through the writer filled the log's file system to root's last
  64 KiB (root writes them, past quotas and the reserve; the gateway keeps
  a floor, a member who connects without it did not), and the module then
  found no room for a login's record: every login refused.  Now the writer
  keeps the gateway's floor for every record that is not root's.
- A member who opened the chain head while it was 0660 (before the
  upgrade) kept the descriptor after root's chmod to 0600, and locked the
  head through it (F_OFD_SETLK): every login refused.  Now such a head is
  replaced by a new file of root's, 0600.
- Sixteen uids holding their 64 connections each took all 1000 of the
  writer's, and every other user's gateway session was refused (any local
  user can hold connections: the set-group-ID gateway connects first, and
  its user may stop it).  Now, when all are held, a newcomer takes the
  place of the oldest connection of the user who holds the most.
"""

import fcntl
import os
import pwd
import signal
import socket
import stat
import struct
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import s3rver  # noqa: E402
import test_evidence as base  # noqa: E402
from test_evidence_attack2 import as_member  # noqa: E402
import test_evidence_attack3 as attack3  # noqa: E402 (not its class: unittest would run it here)

# A python other users may run (the tests' own may be under root's home).
PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


@unittest.skipIf(os.geteuid() != 0, "needs root")
@unittest.skipIf(s3rver.available() is not None, str(s3rver.available()))
class AuditWriterAttack(attack3.EvidenceAttack3):
    # The set-up of test_evidence.py and attack3's member_child; their own
    # tests are not run again.
    locals().update({n: None for n in dir(attack3.EvidenceAttack3) if n.startswith("test")})

    def chained_log(self):
        """The log 0640 root:group (nobody's group, as the gateway's),
        chained (head and anchor made), two root records in it, and its
        writer running."""
        os.chown(self.log, 0, pwd.getpwnam("nobody").pw_gid)
        os.chmod(self.log, 0o640)
        self.assertEqual(self.once().returncode, 0)  # head and anchor
        self.append(2, "before")
        self.start_writer()

    def connect_writer(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.connect(self.log + ".writer")
        return s

    def verify_ok(self, n):
        v = self.verify(self.log)
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        self.assertIn("ok: %d records" % n, v.stdout)

    @staticmethod
    def lingering_socket():
        """A TCP socket on the loopback whose peer never reads: its send
        buffer full, SO_LINGER an hour, so the close(2) that releases it
        waits (the listener is returned: it must stay open)."""
        lsn = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        lsn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        lsn.bind(("127.0.0.1", 0))
        lsn.listen(1)
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        t.connect(lsn.getsockname())
        t.setblocking(False)
        try:
            while True:
                t.send(b"x" * 65536)
        except BlockingIOError:
            pass
        t.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 3600))
        return lsn, t

    # ------------------------------------------------------------------
    def passed_lingering_socket(self, how):
        """A member passes the writer a lingering TCP socket (SCM_RIGHTS)
        with a record (`how' "take": and waits; "close": and closes the
        connection at once, the message still queued; "before-accept":
        sent before the writer accepts, from a connection over the
        member's share, refused and closed unread)."""
        self.chained_log()
        log = self.log

        def body(wr):
            lsn, t = self.lingering_socket()
            conns = []
            if how == "before-accept":
                for _ in range(64):  # the member's share
                    c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                    c.connect(log + ".writer")
                    conns.append(c)
                    c.send(b'{"event":"share","uid":%d}' % os.getuid())
                    c.recv(4)
            # Its in-flight message holds it once sent, and it is closed
            # at once.  When the writer was quicker, that close is the
            # last one and lingers: cut short.
            signal.signal(signal.SIGALRM, lambda *a: None)
            for _ in range(100):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                s.connect(log + ".writer")
                signal.setitimer(signal.ITIMER_REAL, 2)
                try:
                    s.sendmsg([b'{"event":"member","uid":%d}' % os.getuid()],
                              [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                struct.pack("i", t.fileno()))])
                    break
                except (BrokenPipeError, ConnectionResetError):
                    # Refused (over the share) before it was sent: again.
                    s.close()
            else:
                os.write(wr, b"rnot sent")
                return
            try:
                t.close()
            except OSError:
                pass
            signal.setitimer(signal.ITIMER_REAL, 0)
            if how == "close":
                s.close()
            os.write(wr, b"rsent")
            while True:
                time.sleep(1)
        got = self.member_child(body)
        if got == "not sent":
            self.skipTest("the writer refused each connection before its message came")
        self.assertEqual(got, "sent")
        # Records after it (another user's: the member's share may be
        # used up): written, as every session's must be.
        r = self.writer_append(2, "gateway", check=False)
        self.assertEqual(r.returncode, 0,
                         "a descriptor passed to the writer stopped it: " + r.stdout + r.stderr)
        self.assertIsNone(self.writer.poll())

    def test_passed_lingering_socket_taken(self):
        self.passed_lingering_socket("take")
        self.verify_ok(4)

    def test_passed_lingering_socket_left_queued(self):
        self.passed_lingering_socket("close")
        self.verify_ok(4)

    def test_passed_lingering_socket_before_accept(self):
        self.passed_lingering_socket("before-accept")
        self.verify_ok(2 + 64 + 2)

    # ------------------------------------------------------------------
    def test_member_flood_leaves_the_floor_for_logins(self):
        """A member sends records as fast as the writer takes them: root
        writes them (outside any quota, into root's reserve), and the log's
        file system filled to its last byte, where the module's records
        (every login's: no record, no login) found no room.  The gateway
        keeps to a floor (size / 40, at most 256 MiB) itself, but a member
        connects without it.  Now the writer keeps the same floor for
        every record that is not root's."""
        fs = os.path.join(self.dir, "fs")
        os.mkdir(fs)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0755", "tmpfs", fs],
                       check=True)
        self.addCleanup(subprocess.run, ["umount", "-l", fs])
        self.log = os.path.join(fs, "audit.log")
        for name, mode in ((self.log, 0o640), (self.log + ".chain", 0o600),
                           (self.log + ".anchor", 0o600)):
            with open(name, "w"):
                pass
            os.chmod(name, mode)
        os.chown(self.log, 0, pwd.getpwnam("nobody").pw_gid)
        self.write_conf(audit_log=self.log)
        self.append(1, "before")
        self.start_writer()
        log = self.log

        def body(wr):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            s.connect(log + ".writer")
            n, pad = 0, 4000
            while n < 10000:
                s.send(b'{"event":"flood","uid":%d,"pad":"' % os.getuid() + b"x" * pad + b'"}')
                err = struct.unpack("i", s.recv(4))[0]
                if err == 0:
                    n += 1
                elif pad == 0:
                    break
                else:  # smaller ones, to the last byte
                    pad //= 2
            os.write(wr, b"r%d %d" % (n, err))
            while True:
                time.sleep(1)
        got = self.member_child(body).split()
        self.assertNotEqual(got[1], "0", "the writer took 10000 records in 8 MB")
        vfs = os.statvfs(fs)
        free = vfs.f_bavail * vfs.f_frsize
        # What the module asks before a login (amfa_audit_ready): a record
        # and AMFA_APPEND_SLACK.
        self.assertGreaterEqual(free, 4096 + 65536,
                                "a member's records through the writer filled the log's "
                                "file system (%d bytes left after %s records)" % (free, got[0]))
        r = subprocess.run([base.APPEND, self.log, "1", "login"], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.verify_ok(1 + int(got[0]) + 1)

    # ------------------------------------------------------------------
    def test_head_opened_while_0660_is_no_lock_for_the_member(self):
        """A head made before the writer existed (0660 root:group) is made
        0600 by the first root writer, but a member who opened it before
        (any time before the upgrade) keeps that descriptor: it took an
        open-file-description lock through it after the chmod, and every
        login's record was refused for as long as it liked (issue 29
        again).  Now a head the group could open is replaced by a new file
        (root's, 0600): the old descriptor locks a file no writer uses."""
        os.chown(self.log, 0, pwd.getpwnam("nobody").pw_gid)
        os.chmod(self.log, 0o640)
        self.assertEqual(self.once().returncode, 0)  # head and anchor
        self.append(2, "before")
        head = self.log + ".chain"
        os.chmod(head, 0o660)  # as made before the writer existed
        os.chown(head, 0, pwd.getpwnam("nobody").pw_gid)
        go_rd, go_wr = os.pipe()

        def body(wr):
            fd = os.open(head, os.O_RDWR)
            os.write(wr, b"ropened")
            os.read(go_rd, 1)  # after the upgrade
            try:
                fcntl.fcntl(fd, fcntl.F_OFD_SETLK,
                            struct.pack("hhqqi4x", fcntl.F_WRLCK, 0, 0, 0, 0))
                os.write(2, b"member: locked\n")
            except OSError as e:
                os.write(2, b"member: %s\n" % str(e).encode())
            while True:
                time.sleep(1)
        self.assertEqual(self.member_child(body), "opened")
        r = subprocess.run([base.APPEND, self.log, "1", "login"], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(os.stat(head).st_mode & 0o777, 0o600, "a 0660 head left as it was")
        os.write(go_wr, b"g")
        time.sleep(0.5)  # the member's lock (if any) is in place: not a timing assert
        r = subprocess.run([base.APPEND, self.log, "1", "login"], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0,
                         "a member's descriptor of the head from before the upgrade "
                         "locks every login out: " + r.stderr)
        self.start_writer()
        self.writer_append(1, "gateway", preexec_fn=as_member)
        self.verify_ok(2 + 2 + 1)

    # ------------------------------------------------------------------
    HOLDER = """
import os, socket, sys, time
log, n = sys.argv[1], int(sys.argv[2])
held = []
for i in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(log + ".writer")
    try:
        s.send(b'{"event":"hold","uid":%d}' % os.getuid())
        if len(s.recv(4)) != 4:
            break
    except OSError:
        break
    held.append(s)
print(len(held), flush=True)
while True:
    time.sleep(1)
"""

    def test_sixteen_uids_of_the_group_hold_every_connection(self):
        """Sixteen users with the group as their effective one (local users
        each running the set-group-ID gateway and stopping it once it has
        connected, or members) each hold their share of connections (64):
        the writer's 1000 were taken, and every other user's gateway
        session was refused (found by the review).  Now a newcomer takes
        the place of the oldest connection of the user holding the most
        (awsmfa-audit-writer(8), SECURITY CONSIDERATIONS)."""
        self.chained_log()
        gid = pwd.getpwnam("nobody").pw_gid
        held = 0
        for i in range(16):
            def become(uid=61000 + i):
                os.setgroups([gid])
                os.setgid(gid)
                os.setuid(uid)
            p = subprocess.Popen([PY, "-c", self.HOLDER, self.log, "64"],
                                 preexec_fn=become, stdout=subprocess.PIPE, text=True)
            self.addCleanup(p.wait)
            self.addCleanup(p.kill)
            held += int(p.stdout.readline() or 0)
            p.stdout.close()
        self.assertGreaterEqual(held, 1000)

        def other():
            os.setgroups([gid])
            os.setgid(gid)
            os.setuid(62000)
        r = self.writer_append(1, "gateway", preexec_fn=other, check=False)
        self.assertEqual(r.returncode, 0,
                         "16 uids of the group holding their shares refuse every other "
                         "session's records: " + r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
