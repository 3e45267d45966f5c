#!/usr/bin/python3
"""Offline YubiKey OTP decoding (ykotp.h) through the yktest driver, with
OTPs made by libyubikey's ykgenerate for tokens created at test time."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from yklib import (MODHEX, Token, key_that_fails, modhex,  # noqa: E402
                   to_dvorak, yktest)


def decode(tokens, otp):
    out, err = yktest("decode", *[t.spec for t in tokens], "--", otp)
    for t in tokens:
        assert t.key not in err.lower() and t.key not in out.lower(), "key leaked"
    return out


def other_modhex(c):
    return MODHEX[(MODHEX.index(c) + 5) % 16]


class Decode(unittest.TestCase):
    def setUp(self):
        self.tok = Token()

    def test_good_otp_gives_its_counters(self):
        for session, use in ((0, 0), (1, 0), (7, 3), (300, 200), (0x7fff, 0xff)):
            with self.subTest(session=session, use=use):
                self.assertEqual(decode([self.tok], self.tok.otp(session, use)),
                                 "OK 0 %d %d" % (session, use))

    def test_capslock_bit_is_not_part_of_the_session_counter(self):
        self.assertEqual(decode([self.tok], self.tok.otp(42, 5, capslock=True)),
                         "OK 0 42 5")

    def test_upper_case_otp(self):
        self.assertEqual(decode([self.tok], self.tok.otp(9, 1).upper()), "OK 0 9 1")

    def test_dvorak_form(self):
        # (The form valid in both alphabets is covered by the unit test.)
        otp = self.tok.otp(12, 4)
        self.assertEqual(decode([self.tok], to_dvorak(otp)), "OK 0 12 4")
        self.assertEqual(decode([self.tok], to_dvorak(otp).upper()), "OK 0 12 4")
        self.assertEqual(yktest("shaped", to_dvorak(otp))[0], "yes " + otp)

    def test_wrong_aes_key(self):
        otp = self.tok.otp(3, 3)
        wrong = Token(self.tok.public_id, uid=self.tok.uid,
                      key=key_that_fails(otp, self.tok.key))
        self.assertEqual(decode([wrong], otp), "BAD_CRC")

    def test_wrong_private_id(self):
        otp = self.tok.otp(3, 3)
        wrong = Token(self.tok.public_id, key=self.tok.key)
        self.assertEqual(decode([wrong], otp), "BAD_PRIVATE_ID")

    def test_unknown_public_id(self):
        otp = self.tok.otp(3, 3)
        self.assertEqual(decode([Token()], otp), "UNKNOWN_TOKEN")
        # One character of the public id changed.
        pid = self.tok.public_id
        changed = other_modhex(pid[0]) + otp[1:]
        self.assertEqual(decode([self.tok], changed), "UNKNOWN_TOKEN")
        # The same OTP under another token's public id: that token's key.
        self.assertEqual(decode([self.tok, Token()], otp), "OK 0 3 3")

    def test_every_flipped_character_is_refused(self):
        # Fixed key and counters: ykgenerate is deterministic, so this test
        # is too (no 1 in 65536 CRC collision by chance).
        tok = Token("vvccccbbcdef", "2b7e151628aed2a6abf7158809cf4f3c", "a1b2c3d4e5f6")
        otp = tok.otp(1000, 17)
        self.assertEqual(decode([tok], otp), "OK 0 1000 17")
        for i in range(12, 44):
            for c in (other_modhex(otp[i]), MODHEX[(MODHEX.index(otp[i]) + 1) % 16]):
                bad = otp[:i] + c + otp[i + 1:]
                with self.subTest(position=i, char=c):
                    self.assertEqual(decode([tok], bad), "BAD_CRC")

    def test_malformed(self):
        otp = self.tok.otp(5, 5)
        cases = {
            "empty": "",
            "public id only": self.tok.public_id,
            "block only (32)": otp[12:],
            "one short (43)": otp[:-1],
            "one long (45)": otp + "c",
            "over-long (66)": modhex(34) + otp[12:],
            "non-modhex": otp[:20] + "a" + otp[21:],
            "digits": "1" * 44,
            "space": otp[:20] + " " + otp[21:],
            "trailing newline": otp[:-1] + "\n",
            # 'x' is Dvorak only, 'f' modhex only
            "mixed alphabets": otp[:20] + "xf" + otp[22:],
            "mixed alphabets, Dvorak": to_dvorak(otp)[:20] + "f" + to_dvorak(otp)[21:],
        }
        for name, s in cases.items():
            with self.subTest(case=name):
                self.assertEqual(decode([self.tok], s), "MALFORMED")

    def test_shape_but_other_length_is_unknown(self):
        otp = self.tok.otp(5, 5)
        # Even lengths keep the shape; the public id no longer matches.
        self.assertEqual(decode([self.tok], otp[2:]), "UNKNOWN_TOKEN")
        self.assertEqual(decode([self.tok], "cc" + otp), "UNKNOWN_TOKEN")

    def test_several_tokens_the_right_one_is_chosen(self):
        toks = [Token() for _ in range(5)]
        for i, t in enumerate(toks):
            with self.subTest(token=i):
                self.assertEqual(decode(toks, t.otp(i + 1, i)), "OK %d %d %d" % (i, i + 1, i))

    def test_same_public_id_twice_the_matching_key_wins(self):
        a = Token()
        b = Token(a.public_id)
        self.assertEqual(decode([a, b], b.otp(4, 2)), "OK 1 4 2")
        self.assertEqual(decode([a, b], a.otp(4, 2)), "OK 0 4 2")
        # Right key, wrong private id on one; the other entry is tried too.
        c = Token(a.public_id, key=a.key)
        self.assertEqual(decode([c, a], a.otp(6, 0)), "OK 1 6 0")
        self.assertEqual(decode([c], a.otp(6, 0)), "BAD_PRIVATE_ID")

    def test_public_id_lengths(self):
        for n in (2, 16, 32):
            tok = Token(modhex(n))
            with self.subTest(length=n):
                self.assertEqual(decode([tok], tok.otp(1, 1)), "OK 0 1 1")

    def test_counters_order_successive_otps(self):
        seq = [(0, 0), (0, 1), (0, 255), (1, 0), (1, 1), (2, 0), (0x7fff, 0xff)]
        decoded = []
        for s, u in seq:
            out = decode([self.tok], self.tok.otp(s, u)).split()
            decoded.append((int(out[2]), int(out[3])))
        self.assertEqual(decoded, seq)
        for (s1, u1), (s2, u2) in zip(decoded, decoded[1:]):
            self.assertEqual(yktest("cmp", str(s2), str(u2), str(s1), str(u1))[0], "1")
            self.assertEqual(yktest("cmp", str(s1), str(u1), str(s2), str(u2))[0], "-1")
            self.assertEqual(yktest("cmp", str(s1), str(u1), str(s1), str(u1))[0], "0")


class Spec(unittest.TestCase):
    def test_bad_specs_never_quote_the_key(self):
        tok = Token()
        for spec in (tok.public_id + ":" + tok.key + "0:" + tok.uid,
                     tok.public_id + ":" + tok.key + ":" + tok.uid + ":x",
                     tok.public_id + "a:" + tok.key + ":" + tok.uid,
                     tok.public_id + ":" + tok.key):
            out, err = yktest("parse", spec)
            self.assertTrue(out.startswith("error "), out)
            self.assertNotIn(tok.key, out + err)
        self.assertEqual(yktest("parse", tok.spec)[0], "ok " + tok.public_id)

    def test_decode_refuses_a_bad_spec(self):
        from yklib import YKTEST
        import subprocess
        p = subprocess.run([YKTEST, "decode", "xx:00:00", "--", "c" * 44],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
