//! `resolved.toml`: an experiment with every key that applies to its kind written out,
//! defaults included, and paths relative to the file's own directory, so that it runs
//! as it is from wherever it lies.

use std::path::{Component, Path, PathBuf};

use anyhow::Result;
use clap::ArgAction;
use toml::{Table, Value};

use super::*;

/// Fit keys of the circuit engine only (staged horizons, preconditioning, fitted W₀).
const CIRCUIT_FIT_KEYS: [&str; 5] = [
    "horizon_stages",
    "stage_epochs",
    "precondition_trajectories",
    "initial_weights_epochs",
    "stage_tolerance",
];

/// Fit keys of behaviour fits only.
const BEHAVIOUR_FIT_KEYS: [&str; 4] = ["weight_bound", "inputs", "input_seed", "eval_sessions"];

/// Fit keys of neural and circuit recordings only (behaviour fits run Adam or L-BFGS
/// with the default line search, evaluated on fresh sessions).
const RECORDING_FIT_KEYS: [&str; 3] = ["eval_trajectories", "line_search", "solver"];

/// Fit keys that apply to no experiment: online fits stream a file (`fit --online`,
/// refused in experiment files), and the memory budget chooses a gradient for a file,
/// while an experiment's data are in memory.
const FILE_FIT_KEYS: [&str; 4] = [
    "online",
    "update_every",
    "online_decay_after",
    "memory_budget",
];

/// Fit keys of single-population rules, which a circuit file defines itself.
const RULE_FIT_KEYS: [&str; 3] = ["rule_family", "trainable", "hidden"];

/// Whether `key` of `section` applies to an experiment of `kind`.
pub(crate) fn key_applies(kind: Kind, section: &str, key: &str) -> bool {
    let fit_section = match (kind, section) {
        (Kind::Neural | Kind::Behaviour | Kind::Circuit, "fit") => true,
        // the table's fits are behaviour fits
        (Kind::Table, "table") => true,
        _ => false,
    };
    if !fit_section {
        return true;
    }
    let excluded: &[&[&str]] = match kind {
        Kind::Neural => &[&CIRCUIT_FIT_KEYS, &BEHAVIOUR_FIT_KEYS, &FILE_FIT_KEYS],
        Kind::Behaviour | Kind::Table => &[&CIRCUIT_FIT_KEYS, &RECORDING_FIT_KEYS, &FILE_FIT_KEYS],
        Kind::Circuit => &[&BEHAVIOUR_FIT_KEYS, &FILE_FIT_KEYS, &RULE_FIT_KEYS],
        _ => &[],
    };
    !excluded.iter().any(|keys| keys.contains(&key))
}

/// Keys whose value is a path, read relative to the experiment file.
fn is_path_key(kind: Kind, section: &str, key: &str) -> bool {
    matches!(
        (kind, section, key),
        (Kind::Flies, "flies", "data_dir") | (Kind::Circuit, "simulate", "circuit")
    )
}

/// `target` relative to the directory `from` (both made absolute first; symbolic links
/// resolved where they exist), or `target` made absolute when no relative path leads
/// there (another drive).
pub(crate) fn relative_path(from: &Path, target: &Path) -> PathBuf {
    let absolute = |p: &Path| {
        p.canonicalize()
            .or_else(|_| std::path::absolute(p))
            .unwrap_or_else(|_| p.to_path_buf())
    };
    let (from, target) = (absolute(from), absolute(target));
    let from_parts: Vec<Component> = from.components().collect();
    let target_parts: Vec<Component> = target.components().collect();
    if from_parts.first() != target_parts.first() {
        return target;
    }
    let common = from_parts
        .iter()
        .zip(&target_parts)
        .take_while(|(a, b)| a == b)
        .count();
    let mut path = PathBuf::new();
    for _ in common..from_parts.len() {
        path.push("..");
    }
    for part in &target_parts[common..] {
        path.push(part);
    }
    if path.as_os_str().is_empty() {
        path.push(".");
    }
    path
}

/// `# key: not set (help)`, the line that lists a key left at a default of "none".
fn unset_line(key: &str, arg: &clap::Arg) -> String {
    let help = arg
        .get_help()
        .map(|h| {
            h.to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    if help.is_empty() {
        format!("# {key}: not set\n")
    } else {
        format!("# {key}: not set ({help})\n")
    }
}

impl Experiment {
    /// A path value of the file (relative to its directory) as a path relative to
    /// `dir`, where `resolved.toml` is written.
    fn rebased(&self, value: &Value, dir: &Path) -> Value {
        match value {
            Value::String(text) => {
                let path = Path::new(text);
                let target = if path.is_relative() {
                    self.base_dir.join(path)
                } else {
                    path.to_path_buf()
                };
                Value::String(relative_path(dir, &target).display().to_string())
            }
            other => other.clone(),
        }
    }

    /// The experiment with every key that applies to its kind written out, defaults
    /// included: what actually runs (`resolved.toml` of a run directory, written into
    /// `dir`). A key whose default is "none" (an optional flag not given) is listed as
    /// a comment; keys of other kinds of experiment (behaviour keys in a neural
    /// experiment, say) are left out; paths are relative to `dir`. The file runs as it
    /// is, to the same result.
    pub(crate) fn resolved_toml(&self, dir: &Path) -> Result<String> {
        let mut top = Table::new();
        top.insert("kind".into(), Value::String(self.kind.name().into()));
        top.insert("title".into(), Value::String(self.title.clone()));
        top.insert(
            "description".into(),
            Value::String(self.description.clone()),
        );
        top.insert("save_data".into(), Value::Boolean(self.save_data));
        top.insert(
            "checkpoint_interval".into(),
            Value::Float(self.checkpoint_interval),
        );
        top.insert("parallel_cells".into(), Value::Boolean(self.parallel_cells));
        let mut text = toml::to_string(&top)?;
        for &section in self.kind.sections() {
            text.push_str(&self.resolved_section(section, dir)?);
        }
        text.push_str(&self.resolved_grid(dir)?);
        text.push_str(&self.resolved_slurm()?);
        Ok(text)
    }

    /// One `[section]` of `resolved.toml`: every key that applies to this kind, the
    /// unset optional ones as comments, paths relative to `dir`.
    fn resolved_section(&self, section: &str, dir: &Path) -> Result<String> {
        let first = Cell {
            index: 0,
            parameters: Vec::new(),
        };
        let command = section_command(self.kind, section);
        let argv = self.section_argv(section, &first, Path::new("."))?;
        let matches = command.clone().try_get_matches_from(argv)?;
        let mut table = Table::new();
        let mut unset = String::new();
        for arg in command.get_arguments() {
            let id = arg.get_id().as_str();
            if matches!(id, "help" | "version")
                || RESERVED_KEYS.contains(&id)
                || !key_applies(self.kind, section, id)
            {
                continue;
            }
            if matches!(arg.get_action(), ArgAction::SetTrue) {
                table.insert(id.into(), Value::Boolean(matches.get_flag(id)));
                continue;
            }
            let Some(raw) = matches.get_raw(id) else {
                unset.push_str(&unset_line(id, arg));
                continue;
            };
            let values: Vec<Value> = raw.map(|v| typed_value(&v.to_string_lossy())).collect();
            let multiple = arg.get_value_delimiter().is_some()
                || arg.get_num_args().is_some_and(|r| r.max_values() > 1);
            let value = if multiple {
                Value::Array(values)
            } else {
                values
                    .into_iter()
                    .next()
                    .unwrap_or(Value::String(String::new()))
            };
            let value = if is_path_key(self.kind, section, id) {
                self.rebased(&value, dir)
            } else {
                value
            };
            table.insert(id.into(), value);
        }
        Ok(format!(
            "\n[{section}]\n{}{unset}",
            toml::to_string(&table)?
        ))
    }

    /// The `[grid]` of `resolved.toml` (nothing without a grid), paths relative to `dir`.
    fn resolved_grid(&self, dir: &Path) -> Result<String> {
        if !self.grid.is_empty() {
            let grid: Table = self
                .grid
                .iter()
                .map(|axis| {
                    let values = axis
                        .values
                        .iter()
                        .map(|v| {
                            if is_path_key(self.kind, &axis.section, &axis.key) {
                                self.rebased(v, dir)
                            } else {
                                v.clone()
                            }
                        })
                        .collect();
                    (axis.name(), Value::Array(values))
                })
                .collect();
            return Ok(format!("\n[grid]\n{}", toml::to_string(&grid)?));
        }
        Ok(String::new())
    }

    /// The `[slurm]` section of `resolved.toml`, unset options as comments.
    fn resolved_slurm(&self) -> Result<String> {
        let mut slurm = Table::new();
        let mut unset = String::new();
        slurm.insert(
            "options".into(),
            Value::Array(
                self.slurm
                    .options
                    .iter()
                    .cloned()
                    .map(Value::String)
                    .collect(),
            ),
        );
        slurm.insert(
            "cpus_per_task".into(),
            Value::Integer(i64::from(self.slurm.cpus_per_task)),
        );
        match &self.slurm.time {
            Some(time) => {
                slurm.insert("time".into(), Value::String(time.clone()));
            }
            None => unset.push_str("# time: not set (Slurm's default time limit)\n"),
        }
        match &self.slurm.partition {
            Some(partition) => {
                slurm.insert("partition".into(), Value::String(partition.clone()));
            }
            None => unset.push_str("# partition: not set (Slurm's default partition)\n"),
        }
        match self.slurm.max_parallel {
            Some(max) => {
                slurm.insert("max_parallel".into(), Value::Integer(i64::from(max)));
            }
            None => unset.push_str("# max_parallel: not set (no limit on cells at once)\n"),
        }
        Ok(format!("\n[slurm]\n{}{unset}", toml::to_string(&slurm)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes the resolved form of `path` into `dir`, reads it back, and returns its
    /// text and the experiment read back.
    fn resolve(path: &Path, dir: &Path) -> (String, Experiment) {
        let experiment = Experiment::load(path).expect("the experiment reads");
        let text = experiment.resolved_toml(dir).expect("resolved");
        let file = dir.join("resolved.toml");
        std::fs::write(&file, &text).expect("written");
        let back = Experiment::load(&file)
            .unwrap_or_else(|e| panic!("resolved.toml does not read back: {e:#}\n{text}"));
        (text, back)
    }

    fn repository_file(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(name)
    }

    /// The keys (set or listed as not set) of `[section]` in a resolved file.
    fn keys_of(text: &str, section: &str) -> Vec<String> {
        let mut keys = Vec::new();
        let mut current = String::new();
        for line in text.lines() {
            if let Some(name) = line.strip_prefix('[') {
                current = name.trim_end_matches(']').to_string();
            } else if current == section {
                let line = line.trim_start_matches("# ");
                if let Some(key) = line.split([' ', ':', '=']).next().filter(|k| !k.is_empty()) {
                    keys.push(key.to_string());
                }
            }
        }
        keys
    }

    #[test]
    fn a_neural_resolved_file_has_the_neural_keys_and_only_those() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (text, back) = resolve(&repository_file("experiments/oja.toml"), dir.path());
        let fit = keys_of(&text, "fit");
        for key in ["l1", "l2", "optimizer", "solver", "line_search", "epochs"] {
            assert!(fit.contains(&key.to_string()), "{key} missing:\n{text}");
        }
        assert!(text.contains("# l1: not set ("), "{text}");
        for key in BEHAVIOUR_FIT_KEYS.iter().chain(&CIRCUIT_FIT_KEYS) {
            assert!(!fit.contains(&key.to_string()), "{key} listed:\n{text}");
        }
        // input_std of the simulation has no default value either
        assert!(keys_of(&text, "simulate").contains(&"input_std".to_string()));
        // what it runs is what the original runs
        let original = Experiment::load(&repository_file("experiments/oja.toml")).unwrap();
        let cell = &original.cells()[0];
        assert_eq!(
            format!("{:?}", original.cell_config(cell, Path::new("o")).unwrap()),
            format!("{:?}", back.cell_config(cell, Path::new("o")).unwrap())
        );
    }

    #[test]
    fn a_behaviour_resolved_file_has_no_recording_or_circuit_keys() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (text, _) = resolve(&repository_file("experiments/reward_xr.toml"), dir.path());
        let fit = keys_of(&text, "fit");
        for key in [
            "weight_bound",
            "inputs",
            "input_seed",
            "eval_sessions",
            "l1",
        ] {
            assert!(fit.contains(&key.to_string()), "{key} missing:\n{text}");
        }
        for key in CIRCUIT_FIT_KEYS.iter().chain(&RECORDING_FIT_KEYS) {
            assert!(!fit.contains(&key.to_string()), "{key} listed:\n{text}");
        }
    }

    #[test]
    fn the_flies_data_directory_is_relative_to_the_resolved_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let runs = dir.path().join("runs/flies");
        std::fs::create_dir_all(&runs).unwrap();
        let (text, back) = resolve(&repository_file("experiments/flies.toml"), &runs);
        let CellConfig::Flies(args) = back
            .cell_config(&back.cells()[0], Path::new("o"))
            .expect("the resolved file's cell")
        else {
            panic!("not a flies experiment");
        };
        assert_eq!(
            args.data_dir.canonicalize().unwrap(),
            repository_file("data/flies").canonicalize().unwrap(),
            "{text}"
        );
    }

    #[test]
    fn relative_paths_climb_out_of_the_directory() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (a, b) = (dir.path().join("a/b"), dir.path().join("c"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        assert_eq!(relative_path(&a, &b), Path::new("../../c"));
        assert_eq!(relative_path(&b, &b), Path::new("."));
    }
}
