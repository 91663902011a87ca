//! `plasticity design`: the power to detect a term (e.g. a forgetting term) as a
//! function of the number of animals and trials (the library's `design` module);
//! writes OUT/power.csv, OUT/design.json and OUT/figures/.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use serde_json::json;

use plasticity::pipeline::design::{power_analysis_journaled, DesignSettings, PowerAnalysis};

use crate::journal::DirJournal;
use plasticity::report::figures::{line_plot, Series};
use plasticity::report::{write_json, write_text};
use plasticity::task::BehaviourTask;

#[derive(Args, Debug)]
pub(crate) struct DesignArgs {
    /// The rule that generates the data.
    #[arg(long, default_value = "x*r - 0.05*w")]
    rule_true: String,
    /// The null rule: its terms are the null model; the alternative adds the true
    /// rule's other terms.
    #[arg(long, default_value = "x*r")]
    rule_null: String,
    /// Numbers of animals (sessions), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "6,12,18,36")]
    animals: Vec<usize>,
    /// Trials per session, comma-separated (multiples of --blocks).
    #[arg(long, value_delimiter = ',', default_value = "120,240,480")]
    trials: Vec<usize>,
    /// Simulated datasets per design.
    #[arg(long, default_value_t = 20)]
    replicates: usize,
    /// Level of the likelihood-ratio test.
    #[arg(long, default_value_t = 0.01)]
    alpha: f64,
    /// Blocks per session.
    #[arg(long, default_value_t = 3)]
    blocks: usize,
    /// Reward probabilities (p_A, p_B) of each block, "pA,pB;pA,pB;…", used cyclically.
    #[arg(long, default_value = "0.2,0.8;0.9,0.1;0.2,0.8")]
    reward_probabilities: String,
    /// L-BFGS iterations of each fit.
    #[arg(long, default_value_t = 100)]
    iterations: usize,
    /// Base seed of the simulations.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    /// Continue an interrupted run (Ctrl-C, SIGTERM) in the same --out with the same
    /// flags: the replicates it finished (kept in OUT/checkpoint/) are not run again.
    #[arg(long)]
    resume: bool,
}

pub(crate) fn design_command(args: &DesignArgs) -> Result<()> {
    let started = Instant::now();
    let settings = DesignSettings {
        rule_true: args.rule_true.clone(),
        rule_null: args.rule_null.clone(),
        animals: args.animals.clone(),
        trials: args.trials.clone(),
        replicates: args.replicates,
        alpha: args.alpha,
        task: BehaviourTask {
            n_blocks: args.blocks,
            reward_probabilities: crate::flags::reward_probabilities(&args.reward_probabilities)?,
            ..BehaviourTask::default()
        },
        iterations: args.iterations,
        seed: args.seed,
    };
    if !crate::output::quiet() {
        eprintln!(
            "power to detect {{{}}}: {} designs × {} replicates × 2 fits",
            args.rule_true,
            args.animals.len() * args.trials.len(),
            args.replicates
        );
    }
    let fingerprint = serde_json::to_string(&json!({
        "settings": settings,
        "alpha": args.alpha,
        "version": plasticity::VERSION,
    }))?;
    let journal = DirJournal::open(&args.out, &fingerprint, args.resume)?;
    let analysis = journal.outcome(
        power_analysis_journaled(&settings, &journal),
        &args.out.join("design.json"),
        &crate::journal::command_line(),
    )?;
    let wall = started.elapsed().as_secs_f64();
    std::fs::create_dir_all(args.out.join("figures"))
        .with_context(|| format!("creating {}", args.out.join("figures").display()))?;
    write_text(
        &args.out.join("power.csv"),
        &power_csv(&analysis, args.alpha),
    )?;
    write_json(
        &args.out.join("design.json"),
        &json!({
            "stop_reason": "completed",
            "analysis": analysis,
            "settings": settings,
            "seed": args.seed,
            "wall_time_s": wall,
            "threads": rayon::current_num_threads(),
            "version": plasticity::VERSION,
        }),
    )?;
    draw(&args.out.join("figures"), &analysis, args)?;
    journal.finish()?;
    show!(
        "{:>7}  {:>6}  {:>13}  {:>10}  {:>12}  {:>10}",
        "animals",
        "trials",
        "presentations",
        "mean Δ NLL",
        "power",
        "mean θ"
    );
    for d in &analysis.designs {
        show!(
            "{:>7}  {:>6}  {:>13.0}  {:>10.2}  {:>5.2} ± {:.2}  {:>10.4}",
            d.animals,
            d.trials,
            d.mean_presentations,
            d.mean_log_likelihood_difference,
            d.power,
            d.power_se,
            d.mean_extra_theta.first().copied().unwrap_or(f64::NAN)
        );
    }
    if !crate::output::quiet() {
        eprintln!("{wall:.1} s; written to {}", args.out.display());
    }
    Ok(())
}

/// One row per design.
fn power_csv(analysis: &PowerAnalysis, alpha: f64) -> String {
    let mut csv = String::from(
        "animals,trials,replicates,alpha,power,power_se,mean_log_likelihood_difference,\
         sd_log_likelihood_difference,median_p_value,mean_presentations",
    );
    for term in &analysis.extra_terms {
        write!(csv, ",mean_theta_{term}").expect("writing to a String");
    }
    csv.push('\n');
    for d in &analysis.designs {
        write!(
            csv,
            "{},{},{},{},{},{},{},{},{},{}",
            d.animals,
            d.trials,
            d.replicates,
            alpha,
            d.power,
            d.power_se,
            d.mean_log_likelihood_difference,
            d.sd_log_likelihood_difference,
            d.median_p_value,
            d.mean_presentations
        )
        .expect("writing to a String");
        for v in &d.mean_extra_theta {
            write!(csv, ",{v}").expect("writing to a String");
        }
        csv.push('\n');
    }
    csv
}

fn draw(dir: &std::path::Path, analysis: &PowerAnalysis, args: &DesignArgs) -> Result<()> {
    let by_animals: Vec<Series> = args
        .animals
        .iter()
        .enumerate()
        .map(|(i, &a)| {
            Series::new(
                format!("{a} animals"),
                analysis
                    .designs
                    .iter()
                    .filter(|d| d.animals == a)
                    .map(|d| (d.trials as f64, d.power))
                    .collect(),
            )
            .colour(i)
        })
        .collect();
    let extra = analysis.extra_terms.join(", ");
    line_plot(
        &dir.join("power_vs_trials"),
        &format!(
            "Power to detect {{{extra}}} (LR test, α = {}): true {}",
            args.alpha, args.rule_true
        ),
        "trials per session",
        &format!("power ({} replicates per point)", args.replicates),
        &by_animals,
        true,
        false,
    )?;
    let by_trials: Vec<Series> = args
        .trials
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            Series::new(
                format!("{t} trials"),
                analysis
                    .designs
                    .iter()
                    .filter(|d| d.trials == t)
                    .map(|d| (d.animals as f64, d.mean_log_likelihood_difference.max(1e-3)))
                    .collect(),
            )
            .colour(i)
        })
        .collect();
    line_plot(
        &dir.join("log_likelihood_difference"),
        &format!(
            "Expected log-likelihood gain of {{{extra}}}: true {}",
            args.rule_true
        ),
        "animals",
        "mean NLL(null) − NLL(alternative)",
        &by_trials,
        true,
        true,
    )?;
    Ok(())
}
