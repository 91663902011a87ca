//! What the data determine: the curvature of the likelihood at a fitted θ over the
//! trainable parameters, its eigen-directions, and Laplace standard errors.
//!
//! # The matrices
//!
//! Both come from exact forward-mode Jacobians ([`crate::gradient::forward`]), never
//! from differences, and neglect the second derivatives of the model (Gauss–Newton),
//! which is exact at zero residuals and is the expected Hessian (the Fisher
//! information) under the model's own noise.
//!
//! **Neural activity.** The objective is the MSE `L = 1/n Σ_{k,t,i} (y_{kti}(θ) −
//! ŷ_{kti})²` over `n = N T n_rec` recorded values, so with `J_{kti} = ∂y_{kti}/∂θ`
//! its Gauss–Newton matrix is `G = 2/n Σ J Jᵀ`. The recording model is
//! `ŷ = y(θ) + ε`, `ε ~ N(0, σ²)`: the negative log-likelihood is `Σ (y − ŷ)² / (2σ²)`
//! plus a constant, whose Fisher information is `I = Σ J Jᵀ / σ² = G n / (2σ²)`. `σ²`
//! is estimated at θ from the residuals, `σ̂² = SSE / (n − p)` with `p` the number of
//! trainable parameters.
//!
//! **Behaviour.** Each presentation is a Bernoulli draw with `P(accept) = σ(z)`; the
//! negative log-likelihood of all the data is the *sum* of the cross-entropies over
//! presentations, `Σ_s Σ_p ℓ_{sp}`, whose Fisher information is
//! `I = Σ_s Σ_p σ(z)(1 − σ(z)) ∂z/∂θ ∂z/∂θᵀ`. The objective the fit minimises is
//! the mean over sessions of each session's mean (docs/model.md §6); its Gauss–Newton matrix
//! `F = 1/S Σ_s 1/P_s Σ_p σ(1 − σ) ∂z ∂zᵀ` is kept as well. A weight clipped by the
//! circuit's bound has no tangent (the clip's derivative is 0).
//!
//! # The analysis
//!
//! `I = V Λ Vᵀ` (Jacobi's method, [`symmetric_eigen`]); eigenvalues ascending. A
//! direction `v` with eigenvalue `λ` is determined to `±1.96/√λ` (95 %) along it. The
//! Laplace covariance is `I⁻¹`; when `I` is singular in floating point its
//! pseudo-inverse is used instead, cutting every direction with
//! `λ ≤ RELATIVE_CUTOFF · λ_max` (below that, `λ` is rounding noise of the
//! accumulation); a term that loads on a cut direction has no standard error (its
//! variance is unbounded), and the report says which directions were cut.
//! Penalties (L1/L2) of the fit are not part of the likelihood and are ignored.

use ndarray::Array3;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::circuit::{BehaviourCircuit, NeuralCircuit};
use crate::data::{BehaviourDataset, NeuralDataset};
use crate::gradient::forward::{
    behaviour_session_logit_tangents, BehaviourForwardWorkspace, NeuralForward,
};
use crate::rule::PlasticityRule;
use crate::{Error, Result};

/// Directions with `λ ≤ RELATIVE_CUTOFF · λ_max` are cut from the pseudo-inverse.
pub const RELATIVE_CUTOFF: f64 = 1e-12;

/// The standard normal's 97.5 % quantile: a 95 % interval is `θ ± Z_95 · SE`.
pub const Z_95: f64 = 1.959_963_984_540_054;

/// A term whose squared loading on the cut directions exceeds this has no standard
/// error (rounding leaves loadings of about `1e-8` on directions a term has no part in).
pub const CUT_LOADING: f64 = 1e-6;

/// A direction or a term counts as *determined by the data* when its Laplace 95 %
/// half-width is at most this fraction of the scale of the fit, the largest fitted
/// `|θ|` over the analysed terms; a cut direction, or a term loading on one, is never
/// determined. The one threshold behind the sentences of [`analyse`] and the
/// `determined` column of `coefficients.csv` (written by the report layer).
pub const DETERMINED_RELATIVE_HALF_WIDTH: f64 = 0.1;

/// Whether a 95 % half-width (`None`: unbounded) is determined against `scale`, the
/// largest fitted `|θ|` ([`DETERMINED_RELATIVE_HALF_WIDTH`]).
pub fn is_determined(half_width: Option<f64>, scale: f64) -> bool {
    half_width.is_some_and(|h| h <= DETERMINED_RELATIVE_HALF_WIDTH * scale.max(1e-300))
}

/// The curvature of a dataset's loss and likelihood at one θ, over a set of parameters.
/// Matrices are `p × p`, row-major, in the order of [`Curvature::parameters`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Curvature {
    /// The parameter indices (into θ) the matrices are over.
    pub parameters: Vec<usize>,
    /// The Gauss–Newton matrix of the objective's own loss (the mean the fit
    /// minimises): `2/n Σ J Jᵀ` (neural) or `1/S Σ_s 1/P_s Σ_p σ(1 − σ) ∂z ∂zᵀ`
    /// (behaviour).
    pub loss_curvature: Vec<f64>,
    /// The Fisher information of the log-likelihood of all the data; `None` for
    /// neural data whose residuals are all zero (or with no more observations than
    /// parameters), where the noise variance cannot be estimated.
    pub information: Option<Vec<f64>>,
    /// The objective's loss at θ.
    pub loss: f64,
    /// Observations: recorded values (neural) or presentations (behaviour).
    pub observations: usize,
    /// `σ̂² = SSE/(n − p)` (neural only).
    pub residual_variance: Option<f64>,
    /// A factor `c` such that `c · L` is the negative log-likelihood up to a constant
    /// (what [`crate::analysis::profile::profile_interval`] takes as `n`): `n/(2σ̂²)` for
    /// neural data; the number of presentations for behaviour, exact when the
    /// sessions are equally long (the objective weights sessions equally).
    pub likelihood_scale: f64,
    /// How the matrices were computed, in words.
    pub method: String,
}

impl Curvature {
    /// Number of parameters `p`.
    pub fn dimension(&self) -> usize {
        self.parameters.len()
    }
}

fn check_parameters(parameters: &[usize], n_parameters: usize) -> Result<()> {
    if parameters.is_empty() {
        return Err(Error::config(
            "terms",
            "no parameter to analyse: at least one trainable term is needed",
        ));
    }
    if let Some(&k) = parameters.iter().find(|&&k| k >= n_parameters) {
        return Err(Error::config(
            "terms",
            format!("parameter index {k} is out of range (the rule has {n_parameters})"),
        ));
    }
    let mut sorted = parameters.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    if sorted.len() != parameters.len() {
        return Err(Error::config("terms", "a parameter is listed twice"));
    }
    Ok(())
}

/// Adds `weight · v vᵀ` to the upper triangle of the `p × p` matrix `m`.
#[inline]
fn add_outer_upper(m: &mut [f64], v: &[f64], weight: f64) {
    let p = v.len();
    for a in 0..p {
        let va = weight * v[a];
        if va == 0.0 {
            continue;
        }
        let row = &mut m[a * p..(a + 1) * p];
        for b in a..p {
            row[b] += va * v[b];
        }
    }
}

/// Copies the upper triangle of `m` to the lower.
fn symmetrise(m: &mut [f64], p: usize) {
    for a in 0..p {
        for b in 0..a {
            m[a * p + b] = m[b * p + a];
        }
    }
}

/// The Gauss–Newton matrix of the neural MSE and the Fisher information of the
/// Gaussian recording model at `theta`, over `parameters` (see the module's doc).
/// Parallel over trajectories; each trajectory's `Σ J Jᵀ` is summed in trajectory
/// order, so the result is bit-identical whatever the number of threads.
pub fn neural_curvature<R: PlasticityRule>(
    dataset: &NeuralDataset,
    rule: &R,
    theta: &[f64],
    parameters: &[usize],
) -> Result<Curvature> {
    if theta.len() != rule.n_parameters() {
        return Err(Error::config(
            "theta",
            format!(
                "has {} entries but the rule has {} parameters",
                theta.len(),
                rule.n_parameters()
            ),
        ));
    }
    check_parameters(parameters, rule.n_parameters())?;
    let p = parameters.len();
    let circuit = NeuralCircuit::new(dataset.n_pre(), dataset.n_post());
    let n_pre = dataset.n_pre();
    let per_trajectory: Vec<(f64, Vec<f64>)> = (0..dataset.n_trajectories())
        .into_par_iter()
        .map(|k| {
            let trajectory = dataset.trajectory(k);
            let n_rec = trajectory.recorded_neurons.len();
            let mut state = NeuralForward::with_active(circuit, rule, parameters.to_vec());
            let input = |t: usize| &trajectory.inputs[t * n_pre..(t + 1) * n_pre];
            let mut jtj = vec![0.0; p * p];
            let mut sse = 0.0;
            state.start(trajectory.initial_weights, input(0));
            for t in 0..trajectory.steps {
                let targets = &trajectory.recorded_activity[t * n_rec..(t + 1) * n_rec];
                for (&i, &target) in trajectory.recorded_neurons.iter().zip(targets) {
                    let residual = state.post()[i] - target;
                    sse += residual * residual;
                    add_outer_upper(&mut jtj, state.post_tangent(i), 1.0);
                }
                if t + 1 < trajectory.steps {
                    state.advance(rule, theta, input(t + 1));
                }
            }
            (sse, jtj)
        })
        .collect();
    let mut jtj = vec![0.0; p * p];
    let mut sse = 0.0;
    for (item_sse, item) in &per_trajectory {
        sse += item_sse;
        for (a, b) in jtj.iter_mut().zip(item) {
            *a += b;
        }
    }
    symmetrise(&mut jtj, p);
    let n = dataset.n_trajectories() * dataset.steps() * dataset.recorded_neurons.len();
    if !sse.is_finite() || jtj.iter().any(|v| !v.is_finite()) {
        return Err(Error::Numerical(
            "the simulation at θ is not finite: the rule makes the weights overflow, so \
             the curvature there is undefined"
                .into(),
        ));
    }
    let loss = sse / n as f64;
    let loss_curvature: Vec<f64> = jtj.iter().map(|v| 2.0 * v / n as f64).collect();
    let residual_variance = (n > p).then(|| sse / (n - p) as f64);
    let information = match residual_variance {
        Some(variance) if variance > 0.0 => Some(jtj.iter().map(|v| v / variance).collect()),
        _ => None,
    };
    let likelihood_scale = match residual_variance {
        Some(variance) if variance > 0.0 => n as f64 / (2.0 * variance),
        _ => f64::INFINITY,
    };
    Ok(Curvature {
        parameters: parameters.to_vec(),
        loss_curvature,
        information,
        loss,
        observations: n,
        residual_variance,
        likelihood_scale,
        method: format!(
            "Gauss-Newton: I = J^T J / s^2 with J = dy/dtheta of every recorded value \
             (exact forward-mode Jacobians, {n} values), the Fisher information of \
             Gaussian measurement noise whose variance s^2 = SSE/(n - p) = {} is \
             estimated from the residuals at the fitted theta; Laplace covariance \
             I^-1 (pseudo-inverse cutting eigenvalues <= {RELATIVE_CUTOFF:e} * the \
             largest); the fit's penalties are ignored",
            residual_variance.unwrap_or(f64::NAN)
        ),
    })
}

/// The Fisher information of the Bernoulli choices at `theta` over `parameters`, for
/// the behaviour circuit driven by `inputs` (same shape as the dataset's) and the
/// recorded decisions and rewards (see the module's doc). Parallel over sessions,
/// summed in session order (bit-identical whatever the number of threads).
pub fn behaviour_curvature<R: PlasticityRule>(
    dataset: &BehaviourDataset,
    inputs: &Array3<f64>,
    circuit: &BehaviourCircuit,
    rule: &R,
    theta: &[f64],
    parameters: &[usize],
) -> Result<Curvature> {
    if theta.len() != rule.n_parameters() {
        return Err(Error::config(
            "theta",
            format!(
                "has {} entries but the rule has {} parameters",
                theta.len(),
                rule.n_parameters()
            ),
        ));
    }
    if inputs.shape() != dataset.inputs.shape() {
        return Err(Error::config(
            "inputs",
            format!(
                "have shape {:?} but the dataset's are {:?}",
                inputs.shape(),
                dataset.inputs.shape()
            ),
        ));
    }
    check_parameters(parameters, rule.n_parameters())?;
    let p = parameters.len();
    let inputs = inputs.as_standard_layout().into_owned();
    let per_session: Vec<(f64, usize, Vec<f64>)> = (0..dataset.n_sessions())
        .into_par_iter()
        .map(|k| {
            let session = dataset.session_with_inputs(k, &inputs);
            let mut workspace = BehaviourForwardWorkspace::default();
            let mut fisher = vec![0.0; p * p];
            let result = behaviour_session_logit_tangents(
                circuit,
                rule,
                theta,
                session,
                parameters,
                &mut workspace,
                |_, logit, _, tangent| {
                    let probability = 1.0 / (1.0 + (-logit).exp());
                    add_outer_upper(&mut fisher, tangent, probability * (1.0 - probability));
                },
            );
            (result.loss, session.n_presentations(), fisher)
        })
        .collect();
    let mut information = vec![0.0; p * p];
    let mut loss_curvature = vec![0.0; p * p];
    let (mut loss, mut observations) = (0.0, 0);
    for (session_loss, count, fisher) in &per_session {
        loss += session_loss;
        observations += count;
        for ((i, l), f) in information
            .iter_mut()
            .zip(loss_curvature.iter_mut())
            .zip(fisher)
        {
            *i += f;
            *l += f / *count as f64;
        }
    }
    let sessions = dataset.n_sessions().max(1) as f64;
    loss_curvature.iter_mut().for_each(|v| *v /= sessions);
    symmetrise(&mut information, p);
    symmetrise(&mut loss_curvature, p);
    if !loss.is_finite() || information.iter().any(|v| !v.is_finite()) {
        return Err(Error::Numerical(
            "the simulation at θ is not finite, so the curvature there is undefined".into(),
        ));
    }
    Ok(Curvature {
        parameters: parameters.to_vec(),
        loss_curvature,
        information: Some(information),
        loss: loss / sessions,
        observations,
        residual_variance: None,
        likelihood_scale: observations as f64,
        method: format!(
            "Fisher information I = sum over all {observations} presentations of \
             s(z)(1 - s(z)) dz/dtheta dz/dtheta^T (exact forward-mode logit Jacobians), \
             the expected Hessian of the total Bernoulli log-likelihood of the choices \
             at the fitted theta; Laplace covariance I^-1 (pseudo-inverse cutting \
             eigenvalues <= {RELATIVE_CUTOFF:e} * the largest); the fit's penalties are \
             ignored"
        ),
    })
}

/// Eigenvalues (ascending) and unit eigenvectors of the symmetric `n × n` matrix
/// `matrix` (row-major; only its symmetric part is used), by the cyclic Jacobi method:
/// plane rotations until every off-diagonal entry is negligible. Each eigenvector's
/// largest component (the first of equal ones) is made positive, so the result does
/// not depend on the rotations' signs.
///
/// Jacobi rather than a library: the matrices here are at most 81 × 81, and Jacobi
/// computes eigenvectors that are orthogonal to rounding and small eigenvalues to an
/// absolute accuracy of a few `ε ‖A‖`, with no further dependency.
///
/// Errors ([`Error::Config`]) on a wrong length or a non-finite entry, and
/// ([`Error::Numerical`]) if 100 sweeps do not converge (which does not happen for a
/// finite symmetric matrix).
pub fn symmetric_eigen(matrix: &[f64], n: usize) -> Result<(Vec<f64>, Vec<Vec<f64>>)> {
    if matrix.len() != n * n {
        return Err(Error::config(
            "matrix",
            format!("has {} entries, not {n} × {n}", matrix.len()),
        ));
    }
    if matrix.iter().any(|v| !v.is_finite()) {
        return Err(Error::config("matrix", "has a non-finite entry"));
    }
    let mut a: Vec<f64> = (0..n * n)
        .map(|k| {
            let (i, j) = (k / n, k % n);
            0.5 * (matrix[i * n + j] + matrix[j * n + i])
        })
        .collect();
    // columns of v are the eigenvectors
    let mut v: Vec<f64> = (0..n * n)
        .map(|k| if k / n == k % n { 1.0 } else { 0.0 })
        .collect();
    let mut converged = false;
    for sweep in 0..100 {
        let mut rotated = false;
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq == 0.0 {
                    continue;
                }
                let (app, aqq) = (a[p * n + p], a[q * n + q]);
                // negligible against both diagonal entries: zero it (after the first
                // sweeps, as in Numerical Recipes), which keeps small eigenvalues to
                // a relative accuracy where the matrix allows
                let g = 100.0 * apq.abs();
                if sweep > 3 && app.abs() + g == app.abs() && aqq.abs() + g == aqq.abs() {
                    a[p * n + q] = 0.0;
                    a[q * n + p] = 0.0;
                    continue;
                }
                rotated = true;
                let theta = (aqq - app) / (2.0 * apq);
                let t = if theta.abs() > 1e150 {
                    0.5 / theta
                } else {
                    theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt())
                };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (a[k * n + p], a[k * n + q]);
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p * n + k], a[q * n + k]);
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                a[p * n + q] = 0.0;
                a[q * n + p] = 0.0;
                for k in 0..n {
                    let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
        if !rotated {
            converged = true;
            break;
        }
    }
    if !converged {
        return Err(Error::Numerical(
            "the Jacobi eigenvalue iteration did not converge in 100 sweeps".into(),
        ));
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| a[i * n + i].total_cmp(&a[j * n + j]).then(i.cmp(&j)));
    let values = order.iter().map(|&i| a[i * n + i]).collect();
    let vectors = order
        .iter()
        .map(|&i| {
            let mut column: Vec<f64> = (0..n).map(|k| v[k * n + i]).collect();
            let norm = column.iter().map(|x| x * x).sum::<f64>().sqrt();
            column.iter_mut().for_each(|x| *x /= norm);
            let largest = column
                .iter()
                .copied()
                .reduce(|m, x| if x.abs() > m.abs() { x } else { m })
                .unwrap_or(1.0);
            if largest < 0.0 {
                column.iter_mut().for_each(|x| *x = -*x);
            }
            column
        })
        .collect();
    Ok((values, vectors))
}

/// One eigen-direction of the information.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Direction {
    /// Its eigenvalue `λ` (information per unit of `θ` along it, squared).
    pub eigenvalue: f64,
    /// Its unit vector, one component per analysed term.
    pub loadings: Vec<f64>,
    /// `Z_95/√λ`: the Laplace 95 % half-width of θ along it (`None` when cut).
    pub half_width: Option<f64>,
    /// Whether it was cut from the pseudo-inverse (`λ ≤ RELATIVE_CUTOFF · λ_max`).
    pub cut: bool,
}

/// The identifiability report of a fit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Identifiability {
    /// The analysed terms (the trainable ones).
    pub terms: Vec<String>,
    /// Their fitted values.
    pub estimates: Vec<f64>,
    /// Eigenvalues of the information, ascending.
    pub eigenvalues: Vec<f64>,
    /// `λ_max / λ_min` (`None` when `λ_min ≤ 0`: the information is singular).
    pub condition_number: Option<f64>,
    /// One per eigenvalue, in the same order.
    pub directions: Vec<Direction>,
    /// The eigenvalue below which directions were cut.
    pub cutoff: f64,
    /// Laplace standard error per term (`None` for a term on a cut direction).
    pub standard_errors: Vec<Option<f64>>,
    /// Laplace 95 % intervals `θ ± Z_95 · SE` per term.
    pub intervals: Vec<Option<(f64, f64)>>,
    /// Laplace correlations, `terms × terms` (`None` where a standard error is).
    pub correlations: Vec<Vec<Option<f64>>>,
    /// A sentence for each of the (up to) three least-determined directions.
    pub sentences: Vec<String>,
}

/// The report from a curvature: `names` are the rule's parameter names and `theta`
/// its full parameter vector (the analysed entries are `curvature.parameters`).
///
/// Errors ([`Error::Numerical`]) when the curvature has no information matrix (neural
/// data with zero residuals) or the information is zero.
pub fn analyse(curvature: &Curvature, names: &[String], theta: &[f64]) -> Result<Identifiability> {
    let p = curvature.dimension();
    if curvature
        .parameters
        .iter()
        .any(|&k| k >= names.len().min(theta.len()))
    {
        return Err(Error::config(
            "terms",
            "a parameter index is beyond the rule's names or θ",
        ));
    }
    let Some(information) = &curvature.information else {
        return Err(Error::Numerical(
            "the residuals at θ are all zero (or there are no more observations than \
             parameters), so the noise variance and with it the likelihood's curvature \
             cannot be estimated"
                .into(),
        ));
    };
    let (eigenvalues, vectors) = symmetric_eigen(information, p)?;
    let largest = eigenvalues.last().copied().unwrap_or(0.0);
    if largest <= 0.0 {
        return Err(Error::Numerical(
            "the information matrix is zero: the data say nothing about these terms".into(),
        ));
    }
    let cutoff = RELATIVE_CUTOFF * largest;
    let directions: Vec<Direction> = eigenvalues
        .iter()
        .zip(&vectors)
        .map(|(&eigenvalue, loadings)| {
            let cut = eigenvalue <= cutoff;
            Direction {
                eigenvalue,
                loadings: loadings.clone(),
                half_width: (!cut).then(|| Z_95 / eigenvalue.sqrt()),
                cut,
            }
        })
        .collect();
    // pseudo-inverse over the kept directions
    let mut covariance = vec![0.0; p * p];
    for direction in directions.iter().filter(|d| !d.cut) {
        add_outer_upper(
            &mut covariance,
            &direction.loadings,
            1.0 / direction.eigenvalue,
        );
    }
    symmetrise(&mut covariance, p);
    let undetermined: Vec<bool> = (0..p)
        .map(|j| {
            directions
                .iter()
                .filter(|d| d.cut)
                .map(|d| d.loadings[j] * d.loadings[j])
                .sum::<f64>()
                > CUT_LOADING
        })
        .collect();
    let standard_errors: Vec<Option<f64>> = (0..p)
        .map(|j| (!undetermined[j]).then(|| covariance[j * p + j].max(0.0).sqrt()))
        .collect();
    let estimates: Vec<f64> = curvature.parameters.iter().map(|&k| theta[k]).collect();
    let intervals = standard_errors
        .iter()
        .zip(&estimates)
        .map(|(se, &v)| se.map(|se| (v - Z_95 * se, v + Z_95 * se)))
        .collect();
    let correlations = (0..p)
        .map(|i| {
            (0..p)
                .map(|j| match (standard_errors[i], standard_errors[j]) {
                    (Some(a), Some(b)) if a > 0.0 && b > 0.0 => {
                        Some((covariance[i * p + j] / (a * b)).clamp(-1.0, 1.0))
                    }
                    _ => None,
                })
                .collect()
        })
        .collect();
    let terms: Vec<String> = curvature
        .parameters
        .iter()
        .map(|&k| names[k].clone())
        .collect();
    let smallest = eigenvalues[0];
    let condition_number = (smallest > 0.0).then(|| largest / smallest);
    let scale = estimates.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let sentences = directions
        .iter()
        .take(3)
        .map(|d| describe(d, &terms, scale))
        .collect();
    Ok(Identifiability {
        terms,
        estimates,
        eigenvalues,
        condition_number,
        directions,
        cutoff,
        standard_errors,
        intervals,
        correlations,
        sentences,
    })
}

/// The direction as a term combination: its two or three largest loadings (those at
/// least a tenth of the largest), scaled so that the largest is 1, e.g.
/// `x^2*y^2*w^2 − 0.98·x^2*y*w^2`.
pub fn combination(loadings: &[f64], terms: &[String]) -> String {
    let mut order: Vec<usize> = (0..loadings.len()).collect();
    order.sort_by(|&a, &b| {
        loadings[b]
            .abs()
            .total_cmp(&loadings[a].abs())
            .then(a.cmp(&b))
    });
    let Some(&first) = order.first() else {
        return String::new();
    };
    let top = loadings[first];
    if top == 0.0 {
        return "0".into();
    }
    let mut text = String::new();
    for (rank, &k) in order.iter().take(3).enumerate() {
        let scaled = loadings[k] / top;
        if rank > 0 && scaled.abs() < 0.1 {
            break;
        }
        let magnitude = scaled.abs();
        let factor = if (magnitude - 1.0).abs() < 0.005 {
            String::new()
        } else {
            format!("{magnitude:.2}·")
        };
        let sign = match (rank, scaled < 0.0) {
            (0, false) => "",
            (0, true) => "−",
            (_, false) => " + ",
            (_, true) => " − ",
        };
        text.push_str(&format!("{sign}{factor}{}", terms[k]));
    }
    text
}

/// A readable sentence about one direction; `scale` is the largest fitted |θ|.
fn describe(direction: &Direction, terms: &[String], scale: f64) -> String {
    let combination = combination(&direction.loadings, terms);
    match direction.half_width {
        None => format!(
            "{combination} is not determined by these data (information {:.3e}, cut as \
             singular)",
            direction.eigenvalue
        ),
        Some(half_width) if !is_determined(Some(half_width), scale) => format!(
            "{combination} is not determined by these data: ±{half_width:.3} (95 %) along \
             this direction, against a largest fitted coefficient of {scale:.3}"
        ),
        Some(half_width) => {
            format!("{combination} is determined to ±{half_width:.3} (95 %) along this direction")
        }
    }
}

impl Identifiability {
    /// The report as `identifiability.json`'s public keys: `terms`, `eigenvalues`
    /// (ascending), `condition_number`, `directions` (`{"eigenvalue", "loadings":
    /// {term: component}, "half_width", "cut"}`), `standard_errors` and `intervals`
    /// (`{term: value}`, `{term: [low, high]}`, null where undetermined), plus
    /// `estimates`, `correlations`, `cutoff`, `cut_directions` and `sentences`.
    /// `method` and the caller's own entries are added by the caller.
    pub fn to_json(&self) -> serde_json::Map<String, serde_json::Value> {
        use serde_json::{json, Map, Value};
        let by_term = |values: Vec<Value>| -> Value {
            Value::Object(
                self.terms
                    .iter()
                    .cloned()
                    .zip(values)
                    .collect::<Map<_, _>>(),
            )
        };
        let mut out = Map::new();
        out.insert("terms".into(), json!(self.terms));
        out.insert(
            "estimates".into(),
            by_term(self.estimates.iter().map(|v| json!(v)).collect()),
        );
        out.insert("eigenvalues".into(), json!(self.eigenvalues));
        out.insert("condition_number".into(), json!(self.condition_number));
        out.insert(
            "directions".into(),
            Value::Array(
                self.directions
                    .iter()
                    .map(|d| {
                        json!({
                            "eigenvalue": d.eigenvalue,
                            "loadings": by_term(d.loadings.iter().map(|v| json!(v)).collect()),
                            "half_width": d.half_width,
                            "cut": d.cut,
                            "combination": combination(&d.loadings, &self.terms),
                        })
                    })
                    .collect(),
            ),
        );
        out.insert(
            "standard_errors".into(),
            by_term(self.standard_errors.iter().map(|v| json!(v)).collect()),
        );
        out.insert(
            "intervals".into(),
            by_term(
                self.intervals
                    .iter()
                    .map(|i| match i {
                        Some((low, high)) => json!([low, high]),
                        None => json!([null, null]),
                    })
                    .collect(),
            ),
        );
        out.insert(
            "correlations".into(),
            by_term(
                self.correlations
                    .iter()
                    .map(|row| by_term(row.iter().map(|v| json!(v)).collect()))
                    .collect(),
            ),
        );
        out.insert("cutoff".into(), json!(self.cutoff));
        let cut: Vec<usize> = (0..self.directions.len())
            .filter(|&k| self.directions[k].cut)
            .collect();
        out.insert("cut_directions".into(), json!(cut));
        out.insert("sentences".into(), json!(self.sentences));
        out
    }
}

/// The `identifiability` section of a fit's `results.json`: the report of
/// [`analyse`] as [`Identifiability::to_json`] plus `method`, or, when it cannot be
/// made, `{"computed": false, "reason": …}` (a fit is never failed by its report).
pub fn results_section(curvature: Result<Curvature>, names: &[String], theta: &[f64]) -> Value {
    let report = curvature.and_then(|curvature| {
        let report = analyse(&curvature, names, theta)?;
        let mut json = report.to_json();
        json.insert("computed".into(), Value::Bool(true));
        json.insert("method".into(), Value::String(curvature.method));
        Ok(Value::Object(json))
    });
    report.unwrap_or_else(|error| not_computed(&error.to_string()))
}

/// The `identifiability` section of a fit that has none, with the reason.
pub fn not_computed(reason: &str) -> Value {
    serde_json::json!({ "computed": false, "reason": reason })
}

/// Profile-likelihood 95 % intervals of the parameters `named` (indices into θ, each
/// among `trainable`): the unpenalised maximum-likelihood θ̂ is found first by
/// L-BFGS from `theta`, then each interval by
/// [`crate::analysis::profile::profile_interval`] with the curvature's
/// [`Curvature::likelihood_scale`].
pub fn profile_intervals<O: crate::objective::Objective>(
    objective: &O,
    likelihood_scale: f64,
    trainable: &[usize],
    theta: &[f64],
    named: &[usize],
    settings: &crate::analysis::profile::ProfileSettings,
) -> Result<Vec<crate::analysis::profile::ProfileInterval>> {
    if !(likelihood_scale.is_finite() && likelihood_scale > 0.0) {
        return Err(Error::Numerical(format!(
            "the likelihood scale {likelihood_scale} is not a positive number"
        )));
    }
    let (minimum, loss) = crate::analysis::profile::maximum_likelihood(
        objective,
        trainable,
        theta,
        settings.iterations,
    )?;
    named
        .iter()
        .map(|&k| {
            crate::analysis::profile::profile_interval(
                objective,
                likelihood_scale,
                trainable,
                &minimum,
                loss,
                k,
                settings,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests;
