//! Fitting, with the GIL released while the library works and Ctrl-C checked after
//! every epoch.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use numpy::{IntoPyArray, PyArray2};
use pyo3::exceptions::{PyKeyboardInterrupt, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use plasticity::data::{DatasetRef, NeuralStream};
use plasticity::fit::EpochReport;
use plasticity::gradient::GradientStrategy;
use plasticity::pipeline::behaviour::BehaviourFitSettings;
use plasticity::pipeline::dataset_fit::{
    fit_dataset, fit_streamed_dataset, DatasetFitReport, DatasetFitSettings,
};
use plasticity::pipeline::neural::NeuralFitSettings;
use plasticity::pipeline::online::{OnlineSettings, OnlineUpdate};

use crate::datasets::{json_to_py, BehaviourDataset, NeuralDataset};
use crate::to_py_err;

/// Overlays `overrides` (a JSON object, nested objects merged key by key) on `base`;
/// a key that `base` does not have is an error naming it and the known keys.
fn overlay(base: &mut Value, overrides: &Value, path: &str) -> PyResult<()> {
    let (Value::Object(base), Value::Object(overrides)) = (&mut *base, overrides) else {
        *base = overrides.clone();
        return Ok(());
    };
    for (key, value) in overrides {
        let name = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        match base.get_mut(key) {
            Some(slot) if slot.is_object() && value.is_object() => overlay(slot, value, &name)?,
            Some(slot) => *slot = value.clone(),
            None => {
                let known: Vec<&str> = base.keys().map(String::as_str).collect();
                return Err(PyValueError::new_err(format!(
                    "unknown setting '{name}' (known: {})",
                    known.join(", ")
                )));
            }
        }
    }
    Ok(())
}

/// The library's default settings of one kind with `overrides` (JSON) applied.
fn settings_with<T: Serialize + DeserializeOwned + Default>(overrides: &str) -> PyResult<T> {
    let overrides: Value = serde_json::from_str(overrides)
        .map_err(|e| PyValueError::new_err(format!("settings: not JSON: {e}")))?;
    let mut value = serde_json::to_value(T::default())
        .map_err(|e| PyValueError::new_err(format!("settings: {e}")))?;
    overlay(&mut value, &overrides, "")?;
    serde_json::from_value(value).map_err(|e| PyValueError::new_err(format!("settings: {e}")))
}

/// What the epoch observer found: Ctrl-C, or an exception raised by the callback.
#[derive(Default)]
struct Stop {
    interrupted: bool,
    error: Option<PyErr>,
}

/// After an epoch (or an online update): checks for Ctrl-C and calls
/// `callback(epoch, loss, theta)` with the GIL held; a `False` return, Ctrl-C or an
/// exception in the callback stops the fit (the last two are kept in `stop`).
fn on_progress(
    stop: &mut Stop,
    callback: &Option<Py<PyAny>>,
    epoch: usize,
    loss: f64,
    theta: &[f64],
) -> ControlFlow<()> {
    Python::attach(|py| {
        if let Err(error) = py.check_signals() {
            if error.is_instance_of::<PyKeyboardInterrupt>(py) {
                stop.interrupted = true;
            } else {
                stop.error = Some(error);
            }
            return ControlFlow::Break(());
        }
        if let Some(callback) = callback {
            let theta = theta.to_vec().into_pyarray(py);
            match callback.call1(py, (epoch, loss, theta)) {
                Ok(value) => {
                    if value.bind(py).is(&*pyo3::types::PyBool::new(py, false)) {
                        return ControlFlow::Break(());
                    }
                }
                Err(error) => {
                    stop.error = Some(error);
                    return ControlFlow::Break(());
                }
            }
        }
        ControlFlow::Continue(())
    })
}

/// What `work` reports after every epoch or online update: `(epoch, loss, theta)`.
type Progress<'a> = &'a mut dyn FnMut(usize, f64, &[f64]) -> ControlFlow<()>;

/// Runs `work` with the GIL released, [`on_progress`] after every epoch or update it
/// reports; returns its result, whether Ctrl-C stopped it, and the seconds it took.
fn run_observed<T: Send>(
    py: Python<'_>,
    callback: Option<Py<PyAny>>,
    work: impl FnOnce(Progress<'_>) -> T + Send,
) -> PyResult<(T, bool, f64)> {
    let mut stop = Stop::default();
    let start = Instant::now();
    let result = py.detach(|| {
        work(&mut |epoch, loss, theta| on_progress(&mut stop, &callback, epoch, loss, theta))
    });
    if let Some(error) = stop.error {
        return Err(error);
    }
    Ok((result, stop.interrupted, start.elapsed().as_secs_f64()))
}

/// Runs a fit (`work`, given the epoch observer) as [`run_observed`] does and returns
/// its report as the dict of a Python `FitResult` ([`report_dict`]).
fn run_fit<'py>(
    py: Python<'py>,
    callback: Option<Py<PyAny>>,
    work: impl FnOnce(
            &mut dyn FnMut(&EpochReport<'_>) -> ControlFlow<()>,
        ) -> plasticity::Result<DatasetFitReport>
        + Send,
) -> PyResult<Bound<'py, PyDict>> {
    let (report, interrupted, seconds) = run_observed(py, callback, |progress| {
        work(&mut |epoch: &EpochReport<'_>| progress(epoch.epoch, epoch.loss, epoch.theta))
    })?;
    report_dict(py, &report.map_err(to_py_err)?, interrupted, seconds)
}

/// The rows of `history` (each of `n` values) as a 2-D NumPy array.
fn history_array<'py>(
    py: Python<'py>,
    history: &[Vec<f64>],
    n: usize,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let values: Vec<f64> = history.iter().flatten().copied().collect();
    let array = ndarray::Array2::from_shape_vec((history.len(), n), values)
        .map_err(|e| PyValueError::new_err(format!("theta history: {e}")))?;
    Ok(array.into_pyarray(py))
}

/// A fit's report as the dict of a Python `FitResult`: the report's keys (serialised
/// as `json.loads` reads them), its arrays as NumPy arrays and its loss exactly (JSON
/// has no NaN), and whether Ctrl-C stopped the fit and its wall time.
fn report_dict<'py>(
    py: Python<'py>,
    report: &DatasetFitReport,
    interrupted: bool,
    seconds: f64,
) -> PyResult<Bound<'py, PyDict>> {
    let value = serde_json::to_value(report)
        .map_err(|e| PyValueError::new_err(format!("cannot convert to JSON: {e}")))?;
    let dict = json_to_py(py, &value)?
        .into_bound(py)
        .cast_into::<PyDict>()?;
    let outcome = &report.outcome;
    dict.set_item("theta", outcome.theta.clone().into_pyarray(py))?;
    dict.set_item(
        "loss_history",
        outcome.loss_history.clone().into_pyarray(py),
    )?;
    let history = history_array(py, &outcome.theta_history, outcome.theta.len())?;
    dict.set_item("theta_history", history)?;
    dict.set_item("final_loss", outcome.final_loss)?;
    let generating = report.generating.clone().map(|g| g.into_pyarray(py));
    dict.set_item("generating", generating)?;
    dict.set_item("interrupted", interrupted)?;
    dict.set_item("seconds", seconds)?;
    Ok(dict)
}

/// A `fit_*_dataset` function: fits a rule to a loaded dataset of one kind, whose
/// `settings` (a JSON object) override the library's defaults of that kind.
macro_rules! fit_loaded_dataset {
    ($(#[doc = $doc:tt])* $name:ident($class:ident) => $kind:ident) => {
        $(#[doc = $doc])*
        #[pyfunction]
        #[pyo3(signature = (dataset, settings, callback = None))]
        fn $name<'py>(
            py: Python<'py>,
            dataset: &$class,
            settings: &str,
            callback: Option<Py<PyAny>>,
        ) -> PyResult<Bound<'py, PyDict>> {
            let settings = DatasetFitSettings::$kind(settings_with(settings)?);
            let data = Arc::clone(&dataset.inner);
            run_fit(py, callback, |observer| {
                fit_dataset(DatasetRef::$kind(&data), &settings, observer)
            })
        }
    };
}

fit_loaded_dataset!(
    /// Fits a rule to a neural dataset; `settings` is a JSON object of overrides of the
    /// library's defaults (`NeuralFitSettings`).
    fit_neural_dataset(NeuralDataset) => Neural
);

fit_loaded_dataset!(
    /// Fits a rule to a behaviour dataset; `settings` overrides `BehaviourFitSettings`.
    fit_behaviour_dataset(BehaviourDataset) => Behaviour
);

pub(crate) fn open_stream(path: &std::path::Path) -> PyResult<NeuralStream> {
    crate::require_file(path)?;
    NeuralStream::open(path).map_err(to_py_err)
}

/// Fits a rule to a neural dataset that streams from its file, with forward-mode
/// gradients (memory independent of the recording's length); `settings` overrides
/// `NeuralFitSettings`.
#[pyfunction]
#[pyo3(signature = (path, settings, callback = None))]
fn fit_neural_streamed<'py>(
    py: Python<'py>,
    path: PathBuf,
    settings: &str,
    callback: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let mut settings: NeuralFitSettings = settings_with(settings)?;
    settings.gradient = GradientStrategy::Forward;
    let stream = open_stream(&path)?;
    run_fit(py, callback, |observer| {
        fit_streamed_dataset(&stream, &settings, observer)
    })
}

/// An online fit over a neural recording streamed from its file: θ updated every
/// `update_every` steps (forward mode, Adam). Returns a dict with `steps`,
/// `theta_history`, `window_loss`, `theta`, `parameter_names`, `non_finite`,
/// `interrupted` (Ctrl-C), `stopped` (before the recording's end), `seconds`.
#[pyfunction]
#[pyo3(signature = (path, settings, update_every, learning_rate, decay_after, callback = None))]
fn fit_online<'py>(
    py: Python<'py>,
    path: PathBuf,
    settings: &str,
    update_every: usize,
    learning_rate: f64,
    decay_after: usize,
    callback: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let settings: NeuralFitSettings = settings_with(settings)?;
    let online = OnlineSettings {
        update_every,
        learning_rate,
        decay_after,
    };
    let stream = open_stream(&path)?;
    let (fit, interrupted, seconds) = run_observed(py, callback, |progress| {
        plasticity::pipeline::online::fit_online_neural(
            &stream,
            &settings,
            &online,
            &mut |update: &OnlineUpdate<'_>| progress(update.update, update.loss, update.theta),
        )
    })?;
    let fit = fit.map_err(to_py_err)?;
    let history = history_array(py, &fit.theta_history, fit.theta.len())?;
    let dict = PyDict::new(py);
    dict.set_item("parameter_names", fit.parameter_names.clone())?;
    dict.set_item("steps", fit.steps.clone().into_pyarray(py))?;
    dict.set_item("theta_history", history)?;
    dict.set_item("window_loss", fit.window_loss.clone().into_pyarray(py))?;
    dict.set_item("theta", fit.theta.clone().into_pyarray(py))?;
    dict.set_item("non_finite", fit.non_finite.clone())?;
    dict.set_item("interrupted", interrupted)?;
    dict.set_item("stopped", fit.interrupted)?;
    dict.set_item("seconds", seconds)?;
    Ok(dict)
}

/// The library's default settings of a fit of `kind` (`"neural"`, `"behaviour"`), as
/// a JSON object.
#[pyfunction]
fn default_settings(kind: &str) -> PyResult<String> {
    let value = match kind {
        "neural" => serde_json::to_string(&NeuralFitSettings::default()),
        "behaviour" => serde_json::to_string(&BehaviourFitSettings::default()),
        other => {
            return Err(PyValueError::new_err(format!(
                "kind: expected \"neural\" or \"behaviour\", got \"{other}\""
            )))
        }
    };
    value.map_err(|e| PyValueError::new_err(format!("{e}")))
}

/// Meta-learns a rule from a `plasticity discover` experiment file (PCA or memory);
/// returns what `results.json` holds, plus `seconds`.
#[pyfunction]
#[pyo3(signature = (experiment, seed = None, optimizer = None, iterations = None))]
fn discover(
    py: Python<'_>,
    experiment: PathBuf,
    seed: Option<u64>,
    optimizer: Option<String>,
    iterations: Option<usize>,
) -> PyResult<Py<PyAny>> {
    use plasticity::pipeline::discover::{DiscoverSpec, MetaOptimizer};
    let mut spec = DiscoverSpec::load(&experiment).map_err(to_py_err)?;
    if let Some(seed) = seed {
        spec.seed = seed;
    }
    spec.meta.optimizer = match optimizer.as_deref() {
        None => spec.meta.optimizer,
        Some("adam") => MetaOptimizer::Adam,
        Some("cmaes") => MetaOptimizer::Cmaes,
        Some(other) => {
            return Err(PyValueError::new_err(format!(
                "optimizer '{other}': expected 'adam' or 'cmaes'"
            )))
        }
    };
    if let Some(iterations) = iterations {
        spec.meta.iterations = iterations;
        spec.cmaes.generations = iterations;
    }
    let start = Instant::now();
    let report = py
        .detach(|| {
            plasticity::pipeline::discover::discover(&spec, spec.meta.optimizer, spec.seed, |_| {})
        })
        .map_err(to_py_err)?;
    let mut results = report.results(&spec);
    results["seconds"] = serde_json::json!(start.elapsed().as_secs_f64());
    json_to_py(py, &results)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(discover, m)?)?;
    m.add_function(wrap_pyfunction!(fit_neural_dataset, m)?)?;
    m.add_function(wrap_pyfunction!(fit_behaviour_dataset, m)?)?;
    m.add_function(wrap_pyfunction!(default_settings, m)?)?;
    m.add_function(wrap_pyfunction!(fit_neural_streamed, m)?)?;
    m.add_function(wrap_pyfunction!(fit_online, m)?)?;
    Ok(())
}
