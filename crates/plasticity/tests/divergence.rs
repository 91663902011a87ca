//! Numerical failure: a fit whose loss becomes non-finite backs off (Adam: back to the
//! last good point, retake the step with half the learning rate), a configurable number
//! of times; then it stops with `StopReason::NonFinite`, saying at which epoch and why,
//! and keeps the last parameters where the loss was finite. A checkpoint taken after a
//! backoff resumes bit for bit.

mod common;

use common::{epochs, go_on, neural_settings, oja_data, stopped_at_epoch, Observer};
use plasticity::fit::{fit, FitConfig, OptimizerKind, Parametrisation, StopReason};
use plasticity::objective::Objective;
use plasticity::pipeline::neural::{fit_neural, NeuralFitSettings};

/// `(θ − target)²`, which overflows (NaN) from θ = 1 on: the optimizer is pulled
/// towards the cliff (and over it when `target` > 1).
struct Cliff {
    target: f64,
}

impl Objective for Cliff {
    fn n_parameters(&self) -> usize {
        1
    }
    fn n_items(&self) -> usize {
        2
    }
    fn loss(&self, theta: &[f64], _items: &[usize]) -> f64 {
        if theta[0] >= 1.0 {
            f64::NAN
        } else {
            (theta[0] - self.target).powi(2)
        }
    }
    fn loss_and_gradient(&self, theta: &[f64], items: &[usize], gradient: &mut [f64]) -> f64 {
        gradient[0] = if theta[0] >= 1.0 {
            f64::NAN
        } else {
            2.0 * (theta[0] - self.target)
        };
        self.loss(theta, items)
    }
}

fn adam(max_backoffs: usize, epochs: usize) -> FitConfig {
    FitConfig {
        optimizer: OptimizerKind::Adam,
        epochs,
        learning_rate: 0.25,
        batch_size: 2,
        max_backoffs,
        ..FitConfig::default()
    }
}

/// Fits `objective` from θ = 0 with `config`, reporting to `observer`.
fn observed(
    objective: &Cliff,
    config: &FitConfig,
    observer: &mut Observer<'_>,
) -> plasticity::Result<plasticity::fit::FitOutcome> {
    let parametrisation = Parametrisation::identity(1);
    fit(objective, &parametrisation, &[0.0], &[], config, observer)
}

fn run(objective: &Cliff, config: &FitConfig) -> plasticity::fit::FitOutcome {
    observed(objective, config, &mut go_on).expect("the fit returns an outcome")
}

#[test]
fn a_diverging_fit_reports_epoch_and_reason_and_keeps_the_last_good_theta() {
    // Adam's first steps are just under the learning rate: θ = 0, 0.25, 0.5, 0.75,
    // 0.99999…, then past 1, where the loss is NaN (epoch 6).
    let cliff = Cliff { target: 3.0 };
    let outcome = run(&cliff, &adam(0, 50));
    let StopReason::NonFinite { epoch, detail } = &outcome.stop_reason else {
        panic!("{:?}", outcome.stop_reason);
    };
    assert_eq!(*epoch, 6, "{detail}");
    assert!(
        detail.contains("the loss is NaN on minibatch 1 of epoch 6"),
        "{detail}"
    );
    assert!(
        detail.contains("after 0 backoff(s) (max-backoffs 0"),
        "{detail}"
    );
    assert!(
        detail.contains("keeping the parameters from before the last step"),
        "{detail}"
    );
    assert_eq!(outcome.backoffs, 0);
    // the kept θ is the last point where the loss was finite, and its loss is finite
    assert!(
        outcome.theta[0] < 1.0 && outcome.theta[0] > 0.7,
        "{:?}",
        outcome.theta
    );
    assert!(outcome.final_loss.is_finite());
    assert_eq!(outcome.loss_history.len(), 5);

    // with backoffs, it goes on closer to the cliff before giving up
    let outcome = run(&cliff, &adam(5, 50));
    let StopReason::NonFinite { epoch, detail } = &outcome.stop_reason else {
        panic!("{:?}", outcome.stop_reason);
    };
    assert_eq!(outcome.backoffs, 5);
    // from θ = 0.99999… every retaken step still crosses the cliff
    assert_eq!(*epoch, 6, "{detail}");
    assert!(
        detail.contains("after 5 backoff(s) (max-backoffs 5, learning rate now 7.8125e-3)"),
        "{detail}"
    );
    assert!(
        outcome.theta[0] < 1.0 && outcome.theta[0] > 0.75,
        "{:?}",
        outcome.theta
    );
    assert!(outcome.final_loss.is_finite());
    assert!(outcome.theta_history.iter().all(|t| t[0].is_finite()));
}

#[test]
fn backing_off_lets_a_fit_finish_that_would_otherwise_stop() {
    // the minimum (0.9) is just before the cliff: Adam's momentum carries full steps
    // over it; with smaller steps the fit runs all its epochs
    let cliff = Cliff { target: 0.9 };
    let stopped = run(&cliff, &adam(0, 200));
    assert!(matches!(stopped.stop_reason, StopReason::NonFinite { .. }));
    let finished = run(&cliff, &adam(20, 200));
    assert_eq!(finished.stop_reason, StopReason::EpochsCompleted);
    assert!(finished.backoffs >= 1);
    assert!(finished.theta[0] < 1.0, "{:?}", finished.theta);
    assert!(finished.loss_history.iter().all(|l| l.is_finite()));
    assert_eq!(finished.loss_history.len(), 200);
}

#[test]
fn a_checkpoint_taken_after_a_backoff_resumes_bit_for_bit() {
    let cliff = Cliff { target: 0.9 };
    let config = adam(20, 60);
    let whole = run(&cliff, &config);
    assert!(whole.backoffs >= 2, "{}", whole.backoffs);
    for stop_at in [5, 9, 30] {
        let (interrupted, taken) =
            stopped_at_epoch(stop_at, |observer| observed(&cliff, &config, observer));
        interrupted.expect("interrupted");
        let checkpoint = taken.expect("checkpoint");
        let text = serde_json::to_string(&checkpoint).expect("json");
        let mut resumed_config = config.clone();
        resumed_config.resume = Some(Box::new(serde_json::from_str(&text).expect("parsed")));
        let resumed = run(&cliff, &resumed_config);
        assert_eq!(
            resumed.theta[0].to_bits(),
            whole.theta[0].to_bits(),
            "stop at {stop_at}"
        );
        assert_eq!(resumed.backoffs, whole.backoffs);
        assert_eq!(resumed.loss_history, whole.loss_history);
        assert_eq!(resumed.evaluations, whole.evaluations);
    }
}

/// A real rule that makes the weights grow without bound: `w²` feeds on itself until
/// the weights overflow. L-BFGS's line search treats the overflowing trial steps as too
/// far; the fit ends with finite parameters whatever happens.
#[test]
fn a_neural_fit_from_an_exploding_rule_ends_with_finite_parameters() {
    let dataset = oja_data([4, 6, 2, 30], 0.0, 2);
    for optimizer in [OptimizerKind::Adam, OptimizerKind::Lbfgs] {
        let mut fit = epochs(20);
        (fit.optimizer, fit.learning_rate) = (optimizer, 0.5);
        let settings = NeuralFitSettings {
            init: "x*y + 3*w^2".into(),
            ..neural_settings(fit, 1, NeuralFitSettings::default().solver)
        };
        match fit_neural(&dataset, &settings, &mut go_on) {
            Ok(fitted) => {
                let outcome = &fitted.outcome;
                assert!(
                    outcome.theta.iter().all(|v| v.is_finite()),
                    "{optimizer:?}: {outcome:?}"
                );
                if let StopReason::NonFinite { epoch, detail } = &outcome.stop_reason {
                    assert!(*epoch >= 1 && detail.contains("overflow"), "{detail}");
                }
            }
            // L-BFGS refuses a starting point whose loss is already non-finite
            Err(plasticity::Error::Numerical(message)) => {
                assert!(message.contains("initial"), "{message}")
            }
            Err(other) => panic!("{optimizer:?}: {other}"),
        }
    }
}
