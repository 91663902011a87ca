//! Levenberg–Marquardt on Rosenbrock (a zero residual) and Fisher scoring on a
//! logistic regression (a likelihood), stopped and continued.

use super::*;

/// Rosenbrock as least squares: `r = (10 (φ₁ − φ₀²), 1 − φ₀)`, `N = 2`.
struct Rosenbrock;

impl Rosenbrock {
    fn residuals(phi: &[f64]) -> ([f64; 2], [[f64; 2]; 2]) {
        (
            [10.0 * (phi[1] - phi[0] * phi[0]), 1.0 - phi[0]],
            [[-20.0 * phi[0], 10.0], [-1.0, 0.0]],
        )
    }
}

impl LeastSquaresProblem for Rosenbrock {
    fn loss(&self, phi: &[f64]) -> f64 {
        let (r, _) = Self::residuals(phi);
        (r[0] * r[0] + r[1] * r[1]) / 2.0
    }
    fn system(&self, phi: &[f64]) -> Result<GaussNewtonSystem> {
        let (r, j) = Self::residuals(phi);
        let mut system = GaussNewtonSystem::zeros(2);
        system.sse = self.loss(phi);
        for a in 0..2 {
            system.gradient[a] = (j[0][a] * r[0] + j[1][a] * r[1]) / 2.0;
            for b in 0..2 {
                system.normal[a * 2 + b] = (j[0][a] * j[0][b] + j[1][a] * j[1][b]) / 2.0;
            }
        }
        Ok(system)
    }
}

#[test]
fn finds_the_zero_of_rosenbrock_in_few_jacobians() {
    let outcome = minimise(
        &Rosenbrock,
        &[-1.2, 1.0],
        &LevenbergMarquardt::default(),
        &mut |_| ControlFlow::Continue(()),
    )
    .expect("finite problem");
    assert!(
        (outcome.phi[0] - 1.0).abs() < 1e-10 && (outcome.phi[1] - 1.0).abs() < 1e-10,
        "{:?} after {} systems",
        outcome.phi,
        outcome.systems
    );
    assert!(outcome.systems < 40, "{} systems", outcome.systems);
    // every kept step lowered the loss
    assert!(outcome.loss_history.windows(2).all(|w| w[1] < w[0]));
}

#[test]
fn the_observer_can_stop_it() {
    let outcome = minimise(
        &Rosenbrock,
        &[-1.2, 1.0],
        &LevenbergMarquardt::default(),
        &mut |report| {
            if report.iteration == 2 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        },
    )
    .expect("finite problem");
    assert_eq!(outcome.stop, LevenbergMarquardtStop::Stopped);
    assert_eq!(outcome.loss_history.len(), 2);
}

#[test]
fn a_run_stopped_at_any_step_continues_exactly_from_its_reported_state() {
    let settings = LevenbergMarquardt::default();
    let whole = minimise(&Rosenbrock, &[-1.2, 1.0], &settings, &mut |_| {
        ControlFlow::Continue(())
    })
    .expect("finite problem");
    for stop_at in 1..whole.loss_history.len() {
        let mut saved = None;
        minimise(&Rosenbrock, &[-1.2, 1.0], &settings, &mut |report| {
            if report.iteration == stop_at {
                saved = Some(report.state.clone());
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .expect("finite problem");
        let state = saved.expect("the stop was reported");
        // through a serialised checkpoint, as a resumed run reads it
        let state: LevenbergMarquardtState =
            serde_json::from_str(&serde_json::to_string(&state).unwrap()).unwrap();
        let resumed = minimise_from(&Rosenbrock, state, &settings, &mut |_| {
            ControlFlow::Continue(())
        })
        .expect("finite problem");
        assert_eq!(resumed.phi, whole.phi, "stopped at {stop_at}");
        assert_eq!(resumed.loss_history, whole.loss_history);
        assert_eq!(resumed.phi_history, whole.phi_history);
        assert_eq!(resumed.systems, whole.systems);
        assert_eq!(resumed.trial_losses, whole.trial_losses);
        assert_eq!(resumed.stop, whole.stop);
    }
}

/// A logistic regression `P(y = 1) = σ(φ · x_i)` on fixed data: the mean negative
/// log-likelihood and its Fisher-scoring system.
struct Logistic {
    features: Vec<[f64; 3]>,
    labels: Vec<f64>,
}

impl Logistic {
    fn new() -> Self {
        // a deterministic, not separable sample
        let mut features = Vec::new();
        let mut labels = Vec::new();
        for i in 0..200 {
            let t = i as f64;
            let x = [1.0, (0.37 * t).sin() * 2.0, (0.11 * t).cos()];
            let logit = 0.5 - 1.5 * x[1] + 0.8 * x[2];
            let p = 1.0 / (1.0 + (-logit).exp());
            features.push(x);
            labels.push(if (0.618_034 * t).fract() < p {
                1.0
            } else {
                0.0
            });
        }
        Logistic { features, labels }
    }
}

impl LeastSquaresProblem for Logistic {
    fn loss(&self, phi: &[f64]) -> f64 {
        let n = self.labels.len() as f64;
        self.features
            .iter()
            .zip(&self.labels)
            .map(|(x, &y)| {
                let z: f64 = x.iter().zip(phi).map(|(a, b)| a * b).sum();
                z.max(0.0) + (-z.abs()).exp().ln_1p() - y * z
            })
            .sum::<f64>()
            / n
    }

    fn system(&self, phi: &[f64]) -> Result<GaussNewtonSystem> {
        let n = self.labels.len() as f64;
        let mut system = GaussNewtonSystem::zeros(3);
        for (x, &y) in self.features.iter().zip(&self.labels) {
            let z: f64 = x.iter().zip(phi).map(|(a, b)| a * b).sum();
            let p = 1.0 / (1.0 + (-z).exp());
            system.add_scored_row(p - y, p * (1.0 - p), x);
        }
        system.symmetrise();
        system.sse = self.loss(phi);
        system.gradient.iter_mut().for_each(|v| *v /= n);
        system.normal.iter_mut().for_each(|v| *v /= n);
        Ok(system)
    }

    fn model(&self) -> LossModel {
        LossModel::Likelihood
    }
}

#[test]
fn fisher_scoring_finds_the_maximum_likelihood_of_a_logistic_regression() {
    let problem = Logistic::new();
    let outcome = minimise(
        &problem,
        &[0.0; 3],
        &LevenbergMarquardt::default(),
        &mut |_| ControlFlow::Continue(()),
    )
    .expect("finite problem");
    // the score vanishes at the optimum (to what a relative decrease of 1e-10 leaves:
    // the loss is then within ½ gᵀF⁻¹g ~ 1e-17 of its minimum)
    let system = problem.system(&outcome.phi).expect("system");
    let score = system.gradient.iter().map(|g| g.abs()).fold(0.0, f64::max);
    assert!(score < 1e-7, "score {score} at {:?}", outcome.phi);
    // a pure Newton step from there (F is the Hessian for this canonical link) gains
    // nothing the tolerance would notice
    let newton = damped_step(&system, 0.0, 0.0).expect("positive definite");
    let polished: Vec<f64> = outcome
        .phi
        .iter()
        .zip(&newton)
        .map(|(p, d)| p + d)
        .collect();
    assert!(
        outcome.loss - problem.loss(&polished) <= 1e-14,
        "{}",
        outcome.loss
    );
    // Newton-like convergence: few systems, every kept step lowered the loss
    assert!(outcome.systems <= 15, "{} systems", outcome.systems);
    assert!(outcome.loss_history.windows(2).all(|w| w[1] <= w[0]));
    assert!(matches!(outcome.stop, LevenbergMarquardtStop::Converged(_)));
}

#[test]
fn the_likelihood_model_predicts_half_the_sum_of_squares_decrease() {
    let problem = Logistic::new();
    let system = problem.system(&[0.1, -0.2, 0.3]).expect("system");
    let step = damped_step(&system, 1e-3, 1e-12).expect("positive definite");
    let squares = predicted_decrease(&system, &step, LossModel::SumOfSquares);
    let likelihood = predicted_decrease(&system, &step, LossModel::Likelihood);
    assert_eq!(likelihood, 0.5 * squares);
    // and it is the decrease of the loss to second order for a small step
    let small: Vec<f64> = step.iter().map(|d| d * 1e-3).collect();
    let phi: Vec<f64> = [0.1, -0.2, 0.3]
        .iter()
        .zip(&small)
        .map(|(p, d)| p + d)
        .collect();
    let actual = system.sse - problem.loss(&phi);
    let predicted = predicted_decrease(&system, &small, LossModel::Likelihood);
    assert!(
        (actual - predicted).abs() <= 1e-3 * predicted.abs(),
        "{actual} vs {predicted}"
    );
}
