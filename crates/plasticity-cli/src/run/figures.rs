//! The figures of a run directory, drawn from its tables alone (so `plasticity plot`
//! redraws them without refitting): coefficient trajectories over epochs with the
//! generating values dashed, true against inferred weight trajectories, loss curves,
//! heat maps of a two-key grid, the scaling curves, the flies' figures, and the
//! circuit metrics against the recorded fraction.

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::Value;

use plasticity::report::figures::{
    heat_map, line_panels, line_plot, paired_plot, LinePanel, Series,
};

use plasticity::analysis::metrics::WeightTrajectories;

use super::experiment::{value_text, Experiment, Kind};

/// A small CSV of numbers (header, then rows; no quoted fields; text reads as NaN, as
/// only numbers are plotted): the columns by name.
struct NumberTable {
    header: Vec<String>,
    rows: Vec<Vec<f64>>,
}

impl NumberTable {
    fn read(path: &Path) -> Result<Option<NumberTable>> {
        if !path.is_file() {
            return Ok(None);
        }
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let mut lines = text.lines();
        let header: Vec<String> = lines
            .next()
            .unwrap_or("")
            .split(',')
            .map(str::to_string)
            .collect();
        let rows = lines
            .filter(|l| !l.is_empty())
            .map(|l| {
                l.split(',')
                    .map(|v| v.parse::<f64>().unwrap_or(f64::NAN))
                    .collect()
            })
            .collect();
        Ok(Some(NumberTable { header, rows }))
    }

    fn column(&self, name: &str) -> Option<Vec<f64>> {
        let k = self.header.iter().position(|h| h == name)?;
        Some(
            self.rows
                .iter()
                .map(|r| r.get(k).copied().unwrap_or(f64::NAN))
                .collect(),
        )
    }
}

fn read_result(dir: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(dir.join("result.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// Draws every figure the run's files allow into `run_dir/figures`; returns the
/// number of files written.
pub(crate) fn draw(experiment: &Experiment, run_dir: &Path) -> Result<usize> {
    let figures = run_dir.join("figures");
    std::fs::create_dir_all(&figures).with_context(|| format!("creating {}", figures.display()))?;
    let written = match experiment.kind {
        Kind::Neural | Kind::Behaviour => draw_fits(experiment, run_dir, &figures)?,
        Kind::Scaling => draw_scaling(run_dir, &figures)?,
        Kind::Flies => crate::flies_figures::plot_from_dir(run_dir)?,
        Kind::Table => draw_table(run_dir, &figures)?,
        Kind::Circuit => draw_circuit(run_dir, &figures)?,
    };
    Ok(written)
}

fn draw_fits(experiment: &Experiment, run_dir: &Path, figures: &Path) -> Result<usize> {
    let neural = experiment.kind == Kind::Neural;
    let cells = experiment.cells();
    let mut written = 0;
    let loss_label = if neural {
        "loss (mean squared error of activity)"
    } else {
        "loss (cross-entropy per presentation, nats)"
    };
    let mut loss_series = Vec::new();
    for cell in &cells {
        let dir = run_dir.join("cells").join(cell.directory_name());
        let Some(result) = read_result(&dir) else {
            continue;
        };
        let trajectory = NumberTable::read(&dir.join("trajectory.csv"))?;
        let label = cell.label();
        let (suffix, title_suffix) = if cells.len() == 1 {
            (String::new(), String::new())
        } else {
            (format!("_cell{:04}", cell.index), format!(" ({label})"))
        };
        if let Some(table) = &trajectory {
            if let (Some(epochs), Some(losses)) = (table.column("epoch"), table.column("loss")) {
                let points: Vec<(f64, f64)> = epochs
                    .iter()
                    .zip(&losses)
                    .filter(|(_, l)| l.is_finite() && **l > 0.0)
                    .map(|(e, l)| (*e, *l))
                    .collect();
                if !points.is_empty() && cells.len() <= 8 {
                    let name = if cells.len() == 1 {
                        "fit".to_string()
                    } else {
                        label.clone()
                    };
                    loss_series.push(Series::new(name, points).without_markers());
                }
            }
        }
        if cells.len() > 4 {
            continue;
        }
        if let Some(table) = &trajectory {
            written += coefficient_figure(table, &result, figures, &suffix, &title_suffix)?;
        }
        if let Some(weights) = NumberTable::read(&dir.join("weights.csv"))? {
            written += weights_figure(&weights, &result, neural, figures, &suffix, &title_suffix)?;
        }
    }
    if !loss_series.is_empty() {
        written += line_plot(
            &figures.join("loss"),
            "Loss over the fit",
            "epoch",
            loss_label,
            &loss_series,
            false,
            true,
        )?
        .len();
    }
    written += grid_figures(experiment, run_dir, figures)?;
    Ok(written)
}

/// θ_k over epochs for the generating terms and the largest others, the generating
/// values dashed in the same colour.
fn coefficient_figure(
    table: &NumberTable,
    result: &Value,
    figures: &Path,
    suffix: &str,
    title_suffix: &str,
) -> Result<usize> {
    let Some(epochs) = table.column("epoch") else {
        return Ok(0);
    };
    let terms: Vec<String> = table
        .header
        .iter()
        .filter_map(|h| h.strip_prefix("theta_").map(str::to_string))
        .collect();
    if terms.is_empty() || epochs.is_empty() {
        return Ok(0);
    }
    let generating = result["generating"].as_object();
    let truth = |term: &str| -> Option<f64> { generating.and_then(|g| g[term].as_f64()) };
    let last = |term: &str| -> f64 {
        table
            .column(&format!("theta_{term}"))
            .and_then(|c| c.last().copied())
            .unwrap_or(0.0)
    };
    let mut chosen: Vec<String> = terms
        .iter()
        .filter(|t| truth(t).is_some_and(|v| v != 0.0))
        .cloned()
        .collect();
    let mut others: Vec<&String> = terms.iter().filter(|t| !chosen.contains(t)).collect();
    others.sort_by(|a, b| last(b).abs().total_cmp(&last(a).abs()));
    let extra = if chosen.is_empty() { 6 } else { 3 };
    chosen.extend(others.into_iter().take(extra).cloned());
    let first = epochs[0];
    let end = epochs[epochs.len() - 1];
    let mut series = Vec::new();
    for (k, term) in chosen.iter().enumerate() {
        let Some(values) = table.column(&format!("theta_{term}")) else {
            continue;
        };
        let points: Vec<(f64, f64)> = epochs
            .iter()
            .zip(&values)
            .filter(|(_, v)| v.is_finite())
            .map(|(e, v)| (*e, *v))
            .collect();
        if points.is_empty() {
            continue;
        }
        series.push(
            Series::new(format!("θ {term}"), points)
                .without_markers()
                .colour(k),
        );
        if let Some(value) = truth(term) {
            series.push(
                Series::new(
                    format!("{term}: true {value}"),
                    vec![(first, value), (end, value)],
                )
                .dashed()
                .colour(k),
            );
        }
    }
    if series.is_empty() {
        return Ok(0);
    }
    Ok(line_plot(
        &figures.join(format!("coefficients{suffix}")),
        &format!("Coefficients over the fit{title_suffix}"),
        "epoch",
        "coefficient θ (dimensionless)",
        &series,
        false,
        false,
    )?
    .len())
}

/// A few synapses' weights over a fresh trajectory (session) under the generating rule
/// (dashed) and the fitted rule (solid), same colour per synapse, each labelled
/// "(post i, pre j)" from the data's `n_pre` (`n_in` for behaviour) in the cell's
/// result.
fn weights_figure(
    table: &NumberTable,
    result: &Value,
    neural: bool,
    figures: &Path,
    suffix: &str,
    title_suffix: &str,
) -> Result<usize> {
    let (Some(steps), Some(synapses), Some(truth), Some(fitted)) = (
        table.column("step"),
        table.column("synapse"),
        table.column("generating"),
        table.column("fitted"),
    ) else {
        return Ok(0);
    };
    // the synapses in the order written (the one that changes most first)
    let mut ids: Vec<usize> = Vec::new();
    for &id in &synapses {
        if id.is_finite() && id >= 0.0 && !ids.contains(&(id as usize)) {
            ids.push(id as usize);
        }
    }
    let mut step_values: Vec<f64> = steps.clone();
    step_values.sort_by(f64::total_cmp);
    step_values.dedup();
    if ids.is_empty() || step_values.is_empty() {
        return Ok(0);
    }
    let data = &result["results"]["data"];
    let n_pre = data["n_pre"]
        .as_u64()
        .or_else(|| data["n_in"].as_u64())
        .map(|n| n as usize)
        .filter(|&n| n > 0);
    let mut weights = WeightTrajectories {
        positions: n_pre
            .map(|n| ids.iter().map(|&j| (j / n, j % n)).collect())
            .unwrap_or_default(),
        truth: vec![vec![f64::NAN; ids.len()]; step_values.len()],
        fitted: vec![vec![f64::NAN; ids.len()]; step_values.len()],
        synapses: ids,
    };
    for i in 0..steps.len() {
        let (Some(t), Some(j)) = (
            step_values.iter().position(|s| *s == steps[i]),
            weights
                .synapses
                .iter()
                .position(|&id| id as f64 == synapses[i]),
        ) else {
            continue;
        };
        weights.truth[t][j] = truth[i];
        weights.fitted[t][j] = fitted[i];
    }
    let x_label = if neural {
        "time step t of a fresh trajectory"
    } else {
        "odour presentation in a fresh session"
    };
    match plasticity::report::fit_figures::weights_figure(
        &figures.join(format!("weights{suffix}")),
        &format!("True (dashed) and inferred (solid) weights{title_suffix}"),
        x_label,
        &weights,
    ) {
        Ok(paths) => Ok(paths.len()),
        // nothing finite to draw
        Err(plasticity::Error::Config { .. }) => Ok(0),
        Err(error) => Err(error.into()),
    }
}

/// For a grid of two numeric keys, heat maps of the R² columns and of the fitted
/// coefficients of the generating rule's terms; for one numeric key with more than four
/// values, R² against it.
fn grid_figures(experiment: &Experiment, run_dir: &Path, figures: &Path) -> Result<usize> {
    let Some(table) = NumberTable::read(&run_dir.join("table.csv"))? else {
        return Ok(0);
    };
    let numeric = |values: &[toml::Value]| {
        values
            .iter()
            .all(|v| matches!(v, toml::Value::Integer(_) | toml::Value::Float(_)))
    };
    let mut written = 0;
    let metrics = [
        ("r2_weights", "R² of weights"),
        ("r2_activity", "R² of activity"),
    ];
    match experiment.grid.as_slice() {
        [columns, rows] if numeric(&columns.values) && numeric(&rows.values) => {
            let mut maps: Vec<(String, String, String)> = metrics
                .iter()
                .map(|&(column, name)| (column.into(), format!("{name} per cell"), name.into()))
                .collect();
            for (term, value) in generating_terms(run_dir) {
                maps.push((
                    format!("theta_{term}"),
                    format!("Fitted coefficient of {term} per cell (generating {value})"),
                    format!("θ of {term}"),
                ));
            }
            for (column, title, legend) in maps {
                let Some(values) = table.column(&column) else {
                    continue;
                };
                if values.iter().all(|v| !v.is_finite()) {
                    continue;
                }
                let n_columns = columns.values.len();
                let n_rows = rows.values.len();
                // cell index = column · n_rows + row (the first key varies slowest)
                let grid: Vec<Vec<f64>> = (0..n_rows)
                    .map(|r| (0..n_columns).map(|c| values[c * n_rows + r]).collect())
                    .collect();
                let file = format!("heatmap_{}", file_safe(&column));
                written += heat_map(
                    &figures.join(file),
                    &title,
                    &axis_label(&columns.key),
                    &axis_label(&rows.key),
                    &columns.values.iter().map(value_text).collect::<Vec<_>>(),
                    &rows.values.iter().map(value_text).collect::<Vec<_>>(),
                    &grid,
                    &legend,
                )?
                .len();
            }
        }
        [axis] if numeric(&axis.values) && axis.values.len() > 4 => {
            let xs: Vec<f64> = axis
                .values
                .iter()
                .map(|v| {
                    v.as_float()
                        .or(v.as_integer().map(|i| i as f64))
                        .unwrap_or(f64::NAN)
                })
                .collect();
            let mut series = Vec::new();
            for (metric, name) in metrics {
                if let Some(values) = table.column(metric) {
                    let points: Vec<(f64, f64)> = xs
                        .iter()
                        .zip(&values)
                        .filter(|(x, y)| x.is_finite() && y.is_finite())
                        .map(|(x, y)| (*x, *y))
                        .collect();
                    if !points.is_empty() {
                        series.push(Series::new(name, points));
                    }
                }
            }
            if !series.is_empty() {
                written += line_plot(
                    &figures.join(format!("r2_by_{}", axis.key)),
                    &format!("Recovery against {}", axis.key),
                    &axis_label(&axis.key),
                    "R² (1 = perfect)",
                    &series,
                    false,
                    false,
                )?
                .len();
            }
        }
        _ => {}
    }
    Ok(written)
}

fn axis_label(key: &str) -> String {
    match key {
        "noise_std" => "measurement noise σ (activity units)".into(),
        "recording_fraction" => "fraction of neurons recorded".into(),
        "steps" => "trajectory length T (time steps)".into(),
        other => other.replace('_', " "),
    }
}

/// Time and memory of one trajectory's gradient against its length.
fn draw_scaling(run_dir: &Path, figures: &Path) -> Result<usize> {
    let Some(table) = NumberTable::read(&run_dir.join("table.csv"))? else {
        return Ok(0);
    };
    let Some(steps) = table.column("steps") else {
        return Ok(0);
    };
    let points = |column: &str| -> Vec<(f64, f64)> {
        table
            .column(column)
            .map(|values| {
                steps
                    .iter()
                    .zip(values)
                    .filter(|(x, y)| x.is_finite() && y.is_finite() && *y > 0.0)
                    .map(|(x, y)| (*x, y))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut written = 0;
    let timing: Vec<Series> = [
        ("gradient (checkpointed adjoint)", "oja_gradient_f64_s"),
        ("forward pass", "oja_forward_f64_s"),
    ]
    .into_iter()
    .map(|(name, column)| Series::new(name, points(column)))
    .filter(|s| !s.points.is_empty())
    .collect();
    if !timing.is_empty() {
        written += line_plot(
            &figures.join("scaling_time"),
            "Wall time of one trajectory against its length",
            "trajectory length T (time steps)",
            "wall time (s)",
            &timing,
            true,
            true,
        )?
        .len();
    }
    let memory = points("peak_rss_mib");
    if !memory.is_empty() {
        written += line_plot(
            &figures.join("scaling_memory"),
            "Peak memory of the gradient against trajectory length",
            "trajectory length T (time steps)",
            "peak resident memory (MiB)",
            &[Series::new("whole process", memory)],
            true,
            false,
        )?
        .len();
    }
    Ok(written)
}

/// Fields of one CSV line (RFC 4180 quotes).
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// The reward-rule table: per generating rule (first seed), the Taylor fit against the
/// MLP fit, for R² of activity and for % deviance as a fraction of the ceiling.
fn draw_table(run_dir: &Path, figures: &Path) -> Result<usize> {
    let path = run_dir.join("table.csv");
    if !path.is_file() {
        return Ok(0);
    }
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut lines = text.lines();
    let header = csv_fields(lines.next().unwrap_or(""));
    let column = |name: &str| header.iter().position(|h| h == name);
    let (Some(rule), Some(family), Some(seed), Some(r2), Some(deviance), Some(ceiling)) = (
        column("rule"),
        column("family"),
        column("seed"),
        column("r2_activity"),
        column("percent_deviance"),
        column("ceiling_percent_deviance"),
    ) else {
        return Ok(0);
    };
    let rows: Vec<Vec<String>> = lines.map(csv_fields).collect();
    let number = |row: &Vec<String>, k: usize| row.get(k).and_then(|v| v.parse::<f64>().ok());
    let first_seed = rows.iter().filter_map(|r| r.get(seed).cloned()).min();
    let mut labels = Vec::new();
    let (mut taylor_r2, mut mlp_r2, mut taylor_dev, mut mlp_dev) = (vec![], vec![], vec![], vec![]);
    for row in rows
        .iter()
        .filter(|r| r.get(family).map(String::as_str) == Some("taylor"))
    {
        if row.get(seed) != first_seed.as_ref() {
            continue;
        }
        let Some(other) = rows.iter().find(|r| {
            r.get(family).map(String::as_str) == Some("mlp")
                && r.get(rule) == row.get(rule)
                && r.get(seed) == row.get(seed)
        }) else {
            continue;
        };
        let values = (
            number(row, r2),
            number(other, r2),
            number(row, deviance).zip(number(row, ceiling)),
            number(other, deviance).zip(number(other, ceiling)),
        );
        if let (Some(a), Some(b), Some((da, ca)), Some((db, cb))) = values {
            if [a, b, da / ca, db / cb].iter().all(|v| v.is_finite()) {
                labels.push(row[rule].clone());
                taylor_r2.push(a);
                mlp_r2.push(b);
                taylor_dev.push(da / ca);
                mlp_dev.push(db / cb);
            }
        }
    }
    if labels.is_empty() {
        return Ok(0);
    }
    let mut written = paired_plot(
        &figures.join("table_r2_activity"),
        &format!("Activity recovered, {} reward rules", labels.len()),
        "R² of activity on fresh sessions",
        &labels,
        "Taylor rule",
        &taylor_r2,
        "MLP rule",
        &mlp_r2,
    )?
    .len();
    written += paired_plot(
        &figures.join("table_deviance"),
        &format!("Choices explained, {} reward rules", labels.len()),
        "% deviance / generating rule's % deviance",
        &labels,
        "Taylor rule",
        &taylor_dev,
        "MLP rule",
        &mlp_dev,
    )?
    .len();
    Ok(written)
}

/// The smallest value drawn on the logarithmic axes of the recorded-fraction figure: an
/// exact fit (`1 − R² = 0`, an error of 0) is drawn here.
pub(crate) const CIRCUIT_FLOOR: f64 = 1e-16;

/// `figures/recorded_fraction.{png,svg}` from a circuit run's `table.csv`: against the
/// recorded fraction (log axis), one line per noise level and projection or rule, in
/// three panels: `1 − R²` of each plastic projection's weights on fresh trajectories,
/// each rule's output error `RMS(g_fit − g_true)/RMS(g_true)` on visited states, and
/// each rule's largest coefficient error `max_k |θ_k,fit − θ_k,true|`. Values below
/// [`CIRCUIT_FLOOR`] (exact fits) are drawn at it. Nothing is drawn (0 files) when the
/// table lacks the columns `recorded_fraction` and `noise_std` or has no metric.
fn draw_circuit(run_dir: &Path, figures: &Path) -> Result<usize> {
    let Some(table) = NumberTable::read(&run_dir.join("table.csv"))? else {
        return Ok(0);
    };
    let panels = circuit_panels(&table);
    if panels.is_empty() {
        return Ok(0);
    }
    Ok(line_panels(&figures.join("recorded_fraction"), &panels)?.len())
}

/// The panels of [`draw_circuit`] (those with at least one point).
fn circuit_panels(table: &NumberTable) -> Vec<LinePanel> {
    let (Some(fraction), Some(noise)) =
        (table.column("recorded_fraction"), table.column("noise_std"))
    else {
        return Vec::new();
    };
    let mut levels: Vec<f64> = noise.iter().copied().filter(|v| v.is_finite()).collect();
    levels.sort_by(f64::total_cmp);
    levels.dedup();
    // column suffixes (projection or rule names) after a prefix
    let names = |prefix: &str, excluded: Option<&str>| -> Vec<String> {
        table
            .header
            .iter()
            .filter(|h| h.starts_with(prefix) && !excluded.is_some_and(|e| h.starts_with(e)))
            .map(|h| h[prefix.len()..].to_string())
            .collect()
    };
    let panel =
        |title: &str, y_label: &str, prefix: &str, excluded: Option<&str>, one_minus: bool| {
            let mut series = Vec::new();
            for (n, name) in names(prefix, excluded).iter().enumerate() {
                let Some(values) = table.column(&format!("{prefix}{name}")) else {
                    continue;
                };
                for (l, &level) in levels.iter().enumerate() {
                    let mut points: Vec<(f64, f64)> = fraction
                        .iter()
                        .zip(&noise)
                        .zip(&values)
                        .filter(|((f, s), v)| {
                            **s == level && f.is_finite() && **f > 0.0 && v.is_finite()
                        })
                        .map(|((f, _), v)| {
                            let v = if one_minus { 1.0 - v } else { v.abs() };
                            (*f, v.max(CIRCUIT_FLOOR))
                        })
                        .collect();
                    if points.is_empty() {
                        continue;
                    }
                    points.sort_by(|a, b| a.0.total_cmp(&b.0));
                    let line = Series::new(format!("{name}, σ = {level}"), points).colour(l);
                    // projections / rules by line style, noise levels by colour
                    series.push(if n % 2 == 1 {
                        Series {
                            dashed: true,
                            ..line
                        }
                    } else {
                        line
                    });
                }
            }
            LinePanel {
                title: title.into(),
                x_label: "recorded fraction of neurons".into(),
                y_label: y_label.into(),
                series,
                log_x: true,
                log_y: true,
            }
        };
    let floor = format!("(below {CIRCUIT_FLOOR:e} drawn at it)");
    [
        panel(
            "Weights on fresh trajectories",
            &format!("1 − R² of weights {floor}"),
            "r2_weights_",
            Some("r2_weights_latent_"),
            true,
        ),
        panel(
            "Rule output on visited states",
            &format!("relative RMS error of g {floor}"),
            "rule_output_error_",
            None,
            false,
        ),
        panel(
            "Coefficients",
            &format!("largest |θ fit − θ true| {floor}"),
            "max_coefficient_error_",
            None,
            false,
        ),
    ]
    .into_iter()
    .filter(|p| !p.series.is_empty())
    .collect()
}

/// The terms of the generating rule with a non-zero coefficient, and the coefficient,
/// as the first finished cell's `result.json` records them (none where the data were
/// not simulated or no cell has finished).
fn generating_terms(run_dir: &Path) -> Vec<(String, f64)> {
    let Ok(entries) = std::fs::read_dir(run_dir.join("cells")) else {
        return Vec::new();
    };
    let mut cells: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    cells.sort();
    for cell in cells {
        let Ok(text) = std::fs::read_to_string(cell.join("result.json")) else {
            continue;
        };
        let Ok(result) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        let Some(generating) = result.get("generating").and_then(|g| g.as_object()) else {
            return Vec::new();
        };
        return generating
            .iter()
            .filter_map(|(term, value)| Some((term.clone(), value.as_f64()?)))
            .filter(|&(_, value)| value != 0.0)
            .collect();
    }
    Vec::new()
}

/// `name` with the characters a file name should not carry replaced: `theta_y^2*w`
/// becomes `theta_y2w`.
fn file_safe(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect()
}

#[cfg(test)]
mod tests;
