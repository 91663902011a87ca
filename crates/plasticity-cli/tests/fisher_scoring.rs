//! `plasticity fit BEHAVIOUR.npz --solver levenberg-marquardt`: Fisher scoring on the
//! plain cross-entropy (its L1 default is 0), recorded as the solver that ran; an
//! explicit penalty is refused naming the flags.

mod common;

use common::run;
use std::process::Output;

fn ok(args: &[&str]) -> Output {
    let output = run(args);
    assert!(
        output.status.success(),
        "plasticity {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn results(dir: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("results.json")).expect("results.json");
    serde_json::from_str(&text).expect("JSON")
}

#[test]
fn behaviour_fits_by_levenberg_marquardt_and_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("b.npz");
    let data = data.to_str().unwrap();
    ok(&[
        "--quiet",
        "simulate",
        "behaviour",
        "--rule",
        "x*r - 0.05*w",
        "--out",
        data,
        "--sessions",
        "3",
        "--blocks",
        "2",
        "--trials-per-block",
        "30",
    ]);
    let fit = |name: &str, extra: &[&str]| {
        let out = dir.path().join(name);
        let mut args = vec![
            "--quiet",
            "fit",
            data,
            "--out",
            out.to_str().unwrap(),
            "--trainable",
            "1,x,r,w,x*r",
            "--eval-sessions",
            "1",
        ];
        args.extend_from_slice(extra);
        (run(&args), out)
    };
    let (lm, lm_out) = fit("lm", &["--solver", "levenberg-marquardt"]);
    assert!(
        lm.status.success(),
        "{}",
        String::from_utf8_lossy(&lm.stderr)
    );
    let lm = results(&lm_out);
    assert_eq!(lm["config"]["solver_used"], "levenberg-marquardt");
    assert_eq!(lm["config"]["settings"]["solver"], "levenberg-marquardt");
    assert_eq!(lm["config"]["settings"]["fit"]["l1"], 0.0);
    let (lbfgs, lbfgs_out) = fit("lbfgs", &["--solver", "lbfgs", "--l1", "0"]);
    assert!(lbfgs.status.success());
    let lbfgs = results(&lbfgs_out);
    assert_eq!(lbfgs["config"]["solver_used"], "lbfgs");
    let loss = |r: &serde_json::Value| r["metrics"]["final_loss"].as_f64().unwrap();
    assert!(
        loss(&lm) <= loss(&lbfgs) * (1.0 + 1e-9),
        "{} vs {}",
        loss(&lm),
        loss(&lbfgs)
    );
    // the default stays the paper's Adam with L1
    let (adam, adam_out) = fit("adam", &["--epochs", "2"]);
    assert!(adam.status.success());
    assert_eq!(results(&adam_out)["config"]["solver_used"], "adam");
    // an explicit penalty is refused, naming the flags
    let (refused, _) = fit(
        "refused",
        &["--solver", "levenberg-marquardt", "--l1", "0.01"],
    );
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("--l1 0.01") && stderr.contains("--l1 0"),
        "{stderr}"
    );
}
