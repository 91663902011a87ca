//! Limits: a dataset too large for memory is refused before anything is allocated,
//! with the size it would need and the limit (see `plasticity::limits`).

mod common;

use common::{oja_data, oja_task};
use plasticity::limits::max_dataset_bytes;
use plasticity::task::{BehaviourTask, OjaTask};
use plasticity::Error;

/// The `TooLarge` error's fields.
fn too_large(error: Error) -> (String, String, String) {
    match error {
        Error::TooLarge {
            what,
            needed,
            limit,
        } => (what, needed, limit),
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

#[test]
fn a_neural_simulation_too_large_for_memory_is_refused_with_its_size() {
    // 1000 × 100 000 × 100 000 weights alone: 80 TB, more than any machine here
    let task = oja_task([100_000, 100_000, 1000, 50], 0.0, 0);
    let needed = task.bytes_needed().expect("fits in a u64");
    assert!(needed > max_dataset_bytes());
    assert_eq!(
        needed,
        8 * (1000 * 50 * 100_000
            + 1000 * 100_000 * 100_000
            + 1000 * 50 * 100_000
            + 2 * 100_000 * 100_000)
    );
    let error = task.simulate().expect_err("refused");
    let text = error.to_string();
    let (what, needed_text, limit) = too_large(error);
    assert_eq!(
        what,
        "simulating 1000 trajectories × 50 steps of a 100000 → 100000 layer"
    );
    assert_eq!(needed_text, format!("80.2 TB ({needed} bytes)"));
    assert!(limit.contains(&max_dataset_bytes().to_string()), "{limit}");
    assert!(text.contains("more than the limit of"), "{text}");

    // sizes that overflow a u64 are refused too
    let overflowing = OjaTask {
        n_pre: usize::MAX / 4,
        n_post: 1 << 20,
        ..task
    };
    assert_eq!(overflowing.bytes_needed(), None);
    let (_, needed_text, _) = too_large(overflowing.simulate().expect_err("refused"));
    assert_eq!(needed_text, "more than 2^64 bytes");
}

#[test]
fn a_behaviour_simulation_too_large_for_memory_is_refused_with_its_size() {
    let mut task = BehaviourTask::default();
    (task.n_in, task.n_hidden, task.sessions) = (1_000_000, 1_000_000, 100);
    let needed = task.bytes_needed(100).expect("fits in a u64");
    assert!(needed > max_dataset_bytes());
    let (what, needed_text, _) = too_large(task.simulate().expect_err("refused"));
    assert_eq!(
        what,
        "simulating 100 sessions of 240 trials with 1000000 → 1000000 neurons"
    );
    assert!(
        needed_text.ends_with(&format!("({needed} bytes)")),
        "{needed_text}"
    );
    // the shipped defaults are far below the limit
    let default = BehaviourTask::default();
    assert!(default.bytes_needed(default.sessions).expect("small") < 10 << 20);
    assert!(OjaTask::default().bytes_needed().expect("small") < 100 << 20);
}

/// The bytes a neural fit needs: the dataset's arrays and one gradient workspace per
/// thread, sized by the gradient strategy.
#[test]
fn a_neural_fit_counts_its_dataset_and_workspaces() {
    use plasticity::gradient::GradientStrategy;
    use plasticity::pipeline::neural::neural_fit_bytes;
    let dataset = oja_data([10, 20, 2, 400], 0.0, 0);
    let arrays = 8 * (2 * 400 * 10 + 2 * 20 * 10 + 2 * 400 * 20) as u64;
    let matrix = 8 * 200u64;
    // the full tape keeps every step: 400 + 1 checkpoint + 4
    assert_eq!(
        neural_fit_bytes(&dataset, GradientStrategy::FullTape, 2),
        Some(arrays + 2 * 405 * matrix)
    );
    // segments of 20 steps: 20 + 20 checkpoints + 4
    assert_eq!(
        neural_fit_bytes(&dataset, GradientStrategy::CheckpointEvery(20), 3),
        Some(arrays + 3 * 44 * matrix)
    );
    // forward mode: 27 tangents per synapse and two matrices, whatever the length
    assert_eq!(
        neural_fit_bytes(&dataset, GradientStrategy::Forward, 2),
        Some(arrays + 2 * 29 * matrix)
    );
}
