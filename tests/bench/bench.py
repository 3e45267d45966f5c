#!/usr/bin/python3
"""The PAM login benchmark: pam_awsmfa against pam_google_authenticator,
pam_oath and pam_permit, through the real libpam, one full transaction per
enrolled user, at several user counts and concurrencies.  Called by
tests/bench/run (which builds and installs what it needs); see
tests/bench/README.md.

Every module is set up as close as it allows to the same policy: TOTP
(SHA-1, 6 digits, 30 s), three codes accepted (the current step and one
either side), a code accepted once.  Before each run every user's record is
reset to "enrolled, logged in long ago" (not timed), the page cache is
written back (sync), and the codes each user will type are computed with
Python's hmac module for the next steps.  The C driver (pambench) does the
transactions and times them.

Must run as root in a private mount namespace (tests/bench/run uses
unshare): it mounts a private /dev with a /dev/log socket that counts and
discards syslog messages, because without a syslog daemon glibc falls back
to writing to /dev/console, which is not what a production host pays.
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import random
import re
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

PERIOD = 30
CODE_STEPS = 20         # codes per user in a codes file: 10 minutes


def totp(key, step):
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    off = mac[-1] & 15
    v = struct.unpack(">I", mac[off:off + 4])[0] & 0x7fffffff
    return "%06d" % (v % 1000000)


def write_file(path, text, mode=0o600):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, mode)


class SyslogSink:
    """/dev/log in our private /dev: counts datagrams, keeps nothing."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        os.chmod(path, 0o666)
        self.count = 0
        self.samples = {}
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while True:
            try:
                msg = self.sock.recv(65536)
            except OSError:
                return
            self.count += 1
            # One example of each kind of message, for the report.
            text = msg.decode(errors="replace")
            kind = re.sub(r"[0-9]+", "N", text)
            if len(self.samples) < 50:
                self.samples.setdefault(kind, text)


def private_dev(work):
    """Mount a private /dev holding the devices the modules use and our
    /dev/log.  Refuses unless we are in our own mount namespace."""
    if os.readlink("/proc/self/ns/mnt") == os.readlink("/proc/%d/ns/mnt" % os.getppid()):
        sys.exit("bench.py: not in a private mount namespace; run "
                 "tests/bench/run")
    dev = os.path.join(work, "dev")
    os.mkdir(dev)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755", "benchdev",
                    dev], check=True)
    for n in ("null", "zero", "full", "random", "urandom", "tty", "console"):
        open(os.path.join(dev, n), "w").close()
        subprocess.run(["mount", "--bind", "/dev/" + n,
                        os.path.join(dev, n)], check=True)
    for d in ("pts", "shm"):
        if os.path.isdir("/dev/" + d):
            os.mkdir(os.path.join(dev, d))
            subprocess.run(["mount", "--rbind", "/dev/" + d,
                            os.path.join(dev, d)], check=True)
    os.symlink("/proc/self/fd", os.path.join(dev, "fd"))
    for i, n in enumerate(("stdin", "stdout", "stderr")):
        os.symlink("fd/%d" % i, os.path.join(dev, n))
    sink = SyslogSink(os.path.join(dev, "log"))
    subprocess.run(["mount", "--rbind", dev, "/dev"], check=True)
    return sink


class Population:
    """N enrolled users with random 160-bit seeds."""

    def __init__(self, n):
        self.names = ["bench%05d" % i for i in range(n)]
        self.keys = [os.urandom(20) for _ in range(n)]

    def codes_file(self, path, logins):
        """Codes for `logins' distinct users picked at random."""
        step0 = int(time.time()) // PERIOD
        lines = ["%d %d\n" % (step0, PERIOD)]
        pick = sorted(random.sample(range(len(self.names)), logins))
        for name, key in ((self.names[i], self.keys[i]) for i in pick):
            lines.append(name + " " + " ".join(
                totp(key, step0 + i) for i in range(CODE_STEPS)) + "\n")
        write_file(path, "".join(lines), 0o600)


class Permit:
    name = "pam_permit"
    may_fail = False
    keep = False

    def __init__(self, root, pop, args):
        self.root, self.pop = root, pop

    def service(self):
        return "auth required pam_permit.so"

    def reset(self):
        pass


class Floor(Permit):
    """The floor of a durable decision: pam_permit's login plus one 512-byte
    pwrite and one fdatasync of the user's file (pambench -w), in the
    directory next to the others' state, on the same file system."""
    name = "floor"

    def __init__(self, root, pop, args):
        super().__init__(root, pop, args)
        self.dir = os.path.join(root, "floor")
        os.mkdir(self.dir, 0o700)
        for name in pop.names:
            write_file(os.path.join(self.dir, name), "x" * 512)
        self.extra = ["-w", self.dir]


def state_slots(text, seq=2):
    """A state file as pam_awsmfa/store/state.c writes it: two 2,048-byte
    slots, `text' in slot seq % 2 (the other empty)."""
    body = text.encode()
    digest = hashlib.sha256(b"%d %d\n" % (seq, len(body)) + body).hexdigest()
    slot = b"amfa-state-slot %d %d %s\n" % (seq, len(body), digest.encode())
    slot = (slot + body).ljust(2048, b"\n")
    empty = b"\n" * 2048
    return (slot + empty if seq % 2 == 0 else empty + slot)


class Awsmfa:
    name = "pam_awsmfa"
    may_fail = False
    keep = False
    slots = True    # the state form the module writes

    def __init__(self, root, pop, args):
        self.root, self.pop, self.module = root, pop, args.module
        self.users = os.path.join(root, "users.d")
        self.state = os.path.join(root, "state")
        self.conf = os.path.join(root, "awsmfa.conf")
        os.mkdir(self.users, 0o700)
        os.mkdir(self.state, 0o700)
        write_file(self.conf, "users_dir = %s\nstate_dir = %s\nwindow = 1\n"
                   % (self.users, self.state), 0o644)
        for name, key in zip(pop.names, pop.keys):
            write_file(os.path.join(self.users, name + ".conf"),
                       "iam_user = %s\n"
                       "mfa_serial = arn:aws:iam::123456789012:mfa/%s\n"
                       "totp_secret = %s\n" % (
                           name, name, base64.b32encode(key).decode()))

    def service(self):
        return "auth required %s config=%s" % (self.module, self.conf)

    def reset(self):
        # Logged in an hour ago: the steady state of an enrolled user.
        step = int(time.time()) // PERIOD - 120
        text = ("version 1\nlast_step %d\nfailures 0\nlocked_until 0\n"
                "last_success %d\nend\n" % (step, step * PERIOD))
        data = state_slots(text) if self.slots else text.encode()
        for name in self.pop.names:
            with open(os.path.join(self.state, name + ".state"), "wb") as f:
                f.write(data)
            os.chmod(os.path.join(self.state, name + ".state"), 0o600)


class AwsmfaKept(Awsmfa):
    """The same, with the module kept loaded by the process (pambench -k):
    what a long-running process, or a module linked -z nodelete, pays."""
    name = "pam_awsmfa_kept"
    keep = True


class GoogleAuthenticator:
    name = "pam_google_authenticator"
    may_fail = False
    keep = False

    def __init__(self, root, pop, args):
        self.root, self.pop = root, pop
        self.dir = os.path.join(root, "ga")
        os.mkdir(self.dir, 0o700)

    def service(self):
        # user=root: the secret files are root's, so the user names need
        # not exist; ${USER} picks each user's file.
        return ("auth required pam_google_authenticator.so user=root "
                "secret=%s/${USER}" % self.dir)

    def reset(self):
        # WINDOW_SIZE 3 = the current code and one either side;
        # DISALLOW_REUSE records each used step in the file.
        for name, key in zip(self.pop.names, self.pop.keys):
            write_file(os.path.join(self.dir, name),
                       "%s\n\" DISALLOW_REUSE\n\" TOTP_AUTH\n"
                       "\" WINDOW_SIZE 3\n" %
                       base64.b32encode(key).decode().rstrip("="), 0o400)


class Oath:
    name = "pam_oath"
    # liboath takes its lock with O_EXCL and gives up at once if another
    # login holds it: concurrent valid logins fail.  Counted, not fatal.
    may_fail = True
    keep = False

    def __init__(self, root, pop, args):
        self.root, self.pop = root, pop
        self.file = os.path.join(root, "users.oath")

    def service(self):
        # window=1: one step either side, as the others.  liboath refuses
        # a code at or before the last one used (replay protection).
        return "auth required pam_oath.so usersfile=%s window=1" % self.file

    def reset(self):
        write_file(self.file, "".join(
            "HOTP/T30/6 %s - %s\n" % (name, key.hex())
            for name, key in zip(self.pop.names, self.pop.keys)))


class AwsmfaSts(Awsmfa):
    """verify = sts against the local STS endpoint; kept loaded, so the
    figures are the STS path, not the loading of libcurl."""
    name = "pam_awsmfa_sts"
    keep = True

    def __init__(self, root, pop, args, sts):
        self.sts = sts
        super().__init__(root, pop, args)
        conf = ("verify = sts\nsts_endpoint = %s\nsts_timeout = 10\n"
                % sts.url)
        if sts.ca:
            conf += "ca_file = %s\n" % sts.ca
        with open(self.conf, "a") as f:
            f.write(conf)
        for name, iam in zip(pop.names, sts.users):
            with open(os.path.join(self.users, name + ".conf"), "a") as f:
                f.write("access_key_id = %s\nsecret_access_key = %s\n" % (
                    iam.key_id, iam.secret))


class AwsmfaBefore(Awsmfa):
    """An earlier build of the module (--module-before), whose state files
    are the text alone, replaced whole at every update."""
    name = "pam_awsmfa_before"
    slots = False

    def __init__(self, root, pop, args):
        super().__init__(root, pop, args)
        self.module = args.module_before
        # An earlier build that already wrote the two-slot form.
        self.slots = args.module_before_slots


class TableServers:
    """The state table on loopback for the table rows: one dynalite (a
    real DynamoDB implementation, node) and one ddb_front.py (SigV4 checked
    as DynamoDB checks it, Python) in front of it, both separate processes
    started once per benchmark run and stopped at its end."""

    AKID = "AKIABENCHSTATETABLE1"
    SECRET = "benchStateTableSecretKey000000000000000"
    _one = None

    @classmethod
    def get(cls):
        if cls._one is None:
            cls._one = cls()
        return cls._one

    @classmethod
    def stop(cls):
        if cls._one is not None:
            for c in (cls._one.front.close, cls._one.db.stop) + (
                    (cls._one.tls.close,) if cls._one.tls else ()):
                try:
                    c()
                except Exception:
                    pass
            cls._one = None

    def __init__(self):
        sys.path.insert(0, os.path.join(os.path.dirname(
            os.path.abspath(__file__)), "..", "fixtures"))
        import dynalite
        from ddb_front import Front
        why = dynalite.available()
        if why:
            sys.exit("bench.py: the table rows need dynalite: %s" % why)
        self.db = dynalite.Dynalite()
        self.front = Front(self.db.port, keys={self.AKID: self.SECRET})
        self.tls = None
        self.ca = None

    def trust_system_wide(self):
        """Put the throwaway CA into /etc/ssl/certs, in this process's own
        mount namespace only (tests/bench/run runs bench.py in one): a
        tmpfs copy of the directory, the CA appended to the bundle and
        linked under its hash."""
        if getattr(self, "_system_ca", False):
            return
        # unshare(1) execs this in a namespace of its own: not the parent's.
        if os.stat("/proc/self/ns/mnt").st_ino == \
                os.stat("/proc/%d/ns/mnt" % os.getppid()).st_ino:
            sys.exit("bench.py: the table-tls-system row changes /etc/ssl/certs: "
                     "run it through tests/bench/run (a private mount namespace)")
        copy = tempfile.mkdtemp(prefix="amfa-bench-certs-")
        subprocess.run(["cp", "-a", "/etc/ssl/certs/.", copy], check=True)
        with open(self.ca) as f, open(os.path.join(copy, "ca-certificates.crt"), "a") as b:
            b.write(f.read())
        h = subprocess.run(["openssl", "x509", "-hash", "-noout", "-in", self.ca],
                           capture_output=True, text=True, check=True).stdout.strip()
        shutil.copy(self.ca, os.path.join(copy, h + ".0"))
        subprocess.run(["mount", "--bind", copy, "/etc/ssl/certs"], check=True)
        self._system_ca = True

    def tls_front(self, delay_ms):
        """A second front over TLS (a throwaway CA of make_test_ca.sh),
        each new connection held `delay_ms' before its handshake."""
        if self.tls is None:
            from ddb_front import Front
            here = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "fixtures")
            ca_dir = tempfile.mkdtemp(prefix="amfa-bench-ca-")
            subprocess.run(["sh", os.path.join(here, "make_test_ca.sh"),
                            ca_dir], check=True, capture_output=True)
            os.chmod(ca_dir, 0o755)
            for f in os.listdir(ca_dir):
                os.chmod(os.path.join(ca_dir, f), 0o644)
            self.ca = os.path.join(ca_dir, "ca.pem")
            self.tls = Front(self.db.port, keys={self.AKID: self.SECRET},
                             tls_dir=ca_dir, delay_ms=delay_ms)
        return self.tls


class AwsmfaTable(Awsmfa):
    """state_backend = dynamodb: each login a consistent GetItem and a
    conditional UpdateItem of the user's item, here through ddb_front.py
    (every request's signature checked) to dynalite on loopback.  The
    module signs with a key file (dynamodb_key_file), so no IMDS call."""
    name = "pam_awsmfa_table"
    direct = False
    tls = False
    system_ca = False
    brokered = False
    KEY = "amfa_user"

    def __init__(self, root, pop, args):
        super().__init__(root, pop, args)
        self.servers = TableServers.get()
        self.table = "bench-%s-%d" % (self.name.replace("_", "-"),
                                      len(pop.names))
        self.servers.db.create_table(self.table, self.KEY)
        self.front = None if self.direct else (
            self.servers.tls_front(args.table_delay_ms) if self.tls
            else self.servers.front)
        url = self.servers.db.url if self.direct else self.front.url
        key = os.path.join(root, "table.key")
        write_file(key, "[default]\naws_access_key_id = %s\n"
                   "aws_secret_access_key = %s\n" % (
                       TableServers.AKID, TableServers.SECRET), 0o600)
        with open(self.conf, "a") as f:
            f.write("state_backend = dynamodb\ndynamodb_table = %s\n"
                    "dynamodb_region = us-east-1\ndynamodb_endpoint = %s\n"
                    "dynamodb_key_file = %s\ndynamodb_timeout = 10\n"
                    % (self.table, url, key))
            if self.tls and not self.system_ca:
                f.write("ca_file = %s\n" % self.servers.ca)
            # The netd rows: the calls through awsmfa-netd (one per row,
            # started now, its CPU counted apart); the others make them
            # in the login's process, whatever runs on this host.
            self.netd = Netd(args) if self.brokered else None
            f.write("netd_socket = %s\n" %
                    (self.netd.socket if self.netd else "none"))
        if self.system_ca:
            self.servers.trust_system_wide()

    def broker_pids(self):
        """The broker serving this row's calls, if any."""
        return [self.netd.proc.pid] if self.netd else []

    def server_pids(self):
        """The processes that serve this row's calls."""
        return [self.servers.db.proc.pid] + (
            [] if self.direct else [self.front.proc.pid])

    def front_stats(self):
        """The front's counts so far (requests, connections accepted)."""
        return self.front.stats() if self.front else None

    def reset(self):
        # The same steady state as the files' (logged in an hour ago, no
        # failures), written straight to dynalite, 25 items a call.
        step = int(time.time()) // PERIOD - 120
        for i in range(0, len(self.pop.names), 25):
            self.servers.db.call("BatchWriteItem", {"RequestItems": {
                self.table: [{"PutRequest": {"Item": {
                    self.KEY: {"S": name}, "amfa_ver": {"N": "1"},
                    "totp_step": {"N": str(step)}, "fail_count": {"N": "0"},
                    "locked_until": {"N": "0"},
                    "last_ok": {"N": str(step * PERIOD)},
                    "rc_gen": {"N": "0"}, "rc_used": {"N": "0"}}}}
                    for name in self.pop.names[i:i + 25]]}})


    def check(self, r):
        """Every accepted login wrote its item twice (amfa_ver 1 -> 3:
        its count, then its acceptance): the figures are of logins that
        really went through the table."""
        written, start = 0, None
        while True:
            body = {"TableName": self.table, "ConsistentRead": True,
                    "ScanFilter": {"amfa_ver": {
                        "AttributeValueList": [{"N": "3"}],
                        "ComparisonOperator": "EQ"}}}
            if start:
                body["ExclusiveStartKey"] = start
            got = self.servers.db.call("Scan", body)
            written += got["Count"]
            start = got.get("LastEvaluatedKey")
            if not start:
                break
        if written != r["ok"]:
            sys.exit("%s: %d logins accepted but %d items written" % (
                self.name, r["ok"], written))


class AwsmfaTableKept(AwsmfaTable):
    name = "pam_awsmfa_table_kept"
    keep = True


class AwsmfaTableTls(AwsmfaTable):
    """The same through a front over TLS, each new connection held
    --table-delay-ms before its handshake: what a login pays for its
    connections (their number is in the table: connections per login)."""
    name = "pam_awsmfa_table_tls"
    tls = True


class AwsmfaTableTlsSystem(AwsmfaTableTls):
    """The same with no ca_file, as against AWS: the system's trust store
    (this bench's private /etc/ssl/certs: the system's certificates and
    the throwaway CA, in the bundle file and as a hashed link, as
    update-ca-certificates makes them)."""
    name = "pam_awsmfa_table_tls_system"
    system_ca = True


class AwsmfaTableNetd(AwsmfaTable):
    """The table's calls made by awsmfa-netd (the network broker) on
    connections it keeps: the login loads no libcurl and opens no
    connection.  The broker's CPU is its own column."""
    name = "pam_awsmfa_table_netd"
    brokered = True


class AwsmfaTableTlsNetd(AwsmfaTableTls):
    name = "pam_awsmfa_table_tls_netd"
    brokered = True


class AwsmfaTableTlsSystemNetd(AwsmfaTableTlsSystem):
    name = "pam_awsmfa_table_tls_system_netd"
    brokered = True


class Netd:
    """awsmfa-netd of this build (next to the module: netd/), on a socket
    in a root-only directory of its own; stopped at exit."""
    started = []

    def __init__(self, args):
        program = os.path.join(os.path.dirname(args.module), "netd",
                               "awsmfa-netd")
        self.dir = tempfile.mkdtemp(prefix="amfa-bench-netd-")
        self.socket = os.path.join(self.dir, "socket")
        self.proc = subprocess.Popen([program, "--socket", self.socket],
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        Netd.started.append(self)
        deadline = time.monotonic() + 30
        while not os.path.exists(self.socket):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                sys.exit("bench.py: awsmfa-netd did not start")
            time.sleep(0.02)

    @classmethod
    def stop_all(cls):
        for n in cls.started:
            if n.proc.poll() is None:
                n.proc.terminate()
                n.proc.wait()
            shutil.rmtree(n.dir, ignore_errors=True)
        cls.started = []


class AwsmfaTableTlsKept(AwsmfaTableTls):
    name = "pam_awsmfa_table_tls_kept"
    keep = True


class AwsmfaTableDirect(AwsmfaTable):
    """The same straight at dynalite (no signature check, no Python in
    the way): the same client work, less server time and wall time."""
    name = "pam_awsmfa_table_direct"
    direct = True


class AwsmfaTableDirectKept(AwsmfaTableDirect):
    name = "pam_awsmfa_table_direct_kept"
    keep = True


MODULES = {"permit": Permit, "floor": Floor, "awsmfa": Awsmfa,
           "awsmfa-before": AwsmfaBefore, "awsmfa-kept": AwsmfaKept,
           "ga": GoogleAuthenticator, "oath": Oath,
           "table": AwsmfaTable, "table-kept": AwsmfaTableKept,
           "table-direct": AwsmfaTableDirect,
           "table-tls": AwsmfaTableTls, "table-tls-kept": AwsmfaTableTlsKept,
           "table-tls-system": AwsmfaTableTlsSystem,
           "table-netd": AwsmfaTableNetd, "table-tls-netd": AwsmfaTableTlsNetd,
           "table-tls-system-netd": AwsmfaTableTlsSystemNetd,
           "table-direct-kept": AwsmfaTableDirectKept,
           # The name of the first table row (state-table branch, faa79bc).
           "awsmfa-table": AwsmfaTableKept}


def parse_result(line):
    return {k: int(v) for k, v in
            (kv.split("=", 1) for kv in line.split())}


def run_once(args, work, mod, pop, jobs, sink, extra=(), logins=None,
             wrap=()):
    mod.reset()
    codes = os.path.join(work, "codes")
    pop.codes_file(codes, min(len(pop.names), logins or args.logins))
    os.sync()
    before = sink.count
    servers = getattr(mod, "server_pids", lambda: [])()
    server0 = sum(proc_cpu_s(p) for p in servers)
    brokers = getattr(mod, "broker_pids", lambda: [])()
    broker0 = sum(proc_cpu_s(p) for p in brokers)
    front0 = getattr(mod, "front_stats", lambda: None)()
    proc = subprocess.run(list(wrap) + [args.pambench, "-j", str(jobs)] +
                          list(extra) +
                          [os.path.join(work, "pam.d"), mod.name, codes],
                          capture_output=True, text=True)
    time.sleep(0.05)    # let the sink drain
    if proc.returncode != 0 and not (proc.returncode == 1 and
                                     mod.may_fail):
        for text in sink.samples.values():
            print("  syslog: " + text, file=sys.stderr)
        sys.exit("%s, %d users, %d at once: %s%s" % (
            mod.name, len(pop.names), jobs, proc.stdout, proc.stderr))
    r = parse_result(proc.stdout)
    r["syslog"] = sink.count - before
    if hasattr(mod, "check"):
        mod.check(r)
    if servers:
        r["server_cpu_ns"] = int((sum(proc_cpu_s(p) for p in servers) -
                                  server0) * 1e9)
    if brokers:
        r["broker_cpu_ns"] = int((sum(proc_cpu_s(p) for p in brokers) -
                                  broker0) * 1e9)
    if front0 is not None:
        front1 = mod.front_stats()
        for k in ("requests", "connections"):
            r["table_" + k] = front1[k] - front0[k]
    return r


def instructions_per_login(args, work, mod, pop, sink, extra):
    """Marginal user-space instructions of one login (callgrind): the
    difference between runs of 25 and 5 logins, so start-up cancels."""
    total = {}
    for logins in (5, 25):
        out = os.path.join(work, "cg")
        shutil.rmtree(out, ignore_errors=True)
        os.mkdir(out)
        run_once(args, work, mod, pop, 1, sink, extra, logins,
                 ["valgrind", "--tool=callgrind", "--quiet",
                  "--callgrind-out-file=%s/cg.%%p" % out])
        total[logins] = 0
        for f in os.listdir(out):
            with open(os.path.join(out, f)) as fh:
                for line in fh:
                    if line.startswith(("totals:", "summary:")):
                        total[logins] += int(line.split()[1])
                        break
    return (total[25] - total[5]) / 20


def summarise(runs):
    """Median over runs of the per-run figures."""
    n = runs[0]["logins"]
    return {
        "runs": len(runs),
        "mean_us": statistics.median(r["mean_ns"] for r in runs) / 1e3,
        "p50_us": statistics.median(r["p50_ns"] for r in runs) / 1e3,
        "p99_us": statistics.median(r["p99_ns"] for r in runs) / 1e3,
        "per_s": statistics.median(r["ok"] / (r["wall_ns"] / 1e9)
                                   for r in runs),
        "failed": sum(r["fail"] for r in runs),
        "logins": sum(r["logins"] for r in runs),
        "cpu_us": statistics.median(r.get("cpu_ns", 0) / r["logins"]
                                    for r in runs) / 1e3,
        "maxrss_kb": max(r["maxrss_kb"] for r in runs),
        "syslog_per_login": statistics.median(r["syslog"] for r in runs) / n,
        "requests_per_login": statistics.median(
            r["table_requests"] / r["logins"] for r in runs)
        if "table_requests" in runs[0] else None,
        "connections_per_login": statistics.median(
            r["table_connections"] / r["logins"] for r in runs)
        if "table_connections" in runs[0] else None,
        "broker_cpu_us": statistics.median(
            r["broker_cpu_ns"] / r["logins"] for r in runs) / 1e3
        if "broker_cpu_ns" in runs[0] else None,
        "server_cpu_us": statistics.median(
            r["server_cpu_ns"] / r["logins"] for r in runs) / 1e3
        if "server_cpu_ns" in runs[0] else None,
    }


def b32key(seed):
    return base64.b32decode(seed + "=" * (-len(seed) % 8))


def proc_cpu_s(pid):
    """User + system CPU seconds of a process so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sts_instructions(args, work, sts, iams):
    """Client instructions of one warm GetSessionToken (callgrind): runs of
    3 and 13 calls with IAM users of their own, difference / 10."""
    from sts_process import IamUser
    total = {}
    for calls in (3, 13):
        users = [IamUser("cg%d%05d" % (calls, i)) for i in range(calls)]
        sts.users = sts.users + users
        sts.write_db()
        path = os.path.join(work, "sts-cg")
        step0 = int(time.time()) // PERIOD
        write_file(path, "%d %d\n" % (step0, PERIOD) + "".join(
            "%s %s %s %s\n" % (u.key_id, u.secret, u.serial, " ".join(
                totp(b32key(u.seed), step0 + i) for i in range(CODE_STEPS)))
            for u in users))
        out = os.path.join(work, "sts-cg.out")
        subprocess.run(["valgrind", "--tool=callgrind", "--quiet",
                        "--callgrind-out-file=" + out, args.stsbench, "call",
                        sts.url, sts.ca or "-", path], check=True,
                       capture_output=True)
        with open(out) as fh:
            for line in fh:
                if line.startswith(("totals:", "summary:")):
                    total[calls] = int(line.split()[1])
                    break
    return (total[13] - total[3]) / 10


def sts_part(args, work, sink):
    """The STS path on loopback: the pieces alone (stsbench), a whole
    GetSessionToken from C, and whole PAM logins with verify = sts."""
    sys.path.insert(0, os.path.join(os.path.dirname(
        os.path.abspath(__file__)), "..", "fixtures"))
    from sts_process import IamUser, StsServer

    n = args.sts_calls
    rows = []
    for what in ("sign", "parse"):
        r = parse_result(subprocess.run(
            [args.stsbench, what, "20000"], check=True, capture_output=True,
            text=True).stdout)
        rows.append(("%s alone (20000 in a loop)" % what,
                     r["wall_ns"] / 2e4 / 1e3, r["cpu_ns"] / 2e4 / 1e3, None,
                     None))
    for tls in (False, True):
        iams = [IamUser("bench%05d" % i) for i in range(n)]
        sts = StsServer(iams, tls=tls)
        try:
            label = "https" if tls else "http"
            # GetSessionToken from C: sign, send, receive, parse.
            path = os.path.join(work, "sts-calls")
            step0 = int(time.time()) // PERIOD
            write_file(path, "%d %d\n" % (step0, PERIOD) + "".join(
                "%s %s %s %s\n" % (u.key_id, u.secret, u.serial, " ".join(
                    totp(b32key(u.seed), step0 + i) for i in range(
                        CODE_STEPS))) for u in iams))
            cpu0 = proc_cpu_s(sts.proc.pid)
            r = parse_result(subprocess.run(
                [args.stsbench, "call", sts.url, sts.ca or "-", path],
                check=True, capture_output=True, text=True).stdout)
            server = (proc_cpu_s(sts.proc.pid) - cpu0) / n * 1e6
            ir = None
            if args.callgrind:
                ir = sts_instructions(args, work, sts, iams)
            rows.append(("GetSessionToken over %s, first call of a process"
                         % label, r["first_ns"] / 1e3, None, None, None))
            rows.append(("GetSessionToken over %s (%d calls)" % (label, n),
                         (r["wall_ns"] - r["first_ns"]) / (n - 1) / 1e3,
                         r["cpu_ns"] / n / 1e3, server, ir))
            # Whole PAM logins with verify = sts, module kept loaded.
            # New IAM users (new MFA serials): the server remembers the
            # codes the C calls used.
            iams2 = [IamUser("login%05d" % i) for i in range(n)]
            sts.users = iams2
            sts.write_db()
            pop = Population(n)
            pop.names = [u.name for u in iams2]
            pop.keys = [b32key(u.seed) for u in iams2]
            root = os.path.join(work, "sts-" + label)
            os.mkdir(root, 0o755)
            mod = AwsmfaSts(root, pop, args, sts)
            write_file(os.path.join(work, "pam.d", mod.name),
                       mod.service() + "\n", 0o644)
            cpu0 = proc_cpu_s(sts.proc.pid)
            r = run_once(args, work, mod, pop, 1, sink, ["-k", args.module],
                         n)
            server = (proc_cpu_s(sts.proc.pid) - cpu0) / n * 1e6
            rows.append(("PAM login, verify = sts, over %s (%d logins)" % (
                label, n), r["mean_ns"] / 1e3, r["cpu_ns"] / n / 1e3,
                server, None))
            shutil.rmtree(root)
        finally:
            sts.stop()
    print()
    print("| STS path (loopback) | wall per call (us) | client CPU per call "
          "(us) | server CPU per call (us) | client instructions per call |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, wall, cpu, server, ir in rows:
        print("| %s | %.1f | %s | %s | %s |" % (
            name, wall, "%.1f" % cpu if cpu is not None else "-",
            "%.0f" % server if server is not None else "-",
            "%.2fM" % (ir / 1e6) if ir is not None else "-"))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--module", required=True, help="the built pam_awsmfa.so")
    ap.add_argument("--pambench", required=True)
    ap.add_argument("--module-before",
                    help="an earlier pam_awsmfa.so, for the awsmfa-before "
                    "row (the text state form)")
    ap.add_argument("--module-before-slots", action="store_true",
                    help="the earlier build writes the two-slot state form "
                    "(any build since 25b7f91)")
    ap.add_argument("--users", default="100,1000,10000")
    ap.add_argument("--jobs", default="1,2,16")
    ap.add_argument("--modules", default="permit,awsmfa,awsmfa-kept,ga,oath")
    ap.add_argument("--logins", type=int, default=1000,
                    help="logins per run: one each for this many distinct "
                    "users picked at random (all users if fewer)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--fresh", action="store_true",
                    help="each login in a freshly forked process (as sshd)")
    ap.add_argument("--callgrind", action="store_true",
                    help="also count the instructions of one login "
                    "(valgrind's callgrind, one at a time)")
    ap.add_argument("--sts", action="store_true",
                    help="the STS path instead of the login table")
    ap.add_argument("--sts-calls", type=int, default=100)
    ap.add_argument("--stsbench")
    ap.add_argument("--workdir", default="/var/tmp")
    ap.add_argument("--table-delay-ms", type=int, default=1,
                    help="table-tls rows: each new connection held this "
                    "long before its TLS handshake")
    ap.add_argument("--json", help="write the raw results here")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="amfa-bench-", dir=args.workdir)
    os.chmod(work, 0o755)
    results = []
    try:
        sink = private_dev(work)
        pamd = os.path.join(work, "pam.d")
        os.mkdir(pamd)
        # libpam reads "other" on every pam_start and logs an error when it
        # is missing; a host always has one.
        write_file(os.path.join(pamd, "other"),
                   "auth required pam_deny.so\n", 0o644)
        if args.sts:
            sts_part(args, work, sink)
            return
        for n in [int(x) for x in args.users.split(",")]:
            pop = Population(n)
            mods = []
            for key in args.modules.split(","):
                root = os.path.join(work, "%s-%d" % (key, n))
                os.mkdir(root, 0o755)
                mod = MODULES[key](root, pop, args)
                write_file(os.path.join(pamd, mod.name),
                           mod.service() + "\n", 0o644)
                extra = ["-f"] if args.fresh else []
                extra += getattr(mod, "extra", [])
                if mod.keep:
                    extra += ["-k", args.module]
                mods.append((root, mod, extra))
            for jobs in [int(x) for x in args.jobs.split(",")]:
                # Round-robin over the modules, run by run, so that every
                # module sees the same changes of load on a shared machine.
                runs = {mod.name: [] for _, mod, _ in mods}
                for _ in range(args.runs):
                    for _, mod, extra in mods:
                        runs[mod.name].append(run_once(
                            args, work, mod, pop, jobs, sink, extra))
                for _, mod, extra in mods:
                    s = summarise(runs[mod.name])
                    s.update(module=mod.name, users=n, jobs=jobs,
                             raw=runs[mod.name])
                    if args.callgrind and jobs == 1:
                        s["instr_per_login"] = instructions_per_login(
                            args, work, mod, pop, sink, extra)
                    results.append(s)
                    print("%-26s %6d users %3d at once: %9.1f us/login "
                          "(p50 %.1f, p99 %.1f) %8.0f logins/s  maxrss "
                          "%d kB  cpu/login %.0f us  syslog/login %.2f  "
                          "failed %d  [%d runs]%s%s" % (
                              mod.name, n, jobs, s["mean_us"], s["p50_us"],
                              s["p99_us"], s["per_s"], s["maxrss_kb"],
                              s["cpu_us"], s["syslog_per_login"],
                              s["failed"], s["runs"],
                              ("  server cpu/login %.0f us" %
                               s["server_cpu_us"] if s["server_cpu_us"]
                               is not None else "") +
                              ("  broker cpu/login %.0f us" %
                               s["broker_cpu_us"] if s["broker_cpu_us"]
                               is not None else ""),
                              "  %.0f instructions/login" %
                              s["instr_per_login"] if "instr_per_login" in
                              s else ""), flush=True)
            for root, _, _ in mods:
                shutil.rmtree(root)
    finally:
        Netd.stop_all()
        TableServers.stop()
        for m in ("/dev", os.path.join(work, "dev")):
            subprocess.run(["umount", "-l", m], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    print_table(results)
    print("\nsyslog messages seen (one of each kind):")
    for text in sink.samples.values():
        print("  " + text)


def print_table(results):
    floor = {(r["users"], r["jobs"]): r["mean_us"] for r in results
             if r["module"] == "pam_permit"}
    print()
    cpu_floor = {(r["users"], r["jobs"]): r.get("cpu_us") for r in results
                 if r["module"] == "pam_permit"}
    ir_floor = {r["users"]: r.get("instr_per_login") for r in results
                if r["module"] == "pam_permit" and r["jobs"] == 1}
    durable = {(r["users"], r["jobs"]): r["mean_us"] for r in results
               if r["module"] == "floor"}
    print("| module | users | at once | per login (us) | x pam_permit | "
          "x floor | logins/s | CPU per login (us) | x pam_permit | "
          "instructions per login | x pam_permit | peak RSS (kB) | "
          "valid codes refused | server CPU per login (us) | "
          "table requests per login | connections per login | "
          "broker CPU per login (us) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | "
          "---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")

    def ratio(a, b):
        return "%.2f" % (a / b) if a and b else "-"

    for r in results:
        key = (r["users"], r["jobs"])
        ir = r.get("instr_per_login")
        print("| %s | %d | %d | %.0f | %s | %s | %.0f | %.0f | %s | %s | %s "
              "| %d | %s | %s | %s | %s | %s |" % (
                  r["module"], r["users"], r["jobs"], r["mean_us"],
                  ratio(r["mean_us"], floor.get(key)),
                  ratio(r["mean_us"], durable.get(key)), r["per_s"],
                  r.get("cpu_us", 0), ratio(r.get("cpu_us"),
                                            cpu_floor.get(key)),
                  "%.2fM" % (ir / 1e6) if ir else "-",
                  ratio(ir, ir_floor.get(r["users"])), r["maxrss_kb"],
                  "%d of %d" % (r["failed"], r["logins"]) if r["failed"]
                  else "0",
                  "%.0f" % r["server_cpu_us"] if r.get("server_cpu_us")
                  is not None else "-",
                  "%.2f" % r["requests_per_login"]
                  if r.get("requests_per_login") is not None else "-",
                  "%.2f" % r["connections_per_login"]
                  if r.get("connections_per_login") is not None else "-",
                  "%.0f" % r["broker_cpu_us"] if r.get("broker_cpu_us")
                  is not None else "-"))
    print_per_round(results)


def print_per_round(results):
    """Each module's time against the floor's of the same round (the
    modules run round robin): the wall-time ratio moves with the machine
    from one round to the next, and this reads it where both saw the same
    machine."""
    floors = {(r["users"], r["jobs"]): r["raw"] for r in results
              if r["module"] == "floor"}
    lines = []
    for r in results:
        fl = floors.get((r["users"], r["jobs"]))
        if r["module"] == "floor" or not fl or len(fl) != len(r["raw"]):
            continue
        q = statistics.quantiles(
            [a["mean_ns"] / b["mean_ns"] for a, b in zip(r["raw"], fl)],
            n=4) if len(fl) > 1 else [r["raw"][0]["mean_ns"] /
                                      fl[0]["mean_ns"]] * 3
        lines.append("  %-34s %6d users %3d at once: median %.2f "
                     "(quartiles %.2f, %.2f) over %d rounds" % (
                         r["module"], r["users"], r["jobs"], q[1], q[0],
                         q[2], len(fl)))
    if lines:
        print("\nx floor, round by round:")
        print("\n".join(lines))


if __name__ == "__main__":
    main()
