#!/usr/bin/env bash
# test_plan.sh - `stylesweep plan`: the demo manifest lists its runs (exit 0),
# a malformed manifest lists every error on stderr (exit 1), and plan writes
# no file. $1 is the stylesweep binary; runs from the repository root.
set -u
bin=${1:?usage: test_plan.sh STYLESWEEP}
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
cd "$(dirname "$0")/.." || exit 1 # the repository root
fail=0
check() { # check DESCRIPTION COMMAND...
    local what=$1
    shift
    if ! "$@"; then
        echo "FAIL: $what" >&2
        fail=1
    fi
}
tmp=$(mktemp -d /tmp/ss_plan.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# the demo: exit 0, one line per run, then "N runs"
"$bin" plan sweeps/demo.yaml >"$tmp/out" 2>"$tmp/err"
rc=$?
check "plan demo.yaml exits 0 (got $rc; $(cat "$tmp/err"))" test $rc -eq 0
n=$(grep -Ec '^[0-9]+ runs?$' "$tmp/out")
check "plan prints the run count" test "$n" -eq 1
count=$(sed -nE 's/^([0-9]+) runs?$/\1/p' "$tmp/out")
lines=$(grep -Ec '^[A-Za-z0-9_.-]+-g[0-9]{3} ' "$tmp/out")
check "one line per run ($lines lines for ${count:-?} runs)" test "$lines" = "${count:-x}"
check "demo runs differ from the defaults by style_weight" grep -q 'style_weight=1000' "$tmp/out"
check "plan prints no error" test ! -s "$tmp/err"

# the founding study: 34 runs
"$bin" plan sweeps/dlai2018.yaml >"$tmp/out" 2>&1
check "dlai2018.yaml has 34 runs" grep -qx '34 runs' "$tmp/out"
check "e02 differs by its weights" grep -Eq '^e02 +content_weight=1 style_weight=0.25$' "$tmp/out"

# --help
"$bin" plan --help >"$tmp/out" 2>&1
check "plan --help exits 0" test $? -eq 0
check "plan --help prints the usage" grep -q 'usage: stylesweep plan' "$tmp/out"

# a malformed manifest: exit 1, every error on stderr, nothing on stdout
mkdir -p "$tmp/sweeps"
cat >"$tmp/sweeps/bad.yaml" <<'YAML'
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
mkdir -p "$tmp/samples/style" && cp samples/style/starry_night.jpg "$tmp/samples/style/"
"$bin" plan "$tmp/sweeps/bad.yaml" >"$tmp/out" 2>"$tmp/err"
rc=$?
check "a malformed manifest exits 1 (got $rc)" test $rc -eq 1
f="$tmp/sweeps/bad.yaml"
for want in \
    "$f:3: content: cannot read '../samples/content/missing.jpg'" \
    "$f:5: tv_wieght: unknown key (did you mean 'tv_weight'?)" \
    "$f:6: image_size: expected a number, got a mapping" \
    "$f:7: pool: 'maximum' is not one of max|avg" \
    "$f:10: id: duplicate experiment id 'a'" \
    "$f:11: style_layers: run b-g001: unknown layer 'conv9_1'" \
    "$f:13: init: the grid list is empty" \
    "stylesweep plan: $f: 7 errors"; do
    check "stderr has: $want" grep -qF -- "$want" "$tmp/err"
done
check "exactly 8 lines on stderr" test "$(wc -l <"$tmp/err")" -eq 8
check "nothing on stdout for a malformed manifest" test ! -s "$tmp/out"

# an image too small for its layers is caught by plan (chelsea.jpg is 451x300)
cat >"$tmp/sweeps/small.yaml" <<'YAML'
sweep: small
defaults:
  content: ../samples/content/chelsea.jpg
  style: [../samples/style/starry_night.jpg]
  content_layer: conv5_1
experiments:
  - {id: e01, image_size: 24}
  - {id: e05, image_size: 16}
YAML
mkdir -p "$tmp/samples/content" && cp samples/content/chelsea.jpg "$tmp/samples/content/"
"$bin" plan "$tmp/sweeps/small.yaml" >"$tmp/out" 2>"$tmp/err"
rc=$?
check "an image too small for conv5_1 exits 1 (got $rc)" test $rc -eq 1
check "image_size error for e05: $(cat "$tmp/err")" grep -qxF \
    "$tmp/sweeps/small.yaml:8: image_size: run e05: a 16x11 image is too small to reach conv5_1 (at least 16 px on the short side)" "$tmp/err"
check "one error for the small image" test "$(wc -l <"$tmp/err")" -eq 2

# a YAML syntax error, and a missing manifest
printf 'sweep: s\ndefaults:\n  pool: max\n  pool: avg\n' >"$tmp/syntax.yaml"
"$bin" plan "$tmp/syntax.yaml" >/dev/null 2>"$tmp/err"
check "a syntax error exits 1" test $? -eq 1
check "a syntax error has its line" grep -qF "$tmp/syntax.yaml:4: YAML syntax error" "$tmp/err"
"$bin" plan "$tmp/none.yaml" >/dev/null 2>"$tmp/err"
check "a missing manifest exits 1" test $? -eq 1
"$bin" plan >/dev/null 2>&1
check "no manifest is a usage error" test $? -eq 2

# plan writes nothing: run it from an empty folder on a copy of the demo
mkdir -p "$tmp/cwd" "$tmp/samples"
cp -r samples/content samples/style "$tmp/samples/"
cp sweeps/demo.yaml "$tmp/sweeps/demo.yaml"
before=$(cd "$tmp" && find . | sort)
(cd "$tmp/cwd" && "$bin" plan ../sweeps/demo.yaml >../plan.out 2>&1)
check "plan runs from another folder (paths resolved): $(cat "$tmp/plan.out")" grep -Eq '^[0-9]+ runs$' "$tmp/plan.out"
check "paths are shown from the current folder" grep -q 'style=../samples/style/the_scream.jpg' "$tmp/plan.out"
rm "$tmp/plan.out"
after=$(cd "$tmp" && find . | sort)
check "plan created no file" test "$before" = "$after"
exit $fail
