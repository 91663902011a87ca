//! `plasticity select DATA.npz --out DIR`: which Taylor terms the choices ask for —
//! term sets scored by cross-validated held-out deviance (folds by session), AIC and
//! BIC, the equivalence set within a tolerance of the best, and optionally the L1
//! path with λ chosen by the same cross-validation.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use serde_json::json;

use plasticity::data::BehaviourDataset;
use plasticity::fit::OptimizerKind;
use plasticity::pipeline::selection::{
    merge_shards, parse_terms, select_shard, select_terms, subset_candidates, L1PathSettings,
    SearchKind, Selection, SelectionSettings, SelectionShard, Tolerance,
};
use plasticity::report::figures::{line_plot, Series};
use plasticity::report::{csv_field, write_json, write_text};

use crate::flags::weight_bound;
use crate::flags::OptimizerArg;
use crate::journal::DirJournal;
use plasticity::journal::NoJournal;

#[derive(ValueEnum, Clone, Copy, Debug)]
pub(crate) enum SearchArg {
    Subsets,
    Forward,
    Backward,
}

#[derive(Args, Debug)]
pub(crate) struct SelectArgs {
    /// A behaviour dataset (.npz, kind "behaviour").
    data: PathBuf,
    /// Output directory: selection.csv, selection.json, figures/.
    #[arg(long)]
    out: PathBuf,
    /// Candidate terms, comma-separated (e.g. "1,x,r,x*r,w,y*r").
    #[arg(long, default_value = "1,x,r,x*r,w,y*r")]
    pool: String,
    /// Terms every candidate contains (from the pool), comma-separated.
    #[arg(long, default_value = "")]
    required: String,
    /// Most terms in a candidate.
    #[arg(long, default_value_t = 3)]
    max_terms: usize,
    /// Folds of the cross-validation (session s is held out in fold s mod K).
    #[arg(long, default_value_t = 5)]
    folds: usize,
    /// Every subset of the pool up to --max-terms, forward stepwise (adding terms up to
    /// --max-terms), or backward stepwise (dropping terms from the whole pool).
    #[arg(long, value_enum, default_value = "subsets")]
    search: SearchArg,
    /// The equivalence set: every term set whose held-out deviance is at most this many
    /// units above the best's (2: the ΔAIC ≤ 2 convention; held-out deviance is on the
    /// AIC scale), or with a trailing "se" that many paired standard errors of the
    /// difference across sessions (e.g. "1se").
    #[arg(long, default_value = "2")]
    tolerance: String,
    /// Also follow the L1 path over the whole pool (λ from λ_max down by --l1-ratio,
    /// warm-started), with λ chosen by the same cross-validation.
    #[arg(long)]
    l1_path: bool,
    /// Number of λ values on the L1 path.
    #[arg(long, default_value_t = 20)]
    l1_lambdas: usize,
    /// λ_min / λ_max of the L1 path.
    #[arg(long, default_value_t = 1e-3)]
    l1_ratio: f64,
    /// Proximal-gradient iterations per λ at most.
    #[arg(long, default_value_t = 200)]
    l1_iterations: usize,
    /// Optimizer of each candidate's fits.
    #[arg(long, value_enum, default_value = "lbfgs")]
    optimizer: OptimizerArg,
    /// L-BFGS iterations or Adam epochs of each fit.
    #[arg(long, default_value_t = 100)]
    epochs: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 1e-3)]
    learning_rate: f64,
    /// L1 penalty of each candidate's fits (0: maximum likelihood, which AIC and BIC
    /// assume).
    #[arg(long, default_value_t = 0.0)]
    l1: f64,
    /// Weight bound during the fits, or "none".
    #[arg(long, default_value = "10")]
    weight_bound: String,
    /// Seed of the fits (Adam's minibatch order).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Seed of the re-sampled sensory noise (drawn once for every fold).
    #[arg(long, default_value_t = 0)]
    input_seed: u64,
    /// Score only shard I of N of the subset search (candidates c with c mod N = I,
    /// 0 ≤ I < N), writing OUT/shards/shard_I_of_N.json and nothing else: one task
    /// of a job array (e.g. I = $SLURM_ARRAY_TASK_ID); --gather then ranks them.
    #[arg(long, conflicts_with = "gather")]
    shard: Option<String>,
    /// Rank the shards in OUT/shards/ (all N of one search, same flags) together and
    /// write the usual outputs, exactly as one unsharded run would.
    #[arg(long)]
    gather: bool,
    /// Continue an interrupted selection (Ctrl-C, SIGTERM) in the same --out with the
    /// same flags: the fits it finished (kept in OUT/checkpoint/) are not run again.
    #[arg(long)]
    resume: bool,
}

/// `I/N` of --shard.
fn parse_shard(text: &str) -> Result<(usize, usize)> {
    let parsed = text
        .split_once('/')
        .and_then(|(i, n)| Some((i.trim().parse().ok()?, n.trim().parse().ok()?)));
    match parsed {
        Some((i, n)) if i < n => Ok((i, n)),
        _ => bail!("--shard: expected I/N with 0 ≤ I < N (e.g. 0/8), got '{text}'"),
    }
}

fn shard_path(out: &Path, shard: usize, shards: usize) -> PathBuf {
    out.join("shards")
        .join(format!("shard_{shard}_of_{shards}.json"))
}

/// Scores one shard and writes it.
fn run_shard(
    args: &SelectArgs,
    settings: &SelectionSettings,
    dataset: &BehaviourDataset,
    text: &str,
) -> Result<()> {
    let (shard, shards) = parse_shard(text)?;
    let start = Instant::now();
    let result =
        select_shard(dataset, settings, shard, shards, &|| {}, &NoJournal).map_err(as_flag)?;
    let seconds = start.elapsed().as_secs_f64();
    let path = shard_path(&args.out, shard, shards);
    std::fs::create_dir_all(args.out.join("shards"))
        .with_context(|| format!("creating {}", args.out.join("shards").display()))?;
    write_json(
        &path,
        &json!({
            "shard": result,
            "config": settings,
            "data": args.data.display().to_string(),
            "seed": args.seed,
            "input_seed": args.input_seed,
            "version": plasticity::VERSION,
            "seconds": seconds,
            "threads": rayon::current_num_threads(),
        }),
    )?;
    if !crate::output::quiet() {
        eprintln!(
            "shard {shard}/{shards}: {} of {} term sets in {seconds:.1} s; wrote {}",
            result.candidates.len(),
            result.total_candidates,
            path.display()
        );
    }
    Ok(())
}

/// Reads every OUT/shards/shard_*_of_*.json written with the same settings and merges
/// them; returns the selection and the shards' summed fitting time.
fn gather_shards(args: &SelectArgs, settings: &SelectionSettings) -> Result<(Selection, f64)> {
    let dir = args.out.join("shards");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| {
            format!(
                "--gather: reading {} (written by `plasticity select ... --out {} --shard I/N`)",
                dir.display(),
                args.out.display()
            )
        })?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("shard_") && n.ends_with(".json"))
        })
        .collect();
    paths.sort();
    if paths.is_empty() {
        bail!("--gather: no shard_*_of_*.json in {}", dir.display());
    }
    let expected = serde_json::to_value(settings).context("the settings as JSON")?;
    let mut shards = Vec::with_capacity(paths.len());
    let mut seconds = 0.0;
    for path in &paths {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("--gather: reading {}", path.display()))?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("--gather: {} is not valid JSON", path.display()))?;
        if value["config"] != expected {
            bail!(
                "--gather: {} was written with other settings than these flags (pool, \
                 folds, fits...): gather with the flags the shards ran with",
                path.display()
            );
        }
        let shard: SelectionShard = serde_json::from_value(value["shard"].clone())
            .with_context(|| format!("--gather: {} holds no shard", path.display()))?;
        seconds += value["seconds"].as_f64().unwrap_or(0.0);
        shards.push(shard);
    }
    let selection = merge_shards(&shards, settings.tolerance)
        .map_err(as_flag)
        .with_context(|| format!("--gather: the shards in {}", dir.display()))?;
    Ok((selection, seconds))
}

fn parse_tolerance(text: &str) -> Result<Tolerance> {
    let trimmed = text.trim();
    let (number, standard_errors) = match trimmed.strip_suffix("se") {
        Some(rest) => (rest.trim(), true),
        None => (trimmed, false),
    };
    let value: f64 = number.parse().with_context(|| {
        format!("--tolerance: expected a number of deviance units (e.g. 2) or of standard errors (e.g. 1se), got '{text}'")
    })?;
    if !(value.is_finite() && value >= 0.0) {
        bail!("--tolerance: must be a non-negative number, got '{text}'");
    }
    Ok(if standard_errors {
        Tolerance::StandardErrors(value)
    } else {
        Tolerance::Deviance(value)
    })
}

fn settings_of(args: &SelectArgs) -> Result<SelectionSettings> {
    let flag = |key: &str| format!("--{key}");
    let pool = parse_terms(&args.pool, "pool").with_context(|| flag("pool"))?;
    let required = parse_terms(&args.required, "required").with_context(|| flag("required"))?;
    if args.epochs == 0 {
        bail!("--epochs: must be at least 1");
    }
    if !(args.l1.is_finite() && args.l1 >= 0.0) {
        bail!("--l1: must be ≥ 0, got {}", args.l1);
    }
    if !(args.learning_rate.is_finite() && args.learning_rate > 0.0) {
        bail!("--learning-rate: must be > 0, got {}", args.learning_rate);
    }
    let mut settings = SelectionSettings {
        pool,
        required,
        max_terms: args.max_terms,
        search: match args.search {
            SearchArg::Subsets => SearchKind::Subsets,
            SearchArg::Forward => SearchKind::Forward,
            SearchArg::Backward => SearchKind::Backward,
        },
        folds: args.folds,
        tolerance: parse_tolerance(&args.tolerance)?,
        l1_path: args.l1_path.then(|| L1PathSettings {
            lambdas: args.l1_lambdas,
            ratio: args.l1_ratio,
            iterations: args.l1_iterations,
            ..L1PathSettings::default()
        }),
        ..SelectionSettings::default()
    };
    settings.fit.fit.optimizer = match args.optimizer {
        OptimizerArg::Adam => OptimizerKind::Adam,
        OptimizerArg::Lbfgs => OptimizerKind::Lbfgs,
    };
    settings.fit.fit.epochs = args.epochs;
    settings.fit.fit.learning_rate = args.learning_rate;
    settings.fit.fit.l1 = args.l1;
    settings.fit.fit.seed = args.seed;
    settings.fit.input_seed = args.input_seed;
    settings.fit.weight_bound = weight_bound(&args.weight_bound)?;
    Ok(settings)
}

/// A library configuration error as the flag that caused it.
fn as_flag(error: plasticity::Error) -> anyhow::Error {
    match &error {
        plasticity::Error::Config { key, .. } => {
            let key = key.clone();
            anyhow::Error::new(error).context(format!("--{key}"))
        }
        _ => anyhow::Error::new(error),
    }
}

pub(crate) fn select_command(args: &SelectArgs) -> Result<()> {
    let settings = settings_of(args)?;
    let dataset = BehaviourDataset::load(&args.data)
        .with_context(|| format!("reading behaviour dataset {}", args.data.display()))?;
    plasticity::pipeline::selection::check_settings(&settings, dataset.n_sessions())
        .map_err(as_flag)?;
    if let Some(text) = &args.shard {
        return run_shard(args, &settings, &dataset, text);
    }
    let quiet = crate::output::quiet();
    let planned = planned_fits(args, &settings, quiet)?;
    let start = Instant::now();
    let (selection, shard_seconds) = if args.gather {
        let (mut selection, shard_seconds) = gather_shards(args, &settings)?;
        if let Some(path) = &settings.l1_path {
            if !quiet {
                eprintln!("the L1 path ({} λ values)", path.lambdas);
            }
            selection.l1_path = Some(
                plasticity::pipeline::selection::l1_path(&dataset, &settings).map_err(as_flag)?,
            );
        }
        (selection, Some(shard_seconds))
    } else {
        (
            select_journaled(args, &settings, &dataset, planned, quiet)?,
            None,
        )
    };
    let seconds = start.elapsed().as_secs_f64();
    tracing::info!(seconds, fits = selection.fits, "selection finished");
    std::fs::create_dir_all(args.out.join("figures"))
        .with_context(|| format!("creating {}", args.out.join("figures").display()))?;
    write_text(&args.out.join("selection.csv"), &selection_csv(&selection))?;
    write_json(
        &args.out.join("selection.json"),
        &json!({
            "stop_reason": "completed",
            "config": settings,
            "data": {
                "path": args.data.display().to_string(),
                "sessions": dataset.n_sessions(),
                "presentations": selection.n_presentations,
                "generating_rule": dataset.generating_rule(),
            },
            "seed": args.seed,
            "input_seed": args.input_seed,
            "version": plasticity::VERSION,
            "seconds": seconds,
            "shard_seconds": shard_seconds,
            "threads": rayon::current_num_threads(),
            "best": selection.best,
            "equivalent": selection.equivalent,
            "folds": selection.folds,
            "fits": selection.fits,
            "candidates": selection.candidates,
            "l1_path": selection.l1_path,
        }),
    )?;
    draw_figures(&args.out.join("figures"), &selection, &settings)?;
    print_summary(&selection, &settings);
    if !quiet {
        eprintln!(
            "{} fits in {:.1} s; wrote {}",
            selection.fits,
            seconds,
            args.out.display()
        );
    }
    Ok(())
}

/// One row per term set, best first.
pub(crate) fn selection_csv(selection: &Selection) -> String {
    let mut out = String::from(
        "rank,terms,n_terms,heldout_deviance,deviance_se,difference_from_best,difference_se,negative_log_likelihood,aic,bic,within_tolerance,coefficients\n",
    );
    for c in &selection.candidates {
        let terms = if c.terms.is_empty() {
            "(none)".to_string()
        } else {
            c.terms.join(",")
        };
        let coefficients = c
            .terms
            .iter()
            .zip(&c.coefficients)
            .map(|(t, v)| format!("{t}={v:.6}"))
            .collect::<Vec<_>>()
            .join(" ");
        out.push_str(&format!(
            "{},{},{},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{},{}\n",
            c.rank,
            csv_field(&terms),
            c.terms.len(),
            c.heldout_deviance,
            c.deviance_se,
            c.difference_from_best,
            c.difference_se,
            c.negative_log_likelihood,
            c.aic,
            c.bic,
            c.within_tolerance,
            csv_field(&coefficients),
        ));
    }
    out
}

fn draw_figures(dir: &Path, selection: &Selection, settings: &SelectionSettings) -> Result<()> {
    let finite: Vec<(f64, f64, bool)> = selection
        .candidates
        .iter()
        .filter(|c| c.difference_from_best.is_finite())
        .map(|c| (c.rank as f64, c.difference_from_best, c.within_tolerance))
        .collect();
    let all: Vec<(f64, f64)> = finite.iter().map(|p| (p.0, p.1)).collect();
    let within: Vec<(f64, f64)> = finite.iter().filter(|p| p.2).map(|p| (p.0, p.1)).collect();
    let mut series = vec![Series::new("term sets", all).colour(0)];
    if !within.is_empty() {
        series.push(Series::new("within tolerance", within).colour(3));
    }
    if let Tolerance::Deviance(units) = settings.tolerance {
        let last = selection.candidates.len().max(2) as f64;
        series.push(
            Series::new(
                format!("tolerance ({units})"),
                vec![(1.0, units), (last, units)],
            )
            .dashed()
            .colour(1),
        );
    }
    line_plot(
        &dir.join("heldout_deviance"),
        &format!(
            "Held-out deviance of {} term sets (best: {{{}}})",
            selection.candidates.len(),
            selection.best.join(", ")
        ),
        "rank",
        "held-out deviance − best",
        &series,
        false,
        false,
    )
    .context("drawing figures/heldout_deviance")?;
    if let Some(path) = &selection.l1_path {
        let mut series: Vec<Series> = path
            .terms
            .iter()
            .enumerate()
            .map(|(i, term)| {
                Series::new(
                    term.clone(),
                    path.lambdas
                        .iter()
                        .zip(&path.coefficients)
                        .map(|(l, c)| (*l, c[i]))
                        .collect(),
                )
            })
            .collect();
        let values = path.coefficients.iter().flatten().copied();
        let (low, high) = values.fold((0.0f64, 0.0f64), |(a, b), v| (a.min(v), b.max(v)));
        series.push(
            Series::new(
                format!("λ_min {:.2e}", path.lambda_min),
                vec![(path.lambda_min, low), (path.lambda_min, high)],
            )
            .dashed()
            .colour(6),
        );
        if path.index_1se != path.index_min {
            series.push(
                Series::new(
                    format!("λ_1se {:.2e}", path.lambda_1se),
                    vec![(path.lambda_1se, low), (path.lambda_1se, high)],
                )
                .dashed()
                .colour(5),
            );
        }
        line_plot(
            &dir.join("l1_path"),
            "L1 path: coefficients against λ (fitted on all sessions)",
            "λ",
            "coefficient",
            &series,
            true,
            false,
        )
        .context("drawing figures/l1_path")?;
        line_plot(
            &dir.join("l1_cross_validation"),
            "L1 path: held-out deviance against λ",
            "λ",
            "held-out deviance",
            &[Series::new(
                "held-out deviance",
                path.lambdas
                    .iter()
                    .zip(&path.heldout_deviance)
                    .filter(|(_, d)| d.is_finite())
                    .map(|(l, d)| (*l, *d))
                    .collect(),
            )],
            true,
            false,
        )
        .context("drawing figures/l1_cross_validation")?;
    }
    Ok(())
}

/// The fits the search runs at most (for the progress bar), said in a note.
fn planned_fits(args: &SelectArgs, settings: &SelectionSettings, quiet: bool) -> Result<usize> {
    let planned = match settings.search {
        SearchKind::Subsets => {
            let sets = subset_candidates(settings).map_err(as_flag)?;
            let fitted = sets.iter().filter(|s| !s.is_empty()).count();
            if !quiet && !args.gather {
                eprintln!(
                    "scoring {} term sets from a pool of {} ({}-fold cross-validation by session, {} fits){}",
                    sets.len(),
                    settings.pool.len(),
                    settings.folds,
                    fitted * (settings.folds + 1),
                    if settings.l1_path.is_some() { ", then the L1 path" } else { "" }
                );
            }
            fitted * (settings.folds + 1)
        }
        SearchKind::Forward => {
            // at most: each step adds one term of those left
            let free = settings.pool.len() - settings.required.len();
            let steps = settings.max_terms - settings.required.len();
            let sets: usize = (0..steps).map(|i| free.saturating_sub(i)).sum::<usize>() + 1;
            if !quiet {
                eprintln!(
                    "forward stepwise over a pool of {} ({}-fold cross-validation by session, at most {} fits)",
                    settings.pool.len(),
                    settings.folds,
                    sets * (settings.folds + 1)
                );
            }
            sets * (settings.folds + 1)
        }
        SearchKind::Backward => {
            // at most: the pool, then each step one set per droppable term left
            let free = settings.pool.len() - settings.required.len();
            let sets: usize = (0..free).map(|i| free - i).sum::<usize>() + 1;
            if !quiet {
                eprintln!(
                    "backward stepwise from a pool of {} ({}-fold cross-validation by session, at most {} fits)",
                    settings.pool.len(),
                    settings.folds,
                    sets * (settings.folds + 1)
                );
            }
            sets * (settings.folds + 1)
        }
    };
    Ok(planned)
}

/// The search, journaled in --out (so that --resume skips the fits done), with a
/// progress bar over the `planned` fits.
fn select_journaled(
    args: &SelectArgs,
    settings: &SelectionSettings,
    dataset: &BehaviourDataset,
    planned: usize,
    quiet: bool,
) -> Result<Selection> {
    let fingerprint = serde_json::to_string(&json!({
        "settings": settings,
        "data": args.data.display().to_string(),
        "data_bytes": std::fs::metadata(&args.data).map(|m| m.len()).ok(),
        "version": plasticity::VERSION,
    }))?;
    let journal = DirJournal::open(&args.out, &fingerprint, args.resume)?;
    if args.resume && !quiet {
        eprintln!("resuming: {} fits already done", journal.len());
    }
    let bar = crate::output::progress_bar(planned, "fits");
    let done = AtomicUsize::new(0);
    let selection = select_terms(
        dataset,
        settings,
        &|| {
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            bar.set_position(n as u64);
            tracing::debug!(fits = n, "selection fit done");
        },
        &journal,
    );
    bar.finish_and_clear();
    let selection = match selection {
        Err(error @ plasticity::Error::Interrupted { .. }) => journal.outcome(
            Err(error),
            &args.out.join("selection.json"),
            &crate::journal::command_line(),
        )?,
        other => other.map_err(as_flag)?,
    };
    journal.finish()?;
    Ok(selection)
}

/// The lines printed: the best set, its equivalents and the L1 path's choices.
fn print_summary(selection: &Selection, settings: &SelectionSettings) {
    show!(
        "best: {{{}}}; {} term set(s) within {} of it: {}",
        selection.best.join(", "),
        selection.equivalent.len(),
        match settings.tolerance {
            Tolerance::Deviance(v) => format!("{v} units of deviance"),
            Tolerance::StandardErrors(v) => format!("{v} paired standard errors"),
        },
        selection
            .equivalent
            .iter()
            .map(|s| format!("{{{}}}", s.join(", ")))
            .collect::<Vec<_>>()
            .join(" ")
    );
    if let Some(path) = &selection.l1_path {
        let chosen = |j: usize| {
            path.terms
                .iter()
                .zip(&path.coefficients[j])
                .filter(|(_, v)| **v != 0.0)
                .map(|(t, v)| format!("{t} {v:+.4}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        show!(
            "L1 path: λ_min {:.3e} ({}); λ_1se {:.3e} ({})",
            path.lambda_min,
            chosen(path.index_min),
            path.lambda_1se,
            chosen(path.index_1se)
        );
    }
}
