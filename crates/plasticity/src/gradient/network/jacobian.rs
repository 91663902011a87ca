//! Forward-mode sensitivities of a circuit's activity to its rules' parameters, and
//! the Gauss–Newton system of one trajectory's squared error.
//!
//! With residuals `r = y_t,i − ŷ_t,i` over the recorded neurons and steps and
//! `J = ∂r/∂θ_active`, one pass accumulates `Σ r²`, `JᵀJ` and `Jᵀr`. The tangents
//! `S = ∂W/∂θ` (synapses × A) and `Y = ∂y/∂θ` (neurons × A) travel with the
//! simulation, in the step order of [`Network`]:
//!
//! - `∂y_i = f'(z_i) Σ_p Σ_j (S_p,ij a_j + W_p,ij ∂a_j)` (`∂a_j = 0` for inputs);
//! - after the step, `S_ij ← (1 + η ∂g/∂w) S_ij + η ∂g/∂y ∂y_i + η ∂g/∂x ∂a_j + η ∂g/∂θ`
//!   (the partials at the weights before the update), and `S_ij = 0` where the weight
//!   bound clipped `W_ij`.
//!
//! Memory is `(synapses + 2 × neurons) × A` whatever the number of steps; time is about
//! `3A` multiply-adds per synapse and step.

use super::choice_sets::ChoiceSetRows;
use super::{resize, NetworkTrajectory, TrajectoryLoss};
use rayon::prelude::*;

use crate::circuit::{Network, PopulationKind, PARALLEL_SYNAPSES, ROW_BLOCK};
use crate::rule::{LayerState, PlasticityRule, PARTIALS_HEAD};

mod losses;
pub use losses::{
    network_trajectory_fisher, network_trajectory_gauss_newton,
    network_trajectory_loss_and_gradient_forward,
};

/// Buffers of the forward-mode pass, reused across trajectories (no allocation per
/// step).
#[derive(Debug, Default)]
pub struct NetworkTangentWorkspace {
    weights: Vec<f64>,
    previous: Vec<f64>,
    current: Vec<f64>,
    scratch: Vec<f64>,
    weight_tangents: Vec<f64>,
    previous_tangents: Vec<f64>,
    current_tangents: Vec<f64>,
    /// `∂z/∂θ` of every neuron at the current step (neurons × A).
    net_input_tangents: Vec<f64>,
    gathered: Vec<f64>,
    partials: Vec<f64>,
    partial_scratch: Vec<f64>,
    /// The forward-mode gradient's sums over the active parameters.
    gradient_sum: Vec<f64>,
    /// The open choice set of a softmax loss.
    choice_rows: ChoiceSetRows,
    /// Scratch of each block of rows the fused tangent update runs in parallel.
    block_scratch: Vec<f64>,
}

impl NetworkTangentWorkspace {
    /// Empty buffers; sized on first use.
    pub fn new() -> Self {
        Self::default()
    }
}

/// What `projection` carries at this step, `a = y_pre,t` (or `y_pre,t−1` when
/// delayed), its tangents `∂a/∂θ` (neurons × A), and whether the presynaptic
/// population is simulated (its tangents are 0 otherwise).
fn presynaptic<'a>(
    network: &Network,
    projection: &crate::circuit::Projection,
    (previous, current): (&'a [f64], &'a [f64]),
    (previous_tangents, current_tangents): (&'a [f64], &'a [f64]),
    n_active: usize,
) -> (&'a [f64], &'a [f64], bool) {
    let range = network.activity_range(projection.pre);
    let (values, tangents) = if projection.delayed {
        (previous, previous_tangents)
    } else {
        (current, current_tangents)
    };
    (
        &values[range.clone()],
        &tangents[range.start * n_active..range.end * n_active],
        network.populations()[projection.pre].is_simulated(),
    )
}

/// For each rule, its active parameters (local indices) and their columns in `active`.
fn active_by_rule(network: &Network, active: &[usize]) -> Vec<(Vec<usize>, Vec<usize>)> {
    (0..network.rules().len())
        .map(|r| {
            let range = network.theta_range(r);
            active
                .iter()
                .enumerate()
                .filter(|(_, k)| range.contains(k))
                .map(|(column, &k)| (k - range.start, column))
                .unzip()
        })
        .collect()
}

/// The one forward-mode pass of the engine: runs one trajectory at `θ` carrying the
/// tangents of the parameters `active` (indices into θ), and hands every recorded
/// neuron `i` of every step `t` to `observe(t, i, value, target, row)` before the
/// step's update. For a squared error `value = y_t,i`, `target = ŷ_t,i` and
/// `row = ∂y_t,i/∂θ_active`; for a cross-entropy or a softmax `value = z_t,i` (the net input),
/// `target = d_t,i` and `row = ∂z_t,i/∂θ_active`. Returns the weights the bound
/// clipped; a clipped weight loses its tangents (the clip's derivative is 0 where it
/// acts).
pub fn network_trajectory_tangents(
    network: &Network,
    theta: &[f64],
    active: &[usize],
    trajectory: NetworkTrajectory<'_>,
    workspace: &mut NetworkTangentWorkspace,
    mut observe: impl FnMut(usize, usize, f64, f64, &[f64]),
) -> usize {
    let n_active = active.len();
    let n = network.n_neurons();
    let by_rule = active_by_rule(network, active);
    workspace.prepare(network, trajectory.initial_weights, &by_rule, n_active);
    // a likelihood of decisions reads the net input, a squared error the activity
    let net_input = trajectory.loss != TrajectoryLoss::SquaredError;
    let mut clipped = 0;
    let NetworkTangentWorkspace {
        weights,
        previous,
        current,
        scratch,
        weight_tangents,
        previous_tangents,
        current_tangents,
        net_input_tangents,
        gathered,
        partials,
        partial_scratch,
        gradient_sum: _,
        choice_rows: _,
        block_scratch,
    } = workspace;
    for t in 0..trajectory.steps {
        let drive = trajectory.drive(n, t);
        network.activity(weights, previous, drive, current, scratch);
        // ∂z_t and ∂y_t
        activity_tangents(
            network,
            weights,
            weight_tangents,
            (previous, current),
            (previous_tangents, current_tangents),
            net_input_tangents,
            n_active,
        );
        for (&i, &target) in trajectory.recorded.iter().zip(trajectory.target(t)) {
            let (value, tangents) = if net_input {
                let z = network.net_input(i, weights, previous, current, drive);
                (z, &net_input_tangents[..])
            } else {
                (current[i], &current_tangents[..])
            };
            observe(
                t,
                i,
                value,
                target,
                &tangents[i * n_active..(i + 1) * n_active],
            );
        }
        if trajectory.updates_after(t) {
            let reward = trajectory.reward(t);
            // S_t+1 from the partials at W_t, then W_t+1
            weight_tangents_step(
                network,
                theta,
                &by_rule,
                weights,
                (previous, current),
                (previous_tangents, current_tangents),
                (
                    weight_tangents,
                    gathered,
                    partials,
                    partial_scratch,
                    block_scratch,
                ),
                reward,
                n_active,
            );
            clipped += network.plasticity_marking(
                theta,
                weights,
                previous,
                current,
                reward,
                scratch,
                |k| weight_tangents[k * n_active..(k + 1) * n_active].fill(0.0),
            );
        }
        std::mem::swap(previous, current);
        std::mem::swap(previous_tangents, current_tangents);
    }
    clipped
}

impl NetworkTangentWorkspace {
    /// Sizes every buffer for `network` with `n_active` tangents (`by_rule`: the active
    /// parameters of each rule) and starts the pass: `W = W₀`, the initial activity,
    /// zero tangents.
    fn prepare(
        &mut self,
        network: &Network,
        initial_weights: &[f64],
        by_rule: &[(Vec<usize>, Vec<usize>)],
        n_active: usize,
    ) {
        let (n, n_syn) = (network.n_neurons(), network.n_synapses());
        let NetworkTangentWorkspace {
            weights,
            previous,
            current,
            scratch,
            weight_tangents,
            previous_tangents,
            current_tangents,
            net_input_tangents,
            gathered,
            partials,
            partial_scratch,
            gradient_sum: _,
            choice_rows: _,
            block_scratch,
        } = self;
        weights.clear();
        weights.extend_from_slice(initial_weights);
        resize(previous, n);
        network.initial_activity(previous);
        resize(current, n);
        resize(scratch, network.scratch_len());
        resize(weight_tangents, n_syn * n_active);
        resize(previous_tangents, n * n_active);
        resize(current_tangents, n * n_active);
        resize(net_input_tangents, n * n_active);
        let projections = network.projections();
        let widest_pre = projections
            .iter()
            .map(|p| p.connectivity.n_pre())
            .max()
            .unwrap_or(0);
        resize(gathered, widest_pre);
        let widest_partials = projections
            .iter()
            .filter_map(|p| {
                p.rule
                    .map(|r| p.connectivity.max_row() * (PARTIALS_HEAD + by_rule[r].0.len()))
            })
            .max()
            .unwrap_or(0);
        resize(partials, widest_partials);
        let rule_scratch = network
            .rules()
            .iter()
            .map(|r| {
                r.rule
                    .partials_scratch_len()
                    .max(r.rule.tangent_scratch_len())
            })
            .max()
            .unwrap_or(0);
        resize(partial_scratch, rule_scratch);
        let blocks = projections
            .iter()
            .filter(|p| p.rule.is_some())
            .map(|p| p.connectivity.n_post().div_ceil(ROW_BLOCK))
            .max()
            .unwrap_or(0);
        let tangent_scratch = network
            .rules()
            .iter()
            .map(|r| r.rule.tangent_scratch_len().max(1))
            .max()
            .unwrap_or(0);
        resize(block_scratch, blocks * tangent_scratch);
    }
}

/// `∂z_t` and `∂y_t` of every neuron population, in the update order:
/// `∂z_i = Σ_p Σ_j (S_p,ij a_j + W_p,ij ∂a_j)` (`∂a_j = 0` for inputs) into
/// `net_input_tangents`, `∂y_i = f'(z_i) ∂z_i` into `current_tangents`. A population
/// fed by inputs only, with at least [`PARALLEL_SYNAPSES`] synapses into it, is done in
/// blocks of [`ROW_BLOCK`] neurons in parallel (each neuron's sums in the same order:
/// bit for bit the serial result).
#[inline]
fn activity_tangents(
    network: &Network,
    weights: &[f64],
    weight_tangents: &[f64],
    (previous, current): (&[f64], &[f64]),
    (previous_tangents, current_tangents): (&[f64], &mut [f64]),
    net_input_tangents: &mut [f64],
    n_active: usize,
) {
    if n_active == 0 {
        return;
    }
    let populations = network.populations();
    for &b in network.update_order() {
        let PopulationKind::Neurons { activation, .. } = populations[b].kind else {
            continue;
        };
        let range = network.activity_range(b);
        let incoming = network.incoming(b);
        let inputs_only = incoming
            .iter()
            .all(|&p| !populations[network.projections()[p].pre].is_simulated());
        let synapses: usize = incoming
            .iter()
            .map(|&p| network.projections()[p].connectivity.n_synapses())
            .sum();
        let tangents = range.start * n_active..range.end * n_active;
        if inputs_only && synapses >= PARALLEL_SYNAPSES && n_active > 0 {
            let rows = ROW_BLOCK * n_active;
            net_input_tangents[tangents.clone()]
                .par_chunks_mut(rows)
                .zip(current_tangents[tangents].par_chunks_mut(rows))
                .zip(current[range.clone()].par_chunks(ROW_BLOCK))
                .enumerate()
                .for_each(|(block, ((dz, dy), y))| {
                    for (k, ((dz, dy), &y)) in dz
                        .chunks_exact_mut(n_active)
                        .zip(dy.chunks_exact_mut(n_active))
                        .zip(y)
                        .enumerate()
                    {
                        let i = block * ROW_BLOCK + k;
                        input_fed_net_input_tangent(network, b, i, weight_tangents, current, dz);
                        let slope = activation.slope(y);
                        for (d, &v) in dy.iter_mut().zip(dz.iter()) {
                            *d = slope * v;
                        }
                    }
                });
            continue;
        }
        for i in 0..range.len() {
            let neuron = range.start + i;
            let row = neuron * n_active..(neuron + 1) * n_active;
            let dz = &mut net_input_tangents[row.clone()];
            net_input_tangent(
                network,
                (b, i),
                (weights, weight_tangents),
                (previous, current),
                (previous_tangents, current_tangents),
                dz,
            );
            let slope = activation.slope(current[neuron]);
            for (d, &v) in current_tangents[row].iter_mut().zip(dz.iter()) {
                *d = slope * v;
            }
        }
    }
}

/// `∂z_i = Σ_p Σ_j (S_p,ij a_j + W_p,ij ∂a_j)` of neuron `i` of population `b` into `dz`
/// (overwritten): the serial pass of [`activity_tangents`], synapse by synapse.
#[inline]
fn net_input_tangent(
    network: &Network,
    (b, i): (usize, usize),
    (weights, weight_tangents): (&[f64], &[f64]),
    (previous, current): (&[f64], &[f64]),
    (previous_tangents, current_tangents): (&[f64], &[f64]),
    dz: &mut [f64],
) {
    let n_active = dz.len();
    let incoming = network.incoming(b);
    dz.iter_mut().for_each(|s| *s = 0.0);
    for &index in incoming {
        let projection = &network.projections()[index];
        let (pre_values, pre_tangents, pre_simulated) = presynaptic(
            network,
            projection,
            (previous, current),
            (previous_tangents, current_tangents),
            n_active,
        );
        let w_range = network.weight_range(index);
        let w = &weights[w_range.clone()];
        let s = &weight_tangents[w_range.start * n_active..w_range.end * n_active];
        let connectivity = &projection.connectivity;
        // a fixed projection's weights have no tangent (S = 0)
        let plastic = projection.rule.is_some();
        if connectivity.is_dense() {
            // the same sums in the same order, without the index indirection
            let row = connectivity.row(i);
            let s_row = &s[row.start * n_active..row.end * n_active];
            for (j, ((&a_j, s_k), &w_k)) in pre_values
                .iter()
                .zip(s_row.chunks_exact(n_active))
                .zip(&w[row])
                .enumerate()
            {
                if plastic {
                    for (o, &v) in dz.iter_mut().zip(s_k) {
                        *o += a_j * v;
                    }
                }
                if pre_simulated {
                    for (o, &v) in dz
                        .iter_mut()
                        .zip(&pre_tangents[j * n_active..(j + 1) * n_active])
                    {
                        *o += w_k * v;
                    }
                }
            }
            continue;
        }
        for k in connectivity.row(i) {
            let j = connectivity.pre_index()[k];
            if plastic {
                let a_j = pre_values[j];
                for (o, &v) in dz.iter_mut().zip(&s[k * n_active..(k + 1) * n_active]) {
                    *o += a_j * v;
                }
            }
            if pre_simulated {
                let w_k = w[k];
                for (o, &v) in dz
                    .iter_mut()
                    .zip(&pre_tangents[j * n_active..(j + 1) * n_active])
                {
                    *o += w_k * v;
                }
            }
        }
    }
}

/// `∂z_i = Σ_p Σ_j S_p,ij a_j` of neuron `i` of population `b`, all of whose incoming
/// projections come from input populations (whose activity has no tangent), into `dz`
/// (overwritten), in the order of the serial pass.
#[inline]
fn input_fed_net_input_tangent(
    network: &Network,
    b: usize,
    i: usize,
    weight_tangents: &[f64],
    current: &[f64],
    dz: &mut [f64],
) {
    let n_active = dz.len();
    dz.iter_mut().for_each(|s| *s = 0.0);
    for &index in network.incoming(b) {
        let projection = &network.projections()[index];
        let pre_values = &current[network.activity_range(projection.pre)];
        let w_range = network.weight_range(index);
        let s = &weight_tangents[w_range.start * n_active..w_range.end * n_active];
        let connectivity = &projection.connectivity;
        for k in connectivity.row(i) {
            let a_j = pre_values[connectivity.pre_index()[k]];
            for (o, &v) in dz.iter_mut().zip(&s[k * n_active..(k + 1) * n_active]) {
                *o += a_j * v;
            }
        }
    }
}

/// What [`weight_tangents_step`] writes: the tangents `S`, then its scratch (gathered
/// presynaptic activity, partials, the rule's scratch, the parallel blocks' scratch).
type TangentBuffers<'a> = (
    &'a mut [f64],
    &'a mut [f64],
    &'a mut [f64],
    &'a mut [f64],
    &'a mut [f64],
);

/// `S_t+1` from the partials at `W_t`, projection by projection:
/// `S_ij ← (1 + η ∂g/∂w) S_ij + η ∂g/∂y ∂y_i + η ∂g/∂x ∂a_j + η ∂g/∂θ`.
#[inline]
#[allow(clippy::too_many_arguments)]
fn weight_tangents_step(
    network: &Network,
    theta: &[f64],
    by_rule: &[(Vec<usize>, Vec<usize>)],
    weights: &[f64],
    (previous, current): (&[f64], &[f64]),
    (previous_tangents, current_tangents): (&[f64], &[f64]),
    (weight_tangents, gathered, partials, partial_scratch, block_scratch): TangentBuffers<'_>,
    reward: f64,
    n_active: usize,
) {
    let projections = network.projections();
    for (index, projection) in projections.iter().enumerate() {
        let Some(r) = projection.rule else { continue };
        let (local_active, columns) = &by_rule[r];
        let stride = PARTIALS_HEAD + local_active.len();
        let rule = &network.rules()[r].rule;
        let theta_r = &theta[network.theta_range(r)];
        let (pre_values, pre_tangents, pre_simulated) = presynaptic(
            network,
            projection,
            (previous, current),
            (previous_tangents, current_tangents),
            n_active,
        );
        let post_range = network.activity_range(projection.post);
        let w_range = network.weight_range(index);
        let connectivity = &projection.connectivity;
        // where the presynaptic side carries no tangent and this rule owns every
        // active parameter, the rule's own fused forward mode updates S directly
        let fused = !pre_simulated
            && columns.len() == n_active
            && columns.iter().enumerate().all(|(c, &k)| c == k);
        if fused
            && connectivity.is_dense()
            && connectivity.n_synapses() >= PARALLEL_SYNAPSES
            && n_active > 0
        {
            let layer = LayerState {
                pre: pre_values,
                post: &current[post_range.clone()],
                reward,
                learning_rate: projection.learning_rate,
            };
            fused_rows_in_parallel(
                rule,
                theta_r,
                layer,
                &weights[w_range.clone()],
                &mut weight_tangents[w_range.start * n_active..w_range.end * n_active],
                &current_tangents[post_range.start * n_active..post_range.end * n_active],
                (local_active, block_scratch),
            );
            continue;
        }
        for i in 0..post_range.len() {
            let row = connectivity.row(i);
            if row.is_empty() {
                continue;
            }
            let indices = &connectivity.pre_index()[row.clone()];
            let pre_row: &[f64] = if connectivity.is_dense() {
                pre_values
            } else {
                for (g, &j) in gathered.iter_mut().zip(indices) {
                    *g = pre_values[j];
                }
                &gathered[..row.len()]
            };
            let post = post_range.start + i;
            let layer = LayerState {
                pre: pre_row,
                post: std::slice::from_ref(&current[post]),
                reward,
                learning_rate: projection.learning_rate,
            };
            let post_tangent = &current_tangents[post * n_active..(post + 1) * n_active];
            let synapses = w_range.start + row.start..w_range.start + row.end;
            if fused {
                rule.row_tangents(
                    theta_r,
                    layer,
                    &weights[synapses.clone()],
                    &mut weight_tangents[synapses.start * n_active..synapses.end * n_active],
                    post_tangent,
                    local_active,
                    partial_scratch,
                );
                continue;
            }
            let row_partials = &mut partials[..row.len() * stride];
            rule.row_partials(
                theta_r,
                layer,
                &weights[synapses],
                local_active,
                row_partials,
                partial_scratch,
            );
            for ((p, k), &j) in row_partials.chunks_exact(stride).zip(row).zip(indices) {
                let synapse = w_range.start + k;
                let s = &mut weight_tangents[synapse * n_active..(synapse + 1) * n_active];
                let (along, through_y, through_x) = (1.0 + p[0], p[1], p[2]);
                if pre_simulated {
                    let x_tangent = &pre_tangents[j * n_active..(j + 1) * n_active];
                    for ((s, &dy), &dx) in s.iter_mut().zip(post_tangent).zip(x_tangent) {
                        *s = along * *s + through_y * dy + through_x * dx;
                    }
                } else {
                    for (s, &dy) in s.iter_mut().zip(post_tangent) {
                        *s = along * *s + through_y * dy;
                    }
                }
                for (&column, &d) in columns.iter().zip(&p[PARTIALS_HEAD..]) {
                    s[column] += d;
                }
            }
        }
    }
}

/// The fused update of the tangents `S ← (1 + η ∂g/∂w) S + η ∂g/∂θ + η ∂g/∂y ∂y` of a
/// dense projection from an input population ([`PlasticityRule::row_tangents`]), in
/// blocks of [`ROW_BLOCK`] postsynaptic neurons in parallel, each block with its own
/// slice of `block_scratch` (rows are independent: bit for bit the serial result).
fn fused_rows_in_parallel(
    rule: &crate::rule::Rule,
    theta: &[f64],
    layer: LayerState<'_, f64>,
    weights: &[f64],
    weight_tangents: &mut [f64],
    post_tangents: &[f64],
    (active, block_scratch): (&[usize], &mut [f64]),
) {
    let n_pre = layer.pre.len();
    let n_active = active.len();
    let per_block = rule.tangent_scratch_len().max(1);
    weight_tangents
        .par_chunks_mut(ROW_BLOCK * n_pre * n_active)
        .zip(weights.par_chunks(ROW_BLOCK * n_pre))
        .zip(post_tangents.par_chunks(ROW_BLOCK * n_active))
        .zip(layer.post.par_chunks(ROW_BLOCK))
        .zip(block_scratch.par_chunks_mut(per_block))
        .for_each(|((((s_rows, w_rows), dy_rows), y_rows), scratch)| {
            for (((s_row, w_row), dy), y) in s_rows
                .chunks_exact_mut(n_pre * n_active)
                .zip(w_rows.chunks_exact(n_pre))
                .zip(dy_rows.chunks_exact(n_active))
                .zip(y_rows.chunks_exact(1))
            {
                let row_layer = LayerState { post: y, ..layer };
                rule.row_tangents(theta, row_layer, w_row, s_row, dy, active, scratch);
            }
        });
}
