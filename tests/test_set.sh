#!/usr/bin/env bash
# test_set.sh - `--set KEY=VALUE` and `--only ID[,ID...]` of `plan` and
# `run`: a --set value replaces a default for every run, but a value an
# experiment sets itself wins; bad values get the manifest's messages with
# "--set" for FILE:LINE; --only keeps a subset (run or experiment ids); the
# archive records the overrides and the defaults they make on /manifest;
# --resume with other --set values is a changed manifest (runs refused, or
# reset with --force; the previous manifest kept in /manifest_history),
# --resume without --only appends the other runs, and runs recorded before
# newer keys existed are the same runs. $1 is the stylesweep
# binary; runs from the repository root.
set -u
# shellcheck source=tests/testlib.sh
. "$(dirname "$0")/testlib.sh"
need_python h5py
make_tmpdir

# ---- plan: the founding study at 96 px, e28 and e29 keep their own sizes
"$BIN" plan sweeps/dlai2018.yaml --set image_size=96 >"$T/plan.out" 2>"$T/plan.err"
check "plan --set image_size=96: exit 0 (got $?)" test ! -s "$T/plan.err"
check "plan --set: 34 runs" grep -qx '34 runs' "$T/plan.out"
check "plan --set: the overrides are printed" grep -q '^--set .*: image_size=96$' "$T/plan.out"
check "plan --set: e28 keeps its image_size 112" grep -Eq '^e28 +image_size=112$' "$T/plan.out"
check "plan --set: e29 keeps its image_size 448" grep -Eq '^e29 +image_size=448$' "$T/plan.out"
check "plan --set: no other run differs by image_size" test "$(grep -c 'image_size=' "$T/plan.out")" -eq 3
"$BIN" plan --defaults sweeps/dlai2018.yaml --set image_size=96 --set iterations=10 >"$T/plan.out" 2>&1
check "plan --set: the defaults say image_size: 96" grep -qx 'image_size: 96' "$T/plan.out"
check "plan --set: the defaults say iterations: 10" grep -qx 'iterations: 10' "$T/plan.out"
"$BIN" plan sweeps/dlai2018.yaml --set image-size=96 >"$T/plan.out" 2>&1
check "plan --set image-size (dashes): accepted" grep -qx '34 runs' "$T/plan.out"

# ---- plan: bad --set values, one line each naming the key and the value (exit 1)
"$BIN" plan sweeps/dlai2018.yaml --set image_size=abc --set tv_wieght=1 --set pool=maximum \
    --set content=no/such.jpg >"$T/bad.out" 2>"$T/bad.err"
RC=$?
check "bad --set: exit 1 (got $RC)" test $RC -eq 1
for line in "--set: image_size: 'abc' is not an integer" \
    "--set: tv_wieght: unknown key (did you mean 'tv_weight'?)" \
    "--set: pool: 'maximum' is not one of max|avg" \
    "--set: content: cannot read 'no/such.jpg': No such file or directory" \
    "stylesweep plan: sweeps/dlai2018.yaml: 4 errors"; do
    check "bad --set: says \"$line\"" grep -qxF -- "$line" "$T/bad.err" || show "$T/bad.err"
done
"$BIN" plan sweeps/dlai2018.yaml --set image_size=4 >"$T/bad.out" 2>"$T/bad.err"
check "--set image_size=4: out of range" grep -qF -- "--set: image_size: 4 is out of range" "$T/bad.err"
"$BIN" plan sweeps/dlai2018.yaml --set image_size >"$T/bad.out" 2>"$T/bad.err"
RC=$?
check "--set without '=': usage error (exit 2, got $RC)" test $RC -eq 2
check "--set without '=': says KEY=VALUE" grep -q "is not KEY=VALUE" "$T/bad.err"

# ---- plan --only
"$BIN" plan tests/data/small.yaml --only avg,max-g002 >"$T/only.out" 2>&1
check "--only avg,max-g002: 3 runs" grep -qx '3 runs' "$T/only.out"
check "--only: avg's two grid points and max-g002" \
    test "$(grep -Eo '^[a-z]+-g00[0-9]' "$T/only.out" | tr '\n' ' ')" = "avg-g001 avg-g002 max-g002 "
"$BIN" plan tests/data/small.yaml --only avg,e99 >"$T/only.out" 2>"$T/only.err"
RC=$?
check "--only with an unknown id: exit 1 (got $RC)" test $RC -eq 1
check "--only with an unknown id: named" grep -q "^--only: no run or experiment 'e99' in tests/data/small.yaml" "$T/only.err"

# ---- run: a subset at a small size, recorded in the archive
SMALL=(--set image_size=32 --set iterations=2 --set evals_per_iteration=2 --set channels_div=8 --set snapshots=0,0)
A=$T/a.h5
sweep() { # sweep OUT ARGS...: one rank, RC its exit status
    local out=$1
    shift
    timeout -s KILL 300 "$BIN" run tests/data/small.yaml -o "$A" --threads 1 "$@" >"$out" 2>&1
    RC=$?
}
sweep "$T/run1.out" "${SMALL[@]}" --only avg
check "run --set --only avg: exit 0 (got $RC)" test $RC -eq 0 || show "$T/run1.out"
cat >"$T/read.py" <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
what = sys.argv[2]
if what == "ids":
    print(" ".join(sorted(f["runs"].keys())))
elif what == "param":  # param RUN KEY
    for line in f["runs"][sys.argv[3]].attrs["params"].splitlines():
        k, _, v = line.partition(": ")
        if k == sys.argv[4]:
            print(v)
elif what == "overrides":
    print(f["manifest"].attrs.get("overrides", "").replace("\n", " ").strip())
elif what == "effective":  # effective KEY: from effective_defaults
    for line in f["manifest"].attrs.get("effective_defaults", "").splitlines():
        k, _, v = line.partition(": ")
        if k == sys.argv[3]:
            print(v)
elif what == "history":  # the overrides of each earlier manifest
    h = f.get("manifest_history", {})
    print("|".join(h[k].attrs.get("overrides", "").replace("\n", " ").strip() for k in sorted(h.keys(), key=int)))
PY
read_archive() { "$PY" "$T/read.py" "$A" "$@"; }
check "--only avg: the archive holds avg's runs" test "$(read_archive ids)" = "avg-g001 avg-g002"
check "--set: a run's parameters say image_size 32" test "$(read_archive param avg-g001 image_size)" = 32
check "--set: a run's parameters say iterations 2" test "$(read_archive param avg-g001 iterations)" = 2
check "--set: recorded on /manifest" \
    test "$(read_archive overrides)" = "image_size=32 iterations=2 evals_per_iteration=2 channels_div=8 snapshots=0,0"
check "--set: the effective defaults recorded" test "$(read_archive effective image_size)" = 32

# --resume with other --set values: a changed manifest
sweep "$T/run2.out" "${SMALL[@]}" --set iterations=3 --only avg --resume
check "--resume with another --set: refused (exit 1, got $RC)" test $RC -eq 1
check "--resume with another --set: names the changed runs" grep -q "changed since the archive was made (avg-g001, avg-g002)" "$T/run2.out" ||
    show "$T/run2.out"
sweep "$T/run3.out" "${SMALL[@]}" --set iterations=3 --only avg --resume --force
check "--resume --force with another --set: exit 0 (got $RC)" test $RC -eq 0 || show "$T/run3.out"
check "--resume --force: the runs ran with iterations 3" test "$(read_archive param avg-g002 iterations)" = 3
check "--resume --force: the new overrides recorded" \
    test "$(read_archive overrides)" = "image_size=32 iterations=2 evals_per_iteration=2 channels_div=8 snapshots=0,0 iterations=3"
check "--resume --force: the earlier overrides kept in /manifest_history" \
    test "$(read_archive history)" = "image_size=32 iterations=2 evals_per_iteration=2 channels_div=8 snapshots=0,0"
# --resume without --only: the other runs are appended and run
sweep "$T/run4.out" "${SMALL[@]}" --set iterations=3 --resume
check "--resume without --only: exit 0 (got $RC)" test $RC -eq 0 || show "$T/run4.out"
check "--resume without --only: 4 runs appended" grep -q "resume: 4 new run(s) appended" "$T/run4.out"
check "--resume without --only: every run in the archive" test "$(read_archive ids | wc -w)" -eq 6
check "--resume: same overrides, no new history entry" test "$(read_archive history | tr '|' '\n' | wc -l)" -eq 1

# an archive written before the colour keys existed (its runs' parameters
# lack style_scale ... output_size and say preserve_color true): --resume
# reads them over the defaults, so they are the same runs, not changed ones
"$PY" - "$A" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    for g in f["runs"].values():
        lines = [ln for ln in g.attrs["params"].splitlines() if ln.split(":")[0] not in
                 ("style_scale", "histogram_method", "color_mask", "output_size", "style_masks")]
        g.attrs.modify("params", "\n".join(ln.replace("preserve_color: false", "preserve_color: no")
                                            for ln in lines) + "\n")
PY
sweep "$T/run5.out" "${SMALL[@]}" --set iterations=3 --resume
check "--resume of runs recorded without the newer keys: exit 0 (got $RC)" test $RC -eq 0 || show "$T/run5.out"
check "--resume of runs recorded without the newer keys: none changed" test "$(grep -c "changed since" "$T/run5.out")" = 0

check_summary
