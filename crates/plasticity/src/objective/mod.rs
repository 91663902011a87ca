//! Losses over datasets, with their gradients, parallel over trajectories.
//!
//! Per-trajectory results are collected in order and summed sequentially, so a loss
//! is bit-identical whatever the number of threads.

use rayon::prelude::*;

mod behaviour;
pub mod circuit;
pub mod function;
pub mod spike_train;
pub use behaviour::BehaviourObjective;
pub use circuit::CircuitObjective;

use crate::data::NeuralDataset;
use crate::gradient::{EnginePath, GradientStrategy, NeuralEngine, NeuralForward, NeuralWorkspace};
use crate::rule::RuleOfEngine;

/// A differentiable data loss over items (trajectories or sessions) that can be
/// batched: what the optimizers see.
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
    engine: NeuralEngine<R>,
    strategy: GradientStrategy,
    /// Workspaces kept between calls: a paper-scale tape is 40 MB, and allocating
    /// (and first touching) it anew for every minibatch of one trajectory cost as much
    /// as the gradient itself; the same for forward mode's tangents.
    workspaces: WorkspacePool<NeuralWorkspace<f64>>,
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

impl<'a, R: RuleOfEngine> NeuralObjective<'a, R> {
    /// The MSE of `dataset` under `rule`, gradients by `strategy`. (A `Result`, as
    /// every objective's constructor: the engine's network of the layer, which
    /// behaviour data already run on, can refuse a circuit.)
    pub fn new(
        dataset: &'a NeuralDataset,
        rule: R,
        strategy: GradientStrategy,
    ) -> crate::Result<Self> {
        Ok(NeuralObjective {
            dataset,
            engine: NeuralEngine::for_dataset(dataset, rule)?,
            strategy,
            workspaces: WorkspacePool::new(),
        })
    }

    /// Forward mode carries tangents only for `active` (the trainable parameters,
    /// indices below `n_parameters`): memory and time ∝ their number. The gradient's
    /// other entries are then 0 under [`GradientStrategy::Forward`] (the adjoint
    /// computes them all anyway).
    pub fn with_active_parameters(mut self, active: Vec<usize>) -> Self {
        self.engine = self.engine.with_active_parameters(active);
        self
    }

    fn normaliser(&self, n_items: usize) -> f64 {
        (n_items * self.dataset.steps() * self.dataset.recorded_neurons.len()) as f64
    }
}

impl<R: RuleOfEngine> NeuralObjective<'_, R> {
    /// The same objective on the engine's `path` (the general network step or the
    /// single-layer fast path; the results agree to round-off).
    pub fn with_path(mut self, path: EnginePath) -> Self {
        self.engine = self.engine.with_path(path);
        self
    }
}

impl<R: RuleOfEngine> Objective for NeuralObjective<'_, R> {
    fn n_parameters(&self) -> usize {
        self.engine.rule().n_parameters()
    }

    fn n_items(&self) -> usize {
        self.dataset.n_trajectories()
    }

    fn loss(&self, theta: &[f64], items: &[usize]) -> f64 {
        let per_item: Vec<f64> = items
            .par_iter()
            .map(|&k| {
                self.workspaces.with(NeuralWorkspace::new, |workspace| {
                    self.engine
                        .sse(theta, self.dataset.trajectory(k), workspace)
                })
            })
            .collect();
        per_item.iter().sum::<f64>() / self.normaliser(items.len())
    }

    fn loss_and_gradient(&self, theta: &[f64], items: &[usize], gradient: &mut [f64]) -> f64 {
        let per_item: Vec<(f64, Vec<f64>)> = items
            .par_iter()
            .map(|&k| {
                self.workspaces.with(NeuralWorkspace::new, |workspace| {
                    let mut item_gradient = vec![0.0; theta.len()];
                    let sse = self.engine.sse_and_gradient(
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

/// The neural-activity loss of [`NeuralObjective`] over a dataset that streams from its
/// file ([`NeuralStream`](crate::data::NeuralStream)), with forward-mode gradients:
/// memory independent of the recording's length, each evaluation reading the
/// trajectories it needs again from the file.
///
/// [`Objective`] returns plain numbers, so a read error makes the loss NaN (which stops
/// a fit) and is kept for [`StreamedNeuralObjective::take_error`].
pub struct StreamedNeuralObjective<'a, R> {
    stream: &'a crate::data::NeuralStream,
    engine: NeuralEngine<R>,
    states: WorkspacePool<NeuralForward>,
    error: std::sync::Mutex<Option<crate::Error>>,
}

impl<'a, R: RuleOfEngine> StreamedNeuralObjective<'a, R> {
    /// The MSE of the streamed dataset under `rule`.
    pub fn new(stream: &'a crate::data::NeuralStream, rule: R) -> crate::Result<Self> {
        let engine = NeuralEngine::new(
            stream.n_pre(),
            stream.n_post(),
            stream.recorded_neurons(),
            rule,
        )?;
        Ok(StreamedNeuralObjective {
            stream,
            engine,
            states: WorkspacePool::new(),
            error: std::sync::Mutex::new(None),
        })
    }

    /// As [`NeuralObjective::with_active_parameters`].
    pub fn with_active_parameters(mut self, active: Vec<usize>) -> Self {
        self.engine = self.engine.with_active_parameters(active);
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
        let make = || self.engine.forward_state();
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
                state.advance(self.engine.rule(), theta, &next_input);
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

impl<R: RuleOfEngine> Objective for StreamedNeuralObjective<'_, R> {
    fn n_parameters(&self) -> usize {
        self.engine.rule().n_parameters()
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
