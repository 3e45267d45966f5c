"""durable_writes.py: how many durable writes each kind of login makes.

Each path is one real PAM transaction (the pamtest driver, the built
module) under `strace -f`, counting the system calls that make a write
durable (fsync, fdatasync) and those that replace files (rename*), with
the state of the user as it is on a host in service unless the row says
otherwise.  Run by hand, as root:

    python3 tests/bench/durable_writes.py BUILD_DIR

Prints two Markdown tables: the files' system calls, then the state
table's requests per login (dynalite behind ddb_front.py: GetItem and
UpdateItem as the front counts them; every UpdateItem is a durable
write).  Nothing is asserted: the figures go into tests/bench/README.md."""

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
    table_rows = table_requests(build)
    print("| verify | login | outcome | fsync | fdatasync | rename | pwrite |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: |")
    for verify, what, outcome, seen in rows:
        print("| %s | %s | %s | %d | %d | %d | %d |" % (
            verify, what, outcome, seen["fsync"], seen["fdatasync"],
            seen["rename"] + seen["renameat"] + seen["renameat2"],
            seen["pwrite64"]))

    print()
    print("| state table, verify | login | outcome | GetItem | UpdateItem "
          "(durable writes) |")
    print("| --- | --- | --- | ---: | ---: |")
    for verify, what, outcome, got, upd in table_rows:
        print("| %s | %s | %s | %d | %d |" % (verify, what, outcome, got,
                                               upd))


def table_requests(build):
    """(verify, login, outcome, GetItems, UpdateItems) of logins with the
    state in a table, lockout_attempts = 3."""
    import dynalite
    from amfa_testlib import Tree, totp, wait_fresh_step
    from fleetlib import KEY, TABLE, Fleet, table_settings
    from sts_process import IamUser, StsServer

    if dynalite.available():
        return []
    modes = ("local", "local+sts", "sts")
    iams = {m: IamUser("tbench%d" % i) for i, m in enumerate(modes)}
    sts = StsServer(list(iams.values()))
    fleet = Fleet()
    rows = []
    try:
        for verify in modes:
            iam = iams[verify]
            tree = Tree()
            tree.store = os.path.join(tree.root, "run")
            tree.write_config(table_settings(
                fleet, tree, verify=verify, sts_endpoint=sts.url,
                lockout_attempts=3, lockout_seconds=600))
            tree.service("awsmfa", ["auth required MODULE config=CONF"])
            seed = tree.enroll("tbench", seed=iam.seed, iam_user=iam.name,
                               extra=(
                "access_key_id = %s\nsecret_access_key = %s\n"
                % (iam.key_id, iam.secret)))
            fleet.db.call("DeleteItem", {"TableName": TABLE,
                                         "Key": {KEY: {"S": "tbench"}}})
            wait_fresh_step(margin=12)
            now = time.time()
            wrong = ["%06d" % ((int(totp(seed, now)) + k) % 1000000)
                     for k in (500000, 500001, 500002)]
            cases = [("first login (no item)", totp(seed, now - 30)),
                     ("right code", totp(seed, now)),
                     ("wrong code", wrong[0]),
                     ("wrong code, a second", wrong[1]),
                     ("wrong code, the last allowed (locks)", wrong[2]),
                     ("locked out", wrong[0])]
            for what, code in cases:
                fleet.front.reset_stats()
                rc = subprocess.run(
                    [os.path.join(build, "tests", "pam", "pamtest"),
                     tree.pamd, "awsmfa", "tbench"], input=code + "\n",
                    capture_output=True, text=True, timeout=120).returncode
                targets = fleet.front.stats()["targets"]
                rows.append((verify, what, "in" if rc == 0 else
                             "refused (%d)" % rc,
                             sum(t.endswith(".GetItem") for t in targets),
                             sum(t.endswith(".UpdateItem") for t in targets)))
            tree.cleanup()
    finally:
        fleet.close()
        sts.stop()
    return rows


if __name__ == "__main__":
    sys.exit(main(sys.argv))
