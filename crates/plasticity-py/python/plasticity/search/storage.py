"""Where a search lives: the Optuna study in its storage (by default a journal file
in the output directory), the lock that makes "count the trials, then ask for one"
atomic across workers, and the recovery of trials whose worker died.

Optuna's journal storage has no heartbeats (only RDB storage has), so a worker
records its host, pid and process start time (and its Slurm job, in one) on each
trial it runs; before asking for a trial, a worker (and the coordinator at start and
end) marks every RUNNING trial whose worker process on this host is gone, or whose
Slurm job on another host Slurm no longer lists, as FAIL and enqueues its parameters
once more (a retry of a retry is not retried)."""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import pathlib
import socket
import warnings
from typing import Any, Callable, Dict, Iterator, List, Optional, cast

import optuna
from optuna.trial import FrozenTrial, TrialState

from . import slurm
from .errors import SearchError

JOURNAL = "journal.log"
LOCK = "search.lock"


def open_study(out: pathlib.Path, storage_url: Optional[str], direction: str) -> optuna.Study:
    """The study of the search in `out` (created when new): `storage_url` is an
    Optuna RDB URL (``sqlite:///…``, ``postgresql://…``), or a path of a journal
    file; the default is ``out/journal.log``."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    storage: Any
    if storage_url and "://" in storage_url:
        storage = rdb_url(storage_url)
    else:
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        journal = pathlib.Path(storage_url) if storage_url else out / JOURNAL
        try:
            journal.parent.mkdir(parents=True, exist_ok=True)
            storage = JournalStorage(JournalFileBackend(str(journal)))
        except OSError as error:
            raise SearchError(f"cannot open the journal {journal}: {error}")
    try:
        return optuna.create_study(
            storage=storage, study_name=str(out.resolve()), direction=cast(Any, direction), load_if_exists=True
        )
    except Exception as error:  # a storage Optuna cannot open: the user's URL or file
        raise SearchError(f"cannot open the storage {storage_url or out / JOURNAL}: {error}")


def rdb_url(url: str) -> str:
    """`url` with a PostgreSQL driver SQLAlchemy can load: a bare ``postgresql://`` means
    psycopg2 to SQLAlchemy 2.0 and psycopg (3) to 2.1; the one installed is named
    (``postgresql+psycopg://``) when only psycopg is. Other URLs are left as they are."""
    if not url.startswith("postgresql://") and not url.startswith("postgres://"):
        return url
    rest = url.split("://", 1)[1]
    have = lambda name: importlib.util.find_spec(name) is not None  # noqa: E731
    if have("psycopg") and not have("psycopg2"):
        return "postgresql+psycopg://" + rest
    if have("psycopg2") and not have("psycopg"):
        return "postgresql+psycopg2://" + rest
    if not have("psycopg") and not have("psycopg2"):
        raise SearchError(
            "a postgresql:// storage needs a driver: pip install 'psycopg[binary]' "
            "(the search extra has it: pip install 'plasticity[search]')"
        )
    return "postgresql://" + rest


@contextlib.contextmanager
def search_lock(out: pathlib.Path) -> Iterator[None]:
    """An exclusive lock on the search (``out/search.lock``, flock)."""
    with open(out / LOCK, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def this_worker() -> Dict[str, Any]:
    """This process as a trial records it: host, pid and start time (so that a
    reused pid is not taken for the worker)."""
    worker: Dict[str, Any] = {"host": socket.gethostname(), "pid": os.getpid(), "start": _start_time(os.getpid())}
    job = slurm.this_job()
    if job:
        worker["slurm_job"] = job
    return worker


def worker_label(worker: Optional[Dict[str, Any]]) -> str:
    return f"{worker['host']}:{worker['pid']}" if worker else ""


def is_alive(worker: Dict[str, Any], jobs: Optional[Callable[[], Optional[set]]] = None) -> bool:
    """Whether the recorded worker process still runs. On another host: a worker in a
    Slurm job is alive while Slurm lists its job (`jobs`: the ids squeue lists, None
    when it cannot tell); any other is assumed alive."""
    if worker.get("host") != socket.gethostname():
        listed = jobs() if jobs is not None and worker.get("slurm_job") else None
        return True if listed is None else str(worker["slurm_job"]) in listed
    pid = int(worker["pid"])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = _stat(pid)
    if stat is None:
        return True  # no /proc: trust the signal
    state, start = stat
    return state != "Z" and (worker.get("start") is None or start == worker["start"])


def recover_dead_workers(study: optuna.Study) -> int:
    """Mark RUNNING trials of dead workers FAIL (attribute ``failure``) and enqueue
    each once again (attribute ``retry_of``); the number marked. Call under the lock."""
    storage = study._storage
    marked = 0
    listed: List[Optional[set]] = []

    def jobs() -> Optional[set]:  # squeue once per recovery, only when needed
        if not listed:
            listed.append(slurm.running_jobs())
        return listed[0]

    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = trial.user_attrs.get("worker")
        if not worker or is_alive(worker, jobs):
            continue
        retry = trial.user_attrs.get("retry_of") is None
        storage.set_trial_user_attr(trial._trial_id, "failure", f"worker {worker_label(worker)} died during the trial")
        storage.set_trial_user_attr(trial._trial_id, "retried", retry)
        storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL)
        if retry:
            requeue(study, trial)
        marked += 1
    return marked


def requeue(study: optuna.Study, trial: FrozenTrial) -> None:
    """Enqueue `trial`'s parameters again, with its seed (the retry is the same run)."""
    study.enqueue_trial(
        trial.params,
        user_attrs={"retry_of": trial.number, "seed_trial": trial.user_attrs.get("seed_trial", trial.number)},
    )


def counted(trial: FrozenTrial) -> bool:
    """Whether `trial` counts against the trial budget: finished, running, or waiting
    to run; a failed trial that was retried does not (its retry does)."""
    if trial.state == TrialState.FAIL:
        return not trial.user_attrs.get("retried", False)
    return True


def finished(study: optuna.Study) -> int:
    """The finished trials that count against the budget."""
    return sum(1 for t in study.get_trials(deepcopy=False) if t.state.is_finished() and counted(t))


def _stat(pid: int) -> Optional[tuple]:
    try:
        text = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[19])


def _start_time(pid: int) -> Optional[int]:
    stat = _stat(pid)
    return stat[1] if stat else None
