//! The spiking target-rate job of `plasticity discover` (issue 28, point 5): the
//! learned inhibitory rule on held-out networks beside Vogels' rule (Vogels et al.,
//! Science 2011) at its best learning rate on validation networks, and without
//! plasticity.

use serde::{Deserialize, Serialize};

use super::{geometric_grid, tune_scale};
use crate::objective::function::target_rate::{TARGET_RATE_TERMS, TRACE_TAU_MS};
use crate::objective::function::{TargetRateEvaluation, TargetRateObjective};
use crate::rule::spike::SpikeRule;

/// What a spiking target-rate job measured.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TargetRateReport {
    /// The target rate `ρ₀` (Hz).
    pub target_rate_hz: f64,
    /// The learned rule as an expression over its terms (θ, times `η`).
    pub learned_rule: String,
    /// The learned rule on the held-out networks.
    pub learned: TargetRateEvaluation,
    /// Vogels' rule `c [1, 1, −2ρ₀τ]` at the `c` tuned on the validation networks.
    pub vogels: TargetRateEvaluation,
    /// That `c` (θ units: the synapses' step is `η c`).
    pub vogels_scale: f64,
    /// Vogels' rule at that scale, as an expression.
    pub vogels_rule: String,
    /// No plasticity (`θ = 0`): the rates the rule must bring down.
    pub no_plasticity: TargetRateEvaluation,
    /// `−θ_{s_pre} / θ_{s_post*x_trace}` of the learned rule.
    pub ratio_s_pre_to_s_post_x_trace: f64,
    /// `−θ_{s_pre} / θ_{s_pre*y_trace}` of the learned rule.
    pub ratio_s_pre_to_s_pre_y_trace: f64,
    /// Vogels' `α = 2 ρ₀ τ` (ρ₀ in spikes per ms, `τ` = 20 ms).
    pub vogels_alpha: f64,
    /// The postsynaptic rate at which the learned rule's mean drift vanishes for
    /// uncorrelated spikes: `E[Δw] ∝ ρ_pre ((θ₁ + θ₂) τ ρ_post + θ₃)`, so
    /// `ρ* = −θ₃ / ((θ₁ + θ₂) τ)` (Hz; Vogels: `α/(2τ) = ρ₀`).
    pub fixed_point_rate_hz: f64,
}

impl TargetRateReport {
    /// The metrics (public keys).
    pub fn metrics(&self) -> serde_json::Value {
        serde_json::json!({
            "target_rate_hz": self.target_rate_hz,
            "rate_error_mean": self.learned.mean_relative_error,
            "rate_error_worst": self.learned.worst_relative_error,
            "rate_error_neuron_rms": self.learned.neuron_rms_relative_error,
            "excitatory_rate_hz": mean(&self.learned.mean_rate_hz),
            "loss": self.learned.loss,
            "vogels_rate_error_mean": self.vogels.mean_relative_error,
            "vogels_rate_error_worst": self.vogels.worst_relative_error,
            "vogels_rate_error_neuron_rms": self.vogels.neuron_rms_relative_error,
            "vogels_excitatory_rate_hz": mean(&self.vogels.mean_rate_hz),
            "vogels_loss": self.vogels.loss,
            "vogels_rule": self.vogels_rule,
            "no_plasticity_excitatory_rate_hz": mean(&self.no_plasticity.mean_rate_hz),
            "ratio_s_pre_to_s_post_x_trace": self.ratio_s_pre_to_s_post_x_trace,
            "ratio_s_pre_to_s_pre_y_trace": self.ratio_s_pre_to_s_pre_y_trace,
            "vogels_alpha": self.vogels_alpha,
            "fixed_point_rate_hz": self.fixed_point_rate_hz,
            "held_out_networks": self.learned.tasks,
        })
    }
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

/// Evaluates `theta` on `held_out` networks of seed `held_out.0`, beside Vogels' rule
/// with its scale tuned (lowest mean loss on a geometric grid 0.03 … 30) on the
/// `validation` networks, and beside no plasticity.
pub fn evaluate_target_rate(
    objective: &TargetRateObjective,
    theta: &[f64],
    validation: (u64, usize),
    held_out: (u64, usize),
) -> crate::Result<TargetRateReport> {
    let task = objective.task();
    let rule = SpikeRule::from_names(&TARGET_RATE_TERMS[..])?;
    let eta = task.learning_rate;
    let scaled = |theta: &[f64]| theta.iter().map(|v| v * eta).collect::<Vec<f64>>();
    let learned = objective.evaluate(theta, held_out.0, held_out.1);
    let (scale, _) = tune_scale(&geometric_grid(0.03, 30.0, 19), |c| {
        -objective
            .evaluate(&task.vogels_theta(c), validation.0, validation.1)
            .loss
    });
    let vogels_theta = task.vogels_theta(scale);
    let vogels = objective.evaluate(&vogels_theta, held_out.0, held_out.1);
    let no_plasticity = objective.evaluate(&[0.0; 3], held_out.0, held_out.1);
    Ok(TargetRateReport {
        target_rate_hz: task.target_rate_hz,
        learned_rule: rule.expression(&scaled(theta)),
        learned,
        vogels,
        vogels_scale: scale,
        vogels_rule: rule.expression(&scaled(&vogels_theta)),
        no_plasticity,
        ratio_s_pre_to_s_post_x_trace: -theta[2] / theta[0],
        ratio_s_pre_to_s_pre_y_trace: -theta[2] / theta[1],
        vogels_alpha: 2.0 * task.target_rate_hz / 1000.0 * TRACE_TAU_MS,
        fixed_point_rate_hz: -1000.0 * theta[2] / ((theta[0] + theta[1]) * TRACE_TAU_MS),
    })
}
