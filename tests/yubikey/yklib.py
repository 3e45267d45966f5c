"""Helpers for the YubiKey tests: the yktest driver, ykgenerate, and the
local validation server (tests/fixtures/ykval_server.py)."""

import json
import os
import secrets
import subprocess
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
YKTEST = os.environ.get("AMFA_YKTEST", os.path.join(HERE, "yktest"))
SERVER = os.environ.get("AMFA_YKVAL_SERVER",
                        os.path.join(HERE, "..", "fixtures", "ykval_server.py"))
PYTHON = "/usr/bin/python3"
MODHEX = "cbdefghijklnrtuv"
DVORAK = "jxe.uidchtnbpygk"


def modhex(n):
    """n random modhex characters."""
    return "".join(secrets.choice(MODHEX) for _ in range(n))


def to_dvorak(s):
    return s.translate(str.maketrans(MODHEX, DVORAK))


def crc_valid(key, otp):
    """Whether the last 32 modhex characters of `otp' decrypt under `key'
    (hex) to a block with a good CRC: checked independently of the code
    under test, with the openssl program's AES and the CRC-16 of the
    YubiKey manual.  A wrong key or a changed character passes by chance
    once in 65,536; tests that expect a refusal pick their inputs with
    this, so that they cannot fail on that chance."""
    block = bytes.fromhex(otp[-32:].translate(str.maketrans(MODHEX,
                                                            "0123456789abcdef")))
    plain = subprocess.run(
        ["openssl", "enc", "-d", "-aes-128-ecb", "-nopad", "-K", key],
        input=block, check=True, capture_output=True).stdout
    crc = 0xffff
    for b in plain:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x8408 if crc & 1 else 0)
    return crc == 0xf0b8


def key_that_fails(otp, avoid):
    """A random AES key other than `avoid' under which `otp' does not
    decrypt (see crc_valid)."""
    while True:
        key = secrets.token_hex(16)
        if key != avoid and not crc_valid(key, otp):
            return key


def changed_at(otp, i, key):
    """`otp' with the character at `i' changed so that it no longer decrypts
    under `key' (see crc_valid)."""
    i %= len(otp)
    for c in MODHEX:
        bad = otp[:i] + c + otp[i + 1:]
        if c != otp[i] and not crc_valid(key, bad):
            return bad
    raise AssertionError("no character at %d breaks the CRC" % i)


class Token:
    """A YubiKey made up at test time: random public id, AES key, private id."""

    def __init__(self, public_id=None, key=None, uid=None):
        self.public_id = public_id or modhex(12)
        self.key = key or secrets.token_hex(16)
        self.uid = uid or secrets.token_hex(6)

    @property
    def spec(self):
        return "%s:%s:%s" % (self.public_id, self.key, self.uid)

    def otp(self, session, use, capslock=False, tstp=0x123456):
        """An OTP from ykgenerate (libyubikey's encoder) for these counters."""
        ctr = session | (0x8000 if capslock else 0)
        block = subprocess.run(
            ["ykgenerate", self.key, self.uid, "%04x" % ctr, "%04x" % (tstp & 0xffff),
             "%02x" % (tstp >> 16 & 0xff), "%02x" % use],
            check=True, capture_output=True, text=True).stdout.strip()
        assert len(block) == 32 and set(block) <= set(MODHEX), block
        return self.public_id + block


def yktest(*args, env=None, timeout=60):
    """Run the driver; returns (stdout line, stderr text)."""
    full_env = dict(os.environ)
    full_env.pop("AMFA_YKVAL_KEY", None)
    full_env.update(env or {})
    p = subprocess.run([YKTEST] + list(args), capture_output=True, text=True,
                       env=full_env, timeout=timeout)
    if p.returncode != 0:
        raise AssertionError("yktest %s: exit %d: %s" % (args[0], p.returncode, p.stderr))
    return p.stdout.strip(), p.stderr


class ValidationServer:
    """ykval_server.py on an ephemeral loopback port."""

    def __init__(self, db, tls=None):
        self.dir = tempfile.mkdtemp(prefix="ykval-")
        self.db_path = os.path.join(self.dir, "db.json")
        self.write_db(db)
        port_file = os.path.join(self.dir, "port")
        args = [PYTHON, SERVER, "--db", self.db_path, "--port-file", port_file]
        if tls:
            args += ["--tls-cert", tls[0], "--tls-key", tls[1]]
        self.log_path = os.path.join(self.dir, "server.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.time() + 10
        while not os.path.exists(port_file):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("ykval_server did not start: %s" % self.log_text())
            time.sleep(0.02)
        with open(port_file) as f:
            self.port = int(f.read())
        scheme = "https" if tls else "http"
        self.base = "%s://127.0.0.1:%d" % (scheme, self.port)
        self.control_base = self.base
        self.url = self.base + "/wsapi/2.0/verify"
        self.tls = tls

    def write_db(self, db):
        tmp = self.db_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(db, f)
        os.replace(tmp, self.db_path)

    def _call(self, path, body=None):
        import ssl
        ctx = None
        if self.tls:
            ctx = ssl.create_default_context(cafile=self.tls[2])
        req = urllib.request.Request(self.base + path, data=body,
                                     method="POST" if body is not None else "GET")
        with urllib.request.urlopen(req, timeout=10, context=ctx) as r:
            return json.loads(r.read() or b"{}")

    def fault(self, kind, **options):
        options["fault"] = kind
        self._call("/__control", json.dumps(options).encode())

    def reset(self):
        self._call("/__reset", b"")

    def requests(self):
        return self._call("/__requests")

    def log_text(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def free_port():
    """A loopback port with nothing listening (bound, then closed)."""
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
