//! Spiking circuit files, the spike-train layout and the fit, end to end.

use std::ops::ControlFlow;
use std::path::Path;

use super::*;

const PAIR: &str = include_str!("../../../../../experiments/spiking/stdp_pair.toml");

fn pair_spec() -> SpikingCircuitSpec {
    SpikingCircuitSpec::parse(PAIR, Path::new("stdp_pair.toml")).unwrap()
}

#[test]
fn a_recording_survives_the_npz_round_trip() {
    let dataset = simulate_spike_trains(&pair_spec(), 2, 3000, 4).unwrap();
    assert!(dataset.rasters.iter().all(|r| r.n_spikes() > 1000));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spikes.npz");
    dataset.save(&path).unwrap();
    let loaded = SpikeTrainDataset::load(&path).unwrap();
    assert_eq!(loaded.rasters, dataset.rasters);
    assert_eq!(loaded.initial_weights, dataset.initial_weights);
    assert_eq!(loaded.weights, dataset.weights);
    assert_eq!(loaded.weight_steps, dataset.weight_steps);
    assert_eq!(loaded.circuit, dataset.circuit);
    // the recorded weights are those of the run: the last snapshot moved from W₀
    let last = loaded.weights[0].last().unwrap();
    assert!(last
        .iter()
        .zip(&loaded.initial_weights[0])
        .any(|(a, b)| a != b));
}

#[test]
fn fisher_scoring_reaches_at_least_the_generating_likelihood() {
    let dataset = simulate_spike_trains(&pair_spec(), 1, 20_000, 2).unwrap();
    let settings = SpikeFitSettings {
        epochs: 40,
        eval_steps: 2000,
        ..SpikeFitSettings::default()
    };
    let fit = fit_spike_trains(&dataset, &settings, &mut |_| ControlFlow::Continue(())).unwrap();
    let excess = fit.metrics.log_likelihood_over_generating.unwrap();
    // the maximum of a model that contains the truth: at or above it, by about K/2
    assert!((-1e-6..=12.0).contains(&excess), "{excess} nats");
    assert!(fit.metrics.log_likelihood > fit.metrics.log_likelihood_no_plasticity + 50.0);
    for c in &fit.metrics.coefficients {
        let error = c.relative_error.unwrap();
        assert!(
            error < 0.5,
            "{}: {} vs {:?}",
            c.name,
            c.fitted,
            c.generating
        );
    }
    // L-BFGS on the same likelihood agrees with Fisher scoring
    let lbfgs = SpikeFitSettings {
        solver: SpikeSolver::Lbfgs,
        epochs: 200,
        ..settings
    };
    let other = fit_spike_trains(&dataset, &lbfgs, &mut |_| ControlFlow::Continue(())).unwrap();
    for (a, b) in fit.outcome.theta.iter().zip(&other.outcome.theta) {
        assert!((a - b).abs() < 0.02 * a.abs(), "{a} vs {b}");
    }
}

#[test]
fn circuit_file_errors_name_the_key() {
    let cases = [
        (
            PAIR.replace("activation = \"lif\"", "activation = \"sigmoid\""),
            "populations.out.activation",
        ),
        (
            PAIR.replace("rule = \"stdp\"", "rule = \"nope\""),
            "projections.input_out.rule",
        ),
        (PAIR.replace("rho0 = 10.0", "rho0 = -1.0"), "rho0"),
        (
            PAIR.replace(
                "terms = [\"s_post*x_trace\", \"s_pre*y_trace\"]",
                "terms = [\"s_post*z\"]",
            ),
            "unknown variable 'z'",
        ),
    ];
    for (source, expected) in cases {
        let error = SpikingCircuitSpec::parse(&source, Path::new("c.toml"))
            .and_then(|spec| {
                spec.build(0)
                    .map(|_| ())
                    .and_then(|_| spec.rule(0).map(|_| ()))
            })
            .unwrap_err()
            .to_string();
        assert!(error.contains(expected), "{error} lacks {expected}");
    }
    assert!(crate::circuit::spiking::spec::is_spiking_source(PAIR));
}

#[test]
fn fits_refuse_unrecorded_background_input() {
    let source = PAIR.replace(
        "escape = { kind = \"exponential\", rho0 = 10.0, delta_u = 3.0 }",
        "escape = { kind = \"exponential\", rho0 = 10.0, delta_u = 3.0 }\nbackground = { count = 10, rate = 5.0, weight = 0.1 }",
    );
    let spec = SpikingCircuitSpec::parse(&source, Path::new("c.toml")).unwrap();
    let dataset = simulate_spike_trains(&spec, 1, 500, 1).unwrap();
    let error = fit_spike_trains(&dataset, &SpikeFitSettings::default(), &mut |_| {
        ControlFlow::Continue(())
    })
    .unwrap_err()
    .to_string();
    assert!(error.contains("background"), "{error}");
}

#[test]
fn source_rates_can_come_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    // 100 neurons: neuron 0 silent then at 400 Hz, the others at 20 Hz, 2000 steps
    let mut csv = String::new();
    for t in 0..2000 {
        let first = if t < 1000 { 0.0 } else { 400.0 };
        let row: Vec<String> = std::iter::once(first)
            .chain(std::iter::repeat_n(20.0, 99))
            .map(|r| r.to_string())
            .collect();
        csv.push_str(&row.join(","));
        csv.push('\n');
    }
    std::fs::write(dir.path().join("rates.csv"), csv).unwrap();
    let source = "source = { base = [15.0, 25.0], modulation = 12.0, groups = 4, tau = 50.0, clip = [5.0, 40.0] }";
    let text = PAIR.replace(source, "source = { rates = \"rates.csv\" }");
    let circuit_path = dir.path().join("c.toml");
    let spec = SpikingCircuitSpec::parse(&text, &circuit_path).unwrap();
    let dataset = simulate_spike_trains(&spec, 1, 2000, 1).unwrap();
    let raster = &dataset.rasters[0];
    let count = |neuron: u32, steps: std::ops::Range<usize>| -> usize {
        steps
            .map(|t| raster.at(t).iter().filter(|&&i| i == neuron).count())
            .sum()
    };
    assert_eq!(count(0, 0..1000), 0, "silent while its rate is 0");
    let late = count(0, 1000..2000);
    assert!(
        (340..=460).contains(&late),
        "{late} spikes at 400 Hz over 1 s"
    );
    let others: usize = (1..100).map(|j| count(j, 0..2000)).sum();
    let expected = 99.0 * 20.0 * 2.0;
    assert!(
        (others as f64 - expected).abs() < 0.1 * expected,
        "{others}"
    );
    // too short a file, a wrong width and both kinds of rates are refused by name
    let error = simulate_spike_trains(&spec, 1, 3000, 1)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("rates.csv") && error.contains("3000"),
        "{error}"
    );
    std::fs::write(dir.path().join("narrow.csv"), "1,2\n3,4\n").unwrap();
    let narrow = text.replace("rates.csv", "narrow.csv");
    let error = SpikingCircuitSpec::parse(&narrow, &circuit_path)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("narrow.csv") && error.contains("expected 100"),
        "{error}"
    );
    let both = text.replace(
        "rates = \"rates.csv\"",
        "rates = \"rates.csv\", base = [1.0, 2.0]",
    );
    let error = SpikingCircuitSpec::parse(&both, &circuit_path)
        .unwrap_err()
        .to_string();
    assert!(error.contains("one of them"), "{error}");
}
