"""awsmfa-netd, the network broker (awsmfa-netd(8)), with the built module
through the real libpam (pamtest) against the fleet's table on loopback
(dynalite behind ddb_front.py, signatures checked).

Shown: through the broker a login loads no network client (no libcurl in
its process) and opens no connection, and the broker keeps its own across
logins; with no broker at the socket (none there, or a stale one) the
login makes its calls itself; a listener that is not root's gets nothing
and the login is refused; only root's connections are served; a request
that is not one is answered as such and the broker goes on; connections
that send nothing hold no worker and are dropped; a broker that dies
while a write is out refuses the login (it is not made again in-process);
SIGTERM removes the socket.  The same fleet tests through the broker:
test_pam_fleet_netd.py."""

import os
import signal
import socket
import stat
import struct
import subprocess
import tempfile
import time
import unittest

import dynalite
from amfa_testlib import (PAM_AUTHINFO_UNAVAIL, PAM_SUCCESS, Tree, new_seed,
                          require_root, totp, wait_fresh_step)
from fleetlib import Fleet, Netd, SlowWrites, table_settings

FLEET = None
NOBODY = 65534
ANSWER_MAGIC = 0x31616d61
DDB_INTERNAL = 7


def setUpModule():
    global FLEET
    why = dynalite.available()
    if why:
        raise unittest.SkipTest(why)
    FLEET = Fleet()


def tearDownModule():
    if FLEET is not None:
        FLEET.close()


def wait_for(cond, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def as_nobody_in_child(fn):
    """fn(w) run as nobody in a forked child, writing what it saw to `w';
    (the child's pid, the pipe's reading end).  An exception is written
    as its repr."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            fn(w)
        except Exception as e:
            os.write(w, repr(e).encode())
        finally:
            os._exit(0)
    os.close(w)
    return pid, r


class NetdCase(unittest.TestCase):
    def setUp(self):
        FLEET.front.clear()
        FLEET.front.start_data()

    def netd(self, **kw):
        n = Netd(**kw)
        self.addCleanup(n.close)
        return n

    def bastion(self, socket_path, endpoint=None):
        tree = Tree()
        self.addCleanup(tree.cleanup)
        tree.store = os.path.join(tree.root, "run")
        settings = table_settings(FLEET, tree, netd_socket=socket_path)
        if endpoint:
            settings["dynamodb_endpoint"] = endpoint
        tree.write_config(settings)
        tree.service("awsmfa", ["auth required MODULE config=CONF"])
        return tree

    def user(self, tree):
        user = "netd%s" % os.urandom(4).hex()
        seed = new_seed()
        tree.enroll(user, seed=seed)
        return user, seed

    def login(self, tree, user, seed, extra=(), env=None):
        """One login with the current code; LD_DEBUG=libs tells what the
        login's process loaded."""
        wait_fresh_step(margin=5)
        prefix = ["env", "LD_DEBUG=libs"] + (
            ["%s=%s" % kv for kv in env.items()] if env else [])
        return tree.run("awsmfa", user, [totp(seed)], ["-N"] + list(extra),
                        prefix=prefix)

    @staticmethod
    def loaded_curl(res):
        return "libcurl.so" in res.log


class Through(NetdCase):
    def test_logins_through_the_broker_load_and_open_nothing(self):
        n = self.netd(workers=2)
        tree = self.bastion(n.socket)
        users = [self.user(tree) for _ in range(4)]
        FLEET.front.reset_stats()
        for user, seed in users:
            res = self.login(tree, user, seed)
            self.assertEqual(res.rc, PAM_SUCCESS, repr(res))
            self.assertFalse(self.loaded_curl(res),
                             "the login loaded libcurl:\n" + res.log[-3000:])
            self.assertIn("INET_SOCKETS 0\n", res.out)
        st = FLEET.front.stats()
        # Each login: its count (answered with the item) and its
        # acceptance.  The connections are the broker's, kept: at most
        # one per worker for all four logins.
        self.assertEqual(st["requests"], 8, st)
        self.assertLessEqual(st["connections"], 2, st)
        self.assertIn("UpdateItem awsmfa-state: ok", n.log())

    def test_no_broker_there_the_login_calls_itself(self):
        d = tempfile.mkdtemp(prefix="amfa-netd-none-")
        self.addCleanup(os.rmdir, d)
        tree = self.bastion(os.path.join(d, "socket"))
        user, seed = self.user(tree)
        res = self.login(tree, user, seed)
        self.assertEqual(res.rc, PAM_SUCCESS, repr(res))
        self.assertTrue(self.loaded_curl(res), "no broker: the plugin")

    def test_a_dead_brokers_socket_the_login_calls_itself(self):
        n = self.netd()
        n.stop(signal.SIGKILL)
        self.assertTrue(stat.S_ISSOCK(os.lstat(n.socket).st_mode),
                        "the killed broker's socket is left behind")
        tree = self.bastion(n.socket)
        user, seed = self.user(tree)
        res = self.login(tree, user, seed)
        self.assertEqual(res.rc, PAM_SUCCESS, repr(res))
        self.assertTrue(self.loaded_curl(res))

    def test_sigterm_removes_the_socket(self):
        n = self.netd()
        n.stop()
        self.assertFalse(os.path.lexists(n.socket))


class NotOurs(NetdCase):
    def test_a_listener_not_roots_gets_nothing(self):
        """Someone else's socket where the broker's should be: the login
        sends it nothing (the request names the module's key file) and
        is refused, not made in-process behind its back."""
        d = tempfile.mkdtemp(prefix="amfa-netd-planted-")
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", d]))
        os.chmod(d, 0o777)
        path = os.path.join(d, "socket")

        def listen(w):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            s.bind(path)
            s.listen(8)
            os.write(w, b"L")
            c, _ = s.accept()
            c.settimeout(20)
            try:
                got = c.recv(1 << 17)
            except socket.timeout:
                got = b""
            os.write(w, b"%d" % len(got))
        pid, r = as_nobody_in_child(listen)
        self.addCleanup(lambda: (os.kill(pid, signal.SIGKILL),
                                 os.waitpid(pid, 0)))
        self.assertEqual(os.read(r, 1), b"L")
        tree = self.bastion(path)
        user, seed = self.user(tree)
        res = self.login(tree, user, seed)
        self.assertEqual(res.rc, PAM_AUTHINFO_UNAVAIL, repr(res))
        self.assertIn("not root's", res.log)
        self.assertFalse(self.loaded_curl(res), "not made in-process")
        self.assertEqual(os.read(r, 16), b"0", "the listener got bytes")
        os.close(r)

    def test_only_roots_connections_are_served(self):
        n = self.netd()
        # Opened up by hand: the broker itself makes the socket 0600 in a
        # directory of 0700, so only its peer check is left to refuse.
        os.chmod(n.dir, 0o755)
        os.chmod(n.socket, 0o666)

        def ask(w):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            s.settimeout(30)
            s.connect(n.socket)
            # Refused: closed before the send (EPIPE), with the request
            # unread (ECONNRESET), or after it (0 bytes).
            try:
                s.send(self.request_get())
                got = s.recv(1 << 17)
                got = b"answered" if got else b"none: closed"
            except OSError as e:
                got = b"none: " + str(e).encode()
            os.write(w, got)
        pid, r = as_nobody_in_child(ask)
        got = os.read(r, 256)
        os.close(r)
        os.waitpid(pid, 0)
        self.assertTrue(got.startswith(b"none"),
                        "nobody's connection: %r" % got)
        self.assertTrue(wait_for(lambda: "only root's are served" in n.log()),
                        n.log())
        # Root's own request on the same socket is answered.
        self.assertEqual(self.ask(n.socket, self.request_get())[:4],
                         struct.pack("<I", ANSWER_MAGIC))

    @staticmethod
    def request_get():
        """A GetItem as the module encodes it (net/broker_wire.h)."""
        def s(v):
            if v is None:
                return struct.pack("<I", 0)
            b = v.encode() + b"\0"
            return struct.pack("<I", len(b)) + b
        return (struct.pack("<II", 0x31716d61, 1) +
                s(FLEET.front.url) + s("us-east-1") + s("awsmfa-state") +
                s(None) + struct.pack("<Q", 3000) + s(None) +
                s(FLEET.imds.url) + s(None) +
                s("amfa_user") + struct.pack("<I", 0) + s("nobody-at-all"))

    @staticmethod
    def ask(path, msg):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.settimeout(60)
        s.connect(path)
        s.send(msg)
        try:
            return s.recv(1 << 17)
        finally:
            s.close()

    def test_a_request_that_is_not_one(self):
        n = self.netd()
        good = self.request_get()
        for bad in (b"", b"x", good[:-1], good + b"\0", good[:4] +
                    struct.pack("<I", 99) + good[8:]):
            got = self.ask(n.socket, bad) if bad else b""
            if bad:
                magic, result = struct.unpack("<II", got[:8])
                self.assertEqual((magic, result), (ANSWER_MAGIC,
                                                   DDB_INTERNAL), bad[:16])
        self.assertIn("a request that is not one", n.log())
        # The good one: GetItem of no such item is NO_ITEM (1), tries 1.
        got = self.ask(n.socket, good)
        self.assertEqual(struct.unpack("<II", got[:8]), (ANSWER_MAGIC, 1))

    def test_silent_connections_hold_no_worker(self):
        """Twenty connections that never send (a login stopped after its
        connect): the one worker still serves a login, and the broker
        drops them."""
        n = self.netd(workers=1)
        silent = []
        for _ in range(20):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            s.connect(n.socket)
            silent.append(s)
        tree = self.bastion(n.socket)
        user, seed = self.user(tree)
        res = self.login(tree, user, seed)
        self.assertEqual(res.rc, PAM_SUCCESS, repr(res))
        self.assertFalse(self.loaded_curl(res))
        for s in silent:
            s.settimeout(120)
            self.assertEqual(s.recv(16), b"", "dropped, with no answer")
            s.close()


class Dies(NetdCase):
    def test_broker_killed_while_a_write_is_out(self):
        """The acceptance held in the relay and the broker killed: the
        login has no answer and is refused; it does not make the write
        again itself."""
        slow = SlowWrites(FLEET.front.port, 30, skip=1)
        self.addCleanup(slow.close)
        n = self.netd()
        tree = self.bastion(n.socket, endpoint=slow.url)
        user, seed = self.user(tree)
        wait_fresh_step(margin=10)
        p = subprocess.Popen(
            [os.environ["AMFA_PAMTEST"], "-N", tree.pamd, "awsmfa", user],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
            env=dict(os.environ, LD_DEBUG="libs"))
        p.stdin.write(totp(seed) + "\n")
        p.stdin.close()
        self.assertTrue(slow.holding.wait(60), "the write never came")
        n.stop(signal.SIGKILL)
        rc, out, log = Tree.finish(p, timeout=120)
        self.assertEqual(rc, PAM_AUTHINFO_UNAVAIL, out + log)
        self.assertIn("no answer", log)
        self.assertNotIn("libcurl.so", log, "made again in-process")


if __name__ == "__main__":
    require_root()
    unittest.main(verbosity=2)
