//! What a spike-train fit is judged on: its coefficients against the generating
//! rules, the log-likelihood against the generating rule's and no plasticity's, each
//! term's share of the weight change, and the weights it predicts on a fresh recording,
//! open-loop (the fresh recording's spikes forced) and closed-loop (the circuit run
//! under the fitted rule with the same sources and noise streams).

use rand::rngs::ChaCha8Rng;
use rand::SeedableRng;
use serde::Serialize;

use super::SpikeFitSettings;
use crate::circuit::spiking::{run_circuit, Decision, RunDrive, SpikingCircuit, SpikingState};
use crate::objective::spike_train::SpikeTrainObjective;
use crate::objective::Objective;
use crate::rule::spike::SpikeVariables;
use crate::task::spiking::simulate_recording;
use crate::Result;

/// One trained coefficient.
#[derive(Clone, Debug, Serialize)]
pub struct CoefficientReport {
    /// `rule.term`.
    pub name: String,
    /// Its fitted value.
    pub fitted: f64,
    /// Its generating value (`None`: no generating rule).
    pub generating: Option<f64>,
    /// `|fitted − generating| / |generating|` where the generating value is not 0.
    pub relative_error: Option<f64>,
    /// `Σ_t Σ_synapses |θ_k φ_k|` over the recording (teacher-forced, fitted θ), as a
    /// fraction of the largest such sum of a term the generating rule has.
    pub relative_effect: f64,
}

/// Metrics of a spike-train fit.
#[derive(Clone, Debug, Serialize)]
pub struct SpikeFitMetrics {
    /// The trained coefficients.
    pub coefficients: Vec<CoefficientReport>,
    /// Log-likelihood of the data (nats) at the fit.
    pub log_likelihood: f64,
    /// … under the generating rules.
    pub log_likelihood_generating: Option<f64>,
    /// … without plasticity (θ = 0).
    pub log_likelihood_no_plasticity: f64,
    /// The fit's log-likelihood minus the generating rule's (nats; a converged fit of a
    /// model that contains the truth: 0 to about K/2 + a few).
    pub log_likelihood_over_generating: Option<f64>,
    /// R² of the plastic weights on a fresh recording, open-loop.
    pub r2_open_loop: Option<f64>,
    /// R² of the weight changes `W_t − W₀`, open-loop.
    pub r2_changes_open_loop: Option<f64>,
    /// R² of the plastic weights, closed-loop.
    pub r2_closed_loop: Option<f64>,
    /// R² of the weight changes, closed-loop.
    pub r2_changes_closed_loop: Option<f64>,
    /// Steps of the fresh recording.
    pub eval_steps: usize,
}

/// The metrics of θ fitted on `objective`'s data (see the module's documentation).
pub fn evaluate_spike_fit(
    objective: &SpikeTrainObjective<'_>,
    theta: &[f64],
    trainable: &[usize],
    settings: &SpikeFitSettings,
) -> Result<SpikeFitMetrics> {
    let dataset = objective.dataset();
    let circuit = &dataset.circuit;
    let names = circuit.parameter_names();
    let items: Vec<usize> = (0..objective.n_items()).collect();
    let nll = |t: &[f64]| objective.negative_log_likelihood(t, &items);
    let generating =
        dataset.spec.generating_theta().ok().filter(|g| {
            g.len() == theta.len() && dataset.spec.rules.iter().all(|r| r.rule.is_some())
        });
    let log_likelihood = -nll(theta);
    let log_likelihood_generating = generating.as_ref().map(|g| -nll(g));
    let effects = term_effects(objective, theta);
    let reference = generating
        .as_ref()
        .map(|g| {
            (0..theta.len())
                .filter(|&k| g[k] != 0.0)
                .map(|k| effects[k])
                .fold(0.0f64, f64::max)
        })
        .filter(|&m| m > 0.0)
        .unwrap_or_else(|| effects.iter().copied().fold(0.0f64, f64::max).max(1e-300));
    let coefficients = trainable
        .iter()
        .map(|&k| {
            let g = generating.as_ref().map(|g| g[k]);
            CoefficientReport {
                name: names[k].clone(),
                fitted: theta[k],
                generating: g,
                relative_error: g
                    .filter(|&g| g != 0.0)
                    .map(|g| (theta[k] - g).abs() / g.abs()),
                relative_effect: effects[k] / reference,
            }
        })
        .collect();
    let eval_steps = if settings.eval_steps == 0 {
        dataset.steps
    } else {
        settings.eval_steps
    };
    let r2 = match &generating {
        Some(g) => Some(fresh_r2(
            dataset,
            circuit,
            g,
            theta,
            eval_steps,
            settings.eval_seed,
        )?),
        None => None,
    };
    Ok(SpikeFitMetrics {
        coefficients,
        log_likelihood,
        log_likelihood_generating,
        log_likelihood_no_plasticity: -nll(&vec![0.0; theta.len()]),
        log_likelihood_over_generating: log_likelihood_generating.map(|g| log_likelihood - g),
        r2_open_loop: r2.map(|r| r.0),
        r2_changes_open_loop: r2.map(|r| r.1),
        r2_closed_loop: r2.map(|r| r.2),
        r2_changes_closed_loop: r2.map(|r| r.3),
        eval_steps,
    })
}

/// Per parameter, `Σ_t Σ_synapses |θ_k φ_k(v)|` over every trajectory, teacher-forced.
fn term_effects(objective: &SpikeTrainObjective<'_>, theta: &[f64]) -> Vec<f64> {
    let dataset = objective.dataset();
    let circuit = &dataset.circuit;
    let mut effects = vec![0.0; theta.len()];
    let mut features = vec![0.0; theta.len()];
    for k in 0..dataset.trajectories() {
        let trial = objective.trial(k);
        let mut state = SpikingState::<f64>::teacher_forced(circuit, trial.initial_weights);
        for t in 0..trial.steps {
            let spikes = trial.raster.at(t);
            circuit.begin_step(&mut state, spikes);
            circuit.decide::<f64, ChaCha8Rng>(
                &mut state,
                Decision::Forced(spikes),
                |_, _, _, _| {},
            );
            for (p, projection) in circuit.projections().iter().enumerate() {
                let Some(r) = projection.rule else { continue };
                if circuit.is_latent(projection.pre) || circuit.is_latent(projection.post) {
                    continue; // the effects are those on recorded neurons' synapses
                }
                let rule = &circuit.rules()[r].rule;
                let range = circuit.theta_range(r);
                let w_start = circuit.weight_range(p).start;
                let (x, y) = (state.x_trace_of(p), state.y_trace_of(p));
                let (x2, y2) = state.second_traces_of(p);
                let lists = (&state.previous_list[..], &state.current_list[..]);
                circuit.visit_updates(
                    p,
                    &state.previous,
                    &state.current,
                    lists,
                    |s, i, j, s_pre, s_post| {
                        let v = SpikeVariables {
                            s_pre,
                            s_post,
                            x_trace: x[j],
                            y_trace: y[i],
                            w: state.weights[w_start + s],
                            r: 0.0,
                            x2_trace: x2[j],
                            y2_trace: y2[i],
                        };
                        let phi = &mut features[..range.len()];
                        rule.features(&v, phi);
                        for ((e, &f), &c) in effects[range.clone()]
                            .iter_mut()
                            .zip(phi.iter())
                            .zip(&theta[range.clone()])
                        {
                            *e += (c * f).abs() * projection.learning_rate.abs();
                        }
                    },
                );
            }
            circuit.finish_step(theta, &mut state, 0.0, |_| {});
        }
    }
    effects
}

/// R² of weights and of weight changes, open- and closed-loop, on a fresh recording.
fn fresh_r2(
    dataset: &crate::data::SpikeTrainDataset,
    circuit: &SpikingCircuit,
    generating: &[f64],
    fitted: &[f64],
    steps: usize,
    seed: u64,
) -> Result<(f64, f64, f64, f64)> {
    let interval = (steps / 200).max(1);
    let truth = simulate_recording(&dataset.spec, circuit, generating, steps, seed, interval)?;
    let drive = RunDrive {
        sources: &truth.sources,
        forced: Some(&truth.run.raster),
        reward: None,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let open = run_circuit(
        circuit,
        fitted,
        &truth.initial_weights,
        drive,
        &mut rng,
        interval,
    );
    let closed = simulate_recording(&dataset.spec, circuit, fitted, steps, seed, interval)?;
    let plastic = circuit.plastic_synapses();
    let w0 = &truth.initial_weights;
    let r2 = |predicted: &[Vec<f64>], changes: bool| {
        let (mut residual, mut values) = (0.0, Vec::new());
        for (snapshot, truth) in predicted.iter().zip(&truth.run.weights).skip(1) {
            for &k in &plastic {
                let base = if changes { w0[k] } else { 0.0 };
                residual += (snapshot[k] - truth[k]).powi(2);
                values.push(truth[k] - base);
            }
        }
        let mean = values.iter().sum::<f64>() / values.len().max(1) as f64;
        let total: f64 = values.iter().map(|v| (v - mean).powi(2)).sum();
        1.0 - residual / total.max(1e-300)
    };
    Ok((
        r2(&open.weights, false),
        r2(&open.weights, true),
        r2(&closed.run.weights, false),
        r2(&closed.run.weights, true),
    ))
}
