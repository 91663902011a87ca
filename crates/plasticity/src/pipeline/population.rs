//! One rule for all flies: a single θ shared by every fly (each keeping its own
//! initial weights and sensory noise), against one θ per fly.
//!
//! Three fits per model and draw:
//! - on all trials of all flies (in-sample percent deviance per fly, AIC of the
//!   population against the sum of the per-fly AICs);
//! - on the first trials of every fly, predicting the rest (the same held-out test as
//!   the per-fly fits, so the two are compared fly by fly);
//! - cross-validation with folds split by fly: the rule fitted without a fly predicts
//!   that fly's whole session.
//!
//! With `intervals`, the shared rule of each model also gets 95 % Laplace intervals
//! (first draw): the fit on all trials of all flies is refitted by maximum likelihood
//! (no penalty) and `θ̂ ± 1.96 SE` taken from the Fisher information of every choice of
//! every fly ([`super::flies::laplace_intervals`]).

use std::ops::ControlFlow;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::behaviour::{circuit_of, fit_behaviour, percent_deviance, resample_inputs};
use super::flies::{
    fly_dataset, fly_fit_settings, heldout_loss, heldout_null_loss, laplace_intervals, model_terms,
    CoefficientInterval, FlyModelFit, FlySettings,
};
use crate::analysis::metrics::{median, wilcoxon_signed_rank, WilcoxonTest};
use crate::analysis::profile::maximum_likelihood;
use crate::data::FlyRecording;
use crate::journal::{all_or_interrupted, unit, Journal, NoJournal};
use crate::objective::BehaviourObjective;
use crate::rule::TaylorRule;
use crate::rule::{term_names, Variables};
use crate::{Error, Result};

/// One fly under the shared rule (medians over draws).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PopulationFly {
    /// The fly's name.
    pub fly: String,
    /// Percent deviance of the rule fitted to all flies, on this fly's trials.
    pub percent_deviance: f64,
    /// Percent deviance on this fly's last trials of the rule fitted to every fly's
    /// first trials.
    pub heldout_percent_deviance: f64,
    /// Percent deviance on this fly's whole session of the rule fitted without it.
    pub cross_fly_percent_deviance: f64,
    /// Negative log-likelihood of this fly's trials under the shared rule.
    pub negative_log_likelihood: f64,
}

/// A paired comparison across flies of the shared rule against the per-fly fits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairedDifference {
    /// What is compared (`shared − per_fly`).
    pub description: String,
    /// Flies where the shared rule is better.
    pub flies_shared_better: usize,
    /// Flies compared.
    pub flies: usize,
    /// Median of `shared − per_fly`.
    pub median_difference: f64,
    /// Wilcoxon signed-rank test of the differences.
    pub wilcoxon: WilcoxonTest,
}

/// The shared rule of one model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PopulationFit {
    /// The model as given.
    pub model: String,
    /// Its terms.
    pub terms: Vec<String>,
    /// Median over draws of each coefficient of the rule fitted to all flies.
    pub theta: Vec<f64>,
    /// Per fly.
    pub flies: Vec<PopulationFly>,
    /// `2k + 2 Σ_flies NLL` of the shared rule (`k` terms).
    pub aic: f64,
    /// `Σ_flies AIC` of the per-fly fits (`k` terms per fly).
    pub per_fly_aic: f64,
    /// Folds of the cross-validation.
    pub folds: usize,
    /// Held-out (last trials) percent deviance, shared against per-fly.
    pub heldout_against_per_fly: PairedDifference,
    /// Percent deviance of a fly's whole session under the shared rule fitted without
    /// it, against the fly's own rule fitted to that session (an upper bound: the
    /// own rule has seen the trials it is scored on).
    pub cross_fly_against_per_fly: PairedDifference,
    /// Per term, the maximum-likelihood estimate of the shared rule (first draw) and
    /// its 95 % Laplace interval (`laplace_lower`, `laplace_upper`; no profile:
    /// `lower`, `upper` are `None`); empty without intervals.
    #[serde(default)]
    pub intervals: Vec<CoefficientInterval>,
}

#[derive(Clone, Copy, Debug)]
enum Job {
    All,
    FirstTrials,
    Fold(usize),
}

/// Per-fly results of one fit: `(fly index, model loss, null loss, NLL)` summed over
/// the counted presentations, the fitted θ, and (the fit on all trials of the first
/// draw, with intervals) the maximum-likelihood θ̂ and the Laplace intervals of the
/// model's terms.
type JobResult = (
    Vec<(usize, f64, f64, f64)>,
    Vec<f64>,
    Option<(Vec<f64>, Vec<Option<(f64, f64)>>)>,
);

fn run_job(
    recordings: &[FlyRecording],
    model: &str,
    settings: &FlySettings,
    seed: u64,
    job: Job,
    with_intervals: bool,
) -> Result<JobResult> {
    let folds = settings.population_folds;
    let fit_settings = fly_fit_settings(model, settings, seed);
    let dataset = |r: &[FlyRecording]| fly_dataset(r, settings, seed);
    // every fly's own W₀ and noise: the whole population's dataset and inputs
    let full = dataset(recordings)?;
    let inputs = resample_inputs(&full, seed)?;
    let (training, evaluated, kept): (Vec<FlyRecording>, Vec<usize>, Vec<usize>) = match job {
        Job::All => (
            recordings.to_vec(),
            (0..recordings.len()).collect(),
            vec![0; recordings.len()],
        ),
        Job::FirstTrials => {
            let cut: Vec<(FlyRecording, usize)> = recordings
                .iter()
                .map(|r| settings.training_trials(r))
                .collect();
            (
                cut.iter().map(|c| c.0.clone()).collect(),
                (0..recordings.len()).collect(),
                cut.iter().map(|c| c.1).collect(),
            )
        }
        Job::Fold(fold) => {
            let (held, kept_in): (Vec<usize>, Vec<usize>) =
                (0..recordings.len()).partition(|k| k % folds == fold);
            (
                kept_in.iter().map(|&k| recordings[k].clone()).collect(),
                held.clone(),
                vec![0; held.len()],
            )
        }
    };
    let keep_going = &mut |_: &crate::fit::EpochReport<'_>| ControlFlow::Continue(());
    let fitted = fit_behaviour(&dataset(&training)?, &fit_settings, keep_going)?;
    let theta = fitted.outcome.theta;
    let circuit = circuit_of(&full, settings.weight_bound);
    let zeros = vec![0.0; theta.len()];
    let mut per_fly = Vec::new();
    for (&k, &kept_trials) in evaluated.iter().zip(&kept) {
        let session = full.session_with_inputs(k, &inputs);
        let model_loss = heldout_loss(&circuit, &theta, session, kept_trials)?;
        let null_loss = heldout_null_loss(&circuit, zeros.len(), session, kept_trials)?;
        per_fly.push((k, model_loss, null_loss, model_loss));
    }
    let laplace = if with_intervals && matches!(job, Job::All) {
        let names = term_names(Variables::Xywr);
        let indices: Vec<usize> = model_terms(model)?
            .iter()
            .filter_map(|t| names.iter().position(|n| n == t))
            .collect();
        let objective = BehaviourObjective::new(
            &full,
            inputs.clone(),
            circuit,
            TaylorRule::new(Variables::Xywr),
            fit_settings.gradient,
        )?;
        let (minimum, _) = maximum_likelihood(
            &objective,
            &indices,
            &theta,
            settings.profile.minimum_iterations,
        )?;
        let intervals = laplace_intervals(&full, &inputs, &circuit, &minimum, &indices)?;
        Some((minimum, intervals))
    } else {
        None
    };
    Ok((per_fly, theta, laplace))
}

fn paired(description: &str, shared: &[f64], per_fly: &[f64]) -> PairedDifference {
    let differences: Vec<f64> = shared.iter().zip(per_fly).map(|(s, p)| s - p).collect();
    PairedDifference {
        description: description.into(),
        flies_shared_better: differences.iter().filter(|d| **d > 0.0).count(),
        flies: differences.len(),
        median_difference: median(&differences),
        wilcoxon: wilcoxon_signed_rank(&differences),
    }
}

/// The shared rule of every plasticity model in `settings.models`, compared with the
/// per-fly fits `per_fly` (from [`super::flies::fit_flies`] with the same settings).
pub fn fit_population(
    recordings: &[FlyRecording],
    settings: &FlySettings,
    per_fly: &[FlyModelFit],
) -> Result<Vec<PopulationFit>> {
    fit_population_journaled(recordings, settings, per_fly, &NoJournal)
}

/// [`fit_population`], each fit (model, draw, fold) a unit of `journal`: recorded when
/// done, replayed when resumed, skipped once a stop is requested
/// ([`Error::Interrupted`]).
pub fn fit_population_journaled(
    recordings: &[FlyRecording],
    settings: &FlySettings,
    per_fly: &[FlyModelFit],
    journal: &dyn Journal,
) -> Result<Vec<PopulationFit>> {
    let folds = settings.population_folds;
    if folds < 2 || folds > recordings.len() {
        return Err(Error::config(
            "population-folds",
            format!(
                "must be between 2 and the number of flies ({}), got {folds}",
                recordings.len()
            ),
        ));
    }
    let jobs = population_jobs(settings, folds)?;
    let results: Vec<Option<JobResult>> = jobs
        .par_iter()
        .map(|&(model, draw, job)| {
            let key = format!("population/{model}/draw{draw}/{job:?}");
            unit(journal, &key, || {
                run_job(
                    recordings,
                    model,
                    settings,
                    settings.seed + draw as u64,
                    job,
                    settings.intervals && draw == 0,
                )
            })
            .map_err(|e| {
                Error::config(
                    "flies",
                    format!("population fit of '{model}' ({job:?}, draw {draw}): {e}"),
                )
            })
        })
        .collect::<Result<_>>()?;
    let results = all_or_interrupted("the shared-rule fits", results)?;
    let mut fits = Vec::new();
    for model in &settings.models {
        fits.push(model_fit(
            model,
            recordings,
            settings,
            (&jobs, &results),
            per_fly,
        )?);
    }
    Ok(fits)
}

/// The fits to run: per model and draw, all trials, the first trials, and each fold
/// of flies held out.
fn population_jobs(settings: &FlySettings, folds: usize) -> Result<Vec<(&str, usize, Job)>> {
    let mut jobs = Vec::new();
    for model in &settings.models {
        model_terms(model)?;
        for draw in 0..settings.resamples {
            jobs.push((model.as_str(), draw, Job::All));
            jobs.push((model.as_str(), draw, Job::FirstTrials));
            for fold in 0..folds {
                jobs.push((model.as_str(), draw, Job::Fold(fold)));
            }
        }
    }
    Ok(jobs)
}

/// Per draw, per fly: `[in-sample pd, held-out pd, cross-fly pd, NLL]`.
type PerDraw = Vec<Vec<[f64; 4]>>;

/// One model's job results gathered: per draw and fly the percent deviances and NLL,
/// θ of each draw's fit to all trials, and the Laplace intervals of the draw that
/// computed them.
fn gather_jobs(
    model: &str,
    terms: &[String],
    (n, resamples): (usize, usize),
    (jobs, results): (&[(&str, usize, Job)], &[JobResult]),
) -> (PerDraw, Vec<Vec<f64>>, Vec<CoefficientInterval>) {
    let names = term_names(Variables::Xywr);
    // per draw: [fly] → (in-sample pd, held-out pd, cross-fly pd, NLL)
    let mut per_draw = vec![vec![[f64::NAN; 4]; n]; resamples];
    let mut thetas = Vec::new();
    let mut intervals = Vec::new();
    for ((job_model, draw, job), (per_fly_losses, theta, laplace)) in jobs.iter().zip(results) {
        if *job_model != model {
            continue;
        }
        for &(k, model_loss, null_loss, nll) in per_fly_losses {
            let pd = percent_deviance(model_loss, null_loss);
            match job {
                Job::All => {
                    per_draw[*draw][k][0] = pd;
                    per_draw[*draw][k][3] = nll;
                }
                Job::FirstTrials => per_draw[*draw][k][1] = pd,
                Job::Fold(_) => per_draw[*draw][k][2] = pd,
            }
        }
        if matches!(job, Job::All) {
            thetas.push(theta.clone());
        }
        if let Some((minimum, laplace)) = laplace {
            intervals = terms
                .iter()
                .zip(laplace)
                .map(|(term, interval)| CoefficientInterval {
                    term: term.clone(),
                    estimate: names
                        .iter()
                        .position(|n| n == term)
                        .map_or(f64::NAN, |k| minimum[k]),
                    lower: None,
                    upper: None,
                    laplace_lower: interval.map(|i| i.0),
                    laplace_upper: interval.map(|i| i.1),
                    ..CoefficientInterval::default()
                })
                .collect();
        }
    }
    (per_draw, thetas, intervals)
}

/// The shared-rule fit of `model`: per fly the medians over draws, θ's median, AIC
/// against the per-fly fits', and the paired comparisons with them.
fn model_fit(
    model: &String,
    recordings: &[FlyRecording],
    settings: &FlySettings,
    (jobs, results): (&[(&str, usize, Job)], &[JobResult]),
    per_fly: &[FlyModelFit],
) -> Result<PopulationFit> {
    let (n, folds) = (recordings.len(), settings.population_folds);
    let names = term_names(Variables::Xywr);
    let terms = model_terms(model)?;
    let (per_draw, thetas, intervals) =
        gather_jobs(model, &terms, (n, settings.resamples), (jobs, results));
    let flies: Vec<PopulationFly> = recordings
        .iter()
        .enumerate()
        .map(|(k, r)| {
            let column = |i: usize| median(&per_draw.iter().map(|d| d[k][i]).collect::<Vec<_>>());
            PopulationFly {
                fly: r.name.clone(),
                percent_deviance: column(0),
                heldout_percent_deviance: column(1),
                cross_fly_percent_deviance: column(2),
                negative_log_likelihood: column(3),
            }
        })
        .collect();
    let theta = terms
        .iter()
        .map(|t| {
            let k = names.iter().position(|n| n == t).unwrap_or(0);
            median(&thetas.iter().map(|th| th[k]).collect::<Vec<_>>())
        })
        .collect();
    let own: Vec<&FlyModelFit> = recordings
        .iter()
        .filter_map(|r| {
            per_fly
                .iter()
                .find(|f| f.fly == r.name && &f.model == model)
        })
        .collect();
    if own.len() != n {
        return Err(Error::config(
            "flies",
            format!("the per-fly fits of '{model}' do not cover every fly"),
        ));
    }
    let own_heldout: Vec<f64> = own.iter().map(|f| f.heldout_percent_deviance).collect();
    Ok(PopulationFit {
        model: model.clone(),
        aic: 2.0 * terms.len() as f64
            + 2.0 * flies.iter().map(|f| f.negative_log_likelihood).sum::<f64>(),
        per_fly_aic: own.iter().map(|f| f.aic).sum(),
        heldout_against_per_fly: paired(
            "held-out percent deviance on the last trials: shared rule − per-fly rule",
            &flies
                .iter()
                .map(|f| f.heldout_percent_deviance)
                .collect::<Vec<_>>(),
            &own_heldout,
        ),
        cross_fly_against_per_fly: paired(
            "percent deviance of a fly's whole session: shared rule fitted without the fly − the fly's own rule fitted to it",
            &flies
                .iter()
                .map(|f| f.cross_fly_percent_deviance)
                .collect::<Vec<_>>(),
            &own.iter().map(|f| f.percent_deviance).collect::<Vec<_>>(),
        ),
        terms,
        theta,
        flies,
        folds,
        intervals,
    })
}
