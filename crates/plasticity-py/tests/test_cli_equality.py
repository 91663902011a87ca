"""The Python package and the CLI are one library: the same seed and settings give
bit-identical datasets, coefficients and gradients."""

import csv
import json

import numpy as np
import pytest

import plasticity as pl

OJA = dict(n_pre=8, n_post=16, steps=20, trajectories=4, seed=3, noise_std=0.05,
           recording_fraction=0.75)
BEHAVIOUR = dict(sessions=3, blocks=2, trials_per_block=15, seed=5, rule="x*r - 0.05*w")


def flags(settings):
    out = []
    for key, value in settings.items():
        out += [f"--{key.replace('_', '-')}", str(value)]
    return out


def read_coefficients(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    name = "term" if "term" in rows[0] else "parameter"
    return {row[name]: float(row["value"]) for row in rows}


@pytest.fixture(scope="module")
def oja_file(cli, tmp_path_factory):
    path = tmp_path_factory.mktemp("oja") / "oja.npz"
    cli("simulate", "oja", "--out", path, *flags(OJA))
    return path


@pytest.fixture(scope="module")
def behaviour_file(cli, tmp_path_factory):
    path = tmp_path_factory.mktemp("behaviour") / "behaviour.npz"
    cli("simulate", "behaviour", "--out", path, *flags(BEHAVIOUR))
    return path


def test_simulations_are_identical(oja_file, behaviour_file):
    assert pl.load(oja_file) == pl.simulate_oja(**OJA)
    assert pl.load(behaviour_file) == pl.simulate_behaviour(**BEHAVIOUR)
    # and not trivially: another seed gives another dataset
    assert pl.load(oja_file) != pl.simulate_oja(**{**OJA, "seed": 4})


@pytest.mark.parametrize(
    "cli_flags, python_args",
    [
        (["--epochs", "25", "--seed", "2"], dict(epochs=25, seed=2)),
        (
            ["--optimizer", "adam", "--epochs", "6", "--learning-rate", "0.01", "--l1", "1e-4",
             "--seed", "1"],
            dict(optimizer="adam", epochs=6, learning_rate=0.01, l1=1e-4, seed=1),
        ),
        (
            ["--rule-family", "mlp", "--hidden", "4", "--epochs", "8", "--seed", "1"],
            dict(rule_family=pl.Rule.mlp(hidden=[4]), epochs=8, seed=1),
        ),
        (
            ["--trainable", "x*y,y^2*w", "--init", "zeros", "--epochs", "10"],
            dict(rule_family=pl.Rule.taylor("0", trainable="x*y,y^2*w"), epochs=10),
        ),
    ],
    ids=["lbfgs", "adam", "mlp", "trainable"],
)
def test_neural_fit_matches_cli(cli, oja_file, tmp_path, cli_flags, python_args):
    cli("fit", oja_file, "--out", tmp_path, *cli_flags)
    expected = read_coefficients(tmp_path / "coefficients.csv")
    result = pl.fit(pl.load(oja_file), **python_args)
    assert result.coefficients == expected
    results = json.loads((tmp_path / "results.json").read_text())
    assert len(result.loss_history) == len(results["loss_history"])
    np.testing.assert_array_equal(result.loss_history, results["loss_history"])


@pytest.mark.parametrize(
    "cli_flags, python_args",
    [
        (["--epochs", "3", "--seed", "4"], dict(epochs=3, seed=4)),
        (["--optimizer", "lbfgs", "--epochs", "5", "--weight-bound", "none", "--inputs",
          "recorded"], dict(optimizer="lbfgs", epochs=5, weight_bound=None, inputs="recorded")),
    ],
    ids=["adam", "lbfgs-recorded"],
)
def test_behaviour_fit_matches_cli(cli, behaviour_file, tmp_path, cli_flags, python_args):
    cli("fit", behaviour_file, "--out", tmp_path, *cli_flags)
    expected = read_coefficients(tmp_path / "coefficients.csv")
    result = pl.fit(pl.load(behaviour_file), **python_args)
    assert result.coefficients == expected
    assert len(expected) == 81


@pytest.mark.parametrize("theta", ["x*y - y^2*w", "0.3*x*y - 0.8*y^2*w + 0.01*w"])
def test_neural_loss_and_gradient_match_cli(cli, oja_file, theta):
    expected = json.loads(cli("loss", oja_file, "--theta", theta))
    loss, gradient = pl.loss_and_gradient(pl.load(oja_file), theta)
    assert loss == expected["loss"]
    assert dict(zip(pl.term_names("xyw"), gradient)) == expected["gradient"]


def test_behaviour_loss_and_gradient_match_cli(cli, behaviour_file):
    expected = json.loads(cli("loss", behaviour_file, "--theta", "x*r - 0.05*w"))
    loss, gradient = pl.loss_and_gradient(pl.load(behaviour_file), "x*r - 0.05*w")
    assert loss == expected["loss"]
    assert dict(zip(pl.term_names("xywr"), gradient)) == expected["gradient"]
