//! The normal equations of a least-squares problem, as the engine's forward-mode
//! pass accumulates them and Levenberg–Marquardt solves them.

/// The Gauss–Newton pieces of a squared error `Σ r²`: the error, `JᵀJ` and `Jᵀr` (or,
/// for a likelihood, the loss, its Fisher information and its gradient: see
/// [`crate::optim::levenberg_marquardt::LossModel`]).
#[derive(Clone, Debug, PartialEq)]
pub struct GaussNewtonSystem {
    /// `Σ r²` (the loss the system models, once normalised).
    pub sse: f64,
    /// Number of residuals (observations).
    pub residuals: usize,
    /// `JᵀJ`, `A × A` row-major (only its upper triangle is accumulated; see
    /// [`GaussNewtonSystem::symmetrise`]).
    pub normal: Vec<f64>,
    /// `Jᵀr`.
    pub gradient: Vec<f64>,
}

impl GaussNewtonSystem {
    /// An empty system over `n` parameters.
    pub fn zeros(n: usize) -> Self {
        GaussNewtonSystem {
            sse: 0.0,
            residuals: 0,
            normal: vec![0.0; n * n],
            gradient: vec![0.0; n],
        }
    }

    /// Number of parameters.
    pub fn n_parameters(&self) -> usize {
        self.gradient.len()
    }

    /// Adds `other` (the same parameters) into `self`.
    pub fn add(&mut self, other: &GaussNewtonSystem) {
        self.sse += other.sse;
        self.residuals += other.residuals;
        for (a, b) in self.normal.iter_mut().zip(&other.normal) {
            *a += b;
        }
        for (a, b) in self.gradient.iter_mut().zip(&other.gradient) {
            *a += b;
        }
    }

    /// Copies the accumulated upper triangle of `JᵀJ` into its lower triangle.
    pub fn symmetrise(&mut self) {
        let n = self.n_parameters();
        for a in 0..n {
            for b in 0..a {
                self.normal[a * n + b] = self.normal[b * n + a];
            }
        }
    }

    /// Adds one residual `r` with its row `∂r/∂θ`.
    #[inline]
    pub fn add_residual(&mut self, residual: f64, row: &[f64]) {
        let n = row.len();
        self.sse += residual * residual;
        self.residuals += 1;
        for (g, &d) in self.gradient.iter_mut().zip(row) {
            *g += residual * d;
        }
        for (a, &ra) in row.iter().enumerate() {
            if ra == 0.0 {
                continue;
            }
            for (entry, &rb) in self.normal[a * n + a..(a + 1) * n]
                .iter_mut()
                .zip(&row[a..])
            {
                *entry += ra * rb;
            }
        }
    }

    /// Adds one observation's row `∂η/∂θ` of a likelihood: `score · row` to the
    /// gradient and `weight · row rowᵀ` to (the upper triangle of) the normal matrix.
    /// With `score = (p − y)` and `weight = p(1 − p)` for a Bernoulli logit `η`, this
    /// is [`GaussNewtonSystem::add_residual`] of the working residual
    /// `(p − y)/√(p(1−p))` with the row `√(p(1−p)) ∂η/∂θ`, written so that a
    /// saturated `p(1 − p) = 0` still adds its score. The loss is not touched.
    #[inline]
    pub fn add_scored_row(&mut self, score: f64, weight: f64, row: &[f64]) {
        self.residuals += 1;
        self.add_scored_term(score, weight, row);
    }

    /// [`GaussNewtonSystem::add_scored_row`] without counting an observation: one
    /// option of an observation whose score and information are sums over several
    /// rows (a choice among several options; the caller counts the choice once).
    pub fn add_scored_term(&mut self, score: f64, weight: f64, row: &[f64]) {
        let n = row.len();
        for (g, &d) in self.gradient.iter_mut().zip(row) {
            *g += score * d;
        }
        for (a, &ra) in row.iter().enumerate() {
            let va = weight * ra;
            if va == 0.0 {
                continue;
            }
            for (entry, &rb) in self.normal[a * n + a..(a + 1) * n]
                .iter_mut()
                .zip(&row[a..])
            {
                *entry += va * rb;
            }
        }
    }

    /// The system in other variables `φ` where `θ = A φ + b` (linear), given
    /// `pullback(v) = Aᵀ v` for a vector `v` over this system's parameters: `Aᵀ g` and
    /// `Aᵀ H A` (symmetric `H`), the loss and the count unchanged.
    pub fn pulled_back(&self, pullback: impl Fn(&[f64]) -> Vec<f64>) -> GaussNewtonSystem {
        let n = self.n_parameters();
        // row c: (Aᵀ H)[:, c] (H symmetric)
        let half: Vec<Vec<f64>> = (0..n)
            .map(|c| pullback(&self.normal[c * n..(c + 1) * n]))
            .collect();
        let m = half.first().map_or(0, Vec::len);
        let mut normal = vec![0.0; m * m];
        for a in 0..m {
            let row: Vec<f64> = half.iter().map(|column| column[a]).collect();
            normal[a * m..(a + 1) * m].copy_from_slice(&pullback(&row));
        }
        GaussNewtonSystem {
            sse: self.sse,
            residuals: self.residuals,
            normal,
            gradient: pullback(&self.gradient),
        }
    }
}
