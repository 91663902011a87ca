//! Metrics of SPEC §5: R² of weights and of activity, coefficient error.

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::circuit::NeuralCircuit;
use crate::rule::PlasticityRule;
use crate::task::oja::normal;
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

/// How fresh evaluation trajectories are drawn (SPEC §4.1 distributions).
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
/// the same `W₀` and inputs, and compares them (SPEC §5). Each trajectory has its own
/// seeded stream, so results do not depend on the thread count.
pub fn evaluate_neural<T: PlasticityRule, F: PlasticityRule>(
    true_rule: &T,
    true_theta: &[f64],
    fitted_rule: &F,
    fitted_theta: &[f64],
    fresh: &FreshTrajectories,
) -> Result<NeuralEvaluation> {
    let circuit = NeuralCircuit::new(fresh.n_pre, fresh.n_post);
    let input_dist = normal(0.0, fresh.input_std)?;
    let weight_dist = normal(0.0, fresh.initial_weight_std)?;
    let per_trajectory: Vec<(f64, f64)> = (0..fresh.trajectories)
        .into_par_iter()
        .map(|k| {
            let mut rng = ChaCha8Rng::seed_from_u64(fresh.seed);
            rng.set_stream(k as u64 + 1);
            let w0: Vec<f64> = (0..circuit.n_synapses())
                .map(|_| rng.sample(weight_dist))
                .collect();
            let inputs: Vec<f64> = (0..fresh.steps * fresh.n_pre)
                .map(|_| rng.sample(input_dist))
                .collect();
            // Both circuits run in lockstep from the same W₀ and inputs.
            let mut r2_weights = ColumnR2::new(circuit.n_synapses());
            let mut r2_activity = ColumnR2::new(circuit.n_post);
            let mut true_weights = w0.clone();
            let mut fitted_weights = w0;
            let mut true_post = vec![0.0; circuit.n_post];
            let mut fitted_post = vec![0.0; circuit.n_post];
            let mut true_scratch = vec![0.0; true_rule.scratch_len(circuit.n_pre)];
            let mut fitted_scratch = vec![0.0; fitted_rule.scratch_len(circuit.n_pre)];
            for pre in inputs.chunks_exact(circuit.n_pre) {
                circuit.activity(pre, &true_weights, &mut true_post);
                circuit.activity(pre, &fitted_weights, &mut fitted_post);
                r2_activity.add_row(&true_post, &fitted_post);
                circuit.plasticity(
                    true_rule,
                    true_theta,
                    pre,
                    &true_post,
                    &mut true_weights,
                    &mut true_scratch,
                );
                circuit.plasticity(
                    fitted_rule,
                    fitted_theta,
                    pre,
                    &fitted_post,
                    &mut fitted_weights,
                    &mut fitted_scratch,
                );
                r2_weights.add_row(&true_weights, &fitted_weights);
            }
            (r2_weights.value(), r2_activity.value())
        })
        .collect();
    let r2_weights_per_trajectory: Vec<f64> = per_trajectory.iter().map(|p| p.0).collect();
    let r2_activity_per_trajectory: Vec<f64> = per_trajectory.iter().map(|p| p.1).collect();
    Ok(NeuralEvaluation {
        r2_weights: median(&r2_weights_per_trajectory),
        r2_activity: median(&r2_activity_per_trajectory),
        r2_weights_per_trajectory,
        r2_activity_per_trajectory,
    })
}

/// Fitted minus generating coefficient, per term.
pub fn coefficient_error(fitted: &[f64], generating: &[f64]) -> Vec<f64> {
    fitted.iter().zip(generating).map(|(f, g)| f - g).collect()
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
