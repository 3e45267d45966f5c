"""The layout of pam_awsmfa/ and gateway/ (README, "What is here"): one
folder per concern, and includes that run one way only.

pam_awsmfa/, from the top of the arrows to their end:

    pam/, admin/,      the PAM glue, the admin program, the set-user-ID
    chkcode/,          code checker for the module run by a user, and the
    evidence/,         evidence uploader and the audit chain's record
                       writer (awsmfa-evidence, awsmfa-audit-writer),
    netd/              the network broker for the module's table calls
                       (awsmfa-netd)
    decision/          which factor a code is, the one run that applies the
                       lockout, checks the code and records the attempt
    factors/, store/   how a code is checked (TOTP, base32, recovery codes);
                       where the attempt is recorded (state files, the table)
    net/               the boundary to the network clients (in-process,
                       or through the broker: its messages and client)
    creds/, yubikey/   session credentials; YubiKey OTPs and validation
    aws/               the AWS clients (SigV4, query, STS, DynamoDB, HTTP)
    (the top level)    the base every folder may use: configuration,
                       enrolment files, careful files, logging, audit

A file includes headers of its own folder, of the base, and of folders
below its own; never of a folder above it or beside it.  The base includes
no folder but those whose types an enrolment holds (factors/, creds/,
yubikey/: user.h).  Cross-folder includes name the folder ("aws/sts.h");
nothing reaches up with "../".

gateway/, the same way:

    (the top level)    the gateway program: configuration, policy, the
                       user's command, dial and relay, audit
    recording/         recorded shells and the set-user-ID recorder
    setid/             what both set-id programs do first

A gateway file includes headers of its own folder, of gateway folders
below its own, and of pam_awsmfa's base (never of a pam_awsmfa folder).
Folders with no C in them (gateway/demo/) are not ranked.

Usage: check_layout.py [SOURCE_ROOT]   (exit 1 and a line per violation)
       check_layout.py --self-test     (the rules catch planted violations)
"""

import os
import re
import shutil
import sys
import tempfile

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)

# tree -> (rank of each folder, the top level's rank, the folders the top
# level may include, the folders whose files are glue)
TREES = {
    "pam_awsmfa": {
        "rank": {"pam": 0, "admin": 0, "chkcode": 0, "evidence": 0,
                 "netd": 0,
                 "decision": 1, "factors": 2, "store": 2, "net": 3,
                 "creds": 4, "yubikey": 4, "aws": 5},
        "top_may": {"factors", "creds", "yubikey"},
        "top_is": "the base",
        "top_is_base": True,
    },
    "gateway": {
        "rank": {"recording": 1, "setid": 2},
        "top_may": None,  # the program: any folder of its own below it
        "top_is": "the program",
        "top_is_base": False,
        "unranked": {"demo"},
    },
}


def c_files(top):
    for dirpath, _, names in os.walk(top):
        for name in sorted(names):
            if name.endswith((".c", ".h")):
                yield dirpath, name


def resolve(root, tree, top, dirpath, here, target):
    """(tree, folder) an include names, or an error string."""
    if ".." in target.split("/"):
        return 'reaches up with ../'
    core = os.path.join(root, "pam_awsmfa")
    if "/" in target:
        folder = target.split("/")[0]
        if os.path.exists(os.path.join(top, target)):
            return (tree, folder)
        if tree == "gateway" and os.path.exists(os.path.join(core, target)):
            return ("pam_awsmfa", folder)
        return 'does not exist'
    if os.path.exists(os.path.join(dirpath, target)):
        return (tree, here)
    if os.path.exists(os.path.join(top, target)):
        return (tree, "")
    if tree == "gateway" and os.path.exists(os.path.join(core, target)):
        return ("pam_awsmfa", "")
    return 'is neither in this folder nor in the base'


def violations(root):
    found = []
    for tree, rules in TREES.items():
        top = os.path.join(root, tree)
        rank = rules["rank"]
        unranked = rules.get("unranked", set())
        for d in sorted(os.listdir(top)):
            if (os.path.isdir(os.path.join(top, d)) and d not in rank and
                    d not in unranked):
                found.append("%s/%s/: a folder the layout does not name"
                             % (tree, d))
        for dirpath, name in c_files(top):
            rel = os.path.relpath(dirpath, top)
            here = "" if rel == "." else rel.split(os.sep)[0]
            path = os.path.join(dirpath, name)
            shown = os.path.relpath(path, root)
            with open(path, encoding="utf-8") as f:
                text = f.read()
            for m in INCLUDE.finditer(text):
                line = text.count("\n", 0, m.start()) + 1
                where = "%s:%d" % (shown, line)
                target = m.group(1)
                r = resolve(root, tree, top, dirpath, here, target)
                if isinstance(r, str):
                    found.append('%s: "%s" %s' % (where, target, r))
                    continue
                t, folder = r
                if t != tree:
                    # the gateway includes pam_awsmfa: its base only
                    if folder != "":
                        found.append('%s: "%s" is in a folder of '
                                     'pam_awsmfa/, not its base'
                                     % (where, target))
                    continue
                if folder == here:
                    continue
                if folder == "":
                    if not rules["top_is_base"]:
                        found.append('%s: %s/ includes "%s" of %s, above '
                                     'it' % (where, here, target,
                                             rules["top_is"]))
                    continue
                if here == "":
                    may = rules["top_may"]
                    if may is not None and folder not in may:
                        found.append('%s: %s includes "%s", a folder it '
                                     'may not reach' % (where,
                                                        rules["top_is"],
                                                        target))
                    continue
                if rank[folder] <= rank[here]:
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
        ("pam_awsmfa/store/state.c", '#include "factors/totp.h"\n',
         "a folder above or beside it"),
        ("pam_awsmfa/factors/totp.c", '#include "decision/auth.h"\n',
         "a folder above or beside it"),
        ("pam_awsmfa/config.c", '#include "pam/pam_args.h"\n',
         "a folder it may not reach"),
        ("pam_awsmfa/log.c", '#include "store/store.h"\n',
         "a folder it may not reach"),
        ("pam_awsmfa/aws/http.c", '#include "../log.h"\n',
         "reaches up with ../"),
        ("pam_awsmfa/aws/http.c", '#include "ykotp.h"\n',
         "neither in this folder nor in the base"),
        ("gateway/recording/recording.c", '#include "policy.h"\n',
         "of the program, above it"),
        ("gateway/recording/recording.c", '#include "nosuch.h"\n',
         "neither in this folder nor in the base"),
        ("gateway/setid/startup.c", '#include "recording/recording.h"\n',
         "a folder above or beside it"),
        ("gateway/recording/asciicast.c", '#include "store/state.h"\n',
         "a folder of pam_awsmfa/, not its base"),
    ]
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, "src")
        for tree in TREES:
            shutil.copytree(os.path.join(src, tree),
                            os.path.join(copy, tree))
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
        # A folder nobody named.
        os.mkdir(os.path.join(copy, "gateway", "extra"))
        got = violations(copy)
        if len(got) == 1 and "does not name" in got[0]:
            print("ok - gateway/extra/ is refused")
        else:
            print("not ok - gateway/extra/: %r" % got)
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
