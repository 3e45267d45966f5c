"""awsmfa-chkcode attacked by a local user (an independent review): what the
first attack file (test_chkcode_attacks) does not try.

 * Guessing in parallel: many checks at once race neither the count nor
   the lock: no more wrong codes answered than lockout_attempts allows,
   each one counted.
 * The loader's and libraries' variables (LD_PRELOAD, LD_LIBRARY_PATH,
   GCONV_PATH, GLIBC_TUNABLES, OPENSSL_CONF naming a provider, ...) load
   nothing of the caller's into the set-user-ID process.
 * Not traceable: while it waits for the code (the caller's real uid, root's
   effective uid) and while it checks (all root), the caller can read
   nothing of it in /proc and cannot ptrace it.
 * Nothing the check or the renewal writes is the caller's to read but the
   caller's own credential store: not the enrolment, the state, the audit
   log, the staged renewal.
 * renew by hand: another user's name refused; nothing staged, nothing
   done; a staged session applied once.
 * The service name (the one field of the audit record the caller names)
   takes no line break, quote or control character.
 * HOLE (fails today): the audit record of a check is the caller's to
   shape as a root login of any service: named "sudo" it is an "event":
   "stepup" record, "sshd" or "login" a login, with nothing in it that
   says the checker wrote it for an unprivileged caller.  A user (or
   their malware) forges, for their own account, step-ups and logins that
   never happened (an "ok" with "credentials": true for a right code),
   and failures under any service.  The record should say who asked:
   the checker (a fixed field, e.g. "via": "awsmfa-chkcode", or the
   service fixed and the caller's name kept apart) and never be a
   step-up.
Checked to fail: with caller_is() accepting any name, renew for OTHER is
answered (6, not 5); with service_ok() accepting anything, "a\nb" is
checked (1, not 5); AuditOrigin fails on b3451e0.
"""

import ctypes
import json
import os
import subprocess
import sys
import time
import unittest

from amfa_testlib import remove_system_users, require_root, totp
from lockerlib import CHKCODE, OTHER, USER, LockerCase, kill_quietly, \
    wait_until

OK, DENIED, LOCKED, UNAVAILABLE, REFUSED, NOTHING = 0, 1, 2, 3, 5, 6
CANARY_SO = os.environ.get("AMFA_SETUID_CANARY", "")


def user_popen(case, args, **kw):
    pw = case.user
    return subprocess.Popen(args, stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                            env=kw.pop("env", {"PATH": "/usr/bin:/bin"}),
                            user=pw.pw_uid, group=pw.pw_gid, extra_groups=[],
                            cwd="/", **kw)


class ParallelGuessing(LockerCase):
    def test_parallel_wrong_codes_bounded_by_the_lockout(self):
        n = 24
        procs = [user_popen(self, [self.chkcode, "check", USER, "test"])
                 for _ in range(n)]
        for p in procs:
            self.addCleanup(kill_quietly, p)
        # All of them waiting on their pipe; the codes go in at once.
        for i, p in enumerate(procs):
            p.stdin.write(b"%06d\n" % (100000 + i))
        for p in procs:
            p.stdin.close()
        rcs = [p.wait(timeout=240) for p in procs]
        denied = rcs.count(DENIED)
        self.assertTrue(set(rcs) <= {DENIED, LOCKED, UNAVAILABLE}, rcs)
        self.assertLessEqual(denied, self.lockout, rcs)
        self.assertEqual(self.failures(), denied, rcs)
        self.assertTrue(self.locked(), rcs)
        self.assertEqual(len([r for r in self.audit_records()
                              if r["result"] == "denied"]),
                         n - rcs.count(UNAVAILABLE), rcs)


class LoaderVariables(LockerCase):
    lockout = 1000

    def test_callers_libraries_not_loaded(self):
        if not CANARY_SO:
            self.skipTest("no canary library")
        lib = os.path.join(self.bindir, "lib")
        os.makedirs(lib, 0o755)
        mark = os.path.join(self.bindir, "mark")
        os.chmod(self.bindir, 0o777)
        for name in ("libcrypto.so.3", "libc.so.6", "libcurl.so.4",
                     "libnss_files.so.2", "canary.so"):
            subprocess.run(["cp", CANARY_SO, os.path.join(lib, name)],
                           check=True)
        gconv = os.path.join(self.bindir, "gconv")
        os.makedirs(gconv, 0o755)
        with open(os.path.join(gconv, "gconv-modules"), "w") as f:
            f.write("module  INTERNAL  EVIL//  %s/canary  1\n"
                    "module  EVIL//  INTERNAL  %s/canary  1\n" % (lib, lib))
        ossl = os.path.join(self.bindir, "openssl.cnf")
        with open(ossl, "w") as f:
            f.write("openssl_conf = init\n[init]\nproviders = p\n"
                    "[p]\ncanary = c\n[c]\nmodule = %s/canary.so\n"
                    "activate = 1\n" % lib)
        env = {"LD_PRELOAD": os.path.join(lib, "canary.so"),
               "LD_LIBRARY_PATH": lib, "LD_AUDIT": lib + "/canary.so",
               "GCONV_PATH": gconv, "CHARSET": "EVIL",
               "LC_ALL": "C.EVIL", "GLIBC_TUNABLES":
               "glibc.malloc.check=3:glibc.rtld.nns=1",
               "OPENSSL_CONF": ossl, "OPENSSL_MODULES": lib,
               "OPENSSL_ENGINES": lib, "CURL_CA_BUNDLE": "/dev/null",
               "SSL_CERT_FILE": ossl, "NSS_FILES_PASSWD": "/tmp/x",
               "HOSTALIASES": ossl, "RES_OPTIONS": "ndots:15",
               "AMFA_CANARY_MARK": mark}
        res = self.check_as(self.user, USER, "000000", env=env)
        self.assertEqual(res.returncode, DENIED, res)
        self.assertEqual(self.failures(), 1)
        self.login()
        res = self.check_as(self.user, USER, totp(self.iam.seed), env=env)
        self.assertEqual(res.returncode, OK, res)
        self.assertFalse(os.path.exists(mark), "the caller's library ran")


PTRACE_ATTACH = 16


def ptrace_attach_as(pw, pid):
    """Fork, become `pw', try PTRACE_ATTACH: the errno (0: attached)."""
    r, w = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.close(r)
            os.setgroups([])
            os.setresgid(pw.pw_gid, pw.pw_gid, pw.pw_gid)
            os.setresuid(pw.pw_uid, pw.pw_uid, pw.pw_uid)
            libc = ctypes.CDLL(None, use_errno=True)
            rc = libc.ptrace(PTRACE_ATTACH, pid, None, None)
            err = 0 if rc == 0 else ctypes.get_errno()
            os.write(w, str(err).encode())
        finally:
            os._exit(0)
    os.close(w)
    out = os.read(r, 32)
    os.close(r)
    os.waitpid(child, 0)
    return int(out or b"-1")


class NotTraceable(LockerCase):
    def peek(self, pid):
        """What of /proc/PID the user can read (names)."""
        got = []
        for name in ("environ", "mem", "maps", "auxv", "syscall", "stack",
                     "io", "cmdline", "status", "fd", "cwd"):
            path = "/proc/%d/%s" % (pid, name)
            cmd = ["ls", path] if name in ("fd", "cwd") else \
                ["dd", "if=" + path, "of=/dev/null", "count=1"]
            res = self.as_user(cmd)
            if res.returncode == 0:
                got.append(name)
        return got

    def test_waiting_for_the_code(self):
        p = user_popen(self, [self.chkcode, "check", USER, "test"])
        self.addCleanup(kill_quietly, p)
        time.sleep(1)
        self.assertIsNone(p.poll())
        self.assertNotEqual(ptrace_attach_as(self.user, p.pid), 0)
        self.assertEqual([n for n in self.peek(p.pid)
                          if n not in ("cmdline", "status")], [])
        p.stdin.close()
        p.wait(timeout=60)

    def test_during_the_check(self):
        self.login()
        self.sts.fault(fault="stall", seconds=6)
        p = user_popen(self, [self.chkcode, "check", USER, "test"])
        self.addCleanup(kill_quietly, p)
        p.stdin.write((totp(self.iam.seed) + "\n").encode())
        p.stdin.close()
        wait_until("root's ids", lambda: self.all_root(p.pid), timeout=60,
                   every=0.01)
        self.assertNotEqual(ptrace_attach_as(self.user, p.pid), 0)
        self.assertEqual([n for n in self.peek(p.pid)
                          if n not in ("cmdline", "status")], [])
        self.assertEqual(p.wait(timeout=120), OK)

    @staticmethod
    def all_root(pid):
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("Uid:"):
                        return line.split()[1:] == ["0"] * 4
        except FileNotFoundError:
            return False
        return False


class NothingReadable(LockerCase):
    def readable_by_user(self, top):
        res = self.as_user(["find", top, "-readable"])
        return sorted(l for l in res.stdout.splitlines() if l)

    def test_staged_and_applied(self):
        self.login()
        res = self.check_as(self.user, USER, totp(self.iam.seed))
        self.assertEqual(res.returncode, OK, res)
        staged = os.path.join(self.store, "%d.renew" % self.user.pw_uid)
        st = os.stat(staged)
        self.assertEqual((st.st_uid, st.st_mode & 0o777), (0, 0o600))
        own = os.path.join(self.store, str(self.user.pw_uid))
        allowed_dirs = (self.tree.root, self.tree.etc, self.store,
                        self.tree.pamd)
        for path in self.readable_by_user(self.tree.root):
            if path.startswith(own + "/") or path == own:
                continue
            if path in allowed_dirs and os.path.isdir(path):
                continue
            if path == self.tree.conf or path.startswith(self.tree.pamd):
                continue
            # The user's own roles file, the session count: nothing else.
            self.assertNotIn(".renew", path)
            self.assertFalse(path.startswith(self.tree.users), path)
            self.assertFalse(path.startswith(self.tree.state), path)
            self.assertNotEqual(path, self.audit)
        res = self.as_user([self.chkcode, "renew", USER])
        self.assertEqual(res.returncode, OK, res)
        self.assertFalse(os.path.exists(staged))


class RenewByHand(LockerCase):
    def test_renew_requests(self):
        res = self.as_user([self.chkcode, "renew", OTHER])
        self.assertEqual(res.returncode, REFUSED, res)
        res = self.as_user([self.chkcode, "renew", USER])
        self.assertEqual(res.returncode, NOTHING, res)
        old = self.login()
        res = self.check_as(self.user, USER, totp(self.iam.seed))
        self.assertEqual(res.returncode, OK, res)
        res = self.as_user([self.chkcode, "renew", USER, "x"])
        self.assertEqual(res.returncode, REFUSED, res)
        res = self.as_user([self.chkcode, "renew", USER])
        self.assertEqual(res.returncode, OK, res)
        self.assertNotEqual(self.store_key(), old)
        res = self.as_user([self.chkcode, "renew", USER])
        self.assertEqual(res.returncode, NOTHING, res)

    def test_service_name_is_plain(self):
        for svc in ("a\nb", 'a"b', "a b", "a\x1bb", "x" * 64, "",
                    "a\\u000ab", "ä"):
            res = self.as_user([self.chkcode, "check", USER, svc],
                               input="000000\n")
            self.assertEqual(res.returncode, REFUSED, repr(svc))
        self.assertEqual(self.failures(), 0)
        self.assertEqual(self.audit_records(), [])


class AuditOrigin(LockerCase):
    lockout = 1000

    def test_record_says_the_checker_wrote_it(self):
        self.login()
        for svc, code in (("sudo", "000000"), ("sshd", "000000"),
                          ("sudo", None)):
            res = self.as_user([self.chkcode, "check", USER, svc],
                               input=(code or totp(self.iam.seed)) + "\n")
            self.assertEqual(res.returncode, DENIED if code else OK, res)
            rec = self.audit_records()[-1]
            self.assertNotEqual(rec["event"], "stepup", rec)
            self.assertIn("awsmfa-chkcode", json.dumps(rec), rec)


def tearDownModule():
    remove_system_users()


if __name__ == "__main__":
    require_root()
    if not CHKCODE:
        print("AMFA_CHKCODE_TEST is not set: run through meson test")
        sys.exit(1)
    unittest.main(verbosity=2)
