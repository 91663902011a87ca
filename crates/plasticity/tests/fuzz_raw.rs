//! Fuzz harnesses of the MAT reader's struct, cell and char arrays
//! (`plasticity::io::mat::load_mat_variables`) and of the deposited raw fly layout
//! (`plasticity::data::convert_raw_fly`), with the requirements of `tests/fuzz.rs`:
//! no panic, `Ok` or a data error naming the file and a variable, no allocation larger
//! than the input justifies, no hang. Inputs: generated nested arrays (well and badly
//! formed: dimensions that disagree with the data, structs whose elements lack fields,
//! NaN and huge sizes), the same with byte mutations, and simulated raw fly
//! directories with one file mutated. `PLASTICITY_FUZZ_CASES` and
//! `PLASTICITY_FUZZ_SEED` as in `tests/fuzz.rs`; `scripts/fuzz/run.sh` runs both.

#[path = "support/raw.rs"]
mod raw;
mod support;

use std::path::Path;

use plasticity::data::convert_raw_fly;
use plasticity::io::mat::{load_mat_variables, MatValue};
use plasticity::Error;
use proptest::prelude::*;
use raw::{node_file, simulate_raw_fly, Node};
use support::*;

#[global_allocator]
static METER: Meter = Meter;

/// The memory limit the harnesses run under (as in `tests/fuzz.rs`).
fn limit_memory() {
    let var = plasticity::limits::MAX_DATASET_BYTES_VAR;
    if std::env::var_os(var).is_none() {
        std::env::set_var(var, (64u64 << 20).to_string());
    }
}

/// Nested arrays of every kind the reader converts, with sizes that may disagree.
fn node() -> impl Strategy<Value = Node> {
    let dims = prop::collection::vec(
        prop_oneof![4 => 0i32..4, 1 => prop::sample::select(vec![-1, i32::MAX, 1 << 20])],
        0..4,
    );
    let leaf = prop_oneof![
        Just(Node::Empty),
        (dims, prop::collection::vec(any::<f64>(), 0..6)).prop_map(|(d, v)| Node::Double(d, v)),
        ("[AOMto Ω]{0,6}", any::<bool>()).prop_map(|(s, wide)| Node::Char(s, wide)),
    ];
    leaf.prop_recursive(5, 40, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Node::Cell),
            (
                prop::collection::vec("[a-z_]{0,6}", 0..4),
                prop::collection::vec(prop::collection::vec(inner, 0..4), 0..4),
            )
                .prop_map(|(fields, elements)| Node::Struct(fields, elements)),
        ]
    })
}

/// Writes `bytes` to `path`, reads variable `v` under the allocation meter and checks
/// the outcome.
fn exercise_values(path: &Path, bytes: &[u8]) -> Result<(), TestCaseError> {
    std::fs::write(path, bytes).expect("test file written");
    let (result, largest) = largest_allocation(|| load_mat_variables(path, &["v", "w"]));
    check_allocation(largest, bytes.len())?;
    match result {
        Ok(found) => {
            prop_assert_eq!(found.len(), 2);
            if let Some(MatValue::Struct(s)) = &found[0] {
                prop_assert_eq!(s.values.len(), s.len() * s.fields.len());
            }
            Ok(())
        }
        Err(error) => check_data_error(&error, path, &["v", "w"], |_| true),
    }
}

#[test]
fn mat_generated_values() {
    limit_memory();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("values.mat");
    run(
        "mat_generated_values",
        3000,
        (node(), any::<bool>(), prop::option::of(mutations())),
        |(node, compressed, mutations)| {
            let mut bytes = node_file(&[("v", node)], compressed);
            if let Some(m) = mutations {
                let hot = hot_spots(&bytes);
                bytes = apply(&bytes, &hot, &m);
            }
            exercise_values(&path, &bytes)
        },
    );
}

/// The files of a raw fly directory, and the variables their errors may name.
const RAW_VARIABLES: [&str; 4] = ["odor_crossing", "cps", "choice_order", "reward_order"];

/// The check of a raw conversion's error: a data error (or a refusal as too large)
/// naming a file of `dir` (or `dir`) and one of [`RAW_VARIABLES`], none, or — for an
/// element cut short inside a file, as `tests/fuzz.rs` allows for `.mat` files — the
/// name the corrupted element holds (which may sit in compressed data).
fn check_raw_error(error: &Error, dir: &Path, names: &[String]) -> Result<(), TestCaseError> {
    let text = error.to_string();
    if let Error::TooLarge { what, .. } = error {
        prop_assert!(what.contains(&dir.display().to_string()), "{}", text);
        return Ok(());
    }
    let Error::Data { path, variable, .. } = error else {
        return Err(TestCaseError::fail(format!(
            "expected a data error naming the file and variable, got {error:?}"
        )));
    };
    let named = path == dir
        || (path.parent() == Some(dir)
            && names.iter().any(|n| path.file_name() == Some(n.as_ref())));
    prop_assert!(named, "an error naming another path: {}", text);
    prop_assert!(text.contains(&path.display().to_string()), "{}", text);
    let known = variable.is_empty() || RAW_VARIABLES.contains(&variable.as_str());
    let located = text.contains(" at byte ");
    prop_assert!(
        known || located,
        "unexpected variable '{}': {}",
        variable,
        text
    );
    let quoted = variable.is_empty() || text.contains(&format!("'{variable}'"));
    prop_assert!(quoted, "{}", text);
    Ok(())
}

#[test]
fn raw_fly_mutations() {
    limit_memory();
    let seeds: Vec<_> = (0..3).map(|s| simulate_raw_fly(s + 11, 3, 6)).collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let fly = dir.path().join("Fly");
    let names: Vec<String> = seeds[0].files.iter().map(|(n, _)| n.clone()).collect();
    run(
        "raw_fly_mutations",
        1500,
        (0..seeds.len(), 0..names.len(), mutations(), any::<bool>()),
        |(which, file, m, remove)| {
            let sim = &seeds[which];
            sim.write(&fly);
            let (name, original) = &sim.files[file];
            let bytes = if remove && m.len() == 1 {
                None // a missing file
            } else {
                Some(apply(original, &hot_spots(original), &m))
            };
            match &bytes {
                Some(b) => std::fs::write(fly.join(name), b).expect("written"),
                None => std::fs::remove_file(fly.join(name)).expect("removed"),
            }
            let total: usize = sim.files.iter().map(|(_, b)| b.len()).sum();
            let (result, largest) = largest_allocation(|| convert_raw_fly(&fly));
            check_allocation(largest, total + bytes.map_or(0, |b| b.len()))?;
            match result {
                Ok(converted) => {
                    prop_assert_eq!(converted.odours.len(), converted.decisions.len());
                    let accepts = converted.decisions.iter().filter(|&&d| d == 1).count();
                    prop_assert_eq!(accepts, converted.rewards.len());
                    Ok(())
                }
                Err(error) => check_raw_error(&error, &fly, &names),
            }
        },
    );
}
