//! `plasticity run`, `cell`, `collect` and `plot`: experiments from files, into run
//! directories, on the local cores or as a Slurm job array.
//!
//! A run directory holds `experiment.toml` (the file as given), `resolved.toml` (every
//! key with its value, defaults included), `run.json` (program version, git commit,
//! executor, seeds), `cells/cell_NNNN/` (one per grid cell: `result.json`, CSV files,
//! a checkpoint while it runs), and, once every cell is done, `table.csv` (one row
//! per cell, no timings, so that runs compare byte for byte), `results.json`,
//! `figures/` and `log.txt`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::flags::{FliesArgs, TableArgs};
use crate::journal::Interrupted;
use crate::output::quiet;
use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, ValueEnum};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use serde_json::{json, Value};

use plasticity::report::{csv_field, write_json, write_text};

use experiment::{value_text, Cell, Experiment, Kind};

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

/// The commands of other modules that a cell runs (`table`, `flies`): given by the
/// router, so that `run` imports no other command.
#[derive(Clone, Copy)]
pub(crate) struct CellCommands {
    /// `plasticity table`.
    pub(crate) table: fn(&TableArgs) -> Result<()>,
    /// `plasticity flies`.
    pub(crate) flies: fn(&FliesArgs) -> Result<()>,
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

mod cell;
mod experiment;
mod figures;
mod headline;
mod observer;
mod slurm;

use cell::run_cell;
use slurm::submit_array;

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
pub(crate) fn run_command(args: &RunArgs, commands: &CellCommands) -> Result<()> {
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
            run_cells_locally(&experiment, &out, &cells, args.resume, commands)?;
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
    write_text(&out.join("resolved.toml"), &experiment.resolved_toml(out)?)?;
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
            "command_line": crate::invocation::args(),
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
    commands: &CellCommands,
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
        let outcome = run_cell(experiment, out, cell, resume, &multi, commands)
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
pub(crate) fn cell_command(args: &CellArgs, commands: &CellCommands) -> Result<()> {
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
    run_cell(
        &experiment,
        &args.run_dir,
        cell,
        args.resume,
        &multi,
        commands,
    )
    .with_context(|| format!("cell {} ({})", cell.index, cell.label()))?;
    say!("cell {} done", cell.index);
    Ok(())
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
    for line in headline::headline(&results) {
        show!("{line}");
    }
    let figures = figures::draw(experiment, run_dir)?;
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
    let figures = figures::draw(&experiment, &args.run_dir)?;
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
