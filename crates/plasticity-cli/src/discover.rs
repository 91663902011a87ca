//! `plasticity discover EXPERIMENT.toml --out DIR`: meta-learn the rule that makes a
//! circuit do its job (issue 12; the library's `pipeline::discover`). Writes
//! DIR/results.json, coefficients.csv, loss_history.csv, coefficient_history.csv,
//! experiment.toml (the file as read) and figures/.

use std::fmt::Write as _;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use serde_json::json;

use plasticity::fit::FitCheckpoint;
use plasticity::pipeline::discover::phase::{LearnedRule, PhaseReport};
use plasticity::pipeline::discover::{discover_from, DiscoverReport, DiscoverSpec, MetaOptimizer};
use plasticity::report::figures::{line_plot, Series};
use plasticity::report::{write_json, write_text, InterruptedRun};
use plasticity::task::phases::{evaluate, normalised};

/// The meta-optimizer on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum OptimizerArg {
    /// Adam with a cosine schedule, gradient clipping and proximal L1.
    Adam,
    /// CMA-ES (gradient-free).
    Cmaes,
}

#[derive(Args, Debug)]
pub(crate) struct DiscoverArgs {
    /// The experiment file (TOML; see experiments/pca.toml and experiments/memory.toml).
    experiment: PathBuf,
    /// Output directory.
    #[arg(long, required_unless_present = "check")]
    out: Option<PathBuf>,
    /// Only read and check the experiment file, print it as resolved (defaults
    /// filled in, as JSON) and exit.
    #[arg(long)]
    check: bool,
    /// Overrides the file's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Overrides the file's `meta.optimizer`.
    #[arg(long, value_enum)]
    optimizer: Option<OptimizerArg>,
    /// Overrides the file's `meta.iterations` (Adam) or `cmaes.generations`.
    #[arg(long)]
    iterations: Option<usize>,
    /// Continue an interrupted run (Ctrl-C, SIGTERM) in the same --out with the same
    /// experiment and flags, from OUT/checkpoint.cbor.
    #[arg(long)]
    resume: bool,
    /// Seconds between checkpoints (OUT/checkpoint.cbor) during the meta-optimization;
    /// one is always written when interrupted.
    #[arg(long, default_value_t = 30.0)]
    checkpoint_interval: f64,
}

pub(crate) fn discover_command(args: &DiscoverArgs) -> Result<()> {
    let started = Instant::now();
    let source = std::fs::read_to_string(&args.experiment)
        .with_context(|| format!("reading {}", args.experiment.display()))?;
    let mut spec = DiscoverSpec::parse(&source, &args.experiment)?;
    let seed = args.seed.unwrap_or(spec.seed);
    spec.seed = seed;
    let optimizer = match args.optimizer {
        Some(OptimizerArg::Adam) => MetaOptimizer::Adam,
        Some(OptimizerArg::Cmaes) => MetaOptimizer::Cmaes,
        None => spec.meta.optimizer,
    };
    spec.meta.optimizer = optimizer;
    if let Some(iterations) = args.iterations {
        spec.meta.iterations = iterations;
        spec.cmaes.generations = iterations;
    }
    if args.check {
        return print_out(&(serde_json::to_string_pretty(&spec)? + "\n"));
    }
    let Some(out) = args.out.as_deref() else {
        anyhow::bail!("--out is required");
    };
    let steps = match optimizer {
        MetaOptimizer::Adam => spec.meta.iterations,
        MetaOptimizer::Cmaes => spec.cmaes.generations,
    };
    std::fs::create_dir_all(out.join("figures"))
        .with_context(|| format!("creating {}", out.join("figures").display()))?;
    let checkpoint_path = out.join("checkpoint.cbor");
    let fingerprint = serde_json::to_string(&json!({
        "spec": spec,
        "optimizer": optimizer,
        "seed": seed,
        "version": plasticity::VERSION,
    }))?;
    let resume = load_checkpoint(&checkpoint_path, &fingerprint, args.resume)?;
    if !(args.checkpoint_interval >= 0.0 && args.checkpoint_interval.is_finite()) {
        anyhow::bail!(
            "--checkpoint-interval: expected a number of seconds ≥ 0, got {}",
            args.checkpoint_interval
        );
    }
    let interval = Duration::from_secs_f64(args.checkpoint_interval);
    let bar = crate::output::progress_bar(steps, "discover");
    let mut smoothed = f64::NAN;
    let mut last_save = Instant::now();
    let mut save_error = None;
    let report = discover_from(&spec, optimizer, seed, resume.as_ref(), |step| {
        smoothed = if smoothed.is_nan() {
            step.loss
        } else {
            0.95 * smoothed + 0.05 * step.loss
        };
        bar.set_position(step.epoch as u64);
        bar.set_message(format!(
            "meta-loss {:.5} (smoothed {smoothed:.5})",
            step.loss
        ));
        let stop = crate::interrupt::interrupted();
        if stop || last_save.elapsed() >= interval {
            let saved = save_checkpoint(&checkpoint_path, &fingerprint, &(step.checkpoint)());
            last_save = Instant::now();
            if let Err(error) = saved {
                save_error = Some(error);
                return ControlFlow::Break(());
            }
        }
        if stop {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    bar.finish_and_clear();
    if let Some(error) = save_error {
        return Err(error.context("writing the checkpoint"));
    }
    let report = match report {
        Err(plasticity::Error::Interrupted { what, done, total }) => {
            let command = crate::journal::command_line();
            let checkpoint = checkpoint_path.display().to_string();
            let resume_with = format!("{command} --resume");
            let record = InterruptedRun::new(&what, (done, total), &checkpoint, &resume_with);
            write_json(&out.join("results.json"), &serde_json::to_value(record)?)?;
            return Err(crate::journal::Interrupted(format!(
                "interrupted after {done} of {total} meta-steps; continue with `{command} --resume`"
            ))
            .into());
        }
        other => other?,
    };
    let _ = std::fs::remove_file(&checkpoint_path);
    let wall = started.elapsed().as_secs_f64();
    write_outputs(out, &spec, &source, &report, wall)?;
    print_summary(&report)?;
    if !crate::output::quiet() {
        eprintln!("{wall:.1} s; written to {}", out.display());
    }
    Ok(())
}

/// `OUT/checkpoint.cbor`: the fingerprint of the run's settings and the checkpoint
/// (CBOR keeps non-finite losses of skipped steps, which JSON cannot).
#[derive(serde::Serialize, serde::Deserialize)]
struct CheckpointFile {
    fingerprint: String,
    checkpoint: FitCheckpoint,
}

fn save_checkpoint(path: &Path, fingerprint: &str, checkpoint: &FitCheckpoint) -> Result<()> {
    let file = CheckpointFile {
        fingerprint: fingerprint.to_string(),
        checkpoint: checkpoint.clone(),
    };
    let mut bytes = Vec::new();
    ciborium::into_writer(&file, &mut bytes).context("encoding the checkpoint")?;
    plasticity::io::write_atomically(path, |w| std::io::Write::write_all(w, &bytes))?;
    Ok(())
}

/// The checkpoint to continue from with `--resume` (none without, or when the run
/// left none); one taken with other settings is refused.
fn load_checkpoint(path: &Path, fingerprint: &str, resume: bool) -> Result<Option<FitCheckpoint>> {
    if !resume || !path.is_file() {
        return Ok(None);
    }
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let file: CheckpointFile = ciborium::from_reader(bytes.as_slice()).map_err(|e| {
        anyhow::anyhow!("{}: not a checkpoint of this program: {e}", path.display())
    })?;
    if file.fingerprint != fingerprint {
        anyhow::bail!(
            "{}: the checkpoint was taken with another experiment, seed or optimizer; remove it to start afresh",
            path.display()
        );
    }
    note!(
        "resuming after meta-step {} of the checkpoint",
        file.checkpoint.epochs_done
    );
    Ok(Some(file.checkpoint))
}

fn write_outputs(
    out: &Path,
    spec: &DiscoverSpec,
    source: &str,
    report: &DiscoverReport,
    wall: f64,
) -> Result<()> {
    let theta = &report.outcome.theta;
    let mut results = report.results(spec);
    results["stop_reason"] = json!("completed");
    results["threads"] = json!(rayon::current_num_threads());
    results["wall_time_s"] = json!(wall);
    write_text(&out.join("experiment.toml"), source)?;
    let mut csv = String::from("term,value\n");
    for (name, v) in report.term_names.iter().zip(theta) {
        writeln!(csv, "{name},{v}").expect("writing to a String");
    }
    write_text(&out.join("coefficients.csv"), &csv)?;
    let mut history = String::from("iteration,loss\n");
    for (m, loss) in report.outcome.loss_history.iter().enumerate() {
        writeln!(history, "{},{loss}", m + 1).expect("writing to a String");
    }
    write_text(&out.join("loss_history.csv"), &history)?;
    let mut trajectories = format!("iteration,{}\n", report.term_names.join(","));
    for (m, t) in report.outcome.theta_history.iter().enumerate() {
        let values: Vec<String> = t.iter().map(|v| v.to_string()).collect();
        writeln!(trajectories, "{},{}", m + 1, values.join(",")).expect("writing to a String");
    }
    write_text(&out.join("coefficient_history.csv"), &trajectories)?;
    draw(&out.join("figures"), spec, report)?;
    // results.json last: its presence means the run is complete.
    write_json(&out.join("results.json"), &results)?;
    Ok(())
}

fn draw(dir: &Path, spec: &DiscoverSpec, report: &DiscoverReport) -> Result<()> {
    let label = match report.optimizer {
        MetaOptimizer::Adam => "meta-iteration",
        MetaOptimizer::Cmaes => "generation",
    };
    draw_meta_loss(dir, report, label)?;
    draw_coefficients(dir, report, label)?;
    draw_baselines(dir, spec, report)
}

/// figures/meta_loss: the meta-loss per step and its running mean.
fn draw_meta_loss(dir: &Path, report: &DiscoverReport, label: &str) -> Result<()> {
    let history = &report.outcome.loss_history;
    let finite: Vec<(f64, f64)> = history
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_finite())
        .map(|(m, &v)| ((m + 1) as f64, v))
        .collect();
    let window = (history.len() / 25).max(1);
    let smoothed: Vec<(f64, f64)> = finite
        .windows(window)
        .map(|w| {
            (
                w[w.len() - 1].0,
                w.iter().map(|p| p.1).sum::<f64>() / w.len() as f64,
            )
        })
        .collect();
    let positive = finite.iter().all(|p| p.1 > 0.0);
    if !finite.is_empty() {
        line_plot(
            &dir.join("meta_loss"),
            &format!("Meta-loss ({:?}, fresh tasks every step)", report.optimizer),
            label,
            "meta-loss",
            &[
                Series::new("per step", finite.clone())
                    .without_markers()
                    .colour(5),
                Series::new(format!("mean of {window}"), smoothed)
                    .without_markers()
                    .colour(0),
            ],
            false,
            positive,
        )?;
    }
    Ok(())
}

/// figures/coefficients: every trainable coefficient over the steps (the 6 largest
/// named).
fn draw_coefficients(dir: &Path, report: &DiscoverReport, label: &str) -> Result<()> {
    let theta = &report.outcome.theta;
    let largest = theta.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let mut order: Vec<usize> = report.trainable.clone();
    order.sort_by(|&a, &b| theta[b].abs().total_cmp(&theta[a].abs()));
    let series: Vec<Series> = order
        .iter()
        .enumerate()
        .map(|(rank, &k)| {
            let points: Vec<(f64, f64)> = report
                .outcome
                .theta_history
                .iter()
                .enumerate()
                .map(|(m, t)| ((m + 1) as f64, t[k]))
                .collect();
            let named = rank < 6 && theta[k].abs() > 0.01 * largest;
            let s = Series::new(
                if named {
                    report.term_names[k].clone()
                } else {
                    String::new()
                },
                points,
            )
            .without_markers();
            if named {
                s.colour(rank)
            } else {
                s.dashed().colour(6)
            }
        })
        .collect();
    if !series.is_empty() && !report.outcome.theta_history.is_empty() {
        line_plot(
            &dir.join("coefficients"),
            "Coefficient trajectories (the 6 largest named)",
            label,
            "θ",
            &series,
            false,
            false,
        )?;
    }
    Ok(())
}

/// The learned rule beside the tuned baseline on held-out tasks: figures/learned_vs_oja
/// (PCA) or figures/learned_vs_hebbian (memory).
fn draw_baselines(dir: &Path, spec: &DiscoverSpec, report: &DiscoverReport) -> Result<()> {
    if let Some(pca) = &report.pca {
        let curve = |e: &plasticity::objective::function::PcaEvaluation| -> Vec<(f64, f64)> {
            e.cos2_curve.iter().map(|&(t, c)| (t as f64, c)).collect()
        };
        line_plot(
            &dir.join("learned_vs_oja"),
            &format!(
                "Held-out covariances ({}): training horizon T = {}",
                spec.evaluation.tasks,
                match spec.function_task()? {
                    plasticity::pipeline::discover::spec::FunctionTask::Pca(t) => t.n_steps,
                    _ => 0,
                }
            ),
            "learning step t",
            "mean cos²(w_t, v₁)",
            &[
                Series::new("learned rule", curve(&pca.learned))
                    .without_markers()
                    .colour(0),
                Series::new(
                    format!("Oja, best rate ×{:.3}", pca.baseline_rate),
                    curve(&pca.baseline),
                )
                .dashed()
                .colour(1),
            ],
            false,
            false,
        )?;
    }
    if let Some(memory) = &report.memory {
        let points = |pairs: &[(usize, f64)]| -> Vec<(f64, f64)> {
            pairs.iter().map(|&(p, v)| (p as f64, v)).collect()
        };
        line_plot(
            &dir.join("learned_vs_hebbian"),
            &format!(
                "Recall overlap on held-out pattern sets ({} per load)",
                spec.evaluation.tasks_per_load
            ),
            "stored patterns P",
            "overlap after the last recall step",
            &[
                Series::new("learned rule", points(&memory.learned.overlap_by_load)).colour(0),
                Series::new(
                    memory.baseline_rule.clone(),
                    points(&memory.baseline.overlap_by_load),
                )
                .colour(1),
            ],
            false,
            false,
        )?;
    }
    if let Some(phase) = &report.memory_phase {
        draw_phase(dir, spec, phase)?;
    }
    Ok(())
}

/// figures/quality_by_load (recall quality against load for the learned pair, the
/// matched, mismatched and anti-matched pairs and the cue alone) and
/// figures/learned_vs_matched (the learned function beside its matched target over one
/// cycle, each scaled to unit power).
fn draw_phase(dir: &Path, spec: &DiscoverSpec, phase: &PhaseReport) -> Result<()> {
    let points = |pairs: &[(usize, f64)]| -> Vec<(f64, f64)> {
        pairs.iter().map(|&(m, v)| (m as f64, v)).collect()
    };
    line_plot(
        &dir.join("quality_by_load"),
        &format!(
            "Recall quality on held-out memories ({} per load)",
            spec.evaluation.tasks_per_load
        ),
        "stored memories M",
        "recall quality q",
        &[
            Series::new("learned", points(&phase.learned.quality_by_load)).colour(0),
            Series::new(
                "matched H ∝ Ω′ (scale tuned per load)",
                points(&phase.matched.quality_by_load),
            )
            .colour(1),
            Series::new(
                "mismatched H ∝ Ω",
                points(&phase.mismatched.quality_by_load),
            )
            .colour(2),
            Series::new(
                "anti-matched H ∝ −Ω′",
                points(&phase.anti_matched.quality_by_load),
            )
            .colour(3),
            Series::new("cue alone", points(&phase.learned.cue_quality_by_load))
                .dashed()
                .colour(6),
        ],
        false,
        false,
    )?;
    let (learned_name, target_name) = match phase.learn {
        LearnedRule::Storage => ("learned Ω′", "H"),
        _ => ("learned H", "Ω′"),
    };
    let curve = |series: &[f64]| -> Vec<(f64, f64)> {
        let unit = normalised(series, 1.0);
        (0..=200)
            .map(|j| {
                let delta = -std::f64::consts::PI + std::f64::consts::TAU * j as f64 / 200.0;
                (delta, evaluate(&unit, delta))
            })
            .collect()
    };
    line_plot(
        &dir.join("learned_vs_matched"),
        &format!(
            "{learned_name} beside {target_name} (unit power; correlation {:.3})",
            phase.correlation_with_matched
        ),
        "phase difference Δ (rad)",
        "function value",
        &[
            Series::new(learned_name, curve(&phase.learned_function))
                .without_markers()
                .colour(0),
            Series::new(target_name, curve(&phase.target_function))
                .without_markers()
                .dashed()
                .colour(1),
            Series::new(
                format!("{target_name} smoothed by the cue noise"),
                curve(&phase.smoothed_target_function),
            )
            .without_markers()
            .dashed()
            .colour(2),
        ],
        false,
        false,
    )?;
    Ok(())
}

/// Writes to stdout; a closed pipe (`| head`) is not an error.
fn print_out(text: &str) -> Result<()> {
    use std::io::Write as _;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

fn print_summary(report: &DiscoverReport) -> Result<()> {
    let mut text = format!("rule: {}\n", report.rule_expression());
    if let Some(map) = report.metrics().as_object() {
        for (key, value) in map {
            writeln!(text, "{key}: {value}").expect("writing to a String");
        }
    }
    print_out(&text)
}
