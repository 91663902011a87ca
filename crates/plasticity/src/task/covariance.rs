//! Random input statistics for the PCA function objective (issue 12): a covariance
//! `C = Q diag(λ) Qᵀ` with a random orthogonal `Q`, whose top eigenvalue is a stated
//! multiple of the next, and i.i.d. inputs `x_t ~ N(0, C)`.

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// How the covariances of the PCA task are drawn.
///
/// Eigenvalues: `λ₂ = 1`, `λ₁ = ρ λ₂` with `ρ ~ U(top_ratio_min, top_ratio_max)`, and
/// `λ₃ … λ_n ~ U(0, minor_eigenvalue_max)` (sorted). Eigenvectors: the columns of a
/// Haar-random orthogonal matrix (Gram–Schmidt on a Gaussian matrix).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CovarianceSampler {
    /// Number of inputs `n`.
    pub n_inputs: usize,
    /// Smallest ratio `λ₁ / λ₂`.
    pub top_ratio_min: f64,
    /// Largest ratio `λ₁ / λ₂`.
    pub top_ratio_max: f64,
    /// Upper end of the uniform distribution of `λ₃ … λ_n` (with `λ₂ = 1`).
    pub minor_eigenvalue_max: f64,
}

/// One drawn covariance, kept in factored form: `x = Q (√λ ⊙ z)`, `z ~ N(0, I)`.
#[derive(Clone, Debug)]
pub struct Covariance {
    /// `Q`, row-major `n × n`; column `k` is the eigenvector of `λ_k`.
    pub eigenvectors: Vec<f64>,
    /// `√λ_k`, in decreasing order.
    pub sqrt_eigenvalues: Vec<f64>,
}

impl Covariance {
    /// The top eigenvector `v₁` (unit norm).
    pub fn top_eigenvector(&self) -> Vec<f64> {
        let n = self.sqrt_eigenvalues.len();
        (0..n).map(|i| self.eigenvectors[i * n]).collect()
    }

    /// Fills `x` with one draw of `N(0, C)`; `z` is scratch of length `n`.
    pub fn draw_input(&self, rng: &mut ChaCha8Rng, z: &mut [f64], x: &mut [f64]) {
        let n = self.sqrt_eigenvalues.len();
        for (zk, &s) in z.iter_mut().zip(&self.sqrt_eigenvalues) {
            let standard: f64 = rng.sample(StandardNormal);
            *zk = s * standard;
        }
        for (i, xi) in x.iter_mut().enumerate() {
            let row = &self.eigenvectors[i * n..(i + 1) * n];
            *xi = row.iter().zip(z.iter()).map(|(q, zk)| q * zk).sum();
        }
    }
}

impl CovarianceSampler {
    /// Checks the ranges.
    pub fn validate(&self) -> Result<()> {
        if self.n_inputs < 2 {
            return Err(Error::config(
                "task.n_inputs",
                format!("{}: at least 2 inputs are needed", self.n_inputs),
            ));
        }
        if !(self.top_ratio_min > 1.0
            && self.top_ratio_max >= self.top_ratio_min
            && self.top_ratio_max.is_finite())
        {
            return Err(Error::config(
                "task.top_eigenvalue_ratio",
                format!(
                    "[{}, {}]: expected 1 < min ≤ max, finite",
                    self.top_ratio_min, self.top_ratio_max
                ),
            ));
        }
        if !(self.minor_eigenvalue_max > 0.0 && self.minor_eigenvalue_max <= 1.0) {
            return Err(Error::config(
                "task.minor_eigenvalue_max",
                format!(
                    "{}: expected a value in (0, 1] (λ₂ = 1)",
                    self.minor_eigenvalue_max
                ),
            ));
        }
        Ok(())
    }

    /// Draws a covariance from `rng`.
    pub fn draw(&self, rng: &mut ChaCha8Rng) -> Covariance {
        let n = self.n_inputs;
        let ratio =
            self.top_ratio_min + (self.top_ratio_max - self.top_ratio_min) * rng.random::<f64>();
        let mut minor: Vec<f64> = (2..n)
            .map(|_| self.minor_eigenvalue_max * rng.random::<f64>())
            .collect();
        minor.sort_by(|a, b| b.total_cmp(a));
        let eigenvalues: Vec<f64> = [ratio, 1.0].into_iter().chain(minor).collect();
        Covariance {
            eigenvectors: random_orthogonal(n, rng),
            sqrt_eigenvalues: eigenvalues.iter().map(|l| l.sqrt()).collect(),
        }
    }
}

/// A Haar-random orthogonal `n × n` matrix (row-major): modified Gram–Schmidt on the
/// columns of a standard Gaussian matrix.
pub(crate) fn random_orthogonal(n: usize, rng: &mut ChaCha8Rng) -> Vec<f64> {
    let mut q: Vec<f64> = (0..n * n).map(|_| rng.sample(StandardNormal)).collect();
    for k in 0..n {
        for previous in 0..k {
            let dot: f64 = (0..n).map(|i| q[i * n + k] * q[i * n + previous]).sum();
            for i in 0..n {
                q[i * n + k] -= dot * q[i * n + previous];
            }
        }
        let norm = (0..n).map(|i| q[i * n + k].powi(2)).sum::<f64>().sqrt();
        for i in 0..n {
            q[i * n + k] /= norm;
        }
    }
    q
}

/// The random stream of task `index` of a run seeded with `seed`: ChaCha8 from `seed`,
/// stream `index + 1`, so each task is the same whatever else is drawn.
pub fn task_rng(seed: u64, index: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(index + 1);
    rng
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covariances_are_orthogonal_with_the_stated_spectrum() {
        let sampler = CovarianceSampler {
            n_inputs: 12,
            top_ratio_min: 2.0,
            top_ratio_max: 5.0,
            minor_eigenvalue_max: 0.5,
        };
        let mut rng = task_rng(3, 0);
        for _ in 0..20 {
            let c = sampler.draw(&mut rng);
            let n = 12;
            for a in 0..n {
                for b in 0..n {
                    let dot: f64 = (0..n)
                        .map(|i| c.eigenvectors[i * n + a] * c.eigenvectors[i * n + b])
                        .sum();
                    let expected = if a == b { 1.0 } else { 0.0 };
                    assert!((dot - expected).abs() < 1e-12, "{a} {b} {dot}");
                }
            }
            let l: Vec<f64> = c.sqrt_eigenvalues.iter().map(|s| s * s).collect();
            assert!((l[1] - 1.0).abs() < 1e-12);
            assert!((2.0..=5.0).contains(&l[0]), "{}", l[0]);
            assert!(l[2..].iter().all(|&v| (0.0..=0.5).contains(&v)));
            assert!(l[2..].windows(2).all(|w| w[0] >= w[1]));
        }
    }

    #[test]
    fn inputs_have_the_drawn_covariance() {
        let sampler = CovarianceSampler {
            n_inputs: 4,
            top_ratio_min: 3.0,
            top_ratio_max: 3.0,
            minor_eigenvalue_max: 0.5,
        };
        let mut rng = task_rng(5, 2);
        let c = sampler.draw(&mut rng);
        let v = c.top_eigenvector();
        let (mut z, mut x) = (vec![0.0; 4], vec![0.0; 4]);
        let draws = 200_000;
        let mut variance_along_top = 0.0;
        for _ in 0..draws {
            c.draw_input(&mut rng, &mut z, &mut x);
            let p: f64 = x.iter().zip(&v).map(|(a, b)| a * b).sum();
            variance_along_top += p * p;
        }
        variance_along_top /= draws as f64;
        assert!(
            (variance_along_top - 3.0).abs() < 0.05,
            "{variance_along_top}"
        );
    }

    #[test]
    fn bad_ranges_are_refused() {
        let mut sampler = CovarianceSampler {
            n_inputs: 20,
            top_ratio_min: 0.5,
            top_ratio_max: 5.0,
            minor_eigenvalue_max: 0.5,
        };
        let error = sampler.validate().unwrap_err().to_string();
        assert!(error.contains("task.top_eigenvalue_ratio"), "{error}");
        sampler.top_ratio_min = 2.0;
        sampler.minor_eigenvalue_max = 2.0;
        assert!(sampler
            .validate()
            .unwrap_err()
            .to_string()
            .contains("minor"));
    }
}
