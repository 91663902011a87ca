//! The L1 path: proximal gradient descent `θ ← S_{ηλ}(θ − η∇L(θ))`, with
//! `S_τ(v) = sign(v) max(|v| − τ, 0)`, over a decreasing sequence of `λ`, each warm-
//! started from the last; the terms that enter as `λ` falls.

use super::scoring::nan_to_inf;
use super::scoring::sample_sd;
use super::scoring::session_losses;
use super::scoring::Folds;
use super::scoring::Part;

use rayon::prelude::*;

use super::outcome::L1Path;
use super::settings::{check_settings, L1PathSettings, SelectionSettings};
use crate::data::BehaviourDataset;
use crate::objective::{BehaviourObjective, Objective};
use crate::pipeline::behaviour::{circuit_of, BehaviourFitSettings};
use crate::rule::{TaylorRule, Term, Variables};
use crate::{Error, Result};

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
) -> Result<BehaviourObjective<'a, TaylorRule>> {
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

pub(super) fn follow_l1_path(
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
    let full = objective_of(&folds.data, &settings.fit)?;
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
            Ok(proximal_path(
                &objective_of(data, &settings.fit)?,
                &pool,
                &lambdas,
                path,
            ))
        })
        .collect::<Result<_>>()?;
    let mut fold_deviances = vec![vec![0.0; k_folds]; m];
    for (f, held) in folds.heldout.iter().enumerate() {
        let per_lambda: Vec<f64> = paths[f + 1]
            .par_iter()
            .map(|(theta, _)| {
                Ok(session_losses(held, &settings.fit, theta)?
                    .iter()
                    .zip(&held.n_presentations)
                    .map(|(l, &p)| 2.0 * l * p as f64)
                    .sum())
            })
            .collect::<Result<_>>()?;
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
