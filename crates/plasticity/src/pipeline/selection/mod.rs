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

mod candidates;
mod l1;
mod outcome;
mod scoring;
mod settings;
mod shards;

pub use candidates::{aic, bic, session_folds, subset_candidates, MAX_CANDIDATES};
pub use l1::{l1_path, proximal_path};
pub use outcome::{CandidateScore, L1Path, Selection};
pub use settings::{
    check_settings, parse_terms, L1PathSettings, SearchKind, SelectionSettings, Tolerance,
};
pub use shards::{merge_shards, select_shard, SelectionShard};

use candidates::canonical_order;
use l1::follow_l1_path;
use scoring::{rank, score_sets, Folds};

use crate::data::BehaviourDataset;
use crate::journal::Journal;
use crate::Result;

/// Runs the selection on `dataset`; `on_fit` is called after every fit (from any
/// thread), e.g. to advance a progress bar. Each fit (a term set's full fit or one
/// fold's) is a unit of `journal`: recorded when done, replayed when resumed, skipped
/// once a stop is requested ([`crate::Error::Interrupted`]).
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fit::OptimizerKind;
    use crate::journal::NoJournal;
    use crate::task::BehaviourTask;
    use crate::Error;

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
