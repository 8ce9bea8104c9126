#!/usr/bin/env bash
# check.sh - the device check: stylesweep's GPU tests and benchmarks in one
# call, on a machine with an NVIDIA GPU, from the bundle of
# scripts/gpu_bundle.sh (or from a repository with a build).
#
#   tests/gpu/check.sh OUTDIR
#
# Writes OUTDIR/check.log (everything printed) and OUTDIR/results.md, the
# table of results, one row appended as soon as each step ends (a call
# killed part-way still returns the rows done); the table is printed last.
# Scratch files go to a temporary folder. Each step reports PASS, FAIL or
# SKIP with a note; the check goes on after a failure.
#
# Two stages. Stage 1 (at most CHECK_STAGE1_BUDGET s, default 180) finds
# whether the CUDA backend works at all:
#   environment   nvidia-smi (the device's name and memory, the driver), the
#                 libraries libstylesweep_cuda.so resolves (ldd), a CUDA
#                 `bench` at 64 px that prints the device with the cuDNN and
#                 cuBLAS runtime versions and each layer's convolution
#                 algorithms
#   test_backend, test_reference, test_gradcheck, test_lbfgs
#                 with STYLESWEEP_TEST_BACKEND=cuda (every CUDA slot against
#                 the CPU; the reference and gradient tests); test_reference
#                 again with STYLESWEEP_TEST_PRECISION=tf32. A test_backend
#                 that fails with cuDNN's heuristic algorithms is run again
#                 with STYLESWEEP_CUDA_ALGOS=gemm (the fixed ones); if that
#                 passes, the row stays FAIL and the rest of the check, stage
#                 2 included, runs with the fixed algorithms
#   full width    scripts/compare_torch_eval.py --backend cuda,cpu: VGG19 at
#                 224 px, real channel counts, max pooling, content type 1,
#                 against PyTorch float64 and against the CPU backend (x as
#                 it is: at 224 px some ReLU is always within float32
#                 rounding of its kink, so the tolerance is 1e-3; the row
#                 gives the worst relative errors)
#   memcheck      compute-sanitizer --tool memcheck over test_backend
# Stage 2 runs only when no step of stage 1 failed:
#   transfer x2   the same transfer twice on CUDA: identical images
#   2 workers     a 2-worker sweep sharing the GPU: every run done on it
#   resume        a sweep stopped by SIGUSR2 while its first run is held at
#                 iteration 3 (STYLESWEEP_TEST_HOLD; then resume_check.py
#                 unfinished), resumed, bit-identical to an uninterrupted one
#   benchmarks    `stylesweep bench` VGG19 224 and 512 px, fp32 and tf32,
#                 each next to anchors/torch_vgg_eval.py; a transfer of 500
#                 evaluations at 512 px next to anchors/torch_transfer.py
#   study K       the founding study (sweeps/dlai2018.yaml, its first
#                 STUDY_RUNS of 34 runs) shrunk to STUDY_ITERATIONS
#                 iterations, with K = STUDY_KS workers on the GPU: runs per
#                 minute
#
# The budget: the whole check stays within CHECK_BUDGET seconds (default
# 360: 6 minutes of a 10-minute call, leaving time for a second call). Each
# command's time limit is its own or what is left, whichever is less. A step
# that does not fit what is left, or whose command the budget cut short, is
# SKIP with the reason, never FAIL; a command that passes its own limit
# (a hang) is FAIL. CHECK_CUT=ID,ID... forces the steps of those ids over
# the budget (for the rehearsal's test). Exit status: 0 when no step
# failed, 1 else.
#
# The environments: Python (the probes, PyTorch, h5py) runs with the
# machine's own environment (PATH and LD_LIBRARY_PATH as the check found
# them); the first Python with the modules a step needs is used and named
# in the log (PYTHON first, then python3, /usr/bin/python3, ...). stylesweep
# runs with the CUDA folders first, then the bundle's libraries, then the
# machine's LD_LIBRARY_PATH. The CUDA folders: CUDA_LIB_DIRS (colon-
# separated, if set), the lib folders of Python's nvidia-* packages,
# /usr/local/cuda, the bundle's lib/cuda.
#
# Environment: CHECK_BUDGET (360), CHECK_STAGE1_BUDGET (180), CHECK_CUT,
# STUDY_KS ("1 2 4 8"), STUDY_ITERATIONS (10), STUDY_RUNS (34), STUDY_LIMIT
# (seconds per K, 45), BENCH_REPEAT (20), CHECK_TESTS (the test programs of
# stage 1, default "test_backend test_reference test_gradcheck test_lbfgs"),
# PYTHON, CHECK_BIN_DIR (a repository's build folder, default build/), KEEP=1
# keeps the scratch folder. CHECK_BACKEND=cpu is a
# rehearsal of the whole check on a machine without a GPU: every step runs
# on the CPU backend with tiny images and a narrow network (channels_div 8)
# where it can (TF32 and memcheck are CUDA only: SKIP); its numbers mean
# nothing (tests/gpu/test_check_rehearsal.sh).
set -u
if [ $# -ne 1 ] || [ "$1" = -h ] || [ "$1" = --help ]; then
    sed -n '2,70p' "$0" | sed 's/^# \{0,1\}//'
    [ $# -eq 1 ] && exit 0
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
BUDGET=${CHECK_BUDGET:-360}
STAGE1_BUDGET=${CHECK_STAGE1_BUDGET:-180}
CUT=",${CHECK_CUT:-},"
STUDY_KS=${STUDY_KS:-1 2 4 8}
STUDY_ITERATIONS=${STUDY_ITERATIONS:-10}
STUDY_LIMIT=${STUDY_LIMIT:-45}
STUDY_RUNS=${STUDY_RUNS:-34}
CHECK_TESTS=${CHECK_TESTS:-test_backend test_reference test_gradcheck test_lbfgs}
BENCH_REPEAT=${BENCH_REPEAT:-20}
BK=${CHECK_BACKEND:-cuda}
case $BK in cuda | cpu) ;; *) echo "check: CHECK_BACKEND must be cuda or cpu, not $BK" >&2; exit 2 ;; esac
# the sizes of the steps; the rehearsal's are tiny
if [ "$BK" = cuda ]; then
    TR_SIZE=256 SW_SIZE=128 RS_SIZE=256 RS_IT=60 RS_EV=20 B_SIZES="224 512" T_SIZE=512 T_DEV=cuda T_EVALS=500
    FW_SIZE=224 ST_SIZE=224 NARROW=() NARROW_YAML=
else
    TR_SIZE=48 SW_SIZE=32 RS_SIZE=32 RS_IT=60 RS_EV=8 B_SIZES="32 48" T_SIZE=64 T_DEV=cpu T_EVALS=40 BENCH_REPEAT=2
    FW_SIZE=32 ST_SIZE=32
    NARROW=(--channels-div 8 --content-layer conv3_2 --style-layers conv1_1,conv2_1,conv3_1)
    NARROW_YAML="  channels_div: 8
  content_layer: conv3_2
  style_layers: [conv1_1, conv2_1, conv3_1]"
fi
T0=$SECONDS
W=$(mktemp -d "${TMPDIR:-/tmp}/stylesweep-check.XXXXXX") || exit 2
CHILD=
cleanup() {
    if [ -n "${KEEP:-}" ]; then echo "check: kept $W"; else rm -rf "$W"; fi
}
interrupted() { # a signal: the rows so far stay; say so in the table
    [ -n "$CHILD" ] && kill -TERM "$CHILD" 2>/dev/null && wait "$CHILD" 2>/dev/null
    echo "check interrupted by SIG$1 after $((SECONDS - T0)) s, during: ${STEP_NAME:-setup}" | tee -a "$RESULTS"
    cleanup
    trap - EXIT
    exit $(($2 + 128))
}
trap cleanup EXIT
trap 'interrupted TERM 15' TERM
trap 'interrupted INT 2' INT
trap 'interrupted HUP 1' HUP
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 PYTHONUNBUFFERED=1

# ------------------------------------------------------- the programs
ORIG_LD=${LD_LIBRARY_PATH:-}
ORIG_PATH=$PATH
if [ -f "$ROOT/env.sh" ]; then # the bundle
    # shellcheck source=/dev/null
    . "$ROOT/env.sh"
    BIN_DIR=$ROOT/bin
    TEST_DIR=$ROOT/bin
    MPIRUN=$ROOT/bin/mpirun
    ANCHORS=$ROOT/anchors
    INFO=$(sed -n '1,9p' "$ROOT/BUNDLE.txt" 2>/dev/null)
else # a repository with a build
    BIN_DIR=${CHECK_BIN_DIR:-$ROOT/build}
    TEST_DIR=$BIN_DIR/tests
    MPIRUN=$(command -v mpirun || echo mpirun)
    ANCHORS=${TORCH_ANCHORS:-$ROOT/../shared/anchors}
    INFO="repository $ROOT ($(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)), build $BIN_DIR"
fi
SS=$BIN_DIR/stylesweep
MODULE=$BIN_DIR/libstylesweep_cuda.so
SS_LIBS=${LD_LIBRARY_PATH:-} # the bundle's libraries (env.sh), then the machine's

# MENV CMD...: CMD with the machine's own PATH and LD_LIBRARY_PATH (a
# command prefix, for Python).
if [ -n "$ORIG_LD" ]; then
    MENV=(env PATH="$ORIG_PATH" LD_LIBRARY_PATH="$ORIG_LD")
else
    MENV=(env -u LD_LIBRARY_PATH PATH="$ORIG_PATH")
fi
# the Pythons to try, by path, in order
PY_CANDS=
for c in ${PYTHON:-} python3 /usr/bin/python3 /usr/local/bin/python3 /opt/conda/bin/python3 python; do
    p=$(PATH=$ORIG_PATH command -v "$c" 2>/dev/null) || continue
    case " $PY_CANDS " in *" $p "*) ;; *) PY_CANDS="${PY_CANDS:+$PY_CANDS }$p" ;; esac
done
# find_python MODULE...: prints the first Python that imports every MODULE
# in the machine's environment; nothing (status 1) when none does.
find_python() {
    local p
    for p in $PY_CANDS; do
        "${MENV[@]}" "$p" -c "import $(echo "$@" | tr ' ' ',')" >/dev/null 2>&1 && { echo "$p"; return 0; }
    done
    return 1
}
PY_H5=$(find_python h5py numpy yaml) && H5_NOTE="$PY_H5" || H5_NOTE="none of ${PY_CANDS:-no python found}"
PY_TORCH=$(find_python torch h5py numpy) && TORCH_NOTE="$PY_TORCH" || TORCH_NOTE="none of ${PY_CANDS:-no python found}"
PY_ANCHOR=$(find_python torch) && ANCHOR_NOTE="$PY_ANCHOR" || ANCHOR_NOTE="none of ${PY_CANDS:-no python found}"
PY_NV=$(find_python nvidia) || PY_NV=

# cuda_dirs: the folders that hold CUDA's libraries, in the order above.
cuda_dirs() {
    local d
    [ -n "${CUDA_LIB_DIRS:-}" ] && echo "$CUDA_LIB_DIRS" | tr ':' '\n'
    if [ -n "$PY_NV" ]; then
        "${MENV[@]}" "$PY_NV" - <<'EOF'
import glob, os
import nvidia
for root in list(nvidia.__path__):
    for d in sorted(glob.glob(os.path.join(root, "*", "lib")) + glob.glob(os.path.join(root, "*", "*", "lib"))):
        if glob.glob(os.path.join(d, "lib*.so*")):
            print(d)
EOF
    fi
    for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
        [ -d "$d" ] && echo "$d"
    done
    [ -d "$ROOT/lib/cuda" ] && echo "$ROOT/lib/cuda"
}
CUDA_PATH_ADD=$(cuda_dirs | awk 'NF && !seen[$0]++' | paste -sd:)
LD_LIBRARY_PATH=$CUDA_PATH_ADD${SS_LIBS:+:$SS_LIBS}
export LD_LIBRARY_PATH
# stylesweep as a program a Python script may start in its own environment
mkdir -p "$W/bin"
printf '#!/bin/sh\nLD_LIBRARY_PATH=%q exec %q "$@"\n' "$LD_LIBRARY_PATH" "$SS" >"$W/bin/stylesweep"
chmod +x "$W/bin/stylesweep"

# ------------------------------------------------------ step machinery
N_FAIL=0 N_SKIP=0 N_PASS=0 STAGE=1 STAGE1_FAILED=0 STEP_ID= STEP_NAME=
GPU=no          # a GPU is listed by nvidia-smi
CUDA_BACKEND=no # stylesweep evaluates on it
GPU_NAME=none
NOTE=
CUT_HIT=0
# left: the seconds left to the current step: of the whole budget and, in
# stage 1, of stage 1's; 0 for a step CHECK_CUT names.
left() {
    local l=$((BUDGET - (SECONDS - T0))) s
    if [ "$STAGE" = 1 ]; then
        s=$((STAGE1_BUDGET - (SECONDS - T0)))
        [ "$s" -lt "$l" ] && l=$s
    fi
    case $CUT in *",$STEP_ID,"*) l=0 ;; esac
    [ "$l" -lt 0 ] && l=0
    echo "$l"
}
# lim N: the seconds a command may take: N, or what is left, if less.
lim() {
    local l
    l=$(left)
    [ "$1" -lt "$l" ] && l=$1
    [ "$l" -lt 1 ] && l=1
    echo "$l"
}
# run_cmd SECONDS FILE CMD...: runs CMD with a time limit, its output into
# FILE and the log; returns CMD's status (124/137: timed out; CUT_HIT=1
# when the limit was the budget's, not the command's own).
run_cmd() {
    local t=$1 f=$2 rc bound=0
    shift 2
    [ "$t" -ge "$(left)" ] && bound=1
    echo "\$ $*" | sed "s|$ROOT/||g"
    timeout -k 10 "$t" "$@" >"$f" 2>&1 </dev/null &
    CHILD=$!
    wait "$CHILD"
    rc=$?
    CHILD=
    sed 's/^/    /' "$f" | tail -n 40
    if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
        if [ $bound = 1 ]; then
            CUT_HIT=1
            echo "    (cut by the budget after $t s)"
        else
            echo "    (timed out after its own limit of $t s)"
        fi
    fi
    return $rc
}
# step ID NAME MIN_SECONDS FUNCTION [ARGS]: runs FUNCTION ARGS (0 PASS, 77
# SKIP, else FAIL; it sets NOTE) unless less than MIN_SECONDS are left, and
# appends the row to results.md at once.
step() {
    local id=$1 name=$2 min=$3 fn=$4 rc t result l
    shift 4
    NOTE= CUT_HIT=0 STEP_ID=$id STEP_NAME=$name
    echo
    echo "=== stage $STAGE: $name [$id] ($(left) s of the budget left)"
    t=$SECONDS
    l=$(left)
    if [ "$STAGE" = 2 ] && [ "$STAGE1_FAILED" -gt 0 ]; then
        rc=77
        NOTE="not run: $STAGE1_FAILED step(s) of stage 1 failed"
    elif [ "$l" -lt "$min" ]; then
        rc=77
        NOTE="cut by the budget: not run, $l s left, the step needs $min"
        case $CUT in *",$id,"*) NOTE="$NOTE (forced by CHECK_CUT)" ;; esac
    else
        "$fn" "$@"
        rc=$?
        if [ $rc -ne 0 ] && [ $rc -ne 77 ] && [ $CUT_HIT = 1 ]; then
            rc=77
            NOTE="cut by the budget: ${NOTE:-its command did not end in the time left}"
        fi
    fi
    case $rc in
        0) result=PASS; N_PASS=$((N_PASS + 1)) ;;
        77) result=SKIP; N_SKIP=$((N_SKIP + 1)) ;;
        *) result=FAIL; N_FAIL=$((N_FAIL + 1)) ;;
    esac
    echo "=== $name: $result${NOTE:+ ($NOTE)}"
    echo "| $STAGE | $name | $result | $((SECONDS - t)) | $(echo "$NOTE" | tr '|\n' '/ ') |" >>"$RESULTS"
    echo "results.md row $(grep -c '^| [12] |' "$RESULTS"): $(tail -n 1 "$RESULTS")"
    STEP_ID= STEP_NAME=
}
need_gpu() {
    [ "$BK" = cpu ] && return 0 # the rehearsal
    [ "$GPU" = yes ] || { NOTE="no GPU (nvidia-smi lists none)"; return 77; }
    [ "$CUDA_BACKEND" = yes ] || { NOTE="the build has no working CUDA backend (see environment)"; return 77; }
    return 0
}
cuda_only() { [ "$BK" = cuda ] || { NOTE="CUDA only (a rehearsal on the CPU)"; return 77; }; }
ms_of() { sed -n 's/.*ms_per_eval=\([0-9.]*\).*/\1/p' "$1" | tail -n 1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "-"; else printf "%.3f", a / b }'; }
last_line() { grep -v '^[[:space:]]*$' "$1" 2>/dev/null | tail -n 1 | cut -c1-160; }
# why_line FILE: the last line of FILE that says what failed (stylesweep's
# own, rather than mpirun's box), else its last line.
why_line() {
    local l
    l=$(grep -E '^stylesweep|failed|error|Error' "$1" 2>/dev/null | grep -v '^-*$' | tail -n 1 | cut -c1-200)
    [ -n "$l" ] && echo "$l" || last_line "$1"
}
# file_within GLOB PID SECONDS: waits (polling) until a file matches GLOB; 1
# when PID ends first or SECONDS pass.
file_within() {
    local n=$(($3 * 20))
    until compgen -G "$1" >/dev/null; do
        kill -0 "$2" 2>/dev/null && [ $n -gt 0 ] || return 1
        sleep 0.05
        n=$((n - 1))
    done
}
# gone_within PID SECONDS: waits (polling) until PID has exited; 1 if it has not by then.
gone_within() {
    local n=$(($2 * 10))
    while [ $n -gt 0 ] && kill -0 "$1" 2>/dev/null && [ "$(ps -o stat= -p "$1" 2>/dev/null | cut -c1)" != Z ]; do
        sleep 0.1
        n=$((n - 1))
    done
    [ $n -gt 0 ]
}
C=samples/content/chelsea.jpg
S=samples/style/starry_night.jpg

# --------------------------------------------------- stage 1: the steps
s_environment() {
    echo "$INFO"
    echo "root: $ROOT"
    echo "python with h5py, numpy, yaml: $H5_NOTE"
    echo "python with torch, h5py, numpy: $TORCH_NOTE"
    echo "python with torch (the anchors): $ANCHOR_NOTE"
    echo "python with nvidia-* packages: ${PY_NV:-none}"
    echo "CUDA folders: ${CUDA_PATH_ADD:-none}"
    echo "LD_LIBRARY_PATH for stylesweep: $LD_LIBRARY_PATH"
    echo "LD_LIBRARY_PATH of the machine: ${ORIG_LD:-(unset)}"
    if command -v nvidia-smi >/dev/null && nvidia-smi -L >"$W/smi" 2>&1 && grep -q '^GPU' "$W/smi"; then
        GPU=yes
        cat "$W/smi"
        nvidia-smi --query-gpu=name,uuid,driver_version,memory.total,memory.used,utilization.gpu,clocks.sm,clocks.max.sm,mig.mode.current --format=csv 2>&1
        GPU_NAME=$(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null | head -n 1)
    else
        echo "no GPU: nvidia-smi is missing or lists none"
        cat "$W/smi" 2>/dev/null
    fi
    echo "nproc: $(nproc), $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2)"
    [ -x "$SS" ] || { NOTE="$SS is missing"; return 1; }
    local missing
    echo "libraries of stylesweep:"
    ldd "$SS" | grep -E 'not found|libmpi|dnnl|openblas|hdf5' | sed 's/^/    /'
    missing=$(ldd "$SS" | awk '/not found/ {print $1}' | paste -sd' ')
    [ -z "$missing" ] || { NOTE="stylesweep's libraries not found: $missing"; return 1; }
    if [ -f "$MODULE" ]; then
        echo "libraries of libstylesweep_cuda.so (the CUDA backend):"
        ldd "$MODULE" | grep -E 'not found|cud|cublas|nvrtc|nvJit' | sed 's/^/    /'
        missing=$(ldd "$MODULE" | awk '/not found/ {print $1}' | paste -sd' ')
        if [ -n "$missing" ] && [ "$BK" = cuda ] && [ "$GPU" = yes ]; then
            NOTE="libstylesweep_cuda.so's libraries not found: $missing (CUDA folders: ${CUDA_PATH_ADD:-none})"
            return 1
        fi
        [ -n "$missing" ] && echo "    (not found: $missing; no GPU here, so no step needs them)"
    elif [ "$BK" = cuda ]; then
        echo "no $MODULE: the build has no CUDA backend"
    fi
    run_cmd 20 "$W/version" "$SS" --version || { NOTE="stylesweep --version failed"; return 1; }
    local vers
    vers=$(head -n 1 "$W/version")
    if [ "$BK" = cpu ]; then
        run_cmd 60 "$W/probe" "$SS" bench --backend cpu --model vgg19 --size 32 --repeat 1 --channels-div 8 ||
            { NOTE="a CPU evaluation failed: $(last_line "$W/probe")"; return 1; }
        NOTE="rehearsal on the CPU (CHECK_BACKEND=cpu): the numbers mean nothing; $vers; h5py: $H5_NOTE"
        GPU_NAME="CPU rehearsal"
    elif [ "$GPU" = yes ]; then
        # the device with the cuDNN and cuBLAS versions, and each layer's algorithms
        if run_cmd "$(lim 60)" "$W/probe" "$SS" bench --backend cuda --model vgg19 --size 64 --repeat 1; then
            CUDA_BACKEND=yes
            NOTE="$GPU_NAME; $(sed -n 's/.* device=//p' "$W/probe" | tail -n 1); $vers; h5py: $H5_NOTE; torch: $TORCH_NOTE"
        else
            NOTE="a CUDA evaluation failed: $(last_line "$W/probe")"
            return 1
        fi
    else
        NOTE="no GPU; $vers"
    fi
    return 0
}

# test_program NAME: the test program NAME with STYLESWEEP_TEST_BACKEND set.
test_program() {
    local p=$TEST_DIR/$1 rc
    need_gpu || return $?
    [ -x "$p" ] || { NOTE="$1 is not in this build"; return 77; }
    STYLESWEEP_TEST_BACKEND=$BK run_cmd "$(lim 120)" "$W/$1.out" "$p"
    rc=$?
    NOTE=$(last_line "$W/$1.out")
    [ $rc -eq 77 ] && return 77
    if [ $rc -eq 0 ] && [ "$BK" = cuda ] && grep -qi 'no CUDA device' "$W/$1.out"; then
        NOTE="it skipped (no CUDA device) though nvidia-smi lists one"
        return 1
    fi
    if [ $rc -ne 0 ]; then # the failing checks name the slot, shape and difference
        NOTE="exit $rc: $(grep -m 3 -E 'FAIL|failed|error' "$W/$1.out" | cut -c1-200 | paste -sd';')${NOTE:+; $NOTE}"
    fi
    return $rc
}
# s_test NAME: one test program. When test_backend fails on CUDA, it runs
# again with STYLESWEEP_CUDA_ALGOS=gemm (the fixed algorithms, not cuDNN's
# heuristic choice); when that passes, the rest of the check runs so (the
# row stays FAIL, naming both, but does not hold stage 2 back).
FORGIVEN=0
s_test() {
    local rc note
    test_program "$1"
    rc=$?
    [ $rc -eq 0 ] || [ $rc -eq 77 ] || [ "$1" != test_backend ] || [ "$BK" != cuda ] ||
        [ -n "${STYLESWEEP_CUDA_ALGOS:-}" ] || [ $CUT_HIT = 1 ] && return $rc
    note=$NOTE
    STYLESWEEP_CUDA_ALGOS=gemm test_program test_backend
    if [ $? -eq 0 ]; then
        export STYLESWEEP_CUDA_ALGOS=gemm
        FORGIVEN=1
        NOTE="$note; with STYLESWEEP_CUDA_ALGOS=gemm it passes: the rest of the check runs with the fixed algorithms"
    else
        NOTE="$note; with STYLESWEEP_CUDA_ALGOS=gemm too: $NOTE"
    fi
    return $rc
}
s_test_reference_tf32() {
    cuda_only || return 77
    STYLESWEEP_TEST_PRECISION=tf32 test_program test_reference
}

s_full_width() {
    need_gpu || return $?
    [ -f scripts/compare_torch_eval.py ] || { NOTE="scripts/compare_torch_eval.py is not in this bundle"; return 1; }
    [ -n "$PY_TORCH" ] || { NOTE="no Python with torch, h5py and numpy ($TORCH_NOTE)"; return 77; }
    local bks=cpu rc
    [ "$BK" = cuda ] && bks=cuda,cpu
    run_cmd "$(lim 150)" "$W/full.out" "${MENV[@]}" "$PY_TORCH" scripts/compare_torch_eval.py --binary "$W/bin/stylesweep" \
        --backend "$bks" --models vgg19 --size "$FW_SIZE" --pools max --content-types 1 --kink-margin 0 --tol 1e-3
    rc=$?
    NOTE="vgg19 $FW_SIZE px full width, $bks vs PyTorch float64 ($PY_TORCH): $(grep '^worst' "$W/full.out" | tr -s ' ')"
    [ $rc -eq 0 ] && grep -q '^PASS' "$W/full.out" && return 0
    NOTE="$NOTE; $(grep 'FAIL' "$W/full.out" | head -n 3 | tr -s ' ' | paste -sd';')$(last_line "$W/full.out")"
    return 1
}

# compute-sanitizer: on PATH, in the CUDA toolkit, or in Python's nvidia-* packages
find_sanitizer() {
    local d
    command -v compute-sanitizer 2>/dev/null && return 0
    for d in /usr/local/cuda/bin /usr/local/cuda/compute-sanitizer /opt/cuda/bin $(echo "$CUDA_PATH_ADD" | tr ':' '\n' | sed 's|/lib$||'); do
        [ -x "$d/compute-sanitizer" ] && { echo "$d/compute-sanitizer"; return 0; }
        [ -x "$d/compute-sanitizer/compute-sanitizer" ] && { echo "$d/compute-sanitizer/compute-sanitizer"; return 0; }
    done
    return 1
}
s_memcheck() {
    cuda_only || return 77
    need_gpu || return $?
    local san rc
    san=$(find_sanitizer) || { NOTE="compute-sanitizer not found (PATH, /usr/local/cuda, the CUDA folders)"; return 77; }
    [ -x "$TEST_DIR/test_backend" ] || { NOTE="test_backend is not in this build"; return 77; }
    STYLESWEEP_TEST_BACKEND=cuda run_cmd "$(lim 150)" "$W/memcheck.out" "$san" --tool memcheck --error-exitcode 99 \
        --leak-check no "$TEST_DIR/test_backend"
    rc=$?
    NOTE="$san: $(grep -m 1 'ERROR SUMMARY' "$W/memcheck.out" || last_line "$W/memcheck.out")"
    [ $rc -eq 0 ] && grep -q 'ERROR SUMMARY: 0 errors' "$W/memcheck.out" && return 0
    [ $rc -eq 0 ] && NOTE="no ERROR SUMMARY line: $NOTE"
    return 1
}

# --------------------------------------------------- stage 2: the steps
s_transfer_twice() {
    need_gpu || return $?
    local i n=0 f
    for i in 1 2; do
        mkdir -p "$W/tr$i"
        run_cmd "$(lim 60)" "$W/tr$i.out" "$SS" transfer "$C" "$S" -o "$W/tr$i/out.png" --backend "$BK" \
            "${NARROW[@]}" --image-size "$TR_SIZE" --iterations 4 --evals-per-iteration 10 --weights random --init noise --seed 3 \
            --snapshots 2,2 || { NOTE="transfer $i failed: $(last_line "$W/tr$i.out")"; return 1; }
    done
    for f in "$W"/tr1/*.png; do
        [ -f "$f" ] || continue
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
# archive_summary ARCHIVE: one line: done count, ranks, backends, span.
archive_summary() {
    [ -n "$PY_H5" ] || { echo "no Python with h5py, numpy and yaml ($H5_NOTE)"; return 1; }
    "${MENV[@]}" "$PY_H5" - "$1" <<'EOF'
import sys
import h5py
with h5py.File(sys.argv[1], "r", locking=False) as f:
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
    [ -n "$PY_H5" ] || { NOTE="no Python with h5py, numpy and yaml ($H5_NOTE)"; return 77; }
    local M=$W/shared.yaml A=$W/shared.h5 sum
    manifest "$M" shared "$SW_SIZE" 6 10 "{id: a}" "{id: b, seed: 1}" "{id: c, seed: 2}" "{id: d, pool: avg}" \
        "{id: e, optimizer: adam}" "{id: f, init: content}"
    run_cmd "$(lim 120)" "$W/shared.out" "$MPIRUN" --oversubscribe --bind-to none -np 3 "$SS" run "$M" -o "$A" \
        --backend "$BK" --threads 2 || { NOTE="the sweep failed: $(why_line "$W/shared.out")"; return 1; }
    sum=$(archive_summary "$A") || { NOTE="cannot read $A: $sum"; return 1; }
    echo "    $sum"
    NOTE=$sum
    case $sum in "done=6 runs=6 ranks=1,2 backends=$BK "*) return 0 ;; esac
    NOTE="expected 6 runs done by ranks 1 and 2 on $BK: $sum"
    return 1
}
s_resume() {
    need_gpu || return $?
    [ -n "$PY_H5" ] || { NOTE="no Python with h5py, numpy and yaml ($H5_NOTE)"; return 77; }
    local M=$W/resume.yaml R=$W/ref.h5 A=$W/int.h5 H=$W/hold pid rc rc2 rid states
    manifest "$M" resume "$RS_SIZE" "$RS_IT" "$RS_EV" "{id: a}" "{id: b, pool: avg}" "{id: c, optimizer: adam}"
    run_cmd "$(lim 120)" "$W/ref.out" "$MPIRUN" --bind-to none -np 2 "$SS" run "$M" -o "$R" --backend "$BK" -q ||
        { NOTE="the uninterrupted sweep failed: $(why_line "$W/ref.out")"; return 1; }
    echo "\$ mpirun -np 2 stylesweep run resume.yaml -o int.h5 --backend $BK --checkpoint-every 2  (SIGUSR2 while a run is held)"
    # The first run is held at its boundary after iteration 3 (the test hook
    # STYLESWEEP_TEST_HOLD, src/testhold.h) until the stop has reached it:
    # the interruption lands mid-run on any machine speed. SIGUSR2 to mpirun
    # (SLURM's --signal) stops every run at a boundary; Open MPI would kill
    # the ranks soon after a SIGTERM.
    rm -rf "$H" && mkdir -p "$H"
    STYLESWEEP_TEST_HOLD="*:3:$H" "$MPIRUN" -x STYLESWEEP_TEST_HOLD --bind-to none -np 2 "$SS" run "$M" -o "$A" \
        --backend "$BK" -q --checkpoint-every 2 >"$W/int.out" 2>&1 </dev/null &
    pid=$!
    CHILD=$pid
    rc=0
    file_within "$H/held-*" "$pid" "$(lim 60)" || rc=1
    rid=$(cd "$H" && ls held-* 2>/dev/null | head -n 1 | sed 's/^held-//')
    kill -USR2 "$pid" 2>/dev/null
    [ $rc -ne 0 ] || file_within "$H/stopped-*" "$pid" 60 || rc=2
    touch "$H/release"
    if ! gone_within "$pid" 60; then
        kill -KILL "$pid" 2>/dev/null
        wait "$pid"
        CHILD=
        NOTE="the sweep did not end within 60 s of its SIGUSR2: $(why_line "$W/int.out")"
        return 1
    fi
    wait "$pid"
    rc2=$?
    CHILD=
    [ $rc -ne 1 ] || { NOTE="no run was held at iteration 3: $(why_line "$W/int.out")"; return 1; }
    [ $rc -ne 2 ] || { NOTE="the SIGUSR2 did not reach the held run $rid: $(why_line "$W/int.out")"; return 1; }
    [ $rc2 -eq 3 ] || { NOTE="the interrupted sweep exited with $rc2, not 3: $(why_line "$W/int.out")"; return 1; }
    rc=$rc2
    echo "    run $rid was held mid-run; the interrupted sweep exited with $rc; $(tail -n 2 "$W/int.out" | paste -sd' ')"
    states=$("${MENV[@]}" "$PY_H5" tests/resume_check.py unfinished "$A") ||
        { NOTE="every run was done after the SIGUSR2 ($states): nothing was interrupted"; return 1; }
    echo "    after the SIGUSR2: $states"
    run_cmd "$(lim 120)" "$W/res.out" "$MPIRUN" --bind-to none -np 2 "$SS" run "$M" -o "$A" --backend "$BK" -q \
        --checkpoint-every 2 --resume || { NOTE="the resumed sweep failed: $(why_line "$W/res.out")"; return 1; }
    run_cmd 60 "$W/cmp.out" "${MENV[@]}" "$PY_H5" tests/resume_check.py compare "$R" "$A" ||
        { NOTE="not bit-identical: $(head -n 1 "$W/cmp.out")"; return 1; }
    NOTE="3 runs ($RS_SIZE px, $((RS_IT * RS_EV)) evaluations each); SIGUSR2 while run $rid was held at iteration 3, leaving $states; resumed: bit-identical"
}

# s_bench SIZE PRECISION: stylesweep bench and the PyTorch anchor, one row.
s_bench() {
    local size=$1 prec=$2 ours theirs r extra=() textra=()
    need_gpu || return $?
    if [ "$prec" = tf32 ]; then
        cuda_only || return 77
        extra=(--precision tf32) textra=(--tf32)
    fi
    run_cmd "$(lim 90)" "$W/b$size$prec.out" "$SS" bench --backend "$BK" --model vgg19 --size "$size" \
        --repeat "$BENCH_REPEAT" "${NARROW[@]}" "${extra[@]}"
    ours=$(ms_of "$W/b$size$prec.out")
    [ -n "$ours" ] || { NOTE="stylesweep bench printed no ms_per_eval: $(last_line "$W/b$size$prec.out")"; return 1; }
    theirs=
    if [ -f "$ANCHORS/torch_vgg_eval.py" ] && [ -n "$PY_ANCHOR" ] && [ ${#NARROW[@]} -eq 0 ]; then
        run_cmd "$(lim 90)" "$W/t$size$prec.out" "${MENV[@]}" "$PY_ANCHOR" "$ANCHORS/torch_vgg_eval.py" --device "$T_DEV" \
            --arch vgg19 --size "$size" --repeat "$BENCH_REPEAT" "${textra[@]}"
        theirs=$(ms_of "$W/t$size$prec.out")
    fi
    r=$(ratio "$ours" "$theirs")
    NOTE="stylesweep $ours ms, PyTorch ${theirs:-n/a} ms, ratio $r (target ≤ 0.80$(awk -v r="$r" 'BEGIN { if (r != "-") print (r <= 0.8 ? ": met" : ": not met") }'))"
    [ -n "$theirs" ] || NOTE="$NOTE; no anchor run ($([ ${#NARROW[@]} -gt 0 ] && echo "narrow net" || echo "anchors: $ANCHORS, torch: $ANCHOR_NOTE"))"
    return 0
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
    [ $rc -eq 0 ] || { NOTE="the transfer failed: $(last_line "$W/t512.out")"; return 1; }
    secs=$(sed -n 's/^seconds: //p' "$W/t512/out.params.yaml" 2>/dev/null)
    evals=$(sed -n 's/^evaluations: //p' "$W/t512/out.params.yaml" 2>/dev/null)
    [ -n "$secs" ] && [ -n "$evals" ] || { NOTE="out.params.yaml has no seconds or evaluations"; return 1; }
    tsecs= theirs=
    if [ -f "$ANCHORS/torch_transfer.py" ] && [ -n "$PY_ANCHOR" ] && [ ${#NARROW[@]} -eq 0 ]; then
        run_cmd "$(lim 120)" "$W/tt512.out" "${MENV[@]}" "$PY_ANCHOR" "$ANCHORS/torch_transfer.py" --device "$T_DEV" \
            --size "$T_SIZE" --evals "$T_EVALS"
        tsecs=$(sed -n 's/.* seconds=\([0-9.]*\).*/\1/p' "$W/tt512.out")
        theirs=$(sed -n 's/.* evals=\([0-9]*\).*/\1/p' "$W/tt512.out")
    fi
    NOTE="$evals evaluations in $secs s (process $w s); PyTorch ${theirs:-?} evaluations in ${tsecs:-n/a} s; ratio $(ratio "$secs" "$tsecs") (target ≤ 3 s: $(awk -v s="$secs" 'BEGIN { print (s <= 3 ? "met" : "not met") }'))"
}
# s_study K: the founding study's 34 runs, shrunk, with K workers.
s_study() {
    local k=$1 A=$W/study$1.h5 M=$W/study.yaml t w sum rc done rpm
    need_gpu || return $?
    [ -n "$PY_H5" ] || { NOTE="no Python with h5py, numpy and yaml ($H5_NOTE)"; return 77; }
    sed -e "s|\.\./samples/|$ROOT/samples/|g" -e "s/^  image_size: [0-9]*/  image_size: $ST_SIZE/" \
        -e "s/^  iterations: .*/  iterations: $STUDY_ITERATIONS/" -e 's/^  weights: .*/  weights: random/' \
        sweeps/dlai2018.yaml | awk -v n="$STUDY_RUNS" '/^  - / && ++k > n { next } { print }' >"$M"
    if [ "$BK" = cpu ]; then
        sed -i -e 's/^  weights: random/  weights: random\n  channels_div: 8/' -e 's/conv5_2/conv3_2/g' "$M"
    fi
    t=$(date +%s.%N)
    run_cmd "$(lim "$STUDY_LIMIT")" "$W/study$k.out" "$MPIRUN" --oversubscribe --bind-to none -np $((1 + k)) "$SS" run \
        "$M" -o "$A" --backend "$BK" --threads 2 -q
    rc=$?
    # STUDY_LIMIT is the study's share of the budget: a sweep it stops is cut, not failed
    [ $rc -eq 124 ] || [ $rc -eq 137 ] && CUT_HIT=1
    w=$(awk -v a="$t" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    sum=$(archive_summary "$A" 2>&1) || sum="no archive"
    echo "    $sum"
    done=$(echo "$sum" | sed -n 's/^done=\([0-9]*\) .*/\1/p')
    rpm=$(awk -v d="${done:-0}" -v s="$w" 'BEGIN { printf "%.1f", (s > 0 ? 60 * d / s : 0) }')
    NOTE="K=$k: ${done:-0} of $STUDY_RUNS runs ($STUDY_ITERATIONS iterations x 20 evaluations, $ST_SIZE px) in $w s: $rpm runs/min"
    [ $rc -eq 0 ] || { NOTE="$NOTE; the sweep exited with $rc: $(why_line "$W/study$k.out")"; return $rc; }
    [ "${done:-0}" = "$STUDY_RUNS" ] || { NOTE="$NOTE; expected $STUDY_RUNS done: $sum"; return 1; }
}

# ------------------------------------------------------------- the run
{
    echo "# Device check: backend $BK, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo
    echo "$INFO" | sed 's/^/    /'
    echo
    echo "| stage | step | result | seconds | note |"
    echo "|---|---|---|---|---|"
} >"$RESULTS"
echo "stylesweep device check: $(date -u +%Y-%m-%dT%H:%M:%SZ), backend $BK, budget $BUDGET s (stage 1: $STAGE1_BUDGET s), scratch $W"
step environment environment 10 s_environment
for t in $CHECK_TESTS; do
    step "$t" "$t" 15 s_test "$t"
done
step test_reference_tf32 "test_reference, tf32" 15 s_test_reference_tf32
step full_width "full width: vgg19 $FW_SIZE px vs PyTorch float64 and the CPU" 30 s_full_width
step memcheck "compute-sanitizer memcheck: test_backend" 30 s_memcheck
STAGE1_FAILED=$((N_FAIL - FORGIVEN))
STAGE1_S=$((SECONDS - T0))
echo
echo "=== stage 1 ended after $STAGE1_S s: $N_FAIL failed"
STAGE=2
step transfer_twice "transfer twice, identical" 20 s_transfer_twice
step sweep_shared "sweep: 2 workers share the GPU" 30 s_sweep_shared
step resume "resume: interrupted mid-run, bit-identical" 45 s_resume
for prec in fp32 tf32; do
    for size in $B_SIZES; do
        step "bench_${size}_$prec" "benchmark: vgg19 $size px, one evaluation, $prec" 20 s_bench "$size" "$prec"
    done
done
step transfer_512 "benchmark: transfer $T_EVALS evaluations at $T_SIZE px" 30 s_transfer_512
for k in $STUDY_KS; do
    step "study_k$k" "founding study ($STUDY_ITERATIONS iterations), $k worker(s) on the GPU" 20 s_study "$k"
done

{
    echo
    echo "$N_PASS passed, $N_FAIL failed, $N_SKIP skipped; $((SECONDS - T0)) s in all (stage 1: $STAGE1_S s). Log: check.log"
} >>"$RESULTS"
echo
cat "$RESULTS"
cleanup
trap - EXIT TERM INT HUP
exec >&- 2>&-
wait "$TEE_PID" 2>/dev/null
[ $N_FAIL -eq 0 ]
