//! Models compared across flies: per-coefficient summaries, the signs of the
//! intervals, and the paired Wilcoxon signed-rank test of the losses.

use serde::{Deserialize, Serialize};

use super::model::FlyModelFit;
use crate::analysis::metrics::{median, quantile, wilcoxon_signed_rank, WilcoxonTest};

/// How the 95 % intervals of one term fall across the flies fitted under one model.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntervalSigns {
    /// Flies fitted under the model.
    pub flies: usize,
    /// Flies with a profile-likelihood interval (both ends finite).
    pub profile: usize,
    /// Of those, intervals entirely below 0.
    pub profile_below_zero: usize,
    /// Of those, intervals entirely above 0.
    pub profile_above_zero: usize,
    /// Flies with a Laplace interval.
    pub laplace: usize,
    /// Of those, intervals entirely below 0.
    pub laplace_below_zero: usize,
    /// Of those, intervals entirely above 0.
    pub laplace_above_zero: usize,
    /// Flies with a NUTS posterior interval.
    #[serde(default)]
    pub posterior: usize,
    /// Of those, intervals entirely below 0.
    #[serde(default)]
    pub posterior_below_zero: usize,
    /// Of those, intervals entirely above 0.
    #[serde(default)]
    pub posterior_above_zero: usize,
}

/// Counts, over the per-fly fits of `model`, the flies whose 95 % interval of `term` is
/// entirely below or above 0 (profile and Laplace intervals separately; a fly without
/// an interval, e.g. one that never rejects, counts in `flies` only).
pub fn interval_signs(fits: &[FlyModelFit], model: &str, term: &str) -> IntervalSigns {
    let mut signs = IntervalSigns::default();
    for fit in fits.iter().filter(|f| f.model == model) {
        signs.flies += 1;
        let Some(interval) = fit.intervals.iter().find(|i| i.term == term) else {
            continue;
        };
        if let (Some(low), Some(high)) = (interval.lower, interval.upper) {
            signs.profile += 1;
            signs.profile_below_zero += usize::from(high < 0.0);
            signs.profile_above_zero += usize::from(low > 0.0);
        }
        if let (Some(low), Some(high)) = (interval.laplace_lower, interval.laplace_upper) {
            signs.laplace += 1;
            signs.laplace_below_zero += usize::from(high < 0.0);
            signs.laplace_above_zero += usize::from(low > 0.0);
        }
        if let (Some(low), Some(high)) = (interval.posterior_lower, interval.posterior_upper) {
            signs.posterior += 1;
            signs.posterior_below_zero += usize::from(high < 0.0);
            signs.posterior_above_zero += usize::from(low > 0.0);
        }
    }
    signs
}

/// Median and spread of one coefficient across flies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CoefficientSummary {
    /// Canonical term name.
    pub term: String,
    /// Median across flies.
    pub median: f64,
    /// 25th percentile.
    pub q25: f64,
    /// 75th percentile.
    pub q75: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
    /// Flies whose coefficient is negative.
    pub negative: usize,
}

/// Model `b` against model `a`, paired by fly.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelComparison {
    /// The baseline model.
    pub model_a: String,
    /// The model compared with it.
    pub model_b: String,
    /// Flies in both.
    pub flies: usize,
    /// Flies whose percent deviance is higher under `b`.
    pub flies_improved: usize,
    /// Median of `pd_b − pd_a`.
    pub median_difference: f64,
    /// Wilcoxon signed-rank test of `pd_b − pd_a`.
    pub wilcoxon: WilcoxonTest,
    /// Flies whose held-out percent deviance is higher under `b`.
    pub heldout_flies_improved: usize,
    /// Median held-out difference.
    pub heldout_median_difference: f64,
    /// Wilcoxon test of the held-out differences.
    pub heldout_wilcoxon: WilcoxonTest,
}

/// The fits of models `a` and `b` to the same flies, paired by fly (in `a`'s order).
pub fn paired_by_fly<'a>(
    fits: &'a [FlyModelFit],
    a: &str,
    b: &str,
) -> Vec<(&'a FlyModelFit, &'a FlyModelFit)> {
    fits.iter()
        .filter(|x| x.model == a)
        .filter_map(|x| {
            fits.iter()
                .find(|y| y.model == b && y.fly == x.fly)
                .map(|y| (x, y))
        })
        .collect()
}

/// Comparisons of every pair of models (each later model against each earlier one),
/// and the coefficient summaries of every model.
pub fn compare_models(
    fits: &[FlyModelFit],
    models: &[String],
) -> (Vec<ModelComparison>, Vec<(String, Vec<CoefficientSummary>)>) {
    let of =
        |model: &str| -> Vec<&FlyModelFit> { fits.iter().filter(|f| f.model == model).collect() };
    let mut comparisons = Vec::new();
    for (i, a) in models.iter().enumerate() {
        for b in &models[i + 1..] {
            let pairs = paired_by_fly(fits, a, b);
            let diff: Vec<f64> = pairs
                .iter()
                .map(|(x, y)| y.percent_deviance - x.percent_deviance)
                .collect();
            let held: Vec<f64> = pairs
                .iter()
                .map(|(x, y)| y.heldout_percent_deviance - x.heldout_percent_deviance)
                .collect();
            comparisons.push(ModelComparison {
                model_a: a.clone(),
                model_b: b.clone(),
                flies: pairs.len(),
                flies_improved: diff.iter().filter(|d| **d > 0.0).count(),
                median_difference: median(&diff),
                wilcoxon: wilcoxon_signed_rank(&diff),
                heldout_flies_improved: held.iter().filter(|d| **d > 0.0).count(),
                heldout_median_difference: median(&held),
                heldout_wilcoxon: wilcoxon_signed_rank(&held),
            });
        }
    }
    let summaries = models
        .iter()
        .map(|model| {
            let group = of(model);
            let terms = group.first().map(|f| f.terms.clone()).unwrap_or_default();
            let summary = terms
                .iter()
                .enumerate()
                .map(|(i, term)| {
                    let values: Vec<f64> = group.iter().map(|f| f.theta[i]).collect();
                    CoefficientSummary {
                        term: term.clone(),
                        median: median(&values),
                        q25: quantile(&values, 0.25),
                        q75: quantile(&values, 0.75),
                        min: quantile(&values, 0.0),
                        max: quantile(&values, 1.0),
                        negative: values.iter().filter(|v| **v < 0.0).count(),
                    }
                })
                .collect();
            (model.clone(), summary)
        })
        .collect();
    (comparisons, summaries)
}
