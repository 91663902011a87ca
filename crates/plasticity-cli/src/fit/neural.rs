//! Neural fits: loaded or streamed, their files and their summary.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};

use plasticity::data::NeuralDataset;
use plasticity::pipeline::neural::{fit_neural, generating_theta, NeuralFitSettings};
use plasticity::report::fit_figures::{neural_fit_figures, rule_fit_figures};
use plasticity::report::{
    coefficient_uncertainty, coefficients_csv, history_csv, neural_results, write_json, write_text,
};
use plasticity::rule::{parse_expression, term_names, PlasticityRule, Variables};

use super::data::open_stream;
use super::FitArgs;
use crate::journal::FitResume;
use crate::output::{
    epoch_observer, print_coefficient_table, print_uncertainty_notes, progress_bar,
};

/// Fits with a progress bar; returns the fit and its wall time.
pub(super) fn fit_with_progress(
    dataset: &NeuralDataset,
    source: &Path,
    settings: &NeuralFitSettings,
    checkpoint: Option<&FitResume>,
) -> Result<(plasticity::pipeline::neural::NeuralFit, f64)> {
    let bar = progress_bar(settings.fit.epochs, "fitting");
    let start = Instant::now();
    let observer = epoch_observer(&bar, start, settings.fit.epochs, true);
    let fit = match checkpoint {
        Some(checkpoint) => fit_neural(dataset, settings, &mut checkpoint.observe(observer)),
        None => {
            let mut observer = observer;
            fit_neural(dataset, settings, &mut observer)
        }
    };
    bar.finish_and_clear();
    let seconds = start.elapsed().as_secs_f64();
    let fit = fit.with_context(|| format!("fitting the rule to {}", source.display()))?;
    Ok((fit, seconds))
}

pub(super) fn write_fit_outputs(
    out: &Path,
    fit: &plasticity::pipeline::neural::NeuralFit,
    settings: &NeuralFitSettings,
    data_path: &Path,
    dataset: &NeuralDataset,
    seconds: f64,
) -> Result<()> {
    std::fs::create_dir_all(out)
        .with_context(|| format!("creating output directory {}", out.display()))?;
    let results = neural_results(fit, settings, data_path, dataset, seconds);
    write_json(&out.join("results.json"), &results)?;
    // an MLP's parameters have no generating counterpart
    let truth = fit.rule.as_taylor().and(generating_theta(dataset)?);
    write_text(
        &out.join("coefficients.csv"),
        &coefficients_csv(fit, truth.as_deref()),
    )?;
    write_history(out, fit)?;
    neural_fit_figures(
        &out.join("figures"),
        fit,
        dataset,
        truth.as_deref(),
        settings.fit.seed,
    )
    .context("drawing the fit's figures")?;
    Ok(())
}

/// `history.csv`: the loss and every parameter after each epoch.
fn write_history(out: &Path, fit: &plasticity::pipeline::neural::NeuralFit) -> Result<()> {
    write_text(
        &out.join("history.csv"),
        &history_csv(
            &fit.rule.parameter_names(),
            &fit.outcome.loss_history,
            &fit.outcome.theta_history,
        ),
    )?;
    Ok(())
}

/// every evaluation; memory does not grow with its length.
pub(super) fn fit_streamed_command(args: &FitArgs) -> Result<()> {
    let stream = open_stream(&args.data)?;
    let settings = args.options.settings();
    let bar = progress_bar(settings.fit.epochs, "fitting (streamed)");
    let start = Instant::now();
    let mut observer = epoch_observer(&bar, start, settings.fit.epochs, true);
    let fit = plasticity::pipeline::neural::fit_neural_streamed(&stream, &settings, &mut observer);
    bar.finish_and_clear();
    let seconds = start.elapsed().as_secs_f64();
    let fit = fit.context("fitting the rule")?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating output directory {}", args.out.display()))?;
    write_json(
        &args.out.join("results.json"),
        &plasticity::report::neural_results_streamed(&fit, &settings, &args.data, &stream, seconds),
    )?;
    let truth = match (fit.rule.as_taylor(), stream.generating_rule()) {
        (Some(_), Some(rule)) => Some(parse_expression(rule, Variables::Xyw)?),
        _ => None,
    };
    write_text(
        &args.out.join("coefficients.csv"),
        &coefficients_csv(&fit, truth.as_deref()),
    )?;
    write_history(&args.out, &fit)?;
    rule_fit_figures(
        &args.out.join("figures"),
        Some(&fit.rule),
        &fit.rule.parameter_names(),
        &fit.outcome.theta,
        &fit.outcome.loss_history,
        "loss (mean squared error of activity)",
        truth.as_deref(),
        Some(&fit.identifiability),
    )
    .context("drawing the fit's figures")?;
    print_fit_summary(&fit, truth.as_deref(), seconds)?;
    note!("results written to {}", args.out.display());
    Ok(())
}

pub(super) fn print_summary(
    fit: &plasticity::pipeline::neural::NeuralFit,
    dataset: &NeuralDataset,
    seconds: f64,
) -> Result<()> {
    print_fit_summary(fit, generating_theta(dataset)?.as_deref(), seconds)
}

fn print_fit_summary(
    fit: &plasticity::pipeline::neural::NeuralFit,
    truth: Option<&[f64]>,
    seconds: f64,
) -> Result<()> {
    show!(
        "stopped: {}  ({} evaluations, {:.1} s)",
        serde_json::to_string(&fit.outcome.stop_reason)?,
        fit.outcome.evaluations,
        seconds
    );
    let uncertainty =
        coefficient_uncertainty(&fit.rule.parameter_names(), Some(&fit.identifiability));
    if let Some(taylor) = fit.rule.as_taylor() {
        let names = term_names(taylor.variables());
        // the generating rule's terms first, then the largest others
        let mut order: Vec<usize> = (0..names.len()).collect();
        order.sort_by(|&a, &b| {
            let key = |k: usize| {
                let generating = truth.map(|t| t[k] != 0.0).unwrap_or(false);
                (!generating, -fit.outcome.theta[k].abs())
            };
            key(a)
                .partial_cmp(&key(b))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        print_coefficient_table(&names, &fit.outcome.theta, truth, &order, &uncertainty);
    } else {
        print_uncertainty_notes(&uncertainty);
    }
    let m = &fit.metrics;
    let show = |v: Option<f64>| v.map(|v| format!("{v:.4}")).unwrap_or_else(|| "-".into());
    show!(
        "loss {:.4e} (generating rule: {})   R² weights {}   R² activity {}",
        m.final_loss,
        m.loss_at_generating_rule
            .map(|v| format!("{v:.4e}"))
            .unwrap_or_else(|| "-".into()),
        show(m.r2_weights),
        show(m.r2_activity)
    );
    Ok(())
}
