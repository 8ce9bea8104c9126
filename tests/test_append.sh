#!/usr/bin/env bash
# test_append.sh - a sweep larger than the archive's first batch of runs:
# `run` makes the archive with the first runs only and rank 0 appends the
# rest while the sweep goes (hdf5/SCHEMA.md, "Consistency"); a crash before
# every run is appended is completed by --resume, losing and repeating no run.
#
#   bash tests/test_append.sh PATH_TO_STYLESWEEP_BINARY
#
# The runs compute nothing (STYLESWEEP_BENCH_NO_COMPUTE=1: a worker sends
# rank 0 the messages of a real run without computing it), the first batch is
# 3 runs (STYLESWEEP_FIRST_RUNS) and the later ones at most 1, 2 or 64
# (STYLESWEEP_APPEND_BATCH). About 30 s. Checks:
#  - 25 runs on 3 ranks and on 1 rank: exit 0, every run done once, the run
#    table in the manifest's order with the parameters of a sweep made whole
#    (first batch 2048), no group left without its row, runs_to_append 0;
#  - rank 0 killed (SIGKILL) inside its 4th append (8 runs), before its flush
#    (the rows it wrote past the table's end point into a global heap that
#    never reached the file: the next append must not trip over them):
#    `status` says how many runs of the manifest are not in the archive yet
#    and its counts add up to the runs that are; --resume ends every run done,
#    the table as the whole sweep's, runs done before the kill not run again,
#    no run started more than twice (twice only if it was running);
#  - the same when rank 0 is killed (SIGKILL) right after an append once 20
#    runs are done, 1,500 runs appended one at a time.
set -u
# shellcheck source=tests/testlib.sh
. "$(dirname "$0")/testlib.sh"
need_python h5py numpy
need_mpirun
export OMPI_MCA_rmaps_base_oversubscribe=1
export STYLESWEEP_BENCH_NO_COMPUTE=1
LIMIT=120 # seconds for any one sweep: a hang is a failure

make_tmpdir
write_manifest() { seed_grid_manifest append-test "$2" 1 >"$1"; } # write_manifest FILE RUNS

# sweep NP MANIFEST ARCHIVE OUT [ARGS...]: the sweep on NP ranks with small
# batches (FIRST, BATCH); output in OUT.out / OUT.err; sets RC.
FIRST=3
BATCH=2
sweep() {
    local np=$1 manifest=$2 archive=$3 out=$4
    shift 4
    STYLESWEEP_FIRST_RUNS=$FIRST STYLESWEEP_APPEND_BATCH=$BATCH timeout -k 10 $LIMIT \
        mpirun -np "$np" -x STYLESWEEP_FIRST_RUNS -x STYLESWEEP_APPEND_BATCH -x STYLESWEEP_BENCH_NO_COMPUTE \
        ${KILL:+-x STYLESWEEP_TEST_KILL="$KILL"} "$BIN" run "$manifest" -o "$archive" --threads 1 "$@" \
        >"$out.out" 2>"$out.err" </dev/null
    RC=$?
    verbose_file "$out.out" "$out.err"
}

# table ARCHIVE: one line per run table row (index, id, status, attempts,
# end time), then the run groups, then runs_to_append (h5py alone).
table() {
    "$PY" - "$1" <<'PY'
import sys

import h5py

with h5py.File(sys.argv[1], "r") as f:
    t = f["run_table"][:]
    names = {v: k for k, v in h5py.check_enum_dtype(t.dtype["status"]).items()}
    for i, row in enumerate(t):
        rid = row["id"].decode()
        g = f["runs"][rid]
        assert g.attrs["index"] == i and g.attrs["id"] == rid, rid
        print(i, rid, names[int(row["status"])], row["attempts"], repr(float(row["end_time"])),
              len(g["metrics"]), g.attrs["params"].replace("\n", "|"))
    print("groups", len(f["runs"]))
    print("runs_to_append", int(f.attrs.get("runs_to_append", 0)))
PY
}

# compare_whole AFTER WHOLE WHAT: AFTER's table lists the runs of WHOLE's in
# order with the same parameters, every one done with its 2 metrics rows.
compare_whole() {
    "$PY" - "$1" "$2" "$3" <<'PY'
import sys

after = [l.split(" ", 6) for l in open(sys.argv[1]).read().splitlines()]
whole = [l.split(" ", 6) for l in open(sys.argv[2]).read().splitlines()]
what = sys.argv[3]
rows_a = [r for r in after if r[0] not in ("groups", "runs_to_append")]
rows_w = [r for r in whole if r[0] not in ("groups", "runs_to_append")]
bad = []
if [(r[1], r[6]) for r in rows_a] != [(r[1], r[6]) for r in rows_w]:
    bad.append("the run table differs from the whole sweep's (ids, order or parameters)")
if len({r[1] for r in rows_a}) != len(rows_a):
    bad.append("a run appears twice")
if any(r[2] != "done" or r[5] != "2" for r in rows_a):
    bad.append("not every run is done with 2 metrics rows")
if dict((r[0], r[1]) for r in after if r[0] in ("groups", "runs_to_append")) != {"groups": str(len(rows_w)), "runs_to_append": "0"}:
    bad.append("groups or runs_to_append: " + str([r for r in after if r[0] in ("groups", "runs_to_append")]))
for b in bad:
    print(f"{what}: {b}")
sys.exit(1 if bad else 0)
PY
}

# compare_killed KILLED AFTER WHAT: runs done in KILLED are unchanged in AFTER
# (not run again); no run started more than twice, and twice only when it
# was running at the kill; other runs once.
compare_killed() {
    "$PY" - "$1" "$2" "$3" <<'PY'
import sys

def rows(p):
    return {r[1]: r for r in (l.split(" ", 6) for l in open(p).read().splitlines()) if r[0] not in ("groups", "runs_to_append")}

killed, after, what = rows(sys.argv[1]), rows(sys.argv[2]), sys.argv[3]
bad = []
for rid, r in after.items():
    k = killed.get(rid)
    if k and k[2] == "done" and (r[3], r[4]) != (k[3], k[4]):
        bad.append(f"{rid} was done before the kill and ran again")
    want = ("2",) if k and k[2] == "running" else ("1",)
    if k and k[2] == "done":
        want = (k[3],)
    if r[3] not in want:
        bad.append(f"{rid}: {r[3]} attempts (was {k[2] if k else 'not in the archive'} at the kill)")
for b in bad[:10]:
    print(f"{what}: {b}")
sys.exit(1 if bad else 0)
PY
}

absent() { ! grep -q "$1" "$2"; } # absent PATTERN FILE

# ------------------------------------------------------------ 1. whole sweeps
M=$T/m25.yaml
write_manifest "$M" 25
FIRST=2048 sweep 3 "$M" "$T/whole.h5" "$T/whole"
check "whole sweep (first batch 2048): exit 0 (got $RC)" test "$RC" = 0
table "$T/whole.h5" >"$T/whole.table"
check "whole sweep: 25 runs, nothing appended later" \
    grep -q "groups 25" "$T/whole.table"
check "whole sweep: no append reported" absent "appended" "$T/whole.out"

for np in 3 1; do
    sweep $np "$M" "$T/small$np.h5" "$T/small$np"
    CHECK_SHOW=$T/small$np.err check "$np rank(s), first batch 3: exit 0 (got $RC)" test "$RC" = 0
    check "$np rank(s): the sweep counts 25 runs from the start" grep -q "25 runs, 25 to do" "$T/small$np.out"
    check "$np rank(s): 22 runs appended while the sweep ran" grep -q "rank 0 appended 22 runs" "$T/small$np.out"
    check "$np rank(s): the end counts 25 done" grep -q "25 done, 0 running, 0 pending" "$T/small$np.out"
    table "$T/small$np.h5" >"$T/small$np.table"
    check "$np rank(s): every run done once, in the manifest's order" compare_whole "$T/small$np.table" "$T/whole.table" "$np rank(s)"
    check "$np rank(s): one attempt each" absent "^[0-9]* [^ ]* [a-z]* [02-9]" "$T/small$np.table"
    "$BIN" status "$T/small$np.h5" --summary >"$T/small$np.status" 2>&1
    check "$np rank(s): status shows 25 runs done" grep -q "25 runs: 0 pending, 0 running, 25 done" "$T/small$np.status"
    check "$np rank(s): status shows no run missing" absent "not in the archive" "$T/small$np.status"
done

# ------------------------------------------------------------ 2. killed inside an append
# after check_status ARCHIVE WHAT: `status` names the runs not yet appended,
# and its counts add up to the runs in the archive
check_status() {
    local a=$1 what=$2 n_in n_missing
    "$BIN" status "$a" --summary >"$T/status.out" 2>&1
    n_in=$($PY -c "import h5py,sys; print(len(h5py.File(sys.argv[1],'r')['run_table']))" "$a")
    n_missing=$((RUNS - n_in))
    CHECK_SHOW=$T/status.out check "$what: status says $n_missing run(s) are not in the archive yet" \
        grep -q "and $n_missing more run(s) of the manifest not in the archive yet" "$T/status.out"
    CHECK_SHOW=$T/status.out check "$what: status counts the $n_in runs in the archive" \
        test "$(head -1 "$T/status.out" | sed -n 's/.*, \([0-9]*\) runs: /\1,/p' | tr ',' '\n' |
            awk 'NR == 1 {n = $1; next} {s += $1} END {print (n == s ? n : "mismatch")}')" = "$n_in"
    [ "$n_missing" -gt 0 ] || fail "$what: every run was appended before the kill (nothing to test)"
}

RUNS=25
BATCH=64 KILL=append:4 sweep 3 "$M" "$T/k1.h5" "$T/k1"
check "killed inside the 4th append: rank 0 died (got $RC)" test "$RC" -ne 0
check "killed inside the 4th append: the archive is there" test -f "$T/k1.h5"
table "$T/k1.h5" >"$T/k1.killed"
check_status "$T/k1.h5" "killed inside an append"
sweep 3 "$M" "$T/k1.h5" "$T/k1r" --resume
CHECK_SHOW=$T/k1r.err check "killed inside an append: --resume exits 0 (got $RC)" test "$RC" = 0
check "killed inside an append: --resume appends the missing runs" grep -q "new run(s) from the manifest" "$T/k1r.out"
table "$T/k1.h5" >"$T/k1.after"
check "killed inside an append: resumed, every run done once, in order" compare_whole "$T/k1.after" "$T/whole.table" "kill in append"
check "killed inside an append: no run lost or repeated" compare_killed "$T/k1.killed" "$T/k1.after" "kill in append"

# ------------------------------------------------------------ 3. kill -9 from outside
RUNS=1500
M2=$T/m1500.yaml
write_manifest "$M2" $RUNS
FIRST=2048 BATCH=2 sweep 3 "$M2" "$T/whole2.h5" "$T/whole2"
check "1,500 runs made whole: exit 0 (got $RC)" test "$RC" = 0
table "$T/whole2.h5" >"$T/whole2.table"
rm -f "$T/whole2.h5"
# rank 0 killed (SIGKILL, so mpirun takes the job down) right after an append,
# once 20 runs are done: between two updates, as a kill -9 from outside
# would be (a kill during one of rank 0's flushes is SCHEMA.md's window for
# damage, which a random kill hits often while rank 0 appends flat out)
BATCH=1 KILL=appended:20 sweep 3 "$M2" "$T/k2.h5" "$T/k2"
check "killed after an append, 20 runs done: rank 0 died (got $RC)" test "$RC" -ne 0
table "$T/k2.h5" >"$T/k2.killed"
check "killed after an append: at least 20 runs were done" \
    test "$(grep -c ' done ' "$T/k2.killed")" -ge 20
check_status "$T/k2.h5" "killed after an append"
sweep 3 "$M2" "$T/k2.h5" "$T/k2r" --resume
CHECK_SHOW=$T/k2r.err check "killed after an append: --resume exits 0 (got $RC)" test "$RC" = 0
table "$T/k2.h5" >"$T/k2.after"
check "killed after an append: resumed, every run done once, in order" \
    compare_whole "$T/k2.after" "$T/whole2.table" "kill after append"
check "killed after an append: no run lost or repeated" compare_killed "$T/k2.killed" "$T/k2.after" "kill after append"
check_summary
