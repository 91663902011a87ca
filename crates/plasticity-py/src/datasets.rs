//! Datasets and fly recordings as Python objects whose arrays are NumPy arrays, and
//! the simulations that make them.

use std::path::PathBuf;
use std::sync::Arc;

use ndarray::Array1;
use numpy::{IntoPyArray, PyArray1, PyArray2, PyArray3, PyReadonlyArray2, PyReadonlyArray3};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use plasticity::circuit::RewardSignal;
use plasticity::task::{BehaviourTask, OjaTask};

use crate::{require_file, to_py_err};

/// `value` (a JSON object) as a Python dict.
pub(crate) fn json_to_py(py: Python<'_>, value: &serde_json::Value) -> PyResult<Py<PyAny>> {
    let text = serde_json::to_string(value)
        .map_err(|e| PyValueError::new_err(format!("cannot convert to JSON: {e}")))?;
    Ok(py.import("json")?.call_method1("loads", (text,))?.unbind())
}

/// A Python dict (or `None`) as a JSON object, for a dataset's metadata.
fn metadata_from_py(
    py: Python<'_>,
    metadata: Option<&Bound<'_, PyDict>>,
) -> PyResult<serde_json::Map<String, serde_json::Value>> {
    let Some(metadata) = metadata else {
        return Ok(serde_json::Map::new());
    };
    let text: String = py
        .import("json")?
        .call_method1("dumps", (metadata,))?
        .extract()?;
    match serde_json::from_str(&text) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        _ => Err(PyValueError::new_err(
            "metadata: expected a dict of JSON values",
        )),
    }
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

fn usizes(values: &[usize]) -> Array1<i64> {
    values.iter().map(|&v| v as i64).collect()
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
#[pyclass(module = "plasticity", frozen, name = "NeuralDataset")]
pub struct NeuralDataset {
    pub(crate) inner: Arc<plasticity::data::NeuralDataset>,
}

impl From<plasticity::data::NeuralDataset> for NeuralDataset {
    fn from(inner: plasticity::data::NeuralDataset) -> Self {
        NeuralDataset {
            inner: Arc::new(inner),
        }
    }
}

#[pymethods]
impl NeuralDataset {
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
        let mut metadata = metadata_from_py(py, metadata)?;
        metadata
            .entry("kind")
            .or_insert_with(|| serde_json::json!("neural"));
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

    /// Reads a neural dataset from an ``.npz`` file.
    ///
    /// Parameters
    /// ----------
    /// path : str or os.PathLike
    ///     The ``.npz`` file (the layout of docs/model.md §6.1).
    ///
    /// Returns
    /// -------
    /// NeuralDataset
    ///     The dataset.
    ///
    /// Raises
    /// ------
    /// FileNotFoundError
    ///     If ``path`` does not exist.
    /// ValueError
    ///     If the file is not a neural dataset (a missing key, a wrong shape or kind).
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        require_file(&path)?;
        let dataset = py
            .detach(|| plasticity::data::NeuralDataset::load(&path))
            .map_err(to_py_err)?;
        Ok(dataset.into())
    }

    /// Writes the dataset as an uncompressed ``.npz`` file.
    ///
    /// The file is written under a temporary name, then renamed, so a reader never sees a
    /// partial file; :func:`load` reads it back unchanged (docs/model.md §6.1).
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

    /// Presynaptic activity ``x_t``, shape ``(trajectories, steps, n_pre)``.
    #[getter]
    fn inputs<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray3<f64>> {
        self.inner.inputs.clone().into_pyarray(py)
    }
    /// Initial weights ``W₀``, shape ``(trajectories, n_post, n_pre)``.
    #[getter]
    fn initial_weights<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray3<f64>> {
        self.inner.initial_weights.clone().into_pyarray(py)
    }
    /// Recorded activity ``y_t`` (noise included), shape ``(trajectories, steps, n_recorded)``.
    #[getter]
    fn recorded_activity<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray3<f64>> {
        self.inner.recorded_activity.clone().into_pyarray(py)
    }
    /// Indices of the recorded neurons into ``0..n_post``, shape ``(n_recorded,)``.
    #[getter]
    fn recorded_neurons<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        usizes(&self.inner.recorded_neurons).into_pyarray(py)
    }
    /// The metadata dict (``kind``, ``rule``, ``noise_std``, ``recording_fraction``, ``seed``, ``version``, …).
    #[getter]
    fn metadata(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        json_to_py(py, &serde_json::Value::Object(self.inner.metadata.clone()))
    }
    /// The kind of data: ``"neural"``.
    #[getter]
    fn kind(&self) -> &'static str {
        "neural"
    }
    /// The rule that generated simulated data (an expression over x, y, w), or ``None``.
    #[getter]
    fn generating_rule(&self) -> Option<String> {
        self.inner.generating_rule().map(str::to_string)
    }
    /// Number of trajectories (int).
    #[getter]
    fn n_trajectories(&self) -> usize {
        self.inner.n_trajectories()
    }
    /// Steps per trajectory (int).
    #[getter]
    fn steps(&self) -> usize {
        self.inner.steps()
    }
    /// Number of presynaptic neurons (int).
    #[getter]
    fn n_pre(&self) -> usize {
        self.inner.n_pre()
    }
    /// Number of postsynaptic neurons, recorded or not (int).
    #[getter]
    fn n_post(&self) -> usize {
        self.inner.n_post()
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
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<NeuralDataset>()
            .is_ok_and(|o| *o.get().inner == *self.inner)
    }
}

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
#[pyclass(module = "plasticity", frozen, name = "BehaviourDataset")]
pub struct BehaviourDataset {
    pub(crate) inner: Arc<plasticity::data::BehaviourDataset>,
}

impl From<plasticity::data::BehaviourDataset> for BehaviourDataset {
    fn from(inner: plasticity::data::BehaviourDataset) -> Self {
        BehaviourDataset {
            inner: Arc::new(inner),
        }
    }
}

#[pymethods]
impl BehaviourDataset {
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
        let mut metadata = metadata_from_py(py, metadata)?;
        metadata
            .entry("kind")
            .or_insert_with(|| serde_json::json!("behaviour"));
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

    /// Reads a behaviour dataset from an ``.npz`` file.
    ///
    /// Parameters
    /// ----------
    /// path : str or os.PathLike
    ///     The ``.npz`` file (the layout of docs/model.md §6.2).
    ///
    /// Returns
    /// -------
    /// BehaviourDataset
    ///     The dataset.
    ///
    /// Raises
    /// ------
    /// FileNotFoundError
    ///     If ``path`` does not exist.
    /// ValueError
    ///     If the file is not a behaviour dataset (a missing key, a wrong shape or kind).
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        require_file(&path)?;
        let dataset = py
            .detach(|| plasticity::data::BehaviourDataset::load(&path))
            .map_err(to_py_err)?;
        Ok(dataset.into())
    }

    /// Writes the dataset as an uncompressed ``.npz`` file.
    ///
    /// The file is written under a temporary name, then renamed, so a reader never sees a
    /// partial file; :func:`load` reads it back unchanged (docs/model.md §6.2).
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

    /// Model input of each presentation, shape ``(sessions, max_presentations, n_in)``.
    #[getter]
    fn inputs<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray3<f64>> {
        self.inner.inputs.clone().into_pyarray(py)
    }
    /// Odour of each presentation (from 0), shape ``(sessions, max_presentations)``; padding −1.
    #[getter]
    fn odours<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<i64>> {
        self.inner.odours.clone().into_pyarray(py)
    }
    /// Decision of each presentation (1 accept, 0 reject), shape ``(sessions, max_presentations)``; padding −1.
    #[getter]
    fn decisions<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<i64>> {
        self.inner.decisions.clone().into_pyarray(py)
    }
    /// Trial of each presentation (from 0), shape ``(sessions, max_presentations)``; padding −1.
    #[getter]
    fn trial_of_presentation<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<i64>> {
        self.inner.trial_of_presentation.clone().into_pyarray(py)
    }
    /// Real (unpadded) presentations per session, shape ``(sessions,)``.
    #[getter]
    fn n_presentations<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        usizes(&self.inner.n_presentations).into_pyarray(py)
    }
    /// Reward ``R`` of each trial, shape ``(sessions, max_trials)``; padding 0.
    #[getter]
    fn rewards<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        self.inner.rewards.clone().into_pyarray(py)
    }
    /// Expected reward ``E[R]`` before each trial's reward, shape ``(sessions, max_trials)``; padding 0.
    #[getter]
    fn expected_rewards<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        self.inner.expected_rewards.clone().into_pyarray(py)
    }
    /// Real (unpadded) trials per session, shape ``(sessions,)``.
    #[getter]
    fn n_trials<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        usizes(&self.inner.n_trials).into_pyarray(py)
    }
    /// Initial weights ``W₀`` of each session, shape ``(sessions, n_hidden, n_in)``.
    #[getter]
    fn initial_weights<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray3<f64>> {
        self.inner.initial_weights.clone().into_pyarray(py)
    }
    /// The metadata dict (``kind``, ``rule``, ``reward_signal``, ``seed``, ``version``, the task's parameters).
    #[getter]
    fn metadata(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        json_to_py(py, &serde_json::Value::Object(self.inner.metadata.clone()))
    }
    /// The kind of data: ``"behaviour"``.
    #[getter]
    fn kind(&self) -> &'static str {
        "behaviour"
    }
    /// The rule that generated simulated data (an expression over x, y, w, r), or ``None``.
    #[getter]
    fn generating_rule(&self) -> Option<String> {
        self.inner.generating_rule().map(str::to_string)
    }
    /// Number of sessions (int).
    #[getter]
    fn n_sessions(&self) -> usize {
        self.inner.n_sessions()
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
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<BehaviourDataset>()
            .is_ok_and(|o| *o.get().inner == *self.inner)
    }
}

/// One fly's recorded session: odour presentations, decisions and rewards.
///
/// Read from a ``.mat`` or ``.csv`` file by :func:`load_fly` or :func:`load_flies` (the
/// layouts of docs/model.md §6.3); not constructed directly. :func:`fit` accepts it as it
/// is, or :meth:`to_dataset` turns it into a one-session :class:`BehaviourDataset`.
#[pyclass(module = "plasticity", frozen, name = "FlyRecording")]
pub struct FlyRecording {
    pub(crate) inner: plasticity::data::fly::FlyRecording,
}

#[pymethods]
impl FlyRecording {
    /// The fly's name: its file name without the extension.
    #[getter]
    fn name(&self) -> String {
        self.inner.name.clone()
    }
    /// Odour of each presentation (from 0), shape ``(n_presentations,)``.
    #[getter]
    fn odours<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        self.inner.odours.clone().into_pyarray(py)
    }
    /// Decision of each presentation (1 accept, 0 reject), shape ``(n_presentations,)``.
    #[getter]
    fn decisions<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        self.inner.decisions.clone().into_pyarray(py)
    }
    /// Trial of each presentation (from 0), shape ``(n_presentations,)``.
    #[getter]
    fn trial_of_presentation<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        self.inner.trial_of_presentation.clone().into_pyarray(py)
    }
    /// Reward ``R`` of each trial, shape ``(n_trials,)``.
    #[getter]
    fn rewards<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.inner.rewards.clone().into_pyarray(py)
    }
    /// Number of odours (int).
    #[getter]
    fn n_odours(&self) -> usize {
        self.inner.n_odours
    }
    /// Number of odour presentations (int).
    #[getter]
    fn n_presentations(&self) -> usize {
        self.inner.n_presentations()
    }
    /// Number of trials (int): a trial ends with an accepted odour.
    #[getter]
    fn n_trials(&self) -> usize {
        self.inner.n_trials()
    }
    /// The fly as a one-session behaviour dataset, as ``plasticity flies`` fits it.
    ///
    /// The inputs are the one-hot odours of the presentations; the initial weights are drawn
    /// as ``W₀ ~ N(0, initial_weight_std²)`` from ``seed`` (a fly's own are unknown).
    ///
    /// Parameters
    /// ----------
    /// n_hidden : int, default 10
    ///     Neurons of the plastic layer.
    /// initial_weight_std : float, default 0.01
    ///     Standard deviation of the initial weights.
    /// seed : int, default 0
    ///     Seed of the initial weights.
    /// expected_reward_window : int, default 10
    ///     ``E[R]`` is the mean of the last this many rewards.
    /// reward_signal : {"centred", "raw"}, default "centred"
    ///     The reward term of the rule: ``r = R − E[R]`` (``"centred"``) or ``r = R``
    ///     (``"raw"``).
    ///
    /// Returns
    /// -------
    /// BehaviourDataset
    ///     One session holding this fly's presentations, decisions and rewards.
    ///
    /// Raises
    /// ------
    /// ValueError
    ///     If ``reward_signal`` is neither ``"centred"`` nor ``"raw"``.
    #[pyo3(signature = (n_hidden = 10, initial_weight_std = 0.01, seed = 0, expected_reward_window = 10, reward_signal = "centred"))]
    fn to_dataset(
        &self,
        n_hidden: usize,
        initial_weight_std: f64,
        seed: u64,
        expected_reward_window: usize,
        reward_signal: &str,
    ) -> PyResult<BehaviourDataset> {
        let dataset = plasticity::data::fly::to_dataset(
            std::slice::from_ref(&self.inner),
            n_hidden,
            initial_weight_std,
            seed,
            expected_reward_window,
            reward_signal_of(reward_signal)?,
        )
        .map_err(to_py_err)?;
        Ok(dataset.into())
    }
    fn __repr__(&self) -> String {
        format!(
            "FlyRecording(name={:?}, presentations={}, trials={}, rewards={})",
            self.inner.name,
            self.inner.n_presentations(),
            self.inner.n_trials(),
            self.inner.rewards.iter().filter(|&&r| r > 0.0).count()
        )
    }
}

/// Reads one fly's session from a ``.mat`` (MATLAB v5/v7) or ``.csv`` file.
///
/// A ``.mat`` file holds ``X`` (presentations × odours, one-hot), ``Y`` (1 accept, 0
/// reject) and ``R`` (the reward of each trial); a ``.csv`` file one row per presentation
/// with the header ``trial,odour,decision,reward`` (docs/model.md §6.3).
///
/// Parameters
/// ----------
/// path : str or os.PathLike
///     The ``.mat`` or ``.csv`` file.
///
/// Returns
/// -------
/// FlyRecording
///     The fly's session, named after the file.
///
/// Raises
/// ------
/// FileNotFoundError
///     If ``path`` does not exist.
/// ValueError
///     If the file is not a fly recording (a missing variable, inconsistent lengths).
#[pyfunction]
fn load_fly(py: Python<'_>, path: PathBuf) -> PyResult<FlyRecording> {
    require_file(&path)?;
    let inner = py
        .detach(|| plasticity::data::fly::load_fly(&path))
        .map_err(to_py_err)?;
    Ok(FlyRecording { inner })
}

/// Reads every fly (``*.mat``, ``*.csv``, and subdirectories of deposited raw data
/// holding ``choice_order.mat``, converted as ``plasticity convert-fly`` does) of a
/// directory.
///
/// Parameters
/// ----------
/// directory : str or os.PathLike
///     The directory; other files in it are ignored.
///
/// Returns
/// -------
/// list of FlyRecording
///     One recording per file or raw directory, in natural order of the names
///     (``Fly2`` before ``Fly10``).
///
/// Raises
/// ------
/// FileNotFoundError
///     If ``directory`` does not exist.
/// ValueError
///     If a file is not a fly recording, or the directory holds none.
#[pyfunction]
fn load_flies(py: Python<'_>, directory: PathBuf) -> PyResult<Vec<FlyRecording>> {
    require_file(&directory)?;
    let flies = py
        .detach(|| plasticity::data::fly::load_fly_dir(&directory))
        .map_err(to_py_err)?;
    Ok(flies
        .into_iter()
        .map(|inner| FlyRecording { inner })
        .collect())
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
#[pyo3(signature = (*, rule, sessions, blocks, trials_per_block, reward_probabilities, n_in, n_hidden, odour_level, input_noise_std, initial_weight_std, expected_reward_window, reward_signal, max_presentations_per_trial, seed))]
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
) -> PyResult<BehaviourDataset> {
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
    m.add_class::<FlyRecording>()?;
    m.add_function(wrap_pyfunction!(load_fly, m)?)?;
    m.add_function(wrap_pyfunction!(load_flies, m)?)?;
    m.add_function(wrap_pyfunction!(simulate_oja, m)?)?;
    m.add_function(wrap_pyfunction!(simulate_behaviour, m)?)?;
    Ok(())
}
