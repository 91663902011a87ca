//! Neural recordings streamed from their file with forward-mode gradients give the
//! in-memory results exactly, from stored and deflated archives alike, and bad data
//! met while streaming is an error naming the file, the variable and the place.

mod common;

use std::io::{Read, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use common::{epochs, go_on, neural_settings, oja_task};
use plasticity::data::{NeuralDataset, NeuralStream};
use plasticity::fit::Solver;
use plasticity::gradient::GradientStrategy;
use plasticity::objective::{NeuralObjective, Objective, StreamedNeuralObjective};
use plasticity::pipeline::neural::{fit_neural, fit_neural_streamed, NeuralFitSettings};
use plasticity::rule::{parse_expression, TaylorRule, Variables};

fn dataset() -> NeuralDataset {
    let mut task = oja_task([6, 12, 3, 40], 0.05, 9);
    task.recording_fraction = 0.5;
    task.simulate().expect("simulated")
}

/// [`dataset`] and the file `dir/name` it is saved in.
fn saved_dataset(dir: &Path, name: &str) -> (NeuralDataset, PathBuf) {
    let data = dataset();
    let path = dir.join(name);
    data.save(&path).unwrap();
    (data, path)
}

fn theta() -> Vec<f64> {
    parse_expression("0.8*x*y - 1.1*y^2*w + 0.05*x - 0.02*w", Variables::Xyw).expect("rule")
}

/// The archive at `from` rewritten with every member deflated.
fn deflated_copy(from: &std::path::Path, to: &std::path::Path) {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(from).unwrap()).unwrap();
    let mut writer = zip::ZipWriter::new(std::fs::File::create(to).unwrap());
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for i in 0..archive.len() {
        let mut member = archive.by_index(i).unwrap();
        let mut bytes = Vec::new();
        member.read_to_end(&mut bytes).unwrap();
        writer
            .start_file(member.name().to_string(), options)
            .unwrap();
        writer.write_all(&bytes).unwrap();
    }
    writer.finish().unwrap();
}

fn streamed(path: &std::path::Path, items: &[usize]) -> (f64, Vec<f64>) {
    let stream = NeuralStream::open(path).expect("opens");
    let objective =
        StreamedNeuralObjective::new(&stream, TaylorRule::new(Variables::Xyw)).expect("objective");
    let mut gradient = vec![0.0; 27];
    let loss = objective.loss_and_gradient(&theta(), items, &mut gradient);
    assert!(objective.take_error().is_none());
    (loss, gradient)
}

#[test]
fn streamed_gradients_equal_the_in_memory_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (data, stored) = saved_dataset(dir.path(), "stored.npz");
    let deflated = dir.path().join("deflated.npz");
    deflated_copy(&stored, &deflated);
    assert!(
        std::fs::metadata(&deflated).unwrap().len() < std::fs::metadata(&stored).unwrap().len()
    );

    let rule = TaylorRule::new(Variables::Xyw);
    for items in [vec![0, 1, 2], vec![2], vec![1, 0]] {
        let in_memory = |strategy| {
            let objective = NeuralObjective::new(&data, rule, strategy).expect("objective");
            let mut gradient = vec![0.0; 27];
            let loss = objective.loss_and_gradient(&theta(), &items, &mut gradient);
            (loss, gradient)
        };
        let forward = in_memory(GradientStrategy::Forward);
        assert_eq!(
            streamed(&stored, &items),
            forward,
            "stored, items {items:?}"
        );
        assert_eq!(
            streamed(&deflated, &items),
            forward,
            "deflated, items {items:?}"
        );
        let (loss, adjoint) = in_memory(GradientStrategy::Checkpointed);
        assert!((forward.0 - loss).abs() <= 1e-13 * loss);
        for (f, a) in forward.1.iter().zip(&adjoint) {
            assert!((f - a).abs() <= 1e-10 * a.abs().max(1e-9), "{f} vs {a}");
        }
    }
}

#[test]
fn a_streamed_fit_equals_the_in_memory_forward_fit() {
    let dir = tempfile::tempdir().unwrap();
    let (data, path) = saved_dataset(dir.path(), "data.npz");
    // the L-BFGS/Adam path (Levenberg–Marquardt does not stream or resume mid-stage)
    let settings = NeuralFitSettings {
        gradient: GradientStrategy::Forward,
        ..neural_settings(epochs(15), 0, Solver::Lbfgs)
    };
    let keep_going = &mut go_on;
    let in_memory = fit_neural(&data, &settings, keep_going).unwrap();
    let stream = NeuralStream::open(&path).unwrap();
    let from_file = fit_neural_streamed(&stream, &settings, keep_going).unwrap();
    assert_eq!(from_file.scales, in_memory.scales);
    assert_eq!(from_file.outcome.theta, in_memory.outcome.theta);
    assert_eq!(
        from_file.outcome.loss_history,
        in_memory.outcome.loss_history
    );
    assert_eq!(from_file.metrics.final_loss, in_memory.metrics.final_loss);
    assert_eq!(
        from_file.metrics.loss_at_generating_rule,
        in_memory.metrics.loss_at_generating_rule
    );
}

#[test]
fn bad_values_and_truncation_are_named_while_streaming() {
    let mut data = dataset();
    data.recorded_activity[[1, 7, 2]] = f64::NAN;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nan.npz");
    // written around the in-memory check, as another program might
    plasticity::io::npz::write_npz(
        &path,
        &[
            (
                "inputs",
                plasticity::io::npz::NpzValue::F64(data.inputs.view().into_dyn()),
            ),
            (
                "initial_weights",
                plasticity::io::npz::NpzValue::F64(data.initial_weights.view().into_dyn()),
            ),
            (
                "recorded_activity",
                plasticity::io::npz::NpzValue::F64(data.recorded_activity.view().into_dyn()),
            ),
            (
                "recorded_neurons",
                plasticity::io::npz::NpzValue::I64(
                    ndarray::Array1::from(
                        data.recorded_neurons
                            .iter()
                            .map(|&i| i as i64)
                            .collect::<Vec<_>>(),
                    )
                    .view()
                    .into_dyn(),
                ),
            ),
            (
                "metadata",
                plasticity::io::npz::NpzValue::Str(
                    &serde_json::Value::Object(data.metadata.clone()).to_string(),
                ),
            ),
        ],
    )
    .unwrap();
    let stream = NeuralStream::open(&path).expect("the shapes are fine");
    let objective =
        StreamedNeuralObjective::new(&stream, TaylorRule::new(Variables::Xyw)).expect("objective");
    let mut gradient = vec![0.0; 27];
    assert!(objective
        .loss_and_gradient(&theta(), &[0, 1, 2], &mut gradient)
        .is_nan());
    let message = objective.take_error().expect("an error").to_string();
    assert!(message.contains("nan.npz"), "{message}");
    assert!(message.contains("recorded_activity"), "{message}");
    assert!(message.contains("[1, 7, 2]"), "{message}");

    // a file cut inside the recorded activity: opening may succeed (the sizes are in
    // the zip directory at the end, which is gone), or fail; either way, an error
    let whole = std::fs::read(&path).unwrap();
    let cut = dir.path().join("cut.npz");
    std::fs::write(&cut, &whole[..whole.len() * 2 / 3]).unwrap();
    assert!(NeuralStream::open(&cut).is_err());
}

#[test]
fn an_online_fit_moves_towards_the_generating_rule_and_stops_cleanly_on_overflow() {
    use plasticity::fit::Basis;
    use plasticity::pipeline::online::{fit_online_neural, OnlineSettings};
    let data = oja_task([5, 8, 1, 3000], 0.0, 4).simulate().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.npz");
    data.save(&path).unwrap();
    let stream = NeuralStream::open(&path).unwrap();
    let settings = NeuralFitSettings {
        trainable: "x*y,y^2*w".into(),
        init: "zeros".into(),
        // the L-BFGS/Adam path (Levenberg–Marquardt does not stream or resume mid-stage)
        solver: plasticity::fit::Solver::Lbfgs,
        ..NeuralFitSettings::default()
    };
    let online = OnlineSettings {
        update_every: 10,
        learning_rate: 0.02,
        decay_after: 0,
    };
    let mut seen = 0;
    let fit = fit_online_neural(&stream, &settings, &online, &mut |update| {
        seen += 1;
        assert_eq!(update.step, 10 * update.update);
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(seen, 300);
    assert_eq!(fit.steps.len(), 300);
    let names = plasticity::rule::term_names(Variables::Xyw);
    let at = |term: &str| names.iter().position(|n| n == term).unwrap();
    let (xy, y2w) = (fit.theta[at("x*y")], fit.theta[at("y^2*w")]);
    // from 0 most of the way to (1, −1); the other terms stay exactly 0
    assert!(xy > 0.5 && y2w < -0.5, "x*y {xy}, y^2*w {y2w}");
    assert_eq!(fit.theta.iter().filter(|v| **v != 0.0).count(), 2);
    assert!(fit.non_finite.is_none() && !fit.interrupted);

    // all terms in the scaled basis with a large step: the simulation overflows, and
    // the fit stops with the last finite estimate and says where
    let wild = NeuralFitSettings {
        init: "zeros".into(),
        basis: Some(Basis::Scaled),
        // the L-BFGS/Adam path (Levenberg–Marquardt does not stream or resume mid-stage)
        solver: plasticity::fit::Solver::Lbfgs,
        ..NeuralFitSettings::default()
    };
    let stopped = fit_online_neural(
        &stream,
        &wild,
        &OnlineSettings {
            learning_rate: 0.5,
            ..online
        },
        &mut |_| ControlFlow::Continue(()),
    )
    .unwrap();
    let reason = stopped.non_finite.expect("an overflow");
    assert!(reason.contains("non-finite at step"), "{reason}");
    assert!(stopped.theta.iter().all(|v| v.is_finite()));
    assert!(stopped.steps.len() < 300);
    // and a zero update interval is refused
    let zero = OnlineSettings {
        update_every: 0,
        ..OnlineSettings::default()
    };
    let error = fit_online_neural(
        &stream,
        &settings,
        &zero,
        &mut |_| ControlFlow::Continue(()),
    )
    .unwrap_err();
    assert!(error.to_string().contains("update-every"), "{error}");
}
