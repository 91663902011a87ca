"""plasticity.search on a cluster, without one: the Slurm executor against stand-ins
for sbatch and squeue (an array's tasks run here as background processes), the
recovery of a dead worker's trial on another host by its Slurm job, and the choice of
a PostgreSQL driver. scripts/search/test-cluster.sh runs the same on a real Slurm
cluster and a real PostgreSQL server."""

import csv
import os
import pathlib
import socket
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("optuna", reason="plasticity.search needs optuna: pip install 'plasticity[search]'")

from conftest import cli_binary  # noqa: E402
from plasticity.search import storage  # noqa: E402

FIXTURES = pathlib.Path(__file__).parent / "search"

# sbatch --parsable SCRIPT: runs each task of `#SBATCH --array=0-N` as a detached
# process with SLURM_ARRAY_TASK_ID and SLURM_JOB_ID set, output to `#SBATCH --output`;
# records the tasks' pids in $FAKE_SLURM/JOB/TASK_JOB_ID.
FAKE_SBATCH = r'''
import os, pathlib, re, subprocess, sys
script = pathlib.Path(sys.argv[-1])
text = script.read_text()
first, last = map(int, re.search(r"#SBATCH --array=(\d+)-(\d+)", text).groups())
output = re.search(r"#SBATCH --output=(\S+)", text).group(1)
state = pathlib.Path(os.environ["FAKE_SLURM"])
job = str(100 + len(list(state.iterdir())))
(state / job).mkdir()
for task in range(first, last + 1):
    task_job = f"{job}{task:03d}"
    env = {**os.environ, "SLURM_ARRAY_TASK_ID": str(task), "SLURM_JOB_ID": task_job, "SLURM_ARRAY_JOB_ID": job}
    with open(output.replace("%a", str(task)), "w") as log:
        process = subprocess.Popen(["bash", str(script)], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    (state / job / task_job).write_text(str(process.pid))
print(job)
'''

# squeue -h -j JOB -o %T | squeue -h -u USER -o %A: the recorded tasks still alive.
FAKE_SQUEUE = r'''
import os, pathlib, sys
state = pathlib.Path(os.environ["FAKE_SLURM"])
def alive(pid):
    try:
        status = pathlib.Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status
args = sys.argv[1:]
jobs = [args[args.index("-j") + 1]] if "-j" in args else [p.name for p in state.iterdir()]
for job in jobs:
    if not (state / job).is_dir():
        sys.exit("slurm_load_jobs error: Invalid job id specified")
    for task in sorted((state / job).iterdir()):
        if alive(int(task.read_text())):
            print("RUNNING" if "%T" in args else task.name)
'''


@pytest.fixture
def fake_slurm(tmp_path, monkeypatch):
    """PATH with stand-ins for sbatch and squeue; the environment for `search`."""
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    for name, body in (("sbatch", FAKE_SBATCH), ("squeue", FAKE_SQUEUE)):
        path = bin_dir / name
        path.write_text(f"#!{sys.executable}\n{body}")
        path.chmod(0o755)
    state = tmp_path / "fake-slurm"
    state.mkdir()
    return {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "FAKE_SLURM": str(state),
        "PLASTICITY_CLI": str(cli_binary()),
    }


def search(*args, env=None, cwd=None, timeout=120):
    env = dict(env or {**os.environ, "PLASTICITY_CLI": str(cli_binary())})
    env.pop("PLASTICITY_SEARCH_STORAGE", None)
    return subprocess.run(
        [sys.executable, "-m", "plasticity.search", *map(str, args)],
        capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout,
    )


def rows(out):
    with open(out / "trials.csv") as handle:
        return list(csv.DictReader(handle))


def test_slurm_executor_submits_an_array_and_collect_writes_the_outputs(tmp_path, fake_slurm):
    out = tmp_path / "out"
    done = search(FIXTURES / "tiny.toml", "--out", out, "--executor", "slurm", "--workers", 2, env=fake_slurm)
    assert done.returncode == 0, done.stderr
    job = done.stdout.strip()
    assert job == "100" and (out / "slurm" / "job").read_text().strip() == job
    script = (out / "slurm" / "search.sh").read_text()
    assert "#SBATCH --array=0-1" in script and "plasticity.search.worker" in script
    assert "--collect" in done.stderr
    collected = search(FIXTURES / "tiny.toml", "--out", out, "--collect", env=fake_slurm)
    assert collected.returncode == 0, collected.stderr
    table = rows(out)
    assert len(table) == 6 and all(r["state"] == "COMPLETE" for r in table)
    assert "6 of 6 trials finished" in collected.stderr
    assert (out / "best.toml").is_file()
    logs = sorted(p.name for p in (out / "slurm" / "logs").iterdir())
    assert logs == ["worker_0.out", "worker_1.out"]
    lines = "".join(p.read_text() for p in (out / "slurm" / "logs").iterdir())
    assert lines.count("-> final_loss") == 6  # each trial's line is in its task's log


def test_slurm_wait_writes_the_outputs_and_a_journal_path_is_made_absolute(tmp_path, fake_slurm):
    out = tmp_path / "out"
    done = search(
        FIXTURES / "tiny.toml", "--out", out, "--executor", "slurm", "--workers", 2, "--wait",
        "--storage", "elsewhere/journal.log", "--sbatch-option=--time=5", env=fake_slurm, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    script = (out / "slurm" / "search.sh").read_text()
    assert "#SBATCH --time=5" in script and f"--storage {tmp_path / 'elsewhere/journal.log'}" in script
    assert (tmp_path / "elsewhere" / "journal.log").is_file() and not (out / "journal.log").exists()
    assert len(rows(out)) == 6 and "6 of 6 trials finished" in done.stderr


def test_slurm_dry_run_writes_the_script_only(tmp_path, fake_slurm):
    out = tmp_path / "out"
    done = search(FIXTURES / "tiny.toml", "--out", out, "--executor", "slurm", "--workers", 3, "--dry-run", env=fake_slurm)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(out / "slurm" / "search.sh")
    assert "#SBATCH --array=0-2" in (out / "slurm" / "search.sh").read_text()
    assert not (out / "slurm" / "job").exists() and not any(pathlib.Path(fake_slurm["FAKE_SLURM"]).iterdir())


def test_slurm_flags_need_the_slurm_executor_and_sbatch(tmp_path):
    done = search(FIXTURES / "tiny.toml", "--out", tmp_path / "out", "--wait")
    assert done.returncode == 2 and "--wait only with --executor slurm" in done.stderr
    env = {**os.environ, "PLASTICITY_CLI": str(cli_binary()), "PATH": str(pathlib.Path(sys.executable).parent)}
    done = search(FIXTURES / "tiny.toml", "--out", tmp_path / "out", "--executor", "slurm", env=env)
    assert done.returncode == 2 and "needs sbatch on PATH" in done.stderr, done.stderr
    done = search(FIXTURES / "tiny.toml", "--out", tmp_path / "none", "--collect")
    assert done.returncode == 2 and "holds no search to collect" in done.stderr


def test_a_worker_on_another_host_is_dead_once_slurm_no_longer_lists_its_job():
    elsewhere = {"host": socket.gethostname() + "-not", "pid": 1, "start": None, "slurm_job": "4242"}
    assert storage.is_alive(elsewhere, lambda: {"4242", "17"})
    assert not storage.is_alive(elsewhere, lambda: {"17"})
    assert storage.is_alive(elsewhere, lambda: None)  # squeue cannot tell: assumed alive
    assert storage.is_alive({**elsewhere, "slurm_job": None}, lambda: set())  # not in a job: assumed alive
    here = {"host": socket.gethostname(), "pid": os.getpid(), "start": storage._start_time(os.getpid()), "slurm_job": "1"}
    assert storage.is_alive(here, lambda: set())  # this host: the process decides


def test_a_dead_slurm_workers_trial_is_failed_and_queued_again(tmp_path, monkeypatch):
    import optuna
    from plasticity.search import slurm

    study = storage.open_study(tmp_path, None, "minimize")
    trial = study.ask({"x": optuna.distributions.FloatDistribution(0.0, 1.0)})
    trial.set_user_attr("worker", {"host": "node-elsewhere", "pid": 12, "start": 3, "slurm_job": "77"})
    monkeypatch.setattr(slurm, "running_jobs", lambda: {"77"})
    assert storage.recover_dead_workers(study) == 0
    monkeypatch.setattr(slurm, "running_jobs", lambda: set())
    assert storage.recover_dead_workers(study) == 1
    states = [t.state.name for t in study.get_trials()]
    assert states == ["FAIL", "WAITING"]
    assert "node-elsewhere:12 died" in study.get_trials()[0].user_attrs["failure"]


@pytest.mark.parametrize(
    "installed, url",
    [
        ({"psycopg"}, "postgresql+psycopg://u@h:5/db"),
        ({"psycopg2"}, "postgresql+psycopg2://u@h:5/db"),
        ({"psycopg", "psycopg2"}, "postgresql://u@h:5/db"),
    ],
)
def test_a_postgresql_url_names_the_installed_driver(monkeypatch, installed, url):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name in installed else (None if name.startswith("psycopg") else real(name, *a)))
    assert storage.rdb_url("postgresql://u@h:5/db") == url
    assert storage.rdb_url("sqlite:///x.db") == "sqlite:///x.db"


def test_a_postgresql_url_without_a_driver_says_what_to_install(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name.startswith("psycopg") else real(name, *a))
    with pytest.raises(storage.SearchError, match=r"psycopg\[binary\]"):
        storage.rdb_url("postgresql://u@h:5/db")


def test_the_storage_defaults_to_plasticity_search_storage(tmp_path):
    env = {**os.environ, "PLASTICITY_CLI": str(cli_binary()), "PLASTICITY_SEARCH_STORAGE": str(tmp_path / "shared.log")}
    body = textwrap.dedent(
        f"""
        experiment = "{FIXTURES / 'fast_fit.toml'}"
        [objective]
        metric = "final_loss"
        [budget]
        trials = 1
        [parameters]
        "fit.learning_rate" = {{ type = "float", low = 1e-3, high = 0.3, log = true }}
        """
    )
    (tmp_path / "s.toml").write_text(body)
    done = subprocess.run(
        [sys.executable, "-m", "plasticity.search", str(tmp_path / "s.toml"), "--out", str(tmp_path / "out"), "--quiet"],
        capture_output=True, text=True, env=env, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "shared.log").is_file() and not (tmp_path / "out" / "journal.log").exists()
