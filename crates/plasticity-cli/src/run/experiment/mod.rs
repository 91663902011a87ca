//! Experiment files: a TOML file that names an experiment's kind, the flags of the
//! commands it runs (one table per command, keys named exactly as the flags, `-` or
//! `_`), an optional grid of values to sweep, and Slurm options.
//!
//! The sections are read by the commands' own flag parsers (clap), so every flag has a
//! key, with the same default and the same checks. Every error names the file, the
//! line and the key: unknown keys, values of the wrong type, values out of range.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};
use clap::{ArgAction, CommandFactory, FromArgMatches, Parser};
use toml::{Table, Value};

use crate::flags::{check_fit, BenchArgs, FitOptions, FliesArgs, TableArgs, TaskArgs, TaskFlags};

/// What an experiment runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Simulated neural activity ([simulate] = `simulate oja` flags) and a fit ([fit]).
    Neural,
    /// Simulated choices ([simulate] = `simulate behaviour` flags) and a fit ([fit]).
    Behaviour,
    /// The reward-rule table ([table] = `table` flags).
    Table,
    /// The real flies ([flies] = `flies` flags).
    Flies,
    /// Kernel timings over a grid of sizes ([bench] = `bench-kernels` flags).
    Scaling,
    /// A multi-population circuit ([simulate] = `simulate circuit` flags, its
    /// `circuit` file relative to the experiment file) and a fit ([fit]).
    Circuit,
}

impl Kind {
    fn parse(text: &str) -> Option<Kind> {
        Some(match text {
            "neural" => Kind::Neural,
            "behaviour" => Kind::Behaviour,
            "table" => Kind::Table,
            "flies" => Kind::Flies,
            "scaling" => Kind::Scaling,
            "circuit" => Kind::Circuit,
            _ => return None,
        })
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Neural => "neural",
            Kind::Behaviour => "behaviour",
            Kind::Table => "table",
            Kind::Flies => "flies",
            Kind::Scaling => "scaling",
            Kind::Circuit => "circuit",
        }
    }

    /// The command sections this kind reads.
    fn sections(self) -> &'static [&'static str] {
        match self {
            Kind::Neural | Kind::Behaviour | Kind::Circuit => &["simulate", "fit"],
            Kind::Table => &["table"],
            Kind::Flies => &["flies"],
            Kind::Scaling => &["bench"],
        }
    }

    /// Whether a grid may sweep this kind's keys.
    fn has_grid(self) -> bool {
        matches!(
            self,
            Kind::Neural | Kind::Behaviour | Kind::Scaling | Kind::Circuit
        )
    }
}

/// The flags' parsers, one per section.
#[derive(Parser, Debug)]
#[command(name = "simulate oja")]
struct NeuralSimulateSection {
    #[command(flatten)]
    task: TaskArgs,
}

#[derive(Parser, Debug)]
#[command(name = "simulate behaviour")]
struct BehaviourSimulateSection {
    #[command(flatten)]
    task: TaskFlags,
}

#[derive(Parser, Debug)]
#[command(name = "simulate circuit")]
struct CircuitSimulateSection {
    /// The circuit file (relative to the experiment file).
    #[arg(long)]
    circuit: PathBuf,
    #[command(flatten)]
    task: crate::flags::CircuitTaskFlags,
}

#[derive(Parser, Debug)]
#[command(name = "fit")]
struct FitSection {
    #[command(flatten)]
    options: FitOptions,
}

#[derive(Parser, Debug)]
#[command(name = "table")]
struct TableSection {
    #[command(flatten)]
    args: TableArgs,
}

#[derive(Parser, Debug)]
#[command(name = "flies")]
struct FliesSection {
    #[command(flatten)]
    args: FliesArgs,
}

#[derive(Parser, Debug)]
#[command(name = "bench-kernels")]
struct BenchSection {
    #[command(flatten)]
    args: BenchArgs,
}

/// The clap command that reads `section` of `kind`.
fn section_command(kind: Kind, section: &str) -> clap::Command {
    match (kind, section) {
        (Kind::Neural, "simulate") => NeuralSimulateSection::command(),
        (Kind::Circuit, "simulate") => CircuitSimulateSection::command(),
        (Kind::Behaviour, "simulate") => BehaviourSimulateSection::command(),
        (_, "fit") => FitSection::command(),
        (_, "table") => TableSection::command(),
        (_, "flies") => FliesSection::command(),
        _ => BenchSection::command(),
    }
}

/// Keys that `plasticity run` sets itself (output paths).
const RESERVED_KEYS: [&str; 2] = ["out", "json"];

/// The most cells a grid may have (the product of its axes' lengths): every cell is
/// checked when the file is read, so a few lines must not ask for billions.
pub(crate) const MAX_CELLS: usize = 100_000;

/// The largest experiment file read: 1 MiB (the shipped ones are under 4 KiB).
pub(crate) const MAX_EXPERIMENT_FILE_BYTES: u64 = 1 << 20;

/// Top-level keys besides the sections.
const TOP_LEVEL_KEYS: [&str; 6] = [
    "kind",
    "title",
    "description",
    "save_data",
    "checkpoint_interval",
    "parallel_cells",
];

/// Keys of the [slurm] table.
const SLURM_KEYS: [&str; 5] = [
    "options",
    "cpus_per_task",
    "time",
    "partition",
    "max_parallel",
];

/// Slurm settings of an experiment.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct SlurmSettings {
    /// Extra `#SBATCH` options, each as written on the sbatch command line.
    pub(crate) options: Vec<String>,
    /// `--cpus-per-task`.
    pub(crate) cpus_per_task: u32,
    /// `--time`, if set.
    pub(crate) time: Option<String>,
    /// `--partition`, if set.
    pub(crate) partition: Option<String>,
    /// At most this many cells at once (`--array=…%N`), if set.
    pub(crate) max_parallel: Option<u32>,
}

/// One axis of a grid: `section.key` takes each of `values` in turn.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct GridAxis {
    pub(crate) section: String,
    pub(crate) key: String,
    pub(crate) values: Vec<Value>,
}

impl GridAxis {
    pub(crate) fn name(&self) -> String {
        format!("{}.{}", self.section, self.key)
    }
}

/// One cell of the grid (the whole experiment when there is no grid).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Cell {
    /// Row-major index (the first grid key varies slowest).
    pub(crate) index: usize,
    /// The grid values of this cell: (axis, value).
    pub(crate) parameters: Vec<(GridAxis, Value)>,
}

impl Cell {
    /// `noise_std=0.2, recording_fraction=0.9`.
    pub(crate) fn label(&self) -> String {
        self.parameters
            .iter()
            .map(|(axis, value)| format!("{}={}", axis.key, value_text(value)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The directory name of the cell: `cell_0007`.
    pub(crate) fn directory_name(&self) -> String {
        format!("cell_{:04}", self.index)
    }
}

/// A cell's settings, parsed by the commands' own flag parsers.
#[derive(Debug)]
pub(crate) enum CellConfig {
    Neural {
        task: TaskArgs,
        fit: FitOptions,
    },
    Behaviour {
        task: TaskFlags,
        fit: FitOptions,
    },
    Table(TableArgs),
    Flies(FliesArgs),
    Scaling(BenchArgs),
    Circuit {
        circuit: PathBuf,
        task: crate::flags::CircuitTaskFlags,
        fit: FitOptions,
    },
}

/// A parsed, checked experiment file.
#[derive(Clone, Debug)]
pub(crate) struct Experiment {
    pub(crate) path: PathBuf,
    /// Relative paths in the file are read from here (the file's directory).
    pub(crate) base_dir: PathBuf,
    pub(crate) source: String,
    pub(crate) kind: Kind,
    pub(crate) title: String,
    pub(crate) description: String,
    pub(crate) save_data: bool,
    pub(crate) checkpoint_interval: f64,
    pub(crate) parallel_cells: bool,
    sections: Vec<(String, Table)>,
    pub(crate) grid: Vec<GridAxis>,
    pub(crate) slurm: SlurmSettings,
}

/// The text of a TOML value as a flag value.
pub(crate) fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Integer(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Boolean(b) => b.to_string(),
        other => other.to_string(),
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a number",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date",
        Value::Array(_) => "an array",
        Value::Table(_) => "a table",
    }
}

/// The 1-based line where `key` is set in `[section]` (top level when `section` is
/// None), by scanning the source: headers `[name]`, then `key = …`, `"key" = …`.
pub(crate) fn key_line(source: &str, section: Option<&str>, key: &str) -> Option<usize> {
    let mut current: Option<String> = None;
    let mut header_line = None;
    for (number, line) in source.lines().enumerate() {
        let trimmed = line.trim();
        if let Some(rest) = trimmed.strip_prefix('[') {
            if let Some(end) = rest.find(']') {
                current = Some(rest[..end].trim().to_string());
                if section == current.as_deref() && key.is_empty() {
                    header_line = Some(number + 1);
                }
                continue;
            }
        }
        if current.as_deref() != section {
            continue;
        }
        if let Some((left, _)) = trimmed.split_once('=') {
            let left = left.trim().trim_matches('"').trim_matches('\'');
            if left == key || left.replace('-', "_") == key.replace('-', "_") {
                return Some(number + 1);
            }
        }
    }
    header_line
}

/// The clap argument that `key` names in `command` (the field name, or the flag's
/// long name).
fn find_arg<'c>(command: &'c clap::Command, key: &str) -> Option<&'c clap::Arg> {
    let snake = key.replace('-', "_");
    command
        .get_arguments()
        .filter(|a| !matches!(a.get_id().as_str(), "help" | "version"))
        .find(|a| a.get_id().as_str() == snake || a.get_long() == Some(key))
}

/// Every key a section accepts, as snake_case names.
pub(crate) fn section_keys(command: &clap::Command) -> Vec<String> {
    command
        .get_arguments()
        .map(|a| a.get_id().as_str().to_string())
        .filter(|id| !matches!(id.as_str(), "help" | "version"))
        .filter(|id| !RESERVED_KEYS.contains(&id.as_str()))
        .collect()
}

impl Experiment {
    /// The grid's cells, row-major (one cell when there is no grid).
    pub(crate) fn cells(&self) -> Vec<Cell> {
        let mut cells = vec![Vec::new()];
        for axis in &self.grid {
            let mut next = Vec::with_capacity(cells.len() * axis.values.len());
            for prefix in &cells {
                for value in &axis.values {
                    let mut parameters: Vec<(GridAxis, Value)> = prefix.clone();
                    parameters.push((axis.clone(), value.clone()));
                    next.push(parameters);
                }
            }
            cells = next;
        }
        cells
            .into_iter()
            .enumerate()
            .map(|(index, parameters)| Cell { index, parameters })
            .collect()
    }

    /// Sets the `seed` key of every section whose command has a `--seed` flag (the
    /// run's `--seed`, which overrides the file's).
    pub(crate) fn override_seed(&mut self, seed: u64) {
        let kind = self.kind;
        for (section, table) in &mut self.sections {
            if find_arg(&section_command(kind, section), "seed").is_some() {
                table.remove("seed");
                table.insert("seed".into(), Value::Integer(seed as i64));
            }
        }
    }

    /// The flags of `section` for `cell`: the section's keys with the cell's grid
    /// values in their place.
    fn section_argv(&self, section: &str, cell: &Cell, out: &Path) -> Result<Vec<String>> {
        let command = section_command(self.kind, section);
        let mut values: Vec<(String, Value)> = self
            .sections
            .iter()
            .find(|(s, _)| s == section)
            .map(|(_, t)| {
                t.iter()
                    .map(|(k, v)| (k.replace('-', "_"), v.clone()))
                    .collect()
            })
            .unwrap_or_default();
        for (axis, value) in &cell.parameters {
            if axis.section == section {
                values.retain(|(k, _)| k != &axis.key);
                values.push((axis.key.clone(), value.clone()));
            }
        }
        let mut argv = base_argv(self.kind, section, out);
        for (key, value) in &values {
            let arg = find_arg(&command, key).ok_or_else(|| anyhow!("unknown key {key}"))?;
            argv.extend(arg_values(arg, key, value).map_err(|m| anyhow!(m))?);
        }
        Ok(argv)
    }

    /// Parses `cell` with the commands' flag parsers and checks the ranges; `out` is
    /// the directory the cell writes to.
    pub(crate) fn cell_config(&self, cell: &Cell, out: &Path) -> Result<CellConfig> {
        let parse = |section: &str| -> Result<clap::ArgMatches> {
            let argv = self.section_argv(section, cell, out)?;
            section_command(self.kind, section)
                .try_get_matches_from(argv)
                .map_err(|e| anyhow!("{}: [{section}]: {}", self.path.display(), clap_message(&e)))
        };
        let range_error = |section: &str, key: &str, message: String| {
            let key = key.replace('-', "_");
            let grid_name = format!("{section}.{key}");
            if cell
                .parameters
                .iter()
                .any(|(axis, _)| axis.name() == grid_name)
            {
                let mut error = self.error_at(Some("grid"), &grid_name, message);
                error = error.context(format!("in cell {} ({})", cell.index, cell.label()));
                error
            } else {
                self.error_at(Some(section), &key, message)
            }
        };
        let library_error = |section: &str, error: anyhow::Error| -> anyhow::Error {
            match error.downcast_ref::<plasticity::Error>() {
                Some(plasticity::Error::Config { key, message }) => {
                    range_error(section, key, message.clone())
                }
                _ => error.context(format!("{}: [{section}]", self.path.display())),
            }
        };
        let config = match self.kind {
            Kind::Neural => {
                let task = NeuralSimulateSection::from_arg_matches(&parse("simulate")?)?.task;
                task.task()
                    .validate()
                    .map_err(|e| library_error("simulate", e.into()))?;
                let fit = FitSection::from_arg_matches(&parse("fit")?)?.options;
                check_fit(&fit).map_err(|(k, m)| range_error("fit", k, m))?;
                CellConfig::Neural { task, fit }
            }
            Kind::Behaviour => {
                let task = BehaviourSimulateSection::from_arg_matches(&parse("simulate")?)?.task;
                task.task()
                    .and_then(|t| t.validate().map_err(Into::into))
                    .map_err(|e| library_error("simulate", e))?;
                let fit = FitSection::from_arg_matches(&parse("fit")?)?.options;
                check_fit(&fit).map_err(|(k, m)| range_error("fit", k, m))?;
                crate::flags::behaviour_settings(&fit)
                    .map_err(|e| range_error("fit", "weight_bound", format!("{e:#}")))?;
                CellConfig::Behaviour { task, fit }
            }
            Kind::Table => {
                let args = TableSection::from_arg_matches(&parse("table")?)?.args;
                args.check().map_err(|(k, m)| range_error("table", k, m))?;
                CellConfig::Table(args)
            }
            Kind::Flies => {
                let mut args = FliesSection::from_arg_matches(&parse("flies")?)?.args;
                args.rebase_data_dir(&self.base_dir);
                args.check().map_err(|(k, m)| range_error("flies", k, m))?;
                CellConfig::Flies(args)
            }
            Kind::Circuit => {
                let section = CircuitSimulateSection::from_arg_matches(&parse("simulate")?)?;
                let circuit = self.base_dir.join(&section.circuit);
                section.task.task(&circuit).map_err(|e| {
                    e.context(format!("{}: [simulate] circuit", self.path.display()))
                })?;
                let fit = FitSection::from_arg_matches(&parse("fit")?)?.options;
                check_fit(&fit).map_err(|(k, m)| range_error("fit", k, m))?;
                CellConfig::Circuit {
                    circuit,
                    task: section.task,
                    fit,
                }
            }
            Kind::Scaling => {
                let args = BenchSection::from_arg_matches(&parse("bench")?)?.args;
                args.check().map_err(|(k, m)| range_error("bench", k, m))?;
                CellConfig::Scaling(args)
            }
        };
        Ok(config)
    }

    /// Everything that decides a cell's result, as text: its flags, section by section
    /// (a checkpoint is only resumed by the cell it was taken in).
    pub(crate) fn cell_fingerprint(&self, cell: &Cell) -> Result<String> {
        let mut parts = Vec::new();
        for &section in self.kind.sections() {
            parts.push(self.section_argv(section, cell, Path::new("."))?.join(" "));
        }
        Ok(format!("{} | {}", plasticity::VERSION, parts.join(" | ")))
    }

    /// The seeds of the sections (`section.seed`: value, grid values included).
    pub(crate) fn seeds(&self) -> serde_json::Value {
        let mut seeds = serde_json::Map::new();
        for cell in self.cells() {
            for &section in self.kind.sections() {
                let Ok(argv) = self.section_argv(section, &cell, Path::new(".")) else {
                    continue;
                };
                let Ok(matches) = section_command(self.kind, section).try_get_matches_from(argv)
                else {
                    continue;
                };
                for id in ["seed", "input_seed"] {
                    if let Ok(Some(raw)) = matches.try_get_raw(id) {
                        let values: Vec<String> =
                            raw.map(|v| v.to_string_lossy().to_string()).collect();
                        let key = format!("{section}.{id}");
                        let entry = seeds
                            .entry(key)
                            .or_insert_with(|| serde_json::Value::Array(Vec::new()));
                        if let serde_json::Value::Array(list) = entry {
                            for v in values {
                                let v = typed_json(&v);
                                if !list.contains(&v) {
                                    list.push(v);
                                }
                            }
                        }
                    }
                }
            }
        }
        serde_json::Value::Object(seeds)
    }
}

/// `path:line: key `section.key`: message` (the line when the key can be found).
fn located_error(
    path: &Path,
    source: &str,
    section: Option<&str>,
    key: &str,
    message: impl std::fmt::Display,
) -> anyhow::Error {
    let line = key_line(source, section, key)
        .or_else(|| section.and_then(|s| key_line(source, Some(s), "")));
    let name = match section {
        Some(section) if section != "grid" => format!("{section}.{key}"),
        Some(_) => format!("grid.\"{key}\""),
        None => key.to_string(),
    };
    match line {
        Some(line) => anyhow!("{}:{line}: key `{name}`: {message}", path.display()),
        None => anyhow!("{}: key `{name}`: {message}", path.display()),
    }
}

fn typed_json(text: &str) -> serde_json::Value {
    match text.parse::<u64>() {
        Ok(v) => serde_json::json!(v),
        Err(_) => serde_json::json!(text),
    }
}

/// A flag value read back as TOML: integer, number, boolean or string.
fn typed_value(text: &str) -> Value {
    if let Ok(i) = text.parse::<i64>() {
        return Value::Integer(i);
    }
    if let Ok(f) = text.parse::<f64>() {
        if f.is_finite() {
            return Value::Float(f);
        }
    }
    match text {
        "true" => Value::Boolean(true),
        "false" => Value::Boolean(false),
        _ => Value::String(text.to_string()),
    }
}

/// The flags that set `arg` to `value`, or what is wrong with the value's type.
fn arg_values(
    arg: &clap::Arg,
    key: &str,
    value: &Value,
) -> std::result::Result<Vec<String>, String> {
    let flag = arg.get_long().map(|long| format!("--{long}"));
    if matches!(arg.get_action(), ArgAction::SetTrue) {
        return match value {
            Value::Boolean(true) => Ok(flag.into_iter().collect()),
            Value::Boolean(false) => Ok(Vec::new()),
            other => Err(format!("expected true or false, got {}", type_name(other))),
        };
    }
    let multiple = arg.get_value_delimiter().is_some()
        || arg.get_num_args().is_some_and(|r| r.max_values() > 1);
    let items: Vec<&Value> = match value {
        Value::Array(items) if multiple => {
            if items.is_empty() {
                return Err("expected at least one value".into());
            }
            items.iter().collect()
        }
        Value::Array(_) => return Err(format!("`{key}` takes one value, got an array")),
        Value::Table(_) | Value::Datetime(_) => {
            return Err(format!("expected a value, got {}", type_name(value)))
        }
        Value::Boolean(_) => return Err("expected a value, got a boolean".to_string()),
        single => vec![single],
    };
    let mut argv = Vec::new();
    for item in items {
        if matches!(
            item,
            Value::Array(_) | Value::Table(_) | Value::Datetime(_) | Value::Boolean(_)
        ) {
            return Err(format!("expected values, got {}", type_name(item)));
        }
        match &flag {
            Some(flag) => {
                argv.push(flag.clone());
                argv.push(value_text(item));
            }
            None => argv.push(value_text(item)),
        }
    }
    Ok(argv)
}

/// The program name and the flags `plasticity run` sets itself for `section`.
fn base_argv(kind: Kind, section: &str, out: &Path) -> Vec<String> {
    let mut argv = vec![format!("plasticity {section}")];
    match (kind, section) {
        (Kind::Table, "table") | (Kind::Flies, "flies") => {
            argv.push("--out".into());
            argv.push(out.display().to_string());
        }
        _ => {}
    }
    argv
}

/// A clap error as one line, without the `error:` prefix and the help hint.
fn clap_message(error: &clap::Error) -> String {
    let text = error.to_string();
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("For more information"))
        .collect();
    let joined = lines.join(" ");
    joined
        .strip_prefix("error: ")
        .unwrap_or(&joined)
        .replace("'--", "'")
}

#[cfg(test)]
mod fuzz_tests;
mod parse;
mod resolved;

#[cfg(test)]
mod tests;
