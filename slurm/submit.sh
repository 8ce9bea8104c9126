#!/bin/bash
# submit.sh - submits one sweep as a SLURM batch job (slurm/stylesweep.sbatch)
# with the resource options that fit: GPU nodes (one worker per GPU) or
# CPU-only nodes, one node or several. Prints the sbatch command, then runs it.
#
#   slurm/submit.sh MANIFEST ARCHIVE.h5 [OPTIONS] [-- SBATCH_OPTIONS...]
#
# slurm/README.md has examples.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: slurm/submit.sh MANIFEST ARCHIVE.h5 [OPTIONS] [-- SBATCH_OPTIONS...]

Submits slurm/stylesweep.sbatch for one sweep: it requeues itself while the
sweep makes progress; its log is slurm/logs/stylesweep-JOBID.out.

options:
  --gpus N      GPUs per node, one worker each [default: 1]
  --cpu         CPU-only nodes: no GPU; --workers per node, --cores each
  --workers N   with --cpu: workers per node [default: 1]
  --cores N     cores per worker [default: 4 with --cpu, else 2]
  --nodes N     nodes [default: 1]
  --time T      time limit of each start (sbatch --time: MINUTES, H:MM:SS,
                D-HH) [default: 04:00:00]; every start checkpoints 3 minutes
                before it (#SBATCH --signal in stylesweep.sbatch)
  --dry-run     print the sbatch command only
  -h, --help    this help
Options after -- go to sbatch as they are (--partition, --account, ...).
STYLESWEEP (the binary) defaults to this repository's build/stylesweep.
EOF
}

die() {
    echo "submit.sh: $*" >&2
    exit 2
}
posint() { [[ $2 =~ ^[1-9][0-9]*$ ]] || die "$1: '$2' is not a whole number >= 1"; }

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
gpus=1 cpu=0 workers=1 cores='' nodes=1 time=04:00:00 dry=0
args=() extra=()
while [ $# -gt 0 ]; do
    case $1 in
    -h | --help)
        usage
        exit 0
        ;;
    --gpus | --workers | --cores | --nodes | --time)
        [ $# -ge 2 ] || die "$1 needs a value"
        case $1 in
        --gpus) posint "$1" "$2" && gpus=$2 ;;
        --workers) posint "$1" "$2" && workers=$2 ;;
        --cores) posint "$1" "$2" && cores=$2 ;;
        --nodes) posint "$1" "$2" && nodes=$2 ;;
        --time) time=$2 ;;
        esac
        shift 2
        continue
        ;;
    --cpu) cpu=1 ;;
    --dry-run) dry=1 ;;
    --)
        shift
        extra=("$@")
        break
        ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) args+=("$1") ;;
    esac
    shift
done
[ ${#args[@]} -eq 2 ] || {
    usage >&2
    exit 2
}
manifest=${args[0]} archive=${args[1]}
[ -f "$manifest" ] || die "$manifest: no such manifest"
bin=${STYLESWEEP:-$REPO/build/stylesweep}
[ -x "$bin" ] || die "$bin is not an executable: build stylesweep or set STYLESWEEP"

cmd=(sbatch --nodes="$nodes")
if [ "$cpu" = 1 ]; then
    cmd+=(--ntasks-per-node="$workers" --cpus-per-task="${cores:-4}")
else
    cmd+=(--ntasks-per-node="$gpus" --gpus-per-node="$gpus" --cpus-per-task="${cores:-2}")
fi
# shellcheck disable=SC2054 # the commas belong to --export's value
cmd+=(--time="$time" --export=ALL,STYLESWEEP="$bin" --output="$REPO/slurm/logs/%x-%j.out")
cmd+=("${extra[@]}" "$REPO/slurm/stylesweep.sbatch" "$manifest" "$archive")
mkdir -p "$REPO/slurm/logs"
for a in "${cmd[@]}"; do # the command, quoted only where the shell needs it
    if [[ $a =~ ^[A-Za-z0-9_./:=,%@+-]+$ ]]; then printf '%s ' "$a"; else printf '%q ' "$a"; fi
done
echo
[ "$dry" = 1 ] || exec "${cmd[@]}"
