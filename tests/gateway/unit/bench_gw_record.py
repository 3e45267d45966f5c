#!/usr/bin/python3
"""Throughput of a recorded shell against an unrecorded one.

A pseudo-terminal stands for the client's terminal (sshd's).  On it runs
either /bin/sh itself (what the gateway execs for a shell that is not
recorded) or the recorded session of bench_gw_record (a pty of its own,
copied and written as asciicast); the shell is told `cat FILE; exit' and
the time runs until the last byte has come out of the client's terminal.
FILE is SIZE MiB of text lines.  Prints MB/s and the recording's size; a
benchmark, not a pass/fail test.

usage: bench_gw_record.py BENCH_BINARY [SIZE_MIB] [WORK_DIR]
"""
import fcntl
import os
import random
import string
import struct
import subprocess
import sys
import tempfile
import termios
import time


def run(bench, arg, data, size):
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    attrs = termios.tcgetattr(slave)
    attrs[3] &= ~termios.ECHO
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    proc = subprocess.Popen([bench, arg], stdin=slave, stdout=slave,
                            stderr=slave, start_new_session=True)
    os.close(slave)
    time.sleep(0.3)
    t0 = time.monotonic()
    os.write(master, b"cat %s; exit\n" % data.encode())
    got = 0
    while True:
        try:
            b = os.read(master, 1 << 16)
        except OSError:
            break
        if not b:
            break
        got += len(b)
    proc.wait(timeout=300)
    dt = time.monotonic() - t0
    os.close(master)
    if got < size:
        raise SystemExit("%s: only %d of %d bytes came out" % (arg, got, size))
    return size / dt / 1e6


def main():
    bench = sys.argv[1]
    mib = int(sys.argv[2]) if len(sys.argv) > 2 else 256
    work = tempfile.mkdtemp(prefix="amfa-gwrecbench-",
                            dir=sys.argv[3] if len(sys.argv) > 3 else None)
    data = os.path.join(work, "data.txt")
    rng = random.Random(1)
    line = "".join(rng.choice(string.ascii_letters + " ")
                   for _ in range(99)) + "\n"
    with open(data, "w") as f:
        for _ in range(mib * 1024 * 1024 // len(line)):
            f.write(line)
    size = os.path.getsize(data)
    cast = os.path.join(work, "session.cast")
    print("cat of %d MiB of text lines through a pty, best of 3 "
          "(wall-clock rate)" % mib)
    for name, arg in (("unrecorded (shell exec'd)", "-"),
                      ("recorded (asciicast)", cast)):
        rate = max(run(bench, arg, data, size) for _ in range(3))
        extra = ""
        if arg != "-":
            extra = "  recording %d MB" % (os.path.getsize(cast) // 10**6)
        print("%-26s %8.0f MB/s%s" % (name, rate, extra))
        sys.stdout.flush()
    for f in (data, cast):
        if os.path.exists(f):
            os.unlink(f)
    os.rmdir(work)


if __name__ == "__main__":
    main()
