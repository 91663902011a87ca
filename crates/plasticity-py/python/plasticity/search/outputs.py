"""What a search leaves in its directory besides the trials: ``trials.csv`` (one row
per trial), ``best.toml`` (the best trial's experiment, seeds written out, ready for
``plasticity run``) and ``figures/`` (Optuna's matplotlib plots, PNG and SVG)."""

from __future__ import annotations

import csv
import io
import math
import os
import pathlib
import sys
import warnings
from typing import Any, Callable, Dict, List, Optional

import optuna
from optuna.trial import FrozenTrial, TrialState

from . import toml_io
from .experiment import BaseExperiment
from .spec import SearchSpec
from .storage import worker_label


def trial_dir(out: pathlib.Path, number: int) -> pathlib.Path:
    return out / "trials" / f"{number:04d}"


def write_trials_csv(study: optuna.Study, spec: SearchSpec, out: pathlib.Path) -> None:
    """``trials.csv``: number, state, the objective (named by its metric), duration,
    worker, seed, retry_of, one column per parameter, and why a trial failed."""
    keys = [p.key for p in spec.parameters]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["number", "state", spec.metric, "duration_s", "worker", "seed", "retry_of", *keys, "failure"])
    for trial in study.get_trials(deepcopy=False):
        attrs = trial.user_attrs
        duration = trial.duration.total_seconds() if trial.duration is not None else ""
        writer.writerow(
            [
                trial.number,
                trial.state.name,
                "" if trial.value is None else repr(trial.value),
                f"{duration:.3f}" if duration != "" else "",
                worker_label(attrs.get("worker")),
                attrs.get("seed", ""),
                attrs.get("retry_of", ""),
                *[trial.params.get(k, "") for k in keys],
                _failure(trial),
            ]
        )
    _replace(out / "trials.csv", buffer.getvalue())


def _failure(trial: FrozenTrial) -> str:
    failure = trial.user_attrs.get("failure", "")
    if trial.state == TrialState.FAIL and trial.user_attrs.get("retried"):
        failure += "; retried"
    return failure


def best_trial(study: optuna.Study) -> Optional[FrozenTrial]:
    complete = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    if not complete:
        return None
    sign = 1 if study.direction == optuna.study.StudyDirection.MINIMIZE else -1
    return min(complete, key=lambda t: (sign * float(t.value or 0.0), t.number))


def write_best(study: optuna.Study, spec: SearchSpec, base: BaseExperiment, out: pathlib.Path) -> Optional[FrozenTrial]:
    """``best.toml``: the best trial's experiment file (its values and seeds), so that
    ``plasticity run best.toml`` repeats it; the best trial, or None."""
    best = best_trial(study)
    if best is None:
        return None
    run_dir = trial_dir(out, best.number)
    values = dict(best.params)
    trial_file = run_dir / "experiment.toml"
    if trial_file.is_file():
        written = _flatten(toml_io.loads(trial_file.read_text(encoding="utf-8")))
        values.update({k: v for k, v in written.items() if k.split(".")[-1] == "seed"})
    header = (
        f"# The best trial ({best.number}) of the search {spec.path.name}: "
        f"{spec.metric} = {best.value!r} ({spec.direction}).\n"
        f"# Its experiment {base.path.name} with the trial's values and seeds; its run is {run_dir}.\n"
        f"#   plasticity run best.toml --out runs/best   repeats it\n"
    )
    base.write(values, out / "best.toml", header)
    return best


def _flatten(document: dict) -> dict:
    """Every section key of an experiment document as ``section.key`` (no grid)."""
    return {
        f"{section}.{key}": value
        for section, table in document.items()
        if isinstance(table, dict) and section != "grid"
        for key, value in table.items()
    }


def write_figures(study: optuna.Study, spec: SearchSpec, out: pathlib.Path) -> List[str]:
    """Optuna's optimisation history, slice plot and (with two or more parameters)
    parameter importances as PNG and SVG in ``figures/``; the names written. Without
    matplotlib, or with too few finished trials, says so and skips."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from optuna.visualization import matplotlib as plots
    except ImportError:
        print("plasticity-search: no figures: matplotlib is not installed (pip install matplotlib)", file=sys.stderr)
        return []
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < 2:
        print("plasticity-search: no figures: fewer than 2 completed trials", file=sys.stderr)
        return []
    figures: Dict[str, Callable[..., Any]] = {
        "history": plots.plot_optimization_history,
        "slice": plots.plot_slice,
    }
    if len(spec.parameters) >= 2:
        figures["importances"] = plots.plot_param_importances
    (out / "figures").mkdir(exist_ok=True)
    written = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, plot in figures.items():
            try:
                axes = plot(study, target_name=spec.metric)
                figure = (axes.flat[0] if hasattr(axes, "flat") else axes).get_figure()
                figure.set_size_inches(max(6.4, 3.2 * len(spec.parameters)) if name == "slice" else 6.4, 4.8)
                figure.tight_layout()
                for suffix in ("png", "svg"):
                    figure.savefig(out / "figures" / f"{name}.{suffix}", dpi=120)
                plt.close(figure)
                written.append(name)
            except Exception as error:  # a plot Optuna cannot draw for these trials
                print(f"plasticity-search: figure {name} skipped: {error}", file=sys.stderr)
    return written


def _replace(path: pathlib.Path, text: str) -> None:
    temporary = path.with_name(path.name + f".tmp{os.getpid()}")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def describe(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) and math.isfinite(value) else str(value)
