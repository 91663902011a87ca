//! What the data determine: the curvature of the likelihood at a fitted θ over the
//! trainable parameters, its eigen-directions, and Laplace standard errors.
//!
//! # The matrices
//!
//! Both come from exact forward-mode Jacobians ([`crate::gradient::NeuralForward`], [`crate::gradient::network::jacobian`]), never
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

mod curvature;

use curvature::{add_outer_upper, symmetrise};
pub use curvature::{
    behaviour_curvature, neural_curvature, symmetric_eigen, Curvature, RELATIVE_CUTOFF,
};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Error, Result};

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
        settings.minimum_iterations,
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
