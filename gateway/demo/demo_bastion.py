#!/usr/bin/python3
"""The demo bastion, started by gateway/demo/run once the packages are there and
pam_awsmfa and awsmfa-gateway are built (and installed): everything on
127.0.0.1, everything removed on Ctrl-C.

- a local STS endpoint (tests/fixtures/sts_server.py) that plays AWS, with
  an IAM user `demo' that has an access key and a virtual MFA device with a
  new seed;
- a system account `demo', enrolled with that seed (verify = local+sts: the
  code is checked here, then STS gives the session AWS credentials), with an
  ssh key made now;
- the bastion: the real sshd with the shipped sshd_config snippet and the
  shipped PAM stack (its own service, /etc/pam.d/amfa-demo-bastion-PID),
  awsmfa-gateway as ForceCommand, a policy that lets `demo' have a shell and
  reach the internal target;
- an internal target: a second sshd (keys only) that the gateway's
  `connect' reaches, for ProxyCommand;
- sudo step-up: `sudo id' in the bastion shell asks for a fresh code;
- installed (--installed, in gateway/demo/run's mount namespace): the
  gateway and the recorder as the package sets them up (set-group-ID
  awsmfa-audit, set-user-ID awsmfa-rec), /etc/awsmfa/gateway.conf, the
  audit log /var/log/awsmfa-gateway.log, and every shell recorded in
  /var/log/awsmfa-gateway/recordings: after each session the line that
  replays its recording is printed.

--check (with an account of its own, so that it can run beside a demo or
another check) starts it all, logs in once with a code from oathtool
(pexpect drives the real ssh), checks the AWS credentials in the shell,
reaches the target through the gateway, stops everything and exits 0 on
success.  The test suite runs it (tests/gateway/meson.build)."""

import argparse
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time

TOP = os.path.normpath(os.path.join(os.path.dirname(
    os.path.abspath(__file__)), "..", ".."))
for sub in ("tests/gateway", "tests/pam", "tests/fixtures"):
    sys.path.insert(0, os.path.join(TOP, sub))

import gwlib  # noqa: E402
from gwlib import (Client, Sshd, SshKey, answer, finish, janitor,  # noqa
                   make_account, read, sanitizer_env, shipped_pam_stack,
                   shipped_sshd_options, sudoers_file, system_file,
                   write_file)
from sts_process import IamUser, StsServer  # noqa: E402

USER = "demo"
# --check runs beside other test runs (and maybe a demo): its own name.
CHECK_USER = "amfa-dchk-%d" % (os.getpid() % 100000)
BASTION_PORT = 2222
TARGET_PORT = 2223
ISSUER = "pam_awsmfa"
# The package's layout (awsmfa-gateway.postinst, config/gateway.conf).
PKG_GATEWAY_CONF = "/etc/awsmfa/gateway.conf"
PKG_AUDIT = "/var/log/awsmfa-gateway.log"
PKG_RECORDINGS = "/var/log/awsmfa-gateway/recordings"


def say(*lines):
    print("\n".join(lines), flush=True)


def oathtool(seed, at=None):
    at = int(time.time() if at is None else at)
    return subprocess.run(["oathtool", "--totp", "-N", "@%d" % at, "-b",
                           seed], check=True, capture_output=True,
                          text=True).stdout.strip()


def installed_module():
    """The installed pam_awsmfa.so (libpam's module directory)."""
    libdir = subprocess.run(["pkg-config", "--variable=libdir", "pam"],
                            capture_output=True, text=True).stdout.strip()
    for d in (os.path.join(libdir, "security") if libdir else "",
              "/lib/x86_64-linux-gnu/security", "/usr/lib/security"):
        if d and os.path.exists(os.path.join(d, "pam_awsmfa.so")):
            return os.path.join(d, "pam_awsmfa.so")
    raise SystemExit("demo: pam_awsmfa.so is not installed")


class Demo:
    def __init__(self, module, gateway, user, fixed_ports, package=False):
        self.module, self.gateway, self.user = module, gateway, user
        self.package = package
        # Recordings there before the demo (a package installed outside)
        # are not announced.
        self.replayed = set()
        if package and os.path.isdir(PKG_RECORDINGS):
            self.replayed = set(os.listdir(PKG_RECORDINGS))
        self.dir = gwlib.temp_dir("awsmfa-demo-")
        self.iam = IamUser(self.user)
        self.sts = StsServer([self.iam])
        janitor.add(self.sts.stop)
        self.account = make_account(self.user)
        self.key = SshKey(self.dir)
        self.key.authorize(self.account)
        self.write_awsmfa_conf()
        self.target = Sshd("demo-target", [
            "PubkeyAuthentication yes", "KbdInteractiveAuthentication no",
            "AuthenticationMethods publickey",
            "Subsystem sftp internal-sftp", "AllowUsers " + self.user],
            port=TARGET_PORT if fixed_ports else None)
        self.write_gateway_conf()
        # A module of an AddressSanitizer build (the test suite's second
        # build) needs the sanitizer runtime preloaded into sshd.
        env = sanitizer_env(module or installed_module())
        module = "pam_awsmfa.so" if module is None else module
        # Installed set-group-ID, the gateway reads only its own config.
        command = self.gateway if self.package else "%s -f %s" % (
            self.gateway, self.gwconf)
        self.bastion = Sshd("demo-bastion", shipped_sshd_options(command) +
            ["AllowUsers " + self.user],
            pam=shipped_pam_stack(self.conf, module),
            port=BASTION_PORT if fixed_ports else None, env=env)
        self.setup_sudo(module)
        self.client = Client(self.key, [self.bastion, self.target])
        self.write_ssh_config()

    def write_awsmfa_conf(self):
        etc = os.path.join(self.dir, "etc")
        os.makedirs(os.path.join(etc, "users.d"), 0o700)
        self.conf = os.path.join(etc, "awsmfa.conf")
        write_file(self.conf,
                   "# the demo's awsmfa.conf (see awsmfa.conf(5))\n"
                   "users_dir = %s/users.d\n"
                   "state_dir = %s/state\n"
                   "store_dir = %s/run\n"
                   "verify = local+sts\n"
                   "sts_endpoint = %s\n"
                   "lockout_attempts = 5\n"
                   "lockout_seconds = 60\n"
                   % (etc, self.dir, self.dir, self.sts.url), 0o644)
        write_file(os.path.join(etc, "users.d", self.user + ".conf"),
                   "iam_user = %s\nmfa_serial = %s\ntotp_secret = %s\n"
                   "access_key_id = %s\nsecret_access_key = %s\n"
                   % (self.iam.name, self.iam.serial, self.iam.seed,
                      self.iam.key_id, self.iam.secret), 0o600)

    def write_gateway_conf(self):
        # The audit log is appended to by the gateway running as the user:
        # in production the gateway is setgid to an audit group; here the
        # log belongs to the demo user's group.
        recording = ""
        if self.package:
            # As the package installs it (gateway/demo/run made the log
            # root:awsmfa-audit 0620 and ran the postinst), in the demo's
            # mount namespace.
            self.audit, self.gwconf = PKG_AUDIT, PKG_GATEWAY_CONF
            recording = ("record_all_shells = yes\nrecording_dir = %s\n"
                         % PKG_RECORDINGS)
        else:
            self.audit = os.path.join(self.dir, "audit.log")
            write_file(self.audit, "", 0o620)
            os.chown(self.audit, 0, self.account.pw_gid)
            self.gwconf = os.path.join(self.dir, "gateway.conf")
        write_file(self.gwconf,
                   "# the demo's gateway.conf (see awsmfa-gateway(8))\n"
                   "awsmfa_config = %s\n"
                   "audit_log = %s\n"
                   "%s"
                   "allow users %s shell\n"
                   "allow users %s to 127.0.0.1,localhost ports %d\n"
                   % (self.conf, self.audit, recording, self.user, self.user,
                      self.target.port),
                   0o644)
        check = subprocess.run([self.gateway, "-t", "-f", self.gwconf],
                               capture_output=True, text=True)
        if check.returncode != 0:
            raise SystemExit("demo: gateway.conf: " + check.stderr)

    def setup_sudo(self, module):
        """sudo step-up for the demo user: its own PAM service (the shipped
        sudo snippet) through sudoers' pam_service; /etc/pam.d/sudo stays
        as it is."""
        service = "awsmfa-demo-sudo-%d" % os.getpid()
        auth = [l.strip().replace("pam_awsmfa.so", "%s config=%s" %
                                  (module, self.conf))
                for l in read(os.path.join(TOP, "config", "pam.d", "sudo"))
                .splitlines() if l.strip() and not l.startswith("#")]
        system_file(os.path.join("/etc/pam.d", service),
                    "#%PAM-1.0\n" + "\n".join(auth) +
                    "\n@include common-account\n"
                    "@include common-session-noninteractive\n")
        text = ("Defaults:%s pam_service=%s, pam_login_service=%s\n"
                "Defaults:%s timestamp_timeout=0, !lecture\n"
                "%s ALL=(root) /usr/bin/id\n"
                % (self.user, service, service, self.user, self.user))
        sudoers_file("awsmfa-demo-%d" % os.getpid(), text)

    def write_ssh_config(self):
        self.ssh_config = os.path.join(self.dir, "ssh_config")
        common = ("    HostName 127.0.0.1\n    User %s\n"
                  "    IdentityFile %s\n    IdentitiesOnly yes\n"
                  "    UserKnownHostsFile %s\n    StrictHostKeyChecking yes\n"
                  % (self.user, self.key.path, self.client.known_hosts))
        write_file(self.ssh_config,
                   "Host bastion\n    Port %d\n%s\n"
                   "Host internal\n    Port %d\n%s"
                   "    ProxyCommand ssh -F %s bastion connect %%h %%p\n"
                   % (self.bastion.port, common, self.target.port, common,
                      self.ssh_config), 0o644)

    def uri(self):
        return ("otpauth://totp/%s:%s?secret=%s&issuer=%s&algorithm=SHA1"
                "&digits=6&period=30" % (ISSUER, self.user, self.iam.seed,
                                         ISSUER))

    def explain(self):
        direct = " ".join(["ssh", "-i", self.key.path, "-o",
                           "UserKnownHostsFile=" + self.client.known_hosts,
                           "-p", str(self.bastion.port),
                           self.user + "@127.0.0.1"])
        say("", "The demo bastion runs on 127.0.0.1:",
            "  bastion sshd    port %d  (key + code, then awsmfa-gateway)"
            % self.bastion.port,
            "  internal target port %d  (keys only; reachable through the "
            "gateway)" % self.target.port,
            "  local STS       %s  (plays AWS for IAM user '%s')"
            % (self.sts.url, self.iam.name), "",
            "Account '%s' is enrolled with a new seed.  Add it to an "
            "authenticator app:" % self.user, "  " + self.uri())
        qr = subprocess.run(["qrencode", "-t", "ANSIUTF8", self.uri()],
                            capture_output=True, text=True)
        if qr.returncode == 0:
            print(qr.stdout, end="", flush=True)
        say("or let oathtool make the codes:  oathtool --totp -b %s"
            % self.iam.seed, "",
            "Log in to the bastion (ssh key %s, then the code):" %
            self.key.path,
            "  ssh -F %s bastion" % self.ssh_config,
            "  # the same without the config file:",
            "  " + direct,
            "In the shell: env | grep AWS_   and   aws sts "
            "get-caller-identity --endpoint-url %s" % self.sts.url,
            "              sudo id   (asks for a fresh code: step-up)", "",
            "Reach the internal target through the gateway (ProxyCommand "
            "ssh bastion connect %h %p):",
            "  ssh -F %s internal" % self.ssh_config,
            "  # the same without the config file:",
            "  ssh -i %s -o UserKnownHostsFile=%s -o ProxyCommand='%s "
            "connect %%h %%p' -p %d %s@127.0.0.1"
            % (self.key.path, self.client.known_hosts, direct,
               self.target.port, self.user), "",
            "Each code works once: wait for the next one between logins.",
            ("Shells are recorded (awsmfa-recorder, as the package installs "
             "it); after each session the line that replays it is printed."
             if self.package else ""),
            "Audit log: %s    sshd log: %s" % (self.audit,
                                                 self.bastion.log),
            "Ctrl-C stops the demo and removes the account, the keys, the "
            "PAM and sudoers files and %s." % self.dir, "")

    def newest_recording(self):
        """The newest finished recording not announced yet, or None.  A
        recording is finished when its recorder let go of its lock."""
        if not self.package:
            return None
        try:
            names = [n for n in os.listdir(PKG_RECORDINGS)
                     if n.endswith(".cast") and n not in self.replayed]
        except OSError:
            return None
        done = []
        for name in names:
            path = os.path.join(PKG_RECORDINGS, name)
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                done.append((os.fstat(fd).st_mtime, name))
            except OSError:
                pass
            finally:
                os.close(fd)
        if not done:
            return None
        self.replayed.update(n for _, n in done)
        return os.path.join(PKG_RECORDINGS, max(done)[1])

    def announce_recordings(self):
        path = self.newest_recording()
        if path is not None:
            # The recording is in this demo's mount namespace (root reads
            # it: it is the recorder's, 0440).
            say("", "Replay the newest recording (as root):",
                "  nsenter -t %d -m asciinema play %s" % (os.getpid(), path),
                "")

    def check(self):
        """One full login with a code from oathtool, the credentials in the
        shell, then the internal target through the gateway."""
        c = self.client
        say("check: logging in to the bastion with a code from oathtool")
        child = c.spawn([gwlib.SSH, "-F", self.ssh_config, "-tt", "-o",
                         "NumberOfPasswordPrompts=1", "bastion"], timeout=60)
        answer(child, [oathtool(self.iam.seed)])
        child.sendline("echo @@S$((6*7))@@; env | grep -c '^AWS_SESSION_TOKEN="
                       "'; AWS_PAGER= %s sts get-caller-identity "
                       "--endpoint-url %s --query Arn --output text; "
                       "echo @@E$((6*7))@@" % ("/usr/bin/aws", self.sts.url))
        child.expect_exact("@@S42@@", timeout=30)
        child.expect_exact("@@E42@@", timeout=90)
        out = child.before
        child.sendline("exit")
        status, rest = finish(child)
        lines = [l.strip() for l in out.splitlines() if l.strip()]
        if status != 0 or lines[:2] != ["1", self.iam.arn]:
            say("check: FAILED: the bastion shell said %r (status %d)"
                % (lines, status))
            return False
        say("check: shell with AWS credentials: ok (%s)" % self.iam.arn)
        # A code is good once: the next login needs the next step's code.
        left = 30 - time.time() % 30
        say("check: waiting %.0f s for the next code" % left)
        time.sleep(left + 0.5)
        say("check: ssh internal (ProxyCommand ssh bastion connect %h %p)")
        child = c.spawn([gwlib.SSH, "-F", self.ssh_config, "-T", "-o",
                         "NumberOfPasswordPrompts=1", "internal",
                         "echo", "on-target-$((6*7))", "$SSH_CONNECTION"],
                        timeout=60)
        answer(child, [oathtool(self.iam.seed)])
        status, out = finish(child)
        if status != 0 or "on-target-42 127.0.0.1" not in out:
            say("check: FAILED: the target said %r (status %d)" %
                (out, status))
            return False
        say("check: internal target through the gateway: ok")
        # The gateway writes relay_end once the connection has wound down,
        # which can be a moment after the client's ssh has exited.
        deadline = time.time() + 15
        while '"event":"relay_end"' not in read(self.audit).replace(" ", "") \
                and time.time() < deadline:
            time.sleep(0.1)
        if '"event":"relay_end"' not in read(self.audit).replace(" ", ""):
            say("check: FAILED: no relay_end in the audit log:",
                read(self.audit))
            return False
        say("check: audit log: ok")
        return True


def main():
    ap = argparse.ArgumentParser(prog="gateway/demo/run")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--installed", action="store_true",
                    help="use the installed module and gateway")
    args = ap.parse_args()
    if args.installed:
        module = None                       # "pam_awsmfa.so", as installed
        installed_module()
        gateway = shutil.which("awsmfa-gateway",
                               path="/usr/bin:/usr/local/bin")
        if gateway is None:
            raise SystemExit("demo: awsmfa-gateway is not installed")
    else:
        module = os.path.join(args.build_dir, "pam_awsmfa", "pam_awsmfa.so")
        gateway = os.path.join(args.build_dir, "gateway", "awsmfa-gateway")
        for path in (module, gateway):
            if not os.path.exists(path):
                raise SystemExit("demo: %s is not built" % path)
    # Until the demo runs, a signal cleans up and exits (gwlib's janitor).
    stop = []
    try:
        try:
            demo = Demo(module, gateway, CHECK_USER if args.check else USER,
                        fixed_ports=not args.check, package=args.installed)
        except (RuntimeError, OSError, subprocess.CalledProcessError) as e:
            say("demo: cannot start: %s" % e)
            return 1
        if args.check:
            ok = demo.check()
            say("check: %s" % ("passed" if ok else "FAILED"))
            return 0 if ok else 1
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, lambda s, f: stop.append(s))
        demo.explain()
        while not stop:
            for what, sshd in (("bastion", demo.bastion),
                               ("target", demo.target)):
                if sshd.proc.poll() is not None:
                    say("demo: the %s sshd exited:" % what, sshd.log_text())
                    return 1
            demo.announce_recordings()
            time.sleep(0.5)
        return 0
    finally:
        janitor.run()
        say("demo stopped: what it made (processes, the account, the PAM "
            "and sudoers files, the temporary directories) is removed%s" %
            ("; what it installed goes with its mount namespace"
             if args.installed else ""))


if __name__ == "__main__":
    if os.geteuid() != 0:
        raise SystemExit("demo: run as root")
    sys.exit(main())
