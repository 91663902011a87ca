//! The figures of the fly experiment: drawn by `flies`, and again from a `flies`
//! output directory by `run`/`plot`.

use std::path::Path;

use anyhow::{Context, Result};

use plasticity::pipeline::flies::{paired_by_fly, BlockMatching, FlyModelFit, ModelFamily};
use plasticity::pipeline::population::PopulationFit;
use plasticity::report::figures::{
    coefficient_distributions_by_subject, line_panels, paired_plot, CoefficientPanel, LinePanel,
    Series,
};

/// Redraws the figures of a `flies` output directory from its `fits.json`; returns the
/// number of files written.
pub(crate) fn plot_from_dir(dir: &Path) -> Result<usize> {
    let path = dir.join("fits.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading {} (written by `plasticity flies`)", path.display()))?;
    #[derive(serde::Deserialize)]
    struct Saved {
        models: Vec<String>,
        fits: Vec<FlyModelFit>,
        population: Vec<PopulationFit>,
        #[serde(default)]
        matching: Vec<BlockMatching>,
    }
    let saved: Saved =
        serde_json::from_str(&text).with_context(|| format!("reading {}", path.display()))?;
    write_figures(
        &dir.join("figures"),
        &saved.fits,
        &saved.models,
        &saved.population,
        &saved.matching,
    )
}

/// A model name as a file-name fragment: `1,x,r,x*r` → `1_x_r_xr`.
fn file_fragment(model: &str) -> String {
    model
        .chars()
        .filter_map(|c| match c {
            c if c.is_ascii_alphanumeric() => Some(c),
            ',' | '-' | ' ' => Some('_'),
            '^' => Some('p'),
            _ => None,
        })
        .collect()
}

/// The figures of the fly experiment (PNG and SVG each): per pair of models, the
/// paired per-fly percent deviance; per model, each coefficient across flies (the
/// reported fits) and the profile-likelihood intervals around the maximum-likelihood
/// estimates; per shared rule, its per-fly percent deviance against the per-fly fits.
pub(crate) fn write_figures(
    dir: &Path,
    fits: &[FlyModelFit],
    models: &[String],
    population: &[PopulationFit],
    matching: &[BlockMatching],
) -> Result<usize> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating figure directory {}", dir.display()))?;
    let mut written = paired_figures(dir, fits, models)?;
    // each fly's marker: its place among all flies, the same in every figure
    let mut flies: Vec<&str> = Vec::new();
    for fit in fits {
        if !flies.contains(&fit.fly.as_str()) {
            flies.push(&fit.fly);
        }
    }
    for model in models {
        written += coefficient_figures(dir, &of_model(fits, model), model, &flies)?;
    }
    for shared in population {
        written += shared_rule_figure(dir, fits, shared)?;
    }
    if !matching.is_empty() {
        written += matching_law_figure(dir, matching, models)?;
    }
    Ok(written)
}

/// The matching law per block (one panel each): every fly's fraction of choices of
/// odour 1 against the fraction of its rewards earned from it, the data and each
/// model's prediction (markers), beside perfect matching (dashed diagonal).
fn matching_law_figure(dir: &Path, rows: &[BlockMatching], models: &[String]) -> Result<usize> {
    let blocks = rows.iter().map(|r| r.block + 1).max().unwrap_or(0);
    let mut panels = Vec::new();
    for block in 0..blocks {
        let of_block: Vec<&BlockMatching> = rows
            .iter()
            .filter(|r| r.block == block && r.reward_fraction.is_some())
            .collect();
        if of_block.is_empty() {
            continue;
        }
        let points = |value: &dyn Fn(&BlockMatching) -> Option<f64>| -> Vec<(f64, f64)> {
            of_block
                .iter()
                .filter_map(|r| Some((r.reward_fraction?, value(r)?)))
                .collect()
        };
        let mut series = vec![
            Series::new("matching", vec![(0.0, 0.0), (1.0, 1.0)])
                .dashed()
                .colour(6),
            Series::new("data", points(&|r| Some(r.choice_fraction)))
                .markers_only()
                .colour(0),
        ];
        for (k, model) in models.iter().enumerate() {
            let predicted = points(&|r| r.predicted.get(model).copied());
            if !predicted.is_empty() {
                series.push(
                    Series::new(model.clone(), predicted)
                        .markers_only()
                        .colour(k + 1),
                );
            }
        }
        panels.push(LinePanel {
            title: format!("block {}", block + 1),
            x_label: "fraction of rewards from odour 2".into(),
            y_label: "fraction of choices of odour 2".into(),
            series,
            log_x: false,
            log_y: false,
        });
    }
    if panels.is_empty() {
        return Ok(0);
    }
    Ok(line_panels(&dir.join("matching_law"), &panels)
        .context("drawing the matching-law figure")?
        .len())
}

/// The fits of `model`.
fn of_model<'a>(fits: &'a [FlyModelFit], model: &str) -> Vec<&'a FlyModelFit> {
    fits.iter().filter(|f| f.model == model).collect()
}

/// Per pair of models, the paired per-fly percent deviance (in-sample and held out).
fn paired_figures(dir: &Path, fits: &[FlyModelFit], models: &[String]) -> Result<usize> {
    let mut written = 0;
    for (i, a) in models.iter().enumerate() {
        for b in &models[i + 1..] {
            let pairs = paired_by_fly(fits, a, b);
            if pairs.is_empty() {
                continue;
            }
            for (what, heldout) in [
                ("percent_deviance", false),
                ("heldout_percent_deviance", true),
            ] {
                let value = |f: &FlyModelFit| {
                    if heldout {
                        f.heldout_percent_deviance
                    } else {
                        f.percent_deviance
                    }
                };
                written += paired_plot(
                    &dir.join(format!(
                        "{what}_{}_vs_{}",
                        file_fragment(a),
                        file_fragment(b)
                    )),
                    &format!(
                        "{} per fly",
                        if heldout {
                            "Held-out % deviance explained"
                        } else {
                            "% deviance explained"
                        }
                    ),
                    "% deviance explained",
                    &pairs.iter().map(|(x, _)| x.fly.clone()).collect::<Vec<_>>(),
                    &format!("{{{a}}}"),
                    &pairs.iter().map(|(x, _)| value(x)).collect::<Vec<_>>(),
                    &format!("{{{b}}}"),
                    &pairs.iter().map(|(_, y)| value(y)).collect::<Vec<_>>(),
                )?
                .len();
            }
        }
    }
    Ok(written)
}

/// A model's coefficients across flies, and its profile-likelihood intervals (with
/// the forgetting term `w` on its own axis).
fn coefficient_figures(
    dir: &Path,
    group: &[&FlyModelFit],
    model: &str,
    all_flies: &[&str],
) -> Result<usize> {
    let markers = |group: &[&FlyModelFit]| -> (Vec<String>, Vec<usize>) {
        group
            .iter()
            .map(|f| {
                let marker = all_flies.iter().position(|n| *n == f.fly).unwrap_or(0);
                (f.fly.clone(), marker)
            })
            .unzip()
    };
    let mut written = 0;
    {
        // the baseline's parameters have different units: no shared axis for them
        let Some(first) = group
            .first()
            .filter(|f| f.family == ModelFamily::PlasticityRule)
        else {
            return Ok(written);
        };
        let panels: Vec<CoefficientPanel> = first
            .terms
            .iter()
            .enumerate()
            .map(|(k, term)| CoefficientPanel {
                term: term.clone(),
                values: group.iter().map(|f| f.theta[k]).collect(),
                intervals: None,
            })
            .collect();
        let (flies, marks) = markers(group);
        written += coefficient_distributions_by_subject(
            &dir.join(format!("coefficients_{}", file_fragment(model))),
            &format!("Fitted coefficients across flies, {{{model}}}"),
            &flies,
            &marks,
            &panels,
        )?
        .len();
        // flies without intervals (never a rejection: no finite estimate) are left out
        let group: Vec<&FlyModelFit> = group
            .iter()
            .copied()
            .filter(|f| f.intervals.len() == f.terms.len())
            .collect();
        if let Some(first) = group.first() {
            let panels: Vec<CoefficientPanel> = first
                .terms
                .iter()
                .enumerate()
                .map(|(k, term)| {
                    let estimates: Vec<f64> =
                        group.iter().map(|f| f.intervals[k].estimate).collect();
                    CoefficientPanel {
                        term: term.clone(),
                        // an open end is drawn as no bar on that side
                        intervals: Some(
                            group
                                .iter()
                                .zip(&estimates)
                                .map(|(f, e)| {
                                    (
                                        f.intervals[k].lower.unwrap_or(*e),
                                        f.intervals[k].upper.unwrap_or(*e),
                                    )
                                })
                                .collect(),
                        ),
                        values: estimates,
                    }
                })
                .collect();
            let (flies, marks) = markers(&group);
            written += coefficient_distributions_by_subject(
                &dir.join(format!("intervals_{}", file_fragment(model))),
                &format!(
                    "Maximum-likelihood coefficients, 95 % profile intervals ({} flies), {{{model}}}",
                    group.len()
                ),
                &flies,
                &marks,
                &panels,
            )?
            .len();
            // the forgetting term on its own axis (another term's wide interval would
            // flatten it in the figure above)
            if let Some(w) = panels.iter().find(|p| p.term == "w") {
                written += coefficient_distributions_by_subject(
                    &dir.join(format!("intervals_w_{}", file_fragment(model))),
                    &format!(
                        "θ_w per fly: maximum likelihood and 95 % profile interval, {{{model}}}"
                    ),
                    &flies,
                    &marks,
                    std::slice::from_ref(w),
                )?
                .len();
            }
        }
    }
    Ok(written)
}

/// A shared rule's per-fly percent deviance (each fly held out) against the per-fly
/// fits of its model.
fn shared_rule_figure(dir: &Path, fits: &[FlyModelFit], shared: &PopulationFit) -> Result<usize> {
    let mut written = 0;
    {
        let own = of_model(fits, &shared.model);
        let pairs: Vec<(&FlyModelFit, f64)> = shared
            .flies
            .iter()
            .filter_map(|p| {
                own.iter()
                    .find(|f| f.fly == p.fly)
                    .map(|f| (*f, p.cross_fly_percent_deviance))
            })
            .collect();
        written += paired_plot(
            &dir.join(format!("shared_rule_{}", file_fragment(&shared.model))),
            &format!("One rule per fly or one for all, {{{}}}", shared.model),
            "% deviance explained",
            &pairs.iter().map(|(f, _)| f.fly.clone()).collect::<Vec<_>>(),
            "own rule, fitted to the fly",
            &pairs
                .iter()
                .map(|(f, _)| f.percent_deviance)
                .collect::<Vec<_>>(),
            "shared, fly held out",
            &pairs.iter().map(|(_, v)| *v).collect::<Vec<_>>(),
        )?
        .len();
    }
    Ok(written)
}
