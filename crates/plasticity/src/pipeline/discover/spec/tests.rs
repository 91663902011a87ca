use super::*;

const PCA: &str = r#"
kind = "pca"
seed = 3

[task]
inputs = 20
steps = 500
learning_rate = 0.02

[meta]
iterations = 10
tasks_per_step = 4
learning_rate = 0.01
final_learning_rate = 0.001
gradient_clip = 1.0
norm_cap = 10.0
"#;

#[test]
fn a_pca_file_parses_with_defaults() {
    let spec = DiscoverSpec::parse(PCA, Path::new("pca.toml")).expect("test set-up");
    let FunctionTask::Pca(task) = spec.function_task().expect("test set-up") else {
        panic!("not PCA")
    };
    assert_eq!(task.covariance.n_inputs, 20);
    assert_eq!(task.covariance.top_ratio_min, 2.0);
    assert_eq!(spec.trainable().expect("test set-up").len(), 27);
    assert_eq!(spec.meta.optimizer, MetaOptimizer::Adam);
}

#[test]
fn errors_name_the_file_key_and_line() {
    let bad = PCA.replace("steps = 500", "steps = 500\nneurons = 100");
    let error = DiscoverSpec::parse(&bad, Path::new("pca.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("pca.toml") && error.contains("task.neurons"),
        "{error}"
    );
    assert!(error.contains("line 8"), "{error}");
    let bad = PCA.replace("learning_rate = 0.02", "learning_rate = -1.0");
    let error = DiscoverSpec::parse(&bad, Path::new("pca.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("task.learning_rate") && error.contains("line 8"),
        "{error}"
    );
    let bad = PCA.replace("iterations = 10", "iterations = \"ten\"");
    let error = DiscoverSpec::parse(&bad, Path::new("pca.toml"))
        .unwrap_err()
        .to_string();
    assert!(error.contains("meta.iterations"), "{error}");
    let bad = PCA.replace("[meta]", "[rule]\ntrainable = [\"x*y\", \"z\"]\n\n[meta]");
    let error = DiscoverSpec::parse(&bad, Path::new("pca.toml"))
        .unwrap_err()
        .to_string();
    assert!(error.contains("rule.trainable"), "{error}");
    let bad = PCA.replace("kind = \"pca\"", "kind = \"memory\"");
    let error = DiscoverSpec::parse(&bad, Path::new("m.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("task.neurons") && error.contains("missing"),
        "{error}"
    );
}

const PHASE: &str = r#"
kind = "memory_phase"

[task]
neurons = 50
loads = [5, 10]

[task.window]
shape = "exponential"
theta_period = 125.0
a_plus = 1.0
a_minus = 0.5
tau_plus = 16.8
tau_minus = 33.7
harmonics = 2

[rule]
learn = "storage"
initial = "mismatched"

[meta]
iterations = 10
tasks_per_step = 4
learning_rate = 0.05
final_learning_rate = 0.001
gradient_clip = 1.0
"#;

#[test]
fn a_phase_memory_file_parses_with_defaults() {
    let spec = DiscoverSpec::parse(PHASE, Path::new("phase.toml")).expect("test set-up");
    let FunctionTask::MemoryPhase(setup) = spec.function_task().expect("test set-up") else {
        panic!("not phase memory")
    };
    // Ω learned with 5 harmonics, H = the 2-harmonic window's derivative.
    assert_eq!(setup.task.storage_harmonics, 5);
    assert_eq!(setup.task.interaction_harmonics, 2);
    assert_eq!(setup.task.cue_strength, 2.0);
    assert_eq!(setup.evaluation_loads, vec![5, 10]);
    assert_eq!(
        spec.trainable().expect("test set-up"),
        (0..10).collect::<Vec<_>>()
    );
    let names = spec.coefficient_names().expect("test set-up");
    assert_eq!(names[0], "omega.cos1");
    assert_eq!(names[13], "h.sin2");
    let theta = spec.initial_theta().expect("test set-up");
    let (omega, h) = setup.task.split(&theta);
    // The mismatched start: Ω = 0.2 H/‖H‖.
    assert!((crate::task::phases::norm(omega) - 0.2).abs() < 1e-12);
    assert!((crate::task::phases::correlation(omega, h) - 1.0).abs() < 1e-12);
}

#[test]
fn phase_memory_errors_name_the_key_and_line() {
    let check = |from: &str, to: &str, key: &str, line: &str| {
        let bad = PHASE.replacen(from, to, 1);
        let error = DiscoverSpec::parse(&bad, Path::new("phase.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("phase.toml") && error.contains(key),
            "{error}"
        );
        assert!(error.contains(line), "{error}");
    };
    check(
        "loads = [5, 10]",
        "loads = [5, 10]\ninputs = 3",
        "task.inputs",
        "line 7",
    );
    check(
        "learn = \"storage\"",
        "learn = \"everything\"",
        "rule.learn",
        "line 18",
    );
    check(
        "initial = \"mismatched\"",
        "initial = \"x*y\"",
        "rule.initial",
        "line 19",
    );
    check(
        "[meta]",
        "[meta]\nnorm_cap = 3.0",
        "meta.norm_cap",
        "line 22",
    );
    let bad = PHASE.replacen("tau_plus = 16.8", "tau_plus = 0.0", 1);
    let error = DiscoverSpec::parse(&bad, Path::new("phase.toml"))
        .unwrap_err()
        .to_string();
    assert!(error.contains("tau_plus"), "{error}");
    let bad = PCA.replace("[meta]", "[rule]\nlearn = \"storage\"\n\n[meta]");
    let error = DiscoverSpec::parse(&bad, Path::new("pca.toml"))
        .unwrap_err()
        .to_string();
    assert!(error.contains("rule.learn"), "{error}");
}

const TARGET_RATE: &str = r#"
kind = "spiking_target_rate"

[task]
target_rate_hz = 5.0
learn_seconds = 2.0

[rule]
initial = "1.0*s_post*x_trace + 1.0*s_pre*y_trace - 0.2*s_pre"

[meta]
optimizer = "cmaes"
iterations = 10
tasks_per_step = 4
learning_rate = 0.01
final_learning_rate = 0.001
gradient_clip = 1.0
"#;

#[test]
fn a_target_rate_file_parses_with_defaults() {
    let spec = DiscoverSpec::parse(TARGET_RATE, Path::new("rate.toml")).expect("test set-up");
    let FunctionTask::SpikingTargetRate(task) = spec.function_task().expect("test set-up") else {
        panic!("not the spiking target rate")
    };
    assert_eq!((task.n_excitatory, task.n_inhibitory), (80, 20));
    assert_eq!((task.learn_seconds, task.eval_seconds), (2.0, 4.0));
    assert_eq!(spec.trainable().expect("test set-up"), vec![0, 1, 2]);
    assert_eq!(
        spec.initial_theta().expect("test set-up"),
        task.vogels_theta(1.0)
    );
    assert_eq!(
        spec.coefficient_names().expect("test set-up"),
        vec!["s_post*x_trace", "s_pre*y_trace", "s_pre"]
    );
}

#[test]
fn the_target_rate_refuses_adam_and_other_kinds_keys() {
    let adam = TARGET_RATE.replace("optimizer = \"cmaes\"", "optimizer = \"adam\"");
    let error = DiscoverSpec::parse(&adam, Path::new("rate.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("meta.optimizer")
            && error.contains("spiking_target_rate has no gradient: use optimizer = \"cmaes\"")
            && error.contains("surrogate_slope"),
        "{error}"
    );
    // --optimizer adam on the command line reaches the job: refused there too.
    let spec = DiscoverSpec::parse(TARGET_RATE, Path::new("rate.toml")).expect("test set-up");
    let error = crate::pipeline::discover::discover(&spec, MetaOptimizer::Adam, 1, |_| {})
        .unwrap_err()
        .to_string();
    assert!(error.contains("use optimizer = \"cmaes\""), "{error}");
    let bad = TARGET_RATE.replace("learn_seconds = 2.0", "learn_seconds = 2.0\nneurons = 5");
    let error = DiscoverSpec::parse(&bad, Path::new("rate.toml"))
        .unwrap_err()
        .to_string();
    assert!(error.contains("task.neurons"), "{error}");
    let bad = TARGET_RATE.replace("initial = \"1.0", "trainable = [\"x*y\"]\ninitial = \"1.0");
    let error = DiscoverSpec::parse(&bad, Path::new("rate.toml"))
        .unwrap_err()
        .to_string();
    assert!(error.contains("rule.trainable"), "{error}");
    // with a surrogate slope Adam is taken, and a bad slope is refused by name
    let adam = TARGET_RATE
        .replace("optimizer = \"cmaes\"", "optimizer = \"adam\"")
        .replace(
            "learn_seconds = 2.0",
            "learn_seconds = 2.0\nsurrogate_slope = 5.0",
        );
    let spec = DiscoverSpec::parse(&adam, Path::new("rate.toml")).expect("Adam with a surrogate");
    let FunctionTask::SpikingTargetRate(task) = spec.function_task().expect("test set-up") else {
        panic!("not the spiking target rate")
    };
    assert_eq!(task.surrogate_slope, Some(5.0));
    let error = DiscoverSpec::parse(
        &adam.replace("surrogate_slope = 5.0", "surrogate_slope = -1.0"),
        Path::new("rate.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("task.surrogate_slope"), "{error}");
}
