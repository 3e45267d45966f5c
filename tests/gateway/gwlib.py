"""Helpers for the gateway tests: the real OpenSSH sshd on a free loopback
port (its own host key, sshd_config and PAM service), the real ssh and scp
clients driven through a pseudo-terminal by pexpect, test accounts with ssh
keys made now, and a janitor that removes everything (processes, accounts,
/etc/pam.d and /etc/sudoers.d files, directories) even when a test fails or
meson's timeout sends SIGTERM.

sshd takes its PAM service from its program name, so each test sshd runs
through a symlink named after its own service; the service file is written
to /etc/pam.d for the run (sshd has no confdir) and removed afterwards."""

import atexit
import hashlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import pexpect

GATEWAY = os.environ.get("AMFA_GATEWAY", "")
MODULE = os.environ.get("AMFA_PAM_MODULE", "")
SOURCE_ROOT = os.environ.get(
    "AMFA_SOURCE_ROOT",
    os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..")))
SSHD = "/usr/sbin/sshd"
SSH = "/usr/bin/ssh"
SCP = "/usr/bin/scp"
CODE_PROMPT = "Verification code: "
TAG = "%d" % os.getpid()      # keeps names of concurrent runs apart


# --- cleanup ----------------------------------------------------------------

class Janitor:
    """Undo actions, run last-in first-out exactly once: by the tests'
    cleanups, at interpreter exit, or on SIGTERM/SIGINT/SIGHUP (meson's
    timeout), so no process, account or system file outlives a run."""

    def __init__(self):
        self._undo = []
        self._lock = threading.Lock()
        atexit.register(self.run)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)

    def add(self, fn, *args):
        entry = [fn, args]
        with self._lock:
            self._undo.append(entry)
        return entry

    def done(self, entry):
        """Run one undo action now (and never again)."""
        with self._lock:
            if entry not in self._undo:
                return
            self._undo.remove(entry)
        self._call(entry)

    @staticmethod
    def _call(entry):
        try:
            entry[0](*entry[1])
        except Exception as e:      # cleanup goes on whatever failed
            print("cleanup %s: %s" % (entry[0].__name__, e), file=sys.stderr)

    def run(self):
        while True:
            with self._lock:
                if not self._undo:
                    return
                entry = self._undo.pop()
            self._call(entry)

    def _on_signal(self, signum, frame):
        print("signal %d: cleaning up" % signum, file=sys.stderr)
        self.run()
        os._exit(128 + signum)


janitor = Janitor()


def remove_path(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def write_file(path, text, mode=0o644, owner=None):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW,
                 mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    if owner is not None:
        os.chown(path, owner.pw_uid, owner.pw_gid)


def system_file(path, text, mode=0o644):
    """A file under /etc written for this run only; the janitor removes it.
    Refuses to overwrite one that is already there."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                 mode)
    entry = janitor.add(remove_path, path)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return entry


def sudoers_file(name, text):
    """/etc/sudoers.d/NAME for this run, checked by visudo first: a broken
    file there would break sudo for everyone while the run lasts."""
    with tempfile.NamedTemporaryFile("w", prefix="amfa-sudoers-") as tmp:
        tmp.write(text)
        tmp.flush()
        check = subprocess.run(["visudo", "-c", "-q", "-f", tmp.name],
                               capture_output=True, text=True)
    if check.returncode != 0:
        raise RuntimeError("visudo: " + check.stdout + check.stderr)
    return system_file(os.path.join("/etc/sudoers.d", name), text, 0o440)


def temp_dir(prefix):
    d = tempfile.mkdtemp(prefix=prefix)
    os.chmod(d, 0o755)
    janitor.add(remove_path, d)
    return d


# --- processes --------------------------------------------------------------

def _children_map():
    kids = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(name))
    return kids


def descendants(pid):
    """Every process below `pid' (sshd puts each connection in its own
    session, so a process group would miss them)."""
    kids, out, todo = _children_map(), [], [pid]
    while todo:
        for k in kids.get(todo.pop(), []):
            out.append(k)
            todo.append(k)
    return out


def kill_tree(proc, timeout=10):
    """Stop a Popen we started and everything it started, by process id."""
    if proc.poll() is None:
        pids = descendants(proc.pid)
        proc.terminate()
        for p in pids:
            try:
                os.kill(p, signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)
        deadline = time.time() + timeout
        for p in pids:
            while time.time() < deadline:
                try:
                    os.kill(p, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)
            else:
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_banner(port, proc, log, timeout=15):
    """Until sshd answers with its SSH-2.0 banner."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("sshd exited (%d):\n%s" % (proc.returncode,
                                                          read(log)))
        try:
            with socket.create_connection(("127.0.0.1", port), 1) as s:
                s.settimeout(5)
                if s.recv(64).startswith(b"SSH-2.0-"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("sshd did not answer on port %d:\n%s" % (port,
                                                               read(log)))


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


# --- accounts ---------------------------------------------------------------

def _userdel(name):
    r = subprocess.run(["userdel", "--remove", name], capture_output=True,
                       text=True)
    # 12: the home directory could not be removed; the account is gone.
    if r.returncode not in (0, 12):
        print("userdel %s: %s" % (name, r.stderr.strip()), file=sys.stderr)


def make_account(name):
    """A real account (sshd and sudo need one) with a home under /var/tmp
    and no usable password ('*': not locked, so a sshd without PAM lets
    keys in; no password matches it)."""
    try:
        pwd.getpwnam(name)
        raise RuntimeError("account %s exists already (left by a killed "
                           "run? then: userdel --remove %s)" % (name, name))
    except KeyError:
        pass
    subprocess.run(["useradd", "--create-home", "--home-dir",
                    "/var/tmp/amfa-home-" + name, "--shell", "/bin/sh",
                    "--comment", "pam_awsmfa gateway test", name],
                   check=True, capture_output=True)
    janitor.add(_userdel, name)
    subprocess.run(["usermod", "-p", "*", name], check=True,
                   capture_output=True)
    return pwd.getpwnam(name)


class SshKey:
    """An ed25519 key pair made now, kept (root-owned) in `directory'."""

    def __init__(self, directory, name="id_ed25519"):
        self.path = os.path.join(directory, name)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "",
                        "-C", "amfa-test", "-f", self.path],
                       check=True, capture_output=True)
        self.public = read(self.path + ".pub").strip()

    def authorize(self, pw):
        """Install the public key as pw's ~/.ssh/authorized_keys."""
        ssh_dir = os.path.join(pw.pw_dir, ".ssh")
        os.makedirs(ssh_dir, 0o700, exist_ok=True)
        os.chown(ssh_dir, pw.pw_uid, pw.pw_gid)
        write_file(os.path.join(ssh_dir, "authorized_keys"),
                   self.public + "\n", 0o600, owner=pw)


# --- sanitizer builds ---------------------------------------------------------

def sanitizer_runtime(module):
    """The sanitizer runtimes a module of an AddressSanitizer build needs
    (from ldd), or [] for a plain build.  A program not built with ASan can
    load such a module only with the runtime preloaded (LD_PRELOAD): fine
    for a sshd started by root, impossible for a setuid program (sudo)."""
    with open(module, "rb") as f:
        if b"__asan_init" not in f.read():
            return []
    out = subprocess.run(["ldd", module], capture_output=True, text=True,
                         check=True).stdout
    libs = [l.split("=>")[1].split()[0] for l in out.splitlines()
            if "=>" in l and ("libasan" in l or "libubsan" in l)]
    if not libs:
        raise RuntimeError("%s: ASan build, but ldd names no runtime" % module)
    return libs


def main_with_real_sudo(programs):
    """The __main__ of a test that runs the real sudo: skips (77, meson's
    "skipped") when not root or when the module is from an AddressSanitizer
    build (sudo is setuid and cannot load it; the plain build runs the
    test); fails when a built program it needs is missing.  `programs':
    (what, path) pairs, the module first."""
    import unittest
    if os.geteuid() != 0:
        print("SKIP: needs root (real sudo, /etc/pam.d and /etc/sudoers.d)")
        sys.exit(77)
    for what, path in programs:
        if not path or not os.path.exists(path):
            print("missing %s (%r): run through meson test" % (what, path))
            sys.exit(1)
    if sanitizer_runtime(programs[0][1]):
        print("SKIP: sudo is setuid and cannot load a module of an "
              "AddressSanitizer build (the plain build runs this test)")
        sys.exit(77)
    unittest.main(verbosity=2)


def sanitizer_env(module):
    libs = sanitizer_runtime(module)
    if not libs:
        return {}
    # Leak checking stops the world with ptrace, which sshd's seccomp
    # sandbox forbids; memory errors still abort the process that has one.
    return {"LD_PRELOAD": " ".join(libs),
            "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=1",
            "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1"}


# --- sshd -------------------------------------------------------------------

COMMON_CONFIG = [
    "ListenAddress 127.0.0.1",
    "PasswordAuthentication no",
    "PermitRootLogin no",
    "PermitUserEnvironment no",
    "StrictModes yes",
    "PrintMotd no",
    "PrintLastLog no",
    "UseDNS no",
    "LoginGraceTime 30",
    "MaxAuthTries 6",
    "LogLevel VERBOSE",
]


class Sshd:
    """One real sshd on a free loopback port (`port' if that one is free).
    `pam' is the text of its PAM service file, or None for UsePAM no;
    `env' is added to sshd's environment (see sanitizer_env); `wrap' is a
    command line that runs sshd (nsenter into a mount namespace)."""

    def __init__(self, tag, options, pam=None, port=None, env=None,
                 wrap=()):
        os.makedirs("/run/sshd", 0o755, exist_ok=True)  # privilege separation
        self.dir = temp_dir("amfa-sshd-")
        self.service = "amfa-%s-%s" % (tag, TAG)
        self.program = os.path.join(self.dir, self.service)
        os.symlink(SSHD, self.program)
        self.hostkey = os.path.join(self.dir, "host_ed25519")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                        self.hostkey], check=True, capture_output=True)
        self.pam_path = os.path.join("/etc/pam.d", self.service)
        if pam is not None:
            system_file(self.pam_path, pam)
        self.log = os.path.join(self.dir, "sshd.log")
        self.known_hosts_line = None
        self.proc = None
        for attempt in range(5):   # another program may take the free port
            self.port = port if port and attempt == 0 else free_port()
            self.config = os.path.join(self.dir, "sshd_config")
            write_file(self.config, "\n".join(
                ["Port %d" % self.port, "HostKey " + self.hostkey,
                 "PidFile " + os.path.join(self.dir, "sshd.pid"),
                 "UsePAM %s" % ("yes" if pam is not None else "no")]
                + COMMON_CONFIG + list(options)) + "\n")
            check = subprocess.run([self.program, "-t", "-f", self.config],
                                   capture_output=True, text=True)
            if check.returncode != 0:
                raise RuntimeError("sshd -t: " + check.stderr)
            with open(self.log, "w") as log:
                self.proc = subprocess.Popen(
                    list(wrap) + [self.program, "-D", "-e", "-f",
                                  self.config],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                    env=dict(os.environ, **(env or {})))
            self.stop_entry = janitor.add(kill_tree, self.proc)
            try:
                wait_banner(self.port, self.proc, self.log)
                break
            except RuntimeError:
                if "Address already in use" not in read(self.log):
                    raise
                janitor.done(self.stop_entry)
        with open(self.hostkey + ".pub") as f:
            kt, key = f.read().split()[:2]
        self.known_hosts_line = "[127.0.0.1]:%d %s %s" % (self.port, kt, key)

    def stop(self):
        janitor.done(self.stop_entry)

    def log_text(self):
        return read(self.log)


# --- the shipped snippets ---------------------------------------------------

SNIPPET_SSHD = os.path.join(SOURCE_ROOT, "config", "sshd_config.d",
                            "awsmfa-gateway.conf")
SNIPPET_PAM = os.path.join(SOURCE_ROOT, "config", "pam.d", "sshd")
SHIPPED_FORCE_COMMAND = "ForceCommand exec /usr/bin/awsmfa-gateway"


def shipped_sshd_options(force_command):
    """The shipped sshd_config snippet, its ForceCommand pointed at the
    built gateway.  The snippet must name the installed gateway."""
    text = read(SNIPPET_SSHD)
    if SHIPPED_FORCE_COMMAND not in text:
        raise RuntimeError("%s: no %r" % (SNIPPET_SSHD, SHIPPED_FORCE_COMMAND))
    lines = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line == SHIPPED_FORCE_COMMAND:
            line = "ForceCommand exec " + force_command
        lines.append(line)
    return lines


def shipped_pam_stack(conf, module=None):
    """The shipped /etc/pam.d/sshd snippet (auth and session lines) pointed
    at `module' (default: the built one) and `conf', with Debian's account
    and session basics."""
    auth, session = [], []
    for line in read(SNIPPET_PAM).splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        line = line.replace("pam_awsmfa.so", "%s config=%s" %
                            (module or MODULE, conf))
        (auth if line.startswith("auth") else session).append(line)
    if not auth:
        raise RuntimeError(SNIPPET_PAM + ": no auth line")
    return ("#%PAM-1.0\n" + "\n".join(auth) + "\n"
            "account required pam_unix.so\n"
            "session required pam_unix.so\n" +
            "".join(l + "\n" for l in session))


# --- ssh client -------------------------------------------------------------

class Client:
    """The real ssh/scp, run as root with a key file and a known_hosts that
    holds exactly the test sshds' host keys (strict checking)."""

    def __init__(self, key, sshds):
        self.key = key
        self.dir = os.path.dirname(key.path)
        self.known_hosts = os.path.join(self.dir, "known_hosts")
        write_file(self.known_hosts,
                   "".join(s.known_hosts_line + "\n" for s in sshds), 0o600)
        self.env = {"PATH": "/usr/bin:/bin", "HOME": self.dir,
                    "LANG": "C.UTF-8", "TERM": "dumb"}

    def options(self):
        return ["-F", "/dev/null", "-i", self.key.path,
                "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
                "-o", "UserKnownHostsFile=" + self.known_hosts,
                "-o", "GlobalKnownHostsFile=/dev/null",
                "-o", "StrictHostKeyChecking=yes",
                "-o", "PreferredAuthentications=publickey,"
                "keyboard-interactive",
                "-o", "BatchMode=no", "-o", "ConnectTimeout=10",
                "-o", "ServerAliveInterval=10", "-o", "LogLevel=ERROR"]

    def ssh_args(self, sshd, user, command=(), tty=False):
        return ([SSH] + self.options() + (["-tt"] if tty else ["-T"]) +
                ["-p", str(sshd.port), "%s@127.0.0.1" % user] + list(command))

    def proxy_command(self, bastion, user):
        """The ProxyCommand of the README: ssh bastion connect %h %p."""
        return " ".join(self.ssh_args(bastion, user, ["connect", "%h", "%p"]))

    def spawn(self, args, timeout=30):
        child = pexpect.spawn(args[0], args[1:], env=self.env,
                              encoding="utf-8", codec_errors="replace",
                              timeout=timeout)
        janitor_entry = janitor.add(_close_child, child)
        child._amfa_janitor = janitor_entry
        return child

    def shell_spawn(self, command, timeout=120):
        """A shell command line under the pty: for redirections (the ssh
        clients read the code prompt from /dev/tty, not stdin)."""
        return self.spawn(["/bin/sh", "-c", command], timeout=timeout)


def _close_child(child):
    if child.isalive():
        child.terminate(force=True)
    child.close(force=True)


def finish(child, timeout=60):
    """Wait for the end; (exit status, everything printed)."""
    child.expect(pexpect.EOF, timeout=timeout)
    out = child.before
    child.close()
    janitor.done(child._amfa_janitor)
    status = child.exitstatus if child.exitstatus is not None else \
        128 + (child.signalstatus or 0)
    return status, out


def answer(child, codes, prompt=CODE_PROMPT, timeout=30):
    """Answer the keyboard-interactive prompts with `codes' in turn.
    Returns what was printed before the last prompt."""
    before = ""
    for code in codes:
        child.expect_exact(prompt, timeout=timeout)
        before += child.before
        child.sendline(code)
    return before


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def random_file(path, size):
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 1 << 20)
            f.write(os.urandom(n))
            left -= n
    os.chmod(path, 0o644)
