#!/usr/bin/env bash
# Issue 29's acceptance runs: the phase-coded memory (H learned with a one- and a
# two-harmonic window, and the converse, Ω learned) and several principal components,
# 3 seeds each; writes OUT/table.md from every run's results.json.
#   scripts/discover/acceptance-phase.sh [OUT]
set -euo pipefail
out=${1:-runs/discover-phase-acceptance}
bin=${PLASTICITY:-target/release/plasticity}
[ -x "$bin" ] || cargo build --release -p plasticity-cli
mkdir -p "$out"
for experiment in memory_phase memory_phase_two_harmonics memory_phase_storage_1 \
  memory_phase_storage_2 pca_components; do
  for seed in 1 2 3; do
    name="$experiment-seed$seed"
    "$bin" --quiet discover "experiments/$experiment.toml" --seed "$seed" \
      --out "$out/$name" > "$out/$name.log" 2>&1
    echo "$name: $(python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['wall_time_s'], 1))" "$out/$name/results.json") s"
  done
done
python3 scripts/discover/table-phase.py "$out" > "$out/table.md"
cat "$out/table.md"
