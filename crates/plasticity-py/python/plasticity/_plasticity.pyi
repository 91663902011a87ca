"""Type stubs of the native module (Rust, pyo3). Use the wrappers in
``plasticity`` (``simulate_oja``, ``fit``, ``loss_and_gradient``); the classes and
loaders are re-exported there unchanged, and their full NumPy-style docstrings are
the native module's own (``help(plasticity.NeuralDataset)``)."""

from os import PathLike
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union, final

import numpy as np
import numpy.typing as npt

_Path = Union[str, PathLike[str]]
_F64 = npt.NDArray[np.float64]
_I64 = npt.NDArray[np.int64]

__version__: str
__all__ = [
    "__version__",
    "term_names",
    "parse_expression",
    "format_expression",
    "load",
    "NeuralDataset",
    "BehaviourDataset",
    "FlyRecording",
    "load_fly",
    "load_flies",
    "simulate_oja",
    "simulate_behaviour",
    "fit_neural_dataset",
    "fit_behaviour_dataset",
    "default_settings",
    "loss_and_gradient",
    "fit_neural_streamed",
    "loss_and_gradient_streamed",
    "fit_online",
    "discover",
    "run_cli",
    "CliError",
]

@final
class NeuralDataset:
    """Activity of a plastic layer ``y_t = sigmoid(W_t x_t)`` (docs/model.md §6.1, kind "neural").
    Array attributes return NumPy copies."""

    def __new__(
        cls,
        inputs: _F64,
        initial_weights: _F64,
        recorded_activity: _F64,
        recorded_neurons: Optional[Sequence[int]] = None,
        metadata: Optional[Dict[str, Any]] = None,
    ) -> "NeuralDataset": ...
    @staticmethod
    def load(path: _Path) -> "NeuralDataset": ...
    def save(self, path: _Path) -> None: ...
    @property
    def inputs(self) -> _F64:
        """``x_t``, ``[trajectories, steps, n_pre]``."""
    @property
    def initial_weights(self) -> _F64:
        """``W₀``, ``[trajectories, n_post, n_pre]``."""
    @property
    def recorded_activity(self) -> _F64:
        """Recorded ``y_t``, ``[trajectories, steps, n_recorded]``."""
    @property
    def recorded_neurons(self) -> _I64: ...
    @property
    def metadata(self) -> Dict[str, Any]: ...
    @property
    def kind(self) -> str: ...
    @property
    def generating_rule(self) -> Optional[str]: ...
    @property
    def n_trajectories(self) -> int: ...
    @property
    def steps(self) -> int: ...
    @property
    def n_pre(self) -> int: ...
    @property
    def n_post(self) -> int: ...
    def __eq__(self, other: object, /) -> bool: ...

@final
class BehaviourDataset:
    """Choices in the two-odour task (docs/model.md §6.2, kind "behaviour"), sessions padded to a
    common length (−1 for integers, 0 for floats)."""

    def __new__(
        cls,
        *,
        inputs: _F64,
        odours: _I64,
        decisions: _I64,
        trial_of_presentation: _I64,
        n_presentations: Sequence[int],
        rewards: _F64,
        expected_rewards: _F64,
        n_trials: Sequence[int],
        initial_weights: _F64,
        metadata: Optional[Dict[str, Any]] = None,
    ) -> "BehaviourDataset": ...
    @staticmethod
    def load(path: _Path) -> "BehaviourDataset": ...
    def save(self, path: _Path) -> None: ...
    @property
    def inputs(self) -> _F64: ...
    @property
    def odours(self) -> _I64: ...
    @property
    def decisions(self) -> _I64: ...
    @property
    def trial_of_presentation(self) -> _I64: ...
    @property
    def n_presentations(self) -> _I64: ...
    @property
    def rewards(self) -> _F64: ...
    @property
    def expected_rewards(self) -> _F64: ...
    @property
    def n_trials(self) -> _I64: ...
    @property
    def initial_weights(self) -> _F64: ...
    @property
    def metadata(self) -> Dict[str, Any]: ...
    @property
    def kind(self) -> str: ...
    @property
    def generating_rule(self) -> Optional[str]: ...
    @property
    def n_sessions(self) -> int: ...
    def __eq__(self, other: object, /) -> bool: ...

@final
class FlyRecording:
    """One fly's session (docs/model.md §6.3)."""

    @property
    def name(self) -> str: ...
    @property
    def odours(self) -> _I64: ...
    @property
    def decisions(self) -> _I64: ...
    @property
    def trial_of_presentation(self) -> _I64: ...
    @property
    def rewards(self) -> _F64: ...
    @property
    def n_odours(self) -> int: ...
    @property
    def n_presentations(self) -> int: ...
    @property
    def n_trials(self) -> int: ...
    def to_dataset(
        self,
        n_hidden: int = 10,
        initial_weight_std: float = 0.01,
        seed: int = 0,
        expected_reward_window: int = 10,
        reward_signal: str = "centred",
    ) -> BehaviourDataset: ...

def load(path: _Path) -> Union[NeuralDataset, BehaviourDataset]: ...
def load_fly(path: _Path) -> FlyRecording: ...
def load_flies(directory: _Path) -> List[FlyRecording]: ...
def term_names(variables: str = "xyw") -> List[str]: ...
def parse_expression(expression: str, variables: str = "xyw") -> List[float]: ...
def format_expression(coefficients: Sequence[float], variables: str = "xyw") -> str: ...
def simulate_oja(
    *,
    n_pre: int,
    n_post: int,
    steps: int,
    trajectories: int,
    input_std: float,
    initial_weight_std: Optional[float],
    noise_std: float,
    recording_fraction: float,
    rule: str,
    seed: int,
) -> NeuralDataset: ...
def simulate_behaviour(
    *,
    rule: str,
    sessions: int,
    blocks: int,
    trials_per_block: int,
    reward_probabilities: Sequence[Tuple[float, float]],
    n_in: int,
    n_hidden: int,
    odour_level: float,
    input_noise_std: float,
    initial_weight_std: float,
    expected_reward_window: int,
    reward_signal: str,
    max_presentations_per_trial: int,
    seed: int,
    kind: str = ...,
) -> BehaviourDataset: ...
def fit_neural_dataset(
    dataset: NeuralDataset,
    settings: str,
    callback: Optional[Callable[[int, float, _F64], Optional[bool]]] = None,
) -> Dict[str, Any]: ...
def fit_behaviour_dataset(
    dataset: BehaviourDataset,
    settings: str,
    callback: Optional[Callable[[int, float, _F64], Optional[bool]]] = None,
) -> Dict[str, Any]: ...
def default_settings(kind: str) -> str: ...
def fit_neural_streamed(
    path: _Path,
    settings: str,
    callback: Optional[Callable[[int, float, _F64], Optional[bool]]] = None,
) -> Dict[str, Any]: ...
def loss_and_gradient_streamed(path: _Path, theta: _F64) -> Tuple[float, _F64]: ...
def fit_online(
    path: _Path,
    settings: str,
    update_every: int,
    learning_rate: float,
    decay_after: int,
    callback: Optional[Callable[[int, float, _F64], Optional[bool]]] = None,
) -> Dict[str, Any]: ...
def loss_and_gradient(
    dataset: Union[NeuralDataset, BehaviourDataset],
    theta: _F64,
    *,
    rule_family: str = "taylor",
    hidden: Sequence[int] = ...,
    items: Optional[Sequence[int]] = None,
    weight_bound: Optional[float] = None,
    inputs: str = "recorded",
    input_seed: int = 0,
) -> Tuple[float, _F64]: ...

def discover(
    experiment: _Path,
    seed: Optional[int] = None,
    optimizer: Optional[str] = None,
    iterations: Optional[int] = None,
) -> Dict[str, Any]: ...

def run_cli(args: List[str]) -> None: ...

class CliError(RuntimeError): ...
