//! A selection split into shards (for a cluster's array jobs): each shard scores
//! its share of the candidates; the merge ranks them all as one selection would.

use super::scoring::rank;
use super::scoring::score_sets;
use super::scoring::Folds;

use serde::{Deserialize, Serialize};

use super::candidates::subset_candidates;
use super::outcome::{CandidateScore, Selection};
use super::settings::{check_settings, SearchKind, SelectionSettings, Tolerance};
use crate::data::BehaviourDataset;
use crate::journal::Journal;
use crate::{Error, Result};

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
/// [`super::select_terms`] ranks an unsharded one (the same candidates in the same generation
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
