//! Property and fuzz harnesses of every loader and parser: `.npz` datasets (neural,
//! streamed neural — opened and read step by step — behaviour and circuit, stored and
//! deflated, with their header-only shape and kind reads), circuit files (TOML, with a
//! connectome file), `.mat` and CSV fly recordings, rule expressions and
//! trainable-term lists. Each harness mutates real valid files (byte flips, overwrites
//! with troublesome sizes, truncations, insertions, deletions, splices) or generates
//! random inputs, and requires of every input:
//!
//! - no panic (proptest catches it and reports the smallest input that panics);
//! - `Ok`, or a typed error ([`Error::Data`]) that names the file and a variable the
//!   format has (or the whole file, or a name the corrupted file itself holds);
//! - no single allocation larger than the input justifies ([`support::Meter`]: a
//!   request above 1 GiB is refused outright, which aborts the test); a circuit file
//!   may declare a circuit larger than itself, so it may take up to twice the memory
//!   limit, which the harnesses set to [`HARNESS_LIMIT`] (64 MiB) unless
//!   `PLASTICITY_MAX_DATASET_BYTES` is set;
//! - no hang: every harness must finish (there is no unbounded loop on input data).
//!
//! The number of inputs per harness is `PLASTICITY_FUZZ_CASES` (default: sized so
//! that all harnesses together take well under two minutes on two cores in
//! `cargo test --release`); `PLASTICITY_FUZZ_SEED` changes the inputs (by default they
//! are the same every run). Each harness prints how many inputs it tried; see them with
//! `cargo test --release -p plasticity --test fuzz -- --nocapture`.

#[path = "support/files.rs"]
mod files;
mod support;

use std::path::Path;

use files::*;
use plasticity::circuit::CircuitSpec;
use plasticity::data::{
    dataset_kind, load_fly_csv, load_fly_mat, BehaviourDataset, CircuitDataset, Dataset,
    NeuralDataset, NeuralStream,
};
use plasticity::io::npz::NpzFile;
use plasticity::rule::{format_expression, parse_expression, TrainableSpec, Variables};
use plasticity::Error;
use proptest::prelude::*;
use support::*;

#[global_allocator]
static METER: Meter = Meter;

const NEURAL_KEYS: [&str; 5] = [
    "inputs",
    "initial_weights",
    "recorded_activity",
    "recorded_neurons",
    "metadata",
];
const BEHAVIOUR_KEYS: [&str; 10] = [
    "inputs",
    "odours",
    "decisions",
    "trial_of_presentation",
    "n_presentations",
    "rewards",
    "expected_rewards",
    "n_trials",
    "initial_weights",
    "metadata",
];

/// The memory limit the harnesses run under, unless `PLASTICITY_MAX_DATASET_BYTES` is
/// set: what a file declares beyond it must be refused, well below the meter's 1 GiB.
const HARNESS_LIMIT: u64 = 64 << 20;

/// Sets the harnesses' memory limit ([`HARNESS_LIMIT`]); every harness calls it first,
/// so that all see the same limit whatever order they run in.
fn limit_memory() {
    let var = plasticity::limits::MAX_DATASET_BYTES_VAR;
    if std::env::var_os(var).is_none() {
        std::env::set_var(var, HARNESS_LIMIT.to_string());
    }
}

/// Writes `bytes` to `path`, runs `load` on it under the allocation meter, and checks
/// the outcome: `Ok` passes `ok`, an error is a data error naming the file and one of
/// `variables` (or a name the bytes hold).
fn exercise<T>(
    path: &Path,
    bytes: &[u8],
    variables: &[&str],
    load: impl FnOnce(&Path) -> plasticity::Result<T>,
    ok: impl FnOnce(T) -> Result<(), TestCaseError>,
) -> Result<(), TestCaseError> {
    std::fs::write(path, bytes).expect("test file written");
    let (result, largest) = largest_allocation(|| load(path));
    check_allocation(largest, bytes.len())?;
    match result {
        Ok(value) => ok(value),
        Err(error) => check_data_error(&error, path, variables, |name| holds_name(bytes, name)),
    }
}

/// [`exercise`] for `.mat` files, whose variable names may sit inside compressed
/// elements: an error may name any variable of the file (the message must name it).
fn exercise_mat(
    path: &Path,
    bytes: &[u8],
    ok: impl FnOnce(plasticity::data::FlyRecording) -> Result<(), TestCaseError>,
) -> Result<(), TestCaseError> {
    std::fs::write(path, bytes).expect("test file written");
    let (result, largest) = largest_allocation(|| load_fly_mat(path));
    check_allocation(largest, bytes.len())?;
    match result {
        Ok(fly) => ok(fly),
        Err(error) => check_data_error(&error, path, &["X", "Y", "R"], |_| true),
    }
}

/// Opens `path` as an archive and reads every member as each kind it could be: every
/// error must be well formed, not just the first.
fn exercise_members(path: &Path, bytes: &[u8]) -> Result<(), TestCaseError> {
    std::fs::write(path, bytes).expect("test file written");
    let (outcome, largest) = largest_allocation(|| -> Result<(), TestCaseError> {
        let file = match NpzFile::open(path) {
            Ok(file) => file,
            Err(e) => return check_data_error(&e, path, &[], |n| holds_name(bytes, n)),
        };
        for key in file.keys() {
            let results = (0..4).flat_map(|ndim| {
                [
                    file.f64_shape(&key, ndim).map(drop),
                    file.i64_shape(&key, ndim).map(drop),
                    file.f64_array(&key, ndim).map(drop),
                    file.i64_array(&key, ndim).map(drop),
                ]
            });
            for result in results.chain([file.string(&key).map(drop)]) {
                if let Err(e) = result {
                    check_data_error(&e, path, &[key.as_str()], |_| false)?;
                }
            }
        }
        Ok(())
    });
    check_allocation(largest, bytes.len())?;
    outcome
}

#[test]
fn neural_npz_mutations() {
    limit_memory();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("neural.npz");
    let stored = neural_npz();
    let seeds = [stored.clone(), deflated(&stored)];
    let hot: Vec<Vec<usize>> = seeds.iter().map(|s| hot_spots(s)).collect();
    run(
        "neural_npz_mutations",
        4000,
        (0..seeds.len(), mutations()),
        |(which, m)| {
            let bytes = apply(&seeds[which], &hot[which], &m);
            exercise(
                &path,
                &bytes,
                &NEURAL_KEYS,
                |p| NeuralDataset::load(p),
                |d| {
                    prop_assert!(d.recorded_neurons.iter().all(|&i| i < d.n_post()));
                    Ok(())
                },
            )?;
            exercise(
                &path,
                &bytes,
                &NEURAL_KEYS,
                |p| Dataset::load(p),
                |_| Ok(()),
            )?;
            exercise(
                &path,
                &bytes,
                &NEURAL_KEYS,
                |p| {
                    let stream = NeuralStream::open(p)?;
                    read_every_step(&stream)?;
                    Ok(stream)
                },
                |_| Ok(()),
            )?;
            exercise(&path, &bytes, &NEURAL_KEYS, |p| dataset_kind(p), |_| Ok(()))?;
            exercise_members(&path, &bytes)
        },
    );
}

/// Reads every step of every trajectory of `stream` (stopping at the first error).
fn read_every_step(stream: &NeuralStream) -> plasticity::Result<()> {
    let mut input = vec![0.0; stream.n_pre()];
    let mut recorded = vec![0.0; stream.recorded_neurons().len()];
    for k in 0..stream.n_trajectories() {
        let mut trajectory = stream.trajectory(k)?;
        while trajectory.next_step(&mut input, &mut recorded)? {}
    }
    Ok(())
}

#[test]
fn behaviour_npz_mutations() {
    limit_memory();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("behaviour.npz");
    let stored = behaviour_npz();
    let seeds = [stored.clone(), deflated(&stored)];
    let hot: Vec<Vec<usize>> = seeds.iter().map(|s| hot_spots(s)).collect();
    run(
        "behaviour_npz_mutations",
        3000,
        (0..seeds.len(), mutations()),
        |(which, m)| {
            let bytes = apply(&seeds[which], &hot[which], &m);
            exercise(
                &path,
                &bytes,
                &BEHAVIOUR_KEYS,
                |p| BehaviourDataset::load(p),
                |d| {
                    prop_assert_eq!(d.n_presentations.len(), d.n_sessions());
                    Ok(())
                },
            )?;
            exercise(
                &path,
                &bytes,
                &BEHAVIOUR_KEYS,
                |p| Dataset::load(p),
                |_| Ok(()),
            )
        },
    );
}

/// A `.npy` header dict from parts: any dtype text, any shape (huge, negative,
/// overflowing), either order, sometimes missing or extra keys.
fn header_dict() -> impl Strategy<Value = String> {
    let descr = prop::sample::select(vec![
        "'<f8'",
        "'<i8'",
        "'<f4'",
        "'>f8'",
        "'|b1'",
        "'<U5'",
        "'<U0'",
        "'|O'",
        "'<c16'",
        "'<U99999999999999'",
        "'f'",
        "''",
        "[('a', '<f8')]",
        "3",
    ]);
    let dim = prop_oneof![
        0i64..6,
        prop::sample::select(vec![
            -1i64,
            1_000_000,
            1_000_000_000_000,
            i64::MAX,
            4_294_967_296
        ]),
    ];
    let shape = prop::collection::vec(dim, 0..5).prop_map(|dims| {
        let inner: Vec<String> = dims.iter().map(i64::to_string).collect();
        match inner.len() {
            1 => format!("({},)", inner[0]),
            _ => format!("({})", inner.join(", ")),
        }
    });
    let order = prop::sample::select(vec!["False", "True", "0", "None"]);
    (descr, shape, order, 0u8..8).prop_map(|(d, s, o, variant)| match variant {
        0 => format!("{{'descr': {d}, 'shape': {s}, }}"),
        1 => format!("{{'descr': {d}, 'fortran_order': {o}, 'shape': {s}, 'extra': 1}}"),
        2 => format!("{{'shape': {s}, 'fortran_order': {o}, 'descr': {d}}}"),
        _ => format!("{{'descr': {d}, 'fortran_order': {o}, 'shape': {s}, }}"),
    })
}

#[test]
fn npz_generated_headers() {
    limit_memory();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("generated.npz");
    let member = (
        prop::sample::select(vec!["inputs.npy", "metadata.npy", "x", "a/", "x.npy"]),
        header_dict(),
        prop::collection::vec(any::<u8>(), 0..200),
    );
    run(
        "npz_generated_headers",
        6000,
        (prop::collection::vec(member, 1..4), any::<bool>()),
        |(members, deflate)| {
            // one member per name (the zip writer refuses duplicates)
            let mut unique: Vec<(&str, Vec<u8>)> = Vec::new();
            for (name, dict, data) in &members {
                if !unique.iter().any(|(n, _)| n == name) {
                    unique.push((*name, npy(dict, data)));
                }
            }
            let members = unique;
            let method = if deflate {
                zip::CompressionMethod::Deflated
            } else {
                zip::CompressionMethod::Stored
            };
            let bytes = zip_of(&members, method);
            exercise_members(&path, &bytes)?;
            exercise(
                &path,
                &bytes,
                &NEURAL_KEYS,
                |p| NeuralDataset::load(p),
                |_| Ok(()),
            )
        },
    );
}

#[test]
fn mat_mutations() {
    limit_memory();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("Fly.mat");
    let seeds = [
        fly_fixture("scipy_compressed.mat"),
        fly_fixture("scipy_uncompressed.mat"),
        fly_fixture("Fly1.mat"),
        mat_file(&fly_vars(), false),
    ];
    let hot: Vec<Vec<usize>> = seeds.iter().map(|s| hot_spots(s)).collect();
    run(
        "mat_mutations",
        6000,
        (0..seeds.len(), mutations()),
        |(which, m)| {
            let bytes = apply(&seeds[which], &hot[which], &m);
            exercise_mat(&path, &bytes, |fly| {
                prop_assert!(fly.validate().is_ok(), "{:?}", fly.validate());
                Ok(())
            })
        },
    );
}

/// A MAT variable with any class, dimensions, storage type and data length.
fn mat_var() -> impl Strategy<Value = MatVar> {
    let name = prop_oneof![
        prop::sample::select(vec!["X", "Y", "R", "note", ""]).prop_map(|n| n.as_bytes().to_vec()),
        prop::collection::vec(any::<u8>(), 0..8),
    ];
    let dim = prop_oneof![
        0i32..8,
        prop::sample::select(vec![-1, 1_000_000, i32::MAX, i32::MIN]),
    ];
    (
        name,
        0u32..20,
        prop::collection::vec(dim, 0..4),
        0u32..20,
        prop::collection::vec(
            prop_oneof![Just(0u8), Just(0x3f), Just(0xf0), Just(0xff), any::<u8>()],
            0..96,
        ),
    )
        .prop_map(|(name, class, dims, data_type, data)| MatVar {
            name,
            class,
            dims,
            data_type,
            data,
        })
}

#[test]
fn mat_generated_variables() {
    limit_memory();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("Generated.mat");
    let valid = fly_vars();
    run(
        "mat_generated_variables",
        6000,
        (
            prop::collection::vec((mat_var(), any::<bool>()), 0..4),
            prop::collection::vec(any::<bool>(), 3),
        ),
        |(extra, keep)| {
            // some valid variables, the generated ones in between
            let mut bytes = mat_header();
            for (i, var) in valid.iter().enumerate() {
                if keep[i] {
                    bytes.extend(mat_matrix(var));
                }
                if let Some((generated, compressed)) = extra.get(i) {
                    let m = mat_matrix(generated);
                    bytes.extend(if *compressed { mat_compressed(&m) } else { m });
                }
            }
            exercise_mat(&path, &bytes, |fly| {
                prop_assert!(fly.validate().is_ok(), "{:?}", fly.validate());
                Ok(())
            })
        },
    );
}

const CSV_COLUMNS: [&str; 4] = ["trial", "odour", "decision", "reward"];

#[test]
fn csv_mutations() {
    limit_memory();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("fly.csv");
    let seed = fly_fixture("example.csv");
    let hot = hot_spots(&seed);
    run("csv_mutations", 6000, mutations(), |m| {
        let bytes = apply(&seed, &hot, &m);
        exercise(
            &path,
            &bytes,
            &CSV_COLUMNS,
            |p| load_fly_csv(p),
            |fly| {
                prop_assert!(fly.validate().is_ok(), "{:?}", fly.validate());
                Ok(())
            },
        )
    });
}

/// A CSV cell: numbers (sometimes huge, negative, non-finite, quoted), words, nothing.
fn csv_cell() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (0i64..4).prop_map(|v| v.to_string()),
        1 => prop::sample::select(vec![
            "", "-1", "1e308", "1e999", "NaN", "inf", "-0", "0.5", "\"1\"", "\"", "x", " 1 ",
            "9223372036854775808", "300",
        ])
        .prop_map(str::to_string),
    ]
}

#[test]
fn csv_generated_rows() {
    limit_memory();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("generated.csv");
    let header = prop_oneof![
        Just("trial,odour,decision,reward".to_string()),
        Just("reward,decision,odour,trial,extra".to_string()),
        Just("trial,odour,decision".to_string()),
        Just("trial,trial,odour,decision,reward".to_string()),
        Just("\"Trial\",\"Odour\",\"Decision\",\"Reward\"".to_string()),
    ];
    let row = prop::collection::vec(csv_cell(), 0..6).prop_map(|cells| cells.join(","));
    run(
        "csv_generated_rows",
        6000,
        (header, prop::collection::vec(row, 0..30)),
        |(header, rows)| {
            let text = format!("{header}\n{}\n", rows.join("\n"));
            exercise(
                &path,
                text.as_bytes(),
                &CSV_COLUMNS,
                |p| load_fly_csv(p),
                |fly| {
                    prop_assert!(fly.validate().is_ok(), "{:?}", fly.validate());
                    Ok(())
                },
            )
        },
    );
}

#[test]
fn random_bytes_in_every_loader() {
    limit_memory();
    let dir = tempfile::tempdir().expect("temp dir");
    let paths = ["random.npz", "random.mat", "random.csv"].map(|n| dir.path().join(n));
    // random bytes, sometimes behind a valid signature or header
    let prefix = prop::sample::select(vec![
        Vec::new(),
        b"PK\x03\x04".to_vec(),
        b"PK\x05\x06".to_vec(),
        mat_header(),
        b"trial,odour,decision,reward\n".to_vec(),
    ]);
    run(
        "random_bytes_in_every_loader",
        4000,
        (prefix, prop::collection::vec(any::<u8>(), 0..600)),
        |(prefix, tail)| {
            let bytes = [prefix, tail].concat();
            exercise(
                &paths[0],
                &bytes,
                &NEURAL_KEYS,
                |p| Dataset::load(p),
                |_| Ok(()),
            )?;
            exercise_members(&paths[0], &bytes)?;
            exercise_mat(&paths[1], &bytes, |_| Ok(()))?;
            exercise(
                &paths[2],
                &bytes,
                &CSV_COLUMNS,
                |p| load_fly_csv(p),
                |_| Ok(()),
            )
        },
    );
}

/// Expression text: tokens of the grammar and of its neighbours, in any order.
fn expression_text() -> impl Strategy<Value = String> {
    let token = prop::sample::select(vec![
        "x", "y", "w", "r", "z", "*", "+", "-", "^", "2", "3", "0.5", "1e-3", "1e999", "1e308",
        " ", "(", ")", ".", "e", "x^2", "y^2*w", "x*y", "--", "NaN", "inf", "é", "0",
    ]);
    prop_oneof![
        prop::collection::vec(token, 0..12).prop_map(|t| t.concat()),
        ".{0,24}",
    ]
}

#[test]
fn rule_expressions() {
    limit_memory();
    let seeds = [
        "x*y - y^2*w",
        "x*r - 0.05*w",
        "-0.5 * x^2 + 2e-3*y*w*r - 1",
        "x*y + w^2",
    ];
    let mutated = (prop::sample::select(seeds.to_vec()), mutations()).prop_map(|(s, m)| {
        let bytes = apply(s.as_bytes(), &hot_spots(s.as_bytes()), &m);
        String::from_utf8_lossy(&bytes).into_owned()
    });
    run(
        "rule_expressions",
        10000,
        prop_oneof![expression_text(), mutated],
        |text| {
            for variables in [Variables::Xyw, Variables::Xywr] {
                let (result, largest) = largest_allocation(|| parse_expression(&text, variables));
                check_allocation(largest, text.len())?;
                match result {
                    // what parses is finite and formats back to the same coefficients
                    Ok(theta) => {
                        prop_assert_eq!(theta.len(), variables.n_terms());
                        prop_assert!(theta.iter().all(|v| v.is_finite()), "{:?}", theta);
                        let again =
                            parse_expression(&format_expression(&theta, variables), variables)
                                .map_err(|e| TestCaseError::fail(e.to_string()))?;
                        prop_assert_eq!(again, theta);
                    }
                    Err(Error::Expression {
                        expression,
                        message,
                    }) => {
                        prop_assert_eq!(&expression, &text);
                        prop_assert!(!message.is_empty());
                    }
                    Err(other) => {
                        return Err(TestCaseError::fail(format!(
                            "expected an expression error, got {other:?}"
                        )))
                    }
                }
                match TrainableSpec::parse(&text).and_then(|spec| spec.mask(variables)) {
                    Ok(mask) => prop_assert_eq!(mask.len(), variables.n_terms()),
                    Err(Error::Expression { .. } | Error::Config { .. }) => {}
                    Err(other) => {
                        return Err(TestCaseError::fail(format!(
                            "trainable '{text}': unexpected error {other:?}"
                        )))
                    }
                }
            }
            Ok(())
        },
    );
}

/// The meter the harnesses rely on sees a large request (so a loader that allocated
/// what a hostile header claims would be caught), and meters only what it runs.
#[test]
fn the_allocation_meter_sees_large_requests() {
    limit_memory();
    let (v, largest) = largest_allocation(|| vec![1u8; 10 << 20]);
    assert!(largest >= 10 << 20, "{largest}");
    assert!(check_allocation(largest, 1000).is_err());
    drop(v);
    let (_, small) = largest_allocation(|| vec![1u8; 10]);
    assert!(small < 1024, "{small}");
}

// ---------------------------------------------------------------------------------
// Circuits

/// Variables a circuit dataset's errors may name besides its members (which the file
/// holds): the metadata, and `recorded_activity` when no population is recorded.
const CIRCUIT_VARIABLES: [&str; 2] = ["metadata", "recorded_activity"];

/// What a loaded circuit dataset must satisfy: arrays of the sizes its fields document,
/// recorded neurons within their populations.
fn check_circuit(d: &CircuitDataset) -> Result<(), TestCaseError> {
    let network = &d.network;
    let (k, t, n) = (d.trajectories, d.steps, network.n_neurons());
    prop_assert!(k > 0 && t > 0);
    prop_assert_eq!(d.drive.len(), k * t * n);
    prop_assert_eq!(d.initial_weights.len(), k * network.n_synapses());
    prop_assert_eq!(d.recorded_neurons.len(), network.populations().len());
    let mut n_rec = 0;
    for (p, list) in d.recorded_neurons.iter().enumerate() {
        let size = network.activity_range(p).len();
        prop_assert!(list.windows(2).all(|w| w[0] < w[1]), "{:?}", list);
        prop_assert!(list.iter().all(|&i| i < size), "{:?} of {}", list, size);
        n_rec += list.len();
    }
    prop_assert!(n_rec > 0);
    prop_assert_eq!(d.recorded_activity.len(), k * t * n_rec);
    prop_assert!(d.recorded_activity.iter().all(|v| v.is_finite()));
    prop_assert!(d.initial_weights.iter().all(|v| v.is_finite()));
    Ok(())
}

/// The members a circuit dataset has, by kind: `{prefix}/{population or projection}`.
const CIRCUIT_PREFIXES: [&str; 6] = [
    "inputs",
    "external_input",
    "recorded_activity",
    "recorded_neurons",
    "initial_weights",
    "mask",
];

/// Whether `variable` is a member a circuit dataset may have: one of the format's
/// prefixes and a name that the file holds (ASCII or UTF-32, as `metadata` stores
/// it) or that `text` (the circuit JSON it was made with) holds.
fn circuit_member(bytes: &[u8], text: &str, variable: &str) -> bool {
    if holds_name(bytes, variable) {
        return true;
    }
    let Some((prefix, name)) = variable.split_once('/') else {
        return false;
    };
    let utf32: Vec<u8> = name
        .chars()
        .flat_map(|c| u32::from(c).to_le_bytes())
        .collect();
    CIRCUIT_PREFIXES.contains(&prefix)
        && (holds_name(bytes, name) || contains_bytes(bytes, &utf32) || text.contains(name))
}

/// Loads a circuit dataset and reads its kind, as `plasticity fit` does; `text` is
/// the circuit JSON the file was made with.
fn exercise_circuit_npz(path: &Path, bytes: &[u8], text: &str) -> Result<(), TestCaseError> {
    std::fs::write(path, bytes).expect("test file written");
    let named = |v: &str| circuit_member(bytes, text, v);
    let (kind, largest) = largest_allocation(|| dataset_kind(path));
    check_allocation(largest, bytes.len())?;
    if let Err(e) = kind {
        check_data_error(&e, path, &CIRCUIT_VARIABLES, named)?;
    }
    let (result, largest) = largest_allocation(|| CircuitDataset::load(path));
    check_allocation(largest, bytes.len())?;
    match result {
        Ok(d) => check_circuit(&d),
        Err(e) => check_data_error(&e, path, &CIRCUIT_VARIABLES, named),
    }
}

#[test]
fn circuit_npz_mutations() {
    limit_memory();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("circuit.npz");
    let stored = circuit_npz();
    let seeds = [stored.clone(), deflated(&stored)];
    let hot: Vec<Vec<usize>> = seeds.iter().map(|s| hot_spots(s)).collect();
    std::fs::write(&path, &stored).expect("written");
    let valid = CircuitDataset::load(&path).expect("a valid circuit dataset");
    let circuit = serde_json::Value::Object(valid.metadata).to_string();
    run(
        "circuit_npz_mutations",
        2500,
        (0..seeds.len(), mutations()),
        |(which, m)| {
            let bytes = apply(&seeds[which], &hot[which], &m);
            exercise_circuit_npz(&path, &bytes, &circuit)?;
            exercise_members(&path, &bytes)
        },
    );
}

/// A 0-d `<U` string member (as the library writes `metadata`).
fn npy_string(text: &str) -> Vec<u8> {
    let n = text.chars().count().max(1);
    let mut data: Vec<u8> = text
        .chars()
        .flat_map(|c| u32::from(c).to_le_bytes())
        .collect();
    data.resize(n * 4, 0);
    npy(
        &format!("{{'descr': '<U{n}', 'fortran_order': False, 'shape': (), }}"),
        &data,
    )
}

/// Places in a circuit's JSON (dataset metadata) to change.
const CIRCUIT_POINTERS: [&str; 22] = [
    "/populations/0/size",
    "/populations/1/size",
    "/populations/2/size",
    "/populations/0/input",
    "/populations/1/input",
    "/populations/1/external_input",
    "/populations/2/external_input",
    "/populations/1/name",
    "/populations/1/recorded",
    "/projections/0/from",
    "/projections/0/to",
    "/projections/1/from",
    "/projections/1/delay",
    "/projections/2/to",
    "/projections/2/rule",
    "/projections/0/learning_rate",
    "/projections/1/mask",
    "/rules/0/family",
    "/rules/0/hidden",
    "/rules/0/rule",
    "/weight_bound",
    "/populations",
];

/// Values to put there: sizes that break readers, other types, other names.
fn circuit_json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::json;
    prop::sample::select(vec![
        json!(0),
        json!(1),
        json!(2),
        json!(5),
        json!(1_000_000),
        json!(4_294_967_296u64),
        json!(1_000_000_000_000u64),
        json!(u64::MAX),
        json!(-1),
        json!(1.5),
        json!(1e300),
        json!(true),
        json!(false),
        json!(null),
        json!("x"),
        json!("y"),
        json!("z"),
        json!("w"),
        json!(""),
        json!("mlp"),
        json!("x*y"),
        json!("ff"),
        json!([0, 1]),
        json!([3, 3]),
        json!([1_000_000_000_000u64]),
        json!([4_294_967_296u64, 4_294_967_296u64]),
        json!([]),
        json!({}),
        json!({"density": 0.5}),
    ])
}

#[test]
fn circuit_npz_generated_metadata() {
    limit_memory();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("circuit.npz");
    let stored = circuit_npz();
    // the members of a valid dataset, and its metadata as JSON
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&stored)).expect("a zip");
    let mut members: Vec<(String, Vec<u8>)> = Vec::new();
    for i in 0..archive.len() {
        let mut member = archive.by_index(i).expect("a member");
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut member, &mut bytes).expect("read");
        members.push((member.name().to_string(), bytes));
    }
    std::fs::write(&path, &stored).expect("written");
    let valid = CircuitDataset::load(&path).expect("a valid circuit dataset");
    let metadata = serde_json::Value::Object(valid.metadata.clone());
    run(
        "circuit_npz_generated_metadata",
        2000,
        (
            prop::collection::vec((0..CIRCUIT_POINTERS.len(), circuit_json_value()), 1..4),
            prop::option::of((any::<prop::sample::Index>(), header_dict())),
            any::<bool>(),
        ),
        |(changes, header, deflate)| {
            let mut metadata = metadata.clone();
            for (pointer, value) in changes {
                if let Some(slot) = metadata
                    .pointer_mut("/circuit")
                    .and_then(|c| c.pointer_mut(CIRCUIT_POINTERS[pointer]))
                {
                    *slot = value;
                }
            }
            let mut files: Vec<(&str, Vec<u8>)> = members
                .iter()
                .map(|(name, bytes)| match name.as_str() {
                    "metadata.npy" => (name.as_str(), npy_string(&metadata.to_string())),
                    _ => (name.as_str(), bytes.clone()),
                })
                .collect();
            // sometimes one member's header replaced by a generated one
            if let Some((which, dict)) = header {
                let i = which.index(files.len());
                files[i].1 = npy(&dict, &files[i].1[128.min(files[i].1.len())..]);
            }
            let method = if deflate {
                zip::CompressionMethod::Deflated
            } else {
                zip::CompressionMethod::Stored
            };
            let bytes = zip_of(&files, method);
            exercise_circuit_npz(&path, &bytes, &metadata.to_string())
        },
    );
}

/// Loads a circuit file and builds its network, as `plasticity simulate` does. A
/// circuit file may declare a circuit larger than itself: up to twice the memory limit
/// may be allocated at once (a growing vector's doubling), no more. An error names the
/// circuit file and a key it holds, or the connectome file it names.
fn exercise_circuit_toml(path: &Path, bytes: &[u8]) -> Result<(), TestCaseError> {
    std::fs::write(path, bytes).expect("test file written");
    let (result, largest) = largest_allocation(|| {
        let spec = CircuitSpec::load(path)?;
        let network = spec.build(1, None)?;
        Ok::<_, Error>((spec, network))
    });
    let limit = usize::try_from(plasticity::limits::max_dataset_bytes()).unwrap_or(usize::MAX);
    prop_assert!(
        largest <= justified_allocation(bytes.len()).saturating_add(limit.saturating_mul(2)),
        "allocated {} bytes at once for a {}-byte circuit file",
        largest,
        bytes.len()
    );
    let held = |variable: &str| variable.split('.').all(|part| holds_name(bytes, part));
    match result {
        Ok((spec, network)) => {
            let sizes: usize = spec.populations.iter().map(|p| p.size).sum();
            prop_assert_eq!(network.n_neurons(), sizes);
            prop_assert_eq!(network.projections().len(), spec.projections.len());
            Ok(())
        }
        // the connectome file the circuit names
        Err(Error::Io { path: p, .. }) if p != path => Ok(()),
        Err(Error::Data {
            path: p, variable, ..
        }) if p != path => {
            prop_assert!(held(&variable), "{}", variable);
            Ok(())
        }
        Err(e) => check_data_error(&e, path, &CIRCUIT_TABLES, held),
    }
}

/// The top-level tables and keys of a circuit file.
const CIRCUIT_TABLES: [&str; 4] = ["populations", "rules", "projections", "weight_bound"];

#[test]
fn circuit_toml_mutations() {
    limit_memory();
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("pairs.csv"), PAIRS_CSV).expect("written");
    let path = dir.path().join("circuit.toml");
    let seeds = [CIRCUIT_TOML.as_bytes(), CIRCUIT_TOML_MLP.as_bytes()];
    let hot: Vec<Vec<usize>> = seeds.iter().map(|s| hot_spots(s)).collect();
    run(
        "circuit_toml_mutations",
        2500,
        (0..seeds.len(), mutations()),
        |(which, m)| exercise_circuit_toml(&path, &apply(seeds[which], &hot[which], &m)),
    );
}

/// A value for a circuit file's keys: sizes that break readers, other types.
fn toml_value() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "0",
        "1",
        "3",
        "1000000",
        "4294967296",
        "1000000000000",
        "18446744073709551615",
        "-1",
        "1.5",
        "nan",
        "inf",
        "true",
        "\"3\"",
        "[]",
        "[0, 2]",
        "[1000000000000]",
        "{}",
    ])
}

/// A generated circuit file: populations, a rule and projections with any names,
/// sizes, masks (densities, connectome files), delays and keys.
fn circuit_toml_text() -> impl Strategy<Value = String> {
    let name = prop::sample::select(vec!["x", "y", "z", "\"a b\"", "\"\""]);
    let size = prop_oneof![
        3 => (1usize..6).prop_map(|n| n.to_string()),
        1 => prop::sample::select(vec![
            "0", "1000", "100000", "4294967296", "1000000000000", "18446744073709551615",
            "-1", "2.5",
        ])
        .prop_map(str::to_string),
    ];
    let extra = prop::sample::select(vec![
        "",
        "input = true",
        "external_input = true",
        "activation = \"relu\"",
        "recorded = [0]",
        "recorded = [1000000000000]",
        "recorded = 0.5",
        "recorded = 2.0",
        "input_std = -1",
        "input = true\nactivation = \"tanh\"",
    ]);
    let population = (name.clone(), size.clone(), extra)
        .prop_map(|(n, s, e)| format!("[populations.{n}]\nsize = {s}\n{e}\n"));
    let rule = (
        prop::sample::select(vec!["taylor", "mlp", "other"]),
        prop::sample::select(vec![
            "[4]",
            "[0]",
            "[]",
            "[1000000000000]",
            "[4294967296, 4294967296]",
        ]),
        prop::sample::select(vec!["x*y - y^2*w", "1e999*x", "x*", "degree:2"]),
        prop::sample::select(vec!["all", "vars:x,y", "degree:9", "q"]),
    )
        .prop_map(|(family, hidden, rule, trainable)| {
            format!(
                "[rules.r]\nfamily = \"{family}\"\nhidden = {hidden}\nrule = \"{rule}\"\ntrainable = \"{trainable}\"\n"
            )
        });
    let mask = prop::sample::select(vec![
        "",
        "mask = { density = 0.5 }",
        "mask = { density = 2 }",
        "mask = { density = 0.5, file = \"pairs.csv\" }",
        "mask = { file = \"pairs.csv\" }",
        "mask = { file = \"missing.csv\" }",
        "mask = { file = \"big.csv\" }",
        "mask = {}",
    ]);
    let delay = prop::sample::select(vec!["", "delay = 0", "delay = 1", "delay = 7"]);
    let key = (
        prop::sample::select(vec![
            "learning_rate",
            "initial_weights_l2",
            "self_synapses",
            "fit_initial_weights",
            "weight",
        ]),
        toml_value(),
    )
        .prop_map(|(k, v)| format!("{k} = {v}"));
    let projection = (
        name.clone(),
        name.clone(),
        name,
        any::<bool>(),
        mask,
        delay,
        prop::option::of(key),
    )
        .prop_map(|(p, from, to, plastic, mask, delay, key)| {
            let from = from.trim_matches('"');
            let to = to.trim_matches('"');
            let rule = if plastic { "rule = \"r\"" } else { "" };
            format!(
                "[projections.{p}]\nfrom = \"{from}\"\nto = \"{to}\"\n{rule}\n{mask}\n{delay}\n{}\ninitial_weights = {{ std = 0.1 }}\n",
                key.unwrap_or_default()
            )
        });
    // the valid circuits with other sizes (a circuit file may declare any size)
    let sizes = prop::collection::vec(size.clone(), 3).prop_map(|sizes| {
        CIRCUIT_TOML
            .replacen("size = 3", &format!("size = {}", sizes[0]), 1)
            .replacen("size = 4", &format!("size = {}", sizes[1]), 1)
            .replacen("size = 2", &format!("size = {}", sizes[2]), 1)
            .replace("recorded = [0, 2]", "recorded = 0.5")
    });
    let generated = (
        prop::option::of(toml_value()),
        prop::collection::vec(population, 0..4),
        prop::option::of(rule),
        prop::collection::vec(projection, 0..4),
    )
        .prop_map(|(bound, populations, rule, projections)| {
            let mut text = bound
                .map(|b| format!("weight_bound = {b}\n"))
                .unwrap_or_default();
            text.push_str(&populations.concat());
            text.push_str(&rule.unwrap_or_default());
            text.push_str(&projections.concat());
            text
        });
    prop_oneof![3 => generated, 1 => sizes]
}

#[test]
fn circuit_toml_generated() {
    limit_memory();
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("pairs.csv"), PAIRS_CSV).expect("written");
    // a connectome that names neurons far beyond any population
    std::fs::write(
        dir.path().join("big.csv"),
        "0,1000000000000\n4294967296,0\n",
    )
    .expect("written");
    let path = dir.path().join("generated.toml");
    run(
        "circuit_toml_generated",
        2500,
        circuit_toml_text(),
        |text| exercise_circuit_toml(&path, text.as_bytes()),
    );
}
