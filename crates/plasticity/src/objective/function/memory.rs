//! The autoassociative-memory function objective (issue 12).
//!
//! `N` recurrent rate neurons start from `W₀ = 0` (no self-connections). **Storage:**
//! each of `P` patterns `ξ^p` is presented once with the activity clamped to it, and
//! every recurrent synapse learns `W_ij ← W_ij + η g_θ(ξ^p_j, ξ^p_i, W_ij)` (pre `x = ξ_j`,
//! post `y = ξ_i`), the diagonal kept at 0. **Recall:** from a cue `s₀` of each stored
//! pattern, `K` steps of `s_{k+1} = tanh(β W s_k)` (dense ±1 patterns) or
//! `s_{k+1} = σ(β (W s_k − h))` (sparse {0,1} patterns). **Loss:** minus the overlap
//! with the stored pattern averaged over recall steps and patterns,
//! `L = −1/(K P) Σ_p Σ_{k=1..K} m(s^p_k, ξ^p)` with
//! `m(s, ξ) = Σ_i (ξ_i − a) s_i / Σ_i (ξ_i − a) ξ_i` (`a` = 0 for dense patterns, the
//! coding level for sparse ones), so that `m(ξ, ξ) = 1`. With the final step alone
//! the gradient at θ = 0 is exactly zero (`W = 0` gives `s₁ = 0` or `σ(−βh)` for every
//! cue, and `s_K` depends on `W` only through products); the average fixes it.
//!
//! An optional training-only bound `|W_ij| ≤ b` after each storage step is the
//! safeguard against exploding trial rules; evaluation never applies it.

use serde::{Deserialize, Serialize};

use super::{sqrt_segment, Checkpoints};
use crate::rule::{LayerState, PlasticityRule};
use crate::scalar::Scalar;
use crate::task::covariance::task_rng;
use crate::task::patterns::PatternKind;
use crate::{Error, Result};

/// The recall dynamics.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", deny_unknown_fields)]
pub enum RecallDynamics {
    /// `s ← tanh(β W s)`.
    Tanh {
        /// Gain `β`.
        gain: f64,
    },
    /// `s ← σ(β (W s − h))`.
    Sigmoid {
        /// Gain `β`.
        gain: f64,
        /// Threshold `h`.
        threshold: f64,
    },
}

impl RecallDynamics {
    /// `f(h)` for the summed input `h = (W s)_i`, generic.
    fn activate<S: Scalar>(&self, input: S) -> S {
        match *self {
            RecallDynamics::Tanh { gain } => (S::from_f64(gain) * input).tanh(),
            RecallDynamics::Sigmoid { gain, threshold } => {
                (S::from_f64(gain) * (input - S::from_f64(threshold))).sigmoid()
            }
        }
    }

    /// `f'(h)` from the output `s = f(h)`.
    fn derivative_from_output(&self, s: f64) -> f64 {
        match *self {
            RecallDynamics::Tanh { gain } => gain * (1.0 - s * s),
            RecallDynamics::Sigmoid { gain, .. } => gain * s * (1.0 - s),
        }
    }
}

/// The memory task's settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryTask {
    /// Number of neurons `N`.
    pub n_neurons: usize,
    /// The stored patterns and their cues.
    pub patterns: PatternKind,
    /// Memory loads `P`; task `k` stores `loads[k mod len]` patterns.
    pub loads: Vec<usize>,
    /// Recall steps `K`.
    pub recall_steps: usize,
    /// Learning rate `η` of storage (the set-up: `1/N`).
    pub learning_rate: f64,
    /// The recall dynamics.
    pub recall: RecallDynamics,
}

impl MemoryTask {
    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        if self.n_neurons < 2 {
            return Err(Error::config(
                "task.neurons",
                format!("{}: at least 2 neurons are needed", self.n_neurons),
            ));
        }
        self.patterns.validate(self.n_neurons)?;
        if self.loads.is_empty() || self.loads.contains(&0) {
            return Err(Error::config(
                "task.loads",
                format!(
                    "{:?}: expected a non-empty list of positive loads",
                    self.loads
                ),
            ));
        }
        if self.recall_steps == 0 {
            return Err(Error::config(
                "task.recall_steps",
                "0: expected at least 1 step",
            ));
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return Err(Error::config(
                "task.learning_rate",
                format!("{}: expected a positive number", self.learning_rate),
            ));
        }
        let gain = match self.recall {
            RecallDynamics::Tanh { gain } => gain,
            RecallDynamics::Sigmoid { gain, threshold } => {
                if !threshold.is_finite() {
                    return Err(Error::config("task.threshold", "expected a finite number"));
                }
                gain
            }
        };
        if !(gain > 0.0 && gain.is_finite()) {
            return Err(Error::config(
                "task.gain",
                format!("{gain}: expected a positive number"),
            ));
        }
        Ok(())
    }
}

/// One drawn task: `P` patterns and their cues, row-major `P × N`.
struct MemoryInstance {
    patterns: Vec<f64>,
    cues: Vec<f64>,
    load: usize,
}

/// Overlaps on held-out tasks, per load.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemoryEvaluation {
    /// `(P, mean overlap at the last recall step)`.
    pub overlap_by_load: Vec<(usize, f64)>,
    /// `(P, mean overlap averaged over recall steps)` (minus the training loss).
    pub mean_overlap_by_load: Vec<(usize, f64)>,
    /// Fraction of tasks whose weights or activity became non-finite.
    pub diverged_fraction: f64,
}

/// The memory objective: items are task indices.
pub struct MemoryObjective<R> {
    task: MemoryTask,
    rule: R,
    seed: u64,
    weight_bound: Option<f64>,
}

impl<R: PlasticityRule> MemoryObjective<R> {
    /// The objective over tasks drawn with `seed`; `weight_bound` is the training-only
    /// safeguard (`None` for none).
    pub fn new(task: MemoryTask, rule: R, seed: u64, weight_bound: Option<f64>) -> Result<Self> {
        task.validate()?;
        if let Some(bound) = weight_bound {
            if !(bound > 0.0 && bound.is_finite()) {
                return Err(Error::config(
                    "meta.weight_bound",
                    format!("{bound}: expected a positive number"),
                ));
            }
        }
        Ok(MemoryObjective {
            task,
            rule,
            seed,
            weight_bound,
        })
    }

    /// The task settings.
    pub fn task(&self) -> &MemoryTask {
        &self.task
    }

    fn instance_with_load(&self, seed: u64, index: usize, load: usize) -> MemoryInstance {
        let mut rng = task_rng(seed, index as u64);
        let (patterns, cues) = self.task.patterns.draw(self.task.n_neurons, load, &mut rng);
        MemoryInstance {
            patterns,
            cues,
            load,
        }
    }

    fn instance(&self, seed: u64, index: usize) -> MemoryInstance {
        let load = self.task.loads[index % self.task.loads.len()];
        self.instance_with_load(seed, index, load)
    }

    /// Stores pattern `p`: `W ← W + η g_θ(ξ_j, ξ_i, W_ij)`, diagonal 0, then the bound.
    fn store<S: Scalar>(
        &self,
        theta: &[S],
        pattern: &[S],
        weights: &mut [S],
        scratch: &mut [S],
        bound: Option<f64>,
    ) {
        let n = self.task.n_neurons;
        self.rule.update(
            theta,
            LayerState {
                pre: pattern,
                post: pattern,
                reward: S::zero(),
                learning_rate: S::from_f64(self.task.learning_rate),
            },
            weights,
            scratch,
        );
        for i in 0..n {
            weights[i * n + i] = S::zero();
        }
        if let Some(b) = bound {
            for w in weights.iter_mut() {
                if w.re() > b {
                    *w = S::from_f64(b);
                } else if w.re() < -b {
                    *w = S::from_f64(-b);
                }
            }
        }
    }

    /// `Σ_i (ξ_i − a) ξ_i`, the overlap's normaliser.
    fn overlap_weights(&self, pattern: &[f64]) -> Vec<f64> {
        let a = self.task.patterns.centre(self.task.n_neurons);
        let norm: f64 = pattern.iter().map(|&x| (x - a) * x).sum();
        pattern.iter().map(|&x| (x - a) / norm).collect()
    }

    /// Storage and recall of one instance, generic; returns the weights after storage
    /// and the overlaps `m_k` per recall step (averaged over patterns). Non-finite
    /// values propagate (the caller checks them).
    fn run<S: Scalar>(
        &self,
        theta: &[S],
        instance: &MemoryInstance,
        bound: Option<f64>,
    ) -> (Vec<S>, Vec<S>) {
        let n = self.task.n_neurons;
        let mut weights = vec![S::zero(); n * n];
        let mut scratch = vec![S::zero(); self.rule.scratch_len(n)];
        let mut pattern = vec![S::zero(); n];
        for row in instance.patterns.chunks_exact(n) {
            for (a, &b) in pattern.iter_mut().zip(row) {
                *a = S::from_f64(b);
            }
            self.store(theta, &pattern, &mut weights, &mut scratch, bound);
        }
        let mut overlaps = vec![S::zero(); self.task.recall_steps];
        let mut state = vec![S::zero(); n];
        let mut next = vec![S::zero(); n];
        let scale = S::from_f64(1.0 / instance.load as f64);
        for (cue, xi) in instance
            .cues
            .chunks_exact(n)
            .zip(instance.patterns.chunks_exact(n))
        {
            let c = self.overlap_weights(xi);
            for (a, &b) in state.iter_mut().zip(cue) {
                *a = S::from_f64(b);
            }
            for overlap in overlaps.iter_mut() {
                for (i, out) in next.iter_mut().enumerate() {
                    let row = &weights[i * n..(i + 1) * n];
                    let input = row
                        .iter()
                        .zip(&state)
                        .fold(S::zero(), |acc, (&w, &s)| acc + w * s);
                    *out = self.task.recall.activate(input);
                }
                std::mem::swap(&mut state, &mut next);
                let m = state
                    .iter()
                    .zip(&c)
                    .fold(S::zero(), |acc, (&s, &ci)| acc + s * S::from_f64(ci));
                *overlap += m * scale;
            }
        }
        (weights, overlaps)
    }

    /// The loss of task `index` at `θ`, generic so that dual numbers can check the
    /// gradient: `−1/K Σ_k m_k`.
    pub fn task_loss<S: Scalar>(&self, theta: &[S], index: usize) -> S {
        let instance = self.instance(self.seed, index);
        let (_, overlaps) = self.run(theta, &instance, self.weight_bound);
        let k = S::from_f64(overlaps.len() as f64);
        -overlaps.iter().fold(S::zero(), |acc, &m| acc + m) / k
    }

    /// The loss of task `index` and its gradient (added to `gradient`): the reverse pass
    /// through recall (states kept: `K × P × N`), then through storage (checkpointed
    /// weights).
    pub fn task_loss_and_gradient(&self, theta: &[f64], index: usize, gradient: &mut [f64]) -> f64 {
        let n = self.task.n_neurons;
        let steps = self.task.recall_steps;
        let instance = self.instance(self.seed, index);
        let load = instance.load;
        let mut weights = vec![0.0; n * n];
        let mut forward_scratch = vec![0.0; self.rule.scratch_len(n)];
        let mut forward = |p: usize, w: &mut [f64]| {
            self.store(
                theta,
                &instance.patterns[p * n..(p + 1) * n],
                w,
                &mut forward_scratch,
                self.weight_bound,
            );
        };
        let checkpoints =
            Checkpoints::forward(load, sqrt_segment(load), &mut weights, &mut forward);
        // Recall, keeping every state: states[(p * (K + 1) + k) * n ..].
        let mut states = vec![0.0; load * (steps + 1) * n];
        let mut total = 0.0;
        let scale = 1.0 / (load * steps) as f64;
        let mut weights_adjoint = vec![0.0; n * n];
        let mut state_adjoint = vec![0.0; n];
        let mut input_adjoint = vec![0.0; n];
        for p in 0..load {
            let xi = &instance.patterns[p * n..(p + 1) * n];
            let c = self.overlap_weights(xi);
            let trajectory = &mut states[p * (steps + 1) * n..(p + 1) * (steps + 1) * n];
            trajectory[..n].copy_from_slice(&instance.cues[p * n..(p + 1) * n]);
            for k in 0..steps {
                let (before, after) = trajectory.split_at_mut((k + 1) * n);
                let s = &before[k * n..];
                for (i, out) in after[..n].iter_mut().enumerate() {
                    let row = &weights[i * n..(i + 1) * n];
                    let input: f64 = row.iter().zip(s).map(|(w, v)| w * v).sum();
                    *out = self.task.recall.activate(input);
                }
                total += after[..n].iter().zip(&c).map(|(s, ci)| s * ci).sum::<f64>();
            }
            // Reverse through recall: s̄_{k+1} gets −c/(K P); ū = s̄ ⊙ f'; W̄ += ū s_kᵀ;
            // s̄_k = Wᵀ ū.
            state_adjoint.iter_mut().for_each(|v| *v = 0.0);
            for k in (0..steps).rev() {
                let s_next = &trajectory[(k + 1) * n..(k + 2) * n];
                let s = &trajectory[k * n..(k + 1) * n];
                for ((u, (&sa, &ci)), &out) in input_adjoint
                    .iter_mut()
                    .zip(state_adjoint.iter().zip(&c))
                    .zip(s_next)
                {
                    *u = (sa - ci * scale) * self.task.recall.derivative_from_output(out);
                }
                state_adjoint.iter_mut().for_each(|v| *v = 0.0);
                for (i, &u) in input_adjoint.iter().enumerate() {
                    if u == 0.0 {
                        continue;
                    }
                    let row = &weights[i * n..(i + 1) * n];
                    let row_adjoint = &mut weights_adjoint[i * n..(i + 1) * n];
                    for ((wa, sa), (&w, &v)) in row_adjoint
                        .iter_mut()
                        .zip(state_adjoint.iter_mut())
                        .zip(row.iter().zip(s))
                    {
                        *wa += u * v;
                        *sa += u * w;
                    }
                }
            }
        }
        let loss = -total * scale;
        // Reverse through storage.
        let mut post_adjoint = vec![0.0; n];
        let mut backward_scratch = vec![0.0; self.rule.scratch_len(n)];
        let mut updated = vec![0.0; n * n];
        checkpoints.backward(&mut forward, |p, w_before| {
            let pattern = &instance.patterns[p * n..(p + 1) * n];
            let layer = LayerState {
                pre: pattern,
                post: pattern,
                reward: 0.0,
                learning_rate: self.task.learning_rate,
            };
            // The diagonal is reset to 0 and clipped entries are constant: no adjoint
            // flows through them to the update.
            for i in 0..n {
                weights_adjoint[i * n + i] = 0.0;
            }
            if let Some(b) = self.weight_bound {
                updated.copy_from_slice(w_before);
                self.rule
                    .update(theta, layer, &mut updated, &mut backward_scratch);
                for (a, &u) in weights_adjoint.iter_mut().zip(&updated) {
                    if u.abs() > b {
                        *a = 0.0;
                    }
                }
            }
            self.rule.update_vjp(
                theta,
                layer,
                w_before,
                &mut weights_adjoint,
                &mut post_adjoint,
                gradient,
                &mut backward_scratch,
            );
        });
        loss
    }

    /// Overlaps of the rule on `tasks_per_load` held-out tasks per load (indices from
    /// `seed`), without the safeguard.
    pub fn evaluate(&self, theta: &[f64], seed: u64, tasks_per_load: usize) -> MemoryEvaluation {
        use rayon::prelude::*;
        let mut overlap_by_load = Vec::new();
        let mut mean_overlap_by_load = Vec::new();
        let mut diverged = 0usize;
        let mut count = 0usize;
        for (l, &load) in self.task.loads.iter().enumerate() {
            let runs: Vec<Option<(f64, f64)>> = (0..tasks_per_load)
                .into_par_iter()
                .map(|k| {
                    let index = k * self.task.loads.len() + l;
                    let instance = self.instance_with_load(seed, index, load);
                    let (weights, overlaps) = self.run::<f64>(theta, &instance, None);
                    if weights.iter().all(|w| w.is_finite())
                        && overlaps.iter().all(|m| m.is_finite())
                    {
                        let last = *overlaps.last().unwrap_or(&0.0);
                        let mean = overlaps.iter().sum::<f64>() / overlaps.len() as f64;
                        Some((last, mean))
                    } else {
                        None
                    }
                })
                .collect();
            count += runs.len();
            diverged += runs.iter().filter(|r| r.is_none()).count();
            let n = runs.len().max(1) as f64;
            overlap_by_load.push((
                load,
                runs.iter().map(|r| r.map_or(0.0, |v| v.0)).sum::<f64>() / n,
            ));
            mean_overlap_by_load.push((
                load,
                runs.iter().map(|r| r.map_or(0.0, |v| v.1)).sum::<f64>() / n,
            ));
        }
        MemoryEvaluation {
            overlap_by_load,
            mean_overlap_by_load,
            diverged_fraction: diverged as f64 / count.max(1) as f64,
        }
    }
}

impl<R: PlasticityRule> super::FunctionObjective for MemoryObjective<R> {
    fn n_parameters(&self) -> usize {
        self.rule.n_parameters()
    }

    fn task_loss_value(&self, theta: &[f64], index: usize) -> f64 {
        self.task_loss(theta, index)
    }

    fn task_loss_and_gradient(&self, theta: &[f64], index: usize, gradient: &mut [f64]) -> f64 {
        MemoryObjective::task_loss_and_gradient(self, theta, index, gradient)
    }
}

#[cfg(test)]
mod tests {
    use super::super::assert_gradient_matches;
    use super::*;
    use crate::rule::{TaylorRule, Term, Variables};
    use rand::RngExt;

    fn index(name: &str) -> usize {
        Term::parse(name, Variables::Xyw)
            .expect("test set-up")
            .index(Variables::Xyw)
            .expect("test set-up")
    }

    fn dense(n: usize) -> MemoryTask {
        MemoryTask {
            n_neurons: n,
            patterns: PatternKind::Dense {
                cue_flip_fraction: 0.15,
            },
            loads: vec![3, 5],
            recall_steps: 4,
            learning_rate: 1.0 / n as f64,
            recall: RecallDynamics::Tanh { gain: 1.0 },
        }
    }

    fn sparse(n: usize) -> MemoryTask {
        MemoryTask {
            n_neurons: n,
            patterns: PatternKind::Sparse {
                coding_level: 0.2,
                cue_moved: 1,
            },
            loads: vec![4],
            recall_steps: 5,
            learning_rate: 1.0 / n as f64,
            recall: RecallDynamics::Sigmoid {
                gain: 8.0,
                threshold: 0.1,
            },
        }
    }

    fn random_theta(seed: u64, around_hebb: f64) -> Vec<f64> {
        let mut rng = task_rng(seed, 77);
        let mut theta: Vec<f64> = (0..27)
            .map(|_| 0.3 * (2.0 * rng.random::<f64>() - 1.0))
            .collect();
        theta[index("x*y")] += around_hebb;
        theta
    }

    fn check(objective: &MemoryObjective<TaylorRule>, theta: &[f64], item: usize) {
        let mut gradient = vec![0.0; 27];
        let loss = objective.task_loss_and_gradient(theta, item, &mut gradient);
        assert!((loss - objective.task_loss(theta, item)).abs() < 1e-13);
        assert_gradient_matches(
            theta,
            &gradient,
            |t| objective.task_loss(t, item),
            |t| objective.task_loss(t, item),
            true,
        );
    }

    #[test]
    fn dense_gradient_matches_dual_numbers_and_finite_differences() {
        let objective = MemoryObjective::new(dense(14), TaylorRule::new(Variables::Xyw), 3, None)
            .expect("test set-up");
        check(&objective, &random_theta(1, 3.0), 0);
        check(&objective, &random_theta(2, 3.0), 1);
    }

    #[test]
    fn sparse_gradient_matches_dual_numbers_and_finite_differences() {
        let objective = MemoryObjective::new(sparse(15), TaylorRule::new(Variables::Xyw), 5, None)
            .expect("test set-up");
        check(&objective, &random_theta(3, 5.0), 2);
    }

    #[test]
    fn gradient_through_the_weight_bound_matches() {
        let objective =
            MemoryObjective::new(dense(12), TaylorRule::new(Variables::Xyw), 8, Some(0.05))
                .expect("test set-up");
        let theta = random_theta(4, 6.0);
        let free = MemoryObjective::new(dense(12), TaylorRule::new(Variables::Xyw), 8, None)
            .expect("test set-up");
        assert!(
            (free.task_loss(&theta, 1) - objective.task_loss(&theta, 1)).abs() > 1e-4,
            "the bound must act"
        );
        check(&objective, &theta, 1);
    }

    #[test]
    fn the_gradient_at_zero_is_not_zero() {
        let objective = MemoryObjective::new(dense(20), TaylorRule::new(Variables::Xyw), 1, None)
            .expect("test set-up");
        let mut gradient = vec![0.0; 27];
        objective.task_loss_and_gradient(&[0.0; 27], 0, &mut gradient);
        assert!(gradient[index("x*y")] < 0.0, "{gradient:?}");
    }

    #[test]
    fn hebbian_storage_recalls_dense_patterns() {
        let mut task = dense(100);
        task.loads = vec![5];
        task.recall_steps = 15;
        let objective = MemoryObjective::new(task, TaylorRule::new(Variables::Xyw), 1, None)
            .expect("test set-up");
        let mut hebb = vec![0.0; 27];
        hebb[index("x*y")] = 5.0;
        let result = objective.evaluate(&hebb, 9, 20);
        assert!(result.overlap_by_load[0].1 > 0.98, "{result:?}");
        let zero = objective.evaluate(&[0.0; 27], 9, 20);
        assert_eq!(zero.overlap_by_load[0].1, 0.0);
    }
}
