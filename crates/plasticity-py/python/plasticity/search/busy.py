"""How busy a search kept its workers: the summed time of its trials over
``workers × wall time``, over the whole wall time of the search command (when given)
and over the trials' span (first start to last end).

    python -m plasticity.search.busy OUT --workers N [--wall-s T] [--storage URL]

prints one JSON object: trials, min/max/mean trial seconds, their ratio, the summed
trial seconds, the span, and the busy fractions (also until the last trial started:
without the tail when the budget is spent) (docs/search.md, "Measured: busy
workers"). A trial's time is Optuna's: from the worker's ask to its tell."""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

Interval = Tuple[float, float]


def busy_fraction(intervals: Sequence[Interval], workers: int, wall_s: Optional[float] = None) -> Dict[str, Any]:
    """The summary of trials run from `start` to `end` (seconds, any origin) by
    `workers` workers; `wall_s`: the wall time of the whole command, if measured."""
    if workers < 1:
        raise ValueError(f"workers must be ≥ 1, got {workers}")
    if not intervals:
        raise ValueError("no finished trials")
    if any(end < start for start, end in intervals):
        raise ValueError("a trial ends before it starts")
    durations = [end - start for start, end in intervals]
    total = sum(durations)
    span = max(end for _, end in intervals) - min(start for start, _ in intervals)
    summary: Dict[str, Any] = {
        "trials": len(durations),
        "workers": workers,
        "min_trial_s": min(durations),
        "max_trial_s": max(durations),
        "mean_trial_s": total / len(durations),
        "duration_ratio": max(durations) / min(durations) if min(durations) > 0 else float("inf"),
        "summed_trial_s": total,
        "span_s": span,
        "busy_over_span": total / (workers * span) if span > 0 else None,
    }
    # while trials were still being handed out (first start to last start): the tail
    # after it, when the budget is spent and the last trials finish alone, left out
    first = min(start for start, _ in intervals)
    last_start = max(start for start, _ in intervals)
    if last_start > first:
        inside = sum(max(0.0, min(end, last_start) - start) for start, end in intervals)
        summary["busy_until_last_start"] = inside / (workers * (last_start - first))
    if wall_s is not None:
        if wall_s <= 0:
            raise ValueError(f"the wall time must be > 0, got {wall_s}")
        summary["wall_s"] = wall_s
        summary["busy_over_wall"] = total / (workers * wall_s)
    return summary


def trial_intervals(study: Any) -> List[Interval]:
    """(start, end) in unix seconds of the study's finished trials."""
    found: List[Interval] = []
    for trial in study.get_trials(deepcopy=False):
        if trial.datetime_start is not None and trial.datetime_complete is not None and trial.state.is_finished():
            found.append((trial.datetime_start.timestamp(), trial.datetime_complete.timestamp()))
    return found


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m plasticity.search.busy", description=__doc__.splitlines()[0])
    parser.add_argument("out", help="the search directory")
    parser.add_argument("--workers", type=int, required=True)
    parser.add_argument("--wall-s", type=float, help="the wall time of the search command, seconds")
    parser.add_argument("--storage", help="the search's storage, if not OUT/journal.log")
    parser.add_argument("--direction", default="minimize")
    args = parser.parse_args(argv)
    from .storage import open_study

    study = open_study(pathlib.Path(args.out), args.storage, args.direction)
    try:
        summary = busy_fraction(trial_intervals(study), args.workers, args.wall_s)
    except ValueError as error:
        print(f"plasticity-search: error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
