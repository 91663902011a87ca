//! Spiking circuits: populations of spike sources (Poisson inputs, or recorded spikes)
//! and of leaky integrate-and-fire neurons ([`LifNeuron`]), joined by projections whose
//! weights may change under spike-timing rules ([`SpikeRule`]).
//!
//! One step `t` (Δt per step), in this order ([`SpikingCircuit::begin_step`], [`SpikingCircuit::decide`], [`SpikingCircuit::finish_step`]):
//! 1. source populations spike (given by the data, or drawn);
//! 2. every projection's presynaptic spikes `a_p,t` are its source's spikes of this
//!    step, or a neuron population's of the previous step (one step of delay); its
//!    presynaptic trace becomes `x̄ ← e^{−Δt/τ₊} x̄ + a_p,t` and its postsynaptic trace
//!    decays, `ȳ ← e^{−Δt/τ₋} ȳ`;
//! 3. every neuron population integrates, `V_i ← α V_i + Σ_p J_p Σ_j W_p,ij a_p,j,t`
//!    (held at the reset while refractory), and spikes ([`Escape`]);
//! 4. every plastic projection is updated, `W ← clip(W + η g_θ(a_p, s_post, x̄, ȳ, W, r))`
//!    to the circuit's weight bounds;
//! 5. the postsynaptic traces take this step's spikes, `ȳ ← ȳ + s_post,t`.
//!
//! So the rule sees a pre and a post spike of the same step once, as potentiation
//! (`x̄` includes this step's presynaptic spike, `ȳ` not yet the postsynaptic one).

mod latent;
mod neuron;
mod raster;
mod simulate;
pub mod spec;
mod step;

pub use latent::AgeDensity;
pub use neuron::{Adaptation, Background, Escape, LifNeuron, Surrogate};
pub use raster::SpikeRaster;
pub use simulate::{run_circuit, RunDrive, SpikingRun};
pub use step::{Decision, SpikingState};

use super::network::Connectivity;
use crate::rule::spike::SpikeRule;
use crate::{Error, Result};

/// The most rule parameters a circuit with latent populations may have (the lanes of
/// the forward-mode dual numbers of its gradient).
pub const MAX_MEAN_FIELD_PARAMETERS: usize = 16;

/// What a population of a spiking circuit is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SpikingKind {
    /// Spikes given by the data (or drawn from rates when simulating).
    Source,
    /// Leaky integrate-and-fire neurons.
    Lif(LifNeuron),
}

/// A population of a spiking circuit.
#[derive(Clone, Debug, PartialEq)]
pub struct SpikingPopulation {
    /// Its name.
    pub name: String,
    /// Number of neurons.
    pub size: usize,
    /// Source or neurons.
    pub kind: SpikingKind,
    /// Whether its spikes are recorded. An unrecorded (latent) neuron population is
    /// simulated like any other; a teacher-forced run treats it by expectation
    /// ([`SpikingState::teacher_forced`]).
    pub recorded: bool,
}

/// A projection of a spiking circuit.
#[derive(Clone, Debug, PartialEq)]
pub struct SpikingProjection {
    /// Its name.
    pub name: String,
    /// Presynaptic population.
    pub pre: usize,
    /// Postsynaptic population (neurons).
    pub post: usize,
    /// Which synapses exist (rows: postsynaptic neurons).
    pub connectivity: Connectivity,
    /// `J`, the jump in `V` per unit weight per presynaptic spike (negative:
    /// inhibitory).
    pub scale: f64,
    /// The rule (index into the circuit's rules) when plastic.
    pub rule: Option<usize>,
    /// `η`.
    pub learning_rate: f64,
    /// `e^{−Δt/τ₊}`, the presynaptic trace's decay per step.
    pub pre_decay: f64,
    /// `e^{−Δt/τ₋}`, the postsynaptic trace's decay per step.
    pub post_decay: f64,
    /// `e^{−Δt/τ_pre2}`, the second presynaptic trace's (`x2_trace`, triplet rules).
    pub pre_decay2: f64,
    /// `e^{−Δt/τ_post2}`, the second postsynaptic trace's (`y2_trace`).
    pub post_decay2: f64,
}

/// A spike-timing rule with its name (its parameters are reported as `name.term`).
#[derive(Clone, Debug, PartialEq)]
pub struct NamedSpikeRule {
    /// Its name.
    pub name: String,
    /// The rule.
    pub rule: SpikeRule,
}

/// For one presynaptic neuron of a projection, its synapses: `(post neuron, synapse)`.
#[derive(Clone, Debug, PartialEq)]
struct Outgoing {
    start: Vec<usize>,
    targets: Vec<(u32, u32)>,
}

/// A spiking circuit and the layout of its state: neurons of every population
/// concatenated, synapses of every projection concatenated, θ of every rule
/// concatenated.
#[derive(Clone, Debug, PartialEq)]
pub struct SpikingCircuit {
    populations: Vec<SpikingPopulation>,
    projections: Vec<SpikingProjection>,
    rules: Vec<NamedSpikeRule>,
    weight_bounds: Option<(f64, f64)>,
    dt: f64,
    neuron_start: Vec<usize>,
    weight_start: Vec<usize>,
    theta_start: Vec<usize>,
    outgoing: Vec<Outgoing>,
    /// Per projection, whether its rule reads `(x2_trace, y2_trace)`.
    second_traces: Vec<(bool, bool)>,
}

impl SpikingCircuit {
    /// Checks and lays out a circuit with `dt` ms per step; `weight_bounds` clips
    /// plastic weights after every update.
    pub fn new(
        populations: Vec<SpikingPopulation>,
        projections: Vec<SpikingProjection>,
        rules: Vec<NamedSpikeRule>,
        weight_bounds: Option<(f64, f64)>,
        dt: f64,
    ) -> Result<Self> {
        if !(dt.is_finite() && dt > 0.0) {
            return Err(Error::config("dt", format!("must be positive, got {dt}")));
        }
        if let Some((low, high)) = weight_bounds {
            if !(low.is_finite() && high.is_finite() && low < high) {
                return Err(Error::config(
                    "weight_bounds",
                    format!("must be two finite numbers [low, high] with low < high, got [{low}, {high}]"),
                ));
            }
        }
        if !populations
            .iter()
            .any(|p| matches!(p.kind, SpikingKind::Lif(_)))
        {
            return Err(Error::config(
                "populations",
                "the circuit has no neuron population (activation = \"lif\" or \"alif\")",
            ));
        }
        for (k, p) in populations.iter().enumerate() {
            if let SpikingKind::Lif(neuron) = p.kind {
                neuron
                    .escape
                    .check(&format!("populations.{}.escape", p.name))?;
                if let Some(b) = neuron.background {
                    if !((0.0..=1.0).contains(&b.probability) && b.weight.is_finite()) {
                        return Err(Error::config(
                            format!("populations.{}.background", p.name),
                            format!("needs a probability per step in [0, 1] and a finite weight, found {} and {}", b.probability, b.weight),
                        ));
                    }
                }
            }
            if !p.recorded && p.kind == SpikingKind::Source {
                return Err(Error::config(
                    format!("populations.{}.recorded", p.name),
                    "a source population's spikes are the input: it must be recorded",
                ));
            }
            if populations[..k].iter().any(|q| q.name == p.name) {
                return Err(Error::config(
                    "populations",
                    format!("'{}' is declared twice", p.name),
                ));
            }
        }
        let mut outgoing = Vec::with_capacity(projections.len());
        for projection in &projections {
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
            if post.kind == SpikingKind::Source {
                return Err(Error::config(
                    key,
                    format!(
                        "projects onto '{}', a source population (its spikes are given)",
                        post.name
                    ),
                ));
            }
            let c = &projection.connectivity;
            if c.n_pre() != pre.size || c.n_post() != post.size {
                return Err(Error::config(
                    format!("{key}.mask"),
                    format!(
                        "has shape {} × {}, expected {} × {} ({} × {})",
                        c.n_post(),
                        c.n_pre(),
                        post.size,
                        pre.size,
                        post.name,
                        pre.name
                    ),
                ));
            }
            if let Some(r) = projection.rule {
                if r >= rules.len() {
                    return Err(Error::config(
                        format!("{key}.rule"),
                        "names a rule the circuit does not have",
                    ));
                }
            }
            for (name, value) in [
                ("scale", projection.scale),
                ("learning_rate", projection.learning_rate),
                ("tau_pre2", projection.pre_decay2),
                ("tau_post2", projection.post_decay2),
            ] {
                if !value.is_finite() {
                    return Err(Error::config(format!("{key}.{name}"), "must be finite"));
                }
            }
            outgoing.push(outgoing_of(c));
        }
        let starts = |sizes: &mut dyn Iterator<Item = usize>| {
            let mut start = vec![0usize];
            for size in sizes {
                start.push(start[start.len() - 1] + size);
            }
            start
        };
        let neuron_start = starts(&mut populations.iter().map(|p| p.size));
        let weight_start = starts(&mut projections.iter().map(|p| p.connectivity.n_synapses()));
        let theta_start = starts(&mut rules.iter().map(|r| r.rule.n_parameters()));
        if neuron_start[neuron_start.len() - 1] > u32::MAX as usize {
            return Err(Error::config("populations", "more than 2³² neurons"));
        }
        let second_traces = projections
            .iter()
            .map(|projection| {
                let Some(r) = projection.rule else {
                    return (false, false);
                };
                let terms = rules[r].rule.terms();
                (
                    terms.iter().any(|t| t.exponents[6] > 0),
                    terms.iter().any(|t| t.exponents[7] > 0),
                )
            })
            .collect();
        Ok(SpikingCircuit {
            second_traces,
            populations,
            projections,
            rules,
            weight_bounds,
            dt,
            neuron_start,
            weight_start,
            theta_start,
            outgoing,
        })
    }

    /// The same circuit with each projection's synapses given by a row-major
    /// `n_post × n_pre` mask (weights are per synapse present).
    pub fn with_masks(&self, masks: &[Vec<bool>]) -> Result<Self> {
        let mut projections = self.projections.clone();
        for (projection, mask) in projections.iter_mut().zip(masks) {
            let c = &projection.connectivity;
            projection.connectivity = Connectivity::from_mask(c.n_pre(), c.n_post(), mask);
        }
        SpikingCircuit::new(
            self.populations.clone(),
            projections,
            self.rules.clone(),
            self.weight_bounds,
            self.dt,
        )
    }

    /// Whether a neuron population has background input (which no likelihood of
    /// recorded spikes can account for).
    pub fn has_background(&self) -> bool {
        self.populations
            .iter()
            .any(|p| matches!(p.kind, SpikingKind::Lif(n) if n.background.is_some()))
    }

    /// The populations.
    pub fn populations(&self) -> &[SpikingPopulation] {
        &self.populations
    }

    /// The projections.
    pub fn projections(&self) -> &[SpikingProjection] {
        &self.projections
    }

    /// The rules.
    pub fn rules(&self) -> &[NamedSpikeRule] {
        &self.rules
    }

    /// The clip of plastic weights.
    pub fn weight_bounds(&self) -> Option<(f64, f64)> {
        self.weight_bounds
    }

    /// Milliseconds per step.
    pub fn dt(&self) -> f64 {
        self.dt
    }

    /// All neurons (sources included).
    pub fn n_neurons(&self) -> usize {
        self.neuron_start[self.populations.len()]
    }

    /// All synapses.
    pub fn n_synapses(&self) -> usize {
        self.weight_start[self.projections.len()]
    }

    /// Neurons of the neuron (not source) populations.
    pub fn n_model_neurons(&self) -> usize {
        self.populations
            .iter()
            .filter(|p| matches!(p.kind, SpikingKind::Lif(_)))
            .map(|p| p.size)
            .sum()
    }

    /// Neurons of the recorded neuron populations (those a likelihood observes).
    pub fn n_recorded_neurons(&self) -> usize {
        self.populations
            .iter()
            .filter(|p| p.recorded && matches!(p.kind, SpikingKind::Lif(_)))
            .map(|p| p.size)
            .sum()
    }

    /// Whether population `p` is latent (neurons, unrecorded).
    #[inline]
    pub fn is_latent(&self, p: usize) -> bool {
        !self.populations[p].recorded
    }

    /// Whether some population is latent.
    pub fn has_latent(&self) -> bool {
        self.populations.iter().any(|p| !p.recorded)
    }

    /// Checks that the latent populations can be treated by expectation in a
    /// teacher-forced likelihood: escape noise (not deterministic), no adaptation, no
    /// background input; and that θ has at most
    /// [`MAX_MEAN_FIELD_PARAMETERS`] parameters (forward-mode dual numbers carry them).
    pub fn check_mean_field(&self) -> Result<()> {
        if !self.has_latent() {
            return Ok(());
        }
        for p in &self.populations {
            let SpikingKind::Lif(neuron) = p.kind else {
                continue;
            };
            if p.recorded {
                continue;
            }
            let key = format!("populations.{}", p.name);
            let problem = if neuron.escape == Escape::Deterministic {
                Some("has deterministic spikes: a latent population needs escape noise (its expected spike is p(u))")
            } else if neuron.background.is_some() {
                Some("has background input: a latent population's input must be known to take it by expectation")
            } else if neuron.adaptation.is_some() {
                Some("is adaptive (alif): a latent population is treated by expectation, which this version does only for lif")
            } else {
                None
            };
            if let Some(problem) = problem {
                return Err(Error::config(key, problem));
            }
        }
        if self.n_parameters() > MAX_MEAN_FIELD_PARAMETERS {
            return Err(Error::config(
                "rules",
                format!(
                    "{} parameters with latent populations: their gradient by dual numbers takes at most {MAX_MEAN_FIELD_PARAMETERS}",
                    self.n_parameters()
                ),
            ));
        }
        Ok(())
    }

    /// The synapses of every plastic projection, in the weights' layout.
    pub fn plastic_synapses(&self) -> Vec<usize> {
        self.projections
            .iter()
            .enumerate()
            .filter(|(_, p)| p.rule.is_some())
            .flat_map(|(p, _)| self.weight_range(p))
            .collect()
    }

    /// All rule parameters.
    pub fn n_parameters(&self) -> usize {
        self.theta_start[self.rules.len()]
    }

    /// The neurons of population `p` in the state's layout.
    pub fn neuron_range(&self, p: usize) -> std::ops::Range<usize> {
        self.neuron_start[p]..self.neuron_start[p + 1]
    }

    /// The synapses of projection `p` in the weights' layout.
    pub fn weight_range(&self, p: usize) -> std::ops::Range<usize> {
        self.weight_start[p]..self.weight_start[p + 1]
    }

    /// The parameters of rule `r` in θ.
    pub fn theta_range(&self, r: usize) -> std::ops::Range<usize> {
        self.theta_start[r]..self.theta_start[r + 1]
    }

    /// The population of a neuron (global index).
    pub fn population_of(&self, neuron: usize) -> usize {
        self.neuron_start.partition_point(|&s| s <= neuron) - 1
    }

    /// Names of all parameters, `rule.term`.
    pub fn parameter_names(&self) -> Vec<String> {
        self.rules
            .iter()
            .flat_map(|r| {
                r.rule
                    .term_names()
                    .into_iter()
                    .map(move |t| format!("{}.{t}", r.name))
            })
            .collect()
    }

    /// Whether projection `p`'s rule reads the second traces `(x2_trace, y2_trace)`
    /// (they are kept only then).
    #[inline]
    pub fn uses_second_traces(&self, p: usize) -> (bool, bool) {
        self.second_traces[p]
    }

    /// Whether projection `p`'s presynaptic spikes are those of the previous step (its
    /// source is a neuron population).
    pub fn delayed(&self, p: usize) -> bool {
        matches!(
            self.populations[self.projections[p].pre].kind,
            SpikingKind::Lif(_)
        )
    }

    /// The synapses of projection `p` leaving presynaptic neuron `j`:
    /// `(post neuron within its population, synapse within the projection)`.
    #[inline]
    pub fn outgoing(&self, p: usize, j: usize) -> &[(u32, u32)] {
        let o = &self.outgoing[p];
        &o.targets[o.start[j]..o.start[j + 1]]
    }
}

/// The transposed index of a connectivity: per presynaptic neuron its synapses.
fn outgoing_of(c: &Connectivity) -> Outgoing {
    let mut count = vec![0usize; c.n_pre() + 1];
    for &j in c.pre_index() {
        count[j + 1] += 1;
    }
    for j in 0..c.n_pre() {
        count[j + 1] += count[j];
    }
    let mut fill = count.clone();
    let mut targets = vec![(0u32, 0u32); c.n_synapses()];
    for i in 0..c.n_post() {
        for k in c.row(i) {
            let j = c.pre_index()[k];
            targets[fill[j]] = (i as u32, k as u32);
            fill[j] += 1;
        }
    }
    Outgoing {
        start: count,
        targets,
    }
}
