//! The behaviour commands: simulate the two-odour task, fit rules to choices, the
//! loss and metrics of a given rule, and the paper's table of reward rules.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use rayon::prelude::*;
use serde_json::json;

use plasticity::circuit::RewardSignal;
use plasticity::data::BehaviourDataset;
use plasticity::fit::behaviour::{
    circuit_of, evaluate_behaviour, fit_behaviour, generating_task, generating_theta, BehaviourFit,
    BehaviourFitSettings, InputSource,
};
use plasticity::fit::neural::RuleFamily;
use plasticity::fit::{Basis, FitConfig, OptimizerKind};
use plasticity::gradient::GradientStrategy;
use plasticity::objective::{BehaviourObjective, Objective};
use plasticity::report::{behaviour_results, fitted_parameters_csv, write_json, write_text};
use plasticity::rule::{parse_expression, term_names, Rule, TaylorRule, Term, Variables};
use plasticity::task::BehaviourTask;

use crate::commands::{epoch_observer, progress_bar, BasisArg, FamilyArg, FitOptions};
use crate::journal::DirJournal;

#[derive(ValueEnum, Clone, Copy, Debug)]
pub(crate) enum RewardSignalArg {
    /// r = R − E[R].
    Centred,
    /// r = R.
    Raw,
}

impl RewardSignalArg {
    pub(crate) fn signal(self) -> RewardSignal {
        match self {
            RewardSignalArg::Centred => RewardSignal::Centred,
            RewardSignalArg::Raw => RewardSignal::Raw,
        }
    }
}

/// The task's flags, each with the default of docs/model.md §4.2.
#[derive(Args, Debug, Clone)]
pub(crate) struct TaskFlags {
    /// Generating rule, an expression over x, y, w, r (e.g. "x*r - 0.05*w").
    #[arg(long, default_value = "x*r", allow_hyphen_values = true)]
    rule: String,
    /// Sessions (simulated animals), each from its own W₀.
    #[arg(long, default_value_t = 18)]
    sessions: usize,
    /// Blocks per session.
    #[arg(long, default_value_t = 3)]
    blocks: usize,
    /// Trials per block.
    #[arg(long, default_value_t = 80)]
    trials_per_block: usize,
    /// Reward probabilities (p_A, p_B) of each block, "pA,pB;pA,pB;…", used cyclically.
    #[arg(long, default_value = "0.2,0.8;0.9,0.1;0.2,0.8")]
    reward_probabilities: String,
    /// Inputs (odour channels).
    #[arg(long, default_value_t = 2)]
    n_in: usize,
    /// Hidden (plastic) units.
    #[arg(long, default_value_t = 10)]
    n_hidden: usize,
    /// Level at which an odour drives its inputs.
    #[arg(long, default_value_t = 0.75)]
    odour_level: f64,
    /// Standard deviation of the sensory noise on each input.
    #[arg(long, default_value_t = 0.015)]
    input_noise_std: f64,
    /// Standard deviation of W₀.
    #[arg(long, default_value_t = 0.01)]
    initial_weight_std: f64,
    /// E[R] is the mean of this many last collected rewards (initially zeros).
    #[arg(long, default_value_t = 10)]
    expected_reward_window: usize,
    /// How the reward enters the rule: r = R − E[R] (centred) or r = R (raw).
    #[arg(long, value_enum, default_value = "centred")]
    reward_signal: RewardSignalArg,
    /// A trial with this many rejections in a row ends without a choice.
    #[arg(long, default_value_t = 50)]
    max_presentations_per_trial: usize,
    /// Seed of every random draw.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// Parses "pA,pB;pA,pB;…".
pub(crate) fn reward_probabilities(text: &str) -> Result<Vec<[f64; 2]>> {
    text.split(';')
        .map(|block| {
            let values: Vec<f64> = block
                .split(',')
                .map(|v| v.trim().parse::<f64>())
                .collect::<std::result::Result<_, _>>()
                .with_context(|| format!("--reward-probabilities: '{block}' is not 'pA,pB'"))?;
            match values.as_slice() {
                [a, b] => Ok([*a, *b]),
                _ => bail!("--reward-probabilities: '{block}' needs two probabilities 'pA,pB'"),
            }
        })
        .collect()
}

impl TaskFlags {
    pub(crate) fn task(&self) -> Result<BehaviourTask> {
        Ok(BehaviourTask {
            n_blocks: self.blocks,
            trials_per_block: self.trials_per_block,
            reward_probabilities: reward_probabilities(&self.reward_probabilities)?,
            n_in: self.n_in,
            n_hidden: self.n_hidden,
            odour_level: self.odour_level,
            input_noise_std: self.input_noise_std,
            initial_weight_std: self.initial_weight_std,
            expected_reward_window: self.expected_reward_window,
            reward_signal: self.reward_signal.signal(),
            max_presentations_per_trial: self.max_presentations_per_trial,
            sessions: self.sessions,
            rule: self.rule.clone(),
            seed: self.seed,
        })
    }
}

#[derive(Args, Debug, Clone)]
pub(crate) struct SimulateBehaviourArgs {
    /// Output .npz file.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    task: TaskFlags,
}

/// Flags that only behaviour fits read.
#[derive(Args, Debug, Clone)]
pub(crate) struct BehaviourFitOptions {
    /// Behaviour: bound on every weight during the fit (W ← clip(W, −B, B) after each
    /// update; differentiated exactly, and results.json counts how often it engaged),
    /// or "none".
    #[arg(long, default_value = "10")]
    weight_bound: String,
    /// Behaviour: inputs that drive the model: each odour's pattern with freshly
    /// re-sampled sensory noise (docs/model.md §4.2), or the dataset's recorded inputs.
    #[arg(long, value_enum, default_value = "resampled")]
    inputs: InputsArg,
    /// Behaviour: seed of the re-sampled sensory noise.
    #[arg(long, default_value_t = 0)]
    input_seed: u64,
    /// Behaviour: fresh sessions simulated with the generating rule for the metrics.
    #[arg(long, default_value_t = 7)]
    eval_sessions: usize,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub(crate) enum InputsArg {
    Resampled,
    Recorded,
}

pub(crate) fn weight_bound(text: &str) -> Result<Option<f64>> {
    if text.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let bound: f64 = text
        .parse()
        .with_context(|| format!("--weight-bound: expected a number or 'none', got '{text}'"))?;
    if !(bound.is_finite() && bound > 0.0) {
        bail!("--weight-bound: expected a positive number or 'none', got {bound}");
    }
    Ok(Some(bound))
}

/// Behaviour fit settings from the shared fit flags (defaults: Adam, L1 1e-2,
/// canonical basis, weight bound 10).
pub(crate) fn behaviour_settings(options: &FitOptions) -> Result<BehaviourFitSettings> {
    let defaults = BehaviourFitSettings::default();
    Ok(BehaviourFitSettings {
        rule_family: match options.rule_family {
            FamilyArg::Taylor => RuleFamily::Taylor,
            FamilyArg::Mlp => RuleFamily::Mlp,
        },
        trainable: options.trainable.clone(),
        hidden: options.hidden.clone(),
        basis: match options.basis {
            BasisArg::Auto => defaults.basis,
            BasisArg::Centred => Basis::Centred,
            BasisArg::Scaled => Basis::Scaled,
            BasisArg::Canonical => Basis::Canonical,
        },
        init: options.init.clone(),
        fit: FitConfig {
            optimizer: options.optimizer_or(OptimizerKind::Adam),
            epochs: options.epochs,
            learning_rate: options.learning_rate,
            batch_size: options.batch_size,
            l1: options.l1.unwrap_or(defaults.fit.l1),
            l2: options.l2,
            seed: options.seed,
            tolerance: options.tolerance,
            max_backoffs: options.max_backoffs,
            ..FitConfig::default()
        },
        gradient: options.gradient.strategy(),
        weight_bound: weight_bound(&options.behaviour.weight_bound)?,
        inputs: match options.behaviour.inputs {
            InputsArg::Resampled => InputSource::Resampled,
            InputsArg::Recorded => InputSource::Recorded,
        },
        input_seed: options.behaviour.input_seed,
        eval_sessions: options.behaviour.eval_sessions,
    })
}

pub(crate) fn simulate_behaviour(args: &SimulateBehaviourArgs) -> Result<()> {
    let task = args.task.task()?;
    let dataset = task.simulate().context("simulating the sessions")?;
    dataset
        .save(&args.out)
        .with_context(|| format!("writing {}", args.out.display()))?;
    let presentations: usize = dataset.n_presentations.iter().sum();
    let accepted: usize = (0..dataset.n_sessions())
        .map(|k| {
            dataset
                .session(k)
                .decisions
                .iter()
                .filter(|&&d| d == 1)
                .count()
        })
        .sum();
    let rewarded: f64 = dataset.rewards.iter().sum();
    note!(
        "wrote {} ({} sessions × {} trials, {} presentations, {} accepted, {} rewarded; rule {})",
        args.out.display(),
        dataset.n_sessions(),
        task.n_trials(),
        presentations,
        accepted,
        rewarded,
        task.rule
    );
    Ok(())
}

fn fit_quietly_or_with_progress(
    dataset: &BehaviourDataset,
    settings: &BehaviourFitSettings,
    show_progress: bool,
    checkpoint: Option<&crate::journal::FitResume>,
) -> Result<(BehaviourFit, f64)> {
    let bar = progress_bar(settings.fit.epochs, "fitting");
    if !show_progress {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let start = Instant::now();
    let observer = epoch_observer(&bar, start, settings.fit.epochs, show_progress);
    let fit = match checkpoint {
        Some(checkpoint) => fit_behaviour(dataset, settings, &mut checkpoint.observe(observer)),
        None => {
            let mut observer = observer;
            fit_behaviour(dataset, settings, &mut observer)
        }
    };
    bar.finish_and_clear();
    Ok((
        fit.context("fitting the rule")?,
        start.elapsed().as_secs_f64(),
    ))
}

pub(crate) fn fit_behaviour_command(
    data_path: &Path,
    dataset: &BehaviourDataset,
    out: &Path,
    options: &FitOptions,
    resume: bool,
) -> Result<()> {
    let mut settings = behaviour_settings(options)?;
    let checkpoint = crate::journal::FitResume::new(out, data_path, &settings)?;
    settings.fit.resume = checkpoint.load(resume)?;
    let (fit, seconds) = fit_quietly_or_with_progress(dataset, &settings, true, Some(&checkpoint))?;
    std::fs::create_dir_all(out)
        .with_context(|| format!("creating output directory {}", out.display()))?;
    write_json(
        &out.join("results.json"),
        &behaviour_results(&fit, &settings, data_path, dataset, seconds),
    )?;
    let truth = match fit.rule {
        Rule::Taylor(_) => generating_theta(dataset)?,
        Rule::Mlp(_) => None,
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
    if let Rule::Taylor(_) = fit.rule {
        let names = term_names(Variables::Xywr);
        let mut order: Vec<usize> = (0..names.len()).collect();
        order.sort_by(|&a, &b| {
            fit.outcome.theta[b]
                .abs()
                .total_cmp(&fit.outcome.theta[a].abs())
        });
        crate::commands::print_coefficient_table(
            &names,
            &fit.outcome.theta,
            truth,
            &order,
            &uncertainty,
        );
    } else {
        crate::commands::print_uncertainty_notes(&uncertainty);
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
    );
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
    println!(
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
    let rule = Rule::Taylor(TaylorRule::new(Variables::Xywr));
    let circuit = circuit_of(dataset, None);
    let objective = BehaviourObjective::new(
        dataset,
        dataset.inputs.clone(),
        circuit,
        rule.clone(),
        GradientStrategy::Checkpointed,
    );
    let items: Vec<usize> = (0..dataset.n_sessions()).collect();
    let loss = objective.loss(&theta, &items);
    let null = objective.loss(&vec![0.0; theta.len()], &items);
    let evaluation = match generating_task(dataset) {
        Some(task) if sessions > 0 => Some(evaluate_behaviour(
            &task, &circuit, &rule, &theta, sessions, seed,
        )?),
        _ => None,
    };
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "theta": expression,
            "metrics": {
                "loss": loss,
                "percent_deviance": plasticity::fit::behaviour::percent_deviance(loss, null),
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

/// The generating rules of the paper's Tables 1 and 3.
pub const PAPER_RULES: [&str; 44] = [
    "x*r",
    "x*r^2 - 0.05*y",
    "x*r - 0.05*w",
    "x*r^2 - 0.05*x*w*r",
    "x*y*w*r - 0.05*r",
    "x*w*r^2 - 0.05*r",
    "x*y*w*r^2 - 0.05*r",
    "x*r^2 - 0.05*r",
    "x^2*y*w*r - 0.05",
    "x^2*y^2*r^2 - 0.05",
    "x*r - 0.05*x*y*r",
    "x*r - 0.05*x*w*r",
    "x*r - 0.05*x*y",
    "x*r - 0.05*r",
    "x*r - 0.05*x*y*w*r",
    "x*r - 0.05*x*w",
    "x*r - 0.05*x*y*w",
    "x*r - 0.05*x",
    "x*r^2 - 0.05*x*w",
    "x*r^2 - 0.05*x*y",
    "x*r^2",
    "x*r^2 - 0.05*x*y*r",
    "x*r^2 - 0.05*x*y*w",
    "x*r^2 - 0.05*x*y*w*r",
    "x*r^2 - 0.05*x",
    "x*r^2 - 0.05*x*r",
    "x*r - 0.05*y*w*r",
    "x*r - 0.05*y*r",
    "x*r - 0.05*w*r",
    "x*r - 0.05*y*w",
    "y*w*r^2 - 0.05",
    "x*r^2 - 0.05*w",
    "x*r^2 - 0.05*y*w*r",
    "x*r^2 - 0.05*y*r",
    "x^2*y*w*r^2 - 0.05*r",
    "y*w*r - 0.05",
    "y^2*r^2 - 0.05",
    "x^2*y^2*r^2 - 0.05*r",
    "x^2*y*w*r - 0.05*r",
    "y*w*r - 0.05*x*r",
    "x^2*y^2*r - 0.05*r",
    "y*w*r^2 - 0.05*x*r",
    "y*w*r^2 - 0.05*r",
    "y^2*r^2 - 0.05*r",
];

#[derive(Args, Debug)]
pub(crate) struct TableArgs {
    /// Output directory: table.csv, table.md, table.json.
    #[arg(long)]
    out: PathBuf,
    /// Generating rules, separated by ';' (default: the 44 rules of the paper's
    /// Tables 1 and 3).
    #[arg(long)]
    rules: Option<String>,
    /// Rule families to fit, comma-separated.
    #[arg(long, default_value = "taylor,mlp", value_delimiter = ',')]
    families: Vec<FamilyArg>,
    /// Seeds per rule (each seed simulates its own sessions and starts its own fit).
    #[arg(long, default_value_t = 3)]
    seeds: u64,
    /// Training sessions per dataset.
    #[arg(long, default_value_t = 18)]
    sessions: usize,
    #[command(flatten)]
    fit: FitOptions,
    /// Continue an interrupted table (Ctrl-C, SIGTERM) in the same --out with the same
    /// flags: the fits it finished (kept in OUT/checkpoint/) are not run again.
    #[arg(long)]
    pub(crate) resume: bool,
}

impl TableArgs {
    /// Range checks: (key, message) of the first value out of range.
    pub(crate) fn check(&self) -> std::result::Result<(), (&'static str, String)> {
        if self.families.is_empty() {
            return Err(("families", "name at least one rule family".into()));
        }
        if self.seeds == 0 {
            return Err(("seeds", "must be at least 1".into()));
        }
        if self.sessions == 0 {
            return Err(("sessions", "must be at least 1".into()));
        }
        if let Some(rules) = &self.rules {
            for rule in rules.split(';') {
                if let Err(error) = parse_expression(rule.trim(), Variables::Xywr) {
                    return Err(("rules", format!("'{}': {error}", rule.trim())));
                }
            }
        }
        crate::experiment::check_fit(&self.fit)
    }
}

struct TableRow {
    rule: String,
    family: &'static str,
    seed: u64,
    fit: TableFit,
}

/// What the table keeps of one fit (a unit of the table's journal).
#[derive(serde::Serialize, serde::Deserialize)]
struct TableFit {
    taylor: bool,
    theta: Vec<f64>,
    stop_reason: plasticity::fit::StopReason,
    evaluation: Option<plasticity::fit::behaviour::BehaviourEvaluation>,
    seconds: f64,
}

pub(crate) fn table_command(args: &TableArgs) -> Result<()> {
    let rules: Vec<String> = match &args.rules {
        Some(text) => text.split(';').map(|r| r.trim().to_string()).collect(),
        None => PAPER_RULES.iter().map(|r| r.to_string()).collect(),
    };
    for rule in &rules {
        parse_expression(rule, Variables::Xywr).with_context(|| format!("--rules: '{rule}'"))?;
    }
    let base = behaviour_settings(&args.fit)?;
    let mut jobs = Vec::new();
    for rule in &rules {
        for seed in 0..args.seeds {
            for &family in &args.families {
                jobs.push((rule.clone(), seed, family));
            }
        }
    }
    let fingerprint = serde_json::to_string(&json!({
        "rules": rules,
        "families": format!("{:?}", args.families),
        "seeds": args.seeds,
        "sessions": args.sessions,
        "settings": base,
        "version": plasticity::VERSION,
    }))?;
    let journal = DirJournal::open(&args.out, &fingerprint, args.resume)?;
    let bar = progress_bar(jobs.len(), "table");
    let start = Instant::now();
    let rows: Vec<Option<TableRow>> = jobs
        .par_iter()
        .map(|(rule, seed, family)| -> Result<Option<TableRow>> {
            let family_name = match family {
                FamilyArg::Taylor => "taylor",
                FamilyArg::Mlp => "mlp",
            };
            let key = format!("table/{rule}/{family_name}/seed{seed}");
            let fit = journal.unit(&key, || table_fit(args, &base, rule, *seed, *family))?;
            bar.inc(1);
            Ok(fit.map(|fit| TableRow {
                rule: rule.clone(),
                family: family_name,
                seed: *seed,
                fit,
            }))
        })
        .collect::<Result<_>>()?;
    bar.finish_and_clear();
    let done = rows.iter().filter(|r| r.is_some()).count();
    if done < rows.len() {
        return journal.outcome(
            Err(plasticity::Error::Interrupted {
                what: "the table".into(),
                done,
                total: rows.len(),
            }),
            &args.out.join("table.json"),
            &crate::journal::command_line(),
        );
    }
    let rows: Vec<TableRow> = rows.into_iter().flatten().collect();
    let wall = start.elapsed().as_secs_f64();
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating output directory {}", args.out.display()))?;
    write_text(&args.out.join("table.csv"), &table_csv(&rows)?)?;
    let markdown = table_markdown(&rows)?;
    write_text(&args.out.join("table.md"), &markdown)?;
    write_json(
        &args.out.join("table.json"),
        &json!({
            "stop_reason": "completed",
            "rules": rules,
            "families": rows.iter().map(|r| r.family).collect::<std::collections::BTreeSet<_>>(),
            "seeds": args.seeds,
            "sessions": args.sessions,
            "settings": base,
            "version": plasticity::VERSION,
            "timing": {"wall_seconds": wall, "fit_seconds": rows.iter().map(|r| r.fit.seconds).sum::<f64>()},
        }),
    )?;
    journal.finish()?;
    if !crate::run::quiet() {
        print!("{markdown}");
    }
    note!(
        "{} fits in {:.1} s; table written to {}",
        rows.len(),
        wall,
        args.out.display()
    );
    Ok(())
}

/// One fit of the table: `rule` simulated with `seed`, fitted by `family`; `None` when
/// Ctrl-C or SIGTERM stopped it (it is then not recorded, and runs again on resume).
fn table_fit(
    args: &TableArgs,
    base: &BehaviourFitSettings,
    rule: &str,
    seed: u64,
    family: FamilyArg,
) -> Result<Option<TableFit>> {
    let task = BehaviourTask {
        rule: rule.to_string(),
        sessions: args.sessions,
        seed,
        ..BehaviourTask::default()
    };
    let dataset = task
        .simulate()
        .with_context(|| format!("simulating rule '{rule}', seed {seed}"))?;
    let settings = BehaviourFitSettings {
        rule_family: match family {
            FamilyArg::Taylor => RuleFamily::Taylor,
            FamilyArg::Mlp => RuleFamily::Mlp,
        },
        fit: FitConfig {
            seed,
            ..base.fit.clone()
        },
        input_seed: seed,
        ..base.clone()
    };
    let (fit, seconds) = fit_quietly_or_with_progress(&dataset, &settings, false, None)
        .with_context(|| format!("fitting rule '{rule}', seed {seed}"))?;
    if fit.outcome.stop_reason == plasticity::fit::StopReason::Interrupted {
        return Ok(None);
    }
    Ok(Some(TableFit {
        taylor: matches!(fit.rule, Rule::Taylor(_)),
        theta: fit.outcome.theta,
        stop_reason: fit.outcome.stop_reason,
        evaluation: fit.metrics.evaluation,
        seconds,
    }))
}

/// The (up to) two terms of a generating expression, largest |coefficient| first.
fn generating_terms(rule: &str) -> Result<Vec<(usize, String)>> {
    let theta = parse_expression(rule, Variables::Xywr)?;
    let mut terms: Vec<usize> = (0..theta.len()).filter(|&k| theta[k] != 0.0).collect();
    terms.sort_by(|&a, &b| theta[b].abs().total_cmp(&theta[a].abs()));
    Ok(terms
        .into_iter()
        .take(2)
        .map(|k| (k, Term::from_index(k, Variables::Xywr).name()))
        .collect())
}

fn optional(value: Option<f64>) -> String {
    value.map(|v| format!("{v}")).unwrap_or_default()
}

fn table_csv(rows: &[TableRow]) -> Result<String> {
    let mut csv = String::from(
        "rule,family,seed,r2_weights,r2_activity,percent_deviance,ceiling_percent_deviance,term_1,theta_term_1,term_2,theta_term_2,stop_reason\n",
    );
    for row in rows {
        let terms = generating_terms(&row.rule)?;
        let evaluation = row.fit.evaluation.as_ref();
        let mut cells = vec![
            format!("\"{}\"", row.rule),
            row.family.to_string(),
            row.seed.to_string(),
            optional(evaluation.map(|e| e.r2_weights)),
            optional(evaluation.map(|e| e.r2_activity)),
            optional(evaluation.map(|e| e.percent_deviance)),
            optional(evaluation.map(|e| e.ceiling_percent_deviance)),
        ];
        for slot in 0..2 {
            match terms.get(slot) {
                Some((k, name)) => {
                    cells.push(format!("\"{name}\""));
                    cells.push(if row.fit.taylor {
                        format!("{}", row.fit.theta[*k])
                    } else {
                        String::new()
                    });
                }
                None => cells.extend([String::new(), String::new()]),
            }
        }
        let stop = serde_json::to_value(&row.fit.stop_reason)?;
        cells.push(
            stop.get("reason")
                .and_then(|r| r.as_str())
                .unwrap_or("")
                .to_string(),
        );
        csv.push_str(&cells.join(","));
        csv.push('\n');
    }
    Ok(csv)
}

fn table_markdown(rows: &[TableRow]) -> Result<String> {
    use plasticity::metrics::median;
    let mut md = String::from(
        "| generating rule | family | R² weights | R² activity | % deviance | ceiling % deviance | fitted generating terms |\n|---|---|---|---|---|---|---|\n",
    );
    let mut keys: Vec<(&str, &str)> = Vec::new();
    for row in rows {
        if !keys.contains(&(row.rule.as_str(), row.family)) {
            keys.push((row.rule.as_str(), row.family));
        }
    }
    for (rule, family) in keys {
        let group: Vec<&TableRow> = rows
            .iter()
            .filter(|r| r.rule == rule && r.family == family)
            .collect();
        let metric = |f: &dyn Fn(&plasticity::fit::behaviour::BehaviourEvaluation) -> f64| {
            let values: Vec<f64> = group
                .iter()
                .filter_map(|r| r.fit.evaluation.as_ref().map(f))
                .collect();
            median(&values)
        };
        let terms = generating_terms(rule)?;
        let fitted = if family == "taylor" {
            terms
                .iter()
                .map(|(k, name)| {
                    let values: Vec<f64> = group.iter().map(|r| r.fit.theta[*k]).collect();
                    format!("{name} {:.3}", median(&values))
                })
                .collect::<Vec<_>>()
                .join(", ")
        } else {
            String::new()
        };
        md.push_str(&format!(
            "| `{rule}` | {family} | {:.3} | {:.3} | {:.1} | {:.1} | {fitted} |\n",
            metric(&|e| e.r2_weights),
            metric(&|e| e.r2_activity),
            metric(&|e| e.percent_deviance),
            metric(&|e| e.ceiling_percent_deviance),
        ));
    }
    md.push_str(&format!(
        "\nMedians over {} seed(s); R² and % deviance on fresh evaluation sessions; the ceiling is the generating rule's own % deviance on the same sessions.\n",
        rows.iter().map(|r| r.seed).max().map(|s| s + 1).unwrap_or(0)
    ));
    Ok(md)
}
