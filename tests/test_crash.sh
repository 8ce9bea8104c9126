#!/usr/bin/env bash
# test_crash.sh - the archive under crashes (hdf5/SCHEMA.md, "Crashes"): a
# sweep that is still appending runs is killed with `kill -9` of the whole
# job (mpirun and every rank) again and again, at random moments and inside
# each writing call (STYLESWEEP_TEST_KILL: half a journal batch written,
# part of a batch applied to the archive, inside an append, a metrics row, a
# final image, right after an append), and resumed each time. Checks only
# end states (the kill moments are random, nothing depends on speed):
#  - every resume starts (no error but the kill), every kill is counted;
#  - a kill while the archive is half-updated leaves its journal, and
#    `status` reads the archive all the same (it overlays the journal);
#  - after the last resume: exit 0, every run done, final images, snapshots
#    and metrics bit-identical to an uninterrupted sweep (h5py alone,
#    tests/resume_check.py), no run done before a kill computed again, no
#    journal left behind.
#
#   bash tests/test_crash.sh PATH_TO_STYLESWEEP_BINARY
#
# CRASH_KILLS (default 32) and CRASH_RUNS (600) make it longer:
# scripts/soak_crash.sh runs it with hundreds of kills. About 2 minutes on
# 2 cores with the defaults. KEEP=1 keeps its folder, VERBOSE=1 shows each
# session.
set -u
# shellcheck source=tests/testlib.sh
. "$(dirname "$0")/testlib.sh"
need_python h5py numpy yaml
need_mpirun
export OMPI_MCA_rmaps_base_oversubscribe=1
KILLS=${CRASH_KILLS:-32}
RUNS=${CRASH_RUNS:-600}
LIMIT=600 # seconds for any one session: a hang is a failure
CHECK="$PY $TESTS_DIR/resume_check.py"

make_tmpdir
M=$T/crash.yaml
seed_grid_manifest crash-test "$RUNS" 3 >"$M"
# the archive starts with 16 runs, rank 0 appends the others 4 at a time
export STYLESWEEP_FIRST_RUNS=16 STYLESWEEP_APPEND_BATCH=4

JOB=
test_cleanup() { [ -n "$JOB" ] && kill_job; }
# kill_job: kill -9 of mpirun and every process under it, at once
kill_job() {
    local pids=$JOB kids
    kids=$(pgrep -P "$JOB")
    for k in $kids; do pids="$pids $k $(pgrep -P "$k" | tr '\n' ' ')"; done
    # shellcheck disable=SC2086 # a list of pids
    kill -9 $pids 2>/dev/null
    wait "$JOB" 2>/dev/null
    JOB=
}
# session OUT [KILLPOINT] [ARGS...]: one `run` on 3 ranks in the background
# (JOB), with STYLESWEEP_TEST_KILL=KILLPOINT when given ("-" for none)
session() {
    local out=$1 kp=$2
    shift 2
    if [ "$kp" = - ]; then
        timeout -s KILL $LIMIT mpirun -np 3 -x STYLESWEEP_FIRST_RUNS -x STYLESWEEP_APPEND_BATCH \
            "$BIN" run "$M" -o "$T/crash.h5" --threads 1 "$@" >"$out" 2>&1 </dev/null &
    else
        STYLESWEEP_TEST_KILL=$kp timeout -s KILL $LIMIT mpirun -np 3 -x STYLESWEEP_FIRST_RUNS \
            -x STYLESWEEP_APPEND_BATCH -x STYLESWEEP_TEST_KILL \
            "$BIN" run "$M" -o "$T/crash.h5" --threads 1 "$@" >"$out" 2>&1 </dev/null &
    fi
    JOB=$!
}
# errors OUT: stylesweep's error lines (the stop notice a dying job prints is none)
errors() { grep -a '^stylesweep run: ' "$1" | grep -av 'stopping at the next iteration boundary'; }
now() { date +%s.%N; }

# ------------------------------------------------------------ reference
t0=$(now)
timeout -s KILL $LIMIT mpirun -np 3 "$BIN" run "$M" -o "$T/ref.h5" --threads 1 >"$T/ref.out" 2>&1 </dev/null
RC=$?
t_ref=$($PY -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$t0" "$(now)")
CHECK_SHOW=$T/ref.out check "uninterrupted sweep of $RUNS runs: exit 0 (got $RC)" test "$RC" = 0
[ "$RC" = 0 ] || check_summary
verbose "reference: ${t_ref}s"

# ------------------------------------------------------------ kills
# Kill points (hdf5/journal.c, hdf5/archive_write.c, src/sweep.c) at the
# N-th pass, and random moments: a uniform fraction of 1.6 / KILLS of the
# reference sweep's time after the job started (a twentieth for 32 kills:
# whatever the machine's speed, the random kills together cut the sweep
# short after about a fifth of its work, and a kill point after a few runs).
POINTS=(commit apply append metrics final appended random random)
kills=0 sessions=0 started_bad=0 journal_seen=0 status_bad=0
RANDOM=${CRASH_SEED:-19}
while [ "$kills" -lt "$KILLS" ]; do
    p=${POINTS[$((sessions % ${#POINTS[@]}))]}
    # the append points only while runs remain to append (else never reached)
    if [ "$p" = append ] || [ "$p" = appended ]; then
        [ -e "$T/crash.h5" ] && "$BIN" status "$T/crash.h5" --summary 2>&1 | grep -q 'not in the archive yet' ||
            p=commit
    fi
    resume=()
    [ -e "$T/crash.h5" ] && resume=(--resume)
    out=$T/s$sessions.out
    case $p in
        random)
            session "$out" - "${resume[@]}"
            delay=$($PY -c "import random, sys; random.seed(int(sys.argv[3])); print(random.random() * float(sys.argv[1]) * 1.6 / int(sys.argv[2]))" "$t_ref" "$KILLS" "$RANDOM")
            sleep "$delay"
            if kill -0 "$JOB" 2>/dev/null; then
                kill_job
                RC=137
            else
                wait "$JOB"
                RC=$?
                JOB=
            fi
            ;;
        commit | apply) n=$((RANDOM % 150 + 2)) ;;
        metrics | final) n=$((RANDOM % 20 + 1)) ;;
        append) n=$((RANDOM % 6 + 1)) ;;
        appended) n=$((RANDOM % 25)) ;;
    esac
    if [ "$p" != random ]; then
        session "$out" "$p:$n" "${resume[@]}"
        wait "$JOB"
        RC=$?
        JOB=
    fi
    sessions=$((sessions + 1))
    verbose "session $sessions ($p${n:+:$n}): rc $RC, $(grep -ac ' done' "$out") done lines"
    verbose_file "$out"
    if errors "$out" >/dev/null; then
        started_bad=$((started_bad + 1))
        fail "session $sessions ($p): the resume did not start: $(errors "$out" | head -2)"
    fi
    if [ "$RC" = 0 ]; then
        [ "$p" = random ] || [ "$p" = appended ] || [ "$p" = append ] ||
            verbose "session $sessions: the kill point $p:$n was not reached (the sweep ended)"
        break # the sweep ended before the kill
    fi
    kills=$((kills + 1))
    # after some kills the archive is half-updated: its journal holds what was committed
    if [ -s "$T/crash.h5.journal" ]; then
        journal_seen=$((journal_seen + 1))
        if [ $((journal_seen % 4)) = 1 ] && ! "$BIN" status "$T/crash.h5" --summary >"$T/status.out" 2>&1; then
            status_bad=$((status_bad + 1))
            fail "after kill $kills ($p): status cannot read the archive: $(head -2 "$T/status.out")"
        fi
    fi
    # what was done at some kills: not computed again later (compare --before)
    if [ $((kills % 8)) = 0 ] && [ ! -s "$T/crash.h5.journal" ]; then
        $CHECK state "$T/crash.h5" >"$T/before$kills.json" 2>/dev/null || rm -f "$T/before$kills.json"
    fi
    n=
done
check "$KILLS kills of whole jobs before the sweep ended (got $kills in $sessions sessions)" test "$kills" -ge "$KILLS"
check "every resume started ($started_bad did not)" test "$started_bad" = 0
check "status read every half-updated archive ($status_bad failed)" test "$status_bad" = 0
check "some kill left a journal to roll forward ($journal_seen did)" test "$journal_seen" -gt 0
echo "$TEST_NAME: $kills kills in $sessions sessions ($journal_seen left a journal), reference ${t_ref}s"

# ------------------------------------------------------------ the end
$CHECK state "$T/crash.h5" >"$T/before.json" 2>"$T/state.err"
befores=()
for b in "$T"/before*.json; do befores+=(--before "$b"); done
session "$T/last.out" - --resume
wait "$JOB"
RC=$?
JOB=
CHECK_SHOW=$T/last.out check "last resume: exit 0 (got $RC)" test "$RC" = 0
check "last resume: every run done" grep -aq "$RUNS done, 0 running, 0 pending, 0 failed" "$T/last.out"
if ! $CHECK compare "$T/ref.h5" "$T/crash.h5" "${befores[@]}" >"$T/compare.out" 2>&1; then
    fail "after $kills kills: not the uninterrupted sweep (images, snapshots or metrics differ, or a done run ran again)"
    show "$T/compare.out"
fi
n_checks=$((n_checks + 1))
check "no journal left after the sweep ended" test ! -e "$T/crash.h5.journal"
check_summary
