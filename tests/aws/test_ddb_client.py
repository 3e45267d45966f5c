#!/usr/bin/python3
"""The DynamoDB client (pam_awsmfa/aws/dynamodb.c, ddb_credentials.c,
imds.c) through tests/aws/ddb_client against a real DynamoDB
implementation (dynalite) behind the SigV4-checking front (ddb_front.py),
with the IMDSv2 fixture (imds_server.py) for the instance role.

Run by meson (suite aws) with AMFA_DDB_CLIENT set.  Skips (exit 77) when
dynalite is not installed (tests/install-packages installs it).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

import ddb_front
import dynalite
import imds_server

CLIENT = os.environ.get("AMFA_DDB_CLIENT", "")
TABLE = "awsmfa-state"
KEYATTR = "user"
AKID, SECRET = "AKIDDDBTESTKEY000001", "ddb/test+secret/0123456789abcdefghijklm"

STACK = {}


def setUpModule():
    why = dynalite.available()
    if why:
        raise unittest.SkipTest(why)
    STACK["tmp"] = tempfile.mkdtemp(prefix="ddbtest.")
    os.chmod(STACK["tmp"], 0o755)
    STACK["keys_file"] = os.path.join(STACK["tmp"], "issued.json")
    try:
        STACK["dyn"] = dynalite.Dynalite()
        STACK["dyn"].create_table(TABLE, KEYATTR)
        STACK["imds"] = imds_server.Imds(STACK["keys_file"])
        STACK["front"] = ddb_front.Front(STACK["dyn"].port, keys={AKID: SECRET},
                                         keys_file=STACK["keys_file"])
    except BaseException:
        tearDownModule()  # unittest does not when setUpModule fails
        raise


def tearDownModule():
    for name in ("front", "imds", "dyn"):
        if name in STACK:
            (STACK[name].close if name != "dyn" else STACK[name].stop)()
    if "tmp" in STACK:
        shutil.rmtree(STACK["tmp"], ignore_errors=True)


def key_file(secret=SECRET, mode=0o600, owner=0, akid=AKID):
    fd, path = tempfile.mkstemp(dir=STACK["tmp"], prefix="key.")
    with os.fdopen(fd, "w") as f:
        f.write("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
                % (akid, secret))
    os.chmod(path, mode)
    os.chown(path, owner, owner)
    return path


class Result:
    def __init__(self, out: str, err: str, elapsed: float):
        first = out.splitlines()[0] if out else ""
        m = re.fullmatch(r"result=(.*) tries=(\d+) code=(\S+) sent_before=(\d)", first)
        if m is None:
            raise AssertionError("no result line: %r %r" % (out, err))
        self.result, self.tries, self.code = m.group(1), int(m.group(2)), m.group(3)
        self.sent_before = int(m.group(4))
        self.attrs = {}
        for line in out.splitlines()[1:]:
            _, name, typ, value = line.split(" ", 3)
            self.attrs[name] = (typ, value)
        self.log = err
        self.elapsed = elapsed

    def __repr__(self):
        return "<%s tries=%d code=%s %s log=%r>" % (self.result, self.tries, self.code,
                                                    self.attrs, self.log[-600:])


def run(op, user, *args, creds=None, timeout_ms=5000, endpoint=None, table=TABLE, env=None):
    front = STACK["front"]
    if creds is None:
        creds = ["-k", key_file()]
    argv = [CLIENT] + creds + ["-t", str(timeout_ms), endpoint or front.url, table, KEYATTR,
                               op, user] + list(args)
    t0 = time.monotonic()
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, **(env or {})))
    elapsed = time.monotonic() - t0
    if p.returncode != 0:
        raise AssertionError("ddb_client failed: %d %s" % (p.returncode, p.stderr))
    return Result(p.stdout, p.stderr, elapsed)


STEP_UPDATE = ("SET step = :s",
               "attribute_not_exists(step) OR step < :s")


class Base(unittest.TestCase):
    def setUp(self):
        STACK["front"].clear()
        STACK["front"].start_data()
        STACK["front"].reset_stats()


class Items(Base):
    def test_get_missing_item(self):
        r = run("get", "nobody-here")
        self.assertEqual(r.result, "no such item", r)
        self.assertEqual(r.tries, 1)

    def test_update_condition_then_get_and_delete(self):
        user = "alice"
        r = run("update", user, *STEP_UPDATE, ":s=N:100")
        self.assertEqual(r.result, "ok", r)
        r = run("get", user)
        self.assertEqual(r.result, "ok", r)
        self.assertEqual(r.attrs, {"user": ("S", "alice"), "step": ("N", "100")})
        # The same step again: the condition fails, nothing changes.
        r = run("update", user, *STEP_UPDATE, ":s=N:100")
        self.assertEqual(r.result, "condition failed", r)
        self.assertEqual(r.code, "ConditionalCheckFailedException")
        self.assertEqual(r.tries, 1, "a failed condition is not retried")
        r = run("update", user, *STEP_UPDATE, ":s=N:99")
        self.assertEqual(r.result, "condition failed", r)
        r = run("update", user, "SET step = :s, who = :w", "step < :s", ":s=N:101",
                ":w=S:host-a")
        self.assertEqual(r.result, "ok", r)
        r = run("get", user)
        self.assertEqual(r.attrs["step"], ("N", "101"))
        self.assertEqual(r.attrs["who"], ("S", "host-a"))
        # Delete with a condition that fails, then unconditionally.
        r = run("delete", user, "step = :s", ":s=N:5")
        self.assertEqual(r.result, "condition failed", r)
        r = run("delete", user, "-")
        self.assertEqual(r.result, "ok", r)
        self.assertEqual(run("get", user).result, "no such item")

    def test_signed_targets_reach_the_table(self):
        run("get", "bob")
        run("update", "bob", "SET n = :n", "-", ":n=N:1")
        run("delete", "bob", "-")
        st = STACK["front"].stats()
        self.assertEqual(st["targets"], ["DynamoDB_20120810.GetItem",
                                         "DynamoDB_20120810.UpdateItem",
                                         "DynamoDB_20120810.DeleteItem"])
        self.assertEqual(st["verified"], 3)
        self.assertEqual(st["keys"], [AKID] * 3)

    def test_no_such_table_is_refused(self):
        r = run("get", "alice", table="no-such-table")
        self.assertEqual(r.result, "refused by DynamoDB", r)
        self.assertEqual(r.code, "ResourceNotFoundException")


class Retries(Base):
    def test_throttled_then_success(self):
        STACK["front"].fault("throttle", 3)
        r = run("update", "carol", "SET n = :n", "-", ":n=N:1", timeout_ms=10000)
        self.assertEqual(r.result, "ok", r)
        self.assertEqual(r.tries, 4, r)
        self.assertIn("ProvisionedThroughputExceededException", r.log)

    def test_throttling_exception_500_and_drops_are_retried(self):
        f = STACK["front"]
        f.fault("throttling", 1)
        f.fault("error500", 1)
        f.fault("drop", 1)
        r = run("get", "carol", timeout_ms=10000)
        self.assertIn(r.result, ("ok", "no such item"), r)
        # Four requests reached the front, three faults then the answer.
        # The client's tries are 3 or 4: the drop comes on the connection
        # the first two answers left open, and libcurl sends a request
        # that a kept connection died under again on a new one by itself
        # (aws/http.h), once.
        st = f.stats()
        self.assertEqual((st["requests"], st["faults"]), (4, 3), st)
        self.assertIn(r.tries, (3, 4), r)
        self.assertIn("ThrottlingException", r.log)
        self.assertIn("InternalServerError", r.log)

    def test_throttled_beyond_the_timeout(self):
        STACK["front"].fault("throttle", 1000)
        r = run("get", "carol", timeout_ms=1500)
        self.assertEqual(r.result, "table unavailable", r)
        self.assertGreater(r.tries, 1, r)
        # 1000 throttles at backoffs up to 2 s would go on for many minutes:
        # within the budget plus 10 s is the deadline at work (the 10 s are
        # for starting the sanitized client on a loaded machine).
        self.assertLess(r.elapsed, 1.5 + 10, r)

    def test_stopped_table(self):
        f = STACK["front"]
        f.stop_data()
        try:
            r = run("get", "carol", timeout_ms=1200)
        finally:
            f.start_data()
        self.assertEqual(r.result, "table unavailable", r)
        # Tries against a stopped table never end: the budget plus 10 s
        # (starting a sanitized client on a loaded machine) is the deadline.
        self.assertLess(r.elapsed, 1.2 + 10, r)
        self.assertEqual(run("get", "carol").result in ("ok", "no such item"), True)


class BadAnswers(Base):
    def check(self, fault):
        STACK["front"].fault(fault, 1)
        r = run("get", "alice")
        self.assertEqual(r.result, "malformed answer", r)
        self.assertEqual(r.attrs, {})
        return r

    def test_not_json(self):
        self.check("malformed")

    def test_huge(self):
        self.check("huge")

    def test_wrong_type(self):
        self.check("wrong_type")

    def test_not_an_object(self):
        self.check("not_object")


class Keys(Base):
    def test_wrong_secret_refused(self):
        r = run("get", "alice", creds=["-k", key_file(secret="not-the-secret")])
        self.assertEqual(r.result, "refused by DynamoDB", r)
        self.assertEqual(r.code, "InvalidSignatureException")
        self.assertEqual(r.tries, 1)
        self.assertNotIn("not-the-secret", r.log)

    def test_unknown_key_refused(self):
        r = run("get", "alice", creds=["-k", key_file(akid="AKIDUNKNOWN000000000")])
        self.assertEqual(r.result, "refused by DynamoDB", r)
        self.assertEqual(r.code, "UnrecognizedClientException")

    def test_key_file_readable_by_others(self):
        for mode in (0o644, 0o640, 0o604, 0o660):
            r = run("get", "alice", creds=["-k", key_file(mode=mode)])
            self.assertEqual(r.result, "no credentials for DynamoDB", (oct(mode), r))
        self.assertEqual(STACK["front"].stats()["requests"], 0)

    def test_key_file_not_roots(self):
        r = run("get", "alice", creds=["-k", key_file(owner=65534)])
        self.assertEqual(r.result, "no credentials for DynamoDB", r)

    def test_key_file_symlink(self):
        link = os.path.join(STACK["tmp"], "key.link")
        os.symlink(key_file(), link)
        try:
            r = run("get", "alice", creds=["-k", link])
        finally:
            os.unlink(link)
        self.assertEqual(r.result, "no credentials for DynamoDB", r)

    def test_key_file_missing_secret(self):
        path = key_file()
        with open(path, "w") as f:
            f.write("[default]\naws_access_key_id = %s\n" % AKID)
        r = run("get", "alice", creds=["-k", path])
        self.assertEqual(r.result, "no credentials for DynamoDB", r)


class InstanceRole(Base):
    def setUp(self):
        super().setUp()
        self.cache_dir = tempfile.mkdtemp(dir=STACK["tmp"], prefix="cache.")
        os.chmod(self.cache_dir, 0o700)
        self.cache = os.path.join(self.cache_dir, "ddb-credentials.json")
        self.imds = STACK["imds"]
        self.imds.rotate()

    def creds(self):
        return ["-i", self.imds.url, "-c", self.cache]

    def gets(self):
        return self.imds.stats()["credential_gets"]

    def test_imds_credentials_used_and_cached(self):
        before = self.gets()
        r = run("get", "dave", creds=self.creds())
        self.assertEqual(r.result, "no such item", r)
        self.assertEqual(self.gets(), before + 1)
        st = os.lstat(self.cache)
        self.assertEqual((st.st_uid, st.st_mode & 0o777), (0, 0o600))
        current = self.imds.current()
        self.assertEqual(STACK["front"].stats()["keys"], [current["AccessKeyId"]])
        # The second call: from the cache, no new credentials fetched.
        r = run("update", "dave", "SET n = :n", "-", ":n=N:1", creds=self.creds())
        self.assertEqual(r.result, "ok", r)
        self.assertEqual(self.gets(), before + 1)
        self.assertNotIn(current["SecretAccessKey"], r.log)
        self.assertNotIn(current["Token"], r.log)

    def test_refreshed_near_expiry(self):
        run("get", "dave", creds=self.creds())
        before = self.gets()
        with open(self.cache) as f:
            doc = json.load(f)
        doc["Expiration"] = time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                          time.gmtime(time.time() + 200))
        with open(self.cache, "w") as f:
            json.dump(doc, f)
        self.imds.rotate()
        r = run("get", "dave", creds=self.creds())
        self.assertIn(r.result, ("ok", "no such item"), r)
        self.assertEqual(self.gets(), before + 1)
        with open(self.cache) as f:
            self.assertEqual(json.load(f)["AccessKeyId"], self.imds.current()["AccessKeyId"])

    def test_revoked_cached_credentials_replaced(self):
        run("get", "dave", creds=self.creds())
        before = self.gets()
        self.imds.rotate(revoke_old=True)
        r = run("get", "dave", creds=self.creds())
        self.assertIn(r.result, ("ok", "no such item"), r)
        self.assertEqual(self.gets(), before + 1)
        self.assertEqual(r.tries, 2, "refused once, then with new credentials")
        self.assertIn("cached credentials refused", r.log)

    def test_cache_with_loose_mode_not_used(self):
        run("get", "dave", creds=self.creds())
        os.chmod(self.cache, 0o644)
        before = self.gets()
        r = run("get", "dave", creds=self.creds())
        self.assertIn(r.result, ("ok", "no such item"), r)
        self.assertEqual(self.gets(), before + 1)
        self.assertEqual(os.lstat(self.cache).st_mode & 0o777, 0o600)

    def test_cache_not_roots_not_used(self):
        run("get", "dave", creds=self.creds())
        os.chown(self.cache, 65534, 65534)
        before = self.gets()
        run("get", "dave", creds=self.creds())
        self.assertEqual(self.gets(), before + 1)
        self.assertEqual(os.lstat(self.cache).st_uid, 0)

    def test_no_cache(self):
        before = self.gets()
        run("get", "dave", creds=["-i", self.imds.url])
        run("get", "dave", creds=["-i", self.imds.url])
        self.assertEqual(self.gets(), before + 2)

    def test_no_role(self):
        self.imds.set_role("")
        try:
            r = run("get", "dave", creds=["-i", self.imds.url])
        finally:
            self.imds.set_role("awsmfa-bastion")
        self.assertEqual(r.result, "no credentials for DynamoDB", r)

    def test_imds_never_through_a_proxy(self):
        # The table (127.0.0.1) bypasses the proxy by no_proxy; IMDS
        # (localhost) would go through the dead proxy if proxies applied.
        dead = {"http_proxy": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9",
                "no_proxy": "127.0.0.1", "NO_PROXY": "127.0.0.1"}
        before = self.gets()
        r = run("get", "dave", creds=["-i", "http://localhost:%d" % self.imds.port],
                env=dead)
        self.assertIn(r.result, ("ok", "no such item"), r)
        self.assertEqual(self.gets(), before + 1)

    def test_imds_unreachable(self):
        r = run("get", "dave", creds=["-i", "http://127.0.0.1:9"], timeout_ms=1500)
        self.assertEqual(r.result, "table unavailable", r)


if __name__ == "__main__":
    if not CLIENT or not os.access(CLIENT, os.X_OK):
        sys.stderr.write("AMFA_DDB_CLIENT not set\n")
        sys.exit(2)
    if dynalite.available():
        sys.stderr.write("SKIP: %s\n" % dynalite.available())
        sys.exit(77)
    unittest.main(verbosity=2)
