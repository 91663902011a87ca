//! One fit of a dataset of any kind: the dispatch by data kind (neural activity or
//! behaviour) to [`super::neural::fit_neural`] or [`super::behaviour::fit_behaviour`],
//! and the one typed, serialisable report every kind gives ([`DatasetFitReport`]),
//! which the Python bindings turn into a `FitResult`.

use std::ops::ControlFlow;

use serde::Serialize;

use super::behaviour::{fit_behaviour, BehaviourFit, BehaviourFitMetrics, BehaviourFitSettings};
use super::neural::{fit_neural, fit_neural_streamed, NeuralFit, NeuralFitMetrics};
use super::neural::{generating_theta, NeuralFitSettings};
use crate::analysis::uncertainty::{coefficient_uncertainty, Uncertainty};
use crate::data::{DatasetRef, NeuralStream};
use crate::fit::{Basis, EpochReport, FitOutcome};
use crate::rule::{parse_expression, Rule, Variables};
use crate::{Error, Result};

/// The settings of a fit, of the kind of its data; serialised as the settings
/// themselves (no tag).
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum DatasetFitSettings {
    /// Of a neural-activity fit.
    Neural(NeuralFitSettings),
    /// Of a behaviour fit.
    Behaviour(BehaviourFitSettings),
}

impl DatasetFitSettings {
    /// The kind of data they fit: `"neural"` or `"behaviour"`.
    pub fn kind(&self) -> &'static str {
        match self {
            DatasetFitSettings::Neural(_) => "neural",
            DatasetFitSettings::Behaviour(_) => "behaviour",
        }
    }
}

/// The metrics of a fit, of the kind of its data; serialised as the metrics themselves
/// (no tag), the `metrics` of `results.json`.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum DatasetFitMetrics {
    /// Of a neural-activity fit.
    Neural(NeuralFitMetrics),
    /// Of a behaviour fit.
    Behaviour(BehaviourFitMetrics),
}

/// A finished fit of a dataset of any kind: the fitted rule's parameters and
/// histories, why it stopped, the metrics, the settings, the generating rule's
/// coefficients and what the data determine. Serialised, its keys are those of
/// Python's `FitResult` but `interrupted`, `seconds` and `kind`, which the caller knows.
#[derive(Clone, Debug, Serialize)]
pub struct DatasetFitReport {
    /// `"taylor"` or `"mlp"`.
    pub rule_family: &'static str,
    /// The name of each parameter, in the order of `theta`.
    pub parameter_names: Vec<String>,
    /// What the optimizer did: the fitted parameters and the loss and parameters after
    /// each epoch, why it stopped, its evaluations and the final loss; serialised as
    /// the keys of these (not `backoffs`, which a `FitResult` does not have).
    #[serde(flatten, serialize_with = "outcome_keys")]
    pub outcome: FitOutcome,
    /// The kind's metrics.
    pub metrics: DatasetFitMetrics,
    /// The settings the fit ran with.
    pub settings: DatasetFitSettings,
    /// The basis the optimizer worked in.
    pub basis: Basis,
    /// The generating rule's coefficients where a Taylor rule was fitted to data a
    /// Taylor rule generated.
    pub generating: Option<Vec<f64>>,
    /// The `identifiability` section of `results.json`.
    pub identifiability: serde_json::Value,
    /// The same per parameter ([`coefficient_uncertainty`]).
    pub uncertainty: Uncertainty,
    /// The version of the library that fitted.
    pub version: &'static str,
    /// The optimizer that ran.
    pub solver_used: &'static str,
}

/// The keys of `outcome` in a report: all but `backoffs`.
fn outcome_keys<S: serde::Serializer>(
    outcome: &FitOutcome,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut keys = serde_json::to_value(outcome).map_err(serde::ser::Error::custom)?;
    if let Some(keys) = keys.as_object_mut() {
        keys.shift_remove("backoffs");
    }
    keys.serialize(serializer)
}

/// What a fit of either kind found, before the report is assembled.
struct Fitted {
    rule: Rule,
    outcome: FitOutcome,
    metrics: DatasetFitMetrics,
    basis: Basis,
    identifiability: serde_json::Value,
    solver_used: &'static str,
}

macro_rules! fitted_from {
    ($($fit:ty => $kind:ident),*) => {$(
        impl From<$fit> for Fitted {
            fn from(fit: $fit) -> Self {
                Fitted {
                    rule: fit.rule,
                    outcome: fit.outcome,
                    metrics: DatasetFitMetrics::$kind(fit.metrics),
                    basis: fit.basis_used,
                    identifiability: fit.identifiability,
                    solver_used: fit.solver_used,
                }
            }
        }
    )*};
}

fitted_from!(NeuralFit => Neural, BehaviourFit => Behaviour);

impl DatasetFitReport {
    /// The report of `fit`; `generating` gives the generating coefficients, asked only
    /// where the fitted rule is a Taylor rule (an MLP's parameters have none).
    fn new(
        fit: impl Into<Fitted>,
        settings: DatasetFitSettings,
        generating: impl FnOnce() -> Result<Option<Vec<f64>>>,
    ) -> Result<Self> {
        let fit: Fitted = fit.into();
        let generating = match fit.rule.as_taylor() {
            Some(_) => generating()?,
            None => None,
        };
        let parameter_names = fit.rule.parameter_names();
        let uncertainty = coefficient_uncertainty(&parameter_names, Some(&fit.identifiability));
        Ok(DatasetFitReport {
            rule_family: fit.rule.family(),
            parameter_names,
            outcome: fit.outcome,
            metrics: fit.metrics,
            settings,
            basis: fit.basis,
            generating,
            identifiability: fit.identifiability,
            uncertainty,
            version: crate::VERSION,
            solver_used: fit.solver_used,
        })
    }

    /// The kind of data fitted: `"neural"` or `"behaviour"`.
    pub fn kind(&self) -> &'static str {
        self.settings.kind()
    }
}

/// Fits `dataset` with the settings of its kind, as `plasticity fit` does
/// ([`super::neural::fit_neural`], [`super::behaviour::fit_behaviour`]); `observer` sees
/// every epoch and may stop the fit. Settings of the other kind are an error.
pub fn fit_dataset(
    dataset: DatasetRef<'_>,
    settings: &DatasetFitSettings,
    observer: &mut dyn FnMut(&EpochReport<'_>) -> ControlFlow<()>,
) -> Result<DatasetFitReport> {
    match (dataset, settings) {
        (DatasetRef::Neural(data), DatasetFitSettings::Neural(neural)) => {
            let fit = fit_neural(data, neural, observer)?;
            DatasetFitReport::new(fit, settings.clone(), || generating_theta(data))
        }
        (DatasetRef::Behaviour(data), DatasetFitSettings::Behaviour(behaviour)) => {
            let fit = fit_behaviour(data, behaviour, observer)?;
            let generating = || super::behaviour::generating_theta(data);
            DatasetFitReport::new(fit, settings.clone(), generating)
        }
        (dataset, settings) => Err(Error::config(
            "settings",
            format!(
                "{} settings cannot fit {} data",
                settings.kind(),
                dataset.kind()
            ),
        )),
    }
}

/// Fits a neural recording streamed from its file
/// ([`super::neural::fit_neural_streamed`]), with the same report as [`fit_dataset`];
/// the generating rule is the file's metadata's.
pub fn fit_streamed_dataset(
    stream: &NeuralStream,
    settings: &NeuralFitSettings,
    observer: &mut dyn FnMut(&EpochReport<'_>) -> ControlFlow<()>,
) -> Result<DatasetFitReport> {
    let fit = fit_neural_streamed(stream, settings, observer)?;
    let generating = || {
        let rule = stream.generating_rule();
        rule.map(|rule| parse_expression(rule, Variables::Xyw))
            .transpose()
    };
    DatasetFitReport::new(
        fit,
        DatasetFitSettings::Neural(settings.clone()),
        generating,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Dataset;
    use crate::task::{BehaviourTask, OjaTask};

    /// A tiny simulated dataset of each kind: Oja's rule over 3 → 4 neurons, and two
    /// sessions of `x*r - 0.05*w` in the two-odour task.
    fn datasets() -> (Dataset, Dataset) {
        let mut oja = OjaTask::default();
        (oja.n_pre, oja.n_post, oja.steps, oja.trajectories, oja.seed) = (3, 4, 10, 2, 1);
        let mut task = BehaviourTask::default();
        (
            task.n_blocks,
            task.trials_per_block,
            task.sessions,
            task.n_hidden,
        ) = (1, 8, 2, 3);
        (task.rule, task.seed) = ("x*r - 0.05*w".into(), 2);
        (
            Dataset::Neural(Box::new(oja.simulate().expect("a tiny Oja dataset"))),
            Dataset::Behaviour(Box::new(task.simulate().expect("a tiny behaviour dataset"))),
        )
    }

    fn run(dataset: &Dataset, settings: &DatasetFitSettings) -> Result<DatasetFitReport> {
        fit_dataset(dataset.view(), settings, &mut |_| ControlFlow::Continue(()))
    }

    /// Quick fits of each kind: two epochs, one evaluation trajectory or session.
    fn quick_settings() -> (DatasetFitSettings, DatasetFitSettings) {
        let mut neural = NeuralFitSettings::default();
        let mut behaviour = BehaviourFitSettings::default();
        (neural.fit.epochs, behaviour.fit.epochs) = (2, 2);
        (neural.eval_trajectories, behaviour.eval_sessions) = (1, 1);
        (
            DatasetFitSettings::Neural(neural),
            DatasetFitSettings::Behaviour(behaviour),
        )
    }

    #[test]
    fn each_kind_gives_its_own_report() {
        let (neural, behaviour) = datasets();
        let (neural_settings, behaviour_settings) = quick_settings();
        let report = run(&neural, &neural_settings).expect("neural fit");
        assert_eq!(report.kind(), "neural");
        assert!(matches!(report.metrics, DatasetFitMetrics::Neural(_)));
        assert_eq!(report.outcome.theta.len(), 27);
        assert_eq!(report.parameter_names.len(), 27);
        assert_eq!(report.uncertainty.coefficients.len(), 27);
        let oja = parse_expression("x*y - y^2*w", Variables::Xyw).expect("Oja");
        assert_eq!(report.generating.as_deref(), Some(&oja[..]));

        let report = run(&behaviour, &behaviour_settings).expect("behaviour fit");
        assert_eq!(report.kind(), "behaviour");
        assert!(matches!(report.metrics, DatasetFitMetrics::Behaviour(_)));
        assert_eq!(report.outcome.theta.len(), 81);
        let rule = parse_expression("x*r - 0.05*w", Variables::Xywr).expect("rule");
        assert_eq!(report.generating.as_deref(), Some(&rule[..]));
        // serialised, the settings and metrics are the kind's own (no tag), and the
        // outcome's keys stand beside the others
        let value = serde_json::to_value(&report).expect("serialisable");
        assert!(value["settings"].get("eval_sessions").is_some());
        assert!(value["metrics"].get("percent_deviance").is_some());
        assert_eq!(value["theta"].as_array().map(Vec::len), Some(81));
        assert!(value.get("stop_reason").is_some() && value.get("backoffs").is_none());
    }

    #[test]
    fn an_mlp_has_no_generating_coefficients() {
        let (neural, _) = datasets();
        let mut settings = NeuralFitSettings {
            rule_family: crate::rule::RuleFamily::Mlp,
            hidden: vec![3],
            ..NeuralFitSettings::default()
        };
        (settings.fit.epochs, settings.eval_trajectories) = (2, 1);
        let report = run(&neural, &DatasetFitSettings::Neural(settings)).expect("MLP fit");
        assert_eq!(report.rule_family, "mlp");
        assert_eq!(report.generating, None);
        assert_eq!(report.outcome.theta.len(), report.parameter_names.len());
    }

    #[test]
    fn settings_of_the_other_kind_are_refused() {
        let (neural, behaviour) = datasets();
        let (neural_settings, behaviour_settings) = quick_settings();
        let error = run(&neural, &behaviour_settings).expect_err("behaviour settings");
        let message = error.to_string();
        assert!(
            message.contains("behaviour settings cannot fit neural data"),
            "{message}"
        );
        let error = run(&behaviour, &neural_settings).expect_err("neural settings");
        let message = error.to_string();
        assert!(
            message.contains("neural settings cannot fit behaviour data"),
            "{message}"
        );
    }
}
