//! The Q-learning baseline fitted to one fly, reported like a plasticity model.

use super::model::{CoefficientInterval, FlyDraw, FlyModelFit, ModelFamily, Q_LEARNING_MODEL};
use super::settings::{first_trials, FlySettings};
use crate::analysis::profile::profile_interval;
use crate::baseline::{fit_q_learning, q_learning_losses, QLearningObjective, QLearningParameters};
use crate::data::FlyRecording;
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
