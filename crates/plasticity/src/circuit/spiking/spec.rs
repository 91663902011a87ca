//! Spiking circuit files: populations of spike sources and of LIF/ALIF neurons,
//! spike-timing rules and projections, in TOML (docs/spiking.md).
//!
//! ```toml
//! dt = 1.0                        # ms per step
//! weight_bounds = [0.0, 1.0]      # clip of plastic weights (simulation and fit)
//!
//! [populations.input]
//! size = 100
//! source = { base = [15.0, 25.0], modulation = 12.0, groups = 4, tau = 50.0, clip = [5.0, 40.0] }
//! # source = { rates = "rates.npy" }   # or rates (Hz) per step and neuron from a file
//!
//! [populations.out]
//! size = 20
//! activation = "lif"              # lif | alif
//! leak = 0.95                     # or tau_m (ms): α = e^{−dt/τ_m}
//! threshold = 22.0
//! reset = 0.0
//! refractory = 0                  # steps held at the reset after a spike
//! escape = { kind = "exponential", rho0 = 10.0, delta_u = 3.0 }   # rho0 in Hz
//! # recorded = false             # latent: simulated, left out of recordings
//!
//! [rules.stdp]
//! terms = ["s_post*x_trace", "s_pre*y_trace"]     # or ["ten"]
//! rule = "0.005*s_post*x_trace - 0.00525*s_pre*y_trace"
//!
//! [projections.input_out]
//! from = "input"
//! to = "out"
//! rule = "stdp"
//! tau_pre = 20.0                  # ms, x_trace
//! tau_post = 20.0                 # ms, y_trace
//! # tau_pre2 = 100.0, tau_post2 = 100.0   # ms, x2_trace and y2_trace (triplet rules)
//! initial_weights = { uniform = [0.25, 0.75] }
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::circuit::spec::Reader;
use crate::Result;

mod build;
mod rates;

pub use rates::read_rates;

/// Rates of a source population (Hz): `r_j(t) = clip(b_j + m z_g(j)(t), lo, hi)` with
/// `b_j ~ U(base)`, neuron `j` in group `g(j) = j mod groups`, and `z_g` a unit
/// Ornstein–Uhlenbeck process of time constant `tau` (ms); `modulation = 0` gives
/// constant rates. Or given per step and neuron by a file (`rates`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// `[low, high]` of the base rates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<[f64; 2]>,
    /// A file of rates (Hz), one row per step and one column per neuron: a 2-d float64
    /// `.npy` `[steps, size]` or a `.csv` of numbers (no header); relative to the
    /// circuit file (stored resolved). Instead of `base`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rates: Option<String>,
    /// `m`.
    #[serde(default)]
    pub modulation: f64,
    /// Number of groups sharing a modulation.
    #[serde(default = "one_usize")]
    pub groups: usize,
    /// `τ` of the modulation (ms).
    #[serde(default = "fifty")]
    pub tau: f64,
    /// `[lo, hi]` (default `[0, 1000/dt]`).
    #[serde(default)]
    pub clip: Option<[f64; 2]>,
}

fn one_usize() -> usize {
    1
}
fn fifty() -> f64 {
    50.0
}

/// Spike generation as written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum EscapeSpec {
    /// Heaviside.
    Deterministic,
    /// `σ(β u)` per step.
    Sigmoid {
        /// `β`.
        beta: f64,
    },
    /// `1 − exp(−ρ₀ Δt e^{u/Δu})`, `ρ₀` in Hz.
    Exponential {
        /// `ρ₀` (Hz).
        rho0: f64,
        /// `Δu`.
        delta_u: f64,
    },
}

/// A population as written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpikingPopulationSpec {
    /// Its name (the table's key).
    #[serde(default)]
    pub name: String,
    /// Number of neurons.
    pub size: usize,
    /// A spike source with these rates.
    #[serde(default)]
    pub source: Option<SourceSpec>,
    /// `lif` or `alif` (neurons).
    #[serde(default)]
    pub activation: Option<String>,
    /// `α` per step.
    #[serde(default)]
    pub leak: Option<f64>,
    /// `τ_m` (ms), when `leak` is not given.
    #[serde(default)]
    pub tau_m: Option<f64>,
    /// `ϑ`.
    #[serde(default)]
    pub threshold: f64,
    /// The reset.
    #[serde(default)]
    pub reset: f64,
    /// Refractory steps.
    #[serde(default)]
    pub refractory: usize,
    /// Spike generation (default exponential escape, ρ₀ = 10 Hz, Δu = 1).
    #[serde(default)]
    pub escape: Option<EscapeSpec>,
    /// ALIF: `τ_a` (ms).
    #[serde(default)]
    pub adaptation_tau: Option<f64>,
    /// ALIF: `b`.
    #[serde(default)]
    pub adaptation_increment: f64,
    /// Unrecorded Poisson background input (simulation only).
    #[serde(default)]
    pub background: Option<BackgroundSpec>,
    /// Whether the population's spikes are recorded (default true). A latent
    /// population (`recorded = false`) is simulated, its spikes are left out of the
    /// recording, and fits treat it by expectation.
    #[serde(default = "yes", skip_serializing_if = "is_yes")]
    pub recorded: bool,
}

fn yes() -> bool {
    true
}

fn is_yes(value: &bool) -> bool {
    *value
}

/// Poisson background input as written: `count` inputs of `rate` Hz, `weight` each.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackgroundSpec {
    /// Number of inputs per neuron.
    pub count: u64,
    /// Rate of each (Hz).
    pub rate: f64,
    /// Jump in `V` per input spike.
    pub weight: f64,
}

/// A rule as written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpikeRuleSpec {
    /// Its name (the table's key).
    #[serde(default)]
    pub name: String,
    /// Its terms (`"ten"` for the ten-term family); default: those of `rule`.
    #[serde(default)]
    pub terms: Vec<String>,
    /// The generating expression (needed to simulate).
    #[serde(default)]
    pub rule: Option<String>,
}

/// How `W₀` is drawn.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpikingWeights {
    /// `U(low, high)`.
    #[serde(default)]
    pub uniform: Option<[f64; 2]>,
    /// One value for every synapse.
    #[serde(default)]
    pub value: Option<f64>,
}

/// A projection as written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpikingProjectionSpec {
    /// Its name (the table's key).
    #[serde(default)]
    pub name: String,
    /// Presynaptic population.
    pub from: String,
    /// Postsynaptic population.
    pub to: String,
    /// The rule (absent: fixed).
    #[serde(default)]
    pub rule: Option<String>,
    /// `J` (default 1).
    #[serde(default = "one")]
    pub scale: f64,
    /// `η` (default 1).
    #[serde(default = "one")]
    pub learning_rate: f64,
    /// `τ₊` (ms) of `x_trace` (default 20).
    #[serde(default = "twenty")]
    pub tau_pre: f64,
    /// `τ₋` (ms) of `y_trace` (default 20).
    #[serde(default = "twenty")]
    pub tau_post: f64,
    /// `τ` (ms) of the second presynaptic trace `x2_trace` (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tau_pre2: Option<f64>,
    /// `τ` (ms) of the second postsynaptic trace `y2_trace` (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tau_post2: Option<f64>,
    /// Each synapse present with this probability (default 1).
    #[serde(default)]
    pub density: Option<f64>,
    /// Self-synapses within a population (default false).
    #[serde(default)]
    pub self_synapses: bool,
    /// `W₀`.
    pub initial_weights: SpikingWeights,
}

fn one() -> f64 {
    1.0
}
fn twenty() -> f64 {
    20.0
}

/// A spiking circuit file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpikingCircuitSpec {
    /// ms per step.
    pub dt: f64,
    /// The clip of plastic weights.
    #[serde(default)]
    pub weight_bounds: Option<[f64; 2]>,
    /// Populations in declaration order.
    pub populations: Vec<SpikingPopulationSpec>,
    /// Rules.
    pub rules: Vec<SpikeRuleSpec>,
    /// Projections.
    pub projections: Vec<SpikingProjectionSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpiking {
    dt: f64,
    #[serde(default)]
    weight_bounds: Option<[f64; 2]>,
    #[serde(default)]
    populations: BTreeMap<String, SpikingPopulationSpec>,
    #[serde(default)]
    rules: BTreeMap<String, SpikeRuleSpec>,
    #[serde(default)]
    projections: BTreeMap<String, SpikingProjectionSpec>,
}

/// Whether circuit TOML describes a spiking circuit (a population with
/// `activation = "lif"`/`"alif"` or a `source`, or a top-level `dt`).
pub fn is_spiking_source(source: &str) -> bool {
    let Ok(document) = source.parse::<toml::Table>() else {
        return false;
    };
    if document.contains_key("dt") {
        return true;
    }
    document
        .get("populations")
        .and_then(|p| p.as_table())
        .is_some_and(|populations| {
            populations.values().any(|p| {
                p.get("source").is_some()
                    || p.get("activation")
                        .and_then(|a| a.as_str())
                        .is_some_and(|a| a == "lif" || a == "alif")
            })
        })
}

impl SpikingCircuitSpec {
    /// Reads a spiking circuit file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let source = crate::io::read_text(path, "")?;
        Self::parse(&source, path)
    }

    /// Parses spiking circuit TOML (`path` names it in errors).
    pub fn parse(source: &str, path: &Path) -> Result<Self> {
        let reader = Reader { path, source };
        let raw: RawSpiking = toml::from_str(source).map_err(|e| reader.located(&e))?;
        let tables = reader.declaration_order()?;
        let mut spec = SpikingCircuitSpec {
            dt: raw.dt,
            weight_bounds: raw.weight_bounds,
            populations: tables.take(raw.populations, "populations", |p, n| p.name = n),
            rules: tables.take(raw.rules, "rules", |r, n| r.name = n),
            projections: tables.take(raw.projections, "projections", |p, n| p.name = n),
        };
        // rate files relative to the circuit file, stored resolved
        let directory = path.parent().unwrap_or(Path::new(""));
        for population in &mut spec.populations {
            if let Some(file) = population.source.as_mut().and_then(|s| s.rates.as_mut()) {
                *file = directory.join(&*file).display().to_string();
            }
        }
        spec.check(&reader)?;
        Ok(spec)
    }

    fn check(&self, reader: &Reader<'_>) -> Result<()> {
        if !(self.dt.is_finite() && self.dt > 0.0) {
            return Err(reader.error(
                "",
                "dt",
                format!("must be a positive number of ms, found {}", self.dt),
            ));
        }
        for p in &self.populations {
            let section = format!("populations.{}", p.name);
            if p.size == 0 {
                return Err(reader.error(&section, "size", "must be at least 1"));
            }
            match (&p.source, p.activation.as_deref()) {
                (Some(source), None) => {
                    let [low, high] = match (&source.base, &source.rates) {
                        (Some(base), None) => *base,
                        (None, Some(file)) => {
                            rates::read_rates(Path::new(file), p.size, self.dt)?;
                            continue;
                        }
                        _ => {
                            return Err(reader.error(
                                &section,
                                "source",
                                "give base = [low, high] (Hz, OU-modulated) or rates = \"FILE\" (.npy or .csv, one row per step), one of them",
                            ))
                        }
                    };
                    if !(low >= 0.0 && high >= low && high.is_finite()) {
                        return Err(reader.error(
                            &section,
                            "source",
                            "base must be [low, high] rates in Hz with 0 ≤ low ≤ high",
                        ));
                    }
                    if source.groups == 0 || source.tau.is_nan() || source.tau <= 0.0 {
                        return Err(reader.error(
                            &section,
                            "source",
                            "groups must be at least 1 and tau positive",
                        ));
                    }
                }
                (None, Some("lif" | "alif")) => {}
                (None, Some(other)) => {
                    return Err(reader.error(
                        &section,
                        "activation",
                        format!("'{other}' is not a spiking neuron; expected \"lif\" or \"alif\""),
                    ));
                }
                (Some(_), Some(_)) => {
                    return Err(reader.error(
                        &section,
                        "source",
                        "a population is either a source or neurons (activation), not both",
                    ));
                }
                (None, None) => {
                    return Err(reader.error(
                        &section,
                        "",
                        "needs either source = { … } or activation = \"lif\" | \"alif\"",
                    ));
                }
            }
        }
        for r in &self.rules {
            if r.terms.is_empty() && r.rule.is_none() {
                return Err(reader.error(
                    &format!("rules.{}", r.name),
                    "terms",
                    "a rule needs its terms or its expression (rule = \"…\")",
                ));
            }
        }
        for p in &self.projections {
            let section = format!("projections.{}", p.name);
            for (key, name) in [("from", &p.from), ("to", &p.to)] {
                if !self.populations.iter().any(|q| &q.name == name) {
                    return Err(reader.error(
                        &section,
                        key,
                        format!(
                            "names the population '{name}', which the circuit does not declare"
                        ),
                    ));
                }
            }
            if let Some(rule) = &p.rule {
                if !self.rules.iter().any(|r| &r.name == rule) {
                    return Err(reader.error(
                        &section,
                        "rule",
                        format!("names the rule '{rule}', which the circuit does not declare"),
                    ));
                }
            }
            if let Some(density) = p.density {
                if !(0.0..=1.0).contains(&density) {
                    return Err(reader.error(
                        &section,
                        "density",
                        format!("must lie in [0, 1], found {density}"),
                    ));
                }
            }
            for (key, tau) in [
                ("tau_pre", Some(p.tau_pre)),
                ("tau_post", Some(p.tau_post)),
                ("tau_pre2", p.tau_pre2),
                ("tau_post2", p.tau_post2),
            ] {
                if let Some(tau) = tau.filter(|t| !(t.is_finite() && *t > 0.0)) {
                    return Err(reader.error(
                        &section,
                        key,
                        format!("must be a positive time constant in ms, found {tau}"),
                    ));
                }
            }
            let w = &p.initial_weights;
            if w.uniform.is_some() == w.value.is_some() {
                return Err(reader.error(
                    &section,
                    "initial_weights",
                    "give exactly one of uniform = [low, high] or value = v",
                ));
            }
        }
        Ok(())
    }
}
