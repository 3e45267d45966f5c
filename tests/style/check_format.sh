#!/bin/sh
# check_format.sh SOURCE_ROOT: every C file git tracks (and every new one
# not ignored) is formatted as .clang-format says, with Debian 12's
# clang-format (14).  Non-zero, naming each file and line, if one is not:
# run `clang-format -i FILE` on it.  Nobody formats by hand.
set -eu
cd "$1"
command -v clang-format >/dev/null || {
	echo "check_format: clang-format is not installed (tests/debian-packages)" >&2
	exit 1
}
files=$(git ls-files --cached --others --exclude-standard -- '*.c' '*.h')
[ -n "$files" ] || { echo "check_format: no C files found" >&2; exit 1; }
# shellcheck disable=SC2086
clang-format --dry-run --Werror $files
echo "check_format: $(echo "$files" | wc -l) files formatted"
