//! Phases on the theta cycle for the phase-coded memory objective (issue 29; Lengyel &
//! Dayan 2004): von Mises noise, the STDP window wrapped on the cycle, and truncated
//! Fourier series on the circle.
//!
//! A Fourier series here has no constant term and is stored as
//! `[a₁, b₁, a₂, b₂, …]`, meaning `f(Δ) = Σ_k a_k cos(kΔ) + b_k sin(kΔ)`.

use std::f64::consts::PI;

use rand::rngs::ChaCha8Rng;
use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// One draw of the von Mises distribution `p(x) ∝ exp(κ cos x)` on `(−π, π]`, by Best &
/// Fisher's (1979) rejection sampler (written here: `rand_distr` has no von Mises).
/// `κ = 0` is uniform.
pub fn von_mises(rng: &mut ChaCha8Rng, kappa: f64) -> f64 {
    if kappa < 1e-8 {
        return PI * (2.0 * rng.random::<f64>() - 1.0);
    }
    let tau = 1.0 + (1.0 + 4.0 * kappa * kappa).sqrt();
    let rho = (tau - (2.0 * tau).sqrt()) / (2.0 * kappa);
    let r = (1.0 + rho * rho) / (2.0 * rho);
    loop {
        let u1: f64 = rng.random();
        let z = (PI * u1).cos();
        let f = (1.0 + r * z) / (r + z);
        let c = kappa * (r - f);
        let u2: f64 = rng.random();
        if c * (2.0 - c) - u2 > 0.0 || (c / u2).ln() + 1.0 - c >= 0.0 {
            let u3: f64 = rng.random();
            let sign = if u3 > 0.5 { 1.0 } else { -1.0 };
            return sign * f.clamp(-1.0, 1.0).acos();
        }
    }
}

/// The modified Bessel function of the first kind `I_k(x)`, by its power series
/// `Σ_m (x/2)^{2m+k} / (m! (m+k)!)` (converges quickly for the concentrations used,
/// `x ≲ 50`).
pub fn bessel_i(k: usize, x: f64) -> f64 {
    let half = 0.5 * x;
    let mut term = (0..k).fold(1.0, |acc, j| acc * half / (j + 1) as f64);
    let mut sum = term;
    for m in 1..500 {
        term *= half * half / (m as f64 * (m + k) as f64);
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

/// `ρ_k = I_k(κ)/I₀(κ)`: the mean of `cos(k ε)` for von Mises noise `ε` of concentration
/// `κ`, by which cue noise damps harmonic `k` (`ρ₁` is the cue's own recall quality).
pub fn noise_damping(k: usize, kappa: f64) -> f64 {
    bessel_i(k, kappa) / bessel_i(0, kappa)
}

/// The STDP window, as a function of the spike-time difference `Δt = t_post − t_pre`,
/// wrapped on the theta cycle: `Ω(Δφ) = Σ_n window(Δφ T/2π + n T)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "shape", deny_unknown_fields)]
pub enum StdpWindow {
    /// Bi & Poo's exponential window: `A₊ e^{−Δt/τ₊}` for `Δt > 0`, `−A₋ e^{Δt/τ₋}`
    /// for `Δt < 0` (times in ms, `T` the theta period).
    Exponential {
        /// Theta period `T` (ms).
        theta_period: f64,
        /// Potentiation amplitude `A₊`.
        a_plus: f64,
        /// Depression amplitude `A₋` (positive: the lobe is `−A₋`).
        a_minus: f64,
        /// Potentiation time constant `τ₊` (ms).
        tau_plus: f64,
        /// Depression time constant `τ₋` (ms).
        tau_minus: f64,
    },
    /// A table of `Ω` at the equally spaced phase differences `Δφ_j = 2π j / n`,
    /// `j = 0 … n − 1`.
    Table {
        /// The values.
        values: Vec<f64>,
    },
}

impl StdpWindow {
    /// Checks the window.
    pub fn validate(&self) -> Result<()> {
        match self {
            StdpWindow::Exponential {
                theta_period,
                a_plus,
                a_minus,
                tau_plus,
                tau_minus,
            } => {
                for (key, value) in [
                    ("theta_period", theta_period),
                    ("tau_plus", tau_plus),
                    ("tau_minus", tau_minus),
                ] {
                    if !(*value > 0.0 && value.is_finite()) {
                        return Err(Error::config(
                            format!("task.window.{key}"),
                            format!("{value}: expected a positive number of ms"),
                        ));
                    }
                }
                if !(a_plus.is_finite()
                    && a_minus.is_finite()
                    && (*a_plus != 0.0 || *a_minus != 0.0))
                {
                    return Err(Error::config(
                        "task.window.a_plus",
                        format!(
                            "A₊ = {a_plus}, A₋ = {a_minus}: expected finite amplitudes, not both 0"
                        ),
                    ));
                }
                Ok(())
            }
            StdpWindow::Table { values } => {
                if values.len() < 4 || values.iter().any(|v| !v.is_finite()) {
                    return Err(Error::config(
                        "task.window.values",
                        format!(
                            "{} values: expected at least 4 finite samples over one cycle",
                            values.len()
                        ),
                    ));
                }
                Ok(())
            }
        }
    }

    /// The window's first `harmonics` Fourier coefficients (`[a₁, b₁, …]`), scaled to unit
    /// power `Σ a_k² + b_k² = 1` (only the product of the storage and interaction
    /// scales is identifiable). Exponential lobes have closed forms: with `ω_k = 2πk/T`,
    /// `A₊ e^{−t/τ}` (t > 0) gives `a_k = (2A₊/T) τ/(1+ω²τ²)`, `b_k = (2A₊/T) ωτ²/(1+ω²τ²)`;
    /// `−A₋ e^{t/τ}` (t < 0) gives `a_k = −(2A₋/T) τ/(1+ω²τ²)`, `b_k = (2A₋/T) ωτ²/(1+ω²τ²)`.
    /// A table is projected by the trapezoid rule on its periodic grid.
    pub fn fourier(&self, harmonics: usize) -> Result<Vec<f64>> {
        self.validate()?;
        let mut coefficients = Vec::with_capacity(2 * harmonics);
        for k in 1..=harmonics {
            let (a, b) = match self {
                StdpWindow::Exponential {
                    theta_period,
                    a_plus,
                    a_minus,
                    tau_plus,
                    tau_minus,
                } => {
                    let omega = 2.0 * PI * k as f64 / theta_period;
                    let lobe = |tau: f64| {
                        let d = 1.0 + omega * omega * tau * tau;
                        (tau / d, omega * tau * tau / d)
                    };
                    let (cp, sp) = lobe(*tau_plus);
                    let (cm, sm) = lobe(*tau_minus);
                    let scale = 2.0 / theta_period;
                    (
                        scale * (a_plus * cp - a_minus * cm),
                        scale * (a_plus * sp + a_minus * sm),
                    )
                }
                StdpWindow::Table { values } => {
                    let n = values.len() as f64;
                    values
                        .iter()
                        .enumerate()
                        .fold((0.0, 0.0), |(a, b), (j, v)| {
                            let phase = 2.0 * PI * k as f64 * j as f64 / n;
                            (a + 2.0 * v * phase.cos() / n, b + 2.0 * v * phase.sin() / n)
                        })
                }
            };
            coefficients.push(a);
            coefficients.push(b);
        }
        let power = norm(&coefficients);
        if power.is_nan() || power <= 1e-12 {
            return Err(Error::config(
                "task.window",
                format!("the window has no power in its first {harmonics} harmonics"),
            ));
        }
        Ok(coefficients.iter().map(|c| c / power).collect())
    }
}

/// `f(Δ) = Σ_k a_k cos(kΔ) + b_k sin(kΔ)`.
pub fn evaluate(series: &[f64], delta: f64) -> f64 {
    series
        .chunks_exact(2)
        .enumerate()
        .map(|(j, ab)| {
            let k = (j + 1) as f64;
            ab[0] * (k * delta).cos() + ab[1] * (k * delta).sin()
        })
        .sum()
}

/// The derivative `f′`: harmonic `(a_k, b_k)` becomes `(k b_k, −k a_k)`.
pub fn derivative(series: &[f64]) -> Vec<f64> {
    series
        .chunks_exact(2)
        .enumerate()
        .flat_map(|(j, ab)| {
            let k = (j + 1) as f64;
            [k * ab[1], -k * ab[0]]
        })
        .collect()
}

/// The antiderivative without constant (the inverse of [`derivative`]): harmonic
/// `(c_k, d_k)` becomes `(−d_k/k, c_k/k)`.
pub fn antiderivative(series: &[f64]) -> Vec<f64> {
    series
        .chunks_exact(2)
        .enumerate()
        .flat_map(|(j, cd)| {
            let k = (j + 1) as f64;
            [-cd[1] / k, cd[0] / k]
        })
        .collect()
}

/// Harmonic `k` scaled by the cue-noise damping `ρ_k = I_k(κ)/I₀(κ)`.
pub fn smoothed(series: &[f64], kappa: f64) -> Vec<f64> {
    series
        .chunks_exact(2)
        .enumerate()
        .flat_map(|(j, ab)| {
            let rho = noise_damping(j + 1, kappa);
            [rho * ab[0], rho * ab[1]]
        })
        .collect()
}

/// `√(Σ c²)`: the series' root-mean-square over the cycle times `√2`.
pub fn norm(series: &[f64]) -> f64 {
    series.iter().map(|c| c * c).sum::<f64>().sqrt()
}

/// `series / ‖series‖` times `scale` (zero stays zero).
pub fn normalised(series: &[f64], scale: f64) -> Vec<f64> {
    let n = norm(series);
    if n > 0.0 {
        series.iter().map(|c| scale * c / n).collect()
    } else {
        series.to_vec()
    }
}

/// The correlation over the cycle of two zero-mean series (the shorter padded with
/// zeros): `⟨f, g⟩ / (‖f‖ ‖g‖)` by Parseval.
pub fn correlation(f: &[f64], g: &[f64]) -> f64 {
    let dot: f64 = f.iter().zip(g).map(|(a, b)| a * b).sum();
    let denominator = norm(f) * norm(g);
    if denominator > 0.0 {
        dot / denominator
    } else {
        0.0
    }
}

/// For each harmonic `k` where both series carry power (amplitude ≥ `1e-3` of their
/// largest), `(k, phase of f's harmonic − phase of g's)` in degrees on `(−180, 180]`,
/// the phase of `a cos kΔ + b sin kΔ = R cos(kΔ − α)` being `α = atan2(b, a)`.
pub fn phase_differences_deg(f: &[f64], g: &[f64]) -> Vec<(usize, f64)> {
    let amplitude = |s: &[f64], j: usize| s[2 * j].hypot(s[2 * j + 1]);
    let largest = |s: &[f64]| {
        (0..s.len() / 2)
            .map(|j| amplitude(s, j))
            .fold(0.0, f64::max)
    };
    let (top_f, top_g) = (largest(f), largest(g));
    (0..f.len().min(g.len()) / 2)
        .filter(|&j| amplitude(f, j) >= 1e-3 * top_f && amplitude(g, j) >= 1e-3 * top_g)
        .map(|j| {
            let alpha = f[2 * j + 1].atan2(f[2 * j]) - g[2 * j + 1].atan2(g[2 * j]);
            let wrapped = (alpha + PI).rem_euclid(2.0 * PI) - PI;
            (j + 1, wrapped.to_degrees())
        })
        .collect()
}

/// The fraction of `f`'s power `Σ a_k² + b_k²` in harmonics above `harmonics`.
pub fn power_beyond(f: &[f64], harmonics: usize) -> f64 {
    let total: f64 = f.iter().map(|c| c * c).sum();
    let beyond: f64 = f.iter().skip(2 * harmonics).map(|c| c * c).sum();
    if total > 0.0 {
        beyond / total
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::covariance::task_rng;

    #[test]
    fn von_mises_draws_have_the_bessel_mean_resultant_length() {
        for kappa in [0.5, 2.0, 8.0] {
            let mut rng = task_rng(3, 1);
            let n = 200_000;
            let (mut c, mut s) = (0.0, 0.0);
            for _ in 0..n {
                let x = von_mises(&mut rng, kappa);
                assert!(x.abs() <= PI);
                c += x.cos();
                s += x.sin();
            }
            let expected = noise_damping(1, kappa);
            assert!((c / n as f64 - expected).abs() < 5e-3, "κ {kappa}");
            assert!((s / n as f64).abs() < 5e-3, "κ {kappa}");
        }
        // I₁(2)/I₀(2) = 1.590637/2.279585.
        assert!((noise_damping(1, 2.0) - 1.590_636_854_6 / 2.279_585_302_3).abs() < 1e-9);
    }

    #[test]
    fn the_exponential_window_matches_its_numerical_projection() {
        let window = StdpWindow::Exponential {
            theta_period: 125.0,
            a_plus: 1.0,
            a_minus: 0.5,
            tau_plus: 16.8,
            tau_minus: 33.7,
        };
        // Sample the wrapped window finely and project it as a table.
        let n = 20_000;
        let values: Vec<f64> = (0..n)
            .map(|j| {
                let t = 125.0 * j as f64 / n as f64;
                (-5..=5)
                    .map(|wrap| {
                        let dt = t + 125.0 * wrap as f64;
                        if dt > 0.0 {
                            (-dt / 16.8).exp()
                        } else if dt < 0.0 {
                            -0.5 * (dt / 33.7).exp()
                        } else {
                            0.25
                        }
                    })
                    .sum()
            })
            .collect();
        let closed = window.fourier(3).expect("window");
        let table = StdpWindow::Table { values }.fourier(3).expect("table");
        for (a, b) in closed.iter().zip(&table) {
            assert!((a - b).abs() < 1e-3, "{closed:?} vs {table:?}");
        }
        assert!((norm(&closed) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn derivative_and_antiderivative_are_inverse_and_exact() {
        let f = [0.3, -0.7, 0.2, 0.5];
        let df = derivative(&f);
        let h = 1e-6;
        for delta in [0.1, 1.3, -2.0] {
            let fd = (evaluate(&f, delta + h) - evaluate(&f, delta - h)) / (2.0 * h);
            assert!((evaluate(&df, delta) - fd).abs() < 1e-8);
        }
        let back = antiderivative(&df);
        for (a, b) in back.iter().zip(&f) {
            assert!((a - b).abs() < 1e-15);
        }
        assert!((correlation(&f, &f) - 1.0).abs() < 1e-15);
        assert!((correlation(&f, &f.map(|c| -2.0 * c)) + 1.0).abs() < 1e-15);
        // A pure shift of harmonic 1 by 30° reads as a 30° phase difference.
        let shifted = [(0.3f64).cos(), (0.3f64).sin()];
        let phases = phase_differences_deg(&shifted, &[1.0, 0.0]);
        assert!((phases[0].1 - 0.3f64.to_degrees()).abs() < 1e-12);
        assert!((power_beyond(&f, 1) - 0.29 / 0.87).abs() < 1e-12);
    }
}
