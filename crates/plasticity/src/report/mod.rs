//! Results as files: `results.json` (coefficients by canonical term name, metrics, loss
//! history, the full configuration, seed, version) and `coefficients.csv`, each written
//! atomically; and, in [`figures`], the publication-style figures drawn from them.

pub mod figures;
pub mod fit_figures;
mod history;
mod interrupted;
mod json;

pub use history::history_csv;
pub use interrupted::InterruptedRun;
pub use json::json_text;
// where they were before the pipelines needed them (see analysis::uncertainty)
pub use crate::analysis::uncertainty::{
    coefficient_uncertainty, CoefficientUncertainty, Uncertainty,
};

use std::path::Path;

use serde_json::{json, Map, Value};

use crate::data::{BehaviourDataset, NeuralDataset};
use crate::fit::FitOutcome;
use crate::io::write_atomically;
use crate::pipeline::behaviour::{BehaviourFit, BehaviourFitSettings};
use crate::pipeline::neural::{NeuralFit, NeuralFitSettings};
use crate::rule::{PlasticityRule, Rule};
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
    let values = Value::Object(named(&names, &outcome.theta));
    match rule.expression(&outcome.theta) {
        Some(expression) => {
            results.insert("coefficients".into(), values);
            results.insert("rule".into(), json!(expression));
        }
        None => {
            results.insert("parameters".into(), values);
        }
    }
    results.insert("metrics".into(), metrics);
    results.insert("loss_history".into(), json!(outcome.loss_history));
    results.insert("parameter_names".into(), json!(names));
    results.insert("parameter_history".into(), json!(outcome.theta_history));
    results.insert("stop_reason".into(), json!(outcome.stop_reason));
    results.insert("backoffs".into(), json!(outcome.backoffs));
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
    results.insert("identifiability".into(), fit.identifiability.clone());
    results.insert(
        "config".into(),
        json!({
            "settings": settings,
            "solver_used": fit.solver_used,
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

/// [`neural_results`] for a fit of a dataset that streamed from its file
/// ([`crate::pipeline::neural::fit_neural_streamed`]); `data.streamed` is `true`.
pub fn neural_results_streamed(
    fit: &NeuralFit,
    settings: &NeuralFitSettings,
    data_path: &Path,
    stream: &crate::data::NeuralStream,
    fit_seconds: f64,
) -> Value {
    let mut results = neural_results(
        fit,
        settings,
        data_path,
        &empty_neural_dataset(),
        fit_seconds,
    );
    results["data"] = json!({
        "path": data_path.display().to_string(),
        "trajectories": stream.n_trajectories(),
        "steps": stream.steps(),
        "n_pre": stream.n_pre(),
        "n_post": stream.n_post(),
        "n_recorded": stream.recorded_neurons().len(),
        "metadata": stream.metadata(),
        "streamed": true,
    });
    results
}

/// A one-step, one-neuron placeholder whose summary is replaced by the caller.
fn empty_neural_dataset() -> NeuralDataset {
    NeuralDataset {
        inputs: ndarray::Array3::zeros((1, 1, 1)),
        initial_weights: ndarray::Array3::zeros((1, 1, 1)),
        recorded_activity: ndarray::Array3::zeros((1, 1, 1)),
        recorded_neurons: vec![0],
        metadata: serde_json::Map::new(),
    }
}

/// `coefficients.csv` of a neural fit: [`fitted_parameters_csv`] with the fit's
/// identifiability section.
pub fn coefficients_csv(fit: &NeuralFit, generating: Option<&[f64]>) -> String {
    fitted_parameters_csv(
        &fit.rule,
        &fit.outcome.theta,
        generating,
        Some(&fit.identifiability),
    )
}

/// `coefficients.csv` of a fitted rule without an identifiability report:
/// [`fitted_parameters_csv`] with empty uncertainty columns.
pub fn parameters_csv(rule: &Rule, theta: &[f64], generating: Option<&[f64]>) -> String {
    fitted_parameters_csv(rule, theta, generating, None)
}

/// `coefficients.csv` of any fitted rule, the one writer of every fit's table:
/// `term,value[,generating,error]` for a Taylor rule (`generating,error` when the
/// data's generating rule is known), `parameter,value` for an MLP; then always
/// `std_error,lower,upper,determined` from the fit's `identifiability` section
/// ([`coefficient_uncertainty`]: the Laplace standard error, the 95 % interval and
/// whether the data determine the coefficient, `true`/`false`), empty where the
/// section has none (an MLP, a streamed or online fit, a term held fixed).
pub fn fitted_parameters_csv(
    rule: &Rule,
    theta: &[f64],
    generating: Option<&[f64]>,
    identifiability: Option<&Value>,
) -> String {
    let names = rule.parameter_names();
    let uncertainty = coefficient_uncertainty(&names, identifiability);
    let extra = |k: usize| {
        let u = &uncertainty.coefficients[k];
        format!(
            ",{},{},{},{}",
            optional(u.std_error),
            optional(u.lower),
            optional(u.upper),
            u.determined.map(|d| d.to_string()).unwrap_or_default()
        )
    };
    const EXTRA: &str = ",std_error,lower,upper,determined\n";
    let mut csv = String::new();
    match generating {
        Some(truth) if truth.len() == names.len() => {
            csv.push_str("term,value,generating,error");
            csv.push_str(EXTRA);
            for (k, ((name, value), g)) in names.iter().zip(theta).zip(truth).enumerate() {
                csv.push_str(&format!("{name},{value},{g},{}{}\n", value - g, extra(k)));
            }
        }
        _ => {
            csv.push_str(rule.parameter_kind());
            csv.push_str(",value");
            csv.push_str(EXTRA);
            for (k, (name, value)) in names.iter().zip(theta).enumerate() {
                csv.push_str(&format!("\"{name}\",{value}{}\n", extra(k)));
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
    results.insert("identifiability".into(), fit.identifiability.clone());
    results.insert(
        "config".into(),
        json!({
            "settings": settings,
            "solver_used": fit.solver_used,
            "basis_used": fit.basis_used,
            "rule_family": fit.rule.family(),
            "n_parameters": fit.rule.n_parameters(),
        }),
    );
    results.insert(
        "data".into(),
        json!({
            "path": data_path.display().to_string(),
            "kind": dataset.kind().name(),
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

/// Quotes a CSV field when it holds a comma, a quote or a newline (RFC 4180).
pub fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

fn optional(value: Option<f64>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// `per_fly.csv`: one row per fly and model with `fly`, `model`, `family`,
/// `percent_deviance`, `heldout_percent_deviance`, `n_parameters`,
/// `negative_log_likelihood`, `aic`; then `theta_<term>` for every plasticity term of
/// any model and the baseline's parameters by name (empty where a model lacks one);
/// then each of those with `_lower` and `_upper`: the ends of its profile-likelihood
/// interval (empty when unbounded or not computed); `_laplace_lower`,
/// `_laplace_upper` (Laplace interval); `_posterior_lower`, `_posterior_upper` (NUTS);
/// and last `_mle`: the unpenalised maximum-likelihood estimate the profile and
/// Laplace intervals belong to (both contain it; the median over the draws with
/// intervals, as the ends are). The plain `theta_<term>` column is a different
/// estimator — the median over all draws of the *penalised* fit — and can lie outside
/// those intervals.
pub fn flies_per_fly_csv(fits: &[crate::pipeline::flies::FlyModelFit]) -> String {
    use crate::pipeline::flies::ModelFamily;
    let mut columns: Vec<(String, String)> = Vec::new(); // (term, column name)
    for family in [ModelFamily::PlasticityRule, ModelFamily::QLearning] {
        for fit in fits.iter().filter(|f| f.family == family) {
            for term in &fit.terms {
                let column = match family {
                    ModelFamily::PlasticityRule => format!("theta_{term}"),
                    ModelFamily::QLearning => term.clone(),
                };
                if !columns.iter().any(|(_, c)| *c == column) {
                    columns.push((term.clone(), column));
                }
            }
        }
    }
    let mut csv = String::from(
        "fly,model,family,percent_deviance,heldout_percent_deviance,n_parameters,negative_log_likelihood,aic",
    );
    for (_, column) in &columns {
        csv.push_str(&format!(",{column}"));
    }
    for (_, column) in &columns {
        csv.push_str(&format!(",{column}_lower,{column}_upper"));
    }
    for (_, column) in &columns {
        csv.push_str(&format!(",{column}_laplace_lower,{column}_laplace_upper"));
    }
    for (_, column) in &columns {
        csv.push_str(&format!(
            ",{column}_posterior_lower,{column}_posterior_upper"
        ));
    }
    for (_, column) in &columns {
        csv.push_str(&format!(",{column}_mle"));
    }
    csv.push_str(",heldout_loss_per_decision");
    csv.push('\n');
    for fit in fits {
        let family = serde_json::to_value(fit.family)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        csv.push_str(&format!(
            "{},{},{},{},{},{},{},{}",
            csv_field(&fit.fly),
            csv_field(&fit.model),
            family,
            fit.percent_deviance,
            fit.heldout_percent_deviance,
            fit.terms.len(),
            fit.negative_log_likelihood,
            fit.aic
        ));
        let own = |column: &str| {
            fit.terms.iter().position(|t| {
                let name = match fit.family {
                    ModelFamily::PlasticityRule => format!("theta_{t}"),
                    ModelFamily::QLearning => t.clone(),
                };
                name == column
            })
        };
        for (_, column) in &columns {
            match own(column) {
                Some(i) => csv.push_str(&format!(",{}", fit.theta[i])),
                None => csv.push(','),
            }
        }
        for (_, column) in &columns {
            match own(column).and_then(|i| fit.intervals.get(i)) {
                Some(interval) => csv.push_str(&format!(
                    ",{},{}",
                    optional(interval.lower),
                    optional(interval.upper)
                )),
                None => csv.push_str(",,"),
            }
        }
        for (_, column) in &columns {
            match own(column).and_then(|i| fit.intervals.get(i)) {
                Some(interval) => csv.push_str(&format!(
                    ",{},{}",
                    optional(interval.laplace_lower),
                    optional(interval.laplace_upper)
                )),
                None => csv.push_str(",,"),
            }
        }
        for (_, column) in &columns {
            match own(column).and_then(|i| fit.intervals.get(i)) {
                Some(interval) => csv.push_str(&format!(
                    ",{},{}",
                    optional(interval.posterior_lower),
                    optional(interval.posterior_upper)
                )),
                None => csv.push_str(",,"),
            }
        }
        for (_, column) in &columns {
            match own(column).and_then(|i| fit.intervals.get(i)) {
                Some(interval) => csv.push_str(&format!(",{}", interval.estimate)),
                None => csv.push(','),
            }
        }
        csv.push_str(&format!(",{}", optional(fit.heldout_loss_per_decision)));
        csv.push('\n');
    }
    csv
}

/// `population.csv`: one row per fly and model with the shared rule's
/// `percent_deviance`, `heldout_percent_deviance` (fitted on every fly's first
/// trials) and `cross_fly_percent_deviance` (fitted without the fly), and
/// `negative_log_likelihood`.
pub fn population_csv(fits: &[crate::pipeline::population::PopulationFit]) -> String {
    let mut csv = String::from(
        "fly,model,percent_deviance,heldout_percent_deviance,cross_fly_percent_deviance,negative_log_likelihood\n",
    );
    for fit in fits {
        for fly in &fit.flies {
            csv.push_str(&format!(
                "{},{},{},{},{},{}\n",
                csv_field(&fly.fly),
                csv_field(&fit.model),
                fly.percent_deviance,
                fly.heldout_percent_deviance,
                fly.cross_fly_percent_deviance,
                fly.negative_log_likelihood
            ));
        }
    }
    csv
}

/// Writes a text file atomically.
pub fn write_text(path: &Path, text: &str) -> Result<()> {
    write_atomically(path, |w| std::io::Write::write_all(w, text.as_bytes()))
}

/// Writes `value` as pretty JSON ([`json_text`]: arrays of numbers on one line),
/// atomically.
pub fn write_json(path: &Path, value: &Value) -> Result<()> {
    write_text(path, &(json_text(value) + "\n"))
}

/// The content of `results.json` for a circuit fit: `coefficients` (`rule.term` of
/// every Taylor rule), `rules` (each fitted rule as an expression), `initial_weights`
/// (per projection: `given` or `fitted_shared`), `metrics`, `stages` of the staged
/// horizon, the histories (θ only), `config`, `data`, `seed`, `version`.
pub fn circuit_results(
    fit: &crate::pipeline::circuit::CircuitFit,
    settings: &crate::pipeline::circuit::CircuitFitSettings,
    data_path: &Path,
    dataset: &crate::data::CircuitDataset,
    fit_seconds: f64,
) -> Value {
    let network = &dataset.network;
    let n_theta = network.n_parameters();
    let mut results = Map::new();
    let mut coefficients = Map::new();
    let mut rules = Map::new();
    for (r, named) in network.rules().iter().enumerate() {
        let theta = &fit.outcome.theta[network.theta_range(r)];
        let names = named.rule.parameter_names();
        for (name, value) in names.iter().zip(theta) {
            coefficients.insert(format!("{}.{name}", named.name), json!(value));
        }
        if let Some(expression) = named.rule.expression(theta) {
            rules.insert(named.name.clone(), json!(expression));
        }
    }
    let initial_weights: Map<String, Value> = dataset
        .spec
        .projections
        .iter()
        .map(|p| {
            let how = match p.fit_initial_weights {
                crate::circuit::InitialWeightsFit::Shared => "fitted_shared",
                _ => "given",
            };
            (p.name.clone(), json!(how))
        })
        .collect();
    results.insert("coefficients".into(), Value::Object(coefficients));
    results.insert("rules".into(), Value::Object(rules));
    results.insert("initial_weights".into(), Value::Object(initial_weights));
    results.insert("metrics".into(), json!(fit.metrics));
    results.insert("loss_history".into(), json!(fit.outcome.loss_history));
    results.insert(
        "parameter_names".into(),
        json!(fit.parameter_names[..n_theta]),
    );
    let history: Vec<&[f64]> = fit
        .outcome
        .theta_history
        .iter()
        .map(|theta| &theta[..n_theta.min(theta.len())])
        .collect();
    results.insert("parameter_history".into(), json!(history));
    results.insert("stop_reason".into(), json!(fit.outcome.stop_reason));
    results.insert("backoffs".into(), json!(fit.outcome.backoffs));
    results.insert("evaluations".into(), json!(fit.outcome.evaluations));
    results.insert("stages".into(), json!(fit.stages));
    results.insert(
        "config".into(),
        json!({
            "settings": settings,
            "basis_used": fit.basis_used,
            "solver_used": fit.solver_used,
            "circuit": dataset.spec,
            "n_parameters": n_theta,
            "n_initial_weights_fitted": fit.outcome.theta.len() - n_theta,
        }),
    );
    let populations: Map<String, Value> = network
        .populations()
        .iter()
        .zip(&dataset.recorded_neurons)
        .map(|(p, recorded)| {
            (
                p.name.clone(),
                json!({"size": p.size, "recorded": recorded.len(), "input": !p.is_simulated()}),
            )
        })
        .collect();
    results.insert(
        "data".into(),
        json!({
            "path": data_path.display().to_string(),
            "trajectories": dataset.trajectories,
            "steps": dataset.steps,
            "populations": populations,
            "synapses": network.n_synapses(),
            "metadata": dataset.metadata,
        }),
    );
    results.insert("seed".into(), json!(settings.fit.seed));
    results.insert("version".into(), json!(crate::VERSION));
    results.insert("timing".into(), json!({ "fit_seconds": fit_seconds }));
    Value::Object(results)
}

/// `coefficients.csv` of a circuit fit: `rule,term,value[,generating,error]`, one row
/// per Taylor coefficient of every rule (MLP parameters: `rule,parameter,value`).
pub fn circuit_coefficients_csv(
    dataset: &crate::data::CircuitDataset,
    theta: &[f64],
    generating: Option<&[f64]>,
) -> String {
    let network = &dataset.network;
    let mut csv = String::from(if generating.is_some() {
        "rule,term,value,generating,error\n"
    } else {
        "rule,term,value\n"
    });
    for (r, named) in network.rules().iter().enumerate() {
        let range = network.theta_range(r);
        for (k, name) in named.rule.parameter_names().iter().enumerate() {
            let value = theta[range.start + k];
            match generating {
                Some(truth) => {
                    let g = truth[range.start + k];
                    csv.push_str(&format!(
                        "{},\"{name}\",{value},{g},{}\n",
                        named.name,
                        value - g
                    ));
                }
                None => csv.push_str(&format!("{},\"{name}\",{value}\n", named.name)),
            }
        }
    }
    csv
}

/// Fitted shared `W₀`, dense `[n_post, n_pre]` per projection, as
/// `initial_weights/{projection}`.
pub fn write_fitted_initial_weights(
    path: &Path,
    dataset: &crate::data::CircuitDataset,
    objective: &crate::objective::CircuitObjective<'_>,
    parameters: &[f64],
) -> Result<()> {
    let network = &dataset.network;
    let mut arrays = Vec::new();
    for f in objective.fitted_initial_weights() {
        let projection = &network.projections()[f.projection];
        let c = &projection.connectivity;
        let dense = c.scatter(&parameters[f.start..f.start + c.n_synapses()]);
        let array = ndarray::Array2::from_shape_vec((c.n_post(), c.n_pre()), dense)
            .map_err(|e| Error::Numerical(e.to_string()))?;
        arrays.push((format!("initial_weights/{}", projection.name), array));
    }
    let entries: Vec<(&str, crate::io::npz::NpzValue<'_>)> = arrays
        .iter()
        .map(|(key, array)| {
            (
                key.as_str(),
                crate::io::npz::NpzValue::F64(array.view().into_dyn()),
            )
        })
        .collect();
    crate::io::npz::write_npz(path, &entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::identifiability::{results_section, Curvature, Z_95};
    use crate::rule::{term_names, Variables};

    /// A Taylor rule with `x*y` = 1 known to ±0.002 and `y^2*w` = −1 to ±2 (95 %),
    /// the other 25 terms held fixed at 0.
    fn section() -> (Rule, Vec<f64>, Value) {
        let rule = Rule::taylor(Variables::Xyw);
        let names = term_names(Variables::Xyw);
        let xy = names.iter().position(|n| n == "x*y").expect("x*y");
        let yyw = names.iter().position(|n| n == "y^2*w").expect("y^2*w");
        let mut theta = vec![0.0; names.len()];
        theta[xy] = 1.0;
        theta[yyw] = -1.0;
        let curvature = Curvature {
            parameters: vec![xy, yyw],
            loss_curvature: vec![1.0, 0.0, 0.0, 1.0],
            information: Some(vec![1e6, 0.0, 0.0, 1.0]),
            loss: 0.1,
            observations: 100,
            residual_variance: Some(0.01),
            likelihood_scale: 1.0,
            method: "test".into(),
        };
        let section = results_section(Ok(curvature), &names, &theta);
        (rule, theta, section)
    }

    #[test]
    fn coefficients_csv_carries_each_intervals_and_whether_it_is_determined() {
        let (rule, theta, section) = section();
        let csv = fitted_parameters_csv(&rule, &theta, None, Some(&section));
        let mut lines = csv.lines();
        assert_eq!(
            lines.next(),
            Some("term,value,std_error,lower,upper,determined")
        );
        let row = |term: &str| -> Vec<String> {
            csv.lines()
                .find(|l| l.starts_with(&format!("\"{term}\",")))
                .expect("row")
                .split(',')
                .map(String::from)
                .collect()
        };
        let xy = row("x*y");
        assert_eq!(xy[3].parse::<f64>().ok(), Some(1.0 - Z_95 * 1e-3));
        assert_eq!(xy[4].parse::<f64>().ok(), Some(1.0 + Z_95 * 1e-3));
        assert_eq!(xy[5], "true");
        let yyw = row("y^2*w");
        assert_eq!(yyw[2].parse::<f64>().ok(), Some(1.0));
        assert_eq!(yyw[5], "false", "±1.96 against a scale of 1");
        // a term that was not fitted has empty columns
        assert_eq!(row("w")[2..], ["", "", "", ""]);
        // with the generating rule: its two columns, then the same four
        let csv = fitted_parameters_csv(&rule, &theta, Some(&theta), Some(&section));
        assert!(csv.starts_with("term,value,generating,error,std_error,lower,upper,determined\n"));
        let uncertainty = coefficient_uncertainty(&rule.parameter_names(), Some(&section));
        assert!(uncertainty.unavailable.is_none());
        let least = uncertainty.least_determined.expect("a sentence");
        assert!(
            least.starts_with("y^2*w is not determined by these data"),
            "{least}"
        );
    }

    #[test]
    fn without_a_report_the_uncertainty_columns_are_empty_and_say_why() {
        let (rule, theta, _) = section();
        let section = crate::analysis::identifiability::not_computed("no report here");
        let uncertainty = coefficient_uncertainty(&rule.parameter_names(), Some(&section));
        assert_eq!(uncertainty.unavailable.as_deref(), Some("no report here"));
        assert!(uncertainty.least_determined.is_none());
        let csv = fitted_parameters_csv(&rule, &theta, None, Some(&section));
        assert!(csv.lines().skip(1).all(|l| l.ends_with(",,,,")));
        let mlp = Rule::Mlp(crate::rule::MlpRule::new(Variables::Xyw, &[2]).expect("MLP"));
        let csv = parameters_csv(&mlp, &vec![0.5; mlp.n_parameters()], None);
        assert!(csv.starts_with("parameter,value,std_error,lower,upper,determined\n"));
        assert!(csv.lines().skip(1).all(|l| l.ends_with(",,,,")));
        assert!(coefficient_uncertainty(&mlp.parameter_names(), None)
            .unavailable
            .is_some());
    }
}
