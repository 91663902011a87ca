//! The data loss and its gradient at a given θ, over a loaded dataset of either kind or
//! a neural recording streamed from its file, with the GIL released.

use std::path::PathBuf;

use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use plasticity::gradient::GradientStrategy;
use plasticity::objective::{
    BehaviourObjective, NeuralObjective, Objective, StreamedNeuralObjective,
};
use plasticity::pipeline::behaviour::{circuit_of, resample_inputs};
use plasticity::pipeline::neural::NeuralFitSettings;
use plasticity::rule::RuleFamily;
use plasticity::rule::{PlasticityRule, Rule};

use crate::datasets::{BehaviourDataset, NeuralDataset};
use crate::fitting::open_stream;
use crate::to_py_err;

/// The data loss and its gradient over a neural recording streamed from its file, in
/// forward mode (`theta`: all 27 Taylor coefficients).
#[pyfunction]
fn loss_and_gradient_streamed<'py>(
    py: Python<'py>,
    path: PathBuf,
    theta: PyReadonlyArray1<'py, f64>,
) -> PyResult<(f64, Bound<'py, PyArray1<f64>>)> {
    let theta = theta.as_array().to_vec();
    let rule = plasticity::rule::TaylorRule::new(plasticity::rule::Variables::Xyw);
    if theta.len() != rule.n_parameters() {
        return Err(PyValueError::new_err(format!(
            "theta: expected 27 values (the Taylor rule's coefficients), got {}",
            theta.len()
        )));
    }
    let stream = open_stream(&path)?;
    let mut gradient = vec![0.0; theta.len()];
    let (loss, error) = py.detach(|| match StreamedNeuralObjective::new(&stream, rule) {
        Ok(objective) => {
            let items: Vec<usize> = (0..stream.n_trajectories()).collect();
            let loss = objective.loss_and_gradient(&theta, &items, &mut gradient);
            (loss, objective.take_error())
        }
        Err(error) => (f64::NAN, Some(error)),
    });
    if let Some(error) = error {
        return Err(to_py_err(error));
    }
    if !loss.is_finite() {
        return Err(pyo3::exceptions::PyFloatingPointError::new_err(format!(
            "the loss at this theta is {loss}: the rule makes the simulation overflow"
        )));
    }
    Ok((loss, gradient.into_pyarray(py)))
}

fn family_of(name: &str) -> PyResult<RuleFamily> {
    match name {
        "taylor" => Ok(RuleFamily::Taylor),
        "mlp" => Ok(RuleFamily::Mlp),
        other => Err(PyValueError::new_err(format!(
            "rule_family: expected \"taylor\" or \"mlp\", got \"{other}\""
        ))),
    }
}

fn items_of(items: Option<Vec<usize>>, n_items: usize, what: &str) -> PyResult<Vec<usize>> {
    let items = items.unwrap_or_else(|| (0..n_items).collect());
    if items.is_empty() {
        return Err(PyValueError::new_err(format!(
            "{what}: expected at least one index"
        )));
    }
    if let Some(&bad) = items.iter().find(|&&k| k >= n_items) {
        return Err(PyValueError::new_err(format!(
            "{what}: index {bad} is out of range (the dataset has {n_items})"
        )));
    }
    Ok(items)
}

/// The data loss (no penalty) at θ over `items` and its gradient.
#[pyfunction]
#[pyo3(signature = (dataset, theta, *, rule_family = "taylor", hidden = vec![10], items = None, weight_bound = None, inputs = "recorded", input_seed = 0))]
#[allow(clippy::too_many_arguments)]
fn loss_and_gradient<'py>(
    py: Python<'py>,
    dataset: &Bound<'py, PyAny>,
    theta: PyReadonlyArray1<'py, f64>,
    rule_family: &str,
    hidden: Vec<usize>,
    items: Option<Vec<usize>>,
    weight_bound: Option<f64>,
    inputs: &str,
    input_seed: u64,
) -> PyResult<(f64, Bound<'py, PyArray1<f64>>)> {
    let theta = theta.as_array().to_vec();
    let family = family_of(rule_family)?;
    let check_length = |rule: &Rule| -> PyResult<()> {
        if theta.len() != rule.n_parameters() {
            return Err(PyValueError::new_err(format!(
                "theta: expected {} values (the {} rule's parameters), got {}",
                rule.n_parameters(),
                rule.family(),
                theta.len()
            )));
        }
        Ok(())
    };
    let mut gradient = vec![0.0; theta.len()];
    let loss = if let Ok(neural) = dataset.cast::<NeuralDataset>() {
        let data = neural.get().inner.clone();
        let settings = NeuralFitSettings {
            rule_family: family,
            hidden,
            ..NeuralFitSettings::default()
        };
        let rule = plasticity::pipeline::neural::build_rule(&settings).map_err(to_py_err)?;
        check_length(&rule)?;
        let items = items_of(items, data.n_trajectories(), "items")?;
        py.detach(|| {
            NeuralObjective::new(&data, rule, GradientStrategy::Checkpointed)
                .map(|objective| objective.loss_and_gradient(&theta, &items, &mut gradient))
        })
        .map_err(to_py_err)?
    } else if let Ok(behaviour) = dataset.cast::<BehaviourDataset>() {
        let data = behaviour.get().inner.clone();
        let rule =
            plasticity::pipeline::behaviour::build_rule(family, &hidden).map_err(to_py_err)?;
        check_length(&rule)?;
        let items = items_of(items, data.n_sessions(), "items")?;
        if let Some(bound) = weight_bound {
            if !(bound.is_finite() && bound > 0.0) {
                return Err(PyValueError::new_err(format!(
                    "weight_bound: expected a positive number or None, got {bound}"
                )));
            }
        }
        let model_inputs = match inputs {
            "recorded" => data.inputs.clone(),
            "resampled" => resample_inputs(&data, input_seed).map_err(to_py_err)?,
            other => {
                return Err(PyValueError::new_err(format!(
                    "inputs: expected \"recorded\" or \"resampled\", got \"{other}\""
                )))
            }
        };
        py.detach(|| {
            BehaviourObjective::new(
                &data,
                model_inputs,
                circuit_of(&data, weight_bound),
                rule,
                GradientStrategy::Checkpointed,
            )
            .map(|objective| objective.loss_and_gradient(&theta, &items, &mut gradient))
        })
        .map_err(to_py_err)?
    } else {
        return Err(PyValueError::new_err(
            "dataset: expected a NeuralDataset or a BehaviourDataset",
        ));
    };
    if !loss.is_finite() {
        return Err(pyo3::exceptions::PyFloatingPointError::new_err(format!(
            "the loss at this theta is {loss}: the rule makes the simulation overflow"
        )));
    }
    Ok((loss, gradient.into_pyarray(py)))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(loss_and_gradient, m)?)?;
    m.add_function(wrap_pyfunction!(loss_and_gradient_streamed, m)?)?;
    Ok(())
}
