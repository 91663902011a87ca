//! Writers of the fly layouts the loaders read (the [parent module](super)): a MATLAB v5
//! `.mat` file with `X`, `Y` and `R`, or the CSV layout `trial,odour,decision,reward`.
//! What they write loads back with [`super::load_fly`] (which drops the rejections
//! after the last accept).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use super::{extension, MAX_ODOURS};
use crate::io::mat::write::{write_double_matrices, DoubleMatrix};
use crate::{Error, Result};

/// Writes a fly's presentations to `path`, as a `.mat` or `.csv` file (by extension,
/// case-insensitive): `odours` (0-based, below `n_odours`) and `decisions` (0 reject,
/// 1 accept) per presentation, and `rewards`, one per accept in order. Presentations
/// after the last accept are written too. Checks that the arrays agree; writes
/// atomically.
pub fn write_fly(
    path: &Path,
    odours: &[i64],
    decisions: &[i64],
    rewards: &[f64],
    n_odours: usize,
) -> Result<()> {
    let bad = |variable: &str, message: String| Error::data(path, variable, message);
    if odours.len() != decisions.len() {
        return Err(bad(
            "X",
            format!(
                "{} odours for {} decisions: expected one per presentation",
                odours.len(),
                decisions.len()
            ),
        ));
    }
    if n_odours == 0 || n_odours > MAX_ODOURS {
        return Err(bad(
            "X",
            format!("expected 1..={MAX_ODOURS} odours, found {n_odours}"),
        ));
    }
    if let Some(o) = odours
        .iter()
        .find(|&&o| o < 0 || o as u64 >= n_odours as u64)
    {
        return Err(bad("X", format!("odour {o} is not in 0..{n_odours}")));
    }
    if let Some(d) = decisions.iter().find(|&&d| d != 0 && d != 1) {
        return Err(bad("Y", format!("expected 0 or 1, found {d}")));
    }
    let accepts = decisions.iter().filter(|&&d| d == 1).count();
    if accepts != rewards.len() {
        return Err(bad(
            "R",
            format!("{} rewards for {accepts} accepts", rewards.len()),
        ));
    }
    match extension(path).as_deref() {
        Some("mat") => write_mat(path, odours, decisions, rewards, n_odours),
        Some("csv") => {
            let text = fly_csv(odours, decisions, rewards);
            crate::io::write_atomically(path, |w| w.write_all(text.as_bytes()))
        }
        _ => Err(bad(
            "",
            "expected an output file ending in .mat or .csv".into(),
        )),
    }
}

/// `X` (presentations × odours, one-hot), `Y` (1 × presentations) and `R` (1 × trials)
/// as double matrices in a MATLAB v5 file.
fn write_mat(
    path: &Path,
    odours: &[i64],
    decisions: &[i64],
    rewards: &[f64],
    n_odours: usize,
) -> Result<()> {
    let n = odours.len();
    let mut x = vec![0.0; n * n_odours];
    for (p, &o) in odours.iter().enumerate() {
        x[p + o as usize * n] = 1.0;
    }
    let y: Vec<f64> = decisions.iter().map(|&d| d as f64).collect();
    let matrices = [
        DoubleMatrix {
            name: "X",
            rows: n,
            cols: n_odours,
            values: &x,
        },
        DoubleMatrix {
            name: "Y",
            rows: 1,
            cols: n,
            values: &y,
        },
        DoubleMatrix {
            name: "R",
            rows: 1,
            cols: rewards.len(),
            values: rewards,
        },
    ];
    crate::io::write_atomically(path, |w| write_double_matrices(w, &matrices))
}

/// The CSV layout: one row per presentation, the trial counted from 0 (accepts
/// before it), the reward on accepted rows only. Rewards are written in Rust's
/// shortest round-trip form, so they read back exactly.
fn fly_csv(odours: &[i64], decisions: &[i64], rewards: &[f64]) -> String {
    let mut text = String::from("trial,odour,decision,reward\n");
    let mut trial = 0usize;
    for (&o, &d) in odours.iter().zip(decisions) {
        if d == 1 {
            let r = rewards.get(trial).copied().unwrap_or(0.0);
            let _ = writeln!(text, "{trial},{o},1,{r}");
            trial += 1;
        } else {
            let _ = writeln!(text, "{trial},{o},0,");
        }
    }
    text
}
