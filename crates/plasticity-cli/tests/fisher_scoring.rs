//! `plasticity fit BEHAVIOUR.npz --solver levenberg-marquardt`: Fisher scoring on the
//! plain cross-entropy (its L1 default is 0), recorded as the solver that ran; an
//! explicit penalty is refused naming the flags.

mod common;

use common::{args, args_then, ok, results, run};

#[test]
fn behaviour_fits_by_levenberg_marquardt_and_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("b.npz");
    let data = data.to_str().unwrap();
    let head = [
        "--quiet",
        "simulate",
        "behaviour",
        "--rule",
        "x*r - 0.05*w",
        "--out",
        data,
    ];
    ok(&args(
        &head,
        "--sessions 3 --blocks 2 --trials-per-block 30",
    ));
    let fit = |name: &str, extra: &[&str]| {
        let out = dir.path().join(name);
        let head = ["--quiet", "fit", data, "--out", out.to_str().unwrap()];
        let output = run(&args_then(
            &head,
            "--trainable 1,x,r,w,x*r --eval-sessions 1",
            extra,
        ));
        (output, out)
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
