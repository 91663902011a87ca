//! Results as files: `results.json` (coefficients by canonical term name, metrics, loss
//! history, the full configuration, seed, version) and `coefficients.csv`, each written
//! atomically.

use std::path::Path;

use serde_json::{json, Map, Value};

use crate::data::{BehaviourDataset, NeuralDataset};
use crate::fit::behaviour::{BehaviourFit, BehaviourFitSettings};
use crate::fit::neural::{NeuralFit, NeuralFitSettings};
use crate::fit::FitOutcome;
use crate::io::write_atomically;
use crate::rule::{format_expression, PlasticityRule, Rule};
use crate::{Error, Result};

fn named(names: &[String], values: &[f64]) -> Map<String, Value> {
    names
        .iter()
        .zip(values)
        .map(|(n, v)| (n.clone(), json!(v)))
        .collect()
}

/// The entries every `results.json` shares: the fitted parameters (`coefficients` and
/// `rule` for a Taylor rule, `parameters` for an MLP), `metrics`, the histories, the
/// stopping reason and the evaluation count.
fn fit_entries(rule: &Rule, outcome: &FitOutcome, metrics: Value) -> Map<String, Value> {
    let names = rule.parameter_names();
    let mut results = Map::new();
    match rule {
        Rule::Taylor(taylor) => {
            results.insert(
                "coefficients".into(),
                Value::Object(named(&names, &outcome.theta)),
            );
            results.insert(
                "rule".into(),
                json!(format_expression(&outcome.theta, taylor.variables())),
            );
        }
        Rule::Mlp(_) => {
            results.insert(
                "parameters".into(),
                Value::Object(named(&names, &outcome.theta)),
            );
        }
    }
    results.insert("metrics".into(), metrics);
    results.insert("loss_history".into(), json!(outcome.loss_history));
    results.insert("parameter_names".into(), json!(names));
    results.insert("parameter_history".into(), json!(outcome.theta_history));
    results.insert("stop_reason".into(), json!(outcome.stop_reason));
    results.insert("evaluations".into(), json!(outcome.evaluations));
    results
}

/// The content of `results.json` for a neural fit. Timings go under `timing` only,
/// so that everything else is byte-identical between runs with the same seed.
pub fn neural_results(
    fit: &NeuralFit,
    settings: &NeuralFitSettings,
    data_path: &Path,
    dataset: &NeuralDataset,
    fit_seconds: f64,
) -> Value {
    let mut results = fit_entries(&fit.rule, &fit.outcome, json!(fit.metrics));
    results.insert(
        "config".into(),
        json!({
            "settings": settings,
            "basis_used": fit.basis_used,
            "variable_scales": fit.scales,
            "rule_family": fit.rule.family(),
            "n_parameters": fit.rule.n_parameters(),
        }),
    );
    results.insert(
        "data".into(),
        json!({
            "path": data_path.display().to_string(),
            "trajectories": dataset.n_trajectories(),
            "steps": dataset.steps(),
            "n_pre": dataset.n_pre(),
            "n_post": dataset.n_post(),
            "n_recorded": dataset.recorded_neurons.len(),
            "metadata": dataset.metadata,
        }),
    );
    results.insert("seed".into(), json!(settings.fit.seed));
    results.insert("version".into(), json!(crate::VERSION));
    results.insert("timing".into(), json!({ "fit_seconds": fit_seconds }));
    Value::Object(results)
}

/// `coefficients.csv`: `parameter,value` (and `generating,error` columns when the
/// data's generating rule is known), one row per parameter.
pub fn coefficients_csv(fit: &NeuralFit, generating: Option<&[f64]>) -> String {
    parameters_csv(&fit.rule, &fit.outcome.theta, generating)
}

/// `coefficients.csv` of any fitted rule: `term,value[,generating,error]` for a
/// Taylor rule, `parameter,value` for an MLP.
pub fn parameters_csv(rule: &Rule, theta: &[f64], generating: Option<&[f64]>) -> String {
    let names = rule.parameter_names();
    let mut csv = String::new();
    match generating {
        Some(truth) if truth.len() == names.len() => {
            csv.push_str("term,value,generating,error\n");
            for ((name, value), g) in names.iter().zip(theta).zip(truth) {
                csv.push_str(&format!("{name},{value},{g},{}\n", value - g));
            }
        }
        _ => {
            csv.push_str(if matches!(rule, Rule::Taylor(_)) {
                "term,value\n"
            } else {
                "parameter,value\n"
            });
            for (name, value) in names.iter().zip(theta) {
                csv.push_str(&format!("\"{name}\",{value}\n"));
            }
        }
    }
    csv
}

/// The content of `results.json` for a behaviour fit (the same layout as a neural
/// fit's; `metrics` adds `percent_deviance`, the fresh-session `evaluation` with the
/// generating rule's ceiling, and how often the weight bound engaged).
pub fn behaviour_results(
    fit: &BehaviourFit,
    settings: &BehaviourFitSettings,
    data_path: &Path,
    dataset: &BehaviourDataset,
    fit_seconds: f64,
) -> Value {
    let mut results = fit_entries(&fit.rule, &fit.outcome, json!(fit.metrics));
    results.insert(
        "config".into(),
        json!({
            "settings": settings,
            "basis_used": fit.basis_used,
            "rule_family": fit.rule.family(),
            "n_parameters": fit.rule.n_parameters(),
        }),
    );
    results.insert(
        "data".into(),
        json!({
            "path": data_path.display().to_string(),
            "kind": "behaviour",
            "sessions": dataset.n_sessions(),
            "n_presentations": dataset.n_presentations,
            "n_trials": dataset.n_trials,
            "n_in": dataset.n_in(),
            "n_hidden": dataset.n_hidden(),
            "metadata": dataset.metadata,
        }),
    );
    results.insert("seed".into(), json!(settings.fit.seed));
    results.insert("version".into(), json!(crate::VERSION));
    results.insert("timing".into(), json!({ "fit_seconds": fit_seconds }));
    Value::Object(results)
}

/// Writes a text file atomically.
pub fn write_text(path: &Path, text: &str) -> Result<()> {
    write_atomically(path, |w| std::io::Write::write_all(w, text.as_bytes()))
}

/// Writes `value` as pretty JSON, atomically.
pub fn write_json(path: &Path, value: &Value) -> Result<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::Numerical(format!("results cannot be written as JSON: {e}")))?;
    write_text(path, &(text + "\n"))
}
