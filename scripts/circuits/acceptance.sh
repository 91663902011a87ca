#!/usr/bin/env bash
# Issue 11's acceptance on the recurrent set-up (experiments/circuits/recurrent.toml):
# recorded fractions 1, 0.5, 0.25, 0.1 at noise σ = 0 and 0.05, one dataset and one fit
# each; writes OUT/table.csv (one row per fit) and OUT/table.md.
#   scripts/circuits/acceptance.sh [OUT] [CIRCUIT] [SEED]
set -euo pipefail
out=${1:-runs/circuits-acceptance}
circuit=${2:-experiments/circuits/recurrent.toml}
seed=${3:-1}
bin=${PLASTICITY:-target/release/plasticity}
[ -x "$bin" ] || cargo build --release -p plasticity-cli
mkdir -p "$out"
for noise in 0 0.05; do
  for fraction in 1 0.5 0.25 0.1; do
    cell="$out/noise${noise}_fraction${fraction}"
    mkdir -p "$cell"
    "$bin" simulate circuit "$circuit" --out "$cell/data.npz" --seed "$seed" \
      --noise-std "$noise" --recording-fraction "$fraction"
    start=$(date +%s.%N)
    "$bin" fit "$cell/data.npz" --out "$cell/fit" --seed "$seed" > "$cell/fit.log" 2>&1
    end=$(date +%s.%N)
    echo "$end - $start" | bc > "$cell/seconds"
    echo "noise $noise fraction $fraction: $(cat "$cell/seconds") s"
  done
done
python3 scripts/circuits/table.py "$out"
