use super::*;
use num_dual::Dual64;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

const VARIANTS: [ChoiceQVariant; 2] = [ChoiceQVariant::Plain, ChoiceQVariant::Forgetting];

/// Random choices among `n_options` with random 0/1 rewards.
fn random_sequence(seed: u64, n_trials: usize, n_options: usize) -> ChoiceSequence {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    ChoiceSequence {
        chosen: (0..n_trials)
            .map(|_| rng.random_range(0..n_options))
            .collect(),
        rewards: (0..n_trials)
            .map(|_| f64::from(u8::from(rng.random_bool(0.5))))
            .collect(),
        n_options,
    }
}

fn mean_loss(variant: ChoiceQVariant, phi: &[f64], sequence: &ChoiceSequence) -> f64 {
    let mut scratch = vec![0.0; phi.len()];
    choice_q_learning_mean_loss_and_gradient(variant, phi, sequence, &mut scratch).unwrap()
}

#[test]
fn gradient_matches_dual_numbers_and_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for case in 0..24u64 {
        let variant = VARIANTS[case as usize % 2];
        let n_options = 2 + (case as usize / 2) % 2; // K = 2 and K = 3
        let sequence = random_sequence(case, 70, n_options);
        let n = variant.n_parameters(n_options);
        let phi: Vec<f64> = (0..n).map(|_| rng.random_range(-2.0..2.0)).collect();
        let mut gradient = vec![0.0; n];
        let loss =
            choice_q_learning_mean_loss_and_gradient(variant, &phi, &sequence, &mut gradient)
                .unwrap();
        for i in 0..n {
            let dual: Vec<Dual64> = (0..n)
                .map(|k| Dual64::new(phi[k], f64::from(u8::from(k == i))))
                .collect();
            let total = choice_q_learning_losses(variant, &dual, &sequence, |_, _, _| {}).unwrap();
            let (value, derivative) = (
                total.re / sequence.n_trials() as f64,
                total.eps / sequence.n_trials() as f64,
            );
            assert!(
                (value - loss).abs() < 1e-12 * (1.0 + loss),
                "{value} vs {loss}"
            );
            assert!(
                (derivative - gradient[i]).abs() < 1e-9 * (1.0 + derivative.abs()),
                "case {case} ({variant:?}, K = {n_options}), ∂/∂φ{i}: dual {derivative} vs \
                 by hand {}",
                gradient[i]
            );
            let h = 1e-6;
            let (mut plus, mut minus) = (phi.clone(), phi.clone());
            plus[i] += h;
            minus[i] -= h;
            let difference = (mean_loss(variant, &plus, &sequence)
                - mean_loss(variant, &minus, &sequence))
                / (2.0 * h);
            assert!(
                (difference - gradient[i]).abs() < 1e-5 * (1.0 + difference.abs()),
                "case {case}, ∂/∂φ{i}: finite difference {difference} vs {}",
                gradient[i]
            );
        }
    }
}

#[test]
fn the_objective_is_the_mean_of_each_sequences_mean_loss() {
    let sequences = vec![random_sequence(1, 30, 2), random_sequence(2, 90, 2)];
    let variant = ChoiceQVariant::Forgetting;
    let phi = [0.3, 2.5, -0.4, -1.0];
    let objective = ChoiceQLearningObjective::new(variant, &sequences).unwrap();
    assert_eq!(objective.n_parameters(), 4);
    assert_eq!(objective.n_items(), 2);
    let mut gradient = vec![0.0; 4];
    let loss = objective.loss_and_gradient(&phi, &[0, 1], &mut gradient);
    let (mut g0, mut g1) = (vec![0.0; 4], vec![0.0; 4]);
    let l0 =
        choice_q_learning_mean_loss_and_gradient(variant, &phi, &sequences[0], &mut g0).unwrap();
    let l1 =
        choice_q_learning_mean_loss_and_gradient(variant, &phi, &sequences[1], &mut g1).unwrap();
    assert!((loss - (l0 + l1) / 2.0).abs() < 1e-14);
    assert!((objective.loss(&phi, &[0, 1]) - loss).abs() < 1e-14);
    for k in 0..4 {
        assert!((gradient[k] - (g0[k] + g1[k]) / 2.0).abs() < 1e-14);
    }
    assert!((objective.loss(&phi, &[1]) - l1).abs() < 1e-14);
}

#[test]
fn probabilities_sum_to_one_and_give_the_losses() {
    for (variant, n_options, beta) in [
        (ChoiceQVariant::Plain, 2, 3.0),
        (ChoiceQVariant::Forgetting, 4, -2.0),
        // a huge inverse temperature must not overflow the softmax
        (ChoiceQVariant::Plain, 3, 1e4),
    ] {
        let sequence = random_sequence(5, 50, n_options);
        let mut phi = vec![0.1; variant.n_parameters(n_options)];
        phi[1] = beta;
        let mut summed = 0.0;
        let mut count = 0;
        let total = choice_q_learning_losses(variant, &phi, &sequence, |t, loss: f64, p| {
            assert_eq!(p.len(), n_options);
            assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12, "{p:?}");
            let expected = -p[sequence.chosen[t]].ln();
            assert!(
                loss.is_finite() && (expected.is_infinite() || (loss - expected).abs() < 1e-9),
                "trial {t}: {loss} vs {expected}"
            );
            summed += loss;
            count += 1;
        })
        .unwrap();
        assert_eq!(count, 50);
        assert!(total.is_finite() && (total - summed).abs() < 1e-9 * (1.0 + total));
    }
}

#[test]
fn forgetting_with_a_vanishing_rate_is_plain_q_learning() {
    let sequence = random_sequence(3, 120, 3);
    let plain = [0.4, 3.0, 0.2, -0.3];
    let probabilities = |variant, phi: &[f64]| {
        let mut all = Vec::new();
        let total =
            choice_q_learning_losses(variant, phi, &sequence, |_, _, p| all.extend_from_slice(p))
                .unwrap();
        (total, all)
    };
    let (plain_total, plain_p) = probabilities(ChoiceQVariant::Plain, &plain);
    let (vanishing_total, vanishing_p) =
        probabilities(ChoiceQVariant::Forgetting, &[0.4, 3.0, 0.2, -0.3, -40.0]);
    assert!((plain_total - vanishing_total).abs() < 1e-12);
    for (a, b) in plain_p.iter().zip(&vanishing_p) {
        assert!((a - b).abs() < 1e-14);
    }
    let mut g_plain = vec![0.0; 4];
    let mut g_vanishing = vec![0.0; 5];
    let _ = choice_q_learning_mean_loss_and_gradient(
        ChoiceQVariant::Plain,
        &plain,
        &sequence,
        &mut g_plain,
    );
    let _ = choice_q_learning_mean_loss_and_gradient(
        ChoiceQVariant::Forgetting,
        &[0.4, 3.0, 0.2, -0.3, -40.0],
        &sequence,
        &mut g_vanishing,
    );
    for k in 0..4 {
        assert!((g_plain[k] - g_vanishing[k]).abs() < 1e-12);
    }
    // and a real forgetting rate does change the predictions
    let (forgetful_total, _) =
        probabilities(ChoiceQVariant::Forgetting, &[0.4, 3.0, 0.2, -0.3, 0.0]);
    assert!((forgetful_total - plain_total).abs() > 1e-3);
}

/// One session of a plain agent on a baited two-option task: each trial an unbaited
/// option is baited with its block's probability; choosing a baited option collects
/// reward 1 and empties it.
fn simulate(truth: &ChoiceQLearningParameters, blocks: &[[f64; 2]], seed: u64) -> ChoiceSequence {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut values, mut baited) = ([0.0f64; 2], [false; 2]);
    let mut sequence = ChoiceSequence {
        chosen: Vec::new(),
        rewards: Vec::new(),
        n_options: 2,
    };
    for block in blocks {
        for _ in 0..80 {
            for (bait, &p) in baited.iter_mut().zip(block) {
                *bait |= rng.random_bool(p);
            }
            let z = truth.inverse_temperature * (values[1] - values[0]) + truth.biases[0];
            let choice = usize::from(rng.random_bool(1.0 / (1.0 + (-z).exp())));
            let reward = f64::from(u8::from(baited[choice]));
            baited[choice] = false;
            values[choice] += truth.learning_rate * (reward - values[choice]);
            sequence.chosen.push(choice);
            sequence.rewards.push(reward);
        }
    }
    sequence
}

#[test]
fn recovers_the_parameters_of_a_simulated_agent() {
    let truth = ChoiceQLearningParameters {
        learning_rate: 0.3,
        inverse_temperature: 4.0,
        biases: vec![0.2],
        forgetting_rate: None,
    };
    let blocks = [[0.8, 0.2], [0.2, 0.8], [0.5, 0.5]];
    let sessions: Vec<ChoiceSequence> = (0..10).map(|s| simulate(&truth, &blocks, s)).collect();
    let fitted = fit_choice_q_learning(ChoiceQVariant::Plain, &sessions, 500).unwrap();
    let p = &fitted.parameters;
    assert!((p.learning_rate - 0.3).abs() < 0.25 * 0.3, "{p:?}");
    assert!((p.inverse_temperature - 4.0).abs() < 0.25 * 4.0, "{p:?}");
    assert!((p.biases[0] - 0.2).abs() < 0.2, "{p:?}");
    assert_eq!(p.forgetting_rate, None);
    let objective = ChoiceQLearningObjective::new(ChoiceQVariant::Plain, &sessions).unwrap();
    let all: Vec<usize> = (0..sessions.len()).collect();
    let truth_loss = objective.loss(&truth.to_unconstrained(), &all);
    assert!(
        fitted.mean_loss <= truth_loss + 1e-9,
        "{} vs {truth_loss}",
        fitted.mean_loss
    );
    assert!(fitted.mean_loss < std::f64::consts::LN_2 - 0.05);
    // the forgetting agent nests the plain one: it fits at least as well
    let forgetful = fit_choice_q_learning(ChoiceQVariant::Forgetting, &sessions, 500).unwrap();
    assert!(
        forgetful.mean_loss <= fitted.mean_loss + 1e-6,
        "{forgetful:?}"
    );
    assert!(
        forgetful.parameters.forgetting_rate.unwrap() < 0.05,
        "{forgetful:?}"
    );

    // held out: fit the first two blocks, predict the third
    let training: Vec<ChoiceSequence> = sessions.iter().map(|s| s.first_trials(160)).collect();
    let first = fit_choice_q_learning(ChoiceQVariant::Plain, &training, 500).unwrap();
    let (mut heldout, mut count) = (0.0, 0usize);
    let (mut predicted, mut observed) = ([0.0; 3], [0.0; 3]);
    for session in &sessions {
        choice_q_learning_losses(
            ChoiceQVariant::Plain,
            &first.unconstrained,
            session,
            |t, l, p| {
                if t >= 160 {
                    heldout += l;
                    count += 1;
                }
                predicted[t / 80] += p[1] / (80.0 * sessions.len() as f64);
                observed[t / 80] += session.chosen[t] as f64 / (80.0 * sessions.len() as f64);
            },
        )
        .unwrap();
    }
    assert_eq!(count, 800);
    assert!(
        heldout / (count as f64) < std::f64::consts::LN_2,
        "{heldout}"
    );
    // the matching-law figure's numbers: predicted option-1 fractions follow the blocks
    assert!(predicted[0] < 0.5 && predicted[1] > 0.5, "{predicted:?}");
    for block in 0..3 {
        assert!(
            (predicted[block] - observed[block]).abs() < 0.08,
            "block {block}: predicted {predicted:?}, observed {observed:?}"
        );
    }
}

#[test]
fn a_fly_recording_becomes_its_accepted_odours() {
    let recording = FlyRecording {
        odours: vec![1, 0, 0, 1, 1, 0],
        decisions: vec![0, 1, 1, 0, 1, 1],
        trial_of_presentation: vec![0, 0, 1, 2, 2, 3],
        rewards: vec![1.0, 0.0, 1.0, 0.0],
        n_odours: 2,
        name: "hand".into(),
    };
    let sequence = ChoiceSequence::from_recording(&recording).unwrap();
    assert_eq!(sequence.chosen, vec![0, 0, 1, 0]);
    assert_eq!(sequence.rewards, vec![1.0, 0.0, 1.0, 0.0]);
    assert_eq!(sequence.n_options, 2);
    let one_odour = FlyRecording {
        odours: vec![0, 0],
        decisions: vec![1, 1],
        trial_of_presentation: vec![0, 1],
        rewards: vec![1.0, 0.0],
        n_odours: 1,
        name: "single".into(),
    };
    assert_eq!(
        ChoiceSequence::from_recording(&one_odour)
            .unwrap()
            .n_options,
        2
    );
    let broken = FlyRecording {
        decisions: vec![0, 1, 1, 0, 1, 0],
        ..recording
    };
    assert!(ChoiceSequence::from_recording(&broken).is_err());
}

#[test]
fn bad_inputs_are_errors_naming_the_field() {
    let good = random_sequence(9, 20, 2);
    let phi = [0.0, 1.0, 0.0];
    let error_of = |sequence: &ChoiceSequence| {
        let mut gradient = [0.0; 3];
        let by_hand = choice_q_learning_mean_loss_and_gradient(
            ChoiceQVariant::Plain,
            &phi,
            sequence,
            &mut gradient,
        );
        let generic = choice_q_learning_losses(ChoiceQVariant::Plain, &phi, sequence, |_, _, _| {});
        let fitted =
            fit_choice_q_learning(ChoiceQVariant::Plain, std::slice::from_ref(sequence), 5);
        assert!(generic.is_err() && fitted.is_err());
        by_hand.unwrap_err().to_string()
    };
    let mut out_of_range = good.clone();
    out_of_range.chosen[7] = 2;
    assert!(error_of(&out_of_range).contains("'chosen'"));
    let mut short = good.clone();
    short.rewards.pop();
    assert!(error_of(&short).contains("'rewards'"));
    let mut not_finite = good.clone();
    not_finite.rewards[3] = f64::NAN;
    assert!(error_of(&not_finite).contains("trial 3"));
    let one_option = ChoiceSequence {
        n_options: 1,
        chosen: vec![0; 20],
        ..good.clone()
    };
    assert!(error_of(&one_option).contains("'n_options'"));
    // φ of the wrong length
    let mut gradient = [0.0; 4];
    let wrong = [0.0; 4];
    assert!(choice_q_learning_mean_loss_and_gradient(
        ChoiceQVariant::Plain,
        &wrong,
        &good,
        &mut gradient
    )
    .is_err());
    assert!(
        ChoiceQLearningParameters::from_unconstrained(ChoiceQVariant::Forgetting, 2, &phi).is_err()
    );
    // objectives need sequences, each with trials and the same K
    assert!(ChoiceQLearningObjective::new(ChoiceQVariant::Plain, &[]).is_err());
    let empty = good.first_trials(0);
    let mixed = [good.clone(), random_sequence(1, 10, 3)];
    assert!(fit_choice_q_learning(ChoiceQVariant::Plain, &[good.clone(), empty], 5).is_err());
    let error = ChoiceQLearningObjective::new(ChoiceQVariant::Plain, &mixed)
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("sequences[1].n_options"), "{error}");
}

#[test]
fn parameters_round_trip_and_are_named() {
    let p = ChoiceQLearningParameters {
        learning_rate: 0.25,
        inverse_temperature: -3.0,
        biases: vec![0.5, -1.5],
        forgetting_rate: Some(0.9),
    };
    let phi = p.to_unconstrained();
    let back =
        ChoiceQLearningParameters::from_unconstrained(ChoiceQVariant::Forgetting, 3, &phi).unwrap();
    for (a, b) in p.values().iter().zip(back.values()) {
        assert!((a - b).abs() < 1e-12);
    }
    assert_eq!(
        ChoiceQVariant::Forgetting.parameter_names(3),
        [
            "learning_rate",
            "inverse_temperature",
            "bias_1",
            "bias_2",
            "forgetting_rate"
        ]
    );
    assert_eq!(
        ChoiceQVariant::Plain.parameter_names(2),
        ["learning_rate", "inverse_temperature", "bias"]
    );
    assert_eq!(ChoiceQVariant::Plain.n_parameters(2), 3);
    assert_eq!(ChoiceQVariant::Forgetting.n_parameters(3), 5);
}
