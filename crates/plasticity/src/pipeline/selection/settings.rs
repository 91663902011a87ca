//! What a term selection is asked to do: the search (exhaustive subsets, forward or
//! backward stepwise, the L1 path), the candidate terms, folds and tolerance; the
//! checks that name a bad setting.

use serde::{Deserialize, Serialize};

use crate::pipeline::behaviour::BehaviourFitSettings;
use crate::rule::RuleFamily;
use crate::rule::{Term, Variables};
use crate::{Error, Result};

/// How candidate term sets are generated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchKind {
    /// Every subset of the pool with at most `max_terms` terms that contains the
    /// required terms (the empty set, θ = 0, included when nothing is required).
    #[default]
    Subsets,
    /// Forward stepwise: from the required terms, add the pool term that lowers the
    /// held-out deviance most, while it lowers it and the set has fewer than
    /// `max_terms` terms. Every set scored on the way is reported.
    Forward,
    /// Backward stepwise: from the whole pool (with the required terms), drop the term
    /// whose removal lowers the held-out deviance most, while it lowers it and a term
    /// other than the required ones is left (`max_terms` does not apply). Every set
    /// scored on the way is reported.
    Backward,
}

/// When a term set counts as equally good as the best one.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum Tolerance {
    /// Its held-out deviance exceeds the best's by at most this many units. The
    /// default, 2 units, is a likelihood ratio of `e ≈ 2.7` in predictive density, the
    /// conventional "not distinguishable" gap on the AIC scale (Burnham & Anderson's
    /// ΔAIC ≤ 2) on which held-out deviance also lies.
    Deviance(f64),
    /// Its held-out deviance exceeds the best's by at most this many paired standard
    /// errors `SE(Δ)` of the difference (across held-out sessions).
    StandardErrors(f64),
}

impl Default for Tolerance {
    fn default() -> Self {
        Tolerance::Deviance(2.0)
    }
}

/// How the L1 path is followed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct L1PathSettings {
    /// Number of λ values `m`.
    pub lambdas: usize,
    /// `λ_min / λ_max` of the sequence (glmnet: 1e-4 when there are more observations
    /// than variables; 1e-3 here, below which the behaviour fits barely change).
    pub ratio: f64,
    /// Proximal-gradient iterations at each λ at most.
    pub iterations: usize,
    /// An iteration whose largest coefficient change is below `tolerance · max(1,
    /// max_k |θ_k|)` ends the λ.
    pub tolerance: f64,
}

impl Default for L1PathSettings {
    fn default() -> Self {
        L1PathSettings {
            lambdas: 20,
            ratio: 1e-3,
            iterations: 200,
            tolerance: 1e-5,
        }
    }
}

/// Everything that defines a selection.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SelectionSettings {
    /// Candidate terms (canonical names, see [`parse_terms`]).
    pub pool: Vec<String>,
    /// Terms every candidate contains (a subset of the pool).
    pub required: Vec<String>,
    /// Most terms in a candidate.
    pub max_terms: usize,
    /// How candidates are generated.
    pub search: SearchKind,
    /// Folds `K` of the cross-validation by session (2 to the number of sessions).
    pub folds: usize,
    /// The equivalence set's tolerance.
    pub tolerance: Tolerance,
    /// How each candidate is fitted; `trainable` is set to the candidate's terms and
    /// `eval_sessions` to 0. With re-sampled inputs, the noise is drawn once for the
    /// whole dataset (seed `input_seed`), so every fold sees the same inputs.
    pub fit: BehaviourFitSettings,
    /// The L1 path over the whole pool, if wanted.
    pub l1_path: Option<L1PathSettings>,
}

impl Default for SelectionSettings {
    fn default() -> Self {
        let mut fit = BehaviourFitSettings::default();
        fit.fit.l1 = 0.0;
        fit.init = "zeros".into();
        fit.eval_sessions = 0;
        SelectionSettings {
            pool: ["1", "x", "r", "x*r", "w", "y*r"]
                .map(String::from)
                .to_vec(),
            required: Vec::new(),
            max_terms: 3,
            search: SearchKind::Subsets,
            folds: 5,
            tolerance: Tolerance::default(),
            fit,
            l1_path: None,
        }
    }
}

/// Canonical names of a comma-separated term list, sorted in canonical order. Errors
/// ([`Error::Config`] with `key`, the flag or setting that gave the list) on an empty
/// list, a term that does not parse, or a repeated term.
pub fn parse_terms(text: &str, key: &str) -> Result<Vec<String>> {
    let mut terms: Vec<(usize, String)> = Vec::new();
    for item in text.split(',') {
        let item = item.trim();
        if item.is_empty() {
            if text.trim().is_empty() {
                break;
            }
            return Err(Error::config(
                key,
                format!("'{text}' has an empty term; give terms separated by commas, e.g. 'x*r,w'"),
            ));
        }
        let term = Term::parse(item, Variables::Xywr)
            .map_err(|e| Error::config(key, format!("term '{item}': {e}")))?;
        let index = term.index(Variables::Xywr).ok_or_else(|| {
            Error::config(key, format!("term '{item}' is not a term over x, y, w, r"))
        })?;
        if terms.iter().any(|(k, _)| *k == index) {
            return Err(Error::config(
                key,
                format!("term '{item}' ({}) is listed twice", term.name()),
            ));
        }
        terms.push((index, term.name()));
    }
    terms.sort();
    Ok(terms.into_iter().map(|t| t.1).collect())
}

pub(super) fn check_terms(settings: &SelectionSettings) -> Result<()> {
    if settings.pool.is_empty() {
        return Err(Error::config("pool", "no term in the pool"));
    }
    for (key, list) in [("pool", &settings.pool), ("required", &settings.required)] {
        parse_terms(&list.join(","), key)?;
    }
    if let Some(t) = settings
        .required
        .iter()
        .find(|t| !settings.pool.contains(t))
    {
        return Err(Error::config(
            "required",
            format!("'{t}' is not in the pool ({})", settings.pool.join(",")),
        ));
    }
    if settings.max_terms == 0 || settings.max_terms < settings.required.len() {
        return Err(Error::config(
            "max-terms",
            format!(
                "must be at least 1 and at least the number of required terms ({}), got {}",
                settings.required.len(),
                settings.max_terms
            ),
        ));
    }
    Ok(())
}

/// Checks the settings against a dataset of `n_sessions` sessions; every error names
/// the setting (`pool`, `required`, `max-terms`, `folds`, `tolerance`, `rule-family`,
/// `l1-path`).
pub fn check_settings(settings: &SelectionSettings, n_sessions: usize) -> Result<()> {
    check_terms(settings)?;
    if settings.folds < 2 || settings.folds > n_sessions {
        return Err(Error::config(
            "folds",
            format!(
                "must be between 2 and the number of sessions ({n_sessions}), got {}",
                settings.folds
            ),
        ));
    }
    let tolerance = match settings.tolerance {
        Tolerance::Deviance(v) | Tolerance::StandardErrors(v) => v,
    };
    if !(tolerance.is_finite() && tolerance >= 0.0) {
        return Err(Error::config(
            "tolerance",
            format!("must be a non-negative number, got {tolerance}"),
        ));
    }
    if settings.fit.rule_family != RuleFamily::Taylor {
        return Err(Error::config(
            "rule-family",
            "model selection chooses Taylor terms: the rule family must be taylor",
        ));
    }
    if let Some(path) = &settings.l1_path {
        if path.lambdas < 2 || !(path.ratio > 0.0 && path.ratio < 1.0) || path.iterations == 0 {
            return Err(Error::config(
                "l1-path",
                format!(
                    "needs at least 2 λ values, a ratio in (0, 1) and at least one \
                     iteration, got {} values, ratio {}, {} iterations",
                    path.lambdas, path.ratio, path.iterations
                ),
            ));
        }
    }
    Ok(())
}
