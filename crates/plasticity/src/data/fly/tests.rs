use std::path::{Path, PathBuf};

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use crate::circuit::RewardSignal;
use crate::data::BehaviourDataset;
use crate::random::normal;
use crate::Result;

use super::csv::load_fly_csv;
use super::dataset::to_dataset;
use super::mat::{fly_from_mat_bytes, load_fly_mat};
use super::{load_fly, load_fly_dir, natural_cmp, FlyRecording};
use crate::io::mat::{
    u32_at, Elements, MI_COMPRESSED, MI_DOUBLE, MI_INT16, MI_INT32, MI_INT64, MI_INT8, MI_MATRIX,
    MI_SINGLE, MI_UINT16, MI_UINT32, MI_UINT64, MI_UINT8,
};
use std::io::Write;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/flies")
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixtures().join(name)).expect("fixture present")
}

// The session of the scipy fixtures and `example.csv` (tests/data/flies/README.md):
// the last two presentations are rejections after the last accept.
const ODOURS: [i64; 14] = [0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 1, 0, 0, 1];
const DECISIONS: [i64; 14] = [0, 1, 1, 0, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0];
const REWARDS: [f64; 8] = [1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0];

fn expected(name: &str) -> FlyRecording {
    FlyRecording {
        odours: ODOURS[..12].to_vec(),
        decisions: DECISIONS[..12].to_vec(),
        trial_of_presentation: vec![0, 0, 1, 2, 2, 3, 4, 4, 4, 5, 6, 7],
        rewards: REWARDS.to_vec(),
        n_odours: 2,
        name: name.into(),
    }
}

/// The README's facts about Fly1 and Fly2.
fn check_readme_facts(fly: &FlyRecording) {
    let facts = match fly.name.as_str() {
        "Fly1" => (286, 46, 146.0),
        "Fly2" => (319, 79, 180.0),
        _ => return,
    };
    let found = (
        fly.n_presentations(),
        fly.n_rejections(),
        fly.rewards.iter().sum::<f64>(),
    );
    assert_eq!(found, facts, "{}", fly.name);
}

// ---- a writer of hand-built MAT-files (MATLAB's layout) ----

/// A variable: class (with flag bits such as logical 0x200, complex 0x800),
/// dimensions, storage type and raw data.
struct Var {
    name: &'static str,
    class: u32,
    dims: Vec<i32>,
    data_type: u32,
    data: Vec<u8>,
}

/// A data element: its 8-byte tag (type, length), the data, zeros to a multiple of 8.
fn element(data_type: u32, data: &[u8]) -> Vec<u8> {
    let tag = [data_type, data.len() as u32]
        .map(u32::to_le_bytes)
        .concat();
    let zeros = data.len().next_multiple_of(8) - data.len();
    [tag.as_slice(), data, &vec![0; zeros]].concat()
}

fn small_element(data_type: u32, data: &[u8]) -> Vec<u8> {
    assert!(data.len() <= 4);
    let mut out = (data_type | (data.len() as u32) << 16)
        .to_le_bytes()
        .to_vec();
    out.extend(data);
    out.resize(8, 0);
    out
}

/// A matrix element as MATLAB writes it (short names in a small element).
fn matrix(var: &Var) -> Vec<u8> {
    let mut flags = var.class.to_le_bytes().to_vec();
    flags.extend([0u8; 4]);
    let mut body = element(MI_UINT32, &flags);
    let dims: Vec<u8> = var.dims.iter().flat_map(|d| d.to_le_bytes()).collect();
    body.extend(element(MI_INT32, &dims));
    body.extend(if var.name.len() <= 4 {
        small_element(MI_INT8, var.name.as_bytes())
    } else {
        element(MI_INT8, var.name.as_bytes())
    });
    body.extend(element(var.data_type, &var.data));
    element(MI_MATRIX, &body)
}

fn zlib(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("compressed");
    encoder.finish().expect("compressed")
}

fn compressed_element(payload: &[u8]) -> Vec<u8> {
    let z = zlib(payload);
    let mut out = MI_COMPRESSED.to_le_bytes().to_vec();
    out.extend((z.len() as u32).to_le_bytes());
    out.extend(z);
    out
}

fn header(text: &str) -> Vec<u8> {
    let mut out = text.as_bytes().to_vec();
    out.resize(116, b' ');
    out.extend([0u8; 8]);
    out.extend(0x0100u16.to_le_bytes());
    out.extend(b"IM");
    out
}

const MATLAB_HEADER: &str =
    "MATLAB 5.0 MAT-file, Platform: PCWIN64, Created on: Mon Jan  1 00:00:00 2024";

fn mat_file(vars: &[Var], compressed: bool) -> Vec<u8> {
    let mut out = header(MATLAB_HEADER);
    for var in vars {
        let m = matrix(var);
        out.extend(if compressed {
            compressed_element(&m)
        } else {
            m
        });
    }
    out
}

fn encode(values: &[f64], data_type: u32) -> Vec<u8> {
    values
        .iter()
        .flat_map(|&v| match data_type {
            MI_INT8 => (v as i8).to_le_bytes().to_vec(),
            MI_UINT8 => (v as u8).to_le_bytes().to_vec(),
            MI_INT16 => (v as i16).to_le_bytes().to_vec(),
            MI_UINT16 => (v as u16).to_le_bytes().to_vec(),
            MI_INT32 => (v as i32).to_le_bytes().to_vec(),
            MI_UINT32 => (v as u32).to_le_bytes().to_vec(),
            MI_SINGLE => (v as f32).to_le_bytes().to_vec(),
            MI_INT64 => (v as i64).to_le_bytes().to_vec(),
            MI_UINT64 => (v as u64).to_le_bytes().to_vec(),
            _ => v.to_le_bytes().to_vec(),
        })
        .collect()
}

fn double(name: &'static str, dims: &[i32], values: &[f64], data_type: u32) -> Var {
    Var {
        name,
        class: 6,
        dims: dims.to_vec(),
        data_type,
        data: encode(values, data_type),
    }
}

/// `X` (column-major), `Y` and `R` of the fixture session.
fn session_values() -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let n = ODOURS.len();
    let mut x = vec![0.0; 2 * n];
    for (p, &o) in ODOURS.iter().enumerate() {
        x[p + o as usize * n] = 1.0;
    }
    let y = DECISIONS.iter().map(|&d| d as f64).collect();
    (x, y, REWARDS.to_vec())
}

/// `X`, `Y`, `R` variables from values (X is `x.len() / rows` columns wide).
fn fly_vars(x: &[f64], rows: i32, y: &[f64], r: &[f64]) -> Vec<Var> {
    let cols = x.len() as i32 / rows.max(1);
    vec![
        double("X", &[rows, cols], x, MI_DOUBLE),
        double("Y", &[1, y.len() as i32], y, MI_DOUBLE),
        double("R", &[1, r.len() as i32], r, MI_DOUBLE),
    ]
}

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).expect("written");
    path
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temporary directory")
}

/// The error names the file and the variable and contains `words`.
fn assert_error(result: Result<FlyRecording>, file: &str, variable: &str, words: &[&str]) {
    let message = match result {
        Ok(_) => panic!("{file}: expected an error naming '{variable}'"),
        Err(e) => e.to_string(),
    };
    assert!(
        message.contains(file)
            && (message.contains(&format!("variable '{variable}'"))
                || (variable.is_empty() && !message.contains("variable '")))
            && words.iter().all(|w| message.contains(w)),
        "'{message}' should name {file}, '{variable}' and {words:?}"
    );
}

/// Writes a hand-built MAT-file with `vars` and loads it.
fn load_vars(file: &str, vars: &[Var], compressed: bool) -> Result<FlyRecording> {
    let dir = tempdir();
    load_fly_mat(write(&dir, file, &mat_file(vars, compressed)))
}

/// (offset, total length) of the top-level elements of a MAT-file.
fn top_level_elements(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut elements = Elements { bytes, pos: 128 };
    let mut out = Vec::new();
    while elements.remaining() > 0 {
        let start = elements.pos;
        elements.next_element().expect("a valid file");
        out.push((start, elements.pos - start));
    }
    out
}

// ---- real files ----

#[test]
fn the_shared_flies_load_with_the_readme_facts() {
    // the repository's copy of the 18 public files (data/flies/README.md)
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/flies");
    let flies = load_fly_dir(&dir).expect("all flies load");
    let names: Vec<&str> = flies.iter().map(|f| f.name.as_str()).collect();
    let expected: Vec<String> = (1..=18).map(|k| format!("Fly{k}")).collect();
    assert_eq!(names, expected);
    for fly in &flies {
        fly.validate().expect("consistent");
        assert_eq!(fly.n_odours, 2);
        assert_eq!(
            fly.decisions.iter().filter(|&&d| d == 1).count(),
            fly.n_trials()
        );
        check_readme_facts(fly);
    }
    assert_eq!(flies[0].n_presentations(), 286);
    assert_eq!(flies[1].n_presentations(), 319);
    let data = to_dataset(&flies, 10, 0.01, 0, 10, RewardSignal::Centred).expect("a dataset");
    assert_eq!(data.n_sessions(), 18);
    assert_eq!(data.n_in(), 2);
}

#[test]
fn the_fixture_copy_of_fly1_has_the_readme_facts() {
    let fly = load_fly_mat(fixtures().join("Fly1.mat")).expect("Fly1 loads");
    assert_eq!(fly.name, "Fly1");
    check_readme_facts(&fly);
    assert_eq!(fly.n_trials(), 240);
    fly.validate().expect("consistent");
}

#[test]
fn scipy_files_compressed_and_plain_and_the_csv_load_the_same_session() {
    for file in ["scipy_compressed.mat", "scipy_uncompressed.mat"] {
        // scipy's header text has no comma after "MAT-file"
        assert!(fixture(file).starts_with(b"MATLAB 5.0 MAT-file Platform: posix"));
        let fly = load_fly_mat(fixtures().join(file)).expect("loads");
        assert_eq!(fly, expected(file.trim_end_matches(".mat")), "{file}");
    }
    // the compressed fixture really is compressed
    let bytes = fixture("scipy_compressed.mat");
    assert_eq!(u32_at(&bytes, 128), Some(MI_COMPRESSED));
    let fly = load_fly_csv(fixtures().join("example.csv")).expect("loads");
    assert_eq!(fly, expected("example"));
    // load_fly dispatches on the extension
    assert_eq!(
        load_fly(fixtures().join("example.csv")).expect("loads"),
        expected("example")
    );
}

#[test]
fn matlab_style_files_with_compact_storage_load() {
    let (x, y, r) = session_values();
    let n = ODOURS.len() as i32;
    let types = [
        MI_INT8, MI_UINT8, MI_INT16, MI_UINT16, MI_INT32, MI_UINT32, MI_SINGLE, MI_DOUBLE,
        MI_INT64, MI_UINT64,
    ];
    for data_type in types {
        for compressed in [false, true] {
            let vars = vec![
                // a char array before the variables, an opaque object and a struct
                Var {
                    name: "note",
                    class: 4,
                    dims: vec![1, 2],
                    data_type: MI_UINT16,
                    data: encode(&[104.0, 105.0], MI_UINT16),
                },
                Var {
                    name: "obj",
                    class: 17,
                    dims: vec![1, 1],
                    data_type: MI_UINT8,
                    data: vec![1, 2, 3],
                },
                double("X", &[n, 2], &x, data_type),
                // logical: class uint8 with the logical flag
                Var {
                    name: "Y",
                    class: 9 | 0x200,
                    dims: vec![1, n],
                    data_type,
                    data: encode(&y, data_type),
                },
                Var {
                    name: "info",
                    class: 2,
                    dims: vec![1, 1],
                    data_type: MI_INT32,
                    data: encode(&[4.0], MI_INT32),
                },
                double("R", &[REWARDS.len() as i32, 1], &r, data_type),
            ];
            let fly = load_vars("matlab.mat", &vars, compressed)
                .unwrap_or_else(|e| panic!("type {data_type}, compressed {compressed}: {e}"));
            assert_eq!(fly, expected("matlab"));
        }
    }
}

// ---- packing ----

#[test]
fn to_dataset_packs_flies_in_the_behaviour_layout() {
    let flies = vec![
        load_fly_mat(fixtures().join("scipy_compressed.mat")).expect("loads"),
        load_fly_mat(fixtures().join("Fly1.mat")).expect("loads"),
    ];
    let data = to_dataset(&flies, 10, 0.01, 7, 10, RewardSignal::Raw).expect("packs");
    assert_eq!(data.inputs.shape(), [2, 286, 2]);
    assert_eq!(data.n_presentations, [12, 286]);
    assert_eq!(data.n_trials, [8, 240]);
    assert_eq!(data.initial_weights.shape(), [2, 10, 2]);
    for (k, fly) in flies.iter().enumerate() {
        let session = data.session(k);
        assert_eq!(session.decisions, fly.decisions);
        assert_eq!(session.trial_of_presentation, fly.trial_of_presentation);
        assert_eq!(session.rewards, fly.rewards);
        assert_eq!(data.session_odours(k), fly.odours);
        for (p, &odour) in fly.odours.iter().enumerate() {
            for i in 0..2 {
                let level = if i == odour as usize { 0.75 } else { 0.0 };
                assert_eq!(data.inputs[[k, p, i]], level);
            }
        }
        // E[R]: the mean of the last 10 rewards before the trial, zeros before the first
        for t in 0..fly.n_trials() {
            let sum: f64 = fly.rewards[t.saturating_sub(10)..t].iter().sum();
            assert!((session.expected_rewards[t] - sum / 10.0).abs() < 1e-12);
        }
        // W₀ from ChaCha8 (seed, stream k + 1), row by row
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        rng.set_stream(k as u64 + 1);
        let dist = normal(0.0, 0.01).expect("a distribution");
        let draws: Vec<f64> = (0..20).map(|_| rng.sample(dist)).collect();
        assert_eq!(session.initial_weights, &draws[..]);
    }
    // padding
    assert!(data.decisions.row(0).iter().skip(12).all(|&d| d == -1));
    assert!(data
        .inputs
        .slice(ndarray::s![0, 12.., ..])
        .iter()
        .all(|&v| v == 0.0));
    // metadata
    let m = &data.metadata;
    assert_eq!(m["kind"], "behaviour");
    assert_eq!(m["reward_signal"], "raw");
    assert_eq!(m["seed"], 7);
    assert_eq!(m["version"], crate::VERSION);
    assert_eq!(
        m["odour_patterns"],
        serde_json::json!([[0.75, 0.0], [0.0, 0.75]])
    );
    assert_eq!(m["input_noise_std"], 0.015);
    assert_eq!(m["flies"], serde_json::json!(["scipy_compressed", "Fly1"]));
    assert!(m["source"]
        .as_str()
        .is_some_and(|s| s.contains("zenodo.7449214")));
    assert!(!m.contains_key("rule"));
    assert_eq!(data.reward_signal(), RewardSignal::Raw);
    assert_eq!(data.generating_rule(), None);
    // reproducible; another seed draws other weights
    let again = to_dataset(&flies, 10, 0.01, 7, 10, RewardSignal::Raw).expect("packs");
    assert_eq!(again, data);
    let other = to_dataset(&flies, 10, 0.01, 8, 10, RewardSignal::Raw).expect("packs");
    assert_ne!(other.initial_weights, data.initial_weights);
    // a dataset file like any other
    let dir = tempdir();
    let path = dir.path().join("flies.npz");
    data.save(&path).expect("saved");
    assert_eq!(BehaviourDataset::load(&path).expect("loaded"), data);
    let resampled = crate::data::behaviour::resample_inputs(&data, 1).expect("inputs");
    assert_eq!(resampled.shape(), data.inputs.shape());
}

#[test]
fn to_dataset_refuses_bad_settings_and_inconsistent_recordings() {
    let fly = expected("handmade");
    let message = |result: Result<BehaviourDataset>| match result {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    };
    let pack = |flies: &[FlyRecording]| to_dataset(flies, 10, 0.01, 0, 10, RewardSignal::Centred);
    assert!(message(pack(&[])).contains("flies"));
    let one = std::slice::from_ref(&fly);
    assert!(message(to_dataset(one, 0, 0.01, 0, 10, RewardSignal::Centred)).contains("n-hidden"));
    assert!(
        message(to_dataset(one, 10, 0.01, 0, 0, RewardSignal::Centred))
            .contains("expected-reward-window")
    );
    assert!(
        message(to_dataset(one, 10, -1.0, 0, 10, RewardSignal::Centred))
            .contains("initial-weight-std")
    );
    type Edit = fn(&mut FlyRecording);
    let cases: [(&str, Edit); 5] = [
        ("decisions", |f| f.decisions[3] = 2),
        ("rewards", |f| {
            f.rewards.pop();
        }),
        ("odours", |f| f.odours[0] = 2),
        ("trial_of_presentation", |f| f.trial_of_presentation[1] = 1),
        ("decisions", |f| {
            f.decisions.push(0);
            f.odours.push(0);
            f.trial_of_presentation.push(8);
        }),
    ];
    for (field, edit) in cases {
        let mut bad = fly.clone();
        edit(&mut bad);
        let text = message(pack(&[bad]));
        assert!(
            text.contains("handmade") && text.contains(&format!("variable '{field}'")),
            "'{text}' should name '{field}'"
        );
    }
}

// ---- directories ----

#[test]
fn natural_order_puts_fly2_before_fly10() {
    let mut names = vec!["Fly10.mat", "Fly2.mat", "Fly1.mat", "Fly01.mat", "fly3.mat"];
    names.sort_by(|a, b| natural_cmp(a, b));
    // equal numbers (01, 1) fall back to plain order
    assert_eq!(
        names,
        ["Fly01.mat", "Fly1.mat", "Fly2.mat", "Fly10.mat", "fly3.mat"]
    );
}

#[test]
fn a_directory_loads_in_natural_order() {
    let dir = tempdir();
    let mat = fixture("scipy_compressed.mat");
    write(&dir, "Fly10.mat", &mat);
    write(&dir, "Fly2.MAT", &fixture("scipy_uncompressed.mat"));
    write(&dir, "Fly1.csv", &fixture("example.csv"));
    write(&dir, "README.md", b"not a fly");
    write(&dir, "._Fly3.mat", b"macOS resource fork, not a fly");
    std::fs::create_dir(dir.path().join("Fly4.mat")).expect("a directory");
    let flies = load_fly_dir(dir.path()).expect("loads");
    let names: Vec<&str> = flies.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["Fly1", "Fly2", "Fly10"]);
    assert_eq!(flies[2], expected("Fly10"));
    // two files with one stem
    write(&dir, "Fly2.csv", &fixture("example.csv"));
    let message = load_fly_dir(dir.path()).expect_err("refused").to_string();
    assert!(
        message.contains("two recordings are named 'Fly2'"),
        "{message}"
    );
}

#[test]
fn a_directory_without_flies_is_an_error() {
    let dir = tempdir();
    write(&dir, "notes.txt", b"nothing here");
    let message = load_fly_dir(dir.path()).expect_err("refused").to_string();
    assert!(
        message.contains(&dir.path().display().to_string())
            && message.contains("no fly recordings"),
        "{message}"
    );
}

// ---- bad .mat files ----

#[test]
fn mat_decisions_other_than_0_or_1_are_refused() {
    let (x, mut y, r) = session_values();
    y[5] = 2.0;
    let result = load_vars("Fly3.mat", &fly_vars(&x, 14, &y, &r), true);
    assert_error(
        result,
        "Fly3.mat",
        "Y",
        &["expected 0 (reject) or 1 (accept), found 2 at presentation 5"],
    );
}

#[test]
fn mat_reward_count_must_match_the_accepts() {
    let (x, y, r) = session_values();
    let result = load_vars("Fly4.mat", &fly_vars(&x, 14, &y, &r[..7]), false);
    assert_error(
        result,
        "Fly4.mat",
        "R",
        &[
            "a reward count that does not match the accepted trials",
            "7 rewards, 8 accepts",
        ],
    );
}

#[test]
fn mat_x_and_y_lengths_must_agree() {
    let (x, y, r) = session_values();
    // X: 13 presentations × 2
    let short: Vec<f64> = x[..13].iter().chain(&x[14..27]).copied().collect();
    let result = load_vars("Fly5.mat", &fly_vars(&short, 13, &y, &r), true);
    assert_error(result, "Fly5.mat", "X", &["13 rows", "14 presentations"]);
    // X transposed
    let vars = vec![
        double("X", &[2, 14], &x, MI_DOUBLE),
        double("Y", &[1, 14], &y, MI_DOUBLE),
        double("R", &[1, 8], &r, MI_DOUBLE),
    ];
    assert_error(
        load_vars("Fly5.mat", &vars, false),
        "Fly5.mat",
        "X",
        &["transposed"],
    );
}

#[test]
fn mat_missing_variables_are_named() {
    let (x, y, r) = session_values();
    let mut vars = fly_vars(&x, 14, &y, &r);
    vars.pop();
    assert_error(
        load_vars("Fly6.mat", &vars, true),
        "Fly6.mat",
        "R",
        &["missing variable"],
    );
    vars.remove(0);
    assert_error(
        load_vars("Fly6.mat", &vars, false),
        "Fly6.mat",
        "X",
        &["missing variable"],
    );
}

#[test]
fn a_lower_case_variable_is_pointed_out() {
    let (x, y, r) = session_values();
    let cols = x.len() as i32 / 14;
    let vars = vec![
        double("x", &[14, cols], &x, MI_DOUBLE),
        double("Y", &[1, y.len() as i32], &y, MI_DOUBLE),
        double("R", &[1, r.len() as i32], &r, MI_DOUBLE),
    ];
    assert_error(
        load_vars("Fly7.mat", &vars, false),
        "Fly7.mat",
        "X",
        &["missing variable", "the file has 'x'", "case-sensitive"],
    );
}

#[test]
fn mat_truncated_files_are_refused() {
    let dir = tempdir();
    // compressed fixture: X, Y, R, ...; plain fixture: note, X, Y, R, ...
    for (file, r_index) in [("scipy_compressed.mat", 2), ("scipy_uncompressed.mat", 3)] {
        let bytes = fixture(file);
        let (start, len) = top_level_elements(&bytes)[r_index];
        let cut = start + len - 4;
        let path = write(&dir, "Fly7.mat", &bytes[..cut]);
        assert_error(load_fly_mat(&path), "Fly7.mat", "R", &["truncated"]);
        // any truncation up to the end of R is an error, none panics
        for cut in 0..bytes.len() {
            let result = fly_from_mat_bytes(Path::new("cut.mat"), &bytes[..cut]);
            assert!(cut >= start + len || result.is_err(), "{file} cut at {cut}");
        }
    }
}

#[test]
fn not_a_mat_file_is_refused() {
    let dir = tempdir();
    let text = "trial,odour,decision,reward\n".repeat(10);
    let path = write(&dir, "Fly8.mat", text.as_bytes());
    assert_error(
        load_fly_mat(&path),
        "Fly8.mat",
        "",
        &["not a MATLAB v5 MAT-file"],
    );
    let path = write(&dir, "Fly8.mat", b"hello");
    assert_error(
        load_fly_mat(&path),
        "Fly8.mat",
        "",
        &["not a MATLAB v5 MAT-file"],
    );
    let mut v73 = header("MATLAB 7.3 MAT-file, Platform: GLNXA64, HDF5 schema 1.00 .");
    v73[124] = 0;
    v73[125] = 2;
    let path = write(&dir, "Fly8.mat", &v73);
    assert_error(load_fly_mat(&path), "Fly8.mat", "", &["v7.3"]);
}

#[test]
fn huge_dimensions_are_refused_before_allocating() {
    // the plain fixture's X: dimensions 14 × 2 patched to 2³¹−1 × 2
    let mut bytes = fixture("scipy_uncompressed.mat");
    let dims: Vec<u8> = [5u32, 8, 14, 2]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let at = bytes
        .windows(dims.len())
        .position(|w| w == dims)
        .expect("X's dimensions");
    bytes[at + 8..at + 12].copy_from_slice(&i32::MAX.to_le_bytes());
    let dir = tempdir();
    let path = write(&dir, "Fly9.mat", &bytes);
    assert_error(
        load_fly_mat(&path),
        "Fly9.mat",
        "X",
        &["2147483647 × 2", "need"],
    );
    // compressed, with a product that overflows and one that merely does not match
    let (x, y, r) = session_values();
    for dims in [vec![i32::MAX, i32::MAX, i32::MAX], vec![100_000, 100_000]] {
        let mut vars = fly_vars(&x, 14, &y, &r);
        vars[0].dims = dims;
        assert_error(
            load_vars("Fly9.mat", &vars, true),
            "Fly9.mat",
            "X",
            &["dimensions"],
        );
    }
    // a compressed element whose matrix claims 4 GiB
    let mut payload = MI_MATRIX.to_le_bytes().to_vec();
    payload.extend(u32::MAX.to_le_bytes());
    payload.extend([0u8; 4096]);
    let mut file = header(MATLAB_HEADER);
    file.extend(compressed_element(&payload));
    let path = write(&dir, "Fly9.mat", &file);
    assert_error(
        load_fly_mat(&path),
        "Fly9.mat",
        "",
        &["claims", "more than"],
    );
    // a plain element claiming more bytes than the file has
    let mut file = header(MATLAB_HEADER);
    file.extend(MI_MATRIX.to_le_bytes());
    file.extend(0xffff_fff0u32.to_le_bytes());
    file.extend([0u8; 64]);
    let path = write(&dir, "Fly9.mat", &file);
    assert_error(load_fly_mat(&path), "Fly9.mat", "", &["truncated"]);
}

#[test]
fn mat_non_finite_values_are_refused() {
    let (x, mut y, mut r) = session_values();
    y[3] = f64::NAN;
    let result = load_vars("Fly10.mat", &fly_vars(&x, 14, &y, &r), true);
    assert_error(result, "Fly10.mat", "Y", &["NaN at presentation 3"]);
    let (x, y, _) = session_values();
    r[2] = f64::INFINITY;
    let result = load_vars("Fly10.mat", &fly_vars(&x, 14, &y, &r), false);
    assert_error(result, "Fly10.mat", "R", &["inf at trial 2"]);
}

#[test]
fn mat_x_rows_must_be_one_hot() {
    let (mut x, y, r) = session_values();
    x[4] = 1.0;
    x[4 + 14] = 1.0;
    let result = load_vars("Fly11.mat", &fly_vars(&x, 14, &y, &r), true);
    assert_error(
        result,
        "Fly11.mat",
        "X",
        &["one-hot", "[1, 1] at presentation 4"],
    );
}

#[test]
fn an_empty_file_is_refused() {
    let dir = tempdir();
    let path = write(&dir, "Fly12.mat", b"");
    assert_error(load_fly_mat(&path), "Fly12.mat", "", &["empty"]);
    let path = write(&dir, "Fly12.csv", b"");
    assert_error(load_fly_csv(&path), "Fly12.csv", "", &["empty"]);
}

#[test]
fn mat_variables_of_the_wrong_kind_are_refused() {
    let (x, y, r) = session_values();
    let mut vars = fly_vars(&x, 14, &y, &r);
    vars[0].class = 4; // char
    assert_error(
        load_vars("Fly13.mat", &vars, true),
        "Fly13.mat",
        "X",
        &["numeric", "char"],
    );
    let mut vars = fly_vars(&x, 14, &y, &r);
    vars[0].class = 6 | 0x800; // complex
    assert_error(
        load_vars("Fly13.mat", &vars, false),
        "Fly13.mat",
        "X",
        &["complex"],
    );
    let mut vars = fly_vars(&x, 14, &y, &r);
    vars.push(double("Y", &[1, 14], &y, MI_DOUBLE));
    assert_error(
        load_vars("Fly13.mat", &vars, true),
        "Fly13.mat",
        "Y",
        &["twice"],
    );
    let mut vars = fly_vars(&x, 14, &y, &r);
    vars[1].dims = vec![2, 7];
    assert_error(
        load_vars("Fly13.mat", &vars, false),
        "Fly13.mat",
        "Y",
        &["vector"],
    );
}

#[test]
fn mat_without_accepts_is_refused() {
    let (x, _, _) = session_values();
    let vars = fly_vars(&x, 14, &[0.0; 14], &[]);
    assert_error(
        load_vars("Fly14.mat", &vars, true),
        "Fly14.mat",
        "Y",
        &["no accepted presentation"],
    );
}

#[test]
fn corrupted_mat_files_never_panic() {
    let path = Path::new("corrupt.mat");
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for file in ["scipy_compressed.mat", "scipy_uncompressed.mat"] {
        let original = fixture(file);
        for i in 0..original.len() {
            for value in [0x00, 0xff, 0x7f, original[i] ^ 0x01] {
                let mut bytes = original.clone();
                bytes[i] = value;
                if let Ok(fly) = fly_from_mat_bytes(path, &bytes) {
                    fly.validate().expect("a loaded recording is consistent");
                }
            }
        }
        for _ in 0..2000 {
            let mut bytes = original.clone();
            for _ in 0..rng.random_range(1..8) {
                let i = rng.random_range(0..bytes.len());
                bytes[i] = rng.random();
            }
            if let Ok(fly) = fly_from_mat_bytes(path, &bytes) {
                fly.validate().expect("a loaded recording is consistent");
            }
        }
    }
}

// ---- CSV ----

fn load_csv_text(file: &str, text: &str) -> Result<FlyRecording> {
    let dir = tempdir();
    load_fly_csv(write(&dir, file, text.as_bytes()))
}

#[test]
fn csv_variants_load() {
    // BOM, CRLF, quotes, another column order, an extra column, blank lines
    let text = "\u{feff}\"decision\",\"reward\",\"odour\",\"trial\",note\r\n\
                0,,1,0,a\r\n1,1,0,0,b\r\n\r\n1,0.0,2,1,c\r\n0,0,0,2,d\r\n";
    let fly = load_csv_text("fly.csv", text).expect("loads");
    assert_eq!(fly.odours, [1, 0, 2]);
    assert_eq!(fly.decisions, [0, 1, 1]);
    assert_eq!(fly.trial_of_presentation, [0, 0, 1]);
    assert_eq!(fly.rewards, [1.0, 0.0]);
    assert_eq!(fly.n_odours, 3);
    assert_eq!(fly.name, "fly");
}

#[test]
fn csv_missing_column_is_named() {
    let result = load_csv_text("Fly15.csv", "trial,odour,decision\n0,0,1\n");
    assert_error(result, "Fly15.csv", "reward", &["missing column"]);
}

#[test]
fn csv_bad_decision_is_named() {
    let result = load_csv_text(
        "Fly16.csv",
        "trial,odour,decision,reward\n0,0,0,\n0,1,2,1\n",
    );
    assert_error(
        result,
        "Fly16.csv",
        "decision",
        &["line 3", "expected 0 (reject) or 1 (accept), found '2'"],
    );
}

#[test]
fn csv_non_numeric_cell_is_named() {
    let result = load_csv_text("Fly17.csv", "trial,odour,decision,reward\n0,A,1,1\n");
    assert_error(
        result,
        "Fly17.csv",
        "odour",
        &["line 2", "expected a number, found 'A'"],
    );
    let result = load_csv_text("Fly17.csv", "trial,odour,decision,reward\n0,0,1,NaN\n");
    assert_error(result, "Fly17.csv", "reward", &["finite"]);
}

#[test]
fn csv_trials_rewards_and_rows_are_checked() {
    let header = "trial,odour,decision,reward\n";
    let cases = [
        // 1-based trials
        ("1,0,1,1\n", "trial", "expected trial 0"),
        // a trial that goes on after its accept
        ("0,0,1,1\n0,1,1,0\n", "trial", "expected trial 1"),
        // a reward on a rejection
        ("0,0,0,1\n0,1,1,0\n", "reward", "rejected presentation"),
        // no reward on an accept
        ("0,0,1,\n", "reward", "empty cell"),
        // a short row
        ("0,0,1\n", "reward", "3 cells"),
        // a negative odour
        ("0,-1,1,1\n", "odour", "0-based integer"),
        // only rejections
        ("0,0,0,\n0,1,0,\n", "decision", "no accepted presentation"),
        // only a header
        ("", "decision", "at least one presentation"),
    ];
    for (rows, column, words) in cases {
        let result = load_csv_text("Fly18.csv", &format!("{header}{rows}"));
        assert_error(result, "Fly18.csv", column, &[words]);
    }
    // rejections after the last accept are dropped
    let fly =
        load_csv_text("Fly18.csv", &format!("{header}0,0,1,1\n1,1,0,\n1,0,0,0\n")).expect("loads");
    assert_eq!(fly.decisions, [1]);
    assert_eq!(fly.n_odours, 2);
}
