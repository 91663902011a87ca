//! The small linear algebra of the several-components circuit and loss: settled
//! outputs, the effective map, the lateral mask, the row cap and their reverse modes,
//! and the subspace loss with its gradient.

use crate::scalar::Scalar;

/// Settled outputs `y_i = (W x)_i + Σ_{j<i} L_ij y_j`, i.e. `y = (I − L)⁻¹ W x`.
#[inline]
pub(super) fn settle<S: Scalar>(w: &[S], lateral: &[S], x: &[S], y: &mut [S]) {
    let (n, k) = (x.len(), y.len());
    for i in 0..k {
        let mut v = w[i * n..(i + 1) * n]
            .iter()
            .zip(x)
            .fold(S::zero(), |acc, (&a, &b)| acc + a * b);
        for j in 0..i {
            v += lateral[i * k + j] * y[j];
        }
        y[i] = v;
    }
}

/// `z ← (I − L)⁻ᵀ z` in place on `k` rows of `width` numbers (back substitution:
/// `z_i = a_i + Σ_{j>i} L_ji z_j`).
#[inline]
pub(super) fn solve_transposed(lateral: &[f64], k: usize, z: &mut [f64], width: usize) {
    for i in (0..k).rev() {
        for j in i + 1..k {
            let l = lateral[j * k + i];
            if l != 0.0 {
                for m in 0..width {
                    z[i * width + m] += l * z[j * width + m];
                }
            }
        }
    }
}

/// The effective map `F = (I − L)⁻¹ W` (`k × n`): `f_i = w_i + Σ_{j<i} L_ij f_j`.
pub(super) fn effective_map<S: Scalar>(state: &[S], n: usize, k: usize) -> Vec<S> {
    let (w, lateral) = state.split_at(k * n);
    let mut f = w.to_vec();
    for i in 0..k {
        for j in 0..i {
            let l = lateral[i * k + j];
            for m in 0..n {
                let v = f[j * n + m];
                f[i * n + m] += l * v;
            }
        }
    }
    f
}

/// Zeroes `L_ij` for `j ≥ i` (the diagonal and above).
#[inline]
pub(super) fn mask_lateral<S: Scalar>(lateral: &mut [S], k: usize) {
    for i in 0..k {
        for v in &mut lateral[i * k + i..(i + 1) * k] {
            *v = S::zero();
        }
    }
}

/// The row-norm cap `r ← r · min(1, c/‖r‖)` on every row.
#[inline]
pub(super) fn cap_rows<S: Scalar>(m: &mut [S], width: usize, cap: f64) {
    for row in m.chunks_exact_mut(width) {
        let norm2 = row.iter().fold(S::zero(), |acc, &v| acc + v * v);
        if norm2.re() > cap * cap {
            let scale = S::from_f64(cap) / norm2.sqrt();
            row.iter_mut().for_each(|v| *v *= scale);
        }
    }
}

/// Reverse of [`cap_rows`] at the uncapped rows `u`: `λ_u = c/‖u‖ (λ − (λ·û) û)` for
/// every capped row.
#[inline]
pub(super) fn cap_rows_vjp(adjoint: &mut [f64], updated: &[f64], width: usize, cap: f64) {
    for (a, u) in adjoint
        .chunks_exact_mut(width)
        .zip(updated.chunks_exact(width))
    {
        let norm = u.iter().map(|v| v * v).sum::<f64>().sqrt();
        if norm > cap {
            let along: f64 = a.iter().zip(u).map(|(a, u)| a * u).sum::<f64>() / norm;
            for (a, u) in a.iter_mut().zip(u) {
                *a = cap / norm * (*a - along * u / norm);
            }
        }
    }
}

/// Gauss–Jordan inverse of a symmetric positive-definite `k × k` matrix (no pivoting).
pub(super) fn spd_inverse<S: Scalar>(g: &[S], k: usize) -> Vec<S> {
    let mut a = g.to_vec();
    let mut inv = vec![S::zero(); k * k];
    for i in 0..k {
        inv[i * k + i] = S::one();
    }
    for p in 0..k {
        let pivot = a[p * k + p];
        for c in 0..k {
            a[p * k + c] = a[p * k + c] / pivot;
            inv[p * k + c] = inv[p * k + c] / pivot;
        }
        for r in (0..k).filter(|&r| r != p) {
            let factor = a[r * k + p];
            for c in 0..k {
                let (ap, ip) = (a[p * k + c], inv[p * k + c]);
                a[r * k + c] -= factor * ap;
                inv[r * k + c] -= factor * ip;
            }
        }
    }
    inv
}

/// What the loss needs of `F`: `F C`, `G = F Fᵀ`, `G⁻¹`, `H = F C Fᵀ`.
pub(super) struct Moments<S> {
    pub(super) fc: Vec<S>,
    pub(super) g: Vec<S>,
    pub(super) g_inv: Vec<S>,
    pub(super) h: Vec<S>,
}

impl<S: Scalar> Moments<S> {
    pub(super) fn new(f: &[S], c: &[f64], n: usize, k: usize) -> Self {
        let mut fc = vec![S::zero(); k * n];
        for i in 0..k {
            for m in 0..n {
                let v = f[i * n + m];
                for (out, &cv) in fc[i * n..(i + 1) * n]
                    .iter_mut()
                    .zip(&c[m * n..(m + 1) * n])
                {
                    *out += v * S::from_f64(cv);
                }
            }
        }
        let dot = |a: &[S], b: &[S]| a.iter().zip(b).fold(S::zero(), |acc, (&u, &v)| acc + u * v);
        let (mut g, mut h) = (vec![S::zero(); k * k], vec![S::zero(); k * k]);
        for a in 0..k {
            for b in 0..k {
                g[a * k + b] = dot(&f[a * n..(a + 1) * n], &f[b * n..(b + 1) * n]);
                h[a * k + b] = dot(&fc[a * n..(a + 1) * n], &f[b * n..(b + 1) * n]);
            }
        }
        let g_inv = spd_inverse(&g, k);
        Moments { fc, g, g_inv, h }
    }

    /// `tr(G⁻¹ H)`, the variance captured by the row space of `F`.
    pub(super) fn captured(&self, k: usize) -> S {
        let mut total = S::zero();
        for a in 0..k {
            for b in 0..k {
                total += self.g_inv[a * k + b] * self.h[b * k + a];
            }
        }
        total
    }

    /// `1 − tr(G⁻¹ H)/optimum + ‖G − I‖²_F`.
    pub(super) fn loss(&self, k: usize, optimum: f64) -> S {
        let mut loss = S::one() - self.captured(k) / S::from_f64(optimum);
        for a in 0..k {
            for b in 0..k {
                let target = if a == b { 1.0 } else { 0.0 };
                let deviation = self.g[a * k + b] - S::from_f64(target);
                loss += deviation * deviation;
            }
        }
        loss
    }
}

impl Moments<f64> {
    /// `∂L/∂F = −(2/opt)(G⁻¹ F C − G⁻¹ H G⁻¹ F) + 4 (G − I) F`.
    pub(super) fn loss_gradient(&self, f: &[f64], n: usize, k: usize, optimum: f64) -> Vec<f64> {
        let mut b = vec![0.0; k * k]; // G⁻¹ H G⁻¹
        for r in 0..k {
            for c in 0..k {
                b[r * k + c] = (0..k)
                    .flat_map(|p| (0..k).map(move |q| (p, q)))
                    .map(|(p, q)| self.g_inv[r * k + p] * self.h[p * k + q] * self.g_inv[q * k + c])
                    .sum();
            }
        }
        let mut gradient = vec![0.0; k * n];
        let scale = -2.0 / optimum;
        for i in 0..k {
            let out = &mut gradient[i * n..(i + 1) * n];
            for a in 0..k {
                let (gi, bi) = (self.g_inv[i * k + a], b[i * k + a]);
                let orthonormal = 4.0 * (self.g[i * k + a] - if a == i { 1.0 } else { 0.0 });
                for m in 0..n {
                    out[m] += scale * (gi * self.fc[a * n + m] - bi * f[a * n + m])
                        + orthonormal * f[a * n + m];
                }
            }
        }
        gradient
    }
}
