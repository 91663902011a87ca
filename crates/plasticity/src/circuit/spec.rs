//! Circuit files: a [`Network`] described in TOML (populations, projections, masks,
//! rules and which of their terms are trainable), and how data are simulated from it.
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

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::network::{
    Activation, Connectivity, NamedRule, Network, Population, PopulationKind, Projection,
};
use crate::rule::{parse_expression, MlpRule, Rule, TaylorRule, TrainableSpec, Variables};
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
        let document: toml::Table = source
            .parse()
            .map_err(|e: toml::de::Error| reader.located(&e))?;
        let order = |kind: &str| -> Vec<String> {
            document
                .get(kind)
                .and_then(|v| v.as_table())
                .map(|t| t.keys().cloned().collect())
                .unwrap_or_default()
        };
        fn take<T>(
            mut map: std::collections::BTreeMap<String, T>,
            order: Vec<String>,
            name: impl Fn(&mut T, String),
        ) -> Vec<T> {
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
        let spec = CircuitSpec {
            populations: take(raw.populations, order("populations"), |p, n| p.name = n),
            rules: take(raw.rules, order("rules"), |r, n| r.name = n),
            projections: take(raw.projections, order("projections"), |p, n| p.name = n),
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

    fn check(&self, reader: &Reader<'_>) -> Result<()> {
        if self.populations.is_empty() {
            return Err(Error::data(
                reader.path,
                "populations",
                "the circuit declares no population ([populations.NAME])",
            ));
        }
        let names: Vec<&str> = self.populations.iter().map(|p| p.name.as_str()).collect();
        for population in &self.populations {
            let section = format!("populations.{}", population.name);
            if population.size == 0 {
                return Err(reader.error(&section, "size", "must be at least 1"));
            }
            if population.input && population.activation.is_some() {
                return Err(reader.error(
                    &section,
                    "activation",
                    "an input population has no activation (its activity is given)",
                ));
            }
            match &population.recorded {
                Recorded::Fraction(f) if !(0.0..=1.0).contains(f) => {
                    return Err(reader.error(
                        &section,
                        "recorded",
                        format!("a fraction must be in [0, 1], found {f}"),
                    ));
                }
                Recorded::Neurons(list) => {
                    if let Some(bad) = list.iter().find(|&&i| i >= population.size) {
                        return Err(reader.error(
                            &section,
                            "recorded",
                            format!("neuron {bad} is out of range 0..{}", population.size),
                        ));
                    }
                }
                _ => {}
            }
            if !(population.input_std >= 0.0 && population.input_std.is_finite()) {
                return Err(reader.error(&section, "input_std", "must be a finite number ≥ 0"));
            }
        }
        for rule in &self.rules {
            let section = format!("rules.{}", rule.name);
            match rule.family.as_str() {
                "taylor" => {
                    TrainableSpec::parse(&rule.trainable)
                        .and_then(|t| t.mask(Variables::Xyw))
                        .map_err(|e| reader.error(&section, "trainable", e))?;
                }
                "mlp" => {}
                other => {
                    return Err(reader.error(
                        &section,
                        "family",
                        format!("'{other}': expected taylor or mlp"),
                    ));
                }
            }
            if let Some(expression) = &rule.rule {
                parse_expression(expression, Variables::Xyw)
                    .map_err(|e| reader.error(&section, "rule", e))?;
            }
        }
        for projection in &self.projections {
            let section = format!("projections.{}", projection.name);
            for (key, population) in [("from", &projection.from), ("to", &projection.to)] {
                if !names.contains(&population.as_str()) {
                    return Err(reader.error(
                        &section,
                        key,
                        format!("names population '{population}', which is not declared (populations: {})", names.join(", ")),
                    ));
                }
            }
            if let Some(rule) = &projection.rule {
                if !self.rules.iter().any(|r| &r.name == rule) {
                    let rules: Vec<&str> = self.rules.iter().map(|r| r.name.as_str()).collect();
                    return Err(reader.error(
                        &section,
                        "rule",
                        format!(
                            "names rule '{rule}', which is not declared (rules: {})",
                            rules.join(", ")
                        ),
                    ));
                }
            }
            if let Some(delay) = projection.delay {
                if delay > 1 {
                    return Err(reader.error(
                        &section,
                        "delay",
                        format!("must be 0 or 1, found {delay}"),
                    ));
                }
            }
            let w0 = &projection.initial_weights;
            if !(w0.std >= 0.0 && w0.std.is_finite() && w0.mean.is_finite()) {
                return Err(reader.error(
                    &section,
                    "initial_weights",
                    "needs a finite mean and a finite std ≥ 0",
                ));
            }
            if projection.fit_initial_weights == InitialWeightsFit::PerTrajectory {
                return Err(reader.error(
                    &section,
                    "fit_initial_weights",
                    "per-trajectory W₀ is refused: fitted jointly with θ it is not identifiable (W₀ and θ trade off, and a row of W₀ has more unknowns than informative data; measured in a prototype and in docs/circuits.md); use \"shared\" (one W₀ for every trajectory) or \"given\"",
                ));
            }
            if let Some(mask) = &projection.mask {
                match (mask.density, &mask.file) {
                    (Some(d), None) if (0.0..=1.0).contains(&d) => {}
                    (Some(d), None) => {
                        return Err(reader.error(
                            &section,
                            "mask",
                            format!("density must be in [0, 1], found {d}"),
                        ))
                    }
                    (None, Some(_)) => {}
                    _ => {
                        return Err(reader.error(
                            &section,
                            "mask",
                            "give exactly one of density or file",
                        ))
                    }
                }
            }
        }
        // the order and shapes (delays, mask shapes) are checked when built
        self.build(0, None).map(|_| ()).map_err(|e| match e {
            Error::Config { key, message } => {
                let (section, field) = key
                    .rsplit_once('.')
                    .map(|(s, f)| {
                        if s.contains('.') {
                            (s.to_string(), f.to_string())
                        } else {
                            (key.clone(), String::new())
                        }
                    })
                    .unwrap_or((key.clone(), String::new()));
                reader.error(&section, &field, message)
            }
            Error::TooLarge {
                what,
                needed,
                limit,
            } => Error::TooLarge {
                what: format!("{what} of {}", reader.path.display()),
                needed,
                limit,
            },
            other => other,
        })
    }

    /// The circuit's rules with their names.
    pub fn named_rules(&self) -> Result<Vec<NamedRule>> {
        self.rules
            .iter()
            .map(|spec| {
                let rule = match spec.family.as_str() {
                    "mlp" => Rule::Mlp(MlpRule::new(Variables::Xyw, &spec.hidden)?),
                    _ => Rule::Taylor(TaylorRule::new(Variables::Xyw)),
                };
                Ok(NamedRule {
                    name: spec.name.clone(),
                    rule,
                })
            })
            .collect()
    }

    /// The generating θ of every rule (each from its `rule` expression).
    pub fn generating_theta(&self) -> Result<Option<Vec<f64>>> {
        let mut theta = Vec::new();
        for spec in &self.rules {
            let Some(expression) = &spec.rule else {
                return Ok(None);
            };
            if spec.family != "taylor" {
                return Ok(None);
            }
            theta.extend(parse_expression(expression, Variables::Xyw)?);
        }
        Ok(Some(theta))
    }

    /// Builds the network. Random masks are drawn from `seed`; `masks` (one per
    /// projection, from a dataset) replace the circuit's own.
    pub fn build(&self, seed: u64, masks: Option<&[Connectivity]>) -> Result<Network> {
        use rand::{RngExt, SeedableRng};
        let index = |name: &str| self.populations.iter().position(|p| p.name == name);
        let populations: Vec<Population> = self
            .populations
            .iter()
            .map(|spec| Population {
                name: spec.name.clone(),
                size: spec.size,
                kind: if spec.input {
                    PopulationKind::Input
                } else {
                    PopulationKind::Neurons {
                        activation: spec.activation.unwrap_or(Activation::Sigmoid),
                        external_input: spec.external_input,
                        initial_activity: spec.initial_activity,
                    }
                },
            })
            .collect();
        let position = |p: usize| populations[..p].iter().filter(|q| q.is_simulated()).count();
        let mut projections = Vec::new();
        // the synapses drawn or read so far, against the memory limit
        let mut synapse_bytes = Some(0u64);
        for (k, spec) in self.projections.iter().enumerate() {
            let key = format!("projections.{}", spec.name);
            let (Some(pre), Some(post)) = (index(&spec.from), index(&spec.to)) else {
                return Err(Error::config(
                    key,
                    "names a population the circuit does not have",
                ));
            };
            let (n_pre, n_post) = (populations[pre].size, populations[post].size);
            let connectivity = match masks {
                Some(masks) => masks[k].clone(),
                None => {
                    // at most every synapse present: its presynaptic index, and the
                    // row starts (a mask file's 0/1 entries take less), refused before
                    // any is drawn or read where they would not fit
                    let (pre_size, post_size) = (n_pre as u64, n_post as u64);
                    synapse_bytes = pre_size
                        .checked_mul(post_size)
                        .and_then(|s| s.checked_add(post_size + 1))
                        .and_then(|s| s.checked_mul(8))
                        .and_then(|s| s.checked_add(synapse_bytes?));
                    crate::limits::check_dataset_bytes(
                        &format!(
                            "the synapses of projection '{}' ({n_post} × {n_pre} neurons, with those before it)",
                            spec.name
                        ),
                        synapse_bytes,
                    )?;
                    let self_synapses = pre != post || spec.self_synapses;
                    match &spec.mask {
                        None => Connectivity::all(n_pre, n_post, self_synapses),
                        Some(MaskSpec {
                            density: Some(density),
                            ..
                        }) => {
                            let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(
                                seed ^ (0x6d61_736b_0000 + k as u64),
                            );
                            Connectivity::from_fn(n_pre, n_post, |i, j| {
                                let draw = rng.random::<f64>() < *density;
                                draw && (self_synapses || i != j)
                            })
                        }
                        Some(MaskSpec {
                            file: Some(file), ..
                        }) => {
                            let mask = read_mask(&self.base.join(file), n_pre, n_post, &key)?;
                            Connectivity::from_mask(n_pre, n_post, &mask)
                        }
                        Some(_) => {
                            return Err(Error::config(
                                format!("{key}.mask"),
                                "give exactly one of density or file",
                            ))
                        }
                    }
                }
            };
            let delayed = match spec.delay {
                Some(d) => d == 1,
                None => populations[pre].is_simulated() && position(pre) >= position(post),
            };
            let rule = match &spec.rule {
                None => None,
                Some(name) => Some(self.rules.iter().position(|r| &r.name == name).ok_or_else(
                    || {
                        Error::config(
                            format!("{key}.rule"),
                            format!("names rule '{name}', which is not declared"),
                        )
                    },
                )?),
            };
            projections.push(Projection {
                name: spec.name.clone(),
                pre,
                post,
                delayed,
                connectivity,
                rule,
                learning_rate: spec.learning_rate,
            });
        }
        Ok(Network::new(populations, projections, self.named_rules()?)?
            .with_weight_bound(self.weight_bound))
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

/// A connectome: `pre,post` pairs (`.csv`, `.txt`) or a dense `[n_post, n_pre]` 0/1
/// `.npy` matrix.
fn read_mask(path: &Path, n_pre: usize, n_post: usize, key: &str) -> Result<Vec<bool>> {
    let mut mask = vec![false; n_pre * n_post];
    let is_npy = path.extension().is_some_and(|e| e == "npy");
    if is_npy {
        let array: ndarray::Array2<f64> = ndarray_npy::read_npy(path)
            .or_else(|_| {
                ndarray_npy::read_npy::<_, ndarray::Array2<i64>>(path).map(|a| a.mapv(|v| v as f64))
            })
            .map_err(|e| {
                Error::data(
                    path,
                    key,
                    format!("expected a 2-d float64 or int64 .npy mask: {e}"),
                )
            })?;
        if array.dim() != (n_post, n_pre) {
            return Err(Error::data(
                path,
                key,
                format!(
                    "the mask has shape {:?}, expected [{n_post}, {n_pre}] ([post, pre])",
                    array.shape()
                ),
            ));
        }
        for (slot, &v) in mask.iter_mut().zip(array.iter()) {
            if v != 0.0 && v != 1.0 {
                return Err(Error::data(
                    path,
                    key,
                    format!("mask entries must be 0 or 1, found {v}"),
                ));
            }
            *slot = v == 1.0;
        }
        return Ok(mask);
    }
    let text = crate::io::read_text(path, key)?;
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line
            .split([',', ' ', '\t'])
            .filter(|f| !f.is_empty())
            .collect();
        let parsed: Option<Vec<usize>> = fields.iter().map(|f| f.parse().ok()).collect();
        match parsed.as_deref() {
            Some([pre, post]) => {
                if *pre >= n_pre || *post >= n_post {
                    return Err(Error::data(
                        path,
                        key,
                        format!("line {}: pair ({pre}, {post}) is out of range (pre < {n_pre}, post < {n_post})", number + 1),
                    ));
                }
                mask[post * n_pre + pre] = true;
            }
            None if number == 0 => continue, // a header
            _ => {
                return Err(Error::data(
                    path,
                    key,
                    format!(
                        "line {}: expected two indices 'pre,post', found '{line}'",
                        number + 1
                    ),
                ))
            }
        }
    }
    Ok(mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
weight_bound = 10.0

[populations.x]
size = 3
input = true

[populations.y]
size = 4
activation = "tanh"
recorded = [0, 2]

[rules.ff]
rule = "x*y - y^2*w"

[projections.ff]
from = "x"
to = "y"
rule = "ff"
initial_weights = { std = 0.5 }

[projections.rec]
from = "y"
to = "y"
rule = "ff"
initial_weights = { std = 0.1 }
"#;

    fn parse(source: &str) -> Result<CircuitSpec> {
        CircuitSpec::parse(source, Path::new("circuit.toml"), PathBuf::new())
    }

    fn error_of(source: &str) -> String {
        parse(source).unwrap_err().to_string()
    }

    #[test]
    fn a_circuit_file_builds_its_network() {
        let spec = parse(GOOD).unwrap();
        let network = spec.build(0, None).unwrap();
        assert_eq!(network.n_neurons(), 7);
        // the recurrent projection has no self-synapses and is delayed
        let rec = &network.projections()[1];
        assert!(rec.delayed && !network.projections()[0].delayed);
        assert_eq!(rec.connectivity.n_synapses(), 12);
        assert_eq!(network.n_parameters(), 27);
        assert_eq!(network.weight_bound(), Some(10.0));
        assert_eq!(spec.populations[1].recorded, Recorded::Neurons(vec![0, 2]));
        // the JSON form (dataset metadata) reads back the same
        let json = serde_json::to_value(&spec).unwrap();
        let back: CircuitSpec = serde_json::from_value(json).unwrap();
        assert_eq!(back, spec);
    }

    #[test]
    fn bad_circuit_files_name_the_key_and_its_line() {
        let unknown_population = GOOD.replace("from = \"y\"", "from = \"z\"");
        let message = error_of(&unknown_population);
        assert!(message.contains("projections.rec.from"), "{message}");
        assert!(message.contains("line 23"), "{message}");
        assert!(message.contains("'z'"), "{message}");

        let no_delay = GOOD.replace(
            "rule = \"ff\"\ninitial_weights = { std = 0.1 }",
            "rule = \"ff\"\ndelay = 0\ninitial_weights = { std = 0.1 }",
        );
        let message = error_of(&no_delay);
        assert!(message.contains("projections.rec.delay"), "{message}");
        assert!(message.contains("line 26"), "{message}");
        assert!(message.contains("needs delay = 1"), "{message}");

        let unknown_rule = GOOD.replace(
            "rule = \"ff\"\ninitial_weights = { std = 0.1 }",
            "rule = \"hebb\"\ninitial_weights = { std = 0.1 }",
        );
        let message = error_of(&unknown_rule);
        assert!(
            message.contains("projections.rec.rule") && message.contains("'hebb'"),
            "{message}"
        );

        let unknown_key = GOOD.replace("activation = \"tanh\"", "activaton = \"tanh\"");
        let message = error_of(&unknown_key);
        assert!(
            message.contains("populations.y") && message.contains("activaton"),
            "{message}"
        );

        let bad_activation = GOOD.replace("activation = \"tanh\"", "activation = \"softmax\"");
        let message = error_of(&bad_activation);
        assert!(
            message.contains("populations.y.activation") && message.contains("line 10"),
            "{message}"
        );

        let out_of_range = GOOD.replace("recorded = [0, 2]", "recorded = [0, 9]");
        let message = error_of(&out_of_range);
        assert!(
            message.contains("populations.y.recorded") && message.contains("neuron 9"),
            "{message}"
        );

        let per_trajectory = GOOD.replace(
            "initial_weights = { std = 0.5 }",
            "initial_weights = { std = 0.5 }\nfit_initial_weights = \"per_trajectory\"",
        );
        let message = error_of(&per_trajectory);
        assert!(
            message.contains("fit_initial_weights") && message.contains("not identifiable"),
            "{message}"
        );

        let not_toml = "[populations.x\nsize = 3";
        let message = error_of(not_toml);
        assert!(
            message.contains("circuit.toml") && message.contains("line 1"),
            "{message}"
        );
    }

    /// Found by `tests/fuzz.rs` (`circuit_toml_generated`): a circuit file declaring
    /// huge populations drew its synapses until the allocator aborted; sizes whose
    /// sums overflow, and a non-UTF-8 file, were not data errors.
    #[test]
    fn a_circuit_too_large_or_not_text_is_refused_naming_the_file() {
        let huge = GOOD.replacen("size = 3", "size = 1000000000000", 1);
        let error = parse(&huge).unwrap_err();
        assert!(matches!(error, Error::TooLarge { .. }), "{error:?}");
        let message = error.to_string();
        assert!(
            message.contains("projection 'ff'") && message.contains("circuit.toml"),
            "{message}"
        );
        let big = "size = 9223372036854775807\nrecorded = 0.0\n";
        let message = error_of(&format!(
            "[populations.x]\n{big}[populations.y]\n{big}[populations.z]\n{big}"
        ));
        assert!(
            message.contains("populations") && message.contains("counted"),
            "{message}"
        );
        let mlp = GOOD.replace(
            "[rules.ff]",
            "[rules.ff]\nfamily = \"mlp\"\nhidden = [4294967296, 4294967296]",
        );
        let message = error_of(&mlp);
        assert!(message.contains("counted"), "{message}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("circuit.toml");
        std::fs::write(&path, b"[populations.x]\nsize = \xff3\n").unwrap();
        let error = CircuitSpec::load(&path).unwrap_err();
        assert!(matches!(error, Error::Data { .. }), "{error:?}");
        assert!(error.to_string().contains("not UTF-8"), "{error}");
    }

    #[test]
    fn a_mask_of_the_wrong_shape_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mask = dir.path().join("mask.npy");
        ndarray_npy::write_npy(&mask, &ndarray::Array2::<f64>::ones((4, 4))).unwrap();
        let source = GOOD.replace(
            "initial_weights = { std = 0.5 }",
            "initial_weights = { std = 0.5 }\nmask = { file = \"mask.npy\" }",
        );
        let error =
            CircuitSpec::parse(&source, Path::new("circuit.toml"), dir.path().to_path_buf())
                .unwrap_err()
                .to_string();
        assert!(
            error.contains("mask.npy") && error.contains("expected [4, 3]"),
            "{error}"
        );
        // a connectome as (pre, post) pairs
        let pairs = dir.path().join("pairs.csv");
        std::fs::write(&pairs, "pre,post\n0,1\n2,3\n1,0\n").unwrap();
        let source = GOOD.replace(
            "initial_weights = { std = 0.5 }",
            "initial_weights = { std = 0.5 }\nmask = { file = \"pairs.csv\" }",
        );
        let spec = CircuitSpec::parse(&source, Path::new("circuit.toml"), dir.path().to_path_buf())
            .unwrap();
        let network = spec.build(0, None).unwrap();
        let mask = network.projections()[0].connectivity.mask();
        let present: Vec<usize> = (0..12).filter(|&k| mask[k]).collect();
        // (pre 0, post 1) → 1·3 + 0; (2, 3) → 11; (1, 0) → 1
        assert_eq!(present, vec![1, 3, 11]);
        std::fs::write(&pairs, "0,1\n7,0\n").unwrap();
        let error =
            CircuitSpec::parse(&source, Path::new("circuit.toml"), dir.path().to_path_buf())
                .unwrap_err()
                .to_string();
        assert!(
            error.contains("line 2") && error.contains("out of range"),
            "{error}"
        );
    }
}
