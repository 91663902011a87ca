//! Metrics of docs/model.md §5: R² of weights and of activity, coefficient error.

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::gradient::NeuralEngine;
use crate::random::normal;
use crate::rule::RuleOfEngine;
use crate::Result;

/// Column-wise R² of a prediction against a truth matrix (rows = time, columns =
/// synapses or neurons), averaged uniformly over columns, as
/// `sklearn.metrics.r2_score(truth, prediction)` on 2-D arrays:
/// `R²_j = 1 − Σ_t (truth_tj − pred_tj)² / Σ_t (truth_tj − mean_t truth_tj)²`; a constant
/// column scores 1 if predicted exactly and 0 otherwise.
///
/// Rows are added one at a time, so no trajectory is kept in memory. Sums are taken of
/// the truth minus its first row, which keeps them well conditioned.
#[derive(Clone, Debug)]
pub struct ColumnR2 {
    rows: usize,
    first: Vec<f64>,
    sum: Vec<f64>,
    sum_squares: Vec<f64>,
    residual_squares: Vec<f64>,
}

impl ColumnR2 {
    /// An accumulator for `columns` columns.
    pub fn new(columns: usize) -> Self {
        ColumnR2 {
            rows: 0,
            first: vec![0.0; columns],
            sum: vec![0.0; columns],
            sum_squares: vec![0.0; columns],
            residual_squares: vec![0.0; columns],
        }
    }

    /// Adds one row of truth and prediction.
    pub fn add_row(&mut self, truth: &[f64], prediction: &[f64]) {
        if self.rows == 0 {
            self.first.copy_from_slice(truth);
        }
        self.rows += 1;
        for j in 0..truth.len() {
            let shifted = truth[j] - self.first[j];
            self.sum[j] += shifted;
            self.sum_squares[j] += shifted * shifted;
            let residual = truth[j] - prediction[j];
            self.residual_squares[j] += residual * residual;
        }
    }

    /// The uniform average over columns of the per-column R².
    pub fn value(&self) -> f64 {
        let n = self.rows as f64;
        let columns = self.sum.len();
        if columns == 0 {
            return f64::NAN;
        }
        let mut total = 0.0;
        for j in 0..columns {
            let total_squares = (self.sum_squares[j] - self.sum[j] * self.sum[j] / n).max(0.0);
            let residual = self.residual_squares[j];
            total += if total_squares > 0.0 {
                1.0 - residual / total_squares
            } else if residual == 0.0 {
                1.0
            } else {
                0.0
            };
        }
        total / columns as f64
    }
}

/// Median of finite values (NaN if there are none).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        0.5 * (sorted[n / 2 - 1] + sorted[n / 2])
    }
}

/// How fresh evaluation trajectories are drawn (docs/model.md §4.1 distributions).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FreshTrajectories {
    /// Presynaptic neurons.
    pub n_pre: usize,
    /// Postsynaptic neurons.
    pub n_post: usize,
    /// Steps per trajectory.
    pub steps: usize,
    /// Standard deviation of the inputs.
    pub input_std: f64,
    /// Standard deviation of `W₀`.
    pub initial_weight_std: f64,
    /// Number of trajectories.
    pub trajectories: usize,
    /// Seed of the draws.
    pub seed: u64,
}

/// R² of weights and of activity on fresh trajectories.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NeuralEvaluation {
    /// Median over trajectories of the R² of the weight trajectories `W_1 … W_T`.
    pub r2_weights: f64,
    /// Median over trajectories of the R² of the activity `y_0 … y_{T−1}`.
    pub r2_activity: f64,
    /// Per-trajectory R² of weights.
    pub r2_weights_per_trajectory: Vec<f64>,
    /// Per-trajectory R² of activity.
    pub r2_activity_per_trajectory: Vec<f64>,
}

/// Simulates fresh trajectories with the generating rule and with the fitted rule from
/// the same `W₀` and inputs, and compares them (docs/model.md §5). Each trajectory has its own
/// seeded stream, so results do not depend on the thread count.
pub fn evaluate_neural<T: RuleOfEngine, F: RuleOfEngine>(
    true_rule: &T,
    true_theta: &[f64],
    fitted_rule: &F,
    fitted_theta: &[f64],
    fresh: &FreshTrajectories,
) -> Result<NeuralEvaluation> {
    let per_trajectory: Vec<(f64, f64)> = (0..fresh.trajectories)
        .into_par_iter()
        .map(|k| {
            let mut r2_weights = ColumnR2::new(fresh.n_pre * fresh.n_post);
            let mut r2_activity = ColumnR2::new(fresh.n_post);
            lockstep_trajectory(
                true_rule,
                true_theta,
                fitted_rule,
                fitted_theta,
                fresh,
                k,
                |true_post, fitted_post, true_weights, fitted_weights| {
                    r2_activity.add_row(true_post, fitted_post);
                    r2_weights.add_row(true_weights, fitted_weights);
                },
            )?;
            Ok((r2_weights.value(), r2_activity.value()))
        })
        .collect::<Result<_>>()?;
    let r2_weights_per_trajectory: Vec<f64> = per_trajectory.iter().map(|p| p.0).collect();
    let r2_activity_per_trajectory: Vec<f64> = per_trajectory.iter().map(|p| p.1).collect();
    Ok(NeuralEvaluation {
        r2_weights: median(&r2_weights_per_trajectory),
        r2_activity: median(&r2_activity_per_trajectory),
        r2_weights_per_trajectory,
        r2_activity_per_trajectory,
    })
}

/// Runs fresh trajectory `k` (its own seeded stream) with the generating and the fitted
/// rule in lockstep from the same `W₀` and inputs; after each step `t` calls
/// `observe(y_t true, y_t fitted, W_{t+1} true, W_{t+1} fitted)`.
fn lockstep_trajectory<T: RuleOfEngine, F: RuleOfEngine>(
    true_rule: &T,
    true_theta: &[f64],
    fitted_rule: &F,
    fitted_theta: &[f64],
    fresh: &FreshTrajectories,
    k: usize,
    mut observe: impl FnMut(&[f64], &[f64], &[f64], &[f64]),
) -> Result<()> {
    let (n_pre, n_post) = (fresh.n_pre, fresh.n_post);
    let true_engine = NeuralEngine::new(n_pre, n_post, &[], true_rule.clone())?;
    let fitted_engine = NeuralEngine::new(n_pre, n_post, &[], fitted_rule.clone())?;
    let input_dist = normal(0.0, fresh.input_std)?;
    let weight_dist = normal(0.0, fresh.initial_weight_std)?;
    let mut rng = ChaCha8Rng::seed_from_u64(fresh.seed);
    rng.set_stream(k as u64 + 1);
    let w0: Vec<f64> = (0..n_pre * n_post)
        .map(|_| rng.sample(weight_dist))
        .collect();
    let inputs: Vec<f64> = (0..fresh.steps * n_pre)
        .map(|_| rng.sample(input_dist))
        .collect();
    let mut truth = true_engine.start(&w0);
    let mut fitted = fitted_engine.start(&w0);
    for pre in inputs.chunks_exact(n_pre) {
        truth.activity(pre);
        fitted.activity(pre);
        truth.update(true_theta, pre);
        fitted.update(fitted_theta, pre);
        observe(
            truth.post(),
            fitted.post(),
            truth.weights(),
            fitted.weights(),
        );
    }
    Ok(())
}

pub use super::weight_trajectories::WeightTrajectories;

/// The weight trajectories of `count` much-changing synapses (in different rows and
/// columns, [`WeightTrajectories::of_most_changing`]) of fresh trajectory 0
/// (the first trajectory [`evaluate_neural`] compares), under both rules.
pub fn neural_weight_trajectories<T: RuleOfEngine, F: RuleOfEngine>(
    true_rule: &T,
    true_theta: &[f64],
    fitted_rule: &F,
    fitted_theta: &[f64],
    fresh: &FreshTrajectories,
    count: usize,
) -> Result<WeightTrajectories> {
    let mut truth = Vec::with_capacity(fresh.steps);
    let mut fitted = Vec::with_capacity(fresh.steps);
    lockstep_trajectory(
        true_rule,
        true_theta,
        fitted_rule,
        fitted_theta,
        fresh,
        0,
        |_, _, t, f| {
            truth.push(t.to_vec());
            fitted.push(f.to_vec());
        },
    )?;
    Ok(WeightTrajectories::of_most_changing(
        &truth,
        &fitted,
        count,
        fresh.n_pre,
    ))
}

/// Fitted minus generating coefficient, per term.
pub fn coefficient_error(fitted: &[f64], generating: &[f64]) -> Vec<f64> {
    fitted.iter().zip(generating).map(|(f, g)| f - g).collect()
}

/// [`coefficient_error`] by term name (the `coefficient_error` of results files).
pub fn named_coefficient_error(
    variables: crate::rule::Variables,
    fitted: &[f64],
    generating: &[f64],
) -> serde_json::Map<String, serde_json::Value> {
    crate::rule::term_names(variables)
        .into_iter()
        .zip(coefficient_error(fitted, generating))
        .map(|(name, error)| (name, serde_json::json!(error)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_r2_matches_the_sklearn_convention() {
        // truth columns: varying, constant; prediction exact on the constant column
        let truth = [[1.0, 5.0], [2.0, 5.0], [4.0, 5.0]];
        let prediction = [[1.5, 5.0], [2.0, 5.0], [3.0, 5.0]];
        let mut r2 = ColumnR2::new(2);
        for (t, p) in truth.iter().zip(&prediction) {
            r2.add_row(t, p);
        }
        // column 0: mean 7/3, SS_tot = 14/3, SS_res = 1.25 → 1 − 1.25/(14/3)
        let expected0 = 1.0 - 1.25 / (14.0 / 3.0);
        assert!((r2.value() - 0.5 * (expected0 + 1.0)).abs() < 1e-14);
        let mut wrong = ColumnR2::new(1);
        wrong.add_row(&[5.0], &[4.0]);
        wrong.add_row(&[5.0], &[5.0]);
        assert_eq!(wrong.value(), 0.0);
    }

    #[test]
    fn median_of_even_and_odd() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }
}

/// The paired Wilcoxon signed-rank test of differences `d_i` (docs/model.md §4.3).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WilcoxonTest {
    /// Pairs with a non-zero difference (zeros are dropped, scipy's `zero_method="wilcox"`).
    pub n: usize,
    /// `min(W⁺, W⁻)`, the sums of the ranks of |d| over positive and negative `d`.
    pub statistic: f64,
    /// `W⁺`.
    pub positive_rank_sum: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// `"exact"` (no ties, n ≤ 25) or `"normal"` (normal approximation with the tie
    /// correction, no continuity correction).
    pub method: String,
}

/// The two-sided paired Wilcoxon signed-rank test. Zero differences are dropped; ties
/// share their average rank. Without ties and for `n ≤ 25` the p-value is exact,
/// `p = min(1, 2 min(P(W⁺ ≤ w), P(W⁺ ≥ w)))` under the null distribution of `W⁺`
/// (every sign equally likely), counted by dynamic programming over rank sums;
/// otherwise the normal approximation `z = (W⁺ − n(n+1)/4) / σ` with
/// `σ² = n(n+1)(2n+1)/24 − Σ(t³ − t)/48` over tie groups of size t.
pub fn wilcoxon_signed_rank(differences: &[f64]) -> WilcoxonTest {
    let mut nonzero: Vec<f64> = differences
        .iter()
        .copied()
        .filter(|d| *d != 0.0 && d.is_finite())
        .collect();
    nonzero.sort_by(|a, b| a.abs().total_cmp(&b.abs()));
    let n = nonzero.len();
    if n == 0 {
        return WilcoxonTest {
            n,
            statistic: 0.0,
            positive_rank_sum: 0.0,
            p_value: 1.0,
            method: "exact".into(),
        };
    }
    // average ranks of |d|
    let mut ranks = vec![0.0; n];
    let mut tie_correction = 0.0;
    let mut start = 0;
    while start < n {
        let mut end = start + 1;
        while end < n && nonzero[end].abs() == nonzero[start].abs() {
            end += 1;
        }
        let average = (start + end + 1) as f64 / 2.0;
        ranks[start..end].iter_mut().for_each(|r| *r = average);
        let t = (end - start) as f64;
        tie_correction += t * t * t - t;
        start = end;
    }
    let positive: f64 = nonzero
        .iter()
        .zip(&ranks)
        .filter(|(d, _)| **d > 0.0)
        .map(|(_, r)| r)
        .sum();
    let total = (n * (n + 1)) as f64 / 2.0;
    let statistic = positive.min(total - positive);
    let (p_value, method) = if tie_correction == 0.0 && n <= 25 {
        // counts[s] = number of subsets of {1..n} with rank sum s
        let max = n * (n + 1) / 2;
        let mut counts = vec![0f64; max + 1];
        counts[0] = 1.0;
        for rank in 1..=n {
            for s in (rank..=max).rev() {
                counts[s] += counts[s - rank];
            }
        }
        let all = 2f64.powi(n as i32);
        let w = positive.round() as usize;
        let lower: f64 = counts[..=w].iter().sum::<f64>() / all;
        let upper: f64 = counts[w..].iter().sum::<f64>() / all;
        ((2.0 * lower.min(upper)).min(1.0), "exact")
    } else {
        let nf = n as f64;
        let variance = nf * (nf + 1.0) * (2.0 * nf + 1.0) / 24.0 - tie_correction / 48.0;
        let z = (positive - total / 2.0) / variance.sqrt();
        ((2.0 * normal_survival(z.abs())).min(1.0), "normal")
    };
    WilcoxonTest {
        n,
        statistic,
        positive_rank_sum: positive,
        p_value,
        method: method.into(),
    }
}

/// `P(Z > z)` for a standard normal, from the complementary error function
/// (Numerical Recipes' erfc approximation, relative error < 1.2e-7).
fn normal_survival(z: f64) -> f64 {
    let x = z / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * x.abs());
    let erfc = t
        * (-x * x - 1.26551223
            + t * (1.00002368
                + t * (0.37409196
                    + t * (0.09678418
                        + t * (-0.18628806
                            + t * (0.27886807
                                + t * (-1.13520398
                                    + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))))
            .exp();
    let erfc = if x >= 0.0 { erfc } else { 2.0 - erfc };
    0.5 * erfc
}

/// The `q`-quantile (0 ≤ q ≤ 1) of finite values by linear interpolation between order
/// statistics (numpy's default); NaN if there are none.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted.sort_by(f64::total_cmp);
    let position = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = position.ceil() as usize;
    sorted[below] + (sorted[above] - sorted[below]) * (position - below as f64)
}

#[cfg(test)]
mod statistics_tests {
    use super::*;

    #[test]
    fn wilcoxon_matches_scipy_on_darwins_data() {
        // scipy.stats.wilcoxon(d) → statistic 24.0, p 0.041259765625 (exact)
        let d = [
            6.0, 8.0, 14.0, 16.0, 23.0, 24.0, 28.0, 29.0, 41.0, -48.0, 49.0, 56.0, 60.0, -67.0,
            75.0,
        ];
        let test = wilcoxon_signed_rank(&d);
        assert_eq!(test.n, 15);
        assert_eq!(test.statistic, 24.0);
        assert!(
            (test.p_value - 0.041259765625).abs() < 1e-15,
            "{}",
            test.p_value
        );
        assert_eq!(test.method, "exact");
    }

    #[test]
    fn wilcoxon_exact_extremes_and_zeros() {
        // all 8 differences positive: p = 2 / 2^8
        let test = wilcoxon_signed_rank(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 0.0]);
        assert_eq!(test.n, 8);
        assert!((test.p_value - 2.0 / 256.0).abs() < 1e-15);
        // symmetric differences: no evidence
        let test = wilcoxon_signed_rank(&[1.0, -1.5, 2.0, -2.5]);
        assert!(test.p_value > 0.5);
    }

    #[test]
    fn wilcoxon_with_ties_uses_the_normal_approximation() {
        // |d| = 1 three times (average rank 2), 2 twice (4.5): W⁺ = 53 of 55,
        // σ² = 10·11·21/24 − (24 + 6)/48, z = (53 − 27.5)/σ, p = erfc(z/√2) = 0.0091157873
        let test = wilcoxon_signed_rank(&[1.0, 1.0, 2.0, 2.0, 3.0, -1.0, 4.0, 5.0, 6.0, 7.0]);
        assert_eq!(test.method, "normal");
        assert_eq!(test.positive_rank_sum, 53.0);
        assert!(
            (test.p_value - 0.0091157873).abs() < 1e-6,
            "{}",
            test.p_value
        );
    }

    #[test]
    fn quantiles_interpolate() {
        assert_eq!(quantile(&[3.0, 1.0, 2.0, 4.0], 0.5), 2.5);
        assert_eq!(quantile(&[3.0, 1.0, 2.0, 4.0], 0.25), 1.75);
        assert!(quantile(&[], 0.5).is_nan());
    }
}
