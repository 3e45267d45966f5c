"""The layout of pam_awsmfa/ (README, "What is here"): one folder per
concern, and includes that run one way only.

    pam/, admin/       the PAM glue and the admin program
    (the top level)    the core: config, users, state, the decisions, TOTP,
                       files, logging, audit
    net/               the boundary to the network clients
    creds/, yubikey/   session credentials; YubiKey OTPs and validation
    aws/               the AWS clients (SigV4, query, STS, profiles, HTTP)

A file includes headers of its own folder, of the core, and of folders
below its own; never of a folder above it or beside it.  The core includes
no glue.  Cross-folder includes name the folder ("aws/sts.h"); nothing
reaches up with "../".

Usage: check_layout.py [SOURCE_ROOT]   (exit 1 and a line per violation)
       check_layout.py --self-test     (the rules catch planted violations)
"""

import os
import re
import shutil
import sys
import tempfile

RANK = {"pam": 0, "admin": 0, "net": 1, "creds": 2, "yubikey": 2, "aws": 3}
GLUE = {"pam", "admin"}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def violations(root):
    top = os.path.join(root, "pam_awsmfa")
    found = []
    folders = sorted(d for d in os.listdir(top)
                     if os.path.isdir(os.path.join(top, d)))
    for d in folders:
        if d not in RANK:
            found.append("pam_awsmfa/%s/: a folder the layout does not name"
                         % d)
    for dirpath, _, names in os.walk(top):
        rel = os.path.relpath(dirpath, top)
        here = "" if rel == "." else rel.split(os.sep)[0]
        for name in sorted(names):
            if not name.endswith((".c", ".h")):
                continue
            path = os.path.join(dirpath, name)
            shown = os.path.relpath(path, root)
            with open(path, encoding="utf-8") as f:
                text = f.read()
            for m in INCLUDE.finditer(text):
                line = text.count("\n", 0, m.start()) + 1
                where = "%s:%d" % (shown, line)
                target = m.group(1)
                if ".." in target.split("/"):
                    found.append('%s: "%s" reaches up with ../' % (where,
                                                                   target))
                    continue
                if "/" in target:
                    folder = target.split("/")[0]
                    if not os.path.exists(os.path.join(top, target)):
                        found.append('%s: "%s" does not exist' % (where,
                                                                  target))
                        continue
                elif os.path.exists(os.path.join(dirpath, target)):
                    folder = here
                elif os.path.exists(os.path.join(top, target)):
                    folder = ""
                else:
                    found.append('%s: "%s" is neither in this folder nor in '
                                 'the core' % (where, target))
                    continue
                if folder == here or folder == "":
                    continue
                if here == "":
                    if folder in GLUE:
                        found.append('%s: the core includes the glue "%s"'
                                     % (where, target))
                    continue
                if RANK[folder] <= RANK[here]:
                    found.append('%s: %s/ includes "%s", a folder above or '
                                 'beside it' % (where, here, target))
    return found


def self_test():
    """Plant each kind of violation in a copy and expect it reported."""
    src = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    plants = [
        ("pam_awsmfa/aws/sigv4.c", '#include "yubikey/ykotp.h"\n',
         "a folder above or beside it"),
        ("pam_awsmfa/creds/creds.c", '#include "yubikey/ykotp.h"\n',
         "a folder above or beside it"),
        ("pam_awsmfa/auth.c", '#include "pam/pam_args.h"\n',
         "the core includes the glue"),
        ("pam_awsmfa/aws/http.c", '#include "../log.h"\n',
         "reaches up with ../"),
        ("pam_awsmfa/aws/http.c", '#include "ykotp.h"\n',
         "neither in this folder nor in the core"),
    ]
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, "src")
        shutil.copytree(os.path.join(src, "pam_awsmfa"),
                        os.path.join(copy, "pam_awsmfa"))
        base = violations(copy)
        if base:
            print("not ok - the tree itself has violations:\n  " +
                  "\n  ".join(base))
            return 1
        for path, line, want in plants:
            p = os.path.join(copy, path)
            with open(p) as f:
                orig = f.read()
            with open(p, "w") as f:
                f.write(orig + line)
            got = violations(copy)
            with open(p, "w") as f:
                f.write(orig)
            if len(got) == 1 and want in got[0]:
                print("ok - %s + %s" % (path, line.strip()))
            else:
                print("not ok - %s + %s: %r" % (path, line.strip(), got))
                failures += 1
    return 1 if failures else 0


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    root = argv[1] if len(argv) > 1 else "."
    found = violations(root)
    for v in found:
        print(v)
    if not found:
        print("layout: every include runs one way")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
