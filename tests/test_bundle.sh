#!/usr/bin/env bash
# test_bundle.sh - the device check's bundle (scripts/gpu_bundle.sh) runs
# with its own libraries alone: packed from the build that holds
# PATH_TO_STYLESWEEP_BINARY (--from, no new build; --allow-cpu where that
# build has no CUDA backend), unpacked in an empty folder, and run there with
# `env -i`, a minimal PATH and LD_LIBRARY_PATH = the bundle's lib folder
# (plus the folders of the CUDA libraries the binary links, found on this
# machine, when the build has the CUDA backend).
#
#   bash tests/test_bundle.sh PATH_TO_STYLESWEEP_BINARY
#
# Checks:
#  - gpu_bundle.sh refuses a build without the CUDA backend unless
#    --allow-cpu is given (one line naming the binary, exit 1, no file);
#  - the compressed file is under 60 MiB (packed with xz -0 to save time:
#    the default level makes it smaller still) and refuses to overwrite
#    itself without --force;
#  - ldd of every program and library of the bundle, in that environment:
#    nothing "not found", and every library from the bundle, glibc's
#    (libc, libm, libdl, libpthread, librt, libresolv, ld-linux) or, for
#    cuDNN/cuBLAS/CUDA runtime names only, the CUDA folders;
#  - `stylesweep --version`, a CPU `eval` of a tiny image, a 3-run sweep on
#    2 ranks with the bundle's own mpirun started from an unrelated folder,
#    and `stylesweep run` alone (MPI singleton), all succeed; under
#    LD_DEBUG=files no process loads a library from outside the bundle
#    except glibc's and those of the machine's bash (the mpirun wrapper is
#    a bash script), so Open MPI's plugins come from the bundle too;
#  - tests/gpu/check.sh from the bundle runs there (no GPU here: every GPU
#    step is skipped), writes check.log and results.md and prints the table.
# About a minute on 2 cores, most of it xz. KEEP=1 keeps the folder.
set -u
# shellcheck source=tests/testlib.sh
. "$(dirname "$0")/testlib.sh"
make_tmpdir
BUILD=$(dirname "$BIN")

SYSTEM_RE='^(linux-vdso|ld-linux[-a-z0-9_]*|libc|libm|libdl|libpthread|librt|libresolv)\.so'
CUDA_RE='^lib(cuda|cudnn[a-z_]*|cublas(Lt)?|cudart|nvrtc[-a-z._]*|nvJitLink)\.so'

# ------------------------------------------------------------ packing
cuda=yes
"$REPO/scripts/gpu_bundle.sh" --from "$BUILD" -o "$T/refused.tar.xz" --jobs 2 --xz-level 0 >"$T/refused.out" 2>&1
rc=$?
check "gpu_bundle without --allow-cpu: exit 0 with CUDA, or exit 1 with one line naming the binary" \
    test $rc -eq 0 -o \( $rc -eq 1 -a "$(wc -l <"$T/refused.out")" -eq 1 \)
if [ $rc -eq 1 ]; then
    cuda=no
    check "the refusal names the binary and --allow-cpu" grep -q "$BIN has no CUDA backend.*--allow-cpu" "$T/refused.out"
    check "the refusal leaves no file" test ! -e "$T/refused.tar.xz"
fi
[ $rc -eq 0 ] || [ $rc -eq 1 ] || sed 's/^/    /' "$T/refused.out"
rm -f "$T/refused.tar.xz"

OUT=$T/out/stylesweep-bundle.tar.xz
t0=$SECONDS
"$REPO/scripts/gpu_bundle.sh" --from "$BUILD" --allow-cpu -o "$OUT" --jobs 2 --xz-level 0 >"$T/pack.out" 2>&1
rc=$?
sed 's/^/    /' "$T/pack.out"
echo "    packed in $((SECONDS - t0)) s"
check "gpu_bundle.sh --from the build packs (exit 0)" test $rc -eq 0
[ $rc -eq 0 ] || exit 1
size=$(stat -c %s "$OUT")
check "the bundle is under 60 MiB (it is $((size / 1048576)) MiB at xz -0)" test "$size" -lt $((60 * 1048576))
"$REPO/scripts/gpu_bundle.sh" --from "$BUILD" --allow-cpu -o "$OUT" >"$T/again.out" 2>&1
rc=$?
check "an existing bundle is kept without --force (exit 1, size unchanged)" \
    test $rc -eq 1 -a "$(stat -c %s "$OUT")" -eq "$size"

# ------------------------------------------------------------ unpacking
U0=$T/empty
mkdir -p "$U0"
check "the bundle unpacks in an empty folder" tar -C "$U0" -xf "$OUT"
U=$U0/stylesweep-bundle
[ -x "$U/bin/stylesweep" ] || { echo "FAIL: $U/bin/stylesweep is missing"; exit 1; }
check "BUNDLE.txt says whether the CUDA backend is in (cuda_backend: $cuda)" grep -qx "cuda_backend: $cuda" "$U/BUNDLE.txt"
for f in bin/mpirun bin/orterun bin/orted env.sh tests/gpu/check.sh tests/data/ref_cases.h5 sweeps/dlai2018.yaml \
    samples/content/chelsea.jpg tests/resume_check.py tests/make_reference.py scripts/compare_torch_eval.py; do
    check "the bundle holds $f" test -e "$U/$f"
done

# The library path: the bundle, and the CUDA folders of this machine for
# the CUDA libraries the binary itself links (cuDNN/cuBLAS are not packed).
LIBPATH=$U/lib
CUDA_DIRS=
while read -r name _ path _; do
    [[ $name =~ $CUDA_RE ]] || continue
    [ -e "$path" ] || continue
    d=$(dirname "$path")
    case ":$CUDA_DIRS:" in *":$d:"*) ;; *) CUDA_DIRS=${CUDA_DIRS:+$CUDA_DIRS:}$d ;; esac
done < <(ldd "$BIN"; [ -f "$BUILD/libstylesweep_cuda.so" ] && ldd "$BUILD/libstylesweep_cuda.so")
[ -n "$CUDA_DIRS" ] && LIBPATH=$LIBPATH:$CUDA_DIRS:$U/lib/cuda
echo "    LD_LIBRARY_PATH=$LIBPATH"
# in_env CMD...: CMD with nothing of this machine's environment but a
# minimal PATH, HOME, the library path and Open MPI's permission to run as root.
in_env() {
    env -i PATH=/usr/bin:/bin HOME="$T" TMPDIR="$T" LD_LIBRARY_PATH="$LIBPATH" \
        OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "$@"
}

# ------------------------------------------------------------- ldd
BASH_LIBS=$(ldd "$(command -v bash)" | awk '/=>/ {print $1}' | paste -sd'|')
bad=
n_elf=0
while read -r f; do
    head -c4 "$f" | grep -q ELF || continue
    n_elf=$((n_elf + 1))
    while read -r name arrow path _; do
        [ "$arrow" = "=>" ] || continue
        if [ "$path" = "not" ]; then
            [[ $name =~ $CUDA_RE ]] && continue # the GPU machine's
            bad="$bad ${f#"$U"/}:$name(not found)"
            continue
        fi
        case $path in "$U"/*) continue ;; esac
        [[ $name =~ $SYSTEM_RE ]] && continue
        if [[ $name =~ $CUDA_RE ]] && [ -n "$CUDA_DIRS" ]; then
            case ":$CUDA_DIRS:" in *":$(dirname "$path"):"*) continue ;; esac
        fi
        bad="$bad ${f#"$U"/}:$name=>$path"
    done < <(in_env ldd "$f" 2>/dev/null)
done < <(find "$U/bin" "$U/lib" -type f)
check "ldd of the bundle's $n_elf programs and libraries: every library from the bundle or the system's glibc${bad:+ (not:$bad)}" \
    test -z "$bad" -a "$n_elf" -gt 100

# ------------------------------------------------------------- running
# loaded_outside DIR: the libraries that processes logged under DIR
# (LD_DEBUG=files) loaded from outside the bundle, but glibc's and bash's.
loaded_outside() {
    cat "$1"/ld.* 2>/dev/null | awk '/calling init:/ {print $NF}' | sort -u | while read -r p; do
        case $p in "$U"/*) continue ;; esac
        n=$(basename "$p")
        [[ $n =~ $SYSTEM_RE ]] && continue
        [[ $n =~ ^($BASH_LIBS)$ ]] && continue
        if [[ $n =~ $CUDA_RE ]] && [ -n "$CUDA_DIRS" ]; then continue; fi
        echo "$p"
    done | paste -sd' '
}
in_env "$U/bin/stylesweep" --version >"$T/version.out" 2>&1
check "stylesweep --version runs with the bundle's libraries alone" grep -q '^stylesweep [0-9]' "$T/version.out"

mkdir -p "$T/eval" "$T/ld_eval"
(cd "$T/eval" && in_env LD_DEBUG=files LD_DEBUG_OUTPUT="$T/ld_eval/ld" "$U/bin/stylesweep" eval \
    "$U/samples/content/chelsea.jpg" "$U/samples/style/starry_night.jpg" -o e.h5 --backend cpu --threads 1 \
    --image-size 32 --channels-div 8 --weights random --content-layer conv3_2 --style-layers conv1_1,conv2_1 \
    >"$T/eval.out" 2>&1)
rc=$?
check "a CPU eval of a 32 px image runs (exit 0, loss printed, file written)" \
    test $rc -eq 0 -a -s "$T/eval/e.h5" -a -n "$(grep '^loss=' "$T/eval.out")"
out=$(loaded_outside "$T/ld_eval")
check "the eval loads no library from outside the bundle${out:+ (it did: $out)}" test -z "$out"

{
    tiny_sweep_head bundle-test "$U"
    cat <<EOF
  image_size: 32
  iterations: 2
  evals_per_iteration: 4
  content_layer: conv3_2
  style_layers: [conv1_1, conv2_1, conv3_1]
  init: noise
grid:
  seed: [0, 1, 2]
EOF
} >"$T/sweep.yaml"
mkdir -p "$T/elsewhere" "$T/ld_sweep"
(cd "$T/elsewhere" && in_env LD_DEBUG=files LD_DEBUG_OUTPUT="$T/ld_sweep/ld" timeout -k 5 120 \
    "$U/bin/mpirun" --oversubscribe -np 2 "$U/bin/stylesweep" run "$T/sweep.yaml" -o "$T/sweep.h5" \
    --backend cpu --threads 1 >"$T/sweep.out" 2>&1)
rc=$?
[ $rc -eq 0 ] || sed 's/^/    /' "$T/sweep.out"
check "a 2-rank sweep with the bundle's mpirun from another folder: exit 0, 3 runs done" \
    test $rc -eq 0 -a -n "$(grep 'sweep ended.*: 3 done' "$T/sweep.out")"
n_logs=$(find "$T/ld_sweep" -name 'ld.*' | wc -l)
out=$(loaded_outside "$T/ld_sweep")
check "the sweep's $n_logs processes load no library from outside the bundle${out:+ (they did: $out)}" \
    test -z "$out" -a "$n_logs" -ge 3
plugins=$(cat "$T"/ld_sweep/ld.* | awk '/calling init:/ {print $NF}' | grep -c "^$U/lib/openmpi3/")
check "Open MPI's plugins come from the bundle ($plugins loaded from lib/openmpi3)" test "$plugins" -gt 5

mkdir -p "$T/ld_single"
(cd "$T/elsewhere" && in_env bash -c ". '$U/env.sh' && LD_DEBUG=files LD_DEBUG_OUTPUT='$T/ld_single/ld' timeout -k 5 120 \
    stylesweep run '$T/sweep.yaml' -o '$T/single.h5' --backend cpu --threads 1 -q" >"$T/single.out" 2>&1)
rc=$?
[ $rc -eq 0 ] || sed 's/^/    /' "$T/single.out"
check "stylesweep run alone (MPI singleton) after . env.sh: exit 0, archive written" test $rc -eq 0 -a -s "$T/single.h5"
out=$(loaded_outside "$T/ld_single")
check "the singleton loads no library from outside the bundle${out:+ (it did: $out)}" test -z "$out"

# ------------------------------------------------------ the check script
in_env timeout -k 5 120 "$U/tests/gpu/check.sh" "$T/check" >"$T/check.out" 2>&1
rc=$?
if [ "$cuda" = no ] || ! command -v nvidia-smi >/dev/null; then
    check "tests/gpu/check.sh without a GPU: exit 0, every GPU step skipped" \
        test $rc -eq 0 -a "$(grep -c '| SKIP |' "$T/check/results.md" 2>/dev/null || echo 0)" -ge 12
fi
check "check.sh writes check.log and results.md and prints the table last" \
    test -s "$T/check/check.log" -a -s "$T/check/results.md" -a "$(tail -n 1 "$T/check.out")" = "$(tail -n 1 "$T/check/results.md")"
check "check.sh's environment step passes from the bundle" grep -q '^| 1 | environment | PASS |' "$T/check/results.md"
verbose_file "$T/check.out"

check_summary
