"""No loop between files: in the built objects of pam_awsmfa/ and gateway/,
a file that calls (or reads) a symbol another file defines depends on it,
and no chain of such dependencies comes back to where it started.  (Two
files that call each other are one concern split in two, or two concerns
tangled: either way a reader cannot take one without the other.)

The symbols come from `nm' on the object files of the build, so what is
checked is what the compiler made, macros and all.

Usage: check_calls.py BUILD_ROOT              (exit 1 and a line per loop)
       check_calls.py --self-test BUILD_ROOT  (a planted loop is caught)
"""

import collections
import os
import subprocess
import sys

TREES = ("pam_awsmfa", "gateway")


def objects(build):
    for tree in TREES:
        for dirpath, _, names in os.walk(os.path.join(build, tree)):
            for name in sorted(names):
                if name.endswith(".c.o"):
                    yield os.path.join(dirpath, name)


def source_name(build, obj):
    """pam_awsmfa/admin/awsmfa.p/enroll.c.o -> pam_awsmfa/admin/enroll.c;
    meson names objects of a library in a parent folder after the path
    (libawsmfa_core_local.a.p/decision_auth.c.o): the folder is kept as
    meson wrote it, which is enough to tell files apart."""
    rel = os.path.relpath(obj, build)[:-2]
    parts = rel.split(os.sep)
    return "/".join(p for p in parts if not p.endswith(".p"))


def graph(build):
    defs = collections.defaultdict(set)
    uses = collections.defaultdict(set)
    names = set()
    for obj in objects(build):
        name = source_name(build, obj)
        names.add(name)
        out = subprocess.run(["nm", obj], capture_output=True, text=True,
                             check=True).stdout
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1] in "TDBRGSV":
                defs[parts[2]].add(name)
            elif len(parts) == 2 and parts[0] in ("U", "w"):
                uses[name].add(parts[1])
    edges = collections.defaultdict(set)
    for name, syms in uses.items():
        for s in syms:
            for d in defs.get(s, ()):
                # a symbol defined in several programs' objects (main):
                # only a definition in the same program's folder counts
                if d != name:
                    edges[name].add(d)
    return names, edges


def loops(names, edges):
    """Strongly connected components of more than one file (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        work = [(v, iter(sorted(edges.get(v, ()))))]
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        while work:
            node, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges.get(w, ())))))
                    advanced = True
                    break
                if w in on:
                    low[node] = min(low[node], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))

    for v in sorted(names):
        if v not in index:
            visit(v)
    return found


def main(argv):
    if len(argv) == 3 and argv[1] == "--self-test":
        names, edges = graph(argv[2])
        if not any(edges.values()):
            print("not ok - no calls between files found: nothing built?")
            return 1
        if loops(names, edges):
            print("not ok - the build itself has loops")
            return 1
        a = sorted(k for k in edges if edges[k])[0]
        b = sorted(edges[a])[0]
        edges[b].add(a)
        got = loops(names, edges)
        if len(got) == 1 and a in got[0] and b in got[0]:
            print("ok - a planted call %s -> %s is a loop" % (b, a))
            return 0
        print("not ok - planted %s -> %s: %r" % (b, a, got))
        return 1
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    names, edges = graph(argv[1])
    if not names:
        print("check_calls: no objects under %s" % argv[1])
        return 1
    found = loops(names, edges)
    for comp in found:
        print("a loop between files: " + ", ".join(comp))
    if not found:
        print("calls: no loop between %d files" % len(names))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
