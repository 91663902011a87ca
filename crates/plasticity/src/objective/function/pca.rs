//! The PCA function objective (issue 12, after Confavreux et al. 2020).
//!
//! One linear neuron `y_t = w_t · x_t` with `n` inputs `x_t ~ N(0, C)` (a fresh random
//! covariance per task, [`CovarianceSampler`]) learns for `T` steps with
//! `w_{t+1} = w_t + η g_θ(x_t, y_t, w_t)` from `w₀ ~ N(0, s²/n)`. The loss of a task is
//! `1 − cos²(w_T, v₁) + (‖w_T‖ − 1)²` with `v₁` the top eigenvector of `C`: the rule
//! must align the weights with the first principal component and normalise them.
//!
//! During meta-training an optional norm cap `w ← w · min(1, c/‖w‖)` after each update
//! stops exploding trial rules (a documented training-only safeguard: evaluation never
//! applies it). Its Jacobian `c/‖u‖ (I − û ûᵀ)` is part of the gradient.

use serde::{Deserialize, Serialize};

use super::{sqrt_segment, Checkpoints};
use crate::rule::{LayerState, PlasticityRule};
use crate::scalar::Scalar;
use crate::task::covariance::{task_rng, Covariance, CovarianceSampler};
use crate::{Error, Result};
use rand::rngs::ChaCha8Rng;
use rand::RngExt;
use rand_distr::StandardNormal;

/// A run counts as diverged when `‖w‖` exceeds this (or is not finite).
pub const DIVERGED_NORM: f64 = 1e6;

/// The PCA task's settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PcaTask {
    /// How covariances are drawn.
    pub covariance: CovarianceSampler,
    /// Learning rate `η`.
    pub learning_rate: f64,
    /// Learning steps `T`.
    pub n_steps: usize,
    /// `s` in `w₀ ~ N(0, s²/n)`.
    pub initial_weight_scale: f64,
}

impl PcaTask {
    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        self.covariance.validate()?;
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return Err(Error::config(
                "task.learning_rate",
                format!("{}: expected a positive number", self.learning_rate),
            ));
        }
        if self.n_steps == 0 {
            return Err(Error::config("task.steps", "0: expected at least 1 step"));
        }
        if !(self.initial_weight_scale > 0.0 && self.initial_weight_scale.is_finite()) {
            return Err(Error::config(
                "task.initial_weight_scale",
                format!("{}: expected a positive number", self.initial_weight_scale),
            ));
        }
        Ok(())
    }
}

/// One drawn task: its covariance, `w₀`, and the random stream its inputs come from.
struct PcaInstance {
    covariance: Covariance,
    top: Vec<f64>,
    initial_weights: Vec<f64>,
    rng: ChaCha8Rng,
}

impl PcaTask {
    /// Task `index` of a run seeded with `seed`: the covariance, then `w₀`, then the
    /// inputs, in that order, from stream `index + 1`.
    fn instance(&self, seed: u64, index: usize) -> PcaInstance {
        let n = self.covariance.n_inputs;
        let mut rng = task_rng(seed, index as u64);
        let covariance = self.covariance.draw(&mut rng);
        let std = self.initial_weight_scale / (n as f64).sqrt();
        let initial_weights = (0..n)
            .map(|_| std * rng.sample::<f64, _>(StandardNormal))
            .collect();
        PcaInstance {
            top: covariance.top_eigenvector(),
            covariance,
            initial_weights,
            rng,
        }
    }

    /// The first `n_steps` inputs of an instance, row-major `n_steps × n`.
    fn inputs(&self, instance: &mut PcaInstance, n_steps: usize) -> Vec<f64> {
        let n = self.covariance.n_inputs;
        let mut inputs = vec![0.0; n_steps * n];
        let mut z = vec![0.0; n];
        for x in inputs.chunks_exact_mut(n) {
            instance.covariance.draw_input(&mut instance.rng, &mut z, x);
        }
        inputs
    }
}

/// `1 − cos²(w, v) + (‖w‖ − 1)²` for a unit `v`.
fn task_loss<S: Scalar>(w: &[S], v: &[f64]) -> S {
    let mut norm2 = S::zero();
    let mut projection = S::zero();
    for (&wi, &vi) in w.iter().zip(v) {
        norm2 += wi * wi;
        projection += wi * S::from_f64(vi);
    }
    let norm = norm2.sqrt();
    let deviation = norm - S::one();
    S::one() - projection * projection / norm2 + deviation * deviation
}

/// `cos²(w, v)` and `‖w‖`.
fn alignment(w: &[f64], v: &[f64]) -> (f64, f64) {
    let norm2: f64 = w.iter().map(|a| a * a).sum();
    let projection: f64 = w.iter().zip(v).map(|(a, b)| a * b).sum();
    (projection * projection / norm2, norm2.sqrt())
}

/// What a rule achieves on held-out PCA tasks (no safeguard applied).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PcaEvaluation {
    /// Mean `cos²(w_T, v₁)` (a diverged run counts as 0).
    pub cos2_t: f64,
    /// Mean `cos²(w_{mT}, v₁)` after `m` times the training horizon.
    pub cos2_long: f64,
    /// Median `‖w_T‖`.
    pub weight_norm_median: f64,
    /// Median `‖w_{mT}‖`.
    pub weight_norm_median_long: f64,
    /// Fraction of runs whose weights diverged (`‖w‖ > 1e6` or not finite) by `mT`.
    pub diverged_fraction: f64,
    /// Mean task loss at `T` (diverged runs excluded; `NaN` if all diverged).
    pub loss_t: f64,
    /// Mean `cos²` at evenly spaced steps `(t, cos²)`, for figures.
    pub cos2_curve: Vec<(usize, f64)>,
}

/// The PCA objective: items are task indices.
pub struct PcaObjective<R> {
    task: PcaTask,
    rule: R,
    seed: u64,
    norm_cap: Option<f64>,
}

impl<R: PlasticityRule> PcaObjective<R> {
    /// The objective over tasks drawn with `seed`; `norm_cap` is the training-only
    /// safeguard (`None` for none).
    pub fn new(task: PcaTask, rule: R, seed: u64, norm_cap: Option<f64>) -> Result<Self> {
        task.validate()?;
        if let Some(cap) = norm_cap {
            if !(cap > 0.0 && cap.is_finite()) {
                return Err(Error::config(
                    "meta.norm_cap",
                    format!("{cap}: expected a positive number"),
                ));
            }
        }
        Ok(PcaObjective {
            task,
            rule,
            seed,
            norm_cap,
        })
    }

    /// The task settings.
    pub fn task(&self) -> &PcaTask {
        &self.task
    }

    /// One learning step `w ← cap(w + η g_θ(x, w·x, w))` (`cap` the norm cap, if any).
    fn step<S: Scalar>(
        &self,
        theta: &[S],
        x: &[S],
        w: &mut [S],
        scratch: &mut [S],
        norm_cap: Option<f64>,
    ) {
        let y = x
            .iter()
            .zip(w.iter())
            .fold(S::zero(), |acc, (&a, &b)| acc + a * b);
        self.rule.update(
            theta,
            LayerState {
                pre: x,
                post: &[y],
                reward: S::zero(),
                learning_rate: S::from_f64(self.task.learning_rate),
            },
            w,
            scratch,
        );
        if let Some(cap) = norm_cap {
            let norm = w.iter().fold(S::zero(), |acc, &v| acc + v * v).sqrt();
            if norm.re() > cap {
                let scale = S::from_f64(cap) / norm;
                w.iter_mut().for_each(|v| *v *= scale);
            }
        }
    }

    /// The loss of task `index` at `θ`, generic so that dual numbers can check the
    /// gradient.
    pub fn task_loss<S: Scalar>(&self, theta: &[S], index: usize) -> S {
        let n = self.task.covariance.n_inputs;
        let mut instance = self.task.instance(self.seed, index);
        let inputs = self.task.inputs(&mut instance, self.task.n_steps);
        let mut w: Vec<S> = instance
            .initial_weights
            .iter()
            .map(|&v| S::from_f64(v))
            .collect();
        let mut x = vec![S::zero(); n];
        let mut scratch = vec![S::zero(); self.rule.scratch_len(n)];
        for row in inputs.chunks_exact(n) {
            for (a, &b) in x.iter_mut().zip(row) {
                *a = S::from_f64(b);
            }
            self.step(theta, &x, &mut w, &mut scratch, self.norm_cap);
        }
        task_loss(&w, &instance.top)
    }

    /// The loss of task `index` and its gradient (added to `gradient`), by the
    /// checkpointed reverse pass.
    pub fn task_loss_and_gradient(&self, theta: &[f64], index: usize, gradient: &mut [f64]) -> f64 {
        let n = self.task.covariance.n_inputs;
        let t_steps = self.task.n_steps;
        let mut instance = self.task.instance(self.seed, index);
        let inputs = self.task.inputs(&mut instance, t_steps);
        let mut w = instance.initial_weights.clone();
        let mut forward_scratch = vec![0.0; self.rule.scratch_len(n)];
        let mut forward = |t: usize, w: &mut [f64]| {
            self.step(
                theta,
                &inputs[t * n..(t + 1) * n],
                w,
                &mut forward_scratch,
                self.norm_cap,
            );
        };
        let checkpoints =
            Checkpoints::forward(t_steps, sqrt_segment(t_steps), &mut w, &mut forward);
        let top = &instance.top;
        let loss = task_loss(&w, top);
        // ∂L/∂w_T = −(2 p v / ‖w‖² − 2 p² w / ‖w‖⁴) + 2 (‖w‖ − 1) w / ‖w‖, p = w·v.
        let norm2: f64 = w.iter().map(|a| a * a).sum();
        let norm = norm2.sqrt();
        let p: f64 = w.iter().zip(top).map(|(a, b)| a * b).sum();
        let mut adjoint: Vec<f64> = w
            .iter()
            .zip(top)
            .map(|(&wi, &vi)| {
                -(2.0 * p * vi / norm2 - 2.0 * p * p * wi / (norm2 * norm2))
                    + 2.0 * (norm - 1.0) * wi / norm
            })
            .collect();
        let mut updated = vec![0.0; n];
        let mut backward_scratch = vec![0.0; self.rule.scratch_len(n)];
        let eta = self.task.learning_rate;
        checkpoints.backward(&mut forward, |t, w_before| {
            let x = &inputs[t * n..(t + 1) * n];
            let y: f64 = x.iter().zip(w_before).map(|(a, b)| a * b).sum();
            let layer = LayerState {
                pre: x,
                post: &[y],
                reward: 0.0,
                learning_rate: eta,
            };
            if let Some(cap) = self.norm_cap {
                // w⁺ = c u/‖u‖ when ‖u‖ > c: λ_u = c/‖u‖ (λ − (λ·û) û).
                updated.copy_from_slice(w_before);
                self.rule
                    .update(theta, layer, &mut updated, &mut backward_scratch);
                let u_norm = updated.iter().map(|v| v * v).sum::<f64>().sqrt();
                if u_norm > cap {
                    let along: f64 = adjoint
                        .iter()
                        .zip(&updated)
                        .map(|(a, u)| a * u / u_norm)
                        .sum();
                    for (a, u) in adjoint.iter_mut().zip(&updated) {
                        *a = cap / u_norm * (*a - along * u / u_norm);
                    }
                }
            }
            let mut post_adjoint = [0.0];
            self.rule.update_vjp(
                theta,
                layer,
                w_before,
                &mut adjoint,
                &mut post_adjoint,
                gradient,
                &mut backward_scratch,
            );
            // y = w·x: ∂L/∂w += ȳ x.
            for (a, &xi) in adjoint.iter_mut().zip(x) {
                *a += post_adjoint[0] * xi;
            }
        });
        loss
    }

    /// Runs the rule on `n_tasks` held-out tasks (indices from `seed`) for
    /// `horizon_multiple × T` steps without the safeguard.
    pub fn evaluate(
        &self,
        theta: &[f64],
        seed: u64,
        n_tasks: usize,
        horizon_multiple: usize,
    ) -> PcaEvaluation {
        use rayon::prelude::*;
        let n = self.task.covariance.n_inputs;
        let t_steps = self.task.n_steps;
        let total = t_steps * horizon_multiple.max(1);
        let n_points = 50;
        let stride = total.div_ceil(n_points).max(1);
        struct Run {
            cos2_t: f64,
            cos2_long: f64,
            norm_t: f64,
            norm_long: f64,
            loss_t: f64,
            diverged: bool,
            curve: Vec<f64>,
        }
        let runs: Vec<Run> = (0..n_tasks)
            .into_par_iter()
            .map(|index| {
                let mut instance = self.task.instance(seed, index);
                let mut w = instance.initial_weights.clone();
                let (mut z, mut x) = (vec![0.0; n], vec![0.0; n]);
                let mut scratch = vec![0.0; self.rule.scratch_len(n)];
                let mut run = Run {
                    cos2_t: 0.0,
                    cos2_long: 0.0,
                    norm_t: f64::INFINITY,
                    norm_long: f64::INFINITY,
                    loss_t: f64::NAN,
                    diverged: false,
                    curve: vec![0.0; total / stride + 1],
                };
                let (c0, _) = alignment(&w, &instance.top);
                run.curve[0] = c0;
                for t in 1..=total {
                    instance
                        .covariance
                        .draw_input(&mut instance.rng, &mut z, &mut x);
                    self.step(theta, &x, &mut w, &mut scratch, None);
                    let (cos2, norm) = alignment(&w, &instance.top);
                    if !(norm.is_finite() && norm <= DIVERGED_NORM) {
                        run.diverged = true;
                        return run;
                    }
                    if t % stride == 0 {
                        run.curve[t / stride] = cos2;
                    }
                    if t == t_steps {
                        run.cos2_t = cos2;
                        run.norm_t = norm;
                        run.loss_t = task_loss(&w, &instance.top);
                    }
                    if t == total {
                        run.cos2_long = cos2;
                        run.norm_long = norm;
                    }
                }
                run
            })
            .collect();
        let count = runs.len().max(1) as f64;
        let median = |values: Vec<f64>| -> f64 {
            let mut v = values;
            v.sort_by(|a, b| a.total_cmp(b));
            if v.is_empty() {
                f64::NAN
            } else if v.len() % 2 == 1 {
                v[v.len() / 2]
            } else {
                0.5 * (v[v.len() / 2 - 1] + v[v.len() / 2])
            }
        };
        let finite_losses: Vec<f64> = runs
            .iter()
            .filter(|r| !r.diverged)
            .map(|r| r.loss_t)
            .collect();
        PcaEvaluation {
            cos2_t: runs.iter().map(|r| r.cos2_t).sum::<f64>() / count,
            cos2_long: runs.iter().map(|r| r.cos2_long).sum::<f64>() / count,
            weight_norm_median: median(runs.iter().map(|r| r.norm_t).collect()),
            weight_norm_median_long: median(runs.iter().map(|r| r.norm_long).collect()),
            diverged_fraction: runs.iter().filter(|r| r.diverged).count() as f64 / count,
            loss_t: if finite_losses.is_empty() {
                f64::NAN
            } else {
                finite_losses.iter().sum::<f64>() / finite_losses.len() as f64
            },
            cos2_curve: (0..=total / stride)
                .map(|k| {
                    (
                        k * stride,
                        runs.iter().map(|r| r.curve[k]).sum::<f64>() / count,
                    )
                })
                .collect(),
        }
    }
}

impl<R: PlasticityRule> super::FunctionObjective for PcaObjective<R> {
    fn n_parameters(&self) -> usize {
        self.rule.n_parameters()
    }

    fn task_loss_value(&self, theta: &[f64], index: usize) -> f64 {
        self.task_loss(theta, index)
    }

    fn task_loss_and_gradient(&self, theta: &[f64], index: usize, gradient: &mut [f64]) -> f64 {
        PcaObjective::task_loss_and_gradient(self, theta, index, gradient)
    }
}

#[cfg(test)]
mod tests {
    use super::super::assert_gradient_matches;
    use super::*;
    use crate::objective::Objective;
    use crate::rule::{TaylorRule, Term, Variables};

    fn small_task(n_steps: usize) -> PcaTask {
        PcaTask {
            covariance: CovarianceSampler {
                n_inputs: 6,
                top_ratio_min: 2.0,
                top_ratio_max: 5.0,
                minor_eigenvalue_max: 0.5,
            },
            learning_rate: 0.05,
            n_steps,
            initial_weight_scale: 0.5,
        }
    }

    fn oja(scale: f64) -> Vec<f64> {
        let mut theta = vec![0.0; 27];
        let xy = Term::parse("x*y", Variables::Xyw)
            .expect("test set-up")
            .index(Variables::Xyw)
            .expect("test set-up");
        let yyw = Term::parse("y^2*w", Variables::Xyw)
            .expect("test set-up")
            .index(Variables::Xyw)
            .expect("test set-up");
        theta[xy] = scale;
        theta[yyw] = -scale;
        theta
    }

    /// A random θ near Oja's rule with every term present.
    fn random_theta(seed: u64) -> Vec<f64> {
        let mut rng = task_rng(seed, 99);
        let mut theta = oja(1.0);
        for v in theta.iter_mut() {
            *v += 0.05 * (2.0 * rng.random::<f64>() - 1.0);
        }
        theta
    }

    fn check_gradient(cap: Option<f64>, seed: u64) {
        let rule = TaylorRule::new(Variables::Xyw);
        let objective = PcaObjective::new(small_task(37), rule, seed, cap).expect("test set-up");
        let theta = random_theta(seed);
        let mut gradient = vec![0.0; 27];
        let loss = objective.task_loss_and_gradient(&theta, 3, &mut gradient);
        assert!((loss - objective.task_loss(&theta, 3)).abs() < 1e-13);
        assert_gradient_matches(
            &theta,
            &gradient,
            |t| objective.task_loss(t, 3),
            |t| objective.task_loss(t, 3),
            true,
        );
    }

    #[test]
    fn gradient_matches_dual_numbers_and_finite_differences() {
        check_gradient(None, 1);
        check_gradient(None, 2);
    }

    #[test]
    fn gradient_through_the_norm_cap_matches() {
        // A rule whose weights grow: the cap is active on most steps.
        let rule = TaylorRule::new(Variables::Xyw);
        let objective = PcaObjective::new(small_task(37), rule, 4, Some(0.8)).expect("test set-up");
        let mut theta = random_theta(4);
        let yyw = Term::parse("y^2*w", Variables::Xyw)
            .expect("test set-up")
            .index(Variables::Xyw)
            .expect("test set-up");
        theta[yyw] = 0.0;
        let unconstrained = PcaObjective::new(small_task(37), rule, 4, None).expect("test set-up");
        let free_loss = unconstrained.task_loss(&theta, 3);
        let capped_loss = objective.task_loss(&theta, 3);
        assert!(
            (free_loss - capped_loss).abs() > 1e-3,
            "the cap must act: {free_loss} {capped_loss}"
        );
        let mut gradient = vec![0.0; 27];
        objective.task_loss_and_gradient(&theta, 3, &mut gradient);
        assert_gradient_matches(
            &theta,
            &gradient,
            |t| objective.task_loss(t, 3),
            |t| objective.task_loss(t, 3),
            true,
        );
    }

    #[test]
    fn batch_gradient_is_the_mean_and_thread_count_independent() {
        let rule = TaylorRule::new(Variables::Xyw);
        let objective = PcaObjective::new(small_task(20), rule, 7, None).expect("test set-up");
        let theta = random_theta(7);
        let items = [0, 5, 9];
        let mut batch = vec![0.0; 27];
        let loss = objective.loss_and_gradient(&theta, &items, &mut batch);
        let mut sum = vec![0.0; 27];
        let mut total = 0.0;
        for &k in &items {
            total += objective.task_loss_and_gradient(&theta, k, &mut sum);
        }
        assert!((loss - total / 3.0).abs() < 1e-14);
        for (a, b) in batch.iter().zip(&sum) {
            assert!((a - b / 3.0).abs() < 1e-14);
        }
        let single = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .expect("test set-up");
        let mut again = vec![0.0; 27];
        let loss1 = single.install(|| objective.loss_and_gradient(&theta, &items, &mut again));
        assert_eq!(loss.to_bits(), loss1.to_bits());
        assert_eq!(batch, again);
    }

    #[test]
    fn oja_finds_the_top_component_and_a_zero_rule_does_not() {
        let task = PcaTask {
            covariance: CovarianceSampler {
                n_inputs: 20,
                top_ratio_min: 2.0,
                top_ratio_max: 5.0,
                minor_eigenvalue_max: 0.5,
            },
            learning_rate: 0.02,
            n_steps: 500,
            initial_weight_scale: 0.1,
        };
        let objective =
            PcaObjective::new(task, TaylorRule::new(Variables::Xyw), 1, None).expect("test set-up");
        let oja_result = objective.evaluate(&oja(0.5), 11, 40, 2);
        assert!(oja_result.cos2_t > 0.9, "{oja_result:?}");
        assert!(
            (oja_result.weight_norm_median - 1.0).abs() < 0.05,
            "{oja_result:?}"
        );
        assert_eq!(oja_result.diverged_fraction, 0.0);
        let zero = objective.evaluate(&[0.0; 27], 11, 40, 2);
        assert!(zero.cos2_t < 0.5, "{zero:?}");
        // Plain Hebb without the decay diverges.
        let mut hebb = vec![0.0; 27];
        hebb[Term::parse("x*y", Variables::Xyw)
            .expect("test set-up")
            .index(Variables::Xyw)
            .expect("test set-up")] = 1.0;
        let hebb_result = objective.evaluate(&hebb, 11, 10, 5);
        assert_eq!(hebb_result.diverged_fraction, 1.0, "{hebb_result:?}");
    }
}
