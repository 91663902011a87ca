//! The truncated Taylor-series rule and its gradient (docs/model.md §2.1):
//! `g_θ(x, y, w, r) = Σ_{a,b,c,d ∈ {0,1,2}} θ_abcd x^a y^b w^c r^d`.
//!
//! The layer kernel is factorised. The reward is global, so it is folded first:
//! `t_abc = Σ_d θ_abcd r^d`. Per postsynaptic row `i`, `B_ac = Σ_b t_abc y_i^b`; per
//! synapse `C_c = Σ_a B_ac x_j^a` and `g = C_0 + w (C_1 + w C_2)`: about ten
//! multiply-adds per synapse instead of a pass per term.

use super::{LayerState, PlasticityRule, Variables};
use crate::scalar::Scalar;

/// The Taylor rule over (x, y, w) (27 terms) or (x, y, w, r) (81 terms).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaylorRule {
    variables: Variables,
}

impl TaylorRule {
    /// A Taylor rule over the given variables.
    pub fn new(variables: Variables) -> Self {
        TaylorRule { variables }
    }
}

/// Folds the reward into the coefficients: `t[a][b][c] = Σ_d θ_abcd r^d`.
#[inline(always)]
fn fold_reward<S: Scalar>(variables: Variables, theta: &[S], reward: S) -> [[[S; 3]; 3]; 3] {
    let mut folded = [[[S::zero(); 3]; 3]; 3];
    match variables {
        Variables::Xyw => {
            for (k, value) in theta.iter().take(27).enumerate() {
                folded[k / 9][(k / 3) % 3][k % 3] = *value;
            }
        }
        Variables::Xywr => {
            let r2 = reward * reward;
            for k in 0..27 {
                let base = 3 * k;
                folded[k / 9][(k / 3) % 3][k % 3] =
                    theta[base] + theta[base + 1] * reward + theta[base + 2] * r2;
            }
        }
    }
    folded
}

/// Independent partial sums per reduction in the gradient kernel.
const LANES: usize = 2;

/// The moments one synapse adds to the θ adjoint: `λ x^a w^c` at index `3a + c`.
#[inline(always)]
fn synapse_moments<S: Scalar>(lambda: S, w: S, x: S, x2: S) -> [S; 9] {
    let w2 = w * w;
    let lx = lambda * x;
    let lx2 = lambda * x2;
    [
        lambda,
        lambda * w,
        lambda * w2,
        lx,
        lx * w,
        lx * w2,
        lx2,
        lx2 * w,
        lx2 * w2,
    ]
}

/// One synapse of the update's vector-Jacobian product: with `C_c = Σ_a B_ac x^a`
/// and `λ` the adjoint of the updated weight, the adjoint of the old weight
/// `λ (1 + C_1 + 2 C_2 w)`.
#[inline(always)]
fn synapse_adjoint<S: Scalar>(lambda: S, w: S, x: S, x2: S, b: &[[S; 3]; 3], two: S) -> S {
    let c1 = b[0][1] + b[1][1] * x + b[2][1] * x2;
    let c2 = b[0][2] + b[1][2] * x + b[2][2] * x2;
    lambda + lambda * (c1 + two * c2 * w)
}

/// What the forward modes of one postsynaptic row share: `B_ac = η Σ_b t_abc y^b` and
/// `B'_ac = ∂B_ac/∂y`, and for each active term its factor `η y^b r^d` and where its
/// `x^a w^c` sits (`3a + c`).
struct RowFactors {
    b: [[f64; 3]; 3],
    db: [[f64; 3]; 3],
    factor: [f64; 81],
    xw_index: [usize; 81],
}

impl RowFactors {
    #[inline(always)]
    fn new(
        variables: Variables,
        theta: &[f64],
        layer: LayerState<'_, f64>,
        active: &[usize],
    ) -> Self {
        let r = layer.reward;
        let t = fold_reward(variables, theta, r);
        let y = layer.post[0];
        let y2 = y * y;
        let eta = layer.learning_rate;
        let mut b = [[0.0; 3]; 3];
        let mut db = [[0.0; 3]; 3];
        for a in 0..3 {
            for c in 0..3 {
                b[a][c] = eta * (t[a][0][c] + t[a][1][c] * y + t[a][2][c] * y2);
                db[a][c] = eta * (t[a][1][c] + 2.0 * t[a][2][c] * y);
            }
        }
        let eta_y = [eta, eta * y, eta * y2];
        let reward_powers = [1.0, r, r * r];
        let mut factor = [0.0; 81];
        let mut xw_index = [0usize; 81];
        for (slot, &k) in active.iter().enumerate() {
            let (monomial, d) = match variables {
                Variables::Xyw => (k, 0),
                Variables::Xywr => (k / 3, k % 3),
            };
            let (a, bb, c) = (monomial / 9, (monomial / 3) % 3, monomial % 3);
            factor[slot] = eta_y[bb] * reward_powers[d];
            xw_index[slot] = 3 * a + c;
        }
        RowFactors {
            b,
            db,
            factor,
            xw_index,
        }
    }
}

impl PlasticityRule for TaylorRule {
    fn n_parameters(&self) -> usize {
        self.variables.n_terms()
    }

    fn variables(&self) -> Variables {
        self.variables
    }

    fn scratch_len(&self, n_pre: usize) -> usize {
        n_pre
    }

    fn update<S: Scalar>(
        &self,
        theta: &[S],
        layer: LayerState<'_, S>,
        weights: &mut [S],
        scratch: &mut [S],
    ) {
        let n_pre = layer.pre.len();
        let t = fold_reward(self.variables, theta, layer.reward);
        let x = layer.pre;
        let x_squared = &mut scratch[..n_pre];
        for (sq, &xj) in x_squared.iter_mut().zip(x) {
            *sq = xj * xj;
        }
        let eta = layer.learning_rate;
        for (row, &y) in weights.chunks_exact_mut(n_pre).zip(layer.post) {
            let y2 = y * y;
            // η B_ac = η Σ_b t_abc y^b
            let mut b = [[S::zero(); 3]; 3];
            for a in 0..3 {
                for c in 0..3 {
                    b[a][c] = eta * (t[a][0][c] + t[a][1][c] * y + t[a][2][c] * y2);
                }
            }
            for ((w, &xj), &xj2) in row.iter_mut().zip(x).zip(x_squared.iter()) {
                let c0 = b[0][0] + b[1][0] * xj + b[2][0] * xj2;
                let c1 = b[0][1] + b[1][1] * xj + b[2][1] * xj2;
                let c2 = b[0][2] + b[1][2] * xj + b[2][2] * xj2;
                let wv = *w;
                *w = wv + c0 + wv * (c1 + wv * c2);
            }
        }
    }

    /// `∂g/∂x = Σ_c (B_1c + 2 B_2c x) w^c` with `B_ac` as in `update`.
    fn update_vjp_pre(
        &self,
        theta: &[f64],
        layer: LayerState<'_, f64>,
        weights_before: &[f64],
        weights_adjoint: &[f64],
        pre_adjoint: &mut [f64],
    ) {
        let n_pre = layer.pre.len();
        let t = fold_reward(self.variables, theta, layer.reward);
        let eta = layer.learning_rate;
        for ((row, lambda_row), &y) in weights_before
            .chunks_exact(n_pre)
            .zip(weights_adjoint.chunks_exact(n_pre))
            .zip(layer.post)
        {
            let y2 = y * y;
            let mut b = [[0.0; 3]; 3];
            for a in 1..3 {
                for c in 0..3 {
                    b[a][c] = eta * (t[a][0][c] + t[a][1][c] * y + t[a][2][c] * y2);
                }
            }
            for (((&w, &lambda), &x), x_bar) in row
                .iter()
                .zip(lambda_row)
                .zip(layer.pre)
                .zip(pre_adjoint.iter_mut())
            {
                let d0 = b[1][0] + 2.0 * b[2][0] * x;
                let d1 = b[1][1] + 2.0 * b[2][1] * x;
                let d2 = b[1][2] + 2.0 * b[2][2] * x;
                *x_bar += lambda * (d0 + w * (d1 + w * d2));
            }
        }
    }

    fn update_vjp<S: Scalar>(
        &self,
        theta: &[S],
        layer: LayerState<'_, S>,
        weights_before: &[S],
        weights_adjoint: &mut [S],
        post_adjoint: &mut [S],
        theta_adjoint: &mut [S],
        scratch: &mut [S],
    ) {
        let n_pre = layer.pre.len();
        let r = layer.reward;
        let t = fold_reward(self.variables, theta, r);
        let x = layer.pre;
        let x_squared = &mut scratch[..n_pre];
        for (sq, &xj) in x_squared.iter_mut().zip(x) {
            *sq = xj * xj;
        }
        let eta = layer.learning_rate;
        let two = S::from_f64(2.0);
        // Σ_i y_i^b S^{(i)}_ac, the θ adjoint before the reward powers: tb[a][b][c].
        let mut folded_adjoint = [[[S::zero(); 3]; 3]; 3];
        for (((w_row, lambda_row), &y), y_adjoint) in weights_before
            .chunks_exact(n_pre)
            .zip(weights_adjoint.chunks_exact_mut(n_pre))
            .zip(layer.post)
            .zip(post_adjoint.iter_mut())
        {
            let y2 = y * y;
            // B_ac (for ∂g/∂w) and B'_ac = ∂B_ac/∂y (for ∂g/∂y), both times η.
            let mut b = [[S::zero(); 3]; 3];
            let mut db = [[S::zero(); 3]; 3];
            for a in 0..3 {
                for c in 0..3 {
                    b[a][c] = eta * (t[a][0][c] + t[a][1][c] * y + t[a][2][c] * y2);
                    db[a][c] = eta * (t[a][1][c] + two * t[a][2][c] * y);
                }
            }
            // Two passes over the row, each with few live values (the registers of a
            // baseline x86-64 CPU do not hold both): first the moments
            // s[a][c] = Σ_j λ_ij x_j^a w_ij^c of the old adjoint, then the new
            // adjoint. Sums run in LANES fixed partial sums (the same order on every
            // machine) that the compiler keeps in vector registers.
            let n_main = n_pre - n_pre % LANES;
            let mut moments = [[S::zero(); LANES]; 9];
            for (((lambdas, ws), xs), xs2) in lambda_row[..n_main]
                .chunks_exact(LANES)
                .zip(w_row[..n_main].chunks_exact(LANES))
                .zip(x[..n_main].chunks_exact(LANES))
                .zip(x_squared[..n_main].chunks_exact(LANES))
            {
                for lane in 0..LANES {
                    let terms = synapse_moments(lambdas[lane], ws[lane], xs[lane], xs2[lane]);
                    for (sum, term) in moments.iter_mut().zip(terms) {
                        sum[lane] += term;
                    }
                }
            }
            for (((lambdas, ws), xs), xs2) in lambda_row[..n_main]
                .chunks_exact_mut(LANES)
                .zip(w_row[..n_main].chunks_exact(LANES))
                .zip(x[..n_main].chunks_exact(LANES))
                .zip(x_squared[..n_main].chunks_exact(LANES))
            {
                for lane in 0..LANES {
                    lambdas[lane] =
                        synapse_adjoint(lambdas[lane], ws[lane], xs[lane], xs2[lane], &b, two);
                }
            }
            for j in n_main..n_pre {
                let terms = synapse_moments(lambda_row[j], w_row[j], x[j], x_squared[j]);
                for (sum, term) in moments.iter_mut().zip(terms) {
                    sum[0] += term;
                }
                lambda_row[j] =
                    synapse_adjoint(lambda_row[j], w_row[j], x[j], x_squared[j], &b, two);
            }
            let total = |lanes: &[S; LANES]| lanes.iter().fold(S::zero(), |acc, &v| acc + v);
            let mut s = [[S::zero(); 3]; 3];
            for (a, row) in s.iter_mut().enumerate() {
                for (c, value) in row.iter_mut().enumerate() {
                    *value = total(&moments[3 * a + c]);
                }
            }
            // ∂L/∂y_i = Σ_j λ_ij Σ_ac B'_ac x_j^a w_ij^c = Σ_ac B'_ac s[a][c]: the
            // moments already hold it, no second sum over the row.
            let mut dy = S::zero();
            for a in 0..3 {
                for c in 0..3 {
                    dy += db[a][c] * s[a][c];
                }
            }
            *y_adjoint += dy;
            let powers = [S::one(), y, y2];
            for a in 0..3 {
                for (bb, power) in powers.iter().enumerate() {
                    for c in 0..3 {
                        folded_adjoint[a][bb][c] += s[a][c] * *power;
                    }
                }
            }
        }
        match self.variables {
            Variables::Xyw => {
                for (k, adjoint) in theta_adjoint.iter_mut().take(27).enumerate() {
                    *adjoint += eta * folded_adjoint[k / 9][(k / 3) % 3][k % 3];
                }
            }
            Variables::Xywr => {
                let r_powers = [S::one(), r, r * r];
                for k in 0..27 {
                    let value = eta * folded_adjoint[k / 9][(k / 3) % 3][k % 3];
                    for (d, power) in r_powers.iter().enumerate() {
                        theta_adjoint[3 * k + d] += value * *power;
                    }
                }
            }
        }
    }

    fn evaluate<S: Scalar>(&self, theta: &[S], x: S, y: S, w: S, r: S) -> S {
        let powers = |v: S| [S::one(), v, v * v];
        let (px, py, pw, pr) = (powers(x), powers(y), powers(w), powers(r));
        let mut total = S::zero();
        for (k, &coefficient) in theta.iter().enumerate().take(self.variables.n_terms()) {
            let term = super::Term::from_index(k, self.variables);
            let [a, b, c, d] = term.exponents.map(usize::from);
            total += coefficient * px[a] * py[b] * pw[c] * pr[d];
        }
        total
    }

    fn tangent_scratch_len(&self) -> usize {
        0
    }

    /// Forward mode from the factorised form: per row `B_ac = η Σ_b t_abc y^b` and
    /// `B'_ac = ∂B_ac/∂y`; per synapse `∂g/∂w = C_1 + 2 C_2 w` (`C_c = Σ_a B_ac x^a`),
    /// `∂g/∂y = Σ_ac B'_ac x^a w^c`, and `η ∂g/∂θ_abc(d) = η x^a y^b w^c (r^d)`.
    #[allow(clippy::too_many_arguments)]
    fn row_tangents(
        &self,
        theta: &[f64],
        layer: LayerState<'_, f64>,
        weights_row: &[f64],
        tangents_row: &mut [f64],
        post_tangent: &[f64],
        active: &[usize],
        _scratch: &mut [f64],
    ) {
        let RowFactors {
            b,
            db,
            factor,
            xw_index,
        } = RowFactors::new(self.variables, theta, layer, active);
        let n_active = active.len();
        let (factor, xw_index) = (&factor[..n_active], &xw_index[..n_active]);
        for ((&x, &w), tangent) in layer
            .pre
            .iter()
            .zip(weights_row)
            .zip(tangents_row.chunks_exact_mut(n_active))
        {
            let xp = [1.0, x, x * x];
            let wp = [1.0, w, w * w];
            let c1 = b[0][1] + b[1][1] * xp[1] + b[2][1] * xp[2];
            let c2 = b[0][2] + b[1][2] * xp[1] + b[2][2] * xp[2];
            let along = 1.0 + c1 + 2.0 * c2 * w;
            let mut xw = [0.0; 9];
            let mut through_y = 0.0;
            for a in 0..3 {
                for c in 0..3 {
                    xw[3 * a + c] = xp[a] * wp[c];
                    through_y += db[a][c] * xw[3 * a + c];
                }
            }
            for (((s, &f), &i), &dy) in tangent
                .iter_mut()
                .zip(factor)
                .zip(xw_index)
                .zip(post_tangent)
            {
                *s = along * *s + f * xw[i] + through_y * dy;
            }
        }
    }

    fn partials_scratch_len(&self) -> usize {
        0
    }

    /// From the factorised form as in [`row_tangents`](Self::row_tangents), plus
    /// `η ∂g/∂x = Σ_c (B_1c + 2 B_2c x) w^c`.
    fn row_partials(
        &self,
        theta: &[f64],
        layer: LayerState<'_, f64>,
        weights_row: &[f64],
        active: &[usize],
        partials: &mut [f64],
        _scratch: &mut [f64],
    ) {
        let RowFactors {
            b,
            db,
            factor,
            xw_index,
        } = RowFactors::new(self.variables, theta, layer, active);
        let n_active = active.len();
        let (factor, xw_index) = (&factor[..n_active], &xw_index[..n_active]);
        for ((&x, &w), out) in layer
            .pre
            .iter()
            .zip(weights_row)
            .zip(partials.chunks_exact_mut(super::PARTIALS_HEAD + n_active))
        {
            let xp = [1.0, x, x * x];
            let wp = [1.0, w, w * w];
            let c1 = b[0][1] + b[1][1] * xp[1] + b[2][1] * xp[2];
            let c2 = b[0][2] + b[1][2] * xp[1] + b[2][2] * xp[2];
            let mut xw = [0.0; 9];
            let mut through_y = 0.0;
            for a in 0..3 {
                for c in 0..3 {
                    xw[3 * a + c] = xp[a] * wp[c];
                    through_y += db[a][c] * xw[3 * a + c];
                }
            }
            let d0 = b[1][0] + 2.0 * b[2][0] * x;
            let d1 = b[1][1] + 2.0 * b[2][1] * x;
            let d2 = b[1][2] + 2.0 * b[2][2] * x;
            let (head, terms) = out.split_at_mut(super::PARTIALS_HEAD);
            head[0] = c1 + 2.0 * c2 * w;
            head[1] = through_y;
            head[2] = d0 + w * (d1 + w * d2);
            for ((o, &f), &i) in terms.iter_mut().zip(factor).zip(xw_index) {
                *o = f * xw[i];
            }
        }
    }
}
