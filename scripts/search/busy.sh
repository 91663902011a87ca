#!/usr/bin/env bash
# docs/search.md, "Measured: busy workers": searches/busy_workers.toml (trials whose
# durations differ ≥ 3×) with 4 local workers, in-process then subprocess trials; prints
# each run's busy fractions (summed trial time / (workers × wall time), over the whole
# command and over the trials' span) as JSON.
#   scripts/search/busy.sh [OUT]     (default searches/runs/busy; needs the package
#   installed with its search extra, and plasticity on PATH or PLASTICITY_CLI for the
#   subprocess runner)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-searches/runs/busy}
python=${PYTHON:-python3}
for runner in inprocess subprocess; do
  rm -rf "$out/$runner"
  start=$(date +%s.%N)
  "$python" -m plasticity.search searches/busy_workers.toml --out "$out/$runner" --workers 4 --quiet --trial-runner "$runner"
  end=$(date +%s.%N)
  wall=$(echo "$end - $start" | bc)
  echo "== $runner (wall $wall s)"
  "$python" -m plasticity.search.busy "$out/$runner" --workers 4 --wall-s "$wall"
done
