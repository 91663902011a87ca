//! The candidate term sets and the information criteria: every subset of the
//! optional terms (`C(n, k)` of each size), session folds, AIC `2k + 2 NLL` and BIC
//! `k ln n + 2 NLL`.

use super::settings::check_terms;

use super::settings::SelectionSettings;
use crate::rule::{Term, Variables};
use crate::{Error, Result};

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
/// pool's canonical order. Errors as [`super::check_settings`].
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

pub(super) fn canonical_order(mut terms: Vec<String>) -> Vec<String> {
    terms.sort_by_key(|t| {
        Term::parse(t, Variables::Xywr)
            .ok()
            .and_then(|t| t.index(Variables::Xywr))
            .unwrap_or(usize::MAX)
    });
    terms
}
