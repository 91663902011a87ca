//! `plasticity convert-fly` and `plasticity flies` on deposited raw fly directories
//! (issue 25, point 2), with simulated flies in the raw layout (the library's
//! `tests/support/raw.rs`, included by path).

mod common;
#[path = "../../plasticity/tests/support/raw.rs"]
mod raw;

use common::{args, json, run, utf8};
use plasticity::data::load_fly;
use raw::simulate_raw_fly;

#[test]
fn convert_fly_writes_mat_and_csv_that_load_as_the_simulation() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sim = simulate_raw_fly(5, 3, 12);
    let fly = dir.path().join("Fly5");
    sim.write(&fly);
    let fly_arg = fly.to_str().expect("UTF-8 path");
    let mut loaded = Vec::new();
    for ext in ["mat", "csv"] {
        let out = dir.path().join(format!("converted.{ext}"));
        let output = run(&["convert-fly", fly_arg, "--out", utf8(&out)]);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(stdout.contains("Fly5: 3 blocks"), "{stdout}");
        assert!(
            stdout.contains(&format!("{} accepted", sim.rewards.len())),
            "{stdout}"
        );
        let recording = load_fly(&out).expect("the written file loads");
        let last = sim
            .decisions
            .iter()
            .rposition(|&d| d == 1)
            .expect("an accept");
        assert_eq!(recording.odours, sim.odours[..=last]);
        assert_eq!(recording.decisions, sim.decisions[..=last]);
        assert_eq!(recording.rewards, sim.rewards);
        loaded.push(recording.decisions);
    }
    assert_eq!(loaded[0], loaded[1]);
}

#[test]
fn convert_fly_refuses_bad_input_naming_file_and_variable() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fly = dir.path().join("Fly1");
    simulate_raw_fly(1, 2, 6).write(&fly);
    let fly_arg = fly.to_str().expect("UTF-8 path");
    let out = dir.path().join("out.mat");
    let out_arg = out.to_str().expect("UTF-8 path");

    let bad_ext = run(&["convert-fly", fly_arg, "--out", "x.txt"]);
    assert!(!bad_ext.status.success());
    assert!(String::from_utf8_lossy(&bad_ext.stderr).contains(".mat or .csv"));

    std::fs::remove_file(fly.join("cps_2.mat")).expect("removed");
    let missing = run(&["convert-fly", fly_arg, "--out", out_arg]);
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(!missing.status.success(), "{stderr}");
    assert!(
        stderr.contains("cps_2.mat")
            && stderr.contains("variable 'cps'")
            && stderr.contains("missing file"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!out.exists(), "no output file on error");
}

#[test]
fn flies_reads_a_directory_of_raw_fly_directories() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("raw");
    for fly in 1..=2 {
        simulate_raw_fly(fly, 3, 10).write(&data.join(format!("Fly{fly}")));
    }
    let out = dir.path().join("out");
    let head = [
        "flies",
        utf8(&data),
        "--out",
        utf8(&out),
        "--models",
        "1,x,r,x*r",
    ];
    let flags = "--resamples 1 --epochs 1 --no-intervals --no-q-learning --population-folds 0";
    let output = run(&args(&head, &format!("{flags} --quiet")));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let comparison = json(&out.join("comparison.json"));
    assert_eq!(comparison["flies"], serde_json::json!(["Fly1", "Fly2"]));
}
