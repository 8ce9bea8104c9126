#!/usr/bin/env bash
# Times one evaluation (VGG forward to the deepest used layer, losses,
# gradient to the image) with stylesweep and with PyTorch in the same
# command, and prints the CPU (model, the vector instruction-set flags,
# ONEDNN_MAX_CPU_ISA / ATEN_CPU_CAPABILITY when set), both times and their
# ratio (stylesweep / PyTorch).
#   scripts/bench_vs_torch.sh [--model vgg19] [--size 224] [--threads 2] [--repeat 5] [--avx2]
# --avx2 emulates an AVX2-only CPU on an AVX-512 one for both programs
# (ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 OPENBLAS_CORETYPE=Haswell).
# --cpu-time also compares CPU time per evaluation, less disturbed than wall
# time on a shared machine: each program is run again with 10 more
# evaluations (OMP_WAIT_POLICY=PASSIVE, so that waiting threads do not spin),
# and the CPU seconds of both runs' difference are divided by 10.
# Needs build/stylesweep and Debian's python3-torch; the PyTorch script is
# ../shared/anchors/torch_vgg_eval.py unless TORCH_ANCHOR names another.
set -euo pipefail
cd "$(dirname "$0")/.."
model=vgg19 size=224 threads=2 repeat=5 cputime=0
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --cpu-time) cputime=1; shift ;;
    --avx2) export ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 OPENBLAS_CORETYPE=Haswell; shift ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench_vs_torch: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
anchor=${TORCH_ANCHOR:-../shared/anchors/torch_vgg_eval.py}
[ -x build/stylesweep ] || { echo "bench_vs_torch: build/stylesweep is missing: build first (README)" >&2; exit 1; }
[ -f "$anchor" ] || { echo "bench_vs_torch: $anchor is missing (set TORCH_ANCHOR)" >&2; exit 1; }
/usr/bin/python3 -c 'import torch' 2>/dev/null || { echo "bench_vs_torch: python3-torch is not installed (apt-get install python3-torch)" >&2; exit 1; }

# the CPU the numbers belong to
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
flags=$(sed -n 's/^flags[[:space:]]*: //p' /proc/cpuinfo | head -1 | tr ' ' '\n' |
  grep -E '^(sse4_2|avx|avx2|fma|avx512[a-z_0-9]*|amx[a-z_0-9]*)$' | tr '\n' ' ')
echo "cpu=${cpu:-unknown} ($(nproc) CPUs here) flags: ${flags:-none of the vector ones}"
echo "emulation: ONEDNN_MAX_CPU_ISA=${ONEDNN_MAX_CPU_ISA:-unset} ATEN_CPU_CAPABILITY=${ATEN_CPU_CAPABILITY:-unset} OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
ours=$(build/stylesweep bench --model "$model" --size "$size" --threads "$threads" --repeat "$repeat")
theirs=$(/usr/bin/python3 "$anchor" --arch "$model" --size "$size" --threads "$threads" --repeat "$repeat")
echo "$ours"
echo "$theirs"
a=$(sed -n 's/.*ms_per_eval=\([0-9.]*\).*/\1/p' <<<"$ours")
b=$(sed -n 's/.*ms_per_eval=\([0-9.]*\).*/\1/p' <<<"$theirs")
awk -v a="$a" -v b="$b" 'BEGIN { printf "ratio=%.3f (stylesweep %.1f ms / PyTorch %.1f ms per evaluation)\n", a / b, a, b }'
[ "$cputime" = 1 ] || exit 0
# CPU seconds (user + system) of a command, its output discarded
cpu_s() { /usr/bin/time -f '%U %S' "$@" 2>&1 >/dev/null | tail -1 | awk '{ print $1 + $2 }'; }
export OMP_WAIT_POLICY=PASSIVE
more=$((repeat + 10))
a0=$(cpu_s build/stylesweep bench --model "$model" --size "$size" --threads "$threads" --repeat "$repeat")
a1=$(cpu_s build/stylesweep bench --model "$model" --size "$size" --threads "$threads" --repeat "$more")
b0=$(cpu_s /usr/bin/python3 "$anchor" --arch "$model" --size "$size" --threads "$threads" --repeat "$repeat")
b1=$(cpu_s /usr/bin/python3 "$anchor" --arch "$model" --size "$size" --threads "$threads" --repeat "$more")
awk -v a0="$a0" -v a1="$a1" -v b0="$b0" -v b1="$b1" 'BEGIN { a = (a1 - a0) * 100; b = (b1 - b0) * 100;
  printf "cpu_ratio=%.3f (stylesweep %.1f CPU ms / PyTorch %.1f CPU ms per evaluation)\n", a / b, a, b }'
