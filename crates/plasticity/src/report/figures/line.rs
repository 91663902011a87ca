//! Line plots ([`line_plot`], [`line_panels`]): series of points joined by lines, with
//! markers, dashes and a legend placed where it covers nothing.

use std::path::{Path, PathBuf};

use plotters::coord::combinators::IntoLogRange;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::{Error, Result};

use super::{
    axis_tick_label, font, min_max, padded_log_range, padded_range, render, text_size,
    title_height, DrawResult, Figure, AXIS_DESC_SIZE, DEFAULT_SIZE, MAX_HEIGHT, MAX_WIDTH, PALETTE,
    TICK_LABEL_SIZE, TITLE_SIZE,
};

/// One line of a [`line_plot`].
///
/// [`Series::new`] gives a solid line with a marker at every point, coloured by the
/// series' position in the plot; the builder methods change that look, e.g.
/// `Series::new("true", truth).dashed().colour(0)` next to
/// `Series::new("fitted", fit).without_markers().colour(0)` draws a dashed and a solid
/// line in the same colour.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The name shown in the legend (an empty name gives no legend entry).
    pub name: String,
    /// The `(x, y)` points, joined in the order given.
    pub points: Vec<(f64, f64)>,
    /// Draw the line dashed instead of solid (independent of `markers`, though the
    /// builder [`Series::dashed`] turns markers off).
    pub dashed: bool,
    /// Draw a marker at every point. A series of a single point is always drawn with
    /// its marker, since a line through one point would be invisible.
    pub markers: bool,
    /// Index into the colour-blind-safe palette of 7 colours (taken modulo 7), so that
    /// series can share a colour; `None` colours the series by its index in the plot.
    pub colour: Option<usize>,
    /// Join the points by a line (off: a scatter of markers, [`Series::markers_only`]).
    pub line: bool,
}

impl Series {
    /// A solid line with a marker at every point, coloured by the series' index.
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Series {
        Series {
            name: name.into(),
            points,
            dashed: false,
            markers: true,
            colour: None,
            line: true,
        }
    }

    /// The same series as markers only, no line (a scatter).
    pub fn markers_only(self) -> Self {
        Series {
            line: false,
            markers: true,
            ..self
        }
    }

    /// The same series drawn as a dashed line without markers.
    pub fn dashed(self) -> Self {
        Series {
            dashed: true,
            markers: false,
            ..self
        }
    }

    /// The same series without markers (a plain line, e.g. for a long series).
    pub fn without_markers(self) -> Self {
        Series {
            markers: false,
            ..self
        }
    }

    /// The same series in palette colour `index` (taken modulo the palette's 7 colours).
    pub fn colour(self, index: usize) -> Self {
        Series {
            colour: Some(index),
            ..self
        }
    }
}

/// Writes `stem.png` and `stem.svg`; returns the two paths.
///
/// Each series is a coloured line through its points in the order given, solid or
/// dashed ([`Series::dashed`]), with a marker at every point unless the series has
/// [`Series::markers`] off. The colour is the series' [`Series::colour`] or else comes
/// from its index, and the marker shape varies by series index. A legend names the
/// series that have a name, each with a sample of its line (dashed or solid) and its
/// marker: it is placed in the first of the upper-left, upper-right, lower-right and
/// lower-left corners of the plot where it covers no line or marker, and otherwise to
/// the right of the plot, which widens the image (and makes it taller if the legend
/// needs it). The axes are described by `x_label` and `y_label`, span the data
/// (padded) and are logarithmic when `log_x` / `log_y` is set. The image is 800 × 500
/// pixels, plus the legend's width when it is outside.
///
/// Errors ([`Error::Config`]) when `series` is empty, a series has no points, a
/// coordinate is not finite, or a coordinate on a logarithmic axis is not positive;
/// ([`Error::Io`]) when a file cannot be drawn or written.
pub fn line_plot(
    stem: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    log_x: bool,
    log_y: bool,
) -> Result<Vec<PathBuf>> {
    check_line_series("series", series, log_x, log_y)?;
    render(
        stem,
        &LineFigure {
            title,
            x_label,
            y_label,
            series,
            log_x,
            log_y,
        },
    )
}

/// One panel of [`line_panels`]: what [`line_plot`] draws.
#[derive(Debug, Clone, PartialEq)]
pub struct LinePanel {
    /// The panel's title.
    pub title: String,
    /// Description of the x axis.
    pub x_label: String,
    /// Description of the y axis.
    pub y_label: String,
    /// The lines.
    pub series: Vec<Series>,
    /// Logarithmic x axis.
    pub log_x: bool,
    /// Logarithmic y axis.
    pub log_y: bool,
}

/// Writes `stem.png` and `stem.svg`; returns the two paths.
///
/// The panels side by side, left to right, each drawn exactly as [`line_plot`] draws
/// one plot (its own axes, ranges and legend); the image is as wide as the panels
/// together (at most 10 000 pixels) and as high as the highest.
///
/// Errors ([`Error::Config`]) when `panels` is empty, or for a panel's series as
/// [`line_plot`] (naming `panels[k].series`); ([`Error::Io`]) when a file cannot be
/// drawn or written.
pub fn line_panels(stem: &Path, panels: &[LinePanel]) -> Result<Vec<PathBuf>> {
    if panels.is_empty() {
        return Err(Error::config(
            "panels",
            "is empty: at least one panel is needed",
        ));
    }
    for (k, panel) in panels.iter().enumerate() {
        check_line_series(
            &format!("panels[{k}].series"),
            &panel.series,
            panel.log_x,
            panel.log_y,
        )?;
    }
    let figures: Vec<LineFigure<'_>> = panels
        .iter()
        .map(|panel| LineFigure {
            title: &panel.title,
            x_label: &panel.x_label,
            y_label: &panel.y_label,
            series: &panel.series,
            log_x: panel.log_x,
            log_y: panel.log_y,
        })
        .collect();
    let width: u32 = figures.iter().map(|f| f.size().0).sum();
    if width > MAX_WIDTH {
        return Err(Error::config(
            "panels",
            format!(
                "would make an image {width} pixels wide (at most {MAX_WIDTH}): draw fewer panels"
            ),
        ));
    }
    render(stem, &PanelsFigure { panels: figures })
}

/// Line plots side by side.
struct PanelsFigure<'a> {
    panels: Vec<LineFigure<'a>>,
}

impl Figure for PanelsFigure<'_> {
    fn size(&self) -> (u32, u32) {
        let sizes: Vec<(u32, u32)> = self.panels.iter().map(|p| p.size()).collect();
        (
            sizes.iter().map(|s| s.0).sum(),
            sizes.iter().map(|s| s.1).max().unwrap_or(DEFAULT_SIZE.1),
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let mut rest = root.clone();
        for panel in &self.panels {
            let (left, right) = rest.split_horizontally(panel.size().0);
            let (area, _) = left.split_vertically(panel.size().1);
            panel.draw(&area)?;
            rest = right;
        }
        Ok(())
    }
}

/// The checks of [`line_plot`] on `series` (named `key` in errors).
fn check_line_series(key: &str, series: &[Series], log_x: bool, log_y: bool) -> Result<()> {
    if series.is_empty() {
        return Err(Error::config(
            key.to_string(),
            "is empty: at least one series is needed",
        ));
    }
    for (i, s) in series.iter().enumerate() {
        let key = || format!("{key}[{i}].points (series '{}')", s.name);
        if s.points.is_empty() {
            return Err(Error::config(
                key(),
                "is empty: at least one point is needed",
            ));
        }
        for (j, &(x, y)) in s.points.iter().enumerate() {
            if !x.is_finite() || !y.is_finite() {
                return Err(Error::config(
                    key(),
                    format!("point {j} is ({x}, {y}); all coordinates must be finite"),
                ));
            }
            if log_x && x <= 0.0 {
                return Err(Error::config(
                    key(),
                    format!("point {j} has x = {x}; a logarithmic x axis needs x > 0"),
                ));
            }
            if log_y && y <= 0.0 {
                return Err(Error::config(
                    key(),
                    format!("point {j} has y = {y}; a logarithmic y axis needs y > 0"),
                ));
            }
        }
    }
    Ok(())
}

pub(super) struct LineFigure<'a> {
    pub(super) title: &'a str,
    pub(super) x_label: &'a str,
    pub(super) y_label: &'a str,
    pub(super) series: &'a [Series],
    pub(super) log_x: bool,
    pub(super) log_y: bool,
}

/// A corner of the plotting area, for a legend drawn inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Corner {
    UpperLeft,
    UpperRight,
    LowerRight,
    LowerLeft,
}

impl Corner {
    /// The order in which corners are tried.
    const ALL: [Corner; 4] = [
        Corner::UpperLeft,
        Corner::UpperRight,
        Corner::LowerRight,
        Corner::LowerLeft,
    ];
}

/// Where the legend of a line plot goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LegendPlacement {
    /// No series has a name.
    None,
    /// In a corner of the plotting area; the image has the default size.
    Inside(Corner),
    /// To the right of an 800-pixel-wide plot, in an image of this size.
    Outside { width: u32, height: u32 },
}

/// Distance of a legend drawn inside the plot from the plot's edges, in pixels.
const LEGEND_INSET: u32 = 6;

/// Length of the line sample in a legend entry and the space given to it, in pixels.
const LEGEND_SAMPLE_WIDTH: i32 = 30;
const LEGEND_SAMPLE_AREA: u32 = 40;

/// Space between a legend's border and its entries, and height of an entry, in pixels.
const LEGEND_MARGIN: u32 = 8;
pub(super) const LEGEND_LINE_HEIGHT: u32 = 18;

/// Dash and gap length of a dashed line, in pixels.
const DASH: (i32, i32) = (8, 5);

/// Margin around a chart and width of the y tick label area of a line plot, in pixels.
pub(super) const CHART_MARGIN: u32 = 20;
pub(super) const LINE_Y_LABEL_AREA: u32 = 80;
pub(super) const LINE_X_LABEL_AREA: u32 = 50;

impl LineFigure<'_> {
    /// The padded x and y ranges of the axes.
    fn ranges(&self) -> ((f64, f64), (f64, f64)) {
        let points = || self.series.iter().flat_map(|s| s.points.iter().copied());
        let (x_lo, x_hi) = min_max(points().map(|(x, _)| x));
        let (y_lo, y_hi) = min_max(points().map(|(_, y)| y));
        let x = if self.log_x {
            padded_log_range(x_lo, x_hi, 0.03)
        } else {
            padded_range(x_lo, x_hi, 0.03)
        };
        let y = if self.log_y {
            padded_log_range(y_lo, y_hi, 0.08)
        } else {
            padded_range(y_lo, y_hi, 0.08)
        };
        (x, y)
    }

    /// The legend's entries: each named series' name, colour, dash and marker.
    fn legend_entries(&self) -> Vec<LegendEntry<'_>> {
        self.series
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.name.is_empty())
            .map(|(i, s)| LegendEntry {
                name: &s.name,
                colour: series_colour(s, i),
                dashed: s.dashed,
                line: s.line,
                marker: series_marker(s, i),
            })
            .collect()
    }

    /// Width and height of the legend box in pixels, or `None` when no series has a
    /// name.
    fn legend_size(&self) -> Option<(u32, u32)> {
        let entries = self.legend_entries();
        if entries.is_empty() {
            return None;
        }
        let text_width = entries
            .iter()
            .map(|entry| text_size(entry.name, TICK_LABEL_SIZE).0)
            .max()
            .unwrap_or(0);
        let lines = u32::try_from(entries.len()).unwrap_or(u32::MAX);
        Some((
            text_width.saturating_add(LEGEND_SAMPLE_AREA + 2 * LEGEND_MARGIN),
            lines
                .saturating_mul(LEGEND_LINE_HEIGHT)
                .saturating_add(2 * LEGEND_MARGIN),
        ))
    }

    /// Width and height of the plotting area in an image of the default size.
    fn plot_size(&self) -> (u32, u32) {
        let (width, height) = DEFAULT_SIZE;
        (
            width - 2 * CHART_MARGIN - LINE_Y_LABEL_AREA,
            height.saturating_sub(2 * CHART_MARGIN + LINE_X_LABEL_AREA + title_height(self.title)),
        )
    }

    /// Where the legend goes: in the first corner where it covers no line or marker,
    /// else outside to the right.
    pub(super) fn legend_placement(&self) -> LegendPlacement {
        let Some((width, height)) = self.legend_size() else {
            return LegendPlacement::None;
        };
        let (plot_w, plot_h) = self.plot_size();
        if width + 2 * LEGEND_INSET <= plot_w && height + 2 * LEGEND_INSET <= plot_h {
            let ((x0, x1), (y0, y1)) = self.ranges();
            let fraction = |v: f64, lo: f64, hi: f64, log: bool| {
                if log {
                    (v.ln() - lo.ln()) / (hi.ln() - lo.ln())
                } else {
                    (v / 2.0 - lo / 2.0) / (hi / 2.0 - lo / 2.0)
                }
            };
            // The points and lines in pixels from the plot's upper left corner.
            let (w, h) = (f64::from(plot_w), f64::from(plot_h));
            let pixels: Vec<Vec<(f64, f64)>> = self
                .series
                .iter()
                .map(|s| {
                    s.points
                        .iter()
                        .map(|&(x, y)| {
                            (
                                fraction(x, x0, x1, self.log_x) * w,
                                (1.0 - fraction(y, y0, y1, self.log_y)) * h,
                            )
                        })
                        .collect()
                })
                .collect();
            // Keep clear of markers and line widths.
            const CLEARANCE: f64 = 6.0;
            let free = |corner: Corner| {
                let (bw, bh) = (f64::from(width), f64::from(height));
                let inset = f64::from(LEGEND_INSET);
                let left = match corner {
                    Corner::UpperLeft | Corner::LowerLeft => inset,
                    Corner::UpperRight | Corner::LowerRight => w - inset - bw,
                };
                let top = match corner {
                    Corner::UpperLeft | Corner::UpperRight => inset,
                    Corner::LowerLeft | Corner::LowerRight => h - inset - bh,
                };
                let covers = |(px, py): (f64, f64)| {
                    (left - CLEARANCE..=left + bw + CLEARANCE).contains(&px)
                        && (top - CLEARANCE..=top + bh + CLEARANCE).contains(&py)
                };
                !pixels.iter().any(|line| {
                    line.iter().copied().any(covers)
                        || line.windows(2).any(|pair| {
                            // Sample each segment every 2 pixels.
                            let ((ax, ay), (bx, by)) = (pair[0], pair[1]);
                            let steps = ((bx - ax).abs().max((by - ay).abs()) / 2.0)
                                .ceil()
                                .clamp(1.0, 2000.0) as u32;
                            (1..steps).any(|k| {
                                let t = f64::from(k) / f64::from(steps);
                                covers((ax + t * (bx - ax), ay + t * (by - ay)))
                            })
                        })
                })
            };
            if let Some(corner) = Corner::ALL.into_iter().find(|&c| free(c)) {
                return LegendPlacement::Inside(corner);
            }
        }
        let (default_w, default_h) = DEFAULT_SIZE;
        LegendPlacement::Outside {
            width: (default_w + width + CHART_MARGIN).min(MAX_WIDTH),
            height: (height + title_height(self.title) + CHART_MARGIN + 10)
                .clamp(default_h, MAX_HEIGHT),
        }
    }

    /// Draw the chart on `area` (all of `root`, or its left part when the legend is
    /// outside) and the legend on `root`.
    fn draw_on<DB, X, Y>(
        &self,
        root: &DrawingArea<DB, Shift>,
        area: &DrawingArea<DB, Shift>,
        x_spec: X,
        y_spec: Y,
        legend: LegendPlacement,
    ) -> DrawResult<DB>
    where
        DB: DrawingBackend,
        X: AsRangedCoord<Value = f64>,
        Y: AsRangedCoord<Value = f64>,
        X::CoordDescType: ValueFormatter<f64>,
        Y::CoordDescType: ValueFormatter<f64>,
    {
        let mut builder = ChartBuilder::on(area);
        builder
            .margin(CHART_MARGIN)
            .x_label_area_size(LINE_X_LABEL_AREA)
            .y_label_area_size(LINE_Y_LABEL_AREA);
        if !self.title.is_empty() {
            builder.caption(self.title, font(TITLE_SIZE));
        }
        let mut chart = builder.build_cartesian_2d(x_spec, y_spec)?;
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(BLACK.mix(0.08))
            .x_label_formatter(&|x: &f64| axis_tick_label(*x, self.log_x))
            .y_label_formatter(&|y: &f64| axis_tick_label(*y, self.log_y))
            .x_desc(self.x_label)
            .y_desc(self.y_label)
            .label_style(font(TICK_LABEL_SIZE))
            .axis_desc_style(font(AXIS_DESC_SIZE))
            .draw()?;

        for (i, series) in self.series.iter().enumerate() {
            let colour = series_colour(series, i);
            let style = colour.stroke_width(2);
            let points = series.points.iter().copied();
            if !series.line {
                // a scatter: markers only
            } else if series.dashed {
                chart.draw_series(DashedLineSeries::new(points, DASH.0, DASH.1, style))?;
            } else {
                chart.draw_series(LineSeries::new(points, style))?;
            }
            if let Some(marker) = series_marker(series, i) {
                chart.draw_series(series.points.iter().map(|&point| {
                    EmptyElement::at(point) + Polygon::new(marker.outline(), colour.filled())
                }))?;
            }
        }

        let Some((width, height)) = self.legend_size() else {
            return Ok(());
        };
        // The plot's edges in pixels of `root` (which may be a panel of a larger image:
        // the pixel range is the backend's, the legend is drawn relative to `root`).
        let (x_range, y_range) = chart.plotting_area().get_pixel_range();
        let (base_x, base_y) = root.get_base_pixel();
        let (x_range, y_range) = (
            x_range.start - base_x..x_range.end - base_x,
            y_range.start - base_y..y_range.end - base_y,
        );
        let pixels = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
        let (width, height, inset) = (pixels(width), pixels(height), pixels(LEGEND_INSET));
        let origin = match legend {
            LegendPlacement::None => return Ok(()),
            LegendPlacement::Inside(corner) => {
                let x = match corner {
                    Corner::UpperLeft | Corner::LowerLeft => x_range.start + inset,
                    Corner::UpperRight | Corner::LowerRight => x_range.end - inset - width,
                };
                let y = match corner {
                    Corner::UpperLeft | Corner::UpperRight => y_range.start + inset,
                    Corner::LowerLeft | Corner::LowerRight => y_range.end - inset - height,
                };
                (x, y)
            }
            // Right of the chart's area, level with the plot's top.
            LegendPlacement::Outside { .. } => (pixels(DEFAULT_SIZE.0), y_range.start),
        };
        draw_legend(root, origin, (width, height), &self.legend_entries())
    }
}

/// The colour of series `index` of a line plot.
fn series_colour(series: &Series, index: usize) -> RGBColor {
    PALETTE[series.colour.unwrap_or(index) % PALETTE.len()]
}

/// The marker of series `index` of a line plot, if it has markers (a series of a
/// single point always does).
fn series_marker(series: &Series, index: usize) -> Option<Marker> {
    (series.markers || series.points.len() == 1).then(|| Marker::for_series(index))
}

/// One entry of a line plot's legend.
struct LegendEntry<'a> {
    name: &'a str,
    colour: RGBColor,
    dashed: bool,
    line: bool,
    marker: Option<Marker>,
}

/// Draw a legend box of `size` pixels with its upper left corner at `origin`: one
/// line per entry, a sample of the series' line (dashed or solid, with its marker in
/// the middle when it has markers) followed by its name.
fn draw_legend<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    origin: (i32, i32),
    size: (i32, i32),
    entries: &[LegendEntry],
) -> DrawResult<DB> {
    let (x0, y0) = origin;
    let corners = [(x0, y0), (x0 + size.0, y0 + size.1)];
    root.draw(&Rectangle::new(corners, WHITE.mix(0.9).filled()))?;
    root.draw(&Rectangle::new(corners, BLACK.mix(0.3).stroke_width(1)))?;
    let margin = LEGEND_MARGIN as i32;
    let line_height = LEGEND_LINE_HEIGHT as i32;
    let text_style = font(TICK_LABEL_SIZE).pos(Pos::new(HPos::Left, VPos::Center));
    for (k, entry) in entries.iter().enumerate() {
        let y = y0 + margin + line_height * k as i32 + line_height / 2;
        let (line, marker) = legend_sample(entry.colour, (entry.dashed, entry.line), entry.marker);
        root.draw(&(EmptyElement::at((x0 + margin, y)) + line + marker))?;
        root.draw(&Text::new(
            entry.name,
            (x0 + margin + LEGEND_SAMPLE_AREA as i32, y),
            text_style.clone(),
        ))?;
    }
    Ok(())
}

/// A line in pixels, dashed or (as one long dash) solid.
type LegendLine = DashedPathElement<std::vec::IntoIter<(i32, i32)>, i32>;

/// The sample drawn in the legend entry of a series, relative to the left end of its
/// line: a line in `colour`, dashed or solid, with `marker` in its middle when there
/// is one. All samples have one element type: a solid line is a single dash as long
/// as the sample, and a missing marker is an empty, transparent polygon (which
/// neither backend draws).
fn legend_sample(
    colour: RGBColor,
    (dashed, line): (bool, bool),
    marker: Option<Marker>,
) -> (LegendLine, Polygon<(i32, i32)>) {
    let style = if line {
        colour.stroke_width(2)
    } else {
        TRANSPARENT.stroke_width(2)
    };
    let ends = vec![(0, 0), (LEGEND_SAMPLE_WIDTH, 0)];
    let line = if dashed {
        DashedPathElement::new(ends, DASH.0, DASH.1, style)
    } else {
        DashedPathElement::new(ends, LEGEND_SAMPLE_WIDTH, 0, style)
    };
    let marker = match marker {
        Some(marker) => {
            let middle = LEGEND_SAMPLE_WIDTH / 2;
            let outline: Vec<_> = marker
                .outline()
                .into_iter()
                .map(|(x, y)| (x + middle, y))
                .collect();
            Polygon::new(outline, colour.filled())
        }
        None => Polygon::new(Vec::new(), TRANSPARENT.filled()),
    };
    (line, marker)
}

impl Figure for LineFigure<'_> {
    fn size(&self) -> (u32, u32) {
        match self.legend_placement() {
            LegendPlacement::Outside { width, height } => (width, height),
            LegendPlacement::None | LegendPlacement::Inside(_) => DEFAULT_SIZE,
        }
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let legend = self.legend_placement();
        let area = match legend {
            // The legend goes to the right of an area of the default width.
            LegendPlacement::Outside { .. } => root.split_horizontally(DEFAULT_SIZE.0).0,
            LegendPlacement::None | LegendPlacement::Inside(_) => root.clone(),
        };
        let ((x0, x1), (y0, y1)) = self.ranges();
        let (linear_x, log_x) = (|| x0..x1, || (x0..x1).log_scale());
        let (linear_y, log_y) = (|| y0..y1, || (y0..y1).log_scale());
        match (self.log_x, self.log_y) {
            (false, false) => self.draw_on(root, &area, linear_x(), linear_y(), legend),
            (true, false) => self.draw_on(root, &area, log_x(), linear_y(), legend),
            (false, true) => self.draw_on(root, &area, linear_x(), log_y(), legend),
            (true, true) => self.draw_on(root, &area, log_x(), log_y(), legend),
        }
    }
}

/// Marker shapes cycled through by the series of a line plot, so that series stay
/// distinguishable in greyscale. All are drawn as polygons (in pixels around the
/// point), so that every marker is the same plotters element type.
#[derive(Clone, Copy)]
enum Marker {
    Circle,
    Triangle,
    Square,
}

impl Marker {
    fn for_series(index: usize) -> Self {
        [Marker::Circle, Marker::Triangle, Marker::Square][index % 3]
    }

    /// The marker's outline in pixels relative to its point.
    fn outline(self) -> Vec<(i32, i32)> {
        match self {
            Marker::Circle => (0..16)
                .map(|k| {
                    let angle = f64::from(k) * std::f64::consts::TAU / 16.0;
                    (
                        (4.5 * angle.cos()).round() as i32,
                        (4.5 * angle.sin()).round() as i32,
                    )
                })
                .collect(),
            Marker::Triangle => vec![(0, -6), (-5, 4), (5, 4)],
            Marker::Square => vec![(-4, -4), (4, -4), (4, 4), (-4, 4)],
        }
    }
}
