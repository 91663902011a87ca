//! Source rates given by a file: one row per step, one column per neuron (Hz).

use std::path::Path;

use crate::{Error, Result};

/// Reads a rates file for a source population of `size` neurons: a 2-d float64 `.npy`
/// `[steps, size]`, or a `.csv` of `size` numbers per line (no header). Rates must be
/// finite and in `[0, 1000/dt]` Hz (at most one spike per step). Returns the rows.
pub fn read_rates(path: &Path, size: usize, dt: f64) -> Result<Vec<Vec<f64>>> {
    let key = "rates";
    let rows: Vec<Vec<f64>> = if path.extension().is_some_and(|e| e == "npy") {
        let array: ndarray::Array2<f64> = ndarray_npy::read_npy(path).map_err(|e| {
            Error::data(
                path,
                key,
                format!("expected a 2-d float64 .npy [steps, {size}]: {e}"),
            )
        })?;
        array.outer_iter().map(|row| row.to_vec()).collect()
    } else {
        let text = crate::io::read_text(path, key)?;
        let mut rows = Vec::new();
        for (line, content) in text.lines().enumerate() {
            if content.trim().is_empty() {
                continue;
            }
            let row = content
                .split(',')
                .map(|v| v.trim().parse::<f64>())
                .collect::<std::result::Result<Vec<f64>, _>>()
                .map_err(|e| {
                    Error::data(
                        path,
                        key,
                        format!(
                            "line {}: expected {size} numbers separated by commas: {e}",
                            line + 1
                        ),
                    )
                })?;
            rows.push(row);
        }
        rows
    };
    if rows.is_empty() {
        return Err(Error::data(
            path,
            key,
            "has no rows (one per step expected)",
        ));
    }
    let most = 1000.0 / dt;
    for (t, row) in rows.iter().enumerate() {
        if row.len() != size {
            return Err(Error::data(
                path,
                key,
                format!(
                    "row {t} has {} rates, expected {size} (one per neuron)",
                    row.len()
                ),
            ));
        }
        if let Some(bad) = row
            .iter()
            .find(|r| !(r.is_finite() && (0.0..=most).contains(*r)))
        {
            return Err(Error::data(
                path,
                key,
                format!("row {t} has the rate {bad} Hz, expected one in [0, {most}] (at most one spike per step of {dt} ms)"),
            ));
        }
    }
    Ok(rows)
}
