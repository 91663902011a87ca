//! The curvature of the loss at the fitted θ: the Gauss–Newton (Fisher) matrix
//! `Σ_t J_tᵀ J_t` of the neural and behaviour models from forward-mode tangents
//! (`Σ p(1−p) J_tᵀ J_t` for choices), and its symmetric eigendecomposition (Jacobi
//! rotations).

use ndarray::Array3;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::circuit::BehaviourCircuit;
use crate::data::{BehaviourDataset, NeuralDataset};
use crate::gradient::GradientStrategy;
use crate::gradient::NeuralEngine;
use crate::objective::BehaviourObjective;
use crate::rule::PlasticityRule;
use crate::{Error, Result};

/// Directions with `λ ≤ RELATIVE_CUTOFF · λ_max` are cut from the pseudo-inverse.
pub const RELATIVE_CUTOFF: f64 = 1e-12;

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
pub(super) fn add_outer_upper(m: &mut [f64], v: &[f64], weight: f64) {
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
pub(super) fn symmetrise(m: &mut [f64], p: usize) {
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
pub fn neural_curvature<R: crate::rule::RuleOfEngine>(
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
    let engine = NeuralEngine::for_dataset(dataset, rule.clone())?
        .with_active_parameters(parameters.to_vec());
    let n_pre = dataset.n_pre();
    let per_trajectory: Vec<(f64, Vec<f64>)> = (0..dataset.n_trajectories())
        .into_par_iter()
        .map(|k| {
            let trajectory = dataset.trajectory(k);
            let n_rec = trajectory.recorded_neurons.len();
            let mut state = engine.forward_state();
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
pub fn behaviour_curvature<R: PlasticityRule + Clone + Into<crate::rule::Rule>>(
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
    let objective = BehaviourObjective::new(
        dataset,
        inputs.clone(),
        *circuit,
        rule.clone(),
        GradientStrategy::Forward,
    )?
    .with_active_parameters(parameters.to_vec());
    let sessions: Vec<usize> = (0..dataset.n_sessions()).collect();
    // the Fisher-scoring system of each session (what a Levenberg–Marquardt fit of the
    // choices steps with): its normal matrix is the information
    let per_session: Vec<(f64, usize, Vec<f64>)> = objective
        .session_fisher(theta, &sessions)?
        .into_iter()
        .map(|(loss, system)| (loss, system.residuals, system.normal))
        .collect();
    let mut information = vec![0.0; p * p];
    let mut loss_curvature = vec![0.0; p * p];
    let (mut loss, mut observations) = (0.0_f64, 0);
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
