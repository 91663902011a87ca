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
    CliError,
    FlyRecording,
    NeuralDataset,
    format_expression,
    load,
    load_flies,
    load_fly,
    parse_expression,
    run_cli,
    term_names,
)

__version__: str = _native.__version__

__all__ = [
    "BehaviourDataset",
    "CliError",
    "FitInterrupted",
    "FitResult",
    "FlyRecording",
    "NeuralDataset",
    "OnlineResult",
    "Rule",
    "fit",
    "fit_online",
    "default_settings",
    "discover",
    "format_expression",
    "load",
    "load_flies",
    "load_fly",
    "loss_and_gradient",
    "parse_expression",
    "run_cli",
    "simulate_behaviour",
    "simulate_choice",
    "simulate_oja",
    "term_names",
]

Dataset = Union[NeuralDataset, BehaviourDataset]
PathLike = Union[str, "os.PathLike[str]"]
Theta = Union[str, Dict[str, float], Sequence[float], np.ndarray]


@dataclass(frozen=True)
class Rule:
    """A plasticity rule family, with its settings.

    Make one with :meth:`Rule.taylor` or :meth:`Rule.mlp` and pass it as
    ``rule_family`` to :func:`fit` or :func:`fit_online`, or (a Taylor rule with an
    expression) as ``rule`` to :func:`simulate_oja` and :func:`simulate_behaviour`.

    A Taylor rule is the truncated series ``Δw = Σ θ_{αβγ(δ)} x^α y^β w^γ (r^δ)`` with
    exponents 0–2: 27 terms over x, y, w (neural activity), 81 over x, y, w, r
    (behaviour; docs/model.md §2.1). An MLP rule is ``Δw = MLP_θ(x, y, w(, r))`` with
    sigmoid hidden layers (docs/model.md §2.2).

    Parameters
    ----------
    family : {"taylor", "mlp"}
        The rule family.
    expression : str or None, default None
        Taylor rules: coefficients as an expression such as ``"x*y - y^2*w"`` (Oja's
        rule) — the generating rule of a simulation, the starting point of a fit.
        ``None``: the fit's default start.
    hidden : tuple of int, default (10,)
        MLP rules: the sizes of the hidden layers.
    trainable : str, default "all"
        Taylor rules: the fitted terms — ``"all"``, a list of term names such as
        ``"x*y,y^2*w"``, ``"vars:x,y"`` (the terms over those variables only) or
        ``"degree:2"`` (total degree at most 2); the others stay exactly 0.

    Examples
    --------
    >>> import plasticity as pl
    >>> oja = pl.Rule.taylor("x*y - y^2*w", trainable="x*y,y^2*w")
    >>> print(oja)
    Δw = x*y - y^2*w
    >>> pl.Rule.mlp([10, 10]).hidden
    (10, 10)
    """

    family: str
    expression: Optional[str] = None
    hidden: Tuple[int, ...] = (10,)
    trainable: str = "all"

    @classmethod
    def taylor(cls, expression: Optional[str] = None, *, trainable: str = "all") -> "Rule":
        """A truncated Taylor rule.

        Parameters
        ----------
        expression : str or None, default None
            The coefficients as an expression such as ``"x*y - y^2*w"``: the
            generating rule of a simulation or the starting point of a fit (``None``:
            the fit's default start).
        trainable : str, default "all"
            The fitted terms: ``"all"``, term names such as ``"x*y,y^2*w"``,
            ``"vars:x,y"`` or ``"degree:2"``; the other terms stay exactly 0.

        Returns
        -------
        Rule
            A rule of family ``"taylor"``.
        """
        return cls("taylor", expression, (10,), trainable)

    @classmethod
    def mlp(cls, hidden: Sequence[int] = (10,)) -> "Rule":
        """A multilayer-perceptron rule with sigmoid hidden layers.

        Parameters
        ----------
        hidden : sequence of int, default (10,)
            The sizes of the hidden layers, each at least 1.

        Returns
        -------
        Rule
            A rule of family ``"mlp"``.

        Raises
        ------
        ValueError
            If ``hidden`` is empty or a size is below 1.
        """
        hidden = tuple(int(h) for h in hidden)
        if not hidden or any(h < 1 for h in hidden):
            raise ValueError(f"hidden: expected positive layer sizes, got {list(hidden)}")
        return cls("mlp", None, hidden, "all")

    def coefficients(self, variables: str = "xyw") -> Dict[str, float]:
        """The Taylor coefficients of the rule's expression, by term name.

        Parameters
        ----------
        variables : {"xyw", "xywr"}, default "xyw"
            The rule's variables: ``"xyw"`` for neural activity, ``"xywr"`` for
            behaviour.

        Returns
        -------
        dict of str to float
            Every term (see :func:`term_names`) with its coefficient; 0 for the terms
            the expression does not name, and all 0 without an expression.

        Raises
        ------
        ValueError
            If the rule is not a Taylor rule, or its expression cannot be parsed over
            ``variables``.

        Examples
        --------
        >>> import plasticity as pl
        >>> coefficients = pl.Rule.taylor("x*y - y^2*w").coefficients()
        >>> coefficients["x*y"], coefficients["y^2*w"], coefficients["1"]
        (1.0, -1.0, 0.0)
        """
        if self.family != "taylor":
            raise ValueError("coefficients: only a Taylor rule has coefficients")
        values = parse_expression(self.expression or "0", variables)
        return dict(zip(term_names(variables), values))

    def __str__(self) -> str:
        if self.family == "taylor":
            return f"Δw = {self.expression or '(fitted)'}"
        return f"Δw = MLP(hidden={list(self.hidden)})"


class FitInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a fit; the result so far travels with the exception.

    Raised by :func:`fit` and :func:`fit_online` when Ctrl-C (``SIGINT``) arrives; the
    fit stops after the current epoch (or update). As a :class:`KeyboardInterrupt` it
    ends a script unless caught.

    Parameters
    ----------
    result : FitResult or OnlineResult
        The result so far (its ``interrupted`` is true).

    Attributes
    ----------
    result : FitResult or OnlineResult
        The result so far: a :class:`FitResult` from :func:`fit`, an
        :class:`OnlineResult` from :func:`fit_online`.

    Examples
    --------
    >>> import plasticity as pl
    >>> try:                                            # doctest: +SKIP
    ...     result = pl.fit(data, epochs=10_000)
    ... except pl.FitInterrupted as stopped:
    ...     result = stopped.result
    """

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
    """A finished fit, as :func:`fit` returns it (like SciPy's ``OptimizeResult``).

    Holds the fitted parameters, the loss and parameters after every epoch, why the fit
    stopped, the metrics and what the data determine about each coefficient. Not meant
    to be constructed directly.

    Attributes
    ----------
    rule_family : str
        ``"taylor"`` or ``"mlp"``.
    parameter_names : list of str
        The name of each parameter: Taylor term names such as ``"x*y"`` (see
        :func:`term_names`), or the MLP's parameters in their order.
    theta : numpy.ndarray, shape (n_parameters,)
        The fitted parameters in the canonical basis (Taylor: the coefficient of each
        term), in the order of ``parameter_names``.
    loss_history : numpy.ndarray, shape (epochs,)
        ``loss_history[k]`` is the data loss after epoch ``k + 1``.
    theta_history : numpy.ndarray, shape (epochs, n_parameters)
        ``theta_history[k]`` are the parameters after epoch ``k + 1``.
    stop_reason : dict
        Why the fit stopped: ``{"reason": "epochs_completed"}``, ``"converged"``,
        ``"line_search_failed"``, ``"non_finite"`` (with the epoch) or
        ``"interrupted"``, with a ``detail`` where there is one.
    evaluations : int
        How many times the loss was evaluated.
    final_loss : float
        The data loss at ``theta`` (without penalty).
    metrics : dict
        The final loss and, for simulated data, the R² of weights and activity on fresh
        trajectories (or sessions) and the coefficient error against the generating
        rule (docs/model.md §5); the keys of the CLI's ``results.json``.
    settings : dict
        The settings the fit ran with, defaults filled in (as :func:`default_settings`
        shows them).
    basis : str
        The basis the optimizer worked in: ``"canonical"``, ``"scaled"`` or
        ``"centred"``.
    generating : numpy.ndarray or None
        The generating rule's coefficients when the data are simulated by a Taylor
        rule, else ``None``.
    interrupted : bool
        Whether Ctrl-C stopped the fit (:class:`FitInterrupted` then carries this
        result).
    seconds : float
        Wall time of the fit.
    version : str
        The version of ``plasticity`` that fitted.
    kind : {"neural", "behaviour"}
        The kind of data fitted.
    identifiability : dict
        What the data determine about θ (the ``identifiability`` section of the CLI's
        ``results.json``): eigenvalues and directions of the Fisher information over the
        trainable terms, Laplace standard errors and 95 % intervals; ``computed`` is
        false, with the ``reason``, for MLP and streamed fits.
    solver_used : str
        The optimizer that ran: ``"levenberg-marquardt"``, ``"lbfgs"`` or ``"adam"``
        (for behaviour data, the ``optimizer``'s).
    uncertainty : dict
        The same per coefficient, as :meth:`to_pandas` shows it: ``coefficients`` (one
        dict per parameter with ``std_error``, ``lower``, ``upper``, ``determined``;
        ``None`` where not computed), ``least_determined`` (a sentence on the
        least-determined direction) and ``unavailable`` (why there are no intervals).

    See Also
    --------
    fit : Makes it.
    FitResult.to_pandas : The coefficients with their intervals as a table.
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
        """The fitted parameters by name (dict of str to float).

        Taylor rules: by term name such as ``"x*y"``; every term, the ones held fixed
        included.
        """
        return {name: float(v) for name, v in zip(self.parameter_names, self.theta)}

    @property
    def expression(self) -> str:
        """The fitted Taylor rule as an expression (str), its non-zero terms only.

        Raises ``ValueError`` for an MLP rule, which has none.
        """
        if self.rule_family != "taylor":
            raise ValueError("expression: only a Taylor rule has one")
        return format_expression(list(self.theta), "xyw" if self.kind == "neural" else "xywr")

    def to_pandas(self):
        """The coefficients with their uncertainty, as a table.

        The columns of the CLI's ``coefficients.csv``, one row per parameter.

        Returns
        -------
        pandas.DataFrame
            Indexed by term (``"term"``; ``"parameter"`` for an MLP), with the columns
            ``value``; ``generating`` and ``error`` when the data's generating rule is
            known; then ``std_error``, ``lower`` and ``upper`` (the Laplace standard
            error and 95 % interval) and ``determined`` (whether the interval's
            half-width is at most a tenth of the largest fitted ``|θ|``). They are
            NaN / ``<NA>`` where not computed (an MLP, a streamed fit, a term held
            fixed; the reason is ``uncertainty["unavailable"]``).

        Raises
        ------
        ImportError
            If pandas is not installed.
        """
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
        """The loss and the parameters after every epoch, as a table.

        Returns
        -------
        pandas.DataFrame
            Indexed by epoch (from 1, ``"epoch"``), with one column ``loss`` (the data
            loss) and one per parameter.

        Raises
        ------
        ImportError
            If pandas is not installed.
        """
        epochs = range(1, len(self.loss_history) + 1)
        return _history_frame(self, ("loss", self.loss_history), ("epoch", epochs))

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
    """Simulates neural activity of a plastic layer learning with ``rule``.

    The experiment of docs/model.md §4.1, as ``plasticity simulate oja`` runs it. Each
    trajectory starts from its own initial weights ``W₀ ~ N(0, 1/n_pre)`` (or
    ``N(0, initial_weight_std²)``), with inputs ``x_t ~ N(0, input_std²)``; then
    ``y_t = sigmoid(W_t x_t)`` and ``W_{t+1} = W_t + g(x_t, y_t, W_t)``. Gaussian noise
    ``N(0, noise_std²)`` is added once to the recording, and a random
    ``recording_fraction`` of the postsynaptic neurons is kept. The defaults are the
    paper's experiment: 100→1000 neurons, 50 trajectories × 50 steps, Oja's rule
    ``Δw = x·y − y²·w``.

    Parameters
    ----------
    n_pre : int, default 100
        Presynaptic neurons (inputs), at least 1.
    n_post : int, default 1000
        Postsynaptic neurons, at least 1.
    steps : int, default 50
        Time steps per trajectory, at least 1.
    trajectories : int, default 50
        Number of trajectories, each with its own inputs and initial weights.
    noise_std : float, default 0.0
        Standard deviation of the Gaussian measurement noise on the recorded activity.
    recording_fraction : float, default 1.0
        Fraction of the postsynaptic neurons that are recorded, in (0, 1].
    rule : str or Rule, default "x*y - y^2*w"
        The generating rule: an expression over x, y, w (see :func:`parse_expression`)
        or a Taylor :class:`Rule` with an expression.
    seed : int, default 0
        Seed of every random draw (inputs, weights, noise, recorded neurons).
    input_std : float, default √0.1
        Standard deviation of the inputs ``x_t``.
    initial_weight_std : float or None, default None
        Standard deviation of ``W₀``; ``None`` means ``1/√n_pre``.

    Returns
    -------
    NeuralDataset
        The recording, with the generating rule, ``noise_std``,
        ``recording_fraction`` and ``seed`` in its metadata.

    Raises
    ------
    TypeError
        If a keyword has the wrong type (a float for ``n_pre``, say).
    ValueError
        If a value is out of range (``n_pre=0``, a negative ``noise_std``), or ``rule``
        is not an expression over x, y, w.

    Examples
    --------
    >>> import plasticity as pl
    >>> pl.simulate_oja(n_pre=5, n_post=10, steps=20, trajectories=2, noise_std=0.1)
    NeuralDataset(trajectories=2, steps=20, n_pre=5, n_post=10, recorded=10, rule="x*y - y^2*w")
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
    """Simulates flies choosing odours in the two-odour task.

    The experiment of docs/model.md §4.2, as ``plasticity simulate behaviour`` runs it.
    In each trial one of two odours is presented (probability 1/2 each); the input
    ``x`` is the odour's pattern (``odour_level`` on its inputs) plus ``N(0,
    input_noise_std²)`` noise; the plastic layer computes ``h = tanh(W x)`` and the fly
    accepts with ``P(accept) = sigmoid(Σ_i v_i h_i)``. A rejection leads to another
    presentation, an acceptance ends the trial with the reward ``R`` the odour has
    waiting (rewards are baited with the block's probabilities), and the weights change
    by ``Δw = g(x, h, w, r)``.

    Parameters
    ----------
    rule : str or Rule, default "x*r"
        The generating rule: an expression over x, y, w, r (``y`` is ``h``) or a Taylor
        :class:`Rule` with an expression.
    sessions : int, default 18
        Number of sessions (simulated flies), each from its own initial weights.
    blocks : int, default 3
        Blocks per session.
    trials_per_block : int, default 80
        Trials (accepted odours) per block.
    reward_probabilities : sequence of (float, float), default ((0.2, 0.8), (0.9, 0.1), (0.2, 0.8))
        The reward probabilities ``(p_A, p_B)`` of the two odours in each block, used
        cyclically when there are more blocks.
    n_in : int, default 2
        Inputs; with 2, odour A drives the first and B the second, with more each odour
        drives a random half.
    n_hidden : int, default 10
        Neurons of the plastic layer.
    odour_level : float, default 0.75
        The level at which an odour drives its inputs.
    input_noise_std : float, default 0.015
        Standard deviation of the sensory noise on every input.
    initial_weight_std : float, default 0.01
        Standard deviation of the initial weights ``W₀``.
    expected_reward_window : int, default 10
        ``E[R]`` is the mean of the last this many collected rewards.
    reward_signal : {"centred", "raw"}, default "centred"
        The rule's reward term: ``r = R − E[R]`` (``"centred"``) or ``r = R``
        (``"raw"``).
    max_presentations_per_trial : int, default 50
        A trial with this many rejections in a row ends without a choice (no reward, no
        plasticity), so that a rule that stops accepting cannot loop forever.
    seed : int, default 0
        Seed of every random draw.

    Returns
    -------
    BehaviourDataset
        The sessions, with the generating rule and the task's parameters in its
        metadata.

    Raises
    ------
    TypeError
        If a keyword has the wrong type.
    ValueError
        If a value is out of range, ``reward_signal`` is unknown or ``rule`` is not an
        expression over x, y, w, r.

    Examples
    --------
    >>> import plasticity as pl
    >>> data = pl.simulate_behaviour(sessions=2, blocks=1, trials_per_block=10)
    >>> data.n_sessions, [int(n) for n in data.n_trials]
    (2, [10, 10])
    """
    return _simulate_sessions("simulate_behaviour", "behaviour", locals())


def simulate_choice(
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
    seed: int = 0,
) -> BehaviourDataset:
    """Simulates flies choosing between two odours offered together.

    The two-alternative choice task (docs/model.md §6, kind ``"choice"``), as
    ``plasticity simulate choice`` runs it. In each trial both odours are offered (odour
    A's presentation first); each input is the odour's pattern plus sensory noise, the
    plastic layer computes ``h_k = tanh(W x_k)`` and the odour's value
    ``z_k = v Σ_i h_ik``, and the fly chooses ``k`` with ``P(k) = softmax_k(z_k)``
    (β = 1, no bias: the readout ``v = 5 / n_hidden`` sets the scale). The chosen
    odour's reward is the one it has waiting (baited with the block's probabilities),
    and only the chosen odour's synapses change, by ``Δw = g(x, h, w, r)``. Every
    trial has a choice.

    Parameters
    ----------
    rule : str or Rule, default "x*r"
        The generating rule: an expression over x, y, w, r (``y`` is ``h``) or a Taylor
        :class:`Rule` with an expression.
    sessions : int, default 18
        Number of sessions (simulated flies), each from its own initial weights.
    blocks : int, default 3
        Blocks per session.
    trials_per_block : int, default 80
        Trials (choices) per block.
    reward_probabilities : sequence of (float, float), default ((0.2, 0.8), (0.9, 0.1), (0.2, 0.8))
        The reward probabilities ``(p_A, p_B)`` of the two odours in each block, used
        cyclically when there are more blocks; a reward, once available, waits until
        its odour is chosen.
    n_in : int, default 2
        Inputs; with 2, odour A drives the first and B the second, with more each odour
        drives a random half.
    n_hidden : int, default 10
        Neurons of the plastic layer.
    odour_level : float, default 0.75
        The level at which an odour drives its inputs.
    input_noise_std : float, default 0.015
        Standard deviation of the sensory noise on every input.
    initial_weight_std : float, default 0.01
        Standard deviation of the initial weights ``W₀``.
    expected_reward_window : int, default 10
        ``E[R]`` is the mean of the last this many collected rewards.
    reward_signal : {"centred", "raw"}, default "centred"
        The rule's reward term: ``r = R − E[R]`` (``"centred"``) or ``r = R``
        (``"raw"``).
    seed : int, default 0
        Seed of every random draw.

    Returns
    -------
    BehaviourDataset
        The sessions (``kind == "choice"``): each trial's two presentations, decision 1
        on the chosen odour.

    Raises
    ------
    TypeError
        If a keyword has the wrong type.
    ValueError
        If a value is out of range, ``reward_signal`` is unknown or ``rule`` is not an
        expression over x, y, w, r.

    Examples
    --------
    >>> import plasticity as pl
    >>> data = pl.simulate_choice(sessions=2, blocks=1, trials_per_block=10)
    >>> data.kind, [int(n) for n in data.n_presentations]
    ('choice', [20, 20])
    """
    return _simulate_sessions("simulate_choice", "choice", {**locals(), "max_presentations_per_trial": 1})


def _simulate_sessions(f: str, kind: str, arguments: Dict[str, Any]) -> BehaviourDataset:
    """The native simulation of :func:`simulate_behaviour` (``kind="behaviour"``) or
    :func:`simulate_choice` (``kind="choice"``) from the keywords ``f`` was given,
    checked and converted (errors name ``f``)."""
    a = arguments
    return _native.simulate_behaviour(
        rule=_expression_of(a["rule"]),
        sessions=_args.integer(f, "sessions", a["sessions"], 1),
        blocks=_args.integer(f, "blocks", a["blocks"], 1),
        trials_per_block=_args.integer(f, "trials_per_block", a["trials_per_block"], 1),
        reward_probabilities=[(float(p), float(q)) for p, q in a["reward_probabilities"]],
        n_in=a["n_in"],
        n_hidden=a["n_hidden"],
        odour_level=a["odour_level"],
        input_noise_std=a["input_noise_std"],
        initial_weight_std=a["initial_weight_std"],
        expected_reward_window=a["expected_reward_window"],
        reward_signal=a["reward_signal"],
        max_presentations_per_trial=a["max_presentations_per_trial"],
        seed=_args.integer(f, "seed", a["seed"], 0),
        kind=kind,
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
    trainable: Optional[Union[str, Sequence[str]]] = None,
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
    trainable Taylor coefficients. Every keyword left at ``None`` takes the library's
    default for the kind of data, the same defaults as ``plasticity fit``
    (:func:`default_settings` lists them), so the command line and Python give
    identical coefficients for the same settings and seed:

    - neural data, ``solver="auto"``: Levenberg–Marquardt on the forward-mode Jacobian
      (staged horizon, centred basis); L-BFGS (250 iterations, scaled basis) where an
      ``l1``/``l2`` penalty, ``optimizer="adam"`` or ``solver="lbfgs"`` is given;
    - behaviour data: Adam (250 epochs, ``learning_rate=1e-3``, ``batch_size=1``,
      ``l1=1e-2``, canonical basis, ``weight_bound=10``, re-sampled sensory noise).

    A keyword of the wrong type raises ``TypeError``, a wrong value ``ValueError``, each
    naming the keyword. Option values accept the command line's spellings too
    (``"full-tape"``, ``"auto"``, any case).

    Parameters
    ----------
    data : NeuralDataset, BehaviourDataset, FlyRecording, str or os.PathLike
        The data: a dataset; a :class:`FlyRecording` (fitted as a one-session behaviour
        dataset whose ``W₀`` is drawn from ``seed``); or the path of an ``.npz``
        dataset, which is loaded — except with ``gradient="forward"``, where a neural
        recording streams from the file at every evaluation instead (memory
        independent of its length; the R² on fresh trajectories is then not computed).
    rule_family : {"taylor", "mlp"} or Rule, default "taylor"
        The rule to fit. A :class:`Rule` also gives its ``hidden`` layers (MLP), its
        ``trainable`` terms and its expression as the starting θ (Taylor).
    optimizer : {"adam", "lbfgs"}, optional
        The optimizer (neural data: the one ``solver="lbfgs"`` runs). Default: L-BFGS
        for neural data, Adam for behaviour.
    solver : {"auto", "levenberg-marquardt", "lbfgs"}, optional
        Neural data: ``"auto"`` (default) runs Levenberg–Marquardt where it applies (no
        penalty, not Adam), else ``optimizer``. Behaviour data: ``"auto"`` is Adam with
        L1 1e-2 (the paper's protocol), ``"lbfgs"`` L-BFGS, ``"levenberg-marquardt"``
        damped Fisher scoring on the plain cross-entropy (``l1`` defaults to 0; a
        penalty above 0 is refused). The one that ran is ``result.solver_used``.
    epochs : int, optional
        Epochs (Adam: passes over the data; L-BFGS: iterations), at least 1.
        Default 250.
    learning_rate : float, optional
        Adam's step size. Default 1e-3.
    batch_size : int, optional
        Trajectories (or sessions) per Adam minibatch, at least 1. Default 1.
    l1 : float, optional
        L1 penalty ``λ₁`` on the trainable Taylor coefficients, at least 0. Default 0
        for neural data, 1e-2 for behaviour.
    l2 : float, optional
        L2 penalty ``λ₂`` on the trainable Taylor coefficients, at least 0. Default 0.
    seed : int, optional
        Seed of the initial θ and of the minibatch shuffling (and of a fly's ``W₀``).
        Default 0.
    trainable : str or sequence of str, optional
        Taylor rules: the fitted terms, as ``"x*y,y^2*w"`` or a list
        ``["x*y", "y^2*w"]``, or ``"all"`` (default), ``"vars:x,y"``, ``"degree:2"``;
        the other terms stay exactly 0.
    hidden : sequence of int, optional
        MLP rules: the sizes of the hidden layers. Default ``[10]``.
    basis : {"canonical", "scaled", "centred"}, optional
        The basis the optimizer works in (Taylor rules); results are always reported
        in the canonical monomials. Default: chosen by solver and kind of data (see
        above).
    init : str, optional
        The starting θ: ``"random"`` (default; Taylor ``N(0, 1e-5²)``, MLP
        ``N(0, 0.01²)``), ``"zeros"`` or a Taylor expression such as ``"x*y"``.
    tolerance : float, optional
        L-BFGS stops when the loss has decreased by less than this fraction over the
        last 10 iterations. Default 1e-10.
    lbfgs_memory : int, optional
        Curvature pairs kept by L-BFGS, at least 1. Default 20.
    max_backoffs : int, optional
        How often Adam may halve its step and retry from the last good θ after a
        non-finite loss or gradient; 0 stops at the first. Default 5.
    gradient : {"checkpointed", "full_tape", "forward"}, optional
        How the trajectory gradient is computed: ``"checkpointed"`` (default; the
        reverse-mode adjoint with weight checkpoints), ``"full_tape"`` (the adjoint
        keeping every step's weights) or ``"forward"`` (forward mode: memory independent
        of the recording's length). ``"full-tape"`` and ``"auto"`` (the default) are
        accepted too.
    eval_trajectories : int, optional
        Neural data: fresh trajectories simulated for the R² metrics (0: none).
        Default 5.
    weight_bound : float or None, optional
        Behaviour data: the bound ``B`` on the weights during the fit
        (``W ← clip(W, −B, B)`` after every update); ``None`` for no bound. Left out,
        the default is 10 (shown as ``default`` in the signature, since ``None`` means
        no bound).
    inputs : {"resampled", "recorded"}, optional
        Behaviour data: the model is driven by each presentation's odour pattern plus
        freshly drawn sensory noise (``"resampled"``, default: an animal's own noise
        cannot be known) or by the dataset's ``inputs`` exactly (``"recorded"``).
    input_seed : int, optional
        Behaviour data: seed of the re-sampled sensory noise. Default 0.
    eval_sessions : int, optional
        Behaviour data: fresh sessions simulated for the metrics (0: none). Default 7.
    callback : callable, optional
        ``callback(epoch, loss, theta)`` is called after every epoch with the epoch
        (from 1), the data loss and a copy of θ; returning ``False`` stops the fit
        (its ``stop_reason`` is then ``"interrupted"``). An exception raised in it stops
        the fit and propagates.

    Returns
    -------
    FitResult
        The fitted parameters, the loss and parameters after every epoch, the metrics
        and the uncertainty of each coefficient.

    Raises
    ------
    TypeError
        If ``data`` is not a dataset, recording or path, or a keyword has the wrong
        type.
    ValueError
        If a keyword has a wrong value, or applies to the other kind of data
        (``weight_bound`` for neural data, ``solver`` for behaviour).
    FileNotFoundError
        If ``data`` is a path that does not exist.
    FitInterrupted
        If Ctrl-C stopped the fit; its ``result`` holds the result so far.

    See Also
    --------
    loss_and_gradient : The loss and its gradient at a given θ.
    fit_online : A one-pass fit while a recording streams.

    Examples
    --------
    >>> import plasticity as pl
    >>> data = pl.simulate_oja(n_pre=5, n_post=10, steps=20, trajectories=3)
    >>> result = pl.fit(data, pl.Rule.taylor(trainable="x*y,y^2*w"))
    >>> round(result.coefficients["x*y"], 2), round(result.coefficients["y^2*w"], 2)
    (1.0, -1.0)
    """
    overrides = _rule_overrides("fit", rule_family)
    fit_overrides: Dict[str, Any] = {}
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
        if overrides.get("solver") in ("levenberg-marquardt", "lbfgs"):
            # as `plasticity fit --solver`: not Adam; Levenberg–Marquardt (damped Fisher
            # scoring) fits the plain cross-entropy, so its L1 default is 0
            section = overrides.setdefault("fit", {})
            section.setdefault("optimizer", "lbfgs")
            if overrides["solver"] == "levenberg-marquardt":
                section.setdefault("l1", 0.0)
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
    """The data loss at ``theta`` and its gradient ``∂L/∂θ``.

    The loss is the data loss alone, without penalty; the gradient is computed by the
    reverse-mode adjoint through every trajectory (or session), as ``plasticity loss``
    computes them. For behaviour data the model is driven by the recorded inputs with
    no weight bound unless ``inputs`` and ``weight_bound`` say otherwise.

    Parameters
    ----------
    data : NeuralDataset, BehaviourDataset, str or os.PathLike
        A dataset, or the path of an ``.npz`` dataset (loaded, or streamed with
        ``gradient="forward"``).
    theta : str, dict of str to float, or array_like of float
        The parameters: an expression such as ``"x*y - y^2*w"``, a dict of term name
        to coefficient (other terms 0), or an array in the order of :func:`term_names`
        (or the MLP's parameter order).
    gradient : {"checkpointed", "forward"}, optional
        ``"forward"`` with a file path: a neural recording streams from the file and
        the gradient is computed in forward mode (memory independent of its length;
        Taylor rules only). Default: the reverse-mode adjoint (``"checkpointed"``).
    rule_family : {"taylor", "mlp"}, default "taylor"
        The rule family ``theta`` belongs to.
    hidden : sequence of int, default (10,)
        MLP rules: the sizes of the hidden layers.
    items : sequence of int, optional
        The indices of the trajectories (neural) or sessions (behaviour) to include.
        Default: all.
    weight_bound : float, optional
        Behaviour data: clip the weights to ``[−B, B]`` after every update. Default:
        no bound.
    inputs : {"recorded", "resampled"}, default "recorded"
        Behaviour data: the dataset's inputs exactly, or the odour patterns with freshly
        drawn sensory noise.
    input_seed : int, default 0
        Behaviour data: seed of the re-sampled sensory noise.

    Returns
    -------
    loss : float
        The data loss at ``theta``.
    gradient : numpy.ndarray, shape (n_parameters,)
        ``∂L/∂θ``, in the order of ``theta``.

    Raises
    ------
    ValueError
        If ``theta`` names an unknown term or has the wrong length, ``gradient`` does
        not apply, or an option value is unknown.
    FileNotFoundError
        If ``data`` is a path that does not exist.
    FloatingPointError
        If the rule overflows (the loss or gradient is not finite).

    Examples
    --------
    >>> import plasticity as pl
    >>> data = pl.simulate_oja(n_pre=5, n_post=10, steps=20, trajectories=2)
    >>> loss, gradient = pl.loss_and_gradient(data, "x*y - y^2*w")
    >>> loss, gradient.shape
    (0.0, (27,))
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
    """The estimate of an online fit after every update, as :func:`fit_online`
    returns it.

    Not meant to be constructed directly.

    Attributes
    ----------
    parameter_names : list of str
        The name of each parameter (Taylor term names, see :func:`term_names`).
    steps : numpy.ndarray of int, shape (updates,)
        ``steps[k]`` is the recording step at which update ``k`` was made.
    theta_history : numpy.ndarray, shape (updates, n_parameters)
        ``theta_history[k]`` is θ after update ``k``.
    window_loss : numpy.ndarray, shape (updates,)
        ``window_loss[k]`` is the mean squared error of the window before update ``k``.
    theta : numpy.ndarray, shape (n_parameters,)
        The final estimate (the last finite one).
    non_finite : str or None
        Why the fit ended early when the loss or gradient overflowed, else ``None``.
    interrupted : bool
        Whether Ctrl-C stopped the fit.
    stopped : bool
        Whether the fit ended before the recording did (callback, Ctrl-C or an
        overflow).
    seconds : float
        Wall time of the fit.
    """

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
        """The final estimate by parameter name (dict of str to float)."""
        return {name: float(v) for name, v in zip(self.parameter_names, self.theta)}

    def history_to_pandas(self):
        """The window loss and the parameters after every update, as a table.

        Returns
        -------
        pandas.DataFrame
            Indexed by the recording step (``"step"``), with one column
            ``window_loss`` and one per parameter.

        Raises
        ------
        ImportError
            If pandas is not installed.
        """
        return _history_frame(self, ("window_loss", self.window_loss), ("step", self.steps))


def fit_online(
    path: PathLike,
    *,
    update_every: int = 100,
    learning_rate: float = 1e-3,
    decay_after: int = 0,
    rule_family: Union[str, Rule] = "taylor",
    trainable: Optional[Union[str, Sequence[str]]] = None,
    init: Optional[str] = None,
    basis: Optional[str] = None,
    seed: Optional[int] = None,
    callback: Optional[Callable[[int, float, np.ndarray], Optional[bool]]] = None,
) -> OnlineResult:
    """Fits a rule online while a neural recording streams from its file.

    One pass over the recording, the simulation in forward mode: every
    ``update_every`` steps, an Adam step from the gradient of that window's squared
    error. The sensitivities are carried across the updates (real-time recurrent
    learning), which biases the gradient while θ moves. An overflow ends the fit with
    the last finite estimate and the reason in ``.non_finite``.

    Parameters
    ----------
    path : str or os.PathLike
        A neural ``.npz`` dataset; it is read step by step, never loaded whole.
    update_every : int, default 100
        Recording steps per update (the window), at least 1.
    learning_rate : float, default 1e-3
        Adam's step size.
    decay_after : int, default 0
        After this many updates the step size decays as ``1/√n``: at update ``n`` it is
        ``learning_rate · √(decay_after / n)``. 0 keeps it constant.
    rule_family : {"taylor", "mlp"} or Rule, default "taylor"
        The rule to fit; a :class:`Rule` also gives its trainable terms and its
        expression as the starting θ.
    trainable : str or sequence of str, optional
        The fitted terms, as ``"x*y,y^2*w"``, a list ``["x*y", "y^2*w"]``, ``"all"``
        (default), ``"vars:x,y"`` or ``"degree:2"``.
    init : str, optional
        The starting θ: ``"random"`` (default), ``"zeros"`` or an expression.
    basis : {"canonical", "scaled", "centred"}, optional
        The basis the optimizer works in. Default ``"canonical"``.
    seed : int, optional
        Seed of the initial θ. Default 0.
    callback : callable, optional
        ``callback(update, loss, theta)`` is called after every update with the update
        (from 1), the window's loss and a copy of θ; returning ``False`` stops the fit.

    Returns
    -------
    OnlineResult
        The estimate after every update.

    Raises
    ------
    TypeError
        If a keyword has the wrong type.
    ValueError
        If a keyword has a wrong value, or the file is not a neural dataset.
    FileNotFoundError
        If ``path`` does not exist.
    FitInterrupted
        If Ctrl-C stopped the fit; its ``result`` holds the :class:`OnlineResult` so
        far.
    """
    overrides = _rule_overrides("fit_online", rule_family)
    f = "fit_online"
    if trainable is not None:
        overrides["trainable"] = _args.terms(f, "trainable", trainable)
    for key, value in (("init", init), ("basis", basis)):
        if value is not None:
            overrides[key] = _args.text(f, key, value)
    if seed is not None:
        overrides["fit"] = {"seed": _args.integer(f, "seed", seed, 0)}
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"fit_online(): path must be a str or os.PathLike, got {type(path).__name__}")
    raw = _native.fit_online(
        os.fspath(path),
        json.dumps(overrides),
        _args.integer(f, "update_every", update_every, 1),
        _args.real(f, "learning_rate", learning_rate, 0.0),
        _args.integer(f, "decay_after", decay_after, 0),
        callback,
    )
    result = OnlineResult(**raw)
    if result.interrupted:
        raise FitInterrupted(result)
    return result


def default_settings(kind: str = "neural") -> Dict[str, Any]:
    """The library's default fit settings for one kind of data.

    These are the values :func:`fit` uses for every keyword left at ``None``, and
    ``plasticity fit`` for every flag not given.

    Parameters
    ----------
    kind : {"neural", "behaviour"}, default "neural"
        The kind of data.

    Returns
    -------
    dict
        The settings: ``rule_family``, ``trainable``, ``hidden``, ``basis``, ``init``,
        ``gradient``, the optimizer's settings under ``fit`` (``optimizer``,
        ``epochs``, ``learning_rate``, ``batch_size``, ``l1``, ``l2``, ``seed``, …) and
        the keys of that kind (neural: ``solver``, ``eval_trajectories``; behaviour:
        ``weight_bound``, ``inputs``, ``input_seed``, ``eval_sessions``).

    Raises
    ------
    ValueError
        If ``kind`` is unknown.

    Examples
    --------
    >>> import plasticity as pl
    >>> pl.default_settings("behaviour")["fit"]["optimizer"]
    'adam'
    """
    return json.loads(_native.default_settings(kind))


def discover(
    experiment: PathLike,
    *,
    seed: Optional[int] = None,
    optimizer: Optional[str] = None,
    iterations: Optional[int] = None,
) -> Dict[str, Any]:
    """Meta-learns a rule from what a circuit must do, as ``plasticity discover``.

    Instead of fitting recorded data, the rule's coefficients are optimized so that a
    circuit learning with it performs a task: extracting the principal component of its
    inputs (PCA), storing patterns (memory), storing and recalling phase-coded memories
    (the STDP window Ω or the interaction function H, Lengyel & Dayan) or finding several
    principal components with a feed-forward and a lateral rule; see
    docs/discover-pca.md, docs/discover-memory.md, docs/discover-phase.md and
    docs/discover-components.md.

    Parameters
    ----------
    experiment : str or os.PathLike
        A discover experiment file, such as ``experiments/pca.toml``,
        ``experiments/memory.toml``, ``experiments/memory_sparse.toml``,
        ``experiments/memory_phase.toml`` or ``experiments/pca_components.toml``
        (relative paths are taken from the current directory).
    seed : int, optional
        Overrides the file's seed.
    optimizer : {"adam", "cmaes"}, optional
        Overrides the file's optimizer.
    iterations : int, optional
        Overrides the file's number of iterations.

    Returns
    -------
    dict
        What ``results.json`` holds: ``coefficients`` (by canonical term name),
        ``metrics`` (PCA: ``cos2_T``, ``cos2_5T``, ``weight_norm_median``,
        ``diverged_fraction``, ``baseline_cos2_T``; memory: ``overlap_by_load``,
        ``baseline_overlap_by_load``; phase memory: ``quality_by_load``,
        ``matched_quality_by_load``, ``mismatched_quality_by_load``,
        ``correlation_with_matched``; components: ``captured_variance_fraction``,
        ``baseline_captured_variance_fraction``, ``sanger_captured_variance_fraction``),
        ``loss_history``, ``config``, ``seed``,
        ``version``, the held-out ``evaluation`` and ``seconds``.

    Raises
    ------
    FileNotFoundError
        If ``experiment`` does not exist.
    ValueError
        If the file is not a valid discover experiment.
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


def _history_frame(
    result: Union["FitResult", "OnlineResult"],
    loss: Tuple[str, Any],
    index: Tuple[str, Any],
) -> Any:
    """``result.theta_history`` as a pandas table, one column per parameter after the
    ``loss`` column (its name and values), indexed by ``index`` (its name and values)."""
    pd = _pandas()
    frame = pd.DataFrame(result.theta_history, columns=result.parameter_names)
    frame.insert(0, loss[0], loss[1])
    frame.index = pd.Index(index[1], name=index[0])
    return frame


def _rule_overrides(function: str, rule_family: Union[str, Rule]) -> Dict[str, Any]:
    """The settings ``rule_family`` (``"taylor"``, ``"mlp"`` or a :class:`Rule`) gives a
    fit, for ``function`` (``"fit"``, ``"fit_online"``) to override the defaults with."""
    overrides: Dict[str, Any] = {}
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
        raise ValueError(
            f'{function}(): rule_family must be "taylor", "mlp" or a Rule, got {rule_family!r}'
        )
    else:
        raise TypeError(
            f'{function}(): rule_family must be "taylor", "mlp" or a Rule, '
            f"got {type(rule_family).__name__}"
        )
    return overrides


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
