#!/usr/bin/env bash
# test_faults.sh - faults during a sweep end in one clear message, never in
# an abort inside MPI nor a hang:
#  - a worker that sends rank 0 a malformed message (STYLESWEEP_TEST_FAULT=
#    malformed): rank 0 names the rank and what is wrong, the job exits 1;
#  - an MPI call that fails on a worker (STYLESWEEP_TEST_FAULT=mpi-error, a
#    send to a rank that does not exist): MPI_CHECK's message names the call,
#    MPI's reason, the file and line and the rank (MPI_ERRORS_RETURN is set),
#    the job exits 1.
# A lost device context costs only its run: with STYLESWEEP_TEST_FAULT=
# lose-device:FILE the first run fails as a sticky CUDA error would (the
# backend lost, the process unable to make another); the compute process
# ends after reporting it, the rank starts a new one, and the other runs are
# done (in the old process they would fail too).
# And a worker that dies costs only its run: kill -9 of a worker rank's
# compute process mid-run under `mpirun -np 3` (each worker rank runs its
# runs in a child process, src/sweep.c): the sweep finishes every other run,
# records that one failed with "worker killed by signal 9 (Killed) during
# iteration N", exits 4; `--resume --retry-failed` then completes it, and
# every run ends bit-identical to an uninterrupted sweep, the runs done
# before not computed again.
# Run from anywhere as
#   bash tests/test_faults.sh PATH_TO_STYLESWEEP_BINARY
# Small runs (random weights, channels_div 8, 32 px); every mpirun runs under
# `timeout`, so a hang is a failure. VERBOSE=1 prints the outputs.
set -u
# shellcheck source=tests/testlib.sh
. "$(dirname "$0")/testlib.sh"
need_mpirun
need_python h5py numpy yaml
CHECK="$PY $TESTS_DIR/resume_check.py"
export OMPI_MCA_rmaps_base_oversubscribe=1
LIMIT=600 # seconds for any one sweep: a hang is a failure (not a speed limit)
make_tmpdir

M=$T/sweep.yaml
{
    tiny_sweep_head faults
    cat <<EOF2
  image_size: 32
  iterations: 2
  evals_per_iteration: 2
experiments:
  - {id: a}
  - {id: b, pool: max}
  - {id: c, init: content}
EOF2
} >"$M"

# sweep OUT NP ARGS...: a sweep in the foreground; rc in RC
sweep() {
    local out=$1 np=$2
    shift 2
    timeout -s KILL $LIMIT mpirun -x STYLESWEEP_TEST_FAULT -np "$np" "$BIN" run "$@" --threads 1 >"$out" 2>&1 </dev/null
    RC=$?
    verbose_file "$out"
}

# ---------------------------------------------------------------- MPI error paths
export STYLESWEEP_TEST_FAULT=malformed
sweep "$T/malformed.out" 3 "$M" -o "$T/malformed.h5"
check "malformed message: exit 1 (got $RC)" test "$RC" = 1
CHECK_SHOW=$T/malformed.out check "malformed message: rank 0 names the rank and the fault" \
    grep -q "^stylesweep run: rank 1 sent a malformed message: a message says 1000 payload bytes but has 0$" \
    "$T/malformed.out"

export STYLESWEEP_TEST_FAULT=mpi-error
sweep "$T/mpierr.out" 3 "$M" -o "$T/mpierr.h5"
check "failed MPI call: exit 1 (got $RC)" test "$RC" = 1
CHECK_SHOW=$T/mpierr.out check "failed MPI call: MPI_CHECK's message (call, reason, file:line, rank)" \
    grep -Eq "^stylesweep run: rank 1 on .*: MPI: MPI_Send\(.*\) failed \(MPI_ERR_RANK: invalid rank\) at .*src/sweep.c:[0-9]+ on rank 1$" \
    "$T/mpierr.out"

# ---------------------------------------------------------------- a lost device context
export STYLESWEEP_TEST_FAULT=lose-device:$T/lost.flag
sweep "$T/lost.out" 2 "$M" -o "$T/lost.h5"
check "a lost device context: the sweep ends with exit 4 (got $RC)" test "$RC" = 4 || show "$T/lost.out"
states=
for r in a b c; do states="$states $($CHECK show "$T/lost.h5" $r status 2>&1)"; done
check "the first run failed, the two after it done in a new compute process (got$states)" \
    test "$states" = " failed done done"
why=$($CHECK show "$T/lost.h5" a error 2>&1)
check "the failed run's error says the device context is lost (got '$why')" grep -q "device context is lost" <<<"$why"
unset STYLESWEEP_TEST_FAULT

# ---------------------------------------------------------------- a dead worker
# run a (index 0) is held after its 3rd iteration (src/testhold.h) while its
# compute process is killed, on any machine speed
M2=$T/dead.yaml
{
    tiny_sweep_head dead-worker
    cat <<EOF2
  image_size: 32
  iterations: 24
  evals_per_iteration: 8
  init: noise
  pool: avg
  snapshots: {first: 2, every: 5}
experiments:
  - {id: a}
  - {id: b, pool: max}
  - {id: c, init: content}
  - {id: adam, optimizer: adam, learning_rate: 2.0}
  - {id: cont, lbfgs_restart: false}
EOF2
} >"$M2"
REF=$T/ref.h5
timeout -s KILL $LIMIT "$BIN" run "$M2" -o "$REF" --threads 1 >"$T/ref.out" 2>&1
RC=$?
check "uninterrupted sweep: exit 0 (got $RC)" test "$RC" = 0 || show "$T/ref.out"

A=$T/dead.h5
hold_at "$T/hold" 0 3
mpirun -x STYLESWEEP_TEST_HOLD -np 3 "$BIN" run "$M2" -o "$A" --threads 1 --checkpoint-every 1 >"$T/dead1.out" 2>&1 </dev/null &
JOB=$!
unhold
WATCH=$( (sleep $LIMIT && kill -9 "$JOB") >/dev/null 2>&1 & echo $!)
test_cleanup() { kill -9 "$JOB" "$WATCH" 2>/dev/null; return 0; }
wait_file "$T/hold/held-0" "$JOB" >"$T/wait.out"
check "run a is held after iteration 3" test $? = 0 || show "$T/wait.out"
# the process that holds it: a compute process, child of a worker rank, itself a child of mpirun
victim=$(cat "$T/hold/held-0" 2>/dev/null)
check "the held process is a worker rank's compute process" \
    sh -c "[ -n '$victim' ] && pgrep -P '$JOB' | grep -qx \"\$(ps -o ppid= -p '$victim' | tr -d ' ')\""
[ -n "$victim" ] && kill -9 "$victim"
wait "$JOB"
RC=$?
kill "$WATCH" 2>/dev/null
verbose_file "$T/dead1.out"
check "a dead compute process: the sweep ends with exit 4 (got $RC)" test "$RC" = 4 || show "$T/dead1.out"
$CHECK state "$A" >"$T/dead1.json"
check "exactly one run failed, the four others done" "$PY" -c '
import json, sys
s = json.load(open(sys.argv[1]))
st = sorted(v[0] for v in s.values())
sys.exit(0 if st == ["done"] * 4 + ["failed"] else "states: %s" % s)' "$T/dead1.json"
failed=$("$PY" -c 'import json, sys; print(" ".join(k for k, v in json.load(open(sys.argv[1])).items() if v[0] == "failed"))' "$T/dead1.json")
why=$($CHECK show "$A" "${failed:-none}" error 2>&1)
verbose "failed run $failed: $why"
check "the failed run's error names the signal and the iteration (got '$why')" \
    grep -Eq "^worker killed by signal 9 \(Killed\) during iteration 4$" <<<"$why"
check "stdout reports it" grep -Eq "^$failed failed: worker killed by signal 9 .*during iteration [0-9]+ \(rank [12]\)$" \
    "$T/dead1.out"
timeout -s KILL $LIMIT mpirun -np 3 "$BIN" run "$M2" -o "$A" --threads 1 --checkpoint-every 1 --resume --retry-failed \
    >"$T/dead2.out" 2>&1 </dev/null
RC=$?
verbose_file "$T/dead2.out"
check "--resume --retry-failed: exit 0 (got $RC)" test "$RC" = 0 || show "$T/dead2.out"
$CHECK compare "$REF" "$A" --before "$T/dead1.json" >"$T/compare.out" 2>&1
check "after the retry every run is bit-identical to the uninterrupted sweep" test $? = 0 || show "$T/compare.out"

check_summary
