//! The Fisher-scoring system of the choices against the adjoint gradient (1e-9
//! relative), the loss (bit for bit) and the Fisher matrix `identify` computes, with
//! the weight bound engaged and sessions of different lengths.

use super::*;
use crate::analysis::identifiability::behaviour_curvature;
use crate::circuit::BehaviourCircuit;
use crate::data::BehaviourDataset;
use crate::rule::{parse_expression, TaylorRule, Term, Variables};
use crate::task::BehaviourTask;

fn dataset() -> BehaviourDataset {
    let dataset = BehaviourTask {
        n_blocks: 2,
        trials_per_block: 12,
        sessions: 4,
        rule: "x*r - 0.05*w".into(),
        seed: 3,
        ..BehaviourTask::default()
    }
    .simulate()
    .expect("a small behaviour dataset");
    let lengths = &dataset.n_presentations;
    assert!(lengths.iter().any(|&n| n != lengths[0]), "{lengths:?}");
    dataset
}

fn index(term: &str) -> usize {
    Term::parse(term, Variables::Xywr)
        .expect("term")
        .index(Variables::Xywr)
        .expect("index")
}

fn assert_close(label: &str, actual: &[f64], expected: &[f64], relative: f64) {
    assert_eq!(actual.len(), expected.len(), "{label}: lengths");
    let largest = expected.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(largest > 0.0, "{label}: expected is zero");
    for (k, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            (a - e).abs() <= relative * largest,
            "{label}: entry {k}: {a} vs {e} (largest {largest})"
        );
    }
}

/// The system at a θ whose weights reach the bound, over a subset of the terms.
fn check(bound: Option<f64>) -> usize {
    let dataset = dataset();
    let rule = TaylorRule::new(Variables::Xywr);
    let mut theta = parse_expression("1.5*x*r - 0.05*w + 0.2", Variables::Xywr).expect("rule");
    theta[index("y")] = 0.03;
    let active: Vec<usize> = ["1", "x", "r", "w", "x*r", "y", "x*y*w*r"]
        .iter()
        .map(|t| index(t))
        .collect();
    let circuit =
        BehaviourCircuit::new(dataset.n_in(), dataset.n_hidden()).with_weight_bound(bound);
    let objective = BehaviourObjective::new(
        &dataset,
        dataset.inputs.clone(),
        circuit,
        rule,
        GradientStrategy::Checkpointed,
    )
    .expect("objective")
    .with_active_parameters(active.clone());
    let items: Vec<usize> = (0..dataset.n_sessions()).collect();
    let system = objective.fisher_scoring(&theta, &items).expect("system");
    // J̃ᵀr̃ is the adjoint gradient of the cross-entropy
    let mut gradient = vec![0.0; theta.len()];
    let loss = objective.loss_and_gradient(&theta, &items, &mut gradient);
    let adjoint: Vec<f64> = active.iter().map(|&k| gradient[k]).collect();
    assert_close("J̃ᵀr̃ vs adjoint", &system.gradient, &adjoint, 1e-9);
    assert!(
        (system.sse - loss).abs() <= 1e-12 * loss,
        "{} vs {loss}",
        system.sse
    );
    // the loss steps are kept on is the one the system reports, bit for bit
    assert_eq!(system.sse, objective.loss(&theta, &items));
    let presentations: usize = dataset.n_presentations.iter().sum();
    assert_eq!(system.residuals, presentations);
    // J̃ᵀJ̃ is the Fisher matrix of identify (of the mean loss: `loss_curvature`)
    let curvature =
        behaviour_curvature(&dataset, &dataset.inputs, &circuit, &rule, &theta, &active)
            .expect("curvature");
    assert_close(
        "J̃ᵀJ̃ vs identify",
        &system.normal,
        &curvature.loss_curvature,
        1e-12,
    );
    assert_eq!(curvature.loss, system.sse);
    objective.clipped()
}

#[test]
fn fisher_scoring_system_is_the_score_and_the_information() {
    assert_eq!(check(None), 0);
}

#[test]
fn fisher_scoring_system_differentiates_the_weight_bound() {
    assert!(check(Some(0.12)) > 0, "the bound never engaged");
}
