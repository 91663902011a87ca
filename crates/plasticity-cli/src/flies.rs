//! `plasticity flies`: the real-fly experiment (docs/model.md §4.3) in one command.

use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde_json::json;

use plasticity::analysis::metrics::median;
use plasticity::data::BehaviourKind;
use plasticity::data::{check_fly_recordings, FLY_BLOCK_TRIALS};
use plasticity::data::{FlyDataCheck, FlyRecording};
use plasticity::fit::{FitConfig, OptimizerKind};
use plasticity::pipeline::flies::{
    compare_models, fit_flies_journaled, matching_by_block, BlockMatching, CoefficientSummary,
    FlyModelFit, FlySettings, IntervalSigns, ModelComparison, ModelFamily,
    Q_LEARNING_FORGETTING_MODEL, Q_LEARNING_MODEL,
};
use plasticity::pipeline::population::{fit_population_journaled, PopulationFit};
use plasticity::report::{flies_per_fly_csv, population_csv, write_json, write_text};

use crate::flags::{weight_bound, FliesArgs};
use crate::flies_figures::write_figures;
use crate::journal::DirJournal;

fn medians_of(fits: &[FlyModelFit], model: &str) -> serde_json::Value {
    let of = |f: &dyn Fn(&FlyModelFit) -> f64| {
        median(
            &fits
                .iter()
                .filter(|x| x.model == model)
                .map(f)
                .collect::<Vec<_>>(),
        )
    };
    json!({
        "median_percent_deviance": of(&|x| x.percent_deviance),
        "median_heldout_percent_deviance": of(&|x| x.heldout_percent_deviance),
        "median_heldout_loss_per_decision": of(&|x| x.heldout_loss_per_decision.unwrap_or(f64::NAN)),
        "median_aic": of(&|x| x.aic),
        "total_aic": fits.iter().filter(|x| x.model == model).map(|x| x.aic).sum::<f64>(),
    })
}

/// Everything a `flies` run produced: what its outputs and summary are made of.
struct FliesOutcome {
    recordings: Vec<FlyRecording>,
    data_check: FlyDataCheck,
    settings: FlySettings,
    models: Vec<String>,
    fits: Vec<FlyModelFit>,
    comparisons: Vec<ModelComparison>,
    coefficients: Vec<(String, Vec<CoefficientSummary>)>,
    w_signs: Vec<(String, IntervalSigns)>,
    population: Vec<PopulationFit>,
    per_fly_seconds: f64,
    population_seconds: f64,
    wall: f64,
}

pub(crate) fn flies_command(args: &FliesArgs) -> Result<()> {
    let (recordings, data_check) = load_recordings(args)?;
    let settings = fly_settings(args, recordings.len())?;
    describe_recordings(&recordings);
    let (outcome, journal) = fit_flies(args, recordings, data_check, settings)?;
    let (medians, figures) = write_outputs(args, &outcome)?;
    journal.finish()?;
    print_summary(&outcome, &medians);
    note!(
        "{:.1} s; written to {} ({} figure files)",
        outcome.wall,
        args.out.display(),
        figures
    );
    Ok(())
}

/// The recordings of the data directory, and the check of their rejections (a warning
/// logged when they look labelled in the first block only).
fn load_recordings(args: &FliesArgs) -> Result<(Vec<FlyRecording>, FlyDataCheck)> {
    if args.data_dir.is_file() {
        bail!(
            "{} is a file: `plasticity flies` reads a directory of fly recordings (.mat with X, Y, R, or the CSV layout); give its directory{}",
            args.data_dir.display(),
            args.data_dir
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map(|p| format!(", e.g. `plasticity flies {} --out …`", p.display()))
                .unwrap_or_default()
        );
    }
    let recordings = plasticity::data::load_fly_dir(&args.data_dir)
        .with_context(|| format!("reading flies from {}", args.data_dir.display()))?;
    // the signature of rejections labelled in the first block only (docs/flies.md):
    // one line for the dataset, each fly's counts in comparison.json
    let data_check = check_fly_recordings(&recordings, FLY_BLOCK_TRIALS)
        .with_context(|| format!("checking the flies of {}", args.data_dir.display()))?;
    if let Some(summary) = &data_check.summary {
        tracing::warn!("data warning: {summary} (see docs/flies.md)");
    }
    Ok((recordings, data_check))
}

/// The settings of the fits from the flags, with the shared rule's folds capped by the
/// `flies` recorded (said in a note).
fn fly_settings(args: &FliesArgs, flies: usize) -> Result<FlySettings> {
    let defaults = FlySettings::default();
    let settings = FlySettings {
        models: args.models.clone(),
        reward_signal: args.reward_signal.signal(),
        resamples: args.resamples,
        training_fraction: args.training_percent / 100.0,
        fit: FitConfig {
            optimizer: match (args.optimizer, args.solver) {
                (Some(crate::flags::OptimizerArg::Adam), _) => OptimizerKind::Adam,
                (Some(crate::flags::OptimizerArg::Lbfgs), _) => OptimizerKind::Lbfgs,
                (None, crate::flags::SolverArg::Auto) => OptimizerKind::Adam,
                (None, _) => OptimizerKind::Lbfgs,
            },
            epochs: args.epochs,
            l1: args.l1.unwrap_or(match args.solver {
                crate::flags::SolverArg::LevenbergMarquardt => 0.0,
                _ => defaults.fit.l1,
            }),
            ..defaults.fit.clone()
        },
        solver: args.solver.solver(),
        weight_bound: weight_bound(&args.weight_bound)?,
        seed: args.seed,
        q_learning: !args.no_q_learning,
        intervals: !args.no_intervals,
        population_folds: args.population_folds,
        task: match args.task {
            crate::flags::FlyTaskArg::AcceptReject => BehaviourKind::AcceptReject,
            crate::flags::FlyTaskArg::Choice => BehaviourKind::Choice,
        },
        heldout_from_trial: match (args.heldout_from_trial, args.task) {
            (Some(trial), _) => Some(trial.saturating_sub(1)),
            (None, crate::flags::FlyTaskArg::Choice) => Some(2 * FLY_BLOCK_TRIALS),
            (None, crate::flags::FlyTaskArg::AcceptReject) => None,
        },
        posterior: args
            .posterior
            .then(|| plasticity::analysis::posterior::NutsSettings {
                chains: args.posterior_chains,
                draws: args.posterior_draws,
                warmup: args.posterior_warmup,
                seed: args.seed,
                ..plasticity::analysis::posterior::NutsSettings::default()
            }),
        ..defaults
    };
    if args.posterior && args.no_intervals {
        bail!("--posterior needs the intervals: drop --no-intervals");
    }
    note!(
        "fitting {} flies × {} models × {} draws ({}: all trials, and {} for the held-out test){}{}{}",
        flies,
        settings.models.len(),
        settings.resamples,
        match settings.task {
            BehaviourKind::AcceptReject => "accept/reject of every presentation",
            BehaviourKind::Choice => "the odour chosen in each trial",
        },
        match settings.heldout_from_trial {
            Some(trial) => format!("the trials before trial {}", trial + 1),
            None => format!("the first {} %", args.training_percent),
        },
        match (settings.q_learning, settings.task) {
            (false, _) => "",
            (true, BehaviourKind::AcceptReject) => ", the Q-learning baseline",
            (true, BehaviourKind::Choice) => ", Q-learning baselines (plain, with forgetting)",
        },
        if settings.intervals { ", profile-likelihood intervals" } else { "" },
        if settings.population_folds > 0 {
            format!(", one rule shared by all flies ({}-fold cross-validation by fly)", settings.population_folds)
        } else {
            String::new()
        },
    );
    let mut settings = settings;
    if settings.population_folds > flies {
        // fewer flies than folds: leave one fly out at a time (none with a single fly)
        let folds = if flies >= 2 { flies } else { 0 };
        note!(
            "{} flies: the shared rule's cross-validation uses {} folds instead of {}",
            flies,
            folds,
            settings.population_folds
        );
        settings.population_folds = folds;
    }
    Ok(settings)
}

/// A note on the recordings: trials and rejections per fly, the last rejection.
fn describe_recordings(recordings: &[FlyRecording]) {
    let trials: Vec<usize> = recordings.iter().map(|r| r.n_trials()).collect();
    let rejections: Vec<usize> = recordings.iter().map(|r| r.n_rejections()).collect();
    let last_rejection = recordings.iter().filter_map(last_rejected_trial).max();
    note!(
        "data: {}–{} trials and {}–{} rejections per fly; {} flies never reject; the last rejection of any fly is in trial {}",
        trials.iter().min().unwrap_or(&0),
        trials.iter().max().unwrap_or(&0),
        rejections.iter().min().unwrap_or(&0),
        rejections.iter().max().unwrap_or(&0),
        rejections.iter().filter(|&&n| n == 0).count(),
        last_rejection.map_or("(none)".to_string(), |t| (t + 1).to_string()),
    );
}

/// The per-fly fits, their comparison and the shared rules, journaled in --out (so
/// that --resume skips the fits done).
fn fit_flies(
    args: &FliesArgs,
    recordings: Vec<FlyRecording>,
    data_check: FlyDataCheck,
    settings: FlySettings,
) -> Result<(FliesOutcome, DirJournal)> {
    let fingerprint = serde_json::to_string(&json!({
        "settings": settings,
        "data_dir": args.data_dir.display().to_string(),
        "recordings": recordings.iter().map(|r| (&r.name, r.n_presentations(), r.n_trials(), r.n_rejections())).collect::<Vec<_>>(),
        "version": plasticity::VERSION,
    }))?;
    let journal = DirJournal::open(&args.out, &fingerprint, args.resume)?;
    if args.resume {
        note!("resuming: {} fits already done", journal.len());
    }
    let results_path = args.out.join("comparison.json");
    let command = crate::journal::command_line();
    let start = Instant::now();
    let fits = journal.outcome(
        fit_flies_journaled(&recordings, &settings, &journal),
        &results_path,
        &command,
    )?;
    let per_fly_seconds = start.elapsed().as_secs_f64();
    let mut models = settings.models.clone();
    if settings.q_learning {
        models.push(Q_LEARNING_MODEL.to_string());
        if settings.task == BehaviourKind::Choice {
            models.push(Q_LEARNING_FORGETTING_MODEL.to_string());
        }
    }
    let (comparisons, coefficients) = compare_models(&fits, &models);
    // how the 95 % intervals of θ_w fall, per model that has the term
    let w_signs: Vec<(String, plasticity::pipeline::flies::IntervalSigns)> = settings
        .models
        .iter()
        .filter(|m| {
            fits.iter()
                .any(|f| &f.model == *m && f.terms.iter().any(|t| t == "w"))
        })
        .map(|m| {
            (
                m.clone(),
                plasticity::pipeline::flies::interval_signs(&fits, m, "w"),
            )
        })
        .collect();
    let population_start = Instant::now();
    let population = if settings.population_folds > 0 {
        journal.outcome(
            fit_population_journaled(&recordings, &settings, &fits, &journal),
            &results_path,
            &command,
        )?
    } else {
        Vec::new()
    };
    let population_seconds = population_start.elapsed().as_secs_f64();
    let wall = start.elapsed().as_secs_f64();
    let outcome = FliesOutcome {
        recordings,
        data_check,
        settings,
        models,
        fits,
        comparisons,
        coefficients,
        w_signs,
        population,
        per_fly_seconds,
        population_seconds,
        wall,
    };
    Ok((outcome, journal))
}

/// per_fly.csv, population.csv, comparison.json, fits.json and the figures; returns the
/// medians per model and the number of figure files.
fn write_outputs(
    args: &FliesArgs,
    outcome: &FliesOutcome,
) -> Result<(serde_json::Map<String, serde_json::Value>, usize)> {
    let FliesOutcome {
        recordings,
        data_check,
        settings,
        models,
        fits,
        comparisons,
        coefficients,
        w_signs,
        population,
        per_fly_seconds,
        population_seconds,
        wall,
    } = outcome;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating output directory {}", args.out.display()))?;
    write_text(&args.out.join("per_fly.csv"), &flies_per_fly_csv(fits))?;
    if !population.is_empty() {
        write_text(
            &args.out.join("population.csv"),
            &population_csv(population),
        )?;
    }
    let medians: serde_json::Map<String, serde_json::Value> = models
        .iter()
        .map(|model| (model.clone(), medians_of(fits, model)))
        .collect();
    write_json(
        &args.out.join("comparison.json"),
        &json!({
            "stop_reason": "completed",
            "models": medians,
            "comparisons": comparisons,
            "coefficients": coefficients.iter().map(|(m, s)| json!({"model": m, "terms": s})).collect::<Vec<_>>(),
            "population": population,
            "theta_w_intervals": w_signs.iter().map(|(m, s)| json!({"model": m, "signs": s})).collect::<Vec<_>>(),
            "flies": recordings.iter().map(|r| &r.name).collect::<Vec<_>>(),
            "recordings": recordings.iter().map(|r| json!({
                "fly": r.name,
                "presentations": r.n_presentations(),
                "trials": r.n_trials(),
                "rejections": r.n_rejections(),
                "rewards": r.rewards.iter().filter(|&&v| v > 0.0).count(),
                "last_trial_with_a_rejection": last_rejected_trial(r),
            })).collect::<Vec<_>>(),
            "fits": fits,
            "data_warnings": data_check.warnings,
            "data_warning_summary": data_check.summary,
            "settings": settings,
            "data_dir": args.data_dir.display().to_string(),
            "data_source": plasticity::data::fly_data_source(&args.data_dir),
            "version": plasticity::VERSION,
            "timing": {
                "wall_seconds": wall,
                "per_fly_seconds": per_fly_seconds,
                "population_seconds": population_seconds,
                "threads": rayon::current_num_threads(),
            },
        }),
    )?;

    let matching = if settings.task == BehaviourKind::Choice {
        let rows = matching_by_block(recordings, fits);
        write_text(&args.out.join("matching.csv"), &matching_csv(&rows, models))?;
        rows
    } else {
        Vec::new()
    };
    // everything the figures are drawn from, so `plasticity plot` can redraw them
    write_json(
        &args.out.join("fits.json"),
        &json!({"models": models, "fits": fits, "population": population, "matching": matching}),
    )?;
    let figures = write_figures(
        &args.out.join("figures"),
        fits,
        models,
        population,
        &matching,
    )?;
    Ok((medians, figures))
}

/// The summary printed: per model its medians, the comparisons, the coefficients, θ_w
/// per fly and across flies, the shared rules.
fn print_summary(outcome: &FliesOutcome, medians: &serde_json::Map<String, serde_json::Value>) {
    let FliesOutcome {
        comparisons,
        coefficients,
        fits,
        w_signs,
        population,
        ..
    } = outcome;
    for (model, value) in medians {
        show!(
            "{model:>16}: median % deviance {:.2}, held-out {:.2}, total AIC {:.1}",
            value["median_percent_deviance"]
                .as_f64()
                .unwrap_or(f64::NAN),
            value["median_heldout_percent_deviance"]
                .as_f64()
                .unwrap_or(f64::NAN),
            value["total_aic"].as_f64().unwrap_or(f64::NAN),
        );
    }
    for c in comparisons {
        show!(
            "'{}' vs '{}': {} of {} flies improve (median {:+.2} points), Wilcoxon p = {:.3e}; held-out: {} improve, median {:+.2}, p = {:.3e}",
            c.model_b,
            c.model_a,
            c.flies_improved,
            c.flies,
            c.median_difference,
            c.wilcoxon.p_value,
            c.heldout_flies_improved,
            c.heldout_median_difference,
            c.heldout_wilcoxon.p_value
        );
    }
    for (model, summary) in coefficients {
        let text: Vec<String> = summary
            .iter()
            .map(|s| format!("{} {:.3} [{:.3}, {:.3}]", s.term, s.median, s.q25, s.q75))
            .collect();
        show!("{model:>16}: {}", text.join(", "));
    }
    for fit in fits
        .iter()
        .filter(|f| f.family == ModelFamily::PlasticityRule)
    {
        if let Some(w) = fit.intervals.iter().find(|i| i.term == "w") {
            let show = |v: Option<f64>| v.map_or("open".to_string(), |v| format!("{v:.3}"));
            show!(
                "{:>6} '{}': θ_w {:.3}, 95 % profile interval [{}, {}], Laplace [{}, {}]{}",
                fit.fly,
                fit.model,
                w.estimate,
                show(w.lower),
                show(w.upper),
                show(w.laplace_lower),
                show(w.laplace_upper),
                match (w.posterior_lower, w.posterior_upper) {
                    (Some(l), Some(h)) => format!(
                        ", NUTS [{l:.3}, {h:.3}] (R-hat {}, {} divergences)",
                        show(w.posterior_rhat),
                        fit.draws
                            .first()
                            .and_then(|d| d.posterior_divergences)
                            .map_or("?".into(), |d| d.to_string())
                    ),
                    _ => String::new(),
                }
            );
            if w.profile_converged == Some(false) {
                show!(
                    "{:>6}   (a constrained fit of the profile reached a lower loss than the maximum-likelihood fit: the likelihood has better optima elsewhere, and the profile interval describes a local one)",
                    ""
                );
            }
        }
    }
    for (model, signs) in w_signs {
        show!(
            "θ_w under '{model}': of {} flies, {} have a profile interval ({} entirely below 0, \
             {} above), {} a Laplace interval ({} below 0, {} above), {} a NUTS interval \
             ({} below 0, {} above)",
            signs.flies,
            signs.profile,
            signs.profile_below_zero,
            signs.profile_above_zero,
            signs.laplace,
            signs.laplace_below_zero,
            signs.laplace_above_zero,
            signs.posterior,
            signs.posterior_below_zero,
            signs.posterior_above_zero
        );
    }
    for p in population {
        if let Some(w) = p.intervals.iter().find(|i| i.term == "w") {
            let show = |v: Option<f64>| v.map_or("open".to_string(), |v| format!("{v:.4}"));
            show!(
                "shared '{}': θ_w {:.4} (maximum likelihood), 95 % Laplace interval [{}, {}]",
                p.model,
                w.estimate,
                show(w.laplace_lower),
                show(w.laplace_upper)
            );
        }
    }
    for p in population {
        show!(
            "shared '{}': AIC {:.1} against {:.1} for per-fly rules; held-out: shared better in {} of {} flies (median {:+.2}, p = {:.3e}); a fly never seen: median {:.2} % deviance, {:+.2} points from its own rule",
            p.model,
            p.aic,
            p.per_fly_aic,
            p.heldout_against_per_fly.flies_shared_better,
            p.heldout_against_per_fly.flies,
            p.heldout_against_per_fly.median_difference,
            p.heldout_against_per_fly.wilcoxon.p_value,
            median(&p.flies.iter().map(|f| f.cross_fly_percent_deviance).collect::<Vec<_>>()),
            p.cross_fly_against_per_fly.median_difference,
        );
    }
}

/// matching.csv: one row per fly and block, the data's choice and reward fractions of
/// odour 1 and each model's predicted choice fraction (empty where it has none).
fn matching_csv(rows: &[BlockMatching], models: &[String]) -> String {
    let mut text = String::from("fly,block,trials,choice_fraction,reward_fraction");
    for model in models {
        text.push_str(&format!(",predicted:{model}"));
    }
    text.push('\n');
    for row in rows {
        text.push_str(&format!(
            "{},{},{},{},{}",
            row.fly,
            row.block + 1,
            row.trials,
            row.choice_fraction,
            row.reward_fraction.map_or(String::new(), |v| v.to_string())
        ));
        for model in models {
            text.push(',');
            if let Some(p) = row.predicted.get(model) {
                text.push_str(&p.to_string());
            }
        }
        text.push('\n');
    }
    text
}

/// The 0-based trial of a fly's last rejected presentation, if it ever rejected.
fn last_rejected_trial(recording: &plasticity::data::FlyRecording) -> Option<usize> {
    recording
        .decisions
        .iter()
        .zip(&recording.trial_of_presentation)
        .filter(|(d, _)| **d == 0)
        .map(|(_, t)| *t as usize)
        .max()
}
