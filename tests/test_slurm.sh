#!/usr/bin/env bash
# test_slurm.sh - slurm/submit.sh and slurm/stylesweep.sbatch on a real
# SLURM: a one-node cluster on localhost (slurm-wlm and munge, installed by
# scripts/setup.sh when missing) with its own configuration, keys, ports and
# state in a temporary folder; the test starts munged, slurmctld and slurmd
# itself (no systemd needed) and stops them by PID at the end. Checks:
#   1. a sweep that completes in one start: no requeue, one start in the log;
#   2. scancel mid-sweep (job CANCELLED, not requeued), then the same
#      submission again, whose time limit (SLURM's own, with --signal=B:USR2)
#      hits mid-sweep: it checkpoints, requeues itself and finishes; every PNG
#      is identical to sweep 1's, no run is computed twice, the log holds
#      every start;
#   3. a persistent error: the manifest changes between two starts; the
#      second start fails (exit 1) and the job ends FAILED, not requeued;
#   4. a signal in the first moments of a start waits for the ranks (no rank
#      killed by it);
#   5. a start without progress does not requeue; the requeue cap holds.
#
#   bash tests/test_slurm.sh PATH_TO_STYLESWEEP_BINARY
#
# Needs root (slurmd starts the jobs; setup installs packages); skipped with
# the reason otherwise. About 3 minutes: 12 runs of 32 px on one worker with
# one core; SLURM checks time limits every 30 s. Where a signal must land
# mid-sweep, a run is held at an iteration boundary (tests/testlib.sh's
# hold_at, src/testhold.h) until it did, whatever the machine's speed.
# The requeue delay is AuthInfo=cred_expire (10 s here, 120 s by default).
# VERBOSE=1 prints the job logs; KEEP=1 keeps the folder (daemon logs too).
set -u
# shellcheck source=tests/testlib.sh
. "$(dirname "$0")/testlib.sh"
SKIP=77 # tests/CMakeLists.txt: SKIP_RETURN_CODE
skip() {
    echo "$TEST_NAME: SKIPPED: $*"
    exit $SKIP
}
[ "$(id -u)" = 0 ] || skip "needs root: slurmd must run as root to start jobs, and scripts/setup.sh installs slurm-wlm and munge"
case "$(basename "$BIN")" in
    *_san) skip "the sanitizer build is not run under SLURM (the plain build is)" ;;
esac
need_mpirun
for d in munged slurmctld slurmd sbatch; do
    if ! command -v "$d" >/dev/null && [ ! -x "/usr/sbin/$d" ]; then
        echo "$TEST_NAME: $d missing: running scripts/setup.sh"
        "$REPO/scripts/setup.sh" || {
            echo "$TEST_NAME: scripts/setup.sh could not install slurm-wlm and munge"
            exit 1
        }
        break
    fi
done
PATH=$PATH:/usr/sbin
# nothing of an outer SLURM job may leak into this cluster's jobs
for v in $(compgen -e | grep '^SLURM_'); do unset "$v"; done

make_tmpdir
S=$T/slurm # the cluster's files
mkdir -p "$S/state" "$S/spool"
DAEMONS=() # PIDs, started in this order
test_cleanup() {
    if [ ${#DAEMONS[@]} -gt 0 ]; then
        scancel --quiet --user=root 2>/dev/null
        local i
        for i in $(seq 1 20); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 0.5; done
        kill "${DAEMONS[@]}" 2>/dev/null
        for i in $(seq 1 20); do kill -0 "${DAEMONS[@]}" 2>/dev/null || break; sleep 0.25; done
        kill -9 "${DAEMONS[@]}" 2>/dev/null
    fi
    [ -n "${KEEP:-}" ] || return 0
    echo "daemon logs: $S"
}

# ---------------------------------------------------------------- the cluster
dd if=/dev/urandom of="$S/munge.key" bs=1024 count=1 2>/dev/null
chmod 600 "$S/munge.key"
munged -F -f --socket="$S/munge.sock" --key-file="$S/munge.key" --pid-file="$S/munged.pid" \
    --log-file="$S/munged.log" --seed-file="$S/munged.seed" >"$S/munged.out" 2>&1 &
DAEMONS+=($!)
read -r PORT1 PORT2 < <($PY -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
HOST=$(hostname -s)
cat >"$S/slurm.conf" <<EOF
# one node on localhost, for tests/test_slurm.sh
ClusterName=sstest
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$PORT1
SlurmdPort=$PORT2
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# cred_expire: also how long a requeued job waits before it starts again
AuthInfo=socket=$S/munge.sock,cred_expire=10
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
SlurmctldLogFile=$S/slurmctld.log
SlurmdLogFile=$S/slurmd.log
MailProg=/bin/true
ProctrackType=proctrack/pgid
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1,bf_interval=1
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
ReturnToService=2
KillWait=5
MinJobAge=3600
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=test Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$S/slurm.conf
for i in $(seq 1 50); do [ -S "$S/munge.sock" ] && break; sleep 0.1; done
slurmctld -D -f "$SLURM_CONF" >"$S/slurmctld.out" 2>&1 &
DAEMONS+=($!)
slurmd -D -f "$SLURM_CONF" -N "$HOST" >"$S/slurmd.out" 2>&1 &
DAEMONS+=($!)
up=0
for i in $(seq 1 60); do
    if sinfo -h -o %t 2>/dev/null | grep -q idle; then up=1; break; fi
    sleep 0.5
done
if [ $up = 0 ]; then
    echo "$TEST_NAME: the one-node SLURM did not come up; its logs:"
    tail -n 20 "$S"/*.log "$S"/*.out 2>/dev/null
    exit 1
fi
verbose "SLURM up: $(sinfo -h -o '%P %t %N %c CPUs')"

# ---------------------------------------------------------------- helpers
export STYLESWEEP=$BIN # the batch script's binary (kept through --export=ALL)
M=$T/sweep.yaml
{
    tiny_sweep_head slurm-test
    cat <<EOF
  image_size: 32
  iterations: 60
  evals_per_iteration: 8
  content_weight: 0.25
  style_norm: target
  tv_weight: 1.0e-6
  init: noise
  pool: avg
  snapshots: {first: 2, every: 10}
experiments:
  - {id: adam, optimizer: adam, learning_rate: 2.0, seed: 1}
  - {id: cont, lbfgs_restart: false, seed: 2}
EOF
    for i in $(seq 1 10); do echo "  - {id: r$i, seed: $((i + 2))}"; done
} >"$M"

# submit NAME ARCHIVE MANIFEST [SBATCH_OPTIONS...]: one worker with one core,
# log $T/NAME.log; the job id in JOB
submit() {
    local name=$1 archive=$2 manifest=$3
    shift 3
    JOB=$(slurm/submit.sh "$manifest" "$archive" --cpu --workers 1 --cores 1 --time 10 -- \
        --job-name="$name" --output="$T/$name.log" --parsable "$@" 2>"$T/submit.err" | tail -n 1)
    [[ $JOB =~ ^[0-9]+$ ]] || {
        echo "$TEST_NAME: submit.sh failed: $(cat "$T/submit.err")"
        exit 1
    }
}
field() { scontrol show job "$1" 2>/dev/null | grep -o "\b$2=[^ ]*" | head -n 1 | cut -d= -f2; }
# wait_state JOB SECONDS STATE...: until the job is in one of the states
wait_state() {
    local job=$1 limit=$2 s
    shift 2
    for i in $(seq 1 $((limit * 2))); do
        s=$(field "$job" JobState)
        for want in "$@"; do [ "$s" = "$want" ] && return 0; done
        sleep 0.5
    done
    return 1
}
# iterations ARCHIVE: iterations recorded, all runs together (0 without the archive)
iterations() {
    [ -e "$1" ] || {
        echo 0
        return
    }
    "$BIN" status "$1" 2>/dev/null | awk '$3 ~ /^[0-9]+\/[0-9]+$/ { split($3, a, "/"); n += a[1] } END { print n + 0 }'
}
# wait_job_file FILE JOB: until FILE exists (a hold's marker, src/testhold.h)
# while the job is not over; at most 300 s
wait_job_file() {
    local s
    for i in $(seq 1 6000); do
        [ -e "$1" ] && return 0
        s=$(field "$2" JobState)
        case $s in COMPLETED | FAILED | CANCELLED | TIMEOUT) return 1 ;; esac
        sleep 0.05
    done
    return 1
}
# done_runs ARCHIVE: its done runs, "ID ATTEMPTS" a line; attempts ARCHIVE ID: that run's attempts
done_runs() { "$BIN" status "$1" | awk '$2 == "done" { print $1, $5 }'; }
attempts() { "$BIN" status "$1" | awk -v id="$2" '$1 == id { print $5 }'; }
starts() { grep -c '^==== start ' "$1"; }
job_log() { verbose_file "$T/$1.log"; }

# ---------------------------------------------------------------- 1. one start
A1=$T/ref.h5
submit ref "$A1" "$M"
J1=$JOB
check "1: the job ends" wait_state "$J1" 300 COMPLETED FAILED CANCELLED TIMEOUT
job_log ref
CHECK_SHOW=$T/ref.log
check "1: the job COMPLETED (got $(field "$J1" JobState))" test "$(field "$J1" JobState)" = COMPLETED
check "1: never requeued (Restarts=$(field "$J1" Restarts))" test "$(field "$J1" Restarts)" = 0
check "1: one start in the log" test "$(starts "$T/ref.log")" = 1
check "1: the log says why no requeue" grep -q "not requeued: the sweep ended (exit 0)" "$T/ref.log"
check "1: every run done" grep -q " 12 done," <("$BIN" status "$A1" --summary)
check "1: the caller's environment reached the ranks (root mpirun)" grep -q "^sweep slurm-test" "$T/ref.log"
"$BIN" export "$A1" -o "$T/ref" >/dev/null || fail "1: export failed"

# ---------------------------------------------------------------- 2. scancel, resubmit, time limit
# (each job's run of index H is held at an iteration boundary until the test
# acted: the job is certainly mid-sweep then, however fast the machine is)
A2=$T/sweep.h5
hold_at "$T/hold2" 3 5 # r2, after adam, cont and r1
submit cancelled "$A2" "$M"
unhold
J2=$JOB
check "2: scancel job: r2 held mid-sweep" wait_job_file "$T/hold2/held-3" "$J2"
scancel "$J2"
check "2: scancel: the job ends" wait_state "$J2" 60 CANCELLED COMPLETED FAILED
job_log cancelled
CHECK_SHOW=$T/cancelled.log
check "2: scancel: CANCELLED (got $(field "$J2" JobState))" test "$(field "$J2" JobState)" = CANCELLED
check "2: scancel: not requeued" test "$(field "$J2" Restarts)" = 0
check "2: scancel: the archive reads" "$BIN" status "$A2" --summary >/dev/null
before=$(iterations "$A2")
done_runs "$A2" >"$T/done1"

hold_at "$T/hold3" 6 3 # r5, held in both starts (the second finds it released)
submit resumed "$A2" "$M" --signal=B:USR2@10
unhold
J3=$JOB
CHECK_SHOW=$T/resumed.log
check "2: resubmitted: r5 held mid-sweep" wait_job_file "$T/hold3/held-6" "$J3"
# SLURM's own time limit: 1 minute from the start; SLURM checks limits every
# 30 s and sends --signal's USR2 up to a minute early. r5 stays held until
# the signal has reached it, so that the sweep is mid-way then.
scontrol update JobId="$J3" TimeLimit=1 || fail "2: scontrol update TimeLimit=1 failed"
check "2: the time-limit signal reached the held run" wait_job_file "$T/hold3/stopped-6" "$J3"
release "$T/hold3"
check "2: the time-limit signal came" grep -q "SIGUSR2 at" "$T/resumed.log"
for i in $(seq 1 120); do [ "$(field "$J3" Restarts)" = 1 ] && break; sleep 0.5; done
check "2: requeued once" test "$(field "$J3" Restarts)" = 1
check "2: requeued: pending" wait_state "$J3" 30 PENDING
done_runs "$A2" >"$T/done2"
scontrol update JobId="$J3" TimeLimit=10 || fail "2: scontrol update TimeLimit=10 failed"
check "2: the requeued job ends" wait_state "$J3" 300 COMPLETED FAILED CANCELLED TIMEOUT
job_log resumed
check "2: COMPLETED (got $(field "$J3" JobState))" test "$(field "$J3" JobState)" = COMPLETED
check "2: two starts in the log" test "$(starts "$T/resumed.log")" = 2
check "2: the log has start 1's end" grep -q "work left: requeueing job $J3" "$T/resumed.log"
check "2: the first start stopped with exit 3" grep -q "start 1 ended at .* with exit code 3" "$T/resumed.log"
check "2: a run resumed from its checkpoint" grep -q "resuming after iteration" "$T/resumed.log"
"$BIN" export "$A2" -o "$T/resumed" >/dev/null || fail "2: export failed"
n_checks=$((n_checks + 1))
if [ "$(cd "$T/ref" && find . -name '*.png' | sort)" != "$(cd "$T/resumed" && find . -name '*.png' | sort)" ]; then
    fail "2: not the same PNG files as the uninterrupted sweep"
fi
n_png=0
for f in $(cd "$T/ref" && find . -name '*.png'); do
    n_png=$((n_png + 1))
    cmp -s "$T/ref/$f" "$T/resumed/$f" || fail "2: $f differs from the uninterrupted sweep's"
done
check "2: PNGs compared ($n_png)" test "$n_png" -gt 24
# no run computed twice: a run done before an interruption gains no attempt
# after it (one resumed from its checkpoint before it was done has 2)
n_checks=$((n_checks + 1))
while read -r id was; do
    n=$(attempts "$A2" "$id")
    [ "$n" = "$was" ] || fail "2: run $id, done before an interruption with $was attempt(s), has $n attempts"
done < <(sort -u "$T/done1" "$T/done2")
check "2: some runs were done before an interruption" test -s "$T/done2"
# (mpirun, killed by scancel, may lose the last lines of the ranks' output)
n_checks=$((n_checks + 1))
for id in adam cont $(seq -f 'r%g' 1 10); do
    n=$(cat "$T/cancelled.log" "$T/resumed.log" | grep -c "^$id done:")
    [ "$n" -le 1 ] || fail "2: the logs report run $id done $n times"
done

# ---------------------------------------------------------------- 3. a persistent error
M3=$T/changing.yaml
cp "$M" "$M3"
A3=$T/changing.h5
hold_at "$T/hold4" 2 2 # r1
submit changing "$A3" "$M3"
unhold
J4=$JOB
CHECK_SHOW=$T/changing.log
check "3: r1 held mid-sweep" wait_job_file "$T/hold4/held-2" "$J4"
sed -i 's/iterations: 60/iterations: 61/' "$M3" # every run's parameters change
scancel --batch --signal=USR2 "$J4"
check "3: the signal reached the held run" wait_job_file "$T/hold4/stopped-2" "$J4"
release "$T/hold4"
check "3: the job ends" wait_state "$J4" 120 FAILED COMPLETED CANCELLED TIMEOUT
job_log changing
check "3: FAILED (got $(field "$J4" JobState))" test "$(field "$J4" JobState)" = FAILED
check "3: requeued once only, after the signal (Restarts=$(field "$J4" Restarts))" test "$(field "$J4" Restarts)" = 1
check "3: two starts in the log" test "$(starts "$T/changing.log")" = 2
check "3: start 2 says what changed" grep -q "the parameters of 12 run(s) changed" "$T/changing.log"
check "3: not requeued after exit 1" grep -q "not requeued: an error (exit 1)" "$T/changing.log"

# ---------------------------------------------------------------- 4. an early signal
# USR2 as soon as the job runs, before the ranks handle signals: the batch
# script holds it until they do; the sweep then stops at its first
# iteration boundary with exit 3 (no rank killed by the signal) and, with no
# run done and at most an iteration or two, either requeues once (it made
# progress) or not at all; never a FAILED job killed by the signal.
A4=$T/early.h5
submit early "$A4" "$M"
J5=$JOB
# (a signal sent before the batch script runs is lost: wait for its first line)
for i in $(seq 1 240); do grep -q "^==== start 1" "$T/early.log" 2>/dev/null && break; sleep 0.05; done
scancel --batch --signal=USR2 "$J5"
check "4: the job ends or requeues" wait_state "$J5" 120 FAILED COMPLETED PENDING
job_log early
CHECK_SHOW=$T/early.log
check "4: the signal was passed on" grep -q "SIGUSR2 at" "$T/early.log"
check "4: the signal waited for the ranks, which stopped with exit 3" grep -q "start 1 ended at .* with exit code 3" "$T/early.log"
scancel "$J5" 2>/dev/null

# ---------------------------------------------------------------- 5. no progress; the requeue cap
# Stand-ins for `stylesweep run` (anything else runs the real binary): one
# that stops before any iteration (exit 3, as if interrupted at once) never
# requeues; one whose every start is interrupted (SIGUSR2 to rank 0 once a run
# is held after its first iteration, src/testhold.h) requeues
# STYLESWEEP_MAX_REQUEUES times (1 here), then fails.
cat >"$T/fake" <<EOF2
#!/bin/bash
if [ "\$1" = run ]; then
    case \${FAKE_RUN:-} in
        noprogress) exit 3 ;;
        brief)
            dir=$T/brief/start-\${SLURM_RESTART_COUNT:-0}
            mkdir -p "\$dir"
            export STYLESWEEP_TEST_HOLD="*:1:\$dir"
            if [ "\${OMPI_COMM_WORLD_RANK:-0}" = 0 ]; then
                me=\$\$
                (
                    until ls "\$dir"/held-* >/dev/null 2>&1; do kill -0 \$me 2>/dev/null || exit; sleep 0.05; done
                    kill -USR2 \$me
                    until ls "\$dir"/stopped-* >/dev/null 2>&1; do kill -0 \$me 2>/dev/null || exit; sleep 0.05; done
                    touch "\$dir/release"
                ) </dev/null >/dev/null 2>&1 &
            fi
            ;;
    esac
fi
exec "$BIN" "\$@"
EOF2
chmod +x "$T/fake"
wait_state "$J5" 60 CANCELLED FAILED COMPLETED
A5=$T/noprogress.h5
cp "$A4" "$A5"
STYLESWEEP=$T/fake FAKE_RUN=noprogress submit noprogress "$A5" "$M"
J6=$JOB
CHECK_SHOW=$T/noprogress.log
check "5: no progress: the job ends" wait_state "$J6" 120 FAILED COMPLETED CANCELLED
job_log noprogress
check "5: no progress: FAILED (got $(field "$J6" JobState))" test "$(field "$J6" JobState)" = FAILED
check "5: no progress: not requeued" test "$(field "$J6" Restarts)" = 0
check "5: no progress: the log says why" grep -q "not requeued: this start made no progress" "$T/noprogress.log"

A6=$T/capped.h5
STYLESWEEP=$T/fake FAKE_RUN=brief STYLESWEEP_MAX_REQUEUES=1 submit capped "$A6" "$M"
J7=$JOB
# shellcheck disable=SC2034 # read by check (tests/testlib.sh)
CHECK_SHOW=$T/capped.log
check "5: cap: the job ends" wait_state "$J7" 180 FAILED COMPLETED CANCELLED
job_log capped
check "5: cap: FAILED (got $(field "$J7" JobState))" test "$(field "$J7" JobState)" = FAILED
check "5: cap: requeued once (Restarts=$(field "$J7" Restarts))" test "$(field "$J7" Restarts)" = 1
check "5: cap: two starts, each with progress" test "$(grep -c "with exit code 3; runs done and iterations" "$T/capped.log")" = 2
check "5: cap: the log says why" grep -q "not requeued: already requeued 1 times" "$T/capped.log"

n_checks=$((n_checks + 1))
if grep -l -E "runtime error|AddressSanitizer|LeakSanitizer" "$T"/*.log >"$T/san.list" 2>/dev/null; then
    fail "sanitizer reports in: $(tr '\n' ' ' <"$T/san.list")"
fi
check_summary
