//! One cell of a run: its simulation and fit (or the command it runs), and the files
//! it writes into its directory.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::journal::load_checkpoint;
use crate::output::quiet;
use anyhow::{bail, Context, Result};
use indicatif::MultiProgress;
use serde_json::{json, Map, Value};

use plasticity::analysis::metrics::{neural_weight_trajectories, WeightTrajectories};
use plasticity::fit::{FitOutcome, StopReason};
use plasticity::pipeline::behaviour::{behaviour_weight_trajectories, circuit_of, fit_behaviour};
use plasticity::pipeline::neural::{fit_neural, fresh_trajectories, generating_theta};
use plasticity::report::{
    behaviour_results, fitted_parameters_csv, neural_results, write_json, write_text,
};
use plasticity::rule::{term_names, PlasticityRule, Rule, TaylorRule, Variables};

use super::experiment::{Cell, CellConfig, Experiment, Kind};

use super::observer::CheckpointingObserver;
use super::{cell_dir, CellCommands, CellOutcome};
use crate::flags::{BenchArgs, CircuitTaskFlags, FitOptions, TaskArgs, TaskFlags};
use plasticity::data::CircuitDataset;
use plasticity::pipeline::circuit::CircuitFit;

/// Runs one cell into its directory; its `result.json` is written last (atomically),
/// so a cell with one is complete.
pub(super) fn run_cell(
    experiment: &Experiment,
    run_dir: &Path,
    cell: &Cell,
    resume: bool,
    multi: &MultiProgress,
    commands: &CellCommands,
) -> Result<CellOutcome> {
    let dir = cell_dir(run_dir, cell);
    // one writer per cell: a Slurm array task, or a cell of a local run
    let _lock = crate::run_lock::lock_dir(&dir, &format!("cell {}", cell.index), quiet())?;
    if dir.join("result.json").is_file() {
        if resume {
            return Ok(CellOutcome::AlreadyDone);
        }
        bail!("{} is already done; use --resume to keep it", dir.display());
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    tracing::info!(cell = cell.index, label = %cell.label(), "cell started");
    let start = Instant::now();
    let config = experiment.cell_config(
        cell,
        &match experiment.kind {
            Kind::Table | Kind::Flies => run_dir.to_path_buf(),
            _ => dir.clone(),
        },
    )?;
    let fingerprint = experiment.cell_fingerprint(cell)?;
    let mut result = Map::new();
    result.insert("cell".into(), json!(cell.index));
    result.insert("label".into(), json!(cell.label()));
    result.insert(
        "parameters".into(),
        Value::Object(
            cell.parameters
                .iter()
                .map(|(axis, value)| (axis.name(), toml_to_json(value)))
                .collect(),
        ),
    );
    let context = CellContext {
        experiment,
        dir,
        cell,
        fingerprint,
        resume,
        multi,
        start,
    };
    let row = match config {
        CellConfig::Neural { task, fit } => context.neural(&task, &fit, &mut result)?,
        CellConfig::Behaviour { task, fit } => context.behaviour(&task, &fit, &mut result)?,
        CellConfig::Circuit { circuit, task, fit } => {
            context.circuit(&circuit, &task, &fit, &mut result)?
        }
        CellConfig::Table(mut args) => {
            args.resume = resume;
            (commands.table)(&args)?;
            Map::new()
        }
        CellConfig::Flies(mut args) => {
            args.resume = resume;
            (commands.flies)(&args)?;
            Map::new()
        }
        CellConfig::Scaling(args) => context.scaling(&args, &mut result)?,
    };
    let dir = &context.dir;
    result.insert("row".into(), Value::Object(row));
    result.insert("seconds".into(), json!(start.elapsed().as_secs_f64()));
    result.insert("version".into(), json!(plasticity::VERSION));
    write_json(&dir.join("result.json"), &Value::Object(result))?;
    let _ = std::fs::remove_file(dir.join("checkpoint.json"));
    tracing::info!(
        cell = cell.index,
        seconds = start.elapsed().as_secs_f64(),
        "cell done"
    );
    Ok(CellOutcome::Done)
}

/// A running cell: its experiment, its directory, the fingerprint of its checkpoint,
/// whether to resume, the progress display and when it started.
struct CellContext<'a> {
    experiment: &'a Experiment,
    dir: PathBuf,
    cell: &'a Cell,
    fingerprint: String,
    resume: bool,
    multi: &'a MultiProgress,
    start: Instant,
}

impl CellContext<'_> {
    /// The observer of the cell's fit of `epochs` epochs.
    fn observer(&self, epochs: usize) -> CheckpointingObserver<'_> {
        CheckpointingObserver::new(
            self.experiment,
            &self.dir,
            &self.fingerprint,
            self.cell,
            self.multi,
            epochs,
        )
    }

    /// A neural cell: simulate, fit, write the fit's files; the row of table.csv.
    fn neural(
        &self,
        task: &TaskArgs,
        fit: &FitOptions,
        result: &mut Map<String, Value>,
    ) -> Result<Map<String, Value>> {
        let dataset = task.task().simulate().context("simulating the dataset")?;
        let data_path = kept_data(self.experiment, &self.dir, |path| dataset.save(path))?;
        if fit.online {
            bail!("fit.online: online fits run with `plasticity fit --online`, not in experiment files");
        }
        let mut settings = fit.settings();
        settings.fit.resume = load_checkpoint(&self.dir, &self.fingerprint, self.resume)?;
        let observer = self.observer(settings.fit.epochs);
        let outcome = observer.follow(|o| fit_neural(&dataset, &settings, o))?;
        let seconds = self.start.elapsed().as_secs_f64();
        let generating = generating_theta(&dataset)?;
        let weights = match &generating {
            Some(true_theta) => Some(neural_weight_trajectories(
                &TaylorRule::new(Variables::Xyw),
                true_theta,
                &outcome.rule,
                &outcome.outcome.theta,
                &fresh_trajectories(&dataset, 1, settings.fit.seed),
                4,
            )?),
            None => None,
        };
        let mut row = write_fit_files(
            &self.dir,
            result,
            &outcome.rule,
            &outcome.outcome,
            generating.as_deref(),
            &outcome.identifiability,
            weights.as_ref(),
        )?;
        result.insert(
            "results".into(),
            neural_results(&outcome, &settings, &data_path, &dataset, seconds),
        );
        let metrics = &outcome.metrics;
        row.insert("r2_weights".into(), json!(metrics.r2_weights));
        row.insert("r2_activity".into(), json!(metrics.r2_activity));
        row.insert(
            "loss_at_generating_rule".into(),
            json!(metrics.loss_at_generating_rule),
        );
        append_theta(&mut row, &outcome.rule, &outcome.outcome.theta);
        Ok(row)
    }

    /// A behaviour cell: simulate the sessions, fit, write the fit's files; the row.
    fn behaviour(
        &self,
        task: &TaskFlags,
        fit: &FitOptions,
        result: &mut Map<String, Value>,
    ) -> Result<Map<String, Value>> {
        let task = task.task()?;
        let dataset = task.simulate().context("simulating the sessions")?;
        let data_path = kept_data(self.experiment, &self.dir, |path| dataset.save(path))?;
        let mut settings = crate::flags::behaviour_settings(fit)?;
        settings.fit.resume = load_checkpoint(&self.dir, &self.fingerprint, self.resume)?;
        let observer = self.observer(settings.fit.epochs);
        let outcome = observer.follow(|o| fit_behaviour(&dataset, &settings, o))?;
        let seconds = self.start.elapsed().as_secs_f64();
        let generating = plasticity::pipeline::behaviour::generating_theta(&dataset)?;
        let weights = behaviour_weight_trajectories(
            &task,
            &circuit_of(&dataset, settings.weight_bound),
            &outcome.rule,
            &outcome.outcome.theta,
            settings.fit.seed,
            4,
        )?;
        let mut row = write_fit_files(
            &self.dir,
            result,
            &outcome.rule,
            &outcome.outcome,
            generating.as_deref(),
            &outcome.identifiability,
            Some(&weights),
        )?;
        result.insert(
            "results".into(),
            behaviour_results(&outcome, &settings, &data_path, &dataset, seconds),
        );
        let metrics = &outcome.metrics;
        row.insert("percent_deviance".into(), json!(metrics.percent_deviance));
        row.insert("r2_weights".into(), json!(metrics.r2_weights));
        row.insert("r2_activity".into(), json!(metrics.r2_activity));
        append_theta(&mut row, &outcome.rule, &outcome.outcome.theta);
        Ok(row)
    }

    /// A circuit cell: simulate the circuit file's recording, fit, write
    /// coefficients.csv; the row.
    fn circuit(
        &self,
        circuit: &Path,
        task: &CircuitTaskFlags,
        fit: &FitOptions,
        result: &mut Map<String, Value>,
    ) -> Result<Map<String, Value>> {
        let dataset = task
            .task(circuit)?
            .simulate()
            .context("simulating the circuit")?;
        let data_path = kept_data(self.experiment, &self.dir, |path| dataset.save(path))?;
        let mut settings = crate::flags::circuit_settings(fit);
        settings.fit.resume = load_checkpoint(&self.dir, &self.fingerprint, self.resume)?;
        let observer = self.observer(settings.fit.epochs);
        let outcome = observer
            .follow(|o| plasticity::pipeline::circuit::fit_circuit(&dataset, &settings, o))?;
        let seconds = self.start.elapsed().as_secs_f64();
        let results =
            plasticity::report::circuit_results(&outcome, &settings, &data_path, &dataset, seconds);
        let generating = dataset.generating_theta()?;
        write_text(
            &self.dir.join("coefficients.csv"),
            &plasticity::report::circuit_coefficients_csv(
                &dataset,
                &outcome.outcome.theta,
                generating.as_deref(),
            ),
        )?;
        let row = circuit_row(&dataset, &outcome, &results);
        result.insert("results".into(), results);
        Ok(row)
    }

    /// A scaling cell: `bench-kernels` in a child process; the row.
    fn scaling(
        &self,
        args: &BenchArgs,
        result: &mut Map<String, Value>,
    ) -> Result<Map<String, Value>> {
        let json_path = self.dir.join("bench.json");
        let exe = crate::invocation::binary().context("finding the plasticity binary")?;
        let status = std::process::Command::new(&exe)
            .args(args.command_line(&json_path))
            .stdout(std::process::Stdio::null())
            .status()
            .with_context(|| format!("running {}", exe.display()))?;
        if !status.success() {
            bail!("the benchmark failed ({status})");
        }
        let bench: Value = serde_json::from_str(
            &std::fs::read_to_string(&json_path)
                .with_context(|| format!("reading {}", json_path.display()))?,
        )?;
        let mut row = Map::new();
        for key in [
            "steps",
            "n_pre",
            "n_post",
            "oja_forward_f64_s",
            "oja_gradient_f64_s",
        ] {
            row.insert(key.into(), bench[key].clone());
        }
        row.insert(
            "peak_rss_mib".into(),
            json!(bench["peak_rss_bytes"]
                .as_f64()
                .map(|b| b / (1024.0 * 1024.0))),
        );
        result.insert("results".into(), bench);
        Ok(row)
    }
}

/// A circuit cell's row: the recording's noise and recorded fraction, the fit's
/// metrics per projection and rule, and the coefficients.
fn circuit_row(
    dataset: &CircuitDataset,
    outcome: &CircuitFit,
    results: &Value,
) -> Map<String, Value> {
    let mut row = Map::new();
    let metrics = &outcome.metrics;
    // the recording's own noise and recorded fraction, whether or not the grid
    // varies them (the recorded-fraction figure reads these columns)
    let simulated_neurons: usize = dataset
        .network
        .populations()
        .iter()
        .filter(|p| p.is_simulated())
        .map(|p| p.size)
        .sum();
    row.insert(
        "noise_std".into(),
        dataset
            .metadata
            .get("noise_std")
            .cloned()
            .unwrap_or(json!(0.0)),
    );
    row.insert(
        "recorded_fraction".into(),
        json!(dataset.recorded().len() as f64 / simulated_neurons.max(1) as f64),
    );
    row.insert("evaluations".into(), json!(outcome.outcome.evaluations));
    row.insert("final_loss".into(), json!(metrics.final_loss));
    row.insert(
        "loss_at_generating_rule".into(),
        json!(metrics.loss_at_generating_rule),
    );
    for (name, value) in &metrics.r2_weights_by_projection {
        row.insert(format!("r2_weights_{name}"), value.clone());
    }
    for (name, value) in &metrics.r2_weights_latent {
        row.insert(format!("r2_weights_latent_{name}"), value.clone());
    }
    for (name, value) in &metrics.rule_output_error {
        row.insert(format!("rule_output_error_{name}"), value.clone());
    }
    // per rule, the largest |fitted − generating| over its coefficients
    let mut largest: Map<String, Value> = Map::new();
    for (name, error) in &metrics.coefficient_error {
        let (Some((rule, _)), Some(error)) = (name.split_once('.'), error.as_f64()) else {
            continue;
        };
        let key = format!("max_coefficient_error_{rule}");
        let so_far = largest.get(&key).and_then(Value::as_f64).unwrap_or(0.0);
        largest.insert(key, json!(so_far.max(error.abs())));
    }
    row.extend(largest);
    for (name, value) in results["coefficients"].as_object().into_iter().flatten() {
        row.insert(name.clone(), value.clone());
    }
    row
}

fn toml_to_json(value: &toml::Value) -> Value {
    match value {
        toml::Value::String(s) => json!(s),
        toml::Value::Integer(i) => json!(i),
        toml::Value::Float(f) => json!(f),
        toml::Value::Boolean(b) => json!(b),
        other => json!(other.to_string()),
    }
}

/// `{term: θ}` of a Taylor θ.
fn named_theta(variables: Variables, theta: &[f64]) -> Value {
    Value::Object(
        term_names(variables)
            .into_iter()
            .zip(theta)
            .map(|(n, v)| (n, json!(v)))
            .collect(),
    )
}

/// Where a cell's simulated dataset is: `data.npz` in the cell's directory when the
/// experiment keeps data (`save` writes it there), otherwise a note that it was not kept.
fn kept_data(
    experiment: &Experiment,
    dir: &Path,
    save: impl FnOnce(&Path) -> plasticity::Result<()>,
) -> Result<PathBuf> {
    if !experiment.save_data {
        return Ok(PathBuf::from(
            "(simulated in memory; save_data = true keeps it)",
        ));
    }
    let path = dir.join("data.npz");
    save(&path)?;
    Ok(path)
}

/// Writes a finished fit's `coefficients.csv`, `trajectory.csv` and (when given)
/// `weights.csv`, records the generating θ (Taylor fits) in `result`, and returns the
/// table columns every fit has.
fn write_fit_files(
    dir: &Path,
    result: &mut Map<String, Value>,
    rule: &Rule,
    outcome: &FitOutcome,
    generating: Option<&[f64]>,
    identifiability: &Value,
    weights: Option<&WeightTrajectories>,
) -> Result<Map<String, Value>> {
    // an MLP's parameters have no generating counterpart
    let truth = rule.as_taylor().and(generating);
    write_text(
        &dir.join("coefficients.csv"),
        &fitted_parameters_csv(rule, &outcome.theta, truth, Some(identifiability)),
    )?;
    write_trajectory_csv(dir, rule, outcome)?;
    if let Some(weights) = weights {
        write_weights_csv(dir, weights)?;
    }
    let generating_entry = match (rule.as_taylor(), truth) {
        (Some(taylor), Some(theta)) => named_theta(taylor.variables(), theta),
        _ => Value::Null,
    };
    result.insert("generating".into(), generating_entry);
    Ok(fit_row(rule, outcome))
}

/// The table columns every fit has.
fn fit_row(rule: &Rule, outcome: &FitOutcome) -> Map<String, Value> {
    let mut row = Map::new();
    row.insert("rule_family".into(), json!(rule.family()));
    row.insert(
        "stop_reason".into(),
        json!(stop_reason_name(&outcome.stop_reason)),
    );
    row.insert("epochs_run".into(), json!(outcome.loss_history.len()));
    row.insert("evaluations".into(), json!(outcome.evaluations));
    row.insert("final_loss".into(), json!(outcome.final_loss));
    row
}

fn stop_reason_name(reason: &StopReason) -> &'static str {
    match reason {
        StopReason::EpochsCompleted => "epochs_completed",
        StopReason::Converged { .. } => "converged",
        StopReason::LineSearchFailed { .. } => "line_search_failed",
        StopReason::NonFinite { .. } => "non_finite",
        StopReason::Interrupted => "interrupted",
    }
}

fn append_theta(row: &mut Map<String, Value>, rule: &Rule, theta: &[f64]) {
    for (name, value) in rule.coefficient_names().into_iter().zip(theta) {
        row.insert(format!("theta_{name}"), json!(value));
    }
}

/// `trajectory.csv`: `epoch,loss` and, for a Taylor rule, `theta_<term>` per epoch.
fn write_trajectory_csv(dir: &Path, rule: &Rule, outcome: &FitOutcome) -> Result<()> {
    let names = rule.coefficient_names();
    let mut csv = String::from("epoch,loss");
    for name in &names {
        csv.push_str(&format!(",theta_{name}"));
    }
    csv.push('\n');
    for (epoch, (loss, theta)) in outcome
        .loss_history
        .iter()
        .zip(&outcome.theta_history)
        .enumerate()
    {
        csv.push_str(&format!("{},{loss}", epoch + 1));
        if !names.is_empty() {
            for value in theta {
                csv.push_str(&format!(",{value}"));
            }
        }
        csv.push('\n');
    }
    write_text(&dir.join("trajectory.csv"), &csv)?;
    Ok(())
}

/// `weights.csv`: `step,synapse,generating,fitted` (long format).
fn write_weights_csv(dir: &Path, weights: &WeightTrajectories) -> Result<()> {
    let mut csv = String::from("step,synapse,generating,fitted\n");
    for (step, (truth, fitted)) in weights.truth.iter().zip(&weights.fitted).enumerate() {
        for (j, synapse) in weights.synapses.iter().enumerate() {
            csv.push_str(&format!(
                "{},{synapse},{},{}\n",
                step + 1,
                truth[j],
                fitted[j]
            ));
        }
    }
    write_text(&dir.join("weights.csv"), &csv)?;
    Ok(())
}
