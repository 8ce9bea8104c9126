#!/usr/bin/env bash
# bench_sweep.sh - what the coordinator (rank 0) costs per message, for one or
# more sweep sizes, printed as one table. Not a test.
#
#   scripts/bench_sweep.sh [BINARY]          # default build/stylesweep
#
# Environment: RUNS (the sizes, comma-separated; default 1000), NP (ranks,
# default 3), EVALS (evaluations per iteration, default 20, the study's;
# EVALS=1 makes runs almost free and stresses rank 0 most), ITERATIONS (1),
# CHECKPOINT_EVERY (1), CHANNELS_DIV (8: the narrow network), IMAGE_SIZE
# (16), SNAPSHOTS (the schedule, default "{first: 1, every: 0}": one image
# per run), THREADS (1 per worker), COMPUTE (1: real runs; 0: workers skip
# the computation and send rank 0 exactly what real runs of the same
# parameters send: metrics rows, snapshots, checkpoints and final images of
# the real sizes, through STYLESWEEP_BENCH_NO_COMPUTE=1; default 1 up to
# 2,000 runs, 0 above, since 100,000 real runs take hours here), KEEP=1
# keeps the temporary folder.
#
# Each size writes a manifest (one experiment, a grid over `seed`: every run
# different, `init: noise`) and runs
#   mpirun --oversubscribe -np NP stylesweep run MANIFEST -o ARCHIVE --threads 1 --summary-every 1000
# Columns:
#   runs         the sweep's size
#   compute      1 real runs, 0 the no-compute worker mode
#   create s     from mpirun's start to the first run's start (loading the
#                manifest and making the archive with its first 2048 runs)
#   sweep s      first run start to last run end (from the archive)
#   messages     messages rank 0 handled (every message from a worker, run requests included)
#   ms/message   rank 0's time per message (each with its archive writes and flushes)
#   busy         messages x ms/message / sweep time: rank 0 is the bottleneck near 100 %
#   wait ms      the workers' mean / max wait for rank 0 (a request until its
#                answer, a send until rank 0 took it), over all workers
#   append s     rank 0's time appending runs to the archive after the first
#                batch (2048 runs: STYLESWEEP_FIRST_RUNS) / the part of it a
#                worker waited for (every run in the archive handed out)
#   bytes/run    archive size / runs
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
BIN=${1:-build/stylesweep}
[ -x "$BIN" ] || { echo "bench_sweep: $BIN is not an executable (build first)" >&2; exit 2; }
SIZES=${RUNS:-1000}
NP=${NP:-3}
CHANNELS_DIV=${CHANNELS_DIV:-8}
IMAGE_SIZE=${IMAGE_SIZE:-16}
ITERATIONS=${ITERATIONS:-1}
CHECKPOINT_EVERY=${CHECKPOINT_EVERY:-1}
EVALS=${EVALS:-20}
SNAPSHOTS=${SNAPSHOTS:-"{first: 1, every: 0}"}
THREADS=${THREADS:-1}
PY=/usr/bin/python3
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

T=$(mktemp -d "${TMPDIR:-/tmp}/bench_sweep.XXXXXX") || exit 2
if [ -z "${KEEP:-}" ]; then trap 'rm -rf "$T"' EXIT; else echo "bench_sweep: keeping $T"; fi

echo "bench_sweep: vgg16/$CHANNELS_DIV to conv3_2, ${IMAGE_SIZE} px, $ITERATIONS iteration(s) of <= $EVALS evaluations, checkpoint every $CHECKPOINT_EVERY, random weights, $NP ranks, $(nproc) cores"
printf '%9s %8s %9s %9s %9s %11s %7s %15s %15s %10s\n' runs compute "create s" "sweep s" messages ms/message busy "wait ms" \
    "append s" bytes/run
for RUNS_N in ${SIZES//,/ }; do
    COMPUTE_N=${COMPUTE:-$([ "$RUNS_N" -le 2000 ] && echo 1 || echo 0)}
    D="$T/$RUNS_N"
    mkdir -p "$D"
    cat >"$D/bench.yaml" <<YAML
sweep: bench
defaults:
  content: $PWD/samples/content/chelsea.jpg
  style: [$PWD/samples/style/starry_night.jpg]
  model: vgg16
  weights: random
  channels_div: $CHANNELS_DIV
  image_size: $IMAGE_SIZE
  iterations: $ITERATIONS
  evals_per_iteration: $EVALS
  content_layer: conv3_2
  style_layers: [conv1_1, conv2_1, conv3_1]     # a 16 px image does not reach block 4 and 5
  init: noise
  snapshots: $SNAPSHOTS
grid:
  seed: [$(seq -s ', ' 0 $((RUNS_N - 1)))]
YAML
    cmd=(mpirun --oversubscribe -np "$NP" -x STYLESWEEP_BENCH_NO_COMPUTE="$([ "$COMPUTE_N" = 0 ] && echo 1 || echo 0)"
        -x STYLESWEEP_BENCH_WAITS=1 "$BIN" run "$D/bench.yaml" -o "$D/bench.h5" --threads "$THREADS"
        --checkpoint-every "$CHECKPOINT_EVERY" --summary-every 1000)
    t0=$(date +%s.%N)
    timeout -k 10 3600 "${cmd[@]}" >"$D/out" 2>"$D/err" </dev/null
    rc=$?
    if [ $rc -ne 0 ]; then
        echo "bench_sweep: the sweep of $RUNS_N runs exited with $rc: ${cmd[*]}" >&2
        tail -n 5 "$D/out" "$D/err" >&2
        exit 1
    fi
    "$PY" - "$D/bench.h5" "$t0" "$RUNS_N" "$COMPUTE_N" "$D/out" "$D/err" <<'PY'
import os
import re
import sys

import h5py
import numpy as np

path, t0, runs, compute, out, err = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
text = open(out).read()
m = re.search(r"rank 0 handled (\d+) messages, ([0-9.]+) ms per message", text)
messages, ms = int(m.group(1)), float(m.group(2))
waits = [tuple(map(float, w)) for w in re.findall(r"waited (\d+) times: mean ([0-9.]+) ms, max ([0-9.]+) ms", open(err).read())]
n_w = sum(w[0] for w in waits)
mean_w = sum(w[0] * w[1] for w in waits) / n_w if n_w else float("nan")
max_w = max((w[2] for w in waits), default=float("nan"))
a = re.search(r"appended \d+ runs to the archive in \d+ batches, ([0-9.]+) s \(([0-9.]+) s", text)
append = f"{float(a.group(1)):6.1f} / {float(a.group(2)):5.1f}" if a else "-"
with h5py.File(path, "r") as f:
    t = f["run_table"][:]
    names = {v: k for k, v in h5py.check_enum_dtype(t.dtype["status"]).items()}
    done = sum(names[int(s)] == "done" for s in t["status"])
    start, end = float(t["start_time"].min()), float(t["end_time"].max())
if done != runs:
    sys.exit(f"bench_sweep: only {done} of {runs} runs done")
sweep_s = end - start
print(f"{runs:9d} {compute:>8} {start - t0:9.1f} {sweep_s:9.1f} {messages:9d} {ms:11.3f} "
      f"{messages * ms / 1000.0 / sweep_s:7.1%} {mean_w:7.2f} / {max_w:5.1f} {append:>15} {os.path.getsize(path) / runs:10.0f}")
PY
    [ $? -eq 0 ] || exit 1
    # whether waits come from rank 0's work or from ranks waiting for a core
    # (on this machine more ranks than cores): rank 0's longest message,
    # wall and CPU, and how often the ranks were preempted (getrusage)
    "$PY" - "$D/out" "$D/err" <<'PY'
import re
import sys

out, err = open(sys.argv[1]).read(), open(sys.argv[2]).read()
m = re.search(r"longest message took ([0-9.]+) ms \(([0-9.]+) ms of it on the CPU\); rank 0 was preempted (\d+) times", out)
w = [int(x) for x in re.findall(r"waited \d+ times: .*; preempted (\d+) times", err)]
if m:
    print(f"          rank 0's longest message {m.group(1)} ms ({m.group(2)} ms CPU), rank 0 preempted {m.group(3)} times; "
          f"{len(w)} workers preempted {sum(w)} times (at most {max(w, default=0)})")
PY
    [ -n "${KEEP:-}" ] || rm -f "$D/bench.h5"
done
