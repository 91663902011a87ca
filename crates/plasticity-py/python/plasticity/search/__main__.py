"""``python -m plasticity.search SEARCH.toml --out DIR [--workers N] [--storage URL]``
(also the ``plasticity-search`` command): check the search file and its experiment,
start N worker processes on the search's storage, wait for them, then write
``trials.csv``, ``best.toml`` and ``figures/``. Run again with the same arguments to
resume an interrupted search."""

from __future__ import annotations

import argparse
import importlib.util
import pathlib
import subprocess
import sys
import time
from typing import List, Optional

from .errors import SearchError
from .spec import SearchSpec, load

SEARCH_COPY = "search.toml"


def parse_arguments(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="plasticity-search",
        description="Model-based search (Optuna) over the keys of a plasticity experiment file; see docs/search.md.",
    )
    parser.add_argument("search", help="the search file (searches/*.toml)")
    parser.add_argument("--out", required=True, help="the search directory (trials/, trials.csv, best.toml, figures/)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes on this machine (default 1)")
    parser.add_argument(
        "--storage",
        help="an Optuna RDB URL (sqlite:///…, postgresql://…) or a journal file path; default OUT/journal.log",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines or summary (errors only)")
    return parser.parse_args(argv)


def prepare(spec: SearchSpec, out: pathlib.Path) -> None:
    """Create `out`, keep a copy of the search file there, and refuse a directory that
    holds a different search (a resumed search must be the same file)."""
    out.mkdir(parents=True, exist_ok=True)
    copy = out / SEARCH_COPY
    if copy.is_file() and copy.read_text(encoding="utf-8") != spec.text:
        raise SearchError(
            f"{out} holds another search ({copy} differs from {spec.path}): "
            "resume with the same search file, or choose a new --out"
        )
    copy.write_text(spec.text, encoding="utf-8")


def start_workers(spec: SearchSpec, out: pathlib.Path, count: int, storage: Optional[str], quiet: bool) -> List[subprocess.Popen]:
    deadline = [] if spec.wall_time_s is None else ["--deadline", repr(time.time() + spec.wall_time_s)]
    extra = ["--storage", storage] if storage else []
    return [
        subprocess.Popen(
            [sys.executable, "-m", "plasticity.search.worker", str(spec.path), str(out), "--index", str(i), *extra, *deadline],
            stderr=subprocess.DEVNULL if quiet else None,
        )
        for i in range(count)
    ]


def run_search(argv: Optional[List[str]] = None) -> int:
    """The command; its exit status (0: the budget spent or the wall time up, 2: a mistake
    to fix, 130: interrupted, 1: workers died before the budget was spent)."""
    args = parse_arguments(argv)
    if args.workers < 1:
        raise SearchError(f"--workers must be ≥ 1, got {args.workers}")
    if importlib.util.find_spec("optuna") is None:
        raise SearchError("plasticity-search needs Optuna: pip install 'plasticity[search]' (or pip install optuna)")
    from . import experiment as trials
    from .outputs import describe, write_best, write_figures, write_trials_csv
    from .storage import finished, open_study, recover_dead_workers, search_lock

    spec = load(args.search)
    out = pathlib.Path(args.out)
    base = trials.BaseExperiment(spec)
    cli = trials.cli_path()
    prepare(spec, out)
    base.check(spec, cli, out / "check")
    study = open_study(out, args.storage, spec.direction)
    with search_lock(out):
        recovered = recover_dead_workers(study)
    if recovered and not args.quiet:
        print(f"plasticity-search: {recovered} trial(s) of workers that died marked failed and queued again", file=sys.stderr)
    workers = start_workers(spec, out, args.workers, args.storage, args.quiet)
    try:
        codes = [w.wait() for w in workers]
    except KeyboardInterrupt:
        for worker in workers:
            worker.terminate()
        codes = [w.wait() for w in workers]
    with search_lock(out):
        recover_dead_workers(study)
        write_trials_csv(study, spec, out)
        best = write_best(study, spec, base, out)
        done = finished(study)
    if not args.quiet:
        write_figures(study, spec, out)
        summary = f"plasticity-search: {done} of {spec.trials} trials finished"
        if best is not None:
            summary += f"; best {spec.metric} {describe(best.value)} (trial {best.number}), {out / 'best.toml'}"
        print(summary, file=sys.stderr)
        if done < spec.trials:
            print("plasticity-search: run the same command again to resume", file=sys.stderr)
    if any(c == 2 for c in codes):
        return 2
    if done >= spec.trials or all(c == 0 for c in codes):
        return 0  # the budget is spent (a worker that died was made up for) or time is up
    return 130 if any(c == 130 for c in codes) else 1


def main(argv: Optional[List[str]] = None) -> int:
    """The console script: errors as one line, never a traceback."""
    try:
        return run_search(argv)
    except SearchError as error:
        print(f"plasticity-search: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
