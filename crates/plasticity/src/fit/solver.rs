//! Which solver a least-squares fit runs: the choice every data kind shares.

use serde::{Deserialize, Serialize};

/// The optimizer of a fit whose loss is a mean of squared residuals (docs/model.md §3.1
/// neural recordings and circuit recordings).
///
/// Levenberg–Marquardt minimises `L(θ) = 1/N Σ r(θ)²` by solving
/// `(JᵀJ + λ diag JᵀJ) δ = −Jᵀr` with `J = ∂r/∂θ` from one forward-mode pass of the
/// network engine; it applies to the rules' θ only, without an L1 or L2 penalty and
/// without Adam. L-BFGS runs on the adjoint gradient and takes every penalty.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Solver {
    /// Levenberg–Marquardt where it applies, L-BFGS (or the Adam asked for) otherwise.
    #[default]
    Auto,
    /// Levenberg–Marquardt (an error where it does not apply).
    LevenbergMarquardt,
    /// L-BFGS on the adjoint gradient (or Adam, where `optimizer` asks for it).
    Lbfgs,
}

impl Solver {
    /// The name used in settings and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Solver::Auto => "auto",
            Solver::LevenbergMarquardt => "levenberg-marquardt",
            Solver::Lbfgs => "lbfgs",
        }
    }
}
