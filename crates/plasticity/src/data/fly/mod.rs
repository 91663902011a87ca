//! Real fly recordings (docs/model.md §4.3, §6): loaders of MATLAB v5 `.mat` files and of a CSV
//! layout into [`FlyRecording`], and [`to_dataset`], which packs recordings into the
//! padded [`BehaviourDataset`](crate::data::BehaviourDataset) that the behaviour
//! objective and fit read.
//!
//! # The `.mat` layout (docs/model.md §6)
//!
//! A MATLAB v5 MAT-file (what MATLAB's `save -v7`/`-v6` and `scipy.io.savemat` write),
//! little-endian, with three numeric variables:
//!
//! | variable | shape | meaning |
//! | --- | --- | --- |
//! | `X` | presentations × odours | one-hot odour of each presentation (column `k` = odour `k`) |
//! | `Y` | 1 × presentations | 1 = the fly accepted the odour, 0 = it rejected it |
//! | `R` | 1 × trials | reward of each accepted presentation, in order (normally 0 or 1) |
//!
//! `Y` and `R` may also be column vectors. Other variables (text, structs, cells,
//! MATLAB's subsystem data, ...) are skipped. Variables may be stored plainly or
//! compressed (`miCOMPRESSED`, zlib), as any real numeric class (`double`, `single`,
//! integer classes, `logical`) and with any numeric storage type (MATLAB writes small
//! integer-valued doubles as `miUINT8`, `miINT16`, ...); values are converted to `f64`.
//! Only the 128-byte header's version (0x0100) and endian indicator (`IM`) are checked,
//! not its text (scipy's differs from MATLAB's). MATLAB v7.3 (HDF5) and big-endian
//! files are refused with an error that says so.
//!
//! The reader is written for untrusted input: every element's size is checked against
//! the bytes that remain, a compressed variable may inflate to at most 256 MiB and at
//! most [`crate::io::mat::MAX_INFLATE_RATIO`] times its compressed size, and dimensions whose product
//! does not match the length of the data are refused before anything is allocated.
//!
//! # The CSV layout
//!
//! UTF-8 text, comma-separated, one header line naming the columns (in any order,
//! case-insensitive; extra columns are ignored) and then one row per presentation:
//!
//! ```text
//! trial,odour,decision,reward
//! 0,1,0,
//! 0,0,1,1
//! 1,0,1,0
//! ```
//!
//! - `trial`: 0-based trial of the presentation. Trials are numbered consecutively: the
//!   first presentation is in trial 0 and the presentation after an accept starts the
//!   next trial, so the column is non-decreasing and must equal the number of accepts
//!   before the row.
//! - `odour`: 0-based odour identity (below [`MAX_ODOURS`]).
//! - `decision`: 1 accept, 0 reject.
//! - `reward`: the reward collected (a finite number, normally 0 or 1) on an accepted
//!   row; empty or 0 on a rejected row.
//!
//! Blank lines are skipped, cells are trimmed, surrounding double quotes are removed
//! (as R's `write.csv` writes them) and a UTF-8 byte-order mark is ignored. The number
//! of odours is the largest identity + 1, and at least 2 (the task's two odours).
//!
//! # Trials and unfinished trials
//!
//! A trial is a run of presentations ending with an accept; its reward is the next
//! entry of `R` (`sum(Y) == length(R)`). Rejections after the last accept form an
//! unfinished trial with no reward: **both loaders drop them**, so every recording
//! ends with an accepted presentation (the session's last choice is then an accept,
//! and no presentation lacks the reward signal of its trial). A recording without any
//! accept is refused.
//!
//! # The deposited raw data
//!
//! A directory per fly with the raw Y-arena files of Rajagopalan et al. (odour
//! crossings, choice points, choice and reward orders) is converted to the same
//! presentations by [`raw`] ([`convert_raw_fly`], [`load_raw_fly`]); [`load_fly_dir`]
//! reads such directories beside `.mat` and CSV files, and [`write_fly`] writes the
//! `.mat` and CSV layouts.
//!
//! Every error names the file and the variable (`.mat`) or column (CSV) at fault, e.g.
//! `Fly3.mat: variable 'Y': expected 0 (reject) or 1 (accept), found 2 at presentation
//! 17`. Presentations, trials and odour columns are counted from 0; CSV lines from 1.

mod csv;
mod dataset;
mod mat;
pub mod raw;
#[cfg(test)]
mod tests;
mod write;

pub use csv::load_fly_csv;
pub use dataset::{to_choice_dataset, to_dataset};
pub use mat::load_fly_mat;
pub use raw::{convert_raw_fly, is_raw_fly_dir, load_raw_fly, RawFly, RawFlySummary};
pub use write::write_fly;

use std::cmp::Ordering;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Where the 18 flies of the repository's `data/flies` come from; recorded as `source` in the
/// metadata of every dataset made by [`to_dataset`]. Keep it with the files and
/// anything derived from them.
pub const FLY_DATA_SOURCE: &str = "Rajagopalan, Darshan, Hibbard, Fitzgerald and Turner, \
\"Reward expectations direct learning and drive operant matching in Drosophila\" \
(PNAS 2023; original data at Zenodo, doi:10.5281/zenodo.7449214); converted to the .mat \
layout X/Y/R in the MIT-licensed repository \
irmakerkol/Model-Based-Inference-of-Synaptic-Plasticity-Rules (folder data/)";

/// The source of flies converted from the deposited raw directories ([`load_raw_fly`]).
pub const RAW_FLY_DATA_SOURCE: &str = "Rajagopalan, Darshan, Hibbard, Fitzgerald and Turner, \
\"Reward expectations direct learning and drive operant matching in Drosophila\" \
(PNAS 2023); the deposited raw Y-arena data (Zenodo, doi:10.5281/zenodo.7449214), converted \
to X/Y/R by plasticity as FlyData_preprocess does (Analysis/Rajagopalan2022_main.m of \
ChuntaoDan/ForkedYArenaCode)";

/// What the recordings [`load_fly_dir`] reads from `dir` come from: [`FLY_DATA_SOURCE`]
/// for `.mat`/CSV files, [`RAW_FLY_DATA_SOURCE`] for raw directories, both (joined by
/// " + ") for a directory holding both kinds.
pub fn fly_data_source(dir: impl AsRef<Path>) -> String {
    let (mut files, mut raw_dirs) = (false, false);
    if let Ok(entries) = std::fs::read_dir(dir.as_ref()) {
        for path in entries.flatten().map(|e| e.path()) {
            if path.is_dir() && raw::is_raw_fly_dir(&path) {
                raw_dirs = true;
            } else if path.is_file() && matches!(extension(&path).as_deref(), Some("mat" | "csv")) {
                files = true;
            }
        }
    }
    match (files, raw_dirs) {
        (true, true) => format!("{FLY_DATA_SOURCE} + {RAW_FLY_DATA_SOURCE}"),
        (false, true) => RAW_FLY_DATA_SOURCE.to_string(),
        _ => FLY_DATA_SOURCE.to_string(),
    }
}

/// The most odours a recording may have (columns of `X`, CSV odour identities).
pub const MAX_ODOURS: usize = 256;

/// The level at which an odour drives its input (docs/model.md §4.2).
const ODOUR_LEVEL: f64 = 0.75;

/// The sensory noise the fit re-samples inputs with (docs/model.md §4.2), recorded in the
/// metadata as `input_noise_std`.
const INPUT_NOISE_STD: f64 = 0.015;

/// One fly's session: presentations, decisions and the rewards of its trials.
///
/// Invariants (checked by [`FlyRecording::validate`], guaranteed by the loaders):
/// `odours`, `decisions` and `trial_of_presentation` have one entry per presentation;
/// `trial_of_presentation[p]` is the number of accepts before `p`; the last
/// presentation is an accept; `rewards` has one finite entry per accept.
#[derive(Clone, Debug, PartialEq)]
pub struct FlyRecording {
    /// Odour identity of each presentation, 0-based (below `n_odours`).
    pub odours: Vec<i64>,
    /// 1 accept, 0 reject, per presentation.
    pub decisions: Vec<i64>,
    /// 0-based trial of each presentation.
    pub trial_of_presentation: Vec<i64>,
    /// `R` of each trial (the reward of its accepted presentation).
    pub rewards: Vec<f64>,
    /// Number of odours (columns of `X`; for CSV the largest identity + 1, at least 2).
    pub n_odours: usize,
    /// The fly's name: the file stem (`Fly1` for `Fly1.mat`).
    pub name: String,
}

impl FlyRecording {
    /// Number of presentations.
    pub fn n_presentations(&self) -> usize {
        self.decisions.len()
    }

    /// Number of trials (= accepts = rewards).
    pub fn n_trials(&self) -> usize {
        self.rewards.len()
    }

    /// The recording as choices: per trial one presentation of every odour (in the
    /// order of their identities), decision 1 on the odour accepted in that trial, the
    /// trial's reward; rejections are left out (the layout of `kind = "choice"`). A
    /// trial without an acceptance becomes a trial without a choice.
    pub fn as_choices(&self) -> FlyRecording {
        let n_odours = self.n_odours.max(2);
        let mut chosen: Vec<Option<i64>> = vec![None; self.n_trials()];
        for ((&odour, &decision), &trial) in self
            .odours
            .iter()
            .zip(&self.decisions)
            .zip(&self.trial_of_presentation)
        {
            if decision == 1 {
                if let Some(slot) = usize::try_from(trial).ok().and_then(|t| chosen.get_mut(t)) {
                    *slot = Some(odour);
                }
            }
        }
        let mut recording = FlyRecording {
            odours: Vec::with_capacity(n_odours * chosen.len()),
            decisions: Vec::with_capacity(n_odours * chosen.len()),
            trial_of_presentation: Vec::with_capacity(n_odours * chosen.len()),
            rewards: self.rewards.clone(),
            n_odours,
            name: self.name.clone(),
        };
        for (trial, choice) in chosen.iter().enumerate() {
            for odour in 0..n_odours as i64 {
                recording.odours.push(odour);
                recording.decisions.push(i64::from(*choice == Some(odour)));
                recording.trial_of_presentation.push(trial as i64);
            }
        }
        recording
    }

    /// Number of rejected presentations.
    pub fn n_rejections(&self) -> usize {
        self.decisions.iter().filter(|&&d| d == 0).count()
    }

    /// Checks the invariants of the type (for recordings built by hand); errors name
    /// the recording (its `name`) and the field.
    pub fn validate(&self) -> Result<()> {
        let origin = Path::new(&self.name);
        let bad = |field: &str, message: String| Error::data(origin, field, message);
        let n = self.decisions.len();
        if n == 0 {
            return Err(bad(
                "decisions",
                "expected at least one presentation".into(),
            ));
        }
        for (field, len) in [
            ("odours", self.odours.len()),
            ("trial_of_presentation", self.trial_of_presentation.len()),
        ] {
            if len != n {
                return Err(bad(
                    field,
                    format!("has {len} entries but 'decisions' has {n} presentations"),
                ));
            }
        }
        if self.n_odours == 0 || self.n_odours > MAX_ODOURS {
            return Err(bad(
                "n_odours",
                format!("expected 1..={MAX_ODOURS} odours, found {}", self.n_odours),
            ));
        }
        let mut accepts = 0i64;
        for p in 0..n {
            let decision = self.decisions[p];
            if decision != 0 && decision != 1 {
                return Err(bad(
                    "decisions",
                    format!(
                        "expected 0 (reject) or 1 (accept), found {decision} at presentation {p}"
                    ),
                ));
            }
            let odour = self.odours[p];
            if odour < 0 || odour as u64 >= self.n_odours as u64 {
                return Err(bad(
                    "odours",
                    format!(
                        "expected an odour in 0..{}, found {odour} at presentation {p}",
                        self.n_odours
                    ),
                ));
            }
            let trial = self.trial_of_presentation[p];
            if trial != accepts {
                return Err(bad(
                    "trial_of_presentation",
                    format!(
                        "expected trial {accepts} at presentation {p} (a trial is a run of \
                         presentations ending with an accept), found {trial}"
                    ),
                ));
            }
            accepts += decision;
        }
        if self.decisions[n - 1] != 1 {
            return Err(bad(
                "decisions",
                "the last presentation is a rejection: a recording ends with an accept \
                 (the loaders drop an unfinished last trial)"
                    .into(),
            ));
        }
        if self.rewards.len() as i64 != accepts {
            return Err(bad(
                "rewards",
                format!(
                    "a reward count that does not match the accepted trials: {} rewards, {accepts} accepts",
                    self.rewards.len()
                ),
            ));
        }
        if let Some((t, r)) = self
            .rewards
            .iter()
            .enumerate()
            .find(|(_, r)| !r.is_finite())
        {
            return Err(bad(
                "rewards",
                format!("expected finite values, found {r} at trial {t}"),
            ));
        }
        Ok(())
    }
}

/// The names of the odours, decisions and rewards in a file's own terms (`.mat`
/// variables or CSV columns), for errors.
struct Names {
    decisions: &'static str,
    rewards: &'static str,
}

/// A recording from checked per-presentation odours and decisions (0/1) and the
/// rewards of the accepts: checks the reward count and that some presentation is an
/// accept, drops the rejections after the last accept and numbers the trials.
fn assemble(
    path: &Path,
    names: &Names,
    mut odours: Vec<i64>,
    mut decisions: Vec<i64>,
    rewards: Vec<f64>,
    n_odours: usize,
) -> Result<FlyRecording> {
    let accepts = decisions.iter().filter(|&&d| d == 1).count();
    if accepts != rewards.len() {
        return Err(Error::data(
            path,
            names.rewards,
            format!(
                "a reward count that does not match the accepted trials: {} rewards, {accepts} accepts in '{}'",
                rewards.len(),
                names.decisions
            ),
        ));
    }
    let Some(last_accept) = decisions.iter().rposition(|&d| d == 1) else {
        return Err(Error::data(
            path,
            names.decisions,
            format!(
                "no accepted presentation among {}: a trial ends with an accept, so there is nothing to fit",
                decisions.len()
            ),
        ));
    };
    // rejections after the last accept: an unfinished trial without a reward
    odours.truncate(last_accept + 1);
    decisions.truncate(last_accept + 1);
    let mut trial = 0i64;
    let trial_of_presentation = decisions
        .iter()
        .map(|&d| {
            let this = trial;
            trial += d;
            this
        })
        .collect();
    Ok(FlyRecording {
        odours,
        decisions,
        trial_of_presentation,
        rewards,
        n_odours,
        name: fly_name(path),
    })
}

/// The file stem of `path` (`Fly1` for `…/Fly1.mat`).
fn fly_name(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Reads one fly from a `.mat` or `.csv` file (by extension, case-insensitive).
pub fn load_fly(path: impl AsRef<Path>) -> Result<FlyRecording> {
    let path = path.as_ref();
    match extension(path).as_deref() {
        Some("mat") => load_fly_mat(path),
        Some("csv") => load_fly_csv(path),
        _ => Err(Error::data(
            path,
            "",
            "expected a fly recording ending in .mat or .csv",
        )),
    }
}

fn extension(path: &Path) -> Option<String> {
    path.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
}

/// Reads every fly in `dir`, in natural order of the names (`Fly2` before `Fly10`):
/// each recording file (`*.mat` and `*.csv`, case-insensitive, not hidden files
/// starting with `.`) and each subdirectory holding one fly's raw data
/// (`choice_order.mat`; converted by [`load_raw_fly`], named after the subdirectory).
/// Fails if there is none, if any fails to load, or if two have the same name (a
/// file's stem, a directory's name).
pub fn load_fly_dir(dir: impl AsRef<Path>) -> Result<Vec<FlyRecording>> {
    let dir = dir.as_ref();
    if raw::is_raw_fly_dir(dir) {
        return Err(Error::data(
            dir,
            "",
            "this is one fly's directory of raw data (it holds choice_order.mat): give the \
             directory that holds it and the other flies' directories, or convert it with \
             `plasticity convert-fly`",
        ));
    }
    // (sort key, path, whether it is a raw fly directory)
    let mut found: Vec<(String, PathBuf, bool)> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let wanted = matches!(extension(&path).as_deref(), Some("mat" | "csv"));
        if wanted && path.is_file() {
            found.push((name, path, false));
        } else if path.is_dir() && raw::is_raw_fly_dir(&path) {
            found.push((name, path, true));
        }
    }
    if found.is_empty() {
        return Err(Error::data(
            dir,
            "",
            "no fly recordings (*.mat or *.csv files, or directories of raw data holding \
             choice_order.mat) in this directory",
        ));
    }
    found.sort_by(|a, b| natural_cmp(&a.0, &b.0));
    let mut recordings: Vec<FlyRecording> = Vec::with_capacity(found.len());
    for (file_name, path, is_raw) in &found {
        let recording = if *is_raw {
            load_raw_fly(path)?
        } else {
            load_fly(path)?
        };
        if let Some(j) = recordings.iter().position(|r| r.name == recording.name) {
            return Err(Error::data(
                dir,
                "",
                format!(
                    "two recordings are named '{}' ({} and {file_name}): a fly's name is its \
                     file stem or its raw directory's name",
                    recording.name, found[j].0
                ),
            ));
        }
        recordings.push(recording);
    }
    Ok(recordings)
}

/// Compares names so that runs of digits compare by value (`Fly2` < `Fly10`); names
/// equal in that order (`Fly01`, `Fly1`) fall back to plain order.
fn natural_cmp(a: &str, b: &str) -> Ordering {
    fn digits(s: &str) -> (&str, &str) {
        let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        s.split_at(end)
    }
    let (mut x, mut y) = (a, b);
    loop {
        match (x.chars().next(), y.chars().next()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let (nx, rx) = digits(x);
                let (ny, ry) = digits(y);
                let (nx, ny) = (nx.trim_start_matches('0'), ny.trim_start_matches('0'));
                let order = nx.len().cmp(&ny.len()).then_with(|| nx.cmp(ny));
                if order != Ordering::Equal {
                    return order;
                }
                (x, y) = (rx, ry);
            }
            (Some(c), Some(d)) => {
                if c != d {
                    return c.cmp(&d);
                }
                (x, y) = (&x[c.len_utf8()..], &y[d.len_utf8()..]);
            }
        }
    }
}
