#!/usr/bin/env bash
# Issue 12's acceptance runs: PCA with Adam (3 seeds) and CMA-ES, dense memory (3
# seeds), sparse memory at mixed loads (3 seeds); writes OUT/table.md from every run's
# results.json.
#   scripts/discover/acceptance.sh [OUT]
set -euo pipefail
out=${1:-runs/discover-acceptance}
bin=${PLASTICITY:-target/release/plasticity}
[ -x "$bin" ] || cargo build --release -p plasticity-cli
mkdir -p "$out"
run() { # name file extra...
  local name=$1 file=$2; shift 2
  local start end
  start=$(date +%s.%N)
  "$bin" --quiet discover "$file" --out "$out/$name" "$@" > "$out/$name.log" 2>&1
  end=$(date +%s.%N)
  echo "$end - $start" | bc > "$out/$name.seconds"
  echo "$name: $(cat "$out/$name.seconds") s"
}
for seed in 1 2 3; do
  run "pca-adam-seed$seed" experiments/pca.toml --seed "$seed"
done
run pca-cmaes-seed1 experiments/pca.toml --seed 1 --optimizer cmaes
for seed in 1 2 3; do
  run "memory-dense-seed$seed" experiments/memory.toml --seed "$seed"
done
for seed in 1 2 3; do
  run "memory-sparse-seed$seed" experiments/memory_sparse.toml --seed "$seed"
done
run memory-dense-cmaes-seed1 experiments/memory.toml --seed 1 --optimizer cmaes
python3 scripts/discover/table.py "$out" > "$out/table.md"
cat "$out/table.md"
