//! Spiking circuits: `fit` on spike-train recordings (`kind = "spike_train"`).

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde_json::json;

use plasticity::data::SpikeTrainDataset;
use plasticity::pipeline::spiking::{fit_spike_trains, SpikeFitSettings, SpikeSolver};
use plasticity::report::{write_json, write_text};

use crate::flags::{FitOptions, GradientArg, SolverArg};
use crate::output::{epoch_observer, progress_bar};

/// Whether `path` holds spike-train recordings.
pub(crate) fn is_spike_train(path: &Path) -> Result<bool> {
    let kind = plasticity::data::dataset_kind(path)
        .with_context(|| crate::output::reading_dataset(path))?;
    Ok(kind == "spike_train")
}

/// The settings of a spike-train fit from the shared fit flags.
fn settings(options: &FitOptions) -> SpikeFitSettings {
    SpikeFitSettings {
        solver: match options.solver {
            SolverArg::Lbfgs => SpikeSolver::Lbfgs,
            SolverArg::Auto | SolverArg::LevenbergMarquardt => SpikeSolver::FisherScoring,
        },
        epochs: options.epochs,
        trainable: if options.trainable == "all" {
            Vec::new()
        } else {
            options
                .trainable
                .split(',')
                .map(|s| s.trim().to_string())
                .collect()
        },
        gradient: match options.gradient {
            GradientArg::Auto => plasticity::gradient::GradientStrategy::Forward,
            other => other.strategy(),
        },
        eval_seed: options.seed.wrapping_add(1_000_003),
        eval_steps: 0,
    }
}

pub(crate) fn fit_spike_train_command(
    data: &Path,
    out: &Path,
    options: &FitOptions,
    resume: bool,
) -> Result<()> {
    if options.online || resume {
        bail!("--online and --resume take rate recordings, not spike trains");
    }
    if matches!(options.optimizer, Some(crate::flags::OptimizerArg::Adam)) {
        bail!("spike-train fits run Fisher scoring (default) or L-BFGS (--solver lbfgs), not Adam");
    }
    if options.l1.is_some_and(|l1| l1 != 0.0) || options.l2 != 0.0 {
        bail!("--l1 and --l2 are not supported on spike trains yet: the fit is the plain likelihood (select terms with --trainable)");
    }
    let dataset =
        SpikeTrainDataset::load(data).with_context(|| crate::output::reading_dataset(data))?;
    let settings = settings(options);
    let bar = progress_bar(settings.epochs, "fitting spike-timing rules");
    let start = Instant::now();
    let mut observer = epoch_observer(&bar, start, settings.epochs, true);
    let fit = fit_spike_trains(&dataset, &settings, &mut observer);
    bar.finish_and_clear();
    let seconds = start.elapsed().as_secs_f64();
    let fit =
        fit.with_context(|| format!("fitting the spike-timing rules to {}", data.display()))?;
    std::fs::create_dir_all(out)
        .with_context(|| format!("creating output directory {}", out.display()))?;
    let results = json!({
        "kind": "spike_train",
        "data": data.display().to_string(),
        "version": plasticity::VERSION,
        "configuration": {
            "solver": match settings.solver { SpikeSolver::FisherScoring => "fisher_scoring", SpikeSolver::Lbfgs => "lbfgs" },
            "epochs": settings.epochs,
            "trainable": fit.trainable.iter().map(|&k| fit.parameter_names[k].clone()).collect::<Vec<_>>(),
            "gradient": options.gradient.name(),
            "seed": options.seed,
            "eval_seed": settings.eval_seed,
        },
        "data_seed": dataset.metadata.get("seed"),
        "trajectories": dataset.trajectories(),
        "steps": dataset.steps,
        "dt_ms": dataset.circuit.dt(),
        "spikes": dataset.rasters.iter().map(|r| r.n_spikes()).sum::<usize>(),
        "theta": fit.outcome.theta,
        "parameter_names": fit.parameter_names,
        "expression": dataset.circuit.rules().iter().enumerate().map(|(r, named)| {
            (named.name.clone(), named.rule.expression(&fit.outcome.theta[dataset.circuit.theta_range(r)]))
        }).collect::<std::collections::BTreeMap<_, _>>(),
        "stop_reason": format!("{:?}", fit.outcome.stop_reason),
        "iterations": fit.outcome.loss_history.len(),
        "final_loss": fit.outcome.final_loss,
        "metrics": fit.metrics,
        "identifiability": fit.identifiability,
        "seconds": seconds,
    });
    write_json(&out.join("results.json"), &results)?;
    let mut csv = String::from("term,fitted,generating,relative_error,relative_effect\n");
    let cell = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.6e}"));
    for c in &fit.metrics.coefficients {
        csv.push_str(&format!(
            "{},{:.6e},{},{},{:.4}\n",
            c.name,
            c.fitted,
            cell(c.generating),
            cell(c.relative_error),
            c.relative_effect
        ));
    }
    write_text(&out.join("coefficients.csv"), &csv)?;
    plasticity::report::figures::spike_fit_figures(
        &out.join("figures"),
        &dataset,
        &fit.outcome.theta,
    )
    .context("drawing the fit's figures")?;
    show!(
        "fitted in {seconds:.1} s ({:?}, {} iterations)",
        fit.outcome.stop_reason,
        fit.outcome.loss_history.len()
    );
    for c in &fit.metrics.coefficients {
        let generating = match (c.generating, c.relative_error) {
            (Some(g), Some(e)) => format!("  (generating {g:.5}, error {:.1} %)", 100.0 * e),
            (Some(_), None) => format!(
                "  (not in the generating rule; effect {:.3} of the largest true term's)",
                c.relative_effect
            ),
            _ => String::new(),
        };
        show!("  {:<28} {:>10.5}{generating}", c.name, c.fitted);
    }
    let m = &fit.metrics;
    if let Some(excess) = m.log_likelihood_over_generating {
        show!(
            "log-likelihood: {:.1} nats over the generating rule's, {:.1} over no plasticity",
            excess,
            m.log_likelihood - m.log_likelihood_no_plasticity
        );
    }
    if let (Some(open), Some(closed)) = (m.r2_open_loop, m.r2_closed_loop) {
        show!(
            "R² of weights on a fresh recording: open-loop {open:.4} (changes {:.4}), closed-loop {closed:.4} (changes {:.4})",
            m.r2_changes_open_loop.unwrap_or(f64::NAN),
            m.r2_changes_closed_loop.unwrap_or(f64::NAN)
        );
    }
    note!("results written to {}", out.display());
    Ok(())
}

/// θ of every rule from `--theta`: `generating` (the circuit file's rules), or
/// `name=EXPRESSION` per rule separated by `;` (rules not named are 0).
fn theta_of(text: &str, dataset: &SpikeTrainDataset) -> Result<Vec<f64>> {
    let circuit = &dataset.circuit;
    if text.trim() == "generating" {
        return dataset
            .spec
            .generating_theta()
            .context("--theta generating: the circuit file's rules");
    }
    let mut theta = vec![0.0; circuit.n_parameters()];
    for part in text.split(';').filter(|p| !p.trim().is_empty()) {
        let Some((name, expression)) = part.split_once('=') else {
            bail!("--theta: expected 'rule=EXPRESSION; …' or 'generating', found '{part}'");
        };
        let name = name.trim();
        let Some(r) = circuit.rules().iter().position(|rule| rule.name == name) else {
            let names: Vec<&str> = circuit.rules().iter().map(|r| r.name.as_str()).collect();
            bail!(
                "--theta: the circuit has no rule '{name}' (rules: {})",
                names.join(", ")
            );
        };
        let values = circuit.rules()[r]
            .rule
            .parse_theta(expression.trim())
            .with_context(|| format!("--theta: rule '{name}'"))?;
        theta[circuit.theta_range(r)].copy_from_slice(&values);
    }
    Ok(theta)
}

/// `plasticity loss` on spike trains: the negative log-likelihood (nats, summed) and
/// its gradient in θ, by the strategy asked (`auto`: forward mode).
pub(crate) fn loss_command(data: &Path, theta: &str, gradient: GradientArg) -> Result<()> {
    use plasticity::objective::spike_train::SpikeTrainObjective;
    use plasticity::objective::Objective;
    let dataset =
        SpikeTrainDataset::load(data).with_context(|| crate::output::reading_dataset(data))?;
    let theta = theta_of(theta, &dataset)?;
    let strategy = match gradient {
        GradientArg::Auto => plasticity::gradient::GradientStrategy::Forward,
        other => other.strategy(),
    };
    let objective = SpikeTrainObjective::new(&dataset, strategy)
        .with_context(|| format!("fitting {}", data.display()))?;
    let items: Vec<usize> = (0..dataset.trajectories()).collect();
    let mut g = vec![0.0; objective.n_parameters()];
    let start = Instant::now();
    let mean = objective.loss_and_gradient(&theta, &items, &mut g);
    let seconds = start.elapsed().as_secs_f64();
    let n = objective.normaliser(items.len());
    let gradient_json: serde_json::Map<_, _> = dataset
        .circuit
        .parameter_names()
        .into_iter()
        .zip(&g)
        .map(|(name, v)| (name, json!(v * n)))
        .collect();
    out!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "negative_log_likelihood": mean * n,
            "gradient": gradient_json,
            "gradient_strategy": if dataset.circuit.has_latent() {
                "forward-mode dual numbers (latent populations by expectation)".to_string()
            } else {
                format!("{strategy:?}")
            },
            "steps": dataset.steps,
            "seconds": seconds,
        }))?
    );
    Ok(())
}

/// `plasticity evaluate` on spike trains: the metrics of a fit (coefficients against the
/// generating rule, log-likelihoods, term effects, R² on a fresh recording drawn from
/// `seed`) for a rule given by `--theta`, as JSON.
pub(crate) fn evaluate_command(data: &Path, theta: &str, seed: u64) -> Result<()> {
    use plasticity::objective::spike_train::SpikeTrainObjective;
    use plasticity::pipeline::spiking::evaluate_spike_fit;
    let dataset =
        SpikeTrainDataset::load(data).with_context(|| crate::output::reading_dataset(data))?;
    let parameters = theta_of(theta, &dataset)?;
    let objective =
        SpikeTrainObjective::new(&dataset, plasticity::gradient::GradientStrategy::Forward)
            .with_context(|| format!("evaluating on {}", data.display()))?;
    let all: Vec<usize> = (0..parameters.len()).collect();
    let settings = SpikeFitSettings {
        eval_seed: seed,
        ..SpikeFitSettings::default()
    };
    let metrics = evaluate_spike_fit(&objective, &parameters, &all, &settings)?;
    out!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "theta": theta,
            "parameter_names": dataset.circuit.parameter_names(),
            "values": parameters,
            "eval_seed": seed,
            "metrics": metrics,
        }))?
    );
    Ok(())
}
