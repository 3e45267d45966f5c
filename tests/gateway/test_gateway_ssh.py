"""The SSH MFA gateway end to end, with real programs on loopback only:

- a bastion sshd (the real OpenSSH server) whose configuration is the
  shipped config/sshd_config.d/awsmfa-gateway.conf and whose PAM stack is
  the shipped config/pam.d/sshd, both pointed at the built module, the built
  gateway and throwaway configuration files;
- an internal target sshd on another port, reachable only through the
  gateway's `connect HOST PORT`, and a raw TCP target that records the bytes
  it is sent;
- a sshd that skipped MFA (publickey only) but has the same ForceCommand;
- the local STS endpoint (verify = sts): AWS decides each code;
- the real ssh and scp clients under a pseudo-terminal (pexpect), codes from
  oathtool, the real AWS CLI inside the session.

Each test has its own account and IAM user: a TOTP code is good once per
30-second step and device, and giving each test its own device lets the
tests run without waiting for the next step."""

import hashlib
import grp
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "pam"))

from amfa_testlib import Tree, totp, wait_fresh_step      # noqa: E402
from gwlib import (GATEWAY, MODULE, SCP, SOURCE_ROOT, SSH, TAG,  # noqa
                   Client, Sshd, SshKey, answer, finish, janitor,
                   make_account, random_file, read, sanitizer_env,
                   sanitizer_runtime,
                   sha256_file,
                   shipped_pam_stack, shipped_sshd_options, sudoers_file,
                   system_file,
                   temp_dir, write_file)
from sts_process import IamUser, StsServer                  # noqa: E402
from sweep import sweep                                     # noqa: E402

AWS_CLI = "/usr/bin/aws"
COPY_SIZE = 20 * 1024 * 1024
AWS_NAMES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
             "AWS_SESSION_TOKEN", "AWS_CREDENTIAL_EXPIRATION")
ROLES = ("shell", "wrong", "replay", "locked", "copy", "denied", "nobody",
         "skip", "raw", "env", "noshell", "command", "forward", "stepup",
         "dots1", "dots2", "dots3", "lookup", "limit", "flood", "bystander",
         "stall")
DOTS = ("dots1", "dots2", "dots3")


class RawTarget:
    """A TCP target that records what it receives: after the client's EOF
    (half-close through the relay) it answers with the SHA-256 and length
    of what it got, then closes."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.received = []
        self.stopping = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()
        janitor.add(self.stop)

    def serve(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(60)
                data = bytearray()
                try:
                    while True:
                        b = conn.recv(65536)
                        if not b:
                            break
                        data += b
                    conn.sendall(b"GOT %d %s\n" % (
                        len(data), hashlib.sha256(data).hexdigest().encode()))
                except OSError:
                    pass
                self.received.append(bytes(data))

    def stop(self):
        # The thread sees `stopping' within its accept timeout; only then
        # is the socket closed: closed under a thread still in accept(2),
        # its number could be reused by the next test's listener and the
        # old thread take that test's connections (as fleetlib's relay
        # once did).
        self.stopping = True
        self.thread.join(5)
        self.sock.close()


class Person:
    """A test account with an ssh key, enrolled with its own IAM user."""

    def __init__(self, role, groups):
        self.name = "amfa-g%s-%s" % (role[:6], TAG[-5:])
        self.pw = make_account(self.name)
        subprocess.run(["usermod", "-a", "-G", ",".join(groups), self.name],
                       check=True, capture_output=True)
        self.iam = IamUser(self.name.replace("-", ""))
        self.key = SshKey(temp_dir("amfa-key-"))
        self.key.authorize(self.pw)

    def code(self, delta=0):
        c = totp(self.iam.seed)
        return "%06d" % ((int(c) + delta) % 10**6) if delta else c


def make_group(name):
    subprocess.run(["groupadd", name], check=True, capture_output=True)
    janitor.add(subprocess.run, ["groupdel", name])


def setUpModule():
    global TREE, STS, PEOPLE, BASTION, TARGET, NOMFA, RAW, AUDIT, GWCONF
    global DENY_NAME_LINE
    # Members of `group' may connect to the targets; everyone is in
    # `audit_group', which may append to the audit log (in production the
    # gateway is setgid to such a group).  `deny_group' is denied the raw
    # target; nobody is in it, but "lookup"'s primary group is deleted, so
    # the gateway cannot know whether they are.
    group, audit_group = "amfa-gw-" + TAG, "amfa-gwa-" + TAG
    deny_group = "amfa-gwd-" + TAG
    make_group(group)
    make_group(audit_group)
    make_group(deny_group)
    PEOPLE = {r: Person(r, [audit_group] +
                        ([group] if r in ("copy", "denied", "raw", "env",
                                          "skip", "replay", "limit") + DOTS
                         else []))
              for r in ROLES}
    # "lookup"'s primary group: a gid above GID_MAX (60000), which
    # groupadd never hands out by itself, whose group is then deleted, so
    # that no group made meanwhile (by tests running alongside) takes it.
    gid = 61000 + int(TAG) % 4000
    while True:
        try:
            grp.getgrgid(gid)
            gid += 1
        except KeyError:
            break
    gone = "amfa-gwl-" + TAG
    subprocess.run(["groupadd", "-g", str(gid), gone], check=True,
                   capture_output=True)
    subprocess.run(["usermod", "-g", gone, PEOPLE["lookup"].name],
                   check=True, capture_output=True)
    # No longer its primary group, the account's own group would outlive
    # userdel: the janitor removes it.
    janitor.add(subprocess.run, ["groupdel", PEOPLE["lookup"].name])
    subprocess.run(["groupdel", "--force", gone], check=True,
                   capture_output=True)
    STS = StsServer([p.iam for p in PEOPLE.values()])
    janitor.add(STS.stop)
    TREE = Tree()
    janitor.add(TREE.cleanup)
    TREE.write_config({"users_dir": TREE.users, "state_dir": TREE.state,
                       "verify": "sts", "sts_endpoint": STS.url,
                       "sts_timeout": 10, "lockout_attempts": 2,
                       "lockout_seconds": 300,
                       "store_dir": os.path.join(TREE.root, "run")})
    for p in PEOPLE.values():
        TREE.enroll(p.name, seed=p.iam.seed, iam_user=p.iam.name,
                    extra="access_key_id = %s\nsecret_access_key = %s\n"
                    % (p.iam.key_id, p.iam.secret))
    RAW = RawTarget()
    TARGET = Sshd("target", ["PubkeyAuthentication yes",
                             "KbdInteractiveAuthentication no",
                             "AuthenticationMethods publickey",
                             "Subsystem sftp internal-sftp",
                             "AllowUsers amfa-*"])
    gwdir = temp_dir("amfa-gw-")
    AUDIT = os.path.join(gwdir, "audit.log")
    write_file(AUDIT, "", 0o620)
    os.chown(AUDIT, 0, grp.getgrnam(audit_group).gr_gid)
    GWCONF = os.path.join(gwdir, "gateway.conf")
    write_file(GWCONF,
               "# written by test_gateway_ssh.py\n"
               "audit_log = %s\n"
               "awsmfa_config = %s\n"
               "allow users %s, %s shell\n"
               "deny users * to localhost ports %d\n"
               "deny groups %s to 127.0.0.1 ports %d\n"
               "allow users %s to 127.0.0.1 ports %d\n"
               "allow groups %s to 127.0.0.1 ports %d,%d\n"
               % (AUDIT, TREE.conf, ", ".join(
                   PEOPLE[r].name for r in ("shell", "limit", "flood",
                                            "bystander", "stall")),
                  PEOPLE["stepup"].name, RAW.port, deny_group, RAW.port,
                  PEOPLE["lookup"].name, RAW.port, group,
                  TARGET.port, RAW.port), 0o644)
    DENY_NAME_LINE = 5
    check = subprocess.run([GATEWAY, "-t", "-f", GWCONF],
                           capture_output=True, text=True)
    if check.returncode != 0:
        raise RuntimeError("gateway -t: " + check.stderr)
    force = "%s -f %s" % (GATEWAY, GWCONF)
    pam = shipped_pam_stack(TREE.conf)
    BASTION = Sshd("bastion", shipped_sshd_options(force) +
                   ["AllowUsers amfa-*"], pam=pam, env=sanitizer_env(MODULE))
    # sudo step-up (the shipped snippet with grace) for the stepup user.
    service = "amfa-gwsudo-" + TAG
    sudo_auth = [l.replace("pam_awsmfa.so", "%s config=%s grace=5" %
                           (MODULE, TREE.conf))
                 for l in read(os.path.join(SOURCE_ROOT, "config", "pam.d",
                                            "sudo")).splitlines()
                 if l.strip() and not l.startswith("#")]
    system_file("/etc/pam.d/" + service, "#%PAM-1.0\n" +
                "\n".join(sudo_auth) + "\n@include common-account\n"
                "@include common-session-noninteractive\n")
    shell_user = PEOPLE["stepup"].name
    sudoers_file("amfa-gw-" + TAG,
                 "Defaults:%s pam_service=%s, timestamp_timeout=0\n"
                 "%s ALL=(root) /usr/bin/id\n" % (shell_user, service,
                                                    shell_user))
    NOMFA = Sshd("nomfa", ["PubkeyAuthentication yes",
                           "KbdInteractiveAuthentication no",
                           "AuthenticationMethods publickey",
                           "ForceCommand " + force, "DisableForwarding yes",
                           "AllowUsers amfa-*"], pam=pam,
                 env=sanitizer_env(MODULE))


def tearDownModule():
    janitor.run()


def audit_records():
    out = []
    for line in read(AUDIT).splitlines():
        out.append(json.loads(line))
    return out


def append_slack():
    """AMFA_APPEND_SLACK, read from the header that defines it: the room
    beyond a record's own length that the file size limit and the free
    space must leave before the gateway writes the record."""
    for root, dirs, files in os.walk(SOURCE_ROOT):
        dirs[:] = [d for d in dirs if not d.startswith((".", "build"))]
        for name in files:
            if not name.endswith(".h"):
                continue
            m = re.search(r"^#define AMFA_APPEND_SLACK\s+\(?([0-9]+)"
                          r"(?:\s*\*\s*([0-9]+))?\)?\s*$",
                          read(os.path.join(root, name)), re.M)
            if m:
                return int(m.group(1)) * int(m.group(2) or 1)
    raise RuntimeError("AMFA_APPEND_SLACK not found under " + SOURCE_ROOT)


class StalledTarget:
    """A listening socket whose accept queue is full (backlog 0, one
    connection queued): the kernel drops a new connection's SYN, so a
    client stays in connect(2), retrying, until release() accepts the
    queued one; its next SYN (one second after the first, then two, four,
    ...) gets through."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0)
        self.port = self.sock.getsockname()[1]
        self.filler = socket.create_connection(("127.0.0.1", self.port))
        janitor.add(self.close)

    def connecting(self, timeout=60):
        """Wait until a connection to the target is in SYN-SENT (the client
        is inside connect); whether one was."""
        hexport = ":%04X" % self.port
        deadline = time.time() + timeout
        while time.time() < deadline:
            for line in read("/proc/net/tcp").splitlines()[1:]:
                f = line.split()
                if f[2].endswith(hexport) and f[3] == "02":
                    return True
            time.sleep(0.05)
        return False

    def release(self):
        conn, _ = self.sock.accept()
        conn.close()
        self.filler.close()

    def take(self, timeout=60):
        """Accept the next connection and read it to its end: the bytes."""
        self.sock.settimeout(timeout)
        conn, _ = self.sock.accept()
        data = bytearray()
        with conn:
            conn.settimeout(timeout)
            while True:
                b = conn.recv(65536)
                if not b:
                    return bytes(data)
                data += b

    def close(self):
        self.filler.close()
        self.sock.close()


class Gateway(unittest.TestCase):
    def setUp(self):
        self.addCleanup(self.logs_on_failure)
        wait_fresh_step(margin=8)

    def logs_on_failure(self):
        """The servers' side of a failed test, for the test log."""
        result = self._outcome.result
        if any(t is self for t, _ in result.failures + result.errors):
            for what, text in (("bastion sshd", BASTION.log_text()),
                               ("target sshd", TARGET.log_text()),
                               ("no-MFA sshd", NOMFA.log_text()),
                               ("STS", STS.server_log()),
                               ("audit", read(AUDIT))):
                print("--- %s (last lines)\n%s" % (
                    what, "\n".join(text.splitlines()[-25:])),
                    file=sys.stderr)

    def client(self, role):
        p = PEOPLE[role]
        return p, Client(p.key, [BASTION, TARGET, NOMFA])

    def ssh(self, role, command=(), tty=False, sshd=None, prompts=1):
        """The ssh command line to the bastion (or `sshd'); at most
        `prompts' codes are tried."""
        p, c = self.client(role)
        args = c.ssh_args(sshd or BASTION, p.name, command, tty=tty)
        args[1:1] = ["-o", "NumberOfPasswordPrompts=%d" % prompts]
        return c, args

    def login(self, role, codes, command=(), tty=False):
        """ssh to the bastion, answering the code prompt(s); the child."""
        c, args = self.ssh(role, command, tty, prompts=len(codes))
        child = c.spawn(args)
        answer(child, codes)
        return child

    def relay(self, role, code, port, stdin="/dev/null", out="/dev/null"):
        """`ssh bastion connect 127.0.0.1 PORT' with stdin and stdout
        redirected (the code prompt comes on the terminal); the child."""
        c, args = self.ssh(role, ["connect", "127.0.0.1", str(port)])
        child = c.shell_spawn("exec %s < %s > %s" % (" ".join(args), stdin,
                                                     out))
        answer(child, [code])
        return child

    def shell(self, child, command, timeout=60):
        """Run `command' in the interactive shell; its output."""
        child.sendline("echo @@S$((6*7))@@; %s; echo @@E$((6*7))@@" %
                       command)
        # The terminal echoes the command line (where the markers are not
        # yet expanded), so what lies between the expanded ones is output.
        child.expect_exact("@@S42@@", timeout=30)
        child.expect_exact("@@E42@@", timeout=timeout)
        return child.before

    def audit(self, role, event=None, result=None):
        name = PEOPLE[role].name
        return [r for r in audit_records() if r.get("user") == name and
                (event is None or r.get("event") == event) and
                (result is None or r.get("result") == result)]

    def wait_audit(self, role, event, result=None, timeout=15):
        """The records once there are any: the gateway writes relay_end
        after the client's ssh has exited (ssh hangs up its ProxyCommand and
        does not wait), so a test must not look at once."""
        deadline = time.time() + timeout
        while True:
            found = self.audit(role, event, result)
            if found or time.time() > deadline:
                return found
            time.sleep(0.1)

    def assertRefusedAtTheDoor(self, status, out):
        self.assertEqual(status, 255, out)
        self.assertIn("Permission denied", out)
        self.assertNotIn("awsmfa-gateway", out)

    def assertGatewayRefused(self, status, out, message):
        self.assertEqual(status, 1, out)
        self.assertIn("awsmfa-gateway: " + message, out)

    # -- MFA at the door ----------------------------------------------------

    def test_key_and_code_get_a_shell_with_aws_credentials(self):
        p = PEOPLE["shell"]
        child = self.login("shell", [p.code()], tty=True)
        env = self.shell(child, "env")
        found = dict(l.split("=", 1) for l in env.replace("\r", "")
                     .splitlines() if "=" in l)
        for name in AWS_NAMES:
            self.assertIn(name, found, env)
        self.assertRegex(found["AWS_ACCESS_KEY_ID"], r"^ASIA[A-Z0-9]{16}$")
        self.assertEqual(found.get("USER"), p.name)
        out = self.shell(child, "AWS_PAGER= AWS_MAX_ATTEMPTS=1 %s sts "
                         "get-caller-identity --endpoint-url %s --region "
                         "us-east-1 --output json" % (AWS_CLI, STS.url),
                         timeout=90)
        doc = json.loads(out[out.index("{"):out.rindex("}") + 1])
        self.assertEqual(doc["Arn"], p.iam.arn)
        # The gateway run by hand inside this MFA connection, with an
        # SSH_CONNECTION of the user's choosing: the record is verified
        # (the marker is this connection's), and its source is what sshd
        # put in PAM_RHOST, not what the user claimed.
        self.shell(child, "SSH_CONNECTION='203.0.113.9 4444 127.0.0.1 22' "
                   "SSH_ORIGINAL_COMMAND='connect 192.0.2.1 22' %s -f %s "
                   "</dev/null" % (GATEWAY, GWCONF))
        forged = [r for r in self.audit("shell", "connect")
                  if r.get("claimed_source") == "203.0.113.9"]
        self.assertEqual(len(forged), 1, read(AUDIT))
        self.assertEqual(forged[0].get("source"), "127.0.0.1", forged[0])
        self.assertEqual(forged[0].get("claimed_source_port"), 4444)
        self.assertNotIn("source_port", forged[0])
        self.assertNotIn("connection", forged[0])
        child.sendline("exit")
        status, _ = finish(child)
        self.assertEqual(status, 0)
        login = [r for r in self.audit("shell", "login", "ok")
                 if "claimed_source" not in r]
        self.assertEqual(len(login), 1, read(AUDIT))
        self.assertEqual(login[0].get("iam_user"), p.iam.name)
        self.assertEqual(login[0].get("source"), "127.0.0.1")
        self.assertTrue(self.audit("shell", "shell", "ok"), read(AUDIT))
        text = read(AUDIT)
        for secret in (found["AWS_SECRET_ACCESS_KEY"],
                       found["AWS_SESSION_TOKEN"], p.iam.secret):
            self.assertNotIn(secret, text)

    @unittest.skipIf(sanitizer_runtime(MODULE), "sudo is setuid: it cannot "
                     "load a module of an AddressSanitizer build")
    def test_sudo_with_grace_counts_the_ssh_login(self):
        p = PEOPLE["stepup"]
        child = self.login("stepup", [p.code()], tty=True)
        child.sendline("echo @@S$((6*7))@@; sudo /usr/bin/id -u; "
                       "echo @@E$((6*7))@@")
        child.expect_exact("@@S42@@")
        i = child.expect_exact(["@@E42@@", "Verification code: "])
        self.assertEqual(i, 0, "sudo asked for a code within the grace time")
        self.assertEqual(child.before.split(), ["0"])
        child.sendline("exit")
        status, _ = finish(child)
        self.assertEqual(status, 0)

    def test_wrong_code_does_not_get_in(self):
        p = PEOPLE["wrong"]
        status, out = finish(self.login("wrong", [p.code(+1)], tty=True))
        self.assertRefusedAtTheDoor(status, out)
        self.assertEqual(self.audit("wrong"), [])

    def test_replayed_code_does_not_get_in(self):
        p = PEOPLE["replay"]
        code = p.code()
        status, out = finish(self.relay("replay", code, RAW.port))
        self.assertEqual(status, 0, out)
        status, out = finish(self.relay("replay", code, RAW.port))
        self.assertRefusedAtTheDoor(status, out)
        self.assertEqual(len(self.audit("replay", "login")), 1)

    def test_locked_user_does_not_get_in(self):
        p = PEOPLE["locked"]
        accepted = STS.requests()["mfa"].get("accepted", 0)
        for delta in (+3, +4):     # lockout_attempts = 2
            status, out = finish(self.login("locked", [p.code(delta)]))
            self.assertRefusedAtTheDoor(status, out)
        status, out = finish(self.login("locked", [p.code()]))
        self.assertRefusedAtTheDoor(status, out)
        self.assertEqual(STS.requests()["mfa"].get("accepted", 0), accepted,
                         "while locked the code is not even sent to STS")
        self.assertEqual(self.audit("locked"), [])

    # -- onward access --------------------------------------------------------

    def test_scp_through_connect_arrives_intact(self):
        p, c = self.client("copy")
        src = os.path.join(c.dir, "payload.bin")
        random_file(src, COPY_SIZE)
        dest = os.path.join(p.pw.pw_dir, "payload.bin")
        args = [SCP, "-q"] + c.options() + [
            "-o", "ProxyCommand=" + c.proxy_command(BASTION, p.name),
            "-P", str(TARGET.port), src, "%s@127.0.0.1:payload.bin" % p.name]
        child = c.spawn(args, timeout=120)
        answer(child, [p.code()])
        status, out = finish(child, timeout=120)
        self.assertEqual(status, 0, out)
        self.assertEqual(sha256_file(dest), sha256_file(src))
        start = self.audit("copy", "relay_start", "ok")
        self.assertEqual(len(start), 1, read(AUDIT))
        self.assertEqual((start[0].get("target"), start[0].get("port")),
                         ("127.0.0.1", TARGET.port))
        end = self.wait_audit("copy", "relay_end")
        self.assertEqual(len(end), 1, read(AUDIT))
        self.assertEqual(end[0]["result"], "ok", end)
        self.assertGreater(end[0]["bytes_up"], COPY_SIZE)
        self.assertGreater(end[0]["bytes_down"], 0)
        self.assertIn("duration_ms", end[0])

    def test_target_session_has_no_aws_credentials(self):
        p, c = self.client("env")
        args = [SSH] + c.options() + [
            "-o", "ProxyCommand=" + c.proxy_command(BASTION, p.name), "-T",
            "-p", str(TARGET.port), "%s@127.0.0.1" % p.name, "env"]
        child = c.spawn(args)
        answer(child, [p.code()])
        status, out = finish(child)
        self.assertEqual(status, 0, out)
        self.assertIn("USER=%s" % p.name, out)
        self.assertIn("SSH_CONNECTION=127.0.0.1", out)
        self.assertNotIn("AWS_", out)

    def test_relay_passes_exactly_the_bytes_and_half_close(self):
        p, c = self.client("raw")
        payload = os.urandom(3 * 1024 * 1024 + 17)
        src = os.path.join(c.dir, "raw.bin")
        dst = os.path.join(c.dir, "raw.out")
        with open(src, "wb") as f:
            f.write(payload)
        before = len(RAW.received)
        status, out = finish(self.relay("raw", p.code(), RAW.port, src, dst))
        self.assertEqual(status, 0, out)
        # The target saw the client's EOF (half-close) and its answer came
        # back through the relay after that.
        self.assertEqual(read(dst), "GOT %d %s\n" % (
            len(payload), hashlib.sha256(payload).hexdigest()))
        self.assertEqual(len(RAW.received), before + 1)
        self.assertEqual(RAW.received[-1], payload,
                         "the relay adds nothing (no credentials) and "
                         "drops nothing")
        end = self.wait_audit("raw", "relay_end", "ok")
        self.assertEqual([(e["bytes_up"], e["bytes_down"], e["reason"])
                          for e in end],
                         [(len(payload), len(read(dst)), "closed")])

    def test_sshd_forwarding_is_off(self):
        """ProxyJump/-W (direct-tcpip) would go around the gateway's policy:
        the shipped snippet turns it off, so only `connect' goes onward."""
        p = PEOPLE["forward"]
        received = len(RAW.received)
        c, args = self.ssh("forward")
        args[1:1] = ["-W", "127.0.0.1:%d" % RAW.port]
        child = c.spawn(args)
        answer(child, [p.code()])
        status, out = finish(child)
        self.assertEqual(status, 255, out)
        self.assertIn("stdio forwarding failed", out)
        self.assertEqual(len(RAW.received), received)

    def test_denied_target_is_refused_and_audited(self):
        p = PEOPLE["denied"]
        status, out = finish(self.login("denied", [p.code()], [
            "connect", "127.0.0.1", str(BASTION.port)]))
        self.assertGatewayRefused(status, out, "connect 127.0.0.1 port %d: "
                                  "not allowed by policy" % BASTION.port)
        self.assertNotIn("SSH-2.0", out)
        refused = self.audit("denied", "connect", "denied")
        self.assertEqual(len(refused), 1, read(AUDIT))
        self.assertEqual((refused[0].get("target"), refused[0].get("port")),
                         ("127.0.0.1", BASTION.port))
        self.assertEqual(refused[0].get("iam_user"), p.iam.name)
        self.assertEqual(refused[0].get("source"), "127.0.0.1")
        self.assertEqual(self.audit("denied", "relay_start"), [])

    def test_deny_by_name_holds_with_trailing_dots(self):
        """"localhost.", "localhost.." and "localhost..." are all the
        name a deny rule lists (the resolver takes them so); an allow rule
        for the address comes after it."""
        for dots, role in enumerate(DOTS, 1):
            p = PEOPLE[role]
            received = len(RAW.received)
            host = "localhost" + "." * dots
            status, out = finish(self.login(role, [p.code()], [
                "connect", host, str(RAW.port)]))
            self.assertGatewayRefused(status, out, "connect localhost port "
                                      "%d: not allowed by policy" % RAW.port)
            refused = self.audit(role, "connect", "denied")
            self.assertEqual(len(refused), 1, read(AUDIT))
            self.assertEqual(refused[0].get("target"), "localhost")
            self.assertEqual(refused[0].get("rule"),
                             "%s:%d" % (GWCONF, DENY_NAME_LINE), refused)
            self.assertEqual(len(RAW.received), received, host)

    def test_group_that_cannot_be_looked_up_denies(self):
        """A deny-groups rule for the raw target comes before an allow
        rule for this user; their primary group has no name, so whether
        the deny applies cannot be known: refused."""
        p = PEOPLE["lookup"]
        received = len(RAW.received)
        status, out = finish(self.login("lookup", [p.code()], [
            "connect", "127.0.0.1", str(RAW.port)]))
        self.assertGatewayRefused(status, out, "refused: your groups cannot "
                                  "be looked up")
        self.assertEqual(len(RAW.received), received)
        self.assertEqual(self.audit("lookup", "relay_start"), [])
        refused = self.audit("lookup", "login", "denied")
        self.assertEqual(len(refused), 1, read(AUDIT))
        self.assertIn("groups", refused[0].get("reason", ""))

    def test_relay_whose_record_cannot_be_written_does_not_start(self):
        """Inside an MFA connection (the marker is good), the user runs the
        gateway by hand with RLIMIT_FSIZE at the log's size plus
        AMFA_APPEND_SLACK (the room the gateway keeps beyond each record)
        plus N, SIGXFSZ ignored, for N across the login, relay_start and
        relay_end records: no record is cut, and what each N allows is
        exactly what happens.  Below the login record nothing is written;
        from there to the end of the relay_start record the login alone,
        and the target sees no connection and sends nothing back (gw_dial
        asks before connecting); from there on the relay runs, and exits
        0 only if its relay_end record went in too.  (An N without the
        slack would refuse everything at the login record and test nothing
        after it.)

        N runs over 0 .. 16 bytes past the three records whole in the
        plain build (about a thousand runs); in the sanitizer
        build (a hand run there costs about 0.4 s) every 16th N from a
        seeded start (tests/pam/sweep.py: the seed is printed,
        AMFA_SWEEP_SEED repeats it), plus every N within 6 bytes of a
        record boundary, measured by a run with room to spare first."""
        p = PEOPLE["limit"]
        slack = append_slack()
        child = self.login("limit", [p.code()], tty=True)
        received = len(RAW.received)
        before_log = read(AUDIT)
        # $O: what came back from the target through the relay.
        run = ("SSH_ORIGINAL_COMMAND='connect 127.0.0.1 %d' env "
               "--ignore-signal=XFSZ prlimit --fsize=$L:$L %s -f %s "
               "</dev/null >$O 2>/dev/null" % (RAW.port, GATEWAY, GWCONF))
        # With room for the records (and the slack) it does relay: the
        # checks below are not passed by a gateway that never relays.
        # What that run adds gives the records' boundaries.
        out = self.shell(child, "O=$(mktemp); S=$(stat -c %%s %s); "
                         "L=$((S + %d + 8192)); %s; echo \"BIG $? $S "
                         "$(stat -c %%s %s) $(stat -c %%s $O)\""
                         % (AUDIT, slack, run, AUDIT), timeout=120)
        big = [l.split()[1:] for l in out.replace("\r", "").splitlines()
               if l.startswith("BIG ")]
        self.assertEqual([b[0] for b in big], ["0"], out)
        self.assertNotEqual(big[0][3], "0", "the target answered")
        added = read(AUDIT).encode()[int(big[0][1]):int(big[0][2])]
        self.assertEqual([json.loads(l)["event"] for l in added.splitlines()],
                         ["login", "relay_start", "relay_end"], added)
        edges, at = [], 0
        for line in added.splitlines(keepends=True):
            at += len(line)
            edges.append(at)
        login_end, start_end, end_end = edges
        # The room asked for is the record's plus up to 100 bytes (the
        # chain's fields): the boundaries lie at each edge or 100 past it.
        span = end_end + 116
        near = {n for e in [0] + edges for d in (0, 100)
                for n in range(e + d - 6, e + d + 7)
                if 0 <= n <= span} | {span}
        offsets = sweep("record limits", range(span + 1), GATEWAY, 16, near)
        listing = os.path.join(os.path.dirname(AUDIT), "offsets")
        write_file(listing, " ".join(map(str, offsets)) + "\n", 0o644)
        out = self.shell(child, "for n in $(cat %s); do S=$(stat -c %%s "
                         "%s); L=$((S + %d + n)); %s; echo \"R $n $? $S "
                         "$(stat -c %%s %s) $(stat -c %%s $O)\"; done"
                         % (listing, AUDIT, slack, run, AUDIT),
                         timeout=600)
        child.sendline("exit")
        finish(child)
        runs = [l.split()[1:] for l in out.replace("\r", "").splitlines()
                if l.startswith("R ")]
        self.assertEqual([int(r[0]) for r in runs], offsets, out[-500:])
        data = read(AUDIT).encode()
        self.assertTrue(data.endswith(b"\n"))
        seen, relayed = set(), 0
        for n, rc, size0, size1, back in runs:
            n, back = int(n), int(back)
            added = data[int(size0):int(size1)]
            self.assertTrue(added == b"" or added.endswith(b"\n"), n)
            events = [json.loads(l)["event"]             # whole records
                      for l in added.splitlines()]
            what = "N=%d (records end at %s): rc %s, %d bytes back, %r" % (
                n, edges, rc, back, added)
            # Where each boundary falls depends on the room the gateway
            # asks for beyond the record (the audit chain's fields: up to
            # 100 bytes more, gateway/audit.c), so the records written are
            # checked as a prefix, each outcome tied to them, and both
            # outcomes must occur below.
            full = ["login", "relay_start", "relay_end"]
            self.assertEqual(events, full[:len(events)], what)
            self.assertEqual(back > 0, "relay_start" in events,
                             "a relay if and only if its relay_start "
                             "record went in: " + what)
            self.assertEqual(rc == "0", events == full, what)
            seen.add(tuple(events))
            relayed += "relay_start" in events
        self.assertIn(("login",), seen, "some N records the login alone")
        self.assertIn(tuple(full), seen, "some N leaves room for all")
        self.assertEqual(runs[-1][1], "0", "the last N leaves room for all")
        for line in data.splitlines():
            json.loads(line)
        started = [r for r in self.audit("limit", "relay_start")]
        self.assertEqual(len(started),
                         1 + relayed)
        self.assertEqual(len(RAW.received) - received, len(started),
                         "a connection to the target for each relay_start "
                         "record, and none without one")
        self.assertTrue(read(AUDIT).startswith(before_log))

    def test_verified_hand_runs_cannot_fill_the_audit_file_system(self):
        """Issue 23, finding 4: a user who passed MFA runs the gateway by
        hand in a loop (each run: a login and a refused connect record)
        against a log on a small file system.  Before, the records of MFA
        connections had no bound: the loop took the file system down to
        what the gateway needs free to write, and from then on every
        user's gateway was refused (no record, no service).  Now they stop
        at the floor kept for everyone else: past it a record is in syslog
        alone, the file system keeps its floor, and another user's gateway
        still relays."""
        audit_group = grp.getgrgid(os.stat(AUDIT).st_gid).gr_name
        mnt = temp_dir("amfa-gwfill-")
        os.chmod(mnt, 0o755)
        subprocess.run(["mount", "-t", "tmpfs", "-o",
                        "size=96k,mode=0755", "amfa-gwfill", mnt],
                       check=True, capture_output=True)
        self.addCleanup(subprocess.run, ["umount", "-l", mnt],
                        capture_output=True)
        log = os.path.join(mnt, "audit.log")
        write_file(log, "", 0o620)
        os.chown(log, 0, grp.getgrnam(audit_group).gr_gid)
        conf = os.path.join(os.path.dirname(GWCONF), "gateway-small.conf")
        write_file(conf, "audit_log = %s\nawsmfa_config = %s\n"
                   "allow users %s to 127.0.0.1 ports %d\n"
                   % (log, TREE.conf, PEOPLE["bystander"].name, RAW.port),
                   0o644)
        other = self.login("bystander", [PEOPLE["bystander"].code()],
                           tty=True)
        flood = self.login("flood", [PEOPLE["flood"].code()], tty=True)
        runs = 100          # 96 KiB: some 45 runs reach the floor
        out = self.shell(flood, "for n in $(seq %d); do "
                         "SSH_ORIGINAL_COMMAND='connect 192.0.2.1 22' %s -f "
                         "%s </dev/null >/dev/null 2>&1; done; echo DONE "
                         "$(stat -c %%s %s)" % (runs, GATEWAY, conf, log),
                         timeout=300)
        flood.sendline("exit")
        finish(flood)
        self.assertIn("DONE", out)
        data = read(log)
        recs = [json.loads(l) for l in data.splitlines()]     # whole lines
        mine = [r for r in recs if r.get("user") == PEOPLE["flood"].name]
        self.assertGreater(len(mine), 10, "the loop wrote records")
        self.assertLess(len(mine), 2 * runs, "the loop was bounded")
        vfs = os.statvfs(mnt)
        self.assertGreaterEqual(vfs.f_bavail * vfs.f_frsize, 64 * 1024,
                                "the gateway's slack is left free")
        # The other user's gateway still serves (a relay to the raw target,
        # which answers with the digest of what it got: nothing).
        received = len(RAW.received)
        res = self.shell(other, "SSH_ORIGINAL_COMMAND='connect 127.0.0.1 "
                         "%d' %s -f %s </dev/null; echo \"RC $?\""
                         % (RAW.port, GATEWAY, conf))
        other.sendline("exit")
        finish(other)
        self.assertIn("RC 0", res)
        self.assertIn(hashlib.sha256(b"").hexdigest(), res)
        self.assertEqual(len(RAW.received), received + 1)
        self.assertTrue(read(log).startswith(data))

    def test_relay_whose_record_fails_after_its_check_does_not_start(self):
        """gw_dial asks whether the relay_start record fits before it
        connects; between that check and the write another writer may take
        the room.  Then the connection is made but the relay must not
        start: not one byte to the target, nothing back, refused.

        The gateway is run by hand inside an MFA connection to a target
        whose accept queue is full (StalledTarget), so that it waits in
        connect(2) after the check passed; meanwhile its file size limit
        goes down (prlimit --pid, by the user) to the log's size plus
        AMFA_APPEND_SLACK: room for the slack, not for the record.  Then
        the target lets it in."""
        p = PEOPLE["stall"]
        target = StalledTarget()
        conf = os.path.join(os.path.dirname(AUDIT), "stall.conf")
        write_file(conf, "audit_log = %s\nawsmfa_config = %s\n"
                   "connect_timeout = 90\n"
                   "allow users %s to 127.0.0.1 ports %d\n"
                   % (AUDIT, TREE.conf, p.name, target.port), 0o644)
        child = self.login("stall", [p.code()], tty=True)
        out = self.shell(child, "D=$(mktemp -d); head -c 4096 /dev/urandom "
                         ">$D/in; SSH_ORIGINAL_COMMAND='connect 127.0.0.1 "
                         "%d' %s -f %s <$D/in >$D/out 2>$D/err & "
                         "echo \"GW $! $D\"" % (target.port, GATEWAY, conf))
        pid, tmp = [l.split()[1:] for l in out.replace("\r", "").splitlines()
                    if l.startswith("GW ")][0]
        self.assertTrue(target.connecting(), "the gateway did not connect")
        # The records before relay_start went in: the one that fails is
        # relay_start's own.
        size = os.stat(AUDIT).st_size
        last = audit_records()[-1]
        self.assertEqual((last["user"], last["event"], last["result"]),
                         (p.name, "login", "ok"), last)
        # By the user, whose process it is (not set-group-ID here): root
        # may lack CAP_SYS_RESOURCE.
        limit = size + append_slack()
        out = self.shell(child, "prlimit --pid %s --fsize=%d:%d; "
                         "echo \"SET $?\"" % (pid, limit, limit))
        self.assertIn("SET 0", out)
        target.release()
        received = target.take()
        out = self.shell(child, "wait %s; echo \"RC $?\"; cat $D/err; "
                         "echo \"OUT $(stat -c %%s $D/out)\"; rm -r $D"
                         % pid, timeout=120)
        child.sendline("exit")
        finish(child)
        self.assertEqual(received, b"", "the relay started")
        self.assertIn("RC 1", out)
        self.assertIn("OUT 0", out)
        self.assertIn("awsmfa-gateway: refused: the audit log cannot take "
                      "the record", out)
        self.assertEqual(self.audit("stall", "relay_start"), [],
                         read(AUDIT))
        self.assertEqual(os.stat(AUDIT).st_size, size)
        for line in read(AUDIT).splitlines():
            json.loads(line)

    def test_deny_by_default(self):
        p = PEOPLE["nobody"]
        status, out = finish(self.login("nobody", [p.code()], [
            "connect", "127.0.0.1", str(TARGET.port)]))
        self.assertGatewayRefused(status, out, "connect 127.0.0.1 port %d: "
                                  "not allowed by policy" % TARGET.port)
        self.assertNotIn("SSH-2.0", out)
        self.assertEqual(len(self.audit("nobody", "connect", "denied")), 1)

    def test_no_shell_unless_the_policy_allows_it(self):
        p = PEOPLE["noshell"]
        status, out = finish(self.login("noshell", [p.code()], tty=True))
        self.assertGatewayRefused(status, out, "no shell for you")
        self.assertEqual(len(self.audit("noshell", "shell", "denied")), 1)

    def test_other_commands_are_refused(self):
        p = PEOPLE["command"]
        status, out = finish(self.login("command", [p.code()], ["env"]))
        self.assertGatewayRefused(status, out, "unknown command")
        self.assertNotIn("AWS_", out)
        self.assertEqual(len(self.audit("command", "command", "denied")), 1)

    def test_connection_that_skipped_mfa_is_refused(self):
        p, c = self.client("skip")
        # An MFA connection of the same user is open meanwhile: its proof
        # must not lend itself to the other connection.
        # Counted before the MFA connection starts: however long it takes,
        # it adds one and the refused one none.
        received = len(RAW.received)
        c, args = self.ssh("skip", ["connect", "127.0.0.1", str(RAW.port)])
        mfa = c.shell_spawn("sleep 8 | %s" % " ".join(args))
        answer(mfa, [p.code()])
        self.assertTrue(self.wait_audit("skip", "relay_start", timeout=20),
                        read(AUDIT))
        c, args = self.ssh("skip", ["connect", "127.0.0.1", str(RAW.port)],
                           sshd=NOMFA)
        status, out = finish(c.spawn(args))
        self.assertGatewayRefused(status, out, "refused: this connection did "
                                  "not pass multi-factor authentication")
        refused = self.audit("skip", "login", "denied")
        self.assertEqual(len(refused), 1, read(AUDIT))
        self.assertIn("marker", refused[0].get("reason", ""))
        status, out = finish(mfa)
        self.assertEqual(status, 0, out)
        self.assertEqual(len(RAW.received), received + 1,
                         "only the MFA connection reached the target")


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("SKIP: needs root (sshd, test accounts, /etc/pam.d)")
        sys.exit(77)
    for what, path in (("module", MODULE), ("gateway", GATEWAY)):
        if not path or not os.path.exists(path):
            print("missing %s (%r): run through meson test" % (what, path))
            sys.exit(1)
    unittest.main(verbosity=2)
