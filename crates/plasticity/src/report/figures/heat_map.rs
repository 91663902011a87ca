//! The heat map ([`heat_map`]): a table of values drawn as coloured cells (viridis),
//! with a colour bar.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::{Error, Result};

use super::line::{CHART_MARGIN, LINE_X_LABEL_AREA, LINE_Y_LABEL_AREA};
use super::{
    font, min_max, render, text_size, tick_label, title_height, Categories, DrawResult, Figure,
    AXIS_DESC_SIZE, FONT_FAMILY, MAX_HEIGHT, MAX_WIDTH, TICK_LABEL_SIZE, TITLE_SIZE,
};

/// Writes `stem.png` and `stem.svg`; returns the two paths.
///
/// A heat map: a grid with one row per entry of `row_labels` (the first at the top)
/// and one column per entry of `column_labels` (the first at the left); the cell in
/// row `r` and column `c` shows `values[r][c]`. Each cell is filled with the
/// colour-blind-safe sequential viridis map (dark purple at the smallest finite value,
/// yellow at the largest; every cell is mid-teal when all finite values are equal)
/// and holds its value with 2 decimals in its middle, in white on dark cells and
/// black on light ones. A value that is not finite means "missing": its cell is light
/// grey and holds "–". The row labels are the y tick labels and the column labels the
/// x tick labels, the axes are described by `y_label` and `x_label`, and a colour bar
/// on the right, labelled `value_label`, maps colours to values with ticks at the
/// smallest and largest finite value. Each column is 90 pixels wide (wider when its
/// label needs it) and each row 60 pixels high, plus the title, labels and colour
/// bar; the image is at least 700 × 500 pixels and at most 10 000 in either direction
/// (cells get smaller beyond that).
///
/// Errors ([`Error::Config`]) when `row_labels` or `column_labels` is empty, when
/// `values` does not have one row per row label or a row does not have one value per
/// column label, or when no value is finite; ([`Error::Io`]) when a file cannot be
/// drawn or written.
#[allow(clippy::too_many_arguments)]
pub fn heat_map(
    stem: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    column_labels: &[String],
    row_labels: &[String],
    values: &[Vec<f64>],
    value_label: &str,
) -> Result<Vec<PathBuf>> {
    if column_labels.is_empty() {
        return Err(Error::config(
            "column_labels",
            "is empty: at least one column is needed",
        ));
    }
    if row_labels.is_empty() {
        return Err(Error::config(
            "row_labels",
            "is empty: at least one row is needed",
        ));
    }
    if values.len() != row_labels.len() {
        return Err(Error::config(
            "values",
            format!(
                "has {} rows but there are {} row labels: one row of values per row label \
                 is needed",
                values.len(),
                row_labels.len()
            ),
        ));
    }
    for (r, (row, label)) in values.iter().zip(row_labels).enumerate() {
        if row.len() != column_labels.len() {
            return Err(Error::config(
                format!("values[{r}] (row '{label}')"),
                format!(
                    "has {} values but there are {} column labels: one value per column is \
                     needed",
                    row.len(),
                    column_labels.len()
                ),
            ));
        }
    }
    let (lo, hi) = min_max(values.iter().flatten().copied().filter(|v| v.is_finite()));
    if lo > hi {
        return Err(Error::config(
            "values",
            "has no finite value: at least one is needed for the colour scale",
        ));
    }
    render(
        stem,
        &HeatMapFigure {
            title,
            x_label,
            y_label,
            column_labels,
            row_labels,
            values,
            value_label,
            range: (lo, hi),
        },
    )
}

/// Minimum width of a heat map column and height of a row, in pixels.
const HEAT_MAP_COLUMN_WIDTH: u32 = 90;
const HEAT_MAP_ROW_HEIGHT: u32 = 60;

/// The smallest heat map, in pixels.
pub(super) const HEAT_MAP_MIN_SIZE: (u32, u32) = (700, 500);

/// Width of a heat map's colour bar and the space around it, in pixels.
const COLOUR_BAR_WIDTH: u32 = 22;
const COLOUR_BAR_GAP: u32 = 8;

/// The fill of a heat map cell whose value is missing.
pub(super) const MISSING_COLOUR: RGBColor = RGBColor(220, 220, 220);

/// The text of a missing heat map cell.
const MISSING_TEXT: &str = "–";

pub(super) struct HeatMapFigure<'a> {
    pub(super) title: &'a str,
    pub(super) x_label: &'a str,
    pub(super) y_label: &'a str,
    pub(super) column_labels: &'a [String],
    pub(super) row_labels: &'a [String],
    pub(super) values: &'a [Vec<f64>],
    pub(super) value_label: &'a str,
    /// Smallest and largest finite value.
    pub(super) range: (f64, f64),
}

/// Pixel sizes of a heat map's parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct HeatMapLayout {
    width: u32,
    height: u32,
    /// Width of the y tick label area (row labels and the y description).
    y_label_area: u32,
    /// Width of the colour bar panel at the right edge.
    bar_panel: u32,
}

impl HeatMapFigure<'_> {
    /// The colour bar's tick labels, largest first (one when all values are equal).
    fn bar_ticks(&self) -> Vec<(f64, String)> {
        let (lo, hi) = self.range;
        let mut ticks = vec![(hi, tick_label(hi))];
        if lo < hi {
            ticks.push((lo, tick_label(lo)));
        }
        ticks
    }

    fn layout(&self) -> HeatMapLayout {
        let widest = |labels: &[String]| {
            labels
                .iter()
                .map(|label| text_size(label, TICK_LABEL_SIZE).0)
                .max()
                .unwrap_or(0)
        };
        let desc_height = text_size("Ag", AXIS_DESC_SIZE).1;
        let y_label_area = (widest(self.row_labels) + desc_height + 24).max(LINE_Y_LABEL_AREA);
        let column_width = (widest(self.column_labels) + 16).max(HEAT_MAP_COLUMN_WIDTH);
        let tick_width = self
            .bar_ticks()
            .iter()
            .map(|(_, text)| text_size(text, TICK_LABEL_SIZE).0)
            .max()
            .unwrap_or(0);
        let bar_panel = COLOUR_BAR_GAP
            + COLOUR_BAR_WIDTH
            + 6
            + tick_width
            + 12
            + if self.value_label.is_empty() {
                0
            } else {
                desc_height
            }
            + CHART_MARGIN;
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        let width = count(self.column_labels.len())
            .saturating_mul(column_width)
            .saturating_add(2 * CHART_MARGIN + y_label_area + bar_panel)
            .clamp(HEAT_MAP_MIN_SIZE.0, MAX_WIDTH);
        let height = count(self.row_labels.len())
            .saturating_mul(HEAT_MAP_ROW_HEIGHT)
            .saturating_add(2 * CHART_MARGIN + LINE_X_LABEL_AREA + title_height(self.title))
            .clamp(HEAT_MAP_MIN_SIZE.1, MAX_HEIGHT);
        HeatMapLayout {
            width,
            height,
            y_label_area,
            bar_panel,
        }
    }

    /// Where `value` lies between the smallest and largest finite value, in [0, 1]
    /// (0.5 when they are equal).
    fn scale(&self, value: f64) -> f64 {
        let (lo, hi) = self.range;
        if hi > lo {
            ((value / 2.0 - lo / 2.0) / (hi / 2.0 - lo / 2.0)).clamp(0.0, 1.0)
        } else {
            0.5
        }
    }
}

impl Figure for HeatMapFigure<'_> {
    fn size(&self) -> (u32, u32) {
        let layout = self.layout();
        (layout.width, layout.height)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let layout = self.layout();
        let (columns, rows) = (self.column_labels.len(), self.row_labels.len());
        let (area, _) = root.split_horizontally(layout.width.saturating_sub(layout.bar_panel));

        let mut builder = ChartBuilder::on(&area);
        builder
            .margin(CHART_MARGIN)
            .x_label_area_size(LINE_X_LABEL_AREA)
            .y_label_area_size(layout.y_label_area);
        if !self.title.is_empty() {
            builder.caption(self.title, font(TITLE_SIZE));
        }
        let mut chart =
            builder.build_cartesian_2d(Categories { n: columns }, Categories { n: rows })?;

        // Row r is drawn at y = rows - 1 - r, so that the first row is at the top.
        let label_at = |labels: &[String], position: f64, reversed: bool| {
            let i = position.round();
            if i < 0.0 || (position - i).abs() >= 0.25 {
                return String::new();
            }
            let i = i as usize;
            let index = if reversed {
                labels.len().checked_sub(i + 1)
            } else {
                Some(i)
            };
            index
                .and_then(|index| labels.get(index))
                .cloned()
                .unwrap_or_default()
        };
        let x_formatter = |x: &f64| label_at(self.column_labels, *x, false);
        let y_formatter = |y: &f64| label_at(self.row_labels, *y, true);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .disable_y_mesh()
            .x_label_formatter(&x_formatter)
            .y_label_formatter(&y_formatter)
            .x_desc(self.x_label)
            .y_desc(self.y_label)
            .label_style(font(TICK_LABEL_SIZE))
            .axis_desc_style(font(AXIS_DESC_SIZE))
            .draw()?;

        let (plot_w, plot_h) = chart.plotting_area().dim_in_pixel();
        let cell_w = f64::from(plot_w) / columns as f64;
        let cell_h = f64::from(plot_h) / rows as f64;
        let text_px = (cell_h / 2.5)
            .min(cell_w / 4.5)
            .clamp(6.0, f64::from(TICK_LABEL_SIZE));
        let cells = || {
            self.values.iter().enumerate().flat_map(move |(r, row)| {
                let y = (rows - 1 - r) as f64;
                row.iter().enumerate().map(move |(c, &value)| {
                    let corners = [(c as f64 - 0.5, y - 0.5), (c as f64 + 0.5, y + 0.5)];
                    ((c as f64, y), corners, value)
                })
            })
        };
        let fill = |value: f64| {
            if value.is_finite() {
                viridis(self.scale(value))
            } else {
                MISSING_COLOUR
            }
        };
        chart.draw_series(
            cells().map(|(_, corners, value)| Rectangle::new(corners, fill(value).filled())),
        )?;
        // Thin white lines between the cells.
        chart.draw_series(
            cells().map(|(_, corners, _)| Rectangle::new(corners, WHITE.stroke_width(1))),
        )?;
        let decimals = cell_decimals(self.range);
        chart.draw_series(cells().map(|(centre, _, value)| {
            let colour = if value.is_finite() {
                text_colour_on(fill(value))
            } else {
                RGBColor(90, 90, 90)
            };
            let mut style = TextStyle::from((FONT_FAMILY, text_px).into_font())
                .pos(Pos::new(HPos::Center, VPos::Center));
            style.color = colour.to_backend_color();
            Text::new(cell_text(value, decimals), centre, style)
        }))?;

        // The colour bar, level with the grid, in absolute pixels.
        let (_, y_range) = chart.plotting_area().get_pixel_range();
        let (top, bottom) = (y_range.start, y_range.end);
        self.draw_colour_bar(root, &layout, (top, bottom))
    }
}

impl HeatMapFigure<'_> {
    /// Draw the colour bar on `root`, from pixel row `top` to `bottom` (level with the
    /// grid), right of the plot, with its ticks and its label.
    fn draw_colour_bar<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        layout: &HeatMapLayout,
        (top, bottom): (i32, i32),
    ) -> DrawResult<DB> {
        let bar_x0 = i32::try_from(layout.width.saturating_sub(layout.bar_panel) + COLOUR_BAR_GAP)
            .unwrap_or(i32::MAX);
        let bar_x1 = bar_x0 + COLOUR_BAR_WIDTH as i32;
        let bar_h = (bottom - top).max(1);
        let steps = bar_h.min(128);
        for k in 0..steps {
            // From the top (largest value) down.
            let y0 = top + k * bar_h / steps;
            let y1 = top + (k + 1) * bar_h / steps;
            let t = 1.0 - (f64::from(k) + 0.5) / f64::from(steps);
            let t = if self.range.0 < self.range.1 { t } else { 0.5 };
            root.draw(&Rectangle::new(
                [(bar_x0, y0), (bar_x1, y1)],
                viridis(t).filled(),
            ))?;
        }
        root.draw(&Rectangle::new(
            [(bar_x0, top), (bar_x1, bottom)],
            BLACK.mix(0.5).stroke_width(1),
        ))?;
        let tick_style = font(TICK_LABEL_SIZE).pos(Pos::new(HPos::Left, VPos::Center));
        for (value, text) in self.bar_ticks() {
            let y = if self.range.0 < self.range.1 {
                bottom - (self.scale(value) * f64::from(bar_h)).round() as i32
            } else {
                (top + bottom) / 2
            };
            root.draw(&PathElement::new(
                vec![(bar_x1, y), (bar_x1 + 4, y)],
                BLACK.stroke_width(1),
            ))?;
            root.draw(&Text::new(text, (bar_x1 + 6, y), tick_style.clone()))?;
        }
        if !self.value_label.is_empty() {
            let tick_width = self
                .bar_ticks()
                .iter()
                .map(|(_, text)| text_size(text, TICK_LABEL_SIZE).0)
                .max()
                .unwrap_or(0);
            let x = bar_x1 + 6 + i32::try_from(tick_width).unwrap_or(0) + 12;
            let style = font(AXIS_DESC_SIZE)
                .transform(FontTransform::Rotate270)
                .pos(Pos::new(HPos::Center, VPos::Top));
            root.draw(&Text::new(
                self.value_label.to_string(),
                (x, (top + bottom) / 2),
                style,
            ))?;
        }
        Ok(())
    }
}

/// Decimals that tell the cells of a map apart whose finite values span `(lo, hi)`:
/// 2, or one more than the first decimal at which the span shows, up to 6
/// (R² from 0.9991 to 1: 4 decimals).
pub(super) fn cell_decimals((lo, hi): (f64, f64)) -> usize {
    let span = hi - lo;
    if !(span.is_finite() && span > 0.0) {
        return 2;
    }
    let first = (-span.log10()).floor().max(0.0) as usize;
    (first + 1).clamp(2, 6)
}

/// The text of a heat map cell: the value with `decimals` decimals, or "–" when
/// missing (no "-0.00").
pub(super) fn cell_text(value: f64, decimals: usize) -> String {
    if !value.is_finite() {
        return MISSING_TEXT.to_string();
    }
    let text = format!("{value:.decimals$}");
    if text.starts_with('-') && text[1..].chars().all(|c| c == '0' || c == '.') {
        text[1..].to_string()
    } else {
        text
    }
}

/// The viridis colour map (matplotlib's, sampled at 11 evenly spaced points) at
/// `t` in [0, 1], interpolated linearly in RGB.
pub(super) fn viridis(t: f64) -> RGBColor {
    const STOPS: [(u8, u8, u8); 11] = [
        (68, 1, 84),
        (72, 36, 117),
        (65, 68, 135),
        (53, 95, 141),
        (42, 120, 142),
        (33, 145, 140),
        (34, 168, 132),
        (68, 191, 112),
        (122, 209, 81),
        (189, 223, 38),
        (253, 231, 37),
    ];
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let position = t * (STOPS.len() - 1) as f64;
    let i = (position.floor() as usize).min(STOPS.len() - 2);
    let f = position - i as f64;
    let mix = |a: u8, b: u8| (f64::from(a) + f * (f64::from(b) - f64::from(a))).round() as u8;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// White or black, whichever contrasts more with `background` (WCAG relative
/// luminance).
pub(super) fn text_colour_on(background: RGBColor) -> RGBColor {
    let linear = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.040_45 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let RGBColor(r, g, b) = background;
    let luminance = 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
    // Contrast with white, (1.05) / (L + 0.05), equals that with black,
    // (L + 0.05) / 0.05, at L ≈ 0.179.
    if 1.05 / (luminance + 0.05) >= (luminance + 0.05) / 0.05 {
        WHITE
    } else {
        BLACK
    }
}
