#!/usr/bin/env python3
"""Tables of issue 29's acceptance runs (scripts/discover/acceptance-phase.sh) from
each run's results.json: per phase-memory run the correlation of the learned function
with its matched target (raw and noise-smoothed), the largest per-harmonic phase
difference, the power outside the window's harmonics, recall against the matched pair
per load, and the controls against the cue; per components run the captured variance
of the learned rule and both baselines and the largest terms."""
import json
import pathlib
import sys

out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "runs/discover-phase-acceptance")
runs = sorted(p.parent for p in out.glob("*/results.json"))


def fmt(x, digits=3):
    return f"{x:.{digits}f}"


print("| run | learned | corr. with matched | corr. smoothed | largest phase diff. (°) "
      "| power outside window | learned − matched per load (M) | worst control − cue | time (s) |")
print("|---|---|---|---|---|---|---|---|---|")
for run in runs:
    r = json.loads((run / "results.json").read_text())
    if r["kind"] != "memory_phase":
        continue
    m = r["metrics"]
    q, matched = m["quality_by_load"], m["matched_quality_by_load"]
    cue = m["cue_quality_by_load"]
    diffs = " ".join(f"{k}: {q[k] - matched[k]:+.3f}" for k in q)
    controls = max(
        max(m["mismatched_quality_by_load"][k], m["anti_matched_quality_by_load"][k]) - cue[k]
        for k in q
    )
    print(f"| {run.name} | {m['learned_rule']} | {fmt(m['correlation_with_matched'], 4)} "
          f"| {fmt(m['correlation_with_smoothed_matched'], 4)} "
          f"| {fmt(m['largest_phase_difference_deg'], 1)} "
          f"| {fmt(m['power_outside_window_harmonics'], 4)} | {diffs} | {controls:+.3f} "
          f"| {fmt(r['wall_time_s'], 1)} |")
print()
print("| run | quality by load (M) | matched | cue |")
print("|---|---|---|---|")
for run in runs:
    r = json.loads((run / "results.json").read_text())
    if r["kind"] != "memory_phase":
        continue
    m = r["metrics"]
    row = lambda key: " ".join(f"{k}: {v:.3f}" for k, v in m[key].items())
    print(f"| {run.name} | {row('quality_by_load')} | {row('matched_quality_by_load')} "
          f"| {row('cue_quality_by_load')} |")
print()
print("| run | captured (learned) | worst task | Oja + anti-Hebbian | Sanger | output |corr| "
      "| ff two largest | lateral largest | time (s) |")
print("|---|---|---|---|---|---|---|---|---|")
for run in runs:
    r = json.loads((run / "results.json").read_text())
    if r["kind"] != "pca_components":
        continue
    m = r["metrics"]
    ff = ", ".join(f"{n} {v:+.3f}" for n, v in zip(m["ff_largest_terms"], m["ff_largest_coefficients"]))
    print(f"| {run.name} | {fmt(m['captured_variance_fraction'], 4)} "
          f"| {fmt(m['captured_variance_fraction_min'])} "
          f"| {fmt(m['baseline_captured_variance_fraction'], 4)} "
          f"| {fmt(m['sanger_captured_variance_fraction'], 4)} | {fmt(m['output_correlation'])} "
          f"| {ff} | {m['lateral_largest_term']} {m['lateral_largest_coefficient']:+.3f} "
          f"| {fmt(r['wall_time_s'], 1)} |")
