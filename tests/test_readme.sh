#!/usr/bin/env bash
# test_readme.sh - every command block of README.md runs, or says why not.
# Each fenced ```sh, ```bash or ```python block is run in order, in one
# sandbox folder, and must exit 0 (bash blocks with `set -e -o pipefail`, so
# every command of the block counts); a block that is too slow or needs a
# GPU, SLURM, the network or a root package install is marked on the line
# right before it with
#   <!-- readme-test: skip (the reason) -->
# and is listed, not run. A fence of another language (yaml, c, text) is
# data, not a command; a fence without a language is an error, as is a skip
# mark without a reason or one that is not followed by a block.
#
# The sandbox: build/stylesweep is the binary under test, samples/,
# sweeps/, scripts/, analysis/, slurm/ link to the repository, python3 is
# /usr/bin/python3 (Debian's, with h5py; a python block is read from stdin,
# so the folder is on sys.path), Open MPI may run as root, and
# out/demo/demo.h5 is a tiny demo archive (sweeps/demo.yaml at 32 px, one
# iteration of 2 evaluations) standing in for the one scripts/demo.sh makes.
# $1 is the stylesweep binary; runs from the repository root. About 30 s
# on an idle 2-core machine, a minute on a loaded one.
set -u
# shellcheck source=tests/testlib.sh
. "$(dirname "$0")/testlib.sh"
need_python yaml
need_mpirun
make_tmpdir

W=$T/work
mkdir -p "$W/build" "$W/out/demo" "$T/bin" "$T/blocks"
ln -s "$BIN" "$W/build/stylesweep"
for d in samples sweeps scripts analysis slurm hdf5 docs; do ln -s "$REPO/$d" "$W/$d"; done
ln -s "$PY" "$T/bin/python3"
export PATH="$T/bin:$PATH" PYTHONDONTWRITEBYTECODE=1

# ------------------------------------------------------------ the blocks
# one line per fenced block: INDEX LINE LANG ACTION REASON; block INDEX's text
# in $T/blocks/INDEX.LANG
"$PY" - "$REPO/README.md" "$T/blocks" >"$T/blocks.tsv" 2>"$T/extract.err" <<'EOF'
import re, sys
readme, out = sys.argv[1], sys.argv[2]
lines = open(readme, encoding="utf-8").read().split("\n")
RUN = {"sh": "sh", "bash": "sh", "python": "py"}
DATA = {"yaml", "c", "text"}
errors, n, i, mark = [], 0, 0, None
while i < len(lines):
    line = lines[i]
    m = re.match(r"<!-- readme-test: skip(?: \((.*)\))? -->\s*$", line)
    if m:
        if not m.group(1):
            errors.append(f"README.md:{i + 1}: a skip mark needs a reason: <!-- readme-test: skip (reason) -->")
        mark = (i + 1, m.group(1) or "")
        i += 1
        continue
    m = re.match(r"```(\S*)\s*$", line)
    if m:
        lang, start = m.group(1), i + 1
        j = i + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        if j == len(lines):
            errors.append(f"README.md:{start}: the block is not closed")
            break
        body = "\n".join(lines[i + 1:j]) + "\n"
        if lang in RUN:
            n += 1
            open(f"{out}/{n:02d}.{RUN[lang]}", "w", encoding="utf-8").write(body)
            action = "skip" if mark else "run"
            print(f"{n:02d}\t{start}\t{RUN[lang]}\t{action}\t{mark[1] if mark else ''}")
        elif lang in DATA:
            if mark:
                errors.append(f"README.md:{mark[0]}: a skip mark before a {lang} block, which is never run")
        else:
            errors.append(f"README.md:{start}: a block without a known language ('{lang}'): "
                          f"sh, bash or python (run, or marked skip) or {', '.join(sorted(DATA))} (data)")
        mark = None
        i = j + 1
        continue
    if mark and line.strip():
        errors.append(f"README.md:{mark[0]}: the skip mark is not right before a block")
        mark = None
    i += 1
for e in errors:
    print(e, file=sys.stderr)
sys.exit(1 if errors else 0)
EOF
rc=$?
check "README.md's blocks are all sh/bash/python (run or marked skip) or data (exit $rc)" test $rc -eq 0 ||
    sed 's/^/    /' "$T/extract.err"
n_run=$(awk -F'\t' '$4 == "run"' "$T/blocks.tsv" | wc -l)
n_skip=$(awk -F'\t' '$4 == "skip"' "$T/blocks.tsv" | wc -l)
check "README.md has command blocks that run ($n_run run, $n_skip skipped)" test "$n_run" -ge 5

# ------------------------------------------------------------ the fixture
(cd "$W" && "$BIN" run sweeps/demo.yaml -o out/demo/demo.h5 -q --threads 2 --set image_size=32 \
    --set iterations=1 --set evals_per_iteration=2 --set snapshots=1,1) </dev/null >"$T/fixture.log" 2>&1
check "the fixture: a tiny demo archive in out/demo/demo.h5" test $? -eq 0 || show "$T/fixture.log"

# ------------------------------------------------------------ run them
while IFS=$'\t' read -r idx line lang action reason; do
    if [ "$action" = skip ]; then
        echo "  skipped README.md:$line ($reason)"
        continue
    fi
    f=$T/blocks/$idx.$lang
    start=$SECONDS
    if [ "$lang" = sh ]; then
        (cd "$W" && timeout -s KILL 120 bash -e -o pipefail "$f") </dev/null >"$T/$idx.log" 2>&1
    else
        (cd "$W" && timeout -s KILL 120 "$PY" - <"$f") >"$T/$idx.log" 2>&1
    fi
    rc=$?
    echo "  ran     README.md:$line ($lang, $((SECONDS - start)) s, exit $rc)"
    verbose_file "$f" "$T/$idx.log"
    if ! check "README.md:$line: the block exits 0 (got $rc)" test $rc -eq 0; then
        sed 's/^/    | /' "$f"
        tail -15 "$T/$idx.log" | sed 's/^/    > /'
    fi
done <"$T/blocks.tsv"

check_summary
