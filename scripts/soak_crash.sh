#!/usr/bin/env bash
# soak_crash.sh - the long version of tests/test_crash.sh: hundreds of
# kill -9 of whole sweep jobs (random moments and every kill point of the
# archive's writing calls), each followed by --resume, then the sweep's end
# checked bit-identical to an uninterrupted one (hdf5/SCHEMA.md, "Crashes").
#
#   scripts/soak_crash.sh [KILLS [RUNS]]     (defaults 300 and 4000)
#
# Uses build/stylesweep (STYLESWEEP_BIN overrides). 300 kills took 34
# minutes on 2 shared cores (PERFORMANCE.md, "The archive's journal"); run it
# niced on a shared machine. Prints the test's summary and the time it took.
set -u
cd "$(dirname "$0")/.." || exit 2
BIN=${STYLESWEEP_BIN:-build/stylesweep}
KILLS=${1:-300}
RUNS=${2:-4000}
t0=$(date +%s)
CRASH_KILLS=$KILLS CRASH_RUNS=$RUNS CRASH_SEED=${CRASH_SEED:-$$} bash tests/test_crash.sh "$BIN"
rc=$?
echo "soak_crash: $KILLS kills, $RUNS runs: exit $rc after $(($(date +%s) - t0)) s on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
exit $rc
