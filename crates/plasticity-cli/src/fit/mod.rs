//! `plasticity fit`, `loss`, `evaluate` and `oja`: one dataset, by its kind (neural,
//! behaviour, circuit).

mod behaviour;
mod circuit;
mod data;
mod neural;
mod online;
mod spiking;

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::json;

use plasticity::data::Dataset;
use plasticity::fit::OptimizerKind;
use plasticity::objective::{NeuralObjective, Objective};
use plasticity::pipeline::neural::{evaluate_on_dataset, NeuralFitSettings};
use plasticity::rule::RuleFamily;
use plasticity::rule::{parse_expression, term_names, PlasticityRule, Rule, TaylorRule, Variables};
use plasticity::task::OjaTask;

use crate::flags::{FamilyArg, FitOptions, GradientArg, OptimizerArg, SolverArg};
use crate::journal::FitResume;
use data::{load_any, open_stream, resolve_gradient, streams};
use neural::{fit_streamed_command, fit_with_progress, print_summary, write_fit_outputs};

#[derive(Args, Debug)]
pub(crate) struct FitArgs {
    /// Dataset (.npz, docs/model.md §6 layout).
    data: PathBuf,
    /// Output directory (created if missing).
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    options: FitOptions,
    /// Continue a fit that Ctrl-C or SIGTERM stopped (its OUT/checkpoint.json), with
    /// the same data and flags, to the result an uninterrupted fit gives.
    #[arg(long)]
    resume: bool,
}

#[derive(Args, Debug)]
pub(crate) struct LossArgs {
    /// Dataset (.npz).
    data: PathBuf,
    /// θ as a Taylor expression: over x, y, w for neural data ("x*y - y^2*w"), over
    /// x, y, w, r for behaviour ("x*r - 0.05*w").
    #[arg(long, allow_hyphen_values = true)]
    theta: String,
    /// Gradient strategy; "forward" streams neural data from the file step by step
    /// (memory independent of the recording's length).
    #[arg(long, value_enum, default_value = "checkpointed")]
    gradient: GradientArg,
    /// --gradient auto: memory (MiB) the adjoint may use (default: half the available).
    #[arg(long)]
    memory_budget: Option<u64>,
}

#[derive(Args, Debug)]
pub(crate) struct EvaluateArgs {
    /// Dataset (.npz).
    data: PathBuf,
    /// θ as a Taylor expression (over x, y, w, or x, y, w, r for behaviour).
    #[arg(long, allow_hyphen_values = true)]
    theta: String,
    /// Fresh trajectories (neural data, default 5) or sessions (behaviour, default 7)
    /// simulated with the generating rule for the metrics.
    #[arg(long, visible_alias = "sessions")]
    trajectories: Option<usize>,
    /// Seed of the fresh trajectories.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

#[derive(Args, Debug)]
pub(crate) struct OjaArgs {
    /// The paper's experiment: 100→1000 neurons, 50 trajectories of 50 steps (about a
    /// minute on 2 cores with Levenberg–Marquardt). Without it: 20→100 neurons, 10
    /// trajectories (under a second).
    #[arg(long)]
    paper_scale: bool,
    /// Also write the dataset and results here (results.json, coefficients.csv,
    /// history.csv and figures/, as `fit` writes them).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Standard deviation of the measurement noise.
    #[arg(long, default_value_t = 0.0)]
    noise_std: f64,
    /// Fraction of postsynaptic neurons recorded.
    #[arg(long, default_value_t = 1.0)]
    recording_fraction: f64,
    /// Seed of the data and the fit.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Optimizer.
    #[arg(long, value_enum, default_value = "lbfgs")]
    optimizer: OptimizerArg,
    /// Epochs (L-BFGS iterations or Adam passes); default 2000 L-BFGS iterations
    /// (the paper-scale fit needed ~1,650 to bring every coefficient within 0.05) or 250
    /// Adam epochs. Ctrl-C stops early and still reports.
    #[arg(long)]
    epochs: Option<usize>,
    /// Rule family.
    #[arg(long, value_enum, default_value = "taylor")]
    rule_family: FamilyArg,
    /// The solver: auto runs Levenberg–Marquardt on the forward-mode Jacobian (not
    /// with --optimizer adam), lbfgs the --optimizer given.
    #[arg(long, value_enum, default_value_t = SolverArg::Auto)]
    solver: SolverArg,
}

pub(crate) fn fit_command(args: &FitArgs) -> Result<()> {
    if spiking::is_spike_train(&args.data)? {
        return spiking::fit_spike_train_command(&args.data, &args.out, &args.options, args.resume);
    }
    if circuit::is_circuit(&args.data)? {
        return circuit::fit_circuit_command(&args.data, &args.out, &args.options, args.resume);
    }
    if args.options.online {
        return online::fit_online_command(args);
    }
    let parameters = if matches!(args.options.gradient, GradientArg::Auto) {
        plasticity::pipeline::neural::build_rule(&args.options.settings())?.n_parameters()
    } else {
        0
    };
    let gradient = resolve_gradient(
        &args.data,
        args.options.gradient,
        parameters,
        args.options.memory_budget,
    )?;
    let mut resolved;
    let args = if matches!(args.options.gradient, GradientArg::Auto) {
        resolved = FitArgs {
            data: args.data.clone(),
            out: args.out.clone(),
            options: args.options.clone(),
            resume: args.resume,
        };
        resolved.options.gradient = gradient;
        &resolved
    } else {
        args
    };
    if streams(&args.data, args.options.gradient)? {
        return fit_streamed_command(args);
    }
    let dataset = match load_any(&args.data)? {
        Dataset::Neural(dataset) => *dataset,
        Dataset::Behaviour(dataset) => {
            return behaviour::fit_behaviour_command(
                &args.data,
                &dataset,
                &args.out,
                &args.options,
                args.resume,
            )
        }
    };
    let mut settings = args.options.settings();
    let checkpoint = FitResume::new(&args.out, &args.data, &settings)?;
    settings.fit.resume = checkpoint.load(args.resume)?;
    if !crate::output::quiet() {
        eprintln!("fitting with {}", solver_description(&settings));
    }
    let (fit, seconds) = fit_with_progress(&dataset, &args.data, &settings, Some(&checkpoint))?;
    write_fit_outputs(&args.out, &fit, &settings, &args.data, &dataset, seconds)?;
    checkpoint.finish(&fit.outcome.stop_reason)?;
    print_summary(&fit, &dataset, seconds)?;
    note!("results written to {}", args.out.display());
    Ok(())
}

fn theta_of(expression: &str) -> Result<Vec<f64>> {
    parse_expression(expression, Variables::Xyw).context("reading --theta")
}

pub(crate) fn loss_command(args: &LossArgs) -> Result<()> {
    if spiking::is_spike_train(&args.data)? {
        return spiking::loss_command(&args.data, &args.theta, args.gradient);
    }
    if circuit::is_circuit(&args.data)? {
        return circuit::loss_command(&args.data, &args.theta, args.gradient.strategy());
    }
    let rule = TaylorRule::new(Variables::Xyw);
    let mut gradient = vec![0.0; rule.n_parameters()];
    let strategy = resolve_gradient(&args.data, args.gradient, 27, args.memory_budget)?;
    let loss = if streams(&args.data, strategy)? {
        let theta = theta_of(&args.theta)?;
        let stream = open_stream(&args.data)?;
        let objective = plasticity::objective::StreamedNeuralObjective::new(&stream, rule)?;
        let items: Vec<usize> = (0..stream.n_trajectories()).collect();
        let loss = objective.loss_and_gradient(&theta, &items, &mut gradient);
        if let Some(error) = objective.take_error() {
            return Err(error).context("streaming the recording");
        }
        loss
    } else {
        let dataset = match load_any(&args.data)? {
            Dataset::Neural(dataset) => *dataset,
            Dataset::Behaviour(dataset) => {
                return behaviour::loss_command(&dataset, &args.theta, strategy.strategy());
            }
        };
        let theta = theta_of(&args.theta)?;
        let objective = NeuralObjective::new(&dataset, rule, strategy.strategy())?;
        let items: Vec<usize> = (0..dataset.n_trajectories()).collect();
        objective.loss_and_gradient(&theta, &items, &mut gradient)
    };
    if !loss.is_finite() {
        bail!(
            "the loss at θ = {} is {loss}: the rule makes the simulation overflow",
            args.theta
        );
    }
    let names = term_names(Variables::Xyw);
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

pub(crate) fn evaluate_command(args: &EvaluateArgs) -> Result<()> {
    if spiking::is_spike_train(&args.data)? {
        return spiking::evaluate_command(&args.data, &args.theta, args.seed);
    }
    if circuit::is_circuit(&args.data)? {
        return circuit::evaluate_command(
            &args.data,
            &args.theta,
            args.trajectories.unwrap_or(5),
            args.seed,
        );
    }
    let dataset = match load_any(&args.data)? {
        Dataset::Neural(dataset) => *dataset,
        Dataset::Behaviour(dataset) => {
            return behaviour::evaluate_command(
                &dataset,
                &args.theta,
                args.trajectories.unwrap_or(7),
                args.seed,
            );
        }
    };
    let theta = theta_of(&args.theta)?;
    let rule = Rule::taylor(Variables::Xyw);
    let metrics = evaluate_on_dataset(
        &dataset,
        &rule,
        &theta,
        args.trajectories.unwrap_or(5),
        args.seed,
    )?;
    out!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "theta": args.theta,
            "metrics": metrics,
            "seed": args.seed,
            "version": plasticity::VERSION,
        }))?
    );
    Ok(())
}

pub(crate) fn oja_command(args: &OjaArgs) -> Result<()> {
    let mut task = OjaTask {
        noise_std: args.noise_std,
        recording_fraction: args.recording_fraction,
        seed: args.seed,
        ..OjaTask::default()
    };
    if !args.paper_scale {
        task.n_pre = 20;
        task.n_post = 100;
        task.trajectories = 10;
    }
    let default_epochs = match args.optimizer {
        OptimizerArg::Lbfgs => 2000,
        OptimizerArg::Adam => 250,
    };
    let options = FitOptions::parse_from_defaults();
    let mut settings = options.settings();
    settings.fit.optimizer = match args.optimizer {
        OptimizerArg::Adam => OptimizerKind::Adam,
        OptimizerArg::Lbfgs => OptimizerKind::Lbfgs,
    };
    settings.fit.epochs = args.epochs.unwrap_or(default_epochs);
    settings.fit.seed = args.seed;
    settings.solver = args.solver.solver();
    settings.rule_family = match args.rule_family {
        FamilyArg::Taylor => RuleFamily::Taylor,
        FamilyArg::Mlp => RuleFamily::Mlp,
    };
    note!(
        "simulating Oja's rule Δw = x·y − y²·w: {}→{} neurons, {} trajectories × {} steps, noise σ = {}, recording fraction {}",
        task.n_pre, task.n_post, task.trajectories, task.steps, task.noise_std, task.recording_fraction
    );
    let dataset = task.simulate().context("simulating the dataset")?;
    let data_path = match &args.out {
        Some(out) => {
            std::fs::create_dir_all(out)
                .with_context(|| format!("creating output directory {}", out.display()))?;
            let path = out.join("data.npz");
            dataset.save(&path)?;
            path
        }
        None => PathBuf::from("(simulated in memory)"),
    };
    note!(
        "fitting a {} rule with {} ({} epochs at most)",
        if matches!(settings.rule_family, RuleFamily::Taylor) {
            "27-term Taylor"
        } else {
            "MLP"
        },
        solver_description(&settings),
        settings.fit.epochs
    );
    let (fit, seconds) = fit_with_progress(&dataset, &data_path, &settings, None)?;
    print_summary(&fit, &dataset, seconds)?;
    if let Some(out) = &args.out {
        write_fit_outputs(out, &fit, &settings, &data_path, &dataset, seconds)?;
        note!("dataset and results written to {}", out.display());
    }
    Ok(())
}

/// The solver a neural fit with `settings` runs, in words.
fn solver_description(settings: &NeuralFitSettings) -> &'static str {
    match plasticity::pipeline::neural::solver_for(settings) {
        Ok("levenberg-marquardt") => "Levenberg–Marquardt",
        Ok("adam") => "Adam",
        _ => "L-BFGS",
    }
}
