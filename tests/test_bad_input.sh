#!/usr/bin/env bash
# test_bad_input.sh - `stylesweep eval` on bad input: every case must fail
# cleanly. Run from the repository root as
#   bash tests/test_bad_input.sh PATH_TO_STYLESWEEP_BINARY
# (ctest runs it with the normal and the sanitizer binary).
#
# For each bad input the command must: exit 1 or 2 (not 0, not a crash or
# signal), within 60 s (a timeout is a failure), print nothing on stdout and
# exactly one line on stderr, "stylesweep eval: ...", naming the file, key or
# value at fault (and no sanitizer report), and leave no output file behind
# (nor a temporary one). A success case first checks the harness itself.
# Needs /usr/bin/python3 with h5py and numpy to make the bad weights files.
# Writes only under a mktemp -d directory, removed on exit. VERBOSE=1 prints
# every case's message.
set -u
# shellcheck source=tests/testlib.sh
. "$(dirname "$0")/testlib.sh"
make_tmpdir
mkdir "$T/out" "$T/in"

CONTENT=samples/content/chelsea.jpg
STYLE=samples/style/starry_night.jpg
WEIGHTS=tests/data/ref_vgg16_div8.h5
CASES=tests/data/ref_cases.h5
# small fast settings; later options override earlier ones
GOOD=(--image-size 32 --model vgg16 --channels-div 8 --weights "$WEIGHTS"
      --content-layer conv2_2 --style-layers conv1_1,conv2_1)

n_cases=0
n_failed=0
failed_names=()

# fail NAME MESSAGE...: this test counts failed cases, not checks (it
# replaces testlib.sh's fail; testlib's check is not used here).
fail() {
    local name=$1
    shift
    echo "FAIL [$name]: $*"
    if [ ${#failed_names[@]} -eq 0 ] || [ "${failed_names[-1]}" != "$name" ]; then
        failed_names+=("$name")
        n_failed=$((n_failed + 1))
    fi
}

# run_eval ARGS...: runs `stylesweep eval ARGS` under a timeout; sets RC and
# leaves stdout and stderr in $T/stdout, $T/stderr.
run_eval() {
    timeout -k 5 60 "$BIN" eval "$@" >"$T/stdout" 2>"$T/stderr" </dev/null
    RC=$?
}

show_output() {
    sed 's/^/    stderr: /' "$T/stderr" | head -20
    sed 's/^/    stdout: /' "$T/stdout" | head -5
}

# check_failure NAME PATTERN...: the last run failed cleanly with one line
# on stderr that contains every PATTERN (fixed strings).
check_failure() {
    local name=$1 bad=0
    shift
    if [ "$RC" -eq 124 ] || [ "$RC" -eq 137 ]; then
        fail "$name" "timed out after 60 s (exit $RC)"
        bad=1
    elif [ "$RC" -eq 0 ]; then
        fail "$name" "exit status 0, expected 1 or 2"
        bad=1
    elif [ "$RC" -ge 126 ]; then
        fail "$name" "exit status $RC: crashed or killed by a signal"
        bad=1
    elif [ "$RC" -ne 1 ] && [ "$RC" -ne 2 ]; then
        fail "$name" "exit status $RC, expected 1 or 2"
        bad=1
    fi
    if grep -qE 'AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error' "$T/stderr"; then
        fail "$name" "sanitizer report on stderr"
        bad=1
    fi
    local lines
    lines=$(wc -l <"$T/stderr")
    if [ "$lines" -ne 1 ] || [ "$(tail -c 1 "$T/stderr" | od -An -c | tr -d ' ')" != '\n' ]; then
        fail "$name" "stderr has $lines lines, expected exactly one"
        bad=1
    elif ! grep -q '^stylesweep eval: ' "$T/stderr"; then
        fail "$name" "stderr does not start with 'stylesweep eval: '"
        bad=1
    fi
    if [ -s "$T/stdout" ]; then
        fail "$name" "stdout is not empty"
        bad=1
    fi
    local p
    for p in "$@"; do
        if ! grep -qF -- "$p" "$T/stderr"; then
            fail "$name" "the message does not name '$p'"
            bad=1
        fi
    done
    if [ $bad -ne 0 ]; then show_output; fi
    verbose "[$name] exit $RC: $(head -c 300 "$T/stderr")"
}

# check_no_output NAME PATH: PATH does not exist and $T/out holds nothing
# (no partial or temporary file).
check_no_output() {
    local name=$1 path=$2
    if [ -e "$path" ] || [ -L "$path" ]; then
        fail "$name" "the output $path was left behind"
    fi
    local left
    left=$(ls -A "$T/out")
    if [ -n "$left" ]; then
        fail "$name" "files left in the output folder: $(echo $left)"
    fi
    rm -rf "${T:?}/out"/* "${T:?}/out"/.[!.]* 2>/dev/null
}

# bad NAME PATTERN... -- ARGS...: `stylesweep eval ARGS -o $T/out/out.h5`
# must fail cleanly naming every PATTERN, and write nothing. bad_raw: the
# same without the -o added.
bad() { add_o=1 bad_run "$@"; }
bad_raw() { add_o=0 bad_run "$@"; }
bad_run() {
    local name=$1
    shift
    local patterns=()
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do
        patterns+=("$1")
        shift
    done
    shift
    n_cases=$((n_cases + 1))
    local out=$T/out/out.h5
    if [ "$add_o" = 1 ]; then run_eval "$@" -o "$out"; else run_eval "$@"; fi
    check_failure "$name" "${patterns[@]}"
    check_no_output "$name" "$out"
}

# ---------------------------------------------------------------- inputs
head -c 200 "$CONTENT" >"$T/in/trunc.jpg"
: >"$T/in/empty.jpg"
printf 'this is not a JPEG image\n' >"$T/in/text.jpg"
mkdir "$T/in/dir.jpg"
printf 'this is not an HDF5 file\n' >"$T/in/text.h5"
: >"$T/in/empty.h5"
head -c 1500 "$WEIGHTS" >"$T/in/trunc_weights.h5"

if ! "$PY" - "$WEIGHTS" "$T/in" <<'EOF'; then
import shutil, sys
import h5py
import numpy as np

src, d = sys.argv[1], sys.argv[2]

# an HDF5 file without layer_names (one conv group kept)
with h5py.File(d + "/no_layer_names.h5", "w") as f:
    f.attrs["backend"] = np.bytes_("tensorflow")
    g = f.create_group("block1_conv1")
    g.attrs["weight_names"] = np.array([b"block1_conv1/kernel:0", b"block1_conv1/bias:0"])
    g.create_dataset("block1_conv1/kernel:0", data=np.zeros((3, 3, 3, 8), np.float32))
    g.create_dataset("block1_conv1/bias:0", data=np.zeros((8,), np.float32))

def variant(name):
    path = d + "/" + name
    shutil.copyfile(src, path)
    return h5py.File(path, "r+")

# block2_conv1 removed from layer_names and its group deleted
with variant("no_block2_conv1.h5") as f:
    names = f.attrs["layer_names"]
    f.attrs["layer_names"] = np.array([n for n in names if n != b"block2_conv1"], dtype=names.dtype)
    del f["block2_conv1"]

# block2_conv1 still listed, but its group deleted
with variant("no_group_block2_conv1.h5") as f:
    del f["block2_conv1"]

# block1_conv2's kernel (3,3,8,9) instead of (3,3,8,8)
with variant("bad_kernel_shape.h5") as f:
    del f["block1_conv2/block1_conv2/kernel:0"]
    f.create_dataset("block1_conv2/block1_conv2/kernel:0", data=np.zeros((3, 3, 8, 9), np.float32))

# block1_conv2's bias with 7 values
with variant("bad_bias_shape.h5") as f:
    del f["block1_conv2/block1_conv2/bias:0"]
    f.create_dataset("block1_conv2/block1_conv2/bias:0", data=np.zeros((7,), np.float32))

# block2_conv2 without its weight_names attribute
with variant("no_weight_names.h5") as f:
    del f["block2_conv2"].attrs["weight_names"]

# block1_conv1's kernel dataset missing (weight_names still lists it)
with variant("no_kernel.h5") as f:
    del f["block1_conv1/block1_conv1/kernel:0"]

# block1_conv1's kernel of rank 5
with variant("kernel_rank5.h5") as f:
    del f["block1_conv1/block1_conv1/kernel:0"]
    f.create_dataset("block1_conv1/block1_conv1/kernel:0", data=np.zeros((3, 3, 3, 8, 1), np.float32))

# a NaN in block1_conv2's kernel, an infinity in block2_conv1's bias
with variant("nan_kernel.h5") as f:
    k = f["block1_conv2/block1_conv2/kernel:0"]
    a = k[()]
    a[1, 2, 3, 4] = np.nan
    k[...] = a
with variant("inf_bias.h5") as f:
    b = f["block2_conv1/block2_conv1/bias:0"]
    a = b[()]
    a[5] = np.inf
    b[...] = a

# not bad: layer_names and weight_names as variable-length UTF-8 strings
# (what h5py makes of a list of str)
with variant("vlen_names.h5") as f:
    f.attrs["layer_names"] = [n.decode() for n in f.attrs["layer_names"]]
    for n in f.attrs["layer_names"]:
        wn = f[n].attrs["weight_names"]
        if len(wn):
            f[n].attrs["weight_names"] = [w.decode() for w in wn]

# layer_names as integers instead of strings
with variant("int_layer_names.h5") as f:
    f.attrs["layer_names"] = np.arange(19, dtype=np.int32)

# an image dataset file for --x: one good (3, 64, 64), one (3, 64, 64) int,
# one scalar, one with a zero-sized axis
with h5py.File(d + "/x.h5", "w") as f:
    f["x64"] = np.zeros((3, 64, 64), np.float32)
    f["scalar"] = np.float32(1.0)
    f["empty"] = np.zeros((3, 0, 32), np.float32)
    f["text"] = np.bytes_("hello")
    a = np.zeros((3, 21, 32), np.float32)
    a[2, 20, 31] = np.nan
    f["nan"] = a
    a[2, 20, 31] = -np.inf
    f["inf"] = a
EOF
    echo "test_bad_input: could not make the bad weights files with $PY (h5py, numpy)" >&2
    exit 1
fi

# --------------------------------------------------------- the harness works
n_cases=$((n_cases + 1))
OUT=$T/out/good.h5
run_eval "${GOOD[@]}" "$CONTENT" "$STYLE" -o "$OUT"
if [ "$RC" -ne 0 ]; then
    fail success "the good command exited $RC"
    show_output
elif [ ! -f "$OUT" ]; then
    fail success "the good command wrote no $OUT"
elif ! "$PY" -c 'import sys, h5py, math; v = float(h5py.File(sys.argv[1], "r")["loss"][()]); sys.exit(0 if math.isfinite(v) and v > 0 else 1)' "$OUT"; then
    fail success "$OUT has no readable finite loss"
elif [ -s "$T/stderr" ]; then
    fail success "the good command printed on stderr"
    show_output
fi
rm -f "$OUT"
check_no_output success "$OUT"

# variable-length UTF-8 strings (h5py's default) are read like fixed ones
n_cases=$((n_cases + 1))
run_eval "${GOOD[@]}" --weights "$T/in/vlen_names.h5" "$CONTENT" "$STYLE" -o "$OUT"
if [ "$RC" -ne 0 ]; then
    fail success-vlen-names "variable-length string names: exit $RC"
    show_output
fi
rm -f "$OUT"
check_no_output success-vlen-names "$OUT"

# ---------------------------------------------------------- content images
M=$T/in/missing.jpg
bad content-missing "$M" "content" -- "${GOOD[@]}" "$M" "$STYLE"
bad content-empty "$T/in/empty.jpg" "empty" -- "${GOOD[@]}" "$T/in/empty.jpg" "$STYLE"
bad content-truncated "$T/in/trunc.jpg" -- "${GOOD[@]}" "$T/in/trunc.jpg" "$STYLE"
bad content-text "$T/in/text.jpg" -- "${GOOD[@]}" "$T/in/text.jpg" "$STYLE"
bad content-directory "$T/in/dir.jpg" "directory" -- "${GOOD[@]}" "$T/in/dir.jpg" "$STYLE"
bad content-dataset-missing "/nope" -- "${GOOD[@]}" "$CASES:/nope" "$STYLE"
bad content-dataset-file-missing "$T/in/missing.h5" -- "${GOOD[@]}" "$T/in/missing.h5:/content" "$STYLE"
bad content-dataset-nan "content" "/nan" "nan" -- "${GOOD[@]}" "$T/in/x.h5:/nan" "$STYLE"
bad content-path-too-long "too long" -- "${GOOD[@]}" "$T/in/$(printf 'a%.0s' {1..1100}).jpg" "$STYLE"
bad content-dataset-not-hdf5 "$T/in/text.h5" -- "${GOOD[@]}" "$T/in/text.h5:/content" "$STYLE"

# ------------------------------------------------------------ style images
bad style-missing "$M" "style" -- "${GOOD[@]}" "$CONTENT" "$M"
bad style-empty "$T/in/empty.jpg" "style" -- "${GOOD[@]}" "$CONTENT" "$T/in/empty.jpg"
bad style-truncated "$T/in/trunc.jpg" "style" -- "${GOOD[@]}" "$CONTENT" "$T/in/trunc.jpg"
bad style-text "$T/in/text.jpg" "style" -- "${GOOD[@]}" "$CONTENT" "$T/in/text.jpg"
bad style-directory "$T/in/dir.jpg" "style" -- "${GOOD[@]}" "$CONTENT" "$T/in/dir.jpg"
bad style-second-missing "$M" "style" -- "${GOOD[@]}" "$CONTENT" "$STYLE" "$M"
bad style-too-many "8 style images" -- "${GOOD[@]}" "$CONTENT" "$STYLE" "$STYLE" "$STYLE" "$STYLE" "$STYLE" "$STYLE" "$STYLE" "$STYLE" "$STYLE"
bad style-dataset-size "$CASES:/style0" "64x64" -- "${GOOD[@]}" "$CONTENT" "$CASES:/style0"

# ------------------------------------------------------------------ weights
bad weights-text "$T/in/text.h5" "HDF5" -- "${GOOD[@]}" --weights "$T/in/text.h5" "$CONTENT" "$STYLE"
bad weights-empty "$T/in/empty.h5" -- "${GOOD[@]}" --weights "$T/in/empty.h5" "$CONTENT" "$STYLE"
bad weights-truncated "$T/in/trunc_weights.h5" -- "${GOOD[@]}" --weights "$T/in/trunc_weights.h5" "$CONTENT" "$STYLE"
bad weights-missing "$T/in/missing.h5" "weights" -- "${GOOD[@]}" --weights "$T/in/missing.h5" "$CONTENT" "$STYLE"
bad weights-directory "$T/in/dir.jpg" "weights" -- "${GOOD[@]}" --weights "$T/in/dir.jpg" "$CONTENT" "$STYLE"
bad weights-no-layer-names "$T/in/no_layer_names.h5" "layer_names" -- \
    "${GOOD[@]}" --weights "$T/in/no_layer_names.h5" "$CONTENT" "$STYLE"
bad weights-int-layer-names "$T/in/int_layer_names.h5" "layer_names" -- \
    "${GOOD[@]}" --weights "$T/in/int_layer_names.h5" "$CONTENT" "$STYLE"
bad weights-lacks-layer "$T/in/no_block2_conv1.h5" "block2_conv1" -- \
    "${GOOD[@]}" --weights "$T/in/no_block2_conv1.h5" "$CONTENT" "$STYLE"
bad weights-lacks-group "$T/in/no_group_block2_conv1.h5" "block2_conv1" -- \
    "${GOOD[@]}" --weights "$T/in/no_group_block2_conv1.h5" "$CONTENT" "$STYLE"
bad weights-kernel-shape "$T/in/bad_kernel_shape.h5" "block1_conv2" "(3,3,8,9)" "(3,3,8,8)" -- \
    "${GOOD[@]}" --weights "$T/in/bad_kernel_shape.h5" "$CONTENT" "$STYLE"
bad weights-bias-shape "$T/in/bad_bias_shape.h5" "block1_conv2" "bias" -- \
    "${GOOD[@]}" --weights "$T/in/bad_bias_shape.h5" "$CONTENT" "$STYLE"
bad weights-kernel-rank5 "$T/in/kernel_rank5.h5" "block1_conv1" -- \
    "${GOOD[@]}" --weights "$T/in/kernel_rank5.h5" "$CONTENT" "$STYLE"
bad weights-no-kernel "$T/in/no_kernel.h5" "block1_conv1" "kernel" -- \
    "${GOOD[@]}" --weights "$T/in/no_kernel.h5" "$CONTENT" "$STYLE"
bad weights-no-weight-names "$T/in/no_weight_names.h5" "block2_conv2" "weight_names" -- \
    "${GOOD[@]}" --weights "$T/in/no_weight_names.h5" "$CONTENT" "$STYLE"
bad weights-nan-kernel "$T/in/nan_kernel.h5" "block1_conv2" "kernel" "nan" -- \
    "${GOOD[@]}" --weights "$T/in/nan_kernel.h5" "$CONTENT" "$STYLE"
bad weights-inf-bias "$T/in/inf_bias.h5" "block2_conv1" "bias" "inf" -- \
    "${GOOD[@]}" --weights "$T/in/inf_bias.h5" "$CONTENT" "$STYLE"
bad weights-empty-spec "weights" -- "${GOOD[@]}" --weights "" "$CONTENT" "$STYLE"
bad weights-random-seed-overflow "random:99999999999999999999999" -- \
    "${GOOD[@]}" --weights random:99999999999999999999999 "$CONTENT" "$STYLE"
bad weights-other-model "block3_conv4" "vgg19" -- \
    "${GOOD[@]}" --model vgg19 --weights "$WEIGHTS" --style-layers conv3_4 "$CONTENT" "$STYLE"
bad weights-bad-random-seed "random:x" -- "${GOOD[@]}" --weights random:x "$CONTENT" "$STYLE"

# ------------------------------------------------------------- layer names
bad content-layer-unknown "conv9_9" -- "${GOOD[@]}" --content-layer conv9_9 "$CONTENT" "$STYLE"
bad style-layer-unknown "nope" -- "${GOOD[@]}" --style-layers conv1_1,nope "$CONTENT" "$STYLE"
bad style-layer-vgg19-only "conv3_4" "vgg16" -- "${GOOD[@]}" --style-layers conv1_1,conv3_4 "$CONTENT" "$STYLE"
bad content-layer-vgg19-only "conv3_4" "vgg16" -- "${GOOD[@]}" --content-layer conv3_4 "$CONTENT" "$STYLE"
bad style-layer-twice "conv1_1" -- "${GOOD[@]}" --style-layers conv1_1,conv1_1 "$CONTENT" "$STYLE"
bad style-layer-empty-item "style_layers" -- "${GOOD[@]}" --style-layers conv1_1, "$CONTENT" "$STYLE"

# ------------------------------------------------------ sizes and values
bad image-size-0 "image_size" "0" -- "${GOOD[@]}" --image-size 0 "$CONTENT" "$STYLE"
bad image-size-negative "image_size" "-5" -- "${GOOD[@]}" --image-size -5 "$CONTENT" "$STYLE"
bad image-size-huge "image_size" "99999999" -- "${GOOD[@]}" --image-size 99999999 "$CONTENT" "$STYLE"
bad image-size-overflow "image_size" "99999999999999999999" -- "${GOOD[@]}" --image-size 99999999999999999999 "$CONTENT" "$STYLE"
bad image-size-abc "image_size" "abc" -- "${GOOD[@]}" --image-size abc "$CONTENT" "$STYLE"
bad image-size-empty "image_size" -- "${GOOD[@]}" --image-size "" "$CONTENT" "$STYLE"
bad channels-div-3 "channels_div" "3" -- "${GOOD[@]}" --channels-div 3 "$CONTENT" "$STYLE"
bad channels-div-0 "channels_div" "0" -- "${GOOD[@]}" --channels-div 0 "$CONTENT" "$STYLE"
bad threads-negative "--threads" "-1" -- "${GOOD[@]}" --threads -1 "$CONTENT" "$STYLE"
bad content-loss-type-3 "content_loss_type" "3" -- "${GOOD[@]}" --content-loss-type 3 "$CONTENT" "$STYLE"
bad content-weight-negative "content_weight" "-1" -- "${GOOD[@]}" --content-weight -1 "$CONTENT" "$STYLE"
bad content-weight-nan "content_weight" "nan" -- "${GOOD[@]}" --content-weight nan "$CONTENT" "$STYLE"
bad content-weight-inf "content_weight" "inf" -- "${GOOD[@]}" --content-weight inf "$CONTENT" "$STYLE"
bad style-weight-count "style_weight" "2" -- "${GOOD[@]}" --style-weight 1,2 "$CONTENT" "$STYLE"
bad style-weight-text "style_weight" "x" -- "${GOOD[@]}" --style-weight 1,x "$CONTENT" "$STYLE"
bad tv-power-5 "tv_power" "5" -- "${GOOD[@]}" --tv-power 5 "$CONTENT" "$STYLE"
bad pool-median "pool" "median" -- "${GOOD[@]}" --pool median "$CONTENT" "$STYLE"
bad model-vgg11 "model" "vgg11" -- "${GOOD[@]}" --model vgg11 "$CONTENT" "$STYLE"
bad init-sideways "init" "sideways" -- "${GOOD[@]}" --init sideways "$CONTENT" "$STYLE"
bad style-norm-bad "style_norm" "other" -- "${GOOD[@]}" --style-norm other "$CONTENT" "$STYLE"
bad backend-bad "--backend" "tpu" -- "${GOOD[@]}" --backend tpu "$CONTENT" "$STYLE"
bad option-misspelt "--contentweight" "--content-weight" -- "${GOOD[@]}" --contentweight 1 "$CONTENT" "$STYLE"
bad option-unknown "--frobnicate" -- "${GOOD[@]}" --frobnicate 1 "$CONTENT" "$STYLE"
bad_raw option-no-value "--content-weight" -- "${GOOD[@]}" "$CONTENT" "$STYLE" -o "$T/out/out.h5" --content-weight
bad no-style "STYLE" -- "${GOOD[@]}" "$CONTENT"
bad_raw no-output "-o" -- "${GOOD[@]}" "$CONTENT" "$STYLE"
bad_raw empty-output "-o" -- "${GOOD[@]}" "$CONTENT" "$STYLE" -o ""

# ---------------------------------------------------------------------- --x
bad x-wrong-shape "$CASES" "/case_00/style_loss" -- "${GOOD[@]}" --x "$CASES:/case_00/style_loss" "$CONTENT" "$STYLE"
bad x-missing-dataset "$CASES" "/nope" -- "${GOOD[@]}" --x "$CASES:/nope" "$CONTENT" "$STYLE"
bad x-missing-group "$CASES" "/nope/x" -- "${GOOD[@]}" --x "$CASES:/nope/x" "$CONTENT" "$STYLE"
bad x-group-not-dataset "$CASES" "/case_00" -- "${GOOD[@]}" --x "$CASES:/case_00" "$CONTENT" "$STYLE"
bad x-scalar "/scalar" -- "${GOOD[@]}" --x "$T/in/x.h5:/scalar" "$CONTENT" "$STYLE"
bad x-zero-size "/empty" -- "${GOOD[@]}" --x "$T/in/x.h5:/empty" "$CONTENT" "$STYLE"
bad x-string "/text" -- "${GOOD[@]}" --x "$T/in/x.h5:/text" "$CONTENT" "$STYLE"
bad x-nan "/nan" "nan" -- "${GOOD[@]}" --x "$T/in/x.h5:/nan" "$CONTENT" "$STYLE"
bad x-inf "/inf" "inf" -- "${GOOD[@]}" --x "$T/in/x.h5:/inf" "$CONTENT" "$STYLE"
bad x-other-size "/x64" "64x64" -- "${GOOD[@]}" --x "$T/in/x.h5:/x64" "$CONTENT" "$STYLE"
bad x-no-dataset-name "$CASES" -- "${GOOD[@]}" --x "$CASES:" "$CONTENT" "$STYLE"
bad x-missing-file "$T/in/missing.h5" -- "${GOOD[@]}" --x "$T/in/missing.h5:/x" "$CONTENT" "$STYLE"
bad x-image-missing "$M" -- "${GOOD[@]}" --x "$M" "$CONTENT" "$STYLE"
bad x-image-truncated "$T/in/trunc.jpg" -- "${GOOD[@]}" --x "$T/in/trunc.jpg" "$CONTENT" "$STYLE"

# ------------------------------------------ image too small for the network
bad too-small-for-layer "conv5_1" "small" -- "${GOOD[@]}" --image-size 8 --content-layer conv5_1 "$CONTENT" "$STYLE"
bad too-small-for-style-layer "conv5_1" "small" -- "${GOOD[@]}" --image-size 8 --style-layers conv1_1,conv5_1 "$CONTENT" "$STYLE"

# ------------------------------------------------------------------- output
n_cases=$((n_cases + 1))
OUT=/nonexistent/dir/out.h5
run_eval "${GOOD[@]}" "$CONTENT" "$STYLE" -o "$OUT"
check_failure output-unwritable "$OUT"
check_no_output output-unwritable "$OUT"

n_cases=$((n_cases + 1))
OUT=$T/out/dir.h5
mkdir "$OUT"
run_eval "${GOOD[@]}" "$CONTENT" "$STYLE" -o "$OUT" --force
check_failure output-is-directory "$OUT"
if [ ! -d "$OUT" ] || [ -n "$(ls -A "$OUT")" ]; then fail output-is-directory "the directory $OUT was changed"; fi
rmdir "$OUT" 2>/dev/null
check_no_output output-is-directory "$T/out/dir.h5.tmp"

n_cases=$((n_cases + 1))
OUT=$T/out/exists.h5
printf 'precious data\n' >"$OUT"
run_eval "${GOOD[@]}" "$CONTENT" "$STYLE" -o "$OUT"
check_failure output-exists "$OUT" "--force"
if [ "$(cat "$OUT" 2>/dev/null)" != "precious data" ]; then
    fail output-exists "$OUT was changed without --force"
fi
if [ "$(ls -A "$T/out")" != "exists.h5" ]; then
    fail output-exists "files left in the output folder: $(ls -A "$T/out" | tr '\n' ' ')"
fi

n_cases=$((n_cases + 1))
run_eval "${GOOD[@]}" "$CONTENT" "$STYLE" -o "$OUT" --force
if [ "$RC" -ne 0 ]; then
    fail output-force "exit $RC with --force"
    show_output
elif ! "$PY" -c 'import sys, h5py; h5py.File(sys.argv[1], "r")["loss"][()]' "$OUT" 2>/dev/null; then
    fail output-force "$OUT was not replaced by an HDF5 result"
fi
if [ "$(ls -A "$T/out")" != "exists.h5" ]; then
    fail output-force "files left in the output folder: $(ls -A "$T/out" | tr '\n' ' ')"
fi
rm -f "$OUT"

# -------------------------------------------------------------------- result
if [ $n_failed -ne 0 ]; then
    echo "test_bad_input: $n_failed of $n_cases cases FAILED: ${failed_names[*]}"
    exit 1
fi
echo "test_bad_input: all $n_cases cases passed ($BIN)"
exit 0
