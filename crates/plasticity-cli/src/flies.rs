//! `plasticity flies`: the real-fly experiment (docs/model.md §4.3) in one command.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::json;

use plasticity::data::{check_fly_recordings, FLY_BLOCK_TRIALS};
use plasticity::fit::flies::{
    compare_models, fit_flies_journaled, paired_by_fly, FlyModelFit, FlySettings, ModelFamily,
    Q_LEARNING_MODEL,
};
use plasticity::fit::population::fit_population_journaled;
use plasticity::fit::{FitConfig, OptimizerKind};
use plasticity::metrics::median;
use plasticity::report::{flies_per_fly_csv, population_csv, write_json, write_text};

use crate::behaviour::{weight_bound, RewardSignalArg};
use crate::journal::DirJournal;

#[derive(Args, Debug)]
pub(crate) struct FliesArgs {
    /// Directory of fly recordings (.mat with X, Y, R, or the CSV layout).
    data_dir: PathBuf,
    /// Output directory: per_fly.csv, population.csv, comparison.json, figures/.
    #[arg(long)]
    out: PathBuf,
    /// Models to compare: sets of Taylor terms over x, y, w, r (each trainable, the rest
    /// 0), any number of them.
    #[arg(long, num_args = 1.., default_values = ["1,x,r,x*r", "1,x,r,x*r,w"])]
    models: Vec<String>,
    /// How the reward enters the rule: r = R − E[R] (centred) or r = R (raw).
    #[arg(long, value_enum, default_value = "centred")]
    reward_signal: RewardSignalArg,
    /// Draws of the unknowable sensory noise and initial weights per fly and model (the
    /// median is reported).
    #[arg(long, default_value_t = 5)]
    resamples: usize,
    /// Percentage of each fly's trials the held-out fit sees (the rest are predicted).
    #[arg(long, default_value_t = 75.0)]
    training_percent: f64,
    /// Adam epochs (passes over the fly's session) or L-BFGS iterations.
    #[arg(long, default_value_t = 250)]
    epochs: usize,
    /// Optimiser (the behaviour default: Adam, learning rate 1e-3).
    #[arg(long, value_enum, default_value = "adam")]
    optimizer: crate::commands::OptimizerArg,
    /// L1 penalty λ₁ Σ|θ| on the model's coefficients (0: maximum likelihood).
    #[arg(long, default_value_t = 1e-2)]
    l1: f64,
    /// Weight bound during the fits, or "none".
    #[arg(long, default_value = "10")]
    weight_bound: String,
    /// Base seed of the draws.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Skip the Q-learning baseline.
    #[arg(long)]
    no_q_learning: bool,
    /// Skip the profile-likelihood intervals.
    #[arg(long)]
    no_intervals: bool,
    /// Folds (split by fly) of the shared rule's cross-validation (at most one per
    /// fly: with fewer flies, one fly is left out at a time); 0 skips the population
    /// fit.
    #[arg(long, default_value_t = 6)]
    population_folds: usize,
    /// Also NUTS posterior intervals of every rule coefficient (draw 0 of each fly that
    /// rejects; prior matching the fit's penalty): per_fly.csv's *_posterior_* columns.
    #[arg(long)]
    posterior: bool,
    /// Chains of each fly's posterior.
    #[arg(long, default_value_t = 4)]
    posterior_chains: usize,
    /// Draws per chain after warm-up.
    #[arg(long, default_value_t = 500)]
    posterior_draws: usize,
    /// Warm-up draws per chain.
    #[arg(long, default_value_t = 500)]
    posterior_warmup: usize,
    /// Continue an interrupted run (Ctrl-C, SIGTERM) in the same --out with the same
    /// flags: the fits it finished (kept in OUT/checkpoint/) are not run again.
    #[arg(long)]
    pub(crate) resume: bool,
}

impl FliesArgs {
    /// Range checks: (key, message) of the first value out of range.
    pub(crate) fn check(&self) -> std::result::Result<(), (&'static str, String)> {
        if !self.data_dir.is_dir() {
            return Err((
                "data_dir",
                format!("{} is not a directory", self.data_dir.display()),
            ));
        }
        if self.resamples == 0 {
            return Err(("resamples", "must be at least 1".into()));
        }
        if !(self.training_percent > 0.0 && self.training_percent <= 100.0) {
            return Err((
                "training_percent",
                format!("must be in (0, 100], got {}", self.training_percent),
            ));
        }
        if self.epochs == 0 {
            return Err(("epochs", "must be at least 1".into()));
        }
        if !(self.l1.is_finite() && self.l1 >= 0.0) {
            return Err(("l1", format!("must be ≥ 0, got {}", self.l1)));
        }
        if let Err(error) = weight_bound(&self.weight_bound) {
            return Err(("weight_bound", format!("{error:#}")));
        }
        Ok(())
    }

    /// The data directory, read relative to `base` when it is relative.
    pub(crate) fn rebase_data_dir(&mut self, base: &std::path::Path) {
        if self.data_dir.is_relative() {
            self.data_dir = base.join(&self.data_dir);
        }
    }
}

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
        "median_aic": of(&|x| x.aic),
        "total_aic": fits.iter().filter(|x| x.model == model).map(|x| x.aic).sum::<f64>(),
    })
}

pub(crate) fn flies_command(args: &FliesArgs) -> Result<()> {
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
    let defaults = FlySettings::default();
    let settings = FlySettings {
        models: args.models.clone(),
        reward_signal: args.reward_signal.signal(),
        resamples: args.resamples,
        training_fraction: args.training_percent / 100.0,
        fit: FitConfig {
            optimizer: match args.optimizer {
                crate::commands::OptimizerArg::Adam => OptimizerKind::Adam,
                crate::commands::OptimizerArg::Lbfgs => OptimizerKind::Lbfgs,
            },
            epochs: args.epochs,
            l1: args.l1,
            ..defaults.fit.clone()
        },
        weight_bound: weight_bound(&args.weight_bound)?,
        seed: args.seed,
        q_learning: !args.no_q_learning,
        intervals: !args.no_intervals,
        population_folds: args.population_folds,
        posterior: args.posterior.then(|| plasticity::posterior::NutsSettings {
            chains: args.posterior_chains,
            draws: args.posterior_draws,
            warmup: args.posterior_warmup,
            seed: args.seed,
            ..plasticity::posterior::NutsSettings::default()
        }),
        ..defaults
    };
    if args.posterior && args.no_intervals {
        bail!("--posterior needs the intervals: drop --no-intervals");
    }
    note!(
        "fitting {} flies × {} models × {} draws (all trials, and the first {} % for the held-out test){}{}{}",
        recordings.len(),
        settings.models.len(),
        settings.resamples,
        args.training_percent,
        if settings.q_learning { ", the Q-learning baseline" } else { "" },
        if settings.intervals { ", profile-likelihood intervals" } else { "" },
        if settings.population_folds > 0 {
            format!(", one rule shared by all flies ({}-fold cross-validation by fly)", settings.population_folds)
        } else {
            String::new()
        },
    );
    let mut settings = settings;
    if settings.population_folds > recordings.len() {
        // fewer flies than folds: leave one fly out at a time (none with a single fly)
        let folds = if recordings.len() >= 2 {
            recordings.len()
        } else {
            0
        };
        note!(
            "{} flies: the shared rule's cross-validation uses {} folds instead of {}",
            recordings.len(),
            folds,
            settings.population_folds
        );
        settings.population_folds = folds;
    }
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
    }
    let (comparisons, coefficients) = compare_models(&fits, &models);
    // how the 95 % intervals of θ_w fall, per model that has the term
    let w_signs: Vec<(String, plasticity::fit::flies::IntervalSigns)> = settings
        .models
        .iter()
        .filter(|m| {
            fits.iter()
                .any(|f| &f.model == *m && f.terms.iter().any(|t| t == "w"))
        })
        .map(|m| {
            (
                m.clone(),
                plasticity::fit::flies::interval_signs(&fits, m, "w"),
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

    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating output directory {}", args.out.display()))?;
    write_text(&args.out.join("per_fly.csv"), &flies_per_fly_csv(&fits))?;
    if !population.is_empty() {
        write_text(
            &args.out.join("population.csv"),
            &population_csv(&population),
        )?;
    }
    let medians: serde_json::Map<String, serde_json::Value> = models
        .iter()
        .map(|model| (model.clone(), medians_of(&fits, model)))
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
            "data_source": plasticity::data::FLY_DATA_SOURCE,
            "version": plasticity::VERSION,
            "timing": {
                "wall_seconds": wall,
                "per_fly_seconds": per_fly_seconds,
                "population_seconds": population_seconds,
                "threads": rayon::current_num_threads(),
            },
        }),
    )?;

    // everything the figures are drawn from, so `plasticity plot` can redraw them
    write_json(
        &args.out.join("fits.json"),
        &json!({"models": models, "fits": fits, "population": population}),
    )?;
    let figures = write_figures(&args.out.join("figures"), &fits, &models, &population)?;
    journal.finish()?;

    for (model, value) in &medians {
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
    for c in &comparisons {
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
    for (model, summary) in &coefficients {
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
        }
    }
    for (model, signs) in &w_signs {
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
    for p in &population {
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
    for p in &population {
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
    note!(
        "{:.1} s; written to {} ({} figure files)",
        wall,
        args.out.display(),
        figures
    );
    Ok(())
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

/// Redraws the figures of a `flies` output directory from its `fits.json`; returns the
/// number of files written.
pub(crate) fn plot_from_dir(dir: &std::path::Path) -> Result<usize> {
    let path = dir.join("fits.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading {} (written by `plasticity flies`)", path.display()))?;
    #[derive(serde::Deserialize)]
    struct Saved {
        models: Vec<String>,
        fits: Vec<FlyModelFit>,
        population: Vec<plasticity::fit::population::PopulationFit>,
    }
    let saved: Saved =
        serde_json::from_str(&text).with_context(|| format!("reading {}", path.display()))?;
    write_figures(
        &dir.join("figures"),
        &saved.fits,
        &saved.models,
        &saved.population,
    )
}

/// A model name as a file-name fragment: `1,x,r,x*r` → `1_x_r_xr`.
fn file_fragment(model: &str) -> String {
    model
        .chars()
        .filter_map(|c| match c {
            c if c.is_ascii_alphanumeric() => Some(c),
            ',' | '-' | ' ' => Some('_'),
            '^' => Some('p'),
            _ => None,
        })
        .collect()
}

/// The figures of the fly experiment (PNG and SVG each): per pair of models, the
/// paired per-fly percent deviance; per model, each coefficient across flies (the
/// reported fits) and the profile-likelihood intervals around the maximum-likelihood
/// estimates; per shared rule, its per-fly percent deviance against the per-fly fits.
fn write_figures(
    dir: &std::path::Path,
    fits: &[FlyModelFit],
    models: &[String],
    population: &[plasticity::fit::population::PopulationFit],
) -> Result<usize> {
    use plasticity::figures::{coefficient_distributions, paired_plot, CoefficientPanel};
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating figure directory {}", dir.display()))?;
    let of =
        |model: &str| -> Vec<&FlyModelFit> { fits.iter().filter(|f| f.model == model).collect() };
    let mut written = 0;
    for (i, a) in models.iter().enumerate() {
        for b in &models[i + 1..] {
            let pairs = paired_by_fly(fits, a, b);
            if pairs.is_empty() {
                continue;
            }
            for (what, heldout) in [
                ("percent_deviance", false),
                ("heldout_percent_deviance", true),
            ] {
                let value = |f: &FlyModelFit| {
                    if heldout {
                        f.heldout_percent_deviance
                    } else {
                        f.percent_deviance
                    }
                };
                written += paired_plot(
                    &dir.join(format!(
                        "{what}_{}_vs_{}",
                        file_fragment(a),
                        file_fragment(b)
                    )),
                    &format!(
                        "{} per fly",
                        if heldout {
                            "Held-out % deviance explained"
                        } else {
                            "% deviance explained"
                        }
                    ),
                    "% deviance explained",
                    &pairs.iter().map(|(x, _)| x.fly.clone()).collect::<Vec<_>>(),
                    &format!("{{{a}}}"),
                    &pairs.iter().map(|(x, _)| value(x)).collect::<Vec<_>>(),
                    &format!("{{{b}}}"),
                    &pairs.iter().map(|(_, y)| value(y)).collect::<Vec<_>>(),
                )?
                .len();
            }
        }
    }
    for model in models {
        let group = of(model);
        // the baseline's parameters have different units: no shared axis for them
        let Some(first) = group
            .first()
            .filter(|f| f.family == ModelFamily::PlasticityRule)
        else {
            continue;
        };
        let panels: Vec<CoefficientPanel> = first
            .terms
            .iter()
            .enumerate()
            .map(|(k, term)| CoefficientPanel {
                term: term.clone(),
                values: group.iter().map(|f| f.theta[k]).collect(),
                intervals: None,
            })
            .collect();
        written += coefficient_distributions(
            &dir.join(format!("coefficients_{}", file_fragment(model))),
            &format!("Fitted coefficients across flies, {{{model}}}"),
            &panels,
        )?
        .len();
        // flies without intervals (never a rejection: no finite estimate) are left out
        let group: Vec<&FlyModelFit> = group
            .into_iter()
            .filter(|f| f.intervals.len() == f.terms.len())
            .collect();
        if let Some(first) = group.first() {
            let panels: Vec<CoefficientPanel> = first
                .terms
                .iter()
                .enumerate()
                .map(|(k, term)| {
                    let estimates: Vec<f64> =
                        group.iter().map(|f| f.intervals[k].estimate).collect();
                    CoefficientPanel {
                        term: term.clone(),
                        // an open end is drawn as no bar on that side
                        intervals: Some(
                            group
                                .iter()
                                .zip(&estimates)
                                .map(|(f, e)| {
                                    (
                                        f.intervals[k].lower.unwrap_or(*e),
                                        f.intervals[k].upper.unwrap_or(*e),
                                    )
                                })
                                .collect(),
                        ),
                        values: estimates,
                    }
                })
                .collect();
            written += coefficient_distributions(
                &dir.join(format!("intervals_{}", file_fragment(model))),
                &format!(
                    "Maximum-likelihood coefficients, 95 % profile intervals ({} flies), {{{model}}}",
                    group.len()
                ),
                &panels,
            )?
            .len();
            // the forgetting term on its own axis (another term's wide interval would
            // flatten it in the figure above)
            if let Some(w) = panels.iter().find(|p| p.term == "w") {
                written += coefficient_distributions(
                    &dir.join(format!("intervals_w_{}", file_fragment(model))),
                    &format!(
                        "θ_w per fly: maximum likelihood and 95 % profile interval, {{{model}}}"
                    ),
                    std::slice::from_ref(w),
                )?
                .len();
            }
        }
    }
    for shared in population {
        let own = of(&shared.model);
        let pairs: Vec<(&FlyModelFit, f64)> = shared
            .flies
            .iter()
            .filter_map(|p| {
                own.iter()
                    .find(|f| f.fly == p.fly)
                    .map(|f| (*f, p.cross_fly_percent_deviance))
            })
            .collect();
        written += paired_plot(
            &dir.join(format!("shared_rule_{}", file_fragment(&shared.model))),
            &format!("One rule per fly or one for all, {{{}}}", shared.model),
            "% deviance explained",
            &pairs.iter().map(|(f, _)| f.fly.clone()).collect::<Vec<_>>(),
            "own rule, fitted to the fly",
            &pairs
                .iter()
                .map(|(f, _)| f.percent_deviance)
                .collect::<Vec<_>>(),
            "shared, fly held out",
            &pairs.iter().map(|(_, v)| *v).collect::<Vec<_>>(),
        )?
        .len();
    }
    Ok(written)
}
