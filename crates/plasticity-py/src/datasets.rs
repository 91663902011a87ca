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

/// Neural activity of a plastic layer `y_t = sigmoid(W_t x_t)` over several
/// trajectories (docs/model.md §6, kind "neural"). Arrays are returned as NumPy copies.
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
    /// A dataset from arrays: `inputs` x `[trajectories, steps, n_pre]`,
    /// `initial_weights` W₀ `[trajectories, n_post, n_pre]`, `recorded_activity`
    /// `[trajectories, steps, n_recorded]`, the indices of the recorded neurons
    /// (default: all), and a metadata dict.
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

    /// Reads a neural `.npz` dataset (docs/model.md §6).
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        require_file(&path)?;
        let dataset = py
            .detach(|| plasticity::data::NeuralDataset::load(&path))
            .map_err(to_py_err)?;
        Ok(dataset.into())
    }

    /// Writes the dataset as `.npz` (docs/model.md §6; written to a temporary name, then renamed).
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        py.detach(|| self.inner.save(&path)).map_err(to_py_err)
    }

    /// `x_t`, `[trajectories, steps, n_pre]`.
    #[getter]
    fn inputs<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray3<f64>> {
        self.inner.inputs.clone().into_pyarray(py)
    }
    /// `W₀`, `[trajectories, n_post, n_pre]`.
    #[getter]
    fn initial_weights<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray3<f64>> {
        self.inner.initial_weights.clone().into_pyarray(py)
    }
    /// Recorded `y_t` (noise included), `[trajectories, steps, n_recorded]`.
    #[getter]
    fn recorded_activity<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray3<f64>> {
        self.inner.recorded_activity.clone().into_pyarray(py)
    }
    /// Indices of the recorded neurons into `0..n_post`.
    #[getter]
    fn recorded_neurons<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        usizes(&self.inner.recorded_neurons).into_pyarray(py)
    }
    /// The metadata dict (`kind`, `rule`, `noise_std`, `recording_fraction`, `seed`, …).
    #[getter]
    fn metadata(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        json_to_py(py, &serde_json::Value::Object(self.inner.metadata.clone()))
    }
    /// `"neural"`.
    #[getter]
    fn kind(&self) -> &'static str {
        "neural"
    }
    /// The rule that generated simulated data (an expression over x, y, w), or `None`.
    #[getter]
    fn generating_rule(&self) -> Option<String> {
        self.inner.generating_rule().map(str::to_string)
    }
    /// Number of trajectories.
    #[getter]
    fn n_trajectories(&self) -> usize {
        self.inner.n_trajectories()
    }
    /// Steps per trajectory.
    #[getter]
    fn steps(&self) -> usize {
        self.inner.steps()
    }
    /// Presynaptic neurons.
    #[getter]
    fn n_pre(&self) -> usize {
        self.inner.n_pre()
    }
    /// Postsynaptic neurons.
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

/// Choices in the two-odour task (docs/model.md §6, kind "behaviour"): sessions padded to a
/// common length (−1 for integers, 0 for floats) with explicit lengths.
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
    /// A dataset from arrays (shapes as in docs/model.md §6: `[sessions, max_presentations(, n_in)]`
    /// per presentation, `[sessions, max_trials]` per trial).
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

    /// Reads a behaviour `.npz` dataset (docs/model.md §6).
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        require_file(&path)?;
        let dataset = py
            .detach(|| plasticity::data::BehaviourDataset::load(&path))
            .map_err(to_py_err)?;
        Ok(dataset.into())
    }

    /// Writes the dataset as `.npz` (docs/model.md §6; written to a temporary name, then renamed).
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        py.detach(|| self.inner.save(&path)).map_err(to_py_err)
    }

    /// Model input of each presentation, `[sessions, max_presentations, n_in]`.
    #[getter]
    fn inputs<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray3<f64>> {
        self.inner.inputs.clone().into_pyarray(py)
    }
    /// Odour identity (0-based), `[sessions, max_presentations]`.
    #[getter]
    fn odours<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<i64>> {
        self.inner.odours.clone().into_pyarray(py)
    }
    /// 1 accept, 0 reject, `[sessions, max_presentations]`.
    #[getter]
    fn decisions<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<i64>> {
        self.inner.decisions.clone().into_pyarray(py)
    }
    /// 0-based trial of each presentation, `[sessions, max_presentations]`.
    #[getter]
    fn trial_of_presentation<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<i64>> {
        self.inner.trial_of_presentation.clone().into_pyarray(py)
    }
    /// Real presentations per session.
    #[getter]
    fn n_presentations<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        usizes(&self.inner.n_presentations).into_pyarray(py)
    }
    /// `R` of each trial, `[sessions, max_trials]`.
    #[getter]
    fn rewards<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        self.inner.rewards.clone().into_pyarray(py)
    }
    /// `E[R]` before each trial's reward, `[sessions, max_trials]`.
    #[getter]
    fn expected_rewards<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        self.inner.expected_rewards.clone().into_pyarray(py)
    }
    /// Trials per session.
    #[getter]
    fn n_trials<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        usizes(&self.inner.n_trials).into_pyarray(py)
    }
    /// `W₀`, `[sessions, n_hidden, n_in]`.
    #[getter]
    fn initial_weights<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray3<f64>> {
        self.inner.initial_weights.clone().into_pyarray(py)
    }
    /// The metadata dict.
    #[getter]
    fn metadata(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        json_to_py(py, &serde_json::Value::Object(self.inner.metadata.clone()))
    }
    /// `"behaviour"`.
    #[getter]
    fn kind(&self) -> &'static str {
        "behaviour"
    }
    /// The generating rule of simulated data (over x, y, w, r), or `None`.
    #[getter]
    fn generating_rule(&self) -> Option<String> {
        self.inner.generating_rule().map(str::to_string)
    }
    /// Number of sessions.
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

/// One fly's recorded session (docs/model.md §6.3): odour presentations, decisions, rewards.
#[pyclass(module = "plasticity", frozen, name = "FlyRecording")]
pub struct FlyRecording {
    pub(crate) inner: plasticity::data::fly::FlyRecording,
}

#[pymethods]
impl FlyRecording {
    /// The fly's name (the file stem).
    #[getter]
    fn name(&self) -> String {
        self.inner.name.clone()
    }
    /// Odour of each presentation, 0-based.
    #[getter]
    fn odours<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        self.inner.odours.clone().into_pyarray(py)
    }
    /// 1 accept, 0 reject, per presentation.
    #[getter]
    fn decisions<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        self.inner.decisions.clone().into_pyarray(py)
    }
    /// 0-based trial of each presentation.
    #[getter]
    fn trial_of_presentation<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        self.inner.trial_of_presentation.clone().into_pyarray(py)
    }
    /// `R` of each trial.
    #[getter]
    fn rewards<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.inner.rewards.clone().into_pyarray(py)
    }
    /// Number of odours.
    #[getter]
    fn n_odours(&self) -> usize {
        self.inner.n_odours
    }
    /// Number of presentations.
    #[getter]
    fn n_presentations(&self) -> usize {
        self.inner.n_presentations()
    }
    /// Number of trials (accepts).
    #[getter]
    fn n_trials(&self) -> usize {
        self.inner.n_trials()
    }
    /// The fly as a one-session behaviour dataset: one-hot odour inputs, `W₀ ~ N(0,
    /// initial_weight_std²)` drawn from `seed`, `E[R]` over the last
    /// `expected_reward_window` rewards (what `plasticity flies` fits).
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

/// Reads one fly from a `.mat` (MATLAB v5/v7) or `.csv` file (docs/model.md §6.3).
#[pyfunction]
fn load_fly(py: Python<'_>, path: PathBuf) -> PyResult<FlyRecording> {
    require_file(&path)?;
    let inner = py
        .detach(|| plasticity::data::fly::load_fly(&path))
        .map_err(to_py_err)?;
    Ok(FlyRecording { inner })
}

/// Reads every fly (`*.mat`, `*.csv`) of a directory, in natural order of the names.
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

/// Simulates Oja-style neural data (docs/model.md §4.1).
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

/// Simulates flies in the two-odour task (docs/model.md §4.2).
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
