use super::super::assert_gradient_matches;
use super::*;
use crate::objective::Objective;
use crate::rule::{TaylorRule, Term};

fn small_task(n_steps: usize) -> ComponentsTask {
    ComponentsTask {
        n_inputs: 5,
        n_components: 3,
        n_steps,
        learning_rate: 0.02,
        lateral_learning_rate: 0.02,
        initial_weight_scale: 0.5,
        leading_eigenvalues: [2.0, 5.0],
        minor_eigenvalue_max: 0.5,
    }
}

fn index(name: &str) -> usize {
    Term::parse(name, Variables::Xyw)
        .expect("test set-up")
        .index(Variables::Xyw)
        .expect("test set-up")
}

/// Oja feed-forward `c (x y − y² w)` and anti-Hebbian lateral `−c' x y`.
fn oja_antihebbian(c: f64, lateral: f64) -> Vec<f64> {
    let mut theta = vec![0.0; 54];
    theta[index("x*y")] = c;
    theta[index("y^2*w")] = -c;
    theta[27 + index("x*y")] = -lateral;
    theta
}

/// A random θ near Oja + anti-Hebbian with every term present.
fn random_theta(seed: u64) -> Vec<f64> {
    let mut rng = task_rng(seed, 99);
    let mut theta = oja_antihebbian(1.0, 1.0);
    for v in theta.iter_mut() {
        *v += 0.05 * (2.0 * rng.random::<f64>() - 1.0);
    }
    theta
}

fn check_gradient(objective: &ComponentsObjective<TaylorRule>, theta: &[f64]) {
    let mut gradient = vec![0.0; 54];
    let loss = objective.task_loss_and_gradient(theta, 3, &mut gradient);
    assert!((loss - objective.task_loss(theta, 3)).abs() < 1e-13);
    assert_gradient_matches(
        theta,
        &gradient,
        |t| objective.task_loss(t, 3),
        |t| objective.task_loss(t, 3),
        true,
    );
}

#[test]
fn gradient_matches_dual_numbers_and_finite_differences() {
    let rule = TaylorRule::new(Variables::Xyw);
    for seed in [1, 2] {
        let objective =
            ComponentsObjective::new(small_task(29), rule, seed, None).expect("test set-up");
        check_gradient(&objective, &random_theta(seed));
    }
}

#[test]
fn gradient_through_the_row_cap_matches() {
    // Hebbian feed-forward and lateral growth: the cap acts on both.
    let rule = TaylorRule::new(Variables::Xyw);
    let mut theta = random_theta(4);
    theta[index("y^2*w")] = 0.0;
    theta[27 + index("x*y")] = 1.0;
    let capped = ComponentsObjective::new(small_task(29), rule, 4, Some(0.9)).expect("test set-up");
    let free = ComponentsObjective::new(small_task(29), rule, 4, None).expect("test set-up");
    let (a, b) = (free.task_loss(&theta, 3), capped.task_loss(&theta, 3));
    let differ = !a.is_finite() || (a - b).abs() > 1e-3;
    assert!(differ, "the cap must act: {a} {b}");
    check_gradient(&capped, &theta);
}

#[test]
fn batch_gradient_is_the_mean_and_thread_count_independent() {
    let rule = TaylorRule::new(Variables::Xyw);
    let objective = ComponentsObjective::new(small_task(20), rule, 7, None).expect("test set-up");
    let theta = random_theta(7);
    let items = [0, 5, 9];
    let mut batch = vec![0.0; 54];
    let loss = objective.loss_and_gradient(&theta, &items, &mut batch);
    let single = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("test set-up");
    let mut again = vec![0.0; 54];
    let loss1 = single.install(|| objective.loss_and_gradient(&theta, &items, &mut again));
    assert_eq!(loss.to_bits(), loss1.to_bits());
    assert_eq!(batch, again);
}

#[test]
fn oja_antihebbian_and_sanger_find_the_subspace_and_zero_does_not() {
    let task = ComponentsTask {
        n_inputs: 20,
        n_components: 3,
        n_steps: 1000,
        learning_rate: 0.02,
        lateral_learning_rate: 0.02,
        initial_weight_scale: 0.1,
        leading_eigenvalues: [2.0, 5.0],
        minor_eigenvalue_max: 0.5,
    };
    let objective = ComponentsObjective::new(task, TaylorRule::new(Variables::Xyw), 1, None)
        .expect("test set-up");
    let network = objective.evaluate(&oja_antihebbian(0.5, 1.0), 11, 20);
    assert!(network.captured_variance_fraction > 0.95, "{network:?}");
    assert!(network.output_correlation < 0.2, "{network:?}");
    assert!((network.row_norm_median - 1.0).abs() < 0.1, "{network:?}");
    assert_eq!(network.diverged_fraction, 0.0);
    let sanger = objective.evaluate_sanger(0.5, 11, 20);
    assert!(sanger.captured_variance_fraction > 0.95, "{sanger:?}");
    let zero = objective.evaluate(&[0.0; 54], 11, 20);
    assert!(zero.captured_variance_fraction < 0.7, "{zero:?}");
    // Without the lateral rule the outputs collapse onto one component.
    let alone = objective.evaluate(&oja_antihebbian(0.5, 0.0), 11, 20);
    assert!(alone.output_correlation > 0.9, "{alone:?}");
}

#[test]
fn names_and_bad_settings() {
    let names = coefficient_names(Variables::Xyw);
    assert_eq!(names.len(), 54);
    assert_eq!(names[index("x*y")], "ff.x*y");
    assert_eq!(names[27 + index("y^2*w")], "lateral.y^2*w");
    let rule = TaylorRule::new(Variables::Xyw);
    let refused = |edit: fn(&mut ComponentsTask), key: &str| {
        let mut task = small_task(10);
        edit(&mut task);
        let error = ComponentsObjective::new(task, rule, 1, None)
            .err()
            .expect("refused")
            .to_string();
        assert!(error.contains(key), "{error}");
    };
    refused(|t| t.n_components = 5, "task.components");
    refused(|t| t.n_components = 0, "task.components");
    refused(|t| t.n_steps = 0, "task.steps");
    refused(
        |t| t.lateral_learning_rate = -1.0,
        "task.lateral_learning_rate",
    );
    refused(
        |t| t.leading_eigenvalues = [0.4, 5.0],
        "task.leading_eigenvalues",
    );
    refused(
        |t| t.leading_eigenvalues = [3.0, 2.0],
        "task.leading_eigenvalues",
    );
    refused(
        |t| t.minor_eigenvalue_max = f64::NAN,
        "task.minor_eigenvalue_max",
    );
    let error = ComponentsObjective::new(small_task(10), rule, 1, Some(0.0))
        .err()
        .expect("refused")
        .to_string();
    assert!(error.contains("meta.norm_cap"), "{error}");
    let toml_task: ComponentsTask = toml::from_str(
        "inputs = 20\ncomponents = 3\nsteps = 500\nlearning_rate = 0.02\n\
         lateral_learning_rate = 0.02\ninitial_weight_scale = 0.1\n\
         leading_eigenvalues = [2.0, 5.0]\nminor_eigenvalue_max = 0.5\n",
    )
    .expect("the [task] keys");
    assert_eq!(toml_task.n_components, 3);
}

#[test]
fn covariances_have_the_stated_spectrum() {
    let task = small_task(10);
    let instance = task.instance(3, 4);
    let l: Vec<f64> = instance
        .covariance
        .sqrt_eigenvalues
        .iter()
        .map(|s| s * s)
        .collect();
    assert!(l[..3].iter().all(|v| (2.0..=5.0).contains(v)), "{l:?}");
    assert!(l[3..].iter().all(|v| (0.0..=0.5).contains(v)), "{l:?}");
    assert!(l.windows(2).all(|w| w[0] >= w[1]));
    assert!((instance.optimum - l[..3].iter().sum::<f64>()).abs() < 1e-12);
    // C v_1 = λ_1 v_1.
    let (n, q, c) = (5, &instance.covariance.eigenvectors, &instance.matrix);
    for a in 0..n {
        let cv: f64 = (0..n).map(|b| c[a * n + b] * q[b * n]).sum();
        assert!((cv - l[0] * q[a * n]).abs() < 1e-12);
    }
}
