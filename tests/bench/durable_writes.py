"""durable_writes.py: how many durable writes each kind of login makes.

Each path is one real PAM transaction (the pamtest driver, the built
module) under `strace -f`, counting the system calls that make a write
durable (fsync, fdatasync) and those that replace files (rename*), with
the state of the user as it is on a host in service unless the row says
otherwise.  Run by hand, as root:

    python3 tests/bench/durable_writes.py BUILD_DIR

Prints one Markdown table.  Nothing is asserted: the figures go into
tests/bench/README.md."""

import collections
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "pam"))
sys.path.insert(0, os.path.join(HERE, "..", "fixtures"))
sys.path.insert(0, os.path.join(HERE, "..", "hardening"))

CALLS = ("fsync", "fdatasync", "rename", "renameat", "renameat2", "pwrite64")


def count(build, tree, user, code):
    """System calls of interest made by one login: name -> count."""
    out = os.path.join(tree.root, "strace.out")
    p = subprocess.run(
        ["strace", "-f", "-qq", "-o", out, "-e", "trace=" + ",".join(CALLS),
         os.path.join(build, "tests", "pam", "pamtest"), tree.pamd,
         "awsmfa", user],
        input=code + "\n", capture_output=True, text=True, timeout=120)
    seen = collections.Counter()
    with open(out) as f:
        for line in f:
            m = re.match(r"\s*(?:\d+\s+)?(\w+)\(", line)
            if m and m.group(1) in CALLS:
                seen[m.group(1)] += 1
    return seen, p.returncode


def main(argv):
    build = os.path.abspath(argv[1] if len(argv) > 1 else "build")
    os.environ.setdefault("AMFA_PAM_MODULE",
                          os.path.join(build, "pam_awsmfa", "pam_awsmfa.so"))
    os.environ.setdefault("AMFA_PAMTEST",
                          os.path.join(build, "tests", "pam", "pamtest"))
    import amfa_testlib
    from amfa_testlib import Tree, totp, wait_fresh_step
    from hardlib import state_text
    from sts_process import IamUser, StsServer

    amfa_testlib.PAMTEST = os.environ["AMFA_PAMTEST"]
    # One IAM user a mode: the endpoint spends each code it accepts.
    modes = ("local", "local+sts", "sts")
    iams = {m: IamUser("bench%d" % i) for i, m in enumerate(modes)}
    sts = StsServer(list(iams.values()))
    rows = []
    try:
        for verify in modes:
            iam = iams[verify]
            tree = Tree(verify=verify, sts_endpoint=sts.url,
                        lockout_attempts=1000)
            tree.service("awsmfa", ["auth required MODULE config=CONF"])
            seed = tree.enroll("bench", seed=iam.seed, iam_user=iam.name,
                               extra=(
                "access_key_id = %s\nsecret_access_key = %s\n"
                % (iam.key_id, iam.secret)))
            wait_fresh_step(margin=10)
            now = time.time()
            cases = [("first login (no state file)", totp(seed, now - 30)),
                     ("right code", totp(seed, now)),
                     ("wrong code", "%06d" % ((int(totp(seed, now)) +
                                               500000) % 1000000))]
            if verify == "local":
                cases.append(("right code, state of the earlier text form",
                              None))
            for what, code in cases:
                if code is None:
                    os.unlink(tree.state_file("bench"))
                    tree.write(tree.state_file("bench"),
                               state_text(int(now) // 30 - 5), 0o600)
                    code = totp(seed, now + 30)
                seen, rc = count(build, tree, "bench", code)
                rows.append((verify, what, "in" if rc == 0 else
                             "refused (%d)" % rc, seen))
            tree.cleanup()
    finally:
        sts.stop()
    print("| verify | login | outcome | fsync | fdatasync | rename | pwrite |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: |")
    for verify, what, outcome, seen in rows:
        print("| %s | %s | %s | %d | %d | %d | %d |" % (
            verify, what, outcome, seen["fsync"], seen["fdatasync"],
            seen["rename"] + seen["renameat"] + seen["renameat2"],
            seen["pwrite64"]))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
