#!/usr/bin/env bash
# test_faults.sh - faults during a sweep end in one clear message, never in
# an abort inside MPI nor a hang:
#  - a worker that sends rank 0 a malformed message (STYLESWEEP_TEST_FAULT=
#    malformed): rank 0 names the rank and what is wrong, the job exits 1;
#  - an MPI call that fails on a worker (STYLESWEEP_TEST_FAULT=mpi-error, a
#    send to a rank that does not exist): MPI_CHECK's message names the call,
#    MPI's reason, the file and line and the rank (MPI_ERRORS_RETURN is set),
#    the job exits 1.
# Run from anywhere as
#   bash tests/test_faults.sh PATH_TO_STYLESWEEP_BINARY
# Tiny runs (random weights, channels_div 8, 32 px); every mpirun runs under
# `timeout`, so a hang is a failure. VERBOSE=1 prints the outputs.
set -u
# shellcheck source=tests/testlib.sh
. "$(dirname "$0")/testlib.sh"
need_mpirun
export OMPI_MCA_rmaps_base_oversubscribe=1
LIMIT=120
make_tmpdir

M=$T/sweep.yaml
cat >"$M" <<EOF2
sweep: faults
defaults:
  content: $REPO/samples/content/chelsea.jpg
  style: [$REPO/samples/style/starry_night.jpg]
  model: vgg16
  weights: random
  channels_div: 8
  image_size: 32
  iterations: 2
  evals_per_iteration: 2
experiments:
  - {id: a}
  - {id: b, pool: max}
  - {id: c, init: content}
EOF2

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
    grep -Eq "^stylesweep run: rank 1 on .*: MPI: MPI_Send\(.*\) failed \(MPI_ERR_RANK: invalid rank\) at .*src/scheduler.c:[0-9]+ on rank 1$" \
    "$T/mpierr.out"
unset STYLESWEEP_TEST_FAULT

check_summary
