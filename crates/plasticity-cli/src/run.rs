//! `plasticity run`, `cell`, `collect` and `plot`: experiments from files, into run
//! directories, on the local cores or as a Slurm job array.
//!
//! A run directory holds `experiment.toml` (the file as given), `resolved.toml` (every
//! key with its value, defaults included), `run.json` (program version, git commit,
//! executor, seeds), `cells/cell_NNNN/` (one per grid cell: `result.json`, CSV files,
//! a checkpoint while it runs), and, once every cell is done, `table.csv` (one row
//! per cell, no timings, so that runs compare byte for byte), `results.json`,
//! `figures/` and `log.txt`.

use std::cell::RefCell;
use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::journal::{load_checkpoint, CheckpointFile, Interrupted};
use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, ValueEnum};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use serde_json::{json, Map, Value};

use plasticity::fit::behaviour::{behaviour_weight_trajectories, circuit_of, fit_behaviour};
use plasticity::fit::neural::{fit_neural, fresh_trajectories, generating_theta};
use plasticity::fit::{EpochReport, FitOutcome, StopReason};
use plasticity::metrics::{neural_weight_trajectories, WeightTrajectories};
use plasticity::report::{
    behaviour_results, csv_field, fitted_parameters_csv, neural_results, write_json, write_text,
};
use plasticity::rule::{term_names, PlasticityRule, Rule, TaylorRule, Variables};

use crate::experiment::{value_text, Cell, CellConfig, Experiment, Kind};

/// Where the cells run.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ExecutorArg {
    /// On this machine, cells in parallel on its cores.
    Local,
    /// As a Slurm job array, one cell per task (`plasticity collect` gathers them).
    Slurm,
}

#[derive(Args, Debug)]
pub(crate) struct RunArgs {
    /// The experiment file (TOML; see experiments/ and docs/experiments.md).
    experiment: PathBuf,
    /// The run directory (default: runs/<file name without .toml>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue an interrupted run in --out: finished cells are kept, interrupted fits
    /// continue from their last checkpoint.
    #[arg(long)]
    resume: bool,
    /// Run the cells here or submit them to Slurm.
    #[arg(long, value_enum, default_value = "local")]
    executor: ExecutorArg,
    /// An extra sbatch option (repeatable), after those of the file's [slurm] table,
    /// e.g. --sbatch-option=--mem=8G.
    #[arg(long, allow_hyphen_values = true)]
    sbatch_option: Vec<String>,
    /// With --executor slurm: write the job script but do not submit it.
    #[arg(long)]
    dry_run: bool,
    /// Seconds between checkpoints of a running fit (0: after every epoch); default
    /// the file's checkpoint_interval (60).
    #[arg(long)]
    checkpoint_interval: Option<f64>,
    /// Overrides the `seed` of every section of the file ([simulate], [fit], …).
    #[arg(long)]
    seed: Option<u64>,
}

#[derive(Args, Debug)]
pub(crate) struct CellArgs {
    /// The run directory.
    run_dir: PathBuf,
    /// The cell's index (a Slurm array task's SLURM_ARRAY_TASK_ID).
    #[arg(long)]
    index: usize,
    /// Continue from the cell's checkpoint if it has one; skip it if it is done.
    #[arg(long)]
    resume: bool,
}

#[derive(Args, Debug)]
pub(crate) struct CollectArgs {
    /// The run directory.
    run_dir: PathBuf,
    /// Submit the unfinished cells again to Slurm (they continue from their
    /// checkpoints) instead of reporting them.
    #[arg(long)]
    resubmit_failed: bool,
    /// With --resubmit-failed: an extra sbatch option (repeatable) for the new job,
    /// after those the run was submitted with, e.g. --sbatch-option=--time=02:00:00
    /// for cells that ran out of time.
    #[arg(long, allow_hyphen_values = true, requires = "resubmit_failed")]
    sbatch_option: Vec<String>,
}

#[derive(Args, Debug)]
pub(crate) struct PlotArgs {
    /// The run directory: figures/ is drawn again from its tables, without refitting.
    run_dir: PathBuf,
}

static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// `--quiet`: no progress bars and no messages but errors.
pub(crate) fn set_quiet(quiet: bool) {
    QUIET.store(quiet, std::sync::atomic::Ordering::Relaxed);
}

pub(crate) fn quiet() -> bool {
    QUIET.load(std::sync::atomic::Ordering::Relaxed)
}

/// A message for the person at the terminal (stderr; nothing with --quiet), also
/// recorded in the run's log.
macro_rules! say {
    ($($arg:tt)*) => {{
        let text = format!($($arg)*);
        tracing::info!("{text}");
        if !quiet() {
            eprintln!("{text}");
        }
    }};
}

/// A progress container: drawn on stderr when it is a terminal, hidden otherwise and
/// with --quiet.
fn progress() -> MultiProgress {
    if quiet() {
        MultiProgress::with_draw_target(ProgressDrawTarget::hidden())
    } else {
        MultiProgress::new()
    }
}

fn bar_style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}

/// Cells' results as they come back.
enum CellOutcome {
    Done,
    AlreadyDone,
}

fn cell_dir(run_dir: &Path, cell: &Cell) -> PathBuf {
    run_dir.join("cells").join(cell.directory_name())
}

/// The experiment of a run directory, its relative paths read from where the
/// original file was, with the command-line overrides that `plasticity run` recorded
/// in run.json (`--seed`, `--checkpoint-interval`, `--sbatch-option`): the cells of a
/// Slurm array and a resubmission run what the run was started with.
fn load_run_experiment(run_dir: &Path) -> Result<Experiment> {
    let run_json = run_dir.join("run.json");
    let text = std::fs::read_to_string(&run_json).with_context(|| {
        format!(
            "{} is not a run directory (no readable run.json)",
            run_dir.display()
        )
    })?;
    let run: Value =
        serde_json::from_str(&text).with_context(|| format!("reading {}", run_json.display()))?;
    let base = run["experiment_dir"]
        .as_str()
        .map(PathBuf::from)
        .ok_or_else(|| anyhow!("{}: experiment_dir is missing", run_json.display()))?;
    let path = run_dir.join("experiment.toml");
    let source =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut experiment = Experiment::parse_with_base(&path, &source, &base)?;
    let overrides = &run["overrides"];
    if let Some(seed) = overrides["seed"].as_u64() {
        experiment.override_seed(seed);
    }
    if let Some(seconds) = overrides["checkpoint_interval"].as_f64() {
        experiment.checkpoint_interval = seconds;
    }
    if let Some(options) = overrides["sbatch_options"].as_array() {
        experiment
            .slurm
            .options
            .extend(options.iter().filter_map(|o| o.as_str().map(String::from)));
    }
    Ok(experiment)
}

/// The command-line overrides of `plasticity run`, as run.json records them.
fn run_overrides(args: &RunArgs) -> Value {
    json!({
        "seed": args.seed,
        "checkpoint_interval": args.checkpoint_interval,
        "sbatch_options": args.sbatch_option,
    })
}

/// The git commit this binary was built from (with "-dirty" when the tree had
/// changes), if it was built from a git checkout.
pub(crate) fn git_commit() -> &'static str {
    option_env!("PLASTICITY_GIT_COMMIT").unwrap_or("unknown")
}

/// `plasticity run FILE --out DIR`.
pub(crate) fn run_command(args: &RunArgs) -> Result<()> {
    let mut experiment = Experiment::load(&args.experiment)?;
    if let Some(seed) = args.seed {
        if seed > i64::MAX as u64 {
            bail!("--seed: at most {}, got {seed}", i64::MAX);
        }
        experiment.override_seed(seed);
    }
    if let Some(seconds) = args.checkpoint_interval {
        if !(seconds.is_finite() && seconds >= 0.0) {
            bail!("--checkpoint-interval: must be a number of seconds ≥ 0, got {seconds}");
        }
        experiment.checkpoint_interval = seconds;
    }
    experiment
        .slurm
        .options
        .extend(args.sbatch_option.iter().cloned());
    let out = match &args.out {
        Some(out) => out.clone(),
        None => PathBuf::from("runs").join(
            args.experiment
                .file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_else(|| "run".into()),
        ),
    };
    // one writer per run directory: held until this command ends (cells of a Slurm
    // array lock only their own directories)
    let _lock = crate::run_lock::lock_dir(&out, "run", quiet())?;
    prepare_run_dir(
        &experiment,
        &out,
        args.resume,
        args.executor,
        &run_overrides(args),
    )?;
    crate::logging::log_to(&out.join("log.txt"))?;
    let cells = experiment.cells();
    say!(
        "{} experiment {}{}: {} cell{} → {}",
        experiment.kind.name(),
        args.experiment.display(),
        if experiment.title.is_empty() {
            String::new()
        } else {
            format!(" ({})", experiment.title)
        },
        cells.len(),
        if cells.len() == 1 { "" } else { "s" },
        out.display()
    );
    match args.executor {
        ExecutorArg::Local => {
            run_cells_locally(&experiment, &out, &cells, args.resume)?;
            collect_run(&experiment, &out)?;
            say!("done: results in {}", out.display());
            Ok(())
        }
        ExecutorArg::Slurm => {
            let indices: Vec<usize> = cells
                .iter()
                .filter(|c| !(args.resume && cell_dir(&out, c).join("result.json").is_file()))
                .map(|c| c.index)
                .collect();
            if indices.is_empty() {
                say!("every cell is already done; gathering them");
                collect_run(&experiment, &out)?;
                return Ok(());
            }
            submit_array(&experiment, &out, &indices, args.dry_run)
        }
    }
}

/// Creates the run directory and records the experiment, or checks that a resumed
/// run is the same experiment.
fn prepare_run_dir(
    experiment: &Experiment,
    out: &Path,
    resume: bool,
    executor: ExecutorArg,
    overrides: &Value,
) -> Result<()> {
    let copy = out.join("experiment.toml");
    if out.join("run.json").is_file() {
        if !resume {
            bail!(
                "{} already holds a run; continue it with --resume or choose another --out",
                out.display()
            );
        }
        let previous = std::fs::read_to_string(&copy)
            .with_context(|| format!("reading {}", copy.display()))?;
        if previous != experiment.source {
            bail!(
                "{} differs from the experiment that run {} started with ({}); a resumed run must run the same experiment",
                experiment.path.display(),
                out.display(),
                copy.display()
            );
        }
        let run_json = out.join("run.json");
        let run: Value = serde_json::from_str(
            &std::fs::read_to_string(&run_json)
                .with_context(|| format!("reading {}", run_json.display()))?,
        )
        .with_context(|| format!("reading {}", run_json.display()))?;
        let (before, now) = (&run["overrides"]["seed"], &overrides["seed"]);
        if before.as_u64() != now.as_u64() {
            bail!(
                "run {} started with {}; a resumed run must run the same experiment (give the same --seed)",
                out.display(),
                before
                    .as_u64()
                    .map_or_else(|| "no --seed".to_string(), |s| format!("--seed {s}")),
            );
        }
        return Ok(());
    }
    std::fs::create_dir_all(out.join("cells"))
        .with_context(|| format!("creating run directory {}", out.display()))?;
    write_text(&copy, &experiment.source)?;
    write_text(&out.join("resolved.toml"), &experiment.resolved_toml()?)?;
    let experiment_dir = experiment
        .base_dir
        .canonicalize()
        .unwrap_or_else(|_| experiment.base_dir.clone());
    write_json(
        &out.join("run.json"),
        &json!({
            "program": "plasticity",
            "version": plasticity::VERSION,
            "git_commit": git_commit(),
            "experiment": experiment.path.display().to_string(),
            "experiment_dir": experiment_dir.display().to_string(),
            "kind": experiment.kind.name(),
            "title": experiment.title,
            "cells": experiment.cells().len(),
            "grid": experiment.grid.iter().map(|a| json!({"key": a.name(), "values": a.values.iter().map(value_text).collect::<Vec<_>>()})).collect::<Vec<_>>(),
            "seeds": experiment.seeds(),
            "executor": match executor { ExecutorArg::Local => "local", ExecutorArg::Slurm => "slurm" },
            "threads": rayon::current_num_threads(),
            "command_line": std::env::args().collect::<Vec<_>>(),
            "overrides": overrides,
            "started_unix_seconds": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        }),
    )?;
    Ok(())
}

/// Runs the cells on this machine: in parallel unless the experiment says otherwise
/// (timings), with a bar over the cells and one per running fit.
fn run_cells_locally(
    experiment: &Experiment,
    out: &Path,
    cells: &[Cell],
    resume: bool,
) -> Result<()> {
    let multi = progress();
    let overall = if cells.len() > 1 {
        let bar = multi.add(ProgressBar::new(cells.len() as u64));
        bar.set_style(bar_style(
            "cells [{elapsed_precise}] {bar:30} {pos}/{len}  ETA {eta}  {msg}",
        ));
        Some(bar)
    } else {
        None
    };
    let start = Instant::now();
    let run_one = |cell: &Cell| -> Result<()> {
        let outcome = run_cell(experiment, out, cell, resume, &multi)
            .with_context(|| format!("cell {} ({})", cell.index, cell.label()))?;
        if let Some(bar) = &overall {
            bar.inc(1);
            bar.set_message(format!("cell {} done", cell.index));
            if bar.is_hidden() && !quiet() {
                eprintln!(
                    "cell {} done ({}/{}, {:.1} s)",
                    cell.index,
                    bar.position(),
                    cells.len(),
                    start.elapsed().as_secs_f64()
                );
            }
        }
        if let CellOutcome::AlreadyDone = outcome {
            tracing::info!(cell = cell.index, "already done");
        }
        Ok(())
    };
    let results: Vec<Result<()>> = if experiment.parallel_cells {
        cells.par_iter().map(run_one).collect()
    } else {
        cells.iter().map(run_one).collect()
    };
    if let Some(bar) = &overall {
        bar.finish_and_clear();
    }
    let mut interrupted = false;
    let mut first_error = None;
    for result in results {
        if let Err(error) = result {
            if error.downcast_ref::<Interrupted>().is_some() {
                interrupted = true;
            } else if first_error.is_none() {
                first_error = Some(error);
            }
        }
    }
    if let Some(error) = first_error {
        return Err(error);
    }
    if interrupted {
        bail!(
            "interrupted after {:.1} s; checkpoints are written: continue with `plasticity run {} --out {} --resume`",
            start.elapsed().as_secs_f64(),
            experiment.path.display(),
            out.display()
        );
    }
    Ok(())
}

/// `plasticity cell DIR --index I`: one cell of a run (what a Slurm array task runs).
pub(crate) fn cell_command(args: &CellArgs) -> Result<()> {
    let experiment = load_run_experiment(&args.run_dir)?;
    crate::logging::log_to(
        &args
            .run_dir
            .join("cells")
            .join(format!("cell_{:04}.log", args.index)),
    )?;
    let cells = experiment.cells();
    let cell = cells.get(args.index).ok_or_else(|| {
        anyhow!(
            "--index {}: the run has cells 0 to {}",
            args.index,
            cells.len().saturating_sub(1)
        )
    })?;
    let multi = progress();
    run_cell(&experiment, &args.run_dir, cell, args.resume, &multi)
        .with_context(|| format!("cell {} ({})", cell.index, cell.label()))?;
    say!("cell {} done", cell.index);
    Ok(())
}

/// Runs one cell into its directory; its `result.json` is written last (atomically),
/// so a cell with one is complete.
fn run_cell(
    experiment: &Experiment,
    run_dir: &Path,
    cell: &Cell,
    resume: bool,
    multi: &MultiProgress,
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
    let row = match config {
        CellConfig::Neural { task, fit } => {
            let dataset = task.task().simulate().context("simulating the dataset")?;
            let data_path = kept_data(experiment, &dir, |path| dataset.save(path))?;
            if fit.online {
                bail!("fit.online: online fits run with `plasticity fit --online`, not in experiment files");
            }
            let mut settings = fit.settings();
            settings.fit.resume = load_checkpoint(&dir, &fingerprint, resume)?;
            let observer = CheckpointingObserver::new(
                experiment,
                &dir,
                &fingerprint,
                cell,
                multi,
                settings.fit.epochs,
            );
            let outcome = observer.follow(|o| fit_neural(&dataset, &settings, o))?;
            let seconds = start.elapsed().as_secs_f64();
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
                &dir,
                &mut result,
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
            row
        }
        CellConfig::Behaviour { task, fit } => {
            let task = task.task()?;
            let dataset = task.simulate().context("simulating the sessions")?;
            let data_path = kept_data(experiment, &dir, |path| dataset.save(path))?;
            let mut settings = crate::behaviour::behaviour_settings(&fit)?;
            settings.fit.resume = load_checkpoint(&dir, &fingerprint, resume)?;
            let observer = CheckpointingObserver::new(
                experiment,
                &dir,
                &fingerprint,
                cell,
                multi,
                settings.fit.epochs,
            );
            let outcome = observer.follow(|o| fit_behaviour(&dataset, &settings, o))?;
            let seconds = start.elapsed().as_secs_f64();
            let generating = plasticity::fit::behaviour::generating_theta(&dataset)?;
            let weights = behaviour_weight_trajectories(
                &task,
                &circuit_of(&dataset, settings.weight_bound),
                &outcome.rule,
                &outcome.outcome.theta,
                settings.fit.seed,
                4,
            )?;
            let mut row = write_fit_files(
                &dir,
                &mut result,
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
            row
        }
        CellConfig::Circuit { circuit, task, fit } => {
            let dataset = task
                .task(&circuit)?
                .simulate()
                .context("simulating the circuit")?;
            let data_path = kept_data(experiment, &dir, |path| dataset.save(path))?;
            let mut settings = crate::circuit::circuit_settings(&fit);
            settings.fit.resume = load_checkpoint(&dir, &fingerprint, resume)?;
            let observer = CheckpointingObserver::new(
                experiment,
                &dir,
                &fingerprint,
                cell,
                multi,
                settings.fit.epochs,
            );
            let outcome = observer
                .follow(|o| plasticity::fit::circuit::fit_circuit(&dataset, &settings, o))?;
            let seconds = start.elapsed().as_secs_f64();
            let results = plasticity::report::circuit_results(
                &outcome, &settings, &data_path, &dataset, seconds,
            );
            let generating = dataset.generating_theta()?;
            write_text(
                &dir.join("coefficients.csv"),
                &plasticity::report::circuit_coefficients_csv(
                    &dataset,
                    &outcome.outcome.theta,
                    generating.as_deref(),
                ),
            )?;
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
            result.insert("results".into(), results);
            row
        }
        CellConfig::Table(mut args) => {
            args.resume = resume;
            crate::behaviour::table_command(&args)?;
            Map::new()
        }
        CellConfig::Flies(mut args) => {
            args.resume = resume;
            crate::flies::flies_command(&args)?;
            Map::new()
        }
        CellConfig::Scaling(args) => {
            let json_path = dir.join("bench.json");
            let exe = std::env::current_exe().context("finding the plasticity binary")?;
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
            row
        }
    };
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
    let truth = match rule {
        Rule::Taylor(_) => generating,
        Rule::Mlp(_) => None,
    };
    write_text(
        &dir.join("coefficients.csv"),
        &fitted_parameters_csv(rule, &outcome.theta, truth, Some(identifiability)),
    )?;
    write_trajectory_csv(dir, rule, outcome)?;
    if let Some(weights) = weights {
        write_weights_csv(dir, weights)?;
    }
    let generating_entry = match (rule, truth) {
        (Rule::Taylor(taylor), Some(theta)) => named_theta(taylor.variables(), theta),
        _ => Value::Null,
    };
    result.insert("generating".into(), generating_entry);
    Ok(fit_row(rule, outcome))
}

/// The table columns every fit has.
fn fit_row(rule: &Rule, outcome: &FitOutcome) -> Map<String, Value> {
    let mut row = Map::new();
    row.insert(
        "rule_family".into(),
        json!(match rule {
            Rule::Taylor(_) => "taylor",
            Rule::Mlp(_) => "mlp",
        }),
    );
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
    if let Rule::Taylor(taylor) = rule {
        for (name, value) in term_names(taylor.variables()).into_iter().zip(theta) {
            row.insert(format!("theta_{name}"), json!(value));
        }
    }
}

/// `trajectory.csv`: `epoch,loss` and, for a Taylor rule, `theta_<term>` per epoch.
fn write_trajectory_csv(dir: &Path, rule: &Rule, outcome: &FitOutcome) -> Result<()> {
    let names = match rule {
        Rule::Taylor(taylor) => term_names(taylor.variables()),
        Rule::Mlp(_) => Vec::new(),
    };
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

/// Follows a cell's fit: its progress bar (ETA and loss), log lines when there is no
/// terminal, a checkpoint every `checkpoint_interval` seconds and when interrupted.
struct CheckpointingObserver<'a> {
    dir: &'a Path,
    fingerprint: &'a str,
    interval: Duration,
    last_save: Instant,
    bar: ProgressBar,
    multi: &'a MultiProgress,
    cell: usize,
    every: usize,
    /// Epoch lines on stderr without a terminal (one cell only: a grid logs its cells).
    log_epochs: bool,
    error: RefCell<Option<anyhow::Error>>,
}

impl<'a> CheckpointingObserver<'a> {
    fn new(
        experiment: &Experiment,
        dir: &'a Path,
        fingerprint: &'a str,
        cell: &Cell,
        multi: &'a MultiProgress,
        epochs: usize,
    ) -> Self {
        let bar = multi.add(ProgressBar::new(epochs as u64));
        bar.set_style(bar_style(
            "{prefix} [{elapsed_precise}] {bar:30} {pos}/{len} epochs  ETA {eta}  {msg}",
        ));
        bar.set_prefix(format!("cell {}", cell.index));
        CheckpointingObserver {
            dir,
            fingerprint,
            interval: Duration::from_secs_f64(experiment.checkpoint_interval),
            last_save: Instant::now(),
            bar,
            multi,
            cell: cell.index,
            every: (epochs / 20).max(1),
            log_epochs: experiment.cells().len() == 1,
            error: RefCell::new(None),
        }
    }

    fn save(&self, report: &EpochReport<'_>) -> Result<()> {
        let file = CheckpointFile {
            fingerprint: self.fingerprint.to_string(),
            checkpoint: (report.checkpoint)(),
        };
        let text = serde_json::to_string(&file)?;
        write_text(&self.dir.join("checkpoint.json"), &text)?;
        Ok(())
    }

    fn observe(&mut self, report: &EpochReport<'_>) -> ControlFlow<()> {
        self.bar.set_position(report.epoch as u64);
        self.bar.set_message(format!("loss {:.4e}", report.loss));
        tracing::debug!(cell = self.cell, epoch = report.epoch, loss = report.loss);
        if report.epoch.is_multiple_of(self.every) || report.epoch == report.epochs {
            tracing::info!(
                cell = self.cell,
                epoch = report.epoch,
                epochs = report.epochs,
                loss = report.loss,
                "epoch"
            );
            if self.log_epochs && self.bar.is_hidden() && !quiet() {
                eprintln!(
                    "cell {}: epoch {}/{}  loss {:.6e}",
                    self.cell, report.epoch, report.epochs, report.loss
                );
            }
        }
        let stop = crate::commands::interrupted();
        if stop || self.last_save.elapsed() >= self.interval {
            if let Err(error) = self.save(report) {
                *self.error.borrow_mut() = Some(error);
                return ControlFlow::Break(());
            }
            self.last_save = Instant::now();
        }
        if stop {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }

    /// Runs `fit` under this observer; a fit that Ctrl-C stopped (its checkpoint
    /// written) is the [`Interrupted`] error.
    fn follow<T: Fitted>(
        mut self,
        fit: impl FnOnce(&mut dyn FnMut(&EpochReport<'_>) -> ControlFlow<()>) -> plasticity::Result<T>,
    ) -> Result<T> {
        let fitted = fit(&mut |report| self.observe(report));
        self.bar.finish_and_clear();
        self.multi.remove(&self.bar);
        if let Some(error) = self.error.into_inner() {
            return Err(error.context("writing the checkpoint"));
        }
        let fitted = fitted?;
        if fitted.outcome().stop_reason == StopReason::Interrupted {
            return Err(Interrupted(String::new()).into());
        }
        Ok(fitted)
    }
}

/// A fit's result, neural or behaviour.
trait Fitted {
    fn outcome(&self) -> &FitOutcome;
}

impl Fitted for plasticity::fit::neural::NeuralFit {
    fn outcome(&self) -> &FitOutcome {
        &self.outcome
    }
}

impl Fitted for plasticity::fit::circuit::CircuitFit {
    fn outcome(&self) -> &FitOutcome {
        &self.outcome
    }
}

impl Fitted for plasticity::fit::behaviour::BehaviourFit {
    fn outcome(&self) -> &FitOutcome {
        &self.outcome
    }
}

/// Writes the Slurm job array script and submits it (unless `dry_run`).
fn submit_array(
    experiment: &Experiment,
    out: &Path,
    indices: &[usize],
    dry_run: bool,
) -> Result<()> {
    let slurm_dir = out.join("slurm");
    std::fs::create_dir_all(slurm_dir.join("logs"))
        .with_context(|| format!("creating {}", slurm_dir.display()))?;
    let out_abs = out
        .canonicalize()
        .with_context(|| format!("resolving {}", out.display()))?;
    let exe = std::env::current_exe().context("finding the plasticity binary")?;
    let array = compress_indices(indices);
    let throttle = experiment
        .slurm
        .max_parallel
        .map(|n| format!("%{n}"))
        .unwrap_or_default();
    let mut script = String::from("#!/bin/bash\n");
    script.push_str(&format!(
        "#SBATCH --job-name=plasticity-{}\n",
        experiment.kind.name()
    ));
    script.push_str(&format!("#SBATCH --array={array}{throttle}\n"));
    script.push_str(&format!(
        "#SBATCH --output={}/slurm/logs/cell_%a.out\n",
        out_abs.display()
    ));
    script.push_str(&format!(
        "#SBATCH --cpus-per-task={}\n",
        experiment.slurm.cpus_per_task
    ));
    if let Some(time) = &experiment.slurm.time {
        script.push_str(&format!("#SBATCH --time={time}\n"));
    }
    if let Some(partition) = &experiment.slurm.partition {
        script.push_str(&format!("#SBATCH --partition={partition}\n"));
    }
    for option in &experiment.slurm.options {
        script.push_str(&format!("#SBATCH {option}\n"));
    }
    script
        .push_str("# written by `plasticity run --executor slurm`; one grid cell per array task\n");
    script.push_str("export RAYON_NUM_THREADS=\"${SLURM_CPUS_PER_TASK:-1}\"\n");
    script.push_str(&format!(
        "exec {} --quiet cell {} --index \"$SLURM_ARRAY_TASK_ID\" --resume\n",
        shell_quote(&exe.display().to_string()),
        shell_quote(&out_abs.display().to_string())
    ));
    let script_path = slurm_dir.join("array.sh");
    write_text(&script_path, &script)?;
    if dry_run {
        say!(
            "wrote {} (not submitted: --dry-run); submit it with `sbatch {}`, then `plasticity collect {}`",
            script_path.display(),
            script_path.display(),
            out.display()
        );
        return Ok(());
    }
    let output = std::process::Command::new("sbatch")
        .arg("--parsable")
        .arg(&script_path)
        .output()
        .context("running sbatch (is Slurm installed and SLURM_CONF set?)")?;
    if !output.status.success() {
        bail!(
            "sbatch failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let job = String::from_utf8_lossy(&output.stdout)
        .trim()
        .split(';')
        .next()
        .unwrap_or("")
        .to_string();
    let mut jobs = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(slurm_dir.join("jobs.txt"))
        .context("recording the job id")?;
    writeln!(jobs, "{job} {array}")?;
    say!(
        "submitted job array {job} ({} cell{}); when it has finished: plasticity collect {}",
        indices.len(),
        if indices.len() == 1 { "" } else { "s" },
        out.display()
    );
    println!("{job}");
    Ok(())
}

/// `0-3,7,9-10` from sorted indices.
fn compress_indices(indices: &[usize]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < indices.len() {
        let start = indices[i];
        let mut end = start;
        while i + 1 < indices.len() && indices[i + 1] == end + 1 {
            i += 1;
            end = indices[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(",")
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// `plasticity collect DIR`.
pub(crate) fn collect_command(args: &CollectArgs) -> Result<()> {
    let mut experiment = load_run_experiment(&args.run_dir)?;
    experiment
        .slurm
        .options
        .extend(args.sbatch_option.iter().cloned());
    let _lock = crate::run_lock::lock_dir(&args.run_dir, "collect", quiet())?;
    crate::logging::log_to(&args.run_dir.join("log.txt"))?;
    let missing: Vec<Cell> = experiment
        .cells()
        .into_iter()
        .filter(|c| !cell_dir(&args.run_dir, c).join("result.json").is_file())
        .collect();
    if !missing.is_empty() {
        let indices: Vec<usize> = missing.iter().map(|c| c.index).collect();
        if args.resubmit_failed {
            return submit_array(&experiment, &args.run_dir, &indices, false);
        }
        let logs: Vec<String> = missing
            .iter()
            .take(5)
            .map(|c| {
                format!(
                    "  cell {} ({}): see {}",
                    c.index,
                    c.label(),
                    args.run_dir
                        .join("slurm/logs")
                        .join(format!("cell_{}.out", c.index))
                        .display()
                )
            })
            .collect();
        bail!(
            "{} of {} cells are not finished (still running, or failed):\n{}\nwait for them, or submit them again with `plasticity collect {} --resubmit-failed`",
            missing.len(),
            experiment.cells().len(),
            logs.join("\n"),
            args.run_dir.display()
        );
    }
    collect_run(&experiment, &args.run_dir)?;
    say!(
        "collected {} cells into {}",
        experiment.cells().len(),
        args.run_dir.display()
    );
    Ok(())
}

/// Gathers the finished cells into `table.csv` and `results.json`, then draws the
/// figures.
fn collect_run(experiment: &Experiment, run_dir: &Path) -> Result<()> {
    let mut results = Vec::new();
    for cell in experiment.cells() {
        let path = cell_dir(run_dir, &cell).join("result.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cell {} is not finished: {}", cell.index, path.display()))?;
        let value: Value =
            serde_json::from_str(&text).with_context(|| format!("reading {}", path.display()))?;
        results.push((cell, value));
    }
    if matches!(
        experiment.kind,
        Kind::Neural | Kind::Behaviour | Kind::Scaling | Kind::Circuit
    ) {
        write_text(&run_dir.join("table.csv"), &table_csv(experiment, &results))?;
    }
    write_json(
        &run_dir.join("results.json"),
        &json!({
            "kind": experiment.kind.name(),
            "title": experiment.title,
            "version": plasticity::VERSION,
            "git_commit": git_commit(),
            "grid": experiment.grid.iter().map(|a| a.name()).collect::<Vec<_>>(),
            "cells": results.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>(),
        }),
    )?;
    for line in crate::run_headline::headline(&results) {
        show!("{line}");
    }
    let figures = crate::run_figures::draw(experiment, run_dir)?;
    if figures > 0 {
        say!(
            "{figures} figure files in {}",
            run_dir.join("figures").display()
        );
    }
    Ok(())
}

/// One row per cell: `cell`, the grid values, then the cell's own columns.
fn table_csv(experiment: &Experiment, results: &[(Cell, Value)]) -> String {
    let mut columns: Vec<String> = Vec::new();
    for (_, value) in results {
        if let Some(row) = value["row"].as_object() {
            for key in row.keys() {
                // a grid key is already a column of its own
                let is_grid_key = experiment.grid.iter().any(|axis| &axis.key == key);
                if !is_grid_key && !columns.contains(key) {
                    columns.push(key.clone());
                }
            }
        }
    }
    let mut csv = String::from("cell");
    for axis in &experiment.grid {
        csv.push(',');
        csv.push_str(&axis.key);
    }
    for column in &columns {
        csv.push(',');
        csv.push_str(column);
    }
    csv.push('\n');
    for (cell, value) in results {
        csv.push_str(&cell.index.to_string());
        for (_, parameter) in &cell.parameters {
            csv.push(',');
            csv.push_str(&csv_field(&value_text(parameter)));
        }
        for column in &columns {
            csv.push(',');
            match &value["row"][column] {
                Value::Null => {}
                Value::String(s) => csv.push_str(&csv_field(s)),
                other => csv.push_str(&other.to_string()),
            }
        }
        csv.push('\n');
    }
    csv
}

/// `plasticity plot DIR`.
pub(crate) fn plot_command(args: &PlotArgs) -> Result<()> {
    let experiment = load_run_experiment(&args.run_dir)?;
    let _lock = crate::run_lock::lock_dir(&args.run_dir, "plot", quiet())?;
    let figures = crate::run_figures::draw(&experiment, &args.run_dir)?;
    if figures == 0 {
        bail!(
            "no figures could be drawn from {}: is the run finished (`plasticity collect`)?",
            args.run_dir.display()
        );
    }
    say!(
        "{figures} figure files in {}",
        args.run_dir.join("figures").display()
    );
    Ok(())
}
