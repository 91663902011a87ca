#!/usr/bin/env bash
# Model selection over a large pool on the Slurm executor (issue 13): start the
# single-node cluster, simulate the forgetting rule, score every term set of the pool up
# to --max-terms as a job array of shards (`select --shard I/N`), gather them, and
# compare with the same search run unsharded on local cores (the two selection.csv must
# be identical). Prints the wall time of each.
#   scripts/select/slurm.sh [SHARDS] [MAX_TERMS] [PLASTICITY_BINARY]
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/slurm/lib.sh
SHARDS="${1:-8}"
MAX_TERMS="${2:-4}"
plasticity_binary "${3:-}"
POOL="1,x,r,w,x*y,x*r,y*r,x*w,r*w"
STATE="$(mktemp -d /tmp/plasticity-slurm-select.XXXXXX)"
WORK="$(mktemp -d /tmp/plasticity-select.XXXXXX)"
trap stop_cluster_and_clean EXIT

"$BIN" --quiet simulate behaviour --rule "x*r - 0.05*w" --sessions 18 --seed 0 --out "$WORK/data.npz"
t0=$(now)
exports="$(scripts/slurm/start-cluster.sh "$STATE")"
eval "$exports"
echo "select-slurm: cluster up in $(took "$t0")" >&2

flags=(--pool "$POOL" --max-terms "$MAX_TERMS")
t1=$(now)
job="$(sbatch --parsable --array=0-$((SHARDS - 1)) --cpus-per-task=1 --output="$WORK/shard_%a.log" \
  --wrap "$BIN --quiet select $WORK/data.npz --out $WORK/slurm ${flags[*]@Q} --shard \$SLURM_ARRAY_TASK_ID/$SHARDS")"
scripts/slurm/wait-jobs.sh "$job" 3600
"$BIN" --quiet select "$WORK/data.npz" --out "$WORK/slurm" "${flags[@]}" --gather
echo "select-slurm: $SHARDS shards on Slurm (submit, array, gather) in $(took "$t1")" >&2

t2=$(now)
"$BIN" --quiet select "$WORK/data.npz" --out "$WORK/local" "${flags[@]}"
echo "select-slurm: unsharded on local cores in $(took "$t2")" >&2
candidates=$(($(wc -l < "$WORK/local/selection.csv") - 1))
if ! cmp "$WORK/slurm/selection.csv" "$WORK/local/selection.csv"; then
  echo "select-slurm: FAILED: sharded and local selection.csv differ" >&2
  exit 1
fi
echo "select-slurm: OK: identical selection.csv ($candidates term sets)" >&2
head -4 "$WORK/local/selection.csv" >&2
