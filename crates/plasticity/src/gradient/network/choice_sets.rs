//! The softmax likelihood of choice sets ([`super::TrajectoryLoss::Softmax`]): consecutive
//! steps offer the options of one choice, the set ends at its chosen option (recorded
//! decision 1), and its loss is `ℓ = log Σ_k e^{z_k} − z_chosen`, the negative log of
//! `P(chosen) = softmax_k(z_k)`, with `z_k` the recorded neuron's net input at option
//! `k`'s step. Steps after the last chosen option belong to no set.
//!
//! Three passes read it: the forward pass accumulates `ℓ` as the options come
//! ([`ChoiceSet`]), the adjoint needs `∂L/∂z_t = (p_t − d_t)/C` of every step
//! ([`choice_adjoints`], from the logits the forward pass stored), and forward mode
//! combines each set's tangent rows ([`ChoiceSetRows`]).

use crate::scalar::Scalar;

/// The running log-sum-exp of one open choice set, `lse = m + ln Σ_k e^{z_k − m}`
/// with `m` the largest logit's value so far: a constant shift, so that dual numbers
/// differentiate it exactly and no exponential overflows.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ChoiceSet<S> {
    shift: f64,
    sum: S,
    open: bool,
}

impl<S: Scalar> ChoiceSet<S> {
    /// A closed set (the next option opens one).
    pub(crate) fn new() -> Self {
        ChoiceSet {
            shift: 0.0,
            sum: S::zero(),
            open: false,
        }
    }

    /// Adds the option of logit `z` and decision `d`: returns the set's loss
    /// `lse − z` when `d = 1` closes it, 0 otherwise.
    #[inline]
    pub(crate) fn push(&mut self, z: S, d: f64) -> S {
        let value = z.re();
        if !self.open {
            self.open = true;
            self.shift = value;
            self.sum = S::zero();
        } else if value > self.shift {
            self.sum *= S::from_f64((self.shift - value).exp());
            self.shift = value;
        }
        self.sum += (z - S::from_f64(self.shift)).exp();
        if d == 1.0 {
            self.open = false;
            self.sum.ln() + S::from_f64(self.shift) - z
        } else {
            S::zero()
        }
    }
}

/// `∂L/∂z_t = scale (p_t − d_t)` of every step into `adjoints` (resized to the
/// steps), with `p_t` the softmax of its set's `logits`; 0 after the last set.
pub(crate) fn choice_adjoints(
    logits: &[f64],
    decisions: &[f64],
    scale: f64,
    adjoints: &mut Vec<f64>,
) {
    adjoints.clear();
    adjoints.resize(logits.len(), 0.0);
    let mut start = 0;
    for end in 0..logits.len() {
        if decisions[end] != 1.0 {
            continue;
        }
        let set = &logits[start..=end];
        let shift = set.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let lse = shift + set.iter().map(|z| (z - shift).exp()).sum::<f64>().ln();
        for t in start..=end {
            adjoints[t] = scale * ((logits[t] - lse).exp() - decisions[t]);
        }
        start = end + 1;
    }
}

/// The tangent rows `∂z_k/∂θ` of one open choice set, kept until its chosen option
/// closes it (buffers grow to the largest set once, then are reused).
#[derive(Debug, Default)]
pub(crate) struct ChoiceSetRows {
    logits: Vec<f64>,
    decisions: Vec<f64>,
    rows: Vec<f64>,
    mean: Vec<f64>,
}

impl ChoiceSetRows {
    /// Adds one option (logit `z`, decision `d`, row `∂z/∂θ`). When `d = 1` closes the
    /// set, hands each option to `emit(p_k − d_k, p_k, row_k − r̄)` with
    /// `r̄ = Σ_k p_k row_k` and returns the set's loss `lse − z_chosen`: the score
    /// `Σ_k (p_k − d_k) row_k` and the Fisher information
    /// `Σ_k p_k (row_k − r̄)(row_k − r̄)ᵀ` (the Hessian of `lse` in `z` is
    /// `diag p − p pᵀ`) are sums over what `emit` sees.
    pub(crate) fn push(
        &mut self,
        z: f64,
        d: f64,
        row: &[f64],
        mut emit: impl FnMut(f64, f64, &[f64]),
    ) -> Option<f64> {
        self.logits.push(z);
        self.decisions.push(d);
        self.rows.extend_from_slice(row);
        if d != 1.0 {
            return None;
        }
        let n = row.len();
        let shift = self
            .logits
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        let lse = shift
            + self
                .logits
                .iter()
                .map(|z| (z - shift).exp())
                .sum::<f64>()
                .ln();
        self.mean.clear();
        self.mean.resize(n, 0.0);
        for (k, &logit) in self.logits.iter().enumerate() {
            let p = (logit - lse).exp();
            for (m, &r) in self.mean.iter_mut().zip(&self.rows[k * n..(k + 1) * n]) {
                *m += p * r;
            }
        }
        for (k, (&logit, &decision)) in self.logits.iter().zip(&self.decisions).enumerate() {
            let p = (logit - lse).exp();
            let row = &mut self.rows[k * n..(k + 1) * n];
            for (r, &m) in row.iter_mut().zip(&self.mean) {
                *r -= m;
            }
            emit(p - decision, p, row);
        }
        self.logits.clear();
        self.decisions.clear();
        self.rows.clear();
        Some(lse - z)
    }

    /// Forgets an open set (a new trajectory starts).
    pub(crate) fn reset(&mut self) {
        self.logits.clear();
        self.decisions.clear();
        self.rows.clear();
    }
}

#[cfg(test)]
mod tests {
    use num_dual::{Dual64, DualNum};

    use super::*;

    const LOGITS: [f64; 4] = [0.3, -1.2, 2.5, 0.9];
    const DECISIONS: [f64; 4] = [0.0, 0.0, 0.0, 1.0];

    fn rows() -> Vec<[f64; 3]> {
        vec![
            [1.0, 0.5, -0.2],
            [0.3, -0.7, 0.4],
            [-1.1, 0.2, 0.9],
            [0.6, 0.8, -0.5],
        ]
    }

    #[test]
    fn the_running_log_sum_exp_is_exact_and_differentiable() {
        // z_k = rows_k · θ, dual in θ_0: the loss and ∂ℓ/∂θ_0 = Σ_k (p_k − d_k) row_k0
        let mut set = ChoiceSet::<Dual64>::new();
        let mut loss = Dual64::from_f64(0.0);
        for (k, (&z, &d)) in LOGITS.iter().zip(&DECISIONS).enumerate() {
            let z = Dual64::new(z, rows()[k][0]);
            loss += set.push(z, d);
        }
        let lse = LOGITS.iter().map(|z| z.exp()).sum::<f64>().ln();
        assert!((loss.re - (lse - LOGITS[3])).abs() < 1e-14);
        let slope: f64 = (0..4)
            .map(|k| ((LOGITS[k] - lse).exp() - DECISIONS[k]) * rows()[k][0])
            .sum();
        assert!((loss.eps - slope).abs() < 1e-14, "{} vs {slope}", loss.eps);
        // logits far apart do not overflow
        let mut set = ChoiceSet::<f64>::new();
        set.push(800.0, 0.0);
        let loss = set.push(-800.0, 1.0);
        assert!((loss - 1600.0).abs() < 1e-9, "{loss}");
    }

    #[test]
    fn a_sets_score_and_information_are_those_of_the_categorical_likelihood() {
        let mut rows_of_set = ChoiceSetRows::default();
        let n = 3;
        let mut score = vec![0.0; n];
        let mut information = vec![0.0; n * n];
        let mut closed = None;
        for (k, row) in rows().iter().enumerate() {
            closed = rows_of_set.push(LOGITS[k], DECISIONS[k], row, |s, w, centred| {
                for a in 0..n {
                    score[a] += s * centred[a];
                    for b in 0..n {
                        information[a * n + b] += w * centred[a] * centred[b];
                    }
                }
            });
            assert_eq!(closed.is_some(), k == 3);
        }
        let lse = LOGITS.iter().map(|z| z.exp()).sum::<f64>().ln();
        assert!((closed.unwrap_or(f64::NAN) - (lse - LOGITS[3])).abs() < 1e-14);
        // Jᵀ(p − d) and Jᵀ(diag p − p pᵀ)J by brute force
        let p: Vec<f64> = LOGITS.iter().map(|z| (z - lse).exp()).collect();
        let j = rows();
        for a in 0..n {
            let expected: f64 = (0..4).map(|k| (p[k] - DECISIONS[k]) * j[k][a]).sum();
            assert!((score[a] - expected).abs() < 1e-14);
            for b in 0..n {
                let mut expected = 0.0;
                for k in 0..4 {
                    expected += p[k] * j[k][a] * j[k][b];
                    for l in 0..4 {
                        expected -= p[k] * p[l] * j[k][a] * j[l][b];
                    }
                }
                assert!((information[a * n + b] - expected).abs() < 1e-13);
            }
        }
    }

    #[test]
    fn adjoints_are_the_softmax_minus_the_choice_and_zero_after_the_last_set() {
        let logits = [0.2, 1.0, -0.5, 0.1, 0.7, 3.0];
        let decisions = [0.0, 1.0, 0.0, 0.0, 1.0, 0.0];
        let mut adjoints = Vec::new();
        choice_adjoints(&logits, &decisions, 0.5, &mut adjoints);
        let first = (0.2f64.exp() + 1.0f64.exp()).ln();
        assert!((adjoints[0] - 0.5 * (0.2 - first).exp()).abs() < 1e-15);
        assert!((adjoints[1] - 0.5 * ((1.0 - first).exp() - 1.0)).abs() < 1e-15);
        let sum: f64 = adjoints[2..5].iter().sum();
        assert!(sum.abs() < 1e-15, "a set's adjoints sum to 0: {sum}");
        assert_eq!(adjoints[5], 0.0);
    }
}
