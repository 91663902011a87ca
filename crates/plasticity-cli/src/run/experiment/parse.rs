//! Reading an experiment file: its TOML, top-level keys, [slurm] and [grid], and a
//! check of every key of every section.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use toml::{Table, Value};

use super::*;

impl Experiment {
    /// Reads and checks `path`.
    pub(crate) fn load(path: &Path) -> Result<Experiment> {
        let size = std::fs::metadata(path)
            .with_context(|| format!("reading experiment file {}", path.display()))?
            .len();
        if size > MAX_EXPERIMENT_FILE_BYTES {
            return Err(anyhow!(
                "{}: the file is {size} bytes, more than the limit of {MAX_EXPERIMENT_FILE_BYTES} bytes for an experiment file",
                path.display()
            ));
        }
        let bytes = std::fs::read(path)
            .with_context(|| format!("reading experiment file {}", path.display()))?;
        let source = String::from_utf8(bytes).map_err(|e| {
            anyhow!(
                "{}: not UTF-8 text: invalid byte at offset {}",
                path.display(),
                e.utf8_error().valid_up_to()
            )
        })?;
        let base = path
            .parent()
            .map(Path::to_path_buf)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."));
        Experiment::parse_with_base(path, &source, &base)
    }

    /// An error at `key` of `[section]` (a top-level key when `section` is None).
    pub(super) fn error_at(
        &self,
        section: Option<&str>,
        key: &str,
        message: impl std::fmt::Display,
    ) -> anyhow::Error {
        located_error(&self.path, &self.source, section, key, message)
    }

    /// Parses and checks an experiment file's text; relative paths in it are read from
    /// `base_dir`.
    pub(crate) fn parse_with_base(
        path: &Path,
        source: &str,
        base_dir: &Path,
    ) -> Result<Experiment> {
        let document: Table = source.parse::<Table>().map_err(|e| {
            anyhow!(
                "{}: not valid TOML: {}",
                path.display(),
                e.to_string().trim_end()
            )
        })?;
        let kind = Experiment::parse_kind(path, source, &document)?;
        let mut experiment = Experiment {
            path: path.to_path_buf(),
            base_dir: base_dir.to_path_buf(),
            source: source.to_string(),
            kind,
            title: String::new(),
            description: String::new(),
            save_data: false,
            checkpoint_interval: 60.0,
            parallel_cells: kind != Kind::Scaling,
            sections: Vec::new(),
            grid: Vec::new(),
            slurm: SlurmSettings {
                cpus_per_task: 2,
                ..SlurmSettings::default()
            },
        };
        for (key, value) in &document {
            let key = key.as_str();
            if kind.sections().contains(&key) {
                let Value::Table(table) = value else {
                    return Err(experiment.error_at(
                        None,
                        key,
                        format!("expected a table [{key}], got {}", type_name(value)),
                    ));
                };
                experiment.sections.push((key.to_string(), table.clone()));
                continue;
            }
            experiment.read_top_level_key(key, value)?;
        }
        experiment.read_tables(&document)?;
        Ok(experiment)
    }

    /// The experiment's `kind`.
    pub(super) fn parse_kind(path: &Path, source: &str, document: &Table) -> Result<Kind> {
        let kind_value = document.get("kind").ok_or_else(|| {
            anyhow!(
                "{}: the key `kind` is missing (one of neural, behaviour, table, flies, scaling)",
                path.display()
            )
        })?;
        kind_value.as_str().and_then(Kind::parse).ok_or_else(|| {
            located_error(
                path,
                source,
                None,
                "kind",
                format!(
                    "expected one of \"neural\", \"behaviour\", \"table\", \"flies\", \"scaling\", got {kind_value}"
                ),
            )
        })
    }

    /// A top-level key other than a section's table: title, description, save_data,
    /// parallel_cells, checkpoint_interval (grid and slurm are read with the tables).
    pub(super) fn read_top_level_key(&mut self, key: &str, value: &Value) -> Result<()> {
        let kind = self.kind;
        let at = |section: Option<&str>, key: &str, message: String| {
            located_error(&self.path, &self.source, section, key, message)
        };
        {
            match key {
                "kind" => {}
                "title" | "description" => {
                    let text = value.as_str().ok_or_else(|| {
                        at(
                            None,
                            key,
                            format!("expected a string, got {}", type_name(value)),
                        )
                    })?;
                    if key == "title" {
                        self.title = text.to_string();
                    } else {
                        self.description = text.to_string();
                    }
                }
                "save_data" | "parallel_cells" => {
                    let flag = value.as_bool().ok_or_else(|| {
                        at(
                            None,
                            key,
                            format!("expected true or false, got {}", type_name(value)),
                        )
                    })?;
                    if key == "save_data" {
                        self.save_data = flag;
                    } else {
                        self.parallel_cells = flag;
                    }
                }
                "checkpoint_interval" => {
                    let seconds = match value {
                        Value::Integer(i) => *i as f64,
                        Value::Float(f) => *f,
                        _ => {
                            return Err(at(
                                None,
                                key,
                                format!("expected a number of seconds, got {}", type_name(value)),
                            ))
                        }
                    };
                    if !(seconds.is_finite() && seconds >= 0.0) {
                        return Err(at(
                            None,
                            key,
                            format!("must be a number of seconds ≥ 0, got {seconds}"),
                        ));
                    }
                    self.checkpoint_interval = seconds;
                }
                "grid" if kind.has_grid() => {}
                "slurm" => {}
                "simulate" | "fit" | "table" | "flies" | "bench" | "grid" => {
                    return Err(at(
                        None,
                        key,
                        format!(
                            "a \"{}\" experiment has no [{key}] table (it reads {})",
                            kind.name(),
                            kind.sections()
                                .iter()
                                .map(|s| format!("[{s}]"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ))
                }
                _ => {
                    let mut known: Vec<String> =
                        TOP_LEVEL_KEYS.iter().map(|k| k.to_string()).collect();
                    known.extend(kind.sections().iter().map(|s| format!("[{s}]")));
                    if kind.has_grid() {
                        known.push("[grid]".into());
                    }
                    known.push("[slurm]".into());
                    return Err(at(
                        None,
                        key,
                        format!("unknown key; known: {}", known.join(", ")),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The sections not given (empty), [slurm] and [grid]; then every key of every
    /// section is checked, and every cell parsed whole.
    pub(super) fn read_tables(&mut self, document: &Table) -> Result<()> {
        let kind = self.kind;
        let experiment = self;
        for &section in kind.sections() {
            if !experiment.sections.iter().any(|(s, _)| s == section) {
                experiment
                    .sections
                    .push((section.to_string(), Table::new()));
            }
        }
        if let Some(value) = document.get("slurm") {
            experiment.slurm = experiment.parse_slurm(value)?;
        }
        if let Some(value) = document.get("grid") {
            experiment.grid = experiment.parse_grid(value)?;
        }
        // every key of every section: known, of the right type, parseable alone
        for (section, table) in &experiment.sections {
            let command = section_command(kind, section);
            for (key, value) in table {
                experiment.check_key(&command, section, key, value, None)?;
            }
        }
        // the whole of every cell: parsed together and range-checked
        for cell in experiment.cells() {
            experiment.cell_config(&cell, Path::new("."))?;
        }
        Ok(())
    }

    pub(super) fn parse_slurm(&self, value: &Value) -> Result<SlurmSettings> {
        let Value::Table(table) = value else {
            return Err(self.error_at(
                None,
                "slurm",
                format!("expected a table [slurm], got {}", type_name(value)),
            ));
        };
        let mut settings = self.slurm.clone();
        for (key, value) in table {
            let at = |message: String| self.error_at(Some("slurm"), key, message);
            match key.replace('-', "_").as_str() {
                "options" => {
                    let items = value.as_array().ok_or_else(|| {
                        at(format!(
                            "expected an array of strings such as [\"--mem=4G\"], got {}",
                            type_name(value)
                        ))
                    })?;
                    settings.options = items
                        .iter()
                        .map(|item| {
                            item.as_str().map(str::to_string).ok_or_else(|| {
                                at(format!("expected strings, got {}", type_name(item)))
                            })
                        })
                        .collect::<Result<_>>()?;
                }
                "cpus_per_task" | "max_parallel" => {
                    let number = value.as_integer().ok_or_else(|| {
                        at(format!("expected an integer, got {}", type_name(value)))
                    })?;
                    if !(1..=1_000_000).contains(&number) {
                        return Err(at(format!("must be at least 1, got {number}")));
                    }
                    if key.starts_with("cpus") {
                        settings.cpus_per_task = number as u32;
                    } else {
                        settings.max_parallel = Some(number as u32);
                    }
                }
                "time" | "partition" => {
                    let text = value
                        .as_str()
                        .ok_or_else(|| at(format!("expected a string, got {}", type_name(value))))?
                        .to_string();
                    if key == "time" {
                        settings.time = Some(text);
                    } else {
                        settings.partition = Some(text);
                    }
                }
                _ => {
                    return Err(at(format!("unknown key; known: {}", SLURM_KEYS.join(", "))));
                }
            }
        }
        Ok(settings)
    }

    pub(super) fn parse_grid(&self, value: &Value) -> Result<Vec<GridAxis>> {
        let Value::Table(table) = value else {
            return Err(self.error_at(
                None,
                "grid",
                format!("expected a table [grid], got {}", type_name(value)),
            ));
        };
        let mut axes = Vec::new();
        let mut cells = 1usize;
        for (name, values) in table {
            let at = |message: String| self.error_at(Some("grid"), name, message);
            let Some((section, key)) = name.split_once('.') else {
                return Err(at(format!(
                    "a grid key names a section and a key, such as \"simulate.noise_std\"; sections: {}",
                    self.kind.sections().join(", ")
                )));
            };
            if !self.kind.sections().contains(&section) {
                return Err(at(format!(
                    "no section [{section}] in a \"{}\" experiment (it has {})",
                    self.kind.name(),
                    self.kind.sections().join(", ")
                )));
            }
            let Value::Array(items) = values else {
                return Err(at(format!(
                    "expected an array of values, got {}",
                    type_name(values)
                )));
            };
            if items.is_empty() {
                return Err(at("the array of values is empty".into()));
            }
            cells = cells.saturating_mul(items.len());
            if cells > MAX_CELLS {
                return Err(at(format!(
                    "the grid has more than {MAX_CELLS} cells (the product of its arrays' lengths, {} so far); split the experiment",
                    if cells == usize::MAX { "overflowing".to_string() } else { cells.to_string() }
                )));
            }
            let command = section_command(self.kind, section);
            for item in items {
                self.check_key(&command, section, key, item, Some(name))?;
            }
            axes.push(GridAxis {
                section: section.to_string(),
                key: key.replace('-', "_"),
                values: items.clone(),
            });
        }
        Ok(axes)
    }

    /// Checks that `key` is a flag of `command` and that `value` (alone) parses as it;
    /// errors point at the key's line (in [grid] when `grid_name` is given).
    pub(super) fn check_key(
        &self,
        command: &clap::Command,
        section: &str,
        key: &str,
        value: &Value,
        grid_name: Option<&str>,
    ) -> Result<()> {
        let (at_section, at_key) = match grid_name {
            Some(name) => ("grid", name),
            None => (section, key),
        };
        let at = |message: String| self.error_at(Some(at_section), at_key, message);
        if RESERVED_KEYS.contains(&key) {
            return Err(at(format!(
                "`{key}` is set by `plasticity run` (the run directory); remove it"
            )));
        }
        let Some(arg) = find_arg(command, key) else {
            return Err(at(format!(
                "unknown key in [{section}]; known: {}",
                section_keys(command).join(", ")
            )));
        };
        let argv = arg_values(arg, key, value).map_err(at)?;
        let mut full = base_argv(self.kind, section, Path::new("."));
        full.extend(argv);
        if let Err(error) = command.clone().try_get_matches_from(full) {
            // a required argument set by another key is checked with the whole cell
            if error.kind() != clap::error::ErrorKind::MissingRequiredArgument {
                return Err(at(clap_message(&error)));
            }
        }
        Ok(())
    }
}
