"""The module inside the real set-user-ID programs, su (and sudo where it
applies), run by an unprivileged caller who controls what a set-user-ID
program inherits: the environment, resource limits, signal dispositions and
mask, the umask.  None of it may change a decision or make root do the
caller's bidding.

 * Environment.  Libraries under the module read variables of their own:
   libcurl opens SSLKEYLOGFILE (as root, with the caller's umask, wherever
   the caller says) at its first use, and writes the TLS secrets of the
   STS or validation call there; OpenSSL, libxml2, the resolver and libc
   consult others.  The caller sets all of them, the login must still work
   with the right code, and no file may appear at a path they name, no
   library the caller names may be loaded, no proxy may be contacted.
 * RLIMIT_FSIZE.  The state record that sets a lock is a few bytes longer
   than one that only counts a failure or records a success: with the soft
   limit between the two, the lock is never written and guessing goes on.
   A sweep over limits (every byte around the real record sizes, a stride
   elsewhere), SIGXFSZ default and ignored: after lockout_attempts wrong
   codes the user is locked, or else the right code is still refused.
   Also very low RLIMIT_NOFILE and RLIMIT_AS: never a login by mistake.
 * Umask.  With store_dir missing (the first session after boot), a
   caller's umask of 077 or 000 still gives the documented modes: store_dir
   root 0755, store_dir/UID the user's 0700, credentials.json 0600, the
   gate directory (if made) 0711.
 * Signals.  SIGPIPE, SIGXFSZ, SIGCHLD, SIGHUP/SIGINT/SIGTERM ignored, every
   signal blocked, SIGALRM pending: the right code logs in with AWS
   credentials, a wrong one is refused and counted.

The caller is a test account; each su is started by a small shim that, as
that account, sets the umask, limits, dispositions and mask, then execs the
set-user-ID program, exactly as a user's own shell would.  su reads
/etc/pam.d/su (su-l includes it): the file is replaced for the run and put
back afterwards, also when the run is killed by meson's timeout (the
janitor of tests/gateway/gwlib.py), and a copy of the original stays next
to it until then, so a run killed with SIGKILL is repaired by the next
one.  sudo gets a service of its own through sudoers' pam_service, as in
tests/gateway/test_sudo_*.py.  Accounts are made for the run and removed.
Skipped in AddressSanitizer builds (a set-user-ID program cannot load such
a module)."""

import base64
import fcntl
import json
import os
import queue
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
import unittest

import pexpect

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.environ.get("AMFA_TESTS_DIR", HERE)
for sub in ("gateway", "hardening", "yubikey", "fixtures"):
    sys.path.insert(0, os.path.join(TESTS, "..", sub))

from amfa_testlib import (MODULE, Tree, totp,  # noqa: E402
                          wait_fresh_step)
from amfa_testlib import read_state as read_state_file  # noqa: E402
from gwlib import (TAG, janitor, main_with_real_sudo,  # noqa: E402
                   make_account, sudoers_file, system_file)
from hardlib import parse_state, state_text, step_now  # noqa: E402
from sts_process import IamUser, StsServer  # noqa: E402
from yklib import Token, ValidationServer  # noqa: E402

PAM_SU = "/etc/pam.d/su"
SU = "/usr/bin/su"
SUDO = "/usr/bin/sudo"
PROMPT = "Verification code: "
LOCKOUT_ATTEMPTS = 2
LOCKOUT_SECONDS = 600
PREFIX = "amfa-sc%s-" % TAG[-5:]
BASE_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}
API_KEY = base64.b64encode(secrets.token_bytes(20)).decode()
# How many su run at once in the limit sweeps (each waits out su's
# one-second delay after a failure, so they mostly sleep).
PARALLEL = 16

# Runs as root, drops to the caller, sets up what the caller controls,
# execs the program.  Python itself ignores SIGPIPE and SIGXFSZ: both are
# put back to the default first, so that only what a case asks for is
# inherited.
SHIM = r"""
import json, os, resource, signal, sys
c = json.loads(sys.argv[1])
os.setgroups([])
os.setgid(c["gid"])
os.setuid(c["uid"])
for s in (signal.SIGPIPE, signal.SIGXFSZ):
    signal.signal(s, signal.SIG_DFL)
if c["umask"] is not None:
    os.umask(c["umask"])
for name in c["ignore"]:
    signal.signal(getattr(signal, name), signal.SIG_IGN)
for name, soft, hard in c["limits"]:
    res = getattr(resource, name)
    resource.setrlimit(res, (soft, resource.getrlimit(res)[1]
                             if hard is None else hard))
signal.pthread_sigmask(signal.SIG_SETMASK,
                       [getattr(signal, n) for n in c["block"]])
for name in c["pending"]:
    os.kill(os.getpid(), getattr(signal, name))
os.execve(c["argv"][0], c["argv"], c["env"])
"""


class Outcome:
    def __init__(self, prompted, status, signal_, before, after):
        self.prompted = prompted
        self.status = status
        self.signal = signal_
        self.before = before          # up to the prompt
        self.out = after              # after the answer
        self.lines = [l for l in after.replace("\r", "").split("\n")
                      if l.strip()]

    @property
    def logged_in(self):
        return self.status == 0 and "IN" in self.lines

    def __repr__(self):
        return ("prompted=%s status=%s signal=%s\nbefore: %r\nafter: %r"
                % (self.prompted, self.status, self.signal, self.before,
                   self.out))


class Caller:
    """The unprivileged account that runs su and sudo."""

    def __init__(self, pw):
        self.pw = pw

    def run(self, argv, answer, env=None, umask=0o022, ignore=(),
            limits=(), block=(), pending=(), prompt=PROMPT, timeout=60,
            wrap=None, at_prompt=None):
        """Run argv as the caller under a pty; answer the prompt.
        `limits': (RLIMIT_NAME, soft, hard or None) triples; `wrap': a
        command the shim runs instead, argv appended (strace)."""
        full_env = dict(BASE_ENV, HOME=self.pw.pw_dir, USER=self.pw.pw_name,
                        LOGNAME=self.pw.pw_name)
        full_env.update(env or {})
        conf = {"uid": self.pw.pw_uid, "gid": self.pw.pw_gid,
                "umask": umask, "ignore": list(ignore),
                "limits": [list(l) for l in limits], "block": list(block),
                "pending": list(pending), "argv": list(argv),
                "env": full_env}
        child = pexpect.spawn("/usr/bin/python3",
                              ["-I", "-S", "-c", SHIM, json.dumps(conf)],
                              env=BASE_ENV, encoding="utf-8",
                              codec_errors="replace", timeout=timeout)
        entry = janitor.add(child.close, True)
        i = child.expect_exact([prompt, pexpect.EOF])
        before = child.before
        after = ""
        if i == 0:
            if at_prompt is not None:
                at_prompt(child.pid)
            child.sendline(answer)
            child.expect(pexpect.EOF)
            after = child.before
        child.close()
        janitor.done(entry)
        return Outcome(i == 0, child.exitstatus, child.signalstatus, before,
                       after)

    def su(self, victim, answer, login=False, command="echo IN", **kw):
        argv = [SU] + (["-l"] if login else []) + [victim, "-c", command]
        return self.run(argv, answer, **kw)


# --- the system files of the run ------------------------------------------

def keep_btmp():
    """Every failed su appends a record (struct utmp, 384 bytes, ut_user at
    44) to /var/log/btmp, the sweeps hundreds: at the end, those of this
    run's accounts are taken out again."""
    path = "/var/log/btmp"
    if not os.path.exists(path):
        return

    def clean():
        with open(path, "r+b") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            data = f.read()
            if len(data) % 384:
                return          # not the format we know: leave it alone
            recs = [data[i:i + 384] for i in range(0, len(data), 384)]
            keep = b"".join(r for r in recs
                            if not r[44:76].startswith(PREFIX.encode()))
            if len(keep) != len(data):
                f.seek(0)
                f.write(keep)
                f.truncate()
    janitor.add(clean)


def take_run_lock():
    """One run of this test at a time on a machine (they share
    /etc/pam.d/su)."""
    fd = os.open("/run/lock/amfa-setuid-caller.lock",
                 os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    janitor.add(os.close, fd)


def replace_system_file(path, text):
    """Replace an existing file for the run; the original comes back at
    the end.  The original is also kept in PATH.amfa-setuid-saved until
    then: a run killed outright leaves it, and the next run restores it."""
    saved = path + ".amfa-setuid-saved"
    if os.path.exists(saved):
        print("%s: restoring the original a killed run left in %s"
              % (path, saved), file=sys.stderr)
        os.replace(saved, path)
    shutil.copy2(path, saved)
    janitor.add(os.replace, saved, path)
    tmp = path + ".amfa-setuid-new"
    with open(tmp, "w") as f:
        f.write(text)
    shutil.copymode(saved, tmp)
    os.replace(tmp, path)


def pam_text(conf):
    """/etc/pam.d/su for the run: the module alone decides authentication
    (no password, so no pam_unix delay), the session exports the
    credentials as the shipped login snippet does."""
    return ("#%%PAM-1.0\n"
            "auth required %(m)s config=%(c)s\n"
            "account required pam_unix.so\n"
            "session required pam_unix.so\n"
            "session optional %(m)s config=%(c)s\n" % {"m": MODULE,
                                                      "c": conf})


def wait_su_l_is_debians(test, seconds=180):
    """su -l reads /etc/pam.d/su-l, which includes su on Debian.  Another
    tree's test_workstation_su replaces su-l for its own run: wait for it
    to be put back rather than fail for that."""
    import re
    deadline = time.time() + seconds
    while True:
        with open("/etc/pam.d/su-l") as f:
            if re.search(r"^auth\s+include\s+su\s*$", f.read(), re.M):
                return
        if time.time() > deadline:
            test.fail("/etc/pam.d/su-l no longer includes su (replaced by "
                      "another test run?): su -l would not use this run's "
                      "stack")
        time.sleep(1)


# --- state files -------------------------------------------------------------

def read_state(tree, user):
    return read_state_file(tree.state_file(user))


def plant_state(tree, user, text):
    """A state of the test's choosing (None: none at all)."""
    os.makedirs(tree.state, 0o700, exist_ok=True)
    path = tree.state_file(user)
    for p in (path, os.path.join(tree.state, "." + user + ".state.tmp")):
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass
    if text is not None:
        tree.write(path, text, 0o600)


def locked(tree, user):
    text = read_state(tree, user)
    st = parse_state(text) if text else None
    return bool(st) and st.get("locked_until", 0) > time.time()


def wrong_code(seed):
    """Six digits that are no code of the window around now."""
    now = time.time()
    taken = {totp(seed, at=now + d) for d in (-60, -30, 0, 30, 60)}
    code = int(totp(seed))
    while "%06d" % code in taken:
        code = (code + 123457) % 1000000
    return "%06d" % code


# --- the world of the run ----------------------------------------------------

class World:
    """Accounts, servers, configuration, /etc/pam.d/su: made once."""

    def __init__(self):
        take_run_lock()
        keep_btmp()
        self.caller = Caller(make_account(PREFIX + "caller"))
        self.tree = Tree()
        janitor.add(self.tree.cleanup)
        self.users = {}                 # name -> (pw, seed or None, iam)
        self.iams = {}
        # STS and the validation server over HTTPS, one test CA.
        for role in ("ks", "ly", "le", "ls", "sk", "u7", "u0", "um",
                     "g0", "g1", "g2", "g3", "g4", "g5", "g6", "g7", "gs"):
            self.iams[role] = IamUser(PREFIX + role)
        self.sts = StsServer(list(self.iams.values()), tls=True)
        janitor.add(self.sts.stop)
        ca_dir = os.path.dirname(self.sts.ca)
        self.cloud = Token()
        self.cloud_otp = None
        self.ykval = ValidationServer(
            self.ykval_db(), tls=(os.path.join(ca_dir, "server.pem"),
                                  os.path.join(ca_dir, "server.key"),
                                  self.sts.ca))
        janitor.add(self.ykval.stop)
        janitor.add(shutil.rmtree, self.ykval.dir, True)
        key_file = os.path.join(self.tree.etc, "ykval.key")
        self.tree.write(key_file, API_KEY + "\n", 0o600)
        self.store = os.path.join(self.tree.root, "run")
        self.tree.write_config({
            "users_dir": self.tree.users, "state_dir": self.tree.state,
            "lockout_attempts": LOCKOUT_ATTEMPTS,
            "lockout_seconds": LOCKOUT_SECONDS,
            "sts_endpoint": self.sts.url, "ca_file": self.sts.ca,
            "sts_timeout": 10, "failmode": "secure",
            "store_dir": self.store,
            "yubikey_validation": self.ykval.url,
            "yubikey_client_id": "1", "yubikey_api_key_file": key_file,
            "yubikey_timeout": 10})
        # A root-owned directory no one else may write in: whatever appears
        # there was made by root.
        self.canary = os.path.join(self.tree.root, "canary")
        os.makedirs(self.canary, 0o755)
        replace_system_file(PAM_SU, pam_text(self.tree.conf))

    def ykval_db(self):
        otps = {}
        if self.cloud_otp:
            otps[self.cloud_otp] = {"session": 1, "use": 0}
        return {"clients": {"1": API_KEY}, "otps": otps}

    def new_cloud_otp(self):
        self.cloud_otp = self.cloud.public_id + "".join(
            secrets.choice("cbdefghijklnrtuv") for _ in range(32))
        self.ykval.write_db(self.ykval_db())
        return self.cloud_otp

    def local_user(self, role):
        """verify = local (the host's default), a TOTP seed."""
        name = PREFIX + role
        if name not in self.users:
            pw = make_account(name)
            self.users[name] = (pw, self.tree.enroll(name), None)
        return name

    def sts_user(self, role, verify="sts"):
        """verify = sts or local+sts, with its own IAM user and key."""
        name = PREFIX + role
        if name not in self.users:
            iam = self.iams[role]
            pw = make_account(name)
            self.tree.enroll(name, seed=iam.seed, iam_user=iam.name,
                             extra="verify = %s\naccess_key_id = %s\n"
                             "secret_access_key = %s\n"
                             % (verify, iam.key_id, iam.secret))
            self.users[name] = (pw, iam.seed, iam)
        return name

    def yubikey_user(self, role):
        """A factory YubiKey, known to the validation server only."""
        name = PREFIX + role
        if name not in self.users:
            pw = make_account(name)
            self.tree.write(self.tree.user_file(name),
                            "iam_user = %s\nyubikey = %s\n"
                            % (name, self.cloud.public_id), 0o600)
            self.users[name] = (pw, None, None)
        return name

    def seed(self, name):
        return self.users[name][1]


WORLD = None


def world():
    global WORLD
    if WORLD is None:
        WORLD = World()
    return WORLD



# --- 1. the caller's environment ---------------------------------------------

CANARY_SO = os.environ.get("AMFA_SETUID_CANARY", "")


class CallerEnvironment(unittest.TestCase):
    """Verify = sts and online YubiKey validation, both over HTTPS (libcurl
    does TLS), with variables the caller sets for the libraries."""

    @classmethod
    def setUpClass(cls):
        cls.w = world()

    def setUp(self):
        self.addCleanup(self.empty_canary)

    def empty_canary(self):
        for name in os.listdir(self.w.canary):
            p = os.path.join(self.w.canary, name)
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p)
            else:
                os.unlink(p)

    def assertNothingMade(self, how):
        made = sorted(os.listdir(self.w.canary))
        if made:
            self.fail("%s: root made what the caller named: %s" % (
                how, "; ".join(describe_file(os.path.join(self.w.canary, n))
                               for n in made)))

    def test_control_libcurl_writes_a_key_log(self):
        """Control: this machine's libcurl does honour SSLKEYLOGFILE (curl,
        as root, not set-user-ID, to the same TLS endpoint); otherwise the
        cases below would prove nothing."""
        path = os.path.join(self.w.canary, "control.log")
        subprocess.run(["curl", "-s", "-o", "/dev/null", "--cacert",
                        self.w.sts.ca, self.w.sts.url],
                       env=dict(BASE_ENV, SSLKEYLOGFILE=path), timeout=30)
        self.assertTrue(os.path.exists(path),
                        "CONTROL FAILED: libcurl wrote no key log")
        with open(path) as f:
            self.assertIn("TRAFFIC_SECRET", f.read())

    def key_log_login(self, victim, answer, how):
        path = os.path.join(self.w.canary, "keys.log")
        o = self.w.caller.su(victim, answer, umask=0,
                             env={"SSLKEYLOGFILE": path})
        self.assertTrue(o.logged_in, "%s: the right code did not log in: %r"
                        % (how, o))
        if os.path.lexists(path):
            self.fail("%s, caller's umask 0: libcurl opened the caller's "
                      "SSLKEYLOGFILE as root: %s" % (how, describe_file(path)))
        self.assertNothingMade(how)

    def test_sts_key_log(self):
        victim = self.w.sts_user("ks")
        self.key_log_login(victim, totp(self.w.seed(victim)),
                           "su, verify = sts over HTTPS")

    def test_yubikey_validation_key_log(self):
        victim = self.w.yubikey_user("ly")
        self.key_log_login(victim, self.w.new_cloud_otp(),
                           "su, YubiKey OTP, validation server over HTTPS")

    def library_env(self, proxy_url):
        c = self.w.canary
        conf = os.path.join(self.w.tree.etc, "openssl-canary.cnf")
        self.w.tree.write(conf,
                          "openssl_conf = openssl_init\n"
                          "[openssl_init]\nproviders = provider_sect\n"
                          "[provider_sect]\ncanary = canary_sect\n"
                          "default = default_sect\n"
                          "[canary_sect]\nmodule = %s\nactivate = 1\n"
                          "[default_sect]\nactivate = 1\n" % CANARY_SO,
                          0o644)
        env = {
            "AMFA_CANARY_MARK": os.path.join(c, "canary-loaded"),
            "SSLKEYLOGFILE": os.path.join(c, "keys.log"),
            "OPENSSL_CONF": conf,
            "OPENSSL_MODULES": c, "OPENSSL_ENGINES": c,
            "CURL_CA_BUNDLE": os.path.join(c, "ca-bundle.pem"),
            "SSL_CERT_FILE": os.path.join(c, "cert.pem"),
            "SSL_CERT_DIR": os.path.join(c, "certs"),
            "CURL_HOME": c, "CURL_SSL_BACKEND": "gnutls",
            "LOCALDOMAIN": "canary.invalid",
            "RES_OPTIONS": "debug ndots:15 attempts:5 timeout:30",
            "HOSTALIASES": os.path.join(c, "hostaliases"),
            "XML_CATALOG_FILES": os.path.join(c, "catalog.xml"),
            "XML_DEBUG_CATALOG": "1",
            "MALLOC_CHECK_": "3", "MALLOC_PERTURB_": "165",
            "MALLOC_TRACE": os.path.join(c, "mtrace"),
            "GLIBC_TUNABLES": "glibc.malloc.check=3:glibc.malloc.perturb=165",
            "LD_PRELOAD": CANARY_SO, "LD_LIBRARY_PATH": c,
            "LD_DEBUG": "all", "LD_DEBUG_OUTPUT": os.path.join(c, "ld"),
            "LD_AUDIT": CANARY_SO,
            "GCONV_PATH": c, "LOCPATH": c, "NLSPATH": c + "/%N",
            "TZDIR": c, "TMPDIR": c, "TZ": os.path.join(c, "tz"),
        }
        for name in ("http_proxy", "https_proxy", "HTTP_PROXY",
                     "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
            env[name] = proxy_url
        return env

    def test_library_variables(self):
        """Every variable at once, su -l (the session gets a clean
        environment, so what the variables do is the PAM stack's doing)."""
        from test_sudo_proxy import RecordingProxy
        proxy = RecordingProxy()
        self.addCleanup(proxy.stop)
        victim = self.w.sts_user("le")
        wait_su_l_is_debians(self)
        o = self.w.caller.su(victim, totp(self.w.seed(victim)), login=True,
                             umask=0, env=self.library_env(proxy.url))
        self.assertEqual(proxy.connections(), [],
                         "the module went through the caller's proxy")
        self.assertTrue(o.logged_in, o)
        self.assertEqual(o.lines, ["IN"], "output of a library the "
                         "caller steered: %r" % o)
        self.assertNothingMade("su -l, verify = sts over HTTPS, every "
                               "library variable set")

    def test_library_variables_traced(self):
        """The same under strace -u (the kernel still runs su set-user-ID
        for a root tracer): no file or socket call of any process may name
        a path the caller chose.  Catches reads (OPENSSL_CONF,
        XML_CATALOG_FILES, HOSTALIASES, ...) that leave no file behind."""
        from test_sudo_proxy import RecordingProxy
        proxy = RecordingProxy()
        self.addCleanup(proxy.stop)
        victim = self.w.sts_user("ls")
        wait_su_l_is_debians(self)
        env = self.library_env(proxy.url)
        log = os.path.join(self.w.tree.root, "strace.log")
        argv = ["/usr/bin/strace", "-f", "-qq", "-s", "512", "-o", log,
                "-e", "trace=%file,%network", "-u", self.w.caller.pw.pw_name]
        argv += ["-E%s=%s" % kv for kv in sorted(env.items())]
        argv += ["--", SU, "-l", victim, "-c", "echo IN"]
        child = pexpect.spawn(argv[0], argv[1:], env=BASE_ENV,
                              encoding="utf-8", codec_errors="replace",
                              timeout=60)
        entry = janitor.add(child.close, True)
        child.expect_exact(PROMPT)
        child.sendline(totp(self.w.seed(victim)))
        child.expect(pexpect.EOF)
        out = child.before
        child.close()
        janitor.done(entry)
        with open(log) as f:
            trace = f.read()
        self.assertIn("execve(\"%s\"" % SU, trace)
        self.assertIn("connect(", trace)
        self.assertEqual(child.exitstatus, 0, out)
        self.assertEqual(proxy.connections(), [])
        named = [l for l in trace.splitlines()
                 if self.w.canary in l or CANARY_SO in l or
                 (":%d" % proxy.sock.getsockname()[1]) in l or
                 "htons(%d)" % proxy.sock.getsockname()[1] in l]
        self.assertEqual(named, [], "calls naming what the caller chose:\n"
                         + "\n".join(named[:40]))
        self.assertNothingMade("su -l under strace")

    def test_sudo_key_log(self):
        """sudo answers the module's getenv from the command's environment
        (env_reset): SSLKEYLOGFILE reaches the module only through
        env_keep, which the entry sets (as a site that debugs TLS might).
        The module's own environment is emptied, but sudo's getenv hook
        still hands the variable to libcurl: the module sees that before
        any request and refuses, so no key log is written.  Control: the
        same sudo without the variable logs in (env(1) runs)."""
        victim = self.w.caller.pw.pw_name
        iam = self.w.iams["sk"]
        self.w.tree.enroll(victim, seed=iam.seed, iam_user=iam.name,
                           extra="verify = sts\naccess_key_id = %s\n"
                           "secret_access_key = %s\n" % (iam.key_id,
                                                         iam.secret))
        self.addCleanup(os.unlink, self.w.tree.user_file(victim))
        service = "amfa-sc-sudo-" + TAG
        entry = system_file(os.path.join("/etc/pam.d", service),
                            "#%%PAM-1.0\nauth required %s config=%s\n"
                            "@include common-account\n"
                            "@include common-session-noninteractive\n"
                            % (MODULE, self.w.tree.conf))
        self.addCleanup(janitor.done, entry)
        entry = sudoers_file("amfa-sc-" + TAG,
                             "Defaults:%s pam_service=%s, "
                             "pam_login_service=%s\n"
                             "Defaults:%s timestamp_timeout=0, "
                             "passwd_tries=1, !lecture\n"
                             "Defaults:%s env_keep += \"SSLKEYLOGFILE\"\n"
                             "%s ALL=(root) /usr/bin/env\n"
                             % (victim, service, service, victim, victim,
                                victim))
        self.addCleanup(janitor.done, entry)
        path = os.path.join(self.w.canary, "keys.log")
        o = self.w.caller.run([SUDO, "--", "/usr/bin/env"], totp(iam.seed),
                              umask=0, env={"SSLKEYLOGFILE": path})
        if os.path.lexists(path):
            self.fail("sudo, verify = sts over HTTPS: libcurl opened the "
                      "caller's SSLKEYLOGFILE as root: %s"
                      % describe_file(path))
        self.assertTrue(o.prompted, o)
        self.assertNotEqual(o.status, 0, o)
        self.assertNotIn("SSLKEYLOGFILE=" + path, o.lines,
                         "refused: the command did not run")
        wait_fresh_step()
        o = self.w.caller.run([SUDO, "--", "/usr/bin/env"], totp(iam.seed),
                              umask=0)
        self.assertEqual(o.status, 0, o)
        self.assertNothingMade("sudo without SSLKEYLOGFILE")


# --- 2. resource limits ------------------------------------------------------

def ranges(numbers):
    """[1,2,3,7,9,10] -> '1-3, 7, 9-10'."""
    out, run = [], []
    for n in sorted(numbers):
        if run and n == run[-1] + 1:
            run.append(n)
            continue
        if run:
            out.append("%d-%d" % (run[0], run[-1]) if len(run) > 1
                       else str(run[0]))
        run = [n]
    if run:
        out.append("%d-%d" % (run[0], run[-1]) if len(run) > 1
                   else str(run[0]))
    return ", ".join(out)


class Case:
    def __init__(self, history, limits, ignore=(), label=""):
        self.history = history          # "fresh" or "used"
        self.limits = limits
        self.ignore = ignore
        self.label = label
        self.outcome = None

    def variant(self):
        return "%s state, %s%s" % (
            self.history, self.label,
            ", SIGXFSZ ignored" if "SIGXFSZ" in self.ignore else "")


def history_state(history):
    if history == "fresh":
        return None
    return state_text(step_now() - 2, 0, 0, int(time.time()) - 3600)


def record_sizes():
    """The sizes of the records the module writes, from the format
    (pam_awsmfa/store/state.c, tests/hardening/hardlib.py): a failure counted, a
    lock, a success; for a user with no state yet and one who logged in
    before."""
    now, step = int(time.time()), step_now()
    return sorted({
        len(state_text(-1, 1, 0, 0)),                       # fresh, count
        len(state_text(-1, 2, now + 600, 0)),               # fresh, lock
        len(state_text(step, 0, 0, now)),                   # success
        len(state_text(step - 2, 1, 0, now)),               # used, count
        len(state_text(step - 2, 2, now + 600, now)),       # used, lock
    })


class Limits(unittest.TestCase):
    """An unprivileged caller guesses under a resource limit of their
    choosing: after lockout_attempts wrong codes the user must be locked
    (the state file says so), or else the right code, typed under the same
    limit, must still be refused.  A wrong code never logs in."""

    @classmethod
    def setUpClass(cls):
        cls.w = world()
        cls.victims = [cls.w.local_user("sw%02d" % i)
                       for i in range(PARALLEL)]

    def one_case(self, victim, case):
        """None, or what went wrong."""
        w, seed = self.w, self.w.seed(victim)
        planted = history_state(case.history)
        plant_state(w.tree, victim, planted)
        before = parse_state(planted)["last_success"] if planted else 0
        seen = []
        for i in range(LOCKOUT_ATTEMPTS):
            o = w.caller.su(victim, wrong_code(seed), limits=case.limits,
                            ignore=case.ignore, timeout=30)
            seen.append("status %s signal %s %s" % (o.status, o.signal,
                                                    o.lines[-1:]))
            if o.logged_in:
                return "wrong code %d logged in: %r" % (i + 1, o)
        after_wrong = read_state(w.tree, victim)
        if locked(w.tree, victim):
            case.outcome = "locked"
            return None
        case.outcome = "not locked"
        o = w.caller.su(victim, totp(seed), limits=case.limits,
                        ignore=case.ignore, timeout=30)
        text = read_state(w.tree, victim)
        st = parse_state(text) if text else None
        if o.logged_in or (st and st["last_success"] > before):
            return ("not locked after %d wrong codes (%s; state then: %r) "
                    "and the right code was accepted (su %s)"
                    % (LOCKOUT_ATTEMPTS, "; ".join(seen), after_wrong,
                       "logged in" if o.logged_in else
                       "status %s" % o.status))
        return None

    def sweep(self, cases):
        """Run the cases, PARALLEL at a time (one account each); returns
        [(case, problem)]."""
        todo = queue.Queue()
        for c in cases:
            todo.put(c)
        found, lock = [], threading.Lock()

        def work(victim):
            while True:
                try:
                    c = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    problem = self.one_case(victim, c)
                except Exception as e:      # reported, not swallowed
                    problem = "test error: %r" % e
                if problem:
                    with lock:
                        found.append((c, problem))

        threads = [threading.Thread(target=work, args=(v,))
                   for v in self.victims]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return found

    def report(self, found, what):
        if not found:
            return
        by_variant = {}
        for c, problem in found:
            by_variant.setdefault(c.variant(), []).append((c, problem))
        lines = []
        for variant, items in sorted(by_variant.items()):
            sizes = [c.limits[0][1] for c, _ in items]
            lines.append("%s: %d limits (%s), e.g. %s=%d: %s" % (
                variant, len(items), ranges(sizes), items[0][0].limits[0][0],
                items[0][0].limits[0][1], items[0][1]))
        self.fail("%s: the lockout did not hold:\n  %s"
                  % (what, "\n  ".join(lines)))

    def test_control_without_limit(self):
        """Without a limit, both histories lock (the sweep's yardstick)."""
        for history in ("fresh", "used"):
            problem = self.one_case(self.victims[0], Case(history, []))
            self.assertIsNone(problem, history)
            self.assertTrue(locked(self.w.tree, self.victims[0]), history)

    def test_file_size_sweep(self):
        """RLIMIT_FSIZE (soft, as `prlimit --fsize=N:') from 1 byte to
        1100: every byte around the real record sizes, a stride elsewhere;
        SIGXFSZ default (su dies in the write) and ignored (the write fails
        with EFBIG); and soft = hard around the records."""
        sizes = record_sizes()
        fine = set(range(sizes[0] - 6, sizes[-1] + 7))
        coarse = {1, 2, 4, 8, 16, 24, 32, 40, 48, 56} | \
            set(range(128, 1100, 64)) | {1100}
        cases = []
        for history in ("used", "fresh"):
            for ignore in ((), ("SIGXFSZ",)):
                for n in sorted(fine | coarse):
                    cases.append(Case(history, [("RLIMIT_FSIZE", n, None)],
                                      ignore, "soft RLIMIT_FSIZE"))
            for n in sorted(fine):
                cases.append(Case(history, [("RLIMIT_FSIZE", n, n)],
                                  ("SIGXFSZ",), "soft=hard RLIMIT_FSIZE"))
        t = time.time()
        found = self.sweep(cases)
        print("file size sweep: %d cases in %.0f s (record sizes %s)"
              % (len(cases), time.time() - t, sizes), file=sys.stderr)
        self.report(found, "su under RLIMIT_FSIZE (record sizes %s)"
                    % sizes)
        # A limit above every record changes nothing: the sweep did reach
        # the module (not vacuous).
        roomy = [c for c in cases if c.limits[0][1] > sizes[-1] + 8]
        self.assertEqual([(c.variant(), c.limits[0][1], c.outcome)
                          for c in roomy if c.outcome != "locked"], [])

    def test_open_files_and_address_space(self):
        """RLIMIT_NOFILE 3..12, 16, 32 and RLIMIT_AS 1 MiB..256 MiB."""
        cases = []
        for history in ("used", "fresh"):
            for n in list(range(3, 13)) + [16, 32]:
                cases.append(Case(history, [("RLIMIT_NOFILE", n, None)],
                                  (), "soft RLIMIT_NOFILE"))
            for mib in (1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 256):
                cases.append(Case(history, [("RLIMIT_AS", mib << 20, None)],
                                  (), "soft RLIMIT_AS"))
        found = self.sweep(cases)
        self.report(found, "su under RLIMIT_NOFILE / RLIMIT_AS")

    def test_sudo_file_size(self):
        """sudo: the same attack around the records (sudo raises its own
        limits while it runs; this keeps it that way)."""
        victim = self.w.caller.pw.pw_name
        seed = self.w.tree.enroll(victim)
        self.addCleanup(os.unlink, self.w.tree.user_file(victim))
        service = "amfa-sc-sudo-fsize-" + TAG
        entry = system_file(os.path.join("/etc/pam.d", service),
                            "#%%PAM-1.0\nauth required %s config=%s\n"
                            "@include common-account\n"
                            "@include common-session-noninteractive\n"
                            % (MODULE, self.w.tree.conf))
        self.addCleanup(janitor.done, entry)
        entry = sudoers_file("amfa-sc-fsize-" + TAG,
                             "Defaults:%s pam_service=%s, "
                             "pam_login_service=%s\n"
                             "Defaults:%s timestamp_timeout=0, "
                             "passwd_tries=1, !lecture\n"
                             "%s ALL=(root) /usr/bin/id\n"
                             % (victim, service, service, victim, victim))
        self.addCleanup(janitor.done, entry)
        sizes = record_sizes()
        problems = []
        for ignore in ((), ("SIGXFSZ",)):
            for n in range(sizes[0] - 1, sizes[-1] + 2):
                planted = history_state("used")
                plant_state(self.w.tree, victim, planted)
                limits = [("RLIMIT_FSIZE", n, None)]
                for _ in range(LOCKOUT_ATTEMPTS):
                    o = self.w.caller.run([SUDO, "--", "/usr/bin/id", "-u"],
                                          wrong_code(seed), limits=limits,
                                          ignore=ignore, timeout=30)
                    self.assertTrue(o.prompted, o)
                    if o.status == 0:
                        problems.append((n, ignore, "wrong code ran"))
                if locked(self.w.tree, victim):
                    continue
                problems.append((n, ignore, "not locked: %r"
                                 % read_state(self.w.tree, victim)))
                o = self.w.caller.run([SUDO, "--", "/usr/bin/id", "-u"],
                                      totp(seed), limits=limits,
                                      ignore=ignore, timeout=30)
                if o.status == 0:
                    problems.append((n, ignore, "not locked, right code "
                                     "ran: %r" % read_state(self.w.tree,
                                                            victim)))
        self.assertEqual(problems, [])


# --- 3. the caller's umask ---------------------------------------------------

class CallerUmask(unittest.TestCase):
    """su -l, the first session after boot (store_dir missing), with the
    caller's umask 077 and 000."""

    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.w = world()

    def check(self, role, umask):
        w = self.w
        victim = w.sts_user(role, verify="local+sts")
        pw = w.users[victim][0]
        shutil.rmtree(w.store, ignore_errors=True)
        wait_su_l_is_debians(self)
        udir = os.path.join(w.store, str(pw.pw_uid))
        creds = os.path.join(udir, "credentials.json")
        o = w.caller.su(victim, totp(w.seed(victim)), login=True,
                        umask=umask,
                        command="echo KEY=$AWS_ACCESS_KEY_ID; "
                        "stat -c 'MODE %%a %%U %%n' %s %s; echo IN"
                        % (udir, creds))
        how = "caller's umask %03o" % umask
        self.assertTrue(o.logged_in, "%s: %r" % (how, o))
        self.assertTrue(any(l.startswith("KEY=ASIA") for l in o.lines),
                        "%s: no credentials in the session: %r" % (how, o))
        st = os.stat(w.store)
        got = {"store_dir": (st.st_uid, stat.S_IMODE(st.st_mode))}
        gate = os.path.join(w.store, "gate")
        if os.path.exists(gate):
            st = os.stat(gate)
            got["gate"] = (st.st_uid, stat.S_IMODE(st.st_mode))
        seen = {}
        for l in o.lines:
            if l.startswith("MODE "):
                _, mode, owner, path = l.split(" ", 3)
                seen[path] = (owner, int(mode, 8))
        want = {"store_dir": (0, 0o755)}
        if "gate" in got:
            want["gate"] = (0, 0o711)
        got = {k: "uid %d mode %04o" % v for k, v in got.items()}
        want = {k: "uid %d mode %04o" % v for k, v in want.items()}
        # What the user sees from inside the session (stat runs as the
        # user: a store_dir they cannot search hides both).
        for path, label in ((udir, "store_dir/UID"),
                            (creds, "credentials.json")):
            got[label + " (user's view)"] = (
                "%s mode %04o" % seen[path] if path in seen else
                "not visible: %s" % "; ".join(
                    l for l in o.lines if path in l and "stat" in l))
        want["store_dir/UID (user's view)"] = "%s mode 0700" % victim
        want["credentials.json (user's view)"] = "%s mode 0600" % victim
        self.assertEqual(got, want, "%s, first session (store_dir made "
                         "now): the modes" % how)

    def test_umask_077(self):
        self.check("u7", 0o077)

    def test_umask_000(self):
        self.check("u0", 0o000)


# --- 4. signals --------------------------------------------------------------

class CallerSignals(unittest.TestCase):
    """verify = local+sts over HTTPS, the session stores credentials (a
    process that drops to the user): the module's decision does not depend
    on the dispositions and mask the caller leaves to su.  A wrong code is
    refused and counted; the right code is accepted (the state records the
    success), the session has AWS credentials and the store has them.

    A pending SIGALRM or SIGTERM is delivered by su itself once the user is
    in: util-linux su's watching parent unblocks both after the session is
    open (SIGALRM kills it, SIGTERM ends the session).  For those the
    module's decision is read from the state and the store, not from the
    shell's output."""

    VARIANTS = [
        ("g0", {}, True),
        ("g1", {"ignore": ["SIGPIPE"]}, True),
        ("g2", {"ignore": ["SIGXFSZ"]}, True),
        ("g3", {"ignore": ["SIGCHLD"]}, True),
        ("g4", {"ignore": ["SIGHUP", "SIGINT", "SIGTERM", "SIGQUIT",
                           "SIGALRM", "SIGUSR1", "SIGUSR2"]}, True),
        ("g5", {"block": ["ALL"]}, True),
        ("g6", {"block": ["SIGCHLD", "SIGPIPE", "SIGXFSZ", "SIGHUP",
                          "SIGUSR1"],
                "pending": ["SIGCHLD", "SIGPIPE", "SIGXFSZ", "SIGHUP",
                            "SIGUSR1"]}, True),
        ("g7", {"ignore": ["SIGPIPE", "SIGXFSZ", "SIGCHLD"],
                "block": ["SIGALRM", "SIGTERM"],
                "pending": ["SIGALRM", "SIGTERM"]}, False),
    ]

    @classmethod
    def setUpClass(cls):
        cls.w = world()

    def setUp(self):
        # Made afresh with the caller's default umask (CallerUmask leaves
        # it as its umask made it).
        shutil.rmtree(self.w.store, ignore_errors=True)

    def test_outcome_does_not_change(self):
        w = self.w
        all_signals = sorted(
            signal.Signals(s).name for s in signal.valid_signals()
            if s in signal.Signals.__members__.values() and
            s not in (signal.SIGKILL, signal.SIGSTOP))
        for role, how, su_survives in self.VARIANTS:
            kw = dict(how)
            if kw.get("block") == ["ALL"]:
                kw["block"] = all_signals
            with self.subTest(variant=role, signals=how):
                victim = w.sts_user(role, verify="local+sts")
                seed = w.seed(victim)
                plant_state(w.tree, victim, None)
                o = w.caller.su(victim, wrong_code(seed), **kw)
                self.assertTrue(o.prompted, o)
                self.assertFalse(o.logged_in, o)
                st = parse_state(read_state(w.tree, victim) or "")
                self.assertIsNotNone(st, "wrong code not counted: %r" % o)
                self.assertEqual(st["failures"], 1, "wrong code: %r" % o)
                pw = w.users[victim][0]
                creds = os.path.join(w.store, str(pw.pw_uid),
                                     "credentials.json")
                t = int(time.time())
                o = w.caller.su(victim, totp(seed),
                                command="echo KEY=$AWS_ACCESS_KEY_ID; "
                                "test -s %s && echo STORED; echo IN"
                                % creds, **kw)
                st = parse_state(read_state(w.tree, victim) or "")
                self.assertEqual((st["failures"], st["last_success"] >= t),
                                 (0, True), "right code: state %r, su %r"
                                 % (st, o))
                if su_survives:
                    self.assertTrue(o.logged_in, o)
                    self.assertTrue(any(l.startswith("KEY=ASIA")
                                        for l in o.lines), o)
                    self.assertIn("STORED", o.lines, o)
                else:
                    self.assertTrue(o.logged_in or o.signal in (
                        signal.SIGALRM, signal.SIGTERM), o)
                    self.assertTrue(os.path.isfile(creds) or
                                    "STORED" in o.lines,
                                    "no credentials stored: %r" % o)

    def test_caller_cannot_stop_su_in_the_module(self):
        """While su is in the module (here: at its prompt; likewise during
        an STS request with the user's state locked) the caller's kill(2)
        is refused: stopped, su would hold the user's state lock and every
        other login of that user, and awsmfa unlock, would wait on it.
        The probe is SIGCONT, which changes nothing when it does arrive
        (it did before the module took root's ids for the call)."""
        w = self.w
        victim = w.sts_user("gs", verify="local+sts")
        seed = w.seed(victim)
        plant_state(w.tree, victim, None)
        tried = {}

        def kill_as_caller(shim_pid, sig=signal.SIGCONT):
            # The shim execs su, so its pid is su's.
            p = subprocess.run(
                ["/usr/bin/python3", "-I", "-S", "-c",
                 "import os, sys\n"
                 "try:\n os.kill(%d, %d)\nexcept PermissionError:\n"
                 " sys.exit(3)\n" % (shim_pid, sig)],
                user=w.caller.pw.pw_uid, group=w.caller.pw.pw_gid,
                capture_output=True, timeout=30)
            tried.setdefault("rc", []).append(p.returncode)

        o = w.caller.su(victim, totp(seed), at_prompt=kill_as_caller)
        self.assertEqual(tried.get("rc"), [3],
                         "the caller could signal su inside the module")
        self.assertTrue(o.logged_in, o)
        st = parse_state(read_state(w.tree, victim) or "")
        self.assertIsNotNone(st)
        self.assertEqual(st["failures"], 0)


def tearDownModule():
    janitor.run()


def describe_file(path):
    st = os.lstat(path)
    size = st.st_size
    return ("%s: owner uid %d, mode %04o, %d bytes" %
            (path, st.st_uid, stat.S_IMODE(st.st_mode), size))


if __name__ == "__main__":
    main_with_real_sudo([("module", MODULE),
                         ("canary library", os.environ.get(
                             "AMFA_SETUID_CANARY", ""))])
