"""The base experiment of a search and its trials: the experiment file with a trial's
values in place, checked by the CLI before anything runs (``plasticity run
--executor slurm --dry-run``), run by ``plasticity run`` into the trial's directory,
and the objective read back from the run directory's ``results.json``.

Both commands run in the worker's own process through the bindings
(``plasticity.run_cli``: the CLI's command set in the extension module, the GIL
released) unless the subprocess runner is chosen (`runner.Runner`)."""

from __future__ import annotations

import copy
import json
import math
import os
import pathlib
import re
import shutil
import socket
import statistics
from typing import Any, Callable, Dict, List, Mapping, Optional, Set

import numpy as np

from . import toml_io
from .errors import SearchError, locate_key
from .runner import CommandFailed, Interrupted, Runner, cli_path
from .spec import SearchSpec

__all__ = ["BaseExperiment", "Interrupted", "Runner", "TrialFailed", "cli_path", "read_objective", "run_trial", "trial_seed"]

# keys whose value is a path read relative to the experiment file (the CLI's
# run/experiment/resolved.rs `is_path_key`): rewritten for the trial's directory
PATH_KEYS = {("flies", "flies", "data_dir"), ("circuit", "simulate", "circuit")}


class TrialFailed(Exception):
    """The trial's run failed or gave no usable objective; the search goes on."""


def trial_seed(search_seed: int, trial_number: int) -> int:
    """The seed of a trial's experiment, from the search seed and the trial number
    (NumPy's SeedSequence: independent streams, no collisions of nearby pairs)."""
    state = np.random.SeedSequence([search_seed, trial_number]).generate_state(1)
    return int(state[0])


class BaseExperiment:
    """The experiment file a search varies."""

    def __init__(self, spec: SearchSpec) -> None:
        self.path = spec.experiment
        self.text = self.path.read_text(encoding="utf-8")
        try:
            self.document = toml_io.loads(self.text)
        except toml_io.TOMLDecodeError as error:
            raise SearchError(f"not valid TOML: {error}", self.path, line=getattr(error, "lineno", None))
        self.kind = self.document.get("kind")
        grid = self.document.get("grid", {})
        for parameter in spec.parameters:
            if parameter.key in grid:
                raise spec.error(
                    f"is also an axis of the experiment's [grid] ({self.path}:"
                    f"{locate_key(self.text, ['grid', parameter.key])}): vary it in one of them",
                    "parameters", parameter.key,
                )
            if parameter.key.split(".")[0] == "grid":
                raise spec.error("a grid is not searched: name a key of a section", "parameters", parameter.key)

    def with_values(self, values: Mapping[str, Any], directory: pathlib.Path) -> Dict[str, Any]:
        """The experiment with `values` (dotted key → value) in place, its path keys
        rewritten to be read from `directory`."""
        document = copy.deepcopy(self.document)
        for key, value in values.items():
            *sections, name = key.split(".")
            table = document
            for section in sections:
                table = table.setdefault(section, {})
            table[name] = value
        for kind, section, key in PATH_KEYS:
            table = document.get(section, {})
            if self.kind == kind and isinstance(table.get(key), str):
                target = (self.path.parent / table[key]).resolve()
                table[key] = os.path.relpath(target, directory.resolve())
        return document

    def write(self, values: Mapping[str, Any], path: pathlib.Path, header: str = "") -> None:
        """Write the experiment with `values` to `path` (a comment `header` first)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        text = toml_io.dumps(self.with_values(values, path.parent))
        _atomic_write(path, header + text)

    def seed_keys(self, spec: SearchSpec, runner: Runner, scratch: pathlib.Path) -> List[str]:
        """The experiment's seed keys a trial sets (``section.seed`` of every section
        whose command takes a seed, as ``plasticity run --seed`` would), less the
        search file's `keep_seeds`; read from a dry run's run.json."""
        directory = scratch / f"seeds_{socket.gethostname()}_{os.getpid()}"  # pids repeat across nodes
        self.write({}, directory / "experiment.toml")
        _dry_run(runner, directory / "experiment.toml", directory / "run")
        seeds = json.loads((directory / "run" / "run.json").read_text()).get("seeds", {})
        shutil.rmtree(directory, ignore_errors=True)
        try:
            scratch.rmdir()
        except OSError:
            pass  # another worker's check is still there
        keys = [k for k in seeds if k.split(".")[-1] == "seed" and k not in self.document.get("grid", {})]
        for kept in spec.keep_seeds:
            if kept not in keys:
                raise spec.error(f"`{kept}` is not a seed key of the experiment; its seed keys: {', '.join(keys) or 'none'}", "keep_seeds")
        return [k for k in keys if k not in spec.keep_seeds]

    def check(self, spec: SearchSpec, runner: Runner, scratch: pathlib.Path) -> None:
        """Have the CLI read the experiment at each end of every range (and with every
        choice) without running it (``run --executor slurm --dry-run``), so that a key
        or value it refuses is reported now, naming the search file's parameter."""
        low = {p.key: p.extremes()[0] for p in spec.parameters}
        candidates: List[Dict[str, Any]] = [low, {p.key: p.extremes()[-1] for p in spec.parameters}]
        for parameter in spec.parameters:
            for value in parameter.extremes()[1:-1]:
                candidates.append({**low, parameter.key: value})
        for index, values in enumerate(candidates):
            directory = scratch / f"check_{index}"
            file = directory / "experiment.toml"
            self.write(values, file)
            try:
                _dry_run(runner, file, directory / "run")
            except _Refused as refused:
                raise self._refusal(spec, values, str(refused), file)
        self.seed_keys(spec, runner, scratch)
        shutil.rmtree(scratch, ignore_errors=True)

    def _refusal(self, spec: SearchSpec, values: Mapping[str, Any], stderr: str, file: pathlib.Path) -> SearchError:
        message = stderr.strip().splitlines()[-1] if stderr.strip() else "refused (no message)"
        message = re.sub(r"^plasticity: error: ", "", message).replace(str(file), "(trial experiment)")
        refused = re.search(r"key `([^`]+)`", message)
        if refused and any(p.key == refused.group(1) for p in spec.parameters):
            return spec.error(
                f"the experiment {self.path.name} refuses {refused.group(1)} = {values[refused.group(1)]!r}: {message}",
                "parameters", refused.group(1),
            )
        shown = ", ".join(f"{k} = {v!r}" for k, v in values.items())
        return SearchError(f"plasticity run refuses the experiment with {shown}: {message}", self.path)


class _Refused(Exception):
    """The CLI refused an experiment file (its stderr)."""


def _dry_run(runner: Runner, file: pathlib.Path, out: pathlib.Path) -> None:
    """Have the CLI read `file` and prepare a run directory without running anything."""
    try:
        runner.run(["run", str(file), "--out", str(out), "--executor", "slurm", "--dry-run", "--quiet"], file.with_name("dry_run.log"))
    except CommandFailed as failure:
        raise _Refused(failure.message)


def run_trial(runner: Runner, experiment: pathlib.Path, out: pathlib.Path) -> None:
    """``plasticity run EXPERIMENT --out OUT --quiet``, its output in OUT/trial.log.
    Raises `TrialFailed` when the run fails; `Interrupted` or `KeyboardInterrupt` when
    a signal stopped it."""
    try:
        runner.run(["run", str(experiment), "--out", str(out), "--quiet"], out / "trial.log")
    except CommandFailed as failure:
        lines = failure.message.strip().splitlines()
        how = f"exited with {failure.code}" if failure.code is not None else "failed"
        raise TrialFailed(f"plasticity run {how}: {lines[-1] if lines else 'no message'}")


def read_objective(out: pathlib.Path, metric: str, aggregate: str) -> float:
    """The objective of a finished run directory: `metric` (a dotted path into each
    cell's ``results.metrics``, else into its ``results``) over the cells, aggregated.
    Raises `SearchError` when no cell has the metric (a mistake of the search file),
    `Interrupted` for an interrupted fit, `TrialFailed` for a value that is not finite."""
    results = json.loads((out / "results.json").read_text())
    values: List[Any] = []
    available: Set[str] = set()
    for cell in results.get("cells", []):
        cell_results = cell.get("results", {})
        reason = cell_results.get("stop_reason")
        if isinstance(reason, dict) and reason.get("reason") == "interrupted":
            raise Interrupted("the fit was interrupted")
        metrics = cell_results.get("metrics", {})
        available.update(k for k, v in metrics.items() if isinstance(v, (int, float)))
        found = _lookup(metrics, metric)
        if found is _MISSING:
            found = _lookup(cell_results, metric)
        if found is _MISSING:
            raise SearchError(
                f"the run's results.json has no metric `{metric}`; its cells' metrics: "
                f"{', '.join(sorted(available)) or 'none'} (a dotted path reaches deeper "
                "keys of a cell's results)",
                key="objective.metric",
            )
        values.append(found)
    if not values:
        raise TrialFailed("results.json has no cells")
    if any(v is None or not isinstance(v, (int, float)) or not math.isfinite(v) for v in values):
        raise TrialFailed(f"{metric} is not a finite number: {values}")
    return float(_AGGREGATES[aggregate](values))


_MISSING = object()
_AGGREGATES: Dict[str, Callable[[List[float]], float]] = {
    "mean": statistics.fmean,
    "median": statistics.median,
    "min": min,
    "max": max,
}


def _lookup(table: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(table, dict) or part not in table:
            return _MISSING
        table = table[part]
    return table


def _atomic_write(path: pathlib.Path, text: str) -> None:
    temporary = path.with_name(path.name + f".tmp{os.getpid()}")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
