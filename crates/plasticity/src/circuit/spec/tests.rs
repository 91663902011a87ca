use super::*;
use super::{CircuitSpec, Recorded};

const GOOD: &str = concat!(
    "\nweight_bound = 10.0\n\n",
    "[populations.x]\nsize = 3\ninput = true\n\n",
    "[populations.y]\nsize = 4\nactivation = \"tanh\"\nrecorded = [0, 2]\n\n",
    "[rules.ff]\nrule = \"x*y - y^2*w\"\n\n",
    "[projections.ff]\nfrom = \"x\"\nto = \"y\"\nrule = \"ff\"\ninitial_weights = { std = 0.5 }\n\n",
    "[projections.rec]\nfrom = \"y\"\nto = \"y\"\nrule = \"ff\"\ninitial_weights = { std = 0.1 }\n",
);

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

/// `GOOD` with `from` replaced by `to`.
fn good_with(from: &str, to: &str) -> String {
    GOOD.replace(from, to)
}

#[test]
fn bad_circuit_files_name_the_key_and_its_line() {
    let rec_rule = "rule = \"ff\"\ninitial_weights = { std = 0.1 }";
    let (tanh, ff_weights) = ("activation = \"tanh\"", "initial_weights = { std = 0.5 }");
    let cases: [(&str, String, &[&str]); 8] = [
        (
            "an unknown population",
            good_with("from = \"y\"", "from = \"z\""),
            &["projections.rec.from", "line 23", "'z'"],
        ),
        (
            "a recurrent projection without delay",
            good_with(
                rec_rule,
                "rule = \"ff\"\ndelay = 0\ninitial_weights = { std = 0.1 }",
            ),
            &["projections.rec.delay", "line 26", "needs delay = 1"],
        ),
        (
            "an unknown rule",
            good_with(rec_rule, "rule = \"hebb\"\ninitial_weights = { std = 0.1 }"),
            &["projections.rec.rule", "'hebb'"],
        ),
        (
            "an unknown key",
            good_with(tanh, "activaton = \"tanh\""),
            &["populations.y", "activaton"],
        ),
        (
            "an unknown activation",
            good_with(tanh, "activation = \"softmax\""),
            &["populations.y.activation", "line 10"],
        ),
        (
            "a recorded neuron out of range",
            good_with("recorded = [0, 2]", "recorded = [0, 9]"),
            &["populations.y.recorded", "neuron 9"],
        ),
        (
            "initial weights per trajectory",
            good_with(
                ff_weights,
                &format!("{ff_weights}\nfit_initial_weights = \"per_trajectory\""),
            ),
            &["fit_initial_weights", "not identifiable"],
        ),
        (
            "not TOML",
            "[populations.x\nsize = 3".to_string(),
            &["circuit.toml", "line 1"],
        ),
    ];
    for (case, source, needles) in &cases {
        let message = error_of(source);
        for needle in *needles {
            assert!(
                message.contains(needle),
                "{case}: '{needle}' not in {message}"
            );
        }
    }
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
    // GOOD with a mask file on its feed-forward projection, parsed in `dir`
    let ff = "initial_weights = { std = 0.5 }";
    let with_mask = |file: &str| good_with(ff, &format!("{ff}\nmask = {{ file = \"{file}\" }}"));
    let parse_in_dir =
        |source: &str| CircuitSpec::parse(source, Path::new("circuit.toml"), dir.path().into());
    let error = parse_in_dir(&with_mask("mask.npy"))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("mask.npy") && error.contains("expected [4, 3]"),
        "{error}"
    );
    // a connectome as (pre, post) pairs
    let pairs = dir.path().join("pairs.csv");
    std::fs::write(&pairs, "pre,post\n0,1\n2,3\n1,0\n").unwrap();
    let source = with_mask("pairs.csv");
    let spec = parse_in_dir(&source).unwrap();
    let network = spec.build(0, None).unwrap();
    let mask = network.projections()[0].connectivity.mask();
    let present: Vec<usize> = (0..12).filter(|&k| mask[k]).collect();
    // (pre 0, post 1) → 1·3 + 0; (2, 3) → 11; (1, 0) → 1
    assert_eq!(present, vec![1, 3, 11]);
    std::fs::write(&pairs, "0,1\n7,0\n").unwrap();
    let error = parse_in_dir(&source).unwrap_err().to_string();
    assert!(
        error.contains("line 2") && error.contains("out of range"),
        "{error}"
    );
}
