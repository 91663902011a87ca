//! The No-U-Turn sampler (nuts-rs) over a [`LogDensity`]: several chains, each from
//! its own seeded stream, journaled so an interrupted run resumes.

use std::collections::HashMap;

use nuts_rs::{Chain, CpuLogpFunc, CpuMath, CpuMathError, HasDims, LogpError, Settings};
use rand::rngs::ChaCha8Rng;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::density::LogDensity;
use crate::journal::{all_or_interrupted, unit, Journal, NoJournal};
use crate::{Error, Result};

/// How the sampler runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NutsSettings {
    /// Independent chains (run in parallel).
    pub chains: usize,
    /// Draws per chain after warm-up.
    pub draws: usize,
    /// Warm-up (tuning) draws per chain: step size and diagonal mass matrix.
    pub warmup: usize,
    /// Seed of every chain (chain `c` uses stream `c`).
    pub seed: u64,
    /// Largest tree depth (at most `2^depth − 1` leapfrog steps per draw).
    pub max_depth: u64,
    /// The acceptance statistic the step size is tuned to.
    pub target_accept: f64,
}

impl Default for NutsSettings {
    fn default() -> Self {
        NutsSettings {
            chains: 4,
            draws: 1000,
            warmup: 1000,
            seed: 0,
            max_depth: 10,
            target_accept: 0.8,
        }
    }
}

impl NutsSettings {
    fn validate(&self) -> Result<()> {
        if self.chains == 0 {
            return Err(Error::config("chains", "must be at least 1"));
        }
        if self.draws < 4 {
            return Err(Error::config(
                "draws",
                format!(
                    "must be at least 4 (split R-hat halves each chain), got {}",
                    self.draws
                ),
            ));
        }
        if !(1..=15).contains(&self.max_depth) {
            return Err(Error::config(
                "max-depth",
                format!("must be between 1 and 15, got {}", self.max_depth),
            ));
        }
        if !(self.target_accept > 0.0 && self.target_accept < 1.0) {
            return Err(Error::config(
                "target-accept",
                format!(
                    "must be strictly between 0 and 1, got {}",
                    self.target_accept
                ),
            ));
        }
        Ok(())
    }
}

/// One chain's draws after warm-up and what the sampler saw.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChainDraws {
    /// The chain's index.
    pub chain: usize,
    /// Its starting point.
    pub start: Vec<f64>,
    /// Draws after warm-up, one row per draw.
    pub draws: Vec<Vec<f64>>,
    /// Divergent transitions after warm-up.
    pub divergences: usize,
    /// Divergent transitions during warm-up (expected while the step size is tuned).
    pub warmup_divergences: usize,
    /// Draws after warm-up whose tree reached the largest depth.
    pub max_depth_hits: usize,
    /// The step size after warm-up.
    pub step_size: f64,
    /// Gradient evaluations, warm-up included.
    pub gradient_evaluations: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("the log-density is not finite at this point")]
struct NonFiniteDensity;

impl LogpError for NonFiniteDensity {
    fn is_recoverable(&self) -> bool {
        true
    }
}

/// `nuts-rs`'s view of a [`LogDensity`].
struct SamplerTarget<'a, D> {
    density: &'a D,
}

impl<D: LogDensity> HasDims for SamplerTarget<'_, D> {
    fn dim_sizes(&self) -> HashMap<String, u64> {
        HashMap::from([(
            "unconstrained_parameter".to_string(),
            self.density.dimension() as u64,
        )])
    }
}

impl<D: LogDensity> CpuLogpFunc for SamplerTarget<'_, D> {
    type LogpError = NonFiniteDensity;
    type FlowParameters = ();
    type ExpandedVector = Vec<f64>;

    fn dim(&self) -> usize {
        self.density.dimension()
    }

    fn logp(
        &mut self,
        position: &[f64],
        gradient: &mut [f64],
    ) -> std::result::Result<f64, Self::LogpError> {
        let value = self.density.log_density_and_gradient(position, gradient);
        if value.is_finite() && gradient.iter().all(|g| g.is_finite()) {
            Ok(value)
        } else {
            Err(NonFiniteDensity)
        }
    }

    fn expand_vector<G: rand::Rng + ?Sized>(
        &mut self,
        _rng: &mut G,
        position: &[f64],
    ) -> std::result::Result<Vec<f64>, CpuMathError> {
        Ok(position.to_vec())
    }
}

/// The generator of chain `chain`: `ChaCha8(seed)` on stream `chain`.
fn chain_rng(seed: u64, chain: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(chain as u64);
    rng
}

/// Runs `settings.chains` NUTS chains on `density` in parallel (rayon), each started at
/// `centre + spread ⊙ z`, `z ~ N(0, I)` from its own generator (a start where the
/// density is not finite is drawn again with half the spread, up to 20 times).
/// Returns the chains in order; the same seed gives the same draws on any number of
/// threads.
pub fn sample<D: LogDensity>(
    density: &D,
    centre: &[f64],
    spread: &[f64],
    settings: &NutsSettings,
) -> Result<Vec<ChainDraws>> {
    sample_journaled(density, centre, spread, settings, &NoJournal)
}

/// [`sample`], each chain a unit of `journal`: recorded when done, replayed when
/// resumed, skipped once a stop is requested ([`Error::Interrupted`]; chains already
/// running finish first).
pub fn sample_journaled<D: LogDensity>(
    density: &D,
    centre: &[f64],
    spread: &[f64],
    settings: &NutsSettings,
    journal: &dyn Journal,
) -> Result<Vec<ChainDraws>> {
    settings.validate()?;
    let dim = density.dimension();
    if centre.len() != dim || spread.len() != dim {
        return Err(Error::config(
            "start",
            format!(
                "the centre has {} and the spread {} entries but the density has {dim} \
                 coordinates",
                centre.len(),
                spread.len()
            ),
        ));
    }
    if centre.iter().chain(spread).any(|v| !v.is_finite()) {
        return Err(Error::config(
            "start",
            "the centre and spread must be finite",
        ));
    }
    let chains: Vec<Option<ChainDraws>> = (0..settings.chains)
        .into_par_iter()
        .map(|chain| {
            unit(journal, &format!("posterior/chain{chain}"), || {
                run_chain(density, centre, spread, settings, chain)
            })
        })
        .collect::<Result<_>>()?;
    all_or_interrupted("the posterior sampling", chains)
}

fn run_chain<D: LogDensity>(
    density: &D,
    centre: &[f64],
    spread: &[f64],
    settings: &NutsSettings,
    chain: usize,
) -> Result<ChainDraws> {
    let dim = density.dimension();
    let mut rng = chain_rng(settings.seed, chain);
    let mut gradient = vec![0.0; dim];
    let mut factor = 1.0;
    let mut start = centre.to_vec();
    for attempt in 0..=20 {
        start = centre
            .iter()
            .zip(spread)
            .map(|(&c, &s)| {
                let z: f64 = StandardNormal.sample(&mut rng);
                c + factor * s * z
            })
            .collect();
        if density
            .log_density_and_gradient(&start, &mut gradient)
            .is_finite()
        {
            break;
        }
        if attempt == 20 {
            return Err(Error::Numerical(format!(
                "chain {chain}: the log-density is not finite at any of 21 starting points \
                 near the fitted θ"
            )));
        }
        factor *= 0.5;
    }
    let mut nuts = nuts_rs::DiagNutsSettings {
        num_tune: settings.warmup as u64,
        num_draws: settings.draws as u64,
        maxdepth: settings.max_depth,
        num_chains: settings.chains,
        seed: settings.seed,
        ..Default::default()
    };
    nuts.adapt_options.step_size_settings.target_accept = settings.target_accept;
    let math = CpuMath::new(SamplerTarget { density });
    let sampler_error = |what: &str, e: &dyn std::fmt::Display| {
        Error::Numerical(format!(
            "chain {chain}: the NUTS sampler failed {what}: {e}"
        ))
    };
    let mut sampler = nuts
        .new_chain(chain as u64, math, &mut rng)
        .map_err(|e| sampler_error("to start", &format!("{e:#}")))?;
    sampler
        .set_position(&start)
        .map_err(|e| sampler_error("at its starting point", &format!("{e:#}")))?;
    let mut result = ChainDraws {
        chain,
        start,
        draws: Vec::with_capacity(settings.draws),
        divergences: 0,
        warmup_divergences: 0,
        max_depth_hits: 0,
        step_size: f64::NAN,
        gradient_evaluations: 0,
    };
    let depth_limit = (1u64 << settings.max_depth) - 1;
    for _ in 0..settings.warmup + settings.draws {
        let (draw, progress) = sampler
            .draw()
            .map_err(|e| sampler_error("while drawing", &format!("{e:#}")))?;
        result.gradient_evaluations += progress.num_gradients;
        if progress.tuning {
            result.warmup_divergences += usize::from(progress.diverging);
            continue;
        }
        result.divergences += usize::from(progress.diverging);
        result.max_depth_hits += usize::from(progress.num_steps >= depth_limit);
        result.step_size = progress.step_size;
        result.draws.push(draw.to_vec());
    }
    Ok(result)
}
