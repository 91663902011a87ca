//! What a selection reports: each candidate term set's scores, the L1 path, and the
//! ranking.

use serde::{Deserialize, Serialize};

/// The scores of one term set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CandidateScore {
    /// Its terms, in canonical order.
    pub terms: Vec<String>,
    /// 1-based rank by held-out deviance (ties: fewer terms first, then generation
    /// order).
    pub rank: usize,
    /// Held-out deviance `D` (summed over folds).
    pub heldout_deviance: f64,
    /// `SE(D)` across folds.
    pub deviance_se: f64,
    /// `D_f` of each fold.
    pub fold_deviances: Vec<f64>,
    /// Held-out deviance of each session (indexed by session).
    pub session_deviances: Vec<f64>,
    /// `D − D_best`.
    pub difference_from_best: f64,
    /// Paired `SE(Δ)` across sessions (0 for the best itself).
    pub difference_se: f64,
    /// `−log L` of the fit on all sessions.
    pub negative_log_likelihood: f64,
    /// `2k − 2 log L`.
    pub aic: f64,
    /// `k ln n − 2 log L`.
    pub bic: f64,
    /// The coefficients (in the order of `terms`) fitted on all sessions.
    pub coefficients: Vec<f64>,
    /// Within the tolerance of the best (in the equivalence set).
    pub within_tolerance: bool,
}

/// The L1 path.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct L1Path {
    /// The pool's terms, the columns of `coefficients`.
    pub terms: Vec<String>,
    /// The λ sequence, decreasing.
    pub lambdas: Vec<f64>,
    /// Coefficients fitted on all sessions at each λ (`[λ][term]`).
    pub coefficients: Vec<Vec<f64>>,
    /// Non-zero coefficients at each λ.
    pub nonzero: Vec<usize>,
    /// Proximal-gradient iterations at each λ (all sessions).
    pub iterations: Vec<usize>,
    /// Held-out deviance `D(λ)`.
    pub heldout_deviance: Vec<f64>,
    /// `SE(D(λ))` across folds.
    pub deviance_se: Vec<f64>,
    /// Index of `λ_min`.
    pub index_min: usize,
    /// Index of `λ_1se`.
    pub index_1se: usize,
    /// `λ_min`: the smallest held-out deviance.
    pub lambda_min: f64,
    /// `λ_1se`: the largest λ within one SE of the smallest held-out deviance.
    pub lambda_1se: f64,
}

/// A finished selection.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Selection {
    /// Every scored set, best first.
    pub candidates: Vec<CandidateScore>,
    /// The best set's terms.
    pub best: Vec<String>,
    /// The equivalence set: every set within the tolerance, best first.
    pub equivalent: Vec<Vec<String>>,
    /// The held-out sessions of each fold.
    pub folds: Vec<Vec<usize>>,
    /// `n = Σ_s P_s`.
    pub n_presentations: usize,
    /// Fits run (candidates × (folds + 1), less the empty set's).
    pub fits: usize,
    /// The L1 path, if asked for.
    pub l1_path: Option<L1Path>,
}
