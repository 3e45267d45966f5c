"""The audit log of the set-group-ID gateway, installed as documented
(root:GROUP, mode 2755, log root:GROUP 0620) and run by hand by other
accounts (nobody, daemon) that choose what the process inherits: a
RLIMIT_FSIZE of the log's size plus N, for N inside a record and N around
the room the gateway asks for, and SIGXFSZ ignored.

- Every line of the log stays whole JSON: a record is written whole or not
  at all (the old gateway wrote the first N bytes of its record, with no
  newline, and the next record was glued to them).
- Where the limit leaves room, the record goes in: the gateway asks for
  the record, up to 100 bytes more (the audit chain's fields,
  gateway/audit.c) and AMFA_APPEND_SLACK beyond (pam_awsmfa/secure_file.h),
  so a limit below the record and the slack gets nothing, one at or above
  the record, the 100 bytes and the slack gets the record whole, and in
  between nothing below some limit, the record at and above it.
- A record the gateway wrote for such a caller says "connection":
  "unverified" and carries SSH_CONNECTION only as claimed_source.
- With only the soft limit lowered, the gateway raises it (up to the hard
  limit) and the record goes in whole.

The installed copy reads /etc/awsmfa/gateway.conf and refuses -f, so the
runs happen in a mount namespace of their own whose /etc is an overlay
holding that file: the real /etc is not touched."""

import grp
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

from sweep import sweep

GATEWAY = os.environ.get("AMFA_GATEWAY", "")
TAG = "%d" % os.getpid()
GROUP = "amfa-gwlim-" + TAG
ACCOUNTS = (("nobody", "nogroup"), ("daemon", "daemon"))
SSH_CONNECTION = "203.0.113.7 4444 127.0.0.1 22"
# The room the gateway may ask for beyond a record: the audit chain's
# fields (gateway/audit.c: "the chain's fields take up to 100 bytes more").
CHAIN_FIELDS = 100


def append_slack():
    """AMFA_APPEND_SLACK as pam_awsmfa/secure_file.h defines it: the room a
    record must leave beyond itself under the file size limit."""
    path = os.path.join(os.environ.get("AMFA_SOURCE_ROOT", ""),
                        "pam_awsmfa", "secure_file.h")
    with open(path) as f:
        m = re.search(r"^#define AMFA_APPEND_SLACK\s+\(?([0-9 *]+)\)?\s*$",
                      f.read(), re.M)
    if m is None:
        raise RuntimeError("no AMFA_APPEND_SLACK in " + path)
    slack = 1
    for factor in m.group(1).split("*"):
        slack *= int(factor)
    return slack


def spans(ns):
    """Sorted numbers as runs, "3-7 9" (for messages)."""
    out = []
    for n in sorted(ns):
        if out and out[-1][1] == n - 1:
            out[-1][1] = n
        else:
            out.append([n, n])
    return " ".join("%d" % a if a == b else "%d-%d" % (a, b)
                    for a, b in out) or "none"


def setUpModule():
    global DIR, GW, LOG, HOLDER
    subprocess.run(["groupadd", "--system", GROUP], check=True,
                   capture_output=True)
    unittest.addModuleCleanup(subprocess.run, ["groupdel", GROUP],
                              capture_output=True)
    gid = grp.getgrnam(GROUP).gr_gid
    DIR = tempfile.mkdtemp(prefix="amfa-gwlim-")
    unittest.addModuleCleanup(shutil.rmtree, DIR, True)
    os.chmod(DIR, 0o755)
    GW = os.path.join(DIR, "awsmfa-gateway")
    shutil.copy(GATEWAY, GW)
    os.chown(GW, 0, gid)
    os.chmod(GW, 0o2755)
    LOG = os.path.join(DIR, "audit.log")
    with open(LOG, "w"):
        pass
    os.chown(LOG, 0, gid)
    os.chmod(LOG, 0o620)
    store = os.path.join(DIR, "store")
    os.mkdir(store, 0o711)
    awsmfa_conf = os.path.join(DIR, "awsmfa.conf")
    with open(awsmfa_conf, "w") as f:
        f.write("store_dir = %s\n" % store)
    os.chmod(awsmfa_conf, 0o644)
    # The overlay's upper layer: /etc/awsmfa/gateway.conf, root's.
    upper = os.path.join(DIR, "upper")
    work = os.path.join(DIR, "work")
    os.makedirs(os.path.join(upper, "awsmfa"), 0o755)
    os.mkdir(work, 0o700)
    with open(os.path.join(upper, "awsmfa", "gateway.conf"), "w") as f:
        f.write("audit_log = %s\nawsmfa_config = %s\n"
                "allow users * to 127.0.0.1 ports 22\n" % (LOG, awsmfa_conf))
    os.chmod(os.path.join(upper, "awsmfa", "gateway.conf"), 0o644)
    # A process that holds the namespace; the runs enter it (nsenter).
    HOLDER = subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c",
         "mount -t overlay overlay -o lowerdir=/etc,upperdir=%s,workdir=%s "
         "/etc && echo ready && exec sleep 3600" % (upper, work)],
        stdout=subprocess.PIPE, text=True)
    unittest.addModuleCleanup(stop_holder)
    if HOLDER.stdout.readline().strip() != "ready":
        raise RuntimeError("cannot set up the mount namespace")


def stop_holder():
    if HOLDER.poll() is None:
        HOLDER.terminate()
        HOLDER.wait(10)


def run_as(user, group, soft, hard):
    """The installed copy, by hand, as `user', RLIMIT_FSIZE (soft, hard),
    SIGXFSZ ignored."""
    def preexec():
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    return subprocess.run(
        ["nsenter", "-t", str(HOLDER.pid), "-m", "--",
         "setpriv", "--reuid=" + user, "--regid=" + group, "--clear-groups",
         GW], preexec_fn=preexec, capture_output=True, text=True,
        stdin=subprocess.DEVNULL, cwd="/", timeout=30,
        env={"PATH": "/usr/bin:/bin", "SSH_CONNECTION": SSH_CONNECTION,
             "TZ": "UTC+12", "LANG": "de_DE.UTF-8"})


def log_bytes():
    with open(LOG, "rb") as f:
        return f.read()


class AuditLimits(unittest.TestCase):
    def assertWholeLines(self, data, what):
        self.assertTrue(data == b"" or data.endswith(b"\n"),
                        "%s: the log ends inside a line: %r" %
                        (what, data[-200:]))
        for line in data.splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                self.fail("%s: not a whole JSON line: %r" % (what, line))
            self.assertIsInstance(rec, dict)

    def record_length(self, user, group):
        """One run with room to spare: the length of its record."""
        before = log_bytes()
        res = run_as(user, group, resource.RLIM_INFINITY,
                     resource.RLIM_INFINITY)
        self.assertEqual(res.returncode, 1, res.stderr)
        added = log_bytes()[len(before):]
        self.assertWholeLines(added, "unlimited")
        self.assertEqual(added.count(b"\n"), 1, added)
        return added

    def test_set_group_id_copy(self):
        st = os.stat(GW)
        self.assertTrue(st.st_mode & 0o2000)
        self.assertEqual(st.st_gid, grp.getgrnam(GROUP).gr_gid)

    def test_refused_record_says_unverified(self):
        for user, group in ACCOUNTS:
            rec = json.loads(self.record_length(user, group))
            self.assertEqual(rec["result"], "denied", rec)
            self.assertEqual(rec["user"], user)
            self.assertEqual(rec.get("connection"), "unverified", rec)
            self.assertEqual(rec.get("claimed_source"), "203.0.113.7")
            self.assertEqual(rec.get("claimed_source_port"), 4444)
            for key in ("source", "source_port", "sshd_pid"):
                self.assertNotIn(key, rec)
            # TZ from the caller does not reach the record's time.
            self.assertTrue(rec["time"].endswith("Z"), rec)

    def run_limited(self, user, group, extra, length):
        """One run with the limit (soft and hard) at the log's size plus
        `extra': whether the record went in (whole), checked whole or
        nothing."""
        before = log_bytes()
        limit = len(before) + extra
        res = run_as(user, group, limit, limit)
        after = log_bytes()
        what = "%s, limit = size + %d" % (user, extra)
        self.assertNotEqual(res.returncode, 0, what)
        self.assertTrue(after.startswith(before), what)
        added = after[len(before):]
        self.assertIn(len(added), (0, length), what)
        self.assertWholeLines(added, what)
        if added:
            rec = json.loads(added)
            self.assertEqual((rec["user"], rec["result"]), (user, "denied"),
                             what)
        return bool(added)

    def test_every_limit_whole_or_nothing(self):
        # Two ranges of limits (the log's size plus N): N inside the record
        # (where a write the gateway began would be cut), and N from a
        # little below the record plus the slack to a little above the
        # record, the chain's 100 bytes and the slack (where the gateway's
        # answer turns from nothing to the record).  Where exactly it turns
        # depends on the chain's fields, so no byte edge is asserted: below
        # the record and the slack nothing, from the record, the 100 bytes
        # and the slack on the record whole, one turn in between.  Every N
        # in the plain build; in the sanitizer build (a run there costs
        # about 0.5 s) every 16th N inside the record and every 8th near
        # the turn from a seeded start, plus the ends and the bounds of
        # the turn (tests/pam/sweep.py).
        slack = append_slack()
        for i, (user, group) in enumerate(ACCOUNTS):
            length = len(self.record_length(user, group))
            low = length + slack                    # less: nothing
            high = length + CHAIN_FIELDS + slack    # this or more: written
            inside = sweep("%s's record" % user, range(0, length + 2),
                           GATEWAY, 16, (0, 1, length - 1, length,
                                         length + 1), part=i)
            turn = sweep("%s's turn" % user, range(low - 8, high + 9),
                         GATEWAY, 8, (low - 8, low - 1, low, high - 1, high,
                                      high + 8), part=i)
            went = {n: self.run_limited(user, group, n, length)
                    for n in sorted(set(inside) | set(turn))}
            table = "written at N = %s" % spans(n for n in went if went[n])
            self.assertEqual([n for n in went if n < low and went[n]], [],
                             "%s: written with less room than the record "
                             "(%d bytes) and the slack (%d): %s"
                             % (user, length, slack, table))
            self.assertEqual([n for n in went if n >= high and not went[n]],
                             [], "%s: refused with room for the record (%d "
                             "bytes), the chain's %d and the slack (%d): %s"
                             % (user, length, CHAIN_FIELDS, slack, table))
            outcomes = list(went.values())
            self.assertEqual(outcomes, sorted(outcomes),
                             "%s: one turn from nothing to the record as "
                             "the room grows: %s" % (user, table))
            self.assertWholeLines(log_bytes(), "the whole log")

    def test_soft_limit_alone_is_raised(self):
        for user, group in ACCOUNTS:
            length = len(self.record_length(user, group))
            for extra in (0, 1, length // 2, length - 1):
                before = log_bytes()
                res = run_as(user, group, len(before) + extra,
                             resource.RLIM_INFINITY)
                added = log_bytes()[len(before):]
                what = "%s, soft limit = size + %d" % (user, extra)
                self.assertEqual(res.returncode, 1, what)
                self.assertEqual(len(added), length, what)
                self.assertWholeLines(added, what)


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("SKIP: needs root (a set-group-ID copy, a group, a mount "
              "namespace)")
        sys.exit(77)
    if not GATEWAY or not os.path.exists(GATEWAY):
        print("AMFA_GATEWAY is not set: run through meson test")
        sys.exit(1)
    for prog in ("unshare", "nsenter", "setpriv"):
        if shutil.which(prog) is None:
            print("missing %s (util-linux)" % prog)
            sys.exit(1)
    unittest.main(verbosity=2)
