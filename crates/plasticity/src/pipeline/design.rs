//! Experiment design: how many animals and trials would tell two candidate rules apart?
//!
//! For every design (number of animals `A`, trials per session `T`, and the task's
//! reward probabilities and blocks), `R` datasets are simulated under the *true* rule
//! (each with its own seed), and two nested models are fitted to each by maximum
//! likelihood (L-BFGS from θ = 0, no penalty, the recorded inputs): the *null* model
//! (the terms of the null rule, e.g. `{x*r}`) and the *alternative* (the union of the
//! true and the null rule's terms, e.g. `{w, x*r}`).
//!
//! - **Log-likelihood difference** `Δ = NLL_null − NLL_alt ≥ 0`, with
//!   `NLL = Σ_s P_s ℓ̄_s(θ̂)` the negative log-likelihood of every choice; its mean over
//!   replicates estimates the expected log-likelihood ratio of the design.
//! - **Likelihood-ratio test** of the null: `Λ = 2Δ`, `p = P(χ²_df > Λ)` with `df` the
//!   number of extra terms (Wilks); **power** at level `α` is the fraction of replicates
//!   with `p < α`, with its binomial standard error `√(π̂(1 − π̂)/R)`.
//!
//! Each replicate's seed is a SplitMix64 mix of the run seed, `A`, `T` and the
//! replicate's index, and every fit is deterministic, so the same settings give the same
//! table on any number of threads.
//!
//! The fits use the simulated inputs exactly (an animal's sensory noise is in practice
//! unknown and re-sampled, which loses a little information), and the fit minimises the
//! mean over sessions of each session's mean cross-entropy, which is the maximum
//! likelihood up to the weighting of unequally long sessions; so the power is that of
//! an idealised analysis of the model's own data.

use std::ops::ControlFlow;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::fit::OptimizerKind;
use crate::journal::{all_or_interrupted, unit, Journal, NoJournal};
use crate::objective::BehaviourObjective;
use crate::pipeline::behaviour::{fit_behaviour, BehaviourFitSettings, InputSource};
use crate::rule::{parse_expression, term_names, TaylorRule, Variables};
use crate::task::BehaviourTask;
use crate::{Error, Result};

/// What a power analysis runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DesignSettings {
    /// The rule that generates the data (e.g. `x*r - 0.05*w`).
    pub rule_true: String,
    /// The rule of the null hypothesis (e.g. `x*r`): its terms are the null model.
    pub rule_null: String,
    /// Numbers of animals (sessions) to try.
    pub animals: Vec<usize>,
    /// Trials per session to try (split evenly over the task's blocks).
    pub trials: Vec<usize>,
    /// Simulated datasets per design.
    pub replicates: usize,
    /// Level of the likelihood-ratio test.
    pub alpha: f64,
    /// The task (blocks, reward probabilities, circuit); `sessions`,
    /// `trials_per_block`, `rule` and `seed` are set per design and replicate.
    pub task: BehaviourTask,
    /// L-BFGS iterations of each fit.
    pub iterations: usize,
    /// Base seed.
    pub seed: u64,
}

impl Default for DesignSettings {
    fn default() -> Self {
        DesignSettings {
            rule_true: "x*r - 0.05*w".into(),
            rule_null: "x*r".into(),
            animals: vec![6, 12, 18, 36],
            trials: vec![120, 240, 480],
            replicates: 20,
            alpha: 0.01,
            task: BehaviourTask::default(),
            iterations: 100,
            seed: 0,
        }
    }
}

/// One simulated dataset of one design, and the two fits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Replicate {
    /// Animals.
    pub animals: usize,
    /// Trials per session.
    pub trials: usize,
    /// Replicate index.
    pub replicate: usize,
    /// The simulation's seed.
    pub seed: u64,
    /// Presentations (choices) in the dataset.
    pub presentations: usize,
    /// `NLL_null − NLL_alt`.
    pub log_likelihood_difference: f64,
    /// `P(χ²_df > 2Δ)`.
    pub p_value: f64,
    /// The alternative's fitted coefficients of its terms (in the order of
    /// [`PowerAnalysis::alternative_terms`]).
    pub alternative_theta: Vec<f64>,
}

/// One design's row of the power table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DesignPower {
    /// Animals.
    pub animals: usize,
    /// Trials per session.
    pub trials: usize,
    /// Replicates.
    pub replicates: usize,
    /// Fraction of replicates with `p < α`.
    pub power: f64,
    /// Its binomial standard error.
    pub power_se: f64,
    /// Mean of `NLL_null − NLL_alt` over replicates.
    pub mean_log_likelihood_difference: f64,
    /// Its standard deviation over replicates.
    pub sd_log_likelihood_difference: f64,
    /// Median p-value.
    pub median_p_value: f64,
    /// Mean presentations per dataset.
    pub mean_presentations: f64,
    /// Mean of each extra term's fitted coefficient (in the order of
    /// [`PowerAnalysis::extra_terms`]).
    pub mean_extra_theta: Vec<f64>,
}

/// The whole analysis.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PowerAnalysis {
    /// Terms of the null model.
    pub null_terms: Vec<String>,
    /// Terms of the alternative.
    pub alternative_terms: Vec<String>,
    /// The terms the test is about (alternative minus null).
    pub extra_terms: Vec<String>,
    /// Degrees of freedom of the test.
    pub degrees_of_freedom: usize,
    /// One row per design, animals then trials ascending.
    pub designs: Vec<DesignPower>,
    /// Every replicate.
    pub replicates: Vec<Replicate>,
}

/// The terms with a non-zero coefficient in `rule` (canonical order).
fn rule_terms(rule: &str, key: &str) -> Result<Vec<usize>> {
    let theta = parse_expression(rule, Variables::Xywr)
        .map_err(|e| Error::config(key, format!("'{rule}': {e}")))?;
    Ok((0..theta.len()).filter(|&k| theta[k] != 0.0).collect())
}

/// SplitMix64 of a combination of the run seed and a design's coordinates.
fn replicate_seed(seed: u64, animals: usize, trials: usize, replicate: usize) -> u64 {
    let mut z = seed
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add((animals as u64) << 40)
        .wrapping_add((trials as u64) << 20)
        .wrapping_add(replicate as u64);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl DesignSettings {
    fn validate(&self) -> Result<()> {
        if self.animals.is_empty() || self.animals.contains(&0) {
            return Err(Error::config(
                "animals",
                "needs at least one number of animals, each at least 1",
            ));
        }
        if self.trials.is_empty() {
            return Err(Error::config(
                "trials",
                "needs at least one number of trials",
            ));
        }
        let blocks = self.task.n_blocks.max(1);
        if let Some(t) = self.trials.iter().find(|&&t| t < blocks || t % blocks != 0) {
            return Err(Error::config(
                "trials",
                format!(
                    "{t} trials cannot be split evenly over {blocks} blocks: give multiples \
                     of {blocks}"
                ),
            ));
        }
        if self.replicates == 0 {
            return Err(Error::config("replicates", "must be at least 1"));
        }
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return Err(Error::config(
                "alpha",
                format!("must be strictly between 0 and 1, got {}", self.alpha),
            ));
        }
        if self.iterations == 0 {
            return Err(Error::config("iterations", "must be at least 1"));
        }
        Ok(())
    }
}

/// Runs the power analysis (see the module's doc); all replicates in parallel.
pub fn power_analysis(settings: &DesignSettings) -> Result<PowerAnalysis> {
    power_analysis_journaled(settings, &NoJournal)
}

/// [`power_analysis`], each replicate a unit of `journal`: recorded when done,
/// replayed when resumed, skipped once a stop is requested ([`Error::Interrupted`]).
pub fn power_analysis_journaled(
    settings: &DesignSettings,
    journal: &dyn Journal,
) -> Result<PowerAnalysis> {
    settings.validate()?;
    let names = term_names(Variables::Xywr);
    let true_terms = rule_terms(&settings.rule_true, "rule-true")?;
    let null_terms = rule_terms(&settings.rule_null, "rule-null")?;
    let mut alternative: Vec<usize> = true_terms.iter().chain(&null_terms).copied().collect();
    alternative.sort_unstable();
    alternative.dedup();
    let extra: Vec<usize> = alternative
        .iter()
        .copied()
        .filter(|k| !null_terms.contains(k))
        .collect();
    if extra.is_empty() {
        return Err(Error::config(
            "rule-true",
            format!(
                "'{}' has no term that '{}' lacks: there is nothing to detect",
                settings.rule_true, settings.rule_null
            ),
        ));
    }
    let join = |terms: &[usize]| -> String {
        terms
            .iter()
            .map(|&k| names[k].as_str())
            .collect::<Vec<_>>()
            .join(",")
    };
    let null_spec = join(&null_terms);
    let alternative_spec = join(&alternative);
    let mut jobs = Vec::new();
    for &animals in &settings.animals {
        for &trials in &settings.trials {
            for replicate in 0..settings.replicates {
                jobs.push((animals, trials, replicate));
            }
        }
    }
    let df = extra.len();
    let replicates: Vec<Option<Replicate>> = jobs
        .par_iter()
        .map(|&(animals, trials, replicate)| {
            let key = format!("design/{animals}x{trials}/replicate{replicate}");
            unit(journal, &key, || {
                run_replicate(
                    settings,
                    (animals, trials, replicate),
                    (&null_spec, &alternative_spec),
                    (&alternative, df),
                )
            })
        })
        .collect::<Result<_>>()?;
    let replicates = all_or_interrupted("the power analysis", replicates)?;
    let extra_positions: Vec<usize> = extra
        .iter()
        .map(|k| alternative.iter().position(|a| a == k).unwrap_or(0))
        .collect();
    let mut designs = Vec::new();
    for &animals in &settings.animals {
        for &trials in &settings.trials {
            designs.push(design_power(
                settings,
                (animals, trials),
                &replicates,
                &extra_positions,
            ));
        }
    }
    let names_of = |terms: &[usize]| terms.iter().map(|&k| names[k].clone()).collect();
    Ok(PowerAnalysis {
        null_terms: names_of(&null_terms),
        alternative_terms: names_of(&alternative),
        extra_terms: names_of(&extra),
        degrees_of_freedom: df,
        designs,
        replicates,
    })
}

/// One replicate: `animals × trials` simulated from the true rule with its own seed,
/// the null and alternative term sets fitted by maximum likelihood, and the
/// likelihood-ratio test of the alternative's extra terms (`2ΔNLL ~ χ²_df`).
fn run_replicate(
    settings: &DesignSettings,
    (animals, trials, replicate): (usize, usize, usize),
    (null_spec, alternative_spec): (&str, &str),
    (alternative, df): (&[usize], usize),
) -> Result<Replicate> {
    let seed = replicate_seed(settings.seed, animals, trials, replicate);
    let task = BehaviourTask {
        sessions: animals,
        trials_per_block: trials / settings.task.n_blocks.max(1),
        rule: settings.rule_true.clone(),
        seed,
        ..settings.task.clone()
    };
    let data = task.simulate().map_err(|e| {
        Error::config(
            "design",
            format!("simulating {animals} animals × {trials} trials: {e}"),
        )
    })?;
    let (null_nll, _) = fitted_nll(&data, null_spec, settings.iterations)?;
    let (alternative_nll, alternative_theta) =
        fitted_nll(&data, alternative_spec, settings.iterations)?;
    let difference = null_nll - alternative_nll;
    Ok(Replicate {
        animals,
        trials,
        replicate,
        seed,
        presentations: data.n_presentations.iter().sum(),
        log_likelihood_difference: difference,
        p_value: chi_squared_survival(2.0 * difference.max(0.0), df),
        alternative_theta: alternative.iter().map(|&k| alternative_theta[k]).collect(),
    })
}

/// The maximum-likelihood fit (L-BFGS, unpenalised, from θ = 0) of the Taylor terms
/// `terms` to `data`: the negative log-likelihood summed over presentations, and θ.
fn fitted_nll(
    data: &crate::data::BehaviourDataset,
    terms: &str,
    iterations: usize,
) -> Result<(f64, Vec<f64>)> {
    let mut fit_settings = BehaviourFitSettings {
        trainable: terms.to_string(),
        init: "zeros".into(),
        inputs: InputSource::Recorded,
        eval_sessions: 0,
        ..BehaviourFitSettings::default()
    };
    fit_settings.fit.optimizer = OptimizerKind::Lbfgs;
    fit_settings.fit.epochs = iterations;
    fit_settings.fit.l1 = 0.0;
    let fitted = fit_behaviour(data, &fit_settings, &mut |_| ControlFlow::Continue(()))?;
    let objective = BehaviourObjective::new(
        data,
        data.inputs.clone(),
        crate::pipeline::behaviour::circuit_of(data, fit_settings.weight_bound),
        TaylorRule::new(Variables::Xywr),
        fit_settings.gradient,
    )?;
    let (losses, _) = objective.session_losses(&fitted.outcome.theta);
    let nll = losses
        .iter()
        .zip(&data.n_presentations)
        .map(|(l, &n)| l * n as f64)
        .sum();
    Ok((nll, fitted.outcome.theta))
}

/// The power of one design: the fraction of its replicates whose test rejects the
/// null at `alpha` (with its binomial standard error), and the replicates' means.
fn design_power(
    settings: &DesignSettings,
    (animals, trials): (usize, usize),
    replicates: &[Replicate],
    extra_positions: &[usize],
) -> DesignPower {
    let rows: Vec<&Replicate> = replicates
        .iter()
        .filter(|r| r.animals == animals && r.trials == trials)
        .collect();
    let n = rows.len() as f64;
    let power = rows.iter().filter(|r| r.p_value < settings.alpha).count() as f64 / n;
    let differences: Vec<f64> = rows.iter().map(|r| r.log_likelihood_difference).collect();
    let mean = differences.iter().sum::<f64>() / n;
    let sd = if rows.len() > 1 {
        (differences.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    DesignPower {
        animals,
        trials,
        replicates: rows.len(),
        power,
        power_se: (power * (1.0 - power) / n).sqrt(),
        mean_log_likelihood_difference: mean,
        sd_log_likelihood_difference: sd,
        median_p_value: crate::analysis::metrics::median(
            &rows.iter().map(|r| r.p_value).collect::<Vec<_>>(),
        ),
        mean_presentations: rows.iter().map(|r| r.presentations as f64).sum::<f64>() / n,
        mean_extra_theta: extra_positions
            .iter()
            .map(|&i| rows.iter().map(|r| r.alternative_theta[i]).sum::<f64>() / n)
            .collect(),
    }
}

/// `P(χ²_df > x)`: the regularised upper incomplete gamma function `Q(df/2, x/2)`
/// (series below `a + 1`, Lentz's continued fraction above; Numerical Recipes §6.2).
pub fn chi_squared_survival(x: f64, df: usize) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    let a = df as f64 / 2.0;
    let x = x / 2.0;
    let log_prefactor = -x + a * x.ln() - ln_gamma(a);
    if x < a + 1.0 {
        // P(a, x) by its series
        let (mut term, mut sum, mut ap) = (1.0 / a, 1.0 / a, a);
        for _ in 0..1000 {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if term.abs() < sum.abs() * 1e-15 {
                break;
            }
        }
        1.0 - sum * log_prefactor.exp()
    } else {
        // Q(a, x) by its continued fraction
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..1000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let delta = d * c;
            h *= delta;
            if (delta - 1.0).abs() < 1e-15 {
                break;
            }
        }
        log_prefactor.exp() * h
    }
}

/// `ln Γ(a)` for `a > 0` (Lanczos, g = 7, 9 terms; relative error below 1e-14).
fn ln_gamma(a: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if a < 0.5 {
        // reflection
        let pi = std::f64::consts::PI;
        return (pi / (pi * a).sin()).ln() - ln_gamma(1.0 - a);
    }
    let a = a - 1.0;
    let mut sum = C[0];
    for (i, &c) in C.iter().enumerate().skip(1) {
        sum += c / (a + i as f64);
    }
    let t = a + G + 0.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (a + 0.5) * t.ln() - t + sum.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chi_squared_survival_matches_tables() {
        // scipy.stats.chi2.sf
        let cases = [
            (3.841_458_820_694_124, 1, 0.05),
            (6.634_896_601_021_214, 1, 0.01),
            (5.991_464_547_107_979, 2, 0.05),
            (11.344_866_730_144_373, 3, 0.01),
            (0.5, 1, 0.479_500_122_186_953_5),
            (20.0, 4, 0.000_499_399_227_387_31),
        ];
        for (x, df, p) in cases {
            let q = chi_squared_survival(x, df);
            assert!(
                (q - p).abs() < 1e-9 * p.max(1e-3),
                "χ²_{df}({x}): {q} vs {p}"
            );
        }
        assert_eq!(chi_squared_survival(0.0, 1), 1.0);
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-12);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-12);
    }

    fn small(rule_true: &str) -> DesignSettings {
        DesignSettings {
            rule_true: rule_true.into(),
            rule_null: "x*r".into(),
            animals: vec![2, 4],
            trials: vec![60],
            replicates: 3,
            alpha: 0.05,
            iterations: 40,
            seed: 1,
            ..DesignSettings::default()
        }
    }

    #[test]
    fn power_rises_with_the_effect_and_is_reproducible() {
        let strong = power_analysis(&small("x*r - 0.2*w")).expect("analysis");
        assert_eq!(strong.null_terms, ["x*r"]);
        assert_eq!(strong.alternative_terms, ["w", "x*r"]);
        assert_eq!(strong.extra_terms, ["w"]);
        assert_eq!(strong.degrees_of_freedom, 1);
        assert_eq!(strong.designs.len(), 2);
        assert_eq!(strong.replicates.len(), 6);
        for r in &strong.replicates {
            // nested models: the alternative fits at least as well (up to the fit's
            // convergence), and p follows from the difference
            assert!(r.log_likelihood_difference > -1e-3, "{r:?}");
            let expected = chi_squared_survival(2.0 * r.log_likelihood_difference.max(0.0), 1);
            assert_eq!(r.p_value, expected);
        }
        // a strong forgetting term is found, and its sign
        let largest = strong.designs.last().expect("a design");
        assert!(largest.mean_log_likelihood_difference > 3.0, "{largest:?}");
        assert!(largest.mean_extra_theta[0] < 0.0, "{largest:?}");
        // the same settings, another thread count: the same table
        let again = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .expect("pool")
            .install(|| power_analysis(&small("x*r - 0.2*w")))
            .expect("analysis");
        assert_eq!(again, strong);
        // no effect: the expected difference is small (E[2Δ] = df = 1 under the null)
        let none = power_analysis(&small("x*r + 0*w")).err();
        assert!(none.is_some(), "a rule with no extra term is refused");
        let weak = power_analysis(&small("x*r - 0.005*w")).expect("analysis");
        assert!(
            weak.designs
                .last()
                .expect("a design")
                .mean_log_likelihood_difference
                < largest.mean_log_likelihood_difference
        );
    }

    #[test]
    fn bad_designs_are_errors_naming_the_setting() {
        for (settings, key) in [
            (
                DesignSettings {
                    animals: vec![],
                    ..small("x*r - 0.05*w")
                },
                "animals",
            ),
            (
                DesignSettings {
                    trials: vec![100],
                    ..small("x*r - 0.05*w")
                },
                "trials",
            ),
            (
                DesignSettings {
                    alpha: 0.0,
                    ..small("x*r - 0.05*w")
                },
                "alpha",
            ),
            (small("x*r"), "rule-true"),
            (small("x*q"), "rule-true"),
        ] {
            let error = power_analysis(&settings).expect_err(key);
            assert!(error.to_string().contains(key), "{key}: {error}");
        }
    }
}
