#!/usr/bin/env bash
# Runs cppcheck (Debian's, from scripts/setup.sh) over every C source in
# src/ and hdf5/ (the folders, so files added later are checked too) and
# fails on any finding that scripts/cppcheck.supp does not suppress with a
# reason. Run by scripts/test.sh. A finding is fixed in the code, or
# suppressed in scripts/cppcheck.supp with a comment saying why it is wrong
# or harmless there (for one line: `// cppcheck-suppress ID` above it, with
# the reason in the same comment block).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cppcheck >/dev/null || { echo "check_static: cppcheck is not installed (scripts/setup.sh)" >&2; exit 1; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# warning, style, performance, portability: the checks that find defects;
# `information` (missing system headers) is noise without the include paths.
if ! cppcheck --quiet --std=c11 -D_GNU_SOURCE -Isrc -Ihdf5 \
    --enable=warning,style,performance,portability --inline-suppr \
    --suppressions-list=scripts/cppcheck.supp --error-exitcode=1 \
    --template='{file}:{line}: {severity}: {id}: {message}' \
    -j "$(nproc)" src hdf5 2>"$out"; then
    cat "$out" >&2
    echo "check_static: cppcheck found the problems above: fix them, or suppress each with its reason (scripts/cppcheck.supp)" >&2
    exit 1
fi
if [ -s "$out" ]; then # cppcheck's own complaints (a bad suppression file, ...)
    cat "$out" >&2
    exit 1
fi
echo "check_static: cppcheck finds nothing in src/ and hdf5/"
