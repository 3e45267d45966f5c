"""Sweeps over a range (file sizes, offsets, kills) that a sanitizer build
cannot afford whole on a loaded 2-core machine.

In a plain build a sweep covers every value.  In an AddressSanitizer build
it covers every STRIDE-th value, starting at one picked by a seed, plus the
values a test names as always covered (the ends, the boundaries): STRIDE
runs with the seeds 0 .. STRIDE-1 cover the whole range.  Each sweep prints
which part it covers and its seed.

  AMFA_SWEEP_SEED=N   use seed N (to repeat a run that failed)
  AMFA_SWEEP=full     every value, in any build"""

import os
import random
import sys


def sanitized(program):
    """Whether `program' (an executable or module of this build) is built
    with AddressSanitizer."""
    with open(program, "rb") as f:
        return b"__asan_init" in f.read()


def sweep_seed():
    """AMFA_SWEEP_SEED, or a random seed: one for the whole run."""
    global SEED
    if SEED is None:
        text = os.environ.get("AMFA_SWEEP_SEED", "")
        SEED = (int(text) if text else
                random.SystemRandom().randrange(1 << 16))
    return SEED


SEED = None


def sweep(name, values, program, stride, always=(), part=0):
    """The part of `values' this run covers (in their order): all of them
    in a plain build of `program' or with AMFA_SWEEP=full; else every
    stride-th one from a seeded start, plus those in `always'.  Sweeps of
    one run over like ranges pass part = 0, 1, ... to start apart."""
    values = list(values)
    if os.environ.get("AMFA_SWEEP") == "full" or not sanitized(program):
        print("%s: full sweep, %d values" % (name, len(values)),
              file=sys.stderr, flush=True)
        return values
    seed = sweep_seed()
    start = (seed + part) % stride
    keep = set(always)
    part = [v for i, v in enumerate(values)
            if i % stride == start or v in keep]
    print("%s: sanitizer build: every %dth of %d values from index %d, "
          "and %d named ones: %d values (AMFA_SWEEP_SEED=%d repeats it, "
          "AMFA_SWEEP=full runs all)"
          % (name, stride, len(values), start, len(keep), len(part), seed),
          file=sys.stderr, flush=True)
    return part
