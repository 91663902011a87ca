//! Real flies (docs/model.md §4.3): each fly fitted on its own with several draws of the
//! unknowable sensory noise and initial weights (the median reported), models (sets of
//! Taylor terms) compared across flies with the paired Wilcoxon signed-rank test, and a
//! held-out test: fit on the first trials, predict the rest.

use std::ops::ControlFlow;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::behaviour::{
    circuit_of, fit_behaviour, percent_deviance, resample_inputs, BehaviourFitSettings, InputSource,
};
use super::neural::RuleFamily;
use crate::analysis::metrics::{median, quantile, wilcoxon_signed_rank, WilcoxonTest};
use crate::analysis::profile::{
    maximum_likelihood, profile_interval, ProfileInterval, ProfileSettings,
};
use crate::baseline::{fit_q_learning, q_learning_losses, QLearningObjective, QLearningParameters};
use crate::circuit::BehaviourCircuit;
use crate::circuit::RewardSignal;
use crate::data::{to_dataset, BehaviourSession, FlyRecording};
use crate::fit::FitConfig;
use crate::gradient::{replay_session, BehaviourWorkspace};
use crate::journal::{all_or_interrupted, unit, Journal, NoJournal};
use crate::objective::BehaviourObjective;
use crate::rule::{term_names, Rule, TaylorRule, TrainableSpec, Variables};
use crate::{Error, Result};

/// How the flies are fitted and compared.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FlySettings {
    /// Term sets to compare, each as written (`"1,x,r,x*r"`).
    pub models: Vec<String>,
    /// `r = R − E[R]` or `r = R`.
    pub reward_signal: RewardSignal,
    /// Draws of sensory noise and `W₀` fitted per fly and model (the median is reported).
    pub resamples: usize,
    /// Fraction of each fly's trials the held-out fit sees (the rest are predicted).
    pub training_fraction: f64,
    /// Hidden (plastic) units of the model.
    pub n_hidden: usize,
    /// Standard deviation of the unknown `W₀`.
    pub initial_weight_std: f64,
    /// `E[R]` window.
    pub expected_reward_window: usize,
    /// Optimiser: the behaviour defaults of docs/model.md §2.3/§4.2 (Adam, 250 epochs, learning
    /// rate 1e-3, L1 1e-2 on the model's coefficients).
    pub fit: FitConfig,
    /// Weight bound during the fits.
    pub weight_bound: Option<f64>,
    /// Base seed: draw `k` uses seed `seed + k` for `W₀` and the sensory noise.
    pub seed: u64,
    /// Also fit the Q-learning baseline ([`crate::baseline::q_learning`]) to every fly.
    #[serde(default)]
    pub q_learning: bool,
    /// L-BFGS iterations of each Q-learning start.
    #[serde(default)]
    pub q_learning_iterations: usize,
    /// Profile-likelihood intervals of every coefficient of every model and fly.
    #[serde(default)]
    pub intervals: bool,
    /// How the profiles are searched.
    #[serde(default)]
    pub profile: ProfileSettings,
    /// Draws whose intervals are computed (the first ones; at least 1 when
    /// `intervals`): the interval describes the statistical uncertainty of one draw,
    /// the spread over draws is reported beside it.
    #[serde(default)]
    pub interval_draws: usize,
    /// Folds (split by fly) of the population fit's cross-validation; 0 skips the
    /// population fit.
    #[serde(default)]
    pub population_folds: usize,
    /// NUTS posterior intervals beside the profile and Laplace ones (on the draws
    /// with intervals), with a prior matching the fit's penalty; `None` skips them.
    #[serde(default)]
    pub posterior: Option<crate::analysis::posterior::NutsSettings>,
}

impl Default for FlySettings {
    fn default() -> Self {
        FlySettings {
            models: vec!["1,x,r,x*r".into(), "1,x,r,x*r,w".into()],
            reward_signal: RewardSignal::Centred,
            resamples: 5,
            training_fraction: 0.75,
            n_hidden: 10,
            initial_weight_std: 0.01,
            expected_reward_window: 10,
            fit: BehaviourFitSettings::default().fit,
            weight_bound: Some(10.0),
            seed: 0,
            q_learning: true,
            q_learning_iterations: 500,
            intervals: true,
            profile: ProfileSettings::default(),
            interval_draws: 1,
            population_folds: 6,
            posterior: None,
        }
    }
}

/// One draw of one fly under one model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FlyDraw {
    /// The draw's seed (`W₀` and sensory noise).
    pub seed: u64,
    /// Percent deviance explained by the fit on all trials.
    pub percent_deviance: f64,
    /// Percent deviance on the held-out trials of the fit on the first trials.
    pub heldout_percent_deviance: f64,
    /// Cross-entropy summed over presentations (negative log-likelihood) of the fit on
    /// all trials.
    pub negative_log_likelihood: f64,
    /// The model's coefficients (in the order of its terms) fitted on all trials.
    pub theta: Vec<f64>,
    /// Why the fit on all trials stopped.
    pub stop_reason: String,
    /// Profile-likelihood intervals of the coefficients (maximum likelihood, no
    /// penalty, on this draw's inputs and `W₀`); empty when not asked for or when the
    /// fly never rejected an odour (then the likelihood has no finite maximum).
    pub intervals: Vec<CoefficientInterval>,
    /// Divergent NUTS transitions after warm-up, summed over chains, when posterior
    /// intervals were computed.
    #[serde(default)]
    pub posterior_divergences: Option<usize>,
}

/// A profile-likelihood interval of one coefficient (docs/model.md §5 has no interval; this is
/// `{v : 2[NLL_p(v) − NLL_min] ≤ χ²₁}`, see [`crate::analysis::profile`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CoefficientInterval {
    /// Term (or baseline parameter) name.
    pub term: String,
    /// Maximum-likelihood estimate.
    pub estimate: f64,
    /// Lower end; `None` when the profile stayed below the threshold.
    pub lower: Option<f64>,
    /// Upper end; `None` likewise.
    pub upper: Option<f64>,
    /// Lower end of the 95 % Laplace interval `θ̂ − 1.96 SE` at the maximum-likelihood
    /// estimate, SE from the inverse Fisher information of the choices
    /// ([`crate::analysis::identifiability`]); `None` for the Q-learning baseline, or when the
    /// information is singular along a direction the term loads on.
    #[serde(default)]
    pub laplace_lower: Option<f64>,
    /// Upper end of the Laplace interval, `θ̂ + 1.96 SE`.
    #[serde(default)]
    pub laplace_upper: Option<f64>,
    /// 2.5 % quantile of the NUTS posterior ([`crate::analysis::posterior`]; prior matching the
    /// fit's penalty), when asked for.
    #[serde(default)]
    pub posterior_lower: Option<f64>,
    /// 97.5 % quantile of the NUTS posterior.
    #[serde(default)]
    pub posterior_upper: Option<f64>,
    /// Its rank-normalised split R-hat.
    #[serde(default)]
    pub posterior_rhat: Option<f64>,
}

/// 95 % Laplace intervals `θ̂_k ± 1.96 SE_k` of the terms `indices` of a behaviour
/// model at its maximum-likelihood estimate `theta` (all 81 coefficients), in the order
/// of `indices`: SE from the inverse of the Fisher information
/// `Σ_p σ(z)(1 − σ(z)) ∂z/∂θ ∂z/∂θᵀ` of every presentation of `dataset` driven by
/// `inputs`. `None` where the information is singular along the term.
pub fn laplace_intervals(
    dataset: &crate::data::BehaviourDataset,
    inputs: &ndarray::Array3<f64>,
    circuit: &BehaviourCircuit,
    theta: &[f64],
    indices: &[usize],
) -> Result<Vec<Option<(f64, f64)>>> {
    let rule = TaylorRule::new(Variables::Xywr);
    let curvature = crate::analysis::identifiability::behaviour_curvature(
        dataset, inputs, circuit, &rule, theta, indices,
    )?;
    let report =
        crate::analysis::identifiability::analyse(&curvature, &term_names(Variables::Xywr), theta)?;
    Ok(report.intervals)
}

/// Which kind of model a row is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelFamily {
    /// A Taylor plasticity rule inside the behaviour circuit (docs/model.md §4.2).
    PlasticityRule,
    /// The Q-learning agent of [`crate::baseline::q_learning`].
    QLearning,
}

/// The model name of the Q-learning baseline in the outputs.
pub const Q_LEARNING_MODEL: &str = "q-learning";

/// One fly under one model: medians over the draws.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FlyModelFit {
    /// The fly's name (file stem).
    pub fly: String,
    /// The model as given (or [`Q_LEARNING_MODEL`]).
    pub model: String,
    /// Plasticity rule or baseline.
    pub family: ModelFamily,
    /// The model's terms, canonical names (the baseline: its parameter names).
    pub terms: Vec<String>,
    /// Median percent deviance explained (all trials).
    pub percent_deviance: f64,
    /// Median held-out percent deviance.
    pub heldout_percent_deviance: f64,
    /// Median negative log-likelihood (all trials) over the draws.
    pub negative_log_likelihood: f64,
    /// `AIC = 2k + 2 NLL` at the median NLL over draws, `k` = number of terms.
    pub aic: f64,
    /// Median of each coefficient over the draws.
    pub theta: Vec<f64>,
    /// Per coefficient: median over the draws with intervals (the first
    /// `interval_draws`) of the estimate and of each interval end (an end is `None`
    /// when it was unbounded in any of them).
    pub intervals: Vec<CoefficientInterval>,
    /// Every draw.
    pub draws: Vec<FlyDraw>,
}

/// The canonical term names of a model, checked.
pub fn model_terms(model: &str) -> Result<Vec<String>> {
    let mask = TrainableSpec::parse(model)?.mask(Variables::Xywr)?;
    let names = term_names(Variables::Xywr);
    let terms: Vec<String> = names
        .into_iter()
        .zip(mask)
        .filter(|(_, m)| *m)
        .map(|(n, _)| n)
        .collect();
    if terms.is_empty() {
        return Err(Error::config("models", format!("'{model}' has no term")));
    }
    Ok(terms)
}

/// The first `fraction` of a fly's trials (at least one, at most all but one).
pub fn first_trials(recording: &FlyRecording, fraction: f64) -> (FlyRecording, usize) {
    let trials = recording.n_trials();
    let keep =
        ((fraction * trials as f64).round() as usize).clamp(1, trials.saturating_sub(1).max(1));
    let n = recording
        .trial_of_presentation
        .iter()
        .take_while(|&&t| (t as usize) < keep)
        .count();
    (
        FlyRecording {
            odours: recording.odours[..n].to_vec(),
            decisions: recording.decisions[..n].to_vec(),
            trial_of_presentation: recording.trial_of_presentation[..n].to_vec(),
            rewards: recording.rewards[..keep].to_vec(),
            n_odours: recording.n_odours,
            name: recording.name.clone(),
        },
        keep,
    )
}

/// The behaviour fit of one model and draw: its Taylor terms from zero, Adam (by
/// default) with the fly settings' penalty and bound, on inputs re-sampled from `seed`.
pub(crate) fn fly_fit_settings(
    model: &str,
    settings: &FlySettings,
    seed: u64,
) -> BehaviourFitSettings {
    BehaviourFitSettings {
        rule_family: RuleFamily::Taylor,
        trainable: model.to_string(),
        init: "zeros".into(),
        fit: FitConfig {
            seed,
            ..settings.fit.clone()
        },
        weight_bound: settings.weight_bound,
        inputs: InputSource::Resampled,
        input_seed: seed,
        eval_sessions: 0,
        ..BehaviourFitSettings::default()
    }
}

/// The flies as one behaviour dataset, with `W₀` drawn from `seed`.
pub(crate) fn fly_dataset(
    recordings: &[FlyRecording],
    settings: &FlySettings,
    seed: u64,
) -> Result<crate::data::BehaviourDataset> {
    to_dataset(
        recordings,
        settings.n_hidden,
        settings.initial_weight_std,
        seed,
        settings.expected_reward_window,
        settings.reward_signal,
    )
}

fn fly_draw(
    recording: &FlyRecording,
    model: &str,
    settings: &FlySettings,
    draw: usize,
) -> Result<FlyDraw> {
    let seed = settings.seed + draw as u64;
    let dataset = |r: &FlyRecording| fly_dataset(std::slice::from_ref(r), settings, seed);
    let fit_settings = fly_fit_settings(model, settings, seed);
    let keep_going = &mut |_: &crate::fit::EpochReport<'_>| ControlFlow::Continue(());
    // all trials
    let full = dataset(recording)?;
    let fit_all = fit_behaviour(&full, &fit_settings, keep_going)?;
    // first trials → the rest: the same W₀ and noise draws (same seed and stream), the
    // model run over the whole session, the loss counted on the held-out trials only
    let (training, kept_trials) = first_trials(recording, settings.training_fraction);
    let fit_first = fit_behaviour(&dataset(&training)?, &fit_settings, keep_going)?;
    let inputs = resample_inputs(&full, seed)?;
    let session = full.session_with_inputs(0, &inputs);
    let circuit = circuit_of(&full, settings.weight_bound);
    let heldout = percent_deviance(
        heldout_loss(&circuit, &fit_first.outcome.theta, session, kept_trials),
        heldout_loss(
            &circuit,
            &vec![0.0; fit_first.outcome.theta.len()],
            session,
            kept_trials,
        ),
    );
    let terms = model_terms(model)?;
    let names = term_names(Variables::Xywr);
    let indices: Vec<usize> = terms
        .iter()
        .filter_map(|t| names.iter().position(|n| n == t))
        .collect();
    let theta = indices.iter().map(|&k| fit_all.outcome.theta[k]).collect();
    // A fly without a single rejection has no finite maximum-likelihood estimate (every
    // accept is predicted with p → 1 as the weights grow), so no interval either.
    let mut posterior_divergences = None;
    let intervals = if settings.intervals
        && draw < settings.interval_draws.max(1)
        && recording.n_rejections() > 0
    {
        let objective = BehaviourObjective::new(
            &full,
            inputs.clone(),
            circuit,
            TaylorRule::new(Variables::Xywr),
            fit_settings.gradient,
        );
        let n = recording.n_presentations() as f64;
        let (minimum, minimum_loss) = maximum_likelihood(
            &objective,
            &indices,
            &fit_all.outcome.theta,
            settings.profile.iterations,
        )?;
        let laplace = laplace_intervals(&full, &inputs, &circuit, &minimum, &indices)?;
        let posterior = match &settings.posterior {
            Some(nuts) => {
                let prior = crate::analysis::posterior::Prior::from_penalty(
                    settings.fit.l1,
                    settings.fit.l2,
                    n,
                    crate::analysis::posterior::WEAK_PRIOR_SD,
                )?;
                let density = crate::analysis::posterior::BehaviourPosterior::new(
                    &full,
                    inputs.clone(),
                    circuit,
                    TaylorRule::new(Variables::Xywr),
                    minimum.clone(),
                    indices.clone(),
                    prior,
                )?;
                let centre: Vec<f64> = indices.iter().map(|&k| minimum[k]).collect();
                // one Laplace SE per term (0.1 where undetermined, at most 1)
                let spread: Vec<f64> = laplace
                    .iter()
                    .map(|l| {
                        l.map_or(0.1, |(a, b)| {
                            ((b - a) / (2.0 * crate::analysis::identifiability::Z_95)).min(1.0)
                        })
                    })
                    .collect();
                let chains = crate::analysis::posterior::sample(&density, &centre, &spread, nuts)?;
                posterior_divergences = Some(chains.iter().map(|c| c.divergences).sum());
                crate::analysis::posterior::summarise(&chains)
                    .into_iter()
                    .map(Some)
                    .collect()
            }
            None => vec![None; indices.len()],
        };
        indices
            .iter()
            .zip(&terms)
            .zip(laplace.iter().zip(&posterior))
            .map(|((&k, term), (laplace, posterior))| {
                let ProfileInterval {
                    estimate,
                    lower,
                    upper,
                    ..
                } = profile_interval(
                    &objective,
                    n,
                    &indices,
                    &minimum,
                    minimum_loss,
                    k,
                    &settings.profile,
                )?;
                Ok(CoefficientInterval {
                    term: term.clone(),
                    estimate,
                    lower,
                    upper,
                    laplace_lower: laplace.map(|l| l.0),
                    laplace_upper: laplace.map(|l| l.1),
                    posterior_lower: posterior.as_ref().map(|p| p.q2_5),
                    posterior_upper: posterior.as_ref().map(|p| p.q97_5),
                    posterior_rhat: posterior.as_ref().map(|p| p.rhat),
                })
            })
            .collect::<Result<Vec<_>>>()?
    } else {
        Vec::new()
    };
    Ok(FlyDraw {
        seed,
        percent_deviance: fit_all.metrics.percent_deviance,
        heldout_percent_deviance: heldout,
        negative_log_likelihood: fit_all.metrics.final_loss * recording.n_presentations() as f64,
        theta,
        stop_reason: serde_json::to_value(&fit_all.outcome.stop_reason)
            .ok()
            .and_then(|v| v.get("reason").and_then(|r| r.as_str()).map(String::from))
            .unwrap_or_default(),
        intervals,
        posterior_divergences,
    })
}

/// Cross-entropy summed over the presentations of trials `kept_trials..` of `session`,
/// the Taylor rule `θ` run over the whole session (`kept_trials = 0`: all of them).
pub(crate) fn heldout_loss(
    circuit: &BehaviourCircuit,
    theta: &[f64],
    session: BehaviourSession<'_>,
    kept_trials: usize,
) -> f64 {
    let rule = Rule::Taylor(TaylorRule::new(Variables::Xywr));
    let mut total = 0.0;
    let mut workspace = BehaviourWorkspace::new();
    replay_session(
        circuit,
        &rule,
        theta,
        session,
        &mut workspace,
        |p, _, _, loss| {
            if session.trial_of_presentation[p] as usize >= kept_trials {
                total += loss;
            }
        },
    );
    total
}

/// The Q-learning baseline on one fly: maximum likelihood on all trials (with
/// profile intervals of its four parameters) and on the first trials (held-out test).
/// Its null model is `p = ½` (no values, no bias), the counterpart of `θ = 0`.
fn q_learning_fit(recording: &FlyRecording, settings: &FlySettings) -> Result<FlyModelFit> {
    let all = fit_q_learning(
        std::slice::from_ref(recording),
        settings.q_learning_iterations,
    )?;
    let (training, kept_trials) = first_trials(recording, settings.training_fraction);
    let first = fit_q_learning(
        std::slice::from_ref(&training),
        settings.q_learning_iterations,
    )?;
    let null_loss = std::f64::consts::LN_2;
    let n = recording.n_presentations() as f64;
    let (mut heldout, mut heldout_count) = (0.0, 0usize);
    q_learning_losses(&first.unconstrained, recording, |p, loss| {
        if recording.trial_of_presentation[p] as usize >= kept_trials {
            heldout += loss;
            heldout_count += 1;
        }
    });
    let intervals = if settings.intervals && recording.n_rejections() > 0 {
        let objective = QLearningObjective::new(std::slice::from_ref(recording));
        let natural = |k: usize, phi: f64| {
            let mut unconstrained = all.unconstrained;
            unconstrained[k] = phi;
            QLearningParameters::from_unconstrained(&unconstrained).values()[k]
        };
        (0..4)
            .map(|k| {
                let interval = profile_interval(
                    &objective,
                    n,
                    &[0, 1, 2, 3],
                    &all.unconstrained,
                    all.mean_loss,
                    k,
                    &settings.profile,
                )?;
                // the maps φ → (α, β, b, λ) are increasing: the ends map to the ends
                Ok(CoefficientInterval {
                    term: QLearningParameters::NAMES[k].to_string(),
                    estimate: all.parameters.values()[k],
                    lower: interval.lower.map(|v| natural(k, v)),
                    upper: interval.upper.map(|v| natural(k, v)),
                    ..CoefficientInterval::default()
                })
            })
            .collect::<Result<Vec<_>>>()?
    } else {
        Vec::new()
    };
    let negative_log_likelihood = all.mean_loss * n;
    let draw = FlyDraw {
        seed: 0,
        percent_deviance: percent_deviance(all.mean_loss, null_loss),
        heldout_percent_deviance: percent_deviance(heldout, null_loss * heldout_count as f64),
        negative_log_likelihood,
        theta: all.parameters.values().to_vec(),
        stop_reason: serde_json::to_value(&all.stop_reason)
            .ok()
            .and_then(|v| v.get("reason").and_then(|r| r.as_str()).map(String::from))
            .unwrap_or_default(),
        intervals: intervals.clone(),
        posterior_divergences: None,
    };
    Ok(FlyModelFit {
        fly: recording.name.clone(),
        model: Q_LEARNING_MODEL.into(),
        family: ModelFamily::QLearning,
        terms: QLearningParameters::NAMES
            .iter()
            .map(|s| s.to_string())
            .collect(),
        percent_deviance: draw.percent_deviance,
        heldout_percent_deviance: draw.heldout_percent_deviance,
        negative_log_likelihood,
        aic: 2.0 * 4.0 + 2.0 * negative_log_likelihood,
        theta: draw.theta.clone(),
        intervals,
        draws: vec![draw],
    })
}

/// Median over the draws that have intervals of each interval's estimate and ends (an
/// end unbounded in any of them stays unbounded).
fn median_intervals(draws: &[FlyDraw]) -> Vec<CoefficientInterval> {
    let draws: Vec<FlyDraw> = draws
        .iter()
        .filter(|d| !d.intervals.is_empty())
        .cloned()
        .collect();
    let Some(first) = draws.first() else {
        return Vec::new();
    };
    (0..first.intervals.len())
        .map(|i| {
            let column = |f: &dyn Fn(&CoefficientInterval) -> Option<f64>| -> Option<f64> {
                let values: Option<Vec<f64>> = draws.iter().map(|d| f(&d.intervals[i])).collect();
                values.map(|v| median(&v))
            };
            CoefficientInterval {
                term: first.intervals[i].term.clone(),
                estimate: column(&|c| Some(c.estimate)).unwrap_or(f64::NAN),
                lower: column(&|c| c.lower),
                upper: column(&|c| c.upper),
                laplace_lower: column(&|c| c.laplace_lower),
                laplace_upper: column(&|c| c.laplace_upper),
                posterior_lower: column(&|c| c.posterior_lower),
                posterior_upper: column(&|c| c.posterior_upper),
                posterior_rhat: column(&|c| c.posterior_rhat),
            }
        })
        .collect()
}

/// How the 95 % intervals of one term fall across the flies fitted under one model.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntervalSigns {
    /// Flies fitted under the model.
    pub flies: usize,
    /// Flies with a profile-likelihood interval (both ends finite).
    pub profile: usize,
    /// Of those, intervals entirely below 0.
    pub profile_below_zero: usize,
    /// Of those, intervals entirely above 0.
    pub profile_above_zero: usize,
    /// Flies with a Laplace interval.
    pub laplace: usize,
    /// Of those, intervals entirely below 0.
    pub laplace_below_zero: usize,
    /// Of those, intervals entirely above 0.
    pub laplace_above_zero: usize,
    /// Flies with a NUTS posterior interval.
    #[serde(default)]
    pub posterior: usize,
    /// Of those, intervals entirely below 0.
    #[serde(default)]
    pub posterior_below_zero: usize,
    /// Of those, intervals entirely above 0.
    #[serde(default)]
    pub posterior_above_zero: usize,
}

/// Counts, over the per-fly fits of `model`, the flies whose 95 % interval of `term` is
/// entirely below or above 0 (profile and Laplace intervals separately; a fly without
/// an interval, e.g. one that never rejects, counts in `flies` only).
pub fn interval_signs(fits: &[FlyModelFit], model: &str, term: &str) -> IntervalSigns {
    let mut signs = IntervalSigns::default();
    for fit in fits.iter().filter(|f| f.model == model) {
        signs.flies += 1;
        let Some(interval) = fit.intervals.iter().find(|i| i.term == term) else {
            continue;
        };
        if let (Some(low), Some(high)) = (interval.lower, interval.upper) {
            signs.profile += 1;
            signs.profile_below_zero += usize::from(high < 0.0);
            signs.profile_above_zero += usize::from(low > 0.0);
        }
        if let (Some(low), Some(high)) = (interval.laplace_lower, interval.laplace_upper) {
            signs.laplace += 1;
            signs.laplace_below_zero += usize::from(high < 0.0);
            signs.laplace_above_zero += usize::from(low > 0.0);
        }
        if let (Some(low), Some(high)) = (interval.posterior_lower, interval.posterior_upper) {
            signs.posterior += 1;
            signs.posterior_below_zero += usize::from(high < 0.0);
            signs.posterior_above_zero += usize::from(low > 0.0);
        }
    }
    signs
}

/// Fits every fly under every model (all draws in parallel).
pub fn fit_flies(recordings: &[FlyRecording], settings: &FlySettings) -> Result<Vec<FlyModelFit>> {
    fit_flies_journaled(recordings, settings, &NoJournal)
}

/// [`fit_flies`], each fly's draw under each model (and each fly's Q-learning
/// baseline) a unit of `journal`: recorded when done, replayed when resumed, skipped
/// once a stop is requested ([`Error::Interrupted`]).
pub fn fit_flies_journaled(
    recordings: &[FlyRecording],
    settings: &FlySettings,
    journal: &dyn Journal,
) -> Result<Vec<FlyModelFit>> {
    if settings.resamples == 0 {
        return Err(Error::config("resamples", "must be at least 1"));
    }
    if !(settings.training_fraction > 0.0 && settings.training_fraction < 1.0) {
        return Err(Error::config(
            "training-fraction",
            format!("must be in (0, 1), got {}", settings.training_fraction),
        ));
    }
    let mut jobs = Vec::new();
    for recording in recordings {
        for model in &settings.models {
            model_terms(model)?;
            for draw in 0..settings.resamples {
                jobs.push((recording, model.as_str(), draw));
            }
        }
    }
    let draws: Vec<Option<FlyDraw>> = jobs
        .par_iter()
        .map(|(recording, model, draw)| {
            let key = format!("flies/{}/{model}/draw{draw}", recording.name);
            unit(journal, &key, || {
                fly_draw(recording, model, settings, *draw)
            })
            .map_err(|e| {
                Error::config(
                    "flies",
                    format!("fly {}, model '{model}': {e}", recording.name),
                )
            })
        })
        .collect::<Result<_>>()?;
    let draws = all_or_interrupted("the per-fly fits", draws)?;
    let mut results = Vec::new();
    for (group, chunk) in jobs
        .chunks(settings.resamples)
        .zip(draws.chunks(settings.resamples))
    {
        let (recording, model, _) = group[0];
        let terms = model_terms(model)?;
        let column = |f: &dyn Fn(&FlyDraw) -> f64| median(&chunk.iter().map(f).collect::<Vec<_>>());
        let theta = (0..terms.len()).map(|i| column(&|d| d.theta[i])).collect();
        let negative_log_likelihood = column(&|d| d.negative_log_likelihood);
        results.push(FlyModelFit {
            fly: recording.name.clone(),
            model: model.to_string(),
            family: ModelFamily::PlasticityRule,
            aic: 2.0 * terms.len() as f64 + 2.0 * negative_log_likelihood,
            negative_log_likelihood,
            intervals: median_intervals(chunk),
            terms,
            percent_deviance: column(&|d| d.percent_deviance),
            heldout_percent_deviance: column(&|d| d.heldout_percent_deviance),
            theta,
            draws: chunk.to_vec(),
        });
    }
    if settings.q_learning {
        let baselines: Vec<Option<FlyModelFit>> = recordings
            .par_iter()
            .map(|recording| {
                let key = format!("flies/{}/q-learning", recording.name);
                unit(journal, &key, || q_learning_fit(recording, settings)).map_err(|e| {
                    Error::config(
                        "flies",
                        format!("fly {}, Q-learning baseline: {e}", recording.name),
                    )
                })
            })
            .collect::<Result<_>>()?;
        let baselines = all_or_interrupted("the Q-learning baselines", baselines)?;
        results.extend(baselines);
    }
    Ok(results)
}

/// Median and spread of one coefficient across flies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CoefficientSummary {
    /// Canonical term name.
    pub term: String,
    /// Median across flies.
    pub median: f64,
    /// 25th percentile.
    pub q25: f64,
    /// 75th percentile.
    pub q75: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
    /// Flies whose coefficient is negative.
    pub negative: usize,
}

/// Model `b` against model `a`, paired by fly.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelComparison {
    /// The baseline model.
    pub model_a: String,
    /// The model compared with it.
    pub model_b: String,
    /// Flies in both.
    pub flies: usize,
    /// Flies whose percent deviance is higher under `b`.
    pub flies_improved: usize,
    /// Median of `pd_b − pd_a`.
    pub median_difference: f64,
    /// Wilcoxon signed-rank test of `pd_b − pd_a`.
    pub wilcoxon: WilcoxonTest,
    /// Flies whose held-out percent deviance is higher under `b`.
    pub heldout_flies_improved: usize,
    /// Median held-out difference.
    pub heldout_median_difference: f64,
    /// Wilcoxon test of the held-out differences.
    pub heldout_wilcoxon: WilcoxonTest,
}

/// The fits of models `a` and `b` to the same flies, paired by fly (in `a`'s order).
pub fn paired_by_fly<'a>(
    fits: &'a [FlyModelFit],
    a: &str,
    b: &str,
) -> Vec<(&'a FlyModelFit, &'a FlyModelFit)> {
    fits.iter()
        .filter(|x| x.model == a)
        .filter_map(|x| {
            fits.iter()
                .find(|y| y.model == b && y.fly == x.fly)
                .map(|y| (x, y))
        })
        .collect()
}

/// Comparisons of every pair of models (each later model against each earlier one),
/// and the coefficient summaries of every model.
pub fn compare_models(
    fits: &[FlyModelFit],
    models: &[String],
) -> (Vec<ModelComparison>, Vec<(String, Vec<CoefficientSummary>)>) {
    let of =
        |model: &str| -> Vec<&FlyModelFit> { fits.iter().filter(|f| f.model == model).collect() };
    let mut comparisons = Vec::new();
    for (i, a) in models.iter().enumerate() {
        for b in &models[i + 1..] {
            let pairs = paired_by_fly(fits, a, b);
            let diff: Vec<f64> = pairs
                .iter()
                .map(|(x, y)| y.percent_deviance - x.percent_deviance)
                .collect();
            let held: Vec<f64> = pairs
                .iter()
                .map(|(x, y)| y.heldout_percent_deviance - x.heldout_percent_deviance)
                .collect();
            comparisons.push(ModelComparison {
                model_a: a.clone(),
                model_b: b.clone(),
                flies: pairs.len(),
                flies_improved: diff.iter().filter(|d| **d > 0.0).count(),
                median_difference: median(&diff),
                wilcoxon: wilcoxon_signed_rank(&diff),
                heldout_flies_improved: held.iter().filter(|d| **d > 0.0).count(),
                heldout_median_difference: median(&held),
                heldout_wilcoxon: wilcoxon_signed_rank(&held),
            });
        }
    }
    let summaries = models
        .iter()
        .map(|model| {
            let group = of(model);
            let terms = group.first().map(|f| f.terms.clone()).unwrap_or_default();
            let summary = terms
                .iter()
                .enumerate()
                .map(|(i, term)| {
                    let values: Vec<f64> = group.iter().map(|f| f.theta[i]).collect();
                    CoefficientSummary {
                        term: term.clone(),
                        median: median(&values),
                        q25: quantile(&values, 0.25),
                        q75: quantile(&values, 0.75),
                        min: quantile(&values, 0.0),
                        max: quantile(&values, 1.0),
                        negative: values.iter().filter(|v| **v < 0.0).count(),
                    }
                })
                .collect();
            (model.clone(), summary)
        })
        .collect();
    (comparisons, summaries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture_fly() -> FlyRecording {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/flies/Fly1.mat");
        crate::data::load_fly_mat(path).expect("the committed Fly1 fixture loads")
    }

    #[test]
    fn first_trials_cut_at_a_trial_boundary() {
        let fly = fixture_fly();
        let (first, kept) = first_trials(&fly, 0.75);
        assert_eq!(kept, 180);
        assert_eq!(first.n_trials(), 180);
        assert_eq!(first.rewards, fly.rewards[..180].to_vec());
        // the cut ends with the 180th trial's accept, and the next presentation starts trial 180
        assert_eq!(first.decisions.last(), Some(&1));
        assert_eq!(fly.trial_of_presentation[first.n_presentations()], 180);
        first.validate().expect("a valid recording");
    }

    #[test]
    fn models_are_fitted_per_fly_and_compared() {
        let flies = vec![fixture_fly()];
        let settings = FlySettings {
            resamples: 2,
            fit: FitConfig {
                epochs: 20,
                ..FlySettings::default().fit
            },
            ..FlySettings::default()
        };
        let fits = fit_flies(&flies, &settings).expect("fits");
        assert_eq!(fits.len(), 3, "two rules and the Q-learning baseline");
        for fit in &fits[..2] {
            assert_eq!(fit.family, ModelFamily::PlasticityRule);
            assert_eq!(fit.draws.len(), 2);
            assert_ne!(fit.draws[0].theta, fit.draws[1].theta, "draws differ");
            assert!(fit.percent_deviance.is_finite() && fit.heldout_percent_deviance.is_finite());
            // a fit explains more than the plasticity-free circuit on its own data
            assert!(fit.percent_deviance > 0.0, "{}", fit.percent_deviance);
            assert_eq!(fit.intervals.len(), fit.terms.len());
        }
        for fit in &fits {
            for interval in &fit.intervals {
                // a profile interval brackets its maximum-likelihood estimate
                if let Some(lower) = interval.lower {
                    assert!(lower < interval.estimate, "{interval:?}");
                }
                if let Some(upper) = interval.upper {
                    assert!(upper > interval.estimate, "{interval:?}");
                }
            }
        }
        // Laplace intervals of the rules are symmetric about the same estimate as the
        // profile's (on this fly they can be much wider than the profile intervals: see
        // docs/identifiability.md)
        for fit in &fits[..2] {
            for interval in &fit.intervals {
                let (low, high) = (
                    interval.laplace_lower.expect("a Laplace interval"),
                    interval.laplace_upper.expect("a Laplace interval"),
                );
                assert!(
                    low < interval.estimate && interval.estimate < high,
                    "{interval:?}"
                );
                let centre = 0.5 * (low + high);
                assert!(
                    (centre - interval.estimate).abs() <= 1e-9 * (high - low),
                    "{interval:?}"
                );
            }
        }
        let signs = interval_signs(&fits, &settings.models[1], "w");
        assert_eq!(signs.flies, 1);
        assert_eq!(signs.laplace, 1);
        let w = fits[1]
            .intervals
            .iter()
            .find(|i| i.term == "w")
            .expect("θ_w");
        assert_eq!(
            signs.laplace_below_zero,
            usize::from(w.laplace_upper.expect("upper") < 0.0)
        );
        assert_eq!(interval_signs(&fits, "no such model", "w").flies, 0);
        // canonical order (x, y, w, r exponents), whatever order the model was written in
        assert_eq!(fits[1].terms, ["1", "r", "w", "x", "x*r"]);
        let baseline = &fits[2];
        assert_eq!(baseline.family, ModelFamily::QLearning);
        assert_eq!(baseline.model, Q_LEARNING_MODEL);
        assert_eq!(baseline.theta.len(), 4);
        assert!(
            baseline.percent_deviance > 0.0,
            "{}",
            baseline.percent_deviance
        );
        assert_eq!(baseline.intervals.len(), 4);
        assert!((baseline.aic - (8.0 + 2.0 * baseline.negative_log_likelihood)).abs() < 1e-9);
        let mut models = settings.models.clone();
        models.push(Q_LEARNING_MODEL.into());
        let (comparisons, summaries) = compare_models(&fits, &models);
        assert_eq!(comparisons.len(), 3);
        assert_eq!(comparisons[0].flies, 1);
        assert_eq!(summaries.len(), 3);
        assert_eq!(summaries[1].1.len(), 5);
        // the same settings give the same fits
        assert_eq!(fit_flies(&flies, &settings).expect("fits"), fits);
    }

    #[test]
    fn posterior_intervals_sit_beside_the_profile_and_laplace_ones() {
        let flies = vec![fixture_fly()];
        let settings = FlySettings {
            models: vec!["1,x,r,x*r,w".into()],
            resamples: 1,
            fit: FitConfig {
                epochs: 20,
                ..FlySettings::default().fit
            },
            q_learning: false,
            posterior: Some(crate::analysis::posterior::NutsSettings {
                chains: 2,
                draws: 150,
                warmup: 150,
                ..crate::analysis::posterior::NutsSettings::default()
            }),
            ..FlySettings::default()
        };
        let fits = fit_flies(&flies, &settings).expect("fits");
        let fit = &fits[0];
        assert!(fit.draws[0].posterior_divergences.is_some());
        for interval in &fit.intervals {
            let (low, high) = (
                interval.posterior_lower.expect("a posterior interval"),
                interval.posterior_upper.expect("a posterior interval"),
            );
            assert!(low < high, "{interval:?}");
            assert!(interval.posterior_rhat.expect("R-hat").is_finite());
            // the posterior interval overlaps the Laplace one (same data, same θ̂)
            let (l, h) = (
                interval.laplace_lower.expect("Laplace"),
                interval.laplace_upper.expect("Laplace"),
            );
            assert!(low < h && l < high, "{interval:?}");
        }
        let signs = interval_signs(&fits, "1,x,r,x*r,w", "w");
        assert_eq!(signs.posterior, 1);
        // without posterior settings there are no posterior intervals
        let plain = FlySettings {
            posterior: None,
            ..settings
        };
        let fits = fit_flies(&flies, &plain).expect("fits");
        assert!(fits[0]
            .intervals
            .iter()
            .all(|i| i.posterior_lower.is_none()));
        assert!(fits[0].draws[0].posterior_divergences.is_none());
    }

    #[test]
    fn one_rule_is_shared_by_all_flies_and_cross_validated_by_fly() {
        let fly = fixture_fly();
        let (mut second, _) = first_trials(&fly, 0.6);
        second.name = "Fly1-first-trials".into();
        let flies = vec![fly, second];
        let settings = FlySettings {
            models: vec!["1,x,r,x*r".into()],
            resamples: 1,
            fit: FitConfig {
                epochs: 10,
                ..FlySettings::default().fit
            },
            q_learning: false,
            intervals: true,
            population_folds: 2,
            ..FlySettings::default()
        };
        let per_fly = fit_flies(&flies, &settings).expect("per-fly fits");
        let shared =
            super::super::population::fit_population(&flies, &settings, &per_fly).expect("shared");
        assert_eq!(shared.len(), 1);
        let fit = &shared[0];
        assert_eq!(fit.theta.len(), 4);
        assert_eq!(fit.flies.len(), 2);
        for fly in &fit.flies {
            assert!(fly.percent_deviance.is_finite());
            assert!(fly.heldout_percent_deviance.is_finite());
            assert!(fly.cross_fly_percent_deviance.is_finite());
        }
        // one set of 4 coefficients against one per fly
        let nll: f64 = fit.flies.iter().map(|f| f.negative_log_likelihood).sum();
        assert!((fit.aic - (8.0 + 2.0 * nll)).abs() < 1e-9);
        // the shared rule's Laplace intervals bracket its maximum-likelihood estimate
        assert_eq!(fit.intervals.len(), 4);
        for interval in &fit.intervals {
            let (low, high) = (
                interval.laplace_lower.expect("a Laplace interval"),
                interval.laplace_upper.expect("a Laplace interval"),
            );
            assert!(
                low < interval.estimate && interval.estimate < high,
                "{interval:?}"
            );
        }
        assert_eq!(fit.heldout_against_per_fly.flies, 2);
        // more folds than flies is refused
        let too_many = FlySettings {
            population_folds: 3,
            ..settings.clone()
        };
        assert!(super::super::population::fit_population(&flies, &too_many, &per_fly).is_err());
    }

    /// Splits one CSV line, honouring double quotes (model names hold commas).
    fn csv_fields(line: &str) -> Vec<String> {
        let (mut fields, mut field, mut quoted) = (Vec::new(), String::new(), false);
        for c in line.chars() {
            match c {
                '"' => quoted = !quoted,
                ',' if !quoted => fields.push(std::mem::take(&mut field)),
                _ => field.push(c),
            }
        }
        fields.push(field);
        fields
    }

    /// `per_fly.csv`'s `<column>_mle` is the estimate its profile and Laplace
    /// intervals belong to: every one lies inside both, also as medians over draws.
    #[test]
    fn per_fly_estimates_lie_inside_their_intervals() {
        let flies = vec![fixture_fly()];
        let settings = FlySettings {
            resamples: 2,
            interval_draws: 2,
            fit: FitConfig {
                epochs: 10,
                ..FlySettings::default().fit
            },
            ..FlySettings::default()
        };
        let fits = fit_flies(&flies, &settings).expect("fits");
        let table = crate::report::flies_per_fly_csv(&fits);
        let mut lines = table.lines();
        let header = csv_fields(lines.next().expect("header"));
        let column = |name: &str| header.iter().position(|c| c == name);
        let mut checked = 0;
        for line in lines {
            let row = csv_fields(line);
            assert_eq!(row.len(), header.len(), "{line}");
            let value =
                |k: Option<usize>| -> Option<f64> { k.and_then(|k| row[k].parse::<f64>().ok()) };
            for (k, name) in header.iter().enumerate() {
                let Some(base) = name.strip_suffix("_mle") else {
                    continue;
                };
                let Some(estimate) = value(Some(k)) else {
                    continue;
                };
                for (low, high) in [("lower", "upper"), ("laplace_lower", "laplace_upper")] {
                    let lower = value(column(&format!("{base}_{low}")));
                    let upper = value(column(&format!("{base}_{high}")));
                    if let Some(lower) = lower {
                        assert!(
                            lower <= estimate,
                            "{base}_{low} {lower} > {estimate}: {line}"
                        );
                        checked += 1;
                    }
                    if let Some(upper) = upper {
                        assert!(
                            estimate <= upper,
                            "{base}_{high} {upper} < {estimate}: {line}"
                        );
                        checked += 1;
                    }
                }
            }
        }
        // two rules (5 and 4 terms, profile and Laplace) and the baseline's profile
        // intervals: most ends are finite
        assert!(checked >= 20, "only {checked} interval ends checked");
        assert!(column("theta_w_mle").is_some() && column("learning_rate_mle").is_some());
    }
}
