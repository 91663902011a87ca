//! Levenberg–Marquardt's step: the likelihood model and one step on a logistic
//! regression (the solver under the fitting driver is tested in `fit`).

use super::*;

/// A logistic regression `P(y = 1) = σ(φ · x_i)` on fixed data: the mean negative
/// log-likelihood and its Fisher-scoring system.
pub(crate) struct Logistic {
    features: Vec<[f64; 3]>,
    labels: Vec<f64>,
}

impl Logistic {
    pub(crate) fn new() -> Self {
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
fn a_newton_step_from_where_fisher_scoring_stops_gains_nothing() {
    let problem = Logistic::new();
    let mut solver = LevenbergMarquardtSolver::new(
        &problem,
        LevenbergMarquardt::default(),
        LevenbergMarquardtState::start(LevenbergMarquardt::default().initial_damping),
    );
    let mut phi = vec![0.0; 3];
    let mut evaluations = 0;
    let mut losses = Vec::new();
    let mut stop = None;
    for epoch in 1..=100 {
        match solver
            .step(epoch, &mut phi, &mut evaluations)
            .expect("finite")
        {
            EpochStep::Done(loss) => losses.push(loss),
            EpochStep::Stop(reason) => stop = Some(reason),
        }
        stop = stop.or_else(|| solver.converged());
        if stop.is_some() {
            break;
        }
    }
    assert!(
        matches!(stop, Some(StopReason::Converged { .. })),
        "{stop:?} after {losses:?}"
    );
    assert_eq!(
        evaluations,
        solver.state().systems + solver.state().trial_losses
    );
    // a pure Newton step from there (F is the Hessian for this canonical link) gains
    // nothing the tolerance would notice
    let system = problem.system(&phi).expect("system");
    let newton = damped_step(&system, 0.0, 0.0).expect("positive definite");
    let polished: Vec<f64> = phi.iter().zip(&newton).map(|(p, d)| p + d).collect();
    let loss = solver.state().loss;
    assert_eq!(loss, *losses.last().unwrap());
    assert!(loss - problem.loss(&polished) <= 1e-14, "{loss}");
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
