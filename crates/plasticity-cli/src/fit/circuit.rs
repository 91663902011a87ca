//! Multi-population circuits: `fit`, `loss` and `evaluate` on circuit recordings (`kind = "circuit"`).

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde_json::json;

use plasticity::data::CircuitDataset;
use plasticity::objective::{CircuitObjective, Objective};
use plasticity::pipeline::circuit::{
    evaluate_circuit, fit_circuit, CircuitFit, CircuitFitSettings,
};
use plasticity::rule::{parse_expression, Variables};

use plasticity::report::{write_json, write_text};

use crate::flags::{circuit_settings, FitOptions};
use crate::output::{epoch_observer, progress_bar};

/// Whether `path` holds a circuit recording.
pub(crate) fn is_circuit(path: &Path) -> Result<bool> {
    let kind = plasticity::data::dataset_kind(path)
        .with_context(|| crate::output::reading_dataset(path))?;
    Ok(kind == "circuit")
}

fn load(path: &Path) -> Result<CircuitDataset> {
    CircuitDataset::load(path).with_context(|| crate::output::reading_dataset(path))
}

pub(crate) fn fit_circuit_command(
    data: &Path,
    out: &Path,
    options: &FitOptions,
    resume: bool,
) -> Result<()> {
    if options.online {
        bail!("--online takes single-layer neural recordings, not circuit recordings");
    }
    let dataset = load(data)?;
    let mut settings = circuit_settings(options);
    let checkpoint = crate::journal::FitResume::new(out, data, &settings)?;
    settings.fit.resume = checkpoint.load(resume)?;
    let total = expected_epochs(&dataset, &settings);
    let bar = progress_bar(total, "fitting circuit");
    let start = Instant::now();
    let mut observer = checkpoint.observe(epoch_observer(&bar, start, total, true));
    let fit = fit_circuit(&dataset, &settings, &mut observer);
    bar.finish_and_clear();
    let seconds = start.elapsed().as_secs_f64();
    let fit = fit.with_context(|| format!("fitting the circuit's rules to {}", data.display()))?;
    std::fs::create_dir_all(out)
        .with_context(|| format!("creating output directory {}", out.display()))?;
    let results = plasticity::report::circuit_results(&fit, &settings, data, &dataset, seconds);
    write_json(&out.join("results.json"), &results)?;
    checkpoint.finish(&fit.outcome.stop_reason)?;
    let truth = dataset.generating_theta()?;
    write_text(
        &out.join("coefficients.csv"),
        &plasticity::report::circuit_coefficients_csv(
            &dataset,
            &fit.outcome.theta,
            truth.as_deref(),
        ),
    )?;
    let n_theta = dataset.network.n_parameters();
    let names = &fit.parameter_names[..n_theta.min(fit.parameter_names.len())];
    write_text(
        &out.join("history.csv"),
        &plasticity::report::history_csv(
            names,
            &fit.outcome.loss_history,
            &fit.outcome.theta_history,
        ),
    )?;
    // every rule of a circuit is a Taylor rule or an MLP: coefficients for Taylor only
    let all_taylor = dataset
        .network
        .rules()
        .iter()
        .all(|r| r.rule.as_taylor().is_some());
    plasticity::report::fit_figures::fit_figures(
        &out.join("figures"),
        &plasticity::report::fit_figures::FitFigures {
            loss_history: &fit.outcome.loss_history,
            loss_label: "loss (mean squared error of activity)",
            coefficient_names: all_taylor.then(|| names.to_vec()),
            theta: &fit.outcome.theta[..n_theta.min(fit.outcome.theta.len())],
            generating: truth.as_deref(),
            identifiability: None,
            weights: None,
        },
    )
    .context("drawing the fit's figures")?;
    let objective = CircuitObjective::new(&dataset, settings.gradient);
    if !objective.fitted_initial_weights().is_empty() {
        plasticity::report::write_fitted_initial_weights(
            &out.join("initial_weights.npz"),
            &dataset,
            &objective,
            &fit.outcome.theta,
        )?;
    }
    show_summary(&fit, &results, seconds)?;
    note!("results written to {}", out.display());
    Ok(())
}

/// Epochs the progress bar expects: every horizon stage shorter than the recording,
/// the full-horizon fit, and the initial-weights fit where a shared `W₀` is fitted.
fn expected_epochs(dataset: &CircuitDataset, settings: &CircuitFitSettings) -> usize {
    let stages = if settings.horizon_stages.is_empty() {
        plasticity::pipeline::circuit::default_horizon_stages(true, dataset.steps)
    } else {
        settings.horizon_stages.clone()
    };
    let total = plasticity::pipeline::circuit::default_stage_epochs(true)
        .max(settings.stage_epochs)
        * stages
            .iter()
            .filter(|&&h| h > 0 && h < dataset.steps)
            .count()
        + settings.fit.epochs;
    let fits_initial_weights = dataset
        .spec
        .projections
        .iter()
        .any(|p| p.fit_initial_weights == plasticity::circuit::InitialWeightsFit::Shared);
    total
        + if fits_initial_weights {
            settings.initial_weights_epochs
        } else {
            0
        }
}

/// The console summary of a circuit fit: stop reason, rules, losses, R² of weights.
fn show_summary(fit: &CircuitFit, results: &serde_json::Value, seconds: f64) -> Result<()> {
    show!(
        "stopped: {}  ({} evaluations, {:.1} s)",
        serde_json::to_string(&fit.outcome.stop_reason)?,
        fit.outcome.evaluations,
        seconds
    );
    for (name, expression) in results["rules"].as_object().into_iter().flatten() {
        show!("{name}: {}", expression.as_str().unwrap_or(""));
    }
    let m = &fit.metrics;
    show!(
        "loss {:.4e} (generating rules: {})",
        m.final_loss,
        m.loss_at_generating_rule
            .map(|v| format!("{v:.4e}"))
            .unwrap_or_else(|| "-".into())
    );
    if !m.r2_weights_by_projection.is_empty() {
        show!(
            "R² weights {}",
            serde_json::Value::Object(m.r2_weights_by_projection.clone())
        );
    }
    if !m.r2_weights_latent.is_empty() {
        show!(
            "R² weights onto latent neurons {}",
            serde_json::Value::Object(m.r2_weights_latent.clone())
        );
    }
    Ok(())
}

/// θ of every rule from `--theta`: `generating` (the circuit file's rules), or
/// `name=EXPRESSION` per rule separated by `;` (rules not named are 0); shared `W₀`
/// that the circuit fits are taken as the data's.
fn parameters_of(
    text: &str,
    dataset: &CircuitDataset,
    objective: &CircuitObjective<'_>,
) -> Result<Vec<f64>> {
    let network = &dataset.network;
    let mut theta = if text.trim() == "generating" {
        dataset.generating_theta()?.context(
            "--theta generating: the circuit file does not give every rule a `rule` expression",
        )?
    } else {
        let mut theta = vec![0.0; network.n_parameters()];
        for part in text.split(';').filter(|p| !p.trim().is_empty()) {
            let Some((name, expression)) = part.split_once('=') else {
                bail!("--theta: expected 'rule=EXPRESSION; …' or 'generating', found '{part}'");
            };
            let name = name.trim();
            let Some(r) = network.rules().iter().position(|rule| rule.name == name) else {
                let names: Vec<&str> = network.rules().iter().map(|r| r.name.as_str()).collect();
                bail!(
                    "--theta: the circuit has no rule '{name}' (rules: {})",
                    names.join(", ")
                );
            };
            let values = parse_expression(expression.trim(), Variables::Xyw)
                .with_context(|| format!("--theta: rule '{name}'"))?;
            let range = network.theta_range(r);
            if range.len() != values.len() {
                bail!("--theta: rule '{name}' is not a Taylor rule over x, y, w");
            }
            theta[range].copy_from_slice(&values);
        }
        theta
    };
    for f in objective.fitted_initial_weights() {
        theta.extend_from_slice(
            &dataset.trajectory(0).initial_weights[network.weight_range(f.projection)],
        );
    }
    Ok(theta)
}

pub(crate) fn loss_command(
    data: &Path,
    theta: &str,
    strategy: plasticity::gradient::GradientStrategy,
) -> Result<()> {
    let dataset = load(data)?;
    let objective = CircuitObjective::new(&dataset, strategy);
    let parameters = parameters_of(theta, &dataset, &objective)?;
    let mut gradient = vec![0.0; objective.n_parameters()];
    let items: Vec<usize> = (0..dataset.trajectories).collect();
    let loss = objective.loss_and_gradient(&parameters, &items, &mut gradient);
    if !loss.is_finite() {
        bail!("the loss at θ = {theta} is {loss}: the rules make the simulation overflow");
    }
    let names = dataset.network.parameter_names();
    let gradient: serde_json::Map<_, _> = names
        .into_iter()
        .zip(gradient)
        .map(|(n, g)| (n, json!(g)))
        .collect();
    out!(
        "{}",
        serde_json::to_string_pretty(&json!({"loss": loss, "gradient": gradient}))?
    );
    Ok(())
}

pub(crate) fn evaluate_command(
    data: &Path,
    theta: &str,
    trajectories: usize,
    seed: u64,
) -> Result<()> {
    let dataset = load(data)?;
    let objective = CircuitObjective::new(
        &dataset,
        plasticity::gradient::GradientStrategy::Checkpointed,
    );
    let parameters = parameters_of(theta, &dataset, &objective)?;
    let metrics = evaluate_circuit(&dataset, &objective, &parameters, trajectories, seed)?;
    out!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "theta": theta,
            "metrics": metrics,
            "seed": seed,
            "version": plasticity::VERSION,
        }))?
    );
    Ok(())
}
