"""test_pam_fleet.py again, every table call of the bastions made by
awsmfa-netd (the network broker: awsmfa-netd(8)) instead of the login's
own process: the same tests, the exactly-once race and the fleet-wide
lockout among them, with fleetlib's Fleet starting the broker and each
bastion's configuration naming its socket (AMFA_TEST_NETD=1).  The
broker's own tests are tests/pam/test_pam_netd.py."""

import os
import sys
import unittest

os.environ["AMFA_TEST_NETD"] = "1"
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# The module's tests run here, with its setUpModule (its FLEET).
import test_pam_fleet                                            # noqa: E402
from amfa_testlib import sanitizer_build                         # noqa: E402

if __name__ == "__main__":
    test_pam_fleet.require_root()
    # The whole fleet suite once more costs the run about two minutes a
    # build: the plain build runs it; the sanitizer build runs the
    # broker's own tests (test_pam_netd, test_pam_netd_attack) and the
    # fleet suite without the broker.
    if sanitizer_build(os.environ["AMFA_PAM_MODULE"]):
        print("SKIP: run in the plain build (the sanitizer build runs "
              "test_pam_netd and test_pam_netd_attack)")
        sys.exit(77)
    unittest.main(module=test_pam_fleet, verbosity=2)
