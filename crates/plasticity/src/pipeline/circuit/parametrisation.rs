//! What the optimizer sees of a circuit: each Taylor rule's trainable terms in a
//! better-conditioned basis (from the scales of its variables), each MLP whole, each
//! fitted `W₀` as is; the parameters' names and the generating values.

use crate::circuit::PopulationKind;
use crate::data::mean_and_std;
use crate::data::CircuitDataset;
use crate::fit::{Basis, Parametrisation, VariableScales};
use crate::objective::{CircuitObjective, Objective};

use crate::Result;

/// Means and standard deviations of a rule's variables over the projections that use
/// it: x from the presynaptic activity (inputs, or recorded activity of the
/// presynaptic population, or of every recorded neuron when none of it is recorded),
/// y likewise for the postsynaptic population, w from `W₀`.
pub fn rule_scales(dataset: &CircuitDataset, rule: usize) -> VariableScales {
    let network = &dataset.network;
    let (n, t_max) = (network.n_neurons(), dataset.steps);
    let n_rec = dataset.recorded().len();
    let activity_of = |p: usize| -> Vec<f64> {
        let range = network.activity_range(p);
        match network.populations()[p].kind {
            PopulationKind::Input => (0..dataset.trajectories * t_max)
                .flat_map(|row| dataset.drive[row * n..][range.clone()].to_vec())
                .collect(),
            PopulationKind::Neurons { .. } => {
                let columns: Vec<usize> = dataset
                    .recorded()
                    .iter()
                    .enumerate()
                    .filter(|(_, &i)| range.contains(&i))
                    .map(|(c, _)| c)
                    .collect();
                if columns.is_empty() {
                    dataset.recorded_activity.clone()
                } else {
                    (0..dataset.trajectories * t_max)
                        .flat_map(|row| columns.iter().map(move |&c| row * n_rec + c))
                        .map(|i| dataset.recorded_activity[i])
                        .collect()
                }
            }
        }
    };
    let (mut x, mut y, mut w) = (Vec::new(), Vec::new(), Vec::new());
    let n_syn = network.n_synapses();
    for (q, projection) in network.projections().iter().enumerate() {
        if projection.rule != Some(rule) {
            continue;
        }
        x.extend(activity_of(projection.pre));
        y.extend(activity_of(projection.post));
        let range = network.weight_range(q);
        for k in 0..dataset.trajectories {
            w.extend_from_slice(&dataset.initial_weights[k * n_syn..][range.clone()]);
        }
    }
    let (mx, sx) = mean_and_std(x.into_iter());
    let (my, sy) = mean_and_std(y.into_iter());
    let (mw, sw) = mean_and_std(w.into_iter());
    VariableScales {
        mean: [mx, my, mw, 0.0],
        std: [sx, sy, sw, 1.0],
    }
}

/// What the optimizer sees: each Taylor rule's trainable terms in `basis`, each MLP
/// whole, each fitted `W₀` as is. Returns it and the penalised (Taylor) indices.
pub fn circuit_parametrisation(
    dataset: &CircuitDataset,
    objective: &CircuitObjective<'_>,
    basis: Basis,
) -> Result<(Parametrisation, Vec<usize>)> {
    let network = objective.network();
    let mut parts = Vec::new();
    let mut penalised = Vec::new();
    for (r, named) in network.rules().iter().enumerate() {
        let offset = network.theta_range(r).start;
        let trainable = &dataset.spec.rules[r].trainable;
        let scales = rule_scales(dataset, r);
        let part = Parametrisation::of_rule(&named.rule, trainable, basis, &scales)?;
        if named.rule.as_taylor().is_some() {
            penalised.extend(part.trainable().iter().map(|&k| k + offset));
        }
        parts.push(part);
    }
    let n_w0 = objective.n_parameters() - network.n_parameters();
    if n_w0 > 0 {
        parts.push(Parametrisation::identity(n_w0));
    }
    Ok((Parametrisation::concatenate(&parts), penalised))
}

/// Parameter names: `rule.term` for θ, `W0.projection[i,j]` for fitted `W₀`.
pub fn parameter_names(objective: &CircuitObjective<'_>) -> Vec<String> {
    let network = objective.network();
    let mut names = network.parameter_names();
    for f in objective.fitted_initial_weights() {
        let projection = &network.projections()[f.projection];
        let c = &projection.connectivity;
        for i in 0..c.n_post() {
            for k in c.row(i) {
                names.push(format!("W0.{}[{i},{}]", projection.name, c.pre_index()[k]));
            }
        }
    }
    names
}

/// The generating parameters: θ of the circuit file's rules, then the true shared
/// `W₀` (the dataset's, which every trajectory shares).
pub fn generating_parameters(
    dataset: &CircuitDataset,
    objective: &CircuitObjective<'_>,
) -> Result<Option<Vec<f64>>> {
    let Some(mut theta) = dataset.generating_theta()? else {
        return Ok(None);
    };
    for f in objective.fitted_initial_weights() {
        theta.extend_from_slice(
            &dataset.trajectory(0).initial_weights[objective.network().weight_range(f.projection)],
        );
    }
    Ok(Some(theta))
}

/// The data loss (no prior) at `parameters`: the objective's loss on a copy without
/// the prior's weight.
pub(super) fn data_loss(
    objective: &CircuitObjective<'_>,
    parameters: &[f64],
    items: &[usize],
) -> f64 {
    objective.loss(parameters, items) - objective.prior_penalty(parameters)
}
