//! One trajectory of the neural circuit at the paper's scale (100→1000, T = 50):
//! the forward loss alone, and the loss with its checkpointed-adjoint gradient, for
//! the 27-term Taylor rule and the MLP rule, on the engine's own choice, its fast path
//! and its general network step.

use criterion::{criterion_group, criterion_main, Criterion};
use plasticity::gradient::{EnginePath, GradientStrategy, NeuralEngine, NeuralWorkspace};
use plasticity::rule::{parse_expression, MlpRule, PlasticityRule, Rule, Variables};
use plasticity::task::OjaTask;

fn bench_trajectory(c: &mut Criterion) {
    let dataset = OjaTask {
        trajectories: 1,
        ..OjaTask::default()
    }
    .simulate()
    .expect("simulated dataset");
    let trajectory = dataset.trajectory(0);
    let taylor = Rule::taylor(Variables::Xyw);
    let oja = parse_expression("x*y - y^2*w", Variables::Xyw).expect("expression");
    // a rule near Oja with every term non-zero
    let theta: Vec<f64> = oja
        .iter()
        .enumerate()
        .map(|(k, v)| v + 1e-3 * (k as f64 - 13.0) / 13.0)
        .collect();
    let mlp = Rule::Mlp(MlpRule::new(Variables::Xyw, &[10]).expect("sizes"));
    let mlp_theta: Vec<f64> = (0..mlp.n_parameters())
        .map(|k| 0.01 * ((k * 7919) % 13) as f64 / 13.0 - 0.005)
        .collect();

    let mut group = c.benchmark_group("oja_100x1000_T50");
    group.sample_size(20);
    for (name, rule, theta) in [("taylor27", &taylor, &theta), ("mlp10", &mlp, &mlp_theta)] {
        for (path, suffix) in [
            (EnginePath::Auto, ""),
            (EnginePath::FastPath, "_fast_path"),
            (EnginePath::General, "_general"),
        ] {
            let engine = NeuralEngine::for_dataset(&dataset, rule.clone())
                .map(|engine| engine.with_path(path))
                .expect("engine");
            let mut workspace = NeuralWorkspace::new();
            group.bench_function(format!("{name}/forward{suffix}"), |b| {
                b.iter(|| engine.sse(theta, trajectory, &mut workspace))
            });
            let mut gradient = vec![0.0; theta.len()];
            group.bench_function(format!("{name}/gradient{suffix}"), |b| {
                b.iter(|| {
                    engine.sse_and_gradient(
                        theta,
                        trajectory,
                        GradientStrategy::Checkpointed,
                        &mut workspace,
                        &mut gradient,
                    )
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_trajectory);
criterion_main!(benches);
