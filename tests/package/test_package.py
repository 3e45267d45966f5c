"""The Debian packages, the way an administrator meets them: built with
dpkg-buildpackage from a clean copy of the tree (the files git tracks, as
they are in the working tree), checked by lintian and hardening-check,
installed with apt-get, a login through the real libpam with nothing but
installed paths (a service in /etc/pam.d naming "pam_awsmfa.so" without a
path, a user enrolled with the installed awsmfa, the installed
awsmfa.conf), the pam-auth-update profile switched on (users not enrolled
pass, enrolled users need their code), an upgrade to a rebuild with a higher
version that leaves enrolment and state files alone, then remove and purge.

It changes the machine (packages, a group, /etc/pam.d, /etc/awsmfa,
/var/lib/awsmfa) and puts everything back afterwards, also when it fails or
meson's timeout sends SIGTERM; whatever of those paths existed before is
moved aside for the run and moved back.  It refuses to run (fails) if the
packages are installed already, rather than purge someone's installation."""

import grp
import hashlib
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import unittest

import pexpect

from amfa_testlib import (PAM_AUTH_ERR, PAM_SUCCESS, Result, new_seed,
                          remove_system_users, system_user, totp,
                          wait_fresh_step)
from gwlib import sanitizer_runtime

SOURCE_ROOT = os.environ.get("AMFA_SOURCE_ROOT", "")
PAMTEST = os.environ.get("AMFA_PAMTEST", "")
MODULE = os.environ.get("AMFA_PAM_MODULE", "")

PACKAGES = ["libpam-awsmfa", "awsmfa-gateway"]
UPGRADE_VERSION = "99.0.0+pkgtest1"   # above any real version
GROUP = "awsmfa-audit"
GATEWAY = "/usr/bin/awsmfa-gateway"
RECORDER = "/usr/libexec/awsmfa/awsmfa-recorder"
CHKCODE = "/usr/libexec/awsmfa/awsmfa-chkcode"  # set-user-ID root
RECUSER = "awsmfa-rec"                # the recorder's account and group
PAMDIR = "/etc/pam.d"
SERVICE = "awsmfa-pkgtest"            # auth required pam_awsmfa.so
SERVICE_COMMON = "awsmfa-pkgtest-common"   # @include common-auth
# What the packages make or may change outside their own files: moved
# aside before the run, put back after it.
OWNED_TREES = ["/etc/awsmfa", "/var/lib/awsmfa", "/run/awsmfa",
               "/var/log/awsmfa-gateway"]
PAM_STATE = ["/etc/pam.d/common-auth", "/etc/pam.d/common-account",
             "/etc/pam.d/common-session",
             "/etc/pam.d/common-session-noninteractive",
             "/etc/pam.d/common-password", "/var/lib/pam"]
APT_ENV = dict(os.environ, DEBIAN_FRONTEND="noninteractive",
               LC_ALL="C.UTF-8")


class Terminated(Exception):
    pass


def _on_sigterm(signum, frame):
    # meson's timeout: fail the test so that its cleanups run.
    raise Terminated("SIGTERM (meson's timeout?)")


def run(args, check=True, timeout=600, **kw):
    kw.setdefault("env", APT_ENV)
    res = subprocess.run(args, capture_output=True, text=True,
                         timeout=timeout, **kw)
    if check and res.returncode != 0:
        raise AssertionError("%s: exit %d\nstdout:\n%s\nstderr:\n%s" % (
            " ".join(args), res.returncode, res.stdout[-4000:],
            res.stderr[-4000:]))
    return res


def installed(package):
    res = run(["dpkg-query", "-W", "-f=${db:Status-Abbrev}", package],
              check=False)
    return res.returncode == 0 and res.stdout.strip() not in ("", "un")


def version_of(package):
    return run(["dpkg-query", "-W", "-f=${Version}", package]).stdout


def digest(path):
    """Everything about a file an upgrade must not change."""
    st = os.lstat(path)
    d = {"mode": stat.filemode(st.st_mode), "uid": st.st_uid,
         "gid": st.st_gid, "mtime_ns": st.st_mtime_ns, "ino": st.st_ino}
    if stat.S_ISREG(st.st_mode):
        with open(path, "rb") as f:
            d["sha256"] = hashlib.sha256(f.read()).hexdigest()
    return d


def snapshot(*trees):
    out = {}
    for top in trees:
        out[top] = digest(top)
        for base, dirs, files in os.walk(top):
            for n in dirs + files:
                p = os.path.join(base, n)
                out[p] = digest(p)
    return out


def copy_tree(dest):
    """The files git tracks, as they are in the working tree (so the test
    builds what is checked out, edits included, and no build directory)."""
    res = run(["git", "-C", SOURCE_ROOT, "ls-files", "-z"], check=False)
    if res.returncode != 0:
        raise AssertionError("the package test copies the files git tracks, "
                             "and %s is not a git checkout: %s"
                             % (SOURCE_ROOT, res.stderr))
    for rel in res.stdout.split("\0"):
        if not rel:
            continue
        src = os.path.join(SOURCE_ROOT, rel)
        if not os.path.lexists(src):      # deleted in the working tree
            continue
        dst = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(src, dst, follow_symlinks=False)


def build(top, version=None):
    """dpkg-buildpackage -us -uc -b in a fresh copy; the .debs by package."""
    src = os.path.join(top, "src")
    copy_tree(src)
    if version:
        # A rebuild with a higher version: a new changelog entry, nothing
        # else.
        path = os.path.join(src, "debian", "changelog")
        with open(path) as f:
            old = f.read()
        first = old.splitlines()[0]
        entry = ("%s (%s) unstable; urgency=medium\n\n"
                 "  * Rebuild for the upgrade test.\n\n"
                 " -- pam_awsmfa tests <tests@localhost>  %s\n\n" % (
                     first.split()[0], version,
                     time.strftime("%a, %d %b %Y %H:%M:%S +0000",
                                   time.gmtime())))
        with open(path, "w") as f:
            f.write(entry + old)
    env = dict(APT_ENV, DEB_BUILD_OPTIONS="noautodbgsym parallel=%d"
               % (os.cpu_count() or 2))
    res = run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src, env=env,
              timeout=900)
    with open(os.path.join(top, "build.log"), "w") as f:
        f.write(res.stdout + res.stderr)
    debs = {}
    for n in os.listdir(top):
        if n.endswith(".deb"):
            debs[n.split("_")[0]] = os.path.join(top, n)
    changes = [os.path.join(top, n) for n in os.listdir(top)
               if n.endswith(".changes")]
    return debs, changes[0]


def pamtest(service, user, answers):
    proc = subprocess.run([PAMTEST, PAMDIR, service, user],
                          input="".join(a + "\n" for a in answers),
                          capture_output=True, text=True, timeout=60)
    return Result(proc)


def is_elf(path):
    with open(path, "rb") as f:
        return f.read(4) == b"\x7fELF"


class Package(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        signal.signal(signal.SIGTERM, _on_sigterm)
        for p in PACKAGES:
            if installed(p):
                self.fail("%s is installed on this machine: the test would "
                          "replace and purge it; remove it first" % p)
        self.tmp = tempfile.mkdtemp(prefix="amfa-pkg-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.saved = os.path.join(self.tmp, "saved")
        os.mkdir(self.saved, 0o700)
        # Cleanups run last-added first: purge, then put things back.
        self.addCleanup(self.restore_machine)
        # Renamed beside themselves (the same file system: /run is a tmpfs,
        # the temporary directory may not be), put back by restore_machine.
        self.moved = {}
        # None: not looked at yet (restore_machine then leaves them alone)
        self.had_override = self.had_rec_override = None
        self.had_chk_override = None
        for path in OWNED_TREES:
            if os.path.lexists(path):
                aside = "%s.amfa-pkgtest-%d" % (path, os.getpid())
                os.rename(path, aside)
                self.moved[path] = aside
        for i, path in enumerate(PAM_STATE):
            if os.path.lexists(path):
                dst = os.path.join(self.saved, "pam%d" % i)
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.copytree(path, dst, symlinks=True)
                else:
                    shutil.copy2(path, dst, follow_symlinks=False)
        self.had_group = self.group_exists()
        self.had_recuser = self.recuser_exists()
        self.had_override = run(["dpkg-statoverride", "--list", GATEWAY],
                                check=False).stdout
        self.had_rec_override = run(["dpkg-statoverride", "--list",
                                     RECORDER], check=False).stdout
        self.had_chk_override = run(["dpkg-statoverride", "--list",
                                     CHKCODE], check=False).stdout
        self.addCleanup(remove_system_users)
        self.addCleanup(self.purge_quietly)

    # --- putting the machine back -----------------------------------------

    def purge_quietly(self):
        if any(installed(p) for p in PACKAGES):
            run(["apt-get", "purge", "-y", "-q"] +
                [p for p in PACKAGES if installed(p)], check=False)

    def restore_machine(self):
        for name in (SERVICE, SERVICE_COMMON):
            try:
                os.unlink(os.path.join(PAMDIR, name))
            except FileNotFoundError:
                pass
        for i, path in enumerate(PAM_STATE):
            src = os.path.join(self.saved, "pam%d" % i)
            if not os.path.lexists(src):
                continue
            if os.path.isdir(src) and not os.path.islink(src):
                shutil.rmtree(path, ignore_errors=True)
                shutil.copytree(src, path, symlinks=True)
            else:
                shutil.copy2(src, path, follow_symlinks=False)
        for path, src in getattr(self, "moved", {}).items():
            if os.path.lexists(src):
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path)
                elif os.path.lexists(path):
                    os.unlink(path)
                os.rename(src, path)
        if self.had_override == "" and run(
                ["dpkg-statoverride", "--list", GATEWAY],
                check=False).stdout:
            run(["dpkg-statoverride", "--remove", GATEWAY], check=False)
        if self.had_rec_override == "" and run(
                ["dpkg-statoverride", "--list", RECORDER],
                check=False).stdout:
            run(["dpkg-statoverride", "--remove", RECORDER], check=False)
        if self.had_chk_override == "" and run(
                ["dpkg-statoverride", "--list", CHKCODE],
                check=False).stdout:
            run(["dpkg-statoverride", "--remove", CHKCODE], check=False)
        if not self.had_group and self.group_exists():
            run(["delgroup", "--system", "--quiet", GROUP], check=False)
        if not self.had_recuser and self.recuser_exists():
            run(["deluser", "--system", "--quiet", RECUSER], check=False)
            run(["delgroup", "--system", "--quiet", RECUSER], check=False)

    @staticmethod
    def recuser_exists():
        try:
            pwd.getpwnam(RECUSER)
            return True
        except KeyError:
            return False

    @staticmethod
    def group_exists():
        try:
            grp.getgrnam(GROUP)
            return True
        except KeyError:
            return False

    # --- helpers ------------------------------------------------------------

    def apt_install(self, debs):
        run(["apt-get", "install", "-y", "-q", "--no-install-recommends"] +
            ["./" + os.path.relpath(d, self.tmp) for d in debs], cwd=self.tmp)

    def assertRecorderCaps(self):
        """The recorder's file capabilities (awsmfa-recorder(8)):
        cap_chown and cap_sys_tty_config, permitted only."""
        out = run(["getcap", RECORDER]).stdout.strip()
        self.assertRegex(out, r"cap_chown,cap_sys_tty_config=p$", out)

    def assertMode(self, path, mode, uid=0, gid=0, kind=stat.S_ISDIR):
        st = os.lstat(path)
        self.assertTrue(kind(st.st_mode), path)
        self.assertEqual((oct(stat.S_IMODE(st.st_mode)), st.st_uid,
                          st.st_gid), (oct(mode), uid, gid), path)

    def write(self, path, text, mode):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(path, mode)

    def enroll_with_awsmfa(self, user):
        """The installed awsmfa under a pty: new seed, two codes.  Returns
        the seed and the time the codes were for (both are spent)."""
        wait_fresh_step(margin=8)
        child = pexpect.spawn("/usr/sbin/awsmfa", ["enroll", user, "--no-qr"],
                              encoding="utf-8", timeout=40,
                              env=dict(os.environ, TERM="dumb"))
        child.expect("First code shown by the app: ")
        seed = re.search(r"secret=([A-Z2-7]+)", child.before).group(1)
        now = time.time()
        child.sendline(totp(seed, now - 30))
        child.expect("Wait for the next code and type it: ")
        child.sendline(totp(seed, now))
        child.expect(pexpect.EOF)
        child.close()
        self.assertEqual(child.exitstatus, 0, child.before)
        return seed, now

    def hardening(self, paths):
        # --nocfprotection: see debian/rules (no bookworm binary has the
        # IBT/SHSTK property: glibc's start files lack it).
        res = run(["hardening-check", "--nocfprotection"] + paths,
                  check=False)
        print(res.stdout)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        for p in paths:
            block = res.stdout.split(p + ":", 1)[1].split("\n/", 1)[0]
            for feature in ("Stack protected", "Fortify Source functions",
                            "Read-only relocations", "Immediate binding"):
                self.assertRegex(block, r"%s: yes" % feature, p)
            if not p.endswith(".so"):
                self.assertRegex(block, r"Position Independent Executable: "
                                 r"yes", p)

    # --- the test -----------------------------------------------------------

    def test_build_install_login_upgrade_purge(self):
        t0 = time.monotonic()
        v1, changes = build(os.path.join(self.tmp, "v1"))
        self.assertEqual(sorted(v1), sorted(PACKAGES), v1)
        print("built %s in %.0f s" % (", ".join(sorted(v1)),
                                      time.monotonic() - t0))

        # lintian: no error and no warning (overrides carry their reasons).
        res = run(["lintian", "--fail-on", "error,warning", changes],
                  check=False)
        print("lintian:\n" + (res.stdout or "(nothing)"))
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertNotRegex(res.stdout, r"(?m)^[EW]: ")

        # --- install ----------------------------------------------------------
        with open("/etc/pam.d/common-auth") as f:
            common_auth = f.read()
        self.apt_install([v1[p] for p in PACKAGES])
        for p in PACKAGES:
            self.assertEqual(version_of(p), "0.1.0")

        self.assertMode("/etc/awsmfa", 0o755)
        self.assertMode("/etc/awsmfa/users.d", 0o700)
        self.assertMode("/var/lib/awsmfa", 0o700)
        self.assertMode("/run/awsmfa", 0o755)           # tmpfiles.d
        self.assertMode("/etc/awsmfa/awsmfa.conf", 0o644, kind=stat.S_ISREG)
        conffiles = run(["dpkg-query", "-W", "-f=${Conffiles}\n"] +
                        PACKAGES).stdout
        for c in ("/etc/awsmfa/awsmfa.conf", "/etc/awsmfa/gateway.conf"):
            self.assertIn(c, conffiles)
        gid = grp.getgrnam(GROUP).gr_gid
        self.assertLess(gid, 1000, "a system group")
        self.assertMode(GATEWAY, 0o2755, gid=gid, kind=stat.S_ISREG)
        self.assertEqual(run(["dpkg-statoverride", "--list",
                              GATEWAY]).stdout.split(),
                         ["root", GROUP, "2755", GATEWAY])
        # The recorder: set-user-ID and set-group-ID to a system account of
        # its own, no login, no home.
        rec = pwd.getpwnam(RECUSER)
        self.assertLess(rec.pw_uid, 1000, "a system account")
        self.assertEqual((rec.pw_shell, rec.pw_dir),
                         ("/usr/sbin/nologin", "/nonexistent"))
        self.assertFalse(os.path.exists(rec.pw_dir))
        self.assertEqual(grp.getgrgid(rec.pw_gid).gr_name, RECUSER)
        self.assertEqual(grp.getgrnam(RECUSER).gr_mem, [])
        st = os.stat(RECORDER)
        self.assertEqual((st.st_mode & 0o7777, st.st_uid, st.st_gid),
                         (0o6755, rec.pw_uid, rec.pw_gid))
        self.assertEqual(run(["dpkg-statoverride", "--list",
                              RECORDER]).stdout.split(),
                         [RECUSER, RECUSER, "6755", RECORDER])
        self.assertRecorderCaps()
        # The code checker for screen lockers: set-user-ID root, by a
        # dpkg-statoverride (awsmfa-chkcode(8)).
        st = os.stat(CHKCODE)
        self.assertEqual((st.st_mode & 0o7777, st.st_uid, st.st_gid),
                         (0o4755, 0, 0))
        self.assertEqual(run(["dpkg-statoverride", "--list",
                              CHKCODE]).stdout.split(),
                         ["root", "root", "4755", CHKCODE])
        # Session recordings: the recorder's group adds files, nobody else
        # searches.
        self.assertMode("/var/log/awsmfa-gateway/recordings", 0o1730,
                        gid=rec.pw_gid)
        with open("/usr/share/pam-configs/awsmfa") as f:
            self.assertIn("Default: no", f.read())
        with open("/etc/pam.d/common-auth") as f:
            self.assertEqual(f.read(), common_auth,
                             "the profile is off by default")
        for page in ("pam_awsmfa.8", "awsmfa.8", "awsmfa.conf.5",
                     "awsmfa-creds.1", "awsmfa-gateway.8",
                     "awsmfa-recorder.8", "awsmfa-chkcode.8"):
            self.assertTrue(os.path.exists("/usr/share/man/man%s/%s.gz" % (
                page[-1], page)), page)
        res = run(["awsmfa-gateway", "-t"])     # the sample policy parses

        # hardening-check on every installed ELF file, the set-group-ID
        # gateway first (the set-user-ID recorder is among the rest).
        elves = [GATEWAY] + [
            f for f in run(["dpkg", "-L"] + PACKAGES).stdout.split()
            if f != GATEWAY and os.path.isfile(f) and not os.path.islink(f)
            and is_elf(f)]
        self.assertIn("/lib/x86_64-linux-gnu/security/pam_awsmfa.so", elves)
        self.assertIn("/lib/x86_64-linux-gnu/security/awsmfa_pam.so", elves)
        self.assertIn("/lib/x86_64-linux-gnu/security/awsmfa_net.so", elves)
        self.assertIn(RECORDER, elves)
        self.hardening(elves)

        # --- a login with installed paths only --------------------------------
        alice = system_user("amfa-pkg-alice")     # enrolled with awsmfa
        bob = system_user("amfa-pkg-bob")         # users.d file by hand
        carol = system_user("amfa-pkg-carol")     # not enrolled
        with open(os.path.join(PAMDIR, SERVICE), "w") as f:
            f.write("auth required pam_awsmfa.so\n"
                    "account required pam_permit.so\n")
        alice_seed, enrolled_at = self.enroll_with_awsmfa(alice.pw_name)
        self.assertMode("/etc/awsmfa/users.d/%s.conf" % alice.pw_name,
                        0o600, kind=stat.S_ISREG)
        bob_seed = new_seed()
        self.write("/etc/awsmfa/users.d/%s.conf" % bob.pw_name,
                   "iam_user = bob\n"
                   "mfa_serial = arn:aws:iam::123456789012:mfa/bob\n"
                   "totp_secret = %s\n" % bob_seed, 0o600)
        wait_fresh_step()
        code = totp(bob_seed)
        res = pamtest(SERVICE, bob.pw_name, [code])
        self.assertEqual(res.rc, PAM_SUCCESS, res)
        self.assertEqual(res.prompts, ["Verification code: "], res)
        res = pamtest(SERVICE, bob.pw_name, [code])
        self.assertEqual(res.rc, PAM_AUTH_ERR, "a code is accepted once\n%r"
                         % res)
        res = pamtest(SERVICE, carol.pw_name, ["123456"])
        self.assertEqual(res.rc, PAM_AUTH_ERR, "not enrolled, no nullok\n%r"
                         % res)
        self.assertTrue(os.path.exists("/var/lib/awsmfa/%s.state"
                                       % bob.pw_name))

        # --- the pam-auth-update profile -------------------------------------
        run(["pam-auth-update", "--enable", "awsmfa"])
        with open("/etc/pam.d/common-auth") as f:
            text = f.read()
        self.assertRegex(text, r"(?m)^auth\s+required\s+pam_awsmfa\.so "
                         r"nullok[ \t]*$")
        self.assertLess(text.index("pam_unix.so"), text.index("pam_awsmfa"))
        with open("/etc/pam.d/common-session") as f:
            self.assertRegex(f.read(), r"(?m)^session\s+optional\s+"
                             r"pam_awsmfa\.so[ \t]*$")
        with open("/etc/pam.d/common-session-noninteractive") as f:
            self.assertNotIn("pam_awsmfa", f.read())
        with open(os.path.join(PAMDIR, SERVICE_COMMON), "w") as f:
            f.write("@include common-auth\naccount required pam_permit.so\n")
        password = "pkg-" + new_seed(8)
        run(["chpasswd"], input="%s:%s\n%s:%s\n" % (
            bob.pw_name, password, carol.pw_name, password))
        # Not enrolled: the password alone (nullok, PAM_IGNORE).
        res = pamtest(SERVICE_COMMON, carol.pw_name, [password])
        self.assertEqual(res.rc, PAM_SUCCESS, res)
        self.assertEqual(len(res.prompts), 1, res)
        res = pamtest(SERVICE_COMMON, carol.pw_name, ["wrong" + password])
        self.assertEqual(res.rc, PAM_AUTH_ERR, res)
        # Enrolled: the password, then a code; a wrong code is refused.
        res = pamtest(SERVICE_COMMON, bob.pw_name, [password, "000000"
                      if totp(bob_seed) != "000000" else "000001"])
        self.assertEqual(res.rc, PAM_AUTH_ERR, res)
        self.assertEqual(len(res.prompts), 2, res)
        wait_fresh_step(margin=40)        # the next step: a code not spent
        res = pamtest(SERVICE_COMMON, bob.pw_name, [password, totp(bob_seed)])
        self.assertEqual(res.rc, PAM_SUCCESS, res)
        self.assertEqual(res.prompts[1], "Verification code: ", res)

        # --- upgrade to a rebuild with a higher version -----------------------
        with open("/etc/awsmfa/awsmfa.conf", "a") as f:
            f.write("# changed by the administrator\n")
        # /etc/awsmfa itself is excluded: dpkg unpacks the conffiles
        # through temporary files there, which changes its mtime.
        watched = ("/etc/awsmfa/users.d", "/var/lib/awsmfa",
                   "/etc/awsmfa/awsmfa.conf")
        before = snapshot(*watched)
        self.assertGreaterEqual(len([p for p in before if p.endswith(
            ".state")]), 2, before)
        t1 = time.monotonic()
        v2, changes2 = build(os.path.join(self.tmp, "v2"), UPGRADE_VERSION)
        print("rebuilt %s in %.0f s" % (UPGRADE_VERSION,
                                        time.monotonic() - t1))
        self.apt_install([v2[p] for p in PACKAGES])
        for p in PACKAGES:
            self.assertEqual(version_of(p), UPGRADE_VERSION)
        after = snapshot(*watched)
        self.assertEqual(after, before,
                         "enrolment, state and configuration untouched")
        self.assertMode(GATEWAY, 0o2755, gid=gid, kind=stat.S_ISREG)
        st = os.stat(RECORDER)
        self.assertEqual((st.st_mode & 0o7777, st.st_uid, st.st_gid),
                         (0o6755, rec.pw_uid, rec.pw_gid))
        # The upgrade's chown cleared them; the postinst sets them again.
        self.assertRecorderCaps()
        with open("/etc/pam.d/common-auth") as f:
            self.assertIn("pam_awsmfa.so nullok", f.read(),
                          "still enabled after the upgrade")
        # The state carried over: alice's enrolment codes stay spent, and
        # her next code logs her in.
        res = pamtest(SERVICE, alice.pw_name, [totp(alice_seed, enrolled_at)])
        self.assertEqual(res.rc, PAM_AUTH_ERR, res)
        while int(time.time() // 30) <= int(enrolled_at // 30):
            time.sleep(1)
        wait_fresh_step()
        res = pamtest(SERVICE, alice.pw_name, [totp(alice_seed)])
        self.assertEqual(res.rc, PAM_SUCCESS, res)

        # --- remove: the stacks lose the module, data stays --------------------
        run(["apt-get", "remove", "-y", "-q"] + PACKAGES)
        for name in ("common-auth", "common-session"):
            with open(os.path.join(PAMDIR, name)) as f:
                self.assertNotIn("pam_awsmfa", f.read(), name)
        self.assertFalse(os.path.exists(
            "/lib/x86_64-linux-gnu/security/pam_awsmfa.so"))
        self.assertFalse(os.path.exists(GATEWAY))
        for p in ("/etc/awsmfa/awsmfa.conf",
                  "/etc/awsmfa/users.d/%s.conf" % alice.pw_name,
                  "/var/lib/awsmfa/%s.state" % alice.pw_name):
            self.assertTrue(os.path.exists(p), p)
        res = pamtest(SERVICE_COMMON, carol.pw_name, [password])
        self.assertEqual(res.rc, PAM_SUCCESS, "common-auth works without "
                         "the module\n%r" % res)

        # --- purge: nothing of it is left but the group --------------------
        run(["apt-get", "purge", "-y", "-q"] + PACKAGES)
        for p in PACKAGES:
            self.assertFalse(installed(p), p)
        left = [p for p in OWNED_TREES + ["/usr/share/pam-configs/awsmfa"]
                if os.path.lexists(p)]
        self.assertEqual(left, [])
        self.assertEqual(run(["dpkg-statoverride", "--list", GATEWAY],
                             check=False).stdout, "")
        self.assertEqual(run(["dpkg-statoverride", "--list", RECORDER],
                             check=False).stdout, "")
        self.assertEqual(run(["dpkg-statoverride", "--list", CHKCODE],
                             check=False).stdout, "")
        self.assertTrue(self.group_exists(), "the group stays (README.Debian)")
        self.assertTrue(self.recuser_exists(), "the account stays")
        print("left after purge: group %s (gid %d), as documented" % (
            GROUP, gid))
        print("whole run %.0f s" % (time.monotonic() - t0))


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("SKIP: needs root (apt-get install, /etc/pam.d)")
        sys.exit(77)
    for what, path in (("module", MODULE), ("pamtest", PAMTEST),
                       ("source root", SOURCE_ROOT)):
        if not path or not os.path.exists(path):
            print("missing %s (%r): run through meson test" % (what, path))
            sys.exit(1)
    if sanitizer_runtime(MODULE):
        print("SKIP: an AddressSanitizer build; the package is built by "
              "dpkg-buildpackage from source anyway, and the plain build's "
              "run of this test covers it")
        sys.exit(77)
    for tool in ("dpkg-buildpackage", "lintian", "hardening-check",
                 "oathtool", "pam-auth-update", "git"):
        if shutil.which(tool) is None:
            print("%s is missing (tests/install-packages installs it)" % tool)
            sys.exit(1)
    unittest.main(verbosity=2)
