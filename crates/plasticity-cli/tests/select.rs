//! `plasticity select` on a tiny behaviour dataset: selection.csv has one row per term
//! set, selection.json the best set, the equivalence set and the L1 path, the figures
//! are drawn; bad pools and flags are named in the error.

mod common;

use common::{args, assert_says, behaviour_file, json, read, run, stderr, utf8};

#[test]
fn select_writes_the_ranking_the_equivalence_set_and_the_l1_path() {
    let dir = tempfile::tempdir().unwrap();
    let data = behaviour_file(dir.path(), 6, 30, "x*r", 2);
    let out = dir.path().join("sel");
    let (data, out_s) = (utf8(&data), utf8(&out));
    let flags = "--max-terms 2 --folds 3 --epochs 30 --l1-path --l1-lambdas 5 --l1-iterations 30";
    let head = ["select", data, "--out", out_s, "--pool", "r,x*r,w"];
    let output = run(&args(&head, &format!("{flags} --quiet")));
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).is_empty(), "--quiet: {}", stderr(&output));
    let csv = read(&out.join("selection.csv"));
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("rank,terms,n_terms,heldout_deviance,deviance_se"));
    assert!(lines[0].contains("aic,bic,within_tolerance"));
    assert_eq!(lines.len(), 1 + 1 + 3 + 3, "{csv}");
    let json = json(&out.join("selection.json"));
    assert_eq!(json["best"], json["candidates"][0]["terms"]);
    assert_eq!(json["equivalent"][0], json["best"]);
    assert!(json["version"].is_string() && json["seed"].is_u64());
    assert_eq!(json["config"]["folds"], 3);
    let path = &json["l1_path"];
    assert_eq!(path["lambdas"].as_array().unwrap().len(), 5);
    assert_eq!(path["terms"], serde_json::json!(["r", "w", "x*r"]));
    for stem in ["heldout_deviance", "l1_path", "l1_cross_validation"] {
        for ext in ["png", "svg"] {
            assert!(out.join("figures").join(format!("{stem}.{ext}")).is_file());
        }
    }
    // the held-out deviances are ranked
    let deviances: Vec<f64> = json["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["heldout_deviance"].as_f64().unwrap())
        .collect();
    assert!(deviances.windows(2).all(|p| p[0] <= p[1]), "{deviances:?}");

    for (flags, named) in [
        (vec!["--pool", "x*r,q"], "--pool"),
        (vec!["--pool", "x*r,x*r"], "--pool"),
        (vec!["--required", "y"], "--required"),
        (vec!["--folds", "7"], "--folds"),
        (vec!["--max-terms", "0"], "--max-terms"),
        (vec!["--tolerance", "two"], "--tolerance"),
    ] {
        let mut args = vec!["select", data, "--out", out_s, "--pool", "r,x*r,w"];
        args.extend(flags.iter().copied());
        let output = run(&args);
        assert!(!output.status.success(), "{flags:?}");
        assert!(
            stderr(&output).contains(named),
            "{flags:?}: {}",
            stderr(&output)
        );
        assert!(!stderr(&output).contains("panicked"), "{}", stderr(&output));
    }
}

#[test]
fn shards_gathered_give_the_unsharded_selection() {
    let dir = tempfile::tempdir().unwrap();
    let data = behaviour_file(dir.path(), 4, 20, "x*r - 0.05*w", 4);
    let flags = "--pool r,x*r,w --max-terms 2 --folds 2 --epochs 20 --quiet";
    let select = |out: &std::path::Path, extra: &[&str]| {
        let mut args = args(&["select", utf8(&data), "--out", utf8(out)], flags);
        args.extend_from_slice(extra);
        run(&args)
    };
    let whole = dir.path().join("whole");
    assert!(select(&whole, &[]).status.success());
    let sharded = dir.path().join("sharded");
    for shard in ["0/3", "1/3", "2/3"] {
        let output = select(&sharded, &["--shard", shard]);
        assert!(output.status.success(), "{shard}: {}", stderr(&output));
    }
    assert!(sharded.join("shards/shard_1_of_3.json").is_file());
    assert!(
        !sharded.join("selection.csv").exists(),
        "a shard writes only itself"
    );
    let output = select(&sharded, &["--gather"]);
    assert!(output.status.success(), "gather: {}", stderr(&output));
    assert_eq!(
        read(&whole.join("selection.csv")),
        read(&sharded.join("selection.csv"))
    );
    // gathering with other flags, or with a shard missing, is refused
    let output = select(&sharded, &["--gather", "--seed", "1"]);
    assert!(!output.status.success());
    assert_says(&output, "other settings");
    std::fs::remove_file(sharded.join("shards/shard_2_of_3.json")).unwrap();
    let output = select(&sharded, &["--gather"]);
    assert!(!output.status.success());
    assert_says(&output, "2/3 is missing");
    // a bad shard and a sharded stepwise search are refused
    let output = select(&sharded, &["--shard", "3/3"]);
    assert_says(&output, "--shard");
    let output = select(&sharded, &["--shard", "0/2", "--search", "backward"]);
    assert!(!output.status.success());
    assert_says(&output, "shard");
}
