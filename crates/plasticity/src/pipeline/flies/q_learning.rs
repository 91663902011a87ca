//! The Q-learning baseline fitted to one fly, reported like a plasticity model.

use super::model::{
    block_means, CoefficientInterval, FlyDraw, FlyModelFit, ModelFamily,
    Q_LEARNING_FORGETTING_MODEL, Q_LEARNING_MODEL,
};
use super::settings::FlySettings;
use crate::analysis::profile::profile_interval;
use crate::baseline::{
    choice_q_learning_losses, fit_choice_q_learning, fit_q_learning, q_learning_losses,
    ChoiceQLearningObjective, ChoiceQLearningParameters, ChoiceQVariant, ChoiceSequence,
    QLearningObjective, QLearningParameters,
};
use crate::data::FlyRecording;
use crate::data::FLY_BLOCK_TRIALS;
use crate::pipeline::behaviour::percent_deviance;
use crate::Result;

/// The Q-learning baseline on one fly: maximum likelihood on all trials (with
/// profile intervals of its four parameters) and on the first trials (held-out test).
/// Its null model is `p = ½` (no values, no bias), the counterpart of `θ = 0`.
pub(super) fn q_learning_fit(
    recording: &FlyRecording,
    settings: &FlySettings,
) -> Result<FlyModelFit> {
    let all = fit_q_learning(
        std::slice::from_ref(recording),
        settings.q_learning_iterations,
    )?;
    let (training, kept_trials) = settings.training_trials(recording);
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
                    profile_converged: Some(interval.converged),
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
        block_choice_fractions: Vec::new(),
        heldout_loss_per_decision: (heldout_count > 0).then(|| heldout / heldout_count as f64),
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
        heldout_loss_per_decision: draw.heldout_loss_per_decision,
        draws: vec![draw],
        block_choice_fractions: Vec::new(),
    })
}

/// The choice task's Q-learning baseline (plain, or with forgetting) on one fly's
/// chosen odours and rewards ([`crate::baseline::choice_q_learning`]): maximum
/// likelihood on all trials (with profile intervals of its parameters) and on the
/// training trials (held-out test). Its null model is chance, `P = 1/K` (`ln K` per
/// trial), as the plasticity models' in the choice task.
pub(super) fn choice_q_learning_fit(
    recording: &FlyRecording,
    settings: &FlySettings,
    variant: ChoiceQVariant,
) -> Result<FlyModelFit> {
    let sequence = ChoiceSequence::from_recording(recording)?;
    let iterations = settings.q_learning_iterations;
    let all = fit_choice_q_learning(variant, std::slice::from_ref(&sequence), iterations)?;
    let (_, kept_trials) = settings.training_trials(recording);
    let first = fit_choice_q_learning(variant, &[sequence.first_trials(kept_trials)], iterations)?;
    let null_loss = (sequence.n_options as f64).ln();
    let (mut heldout, mut heldout_count) = (0.0, 0usize);
    choice_q_learning_losses(variant, &first.unconstrained, &sequence, |t, loss, _| {
        if t >= kept_trials {
            heldout += loss;
            heldout_count += 1;
        }
    })?;
    let mut second_option = Vec::with_capacity(sequence.n_trials());
    choice_q_learning_losses(variant, &all.unconstrained, &sequence, |_, _, p| {
        second_option.push(p[1])
    })?;
    let names = variant.parameter_names(sequence.n_options);
    let n = sequence.n_trials() as f64;
    let intervals = if settings.intervals {
        let sequences = [sequence.clone()];
        let objective = ChoiceQLearningObjective::new(variant, &sequences)?;
        let parameters: Vec<usize> = (0..names.len()).collect();
        let natural = |k: usize, phi: f64| -> Result<f64> {
            let mut unconstrained = all.unconstrained.clone();
            unconstrained[k] = phi;
            Ok(ChoiceQLearningParameters::from_unconstrained(
                variant,
                sequence.n_options,
                &unconstrained,
            )?
            .values()[k])
        };
        let estimates = all.parameters.values();
        parameters
            .iter()
            .map(|&k| {
                let interval = profile_interval(
                    &objective,
                    n,
                    &parameters,
                    &all.unconstrained,
                    all.mean_loss,
                    k,
                    &settings.profile,
                )?;
                // each map φ_k → parameter k is increasing: the ends map to the ends
                Ok(CoefficientInterval {
                    term: names[k].clone(),
                    estimate: estimates[k],
                    lower: interval.lower.map(|v| natural(k, v)).transpose()?,
                    upper: interval.upper.map(|v| natural(k, v)).transpose()?,
                    profile_converged: Some(interval.converged),
                    ..CoefficientInterval::default()
                })
            })
            .collect::<Result<Vec<_>>>()?
    } else {
        Vec::new()
    };
    let negative_log_likelihood = all.mean_loss * n;
    let block_choice_fractions = block_means(&second_option, FLY_BLOCK_TRIALS);
    let draw = FlyDraw {
        seed: 0,
        percent_deviance: percent_deviance(all.mean_loss, null_loss),
        heldout_percent_deviance: percent_deviance(heldout, null_loss * heldout_count as f64),
        negative_log_likelihood,
        theta: all.parameters.values(),
        stop_reason: serde_json::to_value(&all.stop_reason)
            .ok()
            .and_then(|v| v.get("reason").and_then(|r| r.as_str()).map(String::from))
            .unwrap_or_default(),
        intervals: intervals.clone(),
        posterior_divergences: None,
        block_choice_fractions: block_choice_fractions.clone(),
        heldout_loss_per_decision: (heldout_count > 0).then(|| heldout / heldout_count as f64),
    };
    Ok(FlyModelFit {
        fly: recording.name.clone(),
        model: match variant {
            ChoiceQVariant::Plain => Q_LEARNING_MODEL.into(),
            ChoiceQVariant::Forgetting => Q_LEARNING_FORGETTING_MODEL.into(),
        },
        family: ModelFamily::QLearning,
        terms: names,
        percent_deviance: draw.percent_deviance,
        heldout_percent_deviance: draw.heldout_percent_deviance,
        negative_log_likelihood,
        aic: 2.0 * draw.theta.len() as f64 + 2.0 * negative_log_likelihood,
        theta: draw.theta.clone(),
        intervals,
        heldout_loss_per_decision: draw.heldout_loss_per_decision,
        draws: vec![draw],
        block_choice_fractions,
    })
}
