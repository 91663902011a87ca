"""`plasticity.discover` is the CLI's `plasticity discover`: the same experiment file and
seed give bit-identical coefficients, and the result carries the public keys."""

import json

import pytest

import plasticity as pl
from conftest import REPO


def shortened_pca(tmp_path):
    text = (REPO / "experiments" / "pca.toml").read_text()
    for old, new in [("steps = 500", "steps = 100"), ("iterations = 500", "iterations = 12"),
                     ("tasks_per_step = 32", "tasks_per_step = 4"), ("tasks = 500 ", "tasks = 10 "),
                     ("validation_tasks = 64", "validation_tasks = 4")]:
        assert old in text
        text = text.replace(old, new, 1)
    path = tmp_path / "pca.toml"
    path.write_text(text)
    return path


def test_discover_matches_the_cli(tmp_path, cli):
    experiment = shortened_pca(tmp_path)
    result = pl.discover(experiment, seed=4)
    for key in ["coefficients", "metrics", "loss_history", "config", "seed", "version"]:
        assert key in result
    assert result["seed"] == 4
    assert len(result["loss_history"]) == 12
    for key in ["cos2_T", "cos2_5T", "weight_norm_median", "diverged_fraction", "baseline_cos2_T"]:
        assert isinstance(result["metrics"][key], float)
    cli("discover", experiment, "--out", tmp_path / "run", "--seed", "4")
    on_disk = json.loads((tmp_path / "run" / "results.json").read_text())
    assert on_disk["coefficients"] == result["coefficients"]
    assert on_disk["metrics"] == result["metrics"]


def test_discover_refuses_a_bad_optimizer(tmp_path):
    with pytest.raises(ValueError, match="cmaes"):
        pl.discover(shortened_pca(tmp_path), optimizer="sgd")
