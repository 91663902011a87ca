//! The neural-activity circuit (SPEC §3.1): `y_t = σ(W_t x_t)` with no bias, then
//! `W_{t+1} = W_t + η g_θ(x_t, y_t, W_t)` with `η = 1`.

use crate::rule::{LayerState, PlasticityRule};
use crate::scalar::Scalar;

/// One dense plastic layer with sigmoid units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NeuralCircuit {
    /// Presynaptic neurons.
    pub n_pre: usize,
    /// Postsynaptic neurons.
    pub n_post: usize,
    /// The learning rate `η` (SPEC: 1).
    pub learning_rate: f64,
}

impl NeuralCircuit {
    /// A circuit with `η = 1`.
    pub fn new(n_pre: usize, n_post: usize) -> Self {
        NeuralCircuit {
            n_pre,
            n_post,
            learning_rate: 1.0,
        }
    }

    /// Number of synapses `n_post × n_pre`.
    pub fn n_synapses(&self) -> usize {
        self.n_pre * self.n_post
    }

    /// `y = σ(W x)`.
    #[inline]
    pub fn activity<S: Scalar>(&self, pre: &[S], weights: &[S], post: &mut [S]) {
        for (y, row) in post.iter_mut().zip(weights.chunks_exact(self.n_pre)) {
            let mut z = S::zero();
            for (&w, &x) in row.iter().zip(pre) {
                z += w * x;
            }
            *y = z.sigmoid();
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

    /// The weight update after the activity of this step: `W ← W + η g_θ(x, y, W)`.
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
        rule.update(theta, self.layer(pre, post), weights, scratch);
    }

    /// Reverse mode of one step (activity, then plasticity) at `W_t = weights_before`.
    ///
    /// On entry `weights_adjoint` is `∂L/∂W_{t+1}` and `post_adjoint` is the direct
    /// loss gradient `∂L_t/∂y_t`; on exit `weights_adjoint` is `∂L/∂W_t` (the paths
    /// through the update and through `y_t`), and `theta_adjoint` has this step's share
    /// added. `post_adjoint` is used as scratch.
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
        rule.update_vjp(
            theta,
            self.layer(pre, post),
            weights_before,
            weights_adjoint,
            post_adjoint,
            theta_adjoint,
            scratch,
        );
        self.activity_vjp(pre, post, weights_adjoint, post_adjoint);
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
