"""``python -m plasticity.search SEARCH.toml --out DIR [--workers N] [--storage URL]``
(also the ``plasticity-search`` command): check the search file and its experiment,
start N worker processes on the search's storage, wait for them, then write
``trials.csv``, ``best.toml`` and ``figures/``. Run again with the same arguments to
resume an interrupted search.

``--executor slurm`` submits the N workers as one Slurm job array instead, prints its
job id and exits; ``--wait`` waits for the array and writes the outputs, as does a
later ``--collect``."""

from __future__ import annotations

import argparse
import importlib.util
import os
import pathlib
import subprocess
import sys
import time
from typing import Any, List, Optional

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
    parser.add_argument(
        "--workers", type=int, default=1, help="worker processes (local: on this machine; slurm: array tasks); default 1"
    )
    parser.add_argument(
        "--storage",
        default=os.environ.get("PLASTICITY_SEARCH_STORAGE") or None,
        help="an Optuna RDB URL (sqlite:///…, postgresql://…) or a journal file path; "
        "default $PLASTICITY_SEARCH_STORAGE, else OUT/journal.log",
    )
    parser.add_argument(
        "--executor",
        choices=("local", "slurm"),
        default="local",
        help="local: worker processes here, waited for (default); slurm: one job array of --workers tasks, submitted",
    )
    parser.add_argument("--sbatch-option", action="append", default=[], metavar="OPT", help="an sbatch option for the array (repeatable)")
    parser.add_argument("--dry-run", action="store_true", help="slurm: write OUT/slurm/search.sh without submitting it")
    parser.add_argument("--wait", action="store_true", help="slurm: wait for the array, then write the outputs")
    parser.add_argument(
        "--collect",
        action="store_true",
        help="wait for the search's last Slurm array (if still queued), then write trials.csv, best.toml, figures/",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines or summary (errors only)")
    parser.add_argument(
        "--trial-runner",
        choices=("inprocess", "subprocess"),
        default=None,
        help="how a trial runs: inprocess (in the worker's process, through the bindings; the default) or "
        "subprocess (plasticity run, a child process); default $PLASTICITY_SEARCH_TRIAL_RUNNER, else inprocess",
    )
    args = parser.parse_args(argv)
    slurm_only = [flag for flag, given in (("--sbatch-option", args.sbatch_option), ("--dry-run", args.dry_run), ("--wait", args.wait)) if given]
    if args.executor != "slurm" and slurm_only:
        parser.error(f"{', '.join(slurm_only)} only with --executor slurm")
    return args


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


def start_workers(
    spec: SearchSpec, out: pathlib.Path, count: int, storage: Optional[str], quiet: bool, deadline: Optional[float], runner: str
) -> List[subprocess.Popen]:
    until = [] if deadline is None else ["--deadline", repr(deadline)]
    extra = ["--storage", storage] if storage else []
    extra += ["--trial-runner", runner]
    return [
        subprocess.Popen(
            [sys.executable, "-m", "plasticity.search.worker", str(spec.path), str(out), "--index", str(i), *extra, *until],
            stderr=subprocess.DEVNULL if quiet else None,
        )
        for i in range(count)
    ]


def run_search(argv: Optional[List[str]] = None) -> int:
    """The command; its exit status (0: the budget spent or the wall time up, or an
    array submitted; 2: a mistake to fix; 130: interrupted; 1: workers died before
    the budget was spent)."""
    args = parse_arguments(argv)
    if args.workers < 1:
        raise SearchError(f"--workers must be ≥ 1, got {args.workers}")
    if importlib.util.find_spec("optuna") is None:
        raise SearchError("plasticity-search needs Optuna: pip install 'plasticity[search]' (or pip install optuna)")
    from . import experiment as trials
    from . import slurm
    from .storage import open_study, recover_dead_workers, search_lock

    spec = load(args.search)
    out = pathlib.Path(args.out)
    base = trials.BaseExperiment(spec)
    if args.collect:
        if not (out / SEARCH_COPY).is_file():
            raise SearchError(f"{out} holds no search to collect (no {SEARCH_COPY})")
        prepare(spec, out)
        job = slurm.last_job(out)
        if job is not None and slurm.in_queue(job):
            slurm.wait(job, quiet=args.quiet)
        study = open_study(out, args.storage, spec.direction)
        return finish(study, spec, base, out, args, codes=None)
    runner = trials.Runner(args.trial_runner)
    prepare(spec, out)
    base.check(spec, runner, out / "check")
    study = open_study(out, args.storage, spec.direction)
    with search_lock(out):
        recovered = recover_dead_workers(study)
    if recovered and not args.quiet:
        print(f"plasticity-search: {recovered} trial(s) of workers that died marked failed and queued again", file=sys.stderr)
    deadline = None if spec.wall_time_s is None else time.time() + spec.wall_time_s
    if args.executor == "slurm":
        script = slurm.job_script(spec.path, out, args.workers, args.storage, deadline, runner.cli, args.sbatch_option, runner.name)
        job = slurm.submit(out, script, args.dry_run)
        if job is None:
            print(out / slurm.SLURM_DIR / slurm.SCRIPT)
            return 0
        print(job, flush=True)
        if not args.wait:
            if not args.quiet:
                print(
                    f"plasticity-search: submitted job array {job} ({args.workers} workers; logs in "
                    f"{out / slurm.SLURM_DIR / 'logs'}); when it has run: plasticity-search {args.search} --out {out} --collect",
                    file=sys.stderr,
                )
            return 0
        slurm.wait(job, quiet=args.quiet)
        return finish(study, spec, base, out, args, codes=None)
    workers = start_workers(spec, out, args.workers, args.storage, args.quiet, deadline, runner.name)
    try:
        codes = [w.wait() for w in workers]
    except KeyboardInterrupt:
        for worker in workers:
            worker.terminate()
        codes = [w.wait() for w in workers]
    return finish(study, spec, base, out, args, codes)


def finish(study: Any, spec: SearchSpec, base: Any, out: pathlib.Path, args: argparse.Namespace, codes: Optional[List[int]]) -> int:
    """After the workers: recover the trials of dead ones, write ``trials.csv``,
    ``best.toml`` and the figures, say how far the search got; the exit status.
    `codes`: the local workers' exit statuses (None: a Slurm array's, unknown)."""
    from . import slurm
    from .outputs import describe, write_best, write_figures, write_trials_csv
    from .storage import finished, recover_dead_workers, search_lock

    with search_lock(out):
        recover_dead_workers(study)
        write_trials_csv(study, spec, out)
        best = write_best(study, spec, base, out)
        done = finished(study)
    errors = slurm.log_errors(out) if codes is None else []
    if not args.quiet:
        write_figures(study, spec, out)
        summary = f"plasticity-search: {done} of {spec.trials} trials finished"
        if best is not None:
            summary += f"; best {spec.metric} {describe(best.value)} (trial {best.number}), {out / 'best.toml'}"
        print(summary, file=sys.stderr)
        if done < spec.trials:
            again = "the same command" if codes is not None else f"plasticity-search {args.search} --out {out} --executor slurm …"
            print(f"plasticity-search: run {again} again to resume", file=sys.stderr)
    for line in errors:
        print(f"plasticity-search: a worker's log: {line}", file=sys.stderr)
    if codes is None:
        codes = [2] if any("plasticity-search: error:" in line for line in errors) else []
    if any(c == 2 for c in codes):
        return 2
    if done >= spec.trials or all(c == 0 for c in codes) and codes:
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
