//! Reverse mode of the teacher-forced spike-train likelihood, checkpointed: the
//! forward pass keeps the circuit's state every `K` steps; the backward pass reruns one
//! segment at a time from its checkpoint, keeping each step's state, and runs the
//! adjoint through it. Memory `(⌈T/K⌉ + K)` states, `K = ⌈√T⌉` by default.
//!
//! Backward through step `t` with `W̄ = ∂L/∂W_{t+1}` and the carried `∂L/∂V_{t+1}`:
//! 1. the update: for every synapse the rule changed, `θ̄ += W̄_k η φ(v)` and
//!    `W̄_k ← (1 + η ∂g/∂w) W̄_k` (0 where the bounds clipped it);
//! 2. `V̄_t,i = −∂ log p/∂u` plus `α V̄_{t+1,i}` when `V_{t+1,i}` integrated `V_t,i`;
//! 3. the input: `W̄_k += J V̄_t,i` for every synapse into a neuron not held whose
//!    presynaptic neuron spiked.

use rand::rngs::ChaCha8Rng;

use super::{update_partials, SpikeTrial};
use crate::circuit::spiking::{Decision, SpikingCircuit, SpikingKind, SpikingState};
use crate::gradient::GradientStrategy;
use crate::rule::spike::SpikeVariables;

/// Buffers of the adjoint, reused across trials.
#[derive(Debug, Default)]
pub struct AdjointWorkspace {
    checkpoints: Vec<SpikingState<f64>>,
    tape: Vec<SpikingState<f64>>,
    weights_adjoint: Vec<f64>,
    membrane_adjoint: Vec<f64>,
    carried: Vec<f64>,
    features: Vec<f64>,
}

/// `L` and `∂L/∂θ` (added into `gradient`) of one trial by the adjoint, with
/// segments of the strategy's length (forward mode's whole-trajectory meaning is
/// taken as the full tape). Returns `L`. A circuit with latent populations goes to
/// [`super::mean_field::likelihood_mean_field`].
pub fn likelihood_adjoint(
    circuit: &SpikingCircuit,
    theta: &[f64],
    trial: SpikeTrial<'_>,
    strategy: GradientStrategy,
    workspace: &mut AdjointWorkspace,
    gradient: &mut [f64],
) -> f64 {
    if circuit.has_latent() {
        // latent neurons carry derivatives this pass does not: the dual lanes
        let system = super::mean_field::likelihood_mean_field(circuit, theta, trial, false);
        for (g, s) in gradient.iter_mut().zip(&system.gradient) {
            *g += s;
        }
        return system.loss;
    }
    let steps = trial.steps;
    let segment = strategy.segment_length(steps);
    let AdjointWorkspace {
        checkpoints,
        tape,
        weights_adjoint,
        membrane_adjoint,
        carried,
        features,
    } = workspace;
    // forward: the state before each segment's first step
    let mut state = SpikingState::<f64>::new(circuit, trial.initial_weights);
    let n_segments = steps.div_ceil(segment);
    checkpoints.truncate(n_segments);
    let mut loss = 0.0;
    for t in 0..steps {
        if t % segment == 0 {
            let c = t / segment;
            if c < checkpoints.len() {
                checkpoints[c].clone_from(&state);
            } else {
                checkpoints.push(state.clone());
            }
        }
        loss += forced_step(circuit, theta, &mut state, trial, t, None);
    }
    // backward
    weights_adjoint.clear();
    weights_adjoint.resize(circuit.n_synapses(), 0.0);
    membrane_adjoint.clear();
    membrane_adjoint.resize(circuit.n_neurons(), 0.0);
    carried.clear();
    carried.resize(circuit.n_neurons(), 0.0);
    features.clear();
    features.resize(circuit.n_parameters(), 0.0);
    for c in (0..n_segments).rev() {
        let first = c * segment;
        let last = (first + segment).min(steps);
        state.clone_from(&checkpoints[c]);
        while tape.len() < last - first {
            tape.push(state.clone());
        }
        for (slot, t) in (first..last).enumerate() {
            forced_step(circuit, theta, &mut state, trial, t, Some(&mut tape[slot]));
        }
        for (slot, t) in (first..last).enumerate().rev() {
            let taped = &tape[slot];
            backward_step(
                circuit,
                theta,
                taped,
                trial.reward_at(t),
                (weights_adjoint, membrane_adjoint, carried),
                features,
                gradient,
            );
        }
    }
    loss
}

/// One teacher-forced step; with `keep`, the state after the spikes and before the
/// update (what the backward step needs) is copied into it. Returns the step's loss.
fn forced_step(
    circuit: &SpikingCircuit,
    theta: &[f64],
    state: &mut SpikingState<f64>,
    trial: SpikeTrial<'_>,
    t: usize,
    keep: Option<&mut SpikingState<f64>>,
) -> f64 {
    let spikes = trial.raster.at(t);
    circuit.begin_step(state, spikes);
    let mut loss = 0.0;
    circuit.decide::<f64, ChaCha8Rng>(state, Decision::Forced(spikes), |_, u, spike, escape| {
        if let Some((ll, _, _)) = escape.log_likelihood(u, spike) {
            loss -= ll;
        }
    });
    if let Some(keep) = keep {
        keep.clone_from(state);
    }
    circuit.finish_step(theta, state, trial.reward_at(t), |_| {});
    loss
}

/// Backward through one step (see the module's documentation) from its taped state.
fn backward_step(
    circuit: &SpikingCircuit,
    theta: &[f64],
    taped: &SpikingState<f64>,
    reward: f64,
    (weights_adjoint, membrane_adjoint, carried): (&mut [f64], &mut [f64], &mut [f64]),
    features: &mut [f64],
    gradient: &mut [f64],
) {
    // 1. the update
    for (p, projection) in circuit.projections().iter().enumerate() {
        let Some(r) = projection.rule else { continue };
        let rule = &circuit.rules()[r].rule;
        let range = circuit.theta_range(r);
        let w_start = circuit.weight_range(p).start;
        let (x, y) = (taped.x_trace_of(p), taped.y_trace_of(p));
        let (x2, y2) = taped.second_traces_of(p);
        let lists = (&taped.previous_list[..], &taped.current_list[..]);
        circuit.visit_updates(
            p,
            &taped.previous,
            &taped.current,
            lists,
            |k, i, j, s_pre, s_post| {
                let k = w_start + k;
                let v = SpikeVariables {
                    s_pre,
                    s_post,
                    x_trace: x[j],
                    y_trace: y[i],
                    w: taped.weights[k],
                    r: reward,
                    x2_trace: x2[j],
                    y2_trace: y2[i],
                };
                let phi = &mut features[..range.len()];
                let (_, clipped, slope) = update_partials(
                    circuit,
                    rule,
                    &theta[range.clone()],
                    projection.learning_rate,
                    &v,
                    phi,
                );
                let lambda = weights_adjoint[k];
                if clipped {
                    weights_adjoint[k] = 0.0;
                    return;
                }
                for (g, &f) in gradient[range.clone()].iter_mut().zip(phi.iter()) {
                    *g += lambda * f;
                }
                weights_adjoint[k] = lambda * slope;
            },
        );
    }
    // 2. the membranes
    for (p, population) in circuit.populations().iter().enumerate() {
        let SpikingKind::Lif(neuron) = population.kind else {
            continue;
        };
        let threshold = |i: usize| {
            neuron.threshold
                + neuron
                    .adaptation
                    .map_or(0.0, |a| a.increment * taped.adaptation[i])
        };
        for i in circuit.neuron_range(p) {
            let mut adjoint = carried[i];
            if !taped.held[i] {
                let u = taped.v[i] - threshold(i);
                if let Some((_, slope, _)) = neuron.escape.log_likelihood(u, taped.current[i]) {
                    adjoint -= slope;
                }
            }
            membrane_adjoint[i] = adjoint;
            carried[i] = if taped.integrated[i] {
                neuron.leak * adjoint
            } else {
                0.0
            };
        }
    }
    // 3. the input
    let lists = (&taped.previous_list[..], &taped.current_list[..]);
    circuit.visit_inputs(lists, &taped.held, |i, k, scale| {
        weights_adjoint[k] += scale * membrane_adjoint[i];
    });
}
