//! Behaviour datasets: fit, loss and metrics of a given rule.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_json::json;

use plasticity::data::BehaviourDataset;
use plasticity::gradient::GradientStrategy;
use plasticity::objective::{BehaviourObjective, Objective};
use plasticity::pipeline::behaviour::{
    circuit_of, evaluate_behaviour, generating_task, generating_theta, BehaviourFit,
};
use plasticity::report::{behaviour_results, fitted_parameters_csv, write_json, write_text};
use plasticity::rule::{parse_expression, term_names, Rule, TaylorRule, Variables};

use crate::fitting::fit_quietly_or_with_progress;
use crate::flags::{behaviour_settings, FitOptions};

pub(crate) fn fit_behaviour_command(
    data_path: &Path,
    dataset: &BehaviourDataset,
    out: &Path,
    options: &FitOptions,
    resume: bool,
) -> Result<()> {
    let mut settings = behaviour_settings(options)?;
    if plasticity::pipeline::behaviour::solver_for(&settings)?
        == plasticity::pipeline::behaviour::LEVENBERG_MARQUARDT
    {
        note!(
            "fitting the cross-entropy by Levenberg–Marquardt (Fisher scoring; no penalty, at most {} steps)",
            settings.fit.epochs
        );
    }
    let checkpoint = crate::journal::FitResume::new(out, data_path, &settings)?;
    settings.fit.resume = checkpoint.load(resume)?;
    let (fit, seconds) = fit_quietly_or_with_progress(dataset, &settings, true, Some(&checkpoint))?;
    std::fs::create_dir_all(out)
        .with_context(|| format!("creating output directory {}", out.display()))?;
    write_json(
        &out.join("results.json"),
        &behaviour_results(&fit, &settings, data_path, dataset, seconds),
    )?;
    let truth = match fit.rule.as_taylor() {
        Some(_) => generating_theta(dataset)?,
        None => None,
    };
    write_text(
        &out.join("coefficients.csv"),
        &fitted_parameters_csv(
            &fit.rule,
            &fit.outcome.theta,
            truth.as_deref(),
            Some(&fit.identifiability),
        ),
    )?;
    let names = fit.rule.parameter_names();
    write_text(
        &out.join("history.csv"),
        &plasticity::report::history_csv(
            &names,
            &fit.outcome.loss_history,
            &fit.outcome.theta_history,
        ),
    )?;
    plasticity::report::fit_figures::rule_fit_figures(
        &out.join("figures"),
        Some(&fit.rule),
        &names,
        &fit.outcome.theta,
        &fit.outcome.loss_history,
        "loss (cross-entropy per presentation, nats)",
        truth.as_deref(),
        Some(&fit.identifiability),
    )
    .context("drawing the fit's figures")?;
    print_summary(&fit, truth.as_deref(), seconds);
    note!("results written to {}", out.display());
    checkpoint.finish(&fit.outcome.stop_reason)
}

fn print_summary(fit: &BehaviourFit, truth: Option<&[f64]>, seconds: f64) {
    show!(
        "stopped: {}  ({} evaluations, {:.1} s)",
        serde_json::to_string(&fit.outcome.stop_reason).unwrap_or_default(),
        fit.outcome.evaluations,
        seconds
    );
    let uncertainty = plasticity::report::coefficient_uncertainty(
        &fit.rule.parameter_names(),
        Some(&fit.identifiability),
    );
    if fit.rule.as_taylor().is_some() {
        let names = term_names(Variables::Xywr);
        let mut order: Vec<usize> = (0..names.len()).collect();
        order.sort_by(|&a, &b| {
            fit.outcome.theta[b]
                .abs()
                .total_cmp(&fit.outcome.theta[a].abs())
        });
        crate::output::print_coefficient_table(
            &names,
            &fit.outcome.theta,
            truth,
            &order,
            &uncertainty,
        );
    } else {
        crate::output::print_uncertainty_notes(&uncertainty);
    }
    let m = &fit.metrics;
    let show = |v: Option<f64>| v.map(|v| format!("{v:.4}")).unwrap_or_else(|| "-".into());
    show!(
        "loss {:.4} (generating rule: {})   % deviance {:.2} (training)",
        m.final_loss,
        show(m.loss_at_generating_rule),
        m.percent_deviance
    );
    if let Some(e) = &m.evaluation {
        show!(
            "{} fresh sessions: R² weights {:.4}   R² activity {:.4}   % deviance {:.2} (generating rule {:.2})",
            e.sessions, e.r2_weights, e.r2_activity, e.percent_deviance, e.ceiling_percent_deviance
        );
    }
    show!(
        "weight bound engaged {} times at the fitted rule ({} over the whole fit)",
        m.weights_clipped_at_fit,
        m.weights_clipped_during_fit
    );
}

pub(crate) fn loss_command(
    dataset: &BehaviourDataset,
    expression: &str,
    strategy: GradientStrategy,
) -> Result<()> {
    let theta = parse_expression(expression, Variables::Xywr).context("reading --theta")?;
    let objective = BehaviourObjective::new(
        dataset,
        dataset.inputs.clone(),
        circuit_of(dataset, None),
        TaylorRule::new(Variables::Xywr),
        strategy,
    )?;
    let items: Vec<usize> = (0..dataset.n_sessions()).collect();
    let mut gradient = vec![0.0; theta.len()];
    let loss = objective.loss_and_gradient(&theta, &items, &mut gradient);
    if !loss.is_finite() {
        bail!("the loss at θ = {expression} is {loss}: the rule makes the simulation overflow");
    }
    let gradient: serde_json::Map<_, _> = term_names(Variables::Xywr)
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
    dataset: &BehaviourDataset,
    expression: &str,
    sessions: usize,
    seed: u64,
) -> Result<()> {
    let theta = parse_expression(expression, Variables::Xywr).context("reading --theta")?;
    let rule = Rule::taylor(Variables::Xywr);
    let circuit = circuit_of(dataset, None);
    let objective = BehaviourObjective::new(
        dataset,
        dataset.inputs.clone(),
        circuit,
        rule.clone(),
        GradientStrategy::Checkpointed,
    )?;
    let items: Vec<usize> = (0..dataset.n_sessions()).collect();
    let loss = objective.loss(&theta, &items);
    let null = objective.loss(&vec![0.0; theta.len()], &items);
    let evaluation = match generating_task(dataset) {
        Some(task) if sessions > 0 => Some(evaluate_behaviour(
            &task, &circuit, &rule, &theta, sessions, seed,
        )?),
        _ => None,
    };
    out!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "theta": expression,
            "metrics": {
                "loss": loss,
                "percent_deviance": plasticity::pipeline::behaviour::percent_deviance(loss, null),
                "r2_weights": evaluation.as_ref().map(|e| e.r2_weights),
                "r2_activity": evaluation.as_ref().map(|e| e.r2_activity),
                "evaluation": evaluation,
            },
            "seed": seed,
            "version": plasticity::VERSION,
        }))?
    );
    Ok(())
}
