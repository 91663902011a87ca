//! Circuit files: a [`Network`](crate::circuit::network::Network) described in TOML
//! (populations, projections, masks, rules and which of their terms are trainable), and
//! how data are simulated from it.
//!
//! ```toml
//! weight_bound = 10.0                 # optional clip of plastic weights during fits
//!
//! [populations.x]                     # declaration order = update order
//! size = 20
//! input = true                        # activity given by the data: x_t ~ N(0, input_std²)
//! input_std = 1.0
//!
//! [populations.y]
//! size = 100
//! activation = "sigmoid"              # sigmoid | tanh | linear | relu
//! initial_activity = 0.5              # y_−1
//! recorded = 0.5                      # a fraction (drawn at random) or a list of indices
//!
//! [rules.feedforward]
//! rule = "x*y - y^2*w"                # the generating rule (simulation)
//! trainable = "all"                   # fitted terms
//!
//! [projections.feedforward]
//! from = "x"
//! to = "y"
//! rule = "feedforward"                # absent: a fixed projection
//! initial_weights = { std = 0.2236 }  # W₀ ~ N(mean, std²) on present synapses
//! mask = { density = 0.1 }            # or { file = "pairs.csv" } or { file = "mask.npy" }
//! ```
//!
//! A recurrent projection (`from` = `to`, or `from` updating after `to`) carries the
//! previous step's activity (`delay = 1`, its default) and has no self-synapses unless
//! `self_synapses = true`.

mod build;
mod check;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::network::Activation;
use crate::{Error, Result};

/// Which neurons of a population are recorded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Recorded {
    /// This fraction of the neurons, drawn at random (`round(f · size)`; 0 = latent).
    Fraction(f64),
    /// These neurons (0-based indices).
    Neurons(Vec<usize>),
}

impl Default for Recorded {
    fn default() -> Self {
        Recorded::Fraction(1.0)
    }
}

/// A population as written in a circuit file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PopulationSpec {
    /// Its name (the table's key).
    #[serde(default)]
    pub name: String,
    /// Number of neurons.
    pub size: usize,
    /// Whether its activity is given by the data.
    #[serde(default)]
    pub input: bool,
    /// Activation of neuron populations (default sigmoid).
    #[serde(default)]
    pub activation: Option<Activation>,
    /// Whether the data add an external current (neuron populations).
    #[serde(default)]
    pub external_input: bool,
    /// `y_−1`.
    #[serde(default)]
    pub initial_activity: f64,
    /// Which neurons are recorded (neuron populations; default all).
    #[serde(default)]
    pub recorded: Recorded,
    /// Simulation: standard deviation of the input activity or external current.
    #[serde(default = "one")]
    pub input_std: f64,
}

fn one() -> f64 {
    1.0
}

/// A rule as written in a circuit file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Its name (the table's key).
    #[serde(default)]
    pub name: String,
    /// `taylor` (default) or `mlp`.
    #[serde(default = "taylor")]
    pub family: String,
    /// The generating Taylor expression (needed to simulate).
    #[serde(default)]
    pub rule: Option<String>,
    /// Trainable Taylor terms (`all`, a list, `vars:x,y`, `degree:2`).
    #[serde(default = "all")]
    pub trainable: String,
    /// MLP hidden layer sizes.
    #[serde(default = "hidden")]
    pub hidden: Vec<usize>,
}

fn taylor() -> String {
    "taylor".into()
}
fn all() -> String {
    "all".into()
}
fn hidden() -> Vec<usize> {
    vec![10]
}

/// How `W₀` of a projection is drawn when data are simulated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightDistribution {
    /// Mean.
    #[serde(default)]
    pub mean: f64,
    /// Standard deviation.
    pub std: f64,
    /// One draw shared by every trajectory (default: a draw per trajectory).
    #[serde(default)]
    pub shared: bool,
}

/// Which synapses of a projection exist.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaskSpec {
    /// Each synapse present with this probability (drawn from the circuit's seed).
    #[serde(default)]
    pub density: Option<f64>,
    /// A connectome: a `.csv`/`.txt` of `pre,post` index pairs (0-based, one per line;
    /// a header line is skipped), or a `.npy` dense `[n_post, n_pre]` 0/1 matrix.
    /// Relative to the circuit file.
    #[serde(default)]
    pub file: Option<PathBuf>,
}

/// How a fit treats `W₀` of a projection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InitialWeightsFit {
    /// Known: taken from the data.
    #[default]
    Given,
    /// Unknown, one `W₀` shared by every trajectory, fitted jointly with θ.
    Shared,
    /// Unknown, one per trajectory: refused (measured non-identifiable).
    PerTrajectory,
}

/// A projection as written in a circuit file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectionSpec {
    /// Its name (the table's key).
    #[serde(default)]
    pub name: String,
    /// Presynaptic population.
    pub from: String,
    /// Postsynaptic population.
    pub to: String,
    /// The rule (absent: fixed weights).
    #[serde(default)]
    pub rule: Option<String>,
    /// `η`.
    #[serde(default = "one")]
    pub learning_rate: f64,
    /// 0: the presynaptic activity of the same step; 1: of the previous step. Default:
    /// 0 when `from` is an input or updates before `to`, else 1.
    #[serde(default)]
    pub delay: Option<u8>,
    /// Synapses from a neuron onto itself (projections within a population only;
    /// default false).
    #[serde(default)]
    pub self_synapses: bool,
    /// Which synapses exist (default: all).
    #[serde(default)]
    pub mask: Option<MaskSpec>,
    /// How `W₀` is drawn when simulating.
    pub initial_weights: WeightDistribution,
    /// How a fit treats `W₀`.
    #[serde(default)]
    pub fit_initial_weights: InitialWeightsFit,
    /// L2 penalty `λ Σ (W₀ − mean)²` on a fitted `W₀` (a Gaussian prior around the
    /// distribution's mean).
    #[serde(default)]
    pub initial_weights_l2: f64,
}

/// A whole circuit file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CircuitSpec {
    /// Populations in update order.
    pub populations: Vec<PopulationSpec>,
    /// Rules.
    pub rules: Vec<RuleSpec>,
    /// Projections.
    pub projections: Vec<ProjectionSpec>,
    /// Clip of plastic weights during fits (`None`: no clip).
    #[serde(default)]
    pub weight_bound: Option<f64>,
    /// The directory mask files are relative to.
    #[serde(skip)]
    pub base: PathBuf,
}

/// The 1-based line of `[section.name]`, or of `key = …` inside it (`key` empty: the
/// header line).
pub fn table_line(source: &str, section: &str, key: &str) -> Option<usize> {
    let header = format!("[{section}]");
    let mut in_section = false;
    let mut header_line = None;
    for (number, line) in source.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            let normalised: String = trimmed
                .split('#')
                .next()
                .unwrap_or("")
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            in_section = normalised == header;
            if in_section {
                header_line = Some(number + 1);
                if key.is_empty() {
                    return header_line;
                }
            }
            continue;
        }
        if in_section && !key.is_empty() {
            if let Some((name, _)) = trimmed.split_once('=') {
                if name.trim().trim_matches('"') == key {
                    return Some(number + 1);
                }
            }
        }
    }
    header_line
}

/// The circuit file as TOML sees it (tables by name; their order is read separately).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCircuit {
    #[serde(default)]
    populations: std::collections::BTreeMap<String, PopulationSpec>,
    #[serde(default)]
    rules: std::collections::BTreeMap<String, RuleSpec>,
    #[serde(default)]
    projections: std::collections::BTreeMap<String, ProjectionSpec>,
    #[serde(default)]
    weight_bound: Option<f64>,
}

/// Reads circuit files, with errors naming the file, the key and its line.
pub(crate) struct Reader<'a> {
    pub(crate) path: &'a Path,
    pub(crate) source: &'a str,
}

impl Reader<'_> {
    /// A TOML error at its line, naming the key written on that line (in its
    /// `[section]`).
    pub(crate) fn located(&self, error: &toml::de::Error) -> Error {
        let Some(span) = error.span() else {
            return Error::data(self.path, "", error.message().to_string());
        };
        let start = span.start.min(self.source.len());
        let line = self.source[..start].matches('\n').count() + 1;
        let text = self.source.lines().nth(line - 1).unwrap_or("");
        let section = self
            .source
            .lines()
            .take(line)
            .filter_map(|l| {
                let t = l.trim();
                t.strip_prefix('[')
                    .and_then(|t| t.split(']').next())
                    .map(|h| h.trim().to_string())
            })
            .last();
        let key = text
            .split_once('=')
            .map(|(k, _)| k.trim().trim_matches('"').to_string());
        let variable = match (section, key) {
            (Some(section), Some(key)) if !text.trim_start().starts_with('[') => {
                format!("{section}.{key}")
            }
            (Some(section), _) => section,
            (None, Some(key)) => key,
            (None, None) => String::new(),
        };
        Error::data(
            self.path,
            variable,
            format!("line {line}: {}", error.message()),
        )
    }

    /// The tables of the file in the order they are written (the parsed document keeps
    /// it), for [`DeclarationOrder::take`].
    pub(crate) fn declaration_order(&self) -> Result<DeclarationOrder> {
        let document: toml::Table = self
            .source
            .parse()
            .map_err(|e: toml::de::Error| self.located(&e))?;
        Ok(DeclarationOrder { document })
    }

    fn error_top(&self, key: &str, message: impl std::fmt::Display) -> Error {
        let line = top_level_line(self.source, key)
            .map(|l| format!("line {l}: "))
            .unwrap_or_default();
        Error::data(self.path, key, format!("{line}{message}"))
    }

    pub(crate) fn error(&self, section: &str, key: &str, message: impl std::fmt::Display) -> Error {
        let variable = if key.is_empty() {
            section.to_string()
        } else {
            format!("{section}.{key}")
        };
        let line = table_line(self.source, section, key)
            .map(|l| format!("line {l}: "))
            .unwrap_or_default();
        Error::data(self.path, variable, format!("{line}{message}"))
    }
}

/// The order in which a circuit file declares its tables (populations update in it).
pub(crate) struct DeclarationOrder {
    document: toml::Table,
}

impl DeclarationOrder {
    /// The values of `map` (a section's tables by name) in the order the file writes
    /// the tables of `section`, each given its name by `name`.
    pub(crate) fn take<T>(
        &self,
        mut map: std::collections::BTreeMap<String, T>,
        section: &str,
        name: impl Fn(&mut T, String),
    ) -> Vec<T> {
        let order: Vec<String> = self
            .document
            .get(section)
            .and_then(|v| v.as_table())
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default();
        order
            .into_iter()
            .filter_map(|key| {
                map.remove(&key).map(|mut value| {
                    name(&mut value, key);
                    value
                })
            })
            .collect()
    }
}

impl CircuitSpec {
    /// Reads a circuit file.
    pub fn load(path: impl AsRef<Path>) -> Result<CircuitSpec> {
        let path = path.as_ref();
        let source = crate::io::read_text(path, "")?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        CircuitSpec::parse(&source, path, base)
    }

    /// Parses circuit TOML (`path` names it in errors; mask files are relative to
    /// `base`).
    pub fn parse(source: &str, path: &Path, base: PathBuf) -> Result<CircuitSpec> {
        let reader = Reader { path, source };
        // typed first: toml's errors carry the span of the offending value
        let raw: RawCircuit = toml::from_str(source).map_err(|e| reader.located(&e))?;
        // then the order of the tables, which is the update order
        let tables = reader.declaration_order()?;
        let spec = CircuitSpec {
            populations: tables.take(raw.populations, "populations", |p, n| p.name = n),
            rules: tables.take(raw.rules, "rules", |r, n| r.name = n),
            projections: tables.take(raw.projections, "projections", |p, n| p.name = n),
            weight_bound: raw.weight_bound,
            base,
        };
        if let Some(bound) = spec.weight_bound {
            if !(bound > 0.0 && bound.is_finite()) {
                return Err(reader.error_top(
                    "weight_bound",
                    format!("must be a positive number, found {bound}"),
                ));
            }
        }
        spec.check(&reader)?;
        Ok(spec)
    }
}

/// The line of a top-level `key = …`.
fn top_level_line(source: &str, key: &str) -> Option<usize> {
    for (number, line) in source.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            return None;
        }
        if let Some((name, _)) = trimmed.split_once('=') {
            if name.trim() == key {
                return Some(number + 1);
            }
        }
    }
    None
}
