//! The matching law per block of the choice task: the fraction of choices of odour 1
//! against the fraction of rewards earned from it (Herrnstein; the flies undermatch,
//! Rajagopalan et al. 2023), in the data and as each model predicts it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::model::FlyModelFit;
use crate::data::{FlyRecording, FLY_BLOCK_TRIALS};

/// One fly's block: its choices and rewards, and each model's predicted choice
/// fraction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BlockMatching {
    /// The fly's name.
    pub fly: String,
    /// The block (0-based), of [`FLY_BLOCK_TRIALS`] trials.
    pub block: usize,
    /// Trials with a choice in the block.
    pub trials: usize,
    /// Fraction of the block's choices that were odour 1.
    pub choice_fraction: f64,
    /// Fraction of the block's rewards earned from odour 1 (`None` without a reward).
    pub reward_fraction: Option<f64>,
    /// Each model's mean probability of choosing odour 1 over the block (fitted on all
    /// trials), by model name.
    pub predicted: BTreeMap<String, f64>,
}

/// Every fly's blocks: the data from `recordings` (the odour accepted in each trial
/// and its reward), the predictions from the `fits` that have per-block fractions.
pub fn matching_by_block(recordings: &[FlyRecording], fits: &[FlyModelFit]) -> Vec<BlockMatching> {
    let mut rows = Vec::new();
    for recording in recordings {
        let mut chosen = vec![None; recording.n_trials()];
        for ((&odour, &decision), &trial) in recording
            .odours
            .iter()
            .zip(&recording.decisions)
            .zip(&recording.trial_of_presentation)
        {
            if decision == 1 {
                if let Some(slot) = usize::try_from(trial).ok().and_then(|t| chosen.get_mut(t)) {
                    *slot = Some(odour == 1);
                }
            }
        }
        for (block, trials) in chosen.chunks(FLY_BLOCK_TRIALS).enumerate() {
            let start = block * FLY_BLOCK_TRIALS;
            let (mut choices, mut second, mut rewards, mut second_rewards) = (0, 0, 0.0, 0.0);
            for (offset, choice) in trials.iter().enumerate() {
                let Some(second_odour) = *choice else {
                    continue;
                };
                let reward = recording.rewards[start + offset];
                choices += 1;
                rewards += reward;
                if second_odour {
                    second += 1;
                    second_rewards += reward;
                }
            }
            if choices == 0 {
                continue;
            }
            let predicted = fits
                .iter()
                .filter(|f| f.fly == recording.name)
                .filter_map(|f| {
                    f.block_choice_fractions
                        .get(block)
                        .map(|&p| (f.model.clone(), p))
                })
                .collect();
            rows.push(BlockMatching {
                fly: recording.name.clone(),
                block,
                trials: choices,
                choice_fraction: second as f64 / choices as f64,
                reward_fraction: (rewards > 0.0).then(|| second_rewards / rewards),
                predicted,
            });
        }
    }
    rows
}
