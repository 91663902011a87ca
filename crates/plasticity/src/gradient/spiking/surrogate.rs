//! Gradients through free-running spiking simulations with a surrogate derivative of
//! the spike ([`Surrogate`]): the spike counts of every neuron over a window and their
//! θ-derivatives, by forward-mode dual numbers carrying every parameter (memory
//! independent of the number of steps). Function objectives (a target rate) build
//! their loss's gradient from these.
//!
//! A surrogate gradient is not the loss's derivative: the simulated counts are
//! piecewise constant in θ. What is exact is the propagation of the defined surrogate
//! `∂s/∂u` through the membranes, resets, traces, inputs and rule updates (tested
//! against single-direction dual numbers through the same generic run).

use num_dual::DualSVec64;
use rand::Rng;

use crate::circuit::spiking::{Decision, SpikeRaster, SpikingCircuit, SpikingState, Surrogate};
use crate::scalar::Scalar;

/// Spike counts over a window and their derivatives.
#[derive(Clone, Debug, PartialEq)]
pub struct SurrogateCounts {
    /// Per neuron, its spikes in the window.
    pub counts: Vec<f64>,
    /// Per neuron, `∂count/∂θ` under the surrogate, neurons × P row-major.
    pub derivatives: Vec<f64>,
}

/// Runs the circuit free for the sources' steps (neurons drawn from `rng`) with θ and
/// `W₀`, every spike carrying the surrogate derivative, and calls `spike(t, i, s)` for
/// each neuron `i` not held at step `t` with its spike as a scalar.
pub fn run_with_surrogate<S: Scalar, R: Rng>(
    circuit: &SpikingCircuit,
    theta: &[S],
    initial_weights: &[f64],
    sources: &SpikeRaster,
    rng: &mut R,
    surrogate: Surrogate,
    mut spike: impl FnMut(usize, usize, S),
) {
    let mut state = SpikingState::<S>::with_surrogate(circuit, initial_weights, surrogate);
    for t in 0..sources.steps() {
        circuit.begin_step(&mut state, sources.at(t));
        circuit.decide(&mut state, Decision::Drawn(&mut *rng), |_, _, _, _| {});
        for (p, population) in circuit.populations().iter().enumerate() {
            if matches!(
                population.kind,
                crate::circuit::spiking::SpikingKind::Lif(_)
            ) {
                for i in circuit.neuron_range(p) {
                    if !state.held[i] {
                        spike(t, i, state.expected[i]);
                    }
                }
            }
        }
        state.current_list.sort_unstable();
        circuit.finish_step(theta, &mut state, 0.0, |_| {});
    }
}

/// The spike counts of every neuron over the steps in `window` and their surrogate
/// θ-derivatives. θ has at most
/// [`crate::circuit::spiking::MAX_MEAN_FIELD_PARAMETERS`] parameters.
pub fn surrogate_spike_counts<R: Rng>(
    circuit: &SpikingCircuit,
    theta: &[f64],
    initial_weights: &[f64],
    sources: &SpikeRaster,
    rng: &mut R,
    window: std::ops::Range<usize>,
    surrogate: Surrogate,
) -> SurrogateCounts {
    let run = (circuit, theta, initial_weights, sources, window, surrogate);
    match theta.len() {
        0..=2 => lanes::<2, R>(run, rng),
        3..=4 => lanes::<4, R>(run, rng),
        5..=8 => lanes::<8, R>(run, rng),
        _ => lanes::<16, R>(run, rng),
    }
}

type Run<'a> = (
    &'a SpikingCircuit,
    &'a [f64],
    &'a [f64],
    &'a SpikeRaster,
    std::ops::Range<usize>,
    Surrogate,
);

fn lanes<const N: usize, R: Rng>(
    (circuit, theta, initial_weights, sources, window, surrogate): Run<'_>,
    rng: &mut R,
) -> SurrogateCounts {
    let n_p = theta.len();
    assert!(
        n_p <= N,
        "{n_p} parameters exceed the dual numbers' {N} lanes"
    );
    let dual: Vec<DualSVec64<N>> = theta
        .iter()
        .enumerate()
        .map(|(k, &v)| DualSVec64::from_re(v).derivative(k))
        .collect();
    let n = circuit.n_neurons();
    let mut counts = vec![0.0; n];
    let mut derivatives = vec![0.0; n * n_p];
    run_with_surrogate(
        circuit,
        &dual,
        initial_weights,
        sources,
        rng,
        surrogate,
        |t, i, s| {
            if !window.contains(&t) {
                return;
            }
            counts[i] += s.re;
            if let Some(eps) = s.eps.0.as_ref() {
                for (d, &e) in derivatives[i * n_p..(i + 1) * n_p]
                    .iter_mut()
                    .zip(eps.iter())
                {
                    *d += e;
                }
            }
        },
    );
    SurrogateCounts {
        counts,
        derivatives,
    }
}
