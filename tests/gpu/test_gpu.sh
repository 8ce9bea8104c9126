#!/bin/bash
# test_gpu.sh - the CUDA backend end to end, where a CUDA device is present:
#
#   bash tests/gpu/test_gpu.sh PATH_TO_STYLESWEEP_BINARY
#
# Without a device it prints one line "no CUDA device" and exits 77 (ctest:
# skipped). With one:
#   1. `transfer --backend cuda` twice with the same arguments: the same
#      output bytes (deterministic on one GPU), for fp32 and tf32; the
#      parameters file records the GPU's name and UUID and the precision.
#   2. a sweep of 2 workers sharing the device (mpirun -np 3): every run
#      done, each run's device is the GPU ("GPU-" UUID in the archive).
#   3. resume on CUDA: one rank, interrupted with SIGINT while the Adam run
#      is held after iteration 5 (testlib.sh's hold_at; the archive then has
#      unfinished runs: resume_check.py unfinished), resumed, and
#      bit-identical to an uninterrupted run (Adam and continuous L-BFGS,
#      whose optimizer state is checkpointed, included).
#   4. `eval --backend cpu` with precision tf32: refused with one clear line.
# Small sizes (narrow VGG16, 32 px) keep it to seconds on a GPU.
set -u
. "$(dirname "$0")/../testlib.sh"
need_python h5py numpy yaml
need_mpirun
make_tmpdir
CHECK="$PY $REPO/tests/resume_check.py"
C=$REPO/samples/content/chelsea.jpg
S=$REPO/samples/style/starry_night.jpg
SMALL=(--model vgg16 --weights random --channels-div 8 --image-size 32)

if ! "$BIN" eval --backend cuda "${SMALL[@]}" "$C" "$S" -o "$T/probe.h5" >"$T/probe.out" 2>&1; then
    if grep -q "no CUDA device" "$T/probe.out"; then
        echo "$TEST_NAME: no CUDA device, skipped"
        exit 77
    fi
    fail "eval --backend cuda failed: $(head -3 "$T/probe.out")"
    check_summary
fi

# ---------------------------------------------------------------- 1. the same transfer twice
for prec in fp32 tf32; do
    for k in 1 2; do
        timeout -k 5 300 "$BIN" transfer --backend cuda "${SMALL[@]}" --iterations 4 --evals-per-iteration 10 \
            --precision $prec -o "$T/$prec$k.png" "$C" "$S" >"$T/$prec$k.out" 2>&1
        check "transfer $prec #$k: exit 0" test $? = 0
    done
    CHECK_SHOW="$T/${prec}2.out" check "transfer $prec twice: identical images" cmp -s "$T/${prec}1.png" "$T/${prec}2.png"
    check "transfer $prec: the GPU's UUID recorded" grep -q "GPU-" "$T/${prec}1.params.yaml"
    check "transfer $prec: the precision recorded" grep -q "precision: $prec" "$T/${prec}1.params.yaml"
done
CHECK_SHOW=

# ---------------------------------------------------------------- 2. two workers on one GPU
M=$T/sweep.yaml
cat >"$M" <<EOF
sweep: gpu-test
defaults:
  content: $C
  style: [$S]
  model: vgg16
  weights: random
  channels_div: 8
  image_size: 32
  iterations: 12
  evals_per_iteration: 8
  style_norm: target
  tv_weight: 1.0e-6
  init: noise
  pool: avg
  seed: 0
  snapshots: {first: 2, every: 5}
experiments:
  - {id: a}
  - {id: b, pool: max}
  - {id: adam, optimizer: adam, learning_rate: 2.0}
  - {id: cont, lbfgs_restart: false}
EOF
timeout -s KILL 300 mpirun --oversubscribe -np 3 "$BIN" run "$M" -o "$T/two.h5" --backend cuda --threads 1 \
    >"$T/two.out" 2>&1
CHECK_SHOW="$T/two.out" check "2 workers on one GPU: exit 0" test $? = 0
n_checks=$((n_checks + 1))
$PY - "$T/two.h5" <<'EOF' || fail "2 workers: a run is not done on the GPU"
import sys, h5py
f = h5py.File(sys.argv[1], "r")
ok = len(f["runs"]) == 4
for name, g in f["runs"].items():
    dev, status = g.attrs.get("device", ""), g.attrs.get("status", "")
    dev = dev.decode() if isinstance(dev, bytes) else str(dev)
    status = status.decode() if isinstance(status, bytes) else str(status)
    if "GPU-" not in dev or status != "done":
        print(f"run {name}: {status}, device {dev!r}")
        ok = False
sys.exit(0 if ok else 1)
EOF

# ---------------------------------------------------------------- 3. resume bit-identical on CUDA
# the adam run (index 2) is held after iteration 5 (testlib.sh's hold_at)
# until the SIGINT has reached it: the interruption lands mid-run
MR=$T/resume.yaml
sed 's/^  iterations: 12$/  iterations: 20/' "$M" >"$MR"
timeout -s KILL 300 "$BIN" run "$MR" -o "$T/ref.h5" --backend cuda --threads 1 >"$T/ref.out" 2>&1
CHECK_SHOW="$T/ref.out" check "uninterrupted reference: exit 0" test $? = 0
A=$T/int.h5
H=$T/hold
hold_at "$H" 2 5
"$BIN" run "$MR" -o "$A" --backend cuda --threads 1 --checkpoint-every 2 >"$T/int1.out" 2>&1 &
JOB=$!
wait_file "$H/held-2" "$JOB" >"$T/wait.out" || fail "the adam run was not held: $(cat "$T/wait.out")"
kill -INT "$JOB" 2>/dev/null
wait_file "$H/stopped-2" "$JOB" >"$T/wait.out" || fail "the SIGINT did not reach the held run: $(cat "$T/wait.out")"
release "$H"
unhold
wait "$JOB"
RC=$?
check "SIGINT: exit 3 (got $RC)" test "$RC" = 3
states=$($CHECK unfinished "$A" 2>&1)
check "the SIGINT left runs unfinished ($states)" test $? = 0
timeout -s KILL 300 "$BIN" run "$MR" -o "$A" --backend cuda --threads 1 --checkpoint-every 2 --resume >"$T/int2.out" 2>&1
CHECK_SHOW="$T/int2.out" check "resume: exit 0" test $? = 0
check "resumed runs bit-identical to the uninterrupted ones" $CHECK compare "$T/ref.h5" "$A"

# ---------------------------------------------------------------- 4. tf32 on the CPU
"$BIN" eval --backend cpu --precision tf32 "${SMALL[@]}" "$C" "$S" -o "$T/cpu.h5" >"$T/cpu.out" 2>&1
RC=$?
check "precision tf32 on the CPU: refused (exit $RC)" test "$RC" != 0
check "precision tf32 on the CPU: the message says why" grep -q "tf32" "$T/cpu.out"

check_summary
