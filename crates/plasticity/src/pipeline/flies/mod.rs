//! Real flies (docs/model.md §4.3): each fly fitted on its own with several draws of the
//! unknowable sensory noise and initial weights (the median reported), models (sets of
//! Taylor terms) compared across flies with the paired Wilcoxon signed-rank test, and a
//! held-out test: fit on the first trials, predict the rest.

mod compare;
mod draw;
mod matching;
mod model;
mod q_learning;
mod settings;

pub use compare::{
    compare_models, interval_signs, paired_by_fly, CoefficientSummary, IntervalSigns,
    ModelComparison,
};
pub use draw::laplace_intervals;
use draw::{fly_draw, median_intervals};
pub(crate) use draw::{heldout_loss, heldout_null_loss};
pub use matching::{matching_by_block, BlockMatching};
pub use model::{
    block_means, model_terms, CoefficientInterval, FlyDraw, FlyModelFit, ModelFamily,
    Q_LEARNING_FORGETTING_MODEL, Q_LEARNING_MODEL,
};
use q_learning::{choice_q_learning_fit, q_learning_fit};
pub use settings::{first_trials, FlySettings};
pub(crate) use settings::{fly_dataset, fly_fit_settings};

use rayon::prelude::*;

use crate::analysis::metrics::median;
use crate::baseline::ChoiceQVariant;
use crate::data::{BehaviourKind, FlyRecording};
use crate::journal::{all_or_interrupted, unit, Journal, NoJournal};
use crate::{Error, Result};

/// Fits every fly under every model (all draws in parallel).
pub fn fit_flies(recordings: &[FlyRecording], settings: &FlySettings) -> Result<Vec<FlyModelFit>> {
    fit_flies_journaled(recordings, settings, &NoJournal)
}

/// [`fit_flies`], each fly's draw under each model (and each fly's Q-learning
/// baseline) a unit of `journal`: recorded when done, replayed when resumed, skipped
/// once a stop is requested ([`Error::Interrupted`]).
pub fn fit_flies_journaled(
    recordings: &[FlyRecording],
    settings: &FlySettings,
    journal: &dyn Journal,
) -> Result<Vec<FlyModelFit>> {
    if settings.resamples == 0 {
        return Err(Error::config("resamples", "must be at least 1"));
    }
    if !(settings.training_fraction > 0.0 && settings.training_fraction < 1.0) {
        return Err(Error::config(
            "training-fraction",
            format!("must be in (0, 1), got {}", settings.training_fraction),
        ));
    }
    let mut jobs = Vec::new();
    for recording in recordings {
        for model in &settings.models {
            model_terms(model)?;
            for draw in 0..settings.resamples {
                jobs.push((recording, model.as_str(), draw));
            }
        }
    }
    let draws: Vec<Option<FlyDraw>> = jobs
        .par_iter()
        .map(|(recording, model, draw)| {
            let key = format!("flies/{}/{model}/draw{draw}", recording.name);
            unit(journal, &key, || {
                fly_draw(recording, model, settings, *draw)
            })
            .map_err(|e| {
                Error::config(
                    "flies",
                    format!("fly {}, model '{model}': {e}", recording.name),
                )
            })
        })
        .collect::<Result<_>>()?;
    let draws = all_or_interrupted("the per-fly fits", draws)?;
    let mut results = Vec::new();
    for (group, chunk) in jobs
        .chunks(settings.resamples)
        .zip(draws.chunks(settings.resamples))
    {
        let (recording, model, _) = group[0];
        let terms = model_terms(model)?;
        let column = |f: &dyn Fn(&FlyDraw) -> f64| median(&chunk.iter().map(f).collect::<Vec<_>>());
        let theta = (0..terms.len()).map(|i| column(&|d| d.theta[i])).collect();
        let negative_log_likelihood = column(&|d| d.negative_log_likelihood);
        results.push(FlyModelFit {
            fly: recording.name.clone(),
            model: model.to_string(),
            family: ModelFamily::PlasticityRule,
            aic: 2.0 * terms.len() as f64 + 2.0 * negative_log_likelihood,
            negative_log_likelihood,
            intervals: median_intervals(chunk),
            terms,
            percent_deviance: column(&|d| d.percent_deviance),
            heldout_percent_deviance: column(&|d| d.heldout_percent_deviance),
            theta,
            block_choice_fractions: median_columns(
                &chunk
                    .iter()
                    .map(|d| d.block_choice_fractions.clone())
                    .collect::<Vec<_>>(),
            ),
            heldout_loss_per_decision: chunk
                .iter()
                .map(|d| d.heldout_loss_per_decision)
                .collect::<Option<Vec<f64>>>()
                .map(|v| median(&v)),
            draws: chunk.to_vec(),
        });
    }
    if settings.q_learning {
        let variants: &[Option<ChoiceQVariant>] = match settings.task {
            BehaviourKind::AcceptReject => &[None],
            BehaviourKind::Choice => &[
                Some(ChoiceQVariant::Plain),
                Some(ChoiceQVariant::Forgetting),
            ],
        };
        let jobs: Vec<(&FlyRecording, Option<ChoiceQVariant>)> = recordings
            .iter()
            .flat_map(|r| variants.iter().map(move |&v| (r, v)))
            .collect();
        let baselines: Vec<Option<FlyModelFit>> = jobs
            .par_iter()
            .map(|&(recording, variant)| {
                let name = match variant {
                    Some(ChoiceQVariant::Forgetting) => Q_LEARNING_FORGETTING_MODEL,
                    _ => Q_LEARNING_MODEL,
                };
                let key = format!("flies/{}/{name}", recording.name);
                unit(journal, &key, || match variant {
                    None => q_learning_fit(recording, settings),
                    Some(variant) => choice_q_learning_fit(recording, settings, variant),
                })
                .map_err(|e| {
                    Error::config(
                        "flies",
                        format!("fly {}, {name} baseline: {e}", recording.name),
                    )
                })
            })
            .collect::<Result<_>>()?;
        let baselines = all_or_interrupted("the Q-learning baselines", baselines)?;
        results.extend(baselines);
    }
    Ok(results)
}

/// The median of each column of `rows` (rows of equal length; none: empty).
fn median_columns(rows: &[Vec<f64>]) -> Vec<f64> {
    let width = rows.iter().map(Vec::len).min().unwrap_or(0);
    (0..width)
        .map(|i| median(&rows.iter().map(|r| r[i]).collect::<Vec<_>>()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fit::FitConfig;

    fn fixture_fly() -> FlyRecording {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/flies/Fly1.mat");
        crate::data::load_fly_mat(path).expect("the committed Fly1 fixture loads")
    }

    #[test]
    fn first_trials_cut_at_a_trial_boundary() {
        let fly = fixture_fly();
        let (first, kept) = first_trials(&fly, 0.75);
        assert_eq!(kept, 180);
        assert_eq!(first.n_trials(), 180);
        assert_eq!(first.rewards, fly.rewards[..180].to_vec());
        // the cut ends with the 180th trial's accept, and the next presentation starts trial 180
        assert_eq!(first.decisions.last(), Some(&1));
        assert_eq!(fly.trial_of_presentation[first.n_presentations()], 180);
        first.validate().expect("a valid recording");
    }

    #[test]
    fn models_are_fitted_per_fly_and_compared() {
        let flies = vec![fixture_fly()];
        let settings = FlySettings {
            resamples: 2,
            fit: FitConfig {
                epochs: 20,
                ..FlySettings::default().fit
            },
            ..FlySettings::default()
        };
        let fits = fit_flies(&flies, &settings).expect("fits");
        assert_eq!(fits.len(), 3, "two rules and the Q-learning baseline");
        for fit in &fits[..2] {
            assert_eq!(fit.family, ModelFamily::PlasticityRule);
            assert_eq!(fit.draws.len(), 2);
            assert_ne!(fit.draws[0].theta, fit.draws[1].theta, "draws differ");
            assert!(fit.percent_deviance.is_finite() && fit.heldout_percent_deviance.is_finite());
            // a fit explains more than the plasticity-free circuit on its own data
            assert!(fit.percent_deviance > 0.0, "{}", fit.percent_deviance);
            assert_eq!(fit.intervals.len(), fit.terms.len());
        }
        for fit in &fits {
            for interval in &fit.intervals {
                // a profile interval brackets its maximum-likelihood estimate
                if let Some(lower) = interval.lower {
                    assert!(lower < interval.estimate, "{interval:?}");
                }
                if let Some(upper) = interval.upper {
                    assert!(upper > interval.estimate, "{interval:?}");
                }
            }
        }
        // Laplace intervals of the rules are symmetric about the same estimate as the
        // profile's (on this fly they can be much wider than the profile intervals: see
        // docs/identifiability.md)
        for fit in &fits[..2] {
            for interval in &fit.intervals {
                let (low, high) = (
                    interval.laplace_lower.expect("a Laplace interval"),
                    interval.laplace_upper.expect("a Laplace interval"),
                );
                assert!(
                    low < interval.estimate && interval.estimate < high,
                    "{interval:?}"
                );
                let centre = 0.5 * (low + high);
                assert!(
                    (centre - interval.estimate).abs() <= 1e-9 * (high - low),
                    "{interval:?}"
                );
            }
        }
        let signs = interval_signs(&fits, &settings.models[1], "w");
        assert_eq!(signs.flies, 1);
        assert_eq!(signs.laplace, 1);
        let w = fits[1]
            .intervals
            .iter()
            .find(|i| i.term == "w")
            .expect("θ_w");
        assert_eq!(
            signs.laplace_below_zero,
            usize::from(w.laplace_upper.expect("upper") < 0.0)
        );
        assert_eq!(interval_signs(&fits, "no such model", "w").flies, 0);
        // canonical order (x, y, w, r exponents), whatever order the model was written in
        assert_eq!(fits[1].terms, ["1", "r", "w", "x", "x*r"]);
        let baseline = &fits[2];
        assert_eq!(baseline.family, ModelFamily::QLearning);
        assert_eq!(baseline.model, Q_LEARNING_MODEL);
        assert_eq!(baseline.theta.len(), 4);
        assert!(
            baseline.percent_deviance > 0.0,
            "{}",
            baseline.percent_deviance
        );
        assert_eq!(baseline.intervals.len(), 4);
        assert!((baseline.aic - (8.0 + 2.0 * baseline.negative_log_likelihood)).abs() < 1e-9);
        let mut models = settings.models.clone();
        models.push(Q_LEARNING_MODEL.into());
        let (comparisons, summaries) = compare_models(&fits, &models);
        assert_eq!(comparisons.len(), 3);
        assert_eq!(comparisons[0].flies, 1);
        assert_eq!(summaries.len(), 3);
        assert_eq!(summaries[1].1.len(), 5);
        // the same settings give the same fits
        assert_eq!(fit_flies(&flies, &settings).expect("fits"), fits);
    }

    #[test]
    fn posterior_intervals_sit_beside_the_profile_and_laplace_ones() {
        let flies = vec![fixture_fly()];
        let settings = FlySettings {
            models: vec!["1,x,r,x*r,w".into()],
            resamples: 1,
            fit: FitConfig {
                epochs: 20,
                ..FlySettings::default().fit
            },
            q_learning: false,
            posterior: Some(crate::analysis::posterior::NutsSettings {
                chains: 2,
                draws: 150,
                warmup: 150,
                ..crate::analysis::posterior::NutsSettings::default()
            }),
            ..FlySettings::default()
        };
        let fits = fit_flies(&flies, &settings).expect("fits");
        let fit = &fits[0];
        assert!(fit.draws[0].posterior_divergences.is_some());
        for interval in &fit.intervals {
            let (low, high) = (
                interval.posterior_lower.expect("a posterior interval"),
                interval.posterior_upper.expect("a posterior interval"),
            );
            assert!(low < high, "{interval:?}");
            assert!(interval.posterior_rhat.expect("R-hat").is_finite());
            // the posterior interval overlaps the Laplace one (same data, same θ̂)
            let (l, h) = (
                interval.laplace_lower.expect("Laplace"),
                interval.laplace_upper.expect("Laplace"),
            );
            assert!(low < h && l < high, "{interval:?}");
        }
        let signs = interval_signs(&fits, "1,x,r,x*r,w", "w");
        assert_eq!(signs.posterior, 1);
        // without posterior settings there are no posterior intervals
        let plain = FlySettings {
            posterior: None,
            ..settings
        };
        let fits = fit_flies(&flies, &plain).expect("fits");
        assert!(fits[0]
            .intervals
            .iter()
            .all(|i| i.posterior_lower.is_none()));
        assert!(fits[0].draws[0].posterior_divergences.is_none());
    }

    #[test]
    fn one_rule_is_shared_by_all_flies_and_cross_validated_by_fly() {
        let fly = fixture_fly();
        let (mut second, _) = first_trials(&fly, 0.6);
        second.name = "Fly1-first-trials".into();
        let flies = vec![fly, second];
        let settings = FlySettings {
            models: vec!["1,x,r,x*r".into()],
            resamples: 1,
            fit: FitConfig {
                epochs: 10,
                ..FlySettings::default().fit
            },
            q_learning: false,
            intervals: true,
            population_folds: 2,
            ..FlySettings::default()
        };
        let per_fly = fit_flies(&flies, &settings).expect("per-fly fits");
        let shared =
            super::super::population::fit_population(&flies, &settings, &per_fly).expect("shared");
        assert_eq!(shared.len(), 1);
        let fit = &shared[0];
        assert_eq!(fit.theta.len(), 4);
        assert_eq!(fit.flies.len(), 2);
        for fly in &fit.flies {
            assert!(fly.percent_deviance.is_finite());
            assert!(fly.heldout_percent_deviance.is_finite());
            assert!(fly.cross_fly_percent_deviance.is_finite());
        }
        // one set of 4 coefficients against one per fly
        let nll: f64 = fit.flies.iter().map(|f| f.negative_log_likelihood).sum();
        assert!((fit.aic - (8.0 + 2.0 * nll)).abs() < 1e-9);
        // the shared rule's Laplace intervals bracket its maximum-likelihood estimate
        assert_eq!(fit.intervals.len(), 4);
        for interval in &fit.intervals {
            let (low, high) = (
                interval.laplace_lower.expect("a Laplace interval"),
                interval.laplace_upper.expect("a Laplace interval"),
            );
            assert!(
                low < interval.estimate && interval.estimate < high,
                "{interval:?}"
            );
        }
        assert_eq!(fit.heldout_against_per_fly.flies, 2);
        // more folds than flies is refused
        let too_many = FlySettings {
            population_folds: 3,
            ..settings.clone()
        };
        assert!(super::super::population::fit_population(&flies, &too_many, &per_fly).is_err());
    }

    /// Splits one CSV line, honouring double quotes (model names hold commas).
    fn csv_fields(line: &str) -> Vec<String> {
        let (mut fields, mut field, mut quoted) = (Vec::new(), String::new(), false);
        for c in line.chars() {
            match c {
                '"' => quoted = !quoted,
                ',' if !quoted => fields.push(std::mem::take(&mut field)),
                _ => field.push(c),
            }
        }
        fields.push(field);
        fields
    }

    /// `per_fly.csv`'s `<column>_mle` is the estimate its profile and Laplace
    /// intervals belong to: every one lies inside both, also as medians over draws.
    #[test]
    fn per_fly_estimates_lie_inside_their_intervals() {
        let flies = vec![fixture_fly()];
        let settings = FlySettings {
            resamples: 2,
            interval_draws: 2,
            fit: FitConfig {
                epochs: 10,
                ..FlySettings::default().fit
            },
            ..FlySettings::default()
        };
        let fits = fit_flies(&flies, &settings).expect("fits");
        let table = crate::report::flies_per_fly_csv(&fits);
        let mut lines = table.lines();
        let header = csv_fields(lines.next().expect("header"));
        let column = |name: &str| header.iter().position(|c| c == name);
        let mut checked = 0;
        for line in lines {
            let row = csv_fields(line);
            assert_eq!(row.len(), header.len(), "{line}");
            let value =
                |k: Option<usize>| -> Option<f64> { k.and_then(|k| row[k].parse::<f64>().ok()) };
            for (k, name) in header.iter().enumerate() {
                let Some(base) = name.strip_suffix("_mle") else {
                    continue;
                };
                let Some(estimate) = value(Some(k)) else {
                    continue;
                };
                for (low, high) in [("lower", "upper"), ("laplace_lower", "laplace_upper")] {
                    let lower = value(column(&format!("{base}_{low}")));
                    let upper = value(column(&format!("{base}_{high}")));
                    if let Some(lower) = lower {
                        assert!(
                            lower <= estimate,
                            "{base}_{low} {lower} > {estimate}: {line}"
                        );
                        checked += 1;
                    }
                    if let Some(upper) = upper {
                        assert!(
                            estimate <= upper,
                            "{base}_{high} {upper} < {estimate}: {line}"
                        );
                        checked += 1;
                    }
                }
            }
        }
        // two rules (5 and 4 terms, profile and Laplace) and the baseline's profile
        // intervals: most ends are finite
        assert!(checked >= 20, "only {checked} interval ends checked");
        assert!(column("theta_w_mle").is_some() && column("learning_rate_mle").is_some());
    }

    #[test]
    fn a_flys_choices_are_fitted_against_both_q_learning_agents() {
        let fly = fixture_fly();
        let choices = fly.as_choices();
        // every trial offers both odours, the accepted one chosen, rejections left out
        assert_eq!(choices.n_presentations(), 2 * fly.n_trials());
        assert_eq!(choices.rewards, fly.rewards);
        for (p, (&decision, &trial)) in fly
            .decisions
            .iter()
            .zip(&fly.trial_of_presentation)
            .enumerate()
        {
            if decision == 1 {
                let offered = 2 * trial as usize;
                let chosen = offered + fly.odours[p] as usize;
                assert_eq!(choices.decisions[chosen], 1);
                assert_eq!(choices.decisions[offered + 1 - fly.odours[p] as usize], 0);
            }
        }
        let settings = FlySettings {
            resamples: 1,
            task: BehaviourKind::Choice,
            heldout_from_trial: Some(160),
            intervals: true,
            fit: FitConfig {
                epochs: 20,
                ..FlySettings::default().fit
            },
            ..FlySettings::default()
        };
        let fits = fit_flies(std::slice::from_ref(&fly), &settings).expect("fits");
        let names: Vec<&str> = fits.iter().map(|f| f.model.as_str()).collect();
        assert_eq!(
            names,
            [
                "1,x,r,x*r",
                "1,x,r,x*r,w",
                Q_LEARNING_MODEL,
                Q_LEARNING_FORGETTING_MODEL
            ]
        );
        for fit in &fits {
            // three blocks of 80 trials, each a probability
            assert_eq!(fit.block_choice_fractions.len(), 3, "{}", fit.model);
            assert!(fit
                .block_choice_fractions
                .iter()
                .all(|p| (0.0..=1.0).contains(p)));
            assert!(fit.percent_deviance.is_finite() && fit.heldout_percent_deviance.is_finite());
            // every coefficient has an interval (a choice fly need not reject)
            assert_eq!(fit.intervals.len(), fit.terms.len(), "{}", fit.model);
        }
        // the plain agent is the forgetting one at λ = 0: it explains no more
        assert!(fits[3].negative_log_likelihood <= fits[2].negative_log_likelihood + 1e-6);
        let rows = matching_by_block(std::slice::from_ref(&fly), &fits);
        assert_eq!(rows.len(), 3);
        assert!(rows.iter().all(|r| r.predicted.len() == 4));
        // the data's fractions: choices of odour 1 per block, from the accepted odours
        let first_block = fly
            .decisions
            .iter()
            .zip(&fly.trial_of_presentation)
            .zip(&fly.odours)
            .filter(|((&d, &t), _)| d == 1 && t < 80)
            .map(|(_, &o)| o as f64)
            .sum::<f64>()
            / 80.0;
        assert!((rows[0].choice_fraction - first_block).abs() < 1e-12);
    }
}
