#!/usr/bin/python3
"""Relay throughput on loopback: the gateway's relay against socat.

Each run moves SIZE bytes through the relay under test, once from the
client to the target (upload) and once back (download).  The far ends are
the same for both programs: dd producing zeros into a pipe and a socat on
127.0.0.1 sinking or sourcing them, so only the relay in the middle
differs.  Prints MB/s; a benchmark, not a pass/fail test.

usage: bench_gw_relay.py BENCH_BINARY [SIZE_MIB]
"""
import os
import socket
import subprocess
import sys
import time

BLOCK = 1 << 20


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listen(port):
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), 0.1).close()
            return
        except OSError:
            time.sleep(0.02)
    raise SystemExit("far end did not start")


def run(relay_argv, mib, direction):
    """Wall-clock MB/s and the relay's own CPU seconds (user + system)."""
    port = free_port()
    dd_src = ["dd", "if=/dev/zero", "bs=1M", "count=%d" % mib, "status=none"]
    if direction == "upload":
        far = subprocess.Popen(
            ["socat", "-u", "-b", str(BLOCK),
             "TCP-LISTEN:%d,bind=127.0.0.1,reuseaddr" % port, "OPEN:/dev/null"])
    else:
        far = subprocess.Popen(
            "%s | socat -u -b %d STDIN TCP-LISTEN:%d,bind=127.0.0.1,reuseaddr"
            % (" ".join(dd_src), BLOCK, port), shell=True)
    # socat's TCP-LISTEN accepts once; a probe would use it up.
    time.sleep(0.3)
    t0 = time.monotonic()
    if direction == "upload":
        src = subprocess.Popen(dd_src, stdout=subprocess.PIPE)
        relay = subprocess.Popen(relay_argv(port), stdin=src.stdout,
                                 stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        src.stdout.close()
        others = [src]
    else:
        relay = subprocess.Popen(relay_argv(port), stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL)
        sink = subprocess.Popen(["dd", "of=/dev/null", "bs=1M", "status=none"],
                                stdin=relay.stdout)
        relay.stdout.close()
        others = [sink]
    _, status, ru = os.wait4(relay.pid, 0)
    relay.returncode = status
    for p in others:
        p.wait()
    far.wait(timeout=120)
    dt = time.monotonic() - t0
    if status != 0:
        raise SystemExit("relay failed: %r" % relay_argv(port))
    return mib * BLOCK / dt / 1e6, ru.ru_utime + ru.ru_stime


def main():
    bench = sys.argv[1]
    mib = int(sys.argv[2]) if len(sys.argv) > 2 else 1024
    progs = {
        "awsmfa-gateway relay": lambda p: [bench, "127.0.0.1", str(p)],
        "socat -b 1MiB": lambda p: ["socat", "-b", str(BLOCK), "STDIO",
                                    "TCP:127.0.0.1:%d" % p],
        "socat (default)": lambda p: ["socat", "STDIO",
                                      "TCP:127.0.0.1:%d" % p],
    }
    print("%d MiB through each relay on loopback, best of 3 "
          "(wall-clock rate; CPU seconds of the relay process)" % mib)
    for direction in ("upload", "download"):
        for name, fn in progs.items():
            runs = [run(fn, mib, direction) for _ in range(3)]
            rate = max(r[0] for r in runs)
            cpu = min(r[1] for r in runs)
            print("%-9s %-22s %8.0f MB/s %7.2f s CPU" % (direction, name,
                                                         rate, cpu))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
