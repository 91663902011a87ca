//! What the data determine about each fitted parameter, read from a fit's
//! `identifiability` section ([`crate::analysis::identifiability::results_section`]):
//! the standard errors, intervals and verdicts that `coefficients.csv`, the CLI's table
//! and Python's `FitResult.uncertainty` show.

use serde_json::Value;

/// How well the data determine one fitted parameter: what the fit's
/// `identifiability` section ([`crate::analysis::identifiability::results_section`]) says about
/// it. Every field is `None` where the section has nothing on the parameter (an MLP, a
/// fit whose report was not computed, a term held fixed by `trainable`).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct CoefficientUncertainty {
    /// Laplace standard error (`None` as well for a term on a direction cut as
    /// singular: its variance is unbounded).
    pub std_error: Option<f64>,
    /// Lower end of the Laplace 95 % interval `θ − Z_95 · SE`.
    pub lower: Option<f64>,
    /// Upper end, `θ + Z_95 · SE`.
    pub upper: Option<f64>,
    /// Whether the data determine it: its 95 % half-width `Z_95 · SE` is at most
    /// [`crate::analysis::identifiability::DETERMINED_RELATIVE_HALF_WIDTH`] (a tenth) of the
    /// largest fitted `|θ|` over the analysed terms ([`crate::analysis::identifiability::is_determined`],
    /// the threshold of the section's "not determined by these data" sentences); `false`
    /// for a term without a standard error.
    pub determined: Option<bool>,
}

/// The uncertainty of every fitted parameter, read from a fit's `identifiability`
/// section: what `coefficients.csv`, the CLI's table and Python's
/// `FitResult.to_pandas()` show.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Uncertainty {
    /// One per parameter of the rule, in its order.
    pub coefficients: Vec<CoefficientUncertainty>,
    /// The section's sentence about its least-determined direction (the eigen-direction
    /// of the smallest information, i.e. of the largest Laplace variance), when computed.
    pub least_determined: Option<String>,
    /// Why there are no intervals (the section's `reason`), when there are none.
    pub unavailable: Option<String>,
}

/// The uncertainty of the parameters `names` from a fit's `identifiability` section
/// (`None`: a fit that has none, such as an online fit).
pub fn coefficient_uncertainty(names: &[String], identifiability: Option<&Value>) -> Uncertainty {
    let empty = vec![CoefficientUncertainty::default(); names.len()];
    let Some(section) = identifiability else {
        return Uncertainty {
            coefficients: empty,
            least_determined: None,
            unavailable: Some("this kind of fit has no identifiability report".into()),
        };
    };
    if section.get("computed").and_then(Value::as_bool) != Some(true) {
        let reason = section
            .get("reason")
            .and_then(Value::as_str)
            .unwrap_or("the identifiability report was not computed");
        return Uncertainty {
            coefficients: empty,
            least_determined: None,
            unavailable: Some(reason.to_string()),
        };
    }
    let by_term = |key: &str, term: &str| section.get(key).and_then(|m| m.get(term)).cloned();
    let scale = section
        .get("estimates")
        .and_then(Value::as_object)
        .map(|m| {
            m.values()
                .filter_map(Value::as_f64)
                .fold(0.0f64, |a, v| a.max(v.abs()))
        })
        .unwrap_or(0.0);
    let coefficients = names
        .iter()
        .map(|name| {
            let Some(estimate) = by_term("estimates", name).and_then(|v| v.as_f64()) else {
                return CoefficientUncertainty::default();
            };
            let std_error = by_term("standard_errors", name).and_then(|v| v.as_f64());
            let half_width = std_error.map(|se| crate::analysis::identifiability::Z_95 * se);
            let interval = by_term("intervals", name)
                .and_then(|v| Some((v.get(0)?.as_f64()?, v.get(1)?.as_f64()?)));
            let interval = interval.or_else(|| half_width.map(|h| (estimate - h, estimate + h)));
            CoefficientUncertainty {
                std_error,
                lower: interval.map(|i| i.0),
                upper: interval.map(|i| i.1),
                determined: Some(crate::analysis::identifiability::is_determined(
                    half_width, scale,
                )),
            }
        })
        .collect();
    let least_determined = section
        .get("sentences")
        .and_then(|s| s.get(0))
        .and_then(Value::as_str)
        .map(String::from);
    Uncertainty {
        coefficients,
        least_determined,
        unavailable: None,
    }
}
