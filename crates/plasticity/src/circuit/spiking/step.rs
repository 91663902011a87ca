//! One step of a spiking circuit (the order of [`super`]'s module documentation), for
//! real numbers and for dual numbers, and the event loops the gradients share with it.

use rand::RngExt;

use super::latent::AgeDensity;
use super::neuron::Surrogate;
use super::{SpikingCircuit, SpikingKind};
use crate::rule::spike::{SpikeRule, SpikeVariables};
use crate::scalar::Scalar;

/// How the neurons' spikes of a step are decided.
pub enum Decision<'a, R> {
    /// Every spike of the step is given (neurons' included: teacher forcing).
    Forced(&'a [u32]),
    /// The neurons spike with their escape probability (drawn from the generator) or
    /// deterministically.
    Drawn(&'a mut R),
}

/// The state of a spiking circuit between steps (no allocation per step).
#[derive(Clone, Debug)]
pub struct SpikingState<S> {
    /// `V` per neuron (0 for sources).
    pub v: Vec<S>,
    /// The weights, projections concatenated.
    pub weights: Vec<S>,
    /// Steps each neuron is still held at its reset.
    pub refractory: Vec<u32>,
    /// The adaptation `a` per neuron (ALIF).
    pub adaptation: Vec<f64>,
    /// Per projection, its presynaptic traces (concatenated).
    pub x_trace: Vec<S>,
    /// Per projection, its postsynaptic traces (concatenated).
    pub y_trace: Vec<S>,
    /// Per projection, its second presynaptic traces (kept where a rule reads them).
    pub x2_trace: Vec<S>,
    /// Per projection, its second postsynaptic traces.
    pub y2_trace: Vec<S>,
    /// Latent neurons by expectation: each one's spike probability this step
    /// (`ŝ = p(u)`; 0 elsewhere).
    pub expected: Vec<S>,
    /// … and the previous step's.
    pub expected_previous: Vec<S>,
    /// Whether latent populations are treated by expectation (teacher-forced runs).
    mean_field: bool,
    /// The latent neurons' distributions over the age of their last spike.
    ages: Option<AgeDensity<S>>,
    /// Free-running with a surrogate derivative: every neuron's spike enters as a
    /// scalar (`expected`) carrying `∂s/∂u`.
    surrogate: Option<Surrogate>,
    /// Whether each neuron spiked this step.
    pub current: Vec<bool>,
    /// Whether each neuron spiked the previous step.
    pub previous: Vec<bool>,
    /// The neurons that spiked this step.
    pub current_list: Vec<u32>,
    /// The neurons that spiked the previous step.
    pub previous_list: Vec<u32>,
    /// Whether each neuron's `V_t` integrated `V_{t−1}` this step (not reset or held).
    pub integrated: Vec<bool>,
    /// Whether each neuron was held (refractory) this step.
    pub held: Vec<bool>,
    x_start: Vec<usize>,
    y_start: Vec<usize>,
}

impl<S: Scalar> SpikingState<S> {
    /// The state before the first step: `V = 0` (the reset for neurons), traces and
    /// adaptation 0, weights `W₀`.
    pub fn new(circuit: &SpikingCircuit, initial_weights: &[f64]) -> Self {
        let n = circuit.n_neurons();
        let mut v = vec![S::zero(); n];
        for (p, population) in circuit.populations().iter().enumerate() {
            if let SpikingKind::Lif(neuron) = population.kind {
                for slot in &mut v[circuit.neuron_range(p)] {
                    *slot = S::from_f64(neuron.reset);
                }
            }
        }
        let mut x_start = vec![0];
        let mut y_start = vec![0];
        for projection in circuit.projections() {
            x_start.push(x_start[x_start.len() - 1] + projection.connectivity.n_pre());
            y_start.push(y_start[y_start.len() - 1] + projection.connectivity.n_post());
        }
        SpikingState {
            v,
            weights: initial_weights.iter().map(|&w| S::from_f64(w)).collect(),
            refractory: vec![0; n],
            adaptation: vec![0.0; n],
            x_trace: vec![S::zero(); x_start[x_start.len() - 1]],
            y_trace: vec![S::zero(); y_start[y_start.len() - 1]],
            x2_trace: vec![S::zero(); x_start[x_start.len() - 1]],
            y2_trace: vec![S::zero(); y_start[y_start.len() - 1]],
            expected: vec![S::zero(); n],
            expected_previous: vec![S::zero(); n],
            mean_field: false,
            ages: None,
            surrogate: None,
            current: vec![false; n],
            previous: vec![false; n],
            current_list: Vec::new(),
            previous_list: Vec::new(),
            integrated: vec![false; n],
            held: vec![false; n],
            x_start,
            y_start,
        }
    }

    /// The state before the first step of a teacher-forced run: as [`Self::new`], with
    /// the latent populations (if any) treated by expectation. A latent neuron's spike
    /// is replaced by its probability `ŝ_t` wherever a spike enters (its traces, its
    /// targets' input, the rules), `ŝ_t` computed over the age of its last spike
    /// ([`AgeDensity`]); differentiable in θ, no surrogate. Recorded spikes of latent
    /// neurons, if given, are ignored.
    pub fn teacher_forced(circuit: &SpikingCircuit, initial_weights: &[f64]) -> Self {
        let mut state = Self::new(circuit, initial_weights);
        state.mean_field = circuit.has_latent();
        if state.mean_field {
            state.ages = Some(AgeDensity::new(circuit));
        }
        state
    }

    /// The state before the first step of a free-running simulation whose spikes carry
    /// the `surrogate` derivative (for gradients of function objectives). Each neuron's
    /// spike `s_t` enters as a scalar everywhere (`expected`: traces, inputs, rules)
    /// and its reset as `V ← α ((1 − s) V + s V_reset)`; refractoriness and adaptation
    /// follow the spike's value.
    pub fn with_surrogate(
        circuit: &SpikingCircuit,
        initial_weights: &[f64],
        surrogate: Surrogate,
    ) -> Self {
        let mut state = Self::new(circuit, initial_weights);
        state.surrogate = Some(surrogate);
        state
    }

    /// Whether latent populations are treated by expectation.
    pub fn mean_field(&self) -> bool {
        self.mean_field
    }

    /// Projection `p`'s second traces `(x2_trace, y2_trace)`.
    pub fn second_traces_of(&self, p: usize) -> (&[S], &[S]) {
        (
            &self.x2_trace[self.x_start[p]..self.x_start[p + 1]],
            &self.y2_trace[self.y_start[p]..self.y_start[p + 1]],
        )
    }

    /// Projection `p`'s presynaptic traces.
    pub fn x_trace_of(&self, p: usize) -> &[S] {
        &self.x_trace[self.x_start[p]..self.x_start[p + 1]]
    }

    /// Projection `p`'s postsynaptic traces.
    pub fn y_trace_of(&self, p: usize) -> &[S] {
        &self.y_trace[self.y_start[p]..self.y_start[p + 1]]
    }

    /// The weights (mutable) with what an update of projection `p` reads: its traces
    /// `(x̄, ȳ, x̄₂, ȳ₂)`, the spikes `(previous, current)` and their lists.
    #[allow(clippy::type_complexity)]
    pub(crate) fn update_parts(
        &mut self,
        p: usize,
    ) -> (
        &mut [S],
        (&[S], &[S], &[S], &[S]),
        (&[bool], &[bool]),
        (&[u32], &[u32]),
    ) {
        let (x, y) = (
            self.x_start[p]..self.x_start[p + 1],
            self.y_start[p]..self.y_start[p + 1],
        );
        (
            &mut self.weights,
            (
                &self.x_trace[x.clone()],
                &self.y_trace[y.clone()],
                &self.x2_trace[x],
                &self.y2_trace[y],
            ),
            (&self.previous, &self.current),
            (&self.previous_list, &self.current_list),
        )
    }

    /// The weights as real numbers.
    pub fn weights_re(&self) -> Vec<f64> {
        self.weights.iter().map(|w| w.re()).collect()
    }
}

/// `g_θ` at one synapse with `w` a scalar of any kind (θ too): `Σ_k θ_k φ_k`.
#[inline]
pub(crate) fn rule_value<S: Scalar>(rule: &SpikeRule, theta: &[S], v: &SpikeVariables, w: S) -> S {
    let mut total = S::zero();
    for (term, &c) in rule.terms().iter().zip(theta) {
        let e = term.exponents[4];
        let mut reduced = *term;
        reduced.exponents[4] = 0;
        let data = reduced.value(v);
        if data == 0.0 {
            continue;
        }
        let mut factor = S::from_f64(data);
        for _ in 0..e {
            factor *= w;
        }
        total += c * factor;
    }
    total
}

impl SpikingCircuit {
    /// Runs step items 1–2 and 3's integration on `state` (moving this step's spikes
    /// to the previous ones first): traces, adaptation, `V` of every neuron. `sources`
    /// are the spikes given for this step (all of them when forced).
    pub fn begin_step<S: Scalar>(&self, state: &mut SpikingState<S>, given: &[u32]) {
        std::mem::swap(&mut state.current, &mut state.previous);
        std::mem::swap(&mut state.current_list, &mut state.previous_list);
        for &i in &state.current_list {
            state.current[i as usize] = false;
        }
        state.current_list.clear();
        for &i in given {
            if self.is_source(i as usize) {
                state.current[i as usize] = true;
                state.current_list.push(i);
            }
        }
        if state.mean_field || state.surrogate.is_some() {
            std::mem::swap(&mut state.expected, &mut state.expected_previous);
        }
        for (p, projection) in self.projections().iter().enumerate() {
            let pre = self.neuron_range(projection.pre);
            let spikes = if self.delayed(p) {
                &state.previous
            } else {
                &state.current
            };
            let (pre_scalar, post_scalar) = (
                self.by_expectation(state, projection.pre),
                self.by_expectation(state, projection.post),
            );
            let x = &mut state.x_trace[state.x_start[p]..state.x_start[p + 1]];
            let decay = S::from_f64(projection.pre_decay);
            if pre_scalar {
                for (x, &e) in x.iter_mut().zip(&state.expected_previous[pre]) {
                    *x = *x * decay + e;
                }
            } else {
                for (x, &s) in x.iter_mut().zip(&spikes[pre]) {
                    *x = *x * decay + S::from_f64(f64::from(u8::from(s)));
                }
            }
            let post = self.neuron_range(projection.post);
            let y = &mut state.y_trace[state.y_start[p]..state.y_start[p + 1]];
            let decay = S::from_f64(projection.post_decay);
            if post_scalar {
                for (y, &e) in y.iter_mut().zip(&state.expected_previous[post]) {
                    *y = (*y + e) * decay;
                }
            } else {
                for (y, &s) in y.iter_mut().zip(&state.previous[post]) {
                    *y = (*y + S::from_f64(f64::from(u8::from(s)))) * decay;
                }
            }
            self.second_traces(p, state, (pre_scalar, post_scalar));
        }
        self.integrate(state);
    }

    /// The second traces of projection `p`, where its rule reads them:
    /// `x̄₂ ← e^{−Δt/τ_pre2} x̄₂ + a`, `ȳ₂ ← e^{−Δt/τ_post2} (ȳ₂ + s_post,t−1)`, as the
    /// first ones.
    fn second_traces<S: Scalar>(
        &self,
        p: usize,
        state: &mut SpikingState<S>,
        (pre_scalar, post_scalar): (bool, bool),
    ) {
        let (uses_x2, uses_y2) = self.uses_second_traces(p);
        let projection = &self.projections()[p];
        let spike = |b: bool| S::from_f64(f64::from(u8::from(b)));
        if uses_x2 {
            let pre = self.neuron_range(projection.pre);
            let spikes = if self.delayed(p) {
                &state.previous
            } else {
                &state.current
            };
            let decay = S::from_f64(projection.pre_decay2);
            let x2 = &mut state.x2_trace[state.x_start[p]..state.x_start[p + 1]];
            for (k, x) in x2.iter_mut().enumerate() {
                let a = if pre_scalar {
                    state.expected_previous[pre.start + k]
                } else {
                    spike(spikes[pre.start + k])
                };
                *x = *x * decay + a;
            }
        }
        if uses_y2 {
            let post = self.neuron_range(projection.post);
            let decay = S::from_f64(projection.post_decay2);
            let y2 = &mut state.y2_trace[state.y_start[p]..state.y_start[p + 1]];
            for (k, y) in y2.iter_mut().enumerate() {
                let s = if post_scalar {
                    state.expected_previous[post.start + k]
                } else {
                    spike(state.previous[post.start + k])
                };
                *y = (*y + s) * decay;
            }
        }
    }

    fn is_source(&self, i: usize) -> bool {
        self.populations()[self.population_of(i)].kind == SpikingKind::Source
    }

    /// `V_i ← α V_i + Σ_p J_p Σ_j W_ij a_j` (or held at the reset), and the adaptation.
    fn integrate<S: Scalar>(&self, state: &mut SpikingState<S>) {
        for (p, population) in self.populations().iter().enumerate() {
            let SpikingKind::Lif(neuron) = population.kind else {
                continue;
            };
            let expected = state.mean_field && self.is_latent(p);
            for i in self.neuron_range(p) {
                if expected {
                    // V collects this step's input; the ages integrate it below
                    state.v[i] = S::zero();
                    state.integrated[i] = true;
                    state.held[i] = false;
                    continue;
                }
                let spiked = state.previous[i];
                if let Some(adaptation) = neuron.adaptation {
                    state.adaptation[i] =
                        adaptation.decay * (state.adaptation[i] + f64::from(u8::from(spiked)));
                }
                if spiked {
                    // reset; held for the refractory steps, this one first
                    state.refractory[i] = neuron.refractory_steps as u32;
                    if state.surrogate.is_none() {
                        state.v[i] = S::from_f64(neuron.reset);
                    }
                }
                state.integrated[i] = !spiked && state.refractory[i] == 0;
                state.held[i] = state.refractory[i] > 0;
                if state.held[i] {
                    state.refractory[i] -= 1;
                    state.v[i] = S::from_f64(neuron.reset);
                } else if state.surrogate.is_some() {
                    // V_t = α ((1 − s) V + s V_reset) with the reset detached (s's value
                    // only: through the reset the surrogate explodes, ∂V/∂s ≈ −α ϑ)
                    let s = S::from_f64(state.expected_previous[i].re());
                    state.v[i] = (state.v[i] * (S::one() - s) + s * S::from_f64(neuron.reset))
                        * S::from_f64(neuron.leak);
                } else {
                    state.v[i] *= S::from_f64(neuron.leak);
                }
            }
        }
        let SpikingState {
            v,
            weights,
            previous_list,
            current_list,
            held,
            surrogate,
            ..
        } = state;
        // with a surrogate, neuron populations' spikes enter as scalars below
        let previous_list: &[u32] = if surrogate.is_some() {
            &[]
        } else {
            previous_list
        };
        self.visit_inputs((previous_list, current_list), held, |i, k, scale| {
            v[i] += S::from_f64(scale) * weights[k];
        });
        if state.mean_field || state.surrogate.is_some() {
            self.latent_inputs(state);
            self.advance_ages(state);
        }
    }

    /// Every latent neuron's ages grow and integrate this step's input (collected in
    /// its `V`, which becomes the mean membrane).
    fn advance_ages<S: Scalar>(&self, state: &mut SpikingState<S>) {
        let Some(ages) = state.ages.as_mut() else {
            return;
        };
        for (p, population) in self.populations().iter().enumerate() {
            if let (SpikingKind::Lif(neuron), true) = (population.kind, self.is_latent(p)) {
                for i in self.neuron_range(p) {
                    state.v[i] = ages.advance(i, &neuron, state.v[i]);
                }
            }
        }
    }

    /// The input of presynaptic neurons whose spikes are scalars (latent ones by
    /// expectation, or carrying a surrogate derivative): `V_i += J W_k ŝ_j,t−1` for
    /// every synapse `k` from such a `j` into `i`.
    fn latent_inputs<S: Scalar>(&self, state: &mut SpikingState<S>) {
        for (p, projection) in self.projections().iter().enumerate() {
            if !self.by_expectation(state, projection.pre) {
                continue;
            }
            let pre = self.neuron_range(projection.pre);
            let post_start = self.neuron_range(projection.post).start;
            let w_start = self.weight_range(p).start;
            let scale = S::from_f64(projection.scale);
            for j in pre.clone() {
                let drive = scale * state.expected_previous[j];
                for &(i, k) in self.outgoing(p, j - pre.start) {
                    let i = post_start + i as usize;
                    if !state.held[i] {
                        state.v[i] += drive * state.weights[w_start + k as usize];
                    }
                }
            }
        }
    }

    /// Step item 3's spikes: every neuron not held spikes as `decision` says;
    /// `observe(i, u, spike, escape)` sees each such neuron's `u = V − ϑ_t` (for the
    /// loss).
    /// Held neurons spike only when forced to (recorded), unobserved.
    pub fn decide<S: Scalar, R: rand::Rng>(
        &self,
        state: &mut SpikingState<S>,
        decision: Decision<'_, R>,
        mut observe: impl FnMut(usize, S, bool, &super::Escape),
    ) {
        match decision {
            Decision::Forced(spikes) => {
                for &i in spikes {
                    let i_usize = i as usize;
                    let latent = state.mean_field && self.is_latent(self.population_of(i_usize));
                    if !self.is_source(i_usize) && !latent {
                        state.current[i_usize] = true;
                        state.current_list.push(i);
                    }
                }
                for (p, population) in self.populations().iter().enumerate() {
                    let SpikingKind::Lif(neuron) = population.kind else {
                        continue;
                    };
                    if let (Some(ages), true) = (state.ages.as_mut(), self.is_latent(p)) {
                        for i in self.neuron_range(p) {
                            state.expected[i] = ages.expected_spike(i, &neuron);
                        }
                        continue;
                    }
                    for i in self.neuron_range(p) {
                        if !state.held[i] {
                            let u = state.v[i] - S::from_f64(self.threshold(&neuron, state, i));
                            observe(i, u, state.current[i], &neuron.escape);
                        }
                    }
                }
            }
            Decision::Drawn(rng) => {
                for (p, population) in self.populations().iter().enumerate() {
                    let SpikingKind::Lif(neuron) = population.kind else {
                        continue;
                    };
                    let background = neuron.background.map(|b| {
                        let binomial = rand_distr::Binomial::new(b.count, b.probability)
                            .expect("a probability checked when the circuit was built");
                        (binomial, b.weight)
                    });
                    for i in self.neuron_range(p) {
                        if state.held[i] {
                            state.expected[i] = S::zero();
                            continue;
                        }
                        if let Some((binomial, weight)) = &background {
                            let count = rng.sample(binomial) as f64;
                            state.v[i] += S::from_f64(weight * count);
                        }
                        let u = state.v[i] - S::from_f64(self.threshold(&neuron, state, i));
                        let p_spike = neuron.escape.probability(u.re());
                        let spike =
                            p_spike >= 1.0 || (p_spike > 0.0 && rng.random::<f64>() < p_spike);
                        if spike {
                            state.current[i] = true;
                            state.current_list.push(i as u32);
                        }
                        if let Some(surrogate) = &state.surrogate {
                            state.expected[i] = surrogate.spike(spike, u);
                        }
                        observe(i, u, spike, &neuron.escape);
                    }
                }
            }
        }
    }

    /// Whether population `p`'s spikes enter as scalars (`expected`): latent ones in a
    /// teacher-forced run, every neuron population with a surrogate derivative.
    #[inline]
    fn by_expectation<S>(&self, state: &SpikingState<S>, p: usize) -> bool {
        (state.mean_field && self.is_latent(p))
            || (state.surrogate.is_some()
                && matches!(self.populations()[p].kind, SpikingKind::Lif(_)))
    }

    #[inline]
    fn threshold<S>(&self, neuron: &super::LifNeuron, state: &SpikingState<S>, i: usize) -> f64 {
        neuron.threshold
            + neuron
                .adaptation
                .map_or(0.0, |a| a.increment * state.adaptation[i])
    }

    /// Step item 4: every plastic projection's update (item 5, the postsynaptic traces
    /// taking this step's spikes, happens at the next [`SpikingCircuit::begin_step`],
    /// before their decay). `clipped(k)` is called for each synapse whose update the
    /// bounds clipped.
    pub fn finish_step<S: Scalar>(
        &self,
        theta: &[S],
        state: &mut SpikingState<S>,
        reward: f64,
        mut clipped: impl FnMut(usize),
    ) {
        for (p, projection) in self.projections().iter().enumerate() {
            let Some(r) = projection.rule else { continue };
            let rule = &self.rules()[r].rule;
            let theta = &theta[self.theta_range(r)];
            if self.by_expectation(state, projection.pre)
                || self.by_expectation(state, projection.post)
            {
                self.expected_updates(p, rule, theta, state, reward, &mut clipped);
                continue;
            }
            let eta = S::from_f64(projection.learning_rate);
            let w_start = self.weight_range(p).start;
            let bounds = self.weight_bounds();
            let SpikingState {
                weights,
                x_trace,
                y_trace,
                x2_trace,
                y2_trace,
                x_start,
                y_start,
                ..
            } = state;
            let (x, y) = (
                &x_trace[x_start[p]..x_start[p + 1]],
                &y_trace[y_start[p]..y_start[p + 1]],
            );
            let (x2, y2) = (
                &x2_trace[x_start[p]..x_start[p + 1]],
                &y2_trace[y_start[p]..y_start[p + 1]],
            );
            self.visit_updates(
                p,
                &state.previous,
                &state.current,
                (&state.previous_list, &state.current_list),
                |k, i, j, s_pre, s_post| {
                    let w = &mut weights[w_start + k];
                    let v = SpikeVariables {
                        s_pre,
                        s_post,
                        x_trace: x[j].re(),
                        y_trace: y[i].re(),
                        w: w.re(),
                        r: reward,
                        x2_trace: x2[j].re(),
                        y2_trace: y2[i].re(),
                    };
                    let updated = *w + eta * rule_value(rule, theta, &v, *w);
                    *w = updated;
                    if let Some((low, high)) = bounds {
                        if updated.re() > high {
                            *w = S::from_f64(high);
                            clipped(w_start + k);
                        } else if updated.re() < low {
                            *w = S::from_f64(low);
                            clipped(w_start + k);
                        }
                    }
                },
            );
        }
    }

    /// Step item 4 for a projection from or onto a latent population, by expectation:
    /// every synapse, with each latent spike replaced by its probability `ŝ` and the
    /// traces it drives (`g_θ` is linear in each spike, so this is `E[g_θ]` given the
    /// traces).
    fn expected_updates<S: Scalar>(
        &self,
        p: usize,
        rule: &SpikeRule,
        theta: &[S],
        state: &mut SpikingState<S>,
        reward: f64,
        clipped: &mut impl FnMut(usize),
    ) {
        let projection = &self.projections()[p];
        let (pre, post) = (
            self.neuron_range(projection.pre),
            self.neuron_range(projection.post),
        );
        let (pre_latent, post_latent) = (
            self.by_expectation(state, projection.pre),
            self.by_expectation(state, projection.post),
        );
        let delayed = self.delayed(p);
        let eta = S::from_f64(projection.learning_rate);
        let w_start = self.weight_range(p).start;
        let bounds = self.weight_bounds();
        let spike = |b: bool| S::from_f64(f64::from(u8::from(b)));
        let c = &projection.connectivity;
        let SpikingState {
            weights,
            x_trace,
            x2_trace,
            y2_trace,
            y_trace,
            x_start,
            y_start,
            expected,
            expected_previous,
            previous,
            current,
            ..
        } = state;
        let (x, y) = (
            &x_trace[x_start[p]..x_start[p + 1]],
            &y_trace[y_start[p]..y_start[p + 1]],
        );
        let (x2, y2) = (
            &x2_trace[x_start[p]..x_start[p + 1]],
            &y2_trace[y_start[p]..y_start[p + 1]],
        );
        let r = S::from_f64(reward);
        for i in 0..c.n_post() {
            let s_post = if post_latent {
                expected[post.start + i]
            } else {
                spike(current[post.start + i])
            };
            for k in c.row(i) {
                let j = c.pre_index()[k];
                let s_pre = match (pre_latent, delayed) {
                    (true, _) => expected_previous[pre.start + j],
                    (false, true) => spike(previous[pre.start + j]),
                    (false, false) => spike(current[pre.start + j]),
                };
                let w = &mut weights[w_start + k];
                let variables = [s_pre, s_post, x[j], y[i], *w, r, x2[j], y2[i]];
                let updated = *w + eta * rule.evaluate_generic(theta, &variables);
                *w = updated;
                if let Some((low, high)) = bounds {
                    if updated.re() > high {
                        *w = S::from_f64(high);
                        clipped(w_start + k);
                    } else if updated.re() < low {
                        *w = S::from_f64(low);
                        clipped(w_start + k);
                    }
                }
            }
        }
    }

    /// Calls `visit(i, k, J)` for every synapse `k` (in the weights' layout) whose
    /// presynaptic neuron spiked this step (a source) or the previous step (a neuron
    /// population) into a neuron `i` (global) that is not held: step item 3's input
    /// `V_i += J W_k`, and the same event loop for its tangents and adjoints.
    pub(crate) fn visit_inputs(
        &self,
        (previous_list, current_list): (&[u32], &[u32]),
        held: &[bool],
        mut visit: impl FnMut(usize, usize, f64),
    ) {
        for (p, projection) in self.projections().iter().enumerate() {
            let pre = self.neuron_range(projection.pre);
            let post_start = self.neuron_range(projection.post).start;
            let w_start = self.weight_range(p).start;
            let list = if self.delayed(p) {
                previous_list
            } else {
                current_list
            };
            for &j in list {
                let j = j as usize;
                if !pre.contains(&j) {
                    continue;
                }
                for &(i, k) in self.outgoing(p, j - pre.start) {
                    let i = post_start + i as usize;
                    if !held[i] {
                        visit(i, w_start + k as usize, projection.scale);
                    }
                }
            }
        }
    }

    /// Calls `visit(k, i, j, s_pre, s_post)` for every synapse of projection `p` whose
    /// rule can change it this step (synapse `k` within the projection, from `j` to `i`
    /// within their populations): with an event-driven rule, the rows of postsynaptic
    /// neurons that spiked and the synapses of presynaptic neurons that spiked, each
    /// once; otherwise every synapse.
    pub(crate) fn visit_updates(
        &self,
        p: usize,
        previous: &[bool],
        current: &[bool],
        (previous_list, current_list): (&[u32], &[u32]),
        mut visit: impl FnMut(usize, usize, usize, f64, f64),
    ) {
        let projection = &self.projections()[p];
        let pre = self.neuron_range(projection.pre);
        let post = self.neuron_range(projection.post);
        let (pre_spikes, pre_list) = if self.delayed(p) {
            (previous, previous_list)
        } else {
            (current, current_list)
        };
        let spike = |b: bool| f64::from(u8::from(b));
        let c = &projection.connectivity;
        let event_driven = projection
            .rule
            .is_some_and(|r| self.rules()[r].rule.event_driven());
        if !event_driven {
            for i in 0..c.n_post() {
                let s_post = spike(current[post.start + i]);
                for k in c.row(i) {
                    let j = c.pre_index()[k];
                    visit(k, i, j, spike(pre_spikes[pre.start + j]), s_post);
                }
            }
            return;
        }
        for &i in current_list {
            let i = i as usize;
            if !post.contains(&i) {
                continue;
            }
            let i = i - post.start;
            for k in c.row(i) {
                let j = c.pre_index()[k];
                visit(k, i, j, spike(pre_spikes[pre.start + j]), 1.0);
            }
        }
        for &j in pre_list {
            let j = j as usize;
            if !pre.contains(&j) {
                continue;
            }
            let j = j - pre.start;
            for &(i, k) in self.outgoing(p, j) {
                let i = i as usize;
                if !current[post.start + i] {
                    visit(k as usize, i, j, 1.0, 0.0);
                }
            }
        }
    }
}
