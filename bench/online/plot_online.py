#!/usr/bin/env python3
"""The figure of docs/performance.md "Online fits": θ_xy and θ_y²w of online fits
against recording time, beside the offline fit of the same recording.

    plasticity simulate oja --out on.npz --n-pre 20 --n-post 100 --steps 100000 --trajectories 1
    plasticity fit on.npz --out all --online --update-every 20 --learning-rate 0.01 --init zeros --basis canonical
    plasticity fit on.npz --out two --online --update-every 20 --learning-rate 0.03 --init zeros --basis canonical --trainable "x*y,y^2*w"
    plasticity fit on.npz --out offline --epochs 200 --init zeros
    python bench/online/plot_online.py all two offline docs/figures/online/online.png

Needs matplotlib (pip install matplotlib).
"""

import csv
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def online(directory):
    with open(f"{directory}/online.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    steps = [int(r["step"]) for r in rows]
    return steps, {t: [float(r[t]) for r in rows] for t in ("x*y", "y^2*w")}


def main():
    all_terms, two_terms, offline_dir, out = sys.argv[1:5]
    offline = json.load(open(f"{offline_dir}/results.json"))["coefficients"]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), sharey=True, dpi=100)
    for ax, (label, directory) in zip(
        axes, [("all 27 terms trainable, α = 0.01", all_terms), ("x·y and y²·w trainable, α = 0.03", two_terms)]
    ):
        steps, theta = online(directory)
        for colour, term in zip(("C0", "C1"), ("x*y", "y^2*w")):
            ax.plot(steps, theta[term], color=colour, label=f"{term} online")
            ax.axhline(offline[term], color=colour, ls="--", lw=1, label=f"{term} offline (L-BFGS, all terms)")
            ax.axhline(1.0 if term == "x*y" else -1.0, color="0.5", ls=":", lw=1)
        ax.set_xscale("log")
        ax.set_xlabel("recording step")
        ax.set_title(label, fontsize=10)
    axes[0].set_ylabel("coefficient")
    axes[1].legend(fontsize=7, loc="center right")
    fig.suptitle("Online estimate while a 20→100 Oja recording streams in (K = 20 steps per update)", fontsize=10)
    fig.tight_layout()
    fig.savefig(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
