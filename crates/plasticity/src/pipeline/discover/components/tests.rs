use super::*;

fn task(n_inputs: usize, n_steps: usize) -> ComponentsTask {
    ComponentsTask {
        n_inputs,
        n_components: 3,
        n_steps,
        learning_rate: 0.02,
        lateral_learning_rate: 0.02,
        initial_weight_scale: 0.1,
        leading_eigenvalues: [2.0, 5.0],
        minor_eigenvalue_max: 0.5,
    }
}

fn adam(iterations: usize) -> MetaAdamSettings {
    MetaAdamSettings {
        iterations,
        tasks_per_step: 32,
        learning_rate: 0.02,
        final_learning_rate: 0.001,
        gradient_clip: 1.0,
        l1: 0.002,
        max_backoffs: 3,
    }
}

#[test]
fn a_short_job_reports_every_metric_and_refuses_bad_input() {
    let (task, adam) = (task(8, 60), adam(3));
    let theta0 = vec![0.0; 54];
    let trainable: Vec<usize> = (0..54).collect();
    let job = ComponentsJob {
        task: &task,
        seeds: ComponentsSeeds::from_seed(1),
        adam: &adam,
        norm_cap: Some(10.0),
        initial_theta: &theta0,
        trainable: &trainable,
        held_out_tasks: 4,
        validation_tasks: 2,
    };
    let run = || discover_components(&job, None, |_| ControlFlow::Continue(())).expect("job");
    let report = run();
    assert_eq!(report.outcome.loss_history.len(), 3);
    let metrics = report.metrics();
    for key in [
        "captured_variance_fraction",
        "baseline_captured_variance_fraction",
        "sanger_captured_variance_fraction",
        "output_correlation",
        "ff_largest_terms",
        "lateral_largest_term",
        "lateral_dominant_anti_hebbian",
    ] {
        assert!(metrics.get(key).is_some(), "{key}: {metrics}");
    }
    assert_eq!(
        serde_json::to_value(run()).ok(),
        serde_json::to_value(&report).ok()
    );
    let short = [0.0; 3];
    let bad = ComponentsJob {
        initial_theta: &short,
        ..job.clone()
    };
    let error = discover_components(&bad, None, |_| ControlFlow::Continue(()))
        .expect_err("refused")
        .to_string();
    assert!(error.contains("rule.initial"), "{error}");
    let bad = ComponentsJob {
        held_out_tasks: 0,
        ..job
    };
    let error = discover_components(&bad, None, |_| ControlFlow::Continue(()))
        .expect_err("refused")
        .to_string();
    assert!(error.contains("evaluation.tasks"), "{error}");
}

#[test]
fn the_baselines_rules_are_oja_and_anti_hebbian() {
    let theta = oja_antihebbian_theta(0.5, 2.0);
    let names = coefficient_names(Variables::Xyw);
    let nonzero: Vec<(&str, f64)> = names
        .iter()
        .zip(&theta)
        .filter(|(_, v)| **v != 0.0)
        .map(|(n, v)| (n.as_str(), *v))
        .collect();
    assert_eq!(
        nonzero,
        [("ff.y^2*w", -0.5), ("ff.x*y", 0.5), ("lateral.x*y", -2.0)]
    );
}

/// The acceptance set-up (experiments/pca_components.toml): k = 3, n = 20, three
/// seeds, 300 meta-steps from θ = 0 with proximal L1. Settings found by tuning: Adam's
/// rate 0.02 (as for PCA) overshoots into exploding rules within 20 steps and never
/// recovers, 0.01 with a row cap of 3 does not; `W₀` rows of norm ≈ 1 (s = 1) so that
/// the early gradient is not all normalisation.
/// `cargo test --release -p plasticity --lib acceptance -- --ignored --nocapture`
#[test]
#[ignore = "the acceptance run (about 30 s on 2 cores); scripts/discover/acceptance-phase.sh runs the same set-up through plasticity discover, and the CLI test pca_components_runs_report_both_baselines a short one in CI"]
fn acceptance_three_components_from_zero() {
    let (mut task, mut adam) = (task(20, 500), adam(300));
    task.initial_weight_scale = 1.0;
    adam.learning_rate = 0.01;
    let theta0 = vec![0.0; 54];
    let trainable: Vec<usize> = (0..54).collect();
    for seed in 1..=3 {
        let start = std::time::Instant::now();
        let job = ComponentsJob {
            task: &task,
            seeds: ComponentsSeeds::from_seed(seed),
            adam: &adam,
            norm_cap: Some(3.0),
            initial_theta: &theta0,
            trainable: &trainable,
            held_out_tasks: 500,
            validation_tasks: 64,
        };
        let report = discover_components(&job, None, |_| ControlFlow::Continue(())).expect("job");
        let seconds = start.elapsed().as_secs_f64();
        let top = |terms: Vec<(String, f64)>| -> Vec<String> {
            terms[..4]
                .iter()
                .map(|(n, v)| format!("{n} {v:+.4}"))
                .collect()
        };
        println!(
            "seed {seed}: captured learned {:.4} (min {:.4}) oja+anti-Hebbian {:.4} (c {:.3}, c' {:.3}) sanger {:.4} (c {:.3}); correlation {:.3}/{:.3}/{:.3}; alignment {:?}; diverged {}; loss {:.4} → {:.4}; {seconds:.1} s",
            report.learned.captured_variance_fraction,
            report.learned.captured_variance_fraction_min,
            report.oja_antihebbian.captured_variance_fraction,
            report.oja_rate,
            report.antihebbian_rate,
            report.sanger.captured_variance_fraction,
            report.sanger_rate,
            report.learned.output_correlation,
            report.oja_antihebbian.output_correlation,
            report.sanger.output_correlation,
            report.learned.component_alignment,
            report.learned.diverged_fraction,
            report.outcome.loss_history[0],
            report.outcome.loss_history[report.outcome.loss_history.len() - 1],
        );
        println!(
            "  history {:?}",
            report
                .outcome
                .loss_history
                .iter()
                .step_by(20)
                .map(|v| format!("{v:.3}"))
                .collect::<Vec<_>>()
        );
        println!("  ff {:?}", top(report.ff_terms()));
        println!("  lateral {:?}", top(report.lateral_terms()));
        println!("  metrics {}", report.metrics());
        assert!(report.learned.captured_variance_fraction >= 0.95);
        assert!(report.lateral_dominant_anti_hebbian());
        assert!(report.ff_oja_like());
    }
}
