use num_dual::{Dual64, DualNum};

type D = Dual64;

use super::super::assert_gradient_matches;
use super::*;
use crate::task::phases::{derivative, normalised};

fn task(n: usize, kw: usize, kh: usize) -> PhaseMemoryTask {
    PhaseMemoryTask {
        n_neurons: n,
        loads: vec![2, 3],
        cue_concentration: 2.0,
        cue_strength: 2.0,
        recall_steps: 7,
        step_size: 0.1,
        storage_harmonics: kw,
        interaction_harmonics: kh,
    }
}

/// The loss by the definitions, pair by pair, generic over dual numbers:
/// `W_ij = (1/M) Σ_m Ω(ξ_i^m − ξ_j^m)`, `φ_i ← φ_i + Δt [Σ_j W_ij H(φ_i − φ_j) + γ sin(φ̃_i − φ_i)]`.
fn reference_loss(objective: &PhaseMemoryObjective, theta: &[D], index: usize) -> D {
    let task = objective.task();
    let n = task.n_neurons;
    let instance = task.instance(objective.seed, index);
    let (omega, h) = theta.split_at(2 * task.storage_harmonics);
    let series = |s: &[D], delta: f64| -> D {
        s.chunks_exact(2)
            .enumerate()
            .fold(D::from_re(0.0), |acc, (j, ab)| {
                let k = (j + 1) as f64;
                acc + ab[0] * (k * delta).cos() + ab[1] * (k * delta).sin()
            })
    };
    let mut w = vec![D::from_re(0.0); n * n];
    for i in 0..n {
        for j in 0..n {
            if i != j {
                for m in 0..instance.load {
                    let delta = instance.memories[m * n + i] - instance.memories[m * n + j];
                    w[i * n + j] += series(omega, delta) * (1.0 / instance.load as f64);
                }
            }
        }
    }
    let mut phases: Vec<D> = instance.cue.iter().map(|&p| D::from_re(p)).collect();
    let mut next = phases.clone();
    for _ in 0..task.recall_steps {
        for i in 0..n {
            let mut drift = D::from_re(0.0);
            for j in 0..n {
                let delta = phases[i] - phases[j];
                let mut hij = D::from_re(0.0);
                for (l, cd) in h.chunks_exact(2).enumerate() {
                    let k = (l + 1) as f64;
                    hij += cd[0] * (delta * k).cos() + cd[1] * (delta * k).sin();
                }
                drift += w[i * n + j] * hij;
            }
            let cue = (D::from_re(instance.cue[i]) - phases[i]).sin() * task.cue_strength;
            next[i] = phases[i] + (drift + cue) * task.step_size;
        }
        phases.clone_from(&next);
    }
    let (mut x, mut y) = (D::from_re(0.0), D::from_re(0.0));
    for (p, &m) in phases.iter().zip(&instance.memories[..n]) {
        x += (*p - m).cos();
        y += (*p - m).sin();
    }
    let (x, y) = (x / n as f64, y / n as f64);
    D::from_re(1.0) - (x * x + y * y).sqrt()
}

fn random_theta(task: &PhaseMemoryTask, seed: u64) -> Vec<f64> {
    let mut rng = task_rng(seed, 5);
    (0..task.n_parameters())
        .map(|_| 1.5 * (2.0 * rng.random::<f64>() - 1.0))
        .collect()
}

#[test]
fn the_fast_recall_equals_the_pairwise_definition() {
    let objective = PhaseMemoryObjective::new(task(9, 2, 3), 4).expect("test set-up");
    let theta = random_theta(objective.task(), 1);
    for index in 0..4 {
        let fast = objective.task_loss(&theta, index);
        let dual: Vec<D> = theta.iter().map(|&v| D::from_re(v)).collect();
        let slow = reference_loss(&objective, &dual, index).re;
        assert!((fast - slow).abs() < 1e-12, "{fast} vs {slow}");
    }
}

#[test]
fn gradient_matches_dual_numbers_and_finite_differences() {
    for (kw, kh, seed) in [(1, 1, 1), (2, 3, 2), (3, 2, 3)] {
        let objective = PhaseMemoryObjective::new(task(8, kw, kh), seed).expect("test set-up");
        let theta = random_theta(objective.task(), seed);
        for index in [0, 1] {
            let mut gradient = vec![0.0; theta.len()];
            let loss = objective.task_loss_and_gradient(&theta, index, &mut gradient);
            assert!((loss - objective.task_loss(&theta, index)).abs() < 1e-14);
            assert_gradient_matches(
                &theta,
                &gradient,
                |t: &[Dual64]| reference_loss(&objective, t, index),
                |t| objective.task_loss(t, index),
                true,
            );
        }
    }
}

/// Lengyel & Dayan's result at one harmonic: `H ∝ Ω′` recalls better than the cue,
/// `H ∝ Ω` and `H ∝ −Ω′` worse, at the same scale.
#[test]
fn matched_recall_beats_the_cue_and_mismatched_recall_does_not() {
    let mut settings = task(100, 1, 1);
    settings.recall_steps = 50;
    settings.loads = vec![10];
    let objective = PhaseMemoryObjective::new(settings.clone(), 1).expect("test set-up");
    let omega = [0.6, 0.8];
    let quality = |h: &[f64]| {
        let theta = settings.theta(&omega, h);
        objective.evaluate(&theta, 9, 40, &[10])
    };
    let matched = quality(&normalised(&derivative(&omega), 0.3));
    let mismatched = quality(&normalised(&omega, 0.3));
    let anti = quality(&normalised(&derivative(&omega), -0.3));
    let cue = matched.cue_quality_by_load[0].1;
    assert!((cue - 0.698).abs() < 0.03, "cue {cue}");
    assert!(matched.quality_by_load[0].1 > cue + 0.1, "{matched:?}");
    assert!(mismatched.quality_by_load[0].1 < cue, "{mismatched:?}");
    assert!(anti.quality_by_load[0].1 < cue, "{anti:?}");
}

#[test]
fn bad_settings_name_their_key() {
    let mut settings = task(8, 1, 1);
    settings.step_size = 0.0;
    let error = PhaseMemoryObjective::new(settings, 1)
        .err()
        .expect("refused");
    assert!(error.to_string().contains("task.step_size"), "{error}");
    let mut settings = task(8, 1, 40);
    settings.loads = vec![1];
    let error = PhaseMemoryObjective::new(settings, 1)
        .err()
        .expect("refused");
    assert!(error.to_string().contains("rule.harmonics"), "{error}");
}

/// With `Ω` fixed the reverse pass gives the same `H` gradient and leaves `Ω`'s entries
/// as they were.
#[test]
fn a_fixed_storage_window_skips_only_its_own_gradient() {
    let full = PhaseMemoryObjective::new(task(8, 2, 3), 3).expect("test set-up");
    let fixed = PhaseMemoryObjective::new(task(8, 2, 3), 3)
        .expect("test set-up")
        .with_fixed_storage();
    let theta = random_theta(full.task(), 3);
    let mut a = vec![0.0; theta.len()];
    let mut b = vec![7.0; theta.len()];
    let loss_a = full.task_loss_and_gradient(&theta, 1, &mut a);
    b[4..].iter_mut().for_each(|g| *g = 0.0);
    let loss_b = fixed.task_loss_and_gradient(&theta, 1, &mut b);
    assert_eq!(loss_a, loss_b);
    assert_eq!(&a[4..], &b[4..]);
    assert_eq!(&b[..4], &[7.0; 4]);
    assert!(a[..4].iter().any(|g| *g != 0.0));
}
