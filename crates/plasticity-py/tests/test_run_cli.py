"""plasticity.run_cli: the CLI's commands in this process, the GIL released; errors as
exceptions carrying the CLI's message; several calls in one process."""

import json
import pathlib
import threading

import pytest

import plasticity as pl

FIXTURES = pathlib.Path(__file__).parent / "search"


def test_an_experiment_runs_in_process_twice(tmp_path):
    for name in ("first", "second"):
        pl.run_cli(["run", str(FIXTURES / "fast_fit.toml"), "--out", str(tmp_path / name), "--quiet"])
    first, second = (json.loads((tmp_path / n / "results.json").read_text()) for n in ("first", "second"))
    assert first["cells"][0]["results"]["metrics"] == second["cells"][0]["results"]["metrics"]
    run = json.loads((tmp_path / "first" / "run.json").read_text())
    assert run["command_line"][:2] == ["plasticity", "run"]  # the call's, not Python's
    # each run's log.txt holds its own events only
    assert str(tmp_path / "second") not in (tmp_path / "first" / "log.txt").read_text()


def test_errors_carry_the_cli_message(tmp_path):
    with pytest.raises(pl.CliError, match=r"plasticity: error: .*nowhere\.toml"):
        pl.run_cli(["run", str(tmp_path / "nowhere.toml"), "--out", str(tmp_path / "out"), "--quiet"])
    with pytest.raises(ValueError, match="unexpected argument '--no-such-flag'"):
        pl.run_cli(["run", "--no-such-flag"])


def test_other_python_threads_run_while_a_command_runs(tmp_path):
    ticks = []
    stop = threading.Event()

    def tick():
        while not stop.is_set():
            ticks.append(1)
            stop.wait(0.01)

    thread = threading.Thread(target=tick)
    thread.start()
    try:
        pl.run_cli(["run", str(FIXTURES / "slow_fit.toml"), "--out", str(tmp_path / "out"), "--quiet"])
    finally:
        stop.set()
        thread.join()
    assert len(ticks) > 5  # the GIL was released


def test_the_busy_fraction_sums_trials_over_workers_and_time():
    from plasticity.search.busy import busy_fraction

    summary = busy_fraction([(0.0, 2.0), (0.0, 6.0), (2.0, 6.0), (1.0, 5.0)], workers=3, wall_s=8.0)
    assert summary["summed_trial_s"] == 16.0 and summary["span_s"] == 6.0
    assert summary["busy_over_span"] == pytest.approx(16 / 18)
    assert summary["busy_over_wall"] == pytest.approx(16 / 24)
    # until the last start (t = 2): 2 + 2 + 0 + 1 of 3 workers × 2 s
    assert summary["busy_until_last_start"] == pytest.approx(5 / 6)
    assert summary["min_trial_s"] == 2.0 and summary["max_trial_s"] == 6.0 and summary["duration_ratio"] == 3.0
    with pytest.raises(ValueError, match="no finished trials"):
        busy_fraction([], workers=2)
    with pytest.raises(ValueError, match="workers must be"):
        busy_fraction([(0.0, 1.0)], workers=0)
