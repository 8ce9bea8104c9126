#!/usr/bin/env bash
# check.sh - the device check: stylesweep's GPU tests and benchmarks in one
# command, on a machine with an NVIDIA GPU, from the bundle of
# scripts/gpu_bundle.sh (or from a repository with build/stylesweep).
#
#   tests/gpu/check.sh OUTDIR
#
# Writes OUTDIR/check.log (everything printed) and OUTDIR/results.md (the
# results table, printed last); scratch files go to a temporary folder.
# Every step is one function that reports PASS, FAIL or SKIP (with a note)
# and the script goes on; each command has a time limit, and the whole check
# stays within CHECK_BUDGET seconds (default 470): a step that no longer
# fits is skipped and says so. Exit status: 0 when no step failed, 1 else.
#
# Steps:
#   environment   nvidia-smi, the CUDA libraries found, `stylesweep --version`,
#                 a CUDA evaluation (every GPU step is skipped when there is no
#                 GPU or the build has no CUDA backend)
#   tests         test_backend, test_reference, test_gradcheck and test_lbfgs
#                 with STYLESWEEP_TEST_BACKEND=cuda, test_reference again with
#                 STYLESWEEP_TEST_PRECISION=tf32 (each skipped when its program
#                 is not in the bundle), tests/gpu/test_gpu.sh
#   transfer x2   the same transfer twice on CUDA: identical images
#   sweep 2 on 1  a 2-worker sweep sharing the GPU: every run done on cuda
#   resume        a sweep stopped by SIGTERM mid-run and resumed ends
#                 bit-identical to an uninterrupted one
#                 (tests/resume_check.py compare)
#   benchmarks    `stylesweep bench --backend cuda --model vgg19 --size 224`
#                 and 512, next to anchors/torch_vgg_eval.py --device cuda,
#                 float32 (TF32 off) and with TF32 (--precision tf32 /
#                 --tf32); a transfer of 500 evaluations at 512 px next to
#                 anchors/torch_transfer.py --device cuda --size 512 --evals 500;
#                 the founding study (sweeps/dlai2018.yaml, 34 runs) with
#                 1 + STUDY_WORKERS ranks (default 4 workers on the GPU)
#
# The CUDA libraries: libcuda from the driver; cuDNN, cuBLAS and the CUDA
# runtime from CUDA_LIB_DIRS (colon-separated, if set), the lib folders of
# Python's nvidia-* packages (python3 -c 'import nvidia'), /usr/local/cuda,
# then the bundle's lib/cuda; the bundle's own libraries come first.
#
# Environment: CHECK_BUDGET (seconds, default 470), STUDY_WORKERS (4),
# STUDY_LIMIT (seconds for the study, default 240), BENCH_REPEAT (20),
# PYTHON (python3), KEEP=1 keeps the scratch folder. CHECK_BACKEND=cpu is
# a rehearsal of the whole script on a machine without a GPU: every step
# runs, on the CPU backend, with tiny images, a narrow network
# (channels_div 8), few iterations and the founding study shrunk alike
# (the PyTorch anchors on the CPU, TF32 skipped); its numbers mean nothing.
set -u
if [ $# -ne 1 ]; then
    echo "usage: tests/gpu/check.sh OUTDIR" >&2
    exit 2
fi
OUTDIR=$1
mkdir -p "$OUTDIR" || { echo "check: cannot make $OUTDIR" >&2; exit 2; }
OUTDIR=$(cd "$OUTDIR" && pwd)
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 2
LOG=$OUTDIR/check.log
RESULTS=$OUTDIR/results.md
exec > >(tee "$LOG") 2>&1
TEE_PID=$!
BUDGET=${CHECK_BUDGET:-470}
STUDY_WORKERS=${STUDY_WORKERS:-4}
STUDY_LIMIT=${STUDY_LIMIT:-240}
BENCH_REPEAT=${BENCH_REPEAT:-20}
PYTHON=${PYTHON:-python3}
BK=${CHECK_BACKEND:-cuda}
case $BK in cuda | cpu) ;; *) echo "check: CHECK_BACKEND must be cuda or cpu, not $BK" >&2; exit 2 ;; esac
# the sizes of the steps; the rehearsal's are tiny
if [ "$BK" = cuda ]; then
    TR_SIZE=256 SW_SIZE=128 RS_SIZE=256 RS_IT=40 RS_EV=20 B_SIZES="224 512" T_SIZE=512 T_DEV=cuda T_EVALS=500
    NARROW=() NARROW_YAML=
else
    TR_SIZE=48 SW_SIZE=32 RS_SIZE=32 RS_IT=16 RS_EV=4 B_SIZES="32 48" T_SIZE=64 T_DEV=cpu T_EVALS=40 BENCH_REPEAT=2
    NARROW=(--channels-div 8 --content-layer conv3_2 --style-layers conv1_1,conv2_1,conv3_1)
    NARROW_YAML="  channels_div: 8
  content_layer: conv3_2
  style_layers: [conv1_1, conv2_1, conv3_1]"
fi
T0=$SECONDS
W=$(mktemp -d "${TMPDIR:-/tmp}/stylesweep-check.XXXXXX") || exit 2
cleanup() {
    if [ -n "${KEEP:-}" ]; then echo "check: kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 PYTHONUNBUFFERED=1

# ------------------------------------------------------- the programs
ORIG_LD=${LD_LIBRARY_PATH:-}
if [ -f "$ROOT/env.sh" ]; then # the bundle
    # shellcheck source=/dev/null
    . "$ROOT/env.sh"
    BIN_DIR=$ROOT/bin
    TEST_DIR=$ROOT/bin
    MPIRUN=$ROOT/bin/mpirun
    ANCHORS=$ROOT/anchors
    INFO=$(cat "$ROOT/BUNDLE.txt" 2>/dev/null | sed -n '1,9p')
else # a repository with a build
    BIN_DIR=$ROOT/build
    TEST_DIR=$ROOT/build/tests
    MPIRUN=$(command -v mpirun || echo mpirun)
    ANCHORS=${TORCH_ANCHORS:-$ROOT/../shared/anchors}
    INFO="repository $ROOT ($(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo unknown))"
fi
SS=$BIN_DIR/stylesweep

# cuda_dirs: the folders that hold CUDA's libraries, in the order above.
cuda_dirs() {
    local d
    [ -n "${CUDA_LIB_DIRS:-}" ] && echo "$CUDA_LIB_DIRS" | tr ':' '\n'
    "$PYTHON" - 2>/dev/null <<'EOF'
import glob, os
try:
    import nvidia
    roots = list(nvidia.__path__)
except Exception:
    roots = []
for root in roots:
    for d in sorted(glob.glob(os.path.join(root, "*", "lib")) + glob.glob(os.path.join(root, "*", "*", "lib"))):
        if glob.glob(os.path.join(d, "lib*.so*")):
            print(d)
EOF
    for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
        [ -d "$d" ] && echo "$d"
    done
    [ -d "$ROOT/lib/cuda" ] && echo "$ROOT/lib/cuda"
}
CUDA_PATH_ADD=$(cuda_dirs | awk '!seen[$0]++' | paste -sd:)
LD_LIBRARY_PATH=${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$CUDA_PATH_ADD${ORIG_LD:+:$ORIG_LD}
[ -f "$ROOT/env.sh" ] || LD_LIBRARY_PATH=$CUDA_PATH_ADD${ORIG_LD:+:$ORIG_LD}
export LD_LIBRARY_PATH

# ------------------------------------------------------ step machinery
ROWS=()       # | step | result | seconds | note |
BENCH_ROWS=() # | measurement | stylesweep | PyTorch | ratio | target |
N_FAIL=0
GPU=no          # a GPU is listed by nvidia-smi
CUDA_BACKEND=no # stylesweep evaluates on it
GPU_NAME=none
NOTE=
left() { echo $((BUDGET - (SECONDS - T0))); }
# lim N: the seconds a command may take: N, or what is left of the budget.
lim() {
    local l
    l=$(left)
    [ "$1" -lt "$l" ] && l=$1
    [ "$l" -lt 1 ] && l=1
    echo "$l"
}
# run_cmd SECONDS FILE CMD...: runs CMD with a time limit, its output into
# FILE and the log; returns CMD's status (124/137: timed out).
run_cmd() {
    local t=$1 f=$2
    shift 2
    echo "\$ $*" | sed "s|$ROOT/||g"
    timeout -k 10 "$t" "$@" >"$f" 2>&1 </dev/null
    local rc=$?
    sed 's/^/    /' "$f" | tail -n 40
    [ $rc -eq 124 ] || [ $rc -eq 137 ] && echo "    (timed out after $t s)"
    return $rc
}
# step NAME MIN_SECONDS FUNCTION: runs FUNCTION (0 PASS, 77 SKIP, else
# FAIL; it sets NOTE) unless less than MIN_SECONDS are left.
step() {
    local name=$1 min=$2 fn=$3 rc t result
    NOTE=
    echo
    echo "=== $name ($(left) s of the budget left)"
    t=$SECONDS
    if [ "$(left)" -lt "$min" ]; then
        rc=77
        NOTE="not run: $(left) s of the check's budget left, the step needs $min"
    else
        "$fn"
        rc=$?
    fi
    case $rc in
        0) result=PASS ;;
        77) result=SKIP ;;
        *) result=FAIL; N_FAIL=$((N_FAIL + 1)) ;;
    esac
    echo "=== $name: $result${NOTE:+ ($NOTE)}"
    ROWS+=("| $name | $result | $((SECONDS - t)) | ${NOTE//|//} |")
}
need_gpu() {
    [ "$BK" = cpu ] && return 0 # the rehearsal
    [ "$GPU" = yes ] || { NOTE="no GPU (nvidia-smi lists none)"; return 77; }
    [ "$CUDA_BACKEND" = yes ] || { NOTE="the build has no working CUDA backend (see environment)"; return 77; }
    return 0
}
ms_of() { sed -n 's/.*ms_per_eval=\([0-9.]*\).*/\1/p' "$1" | tail -n 1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "-"; else printf "%.2f", a / b }'; }
C=samples/content/chelsea.jpg
S=samples/style/starry_night.jpg

# ----------------------------------------------------------- the steps
s_environment() {
    echo "$INFO"
    echo "root: $ROOT"
    echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
    if command -v nvidia-smi >/dev/null && nvidia-smi -L >"$W/smi" 2>&1 && grep -q '^GPU' "$W/smi"; then
        GPU=yes
        cat "$W/smi"
        nvidia-smi --query-gpu=name,uuid,driver_version,memory.total,memory.used,utilization.gpu,clocks.sm,clocks.max.sm --format=csv 2>&1
        GPU_NAME=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1)
    else
        echo "no GPU: nvidia-smi is missing or lists none"
        cat "$W/smi" 2>/dev/null
    fi
    echo "nproc: $(nproc), $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2)"
    echo "python: $(command -v "$PYTHON") $("$PYTHON" -c 'import torch; print("torch", torch.__version__)' 2>/dev/null)"
    [ -x "$SS" ] || { NOTE="$SS is missing"; return 1; }
    echo "libraries of stylesweep:"
    ldd "$SS" | grep -E 'not found|cud|cublas|nvrtc|nvJit|libmpi|dnnl|openblas|hdf5' | sed 's/^/    /'
    if ldd "$SS" | grep -q 'not found'; then
        NOTE="libraries not found: $(ldd "$SS" | awk '/not found/ {print $1}' | paste -sd' ')"
        return 1
    fi
    run_cmd 20 "$W/version" "$SS" --version || { NOTE="stylesweep --version failed"; return 1; }
    if [ "$BK" = cpu ]; then
        NOTE="rehearsal on the CPU (CHECK_BACKEND=cpu): the numbers mean nothing; $(head -n 1 "$W/version")"
        GPU_NAME="CPU rehearsal"
    elif [ "$GPU" = yes ]; then
        if run_cmd "$(lim 60)" "$W/probe" "$SS" eval "$C" "$S" -o "$W/probe.h5" --backend cuda --image-size 64 --weights random; then
            CUDA_BACKEND=yes
            NOTE="$GPU_NAME; $(head -n 1 "$W/version")"
        else
            NOTE="a CUDA evaluation failed: $(grep -v '^$' "$W/probe" | tail -n 1)"
            return 1
        fi
    else
        NOTE="no GPU; $(head -n 1 "$W/version")"
    fi
    return 0
}

# test_program NAME: the test program NAME with STYLESWEEP_TEST_BACKEND=cuda.
test_program() {
    local p=$TEST_DIR/$1 rc
    need_gpu || return $?
    [ -x "$p" ] || { NOTE="$1 is not in this build"; return 77; }
    STYLESWEEP_TEST_BACKEND=$BK run_cmd "$(lim 120)" "$W/$1.out" "$p"
    rc=$?
    NOTE=$(grep -v '^$' "$W/$1.out" | tail -n 1 | cut -c1-120)
    [ $rc -eq 124 ] || [ $rc -eq 137 ] && NOTE="timed out; $NOTE"
    [ $rc -eq 77 ] && return 77
    if [ $rc -eq 0 ] && grep -qi 'no CUDA device' "$W/$1.out"; then
        NOTE="it skipped (no CUDA device) though nvidia-smi lists one"
        return 1
    fi
    return $rc
}
s_test_backend() { test_program test_backend; }
s_test_reference() { test_program test_reference; }
s_test_gradcheck() { test_program test_gradcheck; }
s_test_lbfgs() { test_program test_lbfgs; }
s_test_reference_tf32() { STYLESWEEP_TEST_PRECISION=tf32 test_program test_reference; }
# tests/gpu/test_gpu.sh: transfer twice (fp32, tf32), 2 workers, resume
# (it needs h5py, numpy and yaml in $PYTHON, given to it as SS_PYTHON: skipped without them)
s_test_gpu_sh() {
    local rc
    need_gpu || return $?
    [ "$BK" = cuda ] || { NOTE="CUDA only"; return 77; }
    [ -f tests/gpu/test_gpu.sh ] || { NOTE="tests/gpu/test_gpu.sh is not in this bundle"; return 77; }
    SS_PYTHON=$(command -v "$PYTHON") run_cmd "$(lim 180)" "$W/test_gpu.out" bash tests/gpu/test_gpu.sh "$SS"
    rc=$?
    NOTE=$(grep -v '^$' "$W/test_gpu.out" | tail -n 1 | cut -c1-120)
    if [ $rc -eq 2 ] && grep -q 'lacks one of' "$W/test_gpu.out"; then return 77; fi
    return $rc
}

s_transfer_twice() {
    need_gpu || return $?
    local i
    for i in 1 2; do
        mkdir -p "$W/tr$i"
        run_cmd "$(lim 60)" "$W/tr$i.out" "$SS" transfer "$C" "$S" -o "$W/tr$i/out.png" --backend "$BK" \
            "${NARROW[@]}" --image-size "$TR_SIZE" --iterations 4 --evals-per-iteration 10 --weights random --init noise --seed 3 \
            --snapshots 2,2 || { NOTE="transfer $i failed: $(tail -n 1 "$W/tr$i.out")"; return 1; }
    done
    local n=0 f
    for f in "$W"/tr1/*.png; do
        n=$((n + 1))
        cmp -s "$f" "$W/tr2/$(basename "$f")" || { NOTE="$(basename "$f") differs between the two runs"; return 1; }
    done
    [ $n -ge 2 ] || { NOTE="only $n images written"; return 1; }
    NOTE="$n images bit-identical ($TR_SIZE px, 40 evaluations)"
}

# manifest FILE NAME SIZE ITERATIONS EVALS EXPERIMENTS...: a small sweep.
manifest() {
    local f=$1 name=$2 size=$3 it=$4 ev=$5
    shift 5
    {
        echo "sweep: $name"
        echo "defaults:"
        echo "  content: $ROOT/$C"
        echo "  style: [$ROOT/$S]"
        echo "  model: vgg16"
        echo "  weights: random"
        echo "  image_size: $size"
        echo "  iterations: $it"
        echo "  evals_per_iteration: $ev"
        echo "  init: noise"
        echo "  snapshots: {first: 2, every: 5}"
        [ -n "$NARROW_YAML" ] && echo "$NARROW_YAML"
        echo "experiments:"
        for e in "$@"; do echo "  - $e"; done
    } >"$f"
}
# archive_summary ARCHIVE: one line per run table: done count, ranks, backends.
archive_summary() {
    "$PYTHON" - "$1" <<'EOF'
import sys
import h5py
with h5py.File(sys.argv[1], "r") as f:
    t = f["run_table"][:]
    names = {v: k for k, v in h5py.check_enum_dtype(t.dtype["status"]).items()}
    st = [names[int(s)] for s in t["status"]]
    dec = lambda v: v.decode() if isinstance(v, bytes) else str(v)
    done = [i for i, s in enumerate(st) if s == "done"]
    ranks = sorted({int(t["rank"][i]) for i in done})
    backends = sorted({dec(t["backend"][i]) for i in done})
    devices = sorted({dec(t["device"][i]) for i in done})
    span = float(t["end_time"][done].max() - t["start_time"][done].min()) if done else 0.0
    mean = float((t["end_time"][done] - t["start_time"][done]).mean()) if done else 0.0
    print(f"done={len(done)} runs={len(t)} ranks={','.join(map(str, ranks))} backends={','.join(backends)} "
          f"span_s={span:.1f} mean_run_s={mean:.2f} devices={';'.join(devices)}")
EOF
}
s_sweep_shared() {
    need_gpu || return $?
    local M=$W/shared.yaml A=$W/shared.h5 sum
    manifest "$M" shared "$SW_SIZE" 6 10 "{id: a}" "{id: b, seed: 1}" "{id: c, seed: 2}" "{id: d, pool: avg}" \
        "{id: e, optimizer: adam}" "{id: f, init: content}"
    run_cmd "$(lim 120)" "$W/shared.out" "$MPIRUN" --oversubscribe --bind-to none -np 3 "$SS" run "$M" -o "$A" \
        --backend "$BK" --threads 2 || { NOTE="the sweep failed: $(tail -n 1 "$W/shared.out")"; return 1; }
    sum=$(archive_summary "$A") || { NOTE="cannot read $A"; return 1; }
    echo "    $sum"
    NOTE=$sum
    case $sum in "done=6 runs=6 ranks=1,2 backends=$BK "*) return 0 ;; esac
    NOTE="expected 6 runs done by ranks 1 and 2 on $BK: $sum"
    return 1
}
s_resume() {
    need_gpu || return $?
    local M=$W/resume.yaml R=$W/ref.h5 A=$W/int.h5 pid rc
    manifest "$M" resume "$RS_SIZE" "$RS_IT" "$RS_EV" "{id: a}" "{id: b, pool: avg}" "{id: c, optimizer: adam}"
    run_cmd "$(lim 120)" "$W/ref.out" "$MPIRUN" --bind-to none -np 2 "$SS" run "$M" -o "$R" --backend "$BK" -q ||
        { NOTE="the uninterrupted sweep failed: $(tail -n 1 "$W/ref.out")"; return 1; }
    echo "\$ mpirun -np 2 stylesweep run resume.yaml -o int.h5 --backend $BK   (SIGTERM mid-run)"
    timeout -k 10 "$(lim 120)" "$MPIRUN" --bind-to none -np 2 "$SS" run "$M" -o "$A" --backend "$BK" -q >"$W/int.out" 2>&1 </dev/null &
    pid=$!
    "$PYTHON" tests/resume_check.py wait "$A" '*' 8 "$pid" "$(lim 60)"
    rc=$?
    if [ $rc -ne 0 ]; then
        wait "$pid"
        NOTE="the run was not seen mid-way (resume_check wait: $rc)"
        return 1
    fi
    kill -TERM "$pid"
    wait "$pid"
    echo "    interrupted sweep exited with $?; $(tail -n 2 "$W/int.out" | paste -sd' ')"
    run_cmd "$(lim 120)" "$W/res.out" "$MPIRUN" --bind-to none -np 2 "$SS" run "$M" -o "$A" --backend "$BK" -q --resume ||
        { NOTE="the resumed sweep failed: $(tail -n 1 "$W/res.out")"; return 1; }
    run_cmd 60 "$W/cmp.out" "$PYTHON" tests/resume_check.py compare "$R" "$A" ||
        { NOTE="not bit-identical: $(head -n 1 "$W/cmp.out")"; return 1; }
    NOTE="3 runs ($RS_SIZE px, $((RS_IT * RS_EV)) evaluations each) interrupted by SIGTERM and resumed: bit-identical"
}

# bench_pair SIZE TF32(0|1): stylesweep bench and the PyTorch anchor.
bench_pair() {
    local size=$1 tf=$2 ours theirs label extra=() textra=()
    label="vgg19 ${size} px, one evaluation, $([ "$tf" = 1 ] && echo tf32 || echo fp32)"
    [ "$tf" = 1 ] && extra=(--precision tf32) && textra=(--tf32)
    run_cmd "$(lim 90)" "$W/b$size$tf.out" "$SS" bench --backend "$BK" --model vgg19 --size "$size" --repeat "$BENCH_REPEAT" \
        "${NARROW[@]}" "${extra[@]}"
    ours=$(ms_of "$W/b$size$tf.out")
    theirs=
    if [ -f "$ANCHORS/torch_vgg_eval.py" ]; then
        run_cmd "$(lim 120)" "$W/t$size$tf.out" "$PYTHON" "$ANCHORS/torch_vgg_eval.py" --device "$T_DEV" --arch vgg19 \
            --size "$size" --repeat "$BENCH_REPEAT" "${textra[@]}"
        theirs=$(ms_of "$W/t$size$tf.out")
    fi
    local r
    r=$(ratio "$ours" "$theirs")
    BENCH_ROWS+=("| $label | ${ours:-failed} ms | ${theirs:-n/a} ms | $r | ≤ 0.80 $(awk -v r="$r" 'BEGIN { if (r == "-") print ""; else print (r <= 0.8 ? "met" : "not met") }') |")
    [ -n "$ours" ]
}
s_bench() {
    need_gpu || return $?
    local ok=0 n=0 size tf
    for tf in 0 1; do
        [ "$BK" = cpu ] && [ $tf = 1 ] && continue # the CPU has no TF32
        for size in $B_SIZES; do
            n=$((n + 1))
            bench_pair $size $tf && ok=$((ok + 1))
        done
    done
    NOTE="$ok of $n stylesweep benchmarks ran"
    [ -f "$ANCHORS/torch_vgg_eval.py" ] || NOTE="$NOTE; no PyTorch anchor"
    [ $ok -eq $n ]
}
s_transfer_512() {
    need_gpu || return $?
    local t w secs evals theirs tsecs rc
    mkdir -p "$W/t512"
    t=$(date +%s.%N)
    run_cmd "$(lim 120)" "$W/t512.out" "$SS" transfer samples/content/astronaut.jpg "$S" -o "$W/t512/out.png" \
        --backend "$BK" --model vgg16 --weights random --image-size "$T_SIZE" --aspect square \
        --iterations $((T_EVALS / 20)) --evals-per-iteration 20 --init noise --snapshots 0,0 "${NARROW[@]}"
    rc=$?
    w=$(awk -v a="$t" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
    secs=$(sed -n 's/^seconds: //p' "$W/t512/out.params.yaml" 2>/dev/null)
    evals=$(sed -n 's/^evaluations: //p' "$W/t512/out.params.yaml" 2>/dev/null)
    tsecs=
    if [ -f "$ANCHORS/torch_transfer.py" ]; then
        run_cmd "$(lim 180)" "$W/tt512.out" "$PYTHON" "$ANCHORS/torch_transfer.py" --device "$T_DEV" --size "$T_SIZE" \
            --evals "$T_EVALS"
        tsecs=$(sed -n 's/.* seconds=\([0-9.]*\).*/\1/p' "$W/tt512.out")
        theirs=$(sed -n 's/.* evals=\([0-9]*\).*/\1/p' "$W/tt512.out")
    fi
    BENCH_ROWS+=("| transfer vgg16 $T_SIZE px, ${evals:-?} evaluations (PyTorch ${theirs:-?}), fp32: optimisation s (process wall s) | ${secs:-failed} s (${w} s) | ${tsecs:-n/a} s | $(ratio "$secs" "$tsecs") | ≤ 3 s $(awk -v s="${secs:-}" 'BEGIN { if (s == "") print ""; else print (s <= 3 ? "met" : "not met") }') |")
    [ $rc -eq 0 ] || { NOTE="the transfer failed: $(tail -n 1 "$W/t512.out")"; return 1; }
    NOTE="${evals} evaluations in ${secs} s (process ${w} s)"
}
s_study() {
    need_gpu || return $?
    local A=$W/study.h5 t w sum rc l M=sweeps/dlai2018.yaml
    l=$(lim "$STUDY_LIMIT")
    if [ "$BK" = cpu ]; then # the same 34 runs, shrunk
        M=$W/study.yaml
        sed -e "s|\.\./samples/|$ROOT/samples/|g" -e 's/image_size: [0-9]*/image_size: 32/' \
            -e 's/^  iterations: .*/  iterations: 2/' -e 's/^  weights: .*/  weights: random\n  channels_div: 8/' \
            -e 's/conv5_2/conv3_2/g' sweeps/dlai2018.yaml >"$M"
    fi
    t=$(date +%s.%N)
    run_cmd "$l" "$W/study.out" "$MPIRUN" --oversubscribe --bind-to none -np $((1 + STUDY_WORKERS)) "$SS" run \
        "$M" -o "$A" --backend "$BK" --threads 2 -q
    rc=$?
    w=$(awk -v a="$t" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    sum=$(archive_summary "$A" 2>/dev/null || echo "no archive")
    echo "    $sum"
    local done=${sum#done=}
    done=${done%% *}
    BENCH_ROWS+=("| founding study (dlai2018.yaml, 34 runs) on 1 GPU, $STUDY_WORKERS workers: wall s | ${w} s, ${done:-0} of 34 done | | | ≤ 180 s $([ "$rc" -eq 0 ] && awk -v s="$w" 'BEGIN { print (s <= 180 ? "met" : "not met") }') |")
    NOTE="$w s with $STUDY_WORKERS workers: $sum"
    [ $rc -eq 124 ] || [ $rc -eq 137 ] && NOTE="stopped at the $l s limit: $sum"
    return $rc
}

# ------------------------------------------------------------- the run
echo "stylesweep device check: $(date -u +%Y-%m-%dT%H:%M:%SZ), backend $BK, budget $BUDGET s, scratch $W"
step environment 10 s_environment
step test_backend 20 s_test_backend
step test_reference 20 s_test_reference
step test_gradcheck 20 s_test_gradcheck
step test_lbfgs 20 s_test_lbfgs
step "test_reference, tf32" 20 s_test_reference_tf32
step tests/gpu/test_gpu.sh 30 s_test_gpu_sh
step "transfer twice, identical" 20 s_transfer_twice
step "sweep: 2 workers share the GPU" 30 s_sweep_shared
step "resume bit-identical" 45 s_resume
step "benchmarks: one evaluation" 60 s_bench
step "benchmark: transfer 500 evaluations at 512 px" 30 s_transfer_512
step "benchmark: founding study" 40 s_study

{
    echo "# Device check: ${GPU_NAME}, $(date -u +%Y-%m-%d)"
    echo
    echo "$INFO" | sed 's/^/    /'
    echo
    echo "| step | result | seconds | note |"
    echo "|---|---|---|---|"
    printf '%s\n' "${ROWS[@]}"
    if [ ${#BENCH_ROWS[@]} -gt 0 ]; then
        echo
        echo "| measurement | stylesweep | PyTorch | ratio | target |"
        echo "|---|---|---|---|---|"
        printf '%s\n' "${BENCH_ROWS[@]}"
    fi
    echo
    echo "$N_FAIL step(s) failed; $((SECONDS - T0)) s in all. Log: check.log"
} >"$RESULTS"
echo
cat "$RESULTS"
cleanup
trap - EXIT
exec >&- 2>&-
wait "$TEE_PID" 2>/dev/null
[ $N_FAIL -eq 0 ]
