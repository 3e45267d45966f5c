#!/usr/bin/python3
"""The validation protocol 2.0 client (ykval.h) through the yktest driver,
against tests/fixtures/ykval_server.py on ephemeral loopback ports."""

import base64
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from yklib import ValidationServer, free_port, modhex, to_dvorak, yktest  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MAKE_CA = os.path.join(HERE, "..", "fixtures", "make_test_ca.sh")

KEY = base64.b64encode(secrets.token_bytes(20)).decode()
# A key whose base64 has '+', '/' and '=' (the h value has them often too).
KEY2 = base64.b64encode(bytes.fromhex("fbff" + "00" * 16 + "fe")).decode()
OTHER_KEY = base64.b64encode(secrets.token_bytes(20)).decode()


class Db:
    """A database of OTPs made up for one test."""

    def __init__(self):
        self.otps = {}
        self.public_id = modhex(12)

    def otp(self, session, use, status=None, public_id=None):
        otp = (public_id or self.public_id) + modhex(32)
        self.otps[otp] = status or {"session": session, "use": use}
        return otp

    def doc(self):
        return {"clients": {"1": {"key": KEY}, "2": {"key": KEY, "enabled": False},
                            "3": KEY2},
                "otps": self.otps}


class Base(unittest.TestCase):
    servers = 2

    def setUp(self):
        self.db = Db()
        self.srv = [ValidationServer(self.db.doc()) for _ in range(self.servers)]
        self.secrets_seen = {KEY, KEY2, OTHER_KEY}

    def tearDown(self):
        logs = ""
        for s in self.srv:
            s.stop()
            logs += s.log_text()
            shutil.rmtree(s.dir, ignore_errors=True)
        for secret in self.secrets_seen:
            self.assertNotIn(secret, logs, "a secret in the server log")
        self.assertNotIn("Traceback", logs)

    def sync_db(self):
        for s in self.srv:
            s.write_db(self.db.doc())

    def verify(self, otp, urls=None, key=KEY, client="1", timeout_ms=3000, ca=None):
        """Run one verification; returns (RESULT, elapsed ms, log text)."""
        self.sync_db()
        urls = urls or [self.srv[0].url]
        args = ["verify", "-d", "-i", client, "-t", str(timeout_ms)]
        if ca:
            args += ["-c", ca]
        env = {"AMFA_YKVAL_KEY": key} if key else {}
        out, err = yktest(*args, *urls, "--", otp, env=env)
        result, ms = out.split()
        if otp:     # "" is in every text
            self.secrets_seen.add(otp)
            self.assertNotIn(otp, err, "the OTP is logged")
        if key:
            self.assertNotIn(key, err, "the API key is logged")
        return result, int(ms), err


class Protocol(Base):
    def test_ok_signed_request(self):
        otp = self.db.otp(1, 0)
        result, _, log = self.verify(otp)
        self.assertEqual(result, "OK")
        reqs = self.srv[0].requests()["requests"]
        self.assertEqual(len(reqs), 1)
        self.assertEqual(reqs[0]["params"], ["h", "id", "nonce", "otp"])
        self.assertEqual(reqs[0]["signature"], "ok")
        self.assertTrue(reqs[0]["processed"])
        self.assertRegex(reqs[0]["nonce"], r"^[0-9a-f]{32}$")

    def test_key_with_url_special_characters(self):
        # The request's h and the key are full of '+', '/', '='; several
        # calls make sure the h values needing escapes go through.
        for i in range(8):
            otp = self.db.otp(1 + i, 0)
            self.assertEqual(self.verify(otp, key=KEY2, client="3")[0], "OK")
        self.assertEqual({r["signature"] for r in self.srv[0].requests()["requests"]},
                         {"ok"})

    def test_fresh_nonce_every_call(self):
        for i in range(3):
            self.verify(self.db.otp(1, i))
        nonces = [r["nonce"] for r in self.srv[0].requests()["requests"]]
        self.assertEqual(len(set(nonces)), 3)

    def test_replayed_otp(self):
        otp = self.db.otp(5, 3)
        self.assertEqual(self.verify(otp)[0], "OK")
        result, _, log = self.verify(otp)
        self.assertEqual(result, "REPLAYED")
        self.assertIn("REPLAYED_OTP", log)
        # An older OTP of the same key is a replay too; a newer one is fine.
        self.assertEqual(self.verify(self.db.otp(5, 2))[0], "REPLAYED")
        self.assertEqual(self.verify(self.db.otp(4, 9))[0], "REPLAYED")
        self.assertEqual(self.verify(self.db.otp(5, 4))[0], "OK")

    def test_bad_otp(self):
        result, _, log = self.verify(modhex(44))     # not in the db
        self.assertEqual(result, "BAD_OTP")
        self.assertIn("BAD_OTP", log)
        self.assertEqual(self.verify(self.db.otp(0, 0, status="BAD_OTP"))[0], "BAD_OTP")

    def test_not_otp_shaped_is_not_sent(self):
        for s in ("", "123456", modhex(43), modhex(20) + "a" + modhex(23)):
            with self.subTest(s=s):
                self.assertEqual(self.verify(s)[0], "BAD_OTP")
        self.assertEqual(self.srv[0].requests()["total"], 0)

    def test_dvorak_otp_is_sent_as_modhex(self):
        otp = self.db.otp(2, 0)
        self.assertEqual(self.verify(to_dvorak(otp))[0], "OK")
        self.assertEqual(self.verify(otp.upper())[0], "REPLAYED")

    def test_url_with_a_query(self):
        otp = self.db.otp(1, 0)
        self.assertEqual(self.verify(otp, urls=[self.srv[0].url + "?x=1"])[0], "OK")

    def test_wrong_api_key(self):
        # The server answers BAD_SIGNATURE signed with the real key, which
        # we cannot check: not trusted, and the log says what it claimed.
        result, _, log = self.verify(self.db.otp(1, 0), key=OTHER_KEY)
        self.assertEqual(result, "FORGED")
        self.assertIn("claims status BAD_SIGNATURE", log)
        self.assertEqual(self.srv[0].requests()["requests"][0]["signature"], "bad")

    def test_bad_signature_status_when_signed(self):
        self.srv[0].fault("status", status="BAD_SIGNATURE")
        result, _, log = self.verify(self.db.otp(1, 0))
        self.assertEqual(result, "REJECTED")
        self.assertIn("check the API key", log)

    def test_unknown_client(self):
        # ykval signs NO_SUCH_CLIENT with an empty key.
        result, _, log = self.verify(self.db.otp(1, 0), client="99")
        self.assertEqual(result, "FORGED")
        self.assertIn("claims status NO_SUCH_CLIENT", log)
        result, _, log = self.verify(self.db.otp(1, 0), client="99", key=None)
        self.assertEqual(result, "REJECTED")
        self.assertIn("NO_SUCH_CLIENT", log)

    def test_disabled_client(self):
        result, _, log = self.verify(self.db.otp(1, 0), client="2")
        self.assertEqual(result, "REJECTED")
        self.assertIn("OPERATION_NOT_ALLOWED", log)

    def test_other_refusals(self):
        for status in ("NOT_ENOUGH_ANSWERS", "REPLAYED_REQUEST", "MISSING_PARAMETER",
                       "OPERATION_NOT_ALLOWED", "SOMETHING_NEW"):
            with self.subTest(status=status):
                self.srv[0].fault("status", status=status)
                result, _, log = self.verify(self.db.otp(1, 0), urls=[
                    self.srv[0].url, self.srv[1].url])
                self.assertEqual(result, "REJECTED")
                self.assertIn(status, log)
        self.assertEqual(self.srv[1].requests()["total"], 0, "refusals are definitive")

    def test_unsigned_mode(self):
        otp = self.db.otp(1, 0)
        result, _, log = self.verify(otp, key=None)
        self.assertEqual(result, "OK")
        self.assertIn("no API key and no TLS", log)
        self.assertEqual(self.srv[0].requests()["requests"][0]["params"],
                         ["id", "nonce", "otp"])
        # The echo is still checked.
        self.srv[0].fault("wrong_nonce")
        self.assertEqual(self.verify(self.db.otp(2, 0), key=None)[0], "FORGED")

    def test_bad_configuration(self):
        for key in ("not base64!", "abc", "===="):
            with self.subTest(key=key):
                self.assertEqual(self.verify(self.db.otp(1, 0), key=key)[0], "ERROR")
        self.assertEqual(self.verify(self.db.otp(1, 0), client="a b")[0], "ERROR")
        self.assertEqual(self.verify(self.db.otp(1, 0), timeout_ms=0)[0], "ERROR")
        self.assertEqual(self.srv[0].requests()["total"], 0)


class Forged(Base):
    def check_forged(self, fault, status_otp=None, **options):
        otp = self.db.otp(1, 0, status=status_otp)
        self.srv[0].fault(fault, **options)
        result, _, log = self.verify(otp, urls=[self.srv[0].url, self.srv[1].url])
        self.assertEqual(result, "FORGED", log)
        self.assertEqual(self.srv[1].requests()["total"], 0,
                         "a forged answer ends the loop")
        return log

    def test_tampered_status(self):
        log = self.check_forged("tamper", status_otp="BAD_OTP", status="OK")
        self.assertIn("signature is wrong", log)

    def test_unsigned_answer(self):
        log = self.check_forged("unsigned")
        self.assertIn("not signed", log)

    def test_signed_with_another_key(self):
        self.check_forged("wrong_key")

    def test_wrong_nonce(self):
        log = self.check_forged("wrong_nonce")
        self.assertIn("another nonce", log)

    def test_wrong_otp(self):
        log = self.check_forged("wrong_otp")
        self.assertIn("another OTP", log)

    def test_ok_without_echo(self):
        log = self.check_forged("no_echo")
        self.assertIn("without our OTP and nonce", log)


class Failover(Base):
    def test_server_down(self):
        down = "http://127.0.0.1:%d/wsapi/2.0/verify" % free_port()
        result, ms, log = self.verify(self.db.otp(1, 0), urls=[down])
        self.assertEqual(result, "UNREACHABLE")
        self.assertIn("cannot connect", log)
        self.assertLess(ms, 5000)

    def test_first_down_second_ok(self):
        down = "http://127.0.0.1:%d/wsapi/2.0/verify" % free_port()
        self.assertEqual(self.verify(self.db.otp(1, 0), urls=[down, self.srv[1].url])[0],
                         "OK")

    def test_first_500_then_second_ok(self):
        self.srv[0].fault("error5xx", code=500)
        result, _, log = self.verify(self.db.otp(1, 0),
                                     urls=[self.srv[0].url, self.srv[1].url])
        self.assertEqual(result, "OK")
        self.assertIn("HTTP status 500", log)
        self.assertEqual(self.srv[0].requests()["total"], 1)
        self.assertEqual(self.srv[1].requests()["total"], 1)

    def test_first_answers_second_never_asked(self):
        self.assertEqual(self.verify(self.db.otp(1, 0),
                                     urls=[self.srv[0].url, self.srv[1].url])[0], "OK")
        self.assertEqual(self.srv[1].requests()["total"], 0)

    def test_backend_error_moves_on(self):
        self.srv[0].fault("status", status="BACKEND_ERROR")
        self.assertEqual(self.verify(self.db.otp(1, 0), urls=[
            self.srv[0].url, self.srv[1].url])[0], "OK")
        self.srv[0].fault("status", status="BACKEND_ERROR")
        result, _, log = self.verify(self.db.otp(2, 0))
        self.assertEqual(result, "UNREACHABLE")
        self.assertIn("BACKEND_ERROR", log)

    def test_unusable_answers(self):
        for fault, options, words in (("error5xx", {"code": 503}, "HTTP status 503"),
                                      ("garbage", {}, "malformed answer"),
                                      ("huge", {}, "response too large"),
                                      ("huge", {"bytes": 4097}, "response too large"),
                                      ("duplicate", {}, "a key appears twice"),
                                      ("drop", {}, "trying the next server")):
            with self.subTest(fault=fault, options=options):
                self.srv[0].fault(fault, **options)
                result, _, log = self.verify(self.db.otp(1, 0))
                self.assertEqual(result, "UNREACHABLE")
                self.assertIn(words, log)

    def test_replay_after_a_silent_server(self):
        # Server 1 consumes the OTP but answers too late; server 2, which
        # (like YubiCloud's servers) has heard of it, says REPLAYED_OTP.
        # The log hints at what happened.
        otp = self.db.otp(3, 0)
        # The per-server timeout must also let server 2 answer on a loaded
        # machine: 3 s, against a stall of 20.
        self.srv[0].fault("stall", seconds=20)
        self.srv[1].fault("status", status="REPLAYED_OTP")
        result, ms, log = self.verify(otp, urls=[self.srv[0].url, self.srv[1].url],
                                      timeout_ms=3000)
        self.assertEqual(result, "REPLAYED")
        self.assertIn("an earlier server that did not answer may have used it", log)

    def test_timeout_respected(self):
        self.srv[0].fault("stall", seconds=20)
        result, ms, log = self.verify(self.db.otp(1, 0), timeout_ms=1000)
        self.assertEqual(result, "UNREACHABLE")
        self.assertIn("timed out", log)
        self.assertGreaterEqual(ms, 900)
        self.assertLess(ms, 10000)      # the stall lasts 20 s

    def test_timeout_is_per_server(self):
        self.srv[0].fault("stall", seconds=20)
        self.srv[1].fault("stall", seconds=20)
        result, ms, _ = self.verify(self.db.otp(1, 0), timeout_ms=700,
                                    urls=[self.srv[0].url, self.srv[1].url])
        self.assertEqual(result, "UNREACHABLE")
        self.assertGreaterEqual(ms, 1300)
        self.assertLess(ms, 10000)      # each stall lasts 20 s

    def test_stalled_first_then_ok(self):
        # 3 s a server: enough for the second to answer on a loaded machine.
        self.srv[0].fault("stall", seconds=20)
        result, ms, _ = self.verify(self.db.otp(1, 0), timeout_ms=3000,
                                    urls=[self.srv[0].url, self.srv[1].url])
        self.assertEqual(result, "OK")
        self.assertLess(ms, 15000)      # the first server's stall lasts 20 s


@unittest.skipUnless(shutil.which("openssl"), "needs openssl")
class Tls(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="ykval-ca-")
        subprocess.run(["sh", MAKE_CA, cls.dir], check=True, capture_output=True)
        cls.ca = os.path.join(cls.dir, "ca.pem")
        cls.db = Db()
        cls.srv = ValidationServer(cls.db.doc(), tls=(
            os.path.join(cls.dir, "server.pem"), os.path.join(cls.dir, "server.key"), cls.ca))

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        shutil.rmtree(cls.srv.dir, ignore_errors=True)
        shutil.rmtree(cls.dir, ignore_errors=True)

    def run_verify(self, otp, ca, key=KEY):
        self.srv.write_db(self.db.doc())
        args = ["verify", "-i", "1", "-t", "3000"] + (["-c", ca] if ca else [])
        out, err = yktest(*args, self.srv.url, "--", otp,
                          env={"AMFA_YKVAL_KEY": key} if key else {})
        return out.split()[0], err

    def test_https_with_ca_file(self):
        # The server is shared by the class: a token of its own per test.
        otp = self.db.otp(1, 0, public_id=modhex(12))
        self.assertEqual(self.run_verify(otp, self.ca)[0], "OK")

    def test_https_unsigned_no_warning(self):
        result, log = self.run_verify(self.db.otp(2, 0, public_id=modhex(12)),
                                      self.ca, key=None)
        self.assertEqual(result, "OK")
        self.assertNotIn("no TLS", log)

    def test_https_untrusted_certificate(self):
        result, log = self.run_verify(self.db.otp(3, 0, public_id=modhex(12)),
                                      None)
        self.assertEqual(result, "UNREACHABLE")
        self.assertIn("TLS failure", log)


if __name__ == "__main__":
    unittest.main(verbosity=2)
