//! The deposited raw Y-arena data of Rajagopalan et al. (PNAS 2023; Zenodo
//! doi:10.5281/zenodo.7449214, folder `Fig2_Fig4_SuppFig2_SuppFig3_G_SuppFig7/`),
//! converted to the `X`/`Y`/`R` layout as the authors' preprocessing does
//! (`FlyData_preprocess` in `Analysis/Rajagopalan2022_main.m` of the public repository
//! `ChuntaoDan/ForkedYArenaCode`; docs/flies.md, "The deposited raw data").
//!
//! # The layout: one directory per fly
//!
//! | file | variable | what |
//! | --- | --- | --- |
//! | `odor_crossing_1.mat`, `odor_crossing_2.mat`, optionally `odor_crossing_3.mat` | `odor_crossing` | 1 × n struct array, fields `time`, `type`, `time_pt_in_vector` (frame index), `conts` |
//! | `cps_1.mat`, `cps_2.mat`, `cps_3.mat` (with `odor_crossing_3.mat`) | `cps` | the block's choice points (frame indices); the first is dropped |
//! | `choice_order.mat` | `choice_order` | trials × blocks: 1 = MCH, 2 = OCT, 0 = no choice |
//! | `reward_order.mat` | `reward_order` | trials × blocks: 1 or 2 = rewarded (by that odour), 0 = not |
//!
//! # The conversion (what `FlyData_preprocess` does)
//!
//! 1. Blocks are concatenated: block b's frame indices (`time_pt_in_vector`) and its
//!    choice points are shifted by the last choice point so far (the previous block's,
//!    itself shifted). Block 3 is read if `odor_crossing_3.mat` exists.
//! 2. The choice and reward matrices are read column by column (block by block) and
//!    the trials whose choice is 0 are dropped with their rewards; choice point `j`
//!    (counted over all blocks) then goes with the `j`-th remaining choice. Other
//!    choices than 0, 1 and 2 are refused (the reference does not check them).
//! 3. Each crossing whose `type` is a char array (or a cell whose first cell is one)
//!    with 4th character `M` is an entry into MCH (`X` row `[1, 0]`, odour 0), `O` an
//!    entry into OCT (`[0, 1]`, odour 1); other characters, empty types and numeric
//!    types are skipped; a shorter char array or a cell holding something else is an
//!    error (as indexing it is in MATLAB).
//! 4. For each choice point `c`, the entries with a frame index `< c` form a set; if it
//!    differs from the set of the last choice point that labelled an entry (compared,
//!    as the reference does, by the sum of the entries' positions), its last entry gets
//!    `Y = 1` and the choice's reward; otherwise no entry came since and the choice is
//!    dropped. With frame indices in order this is "Y = 1 on the last entry before the
//!    choice point, if an entry occurred since the previous choice point". A choice
//!    point that labels an entry but has no choice left is an error (MATLAB's index
//!    error); choices left over after the last choice point are unused, as in the
//!    reference.
//! 5. `R` holds, for each entry with `Y = 1` in order, 1 if its reward is 1 or 2 and 0
//!    if it is 0 (other rewards are refused).
//!
//! The conversion keeps every entry, including the rejections after the last choice
//! point (as the reference's `X` and `Y` do); [`RawFly::to_recording`] drops them, as
//! the `.mat` and CSV loaders do. Every error names the file and the variable.

use std::path::{Path, PathBuf};

use super::{assemble, FlyRecording, Names};
use crate::io::mat::{format_dims, load_mat_variables, MatValue};
use crate::{Error, Result};

/// The file whose presence marks a directory as one fly's raw data.
pub const RAW_FLY_MARKER: &str = "choice_order.mat";

/// Whether `dir` is a directory holding one fly's raw data (it has `choice_order.mat`).
pub fn is_raw_fly_dir(dir: impl AsRef<Path>) -> bool {
    dir.as_ref().join(RAW_FLY_MARKER).is_file()
}

/// What a conversion found, for the person running it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawFlySummary {
    /// Blocks read (2 or 3).
    pub blocks: usize,
    /// Crossings in the `odor_crossing` struct arrays, all blocks.
    pub crossings: usize,
    /// Crossings that are entries into MCH or OCT (rows of `X`).
    pub entries: usize,
    /// Choice points after dropping each block's first.
    pub choice_points: usize,
    /// Trials with a choice (non-zero `choice_order`).
    pub choices: usize,
    /// Trials without a choice (0), dropped with their rewards.
    pub trials_without_choice: usize,
    /// Choice points without a new entry since the previous one (their choices dropped).
    pub choice_points_without_entry: usize,
    /// Entries labelled `Y = 1` (trials of the converted recording).
    pub accepts: usize,
}

/// One fly's raw data converted to the `X`/`Y`/`R` layout (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct RawFly {
    /// The fly's name: the directory's name.
    pub name: String,
    /// Odour of each entry (row of `X`): 0 = MCH (`[1, 0]`), 1 = OCT (`[0, 1]`).
    pub odours: Vec<i64>,
    /// `Y` of each entry: 1 on the last entry before a choice point, else 0.
    pub decisions: Vec<i64>,
    /// `R`: one binary reward per entry with `Y = 1`, in order.
    pub rewards: Vec<f64>,
    /// Counts of what was read and dropped.
    pub summary: RawFlySummary,
}

impl RawFly {
    /// The recording the fits read: as the `.mat` loader reads the converted file, so
    /// the rejections after the last accept are dropped. Fails if no entry is accepted.
    pub fn to_recording(&self, dir: &Path) -> Result<FlyRecording> {
        let names = Names {
            decisions: "Y",
            rewards: "R",
        };
        let mut recording = assemble(
            dir,
            &names,
            self.odours.clone(),
            self.decisions.clone(),
            self.rewards.clone(),
            2,
        )?;
        recording.name = self.name.clone();
        Ok(recording)
    }

    /// Writes `X`, `Y` and `R` to `path`: a MATLAB v5 `.mat` file or the CSV layout
    /// (by extension; see [`super::write_fly`]).
    pub fn write(&self, path: &Path) -> Result<()> {
        super::write_fly(path, &self.odours, &self.decisions, &self.rewards, 2)
    }
}

/// Reads one fly's raw directory and converts it to the recording the fits read
/// ([`convert_raw_fly`], then [`RawFly::to_recording`]).
pub fn load_raw_fly(dir: impl AsRef<Path>) -> Result<FlyRecording> {
    let dir = dir.as_ref();
    convert_raw_fly(dir)?.to_recording(dir)
}

/// A raw file's path and the variable it must hold, for reading and errors.
struct RawFile {
    path: PathBuf,
    variable: &'static str,
}

impl RawFile {
    fn new(dir: &Path, file: String, variable: &'static str) -> Self {
        RawFile {
            path: dir.join(file),
            variable,
        }
    }

    fn error(&self, message: impl Into<String>) -> Error {
        Error::data(&self.path, self.variable, message)
    }

    /// Its variable: the file must exist and hold it; errors about the whole file
    /// (not a MAT-file, v7.3, truncated) name the variable that was looked for.
    fn read(&self) -> Result<MatValue> {
        if !self.path.is_file() {
            return Err(self.error(format!(
                "missing file: a raw fly directory holds odor_crossing_1.mat, odor_crossing_2.mat, \
                 cps_1.mat, cps_2.mat (optionally odor_crossing_3.mat with cps_3.mat), \
                 choice_order.mat and reward_order.mat; this one should hold '{}'",
                self.variable
            )));
        }
        let found = load_mat_variables(&self.path, &[self.variable]).map_err(|e| match e {
            Error::Data {
                path,
                variable,
                message,
            } if variable.is_empty() => Error::data(path, self.variable, message),
            other => other,
        })?;
        found
            .into_iter()
            .next()
            .flatten()
            .ok_or_else(|| self.error("missing variable"))
    }

    /// Its variable as a numeric array: dimensions and column-major values, all finite.
    fn numeric(&self) -> Result<(Vec<usize>, Vec<f64>)> {
        match self.read()? {
            MatValue::Numeric(a) => {
                if let Some((i, v)) = a.values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                    return Err(self.error(format!(
                        "expected finite values, found {v} at element {}",
                        i + 1
                    )));
                }
                Ok((a.dims, a.values))
            }
            other => Err(self.error(format!(
                "expected a numeric array, found a {} array",
                other.class()
            ))),
        }
    }
}

/// One entry into an odour: its odour (0 = MCH, 1 = OCT) and its frame index, shifted
/// by its block's offset.
struct Entry {
    odour: i64,
    frame: f64,
}

/// Reads one block's crossings (`odor_crossing_{block}.mat`): its entries, shifted by
/// `offset` frames, and the number of crossings.
fn block_entries(file: &RawFile, offset: f64) -> Result<(Vec<Entry>, usize)> {
    let crossings = match file.read()? {
        MatValue::Struct(s) => s,
        v @ MatValue::Numeric(_) if v.is_empty() => return Ok((Vec::new(), 0)),
        other => {
            return Err(file.error(format!(
                "expected a 1 × n struct array of crossings, found a {} array",
                other.class()
            )))
        }
    };
    for field in ["type", "time_pt_in_vector"] {
        if !crossings.has_field(field) {
            return Err(file.error(format!(
                "the struct array has no field '{field}' (its fields: {}); expected time, type, \
                 time_pt_in_vector and conts",
                crossings.fields.join(", ")
            )));
        }
    }
    let mut entries = Vec::new();
    for e in 0..crossings.len() {
        let at = |m: String| file.error(format!("crossing {}: {m}", e + 1));
        let kind = crossings.field(e, "type").map(crossing_odour);
        let Some(odour) = kind.transpose().map_err(at)?.flatten() else {
            continue;
        };
        let frame = match crossings.field(e, "time_pt_in_vector") {
            Some(MatValue::Numeric(a)) if a.values.len() == 1 => a.values[0],
            Some(other) => {
                return Err(at(format!(
                    "expected one frame index in field 'time_pt_in_vector', found a {} array of {}",
                    other.class(),
                    format_dims(other.dims())
                )))
            }
            None => return Err(at("no field 'time_pt_in_vector'".into())),
        };
        if !frame.is_finite() {
            return Err(at(format!(
                "expected a finite frame index in field 'time_pt_in_vector', found {frame}"
            )));
        }
        entries.push(Entry {
            odour,
            frame: frame + offset,
        });
    }
    Ok((entries, crossings.len()))
}

/// The odour a crossing's `type` enters: `Some(0)` for MCH (4th character `M`),
/// `Some(1)` for OCT (`O`), `None` for a crossing that is skipped (another character,
/// an empty type, a numeric type). Errors as indexing the 4th character does in MATLAB.
fn crossing_odour(kind: &MatValue) -> std::result::Result<Option<i64>, String> {
    let text = match kind {
        MatValue::Numeric(_) => return Ok(None),
        v if v.is_empty() => return Ok(None),
        MatValue::Char { text, .. } => text,
        MatValue::Cell { cells, .. } => match cells.first() {
            Some(MatValue::Char { text, .. }) => text,
            Some(other) => {
                return Err(format!(
                    "field 'type': expected a char array in its cell, found a {} array",
                    other.class()
                ))
            }
            None => return Ok(None),
        },
        other => {
            return Err(format!(
                "field 'type': expected a char array such as 'AtoM' or a cell holding one, found a {} array",
                other.class()
            ))
        }
    };
    match text.get(3) {
        Some('M') => Ok(Some(0)),
        Some('O') => Ok(Some(1)),
        Some(_) => Ok(None),
        None => Err(format!(
            "field 'type': '{}' has fewer than 4 characters (expected e.g. 'AtoM')",
            text.iter().collect::<String>()
        )),
    }
}

/// Converts one fly's raw directory (see the module documentation for the layout and
/// the rules, which follow `FlyData_preprocess`). Every error names the file and the
/// variable at fault.
pub fn convert_raw_fly(dir: impl AsRef<Path>) -> Result<RawFly> {
    let dir = dir.as_ref();
    let mut summary = RawFlySummary::default();
    let mut entries: Vec<Entry> = Vec::new();
    // choice points, with the index of their block's `cps` file
    let mut choice_points: Vec<(f64, usize)> = Vec::new();
    let mut cps_files: Vec<RawFile> = Vec::new();
    for block in 1..=3usize {
        let crossings = RawFile::new(dir, format!("odor_crossing_{block}.mat"), "odor_crossing");
        if block == 3 && !crossings.path.is_file() {
            break;
        }
        let cps = RawFile::new(dir, format!("cps_{block}.mat"), "cps");
        let (dims, values) = cps.numeric()?;
        if dims.iter().filter(|&&d| d != 1).count() > 1 {
            return Err(cps.error(format!(
                "expected a vector of choice points, found dimensions {}",
                format_dims(&dims)
            )));
        }
        if values.is_empty() {
            return Err(cps.error(
                "expected at least one element (the first is dropped, the others are choice points), found none",
            ));
        }
        // the last choice point so far (MATLAB: `cp_vec(end)` before this block's)
        let offset = match choice_points.last() {
            Some(&(frame, _)) => frame,
            None if block == 1 => 0.0,
            None => {
                let message = format!(
                    "block 1 has no choice point (only the first element, which is dropped), \
                     so block {block}'s frames cannot be offset"
                );
                return Err(cps_files.first().unwrap_or(&cps).error(message));
            }
        };
        let (block_entries, n_crossings) = block_entries(&crossings, offset)?;
        summary.crossings += n_crossings;
        entries.extend(block_entries);
        choice_points.extend(values[1..].iter().map(|&c| (c + offset, block - 1)));
        cps_files.push(cps);
        summary.blocks = block;
    }
    let rewards = read_choices(dir, &mut summary)?;
    summary.entries = entries.len();
    summary.choice_points = choice_points.len();
    let (decisions, labelled) = label_entries(&entries, &choice_points, &cps_files, &rewards, dir)?;
    summary.choice_points_without_entry = choice_points.len() - labelled.len();
    summary.accepts = decisions.iter().filter(|&&d| d == 1).count();
    let rewards = reward_of_accepts(&decisions, &labelled);
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| dir.display().to_string());
    Ok(RawFly {
        name,
        odours: entries.iter().map(|e| e.odour).collect(),
        decisions,
        rewards,
        summary,
    })
}

/// The rewards of the trials with a choice, in order (block by block), from
/// `choice_order.mat` and `reward_order.mat`: checks that both are trials × blocks
/// of the same dimensions and that choices are 0, 1 or 2.
fn read_choices(dir: &Path, summary: &mut RawFlySummary) -> Result<Vec<f64>> {
    let choice_file = RawFile::new(dir, "choice_order.mat".into(), "choice_order");
    let reward_file = RawFile::new(dir, "reward_order.mat".into(), "reward_order");
    let (choice_dims, choices) = choice_file.numeric()?;
    let (reward_dims, rewards) = reward_file.numeric()?;
    let trim = |dims: &[usize]| {
        let mut d = dims.to_vec();
        while d.len() > 2 && d.last() == Some(&1) {
            d.pop();
        }
        d
    };
    if trim(&choice_dims).len() > 2 {
        return Err(choice_file.error(format!(
            "expected a trials × blocks matrix, found dimensions {}",
            format_dims(&choice_dims)
        )));
    }
    if trim(&choice_dims) != trim(&reward_dims) {
        return Err(reward_file.error(format!(
            "dimensions {} differ from those of 'choice_order' in choice_order.mat ({}): \
             expected one reward per trial and block",
            format_dims(&reward_dims),
            format_dims(&choice_dims)
        )));
    }
    let rows = choice_dims.first().copied().unwrap_or(1).max(1);
    let mut kept = Vec::new();
    for (i, (&c, &r)) in choices.iter().zip(&rewards).enumerate() {
        let where_ = format!("trial {}, block {}", i % rows + 1, i / rows + 1);
        if c == 0.0 {
            summary.trials_without_choice += 1;
        } else if c == 1.0 || c == 2.0 {
            if r != 0.0 && r != 1.0 && r != 2.0 {
                return Err(reward_file.error(format!(
                    "expected 0 (no reward), 1 or 2 (rewarded by MCH or OCT), found {r} at {where_}"
                )));
            }
            kept.push(if r == 0.0 { 0.0 } else { 1.0 });
        } else {
            return Err(choice_file.error(format!(
                "expected 0 (no choice), 1 (MCH) or 2 (OCT), found {c} at {where_}"
            )));
        }
    }
    summary.choices = kept.len();
    Ok(kept)
}

/// A choice point that labelled an entry: the entry's position and the choice's
/// binary reward.
type Labelled = (usize, f64);

/// `Y` of every entry, and for each choice point that labels an entry, that entry and
/// the choice's (binary) reward, as `FlyData_preprocess` computes them (step 4 of the
/// module docs): sets of entries before each choice point, compared by the sum of
/// their 1-based positions, in O((entries + choice points) · log entries).
fn label_entries(
    entries: &[Entry],
    choice_points: &[(f64, usize)],
    cps_files: &[RawFile],
    rewards: &[f64],
    dir: &Path,
) -> Result<(Vec<i64>, Vec<Labelled>)> {
    let mut by_frame: Vec<usize> = (0..entries.len()).collect();
    by_frame.sort_by(|&a, &b| entries[a].frame.total_cmp(&entries[b].frame));
    // over the first k entries in frame order: sum of 1-based positions, last position
    let mut sums = Vec::with_capacity(entries.len() + 1);
    let mut lasts = Vec::with_capacity(entries.len() + 1);
    let (mut sum, mut last) = (0u64, 0usize);
    sums.push(sum);
    lasts.push(last);
    for &i in &by_frame {
        sum += i as u64 + 1;
        last = last.max(i + 1);
        sums.push(sum);
        lasts.push(last);
    }
    let mut decisions = vec![0i64; entries.len()];
    let mut labelled = Vec::new();
    let mut previous = 0u64;
    for (j, &(frame, block)) in choice_points.iter().enumerate() {
        let k = by_frame.partition_point(|&i| entries[i].frame < frame);
        if sums[k] == previous {
            continue; // no entry since the last labelling choice point: choice dropped
        }
        let Some(position) = lasts[k].checked_sub(1) else {
            let file = cps_files.get(block).map_or(dir, |f| f.path.as_path());
            return Err(Error::data(
                file,
                "cps",
                format!(
                    "choice point {} of all blocks (frame {frame}) comes before every entry, \
                     though an earlier one came after an entry: choice points out of order",
                    j + 1
                ),
            ));
        };
        let Some(&reward) = rewards.get(j) else {
            return Err(Error::data(
                dir.join("choice_order.mat"),
                "choice_order",
                format!(
                    "choice point {} of all blocks (block {}) labels an entry, but only {} trials \
                     have a choice (non-zero): expected a choice for every choice point",
                    j + 1,
                    block + 1,
                    rewards.len()
                ),
            ));
        };
        decisions[position] = 1;
        labelled.push((position, reward));
        previous = sums[k];
    }
    Ok((decisions, labelled))
}

/// `R`: the reward of each entry with `Y = 1`, in order of the entries; an entry
/// labelled twice keeps the later reward (as the reference overwrites it).
fn reward_of_accepts(decisions: &[i64], labelled: &[Labelled]) -> Vec<f64> {
    let mut reward_at = vec![0.0; decisions.len()];
    for &(position, reward) in labelled {
        reward_at[position] = reward;
    }
    decisions
        .iter()
        .zip(reward_at)
        .filter(|(&d, _)| d == 1)
        .map(|(_, r)| r)
        .collect()
}
