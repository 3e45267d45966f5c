"""A second attack review of the audit chain's defences (issue 29), as a
local user would attack them, against awsmfa-evidence, amfa_chain_append
(through chain_append) and `awsmfa verify-audit'.  As root, in throwaway
directories, set up as tests/evidence/test_evidence.py does.

Found and fixed (the tests failed before):
- A lock holder the user keeps from running, without it ever being seen
  stopped for a second (continued and at once stopped again, while it waits
  for a CPU behind the user's own busy loop): it held the head's lock for
  good, and every login's record was refused.  Now a holder that is not
  root's is ended after a second of holding, whatever its state.
- verify-audit of the log's own directory read the head and the anchor as
  records (a break on an untouched log) and never checked the anchor.
- A record torn by its writer's death inside write(2) was glued to the next
  one: the chain broke there for good, as if the log had been tampered
  with.  The torn part is now cut off under the lock.

Holes found here and closed since (audit_rotation.h): the rename rotation
the man page asks for lost the old log's records since the last cut (the
bucket's set broke at every rotation), and the audit group could cut the
renamed log's end, root's records too, unseen by verify-audit of it (the
anchor had followed the new file).  Now the uploader finds the old file by
its inode and cuts it to its end first, and the old file's anchor is kept
as LOG.anchor.INO, found by inode whatever the file is called.

Defences that hold: a record that would cross the writer's file size limit
is not begun (no cut line, the chain goes on); a holder in a ptrace stop
(state t) is ended; the audit group editing a record of root's and
chaining all after it anew is named by the anchor; a link planted as the
anchor is refused, and the record with it (fail closed); a user cannot
hard-link the head, the anchor or the log to make the writers refuse them
(the kernel's fs.protected_hardlinks = 1).
"""

import ctypes
import fcntl
import hashlib
import os
import pwd
import re
import resource
import select
import shutil
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import s3rver  # noqa: E402
import test_evidence as base  # noqa: E402

APPEND = base.APPEND
nobody_run = base.nobody_run


def proc_state(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(") ", 1)[1][0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return "X"


def die_with_parent():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


def as_nobody():
    nb = pwd.getpwnam("nobody")
    os.setgroups([])
    os.setgid(nb.pw_gid)
    os.setuid(nb.pw_uid)


def as_member():
    """nobody, in the log's group (nobody's: the tests give the log to
    it), as the gateway writes the log."""
    nb = pwd.getpwnam("nobody")
    os.setgroups([nb.pw_gid])
    os.setgid(nb.pw_gid)
    os.setuid(nb.pw_uid)


@unittest.skipIf(os.geteuid() != 0, "needs root")
@unittest.skipIf(s3rver.available() is not None, str(s3rver.available()))
class EvidenceAttack2(base.Evidence):
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

    def records(self, path=None):
        with open(path or self.log, "rb") as f:
            return f.read().splitlines()

    # ------------------------------------------------------------------
    @unittest.skipIf(len(os.sched_getaffinity(0)) < 2, "needs two CPUs")
    def test_holder_kept_from_running_but_never_seen_stopped(self):
        # The gateway (set-group-ID: real and effective uid the user's)
        # holds the head's lock for a few microseconds of its own CPU
        # time.  Its user may signal it, pin it to a CPU
        # (sched_setaffinity) and make it SCHED_IDLE (sched_setscheduler):
        # the kernel allows all three for a process of the caller's uid
        # (for su, set-user-ID root, it refuses the last two).  The user's
        # busy loop on that CPU, and whenever the gateway shows stopped:
        # SIGCONT and at once SIGSTOP.  It is then runnable (state R),
        # waiting for the CPU, with the stop pending, which it takes before
        # it runs an instruction of its own: it never gets on with its
        # append, and break_stopped, which wants it seen stopped for a
        # second, never ends it.  Root's writers (the module's logins, the
        # uploader's cuts) wait AMFA_CHAIN_LOCK_MS and are refused: one
        # user denies every login.
        self.assertEqual(self.once().returncode, 0)  # makes the chain head
        nb = pwd.getpwnam("nobody")
        locked_r, locked_w = os.pipe()
        go_r, go_w = os.pipe()
        holder = os.fork()
        if holder == 0:  # the gateway inside amfa_chain_append, lock held
            try:
                os.close(locked_r)
                os.close(go_w)
                fd = os.open(self.log + ".chain", os.O_RDWR)
                fcntl.lockf(fd, fcntl.LOCK_EX)
                os.setgroups([])
                os.setresgid(nb.pw_gid, nb.pw_gid, nb.pw_gid)  # its group given up
                os.setresuid(nb.pw_uid, nb.pw_uid, nb.pw_uid)  # the user's
                os.write(locked_w, b"x")
                os.read(go_r, 1)
                # The rest of its append: 20 ms of CPU, far more than it
                # needs.  Then the lock goes with the process.
                t = time.process_time()
                while time.process_time() - t < 0.02:
                    pass
            finally:
                os._exit(0)
        os.close(locked_w)
        os.close(go_r)
        self.addCleanup(self.reap, holder)
        self.assertEqual(os.read(locked_r, 1), b"x")
        os.close(locked_r)
        ready_r, ready_w = os.pipe()
        attacker = os.fork()
        if attacker == 0:  # the local user
            try:
                os.close(ready_r)
                die_with_parent()
                as_nobody()
                os.sched_setaffinity(0, {1})
                os.kill(holder, signal.SIGSTOP)
                hog = os.fork()
                if hog == 0:
                    os.close(ready_w)
                    die_with_parent()
                    os.sched_setaffinity(0, {0})
                    while True:
                        pass
                os.sched_setaffinity(holder, {0})
                os.sched_setscheduler(holder, os.SCHED_IDLE, os.sched_param(0))
                while proc_state(holder) != "T":
                    pass
                os.write(go_w, b"g")  # its append may go on: if it runs
                os.write(ready_w, b"r")
                end = time.monotonic() + 12
                while time.monotonic() < end:
                    if proc_state(holder) in "Tt":
                        os.kill(holder, signal.SIGCONT)
                        os.kill(holder, signal.SIGSTOP)
                os.kill(hog, signal.SIGKILL)
            except BaseException as e:
                os.write(2, ("attacker: %r\n" % e).encode())
            finally:
                os._exit(0)
        os.close(ready_w)
        os.close(go_w)
        self.addCleanup(self.reap, attacker)
        self.assertTrue(select.select([ready_r], [], [], 30)[0])
        self.assertEqual(os.read(ready_r, 1), b"r", "the attack was not set up")
        os.close(ready_r)
        # Another login's record meanwhile (root's writer, the module).
        r = subprocess.run([APPEND, self.log, "1", "another-login"], capture_output=True,
                           text=True, timeout=60)
        state = proc_state(holder)
        self.assertEqual(r.returncode, 0,
                         "a user kept their gateway from running while it held the chain "
                         "lock, never stopped for a second: another login's record was "
                         "refused (holder state %s): %s" % (state, r.stderr))

    # ------------------------------------------------------------------
    def rotate(self, gateway=0):
        """Records cut and uploaded, two more (root's, anchored), and
        `gateway' records of the audit group's (not anchored), then the
        log rotated as awsmfa-evidence(8) asks: renamed, a new file
        started."""
        grp = pwd.getpwnam("nobody").pw_gid
        os.chown(self.log, 0, grp)
        os.chmod(self.log, 0o660)
        self.assertEqual(self.once().returncode, 0)  # head and anchor
        self.append(2, "cut")
        self.assertEqual(self.once().returncode, 0)
        self.append(2, "tail")  # seq 3 and 4, anchored
        if gateway:
            self.member_append(gateway, "gateway")
        old = self.log + ".1"
        os.rename(self.log, old)
        with open(self.log, "w"):
            pass
        os.chown(self.log, 0, grp)
        os.chmod(self.log, 0o660)
        return old

    def test_rename_rotation_keeps_the_bucket_set_whole(self):
        old = self.rotate()
        time.sleep(1.1)  # the next segment's name, a second later
        self.append(1, "new")  # seq 5, in the new log
        r = self.once()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(self.records(old)), 4)
        sent = os.path.join(self.spool, "sent")
        v = self.verify(sent)
        self.assertEqual(v.returncode, 0,
                         "the rotation the man page asks for lost the old log's "
                         "records since the last cut from the bucket: " + v.stdout
                         + r.stderr)

    def test_rotated_log_cut_by_the_audit_group_is_named(self):
        old = self.rotate()
        self.append(1, "new")  # the next login, into the new log
        lines = self.records(old)
        self.assertEqual(len(lines), 4)
        keep = sum(len(x) + 1 for x in lines[:2])
        r = subprocess.run(["truncate", "-s", str(keep), old], preexec_fn=as_member,
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)  # the group may
        v = self.verify(old)
        self.assertNotEqual(v.returncode, 0,
                            "root's records 3 and 4 cut from the rotated log by the "
                            "audit group, and verify-audit of it says: " + v.stdout)

    def member_append(self, n, tag):
        """Records as the gateway writes them: sent by the audit group to
        the log's root writer (awsmfa-audit-writer), which chains them (and
        moves the anchor on, as root)."""
        if getattr(self, "writer", None) is None or self.writer.poll() is not None:
            self.start_writer()
        self.writer_append(n, tag, preexec_fn=as_member)

    def test_rotated_logs_gateway_records_cut_after_upload_are_named(self):
        """The gateway's records (no anchor of their own) at the end of
        the file the log was rotated to: once the uploader has cut that
        file whole, its anchor (LOG.anchor.INO) names its last record, and
        the audit group cutting them is named by verify-audit of the file,
        under its new name."""
        old = self.rotate(gateway=2)  # seq 5 and 6, the gateway's
        self.append(1, "new")  # seq 7, the new log: root's
        r = self.once()
        self.assertEqual(r.returncode, 0, r.stderr)
        sent = os.path.join(self.spool, "sent")
        v = self.verify(sent)
        self.assertEqual(v.returncode, 0, v.stdout + r.stderr)
        ino = os.stat(old).st_ino
        self.assertTrue(os.path.exists("%s.anchor.%d" % (self.log, ino)))
        v = self.verify(old)
        self.assertEqual(v.returncode, 0, "untouched: " + v.stdout)
        lines = self.records(old)
        self.assertEqual(len(lines), 6)
        keep = sum(len(x) + 1 for x in lines[:4])
        r = subprocess.run(["truncate", "-s", str(keep), old], preexec_fn=as_member,
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        v = self.verify(old)
        self.assertNotEqual(v.returncode, 0, v.stdout)
        self.assertIn("no longer holds seq 6", v.stdout)

    def test_rotated_log_gone_before_its_end_was_cut(self):
        """The file the log was rotated to is deleted (or compressed into
        a new file) before the uploader cut its end: the uploader says
        so, goes on with the new log, and sweeps the old file's anchor; the
        bucket's set shows the gap (verify-audit names it), never hides
        it."""
        old = self.rotate()
        ino = os.stat(old).st_ino
        self.append(1, "new")  # seq 5: the old anchor kept as LOG.anchor.INO
        self.assertTrue(os.path.exists("%s.anchor.%d" % (self.log, ino)))
        os.unlink(old)
        r = self.once()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("no file beside it is the old one", r.stderr)
        self.assertFalse(os.path.exists("%s.anchor.%d" % (self.log, ino)))
        sent = os.path.join(self.spool, "sent")
        names = os.listdir(sent)
        self.assertTrue(any(n.startswith("audit-") and
                            "-%020d-%020d-" % (5, 5) in n for n in names), names)
        v = self.verify(sent)
        self.assertNotEqual(v.returncode, 0, v.stdout)
        self.assertIn("break", v.stdout)

    def test_rotated_log_gone_and_the_new_one_empty_is_said_once(self):
        """The renamed file deleted before its end was cut, and nothing
        written to the new log yet: said at the first run, not at every
        run after."""
        old = self.rotate()
        os.unlink(old)
        r = self.once()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("no file beside it is the old one", r.stderr)
        r = self.once()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("no file beside it is the old one", r.stderr)

    def test_rotated_log_ending_in_a_torn_record_does_not_stop_the_uploads(self):
        """A writer that died inside write(2) left part of a record at the
        end of the file the log was rotated to: the uploader cuts the
        whole records before it, passes the part (said), and goes on with
        the new log in the same run; the bucket's set is whole."""
        old = self.rotate()
        with open(old, "ab") as f:
            f.write(b'{"seq":5,"prev":"00')
        self.append(1, "new")  # seq 5 (the head never saw the torn one)
        r = self.once()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("ends in part of a record", r.stderr)
        sent = os.path.join(self.spool, "sent")
        v = self.verify(sent)
        self.assertEqual(v.returncode, 0, v.stdout + r.stderr)
        self.assertIn("through seq 5", v.stdout)

    def test_two_rotations_between_cuts_lose_nothing(self):
        """The log renamed twice before the uploader ran again (it was
        stopped, say): the file its state names (now audit.log.2), then
        the one the chain went on in (audit.log.1), then the log: all
        three in one run, the bucket's set whole."""
        old = self.rotate()  # seq 3 and 4 in audit.log.1, not cut
        self.append(2, "middle")  # seq 5 and 6, in the new log
        grp = pwd.getpwnam("nobody").pw_gid
        os.rename(old, self.log + ".2")
        os.rename(self.log, old)
        with open(self.log, "w"):
            pass
        os.chown(self.log, 0, grp)
        os.chmod(self.log, 0o660)
        self.append(1, "newest")  # seq 7
        r = self.once()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("the chain goes on in audit.log.1", r.stderr)
        v = self.verify(os.path.join(self.spool, "sent"))
        self.assertEqual(v.returncode, 0, v.stdout + r.stderr)
        self.assertIn("through seq 7", v.stdout)

    def test_rotation_of_a_log_cut_before_its_chain_began(self):
        """Records from before the log had a chain head (no seq), cut, then
        the log renamed: the uploader goes on with the new log (no chain
        to follow from one file to the next)."""
        with open(self.log, "w") as f:
            f.write('{"event":"old","n":1}\n{"event":"old","n":2}\n')
        self.assertEqual(self.once().returncode, 0)
        os.rename(self.log, self.log + ".1")
        with open(self.log, "w"):
            pass
        self.append(1, "chained")  # seq 1
        r = self.once()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(any("-%020d-%020d-" % (1, 1) in n
                            for n in self.sent_segments()), r.stderr)

    def test_another_file_with_the_rotated_logs_inode_is_not_uploaded(self):
        """The file the log was rotated to is deleted and its inode
        number given to another file beside the log (here: the state made
        to name another file's inode, the same to the uploader): that
        file's bytes never go to the bucket; it is said, and the new log
        goes on."""
        old = self.rotate()
        other = os.path.join(self.dir, "other.log")
        with open(other, "w") as f:
            f.write("not-audit secret line\n" * 2000)
        grp = pwd.getpwnam("nobody").pw_gid
        os.chown(other, 0, grp)
        os.chmod(other, 0o660)
        state = os.path.join(self.spool, "audit.state")
        with open(state) as f:
            fields = f.read().split()
        self.assertEqual(int(fields[0]), os.stat(old).st_ino)
        os.unlink(old)
        fields[0] = str(os.stat(other).st_ino)
        with open(state, "w") as f:
            f.write(" ".join(fields) + "\n")
        self.append(1, "new")  # seq 5
        r = self.once()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("has the inode of the log the last cut was of, but "
                      "not its records", r.stderr)
        sent = os.path.join(self.spool, "sent")
        for name in os.listdir(sent):
            with open(os.path.join(sent, name), "rb") as f:
                self.assertNotIn(b"secret", f.read(), name)
        self.assertTrue(any("-%020d-%020d-" % (5, 5) in n
                            for n in self.sent_segments()))

    def chained(self, n, pad):
        """n chained records of about `pad' bytes each, as the writers
        make them (audit_chain.h), written to the log at once, and the
        head moved on to the last: a backlog."""
        with open(self.log + ".chain") as f:
            text = f.read().split()
        seq, prev = (int(text[0]), text[1]) if text else (0, "0" * 64)
        out = []
        for _ in range(n):
            seq += 1
            line = '{"seq":%d,"prev":"%s","event":"test","pad":"%s"}' % (
                seq, prev, "p" * pad)
            prev = hashlib.sha256(line.encode()).hexdigest()
            out.append(line + "\n")
        with open(self.log, "a") as f:
            f.write("".join(out))
        with open(self.log + ".chain", "r+") as f:
            f.write("%d %s\n" % (seq, prev))
            f.truncate()
        return seq

    def sent_segments(self):
        sent = os.path.join(self.spool, "sent")
        return sorted(n for n in os.listdir(sent) if n.startswith("audit-"))

    def test_backlog_bigger_than_a_segment_goes_in_one_run(self):
        """More than one segment's worth (16 MiB) since the last cut: one
        run cuts it in segments, the lock let go between them, and the
        bucket's set is whole."""
        self.assertEqual(self.once().returncode, 0)  # head and anchor
        last = self.chained(18 * 1024, 1000)  # about 18 MiB
        r = self.once()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(self.sent_segments()), 2, self.sent_segments())
        v = self.verify(os.path.join(self.spool, "sent"))
        self.assertEqual(v.returncode, 0, v.stdout)
        self.assertIn("through seq %d" % last, v.stdout)

    def test_a_segments_worth_without_a_line_end_does_not_stop_the_cuts(self):
        """The audit group writes more than a segment's worth with no
        newline into the log (no record is that long): it goes up as it is
        and is named by verify-audit; the cuts go on past it."""
        self.assertEqual(self.once().returncode, 0)  # head and anchor
        grp = pwd.getpwnam("nobody").pw_gid
        os.chown(self.log, 0, grp)
        os.chmod(self.log, 0o660)
        self.append(1, "before")
        with open(self.log, "ab") as f:
            f.write(b"x" * (17 * 1024 * 1024) + b"\n")
        self.append(1, "after")  # seq 2
        r = self.once()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.append(1, "later")  # seq 3
        r = self.once()
        self.assertEqual(r.returncode, 0, r.stderr)
        names = self.sent_segments()
        self.assertTrue(any("-%020d-%020d-" % (3, 3) in n for n in names),
                        names)
        v = self.verify(os.path.join(self.spool, "sent"))
        self.assertNotEqual(v.returncode, 0, v.stdout)
        self.assertIn("break", v.stdout)

    # ------------------------------------------------------------------
    def test_verify_of_the_logs_directory(self):
        logs = os.path.join(self.dir, "logs")
        os.mkdir(logs, 0o755)
        self.log = os.path.join(logs, "audit.log")
        with open(self.log, "w"):
            pass
        os.chmod(self.log, 0o600)
        self.write_conf()
        self.assertEqual(self.once().returncode, 0)  # head and anchor
        self.append(3, "kept")
        v = self.verify(logs)
        self.assertEqual(v.returncode, 0,
                         "verify-audit of the log's directory, untouched: " + v.stdout)
        lines = self.records()
        self.append(2, "incriminating")
        with open(self.log, "r+b") as f:
            f.truncate(sum(len(x) + 1 for x in lines))
        v = self.verify(logs)
        self.assertIn("records were cut from its end", v.stdout)

    # ------------------------------------------------------------------
    def test_record_torn_by_its_writers_death_is_taken_away(self):
        # A writer killed inside its write(2) (SIGKILL between two pages of
        # the copy: its own user's kill -9 of the gateway, the OOM killer,
        # a hard RLIMIT_CPU; or the host crashing) leaves part of its line
        # at the log's end, the head not moved.  catch_up only knows a
        # whole line: the next record is glued to the torn one, and the
        # chain breaks there for good, which reads as tampering.  The torn
        # part is emulated here: what amfa_chain_line would begin with.
        self.assertEqual(self.once().returncode, 0)
        self.append(2, "before")
        with open(self.log + ".chain") as f:
            seq, hexd = f.read().split()
        torn = '{"seq":%d,"prev":"%s","event":"test","ta' % (int(seq) + 1, hexd)
        with open(self.log, "a") as f:
            f.write(torn)
        self.append(2, "after")
        v = self.verify(self.log)
        self.assertEqual(v.returncode, 0,
                         "a torn record at the log's end breaks the chain for "
                         "good: " + v.stdout)

    # ------------------------------------------------------------------
    def test_file_size_limit_leaves_no_cut_record(self):
        # su runs with the user's RLIMIT_FSIZE: the record that would
        # cross it is not begun, and SIGXFSZ does not end the writer
        # halfway through a line.
        self.assertEqual(self.once().returncode, 0)
        self.append(3, "before")
        size = os.path.getsize(self.log)

        def limit():
            resource.setrlimit(resource.RLIMIT_FSIZE, (size + 40, size + 40))
        r = subprocess.run([APPEND, self.log, "1", "limited"], preexec_fn=limit,
                           capture_output=True, text=True, timeout=60)
        self.assertNotEqual(r.returncode, 0)
        self.assertNotEqual(r.returncode, -signal.SIGXFSZ)
        self.assertEqual(os.path.getsize(self.log), size)
        self.append(1, "after")
        v = self.verify(self.log)
        self.assertEqual(v.returncode, 0, v.stdout)
        self.assertIn("ok: 4 records", v.stdout)

    def test_traced_stopped_holder_is_ended(self):
        # A holder in a ptrace stop (state t, not T): ended all the same.
        self.assertEqual(self.once().returncode, 0)
        libc = ctypes.CDLL(None, use_errno=True)
        rd, wr = os.pipe()
        holder = os.fork()
        if holder == 0:
            try:
                os.close(rd)
                fd = os.open(self.log + ".chain", os.O_RDWR)
                fcntl.lockf(fd, fcntl.LOCK_EX)
                os.write(wr, b"x")
                while True:
                    time.sleep(1)
            finally:
                os._exit(0)
        os.close(wr)
        self.addCleanup(self.reap, holder)
        self.assertEqual(os.read(rd, 1), b"x")
        os.close(rd)
        self.assertEqual(libc.ptrace(ctypes.c_long(16), ctypes.c_int(holder), None, None), 0,
                         "PTRACE_ATTACH: %d" % ctypes.get_errno())
        os.waitpid(holder, 0)  # its attach stop
        self.assertEqual(proc_state(holder), "t")
        r = subprocess.run([APPEND, self.log, "1", "another-login"], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, "a traced holder refuses everyone: " + r.stderr)
        _, status = os.waitpid(holder, 0)
        self.assertTrue(os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL)
        v = self.verify(self.log)
        self.assertEqual(v.returncode, 0, v.stdout)

    def test_audit_group_rechaining_roots_records_is_named(self):
        # The audit group edits a record root wrote and chains every
        # record after it anew (the chain has no key), head and all, the
        # log's length unchanged: the chain verifies, the anchor does not.
        grp = pwd.getpwnam("nobody").pw_gid
        os.chown(self.log, 0, grp)
        os.chmod(self.log, 0o660)
        self.assertEqual(self.once().returncode, 0)
        self.append(4, "root")  # the module's: anchored at seq 4
        lines = self.records()
        new = [lines[0], lines[1].replace(b'"n":1', b'"n":7')]
        self.assertNotEqual(new[1], lines[1])
        for line in lines[2:]:
            prev = hashlib.sha256(new[-1]).hexdigest().encode()
            new.append(re.sub(rb'"prev":"[0-9a-f]{64}"', b'"prev":"' + prev + b'"', line,
                              count=1))
        forged = os.path.join(self.dir, "forged")
        with open(forged, "wb") as f:
            f.write(b"".join(x + b"\n" for x in new))
        os.chmod(forged, 0o644)
        head = "%d %s\n" % (len(new), hashlib.sha256(new[-1]).hexdigest())
        # The head is root's alone (0600): the group cannot rewrite it
        # (awsmfa-audit-writer(8)); it rewrites the log all the same.
        r = subprocess.run(["sh", "-c", "printf '%s' > %s.chain"
                            % (head.replace("\n", "\\n"), self.log)],
                           preexec_fn=as_member, capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0, "the group rewrote the chain head")
        r = subprocess.run(["sh", "-c", "cat %s > %s" % (forged, self.log)],
                           preexec_fn=as_member, capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)  # the group may
        with open(self.log, "rb") as f:
            self.assertIn(b'"n":7', f.read())
        # The chain alone (a copy without the anchor beside it) verifies.
        bare = os.path.join(self.dir, "bare.log")
        shutil.copy(self.log, bare)
        v = self.verify(bare)
        self.assertEqual(v.returncode, 0, v.stdout)
        v = self.verify(self.log)
        self.assertNotEqual(v.returncode, 0, "a re-chained log verifies: " + v.stdout)
        self.assertIn("records were cut from its end", v.stdout)
        self.append(1, "later")  # root's next record keeps the anchor
        v = self.verify(self.log)
        self.assertNotEqual(v.returncode, 0, v.stdout)

    def test_user_hard_link_cannot_make_the_head_refused(self):
        # The head, the anchor and the log are refused with a second link
        # (nlink 1): a user who could link them from a directory of their
        # own on the same file system would refuse every login.  The kernel
        # stops that with fs.protected_hardlinks = 1 (a file one may not
        # read and write); with 0, this fails.
        self.assertEqual(self.once().returncode, 0)
        drop = os.path.join(self.dir, "drop")
        os.mkdir(drop)
        os.chmod(drop, 0o1777)
        for suffix in (".chain", ".anchor", ""):
            r = nobody_run(["ln", self.log + suffix, os.path.join(drop, "x" + suffix)])
            self.assertNotEqual(r.returncode, 0, "a user linked %s" % (self.log + suffix))
        r = subprocess.run([APPEND, self.log, "1", "login"], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_planted_anchor_link_refused(self):
        self.assertEqual(self.once().returncode, 0)
        self.append(1, "one")
        anchor = self.log + ".anchor"
        decoy = os.path.join(self.dir, "decoy")
        shutil.copy(anchor, decoy)
        os.chmod(decoy, 0o600)
        os.unlink(anchor)
        os.symlink(decoy, anchor)
        with open(decoy) as f:
            before = f.read()
        r = subprocess.run([APPEND, self.log, "1", "two"], capture_output=True, text=True,
                           timeout=60)
        self.assertNotEqual(r.returncode, 0, "a record written through a linked anchor")
        self.assertIn("anchor", r.stderr)
        with open(decoy) as f:
            self.assertEqual(f.read(), before)
        v = self.verify(self.log)
        self.assertNotEqual(v.returncode, 0, v.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
