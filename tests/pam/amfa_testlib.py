"""Shared fixtures for the PAM-level tests: a throwaway configuration tree,
service files pointing at the built module, codes from oathtool (an
independent TOTP implementation), and runs of the real libpam via pamtest."""

import base64
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

MODULE = os.environ.get("AMFA_PAM_MODULE", "")
CREDS_PROGRAM = os.environ.get("AMFA_CREDS_PROGRAM", "")
AWS_CLI = "/usr/bin/aws"   # Debian's AWS CLI v2, not whatever is on PATH
PAMTEST = os.environ.get("AMFA_PAMTEST", "")
AUTHTOK_MODULE = os.environ.get("AMFA_TEST_AUTHTOK_MODULE", "")

PAM_SUCCESS = 0
PAM_SERVICE_ERR = 3
PAM_AUTH_ERR = 7
PAM_AUTHINFO_UNAVAIL = 9
PAM_MAXTRIES = 11
PAM_IGNORE = 25


def sanitizer_build(module):
    """Is `module' of an AddressSanitizer build?  su is setuid: the dynamic
    loader ignores LD_PRELOAD for it, so such a module cannot load there
    (the plain build runs the tests that need it)."""
    with open(module, "rb") as f:
        return b"__asan_init" in f.read()


def require_root():
    """The module insists on root-owned files: these tests run as root
    (as CI does).  Exit 77 tells meson the test was skipped."""
    if os.geteuid() != 0:
        print("SKIP: PAM-level tests need root")
        sys.exit(77)
    for what, path in (("module", MODULE), ("pamtest", PAMTEST)):
        if not path or not os.path.exists(path):
            print("missing %s (%r): run through meson test" % (what, path))
            sys.exit(1)
    if shutil.which("oathtool") is None:
        print("oathtool is missing (apt-get install oathtool)")
        sys.exit(1)


STATE_SLOT = 2048


def state_text_of(data):
    """The text of a state file's current state (tests/unit/test_state.c and
    pam_awsmfa/store/state.c say what a file is): an earlier-form file is its
    text; a 2-slot file gives the text of its valid slot with the later
    sequence number, after the same checks as the module (None if none)."""
    import hashlib
    if isinstance(data, str):
        data = data.encode()
    if data.startswith(b"version 1\n"):
        return data.decode()
    if len(data) != 2 * STATE_SLOT:
        return None
    best = None
    for i in (0, 1):
        slot = data[i * STATE_SLOT:(i + 1) * STATE_SLOT]
        head, nl, rest = slot.partition(b"\n")
        m = re.fullmatch(rb"amfa-state-slot ([0-9]+) ([0-9]+) ([0-9a-f]{64})",
                         head)
        if not nl or not m:
            continue
        seq, length = int(m.group(1)), int(m.group(2))
        text = rest[:length]
        digest = hashlib.sha256(b"%d %d\n" % (seq, length) + text)
        if len(text) != length or digest.hexdigest().encode() != m.group(3):
            continue
        if best is None or 0 < (seq - best[0]) % 2**64 < 2**63:
            best = (seq, text.decode())
    return best[1] if best else None


def read_state(path):
    """state_text_of the file at `path'; None when there is none."""
    try:
        with open(path, "rb") as f:
            return state_text_of(f.read())
    except FileNotFoundError:
        return None


def system_user(name):
    """A real account (needed for the credential store and ~/.aws); made
    once, home under /var/tmp, removed by remove_system_users()."""
    import grp
    import pwd
    try:
        return pwd.getpwnam(name)
    except KeyError:
        # A run killed between userdel's two steps leaves the user's group:
        # useradd would refuse the name.
        try:
            grp.getgrnam(name)
            subprocess.run(["groupdel", name], check=True,
                           capture_output=True)
        except KeyError:
            pass
        subprocess.run(["useradd", "--create-home", "--home-dir",
                        "/var/tmp/amfa-home-" + name, "--shell", "/bin/sh",
                        "--comment", "pam_awsmfa test user", name],
                       check=True, capture_output=True)
        _made_users.append(name)
        return pwd.getpwnam(name)


_made_users = []


def remove_system_users():
    for name in _made_users:
        subprocess.run(["userdel", "--remove", name], capture_output=True)
    del _made_users[:]


def run_as(pw, args, env=None, **kw):
    """Run a program as the user `pw' (a pwd entry), with a clean env."""
    base = {"HOME": pw.pw_dir, "USER": pw.pw_name, "LOGNAME": pw.pw_name,
            "PATH": "/usr/local/bin:/usr/bin:/bin"}
    base.update(env or {})
    return subprocess.run(args, env=base, user=pw.pw_uid, group=pw.pw_gid,
                          extra_groups=[], capture_output=True, text=True,
                          cwd="/", **kw)


def new_seed(nbytes=20):
    return base64.b32encode(os.urandom(nbytes)).decode().rstrip("=")


def totp(seed, at=None, digits=6, algorithm="sha1", period=30):
    """The code of time `at' (default now), made by oathtool."""
    at = int(time.time() if at is None else at)
    out = subprocess.run(
        ["oathtool", "--totp=" + algorithm, "-d", str(digits),
         "-s", "%ds" % period, "-N", "@%d" % at, "-b", seed],
        check=True, capture_output=True, text=True)
    return out.stdout.strip()


def wait_fresh_step(margin=4, period=30):
    """Return at the start of a step with at least `margin' seconds left,
    so a test's codes do not straddle a step boundary."""
    left = period - (time.time() % period)
    if left < margin:
        time.sleep(left + 0.05)


class Result:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.out = proc.stdout
        self.log = proc.stderr
        self.prompts = [l[7:] for l in proc.stdout.splitlines()
                        if l.startswith("PROMPT ")]
        self.env = dict(l[4:].split("=", 1) for l in proc.stdout.splitlines()
                        if l.startswith("ENV "))

    def __repr__(self):
        return "rc=%d\nstdout:\n%s\nlog:\n%s" % (self.rc, self.out, self.log)


class Tree:
    """A configuration tree in a fresh temporary directory."""

    def __init__(self, **config):
        self.root = tempfile.mkdtemp(prefix="amfa-pam-")
        os.chmod(self.root, 0o755)
        self.etc = os.path.join(self.root, "etc")
        self.users = os.path.join(self.etc, "users.d")
        self.state = os.path.join(self.root, "state")
        self.pamd = os.path.join(self.root, "pam.d")
        for d in (self.etc, self.pamd):
            os.makedirs(d, 0o755)
        os.makedirs(self.users, 0o700)
        self.conf = os.path.join(self.etc, "awsmfa.conf")
        settings = {"users_dir": self.users, "state_dir": self.state}
        settings.update(config)
        self.write_config(settings)
        self.seeds = {}

    def cleanup(self):
        shutil.rmtree(self.root, ignore_errors=True)

    def write_config(self, settings):
        self.write(self.conf, "".join("%s = %s\n" % kv
                                      for kv in settings.items()), 0o644)

    @staticmethod
    def write(path, text, mode):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(path, mode)

    def user_file(self, name):
        return os.path.join(self.users, name + ".conf")

    def state_file(self, name):
        return os.path.join(self.state, name + ".state")

    def enroll(self, name, seed=None, extra="", iam_user=None):
        seed = seed or new_seed()
        self.seeds[name] = seed
        self.write(self.user_file(name),
                   "iam_user = %s\n"
                   "mfa_serial = arn:aws:iam::123456789012:mfa/%s\n"
                   "totp_secret = %s\n%s" % (iam_user or name,
                                             iam_user or name, seed,
                                             extra), 0o600)
        return seed

    def service(self, name, lines):
        """Write a PAM service file; MODULE and AUTHTOK stand for the built
        modules, CONF for this tree's awsmfa.conf."""
        text = "\n".join(lines) + "\n"
        text = (text.replace("MODULE", MODULE)
                .replace("AUTHTOK", AUTHTOK_MODULE)
                .replace("CONF", self.conf))
        self.write(os.path.join(self.pamd, name), text, 0o644)

    def run(self, service, user, answers=(), extra_args=(), timeout=60,
            prefix=()):
        """pamtest (behind `prefix', a command that execs its arguments)."""
        proc = subprocess.run(
            list(prefix) + [PAMTEST] + list(extra_args) +
            [self.pamd, service, user],
            input="".join(a + "\n" for a in answers),
            capture_output=True, text=True, timeout=timeout)
        return Result(proc)

    def start(self, service, user, answers=(), extra_args=()):
        """Start a transaction without waiting (for concurrency tests)."""
        p = subprocess.Popen(
            [PAMTEST] + list(extra_args) + [self.pamd, service, user],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        p.stdin.write("".join(a + "\n" for a in answers))
        p.stdin.close()
        return p

    def run_twice(self, service, user, answers, between, extra_args=(),
                  timeout=60):
        """Two transactions in one pamtest process (pamtest -A), as a
        display manager or a screen locker runs them, with between()
        called after the first has ended; the Result of both (rc: the
        second's), and the output of the first alone."""
        again = os.path.join(self.root, "again")
        p = self.start(service, user, answers,
                       ["-A", again] + list(extra_args))
        first = []
        try:
            for line in p.stdout:
                first.append(line)
                if line == "DONE\n":
                    break
            between()
        finally:
            with open(again, "w"):
                pass
            rc, out, log = self.finish(p, timeout)
        return (Result(subprocess.CompletedProcess(p.args, rc,
                                                   "".join(first) + out,
                                                   log)),
                "".join(first))

    @staticmethod
    def finish(p, timeout=60):
        """Wait for a started transaction; its output is small."""
        p.wait(timeout=timeout)
        out, log = p.stdout.read(), p.stderr.read()
        p.stdout.close()
        p.stderr.close()
        return p.returncode, out, log


# A shared object that is not ours, for a file replaced between two
# transactions of one process.  Not the tests' own pam_test_authtok.so: in
# the sanitizer build that one is instrumented too, and LeakSanitizer's
# scan at exit crashed on its thread-local bookkeeping (libsanitizer of
# GCC 12) when it was mapped after awsmfa_net.so in a process without a
# controlling terminal; Debian's pam_permit.so meets the same refusal.
NOT_OURS = "/lib/x86_64-linux-gnu/security/pam_permit.so"


def elf_needed(path):
    """The libraries a shared object names (DT_NEEDED)."""
    out = subprocess.run(["readelf", "-d", path], capture_output=True,
                         text=True, check=True).stdout
    return [l.split("[", 1)[1].rstrip("]") for l in out.splitlines()
            if "(NEEDED)" in l]


def elf_exported(path):
    """The dynamic symbols a shared object defines, sorted."""
    out = subprocess.run(["nm", "-D", "--defined-only", path],
                         capture_output=True, text=True, check=True).stdout
    return sorted(l.split()[-1] for l in out.splitlines())


# The module's body, next to the built pam_awsmfa.so.
BODY = os.path.join(os.path.dirname(MODULE), "awsmfa_pam.so")


def project_version():
    """AMFA_VERSION: the project's version in meson.build."""
    top = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    with open(os.path.join(top, "meson.build")) as f:
        return re.search(r"version : '([^']+)'", f.read()).group(1)


def other_version():
    """A version of the same length as the project's, not it."""
    v = project_version()
    return v[:-1] + ("9" if v[-1] != "9" else "8")


def copy_as_version(src, dst, version):
    """A copy (0644) of a built object that says another version
    (AMFA_VERSION, the same length, everywhere it ends a string)."""
    with open(src, "rb") as f:
        data = f.read()
    old = project_version().encode() + b"\0"
    new = version.encode() + b"\0"
    assert len(old) == len(new) and old != new and data.count(old) >= 1
    tmp = dst + ".new"
    with open(tmp, "wb") as f:
        f.write(data.replace(old, new))
    os.chmod(tmp, 0o644)
    os.rename(tmp, dst)


def module_copy(test, prefix):
    """Copies of pam_awsmfa.so and its body (0644) in a root-owned 0755
    directory of their own, removed after `test'; (dir, module, body)."""
    mods = tempfile.mkdtemp(prefix=prefix)
    test.addCleanup(shutil.rmtree, mods, True)
    os.chmod(mods, 0o755)
    module = os.path.join(mods, "pam_awsmfa.so")
    shutil.copy(MODULE, module)
    body = os.path.join(mods, "awsmfa_pam.so")
    shutil.copy(BODY, body)
    os.chmod(body, 0o644)
    return mods, module, body


class CheckedFileChecks:
    """The checks plugin_load.c makes on a file it loads (the module's body,
    the network plugin), for a PamTestCase that sets self.checked to the
    file's path and has assertRefused(why): each refusal denies the login.
    A mixin, not a TestCase: only the classes that take it run these."""

    def test_missing(self):
        os.unlink(self.checked)
        self.assertRefused("No such file or directory")

    def test_symlink(self):
        real = os.path.join(os.path.dirname(self.checked), "real.so")
        os.rename(self.checked, real)
        os.symlink(real, self.checked)
        self.assertRefused("a symlink: not followed")

    def test_writable_by_group(self):
        os.chmod(self.checked, 0o664)
        self.assertRefused("writable by group or others")

    def test_owned_by_another_user(self):
        os.chown(self.checked, 65534, 65534)
        self.assertRefused("owned by uid 65534")

    def test_not_a_regular_file(self):
        os.unlink(self.checked)
        os.mkdir(self.checked)
        self.assertRefused("not a regular file")


class PamTestCase(unittest.TestCase):
    config = {}

    def setUp(self):
        self.tree = Tree(**self.config)
        self.addCleanup(self.tree.cleanup)
        self.tree.service("awsmfa", ["auth required MODULE config=CONF"])

    def assertRc(self, res, rc, msg=""):
        self.assertEqual(res.rc, rc, "%s\n%r" % (msg, res))
