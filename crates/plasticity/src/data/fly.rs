//! Real fly recordings (docs/model.md §4.3, §6): loaders of MATLAB v5 `.mat` files and of a CSV
//! layout into [`FlyRecording`], and [`to_dataset`], which packs recordings into the
//! padded [`BehaviourDataset`] that the behaviour objective and fit read.
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
//! most [`MAX_INFLATE_RATIO`] times its compressed size, and dimensions whose product
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
//! Every error names the file and the variable (`.mat`) or column (CSV) at fault, e.g.
//! `Fly3.mat: variable 'Y': expected 0 (reject) or 1 (accept), found 2 at presentation
//! 17`. Presentations, trials and odour columns are counted from 0; CSV lines from 1.

use std::cmp::Ordering;
use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::ZlibDecoder;
use ndarray::{Array2, Array3};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use crate::circuit::RewardSignal;
use crate::data::BehaviourDataset;
use crate::random::normal;
use crate::{Error, Result};

/// Where the 18 flies of the repository's `data/flies` come from; recorded as `source` in the
/// metadata of every dataset made by [`to_dataset`]. Keep it with the files and
/// anything derived from them.
pub const FLY_DATA_SOURCE: &str = "Rajagopalan, Darshan, Hibbard, Fitzgerald and Turner, \
\"Reward expectations direct learning and drive operant matching in Drosophila\" \
(PNAS 2023; original data at Zenodo, doi:10.5281/zenodo.7449214); converted to the .mat \
layout X/Y/R in the MIT-licensed repository \
irmakerkol/Model-Based-Inference-of-Synaptic-Plasticity-Rules (folder data/)";

/// The most odours a recording may have (columns of `X`, CSV odour identities).
pub const MAX_ODOURS: usize = 256;

/// A compressed `.mat` variable may inflate to at most this many times its compressed
/// size (deflate's own limit is about 1032:1).
pub const MAX_INFLATE_RATIO: usize = 1032;

/// A compressed `.mat` variable may inflate to at most this many bytes.
const MAX_INFLATED_BYTES: usize = 256 << 20;

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

/// Reads every fly recording (`*.mat` and `*.csv`, case-insensitive, not hidden files
/// starting with `.`) in `dir`, in natural order of the file names (`Fly2` before
/// `Fly10`). Fails if there is none, if any file fails to load, or if two files have
/// the same stem (a fly's name).
pub fn load_fly_dir(dir: impl AsRef<Path>) -> Result<Vec<FlyRecording>> {
    let dir = dir.as_ref();
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            continue;
        };
        let wanted = matches!(extension(&path).as_deref(), Some("mat" | "csv"));
        if wanted && !name.starts_with('.') && path.is_file() {
            files.push((name, path));
        }
    }
    if files.is_empty() {
        return Err(Error::data(
            dir,
            "",
            "no fly recordings (*.mat or *.csv files) in this directory",
        ));
    }
    files.sort_by(|a, b| natural_cmp(&a.0, &b.0));
    let mut recordings: Vec<FlyRecording> = Vec::with_capacity(files.len());
    for (file_name, path) in &files {
        let recording = load_fly(path)?;
        if let Some(j) = recordings.iter().position(|r| r.name == recording.name) {
            return Err(Error::data(
                dir,
                "",
                format!(
                    "two recordings are named '{}' ({} and {file_name}): a fly's name is its file stem",
                    recording.name, files[j].0
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

// ---------------------------------------------------------------------------------
// MATLAB v5 MAT-files

const MI_INT8: u32 = 1;
const MI_UINT8: u32 = 2;
const MI_INT16: u32 = 3;
const MI_UINT16: u32 = 4;
const MI_INT32: u32 = 5;
const MI_UINT32: u32 = 6;
const MI_SINGLE: u32 = 7;
const MI_DOUBLE: u32 = 9;
const MI_INT64: u32 = 12;
const MI_UINT64: u32 = 13;
const MI_MATRIX: u32 = 14;
const MI_COMPRESSED: u32 = 15;
const MI_UTF8: u32 = 16;

const MX_SPARSE: u8 = 5;
const MX_OPAQUE: u8 = 17;

/// The name of a MATLAB array class, for errors.
fn class_name(class: u8) -> String {
    match class {
        1 => "cell".into(),
        2 => "struct".into(),
        3 => "object".into(),
        4 => "char".into(),
        5 => "sparse".into(),
        6 => "double".into(),
        7 => "single".into(),
        8 => "int8".into(),
        9 => "uint8".into(),
        10 => "int16".into(),
        11 => "uint16".into(),
        12 => "int32".into(),
        13 => "uint32".into(),
        14 => "int64".into(),
        15 => "uint64".into(),
        16 => "function handle".into(),
        17 => "opaque (MATLAB object)".into(),
        other => format!("unknown (class {other})"),
    }
}

/// A numeric variable converted to `f64`, column-major as MATLAB stores it.
#[derive(Debug)]
struct MatArray {
    dims: Vec<usize>,
    values: Vec<f64>,
}

/// An error inside a MAT-file: the variable, when known (else empty), and what is wrong.
#[derive(Debug)]
struct MatError {
    variable: String,
    message: String,
}

impl MatError {
    fn new(variable: impl Into<String>, message: impl Into<String>) -> Self {
        MatError {
            variable: variable.into(),
            message: message.into(),
        }
    }
}

fn u32_at(bytes: &[u8], pos: usize) -> Option<u32> {
    let b = bytes.get(pos..pos.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Walks the data elements of a byte slice; never reads past its end.
struct Elements<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Elements<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Elements { bytes, pos: 0 }
    }

    fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    /// The next element's data type and data. Elements are padded to 8 bytes, except
    /// `miCOMPRESSED` ones; small elements (≤ 4 bytes) sit in their 8-byte tag.
    fn next_element(&mut self) -> std::result::Result<(u32, &'a [u8]), String> {
        let rest = self.remaining();
        if rest < 8 {
            return Err(format!(
                "truncated: a data element needs an 8-byte tag, {rest} bytes remain"
            ));
        }
        let first = u32_at(self.bytes, self.pos).unwrap_or(0);
        if first >> 16 != 0 {
            let len = (first >> 16) as usize;
            if len > 4 {
                return Err(format!(
                    "a small data element claims {len} bytes, at most 4 fit in its tag"
                ));
            }
            let start = self.pos + 4;
            let data = self.bytes.get(start..start + len).unwrap_or(&[]);
            self.pos += 8;
            return Ok((first & 0xffff, data));
        }
        let len = u32_at(self.bytes, self.pos + 4).unwrap_or(0) as usize;
        if len > rest - 8 {
            return Err(format!(
                "truncated: a data element (type {first}) claims {len} bytes, {} remain",
                rest - 8
            ));
        }
        let start = self.pos + 8;
        let data = self.bytes.get(start..start + len).unwrap_or(&[]);
        let skip = if first == MI_COMPRESSED {
            len
        } else {
            len.next_multiple_of(8)
        };
        self.pos = start.saturating_add(skip).min(self.bytes.len());
        Ok((first, data))
    }
}

/// The start of a matrix element (after its tag): class, flags, dimensions, name.
struct MatrixHeader<'a> {
    class: u8,
    complex: bool,
    name: String,
    dims: Vec<usize>,
    rest: Elements<'a>,
}

/// Parses array flags, dimensions and name. `Ok(None)` for an opaque object, which
/// has no dimensions or name of the usual form (and is never a fly variable).
fn matrix_header(payload: &[u8]) -> std::result::Result<Option<MatrixHeader<'_>>, MatError> {
    let mut elements = Elements::new(payload);
    let plain = |m: String| MatError::new("", m);
    let (flags_type, flags) = elements.next_element().map_err(plain)?;
    if flags_type != MI_UINT32 || flags.len() != 8 {
        return Err(plain(format!(
            "expected array flags (miUINT32, 8 bytes), found data type {flags_type} with {} bytes",
            flags.len()
        )));
    }
    let word = u32_at(flags, 0).unwrap_or(0);
    let class = (word & 0xff) as u8;
    if class == MX_OPAQUE {
        return Ok(None);
    }
    let (dims_type, dims) = elements.next_element().map_err(plain)?;
    let (name_type, name) = elements.next_element().map_err(plain)?;
    let name = if name_type == MI_INT8 || name_type == MI_UTF8 {
        String::from_utf8_lossy(name)
            .trim_end_matches('\0')
            .to_string()
    } else {
        return Err(plain(format!(
            "expected an array name (miINT8), found data type {name_type}"
        )));
    };
    if dims_type != MI_INT32 || dims.len() % 4 != 0 || dims.len() < 8 {
        return Err(MatError::new(
            name,
            format!(
                "expected dimensions (miINT32, at least 2), found data type {dims_type} with {} bytes",
                dims.len()
            ),
        ));
    }
    let mut parsed = Vec::with_capacity(dims.len() / 4);
    for chunk in dims.chunks_exact(4) {
        let d = i32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        match usize::try_from(d) {
            Ok(d) => parsed.push(d),
            Err(_) => {
                return Err(MatError::new(name, format!("negative dimension {d}")));
            }
        }
    }
    Ok(Some(MatrixHeader {
        class,
        complex: word & 0x0800 != 0,
        name,
        dims: parsed,
        rest: elements,
    }))
}

/// The name of a (possibly truncated) matrix, if its header can be read; for errors.
fn partial_name(payload: &[u8]) -> String {
    match matrix_header(payload) {
        Ok(Some(header)) => header.name,
        _ => String::new(),
    }
}

/// The name of the variable of a top-level element cut short (plain or compressed),
/// if its header survived; for errors.
fn truncated_name(bytes: &[u8], offset: usize) -> String {
    let Some(rest) = bytes.get(offset.saturating_add(8)..) else {
        return String::new();
    };
    if u32_at(bytes, offset) == Some(MI_COMPRESSED) {
        match inflate(rest) {
            Ok(out) | Err((_, out)) => out.get(8..).map(partial_name).unwrap_or_default(),
        }
    } else {
        partial_name(rest)
    }
}

fn format_dims(dims: &[usize]) -> String {
    dims.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join(" × ")
}

/// The real values of a numeric matrix, whatever the storage type, checked against
/// its dimensions before anything is allocated.
fn numeric_values(header: MatrixHeader<'_>) -> std::result::Result<MatArray, MatError> {
    let MatrixHeader {
        class,
        complex,
        name,
        dims,
        mut rest,
    } = header;
    let fail = |m: String| MatError::new(name.as_str(), m);
    if !(6..=15).contains(&class) {
        let what = if class == MX_SPARSE {
            "a sparse matrix".to_string()
        } else {
            format!("a {} array", class_name(class))
        };
        return Err(fail(format!("expected a full numeric array, found {what}")));
    }
    if complex {
        return Err(fail("expected real values, found a complex array".into()));
    }
    let count = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| fail(format!("dimensions {} are too large", format_dims(&dims))))?;
    let (data_type, data) = if rest.remaining() == 0 && count == 0 {
        (MI_DOUBLE, &[][..])
    } else {
        rest.next_element().map_err(&fail)?
    };
    let size = match data_type {
        MI_INT8 | MI_UINT8 => 1,
        MI_INT16 | MI_UINT16 => 2,
        MI_INT32 | MI_UINT32 | MI_SINGLE => 4,
        MI_DOUBLE | MI_INT64 | MI_UINT64 => 8,
        other => {
            return Err(fail(format!(
                "unsupported storage type {other} for numeric values"
            )))
        }
    };
    if data.len() % size != 0 || data.len() / size != count {
        return Err(fail(format!(
            "dimensions {} need {count} values, but the data holds {} bytes of {size}-byte values",
            format_dims(&dims),
            data.len()
        )));
    }
    let values = data
        .chunks_exact(size)
        .map(|c| match data_type {
            MI_INT8 => f64::from(c[0] as i8),
            MI_UINT8 => f64::from(c[0]),
            MI_INT16 => f64::from(i16::from_le_bytes([c[0], c[1]])),
            MI_UINT16 => f64::from(u16::from_le_bytes([c[0], c[1]])),
            MI_INT32 => f64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            MI_UINT32 => f64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            MI_SINGLE => f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            MI_INT64 => i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f64,
            MI_UINT64 => {
                u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f64
            }
            _ => f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]),
        })
        .collect();
    Ok(MatArray { dims, values })
}

/// Inflates a `miCOMPRESSED` element, which holds one matrix element: returns that
/// element (tag included). The size its tag claims is checked against the caps before
/// anything is allocated. On failure, also returns what was inflated (for naming the
/// variable).
fn inflate(compressed: &[u8]) -> std::result::Result<Vec<u8>, (String, Vec<u8>)> {
    let cap = MAX_INFLATED_BYTES.min(
        compressed
            .len()
            .saturating_mul(MAX_INFLATE_RATIO)
            .saturating_add(1024),
    );
    let mut decoder = ZlibDecoder::new(compressed);
    let mut tag = [0u8; 8];
    if let Err(e) = decoder.read_exact(&mut tag) {
        return Err((
            format!("compressed data does not inflate to a data element: {e}"),
            Vec::new(),
        ));
    }
    let data_type = u32::from_le_bytes([tag[0], tag[1], tag[2], tag[3]]);
    let len = u32::from_le_bytes([tag[4], tag[5], tag[6], tag[7]]) as usize;
    if data_type != MI_MATRIX {
        return Err((
            format!("compressed data holds data type {data_type}, expected a matrix (14)"),
            Vec::new(),
        ));
    }
    let total = len.saturating_add(8);
    if total > cap {
        return Err((
            format!(
                "a compressed variable claims {total} bytes, more than the {cap} allowed for {} compressed bytes",
                compressed.len()
            ),
            Vec::new(),
        ));
    }
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&tag);
    if let Err(e) = (&mut decoder).take(len as u64).read_to_end(&mut out) {
        return Err((format!("compressed data is corrupt: {e}"), out));
    }
    if out.len() < total {
        return Err((
            format!(
                "truncated: compressed data inflates to {} of the {total} bytes its variable claims",
                out.len()
            ),
            out,
        ));
    }
    // the end of the stream, which verifies its checksum (any padding is ignored)
    if let Err(e) = std::io::copy(&mut (&mut decoder).take(1 << 16), &mut std::io::sink()) {
        return Err((format!("compressed data is corrupt: {e}"), out));
    }
    Ok(out)
}

/// Reads the numeric variables `wanted` from the bytes of a MAT-file; other variables
/// are skipped. A wanted variable that is absent is `None`; one that appears twice is
/// an error.
fn read_mat<const N: usize>(
    bytes: &[u8],
    wanted: [&str; N],
) -> std::result::Result<[Option<MatArray>; N], MatError> {
    const HEADER: usize = 128;
    if bytes.is_empty() {
        return Err(MatError::new(
            "",
            "the file is empty, expected a MATLAB v5 MAT-file",
        ));
    }
    if bytes.starts_with(b"MATLAB 7.3") {
        return Err(MatError::new(
            "",
            "a MATLAB v7.3 (HDF5) file is not supported: save it with `save(..., '-v7')` or scipy.io.savemat",
        ));
    }
    if bytes.len() < HEADER {
        return Err(MatError::new(
            "",
            format!(
                "not a MATLAB v5 MAT-file: {} bytes, shorter than its 128-byte header",
                bytes.len()
            ),
        ));
    }
    match &bytes[126..128] {
        b"IM" => {}
        b"MI" => {
            return Err(MatError::new(
                "",
                "a big-endian MAT-file is not supported (only little-endian)",
            ))
        }
        _ => {
            return Err(MatError::new(
                "",
                "not a MATLAB v5 MAT-file (no 'IM' endian indicator at byte 126 of the header)",
            ))
        }
    }
    let version = u16::from_le_bytes([bytes[124], bytes[125]]);
    if version != 0x0100 {
        return Err(MatError::new(
            "",
            format!("unsupported MAT-file version 0x{version:04x}, expected 0x0100 (v5/v7)"),
        ));
    }
    let mut found: [Option<MatArray>; N] = std::array::from_fn(|_| None);
    let mut elements = Elements { bytes, pos: HEADER };
    let mut index = 0usize;
    while elements.remaining() > 0 {
        let offset = elements.pos;
        if elements.remaining() < 8 && bytes[offset..].iter().all(|&b| b == 0) {
            break; // trailing padding
        }
        let at = move |m: &str| format!("element {index} at byte {offset}: {m}");
        let (data_type, data) = elements
            .next_element()
            .map_err(|m| MatError::new(truncated_name(bytes, offset), at(&m)))?;
        let inflated;
        let payload = match data_type {
            MI_MATRIX => data,
            MI_COMPRESSED => {
                inflated = inflate(data).map_err(|(m, partial)| {
                    let name = partial.get(8..).map(partial_name).unwrap_or_default();
                    MatError::new(name, at(&m))
                })?;
                &inflated[8..]
            }
            _ => &[][..], // not a variable: skipped
        };
        index += 1;
        if payload.is_empty() {
            continue;
        }
        let Some(header) = matrix_header(payload).map_err(|e| MatError {
            message: at(&e.message),
            ..e
        })?
        else {
            continue;
        };
        let Some(slot) = wanted.iter().position(|w| *w == header.name) else {
            continue;
        };
        if found[slot].is_some() {
            return Err(MatError::new(
                header.name,
                "the variable appears twice in the file",
            ));
        }
        found[slot] = Some(numeric_values(header)?);
    }
    Ok(found)
}

/// The length of a vector variable (`1 × n`, `n × 1`, or any shape with at most one
/// dimension other than 1).
fn vector_len(path: &Path, name: &str, array: &MatArray, what: &str) -> Result<usize> {
    if array.dims.iter().filter(|&&d| d != 1).count() > 1 {
        return Err(Error::data(
            path,
            name,
            format!(
                "expected a 1 × {what} vector, found dimensions {}",
                format_dims(&array.dims)
            ),
        ));
    }
    Ok(array.values.len())
}

/// Reads one fly from a MATLAB v5 `.mat` file with variables `X`, `Y` and `R` (see the
/// [module documentation](self) for the layout, the checks and the policy on an
/// unfinished last trial). The fly's name is the file stem.
pub fn load_fly_mat(path: impl AsRef<Path>) -> Result<FlyRecording> {
    let path = path.as_ref();
    let bytes = crate::io::read_whole_file(path)?;
    fly_from_mat_bytes(path, &bytes)
}

/// [`load_fly_mat`] on the bytes of the file at `path` (named in errors).
fn fly_from_mat_bytes(path: &Path, bytes: &[u8]) -> Result<FlyRecording> {
    let [x, y, r] =
        read_mat(bytes, ["X", "Y", "R"]).map_err(|e| Error::data(path, e.variable, e.message))?;
    let missing = |name: &str| {
        // the same variable in lower case: MATLAB names are case-sensitive
        let lower = name.to_lowercase();
        let found_lower = matches!(read_mat(bytes, [lower.as_str()]), Ok([Some(_)]));
        let hint = if found_lower {
            format!("; the file has '{lower}': names are case-sensitive, save it as '{name}'")
        } else {
            String::new()
        };
        Error::data(
            path,
            name,
            format!("missing variable (a fly file holds X, Y and R){hint}"),
        )
    };
    let x = x.ok_or_else(|| missing("X"))?;
    let y = y.ok_or_else(|| missing("Y"))?;
    let r = r.ok_or_else(|| missing("R"))?;

    let n = vector_len(path, "Y", &y, "presentations")?;
    vector_len(path, "R", &r, "trials")?;
    if n == 0 {
        return Err(Error::data(
            path,
            "Y",
            "expected at least one presentation, found none",
        ));
    }
    // X: presentations × odours (trailing singleton dimensions allowed)
    let mut x_dims = x.dims.clone();
    while x_dims.len() > 2 && x_dims.last() == Some(&1) {
        x_dims.pop();
    }
    let [rows, cols] = x_dims[..] else {
        return Err(Error::data(
            path,
            "X",
            format!(
                "expected a presentations × odours matrix, found dimensions {}",
                format_dims(&x.dims)
            ),
        ));
    };
    if rows != n {
        let hint = if cols == n {
            " (it looks transposed)"
        } else {
            ""
        };
        return Err(Error::data(
            path,
            "X",
            format!(
                "has {rows} rows but 'Y' has {n} presentations: expected presentations × odours{hint}"
            ),
        ));
    }
    if cols == 0 || cols > MAX_ODOURS {
        return Err(Error::data(
            path,
            "X",
            format!("expected 1..={MAX_ODOURS} odour columns, found {cols}"),
        ));
    }

    let mut decisions = Vec::with_capacity(n);
    for (p, &v) in y.values.iter().enumerate() {
        if !v.is_finite() {
            return Err(Error::data(
                path,
                "Y",
                format!("expected finite values, found {v} at presentation {p}"),
            ));
        }
        if v != 0.0 && v != 1.0 {
            return Err(Error::data(
                path,
                "Y",
                format!("expected 0 (reject) or 1 (accept), found {v} at presentation {p}"),
            ));
        }
        decisions.push(v as i64);
    }
    let mut odours = Vec::with_capacity(n);
    for p in 0..n {
        let row: Vec<f64> = (0..cols).map(|j| x.values[p + j * rows]).collect();
        if let Some((j, v)) = row.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(Error::data(
                path,
                "X",
                format!("expected finite values, found {v} at presentation {p}, odour column {j}"),
            ));
        }
        let ones: Vec<usize> = (0..cols).filter(|&j| row[j] == 1.0).collect();
        let zeros = row.iter().filter(|&&v| v == 0.0).count();
        if ones.len() != 1 || zeros != cols - 1 {
            let shown: Vec<String> = row.iter().take(8).map(|v| v.to_string()).collect();
            let more = if cols > 8 { ", …" } else { "" };
            return Err(Error::data(
                path,
                "X",
                format!(
                    "expected a one-hot row (one 1, the rest 0), found [{}{more}] at presentation {p}",
                    shown.join(", ")
                ),
            ));
        }
        odours.push(ones[0] as i64);
    }
    if let Some((t, v)) = r.values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(Error::data(
            path,
            "R",
            format!("expected finite values, found {v} at trial {t}"),
        ));
    }
    let names = Names {
        decisions: "Y",
        rewards: "R",
    };
    assemble(path, &names, odours, decisions, r.values, cols)
}

// ---------------------------------------------------------------------------------
// CSV

/// A cell without surrounding whitespace and double quotes.
fn unquote(cell: &str) -> &str {
    let cell = cell.trim();
    cell.strip_prefix('"')
        .and_then(|c| c.strip_suffix('"'))
        .map(str::trim)
        .unwrap_or(cell)
}

/// A finite number from a CSV cell.
fn csv_number(path: &Path, column: &str, line: usize, cell: &str) -> Result<f64> {
    if cell.is_empty() {
        return Err(Error::data(
            path,
            column,
            format!("line {line}: expected a number, found an empty cell"),
        ));
    }
    match cell.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(Error::data(
            path,
            column,
            format!("line {line}: expected a finite number, found '{cell}'"),
        )),
        Err(_) => Err(Error::data(
            path,
            column,
            format!("line {line}: expected a number, found '{cell}'"),
        )),
    }
}

/// A 0-based index from a CSV cell (`3` or `3.0`).
fn csv_index(path: &Path, column: &str, line: usize, cell: &str) -> Result<i64> {
    let v = csv_number(path, column, line, cell)?;
    if v < 0.0 || v.fract() != 0.0 || v > 9.0e15 {
        return Err(Error::data(
            path,
            column,
            format!("line {line}: expected a 0-based integer, found '{cell}'"),
        ));
    }
    Ok(v as i64)
}

/// Reads one fly from a CSV file with columns `trial,odour,decision,reward`, one row
/// per presentation (see the [module documentation](self) for the layout, the checks
/// and the policy on an unfinished last trial). The fly's name is the file stem.
pub fn load_fly_csv(path: impl AsRef<Path>) -> Result<FlyRecording> {
    let path = path.as_ref();
    let bytes = crate::io::read_whole_file(path)?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| Error::data(path, "", format!("expected UTF-8 text: {e}")))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty());
    const COLUMNS: [&str; 4] = ["trial", "odour", "decision", "reward"];
    let Some((_, header)) = lines.next() else {
        return Err(Error::data(
            path,
            "",
            "the file is empty, expected the header 'trial,odour,decision,reward'",
        ));
    };
    let names: Vec<String> = header
        .split(',')
        .map(|c| unquote(c).to_ascii_lowercase())
        .collect();
    let mut index = [0usize; 4];
    for (slot, column) in index.iter_mut().zip(COLUMNS) {
        let mut at = names.iter().enumerate().filter(|(_, n)| *n == column);
        *slot = match (at.next(), at.next()) {
            (Some((i, _)), None) => i,
            (None, _) => {
                return Err(Error::data(
                    path,
                    column,
                    format!(
                        "missing column: the header must name trial, odour, decision and reward, found '{header}'"
                    ),
                ))
            }
            (Some(_), Some(_)) => {
                return Err(Error::data(
                    path,
                    column,
                    "the header names this column twice",
                ))
            }
        };
    }
    let [c_trial, c_odour, c_decision, c_reward] = index;
    let width = names.len();

    let mut odours = Vec::new();
    let mut decisions = Vec::new();
    let mut rewards = Vec::new();
    let mut max_odour = 0i64;
    for (line, row) in lines {
        let cells: Vec<&str> = row.split(',').map(unquote).collect();
        if cells.len() != width {
            let column = COLUMNS
                .iter()
                .zip(index)
                .find(|(_, i)| *i >= cells.len())
                .map(|(c, _)| *c)
                .unwrap_or("");
            return Err(Error::data(
                path,
                column,
                format!(
                    "line {line}: {} cells, but the header has {width} columns",
                    cells.len()
                ),
            ));
        }
        let trial = csv_index(path, "trial", line, cells[c_trial])?;
        let odour = csv_index(path, "odour", line, cells[c_odour])?;
        let decision = csv_number(path, "decision", line, cells[c_decision])?;
        if decision != 0.0 && decision != 1.0 {
            return Err(Error::data(
                path,
                "decision",
                format!(
                    "line {line}: expected 0 (reject) or 1 (accept), found '{}'",
                    cells[c_decision]
                ),
            ));
        }
        if odour >= MAX_ODOURS as i64 {
            return Err(Error::data(
                path,
                "odour",
                format!("line {line}: odour {odour} is beyond the {MAX_ODOURS} odours supported"),
            ));
        }
        let accepts = rewards.len() as i64;
        if trial != accepts {
            return Err(Error::data(
                path,
                "trial",
                format!(
                    "line {line}: expected trial {accepts} (trials count from 0 and a trial ends with its accept), found {trial}"
                ),
            ));
        }
        let reward_cell = cells[c_reward];
        if decision == 1.0 {
            rewards.push(csv_number(path, "reward", line, reward_cell)?);
        } else if !reward_cell.is_empty() && csv_number(path, "reward", line, reward_cell)? != 0.0 {
            return Err(Error::data(
                path,
                "reward",
                format!(
                    "line {line}: a rejected presentation collects no reward, expected an empty cell or 0, found '{reward_cell}'"
                ),
            ));
        }
        max_odour = max_odour.max(odour);
        odours.push(odour);
        decisions.push(decision as i64);
    }
    if decisions.is_empty() {
        return Err(Error::data(
            path,
            "decision",
            "expected at least one presentation (a row after the header), found none",
        ));
    }
    let names = Names {
        decisions: "decision",
        rewards: "reward",
    };
    let n_odours = (max_odour as usize + 1).max(2);
    assemble(path, &names, odours, decisions, rewards, n_odours)
}

// ---------------------------------------------------------------------------------
// Packing into a behaviour dataset

/// Packs fly recordings into the padded behaviour layout of docs/model.md §6, one session per
/// fly in the order given:
///
/// - `n_in` is the largest number of odours; odour `k` drives input `k` at 0.75 and the
///   others at 0 (with two odours `μ_A = (0.75, 0)`, `μ_B = (0, 0.75)`, docs/model.md §4.2); the
///   inputs carry no noise (the fit re-samples it, `input_noise_std` = 0.015);
/// - `expected_rewards[t]` is the mean of the last `expected_reward_window` rewards
///   before trial `t` (zeros before the first);
/// - `initial_weights` of fly `k` are `n_hidden × n_in` draws of `N(0, std²)`, row by
///   row, from ChaCha8 seeded with `seed`, stream `k + 1` (as simulated sessions);
/// - metadata: `kind` = `"behaviour"`, `reward_signal`, `seed`, `version`,
///   `odour_patterns`, `input_noise_std`, `expected_reward_window`,
///   `initial_weight_std`, `flies` (the names) and `source` ([`FLY_DATA_SOURCE`]); no
///   `rule` (real data).
///
/// Every recording is checked with [`FlyRecording::validate`] and the result with
/// [`BehaviourDataset::new`].
pub fn to_dataset(
    recordings: &[FlyRecording],
    n_hidden: usize,
    initial_weight_std: f64,
    seed: u64,
    expected_reward_window: usize,
    reward_signal: RewardSignal,
) -> Result<BehaviourDataset> {
    if recordings.is_empty() {
        return Err(Error::config(
            "flies",
            "expected at least one fly recording",
        ));
    }
    if n_hidden == 0 {
        return Err(Error::config("n-hidden", "must be at least 1"));
    }
    if expected_reward_window == 0 {
        return Err(Error::config(
            "expected-reward-window",
            "must be at least 1",
        ));
    }
    if !(initial_weight_std.is_finite() && initial_weight_std >= 0.0) {
        return Err(Error::config(
            "initial-weight-std",
            format!("must be finite and ≥ 0, got {initial_weight_std}"),
        ));
    }
    for recording in recordings {
        recording.validate()?;
    }
    let n = recordings.len();
    let n_in = recordings.iter().map(|r| r.n_odours).max().unwrap_or(2);
    let max_pres = recordings
        .iter()
        .map(|r| r.n_presentations())
        .max()
        .unwrap_or(0);
    let max_trials = recordings.iter().map(|r| r.n_trials()).max().unwrap_or(0);
    let fits = |a: usize, b: usize, c: usize| {
        a.checked_mul(b)
            .and_then(|v| v.checked_mul(c))
            .is_some_and(|v| v <= (isize::MAX as usize) / 8)
    };
    if !fits(n, n_hidden, n_in) || !fits(n, max_pres, n_in) {
        return Err(Error::config(
            "n-hidden",
            format!("{n_hidden} hidden units × {n_in} inputs × {n} flies is too large"),
        ));
    }
    let weight_dist = normal(0.0, initial_weight_std)?;

    let mut inputs = Array3::zeros((n, max_pres, n_in));
    let mut odours = Array2::from_elem((n, max_pres), -1i64);
    let mut decisions = Array2::from_elem((n, max_pres), -1i64);
    let mut trial_of_presentation = Array2::from_elem((n, max_pres), -1i64);
    let mut rewards = Array2::zeros((n, max_trials));
    let mut expected_rewards = Array2::zeros((n, max_trials));
    let mut initial_weights = Array3::zeros((n, n_hidden, n_in));
    for (k, fly) in recordings.iter().enumerate() {
        for p in 0..fly.n_presentations() {
            inputs[[k, p, fly.odours[p] as usize]] = ODOUR_LEVEL;
            odours[[k, p]] = fly.odours[p];
            decisions[[k, p]] = fly.decisions[p];
            trial_of_presentation[[k, p]] = fly.trial_of_presentation[p];
        }
        let mut recent = vec![0.0; expected_reward_window];
        for (t, &reward) in fly.rewards.iter().enumerate() {
            rewards[[k, t]] = reward;
            expected_rewards[[k, t]] = recent.iter().sum::<f64>() / expected_reward_window as f64;
            recent[t % expected_reward_window] = reward;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(k as u64 + 1);
        for i in 0..n_hidden {
            for j in 0..n_in {
                initial_weights[[k, i, j]] = rng.sample(weight_dist);
            }
        }
    }
    let patterns: Vec<Vec<f64>> = (0..n_in)
        .map(|odour| {
            (0..n_in)
                .map(|i| if i == odour { ODOUR_LEVEL } else { 0.0 })
                .collect()
        })
        .collect();
    let flies: Vec<&str> = recordings.iter().map(|r| r.name.as_str()).collect();
    let mut metadata = serde_json::Map::new();
    for (key, value) in [
        ("kind", serde_json::json!("behaviour")),
        ("reward_signal", serde_json::json!(reward_signal.name())),
        ("seed", serde_json::json!(seed)),
        ("version", serde_json::json!(crate::VERSION)),
        ("odour_patterns", serde_json::json!(patterns)),
        ("input_noise_std", serde_json::json!(INPUT_NOISE_STD)),
        (
            "expected_reward_window",
            serde_json::json!(expected_reward_window),
        ),
        ("initial_weight_std", serde_json::json!(initial_weight_std)),
        ("flies", serde_json::json!(flies)),
        ("source", serde_json::json!(FLY_DATA_SOURCE)),
    ] {
        metadata.insert(key.to_string(), value);
    }
    BehaviourDataset::new(
        inputs,
        odours,
        decisions,
        trial_of_presentation,
        recordings.iter().map(|r| r.n_presentations()).collect(),
        rewards,
        expected_rewards,
        recordings.iter().map(|r| r.n_trials()).collect(),
        initial_weights,
        metadata,
        Path::new("(fly recordings)"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/flies")
    }

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(fixtures().join(name)).expect("fixture present")
    }

    // The session of the scipy fixtures and `example.csv` (tests/data/flies/README.md):
    // the last two presentations are rejections after the last accept.
    const ODOURS: [i64; 14] = [0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 1, 0, 0, 1];
    const DECISIONS: [i64; 14] = [0, 1, 1, 0, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0];
    const REWARDS: [f64; 8] = [1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0];

    fn expected(name: &str) -> FlyRecording {
        FlyRecording {
            odours: ODOURS[..12].to_vec(),
            decisions: DECISIONS[..12].to_vec(),
            trial_of_presentation: vec![0, 0, 1, 2, 2, 3, 4, 4, 4, 5, 6, 7],
            rewards: REWARDS.to_vec(),
            n_odours: 2,
            name: name.into(),
        }
    }

    /// The README's facts about Fly1 and Fly2.
    fn check_readme_facts(fly: &FlyRecording) {
        let facts = match fly.name.as_str() {
            "Fly1" => (286, 46, 146.0),
            "Fly2" => (319, 79, 180.0),
            _ => return,
        };
        let found = (
            fly.n_presentations(),
            fly.n_rejections(),
            fly.rewards.iter().sum::<f64>(),
        );
        assert_eq!(found, facts, "{}", fly.name);
    }

    // ---- a writer of hand-built MAT-files (MATLAB's layout) ----

    /// A variable: class (with flag bits such as logical 0x200, complex 0x800),
    /// dimensions, storage type and raw data.
    struct Var {
        name: &'static str,
        class: u32,
        dims: Vec<i32>,
        data_type: u32,
        data: Vec<u8>,
    }

    fn element(data_type: u32, data: &[u8]) -> Vec<u8> {
        let mut out = data_type.to_le_bytes().to_vec();
        out.extend((data.len() as u32).to_le_bytes());
        out.extend(data);
        out.resize(out.len().next_multiple_of(8), 0);
        out
    }

    fn small_element(data_type: u32, data: &[u8]) -> Vec<u8> {
        assert!(data.len() <= 4);
        let mut out = (data_type | (data.len() as u32) << 16)
            .to_le_bytes()
            .to_vec();
        out.extend(data);
        out.resize(8, 0);
        out
    }

    /// A matrix element as MATLAB writes it (short names in a small element).
    fn matrix(var: &Var) -> Vec<u8> {
        let mut flags = var.class.to_le_bytes().to_vec();
        flags.extend([0u8; 4]);
        let mut body = element(MI_UINT32, &flags);
        let dims: Vec<u8> = var.dims.iter().flat_map(|d| d.to_le_bytes()).collect();
        body.extend(element(MI_INT32, &dims));
        body.extend(if var.name.len() <= 4 {
            small_element(MI_INT8, var.name.as_bytes())
        } else {
            element(MI_INT8, var.name.as_bytes())
        });
        body.extend(element(var.data_type, &var.data));
        element(MI_MATRIX, &body)
    }

    fn zlib(bytes: &[u8]) -> Vec<u8> {
        let mut encoder =
            flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(bytes).expect("compressed");
        encoder.finish().expect("compressed")
    }

    fn compressed_element(payload: &[u8]) -> Vec<u8> {
        let z = zlib(payload);
        let mut out = MI_COMPRESSED.to_le_bytes().to_vec();
        out.extend((z.len() as u32).to_le_bytes());
        out.extend(z);
        out
    }

    fn header(text: &str) -> Vec<u8> {
        let mut out = text.as_bytes().to_vec();
        out.resize(116, b' ');
        out.extend([0u8; 8]);
        out.extend(0x0100u16.to_le_bytes());
        out.extend(b"IM");
        out
    }

    const MATLAB_HEADER: &str =
        "MATLAB 5.0 MAT-file, Platform: PCWIN64, Created on: Mon Jan  1 00:00:00 2024";

    fn mat_file(vars: &[Var], compressed: bool) -> Vec<u8> {
        let mut out = header(MATLAB_HEADER);
        for var in vars {
            let m = matrix(var);
            out.extend(if compressed {
                compressed_element(&m)
            } else {
                m
            });
        }
        out
    }

    fn encode(values: &[f64], data_type: u32) -> Vec<u8> {
        values
            .iter()
            .flat_map(|&v| match data_type {
                MI_INT8 => (v as i8).to_le_bytes().to_vec(),
                MI_UINT8 => (v as u8).to_le_bytes().to_vec(),
                MI_INT16 => (v as i16).to_le_bytes().to_vec(),
                MI_UINT16 => (v as u16).to_le_bytes().to_vec(),
                MI_INT32 => (v as i32).to_le_bytes().to_vec(),
                MI_UINT32 => (v as u32).to_le_bytes().to_vec(),
                MI_SINGLE => (v as f32).to_le_bytes().to_vec(),
                MI_INT64 => (v as i64).to_le_bytes().to_vec(),
                MI_UINT64 => (v as u64).to_le_bytes().to_vec(),
                _ => v.to_le_bytes().to_vec(),
            })
            .collect()
    }

    fn double(name: &'static str, dims: &[i32], values: &[f64], data_type: u32) -> Var {
        Var {
            name,
            class: 6,
            dims: dims.to_vec(),
            data_type,
            data: encode(values, data_type),
        }
    }

    /// `X` (column-major), `Y` and `R` of the fixture session.
    fn session_values() -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let n = ODOURS.len();
        let mut x = vec![0.0; 2 * n];
        for (p, &o) in ODOURS.iter().enumerate() {
            x[p + o as usize * n] = 1.0;
        }
        let y = DECISIONS.iter().map(|&d| d as f64).collect();
        (x, y, REWARDS.to_vec())
    }

    /// `X`, `Y`, `R` variables from values (X is `x.len() / rows` columns wide).
    fn fly_vars(x: &[f64], rows: i32, y: &[f64], r: &[f64]) -> Vec<Var> {
        let cols = x.len() as i32 / rows.max(1);
        vec![
            double("X", &[rows, cols], x, MI_DOUBLE),
            double("Y", &[1, y.len() as i32], y, MI_DOUBLE),
            double("R", &[1, r.len() as i32], r, MI_DOUBLE),
        ]
    }

    fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).expect("written");
        path
    }

    fn tempdir() -> tempfile::TempDir {
        tempfile::tempdir().expect("temporary directory")
    }

    /// The error names the file and the variable and contains `words`.
    fn assert_error(result: Result<FlyRecording>, file: &str, variable: &str, words: &[&str]) {
        let message = match result {
            Ok(_) => panic!("{file}: expected an error naming '{variable}'"),
            Err(e) => e.to_string(),
        };
        assert!(
            message.contains(file)
                && (message.contains(&format!("variable '{variable}'"))
                    || (variable.is_empty() && !message.contains("variable '")))
                && words.iter().all(|w| message.contains(w)),
            "'{message}' should name {file}, '{variable}' and {words:?}"
        );
    }

    /// Writes a hand-built MAT-file with `vars` and loads it.
    fn load_vars(file: &str, vars: &[Var], compressed: bool) -> Result<FlyRecording> {
        let dir = tempdir();
        load_fly_mat(write(&dir, file, &mat_file(vars, compressed)))
    }

    /// (offset, total length) of the top-level elements of a MAT-file.
    fn top_level_elements(bytes: &[u8]) -> Vec<(usize, usize)> {
        let mut elements = Elements { bytes, pos: 128 };
        let mut out = Vec::new();
        while elements.remaining() > 0 {
            let start = elements.pos;
            elements.next_element().expect("a valid file");
            out.push((start, elements.pos - start));
        }
        out
    }

    // ---- real files ----

    #[test]
    fn the_shared_flies_load_with_the_readme_facts() {
        // the repository's copy of the 18 public files (data/flies/README.md)
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/flies");
        let flies = load_fly_dir(&dir).expect("all flies load");
        let names: Vec<&str> = flies.iter().map(|f| f.name.as_str()).collect();
        let expected: Vec<String> = (1..=18).map(|k| format!("Fly{k}")).collect();
        assert_eq!(names, expected);
        for fly in &flies {
            fly.validate().expect("consistent");
            assert_eq!(fly.n_odours, 2);
            assert_eq!(
                fly.decisions.iter().filter(|&&d| d == 1).count(),
                fly.n_trials()
            );
            check_readme_facts(fly);
        }
        assert_eq!(flies[0].n_presentations(), 286);
        assert_eq!(flies[1].n_presentations(), 319);
        let data = to_dataset(&flies, 10, 0.01, 0, 10, RewardSignal::Centred).expect("a dataset");
        assert_eq!(data.n_sessions(), 18);
        assert_eq!(data.n_in(), 2);
    }

    #[test]
    fn the_fixture_copy_of_fly1_has_the_readme_facts() {
        let fly = load_fly_mat(fixtures().join("Fly1.mat")).expect("Fly1 loads");
        assert_eq!(fly.name, "Fly1");
        check_readme_facts(&fly);
        assert_eq!(fly.n_trials(), 240);
        fly.validate().expect("consistent");
    }

    #[test]
    fn scipy_files_compressed_and_plain_and_the_csv_load_the_same_session() {
        for file in ["scipy_compressed.mat", "scipy_uncompressed.mat"] {
            // scipy's header text has no comma after "MAT-file"
            assert!(fixture(file).starts_with(b"MATLAB 5.0 MAT-file Platform: posix"));
            let fly = load_fly_mat(fixtures().join(file)).expect("loads");
            assert_eq!(fly, expected(file.trim_end_matches(".mat")), "{file}");
        }
        // the compressed fixture really is compressed
        let bytes = fixture("scipy_compressed.mat");
        assert_eq!(u32_at(&bytes, 128), Some(MI_COMPRESSED));
        let fly = load_fly_csv(fixtures().join("example.csv")).expect("loads");
        assert_eq!(fly, expected("example"));
        // load_fly dispatches on the extension
        assert_eq!(
            load_fly(fixtures().join("example.csv")).expect("loads"),
            expected("example")
        );
    }

    #[test]
    fn matlab_style_files_with_compact_storage_load() {
        let (x, y, r) = session_values();
        let n = ODOURS.len() as i32;
        let types = [
            MI_INT8, MI_UINT8, MI_INT16, MI_UINT16, MI_INT32, MI_UINT32, MI_SINGLE, MI_DOUBLE,
            MI_INT64, MI_UINT64,
        ];
        for data_type in types {
            for compressed in [false, true] {
                let vars = vec![
                    // a char array before the variables, an opaque object and a struct
                    Var {
                        name: "note",
                        class: 4,
                        dims: vec![1, 2],
                        data_type: MI_UINT16,
                        data: encode(&[104.0, 105.0], MI_UINT16),
                    },
                    Var {
                        name: "obj",
                        class: 17,
                        dims: vec![1, 1],
                        data_type: MI_UINT8,
                        data: vec![1, 2, 3],
                    },
                    double("X", &[n, 2], &x, data_type),
                    // logical: class uint8 with the logical flag
                    Var {
                        name: "Y",
                        class: 9 | 0x200,
                        dims: vec![1, n],
                        data_type,
                        data: encode(&y, data_type),
                    },
                    Var {
                        name: "info",
                        class: 2,
                        dims: vec![1, 1],
                        data_type: MI_INT32,
                        data: encode(&[4.0], MI_INT32),
                    },
                    double("R", &[REWARDS.len() as i32, 1], &r, data_type),
                ];
                let fly = load_vars("matlab.mat", &vars, compressed)
                    .unwrap_or_else(|e| panic!("type {data_type}, compressed {compressed}: {e}"));
                assert_eq!(fly, expected("matlab"));
            }
        }
    }

    // ---- packing ----

    #[test]
    fn to_dataset_packs_flies_in_the_behaviour_layout() {
        let flies = vec![
            load_fly_mat(fixtures().join("scipy_compressed.mat")).expect("loads"),
            load_fly_mat(fixtures().join("Fly1.mat")).expect("loads"),
        ];
        let data = to_dataset(&flies, 10, 0.01, 7, 10, RewardSignal::Raw).expect("packs");
        assert_eq!(data.inputs.shape(), [2, 286, 2]);
        assert_eq!(data.n_presentations, [12, 286]);
        assert_eq!(data.n_trials, [8, 240]);
        assert_eq!(data.initial_weights.shape(), [2, 10, 2]);
        for (k, fly) in flies.iter().enumerate() {
            let session = data.session(k);
            assert_eq!(session.decisions, fly.decisions);
            assert_eq!(session.trial_of_presentation, fly.trial_of_presentation);
            assert_eq!(session.rewards, fly.rewards);
            assert_eq!(data.session_odours(k), fly.odours);
            for (p, &odour) in fly.odours.iter().enumerate() {
                for i in 0..2 {
                    let level = if i == odour as usize { 0.75 } else { 0.0 };
                    assert_eq!(data.inputs[[k, p, i]], level);
                }
            }
            // E[R]: the mean of the last 10 rewards before the trial, zeros before the first
            for t in 0..fly.n_trials() {
                let sum: f64 = fly.rewards[t.saturating_sub(10)..t].iter().sum();
                assert!((session.expected_rewards[t] - sum / 10.0).abs() < 1e-12);
            }
            // W₀ from ChaCha8 (seed, stream k + 1), row by row
            let mut rng = ChaCha8Rng::seed_from_u64(7);
            rng.set_stream(k as u64 + 1);
            let dist = normal(0.0, 0.01).expect("a distribution");
            let draws: Vec<f64> = (0..20).map(|_| rng.sample(dist)).collect();
            assert_eq!(session.initial_weights, &draws[..]);
        }
        // padding
        assert!(data.decisions.row(0).iter().skip(12).all(|&d| d == -1));
        assert!(data
            .inputs
            .slice(ndarray::s![0, 12.., ..])
            .iter()
            .all(|&v| v == 0.0));
        // metadata
        let m = &data.metadata;
        assert_eq!(m["kind"], "behaviour");
        assert_eq!(m["reward_signal"], "raw");
        assert_eq!(m["seed"], 7);
        assert_eq!(m["version"], crate::VERSION);
        assert_eq!(
            m["odour_patterns"],
            serde_json::json!([[0.75, 0.0], [0.0, 0.75]])
        );
        assert_eq!(m["input_noise_std"], 0.015);
        assert_eq!(m["flies"], serde_json::json!(["scipy_compressed", "Fly1"]));
        assert!(m["source"]
            .as_str()
            .is_some_and(|s| s.contains("zenodo.7449214")));
        assert!(!m.contains_key("rule"));
        assert_eq!(data.reward_signal(), RewardSignal::Raw);
        assert_eq!(data.generating_rule(), None);
        // reproducible; another seed draws other weights
        let again = to_dataset(&flies, 10, 0.01, 7, 10, RewardSignal::Raw).expect("packs");
        assert_eq!(again, data);
        let other = to_dataset(&flies, 10, 0.01, 8, 10, RewardSignal::Raw).expect("packs");
        assert_ne!(other.initial_weights, data.initial_weights);
        // a dataset file like any other
        let dir = tempdir();
        let path = dir.path().join("flies.npz");
        data.save(&path).expect("saved");
        assert_eq!(BehaviourDataset::load(&path).expect("loaded"), data);
        let resampled = crate::fit::behaviour::resample_inputs(&data, 1).expect("inputs");
        assert_eq!(resampled.shape(), data.inputs.shape());
    }

    #[test]
    fn to_dataset_refuses_bad_settings_and_inconsistent_recordings() {
        let fly = expected("handmade");
        let message = |result: Result<BehaviourDataset>| match result {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        };
        let pack =
            |flies: &[FlyRecording]| to_dataset(flies, 10, 0.01, 0, 10, RewardSignal::Centred);
        assert!(message(pack(&[])).contains("flies"));
        let one = std::slice::from_ref(&fly);
        assert!(
            message(to_dataset(one, 0, 0.01, 0, 10, RewardSignal::Centred)).contains("n-hidden")
        );
        assert!(
            message(to_dataset(one, 10, 0.01, 0, 0, RewardSignal::Centred))
                .contains("expected-reward-window")
        );
        assert!(
            message(to_dataset(one, 10, -1.0, 0, 10, RewardSignal::Centred))
                .contains("initial-weight-std")
        );
        type Edit = fn(&mut FlyRecording);
        let cases: [(&str, Edit); 5] = [
            ("decisions", |f| f.decisions[3] = 2),
            ("rewards", |f| {
                f.rewards.pop();
            }),
            ("odours", |f| f.odours[0] = 2),
            ("trial_of_presentation", |f| f.trial_of_presentation[1] = 1),
            ("decisions", |f| {
                f.decisions.push(0);
                f.odours.push(0);
                f.trial_of_presentation.push(8);
            }),
        ];
        for (field, edit) in cases {
            let mut bad = fly.clone();
            edit(&mut bad);
            let text = message(pack(&[bad]));
            assert!(
                text.contains("handmade") && text.contains(&format!("variable '{field}'")),
                "'{text}' should name '{field}'"
            );
        }
    }

    // ---- directories ----

    #[test]
    fn natural_order_puts_fly2_before_fly10() {
        let mut names = vec!["Fly10.mat", "Fly2.mat", "Fly1.mat", "Fly01.mat", "fly3.mat"];
        names.sort_by(|a, b| natural_cmp(a, b));
        // equal numbers (01, 1) fall back to plain order
        assert_eq!(
            names,
            ["Fly01.mat", "Fly1.mat", "Fly2.mat", "Fly10.mat", "fly3.mat"]
        );
    }

    #[test]
    fn a_directory_loads_in_natural_order() {
        let dir = tempdir();
        let mat = fixture("scipy_compressed.mat");
        write(&dir, "Fly10.mat", &mat);
        write(&dir, "Fly2.MAT", &fixture("scipy_uncompressed.mat"));
        write(&dir, "Fly1.csv", &fixture("example.csv"));
        write(&dir, "README.md", b"not a fly");
        write(&dir, "._Fly3.mat", b"macOS resource fork, not a fly");
        std::fs::create_dir(dir.path().join("Fly4.mat")).expect("a directory");
        let flies = load_fly_dir(dir.path()).expect("loads");
        let names: Vec<&str> = flies.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["Fly1", "Fly2", "Fly10"]);
        assert_eq!(flies[2], expected("Fly10"));
        // two files with one stem
        write(&dir, "Fly2.csv", &fixture("example.csv"));
        let message = load_fly_dir(dir.path()).expect_err("refused").to_string();
        assert!(
            message.contains("two recordings are named 'Fly2'"),
            "{message}"
        );
    }

    #[test]
    fn a_directory_without_flies_is_an_error() {
        let dir = tempdir();
        write(&dir, "notes.txt", b"nothing here");
        let message = load_fly_dir(dir.path()).expect_err("refused").to_string();
        assert!(
            message.contains(&dir.path().display().to_string())
                && message.contains("no fly recordings"),
            "{message}"
        );
    }

    // ---- bad .mat files ----

    #[test]
    fn mat_decisions_other_than_0_or_1_are_refused() {
        let (x, mut y, r) = session_values();
        y[5] = 2.0;
        let result = load_vars("Fly3.mat", &fly_vars(&x, 14, &y, &r), true);
        assert_error(
            result,
            "Fly3.mat",
            "Y",
            &["expected 0 (reject) or 1 (accept), found 2 at presentation 5"],
        );
    }

    #[test]
    fn mat_reward_count_must_match_the_accepts() {
        let (x, y, r) = session_values();
        let result = load_vars("Fly4.mat", &fly_vars(&x, 14, &y, &r[..7]), false);
        assert_error(
            result,
            "Fly4.mat",
            "R",
            &[
                "a reward count that does not match the accepted trials",
                "7 rewards, 8 accepts",
            ],
        );
    }

    #[test]
    fn mat_x_and_y_lengths_must_agree() {
        let (x, y, r) = session_values();
        // X: 13 presentations × 2
        let short: Vec<f64> = x[..13].iter().chain(&x[14..27]).copied().collect();
        let result = load_vars("Fly5.mat", &fly_vars(&short, 13, &y, &r), true);
        assert_error(result, "Fly5.mat", "X", &["13 rows", "14 presentations"]);
        // X transposed
        let vars = vec![
            double("X", &[2, 14], &x, MI_DOUBLE),
            double("Y", &[1, 14], &y, MI_DOUBLE),
            double("R", &[1, 8], &r, MI_DOUBLE),
        ];
        assert_error(
            load_vars("Fly5.mat", &vars, false),
            "Fly5.mat",
            "X",
            &["transposed"],
        );
    }

    #[test]
    fn mat_missing_variables_are_named() {
        let (x, y, r) = session_values();
        let mut vars = fly_vars(&x, 14, &y, &r);
        vars.pop();
        assert_error(
            load_vars("Fly6.mat", &vars, true),
            "Fly6.mat",
            "R",
            &["missing variable"],
        );
        vars.remove(0);
        assert_error(
            load_vars("Fly6.mat", &vars, false),
            "Fly6.mat",
            "X",
            &["missing variable"],
        );
    }

    #[test]
    fn a_lower_case_variable_is_pointed_out() {
        let (x, y, r) = session_values();
        let cols = x.len() as i32 / 14;
        let vars = vec![
            double("x", &[14, cols], &x, MI_DOUBLE),
            double("Y", &[1, y.len() as i32], &y, MI_DOUBLE),
            double("R", &[1, r.len() as i32], &r, MI_DOUBLE),
        ];
        assert_error(
            load_vars("Fly7.mat", &vars, false),
            "Fly7.mat",
            "X",
            &["missing variable", "the file has 'x'", "case-sensitive"],
        );
    }

    #[test]
    fn mat_truncated_files_are_refused() {
        let dir = tempdir();
        // compressed fixture: X, Y, R, ...; plain fixture: note, X, Y, R, ...
        for (file, r_index) in [("scipy_compressed.mat", 2), ("scipy_uncompressed.mat", 3)] {
            let bytes = fixture(file);
            let (start, len) = top_level_elements(&bytes)[r_index];
            let cut = start + len - 4;
            let path = write(&dir, "Fly7.mat", &bytes[..cut]);
            assert_error(load_fly_mat(&path), "Fly7.mat", "R", &["truncated"]);
            // any truncation up to the end of R is an error, none panics
            for cut in 0..bytes.len() {
                let result = fly_from_mat_bytes(Path::new("cut.mat"), &bytes[..cut]);
                assert!(cut >= start + len || result.is_err(), "{file} cut at {cut}");
            }
        }
    }

    #[test]
    fn not_a_mat_file_is_refused() {
        let dir = tempdir();
        let text = "trial,odour,decision,reward\n".repeat(10);
        let path = write(&dir, "Fly8.mat", text.as_bytes());
        assert_error(
            load_fly_mat(&path),
            "Fly8.mat",
            "",
            &["not a MATLAB v5 MAT-file"],
        );
        let path = write(&dir, "Fly8.mat", b"hello");
        assert_error(
            load_fly_mat(&path),
            "Fly8.mat",
            "",
            &["not a MATLAB v5 MAT-file"],
        );
        let mut v73 = header("MATLAB 7.3 MAT-file, Platform: GLNXA64, HDF5 schema 1.00 .");
        v73[124] = 0;
        v73[125] = 2;
        let path = write(&dir, "Fly8.mat", &v73);
        assert_error(load_fly_mat(&path), "Fly8.mat", "", &["v7.3"]);
    }

    #[test]
    fn huge_dimensions_are_refused_before_allocating() {
        // the plain fixture's X: dimensions 14 × 2 patched to 2³¹−1 × 2
        let mut bytes = fixture("scipy_uncompressed.mat");
        let dims: Vec<u8> = [5u32, 8, 14, 2]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let at = bytes
            .windows(dims.len())
            .position(|w| w == dims)
            .expect("X's dimensions");
        bytes[at + 8..at + 12].copy_from_slice(&i32::MAX.to_le_bytes());
        let dir = tempdir();
        let path = write(&dir, "Fly9.mat", &bytes);
        assert_error(
            load_fly_mat(&path),
            "Fly9.mat",
            "X",
            &["2147483647 × 2", "need"],
        );
        // compressed, with a product that overflows and one that merely does not match
        let (x, y, r) = session_values();
        for dims in [vec![i32::MAX, i32::MAX, i32::MAX], vec![100_000, 100_000]] {
            let mut vars = fly_vars(&x, 14, &y, &r);
            vars[0].dims = dims;
            assert_error(
                load_vars("Fly9.mat", &vars, true),
                "Fly9.mat",
                "X",
                &["dimensions"],
            );
        }
        // a compressed element whose matrix claims 4 GiB
        let mut payload = MI_MATRIX.to_le_bytes().to_vec();
        payload.extend(u32::MAX.to_le_bytes());
        payload.extend([0u8; 4096]);
        let mut file = header(MATLAB_HEADER);
        file.extend(compressed_element(&payload));
        let path = write(&dir, "Fly9.mat", &file);
        assert_error(
            load_fly_mat(&path),
            "Fly9.mat",
            "",
            &["claims", "more than"],
        );
        // a plain element claiming more bytes than the file has
        let mut file = header(MATLAB_HEADER);
        file.extend(MI_MATRIX.to_le_bytes());
        file.extend(0xffff_fff0u32.to_le_bytes());
        file.extend([0u8; 64]);
        let path = write(&dir, "Fly9.mat", &file);
        assert_error(load_fly_mat(&path), "Fly9.mat", "", &["truncated"]);
    }

    #[test]
    fn mat_non_finite_values_are_refused() {
        let (x, mut y, mut r) = session_values();
        y[3] = f64::NAN;
        let result = load_vars("Fly10.mat", &fly_vars(&x, 14, &y, &r), true);
        assert_error(result, "Fly10.mat", "Y", &["NaN at presentation 3"]);
        let (x, y, _) = session_values();
        r[2] = f64::INFINITY;
        let result = load_vars("Fly10.mat", &fly_vars(&x, 14, &y, &r), false);
        assert_error(result, "Fly10.mat", "R", &["inf at trial 2"]);
    }

    #[test]
    fn mat_x_rows_must_be_one_hot() {
        let (mut x, y, r) = session_values();
        x[4] = 1.0;
        x[4 + 14] = 1.0;
        let result = load_vars("Fly11.mat", &fly_vars(&x, 14, &y, &r), true);
        assert_error(
            result,
            "Fly11.mat",
            "X",
            &["one-hot", "[1, 1] at presentation 4"],
        );
    }

    #[test]
    fn an_empty_file_is_refused() {
        let dir = tempdir();
        let path = write(&dir, "Fly12.mat", b"");
        assert_error(load_fly_mat(&path), "Fly12.mat", "", &["empty"]);
        let path = write(&dir, "Fly12.csv", b"");
        assert_error(load_fly_csv(&path), "Fly12.csv", "", &["empty"]);
    }

    #[test]
    fn mat_variables_of_the_wrong_kind_are_refused() {
        let (x, y, r) = session_values();
        let mut vars = fly_vars(&x, 14, &y, &r);
        vars[0].class = 4; // char
        assert_error(
            load_vars("Fly13.mat", &vars, true),
            "Fly13.mat",
            "X",
            &["numeric", "char"],
        );
        let mut vars = fly_vars(&x, 14, &y, &r);
        vars[0].class = 6 | 0x800; // complex
        assert_error(
            load_vars("Fly13.mat", &vars, false),
            "Fly13.mat",
            "X",
            &["complex"],
        );
        let mut vars = fly_vars(&x, 14, &y, &r);
        vars.push(double("Y", &[1, 14], &y, MI_DOUBLE));
        assert_error(
            load_vars("Fly13.mat", &vars, true),
            "Fly13.mat",
            "Y",
            &["twice"],
        );
        let mut vars = fly_vars(&x, 14, &y, &r);
        vars[1].dims = vec![2, 7];
        assert_error(
            load_vars("Fly13.mat", &vars, false),
            "Fly13.mat",
            "Y",
            &["vector"],
        );
    }

    #[test]
    fn mat_without_accepts_is_refused() {
        let (x, _, _) = session_values();
        let vars = fly_vars(&x, 14, &[0.0; 14], &[]);
        assert_error(
            load_vars("Fly14.mat", &vars, true),
            "Fly14.mat",
            "Y",
            &["no accepted presentation"],
        );
    }

    #[test]
    fn corrupted_mat_files_never_panic() {
        let path = Path::new("corrupt.mat");
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for file in ["scipy_compressed.mat", "scipy_uncompressed.mat"] {
            let original = fixture(file);
            for i in 0..original.len() {
                for value in [0x00, 0xff, 0x7f, original[i] ^ 0x01] {
                    let mut bytes = original.clone();
                    bytes[i] = value;
                    if let Ok(fly) = fly_from_mat_bytes(path, &bytes) {
                        fly.validate().expect("a loaded recording is consistent");
                    }
                }
            }
            for _ in 0..2000 {
                let mut bytes = original.clone();
                for _ in 0..rng.random_range(1..8) {
                    let i = rng.random_range(0..bytes.len());
                    bytes[i] = rng.random();
                }
                if let Ok(fly) = fly_from_mat_bytes(path, &bytes) {
                    fly.validate().expect("a loaded recording is consistent");
                }
            }
        }
    }

    // ---- CSV ----

    fn load_csv_text(file: &str, text: &str) -> Result<FlyRecording> {
        let dir = tempdir();
        load_fly_csv(write(&dir, file, text.as_bytes()))
    }

    #[test]
    fn csv_variants_load() {
        // BOM, CRLF, quotes, another column order, an extra column, blank lines
        let text = "\u{feff}\"decision\",\"reward\",\"odour\",\"trial\",note\r\n\
                    0,,1,0,a\r\n1,1,0,0,b\r\n\r\n1,0.0,2,1,c\r\n0,0,0,2,d\r\n";
        let fly = load_csv_text("fly.csv", text).expect("loads");
        assert_eq!(fly.odours, [1, 0, 2]);
        assert_eq!(fly.decisions, [0, 1, 1]);
        assert_eq!(fly.trial_of_presentation, [0, 0, 1]);
        assert_eq!(fly.rewards, [1.0, 0.0]);
        assert_eq!(fly.n_odours, 3);
        assert_eq!(fly.name, "fly");
    }

    #[test]
    fn csv_missing_column_is_named() {
        let result = load_csv_text("Fly15.csv", "trial,odour,decision\n0,0,1\n");
        assert_error(result, "Fly15.csv", "reward", &["missing column"]);
    }

    #[test]
    fn csv_bad_decision_is_named() {
        let result = load_csv_text(
            "Fly16.csv",
            "trial,odour,decision,reward\n0,0,0,\n0,1,2,1\n",
        );
        assert_error(
            result,
            "Fly16.csv",
            "decision",
            &["line 3", "expected 0 (reject) or 1 (accept), found '2'"],
        );
    }

    #[test]
    fn csv_non_numeric_cell_is_named() {
        let result = load_csv_text("Fly17.csv", "trial,odour,decision,reward\n0,A,1,1\n");
        assert_error(
            result,
            "Fly17.csv",
            "odour",
            &["line 2", "expected a number, found 'A'"],
        );
        let result = load_csv_text("Fly17.csv", "trial,odour,decision,reward\n0,0,1,NaN\n");
        assert_error(result, "Fly17.csv", "reward", &["finite"]);
    }

    #[test]
    fn csv_trials_rewards_and_rows_are_checked() {
        let header = "trial,odour,decision,reward\n";
        let cases = [
            // 1-based trials
            ("1,0,1,1\n", "trial", "expected trial 0"),
            // a trial that goes on after its accept
            ("0,0,1,1\n0,1,1,0\n", "trial", "expected trial 1"),
            // a reward on a rejection
            ("0,0,0,1\n0,1,1,0\n", "reward", "rejected presentation"),
            // no reward on an accept
            ("0,0,1,\n", "reward", "empty cell"),
            // a short row
            ("0,0,1\n", "reward", "3 cells"),
            // a negative odour
            ("0,-1,1,1\n", "odour", "0-based integer"),
            // only rejections
            ("0,0,0,\n0,1,0,\n", "decision", "no accepted presentation"),
            // only a header
            ("", "decision", "at least one presentation"),
        ];
        for (rows, column, words) in cases {
            let result = load_csv_text("Fly18.csv", &format!("{header}{rows}"));
            assert_error(result, "Fly18.csv", column, &[words]);
        }
        // rejections after the last accept are dropped
        let fly = load_csv_text("Fly18.csv", &format!("{header}0,0,1,1\n1,1,0,\n1,0,0,0\n"))
            .expect("loads");
        assert_eq!(fly.decisions, [1]);
        assert_eq!(fly.n_odours, 2);
    }
}
