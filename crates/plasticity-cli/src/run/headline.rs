//! The headline of a finished run, printed by `plasticity run` and `collect`: per cell
//! (or, for a large grid, per metric over the cells) the grid values, the fit's main
//! metrics and its largest coefficients — what a user looks at first in `table.csv`.

use serde_json::Value;

use super::experiment::{value_text, Cell};

/// Cells shown one line each; a larger grid is summarised per metric.
const CELLS_SHOWN: usize = 12;

/// The metric columns a headline shows, in this order, where a cell has them.
fn is_metric(key: &str) -> bool {
    matches!(key, "final_loss" | "r2_weights" | "percent_deviance")
        || (key.starts_with("r2_weights_") && !key.starts_with("r2_weights_latent_"))
}

/// A coefficient column: `theta_<term>` (neural, behaviour) or `<rule>.<term>`
/// (circuits).
fn coefficient_name(key: &str) -> Option<&str> {
    key.strip_prefix("theta_")
        .or_else(|| key.contains('.').then_some(key))
}

/// The lines of the headline of `results` (each cell's `result.json`).
pub(crate) fn headline(results: &[(Cell, Value)]) -> Vec<String> {
    let rows: Vec<(&Cell, &serde_json::Map<String, Value>)> = results
        .iter()
        .filter_map(|(cell, value)| value["row"].as_object().map(|row| (cell, row)))
        .collect();
    let Some((_, first)) = rows.first() else {
        return Vec::new();
    };
    let metrics: Vec<&String> = first.keys().filter(|k| is_metric(k)).collect();
    if metrics.is_empty() {
        return Vec::new();
    }
    if rows.len() > CELLS_SHOWN {
        return summary(&rows, &metrics);
    }
    rows.iter()
        .map(|(cell, row)| {
            let mut parts = vec![format!("cell {}", cell.index)];
            for (axis, value) in &cell.parameters {
                parts.push(format!("{}={}", axis.name(), value_text(value)));
            }
            for metric in &metrics {
                if let Some(v) = row.get(*metric).and_then(Value::as_f64) {
                    parts.push(format!("{metric} {}", number(v)));
                }
            }
            let largest = largest_coefficients(row, 3);
            if !largest.is_empty() {
                parts.push(format!("largest: {largest}"));
            }
            parts.join("  ")
        })
        .collect()
}

/// Per metric: median, and the lowest and highest with their cells.
fn summary(rows: &[(&Cell, &serde_json::Map<String, Value>)], metrics: &[&String]) -> Vec<String> {
    let mut lines = vec![format!("{} cells (all in table.csv):", rows.len())];
    for metric in metrics {
        let mut values: Vec<(f64, usize)> = rows
            .iter()
            .filter_map(|(cell, row)| row.get(*metric)?.as_f64().map(|v| (v, cell.index)))
            .filter(|(v, _)| v.is_finite())
            .collect();
        if values.is_empty() {
            continue;
        }
        values.sort_by(|a, b| a.0.total_cmp(&b.0));
        let median = values[values.len() / 2].0;
        let (low, high) = (values[0], values[values.len() - 1]);
        lines.push(format!(
            "  {metric}: median {}, lowest {} (cell {}), highest {} (cell {})",
            number(median),
            number(low.0),
            low.1,
            number(high.0),
            high.1
        ));
    }
    lines
}

/// The `count` coefficients of largest magnitude, as `term +0.998`.
fn largest_coefficients(row: &serde_json::Map<String, Value>, count: usize) -> String {
    let mut coefficients: Vec<(&str, f64)> = row
        .iter()
        .filter_map(|(key, value)| Some((coefficient_name(key)?, value.as_f64()?)))
        .filter(|(_, v)| v.is_finite())
        .collect();
    coefficients.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
    coefficients
        .iter()
        .take(count)
        .map(|(name, v)| format!("{name} {v:+.3}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Four significant digits, in scientific notation where that is shorter to read.
fn number(value: f64) -> String {
    if value != 0.0 && (value.abs() < 1e-3 || value.abs() >= 1e4) {
        format!("{value:.3e}")
    } else {
        format!("{value:.4}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_readable_and_coefficients_ranked_by_magnitude() {
        assert_eq!(number(5.349805401075655e-33), "5.350e-33");
        assert_eq!(number(0.99987), "0.9999");
        let row = serde_json::json!({
            "theta_x*y": 0.9,
            "theta_y^2*w": -1.0,
            "theta_1": 0.01,
            "r2_weights": 0.99,
            "ff.x*y": 0.5,
        });
        assert_eq!(
            largest_coefficients(row.as_object().unwrap(), 2),
            "y^2*w -1.000, x*y +0.900"
        );
        assert!(is_metric("r2_weights_feedforward") && !is_metric("r2_weights_latent_ff"));
    }
}
