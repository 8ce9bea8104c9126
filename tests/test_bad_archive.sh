#!/usr/bin/env bash
# test_bad_archive.sh - damaged archives and hostile manifests: each must give
# one clear error line and a non-zero exit within seconds, never a crash, a
# hang or a huge allocation. Run from the repository root as
#   bash tests/test_bad_archive.sh PATH_TO_STYLESWEEP_BINARY
# (ctest runs it with the normal and the sanitizer binary).
#
# Manifests (`plan`): a grid of 16 axes of 16 values (2^64 runs: the count
# must not wrap around), nested aliases that expand to billions of nodes,
# the two bytes '%\xa7' (on which libfyaml 0.7.12 loops forever), other bytes
# that are not UTF-8. Archives (`status`, `export`), made by a small sweep in
# the benchmark mode that skips the computation, then changed with h5py:
# schema_version and a checkpoint slot's generation as arrays, 2-D metrics
# and snapshot_iterations, a metrics
# table declaring far more rows than the file holds, and single bytes
# overwritten all over the file (the reader must report or survive each,
# never die of a signal or hang). Needs /usr/bin/python3 with h5py and numpy.
set -u
# shellcheck source=tests/testlib.sh
. "$(dirname "$0")/testlib.sh"
need_python h5py numpy
make_tmpdir

n_checks=0
n_failed=0

# expect_error NAME EXPECTED_REGEX COMMAND...: COMMAND exits 1 or 2 within 60 s,
# prints exactly one line on stderr matching EXPECTED_REGEX (after the
# command's name) and no sanitizer report.
expect_error() {
    local name=$1 want=$2
    shift 2
    n_checks=$((n_checks + 1))
    timeout -k 5 60 "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    local lines
    # plan ends its error lines with a count ("stylesweep plan: FILE: 1 error")
    lines=$(grep -v '^$' "$T/err" | grep -cvE '^stylesweep plan: .*: [0-9]+ errors?$')
    verbose "[$name] rc $rc: $(head -c 300 "$T/err")"
    if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
        fail "[$name] did not finish within 60 s"
    elif [ $rc -ne 1 ] && [ $rc -ne 2 ]; then
        fail "[$name] exit code $rc (want 1 or 2)"
        show "$T/err"
    elif [ "$lines" -ne 1 ]; then
        fail "[$name] $lines lines on stderr (want 1)"
        show "$T/err"
    elif ! grep -Eq "$want" "$T/err"; then
        fail "[$name] the error does not say /$want/"
        show "$T/err"
    fi
}

# ---------------------------------------------------------------- manifests
C=$REPO/samples/content/chelsea.jpg
S=$REPO/samples/style/starry_night.jpg
{
    echo "defaults: {content: $C, style: $S, weights: random}"
    echo "grid:"
    for k in content_weight tv_weight seed iterations evals_per_iteration learning_rate min_improvement \
        lbfgs_history style_weight; do
        echo "  $k: [$(seq -s ', ' 1 16)]"
    done
    for kv in "model: vgg16, vgg19" "preserve_color: true, false" "optimizer: lbfgs, adam" "init: gray, noise" \
        "pool: max, avg" "aspect: keep, square" "lbfgs_restart: true, false"; do
        v=${kv#*: }
        echo "  ${kv%%:*}: [$v, $v, $v, $v, $v, $v, $v, $v]"
    done
} >"$T/huge.yaml"
expect_error "grid of 16^16 runs" "more than 1000000 runs" "$BIN" plan "$T/huge.yaml"

# nested aliases: each level doubles... by nine
{
    echo "x-a: &a [x, x, x, x, x, x, x, x, x]"
    prev=a
    for l in b c d e f g h i j k l m; do
        echo "x-$l: &$l [*$prev, *$prev, *$prev, *$prev, *$prev, *$prev, *$prev, *$prev, *$prev]"
        prev=$l
    done
    echo "defaults: {content: $C, style: $S}"
} >"$T/aliases.yaml"
expect_error "alias bomb" "aliases expand to more than" "$BIN" plan "$T/aliases.yaml"

printf '%%\xa7' >"$T/directive.yaml"
expect_error "libfyaml directive loop" "directives|not UTF-8" "$BIN" plan "$T/directive.yaml"
printf 'defaults: {content: \xff\xfe}\n' >"$T/latin.yaml"
expect_error "not UTF-8" "not UTF-8 text: byte 0xFF at column 21" "$BIN" plan "$T/latin.yaml"

# ---------------------------------------------------------------- archives
cat >"$T/small.yaml" <<EOF
sweep: small
defaults:
  content: $C
  style: [$S]
  model: vgg16
  weights: random
  channels_div: 8
  image_size: 16
  iterations: 3
  content_layer: conv3_2
  style_layers: [conv1_1, conv2_1]
  snapshots: {first: 3, every: 0}
grid:
  seed: [1, 2, 3]
EOF
if ! STYLESWEEP_BENCH_NO_COMPUTE=1 timeout 120 "$BIN" run "$T/small.yaml" -o "$T/good.h5" --checkpoint-every 1 \
    --quiet >"$T/run.out" 2>&1; then
    fail "the benchmark-mode sweep that makes the archive failed"
    show "$T/run.out"
    check_summary
fi
check "good archive: status works" "$BIN" status "$T/good.h5" --summary >/dev/null
check "export --only one run" bash -c '"$1" export "$2" -o "$3" --only run-g002 | grep -q "^1 runs" &&
    [ -f "$3/run-g002/final.png" ] && [ ! -e "$3/run-g001" ]' _ "$BIN" "$T/good.h5" "$T/only"
expect_error "export --only an unknown run" "has no run 'nope'" "$BIN" export "$T/good.h5" -o "$T/only2" --only nope

# damage NAME PYTHON_CODE: a copy of the good archive as $T/NAME.h5, changed by
# PYTHON_CODE (f is the h5py.File, np numpy).
damage() {
    cp "$T/good.h5" "$T/$1.h5"
    "$PY" - "$T/$1.h5" "$2" <<'PY'
import sys

import h5py
import numpy as np

with h5py.File(sys.argv[1], "r+") as f:
    exec(sys.argv[2])
PY
}
R='f["runs"]["run-g001"]'
damage schema_array 'del f.attrs["schema_version"]; f.attrs["schema_version"] = np.array([1, 1, 1, 1], "<i8")'
expect_error "schema_version array" "schema_version" "$BIN" status "$T/schema_array.h5"
damage slot_array "g = $R[\"checkpoint\"][\"a\"]; del g.attrs[\"generation\"]; g.attrs[\"generation\"] = np.arange(64)"
check "checkpoint slot attribute array: status survives" "$BIN" status "$T/slot_array.h5" >/dev/null
damage metrics_2d "del $R[\"metrics\"]; $R.create_dataset(\"metrics\", data=np.zeros((4, 1000)))"
expect_error "2-D metrics" "metrics has 2 dimension" "$BIN" export "$T/metrics_2d.h5" -o "$T/out_m"
damage iterations_2d "del $R[\"snapshot_iterations\"]; $R.create_dataset(\"snapshot_iterations\", data=np.zeros((1, 5000), \"<i4\"))"
expect_error "2-D snapshot_iterations" "snapshot_iterations has 2 dimension" "$BIN" export "$T/iterations_2d.h5" -o "$T/out_i"
damage metrics_huge "del $R[\"metrics\"]; $R.create_dataset(\"metrics\", shape=(2**40,), maxshape=(None,), chunks=(128,), dtype=f[\"runs\"][\"run-g002\"][\"metrics\"].dtype)"
expect_error "metrics declaring 2^40 rows" "more than the file holds" "$BIN" export "$T/metrics_huge.h5" -o "$T/out_h"

# single bytes overwritten all over the file: the reader reports the damage
# or reads around it; it never dies of a signal nor hangs
size=$(stat -c %s "$T/good.h5")
n_bad=0
for k in $(seq 0 47); do
    off=$(((size / 48) * k + 13 * k % 97))
    cp "$T/good.h5" "$T/flip.h5"
    printf '\x5a' | dd of="$T/flip.h5" bs=1 seek="$off" conv=notrunc status=none
    STYLESWEEP_ARCHIVE_PROBE_SECONDS=10 timeout -k 5 60 "$BIN" status "$T/flip.h5" >"$T/out" 2>"$T/err"
    rc=$?
    n_checks=$((n_checks + 1))
    if [ $rc -gt 2 ]; then
        fail "byte $off overwritten: status exited with $rc"
        show "$T/err"
        n_bad=$((n_bad + 1))
    elif [ $rc -ne 0 ] && [ "$(grep -vc '^$' "$T/err")" -ne 1 ]; then
        fail "byte $off overwritten: not one error line"
        show "$T/err"
    fi
    verbose "byte $off: rc $rc $(head -c 200 "$T/err")"
done
verbose "$n_bad of 48 damaged copies crashed status"
check_summary
