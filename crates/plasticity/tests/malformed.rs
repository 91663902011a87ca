//! The corpus of malformed files in `tests/data/malformed/`: for `.npz` datasets, `.mat`
//! and CSV fly recordings (and TOML experiment files, which the CLI's tests load), one
//! file per defect — truncated, wrong magic, wrong dtype, shapes that disagree, a
//! header claiming 10¹² elements, a compressed member that inflates past its limit,
//! NaN, infinity, non-UTF-8 text, empty arrays. Each must be refused with a data error
//! that names the file and the exact variable, with the expected message.
//!
//! The files are made by [`corpus`] below; `corpus_files_are_reproducible` checks that
//! the committed files are exactly what it makes. To remake them after changing it:
//! `PLASTICITY_WRITE_CORPUS=1 cargo test --release -p plasticity --test malformed`.

#[path = "support/files.rs"]
mod files;
mod support;

use std::path::PathBuf;

use files::*;
use ndarray::{Array1, Array3, ArrayD};
use plasticity::data::{load_fly_csv, load_fly_mat, BehaviourDataset, NeuralDataset};
use plasticity::io::npz::{write_npz, NpzValue};
use plasticity::Error;
use support::{justified_allocation, largest_allocation};

#[global_allocator]
static METER: support::Meter = support::Meter;

/// How a corpus file is loaded.
#[derive(Clone, Copy, Debug)]
enum Loader {
    Neural,
    Behaviour,
    Mat,
    Csv,
    /// Loaded by the CLI's tests (`plasticity run`), not here.
    Experiment,
}

/// One malformed file: its name, its bytes, how it is loaded, and the variable and
/// message fragment of the error it must give.
struct Case {
    file: &'static str,
    bytes: Vec<u8>,
    loader: Loader,
    variable: &'static str,
    message: &'static str,
}

fn corpus_dir() -> PathBuf {
    data_dir().join("malformed")
}

/// A neural dataset with the given arrays (no checks: the point is to break them).
fn neural(
    inputs: ArrayD<f64>,
    weights: ArrayD<f64>,
    activity: ArrayD<f64>,
    metadata: &str,
) -> Vec<u8> {
    let neurons = Array1::from(vec![1i64]).into_dyn();
    npz_bytes(&[
        ("inputs", NpzValue::F64(inputs.view())),
        ("initial_weights", NpzValue::F64(weights.view())),
        ("recorded_activity", NpzValue::F64(activity.view())),
        ("recorded_neurons", NpzValue::I64(neurons.view())),
        ("metadata", NpzValue::Str(metadata)),
    ])
}

fn npz_bytes(entries: &[(&str, NpzValue<'_>)]) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("x.npz");
    write_npz(&path, entries).expect("written");
    std::fs::read(&path).expect("read")
}

const NEURAL_METADATA: &str = r#"{"kind": "neural", "version": "corpus"}"#;

/// Valid arrays of a 2-trajectory, 3-step dataset with 2 inputs and 2 neurons, of
/// which neuron 1 is recorded.
fn arrays() -> (ArrayD<f64>, ArrayD<f64>, ArrayD<f64>) {
    let inputs = Array3::from_shape_fn((2, 3, 2), |(k, t, i)| 0.1 * (k + t + i) as f64);
    let weights = Array3::from_shape_fn((2, 2, 2), |(k, j, i)| 0.2 - 0.1 * (k + j + i) as f64);
    let activity = Array3::from_elem((2, 3, 1), 0.5);
    (inputs.into_dyn(), weights.into_dyn(), activity.into_dyn())
}

fn valid_neural() -> Vec<u8> {
    let (x, w, a) = arrays();
    neural(x, w, a, NEURAL_METADATA)
}

/// The zip archive with the uncompressed size of member `name` set to `size` in its
/// local header and the central directory.
fn patch_declared_size(mut zip: Vec<u8>, name: &str, size: u32) -> Vec<u8> {
    let find = |signature: &[u8], name_at: usize| {
        (0..zip.len() - name_at - name.len())
            .find(|&i| {
                zip[i..].starts_with(signature) && zip[i + name_at..].starts_with(name.as_bytes())
            })
            .expect("member found")
    };
    let local = find(b"PK\x03\x04", 30) + 22;
    let central = find(b"PK\x01\x02", 46) + 24;
    for at in [local, central] {
        zip[at..at + 4].copy_from_slice(&size.to_le_bytes());
    }
    zip
}

/// A MAT-file with the valid fly variables, `change` applied to them first.
fn mat_with(change: impl FnOnce(&mut Vec<MatVar>)) -> Vec<u8> {
    let mut vars = fly_vars();
    change(&mut vars);
    mat_file(&vars, false)
}

const VALID_CSV: &str = "trial,odour,decision,reward\n0,0,0,\n0,1,1,1\n1,1,1,0\n2,0,0,\n2,1,1,1\n";

fn csv(text: &str) -> Vec<u8> {
    text.as_bytes().to_vec()
}

const VALID_TOML: &str =
    "kind = \"neural\"\n\n[simulate]\nn_pre = 4\nn_post = 6\n\n[fit]\nepochs = 5\n";

/// One case of the corpus.
fn case(
    file: &'static str,
    bytes: Vec<u8>,
    loader: Loader,
    variable: &'static str,
    message: &'static str,
) -> Case {
    Case {
        file,
        bytes,
        loader,
        variable,
        message,
    }
}

/// The whole corpus.
fn corpus() -> Vec<Case> {
    [
        npz_cases(),
        npz_content_cases(),
        mat_cases(),
        csv_cases(),
        toml_cases(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The .npz cases (neural and behaviour datasets) broken in their archive or headers.
fn npz_cases() -> Vec<Case> {
    use Loader::*;
    let (x, _, a) = arrays();
    let mut cases = Vec::new();
    let valid = valid_neural();
    cases.push(case(
        "npz_truncated.npz",
        valid[..valid.len() / 2].to_vec(),
        Neural,
        "(file)",
        "not a valid .npz (zip) archive",
    ));
    let mut bad_magic = valid.clone();
    let at = bad_magic
        .windows(6)
        .position(|w| w == b"\x93NUMPY")
        .expect("a .npy member");
    bad_magic[at..at + 6].copy_from_slice(b"NUMPY!");
    cases.push(case(
        "npz_wrong_magic.npz",
        bad_magic,
        Neural,
        "inputs",
        "instead of the magic string \\x93NUMPY",
    ));
    let as_int = x.mapv(|v| (v * 10.0) as i64);
    cases.push(case(
        "npz_wrong_dtype.npz",
        npz_bytes(&[
            ("metadata", NpzValue::Str(NEURAL_METADATA)),
            ("inputs", NpzValue::I64(as_int.view())),
        ]),
        Neural,
        "inputs",
        "expected float64 (<f8), found int64 (<i8)",
    ));
    let narrow = Array3::<f64>::zeros((2, 2, 3)).into_dyn();
    cases.push(case(
        "npz_shapes_disagree.npz",
        neural(x.clone(), narrow, a.clone(), NEURAL_METADATA),
        Neural,
        "initial_weights",
        "expected shape [2, n_post, 2] to match 'inputs' [2, 3, 2], found [2, 2, 3]",
    ));
    cases.push(case(
        "npz_header_claims_1e12_elements.npz",
        zip_of(
            &[
                ("metadata.npy", npy(
                    "{'descr': '<U1', 'fortran_order': False, 'shape': (), }",
                    &[0; 4],
                )),
                (
                    "inputs.npy",
                    npy(
                        "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000, 1000, 1000), }",
                        &f64_bytes(&[1.0, 2.0]),
                    ),
                ),
            ],
            zip::CompressionMethod::Stored,
        ),
        Neural,
        "inputs",
        "the data is 16 bytes but shape [1000000, 1000, 1000] of float64 (<f8) needs 8000000000000 bytes",
    ));
    cases
}

/// The .npz cases whose members break after the header: a zip bomb, non-finite
/// values, metadata that is not text, empty arrays.
fn npz_content_cases() -> Vec<Case> {
    use Loader::*;
    let (x, w, a) = arrays();
    let mut cases = Vec::new();
    let valid = valid_neural();
    // 8 MiB of zeros after a header for 12 values: the member declares (and its header
    // justifies) 224 bytes, but its deflate stream inflates to 8 MiB.
    let dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3, 2), }";
    let bomb = npy(dict, &vec![0u8; 8 << 20]);
    let honest = npy(dict, &[0u8; 96]).len() as u32;
    // (with the dataset's other members, whose headers agree, so that the loader gets
    // as far as reading the data)
    let mut archive = zip_of(
        &[
            ("metadata.npy", npz_member(&valid, "metadata.npy")),
            ("inputs.npy", bomb),
            (
                "initial_weights.npy",
                npz_member(&valid, "initial_weights.npy"),
            ),
            (
                "recorded_activity.npy",
                npz_member(&valid, "recorded_activity.npy"),
            ),
            (
                "recorded_neurons.npy",
                npz_member(&valid, "recorded_neurons.npy"),
            ),
        ],
        zip::CompressionMethod::Deflated,
    );
    archive = patch_declared_size(archive, "inputs.npy", honest);
    cases.push(case(
        "npz_zip_bomb.npz",
        archive,
        Neural,
        "inputs",
        "the member holds more data than its declared size of 224 bytes",
    ));
    let mut with_nan = a.clone();
    with_nan[[1, 2, 0]] = f64::NAN;
    cases.push(case(
        "npz_nan.npz",
        neural(x.clone(), w.clone(), with_nan, NEURAL_METADATA),
        Neural,
        "recorded_activity",
        "expected finite values, found NaN at index (1, 2, 0)",
    ));
    let mut with_inf = x.clone();
    with_inf[[0, 1, 1]] = f64::INFINITY;
    cases.push(case(
        "npz_inf.npz",
        neural(with_inf, w.clone(), a.clone(), NEURAL_METADATA),
        Neural,
        "inputs",
        "expected finite values, found inf at index (0, 1, 1)",
    ));
    // metadata whose UTF-32 holds a lone surrogate (not a Unicode scalar value)
    let mut text: Vec<u8> = Vec::new();
    for c in "{\"kind\": \"neural\"".chars() {
        text.extend(u32::from(c).to_le_bytes());
    }
    text.extend(0xD800u32.to_le_bytes());
    text.extend(u32::from('}').to_le_bytes());
    let chars = text.len() / 4;
    cases.push(case(
        "npz_non_utf8_metadata.npz",
        zip_of(
            &[(
                "metadata.npy",
                npy(
                    &format!("{{'descr': '<U{chars}', 'fortran_order': False, 'shape': (), }}"),
                    &text,
                ),
            )],
            zip::CompressionMethod::Stored,
        ),
        Neural,
        "metadata",
        "the string holds an invalid code point 0xD800",
    ));
    let empty = Array3::<f64>::zeros((2, 0, 2)).into_dyn();
    let empty_activity = Array3::<f64>::zeros((2, 0, 1)).into_dyn();
    cases.push(case(
        "npz_empty_arrays.npz",
        neural(empty, w.clone(), empty_activity, NEURAL_METADATA),
        Neural,
        "inputs",
        "expected a non-empty [trajectories, steps, n_pre] array, found shape [2, 0, 2]",
    ));
    cases.push(case(
        "npz_behaviour_of_kind_neural.npz",
        valid.clone(),
        Behaviour,
        "metadata",
        "expected kind \"behaviour\", found \"neural\"",
    ));
    cases
}

/// The .mat cases (fly recordings).
fn mat_cases() -> Vec<Case> {
    use Loader::*;
    let mut cases = Vec::new();
    let valid_mat = mat_file(&fly_vars(), false);
    cases.push(case(
        "mat_truncated.mat",
        valid_mat[..valid_mat.len() - 40].to_vec(),
        Mat,
        "R",
        "element 2 at byte 400: truncated: a data element (type 14) claims 88 bytes, 48 remain",
    ));
    let mut wrong_magic = valid_mat.clone();
    wrong_magic[126..128].copy_from_slice(b"XX");
    cases.push(case(
        "mat_wrong_magic.mat",
        wrong_magic,
        Mat,
        "",
        "not a MATLAB v5 MAT-file (no 'IM' endian indicator at byte 126 of the header)",
    ));
    cases.push(case(
        "mat_wrong_dtype.mat",
        mat_with(|v| {
            v[1].class = MX_CHAR;
            v[1].data_type = MI_UINT8;
            v[1].data = vec![b'0'; 6];
        }),
        Mat,
        "Y",
        "expected a full numeric array, found a char array",
    ));
    cases.push(case(
        "mat_shapes_disagree.mat",
        mat_with(|v| {
            v[1] = MatVar::double("Y", 1, 5, &[0.0, 1.0, 1.0, 0.0, 1.0]);
        }),
        Mat,
        "X",
        "has 6 rows but 'Y' has 5 presentations: expected presentations × odours",
    ));
    cases.push(case(
        "mat_header_claims_1e12_elements.mat",
        mat_with(|v| v[0].dims = vec![1_000_000, 1_000_000]),
        Mat,
        "X",
        "dimensions 1000000 × 1000000 need 1000000000000 values, but the data holds 96 bytes of 8-byte values",
    ));
    // a compressed variable whose inflated tag claims 300 MiB: refused before inflating
    let mut payload = MI_MATRIX.to_le_bytes().to_vec();
    payload.extend((300u32 << 20).to_le_bytes());
    payload.extend(vec![0u8; 1 << 20]);
    let mut bomb = mat_header();
    bomb.extend(mat_compressed(&payload));
    cases.push(case(
        "mat_zip_bomb.mat",
        bomb,
        Mat,
        "",
        "element 0 at byte 128: a compressed variable claims 314572808 bytes, more than the 1080496 allowed for 1046 compressed bytes",
    ));
    cases.push(case(
        "mat_nan.mat",
        mat_with(|v| v[2] = MatVar::double("R", 1, 4, &[1.0, f64::NAN, 1.0, 1.0])),
        Mat,
        "R",
        "expected finite values, found NaN at trial 1",
    ));
    cases.push(case(
        "mat_inf.mat",
        mat_with(|v| {
            let mut x = vec![0.0; 12];
            for (p, o) in [0usize, 1, 1, 0, 1, 0].into_iter().enumerate() {
                x[p + o * 6] = 1.0;
            }
            x[3] = f64::INFINITY;
            v[0] = MatVar::double("X", 6, 2, &x);
        }),
        Mat,
        "X",
        "expected finite values, found inf at presentation 3, odour column 0",
    ));
    cases.push(case(
        "mat_non_utf8_name.mat",
        mat_with(|v| v[1].name = vec![0xff, 0xfe]),
        Mat,
        "Y",
        "missing variable (a fly file holds X, Y and R)",
    ));
    cases.push(case(
        "mat_empty_arrays.mat",
        mat_file(
            &[
                MatVar::double("X", 0, 2, &[]),
                MatVar::double("Y", 1, 0, &[]),
                MatVar::double("R", 1, 0, &[]),
            ],
            false,
        ),
        Mat,
        "Y",
        "expected at least one presentation, found none",
    ));
    cases
}

/// The CSV cases (fly recordings).
fn csv_cases() -> Vec<Case> {
    use Loader::*;
    let mut cases = vec![
    case(
        "csv_truncated.csv",
        csv(&VALID_CSV[..VALID_CSV.len() - 4]),
        Csv,
        "reward",
        "line 6: 3 cells, but the header has 4 columns",
    ),
    case(
        "csv_wrong_magic.csv",
        csv("time,stimulus,choice,payoff\n0,0,0,\n"),
        Csv,
        "trial",
        "missing column: the header must name trial, odour, decision and reward, found 'time,stimulus,choice,payoff'",
    ),
    case(
        "csv_wrong_dtype.csv",
        csv(&VALID_CSV.replace("0,1,1,1", "0,B,1,1")),
        Csv,
        "odour",
        "line 3: expected a number, found 'B'",
    ),
    case(
        "csv_shapes_disagree.csv",
        csv(&VALID_CSV.replace("2,1,1,1", "5,1,1,1")),
        Csv,
        "trial",
        "line 6: expected trial 2 (trials count from 0 and a trial ends with its accept), found 5",
    ),
    case(
        "csv_claims_1e12_odours.csv",
        csv(&VALID_CSV.replace("2,0,0,", "2,1000000000000,0,")),
        Csv,
        "odour",
        "line 5: odour 1000000000000 is beyond the 256 odours supported",
    ),
    case(
        "csv_nan.csv",
        csv(&VALID_CSV.replace("1,1,1,0", "1,1,1,NaN")),
        Csv,
        "reward",
        "line 4: expected a finite number, found 'NaN'",
    ),
    case(
        "csv_inf.csv",
        csv(&VALID_CSV.replace("1,1,1,0", "1,1,1,inf")),
        Csv,
        "reward",
        "line 4: expected a finite number, found 'inf'",
    )];
    let mut non_utf8 = csv(VALID_CSV);
    non_utf8.extend(b"3,\xff,1,1\n");
    cases.push(case(
        "csv_non_utf8.csv",
        non_utf8,
        Csv,
        "",
        "expected UTF-8 text: invalid utf-8 sequence of 1 bytes from index 68",
    ));
    cases.push(case(
        "csv_empty.csv",
        csv("trial,odour,decision,reward\n"),
        Csv,
        "decision",
        "expected at least one presentation (a row after the header), found none",
    ));
    cases
}

/// The TOML experiment files (loaded by the CLI's tests).
fn toml_cases() -> Vec<Case> {
    use Loader::*;
    let mut cases = Vec::new();
    for (file, text) in [
        (
            "toml_truncated.toml",
            VALID_TOML[..VALID_TOML.len() - 20].to_string() + "[fi",
        ),
        ("toml_wrong_magic.toml", "\u{1}PLASTICITY\u{0}".to_string()),
        (
            "toml_wrong_dtype.toml",
            VALID_TOML.replace("epochs = 5", "epochs = \"many\""),
        ),
        (
            "toml_shapes_disagree.toml",
            format!("{VALID_TOML}\n[grid]\n\"table.rule\" = [\"x\"]\n"),
        ),
        (
            "toml_grid_claims_1e12_cells.toml",
            format!(
                "{VALID_TOML}\n[grid]\n{}",
                ["simulate.seed", "fit.seed", "fit.epochs", "simulate.steps"]
                    .map(|k| format!(
                        "\"{k}\" = [{}]\n",
                        (1..=1000)
                            .map(|v| v.to_string())
                            .collect::<Vec<_>>()
                            .join(",")
                    ))
                    .concat()
            ),
        ),
        (
            "toml_nan.toml",
            format!("{VALID_TOML}learning_rate = nan\n"),
        ),
        (
            "toml_inf.toml",
            VALID_TOML.replace("n_post = 6", "n_post = 6\nnoise_std = inf"),
        ),
        (
            "toml_empty_grid.toml",
            format!("{VALID_TOML}\n[grid]\n\"fit.seed\" = []\n"),
        ),
    ] {
        cases.push(case(file, text.into_bytes(), Experiment, "", ""));
    }
    let mut non_utf8 = VALID_TOML.as_bytes().to_vec();
    non_utf8.extend(b"title = \"\xff\"\n");
    cases.push(case("toml_non_utf8.toml", non_utf8, Experiment, "", ""));
    cases
}

/// The bytes of member `name` of a stored archive.
fn npz_member(npz: &[u8], name: &str) -> Vec<u8> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(npz)).expect("a zip");
    let mut member = archive.by_name(name).expect("member");
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut member, &mut bytes).expect("read");
    bytes
}

#[test]
fn corpus_files_are_reproducible() {
    let dir = corpus_dir();
    let write = std::env::var_os("PLASTICITY_WRITE_CORPUS").is_some();
    if write {
        std::fs::create_dir_all(&dir).expect("corpus directory");
    }
    let cases = corpus();
    let mut total = 0;
    for case in &cases {
        let path = dir.join(case.file);
        if write {
            std::fs::write(&path, &case.bytes).expect("written");
        }
        let committed = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (make it with PLASTICITY_WRITE_CORPUS=1)",
                path.display()
            )
        });
        assert!(
            committed == case.bytes,
            "{} differs from what the generator makes",
            case.file
        );
        total += committed.len();
    }
    // nothing else in the directory, and the whole corpus stays small
    let present = std::fs::read_dir(&dir).expect("corpus directory").count();
    assert_eq!(
        present,
        cases.len(),
        "files in {} not made by the generator",
        dir.display()
    );
    assert!(total < 200_000, "the corpus is {total} bytes");
}

#[test]
fn every_malformed_file_is_refused_naming_file_and_variable() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for case in corpus() {
        let path = corpus_dir().join(case.file);
        let (result, largest): (plasticity::Result<()>, usize) =
            largest_allocation(|| match case.loader {
                Loader::Neural => NeuralDataset::load(&path).map(drop),
                Loader::Behaviour => BehaviourDataset::load(&path).map(drop),
                Loader::Mat => load_fly_mat(&path).map(drop),
                Loader::Csv => load_fly_csv(&path).map(drop),
                Loader::Experiment => Ok(()),
            });
        if let Loader::Experiment = case.loader {
            continue;
        }
        let size = std::fs::metadata(&path).expect("corpus file").len() as usize;
        assert!(
            largest <= justified_allocation(size),
            "{}: allocated {largest} bytes",
            case.file
        );
        let Err(error) = result else {
            failures.push(format!("{}: loaded without an error", case.file));
            continue;
        };
        let text = error.to_string();
        eprintln!("{}: {text}", case.file);
        let Error::Data {
            path: p,
            variable,
            message,
        } = &error
        else {
            failures.push(format!(
                "{}: expected a data error, got {error:?}",
                case.file
            ));
            continue;
        };
        let named = p == &path && text.contains(&path.display().to_string());
        if !named || variable != case.variable || !message.contains(case.message) {
            failures.push(format!(
                "{}: expected variable '{}' and '{}', got: {text}",
                case.file, case.variable, case.message
            ));
        }
        checked += 1;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked >= 30, "{checked}");
}
