//! Signatures of fly recordings whose rejections were not recorded faithfully
//! (`docs/flies.md`).
//!
//! The public conversion of the Y-arena experiment (the 18 files of
//! `data/flies`, see [`crate::data::FLY_DATA_SOURCE`]) reconstructed rejections
//! (`Y = 0`) only for the first block of [`FLY_BLOCK_TRIALS`] trials; after it every
//! presentation is an accept, and flies whose first block did not match are accept-only.
//! Fits of such files mostly learn where the labelling stops. [`check_fly_recordings`]
//! finds that signature in loaded recordings and returns structured warnings; it prints
//! nothing (the command-line tool does).
//!
//! Trials are counted from 0, as in [`FlyRecording::trial_of_presentation`]: a trial is a
//! run of presentations that ends with an accept, so the rejections in front of the
//! `k`-th accept belong to trial `k − 1`. The converter's leftover first-block entries
//! pile up in front of the first accept of the second block, that is in trial
//! `block_trials` (trial 81 counted from 1 with blocks of 80); that one trial is therefore
//! counted apart ([`FlyRejectionCounts::rejections_in_boundary_trial`]) and is not taken as evidence of
//! rejections after the first block.

use serde::{Deserialize, Serialize};

use crate::data::FlyRecording;
use crate::{Error, Result};

/// Trials per block in the Y-arena experiment of Rajagopalan et al. (PNAS 2023): three
/// blocks of 80 rewarded-or-not trials. The default `block_trials` of
/// [`check_fly_recordings`].
pub const FLY_BLOCK_TRIALS: usize = 80;

/// Where one fly's rejections fall relative to the end of the first block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlyRejectionCounts {
    /// The fly's name ([`FlyRecording::name`]).
    pub fly: String,
    /// Trials in the first block (the `block_trials` the counts were made with).
    pub block_trials: usize,
    /// Trials (accepts) of the recording.
    pub trials: usize,
    /// Presentations of the recording.
    pub presentations: usize,
    /// All rejections.
    pub rejections: usize,
    /// Rejections in trials `0 .. block_trials` (the first block).
    pub rejections_in_first_block: usize,
    /// Rejections in trial `block_trials` (the first trial of the second block, where a
    /// converter's leftover first-block entries land).
    pub rejections_in_boundary_trial: usize,
    /// Rejections in trials after `block_trials` (the rest of the session).
    pub rejections_after_boundary_trial: usize,
    /// Trials after `block_trials` (the trials in which
    /// `rejections_after_boundary_trial` are counted).
    pub trials_after_boundary_trial: usize,
    /// 0-based trial of the last rejection, if the fly ever rejected.
    pub last_trial_with_a_rejection: Option<usize>,
}

impl FlyRejectionCounts {
    /// The counts of one recording, with a first block of `block_trials` trials. The
    /// recording must satisfy the invariants of [`FlyRecording`] (the loaders guarantee
    /// them; hand-built recordings are checked with [`FlyRecording::validate`]).
    pub fn of(recording: &FlyRecording, block_trials: usize) -> Result<Self> {
        check_block_trials(block_trials)?;
        recording.validate()?;
        let mut counts = FlyRejectionCounts {
            fly: recording.name.clone(),
            block_trials,
            trials: recording.n_trials(),
            presentations: recording.n_presentations(),
            rejections: 0,
            rejections_in_first_block: 0,
            rejections_in_boundary_trial: 0,
            rejections_after_boundary_trial: 0,
            trials_after_boundary_trial: recording.n_trials().saturating_sub(block_trials + 1),
            last_trial_with_a_rejection: None,
        };
        for (&decision, &trial) in recording
            .decisions
            .iter()
            .zip(&recording.trial_of_presentation)
        {
            if decision != 0 {
                continue;
            }
            // validate() guarantees 0 ≤ trial < n_trials
            let trial = usize::try_from(trial).map_err(|_| {
                Error::data(
                    &recording.name,
                    "trial_of_presentation",
                    format!("expected a trial ≥ 0, found {trial}"),
                )
            })?;
            counts.rejections += 1;
            match trial.cmp(&block_trials) {
                std::cmp::Ordering::Less => counts.rejections_in_first_block += 1,
                std::cmp::Ordering::Equal => counts.rejections_in_boundary_trial += 1,
                std::cmp::Ordering::Greater => counts.rejections_after_boundary_trial += 1,
            }
            counts.last_trial_with_a_rejection = Some(
                counts
                    .last_trial_with_a_rejection
                    .map_or(trial, |t| t.max(trial)),
            );
        }
        Ok(counts)
    }
}

/// Which signature a warning reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlyDataWarningKind {
    /// The fly rejects in the first block (or in the boundary trial after it) but never
    /// in the trials after the boundary trial, though it has such trials.
    NoRejectionAfterFirstBlock,
    /// The fly never rejects an odour.
    NoRejection,
}

impl FlyDataWarningKind {
    /// The kind as written in JSON (`no_rejection_after_first_block`, `no_rejection`).
    pub fn as_str(self) -> &'static str {
        match self {
            FlyDataWarningKind::NoRejectionAfterFirstBlock => "no_rejection_after_first_block",
            FlyDataWarningKind::NoRejection => "no_rejection",
        }
    }
}

/// One fly's warning: its kind and the counts it rests on (in JSON one flat object:
/// `kind` next to the fields of [`FlyRejectionCounts`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlyDataWarning {
    /// Which signature.
    pub kind: FlyDataWarningKind,
    /// The fly's counts.
    #[serde(flatten)]
    pub counts: FlyRejectionCounts,
}

/// The result of [`check_fly_recordings`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlyDataCheck {
    /// Every fly's counts, in the order of the recordings.
    pub counts: Vec<FlyRejectionCounts>,
    /// The flies with a signature, in the order of the recordings (at most one warning
    /// per fly); empty when the data look clean.
    pub warnings: Vec<FlyDataWarning>,
    /// One line about the whole dataset when there is any warning, else `None`.
    pub summary: Option<String>,
}

fn check_block_trials(block_trials: usize) -> Result<()> {
    if block_trials == 0 {
        return Err(Error::config(
            "block_trials",
            "the first block must have at least 1 trial",
        ));
    }
    Ok(())
}

/// Looks for the signature of rejections labelled in the first block only, fly by fly,
/// with a first block of `block_trials` trials ([`FLY_BLOCK_TRIALS`] in the experiment).
///
/// A fly gets
/// - [`FlyDataWarningKind::NoRejection`] when it has no rejection at all;
/// - [`FlyDataWarningKind::NoRejectionAfterFirstBlock`] when it has rejections in trials
///   `0 ..= block_trials` (the first block and the boundary trial after it, see the
///   module's documentation) and at least one trial after `block_trials`, but no
///   rejection in any trial after `block_trials`.
///
/// A fly with too few trials to show either (all within the first block and the
/// boundary trial, with rejections) gets no warning. The summary counts the flies of
/// each kind and names them. Errors: `block_trials` = 0, or a recording that breaks the
/// invariants of [`FlyRecording`] (the error names it).
pub fn check_fly_recordings(
    recordings: &[FlyRecording],
    block_trials: usize,
) -> Result<FlyDataCheck> {
    check_block_trials(block_trials)?;
    let counts = recordings
        .iter()
        .map(|r| FlyRejectionCounts::of(r, block_trials))
        .collect::<Result<Vec<_>>>()?;
    let warnings: Vec<FlyDataWarning> = counts
        .iter()
        .filter_map(|c| {
            let kind = if c.rejections == 0 {
                FlyDataWarningKind::NoRejection
            } else if c.rejections_after_boundary_trial == 0 && c.trials_after_boundary_trial > 0 {
                FlyDataWarningKind::NoRejectionAfterFirstBlock
            } else {
                return None;
            };
            Some(FlyDataWarning {
                kind,
                counts: c.clone(),
            })
        })
        .collect();
    let summary = summary(&warnings, counts.len(), block_trials);
    Ok(FlyDataCheck {
        counts,
        warnings,
        summary,
    })
}

/// The dataset-level line, or `None` without warnings.
fn summary(warnings: &[FlyDataWarning], flies: usize, block_trials: usize) -> Option<String> {
    if warnings.is_empty() {
        return None;
    }
    let names = |kind: FlyDataWarningKind| -> Vec<&str> {
        warnings
            .iter()
            .filter(|w| w.kind == kind)
            .map(|w| w.counts.fly.as_str())
            .collect()
    };
    let after = names(FlyDataWarningKind::NoRejectionAfterFirstBlock);
    let none = names(FlyDataWarningKind::NoRejection);
    let mut parts = Vec::new();
    if !after.is_empty() {
        parts.push(format!(
            "{} of {flies} flies reject only in the first {block_trials} trials and trial {} \
             ({})",
            after.len(),
            block_trials + 1,
            after.join(", ")
        ));
    }
    if !none.is_empty() {
        parts.push(format!(
            "{} of {flies} never reject ({})",
            none.len(),
            none.join(", ")
        ));
    }
    Some(format!(
        "{}: rejections (Y = 0) look labelled in the first block only, as in the public \
         conversion of the Y-arena data; fits of these files learn where the labelling stops",
        parts.join("; ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A recording from `(odour, decision)` per presentation, trials numbered by the
    /// accepts, reward 1 on every other trial.
    fn recording(name: &str, presentations: &[(i64, i64)]) -> FlyRecording {
        let mut trial = 0;
        let mut trial_of_presentation = Vec::new();
        let mut rewards = Vec::new();
        for &(_, decision) in presentations {
            trial_of_presentation.push(trial);
            if decision == 1 {
                rewards.push((trial % 2) as f64);
                trial += 1;
            }
        }
        let fly = FlyRecording {
            odours: presentations.iter().map(|p| p.0).collect(),
            decisions: presentations.iter().map(|p| p.1).collect(),
            trial_of_presentation,
            rewards,
            n_odours: 2,
            name: name.into(),
        };
        fly.validate().expect("a valid recording");
        fly
    }

    /// `trials` trials; a rejection of the other odour in front of the accept of every
    /// trial listed in `rejected`.
    fn session(name: &str, trials: usize, rejected: &[usize]) -> FlyRecording {
        let mut presentations = Vec::new();
        for t in 0..trials {
            let odour = (t % 2) as i64;
            if rejected.contains(&t) {
                presentations.push((1 - odour, 0));
            }
            presentations.push((odour, 1));
        }
        recording(name, &presentations)
    }

    #[test]
    fn rejections_only_in_the_first_block_are_flagged() {
        // blocks of 4 trials: rejections in trials 0, 2 and the boundary trial 4, none in 5..10
        let fly = session("A", 10, &[0, 2, 4]);
        let check = check_fly_recordings(&[fly], 4).expect("checked");
        assert_eq!(check.warnings.len(), 1);
        let w = &check.warnings[0];
        assert_eq!(w.kind, FlyDataWarningKind::NoRejectionAfterFirstBlock);
        assert_eq!(w.counts.fly, "A");
        assert_eq!(w.counts.trials, 10);
        assert_eq!(w.counts.presentations, 13);
        assert_eq!(w.counts.rejections, 3);
        assert_eq!(w.counts.rejections_in_first_block, 2);
        assert_eq!(w.counts.rejections_in_boundary_trial, 1);
        assert_eq!(w.counts.rejections_after_boundary_trial, 0);
        assert_eq!(w.counts.trials_after_boundary_trial, 5);
        assert_eq!(w.counts.last_trial_with_a_rejection, Some(4));
        let summary = check.summary.expect("a summary");
        assert!(
            summary.starts_with("1 of 1 flies reject only in the first 4 trials and trial 5 (A)")
        );
        assert!(!summary.contains('\n'));
    }

    #[test]
    fn a_fly_that_never_rejects_is_flagged() {
        let check = check_fly_recordings(&[session("B", 10, &[])], 4).expect("checked");
        assert_eq!(check.warnings.len(), 1);
        assert_eq!(check.warnings[0].kind, FlyDataWarningKind::NoRejection);
        assert_eq!(check.warnings[0].counts.rejections, 0);
        assert_eq!(check.warnings[0].counts.last_trial_with_a_rejection, None);
        assert!(check
            .summary
            .expect("a summary")
            .contains("1 of 1 never reject (B)"));
        // even when it is too short to reach the second block
        let short = check_fly_recordings(&[session("C", 2, &[])], 4).expect("checked");
        assert_eq!(short.warnings[0].kind, FlyDataWarningKind::NoRejection);
    }

    #[test]
    fn rejections_after_the_first_block_give_no_warning() {
        let flies = [
            session("late", 10, &[0, 7]),
            // only after the first block: nothing is missing there either
            session("only_late", 10, &[6]),
            // too short to tell: rejections, but no trial after the boundary trial
            session("short", 5, &[1]),
        ];
        let check = check_fly_recordings(&flies, 4).expect("checked");
        assert!(check.warnings.is_empty(), "{:?}", check.warnings);
        assert_eq!(check.summary, None);
        assert_eq!(check.counts.len(), 3);
        assert_eq!(check.counts[0].rejections_after_boundary_trial, 1);
        assert_eq!(check.counts[0].last_trial_with_a_rejection, Some(7));
        assert_eq!(check.counts[2].trials_after_boundary_trial, 0);
    }

    #[test]
    fn a_mixed_dataset_gets_one_warning_per_flagged_fly_and_one_summary() {
        let flies = [
            session("Fly1", 12, &[1, 3]),
            session("Fly2", 12, &[1, 9]),
            session("Fly3", 12, &[]),
            session("Fly4", 12, &[2]),
        ];
        let check = check_fly_recordings(&flies, 4).expect("checked");
        let flagged: Vec<(&str, FlyDataWarningKind)> = check
            .warnings
            .iter()
            .map(|w| (w.counts.fly.as_str(), w.kind))
            .collect();
        assert_eq!(
            flagged,
            [
                ("Fly1", FlyDataWarningKind::NoRejectionAfterFirstBlock),
                ("Fly3", FlyDataWarningKind::NoRejection),
                ("Fly4", FlyDataWarningKind::NoRejectionAfterFirstBlock),
            ]
        );
        assert_eq!(
            check.summary.as_deref().map(|s| s.split(':').next()),
            Some(Some(
                "2 of 4 flies reject only in the first 4 trials and trial 5 (Fly1, Fly4); \
                 1 of 4 never reject (Fly3)"
            ))
        );
        // the JSON form is one flat object per warning
        let json = serde_json::to_value(&check.warnings[1]).expect("JSON");
        assert_eq!(json["kind"], "no_rejection");
        assert_eq!(json["fly"], "Fly3");
        assert_eq!(json["rejections"], 0);
        assert_eq!(json["block_trials"], 4);
        assert_eq!(
            FlyDataWarningKind::NoRejectionAfterFirstBlock.as_str(),
            serde_json::to_value(FlyDataWarningKind::NoRejectionAfterFirstBlock)
                .expect("JSON")
                .as_str()
                .expect("a string")
        );
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let fly = session("A", 10, &[0]);
        assert!(matches!(
            check_fly_recordings(std::slice::from_ref(&fly), 0),
            Err(Error::Config { .. })
        ));
        let mut broken = fly.clone();
        broken.trial_of_presentation[0] = -3;
        let error = check_fly_recordings(&[broken], 4).expect_err("refused");
        assert!(error.to_string().starts_with("A:"), "{error}");
        let mut broken = fly;
        broken.rewards.pop();
        assert!(check_fly_recordings(&[broken], 4).is_err());
        // no recordings: nothing to warn about
        let empty = check_fly_recordings(&[], FLY_BLOCK_TRIALS).expect("checked");
        assert!(empty.warnings.is_empty() && empty.summary.is_none());
    }

    /// The per-fly counts of the repository's `data/flies` (docs/flies.md prints this table with
    /// `cargo test --release -p plasticity --lib fly_warnings -- --nocapture`).
    #[test]
    fn the_shared_flies_show_the_signature() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/flies");
        let flies = crate::data::load_fly_dir(&dir).expect("all flies load");
        let check = check_fly_recordings(&flies, FLY_BLOCK_TRIALS).expect("checked");
        eprintln!(
            "| fly | trials | presentations | rejections | in trials 1–80 | in trial 81 | after trial 81 | last rejected trial (from 1) | warning |"
        );
        eprintln!("|---|---|---|---|---|---|---|---|---|");
        for c in &check.counts {
            let kind = check
                .warnings
                .iter()
                .find(|w| w.counts.fly == c.fly)
                .map_or("—", |w| w.kind.as_str());
            eprintln!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                c.fly,
                c.trials,
                c.presentations,
                c.rejections,
                c.rejections_in_first_block,
                c.rejections_in_boundary_trial,
                c.rejections_after_boundary_trial,
                c.last_trial_with_a_rejection
                    .map_or("—".to_string(), |t| (t + 1).to_string()),
                kind
            );
        }
        eprintln!("summary: {}", check.summary.as_deref().unwrap_or("(none)"));
        // the rejections of the first block: how many are of the odour the trial ends
        // up accepting (the issue says none are)
        let (mut other, mut same) = (0, 0);
        for fly in &flies {
            let accepted: Vec<i64> = fly
                .decisions
                .iter()
                .zip(&fly.odours)
                .filter(|(d, _)| **d == 1)
                .map(|(_, o)| *o)
                .collect();
            for ((d, o), t) in fly
                .decisions
                .iter()
                .zip(&fly.odours)
                .zip(&fly.trial_of_presentation)
            {
                if *d == 0 && (*t as usize) < FLY_BLOCK_TRIALS {
                    if accepted[*t as usize] == *o {
                        same += 1;
                    } else {
                        other += 1;
                    }
                }
            }
        }
        eprintln!(
            "first-block rejections: {} ({other} of the other odour than the trial's accept, \
             {same} of the same); in trial 81: {} in all, at most {} in one fly",
            other + same,
            check
                .counts
                .iter()
                .map(|c| c.rejections_in_boundary_trial)
                .sum::<usize>(),
            check
                .counts
                .iter()
                .map(|c| c.rejections_in_boundary_trial)
                .max()
                .unwrap_or(0)
        );
        assert_eq!(check.counts.len(), 18);
        assert_eq!(
            check.warnings.len(),
            18,
            "every public fly has the signature"
        );
        assert_eq!(
            check
                .warnings
                .iter()
                .filter(|w| w.kind == FlyDataWarningKind::NoRejection)
                .map(|w| w.counts.fly.as_str())
                .collect::<Vec<_>>(),
            ["Fly12", "Fly13", "Fly14", "Fly15", "Fly18"]
        );
        assert!(check
            .counts
            .iter()
            .all(|c| c.rejections_after_boundary_trial == 0));
    }
}
