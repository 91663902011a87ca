//! Fly recordings from MATLAB v5 `.mat` files with variables `X`, `Y` and `R` (the
//! layout is in the [parent module](super)); the file format is read by
//! [`crate::io::mat`].

use std::path::Path;

use crate::{Error, Result};

use super::{assemble, FlyRecording, Names, MAX_ODOURS};
use crate::io::mat::{format_dims, read_mat, MatArray};

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
/// [module documentation](super) for the layout, the checks and the policy on an
/// unfinished last trial). The fly's name is the file stem.
pub fn load_fly_mat(path: impl AsRef<Path>) -> Result<FlyRecording> {
    let path = path.as_ref();
    let bytes = crate::io::read_whole_file(path)?;
    fly_from_mat_bytes(path, &bytes)
}

/// [`load_fly_mat`] on the bytes of the file at `path` (named in errors).
pub(super) fn fly_from_mat_bytes(path: &Path, bytes: &[u8]) -> Result<FlyRecording> {
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

    let decisions = mat_decisions(path, &y)?;
    let odours = mat_odours(path, &x, n, (rows, cols))?;
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

/// The decisions in `Y` (of the file at `path`): 0 (reject) or 1 (accept).
fn mat_decisions(path: &Path, y: &MatArray) -> Result<Vec<i64>> {
    let n = y.values.len();
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
    Ok(decisions)
}

/// The odour of each of the `n` presentations: the column of the 1 in each one-hot row
/// of `X` (`rows × cols`, column-major, of the file at `path`).
fn mat_odours(
    path: &Path,
    x: &MatArray,
    n: usize,
    (rows, cols): (usize, usize),
) -> Result<Vec<i64>> {
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
    Ok(odours)
}
