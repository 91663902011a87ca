//! A newcomer's wrong turns get a pointer to the right command: a fly recording given
//! to `fit`, a file given to `flies`, a directory given as a dataset; `table --help`
//! lists the flags a table reads; defaults print as readable numbers.

mod common;

use common::{assert_says, run, stderr, utf8};
use std::path::{Path, PathBuf};

fn fly_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/flies/Fly1.mat")
}

#[test]
fn a_fly_recording_given_to_fit_points_to_flies() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let fly = fly_file();
    let output = run(&["fit", fly.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(!output.status.success());
    let text = stderr(&output);
    assert!(
        text.contains("Fly1.mat") && text.contains("`plasticity flies DIR`"),
        "{text}"
    );
}

#[test]
fn a_file_given_to_flies_points_to_its_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let fly = fly_file();
    let output = run(&["flies", utf8(&fly), "--out", utf8(&out)]);
    assert!(!output.status.success());
    let text = stderr(&output);
    assert!(
        text.contains("is a file") && text.contains("give its directory"),
        "{text}"
    );
    assert!(!text.contains("os error"), "no raw OS error: {text}");
}

#[test]
fn a_directory_given_as_a_dataset_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let output = run(&["fit", utf8(dir.path()), "--out", utf8(&out)]);
    assert!(!output.status.success());
    assert_says(&output, "a directory");
}

#[test]
fn table_help_lists_only_what_a_table_reads_and_defaults_are_readable() {
    let help = String::from_utf8(run(&["table", "--help"]).stdout).unwrap();
    assert!(
        help.contains("--families") && help.contains("--epochs"),
        "{help}"
    );
    for hidden in ["--online", "--rule-family", "--horizon-stages", "--solver"] {
        assert!(!help.contains(hidden), "table --help shows {hidden}");
    }
    let help = String::from_utf8(run(&["fit", "--help"]).stdout).unwrap();
    assert!(!help.contains("0.0000"), "unreadable default in fit --help");
    assert!(help.contains("[default: 1e-10]"), "{help}");
}
