//! Trajectory gradient strategies: the hand-written reverse-mode adjoint of a whole
//! simulated trajectory.
//!
//! The forward pass keeps the weights only every `K` steps (checkpoints, `K ≈ √T` by
//! default); the backward pass recomputes one segment of `K` steps at a time from its
//! checkpoint and runs the adjoint through it. Memory is `(⌈T/K⌉ + K) × synapses`
//! instead of `T × synapses`; [`GradientStrategy::FullTape`] keeps every step (one
//! segment of length `T`). Both give bit-identical results. [`forward`] computes the
//! same gradient in forward mode, in memory independent of `T`.

use crate::circuit::NeuralCircuit;
use crate::data::NeuralTrajectory;
use crate::rule::PlasticityRule;
use crate::scalar::Scalar;

pub mod forward;
pub mod network;
#[cfg(test)]
pub(crate) mod tests;

#[cfg(test)]
mod choice_tests {
    use super::*;

    #[test]
    fn the_adjoint_when_it_fits_forward_mode_when_only_it_fits() {
        // paper scale, T = 50: 0.4 MB of data per trajectory, tape 40 MB
        let small = choose_strategy(50 * 50 * 1100 * 8, 100_000, 27, 50, 1 << 30).unwrap();
        assert_eq!(small.strategy, GradientStrategy::FullTape);
        assert_eq!(small.adjoint_bytes, 50 * 50 * 1100 * 8 + 50 * 800_000);
        // T = 1e5: 880 MB of data over a 512 MiB budget; 22 MB of tangents
        let long = choose_strategy(880_000_000, 100_000, 27, 100_000, 512 << 20).unwrap();
        assert_eq!(long.strategy, GradientStrategy::Forward);
        assert_eq!(long.forward_bytes, 100_000 * 8 * 28);
        assert!(long.reason.contains("forward mode"), "{}", long.reason);
        // the tape beyond 64 MiB is checkpointed: 2⌈√T⌉ weight matrices
        let checkpointed = choose_strategy(0, 100_000, 27, 10_000, u64::MAX).unwrap();
        assert_eq!(checkpointed.strategy, GradientStrategy::Checkpointed);
        assert_eq!(checkpointed.adjoint_bytes, 200 * 800_000);
        // nothing fits
        let error = choose_strategy(880_000_000, 100_000, 27, 100_000, 1 << 20).unwrap_err();
        assert!(
            error.to_string().contains("neither strategy fits"),
            "{error}"
        );
    }
}

pub use network::{replay_session, SessionLoss};

/// How the trajectory gradient is computed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GradientStrategy {
    /// Keep the weights of every step (memory grows as steps × synapses).
    FullTape,
    /// Keep weight checkpoints every `⌈√T⌉` steps and recompute each segment in the
    /// backward pass; when the whole tape of a neural trajectory fits in
    /// [`FULL_TAPE_BUDGET_BYTES`], keep it and skip the recomputation.
    #[default]
    Checkpointed,
    /// Checkpoints every given number of steps.
    CheckpointEvery(usize),
    /// Forward mode ([`forward`]): the sensitivities `∂W_t/∂θ` carried along with the
    /// simulation; memory `synapses × parameters`, independent of the number of steps.
    Forward,
}

/// The largest tape (weights of every step of one trajectory) that
/// [`GradientStrategy::Checkpointed`] keeps whole rather than recomputing (64 MiB).
pub const FULL_TAPE_BUDGET_BYTES: usize = 64 << 20;

impl GradientStrategy {
    /// Segment length for a trajectory of `steps` steps whose weights take
    /// `bytes_per_step` bytes: the whole trajectory when `Checkpointed` and the tape
    /// fits in [`FULL_TAPE_BUDGET_BYTES`], else [`GradientStrategy::segment_length`].
    pub fn segment_length_within_budget(self, steps: usize, bytes_per_step: usize) -> usize {
        match self {
            GradientStrategy::Checkpointed
                if steps.saturating_mul(bytes_per_step) <= FULL_TAPE_BUDGET_BYTES =>
            {
                steps.max(1)
            }
            other => other.segment_length(steps),
        }
    }

    /// Segment length for a trajectory of `steps` steps.
    pub fn segment_length(self, steps: usize) -> usize {
        match self {
            // forward mode keeps no tape; as a segment length it means "whole"
            GradientStrategy::FullTape | GradientStrategy::Forward => steps.max(1),
            GradientStrategy::Checkpointed => ((steps as f64).sqrt().ceil() as usize).max(1),
            GradientStrategy::CheckpointEvery(k) => k.clamp(1, steps.max(1)),
        }
    }
}

/// The strategy [`choose_strategy`] picked, and why (for the user and the results).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StrategyChoice {
    /// The strategy.
    pub strategy: GradientStrategy,
    /// Bytes the adjoint would hold: the whole recording plus one tape.
    pub adjoint_bytes: u64,
    /// Bytes forward mode would hold: the tangents (the recording streams).
    pub forward_bytes: u64,
    /// Why, in words.
    pub reason: String,
}

/// Chooses how to differentiate a recording of `steps` steps per trajectory, whose
/// arrays take `data_bytes` in all, through a layer of `synapses` synapses and a rule
/// of `parameters` parameters, within `budget_bytes` of memory.
///
/// The cost model: the adjoint needs the whole recording in memory plus one tape: the
/// whole tape `T × synapses × 8` bytes when that fits in [`FULL_TAPE_BUDGET_BYTES`]
/// ([`GradientStrategy::FullTape`], 2 forward passes' cost), else `2⌈√T⌉` checkpointed
/// weight matrices ([`GradientStrategy::Checkpointed`], about 3);
/// forward mode ([`GradientStrategy::Forward`]) streams the recording and holds
/// `synapses × parameters × 8` bytes of tangents, but costs about `P/5` forward
/// passes per step (measured: 5× the adjoint's time at 100→1000 with 27 terms, 2.5×
/// on the behaviour circuit with 81). So: the adjoint whenever it fits in the budget,
/// forward mode when only it fits, an error when neither does.
pub fn choose_strategy(
    data_bytes: u64,
    synapses: u64,
    parameters: u64,
    steps: u64,
    budget_bytes: u64,
) -> crate::Result<StrategyChoice> {
    let weights = synapses.saturating_mul(8);
    let whole_tape = steps.saturating_mul(weights);
    let tape = if whole_tape <= FULL_TAPE_BUDGET_BYTES as u64 {
        whole_tape
    } else {
        let segment = (steps as f64).sqrt().ceil() as u64;
        (2 * segment).min(steps).saturating_mul(weights)
    };
    let adjoint_bytes = data_bytes.saturating_add(tape);
    let forward_bytes = weights.saturating_mul(parameters.saturating_add(1));
    let size = crate::limits::format_bytes;
    if adjoint_bytes <= budget_bytes {
        // the whole tape when it is small (what Checkpointed would keep anyway)
        let (strategy, tape_kind) = if whole_tape <= FULL_TAPE_BUDGET_BYTES as u64 {
            (GradientStrategy::FullTape, "the whole tape")
        } else {
            (
                GradientStrategy::Checkpointed,
                "a tape of 2⌈√T⌉ checkpoints",
            )
        };
        Ok(StrategyChoice {
            strategy,
            adjoint_bytes,
            forward_bytes,
            reason: format!(
                "the adjoint fits: the recording and {tape_kind}, {} in all, within the budget of {} (it is several times faster than forward mode)",
                size(adjoint_bytes),
                size(budget_bytes)
            ),
        })
    } else if forward_bytes <= budget_bytes {
        Ok(StrategyChoice {
            strategy: GradientStrategy::Forward,
            adjoint_bytes,
            forward_bytes,
            reason: format!(
                "the adjoint would need {} (recording and tape), over the budget of {}; forward mode streams the recording with {} of tangents",
                size(adjoint_bytes),
                size(budget_bytes),
                size(forward_bytes)
            ),
        })
    } else {
        Err(crate::Error::config(
            "gradient",
            format!(
                "neither strategy fits in {}: the adjoint needs {}, forward mode {}",
                size(budget_bytes),
                size(adjoint_bytes),
                size(forward_bytes)
            ),
        ))
    }
}

/// Buffers for one trajectory's forward and backward pass, allocated once and reused
/// across trajectories of the same shape (no allocation per step).
#[derive(Debug, Default)]
pub struct NeuralWorkspace<S> {
    weights: Vec<S>,
    pre: Vec<S>,
    post: Vec<S>,
    next_pre: Vec<S>,
    next_post: Vec<S>,
    checkpoints: Vec<S>,
    segment_weights: Vec<S>,
    segment_post: Vec<S>,
    weights_adjoint: Vec<S>,
    post_adjoint: Vec<S>,
    theta_adjoint: Vec<S>,
    scratch: Vec<S>,
}

impl<S: Scalar> NeuralWorkspace<S> {
    /// Empty buffers; sized on first use.
    pub fn new() -> Self {
        NeuralWorkspace {
            weights: Vec::new(),
            pre: Vec::new(),
            post: Vec::new(),
            next_pre: Vec::new(),
            next_post: Vec::new(),
            checkpoints: Vec::new(),
            segment_weights: Vec::new(),
            segment_post: Vec::new(),
            weights_adjoint: Vec::new(),
            post_adjoint: Vec::new(),
            theta_adjoint: Vec::new(),
            scratch: Vec::new(),
        }
    }
}

/// Sizes a buffer whose every entry is written before it is read (the tape and the
/// checkpoints): no clearing when it already has the size (a 40 MB tape cleared on
/// every call was a tenth of a gradient's time).
fn resize_for_overwrite<S: Scalar>(buffer: &mut Vec<S>, len: usize) {
    if buffer.len() != len {
        resize(buffer, len);
    }
}

fn resize<S: Scalar>(buffer: &mut Vec<S>, len: usize) {
    buffer.clear();
    buffer.resize(len, S::zero());
}

fn load<S: Scalar>(target: &mut [S], source: &[f64]) {
    for (t, &s) in target.iter_mut().zip(source) {
        *t = S::from_f64(s);
    }
}

/// Sum of squared errors of one step over the recorded neurons, and (optionally) its
/// gradient `2 (y_i − ŷ_i)` written into `post_adjoint` (zero for unrecorded neurons).
#[inline]
fn step_error<S: Scalar>(
    post: &[S],
    recorded: &[f64],
    neurons: &[usize],
    post_adjoint: Option<&mut [S]>,
) -> S {
    let mut sse = S::zero();
    match post_adjoint {
        Some(adjoint) => {
            adjoint.iter_mut().for_each(|a| *a = S::zero());
            for (&i, &target) in neurons.iter().zip(recorded) {
                let residual = post[i] - S::from_f64(target);
                sse += residual * residual;
                adjoint[i] = S::from_f64(2.0) * residual;
            }
        }
        None => {
            for (&i, &target) in neurons.iter().zip(recorded) {
                let residual = post[i] - S::from_f64(target);
                sse += residual * residual;
            }
        }
    }
    sse
}

/// Sum over steps and recorded neurons of `(y_t,i − ŷ_t,i)²` for one trajectory
/// simulated with `θ` (forward only; generic so that dual numbers can differentiate it).
pub fn neural_trajectory_sse<S: Scalar, R: PlasticityRule>(
    circuit: &NeuralCircuit,
    rule: &R,
    theta: &[S],
    trajectory: NeuralTrajectory<'_>,
    workspace: &mut NeuralWorkspace<S>,
) -> S {
    let (n_pre, n_post) = (circuit.n_pre, circuit.n_post);
    let n_rec = trajectory.recorded_neurons.len();
    let ws = workspace;
    resize(&mut ws.weights, circuit.n_synapses());
    load(&mut ws.weights, trajectory.initial_weights);
    resize(&mut ws.pre, n_pre);
    resize(&mut ws.post, n_post);
    resize(&mut ws.scratch, circuit.scratch_len(rule));
    resize(&mut ws.next_pre, n_pre);
    resize(&mut ws.next_post, n_post);
    let input = |t: usize| &trajectory.inputs[t * n_pre..(t + 1) * n_pre];
    let mut sse = S::zero();
    load(&mut ws.pre, input(0));
    circuit.activity(&ws.pre, &ws.weights, &mut ws.post);
    for t in 0..trajectory.steps {
        sse += step_error(
            &ws.post,
            &trajectory.recorded_activity[t * n_rec..(t + 1) * n_rec],
            trajectory.recorded_neurons,
            None,
        );
        if t + 1 < trajectory.steps {
            load(&mut ws.next_pre, input(t + 1));
            circuit.plasticity_then_activity(
                rule,
                theta,
                &ws.pre,
                &ws.post,
                &mut ws.weights,
                &mut ws.scratch,
                &ws.next_pre,
                &mut ws.next_post,
            );
            std::mem::swap(&mut ws.pre, &mut ws.next_pre);
            std::mem::swap(&mut ws.post, &mut ws.next_post);
        }
    }
    sse
}

/// The sum of squared errors of one trajectory and its gradient with respect to `θ`
/// (added to `gradient`), by the reverse-mode adjoint with the given strategy.
///
/// The last step's weight update cannot affect any recorded activity, so it is skipped.
pub fn neural_trajectory_sse_and_gradient<S: Scalar, R: PlasticityRule>(
    circuit: &NeuralCircuit,
    rule: &R,
    theta: &[S],
    trajectory: NeuralTrajectory<'_>,
    strategy: GradientStrategy,
    workspace: &mut NeuralWorkspace<S>,
    gradient: &mut [S],
) -> S {
    let (n_pre, n_post, n_syn) = (circuit.n_pre, circuit.n_post, circuit.n_synapses());
    let n_rec = trajectory.recorded_neurons.len();
    let steps = trajectory.steps;
    let segment = strategy.segment_length_within_budget(steps, n_syn * std::mem::size_of::<S>());
    let n_segments = steps.div_ceil(segment);
    let ws = workspace;
    prepare_neural_workspace(
        circuit,
        rule,
        theta.len(),
        trajectory,
        ws,
        segment,
        n_segments,
    );

    let input = |t: usize| &trajectory.inputs[t * n_pre..(t + 1) * n_pre];
    let target = |t: usize| &trajectory.recorded_activity[t * n_rec..(t + 1) * n_rec];

    // Forward: loss, and a checkpoint at the start of every segment.
    // One segment: the forward pass records the tape itself, nothing is recomputed.
    let whole_tape = n_segments == 1;
    resize(&mut ws.next_pre, n_pre);
    resize(&mut ws.next_post, n_post);
    let mut sse = S::zero();
    load(&mut ws.pre, input(0));
    circuit.activity(&ws.pre, &ws.weights, &mut ws.post);
    for t in 0..steps {
        if t % segment == 0 {
            let k = t / segment;
            ws.checkpoints[k * n_syn..(k + 1) * n_syn].copy_from_slice(&ws.weights);
        }
        if whole_tape {
            ws.segment_weights[t * n_syn..(t + 1) * n_syn].copy_from_slice(&ws.weights);
            ws.segment_post[t * n_post..(t + 1) * n_post].copy_from_slice(&ws.post);
        }
        sse += step_error(&ws.post, target(t), trajectory.recorded_neurons, None);
        if t + 1 < steps {
            load(&mut ws.next_pre, input(t + 1));
            circuit.plasticity_then_activity(
                rule,
                theta,
                &ws.pre,
                &ws.post,
                &mut ws.weights,
                &mut ws.scratch,
                &ws.next_pre,
                &mut ws.next_post,
            );
            std::mem::swap(&mut ws.pre, &mut ws.next_pre);
            std::mem::swap(&mut ws.post, &mut ws.next_post);
        }
    }

    // Backward, segment by segment from the last.
    for k in (0..n_segments).rev() {
        let start = k * segment;
        let end = (start + segment).min(steps);
        ws.weights
            .copy_from_slice(&ws.checkpoints[k * n_syn..(k + 1) * n_syn]);
        if !whole_tape {
            recompute_segment(circuit, rule, theta, trajectory, ws, (start, end));
        }
        for t in (start..end).rev() {
            let local = t - start;
            load(&mut ws.pre, input(t));
            let post = &ws.segment_post[local * n_post..(local + 1) * n_post];
            step_error(
                post,
                target(t),
                trajectory.recorded_neurons,
                Some(&mut ws.post_adjoint),
            );
            let weights_before = &ws.segment_weights[local * n_syn..(local + 1) * n_syn];
            if t + 1 < steps {
                circuit.step_vjp(
                    rule,
                    theta,
                    &ws.pre,
                    post,
                    weights_before,
                    &mut ws.weights_adjoint,
                    &mut ws.post_adjoint,
                    &mut ws.theta_adjoint,
                    &mut ws.scratch,
                );
            } else {
                // The last step: only the activity path (∂L/∂W_T = 0).
                circuit.activity_vjp(&ws.pre, post, &mut ws.weights_adjoint, &ws.post_adjoint);
            }
        }
    }
    for (g, a) in gradient.iter_mut().zip(&ws.theta_adjoint) {
        *g += *a;
    }
    sse
}

/// Sizes the buffers of `ws` for one trajectory (segments of `segment` steps,
/// `n_segments` of them; `n_theta` parameters) and loads its `W₀`.
#[inline]
fn prepare_neural_workspace<S: Scalar, R: PlasticityRule>(
    circuit: &NeuralCircuit,
    rule: &R,
    n_theta: usize,
    trajectory: NeuralTrajectory<'_>,
    ws: &mut NeuralWorkspace<S>,
    segment: usize,
    n_segments: usize,
) {
    let (n_pre, n_post, n_syn) = (circuit.n_pre, circuit.n_post, circuit.n_synapses());
    resize(&mut ws.weights, n_syn);
    load(&mut ws.weights, trajectory.initial_weights);
    resize(&mut ws.pre, n_pre);
    resize(&mut ws.post, n_post);
    resize(&mut ws.scratch, circuit.scratch_len(rule));
    resize_for_overwrite(&mut ws.checkpoints, n_segments * n_syn);
    resize_for_overwrite(&mut ws.segment_weights, segment * n_syn);
    resize_for_overwrite(&mut ws.segment_post, segment * n_post);
    resize(&mut ws.weights_adjoint, n_syn);
    resize(&mut ws.post_adjoint, n_post);
    resize(&mut ws.theta_adjoint, n_theta);
}

/// Recomputes the weights and activity of the steps `start..end` from the segment's
/// checkpoint (already in `ws.weights`) into `ws.segment_weights` and `ws.segment_post`.
#[inline]
fn recompute_segment<S: Scalar, R: PlasticityRule>(
    circuit: &NeuralCircuit,
    rule: &R,
    theta: &[S],
    trajectory: NeuralTrajectory<'_>,
    ws: &mut NeuralWorkspace<S>,
    (start, end): (usize, usize),
) {
    let (n_pre, n_post, n_syn) = (circuit.n_pre, circuit.n_post, circuit.n_synapses());
    let input = |t: usize| &trajectory.inputs[t * n_pre..(t + 1) * n_pre];
    load(&mut ws.pre, input(start));
    circuit.activity(&ws.pre, &ws.weights, &mut ws.segment_post[..n_post]);
    for t in start..end {
        let local = t - start;
        ws.segment_weights[local * n_syn..(local + 1) * n_syn].copy_from_slice(&ws.weights);
        if t + 1 < end {
            load(&mut ws.next_pre, input(t + 1));
            let (done, next) = ws.segment_post.split_at_mut((local + 1) * n_post);
            circuit.plasticity_then_activity(
                rule,
                theta,
                &ws.pre,
                &done[local * n_post..],
                &mut ws.weights,
                &mut ws.scratch,
                &ws.next_pre,
                &mut next[..n_post],
            );
            std::mem::swap(&mut ws.pre, &mut ws.next_pre);
        }
    }
}
