"""How a trial's ``plasticity run`` (and the check's dry runs) are executed.

``inprocess`` (the default): in the worker's own process through the bindings,
``plasticity.run_cli`` — the CLI's command set compiled into the extension module,
run with the GIL released. The trial's stdout and stderr (file descriptors 1 and 2)
go to ``trial.log`` while it runs. A worker killed with ``kill -9`` takes its trial with
it; SIGTERM or Ctrl-C stops the trial at its next safe point (``run_cli`` asks the run
to stop when Python's signal handler raises) and the worker marks it interrupted.

``subprocess``: ``plasticity run`` as a child process (``$PLASTICITY_CLI``, else
``plasticity`` on PATH), which gets SIGTERM if the worker dies (Linux). Chosen by
``--trial-runner subprocess`` or ``PLASTICITY_SEARCH_TRIAL_RUNNER=subprocess``, and
used whenever the installed bindings have no ``run_cli``."""

from __future__ import annotations

import contextlib
import os
import pathlib
import shutil
import signal
import subprocess
import sys
from typing import Iterator, List, Optional

from .errors import SearchError

RUNNERS = ("inprocess", "subprocess")
ENVIRONMENT = "PLASTICITY_SEARCH_TRIAL_RUNNER"


class Interrupted(Exception):
    """The trial's run was stopped by a signal: it is retried, not counted."""


class CommandFailed(Exception):
    """The command failed: its last line of error output (`message`) and, for a child
    process, its exit status."""

    def __init__(self, message: str, code: Optional[int] = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def default_runner() -> str:
    """``$PLASTICITY_SEARCH_TRIAL_RUNNER``, else ``inprocess``."""
    return os.environ.get(ENVIRONMENT) or "inprocess"


def in_process_available() -> bool:
    """Whether the installed bindings can run a command in-process."""
    try:
        from plasticity import run_cli  # noqa: F401
    except ImportError:
        return False
    return True


def find_cli() -> Optional[pathlib.Path]:
    """The ``plasticity`` binary if there is one (``$PLASTICITY_CLI`` or PATH)."""
    try:
        return cli_path()
    except SearchError:
        return None


def cli_path() -> pathlib.Path:
    """The ``plasticity`` binary: ``$PLASTICITY_CLI``, else ``plasticity`` on PATH."""
    configured = os.environ.get("PLASTICITY_CLI")
    if configured:
        path = pathlib.Path(configured)
        if not path.is_file():
            raise SearchError(f"PLASTICITY_CLI is {configured}, which is not a file")
        return path
    found = shutil.which("plasticity")
    if found is None:
        raise SearchError(
            "the plasticity command is not on PATH: build it (cargo build --release) "
            "and put target/release on PATH, or set PLASTICITY_CLI "
            "(or install bindings with run_cli for in-process trials)"
        )
    return pathlib.Path(found)


class Runner:
    """Runs ``plasticity ARGS`` in-process or as a child process."""

    def __init__(self, name: Optional[str] = None) -> None:
        name = name or default_runner()
        if name not in RUNNERS:
            raise SearchError(f"the trial runner must be one of {', '.join(RUNNERS)}, got {name!r} (--trial-runner, ${ENVIRONMENT})")
        if name == "inprocess" and not in_process_available():
            name = "subprocess"  # bindings built before run_cli existed
        self.name = name
        self.cli: Optional[pathlib.Path] = cli_path() if name == "subprocess" else find_cli()

    def run(self, args: List[str], log: Optional[pathlib.Path]) -> None:
        """Run ``plasticity ARGS``, its output to `log` (None: discarded). Raises
        `CommandFailed`, or `Interrupted` (a child stopped by a signal) /
        `KeyboardInterrupt` (this process's signal, in-process)."""
        if self.name == "inprocess":
            _run_in_process(args, log)
        else:
            _run_subprocess(self.cli or cli_path(), args, log)


def _run_in_process(args: List[str], log: Optional[pathlib.Path]) -> None:
    from plasticity import CliError, run_cli

    failure: Optional[str] = None
    with _output_to(log):
        try:
            run_cli(args)
        except (CliError, ValueError) as error:
            failure = str(error)
    if failure is not None:
        if log is not None:
            with open(log, "a") as sink:
                sink.write(failure + "\n")
        raise CommandFailed(failure)


@contextlib.contextmanager
def _output_to(log: Optional[pathlib.Path]) -> Iterator[None]:
    """File descriptors 1 and 2 to `log` (or /dev/null) for the duration."""
    sys.stdout.flush()
    sys.stderr.flush()
    target = os.open(str(log) if log is not None else os.devnull, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    saved = [os.dup(1), os.dup(2)]
    try:
        os.dup2(target, 1)
        os.dup2(target, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, target):
            os.close(fd)


def _run_subprocess(cli: pathlib.Path, args: List[str], log: Optional[pathlib.Path]) -> None:
    """The child gets SIGTERM if this process dies (Linux), so a killed worker leaves
    no fit running."""
    with open(log if log is not None else os.devnull, "w") as sink:
        process = subprocess.Popen(
            [str(cli), *args],
            stdout=sink,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        try:
            code = process.wait()
        except BaseException:
            process.terminate()
            process.wait()
            raise
    if code < 0 or code in (128 + signal.SIGTERM, 128 + signal.SIGINT):
        raise Interrupted(f"plasticity run was stopped by signal {abs(code)}")
    if code != 0:
        lines = log.read_text(errors="replace").strip().splitlines() if log is not None else []
        raise CommandFailed(lines[-1] if lines else "no message", code)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    import ctypes

    PR_SET_PDEATHSIG = 1
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass
