#!/usr/bin/env bash
# bench_sweep.sh - scheduler throughput: many tiny runs on several ranks, to
# see what the coordinator (rank 0) costs per run. Not a test.
#
#   scripts/bench_sweep.sh [BINARY]          # default build/stylesweep
#
# Environment: RUNS (default 200), NP (ranks, default 3), CHANNELS_DIV
# (default 8: the narrow network; 1: the full VGG16 width; either way the
# layers stop at conv3_2, since 16 px does not reach block 4), IMAGE_SIZE
# (16), ITERATIONS (1), EVALS (evaluations per iteration, default 20, the
# study's; EVALS=1 makes runs almost free and stresses rank 0 most),
# SNAPSHOTS (the schedule, default "{first: 1, every: 0}": one image per
# run), THREADS (1 per worker), KEEP=1 keeps the temporary folder.
#
# It writes a manifest of RUNS runs (one experiment, a grid over `seed`, so
# every run is different: `init: noise`), runs it with
#   mpirun --oversubscribe -np NP stylesweep run MANIFEST -o ARCHIVE --threads 1 --summary-every 1000
# and reports:
#   - runs per second, over the mpirun's wall time (with MPI start-up) and over
#     the sweep itself (first run start to last run end, from the archive);
#   - rank 0's messages and time per message (its own report: every message
#     from a worker, run requests included, each with its archive writes and
#     flushes), and its busy fraction = messages x time per message / sweep
#     time: rank 0 is the bottleneck when that nears 1 (it then has no time
#     left to answer requests, and workers wait);
#   - the mean duration of a run as rank 0 sees it (assignment to done).
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
BIN=${1:-build/stylesweep}
[ -x "$BIN" ] || { echo "bench_sweep: $BIN is not an executable (build first)" >&2; exit 2; }
RUNS=${RUNS:-200}
NP=${NP:-3}
CHANNELS_DIV=${CHANNELS_DIV:-8}
IMAGE_SIZE=${IMAGE_SIZE:-16}
ITERATIONS=${ITERATIONS:-1}
EVALS=${EVALS:-20}
SNAPSHOTS=${SNAPSHOTS:-"{first: 1, every: 0}"}
THREADS=${THREADS:-1}
PY=/usr/bin/python3
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

T=$(mktemp -d "${TMPDIR:-/tmp}/bench_sweep.XXXXXX") || exit 2
if [ -z "${KEEP:-}" ]; then trap 'rm -rf "$T"' EXIT; else echo "bench_sweep: keeping $T"; fi

seeds=$(seq -s ', ' 0 $((RUNS - 1)))
cat >"$T/bench.yaml" <<EOF
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
  seed: [$seeds]
EOF

cmd=(mpirun --oversubscribe -np "$NP" "$BIN" run "$T/bench.yaml" -o "$T/bench.h5" --threads "$THREADS" --summary-every 1000)
echo "bench_sweep: $RUNS runs (vgg16/$CHANNELS_DIV to conv3_2, ${IMAGE_SIZE} px, $ITERATIONS iteration(s) of <= $EVALS evaluations, random weights) on $NP ranks"
echo "  ${cmd[*]}"
t0=$(date +%s.%N)
timeout -k 10 1800 "${cmd[@]}" >"$T/out" 2>"$T/err" </dev/null
rc=$?
t1=$(date +%s.%N)
if [ $rc -ne 0 ]; then
    echo "bench_sweep: the sweep exited with $rc" >&2
    tail -n 5 "$T/out" "$T/err" >&2
    exit 1
fi
line=$(grep -E '^rank 0 handled' "$T/out")
"$PY" - "$T/bench.h5" "$t0" "$t1" "$line" "$NP" <<'EOF'
import re
import sys

import h5py
import numpy as np

path, t0, t1, line, np_ = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], int(sys.argv[5])
m = re.match(r"rank 0 handled (\d+) messages, ([0-9.]+) ms per message", line)
messages, ms = int(m.group(1)), float(m.group(2))
with h5py.File(path, "r") as f:
    t = f["run_table"][:]
    names = {v: k for k, v in h5py.check_enum_dtype(t.dtype["status"]).items()}
    done = sum(names[int(s)] == "done" for s in t["status"])
    sweep_s = float(t["end_time"].max() - t["start_time"].min())
    durations = t["end_time"] - t["start_time"]
wall = t1 - t0
busy = messages * ms / 1000.0
workers = max(np_ - 1, 1)
print(f"  runs done:            {done} of {len(t)}")
print(f"  mpirun wall time:     {wall:.2f} s  ->  {len(t) / wall:.1f} runs/s (with MPI start-up)")
print(f"  sweep time:           {sweep_s:.2f} s  ->  {len(t) / sweep_s:.1f} runs/s (first start to last end)")
print(f"  run duration:         mean {durations.mean() * 1000:.1f} ms, max {durations.max() * 1000:.1f} ms "
      f"(assignment to done, as rank 0 records it)")
print(f"  rank 0:               {messages} messages ({messages / len(t):.1f} per run), {ms:.3f} ms per message")
print(f"  rank 0 busy fraction: {busy:.2f} s / {sweep_s:.2f} s = {busy / sweep_s:.1%} of the sweep time")
ideal = durations.mean() * len(t) / workers
print(f"  {workers} worker(s) kept busy: {ideal / sweep_s:.1%} (mean run duration x runs / workers / sweep time)")
EOF
