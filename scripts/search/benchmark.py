#!/usr/bin/env python3
"""Issue 30's measurement: TPE with asynchronous workers against random search and the
exhaustive grid of the same keys (docs/search.md, "Measured: TPE against a grid").

    python scripts/search/benchmark.py --out runs/search_benchmark [--seeds 0 1 2] [--workers 4]

1. Runs the grid (experiments/search_benchmark_grid.toml) once with ``plasticity run``
   (kept in OUT/grid and reused), times it, and takes its best objective.
2. For each seed, runs searches/benchmark_tpe.toml and searches/benchmark_random.toml
   (the seed written into a copy of each) with ``plasticity-search --workers N`` and a
   budget of 30 % of the grid's cells.
3. Orders each search's completed trials by completion time, records best-so-far against
   evaluations, the evaluations needed to get within 2 % of the grid's best (and to reach
   it), the wall time and the workers' busy fraction (summed trial time / (workers × the
   span from the first trial's start to the last one's end)), and checks every trial's
   value against the grid's cell of the same values.
4. Writes OUT/benchmark.json, OUT/curves.csv and the figure
   docs/figures/search/benchmark.{png,svg} (--figures to change).

Needs optuna and matplotlib, and the CLI (PLASTICITY_CLI or plasticity on PATH)."""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
BASE = ROOT / "experiments" / "search_benchmark.toml"
GRID = ROOT / "experiments" / "search_benchmark_grid.toml"
SEARCHES = {"tpe": ROOT / "searches" / "benchmark_tpe.toml", "random": ROOT / "searches" / "benchmark_random.toml"}
TOLERANCE = 0.02


def load_toml(path: pathlib.Path) -> dict:
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        import tomli as tomllib  # type: ignore
    return tomllib.loads(path.read_text(encoding="utf-8"))


def cli() -> str:
    return os.environ.get("PLASTICITY_CLI") or shutil.which("plasticity") or sys.exit("no plasticity CLI: set PLASTICITY_CLI")


def metric_of(cell_metrics: dict, path: str) -> float:
    value = cell_metrics
    for part in path.split("."):
        value = value[part]
    return float(value)


def check_files() -> dict:
    """The grid file is the base experiment plus its [grid] (the title aside), and each
    search's choices are the grid's values; returns the TPE search file."""
    base, grid = load_toml(BASE), load_toml(GRID)
    axes = grid.pop("grid")
    base.pop("title"), grid.pop("title")
    if base != grid:
        sys.exit(f"{GRID} is not {BASE} plus a [grid]")
    for name, path in SEARCHES.items():
        search = load_toml(path)
        choices = {k: v["choices"] for k, v in search["parameters"].items()}
        if choices != axes:
            sys.exit(f"{path}: the choices {choices} are not the grid's axes {axes}")
    return load_toml(SEARCHES["tpe"])


def run_grid(out: pathlib.Path, metric: str) -> dict:
    """The grid's run (reused when OUT/grid has one): its cells' objectives by values."""
    grid_dir = out / "grid"
    timing = out / "grid_time.json"
    if not (grid_dir / "results.json").is_file():
        started = time.monotonic()
        subprocess.run([cli(), "run", str(GRID), "--out", str(grid_dir), "--quiet"], check=True)
        timing.write_text(json.dumps({"wall_s": time.monotonic() - started}))
    results = json.loads((grid_dir / "results.json").read_text())
    cells, params = {}, {}
    for cell in results["cells"]:
        key = tuple(sorted((k, repr(v)) for k, v in cell["parameters"].items()))
        cells[key] = metric_of(cell["results"]["metrics"], metric)
        params[key] = cell["parameters"]
    fit_s = [cell["results"]["timing"]["fit_seconds"] for cell in results["cells"]]
    return {"cells": cells, "params": params, "wall_s": json.loads(timing.read_text())["wall_s"] if timing.is_file() else None, "fit_s": fit_s}


def within(value: float, best: float, tolerance: float) -> bool:
    return value >= best - tolerance * abs(best)  # maximize


def run_search(name: str, seed: int, out: pathlib.Path, budget: int, workers: int) -> dict:
    """One search: its spec (seed, budget, absolute experiment path) in OUT/specs, its
    directory OUT/<name>_seed<seed>; completed trials by completion time."""
    text = SEARCHES[name].read_text(encoding="utf-8")
    lines = []
    for line in text.splitlines():
        if line.startswith("seed = "):
            line = f"seed = {seed}"
        elif line.startswith("experiment = "):
            line = f'experiment = "{BASE.as_posix()}"'
        elif line.startswith("trials = "):
            line = f"trials = {budget}"
        lines.append(line)
    specs = out / "specs"
    specs.mkdir(parents=True, exist_ok=True)
    spec = specs / f"{name}_seed{seed}.toml"
    spec.write_text("\n".join(lines) + "\n", encoding="utf-8")
    directory = out / f"{name}_seed{seed}"
    if directory.exists():
        shutil.rmtree(directory)
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "plasticity.search", str(spec), "--out", str(directory), "--workers", str(workers), "--quiet"],
        check=True,
    )
    wall = time.monotonic() - started
    from optuna.trial import TrialState
    from plasticity.search.storage import open_study

    study = open_study(directory, None, "maximize")
    trials = study.get_trials(deepcopy=False)
    complete = sorted((t for t in trials if t.state == TrialState.COMPLETE), key=lambda t: t.datetime_complete)
    first = min(t.datetime_start for t in trials if t.datetime_start)
    last = max(t.datetime_complete for t in trials if t.datetime_complete)
    span = (last - first).total_seconds()
    busy = sum(t.duration.total_seconds() for t in trials if t.duration is not None)
    return {
        "sampler": name,
        "seed": seed,
        "wall_s": wall,
        "trials_span_s": span,
        "busy_fraction": busy / (workers * span),
        "busy_fraction_of_wall": busy / (workers * wall),
        "failed": sum(1 for t in trials if t.state == TrialState.FAIL),
        "trials": [{"number": t.number, "value": t.value, "params": t.params} for t in complete],
    }


def analyse(search: dict, grid: dict, best: float) -> None:
    values = [t["value"] for t in search["trials"]]
    curve = [max(values[: i + 1]) for i in range(len(values))]
    search["best_so_far"] = curve
    search["evals_to_2pct"] = next((i + 1 for i, v in enumerate(curve) if within(v, best, TOLERANCE)), None)
    search["evals_to_grid_best"] = next((i + 1 for i, v in enumerate(curve) if v >= best - 1e-9 * abs(best)), None)
    search["best"] = curve[-1] if curve else None
    # the best trial's rank among the grid's cells (1: the grid's best)
    search["best_rank_in_grid"] = 1 + sum(1 for v in grid["cells"].values() if v > search["best"]) if curve else None
    mismatch = 0.0
    for trial in search["trials"]:
        key = tuple(sorted((k, repr(v)) for k, v in trial["params"].items()))
        mismatch = max(mismatch, abs(trial["value"] - grid["cells"][key]))
    search["max_abs_difference_from_grid_cell"] = mismatch


def median_or_none(values: list) -> object:
    """The median of evaluations where a search that never got there counts as ∞."""
    numbers = sorted(math.inf if v is None else v for v in values)
    middle = statistics.median(numbers)
    return None if math.isinf(middle) else middle


def figure(report: dict, figures: pathlib.Path) -> None:
    """Left: best so far against evaluations, near the grid's best; right: its gap to
    the grid's best on a log scale (a search that reached it drawn at the floor)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"tpe": "tab:blue", "random": "tab:orange"}
    best = report["grid"]["best"]
    floor = 1e-3
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.4))
    for search in report["searches"]:
        curve = search["best_so_far"]
        x = range(1, len(curve) + 1)
        style = dict(color=colors[search["sampler"]], alpha=0.85, linestyle=["-", "--", ":"][search["seed"] % 3],
                     label=f"{'TPE' if search['sampler'] == 'tpe' else 'random'}, seed {search['seed']}")
        left.step(x, curve, where="post", **style)
        right.step(x, [max(best - v, floor) for v in curve], where="post", **style)
    left.axhline(best, color="black", linewidth=1, label=f"grid's best ({report['grid']['cells']} cells)")
    left.axhline(best - TOLERANCE * abs(best), color="black", linewidth=0.8, linestyle=":", label="2 % below it")
    left.set_ylim(best - 3 * TOLERANCE * abs(best), best + 0.5 * TOLERANCE * abs(best))
    left.set_ylabel(f"best so far: {report['metric']}")
    right.axhline(TOLERANCE * abs(best), color="black", linewidth=0.8, linestyle=":", label="2 % of the grid's best")
    right.set_yscale("log")
    right.set_ylim(floor / 1.5, None)
    right.set_ylabel(f"grid's best − best so far ({floor:g}: reached)")
    for ax in (left, right):
        ax.set_xlabel("evaluations (completed trials, in completion order)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right" if ax is left else "upper right", ncol=2)
    fig.suptitle(f"TPE and random search, {report['workers']} asynchronous workers, budget {report['budget']} trials "
                 f"({round(100 * report['budget'] / report['grid']['cells'])} % of the grid's {report['grid']['cells']} cells)",
                 fontsize=10)
    fig.tight_layout()
    figures.mkdir(parents=True, exist_ok=True)
    for suffix in ("png", "svg"):
        fig.savefig(figures / f"benchmark.{suffix}", dpi=110)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/search_benchmark")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--fraction", type=float, default=0.3, help="the budget as a fraction of the grid's cells")
    parser.add_argument("--figures", default=str(ROOT / "docs" / "figures" / "search"))
    parser.add_argument("--figure-only", action="store_true", help="redraw the figure from OUT/benchmark.json")
    args = parser.parse_args()
    out = pathlib.Path(args.out).resolve()
    if args.figure_only:
        figure(json.loads((out / "benchmark.json").read_text()), pathlib.Path(args.figures))
        return 0
    out.mkdir(parents=True, exist_ok=True)
    search_file = check_files()
    metric = search_file["objective"]["metric"]
    grid = run_grid(out, metric)
    values = list(grid["cells"].values())
    best = max(values)
    n_cells = len(values)
    budget = math.floor(args.fraction * n_cells)
    print(f"grid: {n_cells} cells, best {metric} {best:.6g}, "
          f"{sum(within(v, best, TOLERANCE) for v in values)} cells within 2 %, wall {grid['wall_s']}", file=sys.stderr)
    searches = []
    for seed in args.seeds:
        for name in ("tpe", "random"):
            search = run_search(name, seed, out, budget, args.workers)
            analyse(search, grid, best)
            searches.append(search)
            print(f"{name} seed {seed}: {len(search['trials'])} completed, best {search['best']:.6g}, "
                  f"within 2 % after {search['evals_to_2pct']}, grid's best after {search['evals_to_grid_best']}, "
                  f"rank {search['best_rank_in_grid']} of the grid's cells, wall {search['wall_s']:.1f} s, busy {search['busy_fraction']:.2f}", file=sys.stderr)
    summary = {}
    for name in ("tpe", "random"):
        mine = [s for s in searches if s["sampler"] == name]
        summary[name] = {
            "evals_to_2pct": [s["evals_to_2pct"] for s in mine],
            "median_evals_to_2pct": median_or_none([s["evals_to_2pct"] for s in mine]),
            "evals_to_grid_best": [s["evals_to_grid_best"] for s in mine],
            "median_evals_to_grid_best": median_or_none([s["evals_to_grid_best"] for s in mine]),
            "best": [s["best"] for s in mine],
            "best_rank_in_grid": [s["best_rank_in_grid"] for s in mine],
            "wall_s": [round(s["wall_s"], 1) for s in mine],
            "busy_fraction": [round(s["busy_fraction"], 3) for s in mine],
        }
    cells_sorted = sorted(values, reverse=True)
    report = {
        "metric": metric,
        "direction": "maximize",
        "workers": args.workers,
        "budget": budget,
        "tolerance": TOLERANCE,
        "grid": {
            "file": str(GRID.relative_to(ROOT)),
            "cells": n_cells,
            "best": best,
            "best_values": [grid["params"][k] for k, v in grid["cells"].items() if v == best],
            "cells_within_2pct": sum(within(v, best, TOLERANCE) for v in values),
            "top_5": cells_sorted[:5],
            "wall_s": grid["wall_s"],
            "median_fit_s": statistics.median(grid["fit_s"]),
        },
        "summary": summary,
        "searches": searches,
    }
    (out / "benchmark.json").write_text(json.dumps(report, indent=1))
    with open(out / "curves.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sampler", "seed", "evaluation", "trial", "value", "best_so_far"])
        for search in searches:
            for i, (trial, running) in enumerate(zip(search["trials"], search["best_so_far"])):
                writer.writerow([search["sampler"], search["seed"], i + 1, trial["number"], repr(trial["value"]), repr(running)])
    figure(report, pathlib.Path(args.figures))
    print(json.dumps({"grid": {k: report["grid"][k] for k in ("cells", "best", "cells_within_2pct", "wall_s")}, "summary": summary}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
