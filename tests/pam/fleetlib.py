"""The state table for tests: dynalite (a real DynamoDB implementation)
behind ddb_front.py (SigV4 checked as DynamoDB checks it, faults on
demand), with the IMDSv2 fixture issuing the instance role's credentials;
and a relay that holds writes to widen races.  Used by the fleet tests
(tests/pam/test_pam_fleet.py) and the admin program's table tests."""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import dynalite
from ddb_front import Front
from imds_server import Imds

# Nearly every login here loads the network plugin.  In the sanitizer
# build gcc 12's LeakSanitizer now and then crashes at a process's exit
# while it scans the dynamic TLS of the unloaded plugin ("Tracer caught
# signal 11"; the runtime bug tests/pam/test_pam_yubikey.py meets too): the
# programs these tests run scan no TLS (use_tls=0 can only report more
# leaks, never fewer).  Nothing changes in the plain build.
_lsan = os.environ.get("LSAN_OPTIONS")
if "use_tls=0" not in (_lsan or ""):
    os.environ["LSAN_OPTIONS"] = ((_lsan + ":") if _lsan else "") + "use_tls=0"

TABLE = "awsmfa-state"
KEY = "amfa_user"
STATIC_AKID = "AKIAFLEETSTATICKEY01"
STATIC_SECRET = "fleetStaticSecretKey0000000000000000000"


def table_settings(fleet, tree, **extra):
    """awsmfa.conf settings of a bastion (a testlib Tree with .store)
    whose state is in the fleet's table; its calls through the fleet's
    awsmfa-netd when it has one, else made by the login itself."""
    settings = {"users_dir": tree.users, "state_dir": tree.state,
                "store_dir": tree.store,
                "state_backend": "dynamodb", "dynamodb_table": TABLE,
                "dynamodb_endpoint": fleet.front.url,
                "imds_endpoint": fleet.imds.url,
                "dynamodb_timeout": 3, "lockout_attempts": 1000,
                "netd_socket": fleet.netd.socket if fleet.netd else "none"}
    settings.update(extra)
    return settings


class Netd:
    """awsmfa-netd (the network broker: awsmfa-netd(8)) of this build,
    listening in a directory of its own (root's, 0700); its log (stderr,
    with --debug) in `log_file'."""

    def __init__(self, workers=4, extra=()):
        self.program = os.environ["AMFA_NETD_PROGRAM"]
        self.dir = tempfile.mkdtemp(prefix="amfa-netd-")
        self.socket = os.path.join(self.dir, "socket")
        self.log_file = os.path.join(self.dir, "log")
        self.workers = workers
        self.extra = list(extra)
        self.proc = None
        self.start()

    def start(self):
        with open(self.log_file, "a") as log:
            self.proc = subprocess.Popen(
                [self.program, "--socket", self.socket, "--workers",
                 str(self.workers), "--debug"] + self.extra,
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        deadline = time.monotonic() + 60
        while not os.path.exists(self.socket):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("awsmfa-netd did not start:\n" +
                                   self.log())
            time.sleep(0.05)

    def log(self):
        with open(self.log_file, errors="replace") as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class SlowWrites:
    """A TCP relay in front of the table that holds each UpdateItem for
    `hold' seconds before passing it on, byte for byte (the signature
    still holds): the window between a login's read and its write is
    then wide enough that racing logins all read before any writes,
    and only the write's condition can keep two of them from winning.
    The first `skip' UpdateItems pass at once (a login's first write is
    the one that counts its attempt: auth.c); with `skip_if' (bytes),
    instead, every UpdateItem holding it passes at once (the count's
    expression: however many counts a login makes) and the others are
    held.  Requests are read whole (headers and Content-Length) before
    they are judged, whatever the reads' sizes on a loaded machine;
    `seen' lists each request's X-Amz-Target and whether it was held."""

    MARK = b"DynamoDB_20120810.UpdateItem"

    def __init__(self, port, hold, skip=0, skip_if=None):
        self.upstream, self.hold, self.skip = port, hold, skip
        self.skip_if = skip_if
        self.count_lock = threading.Lock()
        self.holding = threading.Event()    # set when a write is held
        self.seen = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.url = "http://127.0.0.1:%d/" % self.sock.getsockname()[1]
        self.closed = False
        self.server = threading.Thread(target=self.serve, daemon=True)
        self.server.start()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            if self.closed:
                c.close()
                return
            threading.Thread(target=self.relay, args=(c,),
                             daemon=True).start()

    @staticmethod
    def read_request(c, buf):
        """One whole request from `buf' and `c': (request, rest), or
        (None, what was left) at the end of the connection."""
        while b"\r\n\r\n" not in buf:
            d = c.recv(65536)
            if not d:
                return None, buf
            buf += d
        head, _, rest = buf.partition(b"\r\n\r\n")
        m = re.search(rb"(?im)^content-length:[ \t]*(\d+)", head)
        n = int(m.group(1)) if m else 0
        while len(rest) < n:
            d = c.recv(65536)
            if not d:
                break
            rest += d
        return head + b"\r\n\r\n" + rest[:n], rest[n:]

    def maybe_hold(self, req):
        m = re.search(rb"(?im)^x-amz-target:[ \t]*(\S+)", req)
        target = m.group(1).decode() if m else "?"
        held = False
        if self.MARK in req.split(b"\r\n\r\n", 1)[0]:
            with self.count_lock:
                if self.skip_if is not None:
                    held = self.skip_if not in req
                else:
                    self.skip -= 1
                    held = self.skip < 0
        with self.count_lock:
            self.seen.append((target, held))
        if held:
            self.holding.set()
            time.sleep(self.hold)

    def relay(self, c):
        # Each request is read whole, held if it is a write to hold (on a
        # connection kept alive too), then passed on; the answers pass at
        # once.
        u = None
        buf = b""
        try:
            while True:
                req, buf = self.read_request(c, buf)
                if req is None:
                    break
                self.maybe_hold(req)
                if u is None:
                    u = socket.create_connection(("127.0.0.1",
                                                  self.upstream))
                    threading.Thread(target=self.back, args=(c, u),
                                     daemon=True).start()
                u.sendall(req)
            if u is not None and buf:
                u.sendall(buf)
        except OSError:
            pass
        finally:
            if u is None:
                c.close()
            else:
                try:
                    u.shutdown(socket.SHUT_WR)
                except OSError:
                    pass

    @staticmethod
    def back(c, u):
        try:
            while True:
                data = u.recv(65536)
                if not data:
                    break
                c.sendall(data)
        except OSError:
            pass
        finally:
            c.close()
            u.close()

    def close(self):
        # The accepting thread is woken (shutdown of a listening socket)
        # and gone before the descriptor is closed: a thread still inside
        # accept(2) when its number is given to the next test's relay
        # would take that relay's connections (seen: the next test's
        # write held here, 5 s, and never seen there).
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.server.join(10)
        self.sock.close()


class Fleet:
    """dynalite + the SigV4 front + IMDS (and awsmfa-netd with
    AMFA_TEST_NETD=1), for the whole file."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="amfa-fleet-")
        self.keys_file = os.path.join(self.tmp, "imds-keys.json")
        self.db = dynalite.Dynalite()
        self.db.create_table(TABLE, KEY)
        self.imds = Imds(self.keys_file)
        self.front = Front(self.db.port, keys={STATIC_AKID: STATIC_SECRET},
                           keys_file=self.keys_file)
        # AMFA_TEST_NETD=1: the bastions' table calls through awsmfa-netd
        # (tests/pam/test_pam_fleet_netd.py).
        self.netd = Netd() if os.environ.get("AMFA_TEST_NETD") else None

    def close(self):
        for c in ((self.netd.close,) if self.netd else ()) + (
                self.front.close, self.imds.close, self.db.stop):
            try:
                c()
            except Exception:
                pass
        shutil.rmtree(self.tmp, ignore_errors=True)

    def item(self, user):
        """The user's item as dynalite holds it ({name: value}), or None."""
        got = self.db.call("GetItem", {"TableName": TABLE,
                                       "Key": {KEY: {"S": user}},
                                       "ConsistentRead": True})
        if "Item" not in got:
            return None
        return {k: list(v.values())[0] for k, v in got["Item"].items()}


