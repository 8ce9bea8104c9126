#!/usr/bin/env bash
# gpu_bundle.sh - the device check's bundle: one compressed file that runs
# stylesweep, its GPU tests and its benchmarks on a machine that has a GPU
# and Python's CUDA libraries but none of stylesweep's own (no apt, no
# network there).
#
#   scripts/gpu_bundle.sh [--from BUILD_DIR] [--allow-cpu] [-o FILE] [--force]
#                         [--anchors DIR] [--jobs N] [--xz-level N]
#
# Without --from it configures and builds build-gpu/ (Release, CUDA on,
# no sanitizer build) and fails unless the CUDA backend is built; --from
# packs an existing build folder as it is. --allow-cpu accepts a build
# without the CUDA backend (the bundle's CPU part is then all it can run;
# tests/test_bundle.sh uses this where no nvcc is found).
#
# Output (default bundle/stylesweep-bundle.tar.xz, a git-ignored folder;
# an existing file is kept unless --force) holds one folder,
# stylesweep-bundle/:
#   bin/       stylesweep and its CUDA module (libstylesweep_cuda.so, when
#              built), the test programs of BUILD_DIR/tests, Open MPI's
#              orterun and orted, and `mpirun`, a wrapper that relocates
#              Open MPI to the bundle (it works from any folder)
#   lib/       every shared library these need except glibc's (libc, libm,
#              libdl, libpthread, librt, libresolv, ld-linux) and CUDA's;
#              lib/openmpi3 and lib/pmix: Open MPI's and PMIx's plugins (those
#              for InfiniBand, UCX, libfabric, PSM and OpenSHMEM left out);
#              lib/cuda: the CUDA runtime the binary was linked with, when it
#              links it dynamically (cuDNN and cuBLAS are hundreds of MiB:
#              the GPU machine's own, or its Python packages', are used)
#   share/, etc/  Open MPI's and PMIx's help texts and settings
#   env.sh     `. env.sh` sets PATH, LD_LIBRARY_PATH and the OPAL_*/PMIX_*
#              variables that relocate Open MPI and PMIx to the bundle
#   tests/     tests/data, the shell tests and their helpers,
#              tests/gpu/check.sh (the device check)
#   scripts/   compare_torch_eval.py (the check's full-width comparison;
#              it imports tests/make_reference.py)
#   samples/, sweeps/  the sample images and the sweep manifests
#   anchors/   the PyTorch reference scripts of --anchors DIR (default
#              ../shared/anchors, or ../../shared/anchors from a worktree
#              folder), copied at pack time
#   BUNDLE.txt what was packed: commit, build folder, CUDA or not, libraries
# Prints the compressed size; fails at 60 MiB or more (the device tool
# carries 64 MiB in all, the working tree included).
#
# On the GPU machine: tar xf stylesweep-bundle.tar.xz && stylesweep-bundle/tests/gpu/check.sh OUTDIR
# (PERFORMANCE.md, "Device check", has the device tool's command).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
LIMIT_MIB=60

from='' allow_cpu=0 out=bundle/stylesweep-bundle.tar.xz force=0 anchors=''
for d in ../shared/anchors ../../shared/anchors; do [ -d "$d" ] && { anchors=$d; break; }; done
jobs=$(nproc) xz_level=6 build=build-gpu
while [ $# -gt 0 ]; do
    case "$1" in
        --from) from=${2:?--from needs a build folder}; shift 2 ;;
        --allow-cpu) allow_cpu=1; shift ;;
        -o|--output) out=${2:?-o needs a file name}; shift 2 ;;
        --force) force=1; shift ;;
        --anchors) anchors=${2:?--anchors needs a folder}; shift 2 ;;
        --jobs) jobs=${2:?--jobs needs a number}; shift 2 ;;
        --xz-level) xz_level=${2:?--xz-level needs 0..9}; shift 2 ;;
        -h|--help) sed -n '2,47p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "gpu_bundle: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
die() { echo "gpu_bundle: $*" >&2; exit 1; }
case $out in /*) ;; *) out=$REPO/$out ;; esac
[ -e "$out" ] && [ $force -eq 0 ] && die "$out exists (--force replaces it)"
for tool in ldd readelf xz tar; do command -v $tool >/dev/null || die "$tool is not installed"; done
ORTERUN=$(command -v orterun || true)
[ -n "$ORTERUN" ] || die "Open MPI's orterun is not installed (scripts/setup.sh)"
ORTERUN=$(readlink -f "$ORTERUN")
ORTED=$(readlink -f "$(dirname "$ORTERUN")/orted")
[ -x "$ORTED" ] || die "Open MPI's orted is not beside $ORTERUN"

# ------------------------------------------------------------------ build
if [ -z "$from" ]; then
    echo "gpu_bundle: configuring $build (Release, CUDA on)"
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DSS_SANITIZE_TESTS=OFF -DSS_WITH_CUDA=ON >"$build.configure.log" 2>&1 ||
        { tail -n 20 "$build.configure.log" >&2; die "configure failed (log: $build.configure.log)"; }
    grep 'stylesweep: CUDA backend' "$build.configure.log" || true
    if ! grep -q 'CUDA backend ✓' "$build.configure.log" && [ $allow_cpu -eq 0 ]; then
        die "the configure found no CUDA backend (nvcc, cuDNN and kernels/backend_cuda.cu are needed); --allow-cpu packs a CPU-only build"
    fi
    echo "gpu_bundle: building $build with $jobs jobs"
    nice cmake --build "$build" -j "$jobs" >"$build.build.log" 2>&1 ||
        { tail -n 30 "$build.build.log" >&2; die "build failed (log: $build.build.log)"; }
    from=$build
fi
case $from in /*) ;; *) from=$REPO/$from ;; esac
BIN=$from/stylesweep
[ -x "$BIN" ] || die "$BIN is missing: build first, or drop --from"

# has_cuda FILE: the program has the CUDA backend: its module
# libstylesweep_cuda.so beside it, or cuDNN/the CUDA runtime linked in.
has_cuda() {
    [ -f "$(dirname "$1")/libstylesweep_cuda.so" ] && return 0
    readelf -d "$1" | grep -q -E 'NEEDED.*\[lib(cudnn|cudart|cublas)' && return 0
    grep -a -q -m1 -E 'cudnnCreate|cudaGetDeviceCount' "$1"
}
if has_cuda "$BIN"; then
    cuda=yes
else
    cuda=no
    [ $allow_cpu -eq 1 ] || die "$BIN has no CUDA backend (built without nvcc/cuDNN?); --allow-cpu packs it anyway"
    echo "gpu_bundle: NOTE: $BIN has no CUDA backend: the bundle runs on the CPU only"
fi

# ------------------------------------------------------------ the layout
STAGE=$(mktemp -d "${TMPDIR:-/tmp}/gpu_bundle.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
B=$STAGE/stylesweep-bundle
mkdir -p "$B"/{bin,lib/openmpi3,lib/pmix,lib/cuda,lib/hwloc,share,etc/openmpi,tests/gpu,sweeps,anchors,scripts}

cp "$BIN" "$B/bin/"
# the CUDA backend's module, looked for next to the binary
[ -f "$from/libstylesweep_cuda.so" ] && cp "$from/libstylesweep_cuda.so" "$B/bin/"
n_tests=0
for t in "$from"/tests/test_*; do
    [ -f "$t" ] && [ -x "$t" ] || continue
    case $t in *_san | *.sh | *.py) continue ;; esac
    cp "$t" "$B/bin/"
    n_tests=$((n_tests + 1))
done
cp "$ORTERUN" "$B/bin/orterun"
cp "$ORTED" "$B/bin/orted"
command -v ompi_info >/dev/null && cp "$(readlink -f "$(command -v ompi_info)")" "$B/bin/ompi_info"

# Open MPI's plugins, without the network stacks this single node never uses
# (their libraries are large and absent on the GPU machine) and OpenSHMEM.
OMPI_LIBDIR=$(dirname "$(ldd "$ORTERUN" | awk '$1 ~ /^libopen-pal/ {print $3}')")
OMPI_PKGLIBDIR=$OMPI_LIBDIR/openmpi/lib/openmpi3
[ -d "$OMPI_PKGLIBDIR" ] || die "Open MPI's plugins are not in $OMPI_PKGLIBDIR"
for f in "$OMPI_PKGLIBDIR"/mca_*.so; do
    case $(basename "$f") in
        *ucx* | *ofi* | *openib* | *psm* | *verbs* | mca_atomic_* | mca_memheap_* | mca_scoll_* | mca_spml_* | mca_sshmem_* | *monitoring*) ;;
        *) cp "$f" "$B/lib/openmpi3/" ;;
    esac
done
PMIX_ROOT=$OMPI_LIBDIR/pmix2
[ -d "$PMIX_ROOT/lib/pmix" ] && cp "$PMIX_ROOT"/lib/pmix/*.so "$B/lib/pmix/"
OMPI_SHARE=/usr/share/openmpi
[ -d "$OMPI_SHARE" ] || die "Open MPI's help files are not in $OMPI_SHARE"
mkdir -p "$B/share/openmpi"
cp "$OMPI_SHARE"/help-*.txt "$OMPI_SHARE"/*.ini "$B/share/openmpi/" 2>/dev/null || true
[ -d "$OMPI_SHARE/amca-param-sets" ] && cp -r "$OMPI_SHARE/amca-param-sets" "$B/share/openmpi/"
if [ -d "$PMIX_ROOT/share/pmix" ]; then
    cp -r "$PMIX_ROOT/share/pmix" "$B/share/pmix"
fi
[ -f /etc/openmpi/openmpi-default-hostfile ] && cp /etc/openmpi/openmpi-default-hostfile "$B/etc/openmpi/"
cat >"$B/etc/openmpi/openmpi-mca-params.conf" <<'EOF'
# Open MPI settings of the stylesweep bundle (one node, shared memory).
# Containers often forbid cross-memory attach (process_vm_readv): copy
# through the shared-memory segment instead.
btl_vader_single_copy_mechanism = none
# the bundle holds no InfiniBand/UCX/libfabric plugins: say nothing about them
mca_base_component_show_load_errors = 0
EOF
: >"$B/etc/pmix-mca-params.conf"

# ------------------------------------------- libraries (ldd's closure)
# glibc's own libraries come from the machine; CUDA's driver always does,
# and cuDNN/cuBLAS (hundreds of MiB) come from its CUDA or Python packages.
SYSTEM_RE='^(linux-vdso|linux-gate|ld-linux[-a-z0-9_]*|libc|libm|libdl|libpthread|librt|libresolv|libutil|libanl|libmvec|libnsl)\.so'
CUDA_RE='^lib(cuda|cudnn[a-z_]*|cublas(Lt)?|cudart|nvrtc[-a-z._]*|nvJitLink|nvidia-[a-z-]*|cufft|curand|cusparse|cusolver|nvToolsExt)\.so'
cuda_needed=
elfs() { find "$B/bin" "$B/lib" -type f \( -perm -u+x -o -name '*.so*' \) -exec sh -c 'head -c4 "$1" | grep -q ELF' _ {} \; -print; }
missing=
for _ in 1 2 3; do # the closure: libraries of the libraries added
    added=0
    while read -r f; do
        while read -r name arrow path _; do
            [ "$arrow" = "=>" ] || continue
            [[ $name =~ $SYSTEM_RE ]] && continue
            if [[ $name =~ $CUDA_RE ]]; then
                case " $cuda_needed " in *" $name "*) ;; *) cuda_needed="$cuda_needed $name" ;; esac
                if [[ $name == libcudart.so* ]] && [ "$path" != "not" ] && [ ! -e "$B/lib/cuda/$name" ]; then
                    cp -L "$path" "$B/lib/cuda/$name"
                fi
                continue
            fi
            if [ "$path" = "not" ]; then
                case " $missing " in *" $name "*) ;; *) missing="$missing $name" ;; esac
                continue
            fi
            [ -e "$B/lib/$name" ] && continue
            cp -L "$path" "$B/lib/$name"
            added=$((added + 1))
        done < <(ldd "$f" 2>/dev/null)
    done < <(elfs)
    [ $added -eq 0 ] && break
done
[ -z "$missing" ] || die "libraries not found on this machine:$missing"
chmod -R u+w,a+rX "$B"

# ------------------------------------------- the environment and mpirun
cat >"$B/env.sh" <<'EOF'
# env.sh - `. env.sh` (bash) puts the bundle first: its programs on PATH,
# its libraries on LD_LIBRARY_PATH (CUDA's come from the caller's
# LD_LIBRARY_PATH, kept after them), and Open MPI and PMIx relocated to it.
SS_BUNDLE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export SS_BUNDLE
case ":${LD_LIBRARY_PATH:-}:" in
    *":$SS_BUNDLE/lib:"*) ;;
    *) export LD_LIBRARY_PATH="$SS_BUNDLE/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ;;
esac
case ":$PATH:" in
    *":$SS_BUNDLE/bin:"*) ;;
    *) export PATH="$SS_BUNDLE/bin:$PATH" ;;
esac
export OPAL_PREFIX="$SS_BUNDLE" OPAL_EXEC_PREFIX="$SS_BUNDLE" OPAL_BINDIR="$SS_BUNDLE/bin" \
    OPAL_LIBDIR="$SS_BUNDLE/lib" OPAL_PKGLIBDIR="$SS_BUNDLE/lib/openmpi3" \
    OPAL_DATAROOTDIR="$SS_BUNDLE/share" OPAL_DATADIR="$SS_BUNDLE/share" \
    OPAL_PKGDATADIR="$SS_BUNDLE/share/openmpi" OPAL_SYSCONFDIR="$SS_BUNDLE/etc/openmpi"
export PMIX_INSTALL_PREFIX="$SS_BUNDLE" PMIX_PREFIX="$SS_BUNDLE" PMIX_EXEC_PREFIX="$SS_BUNDLE" \
    PMIX_LIBDIR="$SS_BUNDLE/lib" PMIX_PKGLIBDIR="$SS_BUNDLE/lib/pmix" \
    PMIX_DATAROOTDIR="$SS_BUNDLE/share" PMIX_DATADIR="$SS_BUNDLE/share" \
    PMIX_PKGDATADIR="$SS_BUNDLE/share/pmix" PMIX_SYSCONFDIR="$SS_BUNDLE/etc"
# hwloc's optional plugins are not packed: look for none on the machine
export HWLOC_PLUGINS_PATH="$SS_BUNDLE/lib/hwloc"
EOF
cat >"$B/bin/mpirun" <<'EOF'
#!/usr/bin/env bash
# mpirun of the stylesweep bundle: Open MPI's orterun with Open MPI, PMIx and
# the libraries relocated to the bundle (env.sh), from any folder.
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/env.sh"
exec "$SS_BUNDLE/bin/orterun" "$@"
EOF
chmod +x "$B/bin/mpirun"

# ------------------------------------------------ data, tests, anchors
cp -r samples "$B/samples"
cp sweeps/*.yaml "$B/sweeps/"
cp -r tests/data "$B/tests/data"
cp tests/*.sh tests/*.py "$B/tests/"
cp tests/gpu/*.sh "$B/tests/gpu/"
cp scripts/compare_torch_eval.py "$B/scripts/"
chmod +x "$B/tests/gpu/check.sh"
if [ -n "$anchors" ] && [ -f "$anchors/torch_vgg_eval.py" ] && [ -f "$anchors/torch_transfer.py" ]; then
    cp "$anchors"/*.py "$B/anchors/"
    anchors_note="$(cd "$anchors" && pwd) ($(cd "$anchors" && echo ./*.py | sed 's|\./||g'))"
else
    echo "gpu_bundle: NOTE: no PyTorch anchors found (--anchors DIR): the check will skip the PyTorch comparisons"
    anchors_note="none"
fi

commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || commit="$commit (with uncommitted changes)"
{
    echo "stylesweep bundle"
    echo "commit: $commit"
    echo "packed: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -m), $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
    echo "build: $from"
    echo "cuda_backend: $cuda"
    echo "cuda_libraries_needed:${cuda_needed:- none}"
    echo "cuda_libraries_packed: $(ls "$B/lib/cuda" | tr '\n' ' ')"
    echo "test_programs: $(cd "$B/bin" && ls test_* 2>/dev/null | tr '\n' ' ')"
    echo "anchors: $anchors_note"
    echo "version: $("$BIN" --version 2>/dev/null || echo unknown)"
    echo "libraries:"
    (cd "$B/lib" && find . -type f | sed 's|^\./|  |' | sort)
} >"$B/BUNDLE.txt"

# ----------------------------------------------------------------- pack
mkdir -p "$(dirname "$out")"
tmp_out="$out.tmp.$$"
raw=$(du -sb "$B" | cut -f1)
tar -C "$STAGE" -cf - stylesweep-bundle | xz -T"$jobs" -"$xz_level" >"$tmp_out" || { rm -f "$tmp_out"; die "packing failed"; }
size=$(stat -c %s "$tmp_out")
if [ "$size" -ge $((LIMIT_MIB * 1024 * 1024)) ]; then
    rm -f "$tmp_out"
    die "the bundle is $((size / 1048576)) MiB, over the ${LIMIT_MIB} MiB limit"
fi
mv -f "$tmp_out" "$out"
printf 'gpu_bundle: %s: %.1f MiB (%.1f MiB unpacked; %d libraries, %d Open MPI plugins, %d test programs; CUDA backend: %s)\n' \
    "$out" "$(awk -v b="$size" 'BEGIN { print b / 1048576 }')" "$(awk -v b="$raw" 'BEGIN { print b / 1048576 }')" \
    "$(find "$B/lib" -maxdepth 1 -name '*.so*' | wc -l)" "$(find "$B/lib/openmpi3" -name '*.so' | wc -l)" "$n_tests" "$cuda"
