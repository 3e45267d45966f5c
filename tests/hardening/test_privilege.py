"""Privilege: files in places a user controls (the per-user credential
store STORE_DIR/UID, ~/.aws) are touched only by a process that has dropped
to that user, and links planted at each such path touch nothing outside.

The STS side is a loopback server that always answers with credentials, so
one test can log in many times; what is under test is the file handling
around it.  The drop is shown with strace: every creating, renaming or
removing call on a path of the store, and every open below ~/.aws, is made
by a process whose uid was set to the user's."""

import os
import re
import shutil
import stat
import subprocess
import time
import unittest

from amfa_testlib import (PAMTEST, PAM_AUTHINFO_UNAVAIL, PAM_SUCCESS,
                          PamTestCase, remove_system_users, require_root,
                          system_user)
from hardlib import CannedServer, tree_snapshot

USER = "amfa-hd-priv"
AKID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def creds_answer():
    exp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() +
                                                          3600))
    body = ("<GetSessionTokenResponse xmlns=\"https://sts.amazonaws.com/doc/"
            "2011-06-15/\"><GetSessionTokenResult><Credentials>"
            "<AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>"
            "<SecretAccessKey>sessionsecretsessionsecretsessionsecret"
            "</SecretAccessKey><SessionToken>FwoGZXIvYXdzEBYaDHsessiontoken"
            "</SessionToken><Expiration>%s</Expiration></Credentials>"
            "</GetSessionTokenResult><ResponseMetadata><RequestId>r1"
            "</RequestId></ResponseMetadata></GetSessionTokenResponse>" % exp)
    return CannedServer.http("200 OK", body)


def traced_env():
    """LeakSanitizer cannot run under ptrace: off for traced runs of a
    sanitizer build (the suite's other runs still check leaks)."""
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") +
                           ":detect_leaks=0").lstrip(":")
    return env


class Base(PamTestCase):
    def setUp(self):
        self.pw = system_user(USER)
        self.server = CannedServer()
        self.server.answer = creds_answer()
        self.addCleanup(self.server.stop)
        self.config = {"verify": "sts", "sts_endpoint": self.server.url,
                       "sts_timeout": 3}
        super().setUp()
        self.store = os.path.join(self.tree.root, "run")
        os.makedirs(self.store, 0o755)
        self.tree.write_config(dict(users_dir=self.tree.users,
                                    state_dir=self.tree.state,
                                    store_dir=self.store, **self.config))
        self.tree.service("sess", ["auth required MODULE config=CONF",
                                   "session required pam_permit.so",
                                   "session optional MODULE config=CONF"])
        self.udir = os.path.join(self.store, str(self.pw.pw_uid))
        # Things outside that must never change.
        self.victims = os.path.join(self.tree.root, "victims")
        os.makedirs(self.victims, 0o700)
        self.vfile = os.path.join(self.victims, "precious")
        with open(self.vfile, "w") as f:
            f.write("precious\n")
        os.chmod(self.vfile, 0o600)
        self.vdir = os.path.join(self.victims, "dir")
        os.makedirs(self.vdir, 0o755)
        self.enroll()
        self.clean_home()

    def enroll(self):
        self.tree.write(self.tree.user_file(USER),
                        "iam_user = alice\nmfa_serial = arn:aws:iam::"
                        "123456789012:mfa/alice\naccess_key_id = %s\n"
                        "secret_access_key = %s\n" % (AKID, SECRET), 0o600)

    def clean_home(self):
        aws = os.path.join(self.pw.pw_dir, ".aws")
        if os.path.islink(aws) or os.path.isfile(aws):
            os.unlink(aws)
        elif os.path.isdir(aws):
            shutil.rmtree(aws)

    def session(self, during=None, wrap=()):
        """Log in, open a session, run `during', close it."""
        hold = os.path.join(self.tree.root, "hold")
        if os.path.exists(hold):
            os.unlink(hold)
        p = subprocess.Popen(list(wrap) + [PAMTEST, "-S", "-H", hold,
                                           self.tree.pamd, "sess", USER],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True,
                             env=traced_env() if wrap else None)
        p.stdin.write("123456\n")
        p.stdin.close()
        lines = []
        while p.poll() is None:
            line = p.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("SESSION OPEN"):
                break
        if during is not None:
            during()
        open(hold, "w").close()
        p.wait(timeout=60)
        out = "".join(lines) + p.stdout.read()
        log = p.stderr.read()
        p.stdout.close()
        p.stderr.close()
        return p.returncode, out, log


class StoreLinks(Base):
    """Links and odd files planted at each path of the store."""

    def plant_in_udir(self, name, how):
        os.makedirs(self.udir, 0o700, exist_ok=True)
        os.chown(self.udir, self.pw.pw_uid, self.pw.pw_gid)
        os.chmod(self.udir, 0o700)
        p = os.path.join(self.udir, name)
        if how == "symlink-file":
            os.symlink(self.vfile, p)
        elif how == "symlink-dir":
            os.symlink(self.vdir, p)
        elif how == "symlink-new":
            os.symlink(os.path.join(self.vdir, "created"), p)
        elif how == "hardlink":
            os.link(self.vfile, p)
        elif how == "fifo":
            os.mkfifo(p, 0o600)
        os.lchown(p, self.pw.pw_uid, self.pw.pw_gid) if how != "hardlink" \
            else None

    def cases(self):
        names = ["credentials.json", ".credentials.json.tmp"]
        hows = ["symlink-file", "symlink-dir", "symlink-new", "hardlink",
                "fifo"]
        return [(n, h) for n in names for h in hows]

    def test_links_in_the_user_directory(self):
        for name, how in self.cases():
            with self.subTest(name=name, how=how):
                if os.path.lexists(self.udir):
                    shutil.rmtree(self.udir)
                self.plant_in_udir(name, how)
                before = tree_snapshot(self.victims)
                rc, out, log = self.session()
                self.assertEqual(rc, PAM_SUCCESS, log)
                self.assertEqual(tree_snapshot(self.victims), before,
                                 "something outside was touched")
                with open(self.vfile) as f:
                    self.assertEqual(f.read(), "precious\n")
                self.assertIn("SESSION CLOSE", out)

    def test_links_in_place_of_the_user_directory(self):
        other = system_user("amfa-hd-other")
        cases = {
            "symlink to root's dir": lambda: os.symlink(self.vdir,
                                                         self.udir),
            "symlink to a dir of the user": lambda: (
                os.makedirs(self.vdir + "-user", 0o700, exist_ok=True),
                os.chown(self.vdir + "-user", self.pw.pw_uid,
                         self.pw.pw_gid),
                os.symlink(self.vdir + "-user", self.udir)),
            "hard link to a root file": lambda: os.link(self.vfile,
                                                        self.udir),
            "another user's dir": lambda: (
                os.mkdir(self.udir, 0o700),
                os.chown(self.udir, other.pw_uid, other.pw_gid)),
            "the user's dir, 0755": lambda: (
                os.mkdir(self.udir, 0o755),
                os.chown(self.udir, self.pw.pw_uid, self.pw.pw_gid),
                os.chmod(self.udir, 0o755)),
            "a fifo": lambda: os.mkfifo(self.udir, 0o600),
        }
        for name, plant in cases.items():
            with self.subTest(case=name):
                if os.path.islink(self.udir) or os.path.isfile(self.udir) \
                        or stat.S_ISFIFO(os.lstat(self.udir).st_mode
                                         if os.path.lexists(self.udir)
                                         else 0):
                    os.unlink(self.udir)
                elif os.path.isdir(self.udir):
                    shutil.rmtree(self.udir)
                plant()
                before = tree_snapshot(self.victims)
                rc, out, log = self.session()
                # session optional: the login goes on, without a store.
                self.assertIn("not the user's 0700 directory", log)
                self.assertEqual(tree_snapshot(self.victims), before)
        if os.path.islink(self.udir):
            os.unlink(self.udir)

    def test_links_at_root_owned_store_files(self):
        # STORE_DIR is root's: a user cannot plant here, but an
        # administrator's mistake must not become a write elsewhere.
        uid = self.pw.pw_uid
        for name in ["%d.sessions" % uid, "%d.lock" % uid]:
            for how in ("symlink", "hardlink"):
                with self.subTest(name=name, how=how):
                    p = os.path.join(self.store, name)
                    if os.path.lexists(p):
                        os.unlink(p)
                    if how == "symlink":
                        os.symlink(self.vfile, p)
                    else:
                        os.link(self.vfile, p)
                    before = tree_snapshot(self.victims)
                    self.session()
                    self.assertEqual(tree_snapshot(self.victims), before)
                    if os.path.lexists(p):
                        os.unlink(p)

    def test_mid_session_swap(self):
        # During the session the user swaps the file for links to a root
        # file: closing the session removes names, never the targets.
        def swap():
            f = os.path.join(self.udir, "credentials.json")
            os.unlink(f)
            os.link(self.vfile, f)
            os.symlink(self.vfile, os.path.join(self.udir,
                                                ".credentials.json.tmp"))
        before = tree_snapshot(self.victims)
        rc, out, log = self.session(during=swap)
        self.assertEqual(rc, PAM_SUCCESS)
        self.assertEqual(tree_snapshot(self.victims)[self.vfile],
                         before[self.vfile])
        self.assertTrue(os.path.exists(self.vfile))


STRACE_CALLS = "setresuid,setuid,openat,open,creat,rename,renameat," \
    "renameat2,unlink,unlinkat,mkdir,mkdirat,fchown,fchownat,chown," \
    "fchmod,fchmodat,clone,clone3,fork,vfork,link,linkat,symlinkat"
LINE = re.compile(r"^(\d+) +(\w+)\((.*)\) += (-?\d+|\?)")


def uid_by_pid(trace, root_pid):
    """Walk an strace -f log: for each line, the uid its process had.
    Returns [(uid, syscall, args, result)]."""
    uid = {}
    out = []
    for line in trace.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        pid, call, args, ret = int(m.group(1)), m.group(2), m.group(3), \
            m.group(4)
        cur = uid.setdefault(pid, 0)
        if call in ("clone", "clone3", "fork", "vfork") and ret not in \
                ("?", "-1") and int(ret) > 0:
            uid[int(ret)] = cur
        if call == "setresuid" and ret == "0":
            uid[pid] = int(args.split(",")[0])
        if call == "setuid" and ret == "0":
            uid[pid] = int(args)
        out.append((cur if call not in ("setresuid", "setuid")
                    else uid[pid], call, args, ret))
    return out


class DropShown(Base):
    """strace -f over a whole transaction: who touched what."""

    def setUp(self):
        if shutil.which("strace") is None:
            self.fail("strace missing (apt-get install strace)")
        super().setUp()

    def traced_session(self):
        log = os.path.join(self.tree.root, "strace.log")
        rc, out, plog = self.session(wrap=["strace", "-f", "-qq", "-o", log,
                                           "-e", "trace=" + STRACE_CALLS])
        with open(log) as f:
            return rc, out, plog, uid_by_pid(f.read(), None)

    def test_store_written_as_the_user(self):
        rc, out, log, calls = self.traced_session()
        self.assertEqual(rc, PAM_SUCCESS, log)
        self.assertIn("SESSION CLOSE 0", out)
        uid = self.pw.pw_uid
        touched = 0
        for who, call, args, ret in calls:
            if "credentials.json" not in args:
                continue
            if call.startswith("open") and not re.search(
                    r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC", args):
                continue
            touched += 1
            self.assertEqual(who, uid, "%s(%s) as uid %d" % (call, args,
                                                             who))
        # create, rename, and at close unlink (and the tmp unlinks).
        self.assertGreaterEqual(touched, 3, calls)
        # The user's directory itself: made by root in root's STORE_DIR,
        # handed over with fchown before anything is written in it.
        mk = [c for c in calls if c[1] in ("mkdir", "mkdirat") and
              '"%d"' % uid in c[2]]
        self.assertTrue(mk and mk[0][0] == 0)

    def test_aws_files_read_as_the_user(self):
        self.tree.write(self.tree.user_file(USER),
                        "iam_user = alice\nmfa_serial = arn:aws:iam::"
                        "123456789012:mfa/alice\naws_profile = work\n",
                        0o600)
        aws = os.path.join(self.pw.pw_dir, ".aws")
        os.makedirs(aws, 0o700)
        with open(os.path.join(aws, "credentials"), "w") as f:
            f.write("[work]\naws_access_key_id = %s\n"
                    "aws_secret_access_key = %s\n" % (AKID, SECRET))
        with open(os.path.join(aws, "config"), "w") as f:
            f.write("[profile work]\nmfa_serial = arn:aws:iam::"
                    "123456789012:mfa/alice\nregion = us-east-1\n")
        for p in (aws, aws + "/credentials", aws + "/config"):
            os.chown(p, self.pw.pw_uid, self.pw.pw_gid)
        rc, out, log, calls = self.traced_session()
        self.assertEqual(rc, PAM_SUCCESS, log)
        opened = [c for c in calls if c[1].startswith("open") and
                  re.search(r'"(\.aws|credentials|config)"', c[2]) and
                  "credentials.json" not in c[2]]
        self.assertGreaterEqual(len(opened), 3, calls)
        for who, call, args, ret in opened:
            self.assertEqual(who, self.pw.pw_uid, "%s(%s)" % (call, args))
            self.assertIn("O_NOFOLLOW", args)
        self.clean_home()


class AwsLinks(Base):
    """aws_profile: links and odd files at ~/.aws and its files lead to a
    refusal, with no request to STS and nothing outside touched."""

    def enroll(self):
        self.tree.write(self.tree.user_file(USER),
                        "iam_user = alice\nmfa_serial = arn:aws:iam::"
                        "123456789012:mfa/alice\naws_profile = work\n",
                        0o600)

    def good_files(self, d):
        with open(os.path.join(d, "credentials"), "w") as f:
            f.write("[work]\naws_access_key_id = %s\n"
                    "aws_secret_access_key = %s\n" % (AKID, SECRET))
        with open(os.path.join(d, "config"), "w") as f:
            f.write("[profile work]\nmfa_serial = arn:aws:iam::"
                    "123456789012:mfa/alice\n")

    def login(self):
        return self.tree.run("awsmfa", USER, ["123456"], extra_args=["-E"])

    def user_owned(self, *paths):
        for p in paths:
            os.lchown(p, self.pw.pw_uid, self.pw.pw_gid)

    def test_plain_profile_works(self):
        aws = os.path.join(self.pw.pw_dir, ".aws")
        os.makedirs(aws, 0o700)
        self.good_files(aws)
        self.user_owned(aws, aws + "/credentials", aws + "/config")
        self.assertRc(self.login(), PAM_SUCCESS)
        self.clean_home()

    def test_planted(self):
        aws = os.path.join(self.pw.pw_dir, ".aws")
        root_aws = os.path.join(self.victims, "aws")
        os.makedirs(root_aws, 0o700)
        self.good_files(root_aws)

        def dir_symlink():
            os.symlink(root_aws, aws)

        def creds_symlink():
            os.makedirs(aws, 0o700)
            self.user_owned(aws)
            os.symlink(root_aws + "/credentials", aws + "/credentials")

        def creds_hardlink():
            os.makedirs(aws, 0o700)
            self.user_owned(aws)
            os.link(root_aws + "/credentials", aws + "/credentials")

        def creds_fifo():
            os.makedirs(aws, 0o700)
            self.user_owned(aws)
            os.mkfifo(aws + "/credentials", 0o600)
            self.user_owned(aws + "/credentials")

        def creds_dev_zero():
            os.makedirs(aws, 0o700)
            self.user_owned(aws)
            os.symlink("/dev/zero", aws + "/credentials")

        def creds_huge():
            os.makedirs(aws, 0o700)
            self.good_files(aws)
            with open(aws + "/credentials", "a") as f:
                f.write("#" * (2 << 20))
            self.user_owned(aws, aws + "/credentials", aws + "/config")

        def creds_root_owned():
            os.makedirs(aws, 0o700)
            self.good_files(aws)
            self.user_owned(aws, aws + "/config")

        for name, plant in [("~/.aws symlink to root's", dir_symlink),
                            ("credentials symlink", creds_symlink),
                            ("credentials hard link", creds_hardlink),
                            ("credentials fifo", creds_fifo),
                            ("credentials -> /dev/zero", creds_dev_zero),
                            ("credentials huge", creds_huge),
                            ("credentials root's", creds_root_owned)]:
            with self.subTest(case=name):
                self.clean_home()
                plant()
                before = tree_snapshot(self.victims)
                n = len(self.server.requests)
                start = time.monotonic()
                res = self.login()
                self.assertRc(res, PAM_AUTHINFO_UNAVAIL)
                # Only "returns" against "hangs": a read of a FIFO or of
                # /dev/zero never ends; 30 s is room for a loaded machine.
                self.assertLess(time.monotonic() - start, 30)
                self.assertEqual(len(self.server.requests), n,
                                 "nothing sent to STS")
                self.assertNotIn("AWS_ACCESS_KEY_ID", res.env)
                self.assertEqual(tree_snapshot(self.victims), before)
        self.clean_home()


def tearDownModule():
    remove_system_users()


if __name__ == "__main__":
    require_root()
    unittest.main(verbosity=2)
