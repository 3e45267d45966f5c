"""Many logins at once with the same valid code: exactly one succeeds."""

import os
import unittest

from amfa_testlib import PAM_SUCCESS, PamTestCase, require_root, totp, \
    wait_fresh_step

PROCESSES = 32
ROUNDS = 5


class SameCodeAtOnce(PamTestCase):
    def test_exactly_one_wins(self):
        users = ["user%d" % i for i in range(ROUNDS)]
        seeds = {u: self.tree.enroll(u) for u in users}
        for rnd, user in enumerate(users):
            wait_fresh_step(margin=8)
            code = totp(seeds[user])
            barrier = os.path.join(self.tree.root, "go%d" % rnd)
            procs = [self.tree.start("awsmfa", user, [code], ["-w", barrier])
                     for _ in range(PROCESSES)]
            open(barrier, "w").close()
            results = [self.tree.finish(p)[0] for p in procs]
            winners = results.count(PAM_SUCCESS)
            self.assertEqual(winners, 1, "round %d: %d of %d succeeded: %r"
                             % (rnd, winners, PROCESSES, results))


if __name__ == "__main__":
    require_root()
    unittest.main(verbosity=2)
