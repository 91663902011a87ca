"""Infer synaptic plasticity rules from neural activity or behaviour.

A parameterised rule ``Δw = g_θ(x, y, w, r)`` (a truncated Taylor series
``g_θ = Σ_{αβγδ} θ_{αβγδ} x^α y^β w^γ r^δ`` or a small MLP) sits inside a simulated
circuit; the circuit is run over the whole recording and ``θ`` is fitted by gradient
descent through the entire trajectory so that the simulation reproduces the recording.

Neural activity: ``y_t = sigmoid(W_t x_t)``, ``W_{t+1} = W_t + g_θ(x_t, y_t, W_t)``,
loss ``L = mean (y_t(θ) − ŷ_t)²`` over the recorded neurons.
Behaviour: odour → plastic ``tanh`` layer → ``P(accept)``; loss: the cross-entropy of
the recorded decisions.

>>> import plasticity as pl
>>> data = pl.simulate_oja(n_pre=20, n_post=100, trajectories=10)
>>> result = pl.fit(data, epochs=2000)
>>> round(result.coefficients["x*y"], 1), round(result.coefficients["y^2*w"], 1)
(1.0, -1.0)

The computations run in Rust with the GIL released; Ctrl-C stops a fit after the
current epoch and raises :class:`FitInterrupted`, which carries the result so far.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _arguments as _args
from . import _plasticity as _native
from ._plasticity import (
    BehaviourDataset,
    FlyRecording,
    NeuralDataset,
    format_expression,
    load,
    load_flies,
    load_fly,
    parse_expression,
    term_names,
)

__version__: str = _native.__version__

__all__ = [
    "BehaviourDataset",
    "FitInterrupted",
    "FitResult",
    "FlyRecording",
    "NeuralDataset",
    "Rule",
    "fit",
    "default_settings",
    "discover",
    "format_expression",
    "load",
    "load_flies",
    "load_fly",
    "loss_and_gradient",
    "parse_expression",
    "simulate_behaviour",
    "simulate_oja",
    "term_names",
]

Dataset = Union[NeuralDataset, BehaviourDataset]
PathLike = Union[str, "os.PathLike[str]"]
Theta = Union[str, Dict[str, float], Sequence[float], np.ndarray]


@dataclass(frozen=True)
class Rule:
    """A plasticity rule family, with its settings.

    ``Rule.taylor(expression)``: the truncated Taylor series
    ``Δw = Σ θ_{αβγ(δ)} x^α y^β w^γ (r^δ)`` with exponents 0–2 (27 terms over x, y, w;
    81 over x, y, w, r). ``expression`` (e.g. ``"x*y - y^2*w"``, Oja's rule) gives
    coefficients: the generating rule in a simulation, the starting point of a fit.
    ``trainable`` selects the fitted terms (``"all"``, ``"x*y,y^2*w"``, ``"vars:x,y"``,
    ``"degree:2"``); the others stay exactly 0.

    ``Rule.mlp(hidden=[10])``: ``Δw = MLP_θ(x, y, w(, r))`` with sigmoid hidden layers.
    """

    family: str
    expression: Optional[str] = None
    hidden: Tuple[int, ...] = (10,)
    trainable: str = "all"

    @classmethod
    def taylor(cls, expression: Optional[str] = None, *, trainable: str = "all") -> "Rule":
        """A Taylor rule, with coefficients given by ``expression`` (optional)."""
        return cls("taylor", expression, (10,), trainable)

    @classmethod
    def mlp(cls, hidden: Sequence[int] = (10,)) -> "Rule":
        """An MLP rule with the given hidden layer sizes."""
        hidden = tuple(int(h) for h in hidden)
        if not hidden or any(h < 1 for h in hidden):
            raise ValueError(f"hidden: expected positive layer sizes, got {list(hidden)}")
        return cls("mlp", None, hidden, "all")

    def coefficients(self, variables: str = "xyw") -> Dict[str, float]:
        """The Taylor coefficients of ``expression`` by term name (all terms)."""
        if self.family != "taylor":
            raise ValueError("coefficients: only a Taylor rule has coefficients")
        values = parse_expression(self.expression or "0", variables)
        return dict(zip(term_names(variables), values))

    def __str__(self) -> str:
        if self.family == "taylor":
            return f"Δw = {self.expression or '(fitted)'}"
        return f"Δw = MLP(hidden={list(self.hidden)})"


class FitInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a fit; ``.result`` holds the :class:`FitResult` (or, for
    :func:`fit_online`, the :class:`OnlineResult`) so far."""

    def __init__(self, result: Union["FitResult", "OnlineResult"]) -> None:
        done = (
            f"{len(result.loss_history)} epochs"
            if isinstance(result, FitResult)
            else f"{len(result.steps)} updates"
        )
        super().__init__(f"fit interrupted after {done}; the result so far is in .result")
        self.result = result


@dataclass
class FitResult:
    """A finished fit (like a SciPy ``OptimizeResult``).

    ``theta`` are the fitted parameters in the canonical basis (Taylor: the
    coefficient of each term; see ``parameter_names``), ``loss_history[k]`` the data
    loss after epoch ``k+1``, ``theta_history[k]`` the parameters after it. ``metrics``
    holds the final loss and, for simulated data, the R² of weights and activity on
    fresh trajectories and the coefficient error against the generating rule.
    ``identifiability`` is what the data determine about θ (the ``identifiability``
    section of the CLI's results.json: eigenvalues and directions of the Fisher
    information over the trainable terms, Laplace standard errors and 95 % intervals;
    ``computed`` is false, with the ``reason``, for MLP and streamed fits).
    ``solver_used`` names the optimiser that ran (neural data:
    ``"levenberg-marquardt"``, ``"lbfgs"`` or ``"adam"``; empty for behaviour).
    ``uncertainty`` is the same per coefficient, as ``to_pandas()`` shows it:
    ``coefficients`` (one dict per parameter: ``std_error``, ``lower``, ``upper``,
    ``determined``, None where not computed), ``least_determined`` (a sentence on the
    least-determined direction) and ``unavailable`` (why there are no intervals).
    """

    rule_family: str
    parameter_names: List[str]
    theta: np.ndarray
    loss_history: np.ndarray
    theta_history: np.ndarray
    stop_reason: Dict[str, Any]
    evaluations: int
    final_loss: float
    metrics: Dict[str, Any]
    settings: Dict[str, Any]
    basis: str
    generating: Optional[np.ndarray]
    interrupted: bool
    seconds: float
    version: str
    kind: str = field(default="neural")
    identifiability: Dict[str, Any] = field(default_factory=dict)
    solver_used: str = field(default="")
    uncertainty: Dict[str, Any] = field(default_factory=dict)

    @property
    def coefficients(self) -> Dict[str, float]:
        """Fitted parameter by name (Taylor: term name such as ``"x*y"``)."""
        return {name: float(v) for name, v in zip(self.parameter_names, self.theta)}

    @property
    def expression(self) -> str:
        """The fitted Taylor rule as an expression (terms ≥ 1e-12 in magnitude)."""
        if self.rule_family != "taylor":
            raise ValueError("expression: only a Taylor rule has one")
        return format_expression(list(self.theta), "xyw" if self.kind == "neural" else "xywr")

    def to_pandas(self):
        """The coefficients as a DataFrame indexed by term — the columns of the CLI's
        coefficients.csv: ``value``; ``generating`` and ``error`` when the data's
        generating rule is known; then ``std_error``, ``lower`` and ``upper`` (the
        Laplace standard error and 95 % interval) and ``determined`` (whether the
        interval's half-width is at most a tenth of the largest fitted ``|θ|``), NaN /
        ``<NA>`` where not computed (an MLP, a streamed fit, a term held fixed; the
        reason is ``uncertainty["unavailable"]``). Needs pandas."""
        pd = _pandas()

        frame = pd.DataFrame({"value": self.theta}, index=pd.Index(self.parameter_names))
        frame.index.name = "term" if self.rule_family == "taylor" else "parameter"
        if self.generating is not None:
            frame["generating"] = self.generating
            frame["error"] = self.theta - self.generating
        rows = self.uncertainty.get("coefficients") or [{} for _ in self.parameter_names]
        for column in ("std_error", "lower", "upper"):
            values = [row.get(column) for row in rows]
            frame[column] = [np.nan if v is None else float(v) for v in values]
        frame["determined"] = pd.array([row.get("determined") for row in rows], dtype="boolean")
        return frame

    def history_to_pandas(self):
        """Loss and parameters after every epoch as a DataFrame indexed by epoch
        (1-based): one column ``loss`` and one per parameter. Needs pandas."""
        pd = _pandas()

        frame = pd.DataFrame(self.theta_history, columns=self.parameter_names)
        frame.insert(0, "loss", self.loss_history)
        frame.index = pd.RangeIndex(1, len(frame) + 1, name="epoch")
        return frame

    def __repr__(self) -> str:
        reason = self.stop_reason.get("reason", "?")
        head = (
            f"FitResult({self.rule_family}, {len(self.loss_history)} epochs, "
            f"stop={reason}, final_loss={self.final_loss:.6g}"
        )
        for key in ("r2_weights", "r2_activity", "percent_deviance"):
            value = self.metrics.get(key)
            if isinstance(value, float):
                head += f", {key}={value:.4g}"
        if self.rule_family == "taylor":
            largest = sorted(self.coefficients.items(), key=lambda kv: -abs(kv[1]))[:4]
            head += ", largest: " + ", ".join(f"{name} {value:+.4g}" for name, value in largest)
        return head + ")"


def simulate_oja(
    *,
    n_pre: int = 100,
    n_post: int = 1000,
    steps: int = 50,
    trajectories: int = 50,
    noise_std: float = 0.0,
    recording_fraction: float = 1.0,
    rule: Union[str, Rule] = "x*y - y^2*w",
    seed: int = 0,
    input_std: float = math.sqrt(0.1),
    initial_weight_std: Optional[float] = None,
) -> NeuralDataset:
    """Neural activity of a plastic layer learning with ``rule`` (docs/model.md §4.1).

    Each trajectory starts from ``W₀ ~ N(0, 1/n_pre)`` (or ``initial_weight_std²``),
    with inputs ``x_t ~ N(0, input_std²)``; ``y_t = sigmoid(W_t x_t)`` and
    ``W_{t+1} = W_t + g(x_t, y_t, W_t)``. Gaussian noise ``N(0, noise_std²)`` is added
    once to the recording; a random ``recording_fraction`` of the postsynaptic
    neurons is kept. Defaults are the paper's experiment (100→1000 neurons, 50
    trajectories × 50 steps, Oja's rule ``Δw = x·y − y²·w``), as ``plasticity
    simulate oja``.
    """
    f = "simulate_oja"
    expression = _expression_of(rule)
    return _native.simulate_oja(
        n_pre=_args.integer(f, "n_pre", n_pre, 1),
        n_post=_args.integer(f, "n_post", n_post, 1),
        steps=_args.integer(f, "steps", steps, 1),
        trajectories=_args.integer(f, "trajectories", trajectories, 1),
        input_std=_args.real(f, "input_std", input_std, 0.0),
        initial_weight_std=(
            None
            if initial_weight_std is None
            else _args.real(f, "initial_weight_std", initial_weight_std, 0.0)
        ),
        noise_std=_args.real(f, "noise_std", noise_std, 0.0),
        recording_fraction=_args.real(f, "recording_fraction", recording_fraction, 0.0),
        rule=expression,
        seed=_args.integer(f, "seed", seed, 0),
    )


def simulate_behaviour(
    *,
    rule: Union[str, Rule] = "x*r",
    sessions: int = 18,
    blocks: int = 3,
    trials_per_block: int = 80,
    reward_probabilities: Sequence[Tuple[float, float]] = ((0.2, 0.8), (0.9, 0.1), (0.2, 0.8)),
    n_in: int = 2,
    n_hidden: int = 10,
    odour_level: float = 0.75,
    input_noise_std: float = 0.015,
    initial_weight_std: float = 0.01,
    expected_reward_window: int = 10,
    reward_signal: str = "centred",
    max_presentations_per_trial: int = 50,
    seed: int = 0,
) -> BehaviourDataset:
    """Simulated flies choosing odours in the two-odour task (docs/model.md §4.2).

    Each presentation's input ``x`` is the odour's pattern plus ``N(0,
    input_noise_std²)`` noise; ``h = tanh(W x)``, ``P(accept) = sigmoid(Σ h)``; an
    accepted odour is rewarded with its block's probability, and the plastic weights
    change by ``Δw = g(x, h, w, r)`` with ``r = R − E[R]`` (``"centred"``; ``E[R]`` the
    mean of the last ``expected_reward_window`` rewards) or ``r = R`` (``"raw"``).
    Defaults are those of docs/model.md §4.2, as ``plasticity simulate behaviour``.
    """
    f = "simulate_behaviour"
    return _native.simulate_behaviour(
        rule=_expression_of(rule),
        sessions=_args.integer(f, "sessions", sessions, 1),
        blocks=_args.integer(f, "blocks", blocks, 1),
        trials_per_block=_args.integer(f, "trials_per_block", trials_per_block, 1),
        reward_probabilities=[(float(a), float(b)) for a, b in reward_probabilities],
        n_in=n_in,
        n_hidden=n_hidden,
        odour_level=odour_level,
        input_noise_std=input_noise_std,
        initial_weight_std=initial_weight_std,
        expected_reward_window=expected_reward_window,
        reward_signal=reward_signal,
        max_presentations_per_trial=max_presentations_per_trial,
        seed=_args.integer(f, "seed", seed, 0),
    )


_UNSET: Any = _args.Default()


def fit(
    data: Union[Dataset, FlyRecording, PathLike],
    rule_family: Union[str, Rule] = "taylor",
    *,
    optimizer: Optional[str] = None,
    solver: Optional[str] = None,
    epochs: Optional[int] = None,
    learning_rate: Optional[float] = None,
    batch_size: Optional[int] = None,
    l1: Optional[float] = None,
    l2: Optional[float] = None,
    seed: Optional[int] = None,
    trainable: Optional[str] = None,
    hidden: Optional[Sequence[int]] = None,
    basis: Optional[str] = None,
    init: Optional[str] = None,
    tolerance: Optional[float] = None,
    lbfgs_memory: Optional[int] = None,
    max_backoffs: Optional[int] = None,
    gradient: Optional[str] = None,
    eval_trajectories: Optional[int] = None,
    weight_bound: Optional[float] = _UNSET,
    inputs: Optional[str] = None,
    input_seed: Optional[int] = None,
    eval_sessions: Optional[int] = None,
    callback: Optional[Callable[[int, float, np.ndarray], Optional[bool]]] = None,
) -> FitResult:
    """Fits a plasticity rule to a dataset by gradient descent through the whole
    recorded trajectory.

    Minimises the data loss (neural: mean squared error of the recorded activity;
    behaviour: cross-entropy of the decisions) plus ``l1 Σ|θ| + l2 Σθ²`` over the
    trainable Taylor coefficients. Every argument left at ``None`` takes the
    library's default for the kind of data — the same defaults as ``plasticity fit``:
    neural data ``solver="auto"``: Levenberg–Marquardt on the forward-mode Jacobian
    (staged horizon, centred basis), or L-BFGS (250 iterations, scaled basis) where an
    ``l1``/``l2`` penalty, ``optimizer="adam"`` or ``solver="lbfgs"`` is given;
    behaviour Adam (250 epochs, ``learning_rate=1e-3``, ``batch_size=1``,
    ``l1=1e-2``, canonical basis, ``weight_bound=10``, re-sampled sensory noise).
    So the CLI and Python give identical coefficients for the same settings and seed.

    ``data``: a :class:`NeuralDataset`, :class:`BehaviourDataset`, a
    :class:`FlyRecording` (fitted as a one-session behaviour dataset whose ``W₀`` is
    drawn from ``seed``), or the path of an ``.npz`` dataset — with
    ``gradient="forward"`` a neural recording then streams from the file at every
    evaluation instead of being loaded (R² on fresh trajectories is not computed). ``rule_family``: ``"taylor"``, ``"mlp"`` or a :class:`Rule`
    (its ``hidden``, ``trainable``, and its expression as the starting θ).
    ``gradient``: ``"checkpointed"`` (the reverse-mode adjoint, default), ``"full_tape"``
    or ``"forward"`` (forward mode: memory independent of the recording's length); the
    command line's spellings work too (``"full-tape"``; ``"auto"`` is the default).
    ``trainable``: term names as ``"x*y,y^2*w"`` or a list ``["x*y", "y^2*w"]``.
    A keyword of the wrong type raises ``TypeError``, a wrong value ``ValueError``,
    each naming the keyword.
    ``solver`` (neural data): ``"auto"``, ``"levenberg-marquardt"`` or ``"lbfgs"``
    (which runs ``optimizer``); the one that ran is ``result.settings``' solver and
    ``result.solver_used``.
    ``max_backoffs``: how often Adam may halve its step and retry from the last good
    θ after a non-finite loss (default 5).
    ``callback(epoch, loss, theta)`` is called after every epoch; returning ``False``
    stops the fit. Ctrl-C stops it too and raises :class:`FitInterrupted`.
    """
    overrides: Dict[str, Any] = {}
    fit_overrides: Dict[str, Any] = {}
    if isinstance(rule_family, Rule):
        overrides["rule_family"] = rule_family.family
        if rule_family.family == "mlp":
            overrides["hidden"] = list(rule_family.hidden)
        else:
            overrides["trainable"] = rule_family.trainable
            if rule_family.expression is not None:
                overrides["init"] = rule_family.expression
    elif rule_family in ("taylor", "mlp"):
        overrides["rule_family"] = rule_family
    elif isinstance(rule_family, str):
        raise ValueError(f'fit(): rule_family must be "taylor", "mlp" or a Rule, got {rule_family!r}')
    else:
        raise TypeError(
            f"fit(): rule_family must be \"taylor\", \"mlp\" or a Rule, got {type(rule_family).__name__}"
        )
    f = "fit"
    if gradient is not None:
        gradient = _args.choice(
            f, "gradient", gradient, ("checkpointed", "full_tape", "forward"), {"auto": None}
        )
    if solver is not None:
        solver = _args.choice(f, "solver", solver, ("auto", "levenberg-marquardt", "lbfgs"))
    if optimizer is not None:
        optimizer = _args.choice(f, "optimizer", optimizer, ("adam", "lbfgs"))
    given: Tuple[Tuple[str, Any], ...] = (
        ("trainable", None if trainable is None else _args.terms(f, "trainable", trainable)),
        ("hidden", None if hidden is None else _args.integers(f, "hidden", hidden)),
        ("basis", None if basis is None else _args.text(f, "basis", basis)),
        ("init", None if init is None else _args.text(f, "init", init)),
        ("gradient", gradient),
        (
            "eval_trajectories",
            None
            if eval_trajectories is None
            else _args.integer(f, "eval_trajectories", eval_trajectories, 0),
        ),
        ("solver", solver),
        ("inputs", None if inputs is None else _args.text(f, "inputs", inputs)),
        ("input_seed", None if input_seed is None else _args.integer(f, "input_seed", input_seed, 0)),
        (
            "eval_sessions",
            None if eval_sessions is None else _args.integer(f, "eval_sessions", eval_sessions, 0),
        ),
    )
    for key, value in given:
        if value is not None:
            overrides[key] = value
    if weight_bound is not _UNSET:
        overrides["weight_bound"] = (
            None if weight_bound is None else _args.real(f, "weight_bound", weight_bound, 0.0)
        )

    def checked(name: str, value: Any, check: Callable[..., Any], *bounds: Any) -> Any:
        return None if value is None else check(f, name, value, *bounds)

    fit_given: Tuple[Tuple[str, Any], ...] = (
        ("optimizer", optimizer),
        ("epochs", checked("epochs", epochs, _args.integer, 1)),
        ("learning_rate", checked("learning_rate", learning_rate, _args.real, 0.0)),
        ("batch_size", checked("batch_size", batch_size, _args.integer, 1)),
        ("l1", checked("l1", l1, _args.real, 0.0)),
        ("l2", checked("l2", l2, _args.real, 0.0)),
        ("seed", checked("seed", seed, _args.integer, 0)),
        ("tolerance", checked("tolerance", tolerance, _args.real, 0.0)),
        ("lbfgs_memory", checked("lbfgs_memory", lbfgs_memory, _args.integer, 1)),
        ("max_backoffs", checked("max_backoffs", max_backoffs, _args.integer, 0)),
    )
    for key, value in fit_given:
        if value is not None:
            fit_overrides[key] = value
    if fit_overrides:
        overrides["fit"] = fit_overrides
    if isinstance(data, (str, os.PathLike)):
        if gradient == "forward":
            # forward mode streams a neural recording from its file, never loading it
            for key in ("weight_bound", "inputs", "input_seed", "eval_sessions"):
                if key in overrides:
                    raise ValueError(f"{key}: applies to behaviour data only")
            raw = _native.fit_neural_streamed(os.fspath(data), json.dumps(overrides), callback)
            interrupted = raw.pop("interrupted")
            result = FitResult(interrupted=interrupted, kind="neural", **raw)
            if interrupted:
                raise FitInterrupted(result)
            return result
        data = load(data)
    if isinstance(data, FlyRecording):
        data = data.to_dataset(seed=seed or 0)
    if isinstance(data, NeuralDataset):
        for key in ("weight_bound", "inputs", "input_seed", "eval_sessions"):
            if key in overrides:
                raise ValueError(f"{key}: applies to behaviour data only (this is neural data)")
        raw = _native.fit_neural_dataset(data, json.dumps(overrides), callback)
        kind = "neural"
    elif isinstance(data, BehaviourDataset):
        if "solver" in overrides:
            raise ValueError("solver: applies to neural data only (behaviour fits run optimizer)")
        if "eval_trajectories" in overrides:
            raise ValueError(
                "eval_trajectories: applies to neural data only (use eval_sessions for behaviour)"
            )
        raw = _native.fit_behaviour_dataset(data, json.dumps(overrides), callback)
        kind = "behaviour"
    else:
        raise TypeError(
            "fit(): data must be a NeuralDataset, a BehaviourDataset, a FlyRecording or the "
            f"path of an .npz dataset, got {type(data).__name__}"
        )
    interrupted = raw.pop("interrupted")
    result = FitResult(interrupted=interrupted, kind=kind, **raw)
    if interrupted:
        raise FitInterrupted(result)
    return result


def loss_and_gradient(
    data: Union[Dataset, PathLike],
    theta: Theta,
    *,
    gradient: Optional[str] = None,
    rule_family: str = "taylor",
    hidden: Sequence[int] = (10,),
    items: Optional[Sequence[int]] = None,
    weight_bound: Optional[float] = None,
    inputs: str = "recorded",
    input_seed: int = 0,
) -> Tuple[float, np.ndarray]:
    """The data loss at ``theta`` (no penalty) and its gradient ``∂L/∂θ``, computed by
    the reverse-mode adjoint through every trajectory (``items``: their indices,
    default all). ``theta``: an expression (``"x*y - y^2*w"``), a dict of term →
    coefficient, or an array in ``term_names`` order (or MLP parameter order).

    For behaviour data the model is driven by the recorded inputs with no weight
    bound unless ``inputs="resampled"`` / ``weight_bound`` say otherwise — as
    ``plasticity loss``. ``data`` may be the path of an ``.npz`` dataset: with
    ``gradient="forward"`` a neural recording streams from the file (forward mode,
    memory independent of its length; Taylor rule), otherwise it is loaded.
    """
    if isinstance(data, (str, os.PathLike)):
        if gradient == "forward":
            if rule_family != "taylor":
                raise ValueError("gradient='forward' on a file: the Taylor rule only")
            return _native.loss_and_gradient_streamed(
                os.fspath(data), _theta_vector(theta, "xyw")
            )
        data = load(data)
    elif gradient not in (None, "checkpointed"):
        raise ValueError(
            f"gradient: {gradient!r} applies to a file path (datasets in memory use the adjoint)"
        )
    variables = "xyw" if isinstance(data, NeuralDataset) else "xywr"
    vector = _theta_vector(theta, variables) if rule_family == "taylor" else _array(theta)
    return _native.loss_and_gradient(
        data,
        vector,
        rule_family=rule_family,
        hidden=[int(h) for h in hidden],
        items=None if items is None else [int(k) for k in items],
        weight_bound=weight_bound,
        inputs=inputs,
        input_seed=input_seed,
    )


@dataclass
class OnlineResult:
    """The estimate of an online fit after every update (:func:`fit_online`):
    ``steps[k]`` is the recording step of update ``k``, ``theta_history[k]`` θ after it,
    ``window_loss[k]`` the mean squared error of its window; ``stopped`` when the fit
    ended before the recording did (callback, Ctrl-C, or an overflow: ``non_finite``)."""

    parameter_names: List[str]
    steps: np.ndarray
    theta_history: np.ndarray
    window_loss: np.ndarray
    theta: np.ndarray
    non_finite: Optional[str]
    interrupted: bool
    stopped: bool
    seconds: float

    @property
    def coefficients(self) -> Dict[str, float]:
        """The final estimate by parameter name."""
        return {name: float(v) for name, v in zip(self.parameter_names, self.theta)}

    def history_to_pandas(self):
        """The window loss and every parameter after each update, indexed by the
        recording step. Needs pandas."""
        pd = _pandas()
        frame = pd.DataFrame(self.theta_history, columns=self.parameter_names)
        frame.insert(0, "window_loss", self.window_loss)
        frame.index = pd.Index(self.steps, name="step")
        return frame


def fit_online(
    path: PathLike,
    *,
    update_every: int = 100,
    learning_rate: float = 1e-3,
    decay_after: int = 0,
    rule_family: Union[str, Rule] = "taylor",
    trainable: Optional[str] = None,
    init: Optional[str] = None,
    basis: Optional[str] = None,
    seed: Optional[int] = None,
    callback: Optional[Callable[[int, float, np.ndarray], Optional[bool]]] = None,
) -> OnlineResult:
    """Fits a rule online while a neural recording streams from its file: one pass,
    the simulation in forward mode, and every ``update_every`` steps an Adam step
    (``learning_rate``; decaying as ``1/√n`` after ``decay_after`` updates) from the
    gradient of that window's squared error. The sensitivities are carried across the
    updates (real-time recurrent learning), which biases the gradient while θ moves.
    The basis is canonical unless ``basis`` says otherwise. ``callback(update, loss,
    theta)`` after every update (``False`` stops); Ctrl-C raises
    :class:`FitInterrupted`. An overflow ends the fit with the last finite estimate and
    the reason in ``.non_finite``.
    """
    overrides: Dict[str, Any] = {}
    if isinstance(rule_family, Rule):
        overrides["rule_family"] = rule_family.family
        if rule_family.family == "mlp":
            overrides["hidden"] = list(rule_family.hidden)
        else:
            overrides["trainable"] = rule_family.trainable
            if rule_family.expression is not None:
                overrides["init"] = rule_family.expression
    else:
        overrides["rule_family"] = rule_family
    for key, value in (("trainable", trainable), ("init", init), ("basis", basis)):
        if value is not None:
            overrides[key] = value
    if seed is not None:
        overrides["fit"] = {"seed": seed}
    raw = _native.fit_online(
        os.fspath(path), json.dumps(overrides), update_every, learning_rate, decay_after, callback
    )
    result = OnlineResult(**raw)
    if result.interrupted:
        raise FitInterrupted(result)
    return result


def default_settings(kind: str = "neural") -> Dict[str, Any]:
    """The library's default fit settings for ``"neural"`` or ``"behaviour"`` data."""
    return json.loads(_native.default_settings(kind))


def discover(
    experiment: PathLike,
    *,
    seed: Optional[int] = None,
    optimizer: Optional[str] = None,
    iterations: Optional[int] = None,
) -> Dict[str, Any]:
    """Meta-learn a rule from what a circuit must do (``plasticity discover``).

    ``experiment`` is a discover file (``experiments/pca.toml``, ``memory.toml``,
    ``memory_sparse.toml``); ``seed``, ``optimizer`` (``"adam"`` or ``"cmaes"``) and
    ``iterations`` override the file. Returns the dict ``results.json`` holds:
    ``coefficients`` (by canonical term name), ``metrics`` (PCA: ``cos2_T``,
    ``cos2_5T``, ``weight_norm_median``, ``diverged_fraction``, ``baseline_cos2_T``;
    memory: ``overlap_by_load``, ``baseline_overlap_by_load``), ``loss_history``,
    ``config``, ``seed``, ``version``, the held-out ``evaluation`` and ``seconds``.
    """
    return _native.discover(os.fspath(experiment), seed, optimizer, iterations)


def _pandas() -> Any:
    try:
        import pandas
    except ImportError as missing:
        raise ImportError(
            "this needs pandas: pip install pandas (or the package's [pandas] extra)"
        ) from missing
    return pandas


def _expression_of(rule: Union[str, Rule]) -> str:
    if isinstance(rule, Rule):
        if rule.family != "taylor" or rule.expression is None:
            raise ValueError("rule: a simulation needs a Taylor rule with an expression")
        return rule.expression
    if not isinstance(rule, str):
        raise ValueError(f"rule: expected an expression or a Rule, got {type(rule).__name__}")
    return rule


def _array(values: Any) -> np.ndarray:
    array = np.ascontiguousarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"theta: expected a 1-d array, got shape {array.shape}")
    return array


def _theta_vector(theta: Theta, variables: str) -> np.ndarray:
    if isinstance(theta, str):
        return np.asarray(parse_expression(theta, variables), dtype=np.float64)
    if isinstance(theta, dict):
        names = term_names(variables)
        vector = np.zeros(len(names))
        for name, value in theta.items():
            if name not in names:
                raise ValueError(f"theta: unknown term {name!r} (terms: {', '.join(names)})")
            vector[names.index(name)] = float(value)
        return vector
    return _array(theta)
