//! The working memory of a circuit fit, checked against the limit before it
//! allocates (see [`crate::limits`]).

use crate::data::CircuitDataset;
use crate::gradient::GradientStrategy;
use crate::Result;

/// The bytes a circuit fit of `dataset` needs at least: the dataset's arrays and the
/// fit's working memory. Levenberg–Marquardt (`levenberg_marquardt`) holds a
/// Gauss–Newton system (`JᵀJ` and `Jᵀr` over the `A` rule parameters) per trajectory
/// and three more (their sum, the damped matrix and its factor), and, per thread, the
/// tangents `∂W/∂θ` and `∂y/∂θ` (synapses + 2 × neurons, times `A`); the adjoint (L-BFGS)
/// holds, per thread, the tape of one segment of a trajectory (weights and activity of
/// each of its steps: all of them for the full tape or a short trajectory, about √T
/// checkpointed), the segment checkpoints and four more states. `None` if that
/// overflows a `u64`.
pub fn circuit_fit_bytes(
    dataset: &CircuitDataset,
    strategy: GradientStrategy,
    levenberg_marquardt: bool,
    threads: usize,
) -> Option<u64> {
    use crate::limits::f64_bytes;
    let network = &dataset.network;
    let (n, n_syn, steps) = (network.n_neurons(), network.n_synapses(), dataset.steps);
    let threads = threads.max(1);
    let working = if levenberg_marquardt {
        let a = network.n_parameters();
        let system = a.checked_mul(a)?.checked_add(a)?;
        let systems = f64_bytes(&[dataset.trajectories.checked_add(3)?, system])?;
        let tangents = f64_bytes(&[threads, n.checked_mul(2)?.checked_add(n_syn)?, a])?;
        systems.checked_add(tangents)?
    } else {
        let state = n.checked_add(n_syn)?;
        let segment = strategy.segment_length_within_budget(steps, state.checked_mul(8)?);
        let n_segments = steps.div_ceil(segment);
        let checkpoints = if n_segments > 1 { n_segments } else { 0 };
        let states = segment.checked_add(checkpoints)?.checked_add(5)?;
        f64_bytes(&[threads, states, state])?
    };
    let arrays = dataset
        .drive
        .len()
        .checked_add(dataset.initial_weights.len())?
        .checked_add(dataset.recorded_activity.len())?;
    f64_bytes(&[arrays])?.checked_add(working)
}

/// Refuses, before the fit allocates, a circuit fit whose dataset and working memory
/// ([`circuit_fit_bytes`]) exceed the memory limit; the error names what would fit
/// (the checkpointed adjoint, L-BFGS, fewer threads).
pub(super) fn check_circuit_fit_memory(
    dataset: &CircuitDataset,
    strategy: GradientStrategy,
    levenberg_marquardt: bool,
) -> Result<()> {
    let threads = rayon::current_num_threads();
    let bytes = |strategy, lm, threads| circuit_fit_bytes(dataset, strategy, lm, threads);
    let mut alternatives = Vec::new();
    if levenberg_marquardt {
        alternatives.push((
            "--solver lbfgs".to_string(),
            bytes(GradientStrategy::Checkpointed, false, threads),
        ));
    } else if strategy != GradientStrategy::Checkpointed {
        alternatives.push((
            "--gradient checkpointed".to_string(),
            bytes(GradientStrategy::Checkpointed, false, threads),
        ));
    }
    if let Some(fewer) = (1..threads).rev().find(|&t| {
        bytes(strategy, levenberg_marquardt, t)
            .is_some_and(|b| b <= crate::limits::max_dataset_bytes())
    }) {
        alternatives.push((
            format!("{fewer} thread(s) (RAYON_NUM_THREADS={fewer})"),
            bytes(strategy, levenberg_marquardt, fewer),
        ));
    }
    let network = &dataset.network;
    crate::limits::check_working_bytes(
        &format!(
            "fitting {} trajectories × {} steps of a circuit of {} neurons and {} synapses ({}, {threads} thread(s))",
            dataset.trajectories,
            dataset.steps,
            network.n_neurons(),
            network.n_synapses(),
            if levenberg_marquardt {
                "Levenberg–Marquardt".to_string()
            } else {
                format!("L-BFGS, {strategy:?} gradient")
            }
        ),
        bytes(strategy, levenberg_marquardt, threads),
        &alternatives,
    )
}
