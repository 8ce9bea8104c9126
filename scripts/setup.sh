#!/usr/bin/env bash
# Installs every Debian package stylesweep needs to build, test and analyse.
# Runs as root (or through sudo); does nothing when everything is installed.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config       # compiler and build
  libdnnl-dev                            # oneDNN: convolution and pooling on the CPU
  libopenblas-openmp-dev                 # OpenBLAS (OpenMP build): Gram matrices
  libhdf5-dev hdf5-tools                 # HDF5: weights, evaluation files, the archive
  libstb-dev                             # stb_image / stb_image_write / stb_image_resize
  libfyaml-dev                           # YAML manifests
  libopenmpi-dev openmpi-bin             # MPI sweeps
  liblbfgs-dev                           # reference L-BFGS for the optimizer's tests
  python3 python3-h5py python3-numpy python3-yaml python3-matplotlib  # tests and analysis
  curl                                   # scripts/fetch_weights.sh (weights download)
  clang-format cppcheck                  # style and static checks (scripts/check_format.sh)
  clang libclang-rt-14-dev               # libFuzzer harnesses (tests/fuzz)
  python3-pandas python3-pytest python3-skimage  # analysis/ and its tests
  chromium                               # the report's browser test (headless)
  slurm-wlm munge                        # the real-SLURM test
  xz-utils                               # scripts/gpu_bundle.sh
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages are installed"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: run as root to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
echo "setup: installing ${missing[*]}"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
