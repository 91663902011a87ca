//! Held-out evaluation of the several-components task (no safeguard), for a rule `θ`
//! and for Sanger's generalized Hebbian rule, which is not a per-synapse rule and so
//! is written by hand here.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{effective_map, ComponentsObjective, Instance, Moments, DIVERGED_NORM};
use crate::rule::PlasticityRule;

/// What a rule achieves on held-out covariances after `T` steps, measured on the
/// effective map `F` (`y = F x`) with the exact covariance `C` (no sampling noise).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ComponentsEvaluation {
    /// Mean `tr(P C) / Σ_{i≤k} λ_i` with `P` the projector on the rows of `F` (a
    /// diverged run counts as 0).
    pub captured_variance_fraction: f64,
    /// The smallest captured fraction over the tasks.
    pub captured_variance_fraction_min: f64,
    /// Mean over tasks of the mean `|corr(y_i, y_j)|` over pairs `i < j`, from
    /// `F C Fᵀ` (diverged runs excluded; `NaN` if all diverged).
    pub output_correlation: f64,
    /// Per neuron `i`: mean `cos²(f_i, v_i)` with `v_i` the `i`-th eigenvector (a
    /// diverged run counts as 0). Slow to reach 1 when leading eigenvalues are close,
    /// whereas the captured variance only needs the subspace.
    pub component_alignment: Vec<f64>,
    /// Median `‖f_i‖` over tasks and neurons (diverged runs excluded).
    pub row_norm_median: f64,
    /// Fraction of runs with a weight above `1e6` in magnitude or not finite.
    pub diverged_fraction: f64,
    /// Mean task loss (diverged runs excluded; `NaN` if all diverged).
    pub loss: f64,
}

/// One held-out run's measurements.
struct Run {
    captured: f64,
    correlation: f64,
    alignment: Vec<f64>,
    norms: Vec<f64>,
    loss: f64,
    diverged: bool,
}

impl<R: PlasticityRule> ComponentsObjective<R> {
    /// Runs `θ` on `n_tasks` held-out tasks (indices from `seed`) for `T` steps without
    /// the safeguard.
    pub fn evaluate(&self, theta: &[f64], seed: u64, n_tasks: usize) -> ComponentsEvaluation {
        self.evaluate_with(seed, n_tasks, |x, state, buffers| {
            self.step(theta, x, state, buffers, None)
        })
    }

    /// Sanger's generalized Hebbian rule on `n_tasks` held-out tasks: no lateral
    /// weights, `y = W x`, `ΔW = c η (y xᵀ − LT[y yᵀ] W)` (`LT` the lower triangle with
    /// the diagonal, `η` the task's learning rate), i.e.
    /// `Δw_i = c η y_i (x − Σ_{j≤i} y_j w_j)`.
    pub fn evaluate_sanger(&self, rate: f64, seed: u64, n_tasks: usize) -> ComponentsEvaluation {
        let (n, k) = (self.task.n_inputs, self.task.n_components);
        let eta = rate * self.task.learning_rate;
        self.evaluate_with(seed, n_tasks, |x, state, (y, _)| {
            let w = &mut state[..k * n];
            for (yi, row) in y.iter_mut().zip(w.chunks_exact(n)) {
                *yi = row.iter().zip(x).map(|(a, b)| a * b).sum();
            }
            // Rows in decreasing order, so that rows j ≤ i are still the old ones.
            for i in (0..k).rev() {
                for m in 0..n {
                    let back: f64 = (0..=i).map(|j| y[j] * w[j * n + m]).sum();
                    w[i * n + m] += eta * y[i] * (x[m] - back);
                }
            }
        })
    }

    /// Runs `step(x, state, (y, scratch))` for `T` steps on each held-out task, in
    /// parallel, collected in task order.
    fn evaluate_with(
        &self,
        seed: u64,
        n_tasks: usize,
        step: impl Fn(&[f64], &mut [f64], (&mut [f64], &mut [f64])) + Sync,
    ) -> ComponentsEvaluation {
        let (n, k) = (self.task.n_inputs, self.task.n_components);
        let runs: Vec<Run> = (0..n_tasks)
            .into_par_iter()
            .map(|index| {
                let mut instance = self.task.instance(seed, index);
                let mut state = instance.initial_state.clone();
                let (mut z, mut x) = (vec![0.0; n], vec![0.0; n]);
                let (mut y, mut scratch) = (vec![0.0; k], vec![0.0; self.scratch_len()]);
                for _ in 0..self.task.n_steps {
                    instance
                        .covariance
                        .draw_input(&mut instance.rng, &mut z, &mut x);
                    step(&x, &mut state, (&mut y, &mut scratch));
                }
                self.measure(&state, &instance)
            })
            .collect();
        summarise(&runs, k)
    }

    /// The measurements of one run's final state.
    fn measure(&self, state: &[f64], instance: &Instance) -> Run {
        let (n, k) = (self.task.n_inputs, self.task.n_components);
        let run = Run {
            captured: 0.0,
            correlation: f64::NAN,
            alignment: vec![0.0; k],
            norms: Vec::new(),
            loss: f64::NAN,
            diverged: true,
        };
        if !state.iter().all(|v| v.abs() <= DIVERGED_NORM) {
            return run;
        }
        let f = effective_map(state, n, k);
        let moments = Moments::new(&f, &instance.matrix, n, k);
        let captured = moments.captured(k) / instance.optimum;
        if !captured.is_finite() {
            return run;
        }
        let h = &moments.h;
        let mut correlation = 0.0;
        for i in 0..k {
            for j in 0..i {
                correlation += (h[i * k + j] / (h[i * k + i] * h[j * k + j]).sqrt()).abs();
            }
        }
        let q = &instance.covariance.eigenvectors;
        Run {
            captured,
            correlation: if k > 1 {
                correlation / (k * (k - 1) / 2) as f64
            } else {
                0.0
            },
            alignment: (0..k)
                .map(|i| {
                    let along: f64 = (0..n).map(|m| f[i * n + m] * q[m * n + i]).sum();
                    along * along / moments.g[i * k + i]
                })
                .collect(),
            norms: (0..k).map(|i| moments.g[i * k + i].sqrt()).collect(),
            loss: moments.loss(k, instance.optimum),
            diverged: false,
        }
    }
}

/// Means (and medians) over the runs.
fn summarise(runs: &[Run], k: usize) -> ComponentsEvaluation {
    let count = runs.len().max(1) as f64;
    let finite: Vec<&Run> = runs.iter().filter(|r| !r.diverged).collect();
    let finite_mean = |value: fn(&Run) -> f64| {
        if finite.is_empty() {
            f64::NAN
        } else {
            finite.iter().map(|r| value(r)).sum::<f64>() / finite.len() as f64
        }
    };
    let mut norms: Vec<f64> = finite
        .iter()
        .flat_map(|r| r.norms.iter().copied())
        .collect();
    norms.sort_by(|a, b| a.total_cmp(b));
    let row_norm_median = match norms.len() {
        0 => f64::NAN,
        len if len % 2 == 1 => norms[len / 2],
        len => 0.5 * (norms[len / 2 - 1] + norms[len / 2]),
    };
    ComponentsEvaluation {
        captured_variance_fraction: runs.iter().map(|r| r.captured).sum::<f64>() / count,
        captured_variance_fraction_min: runs
            .iter()
            .map(|r| r.captured)
            .fold(f64::INFINITY, f64::min),
        output_correlation: finite_mean(|r| r.correlation),
        component_alignment: (0..k)
            .map(|i| runs.iter().map(|r| r.alignment[i]).sum::<f64>() / count)
            .collect(),
        row_norm_median,
        diverged_fraction: runs.iter().filter(|r| r.diverged).count() as f64 / count,
        loss: finite_mean(|r| r.loss),
    }
}
