//! The normal equations of a least-squares problem, as the engine's forward-mode
//! pass accumulates them and Levenberg–Marquardt solves them.

/// The Gauss–Newton pieces of a squared error `Σ r²`: the error, `JᵀJ` and `Jᵀr`.
#[derive(Clone, Debug, PartialEq)]
pub struct GaussNewtonSystem {
    /// `Σ r²`.
    pub sse: f64,
    /// Number of residuals.
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
}
