//! The teacher-forced likelihood of recorded spike trains under a spiking circuit, and
//! its gradient in θ by the checkpointed adjoint ([`adjoint`]) or forward mode
//! ([`forward`]), with the Fisher information for Fisher scoring.
//!
//! Teacher forcing: the recorded spikes of every neuron drive the resets, the traces
//! and the presynaptic input, so the only state that depends on θ is the weights `W_t`
//! and through them the membranes `V_t`. The loss of one trajectory is the negative
//! log-likelihood of the recorded spikes of every neuron not held refractory,
//! `L = −Σ_t Σ_i log p(s_i,t | u_i,t)`, `u = V − ϑ` ([`Escape::log_likelihood`]), exact:
//! no surrogate derivative is involved.
//!
//! Latent (unrecorded) populations are treated by expectation
//! ([`SpikingState::teacher_forced`]); their gradient is [`mean_field`]'s.
//!
//! [`Escape::log_likelihood`]: crate::circuit::spiking::Escape::log_likelihood

pub mod adjoint;
pub mod forward;
#[cfg(test)]
mod latent_tests;
pub mod mean_field;
pub mod surrogate;
#[cfg(test)]
mod surrogate_tests;
mod system;
#[cfg(test)]
mod tests;

use rand::rngs::ChaCha8Rng;

use crate::circuit::spiking::{Decision, SpikeRaster, SpikingCircuit, SpikingState};
use crate::scalar::Scalar;

/// One recorded trajectory of a spiking circuit.
#[derive(Clone, Copy, Debug)]
pub struct SpikeTrial<'a> {
    /// Every neuron's spikes, step by step.
    pub raster: &'a SpikeRaster,
    /// `W₀`, projections concatenated.
    pub initial_weights: &'a [f64],
    /// The modulatory signal per step (0 when absent).
    pub reward: Option<&'a [f64]>,
    /// Steps to use (the first ones; at most the raster's).
    pub steps: usize,
}

impl SpikeTrial<'_> {
    /// The modulatory signal at step `t`.
    #[inline]
    pub fn reward_at(&self, t: usize) -> f64 {
        self.reward.map_or(0.0, |r| r[t])
    }
}

/// `L = −Σ log p(s | u)` over the trial with θ of any scalar kind (the dual-number
/// oracle, and the loss alone for real θ). Also returns the weights clipped.
pub fn negative_log_likelihood<S: Scalar>(
    circuit: &SpikingCircuit,
    theta: &[S],
    trial: SpikeTrial<'_>,
) -> (S, usize) {
    let mut state = SpikingState::<S>::teacher_forced(circuit, trial.initial_weights);
    let mut loss = S::zero();
    let mut clipped = 0;
    for t in 0..trial.steps {
        let spikes = trial.raster.at(t);
        circuit.begin_step(&mut state, spikes);
        circuit.decide::<S, ChaCha8Rng>(
            &mut state,
            Decision::Forced(spikes),
            |_, u, spike, escape| {
                loss -= escape.log_likelihood_generic(u, spike);
            },
        );
        circuit.finish_step(theta, &mut state, trial.reward_at(t), |_| clipped += 1);
    }
    (loss, clipped)
}

/// The loss of a trial for real θ, with the exact `log1p`/`expm1` forms.
pub fn trial_loss(circuit: &SpikingCircuit, theta: &[f64], trial: SpikeTrial<'_>) -> f64 {
    let mut state = SpikingState::<f64>::teacher_forced(circuit, trial.initial_weights);
    let mut loss = 0.0;
    for t in 0..trial.steps {
        let spikes = trial.raster.at(t);
        circuit.begin_step(&mut state, spikes);
        circuit.decide::<f64, ChaCha8Rng>(
            &mut state,
            Decision::Forced(spikes),
            |_, u, spike, escape| {
                if let Some((ll, _, _)) = escape.log_likelihood(u, spike) {
                    loss -= ll;
                }
            },
        );
        circuit.finish_step(theta, &mut state, trial.reward_at(t), |_| {});
    }
    loss
}

/// The partials of one synapse's update `W⁺ = clip(W + η g_θ(v))` at its weight
/// before: `(W⁺, whether clipped, ∂W⁺/∂W)`, and `∂W⁺/∂θ_k = η φ_k` written into
/// `features` (zeros when clipped).
#[inline]
pub(crate) fn update_partials(
    circuit: &SpikingCircuit,
    rule: &crate::rule::spike::SpikeRule,
    theta: &[f64],
    eta: f64,
    v: &crate::rule::spike::SpikeVariables,
    features: &mut [f64],
) -> (f64, bool, f64) {
    let (g, g_w) = rule.partials(theta, v, features);
    let updated = v.w + eta * g;
    if let Some((low, high)) = circuit.weight_bounds() {
        if updated > high || updated < low {
            features.iter_mut().for_each(|f| *f = 0.0);
            return (updated.clamp(low, high), true, 0.0);
        }
    }
    features.iter_mut().for_each(|f| *f *= eta);
    (updated, false, 1.0 + eta * g_w)
}
