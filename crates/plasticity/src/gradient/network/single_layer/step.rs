//! The single-layer fast path's step (docs/model.md §3.1): `y_t = σ(W_t x_t)` with no bias, then
//! `W_{t+1} = W_t + η g_θ(x_t, y_t, W_t)` with `η = 1`.

use rayon::prelude::*;

use crate::circuit::{PARALLEL_SYNAPSES, ROW_BLOCK};
use crate::rule::{LayerState, PlasticityRule};
use crate::scalar::Scalar;

/// One row block of [`SingleLayer::step_vjp`]: `W_t`, the weight adjoint, `y`,
/// the `y` adjoint and the block's scratch.
type VjpBlock<'a, S> = (
    (((&'a [S], &'a mut [S]), &'a [S]), &'a mut [S]),
    &'a mut [S],
);

/// One row block of [`SingleLayer::plasticity_then_activity`]: `W`, `y`, the
/// block's scratch and the next step's `y`.
type UpdateBlock<'a, S> = (((&'a mut [S], &'a [S]), &'a mut [S]), &'a mut [S]);

/// One dense plastic layer with sigmoid units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SingleLayer {
    /// Presynaptic neurons.
    pub n_pre: usize,
    /// Postsynaptic neurons.
    pub n_post: usize,
    /// The learning rate `η` (SPEC: 1).
    pub learning_rate: f64,
}

impl SingleLayer {
    /// A circuit with `η = 1`.
    pub fn new(n_pre: usize, n_post: usize) -> Self {
        SingleLayer {
            n_pre,
            n_post,
            learning_rate: 1.0,
        }
    }

    /// Number of synapses `n_post × n_pre`.
    pub fn n_synapses(&self) -> usize {
        self.n_pre * self.n_post
    }

    /// Number of row blocks.
    pub fn n_blocks(&self) -> usize {
        self.n_post.div_ceil(ROW_BLOCK).max(1)
    }

    /// Scratch the per-step kernels need with `rule`: per block, the rule's scratch
    /// and a θ adjoint.
    pub fn scratch_len<R: PlasticityRule>(&self, rule: &R) -> usize {
        self.n_blocks() * self.block_scratch_len(rule)
    }

    fn block_scratch_len<R: PlasticityRule>(&self, rule: &R) -> usize {
        rule.scratch_len(self.n_pre) + rule.n_parameters()
    }

    fn parallel(&self) -> bool {
        self.n_synapses() >= PARALLEL_SYNAPSES
    }

    /// `y_i = σ(Σ_j W_ij x_j)` for the rows of `weights` (one row per entry of `post`).
    #[inline]
    fn activity_rows<S: Scalar>(&self, pre: &[S], weights: &[S], post: &mut [S]) {
        for (y, row) in post.iter_mut().zip(weights.chunks_exact(self.n_pre)) {
            let mut z = S::zero();
            for (&w, &x) in row.iter().zip(pre) {
                z += w * x;
            }
            *y = z.sigmoid();
        }
    }

    /// `y = σ(W x)`.
    #[inline]
    pub fn activity<S: Scalar>(&self, pre: &[S], weights: &[S], post: &mut [S]) {
        if self.parallel() {
            post.par_chunks_mut(ROW_BLOCK)
                .zip(weights.par_chunks(ROW_BLOCK * self.n_pre))
                .for_each(|(post, weights)| self.activity_rows(pre, weights, post));
        } else {
            self.activity_rows(pre, weights, post);
        }
    }

    /// The layer state the rule sees at one step.
    #[inline]
    fn layer<'a, S: Scalar>(&self, pre: &'a [S], post: &'a [S]) -> LayerState<'a, S> {
        LayerState {
            pre,
            post,
            reward: S::zero(),
            learning_rate: S::from_f64(self.learning_rate),
        }
    }

    /// The weight update after the activity of this step: `W ← W + η g_θ(x, y, W)`,
    /// block by block. `scratch` has [`SingleLayer::scratch_len`] entries.
    #[inline]
    pub fn plasticity<S: Scalar, R: PlasticityRule>(
        &self,
        rule: &R,
        theta: &[S],
        pre: &[S],
        post: &[S],
        weights: &mut [S],
        scratch: &mut [S],
    ) {
        let rule_scratch = rule.scratch_len(self.n_pre);
        let block = |((weights, post), scratch): ((&mut [S], &[S]), &mut [S])| {
            rule.update(
                theta,
                self.layer(pre, post),
                weights,
                &mut scratch[..rule_scratch],
            );
        };
        let (rows, per_block) = (ROW_BLOCK * self.n_pre, self.block_scratch_len(rule));
        if self.parallel() {
            weights
                .par_chunks_mut(rows)
                .zip(post.par_chunks(ROW_BLOCK))
                .zip(scratch.par_chunks_mut(per_block))
                .for_each(block);
        } else {
            weights
                .chunks_mut(rows)
                .zip(post.chunks(ROW_BLOCK))
                .zip(scratch.chunks_mut(per_block))
                .for_each(block);
        }
    }

    /// The update of step t and the activity of step t+1 in one pass over each row
    /// block (the rows are still in cache when their next activity is computed):
    /// `W ← W + η g_θ(x, y, W)`, then `y' = σ(W x')`.
    #[allow(clippy::too_many_arguments)]
    pub fn plasticity_then_activity<S: Scalar, R: PlasticityRule>(
        &self,
        rule: &R,
        theta: &[S],
        pre: &[S],
        post: &[S],
        weights: &mut [S],
        scratch: &mut [S],
        next_pre: &[S],
        next_post: &mut [S],
    ) {
        let rule_scratch = rule.scratch_len(self.n_pre);
        let block = |(((weights, post), scratch), next_post): UpdateBlock<'_, S>| {
            rule.update(
                theta,
                self.layer(pre, post),
                weights,
                &mut scratch[..rule_scratch],
            );
            self.activity_rows(next_pre, weights, next_post);
        };
        let (rows, per_block) = (ROW_BLOCK * self.n_pre, self.block_scratch_len(rule));
        if self.parallel() {
            weights
                .par_chunks_mut(rows)
                .zip(post.par_chunks(ROW_BLOCK))
                .zip(scratch.par_chunks_mut(per_block))
                .zip(next_post.par_chunks_mut(ROW_BLOCK))
                .for_each(block);
        } else {
            weights
                .chunks_mut(rows)
                .zip(post.chunks(ROW_BLOCK))
                .zip(scratch.chunks_mut(per_block))
                .zip(next_post.chunks_mut(ROW_BLOCK))
                .for_each(block);
        }
    }

    /// Reverse mode of one step (activity, then plasticity) at `W_t = weights_before`.
    ///
    /// On entry `weights_adjoint` is `∂L/∂W_{t+1}` and `post_adjoint` is the direct
    /// loss gradient `∂L_t/∂y_t`; on exit `weights_adjoint` is `∂L/∂W_t` (the paths
    /// through the update and through `y_t`), and `theta_adjoint` has this step's share
    /// added (summed block by block, in block order). `post_adjoint` is used as
    /// scratch; `scratch` has [`SingleLayer::scratch_len`] entries.
    #[allow(clippy::too_many_arguments)]
    pub fn step_vjp<S: Scalar, R: PlasticityRule>(
        &self,
        rule: &R,
        theta: &[S],
        pre: &[S],
        post: &[S],
        weights_before: &[S],
        weights_adjoint: &mut [S],
        post_adjoint: &mut [S],
        theta_adjoint: &mut [S],
        scratch: &mut [S],
    ) {
        let rule_scratch = rule.scratch_len(self.n_pre);
        let block =
            |((((weights_before, weights_adjoint), post), post_adjoint), scratch): VjpBlock<
                '_,
                S,
            >| {
                let (rule_scratch, block_theta_adjoint) = scratch.split_at_mut(rule_scratch);
                block_theta_adjoint.iter_mut().for_each(|a| *a = S::zero());
                rule.update_vjp(
                    theta,
                    self.layer(pre, post),
                    weights_before,
                    weights_adjoint,
                    post_adjoint,
                    block_theta_adjoint,
                    rule_scratch,
                );
                self.activity_vjp(pre, post, weights_adjoint, post_adjoint);
            };
        let (rows, per_block) = (ROW_BLOCK * self.n_pre, self.block_scratch_len(rule));
        if self.parallel() {
            weights_before
                .par_chunks(rows)
                .zip(weights_adjoint.par_chunks_mut(rows))
                .zip(post.par_chunks(ROW_BLOCK))
                .zip(post_adjoint.par_chunks_mut(ROW_BLOCK))
                .zip(scratch.par_chunks_mut(per_block))
                .for_each(block);
        } else {
            weights_before
                .chunks(rows)
                .zip(weights_adjoint.chunks_mut(rows))
                .zip(post.chunks(ROW_BLOCK))
                .zip(post_adjoint.chunks_mut(ROW_BLOCK))
                .zip(scratch.chunks_mut(per_block))
                .for_each(block);
        }
        for block_scratch in scratch.chunks(per_block).take(self.n_blocks()) {
            for (total, &part) in theta_adjoint.iter_mut().zip(&block_scratch[rule_scratch..]) {
                *total += part;
            }
        }
    }

    /// Reverse mode of `y = σ(W x)` with respect to `W`:
    /// `∂L/∂W_ij += ȳ_i y_i (1 − y_i) x_j`.
    pub fn activity_vjp<S: Scalar>(
        &self,
        pre: &[S],
        post: &[S],
        weights_adjoint: &mut [S],
        post_adjoint: &[S],
    ) {
        for ((row, &y), &y_bar) in weights_adjoint
            .chunks_exact_mut(self.n_pre)
            .zip(post)
            .zip(post_adjoint)
        {
            let z_bar = y_bar * y * (S::one() - y);
            for (lambda, &x) in row.iter_mut().zip(pre) {
                *lambda += z_bar * x;
            }
        }
    }
}
