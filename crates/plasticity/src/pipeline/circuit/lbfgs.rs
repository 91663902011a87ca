//! The staged circuit fit by L-BFGS: each horizon stage in chunks, each chunk
//! preconditioned by a Jacobi (diagonal Hutchinson) scale computed where it starts.

use std::ops::ControlFlow;

use rand::rngs::ChaCha8Rng;
use rand::SeedableRng;

use super::settings::CircuitFitSettings;
use crate::data::CircuitDataset;
use crate::fit::{fit, EpochReport, FitCheckpoint, FitConfig, FitOutcome, Parametrisation};
use crate::fit::{ChunkCheckpoint, StageReport};
use crate::objective::{CircuitObjective, Objective};
use crate::Result;

/// The staged fit by preconditioned L-BFGS (see [`CircuitFitSettings::precondition`]).
#[allow(clippy::too_many_arguments)]
pub(super) fn lbfgs_stages(
    dataset: &CircuitDataset,
    settings: &CircuitFitSettings,
    bound: Option<f64>,
    (parametrisation, penalised): (&Parametrisation, &[usize]),
    start: Vec<f64>,
    plan: &[(usize, usize, bool)],
    total_epochs: usize,
    observer: &mut dyn FnMut(&EpochReport<'_>) -> ControlFlow<()>,
) -> Result<(Option<FitOutcome>, Vec<StageReport>)> {
    let mut start = start;
    let mut stages = Vec::new();
    let mut joined: Option<FitOutcome> = None;
    let mut epoch_offset = 0;
    let resume = settings
        .fit
        .resume
        .as_ref()
        .and_then(|c| c.chunked.as_deref());
    if let Some(resume) = resume {
        joined.clone_from(&resume.joined);
        stages.clone_from(&resume.reports);
        epoch_offset = resume.epoch_offset;
    }
    'stages: for (s, &(horizon, stage_epochs, initial_weights_only)) in plan.iter().enumerate() {
        if resume.is_some_and(|r| s < r.stage) {
            continue;
        }
        let objective = CircuitObjective::new(dataset, settings.gradient)
            .with_weight_bound(bound)
            .with_horizon(horizon);
        let chunk = chunk_epochs(settings, stage_epochs);
        let mut remaining = stage_epochs;
        let mut first_chunk = true;
        let mut c = 0;
        while remaining > 0 {
            // a stage's first scales from every trajectory, later ones from a few
            let trajectories = if first_chunk {
                0
            } else {
                settings.precondition_trajectories
            };
            first_chunk = false;
            let epochs = remaining.min(chunk.max(1));
            remaining -= epochs;
            c += 1;
            // a resumed fit skips the chunks its checkpoint had finished
            let chunk_index = c - 1;
            if resume.is_some_and(|r| r.stage == s && chunk_index < r.chunk) {
                continue;
            }
            let resumed = resume.filter(|r| r.stage == s && r.chunk == chunk_index);
            if let Some(resumed) = resumed {
                start.clone_from(&resumed.chunk_start);
            }
            let config = FitConfig {
                epochs,
                resume: resumed.map(|r| r.inner.clone()),
                ..settings.fit.clone()
            };
            let mut stopped = false;
            let (chunk_start, done, reports) = (&start, &joined, &stages);
            let mut stage_observer = |report: &EpochReport<'_>| {
                let checkpoint = || {
                    let inner = (report.checkpoint)();
                    FitCheckpoint {
                        chunked: Some(Box::new(ChunkCheckpoint {
                            stage: s,
                            chunk: chunk_index,
                            chunk_start: chunk_start.clone(),
                            joined: done.clone(),
                            reports: reports.clone(),
                            epoch_offset,
                            inner: Box::new(inner.clone()),
                        })),
                        ..inner
                    }
                };
                let shifted = EpochReport {
                    epoch: report.epoch + epoch_offset,
                    epochs: total_epochs,
                    checkpoint: &checkpoint,
                    ..report.clone()
                };
                let flow = observer(&shifted);
                stopped |= flow.is_break();
                flow
            };
            let (stage_parametrisation, penalised) = chunk_parametrisation(
                settings,
                &objective,
                (parametrisation, penalised),
                &start,
                initial_weights_only,
                trajectories,
            );
            let outcome = fit(
                &objective,
                &stage_parametrisation,
                &start,
                &penalised,
                &config,
                &mut stage_observer,
            )?;
            epoch_offset += outcome.loss_history.len();
            stages.push(stage_report(horizon, &outcome));
            let converged = !matches!(outcome.stop_reason, crate::fit::StopReason::EpochsCompleted);
            start = outcome.theta.clone();
            joined = Some(join_outcomes(joined, outcome));
            if stopped {
                break 'stages;
            }
            if converged {
                break;
            }
        }
    }
    Ok((joined, stages))
}

/// Epochs per chunk of a stage of `stage_epochs`: each chunk is re-preconditioned
/// where it starts (`precondition_every`; the whole stage when 0 or unpreconditioned).
fn chunk_epochs(settings: &CircuitFitSettings, stage_epochs: usize) -> usize {
    match settings.precondition_every {
        0 => stage_epochs,
        every if settings.precondition => every,
        _ => stage_epochs,
    }
}

/// The report of a stage (or chunk) that ended with `outcome`.
fn stage_report(horizon: usize, outcome: &FitOutcome) -> StageReport {
    StageReport {
        horizon,
        epochs: outcome.loss_history.len(),
        evaluations: outcome.evaluations,
        loss: outcome.final_loss,
        stop_reason: outcome.stop_reason.clone(),
    }
}

/// What one chunk's fit sees: with `initial_weights_only`, θ held where it is (the
/// rules' coefficients as fixed values) and no penalty; with preconditioning, every
/// free parameter rescaled by its Jacobi scale at `start` from `trajectories`
/// evenly spaced trajectories (0: all).
fn chunk_parametrisation(
    settings: &CircuitFitSettings,
    objective: &CircuitObjective<'_>,
    (parametrisation, penalised): (&Parametrisation, &[usize]),
    start: &[f64],
    initial_weights_only: bool,
    trajectories: usize,
) -> (Parametrisation, Vec<usize>) {
    let n_theta = objective.network().n_parameters();
    let only_initial_weights;
    let (parametrisation, penalised) = if initial_weights_only {
        only_initial_weights = Parametrisation::subset(
            (n_theta..objective.n_parameters()).collect(),
            start.to_vec(),
        );
        (&only_initial_weights, &[][..])
    } else {
        (parametrisation, penalised)
    };
    let stage_parametrisation = if settings.precondition {
        let exact = parametrisation.n_free()
            - (objective.n_parameters() - objective.network().n_parameters());
        let items = spaced_items(objective.n_items(), trajectories);
        let scale = jacobi_scale(objective, parametrisation, start, exact, &items);
        parametrisation.rescaled(&scale)
    } else {
        parametrisation.clone()
    };
    (stage_parametrisation, penalised.to_vec())
}

/// The outcome of the chunks so far followed by `outcome`: histories joined,
/// evaluations and back-offs summed, the rest `outcome`'s.
fn join_outcomes(joined: Option<FitOutcome>, outcome: FitOutcome) -> FitOutcome {
    match joined {
        None => outcome,
        Some(mut earlier) => {
            earlier.loss_history.extend(outcome.loss_history);
            earlier.theta_history.extend(outcome.theta_history);
            earlier.evaluations += outcome.evaluations;
            earlier.backoffs += outcome.backoffs;
            FitOutcome {
                loss_history: earlier.loss_history,
                theta_history: earlier.theta_history,
                evaluations: earlier.evaluations,
                backoffs: earlier.backoffs,
                ..outcome
            }
        }
    }
}

/// `count` of the items `0..n` evenly spaced (`i n / count`; all when `count` is 0
/// or at least `n`).
pub fn spaced_items(n: usize, count: usize) -> Vec<usize> {
    let count = if count == 0 { n } else { count.min(n) };
    (0..count).map(|i| i * n / count).collect()
}

/// `1/√H_kk` for the diagonal of the loss's curvature in φ at `theta` on the
/// trajectories `items`, from forward differences of the exact gradient: one gradient per free parameter for the first
/// `exact` of them (the rules' θ), and for the rest (fitted `W₀`, thousands of
/// entries) Hutchinson's estimate `H_kk ≈ mean_v v_k (Hv)_k` over
/// [`HUTCHINSON_PROBES`] Rademacher vectors `v` drawn from a fixed seed. Where the
/// curvature is not positive, the median scale.
pub fn jacobi_scale(
    objective: &CircuitObjective<'_>,
    parametrisation: &Parametrisation,
    theta: &[f64],
    exact: usize,
    items: &[usize],
) -> Vec<f64> {
    use rand::RngExt;
    let phi = parametrisation.phi(theta);
    let gradient_at = |phi: &[f64]| {
        let mut g = vec![0.0; objective.n_parameters()];
        objective.loss_and_gradient(&parametrisation.theta(phi), items, &mut g);
        parametrisation.pullback(&g)
    };
    let base = gradient_at(&phi);
    let exact = exact.min(phi.len());
    let mut curvature: Vec<f64> = (0..exact)
        .map(|k| {
            let h = 1e-4 * phi[k].abs().max(1.0);
            let mut shifted = phi.clone();
            shifted[k] += h;
            (gradient_at(&shifted)[k] - base[k]) / h
        })
        .collect();
    if exact < phi.len() {
        let mut rng = ChaCha8Rng::seed_from_u64(0x4a61_636f_6269);
        let mut sums = vec![0.0; phi.len() - exact];
        let h = 1e-4;
        for _ in 0..HUTCHINSON_PROBES {
            let signs: Vec<f64> = (exact..phi.len())
                .map(|_| if rng.random::<bool>() { 1.0 } else { -1.0 })
                .collect();
            let mut shifted = phi.clone();
            for (p, s) in shifted[exact..].iter_mut().zip(&signs) {
                *p += h * s;
            }
            let g = gradient_at(&shifted);
            for ((sum, s), k) in sums.iter_mut().zip(&signs).zip(exact..) {
                *sum += s * (g[k] - base[k]) / h;
            }
        }
        curvature.extend(sums.iter().map(|s| s / HUTCHINSON_PROBES as f64));
    }
    let mut positive: Vec<f64> = curvature
        .iter()
        .copied()
        .filter(|c| *c > 0.0 && c.is_finite())
        .collect();
    positive.sort_by(f64::total_cmp);
    let fallback = positive.get(positive.len() / 2).copied().unwrap_or(1.0);
    curvature
        .iter()
        .map(|&c| {
            1.0 / if c > 0.0 && c.is_finite() {
                c
            } else {
                fallback
            }
            .sqrt()
        })
        .collect()
}

/// Probes of Hutchinson's diagonal estimate in [`jacobi_scale`].
pub const HUTCHINSON_PROBES: usize = 8;
