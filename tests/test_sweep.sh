#!/usr/bin/env bash
# test_sweep.sh - `stylesweep run` under mpirun, end to end, with `status`,
# `export` and the archive read back with h5py alone (hdf5/SCHEMA.md).
# Run from anywhere as
#   bash tests/test_sweep.sh PATH_TO_STYLESWEEP_BINARY
# (ctest runs it with the normal and the sanitizer binary; it sets
# ASAN_OPTIONS=detect_leaks=0 for the latter, since Open MPI itself leaks).
# VERBOSE=1 prints the commands' output.
#
# Every run is tiny: random weights, channels_div 8, 16-32 px, 2-4 outer
# iterations of at most 5 evaluations, one thread; about 15 s in all with the
# normal binary, 40 s with the sanitizer one. Every mpirun runs under
# `timeout`, so a hang is a failure.
#
# Checks:
#  - an 8-run manifest (VGG16 max and avg pooling, another content image with
#    --init gray, VGG19 with Adam and two style images; four snapshot
#    schedules) with `mpirun -np 1` and `mpirun --oversubscribe -np 3`: exit 0,
#    every run reported done, `status` shows each run done with all its
#    iterations; the archive, read with h5py following SCHEMA.md: root
#    attributes, manifest text and SHA-256, run table (status done, one
#    attempt, iterations_done, ranks, host, backend, times), per-run
#    attributes and params YAML, one metrics row per iteration, snapshots
#    (n, H, W, 3) uint8 at the schedule's iterations, final (H, W, 3) uint8
#    (equal to the last snapshot when that one is of the last iteration);
#  - the same manifest gives bit-identical final images, snapshots and
#    losses with 1 and 3 ranks;
#  - more ranks than runs: 1 run on 3 ranks ends done, exit 0;
#  - a run whose content image exists but cannot be decoded (a truncated JPEG
#    beside the manifest; again under a name with a double quote) is failed
#    with an error naming the file, the others end done, exit 4 (1 and 3
#    ranks); `status` shows the error;
#  - a manifest with 5 errors: exit 1 before any run starts, every error
#    listed on stderr, no archive (nor temporary file) created (1 and 3 ranks);
#  - an existing archive without --resume: exit 1, the message says to use
#    --resume, the file is unchanged;
#  - `stylesweep export`: per run parameters.yaml (valid YAML, also for the
#    failed run), metrics.csv (one row per iteration, values as archived),
#    final.png and iteration_NNNN.png (pixels as archived);
#  - `status` and `export` while a 3-rank sweep runs: every call succeeds,
#    and at least one sees a run in progress (retried up to 3 sweeps).
set -u
# shellcheck source=tests/testlib.sh
. "$(dirname "$0")/testlib.sh"
need_python h5py numpy yaml
need_mpirun
LIMIT=600 # seconds for any one mpirun: a hang is a failure (not a speed limit)

make_tmpdir
BG= # a sweep in the background
test_cleanup() { if [ -n "$BG" ]; then kill "$BG" 2>/dev/null; wait "$BG" 2>/dev/null; fi; }

# sweep NP MANIFEST ARCHIVE OUTPREFIX [ARGS...]: runs the sweep on NP ranks;
# stdout/stderr in OUTPREFIX.out/.err; sets RC.
sweep() {
    local np=$1 manifest=$2 archive=$3 out=$4
    shift 4
    timeout -k 10 $LIMIT mpirun --oversubscribe -np "$np" "$BIN" run "$manifest" -o "$archive" --threads 1 "$@" \
        >"$out.out" 2>"$out.err" </dev/null
    RC=$?
    verbose_file "$out.out" "$out.err"
    [ $RC -ne 124 ] && [ $RC -ne 137 ] || fail "mpirun -np $np run $(basename "$manifest") hung (killed after ${LIMIT}s)"
}

# ---------------------------------------------------------------- helpers
cat >"$T/check.py" <<'EOF'
"""Reads sweep archives with h5py alone, following hdf5/SCHEMA.md.
usage: check.py archive ARCHIVE MANIFEST NP | same A B | failed ARCHIVE NP |
       export DIR ARCHIVE | running ARCHIVE"""
import csv
import hashlib
import math
import os
import sys

import h5py
import numpy as np
import yaml

sys.path.insert(0, os.environ["TESTS_DIR"])
from testlib import read_png  # noqa: E402

# the main manifest's runs: experiment -> (iterations, snapshot iterations, (H, W))
MAIN = {"a": (3, [1, 2], (16, 24)), "b": (2, [1, 2], (16, 24)),
        "c": (4, [1, 3], (16, 16)), "d": (2, [], (16, 24))}
MAIN_IDS = [f"{e}-g{g:03d}" for e in "abcd" for g in (1, 2)]
STATUS = {"pending": 0, "running": 1, "done": 2, "failed": 3, "interrupted": 4}
errors = []


def check(cond, msg):
    if not cond:
        errors.append(msg)
    return cond


def finish(what):
    for e in errors[:20]:
        print(f"    check.py {what}: {e}")
    sys.exit(1 if errors else 0)


def open_archive(path):
    f = h5py.File(path, "r")
    a = f.attrs
    check(a["format"] == "stylesweep-archive", f"format {a['format']!r}")
    check(int(a["schema_version"]) == 1, f"schema_version {a['schema_version']}")
    check(list(a["status_names"]) == list(STATUS), f"status_names {list(a['status_names'])}")
    table = f["run_table"][:]
    names = h5py.check_enum_dtype(table.dtype["status"])
    check(names == STATUS, f"status enum {names}")
    return f, table, {v: k for k, v in names.items()}


def check_main(path, manifest, np_):
    f, table, status_of = open_archive(path)
    text = open(manifest, "rb").read().decode()
    check(f["manifest"].asstr()[()] == text, "/manifest is not the manifest's text")
    digest = hashlib.sha256(text.encode()).hexdigest()
    check(f.attrs["manifest_sha256"] == digest and f["manifest"].attrs["sha256"] == digest, "manifest SHA-256")
    check(f.attrs["sweep"] == "sweeptest", f"sweep {f.attrs['sweep']!r}")
    ids = [r["id"].decode() for r in table]
    check(ids == MAIN_IDS, f"run ids {ids}")
    for row in table:
        rid = row["id"].decode()
        exp = rid.split("-")[0]
        if exp not in MAIN:
            continue
        iters, snaps, (h, w) = MAIN[exp]
        st = status_of[int(row["status"])]
        check(st == "done", f"{rid}: status {st} ({row['error'].decode()})")
        check(row["attempts"] == 1, f"{rid}: attempts {row['attempts']}")
        check(row["iterations_done"] == iters, f"{rid}: iterations_done {row['iterations_done']} != {iters}")
        check(row["error"].decode() == "", f"{rid}: error {row['error']!r}")
        want_ranks = {0} if np_ == 1 else set(range(1, np_))
        check(int(row["rank"]) in want_ranks, f"{rid}: rank {row['rank']} with {np_} ranks")
        check(row["host"].decode() != "" and row["backend"].decode() == "cpu", f"{rid}: host/backend {row['host']!r} {row['backend']!r}")
        check(row["start_time"] > 1e9 and row["end_time"] >= row["start_time"], f"{rid}: times")
        g = f["runs"][rid]
        ga = g.attrs
        check(ga["id"] == rid and ga["status"] == "done" and int(ga["attempts"]) == 1, f"{rid}: attributes")
        check(ga["weights"].startswith("random"), f"{rid}: weights {ga['weights']!r}")
        p = yaml.safe_load(ga["params"])
        check(isinstance(p, dict), f"{rid}: params is not a YAML mapping")
        if not isinstance(p, dict):
            continue
        check(p["iterations"] == iters and p["weights"] == "random" and p["channels_div"] == 8, f"{rid}: params {p}")
        check(p["tv_weight"] == (1e-4 if rid.endswith("g001") else 1e-3), f"{rid}: tv_weight {p['tv_weight']}")
        check(isinstance(p["style_layers"], list) and isinstance(p["style"], list), f"{rid}: lists in params")
        check(os.path.isabs(p["content"]) and os.path.exists(p["content"]), f"{rid}: content {p['content']}")
        m = g["metrics"][:]
        check(len(m) == iters, f"{rid}: {len(m)} metrics rows, want {iters}")
        check(list(m["iteration"]) == list(range(1, len(m) + 1)), f"{rid}: metrics iterations {list(m['iteration'])}")
        check(all(math.isfinite(x) and x > 0 for x in m["loss"]), f"{rid}: losses {list(m['loss'])}")
        # L-BFGS: at most evals_per_iteration; Adam: that many steps and one evaluation after the last
        most = 5 + (p["optimizer"] == "adam")
        check(all(1 <= e <= most for e in m["evaluations"]), f"{rid}: evaluations {list(m['evaluations'])}")
        check(len(m) == 0 or m["improvement_percent"][0] == 0, f"{rid}: first improvement")
        check(abs(row["final_loss"] - m["loss"][-1]) == 0, f"{rid}: final_loss {row['final_loss']}")
        if "style_layers" in g:
            check(g["style_layers"].shape[0] == iters, f"{rid}: style_layers rows {g['style_layers'].shape}")
        if snaps:
            s, its = g["snapshots"], g["snapshot_iterations"]
            n = min(len(s), len(its))
            check(s.dtype == np.uint8 and s.shape == (len(snaps), h, w, 3), f"{rid}: snapshots {s.dtype} {s.shape}")
            check(list(its[:n]) == snaps, f"{rid}: snapshot iterations {list(its[:n])}, want {snaps}")
        else:
            check("snapshots" not in g, f"{rid}: has snapshots, its schedule keeps none")
        check("final" in g, f"{rid}: no final image")
        if "final" in g:
            fin = g["final"]
            check(fin.dtype == np.uint8 and fin.shape == (h, w, 3), f"{rid}: final {fin.dtype} {fin.shape}")
            check(fin[:].std() > 0, f"{rid}: final image is flat")
            if snaps and snaps[-1] == iters:
                check(np.array_equal(fin[:], g["snapshots"][len(snaps) - 1]), f"{rid}: final != last snapshot")
    finish("archive " + path)


def same(a, b):
    fa, ta, _ = open_archive(a)
    fb, tb, _ = open_archive(b)
    ids = [r["id"].decode() for r in ta]
    check(ids == [r["id"].decode() for r in tb], "different run ids")
    for rid in ids:
        ga, gb = fa["runs"][rid], fb["runs"][rid]
        if not check("final" in ga and "final" in gb, f"{rid}: final missing"):
            continue
        fa_, fb_ = ga["final"][:], gb["final"][:]
        if not np.array_equal(fa_, fb_):
            d = np.abs(fa_.astype(int) - fb_.astype(int))
            check(False, f"{rid}: final images differ (max {d.max()}, {np.count_nonzero(d)} values)")
        check(np.array_equal(ga["metrics"]["loss"], gb["metrics"]["loss"]),
              f"{rid}: losses differ {list(ga['metrics']['loss'])} {list(gb['metrics']['loss'])}")
        if "snapshots" in ga or "snapshots" in gb:
            check("snapshots" in ga and "snapshots" in gb and np.array_equal(ga["snapshots"][:], gb["snapshots"][:]),
                  f"{rid}: snapshots differ")
    finish("same")


def failed(path, np_):
    f, table, status_of = open_archive(path)
    got = {r["id"].decode(): r for r in table}
    check(sorted(got) == ["bad", "bad2", "ok1", "ok2"], f"ids {sorted(got)}")
    for rid, row in got.items():
        st = status_of[int(row["status"])]
        err = row["error"].decode()
        g = f["runs"][rid]
        if rid.startswith("bad"):
            name = "trunc.jpg" if rid == "bad" else 'quote"d.jpg'
            check(st == "failed", f"{rid}: status {st}")
            check(name in err, f"{rid}: error does not name the file: {err!r}")
            check(g.attrs["status"] == "failed" and g.attrs["error"] == err, f"{rid}: group attributes")
            check(row["attempts"] == 1 and "final" not in g, f"{rid}: attempts or a final image")
        else:
            check(st == "done", f"{rid}: status {st} ({err})")
            check("final" in g and len(g["metrics"]) == 2, f"{rid}: final/metrics")
    finish("failed " + path)


def export(d, path):
    f, table, status_of = open_archive(path)
    for row in table:
        rid = row["id"].decode()
        g = f["runs"][rid]
        rd = os.path.join(d, rid)
        st = status_of[int(row["status"])]
        try:
            p = yaml.safe_load(open(os.path.join(rd, "parameters.yaml")))
        except Exception as e:  # noqa: BLE001 - any failure is the finding
            check(False, f"{rid}: parameters.yaml does not parse: {e}")
            continue
        check(isinstance(p, dict) and p.get("status") == st, f"{rid}: parameters.yaml status {p.get('status')}")
        check(p.get("error", "") == row["error"].decode(), f"{rid}: parameters.yaml error {p.get('error')!r}")
        check(p.get("iterations") == yaml.safe_load(g.attrs["params"])["iterations"], f"{rid}: parameters.yaml iterations")
        want = sorted(["parameters.yaml"] + (["metrics.csv"] if len(g["metrics"]) else []) +
                      (["final.png"] if "final" in g else []) +
                      [f"iteration_{i:04d}.png" for i in (g["snapshot_iterations"][:] if "snapshots" in g else [])])
        got = sorted(os.listdir(rd))
        check(got == want, f"{rid}: files {got}, want {want}")
        if len(g["metrics"]):
            rows = list(csv.DictReader(open(os.path.join(rd, "metrics.csv"))))
            m = g["metrics"][:]
            check(len(rows) == len(m), f"{rid}: metrics.csv {len(rows)} rows, archive {len(m)}")
            check(all(int(r["iteration"]) == k + 1 and float(r["loss"]) == m["loss"][k] for k, r in enumerate(rows)),
                  f"{rid}: metrics.csv values")
        if "final" in g and "final.png" in got:
            check(np.array_equal(read_png(os.path.join(rd, "final.png")), g["final"][:]), f"{rid}: final.png pixels")
        if "snapshots" in g:
            for k, it in enumerate(g["snapshot_iterations"][:]):
                fn = os.path.join(rd, f"iteration_{it:04d}.png")
                if os.path.exists(fn):
                    check(np.array_equal(read_png(fn), g["snapshots"][k]), f"{rid}: iteration_{it:04d}.png pixels")
    finish("export " + d)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "archive":
        check_main(args[0], args[1], int(args[2]))
    elif cmd == "same":
        same(args[0], args[1])
    elif cmd == "failed":
        failed(args[0], int(args[1]))
    elif cmd == "export":
        export(args[0], args[1])
    else:
        sys.exit(f"check.py: unknown command {cmd}")
EOF

C1=$REPO/samples/content/chelsea.jpg
C2=$REPO/samples/content/astronaut.jpg
S1=$REPO/samples/style/starry_night.jpg
S2=$REPO/samples/style/the_scream.jpg

# ------------------------------------------- 8 runs on 1 and on 3 ranks
mkdir -p "$T/main"
M=$T/main/sweep.yaml
cat >"$M" <<EOF
# test_sweep.sh: 4 experiments x 2 grid points, tiny and quick
sweep: sweeptest
defaults:
  content: $C1
  style: [$S1]
  model: vgg16
  weights: random
  channels_div: 8
  image_size: 24
  iterations: 3
  evals_per_iteration: 5
  content_layer: conv3_2
  style_layers: [conv1_1, conv2_1, conv3_1]
  init: noise
  snapshots: {first: 1, every: 2}
experiments:
  - {id: a}
  - {id: b, pool: avg, iterations: 2, snapshots: {first: 0, every: 1}}
  - {id: c, content: $C2, image_size: 16, init: gray, iterations: 4, snapshots: {first: 1, every: 3}}
  - {id: d, model: vgg19, optimizer: adam, learning_rate: 4, style: [$S1, $S2], style_weight: [1, 0.5],
     iterations: 2, snapshots: {first: 0, every: 0}}
grid:
  tv_weight: [1.0e-4, 1.0e-3]
EOF
IDS="a-g001 a-g002 b-g001 b-g002 c-g001 c-g002 d-g001 d-g002"
declare -A ITERS=([a]=3 [b]=2 [c]=4 [d]=2)

for np in 1 3; do
    A=$T/main/np$np.h5
    sweep $np "$M" "$A" "$T/main/np$np"
    check "np $np: exit status $RC, want 0" test $RC -eq 0 || show "$T/main/np$np.err"
    for id in $IDS; do
        check "np $np: stdout reports $id done" grep -Eq "^$id done: loss .* after ${ITERS[${id%%-*}]} iterations" "$T/main/np$np.out"
    done
    check "np $np: final summary" grep -Eq '^sweep ended after .*: 8 done, 0 running, 0 pending, 0 failed' "$T/main/np$np.out"
    check "np $np: rank 0 message statistics" grep -Eq '^rank 0 handled [0-9]+ messages, [0-9.]+ ms per message$' "$T/main/np$np.out"
    "$BIN" status "$A" >"$T/main/status$np.out" 2>"$T/main/status$np.err"
    RC=$?
    verbose_file "$T/main/status$np.out"
    check "np $np: status exit $RC" test $RC -eq 0 || show "$T/main/status$np.err"
    check "np $np: status counts" grep -q ': sweep sweeptest, 8 runs: 0 pending, 0 running, 8 done, 0 failed, 0 interrupted$' "$T/main/status$np.out"
    for id in $IDS; do
        n=${ITERS[${id%%-*}]}
        check "np $np: status line of $id" grep -Eq "^ +$id +done +$n/$n +it +1 attempt\\(s\\) +loss " "$T/main/status$np.out"
    done
    "$PY" "$T/check.py" archive "$A" "$M" $np
    check "np $np: the archive read with h5py (SCHEMA.md)" test $? -eq 0
done
"$PY" "$T/check.py" same "$T/main/np1.h5" "$T/main/np3.h5"
check "1 and 3 ranks give bit-identical images and losses" test $? -eq 0

# an existing archive is not overwritten without --resume
A=$T/main/np3.h5
sum_before=$(sha256sum <"$A")
mtime_before=$(stat -c %Y.%s "$A")
sweep 3 "$M" "$A" "$T/main/again"
check "existing archive: exit status $RC, want 1" test $RC -eq 1
check "existing archive: the message says --resume" grep -q -- '--resume' "$T/main/again.err" || show "$T/main/again.err"
check "existing archive: no run started" test -z "$(grep ' done: ' "$T/main/again.out")"
check "existing archive: file unchanged" test "$(sha256sum <"$A")" = "$sum_before" -a "$(stat -c %Y.%s "$A")" = "$mtime_before"

# export
"$BIN" export "$A" -o "$T/export" >"$T/export.out" 2>"$T/export.err"
RC=$?
check "export: exit status $RC" test $RC -eq 0 || show "$T/export.err"
check "export: reports the runs" grep -q '^8 runs, ' "$T/export.out"
check "export: one folder per run" test "$(cd "$T/export" && ls | tr '\n' ' ')" = "$IDS "
"$PY" "$T/check.py" export "$T/export" "$A"
check "export: files per run match the archive" test $? -eq 0

# more ranks than runs
cat >"$T/main/one.yaml" <<EOF
defaults: {content: $C1, style: $S1, weights: random, channels_div: 8, image_size: 16, iterations: 2,
           evals_per_iteration: 3, content_layer: conv2_2, style_layers: [conv1_1]}
EOF
sweep 3 "$T/main/one.yaml" "$T/main/one.h5" "$T/main/one"
check "1 run on 3 ranks: exit status $RC" test $RC -eq 0 || show "$T/main/one.err"
check "1 run on 3 ranks: done" grep -q '^run done: ' "$T/main/one.out"

# ------------------------------------------- a run that fails
mkdir -p "$T/fail"
head -c 2500 samples/content/coffee.jpg >"$T/fail/trunc.jpg" # a JPEG cut short: exists, does not decode
cp "$T/fail/trunc.jpg" "$T/fail/quote\"d.jpg"                 # the same, a name that needs quoting in YAML
cat >"$T/fail/sweep.yaml" <<EOF
sweep: failing
defaults:
  content: $C1
  style: [$S1]
  weights: random
  channels_div: 8
  image_size: 16
  iterations: 2
  evals_per_iteration: 3
  content_layer: conv3_2
  style_layers: [conv1_1, conv2_1]
  snapshots: {first: 1, every: 0}
experiments:
  - {id: ok1}
  - {id: bad, content: trunc.jpg}   # relative to this file's folder
  - {id: bad2, content: 'quote"d.jpg'}
  - {id: ok2, pool: avg}
EOF
for np in 1 3; do
    A=$T/fail/np$np.h5
    sweep $np "$T/fail/sweep.yaml" "$A" "$T/fail/np$np"
    check "failing run, np $np: exit status $RC, want 4" test $RC -eq 4 || show "$T/fail/np$np.err"
    check "failing run, np $np: reported" grep -Eq '^bad failed: .*trunc\.jpg' "$T/fail/np$np.out"
    check "failing run, np $np: summary" grep -Eq '^sweep ended after .*: 2 done, 0 running, 0 pending, 2 failed' "$T/fail/np$np.out"
    "$PY" "$T/check.py" failed "$A" $np
    check "failing run, np $np: archive statuses and error" test $? -eq 0
    "$BIN" status "$A" >"$T/fail/status$np.out" 2>&1
    RC=$?
    check "failing run, np $np: status exit $RC" test $RC -eq 0
    check "failing run, np $np: status counts" grep -q ' 2 done, 2 failed, ' "$T/fail/status$np.out"
    check "failing run, np $np: status shows the error" grep -Eq '^ +bad +failed .*error: .*trunc\.jpg' "$T/fail/status$np.out"
done
"$BIN" export "$T/fail/np3.h5" -o "$T/fail/export" >/dev/null 2>"$T/fail/export.err"
RC=$?
check "failing run: export exit status $RC" test $RC -eq 0 || show "$T/fail/export.err"
"$PY" "$T/check.py" export "$T/fail/export" "$T/fail/np3.h5"
check "failing run: export files, parameters.yaml of the failed run parses" test $? -eq 0

# ------------------------------------------- a manifest with errors
mkdir -p "$T/bad"
cat >"$T/bad/sweep.yaml" <<EOF
sweep: broken
defaults:
  content: $C1
  style: [$S1]
  weights: random
  tv_wieght: 1.0e-4
  image_size: 16
  pool: maximum
experiments:
  - {id: a}
  - {id: a}
  - {id: c, content: missing.jpg}
grid:
  init: []
EOF
for np in 1 3; do
    sweep $np "$T/bad/sweep.yaml" "$T/bad/np$np.h5" "$T/bad/np$np"
    E=$T/bad/np$np.err
    check "bad manifest, np $np: exit status $RC, want 1" test $RC -eq 1
    check "bad manifest, np $np: unknown key" grep -q 'sweep.yaml:6: tv_wieght: .*tv_weight' "$E"
    check "bad manifest, np $np: image too small for conv5_1" \
        grep -q 'sweep.yaml:7: image_size: run a-g001: a 16x11 image is too small to reach conv5_1 (at least 16 px on the short side)' "$E"
    check "bad manifest, np $np: bad value" grep -q 'sweep.yaml:8: pool: .*maximum' "$E"
    check "bad manifest, np $np: duplicate id" grep -q 'sweep.yaml:11: id: .*duplicate' "$E"
    check "bad manifest, np $np: missing file" grep -q 'sweep.yaml:12: content: .*missing.jpg' "$E"
    check "bad manifest, np $np: empty grid list" grep -q 'sweep.yaml:14: init: ' "$E"
    check "bad manifest, np $np: error count" grep -q 'stylesweep run: .*sweep.yaml: 6 errors' "$E" || show "$E"
    check "bad manifest, np $np: nothing ran" test -z "$(grep -E ' (done|failed): ' "$T/bad/np$np.out")"
    check "bad manifest, np $np: no archive or temporary file" test -z "$(ls "$T/bad" | grep '\.h5')"
done

# ------------------------------------------- status and export while a sweep runs
mkdir -p "$T/live"
cat >"$T/live/sweep.yaml" <<EOF
sweep: live
defaults:
  content: $C1
  style: [$S1]
  weights: random
  channels_div: 8
  image_size: 32
  iterations: 12
  evals_per_iteration: 5
  content_layer: conv3_2
  style_layers: [conv1_1, conv2_1, conv3_1]
  snapshots: {first: 12, every: 0}
experiments: [{id: a}, {id: b}, {id: c}, {id: d}]
EOF
# run b (index 1) is held after its 6th iteration (src/testhold.h) until
# status has seen it running; status and export are polled the whole time
A=$T/live/s.h5
hold_at "$T/live/hold" 1 6
timeout -k 10 $LIMIT mpirun --oversubscribe -x STYLESWEEP_TEST_HOLD -np 3 "$BIN" run "$T/live/sweep.yaml" -o "$A" \
    --threads 1 >"$T/live/run.out" 2>"$T/live/run.err" </dev/null &
BG=$!
unhold
polls=0 seen_running=0 bad_polls=0
while kill -0 "$BG" 2>/dev/null; do
    if [ ! -e "$A" ]; then
        sleep 0.05
        continue
    fi
    held=0
    [ -e "$T/live/hold/held-1" ] && held=1
    polls=$((polls + 1))
    if "$BIN" status "$A" >"$T/live/status.out" 2>"$T/live/status.err"; then
        if [ $held = 1 ] && grep -Eq '^ +b +running +6/12 ' "$T/live/status.out"; then
            seen_running=1
            release "$T/live/hold"
        fi
    else
        bad_polls=$((bad_polls + 1))
        fail "status while the sweep runs (poll $polls) failed"
        show "$T/live/status.err"
    fi
    if ! "$BIN" export "$A" -o "$T/live/export" >/dev/null 2>"$T/live/export.err"; then
        bad_polls=$((bad_polls + 1))
        fail "export while the sweep runs (poll $polls) failed"
        show "$T/live/export.err"
    fi
    [ $bad_polls -gt 0 ] && release "$T/live/hold"
    sleep 0.1
done
wait "$BG"
RC=$?
BG=
verbose_file "$T/live/run.out"
check "live sweep: exit status $RC" test $RC -eq 0 || show "$T/live/run.err"
verbose "live sweep: $polls polls"
check "status saw run b in progress (6/12) while it was held" test $seen_running -eq 1
"$BIN" status "$A" >"$T/live/status.out" 2>&1
check "live sweep: all 4 runs done at the end" grep -q ' 4 done, 0 failed, ' "$T/live/status.out"

check_summary
