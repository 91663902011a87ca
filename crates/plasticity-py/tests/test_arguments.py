"""Keyword errors in Python's terms: the function and keyword named as Python spells
them, TypeError for a wrong type, ValueError for a wrong value; the command line's
option spellings accepted; signatures without ``<object …>`` sentinels."""

import inspect

import pytest

import plasticity as pl


@pytest.fixture(scope="module")
def tiny():
    return pl.simulate_oja(n_pre=3, n_post=4, steps=6, trajectories=2, seed=1)


@pytest.mark.parametrize(
    "keywords, exception, message",
    [
        ({"epochs": "many"}, TypeError, r"fit\(\): epochs must be an int, got str 'many'"),
        ({"epochs": 2.5}, TypeError, r"fit\(\): epochs must be an int"),
        ({"epochs": True}, TypeError, r"fit\(\): epochs must be an int"),
        ({"epochs": 0}, ValueError, r"fit\(\): epochs must be at least 1"),
        ({"learning_rate": "fast"}, TypeError, r"fit\(\): learning_rate must be a number"),
        ({"l1": -1.0}, ValueError, r"fit\(\): l1 must be at least 0"),
        ({"trainable": 3}, TypeError, r"fit\(\): trainable must be a str"),
        ({"hidden": "10"}, TypeError, r"fit\(\): hidden must be a sequence of int"),
        ({"gradient": "sideways"}, ValueError, r"fit\(\): gradient must be one of"),
        ({"gradient": 1}, TypeError, r"fit\(\): gradient must be a str"),
        ({"optimizer": "sgd"}, ValueError, r"fit\(\): optimizer must be one of"),
        ({"solver": "newton"}, ValueError, r"fit\(\): solver must be one of"),
        ({"seed": -1}, ValueError, r"fit\(\): seed must be at least 0"),
    ],
)
def test_fit_keyword_errors_name_the_keyword_with_the_right_exception(
    tiny, keywords, exception, message
):
    with pytest.raises(exception, match=message):
        pl.fit(tiny, **keywords)


def test_fit_data_of_a_wrong_type_is_a_type_error():
    with pytest.raises(TypeError, match=r"fit\(\): data must be"):
        pl.fit(42)
    with pytest.raises(TypeError, match=r"rule_family"):
        pl.fit(pl.simulate_oja(n_pre=2, n_post=2, steps=3, trajectories=1), rule_family=3)


@pytest.mark.parametrize(
    "keywords, exception, message",
    [
        ({"n_pre": 0}, ValueError, r"simulate_oja\(\): n_pre must be at least 1, got 0"),
        ({"n_post": "10"}, TypeError, r"simulate_oja\(\): n_post must be an int"),
        ({"noise_std": -0.1}, ValueError, r"simulate_oja\(\): noise_std must be at least 0"),
        ({"steps": 1.0}, TypeError, r"simulate_oja\(\): steps must be an int"),
    ],
)
def test_simulate_oja_keyword_errors(keywords, exception, message):
    with pytest.raises(exception, match=message):
        pl.simulate_oja(**keywords)


def test_simulate_behaviour_keyword_errors():
    with pytest.raises(ValueError, match=r"simulate_behaviour\(\): sessions must be at least 1"):
        pl.simulate_behaviour(sessions=0)
    with pytest.raises(TypeError, match=r"simulate_behaviour\(\): trials_per_block must be an int"):
        pl.simulate_behaviour(trials_per_block="80")


def test_the_command_line_spellings_are_accepted(tiny):
    a = pl.fit(tiny, gradient="full-tape", solver="lbfgs", epochs=3)
    b = pl.fit(tiny, gradient="full_tape", solver="lbfgs", epochs=3)
    assert list(a.theta) == list(b.theta)
    c = pl.fit(tiny, gradient="auto", solver="LBFGS", epochs=3, trainable=["x*y", "y^2*w"])
    d = pl.fit(tiny, solver="lbfgs", epochs=3, trainable="x*y,y^2*w")
    assert list(c.theta) == list(d.theta)


def test_signatures_show_no_object_sentinels():
    for name in pl.__all__:
        item = getattr(pl, name)
        if callable(item) and not isinstance(item, type):
            try:
                signature = str(inspect.signature(item))
            except (TypeError, ValueError):
                continue
            assert "<object object" not in signature, f"{name}{signature}"


@pytest.mark.parametrize(
    "keywords, exception, message",
    [
        ({"update_every": "often"}, TypeError, r"fit_online\(\): update_every must be an int"),
        ({"update_every": 0}, ValueError, r"fit_online\(\): update_every must be at least 1"),
        ({"learning_rate": "fast"}, TypeError, r"fit_online\(\): learning_rate must be a number"),
        ({"decay_after": -1}, ValueError, r"fit_online\(\): decay_after must be at least 0"),
        ({"trainable": 3}, TypeError, r"fit_online\(\): trainable must be a str"),
        ({"rule_family": "spline"}, ValueError, r"fit_online\(\): rule_family must be"),
        ({"seed": 1.5}, TypeError, r"fit_online\(\): seed must be an int"),
    ],
)
def test_fit_online_keyword_errors_name_the_keyword(tmp_path, tiny, keywords, exception, message):
    path = tmp_path / "tiny.npz"
    tiny.save(path)
    with pytest.raises(exception, match=message):
        pl.fit_online(path, **keywords)


def test_fit_online_takes_trainable_terms_as_a_list(tmp_path, tiny):
    path = tmp_path / "tiny.npz"
    tiny.save(path)
    listed = pl.fit_online(path, update_every=2, trainable=["x*y", "y^2*w"], init="zeros")
    joined = pl.fit_online(path, update_every=2, trainable="x*y,y^2*w", init="zeros")
    assert list(listed.theta) == list(joined.theta)
