"""The Optuna sampler a search file names, seeded for reproducibility."""

from __future__ import annotations

import importlib.util
from typing import Any

import optuna

from .spec import SearchSpec

_NEEDS = {"gp": ("torch", "scipy"), "cmaes": ("cmaes",)}


def make_sampler(spec: SearchSpec, worker_index: int) -> optuna.samplers.BaseSampler:
    """TPE (multivariate, a constant liar for trials still running), random, GP or
    CMA-ES; worker `i` seeds it with the search seed + i, so one worker reproduces."""
    missing = [m for m in _NEEDS.get(spec.sampler, ()) if importlib.util.find_spec(m) is None]
    if missing:
        raise spec.error(
            f"the {spec.sampler} sampler needs {' and '.join(missing)}: pip install {' '.join(missing)}",
            "sampler", "name",
        )
    seed = spec.seed + worker_index
    startup: Any = {} if spec.startup_trials is None else {"n_startup_trials": spec.startup_trials}
    if spec.sampler == "tpe":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True, **startup)
    if spec.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if spec.sampler == "gp":
        return optuna.samplers.GPSampler(seed=seed, **startup)
    return optuna.samplers.CmaEsSampler(seed=seed, **startup)
