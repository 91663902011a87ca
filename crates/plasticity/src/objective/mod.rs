//! Losses over datasets, with their gradients, parallel over trajectories.
//!
//! Per-trajectory results are collected in order and summed sequentially, so a loss
//! is bit-identical whatever the number of threads.

use rayon::prelude::*;

pub mod circuit;
pub mod function;
pub use circuit::CircuitObjective;

use crate::circuit::NeuralCircuit;
use crate::data::NeuralDataset;
use crate::gradient::forward::{
    behaviour_session_loss_and_gradient_forward, neural_trajectory_sse_and_gradient_forward,
    BehaviourForwardWorkspace, NeuralForward,
};
use crate::gradient::{
    neural_trajectory_sse, neural_trajectory_sse_and_gradient, GradientStrategy, NeuralWorkspace,
};
use crate::rule::PlasticityRule;

/// A differentiable data loss over items (trajectories or sessions) that can be
/// batched: what the optimisers see.
pub trait Objective: Sync {
    /// Number of rule parameters θ.
    fn n_parameters(&self) -> usize;
    /// Number of items (trajectories, sessions) a batch is drawn from.
    fn n_items(&self) -> usize;
    /// The loss on `items` at `θ`.
    fn loss(&self, theta: &[f64], items: &[usize]) -> f64;
    /// The loss on `items` at `θ`; its gradient is written into `gradient`.
    fn loss_and_gradient(&self, theta: &[f64], items: &[usize], gradient: &mut [f64]) -> f64;
}

/// Mean squared error of the neural-activity circuit (docs/model.md §4.1):
/// `L = 1/(N T n_rec) Σ_{k,t,i∈rec} (y_{k,t,i}(θ) − ŷ_{k,t,i})²`.
pub struct NeuralObjective<'a, R> {
    dataset: &'a NeuralDataset,
    circuit: NeuralCircuit,
    rule: R,
    strategy: GradientStrategy,
    /// Workspaces kept between calls: a paper-scale tape is 40 MB, and allocating
    /// (and first touching) it anew for every minibatch of one trajectory cost as much
    /// as the gradient itself.
    workspaces: WorkspacePool<NeuralWorkspace<f64>>,
    /// Forward-mode states (tangents of every synapse), kept for the same reason.
    forward_states: WorkspacePool<NeuralForward>,
    /// Parameters forward mode differentiates (all unless restricted).
    active: Vec<usize>,
}

/// Buffers reused across calls and threads. Which buffer a job gets never changes
/// its result (every buffer is sized and overwritten before use).
struct WorkspacePool<W> {
    free: std::sync::Mutex<Vec<W>>,
}

impl<W> WorkspacePool<W> {
    fn new() -> Self {
        WorkspacePool {
            free: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// Runs `job` with a pooled workspace (or a fresh one from `make`).
    fn with<T>(&self, make: impl FnOnce() -> W, job: impl FnOnce(&mut W) -> T) -> T {
        let taken = self.free.lock().ok().and_then(|mut free| free.pop());
        let mut workspace = taken.unwrap_or_else(make);
        let result = job(&mut workspace);
        if let Ok(mut free) = self.free.lock() {
            // at most two per thread are kept (nested jobs may briefly hold more)
            if free.len() < 2 * rayon::current_num_threads() {
                free.push(workspace);
            }
        }
        result
    }
}

impl<'a, R: PlasticityRule> NeuralObjective<'a, R> {
    /// The MSE of `dataset` under `rule`, gradients by `strategy`.
    pub fn new(dataset: &'a NeuralDataset, rule: R, strategy: GradientStrategy) -> Self {
        NeuralObjective {
            dataset,
            circuit: NeuralCircuit::new(dataset.n_pre(), dataset.n_post()),
            active: (0..rule.n_parameters()).collect(),
            rule,
            strategy,
            workspaces: WorkspacePool::new(),
            forward_states: WorkspacePool::new(),
        }
    }

    /// Forward mode carries tangents only for `active` (the trainable parameters,
    /// indices below `n_parameters`): memory and time ∝ their number. The gradient's
    /// other entries are then 0 under [`GradientStrategy::Forward`] (the adjoint
    /// computes them all anyway).
    pub fn with_active_parameters(mut self, active: Vec<usize>) -> Self {
        assert!(active.iter().all(|&k| k < self.rule.n_parameters()));
        self.active = active;
        self
    }

    fn normaliser(&self, n_items: usize) -> f64 {
        (n_items * self.dataset.steps() * self.dataset.recorded_neurons.len()) as f64
    }
}

impl<R: PlasticityRule> Objective for NeuralObjective<'_, R> {
    fn n_parameters(&self) -> usize {
        self.rule.n_parameters()
    }

    fn n_items(&self) -> usize {
        self.dataset.n_trajectories()
    }

    fn loss(&self, theta: &[f64], items: &[usize]) -> f64 {
        let per_item: Vec<f64> = items
            .par_iter()
            .map(|&k| {
                self.workspaces.with(NeuralWorkspace::new, |workspace| {
                    neural_trajectory_sse(
                        &self.circuit,
                        &self.rule,
                        theta,
                        self.dataset.trajectory(k),
                        workspace,
                    )
                })
            })
            .collect();
        per_item.iter().sum::<f64>() / self.normaliser(items.len())
    }

    fn loss_and_gradient(&self, theta: &[f64], items: &[usize], gradient: &mut [f64]) -> f64 {
        let per_item: Vec<(f64, Vec<f64>)> = items
            .par_iter()
            .map(|&k| {
                if self.strategy == GradientStrategy::Forward {
                    let make = || {
                        NeuralForward::with_active(self.circuit, &self.rule, self.active.clone())
                    };
                    return self.forward_states.with(make, |state| {
                        let mut item_gradient = vec![0.0; theta.len()];
                        let sse = neural_trajectory_sse_and_gradient_forward(
                            state,
                            &self.rule,
                            theta,
                            self.dataset.trajectory(k),
                            &mut item_gradient,
                        );
                        (sse, item_gradient)
                    });
                }
                self.workspaces.with(NeuralWorkspace::new, |workspace| {
                    let mut item_gradient = vec![0.0; theta.len()];
                    let sse = neural_trajectory_sse_and_gradient(
                        &self.circuit,
                        &self.rule,
                        theta,
                        self.dataset.trajectory(k),
                        self.strategy,
                        workspace,
                        &mut item_gradient,
                    );
                    (sse, item_gradient)
                })
            })
            .collect();
        let scale = 1.0 / self.normaliser(items.len());
        gradient.iter_mut().for_each(|g| *g = 0.0);
        let mut total = 0.0;
        for (sse, item_gradient) in &per_item {
            total += sse;
            for (g, v) in gradient.iter_mut().zip(item_gradient) {
                *g += v;
            }
        }
        gradient.iter_mut().for_each(|g| *g *= scale);
        total * scale
    }
}

/// Mean binary cross-entropy of the behaviour circuit (docs/model.md §4.2, §6):
/// `L = 1/S Σ_s 1/P_s Σ_p [softplus(z_sp) − d_sp z_sp]`, each session averaged over
/// its own real presentations (padding never enters), then over sessions.
///
/// The model is driven by `inputs` (the dataset's own, or re-sampled sensory noise)
/// and by the recorded decisions and rewards. How many weights the circuit's bound
/// clipped is counted across every evaluation.
pub struct BehaviourObjective<'a, R> {
    dataset: &'a crate::data::BehaviourDataset,
    inputs: ndarray::Array3<f64>,
    circuit: crate::circuit::BehaviourCircuit,
    rule: R,
    strategy: GradientStrategy,
    clipped: std::sync::atomic::AtomicUsize,
    /// Parameters forward mode differentiates (all unless restricted).
    active: Vec<usize>,
}

impl<'a, R: PlasticityRule> BehaviourObjective<'a, R> {
    /// The cross-entropy of `dataset` driven by `inputs` (same shape as the dataset's).
    pub fn new(
        dataset: &'a crate::data::BehaviourDataset,
        inputs: ndarray::Array3<f64>,
        circuit: crate::circuit::BehaviourCircuit,
        rule: R,
        strategy: GradientStrategy,
    ) -> Self {
        debug_assert_eq!(inputs.shape(), dataset.inputs.shape());
        BehaviourObjective {
            dataset,
            inputs: inputs.as_standard_layout().into_owned(),
            circuit,
            active: (0..rule.n_parameters()).collect(),
            rule,
            strategy,
            clipped: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// As [`NeuralObjective::with_active_parameters`].
    pub fn with_active_parameters(mut self, active: Vec<usize>) -> Self {
        assert!(active.iter().all(|&k| k < self.rule.n_parameters()));
        self.active = active;
        self
    }

    /// The inputs that drive the model.
    pub fn inputs(&self) -> &ndarray::Array3<f64> {
        &self.inputs
    }

    /// Weights clipped by the circuit's bound, summed over every evaluation so far.
    pub fn clipped(&self) -> usize {
        self.clipped.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The mean cross-entropy of every session at `θ`, and the weights the bound
    /// clipped in that one evaluation.
    pub fn session_losses(&self, theta: &[f64]) -> (Vec<f64>, usize) {
        let all: Vec<usize> = (0..self.dataset.n_sessions()).collect();
        self.losses_of(theta, &all)
    }

    /// The mean cross-entropy of each session in `items` at `θ` (in order, whatever
    /// the thread count), and the weights the bound clipped.
    fn losses_of(&self, theta: &[f64], items: &[usize]) -> (Vec<f64>, usize) {
        let per_item: Vec<(f64, usize)> = items
            .par_iter()
            .map_init(crate::gradient::BehaviourWorkspace::new, |workspace, &k| {
                let result = crate::gradient::behaviour_session_loss(
                    &self.circuit,
                    &self.rule,
                    theta,
                    self.dataset.session_with_inputs(k, &self.inputs),
                    workspace,
                );
                (result.loss, result.clipped)
            })
            .collect();
        let clipped = per_item.iter().map(|p| p.1).sum();
        (per_item.into_iter().map(|p| p.0).collect(), clipped)
    }

    fn count(&self, clipped: usize) {
        self.clipped
            .fetch_add(clipped, std::sync::atomic::Ordering::Relaxed);
    }
}

impl<R: PlasticityRule> Objective for BehaviourObjective<'_, R> {
    fn n_parameters(&self) -> usize {
        self.rule.n_parameters()
    }

    fn n_items(&self) -> usize {
        self.dataset.n_sessions()
    }

    fn loss(&self, theta: &[f64], items: &[usize]) -> f64 {
        let (losses, clipped) = self.losses_of(theta, items);
        self.count(clipped);
        losses.iter().sum::<f64>() / items.len() as f64
    }

    fn loss_and_gradient(&self, theta: &[f64], items: &[usize], gradient: &mut [f64]) -> f64 {
        let per_item: Vec<(f64, usize, Vec<f64>)> = items
            .par_iter()
            .map_init(
                || {
                    (
                        crate::gradient::BehaviourWorkspace::new(),
                        BehaviourForwardWorkspace::default(),
                    )
                },
                |(workspace, forward), &k| {
                    let mut item_gradient = vec![0.0; theta.len()];
                    let session = self.dataset.session_with_inputs(k, &self.inputs);
                    let result = if self.strategy == GradientStrategy::Forward {
                        behaviour_session_loss_and_gradient_forward(
                            &self.circuit,
                            &self.rule,
                            theta,
                            session,
                            &self.active,
                            forward,
                            &mut item_gradient,
                        )
                    } else {
                        crate::gradient::behaviour_session_loss_and_gradient(
                            &self.circuit,
                            &self.rule,
                            theta,
                            session,
                            self.strategy,
                            workspace,
                            &mut item_gradient,
                        )
                    };
                    (result.loss, result.clipped, item_gradient)
                },
            )
            .collect();
        let scale = 1.0 / items.len() as f64;
        gradient.iter_mut().for_each(|g| *g = 0.0);
        let mut total = 0.0;
        let mut clipped = 0;
        for (loss, item_clipped, item_gradient) in &per_item {
            total += loss;
            clipped += item_clipped;
            for (g, v) in gradient.iter_mut().zip(item_gradient) {
                *g += v;
            }
        }
        self.count(clipped);
        gradient.iter_mut().for_each(|g| *g *= scale);
        total * scale
    }
}

/// The neural-activity loss of [`NeuralObjective`] over a dataset that streams from its
/// file ([`NeuralStream`](crate::data::NeuralStream)), with forward-mode gradients:
/// memory independent of the recording's length, each evaluation reading the
/// trajectories it needs again from the file.
///
/// [`Objective`] returns plain numbers, so a read error makes the loss NaN (which stops
/// a fit) and is kept for [`StreamedNeuralObjective::take_error`].
pub struct StreamedNeuralObjective<'a, R> {
    stream: &'a crate::data::NeuralStream,
    circuit: NeuralCircuit,
    rule: R,
    states: WorkspacePool<NeuralForward>,
    error: std::sync::Mutex<Option<crate::Error>>,
    active: Vec<usize>,
}

impl<'a, R: PlasticityRule> StreamedNeuralObjective<'a, R> {
    /// The MSE of the streamed dataset under `rule`.
    pub fn new(stream: &'a crate::data::NeuralStream, rule: R) -> Self {
        StreamedNeuralObjective {
            stream,
            circuit: NeuralCircuit::new(stream.n_pre(), stream.n_post()),
            active: (0..rule.n_parameters()).collect(),
            rule,
            states: WorkspacePool::new(),
            error: std::sync::Mutex::new(None),
        }
    }

    /// As [`NeuralObjective::with_active_parameters`].
    pub fn with_active_parameters(mut self, active: Vec<usize>) -> Self {
        assert!(active.iter().all(|&k| k < self.rule.n_parameters()));
        self.active = active;
        self
    }

    /// The first read error met by an evaluation, if any (taking it clears it).
    pub fn take_error(&self) -> Option<crate::Error> {
        self.error.lock().ok().and_then(|mut e| e.take())
    }

    /// Sum of squared errors of trajectory `k` and its gradient (added to `gradient`).
    fn trajectory(&self, theta: &[f64], k: usize, gradient: &mut [f64]) -> crate::Result<f64> {
        let mut steps = self.stream.trajectory(k)?;
        let n_rec = self.stream.recorded_neurons().len();
        let mut input = vec![0.0; self.stream.n_pre()];
        let mut next_input = vec![0.0; self.stream.n_pre()];
        let mut recorded = vec![0.0; n_rec];
        let mut next_recorded = vec![0.0; n_rec];
        let make = || NeuralForward::with_active(self.circuit, &self.rule, self.active.clone());
        self.states.with(make, |state| {
            if !steps.next_step(&mut input, &mut recorded)? {
                return Ok(0.0);
            }
            state.start(self.stream.initial_weights(k), &input);
            let mut sse = 0.0;
            loop {
                sse += state.observe(&recorded, self.stream.recorded_neurons(), gradient);
                if !steps.next_step(&mut next_input, &mut next_recorded)? {
                    return Ok(sse);
                }
                state.advance(&self.rule, theta, &next_input);
                std::mem::swap(&mut recorded, &mut next_recorded);
            }
        })
    }

    fn evaluate(&self, theta: &[f64], items: &[usize], gradient: &mut [f64]) -> f64 {
        let per_item: Vec<crate::Result<(f64, Vec<f64>)>> = items
            .par_iter()
            .map(|&k| {
                let mut item_gradient = vec![0.0; theta.len()];
                self.trajectory(theta, k, &mut item_gradient)
                    .map(|sse| (sse, item_gradient))
            })
            .collect();
        let scale =
            1.0 / (items.len() * self.stream.steps() * self.stream.recorded_neurons().len()) as f64;
        gradient.iter_mut().for_each(|g| *g = 0.0);
        let mut total = 0.0;
        for item in per_item {
            match item {
                Ok((sse, item_gradient)) => {
                    total += sse;
                    for (g, v) in gradient.iter_mut().zip(&item_gradient) {
                        *g += v;
                    }
                }
                Err(error) => {
                    if let Ok(mut slot) = self.error.lock() {
                        slot.get_or_insert(error);
                    }
                    return f64::NAN;
                }
            }
        }
        gradient.iter_mut().for_each(|g| *g *= scale);
        total * scale
    }
}

impl<R: PlasticityRule> Objective for StreamedNeuralObjective<'_, R> {
    fn n_parameters(&self) -> usize {
        self.rule.n_parameters()
    }

    fn n_items(&self) -> usize {
        self.stream.n_trajectories()
    }

    fn loss(&self, theta: &[f64], items: &[usize]) -> f64 {
        let mut gradient = vec![0.0; theta.len()];
        self.evaluate(theta, items, &mut gradient)
    }

    fn loss_and_gradient(&self, theta: &[f64], items: &[usize], gradient: &mut [f64]) -> f64 {
        self.evaluate(theta, items, gradient)
    }
}
