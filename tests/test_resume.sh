#!/usr/bin/env bash
# test_resume.sh - a sweep loses nothing: interrupted (SIGUSR2, SIGTERM,
# SIGINT, a second signal) or killed (kill -9 of mpirun and every rank at
# several moments, and inside the archive's writing calls), it resumes with
# --resume and ends with final images, snapshots and metrics bit-identical to
# an uninterrupted sweep; no run done before an interruption is computed
# again. Also: appended runs, changed runs refused and --force, failed runs
# (undecodable image, NaN loss, out of memory) and --retry-failed, and bad
# archives (not HDF5, not an archive, a newer schema, read-only, a missing or
# read-only folder, a full disk).
#
#   bash tests/test_resume.sh PATH_TO_STYLESWEEP_BINARY
#
# Small runs (random weights, channels_div 8, 32 px, 24 iterations of 8
# evaluations, one thread); about two minutes. Where a signal or a kill must
# land mid-run, the run is held at an iteration boundary (testlib.sh's
# hold_at, src/testhold.h) until the test has acted, so nothing depends on
# how fast the machine is. The
# archives are read with h5py alone (tests/resume_check.py). Every command
# has a time limit, so a hang is a failure. VERBOSE=1 prints the outputs.
set -u
# shellcheck source=tests/testlib.sh
. "$(dirname "$0")/testlib.sh"
need_python h5py numpy yaml
need_mpirun
export OMPI_MCA_rmaps_base_oversubscribe=1
CHECK="$PY $TESTS_DIR/resume_check.py"
LIMIT=600 # seconds for any one sweep: a hang is a failure (not a speed limit)

make_tmpdir
JOB=      # the background job (mpirun or stylesweep) being interrupted
WATCHDOG= # kills JOB after LIMIT seconds
kill_job() { # kill -9 of the job: mpirun (or the lone rank) and every rank at once
    [ -n "$JOB" ] || return 0
    local pids
    pids="$JOB $(pgrep -P "$JOB" 2>/dev/null | tr '\n' ' ')"
    # shellcheck disable=SC2086
    kill -9 $pids 2>/dev/null
}
test_cleanup() {
    kill_job
    [ -n "$WATCHDOG" ] && kill "$WATCHDOG" 2>/dev/null
    return 0
}

# ---------------------------------------------------------------- the sweep
# Five runs: the reference's L-BFGS restarted each iteration (max and average
# pooling, noise and content init), Adam, and continuous L-BFGS.
write_manifest() { # write_manifest FILE [EXTRA EXPERIMENT LINES...]
    local f=$1
    shift
    {
        tiny_sweep_head resume-test
        cat <<EOF
  image_size: 32
  iterations: 24
  evals_per_iteration: 8
  content_weight: 0.25
  style_norm: target
  tv_weight: 1.0e-6
  init: noise
  pool: avg
  seed: 0
  snapshots: {first: 2, every: 5}
experiments:
  - {id: a}
  - {id: b, pool: max}
  - {id: c, init: content}
  - {id: adam, optimizer: adam, learning_rate: 2.0}
  - {id: cont, lbfgs_restart: false}
EOF
    } >"$f"
    for line in "$@"; do echo "  $line" >>"$f"; done
}
M=$T/sweep.yaml
write_manifest "$M"

# sweep OUT NP ARGS...: a sweep in the foreground (np 0: without mpirun); rc in RC
sweep() {
    local out=$1 np=$2
    shift 2
    if [ "$np" = 0 ]; then
        timeout -s KILL $LIMIT "$BIN" run "$@" --threads 1 >"$out" 2>&1
    else
        timeout -s KILL $LIMIT mpirun -np "$np" "$BIN" run "$@" --threads 1 >"$out" 2>&1
    fi
    RC=$?
    verbose_file "$out"
}
# start OUT NP ARGS...: the same in the background (JOB = mpirun or stylesweep)
start() {
    local out=$1 np=$2
    shift 2
    if [ "$np" = 0 ]; then
        "$BIN" run "$@" --threads 1 >"$out" 2>&1 &
    else
        mpirun ${STYLESWEEP_TEST_KILL:+-x STYLESWEEP_TEST_KILL} ${STYLESWEEP_TEST_HOLD:+-x STYLESWEEP_TEST_HOLD} \
            -np "$np" "$BIN" run "$@" --threads 1 >"$out" 2>&1 &
    fi
    JOB=$!
    JOB_T0=$(date +%s.%N)
    (sleep $LIMIT && kill -9 "$JOB" $(pgrep -P "$JOB") 2>/dev/null) >/dev/null 2>&1 &
    WATCHDOG=$!
}
finish() { # finish OUT: waits for JOB; rc in RC
    wait "$JOB" 2>/dev/null
    RC=$?
    kill "$WATCHDOG" 2>/dev/null
    wait "$WATCHDOG" 2>/dev/null
    JOB=
    WATCHDOG=
    verbose_file "$1"
}
ranks_of() { pgrep -P "$JOB" | tr '\n' ' '; }
H=$T/hold # the folder of the hold (testlib.sh's hold_at)
# held N / stopped N: until N runs are held / have seen the stop while held
held() {
    n_checks=$((n_checks + 1))
    wait_count "$H" 'held-*' "$1" || fail "$1 run(s) not held: $(cat "$T/wait.out")"
}
stopped() {
    n_checks=$((n_checks + 1))
    wait_count "$H" 'stopped-*' "$1" || fail "the stop did not reach $1 held run(s): $(cat "$T/wait.out")"
}
# wait_count DIR GLOB N: until DIR holds N files matching GLOB while JOB runs
wait_count() {
    local t_end=$((SECONDS + LIMIT)) files
    while :; do
        files=("$1"/$2)
        [ -e "${files[0]}" ] && [ "${#files[@]}" -ge "$3" ] && return 0
        kill -0 "$JOB" 2>/dev/null || { echo "the job ended first" >"$T/wait.out"; return 1; }
        [ $SECONDS -lt $t_end ] || { echo "not after $LIMIT s" >"$T/wait.out"; return 1; }
        sleep 0.02
    done
}
# wait_it ARCHIVE RUN ITERATION [any]: until the run, started by this job, has
# recorded that many iterations (any: a run done earlier is fine too)
wait_it() {
    n_checks=$((n_checks + 1))
    $CHECK wait "$1" "$2" "$3" "$JOB" $LIMIT "$JOB_T0" >"$T/wait.out"
    local rc=$?
    [ $rc = 0 ] || { [ $rc = 2 ] && [ "${4:-}" = any ]; } ||
        fail "run $2 of $1 did not reach iteration $3 in this job: $(cat "$T/wait.out")"
}
state() { $CHECK state "$1" >"$2"; } # run states before an interruption (for compare --before)
compare() { # compare WHAT ARCHIVE [--before FILE ...]
    local what=$1 archive=$2
    shift 2
    n_checks=$((n_checks + 1))
    if ! $CHECK compare "$T/ref.h5" "$archive" "$@" >"$T/compare.out" 2>&1; then
        fail "$what: not the uninterrupted sweep"
        sed 's/^/    /' "$T/compare.out"
    fi
}
no_running() { # no run left "running" after a clean stop
    ! $CHECK state "$1" | grep -q '"running"'
}
exit_is() { [ "$RC" = "$1" ]; }

# ---------------------------------------------------------------- 0. reference
sweep "$T/ref.out" 0 "$M" -o "$T/ref.h5"
check "uninterrupted sweep exits 0 (got $RC)" exit_is 0
[ "$RC" = 0 ] || { echo "test_resume: no reference sweep, giving up"; cat "$T/ref.out"; exit 1; }

# ---------------------------------------------------------------- 1. signals, 3 ranks
# SIGUSR2 to mpirun (SLURM's --signal), mid-run: exit 3, every run stopped at a
# boundary (none left running); then SIGTERM to mpirun (Open MPI kills the
# ranks soon after: exit 1 or 3); then SIGTERM twice to every rank (the second
# stops at once); each time the archive opens and --resume goes on.
# Runs a and b (the first two assigned) are held after iteration 4, then
# after the first iteration of each resumed sweep, until the signal reached them.
A=$T/sig.h5
hold_at "$H" '*' 4
start "$T/sig1.out" 3 "$M" -o "$A"
held 2
kill -USR2 "$JOB"
stopped 2
release "$H"
finish "$T/sig1.out"
check "SIGUSR2 to mpirun: exit 3 (got $RC)" exit_is 3
check "SIGUSR2: archive opens (h5py)" $CHECK opens "$A"
check "SIGUSR2: no run left running" no_running "$A"
check "SIGUSR2: stdout says to resume" grep -q -- "--resume" "$T/sig1.out"
n_checks=$((n_checks + 1))
$CHECK state "$A" | grep -q '"interrupted"' || fail "SIGUSR2: no run recorded as interrupted"
state "$A" "$T/before1.json"

hold_at "$H" '*' 1
start "$T/sig2.out" 3 "$M" -o "$A" --resume
held 2
kill -TERM "$JOB"
wait_count "$H" 'stopped-*' 2 # (or Open MPI killed the ranks first)
release "$H"
finish "$T/sig2.out"
check "SIGTERM to mpirun: exit 1 (Open MPI) or 3 (got $RC)" test "$RC" = 1 -o "$RC" = 3
check "SIGTERM to mpirun: archive opens" $CHECK opens "$A"
state "$A" "$T/before2.json"

hold_at "$H" '*' 1
start "$T/sig3.out" 3 "$M" -o "$A" --resume
held 2
ranks=$(ranks_of)
# shellcheck disable=SC2086
kill -TERM $ranks
# the second signal only once every rank has handled the first (two pending
# signals of one kind would be one)
n_checks=$((n_checks + 1))
wait_lines "$T/sig3.out" "stopping at the next iteration boundary" 3 "$JOB" >"$T/wait.out" ||
    fail "first SIGTERM: not every rank said it stops: $(cat "$T/wait.out")"
# shellcheck disable=SC2086
kill -TERM $ranks 2>/dev/null
finish "$T/sig3.out"
unhold
check "second SIGTERM: exit 3 (got $RC)" exit_is 3
check "second SIGTERM: stops at once" grep -q "second signal: stopping now" "$T/sig3.out"
check "second SIGTERM: archive opens (h5py)" $CHECK opens "$A"
check "second SIGTERM: status reads it" sh -c "'$BIN' status '$A' >/dev/null"
state "$A" "$T/before3.json"

sweep "$T/sig4.out" 3 "$M" -o "$A" --resume
check "resume after the signals: exit 0 (got $RC)" exit_is 0
check "resume after the signals: resumed from a checkpoint" grep -q "resuming after iteration" "$T/sig4.out"
compare "signals, 3 ranks" "$A" --before "$T/before1.json" --before "$T/before2.json" --before "$T/before3.json"

# ---------------------------------------------------------------- 2. kill -9, 3 ranks
# kill -9 of mpirun and all ranks together: right after the archive appears,
# mid-run, at random moments with a checkpoint every iteration (rank 0 then
# writes most of the time), and inside the archive's writing calls (a
# checkpoint, a metrics row, a final image: STYLESWEEP_TEST_KILL). The
# archive needs no repair: --resume continues it each time.
A=$T/kill.h5
resume_args() { if [ -e "$A" ]; then echo --resume; fi; }
k=0
kill_at() { # kill_at HOW...: one cycle: start (resuming if the archive exists), wait, kill -9
    k=$((k + 1))
    start "$T/kill$k.out" 3 "$M" -o "$A" $(resume_args) --checkpoint-every 1
    "$@"
    kill_job
    finish "$T/kill$k.out"
    n_checks=$((n_checks + 1))
    [ "$RC" = 137 ] || [ "$RC" = 0 ] || fail "kill -9 cycle $k ($*): mpirun exited $RC"
    if [ -e "$A" ]; then
        check "kill -9 cycle $k ($*): archive opens (h5py)" $CHECK opens "$A"
        state "$A" "$T/kbefore$k.json"
    fi
}
after_start() { $CHECK wait-file "$A" "$JOB" $LIMIT >/dev/null; }
# mid_run RUN ITERATION: RUN held after ITERATION (a run done before: the job ends first)
mid_run() { wait_file "$H/held-$1" "$JOB" >/dev/null; }
random_moment() { wait_it "$A" "$1" 1 any; sleep "0.$((RANDOM % 9 + 1))"; }
kill_at after_start
for point in checkpoint:7 metrics:20 final:1; do
    k=$((k + 1))
    export STYLESWEEP_TEST_KILL=$point
    start "$T/kill$k.out" 3 "$M" -o "$A" --resume --checkpoint-every 1
    finish "$T/kill$k.out"
    unset STYLESWEEP_TEST_KILL
    check "kill -9 inside a $point write: the job ended abnormally (got $RC)" test "$RC" != 0
    check "kill -9 inside a $point write: archive opens (h5py)" $CHECK opens "$A"
    state "$A" "$T/kbefore$k.json"
done
hold_at "$H" 2 5 # run c
kill_at mid_run 2 5
unhold
kill_at random_moment adam
kill_at random_moment cont
sweep "$T/killend.out" 3 "$M" -o "$A" --resume --checkpoint-every 1
check "resume after kill -9: exit 0 (got $RC)" exit_is 0
befores=()
for f in "$T"/kbefore*.json; do befores+=(--before "$f"); done
compare "kill -9, 3 ranks" "$A" "${befores[@]}"
n_checks=$((n_checks + 1))
ls "$T"/kill.h5.tmp-* >/dev/null 2>&1 && [ ! -e "$A" ] && fail "a temporary archive was left without the archive"

# ---------------------------------------------------------------- 3. SIGINT, one rank, Adam and continuous L-BFGS
# One rank (no mpirun), only the runs whose optimizer keeps state between
# iterations: interrupted mid-run with SIGINT (exit 3) in each, resumed from
# the checkpoint's optimizer state, bit-identical to the reference.
M2=$T/optim.yaml
write_manifest "$M2"
sed -i '/- {id: a}/d; /- {id: b, /d; /- {id: c, /d' "$M2"
A=$T/optim.h5
hold_at "$H" 0 5 # adam
start "$T/int1.out" 0 "$M2" -o "$A" --checkpoint-every 2
held 1
kill -INT "$JOB"
stopped 1
release "$H"
finish "$T/int1.out"
check "SIGINT, one rank: exit 3 (got $RC)" exit_is 3
state "$A" "$T/ibefore1.json"
hold_at "$H" 1 5 # cont
start "$T/int2.out" 0 "$M2" -o "$A" --resume --checkpoint-every 2
held 1
kill -INT "$JOB"
stopped 1
release "$H"
finish "$T/int2.out"
unhold
check "SIGINT in cont: exit 3 (got $RC)" exit_is 3
check "Adam resumed from its checkpoint" grep -q "^adam: resuming after iteration [1-9]" "$T/int2.out"
state "$A" "$T/ibefore2.json"
sweep "$T/int3.out" 0 "$M2" -o "$A" --resume --checkpoint-every 2
check "SIGINT resume: exit 0 (got $RC)" exit_is 0
check "continuous L-BFGS resumed from its checkpoint" grep -q "^cont: resuming after iteration [1-9]" "$T/int3.out"
compare "Adam and continuous L-BFGS" "$A" --only adam,cont --before "$T/ibefore1.json" --before "$T/ibefore2.json"

# ---------------------------------------------------------------- 4. appended and changed runs
A=$T/sig.h5 # complete
state "$A" "$T/before_add.json"
M3=$T/more.yaml
write_manifest "$M3" "- {id: extra, iterations: 3}"
sweep "$T/add.out" 0 "$M3" -o "$A" --resume
check "appended run: exit 0 (got $RC)" exit_is 0
check "appended run: reported" grep -q "1 new run(s) appended" "$T/add.out"
check "appended run: only it runs" grep -q "6 runs, 1 to do, 5 done" "$T/add.out"
check "appended run: done with 3 metrics rows" test "$($CHECK show "$A" extra n_metrics)" = 3
compare "after appending" "$A" --before "$T/before_add.json"
n_checks=$((n_checks + 1))
$PY - "$A" "$M3" <<'EOF' || fail "the archive's manifest and hash are not the new manifest's"
import hashlib, sys, h5py
f = h5py.File(sys.argv[1], "r")
text = open(sys.argv[2]).read()
sys.exit(0 if f["manifest"].asstr()[()] == text and f.attrs["manifest_sha256"] == hashlib.sha256(text.encode()).hexdigest()
         and len(f["manifest_history"]) >= 1 else 1)
EOF

M4=$T/changed.yaml
write_manifest "$M4" "- {id: extra, iterations: 4}"
cp "$A" "$T/before_change.h5"
sweep "$T/chg.out" 0 "$M4" -o "$A" --resume
check "changed run: refused, exit 1 (got $RC)" exit_is 1
check "changed run: the message names it" grep -q "(extra)" "$T/chg.out"
check "changed run: the message offers --force" grep -q -- "--force" "$T/chg.out"
check "changed run: archive unchanged" cmp -s "$A" "$T/before_change.h5"
sweep "$T/force.out" 0 "$M4" -o "$A" --force
check "--force without --resume: usage error (got $RC)" exit_is 2
state "$A" "$T/before_force.json"
sweep "$T/force.out" 0 "$M4" -o "$A" --resume --force
check "--force: exit 0 (got $RC)" exit_is 0
check "--force: reported" grep -q "extra changed" "$T/force.out"
check "--force: the run ran again with 4 iterations" test "$($CHECK show "$A" extra n_metrics)" = 4
check "--force: one attempt of the new run" test "$($CHECK show "$A" extra attempts)" = 1
check "--force: new parameters stored" sh -c "$CHECK show '$A' extra params | grep -x 'iterations: 4' >/dev/null"
compare "after --force" "$A" --before "$T/before_force.json"

# ---------------------------------------------------------------- 5. failed runs
# An undecodable content image (a truncated JPEG) and a NaN loss: failed with
# the reason, the sweep goes on (exit 4); --resume leaves them, and
# --retry-failed runs them again (attempts counted).
head -c 3000 samples/content/chelsea.jpg >"$T/broken.jpg"
M5=$T/fail.yaml
write_manifest "$M5"
sed -i '/- {id: /d' "$M5"
cat >>"$M5" <<EOF
  - {id: broken, content: $T/broken.jpg, iterations: 3}
  - {id: nan, optimizer: adam, learning_rate: 1.0e6, content_weight: 1.0e30, style_weight: 1.0e30, tv_weight: 1.0e30, iterations: 3}
  - {id: fine, iterations: 3}
EOF
A=$T/fail.h5
sweep "$T/fail1.out" 3 "$M5" -o "$A"
check "failed runs: exit 4 (got $RC)" exit_is 4
check "undecodable image: failed" test "$($CHECK show "$A" broken status)" = failed
check "undecodable image: the error names the file" sh -c "$CHECK show '$A' broken error | grep broken.jpg >/dev/null"
check "NaN loss: failed" test "$($CHECK show "$A" nan status)" = failed
check "NaN loss: the error says so" sh -c "$CHECK show '$A' nan error | grep 'not finite' >/dev/null"
check "the other run is done" test "$($CHECK show "$A" fine status)" = done
cp samples/content/chelsea.jpg "$T/broken.jpg"
sweep "$T/fail2.out" 3 "$M5" -o "$A" --resume
check "resume without --retry-failed: exit 4 (got $RC)" exit_is 4
check "resume without --retry-failed: says it leaves them" grep -q "2 failed run(s) left as they are" "$T/fail2.out"
check "resume without --retry-failed: still 1 attempt" test "$($CHECK show "$A" broken attempts)" = 1
sweep "$T/fail3.out" 3 "$M5" -o "$A" --resume --retry-failed
check "--retry-failed: exit 4, the NaN run fails again (got $RC)" exit_is 4
check "--retry-failed: the fixed run is done" test "$($CHECK show "$A" broken status)" = done
check "--retry-failed: 2 attempts" test "$($CHECK show "$A" broken attempts)" = 2
check "--retry-failed: the NaN run 2 attempts" test "$($CHECK show "$A" nan attempts)" = 2
check "--retry-failed: the done run untouched" test "$($CHECK show "$A" fine attempts)" = 1
if [ "$SAN" = 0 ]; then # AddressSanitizer cannot run under a virtual memory limit
    M6=$T/oom.yaml
    write_manifest "$M6"
    sed -i '/- {id: /d' "$M6"
    printf '  - {id: huge, image_size: 4096, channels_div: 1, iterations: 1}\n  - {id: small, iterations: 2}\n' >>"$M6"
    (ulimit -v 3000000; sweep "$T/oom.out" 0 "$M6" -o "$T/oom.h5"; exit "$RC")
    RC=$?
    check "out of memory: exit 4 (got $RC)" exit_is 4
    check "out of memory: failed with the reason" sh -c "$CHECK show '$T/oom.h5' huge error | grep 'out of memory' >/dev/null"
    check "out of memory: the next run is done" test "$($CHECK show "$T/oom.h5" small status)" = done
fi

# ---------------------------------------------------------------- 6. bad archives
bad() { # bad WHAT NEEDLE ARCHIVE ARGS...: exit 1, a message with NEEDLE, the file unchanged
    local what=$1 needle=$2 archive=$3
    shift 3
    local sum=
    [ -f "$archive" ] && sum=$(md5sum <"$archive")
    sweep "$T/bad.out" 0 "$M" -o "$archive" "$@"
    check "$what: exit 1 (got $RC)" exit_is 1
    check "$what: says '$needle'" grep -q -- "$needle" "$T/bad.out"
    [ -n "$sum" ] && check "$what: file unchanged" test "$(md5sum <"$archive")" = "$sum"
    return 0
}
echo "not an archive" >"$T/text.h5"
bad "text file, no --resume" "--resume" "$T/text.h5"
bad "text file, --resume" "not an HDF5 file" "$T/text.h5" --resume
$PY -c 'import h5py, sys; h5py.File(sys.argv[1], "w")["x"] = 1' "$T/plain.h5"
bad "HDF5 without format" "not a stylesweep archive" "$T/plain.h5" --resume
cp "$T/ref.h5" "$T/v99.h5"
$PY -c 'import h5py, sys; h5py.File(sys.argv[1], "a").attrs["schema_version"] = 99' "$T/v99.h5"
bad "schema version 99" "schema version 99 is newer" "$T/v99.h5" --resume
cp "$T/optim.h5" "$T/ro.h5"
chmod a-w "$T/ro.h5"
bad "read-only archive, --resume" "read-only" "$T/ro.h5" --resume
mkdir "$T/rodir"
chmod a-w "$T/rodir"
bad "read-only folder" "read-only" "$T/rodir/new.h5"
check "read-only folder: nothing created" test -z "$(ls -A "$T/rodir")"
bad "missing folder" "No such file or directory" "$T/nodir/new.h5"
check "missing folder: not created" test ! -e "$T/nodir"

# A full disk (a small tmpfs in a private mount namespace, where allowed):
# the sweep stops with a clear error before the disk is full, the archive
# keeps everything before that, and --resume completes it once there is room.
mkdir -p "$T/full"
if unshare -rm sh -c 'mount -t tmpfs -o size=1m tmpfs "$1"' sh "$T/full" 2>/dev/null; then
    unshare -rm env BIN="$BIN" M="$M" D="$T/full" OUT="$T/full.out" STYLESWEEP_DISK_RESERVE_MB=0.5 \
        bash -c '
        mount -t tmpfs -o size=800k tmpfs "$D" || exit 90
        timeout -s KILL 150 "$BIN" run "$M" -o "$D/a.h5" --threads 1 >"$OUT.1" 2>&1; echo $? >"$OUT.rc1"
        cp "$D/a.h5" "$OUT.h5"
        timeout -s KILL 150 "$BIN" run "$M" -o "$D/a.h5" --threads 1 --resume >"$OUT.2" 2>&1; echo $? >"$OUT.rc2"
        cp "$D/a.h5" "$OUT.2.h5"
        mount -o remount,size=16m "$D" || exit 91
        timeout -s KILL 150 "$BIN" run "$M" -o "$D/a.h5" --threads 1 --resume >"$OUT.3" 2>&1; echo $? >"$OUT.rc3"
        cp "$D/a.h5" "$OUT.final.h5"'
    check "full disk: exit 1 (got $(cat "$T/full.out.rc1" 2>/dev/null))" test "$(cat "$T/full.out.rc1" 2>/dev/null)" = 1
    check "full disk: says the disk is full" grep -q "is full" "$T/full.out.1"
    check "full disk: archive opens" $CHECK opens "$T/full.out.h5"
    check "full disk, --resume: refused again (exit 1)" test "$(cat "$T/full.out.rc2" 2>/dev/null)" = 1
    check "full disk, --resume: says the disk is full" grep -q "is full" "$T/full.out.2"
    check "full disk, --resume: archive opens" $CHECK opens "$T/full.out.2.h5"
    check "full disk, room made: exit 0" test "$(cat "$T/full.out.rc3" 2>/dev/null)" = 0
    compare "full disk, then resumed" "$T/full.out.final.h5"
    verbose_file "$T/full.out.1" "$T/full.out.2" "$T/full.out.3"
else
    echo "test_resume: no private tmpfs here (unshare -rm): full-disk case skipped"
fi

n_checks=$((n_checks + 1))
if grep -l -E "runtime error|AddressSanitizer|LeakSanitizer" "$T"/*.out "$T"/full.out.* >"$T/san.list" 2>/dev/null; then
    fail "sanitizer reports in: $(tr '\n' ' ' <"$T/san.list")"
fi

check_summary
