#!/usr/bin/env bash
# demo.sh - one command from a fresh Debian 12 machine to a sweep's HTML
# report: installs the missing Debian packages (scripts/setup.sh), builds
# stylesweep when the build is missing or stale, runs sweeps/demo.yaml on 3
# MPI ranks (rank 0 writes the archive, two workers), writes the report with
# `python3 -m analysis report` and prints where it is and how to open it.
#
#   scripts/demo.sh            # out/demo/demo.h5 and out/demo/report/index.html
#
# Run again, it reuses a finished archive (only the report is written again)
# and resumes an unfinished one (`stylesweep run --resume`: done runs are
# kept, interrupted ones continue from their checkpoints). Once the packages
# are installed: about 40 s on a 2-core AMD EPYC Zen 4 (AVX-512), about 2
# minutes on a Zen 1 (AVX2 only; README.md, "Two commands").
#
# Environment:
#   DEMO_OUT=DIR        the output folder [default: out/demo]
#   DEMO_MANIFEST=FILE  another manifest [default: sweeps/demo.yaml]
#   DEMO_SET="k=v ..."  `stylesweep run --set` overrides (a quick preview)
#   STYLESWEEP_BIN=BIN  use this binary: no package installation, no build
#                       (the tests use it)
# Exit status: 0 with the report written; non-zero when a step failed (its
# message says which).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
OUT=${DEMO_OUT:-out/demo}
MANIFEST=${DEMO_MANIFEST:-sweeps/demo.yaml}
ARCHIVE=$OUT/demo.h5
REPORT=$OUT/report
NP=3
PY=/usr/bin/python3
start=$SECONDS

say() { echo "demo [$((SECONDS - start))s]: $*"; }
die() {
    echo "demo: $*" >&2
    exit 1
}

# ------------------------------------------------------------ packages, build
if [ -n "${STYLESWEEP_BIN:-}" ]; then
    BIN=$STYLESWEEP_BIN
    [ -x "$BIN" ] || die "STYLESWEEP_BIN=$BIN is not an executable"
    say "using $BIN (STYLESWEEP_BIN: no package check, no build)"
else
    say "checking the Debian packages (scripts/setup.sh)"
    ./scripts/setup.sh || die "scripts/setup.sh failed: install the packages it names, then run this again"
    BIN=$REPO/build/stylesweep
    if [ ! -f build/CMakeCache.txt ]; then
        say "configuring the build (build/)"
        cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >build-configure.log 2>&1 ||
            { tail -20 build-configure.log >&2; die "cmake failed (whole log: build-configure.log)"; }
        rm -f build-configure.log
    fi
    before=$(stat -c %Y "$BIN" 2>/dev/null || echo none)
    say "building stylesweep if the build is missing or stale (cmake --build build)"
    cmake --build build -j "$(nproc)" --target stylesweep >build/demo-build.log 2>&1 ||
        { tail -20 build/demo-build.log >&2; die "the build failed (whole log: build/demo-build.log)"; }
    if [ "$(stat -c %Y "$BIN" 2>/dev/null || echo none)" = "$before" ]; then
        say "build is up to date"
    else
        say "built $BIN"
    fi
fi
command -v mpirun >/dev/null || die "mpirun not found (scripts/setup.sh installs openmpi-bin)"
"$PY" -c "import h5py, numpy, pandas, matplotlib, skimage, yaml" 2>/dev/null ||
    die "$PY lacks one of h5py numpy pandas matplotlib skimage yaml (scripts/setup.sh installs them)"

# ------------------------------------------------------------ MPI settings
MPI_ARGS=()
cores=$(nproc)
if [ "$cores" -lt $NP ]; then
    MPI_ARGS+=(--oversubscribe)
    say "$cores cores for $NP ranks: mpirun --oversubscribe (rank 0 mostly waits)"
fi
if [ "$(id -u)" -eq 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    say "running as root: OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 (Open MPI refuses root otherwise)"
fi
threads=$((cores / (NP - 1)))
[ "$threads" -ge 1 ] || threads=1
SET_ARGS=()
for kv in ${DEMO_SET:-}; do SET_ARGS+=(--set "$kv"); done

# ------------------------------------------------------------ the sweep
mkdir -p "$OUT"
planned=$("$BIN" plan "$MANIFEST" "${SET_ARGS[@]}" | sed -n 's/^\([0-9][0-9]*\) runs$/\1/p')
[ -n "$planned" ] || die "stylesweep plan $MANIFEST failed (see above)"
done_runs() { # prints the number of done runs in the archive (empty when unreadable)
    "$BIN" status "$ARCHIVE" --summary 2>/dev/null | sed -n 's/.* \([0-9][0-9]*\) done.*/\1/p'
}
RUN=(mpirun "${MPI_ARGS[@]}" -np $NP "$BIN" run "$MANIFEST" -o "$ARCHIVE" --threads "$threads"
    --summary-every 15 "${SET_ARGS[@]}")
if [ -e "$ARCHIVE" ]; then
    have=$(done_runs)
    [ -n "$have" ] || die "$ARCHIVE exists but stylesweep status cannot read it; move it away and run again"
    if [ "$have" -ge "$planned" ]; then
        say "$ARCHIVE already holds the finished sweep ($have runs done): reusing it (delete it to run the sweep again)"
    else
        say "$ARCHIVE exists with $have of $planned runs done: resuming it (stylesweep run --resume)"
        set +e
        "${RUN[@]}" --resume
        rc=$?
        set -e
        [ $rc -eq 0 ] || [ $rc -eq 4 ] ||
            die "the resumed sweep stopped (exit $rc; see above). A manifest that changed since $ARCHIVE was made is refused: move $ARCHIVE away to start afresh"
    fi
else
    say "running the $planned runs of $MANIFEST on $NP MPI ranks (2 workers, $threads thread(s) each) -> $ARCHIVE"
    set +e
    "${RUN[@]}"
    rc=$?
    set -e
    [ $rc -eq 0 ] || [ $rc -eq 4 ] || die "the sweep stopped (exit $rc; see above); run scripts/demo.sh again to resume it"
fi
[ "${rc:-0}" -ne 4 ] || say "some runs failed (the report lists them with their errors)"

# ------------------------------------------------------------ the report
say "writing the report (python3 -m analysis report)"
"$PY" -m analysis report "$ARCHIVE" -o "$REPORT" >/dev/null
index=$(cd "$REPORT" && pwd)/index.html
say "done in $((SECONDS - start)) s"
cat <<EOF

The report: $index
Open it with
    xdg-open $index
or in any browser as file://$index
(or serve the folder: python3 -m http.server -d $REPORT 8000, then http://localhost:8000/).
Load the runs in Python:
    $PY -c "import analysis; print(analysis.open('$ARCHIVE').runs)"
EOF
