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

mod cli;
mod datasets;
mod fitting;
mod flies;
mod getters;
mod loss;

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

/// Reads `path` with `read`, the GIL released; [`require_file`] first.
pub(crate) fn read_file<'a, T: Send>(
    py: Python<'_>,
    path: &'a std::path::Path,
    read: impl FnOnce(&'a std::path::Path) -> plasticity::Result<T> + Send,
) -> PyResult<T> {
    require_file(path)?;
    py.detach(|| read(path)).map_err(to_py_err)
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

/// The canonical names of the Taylor terms, in parameter order.
///
/// Term names are monomials with the variables in the order x, y, w, r and exponents 0–2
/// (docs/model.md §6.4): ``"1"``, ``"x"``, ``"x*y"``, ``"y^2*w"``, …; a fitted rule's
/// ``theta`` and a Taylor ``theta`` array follow this order.
///
/// Parameters
/// ----------
/// variables : {"xyw", "xywr"}, default "xyw"
///     ``"xyw"`` for rules of neural activity (27 terms), ``"xywr"`` for behaviour (81
///     terms, with the reward term r).
///
/// Returns
/// -------
/// list of str
///     The term names.
///
/// Raises
/// ------
/// ValueError
///     If ``variables`` is neither ``"xyw"`` nor ``"xywr"``.
///
/// Examples
/// --------
/// >>> import plasticity as pl
/// >>> pl.term_names()[:5]
/// ['1', 'w', 'w^2', 'y', 'y*w']
/// >>> len(pl.term_names("xywr"))
/// 81
#[pyfunction]
#[pyo3(signature = (variables = "xyw"))]
fn term_names(variables: &str) -> PyResult<Vec<String>> {
    Ok(plasticity::rule::term_names(variables_of(variables)?))
}

/// The Taylor coefficients θ of an expression.
///
/// Parameters
/// ----------
/// expression : str
///     A polynomial in the variables with exponents 0–2, such as ``"x*y - y^2*w"``
///     (Oja's rule) or ``"0.5*x*r - 0.05*w"``; ``"0"`` is the zero rule.
/// variables : {"xyw", "xywr"}, default "xyw"
///     The variables of the rule: ``"xyw"`` (neural activity) or ``"xywr"`` (behaviour).
///
/// Returns
/// -------
/// list of float
///     One coefficient per term, in the order of :func:`term_names`.
///
/// Raises
/// ------
/// ValueError
///     If the expression cannot be parsed, names another variable or has an exponent
///     above 2.
///
/// Examples
/// --------
/// >>> import plasticity as pl
/// >>> theta = pl.parse_expression("x*y - y^2*w")
/// >>> {name: c for name, c in zip(pl.term_names(), theta) if c}
/// {'y^2*w': -1.0, 'x*y': 1.0}
#[pyfunction]
#[pyo3(signature = (expression, variables = "xyw"))]
fn parse_expression(expression: &str, variables: &str) -> PyResult<Vec<f64>> {
    plasticity::rule::parse_expression(expression, variables_of(variables)?).map_err(to_py_err)
}

/// The expression of Taylor coefficients θ, the inverse of :func:`parse_expression`.
///
/// Parameters
/// ----------
/// coefficients : sequence of float
///     One coefficient per term, in the order of :func:`term_names` (27 for ``"xyw"``,
///     81 for ``"xywr"``).
/// variables : {"xyw", "xywr"}, default "xyw"
///     The variables of the rule.
///
/// Returns
/// -------
/// str
///     The expression of the non-zero terms; ``"0"`` when every coefficient is zero.
///
/// Raises
/// ------
/// ValueError
///     If the number of coefficients does not match ``variables``.
///
/// Examples
/// --------
/// >>> import plasticity as pl
/// >>> pl.format_expression(pl.parse_expression("x*y - y^2*w"))
/// 'x*y - y^2*w'
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

/// Reads an ``.npz`` dataset of either kind; its metadata says which.
///
/// Parameters
/// ----------
/// path : str or os.PathLike
///     A dataset file written by :meth:`NeuralDataset.save`,
///     :meth:`BehaviourDataset.save` or ``plasticity simulate`` (docs/model.md §6.1,
///     §6.2).
///
/// Returns
/// -------
/// NeuralDataset or BehaviourDataset
///     The dataset, of the kind its metadata names.
///
/// Raises
/// ------
/// FileNotFoundError
///     If ``path`` does not exist.
/// ValueError
///     If the file is not a valid dataset.
#[pyfunction]
fn load(py: Python<'_>, path: PathBuf) -> PyResult<Py<PyAny>> {
    let dataset = read_file(py, &path, plasticity::data::Dataset::load)?;
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
    flies::register(m)?;
    fitting::register(m)?;
    loss::register(m)?;
    cli::register(m)?;
    Ok(())
}
