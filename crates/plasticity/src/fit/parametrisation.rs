//! What the optimizer sees: the trainable coefficients, possibly in a better-conditioned
//! basis, mapped exactly to the rule's full parameter vector θ.
//!
//! With the **centred** basis each variable `v` is replaced by `ṽ = (v − μ_v)/s_v` and
//! each term `x^a y^b w^c r^d` by `p_a(x̃) p_b(ỹ) p_c(w̃) p_d(r̃)` with the Hermite-like
//! `p_0 = 1`, `p_1(ṽ) = ṽ`, `p_2(ṽ) = ṽ² − 1`. Then `θ = M φ` with `M` the Kronecker
//! product of one upper-triangular 3×3 matrix per variable. For a set of trainable terms
//! that is closed downwards (every term whose exponents are ≤ a trainable term's is
//! trainable too: all terms, a maximum degree, a variable set, `1,x,r,x*r`) the map
//! keeps every untrained coefficient exactly 0; other sets use the **scaled** basis
//! (`μ = 0`, `p_2 = ṽ²`: a diagonal `M`), which is exact for any set. Reports always
//! convert back to the canonical monomials.

use serde::{Deserialize, Serialize};

use crate::rule::{PlasticityRule, Rule, Term, TrainableSpec, Variables};

/// The basis the optimizer works in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Basis {
    /// The canonical monomials themselves.
    Canonical,
    /// Each variable scaled by its typical size (diagonal).
    Scaled,
    /// Each variable centred and scaled, Hermite-like products (falls back to `scaled`
    /// for a trainable set that is not closed downwards).
    #[default]
    Centred,
}

/// Typical value `μ` and scale `s` of each variable (x, y, w, r), measured on the data.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct VariableScales {
    /// Means in the order x, y, w, r.
    pub mean: [f64; 4],
    /// Standard deviations in the order x, y, w, r (non-positive values are taken as 1).
    pub std: [f64; 4],
}

impl Default for VariableScales {
    fn default() -> Self {
        VariableScales {
            mean: [0.0; 4],
            std: [1.0; 4],
        }
    }
}

/// The map `φ ↦ θ`: `θ = θ_fixed + scatter(M φ)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Parametrisation {
    n_parameters: usize,
    trainable: Vec<usize>,
    /// `M` is block-diagonal: the identity outside these blocks.
    blocks: Vec<BasisBlock>,
    fixed: Vec<f64>,
    basis: Basis,
}

/// One diagonal block of `M`: the trainable parameters `start..start + size`.
#[derive(Clone, Debug, PartialEq)]
struct BasisBlock {
    start: usize,
    size: usize,
    /// `M`, row-major `size × size`.
    matrix: Vec<f64>,
    /// `M⁻¹`, same layout.
    inverse: Vec<f64>,
}

/// `out = A v` (`transpose`: `Aᵀ v`) for a row-major `m × m` matrix `A`.
fn multiply(a: &[f64], v: &[f64], transpose: bool) -> Vec<f64> {
    let m = v.len();
    (0..m)
        .map(|row| {
            (0..m)
                .map(|col| {
                    let entry = if transpose {
                        a[col * m + row]
                    } else {
                        a[row * m + col]
                    };
                    entry * v[col]
                })
                .sum()
        })
        .collect()
}

/// Per-variable 3×3 matrices: `P[e][k]` is the coefficient of `v^e` in basis function
/// `p_k`, and its inverse.
fn variable_matrices(basis: Basis, mean: f64, std: f64) -> ([[f64; 3]; 3], [[f64; 3]; 3]) {
    let s = if std > 0.0 && std.is_finite() {
        std
    } else {
        1.0
    };
    match basis {
        Basis::Canonical => {
            let identity = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
            (identity, identity)
        }
        Basis::Scaled => (
            [
                [1.0, 0.0, 0.0],
                [0.0, 1.0 / s, 0.0],
                [0.0, 0.0, 1.0 / (s * s)],
            ],
            [[1.0, 0.0, 0.0], [0.0, s, 0.0], [0.0, 0.0, s * s]],
        ),
        Basis::Centred => {
            let m = mean;
            // p1 = (v − m)/s;  p2 = ((v − m)/s)² − 1
            let forward = [
                [1.0, -m / s, m * m / (s * s) - 1.0],
                [0.0, 1.0 / s, -2.0 * m / (s * s)],
                [0.0, 0.0, 1.0 / (s * s)],
            ];
            // 1 = p0;  v = m p0 + s p1;  v² = (m² + s²) p0 + 2 m s p1 + s² p2
            let inverse = [
                [1.0, m, m * m + s * s],
                [0.0, s, 2.0 * m * s],
                [0.0, 0.0, s * s],
            ];
            (forward, inverse)
        }
    }
}

impl Parametrisation {
    /// Every parameter trainable, identity map (the MLP rule).
    pub fn identity(n_parameters: usize) -> Self {
        Parametrisation {
            n_parameters,
            trainable: (0..n_parameters).collect(),
            blocks: Vec::new(),
            fixed: vec![0.0; n_parameters],
            basis: Basis::Canonical,
        }
    }

    /// The parameters in `trainable` optimized as they are (canonical basis); every
    /// other parameter stays at its value in `fixed` (used to profile one coefficient).
    pub fn subset(trainable: Vec<usize>, fixed: Vec<f64>) -> Self {
        let mut fixed = fixed;
        for &k in &trainable {
            fixed[k] = 0.0;
        }
        Parametrisation {
            n_parameters: fixed.len(),
            trainable,
            blocks: Vec::new(),
            fixed,
            basis: Basis::Canonical,
        }
    }

    /// What the optimizer sees of `rule`: for a Taylor rule the terms `trainable` names
    /// in `basis` (the others stay exactly 0); an MLP whole, in its own parameters.
    pub fn of_rule(
        rule: &Rule,
        trainable: &str,
        basis: Basis,
        scales: &VariableScales,
    ) -> crate::Result<Self> {
        Ok(match rule.as_taylor() {
            Some(taylor) => {
                let variables = taylor.variables();
                let mask = TrainableSpec::parse(trainable)?.mask(variables)?;
                let zeros = vec![0.0; variables.n_terms()];
                Parametrisation::taylor(variables, &mask, basis, scales, &zeros)
            }
            None => Parametrisation::identity(rule.n_parameters()),
        })
    }

    /// A Taylor rule's parametrisation: the terms where `mask` is true are trained in
    /// `basis`; the others stay at their value in `fixed` (normally 0).
    pub fn taylor(
        variables: Variables,
        mask: &[bool],
        basis: Basis,
        scales: &VariableScales,
        fixed: &[f64],
    ) -> Self {
        let n = variables.n_terms();
        let trainable: Vec<usize> = (0..n).filter(|&k| mask[k]).collect();
        let terms: Vec<Term> = trainable
            .iter()
            .map(|&k| Term::from_index(k, variables))
            .collect();
        let closed = terms.iter().all(|term| {
            (0..4).all(|v| {
                (0..term.exponents[v]).all(|lower| {
                    let mut exponents = term.exponents;
                    exponents[v] = lower;
                    terms.contains(&Term { exponents })
                })
            })
        });
        let basis = match basis {
            Basis::Centred if !closed => Basis::Scaled,
            other => other,
        };
        let mut fixed = fixed.to_vec();
        for &k in &trainable {
            fixed[k] = 0.0;
        }
        let blocks = if basis == Basis::Canonical {
            Vec::new()
        } else {
            let per_variable: Vec<_> = (0..4)
                .map(|v| variable_matrices(basis, scales.mean[v], scales.std[v]))
                .collect();
            let m = terms.len();
            let mut matrix = vec![0.0; m * m];
            let mut inverse = vec![0.0; m * m];
            for (row, e) in terms.iter().enumerate() {
                for (col, k) in terms.iter().enumerate() {
                    let (mut forward, mut backward) = (1.0, 1.0);
                    for (v, (p, q)) in per_variable.iter().enumerate() {
                        let (a, b) = (e.exponents[v] as usize, k.exponents[v] as usize);
                        forward *= p[a][b];
                        backward *= q[a][b];
                    }
                    matrix[row * m + col] = forward;
                    inverse[row * m + col] = backward;
                }
            }
            vec![BasisBlock {
                start: 0,
                size: m,
                matrix,
                inverse,
            }]
        };
        Parametrisation {
            n_parameters: n,
            trainable,
            blocks,
            fixed,
            basis,
        }
    }

    /// The basis actually used.
    pub fn basis(&self) -> Basis {
        self.basis
    }

    /// Indices of the trainable parameters in θ.
    pub fn trainable(&self) -> &[usize] {
        &self.trainable
    }

    /// Number of optimized parameters φ.
    pub fn n_free(&self) -> usize {
        self.trainable.len()
    }

    /// `θ = θ_fixed + scatter(M φ)`.
    pub fn theta(&self, phi: &[f64]) -> Vec<f64> {
        let mut theta = self.fixed.clone();
        let mut free = phi.to_vec();
        for block in &self.blocks {
            let range = block.start..block.start + block.size;
            let mapped = multiply(&block.matrix, &phi[range.clone()], false);
            free[range].copy_from_slice(&mapped);
        }
        for (&k, &value) in self.trainable.iter().zip(&free) {
            theta[k] = value;
        }
        theta
    }

    /// `φ = M⁻¹ gather(θ)` (the trainable part of θ in the optimizer's basis).
    pub fn phi(&self, theta: &[f64]) -> Vec<f64> {
        let mut phi: Vec<f64> = self.trainable.iter().map(|&k| theta[k]).collect();
        for block in &self.blocks {
            let range = block.start..block.start + block.size;
            let mapped = multiply(&block.inverse, &phi[range.clone()], false);
            phi[range].copy_from_slice(&mapped);
        }
        phi
    }

    /// Chain rule: `∂L/∂φ = Mᵀ gather(∂L/∂θ)`.
    pub fn pullback(&self, theta_gradient: &[f64]) -> Vec<f64> {
        let mut gathered: Vec<f64> = self.trainable.iter().map(|&k| theta_gradient[k]).collect();
        for block in &self.blocks {
            let range = block.start..block.start + block.size;
            let mapped = multiply(&block.matrix, &gathered[range.clone()], true);
            gathered[range].copy_from_slice(&mapped);
        }
        gathered
    }

    /// The parametrisations of consecutive parts of θ, side by side: `θ = (θ₁, θ₂, …)`
    /// and `φ = (φ₁, φ₂, …)`, `M` block-diagonal. The basis reported is the first
    /// part's that is not canonical.
    pub fn concatenate(parts: &[Parametrisation]) -> Self {
        let mut out = Parametrisation {
            n_parameters: 0,
            trainable: Vec::new(),
            blocks: Vec::new(),
            fixed: Vec::new(),
            basis: parts
                .iter()
                .map(|p| p.basis)
                .find(|&b| b != Basis::Canonical)
                .unwrap_or(Basis::Canonical),
        };
        for part in parts {
            let (offset, free_offset) = (out.n_parameters, out.trainable.len());
            out.trainable
                .extend(part.trainable.iter().map(|&k| k + offset));
            out.blocks.extend(part.blocks.iter().map(|b| BasisBlock {
                start: b.start + free_offset,
                ..b.clone()
            }));
            out.fixed.extend_from_slice(&part.fixed);
            out.n_parameters += part.n_parameters;
        }
        out
    }

    /// The same map after the diagonal change of variables `φ = D ψ`,
    /// `D = diag(scale)`: `θ = θ_fixed + scatter(M D ψ)`. With `scale_k = 1/√H_kk` for
    /// the loss's curvature `H` in φ, every ψ has unit curvature (Jacobi
    /// preconditioning).
    pub fn rescaled(&self, scale: &[f64]) -> Parametrisation {
        let mut out = self.clone();
        let mut covered = vec![false; self.n_free()];
        for block in &mut out.blocks {
            let m = block.size;
            for row in 0..m {
                for col in 0..m {
                    block.matrix[row * m + col] *= scale[block.start + col];
                    block.inverse[row * m + col] /= scale[block.start + row];
                }
                covered[block.start + row] = true;
            }
        }
        for (k, _) in covered.iter().enumerate().filter(|(_, &c)| !c) {
            out.blocks.push(BasisBlock {
                start: k,
                size: 1,
                matrix: vec![scale[k]],
                inverse: vec![1.0 / scale[k]],
            });
        }
        out
    }

    /// Length of θ.
    pub fn n_parameters(&self) -> usize {
        self.n_parameters
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::{PlasticityRule, TaylorRule, TrainableSpec};

    fn scales() -> VariableScales {
        VariableScales {
            mean: [0.1, 0.5, -0.02, 0.3],
            std: [0.3, 0.08, 0.1, 0.4],
        }
    }

    #[test]
    fn concatenated_parametrisations_act_block_by_block() {
        let mask: Vec<bool> = (0..27).map(|k| k % 9 < 6).collect();
        let first =
            Parametrisation::taylor(Variables::Xyw, &mask, Basis::Centred, &scales(), &[0.0; 27]);
        let second = Parametrisation::identity(4);
        let third = Parametrisation::taylor(
            Variables::Xyw,
            &[true; 27],
            Basis::Scaled,
            &scales(),
            &[0.0; 27],
        );
        let joint = Parametrisation::concatenate(&[first.clone(), second.clone(), third.clone()]);
        assert_eq!(joint.n_parameters(), 58);
        let phi: Vec<f64> = (0..joint.n_free())
            .map(|k| ((k * 13 % 7) as f64 - 3.0) / 5.0)
            .collect();
        let (a, rest) = phi.split_at(first.n_free());
        let (b, c) = rest.split_at(4);
        let expected: Vec<f64> = [first.theta(a), second.theta(b), third.theta(c)].concat();
        assert_eq!(joint.theta(&phi), expected);
        let back = joint.phi(&expected);
        for (x, y) in back.iter().zip(&phi) {
            assert!((x - y).abs() < 1e-9, "{x} vs {y}");
        }
        let gradient: Vec<f64> = (0..58).map(|k| (k as f64).sin()).collect();
        let pulled = [
            first.pullback(&gradient[..27]),
            second.pullback(&gradient[27..31]),
            third.pullback(&gradient[31..]),
        ]
        .concat();
        assert_eq!(joint.pullback(&gradient), pulled);
    }

    #[test]
    fn rescaling_is_a_diagonal_change_of_the_free_parameters() {
        let mask: Vec<bool> = (0..27).map(|k| k % 9 < 6).collect();
        let taylor =
            Parametrisation::taylor(Variables::Xyw, &mask, Basis::Centred, &scales(), &[0.0; 27]);
        let p = Parametrisation::concatenate(&[taylor, Parametrisation::identity(3)]);
        let scale: Vec<f64> = (0..p.n_free()).map(|k| 0.5 + k as f64 / 7.0).collect();
        let q = p.rescaled(&scale);
        let psi: Vec<f64> = (0..p.n_free())
            .map(|k| ((k * 5 % 11) as f64 - 5.0) / 3.0)
            .collect();
        let phi: Vec<f64> = psi.iter().zip(&scale).map(|(a, d)| a * d).collect();
        let (a, b) = (q.theta(&psi), p.theta(&phi));
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-12 * (1.0 + y.abs()), "{x} vs {y}");
        }
        for (x, y) in q.phi(&b).iter().zip(&psi) {
            assert!((x - y).abs() < 1e-9, "{x} vs {y}");
        }
        let gradient: Vec<f64> = (0..30).map(|k| (k as f64).cos()).collect();
        let expected: Vec<f64> = p
            .pullback(&gradient)
            .iter()
            .zip(&scale)
            .map(|(g, d)| g * d)
            .collect();
        for (x, y) in q.pullback(&gradient).iter().zip(&expected) {
            assert!((x - y).abs() < 1e-12 * (1.0 + y.abs()));
        }
    }

    #[test]
    fn centred_basis_represents_the_same_function() {
        let variables = Variables::Xywr;
        let mask = vec![true; 81];
        let p = Parametrisation::taylor(variables, &mask, Basis::Centred, &scales(), &[0.0; 81]);
        let phi: Vec<f64> = (0..81)
            .map(|k| ((k * 37 % 11) as f64 - 5.0) / 7.0)
            .collect();
        let theta = p.theta(&phi);
        let rule = TaylorRule::new(variables);
        let s = scales();
        for (x, y, w, r) in [(0.3, 0.6, -0.1, 0.5), (-0.2, 0.45, 0.2, -0.7)] {
            let direct = rule.evaluate(&theta, x, y, w, r);
            let values = [x, y, w, r];
            let mut in_basis = 0.0;
            for (k, &coefficient) in phi.iter().enumerate() {
                let term = Term::from_index(k, variables);
                let mut product = coefficient;
                for v in 0..4 {
                    let t = (values[v] - s.mean[v]) / s.std[v];
                    product *= [1.0, t, t * t - 1.0][term.exponents[v] as usize];
                }
                in_basis += product;
            }
            assert!((direct - in_basis).abs() < 1e-10, "{direct} vs {in_basis}");
        }
        // round trip
        let back = p.phi(&theta);
        for (a, b) in back.iter().zip(&phi) {
            assert!((a - b).abs() < 1e-9);
        }
    }

    #[test]
    fn untrained_terms_stay_zero_for_closed_and_open_sets() {
        for (spec, expected_basis) in [
            ("1,x,r,x*r,w", Basis::Centred),
            ("x*y,y^2*w", Basis::Scaled),
        ] {
            let mask = TrainableSpec::parse(spec)
                .and_then(|s| s.mask(Variables::Xywr))
                .expect("valid spec");
            let p = Parametrisation::taylor(
                Variables::Xywr,
                &mask,
                Basis::Centred,
                &scales(),
                &[0.0; 81],
            );
            assert_eq!(p.basis(), expected_basis);
            let phi: Vec<f64> = (0..p.n_free()).map(|k| 1.0 + k as f64).collect();
            let theta = p.theta(&phi);
            for k in 0..81 {
                if !mask[k] {
                    assert_eq!(theta[k], 0.0, "{spec}: term {k} must stay 0");
                }
            }
            // pullback is the transpose: <∇θ, M δφ> = <Mᵀ ∇θ, δφ>
            let gradient: Vec<f64> = (0..81).map(|k| (k as f64).sin()).collect();
            let pulled = p.pullback(&gradient);
            let delta: Vec<f64> = (0..p.n_free()).map(|k| (k as f64 * 0.7).cos()).collect();
            let moved = p.theta(&delta);
            let lhs: f64 = gradient.iter().zip(&moved).map(|(g, m)| g * m).sum();
            let rhs: f64 = pulled.iter().zip(&delta).map(|(g, d)| g * d).sum();
            assert!((lhs - rhs).abs() < 1e-9 * lhs.abs().max(1.0));
        }
    }
}
