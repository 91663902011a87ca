"""The Slurm executor of a search: one job array whose K tasks are K workers
(``python -m plasticity.search.worker SEARCH OUT --index $SLURM_ARRAY_TASK_ID``) on
the search's storage, so OUT must be on a file system that the nodes share (the
journal file, the lock, the trial directories).

``OUT/slurm/search.sh`` is the job script (written before it is submitted, kept for
the record and for ``sbatch`` by hand), ``OUT/slurm/job`` the id of the last array
submitted, ``OUT/slurm/logs/worker_N.out`` each task's output (its trial lines)."""

from __future__ import annotations

import getpass
import os
import pathlib
import shlex
import shutil
import subprocess
import sys
import time
from typing import List, Optional, Sequence

from .errors import SearchError

SLURM_DIR = "slurm"
SCRIPT = "search.sh"
JOB_FILE = "job"


def job_script(
    search: pathlib.Path,
    out: pathlib.Path,
    workers: int,
    storage: Optional[str],
    deadline: Optional[float],
    cli: Optional[pathlib.Path],
    options: Sequence[str],
    runner: str = "inprocess",
) -> str:
    """The sbatch script of an array of `workers` tasks, one worker each; every path
    absolute (the tasks start in the submitting directory, but need not). `cli`: the
    binary, exported as ``PLASTICITY_CLI`` when there is one (the subprocess runner
    needs it); `runner`: the workers' ``--trial-runner``."""
    out = out.resolve()
    logs = out / SLURM_DIR / "logs"
    command: List[str] = [
        sys.executable,
        "-m",
        "plasticity.search.worker",
        str(search.resolve()),
        str(out),
        "--index",
        "$SLURM_ARRAY_TASK_ID",
        "--trial-runner",
        runner,
    ]
    if storage:
        command += ["--storage", storage if "://" in storage else str(pathlib.Path(storage).resolve())]
    if deadline is not None:
        command += ["--deadline", repr(deadline)]
    quoted = " ".join('"$SLURM_ARRAY_TASK_ID"' if part == "$SLURM_ARRAY_TASK_ID" else shlex.quote(part) for part in command)
    lines = [
        "#!/bin/bash",
        f"#SBATCH --job-name={shlex.quote('search-' + search.stem)}",
        f"#SBATCH --array=0-{workers - 1}",
        f"#SBATCH --output={logs}/worker_%a.out",
        *[f"#SBATCH {option}" for option in options],
        f"# Written by plasticity-search: {workers} workers of the search {search.name} on one storage.",
        "set -eu",
        *([f"export PLASTICITY_CLI={shlex.quote(str(cli))}"] if cli is not None else []),
        f"cd {shlex.quote(str(pathlib.Path.cwd()))}",
        f"exec {quoted}",
        "",
    ]
    return "\n".join(lines)


def submit(out: pathlib.Path, script: str, dry_run: bool) -> Optional[str]:
    """Write ``OUT/slurm/search.sh`` and submit it (``sbatch --parsable``); the job id
    (also written to ``OUT/slurm/job``), or None for a dry run."""
    directory = out / SLURM_DIR
    (directory / "logs").mkdir(parents=True, exist_ok=True)
    path = directory / SCRIPT
    path.write_text(script, encoding="utf-8")
    path.chmod(0o755)
    if dry_run:
        return None
    if shutil.which("sbatch") is None:
        raise SearchError("--executor slurm needs sbatch on PATH (a Slurm login node), or --dry-run to write the job script only")
    done = subprocess.run(["sbatch", "--parsable", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        raise SearchError(f"sbatch {path} failed: {(done.stderr or done.stdout).strip()}")
    job = done.stdout.strip().split(";")[0]
    if not job:
        raise SearchError(f"sbatch {path} printed no job id")
    (directory / JOB_FILE).write_text(job + "\n", encoding="utf-8")
    return job


def last_job(out: pathlib.Path) -> Optional[str]:
    """The id of the last array submitted for the search in `out`, if any."""
    path = out / SLURM_DIR / JOB_FILE
    if not path.is_file():
        return None
    return path.read_text(encoding="utf-8").strip() or None


def in_queue(job: str) -> Optional[bool]:
    """Whether a task of `job` is still pending, running or completing (squeue); None
    when squeue cannot tell (not installed, the controller not answering)."""
    if shutil.which("squeue") is None:
        return None
    try:
        done = subprocess.run(["squeue", "-h", "-j", job, "-o", "%T"], capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return None
    if done.returncode != 0:
        return False if "Invalid job id" in done.stderr else None
    return bool(done.stdout.strip())


def wait(job: str, poll_s: float = 1.0, quiet: bool = False) -> None:
    """Wait until every task of `job` has left the queue (squeue; an unanswered squeue is
    tried again)."""
    if shutil.which("squeue") is None:
        raise SearchError("waiting for a Slurm job needs squeue on PATH")
    if not quiet:
        print(f"plasticity-search: waiting for Slurm job {job}", file=sys.stderr, flush=True)
    while in_queue(job) is not False:
        time.sleep(poll_s)


def running_jobs() -> Optional[set]:
    """The ids of this user's jobs (array tasks by their own id) that Slurm lists;
    None when squeue is not there or fails."""
    if shutil.which("squeue") is None:
        return None
    try:
        done = subprocess.run(
            ["squeue", "-h", "-u", getpass.getuser(), "-o", "%A"], capture_output=True, text=True, timeout=30
        )
    except (subprocess.TimeoutExpired, OSError):
        return None
    if done.returncode != 0:
        return None
    return {line.strip() for line in done.stdout.splitlines() if line.strip()}


def this_job() -> Optional[str]:
    """The Slurm job id of this process (an array task's own id), if it runs in one."""
    return os.environ.get("SLURM_JOB_ID") or None


def log_errors(out: pathlib.Path, limit: int = 5) -> List[str]:
    """Error lines of the tasks' logs (for a search whose workers failed)."""
    found: List[str] = []
    for log in sorted((out / SLURM_DIR / "logs").glob("worker_*.out")):
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            if "error" in line.lower() or "Traceback" in line:
                found.append(f"{log}: {line.strip()}")
                break
        if len(found) >= limit:
            break
    return found
