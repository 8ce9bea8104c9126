#!/usr/bin/env bash
# test_fetch_weights.sh - scripts/fetch_weights.sh without the internet:
# an unreachable server gives the "no internet access" message and exit 3;
# file:// mirrors serve a too-small file, a full-size file with the wrong MD5
# and a valid-layout VGG16 file (random weights, accepted with --no-md5, then
# loaded by stylesweep through STYLESWEEP_MODELS and weights auto); a missing
# file fails with exit 1. No case may leave a .part file or a partial file.
# Run from anywhere as
#   bash tests/test_fetch_weights.sh PATH_TO_STYLESWEEP_BINARY
# Needs curl (the download cases are skipped without it) and /usr/bin/python3 with h5py and numpy; writes about
# 120 MB under a mktemp -d directory, removed on exit.
set -u
# shellcheck source=tests/testlib.sh
. "$(dirname "$0")/testlib.sh"
FETCH=$REPO/scripts/fetch_weights.sh
make_tmpdir
CHECK_SHOW=$T/err # a failed check shows the last command's stderr

V16=vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5
V19=vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5

# fetch DIR ARGS...: runs the script into DIR (emptied first); sets RC
fetch() {
    local dir=$1
    shift
    rm -rf "$dir"
    mkdir -p "$dir"
    STYLESWEEP_MODELS= timeout -k 5 120 bash "$FETCH" --dir "$dir" "$@" >"$T/out" 2>"$T/err" </dev/null
    RC=$?
    verbose_file "$T/err"
}
empty() { [ -z "$(ls -A "$1")" ]; }

check "--help exits 0 and names the URL" \
    bash -c "bash '$FETCH' --help | grep -q 'storage.googleapis.com/tensorflow/keras-applications'"
bash "$FETCH" --bogus >"$T/out" 2>"$T/err"
RC=$?
check "unknown option: exit 2 (got $RC)" test $RC -eq 2

if ! command -v curl >/dev/null 2>&1; then
    # the cases below need curl (wget reads no file:// URLs); scripts/setup.sh installs it
    echo "test_fetch_weights: SKIP the download cases: curl is not installed ($n_failed of $n_checks checks failed)"
    exit $((n_failed != 0))
fi

# no network: a server that refuses the connection
fetch "$T/m" --base-url http://127.0.0.1:9 vgg16
check "unreachable server: exit 3 (got $RC)" test $RC -eq 3
check "unreachable server: says there is no internet access" grep -q 'no internet access' "$T/err"
check "unreachable server: names the URL to fetch elsewhere" grep -qF "http://127.0.0.1:9/vgg16/$V16" "$T/err"
check "unreachable server: nothing left in the folder" empty "$T/m"

# mirrors on disk
mkdir -p "$T/small/vgg16" "$T/full/vgg16"
printf '<html>404 Not Found</html>\n' >"$T/small/vgg16/$V16"
if ! "$PY" - "$T/full/vgg16/$V16" <<'EOF' 2>"$T/err"; then
import sys
import h5py
import numpy as np
# the Keras VGG16 notop layout at full width, seeded He-normal weights
rng = np.random.default_rng(16)
names, cin = ["input_1"], 3
blocks = []
for b, (n, c) in enumerate(zip((2, 2, 3, 3, 3), (64, 128, 256, 512, 512)), start=1):
    for i in range(1, n + 1):
        names.append(f"block{b}_conv{i}")
        blocks.append((names[-1], cin, c))
        cin = c
    names.append(f"block{b}_pool")
with h5py.File(sys.argv[1], "w") as f:
    f.attrs["layer_names"] = np.array([n.encode() for n in names], dtype="S")
    for n in names:
        f.create_group(n).attrs["weight_names"] = np.zeros((0,), np.float64)
    for n, ci, co in blocks:
        g = f[n]
        wn = [f"{n}/kernel:0".encode(), f"{n}/bias:0".encode()]
        g.attrs["weight_names"] = np.array(wn, dtype="S")
        k = (rng.standard_normal((3, 3, ci, co), dtype=np.float32) * np.float32(np.sqrt(2 / (9 * ci))))
        g.create_dataset(wn[0].decode(), data=k)
        g.create_dataset(wn[1].decode(), data=np.zeros(co, np.float32))
EOF
    echo "FAIL: cannot make the test weights file"
    cat "$T/err"
    exit 1
fi

fetch "$T/m" --base-url "file://$T/small" vgg16
check "too small a file: exit 1 (got $RC)" test $RC -eq 1
check "too small a file: says so" grep -q 'expected more than 50 MiB' "$T/err"
check "too small a file: nothing left in the folder" empty "$T/m"

fetch "$T/m" --base-url "file://$T/full" vgg16
check "wrong MD5: exit 1 (got $RC)" test $RC -eq 1
check "wrong MD5: says so" grep -q 'MD5' "$T/err"
check "wrong MD5: nothing left in the folder" empty "$T/m"

fetch "$T/m" --base-url "file://$T/full" vgg19
check "missing file on the mirror: exit 1 (got $RC)" test $RC -eq 1
check "missing file on the mirror: says the download failed" grep -q 'download of .* failed' "$T/err"
check "missing file on the mirror: nothing left in the folder" empty "$T/m"

fetch "$T/m" --base-url "file://$T/full" --no-md5 vgg16
check "valid file with --no-md5: exit 0 (got $RC)" test $RC -eq 0
check "valid file: installed under its name, nothing else" test "$(ls -A "$T/m")" = "$V16"
check "valid file: identical to the mirror's" cmp -s "$T/m/$V16" "$T/full/vgg16/$V16"
# the script's own check of a file already there
STYLESWEEP_MODELS= bash "$FETCH" --dir "$T/m" --no-md5 vgg16 >"$T/out" 2>"$T/err"
RC=$?
check "file already there: exit 0 (got $RC)" test $RC -eq 0
check "file already there: kept" grep -q 'is there and valid' "$T/out"
# stylesweep finds and loads it (weights auto through STYLESWEEP_MODELS)
STYLESWEEP_MODELS=$T/m timeout -k 5 120 "$BIN" eval --image-size 24 --threads 1 --content-layer conv1_2 \
    --style-layers conv1_1 samples/content/chelsea.jpg samples/style/starry_night.jpg -o "$T/e.h5" \
    >"$T/out" 2>"$T/err"
RC=$?
check "stylesweep eval with the fetched file: exit 0 (got $RC)" test $RC -eq 0
check "stylesweep eval used the fetched file, not random weights" test ! -s "$T/err"
check "stylesweep eval recorded the file" \
    "$PY" -c "import h5py,sys; sys.exit(0 if h5py.File('$T/e.h5')['/'].attrs['weights'] in (b'$T/m/$V16', '$T/m/$V16') else 1)"

check "no .part file anywhere" test -z "$(find "$T" -name '*.part*')"

check_summary
