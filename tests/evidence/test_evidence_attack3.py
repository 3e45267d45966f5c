"""A third attack review of the audit chain and the evidence uploader
(issue 29), as a member of the audit log's group (who may append records
and rewrite the chain head: as_member) or a local user would attack them,
against awsmfa-evidence, amfa_chain_append_anchored (through chain_append,
as the module calls it, as root) and `awsmfa verify-audit'.  As root, in
throwaway directories, set up as tests/evidence/test_evidence.py does.

Found (the tests failed before):
- A malformed chain head (the group may write it) refused every root
  writer's record, every login's, and stopped the uploader's cuts for
  good.  Root's writers now take the head on from the log's last record.
- A second link to the head, made by a member (it may read and write the
  head, so fs.protected_hardlinks lets it link it from any directory of
  its own on the same file system): the writers refused the head, every
  login was refused.  Now a head of more links is taken when the log's
  directory lets no one but root add names (the name LOG.chain cannot be
  a planted link); in a directory the group may add names to, it is still
  refused (a planted link to the log is not written through).

Found, and fixed since by making the head root's alone (0600), the
gateway's records going through the log's root writer
(awsmfa-audit-writer): whoever can open the head can lock it, so the group
must not be able to open it:
- An open-file-description lock (F_OFD_SETLK) on the head has no owning
  process (F_GETLK says pid -1): no writer ends it, and every login was
  refused for as long as the group member held it.
- A pool of the group's processes queued for the head's lock: each is
  ended after a second of holding, the next takes the lock at once, and a
  root writer never got it within its wait.

- A file of a member's own put under the name LOG.anchor.INO (INO the
  log's inode, in a directory the group may add names to) before a rename
  rotation: the old file's anchor could not be kept there, so LOG.anchor
  stayed on the old file for good, and the group could cut root's records
  off the new log's end unseen by verify-audit.  Now such a file is
  replaced by root's anchor.
- A FIFO put under the log's name (in a directory the group may add names
  to, between a rename rotation and the new log's creation) hung the
  uploader for good opening it: now opened without blocking.

Held: a FIFO, a symlink and a file of the group's named like a rotated
log or its anchor, in a log directory the group may add names to
(sticky), neither hang the uploader nor make root delete or write through
them.
"""

import errno
import fcntl
import hashlib
import os
import pwd
import select
import signal
import struct
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import s3rver  # noqa: E402
import test_evidence as base  # noqa: E402
from test_evidence_attack2 import as_member, die_with_parent  # noqa: E402

APPEND = base.APPEND


@unittest.skipIf(os.geteuid() != 0, "needs root")
@unittest.skipIf(s3rver.available() is not None, str(s3rver.available()))
class EvidenceAttack3(base.Evidence):
    # The set-up of test_evidence.py; its own tests are not run again.
    locals().update({n: None for n in dir(base.Evidence) if n.startswith("test")})

    def reap(self, pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass

    def group_log(self):
        """The log written by the group (0660, as in test_evidence_attack2),
        its head and anchor made, two root records in it."""
        grp = pwd.getpwnam("nobody").pw_gid
        os.chown(self.log, 0, grp)
        os.chmod(self.log, 0o660)
        self.assertEqual(self.once().returncode, 0)  # head and anchor
        self.append(2, "before")

    def login(self):
        """A root writer's record, as the module writes it."""
        return subprocess.run([APPEND, self.log, "1", "login"], capture_output=True,
                              text=True, timeout=60)

    def member_child(self, body):
        """Run body(wr) as a member of the group in a child (killed at the
        end); it writes b"r" and what it got to `wr' when set up.  What it
        got."""
        rd, wr = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(rd)
                die_with_parent()
                as_member()
                body(wr)
            except BaseException as e:
                os.write(2, ("member: %r\n" % e).encode())
            finally:
                os._exit(0)
        os.close(wr)
        self.addCleanup(self.reap, pid)
        ready, _, _ = select.select([rd], [], [], 60)
        got = os.read(rd, 256) if ready else b""
        os.close(rd)
        if not ready:
            with open("/proc/%d/stack" % pid) as f:
                sys.stderr.write("member not set up:\n%s\n" % f.read())
        self.assertEqual(got[:1], b"r", "the attack was not set up")
        return got[1:].decode()

    # ------------------------------------------------------------------
    def test_malformed_head_refuses_no_login(self):
        """Garbage in LOG.chain: the group wrote it while the head was
        0660; now the head is root's alone and the group cannot, but a
        head damaged otherwise (a crash, a hand) is the same: root's
        writers take the head on from the log's last record instead of
        refusing every record (every login) and every cut for good."""
        self.group_log()
        r = subprocess.run(["sh", "-c", "printf 'garbage\\n' > %s.chain" % self.log],
                           preexec_fn=as_member, capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0, "the group wrote the chain head")
        with open(self.log + ".chain", "w") as f:
            f.write("garbage\n")
        r = self.login()
        self.assertEqual(r.returncode, 0,
                         "a malformed head written by the audit group refuses a login's "
                         "record: " + r.stderr)
        r = self.once()
        self.assertEqual(r.returncode, 0, r.stderr)
        v = self.verify(self.log)
        self.assertEqual(v.returncode, 0, v.stdout)
        self.assertIn("ok: 3 records", v.stdout)
        v = self.verify(os.path.join(self.spool, "sent"))
        self.assertEqual(v.returncode, 0, v.stdout)

    def test_malformed_head_and_an_empty_log_is_still_refused(self):
        """Nothing to take the head on from (the log just rotated, empty):
        the records are refused as before (fail closed), never chained
        from a made-up start."""
        self.group_log()
        os.rename(self.log, self.log + ".1")
        with open(self.log, "w"):
            pass
        os.chown(self.log, 0, pwd.getpwnam("nobody").pw_gid)
        os.chmod(self.log, 0o660)
        with open(self.log + ".chain", "w") as f:
            f.write("garbage\n")
        r = self.login()
        self.assertNotEqual(r.returncode, 0, "a record chained after a made-up head")
        self.assertEqual(os.path.getsize(self.log), 0)

    # ------------------------------------------------------------------
    def member_lockers(self, how):
        """A member of the group tries to take the head's lock (`how':
        "ofd", an open-file-description lock, which has no process for a
        writer to end; "pool", eight lockers queued behind each other, each
        ended after a second of holding and the next taking it at once).
        What the member got: "locked", or the error of opening the head."""
        head = self.log + ".chain"

        def body(wr):
            try:
                if how == "pool":
                    for _ in range(8):
                        if os.fork() == 0:
                            try:
                                die_with_parent()
                                fd = os.open(head, os.O_RDWR)
                                fcntl.lockf(fd, fcntl.LOCK_EX)
                                while True:
                                    time.sleep(1)
                            finally:
                                os._exit(0)
                fd = os.open(head, os.O_RDWR)
                if how == "ofd":
                    fcntl.fcntl(fd, fcntl.F_OFD_SETLK,
                                struct.pack("hhqqi4x", fcntl.F_WRLCK, 0, 0, 0, 0))
                else:
                    time.sleep(0.5)  # the others queued meanwhile
            except OSError as e:
                os.write(wr, b"r" + (errno.errorcode.get(e.errno) or "?").encode())
                return
            os.write(wr, b"rlocked")
            while True:
                time.sleep(1)
        return self.member_child(body)

    def test_ofd_lock_on_the_head_refuses_no_login(self):
        """An open-file-description lock has no process: F_GETLK gives pid
        -1, break_stopped passes it by, and a member that could open the
        head held every login off for as long as it liked (found by the
        third review).  Now the head is root's alone (0600; the gateway's
        records go through awsmfa-audit-writer): the member cannot open
        it, a head of mode 0660 made before is made 0600 by the first root
        writer, and the gateway's records still get through."""
        self.group_log()
        head = self.log + ".chain"
        self.assertEqual(os.stat(head).st_mode & 0o777, 0o600)
        self.assertEqual(self.member_lockers("ofd"), "EACCES")
        r = self.login()
        self.assertEqual(r.returncode, 0, "an OFD lock on the head refuses logins: " + r.stderr)
        os.chmod(head, 0o660)  # as made before the writer existed
        os.chown(head, 0, pwd.getpwnam("nobody").pw_gid)
        r = self.login()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(os.stat(head).st_mode & 0o777, 0o600, "a 0660 head left as it was")
        self.start_writer()
        self.writer_append(2, "gateway", preexec_fn=as_member)
        v = self.verify(self.log)
        self.assertEqual(v.returncode, 0, v.stdout)
        self.assertIn("ok: 6 records", v.stdout)

    def test_pool_of_queued_lockers_refuses_no_login(self):
        """Eight of the group's processes queued for the head's lock: each
        holder was ended after a second, the next had the lock at once,
        and the root writer's wait (AMFA_CHAIN_LOCK_MS) ran out (found by
        the third review).  Now none of them can open the head."""
        self.group_log()
        self.assertEqual(self.member_lockers("pool"), "EACCES")
        r = self.login()
        self.assertEqual(r.returncode, 0,
                         "a pool of queued lockers refuses logins: " + r.stderr)

    def test_member_hard_link_to_the_head_refuses_no_login(self):
        """The member links the head from a directory of its own on the
        same file system (fs.protected_hardlinks allows it: the member may
        read and write the head): the writers refused a head of two links,
        and every login with it."""
        self.group_log()
        drop = os.path.join(self.dir, "drop")
        os.mkdir(drop)
        os.chmod(drop, 0o1777)
        r = subprocess.run(["ln", self.log + ".chain", os.path.join(drop, "x")],
                           preexec_fn=as_member, capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            self.skipTest("the member may not link the head here: " + r.stderr)
        r = self.login()
        self.assertEqual(r.returncode, 0, "a member's link to the head refuses logins: "
                         + r.stderr)

    def test_member_hard_link_to_a_0660_log_and_rotation(self):
        """The log 0660 (the group reads it too): a member links it from a
        directory of its own, then the log is rotated.  Root's writers
        still write the log, and the uploader still cuts the renamed
        file's end: the bucket's set stays whole."""
        self.group_log()
        self.assertEqual(self.once().returncode, 0)
        self.append(2, "tail")  # seq 3 and 4, not cut
        drop = os.path.join(self.dir, "drop")
        os.mkdir(drop)
        os.chmod(drop, 0o1777)
        r = subprocess.run(["ln", self.log, os.path.join(drop, "x")],
                           preexec_fn=as_member, capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            self.skipTest("the member may not link the log here: " + r.stderr)
        r = self.login()  # seq 5
        self.assertEqual(r.returncode, 0, "a member's link to the log refuses logins: "
                         + r.stderr)
        os.rename(self.log, self.log + ".1")
        with open(self.log, "w"):
            pass
        os.chown(self.log, 0, pwd.getpwnam("nobody").pw_gid)
        os.chmod(self.log, 0o660)
        self.append(1, "new")  # seq 6
        r = self.once()
        self.assertEqual(r.returncode, 0, r.stderr)
        v = self.verify(os.path.join(self.spool, "sent"))
        self.assertEqual(v.returncode, 0, v.stdout + r.stderr)
        self.assertIn("through seq 6", v.stdout)

    def test_head_planted_as_a_link_to_the_log_is_refused(self):
        """In a directory the group may add names to (sticky), a member
        plants LOG.chain before the uploader made it, as a link to the log
        (it may read and write the log): the uploader and the writers
        refuse it (two links), and the log is not written through it."""
        grp = pwd.getpwnam("nobody").pw_gid
        logs = os.path.join(self.dir, "logs")
        os.mkdir(logs)
        os.chown(logs, 0, grp)
        os.chmod(logs, 0o1770)
        self.log = os.path.join(logs, "audit.log")
        first = '{"seq":1,"prev":"%s","event":"the group\'s"}\n' % ("0" * 64)
        with open(self.log, "w") as f:
            f.write(first)
        os.chown(self.log, 0, grp)
        os.chmod(self.log, 0o660)
        self.write_conf()
        r = subprocess.run(["ln", self.log, self.log + ".chain"], preexec_fn=as_member,
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotEqual(self.once().returncode, 0)
        self.assertNotEqual(self.login().returncode, 0)
        with open(self.log) as f:
            self.assertEqual(f.read(), first)

    def test_fifo_planted_as_the_log_between_rename_and_create(self):
        """In a directory the group may add names to (sticky), the log is
        renamed; before root makes the new one a member puts a FIFO under
        the log's name.  The uploader must not hang opening it (a FIFO
        opened to read waits for a writer): it says so and goes on."""
        grp = pwd.getpwnam("nobody").pw_gid
        logs = os.path.join(self.dir, "logs")
        os.mkdir(logs)
        os.chown(logs, 0, grp)
        os.chmod(logs, 0o1770)
        self.log = os.path.join(logs, "audit.log")
        with open(self.log, "w"):
            pass
        os.chown(self.log, 0, grp)
        os.chmod(self.log, 0o660)
        self.write_conf()
        self.assertEqual(self.once().returncode, 0)  # head and anchor
        self.append(2, "cut")
        os.rename(self.log, self.log + ".1")
        r = subprocess.run(["mkfifo", self.log], preexec_fn=as_member,
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        try:
            r = subprocess.run([base.EVIDENCE, "--config", self.conf, "--once"],
                               capture_output=True, text=True, timeout=30)
        except subprocess.TimeoutExpired:
            self.fail("a FIFO planted as the log hangs the uploader")
        self.assertIn("not a regular file", r.stderr)

    def test_anchor_name_planted_before_rotation(self):
        """In a directory the group may add names to (sticky), a member
        plants LOG.anchor.INO, INO the log's inode, before the log is
        renamed: root's writer cannot keep the old file's anchor there, and
        LOG.anchor must still follow the new log, so that the group cutting
        a root record off the new log's end is named."""
        grp = pwd.getpwnam("nobody").pw_gid
        logs = os.path.join(self.dir, "logs")
        os.mkdir(logs)
        os.chown(logs, 0, grp)
        os.chmod(logs, 0o1770)
        self.log = os.path.join(logs, "audit.log")
        with open(self.log, "w"):
            pass
        os.chown(self.log, 0, grp)
        os.chmod(self.log, 0o660)
        self.write_conf()
        self.assertEqual(self.once().returncode, 0)  # head and anchor
        self.append(2, "old")  # seq 1 and 2, anchored
        ino = os.stat(self.log).st_ino
        r = subprocess.run(["sh", "-c", "umask 077; : > %s.anchor.%d" % (self.log, ino)],
                           preexec_fn=as_member, capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        old = self.log + ".1"
        os.rename(self.log, old)
        with open(self.log, "w"):
            pass
        os.chown(self.log, 0, grp)
        os.chmod(self.log, 0o660)
        self.append(2, "new")  # seq 3 and 4, root's
        with open(self.log + ".anchor") as f:
            self.assertEqual(int(f.read().split()[0]), os.stat(self.log).st_ino,
                             "the anchor stayed on the old file")
        with open(self.log, "rb") as f:
            lines = f.read().splitlines()
        keep = len(lines[0]) + 1
        prev = hashlib.sha256(lines[0]).hexdigest()
        r = subprocess.run(["sh", "-c", "printf '3 %s\\n' > %s.chain" % (prev, self.log)],
                           preexec_fn=as_member, capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0, "the group rewrote the head (root's alone)")
        r = subprocess.run(["truncate", "-s", str(keep), self.log],
                           preexec_fn=as_member, capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)  # the group may
        v = self.verify(old, self.log)
        self.assertNotEqual(v.returncode, 0,
                            "root's seq 4 cut off the new log unseen: " + v.stdout)

    # ------------------------------------------------------------------
    def test_planted_fifo_symlink_and_anchor_names_in_a_sticky_log_dir(self):
        """The log in a directory the group may add names to (sticky, so
        not remove root's): a FIFO and a file of the member's own named
        like rotated logs, a symlink named like a rotated file's anchor
        pointing at a root file, and a rotation.  The uploader neither
        hangs on the FIFO nor removes or writes the symlink's target, and
        the bucket's set stays whole."""
        grp = pwd.getpwnam("nobody").pw_gid
        logs = os.path.join(self.dir, "logs")
        os.mkdir(logs)
        os.chown(logs, 0, grp)
        os.chmod(logs, 0o1770)
        self.log = os.path.join(logs, "audit.log")
        with open(self.log, "w"):
            pass
        os.chown(self.log, 0, grp)
        os.chmod(self.log, 0o660)
        self.write_conf()
        self.assertEqual(self.once().returncode, 0)  # head and anchor
        self.append(2, "cut")
        self.assertEqual(self.once().returncode, 0)
        self.append(2, "tail")
        victim = os.path.join(self.dir, "victim")
        with open(victim, "w") as f:
            f.write("root's own\n")
        os.chmod(victim, 0o600)
        ino = os.stat(self.log).st_ino
        r = subprocess.run(
            ["sh", "-c", "mkfifo %s/audit.log.0 && ln -s %s %s/audit.log.anchor.%d && "
             "ln -s %s %s/audit.log.anchor.999999999 && "
             "printf '{\"seq\":5,\"prev\":\"%s\",\"x\":1}\\n' > %s/audit.log.9"
             % (logs, victim, logs, ino + 1, victim, logs, "0" * 64, logs)],
            preexec_fn=as_member, capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        os.rename(self.log, self.log + ".1")
        with open(self.log, "w"):
            pass
        os.chown(self.log, 0, grp)
        os.chmod(self.log, 0o660)
        self.append(1, "new")  # seq 5
        r = self.once()  # a FIFO opened to read without O_NONBLOCK hangs it (timeout)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(victim) as f:
            self.assertEqual(f.read(), "root's own\n")
        self.assertEqual(os.stat(victim).st_mode & 0o7777, 0o600)
        v = self.verify(os.path.join(self.spool, "sent"))
        self.assertEqual(v.returncode, 0, v.stdout + r.stderr)
        self.assertIn("through seq 5", v.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
