#!/usr/bin/python3
"""fleet_race.py BUILD [ROUNDS [HOLD]]: table requests and connections per login
when 32 logins race with one code over two "bastions" sharing the state
table (dynalite behind ddb_front.py on loopback), as test_pam_fleet's race:
with HOLD (seconds; test_pam_fleet holds 0.3) every write but a login's
first is held that long by a relay (fleetlib.SlowWrites), so that all the
logins read before any of them writes, the most contended case; without
it the logins race as they come.  Each round a fresh user, half the rounds on
an existing item, half on a user's first login; per round the winners (one,
always), the requests and connections the front saw, and the mean.  Run by
hand, as root, after `meson setup BUILD && ninja -C BUILD`; nothing here is
timed."""

import os
import sys
import time
import unittest

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 10
HOLD = float(sys.argv[3]) if len(sys.argv) > 3 else 0
HERE = os.path.dirname(os.path.abspath(__file__))
PAM_TESTS = os.path.join(HERE, "..", "pam")
os.environ.update({
    "AMFA_PAM_MODULE": os.path.join(BUILD, "pam_awsmfa", "pam_awsmfa.so"),
    "AMFA_PAMTEST": os.path.join(BUILD, "tests", "pam", "pamtest"),
    "AMFA_ADMIN_PROGRAM": os.path.join(BUILD, "pam_awsmfa", "admin",
                                       "awsmfa"),
    "AMFA_TESTS_DIR": PAM_TESTS,
    "AMFA_SOURCE_ROOT": os.path.join(HERE, "..", ".."),
})
sys.path[:0] = [PAM_TESTS, os.path.join(HERE, "..", "fixtures")]

import test_pam_fleet as fleet                                   # noqa: E402
from amfa_testlib import PAM_SUCCESS, Tree, totp, wait_fresh_step  # noqa

LOGINS = 32
ROWS = []


class Race(fleet.FleetCase):
    def test_race(self):
        if HOLD:
            slow = fleet.SlowWrites(fleet.FLEET.front.port, HOLD)
            self.addCleanup(slow.close)
            for t in (self.a, self.b):
                t.settings["dynamodb_endpoint"] = slow.url
                t.write_config(t.settings)
        for rnd in range(ROUNDS):
            user = self.user("race")
            seed = self.enroll(user)
            if rnd % 2 == 0:
                wait_fresh_step()
                self.assertEqual(self.b.run("awsmfa", user, [totp(
                    seed, at=time.time() - 30)]).rc, PAM_SUCCESS)
            code = totp(seed, at=time.time())
            barrier = os.path.join(self.a.root, "go%d" % rnd)
            procs = [(self.a if i % 2 else self.b).start(
                "awsmfa", user, [code], ["-w", barrier])
                for i in range(LOGINS)]
            s0 = fleet.FLEET.front.stats()
            open(barrier, "w").close()
            rcs = [Tree.finish(p)[0] for p in procs]
            s1 = fleet.FLEET.front.stats()
            ROWS.append((rnd, "existing item" if rnd % 2 == 0 else
                         "first login", rcs.count(PAM_SUCCESS),
                         (s1["requests"] - s0["requests"]) / LOGINS,
                         (s1["connections"] - s0["connections"]) / LOGINS))


def main():
    fleet.setUpModule()
    try:
        res = unittest.TextTestRunner(stream=sys.stderr).run(
            unittest.defaultTestLoader.loadTestsFromTestCase(Race))
    finally:
        fleet.tearDownModule()
    print("| round | item | winners | table requests per login | "
          "connections per login |")
    print("| ---: | --- | ---: | ---: | ---: |")
    for r in ROWS:
        print("| %d | %s | %d | %.2f | %.2f |" % r)
    if ROWS:
        print("| mean | | | %.2f | %.2f |" % (
            sum(r[3] for r in ROWS) / len(ROWS),
            sum(r[4] for r in ROWS) / len(ROWS)))
    sys.exit(0 if res.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
