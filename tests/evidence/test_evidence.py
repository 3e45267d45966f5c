"""awsmfa-evidence against a real S3 (s3rver, tests/fixtures/s3rver.py)
behind the checking front (tests/fixtures/s3_front.py: SigV4, the SHA-256
checksum, the Object Lock headers, If-None-Match, fault injection), with
the audit records written by amfa_chain_append (the function the module's
and the gateway's audit call, through chain_append) and `awsmfa
verify-audit'.  As root, in throwaway directories.

- Audit segments and recordings arrive byte for byte (downloaded with the
  real AWS CLI), under keys that sort by host and time and name the user
  and session, each with its lock mode and retain-until date; the chain
  verifies across the downloaded segments; a record deleted or edited in
  the downloaded set is named (FILE:LINE) by verify-audit.
- S3 stopped while ten sessions' recordings and their records pile up: all
  arrive once S3 is back, none twice; with refusals, 500s, 503s, dropped
  connections, slow answers and answers lost after the store, the same.
  Nothing is removed before it is confirmed, and with remove_after_upload
  = yes it is removed after.
- A recording still held by its recorder (its flock) waits.
- Attacks: a link, a hard link and a FIFO planted among the recordings are
  left alone (the FIFO does not hang the uploader); a local user cannot
  signal, trace or set limits on the uploader; the config and the key
  file must be root's.
"""

import fcntl
import hashlib
import json
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import unittest

import pexpect

import s3_front
import s3rver

EVIDENCE = os.environ.get("AMFA_EVIDENCE_PROGRAM", "")
ADMIN = os.environ.get("AMFA_ADMIN_PROGRAM", "")
APPEND = os.environ.get("AMFA_CHAIN_APPEND", "")
WRITER = os.environ.get("AMFA_AUDIT_WRITER", "")
WRITER_APPEND = os.environ.get("AMFA_WRITER_APPEND", "")
AKID, SECRET = "AKIDEVIDENCETEST0001", "evidence-test-secret-0123456789abcdef"
BUCKET = "evidence"
HOST = "bastion-7"


def wait_for(cond, timeout=60.0, step=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    return cond()


def nobody_run(argv):
    nb = pwd.getpwnam("nobody")

    def drop():
        os.setgroups([])
        os.setgid(nb.pw_gid)
        os.setuid(nb.pw_uid)
    return subprocess.run(argv, preexec_fn=drop, capture_output=True, text=True, timeout=30)


@unittest.skipIf(os.geteuid() != 0, "needs root")
@unittest.skipIf(s3rver.available() is not None, str(s3rver.available()))
class Evidence(unittest.TestCase):
    def setUp(self):
        self.s3 = s3rver.S3rver([BUCKET])
        self.addCleanup(self.s3.close)
        self.front = s3_front.Front(self.s3.port, {AKID: SECRET})
        self.addCleanup(self.front.close)
        self.dir = tempfile.mkdtemp(prefix="evidence.")
        self.addCleanup(shutil.rmtree, self.dir, True)
        os.chmod(self.dir, 0o755)
        self.log = os.path.join(self.dir, "audit.log")
        self.rec = os.path.join(self.dir, "recordings")
        self.spool = os.path.join(self.dir, "spool")
        os.mkdir(self.rec, 0o700)
        with open(self.log, "w"):
            pass
        os.chmod(self.log, 0o600)
        self.keyfile = os.path.join(self.dir, "key")
        with open(self.keyfile, "w") as f:
            f.write("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
                    % (AKID, SECRET))
        os.chmod(self.keyfile, 0o600)
        self.conf = os.path.join(self.dir, "evidence.conf")
        self.write_conf()
        self.daemon = None

    def write_conf(self, **extra):
        settings = {"bucket_url": "%s/%s" % (self.front.url, BUCKET), "region": "us-east-1",
                    "host": HOST, "audit_log": self.log, "recording_dir": self.rec,
                    "spool_dir": self.spool, "key_file": self.keyfile,
                    "retention_mode": "COMPLIANCE", "retention_days": "30",
                    "segment_seconds": "1", "poll_seconds": "1",
                    "backoff_max_seconds": "2", "upload_timeout_seconds": "10"}
        settings.update(extra)
        with open(self.conf, "w") as f:
            for k, v in settings.items():
                f.write("%s = %s\n" % (k, v))
        os.chmod(self.conf, 0o600)

    def once(self):
        return subprocess.run([EVIDENCE, "--config", self.conf, "--once"],
                              capture_output=True, text=True, timeout=120)

    def start_daemon(self):
        self.daemon = subprocess.Popen([EVIDENCE, "--config", self.conf],
                                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.PIPE, text=True)
        self.addCleanup(self.stop_daemon)

    def stop_daemon(self):
        if self.daemon is not None and self.daemon.poll() is None:
            self.daemon.send_signal(signal.SIGTERM)
            try:
                self.daemon.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait()
        if self.daemon is not None:
            self.daemon.stderr.close()

    def append(self, n, tag):
        r = subprocess.run([APPEND, self.log, str(n), tag], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)

    def start_writer(self):
        """The log's root writer (awsmfa-audit-writer), listening at
        LOG.writer, for the gateway's records."""
        sock = self.log + ".writer"
        self.writer = subprocess.Popen([WRITER, "--config", self.conf],
                                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.PIPE, text=True)

        def stop(w=self.writer):
            if w.poll() is None:
                w.send_signal(signal.SIGTERM)
                try:
                    w.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    w.kill()
                    w.wait()
            w.stderr.close()
        self.addCleanup(stop)
        self.assertTrue(wait_for(lambda: os.path.exists(sock) and
                                 stat.S_ISSOCK(os.lstat(sock).st_mode)
                                 or self.writer.poll() is not None, 30))
        self.assertIsNone(self.writer.poll(), "the writer did not start")
        return self.writer

    def writer_append(self, n, tag, preexec_fn=None, check=True):
        """Records as the gateway sends them, through the log's root
        writer (as the user `preexec_fn' makes of this process)."""
        r = subprocess.run([WRITER_APPEND, self.log, str(n), tag], preexec_fn=preexec_fn,
                           capture_output=True, text=True, timeout=120)
        if check:
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r

    def recording(self, user, session, body=None):
        name = "%s-20261206T0%05dZ-%s.cast" % (user, 1000 + session, session)
        path = os.path.join(self.rec, name)
        body = body or ('{"version": 2, "width": 80, "height": 24, "title": "%s %s"}\n'
                        '[0.25, "o", "hello from %s\\r\\n"]\n' % (user, session, session))
        with open(path, "w") as f:
            f.write(body)
        return name, body

    def stored(self):
        return self.front.stats()["stored"]

    def aws(self, *args):
        env = dict(os.environ, AWS_ACCESS_KEY_ID=AKID, AWS_SECRET_ACCESS_KEY=SECRET,
                   AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE="/dev/null",
                   AWS_SHARED_CREDENTIALS_FILE="/dev/null")
        for k in ("AWS_PROFILE", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
            env.pop(k, None)
        r = subprocess.run(["aws", "--endpoint-url", self.front.url] + list(args),
                           capture_output=True, text=True, env=env, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def verify(self, *paths):
        return subprocess.run([ADMIN, "verify-audit"] + list(paths), capture_output=True,
                              text=True, timeout=60)

    # ------------------------------------------------------------------
    def test_arrive_byte_for_byte_and_chain_verifies(self):
        self.assertEqual(self.once().returncode, 0)  # makes the chain head
        self.append(4, "first")
        self.assertEqual(self.once().returncode, 0)
        self.append(3, "second")
        name, body = self.recording("alice", 4242)
        r = self.once()
        self.assertEqual(r.returncode, 0, r.stderr)
        stored = self.stored()
        keys = sorted(stored)
        # Two segments, each with its seal, and the recording.
        self.assertEqual(len(keys), 5, keys)
        rec_key = "/%s/recordings/%s/20261206T005242Z-alice-4242.cast" % (BUCKET, HOST)
        self.assertIn(rec_key, stored)
        audit_keys = [k for k in keys if "/audit/%s/" % HOST in k and k.endswith(".jsonl")]
        self.assertEqual(len(audit_keys), 2)
        seal_keys = [k for k in keys if "/audit/%s/" % HOST in k and k.endswith(".seal")]
        self.assertEqual([k[:-len(".seal")] for k in seal_keys],
                         [k[:-len(".jsonl")] for k in audit_keys])
        # Keys sort by host and time; the segments name their seq span.
        self.assertTrue(audit_keys[0].endswith("-00000000000000000001-00000000000000000004.jsonl"))
        self.assertTrue(audit_keys[1].endswith("-00000000000000000005-00000000000000000007.jsonl"))
        for k in keys:
            self.assertEqual(stored[k]["mode"], "COMPLIANCE")
            until = time.mktime(time.strptime(stored[k]["until"], "%Y-%m-%dT%H:%M:%SZ"))
            self.assertLess(abs(until - time.mktime(time.gmtime()) - 30 * 86400), 3600)
            self.assertEqual(stored[k]["puts"], 1)
        # Downloaded with the AWS CLI: the recording byte for byte, and
        # asciinema reads it back.
        out = os.path.join(self.dir, "down")
        self.aws("s3", "cp", "--recursive", "s3://%s/" % BUCKET, out)
        got = os.path.join(out, "recordings", HOST, "20261206T005242Z-alice-4242.cast")
        with open(got) as f:
            self.assertEqual(f.read(), body)
        # asciinema cat wants a terminal.
        play = pexpect.spawn("asciinema", ["cat", got], encoding="utf-8", timeout=30,
                             env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
                                  "HOME": self.dir})
        play.expect(pexpect.EOF)
        play.close()
        self.assertEqual(play.exitstatus, 0, play.before)
        self.assertIn("hello from 4242", play.before)
        # The segments are the log, in order; the chain verifies.
        seg_dir = os.path.join(out, "audit", HOST)
        segs = sorted(n for n in os.listdir(seg_dir) if n.endswith(".jsonl"))
        data = b"".join(open(os.path.join(seg_dir, s), "rb").read() for s in segs)
        self.assertEqual(data, open(self.log, "rb").read())
        r = self.verify(seg_dir)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("ok: 7 records (through seq 7) in 2 files", r.stdout)
        # Each segment names the last digest of the one before.
        first_lines = open(os.path.join(seg_dir, segs[1])).readline()
        last_of_first = open(os.path.join(seg_dir, segs[0])).read().splitlines()[-1]
        self.assertIn('"prev":"%s"' % hashlib.sha256(last_of_first.encode()).hexdigest(),
                      first_lines)
        head = self.aws("s3api", "head-object", "--bucket", BUCKET, "--key",
                        "audit/%s/%s" % (HOST, segs[1]))
        self.assertIn(hashlib.sha256(last_of_first.encode()).hexdigest(), head)
        # A record edited in the downloaded set: named by the record after it.
        edited = os.path.join(self.dir, "edited")
        shutil.copytree(seg_dir, edited)
        p = os.path.join(edited, segs[0])
        lines = open(p).read().splitlines(True)
        lines[1] = lines[1].replace('"n":1', '"n":9')
        open(p, "w").write("".join(lines))
        r = self.verify(edited)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("%s:3: break: seq 3 does not carry the digest of seq 2" % p, r.stdout)
        # A record deleted: the gap is named.
        deleted = os.path.join(self.dir, "deleted")
        shutil.copytree(seg_dir, deleted)
        p = os.path.join(deleted, segs[1])
        lines = open(p).read().splitlines(True)
        del lines[1]
        open(p, "w").write("".join(lines))
        r = self.verify(deleted)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("%s:2: break: seq 7 follows seq 5: records missing" % p, r.stdout)
        # A whole segment missing: the same.
        os.unlink(os.path.join(edited, segs[0]))
        r = self.verify(edited)
        self.assertEqual(r.returncode, 1, r.stdout)
        # (the first file then starts at seq 5: its prev is not the chain's
        # start, and no earlier record carries it)
        self.assertNotIn("ok:", r.stdout)

    def test_outage_ten_sessions_all_arrive_none_twice(self):
        self.assertEqual(self.once().returncode, 0)
        self.front.stop_data()
        self.s3.stop()
        self.start_daemon()
        names = []
        for i in range(10):
            self.append(2, "session%d" % i)
            names.append(self.recording("user%d" % i, 5000 + i)[0])
        # Through the outage they wait on disk: the log cut into the queue
        # (whenever a loaded machine lets the daemon's pass come), nothing
        # removed.
        self.assertTrue(wait_for(lambda: os.listdir(os.path.join(self.spool, "queue")), 60))
        self.assertEqual(sorted(os.listdir(self.rec)), sorted(names))
        self.s3.start()
        self.front.start_data()
        self.assertTrue(wait_for(lambda: len([k for k in self.stored()
                                              if "/recordings/" in k]) == 10, 90),
                        self.front.stats())
        self.assertTrue(wait_for(lambda: not os.listdir(os.path.join(self.spool, "queue")), 60))
        stored = self.stored()
        self.assertTrue(all(v["puts"] == 1 for v in stored.values()), stored)
        out = os.path.join(self.dir, "down")
        self.aws("s3", "cp", "--recursive", "s3://%s/audit/" % BUCKET, out)
        r = self.verify(os.path.join(out, HOST))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("through seq 20", r.stdout)

    def test_faults_retried_nothing_lost_nothing_twice(self):
        self.write_conf(remove_after_upload="yes")
        self.assertEqual(self.once().returncode, 0)
        for kind in ("refuse", "error500", "error503", "drop", "slow", "lost"):
            self.front.fault(kind)
        names = [self.recording("carol", 7000 + i)[0] for i in range(4)]
        self.append(3, "faults")
        self.start_daemon()
        self.assertTrue(wait_for(lambda: len(self.stored()) >= 5 and
                                 not os.listdir(self.rec) and
                                 not os.listdir(os.path.join(self.spool, "queue")), 120),
                        self.front.stats())
        stats = self.front.stats()
        self.assertEqual(stats["faults"], 6)
        self.assertTrue(all(v["puts"] == 1 for v in stats["stored"].values()), stats)
        self.assertEqual(len([k for k in stats["stored"] if "/recordings/" in k]), 4)
        # Removed only after the upload; nothing kept in sent/.
        self.assertEqual(os.listdir(os.path.join(self.spool, "sent")), [])
        del names

    def test_refused_upload_waits_and_is_not_removed(self):
        self.write_conf(remove_after_upload="yes")
        with open(self.keyfile, "w") as f:
            f.write("[default]\naws_access_key_id = %s\naws_secret_access_key = wrong\n" % AKID)
        name, _ = self.recording("dave", 8001)
        r = self.once()
        self.assertEqual(r.returncode, 1)
        self.assertIn("SignatureDoesNotMatch", r.stderr)
        self.assertEqual(os.listdir(self.rec), [name])
        self.assertEqual(self.stored(), {})
        self.write_conf(remove_after_upload="yes")
        with open(self.keyfile, "w") as f:
            f.write("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
                    % (AKID, SECRET))
        r = self.once()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(os.listdir(self.rec), [])
        self.assertEqual(len(self.stored()), 1)

    def test_recording_in_progress_waits(self):
        import fcntl
        name, _ = self.recording("erin", 9001)
        fd = os.open(os.path.join(self.rec, name), os.O_WRONLY | os.O_APPEND)
        fcntl.flock(fd, fcntl.LOCK_EX)
        self.assertEqual(self.once().returncode, 0)
        self.assertEqual([k for k in self.stored() if "/recordings/" in k], [])
        os.write(fd, b'[1.0, "o", "more"]\n')
        os.close(fd)
        self.assertEqual(self.once().returncode, 0)
        self.assertEqual(len([k for k in self.stored() if "/recordings/" in k]), 1)

    def test_planted_links_and_fifo_left_alone(self):
        secret = os.path.join(self.dir, "secret.cast")
        with open(secret, "w") as f:
            f.write("root's secret\n")
        os.symlink(secret, os.path.join(self.rec, "mallory-20261206T000001Z-1.cast"))
        os.link(secret, os.path.join(self.rec, "mallory-20261206T000002Z-2.cast"))
        os.mkfifo(os.path.join(self.rec, "mallory-20261206T000003Z-3.cast"))
        name, _ = self.recording("frank", 9100)
        # And in the queue (root's 0700: only root could), a link named
        # as a segment.
        self.assertEqual(self.once().returncode, 0)
        os.symlink(secret, os.path.join(self.spool, "queue", "audit-20261206T000000Z-"
                                        "%020d-%020d-%s" % (1, 1, "0" * 64)))
        r = self.once()
        self.assertEqual(r.returncode, 0, r.stderr)
        keys = [k for k in self.stored() if "/recordings/" in k]
        self.assertEqual(keys, ["/%s/recordings/%s/20261206T010100Z-frank-9100.cast"
                                % (BUCKET, HOST)])
        self.assertIn("not a regular file with one link", r.stderr)
        self.assertNotIn("/audit/", " ".join(self.stored()))
        self.assertIn("a link: left alone", r.stderr)

    def test_local_user_cannot_signal_trace_or_limit(self):
        self.start_daemon()
        time.sleep(1)
        pid = str(self.daemon.pid)
        r = nobody_run(["kill", "-STOP", pid])
        self.assertNotEqual(r.returncode, 0)
        r = nobody_run(["kill", "-KILL", pid])
        self.assertNotEqual(r.returncode, 0)
        r = nobody_run(["prlimit", "--pid", pid, "--nofile=1:1"])
        self.assertNotEqual(r.returncode, 0)
        r = nobody_run([sys.executable, "-c",
                        "import ctypes,sys; l=ctypes.CDLL(None,use_errno=True);"
                        "sys.exit(0 if l.ptrace(16, %s, 0, 0) == 0 else 1)" % pid])
        self.assertEqual(r.returncode, 1)
        self.assertIsNone(self.daemon.poll())
        # Nor read its memory through /proc (not dumpable).
        st = os.stat("/proc/%s/mem" % pid)
        self.assertEqual(st.st_uid, 0)

    def test_stopped_lock_holder_does_not_refuse_everyone(self):
        # The attack review (issue 29): a local user may stop (SIGSTOP) a
        # set-user-ID su, or their own set-group-ID gateway: the real uid
        # is theirs.  Stopped inside amfa_chain_append, the process keeps
        # the head's POSIX lock for good, and every other login's record
        # then waits AMFA_CHAIN_LOCK_MS and is refused (no record, no
        # service): one user denies everyone.  /proc/locks (world-readable)
        # tells the user when the stopped process holds it.
        self.assertEqual(self.once().returncode, 0)  # makes the chain head
        su = subprocess.Popen(["su", "root", "-c", "true"], stdin=subprocess.PIPE,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              preexec_fn=lambda: (os.setgroups([]),
                                                  os.setgid(pwd.getpwnam("nobody").pw_gid),
                                                  os.setuid(pwd.getpwnam("nobody").pw_uid)))
        self.addCleanup(su.wait)
        self.addCleanup(su.kill)
        time.sleep(0.5)
        r = nobody_run(["kill", "-STOP", str(su.pid)])
        self.assertEqual(r.returncode, 0, "the user can stop a set-user-ID su")
        nobody_run(["kill", "-CONT", str(su.pid)])
        # That su, stopped while it holds the chain lock (held here by a
        # stopped child for determinism).
        rd, wr = os.pipe()
        holder = os.fork()
        if holder == 0:
            os.close(rd)
            fd = os.open(self.log + ".chain", os.O_RDWR)
            fcntl.lockf(fd, fcntl.LOCK_EX)
            os.write(wr, b"x")
            os.kill(os.getpid(), signal.SIGSTOP)
            os._exit(0)
        os.close(wr)
        os.read(rd, 1)
        os.close(rd)

        def reap():
            try:
                os.kill(holder, signal.SIGKILL)
                os.waitpid(holder, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        self.addCleanup(reap)
        self.assertTrue(wait_for(lambda: open("/proc/%d/stat" % holder).read()
                                 .split(") ")[1][0] == "T", timeout=10))
        r = subprocess.run([APPEND, self.log, "1", "another-login"], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0,
                         "a stopped user process holding the chain lock refuses "
                         "everyone's records: " + r.stderr)
        # The holder was ended, and the chain still verifies.
        self.assertTrue(wait_for(lambda: os.waitpid(holder, os.WNOHANG)[0] == holder, 10))
        v = self.verify(self.log)
        self.assertEqual(v.returncode, 0, v.stdout)

    def test_audit_group_cannot_rewrite_records_not_yet_cut(self):
        # The attack review (issue 29): the audit group (the gateway's)
        # may append to the log, but mode 0660 lets it also cut the log
        # short and re-chain what follows (the chain has no key): records
        # not yet cut vanish and verify-audit finds nothing wrong.
        grp_gid = pwd.getpwnam("nobody").pw_gid
        os.chown(self.log, 0, grp_gid)
        os.chmod(self.log, 0o660)
        self.assertEqual(self.once().returncode, 0)  # makes the chain head
        self.append(3, "kept")
        self.assertEqual(self.once().returncode, 0)
        self.append(3, "incriminating")
        with open(self.log, "rb") as f:
            lines = f.read().split(b"\n")[:3]
        cut = sum(len(x) + 1 for x in lines)
        digest = hashlib.sha256(lines[2]).hexdigest()
        nb = pwd.getpwnam("nobody")

        def member():
            os.setgroups([grp_gid])
            os.setgid(nb.pw_gid)
            os.setuid(nb.pw_uid)
        # The head is root's alone now (0600): the member cannot take it
        # back to the cut; it cuts the log all the same.
        r = subprocess.run(["sh", "-c", "printf '3 %s\\n' > %s.chain" % (digest, self.log)],
                           preexec_fn=member, capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0, "the group rewrote the chain head")
        self.assertIn("Permission denied", r.stderr)
        r = subprocess.run(["truncate", "-s", str(cut), self.log], preexec_fn=member,
                           capture_output=True, text=True, timeout=30)
        self.append(1, "later")  # the next login's record
        v = self.verify(self.log)
        with open(self.log) as f:
            self.assertTrue(v.returncode != 0 or "incriminating" in f.read(),
                            "an audit-group member cut records from the log and "
                            "verify-audit accepts it: " + v.stdout)
        self.assertEqual(r.returncode, 0, r.stderr)  # the cut itself was made
        # The head (root's) still names the cut records: the next record
        # follows them, and the chain breaks there.
        self.assertRegex(v.stdout, "records missing before it|records were cut from its end")

    def test_set_without_its_last_segment_is_not_whole(self):
        # The attack review (issue 29): awsmfa-evidence(8) says a missing
        # segment breaks the chain; the last one missing is not seen.
        self.assertEqual(self.once().returncode, 0)  # makes the chain head
        self.append(2, "one")
        self.assertEqual(self.once().returncode, 0)
        time.sleep(1.1)  # the next segment's name, a second later
        self.append(2, "two")
        self.assertEqual(self.once().returncode, 0)
        sent = os.path.join(self.spool, "sent")
        names = sorted(n for n in os.listdir(sent) if n.startswith("audit-"))
        self.assertEqual(len(names), 2, names)
        v = self.verify(sent)
        self.assertEqual(v.returncode, 0, v.stdout)
        os.unlink(os.path.join(sent, names[-1]))
        v = self.verify(sent)
        self.assertNotEqual(v.returncode, 0,
                            "a set without its last segment verifies: " + v.stdout)
        self.assertIn("the set ends at seq 2, but this seal names seq 4", v.stdout)

    def test_disk_pressure_records_stay_in_the_log(self):
        # The spool on a small file system of its own, filled to its
        # reserve: no copy is cut (the records stay in the log), and once
        # there is room again they are cut and uploaded.
        small = os.path.join(self.dir, "small")
        os.mkdir(small)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700",
                        "amfa-evidence-test", small], check=True)
        self.addCleanup(subprocess.run, ["umount", "-l", small])
        self.spool = os.path.join(small, "spool")
        self.write_conf()
        self.assertEqual(self.once().returncode, 0)
        filler = os.path.join(small, "filler")
        vfs = os.statvfs(small)
        keep = vfs.f_blocks * vfs.f_frsize // 10 + 64 * 1024 + 8 * 1024
        with open(filler, "wb") as f:
            f.write(b"x" * (vfs.f_bavail * vfs.f_frsize - keep))
        self.append(100, "pressure")
        r = self.once()
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("no room for a copy", r.stderr)
        self.assertEqual(os.listdir(os.path.join(self.spool, "queue")), [])
        self.assertEqual(self.stored(), {})
        os.unlink(filler)
        r = self.once()
        self.assertEqual(r.returncode, 0, r.stderr)
        keys = sorted(self.stored())
        self.assertEqual(len(keys), 2)  # the segment and its seal
        self.assertTrue(keys[0].endswith("-00000000000000000001-00000000000000000100.jsonl"))
        self.assertTrue(keys[1].endswith("-00000000000000000001-00000000000000000100.seal"))

    def test_config_and_key_must_be_roots(self):
        os.chmod(self.conf, 0o666)
        r = self.once()
        self.assertEqual(r.returncode, 3)
        os.chmod(self.conf, 0o600)
        os.chmod(self.keyfile, 0o644)
        self.recording("gina", 9200)
        r = self.once()
        self.assertEqual(r.returncode, 1)
        self.assertEqual(self.stored(), {})


if __name__ == "__main__":
    unittest.main(verbosity=2)
