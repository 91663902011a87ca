use super::*;
use super::{CircuitSpec, Recorded};

const GOOD: &str = r#"
weight_bound = 10.0

[populations.x]
size = 3
input = true

[populations.y]
size = 4
activation = "tanh"
recorded = [0, 2]

[rules.ff]
rule = "x*y - y^2*w"

[projections.ff]
from = "x"
to = "y"
rule = "ff"
initial_weights = { std = 0.5 }

[projections.rec]
from = "y"
to = "y"
rule = "ff"
initial_weights = { std = 0.1 }
"#;

fn parse(source: &str) -> Result<CircuitSpec> {
    CircuitSpec::parse(source, Path::new("circuit.toml"), PathBuf::new())
}

fn error_of(source: &str) -> String {
    parse(source).unwrap_err().to_string()
}

#[test]
fn a_circuit_file_builds_its_network() {
    let spec = parse(GOOD).unwrap();
    let network = spec.build(0, None).unwrap();
    assert_eq!(network.n_neurons(), 7);
    // the recurrent projection has no self-synapses and is delayed
    let rec = &network.projections()[1];
    assert!(rec.delayed && !network.projections()[0].delayed);
    assert_eq!(rec.connectivity.n_synapses(), 12);
    assert_eq!(network.n_parameters(), 27);
    assert_eq!(network.weight_bound(), Some(10.0));
    assert_eq!(spec.populations[1].recorded, Recorded::Neurons(vec![0, 2]));
    // the JSON form (dataset metadata) reads back the same
    let json = serde_json::to_value(&spec).unwrap();
    let back: CircuitSpec = serde_json::from_value(json).unwrap();
    assert_eq!(back, spec);
}

#[test]
fn bad_circuit_files_name_the_key_and_its_line() {
    let unknown_population = GOOD.replace("from = \"y\"", "from = \"z\"");
    let message = error_of(&unknown_population);
    assert!(message.contains("projections.rec.from"), "{message}");
    assert!(message.contains("line 23"), "{message}");
    assert!(message.contains("'z'"), "{message}");

    let no_delay = GOOD.replace(
        "rule = \"ff\"\ninitial_weights = { std = 0.1 }",
        "rule = \"ff\"\ndelay = 0\ninitial_weights = { std = 0.1 }",
    );
    let message = error_of(&no_delay);
    assert!(message.contains("projections.rec.delay"), "{message}");
    assert!(message.contains("line 26"), "{message}");
    assert!(message.contains("needs delay = 1"), "{message}");

    let unknown_rule = GOOD.replace(
        "rule = \"ff\"\ninitial_weights = { std = 0.1 }",
        "rule = \"hebb\"\ninitial_weights = { std = 0.1 }",
    );
    let message = error_of(&unknown_rule);
    assert!(
        message.contains("projections.rec.rule") && message.contains("'hebb'"),
        "{message}"
    );

    let unknown_key = GOOD.replace("activation = \"tanh\"", "activaton = \"tanh\"");
    let message = error_of(&unknown_key);
    assert!(
        message.contains("populations.y") && message.contains("activaton"),
        "{message}"
    );

    let bad_activation = GOOD.replace("activation = \"tanh\"", "activation = \"softmax\"");
    let message = error_of(&bad_activation);
    assert!(
        message.contains("populations.y.activation") && message.contains("line 10"),
        "{message}"
    );

    let out_of_range = GOOD.replace("recorded = [0, 2]", "recorded = [0, 9]");
    let message = error_of(&out_of_range);
    assert!(
        message.contains("populations.y.recorded") && message.contains("neuron 9"),
        "{message}"
    );

    let per_trajectory = GOOD.replace(
        "initial_weights = { std = 0.5 }",
        "initial_weights = { std = 0.5 }\nfit_initial_weights = \"per_trajectory\"",
    );
    let message = error_of(&per_trajectory);
    assert!(
        message.contains("fit_initial_weights") && message.contains("not identifiable"),
        "{message}"
    );

    let not_toml = "[populations.x\nsize = 3";
    let message = error_of(not_toml);
    assert!(
        message.contains("circuit.toml") && message.contains("line 1"),
        "{message}"
    );
}

/// Found by `tests/fuzz.rs` (`circuit_toml_generated`): a circuit file declaring
/// huge populations drew its synapses until the allocator aborted; sizes whose
/// sums overflow, and a non-UTF-8 file, were not data errors.
#[test]
fn a_circuit_too_large_or_not_text_is_refused_naming_the_file() {
    let huge = GOOD.replacen("size = 3", "size = 1000000000000", 1);
    let error = parse(&huge).unwrap_err();
    assert!(matches!(error, Error::TooLarge { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains("projection 'ff'") && message.contains("circuit.toml"),
        "{message}"
    );
    let big = "size = 9223372036854775807\nrecorded = 0.0\n";
    let message = error_of(&format!(
        "[populations.x]\n{big}[populations.y]\n{big}[populations.z]\n{big}"
    ));
    assert!(
        message.contains("populations") && message.contains("counted"),
        "{message}"
    );
    let mlp = GOOD.replace(
        "[rules.ff]",
        "[rules.ff]\nfamily = \"mlp\"\nhidden = [4294967296, 4294967296]",
    );
    let message = error_of(&mlp);
    assert!(message.contains("counted"), "{message}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("circuit.toml");
    std::fs::write(&path, b"[populations.x]\nsize = \xff3\n").unwrap();
    let error = CircuitSpec::load(&path).unwrap_err();
    assert!(matches!(error, Error::Data { .. }), "{error:?}");
    assert!(error.to_string().contains("not UTF-8"), "{error}");
}

#[test]
fn a_mask_of_the_wrong_shape_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mask = dir.path().join("mask.npy");
    ndarray_npy::write_npy(&mask, &ndarray::Array2::<f64>::ones((4, 4))).unwrap();
    let source = GOOD.replace(
        "initial_weights = { std = 0.5 }",
        "initial_weights = { std = 0.5 }\nmask = { file = \"mask.npy\" }",
    );
    let error = CircuitSpec::parse(&source, Path::new("circuit.toml"), dir.path().to_path_buf())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("mask.npy") && error.contains("expected [4, 3]"),
        "{error}"
    );
    // a connectome as (pre, post) pairs
    let pairs = dir.path().join("pairs.csv");
    std::fs::write(&pairs, "pre,post\n0,1\n2,3\n1,0\n").unwrap();
    let source = GOOD.replace(
        "initial_weights = { std = 0.5 }",
        "initial_weights = { std = 0.5 }\nmask = { file = \"pairs.csv\" }",
    );
    let spec =
        CircuitSpec::parse(&source, Path::new("circuit.toml"), dir.path().to_path_buf()).unwrap();
    let network = spec.build(0, None).unwrap();
    let mask = network.projections()[0].connectivity.mask();
    let present: Vec<usize> = (0..12).filter(|&k| mask[k]).collect();
    // (pre 0, post 1) → 1·3 + 0; (2, 3) → 11; (1, 0) → 1
    assert_eq!(present, vec![1, 3, 11]);
    std::fs::write(&pairs, "0,1\n7,0\n").unwrap();
    let error = CircuitSpec::parse(&source, Path::new("circuit.toml"), dir.path().to_path_buf())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("line 2") && error.contains("out of range"),
        "{error}"
    );
}
