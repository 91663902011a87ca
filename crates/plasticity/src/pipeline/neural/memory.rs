//! The working memory of a neural fit, checked against the limit before it
//! allocates (see [`crate::limits`]).

use crate::data::NeuralDataset;
use crate::gradient::GradientStrategy;
use crate::rule::Variables;

/// The bytes a neural fit of `dataset` needs at least: the dataset's arrays and, for
/// each of `threads` threads, a gradient workspace holding the weights of one segment
/// of a trajectory (all its steps for the full tape or a short trajectory, about √T for
/// the checkpointed adjoint), the segment checkpoints and four more weight matrices —
/// or, in forward mode, the tangents of 27 parameters per synapse (an MLP's may be
/// more) and two more matrices; `None` if that overflows a `u64`.
pub fn neural_fit_bytes(
    dataset: &NeuralDataset,
    strategy: GradientStrategy,
    threads: usize,
) -> Option<u64> {
    use crate::limits::f64_bytes;
    let synapses = dataset.n_post().checked_mul(dataset.n_pre())?;
    let steps = dataset.steps();
    let matrices = if strategy == GradientStrategy::Forward {
        Variables::Xyw.n_terms() + 2
    } else {
        let segment = strategy.segment_length_within_budget(steps, synapses.checked_mul(8)?);
        segment
            .checked_add(steps.div_ceil(segment))?
            .checked_add(4)?
    };
    let workspaces = f64_bytes(&[threads.max(1), matrices, synapses])?;
    let arrays =
        dataset.inputs.len() + dataset.initial_weights.len() + dataset.recorded_activity.len();
    f64_bytes(&[arrays])?.checked_add(workspaces)
}
