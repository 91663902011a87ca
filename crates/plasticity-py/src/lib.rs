//! Python bindings of `plasticity` (`import plasticity`): datasets as NumPy arrays,
//! simulation, fitting and the loss gradient. The Python-facing API (argument names,
//! defaults, result objects) is written in `python/plasticity/__init__.py`; this module
//! is the thin native layer under it (`plasticity._plasticity`).
//!
//! Every library error becomes a Python exception with the library's message:
//! a missing file → `FileNotFoundError`, other I/O → `OSError`, bad data, expressions
//! and settings → `ValueError`, a numerical failure → `FloatingPointError`.
//! Long computations release the GIL and check for Ctrl-C after every epoch.

use std::path::PathBuf;

use pyo3::exceptions::{PyFileNotFoundError, PyFloatingPointError, PyOSError, PyValueError};
use pyo3::prelude::*;

mod datasets;
mod fitting;

/// A library error as the Python exception a user expects, with the same message.
pub(crate) fn to_py_err(error: plasticity::Error) -> PyErr {
    let message = error.to_string();
    match &error {
        plasticity::Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            PyFileNotFoundError::new_err(message)
        }
        plasticity::Error::Io { .. } => PyOSError::new_err(message),
        plasticity::Error::Numerical(_) => PyFloatingPointError::new_err(message),
        _ => PyValueError::new_err(message),
    }
}

/// `FileNotFoundError` naming `path` when it does not exist (the library would say the
/// same through an I/O error; this keeps the exception type exact for every loader).
pub(crate) fn require_file(path: &std::path::Path) -> PyResult<()> {
    if path.exists() {
        Ok(())
    } else {
        Err(PyFileNotFoundError::new_err(format!(
            "{}: no such file",
            path.display()
        )))
    }
}

/// `variables` as the library's enum: `"xyw"` (neural rules) or `"xywr"` (behaviour).
pub(crate) fn variables_of(name: &str) -> PyResult<plasticity::rule::Variables> {
    match name {
        "xyw" => Ok(plasticity::rule::Variables::Xyw),
        "xywr" => Ok(plasticity::rule::Variables::Xywr),
        other => Err(PyValueError::new_err(format!(
            "variables: expected \"xyw\" (neural activity) or \"xywr\" (behaviour), got \"{other}\""
        ))),
    }
}

/// The canonical names of the Taylor terms over `variables`, in parameter order.
#[pyfunction]
#[pyo3(signature = (variables = "xyw"))]
fn term_names(variables: &str) -> PyResult<Vec<String>> {
    Ok(plasticity::rule::term_names(variables_of(variables)?))
}

/// The Taylor coefficients θ of an expression such as `"x*y - y^2*w"`.
#[pyfunction]
#[pyo3(signature = (expression, variables = "xyw"))]
fn parse_expression(expression: &str, variables: &str) -> PyResult<Vec<f64>> {
    plasticity::rule::parse_expression(expression, variables_of(variables)?).map_err(to_py_err)
}

/// The expression of Taylor coefficients θ (non-zero terms only).
#[pyfunction]
#[pyo3(signature = (coefficients, variables = "xyw"))]
fn format_expression(coefficients: Vec<f64>, variables: &str) -> PyResult<String> {
    let variables = variables_of(variables)?;
    if coefficients.len() != variables.n_terms() {
        return Err(PyValueError::new_err(format!(
            "coefficients: expected {} values (one per term over {variables:?}), got {}",
            variables.n_terms(),
            coefficients.len()
        )));
    }
    Ok(plasticity::rule::format_expression(
        &coefficients,
        variables,
    ))
}

/// Reads an `.npz` dataset of either kind (its metadata says which).
#[pyfunction]
fn load(py: Python<'_>, path: PathBuf) -> PyResult<Py<PyAny>> {
    require_file(&path)?;
    let dataset = py
        .detach(|| plasticity::data::Dataset::load(&path))
        .map_err(to_py_err)?;
    Ok(match dataset {
        plasticity::data::Dataset::Neural(d) => {
            Py::new(py, datasets::NeuralDataset::from(*d))?.into_any()
        }
        plasticity::data::Dataset::Behaviour(d) => {
            Py::new(py, datasets::BehaviourDataset::from(*d))?.into_any()
        }
    })
}

/// The native module.
#[pymodule]
fn _plasticity(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", plasticity::VERSION)?;
    m.add_function(wrap_pyfunction!(term_names, m)?)?;
    m.add_function(wrap_pyfunction!(parse_expression, m)?)?;
    m.add_function(wrap_pyfunction!(format_expression, m)?)?;
    m.add_function(wrap_pyfunction!(load, m)?)?;
    datasets::register(m)?;
    fitting::register(m)?;
    Ok(())
}
