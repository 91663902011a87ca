//! Fuzz harness of experiment files (see `crates/plasticity/tests/fuzz.rs` for the
//! rules): valid files — a small neural and behaviour experiment and every shipped
//! file in `experiments/` — mutated byte by byte, and generated files with random
//! sections, keys, values and grids. Every input must load or fail with an error whose
//! message names the file; nothing may panic or allocate more than the input
//! justifies. `PLASTICITY_FUZZ_CASES` sets the number of inputs.

#[path = "../../../../plasticity/tests/support/mod.rs"]
mod support;

use std::path::Path;

use proptest::prelude::*;
use support::*;

use super::{Experiment, MAX_CELLS};

#[global_allocator]
static METER: Meter = Meter;

const SMALL_NEURAL: &str = r#"kind = "neural"
title = "test"
checkpoint_interval = 0

[simulate]
n_pre = 6
n_post = 12
steps = 20
trajectories = 3
seed = 1

[fit]
epochs = 5
eval_trajectories = 1
optimizer = "adam"
learning_rate = 0.01

[grid]
"simulate.noise_std" = [0.0, 0.3]
"fit.seed" = [1, 2]
"#;

const SMALL_BEHAVIOUR: &str = r#"kind = "behaviour"

[simulate]
sessions = 2
trials_per_block = 5
rule = "x*r"

[fit]
epochs = 3
weight_bound = "none"
max_backoffs = 2

[slurm]
cpus_per_task = 2
options = ["--mem=4G"]
"#;

/// The valid files the mutations start from.
fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut seeds = vec![
        ("small_neural".to_string(), SMALL_NEURAL.as_bytes().to_vec()),
        (
            "small_behaviour".to_string(),
            SMALL_BEHAVIOUR.as_bytes().to_vec(),
        ),
    ];
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments");
    let mut shipped: Vec<_> = std::fs::read_dir(&dir)
        .expect("experiments/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    shipped.sort();
    for path in shipped {
        let name = path.file_name().expect("a name").to_string_lossy().into();
        seeds.push((name, std::fs::read(&path).expect("readable")));
    }
    seeds
}

/// Loads `bytes` as an experiment file at `path` and checks the outcome.
fn exercise(path: &Path, bytes: &[u8]) -> Result<(), TestCaseError> {
    std::fs::write(path, bytes).expect("test file written");
    let (result, largest) = largest_allocation(|| {
        Experiment::load(path).map(|experiment| {
            let cells = experiment.cells();
            let out = path.with_extension("out");
            // every cell of a loaded experiment has a configuration
            cells
                .iter()
                .map(|cell| experiment.cell_config(cell, &out).map(drop))
                .collect::<anyhow::Result<Vec<()>>>()
        })
    });
    check_allocation(largest, bytes.len())?;
    match result {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(TestCaseError::fail(format!(
            "a loaded experiment has a cell that does not parse: {e:#}"
        ))),
        Err(e) => {
            let text = format!("{e:#}");
            prop_assert!(
                text.contains(&path.display().to_string()),
                "the error does not name the file: {}",
                text
            );
            Ok(())
        }
    }
}

#[test]
fn experiment_file_mutations() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("experiment.toml");
    let seeds = seeds();
    let hot: Vec<Vec<usize>> = seeds.iter().map(|(_, s)| hot_spots(s)).collect();
    run(
        "experiment_file_mutations",
        3000,
        (0..seeds.len(), mutations()),
        |(which, m)| exercise(&path, &apply(&seeds[which].1, &hot[which], &m)),
    );
}

/// A TOML value of any type, often one a key of that name would not take.
fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        (-3i64..300).prop_map(|v| v.to_string()),
        prop::sample::select(vec![
            "0.5",
            "-1.0",
            "nan",
            "inf",
            "-inf",
            "1e308",
            "1e-320",
            "true",
            "\"none\"",
            "\"adam\"",
            "\"lbfgs\"",
            "\"x*y - y^2*w\"",
            "\"x*r\"",
            "\"\"",
            "[]",
            "[1, 2]",
            "{ a = 1 }",
            "9223372036854775807",
            "\"é\\u0000\"",
            "1979-05-27",
        ])
        .prop_map(str::to_string),
    ]
}

/// Keys of the sections (real ones, and a few that are not).
const KEYS: [&str; 22] = [
    "n_pre",
    "n_post",
    "steps",
    "trajectories",
    "noise_std",
    "recording_fraction",
    "rule",
    "seed",
    "sessions",
    "trials_per_block",
    "epochs",
    "learning_rate",
    "batch_size",
    "optimizer",
    "l1",
    "init",
    "weight_bound",
    "max_backoffs",
    "tolerance",
    "hidden",
    "eval_trajectories",
    "no_such_key",
];

#[test]
fn generated_experiment_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("generated.toml");
    let kind = prop::sample::select(vec![
        "\"neural\"",
        "\"behaviour\"",
        "\"table\"",
        "\"flies\"",
        "\"scaling\"",
        "\"other\"",
        "1",
    ]);
    let section = prop::sample::select(vec!["simulate", "fit", "table", "slurm", "other"]);
    let entry = (prop::sample::select(&KEYS[..]), toml_value());
    let table = (section, prop::collection::vec(entry, 0..5));
    // grids of up to 3⁴ = 81 cells, so that every case stays quick
    let axis = (
        prop::sample::select(vec!["simulate", "fit", "other"]),
        prop::sample::select(&KEYS[..]),
        prop::collection::vec(toml_value(), 0..4),
    );
    run(
        "generated_experiment_files",
        2000,
        (
            kind,
            prop::collection::vec(table, 0..4),
            prop::collection::vec(axis, 0..5),
        ),
        |(kind, tables, axes)| {
            let mut text = format!("kind = {kind}\n");
            for (section, entries) in &tables {
                text.push_str(&format!("[{section}]\n"));
                for (key, value) in entries {
                    text.push_str(&format!("{key} = {value}\n"));
                }
            }
            if !axes.is_empty() {
                text.push_str("[grid]\n");
                for (section, key, values) in &axes {
                    text.push_str(&format!("\"{section}.{key}\" = [{}]\n", values.join(", ")));
                }
            }
            exercise(&path, text.as_bytes())
        },
    );
}

/// A grid whose cells would not fit in memory is refused by its size, before any cell
/// is made.
#[test]
fn a_huge_grid_is_refused_before_its_cells_are_made() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("huge.toml");
    let values: Vec<String> = (1..=100).map(|v| v.to_string()).collect();
    let values = values.join(", ");
    let mut text = "kind = \"neural\"\n[simulate]\n[fit]\n[grid]\n".to_string();
    for key in [
        "simulate.seed",
        "fit.seed",
        "fit.epochs",
        "simulate.steps",
        "simulate.n_pre",
        "simulate.n_post",
    ] {
        text.push_str(&format!("\"{key}\" = [{values}]\n"));
    }
    std::fs::write(&path, &text).expect("written");
    let (result, largest) = largest_allocation(|| Experiment::load(&path).map(drop));
    let error = format!("{:#}", result.expect_err("10¹² cells must be refused"));
    assert!(error.contains("huge.toml"), "{error}");
    assert!(error.contains("fit.epochs"), "{error}");
    assert!(
        error.contains(&format!("more than {MAX_CELLS} cells")),
        "{error}"
    );
    assert!(
        largest <= justified_allocation(text.len()),
        "{largest} bytes"
    );
}
