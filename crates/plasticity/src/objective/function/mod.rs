//! Function objectives (issue 12): a loss on what a circuit does after learning with
//! `g_θ`, averaged over freshly sampled tasks, instead of a loss against a recording.
//!
//! Each objective is a task sampler (task `k` of a run with seed `s` is drawn from its
//! own ChaCha8 stream, see [`task_rng`](crate::task::covariance::task_rng)), a learning
//! phase in which the circuit runs with `g_θ`, and a loss on the result. They implement
//! the same [`Objective`](super::Objective) seam as the data objectives: the "items" are
//! task indices, so the optimizer draws a fresh batch of tasks at every meta-step by
//! asking for new indices. Per-task losses and gradients are computed in parallel,
//! collected in order and summed sequentially: bit-identical whatever the thread count.
//!
//! The gradients are hand-written reverse passes through the whole learning phase
//! (and, for memory, recall), checkpointed with `Checkpoints` so that memory
//! goes with `√T` states rather than `T`. Tests check them against forward-mode dual
//! numbers and central finite differences.

pub mod components;
pub mod memory;
pub mod pca;
pub mod phase_memory;
pub mod target_rate;

pub use components::{ComponentsEvaluation, ComponentsObjective, ComponentsTask};
pub use memory::{MemoryEvaluation, MemoryObjective, MemoryTask, RecallDynamics};
pub use pca::{PcaEvaluation, PcaObjective, PcaTask};
pub use phase_memory::{PhaseEvaluation, PhaseMemoryObjective, PhaseMemoryTask};
pub use target_rate::{TargetRateEvaluation, TargetRateObjective, TargetRateTask};

use rayon::prelude::*;

/// A function objective: a loss per task index, with its gradient. Every such
/// objective is an [`Objective`](super::Objective) whose items are task indices (any
/// index is a task: `n_items` is `usize::MAX`), averaged in parallel and summed in
/// order.
pub trait FunctionObjective: Sync {
    /// Number of rule parameters θ.
    fn n_parameters(&self) -> usize;
    /// The loss of task `index` at `θ`.
    fn task_loss_value(&self, theta: &[f64], index: usize) -> f64;
    /// The loss of task `index` at `θ`; its gradient is added to `gradient`.
    fn task_loss_and_gradient(&self, theta: &[f64], index: usize, gradient: &mut [f64]) -> f64;
}

impl<T: FunctionObjective> super::Objective for T {
    fn n_parameters(&self) -> usize {
        FunctionObjective::n_parameters(self)
    }

    fn n_items(&self) -> usize {
        usize::MAX
    }

    fn loss(&self, theta: &[f64], items: &[usize]) -> f64 {
        mean_loss(items, |k| self.task_loss_value(theta, k))
    }

    fn loss_and_gradient(&self, theta: &[f64], items: &[usize], gradient: &mut [f64]) -> f64 {
        let n = FunctionObjective::n_parameters(self);
        mean_loss_and_gradient(items, n, gradient, |k, g| {
            self.task_loss_and_gradient(theta, k, g)
        })
    }
}

/// The checkpoints of a forward pass over `n_steps` steps of a state of `dim` numbers,
/// one every `segment` steps, for a backward pass that recomputes each segment's
/// states: memory `(n_steps / segment + segment) × dim` instead of `n_steps × dim`.
pub(crate) struct Checkpoints {
    n_steps: usize,
    segment: usize,
    dim: usize,
    stored: Vec<f64>,
}

impl Checkpoints {
    /// Runs `forward(t, state)` (which advances `state` from step `t` to `t + 1`) for
    /// `t = 0 … n_steps − 1`, keeping a checkpoint every `segment` steps; on return
    /// `state` holds the final state.
    pub(crate) fn forward(
        n_steps: usize,
        segment: usize,
        state: &mut [f64],
        mut forward: impl FnMut(usize, &mut [f64]),
    ) -> Checkpoints {
        let dim = state.len();
        let segment = segment.max(1);
        let n_segments = n_steps.div_ceil(segment);
        let mut stored = vec![0.0; n_segments * dim];
        for s in 0..n_segments {
            stored[s * dim..(s + 1) * dim].copy_from_slice(state);
            for t in s * segment..((s + 1) * segment).min(n_steps) {
                forward(t, state);
            }
        }
        Checkpoints {
            n_steps,
            segment,
            dim,
            stored,
        }
    }

    /// Calls `backward(t, state_t)` for `t = n_steps − 1, …, 0` with the state before
    /// step `t`, recomputing each segment from its checkpoint with the same `forward`.
    pub(crate) fn backward(
        &self,
        mut forward: impl FnMut(usize, &mut [f64]),
        mut backward: impl FnMut(usize, &[f64]),
    ) {
        let dim = self.dim;
        let mut states = vec![0.0; self.segment * dim];
        let mut current = vec![0.0; dim];
        for s in (0..self.n_steps.div_ceil(self.segment)).rev() {
            let start = s * self.segment;
            let end = ((s + 1) * self.segment).min(self.n_steps);
            current.copy_from_slice(&self.stored[s * dim..(s + 1) * dim]);
            for t in start..end {
                states[(t - start) * dim..(t - start + 1) * dim].copy_from_slice(&current);
                forward(t, &mut current);
            }
            for t in (start..end).rev() {
                backward(t, &states[(t - start) * dim..(t - start + 1) * dim]);
            }
        }
    }
}

/// The segment length `⌈√n⌉` that minimises the checkpointed pass's memory.
pub(crate) fn sqrt_segment(n_steps: usize) -> usize {
    ((n_steps as f64).sqrt().ceil() as usize).max(1)
}

/// Mean over `items` of `task(item, gradient_slot)`, with the per-task gradients
/// averaged into `gradient`; parallel, summed in order.
pub(crate) fn mean_loss_and_gradient(
    items: &[usize],
    n_parameters: usize,
    gradient: &mut [f64],
    task: impl Fn(usize, &mut [f64]) -> f64 + Sync,
) -> f64 {
    let results: Vec<(f64, Vec<f64>)> = items
        .par_iter()
        .map(|&item| {
            let mut g = vec![0.0; n_parameters];
            let loss = task(item, &mut g);
            (loss, g)
        })
        .collect();
    gradient.iter_mut().for_each(|g| *g = 0.0);
    let mut total = 0.0;
    let scale = 1.0 / items.len().max(1) as f64;
    for (loss, g) in &results {
        total += loss;
        for (sum, v) in gradient.iter_mut().zip(g) {
            *sum += v * scale;
        }
    }
    total * scale
}

/// Mean over `items` of `task(item)`; parallel, summed in order.
pub(crate) fn mean_loss(items: &[usize], task: impl Fn(usize) -> f64 + Sync) -> f64 {
    let losses: Vec<f64> = items.par_iter().map(|&item| task(item)).collect();
    losses.iter().sum::<f64>() / items.len().max(1) as f64
}

/// The gradient tests' oracle: asserts that the reverse-mode `gradient` at `theta`
/// equals forward-mode dual numbers (`dual_loss`, one direction per parameter) to 1e-9
/// and, when `finite_differences` is set, central differences of `loss` (h = 1e-6) to
/// 1e-5, both relative to `max(|∂L/∂θ_k|, 1e-3)`.
#[cfg(test)]
pub(crate) fn assert_gradient_matches(
    theta: &[f64],
    gradient: &[f64],
    dual_loss: impl Fn(&[num_dual::Dual64]) -> num_dual::Dual64,
    loss: impl Fn(&[f64]) -> f64,
    finite_differences: bool,
) {
    for (k, &reverse) in gradient.iter().enumerate() {
        let dual: Vec<num_dual::Dual64> = theta
            .iter()
            .enumerate()
            .map(|(j, &v)| num_dual::Dual64::new(v, if j == k { 1.0 } else { 0.0 }))
            .collect();
        let exact = dual_loss(&dual).eps;
        let scale = exact.abs().max(1e-3);
        assert!(
            (reverse - exact).abs() <= 1e-9 * scale,
            "θ_{k}: {reverse} vs dual {exact}"
        );
        if finite_differences {
            let h = 1e-6;
            let (mut plus, mut minus) = (theta.to_vec(), theta.to_vec());
            plus[k] += h;
            minus[k] -= h;
            let fd = (loss(&plus) - loss(&minus)) / (2.0 * h);
            assert!(
                (reverse - fd).abs() <= 1e-5 * scale,
                "θ_{k}: {reverse} vs finite differences {fd}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scalar map `s ← s² / 2 + a_t s` run backwards through checkpoints gives the
    /// same states and adjoints as a plain stored pass.
    #[test]
    fn checkpointed_reverse_pass_visits_every_state_in_reverse() {
        let a: Vec<f64> = (0..23).map(|t| 0.1 * t as f64 - 0.9).collect();
        let step = |t: usize, s: &mut [f64]| s[0] = 0.5 * s[0] * s[0] + a[t] * s[0];
        let mut stored = vec![0.3];
        let mut trajectory = Vec::new();
        for t in 0..23 {
            trajectory.push(stored[0]);
            step(t, &mut stored);
        }
        for segment in [1, 4, 5, 23, 40] {
            let mut state = vec![0.3];
            let mut visited = Vec::new();
            let checkpoints = Checkpoints::forward(23, segment, &mut state, step);
            checkpoints.backward(step, |t, s| visited.push((t, s[0])));
            assert_eq!(state[0], stored[0]);
            let expected: Vec<(usize, f64)> = (0..23).rev().map(|t| (t, trajectory[t])).collect();
            assert_eq!(visited, expected, "segment {segment}");
        }
    }
}
