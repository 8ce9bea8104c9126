#!/usr/bin/env bash
# test_plan.sh - `stylesweep plan`: the demo manifest lists its runs (exit 0),
# a malformed manifest lists every error on stderr (exit 1), and plan writes
# no file. $1 is the stylesweep binary; runs from the repository root.
set -u
# shellcheck source=tests/testlib.sh
. "$(dirname "$0")/testlib.sh"
make_tmpdir

# the demo: exit 0, one line per run, then "N runs"
"$BIN" plan sweeps/demo.yaml >"$T/out" 2>"$T/err"
rc=$?
check "plan demo.yaml exits 0 (got $rc; $(cat "$T/err"))" test $rc -eq 0
n=$(grep -Ec '^[0-9]+ runs?$' "$T/out")
check "plan prints the run count" test "$n" -eq 1
count=$(sed -nE 's/^([0-9]+) runs?$/\1/p' "$T/out")
lines=$(grep -Ec '^[A-Za-z0-9_.-]+-g[0-9]{3} ' "$T/out")
check "one line per run ($lines lines for ${count:-?} runs)" test "$lines" = "${count:-x}"
check "demo runs differ from the defaults by style_weight" grep -q 'style_weight=1000' "$T/out"
check "plan prints no error" test ! -s "$T/err"

# the founding study: 34 runs
"$BIN" plan sweeps/dlai2018.yaml >"$T/out" 2>&1
check "dlai2018.yaml has 34 runs" grep -qx '34 runs' "$T/out"
check "e02 differs by its weights" grep -Eq '^e02 +content_weight=1 style_weight=0.25$' "$T/out"

# --help
"$BIN" plan --help >"$T/out" 2>&1
check "plan --help exits 0" test $? -eq 0
check "plan --help prints the usage" grep -q 'usage: stylesweep plan' "$T/out"

# a malformed manifest: exit 1, every error on stderr, nothing on stdout
mkdir -p "$T/sweeps"
cat >"$T/sweeps/bad.yaml" <<'YAML'
sweep: bad
defaults:
  content: ../samples/content/missing.jpg
  style: [../samples/style/starry_night.jpg]
  tv_wieght: 1.0e-4
  image_size: {w: 1}
  pool: maximum
experiments:
  - {id: a}
  - {id: a}
  - {id: b, style_layers: [conv1_1, conv9_1]}
grid:
  init: []
YAML
mkdir -p "$T/samples/style" && cp samples/style/starry_night.jpg "$T/samples/style/"
"$BIN" plan "$T/sweeps/bad.yaml" >"$T/out" 2>"$T/err"
rc=$?
check "a malformed manifest exits 1 (got $rc)" test $rc -eq 1
f="$T/sweeps/bad.yaml"
for want in \
    "$f:3: content: cannot read '../samples/content/missing.jpg'" \
    "$f:5: tv_wieght: unknown key (did you mean 'tv_weight'?)" \
    "$f:6: image_size: expected a number, got a mapping" \
    "$f:7: pool: 'maximum' is not one of max|avg" \
    "$f:10: id: duplicate experiment id 'a'" \
    "$f:11: style_layers: run b-g001: unknown layer 'conv9_1'" \
    "$f:13: init: the grid list is empty" \
    "stylesweep plan: $f: 7 errors"; do
    check "stderr has: $want" grep -qF -- "$want" "$T/err"
done
check "exactly 8 lines on stderr" test "$(wc -l <"$T/err")" -eq 8
check "nothing on stdout for a malformed manifest" test ! -s "$T/out"

# an image too small for its layers is caught by plan (chelsea.jpg is 451x300)
cat >"$T/sweeps/small.yaml" <<'YAML'
sweep: small
defaults:
  content: ../samples/content/chelsea.jpg
  style: [../samples/style/starry_night.jpg]
  content_layer: conv5_1
experiments:
  - {id: e01, image_size: 24}
  - {id: e05, image_size: 16}
YAML
mkdir -p "$T/samples/content" && cp samples/content/chelsea.jpg "$T/samples/content/"
"$BIN" plan "$T/sweeps/small.yaml" >"$T/out" 2>"$T/err"
rc=$?
check "an image too small for conv5_1 exits 1 (got $rc)" test $rc -eq 1
check "image_size error for e05: $(cat "$T/err")" grep -qxF \
    "$T/sweeps/small.yaml:8: image_size: run e05: a 16x11 image is too small to reach conv5_1 (at least 16 px on the short side)" "$T/err"
check "one error for the small image" test "$(wc -l <"$T/err")" -eq 2

# a YAML syntax error, and a missing manifest
printf 'sweep: s\ndefaults:\n  pool: max\n  pool: avg\n' >"$T/syntax.yaml"
"$BIN" plan "$T/syntax.yaml" >/dev/null 2>"$T/err"
check "a syntax error exits 1" test $? -eq 1
check "a syntax error has its line" grep -qF "$T/syntax.yaml:4: YAML syntax error" "$T/err"
"$BIN" plan "$T/none.yaml" >/dev/null 2>"$T/err"
check "a missing manifest exits 1" test $? -eq 1
"$BIN" plan >/dev/null 2>&1
check "no manifest is a usage error" test $? -eq 2

# plan writes nothing: run it from an empty folder on a copy of the demo
mkdir -p "$T/cwd" "$T/samples"
cp -r samples/content samples/style "$T/samples/"
cp sweeps/demo.yaml "$T/sweeps/demo.yaml"
before=$(cd "$T" && find . | sort)
(cd "$T/cwd" && "$BIN" plan ../sweeps/demo.yaml >../plan.out 2>&1)
check "plan runs from another folder (paths resolved): $(cat "$T/plan.out")" grep -Eq '^[0-9]+ runs$' "$T/plan.out"
check "paths are shown from the current folder" grep -q 'style=../samples/style/the_scream.jpg' "$T/plan.out"
rm "$T/plan.out"
after=$(cd "$T" && find . | sort)
check "plan created no file" test "$before" = "$after"
check_summary
