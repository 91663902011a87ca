"""Fitting from Python: recovery, the result object, gradients, callbacks, bad
arguments and Ctrl-C."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import plasticity as pl


@pytest.fixture(scope="module")
def oja():
    return pl.simulate_oja(n_pre=10, n_post=30, steps=30, trajectories=5, seed=0)


def test_recovers_oja():
    # the CLI's default problem (`plasticity oja`): 20→100 neurons, 10 trajectories
    data = pl.simulate_oja(n_pre=20, n_post=100, trajectories=10)
    result = pl.fit(data, epochs=2000)
    assert abs(result.coefficients["x*y"] - 1.0) < 0.05
    assert abs(result.coefficients["y^2*w"] + 1.0) < 0.05
    assert result.metrics["r2_weights"] > 0.99
    assert result.theta_history.shape == (len(result.loss_history), 27)
    assert result.loss_history[-1] < result.loss_history[0]
    frame = result.to_pandas()
    assert list(frame.columns) == [
        "value", "generating", "error", "std_error", "lower", "upper", "determined"
    ]
    assert frame.loc["x*y", "generating"] == 1.0
    history = result.history_to_pandas()
    assert history.index[0] == 1 and "loss" in history.columns and "x*y" in history.columns
    assert "x*y" in result.expression and "FitResult(taylor" in repr(result)


def test_loss_gradient_matches_finite_differences(oja):
    rng = np.random.default_rng(0)
    theta = pl.parse_expression("x*y - y^2*w") + 0.01 * rng.standard_normal(27)
    loss, gradient = pl.loss_and_gradient(oja, theta, items=[0, 2])
    direction = rng.standard_normal(27)
    h = 1e-6
    plus, _ = pl.loss_and_gradient(oja, theta + h * direction, items=[0, 2])
    minus, _ = pl.loss_and_gradient(oja, theta - h * direction, items=[0, 2])
    numeric = (plus - minus) / (2 * h)
    assert numeric == pytest.approx(gradient @ direction, rel=1e-5)
    # the three ways of giving θ agree
    by_name = dict(zip(pl.term_names(), theta))
    assert pl.loss_and_gradient(oja, by_name, items=[0, 2])[0] == loss


def test_mlp_loss_and_gradient(oja):
    rule = pl.Rule.mlp(hidden=[3])
    theta = np.full(3 * 3 + 3 + 3 + 1, 0.01)
    loss, gradient = pl.loss_and_gradient(oja, theta, rule_family="mlp", hidden=rule.hidden)
    assert np.isfinite(loss) and gradient.shape == theta.shape and np.any(gradient != 0)


def test_callback_sees_every_epoch_and_can_stop(oja):
    seen = []

    def callback(epoch, loss, theta):
        seen.append((epoch, loss, theta.copy()))
        return epoch < 4

    result = pl.fit(oja, epochs=50, callback=callback)
    assert [s[0] for s in seen] == [1, 2, 3, 4]
    assert result.stop_reason["reason"] == "interrupted"
    assert len(result.loss_history) == 4
    np.testing.assert_array_equal(seen[-1][2], result.theta_history[-1])


def test_callback_exception_propagates(oja):
    def callback(epoch, loss, theta):
        raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        pl.fit(oja, epochs=5, callback=callback)


def test_bad_fit_arguments(oja):
    with pytest.raises(ValueError, match="sgd"):
        pl.fit(oja, optimizer="sgd")
    with pytest.raises(ValueError, match="epochs"):
        pl.fit(oja, epochs=0)
    with pytest.raises(ValueError, match="rule_family"):
        pl.fit(oja, rule_family="spline")
    with pytest.raises(ValueError, match="behaviour data only"):
        pl.fit(oja, eval_sessions=3)
    with pytest.raises(ValueError, match="trainable|term"):
        pl.fit(oja, trainable="x*q")
    # a wrong type of data is a TypeError (issue 26: Python's terms)
    with pytest.raises(TypeError, match="data"):
        pl.fit(np.zeros(3))
    with pytest.raises(ValueError, match="27"):
        pl.loss_and_gradient(oja, np.zeros(5))
    with pytest.raises(ValueError, match="out of range"):
        pl.loss_and_gradient(oja, "x*y", items=[7])
    with pytest.raises(ValueError, match="unknown term"):
        pl.loss_and_gradient(oja, {"x*q": 1.0})
    with pytest.raises(FloatingPointError, match="overflow"):
        pl.loss_and_gradient(oja, "1000*w^2")


def test_behaviour_and_fly_fits(fly_path):
    data = pl.simulate_behaviour(sessions=4, blocks=2, trials_per_block=20, seed=1)
    result = pl.fit(data, epochs=3, seed=2)
    assert len(result.theta) == 81 and result.kind == "behaviour"
    assert "percent_deviance" in result.metrics
    fly = pl.load_fly(fly_path)
    fly_fit = pl.fit(fly, trainable="1,x,r,x*r,w", init="zeros", epochs=3)
    nonzero = {k for k, v in fly_fit.coefficients.items() if v != 0.0}
    assert nonzero and nonzero <= {"1", "x", "r", "x*r", "w"}


INTERRUPTED = textwrap.dedent(
    """
    import json, signal, sys, plasticity as pl
    # an interactive interpreter's Ctrl-C, even when the tests run as a background job
    # (which starts its children with SIGINT ignored)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    data = pl.simulate_oja(n_pre=30, n_post=200, steps=50, trajectories=20, seed=0)
    def started(epoch, loss, theta):
        if epoch == 1:
            print("started", flush=True)
    try:
        # L-BFGS: Levenberg-Marquardt, the default, reaches round-off within a second
        pl.fit(data, epochs=100000, tolerance=0.0, solver="lbfgs", callback=started)
    except pl.FitInterrupted as stop:
        result = stop.result
        print(json.dumps({"epochs": len(result.loss_history),
                          "stop": result.stop_reason["reason"],
                          "finite": bool(all(abs(v) < 1e300 for v in result.theta))}),
              flush=True)
        sys.exit(3)
    """
)


def test_ctrl_c_interrupts_a_fit():
    child = subprocess.Popen([sys.executable, "-c", INTERRUPTED], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "started"
        time.sleep(0.5)
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
        waited = time.monotonic() - sent
    finally:
        child.kill()
    assert child.returncode == 3, err
    import json

    report = json.loads(out.strip().splitlines()[-1])
    assert report["stop"] == "interrupted" and report["finite"]
    assert 1 <= report["epochs"] < 100000
    # an epoch here takes well under a second; the fit must not run on to the end
    assert waited < 30


def test_the_gil_is_released_during_a_fit():
    import threading

    data = pl.simulate_oja(n_pre=20, n_post=100, trajectories=10, seed=0)
    done = threading.Event()
    ticks = []

    def fit():
        pl.fit(data, epochs=60, tolerance=0.0)
        done.set()

    worker = threading.Thread(target=fit)
    worker.start()
    while not done.is_set():  # runs only while the fit does not hold the GIL
        ticks.append(time.perf_counter())
        time.sleep(0.001)
    worker.join()
    assert len(ticks) > 20


def test_module_docstring_example():
    import doctest

    failures, tried = doctest.testmod(pl, verbose=False)
    assert tried >= 3 and failures == 0


def test_forward_mode_gives_the_adjoints_fit(oja):
    adjoint = pl.fit(oja, epochs=8, seed=1)
    forward = pl.fit(oja, epochs=8, seed=1, gradient="forward")
    np.testing.assert_allclose(forward.theta, adjoint.theta, rtol=1e-7, atol=1e-10)
    assert forward.settings["gradient"] == "forward"
    assert adjoint.settings["fit"]["max_backoffs"] == 5


def test_the_result_says_what_the_data_determine():
    data = pl.simulate_oja(n_pre=6, n_post=12, steps=30, trajectories=3, noise_std=0.05, seed=3)
    result = pl.fit(data, trainable="x*y,y^2*w,x", epochs=100)
    report = result.identifiability
    assert report["computed"] is True
    assert report["terms"] == ["y^2*w", "x", "x*y"]
    eigenvalues = report["eigenvalues"]
    assert eigenvalues == sorted(eigenvalues) and eigenvalues[0] > 0
    low, high = report["intervals"]["x*y"]
    assert low < result.coefficients["x*y"] < high
    assert pl.fit(data, pl.Rule.mlp(hidden=[2]), epochs=1).identifiability["computed"] is False
    # to_pandas() carries the same intervals, coefficients.csv's columns
    frame = result.to_pandas()
    assert (frame.loc["x*y", "lower"], frame.loc["x*y", "upper"]) == (low, high)
    assert frame.loc["x*y", "std_error"] == report["standard_errors"]["x*y"]
    assert frame["determined"].notna().sum() == 3
    assert np.isnan(frame.loc["w", "std_error"]) and frame["determined"].isna()["w"]  # fixed
    assert result.uncertainty["least_determined"] == report["sentences"][0]
    mlp = pl.fit(data, pl.Rule.mlp(hidden=[2]), epochs=1)
    assert mlp.identifiability["computed"] is False
    assert mlp.to_pandas()["std_error"].isna().all() and mlp.uncertainty["unavailable"]


def test_the_solver_is_levenberg_marquardt_by_default_and_says_which_ran(oja):
    default = pl.fit(oja, epochs=50)
    assert default.solver_used == "levenberg-marquardt"
    assert default.final_loss < 1e-20
    lbfgs = pl.fit(oja, epochs=3, solver="lbfgs")
    assert lbfgs.solver_used == "lbfgs"
    assert pl.fit(oja, epochs=3, l1=1e-3).solver_used == "lbfgs"
    with pytest.raises(ValueError, match="solver"):
        pl.fit(oja, epochs=3, l1=1e-3, solver="levenberg_marquardt")


def test_behaviour_fits_take_the_solver_and_say_which_ran():
    data = pl.simulate_behaviour(rule="x*r - 0.05*w", seed=0)
    terms = "1,x,r,w,x*r"
    fisher = pl.fit(data, trainable=terms, solver="levenberg-marquardt", init="zeros")
    assert fisher.solver_used == "levenberg-marquardt"
    lbfgs = pl.fit(data, trainable=terms, solver="lbfgs", l1=0.0, init="zeros")
    assert lbfgs.solver_used == "lbfgs"
    # damped Fisher scoring reaches the plain cross-entropy's optimum L-BFGS reaches
    assert fisher.final_loss <= lbfgs.final_loss * (1 + 1e-9)
    assert pl.fit(data, trainable=terms, epochs=2).solver_used == "adam"
    with pytest.raises(ValueError, match="l1"):
        pl.fit(data, trainable=terms, solver="levenberg-marquardt", l1=0.01, epochs=2)


def test_choices_are_simulated_and_fitted_through_the_same_engine(tmp_path):
    data = pl.simulate_choice(rule="x*r - 0.05*w", seed=0)
    assert data.kind == "choice"
    # every trial offers both odours and one is chosen
    assert data.n_presentations.tolist() == [480] * 18
    assert int(data.decisions.sum()) == 18 * 240
    path = tmp_path / "choice.npz"
    data.save(path)
    loaded = pl.load(path)
    assert loaded == data and loaded.kind == "choice"
    fit = pl.fit(data, trainable="1,x,r,x*r,w", solver="levenberg-marquardt", init="zeros")
    w = fit.coefficients["w"]
    assert -0.07 < w < -0.03, w
    assert fit.coefficients["x*r"] == max(fit.coefficients.values())
    # chance (ln 2 per choice) is the null: the fit explains part of it
    assert 0.0 < fit.metrics["percent_deviance"] < 100.0
    with pytest.raises(ValueError, match="kind"):
        pl._native.simulate_behaviour(
            rule="x*r", sessions=1, blocks=1, trials_per_block=2,
            reward_probabilities=[(0.5, 0.5)], n_in=2, n_hidden=2, odour_level=0.75,
            input_noise_std=0.0, initial_weight_std=0.01, expected_reward_window=2,
            reward_signal="raw", max_presentations_per_trial=1, seed=0, kind="maybe")
