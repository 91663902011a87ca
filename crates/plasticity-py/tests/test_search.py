"""plasticity.search: the search file and its errors, a two-worker search, one
worker's reproducibility, and a search killed mid-trial then resumed. Each search
runs the real CLI on the tiny experiments of tests/search/."""

import csv
import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time

import pytest

pytest.importorskip("optuna", reason="plasticity.search needs optuna: pip install 'plasticity[search]'")

from conftest import cli_binary  # noqa: E402
from plasticity.search import SearchError, load  # noqa: E402

FIXTURES = pathlib.Path(__file__).parent / "search"


def write_search(tmp_path, body, experiment=FIXTURES / "fast_fit.toml"):
    path = tmp_path / "s.toml"
    path.write_text(f'experiment = "{experiment}"\n' + textwrap.dedent(body))
    return path


VALID = """
    [objective]
    metric = "final_loss"
    [budget]
    trials = 3
    [parameters]
    "fit.learning_rate" = { type = "float", low = 1e-3, high = 0.3, log = true }
"""


def search(*args, timeout=60):
    """`python -m plasticity.search ARGS`, its completed process."""
    env = {**os.environ, "PLASTICITY_CLI": str(cli_binary())}
    return subprocess.run(
        [sys.executable, "-m", "plasticity.search", *map(str, args)],
        capture_output=True, text=True, env=env, timeout=timeout,
    )


def rows(out):
    with open(out / "trials.csv") as handle:
        return list(csv.DictReader(handle))


def test_the_fixture_search_parses():
    spec = load(FIXTURES / "tiny.toml")
    assert [p.key for p in spec.parameters] == ["fit.learning_rate", "fit.epochs", "fit.init"]
    assert (spec.metric, spec.direction, spec.trials, spec.sampler, spec.seed) == ("final_loss", "minimize", 6, "tpe", 3)
    assert spec.parameters[0].log and spec.parameters[2].choices == ("random", "zeros")


@pytest.mark.parametrize(
    "body, key, line, words",
    [
        (VALID + 'bogus = 1\n', "parameters.bogus", 9, "must be a table"),
        (VALID.replace("trials = 3", "trials = 0"), "budget.trials", 6, "integer ≥ 1"),
        (VALID.replace("final_loss", ""), "objective.metric", 4, "required"),
        (VALID.replace("low = 1e-3", "low = 0.0"), "parameters.fit.learning_rate.low", 8, "log range needs low > 0"),
        (VALID.replace("high = 0.3", "high = 1e-4"), "parameters.fit.learning_rate.high", 8, "≥ low"),
        (VALID.replace('"float"', '"real"'), "parameters.fit.learning_rate.type", 8, "one of float, int, categorical"),
        (VALID + '[sampler]\nname = "bayes"\n', "sampler.name", 10, "tpe, random, gp, cmaes"),
        (VALID.replace("[budget]", "[budget]\nwall_time = \"soon\""), "budget.wall_time", 6, "duration"),
        (VALID.replace('"fit.learning_rate"', '"fit.seed"'), "parameters.fit.seed", 8, "seeds are set by the search"),
        ("color = 1\n" + VALID, "color", 2, "unknown key"),
    ],
)
def test_search_file_errors_name_the_file_key_and_line(tmp_path, body, key, line, words):
    path = write_search(tmp_path, body)
    with pytest.raises(SearchError) as raised:
        load(path)
    message = str(raised.value)
    assert message.startswith(f"{path}:{line}: key `{key}`:"), message
    assert words in message


def test_a_missing_experiment_is_named(tmp_path):
    path = write_search(tmp_path, VALID, experiment=tmp_path / "nowhere.toml")
    with pytest.raises(SearchError, match=r"s\.toml:1: key `experiment`: no experiment file"):
        load(path)


def test_a_key_the_experiment_refuses_is_reported_before_any_trial(tmp_path):
    path = write_search(tmp_path, VALID.replace("fit.learning_rate", "fit.learning_rat"))
    done = search(path, "--out", tmp_path / "out")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert f"{path}:8: key `parameters.fit.learning_rat`: the experiment fast_fit.toml refuses" in done.stderr
    assert "unknown key in [fit]" in done.stderr
    assert not (tmp_path / "out" / "trials").exists()


def test_a_metric_the_results_lack_stops_the_search_with_its_name(tmp_path):
    path = write_search(tmp_path, VALID.replace('"final_loss"', '"r2_everything"'))
    done = search(path, "--out", tmp_path / "out")
    assert done.returncode == 2
    assert "key `objective.metric`: the run's results.json has no metric `r2_everything`" in done.stderr
    assert "r2_weights" in done.stderr and "Traceback" not in done.stderr


def test_two_workers_run_the_budget_and_write_the_outputs(tmp_path):
    out = tmp_path / "out"
    done = search(FIXTURES / "tiny.toml", "--out", out, "--workers", 2)
    assert done.returncode == 0, done.stderr
    table = rows(out)
    assert [int(r["number"]) for r in table] == list(range(6))
    assert all(r["state"] == "COMPLETE" and float(r["final_loss"]) > 0 for r in table)
    assert len({r["worker"] for r in table}) == 2  # both workers took trials
    assert sum("-> final_loss" in line for line in done.stderr.splitlines()) == 6
    for r in table:
        trial = out / "trials" / f"{int(r['number']):04d}"
        assert (trial / "results.json").is_file() and (trial / "experiment.toml").is_file()
        assert f"seed = {r['seed']}" in (trial / "experiment.toml").read_text()
    best = min(table, key=lambda r: float(r["final_loss"]))
    assert f"best trial ({best['number']})" in (out / "best.toml").read_text()
    again = subprocess.run(
        [str(cli_binary()), "run", str(out / "best.toml"), "--out", str(tmp_path / "again"), "--quiet"],
        capture_output=True, text=True,
    )
    assert again.returncode == 0, again.stderr
    import json

    metrics = json.loads((tmp_path / "again" / "results.json").read_text())["cells"][0]["results"]["metrics"]
    assert repr(metrics["final_loss"]) == best["final_loss"]  # best.toml repeats the best trial


def test_one_worker_with_a_seed_is_reproducible(tmp_path):
    """In-process twice, then with the subprocess runner: the same trials, bit for bit."""
    outcomes = []
    for name, runner in (("first", "inprocess"), ("second", "inprocess"), ("third", "subprocess")):
        done = search(FIXTURES / "tiny.toml", "--out", tmp_path / name, "--quiet", "--trial-runner", runner)
        assert done.returncode == 0, done.stderr
        outcomes.append([(r["number"], r["fit.learning_rate"], r["fit.epochs"], r["fit.init"], r["seed"], r["final_loss"]) for r in rows(tmp_path / name)])
    assert outcomes[0] == outcomes[1] == outcomes[2] and len(outcomes[0]) == 6


def test_an_unknown_trial_runner_is_refused(tmp_path):
    env_done = subprocess.run(
        [sys.executable, "-m", "plasticity.search", str(FIXTURES / "tiny.toml"), "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "PLASTICITY_CLI": str(cli_binary()), "PLASTICITY_SEARCH_TRIAL_RUNNER": "threads"},
    )
    assert env_done.returncode == 2 and "the trial runner must be one of inprocess, subprocess" in env_done.stderr


def test_a_failing_trial_is_recorded_with_the_cli_message(tmp_path):
    """A run the CLI refuses fails the trial (in-process) with the CLI's message, which
    trial.log keeps too."""
    from plasticity.search import experiment as trials

    runner = trials.Runner("inprocess")
    assert runner.name == "inprocess"
    bad = tmp_path / "bad.toml"
    bad.write_text((FIXTURES / "fast_fit.toml").read_text().replace('optimizer = "adam"', 'optimizer = "no-such"'))
    (tmp_path / "run").mkdir()
    with pytest.raises(trials.TrialFailed, match="plasticity run failed: .*no-such"):
        trials.run_trial(runner, bad, tmp_path / "run")
    assert "plasticity: error:" in (tmp_path / "run" / "trial.log").read_text()


def test_a_search_killed_mid_trial_resumes_to_its_budget(tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "PLASTICITY_CLI": str(cli_binary())}
    command = [sys.executable, "-m", "plasticity.search", str(FIXTURES / "slow.toml"), "--out", str(out), "--quiet"]
    first = subprocess.Popen(command, env=env, start_new_session=True)
    running = out / "trials" / "0001" / "trial.log"
    deadline = time.time() + 30
    while not running.exists() and time.time() < deadline:
        time.sleep(0.05)
    assert running.exists(), "trial 1 never started"
    time.sleep(0.3)
    os.killpg(first.pid, signal.SIGKILL)  # the coordinator, its worker and the worker's plasticity run
    first.wait()
    assert not (out / "trials" / "0001" / "results.json").exists()

    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    table = {int(r["number"]): r for r in rows(out)}
    assert table[1]["state"] == "FAIL" and "died during the trial; retried" in table[1]["failure"]
    retries = [r for r in table.values() if r["retry_of"] == "1"]
    assert len(retries) == 1 and retries[0]["state"] == "COMPLETE"
    assert retries[0]["fit.learning_rate"] == table[1]["fit.learning_rate"]
    assert retries[0]["seed"] == table[1]["seed"]  # the retry is the same run
    assert sorted(table) == list(range(len(table)))  # every trial accounted for
    assert sum(r["state"] == "COMPLETE" for r in table.values()) == 4


def children(pid):
    """The pids whose parent is `pid` (from /proc)."""
    found = []
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if int(text[text.rindex(")") + 2 :].split()[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_a_worker_killed_mid_trial_is_made_up_for_by_the_others(tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "PLASTICITY_CLI": str(cli_binary())}
    command = [sys.executable, "-m", "plasticity.search", str(FIXTURES / "slow.toml"), "--out", str(out), "--workers", "2"]
    search_process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 30
    while not (out / "trials" / "0001" / "trial.log").exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    workers = children(search_process.pid)
    assert len(workers) == 2
    os.kill(workers[0], signal.SIGKILL)
    _, stderr = search_process.communicate(timeout=60)
    assert search_process.returncode == 0, stderr
    table = rows(out)
    killed = [r for r in table if r["state"] == "FAIL"]
    assert len(killed) == 1 and "died during the trial; retried" in killed[0]["failure"]
    retry = [r for r in table if r["retry_of"] == killed[0]["number"]]
    assert len(retry) == 1 and retry[0]["state"] == "COMPLETE" and retry[0]["seed"] == killed[0]["seed"]
    assert sum(r["state"] == "COMPLETE" for r in table) == 4
