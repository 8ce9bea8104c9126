#!/usr/bin/env bash
# run_regressions.sh - every input in tests/fuzz/regressions/ (inputs that
# once crashed, hung or exhausted stylesweep; made by make_regressions.py or
# kept from fuzzing) through the stylesweep binary, as a user would give it:
#   image/     content image of `stylesweep eval`
#   weights/   --weights of `stylesweep eval`
#   manifest/  `stylesweep plan`
#   archive/   `stylesweep status` and `stylesweep export`
# Each must end within 60 s (a timeout is a failure) with exit 1 or 2 and
# exactly one line on stderr naming the file (a manifest: one per error, then
# a summary naming the file); with the normal binary also
# within 1 GB of memory (ulimit -v 4 GB: beyond, an allocation fails, which
# must be reported too). Run from anywhere as
#   bash tests/fuzz/run_regressions.sh PATH_TO_STYLESWEEP_BINARY
# VERBOSE=1 prints every message.
set -u
# shellcheck source=tests/testlib.sh
. "$(dirname "$0")/../testlib.sh"
make_tmpdir
R=$REPO/tests/fuzz/regressions
GOOD=(--image-size 32 --model vgg16 --channels-div 8 --weights tests/data/ref_vgg16_div8.h5
      --content-layer conv2_2 --style-layers conv1_1,conv2_1)
STYLE=samples/style/starry_night.jpg
CONTENT=samples/content/chelsea.jpg

# one CASE FILE COMMAND...: runs COMMAND, checks how it ended
one() {
    local name=$1 file=$2 kind=${1%% *}
    shift 2
    n_checks=$((n_checks + 1))
    rm -rf "$T/out" "$T/out.h5"
    (
        if [ "$SAN" = 0 ]; then ulimit -v 4000000; fi
        exec timeout -s KILL 60 /usr/bin/time -f "%M" -o "$T/rss" "$@" >"$T/stdout" 2>"$T/stderr" </dev/null
    )
    local rc=$? lines
    lines=$(wc -l <"$T/stderr")
    verbose "$name: exit $rc: $(cat "$T/stderr")"
    if [ $rc = 137 ] || [ $rc = 124 ]; then
        fail "$name: no answer within 60 s"
    elif [ $rc -ge 126 ] || [ $rc = 0 ]; then
        fail "$name: exit status $rc, want 1 or 2"
        show "$T/stderr"
    elif { [ "$lines" != 1 ] && [ "$kind" != manifest ]; } || ! tail -1 "$T/stderr" | grep -qF "$(basename "$file")"; then
        fail "$name: want one line on stderr naming $(basename "$file") (a manifest: one per error and a summary), got $lines"
        show "$T/stderr"
    elif [ "$SAN" = 0 ] && [ -s "$T/rss" ] && [ "$(tail -1 "$T/rss")" -gt 1000000 ]; then
        fail "$name: used $(tail -1 "$T/rss") kB of memory"
    fi
}

for f in "$R"/image/*; do
    [ -f "$f" ] && one "image $(basename "$f")" "$f" "$BIN" eval "${GOOD[@]}" "$f" "$STYLE" -o "$T/out.h5"
done
for f in "$R"/weights/*; do
    [ -f "$f" ] && one "weights $(basename "$f")" "$f" "$BIN" eval "${GOOD[@]}" --weights "$f" "$CONTENT" "$STYLE" \
        -o "$T/out.h5"
done
for f in "$R"/manifest/*; do
    [ -f "$f" ] && one "manifest $(basename "$f")" "$f" "$BIN" plan "$f"
done
for f in "$R"/archive/*; do
    [ -f "$f" ] || continue
    one "archive $(basename "$f") status" "$f" "$BIN" status "$f"
    one "archive $(basename "$f") export" "$f" "$BIN" export "$f" -o "$T/out"
done
check_summary
