//! The likelihood of recorded spikes when some populations are latent: the recorded
//! neurons teacher-forced, the latent ones by expectation
//! ([`SpikingState::teacher_forced`]), and the loss, its gradient and the Fisher
//! information by forward-mode dual numbers carrying every parameter's derivative
//! (`N` lanes, `N ≥ P`; memory independent of the number of steps).
//!
//! With latent neurons the state that depends on θ is no longer only `W` and `V`: a
//! latent neuron's expected spike `ŝ = p(u)`, its traces and its membrane's expected
//! reset all carry derivatives, and every synapse from or onto it changes each step.
//! Dual numbers propagate all of them through the one step of the circuit; the
//! hand-written sensitivities of [`super::forward`] and [`super::adjoint`] cover the
//! fully recorded case, where the two agree (tested). The Fisher information is that of
//! the recorded spikes given the expected latent activity, `Σ I(u) (∂u/∂θ)(∂u/∂θ)ᵀ`.

use num_dual::DualSVec64;
use rand::rngs::ChaCha8Rng;

use super::system::LikelihoodSystem;
use super::SpikeTrial;
use crate::circuit::spiking::{Decision, SpikingCircuit, SpikingState};

/// Loss, gradient and (with `fisher`) Fisher information of one trial, latent
/// populations by expectation. θ must have at most
/// [`crate::circuit::spiking::MAX_MEAN_FIELD_PARAMETERS`] parameters
/// ([`SpikingCircuit::check_mean_field`]).
pub fn likelihood_mean_field(
    circuit: &SpikingCircuit,
    theta: &[f64],
    trial: SpikeTrial<'_>,
    fisher: bool,
) -> LikelihoodSystem {
    match theta.len() {
        0..=2 => lanes::<2>(circuit, theta, trial, fisher),
        3..=4 => lanes::<4>(circuit, theta, trial, fisher),
        5..=8 => lanes::<8>(circuit, theta, trial, fisher),
        9..=12 => lanes::<12>(circuit, theta, trial, fisher),
        _ => lanes::<16>(circuit, theta, trial, fisher),
    }
}

fn lanes<const N: usize>(
    circuit: &SpikingCircuit,
    theta: &[f64],
    trial: SpikeTrial<'_>,
    fisher: bool,
) -> LikelihoodSystem {
    let n_p = theta.len();
    assert!(
        n_p <= N,
        "{n_p} parameters exceed the dual numbers' {N} lanes (check_mean_field refuses this)"
    );
    let dual: Vec<DualSVec64<N>> = theta
        .iter()
        .enumerate()
        .map(|(k, &v)| DualSVec64::from_re(v).derivative(k))
        .collect();
    let mut system = LikelihoodSystem::empty(n_p, fisher);
    let mut state = SpikingState::<DualSVec64<N>>::teacher_forced(circuit, trial.initial_weights);
    let mut tangent = [0.0; N];
    for t in 0..trial.steps {
        let spikes = trial.raster.at(t);
        circuit.begin_step(&mut state, spikes);
        circuit.decide::<_, ChaCha8Rng>(
            &mut state,
            Decision::Forced(spikes),
            |_, u, spike, escape| {
                let Some(observation) = escape.log_likelihood(u.re, spike) else {
                    return;
                };
                match u.eps.0.as_ref() {
                    Some(eps) => tangent.copy_from_slice(eps.as_slice()),
                    None => tangent.fill(0.0),
                }
                system.observe(observation, &tangent[..n_p]);
            },
        );
        circuit.finish_step(&dual, &mut state, trial.reward_at(t), |_| {});
    }
    system.symmetrize();
    system
}
