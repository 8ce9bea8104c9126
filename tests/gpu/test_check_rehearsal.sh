#!/usr/bin/env bash
# test_check_rehearsal.sh - the device check (tests/gpu/check.sh) rehearsed
# on the CPU, where no GPU is:
#
#   bash tests/gpu/test_check_rehearsal.sh PATH_TO_STYLESWEEP_BINARY
#
# Runs CHECK_BACKEND=cpu tests/gpu/check.sh OUT on the binary's build folder
# with tiny sizes: stage 1 with test_backend and test_lbfgs (test_reference
# and test_gradcheck are ctest tests of their own and slow here), stage 2
# with the founding study cut to 4 runs of 2 iterations for K = 1 and 2
# workers, and CHECK_CUT=study_k2 (a step forced over the budget). Checks:
#  - exit 0 and no FAIL row; rows of stage 1 and of stage 2; each step that
#    can run on the CPU passes (environment, the tests, transfer twice, the
#    2-worker sweep, resume, the fp32 benchmarks, the transfer, study K=1);
#  - the CUDA-only steps (tf32, memcheck) and the forced cut are SKIP with
#    their reasons ("cut by the budget ... forced by CHECK_CUT"); the
#    full-width comparison passes, or is SKIP naming the missing torch;
#  - the Python with h5py is found and named even when the first python3
#    on PATH lacks h5py (PATH starts with a folder whose python3 has none);
#  - the resume interrupted a running run (its note names the run held at
#    iteration 3 and the unfinished states) and study K=1 reports runs per
#    minute;
#  - results.md grew row by row: after each step the log shows "results.md
#    row N: ROW" read back from the file, N = 1, 2, ... in order, and the
#    final table holds exactly those rows;
#  - an interrupted check keeps its rows: a second check.sh, sent SIGTERM
#    once its results.md holds the environment row (a state, polled), exits
#    143 and leaves the row and a "check interrupted" line, no summary.
set -u
# shellcheck source=tests/testlib.sh
. "$(dirname "$0")/../testlib.sh"
need_python h5py numpy yaml
need_mpirun
make_tmpdir
BUILD=$(dirname "$BIN")
CHECK=$REPO/tests/gpu/check.sh

# a python3 first on PATH that has no h5py (the check must look further)
mkdir -p "$T/fakebin"
printf '#!/bin/sh\necho "this python3 has no modules" >&2\nexit 1\n' >"$T/fakebin/python3"
chmod +x "$T/fakebin/python3"
# check.sh with the rehearsal's settings
REHEARSE=(env PATH="$T/fakebin:$PATH" CHECK_BACKEND=cpu CHECK_BIN_DIR="$BUILD" CHECK_BUDGET=5000
    CHECK_STAGE1_BUDGET=2500 CHECK_TESTS="test_backend test_lbfgs" STUDY_KS="1 2" STUDY_ITERATIONS=2 STUDY_RUNS=4
    STUDY_LIMIT=600 CHECK_CUT=study_k2 TMPDIR="$T" bash "$CHECK")

# ------------------------------------------------------------ the whole check
"${REHEARSE[@]}" "$T/out" >"$T/check.out" 2>&1
rc=$?
R=$T/out/results.md
CHECK_SHOW=$R check "check.sh exits 0 (got $rc)" test $rc -eq 0
CHECK_SHOW=
check "check.log and results.md are written" test -s "$T/out/check.log" -a -s "$R"
check "the table is printed last" test "$(tail -n 1 "$T/check.out")" = "$(tail -n 1 "$R")"
check "no step failed" test "$(grep -c '^| [12] | .* | FAIL |' "$R")" -eq 0
check "stage 1 rows" grep -q '^| 1 | environment | PASS |' "$R"
check "stage 2 rows" grep -q '^| 2 | ' "$R"
for name in test_backend test_lbfgs "transfer twice, identical" "sweep: 2 workers share the GPU" \
    "resume: interrupted mid-run, bit-identical" "benchmark: vgg19 32 px, one evaluation, fp32" \
    "benchmark: vgg19 48 px, one evaluation, fp32" "benchmark: transfer 40 evaluations at 64 px" \
    "founding study (2 iterations), 1 worker(s) on the GPU"; do
    check "PASS: $name" grep -qF "| $name | PASS |" "$R"
done
check "SKIP: tf32 is CUDA only" grep -qF "| 1 | test_reference, tf32 | SKIP | 0 | CUDA only" "$R"
check "SKIP: memcheck is CUDA only" grep -qF "| 1 | compute-sanitizer memcheck: test_backend | SKIP | 0 | CUDA only" "$R"
check "SKIP: the forced budget cut, with its reason" \
    grep -qF "| 2 | founding study (2 iterations), 2 worker(s) on the GPU | SKIP | 0 | cut by the budget: not run, 0 s left, the step needs 20 (forced by CHECK_CUT)" "$R"
check "full width: PASS, or SKIP naming torch" \
    grep -qE '^\| 1 \| full width: .* \| (PASS \| .*worst|SKIP \| .*no Python with torch)' "$R"
check "the Python with h5py is named (/usr/bin/python3, not the first python3 on PATH)" \
    grep -q '^python with h5py, numpy, yaml: /usr/bin/python3' "$T/out/check.log"
check "the environment row names that Python" grep -qF "h5py: /usr/bin/python3" "$R"
check "resume: a running run was interrupted and left unfinished runs" \
    grep -qE '^\| 2 \| resume: .* SIGUSR2 while run [0-9]+ was held at iteration 3, leaving .*:(interrupted|pending)@' "$R"
check "study K=1: 4 of 4 runs and runs per minute" grep -qE 'K=1: 4 of 4 runs .* [0-9.]+ runs/min' "$R"

# results.md row by row: "results.md row N: ROW" in the log, N in order,
# each ROW as it is in the final table
rows=$(grep -c '^| [12] |' "$R")
logged=$(grep -c '^results.md row [0-9]*: ' "$T/out/check.log")
order_ok=1
n=0
while IFS= read -r line; do
    n=$((n + 1))
    num=${line#results.md row }
    num=${num%%:*}
    row=${line#results.md row *: }
    [ "$num" = "$n" ] || order_ok=0
    [ "$(grep '^| [12] |' "$R" | sed -n "${n}p")" = "$row" ] || order_ok=0
done < <(grep '^results.md row [0-9]*: ' "$T/out/check.log")
check "results.md grew row by row ($logged rows logged as written, $rows in the table)" \
    test "$order_ok" = 1 -a "$logged" = "$rows" -a "$rows" -eq 16

# ------------------------------------------------------- an interrupted check
"${REHEARSE[@]}" "$T/int" >"$T/int.out" 2>&1 &
PID=$!
test_cleanup() { kill -TERM "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; }
seen=0
while kill -0 "$PID" 2>/dev/null; do # the state: the environment row is in the file
    grep -q '^| 1 | environment |' "$T/int/results.md" 2>/dev/null && { seen=1; break; }
    sleep 0.1
done
check "the second check wrote its environment row" test $seen = 1
kill -TERM "$PID"
wait "$PID"
rc=$?
unset -f test_cleanup
check "SIGTERM: the check exits 143 (got $rc)" test $rc -eq 143
check "the interrupted check's results.md keeps the environment row" grep -q '^| 1 | environment | PASS |' "$T/int/results.md"
check "... and says it was interrupted" grep -q '^check interrupted by SIGTERM after' "$T/int/results.md"
check "... and has no summary" test "$(grep -c ' passed, .* failed, ' "$T/int/results.md")" -eq 0
verbose_file "$R"
check_summary
