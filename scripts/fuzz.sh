#!/usr/bin/env bash
# fuzz.sh [SECONDS] - builds the libFuzzer harnesses of tests/fuzz with
# Debian's clang (build-fuzz/), makes their seed corpora and fuzzes each
# target for SECONDS (default 60): the manifest loader, the image loader, the
# archive reader and the weights reader. Exits 1 when a target found a crash,
# a hang (10 s per input) or more than 2 GB of memory; the input is then in
# build-fuzz/crashes/TARGET/ (add it to tests/fuzz/regressions/ once fixed).
# The HDF5 targets run with SS_FUZZ_CONTAIN=1 (libhdf5's own known crashes
# are contained as stylesweep contains them: the inputs of contained crashes
# still land in build-fuzz/crashes/, written by the sanitizer in the reading
# child, but only a crash of the fuzzer's own process fails); for long runs see
# tests/fuzz/README.md. The corpora grow in build-fuzz/corpus/ from run to run.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-60}
BIN=${BIN:-build/stylesweep}
[ -x "$BIN" ] || { echo "fuzz.sh: build $BIN first (or set BIN)" >&2; exit 2; }
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Release -DSS_FUZZ=ON \
    -DSS_SANITIZE_TESTS=OFF -DSS_WITH_CUDA=OFF >/dev/null
cmake --build build-fuzz -j "$(nproc)" --target fuzz_manifest fuzz_image fuzz_archive fuzz_weights
rm -rf build-fuzz/seeds
bash tests/fuzz/make_seeds.sh "$BIN" build-fuzz/seeds
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
status=0
for t in manifest image archive weights; do
    mkdir -p "build-fuzz/corpus/$t" "build-fuzz/crashes/$t"
    args=(-max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
          -artifact_prefix="build-fuzz/crashes/$t/" "build-fuzz/corpus/$t" "build-fuzz/seeds/$t")
    case $t in
        manifest) args=(-dict=tests/fuzz/yaml.dict -max_len=4096 "${args[@]}") ;;
        image) args=(-max_len=4096 "${args[@]}") ;;
        *) args=(-max_len=65536 "${args[@]}") ;;
    esac
    contain=0
    case $t in archive | weights) contain=1 ;; esac
    echo "fuzz.sh: $t for ${SECONDS_PER_TARGET}s"
    # (the weights reader's trial child gives up after 5 s, before the fuzzer's 10 s timeout)
    if ! SS_FUZZ_CONTAIN=$contain STYLESWEEP_WEIGHTS_TRIAL=5 "build-fuzz/tests/fuzz_$t" "${args[@]}" \
        >"build-fuzz/fuzz_$t.log" 2>&1; then
        echo "fuzz.sh: $t FAILED: $(ls -t "build-fuzz/crashes/$t" | head -1) (log: build-fuzz/fuzz_$t.log)"
        grep -E "ERROR|SUMMARY" "build-fuzz/fuzz_$t.log" | head -5
        status=1
    else
        grep -E "^stat::number_of_executed_units|^Done" "build-fuzz/fuzz_$t.log" | tr '\n' ' '
        echo
    fi
done
exit $status
