//! Datasets as Python objects whose arrays are NumPy arrays, and the simulations that
//! make them.

use std::path::PathBuf;
use std::sync::Arc;

use numpy::{PyArray1, PyArray2, PyArray3, PyReadonlyArray2, PyReadonlyArray3};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use plasticity::circuit::RewardSignal;
use plasticity::task::{BehaviourTask, OjaTask};

use crate::getters::py_methods;
use crate::{read_file, to_py_err};

/// `value` (a JSON object) as a Python dict.
pub(crate) fn json_to_py(py: Python<'_>, value: &serde_json::Value) -> PyResult<Py<PyAny>> {
    let text = serde_json::to_string(value)
        .map_err(|e| PyValueError::new_err(format!("cannot convert to JSON: {e}")))?;
    Ok(py.import("json")?.call_method1("loads", (text,))?.unbind())
}

/// A Python dict (or `None`) as a JSON object, for a dataset's metadata; its `kind` is
/// `kind` unless given.
fn metadata_from_py(
    py: Python<'_>,
    metadata: Option<&Bound<'_, PyDict>>,
    kind: &str,
) -> PyResult<serde_json::Map<String, serde_json::Value>> {
    let mut map = match metadata {
        None => serde_json::Map::new(),
        Some(metadata) => {
            let text: String = py
                .import("json")?
                .call_method1("dumps", (metadata,))?
                .extract()?;
            match serde_json::from_str(&text) {
                Ok(serde_json::Value::Object(map)) => map,
                _ => {
                    return Err(PyValueError::new_err(
                        "metadata: expected a dict of JSON values",
                    ))
                }
            }
        }
    };
    map.entry("kind").or_insert_with(|| serde_json::json!(kind));
    Ok(map)
}

/// `reward_signal` by name.
pub(crate) fn reward_signal_of(name: &str) -> PyResult<RewardSignal> {
    match name {
        "centred" | "centered" => Ok(RewardSignal::Centred),
        "raw" => Ok(RewardSignal::Raw),
        other => Err(PyValueError::new_err(format!(
            "reward_signal: expected \"centred\" (r = R − E[R]) or \"raw\" (r = R), got \"{other}\""
        ))),
    }
}

fn origin() -> PathBuf {
    PathBuf::from("(arrays given from Python)")
}

fn non_negative(variable: &str, values: Vec<i64>) -> PyResult<Vec<usize>> {
    values
        .into_iter()
        .map(|v| {
            usize::try_from(v).map_err(|_| {
                PyValueError::new_err(format!(
                    "{variable}: expected non-negative integers, found {v}"
                ))
            })
        })
        .collect()
}

/// A dataset class (documented by the doc comments first given) holding the library's
/// dataset `$data`, `From` it, with its `#[pymethods]` ([`py_methods!`]) and what every
/// kind has: `load`, `save`, the `metadata` (documented as given), `kind`,
/// `generating_rule` and `__eq__`, documented for the `kind` (`"neural"`,
/// `"behaviour"`), its `.npz` layout's `section` of docs/model.md and its rule's
/// `variables`.
macro_rules! dataset_class {
    (
        $(#[doc = $class_doc:tt])*
        $class:ident($data:ty), $kind:literal, $section:literal, $variables:literal;
        $(#[doc = $metadata_doc:tt])* metadata;
        arrays $arrays:tt
        counts $counts:tt
        $($methods:tt)*
    ) => {
        $(#[doc = $class_doc])*
        #[pyclass(module = "plasticity", frozen)]
        pub struct $class {
            pub(crate) inner: Arc<$data>,
        }

        impl From<$data> for $class {
            fn from(inner: $data) -> Self {
                $class {
                    inner: Arc::new(inner),
                }
            }
        }

        py_methods! {
            $class {
                arrays $arrays
                counts $counts
                #[doc = concat!("Reads a ", $kind, " dataset from an ``.npz`` file.")]
                ///
                /// Parameters
                /// ----------
                /// path : str or os.PathLike
                #[doc = concat!("    The ``.npz`` file (the layout of docs/model.md ", $section, ").")]
                ///
                /// Returns
                /// -------
                #[doc = stringify!($class)]
                ///     The dataset.
                ///
                /// Raises
                /// ------
                /// FileNotFoundError
                ///     If ``path`` does not exist.
                /// ValueError
                #[doc = concat!(
                    "    If the file is not a ", $kind,
                    " dataset (a missing key, a wrong shape or kind)."
                )]
                #[staticmethod]
                fn load(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
                    read_file(py, &path, |path| <$data>::load(path)).map(Self::from)
                }

                /// Writes the dataset as an uncompressed ``.npz`` file.
                ///
                /// The file is written under a temporary name, then renamed, so a reader never sees a
                #[doc = concat!(
                    "partial file; :func:`load` reads it back unchanged (docs/model.md ",
                    $section, ")."
                )]
                ///
                /// Parameters
                /// ----------
                /// path : str or os.PathLike
                ///     Where to write (conventionally ending in ``.npz``); an existing file is replaced.
                ///
                /// Raises
                /// ------
                /// OSError
                ///     If the file cannot be written.
                fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
                    py.detach(|| self.inner.save(&path)).map_err(to_py_err)
                }

                $(#[doc = $metadata_doc])*
                #[getter]
                fn metadata(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
                    json_to_py(py, &serde_json::Value::Object(self.inner.metadata.clone()))
                }
                #[doc = concat!(
                    "The kind of data: ``\"", $kind,
                    "\"`` (behaviour data whose trials are choices among their odours: ``\"choice\"``)."
                )]
                #[getter]
                fn kind(&self) -> &'static str {
                    match self.inner.metadata.get("kind").and_then(|k| k.as_str()) {
                        Some("choice") => "choice",
                        _ => $kind,
                    }
                }
                #[doc = concat!(
                    "The rule that generated simulated data (an expression over ",
                    $variables, "), or ``None``."
                )]
                #[getter]
                fn generating_rule(&self) -> Option<String> {
                    self.inner.generating_rule().map(str::to_string)
                }
                fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
                    other
                        .cast::<$class>()
                        .is_ok_and(|o| *o.get().inner == *self.inner)
                }
                $($methods)*
            }
        }
    };
}

dataset_class! {
    /// Activity of a plastic layer recorded over several trajectories.
    ///
    /// The layer computes ``y_t = sigmoid(W_t x_t)`` while its weights change by a plasticity
    /// rule, ``W_{t+1} = W_t + g(x_t, y_t, W_t)`` (docs/model.md §3.1). A dataset holds what
    /// is needed to recompute the loss exactly: the inputs, the initial weights and the
    /// recorded activity of some or all postsynaptic neurons (the ``.npz`` layout of
    /// docs/model.md §6.1, kind ``"neural"``). Made by :func:`simulate_oja`, read by
    /// :func:`load`, or built from arrays. Array attributes return NumPy copies.
    ///
    /// Parameters
    /// ----------
    /// inputs : numpy.ndarray of float64, shape (trajectories, steps, n_pre)
    ///     Presynaptic activity ``x_t`` as the model uses it.
    /// initial_weights : numpy.ndarray of float64, shape (trajectories, n_post, n_pre)
    ///     Initial weights ``W₀`` of each trajectory.
    /// recorded_activity : numpy.ndarray of float64, shape (trajectories, steps, n_recorded)
    ///     Recorded postsynaptic activity ``y_t`` (noise included) of the recorded neurons.
    /// recorded_neurons : sequence of int, optional
    ///     Ascending indices into ``0..n_post`` of the recorded neurons, one per column of
    ///     ``recorded_activity``. Default: every postsynaptic neuron.
    /// metadata : dict, optional
    ///     JSON-serialisable metadata (``rule``, ``noise_std``, ``seed``, …); ``kind`` is set
    ///     to ``"neural"`` unless given.
    ///
    /// Raises
    /// ------
    /// ValueError
    ///     If the shapes disagree, an index is negative or out of range, or ``metadata`` is
    ///     not JSON-serialisable.
    ///
    /// Examples
    /// --------
    /// >>> import numpy as np
    /// >>> import plasticity as pl
    /// >>> pl.NeuralDataset(np.zeros((1, 5, 3)), np.zeros((1, 2, 3)), np.full((1, 5, 2), 0.5))
    /// NeuralDataset(trajectories=1, steps=5, n_pre=3, n_post=2, recorded=2, rule="unknown")
    NeuralDataset(plasticity::data::NeuralDataset), "neural", "§6.1", "x, y, w";
    /// The metadata dict (``kind``, ``rule``, ``noise_std``, ``recording_fraction``, ``seed``, ``version``, …).
    metadata;
    arrays {
        /// Presynaptic activity ``x_t``, shape ``(trajectories, steps, n_pre)``.
        inputs: PyArray3<f64>,
        /// Initial weights ``W₀``, shape ``(trajectories, n_post, n_pre)``.
        initial_weights: PyArray3<f64>,
        /// Recorded activity ``y_t`` (noise included), shape ``(trajectories, steps, n_recorded)``.
        recorded_activity: PyArray3<f64>,
        /// Indices of the recorded neurons into ``0..n_post``, shape ``(n_recorded,)``.
        recorded_neurons: PyArray1<i64>,
    }
    counts {
        /// Number of trajectories (int).
        n_trajectories,
        /// Steps per trajectory (int).
        steps,
        /// Number of presynaptic neurons (int).
        n_pre,
        /// Number of postsynaptic neurons, recorded or not (int).
        n_post,
    }
    // A dataset from arrays; Python reads the parameters from the class's docstring.
    #[new]
    #[pyo3(signature = (inputs, initial_weights, recorded_activity, recorded_neurons = None, metadata = None))]
    fn new(
        py: Python<'_>,
        inputs: PyReadonlyArray3<'_, f64>,
        initial_weights: PyReadonlyArray3<'_, f64>,
        recorded_activity: PyReadonlyArray3<'_, f64>,
        recorded_neurons: Option<Vec<i64>>,
        metadata: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let n_post = initial_weights.as_array().shape()[1];
        let recorded_neurons = match recorded_neurons {
            Some(indices) => non_negative("recorded_neurons", indices)?,
            None => (0..n_post).collect(),
        };
        let metadata = metadata_from_py(py, metadata, "neural")?;
        let dataset = plasticity::data::NeuralDataset::new(
            inputs.as_array().to_owned(),
            initial_weights.as_array().to_owned(),
            recorded_activity.as_array().to_owned(),
            recorded_neurons,
            metadata,
            &origin(),
        )
        .map_err(to_py_err)?;
        Ok(dataset.into())
    }
    fn __repr__(&self) -> String {
        format!(
            "NeuralDataset(trajectories={}, steps={}, n_pre={}, n_post={}, recorded={}, rule={:?})",
            self.inner.n_trajectories(),
            self.inner.steps(),
            self.inner.n_pre(),
            self.inner.n_post(),
            self.inner.recorded_neurons.len(),
            self.inner.generating_rule().unwrap_or("unknown"),
        )
    }
}

dataset_class! {
    /// Choices of flies (real or simulated) in the two-odour task.
    ///
    /// Each session is a sequence of odour presentations, each accepted or rejected; an
    /// accepted odour ends a trial with a reward ``R`` (docs/model.md §3.2, §4.2). Sessions
    /// differ in length, so the arrays are padded to a common length (−1 for integers, 0 for
    /// floats) and the lengths given explicitly; padding never enters a loss (the ``.npz``
    /// layout of docs/model.md §6.2, kind ``"behaviour"``). Made by
    /// :func:`simulate_behaviour`, by :meth:`FlyRecording.to_dataset`, read by :func:`load`,
    /// or built from arrays. Array attributes return NumPy copies.
    ///
    /// Parameters
    /// ----------
    /// inputs : numpy.ndarray of float64, shape (sessions, max_presentations, n_in)
    ///     Model input of each presentation.
    /// odours : numpy.ndarray of int64, shape (sessions, max_presentations)
    ///     Odour of each presentation, from 0.
    /// decisions : numpy.ndarray of int64, shape (sessions, max_presentations)
    ///     1 accept, 0 reject.
    /// trial_of_presentation : numpy.ndarray of int64, shape (sessions, max_presentations)
    ///     Trial of each presentation, from 0.
    /// n_presentations : sequence of int, length sessions
    ///     Real presentations per session.
    /// rewards : numpy.ndarray of float64, shape (sessions, max_trials)
    ///     Reward ``R`` of each trial.
    /// expected_rewards : numpy.ndarray of float64, shape (sessions, max_trials)
    ///     Expected reward ``E[R]`` before each trial's reward.
    /// n_trials : sequence of int, length sessions
    ///     Real trials per session.
    /// initial_weights : numpy.ndarray of float64, shape (sessions, n_hidden, n_in)
    ///     Initial weights ``W₀`` of each session.
    /// metadata : dict, optional
    ///     JSON-serialisable metadata (``rule``, ``reward_signal``, ``seed``, …); ``kind`` is
    ///     set to ``"behaviour"`` unless given.
    ///
    /// Raises
    /// ------
    /// ValueError
    ///     If the shapes or lengths disagree, or ``metadata`` is not JSON-serialisable.
    BehaviourDataset(plasticity::data::BehaviourDataset), "behaviour", "§6.2", "x, y, w, r";
    /// The metadata dict (``kind``, ``rule``, ``reward_signal``, ``seed``, ``version``, the task's parameters).
    metadata;
    arrays {
        /// Model input of each presentation, shape ``(sessions, max_presentations, n_in)``.
        inputs: PyArray3<f64>,
        /// Odour of each presentation (from 0), shape ``(sessions, max_presentations)``; padding −1.
        odours: PyArray2<i64>,
        /// Decision of each presentation (1 accept, 0 reject), shape ``(sessions, max_presentations)``; padding −1.
        decisions: PyArray2<i64>,
        /// Trial of each presentation (from 0), shape ``(sessions, max_presentations)``; padding −1.
        trial_of_presentation: PyArray2<i64>,
        /// Real (unpadded) presentations per session, shape ``(sessions,)``.
        n_presentations: PyArray1<i64>,
        /// Reward ``R`` of each trial, shape ``(sessions, max_trials)``; padding 0.
        rewards: PyArray2<f64>,
        /// Expected reward ``E[R]`` before each trial's reward, shape ``(sessions, max_trials)``; padding 0.
        expected_rewards: PyArray2<f64>,
        /// Real (unpadded) trials per session, shape ``(sessions,)``.
        n_trials: PyArray1<i64>,
        /// Initial weights ``W₀`` of each session, shape ``(sessions, n_hidden, n_in)``.
        initial_weights: PyArray3<f64>,
    }
    counts {
        /// Number of sessions (int).
        n_sessions,
    }
    // A dataset from arrays; Python reads the parameters from the class's docstring.
    #[new]
    #[pyo3(signature = (*, inputs, odours, decisions, trial_of_presentation, n_presentations, rewards, expected_rewards, n_trials, initial_weights, metadata = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        inputs: PyReadonlyArray3<'_, f64>,
        odours: PyReadonlyArray2<'_, i64>,
        decisions: PyReadonlyArray2<'_, i64>,
        trial_of_presentation: PyReadonlyArray2<'_, i64>,
        n_presentations: Vec<i64>,
        rewards: PyReadonlyArray2<'_, f64>,
        expected_rewards: PyReadonlyArray2<'_, f64>,
        n_trials: Vec<i64>,
        initial_weights: PyReadonlyArray3<'_, f64>,
        metadata: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let metadata = metadata_from_py(py, metadata, "behaviour")?;
        let dataset = plasticity::data::BehaviourDataset::new(
            inputs.as_array().to_owned(),
            odours.as_array().to_owned(),
            decisions.as_array().to_owned(),
            trial_of_presentation.as_array().to_owned(),
            non_negative("n_presentations", n_presentations)?,
            rewards.as_array().to_owned(),
            expected_rewards.as_array().to_owned(),
            non_negative("n_trials", n_trials)?,
            initial_weights.as_array().to_owned(),
            metadata,
            &origin(),
        )
        .map_err(to_py_err)?;
        Ok(dataset.into())
    }
    fn __repr__(&self) -> String {
        format!(
            "BehaviourDataset(sessions={}, presentations={}, n_in={}, n_hidden={}, rule={:?})",
            self.inner.n_sessions(),
            self.inner.n_presentations.iter().sum::<usize>(),
            self.inner.n_in(),
            self.inner.n_hidden(),
            self.inner.generating_rule().unwrap_or("unknown"),
        )
    }
}

/// Simulates neural data (the native layer of :func:`plasticity.simulate_oja`).
///
/// Every keyword is required here; :func:`plasticity.simulate_oja` gives the defaults,
/// checks the arguments and describes them.
#[pyfunction]
#[pyo3(signature = (*, n_pre, n_post, steps, trajectories, input_std, initial_weight_std, noise_std, recording_fraction, rule, seed))]
#[allow(clippy::too_many_arguments)]
fn simulate_oja(
    py: Python<'_>,
    n_pre: usize,
    n_post: usize,
    steps: usize,
    trajectories: usize,
    input_std: f64,
    initial_weight_std: Option<f64>,
    noise_std: f64,
    recording_fraction: f64,
    rule: String,
    seed: u64,
) -> PyResult<NeuralDataset> {
    let task = OjaTask {
        n_pre,
        n_post,
        steps,
        trajectories,
        input_std,
        initial_weight_std,
        noise_std,
        recording_fraction,
        rule,
        seed,
    };
    let dataset = py.detach(|| task.simulate()).map_err(to_py_err)?;
    Ok(dataset.into())
}

/// Simulates flies in the two-odour task (the native layer of
/// :func:`plasticity.simulate_behaviour`).
///
/// Every keyword is required here; :func:`plasticity.simulate_behaviour` gives the
/// defaults, checks the arguments and describes them.
#[pyfunction]
#[pyo3(signature = (*, rule, sessions, blocks, trials_per_block, reward_probabilities, n_in, n_hidden, odour_level, input_noise_std, initial_weight_std, expected_reward_window, reward_signal, max_presentations_per_trial, seed, kind = "behaviour"))]
#[allow(clippy::too_many_arguments)]
fn simulate_behaviour(
    py: Python<'_>,
    rule: String,
    sessions: usize,
    blocks: usize,
    trials_per_block: usize,
    reward_probabilities: Vec<(f64, f64)>,
    n_in: usize,
    n_hidden: usize,
    odour_level: f64,
    input_noise_std: f64,
    initial_weight_std: f64,
    expected_reward_window: usize,
    reward_signal: &str,
    max_presentations_per_trial: usize,
    seed: u64,
    kind: &str,
) -> PyResult<BehaviourDataset> {
    let kind = match kind {
        "behaviour" => plasticity::data::BehaviourKind::AcceptReject,
        "choice" => plasticity::data::BehaviourKind::Choice,
        other => {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "kind: expected \"behaviour\" or \"choice\", got \"{other}\""
            )))
        }
    };
    let task = BehaviourTask {
        n_blocks: blocks,
        trials_per_block,
        reward_probabilities: reward_probabilities.iter().map(|&(a, b)| [a, b]).collect(),
        n_in,
        n_hidden,
        odour_level,
        input_noise_std,
        initial_weight_std,
        expected_reward_window,
        reward_signal: reward_signal_of(reward_signal)?,
        kind,
        max_presentations_per_trial,
        sessions,
        rule,
        seed,
    };
    let dataset = py.detach(|| task.simulate()).map_err(to_py_err)?;
    Ok(dataset.into())
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NeuralDataset>()?;
    m.add_class::<BehaviourDataset>()?;
    m.add_function(wrap_pyfunction!(simulate_oja, m)?)?;
    m.add_function(wrap_pyfunction!(simulate_behaviour, m)?)?;
    Ok(())
}
