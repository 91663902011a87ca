//! Free-running and teacher-forced runs of a spiking circuit that keep what a report
//! needs: the spikes, and the weights every so many steps.

use rand::Rng;

use super::{Decision, SpikeRaster, SpikingCircuit, SpikingState};

/// What a run keeps.
#[derive(Clone, Debug, PartialEq)]
pub struct SpikingRun {
    /// Every neuron's spikes (sources included).
    pub raster: SpikeRaster,
    /// The weights before step `t` for every `t` in `weight_steps`.
    pub weights: Vec<Vec<f64>>,
    /// The steps the weights were taken at (multiples of the interval, and the end).
    pub weight_steps: Vec<usize>,
    /// Weight updates the bounds clipped.
    pub clipped: usize,
}

/// What drives a run: the sources' spikes, optionally every neuron's recorded spikes
/// (teacher forcing), and the modulatory signal per step.
#[derive(Clone, Copy, Debug)]
pub struct RunDrive<'a> {
    /// The sources' spikes (their steps are the run's).
    pub sources: &'a SpikeRaster,
    /// Every neuron's spikes, when forced.
    pub forced: Option<&'a SpikeRaster>,
    /// `r_t` (0 when absent).
    pub reward: Option<&'a [f64]>,
}

/// Runs the circuit for the source raster's steps with θ and `W₀`, the sources
/// spiking as `sources` says and the neurons drawn from `rng` (`forced`: `None`) or as
/// `forced` records (teacher forcing: only the weights are computed). The weights are
/// kept every `weight_interval` steps (0: only at the start and the end).
pub fn run_circuit<R: Rng>(
    circuit: &SpikingCircuit,
    theta: &[f64],
    initial_weights: &[f64],
    drive: RunDrive<'_>,
    rng: &mut R,
    weight_interval: usize,
) -> SpikingRun {
    let RunDrive {
        sources,
        forced,
        reward,
    } = drive;
    let steps = sources.steps();
    let mut state = SpikingState::<f64>::new(circuit, initial_weights);
    let mut raster = SpikeRaster::new();
    let mut weights = Vec::new();
    let mut weight_steps = Vec::new();
    let mut clipped = 0;
    for t in 0..steps {
        if t == 0 || (weight_interval > 0 && t % weight_interval == 0) {
            weights.push(state.weights.clone());
            weight_steps.push(t);
        }
        match forced {
            Some(forced) => {
                let spikes = forced.at(t);
                circuit.begin_step(&mut state, spikes);
                circuit.decide(&mut state, Decision::<R>::Forced(spikes), |_, _, _, _| {});
            }
            None => {
                circuit.begin_step(&mut state, sources.at(t));
                circuit.decide(&mut state, Decision::Drawn(&mut *rng), |_, _, _, _| {});
            }
        }
        state.current_list.sort_unstable();
        raster.push_step(state.current_list.iter().copied());
        let r = reward.map_or(0.0, |r| r[t]);
        circuit.finish_step(theta, &mut state, r, |_| clipped += 1);
    }
    weights.push(state.weights.clone());
    weight_steps.push(steps);
    SpikingRun {
        raster,
        weights,
        weight_steps,
        clipped,
    }
}
