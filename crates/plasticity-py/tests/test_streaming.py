"""Long recordings from Python: forward mode streams a neural recording from its file
(the same numbers as in memory), and online fits update the rule while it streams."""

import numpy as np
import pytest

import plasticity as pl


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    data = pl.simulate_oja(n_pre=6, n_post=10, steps=2000, trajectories=1, seed=2)
    path = tmp_path_factory.mktemp("long") / "long.npz"
    data.save(path)
    return data, path


def test_streamed_loss_and_gradient_equal_the_in_memory_ones(recording):
    data, path = recording
    theta = "0.8*x*y - 1.1*y^2*w + 0.01*x"
    streamed = pl.loss_and_gradient(path, theta, gradient="forward")
    in_memory = pl.loss_and_gradient(data, theta)
    assert streamed[0] == pytest.approx(in_memory[0], rel=1e-13)
    np.testing.assert_allclose(streamed[1], in_memory[1], rtol=1e-9, atol=1e-15)
    # a path without forward mode is loaded: exactly the in-memory numbers
    loaded = pl.loss_and_gradient(str(path), theta)
    assert loaded[0] == in_memory[0]
    with pytest.raises(ValueError, match="file path"):
        pl.loss_and_gradient(data, theta, gradient="forward")


def test_a_streamed_fit_equals_the_in_memory_forward_fit(recording):
    data, path = recording
    streamed = pl.fit(path, gradient="forward", epochs=4, eval_trajectories=0)
    # the streamed fit runs L-BFGS; in memory, Levenberg-Marquardt is the default
    in_memory = pl.fit(data, gradient="forward", epochs=4, eval_trajectories=0, solver="lbfgs")
    np.testing.assert_array_equal(streamed.theta, in_memory.theta)
    np.testing.assert_array_equal(streamed.loss_history, in_memory.loss_history)
    assert streamed.metrics["r2_weights"] is None


def test_online_fit_moves_towards_oja_and_can_be_stopped(recording):
    _, path = recording
    result = pl.fit_online(path, update_every=10, learning_rate=0.02, init="zeros",
                           trainable="x*y,y^2*w")
    assert len(result.steps) == 200 and result.steps[0] == 10 and result.steps[-1] == 2000
    assert result.coefficients["x*y"] > 0.5 and result.coefficients["y^2*w"] < -0.5
    assert sum(v != 0 for v in result.coefficients.values()) == 2
    assert not result.stopped and result.non_finite is None
    history = result.history_to_pandas()
    assert history.index.name == "step" and list(history.columns[:2]) == ["window_loss", "1"]
    stopped = pl.fit_online(path, update_every=10, learning_rate=0.02, init="zeros",
                            trainable="x*y,y^2*w", callback=lambda update, loss, theta: update < 5)
    assert len(stopped.steps) == 5 and stopped.stopped and not stopped.interrupted
    with pytest.raises(FileNotFoundError, match="nowhere.npz"):
        pl.fit_online(path.parent / "nowhere.npz")
