"""Datasets round-trip through .npz and NumPy; bad input raises the right exception
with a message naming the file or argument and what was expected."""

import numpy as np
import pytest

import plasticity as pl


@pytest.fixture(scope="module")
def oja():
    return pl.simulate_oja(n_pre=6, n_post=10, steps=12, trajectories=3, seed=1,
                           recording_fraction=0.6, noise_std=0.1)


@pytest.fixture(scope="module")
def behaviour():
    return pl.simulate_behaviour(sessions=2, blocks=1, trials_per_block=12, seed=2)


def test_neural_dataset_round_trips_through_npz(oja, tmp_path):
    path = tmp_path / "oja.npz"
    oja.save(path)
    again = pl.NeuralDataset.load(path)
    assert again == oja
    assert isinstance(pl.load(path), pl.NeuralDataset)
    # the file is a plain NumPy .npz with the docs/model.md §6 arrays
    with np.load(path) as arrays:
        np.testing.assert_array_equal(arrays["inputs"], oja.inputs)
        np.testing.assert_array_equal(arrays["recorded_activity"], oja.recorded_activity)
        np.testing.assert_array_equal(arrays["recorded_neurons"], oja.recorded_neurons)


def test_neural_dataset_from_arrays(oja):
    rebuilt = pl.NeuralDataset(oja.inputs, oja.initial_weights, oja.recorded_activity,
                               recorded_neurons=oja.recorded_neurons.tolist(),
                               metadata=oja.metadata)
    assert rebuilt == oja
    assert oja.inputs.shape == (3, 12, 6)
    assert oja.recorded_activity.shape == (3, 12, len(oja.recorded_neurons))
    assert len(oja.recorded_neurons) == 6  # 60 % of 10
    assert oja.metadata["rule"] == "x*y - y^2*w" and oja.generating_rule == "x*y - y^2*w"
    # arrays are copies: changing one does not change the dataset
    inputs = oja.inputs
    inputs[0, 0, 0] += 1.0
    assert oja.inputs[0, 0, 0] != inputs[0, 0, 0]


def test_behaviour_dataset_round_trips(behaviour, tmp_path):
    path = tmp_path / "b.npz"
    behaviour.save(path)
    assert pl.BehaviourDataset.load(path) == behaviour
    assert isinstance(pl.load(path), pl.BehaviourDataset)
    rebuilt = pl.BehaviourDataset(
        inputs=behaviour.inputs, odours=behaviour.odours, decisions=behaviour.decisions,
        trial_of_presentation=behaviour.trial_of_presentation,
        n_presentations=behaviour.n_presentations.tolist(), rewards=behaviour.rewards,
        expected_rewards=behaviour.expected_rewards, n_trials=behaviour.n_trials.tolist(),
        initial_weights=behaviour.initial_weights, metadata=behaviour.metadata)
    assert rebuilt == behaviour
    assert behaviour.n_trials.tolist() == [12, 12]
    assert behaviour.decisions.max() == 1


def test_fly_recording(fly_path):
    fly = pl.load_fly(fly_path)
    # facts of Fly1 (data/flies/README.md): 286 presentations, 46 rejections, 146 rewards
    assert fly.name == "Fly1"
    assert fly.n_presentations == 286
    assert int((fly.decisions == 0).sum()) == 46
    assert int(fly.rewards.sum()) == 146
    data = fly.to_dataset(seed=0)
    assert data.n_sessions == 1 and int(data.n_presentations[0]) == 286


def test_missing_files_raise_file_not_found(tmp_path):
    for load in (pl.load, pl.NeuralDataset.load, pl.BehaviourDataset.load, pl.load_fly):
        with pytest.raises(FileNotFoundError, match="nowhere.npz"):
            load(tmp_path / "nowhere.npz")


def test_malformed_files_raise_value_error_naming_the_file(tmp_path):
    text = tmp_path / "notes.npz"
    text.write_text("not a zip archive\n")
    with pytest.raises(ValueError, match="notes.npz"):
        pl.load(text)
    mat = tmp_path / "fly.mat"
    mat.write_bytes(b"MATLAB 5.0" + b"\0" * 50)
    with pytest.raises(ValueError, match="fly.mat"):
        pl.load_fly(mat)
    with pytest.raises(ValueError, match=r"\.mat or \.csv"):
        pl.load_fly(text)


def test_bad_arrays_name_the_variable(oja):
    with pytest.raises(ValueError, match="initial_weights"):
        pl.NeuralDataset(oja.inputs, oja.initial_weights[:, :, :3], oja.recorded_activity,
                         recorded_neurons=oja.recorded_neurons.tolist())
    bad = oja.recorded_activity.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="recorded_activity"):
        pl.NeuralDataset(oja.inputs, oja.initial_weights, bad,
                         recorded_neurons=oja.recorded_neurons.tolist())
    with pytest.raises(ValueError, match="recorded_neurons"):
        pl.NeuralDataset(oja.inputs, oja.initial_weights, oja.recorded_activity,
                         recorded_neurons=[-1] * 6)
    with pytest.raises(TypeError):
        pl.NeuralDataset(oja.inputs[0], oja.initial_weights, oja.recorded_activity)


def test_bad_simulation_settings():
    with pytest.raises(ValueError, match="recording"):
        pl.simulate_oja(n_pre=4, n_post=4, trajectories=1, recording_fraction=1.5)
    with pytest.raises(ValueError, match="rule expression 'x\\*q'"):
        pl.simulate_oja(n_pre=4, n_post=4, trajectories=1, rule="x*q")
    with pytest.raises(ValueError, match="reward_signal"):
        pl.simulate_behaviour(reward_signal="sometimes")
    with pytest.raises(ValueError, match="expression"):
        pl.simulate_oja(rule=pl.Rule.mlp())


def test_expressions():
    names = pl.term_names("xyw")
    assert len(names) == 27 and len(pl.term_names("xywr")) == 81
    theta = pl.parse_expression("x*y - y^2*w")
    assert theta[names.index("x*y")] == 1.0 and theta[names.index("y^2*w")] == -1.0
    assert sum(abs(v) for v in theta) == 2.0
    assert pl.format_expression(theta) == "x*y - y^2*w"
    assert pl.Rule.taylor("x*y - y^2*w").coefficients()["y^2*w"] == -1.0
    with pytest.raises(ValueError, match="variables"):
        pl.term_names("xyz")
    with pytest.raises(ValueError, match="27"):
        pl.format_expression([1.0, 2.0])
