//! One step of a [`Network`] and its vector-Jacobian product: the activity of each
//! population (`y_B,t = f_B(Σ_p W_p,t a_p + e_B,t)`), the plastic update of each
//! projection (`W_p,t+1 = W_p,t + η_p g_θ(a_p, y_B,t, W_p,t, r_t)`, optionally clipped),
//! and the reverse pass through both.

use crate::rule::{LayerState, PlasticityRule};
use crate::scalar::Scalar;

use super::connectivity::Connectivity;
use super::{Network, PopulationKind, Projection};

impl Network {
    /// Scratch the step kernels need.
    pub fn scratch_len(&self) -> usize {
        let widest_pre = self
            .projections
            .iter()
            .map(|p| p.connectivity.n_pre())
            .max()
            .unwrap_or(0);
        let rule_scratch = self
            .projections
            .iter()
            .filter_map(|p| {
                p.rule
                    .map(|r| self.rules[r].rule.scratch_len(p.connectivity.n_pre()))
            })
            .max()
            .unwrap_or(0);
        let widest_population = self.populations.iter().map(|p| p.size).max().unwrap_or(0);
        2 * widest_pre + rule_scratch + widest_population
    }

    fn presynaptic<'a, S>(
        &self,
        projection: &Projection,
        previous: &'a [S],
        current: &'a [S],
    ) -> &'a [S] {
        let range = self.activity_range(projection.pre);
        if projection.delayed {
            &previous[range]
        } else {
            &current[range]
        }
    }

    /// Step items 1–2: the activity of step `t` from `previous = y_t−1`, the weights
    /// `W_t` and the data `drive` of the step (the activity of input populations, the
    /// external current of neuron populations, 0 elsewhere; one entry per neuron).
    pub fn activity<S: Scalar>(
        &self,
        weights: &[S],
        previous: &[S],
        drive: &[f64],
        current: &mut [S],
        scratch: &mut [S],
    ) {
        for (p, population) in self.populations.iter().enumerate() {
            if !population.is_simulated() {
                for (a, &u) in current[self.activity_range(p)]
                    .iter_mut()
                    .zip(&drive[self.activity_range(p)])
                {
                    *a = S::from_f64(u);
                }
            }
        }
        for &b in &self.order {
            let PopulationKind::Neurons {
                activation,
                external_input,
                ..
            } = self.populations[b].kind
            else {
                continue;
            };
            let range = self.activity_range(b);
            let z = &mut scratch[..range.len()];
            if external_input {
                for (z, &e) in z.iter_mut().zip(&drive[range.clone()]) {
                    *z = S::from_f64(e);
                }
            } else {
                z.iter_mut().for_each(|z| *z = S::zero());
            }
            for &index in &self.incoming[b] {
                let projection = &self.projections[index];
                let pre = self.presynaptic(projection, previous, current);
                let w = &weights[self.weight_range(index)];
                for (i, z) in z.iter_mut().enumerate() {
                    *z += row_dot(&projection.connectivity, w, pre, i);
                }
            }
            for (y, &z) in current[range].iter_mut().zip(z.iter()) {
                *y = activation.apply(z);
            }
        }
    }

    /// The net input `z_i = e_i + Σ_{p: A→B} Σ_j W_p,ij a_p,j` of neuron `i` (an index
    /// into the activity vector; its population `B` must be a neuron population) at a
    /// step with `W_t = weights`, `y_t−1 = previous`, `y_t = current` and the step's
    /// `drive`: the `z` from which [`Network::activity`] made `y_i = f_B(z_i)`, summed in
    /// the same order, so bit for bit the same number.
    pub fn net_input<S: Scalar>(
        &self,
        neuron: usize,
        weights: &[S],
        previous: &[S],
        current: &[S],
        drive: &[f64],
    ) -> S {
        let b = self.activity_start.partition_point(|&s| s <= neuron) - 1;
        let i = neuron - self.activity_start[b];
        let mut z = match self.populations[b].kind {
            PopulationKind::Neurons {
                external_input: true,
                ..
            } => S::from_f64(drive[neuron]),
            _ => S::zero(),
        };
        for &index in &self.incoming[b] {
            let projection = &self.projections[index];
            let pre = self.presynaptic(projection, previous, current);
            z += row_dot(
                &projection.connectivity,
                &weights[self.weight_range(index)],
                pre,
                i,
            );
        }
        z
    }

    /// Step item 3: `W_p ← W_p + η_p g_θ(a_p, y_post, W_p, r)` for every plastic
    /// projection (then the clip), from the activities `previous = y_t−1` and
    /// `current = y_t` and the step's modulatory signal `r = reward` (the rule's
    /// `LayerState::reward`). The caller skips it at steps whose gate is off. Returns
    /// how many weights the bound clipped.
    pub fn plasticity<S: Scalar>(
        &self,
        theta: &[S],
        weights: &mut [S],
        previous: &[S],
        current: &[S],
        reward: S,
        scratch: &mut [S],
    ) -> usize {
        self.plasticity_marking(theta, weights, previous, current, reward, scratch, |_| {})
    }

    /// [`Network::plasticity`], calling `clipped(k)` for every synapse `k` (an index into
    /// `weights`) whose updated value lay strictly outside `[−B, B]` and was clipped:
    /// the clip's derivative is 0 there and 1 everywhere else (also at `±B` itself).
    #[allow(clippy::too_many_arguments)]
    pub fn plasticity_marking<S: Scalar>(
        &self,
        theta: &[S],
        weights: &mut [S],
        previous: &[S],
        current: &[S],
        reward: S,
        scratch: &mut [S],
        mut clipped: impl FnMut(usize),
    ) -> usize {
        let mut count = 0;
        for (index, projection) in self.projections.iter().enumerate() {
            let Some(r) = projection.rule else { continue };
            let rule = &self.rules[r].rule;
            let theta = &theta[self.theta_range(r)];
            let pre = self.presynaptic(projection, previous, current);
            let post = &current[self.activity_range(projection.post)];
            let w = &mut weights[self.weight_range(index)];
            let eta = S::from_f64(projection.learning_rate);
            let connectivity = &projection.connectivity;
            if connectivity.dense {
                let layer = LayerState {
                    pre,
                    post,
                    reward,
                    learning_rate: eta,
                };
                rule.update(theta, layer, w, scratch);
            } else {
                let (gathered, rule_scratch) = scratch.split_at_mut(connectivity.n_pre());
                for (i, y) in post.iter().enumerate() {
                    let row = connectivity.row(i);
                    if row.is_empty() {
                        continue;
                    }
                    let gathered = &mut gathered[..row.len()];
                    for (g, &j) in gathered
                        .iter_mut()
                        .zip(&connectivity.pre_index[row.clone()])
                    {
                        *g = pre[j];
                    }
                    let layer = LayerState {
                        pre: gathered,
                        post: std::slice::from_ref(y),
                        reward,
                        learning_rate: eta,
                    };
                    rule.update(theta, layer, &mut w[row], rule_scratch);
                }
            }
            if let Some(bound) = self.weight_bound {
                let (low, high) = (S::from_f64(-bound), S::from_f64(bound));
                let start = self.weight_range(index).start;
                for (k, w) in w.iter_mut().enumerate() {
                    let outside = if w.re() > bound {
                        *w = high;
                        true
                    } else if w.re() < -bound {
                        *w = low;
                        true
                    } else {
                        false
                    };
                    if outside {
                        count += 1;
                        clipped(start + k);
                    }
                }
            }
        }
        count
    }

    /// Reverse mode of one step at `W_t = weights_before`, `y_t−1 = previous`,
    /// `y_t = current` and modulatory signal `r_t = reward`; `clipped` is `Some` when
    /// the step updates the weights (`None` for the last step, whose update no loss
    /// sees, and for steps whose plasticity gate is off, where `W_t+1 = W_t`), holding
    /// for every synapse whether the bound clipped its update (as
    /// [`Network::plasticity_marking`] reports it; empty: none was).
    ///
    /// On entry `weights_adjoint` is `∂L/∂W_t+1` and `current_adjoint` is `∂L/∂y_t`
    /// from the loss and from the next step's delayed projections; `net_input_adjoint`,
    /// when given (one entry per neuron), is a loss's direct share of `∂L/∂z_t`, added to
    /// `z̄ = ȳ f'(z)` (a loss written through the net input, such as the cross-entropy
    /// of `σ(z)`). On exit `weights_adjoint` is `∂L/∂W_t`, `previous_adjoint` has
    /// `∂L/∂y_t−1` added (through delayed projections), `theta_adjoint` this step's
    /// share; `current_adjoint` is used as scratch. `r_t` is data: it gets no adjoint.
    #[allow(clippy::too_many_arguments)]
    pub fn step_vjp(
        &self,
        theta: &[f64],
        weights_before: &[f64],
        clipped: Option<&[bool]>,
        previous: &[f64],
        current: &[f64],
        reward: f64,
        net_input_adjoint: Option<&[f64]>,
        weights_adjoint: &mut [f64],
        current_adjoint: &mut [f64],
        previous_adjoint: &mut [f64],
        theta_adjoint: &mut [f64],
        scratch: &mut [f64],
    ) {
        if let Some(clipped) = clipped {
            for (index, projection) in self.projections.iter().enumerate() {
                let Some(r) = projection.rule else { continue };
                self.update_vjp(
                    index,
                    r,
                    theta,
                    weights_before,
                    clipped,
                    previous,
                    current,
                    reward,
                    weights_adjoint,
                    current_adjoint,
                    previous_adjoint,
                    theta_adjoint,
                    scratch,
                );
            }
        }
        for &b in self.order.iter().rev() {
            let PopulationKind::Neurons { activation, .. } = self.populations[b].kind else {
                continue;
            };
            let range = self.activity_range(b);
            let z_bar = &mut scratch[..range.len()];
            for ((z_bar, &y_bar), &y) in z_bar
                .iter_mut()
                .zip(&current_adjoint[range.clone()])
                .zip(&current[range.clone()])
            {
                *z_bar = y_bar * activation.slope(y);
            }
            if let Some(direct) = net_input_adjoint {
                for (z_bar, &d) in z_bar.iter_mut().zip(&direct[range]) {
                    *z_bar += d;
                }
            }
            for &index in &self.incoming[b] {
                let projection = &self.projections[index];
                let pre_range = self.activity_range(projection.pre);
                let pre = self.presynaptic(projection, previous, current);
                let w_range = self.weight_range(index);
                let w = &weights_before[w_range.clone()];
                let lambda = &mut weights_adjoint[w_range];
                let connectivity = &projection.connectivity;
                let pre_adjoint = if !self.populations[projection.pre].is_simulated() {
                    None
                } else if projection.delayed {
                    Some(&mut previous_adjoint[pre_range])
                } else {
                    Some(&mut current_adjoint[pre_range])
                };
                match pre_adjoint {
                    Some(pre_adjoint) => {
                        for (i, &z_bar) in z_bar.iter().enumerate() {
                            for k in connectivity.row(i) {
                                let j = connectivity.pre_index[k];
                                lambda[k] += z_bar * pre[j];
                                pre_adjoint[j] += z_bar * w[k];
                            }
                        }
                    }
                    None => {
                        for (i, &z_bar) in z_bar.iter().enumerate() {
                            let row = connectivity.row(i);
                            if connectivity.dense {
                                for (l, &x) in lambda[row].iter_mut().zip(pre) {
                                    *l += z_bar * x;
                                }
                            } else {
                                for (l, &j) in lambda[row.clone()]
                                    .iter_mut()
                                    .zip(&connectivity.pre_index[row])
                                {
                                    *l += z_bar * pre[j];
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Reverse mode of one projection's update (see [`Network::step_vjp`]).
    #[allow(clippy::too_many_arguments)]
    fn update_vjp(
        &self,
        index: usize,
        r: usize,
        theta: &[f64],
        weights_before: &[f64],
        clipped: &[bool],
        previous: &[f64],
        current: &[f64],
        reward: f64,
        weights_adjoint: &mut [f64],
        current_adjoint: &mut [f64],
        previous_adjoint: &mut [f64],
        theta_adjoint: &mut [f64],
        scratch: &mut [f64],
    ) {
        let projection = &self.projections[index];
        let rule = &self.rules[r].rule;
        let theta = &theta[self.theta_range(r)];
        let theta_adjoint = &mut theta_adjoint[self.theta_range(r)];
        let pre = self.presynaptic(projection, previous, current);
        let post_range = self.activity_range(projection.post);
        let post = &current[post_range.clone()];
        let w_range = self.weight_range(index);
        let w = &weights_before[w_range.clone()];
        let lambda = &mut weights_adjoint[w_range.clone()];
        if !clipped.is_empty() {
            // a clipped weight no longer depends on anything before it
            for (l, _) in lambda
                .iter_mut()
                .zip(&clipped[w_range])
                .filter(|(_, &clipped)| clipped)
            {
                *l = 0.0;
            }
        }
        let eta = projection.learning_rate;
        let connectivity = &projection.connectivity;
        let pre_simulated = self.populations[projection.pre].is_simulated();
        let pre_range = self.activity_range(projection.pre);
        if connectivity.dense {
            let layer = LayerState {
                pre,
                post,
                reward,
                learning_rate: eta,
            };
            if pre_simulated {
                let pre_adjoint = if projection.delayed {
                    &mut previous_adjoint[pre_range]
                } else {
                    &mut current_adjoint[pre_range]
                };
                rule.update_vjp_pre(theta, layer, w, lambda, pre_adjoint);
            }
            rule.update_vjp(
                theta,
                layer,
                w,
                lambda,
                &mut current_adjoint[post_range],
                theta_adjoint,
                scratch,
            );
        } else {
            let n_pre = connectivity.n_pre();
            let (gathered, rest) = scratch.split_at_mut(n_pre);
            let (gathered_adjoint, rule_scratch) = rest.split_at_mut(n_pre);
            for (i, y) in post.iter().enumerate() {
                let row = connectivity.row(i);
                if row.is_empty() {
                    continue;
                }
                let indices = &connectivity.pre_index[row.clone()];
                let gathered = &mut gathered[..row.len()];
                for (g, &j) in gathered.iter_mut().zip(indices) {
                    *g = pre[j];
                }
                let layer = LayerState {
                    pre: gathered,
                    post: std::slice::from_ref(y),
                    reward,
                    learning_rate: eta,
                };
                if pre_simulated {
                    let gathered_adjoint = &mut gathered_adjoint[..row.len()];
                    gathered_adjoint.iter_mut().for_each(|a| *a = 0.0);
                    rule.update_vjp_pre(
                        theta,
                        layer,
                        &w[row.clone()],
                        &lambda[row.clone()],
                        gathered_adjoint,
                    );
                    let pre_adjoint = if projection.delayed {
                        &mut previous_adjoint[pre_range.clone()]
                    } else {
                        &mut current_adjoint[pre_range.clone()]
                    };
                    for (&a, &j) in gathered_adjoint.iter().zip(indices) {
                        pre_adjoint[j] += a;
                    }
                }
                let post_adjoint =
                    &mut current_adjoint[post_range.start + i..post_range.start + i + 1];
                rule.update_vjp(
                    theta,
                    layer,
                    &w[row.clone()],
                    &mut lambda[row],
                    post_adjoint,
                    theta_adjoint,
                    rule_scratch,
                );
            }
        }
    }
}

/// `Σ_k W_ik a_j(k)` over the synapses of row `i` of one projection (dense rows in order,
/// sparse rows through their presynaptic indices).
#[inline(always)]
fn row_dot<S: Scalar>(connectivity: &Connectivity, w: &[S], pre: &[S], i: usize) -> S {
    let row = connectivity.row(i);
    let mut sum = S::zero();
    if connectivity.dense {
        for (&w, &x) in w[row].iter().zip(pre) {
            sum += w * x;
        }
    } else {
        for (&w, &j) in w[row.clone()].iter().zip(&connectivity.pre_index[row]) {
            sum += w * pre[j];
        }
    }
    sum
}
