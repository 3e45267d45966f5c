"""Evidence off the host, end to end: shells recorded through the real sshd
and the gateway and recorder installed as documented (the bastion of
test_gateway_recording.py, set up by its own setUpModule, with ten more
accounts), the audit log given its chain head, and awsmfa-evidence
uploading to s3rver behind the checking front (tests/fixtures/s3_front.py:
SigV4, the checksum, the Object Lock headers).

- A recording is not uploaded while its shell runs (the recorder holds
  its lock); once the session ended it appears in the bucket byte for byte (downloaded with
  the AWS CLI; `asciinema cat' of the object shows what the session
  showed), under a key that names the host, the time, the user and the
  session; the gateway's audit records (shell, shell_end) are chained and
  the uploaded segments verify.
- S3 stopped during ten sessions, then started: all ten recordings arrive,
  each stored once, byte for byte, and the audit chain still verifies.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import unittest

import pexpect

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "fixtures"))

import s3_front  # noqa: E402
import s3rver  # noqa: E402
import test_gateway_recording as bastion  # noqa: E402

EVIDENCE = os.environ.get("AMFA_EVIDENCE_PROGRAM", "")
ADMIN = os.environ.get("AMFA_ADMIN_PROGRAM", "")
AUDIT_WRITER = os.environ.get("AMFA_AUDIT_WRITER", "")
AKID, SECRET = "AKIDGWEVIDENCE000001", "gateway-evidence-secret-0123456789"
BUCKET = "evidence"
HOST = "bastion-e2e"
TEN = tuple("ev%d" % i for i in range(10))

S3 = FRONT = None
SPOOL = CONF = DOWN = None


def setUpModule():
    global S3, FRONT, SPOOL, CONF, DOWN
    why = s3rver.available()
    if why:
        raise unittest.SkipTest(why)
    # Ten more people, made with the others (before the namespace's /etc).
    bastion.ROLES = bastion.ROLES + TEN
    bastion.setUpModule()
    S3 = s3rver.S3rver([BUCKET])
    bastion.janitor.add(S3.close)
    FRONT = s3_front.Front(S3.port, {AKID: SECRET})
    bastion.janitor.add(FRONT.close)
    SPOOL = os.path.join(bastion.DIR, "spool")
    DOWN = os.path.join(bastion.DIR, "down")
    key = os.path.join(bastion.DIR, "evidence-key")
    bastion.write_file(key, "[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
                       % (AKID, SECRET), 0o600)
    CONF = os.path.join(bastion.DIR, "evidence.conf")
    bastion.write_file(CONF, "".join("%s = %s\n" % kv for kv in (
        ("bucket_url", "%s/%s" % (FRONT.url, BUCKET)), ("region", "us-east-1"),
        ("host", HOST), ("audit_log", bastion.AUDIT), ("recording_dir", bastion.REC),
        ("spool_dir", SPOOL), ("key_file", key), ("retention_days", "7"),
        ("segment_seconds", "1"), ("poll_seconds", "1"), ("backoff_max_seconds", "2"),
        ("upload_timeout_seconds", "20"))), 0o600)
    # The first run makes the audit log's chain head (root's, 0600); the
    # gateway's records then go through the log's root writer.
    r = once()
    if r.returncode != 0:
        raise RuntimeError(r.stderr)
    start_writer()


WRITER = None


def start_writer():
    global WRITER
    sock = bastion.AUDIT + ".writer"
    WRITER = subprocess.Popen([AUDIT_WRITER, "--config", CONF], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    bastion.janitor.add(stop_writer, WRITER)
    end = time.monotonic() + 30
    while not os.path.exists(sock) and WRITER.poll() is None and time.monotonic() < end:
        time.sleep(0.05)
    if not os.path.exists(sock):
        raise RuntimeError("awsmfa-audit-writer did not start")


def stop_writer(w):
    if w.poll() is None:
        w.terminate()
        try:
            w.wait(timeout=30)
        except subprocess.TimeoutExpired:
            w.kill()
            w.wait()


def tearDownModule():
    bastion.tearDownModule()


def once():
    return subprocess.run([EVIDENCE, "--config", CONF, "--once"], capture_output=True,
                          text=True, timeout=120)


def aws(*args):
    env = dict(os.environ, AWS_ACCESS_KEY_ID=AKID, AWS_SECRET_ACCESS_KEY=SECRET,
               AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE="/dev/null",
               AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    for k in ("AWS_PROFILE", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        env.pop(k, None)
    r = subprocess.run(["aws", "--endpoint-url", FRONT.url] + list(args),
                       capture_output=True, text=True, env=env, timeout=120)
    if r.returncode != 0:
        raise AssertionError(r.stderr)
    return r.stdout


def object_key(path):
    """The key awsmfa-evidence gives the recording at `path'."""
    name = os.path.basename(path)
    for part in name.split("-"):
        if len(part) == 16 and part[8] == "T" and part.endswith("Z"):
            when = part
            user, session = name.split("-" + when + "-")
            return "recordings/%s/%s-%s-%s" % (HOST, when, user, session)
    raise AssertionError("no time in %s" % name)


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


class Evidence(unittest.TestCase):
    def session(self, role, text, during=None):
        t = bastion.Recording("shell")
        p, child = t.login(role)
        self.assertIn(text, t.shell(child, "echo %s" % text))
        if during is not None:
            during(t.recording_of(p))
        child.sendline("exit 0")
        bastion.finish(child)
        return p, t.recording_of(p)

    def test_1_session_in_bucket_byte_for_byte(self):
        def not_yet(path):
            # While the shell runs, its recorder holds the recording's
            # lock: a pass leaves it alone.
            r = once()
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertNotIn("/%s/%s" % (BUCKET, object_key(path)),
                             FRONT.stats()["stored"])
        p, path = self.session("main", "evidence-42", during=not_yet)
        r = once()
        self.assertEqual(r.returncode, 0, r.stderr)
        key = object_key(path)
        self.assertIn(p.name, key)
        stored = FRONT.stats()["stored"]
        self.assertIn("/%s/%s" % (BUCKET, key), stored)
        self.assertEqual(stored["/%s/%s" % (BUCKET, key)]["mode"], "COMPLIANCE")
        got = os.path.join(DOWN, "one.cast")
        aws("s3", "cp", "s3://%s/%s" % (BUCKET, key), got)
        self.assertEqual(read_bytes(got), read_bytes(path))
        play = pexpect.spawn("asciinema", ["cat", got], encoding="utf-8", timeout=30,
                             env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
                                  "HOME": bastion.DIR})
        play.expect(pexpect.EOF)
        play.close()
        self.assertEqual(play.exitstatus, 0, play.before)
        self.assertIn("evidence-42", play.before)
        # The gateway's records are chained, and the segments verify.
        segs = os.path.join(DOWN, "audit1")
        aws("s3", "cp", "--recursive", "s3://%s/audit/%s/" % (BUCKET, HOST), segs)
        r = subprocess.run([ADMIN, "verify-audit", segs], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        records = []
        for name in sorted(os.listdir(segs)):
            with open(os.path.join(segs, name)) as f:
                records += [json.loads(line) for line in f]
        mine = [x for x in records if x.get("user") == p.name]
        self.assertEqual([x["event"] for x in mine if x["event"].startswith("shell")],
                         ["shell", "shell_end"], mine)
        self.assertTrue(all("seq" in x and "prev" in x for x in mine), mine)

    def test_2_outage_during_ten_sessions(self):
        FRONT.stop_data()
        S3.stop()
        daemon = subprocess.Popen([EVIDENCE, "--config", CONF], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            paths = [self.session(role, "ten-%s" % role)[1] for role in TEN]
            # All wait on disk.
            for path in paths:
                self.assertTrue(os.path.exists(path))
            S3.start()
            FRONT.start_data()
            keys = ["/%s/%s" % (BUCKET, object_key(p)) for p in paths]
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                stored = FRONT.stats()["stored"]
                if all(k in stored for k in keys) and not os.listdir(
                        os.path.join(SPOOL, "queue")):
                    break
                time.sleep(0.5)
            stored = FRONT.stats()["stored"]
            for k in keys:
                self.assertIn(k, stored)
            self.assertTrue(all(v["puts"] == 1 for v in stored.values()), stored)
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=60)
        aws("s3", "cp", "--recursive", "s3://%s/recordings/%s/" % (BUCKET, HOST),
            os.path.join(DOWN, "ten"))
        for path in paths:
            got = os.path.join(DOWN, "ten", object_key(path).split("/")[-1])
            self.assertEqual(read_bytes(got), read_bytes(path))
        segs = os.path.join(DOWN, "audit2")
        aws("s3", "cp", "--recursive", "s3://%s/audit/%s/" % (BUCKET, HOST), segs)
        r = subprocess.run([ADMIN, "verify-audit", segs], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_3_no_writer_no_shell(self):
        """The log is chained: the gateway's records go through its root
        writer alone (the head is root's, 0600, and the gateway cannot
        open it).  With the writer stopped, no shell starts (no record, no
        service); started again, shells do."""
        self.assertEqual(os.stat(bastion.AUDIT + ".chain").st_mode & 0o777, 0o600)
        stop_writer(WRITER)
        t = bastion.Recording("shell")
        p, child = t.login("input")  # one not logged in before
        child.expect_exact("the audit log is unusable", timeout=60)
        child.expect(pexpect.EOF, timeout=60)
        start_writer()
        self.session("inyes", "writer-back")
        self.assertEqual(subprocess.run([ADMIN, "verify-audit", bastion.AUDIT],
                                        capture_output=True).returncode, 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
