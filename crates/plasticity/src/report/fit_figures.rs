//! The figures of one fit, drawn by `plasticity fit --out DIR` and `plasticity oja
//! --out DIR` into `DIR/figures/` (PNG and SVG each): the loss over the epochs
//! (`loss`), the coefficients with their 95 % intervals (`coefficients`, Taylor rules
//! only) and, for a neural fit whose generating rule is known, the weights of four
//! synapses over a fresh trajectory under both rules (`weights`).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::analysis::metrics::{neural_weight_trajectories, WeightTrajectories};
use crate::data::NeuralDataset;
use crate::pipeline::neural::{fresh_trajectories, NeuralFit};
use crate::rule::{Rule, TaylorRule, Variables};
use crate::Result;

use super::coefficient_uncertainty;
use super::figures::{
    coefficient_intervals, line_plot, CoefficientInterval, Determination, Series,
};

/// What [`fit_figures`] draws.
#[derive(Clone, Debug)]
pub struct FitFigures<'a> {
    /// The loss after each epoch (`loss_history` of `results.json`).
    pub loss_history: &'a [f64],
    /// The description of the loss axis.
    pub loss_label: &'a str,
    /// The coefficients' names (as in `coefficients.csv`), or `None` where the rule has
    /// no named coefficients (an MLP): then no coefficient figure is drawn.
    pub coefficient_names: Option<Vec<String>>,
    /// The fitted parameters, in the order of `coefficient_names`.
    pub theta: &'a [f64],
    /// The generating coefficients, where known.
    pub generating: Option<&'a [f64]>,
    /// The fit's `identifiability` section (`None`: a fit without one).
    pub identifiability: Option<&'a Value>,
    /// Weight trajectories to draw, and the description of their time axis.
    pub weights: Option<(&'a WeightTrajectories, &'a str)>,
}

/// Draws the figures of `figures` into `dir` (created if missing): `loss` (log y,
/// left out when no loss is positive), `coefficients` (left out without names) and
/// `weights` (when given); returns the paths written.
pub fn fit_figures(dir: &Path, figures: &FitFigures<'_>) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| crate::Error::io(dir, e))?;
    let mut written = Vec::new();
    let points: Vec<(f64, f64)> = figures
        .loss_history
        .iter()
        .enumerate()
        .filter(|(_, l)| l.is_finite() && **l > 0.0)
        .map(|(k, l)| ((k + 1) as f64, *l))
        .collect();
    if !points.is_empty() {
        written.extend(line_plot(
            &dir.join("loss"),
            "Loss over the fit",
            "epoch",
            figures.loss_label,
            &[Series::new("", points).without_markers()],
            false,
            true,
        )?);
    }
    if let Some(names) = &figures.coefficient_names {
        let rows = interval_rows(
            names,
            figures.theta,
            figures.generating,
            figures.identifiability,
        );
        if !rows.is_empty() {
            let analysed = rows
                .iter()
                .any(|r| r.determination != Determination::NotAnalysed);
            let title = if analysed {
                "Fitted coefficients and 95 % intervals"
            } else {
                "Fitted coefficients (no intervals for this fit)"
            };
            written.extend(coefficient_intervals(
                &dir.join("coefficients"),
                title,
                "coefficient θ",
                &rows,
            )?);
        }
    }
    if let Some((weights, x_label)) = figures.weights {
        written.extend(weights_figure(
            &dir.join("weights"),
            "True (dashed) and fitted (solid) weights",
            x_label,
            weights,
        )?);
    }
    Ok(written)
}

/// The rows of a coefficient-interval plot: each coefficient with its 95 % interval
/// and whether it is determined, from the fit's `identifiability` section (the
/// numbers of `coefficients.csv`'s `lower`, `upper` and `determined`). Where the
/// section analysed some terms, a term it left out (held fixed by `trainable`) is
/// shown only when its value or its generating value is not 0.
pub fn interval_rows(
    names: &[String],
    theta: &[f64],
    generating: Option<&[f64]>,
    identifiability: Option<&Value>,
) -> Vec<CoefficientInterval> {
    let uncertainty = coefficient_uncertainty(names, identifiability);
    let any_analysed = uncertainty
        .coefficients
        .iter()
        .any(|u| u.determined.is_some());
    names
        .iter()
        .enumerate()
        .filter_map(|(k, name)| {
            let u = uncertainty.coefficients.get(k).cloned().unwrap_or_default();
            let value = *theta.get(k)?;
            let generating = generating.and_then(|g| g.get(k).copied());
            let determination = match u.determined {
                Some(true) => Determination::Determined,
                Some(false) => Determination::NotDetermined,
                None => Determination::NotAnalysed,
            };
            let shown = !any_analysed
                || determination != Determination::NotAnalysed
                || value != 0.0
                || generating.is_some_and(|g| g != 0.0);
            let interval = match (u.lower, u.upper) {
                (Some(lo), Some(hi)) if lo.is_finite() && hi.is_finite() && lo <= hi => {
                    Some((lo, hi))
                }
                _ => None,
            };
            (shown && value.is_finite()).then(|| CoefficientInterval {
                term: name.clone(),
                value,
                interval,
                generating: generating.filter(|g| g.is_finite()),
                determination,
            })
        })
        .collect()
}

/// Writes `stem.png` and `stem.svg`: each synapse of `weights` over time, fitted
/// (solid) and generating (dashed) in one colour, labelled "(post i, pre j)" (by its
/// flat index where its position is not known).
pub fn weights_figure(
    stem: &Path,
    title: &str,
    x_label: &str,
    weights: &WeightTrajectories,
) -> Result<Vec<PathBuf>> {
    let mut series = Vec::new();
    for (j, synapse) in weights.synapses.iter().enumerate() {
        let name = match weights.positions.get(j) {
            Some((post, pre)) => format!("(post {post}, pre {pre})"),
            None => format!("synapse {synapse}"),
        };
        let column = |rows: &[Vec<f64>]| -> Vec<(f64, f64)> {
            rows.iter()
                .enumerate()
                .filter_map(|(t, w)| w.get(j).map(|v| ((t + 1) as f64, *v)))
                .filter(|(_, v)| v.is_finite())
                .collect()
        };
        let fitted = column(&weights.fitted);
        let truth = column(&weights.truth);
        if !fitted.is_empty() {
            series.push(
                Series::new(format!("{name}: fitted"), fitted)
                    .without_markers()
                    .colour(j),
            );
        }
        if !truth.is_empty() {
            series.push(
                Series::new(format!("{name}: true"), truth)
                    .dashed()
                    .colour(j),
            );
        }
    }
    if series.is_empty() {
        return Err(crate::Error::config(
            "weights",
            "has no finite weight to draw",
        ));
    }
    line_plot(
        stem,
        title,
        x_label,
        "synaptic weight w (a.u.)",
        &series,
        false,
        false,
    )
}

/// The figures of a neural fit ([`fit_figures`]) into `dir`: loss, coefficients with
/// their intervals (Taylor rules), and, when the generating coefficients are given, the
/// weights of four synapses in different rows and columns of `W` over a fresh
/// trajectory (seeded by `seed`, as the fit's evaluation).
pub fn neural_fit_figures(
    dir: &Path,
    fit: &NeuralFit,
    dataset: &NeuralDataset,
    generating: Option<&[f64]>,
    seed: u64,
) -> Result<Vec<PathBuf>> {
    let weights = match generating {
        Some(truth) => Some(neural_weight_trajectories(
            &TaylorRule::new(Variables::Xyw),
            truth,
            &fit.rule,
            &fit.outcome.theta,
            &fresh_trajectories(dataset, 1, seed),
            4,
        )?),
        None => None,
    };
    let names = fit.rule.as_taylor().map(|_| fit.rule.parameter_names());
    fit_figures(
        dir,
        &FitFigures {
            loss_history: &fit.outcome.loss_history,
            loss_label: "loss (mean squared error of activity)",
            coefficient_names: names,
            theta: &fit.outcome.theta,
            generating: fit.rule.as_taylor().and(generating),
            identifiability: Some(&fit.identifiability),
            weights: weights
                .as_ref()
                .map(|w| (w, "time step t of a fresh trajectory")),
        },
    )
}

/// The figures of a fit of `rule` without weight trajectories (behaviour, circuit,
/// streamed): loss and, for a Taylor rule (`named` true for a circuit's `rule.term`
/// coefficients), the coefficients with whatever intervals `identifiability` holds.
#[allow(clippy::too_many_arguments)]
pub fn rule_fit_figures(
    dir: &Path,
    rule: Option<&Rule>,
    names: &[String],
    theta: &[f64],
    loss_history: &[f64],
    loss_label: &str,
    generating: Option<&[f64]>,
    identifiability: Option<&Value>,
) -> Result<Vec<PathBuf>> {
    let taylor = rule.is_none_or(|r| r.as_taylor().is_some());
    fit_figures(
        dir,
        &FitFigures {
            loss_history,
            loss_label,
            coefficient_names: taylor.then(|| names.to_vec()),
            theta,
            generating: if taylor { generating } else { None },
            identifiability,
            weights: None,
        },
    )
}
