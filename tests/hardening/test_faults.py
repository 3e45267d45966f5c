"""Faults while the module works: the state directory full (blocks or
inodes) or read-only while state is written, the module killed at random
points of a state update (hundreds of times), STS slow (slow-loris),
resetting, throttling or failing without end, and the clock stepped
backwards (libfaketime).  In every case the login is refused or the state is
the old or the new one, never lost, never half-written, and no code is
accepted twice."""

import glob
import os
import random
import signal
import subprocess
import tempfile
import time
import unittest

from amfa_testlib import (PAMTEST, PAM_AUTH_ERR, PAM_AUTHINFO_UNAVAIL,
                          PAM_SUCCESS, PamTestCase, require_root, totp,
                          wait_fresh_step)
from hardlib import parse_state, state_text, step_now
from sts_process import IamUser, StsServer

# Debian's multiarch directory, whatever the architecture.
FAKETIME = (glob.glob("/usr/lib/*/faketime/libfaketime.so.1") or
            ["/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"])[0]


def read(path):
    with open(path) as f:
        return f.read()


class Mounted(PamTestCase):
    """state_dir on its own small tmpfs."""
    config = {"lockout_attempts": 1000}

    def setUp(self):
        super().setUp()
        self.seed = self.tree.enroll("alice")
        os.makedirs(self.tree.state, 0o700)
        self.mount("size=64k,nr_inodes=64,mode=0700")
        self.old = state_text(step_now() - 10, failures=3,
                              last_success=1700000000)
        self.tree.write(self.tree.state_file("alice"), self.old, 0o600)
        self.tree.write(os.path.join(self.tree.state, "alice.lock"), "",
                        0o600)

    def mount(self, opts):
        subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "amfa-test",
                        self.tree.state], check=True)
        self.addCleanup(subprocess.run, ["umount", "-l", self.tree.state])

    def fill_blocks(self):
        filler = os.path.join(self.tree.state, "filler")
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while True:
                os.write(fd, b"\0" * 1024)
        except OSError:
            pass
        finally:
            os.close(fd)
        return filler

    def fill_inodes(self):
        made = []
        try:
            for i in range(1000):
                p = os.path.join(self.tree.state, "i%d" % i)
                open(p, "w").close()
                made.append(p)
        except OSError:
            pass
        return made

    def assertIntact(self):
        self.assertEqual(read(self.tree.state_file("alice")), self.old)
        self.assertEqual([n for n in os.listdir(self.tree.state)
                          if n.startswith(".")], [], "temporary file left")

    def test_disk_full_right_code(self):
        wait_fresh_step(margin=6)
        filler = self.fill_blocks()
        code = totp(self.seed)
        res = self.tree.run("awsmfa", "alice", [code])
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL)
        self.assertIn("cannot write state", res.log)
        self.assertIn("state not saved", res.log)
        self.assertIntact()
        # Room again: the same code was never spent, so it works now,
        # and once only.
        os.unlink(filler)
        self.assertRc(self.tree.run("awsmfa", "alice", [code]), PAM_SUCCESS)
        self.assertRc(self.tree.run("awsmfa", "alice", [code]), PAM_AUTH_ERR)

    def test_disk_full_wrong_code(self):
        self.fill_blocks()
        res = self.tree.run("awsmfa", "alice", ["000000"])
        self.assertNotEqual(res.rc, PAM_SUCCESS)
        self.assertIntact()

    def test_no_inodes_left(self):
        wait_fresh_step(margin=6)
        made = self.fill_inodes()
        self.assertTrue(made)
        code = totp(self.seed)
        res = self.tree.run("awsmfa", "alice", [code])
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL)
        self.assertIntact()
        for p in made:
            os.unlink(p)
        self.assertRc(self.tree.run("awsmfa", "alice", [code]), PAM_SUCCESS)

    def test_read_only(self):
        wait_fresh_step(margin=6)
        subprocess.run(["mount", "-o", "remount,ro", self.tree.state],
                       check=True)
        code = totp(self.seed)
        res = self.tree.run("awsmfa", "alice", [code])
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL)
        self.assertIn("Read-only file system", res.log)
        self.assertIntact()
        subprocess.run(["mount", "-o", "remount,rw", self.tree.state],
                       check=True)
        self.assertRc(self.tree.run("awsmfa", "alice", [code]), PAM_SUCCESS)

    def test_read_only_bind_mount(self):
        # A read-only bind of a writable directory: the lock may exist,
        # the state may not be replaced.
        wait_fresh_step(margin=6)
        subprocess.run(["mount", "--bind", self.tree.state, self.tree.state],
                       check=True)
        self.addCleanup(subprocess.run, ["umount", "-l", self.tree.state])
        subprocess.run(["mount", "-o", "remount,bind,ro", self.tree.state],
                       check=True)
        res = self.tree.run("awsmfa", "alice", [totp(self.seed)])
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL)
        self.assertIntact()


class KilledMidUpdate(PamTestCase):
    """SIGKILL at random moments of logins that update the state: the file
    always parses and is the state before or after that login."""
    config = {"lockout_attempts": 1000}
    ITERATIONS = 300

    def test_random_kills(self):
        seed = self.tree.enroll("alice")
        os.makedirs(self.tree.state, 0o700)
        path = self.tree.state_file("alice")
        self.tree.write(path, state_text(step_now() - 10), 0o600)
        # How long a whole login takes here, to spread the kills over it.
        t0 = time.monotonic()
        for _ in range(5):
            self.tree.run("awsmfa", "alice", ["000000"])
        span = (time.monotonic() - t0) / 5
        rng = random.Random(6)
        outcomes = {"old": 0, "new": 0}
        for i in range(self.ITERATIONS):
            before = parse_state(read(path))
            self.assertIsNotNone(before)
            p = subprocess.Popen([PAMTEST, self.tree.pamd, "awsmfa",
                                  "alice"], stdin=subprocess.PIPE,
                                 stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
            p.stdin.write(b"000000\n")
            p.stdin.flush()
            time.sleep(rng.uniform(0, span * 1.2))
            p.kill()
            p.wait()
            p.stdin.close()
            after = parse_state(read(path))
            self.assertIsNotNone(after, "iteration %d: state does not "
                                 "parse:\n%s" % (i, read(path)))
            if after == before:
                outcomes["old"] += 1
            else:
                before["failures"] += 1
                self.assertEqual(after, before, "iteration %d" % i)
                outcomes["new"] += 1
        # The kills landed on both sides of the update.
        self.assertGreater(outcomes["old"], 10, outcomes)
        self.assertGreater(outcomes["new"], 10, outcomes)
        # Nothing is wedged: a full login still works and cleans up.
        wait_fresh_step(margin=4)
        self.assertRc(self.tree.run("awsmfa", "alice", [totp(seed)]),
                      PAM_SUCCESS)
        self.assertEqual(sorted(os.listdir(self.tree.state)),
                         ["alice.lock", "alice.state"])
        print("kills: %(old)d left the old state, %(new)d the new" % outcomes)


class KilledMidLogin(PamTestCase):
    """SIGKILL at random moments of hundreds of logins, right codes and
    wrong ones, each at a time step of its own (libfaketime moves the
    clock forward 30 s a login): after every kill the state is the one
    before that login or the one after it, never a mix; no code it
    accepted is ever accepted again; and the next right code still gets
    in.  The file is two slots written in place (pam_awsmfa/store/state.c)."""
    config = {"lockout_attempts": 1000}
    ITERATIONS = 200

    def login_at(self, at, code):
        env = dict(os.environ, LD_PRELOAD=FAKETIME,
                   FAKETIME="@" + time.strftime("%Y-%m-%d %H:%M:%S",
                                                time.gmtime(at)),
                   TZ="UTC", FAKETIME_NO_CACHE="1")
        env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") +
                               ":verify_asan_link_order=0").lstrip(":")
        p = subprocess.Popen([PAMTEST, self.tree.pamd, "awsmfa", "alice"],
                             stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=env)
        p.stdin.write(code.encode() + b"\n")
        p.stdin.flush()
        return p

    def finish(self, p):
        p.wait()
        p.stdin.close()
        return p.returncode

    def test_random_kills_right_and_wrong_codes(self):
        if not os.path.exists(FAKETIME):
            self.fail("libfaketime missing (apt-get install faketime)")
        seed = self.tree.enroll("alice")
        path = self.tree.state_file("alice")
        # Steps from an hour ahead, 30 s apart, each in its middle.
        t0 = (int(time.time()) // 30 + 120) * 30 + 15
        rng = random.Random(18)
        span = 0
        for i in range(5):
            t = time.monotonic()
            self.finish(self.login_at(t0 - 300 + 30 * i, "000000"))
            span += (time.monotonic() - t) / 5
        accepted, outcomes = [], {"old": 0, "new": 0, "in": 0}
        for i in range(self.ITERATIONS):
            at = t0 + 30 * i
            right = rng.random() < 0.5
            code = totp(seed, at)
            if not right:
                # Not the code of any step the window takes.
                near = {totp(seed, at + d) for d in (-30, 0, 30)}
                n = int(code)
                while "%06d" % n in near:
                    n = (n + 500001) % 1000000
                code = "%06d" % n
            before = parse_state(read_bytes(path))
            p = self.login_at(at, code)
            time.sleep(rng.uniform(0, span * 1.2))
            p.kill()
            rc = self.finish(p)
            after = parse_state(read_bytes(path))
            self.assertIsNotNone(after, "iteration %d: no valid state" % i)
            if rc == PAM_SUCCESS:
                outcomes["in"] += 1
            if after == before:
                outcomes["old"] += 1
                self.assertNotEqual(rc, PAM_SUCCESS, "in, but not recorded")
                continue
            outcomes["new"] += 1
            if right:
                self.assertEqual(after["last_step"], at // 30, i)
                self.assertEqual(after["failures"], 0, i)
                accepted.append((at, code))
            else:
                self.assertEqual(after["failures"],
                                 (before or {"failures": 0})["failures"] + 1)
        self.assertGreater(outcomes["old"], 10, outcomes)
        self.assertGreater(outcomes["new"], 10, outcomes)
        self.assertGreater(len(accepted), 5, outcomes)
        # Every code the state took is spent, at its own time and later.
        for at, code in rng.sample(accepted, min(20, len(accepted))):
            self.assertEqual(self.finish(self.login_at(at, code)),
                             PAM_AUTH_ERR, "code of %d accepted again" % at)
        # And the next right code gets in.
        at = t0 + 30 * self.ITERATIONS
        self.assertEqual(self.finish(self.login_at(at, totp(seed, at))),
                         PAM_SUCCESS)
        self.assertEqual(sorted(os.listdir(self.tree.state)),
                         ["alice.lock", "alice.state"])
        print("kills: %(old)d left the old state, %(new)d the new; "
              "%(in)d logged in before the kill" % outcomes)


def read_bytes(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return b"version 1\nlast_step -1\nfailures 0\nlocked_until 0\n" \
            b"last_success 0\nend\n"


class StsFaults(PamTestCase):
    """What tests/pam/test_pam_sts.py does not cover: a slow-loris answer,
    faults that never end (throttling, resets, 503), a closed port.  The
    login is bounded by sts_timeout and the state is untouched."""
    TIMEOUT = 3

    def setUp(self):
        self.iam = IamUser("alice")
        self.sts = StsServer([self.iam])
        self.addCleanup(self.sts.stop)
        self.config = {"verify": "sts", "sts_endpoint": self.sts.url,
                       "sts_timeout": self.TIMEOUT}
        super().setUp()
        self.tree.enroll("alice", seed=self.iam.seed,
                         extra="access_key_id = %s\nsecret_access_key = %s\n"
                         % (self.iam.key_id, self.iam.secret))
        os.makedirs(self.tree.state, 0o700)
        self.tree.write(self.tree.state_file("alice"),
                        state_text(step_now() - 10, failures=1), 0o600)
        self.tree.write(os.path.join(self.tree.state, "alice.lock"), "",
                        0o600)
        wait_fresh_step(margin=8)

    def state_now(self):
        return (sorted(os.listdir(self.tree.state)),
                parse_state(read_bytes(self.tree.state_file("alice"))))

    def login(self):
        before = self.state_now()
        start = time.monotonic()
        res = self.tree.run("awsmfa", "alice", [totp(self.iam.seed)],
                            extra_args=["-E"])
        took = time.monotonic() - start
        return res, took, before

    def assertBoundedRefusal(self, res, took, before):
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL)
        self.assertNotIn("AWS_ACCESS_KEY_ID", res.env)
        # The faults last 60 s or never end: well under that is the
        # timeout at work (the margin is for a loaded machine and ASan).
        self.assertLess(took, self.TIMEOUT + 10, "sts_timeout holds")
        # The attempt is counted before STS is asked (auth.c: a verdict
        # is never seen before its record), then taken back when STS
        # could not answer: the same state, rewritten.
        self.assertEqual(self.state_now(), before,
                         "an unreachable STS changes no state")
        self.assertNotIn(self.iam.secret, res.log)

    def test_slowloris_bounded(self):
        self.sts.fault(fault="slowloris", interval=0.2, max_seconds=60)
        res, took, before = self.login()
        self.assertBoundedRefusal(res, took, before)
        self.assertGreater(took, self.TIMEOUT - 0.5)

    def test_slowloris_that_finishes_in_time(self):
        # A slow but complete answer within sts_timeout is a good answer:
        # about 1.1 KB at a byte a millisecond, well inside 15 s.
        self.tree.write_config(dict(users_dir=self.tree.users,
                                    state_dir=self.tree.state,
                                    **dict(self.config, sts_timeout=15)))
        self.sts.fault(fault="slowloris", interval=0.001, max_seconds=60)
        res, took, before = self.login()
        self.assertRc(res, PAM_SUCCESS)
        self.assertIn("AWS_SESSION_TOKEN", res.env)

    def test_throttled_without_end(self):
        self.sts.fault(fault="throttle", count=1000)
        res, took, before = self.login()
        self.assertBoundedRefusal(res, took, before)
        self.assertGreater(self.sts.requests()["total"], 1, "retried")

    def test_reset_without_end(self):
        self.sts.fault(fault="reset", count=1000)
        res, took, before = self.login()
        self.assertBoundedRefusal(res, took, before)

    def test_503_without_end(self):
        self.sts.fault(fault="error5xx", status=503, count=1000)
        res, took, before = self.login()
        self.assertBoundedRefusal(res, took, before)

    def test_consumed_then_503(self):
        # The first try reached AWS and spent the code; the retry is
        # refused as a reuse and the log says the code was consumed.
        self.sts.fault(fault="consume_then_fail", then="503")
        res, took, before = self.login()
        self.assertNotEqual(res.rc, PAM_SUCCESS)
        self.assertIn("consumed", res.log)

    def test_closed_port(self):
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        self.tree.write_config(dict(users_dir=self.tree.users,
                                    state_dir=self.tree.state,
                                    **dict(self.config, sts_endpoint=
                                           "http://127.0.0.1:%d/" % port)))
        res, took, before = self.login()
        self.assertBoundedRefusal(res, took, before)


class ClockStepsBack(PamTestCase):
    """The host clock stepped backwards (libfaketime under the real
    pamtest): no code is accepted twice and no older code gets in."""
    config = {"lockout_attempts": 1000, "window": 1}

    def setUp(self):
        if not os.path.exists(FAKETIME):
            self.fail("libfaketime missing (apt-get install faketime)")
        super().setUp()
        self.seed = self.tree.enroll("alice")
        wait_fresh_step(margin=8)

    def run_at(self, offset, code):
        # In a sanitizer build the preload comes before the ASan runtime,
        # which is harmless here but refused unless told.
        env = dict(os.environ, LD_PRELOAD=FAKETIME,
                   FAKETIME="%+ds" % offset, FAKETIME_DONT_RESET="1",
                   FAKETIME_NO_CACHE="1")
        env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") +
                               ":verify_asan_link_order=0").lstrip(":")
        p = subprocess.run([PAMTEST, self.tree.pamd, "awsmfa", "alice"],
                           input=code + "\n", capture_output=True,
                           text=True, env=env, timeout=60)
        return p

    def test_faketime_works(self):
        # The harness itself: a code of 5 minutes ago is right at -300 s.
        old = totp(self.seed, time.time() - 300)
        self.assertEqual(self.run_at(-300, old).returncode, PAM_SUCCESS)
        self.assertNotEqual(self.run_at(0, old).returncode, PAM_SUCCESS)

    def test_replay_after_step_back(self):
        now = time.time()
        code = totp(self.seed, now)
        self.assertRc(self.tree.run("awsmfa", "alice", [code]), PAM_SUCCESS)
        state = parse_state(read(self.tree.state_file("alice")))
        for back in (30, 60, 90, 3600, 86400):
            with self.subTest(back=back):
                # The same code, and the code the stepped-back clock shows.
                self.assertEqual(self.run_at(-back, code).returncode,
                                 PAM_AUTH_ERR)
                earlier = totp(self.seed, now - back)
                self.assertEqual(self.run_at(-back, earlier).returncode,
                                 PAM_AUTH_ERR)
        after = parse_state(read(self.tree.state_file("alice")))
        self.assertEqual(after["last_step"], state["last_step"],
                         "the last accepted step never goes back")
        # Back to the real clock: the next step's code works.
        nxt = totp(self.seed, now + 30)
        self.assertEqual(self.run_at(0, nxt).returncode, PAM_SUCCESS)


if __name__ == "__main__":
    require_root()
    unittest.main(verbosity=2)
