//! `plasticity posterior RUN_DIR`: NUTS posterior samples of a fit's trainable terms
//! (behaviour or neural activity) (the library's `posterior` module), written to RUN_DIR/posterior.json,
//! RUN_DIR/posterior_draws.csv and RUN_DIR/figures/posterior_pairs.{png,svg}.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::{json, Map};

use plasticity::analysis::identifiability::{
    analyse, behaviour_curvature, neural_curvature, Identifiability,
};
use plasticity::analysis::posterior::{
    sample_journaled, summarise, BehaviourPosterior, ChainDraws, CoordinateSummary, NutsSettings,
    Prior, ScaledObjectivePosterior, WEAK_PRIOR_SD,
};
use plasticity::data::{BehaviourDataset, Dataset, NeuralDataset};
use plasticity::gradient::GradientStrategy;
use plasticity::objective::NeuralObjective;
use plasticity::pipeline::behaviour::{
    circuit_of, resample_inputs, BehaviourFitSettings, InputSource,
};
use plasticity::pipeline::neural::NeuralFitSettings;
use plasticity::report::write_json;

use crate::journal::DirJournal;
use plasticity::rule::{term_names, TaylorRule, Variables};

use crate::fit_record::{read_record, trainable, FitRecord};

#[derive(Args, Debug)]
pub(crate) struct PosteriorArgs {
    /// The directory of a Taylor fit (behaviour or neural) (`plasticity fit DATA --out DIR`): its
    /// results.json gives θ, the trainable terms, the penalty and the data.
    run_dir: PathBuf,
    /// The dataset, if not at the path recorded in results.json.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Independent chains, run in parallel.
    #[arg(long, default_value_t = 4)]
    chains: usize,
    /// Draws per chain after warm-up.
    #[arg(long, default_value_t = 1000)]
    draws: usize,
    /// Warm-up draws per chain (step size and mass matrix tuning; discarded).
    #[arg(long, default_value_t = 1000)]
    warmup: usize,
    /// Seed of the chains (chain c uses stream c of ChaCha8(seed)): the same seed
    /// gives the same draws on any number of threads.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Largest NUTS tree depth.
    #[arg(long, default_value_t = 10)]
    max_depth: u64,
    /// Acceptance statistic the step size is tuned to (raise it, e.g. to 0.95, if
    /// there are divergences).
    #[arg(long, default_value_t = 0.8)]
    target_accept: f64,
    /// Continue an interrupted run (Ctrl-C, SIGTERM) with the same flags: the chains
    /// it finished (kept in OUT/checkpoint/) are not sampled again.
    #[arg(long)]
    resume: bool,
    /// The prior: `fit` (match the fit's penalty: Laplace for L1, Gaussian for L2,
    /// N(0, --weak-prior-sd²) without one), `normal:SD` or `laplace:SCALE`.
    #[arg(long, default_value = "fit")]
    prior: String,
    /// Standard deviation of the weak Gaussian prior of a fit without a penalty.
    #[arg(long, default_value_t = WEAK_PRIOR_SD)]
    weak_prior_sd: f64,
    /// Where posterior.json, posterior_draws.csv and figures/ go (default: RUN_DIR).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// The prior of `--prior` (see its help), and where it came from in words.
fn choose_prior(
    args: &PosteriorArgs,
    l1: f64,
    l2: f64,
    likelihood_scale: f64,
    scale_words: &str,
) -> Result<(Prior, String)> {
    let number = |text: &str| -> Result<f64> {
        text.trim()
            .parse::<f64>()
            .with_context(|| format!("--prior '{}': '{text}' is not a number", args.prior))
    };
    match args.prior.split_once(':') {
        None if args.prior == "fit" => {
            let prior = Prior::from_penalty(l1, l2, likelihood_scale, args.weak_prior_sd)
                .context("--weak-prior-sd")?;
            let source = if l1 > 0.0 || l2 > 0.0 {
                format!(
                    "the fit's penalty (l1 = {l1:e}, l2 = {l2:e}) on the likelihood's scale \
                     (c = {likelihood_scale:.6e}, {scale_words}): Laplace scale 1/(c l1), \
                     Gaussian sd 1/sqrt(2 c l2)"
                )
            } else {
                format!(
                    "the fit had no penalty: a weak Normal(0, {}²) prior",
                    args.weak_prior_sd
                )
            };
            Ok((prior, source))
        }
        Some(("normal", sd)) => Ok((
            Prior::gaussian(number(sd)?).context("--prior normal:SD")?,
            "given with --prior".into(),
        )),
        Some(("laplace", scale)) => Ok((
            Prior::laplace(number(scale)?).context("--prior laplace:SCALE")?,
            "given with --prior".into(),
        )),
        _ => bail!(
            "--prior '{}': expected 'fit', 'normal:SD' or 'laplace:SCALE'",
            args.prior
        ),
    }
}

/// What the sampler ran on, for the report.
struct Sampled {
    terms: Vec<String>,
    estimates: Vec<f64>,
    laplace: Identifiability,
    prior: Prior,
    prior_source: String,
    observations: usize,
    likelihood: String,
    chains: Vec<ChainDraws>,
}

/// Where the chains start: the fitted θ, spread by one Laplace SE per term (0.1 where
/// undetermined, at most 1).
fn spread_of(laplace: &Identifiability) -> Vec<f64> {
    laplace
        .standard_errors
        .iter()
        .map(|se| se.unwrap_or(0.1).min(1.0))
        .collect()
}

fn sample_behaviour(
    args: &PosteriorArgs,
    record: &FitRecord,
    dataset: &BehaviourDataset,
    nuts: &NutsSettings,
    journal: &DirJournal,
) -> Result<Sampled> {
    let settings: BehaviourFitSettings = serde_json::from_value(record.settings.clone())
        .context("reading config.settings of results.json (a behaviour fit)")?;
    let variables = Variables::Xywr;
    let names = term_names(variables);
    let parameters = trainable(&settings.trainable, variables)?;
    let inputs = match settings.inputs {
        InputSource::Resampled => resample_inputs(dataset, settings.input_seed)?,
        InputSource::Recorded => dataset.inputs.clone(),
    };
    let circuit = circuit_of(dataset, settings.weight_bound);
    let rule = TaylorRule::new(variables);
    let presentations: usize = dataset.n_presentations.iter().sum();
    let (prior, prior_source) = choose_prior(
        args,
        settings.fit.l1,
        settings.fit.l2,
        presentations as f64,
        "the number of presentations N",
    )?;
    // the Laplace approximation: where the chains start, and what they are compared with
    let curvature = behaviour_curvature(
        dataset,
        &inputs,
        &circuit,
        &rule,
        &record.theta,
        &parameters,
    )
    .context("computing the Fisher information at the fitted θ")?;
    let laplace =
        analyse(&curvature, &names, &record.theta).context("the Laplace approximation")?;
    let estimates: Vec<f64> = parameters.iter().map(|&k| record.theta[k]).collect();
    let posterior = BehaviourPosterior::new(
        dataset,
        inputs,
        circuit,
        rule,
        record.theta.clone(),
        parameters.clone(),
        prior,
    )?;
    announce(args, &laplace.terms);
    let chains = journal
        .outcome(
            sample_journaled(&posterior, &estimates, &spread_of(&laplace), nuts, journal),
            &journal.out().join("posterior.json"),
            &crate::journal::command_line(),
        )
        .context("sampling")?;
    Ok(Sampled {
        terms: laplace.terms.clone(),
        estimates,
        laplace,
        prior,
        prior_source,
        observations: presentations,
        likelihood: format!(
            "Bernoulli log-likelihood of all {presentations} recorded choices, \
             -sum_s P_s mean_p l_sp (the fit's loss is the mean over sessions of each \
             session's mean cross-entropy; here each session is weighted by its \
             presentations), the circuit driven by the fit's inputs, exact forward-mode \
             gradient"
        ),
        chains,
    })
}

fn sample_neural(
    args: &PosteriorArgs,
    record: &FitRecord,
    dataset: &NeuralDataset,
    nuts: &NutsSettings,
    journal: &DirJournal,
) -> Result<Sampled> {
    let settings: NeuralFitSettings = serde_json::from_value(record.settings.clone())
        .context("reading config.settings of results.json (a neural fit)")?;
    let variables = Variables::Xyw;
    let names = term_names(variables);
    let parameters = trainable(&settings.trainable, variables)?;
    let rule = TaylorRule::new(variables);
    let curvature = neural_curvature(dataset, &rule, &record.theta, &parameters)
        .context("computing the Gauss-Newton matrix at the fitted θ")?;
    let Some(variance) = curvature.residual_variance.filter(|v| *v > 0.0) else {
        bail!(
            "the fit in {} has zero residuals (noise-free data at the fitted θ): the \
             recording noise's variance, and so the likelihood, is undefined",
            args.run_dir.display()
        );
    };
    let scale = curvature.likelihood_scale;
    let (prior, prior_source) = choose_prior(
        args,
        settings.fit.l1,
        settings.fit.l2,
        scale,
        "n / (2 sigma^2) of the Gaussian recording model",
    )?;
    let laplace =
        analyse(&curvature, &names, &record.theta).context("the Laplace approximation")?;
    let estimates: Vec<f64> = parameters.iter().map(|&k| record.theta[k]).collect();
    let objective = NeuralObjective::new(dataset, rule, GradientStrategy::Checkpointed)?;
    let posterior = ScaledObjectivePosterior::new(
        &objective,
        scale,
        record.theta.clone(),
        parameters.clone(),
        prior,
    )?;
    announce(args, &laplace.terms);
    let chains = journal
        .outcome(
            sample_journaled(&posterior, &estimates, &spread_of(&laplace), nuts, journal),
            &journal.out().join("posterior.json"),
            &crate::journal::command_line(),
        )
        .context("sampling")?;
    Ok(Sampled {
        terms: laplace.terms.clone(),
        estimates,
        laplace,
        prior,
        prior_source,
        observations: curvature.observations,
        likelihood: format!(
            "Gaussian log-likelihood of all {} recorded values, -n/(2 sigma^2) x MSE with \
             the residual variance at the fit plugged in (sigma^2 = {variance:.6e}, not \
             sampled), exact adjoint gradient",
            curvature.observations
        ),
        chains,
    })
}

fn announce(args: &PosteriorArgs, terms: &[String]) {
    if !crate::output::quiet() {
        eprintln!(
            "NUTS: {} chains × ({} warm-up + {} draws) over {} terms ({})",
            args.chains,
            args.warmup,
            args.draws,
            terms.len(),
            terms.join(", ")
        );
    }
}

pub(crate) fn posterior_command(args: &PosteriorArgs) -> Result<()> {
    let started = Instant::now();
    let record = read_record(&args.run_dir, args.data.as_deref(), "posterior")?;
    let out = args.out.clone().unwrap_or_else(|| args.run_dir.clone());
    let nuts = NutsSettings {
        chains: args.chains,
        draws: args.draws,
        warmup: args.warmup,
        seed: args.seed,
        max_depth: args.max_depth,
        target_accept: args.target_accept,
    };
    let (sampled, journal) = sample(args, &record, &out, &nuts)?;
    let Sampled {
        terms,
        estimates,
        laplace,
        prior,
        prior_source,
        observations,
        likelihood,
        chains,
    } = sampled;
    let summaries = summarise(&chains);
    let wall_time = started.elapsed().as_secs_f64();
    let per_term = per_term_summaries(&terms, &summaries, &estimates, &laplace);
    let divergences: Vec<usize> = chains.iter().map(|c| c.divergences).collect();
    let total_divergences: usize = divergences.iter().sum();
    let max_rhat = summaries
        .iter()
        .map(|s| s.rhat)
        .fold(f64::NEG_INFINITY, f64::max);
    let min_ess = summaries
        .iter()
        .map(|s| s.ess_bulk)
        .fold(f64::INFINITY, f64::min);
    let report = json!({
        "stop_reason": "completed",
        "terms": terms,
        "summaries": per_term,
        "divergences": total_divergences,
        "max_rhat": max_rhat,
        "min_ess_bulk": min_ess,
        "chains": chains.iter().map(|c| json!({
            "chain": c.chain,
            "start": c.start,
            "divergences": c.divergences,
            "warmup_divergences": c.warmup_divergences,
            "max_depth_hits": c.max_depth_hits,
            "step_size": c.step_size,
            "gradient_evaluations": c.gradient_evaluations,
        })).collect::<Vec<_>>(),
        "prior": {
            "laplace_scale": prior.laplace_scale,
            "gaussian_sd": prior.gaussian_sd,
            "description": prior.describe(),
            "source": prior_source,
        },
        "likelihood": likelihood,
        "presentations": observations,
        "sampler": "NUTS (nuts-rs 0.19, diagonal mass matrix adapted during warm-up)",
        "config": nuts,
        "seed": args.seed,
        "fit_seed": record.seed,
        "fit": args.run_dir.join("results.json").display().to_string(),
        "data": record.data.display().to_string(),
        "wall_time_s": wall_time,
        "version": plasticity::VERSION,
    });
    std::fs::create_dir_all(out.join("figures"))
        .with_context(|| format!("creating {}", out.join("figures").display()))?;
    write_json(&out.join("posterior.json"), &report)?;
    journal.finish()?;
    let csv = draws_csv(&terms, &chains);
    let csv_path = out.join("posterior_draws.csv");
    plasticity::io::write_atomically(&csv_path, |w| w.write_all(csv.as_bytes()))?;
    let pooled: Vec<Vec<f64>> = (0..terms.len())
        .map(|k| plasticity::analysis::posterior::coordinate(&chains, k).concat())
        .collect();
    plasticity::report::figures::pair_plot(
        &out.join("figures").join("posterior_pairs"),
        &format!(
            "Posterior ({} chains × {} draws; cross: fitted θ)",
            args.chains, args.draws
        ),
        &terms,
        &pooled,
        Some(&estimates),
    )?;

    print_table(&terms, &summaries, &laplace);
    show!(
        "divergences: {total_divergences} ({}); max R-hat {max_rhat:.4}; min bulk ESS \
         {min_ess:.0}; prior {}; {wall_time:.1} s",
        divergences
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        prior.describe()
    );
    if !crate::output::quiet() {
        eprintln!(
            "written: {}, {} and {}",
            out.join("posterior.json").display(),
            csv_path.display(),
            out.join("figures").join("posterior_pairs.png").display()
        );
    }
    Ok(())
}

/// `summaries` of posterior.json: per term the NUTS summary, the fitted value and the
/// Laplace standard error and interval.
fn per_term_summaries(
    terms: &[String],
    summaries: &[CoordinateSummary],
    estimates: &[f64],
    laplace: &Identifiability,
) -> Map<String, serde_json::Value> {
    let mut per_term = Map::new();
    for (k, (term, s)) in terms.iter().zip(summaries).enumerate() {
        let laplace_interval = laplace.intervals[k].map(|(l, h)| vec![l, h]);
        per_term.insert(
            term.clone(),
            json!({
                "mean": s.mean,
                "sd": s.sd,
                "q2_5": s.q2_5,
                "q50": s.q50,
                "q97_5": s.q97_5,
                "interval": [s.q2_5, s.q97_5],
                "excludes_zero": s.q2_5 > 0.0 || s.q97_5 < 0.0,
                "rhat": s.rhat,
                "ess_bulk": s.ess_bulk,
                "ess_tail": s.ess_tail,
                "mcse_mean": s.mcse_mean,
                "fitted": estimates[k],
                "laplace_se": laplace.standard_errors[k],
                "laplace_interval": laplace_interval,
            }),
        );
    }
    per_term
}

/// posterior_draws.csv: chain, draw and every term's value.
fn draws_csv(terms: &[String], chains: &[ChainDraws]) -> String {
    let mut csv = String::from("chain,draw");
    for term in terms {
        write!(csv, ",{term}").expect("writing to a String");
    }
    csv.push('\n');
    for c in chains {
        for (d, draw) in c.draws.iter().enumerate() {
            write!(csv, "{},{d}", c.chain).expect("writing to a String");
            for v in draw {
                write!(csv, ",{v}").expect("writing to a String");
            }
            csv.push('\n');
        }
    }
    csv
}

/// The table printed: per term the posterior mean, sd, 95 % interval beside the
/// Laplace one, R-hat and bulk ESS.
fn print_table(terms: &[String], summaries: &[CoordinateSummary], laplace: &Identifiability) {
    show!(
        "{:>10}  {:>10}  {:>9}  {:>22}  {:>22}  {:>6}  {:>8}",
        "term",
        "mean",
        "sd",
        "95 % (NUTS)",
        "95 % (Laplace)",
        "R-hat",
        "ESS bulk"
    );
    for (k, (term, s)) in terms.iter().zip(summaries).enumerate() {
        let laplace_interval = laplace.intervals[k]
            .map(|(l, h)| format!("[{l:.4}, {h:.4}]"))
            .unwrap_or_else(|| "undetermined".into());
        show!(
            "{term:>10}  {:>10.4}  {:>9.4}  {:>22}  {laplace_interval:>22}  {:>6.3}  {:>8.0}",
            s.mean,
            s.sd,
            format!("[{:.4}, {:.4}]", s.q2_5, s.q97_5),
            s.rhat,
            s.ess_bulk
        );
    }
}

/// The draws of the fit's posterior, journaled in `out` (so that --resume keeps the
/// chains done); the journal is finished once the outputs are written.
fn sample(
    args: &PosteriorArgs,
    record: &FitRecord,
    out: &Path,
    nuts: &NutsSettings,
) -> Result<(Sampled, DirJournal)> {
    let dataset = Dataset::load(&record.data)
        .with_context(|| format!("reading dataset {}", record.data.display()))?;
    let fingerprint = serde_json::to_string(&json!({
        "run_dir": args.run_dir.display().to_string(),
        "data": record.data.display().to_string(),
        "settings": record.settings,
        "nuts": format!("{nuts:?}"),
        // every flag but --resume itself
        "args": format!("{args:?}").replace("resume: true", "resume: false"),
        "version": plasticity::VERSION,
    }))?;
    let journal = DirJournal::open(out, &fingerprint, args.resume)?;
    let sampled = match (&dataset, record.kind.as_str()) {
        (Dataset::Behaviour(dataset), "behaviour") => {
            sample_behaviour(args, record, dataset, nuts, &journal)?
        }
        (Dataset::Neural(dataset), "neural") => {
            sample_neural(args, record, dataset, nuts, &journal)?
        }
        (_, kind) => bail!(
            "{} is not a {kind} dataset, but results.json in {} is a {kind} fit",
            record.data.display(),
            args.run_dir.display()
        ),
    };
    Ok((sampled, journal))
}
