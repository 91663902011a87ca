//! The coefficient plot ([`coefficient_distributions`]): one column per term, one
//! point per subject (jittered), with the median of each column;
//! [`coefficient_distributions_by_subject`] gives each subject its own marker, named in
//! a legend.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::{Error, Result};

use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{
    check_values, font, jitter, median, min_max, padded_range, render, text_size, tick_label,
    Categories, DrawResult, Figure, AXIS_DESC_SIZE, COEFFICIENT_COLUMN_WIDTH, DEFAULT_SIZE,
    MAX_WIDTH, PALETTE, TICK_LABEL_SIZE, TITLE_SIZE,
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
    render(
        stem,
        &CoefficientFigure {
            title,
            panels,
            subjects: None,
        },
    )
}

/// Writes `stem.png` and `stem.svg`; returns the two paths.
///
/// [`coefficient_distributions`] with each subject identifiable: subject `i` (named
/// `subjects[i]`) has its own marker, number `markers[i]` of 28 (one of 7 colours and 4
/// shapes, the same in every column; give a subject the same number in every figure),
/// and sits at the same place in every column (subjects in order from left to right);
/// a legend right of the plot names each subject beside its marker (in as many columns
/// as it needs), which widens the image.
///
/// Errors as [`coefficient_distributions`], and ([`Error::Config`]) when a panel does
/// not have one value per subject or `markers` not one number per subject.
pub fn coefficient_distributions_by_subject(
    stem: &Path,
    title: &str,
    subjects: &[String],
    markers: &[usize],
    panels: &[CoefficientPanel],
) -> Result<Vec<PathBuf>> {
    if markers.len() != subjects.len() {
        return Err(Error::config(
            "markers",
            format!(
                "has {} numbers for {} subjects: one per subject is needed",
                markers.len(),
                subjects.len()
            ),
        ));
    }
    if let Some((i, panel)) = panels
        .iter()
        .enumerate()
        .find(|(_, p)| p.values.len() != subjects.len())
    {
        return Err(Error::config(
            format!("panels[{i}].values (term '{}')", panel.term),
            format!(
                "has {} values for {} subjects: one value per subject is needed",
                panel.values.len(),
                subjects.len()
            ),
        ));
    }
    if panels.is_empty() {
        return coefficient_distributions(stem, title, panels);
    }
    // the checks of the plain plot, without drawing it
    for (i, panel) in panels.iter().enumerate() {
        check_values(
            &format!("panels[{i}].values (term '{}')", panel.term),
            &panel.values,
        )?;
        if let Some(intervals) = &panel.intervals {
            if intervals.len() != panel.values.len()
                || intervals
                    .iter()
                    .any(|(lo, hi)| !lo.is_finite() || !hi.is_finite() || lo > hi)
            {
                return Err(Error::config(
                    format!("panels[{i}].intervals (term '{}')", panel.term),
                    "needs one finite interval with low <= high per value",
                ));
            }
        }
    }
    render(
        stem,
        &CoefficientFigure {
            title,
            panels,
            subjects: Some((subjects, markers)),
        },
    )
}

struct CoefficientFigure<'a> {
    title: &'a str,
    panels: &'a [CoefficientPanel],
    /// The subjects' names and marker numbers.
    subjects: Option<(&'a [String], &'a [usize])>,
}

/// Height of one entry of a subject legend, in pixels.
const SUBJECT_LINE_HEIGHT: u32 = 18;

/// The marker of subject `i`: colour `i mod 7`, shape by `i / 7` (circle, triangle,
/// square, diamond), as a polygon in pixels around its point.
fn subject_marker(i: usize) -> (RGBColor, Vec<(i32, i32)>) {
    let colour = PALETTE[i % PALETTE.len()];
    let outline = match (i / PALETTE.len()) % 4 {
        0 => (0..16)
            .map(|k| {
                let angle = f64::from(k) * std::f64::consts::TAU / 16.0;
                (
                    (5.0 * angle.cos()).round() as i32,
                    (5.0 * angle.sin()).round() as i32,
                )
            })
            .collect(),
        1 => vec![(0, -6), (-6, 5), (6, 5)],
        2 => vec![(-5, -5), (5, -5), (5, 5), (-5, 5)],
        _ => vec![(0, -7), (6, 0), (0, 7), (-6, 0)],
    };
    (colour, outline)
}

impl CoefficientFigure<'_> {
    /// Entries per column of the subject legend, its columns and its width in pixels.
    fn legend_layout(&self) -> Option<(usize, usize, u32)> {
        let (subjects, _) = self.subjects?;
        let per_column = ((DEFAULT_SIZE.1 - 60) / SUBJECT_LINE_HEIGHT) as usize;
        let columns = subjects.len().div_ceil(per_column).max(1);
        let widest = subjects
            .iter()
            .map(|s| text_size(s, TICK_LABEL_SIZE).0)
            .max()
            .unwrap_or(0);
        let width = u32::try_from(columns).unwrap_or(1) * (widest + 36) + 20;
        Some((per_column, columns, width))
    }
}

/// The width of a coefficient plot with `n_panels` columns.
pub(super) fn coefficient_figure_width(n_panels: usize) -> u32 {
    let n = u32::try_from(n_panels).unwrap_or(u32::MAX);
    n.saturating_mul(COEFFICIENT_COLUMN_WIDTH)
        .saturating_add(200)
        .clamp(DEFAULT_SIZE.0, MAX_WIDTH)
}

impl CoefficientFigure<'_> {
    /// The legend beside the panels: each subject's marker and name, in columns.
    fn draw_subject_legend<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> DrawResult<DB> {
        let (Some((subjects, markers)), Some((per_column, _, _))) =
            (self.subjects, self.legend_layout())
        else {
            return Ok(());
        };
        let widest = subjects
            .iter()
            .map(|s| text_size(s, TICK_LABEL_SIZE).0)
            .max()
            .unwrap_or(0) as i32;
        let style = font(TICK_LABEL_SIZE).pos(Pos::new(HPos::Left, VPos::Center));
        for (j, subject) in subjects.iter().enumerate() {
            let column = (j / per_column) as i32;
            let row = (j % per_column) as i32;
            let x = 10 + column * (widest + 36);
            let y = 40 + row * SUBJECT_LINE_HEIGHT as i32;
            let (colour, outline) = subject_marker(markers[j]);
            area.draw(&(EmptyElement::at((x + 8, y)) + Polygon::new(outline, colour.filled())))?;
            area.draw(&Text::new(subject.clone(), (x + 22, y), style.clone()))?;
        }
        Ok(())
    }
}

impl Figure for CoefficientFigure<'_> {
    fn size(&self) -> (u32, u32) {
        let legend = self.legend_layout().map_or(0, |l| l.2);
        (
            coefficient_figure_width(self.panels.len()) + legend,
            DEFAULT_SIZE.1,
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let (root, legend_area) = match self.legend_layout() {
            Some(_) => {
                let (plot, legend) =
                    root.split_horizontally(coefficient_figure_width(self.panels.len()));
                (plot, Some(legend))
            }
            None => (root.clone(), None),
        };
        let root = &root;
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
        let n_subjects = self.subjects.map_or(0, |(s, _)| s.len());
        let marker_of = |j: usize| subject_marker(self.subjects.map_or(j, |(_, m)| m[j]));
        for (i, panel) in self.panels.iter().enumerate() {
            let colour = PALETTE[i % PALETTE.len()];
            // by subject: evenly spaced in subject order; else a deterministic jitter
            let x = |j: usize| {
                if n_subjects > 1 {
                    i as f64 - JITTER_WIDTH / 2.0
                        + JITTER_WIDTH * j as f64 / (n_subjects - 1) as f64
                } else if n_subjects == 1 {
                    i as f64
                } else {
                    i as f64 + jitter(j, JITTER_WIDTH)
                }
            };
            let colour_of = |j: usize| {
                if n_subjects > 0 {
                    marker_of(j).0
                } else {
                    colour
                }
            };
            if let Some(intervals) = &panel.intervals {
                chart.draw_series(intervals.iter().enumerate().map(|(j, &(lo, hi))| {
                    PathElement::new(
                        vec![(x(j), lo), (x(j), hi)],
                        colour_of(j).mix(0.6).stroke_width(1),
                    )
                }))?;
            }
            if n_subjects > 0 {
                chart.draw_series(panel.values.iter().enumerate().map(|(j, &v)| {
                    let (colour, outline) = marker_of(j);
                    EmptyElement::at((x(j), v)) + Polygon::new(outline, colour.filled())
                }))?;
            } else {
                let style = colour.filled();
                chart.draw_series(
                    panel
                        .values
                        .iter()
                        .enumerate()
                        .map(|(j, &v)| Circle::new((x(j), v), 4, style)),
                )?;
            }
            let m = median(&panel.values);
            let centre = i as f64;
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(centre - 0.3, m), (centre + 0.3, m)],
                BLACK.stroke_width(3),
            )))?;
        }
        if let Some(area) = legend_area {
            self.draw_subject_legend(&area)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod subject_tests {
    use super::*;

    #[test]
    fn each_subject_is_named_in_the_legend_with_its_own_marker() {
        let dir = tempfile::tempdir().expect("temp dir");
        let stem = dir.path().join("by_fly");
        let flies: Vec<String> = (1..=18).map(|i| format!("Fly{i}")).collect();
        let markers: Vec<usize> = (0..18).collect();
        let panels = vec![CoefficientPanel {
            term: "w".into(),
            values: (0..18).map(|i| f64::from(i) * 0.01).collect(),
            intervals: Some((0..18).map(|i| (f64::from(i) * 0.01 - 0.02, 0.3)).collect()),
        }];
        let paths = coefficient_distributions_by_subject(&stem, "θ_w", &flies, &markers, &panels)
            .expect("drawn");
        let svg = std::fs::read_to_string(&paths[1]).expect("svg");
        for fly in &flies {
            assert!(
                svg.lines().any(|line| line.trim() == fly),
                "{fly} not in the legend"
            );
        }
        // 18 markers: no two subjects share colour and shape
        let shapes: Vec<(RGBColor, Vec<(i32, i32)>)> = (0..18).map(subject_marker).collect();
        for (i, a) in shapes.iter().enumerate() {
            assert!(shapes[i + 1..].iter().all(|b| b != a), "marker {i} repeats");
        }
        // one marker number and one value per subject
        assert!(
            coefficient_distributions_by_subject(&stem, "t", &flies, &markers[..3], &panels)
                .is_err()
        );
        assert!(coefficient_distributions_by_subject(
            &stem,
            "t",
            &flies[..3],
            &markers[..3],
            &panels
        )
        .is_err());
    }
}
