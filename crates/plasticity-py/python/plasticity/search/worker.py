"""One worker of a search: a separate process attached to the search's storage that
asks for its next trial as soon as it has finished one (no barrier between
workers), runs it with ``plasticity run`` (in this process through the bindings, or
as a child process: ``--trial-runner``, see `runner`), and tells the result.

    python -m plasticity.search.worker SEARCH.toml OUT --index I [--storage URL] [--deadline T] [--trial-runner R]

The coordinator (``python -m plasticity.search``) starts these; they may also be
started by hand or by a cluster's job script on other machines sharing OUT."""

from __future__ import annotations

import argparse
import os
import pathlib
import signal
import sys
import time
from typing import Any, Optional

import optuna
from optuna.trial import TrialState

from . import experiment as trials
from .errors import SearchError
from .runner import ENVIRONMENT, RUNNERS
from .outputs import describe, trial_dir, write_trials_csv, best_trial
from .samplers import make_sampler
from .spec import SearchSpec, load
from .storage import counted, finished, open_study, recover_dead_workers, requeue, search_lock, this_worker


def run_worker(
    spec: SearchSpec, out: pathlib.Path, index: int, storage: Optional[str], deadline: Optional[float], runner_name: Optional[str] = None
) -> None:
    """Ask, run and tell trials until the budget is spent or the deadline passed."""
    runner = trials.Runner(runner_name)
    base = trials.BaseExperiment(spec)
    seed_keys = base.seed_keys(spec, runner, out / "check")
    study = open_study(out, storage, spec.direction)
    study.sampler = make_sampler(spec, index)
    distributions = {p.key: p.distribution() for p in spec.parameters}
    while True:
        with search_lock(out):
            trial = _next_trial(study, spec, distributions, deadline)
        if trial is None:
            return
        _run_one(study, spec, base, runner, out, trial, seed_keys)


def _next_trial(study: optuna.Study, spec: SearchSpec, distributions: Any, deadline: Optional[float]) -> Any:
    recover_dead_workers(study)
    if deadline is not None and time.time() >= deadline:
        return None
    all_trials = study.get_trials(deepcopy=False)
    waiting = any(t.state == TrialState.WAITING for t in all_trials)
    if not waiting and sum(1 for t in all_trials if counted(t)) >= spec.trials:
        return None
    trial = study.ask(distributions)
    seed_trial = trial.user_attrs.get("seed_trial", trial.number)
    trial.set_user_attr("seed_trial", seed_trial)
    trial.set_user_attr("seed", trials.trial_seed(spec.seed, seed_trial))
    trial.set_user_attr("worker", this_worker())
    return trial


def _run_one(
    study: optuna.Study, spec: SearchSpec, base: trials.BaseExperiment, runner: trials.Runner, out: pathlib.Path, trial: Any, seed_keys: Any
) -> None:
    directory = trial_dir(out, trial.number)
    started = time.monotonic()
    seeds = {key: trial.user_attrs["seed"] for key in seed_keys}
    try:
        base.write({**trial.params, **seeds}, directory / "experiment.toml")
        trials.run_trial(runner, directory / "experiment.toml", directory)
        value = trials.read_objective(directory, spec.metric, spec.aggregate)
    except trials.TrialFailed as failure:
        trial.set_user_attr("failure", str(failure))
        _tell(study, spec, out, trial, None, started)
        return
    except (trials.Interrupted, KeyboardInterrupt) as stop:
        with search_lock(out):
            trial.set_user_attr("failure", f"interrupted: {str(stop) or 'a signal'}")
            retry = trial.user_attrs.get("retry_of") is None
            trial.set_user_attr("retried", retry)
            frozen = study.tell(trial, state=TrialState.FAIL)
            if retry:
                requeue(study, frozen)
            write_trials_csv(study, spec, out)
        raise KeyboardInterrupt
    except SearchError as error:
        trial.set_user_attr("failure", str(error))
        _tell(study, spec, out, trial, None, started)
        raise spec.error(error.message, *error.key.split(".")) if error.key else error
    _tell(study, spec, out, trial, value, started)


def _tell(study: optuna.Study, spec: SearchSpec, out: pathlib.Path, trial: Any, value: Optional[float], started: float) -> None:
    with search_lock(out):
        if value is None:
            study.tell(trial, state=TrialState.FAIL)
        else:
            study.tell(trial, value)
        write_trials_csv(study, spec, out)
        done = finished(study)
        best = best_trial(study)
    seconds = time.monotonic() - started
    values = ", ".join(f"{k}={describe(v)}" for k, v in trial.params.items())
    result = f"{spec.metric} {describe(value)}" if value is not None else f"FAILED ({trial.user_attrs.get('failure', '')})"
    best_text = f"best {describe(best.value)} (trial {best.number})" if best else "no best yet"
    print(
        f"trial {trial.number} [{done}/{spec.trials}] {seconds:.1f} s, worker {os.getpid()}: {values} -> {result}; {best_text}",
        file=sys.stderr,
        flush=True,
    )


def _interrupt(signum: int, frame: Any) -> None:
    """SIGTERM (a cluster's time limit, the coordinator stopping) as Ctrl-C."""
    raise KeyboardInterrupt


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m plasticity.search.worker", description=__doc__.splitlines()[0])
    parser.add_argument("search")
    parser.add_argument("out")
    parser.add_argument("--index", type=int, default=0)
    parser.add_argument("--storage")
    parser.add_argument("--deadline", type=float, help="unix time after which no trial starts")
    parser.add_argument(
        "--trial-runner", choices=RUNNERS, default=None,
        help=f"inprocess (the bindings' run_cli) or subprocess (plasticity run); default ${ENVIRONMENT}, else inprocess",
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        run_worker(load(args.search), pathlib.Path(args.out), args.index, args.storage, args.deadline, args.trial_runner)
    except SearchError as error:
        print(f"plasticity-search: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
