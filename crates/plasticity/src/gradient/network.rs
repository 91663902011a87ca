//! The loss of a multi-population circuit ([`Network`]) over one trajectory, and its
//! checkpointed reverse-mode adjoint through recurrent dynamics and plasticity.
//!
//! Loss of one trajectory ([`TrajectoryLoss`]): the squared error
//! `Σ_t Σ_{i recorded} (y_t,i − ŷ_t,i)²`, or the binary cross-entropy of recorded
//! decisions `d_t,i ∈ {0, 1}` against `σ(z_t,i)`, the sigmoid of the recorded neurons'
//! net input, `(1/T) Σ_t Σ_{i recorded} softplus(z_t,i) − d_t,i z_t,i`, or the softmax
//! likelihood of choices among the options of consecutive steps
//! (`(1/C) Σ_sets [log Σ_k e^{z_k} − z_chosen]`, [`TrajectoryLoss::Softmax`]). The trajectory
//! may also give a modulatory signal `r_t` (the rules' `reward`) and a plasticity gate
//! per step. The state carried from step to step is `(W_t, y_t−1)`; checkpoints keep
//! it every `K` steps and the backward pass recomputes one segment at a time, so memory
//! is `(⌈T/K⌉ + K) × (synapses + neurons)`.

use super::{resize, resize_for_overwrite, GradientStrategy};
use crate::circuit::Network;
use crate::scalar::Scalar;

mod behaviour;
mod choice_sets;
mod neural;
pub mod single_layer;
pub use behaviour::{replay_session, BehaviourEngine, BehaviourTrajectory};
pub use neural::{EnginePath, NeuralEngine, NeuralOperation, NeuralSimulation, NeuralWorkspace};
pub use single_layer::NeuralForward;

pub use crate::circuit::trajectory::{NetworkTrajectory, TrajectoryLoss};

/// The loss of one trajectory (or session) and how many weight updates the bound
/// clipped.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SessionLoss<S> {
    /// The trajectory's loss: a squared-error sum, or a mean cross-entropy.
    pub loss: S,
    /// Weights clipped by the bound over the trajectory (0 without a bound).
    pub clipped: usize,
}

/// Buffers for one trajectory, reused across calls (no allocation per step).
#[derive(Debug, Default)]
pub struct NetworkWorkspace<S> {
    weights: Vec<S>,
    previous: Vec<S>,
    current: Vec<S>,
    scratch: Vec<S>,
    checkpoint_weights: Vec<S>,
    checkpoint_activity: Vec<S>,
    tape_weights: Vec<S>,
    tape_activity: Vec<S>,
    /// Per taped step, whether the bound clipped each synapse's update (empty
    /// without a bound).
    tape_clipped: Vec<bool>,
    weights_adjoint: Vec<S>,
    current_adjoint: Vec<S>,
    previous_adjoint: Vec<S>,
    net_input_adjoint: Vec<S>,
    theta_adjoint: Vec<S>,
    /// The open choice set of a softmax loss.
    choice_set: choice_sets::ChoiceSet<S>,
    /// Per step, the recorded neuron's net input `z_t` (a softmax loss's adjoint only).
    logits: Vec<f64>,
    /// Per step, `∂L/∂z_t` of a softmax loss.
    logit_adjoints: Vec<f64>,
}

impl<S: Scalar> NetworkWorkspace<S> {
    /// Empty buffers; sized on first use.
    pub fn new() -> Self {
        NetworkWorkspace {
            weights: Vec::new(),
            previous: Vec::new(),
            current: Vec::new(),
            scratch: Vec::new(),
            checkpoint_weights: Vec::new(),
            checkpoint_activity: Vec::new(),
            tape_weights: Vec::new(),
            tape_activity: Vec::new(),
            tape_clipped: Vec::new(),
            weights_adjoint: Vec::new(),
            current_adjoint: Vec::new(),
            previous_adjoint: Vec::new(),
            net_input_adjoint: Vec::new(),
            theta_adjoint: Vec::new(),
            choice_set: choice_sets::ChoiceSet::new(),
            logits: Vec::new(),
            logit_adjoints: Vec::new(),
        }
    }
}

/// `Σ_i recorded (y_i − ŷ_i)²`, and its gradient `2 (y_i − ŷ_i)` added into `adjoint`.
#[inline]
fn step_error<S: Scalar>(
    activity: &[S],
    recorded: &[usize],
    target: &[f64],
    adjoint: Option<&mut [S]>,
) -> S {
    let mut sse = S::zero();
    match adjoint {
        Some(adjoint) => {
            for (&i, &target) in recorded.iter().zip(target) {
                let residual = activity[i] - S::from_f64(target);
                sse += residual * residual;
                adjoint[i] += S::from_f64(2.0) * residual;
            }
        }
        None => {
            for (&i, &target) in recorded.iter().zip(target) {
                let residual = activity[i] - S::from_f64(target);
                sse += residual * residual;
            }
        }
    }
    sse
}

/// `Σ_i recorded softplus(z_i) − d_i z_i` at one step, from the net input `z_i` of the
/// recorded neurons (recomputed from `W_t`, `y_t−1`, `y_t` and the drive, the same
/// numbers [`Network::activity`] used); with `adjoint`, `scale (σ(z_i) − d_i)` is added
/// to its entry `i` (`∂ℓ/∂z_i`, times the `1/T` of the mean).
#[allow(clippy::too_many_arguments)]
#[inline]
fn step_cross_entropy<S: Scalar>(
    network: &Network,
    weights: &[S],
    previous: &[S],
    current: &[S],
    drive: &[f64],
    recorded: &[usize],
    decisions: &[f64],
    adjoint: Option<(&mut [S], S)>,
) -> S {
    let mut loss = S::zero();
    match adjoint {
        Some((adjoint, scale)) => {
            for (&i, &d) in recorded.iter().zip(decisions) {
                let z = network.net_input(i, weights, previous, current, drive);
                let d = S::from_f64(d);
                loss += z.softplus() - d * z;
                adjoint[i] += (z.sigmoid() - d) * scale;
            }
        }
        None => {
            for (&i, &d) in recorded.iter().zip(decisions) {
                let z = network.net_input(i, weights, previous, current, drive);
                loss += z.softplus() - S::from_f64(d) * z;
            }
        }
    }
    loss
}

/// One step's loss (forward only) under the trajectory's loss kind. For a softmax,
/// the step's option joins the open `choice_set` (its loss is the set's, at the chosen
/// option; 0 elsewhere) and `z_t` is stored in `logits` when that has a row per step.
#[allow(clippy::too_many_arguments)]
#[inline]
fn step_loss<S: Scalar>(
    network: &Network,
    trajectory: &NetworkTrajectory<'_>,
    t: usize,
    weights: &[S],
    previous: &[S],
    current: &[S],
    (choice_set, logits): (&mut choice_sets::ChoiceSet<S>, &mut [f64]),
) -> S {
    match trajectory.loss {
        TrajectoryLoss::Softmax => {
            let drive = trajectory.drive(network.n_neurons(), t);
            let z = network.net_input(trajectory.recorded[0], weights, previous, current, drive);
            if let Some(slot) = logits.get_mut(t) {
                *slot = z.re();
            }
            choice_set.push(z, trajectory.target(t)[0])
        }
        TrajectoryLoss::SquaredError => {
            step_error(current, trajectory.recorded, trajectory.target(t), None)
        }
        TrajectoryLoss::CrossEntropy => step_cross_entropy(
            network,
            weights,
            previous,
            current,
            trajectory.drive(network.n_neurons(), t),
            trajectory.recorded,
            trajectory.target(t),
            None,
        ),
    }
}

/// Runs the circuit over a trajectory from `W_0` (without a tape), calling
/// `at_step(t, W_t, y_t−1, y_t, ℓ_t)` at each step before its update, and returns the
/// sum of the per-step losses `ℓ_t` and the weights the bound clipped.
fn forward<S: Scalar>(
    network: &Network,
    theta: &[S],
    trajectory: NetworkTrajectory<'_>,
    initial_weights: &[S],
    ws: &mut NetworkWorkspace<S>,
    mut at_step: impl FnMut(usize, &[S], &[S], &[S], S),
) -> SessionLoss<S> {
    let n = network.n_neurons();
    resize(&mut ws.weights, network.n_synapses());
    ws.weights.copy_from_slice(initial_weights);
    resize(&mut ws.previous, n);
    resize(&mut ws.current, n);
    resize(&mut ws.scratch, network.scratch_len());
    network.initial_activity(&mut ws.previous);
    ws.choice_set = choice_sets::ChoiceSet::new();
    let mut sum = S::zero();
    let mut clipped = 0;
    for t in 0..trajectory.steps {
        network.activity(
            &ws.weights,
            &ws.previous,
            trajectory.drive(n, t),
            &mut ws.current,
            &mut ws.scratch,
        );
        let loss = step_loss(
            network,
            &trajectory,
            t,
            &ws.weights,
            &ws.previous,
            &ws.current,
            (&mut ws.choice_set, &mut ws.logits),
        );
        at_step(t, &ws.weights, &ws.previous, &ws.current, loss);
        sum += loss;
        if trajectory.updates_after(t) {
            clipped += network.plasticity(
                theta,
                &mut ws.weights,
                &ws.previous,
                &ws.current,
                S::from_f64(trajectory.reward(t)),
                &mut ws.scratch,
            );
        }
        std::mem::swap(&mut ws.previous, &mut ws.current);
    }
    SessionLoss { loss: sum, clipped }
}

/// The loss of one trajectory at `θ` (forward only; generic so that dual numbers can
/// differentiate it, also with respect to `W_0` given as `initial_weights`): the
/// squared-error sum or the mean cross-entropy, as `trajectory.loss` says.
pub fn network_trajectory_sse<S: Scalar>(
    network: &Network,
    theta: &[S],
    initial_weights: &[S],
    trajectory: NetworkTrajectory<'_>,
    workspace: &mut NetworkWorkspace<S>,
) -> S {
    network_trajectory_loss(network, theta, initial_weights, trajectory, workspace).loss
}

/// [`network_trajectory_sse`] with the count of weights the bound clipped.
pub fn network_trajectory_loss<S: Scalar>(
    network: &Network,
    theta: &[S],
    initial_weights: &[S],
    trajectory: NetworkTrajectory<'_>,
    workspace: &mut NetworkWorkspace<S>,
) -> SessionLoss<S> {
    network_trajectory_replay(
        network,
        theta,
        initial_weights,
        trajectory,
        workspace,
        |_, _, _, _| {},
    )
}

/// Runs one trajectory at `θ` from `initial_weights` and hands every step to
/// `observe(t, W_t, y_t, ℓ_t)`: the weights the step used, every neuron's activity and
/// the step's loss (its squared error, or its cross-entropy before the mean over
/// steps), before the step's update. Returns the trajectory's loss (as
/// [`network_trajectory_sse`]) and the weights the bound clipped.
pub fn network_trajectory_replay<S: Scalar>(
    network: &Network,
    theta: &[S],
    initial_weights: &[S],
    trajectory: NetworkTrajectory<'_>,
    workspace: &mut NetworkWorkspace<S>,
    mut observe: impl FnMut(usize, &[S], &[S], S),
) -> SessionLoss<S> {
    let result = forward(
        network,
        theta,
        trajectory,
        initial_weights,
        workspace,
        |t, weights, _, current, loss| observe(t, weights, current, loss),
    );
    SessionLoss {
        loss: trajectory.finish(result.loss),
        ..result
    }
}

/// What a simulation of the circuit records at every step.
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkRun {
    /// `y_t` of every neuron, `T × n_neurons`.
    pub activity: Vec<f64>,
    /// `W_t` (the weights step `t` used), `T × n_synapses`.
    pub weights: Vec<f64>,
}

/// Simulates one trajectory with `θ` and records activity and weights at every step
/// (the trajectory's recording, if any, is ignored).
pub fn simulate_network(
    network: &Network,
    theta: &[f64],
    trajectory: NetworkTrajectory<'_>,
    workspace: &mut NetworkWorkspace<f64>,
) -> NetworkRun {
    let (n, n_syn, steps) = (network.n_neurons(), network.n_synapses(), trajectory.steps);
    let mut weights = Vec::with_capacity(steps * n_syn);
    let mut previous_seen = Vec::with_capacity(steps * n);
    let trajectory = NetworkTrajectory {
        recorded: &[],
        recorded_activity: &[],
        loss: TrajectoryLoss::SquaredError,
        ..trajectory
    };
    forward(
        network,
        theta,
        trajectory,
        trajectory.initial_weights,
        workspace,
        |_, w, previous, _, _| {
            weights.extend_from_slice(w);
            previous_seen.extend_from_slice(previous);
        },
    );
    // y_t is what step t+1 saw as previous; the last step's is left in `previous`
    let mut activity = previous_seen.split_off(n.min(previous_seen.len()));
    activity.extend_from_slice(&workspace.previous);
    NetworkRun { activity, weights }
}

/// Runs steps `start..end` from `W_start = tape_weights[0]` and
/// `y_start−1 = tape_activity[0]`, recording `W_t` and `y_t` (and `W_end` when the
/// step before updates, `W_end = W_end−1` when its gate is off); returns the sum of
/// the segment's per-step losses and the weights the bound clipped.
fn run_segment(
    network: &Network,
    theta: &[f64],
    trajectory: NetworkTrajectory<'_>,
    start: usize,
    end: usize,
    ws: &mut NetworkWorkspace<f64>,
) -> SessionLoss<f64> {
    let (n, n_syn) = (network.n_neurons(), network.n_synapses());
    let mut sse = 0.0;
    let mut count = 0;
    if start == 0 {
        ws.choice_set = choice_sets::ChoiceSet::new();
    }
    for t in start..end {
        let l = t - start;
        let (done, next) = ws.tape_activity.split_at_mut((l + 1) * n);
        let previous = &done[l * n..];
        let current = &mut next[..n];
        let (weights_done, weights_next) = ws.tape_weights.split_at_mut((l + 1) * n_syn);
        let weights = &weights_done[l * n_syn..];
        network.activity(
            weights,
            previous,
            trajectory.drive(n, t),
            current,
            &mut ws.scratch,
        );
        sse += step_loss(
            network,
            &trajectory,
            t,
            weights,
            previous,
            current,
            (&mut ws.choice_set, &mut ws.logits),
        );
        if t + 1 < trajectory.steps {
            let after = &mut weights_next[..n_syn];
            after.copy_from_slice(weights);
            if trajectory.updates_after(t) {
                let clipped = &mut ws.tape_clipped;
                if !clipped.is_empty() {
                    clipped[l * n_syn..(l + 1) * n_syn].fill(false);
                }
                count += network.plasticity_marking(
                    theta,
                    after,
                    previous,
                    current,
                    trajectory.reward(t),
                    &mut ws.scratch,
                    |k| clipped[l * n_syn + k] = true,
                );
            }
        }
    }
    SessionLoss {
        loss: sse,
        clipped: count,
    }
}

/// The loss of one trajectory and its gradient with respect to `θ` (added to
/// `theta_gradient`) and, when asked, to `W_0` (added to `initial_weights_gradient`),
/// by the checkpointed adjoint.
pub fn network_trajectory_sse_and_gradient(
    network: &Network,
    theta: &[f64],
    trajectory: NetworkTrajectory<'_>,
    strategy: GradientStrategy,
    workspace: &mut NetworkWorkspace<f64>,
    theta_gradient: &mut [f64],
    initial_weights_gradient: Option<&mut [f64]>,
) -> f64 {
    network_trajectory_loss_and_gradient(
        network,
        theta,
        trajectory,
        strategy,
        workspace,
        theta_gradient,
        initial_weights_gradient,
    )
    .loss
}

/// [`network_trajectory_sse_and_gradient`] with the count of weights the bound
/// clipped: the engine's adjoint. Memory `(⌈T/K⌉ + K) × (synapses + neurons)` with
/// `K` the strategy's segment length (`K = T`: the full tape).
pub fn network_trajectory_loss_and_gradient(
    network: &Network,
    theta: &[f64],
    trajectory: NetworkTrajectory<'_>,
    strategy: GradientStrategy,
    workspace: &mut NetworkWorkspace<f64>,
    theta_gradient: &mut [f64],
    initial_weights_gradient: Option<&mut [f64]>,
) -> SessionLoss<f64> {
    let (n, n_syn, steps) = (network.n_neurons(), network.n_synapses(), trajectory.steps);
    let bytes_per_step = (n + n_syn) * std::mem::size_of::<f64>();
    let segment = strategy.segment_length_within_budget(steps, bytes_per_step);
    let n_segments = steps.div_ceil(segment);
    let ws = workspace;
    resize(&mut ws.scratch, network.scratch_len());
    resize_for_overwrite(&mut ws.tape_weights, (segment + 1) * n_syn);
    resize_for_overwrite(&mut ws.tape_activity, (segment + 1) * n);
    ws.tape_clipped.clear();
    if network.weight_bound().is_some() {
        ws.tape_clipped.resize(segment * n_syn, false);
    }
    resize(&mut ws.weights_adjoint, n_syn);
    resize(&mut ws.current_adjoint, n);
    resize(&mut ws.previous_adjoint, n);
    resize(&mut ws.net_input_adjoint, n);
    resize(&mut ws.theta_adjoint, theta.len());
    let cross_entropy_scale = 1.0 / steps as f64;
    let softmax = trajectory.loss == TrajectoryLoss::Softmax;
    ws.logits.clear();
    if softmax {
        ws.logits.resize(steps, 0.0);
    }

    let mut sse = 0.0;
    let mut clipped = 0;
    if n_segments > 1 {
        resize_for_overwrite(&mut ws.checkpoint_weights, n_segments * n_syn);
        resize_for_overwrite(&mut ws.checkpoint_activity, n_segments * n);
        let mut checkpoint_weights = std::mem::take(&mut ws.checkpoint_weights);
        let mut checkpoint_activity = std::mem::take(&mut ws.checkpoint_activity);
        let result = forward(
            network,
            theta,
            trajectory,
            trajectory.initial_weights,
            ws,
            |t, weights, previous, _, _| {
                if t % segment == 0 {
                    let k = t / segment;
                    checkpoint_weights[k * n_syn..(k + 1) * n_syn].copy_from_slice(weights);
                    checkpoint_activity[k * n..(k + 1) * n].copy_from_slice(previous);
                }
            },
        );
        (sse, clipped) = (result.loss, result.clipped);
        ws.checkpoint_weights = checkpoint_weights;
        ws.checkpoint_activity = checkpoint_activity;
    }
    for k in (0..n_segments).rev() {
        let (start, end) = (k * segment, ((k + 1) * segment).min(steps));
        if n_segments > 1 {
            ws.tape_weights[..n_syn]
                .copy_from_slice(&ws.checkpoint_weights[k * n_syn..(k + 1) * n_syn]);
            ws.tape_activity[..n].copy_from_slice(&ws.checkpoint_activity[k * n..(k + 1) * n]);
            run_segment(network, theta, trajectory, start, end, ws);
        } else {
            ws.tape_weights[..n_syn].copy_from_slice(trajectory.initial_weights);
            network.initial_activity(&mut ws.tape_activity[..n]);
            let result = run_segment(network, theta, trajectory, start, end, ws);
            (sse, clipped) = (result.loss, result.clipped);
        }
        if softmax && k + 1 == n_segments {
            // every z_t is known (the forward pass or the one segment stored them)
            let scale = 1.0 / trajectory.choice_sets().max(1) as f64;
            choice_sets::choice_adjoints(
                &ws.logits,
                trajectory.recorded_activity,
                scale,
                &mut ws.logit_adjoints,
            );
        }
        for t in (start..end).rev() {
            let l = t - start;
            backward_step(network, theta, trajectory, ws, (t, l), cross_entropy_scale);
        }
    }
    for (g, &a) in theta_gradient.iter_mut().zip(&ws.theta_adjoint) {
        *g += a;
    }
    if let Some(w0_gradient) = initial_weights_gradient {
        for (g, &a) in w0_gradient.iter_mut().zip(&ws.weights_adjoint) {
            *g += a;
        }
    }
    SessionLoss {
        loss: trajectory.finish(sse),
        clipped,
    }
}

/// One step of the reverse pass, step `t` at row `l` of the tape: the step's loss
/// adjoint, then its vector-Jacobian product; `∂L/∂y_t−1` so far is left in
/// `ws.current_adjoint`.
#[inline]
fn backward_step(
    network: &Network,
    theta: &[f64],
    trajectory: NetworkTrajectory<'_>,
    ws: &mut NetworkWorkspace<f64>,
    (t, l): (usize, usize),
    cross_entropy_scale: f64,
) {
    let (n, n_syn) = (network.n_neurons(), network.n_synapses());
    let weights = &ws.tape_weights[l * n_syn..(l + 1) * n_syn];
    let previous = &ws.tape_activity[l * n..(l + 1) * n];
    let current = &ws.tape_activity[(l + 1) * n..(l + 2) * n];
    let net_input_adjoint = match trajectory.loss {
        TrajectoryLoss::SquaredError => {
            step_error(
                current,
                trajectory.recorded,
                trajectory.target(t),
                Some(&mut ws.current_adjoint),
            );
            None
        }
        TrajectoryLoss::CrossEntropy => {
            for &i in trajectory.recorded {
                ws.net_input_adjoint[i] = 0.0;
            }
            step_cross_entropy(
                network,
                weights,
                previous,
                current,
                trajectory.drive(n, t),
                trajectory.recorded,
                trajectory.target(t),
                Some((&mut ws.net_input_adjoint, cross_entropy_scale)),
            );
            Some(&ws.net_input_adjoint[..])
        }
        TrajectoryLoss::Softmax => {
            ws.net_input_adjoint[trajectory.recorded[0]] = ws.logit_adjoints[t];
            Some(&ws.net_input_adjoint[..])
        }
    };
    ws.previous_adjoint.iter_mut().for_each(|a| *a = 0.0);
    let clipped = trajectory.updates_after(t).then(|| {
        if ws.tape_clipped.is_empty() {
            &ws.tape_clipped[..]
        } else {
            &ws.tape_clipped[l * n_syn..(l + 1) * n_syn]
        }
    });
    network.step_vjp(
        theta,
        weights,
        clipped,
        previous,
        current,
        trajectory.reward(t),
        net_input_adjoint,
        &mut ws.weights_adjoint,
        &mut ws.current_adjoint,
        &mut ws.previous_adjoint,
        &mut ws.theta_adjoint,
        &mut ws.scratch,
    );
    // ∂L/∂y_t−1 so far: the next (earlier) step adds its loss to it
    std::mem::swap(&mut ws.current_adjoint, &mut ws.previous_adjoint);
}

pub mod jacobian;

#[cfg(test)]
mod tests;
