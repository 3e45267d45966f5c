"""Attack review of enrolment = table (issue 26): the KMS-sealed record in
the fleet's table, the per-host version floor (enrolment_floor.c), the
tombstone, and the login's enrolment kept for the session (pam_export.c).

The attackers: a local user of bastion B, who runs the real set-user-ID
su(1) through the module (the caller's environment, limits and signal
dispositions survive the exec), and someone who may write the user's item
in the table (any attribute, any request) but holds no KMS right.  The
fixtures are test_pam_fleet_enrolment's: dynalite behind the SigV4 front,
KMS on loopback, two bastions A and B with empty users.d.

Held (each test fails if the defence goes): a floor file that is a link,
or not root's, is not taken for a lower floor, nor a floor directory that
leads to a user's; a record relabelled with the floor's version, or copied
from another table under the same key, does not open; RLIMIT_FSIZE 0
under real su (SIGXFSZ ignored or not) neither lets a login pass with the
floor left behind nor keeps a rollback open; a full STATE_DIR refuses the
login that cannot raise the floor, counting nothing; the caller's proxy
variables reach neither the table nor KMS; a PAM_USER switched before
open_session does not get the login's kept enrolment as its roles.

Found broken and fixed (each test failed at its last assertion before):
- the floor does not cover the record's removal: on a host that has seen
  version N of a user, an item whose enrolment attributes were removed
  (or the whole item deleted) reads as "not enrolled", and with nullok
  real su lets the user in with no code.  The docs leave this to the role
  policy's Deny alone; now the floor, which knows the user had an
  enrolment, refuses it;
- a forged tombstone at INT64_MAX: the administrator's documented remedy
  (disable, re-enrol) writes version 2^63, which no login parses; the user
  is refused on every host while awsmfa reported success; now the write
  is refused, saying how to repair the item;
- PAM_USER switched between pam_authenticate and pam_open_session: the
  STS session credentials the first user's code obtained were stored in
  the second user's credential store; now they are neither stored nor
  left in the PAM environment."""

import base64
import ctypes
import fcntl
import socket
import threading
import json
import os
import shutil
import sys
import time
import unittest

import pexpect

import dynalite
import test_pam_fleet_enrolment as base
from amfa_testlib import (MODULE, PAM_AUTH_ERR, PAM_AUTHINFO_UNAVAIL,
                          PAM_SUCCESS, Tree, new_seed, system_user, totp,
                          wait_fresh_step)
from fleetlib import TABLE, table_settings

ENR_ATTRS = ("enr_ct", "enr_key", "enr_ver")
PAM_SU = "/etc/pam.d/su"
SU = "/usr/bin/su"
PROMPT = "Verification code: "
CALLER = "amfa-e26x-caller"
BASE_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}

# Runs as root, drops to the caller, sets what the caller controls (signal
# dispositions, limits), execs su.  Python ignores SIGXFSZ and SIGPIPE
# itself: both back to the default first.
SHIM = r"""
import json, os, resource, signal, sys
c = json.loads(sys.argv[1])
os.setgroups([])
os.setgid(c["gid"])
os.setuid(c["uid"])
for s in (signal.SIGPIPE, signal.SIGXFSZ):
    signal.signal(s, signal.SIG_DFL)
for name in c["ignore"]:
    signal.signal(getattr(signal, name), signal.SIG_IGN)
for name, soft in c["limits"]:
    res = getattr(resource, name)
    resource.setrlimit(res, (soft, resource.getrlimit(res)[1]))
os.execve(c["argv"][0], c["argv"], c["env"])
"""

LOCK_FD = None


def asan_module():
    """A module of an AddressSanitizer build: set-user-ID su cannot load
    it, nor a Python process (the runtime must come first)."""
    with open(MODULE, "rb") as f:
        return b"__asan_init" in f.read()


def setUpModule():
    global LOCK_FD
    if not os.path.exists(SU) or os.geteuid() != 0:
        raise unittest.SkipTest("needs root and %s" % SU)
    why = dynalite.available()
    if why:
        raise unittest.SkipTest(why)
    # The lock test_setuid_caller takes: one replacer of /etc/pam.d/su.
    LOCK_FD = os.open("/run/lock/amfa-setuid-caller.lock",
                      os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    fcntl.flock(LOCK_FD, fcntl.LOCK_EX)
    base.setUpModule()


def tearDownModule():
    base.tearDownModule()
    if LOCK_FD is not None:
        os.close(LOCK_FD)


class SuOutcome:
    def __init__(self, prompted, status, signal_, out):
        self.prompted, self.status, self.signal = prompted, status, signal_
        self.out = out
        self.lines = [l.strip() for l in out.replace("\r", "").split("\n")]

    @property
    def logged_in(self):
        return self.status == 0 and "IN" in self.lines

    def __repr__(self):
        return "prompted=%s status=%s signal=%s out=%r" % (
            self.prompted, self.status, self.signal, self.out)


class AttackCase(base.EnrolmentCase):
    def setUp(self):
        super().setUp()
        self.caller = system_user(CALLER)

    def item_enr(self, user):
        return {a: v for a, v in base.raw_item(user).items()
                if a in ENR_ATTRS}

    def floor_path(self, tree, user):
        return os.path.join(tree.state, "enrolment-floor", user)

    def floor(self, tree, user):
        try:
            with open(self.floor_path(tree, user)) as f:
                return f.read()
        except FileNotFoundError:
            return None

    def wrong(self, seed):
        now = time.time()
        taken = {totp(seed, now + d) for d in (-60, -30, 0, 30, 60)}
        code = 123456
        while "%06d" % code in taken:
            code = (code + 111111) % 1000000
        return "%06d" % code

    # --- real su on a bastion's configuration ---------------------------

    def use_su(self, tree, nullok=False):
        """/etc/pam.d/su for this test: the module alone decides (with
        nullok if asked), then the account and session of pam_unix."""
        if asan_module():
            self.skipTest("su cannot load a module of a sanitizer build")
        saved = PAM_SU + ".amfa-e26x-saved"
        if os.path.exists(saved):       # a killed run's
            os.replace(saved, PAM_SU)
        shutil.copy2(PAM_SU, saved)
        self.addCleanup(os.replace, saved, PAM_SU)
        tmp = PAM_SU + ".amfa-e26x-new"
        with open(tmp, "w") as f:
            f.write("#%%PAM-1.0\n"
                    "auth required %s config=%s%s\n"
                    "%s"
                    "account required pam_unix.so\n"
                    "session required pam_unix.so\n"
                    % (MODULE, tree.conf, " nullok" if nullok else "",
                       # (what stands for the password's module: the
                       # stack's success when nullok passes over)
                       "auth required pam_permit.so\n" if nullok else ""))
        shutil.copymode(saved, tmp)
        os.replace(tmp, PAM_SU)

    def su(self, victim, answer, ignore=(), limits=(), env=None):
        full_env = dict(BASE_ENV, HOME=self.caller.pw_dir,
                        USER=CALLER, LOGNAME=CALLER)
        full_env.update(env or {})
        conf = {"uid": self.caller.pw_uid, "gid": self.caller.pw_gid,
                "ignore": list(ignore), "limits": [list(l) for l in limits],
                "argv": [SU, victim, "-c", "echo IN"], "env": full_env}
        child = pexpect.spawn("/usr/bin/python3",
                              ["-I", "-S", "-c", SHIM, json.dumps(conf)],
                              env=BASE_ENV, encoding="utf-8",
                              codec_errors="replace", timeout=60)
        try:
            i = child.expect_exact([PROMPT, pexpect.EOF])
            out = child.before
            if i == 0:
                child.sendline(answer)
                child.expect(pexpect.EOF)
                out += child.before
        finally:
            child.close(force=True)
        return SuOutcome(i == 0, child.exitstatus, child.signalstatus, out)

    def victim(self, stem):
        name = "amfa-e26x-" + stem
        system_user(name)
        # The table outlives a test (one per module): an earlier test's
        # record of this name goes first.
        base.FLEET.db.call("DeleteItem", {
            "TableName": TABLE, "Key": {"amfa_user": {"S": name}}})
        return name


class RemovedRecordAndTheFloor(AttackCase):
    """The item's writer removes the record: the user looks "not
    enrolled", and nullok passes that over.  B has seen version 1 of the
    user (its floor says so), yet takes the removal for "never enrolled".
    awsmfa.conf(5) leaves this to the bastions' role policy alone ("the
    only one that stops a record removed to make a user look
    unenrolled"); against anyone else who may write the item (the
    administrators' role, a table-wide writer, a restored backup) the
    floor could refuse it: a floor above 0 with no record is a removal,
    not a user who was never enrolled."""

    def logged_in_once_on_b(self, user):
        seed = self.migrate(self.a, user)
        self.use_su(self.b, nullok=True)
        wait_fresh_step(margin=12)
        res = self.su(user, totp(seed))
        self.assertTrue(res.prompted and res.logged_in, res)
        self.assertEqual(self.floor(self.b, user), "1\n",
                         "B has seen version 1")
        return seed

    def test_record_removed_nullok_su_without_a_code(self):
        user = self.victim("rm")
        self.logged_in_once_on_b(user)
        base.FLEET.db.call("UpdateItem", {
            "TableName": TABLE, "Key": {"amfa_user": {"S": user}},
            "UpdateExpression": "REMOVE enr_ct, enr_key, enr_ver"})
        res = self.su(user, "")
        self.assertFalse(res.logged_in,
                         "record removed on a host whose floor is 1: su "
                         "with nullok let the user in with no code: %r"
                         % (res,))

    def test_item_deleted_nullok_su_without_a_code(self):
        user = self.victim("del")
        self.logged_in_once_on_b(user)
        base.FLEET.db.call("DeleteItem", {
            "TableName": TABLE, "Key": {"amfa_user": {"S": user}}})
        res = self.su(user, "")
        self.assertFalse(res.logged_in,
                         "item deleted on a host whose floor is 1: su "
                         "with nullok let the user in with no code: %r"
                         % (res,))

    def test_never_enrolled_nullok_passes(self):
        """The control: a name the table never had, on a host with no
        floor for it, is passed over by nullok (so the two tests above
        fail on the floor, not on su or the stack)."""
        user = self.victim("never")
        self.use_su(self.b, nullok=True)
        res = self.su(user, "")
        self.assertFalse(res.prompted, res)
        self.assertTrue(res.logged_in, res)
        self.assertIsNone(self.floor(self.b, user))


class FloorWriteFails(AttackCase):
    """The first login on B after a re-enrolment raises B's floor.  A
    local user runs su with RLIMIT_FSIZE 0 (SIGXFSZ ignored, or at its
    default), so that the floor's write would fail: the login must not
    pass with the floor left behind.  (caller_guard.c raises the limit
    for the call, so the write succeeds: the floor is raised.)  Then the
    replaced version-1 record put back is refused on B for being older
    than the floor."""

    def reenrolled(self, user):
        old_seed = self.migrate(self.a, user)
        old = self.item_enr(user)
        self.use_su(self.b)
        wait_fresh_step(margin=12)
        res = self.su(user, totp(old_seed))
        self.assertTrue(res.logged_in, res)
        self.assertEqual(self.floor(self.b, user), "1\n")
        self.assertEqual(self.awsmfa(self.a, "disable", user).returncode, 0)
        new_seed_ = self.migrate(self.a, user, seed=new_seed())
        self.assertEqual(base.FLEET.item(user)["enr_ver"], "3")
        return old_seed, old, new_seed_

    def fsize_login(self, ignore):
        user = self.victim("fsz" if ignore else "fsk")
        old_seed, old, seed = self.reenrolled(user)
        # The next step's code: this step's was spent by the old seed's
        # login (the state's step outlives a re-enrolment).
        res = self.su(user, totp(seed, time.time() + 30), ignore=ignore,
                      limits=(("RLIMIT_FSIZE", 0),))
        self.assertTrue(res.prompted, res)
        if res.logged_in:
            self.assertEqual(self.floor(self.b, user), "3\n",
                             "let in with the floor left behind: %r"
                             % (res,))
        else:
            self.assertIn(self.floor(self.b, user), ("1\n", "3\n"))
            # Refused: a login without the limit raises it.
            res = self.su(user, totp(seed, time.time() + 30))
            self.assertTrue(res.logged_in, res)
            self.assertEqual(self.floor(self.b, user), "3\n")
        self.assertEqual(
            [n for n in os.listdir(os.path.dirname(
                self.floor_path(self.b, user))) if n.endswith(".tmp")],
            [], "no temporary floor file left")
        # The old seed's record put back: refused on B for its age.
        base.put_attrs(user, old)
        res = self.b.run("awsmfa", user, [totp(old_seed, time.time() + 30)])
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL, "the old record put back")
        self.assertIn("older than version 3 this host has seen", res.log)

    def test_fsize_zero_sigxfsz_ignored(self):
        self.fsize_login(("SIGXFSZ",))

    def test_fsize_zero_sigxfsz_default(self):
        self.fsize_login(())


class FloorFileNotTrusted(AttackCase):
    """A floor that is not root's own regular file is not read as a
    lower floor (O_NOFOLLOW, owner and mode checked): a rollback past it
    is refused.  Planted as root here (the directory is root's 0700: a
    local user cannot plant in it), as a restored backup or a careless
    tool would leave it."""

    def at_floor_two_with_old_record(self, user):
        seed = self.migrate(self.a, user)
        old = self.item_enr(user)
        wait_fresh_step(margin=12)
        self.assertRc(self.b.run("awsmfa", user, [totp(seed)]), PAM_SUCCESS)
        self.assertEqual(self.awsmfa(self.a, "disable", user).returncode, 0)
        self.assertRc(self.b.run("awsmfa", user, [totp(seed)]),
                      PAM_AUTH_ERR, "disabled")
        self.assertEqual(self.floor(self.b, user), "2\n")
        base.put_attrs(user, old)
        return seed

    def test_floor_file_a_link_to_a_lower_floor(self):
        user = self.victim("lnk")
        seed = self.at_floor_two_with_old_record(user)
        low = os.path.join(self.b.root, "low-floor")
        Tree.write(low, "1\n", 0o600)
        path = self.floor_path(self.b, user)
        os.unlink(path)
        os.symlink(low, path)
        res = self.b.run("awsmfa", user, [totp(seed, time.time() + 30)])
        self.assertNotEqual(res.rc, PAM_SUCCESS,
                            "a floor link followed to a lower floor")

    def test_floor_dir_a_link_to_a_users_directory(self):
        """The directory is opened by its path (a link to a directory is
        followed: only root can plant one in STATE_DIR), but what it
        leads to must be root's and closed to others: a local user's
        directory with a lower floor in it is refused."""
        user = self.victim("dlk")
        seed = self.at_floor_two_with_old_record(user)
        d = os.path.join(self.b.state, "enrolment-floor")
        other = os.path.join(self.b.root, "other-floors")
        os.makedirs(other, 0o700)
        Tree.write(os.path.join(other, user), "1\n", 0o600)
        os.chown(other, self.caller.pw_uid, self.caller.pw_gid)
        shutil.rmtree(d)
        os.symlink(other, d)
        res = self.b.run("awsmfa", user, [totp(seed, time.time() + 30)])
        self.assertNotEqual(res.rc, PAM_SUCCESS,
                            "a user's floor directory taken: %r" % (res,))

    def test_floor_file_of_another_owner(self):
        user = self.victim("own")
        seed = self.at_floor_two_with_old_record(user)
        path = self.floor_path(self.b, user)
        Tree.write(path, "1\n", 0o600)
        os.chown(path, self.caller.pw_uid, self.caller.pw_gid)
        res = self.b.run("awsmfa", user, [totp(seed, time.time() + 30)])
        self.assertNotEqual(res.rc, PAM_SUCCESS,
                            "a user's floor file lowered the floor")

    def test_control_root_floor_lowered_by_root_admits(self):
        """The control of the three above: root's own floor file lowered
        to 1 admits the record put back (so they fail on the file's
        form, not on something else of the set-up)."""
        user = self.victim("ctl")
        seed = self.at_floor_two_with_old_record(user)
        Tree.write(self.floor_path(self.b, user), "1\n", 0o600)
        res = self.b.run("awsmfa", user, [totp(seed, time.time() + 30)])
        self.assertRc(res, PAM_SUCCESS, "root lowered the floor")


class RecordsFromElsewhere(AttackCase):
    def test_record_relabelled_to_the_floors_version(self):
        """Version 1's record and key relabelled as version 2 (the
        tombstone's, equal to B's floor): passes the floor, KMS refuses
        the context."""
        user = self.victim("eq")
        seed = self.migrate(self.a, user)
        old = self.item_enr(user)
        self.assertEqual(self.awsmfa(self.a, "disable", user).returncode, 0)
        wait_fresh_step(margin=12)
        self.assertRc(self.b.run("awsmfa", user, [totp(seed)]), PAM_AUTH_ERR)
        self.assertEqual(self.floor(self.b, user), "2\n")
        base.put_attrs(user, dict(old, enr_ver={"N": "2"}))
        base.KMS.reset_stats()
        res = self.b.run("awsmfa", user, [totp(seed, time.time() + 30)])
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL, "relabelled to the floor")
        self.assertIn("InvalidCiphertextException", res.log)
        self.assertEqual(self.floor(self.b, user), "2\n")

    def test_tombstone_lowered_after_the_host_saw_it(self):
        """B saw the disable's tombstone (version 2).  The item's writer
        lowers it to version 1, still without a record (the user looked
        disabled, now an older "disabled"), or puts version 1's record
        back: both older than B's floor, refused with nullok too."""
        user = self.victim("low")
        seed = self.migrate(self.a, user)
        old = self.item_enr(user)
        self.assertEqual(self.awsmfa(self.a, "disable", user).returncode, 0)
        self.b.service("nullok", ["auth required MODULE config=CONF nullok",
                                  "auth required pam_permit.so"])
        wait_fresh_step(margin=12)
        self.assertRc(self.b.run("nullok", user, [totp(seed)]),
                      PAM_AUTH_ERR, "disabled")
        self.assertEqual(self.floor(self.b, user), "2\n")
        base.put_attrs(user, {"enr_ver": {"N": "1"}})
        res = self.b.run("nullok", user, [totp(seed, time.time() + 30)])
        self.assertNotEqual(res.rc, PAM_SUCCESS, res)
        self.assertIn("older than version 2 this host has seen", res.log)
        base.put_attrs(user, old)
        res = self.b.run("nullok", user, [totp(seed, time.time() + 30)])
        self.assertNotEqual(res.rc, PAM_SUCCESS, res)
        self.assertIn("older than version 2 this host has seen", res.log)
        self.assertEqual(self.floor(self.b, user), "2\n")

    def test_record_from_another_table_same_key(self):
        """The same user enrolled in another table (another fleet, a
        staging table) under the same KMS key: its triple copied into
        this table does not open, whatever its version."""
        user = self.victim("tbl")
        other = "awsmfa-state-other"
        try:
            base.FLEET.db.create_table(other, "amfa_user")
        except Exception:
            pass                                # an earlier test's
        c = Tree()
        self.addCleanup(c.cleanup)
        c.store = os.path.join(c.root, "run")
        settings = table_settings(base.FLEET, c, enrolment="table",
                                  kms_key_id=base.KMS.key_id,
                                  kms_endpoint=base.KMS.url,
                                  dynamodb_table=other)
        key = os.path.join(c.etc, "admin.key")
        Tree.write(key, "[default]\naws_access_key_id = %s\n"
                   "aws_secret_access_key = %s\n"
                   % (base.STATIC_AKID, base.STATIC_SECRET), 0o600)
        c.admin_conf = os.path.join(c.etc, "admin.conf")
        Tree.write(c.admin_conf, "".join(
            "%s = %s\n" % kv for kv in dict(
                settings, dynamodb_key_file=key).items()), 0o644)
        c.write_config(settings)
        base.FLEET.db.call("DeleteItem", {
            "TableName": other, "Key": {"amfa_user": {"S": user}}})
        seed = c.enroll(user)
        res = self.awsmfa(c, "migrate-enrolment", user)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        got = base.FLEET.db.call("GetItem", {
            "TableName": other, "Key": {"amfa_user": {"S": user}},
            "ConsistentRead": True})["Item"]
        triple = {a: v for a, v in got.items() if a in ENR_ATTRS}
        self.assertEqual(triple["enr_ver"], {"N": "1"})
        # This table's user is enrolled at version 1 too (another seed).
        self.migrate(self.a, user, seed=new_seed())
        base.put_attrs(user, triple)
        wait_fresh_step(margin=12)
        res = self.b.run("awsmfa", user, [totp(seed)])
        self.assertRc(res, PAM_AUTHINFO_UNAVAIL,
                      "another table's record opened here")
        self.assertIn("InvalidCiphertextException", res.log)


class HostileEnvironmentUnderSu(AttackCase):
    def test_proxy_variables_do_not_reach_the_table_or_kms(self):
        """The caller's proxy variables survive into su: the table's and
        KMS's requests (http on loopback here) would go to the caller's
        proxy, which could answer with an item and a data key of its own
        making.  None reaches it, and the login is the table's."""
        user = self.victim("prx")
        seed = self.migrate(self.a, user)
        lsock = socket.socket()
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(16)
        self.addCleanup(lsock.close)
        seen = []

        def accept():
            while True:
                try:
                    c, _ = lsock.accept()
                except OSError:
                    return
                seen.append(1)
                c.close()
        threading.Thread(target=accept, daemon=True).start()
        proxy = "http://127.0.0.1:%d" % lsock.getsockname()[1]
        env = {n: proxy for n in ("http_proxy", "https_proxy", "HTTP_PROXY",
                                  "HTTPS_PROXY", "ALL_PROXY", "all_proxy")}
        env.update(no_proxy="", NO_PROXY="")
        self.use_su(self.b)
        wait_fresh_step(margin=12)
        res = self.su(user, totp(seed), env=env)
        self.assertTrue(res.logged_in, res)
        self.assertEqual(seen, [], "a request went to the caller's proxy")
        self.assertEqual(self.floor(self.b, user), "1\n")
        # A wrong code is still checked against the table's record.
        res = self.su(user, self.wrong(seed), env=env)
        self.assertFalse(res.logged_in, res)
        self.assertEqual(seen, [])


# --- a PAM application on libpam directly (ctypes) ----------------------

PAM_USER_ITEM = 2
PAM_PROMPT_ECHO_OFF = 1
PAM_PROMPT_ECHO_ON = 2


class PamMessage(ctypes.Structure):
    _fields_ = [("msg_style", ctypes.c_int), ("msg", ctypes.c_char_p)]


class PamResponse(ctypes.Structure):
    _fields_ = [("resp", ctypes.c_void_p), ("resp_retcode", ctypes.c_int)]


CONV_FUNC = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.POINTER(PamMessage)),
    ctypes.POINTER(ctypes.POINTER(PamResponse)), ctypes.c_void_p)


class PamConv(ctypes.Structure):
    _fields_ = [("conv", CONV_FUNC), ("appdata_ptr", ctypes.c_void_p)]


# The application runs in a child (the module and its plugin are loaded
# into it, never into the test's process).
APP = r"""
import ctypes, json, sys
sys.path.insert(0, sys.argv[2])
from test_pam_fleet_enrolment_attack import (CONV_FUNC, PamConv,
    PamResponse, PAM_USER_ITEM, PAM_PROMPT_ECHO_OFF, PAM_PROMPT_ECHO_ON)
c = json.loads(sys.argv[1])
libc = ctypes.CDLL("libc.so.6")
libc.calloc.restype = ctypes.c_void_p
libc.strdup.restype = ctypes.c_void_p
libc.strdup.argtypes = [ctypes.c_char_p]
pam = ctypes.CDLL("libpam.so.0")
answers = list(c["answers"])

def conv(n, msgs, resp, _):
    arr = libc.calloc(n, ctypes.sizeof(PamResponse))
    out = ctypes.cast(arr, ctypes.POINTER(PamResponse))
    for i in range(n):
        if msgs[i].contents.msg_style in (PAM_PROMPT_ECHO_OFF,
                                          PAM_PROMPT_ECHO_ON):
            out[i].resp = libc.strdup((answers.pop(0) if answers
                                       else "").encode())
    resp[0] = out
    return 0

conv_cb = CONV_FUNC(conv)
pc = PamConv(conv_cb, None)
h = ctypes.c_void_p()
r = pam.pam_start_confdir(c["service"].encode(), c["user"].encode(),
                          ctypes.byref(pc), c["confdir"].encode(),
                          ctypes.byref(h))
assert r == 0, r
res = {"auth": pam.pam_authenticate(h, 0)}
if c.get("switch"):
    pam.pam_set_item.argtypes = [ctypes.c_void_p, ctypes.c_int,
                                 ctypes.c_char_p]
    res["set_user"] = pam.pam_set_item(h, PAM_USER_ITEM,
                                       c["switch"].encode())
res["setcred"] = pam.pam_setcred(h, 2)
res["open"] = pam.pam_open_session(h, 0)
print(json.dumps(res), flush=True)
sys.stdin.readline()
res["close"] = pam.pam_close_session(h, 0)
pam.pam_end(h, 0)
"""


class SessionUserSwitched(AttackCase):
    """An application that changes PAM_USER between pam_authenticate and
    pam_open_session (a login-name mapping done by the application, or a
    later module of the auth stack): the enrolment kept from the login
    (pam_set_data) is the authenticated user's, the session's is the new
    name's.  The kept one must never stand for the other user's roles;
    and the login's STS credentials are the authenticated user's."""

    def switched_session(self):
        """alice authenticates; the application sets PAM_USER to bob and
        opens the session.  (What it returned, bob's store's files,
        alice's access key id, the STS requests, the log.)"""
        if asan_module():
            self.skipTest("Python cannot load a module of a sanitizer "
                          "build")
        from sts_process import IamUser, StsServer
        alice, bob = self.victim("alice"), self.victim("bob")
        ia, ib = IamUser("e26xalice"), IamUser("e26xbob")
        sts = StsServer([ia, ib])
        self.addCleanup(sts.stop)
        os.makedirs(self.b.store, 0o755, exist_ok=True)
        self.b.settings.update(sts_endpoint=sts.url, sts_timeout=5)
        self.b.write_config(self.b.settings)
        self.b.service("sess", ["auth required MODULE config=CONF",
                                "session required pam_permit.so",
                                "session optional MODULE config=CONF"])
        for who, iam, role in ((alice, ia, "AliceOnly"),
                               (bob, ib, "BobOnly")):
            self.a.enroll(who, seed=iam.seed, iam_user=iam.name,
                          extra="verify = sts\naccess_key_id = %s\n"
                          "secret_access_key = %s\n"
                          "role = r arn:aws:iam::123456789012:role/%s\n"
                          % (iam.key_id, iam.secret, role))
            res = self.awsmfa(self.a, "migrate-enrolment", who)
            self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        wait_fresh_step(margin=12)
        conf = {"service": "sess", "user": alice, "confdir": self.b.pamd,
                "answers": [totp(ia.seed)], "switch": bob}
        import subprocess
        p = subprocess.Popen(
            [sys.executable, "-c", APP, json.dumps(conf),
             os.path.dirname(os.path.abspath(__file__))],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        line = p.stdout.readline()
        bob_uid = system_user(bob).pw_uid
        files = {}
        for n in os.listdir(self.b.store):
            path = os.path.join(self.b.store, n)
            if os.path.isfile(path):
                with open(path, errors="replace") as f:
                    files[n] = f.read()
            elif os.path.isdir(path):
                for m in os.listdir(path):
                    with open(os.path.join(path, m), errors="replace") as f:
                        files[n + "/" + m] = f.read()
        p.stdin.write("\n")
        p.stdin.close()
        p.wait(timeout=60)
        log = p.stderr.read()
        p.stdout.close()
        p.stderr.close()
        self.assertTrue(line, log)
        got = json.loads(line)
        self.assertEqual(got["auth"], PAM_SUCCESS, log)
        self.assertEqual(got.get("set_user"), PAM_SUCCESS, log)
        self.assertEqual(got.get("open"), PAM_SUCCESS, log)
        reqs = sts.requests()["requests"]
        self.assertEqual({r["caller_access_key_id"] for r in reqs},
                         {ia.key_id}, "only alice's key was used")
        issued = {r["issued_access_key_id"] for r in reqs
                  if r["issued_access_key_id"]}
        self.assertTrue(issued, reqs)
        return files, issued, bob_uid, log

    def test_kept_enrolment_not_used_for_another_pam_user(self):
        """Held: the roles of the enrolment kept from alice's login are
        never stored for bob.  (With alice's session kept from him, bob's
        store gets no session, and so no roles file either; a roles file,
        if any, holds only bob's own.)"""
        files, _, bob_uid, log = self.switched_session()
        roles = files.get("%d.roles" % bob_uid, "")
        everything = "\n".join(files.values())
        self.assertNotIn("role/AliceOnly", everything,
                         "the authenticated user's roles stored for "
                         "another PAM_USER: %r" % (files,))
        if roles:
            self.assertIn("role/BobOnly", roles, log)

    def test_login_credentials_not_stored_for_another_pam_user(self):
        """Broken: the STS session credentials alice's code obtained
        (exported into the PAM environment at auth) are stored at
        open_session in bob's store (STORE_DIR/BOB_UID/, bob's to read)
        and stay in the PAM environment the application hands bob's
        shell: bob holds alice's AWS session without any factor of his.
        pam_export.c takes the credentials from the environment and the
        user from PAM_USER without checking that the user is the one who
        authenticated."""
        files, issued, bob_uid, log = self.switched_session()
        leaked = [n for n, text in files.items()
                  if any(k in text for k in issued)]
        self.assertEqual(leaked, [],
                         "alice's session credentials (%s) in bob's "
                         "(uid %d) store: %s" % (sorted(issued), bob_uid,
                                                 leaked))


class ForgedTopTombstone(AttackCase):
    """A tombstone is not sealed: the item's writer sets enr_ver to the
    largest version the module reads (INT64_MAX) with no record.
    awsmfa.conf(5) says an administrator then disables again and
    re-enrols ("each write goes on from the item's version").  The
    write goes on to 2^63, which no login (nor the administrator's next
    command) parses: the user is refused on every host, also one that
    never saw the forgery, while the administrator was told the record
    was moved into the table."""

    def test_reenrolment_after_a_top_tombstone(self):
        user = self.victim("top")
        self.migrate(self.a, user)
        base.put_attrs(user, {"enr_ver": {"N": "9223372036854775807"}})
        base.FLEET.db.call("UpdateItem", {
            "TableName": TABLE, "Key": {"amfa_user": {"S": user}},
            "UpdateExpression": "REMOVE enr_ct, enr_key"})
        seed = self.a.enroll(user, seed=new_seed())
        res = self.awsmfa(self.a, "migrate-enrolment", user)
        if res.returncode != 0:
            return              # refused, and said so: what is asked
        wait_fresh_step(margin=12)
        # A has no floor for the user: only the item decides.
        self.assertIsNone(self.floor(self.a, user))
        login = self.a.run("awsmfa", user, [totp(seed)])
        self.assertRc(login, PAM_SUCCESS,
                      "the administrator's re-enrolment reported success "
                      "(%r) but the user is refused on a host that saw "
                      "no forgery; the item: %r"
                      % (res.stdout, base.FLEET.item(user)))


class FloorDiskFull(AttackCase):
    """STATE_DIR's file system full (a local user who can fill it, or
    anything else): the first login after a re-enrolment cannot raise
    the floor.  It is refused (closed), the log says why, and nothing of
    it counts; once there is room, the next login raises the floor."""

    def test_state_dir_full_refuses_the_floor_raise(self):
        import subprocess
        user = self.victim("full")
        os.makedirs(self.b.state, 0o700, exist_ok=True)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o",
                            "size=256k,mode=0700", "amfa-e26x-full",
                            self.b.state], capture_output=True, text=True)
        if r.returncode != 0:
            self.skipTest("cannot mount a tmpfs: %s" % r.stderr)
        self.addCleanup(subprocess.run, ["umount", "-l", self.b.state])
        old_seed = self.migrate(self.a, user)
        wait_fresh_step(margin=12)
        self.assertRc(self.b.run("awsmfa", user, [totp(old_seed)]),
                      PAM_SUCCESS)
        self.assertEqual(self.floor(self.b, user), "1\n")
        self.assertEqual(self.awsmfa(self.a, "disable", user).returncode, 0)
        seed = self.migrate(self.a, user, seed=new_seed())
        filler = os.path.join(self.b.state, "filler")
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while os.write(fd, b"\0" * 4096) > 0:
                pass
        except OSError:
            pass
        finally:
            os.close(fd)
        before = base.FLEET.item(user)
        code = totp(seed, time.time() + 30)
        res = self.b.run("awsmfa", user, [code])
        self.assertNotEqual(res.rc, PAM_SUCCESS,
                            "let in with the floor not raised: %r" % (res,))
        self.assertIn("cannot be raised to 3", res.log)
        self.assertEqual(self.floor(self.b, user), "1\n")
        after = base.FLEET.item(user)
        self.assertEqual((after["fail_count"], after["totp_step"]),
                         (before["fail_count"], before["totp_step"]),
                         "the refused login counted or spent the code")
        os.unlink(filler)
        res = self.b.run("awsmfa", user, [code])
        self.assertRc(res, PAM_SUCCESS, "room again: the same code")
        self.assertEqual(self.floor(self.b, user), "3\n")


if __name__ == "__main__":
    unittest.main()
