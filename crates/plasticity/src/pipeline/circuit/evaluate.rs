//! A fitted circuit against its generating rules on fresh trajectories: R² of each
//! plastic projection's weights (all synapses and those onto latent neurons), R² of
//! the activity, and each rule's output error `RMS(g_fit − g_true) / RMS(g_true)`.

use rand::rngs::ChaCha8Rng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use super::parametrisation::{data_loss, generating_parameters, parameter_names};
use crate::analysis::metrics::{median, ColumnR2};
use crate::circuit::{Network, PopulationKind};
use crate::data::CircuitDataset;
use crate::gradient::network::{
    simulate_network, NetworkRun, NetworkTrajectory, NetworkWorkspace, TrajectoryLoss,
};
use crate::objective::CircuitObjective;
use crate::rule::{term_names, PlasticityRule, Term, Variables};
use crate::task::circuit::draw_conditions;
use crate::Result;

/// Metrics of a fitted circuit against its generating rules, on fresh trajectories.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CircuitFitMetrics {
    /// Data loss of the fitted parameters (every step; no penalty, no prior).
    pub final_loss: f64,
    /// Data loss of the generating rules (and true `W₀`) on the same data.
    pub loss_at_generating_rule: Option<f64>,
    /// Median over fresh trajectories of the column-wise R² of each plastic
    /// projection's weights over time.
    pub r2_weights_by_projection: serde_json::Map<String, serde_json::Value>,
    /// The same for the synapses onto latent (unrecorded) neurons only.
    pub r2_weights_latent: serde_json::Map<String, serde_json::Value>,
    /// Median R² of the activity of every simulated neuron.
    pub r2_activity: Option<f64>,
    /// Per rule: `RMS(g_fit − g_true) / RMS(g_true)` over states visited on fresh
    /// trajectories.
    pub rule_output_error: serde_json::Map<String, serde_json::Value>,
    /// Per rule and term: `|θ_k| · RMS(term_k) / RMS(g_true)` over those states.
    pub term_share: serde_json::Map<String, serde_json::Value>,
    /// Fitted minus generating coefficient, per `rule.term`.
    pub coefficient_error: serde_json::Map<String, serde_json::Value>,
    /// Per projection with fitted `W₀`: `‖W₀,fit − W₀,true‖ / ‖W₀,true‖`.
    pub initial_weights_error: serde_json::Map<String, serde_json::Value>,
    /// Correlation between recorded and latent neurons' activity, per population with
    /// both: the median over latent neurons of the largest |correlation| with any
    /// recorded neuron of the population (near 1: latent neurons are near-copies).
    pub latent_recorded_correlation: serde_json::Map<String, serde_json::Value>,
}

/// Metrics of `parameters` (θ, then fitted `W₀`) on `dataset`, against the circuit
/// file's generating rules on `count` fresh trajectories drawn from `seed`.
pub fn evaluate_circuit(
    dataset: &CircuitDataset,
    objective: &CircuitObjective<'_>,
    parameters: &[f64],
    count: usize,
    seed: u64,
) -> Result<CircuitFitMetrics> {
    let items: Vec<usize> = (0..dataset.trajectories).collect();
    let mut metrics = CircuitFitMetrics {
        final_loss: data_loss(objective, parameters, &items),
        ..CircuitFitMetrics::default()
    };
    let network = objective.network();
    let names = parameter_names(objective);
    let Some(truth) = generating_parameters(dataset, objective)? else {
        return Ok(metrics);
    };
    metrics.loss_at_generating_rule = Some(data_loss(objective, &truth, &items));
    for (name, (fitted, true_value)) in names
        .iter()
        .zip(parameters.iter().zip(&truth))
        .take(network.n_parameters())
    {
        metrics
            .coefficient_error
            .insert(name.clone(), (fitted - true_value).into());
    }
    let steps = dataset.steps;
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_c12c_0000_0001);
    let (drive, mut initial_weights) =
        draw_conditions(&dataset.spec, network, count, steps, &mut rng)?;
    record_initial_weights_error(
        dataset,
        objective,
        parameters,
        count,
        &mut initial_weights,
        &mut metrics,
    );
    let n_theta = network.n_parameters();
    let mut totals = FreshTotals::new(network);
    // the unclipped circuit, as the data were generated
    let plain = network.clone().with_weight_bound(None);
    let mut workspace = NetworkWorkspace::new();
    let (n, n_syn) = (network.n_neurons(), network.n_synapses());
    for k in 0..count {
        let mut fitted_w0 = initial_weights[k * n_syn..(k + 1) * n_syn].to_vec();
        for f in objective.fitted_initial_weights() {
            let range = network.weight_range(f.projection);
            fitted_w0[range.clone()].copy_from_slice(&parameters[f.start..f.start + range.len()]);
        }
        let drive_k = &drive[k * steps * n..(k + 1) * steps * n];
        let true_run = simulate_network(
            &plain,
            &truth[..n_theta],
            fresh_trajectory(steps, drive_k, &initial_weights[k * n_syn..(k + 1) * n_syn]),
            &mut workspace,
        );
        let fit_run = simulate_network(
            &plain,
            &parameters[..n_theta],
            fresh_trajectory(steps, drive_k, &fitted_w0),
            &mut workspace,
        );
        totals.add_weights_r2(dataset, network, &true_run, &fit_run);
        totals.add_activity_r2(network, steps, &true_run, &fit_run);
        totals.add_rule_outputs(
            network,
            steps,
            &true_run,
            (&truth[..n_theta], &parameters[..n_theta]),
        );
        totals.add_latent_correlations(dataset, network, steps, &true_run);
    }
    totals.write(network, &parameters[..n_theta], &mut metrics);
    Ok(metrics)
}

/// Fresh trajectories share the true `W₀` (unknown to the fit): copies it into
/// `initial_weights` for every fitted `W₀`, and records `‖W₀_fit − W₀‖ / ‖W₀‖`.
fn record_initial_weights_error(
    dataset: &CircuitDataset,
    objective: &CircuitObjective<'_>,
    parameters: &[f64],
    count: usize,
    initial_weights: &mut [f64],
    metrics: &mut CircuitFitMetrics,
) {
    let network = objective.network();
    let n_syn = network.n_synapses();
    for f in objective.fitted_initial_weights() {
        let range = network.weight_range(f.projection);
        let true_w0 = &dataset.trajectory(0).initial_weights[range.clone()];
        for k in 0..count {
            initial_weights[k * n_syn + range.start..k * n_syn + range.end]
                .copy_from_slice(true_w0);
        }
        let fitted = &parameters[f.start..f.start + range.len()];
        let (difference, size) = fitted
            .iter()
            .zip(true_w0)
            .fold((0.0, 0.0), |(d, s), (a, b)| {
                (d + (a - b) * (a - b), s + b * b)
            });
        metrics.initial_weights_error.insert(
            network.projections()[f.projection].name.clone(),
            (difference / size).sqrt().into(),
        );
    }
}

/// Per rule: `Σ g_true²`, `Σ (g_fit − g_true)²`, `Σ term_k²` (27 terms), samples.
type RuleOutputSums = (f64, f64, Vec<f64>, usize);

/// What the fresh trajectories add up to, before their medians are taken.
struct FreshTotals {
    /// The plastic projections.
    plastic: Vec<usize>,
    /// Per plastic projection, per trajectory: R² of its weights.
    r2_weights: Vec<Vec<f64>>,
    /// The same for the synapses onto latent neurons.
    r2_latent: Vec<Vec<f64>>,
    /// Per trajectory: R² of the simulated neurons' activity.
    r2_activity: Vec<f64>,
    /// Per rule.
    sums: Vec<RuleOutputSums>,
    /// The simulated neurons.
    simulated: Vec<usize>,
    /// Per population: each latent neuron's largest |correlation| with a recorded one.
    correlations: Vec<Vec<f64>>,
}

impl FreshTotals {
    fn new(network: &Network) -> FreshTotals {
        let plastic: Vec<usize> = (0..network.projections().len())
            .filter(|&q| network.projections()[q].rule.is_some())
            .collect();
        FreshTotals {
            r2_weights: vec![Vec::new(); plastic.len()],
            r2_latent: vec![Vec::new(); plastic.len()],
            plastic,
            r2_activity: Vec::new(),
            sums: vec![(0.0f64, 0.0f64, vec![0.0f64; 27], 0usize); network.rules().len()],
            simulated: (0..network.populations().len())
                .filter(|&p| network.populations()[p].is_simulated())
                .flat_map(|p| network.activity_range(p))
                .collect(),
            correlations: vec![Vec::new(); network.populations().len()],
        }
    }

    /// R² of each plastic projection's weights, all synapses and those onto latent
    /// neurons.
    fn add_weights_r2(
        &mut self,
        dataset: &CircuitDataset,
        network: &Network,
        true_run: &NetworkRun,
        fit_run: &NetworkRun,
    ) {
        let (n_syn, steps) = (network.n_synapses(), dataset.steps);
        let (plastic, r2_weights, r2_latent) =
            (&self.plastic, &mut self.r2_weights, &mut self.r2_latent);
        for (slot, &q) in plastic.iter().enumerate() {
            let range = network.weight_range(q);
            let c = &network.projections()[q].connectivity;
            let post_start = network.activity_range(network.projections()[q].post).start;
            let latent: Vec<usize> = (0..c.n_post())
                .filter(|&i| !dataset.is_recorded(post_start + i))
                .flat_map(|i| c.row(i))
                .collect();
            let mut all = ColumnR2::new(range.len());
            let mut onto_latent = ColumnR2::new(latent.len());
            for t in 0..steps {
                let truth = &true_run.weights[t * n_syn..][range.clone()];
                let prediction = &fit_run.weights[t * n_syn..][range.clone()];
                all.add_row(truth, prediction);
                if !latent.is_empty() {
                    let gathered_truth: Vec<f64> = latent.iter().map(|&s| truth[s]).collect();
                    let gathered_prediction: Vec<f64> =
                        latent.iter().map(|&s| prediction[s]).collect();
                    onto_latent.add_row(&gathered_truth, &gathered_prediction);
                }
            }
            r2_weights[slot].push(all.value());
            if !latent.is_empty() {
                r2_latent[slot].push(onto_latent.value());
            }
        }
    }

    /// R² of the simulated neurons' activity.
    fn add_activity_r2(
        &mut self,
        network: &Network,
        steps: usize,
        true_run: &NetworkRun,
        fit_run: &NetworkRun,
    ) {
        let (n, simulated) = (network.n_neurons(), &self.simulated);
        let mut activity = ColumnR2::new(simulated.len());
        for t in 0..steps {
            let truth: Vec<f64> = simulated
                .iter()
                .map(|&i| true_run.activity[t * n + i])
                .collect();
            let prediction: Vec<f64> = simulated
                .iter()
                .map(|&i| fit_run.activity[t * n + i])
                .collect();
            activity.add_row(&truth, &prediction);
        }
        self.r2_activity.push(activity.value());
    }

    /// Rule outputs on the states the true circuit visits (about 4,000 synapse-steps
    /// per projection).
    fn add_rule_outputs(
        &mut self,
        network: &Network,
        steps: usize,
        true_run: &NetworkRun,
        (theta_true, theta_fit): (&[f64], &[f64]),
    ) {
        let (n, n_syn) = (network.n_neurons(), network.n_synapses());
        let (plastic, sums) = (&self.plastic, &mut self.sums);
        for &q in plastic {
            let projection = &network.projections()[q];
            let r = projection.rule.unwrap_or(0);
            let Some(taylor) = network.rules()[r].rule.as_taylor() else {
                continue;
            };
            let theta_range = network.theta_range(r);
            let c = &projection.connectivity;
            let (pre_range, post_range, w_range) = (
                network.activity_range(projection.pre),
                network.activity_range(projection.post),
                network.weight_range(q),
            );
            let stride = (steps * c.n_synapses() / 4000).max(1);
            let mut counter = 0usize;
            for t in 0..steps.saturating_sub(1) {
                let previous = if t == 0 {
                    None
                } else {
                    Some(&true_run.activity[(t - 1) * n..t * n])
                };
                let current = &true_run.activity[t * n..(t + 1) * n];
                for i in 0..c.n_post() {
                    for s in c.row(i) {
                        counter += 1;
                        if !counter.is_multiple_of(stride) {
                            continue;
                        }
                        let j = c.pre_index()[s];
                        let x = if projection.delayed {
                            match previous {
                                Some(previous) => previous[pre_range.start + j],
                                None => initial_of(network, projection.pre),
                            }
                        } else {
                            current[pre_range.start + j]
                        };
                        let y = current[post_range.start + i];
                        let w = true_run.weights[t * n_syn + w_range.start + s];
                        let g_true =
                            taylor.evaluate(&theta_true[theta_range.clone()], x, y, w, 0.0);
                        let g_fit = taylor.evaluate(&theta_fit[theta_range.clone()], x, y, w, 0.0);
                        let entry = &mut sums[r];
                        entry.0 += g_true * g_true;
                        entry.1 += (g_fit - g_true) * (g_fit - g_true);
                        for (term_index, total) in entry.2.iter_mut().enumerate() {
                            let term = Term::from_index(term_index, Variables::Xyw);
                            let e = term.exponents;
                            let value =
                                x.powi(e[0] as i32) * y.powi(e[1] as i32) * w.powi(e[2] as i32);
                            *total += value * value;
                        }
                        entry.3 += 1;
                    }
                }
            }
        }
    }

    /// Each latent neuron's largest |correlation| with a recorded neuron of its
    /// population, over the true trajectory.
    fn add_latent_correlations(
        &mut self,
        dataset: &CircuitDataset,
        network: &Network,
        steps: usize,
        true_run: &NetworkRun,
    ) {
        let (n, correlations) = (network.n_neurons(), &mut self.correlations);
        for (p, population) in network.populations().iter().enumerate() {
            if !population.is_simulated() {
                continue;
            }
            let range = network.activity_range(p);
            let (recorded, latent): (Vec<usize>, Vec<usize>) =
                range.clone().partition(|&i| dataset.is_recorded(i));
            if recorded.is_empty() || latent.is_empty() {
                continue;
            }
            let series = |i: usize| -> Vec<f64> {
                (0..steps).map(|t| true_run.activity[t * n + i]).collect()
            };
            let recorded_series: Vec<Vec<f64>> = recorded.iter().map(|&i| series(i)).collect();
            for &i in &latent {
                let own = series(i);
                let best = recorded_series
                    .iter()
                    .map(|other| correlation(&own, other).abs())
                    .fold(0.0f64, |m, c| if c.is_finite() { m.max(c) } else { m });
                correlations[p].push(best);
            }
        }
    }

    /// Medians over the fresh trajectories, into `metrics`.
    fn write(&self, network: &Network, theta_fit: &[f64], metrics: &mut CircuitFitMetrics) {
        let (plastic, r2_weights, r2_latent) = (&self.plastic, &self.r2_weights, &self.r2_latent);
        let (sums, correlations) = (&self.sums, &self.correlations);
        for (slot, &q) in plastic.iter().enumerate() {
            let name = network.projections()[q].name.clone();
            metrics
                .r2_weights_by_projection
                .insert(name.clone(), median(&r2_weights[slot]).into());
            if !r2_latent[slot].is_empty() {
                metrics
                    .r2_weights_latent
                    .insert(name, median(&r2_latent[slot]).into());
            }
        }
        metrics.r2_activity = Some(median(&self.r2_activity));
        let terms = term_names(Variables::Xyw);
        for (r, (g2, e2, term2, count)) in sums.iter().enumerate() {
            if *count == 0 {
                continue;
            }
            let name = &network.rules()[r].name;
            let rms_true = (g2 / *count as f64).sqrt();
            metrics
                .rule_output_error
                .insert(name.clone(), (e2.sqrt() / g2.sqrt()).into());
            let theta_range = network.theta_range(r);
            let shares: serde_json::Map<String, serde_json::Value> = terms
                .iter()
                .enumerate()
                .map(|(k, term)| {
                    let rms_term = (term2[k] / *count as f64).sqrt();
                    (
                        term.clone(),
                        (theta_fit[theta_range.start + k].abs() * rms_term / rms_true).into(),
                    )
                })
                .collect();
            metrics.term_share.insert(name.clone(), shares.into());
        }
        for (p, values) in correlations.iter().enumerate() {
            if !values.is_empty() {
                metrics
                    .latent_recorded_correlation
                    .insert(network.populations()[p].name.clone(), median(values).into());
            }
        }
    }
}

/// A trajectory to simulate (nothing recorded).
fn fresh_trajectory<'a>(
    steps: usize,
    drive: &'a [f64],
    initial_weights: &'a [f64],
) -> NetworkTrajectory<'a> {
    NetworkTrajectory {
        steps,
        drive,
        initial_weights,
        recorded: &[],
        recorded_activity: &[],
        reward: &[],
        gate: &[],
        loss: TrajectoryLoss::SquaredError,
    }
}

fn initial_of(network: &Network, population: usize) -> f64 {
    match network.populations()[population].kind {
        PopulationKind::Input => 0.0,
        PopulationKind::Neurons {
            initial_activity, ..
        } => initial_activity,
    }
}

/// Pearson correlation of two series (NaN when either is constant).
fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        ab += (x - ma) * (y - mb);
        aa += (x - ma) * (x - ma);
        bb += (y - mb) * (y - mb);
    }
    ab / (aa * bb).sqrt()
}
