//! `plasticity discover EXPERIMENT.toml --out DIR`: meta-learn the rule that makes a
//! circuit do its job (issue 12; the library's `fit::discover`). Writes
//! DIR/results.json, coefficients.csv, loss_history.csv, coefficient_history.csv,
//! experiment.toml (the file as read) and figures/.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use serde_json::json;

use plasticity::figures::{line_plot, Series};
use plasticity::fit::discover::{discover, DiscoverReport, DiscoverSpec, MetaOptimizer};
use plasticity::report::{write_json, write_text};

/// The meta-optimiser on the command line.
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
    let bar = crate::commands::progress_bar(steps, "discover");
    let mut smoothed = f64::NAN;
    let report = discover(&spec, optimizer, seed, |step| {
        smoothed = if smoothed.is_nan() {
            step.loss
        } else {
            0.95 * smoothed + 0.05 * step.loss
        };
        bar.set_position(step.iteration as u64 + 1);
        bar.set_message(format!(
            "meta-loss {:.5} (smoothed {smoothed:.5})",
            step.loss
        ));
    })?;
    bar.finish_and_clear();
    let wall = started.elapsed().as_secs_f64();
    write_outputs(out, &spec, &source, &report, wall)?;
    print_summary(&report)?;
    if !crate::run::quiet() {
        eprintln!("{wall:.1} s; written to {}", out.display());
    }
    Ok(())
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
    let label = match report.optimizer {
        MetaOptimizer::Adam => "meta-iteration",
        MetaOptimizer::Cmaes => "generation",
    };
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
                    plasticity::fit::discover::spec::FunctionTask::Pca(t) => t.n_steps,
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
    let mut text = format!(
        "rule: {}\n",
        plasticity::rule::format_expression(
            &report.outcome.theta,
            plasticity::rule::Variables::Xyw
        )
    );
    if let Some(map) = report.metrics().as_object() {
        for (key, value) in map {
            writeln!(text, "{key}: {value}").expect("writing to a String");
        }
    }
    print_out(&text)
}
