#!/usr/bin/env bash
# Issue 28's acceptance runs for STDP from spike trains (docs/spiking.md): pair terms
# free from 60 s (seeds 1-6: the prototype reported 6) and 300 s (seeds 1-3); the ten-term family from 300 s (seeds 1-3) and
# 60 s (seed 1); pair terms with half of the outputs latent from 60 s (seeds 1-3).
# Writes OUT/{pair,ten,latent}-{60,300}-s{seed}/results.json and prints the
# table (scripts/spiking/table.py).
#   scripts/spiking/acceptance.sh [OUT]     (default /tmp/spiking-acceptance)
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-/tmp/spiking-acceptance}"
bin="${PLASTICITY:-$here/target/release/plasticity}"
mkdir -p "$out"
run() { # family seconds seed
  local family=$1 seconds=$2 seed=$3 name="$1-$2-s$3"
  "$bin" simulate circuit "$here/experiments/spiking/stdp_$family.toml" \
    --steps $((seconds * 1000)) --trajectories 1 --seed "$seed" --out "$out/$name.npz" 2>/dev/null
  "$bin" fit "$out/$name.npz" --out "$out/$name" --epochs 100 --seed "$seed" >/dev/null 2>&1
  echo "$name done"
}
for seed in 1 2 3 4 5 6; do run pair 60 "$seed"; done
for seed in 1 2 3; do run pair 300 "$seed"; done
run ten 60 1
for seed in 1 2 3; do run ten 300 "$seed"; done
for seed in 1 2 3; do run latent 60 "$seed"; done
python3 "$here/scripts/spiking/table.py" "$out"
