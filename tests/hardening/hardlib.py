"""Shared helpers of the hardening tests: state snapshots (a state file is
compared before and after every bad input), a loopback HTTP server that
answers STS calls with canned bytes, and the time step arithmetic."""

import os
import socket
import stat
import threading
import time

from amfa_testlib import state_text_of

STEP = 30


def step_now():
    return int(time.time()) // STEP


def state_text(last_step, failures=0, locked_until=0, last_success=0,
               tokens=()):
    lines = ["version 1", "last_step %d" % last_step,
             "failures %d" % failures, "locked_until %d" % locked_until,
             "last_success %d" % last_success]
    lines += ["token %s %d %d" % t for t in tokens]
    return "\n".join(lines + ["end"]) + "\n"


def parse_state(text):
    """The fields of a state file, strictly (None if it does not parse):
    its text, or the current slot's (amfa_testlib.state_text_of)."""
    text = state_text_of(text)
    if text is None:
        return None
    lines = text.split("\n")
    if not text.endswith("\n") or lines[0] != "version 1":
        return None
    out = {"tokens": []}
    for line in lines[1:-1]:
        if line == "end":
            break
        k, _, v = line.partition(" ")
        if k == "token":
            out["tokens"].append(v)
        elif k == "recovery_used":
            out[k] = v
        else:
            out[k] = int(v)
    else:
        return None
    return out


def snapshot(directory):
    """Every entry of a directory: name -> (type, mode, uid, nlink, bytes)."""
    snap = {}
    if not os.path.isdir(directory):
        return snap
    for name in sorted(os.listdir(directory)):
        p = os.path.join(directory, name)
        st = os.lstat(p)
        data = None
        if stat.S_ISREG(st.st_mode):
            with open(p, "rb") as f:
                data = f.read()
        elif stat.S_ISLNK(st.st_mode):
            data = os.readlink(p).encode()
        snap[name] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode),
                      st.st_uid, st.st_nlink, data)
    return snap


def tree_snapshot(root):
    """Every path under root (for "nothing outside was touched")."""
    out = {}
    for d, dirs, files in os.walk(root):
        for name in dirs + files:
            p = os.path.join(d, name)
            st = os.lstat(p)
            data = None
            if stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    data = f.read()
            # Not the link count: a planted hard link is the test's own.
            out[p] = (st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns,
                      data)
    return out


class CannedServer:
    """HTTP on 127.0.0.1 that reads each request (head and Content-Length
    body) and answers with `self.answer', raw bytes sent as they are (so a
    test can send truncated, oversized or malformed answers), then closes.
    `answer' may also be a callable taking the socket."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.url = "http://127.0.0.1:%d/" % self.port
        self.answer = b""
        self.requests = []
        self.stopping = False
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    @staticmethod
    def http(status, body, ctype="text/xml", extra=(), length=None):
        if isinstance(body, str):
            body = body.encode()
        head = ["HTTP/1.1 %s" % status, "Content-Type: " + ctype,
                "Connection: close"]
        head.append("Content-Length: %d" % (len(body) if length is None
                                            else length))
        head += list(extra)
        return ("\r\n".join(head) + "\r\n\r\n").encode() + body

    def loop(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if self.stopping:
                conn.close()
                return
            threading.Thread(target=self.serve, args=(conn,),
                             daemon=True).start()

    def serve(self, conn):
        try:
            conn.settimeout(10)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            while len(body) < length:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                body += chunk
            self.requests.append((head, body))
            if callable(self.answer):
                self.answer(conn)
            else:
                conn.sendall(self.answer)
        except OSError:
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def stop(self):
        # Woken and gone before the descriptor is closed (a thread still in
        # accept(2) when the number goes to the next server would take its
        # connections): as fleetlib.SlowWrites.close.
        self.stopping = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.thread.join(10)
        self.sock.close()
