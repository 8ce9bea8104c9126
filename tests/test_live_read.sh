#!/usr/bin/env bash
# test_live_read.sh - readers while a sweep writes (hdf5/SCHEMA.md, "Reading
# while a sweep runs"): during a 3-rank sweep of 300 small runs, still
# appending runs, three readers read the archive in loops until it ends:
#  - analysis: every 25th read analysis.open(ARCHIVE) and .runs (a second
#    or more for 300 runs here), the others .metrics, .snapshots and .final
#    of the last 5 runs started, a read starting every 0.2 s (at once after
#    a longer one);
#  - h5py: the protocol of SCHEMA.md (shared lock, h5py alone): the run
#    table, the last 20 started runs' metrics and final images, a read
#    starting every 0.2 s;
#  - status: `stylesweep status --summary` every 0.2 s.
# Checks: zero failed reads of each; each read the sweep in progress (done
# runs neither 0 nor all) at least once; the sweep itself ends with every
# run done. A fourth loop reads without the lock as a control: its failures
# are printed, not checked (VERBOSE=1 shows every count).
#
#   bash tests/test_live_read.sh PATH_TO_STYLESWEEP_BINARY
#
# About a minute on 2 cores (the sweep itself 10 to 40 s: long enough for the
# readers to read it in progress).
set -u
# shellcheck source=tests/testlib.sh
. "$(dirname "$0")/testlib.sh"
need_python h5py numpy pandas yaml
need_mpirun
export OMPI_MCA_rmaps_base_oversubscribe=1
RUNS=${LIVE_RUNS:-300}
LIMIT=900

make_tmpdir
M=$T/live.yaml
{
    tiny_sweep_head live-test
    cat <<EOF
  image_size: 24
  iterations: 6
  evals_per_iteration: 3
  content_layer: conv3_2
  style_layers: [conv1_1, conv2_1, conv3_1]
  init: noise
  snapshots: {first: 1, every: 1}
grid:
  seed: [$(seq -s ', ' 0 $((RUNS - 1)))]
EOF
} >"$M"
A=$T/live.h5
JOB=
READERS=()
test_cleanup() {
    [ -n "$JOB" ] && kill -9 "$JOB" $(pgrep -P "$JOB") 2>/dev/null
    for r in "${READERS[@]}"; do kill "$r" 2>/dev/null; done
    wait 2>/dev/null
}

# the sweep (the archive starts with 16 runs, the others are appended as it goes)
STYLESWEEP_FIRST_RUNS=16 STYLESWEEP_APPEND_BATCH=4 timeout -s KILL $LIMIT \
    mpirun -np 3 -x STYLESWEEP_FIRST_RUNS -x STYLESWEEP_APPEND_BATCH \
    "$BIN" run "$M" -o "$A" --threads 1 >"$T/sweep.out" 2>&1 </dev/null &
JOB=$!
for mode in analysis h5py nolock; do
    "$PY" "$TESTS_DIR/live_reader.py" $mode "$A" "$JOB" "$T/$mode.json" 0.2 2>"$T/$mode.err" &
    READERS+=($!)
done
# status, every 0.2 s
status_reads=0 status_failed=0 status_progress=0
while kill -0 "$JOB" 2>/dev/null; do
    if [ -e "$A" ]; then
        status_reads=$((status_reads + 1))
        if "$BIN" status "$A" --summary >"$T/status.out" 2>&1; then
            grep -q ' runs: .* [1-9][0-9]* done' "$T/status.out" && grep -q '[1-9][0-9]* pending' "$T/status.out" &&
                status_progress=$((status_progress + 1))
        else
            status_failed=$((status_failed + 1))
            [ "$status_failed" -le 3 ] && fail "status during the sweep: $(head -1 "$T/status.out")"
        fi
    fi
    sleep 0.2
done
wait "$JOB"
RC=$?
JOB=
for r in "${READERS[@]}"; do wait "$r"; done
READERS=()
CHECK_SHOW=$T/sweep.out check "the sweep: exit 0 (got $RC)" test "$RC" = 0
check "the sweep: every run done" grep -aq "$RUNS done, 0 running, 0 pending, 0 failed" "$T/sweep.out"
check "status: zero failed reads ($status_failed of $status_reads)" test "$status_failed" = 0
check "status: read the sweep in progress ($status_progress times)" test "$status_progress" -gt 0
verbose "status: $status_reads reads, $status_failed failed, $status_progress in progress"
for mode in analysis h5py nolock; do
    if [ ! -s "$T/$mode.json" ]; then
        [ "$mode" = nolock ] || fail "$mode reader: no result ($(head -2 "$T/$mode.err"))"
        continue
    fi
    read -r reads failed progress gap median errors < <("$PY" -c "
import json, sys
r = json.load(open(sys.argv[1]))
print(r['reads'], r['failed'], r['in_progress'], r['longest_gap_s'], r['median_gap_s'], ' | '.join(r['errors'])[:300] or '-')" "$T/$mode.json")
    echo "$TEST_NAME: $mode reader: $reads reads, $failed failed, $progress in progress, time between reads: median ${median}s, longest ${gap}s"
    [ "$mode" = nolock ] && { [ "$failed" = 0 ] || echo "  (without the lock: $errors)"; } && continue
    n_checks=$((n_checks + 1))
    [ "$failed" = 0 ] || fail "$mode reader: $failed of $reads reads failed: $errors"
    check "$mode reader: read the sweep in progress ($progress times)" test "$progress" -gt 0
done
check_summary
