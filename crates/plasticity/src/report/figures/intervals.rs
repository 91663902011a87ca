//! The coefficient-interval plot ([`coefficient_intervals`]): one row per coefficient,
//! its fitted value with its 95 % interval, the generating value where known, and the
//! coefficients the data do not determine marked.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::{Error, Result};

use super::{
    font, min_max, padded_range, render, text_size, tick_label, title_height, Categories,
    DrawResult, Figure, AXIS_DESC_SIZE, DEFAULT_SIZE, MAX_HEIGHT, PALETTE, TICK_LABEL_SIZE,
    TITLE_SIZE,
};

/// What the data say about one coefficient of a [`coefficient_intervals`] plot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Determination {
    /// Its interval is narrow: the data determine it.
    Determined,
    /// Its interval is wide (or unbounded: `interval` is `None`): the data do not
    /// determine it.
    NotDetermined,
    /// No interval was computed for it (an MLP, a fit without an identifiability
    /// report, a term held fixed).
    NotAnalysed,
}

/// One row of a [`coefficient_intervals`] plot.
#[derive(Debug, Clone, PartialEq)]
pub struct CoefficientInterval {
    /// The coefficient's name, shown left of its row.
    pub term: String,
    /// The fitted value.
    pub value: f64,
    /// The 95 % interval `(lower, upper)`, where one was computed and is finite.
    pub interval: Option<(f64, f64)>,
    /// The generating value, where known.
    pub generating: Option<f64>,
    /// Whether the data determine it.
    pub determination: Determination,
}

/// Pixels per row of a coefficient-interval plot.
const ROW_HEIGHT: u32 = 22;

/// Height of the legend strip under the plot, in pixels.
const LEGEND_HEIGHT: u32 = 34;

/// Colours: determined (blue), not determined (vermillion), generating (black).
const DETERMINED: RGBColor = PALETTE[0];
const NOT_DETERMINED: RGBColor = PALETTE[3];
const NOT_ANALYSED: RGBColor = RGBColor(110, 110, 110);

/// Writes `stem.png` and `stem.svg`; returns the two paths.
///
/// One row per coefficient, top to bottom in the order given, named on the left; a row
/// whose coefficient the data do not determine has "(not determined)" after its
/// name. Each fitted value is a point — filled blue when determined, an open
/// vermillion circle when not, grey when not analysed — with its 95 % interval as a
/// horizontal bar (dashed for a coefficient not determined; a dashed line across the
/// whole axis when its interval is unbounded). The generating value, where known, is a
/// black open diamond. The x axis spans the values, the generating values, 0 and the
/// intervals of the determined coefficients, and the other intervals up to as much
/// again on each side: a bar cut at the axis ends in an arrowhead. A legend under the
/// plot explains the marks. The image is 800 pixels wide (wider for long names) and
/// 22 pixels per row high (at least 500, at most 10 000).
///
/// Errors ([`Error::Config`]) when `rows` is empty, or a value, generating value or
/// interval bound is not finite or an interval has `lower > upper`; ([`Error::Io`])
/// when a file cannot be drawn or written.
pub fn coefficient_intervals(
    stem: &Path,
    title: &str,
    x_label: &str,
    rows: &[CoefficientInterval],
) -> Result<Vec<PathBuf>> {
    if rows.is_empty() {
        return Err(Error::config(
            "rows",
            "is empty: at least one coefficient is needed",
        ));
    }
    for (i, row) in rows.iter().enumerate() {
        let key = || format!("rows[{i}] (term '{}')", row.term);
        let finite = row.value.is_finite()
            && row.generating.is_none_or(f64::is_finite)
            && row
                .interval
                .is_none_or(|(lo, hi)| lo.is_finite() && hi.is_finite() && lo <= hi);
        if !finite {
            return Err(Error::config(
                key(),
                format!(
                    "value {}, generating {:?}, interval {:?}: values must be finite and \
                     intervals have lower <= upper",
                    row.value, row.generating, row.interval
                ),
            ));
        }
    }
    render(
        stem,
        &IntervalFigure {
            title,
            x_label,
            rows,
        },
    )
}

struct IntervalFigure<'a> {
    title: &'a str,
    x_label: &'a str,
    rows: &'a [CoefficientInterval],
}

impl IntervalFigure<'_> {
    /// The label of row `i`.
    fn label(&self, i: usize) -> String {
        let row = &self.rows[i];
        match row.determination {
            Determination::NotDetermined => format!("{} (not determined)", row.term),
            _ => row.term.clone(),
        }
    }

    /// Width of the label area left of the plot.
    fn label_width(&self) -> u32 {
        let widest = (0..self.rows.len())
            .map(|i| text_size(&self.label(i), TICK_LABEL_SIZE).0)
            .max()
            .unwrap_or(0);
        widest + 16
    }

    /// The x axis: the padded range of the values, generating values, 0 and the
    /// determined intervals, extended by the other intervals up to as much again on
    /// each side.
    fn x_range(&self) -> (f64, f64) {
        let core = self.rows.iter().flat_map(|r| {
            let interval = match r.determination {
                Determination::Determined => r.interval,
                _ => None,
            };
            let bounds = interval.into_iter().flat_map(|(lo, hi)| [lo, hi]);
            std::iter::once(r.value).chain(r.generating).chain(bounds)
        });
        let (lo, hi) = min_max(core.chain([0.0]));
        let span = if hi > lo { hi - lo } else { lo.abs().max(1.0) };
        let (all_lo, all_hi) = min_max(
            self.rows
                .iter()
                .filter_map(|r| r.interval)
                .flat_map(|(a, b)| [a, b])
                .chain([lo, hi]),
        );
        let lo = all_lo.max(lo - span);
        let hi = all_hi.min(hi + span);
        padded_range(lo, hi, 0.05)
    }
}

impl Figure for IntervalFigure<'_> {
    fn size(&self) -> (u32, u32) {
        let n = u32::try_from(self.rows.len()).unwrap_or(u32::MAX);
        let height = n
            .saturating_mul(ROW_HEIGHT)
            .saturating_add(120 + LEGEND_HEIGHT + title_height(self.title))
            .clamp(DEFAULT_SIZE.1, MAX_HEIGHT);
        let width = (DEFAULT_SIZE.0 - 120 + self.label_width()).max(DEFAULT_SIZE.0);
        (width, height)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let (_, height) = self.size();
        let (plot_area, legend_area) = root.split_vertically(height - LEGEND_HEIGHT);
        let n = self.rows.len();
        let (x0, x1) = self.x_range();
        // row i at y = n − 1 − i: the first row on top
        let y_of = |i: usize| (n - 1 - i) as f64;

        let mut builder = ChartBuilder::on(&plot_area);
        builder
            .margin(20)
            .x_label_area_size(50)
            .y_label_area_size(self.label_width());
        if !self.title.is_empty() {
            builder.caption(self.title, font(TITLE_SIZE));
        }
        let mut chart = builder.build_cartesian_2d(x0..x1, Categories { n })?;
        let y_formatter = |y: &f64| {
            let k = y.round();
            if k >= 0.0 && (y - k).abs() < 0.25 && (k as usize) < n {
                self.label(n - 1 - k as usize)
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(BLACK.mix(0.06))
            .x_label_formatter(&|x: &f64| tick_label(*x))
            .y_label_formatter(&y_formatter)
            .x_desc(self.x_label)
            .label_style(font(TICK_LABEL_SIZE))
            .axis_desc_style(font(AXIS_DESC_SIZE))
            .draw()?;

        let grey = RGBColor(120, 120, 120);
        chart.draw_series(DashedLineSeries::new(
            vec![(0.0, -0.5), (0.0, n as f64 - 0.5)],
            6,
            4,
            grey.stroke_width(1),
        ))?;

        for (i, row) in self.rows.iter().enumerate() {
            let y = y_of(i);
            let colour = match row.determination {
                Determination::Determined => DETERMINED,
                Determination::NotDetermined => NOT_DETERMINED,
                Determination::NotAnalysed => NOT_ANALYSED,
            };
            let style = colour.stroke_width(2);
            let bar = match (row.interval, row.determination) {
                (Some(interval), _) => Some(interval),
                // not determined with no finite interval: unbounded
                (None, Determination::NotDetermined) => Some((f64::MIN, f64::MAX)),
                _ => None,
            };
            if let Some((lo, hi)) = bar {
                let (a, b) = (lo.max(x0), hi.min(x1));
                if row.determination == Determination::Determined {
                    chart.draw_series(std::iter::once(PathElement::new(
                        vec![(a, y), (b, y)],
                        style,
                    )))?;
                    // end caps
                    for end in [a, b] {
                        chart.draw_series(std::iter::once(
                            EmptyElement::at((end, y))
                                + PathElement::new(vec![(0, -5), (0, 5)], style),
                        ))?;
                    }
                } else {
                    chart.draw_series(DashedLineSeries::new(vec![(a, y), (b, y)], 6, 4, style))?;
                }
                // cut ends: arrowheads pointing out
                if lo < x0 {
                    chart.draw_series(std::iter::once(
                        EmptyElement::at((x0, y))
                            + Polygon::new(vec![(0, 0), (8, -5), (8, 5)], colour.filled()),
                    ))?;
                }
                if hi > x1 {
                    chart.draw_series(std::iter::once(
                        EmptyElement::at((x1, y))
                            + Polygon::new(vec![(0, 0), (-8, -5), (-8, 5)], colour.filled()),
                    ))?;
                }
            }
            if let Some(g) = row.generating {
                chart.draw_series(std::iter::once(
                    EmptyElement::at((g, y)) + diamond(BLACK.stroke_width(2)),
                ))?;
            }
            let point = match row.determination {
                Determination::NotDetermined => Circle::new((row.value, y), 5, style),
                _ => Circle::new((row.value, y), 5, colour.filled()),
            };
            chart.draw_series(std::iter::once(point))?;
        }
        draw_legend(&legend_area, self.rows)
    }
}

/// A diamond outline around a point, in pixels.
fn diamond(style: ShapeStyle) -> PathElement<(i32, i32)> {
    PathElement::new(vec![(0, -7), (7, 0), (0, 7), (-7, 0), (0, -7)], style)
}

/// The legend strip: one entry per kind of mark that the rows use.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    rows: &[CoefficientInterval],
) -> DrawResult<DB> {
    let uses = |d: Determination| rows.iter().any(|r| r.determination == d);
    let text_style = font(TICK_LABEL_SIZE).pos(Pos::new(HPos::Left, VPos::Center));
    let y = (LEGEND_HEIGHT / 2) as i32;
    let mut x = 20;
    let mut entry = |label: &str, mark: &dyn Fn(i32) -> DrawResult<DB>| -> DrawResult<DB> {
        mark(x + 10)?;
        area.draw(&Text::new(
            label.to_string(),
            (x + 26, y),
            text_style.clone(),
        ))?;
        x += 26 + text_size(label, TICK_LABEL_SIZE).0 as i32 + 24;
        Ok(())
    };
    if uses(Determination::Determined) {
        entry("fitted, 95 % interval", &|cx| {
            area.draw(&PathElement::new(
                vec![(cx - 10, y), (cx + 10, y)],
                DETERMINED.stroke_width(2),
            ))?;
            area.draw(&Circle::new((cx, y), 5, DETERMINED.filled()))
        })?;
    }
    if uses(Determination::NotDetermined) {
        entry("not determined by these data", &|cx| {
            area.draw(&DashedPathElement::new(
                vec![(cx - 10, y), (cx + 10, y)],
                4,
                3,
                NOT_DETERMINED.stroke_width(2),
            ))?;
            area.draw(&Circle::new((cx, y), 5, NOT_DETERMINED.stroke_width(2)))
        })?;
    }
    if uses(Determination::NotAnalysed) {
        entry("fitted (no interval)", &|cx| {
            area.draw(&Circle::new((cx, y), 5, NOT_ANALYSED.filled()))
        })?;
    }
    if rows.iter().any(|r| r.generating.is_some()) {
        entry("generating value", &|cx| {
            area.draw(&(EmptyElement::at((cx, y)) + diamond(BLACK.stroke_width(2))))
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(term: &str, value: f64, determination: Determination) -> CoefficientInterval {
        CoefficientInterval {
            term: term.into(),
            value,
            interval: match determination {
                Determination::Determined => Some((value - 0.01, value + 0.01)),
                Determination::NotDetermined => Some((value - 40.0, value + 40.0)),
                Determination::NotAnalysed => None,
            },
            generating: Some(value.round()),
            determination,
        }
    }

    #[test]
    fn the_undetermined_coefficients_are_marked_and_the_files_written() {
        let dir = tempfile::tempdir().expect("temp dir");
        let stem = dir.path().join("coefficients");
        let rows = [
            row("x*y", 1.0, Determination::Determined),
            row("y^2*w", -0.4, Determination::NotDetermined),
            row("w", 0.0, Determination::NotAnalysed),
            CoefficientInterval {
                interval: None,
                ..row("x^2", 0.2, Determination::NotDetermined)
            },
        ];
        let paths = coefficient_intervals(&stem, "t", "θ", &rows).expect("drawn");
        assert_eq!(paths.len(), 2);
        let png = std::fs::read(&paths[0]).expect("png");
        assert!(png.starts_with(b"\x89PNG") && png.len() > 1000);
        let svg = std::fs::read_to_string(&paths[1]).expect("svg");
        for text in [
            "y^2*w (not determined)",
            "x^2 (not determined)",
            "not determined by these data",
            "generating value",
            "fitted (no interval)",
        ] {
            assert!(svg.contains(text), "{text} missing");
        }
        assert!(!svg.contains("x*y (not determined)"));
        // the wide interval does not set the axis: it ends at most a span away
        let figure = IntervalFigure {
            title: "t",
            x_label: "θ",
            rows: &rows,
        };
        let (lo, hi) = figure.x_range();
        assert!(lo > -5.0 && hi < 5.0, "{lo} {hi}");
    }

    #[test]
    fn bad_rows_are_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let stem = dir.path().join("c");
        assert!(coefficient_intervals(&stem, "t", "θ", &[]).is_err());
        let mut bad = row("x", f64::NAN, Determination::Determined);
        assert!(coefficient_intervals(&stem, "t", "θ", &[bad.clone()]).is_err());
        bad.value = 0.0;
        bad.interval = Some((1.0, -1.0));
        assert!(coefficient_intervals(&stem, "t", "θ", &[bad]).is_err());
        assert!(!dir.path().join("c.png").exists());
    }
}
