//! Several principal components (issue 29, point 3): `k` linear neurons learn the
//! top-`k` principal subspace of their inputs with two meta-learned Taylor rules, one
//! for the feed-forward weights and one for lateral weights between the outputs.
//!
//! **Inputs.** `x_t ~ N(0, C)` with a fresh `C = Q diag(λ) Qᵀ` per task (`Q`
//! Haar-random): the `k` leading eigenvalues `λ₁ ≥ … ≥ λ_k ~ U(lo, hi)` (sorted), the
//! `n − k` minor ones `~ U(0, minor_eigenvalue_max)` with `minor_eigenvalue_max < lo`,
//! so the top-`k` subspace is separated by a gap of at least `lo − minor_eigenvalue_max`.
//!
//! **Circuit** (Rubner & Tavan 1989; Földiák 1990 with hierarchical lateral links):
//! feed-forward weights `W` (`k × n`), lateral weights `L` (`k × k`, strictly lower
//! triangular, `L₀ = 0`), settled outputs
//! `y = (I − L)⁻¹ W x`, i.e. `y_i = (W x)_i + Σ_{j<i} L_ij y_j` (forward substitution).
//! The hierarchical form is the one the Rubner–Tavan network (Oja feed-forward,
//! anti-Hebbian lateral) is proven to converge in, and `I − L` is unit lower
//! triangular, so the settled outputs always exist (no matrix to invert, `O(k²)` per
//! step, no allocation), whatever a trial rule does to `L`. The ordering also makes the
//! alignment of neuron `i` with eigenvector `v_i` a meaningful measure.
//!
//! **Learning.** With `θ = [θ_ff | θ_lat]` (two Taylor rules over (x, y, w)),
//! `W_ij ← W_ij + η g_{θ_ff}(x_j, y_i, W_ij)` and
//! `L_ij ← L_ij + η_lat g_{θ_lat}(y_j, y_i, L_ij)` for `j < i` (the other entries of
//! `L` stay 0), both at the outputs before the update, for `T` steps from
//! `W₀ ~ N(0, s²/n)`. Oja's rule `x y − y² w` with anti-Hebbian `−x y` lateral is
//! the textbook solution.
//!
//! **Loss** of a task, on the effective map `F = (I − L_T)⁻¹ W_T` (`y = F x`, rows
//! `f_i`): `1 − tr(P C) / Σ_{i≤k} λ_i + ‖F Fᵀ − I‖²_F` with
//! `P = Fᵀ (F Fᵀ)⁻¹ F` the projector on the row space of `F`, so
//! `tr(P C) = tr(G⁻¹ H)`, `G = F Fᵀ`, `H = F C Fᵀ`: the variance the outputs capture
//! relative to the optimum, plus orthonormal effective rows. The second term
//! generalises PCA's `(‖w‖ − 1)²`: its diagonal `(‖f_i‖² − 1)²` normalises the rows,
//! its off-diagonal `2 Σ_{i<j} (f_i·f_j)²` rules out the correlated bases that span
//! the subspace as well (found by meta-training with the diagonal alone: captured
//! variance ≈ 0.94–0.97 with `|corr(y_i, y_j)|` ≈ 0.9 and non-Oja lateral rules), so
//! that Oja feed-forward with anti-Hebbian lateral (rows → the eigenvectors) is the
//! optimum.
//!
//! **Safeguard** (meta-training only, never at evaluation): an optional row-norm cap
//! `r ← r · min(1, c/‖r‖)` on every row of `W` and of `L` after each update; its
//! Jacobian `c/‖u‖ (I − û ûᵀ)` is part of the gradient.

mod algebra;
mod evaluation;
#[cfg(test)]
mod tests;

pub use evaluation::ComponentsEvaluation;

use algebra::{
    cap_rows, cap_rows_vjp, effective_map, mask_lateral, settle, solve_transposed, Moments,
};

use serde::{Deserialize, Serialize};

use super::{sqrt_segment, Checkpoints};
use crate::rule::{term_names, LayerState, PlasticityRule, Variables};
use crate::scalar::Scalar;
use crate::task::covariance::{random_orthogonal, task_rng, Covariance};
use crate::{Error, Result};
use rand::rngs::ChaCha8Rng;
use rand::RngExt;
use rand_distr::StandardNormal;

/// A run counts as diverged when a weight's magnitude exceeds this (or is not finite).
pub const DIVERGED_NORM: f64 = 1e6;

/// The settings of the several-components task (`[task]` keys in brackets).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentsTask {
    /// Inputs `n` (`inputs`).
    #[serde(rename = "inputs")]
    pub n_inputs: usize,
    /// Output neurons `k`, the number of components (`components`).
    #[serde(rename = "components")]
    pub n_components: usize,
    /// Learning steps `T` (`steps`).
    #[serde(rename = "steps")]
    pub n_steps: usize,
    /// Feed-forward learning rate `η`.
    pub learning_rate: f64,
    /// Lateral learning rate `η_lat`.
    pub lateral_learning_rate: f64,
    /// `s` in `W₀ ~ N(0, s²/n)`.
    pub initial_weight_scale: f64,
    /// `[lo, hi]`: the `k` leading eigenvalues are `~ U(lo, hi)`, sorted.
    pub leading_eigenvalues: [f64; 2],
    /// The `n − k` minor eigenvalues are `~ U(0, this)`; must be below `lo`.
    pub minor_eigenvalue_max: f64,
}

fn positive(key: &str, value: f64) -> Result<()> {
    if value > 0.0 && value.is_finite() {
        Ok(())
    } else {
        Err(Error::config(
            key,
            format!("{value}: expected a positive number"),
        ))
    }
}

impl ComponentsTask {
    /// Checks the settings; errors name the `[task]` key.
    pub fn validate(&self) -> Result<()> {
        if self.n_inputs < 2 {
            return Err(Error::config(
                "task.inputs",
                format!("{}: at least 2 inputs are needed", self.n_inputs),
            ));
        }
        if self.n_components == 0 || self.n_components >= self.n_inputs {
            return Err(Error::config(
                "task.components",
                format!(
                    "{}: expected 1 ≤ components < inputs = {}",
                    self.n_components, self.n_inputs
                ),
            ));
        }
        if self.n_steps == 0 {
            return Err(Error::config("task.steps", "0: expected at least 1 step"));
        }
        positive("task.learning_rate", self.learning_rate)?;
        positive("task.lateral_learning_rate", self.lateral_learning_rate)?;
        positive("task.initial_weight_scale", self.initial_weight_scale)?;
        positive("task.minor_eigenvalue_max", self.minor_eigenvalue_max)?;
        let [lo, hi] = self.leading_eigenvalues;
        if !(lo > self.minor_eigenvalue_max && hi >= lo && hi.is_finite()) {
            return Err(Error::config(
                "task.leading_eigenvalues",
                format!(
                    "[{lo}, {hi}]: expected minor_eigenvalue_max = {} < lo ≤ hi, finite",
                    self.minor_eigenvalue_max
                ),
            ));
        }
        Ok(())
    }

    /// Length of the simulated state: `W` (`k n`) then `L` (`k²`).
    fn state_len(&self) -> usize {
        self.n_components * (self.n_inputs + self.n_components)
    }

    /// Task `index` of a run seeded with `seed`, from stream `index + 1`: the leading
    /// then the minor eigenvalues, `Q`, `W₀`, then (later) the inputs.
    fn instance(&self, seed: u64, index: usize) -> Instance {
        let (n, k) = (self.n_inputs, self.n_components);
        let mut rng = task_rng(seed, index as u64);
        let [lo, hi] = self.leading_eigenvalues;
        let mut leading: Vec<f64> = (0..k)
            .map(|_| lo + (hi - lo) * rng.random::<f64>())
            .collect();
        leading.sort_by(|a, b| b.total_cmp(a));
        let mut minor: Vec<f64> = (k..n)
            .map(|_| self.minor_eigenvalue_max * rng.random::<f64>())
            .collect();
        minor.sort_by(|a, b| b.total_cmp(a));
        let eigenvalues: Vec<f64> = leading.into_iter().chain(minor).collect();
        let q = random_orthogonal(n, &mut rng);
        let mut matrix = vec![0.0; n * n];
        for a in 0..n {
            for b in 0..n {
                matrix[a * n + b] = (0..n)
                    .map(|m| q[a * n + m] * eigenvalues[m] * q[b * n + m])
                    .sum();
            }
        }
        let std = self.initial_weight_scale / (n as f64).sqrt();
        let mut initial_state = vec![0.0; self.state_len()];
        for v in initial_state[..k * n].iter_mut() {
            *v = std * rng.sample::<f64, _>(StandardNormal);
        }
        Instance {
            optimum: eigenvalues[..k].iter().sum(),
            covariance: Covariance {
                eigenvectors: q,
                sqrt_eigenvalues: eigenvalues.iter().map(|l| l.sqrt()).collect(),
            },
            matrix,
            initial_state,
            rng,
        }
    }

    /// The next `n_steps` inputs of an instance, row-major `n_steps × n`.
    fn inputs(&self, instance: &mut Instance, n_steps: usize) -> Vec<f64> {
        let n = self.n_inputs;
        let mut inputs = vec![0.0; n_steps * n];
        let mut z = vec![0.0; n];
        for x in inputs.chunks_exact_mut(n) {
            instance.covariance.draw_input(&mut instance.rng, &mut z, x);
        }
        inputs
    }
}

/// One drawn task.
struct Instance {
    /// `C` in factored form, for the input draws (eigenvalues in decreasing order).
    covariance: Covariance,
    /// `C`, row-major `n × n`.
    matrix: Vec<f64>,
    /// `Σ_{i≤k} λ_i`, the most variance `k` outputs can capture.
    optimum: f64,
    /// `[W₀ | L₀ = 0]`.
    initial_state: Vec<f64>,
    rng: ChaCha8Rng,
}

/// The names of θ: `ff.<term>` then `lateral.<term>` over the canonical term names of
/// the rule's variables (54 names for (x, y, w)).
pub fn coefficient_names(variables: Variables) -> Vec<String> {
    let names = term_names(variables);
    let ff = names.iter().map(|t| format!("ff.{t}"));
    ff.chain(names.iter().map(|t| format!("lateral.{t}")))
        .collect()
}

/// The several-components objective: items are task indices.
pub struct ComponentsObjective<R> {
    task: ComponentsTask,
    rule: R,
    seed: u64,
    norm_cap: Option<f64>,
}

impl<R: PlasticityRule> ComponentsObjective<R> {
    /// The objective over tasks drawn with `seed`, `rule` serving both the feed-forward
    /// and the lateral weights; `norm_cap` is the training-only row-norm cap.
    pub fn new(task: ComponentsTask, rule: R, seed: u64, norm_cap: Option<f64>) -> Result<Self> {
        task.validate()?;
        if let Some(cap) = norm_cap {
            positive("meta.norm_cap", cap)?;
        }
        Ok(ComponentsObjective {
            task,
            rule,
            seed,
            norm_cap,
        })
    }

    /// The task settings.
    pub fn task(&self) -> &ComponentsTask {
        &self.task
    }

    /// Length of the scratch buffers of [`Self::step`].
    fn scratch_len(&self) -> usize {
        let k = self.task.n_components;
        self.rule
            .scratch_len(self.task.n_inputs)
            .max(self.rule.scratch_len(k))
    }

    /// One learning step on `state = [W | L]`: settle `y`, update `W` and `L` with their
    /// rules at that `y`, mask `L`, then cap the rows if `norm_cap` is set.
    /// Allocation-free.
    fn step<S: Scalar>(
        &self,
        theta: &[S],
        x: &[S],
        state: &mut [S],
        (y, scratch): (&mut [S], &mut [S]),
        norm_cap: Option<f64>,
    ) {
        let (n, k) = (self.task.n_inputs, self.task.n_components);
        let p = self.rule.n_parameters();
        let (w, lateral) = state.split_at_mut(k * n);
        settle(w, lateral, x, y);
        let (ff, lat) = self.layers(x, y, S::from_f64);
        self.rule.update(&theta[..p], ff, w, scratch);
        self.rule.update(&theta[p..], lat, lateral, scratch);
        mask_lateral(lateral, k);
        if let Some(cap) = norm_cap {
            cap_rows(w, n, cap);
            cap_rows(lateral, k, cap);
        }
    }

    /// The feed-forward layer (`pre = x`) and the lateral layer (`pre = post = y`).
    fn layers<'a, S: Scalar>(
        &self,
        x: &'a [S],
        y: &'a [S],
        from: impl Fn(f64) -> S,
    ) -> (LayerState<'a, S>, LayerState<'a, S>) {
        let layer = |pre, rate| LayerState {
            pre,
            post: y,
            reward: from(0.0),
            learning_rate: from(rate),
        };
        (
            layer(x, self.task.learning_rate),
            layer(y, self.task.lateral_learning_rate),
        )
    }

    /// The loss of task `index` at `θ`, generic so that dual numbers can check the
    /// gradient.
    pub fn task_loss<S: Scalar>(&self, theta: &[S], index: usize) -> S {
        let (n, k) = (self.task.n_inputs, self.task.n_components);
        let mut instance = self.task.instance(self.seed, index);
        let inputs = self.task.inputs(&mut instance, self.task.n_steps);
        let mut state: Vec<S> = instance
            .initial_state
            .iter()
            .map(|&v| S::from_f64(v))
            .collect();
        let mut x = vec![S::zero(); n];
        let (mut y, mut scratch) = (vec![S::zero(); k], vec![S::zero(); self.scratch_len()]);
        for row in inputs.chunks_exact(n) {
            for (a, &b) in x.iter_mut().zip(row) {
                *a = S::from_f64(b);
            }
            self.step(theta, &x, &mut state, (&mut y, &mut scratch), self.norm_cap);
        }
        let f = effective_map(&state, n, k);
        Moments::new(&f, &instance.matrix, n, k).loss(k, instance.optimum)
    }

    /// The loss of task `index` and its gradient (added to `gradient`), by the
    /// checkpointed reverse pass.
    pub fn task_loss_and_gradient(&self, theta: &[f64], index: usize, gradient: &mut [f64]) -> f64 {
        let (n, k) = (self.task.n_inputs, self.task.n_components);
        let p = self.rule.n_parameters();
        let t_steps = self.task.n_steps;
        let mut instance = self.task.instance(self.seed, index);
        let inputs = self.task.inputs(&mut instance, t_steps);
        let mut state = instance.initial_state.clone();
        let (mut y, mut scratch) = (vec![0.0; k], vec![0.0; self.scratch_len()]);
        let mut forward = |t: usize, s: &mut [f64]| {
            let x = &inputs[t * n..(t + 1) * n];
            self.step(theta, x, s, (&mut y, &mut scratch), self.norm_cap);
        };
        let checkpoints =
            Checkpoints::forward(t_steps, sqrt_segment(t_steps), &mut state, &mut forward);
        let f = effective_map(&state, n, k);
        let moments = Moments::new(&f, &instance.matrix, n, k);
        let loss = moments.loss(k, instance.optimum);
        // F = (I − L)⁻¹ W: with A = (I − L)⁻ᵀ ∂L/∂F, ∂L/∂W = A and ∂L/∂L_ij = a_i · f_j.
        let mut a = moments.loss_gradient(&f, n, k, instance.optimum);
        solve_transposed(&state[k * n..], k, &mut a, n);
        let mut adjoint = vec![0.0; state.len()];
        adjoint[..k * n].copy_from_slice(&a);
        for i in 0..k {
            for j in 0..i {
                adjoint[k * n + i * k + j] = (0..n).map(|m| a[i * n + m] * f[j * n + m]).sum();
            }
        }
        let (mut yb, mut updated) = (vec![0.0; k], vec![0.0; state.len()]);
        let (mut y_back, mut yb_scratch) = (vec![0.0; k], vec![0.0; self.scratch_len()]);
        checkpoints.backward(&mut forward, |t, before| {
            let x = &inputs[t * n..(t + 1) * n];
            let (w, lateral) = before.split_at(k * n);
            settle(w, lateral, x, &mut y_back);
            let y = &y_back[..];
            if let Some(cap) = self.norm_cap {
                updated.copy_from_slice(before);
                self.step(theta, x, &mut updated, (&mut yb, &mut yb_scratch), None);
                let (aw, al) = adjoint.split_at_mut(k * n);
                cap_rows_vjp(aw, &updated[..k * n], n, cap);
                cap_rows_vjp(al, &updated[k * n..], k, cap);
            }
            let (aw, al) = adjoint.split_at_mut(k * n);
            mask_lateral(al, k);
            let (ff, lat) = self.layers(x, y, |v| v);
            yb.iter_mut().for_each(|v| *v = 0.0);
            let (g_ff, g_lat) = gradient.split_at_mut(p);
            self.rule
                .update_vjp_pre(&theta[p..], lat, lateral, al, &mut yb);
            let s = &mut yb_scratch;
            self.rule
                .update_vjp(&theta[p..], lat, lateral, al, &mut yb, g_lat, s);
            self.rule
                .update_vjp(&theta[..p], ff, w, aw, &mut yb, g_ff, s);
            // y = (I − L)⁻¹ W x: ū = (I − L)⁻ᵀ ȳ, ∂/∂W_ij += ū_i x_j, ∂/∂L_ij += ū_i y_j.
            solve_transposed(lateral, k, &mut yb, 1);
            for i in 0..k {
                for (a, &xj) in aw[i * n..(i + 1) * n].iter_mut().zip(x) {
                    *a += yb[i] * xj;
                }
                for j in 0..i {
                    al[i * k + j] += yb[i] * y[j];
                }
            }
        });
        loss
    }
}

impl<R: PlasticityRule> super::FunctionObjective for ComponentsObjective<R> {
    fn n_parameters(&self) -> usize {
        2 * self.rule.n_parameters()
    }

    fn task_loss_value(&self, theta: &[f64], index: usize) -> f64 {
        self.task_loss(theta, index)
    }

    fn task_loss_and_gradient(&self, theta: &[f64], index: usize, gradient: &mut [f64]) -> f64 {
        ComponentsObjective::task_loss_and_gradient(self, theta, index, gradient)
    }
}
