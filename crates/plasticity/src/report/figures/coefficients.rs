//! The coefficient plot ([`coefficient_distributions`]): one column per term, one
//! point per subject (jittered), with the median of each column.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::{Error, Result};

use super::{
    check_values, font, jitter, median, min_max, padded_range, render, tick_label, Categories,
    DrawResult, Figure, AXIS_DESC_SIZE, COEFFICIENT_COLUMN_WIDTH, DEFAULT_SIZE, MAX_WIDTH, PALETTE,
    TICK_LABEL_SIZE, TITLE_SIZE,
};

/// The coefficients of one term across subjects, for [`coefficient_distributions`].
#[derive(Debug, Clone, PartialEq)]
pub struct CoefficientPanel {
    /// The term's name, shown under its column.
    pub term: String,
    /// One coefficient per subject.
    pub values: Vec<f64>,
    /// Optionally, one `(low, high)` interval per subject (e.g. a confidence interval),
    /// drawn as a vertical error bar through the subject's point.
    pub intervals: Option<Vec<(f64, f64)>>,
}

/// Writes `stem.png` and `stem.svg`; returns the two paths.
///
/// One column per panel, labelled with its term on the x axis. Each subject's
/// coefficient is a point, spread horizontally within its column by a deterministic
/// jitter (a function of the subject's index only, so the same inputs always give
/// the same picture and subject `i` sits at the same offset in every column); when
/// the panel has intervals, each is drawn as a vertical error bar through its point.
/// The median of each column is a short thick black horizontal bar, and a dashed
/// grey horizontal line marks 0. The y axis spans the values, the intervals and 0,
/// padded. The image is 800 pixels wide up to 6 panels and grows by 100 pixels per
/// panel beyond that (at most 10 000), 500 pixels high.
///
/// Non-finite values are rejected, not skipped: errors ([`Error::Config`]) when
/// `panels` is empty, when a panel has no values, when a panel's intervals do not
/// number one per value, or when a value or an interval bound is not finite or an
/// interval has `low > high`; ([`Error::Io`]) when a file cannot be drawn or written.
pub fn coefficient_distributions(
    stem: &Path,
    title: &str,
    panels: &[CoefficientPanel],
) -> Result<Vec<PathBuf>> {
    if panels.is_empty() {
        return Err(Error::config(
            "panels",
            "is empty: at least one term is needed",
        ));
    }
    for (i, panel) in panels.iter().enumerate() {
        check_values(
            &format!("panels[{i}].values (term '{}')", panel.term),
            &panel.values,
        )?;
        if let Some(intervals) = &panel.intervals {
            let key = format!("panels[{i}].intervals (term '{}')", panel.term);
            if intervals.len() != panel.values.len() {
                return Err(Error::config(
                    key,
                    format!(
                        "has {} intervals but the panel has {} values: one interval per value \
                         is needed",
                        intervals.len(),
                        panel.values.len()
                    ),
                ));
            }
            if let Some((j, (lo, hi))) = intervals
                .iter()
                .enumerate()
                .find(|(_, (lo, hi))| !lo.is_finite() || !hi.is_finite() || lo > hi)
            {
                return Err(Error::config(
                    key,
                    format!(
                        "interval {j} is ({lo}, {hi}); the bounds must be finite with low <= high"
                    ),
                ));
            }
        }
    }
    render(stem, &CoefficientFigure { title, panels })
}

struct CoefficientFigure<'a> {
    title: &'a str,
    panels: &'a [CoefficientPanel],
}

/// The width of a coefficient plot with `n_panels` columns.
pub(super) fn coefficient_figure_width(n_panels: usize) -> u32 {
    let n = u32::try_from(n_panels).unwrap_or(u32::MAX);
    n.saturating_mul(COEFFICIENT_COLUMN_WIDTH)
        .saturating_add(200)
        .clamp(DEFAULT_SIZE.0, MAX_WIDTH)
}

impl Figure for CoefficientFigure<'_> {
    fn size(&self) -> (u32, u32) {
        (coefficient_figure_width(self.panels.len()), DEFAULT_SIZE.1)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let n = self.panels.len();
        let all = self.panels.iter().flat_map(|p| {
            let bounds = p.intervals.iter().flatten().flat_map(|&(lo, hi)| [lo, hi]);
            p.values.iter().copied().chain(bounds)
        });
        let (lo, hi) = min_max(all.chain([0.0]));
        let (y0, y1) = padded_range(lo, hi, 0.08);
        let x_max = n as f64 - 0.5;
        let x_spec = Categories { n };

        let mut builder = ChartBuilder::on(root);
        builder
            .margin(20)
            .x_label_area_size(40)
            .y_label_area_size(80);
        if !self.title.is_empty() {
            builder.caption(self.title, font(TITLE_SIZE));
        }
        let mut chart = builder.build_cartesian_2d(x_spec, y0..y1)?;

        let panels = self.panels;
        let x_formatter = move |x: &f64| {
            let i = x.round();
            if i >= 0.0 && (x - i).abs() < 0.25 {
                panels
                    .get(i as usize)
                    .map(|p| p.term.clone())
                    .unwrap_or_default()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(BLACK.mix(0.08))
            .x_label_formatter(&x_formatter)
            .y_label_formatter(&|y: &f64| tick_label(*y))
            .y_desc("coefficient")
            .label_style(font(TICK_LABEL_SIZE))
            .axis_desc_style(font(AXIS_DESC_SIZE))
            .draw()?;

        chart.draw_series(DashedLineSeries::new(
            vec![(-0.5, 0.0), (x_max, 0.0)],
            6,
            4,
            RGBColor(120, 120, 120).stroke_width(1),
        ))?;

        const JITTER_WIDTH: f64 = 0.36;
        for (i, panel) in self.panels.iter().enumerate() {
            let colour = PALETTE[i % PALETTE.len()];
            let x = |j: usize| i as f64 + jitter(j, JITTER_WIDTH);
            if let Some(intervals) = &panel.intervals {
                let style = colour.mix(0.6).stroke_width(1);
                chart.draw_series(
                    intervals.iter().enumerate().map(|(j, &(lo, hi))| {
                        PathElement::new(vec![(x(j), lo), (x(j), hi)], style)
                    }),
                )?;
            }
            let style = colour.filled();
            chart.draw_series(
                panel
                    .values
                    .iter()
                    .enumerate()
                    .map(|(j, &v)| Circle::new((x(j), v), 4, style)),
            )?;
            let m = median(&panel.values);
            let centre = i as f64;
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(centre - 0.3, m), (centre + 0.3, m)],
                BLACK.stroke_width(3),
            )))?;
        }
        Ok(())
    }
}
