//! Pattern sets and partial cues for the autoassociative-memory function objective
//! (issue 12).
//!
//! Dense patterns have i.i.d. entries ±1 with equal probability; a cue flips a stated
//! fraction of the entries (chosen at random). Sparse patterns have exactly
//! `round(a N)` active units (value 1, the rest 0) at coding level `a`; a cue moves a
//! stated number of the active units to inactive positions.

use rand::rngs::ChaCha8Rng;
use rand::seq::SliceRandom;
use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The kind of stored patterns.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", deny_unknown_fields)]
pub enum PatternKind {
    /// Entries ±1; a cue flips `cue_flip_fraction` of them.
    Dense {
        /// Fraction of entries flipped in a cue.
        cue_flip_fraction: f64,
    },
    /// Entries in {0, 1} at coding level `coding_level`; a cue moves `cue_moved` of the
    /// active units.
    Sparse {
        /// Fraction `a` of active units.
        coding_level: f64,
        /// Active units moved to inactive positions in a cue.
        cue_moved: usize,
    },
}

impl PatternKind {
    /// Checks the settings for patterns of `n` units.
    pub fn validate(&self, n: usize) -> Result<()> {
        match *self {
            PatternKind::Dense { cue_flip_fraction } => {
                if !(0.0..0.5).contains(&cue_flip_fraction) {
                    return Err(Error::config(
                        "task.cue_flip_fraction",
                        format!("{cue_flip_fraction}: expected a fraction in [0, 0.5)"),
                    ));
                }
            }
            PatternKind::Sparse {
                coding_level,
                cue_moved,
            } => {
                let active = (coding_level * n as f64).round() as usize;
                if !(coding_level > 0.0 && coding_level < 0.5) || active == 0 {
                    return Err(Error::config(
                        "task.coding_level",
                        format!(
                            "{coding_level}: expected a level in (0, 0.5) giving at least one active unit of {n}"
                        ),
                    ));
                }
                if cue_moved > active {
                    return Err(Error::config(
                        "task.cue_moved",
                        format!("{cue_moved}: a pattern has only {active} active units"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Draws `count` patterns of `n` units and one cue of each, both row-major
    /// `count × n`.
    pub fn draw(&self, n: usize, count: usize, rng: &mut ChaCha8Rng) -> (Vec<f64>, Vec<f64>) {
        let mut patterns = vec![0.0; count * n];
        let mut cues = vec![0.0; count * n];
        let mut order: Vec<usize> = (0..n).collect();
        for (pattern, cue) in patterns.chunks_exact_mut(n).zip(cues.chunks_exact_mut(n)) {
            match *self {
                PatternKind::Dense { cue_flip_fraction } => {
                    for value in pattern.iter_mut() {
                        *value = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
                    }
                    cue.copy_from_slice(pattern);
                    let flips = (cue_flip_fraction * n as f64).round() as usize;
                    order.shuffle(rng);
                    for &i in &order[..flips] {
                        cue[i] = -cue[i];
                    }
                }
                PatternKind::Sparse {
                    coding_level,
                    cue_moved,
                } => {
                    let active = (coding_level * n as f64).round() as usize;
                    order.shuffle(rng);
                    pattern.iter_mut().for_each(|v| *v = 0.0);
                    for &i in &order[..active] {
                        pattern[i] = 1.0;
                    }
                    cue.copy_from_slice(pattern);
                    // `order[..active]` are the active units in random order and
                    // `order[active..]` the inactive ones: switch off the first
                    // `cue_moved` of the former, switch on as many of the latter.
                    for k in 0..cue_moved {
                        cue[order[k]] = 0.0;
                        cue[order[active + k]] = 1.0;
                    }
                }
            }
        }
        (patterns, cues)
    }

    /// The mean activity `a` the overlap is centred on: 0 for dense patterns.
    pub fn centre(&self, n: usize) -> f64 {
        match *self {
            PatternKind::Dense { .. } => 0.0,
            PatternKind::Sparse { coding_level, .. } => {
                (coding_level * n as f64).round() / n as f64
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::covariance::task_rng;

    #[test]
    fn dense_cues_flip_the_stated_number_of_entries() {
        let kind = PatternKind::Dense {
            cue_flip_fraction: 0.15,
        };
        let (patterns, cues) = kind.draw(100, 7, &mut task_rng(1, 0));
        for (p, c) in patterns.chunks(100).zip(cues.chunks(100)) {
            assert!(p.iter().all(|&v| v == 1.0 || v == -1.0));
            assert_eq!(p.iter().zip(c).filter(|(a, b)| a != b).count(), 15);
        }
        let ones = patterns.iter().filter(|&&v| v > 0.0).count();
        assert!((250..450).contains(&ones), "{ones}");
    }

    #[test]
    fn sparse_cues_move_the_stated_active_units() {
        let kind = PatternKind::Sparse {
            coding_level: 0.1,
            cue_moved: 2,
        };
        let (patterns, cues) = kind.draw(100, 9, &mut task_rng(2, 4));
        for (p, c) in patterns.chunks(100).zip(cues.chunks(100)) {
            assert_eq!(p.iter().sum::<f64>(), 10.0);
            assert_eq!(c.iter().sum::<f64>(), 10.0);
            let kept = p
                .iter()
                .zip(c)
                .filter(|(&a, &b)| a == 1.0 && b == 1.0)
                .count();
            assert_eq!(kept, 8);
        }
        assert!((kind.centre(100) - 0.1).abs() < 1e-15);
    }

    #[test]
    fn impossible_cues_are_refused() {
        let kind = PatternKind::Sparse {
            coding_level: 0.02,
            cue_moved: 3,
        };
        let error = kind.validate(100).unwrap_err().to_string();
        assert!(error.contains("task.cue_moved"), "{error}");
        let dense = PatternKind::Dense {
            cue_flip_fraction: 0.7,
        };
        assert!(dense.validate(100).is_err());
    }
}
