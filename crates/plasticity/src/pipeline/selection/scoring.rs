//! Scoring candidate term sets by cross-validated held-out negative log-likelihood
//! (each fold fitted on the other sessions), and ranking them (the smallest set
//! within the tolerance of the best).

use std::ops::ControlFlow;

use rayon::prelude::*;

use super::candidates::{aic, bic, session_folds};
use super::outcome::CandidateScore;
use super::settings::{SelectionSettings, Tolerance};
use crate::data::BehaviourDataset;
use crate::journal::{all_or_interrupted, unit, Journal};
use crate::objective::BehaviourObjective;
use crate::pipeline::behaviour::InputSource;
use crate::pipeline::behaviour::{
    circuit_of, fit_behaviour, resample_inputs, BehaviourFitSettings,
};
use crate::rule::{TaylorRule, Term, Variables};
use crate::Result;

/// The data of one selection: the dataset with the inputs the model is driven by, and
/// each fold's training and held-out sessions.
pub(super) struct Folds {
    pub(super) data: BehaviourDataset,
    pub(super) training: Vec<BehaviourDataset>,
    pub(super) heldout: Vec<BehaviourDataset>,
    pub(super) heldout_sessions: Vec<Vec<usize>>,
}

impl Folds {
    pub(super) fn new(dataset: &BehaviourDataset, settings: &SelectionSettings) -> Result<Folds> {
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
pub(super) type Part = Option<usize>;

/// The mean cross-entropy of every session of `data` at `theta`.
pub(super) fn session_losses(
    data: &BehaviourDataset,
    fit: &BehaviourFitSettings,
    theta: &[f64],
) -> Result<Vec<f64>> {
    Ok(BehaviourObjective::new(
        data,
        data.inputs.clone(),
        circuit_of(data, fit.weight_bound),
        TaylorRule::new(Variables::Xywr),
        fit.gradient,
    )?
    .session_losses(theta)
    .0)
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
    let losses = session_losses(scored, fit, &theta)?;
    Ok((theta, losses))
}

pub(super) fn sample_sd(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    if values.len() < 2 {
        return 0.0;
    }
    let mean = values.iter().sum::<f64>() / n;
    (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
}

/// Scores term sets: each set's folds and full fit run in parallel.
pub(super) fn score_sets(
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

pub(super) fn nan_to_inf(value: f64) -> f64 {
    if value.is_nan() {
        f64::INFINITY
    } else {
        value
    }
}

/// Ranks the scores, fills in the differences from the best and the equivalence set.
pub(super) fn rank(mut scores: Vec<CandidateScore>, tolerance: Tolerance) -> Vec<CandidateScore> {
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
