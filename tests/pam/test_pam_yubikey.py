"""The YubiKey OTP factor through the real libpam: OTPs from ykgenerate
(libyubikey's encoder) for tokens made up at test time, offline decisions
and counters, the same prompt for TOTP and YubiKey, forward_pass, online
validation against tests/fixtures/ykval_server.py, YubiKeys with STS, and
many logins at once with one OTP."""

import base64
import os
import secrets
import sys
import time
import unittest

from amfa_testlib import (PAM_AUTH_ERR, PAM_AUTHINFO_UNAVAIL, PAM_MAXTRIES,
                          PAM_SUCCESS, PamTestCase, read_state, require_root,
                          totp, wait_fresh_step)

sys.path.insert(0, os.path.join(os.environ.get(
    "AMFA_TESTS_DIR", os.path.dirname(os.path.abspath(__file__))),
    "..", "yubikey"))
from yklib import (DVORAK, MODHEX, Token, ValidationServer, changed_at,  # noqa: E402
                   free_port, key_that_fails, to_dvorak)

API_KEY = base64.b64encode(secrets.token_bytes(20)).decode()


class YkCase(PamTestCase):
    config = {"lockout_attempts": 100}

    def setUp(self):
        super().setUp()
        self.tok = Token()
        self.seed = self.enroll_alice(self.tok.spec)

    def enroll_alice(self, *yubikeys, seed=True, extra=""):
        lines = "".join("yubikey = %s\n" % y for y in yubikeys) + extra
        if seed:
            return self.tree.enroll("alice", extra=lines)
        self.tree.write(self.tree.user_file("alice"),
                        "iam_user = alice\n" + lines, 0o600)
        return None

    def login(self, typed, user="alice", service="awsmfa"):
        res = self.tree.run(service, user, [typed])
        self.assertNoSecrets(res, typed)
        return res

    def assertNoSecrets(self, res, typed):
        for secret in (self.tok.key, self.tok.key.upper(), self.tok.uid,
                       typed):
            if len(secret) >= 6:
                self.assertNotIn(secret, res.log)

    def state(self, user="alice"):
        return read_state(self.tree.state_file(user)) or ""

    def token_line(self, tok):
        for line in self.state().splitlines():
            if line.startswith("token %s " % tok.public_id):
                return line
        return None


class Offline(YkCase):
    def test_good_otp(self):
        res = self.login(self.tok.otp(1, 0))
        self.assertRc(res, PAM_SUCCESS)
        self.assertIn("YubiKey %s: OTP accepted (counters 1/0)"
                      % self.tok.public_id, res.log)
        self.assertEqual(self.token_line(self.tok),
                         "token %s 1 0" % self.tok.public_id)
        st = os.stat(self.tree.state_file("alice"))
        self.assertEqual(st.st_mode & 0o777, 0o600)

    def test_replay(self):
        otp = self.tok.otp(3, 7)
        self.assertRc(self.login(otp), PAM_SUCCESS)
        res = self.login(otp)
        self.assertRc(res, PAM_AUTH_ERR)
        self.assertIn("OTP already used (counters 3/7)", res.log)
        self.assertIn("(1 consecutive failures)", res.log)

    def test_lower_counters(self):
        self.assertRc(self.login(self.tok.otp(5, 3)), PAM_SUCCESS)
        for s, u in ((5, 2), (4, 200), (0, 0)):
            res = self.login(self.tok.otp(s, u))
            self.assertRc(res, PAM_AUTH_ERR, "%d/%d" % (s, u))
            self.assertIn("counters went backwards (%d/%d, last accepted "
                          "5/3): an old OTP replayed, or a cloned token"
                          % (s, u), res.log)
        self.assertEqual(self.token_line(self.tok),
                         "token %s 5 3" % self.tok.public_id)
        # Higher use in the same session, then a new session.
        self.assertRc(self.login(self.tok.otp(5, 4)), PAM_SUCCESS)
        self.assertRc(self.login(self.tok.otp(6, 0)), PAM_SUCCESS)
        self.assertEqual(self.token_line(self.tok),
                         "token %s 6 0" % self.tok.public_id)

    def test_wrong_key(self):
        otp = self.tok.otp(1, 0)
        forged = Token(public_id=self.tok.public_id, uid=self.tok.uid,
                       key=key_that_fails(otp, self.tok.key))
        res = self.login(forged.otp(1, 0))
        self.assertRc(res, PAM_AUTH_ERR)
        self.assertIn("OTP does not decrypt", res.log)
        self.assertIsNone(self.token_line(self.tok))

    def test_wrong_private_id(self):
        other = Token(public_id=self.tok.public_id, key=self.tok.key)
        res = self.login(other.otp(1, 0))
        self.assertRc(res, PAM_AUTH_ERR)
        self.assertIn("private id differs", res.log)
        self.assertIsNone(self.token_line(self.tok))

    def test_bad_crc(self):
        otp = self.tok.otp(2, 0)
        for i in (-1, 20, len(self.tok.public_id)):
            bad = changed_at(otp, i, self.tok.key)
            res = self.login(bad)
            self.assertRc(res, PAM_AUTH_ERR, "changed at %d" % i)
            self.assertIn("OTP does not decrypt", res.log)
        # Nothing was consumed: the untouched OTP still works.
        self.assertRc(self.login(otp), PAM_SUCCESS)

    def test_wrong_public_id(self):
        other = Token(key=self.tok.key, uid=self.tok.uid)
        res = self.login(other.otp(1, 0))
        self.assertRc(res, PAM_AUTH_ERR)
        self.assertIn("OTP of a YubiKey not enrolled for this user", res.log)
        self.assertNotIn(other.public_id, res.log)

    def test_truncated_and_over_long(self):
        otp = self.tok.otp(4, 0)
        for typed in (otp[:-1], otp[:-2], otp[1:], otp + "c", otp + "cc",
                      otp + otp, otp[:33], "cc" * 33):
            res = self.login(typed)
            self.assertRc(res, PAM_AUTH_ERR, typed)
        self.assertIsNone(self.token_line(self.tok))
        self.assertIn("failures 8\n", self.state())
        self.assertRc(self.login(otp), PAM_SUCCESS)

    def test_non_modhex(self):
        otp = self.tok.otp(4, 0)
        for typed in ("a" * 44, otp[:10] + "a" + otp[11:],
                      otp[:10] + "1" + otp[11:], otp[:5] + "\u00e9" + otp[6:],
                      otp + "\x01", "x" * 4000):
            res = self.login(typed)
            self.assertRc(res, PAM_AUTH_ERR, repr(typed))
            self.assertIn("input is neither a TOTP code nor a YubiKey OTP",
                          res.log)
        # Only the failure count moved.
        state = self.state()
        self.assertIn("failures 6\n", state)
        self.assertIn("last_step -1\n", state)
        self.assertIsNone(self.token_line(self.tok))

    def test_dvorak_form(self):
        otp = self.tok.otp(7, 1)
        res = self.login(to_dvorak(otp))
        self.assertRc(res, PAM_SUCCESS)
        self.assertEqual(self.token_line(self.tok),
                         "token %s 7 1" % self.tok.public_id)
        res = self.login(otp)
        self.assertRc(res, PAM_AUTH_ERR, "the modhex form of the same OTP")
        self.assertIn("already used", res.log)

    def test_caps_lock(self):
        res = self.login(self.tok.otp(8, 0, capslock=True).upper())
        self.assertRc(res, PAM_SUCCESS)
        self.assertEqual(self.token_line(self.tok),
                         "token %s 8 0" % self.tok.public_id)

    def test_totp_and_yubikey_same_prompt(self):
        wait_fresh_step()
        code = totp(self.seed)
        res = self.login(code)
        self.assertRc(res, PAM_SUCCESS)
        self.assertEqual(res.prompts, ["Verification code: "])
        res = self.login(self.tok.otp(1, 0))
        self.assertRc(res, PAM_SUCCESS)
        self.assertEqual(res.prompts, ["Verification code: "])
        res = self.login(code)
        self.assertRc(res, PAM_AUTH_ERR, "the TOTP step is still spent")
        self.assertIn("already used or earlier step", res.log)

    def test_several_tokens_counted_apart(self):
        second = Token()
        self.enroll_alice(self.tok.spec, second.spec)
        self.assertRc(self.login(self.tok.otp(9, 0)), PAM_SUCCESS)
        self.assertRc(self.login(second.otp(1, 0)), PAM_SUCCESS,
                      "another token's lower counters are its own")
        self.assertEqual(self.token_line(self.tok),
                         "token %s 9 0" % self.tok.public_id)
        self.assertEqual(self.token_line(second),
                         "token %s 1 0" % second.public_id)

    def test_yubikey_only_user(self):
        self.enroll_alice(self.tok.spec, seed=False)
        self.assertRc(self.login(self.tok.otp(1, 0)), PAM_SUCCESS)
        res = self.login("123456")
        self.assertRc(res, PAM_AUTH_ERR)
        self.assertIn("digits, but no TOTP seed is enrolled", res.log)

    def test_totp_only_user_typing_an_otp(self):
        self.tree.enroll("bob")
        res = self.login(self.tok.otp(1, 0), user="bob")
        self.assertRc(res, PAM_AUTH_ERR)
        self.assertIn("a YubiKey OTP, but no YubiKey is enrolled", res.log)

    def test_forward_pass(self):
        self.tree.service("f", ["auth required MODULE config=CONF "
                                "forward_pass",
                                "auth required AUTHTOK [expect=s3cret pw]"])
        otp = self.tok.otp(2, 5)
        res = self.tree.run("f", "alice", ["s3cret pw" + otp])
        self.assertRc(res, PAM_SUCCESS)
        res = self.tree.run("f", "alice",
                            ["s3cret pw" + to_dvorak(self.tok.otp(2, 6))])
        self.assertRc(res, PAM_SUCCESS, "Dvorak OTP after the password")
        wait_fresh_step()
        res = self.tree.run("f", "alice", ["s3cret pw" + totp(self.seed)])
        self.assertRc(res, PAM_SUCCESS, "TOTP after the password still works")
        res = self.tree.run("f", "alice", ["wrong" + self.tok.otp(2, 7)])
        self.assertRc(res, PAM_AUTH_ERR, "the next module sees the password")
        # A password that itself ends in modhex letters.
        self.tree.service("g", ["auth required MODULE config=CONF "
                                "forward_pass",
                                "auth required AUTHTOK expect=hunter.bcd"])
        res = self.tree.run("g", "alice", ["hunter.bcd" + self.tok.otp(2, 8)])
        self.assertRc(res, PAM_SUCCESS)

    def test_lockout_counts_yubikey_failures(self):
        self.tree.write_config({"users_dir": self.tree.users,
                                "state_dir": self.tree.state,
                                "lockout_attempts": 2,
                                "lockout_seconds": 8})
        otp = self.tok.otp(3, 0)
        bad = changed_at(otp, -1, self.tok.key)
        self.assertRc(self.login(bad), PAM_AUTH_ERR)
        self.assertRc(self.login("not an otp"), PAM_AUTH_ERR)
        res = self.login(otp)
        self.assertRc(res, PAM_MAXTRIES, "locked: the OTP is not checked")
        self.assertIsNone(self.token_line(self.tok))
        time.sleep(8.2)
        self.assertRc(self.login(otp), PAM_SUCCESS,
                      "not consumed while locked")

    def test_state_file_of_the_earlier_format(self):
        os.makedirs(self.tree.state, 0o700, exist_ok=True)
        self.tree.write(self.tree.state_file("alice"),
                        "version 1\nlast_step -1\nfailures 1\n"
                        "locked_until 0\nlast_success 0\nend\n", 0o600)
        self.assertRc(self.login(self.tok.otp(1, 1)), PAM_SUCCESS)
        self.assertIn("token %s 1 1\n" % self.tok.public_id, self.state())
        self.assertIn("failures 0\n", self.state())


class Enrolment(YkCase):
    def check_bad(self, text, message):
        self.tree.write(self.tree.user_file("alice"), text, 0o600)
        res = self.login(self.tok.otp(1, 0))
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL, text)
        self.assertIn(message, res.log)
        self.assertIn("enrolment unusable", res.log)

    def test_bad_lines(self):
        key, uid, pid = self.tok.key, self.tok.uid, self.tok.public_id
        cases = [
            ("yubikey = %s:%s:%s\n" % (pid, key[:-1], uid),
             "alice.conf:2: yubikey: AES key must be 32 hexadecimal digits"),
            ("yubikey = %s:%s:%sx\n" % (pid, key, uid[:-1]),
             "alice.conf:2: yubikey: private id must be 12 hexadecimal"),
            ("yubikey = abc:%s:%s\n" % (key, uid),
             "alice.conf:2: yubikey: public id must be 2 to 32 modhex"),
            ("yubikey = %s:%s\n" % (pid, key),
             "alice.conf:2: yubikey: expected PUBLICID:AESKEY:PRIVATEID"),
            ("yubikey = %s\nyubikey = %s:%s:%s\n" % (pid, pid, key, uid),
             "alice.conf:3: yubikey: public id %s given twice" % pid),
            ("yubikey = %s\n" % pid,
             "yubikey %s has no AES key, so only a validation server can "
             "check it, and yubikey_validation is not set" % pid),
        ]
        for lines, message in cases:
            self.check_bad("iam_user = alice\n" + lines, message)
            self.assertNotIn(key, self.tree.run("awsmfa", "alice",
                                                ["x"]).log)
        many = "".join("yubikey = %s\n" % Token().spec for _ in range(17))
        self.check_bad("iam_user = alice\n" + many,
                       "alice.conf:18: at most 16 yubikey lines")

    def test_neither_factor(self):
        self.check_bad("iam_user = alice\n",
                       "totp_secret is required with verify = local, unless "
                       "the user has a yubikey line")


class OnlineCase(YkCase):
    failmode = "secure"

    def setUp(self):
        self.otps = {}
        self.srv = ValidationServer(self.db())
        self.addCleanup(self.stop_server)
        super().setUp()
        self.key_file = os.path.join(self.tree.etc, "ykval.key")
        self.tree.write(self.key_file, API_KEY + "\n", 0o600)
        self.write_config()

    def stop_server(self):
        self.srv.stop()
        log = self.srv.log_text()
        self.assertNotIn(API_KEY, log)
        self.assertNotIn("Traceback", log)

    def write_config(self, **extra):
        settings = {"users_dir": self.tree.users,
                    "state_dir": self.tree.state,
                    "lockout_attempts": 100,
                    "failmode": self.failmode,
                    "yubikey_validation": self.srv.url,
                    "yubikey_client_id": "1",
                    "yubikey_api_key_file": self.key_file,
                    "yubikey_timeout": 2}
        settings.update(extra)
        self.tree.write_config({k: v for k, v in settings.items()
                                if v is not None})

    def db(self):
        return {"clients": {"1": API_KEY}, "otps": self.otps}

    def known(self, otp, session, use):
        """Tell the server about an OTP (it cannot decrypt)."""
        self.otps[otp] = {"session": session, "use": use}
        self.srv.write_db(self.db())
        return otp

    def requests(self):
        return self.srv.requests()["total"]


class Online(OnlineCase):
    def setUp(self):
        super().setUp()
        # A factory YubiKey: only the public id is known here.
        self.cloud = Token()
        self.enroll_alice(self.tok.spec, self.cloud.public_id)

    def test_good(self):
        res = self.login(self.known(self.cloud.otp(1, 0), 1, 0))
        self.assertRc(res, PAM_SUCCESS)
        self.assertIn("OTP accepted by the validation server", res.log)
        reqs = self.srv.requests()["requests"]
        self.assertEqual(len(reqs), 1)
        self.assertEqual(reqs[0]["signature"], "ok")
        self.assertEqual(reqs[0]["status"], "OK")

    def test_replayed(self):
        otp = self.known(self.cloud.otp(1, 0), 1, 0)
        self.assertRc(self.login(otp), PAM_SUCCESS)
        res = self.login(otp)
        self.assertRc(res, PAM_AUTH_ERR)
        self.assertIn("REPLAYED_OTP", res.log)

    def test_unknown_to_the_server(self):
        res = self.login(self.cloud.otp(1, 0))
        self.assertRc(res, PAM_AUTH_ERR)
        self.assertIn("BAD_OTP", res.log)

    def test_tampered(self):
        # The server says BAD_OTP; on the way the status becomes OK.
        self.srv.fault("tamper", status="OK")
        res = self.login(self.cloud.otp(1, 0))
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL)
        self.assertIn("signature is wrong", res.log)

    def test_unsigned(self):
        self.srv.fault("unsigned")
        res = self.login(self.known(self.cloud.otp(1, 0), 1, 0))
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL)
        self.assertIn("not signed", res.log)

    def test_wrong_nonce(self):
        self.srv.fault("wrong_nonce")
        res = self.login(self.known(self.cloud.otp(1, 0), 1, 0))
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL)
        self.assertIn("echoes another nonce", res.log)

    def test_one_reading_of_an_ambiguous_otp(self):
        """Typed only in the characters modhex and Dvorak share, an OTP
        has two readings.  Here the Dvorak one names alice's server-only
        token and the modhex one is another token's OTP that the server
        knows (a YubiKey of the person typing).  The token matched here is
        the one the server is asked about: the Dvorak reading, which the
        server does not know.  (Asking about the other reading let the
        server vouch for a token that is not alice's.)"""
        shared = "bcdeghijkntu"
        typed = "".join(secrets.choice(shared) for _ in range(44))
        dvorak_reading = typed.translate(str.maketrans(DVORAK, MODHEX))
        self.assertNotEqual(typed[:12], dvorak_reading[:12])
        self.enroll_alice(self.tok.spec, dvorak_reading[:12])
        self.known(typed, 1, 0)
        res = self.login(typed)
        self.assertRc(res, PAM_AUTH_ERR)
        self.assertIn("BAD_OTP", res.log)
        reqs = self.srv.requests()["requests"]
        self.assertEqual([r["otp"] for r in reqs], [dvorak_reading],
                         "asked about the reading that named the token")
        # The same characters for a modhex-reading token: that one.
        self.enroll_alice(self.tok.spec, typed[:12])
        # In the sanitizer build, LeakSanitizer (gcc 12's) crashes at this
        # login's exit while it scans the dynamic TLS of the unloaded
        # network plugin ("Tracer caught signal 11 ... DTLS"), a known
        # runtime bug: it scans no TLS for this one (use_tls=0 can only
        # report more leaks, never fewer).
        old = os.environ.get("LSAN_OPTIONS")
        os.environ["LSAN_OPTIONS"] = ((old + ":") if old else "") + \
            "use_tls=0"
        try:
            res = self.login(typed)
        finally:
            if old is None:
                del os.environ["LSAN_OPTIONS"]
            else:
                os.environ["LSAN_OPTIONS"] = old
        self.assertRc(res, PAM_SUCCESS)
        reqs = self.srv.requests()["requests"]
        self.assertEqual(reqs[-1]["otp"], typed)

    def test_other_users_token(self):
        stranger = Token()
        res = self.login(self.known(stranger.otp(1, 0), 1, 0))
        self.assertRc(res, PAM_AUTH_ERR)
        self.assertIn("not enrolled for this user", res.log)
        self.assertEqual(self.requests(), 0, "never sent")

    def test_keyed_token_checked_here_and_there(self):
        otp = self.known(self.tok.otp(2, 0), 2, 0)
        res = self.login(otp)
        self.assertRc(res, PAM_SUCCESS)
        self.assertIn("OTP accepted here and by the validation server",
                      res.log)
        self.assertEqual(self.requests(), 1)
        # Replayed, wrong CRC, lower counters: refused here, never sent.
        bad = changed_at(self.tok.otp(3, 0), -1, self.tok.key)
        for typed in (otp, bad, self.known(self.tok.otp(1, 9), 1, 9)):
            self.assertRc(self.login(typed), PAM_AUTH_ERR)
        self.assertEqual(self.requests(), 1)
        # Used elsewhere in the fleet: the server refuses; the local floor
        # rises anyway (the OTP is spent).
        elsewhere = self.tok.otp(4, 0)
        self.otps[elsewhere] = "REPLAYED_OTP"
        self.srv.write_db(self.db())
        res = self.login(elsewhere)
        self.assertRc(res, PAM_AUTH_ERR)
        self.assertIn("REPLAYED_OTP", res.log)
        self.assertEqual(self.token_line(self.tok),
                         "token %s 4 0" % self.tok.public_id)

    def test_unreachable_secure(self):
        self.write_config(yubikey_validation="http://127.0.0.1:%d/wsapi/2.0/"
                          "verify" % free_port())
        for otp in (self.tok.otp(1, 0), self.cloud.otp(1, 0)):
            res = self.login(otp)
            self.assertRc(res, PAM_AUTHINFO_UNAVAIL)
            self.assertIn("no server gave a usable answer", res.log)
        self.assertIsNone(self.token_line(self.tok))

    def test_api_key_file_must_be_private(self):
        os.chmod(self.key_file, 0o640)
        res = self.login(self.known(self.cloud.otp(1, 0), 1, 0))
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL)
        self.assertIn(self.key_file, res.log)
        self.assertIn("the API key is unusable", res.log)
        self.assertEqual(self.requests(), 0)

    def test_wrong_api_key(self):
        self.tree.write(self.key_file, base64.b64encode(
            secrets.token_bytes(20)).decode() + "\n", 0o600)
        res = self.login(self.known(self.cloud.otp(1, 0), 1, 0))
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL)
        self.assertIn("BAD_SIGNATURE", res.log)

    def test_config_errors(self):
        for extra, message in (
                ({"yubikey_api_key_file": None},
                 "a plain http server needs yubikey_api_key_file"),
                ({"yubikey_client_id": None},
                 "yubikey_validation needs yubikey_client_id"),
                ({"yubikey_validation": "ftp://example.com/"},
                 "yubikey_validation: server 1: must start with https://"),
                ({"yubikey_validation": self.srv.url +
                  " http://example.com/verify"},
                 "yubikey_validation: server 2: plain http is only allowed "
                 "to"),
                ({"yubikey_client_id": "1 2"}, "not a valid client id")):
            self.write_config(**extra)
            res = self.login(self.cloud.otp(1, 0))
            self.assertRc(res, PAM_AUTHINFO_UNAVAIL, extra)
            self.assertIn(message, res.log)
            self.assertIn("configuration unusable", res.log)


class OnlineFailSafe(OnlineCase):
    failmode = "safe"

    def test_local_check_carries_when_servers_are_down(self):
        cloud = Token()
        self.enroll_alice(self.tok.spec, cloud.public_id)
        self.write_config(yubikey_validation="http://127.0.0.1:%d/verify"
                          % free_port())
        res = self.login(self.tok.otp(1, 0))
        self.assertRc(res, PAM_SUCCESS)
        self.assertIn("failmode = safe: accepted on the local check alone",
                      res.log)
        self.assertEqual(self.token_line(self.tok),
                         "token %s 1 0" % self.tok.public_id)
        self.assertRc(self.login(self.tok.otp(1, 0)), PAM_AUTH_ERR,
                      "the local floor still refuses a replay")
        res = self.login(cloud.otp(1, 0))
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL,
                      "nothing vouches for a token without a key here")


class WithSts(YkCase):
    """A YubiKey OTP never goes to STS (IAM MFA is TOTP)."""

    def start(self, failmode):
        from sts_process import IamUser, StsServer
        self.iam = IamUser("alice")
        self.sts = StsServer([self.iam])
        self.addCleanup(self.sts.stop)
        self.tree.write_config({"users_dir": self.tree.users,
                                "state_dir": self.tree.state,
                                "verify": "local+sts", "failmode": failmode,
                                "sts_endpoint": self.sts.url,
                                "sts_timeout": 5})
        self.tree.enroll("alice", seed=self.iam.seed, extra=(
            "access_key_id = %s\nsecret_access_key = %s\nyubikey = %s\n"
            % (self.iam.key_id, self.iam.secret, self.tok.spec)))

    def test_secure_refuses_a_yubikey_otp(self):
        self.start("secure")
        res = self.tree.run("awsmfa", "alice", [self.tok.otp(1, 0)],
                            extra_args=["-E"])
        self.assertRc(res, PAM_AUTH_ERR)
        self.assertIn("a YubiKey OTP cannot get AWS credentials", res.log)
        self.assertEqual(self.sts.requests()["total"], 0)
        self.assertIsNone(self.token_line(self.tok), "the OTP is not spent")
        wait_fresh_step(margin=6)
        res = self.tree.run("awsmfa", "alice", [totp(self.iam.seed)],
                            extra_args=["-E"])
        self.assertRc(res, PAM_SUCCESS)
        self.assertIn("AWS_SESSION_TOKEN", res.env)

    def test_safe_lets_in_without_credentials(self):
        self.start("safe")
        res = self.tree.run("awsmfa", "alice", [self.tok.otp(1, 0)],
                            extra_args=["-E"])
        self.assertRc(res, PAM_SUCCESS)
        self.assertNotIn("AWS_ACCESS_KEY_ID", res.env)
        self.assertIn("YubiKey accepted: you are logged in without AWS "
                      "credentials", res.out)
        self.assertEqual(self.sts.requests()["total"], 0)
        res = self.tree.run("awsmfa", "alice", [self.tok.otp(1, 0)])
        self.assertRc(res, PAM_AUTH_ERR, "replay refused as ever")


PROCESSES = 32
ROUNDS = 5


class SameOtpAtOnce(YkCase):
    def test_exactly_one_wins(self):
        for rnd in range(ROUNDS):
            otp = self.tok.otp(10 + rnd, rnd)
            barrier = os.path.join(self.tree.root, "go%d" % rnd)
            procs = [self.tree.start("awsmfa", "alice", [otp], ["-w", barrier])
                     for _ in range(PROCESSES)]
            open(barrier, "w").close()
            results = [self.tree.finish(p)[0] for p in procs]
            winners = results.count(PAM_SUCCESS)
            self.assertEqual(winners, 1, "round %d: %d of %d succeeded: %r"
                             % (rnd, winners, PROCESSES, results))
            self.assertEqual(results.count(PAM_AUTH_ERR), PROCESSES - 1)


if __name__ == "__main__":
    require_root()
    unittest.main(verbosity=2)
