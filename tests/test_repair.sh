#!/usr/bin/env bash
# test_repair.sh - `stylesweep repair ARCHIVE` (hdf5/SCHEMA.md, "Crashes"):
#  - a whole archive: "reads back whole", exit 0, its runs unchanged;
#  - a group without a table row (an append cut short): removed, resumable;
#  - a kill inside the journal's apply: the journal is rolled forward and
#    the archive reads whole; --resume ends bit-identical;
#  - one run's object header damaged (its checksum fails): rebuilt from
#    what survives, that run named as lost, the damaged file kept beside,
#    the other runs as they were (attempts unchanged); --resume runs the
#    lost run again and the sweep ends bit-identical to an uninterrupted one;
#  - the superblock damaged (HDF5 cannot open the file): rebuilt empty,
#    --resume runs every run again, bit-identical;
#  - a file that is not an archive, and an archive being written: refused,
#    nothing changed.
#
#   bash tests/test_repair.sh PATH_TO_STYLESWEEP_BINARY
#
# About 30 s.
set -u
# shellcheck source=tests/testlib.sh
. "$(dirname "$0")/testlib.sh"
need_python h5py numpy yaml
make_tmpdir
CHECK="$PY $TESTS_DIR/resume_check.py"
RUNS=12
M=$T/r.yaml
seed_grid_manifest repair-test "$RUNS" 3 >"$M"
sweep() { # sweep ARCHIVE OUT [ARGS...]: one rank, rc in RC
    local a=$1 out=$2
    shift 2
    timeout -s KILL 300 "$BIN" run "$M" -o "$a" --threads 1 "$@" >"$out" 2>&1 </dev/null
    RC=$?
}
repair() { # repair ARCHIVE OUT: rc in RC
    "$BIN" repair "$1" >"$2" 2>&1
    RC=$?
    verbose_file "$2"
}
same_as_ref() { $CHECK compare "$T/ref.h5" "$1" "${@:2}" >"$T/compare.out" 2>&1 || { show "$T/compare.out"; false; }; }

sweep "$T/ref.h5" "$T/ref.out"
CHECK_SHOW=$T/ref.out check "reference sweep: exit 0 (got $RC)" test "$RC" = 0
[ "$RC" = 0 ] || check_summary

# ------------------------------------------------------------ whole
cp "$T/ref.h5" "$T/a.h5"
repair "$T/a.h5" "$T/a.out"
CHECK_SHOW=$T/a.out check "whole archive: repair exits 0 (got $RC)" test "$RC" = 0
check "whole archive: says every run reads back whole" grep -q "$RUNS run(s), every one reads back whole" "$T/a.out"
check "whole archive: its runs unchanged" same_as_ref "$T/a.h5"
check "whole archive: nothing kept aside" test -z "$(ls "$T" | grep damaged)"

# ------------------------------------------------------------ a leftover group
cp "$T/ref.h5" "$T/l.h5"
"$PY" -c "import h5py, sys; f = h5py.File(sys.argv[1], 'r+'); f['runs'].create_group('run-leftover'); f.close()" "$T/l.h5"
repair "$T/l.h5" "$T/l.out"
CHECK_SHOW=$T/l.out check "leftover group: repair exits 0 (got $RC)" test "$RC" = 0
check "leftover group: removed" grep -q "removed 1 group(s)" "$T/l.out"
check "leftover group: gone from /runs" "$PY" -c "import h5py, sys; sys.exit('run-leftover' in h5py.File(sys.argv[1], 'r')['runs'])" "$T/l.h5"

# ------------------------------------------------------------ a kill inside an apply
STYLESWEEP_TEST_KILL=apply:30 sweep "$T/k.h5" "$T/k.out"
check "kill inside an apply: the sweep died (got $RC)" test "$RC" != 0
check "kill inside an apply: a journal is left" test -s "$T/k.h5.journal"
repair "$T/k.h5" "$T/k.rep"
CHECK_SHOW=$T/k.rep check "kill inside an apply: repair exits 0 (got $RC)" test "$RC" = 0
check "kill inside an apply: the journal rolled forward" grep -q "committed update(s).*rolled forward" "$T/k.rep"
check "kill inside an apply: then it reads back whole" grep -q "every one reads back whole" "$T/k.rep"
check "kill inside an apply: no journal left" test ! -e "$T/k.h5.journal"
sweep "$T/k.h5" "$T/k2.out" --resume
CHECK_SHOW=$T/k2.out check "kill inside an apply: --resume exits 0 (got $RC)" test "$RC" = 0
check "kill inside an apply: bit-identical at the end" same_as_ref "$T/k.h5"

# ------------------------------------------------------------ one run damaged
cp "$T/ref.h5" "$T/d.h5"
$CHECK state "$T/d.h5" >"$T/d.before"
victim=$("$PY" - "$T/d.h5" <<'PY'
import sys

import h5py

path = sys.argv[1]
with h5py.File(path, "r") as f:
    rid = f["run_table"][4]["id"].decode()
    addr = h5py.h5o.get_info(f["runs"][rid]["metrics"].id).addr
with open(path, "r+b") as fh:  # bytes inside the metrics table's object header: its checksum fails
    fh.seek(addr + 24)
    fh.write(b"\xde\xad\xbe\xef" * 4)
print(rid)
PY
)
repair "$T/d.h5" "$T/d.out"
CHECK_SHOW=$T/d.out check "one run damaged: repair exits 0 (got $RC)" test "$RC" = 0
check "one run damaged: rebuilt, $((RUNS - 1)) of $RUNS kept" grep -q "rebuilt from what survives: $((RUNS - 1)) of $RUNS run(s) kept" "$T/d.out"
check "one run damaged: names $victim as lost" grep -q "1 lost ($victim)" "$T/d.out"
check "one run damaged: the damaged file is kept" test -n "$(ls "$T" | grep 'd.h5.damaged-')"
"$BIN" status "$T/d.h5" --summary >"$T/d.status" 2>&1
CHECK_SHOW=$T/d.status check "one run damaged: status counts $((RUNS - 1)) done, 1 to append" \
    grep -q "$((RUNS - 1)) runs: 0 pending, 0 running, $((RUNS - 1)) done" "$T/d.status"
sweep "$T/d.h5" "$T/d2.out" --resume
CHECK_SHOW=$T/d2.out check "one run damaged: --resume exits 0 (got $RC)" test "$RC" = 0
check "one run damaged: --resume ran the lost run again" grep -q "$RUNS done, 0 running, 0 pending" "$T/d2.out"
check "one run damaged: bit-identical, the others not run again" same_as_ref "$T/d.h5" --before "$T/d.before" \
    --only "$("$PY" -c "import json, sys; print(','.join(k for k in json.load(open(sys.argv[1])) if k != sys.argv[2]))" "$T/d.before" "$victim")"
check "one run damaged: every run bit-identical" same_as_ref "$T/d.h5"

# ------------------------------------------------------------ the superblock damaged
cp "$T/ref.h5" "$T/s.h5"
"$PY" -c "
import sys
with open(sys.argv[1], 'r+b') as f:
    f.seek(36); f.write(b'\x11' * 8)   # the root group's address in the superblock: its checksum fails, the signature stays
" "$T/s.h5"
repair "$T/s.h5" "$T/s.out"
CHECK_SHOW=$T/s.out check "superblock damaged: repair exits 0 (got $RC)" test "$RC" = 0
check "superblock damaged: says HDF5 cannot open it, rebuilt" grep -q "HDF5 cannot open it; rebuilt" "$T/s.out"
sweep "$T/s.h5" "$T/s2.out" --resume
CHECK_SHOW=$T/s2.out check "superblock damaged: --resume exits 0 (got $RC)" test "$RC" = 0
check "superblock damaged: bit-identical at the end" same_as_ref "$T/s.h5"

# ------------------------------------------------------------ refused
head -c 5000 /dev/urandom >"$T/n.h5"
cp "$T/n.h5" "$T/n.copy"
repair "$T/n.h5" "$T/n.out"
CHECK_SHOW=$T/n.out check "not an archive: repair refuses (exit 1, got $RC)" test "$RC" = 1
check "not an archive: one line saying so" grep -q "not an HDF5 file" "$T/n.out"
check "not an archive: unchanged" cmp -s "$T/n.h5" "$T/n.copy"
cp "$T/ref.h5" "$T/w.h5"
"$PY" -c "
import fcntl, struct, sys, time
fd = open(sys.argv[1], 'r+b')
fcntl.fcntl(fd, fcntl.F_OFD_SETLK, struct.pack('hhqqi4x', fcntl.F_WRLCK, 0, (1 << 62) + 1, 1, 0))
open(sys.argv[2], 'w').close()
time.sleep(30)
" "$T/w.h5" "$T/w.locked" &
LOCKER=$!
test_cleanup() { kill "$LOCKER" 2>/dev/null; }
for _ in $(seq 300); do [ -e "$T/w.locked" ] && break; sleep 0.1; done
repair "$T/w.h5" "$T/w.out"
kill "$LOCKER" 2>/dev/null
wait "$LOCKER" 2>/dev/null
CHECK_SHOW=$T/w.out check "being written: repair refuses (exit 1, got $RC)" test "$RC" = 1
check "being written: says so" grep -q "being written by another stylesweep process" "$T/w.out"
check_summary
