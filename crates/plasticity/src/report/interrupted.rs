//! The main results file of a run that was interrupted: what stopped, how far it got
//! and how to continue.

use serde::Serialize;

/// `results.json` (or the command's main JSON file) of an interrupted run, in this key
/// order: `stop_reason` (`interrupted`), `interrupted` (what stopped), `units_done`,
/// `units`, `checkpoint` (where the work done is kept), `resume_with` (the command that
/// continues it) and `version`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InterruptedRun {
    stop_reason: &'static str,
    interrupted: String,
    units_done: usize,
    units: usize,
    checkpoint: String,
    resume_with: String,
    version: &'static str,
}

impl InterruptedRun {
    /// The record of `what` stopped after `done` of `total` units, its work kept at
    /// `checkpoint`, continued by `resume_with`.
    pub fn new(
        what: &str,
        (done, total): (usize, usize),
        checkpoint: &str,
        resume_with: &str,
    ) -> Self {
        InterruptedRun {
            stop_reason: "interrupted",
            interrupted: what.to_string(),
            units_done: done,
            units: total,
            checkpoint: checkpoint.to_string(),
            resume_with: resume_with.to_string(),
            version: crate::VERSION,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_keeps_its_keys_in_order() {
        let record =
            InterruptedRun::new("the fits", (3, 10), "out/journal", "plasticity x --resume");
        let text = serde_json::to_string(&record).expect("serialises");
        let keys: Vec<usize> = [
            "stop_reason",
            "interrupted",
            "units_done",
            "units",
            "checkpoint",
            "resume_with",
            "version",
        ]
        .iter()
        .map(|key| text.find(&format!("\"{key}\"")).expect(key))
        .collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{text}");
        assert!(text.contains("\"units_done\":3") && text.contains("\"interrupted\":\"the fits\""));
    }
}
