#!/usr/bin/env bash
# The one command that builds stylesweep and runs every test on a fresh
# Debian 12 machine: installs the packages, configures, builds, runs ctest
# (which includes the address/undefined-sanitizer build of the tests), then
# fuzzes each untrusted-input reader for 60 s (scripts/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/check_format.sh
./scripts/check_static.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$(nproc)"
(cd build && ctest --output-on-failure -j "$(nproc)")
# a short fuzzing run of the four readers (tests/fuzz/README.md)
./scripts/fuzz.sh 60
