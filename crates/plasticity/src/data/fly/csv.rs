//! Fly recordings from CSV files (`trial,odour,decision,reward`; the layout is in the
//! [parent module](super)).

use std::path::Path;

use crate::{Error, Result};

use super::{assemble, FlyRecording, Names, MAX_ODOURS};

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

/// The columns of a fly CSV file, in the order of [`csv_columns`]'s positions.
const COLUMNS: [&str; 4] = ["trial", "odour", "decision", "reward"];

/// The number of columns named by the header line `header` (of the file at `path`) and
/// the positions of the columns `trial`, `odour`, `decision` and `reward` among them.
fn csv_columns(path: &Path, header: &str) -> Result<(usize, [usize; 4])> {
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
    Ok((names.len(), index))
}

/// Reads one fly from a CSV file with columns `trial,odour,decision,reward`, one row
/// per presentation (see the [module documentation](super) for the layout, the checks
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
    let Some((_, header)) = lines.next() else {
        return Err(Error::data(
            path,
            "",
            "the file is empty, expected the header 'trial,odour,decision,reward'",
        ));
    };
    let (width, index) = csv_columns(path, header)?;
    let [c_trial, c_odour, c_decision, c_reward] = index;

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
