//! Building a circuit from its file: the neurons, the rules with their generating θ,
//! the masks and `W₀`.

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use super::super::{
    Adaptation, Background, Escape, LifNeuron, NamedSpikeRule, SpikingCircuit, SpikingKind,
    SpikingPopulation, SpikingProjection,
};
use super::{EscapeSpec, SpikingCircuitSpec, SpikingPopulationSpec};
use crate::circuit::Connectivity;
use crate::rule::spike::SpikeRule;
use crate::{Error, Result};

/// `τ_pre2` and `τ_post2` (ms) when not given: 100 ms (Pfister & Gerstner's slow
/// traces are 101 ms and 125 ms).
pub const DEFAULT_TAU2_MS: f64 = 100.0;

impl SpikingCircuitSpec {
    /// The rule `r` with its terms.
    pub fn rule(&self, r: usize) -> Result<SpikeRule> {
        let spec = &self.rules[r];
        if spec.terms.is_empty() {
            let expression = spec.rule.as_deref().unwrap_or("");
            let terms = crate::rule::spike::parse_spike_expression(expression)?
                .into_iter()
                .map(|(_, t)| t)
                .collect();
            return SpikeRule::new(terms);
        }
        SpikeRule::from_names(&spec.terms)
            .map_err(|e| Error::config(format!("rules.{}.terms", spec.name), e.to_string()))
    }

    /// The generating θ (every rule's expression on its terms; a rule without one: 0).
    pub fn generating_theta(&self) -> Result<Vec<f64>> {
        let mut theta = Vec::new();
        for (r, spec) in self.rules.iter().enumerate() {
            let rule = self.rule(r)?;
            match &spec.rule {
                Some(expression) => theta.extend(rule.parse_theta(expression)?),
                None => theta.extend(vec![0.0; rule.n_parameters()]),
            }
        }
        Ok(theta)
    }

    /// The circuit, masks drawn from `seed`.
    pub fn build(&self, seed: u64) -> Result<SpikingCircuit> {
        let index = |name: &str| {
            self.populations
                .iter()
                .position(|p| p.name == name)
                .unwrap_or(0)
        };
        let populations = self
            .populations
            .iter()
            .map(|p| {
                Ok(SpikingPopulation {
                    name: p.name.clone(),
                    size: p.size,
                    kind: match p.source {
                        Some(_) => SpikingKind::Source,
                        None => SpikingKind::Lif(self.neuron(p)?),
                    },
                    recorded: p.recorded,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let mut rules = Vec::new();
        for (r, spec) in self.rules.iter().enumerate() {
            rules.push(NamedSpikeRule {
                name: spec.name.clone(),
                rule: self.rule(r)?,
            });
        }
        let mut projections = Vec::new();
        for (k, p) in self.projections.iter().enumerate() {
            let (pre, post) = (index(&p.from), index(&p.to));
            let (n_pre, n_post) = (self.populations[pre].size, self.populations[post].size);
            let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6d61_736b ^ ((k as u64) << 32));
            let density = p.density.unwrap_or(1.0);
            let within = pre == post;
            let connectivity = Connectivity::from_fn(n_pre, n_post, |i, j| {
                (p.self_synapses || !within || i != j)
                    && (density >= 1.0 || rng.random::<f64>() < density)
            });
            projections.push(SpikingProjection {
                name: p.name.clone(),
                pre,
                post,
                connectivity,
                scale: p.scale,
                rule: p
                    .rule
                    .as_ref()
                    .map(|r| self.rules.iter().position(|q| &q.name == r).unwrap_or(0)),
                learning_rate: p.learning_rate,
                pre_decay: (-self.dt / p.tau_pre).exp(),
                post_decay: (-self.dt / p.tau_post).exp(),
                pre_decay2: (-self.dt / p.tau_pre2.unwrap_or(DEFAULT_TAU2_MS)).exp(),
                post_decay2: (-self.dt / p.tau_post2.unwrap_or(DEFAULT_TAU2_MS)).exp(),
            });
        }
        SpikingCircuit::new(
            populations,
            projections,
            rules,
            self.weight_bounds.map(|[low, high]| (low, high)),
            self.dt,
        )
    }

    fn neuron(&self, p: &SpikingPopulationSpec) -> Result<LifNeuron> {
        let key = format!("populations.{}", p.name);
        let leak = match (p.leak, p.tau_m) {
            (Some(leak), _) => leak,
            (None, Some(tau)) => (-self.dt / tau).exp(),
            (None, None) => {
                return Err(Error::config(
                    format!("{key}.leak"),
                    "give leak (α per step) or tau_m (ms)",
                ))
            }
        };
        if !(0.0..=1.0).contains(&leak) {
            return Err(Error::config(
                format!("{key}.leak"),
                format!("must lie in [0, 1], found {leak}"),
            ));
        }
        let escape = match p.escape.clone().unwrap_or(EscapeSpec::Exponential {
            rho0: 10.0,
            delta_u: 1.0,
        }) {
            EscapeSpec::Deterministic => Escape::Deterministic,
            EscapeSpec::Sigmoid { beta } => Escape::Sigmoid { beta },
            EscapeSpec::Exponential { rho0, delta_u } => Escape::Exponential {
                rate_per_step: rho0 * self.dt / 1000.0,
                delta_u,
            },
        };
        let adaptation = match (p.activation.as_deref(), p.adaptation_tau) {
            (Some("alif"), Some(tau)) => Some(Adaptation {
                decay: (-self.dt / tau).exp(),
                increment: p.adaptation_increment,
            }),
            (Some("alif"), None) => {
                return Err(Error::config(
                    format!("{key}.adaptation_tau"),
                    "an ALIF population needs adaptation_tau (ms)",
                ))
            }
            _ => None,
        };
        let background = match &p.background {
            Some(b) => {
                let probability = b.rate * self.dt / 1000.0;
                if !(0.0..=1.0).contains(&probability) || !b.weight.is_finite() {
                    return Err(Error::config(
                        format!("{key}.background"),
                        format!("rate × dt must lie in [0, 1000] Hz·ms and weight be finite, found rate {} Hz, weight {}", b.rate, b.weight),
                    ));
                }
                Some(Background {
                    count: b.count,
                    probability,
                    weight: b.weight,
                })
            }
            None => None,
        };
        Ok(LifNeuron {
            background,
            leak,
            threshold: p.threshold,
            reset: p.reset,
            refractory_steps: p.refractory,
            adaptation,
            escape,
        })
    }

    /// `W₀` of every projection (synapses present), drawn from `rng`.
    pub fn draw_initial_weights(&self, circuit: &SpikingCircuit, rng: &mut ChaCha8Rng) -> Vec<f64> {
        let mut w0 = Vec::with_capacity(circuit.n_synapses());
        for (k, p) in self.projections.iter().enumerate() {
            let n = circuit.projections()[k].connectivity.n_synapses();
            match (p.initial_weights.uniform, p.initial_weights.value) {
                (Some([low, high]), _) => {
                    w0.extend((0..n).map(|_| low + (high - low) * rng.random::<f64>()))
                }
                (None, Some(value)) => w0.extend(std::iter::repeat_n(value, n)),
                (None, None) => w0.extend(std::iter::repeat_n(0.0, n)),
            }
        }
        w0
    }
}
