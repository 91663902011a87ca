//! Circuits of several populations joined by projections: recurrent, multi-layer,
//! sparse, partly recorded.
//!
//! A population is either an **input** population, whose activity is given by the data
//! at every step, or a population of rate **neurons**. A projection `p` from population
//! `A` to population `B` has weights `W_p` on the synapses its [`Connectivity`] lists,
//! and is either fixed or plastic under one of the circuit's rules (several projections
//! may share a rule). One step `t`, in this order:
//!
//! 1. input populations take their activity `u_t` from the data;
//! 2. neuron populations, in the order they were declared, compute
//!    `y_B,t = f_B(Σ_{p: A→B} W_p,t a_p + e_B,t)` with `a_p = y_A,t` for an undelayed
//!    projection (A comes earlier in the order, or is an input) and `a_p = y_A,t−1` for a
//!    delayed one (recurrent: A = B or A later in the order; `y_A,−1` is the
//!    population's initial activity), and `e_B,t` an optional external current;
//! 3. if the step's plasticity gate `γ_t` is on (it is unless the data say otherwise),
//!    every plastic projection is updated with the same presynaptic activity and the
//!    step's modulatory signal `r_t` (the rule's `reward`, 0 unless the data give one):
//!    `W_p,t+1 = W_p,t + η_p g_θ(a_p, y_B,t, W_p,t, r_t)`, optionally clipped to
//!    `[−b, b]`; with the gate off, `W_p,t+1 = W_p,t`.
//!
//! The single-layer circuit of docs/model.md §3.1 is the instance `x` (input) → `y` (sigmoid),
//! undelayed, dense, plastic with `η = 1`; the behaviour circuit of §3.2 is the
//! instance [`Network::behaviour`] (`odour` → `hidden` (tanh, plastic) → `accept`
//! (one sigmoid neuron, fixed readout)), with `r_t` the trial's reward signal and the
//! gate on at accepted presentations.

use super::behaviour::BehaviourCircuit;
use crate::rule::{LayerState, PlasticityRule, Rule};
use crate::scalar::Scalar;
use crate::{Error, Result};

/// The activation function `f` of a neuron population.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// `f(z) = 1 / (1 + e^{−z})`.
    Sigmoid,
    /// `f(z) = tanh z`.
    Tanh,
    /// `f(z) = z`.
    Linear,
    /// `f(z) = max(z, 0)`.
    Relu,
}

impl Activation {
    /// `f(z)`.
    #[inline]
    pub fn apply<S: Scalar>(self, z: S) -> S {
        match self {
            Activation::Sigmoid => z.sigmoid(),
            Activation::Tanh => z.tanh(),
            Activation::Linear => z,
            Activation::Relu => {
                if z.re() > 0.0 {
                    z
                } else {
                    S::zero()
                }
            }
        }
    }

    /// `f'(z)` written through `y = f(z)`: `y(1 − y)`, `1 − y²`, `1`, `[y > 0]`.
    #[inline]
    pub fn slope(self, y: f64) -> f64 {
        match self {
            Activation::Sigmoid => y * (1.0 - y),
            Activation::Tanh => 1.0 - y * y,
            Activation::Linear => 1.0,
            Activation::Relu => f64::from(u8::from(y > 0.0)),
        }
    }
}

/// What a population is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PopulationKind {
    /// Activity given by the data at every step.
    Input,
    /// Rate neurons.
    Neurons {
        /// Activation function.
        activation: Activation,
        /// Whether the data add an external current `e_t` to the neurons' drive.
        external_input: bool,
        /// `y_−1`, what delayed projections see at the first step.
        initial_activity: f64,
    },
}

/// A population of neurons.
#[derive(Clone, Debug, PartialEq)]
pub struct Population {
    /// Its name (keys in files).
    pub name: String,
    /// Number of neurons.
    pub size: usize,
    /// Input or neurons.
    pub kind: PopulationKind,
}

impl Population {
    /// Whether its activity is simulated (not given by the data).
    pub fn is_simulated(&self) -> bool {
        !matches!(self.kind, PopulationKind::Input)
    }
}

/// Which synapses of an `n_post × n_pre` projection exist, row by row (compressed
/// sparse rows): time and memory are proportional to the synapses that exist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connectivity {
    n_pre: usize,
    n_post: usize,
    row_start: Vec<usize>,
    pre_index: Vec<usize>,
    dense: bool,
}

impl Connectivity {
    /// Every synapse, except `j = i` when `self_synapses` is false (square only).
    pub fn all(n_pre: usize, n_post: usize, self_synapses: bool) -> Self {
        Self::from_fn(n_pre, n_post, |i, j| self_synapses || i != j)
    }

    /// The synapses `(i, j)` for which `present(i, j)`.
    pub fn from_fn(
        n_pre: usize,
        n_post: usize,
        mut present: impl FnMut(usize, usize) -> bool,
    ) -> Self {
        let mut row_start = Vec::with_capacity(n_post + 1);
        let mut pre_index = Vec::new();
        row_start.push(0);
        for i in 0..n_post {
            pre_index.extend((0..n_pre).filter(|&j| present(i, j)));
            row_start.push(pre_index.len());
        }
        let dense = pre_index.len() == n_pre * n_post;
        Connectivity {
            n_pre,
            n_post,
            row_start,
            pre_index,
            dense,
        }
    }

    /// From a row-major `n_post × n_pre` 0/1 mask.
    pub fn from_mask(n_pre: usize, n_post: usize, mask: &[bool]) -> Self {
        Self::from_fn(n_pre, n_post, |i, j| mask[i * n_pre + j])
    }

    /// Presynaptic size.
    pub fn n_pre(&self) -> usize {
        self.n_pre
    }

    /// Postsynaptic size.
    pub fn n_post(&self) -> usize {
        self.n_post
    }

    /// Number of synapses present.
    pub fn n_synapses(&self) -> usize {
        self.pre_index.len()
    }

    /// Whether every synapse is present (rows are whole and in order).
    pub fn is_dense(&self) -> bool {
        self.dense
    }

    /// The synapses of postsynaptic neuron `i`, as positions in the weight vector.
    #[inline]
    pub fn row(&self, i: usize) -> std::ops::Range<usize> {
        self.row_start[i]..self.row_start[i + 1]
    }

    /// Presynaptic index of each synapse.
    pub fn pre_index(&self) -> &[usize] {
        &self.pre_index
    }

    /// The longest row.
    pub fn max_row(&self) -> usize {
        (0..self.n_post)
            .map(|i| self.row(i).len())
            .max()
            .unwrap_or(0)
    }

    /// Row-major `n_post × n_pre` 0/1 mask.
    pub fn mask(&self) -> Vec<bool> {
        self.scatter(&vec![1.0; self.n_synapses()])
            .iter()
            .map(|&v| v != 0.0)
            .collect()
    }

    /// The dense `n_post × n_pre` matrix of `values` (one per synapse), zeros elsewhere.
    pub fn scatter(&self, values: &[f64]) -> Vec<f64> {
        let mut dense = vec![0.0; self.n_pre * self.n_post];
        for i in 0..self.n_post {
            for k in self.row(i) {
                dense[i * self.n_pre + self.pre_index[k]] = values[k];
            }
        }
        dense
    }

    /// The synapses' entries of a dense row-major `n_post × n_pre` matrix.
    pub fn gather(&self, dense: &[f64]) -> Vec<f64> {
        (0..self.n_post)
            .flat_map(|i| self.row(i).map(move |k| (i, k)))
            .map(|(i, k)| dense[i * self.n_pre + self.pre_index[k]])
            .collect()
    }
}

/// A projection from one population to another.
#[derive(Clone, Debug, PartialEq)]
pub struct Projection {
    /// Its name (keys in files).
    pub name: String,
    /// Presynaptic population (index into [`Network::populations`]).
    pub pre: usize,
    /// Postsynaptic population.
    pub post: usize,
    /// Whether it carries the presynaptic activity of the previous step.
    pub delayed: bool,
    /// Which synapses exist.
    pub connectivity: Connectivity,
    /// The rule (index into [`Network::rules`]) when plastic.
    pub rule: Option<usize>,
    /// The learning rate `η`.
    pub learning_rate: f64,
}

/// A rule of the circuit, with its name.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedRule {
    /// Its name (parameters are reported as `name.term`).
    pub name: String,
    /// The rule.
    pub rule: Rule,
}

/// A circuit of populations and projections, and the layout of its state vectors:
/// the activity of every population concatenated in declaration order, the weights of
/// every projection concatenated (synapses present only), θ of every rule concatenated.
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    populations: Vec<Population>,
    projections: Vec<Projection>,
    rules: Vec<NamedRule>,
    /// Simulated populations in update order.
    order: Vec<usize>,
    /// Projections into each population.
    incoming: Vec<Vec<usize>>,
    activity_start: Vec<usize>,
    weight_start: Vec<usize>,
    theta_start: Vec<usize>,
    /// `[−b, b]` clip of plastic weights after each update.
    weight_bound: Option<f64>,
}

impl Network {
    /// Checks and lays out a circuit. Neuron populations update in the order given; a
    /// projection whose presynaptic population is not earlier in that order must be
    /// delayed.
    pub fn new(
        populations: Vec<Population>,
        projections: Vec<Projection>,
        rules: Vec<NamedRule>,
    ) -> Result<Self> {
        let position = |p: usize| {
            populations
                .iter()
                .take(p)
                .filter(|q| q.is_simulated())
                .count()
        };
        let mut incoming = vec![Vec::new(); populations.len()];
        for (index, projection) in projections.iter().enumerate() {
            let key = format!("projections.{}", projection.name);
            let (Some(pre), Some(post)) = (
                populations.get(projection.pre),
                populations.get(projection.post),
            ) else {
                return Err(Error::config(
                    key,
                    "names a population the circuit does not have",
                ));
            };
            if !post.is_simulated() {
                return Err(Error::config(
                    key,
                    format!("projects onto '{}', an input population (its activity is given by the data)", post.name),
                ));
            }
            if projection.connectivity.n_pre() != pre.size
                || projection.connectivity.n_post() != post.size
            {
                return Err(Error::config(
                    format!("{key}.mask"),
                    format!(
                        "has shape {} × {}, expected {} × {} ({} × {})",
                        projection.connectivity.n_post(),
                        projection.connectivity.n_pre(),
                        post.size,
                        pre.size,
                        post.name,
                        pre.name
                    ),
                ));
            }
            if pre.is_simulated()
                && !projection.delayed
                && position(projection.pre) >= position(projection.post)
            {
                return Err(Error::config(
                    format!("{key}.delay"),
                    format!(
                        "'{}' does not update before '{}', so this projection needs delay = 1 (it carries the previous step's activity)",
                        pre.name, post.name
                    ),
                ));
            }
            if let Some(rule) = projection.rule {
                if rule >= rules.len() {
                    return Err(Error::config(
                        format!("{key}.rule"),
                        "names a rule the circuit does not have",
                    ));
                }
            }
            if !(projection.learning_rate.is_finite()) {
                return Err(Error::config(
                    format!("{key}.learning_rate"),
                    "must be finite",
                ));
            }
            incoming[projection.post].push(index);
        }
        let order: Vec<usize> = (0..populations.len())
            .filter(|&p| populations[p].is_simulated())
            .collect();
        if order.is_empty() {
            return Err(Error::config(
                "populations",
                "the circuit has no neuron population",
            ));
        }
        // offsets of each population's neurons, projection's synapses, rule's θ; sizes
        // from a file may be anything, so their sums must be countable
        let starts = |key: &str, sizes: &mut dyn Iterator<Item = usize>| -> Result<Vec<usize>> {
            let mut start = vec![0usize];
            for size in sizes {
                let next = start[start.len() - 1].checked_add(size).ok_or_else(|| {
                    Error::config(key, "the circuit has more of them than can be counted")
                })?;
                start.push(next);
            }
            Ok(start)
        };
        let activity_start = starts("populations", &mut populations.iter().map(|p| p.size))?;
        let weight_start = starts(
            "projections",
            &mut projections.iter().map(|p| p.connectivity.n_synapses()),
        )?;
        let theta_start = starts("rules", &mut rules.iter().map(|r| r.rule.n_parameters()))?;
        Ok(Network {
            populations,
            projections,
            rules,
            order,
            incoming,
            activity_start,
            weight_start,
            theta_start,
            weight_bound: None,
        })
    }

    /// The behaviour circuit of docs/model.md §3.2 as a network: the input population `odour`
    /// (`n_in`), the population `hidden` (`n_hidden`, tanh) fed by the dense plastic
    /// projection `odour_hidden` (`W`, rule `rule`, `η` of the circuit, SPEC `1/n_in`),
    /// and the one-neuron sigmoid population `accept` fed by the dense fixed projection
    /// `readout` (every weight `v`, SPEC `5/n_hidden`, given in `W₀`): `h = tanh(W x)`,
    /// `P(accept) = σ(v Σ_i h_i)`. The circuit's weight bound carries over (the clip
    /// acts on plastic projections only, so on `W`). The reward signal `r` and the
    /// once-per-trial updates at accepted presentations come from the trajectory's
    /// `reward` and `gate` (see `gradient::network::BehaviourTrajectory`).
    ///
    /// Fits of behaviour data keep using the specialised kernel
    /// (`gradient::behaviour_session_loss_and_gradient`), which gives the same numbers
    /// faster; this instance proves that the engine covers the circuit.
    pub fn behaviour(circuit: &BehaviourCircuit, rule: Rule) -> Result<Self> {
        let (n_in, n_hidden) = (circuit.n_in, circuit.n_hidden);
        let projection = |name: &str, pre: usize, post: usize, n_pre, n_post, rule| Projection {
            name: String::from(name),
            pre,
            post,
            delayed: false,
            connectivity: Connectivity::all(n_pre, n_post, true),
            rule,
            learning_rate: if rule.is_some() {
                circuit.learning_rate
            } else {
                0.0
            },
        };
        let neurons = |name: &str, size, activation| Population {
            name: String::from(name),
            size,
            kind: PopulationKind::Neurons {
                activation,
                external_input: false,
                initial_activity: 0.0,
            },
        };
        Ok(Network::new(
            vec![
                Population {
                    name: String::from("odour"),
                    size: n_in,
                    kind: PopulationKind::Input,
                },
                neurons("hidden", n_hidden, Activation::Tanh),
                neurons("accept", 1, Activation::Sigmoid),
            ],
            vec![
                projection("odour_hidden", 0, 1, n_in, n_hidden, Some(0)),
                projection("readout", 1, 2, n_hidden, 1, None),
            ],
            vec![NamedRule {
                name: String::from("rule"),
                rule,
            }],
        )?
        .with_weight_bound(circuit.weight_bound))
    }

    /// Clips plastic weights to `[−bound, bound]` after every update (a safeguard for
    /// fits whose trial steps would make weights overflow; the gradient is that of the
    /// clipped dynamics).
    pub fn with_weight_bound(mut self, bound: Option<f64>) -> Self {
        self.weight_bound = bound;
        self
    }

    /// The weight bound, if any.
    pub fn weight_bound(&self) -> Option<f64> {
        self.weight_bound
    }

    /// The populations, in declaration order.
    pub fn populations(&self) -> &[Population] {
        &self.populations
    }

    /// The projections.
    pub fn projections(&self) -> &[Projection] {
        &self.projections
    }

    /// The rules.
    pub fn rules(&self) -> &[NamedRule] {
        &self.rules
    }

    /// The neuron populations in the order a step updates them.
    pub fn update_order(&self) -> &[usize] {
        &self.order
    }

    /// The projections onto population `b`.
    pub fn incoming(&self, b: usize) -> &[usize] {
        &self.incoming[b]
    }

    /// Index of the population called `name`.
    pub fn population_index(&self, name: &str) -> Option<usize> {
        self.populations.iter().position(|p| p.name == name)
    }

    /// Length of the activity vector (every population).
    pub fn n_neurons(&self) -> usize {
        self.activity_start[self.populations.len()]
    }

    /// Length of the weight vector (every synapse of every projection).
    pub fn n_synapses(&self) -> usize {
        self.weight_start[self.projections.len()]
    }

    /// Length of θ (every rule).
    pub fn n_parameters(&self) -> usize {
        self.theta_start[self.rules.len()]
    }

    /// Positions of population `p` in the activity vector.
    pub fn activity_range(&self, p: usize) -> std::ops::Range<usize> {
        self.activity_start[p]..self.activity_start[p + 1]
    }

    /// Positions of projection `p` in the weight vector.
    pub fn weight_range(&self, p: usize) -> std::ops::Range<usize> {
        self.weight_start[p]..self.weight_start[p + 1]
    }

    /// Positions of rule `r` in θ.
    pub fn theta_range(&self, r: usize) -> std::ops::Range<usize> {
        self.theta_start[r]..self.theta_start[r + 1]
    }

    /// Parameter names `rule.term`.
    pub fn parameter_names(&self) -> Vec<String> {
        self.rules
            .iter()
            .flat_map(|r| {
                r.rule
                    .parameter_names()
                    .into_iter()
                    .map(move |term| format!("{}.{term}", r.name))
            })
            .collect()
    }

    /// The activity every population has before the first step (`y_−1`).
    pub fn initial_activity<S: Scalar>(&self, activity: &mut [S]) {
        for (p, population) in self.populations.iter().enumerate() {
            let value = match population.kind {
                PopulationKind::Input => 0.0,
                PopulationKind::Neurons {
                    initial_activity, ..
                } => initial_activity,
            };
            activity[self.activity_range(p)]
                .iter_mut()
                .for_each(|a| *a = S::from_f64(value));
        }
    }

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
    /// `LayerState::reward`). The caller skips it at steps whose gate is off.
    pub fn plasticity<S: Scalar>(
        &self,
        theta: &[S],
        weights: &mut [S],
        previous: &[S],
        current: &[S],
        reward: S,
        scratch: &mut [S],
    ) {
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
                for w in w.iter_mut() {
                    if w.re() > bound {
                        *w = high;
                    } else if w.re() < -bound {
                        *w = low;
                    }
                }
            }
        }
    }

    /// Reverse mode of one step at `W_t = weights_before`, `y_t−1 = previous`,
    /// `y_t = current` and modulatory signal `r_t = reward`; `weights_after = W_t+1`
    /// when the step updates the weights (`None` for the last step, whose update no loss
    /// sees, and for steps whose plasticity gate is off, where `W_t+1 = W_t`).
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
        weights_after: Option<&[f64]>,
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
        if let Some(weights_after) = weights_after {
            for (index, projection) in self.projections.iter().enumerate() {
                let Some(r) = projection.rule else { continue };
                self.update_vjp(
                    index,
                    r,
                    theta,
                    weights_before,
                    weights_after,
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
        weights_after: &[f64],
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
        if let Some(bound) = self.weight_bound {
            // a clipped weight no longer depends on anything before it
            for (l, &after) in lambda.iter_mut().zip(&weights_after[w_range]) {
                if after.abs() >= bound {
                    *l = 0.0;
                }
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
