//! The sampler against targets whose posterior is known (a correlated Gaussian; a
//! well-determined behaviour model against its Laplace approximation), the
//! behaviour log-density's gradient against central differences, the diagnostics
//! against chains whose answer is known, and determinism across thread counts.

use std::ops::ControlFlow;

use rand::rngs::ChaCha8Rng;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

use super::diagnostics::{rank_normalise, split_chains};
use super::*;
use crate::analysis::identifiability::{analyse, behaviour_curvature};
use crate::data::BehaviourDataset;
use crate::fit::OptimizerKind;
use crate::pipeline::behaviour::{circuit_of, fit_behaviour, BehaviourFitSettings, InputSource};
use crate::rule::{term_names, TaylorRule, Term, Variables};
use crate::task::BehaviourTask;

/// A Gaussian with mean `mean` and covariance `[[s0², ρ s0 s1], [ρ s0 s1, s1²]]`.
struct Gaussian2 {
    mean: [f64; 2],
    sd: [f64; 2],
    correlation: f64,
}

impl LogDensity for Gaussian2 {
    fn dimension(&self) -> usize {
        2
    }

    fn log_density_and_gradient(&self, x: &[f64], gradient: &mut [f64]) -> f64 {
        let z0 = (x[0] - self.mean[0]) / self.sd[0];
        let z1 = (x[1] - self.mean[1]) / self.sd[1];
        let r = self.correlation;
        let scale = 1.0 / (1.0 - r * r);
        gradient[0] = -scale * (z0 - r * z1) / self.sd[0];
        gradient[1] = -scale * (z1 - r * z0) / self.sd[1];
        -0.5 * scale * (z0 * z0 - 2.0 * r * z0 * z1 + z1 * z1)
    }
}

fn gaussian() -> Gaussian2 {
    Gaussian2 {
        mean: [1.0, -2.0],
        sd: [0.5, 2.0],
        correlation: 0.6,
    }
}

fn quick(chains: usize, draws: usize, warmup: usize, seed: u64) -> NutsSettings {
    NutsSettings {
        chains,
        draws,
        warmup,
        seed,
        ..NutsSettings::default()
    }
}

#[test]
fn normal_quantiles_match_tables() {
    assert_eq!(normal_quantile(0.5), 0.0);
    assert!((normal_quantile(0.975) - 1.959_963_984_540_054).abs() < 1e-8);
    assert!((normal_quantile(0.01) + 2.326_347_874_040_841).abs() < 1e-8);
    assert!((normal_quantile(1e-6) + 4.753_424_308_822_899).abs() < 1e-7);
    assert!((normal_quantile(0.9) - 1.281_551_565_544_6).abs() < 1e-8);
}

fn iid_chains(m: usize, n: usize, seed: u64) -> Vec<Vec<f64>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..m)
        .map(|_| (0..n).map(|_| StandardNormal.sample(&mut rng)).collect())
        .collect()
}

#[test]
fn diagnostics_of_independent_draws() {
    let chains = iid_chains(4, 1000, 1);
    let summary = summarise_coordinate(&chains);
    assert!(summary.rhat < 1.01, "{summary:?}");
    assert!(summary.rhat > 0.99, "{summary:?}");
    // 4000 independent draws: ESS ≈ 4000
    assert!(
        summary.ess_bulk > 3400.0 && summary.ess_bulk < 4700.0,
        "{summary:?}"
    );
    assert!(summary.ess_tail > 2500.0, "{summary:?}");
    assert!(summary.mean.abs() < 0.06 && (summary.sd - 1.0).abs() < 0.05);
    assert!((summary.q97_5 - 1.96).abs() < 0.12 && (summary.q2_5 + 1.96).abs() < 0.12);
}

#[test]
fn diagnostics_of_autocorrelated_draws() {
    // AR(1) with ρ = 0.8: ESS = N (1 − ρ)/(1 + ρ) = 4000/9 ≈ 444
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let rho: f64 = 0.8;
    let chains: Vec<Vec<f64>> = (0..4)
        .map(|_| {
            let mut x: f64 = StandardNormal.sample(&mut rng);
            (0..1000)
                .map(|_| {
                    let e: f64 = StandardNormal.sample(&mut rng);
                    x = rho * x + (1.0 - rho * rho).sqrt() * e;
                    x
                })
                .collect()
        })
        .collect();
    let ess = ess_bulk(&chains);
    assert!(ess > 330.0 && ess < 580.0, "ESS {ess}");
    assert!(rank_rhat(&chains) < 1.02);
}

#[test]
fn rhat_flags_chains_that_disagree() {
    let mut chains = iid_chains(4, 500, 3);
    chains[3].iter_mut().for_each(|v| *v += 1.0);
    assert!(rank_rhat(&chains) > 1.05, "{}", rank_rhat(&chains));
    // a chain that drifts: split R-hat sees it within the chain
    let mut drifting = iid_chains(4, 500, 4);
    for chain in &mut drifting {
        for (i, v) in chain.iter_mut().enumerate() {
            *v += 3.0 * i as f64 / 500.0;
        }
    }
    assert!(rank_rhat(&drifting) > 1.1, "{}", rank_rhat(&drifting));
    // and a chain with the right location but too small a spread: the folded R-hat
    let mut narrow = iid_chains(4, 500, 5);
    narrow[0].iter_mut().for_each(|v| *v *= 0.3);
    let bulk = basic_rhat(&rank_normalise(&split_chains(&narrow)));
    assert!(rank_rhat(&narrow) > bulk && rank_rhat(&narrow) > 1.02);
}

#[test]
fn nuts_recovers_a_correlated_gaussian() {
    let target = gaussian();
    let chains = sample(&target, &[0.0, 0.0], &[1.0, 1.0], &quick(4, 1000, 500, 7)).unwrap();
    assert_eq!(chains.len(), 4);
    assert!(chains.iter().all(|c| c.draws.len() == 1000));
    assert_eq!(chains.iter().map(|c| c.divergences).sum::<usize>(), 0);
    let summaries = summarise(&chains);
    for (k, s) in summaries.iter().enumerate() {
        assert!(s.rhat < 1.01, "{k}: {s:?}");
        assert!(s.ess_bulk > 800.0, "{k}: {s:?}");
        assert!(
            (s.mean - target.mean[k]).abs() < 4.0 * s.mcse_mean,
            "{k}: {s:?}"
        );
        assert!((s.sd / target.sd[k] - 1.0).abs() < 0.08, "{k}: {s:?}");
        let expected_upper = target.mean[k] + 1.959_964 * target.sd[k];
        assert!(
            (s.q97_5 - expected_upper).abs() < 0.15 * target.sd[k],
            "{k}: {s:?}"
        );
    }
    // the correlation
    let x = coordinate(&chains, 0).concat();
    let y = coordinate(&chains, 1).concat();
    let (mx, my) = (summaries[0].mean, summaries[1].mean);
    let covariance = x
        .iter()
        .zip(&y)
        .map(|(a, b)| (a - mx) * (b - my))
        .sum::<f64>()
        / (x.len() - 1) as f64;
    let correlation = covariance / (summaries[0].sd * summaries[1].sd);
    assert!(
        (correlation - 0.6).abs() < 0.05,
        "correlation {correlation}"
    );
}

#[test]
fn same_seed_same_draws_on_any_number_of_threads() {
    let target = gaussian();
    let run = |threads: usize, seed: u64| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| sample(&target, &[0.0, 0.0], &[1.0, 1.0], &quick(4, 50, 50, seed)))
            .unwrap()
    };
    let bits = |chains: &[ChainDraws]| -> Vec<u64> {
        chains
            .iter()
            .flat_map(|c| c.draws.iter().flatten().map(|v| v.to_bits()))
            .collect()
    };
    let one = run(1, 11);
    let two = run(2, 11);
    let three = run(3, 11);
    assert_eq!(bits(&one), bits(&two));
    assert_eq!(bits(&one), bits(&three));
    assert_ne!(bits(&one), bits(&run(2, 12)));
    // chains differ from each other
    assert_ne!(one[0].draws, one[1].draws);
    assert_ne!(one[0].start, one[1].start);
}

#[test]
fn priors_match_the_penalties() {
    // L1 λ₁ on a loss that is the NLL / N: Laplace with b = 1/(N λ₁)
    let p = Prior::from_penalty(1e-2, 0.0, 7500.0, WEAK_PRIOR_SD).unwrap();
    assert_eq!(p.laplace_scale, Some(1.0 / 75.0));
    assert_eq!(p.gaussian_sd, None);
    // L2 λ₂: N λ₂ θ² = θ²/(2σ²), σ = 1/√(2 N λ₂)
    let p = Prior::from_penalty(0.0, 0.5, 100.0, WEAK_PRIOR_SD).unwrap();
    assert_eq!(p.gaussian_sd, Some(0.1));
    let (log_density, derivative) = p.log_density_and_derivative(0.3);
    assert!((log_density + 100.0 * 0.5 * 0.09).abs() < 1e-12);
    assert!((derivative + 100.0 * 0.5 * 2.0 * 0.3).abs() < 1e-9);
    // none: the weak prior
    let p = Prior::from_penalty(0.0, 0.0, 100.0, WEAK_PRIOR_SD).unwrap();
    assert_eq!(p.gaussian_sd, Some(WEAK_PRIOR_SD));
    assert!(Prior::from_penalty(-1.0, 0.0, 100.0, 10.0).is_err());
    assert!(Prior::from_penalty(0.0, 0.0, 0.0, 10.0).is_err());
    assert!(Prior::gaussian(0.0).is_err());
    // Laplace: −|θ|/b, derivative −sign(θ)/b
    let p = Prior::laplace(0.5).unwrap();
    assert_eq!(p.log_density_and_derivative(-1.0), (-2.0, 2.0));
}

#[test]
fn bad_settings_are_errors_naming_the_setting() {
    let target = gaussian();
    for (settings, key) in [
        (quick(0, 100, 100, 0), "chains"),
        (quick(2, 2, 100, 0), "draws"),
        (
            NutsSettings {
                target_accept: 1.0,
                ..quick(2, 100, 100, 0)
            },
            "target-accept",
        ),
    ] {
        let error = sample(&target, &[0.0, 0.0], &[1.0, 1.0], &settings).unwrap_err();
        assert!(error.to_string().contains(key), "{error}");
    }
    let error = sample(&target, &[0.0], &[1.0], &quick(2, 100, 100, 0)).unwrap_err();
    assert!(error.to_string().contains("start"), "{error}");
}

fn behaviour_data(sessions: usize, seed: u64) -> BehaviourDataset {
    BehaviourTask {
        sessions,
        rule: "x*r - 0.05*w".into(),
        seed,
        ..BehaviourTask::default()
    }
    .simulate()
    .unwrap()
}

fn indices(terms: &[&str]) -> Vec<usize> {
    terms
        .iter()
        .map(|t| {
            Term::parse(t, Variables::Xywr)
                .unwrap()
                .index(Variables::Xywr)
                .unwrap()
        })
        .collect()
}

/// Every coordinate of `gradient`, the analytic gradient of `posterior` at `position`,
/// matches the central difference with step `h` to 1e-5 (relative above 1).
fn assert_central_differences(
    posterior: &impl LogDensity,
    position: &[f64],
    gradient: &[f64],
    h: f64,
) {
    let mut scratch = vec![0.0; position.len()];
    for k in 0..position.len() {
        let (mut up, mut down) = (position.to_vec(), position.to_vec());
        up[k] += h;
        down[k] -= h;
        let numeric = (posterior.log_density_and_gradient(&up, &mut scratch)
            - posterior.log_density_and_gradient(&down, &mut scratch))
            / (2.0 * h);
        assert!(
            (numeric - gradient[k]).abs() <= 1e-5 * gradient[k].abs().max(1.0),
            "{k}: analytic {} numeric {numeric}",
            gradient[k]
        );
    }
}

#[test]
fn behaviour_log_density_gradient_matches_central_differences() {
    let data = behaviour_data(3, 5);
    let parameters = indices(&["1", "x", "r", "w", "x*r"]);
    let mut theta = vec![0.0; 81];
    let prior = Prior {
        laplace_scale: Some(0.7),
        gaussian_sd: Some(2.0),
    };
    let posterior = BehaviourPosterior::new(
        &data,
        data.inputs.clone(),
        circuit_of(&data, Some(10.0)),
        TaylorRule::new(Variables::Xywr),
        std::mem::take(&mut theta),
        parameters.clone(),
        prior,
    )
    .unwrap();
    let position = [0.03, -0.02, 0.05, -0.06, 0.9];
    let mut gradient = [0.0; 5];
    let value = posterior.log_density_and_gradient(&position, &mut gradient);
    assert!(value.is_finite() && value < 0.0);
    assert_central_differences(&posterior, &position, &gradient, 1e-5);
    // the likelihood is the sum over presentations: −Σ_s P_s ℓ̄_s
    let mut g = [0.0; 5];
    let log_likelihood = posterior.log_likelihood_and_gradient(&position, &mut g);
    let theta = posterior.theta(&position);
    let total: f64 = (0..data.n_sessions())
        .map(|s| {
            let session = data.session(s);
            crate::gradient::replay_session(
                &circuit_of(&data, Some(10.0)),
                &TaylorRule::new(Variables::Xywr),
                &theta,
                session,
                |_, _, _, _| {},
            )
            .expect("replay")
            .loss
                * session.n_presentations() as f64
        })
        .sum();
    assert!(
        (log_likelihood + total).abs() < 1e-9 * total,
        "{log_likelihood} {total}"
    );
}

#[test]
fn behaviour_posterior_agrees_with_the_laplace_approximation() {
    // a well-determined two-term model: 8 sessions of the default task
    let data = behaviour_data(8, 21);
    let terms = ["w", "x*r"];
    let parameters = indices(&terms);
    let mut settings = BehaviourFitSettings {
        trainable: terms.join(","),
        init: "zeros".into(),
        inputs: InputSource::Recorded,
        eval_sessions: 0,
        ..BehaviourFitSettings::default()
    };
    settings.fit.optimizer = OptimizerKind::Lbfgs;
    settings.fit.epochs = 100;
    settings.fit.l1 = 0.0;
    let fit = fit_behaviour(&data, &settings, &mut |_| ControlFlow::Continue(())).unwrap();
    let circuit = circuit_of(&data, settings.weight_bound);
    let rule = TaylorRule::new(Variables::Xywr);
    let curvature = behaviour_curvature(
        &data,
        &data.inputs,
        &circuit,
        &rule,
        &fit.outcome.theta,
        &parameters,
    )
    .unwrap();
    let report = analyse(&curvature, &term_names(Variables::Xywr), &fit.outcome.theta).unwrap();
    let standard_errors: Vec<f64> = report.standard_errors.iter().map(|s| s.unwrap()).collect();
    let estimates = report.estimates.clone();
    let posterior = BehaviourPosterior::new(
        &data,
        data.inputs.clone(),
        circuit,
        rule,
        fit.outcome.theta.clone(),
        parameters,
        Prior::gaussian(WEAK_PRIOR_SD).unwrap(),
    )
    .unwrap();
    let chains = sample(
        &posterior,
        &estimates,
        &standard_errors,
        &quick(4, 300, 300, 3),
    )
    .unwrap();
    assert_eq!(chains.iter().map(|c| c.divergences).sum::<usize>(), 0);
    for (k, s) in summarise(&chains).iter().enumerate() {
        assert!(s.rhat < 1.05, "{}: {s:?}", terms[k]);
        // the posterior is close to N(θ̂, I⁻¹): mean within half a Laplace SE, spread
        // within 25 %
        assert!(
            (s.mean - estimates[k]).abs() < 0.5 * standard_errors[k],
            "{}: posterior {s:?}, Laplace {} ± {}",
            terms[k],
            estimates[k],
            standard_errors[k]
        );
        assert!(
            (s.sd / standard_errors[k] - 1.0).abs() < 0.25,
            "{}: posterior sd {} Laplace SE {}",
            terms[k],
            s.sd,
            standard_errors[k]
        );
    }
}

#[test]
fn neural_log_density_gradient_matches_central_differences() {
    use crate::gradient::GradientStrategy;
    use crate::objective::NeuralObjective;
    let data = crate::task::OjaTask {
        n_pre: 4,
        n_post: 6,
        steps: 15,
        trajectories: 3,
        noise_std: 0.05,
        seed: 2,
        ..crate::task::OjaTask::default()
    }
    .simulate()
    .unwrap();
    let rule = TaylorRule::new(Variables::Xyw);
    let parameters: Vec<usize> = ["x*y", "y^2*w", "w"]
        .iter()
        .map(|t| {
            Term::parse(t, Variables::Xyw)
                .unwrap()
                .index(Variables::Xyw)
                .unwrap()
        })
        .collect();
    let objective =
        NeuralObjective::new(&data, rule, GradientStrategy::FullTape).expect("objective");
    let scale = 1234.5;
    let posterior = ScaledObjectivePosterior::new(
        &objective,
        scale,
        vec![0.0; 27],
        parameters.clone(),
        Prior::laplace(0.3).unwrap(),
    )
    .unwrap();
    let position = [0.9, -1.1, 0.05];
    let mut gradient = [0.0; 3];
    let value = posterior.log_density_and_gradient(&position, &mut gradient);
    // the value is −c·MSE plus the prior
    let mut theta = vec![0.0; 27];
    for (&k, &v) in parameters.iter().zip(&position) {
        theta[k] = v;
    }
    let mse = crate::objective::Objective::loss(&objective, &theta, &[0, 1, 2]);
    let log_prior: f64 = position.iter().map(|v| -v.abs() / 0.3).sum();
    assert!((value - (-scale * mse + log_prior)).abs() < 1e-9 * value.abs());
    assert_central_differences(&posterior, &position, &gradient, 1e-6);
    assert!(ScaledObjectivePosterior::new(
        &objective,
        0.0,
        vec![0.0; 27],
        parameters,
        Prior::gaussian(1.0).unwrap()
    )
    .is_err());
}
