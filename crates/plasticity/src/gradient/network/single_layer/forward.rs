//! Forward-mode trajectory gradients: the sensitivities `S_t = ∂W_t/∂θ` are carried
//! along with the simulation, so memory is `synapses × parameters` whatever the length
//! of the recording, and the gradient of the loss so far exists at every step (what
//! streaming and online fits need).
//!
//! The rule acts synapse by synapse, so `∂W_{t+1}/∂W_t` is diagonal apart from the path
//! through the postsynaptic activity, which couples only the synapses of one row:
//!
//! `S_{t+1}[ij] = (1 + η ∂g/∂w) S_t[ij] + η ∂g/∂θ + η ∂g/∂y_i · ∂y_{t,i}/∂θ`,
//! `∂y_{t,i}/∂θ = σ'(z_{t,i}) Σ_j x_{t,j} S_t[ij]` (one reduction over row `i`).
//!
//! No synapses × synapses Jacobian is ever formed. The rule's partials at one synapse
//! come from its own vector-Jacobian product on a 1 × 1 layer (`λ = 1`), so every rule
//! (Taylor, MLP) has a forward mode without further code.

use rayon::prelude::*;

use super::step::SingleLayer;
use crate::circuit::{PARALLEL_SYNAPSES, ROW_BLOCK};
use crate::data::NeuralTrajectory;
use crate::rule::{LayerState, PlasticityRule};

/// One row block of [`NeuralForward::advance`]: `W`, `S`, `y`, `∂y/∂θ`, scratch.
type TangentBlock<'a> = (
    (
        ((&'a mut [f64], &'a mut [f64]), &'a mut [f64]),
        &'a mut [f64],
    ),
    &'a mut [f64],
);

/// `Σ_j x_j S[j,:]` into `out`: the tangent of row `i`'s input current.
#[inline]
fn current_tangent(pre: &[f64], tangents_row: &[f64], out: &mut [f64]) {
    let n_params = out.len();
    out.iter_mut().for_each(|o| *o = 0.0);
    for (&x, tangent) in pre.iter().zip(tangents_row.chunks_exact(n_params)) {
        for (o, &s) in out.iter_mut().zip(tangent) {
            *o += x * s;
        }
    }
}

/// The state of one neural trajectory in forward mode: `W_t`, `S_t`, `x_t`, `y_t` and
/// `∂y_t/∂θ`. Driven step by step ([`NeuralForward::start`], then
/// [`NeuralForward::observe`] and [`NeuralForward::advance`] per step), so that the
/// data can arrive in chunks and θ can change between steps (online fits). Buffers are
/// sized once; no step allocates.
#[derive(Debug, Clone)]
pub struct NeuralForward {
    circuit: SingleLayer,
    /// The parameters whose tangents are carried (the trainable ones).
    active: Vec<usize>,
    n_params: usize,
    weights: Vec<f64>,
    tangents: Vec<f64>,
    pre: Vec<f64>,
    post: Vec<f64>,
    post_tangent: Vec<f64>,
    block_scratch: Vec<f64>,
}

impl NeuralForward {
    /// Buffers for `circuit` and `rule`: tangents for every parameter.
    pub fn new<R: PlasticityRule>(circuit: SingleLayer, rule: &R) -> Self {
        Self::with_active(circuit, rule, (0..rule.n_parameters()).collect())
    }

    /// Tangents only for the parameters `active` (indices below `rule.n_parameters()`,
    /// the trainable ones): `n_synapses × active.len()` of them. The gradient's other
    /// entries are left as they are.
    pub fn with_active<R: PlasticityRule>(
        circuit: SingleLayer,
        rule: &R,
        active: Vec<usize>,
    ) -> Self {
        assert!(
            active.iter().all(|&k| k < rule.n_parameters()),
            "active parameter out of range"
        );
        let n_params = active.len();
        let per_block = Self::block_scratch_len(&circuit, rule);
        NeuralForward {
            circuit,
            active,
            n_params,
            weights: vec![0.0; circuit.n_synapses()],
            tangents: vec![0.0; circuit.n_synapses() * n_params],
            pre: vec![0.0; circuit.n_pre],
            post: vec![0.0; circuit.n_post],
            post_tangent: vec![0.0; circuit.n_post * n_params],
            block_scratch: vec![0.0; circuit.n_blocks() * per_block],
        }
    }

    /// Per row block: the layer update's scratch and the rule's tangent scratch.
    fn block_scratch_len<R: PlasticityRule>(circuit: &SingleLayer, rule: &R) -> usize {
        rule.scratch_len(circuit.n_pre) + rule.tangent_scratch_len()
    }

    /// Bytes this state holds (what forward mode needs, whatever `T`).
    pub fn memory_bytes(&self) -> usize {
        8 * (self.weights.len()
            + self.tangents.len()
            + self.pre.len()
            + self.post.len()
            + self.post_tangent.len()
            + self.block_scratch.len())
    }

    /// Starts a trajectory: `W_0`, `S_0 = 0`, `y_0 = σ(W_0 x_0)`, `∂y_0/∂θ = 0`.
    pub fn start(&mut self, initial_weights: &[f64], first_input: &[f64]) {
        self.weights.copy_from_slice(initial_weights);
        self.tangents.iter_mut().for_each(|s| *s = 0.0);
        self.post_tangent.iter_mut().for_each(|s| *s = 0.0);
        self.pre.copy_from_slice(first_input);
        self.circuit
            .activity(&self.pre, &self.weights, &mut self.post);
    }

    /// This step's squared error over the recorded neurons `Σ_i (y_i − ŷ_i)²`; adds its
    /// gradient `Σ_i 2 (y_i − ŷ_i) ∂y_i/∂θ` to `gradient`.
    pub fn observe(&self, recorded: &[f64], neurons: &[usize], gradient: &mut [f64]) -> f64 {
        let mut sse = 0.0;
        for (&i, &target) in neurons.iter().zip(recorded) {
            let residual = self.post[i] - target;
            sse += residual * residual;
            let dy = &self.post_tangent[i * self.n_params..(i + 1) * self.n_params];
            for (&k, &d) in self.active.iter().zip(dy) {
                gradient[k] += 2.0 * residual * d;
            }
        }
        sse
    }

    /// Whether this state was sized for `circuit` and `rule`.
    pub fn fits<R: PlasticityRule>(&self, circuit: &SingleLayer, rule: &R) -> bool {
        self.circuit == *circuit
            && self.active.iter().all(|&k| k < rule.n_parameters())
            && self.block_scratch.len()
                == circuit.n_blocks() * Self::block_scratch_len(circuit, rule)
    }

    /// One step on: the tangents and weights updated with `(x_t, y_t, W_t)` under `θ`
    /// (`rule` is the one the state was made for), then `y_{t+1} = σ(W_{t+1} x_{t+1})`
    /// and its tangent, row block by row block.
    pub fn advance<R: PlasticityRule>(&mut self, rule: &R, theta: &[f64], next_input: &[f64]) {
        let circuit = self.circuit;
        let (n_pre, n_params) = (circuit.n_pre, self.n_params);
        let layer_scratch = rule.scratch_len(n_pre);
        let eta = circuit.learning_rate;
        let pre = &self.pre;
        let active = &self.active;
        let block = |((((weights, tangents), post), post_tangent), scratch): TangentBlock<'_>| {
            let (layer, tangent_scratch) = scratch.split_at_mut(layer_scratch);
            for (((w_row, s_row), y), dy) in weights
                .chunks_exact(n_pre)
                .zip(tangents.chunks_exact_mut(n_pre * n_params))
                .zip(post.chunks_exact(1))
                .zip(post_tangent.chunks_exact(n_params))
            {
                rule.row_tangents(
                    theta,
                    LayerState {
                        pre,
                        post: y,
                        reward: 0.0,
                        learning_rate: eta,
                    },
                    w_row,
                    s_row,
                    dy,
                    active,
                    tangent_scratch,
                );
            }
            rule.update(
                theta,
                LayerState {
                    pre,
                    post,
                    reward: 0.0,
                    learning_rate: eta,
                },
                weights,
                layer,
            );
            for (((w_row, s_row), y), dy) in weights
                .chunks_exact(n_pre)
                .zip(tangents.chunks_exact(n_pre * n_params))
                .zip(post.iter_mut())
                .zip(post_tangent.chunks_exact_mut(n_params))
            {
                let z: f64 = w_row.iter().zip(next_input).map(|(w, x)| w * x).sum();
                *y = sigmoid(z);
                current_tangent(next_input, s_row, dy);
                let slope = *y * (1.0 - *y);
                dy.iter_mut().for_each(|d| *d *= slope);
            }
        };
        let rows = ROW_BLOCK * n_pre;
        let per_block = Self::block_scratch_len(&circuit, rule);
        if circuit.n_synapses() >= PARALLEL_SYNAPSES {
            self.weights
                .par_chunks_mut(rows)
                .zip(self.tangents.par_chunks_mut(rows * n_params))
                .zip(self.post.par_chunks_mut(ROW_BLOCK))
                .zip(self.post_tangent.par_chunks_mut(ROW_BLOCK * n_params))
                .zip(self.block_scratch.par_chunks_mut(per_block))
                .for_each(block);
        } else {
            self.weights
                .chunks_mut(rows)
                .zip(self.tangents.chunks_mut(rows * n_params))
                .zip(self.post.chunks_mut(ROW_BLOCK))
                .zip(self.post_tangent.chunks_mut(ROW_BLOCK * n_params))
                .zip(self.block_scratch.chunks_mut(per_block))
                .for_each(block);
        }
        self.pre.copy_from_slice(next_input);
    }

    /// `∂y_{t,i}/∂θ` of postsynaptic neuron `i` (0-based, below `n_post`), one entry
    /// per active parameter in the order of [`NeuralForward::active`]: one row of the
    /// Jacobian of the recorded activity (what the Gauss–Newton matrix is built from).
    pub fn post_tangent(&self, neuron: usize) -> &[f64] {
        &self.post_tangent[neuron * self.n_params..(neuron + 1) * self.n_params]
    }

    /// The parameters whose tangents are carried, in the order of
    /// [`NeuralForward::post_tangent`].
    pub fn active(&self) -> &[usize] {
        &self.active
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

/// `σ(z)` exactly as [`crate::scalar::Scalar::sigmoid`] computes it for `f64`.
#[inline]
fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// The sum of squared errors of one trajectory and its gradient (added to `gradient`)
/// in forward mode; equal to [`super::adjoint::neural_trajectory_sse_and_gradient`] up to
/// rounding, in memory independent of the number of steps.
pub fn neural_trajectory_sse_and_gradient_forward<R: PlasticityRule>(
    state: &mut NeuralForward,
    rule: &R,
    theta: &[f64],
    trajectory: NeuralTrajectory<'_>,
    gradient: &mut [f64],
) -> f64 {
    let n_pre = state.circuit.n_pre;
    let n_rec = trajectory.recorded_neurons.len();
    let input = |t: usize| &trajectory.inputs[t * n_pre..(t + 1) * n_pre];
    let target = |t: usize| &trajectory.recorded_activity[t * n_rec..(t + 1) * n_rec];
    state.start(trajectory.initial_weights, input(0));
    let mut sse = 0.0;
    for t in 0..trajectory.steps {
        sse += state.observe(target(t), trajectory.recorded_neurons, gradient);
        if t + 1 < trajectory.steps {
            state.advance(rule, theta, input(t + 1));
        }
    }
    sse
}
