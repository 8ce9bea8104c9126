#!/bin/bash
# test_archive_h5py.sh - the archive read with h5py alone (tests/read_archive.py
# follows hdf5/SCHEMA.md, not our code): once while the writer still holds the
# file open after its last flush, and again after it closed.
# Usage (ctest, from the repository root): bash tests/test_archive_h5py.sh BUILD/stylesweep[_san]
# The sample is written by the C test program next to the binary:
# BUILD/tests/test_archive (or test_archive_san for the _san binary).
set -u
bin=${1:?usage: test_archive_h5py.sh PATH/TO/stylesweep}
name=test_archive
case "$(basename "$bin")" in *_san) name=test_archive_san ;; esac
writer="$(dirname "$bin")/tests/$name"
[ -x "$writer" ] || { echo "FAIL: $writer not built" >&2; exit 1; }
py=/usr/bin/python3
"$py" -c 'import h5py, numpy' 2>/dev/null || { echo "FAIL: $py lacks h5py/numpy" >&2; exit 1; }

tmp=$(mktemp -d /tmp/ss_test_archive_h5py_XXXXXX)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
archive="$tmp/sample.h5"

# 1. while the writer holds the archive open
"$writer" --write "$archive" --hold &
pid=$!
for _ in $(seq 1 300); do
    [ -e "$archive.ready" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
[ -e "$archive.ready" ] || { echo "FAIL: the writer did not get ready" >&2; exit 1; }
"$py" tests/read_archive.py "$archive" || { echo "FAIL: reading while the writer holds the file" >&2; exit 1; }
touch "$archive.release"
wait "$pid"
rc=$?
pid=
[ "$rc" -eq 0 ] || { echo "FAIL: the writer exited with $rc" >&2; exit 1; }

# 2. after it closed
"$py" tests/read_archive.py "$archive" || { echo "FAIL: reading the closed archive" >&2; exit 1; }
[ -z "$(ls "$tmp" | grep tmp-)" ] || { echo "FAIL: a temporary file was left: $(ls "$tmp")" >&2; exit 1; }
echo "test_archive_h5py: ok"
