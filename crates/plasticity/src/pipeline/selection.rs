//! Which terms does the behaviour data ask for? Model selection over Taylor term sets,
//! scored by cross-validation by session, AIC and BIC, and an L1 regularisation path
//! with λ chosen by the same cross-validation (as glmnet does).
//!
//! Definitions (`S` sessions, `P_s` real presentations of session `s`, `ℓ̄_s(θ)` its mean
//! binary cross-entropy, docs/model.md §4.2):
//!
//! - **Folds.** Session `s` is held out in fold `s mod K` ([`session_folds`]): every
//!   session is held out exactly once, the folds differ in size by at most one, and the
//!   assignment depends on nothing but `S` and `K`.
//! - **Held-out deviance** of a term set: for each fold `f`, the set is fitted to the
//!   other folds' sessions and scored on fold `f`'s sessions,
//!   `D_f = Σ_{s ∈ f} 2 P_s ℓ̄_s(θ̂_{−f})` (twice the summed cross-entropy, i.e.
//!   `−2 log p` of the held-out decisions); the held-out deviance is `D = Σ_f D_f`, so
//!   every session is predicted once by a rule that never saw it. It is on the scale of
//!   AIC (both estimate `−2×` the expected log predictive density of new sessions).
//! - **Its standard error** across folds: `SE(D) = √K · sd_f(D_f)` (sample standard
//!   deviation, `K − 1` in the denominator), the spread of `D` if the folds were
//!   independent replicates.
//! - **Paired difference** from the best set `b`: `Δ = D − D_b = Σ_s (d_s − d_{b,s})`
//!   with `d_s` the held-out deviance of session `s`; its standard error
//!   `SE(Δ) = √S · sd_s(d_s − d_{b,s})`. Every set is scored on the same held-out
//!   sessions, so the session-to-session variation they share cancels here and not in
//!   `SE(D)`.
//! - **AIC and BIC** of the fit on all sessions: `log L = −Σ_s P_s ℓ̄_s(θ̂)`,
//!   `AIC = 2k − 2 log L`, `BIC = k ln n − 2 log L`, with `k` the number of terms and
//!   `n = Σ_s P_s` the number of presentations (decisions). The fit minimises the
//!   SPEC's loss (the mean over sessions of `ℓ̄_s`, plus the L1 penalty of the fit
//!   settings, 0 by default here so that θ̂ is the maximum-likelihood estimate up to
//!   that weighting of sessions).
//! - **Equivalence set**: every scored set whose held-out deviance exceeds the best's
//!   by at most the [`Tolerance`] (by default 2 units of deviance).
//! - **L1 path** ([`l1_path`]): the penalised loss `L(θ) + λ Σ_{k ∈ pool} |θ_k|` (the
//!   `--l1` penalty of every fit) minimised by proximal gradient descent (soft
//!   thresholding, so coefficients are exactly 0 until they enter) with a backtracking
//!   step, at `λ_j = λ_max · ratio^{j/(m−1)}`, `j = 0..m`, each warm-started from the
//!   last; `λ_max = max_k |∂L/∂θ_k(0)|` is the smallest λ at which θ = 0 is stationary.
//!   The same λ sequence is followed on each fold's training sessions and scored on its
//!   held-out sessions; `λ_min` minimises the held-out deviance and `λ_1se` is the
//!   largest λ whose held-out deviance is within one `SE(D)` of that minimum (glmnet's
//!   `lambda.min` and `lambda.1se`).
//!
//! Every fit is deterministic (the fit's own seed, and sums taken in a fixed order), so
//! the results do not depend on the number of threads the candidates run on.

use std::ops::ControlFlow;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::behaviour::InputSource;
use super::behaviour::{circuit_of, fit_behaviour, resample_inputs, BehaviourFitSettings};
use super::neural::RuleFamily;
use crate::data::BehaviourDataset;
use crate::journal::{all_or_interrupted, unit, Journal};
use crate::objective::{BehaviourObjective, Objective};
use crate::rule::{TaylorRule, Term, Variables};
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

/// The held-out sessions of each of `folds` folds: session `s` in fold `s mod folds`.
pub fn session_folds(n_sessions: usize, folds: usize) -> Vec<Vec<usize>> {
    (0..folds)
        .map(|f| (f..n_sessions).step_by(folds.max(1)).collect())
        .collect()
}

/// `AIC = 2k + 2·NLL`.
pub fn aic(n_terms: usize, negative_log_likelihood: f64) -> f64 {
    2.0 * n_terms as f64 + 2.0 * negative_log_likelihood
}

/// `BIC = k ln n + 2·NLL`.
pub fn bic(n_terms: usize, n_observations: usize, negative_log_likelihood: f64) -> f64 {
    n_terms as f64 * (n_observations as f64).ln() + 2.0 * negative_log_likelihood
}

/// The candidate sets of a subset search, in generation order: by size, then in the
/// pool's canonical order. Errors as [`check_settings`].
pub fn subset_candidates(settings: &SelectionSettings) -> Result<Vec<Vec<String>>> {
    check_terms(settings)?;
    let free: Vec<&String> = settings
        .pool
        .iter()
        .filter(|t| !settings.required.contains(t))
        .collect();
    let largest = settings.max_terms.min(settings.pool.len());
    let count = (settings.required.len()..=largest)
        .map(|size| binomial(free.len(), size - settings.required.len()))
        .fold(0usize, usize::saturating_add);
    if count > MAX_CANDIDATES {
        return Err(Error::config(
            "max-terms",
            format!(
                "{count} subsets of a pool of {} terms is more than {MAX_CANDIDATES}; lower \
                 the maximum number of terms or use the forward search",
                settings.pool.len()
            ),
        ));
    }
    let mut sets = Vec::with_capacity(count);
    for size in settings.required.len()..=largest {
        for chosen in combinations(free.len(), size - settings.required.len()) {
            let mut set: Vec<String> = settings.required.clone();
            set.extend(chosen.iter().map(|&i| free[i].clone()));
            sets.push(canonical_order(set));
        }
    }
    Ok(sets)
}

/// `n` choose `k`, saturating.
fn binomial(n: usize, k: usize) -> usize {
    if k > n {
        return 0;
    }
    (0..k).fold(1usize, |acc, i| acc.saturating_mul(n - i) / (i + 1))
}

/// Every `k`-combination of `0..n`, in lexicographic order.
fn combinations(n: usize, k: usize) -> Vec<Vec<usize>> {
    fn extend(
        start: usize,
        n: usize,
        k: usize,
        current: &mut Vec<usize>,
        out: &mut Vec<Vec<usize>>,
    ) {
        if current.len() == k {
            out.push(current.clone());
            return;
        }
        for i in start..n {
            current.push(i);
            extend(i + 1, n, k, current, out);
            current.pop();
        }
    }
    let mut out = Vec::new();
    extend(0, n, k, &mut Vec::with_capacity(k), &mut out);
    out
}

/// Most candidate sets of a subset search.
pub const MAX_CANDIDATES: usize = 100_000;

fn canonical_order(mut terms: Vec<String>) -> Vec<String> {
    terms.sort_by_key(|t| {
        Term::parse(t, Variables::Xywr)
            .ok()
            .and_then(|t| t.index(Variables::Xywr))
            .unwrap_or(usize::MAX)
    });
    terms
}

fn check_terms(settings: &SelectionSettings) -> Result<()> {
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

/// The data of one selection: the dataset with the inputs the model is driven by, and
/// each fold's training and held-out sessions.
struct Folds {
    data: BehaviourDataset,
    training: Vec<BehaviourDataset>,
    heldout: Vec<BehaviourDataset>,
    heldout_sessions: Vec<Vec<usize>>,
}

impl Folds {
    fn new(dataset: &BehaviourDataset, settings: &SelectionSettings) -> Result<Folds> {
        let mut data = dataset.clone();
        if settings.fit.inputs == InputSource::Resampled {
            data.inputs = resample_inputs(dataset, settings.fit.input_seed)?;
        }
        let heldout_sessions = session_folds(data.n_sessions(), settings.folds);
        let mut training = Vec::new();
        let mut heldout = Vec::new();
        for held in &heldout_sessions {
            let kept: Vec<usize> = (0..data.n_sessions())
                .filter(|s| !held.contains(s))
                .collect();
            training.push(data.select_sessions(&kept)?);
            heldout.push(data.select_sessions(held)?);
        }
        Ok(Folds {
            data,
            training,
            heldout,
            heldout_sessions,
        })
    }
}

/// One fit: on all sessions (`None`) or without fold `f`'s sessions.
type Part = Option<usize>;

/// The mean cross-entropy of every session of `data` at `theta`.
fn session_losses(data: &BehaviourDataset, fit: &BehaviourFitSettings, theta: &[f64]) -> Vec<f64> {
    BehaviourObjective::new(
        data,
        data.inputs.clone(),
        circuit_of(data, fit.weight_bound),
        TaylorRule::new(Variables::Xywr),
        fit.gradient,
    )
    .session_losses(theta)
    .0
}

/// Fits `terms` on a part and returns θ̂ and the per-session mean cross-entropies of
/// the sessions it is scored on (all sessions, or the fold's held-out ones).
fn run_part(
    folds: &Folds,
    fit: &BehaviourFitSettings,
    terms: &[String],
    part: Part,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let (training, scored) = match part {
        None => (&folds.data, &folds.data),
        Some(f) => (&folds.training[f], &folds.heldout[f]),
    };
    let theta = if terms.is_empty() {
        vec![0.0; Variables::Xywr.n_terms()]
    } else {
        let settings = BehaviourFitSettings {
            trainable: terms.join(","),
            inputs: InputSource::Recorded,
            eval_sessions: 0,
            ..fit.clone()
        };
        fit_behaviour(training, &settings, &mut |_| ControlFlow::Continue(()))?
            .outcome
            .theta
    };
    let losses = session_losses(scored, fit, &theta);
    Ok((theta, losses))
}

fn sample_sd(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    if values.len() < 2 {
        return 0.0;
    }
    let mean = values.iter().sum::<f64>() / n;
    (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
}

/// Scores term sets: each set's folds and full fit run in parallel.
fn score_sets(
    folds: &Folds,
    settings: &SelectionSettings,
    sets: &[Vec<String>],
    on_fit: &(dyn Fn() + Sync),
    journal: &dyn Journal,
) -> Result<Vec<CandidateScore>> {
    let k_folds = folds.heldout_sessions.len();
    let jobs: Vec<(usize, Part)> = (0..sets.len())
        .flat_map(|c| {
            std::iter::once(None)
                .chain((0..k_folds).map(Some))
                .map(move |p| (c, p))
        })
        .collect();
    let results: Vec<Option<(Vec<f64>, Vec<f64>)>> = jobs
        .par_iter()
        .map(|&(c, part)| {
            let key = match part {
                None => format!("select/{}/all", sets[c].join(",")),
                Some(fold) => format!("select/{}/fold{fold}", sets[c].join(",")),
            };
            let result = unit(journal, &key, || {
                run_part(folds, &settings.fit, &sets[c], part)
            });
            if !sets[c].is_empty() {
                on_fit();
            }
            result
        })
        .collect::<Result<_>>()?;
    let results = all_or_interrupted("the term selection", results)?;
    let n_sessions = folds.data.n_sessions();
    let n_presentations: usize = folds.data.n_presentations.iter().sum();
    let mut results = results.into_iter();
    let mut scores = Vec::with_capacity(sets.len());
    for set in sets {
        let (theta, all_losses) = results.next().expect("one result per job");
        let negative_log_likelihood: f64 = all_losses
            .iter()
            .zip(&folds.data.n_presentations)
            .map(|(l, &p)| l * p as f64)
            .sum();
        let mut session_deviances = vec![0.0; n_sessions];
        let mut fold_deviances = Vec::with_capacity(k_folds);
        for held in &folds.heldout_sessions {
            let (_, losses) = results.next().expect("one result per job");
            let mut fold = 0.0;
            for (&s, l) in held.iter().zip(&losses) {
                session_deviances[s] = 2.0 * l * folds.data.n_presentations[s] as f64;
                fold += session_deviances[s];
            }
            fold_deviances.push(fold);
        }
        let heldout_deviance: f64 = fold_deviances.iter().sum();
        let indices: Vec<usize> = set
            .iter()
            .filter_map(|t| Term::parse(t, Variables::Xywr).ok())
            .filter_map(|t| t.index(Variables::Xywr))
            .collect();
        scores.push(CandidateScore {
            terms: set.clone(),
            rank: 0,
            heldout_deviance: nan_to_inf(heldout_deviance),
            deviance_se: (k_folds as f64).sqrt() * sample_sd(&fold_deviances),
            fold_deviances,
            session_deviances,
            difference_from_best: 0.0,
            difference_se: 0.0,
            negative_log_likelihood,
            aic: aic(set.len(), negative_log_likelihood),
            bic: bic(set.len(), n_presentations, negative_log_likelihood),
            coefficients: indices.iter().map(|&k| theta[k]).collect(),
            within_tolerance: false,
        });
    }
    Ok(scores)
}

fn nan_to_inf(value: f64) -> f64 {
    if value.is_nan() {
        f64::INFINITY
    } else {
        value
    }
}

/// Ranks the scores, fills in the differences from the best and the equivalence set.
fn rank(mut scores: Vec<CandidateScore>, tolerance: Tolerance) -> Vec<CandidateScore> {
    // a stable sort: ties keep fewer terms first, then generation order
    scores.sort_by(|a, b| {
        a.heldout_deviance
            .total_cmp(&b.heldout_deviance)
            .then(a.terms.len().cmp(&b.terms.len()))
    });
    let best = scores[0].session_deviances.clone();
    let best_deviance = scores[0].heldout_deviance;
    let n_sessions = best.len() as f64;
    for (i, score) in scores.iter_mut().enumerate() {
        score.rank = i + 1;
        score.difference_from_best = score.heldout_deviance - best_deviance;
        let differences: Vec<f64> = score
            .session_deviances
            .iter()
            .zip(&best)
            .map(|(a, b)| a - b)
            .collect();
        score.difference_se = n_sessions.sqrt() * sample_sd(&differences);
        let allowed = match tolerance {
            Tolerance::Deviance(units) => units,
            Tolerance::StandardErrors(m) => m * score.difference_se,
        };
        score.within_tolerance = score.difference_from_best <= allowed;
    }
    scores
}

/// Runs the selection on `dataset`; `on_fit` is called after every fit (from any
/// thread), e.g. to advance a progress bar. Each fit (a term set's full fit or one
/// fold's) is a unit of `journal`: recorded when done, replayed when resumed, skipped
/// once a stop is requested ([`Error::Interrupted`]).
pub fn select_terms(
    dataset: &BehaviourDataset,
    settings: &SelectionSettings,
    on_fit: &(dyn Fn() + Sync),
    journal: &dyn Journal,
) -> Result<Selection> {
    check_settings(settings, dataset.n_sessions())?;
    let folds = Folds::new(dataset, settings)?;
    let scores = match settings.search {
        SearchKind::Subsets => {
            let sets = subset_candidates(settings)?;
            score_sets(&folds, settings, &sets, on_fit, journal)?
        }
        SearchKind::Forward => {
            let mut scored = score_sets(
                &folds,
                settings,
                std::slice::from_ref(&settings.required),
                on_fit,
                journal,
            )?;
            let mut current = scored[0].clone();
            while current.terms.len() < settings.max_terms {
                let sets: Vec<Vec<String>> = settings
                    .pool
                    .iter()
                    .filter(|t| !current.terms.contains(t))
                    .map(|t| {
                        let mut set = current.terms.clone();
                        set.push(t.clone());
                        canonical_order(set)
                    })
                    .collect();
                if sets.is_empty() {
                    break;
                }
                let step = score_sets(&folds, settings, &sets, on_fit, journal)?;
                let best = step
                    .iter()
                    .min_by(|a, b| a.heldout_deviance.total_cmp(&b.heldout_deviance))
                    .expect("a non-empty step")
                    .clone();
                scored.extend(step);
                if best.heldout_deviance < current.heldout_deviance {
                    current = best;
                } else {
                    break;
                }
            }
            scored
        }
        SearchKind::Backward => {
            let mut start = settings.pool.clone();
            for t in &settings.required {
                if !start.contains(t) {
                    start.push(t.clone());
                }
            }
            let start = canonical_order(start);
            let mut scored = score_sets(
                &folds,
                settings,
                std::slice::from_ref(&start),
                on_fit,
                journal,
            )?;
            let mut current = scored[0].clone();
            loop {
                let sets: Vec<Vec<String>> = current
                    .terms
                    .iter()
                    .filter(|t| !settings.required.contains(t))
                    .map(|dropped| {
                        current
                            .terms
                            .iter()
                            .filter(|t| *t != dropped)
                            .cloned()
                            .collect()
                    })
                    .collect();
                if sets.is_empty() {
                    break;
                }
                let step = score_sets(&folds, settings, &sets, on_fit, journal)?;
                let best = step
                    .iter()
                    .min_by(|a, b| a.heldout_deviance.total_cmp(&b.heldout_deviance))
                    .expect("a non-empty step")
                    .clone();
                scored.extend(step);
                if best.heldout_deviance < current.heldout_deviance {
                    current = best;
                } else {
                    break;
                }
            }
            scored
        }
    };
    let fits = scores.iter().filter(|s| !s.terms.is_empty()).count() * (settings.folds + 1);
    let candidates = rank(scores, settings.tolerance);
    let l1_path = match &settings.l1_path {
        Some(path) => Some(follow_l1_path(&folds, settings, path)?),
        None => None,
    };
    Ok(Selection {
        best: candidates[0].terms.clone(),
        equivalent: candidates
            .iter()
            .filter(|c| c.within_tolerance)
            .map(|c| c.terms.clone())
            .collect(),
        candidates,
        folds: folds.heldout_sessions,
        n_presentations: dataset.n_presentations.iter().sum(),
        fits,
        l1_path,
    })
}

/// One shard's share of an exhaustive subset search: the candidates `c` with
/// `c mod shards == shard` (in generation order), scored but not ranked; see
/// [`select_shard`] and [`merge_shards`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SelectionShard {
    /// This shard's index, `0 ≤ shard < shards`.
    pub shard: usize,
    /// Number of shards.
    pub shards: usize,
    /// Candidates of the whole search.
    pub total_candidates: usize,
    /// Generation indices of this shard's candidates.
    pub indices: Vec<usize>,
    /// Their scores (rank and differences not yet filled in).
    pub candidates: Vec<CandidateScore>,
    /// The held-out sessions of each fold (the same in every shard).
    pub folds: Vec<Vec<usize>>,
    /// `n = Σ_s P_s`.
    pub n_presentations: usize,
}

/// Scores shard `shard` of `shards` of the subset search of `settings` on `dataset`
/// (so that a large pool runs as a job array: each task one shard, then
/// [`merge_shards`]). Only [`SearchKind::Subsets`] can be sharded (a stepwise search
/// depends on its previous steps), and the L1 path is left to the merge's caller.
pub fn select_shard(
    dataset: &BehaviourDataset,
    settings: &SelectionSettings,
    shard: usize,
    shards: usize,
    on_fit: &(dyn Fn() + Sync),
    journal: &dyn Journal,
) -> Result<SelectionShard> {
    check_settings(settings, dataset.n_sessions())?;
    if shards == 0 || shard >= shards {
        return Err(Error::config(
            "shard",
            format!("must be I/N with 0 ≤ I < N, got {shard}/{shards}"),
        ));
    }
    if settings.search != SearchKind::Subsets {
        return Err(Error::config(
            "shard",
            "only the exhaustive subset search can be split into shards (a stepwise \
             search depends on its previous steps)",
        ));
    }
    let folds = Folds::new(dataset, settings)?;
    let all = subset_candidates(settings)?;
    let indices: Vec<usize> = (0..all.len()).filter(|c| c % shards == shard).collect();
    let sets: Vec<Vec<String>> = indices.iter().map(|&c| all[c].clone()).collect();
    let candidates = score_sets(&folds, settings, &sets, on_fit, journal)?;
    Ok(SelectionShard {
        shard,
        shards,
        total_candidates: all.len(),
        indices,
        candidates,
        folds: folds.heldout_sessions,
        n_presentations: dataset.n_presentations.iter().sum(),
    })
}

/// Ranks the candidates of every shard of one sharded search together, exactly as
/// [`select_terms`] ranks an unsharded one (the same candidates in the same generation
/// order give the same ranking). Errors ([`Error::Config`], key `shards`) unless the
/// shards are all `N` of one search, each once.
pub fn merge_shards(shards: &[SelectionShard], tolerance: Tolerance) -> Result<Selection> {
    let Some(first) = shards.first() else {
        return Err(Error::config("shards", "none given: nothing to merge"));
    };
    let n = first.shards;
    let mut seen = vec![false; n];
    for s in shards {
        if s.shards != n
            || s.total_candidates != first.total_candidates
            || s.folds != first.folds
            || s.n_presentations != first.n_presentations
        {
            return Err(Error::config(
                "shards",
                format!(
                    "shard {}/{} does not belong to the same search as shard {}/{} \
                     (different shard count, candidates, folds or data)",
                    s.shard, s.shards, first.shard, first.shards
                ),
            ));
        }
        if s.shard >= n || seen[s.shard] {
            return Err(Error::config(
                "shards",
                format!("shard {}/{n} is given twice or out of range", s.shard),
            ));
        }
        seen[s.shard] = true;
    }
    if let Some(missing) = seen.iter().position(|s| !s) {
        return Err(Error::config(
            "shards",
            format!("shard {missing}/{n} is missing"),
        ));
    }
    let mut indexed: Vec<(usize, CandidateScore)> = shards
        .iter()
        .flat_map(|s| s.indices.iter().copied().zip(s.candidates.iter().cloned()))
        .collect();
    indexed.sort_by_key(|(c, _)| *c);
    let scores: Vec<CandidateScore> = indexed.into_iter().map(|(_, c)| c).collect();
    let folds = first.folds.len();
    let fits = scores.iter().filter(|s| !s.terms.is_empty()).count() * (folds + 1);
    let candidates = rank(scores, tolerance);
    Ok(Selection {
        best: candidates[0].terms.clone(),
        equivalent: candidates
            .iter()
            .filter(|c| c.within_tolerance)
            .map(|c| c.terms.clone())
            .collect(),
        candidates,
        folds: first.folds.clone(),
        n_presentations: first.n_presentations,
        fits,
        l1_path: None,
    })
}

/// The L1 path of the pool on `dataset` alone (see the module documentation), with λ
/// chosen by the cross-validation of `settings`.
pub fn l1_path(dataset: &BehaviourDataset, settings: &SelectionSettings) -> Result<L1Path> {
    check_settings(settings, dataset.n_sessions())?;
    let folds = Folds::new(dataset, settings)?;
    let path = settings.l1_path.clone().unwrap_or_default();
    follow_l1_path(&folds, settings, &path)
}

fn objective_of<'a>(
    data: &'a BehaviourDataset,
    fit: &BehaviourFitSettings,
) -> BehaviourObjective<'a, TaylorRule> {
    BehaviourObjective::new(
        data,
        data.inputs.clone(),
        circuit_of(data, fit.weight_bound),
        TaylorRule::new(Variables::Xywr),
        fit.gradient,
    )
}

fn soft_threshold(value: f64, threshold: f64) -> f64 {
    value.signum() * (value.abs() - threshold).max(0.0)
}

/// Accelerated proximal gradient descent (FISTA, with a backtracking step and an
/// adaptive restart of the momentum whenever the penalised loss rises) along the λ
/// sequence, warm-started; returns θ and the iterations at each λ. A λ ends when an
/// iteration changes no coefficient by more than `tolerance · max(1, max_k |θ_k|)`.
pub fn proximal_path<O: Objective>(
    objective: &O,
    pool: &[usize],
    lambdas: &[f64],
    settings: &L1PathSettings,
) -> Vec<(Vec<f64>, usize)> {
    let items: Vec<usize> = (0..objective.n_items()).collect();
    let n = objective.n_parameters();
    let l1 = |theta: &[f64]| pool.iter().map(|&k| theta[k].abs()).sum::<f64>();
    let mut theta = vec![0.0; n];
    let mut step = 1.0;
    let mut gradient = vec![0.0; n];
    let mut path = Vec::with_capacity(lambdas.len());
    for &lambda in lambdas {
        let mut iterations = 0;
        let mut y = theta.clone();
        let mut momentum = 1.0f64;
        let mut objective_value = objective.loss(&theta, &items) + lambda * l1(&theta);
        while iterations < settings.iterations {
            let loss = objective.loss_and_gradient(&y, &items, &mut gradient);
            if !loss.is_finite() {
                break;
            }
            let mut accepted = None;
            let step_before = step;
            // the loss alone and the loss with its gradient are summed along different
            // code paths: allow for their rounding in the sufficient-decrease test
            let slack = 1e-12 * loss.abs().max(1.0);
            for _ in 0..60 {
                let mut candidate = y.clone();
                let mut linear = 0.0;
                let mut squared = 0.0;
                for &k in pool {
                    candidate[k] = soft_threshold(y[k] - step * gradient[k], step * lambda);
                    let d = candidate[k] - y[k];
                    linear += gradient[k] * d;
                    squared += d * d;
                }
                let trial = objective.loss(&candidate, &items);
                if trial.is_finite() && trial <= loss + linear + squared / (2.0 * step) + slack {
                    accepted = Some((candidate, trial));
                    break;
                }
                step *= 0.5;
            }
            let Some((candidate, trial)) = accepted else {
                // no decrease at any step: stationary as far as the loss can tell; keep
                // the step for the next λ
                step = step_before;
                break;
            };
            iterations += 1;
            let value = trial + lambda * l1(&candidate);
            if value > objective_value {
                // restart: drop the momentum and step from θ itself
                if momentum == 1.0 {
                    break;
                }
                momentum = 1.0;
                y = theta.clone();
                continue;
            }
            let change = pool
                .iter()
                .map(|&k| (candidate[k] - theta[k]).abs())
                .fold(0.0, f64::max);
            let scale = pool.iter().map(|&k| candidate[k].abs()).fold(1.0, f64::max);
            let next = (1.0 + (1.0 + 4.0 * momentum * momentum).sqrt()) / 2.0;
            let beta = (momentum - 1.0) / next;
            y = candidate
                .iter()
                .zip(&theta)
                .map(|(c, t)| c + beta * (c - t))
                .collect();
            momentum = next;
            theta = candidate;
            objective_value = value;
            step *= 1.1;
            if change <= settings.tolerance * scale {
                break;
            }
        }
        path.push((theta.clone(), iterations));
    }
    path
}

fn follow_l1_path(
    folds: &Folds,
    settings: &SelectionSettings,
    path: &L1PathSettings,
) -> Result<L1Path> {
    let pool: Vec<usize> = settings
        .pool
        .iter()
        .filter_map(|t| Term::parse(t, Variables::Xywr).ok())
        .filter_map(|t| t.index(Variables::Xywr))
        .collect();
    let n = Variables::Xywr.n_terms();
    let full = objective_of(&folds.data, &settings.fit);
    let items: Vec<usize> = (0..full.n_items()).collect();
    let mut gradient = vec![0.0; n];
    full.loss_and_gradient(&vec![0.0; n], &items, &mut gradient);
    let lambda_max = pool.iter().map(|&k| gradient[k].abs()).fold(0.0, f64::max);
    if !(lambda_max.is_finite() && lambda_max > 0.0) {
        return Err(Error::config(
            "l1-path",
            format!("the loss gradient at θ = 0 is {lambda_max} on every pool term: no path"),
        ));
    }
    let m = path.lambdas;
    let lambdas: Vec<f64> = (0..m)
        .map(|j| lambda_max * path.ratio.powf(j as f64 / (m - 1) as f64))
        .collect();
    let k_folds = folds.heldout_sessions.len();
    let parts: Vec<Part> = std::iter::once(None)
        .chain((0..k_folds).map(Some))
        .collect();
    let paths: Vec<Vec<(Vec<f64>, usize)>> = parts
        .par_iter()
        .map(|&part| {
            let data = match part {
                None => &folds.data,
                Some(f) => &folds.training[f],
            };
            proximal_path(&objective_of(data, &settings.fit), &pool, &lambdas, path)
        })
        .collect();
    let mut fold_deviances = vec![vec![0.0; k_folds]; m];
    for (f, held) in folds.heldout.iter().enumerate() {
        let per_lambda: Vec<f64> = paths[f + 1]
            .par_iter()
            .map(|(theta, _)| {
                session_losses(held, &settings.fit, theta)
                    .iter()
                    .zip(&held.n_presentations)
                    .map(|(l, &p)| 2.0 * l * p as f64)
                    .sum()
            })
            .collect();
        for (j, d) in per_lambda.into_iter().enumerate() {
            fold_deviances[j][f] = d;
        }
    }
    let heldout_deviance: Vec<f64> = fold_deviances
        .iter()
        .map(|d| nan_to_inf(d.iter().sum()))
        .collect();
    let deviance_se: Vec<f64> = fold_deviances
        .iter()
        .map(|d| (k_folds as f64).sqrt() * sample_sd(d))
        .collect();
    let index_min = (0..m)
        .min_by(|&a, &b| heldout_deviance[a].total_cmp(&heldout_deviance[b]))
        .expect("at least 2 λ values");
    let threshold = heldout_deviance[index_min] + deviance_se[index_min];
    let index_1se = (0..=index_min)
        .find(|&j| heldout_deviance[j] <= threshold)
        .unwrap_or(index_min);
    let coefficients: Vec<Vec<f64>> = paths[0]
        .iter()
        .map(|(theta, _)| pool.iter().map(|&k| theta[k]).collect())
        .collect();
    Ok(L1Path {
        terms: settings.pool.clone(),
        nonzero: coefficients
            .iter()
            .map(|c: &Vec<f64>| c.iter().filter(|v| **v != 0.0).count())
            .collect(),
        iterations: paths[0].iter().map(|p| p.1).collect(),
        coefficients,
        lambda_min: lambdas[index_min],
        lambda_1se: lambdas[index_1se],
        lambdas,
        heldout_deviance,
        deviance_se,
        index_min,
        index_1se,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fit::OptimizerKind;
    use crate::journal::NoJournal;
    use crate::task::BehaviourTask;

    fn small_dataset(rule: &str, sessions: usize, seed: u64) -> BehaviourDataset {
        BehaviourTask {
            sessions,
            trials_per_block: 40,
            rule: rule.into(),
            seed,
            ..BehaviourTask::default()
        }
        .simulate()
        .expect("a simulated dataset")
    }

    fn quick_settings(pool: &str, max_terms: usize, folds: usize) -> SelectionSettings {
        let mut settings = SelectionSettings {
            pool: parse_terms(pool, "pool").unwrap(),
            max_terms,
            folds,
            ..SelectionSettings::default()
        };
        settings.fit.fit.optimizer = OptimizerKind::Lbfgs;
        settings.fit.fit.epochs = 40;
        settings
    }

    #[test]
    fn folds_hold_out_every_session_exactly_once() {
        for n in 2..30 {
            for k in 2..=n {
                let folds = session_folds(n, k);
                assert_eq!(folds.len(), k);
                let mut seen = vec![0; n];
                for fold in &folds {
                    assert!(!fold.is_empty(), "n {n} k {k}");
                    fold.iter().for_each(|&s| seen[s] += 1);
                }
                assert!(seen.iter().all(|&c| c == 1), "n {n} k {k}: {seen:?}");
                let sizes: Vec<usize> = folds.iter().map(Vec::len).collect();
                assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1);
            }
        }
    }

    #[test]
    fn information_criteria_match_a_hand_computation() {
        // 3 terms, NLL 100, 1000 presentations
        assert_eq!(aic(3, 100.0), 206.0);
        assert!((bic(3, 1000, 100.0) - (3.0 * 6.907_755_278_982_137 + 200.0)).abs() < 1e-12);
        assert_eq!(aic(0, 50.0), 100.0);
    }

    #[test]
    fn subsets_are_counted_and_contain_the_required_terms() {
        let mut settings = quick_settings("x*r,1,w,r", 2, 2);
        assert_eq!(settings.pool, ["1", "r", "w", "x*r"]);
        let sets = subset_candidates(&settings).unwrap();
        assert_eq!(sets.len(), 1 + 4 + 6);
        assert!(sets[0].is_empty());
        let mut unique = sets.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), sets.len());
        settings.required = vec!["x*r".into()];
        let sets = subset_candidates(&settings).unwrap();
        assert_eq!(sets.len(), 1 + 3);
        assert!(sets.iter().all(|s| s.contains(&"x*r".to_string())));
        settings.max_terms = 3;
        assert_eq!(subset_candidates(&settings).unwrap().len(), 1 + 3 + 3);
    }

    #[test]
    fn bad_settings_name_their_flag() {
        let key = |e: Error| match e {
            Error::Config { key, .. } => key,
            other => panic!("{other}"),
        };
        assert_eq!(key(parse_terms("x*r,q", "pool").unwrap_err()), "pool");
        assert_eq!(key(parse_terms("x*r,r*x", "pool").unwrap_err()), "pool");
        assert_eq!(key(parse_terms("x^3", "required").unwrap_err()), "required");
        assert_eq!(key(parse_terms("x*r,,w", "pool").unwrap_err()), "pool");
        let mut settings = quick_settings("x*r,w", 2, 2);
        settings.required = vec!["y".into()];
        assert_eq!(key(check_settings(&settings, 10).unwrap_err()), "required");
        let settings = quick_settings("x*r,w", 0, 2);
        assert_eq!(key(check_settings(&settings, 10).unwrap_err()), "max-terms");
        let settings = quick_settings("x*r,w", 2, 11);
        assert_eq!(key(check_settings(&settings, 10).unwrap_err()), "folds");
        let mut settings = quick_settings("x*r,w", 2, 2);
        settings.tolerance = Tolerance::Deviance(f64::NAN);
        assert_eq!(key(check_settings(&settings, 10).unwrap_err()), "tolerance");
    }

    #[test]
    fn the_generating_set_is_among_the_best_and_a_wrong_one_is_worse() {
        let data = small_dataset("x*r", 8, 3);
        let settings = quick_settings("r,x*r,w", 2, 4);
        let selection = select_terms(&data, &settings, &|| {}, &NoJournal).unwrap();
        assert_eq!(selection.candidates.len(), 1 + 3 + 3);
        let score = |terms: &[&str]| {
            selection
                .candidates
                .iter()
                .find(|c| c.terms == terms)
                .unwrap_or_else(|| panic!("{terms:?} scored"))
        };
        let truth = score(&["x*r"]);
        assert!(truth.within_tolerance, "{:#?}", selection.candidates);
        assert!(selection.equivalent.contains(&vec!["x*r".to_string()]));
        // r moves both odours' weights alike and cannot learn which odour pays
        for wrong in [&["r"][..], &["w"], &[]] {
            let wrong = score(wrong);
            assert!(!wrong.within_tolerance);
            assert!(
                wrong.heldout_deviance > truth.heldout_deviance + 10.0,
                "{wrong:?} against {truth:?}"
            );
        }
        assert!(truth.coefficients[0] > 0.0);
        // the ranking is by held-out deviance and AIC/BIC follow their formulas
        for pair in selection.candidates.windows(2) {
            assert!(pair[0].heldout_deviance <= pair[1].heldout_deviance);
        }
        let n = selection.n_presentations;
        assert_eq!(n, data.n_presentations.iter().sum::<usize>());
        for c in &selection.candidates {
            assert_eq!(c.aic, aic(c.terms.len(), c.negative_log_likelihood));
            assert_eq!(c.bic, bic(c.terms.len(), n, c.negative_log_likelihood));
            let folds: f64 = c.fold_deviances.iter().sum();
            let sessions: f64 = c.session_deviances.iter().sum();
            assert!((folds - c.heldout_deviance).abs() < 1e-9 * folds);
            assert!((sessions - c.heldout_deviance).abs() < 1e-9 * folds);
        }
    }

    #[test]
    fn shards_merge_into_the_unsharded_selection() {
        let data = small_dataset("x*r - 0.05*w", 4, 7);
        let settings = quick_settings("x*r,w,r", 2, 2);
        let whole = select_terms(&data, &settings, &|| {}, &NoJournal).unwrap();
        let shards: Vec<SelectionShard> = (0..3)
            .map(|i| select_shard(&data, &settings, i, 3, &|| {}, &NoJournal).unwrap())
            .collect();
        assert_eq!(
            shards.iter().map(|s| s.candidates.len()).sum::<usize>(),
            whole.candidates.len()
        );
        // shards in any order give the unsharded result exactly
        let reversed: Vec<SelectionShard> = shards.iter().rev().cloned().collect();
        assert_eq!(merge_shards(&reversed, settings.tolerance).unwrap(), whole);
        // a missing, repeated or foreign shard is an error naming the shards
        let missing = merge_shards(&shards[..2], settings.tolerance).unwrap_err();
        assert!(missing.to_string().contains("2/3 is missing"), "{missing}");
        let twice = vec![shards[0].clone(), shards[0].clone(), shards[1].clone()];
        assert!(merge_shards(&twice, settings.tolerance).is_err());
        let mut foreign = shards.clone();
        foreign[1].total_candidates += 1;
        assert!(merge_shards(&foreign, settings.tolerance)
            .unwrap_err()
            .to_string()
            .contains("same search"));
        assert!(select_shard(&data, &settings, 3, 3, &|| {}, &NoJournal).is_err());
        let mut stepwise = settings.clone();
        stepwise.search = SearchKind::Forward;
        assert!(select_shard(&data, &stepwise, 0, 2, &|| {}, &NoJournal)
            .unwrap_err()
            .to_string()
            .contains("shard"));
    }

    #[test]
    fn backward_search_drops_terms_the_data_do_not_need() {
        let data = small_dataset("x*r", 8, 3);
        let mut settings = quick_settings("r,x*r,w", 3, 4);
        settings.search = SearchKind::Backward;
        let selection = select_terms(&data, &settings, &|| {}, &NoJournal).unwrap();
        // the full pool is scored first, then every set one term smaller
        let scored = |terms: &[&str]| selection.candidates.iter().any(|c| c.terms == terms);
        assert!(scored(&["r", "w", "x*r"]));
        assert!(scored(&["w", "x*r"]) && scored(&["r", "x*r"]) && scored(&["r", "w"]));
        // x*r is never dropped: every set without it is far worse
        assert!(
            selection.best.contains(&"x*r".to_string()),
            "{:?}",
            selection.best
        );
        assert!(selection.best.len() < 3, "{:?}", selection.best);
        // each step keeps the best of its sets, so the best has the lowest deviance
        for pair in selection.candidates.windows(2) {
            assert!(pair[0].heldout_deviance <= pair[1].heldout_deviance);
        }
    }

    #[test]
    fn results_do_not_depend_on_the_thread_count() {
        let data = small_dataset("x*r - 0.05*w", 4, 5);
        let mut settings = quick_settings("x*r,w", 2, 2);
        settings.fit.fit.epochs = 10;
        settings.search = SearchKind::Forward;
        settings.l1_path = Some(L1PathSettings {
            lambdas: 4,
            iterations: 10,
            ..L1PathSettings::default()
        });
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| select_terms(&data, &settings, &|| {}, &NoJournal).unwrap())
        };
        let one = run(1);
        assert_eq!(one, run(2));
        assert!(one.candidates.len() >= 2);
    }

    #[test]
    fn the_l1_path_starts_at_zero_and_lets_the_generating_term_in_first() {
        let data = small_dataset("x*r", 8, 3);
        let mut settings = quick_settings("r,x*r,w", 3, 4);
        settings.l1_path = Some(L1PathSettings {
            lambdas: 8,
            ratio: 1e-2,
            iterations: 60,
            ..L1PathSettings::default()
        });
        let path = l1_path(&data, &settings).unwrap();
        assert_eq!(path.terms, ["r", "w", "x*r"]);
        assert_eq!(path.nonzero[0], 0, "{:?}", path.coefficients[0]);
        for pair in path.lambdas.windows(2) {
            assert!(pair[0] > pair[1]);
        }
        // the first term to enter is x*r, positive, and it stays in
        let first = path
            .nonzero
            .iter()
            .position(|&n| n > 0)
            .expect("a term enters");
        assert!(path.coefficients[first][2] > 0.0, "{:?}", path.coefficients);
        assert!(path.coefficients.last().unwrap()[2] > 0.0);
        assert!(path.index_1se <= path.index_min);
        assert!(path.heldout_deviance[path.index_min] < path.heldout_deviance[0]);
        assert_eq!(path.lambda_min, path.lambdas[path.index_min]);
    }
}
