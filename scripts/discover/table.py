#!/usr/bin/env python3
"""Markdown tables of `plasticity discover` runs: one row per run directory under OUT
(the directories written by scripts/discover/acceptance.sh)."""
import json
import pathlib
import sys

out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "runs/discover-acceptance")
runs = sorted(p for p in out.iterdir() if (p / "results.json").exists())


def seconds(run):
    f = out / f"{run.name}.seconds"
    return float(f.read_text()) if f.exists() else float("nan")


def runs_of(kind):
    """The run directories of `kind` with their results.json, in order."""
    for run in runs:
        r = json.loads((run / "results.json").read_text())
        if r["kind"] == kind:
            yield run, r


print("## PCA\n")
print("| run | θ_xy | θ_y²w | ratio | two largest | cos² T | cos² 5T | median ‖w‖ | diverged "
      "| Oja cos² T / 5T (rate) | Δcos² two terms | meta-steps | time (s) |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for run, r in runs_of("pca"):
    m, c = r["metrics"], r["coefficients"]
    print(f"| {run.name} | {c['x*y']:.4f} | {c['y^2*w']:.4f} | {m['ratio_y2w_to_xy']:.3f} "
          f"| {', '.join(m['largest_terms'])} | {m['cos2_T']:.4f} | {m['cos2_5T']:.4f} "
          f"| {m['weight_norm_median']:.4f} | {m['diverged_fraction']:.3f} "
          f"| {m['baseline_cos2_T']:.4f} / {m['baseline_cos2_5T']:.4f} ({m['baseline_rate']:.3f}) "
          f"| {m['two_term_cos2_change']:.4f} | {len(r['loss_history'])} | {seconds(run):.1f} |")

print("\n## Memory\n")
print("| run | patterns | overlap by load | baseline by load | baseline | θ_xy | θ_x | θ_y "
      "| x*y mass | time (s) |")
print("|---|---|---|---|---|---|---|---|---|---|")
for run, r in runs_of("memory"):
    m = r["metrics"]
    fmt = lambda d: " / ".join(f"{k}: {v:.4f}" for k, v in d.items())
    print(f"| {run.name} | {r['config']['task']['patterns']} | {fmt(m['overlap_by_load'])} "
          f"| {fmt(m['baseline_overlap_by_load'])} | {m['baseline_rule']} "
          f"| {m['identifiable_x*y']:.3f} | {m['identifiable_x']:.3f} | {m['identifiable_y']:.3f} "
          f"| {m['xy_mass_fraction']:.3f} | {seconds(run):.1f} |")
