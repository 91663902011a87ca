//! Summaries and convergence diagnostics of the chains: quantiles, rank-normalised
//! split R̂ and bulk and tail effective sample sizes (Vehtari et al. 2021).

use serde::{Deserialize, Serialize};

use super::sampler::ChainDraws;

/// Posterior summary of one coordinate over all chains.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CoordinateSummary {
    /// Posterior mean.
    pub mean: f64,
    /// Posterior standard deviation.
    pub sd: f64,
    /// 2.5 % quantile.
    pub q2_5: f64,
    /// Median.
    pub q50: f64,
    /// 97.5 % quantile.
    pub q97_5: f64,
    /// Rank-normalised split R-hat (the larger of the bulk and folded ones).
    pub rhat: f64,
    /// Bulk effective sample size.
    pub ess_bulk: f64,
    /// Tail effective sample size (the smaller of those of the 5 % and 95 % quantiles).
    pub ess_tail: f64,
    /// Monte Carlo standard error of the mean, `sd / √ESS_bulk`.
    pub mcse_mean: f64,
}

/// The draws of coordinate `k`, one vector per chain.
pub fn coordinate(chains: &[ChainDraws], k: usize) -> Vec<Vec<f64>> {
    chains
        .iter()
        .map(|c| c.draws.iter().map(|d| d[k]).collect())
        .collect()
}

/// Summaries of every coordinate (see the module's doc for the diagnostics).
pub fn summarise(chains: &[ChainDraws]) -> Vec<CoordinateSummary> {
    let dim = chains
        .first()
        .and_then(|c| c.draws.first())
        .map_or(0, Vec::len);
    (0..dim)
        .map(|k| summarise_coordinate(&coordinate(chains, k)))
        .collect()
}

/// The summary of one coordinate's draws, one vector per chain (equal lengths).
pub fn summarise_coordinate(chains: &[Vec<f64>]) -> CoordinateSummary {
    let pooled: Vec<f64> = chains.iter().flatten().copied().collect();
    let n = pooled.len() as f64;
    let mean = pooled.iter().sum::<f64>() / n;
    let sd = (pooled.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let ess_bulk = ess_bulk(chains);
    CoordinateSummary {
        mean,
        sd,
        q2_5: crate::analysis::metrics::quantile(&pooled, 0.025),
        q50: crate::analysis::metrics::quantile(&pooled, 0.5),
        q97_5: crate::analysis::metrics::quantile(&pooled, 0.975),
        rhat: rank_rhat(chains),
        ess_bulk,
        ess_tail: ess_tail(chains),
        mcse_mean: sd / ess_bulk.sqrt(),
    }
}

/// Each chain cut in two halves (the middle draw of an odd chain is dropped).
pub(super) fn split_chains(chains: &[Vec<f64>]) -> Vec<Vec<f64>> {
    chains
        .iter()
        .flat_map(|c| {
            let half = c.len() / 2;
            [c[..half].to_vec(), c[c.len() - half..].to_vec()]
        })
        .collect()
}

/// The pooled draws replaced by the normal scores of their ranks (average ranks for
/// ties): `Φ⁻¹((r − 3/8) / (S + 1/4))`.
pub(super) fn rank_normalise(chains: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let mut order: Vec<(f64, usize, usize)> = chains
        .iter()
        .enumerate()
        .flat_map(|(c, v)| v.iter().enumerate().map(move |(i, &x)| (x, c, i)))
        .collect();
    order.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total = order.len() as f64;
    let mut scores: Vec<Vec<f64>> = chains.iter().map(|c| vec![0.0; c.len()]).collect();
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && order[j + 1].0 == order[i].0 {
            j += 1;
        }
        // ranks are 1-based; ties get the average of their ranks
        let rank = (i + j) as f64 / 2.0 + 1.0;
        let score = normal_quantile((rank - 0.375) / (total + 0.25));
        for &(_, c, k) in &order[i..=j] {
            scores[c][k] = score;
        }
        i = j + 1;
    }
    scores
}

/// The classic potential scale reduction `√((n−1)/n + B/(nW))` of equally long chains
/// (`W` the mean within-chain variance, `B/n` the variance of the chain means).
pub fn basic_rhat(chains: &[Vec<f64>]) -> f64 {
    let n = chains[0].len() as f64;
    let means: Vec<f64> = chains.iter().map(|c| c.iter().sum::<f64>() / n).collect();
    let within = chains
        .iter()
        .zip(&means)
        .map(|(c, m)| c.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0))
        .sum::<f64>()
        / chains.len() as f64;
    let grand = means.iter().sum::<f64>() / means.len() as f64;
    let between_over_n = means.iter().map(|m| (m - grand).powi(2)).sum::<f64>()
        / (means.len() as f64 - 1.0).max(1.0);
    ((n - 1.0) / n + between_over_n / within).sqrt()
}

/// Rank-normalised split R-hat: the larger of those of the draws and of their
/// distances from the median (Vehtari et al. 2021).
pub fn rank_rhat(chains: &[Vec<f64>]) -> f64 {
    let split = split_chains(chains);
    let bulk = basic_rhat(&rank_normalise(&split));
    let pooled: Vec<f64> = chains.iter().flatten().copied().collect();
    let median = crate::analysis::metrics::quantile(&pooled, 0.5);
    let folded: Vec<Vec<f64>> = split
        .iter()
        .map(|c| c.iter().map(|v| (v - median).abs()).collect())
        .collect();
    let tail = basic_rhat(&rank_normalise(&folded));
    bulk.max(tail)
}

/// Bulk effective sample size: the ESS of the rank-normalised split chains.
pub fn ess_bulk(chains: &[Vec<f64>]) -> f64 {
    effective_sample_size(&rank_normalise(&split_chains(chains)))
}

/// Tail effective sample size: the smaller of the ESS of the indicators of the draws
/// below the 5 % and below the 95 % quantile, on split chains.
pub fn ess_tail(chains: &[Vec<f64>]) -> f64 {
    let split = split_chains(chains);
    let pooled: Vec<f64> = chains.iter().flatten().copied().collect();
    [0.05, 0.95]
        .iter()
        .map(|&q| {
            let cut = crate::analysis::metrics::quantile(&pooled, q);
            let indicator: Vec<Vec<f64>> = split
                .iter()
                .map(|c| c.iter().map(|&v| f64::from(u8::from(v <= cut))).collect())
                .collect();
            effective_sample_size(&indicator)
        })
        .fold(f64::INFINITY, f64::min)
}

/// The ESS of `m` equally long chains by Geyer's initial monotone sequence on the
/// multi-chain autocorrelation `ρ_t = 1 − (W − Ā_t)/var⁺` (Stan's and ArviZ's
/// estimator; `Ā_t` the mean over chains of the lag-`t` autocovariances).
pub fn effective_sample_size(chains: &[Vec<f64>]) -> f64 {
    let m = chains.len();
    let n = chains[0].len();
    let total = (m * n) as f64;
    if n < 4 {
        return f64::NAN;
    }
    let means: Vec<f64> = chains
        .iter()
        .map(|c| c.iter().sum::<f64>() / n as f64)
        .collect();
    // lag-t autocovariance of every chain (divided by n), averaged over chains
    let mean_autocovariance = |t: usize| -> f64 {
        chains
            .iter()
            .zip(&means)
            .map(|(c, mean)| {
                (0..n - t)
                    .map(|i| (c[i] - mean) * (c[i + t] - mean))
                    .sum::<f64>()
                    / n as f64
            })
            .sum::<f64>()
            / m as f64
    };
    let acov0 = mean_autocovariance(0);
    let mean_var = acov0 * n as f64 / (n as f64 - 1.0);
    let mut var_plus = mean_var * (n as f64 - 1.0) / n as f64;
    if m > 1 {
        let grand = means.iter().sum::<f64>() / m as f64;
        var_plus += means.iter().map(|v| (v - grand).powi(2)).sum::<f64>() / (m as f64 - 1.0);
    }
    if var_plus.is_nan() || var_plus <= 0.0 {
        // constant draws: nothing to estimate
        return f64::NAN;
    }
    let rho = |t: usize| 1.0 - (mean_var - mean_autocovariance(t)) / var_plus;
    let mut rho_hat = vec![0.0; n];
    rho_hat[0] = 1.0;
    let mut rho_even = 1.0;
    let mut rho_odd = rho(1);
    rho_hat[1] = rho_odd;
    let mut t = 1;
    while t < n - 3 && rho_even + rho_odd > 0.0 {
        rho_even = rho(t + 1);
        rho_odd = rho(t + 2);
        if rho_even + rho_odd >= 0.0 {
            rho_hat[t + 1] = rho_even;
            rho_hat[t + 2] = rho_odd;
        }
        t += 2;
    }
    let max_t = t - 2;
    if rho_even > 0.0 {
        rho_hat[max_t + 1] = rho_even;
    }
    // Geyer's initial monotone sequence
    let mut t = 1;
    while t + 2 <= max_t {
        if rho_hat[t + 1] + rho_hat[t + 2] > rho_hat[t - 1] + rho_hat[t] {
            rho_hat[t + 1] = (rho_hat[t - 1] + rho_hat[t]) / 2.0;
            rho_hat[t + 2] = rho_hat[t + 1];
        }
        t += 2;
    }
    let tau = -1.0 + 2.0 * rho_hat[..=max_t].iter().sum::<f64>() + rho_hat[max_t + 1];
    let tau = tau.max(1.0 / total.log10());
    total / tau
}

/// `Φ⁻¹(p)` for `0 < p < 1` (Acklam's rational approximation, relative error below
/// 1.2e-9).
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const LOW: f64 = 0.02425;
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    if p < LOW {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -normal_quantile(1.0 - p)
    }
}
