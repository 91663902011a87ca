//! A few synapses' weights over a fresh trajectory (or session), under the generating
//! and the fitted rule: which synapses to show, and where each sits in `W`.

use serde::{Deserialize, Serialize};

/// Weight trajectories of a few synapses under the generating and the fitted rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WeightTrajectories {
    /// The synapses shown (flat indices into the row-major `W` of shape
    /// `[n_post, n_pre]`), the one that changes most first.
    pub synapses: Vec<usize>,
    /// `(post, pre)` of each synapse of `synapses`: its row and column of `W`.
    #[serde(default)]
    pub positions: Vec<(usize, usize)>,
    /// `truth[t][j]`: synapse `synapses[j]` after step (or presentation) `t + 1`, under
    /// the generating rule.
    pub truth: Vec<Vec<f64>>,
    /// The same under the fitted rule, from the same `W₀` and inputs.
    pub fitted: Vec<Vec<f64>>,
}

impl WeightTrajectories {
    /// Keeps, of full weight trajectories `truth[t]` / `fitted[t]` of a row-major `W`
    /// with `n_pre` columns, `count` synapses that change much and lie in different
    /// rows and columns: synapses are taken by the range their generating trajectory
    /// spans, widest first (ties: lower index), skipping one whose postsynaptic or
    /// presynaptic neuron is already shown; when too few remain (a `W` with fewer
    /// rows or columns than `count`), the widest of the others fill up, first those
    /// that share only one of the two neurons.
    pub fn of_most_changing(
        truth: &[Vec<f64>],
        fitted: &[Vec<f64>],
        count: usize,
        n_pre: usize,
    ) -> Self {
        let n = truth.first().map_or(0, Vec::len);
        let n_pre = n_pre.max(1);
        let mut range: Vec<(usize, f64)> = (0..n)
            .map(|j| {
                let (lo, hi) = truth
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |a, w| {
                        (a.0.min(w[j]), a.1.max(w[j]))
                    });
                let span = hi - lo;
                (j, if span.is_nan() { 0.0 } else { span })
            })
            .collect();
        range.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let position = |j: usize| (j / n_pre, j % n_pre);
        let mut synapses: Vec<usize> = Vec::with_capacity(count);
        // pass 0: new row and new column; pass 1: new row or new column; pass 2: any
        for pass in 0..3 {
            for &(j, _) in &range {
                if synapses.len() >= count {
                    break;
                }
                if synapses.contains(&j) {
                    continue;
                }
                let (post, pre) = position(j);
                let new_post = synapses.iter().all(|&k| position(k).0 != post);
                let new_pre = synapses.iter().all(|&k| position(k).1 != pre);
                let take = match pass {
                    0 => new_post && new_pre,
                    1 => new_post || new_pre,
                    _ => true,
                };
                if take {
                    synapses.push(j);
                }
            }
        }
        let pick = |rows: &[Vec<f64>]| -> Vec<Vec<f64>> {
            rows.iter()
                .map(|w| synapses.iter().map(|&j| w[j]).collect())
                .collect()
        };
        WeightTrajectories {
            truth: pick(truth),
            fitted: pick(fitted),
            positions: synapses.iter().map(|&j| position(j)).collect(),
            synapses,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `W` of 3 rows × 4 columns whose synapse `j` moves by `change[j]` over 2 steps.
    fn trajectories(change: &[f64]) -> Vec<Vec<f64>> {
        vec![vec![0.0; change.len()], change.to_vec()]
    }

    #[test]
    fn the_synapses_shown_lie_in_different_rows_and_columns() {
        // column 1 changes most in every row: the old choice showed four synapses of
        // presynaptic neuron 1
        let change = [
            0.1, 9.0, 0.2, 0.3, //
            0.4, 8.0, 0.5, 0.6, //
            0.7, 7.0, 0.8, 5.0,
        ];
        let truth = trajectories(&change);
        let shown = WeightTrajectories::of_most_changing(&truth, &truth, 3, 4);
        assert_eq!(shown.synapses, vec![1, 11, 6]);
        assert_eq!(shown.positions, vec![(0, 1), (2, 3), (1, 2)]);
        let posts: Vec<usize> = shown.positions.iter().map(|p| p.0).collect();
        let pres: Vec<usize> = shown.positions.iter().map(|p| p.1).collect();
        assert_eq!(posts, [0, 2, 1]);
        assert!(pres
            .iter()
            .all(|p| pres.iter().filter(|q| *q == p).count() == 1));
        assert_eq!(shown.truth[1], vec![9.0, 5.0, 0.5]);
    }

    #[test]
    fn a_narrow_matrix_fills_up_with_the_widest_others() {
        // 2 columns, 3 rows: only 2 synapses can have distinct columns
        let change = [1.0, 6.0, 2.0, 5.0, 3.0, 4.0];
        let truth = trajectories(&change);
        let shown = WeightTrajectories::of_most_changing(&truth, &truth, 4, 2);
        assert_eq!(shown.synapses.len(), 4);
        // 1 = (0, 1) first; then (2, 0) = 4 (new row and column); then new rows only
        assert_eq!(shown.synapses[..2], [1, 4]);
        let mut all = shown.synapses.clone();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 4);
        // never more than asked, nor more than there are
        let shown = WeightTrajectories::of_most_changing(&truth, &truth, 10, 2);
        assert_eq!(shown.synapses.len(), 6);
    }
}
