//! Property and fuzz harnesses of every loader and parser: `.npz` datasets (neural,
//! streamed neural and behaviour, stored and deflated, with their header-only shape
//! reads), `.mat` and CSV fly recordings, rule expressions and
//! trainable-term lists. Each harness mutates real valid files (byte flips, overwrites
//! with troublesome sizes, truncations, insertions, deletions, splices) or generates
//! random inputs, and requires of every input:
//!
//! - no panic (proptest catches it and reports the smallest input that panics);
//! - `Ok`, or a typed error ([`Error::Data`]) that names the file and a variable the
//!   format has (or the whole file, or a name the corrupted file itself holds);
//! - no single allocation larger than the input justifies ([`support::Meter`]: a
//!   request above 1 GiB is refused outright, which aborts the test);
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
use plasticity::data::{
    load_fly_csv, load_fly_mat, BehaviourDataset, Dataset, NeuralDataset, NeuralStream,
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
                |p| NeuralStream::open(p),
                |_| Ok(()),
            )?;
            exercise_members(&path, &bytes)
        },
    );
}

#[test]
fn behaviour_npz_mutations() {
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
    let (v, largest) = largest_allocation(|| vec![1u8; 10 << 20]);
    assert!(largest >= 10 << 20, "{largest}");
    assert!(check_allocation(largest, 1000).is_err());
    drop(v);
    let (_, small) = largest_allocation(|| vec![1u8; 10]);
    assert!(small < 1024, "{small}");
}
