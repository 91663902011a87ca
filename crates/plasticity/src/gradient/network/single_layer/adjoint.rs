//! The single-layer fast path's reverse-mode adjoint (docs/model.md §3.1 recordings):
//! the sum of squared errors of one trajectory and its gradient, with the weights kept
//! every `K` steps and each segment recomputed in the backward pass (or the whole tape
//! when it fits in [`FULL_TAPE_BUDGET_BYTES`](crate::gradient::FULL_TAPE_BUDGET_BYTES)).
//! Generic over the scalar, so that dual numbers can check it and f32 can run it.

use super::step::SingleLayer;
use crate::data::NeuralTrajectory;
use crate::gradient::{load, resize, resize_for_overwrite, GradientStrategy};
use crate::rule::PlasticityRule;
use crate::scalar::Scalar;

/// Buffers for one trajectory's forward and backward pass, allocated once and reused
/// across trajectories of the same shape (no allocation per step).
#[derive(Debug, Default)]
pub struct SingleLayerWorkspace<S> {
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

impl<S: Scalar> SingleLayerWorkspace<S> {
    /// Empty buffers; sized on first use.
    pub fn new() -> Self {
        SingleLayerWorkspace {
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
    circuit: &SingleLayer,
    rule: &R,
    theta: &[S],
    trajectory: NeuralTrajectory<'_>,
    workspace: &mut SingleLayerWorkspace<S>,
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
    circuit: &SingleLayer,
    rule: &R,
    theta: &[S],
    trajectory: NeuralTrajectory<'_>,
    strategy: GradientStrategy,
    workspace: &mut SingleLayerWorkspace<S>,
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
    circuit: &SingleLayer,
    rule: &R,
    n_theta: usize,
    trajectory: NeuralTrajectory<'_>,
    ws: &mut SingleLayerWorkspace<S>,
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
    circuit: &SingleLayer,
    rule: &R,
    theta: &[S],
    trajectory: NeuralTrajectory<'_>,
    ws: &mut SingleLayerWorkspace<S>,
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
