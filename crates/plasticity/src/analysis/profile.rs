//! Profile-likelihood intervals: for one parameter `θ_k`, the set of values where
//! `Δ(v) = 2 n [L_p(v) − L(θ̂)] ≤ χ²₁(level)`, with `L_p(v) = min_{θ: θ_k = v} L(θ)` the
//! profile of the mean loss `L` (here a mean cross-entropy, so `n L` is the negative
//! log-likelihood) and `θ̂` its minimum. The crossings are found by a bracketed secant
//! search on `√Δ(v) − √χ²`, which is nearly linear in `v` when the profile is close to
//! quadratic, so few constrained fits are needed.

use std::ops::ControlFlow;

use serde::{Deserialize, Serialize};

use crate::fit::{fit, FitConfig, OptimizerKind, Parametrisation};
use crate::objective::Objective;
use crate::{Error, Result};

/// `χ²₁` quantile of a 95 % interval.
pub const CHI2_95: f64 = 3.841_458_820_694_124;

fn minimum_iterations() -> usize {
    400
}

/// How the profile is searched.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProfileSettings {
    /// `χ²₁` quantile of the interval's level (3.84 for 95 %).
    pub chi2: f64,
    /// L-BFGS iterations of each constrained fit (warm-started from its neighbour).
    pub iterations: usize,
    /// L-BFGS iterations of the unconstrained maximum-likelihood fit the profile starts
    /// from (60 left a fly's choice model at a loss 0.0020 per decision above the
    /// minimum 400 reach, deviance 0.94 on 240 choices: docs/flies.md).
    #[serde(default = "minimum_iterations")]
    pub minimum_iterations: usize,
    /// Constrained fits per side at most.
    pub max_fits_per_side: usize,
    /// The search gives up (the side is unbounded) beyond `|v − θ̂_k| > max_distance`.
    pub max_distance: f64,
}

impl Default for ProfileSettings {
    fn default() -> Self {
        ProfileSettings {
            chi2: CHI2_95,
            iterations: 60,
            minimum_iterations: minimum_iterations(),
            max_fits_per_side: 20,
            max_distance: 20.0,
        }
    }
}

/// The interval of one parameter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProfileInterval {
    /// Index of the parameter in θ.
    pub parameter: usize,
    /// Its maximum-likelihood value `θ̂_k`.
    pub estimate: f64,
    /// Lower end (`None`: `Δ` stayed below the threshold as far as the search went).
    pub lower: Option<f64>,
    /// Upper end.
    pub upper: Option<f64>,
    /// Constrained fits used.
    pub fits: usize,
    /// False when a constrained fit reached a lower loss than the minimum it was given
    /// (by more than `10⁻⁸ max(1, |L̂|)`): that minimum had not converged, and the
    /// interval around it is not to be trusted.
    #[serde(default = "converged_default")]
    pub converged: bool,
}

fn converged_default() -> bool {
    true
}

fn lbfgs(iterations: usize) -> FitConfig {
    FitConfig {
        optimizer: OptimizerKind::Lbfgs,
        epochs: iterations,
        tolerance: 1e-10,
        ..FitConfig::default()
    }
}

/// Most free parameters [`newton_polish`] takes (its Hessian costs `2n` gradients).
pub const MAX_POLISHED: usize = 12;

/// Minimises `objective` over the `trainable` parameters from `start` (the others stay
/// at their value in `start`), unpenalised: `iterations` of L-BFGS, then, for at most
/// [`MAX_POLISHED`] free parameters, [`newton_polish`]. Returns `θ̂` and `L(θ̂)`.
///
/// L-BFGS alone crawls along the ill-conditioned directions of the canonical monomial
/// basis: on a fly's choices (`1, x, r, x*r, w`) the estimate of `θ_r` moved from 0.13
/// to 0.35 between 60 and 400 iterations, and profile intervals that start from such a
/// point are wrong (docs/flies.md).
pub fn maximum_likelihood<O: Objective>(
    objective: &O,
    trainable: &[usize],
    start: &[f64],
    iterations: usize,
) -> Result<(Vec<f64>, f64)> {
    let parametrisation = Parametrisation::subset(trainable.to_vec(), start.to_vec());
    let outcome = fit(
        objective,
        &parametrisation,
        start,
        &[],
        &lbfgs(iterations),
        &mut |_| ControlFlow::Continue(()),
    )?;
    if trainable.len() <= MAX_POLISHED {
        return Ok(newton_polish(
            objective,
            trainable,
            outcome.theta,
            outcome.final_loss,
        ));
    }
    Ok((outcome.theta, outcome.final_loss))
}

/// Damped Newton steps on the `free` parameters from `(θ, L(θ))`: the Hessian `H` from
/// central differences of the gradient (symmetrised), the step
/// `(H + μ D) δ = −g` with `D = diag(max(H_kk, 10⁻⁹ max_j H_jj))`, from the plain
/// Newton step `μ = 0`, kept when it lowers the loss (then `μ ← μ/10`, 0 below
/// 10⁻¹¹), else `μ ← max(10 μ, 10⁻⁸)`; stops when the predicted decrease
/// `−g·δ/2` is below `10⁻¹³ max(1, |L|)`, after 30 steps, or when `μ` passes 10¹⁰.
/// Never returns a higher loss than it was given.
pub fn newton_polish<O: Objective>(
    objective: &O,
    free: &[usize],
    theta: Vec<f64>,
    loss: f64,
) -> (Vec<f64>, f64) {
    let items: Vec<usize> = (0..objective.n_items()).collect();
    let n = free.len();
    let gradient_at = |point: &[f64]| -> Vec<f64> {
        let mut full = vec![0.0; point.len()];
        objective.loss_and_gradient(point, &items, &mut full);
        free.iter().map(|&k| full[k]).collect()
    };
    let (mut theta, mut loss, mut mu) = (theta, loss, 0.0f64);
    if n == 0 || !loss.is_finite() {
        return (theta, loss);
    }
    for _ in 0..30 {
        let g = gradient_at(&theta);
        let mut hessian = nalgebra::DMatrix::zeros(n, n);
        for (col, &k) in free.iter().enumerate() {
            let h = 1e-5 * theta[k].abs().max(1.0);
            let mut point = theta.clone();
            point[k] = theta[k] + h;
            let plus = gradient_at(&point);
            point[k] = theta[k] - h;
            let minus = gradient_at(&point);
            for row in 0..n {
                hessian[(row, col)] = (plus[row] - minus[row]) / (2.0 * h);
            }
        }
        let hessian = 0.5 * (&hessian + hessian.transpose());
        if !(hessian.iter().all(|v| v.is_finite()) && g.iter().all(|v| v.is_finite())) {
            break;
        }
        let largest = (0..n)
            .map(|k| hessian[(k, k)])
            .fold(0.0, f64::max)
            .max(1e-300);
        let mut kept = false;
        while mu <= 1e10 {
            let mut damped = hessian.clone();
            for k in 0..n {
                damped[(k, k)] += mu * hessian[(k, k)].max(1e-9 * largest);
            }
            let rhs = nalgebra::DVector::from_iterator(n, g.iter().map(|v| -v));
            let Some(step) = damped.lu().solve(&rhs) else {
                mu = (10.0 * mu).max(1e-8);
                continue;
            };
            let predicted = -0.5 * step.iter().zip(&g).map(|(d, gk)| d * gk).sum::<f64>();
            if predicted.is_nan() || predicted <= 1e-13 * loss.abs().max(1.0) {
                return (theta, loss);
            }
            let mut trial = theta.clone();
            for (&k, d) in free.iter().zip(step.iter()) {
                trial[k] += d;
            }
            let trial_loss = objective.loss(&trial, &items);
            if trial_loss.is_finite() && trial_loss < loss {
                (theta, loss) = (trial, trial_loss);
                mu = if mu < 1e-11 { 0.0 } else { mu / 10.0 };
                kept = true;
                break;
            }
            mu = (10.0 * mu).max(1e-8);
        }
        if !kept {
            break;
        }
    }
    (theta, loss)
}

/// The profile-likelihood interval of `θ_k` around the minimum `(θ̂, L̂)` of
/// `objective` over `trainable` (which contains `k`); `n` turns the mean loss into a
/// log-likelihood (`n L` = negative log-likelihood).
pub fn profile_interval<O: Objective>(
    objective: &O,
    n: f64,
    trainable: &[usize],
    minimum: &[f64],
    minimum_loss: f64,
    k: usize,
    settings: &ProfileSettings,
) -> Result<ProfileInterval> {
    if !trainable.contains(&k) {
        return Err(Error::config(
            "profile",
            format!("parameter {k} is not among the trainable ones"),
        ));
    }
    let others: Vec<usize> = trainable.iter().copied().filter(|&j| j != k).collect();
    let estimate = minimum[k];
    let threshold = settings.chi2.sqrt();
    let mut fits = 0usize;
    let mut converged = true;
    let slack = 1e-8 * minimum_loss.abs().max(1.0);
    // √Δ at θ_k = v, the other parameters re-fitted from `warm`
    let mut root_deviance = |v: f64, warm: &[f64]| -> Result<(f64, Vec<f64>)> {
        let mut start = warm.to_vec();
        start[k] = v;
        fits += 1;
        let (theta, loss) = if others.is_empty() {
            let loss = objective.loss(&start, &[0]);
            (start, loss)
        } else {
            maximum_likelihood(objective, &others, &start, settings.iterations)?
        };
        if loss < minimum_loss - slack {
            converged = false;
        }
        let deviance = 2.0 * n * (loss - minimum_loss);
        Ok((deviance.max(0.0).sqrt(), theta))
    };
    let mut ends = [None, None];
    for (side, direction) in [-1.0f64, 1.0].into_iter().enumerate() {
        let mut step = (0.1 * estimate.abs()).max(1e-3);
        // bracket: `below` has √Δ < threshold, `above` ≥ threshold
        let mut below = (estimate, 0.0, minimum.to_vec());
        let mut above: Option<(f64, f64)> = None;
        let mut used = 0;
        while above.is_none() && used < settings.max_fits_per_side {
            let v = estimate + direction * step;
            if (v - estimate).abs() > settings.max_distance {
                break;
            }
            let (root, theta) = root_deviance(v, &below.2)?;
            used += 1;
            if !root.is_finite() {
                above = Some((v, f64::INFINITY));
            } else if root >= threshold {
                above = Some((v, root));
            } else {
                // extrapolate √Δ linearly from the estimate (at most ×4 per step)
                let grow = if root > 1e-6 {
                    (1.2 * threshold / root).clamp(1.5, 4.0)
                } else {
                    4.0
                };
                below = (v, root, theta);
                step *= grow;
            }
        }
        let Some(mut above) = above else {
            continue;
        };
        // regula falsi (Illinois) on √Δ − threshold inside the bracket
        let mut end = above.0;
        let mut keep_side = 0i8;
        while used < settings.max_fits_per_side {
            let (fa, fb) = (below.1 - threshold, above.1 - threshold);
            let v = if fb.is_finite() {
                below.0 + (above.0 - below.0) * fa / (fa - fb)
            } else {
                0.5 * (below.0 + above.0)
            };
            let (root, theta) = root_deviance(v, &below.2)?;
            used += 1;
            end = v;
            if root.is_finite() && (root - threshold).abs() < 1e-3 * threshold {
                break;
            }
            if root.is_finite() && root < threshold {
                below = (v, root, theta);
                if keep_side == -1 {
                    above.1 = threshold + 0.5 * (above.1 - threshold);
                }
                keep_side = -1;
            } else {
                above = (v, root);
                if keep_side == 1 {
                    below.1 = threshold + 0.5 * (below.1 - threshold);
                }
                keep_side = 1;
            }
            if (above.0 - below.0).abs() < 1e-6 * (1.0 + estimate.abs()) {
                break;
            }
        }
        ends[side] = Some(end);
    }
    Ok(ProfileInterval {
        parameter: k,
        estimate,
        lower: ends[0],
        upper: ends[1],
        fits,
        converged,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Gaussian mean and log-variance from samples: `L(μ, s) = ½[s + (x − μ)² e^{−s}]`
    /// averaged over samples (plus a constant); the profile interval of `μ` is
    /// `x̄ ± √(χ² σ̂² / n)` exactly, with `σ̂²` the maximum-likelihood variance.
    struct Gaussian {
        samples: Vec<f64>,
    }

    impl Objective for Gaussian {
        fn n_parameters(&self) -> usize {
            2
        }
        fn n_items(&self) -> usize {
            1
        }
        fn loss(&self, theta: &[f64], _: &[usize]) -> f64 {
            let mut g = [0.0; 2];
            self.loss_and_gradient(theta, &[0], &mut g)
        }
        fn loss_and_gradient(&self, theta: &[f64], _: &[usize], gradient: &mut [f64]) -> f64 {
            let (mu, s) = (theta[0], theta[1]);
            let n = self.samples.len() as f64;
            let (mut loss, mut g0, mut g1) = (0.0, 0.0, 0.0);
            for x in &self.samples {
                let r2 = (x - mu) * (x - mu) * (-s).exp();
                loss += 0.5 * (s + r2);
                g0 += -(x - mu) * (-s).exp();
                g1 += 0.5 * (1.0 - r2);
            }
            gradient[0] = g0 / n;
            gradient[1] = g1 / n;
            loss / n
        }
    }

    #[test]
    fn gaussian_mean_interval_is_exact() {
        let samples: Vec<f64> = (0..40)
            .map(|i| ((i * 37 % 17) as f64 - 8.0) * 0.3 + 2.0)
            .collect();
        let n = samples.len() as f64;
        let mean = samples.iter().sum::<f64>() / n;
        let variance = samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
        let objective = Gaussian {
            samples: samples.clone(),
        };
        let (theta, loss) =
            maximum_likelihood(&objective, &[0, 1], &[0.0, 0.0], 200).expect("a minimum");
        assert!((theta[0] - mean).abs() < 1e-6);
        let interval = profile_interval(
            &objective,
            n,
            &[0, 1],
            &theta,
            loss,
            0,
            &ProfileSettings::default(),
        )
        .expect("an interval");
        // profile over s: Δ(μ) = n ln(1 + (μ − x̄)²/σ̂²) = χ² at
        // μ = x̄ ± σ̂ √(e^{χ²/n} − 1)
        let half = (variance * ((CHI2_95 / n).exp() - 1.0)).sqrt();
        let (lower, upper) = (
            interval.lower.expect("lower"),
            interval.upper.expect("upper"),
        );
        assert!(
            (lower - (mean - half)).abs() < 1e-3 * half,
            "{lower} vs {}",
            mean - half
        );
        assert!(
            (upper - (mean + half)).abs() < 1e-3 * half,
            "{upper} vs {}",
            mean + half
        );
        assert!(interval.fits < 30, "{} fits", interval.fits);
    }

    #[test]
    fn a_flat_direction_gives_an_open_interval() {
        // L depends on θ₀ only: θ₁ is unidentifiable
        struct Flat;
        impl Objective for Flat {
            fn n_parameters(&self) -> usize {
                2
            }
            fn n_items(&self) -> usize {
                1
            }
            fn loss(&self, theta: &[f64], _: &[usize]) -> f64 {
                (theta[0] - 1.0).powi(2)
            }
            fn loss_and_gradient(&self, theta: &[f64], _: &[usize], g: &mut [f64]) -> f64 {
                g[0] = 2.0 * (theta[0] - 1.0);
                g[1] = 0.0;
                self.loss(theta, &[0])
            }
        }
        let interval = profile_interval(
            &Flat,
            10.0,
            &[0, 1],
            &[1.0, 0.0],
            0.0,
            1,
            &ProfileSettings::default(),
        )
        .expect("an interval");
        assert_eq!((interval.lower, interval.upper), (None, None));
    }

    /// An ill-conditioned quadratic (condition number 10⁶) that 3 L-BFGS iterations do
    /// not solve: the Newton polish reaches its minimum to round-off.
    struct Stiff;

    impl Objective for Stiff {
        fn n_parameters(&self) -> usize {
            3
        }
        fn n_items(&self) -> usize {
            1
        }
        fn loss(&self, theta: &[f64], _: &[usize]) -> f64 {
            let mut g = [0.0; 3];
            self.loss_and_gradient(theta, &[0], &mut g)
        }
        fn loss_and_gradient(&self, theta: &[f64], _: &[usize], g: &mut [f64]) -> f64 {
            // L = ½ (u² + 10⁻⁶ v²) with u = θ₀ + θ₁ − 1, v = θ₀ − θ₁ − 2, θ₂ idle
            let (u, v) = (theta[0] + theta[1] - 1.0, theta[0] - theta[1] - 2.0);
            g[0] = u + 1e-6 * v;
            g[1] = u - 1e-6 * v;
            g[2] = 0.0;
            0.5 * (u * u + 1e-6 * v * v)
        }
    }

    #[test]
    fn the_newton_polish_finishes_what_lbfgs_leaves() {
        let (theta, loss) =
            maximum_likelihood(&Stiff, &[0, 1], &[0.0, 0.0, 5.0], 3).expect("a minimum");
        assert!((theta[0] - 1.5).abs() < 1e-6, "{theta:?}");
        assert!((theta[1] + 0.5).abs() < 1e-6, "{theta:?}");
        assert_eq!(theta[2], 5.0);
        assert!(loss < 1e-15, "{loss}");
    }

    #[test]
    fn a_profile_around_a_false_minimum_says_so() {
        let false_minimum = [0.5, 0.5, 0.0];
        let loss = Stiff.loss(&false_minimum, &[0]);
        let interval = profile_interval(
            &Stiff,
            100.0,
            &[0, 1],
            &false_minimum,
            loss,
            0,
            &ProfileSettings::default(),
        )
        .expect("an interval");
        assert!(!interval.converged);
        let (theta, loss) = maximum_likelihood(&Stiff, &[0, 1], &false_minimum, 60).expect("fit");
        let interval = profile_interval(
            &Stiff,
            100.0,
            &[0, 1],
            &theta,
            loss,
            0,
            &ProfileSettings::default(),
        )
        .expect("an interval");
        assert!(interval.converged);
    }
}
