# shellcheck shell=bash disable=SC2034 # (variables set for the tests that source this)
# testlib.sh - what the shell tests (tests/test_*.sh) share. A test takes the
# stylesweep binary as its only argument and starts with
#   set -u
#   . "$(dirname "$0")/testlib.sh"
# which checks the argument, sets
#   TEST_NAME  the test's name (test_sweep), for its messages
#   BIN        the binary's absolute path
#   REPO       the repository root, the current folder from then on
#   TESTS_DIR  $REPO/tests, exported (Python helpers: tests/testlib.py)
#   PY         /usr/bin/python3
#   SAN        1 for a sanitizer binary (*_san; ASAN_OPTIONS then defaults to
#              detect_leaks=0: Open MPI itself leaks), else 0
# and defines the helpers below. This file is no test itself (ctest runs
# tests/test_*.sh only).

TEST_NAME=$(basename "$0" .sh)
if [ $# -ne 1 ]; then
    echo "usage: bash tests/$TEST_NAME.sh PATH_TO_STYLESWEEP_BINARY" >&2
    exit 2
fi
BIN=$1
case $BIN in /*) ;; *) BIN=$PWD/$BIN ;; esac
if [ ! -x "$BIN" ]; then
    echo "$TEST_NAME: $BIN is not an executable" >&2
    exit 2
fi
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
REPO=$PWD
TESTS_DIR=$REPO/tests
export TESTS_DIR
PY=${SS_PYTHON:-/usr/bin/python3} # the Python with h5py and numpy (Debian's by default)
SAN=0
case "$(basename "$BIN")" in
    *_san)
        SAN=1
        export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=0}
        ;;
esac

# need_python MODULE...: exit 2 unless $PY imports every MODULE.
need_python() {
    local IFS=,
    "$PY" -c "import $*" 2>/dev/null && return 0
    echo "$TEST_NAME: $PY lacks one of $*" >&2
    exit 2
}

# need_mpirun: exit 2 without mpirun; lets Open MPI run as root (containers).
# tiny_sweep_head NAME [ROOT]: the first lines of a test's manifest: random
# VGG16 weights, the narrow network (channels_div 8), the sample photograph
# and painting of the repository (or of ROOT); the caller writes the other
# defaults and the runs after them.
tiny_sweep_head() {
    local root=${2:-$REPO}
    cat <<EOF
sweep: $1
defaults:
  content: $root/samples/content/chelsea.jpg
  style: [$root/samples/style/starry_night.jpg]
  model: vgg16
  weights: random
  channels_div: 8
EOF
}
# seed_grid_manifest NAME RUNS EVALS: a whole tiny manifest (tiny_sweep_head,
# 16 px, 2 iterations of EVALS evaluations, three style layers, one snapshot)
# of RUNS runs that differ only in their seed: the many-run sweeps' manifest
seed_grid_manifest() {
    tiny_sweep_head "$1"
    cat <<EOF
  image_size: 16
  iterations: 2
  evals_per_iteration: $3
  content_layer: conv3_2
  style_layers: [conv1_1, conv2_1, conv3_1]
  init: noise
  snapshots: {first: 1, every: 0}
grid:
  seed: [$(seq -s ', ' 0 $(($2 - 1)))]
EOF
}
need_mpirun() {
    command -v mpirun >/dev/null || { echo "$TEST_NAME: mpirun not found" >&2; exit 2; }
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
}

# make_tmpdir: T = a new folder under $TMPDIR (or /tmp), removed on exit
# (KEEP=1 keeps it). A test that starts background jobs defines
# test_cleanup, which then runs first. SIGINT and SIGTERM exit with 130.
make_tmpdir() {
    T=$(mktemp -d "${TMPDIR:-/tmp}/$TEST_NAME.XXXXXX") || exit 2
    trap testlib_cleanup EXIT
    trap 'exit 130' INT TERM
}
testlib_cleanup() {
    if declare -F test_cleanup >/dev/null; then test_cleanup; fi
    chmod -R u+w "$T" 2>/dev/null # a test may have made parts read-only
    if [ -n "${KEEP:-}" ]; then
        echo "kept $T"
    else
        rm -rf "$T"
    fi
}

# ------------------------------------------------------------ counted checks
n_checks=0
n_failed=0
# fail MESSAGE...: counts a failure (the caller counts its check).
fail() {
    echo "FAIL: $*"
    n_failed=$((n_failed + 1))
}
# check DESCRIPTION COMMAND...: counts a check, fails it when COMMAND fails
# (then shows the first lines of the file $CHECK_SHOW, if set); returns
# COMMAND's success.
check() {
    local what=$1
    shift
    n_checks=$((n_checks + 1))
    if ! "$@"; then
        fail "$what"
        if [ -n "${CHECK_SHOW:-}" ]; then show "$CHECK_SHOW"; fi
        return 1
    fi
}
# check_summary: the counts; exits 0 when no check failed, else 1.
check_summary() {
    if [ "$n_failed" -ne 0 ]; then
        echo "$TEST_NAME: $n_failed of $n_checks checks failed"
        exit 1
    fi
    echo "$TEST_NAME: all $n_checks checks passed"
    exit 0
}

# ------------------------------------------------------------ output
is_verbose() { [ -n "${VERBOSE:-}" ] && [ "$VERBOSE" != 0 ]; }
# verbose MESSAGE...: printed with VERBOSE=1.
verbose() { if is_verbose; then echo "  $*"; fi; }
# verbose_file FILE...: the files, indented, with VERBOSE=1.
verbose_file() { if is_verbose; then sed 's/^/    | /' "$@"; fi; return 0; }
# show FILE...: the first lines of each non-empty file, indented (after a failure).
show() {
    local f
    for f in "$@"; do [ -s "$f" ] && sed "s|^|    $(basename "$f"): |" "$f" | head -15; done
    return 0
}

# ------------------------------------------------------------ holds (src/testhold.h)
# A test that must act while a run is certainly still going holds it at an
# iteration boundary instead of hoping it is still running:
#   hold_at DIR RUN ITER   exports STYLESWEEP_TEST_HOLD (RUN: the run's index
#                          in the archive, or '*'); DIR is made empty
#   wait_file FILE PID     until FILE exists; fails when process PID ended
#                          first (or after WAIT_LIMIT s, a hang)
#   release DIR            lets every held run go on; unhold: unsets the variable
WAIT_LIMIT=${WAIT_LIMIT:-600}
hold_at() {
    rm -rf "$1" && mkdir -p "$1"
    export STYLESWEEP_TEST_HOLD="$2:$3:$1"
}
unhold() { unset STYLESWEEP_TEST_HOLD; }
release() { touch "$1/release"; }
wait_file() {
    local file=$1 pid=$2 t_end=$((SECONDS + WAIT_LIMIT))
    while [ ! -e "$file" ]; do
        if ! kill -0 "$pid" 2>/dev/null; then
            [ -e "$file" ] && return 0
            echo "wait_file: process $pid ended before $file appeared"
            return 1
        fi
        [ $SECONDS -lt $t_end ] || { echo "wait_file: no $file after $WAIT_LIMIT s"; return 1; }
        sleep 0.02
    done
}
# wait_lines FILE PATTERN N PID: until FILE has N lines matching PATTERN (grep -E)
wait_lines() {
    local t_end=$((SECONDS + WAIT_LIMIT))
    while [ "$(grep -cE -- "$2" "$1" 2>/dev/null)" -lt "$3" ]; do
        kill -0 "$4" 2>/dev/null || { echo "wait_lines: process $4 ended before $3 lines of '$2' in $1"; return 1; }
        [ $SECONDS -lt $t_end ] || { echo "wait_lines: not $3 lines of '$2' in $1 after $WAIT_LIMIT s"; return 1; }
        sleep 0.02
    done
}
