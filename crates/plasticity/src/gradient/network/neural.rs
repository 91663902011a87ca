//! docs/model.md §3.1 neural recordings on the engine: the layer `y_t = σ(W_t x_t)`,
//! `W_{t+1} = W_t + g_θ(x_t, y_t, W_t)` and the squared error over the recorded neurons,
//! `Σ_t Σ_{i recorded} (y_t,i − ŷ_t,i)²`.
//!
//! [`NeuralEngine`] is the one door for such recordings: losses, the adjoint (full tape
//! or checkpointed), forward mode (whole trajectories, or step by step for streaming and
//! online fits) and simulations. Each runs on the general network step (the single-layer
//! network of [`Network::single_layer`], the recording its trajectory without copying)
//! or on the single-layer fast path ([`super::single_layer`]); [`EnginePath::Auto`]
//! takes the fast path where [`EnginePath::fast_by_default`] says why. The paths are
//! tested equal.

use super::jacobian::{network_trajectory_loss_and_gradient_forward, NetworkTangentWorkspace};
use super::single_layer::{
    neural_trajectory_sse, neural_trajectory_sse_and_gradient,
    neural_trajectory_sse_and_gradient_forward, NeuralForward, SingleLayer, SingleLayerWorkspace,
};
use super::{
    network_trajectory_sse, network_trajectory_sse_and_gradient, NetworkTrajectory,
    NetworkWorkspace, TrajectoryLoss,
};
use crate::circuit::Network;
use crate::data::NeuralTrajectory;
use crate::gradient::{load, resize, GradientStrategy};
use crate::rule::{PlasticityRule, Rule, RuleOfEngine};
use crate::scalar::Scalar;
use crate::Result;

/// Which implementation of the engine runs a single-layer recording.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EnginePath {
    /// The engine's choice per operation ([`EnginePath::fast_by_default`]).
    #[default]
    Auto,
    /// The general network step every other circuit runs.
    General,
    /// The single-layer fast path (fused row updates, rows in parallel within a
    /// trajectory) for every operation it has.
    FastPath,
}

/// What the engine computes for one trajectory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NeuralOperation {
    /// The loss alone.
    Loss,
    /// The loss and its gradient by the adjoint (full tape or checkpointed).
    Adjoint,
    /// The loss and its gradient in forward mode.
    ForwardMode,
}

impl EnginePath {
    /// Whether [`EnginePath::Auto`] runs `operation` on the fast path. All three, each
    /// for its reason:
    /// - the adjoint, where `plasticity bench-kernels` (100→1000, T = 50, 27 terms,
    ///   2 cores) measures the fast path faster (`fast_path_speedup_gradient`): it
    ///   parallelises the rows of one trajectory, what a minibatch of one needs;
    /// - forward mode, because streamed and online fits need it step by step, which only
    ///   the fast path has, and an in-memory forward-mode fit gives exactly the streamed
    ///   fit's numbers;
    /// - the loss alone, from the same path as the gradients, so that a line search sees
    ///   the very loss the gradient differentiates (the paths differ in the last bits).
    pub fn fast_by_default(operation: NeuralOperation) -> bool {
        FAST_BY_DEFAULT.contains(&operation)
    }
}

/// The operations [`EnginePath::Auto`] runs on the fast path.
const FAST_BY_DEFAULT: [NeuralOperation; 3] = [
    NeuralOperation::Loss,
    NeuralOperation::Adjoint,
    NeuralOperation::ForwardMode,
];

/// The single-layer circuit of a §3.1 recording as the engine runs it, for recordings
/// of one set of recorded neurons, under `rule`.
#[derive(Clone, Debug)]
pub struct NeuralEngine<R = Rule> {
    rule: R,
    layer: SingleLayer,
    /// The general path's network of the layer.
    network: Network,
    path: EnginePath,
    n_pre: usize,
    /// Recorded neurons as indices of the layer.
    recorded_neurons: Vec<usize>,
    /// The same neurons as indices of the network (after the `n_pre` inputs).
    recorded: Vec<usize>,
    /// Parameters whose tangents forward mode carries (all unless restricted).
    active: Vec<usize>,
}

/// Buffers for one trajectory on either path, reused across calls (no allocation per
/// step); sized on first use. A workspace serves one engine: its forward-mode state
/// carries that engine's active parameters.
#[derive(Debug)]
pub struct NeuralWorkspace<S> {
    layer: SingleLayerWorkspace<S>,
    network: NetworkWorkspace<S>,
    initial_weights: Vec<S>,
    forward: Option<NeuralForward>,
    tangents: Option<NetworkTangentWorkspace>,
}

impl<S: Scalar> NeuralWorkspace<S> {
    /// Empty buffers.
    pub fn new() -> Self {
        NeuralWorkspace {
            layer: SingleLayerWorkspace::new(),
            network: NetworkWorkspace::new(),
            initial_weights: Vec::new(),
            forward: None,
            tangents: None,
        }
    }
}

impl<S: Scalar> Default for NeuralWorkspace<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<R: RuleOfEngine> NeuralEngine<R> {
    /// The engine of an `n_pre → n_post` layer under `rule`, for recordings of
    /// `recorded_neurons` (indices into the layer), on [`EnginePath::Auto`].
    pub fn new(n_pre: usize, n_post: usize, recorded_neurons: &[usize], rule: R) -> Result<Self> {
        if let Some(&i) = recorded_neurons.iter().find(|&&i| i >= n_post) {
            return Err(crate::Error::config(
                "recorded_neurons",
                format!("neuron {i} is outside the layer of {n_post}"),
            ));
        }
        Ok(NeuralEngine {
            active: (0..rule.n_parameters()).collect(),
            network: Network::single_layer(n_pre, n_post, rule.clone().into())?,
            rule,
            layer: SingleLayer::new(n_pre, n_post),
            path: EnginePath::Auto,
            n_pre,
            recorded_neurons: recorded_neurons.to_vec(),
            recorded: recorded_neurons.iter().map(|&i| n_pre + i).collect(),
        })
    }

    /// The engine for `dataset`'s layer and recorded neurons.
    pub fn for_dataset(dataset: &crate::data::NeuralDataset, rule: R) -> Result<Self> {
        Self::new(
            dataset.n_pre(),
            dataset.n_post(),
            &dataset.recorded_neurons,
            rule,
        )
    }

    /// Forward mode carries tangents only for `active` (the trainable parameters,
    /// indices below `n_parameters`): memory and time ∝ their number; the gradient's
    /// other entries are left as they are under [`GradientStrategy::Forward`].
    pub fn with_active_parameters(mut self, active: Vec<usize>) -> Self {
        assert!(active.iter().all(|&k| k < self.rule.n_parameters()));
        self.active = active;
        self
    }

    /// The rule.
    pub fn rule(&self) -> &R {
        &self.rule
    }

    /// The engine on `path`.
    pub fn with_path(mut self, path: EnginePath) -> Self {
        self.path = path;
        self
    }

    /// The path the engine was asked for.
    pub fn path(&self) -> EnginePath {
        self.path
    }

    /// Whether `operation` runs on the fast path.
    pub fn runs_fast_path(&self, operation: NeuralOperation) -> bool {
        match self.path {
            EnginePath::Auto => EnginePath::fast_by_default(operation),
            EnginePath::General => false,
            EnginePath::FastPath => true,
        }
    }

    /// The general path's network of the layer.
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// Presynaptic (input) neurons of the layer.
    pub fn n_pre(&self) -> usize {
        self.n_pre
    }

    /// `trajectory` as a trajectory of the single-layer network (borrowing its arrays):
    /// its inputs are the drive, its recorded neuron `i` the network's `n_pre + i`. Its
    /// inputs must have `n_pre` values per step and its recorded activity one per
    /// recorded neuron of the engine (as a [`crate::data::NeuralDataset`] guarantees).
    pub fn trajectory<'a>(&'a self, trajectory: NeuralTrajectory<'a>) -> NetworkTrajectory<'a> {
        debug_assert_eq!(trajectory.inputs.len(), trajectory.steps * self.n_pre);
        debug_assert_eq!(trajectory.recorded_neurons, &self.recorded_neurons[..]);
        NetworkTrajectory {
            steps: trajectory.steps,
            drive: trajectory.inputs,
            initial_weights: trajectory.initial_weights,
            recorded: &self.recorded,
            recorded_activity: trajectory.recorded_activity,
            reward: &[],
            gate: &[],
            loss: TrajectoryLoss::SquaredError,
        }
    }

    /// The squared-error sum of one trajectory at `θ` (forward only; generic so that
    /// dual numbers can differentiate it).
    pub fn sse<S: Scalar>(
        &self,
        theta: &[S],
        trajectory: NeuralTrajectory<'_>,
        workspace: &mut NeuralWorkspace<S>,
    ) -> S {
        if self.runs_fast_path(NeuralOperation::Loss) {
            return neural_trajectory_sse(
                &self.layer,
                &self.rule,
                theta,
                trajectory,
                &mut workspace.layer,
            );
        }
        let ws = workspace;
        resize(&mut ws.initial_weights, trajectory.initial_weights.len());
        load(&mut ws.initial_weights, trajectory.initial_weights);
        network_trajectory_sse(
            &self.network,
            theta,
            &ws.initial_weights,
            self.trajectory(trajectory),
            &mut ws.network,
        )
    }

    /// The squared-error sum of one trajectory and its gradient with respect to `θ`
    /// (added to `gradient`): the adjoint by `strategy`, or forward mode
    /// ([`GradientStrategy::Forward`], the active parameters only).
    pub fn sse_and_gradient(
        &self,
        theta: &[f64],
        trajectory: NeuralTrajectory<'_>,
        strategy: GradientStrategy,
        workspace: &mut NeuralWorkspace<f64>,
        gradient: &mut [f64],
    ) -> f64 {
        let operation = match strategy {
            GradientStrategy::Forward => NeuralOperation::ForwardMode,
            _ => NeuralOperation::Adjoint,
        };
        match (self.runs_fast_path(operation), strategy) {
            (true, GradientStrategy::Forward) => {
                let state = workspace
                    .forward
                    .get_or_insert_with(|| self.forward_state());
                neural_trajectory_sse_and_gradient_forward(
                    state, &self.rule, theta, trajectory, gradient,
                )
            }
            (true, _) => {
                self.fast_path_sse_and_gradient(theta, trajectory, strategy, workspace, gradient)
            }
            (false, GradientStrategy::Forward) => {
                let tangents = workspace
                    .tangents
                    .get_or_insert_with(NetworkTangentWorkspace::new);
                network_trajectory_loss_and_gradient_forward(
                    &self.network,
                    theta,
                    &self.active,
                    self.trajectory(trajectory),
                    tangents,
                    gradient,
                )
                .loss
            }
            (false, _) => network_trajectory_sse_and_gradient(
                &self.network,
                theta,
                self.trajectory(trajectory),
                strategy,
                &mut workspace.network,
                gradient,
                None,
            ),
        }
    }

    /// [`NeuralEngine::sse_and_gradient`]'s adjoint on the fast path whatever the
    /// engine's path, in precision `S` (f32 for speed, dual numbers for checks).
    pub fn fast_path_sse_and_gradient<S: Scalar>(
        &self,
        theta: &[S],
        trajectory: NeuralTrajectory<'_>,
        strategy: GradientStrategy,
        workspace: &mut NeuralWorkspace<S>,
        gradient: &mut [S],
    ) -> S {
        neural_trajectory_sse_and_gradient(
            &self.layer,
            &self.rule,
            theta,
            trajectory,
            strategy,
            &mut workspace.layer,
            gradient,
        )
    }

    /// A forward-mode state for trajectories of this layer, driven step by step
    /// (streaming and online fits), with tangents for the active parameters (the fast
    /// path's: the general step's tangent pass runs whole trajectories only).
    pub fn forward_state(&self) -> NeuralForward {
        NeuralForward::with_active(self.layer, &self.rule, self.active.clone())
    }

    /// A simulation of the layer from `initial_weights`, advanced one step at a time
    /// (the fast path's step, which keeps one step's state; the general step's
    /// simulation records every step).
    pub fn start(&self, initial_weights: &[f64]) -> NeuralSimulation<'_, R> {
        NeuralSimulation {
            engine: self,
            weights: initial_weights.to_vec(),
            post: vec![0.0; self.layer.n_post],
            scratch: vec![0.0; self.layer.scratch_len(&self.rule)],
        }
    }

    /// Simulates one trajectory from `initial_weights` with inputs `[steps, n_pre]`
    /// and calls `observe(t, W_t, y_t)` at every step, before the update.
    pub fn simulate(
        &self,
        theta: &[f64],
        inputs: &[f64],
        initial_weights: &[f64],
        mut observe: impl FnMut(usize, &[f64], &[f64]),
    ) {
        let mut simulation = self.start(initial_weights);
        for (t, pre) in inputs.chunks_exact(self.n_pre).enumerate() {
            simulation.activity(pre);
            observe(t, simulation.weights(), simulation.post());
            simulation.update(theta, pre);
        }
    }
}

/// One simulated trajectory of a [`NeuralEngine`]'s layer: `W_t` and `y_t`, advanced by
/// [`NeuralSimulation::activity`] (`y_t = σ(W_t x_t)`) and
/// [`NeuralSimulation::update`] (`W_{t+1} = W_t + g_θ(x_t, y_t, W_t)`).
pub struct NeuralSimulation<'e, R> {
    engine: &'e NeuralEngine<R>,
    weights: Vec<f64>,
    post: Vec<f64>,
    scratch: Vec<f64>,
}

impl<R: PlasticityRule> NeuralSimulation<'_, R> {
    /// `y_t = σ(W_t x_t)` for the input `pre`.
    pub fn activity(&mut self, pre: &[f64]) -> &[f64] {
        self.engine
            .layer
            .activity(pre, &self.weights, &mut self.post);
        &self.post
    }

    /// `W_{t+1} = W_t + g_θ(x_t, y_t, W_t)` with the activity of the last
    /// [`NeuralSimulation::activity`] call.
    pub fn update(&mut self, theta: &[f64], pre: &[f64]) {
        let engine = self.engine;
        engine.layer.plasticity(
            &engine.rule,
            theta,
            pre,
            &self.post,
            &mut self.weights,
            &mut self.scratch,
        );
    }

    /// `W_t`.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// `y_t`.
    pub fn post(&self) -> &[f64] {
        &self.post
    }
}
