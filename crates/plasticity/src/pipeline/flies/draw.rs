//! One draw of a fly's fit: the unknowable sensory noise and initial weights drawn
//! anew, the rule fitted, its held-out loss and Laplace intervals; the median over
//! draws reported.

use std::ops::ControlFlow;

use super::model::{block_means, model_terms, CoefficientInterval, FlyDraw};
use super::settings::{fly_dataset, fly_fit_settings, FlySettings};
use crate::analysis::metrics::median;
use crate::analysis::posterior::CoordinateSummary;
use crate::analysis::profile::{maximum_likelihood, profile_interval, ProfileInterval};
use crate::circuit::BehaviourCircuit;
use crate::data::{BehaviourDataset, BehaviourKind, FLY_BLOCK_TRIALS};
use crate::data::{BehaviourSession, FlyRecording};
use crate::gradient::replay_session;
use crate::objective::BehaviourObjective;
use crate::pipeline::behaviour::{circuit_of, fit_behaviour, percent_deviance, resample_inputs};
use crate::rule::{term_names, Rule, TaylorRule, Variables};
use crate::Result;

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

pub(super) fn fly_draw(
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
    let (training, kept_trials) = settings.training_trials(recording);
    let fit_first = fit_behaviour(&dataset(&training)?, &fit_settings, keep_going)?;
    let inputs = resample_inputs(&full, seed)?;
    let session = full.session_with_inputs(0, &inputs);
    let circuit = circuit_of(&full, settings.weight_bound);
    let heldout_total = heldout_loss(&circuit, &fit_first.outcome.theta, session, kept_trials)?;
    let heldout = percent_deviance(
        heldout_total,
        heldout_null_loss(
            &circuit,
            fit_first.outcome.theta.len(),
            session,
            kept_trials,
        )?,
    );
    let heldout_decisions = heldout_decisions(session, kept_trials);
    let heldout_loss_per_decision =
        (heldout_decisions > 0).then(|| heldout_total / heldout_decisions as f64);
    let block_choice_fractions = if full.kind() == BehaviourKind::Choice {
        let odours = full.session_odours(0);
        block_means(
            &second_odour_probabilities(&circuit, &fit_all.outcome.theta, session, odours)?,
            FLY_BLOCK_TRIALS,
        )
    } else {
        Vec::new()
    };
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
    let choice = full.kind() == BehaviourKind::Choice;
    let intervals = if settings.intervals
        && draw < settings.interval_draws.max(1)
        && (choice || recording.n_rejections() > 0)
    {
        let objective = BehaviourObjective::new(
            &full,
            inputs.clone(),
            circuit,
            TaylorRule::new(Variables::Xywr),
            fit_settings.gradient,
        )?;
        let n = full.n_decisions(0) as f64;
        let (minimum, minimum_loss) = maximum_likelihood(
            &objective,
            &indices,
            &fit_all.outcome.theta,
            settings.profile.minimum_iterations,
        )?;
        let laplace = laplace_intervals(&full, &inputs, &circuit, &minimum, &indices)?;
        let (posterior, divergences) = posterior_summaries(
            (&full, &inputs, circuit),
            (&minimum, &indices),
            &laplace,
            settings,
            n,
        )?;
        posterior_divergences = divergences;
        indices
            .iter()
            .zip(&terms)
            .zip(laplace.iter().zip(&posterior))
            .map(|((&k, term), (laplace, posterior))| {
                let ProfileInterval {
                    estimate,
                    lower,
                    upper,
                    converged,
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
                    profile_converged: Some(converged),
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
        negative_log_likelihood: fit_all.metrics.final_loss * full.n_decisions(0) as f64,
        theta,
        stop_reason: serde_json::to_value(&fit_all.outcome.stop_reason)
            .ok()
            .and_then(|v| v.get("reason").and_then(|r| r.as_str()).map(String::from))
            .unwrap_or_default(),
        intervals,
        posterior_divergences,
        block_choice_fractions,
        heldout_loss_per_decision,
    })
}

/// The decisions of trials `kept_trials..` of `session`: their presentations
/// (accept/reject), or their choices.
fn heldout_decisions(session: BehaviourSession<'_>, kept_trials: usize) -> usize {
    let held_out = |p: usize| session.trial_of_presentation[p] as usize >= kept_trials;
    match session.kind {
        BehaviourKind::AcceptReject => (0..session.n_presentations())
            .filter(|&p| held_out(p))
            .count(),
        BehaviourKind::Choice => (0..session.n_presentations())
            .filter(|&p| held_out(p) && session.decisions[p] == 1)
            .count(),
    }
}

/// A two-odour choice session replayed with the Taylor rule `θ`: per trial with a
/// choice, the model's probability of choosing odour 1, `exp(−ℓ)` when it was chosen
/// and `1 − exp(−ℓ)` otherwise (`ℓ = −log P(chosen)`).
fn second_odour_probabilities(
    circuit: &BehaviourCircuit,
    theta: &[f64],
    session: BehaviourSession<'_>,
    odours: &[i64],
) -> Result<Vec<f64>> {
    let rule = Rule::taylor(Variables::Xywr);
    let mut probabilities = Vec::new();
    replay_session(circuit, &rule, theta, session, |p, _, _, loss| {
        if session.decisions[p] == 1 {
            let chosen = (-loss).exp();
            probabilities.push(if odours[p] == 1 { chosen } else { 1.0 - chosen });
        }
    })?;
    Ok(probabilities)
}

/// With `settings.posterior`, the posterior of the model's coefficients sampled by
/// NUTS around the maximum-likelihood `minimum` (each chain started within one Laplace
/// standard error per term: 0.1 where undetermined, at most 1), summarised per term,
/// and the chains' divergences; otherwise no summaries.
fn posterior_summaries(
    (full, inputs, circuit): (&BehaviourDataset, &ndarray::Array3<f64>, BehaviourCircuit),
    (minimum, indices): (&[f64], &[usize]),
    laplace: &[Option<(f64, f64)>],
    settings: &FlySettings,
    n: f64,
) -> Result<(Vec<Option<CoordinateSummary>>, Option<usize>)> {
    let Some(nuts) = &settings.posterior else {
        return Ok((vec![None; indices.len()], None));
    };
    let prior = crate::analysis::posterior::Prior::from_penalty(
        settings.fit.l1,
        settings.fit.l2,
        n,
        crate::analysis::posterior::WEAK_PRIOR_SD,
    )?;
    let density = crate::analysis::posterior::BehaviourPosterior::new(
        full,
        inputs.clone(),
        circuit,
        TaylorRule::new(Variables::Xywr),
        minimum.to_vec(),
        indices.to_vec(),
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
    let divergences = chains.iter().map(|c| c.divergences).sum();
    let summaries = crate::analysis::posterior::summarise(&chains);
    Ok((summaries.into_iter().map(Some).collect(), Some(divergences)))
}

/// Cross-entropy summed over the presentations of trials `kept_trials..` of `session`,
/// the Taylor rule `θ` run over the whole session (`kept_trials = 0`: all of them).
pub(crate) fn heldout_loss(
    circuit: &BehaviourCircuit,
    theta: &[f64],
    session: BehaviourSession<'_>,
    kept_trials: usize,
) -> Result<f64> {
    let rule = Rule::taylor(Variables::Xywr);
    let mut total = 0.0;
    replay_session(circuit, &rule, theta, session, |p, _, _, loss| {
        if session.trial_of_presentation[p] as usize >= kept_trials {
            total += loss;
        }
    })?;
    Ok(total)
}

/// The null model's loss on the trials `kept_trials..` of `session` (as
/// [`heldout_loss`]): the rule `θ = 0` replayed (accept/reject), or chance, `ln K` per
/// choice among `K` options (see [`crate::pipeline::behaviour::null_losses`]).
pub(crate) fn heldout_null_loss(
    circuit: &BehaviourCircuit,
    n_parameters: usize,
    session: BehaviourSession<'_>,
    kept_trials: usize,
) -> Result<f64> {
    if session.kind == BehaviourKind::AcceptReject {
        return heldout_loss(circuit, &vec![0.0; n_parameters], session, kept_trials);
    }
    let mut total = 0.0;
    crate::data::behaviour::for_each_trial(session.trial_of_presentation, |range| {
        let held_out = session.trial_of_presentation[range.start] as usize >= kept_trials;
        if held_out && session.decisions[range.clone()].contains(&1) {
            total += (range.len() as f64).ln();
        }
    });
    Ok(total)
}

/// Median over the draws that have intervals of each interval's estimate and ends (an
/// end unbounded in any of them stays unbounded).
pub(super) fn median_intervals(draws: &[FlyDraw]) -> Vec<CoefficientInterval> {
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
                profile_converged: draws
                    .iter()
                    .map(|d| d.intervals[i].profile_converged)
                    .collect::<Option<Vec<bool>>>()
                    .map(|all| all.iter().all(|&c| c)),
            }
        })
        .collect()
}
