#!/usr/bin/env bash
# Calibration of the Laplace intervals of `plasticity identify` (docs/identifiability.md):
# simulate SEEDS independent noisy Oja 20→100 datasets (issue 3's set-up), fit all 27
# terms to each, run identify, and count per term how often the 95 % interval covers
# the generating coefficient (x*y = 1, y^2*w = −1, the others 0).
#
#   scripts/identify/calibration.sh [OUT_DIR]     (default target/identify-calibration)
#
# Environment: PLASTICITY (the binary; default: built with cargo), SEEDS (20), EPOCHS
# (2000), NOISE (0.05). Needs python3 (standard library only) for the table.
set -euo pipefail
out=${1:-target/identify-calibration}
seeds=${SEEDS:-20}
epochs=${EPOCHS:-2000}
noise=${NOISE:-0.05}
if [[ -z "${PLASTICITY:-}" ]]; then
    cargo build --release -q -p plasticity-cli
    PLASTICITY="${CARGO_TARGET_DIR:-target}/release/plasticity"
fi
mkdir -p "$out"
start=$(date +%s)
for ((seed = 0; seed < seeds; seed++)); do
    dir="$out/seed_$seed"
    mkdir -p "$dir"
    "$PLASTICITY" --quiet simulate oja --n-pre 20 --n-post 100 --trajectories 10 \
        --noise-std "$noise" --seed "$seed" --out "$dir/d.npz"
    "$PLASTICITY" --quiet fit "$dir/d.npz" --out "$dir/fit" --epochs "$epochs" \
        >"$dir/fit.log"
    "$PLASTICITY" --quiet identify "$dir/fit" >"$dir/identify.log"
    echo "seed $seed: $(head -1 "$dir/identify.log")"
done
echo "wall time: $(($(date +%s) - start)) s for $seeds fits of $epochs epochs"
python3 - "$out" "$seeds" <<'PY'
import json, sys
out, seeds = sys.argv[1], int(sys.argv[2])
truth = {"x*y": 1.0, "y^2*w": -1.0}
reports = [json.load(open(f"{out}/seed_{s}/fit/identifiability.json")) for s in range(seeds)]
terms = reports[0]["terms"]
rows, conditions = [], []
for r in reports:
    conditions.append(r["condition_number"])
covered = {t: 0 for t in terms}
widths = {t: [] for t in terms}
for r in reports:
    for t in terms:
        low, high = r["intervals"][t]
        if low is None:
            continue
        widths[t].append(high - low)
        if low <= truth.get(t, 0.0) <= high:
            covered[t] += 1
lines = ["| term | truth | covered | median width |", "|---|---:|---:|---:|"]
for t in terms:
    w = sorted(widths[t])
    median = w[len(w) // 2] if w else float("nan")
    lines.append(f"| `{t}` | {truth.get(t, 0.0):g} | {covered[t]}/{seeds} | {median:.3g} |")
good = sum(1 for t in terms if covered[t] >= 0.9 * seeds)
total = sum(covered.values())
lines.append("")
lines.append(f"terms covered in at least 90 % of the datasets: {good}/{len(terms)}; "
             f"all intervals: {total}/{seeds * len(terms)} = {100 * total / (seeds * len(terms)):.1f} %")
c = sorted(x for x in conditions if x is not None)
if c:
    lines.append(f"condition numbers: median {c[len(c) // 2]:.3g}, range {c[0]:.3g} to {c[-1]:.3g}")
table = "\n".join(lines)
print(table)
open(f"{out}/calibration.md", "w").write(table + "\n")
PY
