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

mod connectivity;
mod step;

pub use connectivity::Connectivity;

use super::behaviour::BehaviourCircuit;
use crate::rule::{PlasticityRule, Rule};
use crate::scalar::Scalar;
use crate::{Error, Result};

/// Postsynaptic rows per block of the per-step kernels. The blocks are fixed by the
/// layer's size, never by the thread count, so results are identical on any number
/// of threads.
pub const ROW_BLOCK: usize = 64;

/// Layers with at least this many synapses run their blocks in parallel (rayon);
/// smaller ones run them in order on the calling thread.
pub const PARALLEL_SYNAPSES: usize = 1 << 15;

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

    /// The single plastic layer of docs/model.md §3.1 as a network: the input
    /// population `x` (`n_pre`) and the sigmoid population `y` (`n_post`) joined by the
    /// dense, undelayed, plastic projection `w` (rule `rule`, `η = 1`):
    /// `y_t = σ(W_t x_t)`, `W_t+1 = W_t + g_θ(x_t, y_t, W_t)`. A recording's inputs
    /// (`T × n_pre`) are its drive as they are (the `drive` of a
    /// [`NetworkTrajectory`](crate::circuit::trajectory::NetworkTrajectory) may have rows
    /// narrower than the network), its recorded neuron `i` is neuron `n_pre + i`, its
    /// `W₀` (`n_post × n_pre`) the projection's weights in their order.
    pub fn single_layer(n_pre: usize, n_post: usize, rule: Rule) -> Result<Self> {
        Network::new(
            vec![
                Population {
                    name: String::from("x"),
                    size: n_pre,
                    kind: PopulationKind::Input,
                },
                Population {
                    name: String::from("y"),
                    size: n_post,
                    kind: PopulationKind::Neurons {
                        activation: Activation::Sigmoid,
                        external_input: false,
                        initial_activity: 0.0,
                    },
                },
            ],
            vec![Projection {
                name: String::from("w"),
                pre: 0,
                post: 1,
                delayed: false,
                connectivity: Connectivity::all(n_pre, n_post, true),
                rule: Some(0),
                learning_rate: 1.0,
            }],
            vec![NamedRule {
                name: String::from("rule"),
                rule,
            }],
        )
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
    /// Every behaviour loss, gradient and Fisher-scoring system runs through this
    /// instance ([`crate::gradient::network::BehaviourEngine`]).
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
}
