//! Forward mode of the teacher-forced spike-train likelihood: the sensitivities
//! `S = ∂W_t/∂θ` (synapses × P) and `D = ∂V_t/∂θ` (neurons × P) carried along with the
//! simulation, in memory independent of the number of steps.
//!
//! Per step: `D_i ← α D_i` where `V_i` integrated its previous value (else 0), then
//! `D_i += J S_k` for every synapse `k` into `i` whose presynaptic neuron spiked; the
//! loss's gradient gains `−∂ log p/∂u · D_i` and the Fisher information
//! `I(u) D_i D_iᵀ`; every synapse the rule updates gets
//! `S_k ← (1 + η ∂g/∂w) S_k + η φ(v)` (the rule's own parameters), or 0 where the
//! bounds clipped it.

use rand::rngs::ChaCha8Rng;

pub use super::system::LikelihoodSystem;
use super::{update_partials, SpikeTrial};
use crate::circuit::spiking::{Decision, SpikingCircuit, SpikingState};
use crate::rule::spike::SpikeVariables;

/// Buffers of forward mode, reused across trials.
#[derive(Debug, Default)]
pub struct ForwardWorkspace {
    membrane_tangents: Vec<f64>,
    weight_tangents: Vec<f64>,
    features: Vec<f64>,
}

/// Forward mode over one trial (see the module's documentation). With `fisher`, the
/// Fisher information is accumulated too. A circuit with latent populations goes to
/// [`super::mean_field::likelihood_mean_field`].
pub fn likelihood_forward(
    circuit: &SpikingCircuit,
    theta: &[f64],
    trial: SpikeTrial<'_>,
    fisher: bool,
    workspace: &mut ForwardWorkspace,
) -> LikelihoodSystem {
    if circuit.has_latent() {
        // latent neurons carry derivatives this pass does not: the dual lanes
        return super::mean_field::likelihood_mean_field(circuit, theta, trial, fisher);
    }
    let n_p = circuit.n_parameters();
    let mut state = SpikingState::<f64>::new(circuit, trial.initial_weights);
    let ForwardWorkspace {
        membrane_tangents: d,
        weight_tangents: s,
        features,
    } = workspace;
    d.clear();
    d.resize(circuit.n_neurons() * n_p, 0.0);
    s.clear();
    s.resize(circuit.n_synapses() * n_p, 0.0);
    features.clear();
    features.resize(n_p, 0.0);
    let mut system = LikelihoodSystem::empty(n_p, fisher);
    for t in 0..trial.steps {
        let spikes = trial.raster.at(t);
        circuit.begin_step(&mut state, spikes);
        membrane_tangents(circuit, &state, d, s, n_p);
        circuit.decide::<f64, ChaCha8Rng>(
            &mut state,
            Decision::Forced(spikes),
            |i, u, spike, escape| {
                if let Some(observation) = escape.log_likelihood(u, spike) {
                    system.observe(observation, &d[i * n_p..(i + 1) * n_p]);
                }
            },
        );
        // the update itself too (what finish_step does, without evaluating g twice)
        weight_tangents(
            circuit,
            theta,
            &mut state,
            trial.reward_at(t),
            s,
            features,
            n_p,
        );
    }
    system.symmetrize();
    system
}

/// `D_i ← α D_i` (or 0) and `D_i += J S_k` over this step's presynaptic spikes.
fn membrane_tangents(
    circuit: &SpikingCircuit,
    state: &SpikingState<f64>,
    d: &mut [f64],
    s: &[f64],
    n_p: usize,
) {
    use crate::circuit::spiking::SpikingKind;
    for (p, population) in circuit.populations().iter().enumerate() {
        let SpikingKind::Lif(neuron) = population.kind else {
            continue;
        };
        for i in circuit.neuron_range(p) {
            let di = &mut d[i * n_p..(i + 1) * n_p];
            if state.integrated[i] {
                di.iter_mut().for_each(|x| *x *= neuron.leak);
            } else {
                di.iter_mut().for_each(|x| *x = 0.0);
            }
        }
    }
    let lists = (&state.previous_list[..], &state.current_list[..]);
    circuit.visit_inputs(lists, &state.held, |i, k, scale| {
        let (di, sk) = (&mut d[i * n_p..(i + 1) * n_p], &s[k * n_p..(k + 1) * n_p]);
        for (x, &y) in di.iter_mut().zip(sk) {
            *x += scale * y;
        }
    });
}

/// `S_k ← (1 + η ∂g/∂w) S_k + η φ(v)` for every synapse updated this step (0 where
/// clipped), at the weights before the update; then the update `W ← clip(W + η g)`.
fn weight_tangents(
    circuit: &SpikingCircuit,
    theta: &[f64],
    state: &mut SpikingState<f64>,
    reward: f64,
    s: &mut [f64],
    features: &mut [f64],
    n_p: usize,
) {
    for (p, projection) in circuit.projections().iter().enumerate() {
        let Some(r) = projection.rule else { continue };
        let rule = &circuit.rules()[r].rule;
        let range = circuit.theta_range(r);
        let w_start = circuit.weight_range(p).start;
        let (weights, (x, y, x2, y2), (previous, current), lists) = state.update_parts(p);
        circuit.visit_updates(p, previous, current, lists, |k, i, j, s_pre, s_post| {
            let k = w_start + k;
            let v = SpikeVariables {
                s_pre,
                s_post,
                x_trace: x[j],
                y_trace: y[i],
                w: weights[k],
                r: reward,
                x2_trace: x2[j],
                y2_trace: y2[i],
            };
            let phi = &mut features[..range.len()];
            let (updated, clipped, slope) = update_partials(
                circuit,
                rule,
                &theta[range.clone()],
                projection.learning_rate,
                &v,
                phi,
            );
            weights[k] = updated;
            let sk = &mut s[k * n_p..(k + 1) * n_p];
            if clipped {
                sk.iter_mut().for_each(|x| *x = 0.0);
                return;
            }
            sk.iter_mut().for_each(|x| *x *= slope);
            for (x, &f) in sk[range.clone()].iter_mut().zip(phi.iter()) {
                *x += f;
            }
        });
    }
}
