//! The pair plot of posterior draws ([`pair_plot`]): histograms on the diagonal,
//! scatters below it and correlations above it.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::{Error, Result};

use super::{
    check_values, font, min_max, padded_range, render, tick_label, DrawResult, Figure,
    AXIS_DESC_SIZE, MAX_WIDTH, PALETTE, SMALL_TEXT_SIZE, TITLE_SIZE,
};

/// Width and height of one panel of a pair plot, in pixels.
const PAIR_PANEL_SIZE: u32 = 210;

/// At most this many draws are drawn as points in each scatter panel of a pair plot
/// (evenly thinned; the histograms use every draw).
const PAIR_MAX_POINTS: usize = 1500;

/// Writes `stem.png` and `stem.svg`; returns the two paths.
///
/// A pair plot of posterior draws: one row and one column per entry of `names`; the
/// diagonal panel of variable `i` is a 30-bin histogram of `draws[i]`, the panel in row
/// `i` and column `j < i` the scatter of `draws[j]` (x) against `draws[i]` (y), at most
/// 1,500 evenly thinned points, and panels above the diagonal show the correlation of
/// the pair. When `marks` is given (one value per variable, e.g. the fitted θ), it is
/// drawn as a vermillion line on the histograms and a cross in the scatters. Each panel
/// is 210 × 210 pixels.
///
/// Errors ([`Error::Config`]) when `names` is empty, `draws` does not have one equally
/// long, non-empty series per name, `marks` has the wrong length, or a value is not
/// finite; ([`Error::Io`]) when a file cannot be drawn or written.
pub fn pair_plot(
    stem: &Path,
    title: &str,
    names: &[String],
    draws: &[Vec<f64>],
    marks: Option<&[f64]>,
) -> Result<Vec<PathBuf>> {
    if names.is_empty() {
        return Err(Error::config(
            "names",
            "is empty: at least one variable is needed",
        ));
    }
    if draws.len() != names.len() {
        return Err(Error::config(
            "draws",
            format!(
                "has {} series but there are {} names",
                draws.len(),
                names.len()
            ),
        ));
    }
    for (i, series) in draws.iter().enumerate() {
        check_values(&format!("draws[{i}] ('{}')", names[i]), series)?;
        if series.len() != draws[0].len() {
            return Err(Error::config(
                format!("draws[{i}] ('{}')", names[i]),
                format!(
                    "has {} draws but draws[0] has {}: the series must be equally long",
                    series.len(),
                    draws[0].len()
                ),
            ));
        }
    }
    if let Some(marks) = marks {
        if marks.len() != names.len() {
            return Err(Error::config(
                "marks",
                format!(
                    "has {} values but there are {} names",
                    marks.len(),
                    names.len()
                ),
            ));
        }
        check_values("marks", marks)?;
    }
    render(
        stem,
        &PairFigure {
            title,
            names,
            draws,
            marks,
        },
    )
}

struct PairFigure<'a> {
    title: &'a str,
    names: &'a [String],
    draws: &'a [Vec<f64>],
    marks: Option<&'a [f64]>,
}

impl PairFigure<'_> {
    fn range(&self, i: usize) -> (f64, f64) {
        let mark = self.marks.map(|m| m[i]);
        let (lo, hi) = min_max(self.draws[i].iter().copied().chain(mark));
        padded_range(lo, hi, 0.05)
    }
}

impl Figure for PairFigure<'_> {
    fn size(&self) -> (u32, u32) {
        let p = self.names.len() as u32;
        let side = (PAIR_PANEL_SIZE * p).min(MAX_WIDTH);
        (side + 20, side + 50)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let root = root.titled(self.title, font(TITLE_SIZE))?;
        let root = root.margin(5, 5, 5, 15);
        let p = self.names.len();
        let panels = root.split_evenly((p, p));
        let n = self.draws[0].len();
        let stride = n.div_ceil(PAIR_MAX_POINTS).max(1);
        let mark_style = PALETTE[3].stroke_width(2);
        for (index, panel) in panels.iter().enumerate() {
            let (row, column) = (index / p, index % p);
            let (x0, x1) = self.range(column);
            let x_label = if row == p - 1 {
                self.names[column].as_str()
            } else {
                ""
            };
            let y_label = if column == 0 {
                self.names[row].as_str()
            } else {
                ""
            };
            if column > row {
                let x = &self.draws[column];
                let y = &self.draws[row];
                let (mx, my) = (
                    x.iter().sum::<f64>() / n as f64,
                    y.iter().sum::<f64>() / n as f64,
                );
                let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
                for (a, b) in x.iter().zip(y) {
                    sxy += (a - mx) * (b - my);
                    sxx += (a - mx) * (a - mx);
                    syy += (b - my) * (b - my);
                }
                let correlation = sxy / (sxx * syy).sqrt();
                let (w, h) = panel.dim_in_pixel();
                let style = font(AXIS_DESC_SIZE).pos(Pos::new(HPos::Center, VPos::Center));
                let text = if correlation.is_finite() {
                    format!("r = {correlation:.2}")
                } else {
                    "r = –".to_string()
                };
                panel.draw(&Text::new(text, (w as i32 / 2, h as i32 / 2), style))?;
                continue;
            }
            let mut builder = ChartBuilder::on(panel);
            builder
                .margin(4)
                .x_label_area_size(if row == p - 1 { 36 } else { 8 })
                .y_label_area_size(if column == 0 { 52 } else { 8 });
            if row == column {
                let bins = 30;
                let width = (x1 - x0) / bins as f64;
                let mut counts = vec![0usize; bins];
                for &v in &self.draws[column] {
                    let b = (((v - x0) / width).floor().max(0.0) as usize).min(bins - 1);
                    counts[b] += 1;
                }
                let top = *counts.iter().max().unwrap_or(&1) as f64 * 1.08;
                let mut chart = builder.build_cartesian_2d(x0..x1, 0.0..top.max(1.0))?;
                chart
                    .configure_mesh()
                    .disable_mesh()
                    .x_labels(if row == p - 1 { 3 } else { 0 })
                    .y_labels(0)
                    .x_label_formatter(&|v: &f64| tick_label(*v))
                    .x_desc(x_label)
                    .y_desc(y_label)
                    .label_style(font(SMALL_TEXT_SIZE))
                    .axis_desc_style(font(SMALL_TEXT_SIZE + 1))
                    .draw()?;
                chart.draw_series(counts.iter().enumerate().map(|(b, &c)| {
                    let left = x0 + b as f64 * width;
                    Rectangle::new([(left, 0.0), (left + width, c as f64)], PALETTE[0].filled())
                }))?;
                if let Some(marks) = self.marks {
                    let m = marks[column];
                    chart.draw_series(std::iter::once(PathElement::new(
                        vec![(m, 0.0), (m, top)],
                        mark_style,
                    )))?;
                }
            } else {
                let (y0, y1) = self.range(row);
                let mut chart = builder.build_cartesian_2d(x0..x1, y0..y1)?;
                chart
                    .configure_mesh()
                    .disable_mesh()
                    .x_labels(if row == p - 1 { 3 } else { 0 })
                    .y_labels(if column == 0 { 3 } else { 0 })
                    .x_label_formatter(&|v: &f64| tick_label(*v))
                    .y_label_formatter(&|v: &f64| tick_label(*v))
                    .x_desc(x_label)
                    .y_desc(y_label)
                    .label_style(font(SMALL_TEXT_SIZE))
                    .axis_desc_style(font(SMALL_TEXT_SIZE + 1))
                    .draw()?;
                let style = PALETTE[0].mix(0.25).filled();
                chart.draw_series(
                    (0..n).step_by(stride).map(|k| {
                        Circle::new((self.draws[column][k], self.draws[row][k]), 1, style)
                    }),
                )?;
                if let Some(marks) = self.marks {
                    chart.draw_series(std::iter::once(Cross::new(
                        (marks[column], marks[row]),
                        5,
                        mark_style,
                    )))?;
                }
            }
        }
        Ok(())
    }
}
