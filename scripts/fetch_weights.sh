#!/usr/bin/env bash
# fetch_weights.sh - downloads the Keras VGG16/VGG19 "notop" weights that
# stylesweep uses when `weights: auto` (see README.md, "Weights").
# Run `scripts/fetch_weights.sh --help` for the options.
set -u

PROG=fetch_weights
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEFAULT_BASE=https://storage.googleapis.com/tensorflow/keras-applications
MIN_BYTES=$((50 * 1024 * 1024))

# name, size in bytes and MD5 (the file_hash keras.applications checks)
file_of() { echo "$1_weights_tf_dim_ordering_tf_kernels_notop.h5"; }
md5_of() {
    case $1 in
    vgg16) echo 6d6bbae143d832006294945121d1f1fc ;;
    vgg19) echo 253f8cb515780f3b799900260a226db6 ;;
    esac
}
last_conv_of() {
    case $1 in
    vgg16) echo block5_conv3 ;;
    vgg19) echo block5_conv4 ;;
    esac
}

usage() {
    cat <<EOF
usage: scripts/fetch_weights.sh [OPTIONS] [vgg16|vgg19|all]...

Downloads the ImageNet-trained VGG weights that keras.applications uses,
without the classifier ("notop"), into the models folder, where stylesweep
finds them with weights: auto (the default):
  vgg16: $(file_of vgg16)  (about 56 MiB)
  vgg19: $(file_of vgg19)  (about 76 MiB)
from $DEFAULT_BASE/MODEL/FILE.
Without a model name both are fetched. A file already there and valid is
kept (give --force to download it again).

Each file is downloaded to FILE.PID.part in the same folder and renamed to
FILE only once it is complete and checked: larger than 50 MiB, the MD5 that
keras.applications expects, and an HDF5 file whose root attribute layer_names
lists the model's layers (checked with /usr/bin/python3 and h5py, or h5dump).
An interrupted or failed download leaves no FILE and no .part file.

options:
  --dir DIR        where to put the files [default: \$STYLESWEEP_MODELS if set,
                   else $ROOT/models]
  --base-url URL   download from a mirror with the same layout (URL/vgg16/FILE);
                   file:// URLs work (a copy on a shared disk)
  --force          download again even when a valid file is there
  --no-md5         skip the MD5 comparison (a mirror holding re-saved files)
  -h, --help       this help

stylesweep looks for the files in \$STYLESWEEP_MODELS, then ./models (relative
to the directory it runs in), then ~/.keras/models.

Without internet access (an HPC compute node, a sandbox), this script says so
and exits 3: download the two files on a machine that has it (the URLs above,
or keras.applications.VGG16(include_top=False) which caches them in
~/.keras/models) and copy them into the models folder.

exit status: 0 all requested files are there and valid; 1 a download or a
check failed; 2 usage error; 3 the server cannot be reached (no network).
EOF
}

die_usage() {
    echo "$PROG: $*" >&2
    echo "usage: scripts/fetch_weights.sh [--dir DIR] [--base-url URL] [--force] [vgg16|vgg19|all]... (see --help)" >&2
    exit 2
}

DIR=${STYLESWEEP_MODELS:-$ROOT/models}
BASE=$DEFAULT_BASE
FORCE=0
CHECK_MD5=1
MODELS=()
while [ $# -gt 0 ]; do
    case $1 in
    -h | --help)
        usage
        exit 0
        ;;
    --dir)
        [ $# -ge 2 ] && [ -n "$2" ] || die_usage "--dir needs a folder"
        DIR=$2
        shift
        ;;
    --dir=*) DIR=${1#--dir=} ;;
    --base-url)
        [ $# -ge 2 ] && [ -n "$2" ] || die_usage "--base-url needs a URL"
        BASE=$2
        shift
        ;;
    --base-url=*) BASE=${1#--base-url=} ;;
    --force) FORCE=1 ;;
    --no-md5) CHECK_MD5=0 ;;
    vgg16 | vgg19) MODELS+=("$1") ;;
    all) MODELS+=(vgg16 vgg19) ;;
    -*) die_usage "unknown option $1" ;;
    *) die_usage "unknown model '$1' (vgg16, vgg19 or all)" ;;
    esac
    shift
done
[ ${#MODELS[@]} -gt 0 ] || MODELS=(vgg16 vgg19)
BASE=${BASE%/}

# the temporary file of the download in progress, removed on any exit
PART=""
cleanup() { if [ -n "$PART" ]; then rm -f "$PART" "$PART.err"; fi; }
trap cleanup EXIT
trap 'echo "$PROG: interrupted" >&2; exit 130' INT TERM HUP

file_size() { stat -c %s "$1" 2>/dev/null || echo 0; }

# check_file MODEL PATH: prints why PATH is not a valid weights file of
# MODEL on stderr and fails, or succeeds silently.
check_file() {
    local model=$1 path=$2 size
    size=$(file_size "$path")
    if [ "$size" -le $MIN_BYTES ]; then
        echo "$PROG: $path is $size bytes, expected more than 50 MiB (an error page or a truncated download?)" >&2
        return 1
    fi
    if [ $CHECK_MD5 = 1 ] && command -v md5sum >/dev/null 2>&1; then
        local want got
        want=$(md5_of "$model")
        got=$(md5sum <"$path" | cut -d' ' -f1)
        if [ "$got" != "$want" ]; then
            echo "$PROG: $path has MD5 $got, keras.applications expects $want (corrupt, or another file; --no-md5 accepts it)" >&2
            return 1
        fi
    fi
    local last
    last=$(last_conv_of "$model")
    if /usr/bin/python3 -c 'import h5py' >/dev/null 2>&1; then
        local msg
        if ! msg=$(/usr/bin/python3 - "$path" "$last" 2>&1 <<'EOF'
import sys
import h5py
path, last = sys.argv[1], sys.argv[2]
try:
    f = h5py.File(path, "r")
except OSError as e:
    sys.exit(f"not an HDF5 file ({e})")
with f:
    if "layer_names" not in f.attrs:
        sys.exit("no root attribute layer_names: not a Keras weights file")
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in f.attrs["layer_names"]]
    convs = [n for n in names if "_conv" in n]
    if last not in names:
        sys.exit(f"layer_names does not list {last} (it lists {', '.join(convs) or 'no convolution'})")
    for n in convs:
        if n not in f or "weight_names" not in f[n].attrs or len(f[n].attrs["weight_names"]) != 2:
            sys.exit(f"layer {n} has no kernel and bias (weight_names)")
EOF
        ); then
            echo "$PROG: $path: ${msg##*$'\n'}" >&2
            return 1
        fi
    elif command -v h5dump >/dev/null 2>&1; then
        if ! h5dump -a /layer_names "$path" 2>/dev/null | grep -q "\"$last\""; then
            echo "$PROG: $path: not an HDF5 file whose root attribute layer_names lists $last" >&2
            return 1
        fi
    else
        echo "$PROG: warning: neither h5py (/usr/bin/python3) nor h5dump found: $path's layers not checked" >&2
    fi
    return 0
}

# download URL DEST: fetches URL into DEST; returns 0, 1 (failed) or 3 (no
# network), with the reason on stderr.
download() {
    local url=$1 dest=$2 rc
    if command -v curl >/dev/null 2>&1; then
        local progress=(-sS)
        if [ -t 2 ]; then progress=(--progress-bar); fi
        curl --fail --location --retry 2 --retry-delay 2 --connect-timeout 20 "${progress[@]}" \
            -o "$dest" "$url" 2>"$dest.err"
        rc=$?
        local err host=${url#*://}
        host=${host%%/*}
        err=$(tr '\r' '\n' <"$dest.err" | grep '^curl: ' | tail -n 1)
        rm -f "$dest.err"
        case $rc in
        0) return 0 ;;
        5 | 6 | 7 | 28 | 35 | 45 | 52 | 55 | 56)
            echo "$PROG: cannot reach ${host:-$url}: ${err:-curl exit status $rc}" >&2
            return 3
            ;;
        *)
            echo "$PROG: download of $url failed: ${err:-curl exit status $rc}" >&2
            return 1
            ;;
        esac
    elif command -v wget >/dev/null 2>&1; then
        local quiet=(-q)
        if [ -t 2 ]; then quiet=(-q --show-progress); fi
        wget "${quiet[@]}" --tries=3 --timeout=20 -O "$dest" "$url"
        rc=$?
        case $rc in
        0) return 0 ;;
        4)
            echo "$PROG: cannot reach $url (wget: network failure)" >&2
            return 3
            ;;
        *)
            echo "$PROG: download of $url failed (wget exit status $rc)" >&2
            return 1
            ;;
        esac
    else
        echo "$PROG: neither curl nor wget is installed (apt-get install curl)" >&2
        return 1
    fi
}

if ! mkdir -p "$DIR" 2>/dev/null || [ ! -d "$DIR" ]; then
    echo "$PROG: cannot create the folder $DIR" >&2
    exit 1
fi
if [ ! -w "$DIR" ]; then
    echo "$PROG: the folder $DIR is not writable" >&2
    exit 1
fi

status=0
for model in "${MODELS[@]}"; do
    name=$(file_of "$model")
    dest=$DIR/$name
    if [ $FORCE = 0 ] && [ -e "$dest" ]; then
        if check_file "$model" "$dest"; then
            echo "$PROG: $dest is there and valid (--force downloads it again)"
            continue
        fi
        echo "$PROG: $dest is not valid (see above); give --force to replace it" >&2
        status=1
        continue
    fi
    url=$BASE/$model/$name
    PART=$dest.$$.part
    echo "$PROG: downloading $url"
    download "$url" "$PART"
    rc=$?
    if [ $rc -eq 3 ]; then
        rm -f "$PART"
        PART=""
        cat >&2 <<EOF
$PROG: this machine seems to have no internet access (or a proxy or firewall
$PROG: blocks it). Download $url
$PROG: on a machine that has, and copy it to $dest
$PROG: (stylesweep runs with random VGG weights until then: weights: auto).
EOF
        exit 3
    fi
    if [ $rc -ne 0 ] || ! check_file "$model" "$PART"; then
        rm -f "$PART"
        PART=""
        echo "$PROG: $model not installed: $dest left as it was" >&2
        status=1
        continue
    fi
    if ! mv -f "$PART" "$dest"; then
        echo "$PROG: cannot rename $PART to $dest" >&2
        status=1
        continue
    fi
    PART=""
    echo "$PROG: $dest ($(file_size "$dest") bytes) verified"
done
if [ $status -eq 0 ] && [ "$DIR" != "$ROOT/models" ] && [ "${STYLESWEEP_MODELS:-}" != "$DIR" ]; then
    echo "$PROG: note: stylesweep finds $DIR only as STYLESWEEP_MODELS=$DIR (or as ./models)"
fi
exit $status
