#![allow(clippy::needless_range_loop)]
//! The Gauss–Newton matrix is checked against the Hessian from central differences of
//! the exact gradient (where the residuals are zero the two are equal) and against an
//! independent Jacobian from dual numbers; the behaviour Fisher information against
//! dual numbers (it is an expected Hessian, never the Hessian of one data set); the
//! eigendecomposition against its definition; the analysis against closed forms.

use num_dual::Dual64;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use super::curvature::{add_outer_upper, symmetrise};
use super::*;
use crate::data::{BehaviourDataset, NeuralDataset};
use crate::gradient::network::single_layer::SingleLayer as NeuralCircuit;
use crate::gradient::network::{BehaviourEngine, NetworkWorkspace};
use crate::gradient::GradientStrategy;
use crate::objective::{NeuralObjective, Objective};
use crate::rule::{parse_expression, term_names, TaylorRule, Variables};
use crate::task::{BehaviourTask, OjaTask};

fn oja(noise_std: f64, seed: u64) -> NeuralDataset {
    OjaTask {
        n_pre: 4,
        n_post: 6,
        steps: 20,
        trajectories: 3,
        noise_std,
        recording_fraction: 0.7,
        seed,
        ..OjaTask::default()
    }
    .simulate()
    .expect("a small Oja dataset")
}

fn behaviour(seed: u64) -> BehaviourDataset {
    BehaviourTask {
        n_blocks: 2,
        trials_per_block: 15,
        sessions: 3,
        rule: "x*r - 0.05*w".into(),
        seed,
        ..BehaviourTask::default()
    }
    .simulate()
    .expect("a small behaviour dataset")
}

fn assert_matrix_close(label: &str, actual: &[f64], expected: &[f64], relative: f64, floor: f64) {
    assert_eq!(actual.len(), expected.len(), "{label}: lengths");
    let largest = expected.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for (k, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            (a - e).abs() <= relative * e.abs() + floor * largest,
            "{label}: entry {k}: {a} vs {e} (largest {largest})"
        );
    }
}

#[test]
fn gauss_newton_is_the_hessian_at_zero_residuals() {
    let dataset = oja(0.0, 3);
    let rule = TaylorRule::new(Variables::Xyw);
    let theta = parse_expression("x*y - y^2*w", Variables::Xyw).expect("Oja");
    // a subset, as a fit with a trainable mask has, in a scrambled order
    let parameters = vec![13, 4, 22, 5, 0, 17, 9];
    let curvature = neural_curvature(&dataset, &rule, &theta, &parameters).expect("curvature");
    assert!(
        curvature.loss < 1e-28,
        "noise-free data: loss {}",
        curvature.loss
    );
    assert!(curvature.information.is_none());
    let objective =
        NeuralObjective::new(&dataset, rule, GradientStrategy::Checkpointed).expect("objective");
    let items: Vec<usize> = (0..dataset.n_trajectories()).collect();
    let p = parameters.len();
    let mut hessian = vec![0.0; p * p];
    let h = 1e-4;
    for (b, &k) in parameters.iter().enumerate() {
        let gradient = |shift: f64| {
            let mut at = theta.clone();
            at[k] += shift;
            let mut g = vec![0.0; at.len()];
            objective.loss_and_gradient(&at, &items, &mut g);
            g
        };
        let (plus, minus) = (gradient(h), gradient(-h));
        for (a, &j) in parameters.iter().enumerate() {
            hessian[a * p + b] = (plus[j] - minus[j]) / (2.0 * h);
        }
    }
    assert_matrix_close(
        "Gauss-Newton vs Hessian",
        &curvature.loss_curvature,
        &hessian,
        1e-5,
        1e-9,
    );
    // and the report refuses to invent a noise variance of zero
    let names = term_names(Variables::Xyw);
    assert!(matches!(
        analyse(&curvature, &names, &theta),
        Err(Error::Numerical(_))
    ));
}

/// `∂y_{kti}/∂θ_j` of every recorded value, by dual numbers, one parameter at a time.
fn dual_jacobian(
    dataset: &NeuralDataset,
    rule: &TaylorRule,
    theta: &[f64],
    parameters: &[usize],
) -> Vec<Vec<f64>> {
    let circuit = NeuralCircuit::new(dataset.n_pre(), dataset.n_post());
    let n_pre = dataset.n_pre();
    let mut rows: Vec<Vec<f64>> = Vec::new();
    for (column, &j) in parameters.iter().enumerate() {
        let dual_theta = along(theta, j);
        let mut row = 0;
        for k in 0..dataset.n_trajectories() {
            let trajectory = dataset.trajectory(k);
            let mut weights: Vec<Dual64> = trajectory
                .initial_weights
                .iter()
                .map(|&w| Dual64::from(w))
                .collect();
            let mut post = vec![Dual64::from(0.0); dataset.n_post()];
            let mut scratch = vec![Dual64::from(0.0); circuit.scratch_len(rule)];
            for t in 0..trajectory.steps {
                let pre: Vec<Dual64> = trajectory.inputs[t * n_pre..(t + 1) * n_pre]
                    .iter()
                    .map(|&x| Dual64::from(x))
                    .collect();
                circuit.activity(&pre, &weights, &mut post);
                for &i in trajectory.recorded_neurons {
                    if column == 0 {
                        rows.push(vec![0.0; parameters.len()]);
                    }
                    rows[row][column] = post[i].eps;
                    row += 1;
                }
                circuit.plasticity(rule, &dual_theta, &pre, &post, &mut weights, &mut scratch);
            }
        }
    }
    rows
}

#[test]
fn gauss_newton_matches_a_dual_number_jacobian() {
    let dataset = oja(0.05, 11);
    let rule = TaylorRule::new(Variables::Xyw);
    let mut theta = parse_expression("x*y - y^2*w", Variables::Xyw).expect("Oja");
    // away from the generating rule, every term a little
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    theta
        .iter_mut()
        .for_each(|v| *v += 0.02 * (2.0 * rng.random::<f64>() - 1.0));
    let parameters: Vec<usize> = (0..27).step_by(2).collect();
    let curvature = neural_curvature(&dataset, &rule, &theta, &parameters).expect("curvature");
    let jacobian = dual_jacobian(&dataset, &rule, &theta, &parameters);
    let n = jacobian.len();
    assert_eq!(n, curvature.observations);
    let p = parameters.len();
    let mut expected = vec![0.0; p * p];
    for row in &jacobian {
        for a in 0..p {
            for b in 0..p {
                expected[a * p + b] += 2.0 * row[a] * row[b] / n as f64;
            }
        }
    }
    assert_matrix_close(
        "Gauss-Newton vs dual",
        &curvature.loss_curvature,
        &expected,
        1e-9,
        1e-14,
    );
    // the information is the same matrix on the likelihood scale n/(2σ̂²)
    let variance = curvature.residual_variance.expect("σ̂²");
    let information = curvature.information.as_ref().expect("information");
    let scaled: Vec<f64> = expected
        .iter()
        .map(|v| v * n as f64 / (2.0 * variance))
        .collect();
    assert_matrix_close("information", information, &scaled, 1e-9, 1e-14);
}

#[test]
fn behaviour_fisher_matches_dual_numbers() {
    let dataset = behaviour(2);
    let rule = TaylorRule::new(Variables::Xywr);
    let mut theta = parse_expression("x*r - 0.05*w", Variables::Xywr).expect("rule");
    theta[1] = 0.03; // y, so that the weights feel the hidden activity too
    let circuit = crate::data::behaviour::circuit_of(&dataset, None);
    let parameters: Vec<usize> = ["x*r", "w", "y", "1", "x*y*w*r", "r"]
        .iter()
        .map(|t| {
            crate::rule::Term::parse(t, Variables::Xywr)
                .expect("term")
                .index(Variables::Xywr)
                .expect("index")
        })
        .collect();
    let curvature = behaviour_curvature(
        &dataset,
        &dataset.inputs,
        &circuit,
        &rule,
        &theta,
        &parameters,
    )
    .expect("curvature");
    let p = parameters.len();
    let mut information = vec![0.0; p * p];
    let mut mean_fisher = vec![0.0; p * p];
    let mut workspace = NetworkWorkspace::<Dual64>::new();
    let engine = BehaviourEngine::new(&circuit, rule.into()).expect("engine");
    for k in 0..dataset.n_sessions() {
        let session = dataset.session(k);
        let converted = engine.trajectory(session).expect("conversion");
        // per presentation: the logit and its derivative along every parameter
        let n_pres = session.n_presentations();
        let mut logits = vec![0.0; n_pres];
        let mut tangents = vec![vec![0.0; p]; n_pres];
        for (column, &j) in parameters.iter().enumerate() {
            let dual_theta = along(&theta, j);
            engine.replay(&dual_theta, &converted, &mut workspace, |q, _, h, _| {
                let logit = h.iter().fold(Dual64::from(0.0), |s, &v| s + v) * circuit.readout;
                logits[q] = logit.re;
                tangents[q][column] = logit.eps;
            });
        }
        for (z, dz) in logits.iter().zip(&tangents) {
            let s = 1.0 / (1.0 + (-z).exp());
            for a in 0..p {
                for b in 0..p {
                    let v = s * (1.0 - s) * dz[a] * dz[b];
                    information[a * p + b] += v;
                    mean_fisher[a * p + b] += v / n_pres as f64 / dataset.n_sessions() as f64;
                }
            }
        }
    }
    let got = curvature.information.as_ref().expect("information");
    assert_matrix_close("Fisher vs dual", got, &information, 1e-9, 1e-14);
    assert_matrix_close(
        "mean Fisher vs dual",
        &curvature.loss_curvature,
        &mean_fisher,
        1e-9,
        1e-14,
    );
    let total: usize = dataset.n_presentations.iter().sum();
    assert_eq!(curvature.observations, total);
}

fn random_symmetric(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut a = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let v = 2.0 * rng.random::<f64>() - 1.0;
            a[i * n + j] = v;
            a[j * n + i] = v;
        }
    }
    a
}

fn check_eigen(label: &str, a: &[f64], n: usize) {
    let (values, vectors) = symmetric_eigen(a, n).expect("eigen");
    let norm = a.iter().map(|v| v * v).sum::<f64>().sqrt();
    assert!(
        values.windows(2).all(|w| w[0] <= w[1]),
        "{label}: ascending {values:?}"
    );
    for (k, (lambda, v)) in values.iter().zip(&vectors).enumerate() {
        for i in 0..n {
            let av: f64 = (0..n).map(|j| a[i * n + j] * v[j]).sum();
            assert!(
                (av - lambda * v[i]).abs() <= 1e-12 * norm,
                "{label}: A v ≠ λ v for {k}"
            );
        }
        for (l, u) in vectors.iter().enumerate() {
            let dot: f64 = v.iter().zip(u).map(|(x, y)| x * y).sum();
            let expected = if k == l { 1.0 } else { 0.0 };
            assert!((dot - expected).abs() < 1e-12, "{label}: v{k}·v{l} = {dot}");
        }
    }
}

#[test]
fn eigendecomposition_is_ascending_orthonormal_and_exact() {
    for (n, seed) in [(1, 0), (2, 1), (7, 2), (27, 3)] {
        check_eigen(&format!("random {n}"), &random_symmetric(n, seed), n);
    }
    // a graded Gram matrix with a condition number of about 1e12
    let n = 6;
    let mut a = vec![0.0; n * n];
    let (_, q) = symmetric_eigen(&random_symmetric(n, 9), n).expect("a basis");
    for (k, v) in q.iter().enumerate() {
        add_outer_upper(&mut a, v, 10f64.powi(-2 * k as i32));
    }
    symmetrise(&mut a, n);
    check_eigen("graded", &a, n);
    let (values, _) = symmetric_eigen(&a, n).expect("eigen");
    assert!((values[0] - 1e-10).abs() < 1e-15, "{values:?}");
    // a diagonal matrix in its own order, and bad input
    let (values, vectors) = symmetric_eigen(&[3.0, 0.0, 0.0, -1.0], 2).expect("eigen");
    assert_eq!(values, vec![-1.0, 3.0]);
    assert_eq!(vectors, vec![vec![0.0, 1.0], vec![1.0, 0.0]]);
    assert!(symmetric_eigen(&[1.0, 2.0, 3.0], 2).is_err());
    assert!(symmetric_eigen(&[f64::NAN], 1).is_err());
}

fn hand_made(information: Vec<f64>, parameters: Vec<usize>) -> Curvature {
    Curvature {
        loss_curvature: information.clone(),
        information: Some(information),
        parameters,
        loss: 1.0,
        observations: 100,
        residual_variance: None,
        likelihood_scale: 100.0,
        method: "by hand".into(),
    }
}

#[test]
fn standard_errors_and_correlations_have_their_closed_form() {
    // I = [[2, 1], [1, 2]]: covariance [[2, −1], [−1, 2]]/3, correlation −1/2
    let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    let theta = [0.5, 7.0, -1.0];
    let report = analyse(
        &hand_made(vec![2.0, 1.0, 1.0, 2.0], vec![0, 2]),
        &names,
        &theta,
    )
    .expect("report");
    assert_eq!(report.terms, vec!["a", "c"]);
    assert!((report.eigenvalues[0] - 1.0).abs() < 1e-14);
    assert!((report.eigenvalues[1] - 3.0).abs() < 1e-14);
    assert!((report.condition_number.expect("finite") - 3.0).abs() < 1e-13);
    let se = (2.0f64 / 3.0).sqrt();
    for (k, estimate) in [0.5, -1.0].into_iter().enumerate() {
        assert!((report.standard_errors[k].expect("se") - se).abs() < 1e-14);
        let (low, high) = report.intervals[k].expect("interval");
        assert!((low - (estimate - Z_95 * se)).abs() < 1e-13);
        assert!((high - (estimate + Z_95 * se)).abs() < 1e-13);
    }
    assert!((report.correlations[0][1].expect("correlation") + 0.5).abs() < 1e-14);
    // the least-determined direction is (a − c)/√2
    let worst = &report.directions[0];
    assert!((worst.loadings[0] - 0.5f64.sqrt()).abs() < 1e-14);
    assert!((worst.loadings[1] + 0.5f64.sqrt()).abs() < 1e-14);
    assert!(
        report.sentences[0].starts_with("a − c "),
        "{}",
        report.sentences[0]
    );
}

#[test]
fn singular_directions_are_cut_and_named() {
    // a and b enter only as a + b: a − b is not determined; c is
    let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    let information = vec![1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 4.0];
    let report = analyse(
        &hand_made(information, vec![0, 1, 2]),
        &names,
        &[0.2, 0.3, 1.0],
    )
    .expect("report");
    assert!(report.directions[0].cut);
    assert!(report.directions[1..].iter().all(|d| !d.cut));
    assert_eq!(report.condition_number, None);
    assert_eq!(report.standard_errors[0], None);
    assert_eq!(report.standard_errors[1], None);
    assert!((report.standard_errors[2].expect("c") - 0.5).abs() < 1e-14);
    assert!(
        report.sentences[0].starts_with("a − b is not determined by these data"),
        "{}",
        report.sentences[0]
    );
    let json = report.to_json();
    assert_eq!(json["cut_directions"], serde_json::json!([0]));
    assert_eq!(json["intervals"]["a"], serde_json::json!([null, null]));
}

#[test]
fn combinations_read_like_rules() {
    let terms: Vec<String> = ["x", "x*y", "y^2", "w"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(
        combination(&[-0.3, 0.6, 0.01, -0.05], &terms),
        "x*y − 0.50·x"
    );
    assert_eq!(
        combination(&[0.5, -0.5, 0.4, 0.0], &terms),
        "x − x*y + 0.80·y^2"
    );
    // a direction has no sign: the largest loading reads as +1
    assert_eq!(combination(&[0.0, 0.0, -1.0, 0.0], &terms), "y^2");
}

#[test]
fn curvature_is_bit_identical_on_one_and_two_threads() {
    let neural = OjaTask {
        n_pre: 5,
        n_post: 8,
        steps: 15,
        trajectories: 5,
        noise_std: 0.05,
        seed: 4,
        ..OjaTask::default()
    }
    .simulate()
    .expect("data");
    let choices = behaviour(6);
    let oja = parse_expression("x*y - y^2*w", Variables::Xyw).expect("Oja");
    let reward = parse_expression("x*r - 0.05*w", Variables::Xywr).expect("rule");
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        pool.install(|| {
            let n = neural_curvature(
                &neural,
                &TaylorRule::new(Variables::Xyw),
                &oja,
                &(0..27).collect::<Vec<_>>(),
            )
            .expect("neural");
            let b = behaviour_curvature(
                &choices,
                &choices.inputs,
                &crate::data::behaviour::circuit_of(&choices, Some(10.0)),
                &TaylorRule::new(Variables::Xywr),
                &reward,
                &[0, 1, 9, 27, 28],
            )
            .expect("behaviour");
            (n, b)
        })
    };
    let (one, two) = (run(1), run(2));
    let bits = |c: &Curvature| -> Vec<u64> {
        c.loss_curvature
            .iter()
            .chain(c.information.iter().flatten())
            .map(|v| v.to_bits())
            .collect()
    };
    assert_eq!(bits(&one.0), bits(&two.0));
    assert_eq!(bits(&one.1), bits(&two.1));
    let report = analyse(&one.0, &term_names(Variables::Xyw), &oja).expect("report");
    for d in &report.directions {
        let norm: f64 = d.loadings.iter().map(|v| v * v).sum();
        assert!((norm - 1.0).abs() < 1e-12);
    }
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let dataset = oja(0.05, 1);
    let rule = TaylorRule::new(Variables::Xyw);
    let theta = vec![0.0; 27];
    assert!(neural_curvature(&dataset, &rule, &theta, &[]).is_err());
    assert!(neural_curvature(&dataset, &rule, &theta, &[27]).is_err());
    assert!(neural_curvature(&dataset, &rule, &theta, &[3, 3]).is_err());
    assert!(neural_curvature(&dataset, &rule, &theta[..5], &[1]).is_err());
    let mut exploding = theta.clone();
    exploding[parse_index("w^2")] = 50.0;
    exploding[parse_index("1")] = 5.0;
    assert!(neural_curvature(&dataset, &rule, &exploding, &[0, 1]).is_err());
}

fn parse_index(term: &str) -> usize {
    crate::rule::Term::parse(term, Variables::Xyw)
        .expect("term")
        .index(Variables::Xyw)
        .expect("index")
}

/// `theta` as dual numbers whose derivative is along parameter `j`.
fn along(theta: &[f64], j: usize) -> Vec<Dual64> {
    theta
        .iter()
        .enumerate()
        .map(|(q, &v)| Dual64::new(v, if q == j { 1.0 } else { 0.0 }))
        .collect()
}
