//! Publication-style figures, each written as a PNG and an SVG file.
//!
//! Every function takes a `stem` and writes `{stem}.png` and `{stem}.svg` (the
//! extension is appended, so a stem such as `fig.v2` gives `fig.v2.png`), returning
//! the two paths in that order. Both images are drawn in memory first and then each
//! file is written atomically with [`write_atomically`]: on any error no half-written
//! file is left behind (the PNG is written first, so if only the SVG's write fails,
//! the new PNG is already in place). The inputs are checked before anything is drawn: empty data,
//! mismatched lengths and non-finite values are reported as [`Error::Config`] naming
//! the argument at fault, and nothing is written.
//!
//! Text is laid out (and, in the PNG, rasterised) with the bundled DejaVu Sans font,
//! registered under the family name `"sans-serif"`, so the output does not depend on
//! the fonts installed on the machine. The SVG files keep their text as `<text>`
//! elements with `font-family="sans-serif"`: a viewer renders them with its own
//! sans-serif font, positioned from DejaVu Sans metrics.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::combinators::IntoLogRange;
use plotters::coord::ranged1d::{
    AsRangedCoord, DefaultFormatting, KeyPointHint, Ranged, ValueFormatter,
};
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{register_font, FontStyle};

use crate::io::write_atomically;
use crate::{Error, Result};

/// The family name the bundled font is registered under and used everywhere.
const FONT_FAMILY: &str = "sans-serif";

/// DejaVu Sans (Bitstream Vera licence, see `assets/fonts/LICENSE-DejaVu.txt`).
static FONT_BYTES: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");

/// Width and height of a paired plot and of a line plot, in pixels.
const DEFAULT_SIZE: (u32, u32) = (800, 500);

/// Horizontal space given to each column of a coefficient plot, in pixels.
const COEFFICIENT_COLUMN_WIDTH: u32 = 100;

/// The widest figure (a coefficient plot's columns and a heat map's cells get narrower
/// beyond this), in pixels.
const MAX_WIDTH: u32 = 10_000;

/// The tallest figure (a heat map's cells get lower beyond this), in pixels.
const MAX_HEIGHT: u32 = 10_000;

/// In a paired plot, subjects are labelled next to their right-hand point only when
/// there are at most this many (more would overlap into an unreadable block).
const MAX_SUBJECT_LABELS: usize = 20;

/// Okabe–Ito colour-blind-safe palette (black omitted: it is used for medians).
const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),   // blue
    RGBColor(230, 159, 0),   // orange
    RGBColor(0, 158, 115),   // bluish green
    RGBColor(213, 94, 0),    // vermillion
    RGBColor(204, 121, 167), // reddish purple
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(240, 228, 66),  // yellow
];

const TITLE_SIZE: u32 = 22;
const AXIS_DESC_SIZE: u32 = 16;
const TICK_LABEL_SIZE: u32 = 14;
const SMALL_TEXT_SIZE: u32 = 11;

/// Writes `stem.png` and `stem.svg`; returns the two paths.
///
/// A paired per-subject plot: two x positions labelled `name_a` and `name_b`; subject
/// `i` has a point at `a[i]` above `name_a` and one at `b[i]` above `name_b`, joined by
/// a thin grey line. The median of each column is drawn as a short thick black
/// horizontal bar. When there are at most 20 subjects, each is labelled with
/// `labels[i]` to the right of its `name_b` point. The y axis is described by
/// `y_label` and spans the data, padded.
///
/// Errors ([`Error::Config`]) when `labels`, `a` or `b` is empty, when their lengths
/// differ, or when a value is not finite; ([`Error::Io`]) when a file cannot be drawn
/// or written.
#[allow(clippy::too_many_arguments)]
pub fn paired_plot(
    stem: &Path,
    title: &str,
    y_label: &str,
    labels: &[String],
    name_a: &str,
    a: &[f64],
    name_b: &str,
    b: &[f64],
) -> Result<Vec<PathBuf>> {
    check_values("a", a)?;
    check_values("b", b)?;
    if labels.is_empty() {
        return Err(Error::config(
            "labels",
            "is empty: one label per subject is needed",
        ));
    }
    if b.len() != a.len() {
        return Err(Error::config(
            "b",
            format!(
                "has {} values but a has {}: one pair per subject is needed",
                b.len(),
                a.len()
            ),
        ));
    }
    if labels.len() != a.len() {
        return Err(Error::config(
            "labels",
            format!(
                "has {} labels but a and b have {} values",
                labels.len(),
                a.len()
            ),
        ));
    }
    render(
        stem,
        &PairedFigure {
            title,
            y_label,
            labels,
            names: [name_a, name_b],
            values: [a, b],
        },
    )
}

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

// ---------------------------------------------------------------------------------
// Rendering and output.

type DrawResult<DB> =
    std::result::Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// A figure that can be drawn on any plotters backend.
trait Figure {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);
    /// Draw the whole figure on `root`.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB>;
}

/// Draw `figure` as PNG and SVG in memory, then write `{stem}.png` and `{stem}.svg`,
/// each atomically.
fn render(stem: &Path, figure: &impl Figure) -> Result<Vec<PathBuf>> {
    let png_path = output_path(stem, "png")?;
    let svg_path = output_path(stem, "svg")?;
    register_bundled_font()?;
    let (width, height) = figure.size();

    let mut rgb = vec![0u8; 3 * width as usize * height as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        figure
            .draw(&root)
            .map_err(|e| drawing_error(&png_path, e))?;
        root.present().map_err(|e| drawing_error(&png_path, e))?;
    }
    let png = encode_png(&rgb, width, height).map_err(|e| Error::io(&png_path, e))?;

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        figure
            .draw(&root)
            .map_err(|e| drawing_error(&svg_path, e))?;
        root.present().map_err(|e| drawing_error(&svg_path, e))?;
    }

    write_atomically(&png_path, |w| w.write_all(&png))?;
    write_atomically(&svg_path, |w| w.write_all(svg.as_bytes()))?;
    Ok(vec![png_path, svg_path])
}

/// `{stem}.{extension}`, the extension appended (not substituted).
fn output_path(stem: &Path, extension: &str) -> Result<PathBuf> {
    let text = stem.as_os_str();
    let ends_with_separator = text
        .to_string_lossy()
        .chars()
        .last()
        .is_some_and(std::path::is_separator);
    if stem.file_name().is_none() || ends_with_separator {
        return Err(Error::config(
            "stem",
            format!(
                "'{}' does not end in a file name to which '.{extension}' can be appended",
                stem.display()
            ),
        ));
    }
    let mut name = text.to_os_string();
    name.push(".");
    name.push(extension);
    Ok(PathBuf::from(name))
}

/// A plotters failure while drawing the file at `path`.
fn drawing_error<E: std::error::Error + Send + Sync>(
    path: &Path,
    error: DrawingAreaErrorKind<E>,
) -> Error {
    Error::io(
        path,
        io::Error::other(format!("could not draw the figure: {error}")),
    )
}

/// Register the bundled DejaVu Sans as `"sans-serif"` (once per process).
fn register_bundled_font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED
        .get_or_init(|| register_font(FONT_FAMILY, FontStyle::Normal, FONT_BYTES).is_ok());
    if ok {
        Ok(())
    } else {
        Err(Error::config(
            "figures font",
            "the bundled DejaVu Sans font could not be parsed",
        ))
    }
}

/// Encode 8-bit RGB pixels (rows top to bottom) as a PNG: one IHDR, one IDAT
/// (zlib-compressed rows, each with filter type 0) and IEND.
fn encode_png(rgb: &[u8], width: u32, height: u32) -> io::Result<Vec<u8>> {
    let row = 3 * width as usize;
    if row == 0 || rgb.len() != row * height as usize {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} bytes is not a {width}×{height} RGB image", rgb.len()),
        ));
    }
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    for line in rgb.chunks_exact(row) {
        encoder.write_all(&[0])?;
        encoder.write_all(line)?;
    }
    let idat = encoder.finish()?;

    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    // Bit depth 8, colour type 2 (RGB), deflate, adaptive filtering, no interlace.
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);

    let mut png = Vec::with_capacity(idat.len() + 64);
    png.extend_from_slice(&PNG_SIGNATURE);
    push_png_chunk(&mut png, b"IHDR", &ihdr)?;
    push_png_chunk(&mut png, b"IDAT", &idat)?;
    push_png_chunk(&mut png, b"IEND", &[])?;
    Ok(png)
}

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

fn push_png_chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) -> io::Result<()> {
    let length = u32::try_from(data.len())
        .ok()
        .filter(|&n| n <= i32::MAX as u32)
        .ok_or_else(|| io::Error::other("PNG chunk larger than 2^31 - 1 bytes"))?;
    png.extend_from_slice(&length.to_be_bytes());
    png.extend_from_slice(kind);
    png.extend_from_slice(data);
    let mut crc = flate2::Crc::new();
    crc.update(kind);
    crc.update(data);
    png.extend_from_slice(&crc.sum().to_be_bytes());
    Ok(())
}

// ---------------------------------------------------------------------------------
// Input checks and numeric helpers.

/// `values` is non-empty and finite.
fn check_values(argument: &str, values: &[f64]) -> Result<()> {
    if values.is_empty() {
        return Err(Error::config(
            argument,
            "is empty: at least one value is needed",
        ));
    }
    if let Some((i, v)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(Error::config(
            argument,
            format!("value {i} is {v}; all values must be finite"),
        ));
    }
    Ok(())
}

/// Smallest and largest of finite values.
fn min_max(values: impl IntoIterator<Item = f64>) -> (f64, f64) {
    values
        .into_iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        })
}

/// `[lo, hi]` widened by `fraction` of its span on each side (by 10% of the value,
/// or by 1 around 0, when the span is empty); always finite and non-empty.
fn padded_range(lo: f64, hi: f64, fraction: f64) -> (f64, f64) {
    // Work with half-values so that the span cannot overflow.
    let mid = lo / 2.0 + hi / 2.0;
    let half = hi / 2.0 - lo / 2.0;
    let half = if half > 0.0 {
        half * (1.0 + 2.0 * fraction)
    } else if mid != 0.0 {
        mid.abs() * 0.1
    } else {
        1.0
    };
    let lo = (mid - half).max(f64::MIN);
    let hi = (mid + half).min(f64::MAX);
    (lo, hi)
}

/// `[lo, hi]` (both positive) widened by `fraction` of its span in log space (by a
/// factor 2 when the span is empty).
fn padded_log_range(lo: f64, hi: f64, fraction: f64) -> (f64, f64) {
    let (l0, l1) = (lo.ln(), hi.ln());
    let pad = if l1 > l0 {
        (l1 - l0) * fraction
    } else {
        std::f64::consts::LN_2
    };
    let lo = (l0 - pad).exp().max(f64::MIN_POSITIVE);
    let hi = (l1 + pad).exp().min(f64::MAX);
    (lo, hi)
}

/// The median of non-empty finite values.
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        sorted[n / 2 - 1] / 2.0 + sorted[n / 2] / 2.0
    }
}

/// Deterministic horizontal offset of subject `index` within a column: a
/// golden-ratio low-discrepancy sequence in `[-width/2, width/2)`.
fn jitter(index: usize, width: f64) -> f64 {
    const GOLDEN: f64 = 0.618_033_988_749_894_9;
    ((index as f64 * GOLDEN + 0.5).fract() - 0.5) * width
}

/// A compact tick label: up to 4 significant digits, exponent notation for very
/// large or small magnitudes, no trailing zeros.
fn tick_label(value: f64) -> String {
    let magnitude = value.abs();
    // a tick at 0 reached by adding floating-point steps (2.8e-17) is 0
    if magnitude < 1e-12 || !value.is_finite() {
        return if value.is_finite() {
            "0".to_string()
        } else {
            value.to_string()
        };
    }
    if !(1e-3..1e5).contains(&magnitude) {
        let text = format!("{value:.3e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        return format!("{}e{exponent}", trim_zeros(mantissa));
    }
    let decimals = (3 - magnitude.log10().floor() as i32).clamp(0, 6) as usize;
    let text = trim_zeros(&format!("{value:.decimals$}")).to_string();
    if text == "-0" {
        "0".to_string()
    } else {
        text
    }
}

/// [`tick_label`], except on a logarithmic axis, whose ticks are never 0 (a tick
/// of 1e-14 there is 1e-14, not a rounding error of 0).
fn axis_tick_label(value: f64, log: bool) -> String {
    if log && value > 0.0 && value < 1e-3 {
        let text = format!("{value:.3e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        return format!("{}e{exponent}", trim_zeros(mantissa));
    }
    tick_label(value)
}

/// `"1.500"` → `"1.5"`, `"2.000"` → `"2"`; text without a decimal point is unchanged.
fn trim_zeros(text: &str) -> &str {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text
    }
}

fn font(size: u32) -> TextStyle<'static> {
    TextStyle::from((FONT_FAMILY, f64::from(size)).into_font())
}

/// Width and height of `text` in pixels in the bundled font at `size` (estimated from
/// the number of characters if the font cannot lay it out).
fn text_size(text: &str, size: u32) -> (u32, u32) {
    font(size).font.box_size(text).unwrap_or_else(|_| {
        let n = u32::try_from(text.chars().count()).unwrap_or(u32::MAX);
        (n.saturating_mul(size) / 5 * 3, size)
    })
}

/// Height taken by a chart's title (plotters pads it by 5 pixels above and below), or
/// 0 when there is none.
fn title_height(title: &str) -> u32 {
    if title.is_empty() {
        0
    } else {
        let height = text_size(title, TITLE_SIZE).1;
        height + 2 * (height / 2).min(5)
    }
}

/// A categorical x axis: `n` columns centred on 0, 1, …, n − 1, spanning
/// `[-0.5, n - 0.5]`, with one tick per column and fractional positions allowed (for
/// jitter and median bars). Tick labels come from the chart's label formatter.
struct Categories {
    n: usize,
}

impl Ranged for Categories {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let fraction = (value + 0.5) / self.n as f64;
        let span = f64::from(limit.1) - f64::from(limit.0);
        (f64::from(limit.0) + fraction * span).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            (0..self.n).map(|i| i as f64).collect()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        -0.5..self.n as f64 - 0.5
    }
}

// ---------------------------------------------------------------------------------
// The figures.

struct PairedFigure<'a> {
    title: &'a str,
    y_label: &'a str,
    labels: &'a [String],
    names: [&'a str; 2],
    values: [&'a [f64]; 2],
}

impl Figure for PairedFigure<'_> {
    fn size(&self) -> (u32, u32) {
        DEFAULT_SIZE
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let [a, b] = self.values;
        let (lo, hi) = min_max(a.iter().chain(b).copied());
        let (y0, y1) = padded_range(lo, hi, 0.08);
        let x_spec = Categories { n: 2 };

        let mut builder = ChartBuilder::on(root);
        builder
            .margin(20)
            .x_label_area_size(40)
            .y_label_area_size(80);
        if !self.title.is_empty() {
            builder.caption(self.title, font(TITLE_SIZE));
        }
        let mut chart = builder.build_cartesian_2d(x_spec, y0..y1)?;

        let names = self.names;
        let x_formatter = move |x: &f64| {
            if (x - 0.0).abs() < 0.25 {
                names[0].to_string()
            } else if (x - 1.0).abs() < 0.25 {
                names[1].to_string()
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
            .y_desc(self.y_label)
            .label_style(font(TICK_LABEL_SIZE))
            .axis_desc_style(font(AXIS_DESC_SIZE))
            .draw()?;

        let pair_style = RGBColor(150, 150, 150).stroke_width(1);
        chart.draw_series(
            a.iter()
                .zip(b)
                .map(|(&ya, &yb)| PathElement::new(vec![(0.0, ya), (1.0, yb)], pair_style)),
        )?;
        for (column, values) in self.values.iter().enumerate() {
            let x = column as f64;
            let style = PALETTE[column].filled();
            chart.draw_series(values.iter().map(|&y| Circle::new((x, y), 4, style)))?;
        }
        for (column, values) in self.values.iter().enumerate() {
            let x = column as f64;
            let m = median(values);
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(x - 0.18, m), (x + 0.18, m)],
                BLACK.stroke_width(4),
            )))?;
        }
        if self.labels.len() <= MAX_SUBJECT_LABELS {
            let style = font(SMALL_TEXT_SIZE)
                .color(&RGBColor(90, 90, 90))
                .pos(Pos::new(HPos::Left, VPos::Center));
            chart.draw_series(b.iter().zip(self.labels).map(|(&y, label)| {
                EmptyElement::at((1.0, y)) + Text::new(label.clone(), (8, 0), style.clone())
            }))?;
        }
        Ok(())
    }
}

struct CoefficientFigure<'a> {
    title: &'a str,
    panels: &'a [CoefficientPanel],
}

/// The width of a coefficient plot with `n_panels` columns.
fn coefficient_figure_width(n_panels: usize) -> u32 {
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

struct LineFigure<'a> {
    title: &'a str,
    x_label: &'a str,
    y_label: &'a str,
    series: &'a [Series],
    log_x: bool,
    log_y: bool,
}

/// A corner of the plotting area, for a legend drawn inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Corner {
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
enum LegendPlacement {
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
const LEGEND_LINE_HEIGHT: u32 = 18;

/// Dash and gap length of a dashed line, in pixels.
const DASH: (i32, i32) = (8, 5);

/// Margin around a chart and width of the y tick label area of a line plot, in pixels.
const CHART_MARGIN: u32 = 20;
const LINE_Y_LABEL_AREA: u32 = 80;
const LINE_X_LABEL_AREA: u32 = 50;

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
    fn legend_placement(&self) -> LegendPlacement {
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
            if series.dashed {
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
        let (line, marker) = legend_sample(entry.colour, entry.dashed, entry.marker);
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
    dashed: bool,
    marker: Option<Marker>,
) -> (LegendLine, Polygon<(i32, i32)>) {
    let style = colour.stroke_width(2);
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

/// Minimum width of a heat map column and height of a row, in pixels.
const HEAT_MAP_COLUMN_WIDTH: u32 = 90;
const HEAT_MAP_ROW_HEIGHT: u32 = 60;

/// The smallest heat map, in pixels.
const HEAT_MAP_MIN_SIZE: (u32, u32) = (700, 500);

/// Width of a heat map's colour bar and the space around it, in pixels.
const COLOUR_BAR_WIDTH: u32 = 22;
const COLOUR_BAR_GAP: u32 = 8;

/// The fill of a heat map cell whose value is missing.
const MISSING_COLOUR: RGBColor = RGBColor(220, 220, 220);

/// The text of a missing heat map cell.
const MISSING_TEXT: &str = "–";

struct HeatMapFigure<'a> {
    title: &'a str,
    x_label: &'a str,
    y_label: &'a str,
    column_labels: &'a [String],
    row_labels: &'a [String],
    values: &'a [Vec<f64>],
    value_label: &'a str,
    /// Smallest and largest finite value.
    range: (f64, f64),
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
        chart.draw_series(cells().map(|(centre, _, value)| {
            let colour = if value.is_finite() {
                text_colour_on(fill(value))
            } else {
                RGBColor(90, 90, 90)
            };
            let mut style = TextStyle::from((FONT_FAMILY, text_px).into_font())
                .pos(Pos::new(HPos::Center, VPos::Center));
            style.color = colour.to_backend_color();
            Text::new(cell_text(value), centre, style)
        }))?;

        // The colour bar, level with the grid, in absolute pixels.
        let (_, y_range) = chart.plotting_area().get_pixel_range();
        let (top, bottom) = (y_range.start, y_range.end);
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

/// The text of a heat map cell: the value with 2 decimals, or "–" when missing.
fn cell_text(value: f64) -> String {
    if !value.is_finite() {
        return MISSING_TEXT.to_string();
    }
    let text = format!("{value:.2}");
    if text == "-0.00" {
        "0.00".to_string()
    } else {
        text
    }
}

/// The viridis colour map (matplotlib's, sampled at 11 evenly spaced points) at
/// `t` in [0, 1], interpolated linearly in RGB.
fn viridis(t: f64) -> RGBColor {
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
fn text_colour_on(background: RGBColor) -> RGBColor {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::io::Read;

    /// Width and height from the IHDR chunk, after checking the signature.
    fn png_dimensions(bytes: &[u8]) -> (u32, u32) {
        assert!(bytes.len() > 33, "PNG too short: {} bytes", bytes.len());
        assert_eq!(bytes[..8], PNG_SIGNATURE, "PNG signature");
        assert_eq!(&bytes[12..16], b"IHDR", "first chunk");
        let width = u32::from_be_bytes(bytes[16..20].try_into().expect("4 bytes"));
        let height = u32::from_be_bytes(bytes[20..24].try_into().expect("4 bytes"));
        (width, height)
    }

    /// Decode a PNG written by `encode_png`: check every chunk's CRC, inflate the
    /// IDAT data and strip the (type 0) filter bytes. Returns width, height, RGB.
    fn decode_png(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
        let (width, height) = png_dimensions(bytes);
        let mut at = 8;
        let mut idat = Vec::new();
        let mut saw_end = false;
        while at < bytes.len() {
            let length = u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4")) as usize;
            let kind = &bytes[at + 4..at + 8];
            let data = &bytes[at + 8..at + 8 + length];
            let stored = u32::from_be_bytes(
                bytes[at + 8 + length..at + 12 + length]
                    .try_into()
                    .expect("4"),
            );
            let mut crc = flate2::Crc::new();
            crc.update(kind);
            crc.update(data);
            assert_eq!(
                crc.sum(),
                stored,
                "CRC of chunk {:?}",
                String::from_utf8_lossy(kind)
            );
            match kind {
                b"IDAT" => idat.extend_from_slice(data),
                b"IEND" => saw_end = true,
                _ => {}
            }
            at += 12 + length;
        }
        assert!(saw_end, "no IEND chunk");
        assert_eq!(at, bytes.len(), "trailing bytes after the last chunk");
        let mut raw = Vec::new();
        flate2::read::ZlibDecoder::new(&idat[..])
            .read_to_end(&mut raw)
            .expect("IDAT inflates");
        let row = 1 + 3 * width as usize;
        assert_eq!(raw.len(), row * height as usize, "inflated size");
        let mut rgb = Vec::with_capacity(3 * (width * height) as usize);
        for line in raw.chunks_exact(row) {
            assert_eq!(line[0], 0, "filter type");
            rgb.extend_from_slice(&line[1..]);
        }
        (width, height, rgb)
    }

    /// Number of clearly dark pixels in rows `rows` of an RGB image.
    fn dark_pixels(rgb: &[u8], width: u32, rows: std::ops::Range<u32>) -> usize {
        let row = 3 * width as usize;
        rgb[rows.start as usize * row..rows.end as usize * row]
            .chunks_exact(3)
            .filter(|p| p.iter().all(|&c| c < 128))
            .count()
    }

    /// The two files exist, the PNG decodes at `size` with text in its title band, and
    /// the SVG holds every string of `texts`.
    fn check_outputs(paths: &[PathBuf], stem: &Path, size: (u32, u32), texts: &[&str]) {
        assert_eq!(
            paths,
            [stem.with_extension("png"), stem.with_extension("svg")],
            "returned paths"
        );
        let png = fs::read(&paths[0]).expect("PNG written");
        let (width, height, rgb) = decode_png(&png);
        assert_eq!((width, height), size);
        // The title is drawn in the top band, in black: glyphs were rasterised.
        assert!(
            dark_pixels(&rgb, width, 0..45) > 50,
            "no title pixels in the PNG"
        );
        let svg = fs::read_to_string(&paths[1]).expect("SVG written");
        assert!(svg.contains("<svg"), "not an SVG");
        for text in texts {
            assert!(svg.contains(text), "SVG lacks {text:?}");
        }
        assert!(
            svg.contains("font-family=\"sans-serif\""),
            "SVG font family"
        );
    }

    fn assert_dir_empty(dir: &Path) {
        let names: Vec<_> = fs::read_dir(dir)
            .expect("test fixture")
            .map(|e| e.expect("test fixture").file_name())
            .collect();
        assert!(names.is_empty(), "files left behind: {names:?}");
    }

    fn subjects(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("fly {i}")).collect()
    }

    #[test]
    fn figures_paired_plot_writes_png_and_svg() {
        let dir = tempfile::tempdir().expect("test fixture");
        let stem = dir.path().join("deviance");
        let a = [41.0, 55.5, 38.2, 60.1, 47.3];
        let b = [52.0, 61.5, 45.0, 66.6, 58.8];
        let paths = paired_plot(
            &stem,
            "Percent deviance explained",
            "deviance explained (%)",
            &subjects(5),
            "reward only",
            &a,
            "full model",
            &b,
        )
        .expect("paired plot");
        check_outputs(
            &paths,
            &stem,
            (800, 500),
            &[
                "Percent deviance explained",
                "deviance explained (%)",
                "reward only",
                "full model",
                "fly 3",
            ],
        );
        // Writing again replaces the files and leaves no temporary files.
        paired_plot(&stem, "again", "y", &subjects(1), "a", &[1.0], "b", &[1.0])
            .expect("paired plot");
        assert!(fs::read_to_string(&paths[1])
            .expect("SVG")
            .contains("again"));
        assert_eq!(fs::read_dir(dir.path()).expect("test fixture").count(), 2);
    }

    #[test]
    fn figures_paired_plot_rejects_bad_input() {
        let dir = tempfile::tempdir().expect("test fixture");
        let stem = dir.path().join("bad");
        let three = subjects(3);
        // (argument at fault, labels, a, b)
        type Case<'a> = (&'a str, &'a [String], &'a [f64], &'a [f64]);
        let cases: Vec<Case> = vec![
            ("b", &three, &[1.0, 2.0, 3.0], &[1.0, 2.0]),
            ("labels", &three[..2], &[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]),
            ("a", &[], &[], &[]),
            ("labels", &[], &[1.0], &[1.0]),
            ("a", &three, &[1.0, f64::NAN, 3.0], &[1.0, 2.0, 3.0]),
            ("b", &three, &[1.0, 2.0, 3.0], &[1.0, 2.0, f64::INFINITY]),
        ];
        for (argument, labels, a, b) in cases {
            let err = paired_plot(&stem, "t", "y", labels, "A", a, "B", b).unwrap_err();
            match &err {
                Error::Config { key, .. } => assert_eq!(key, argument, "{err}"),
                other => panic!("expected a config error, got {other}"),
            }
        }
        assert_dir_empty(dir.path());
    }

    #[test]
    fn figures_coefficient_distributions_writes_png_and_svg() {
        let dir = tempfile::tempdir().expect("test fixture");
        let stem = dir.path().join("coefficients");
        let panels = vec![
            CoefficientPanel {
                term: "x*y".to_string(),
                values: vec![0.8, 1.1, 0.95, 1.3, 0.7, 1.0],
                intervals: Some(vec![
                    (0.6, 1.0),
                    (0.9, 1.3),
                    (0.7, 1.2),
                    (1.0, 1.6),
                    (0.5, 0.9),
                    (0.8, 1.2),
                ]),
            },
            CoefficientPanel {
                term: "y^2*w".to_string(),
                values: vec![-0.2, -0.4, -0.1, -0.3, -0.25, -0.35],
                intervals: None,
            },
            CoefficientPanel {
                term: "r".to_string(),
                values: vec![2.0],
                intervals: None,
            },
        ];
        let paths = coefficient_distributions(&stem, "Fitted coefficients", &panels)
            .expect("coefficient plot");
        check_outputs(
            &paths,
            &stem,
            (800, 500),
            &["Fitted coefficients", "x*y", "y^2*w", "coefficient"],
        );

        // Many panels widen the figure.
        let many: Vec<_> = (0..12)
            .map(|i| CoefficientPanel {
                term: format!("t{i}"),
                values: vec![i as f64, -(i as f64)],
                intervals: None,
            })
            .collect();
        let wide = dir.path().join("many");
        let paths = coefficient_distributions(&wide, "Twelve terms", &many).expect("plot");
        let width = coefficient_figure_width(12);
        assert_eq!(width, 1400);
        check_outputs(&paths, &wide, (width, 500), &["Twelve terms", "t11"]);
    }

    #[test]
    fn figures_coefficient_distributions_rejects_bad_input() {
        let dir = tempfile::tempdir().expect("test fixture");
        let stem = dir.path().join("bad");
        let panel = |values: Vec<f64>, intervals: Option<Vec<(f64, f64)>>| CoefficientPanel {
            term: "x".to_string(),
            values,
            intervals,
        };
        let cases: Vec<(&str, Vec<CoefficientPanel>)> = vec![
            ("panels", vec![]),
            ("panels[0].values", vec![panel(vec![], None)]),
            (
                "panels[1].values",
                vec![panel(vec![1.0], None), panel(vec![1.0, f64::NAN], None)],
            ),
            (
                "panels[0].intervals",
                vec![panel(vec![1.0, 2.0], Some(vec![(0.0, 1.0)]))],
            ),
            (
                "panels[0].intervals",
                vec![panel(vec![1.0], Some(vec![(f64::NAN, 1.0)]))],
            ),
            (
                "panels[0].intervals",
                vec![panel(vec![1.0], Some(vec![(2.0, 1.0)]))],
            ),
        ];
        for (argument, panels) in cases {
            let err = coefficient_distributions(&stem, "t", &panels).unwrap_err();
            match &err {
                Error::Config { key, .. } => assert!(key.starts_with(argument), "{err}"),
                other => panic!("expected a config error, got {other}"),
            }
        }
        assert_dir_empty(dir.path());
    }

    fn timing_series() -> Vec<Series> {
        let lengths = [100.0, 300.0, 1000.0, 3000.0, 10000.0];
        vec![
            Series::new(
                "full tape",
                lengths.iter().map(|&t| (t, 2e-4 * t)).collect(),
            ),
            Series::new(
                "checkpointed adjoint",
                lengths.iter().map(|&t| (t, 3e-4 * t + 0.01)).collect(),
            ),
            Series::new("third", vec![(500.0, 0.5)]),
        ]
    }

    #[test]
    fn figures_line_plot_writes_png_and_svg() {
        let dir = tempfile::tempdir().expect("test fixture");
        for (log_x, log_y) in [(false, false), (true, false), (false, true), (true, true)] {
            let stem = dir.path().join(format!("timing_{log_x}_{log_y}.v1"));
            let paths = line_plot(
                &stem,
                "Gradient time",
                "trajectory length (steps)",
                "time (s)",
                &timing_series(),
                log_x,
                log_y,
            )
            .expect("line plot");
            // The extension is appended to the stem, not substituted.
            assert!(paths[0].ends_with(format!("timing_{log_x}_{log_y}.v1.png")));
            let png = fs::read(&paths[0]).expect("PNG written");
            let (width, height, rgb) = decode_png(&png);
            assert_eq!((width, height), (800, 500));
            assert!(dark_pixels(&rgb, width, 0..45) > 50);
            let svg = fs::read_to_string(&paths[1]).expect("SVG written");
            for text in [
                "<svg",
                "Gradient time",
                "trajectory length (steps)",
                "time (s)",
                "checkpointed adjoint",
            ] {
                assert!(svg.contains(text), "SVG lacks {text:?}");
            }
        }
    }

    #[test]
    fn figures_line_panels_side_by_side() {
        let dir = tempfile::tempdir().expect("test fixture");
        let panel = |title: &str, y_label: &str| LinePanel {
            title: title.into(),
            x_label: "recorded fraction".into(),
            y_label: y_label.into(),
            series: timing_series(),
            log_x: true,
            log_y: true,
        };
        let panels = vec![
            panel("Left panel", "left axis"),
            panel("Right panel", "right axis"),
        ];
        let paths = line_panels(&dir.path().join("two"), &panels).expect("panels");
        let png = fs::read(&paths[0]).expect("PNG written");
        let (width, height, rgb) = decode_png(&png);
        // each panel is a line plot of the default size
        assert_eq!((width, height), (1600, 500));
        let svg = fs::read_to_string(&paths[1]).expect("SVG written");
        for text in ["Left panel", "Right panel", "left axis", "right axis"] {
            assert!(svg.contains(text), "SVG lacks {text:?}");
        }
        // both halves are drawn on (dark pixels of axes and text in each)
        let half = |left: bool| {
            (0..height as usize)
                .flat_map(|row| {
                    let columns = if left { 0..800 } else { 800..1600 };
                    columns.map(move |column| (row * width as usize + column) * 3)
                })
                .filter(|&i| rgb[i] < 100 && rgb[i + 1] < 100 && rgb[i + 2] < 100)
                .count()
        };
        assert!(half(true) > 500 && half(false) > 500);
        // each panel's legend lies in that panel (x of the text naming the first series)
        let legend_x: Vec<f64> = svg
            .match_indices("full tape")
            .filter_map(|(at, _)| {
                let tag = &svg[svg[..at].rfind("<text")?..at];
                if tag.contains("</text>") {
                    return None;
                }
                let x = tag.split("x=\"").nth(1)?.split('"').next()?;
                x.parse().ok()
            })
            .collect();
        assert_eq!(legend_x.len(), 2, "{legend_x:?}");
        assert!(legend_x[0] < 800.0 && legend_x[1] > 800.0, "{legend_x:?}");

        let err = line_panels(&dir.path().join("none"), &[]).unwrap_err();
        assert!(
            matches!(&err, Error::Config { key, .. } if key == "panels"),
            "{err}"
        );
        let mut bad = panels.clone();
        bad[1].series[0].points[0].1 = -1.0;
        let err = line_panels(&dir.path().join("bad"), &bad).unwrap_err();
        assert!(
            matches!(&err, Error::Config { key, .. } if key.starts_with("panels[1].series[0]")),
            "{err}"
        );
    }

    #[test]
    fn figures_line_plot_rejects_bad_input() {
        let dir = tempfile::tempdir().expect("test fixture");
        let stem = dir.path().join("bad");
        let series = |points: Vec<(f64, f64)>| Series::new("s", points);
        let cases: Vec<(&str, Vec<Series>, bool, bool)> = vec![
            ("series", vec![], false, false),
            ("series[0].points", vec![series(vec![])], false, false),
            (
                "series[1].points",
                vec![series(vec![(1.0, 1.0)]), series(vec![(f64::NAN, 1.0)])],
                false,
                false,
            ),
            (
                "series[0].points",
                vec![series(vec![(1.0, f64::INFINITY)])],
                false,
                false,
            ),
            (
                "series[0].points",
                vec![series(vec![(0.0, 1.0)])],
                true,
                false,
            ),
            (
                "series[0].points",
                vec![series(vec![(1.0, -1.0)])],
                false,
                true,
            ),
        ];
        for (argument, series, log_x, log_y) in cases {
            let err = line_plot(&stem, "t", "x", "y", &series, log_x, log_y).unwrap_err();
            match &err {
                Error::Config { key, .. } => assert!(key.starts_with(argument), "{err}"),
                other => panic!("expected a config error, got {other}"),
            }
        }
        assert_dir_empty(dir.path());
    }

    #[test]
    fn figures_bad_stem_and_missing_directory() {
        let dir = tempfile::tempdir().expect("test fixture");
        let err =
            line_plot(Path::new(""), "t", "x", "y", &timing_series(), false, false).unwrap_err();
        assert!(
            matches!(&err, Error::Config { key, .. } if key == "stem"),
            "{err}"
        );
        let missing = dir.path().join("no/such/dir/figure");
        let err = line_plot(&missing, "t", "x", "y", &timing_series(), false, false).unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err}");
        assert!(err.to_string().contains("figure.png"), "{err}");
        assert_dir_empty(dir.path());
    }

    #[test]
    fn figures_helpers() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        let close = |(lo, hi): (f64, f64), (a, b): (f64, f64)| {
            (lo - a).abs() < 1e-12 && (hi - b).abs() < 1e-12
        };
        assert!(close(padded_range(1.0, 1.0, 0.1), (0.9, 1.1)));
        assert!(close(padded_range(0.0, 0.0, 0.1), (-1.0, 1.0)));
        assert!(close(padded_range(0.0, 10.0, 0.1), (-1.0, 11.0)));
        let (lo, hi) = padded_range(-f64::MAX, f64::MAX, 0.1);
        assert!(lo.is_finite() && hi.is_finite() && lo < hi);
        let (lo, hi) = padded_log_range(10.0, 10.0, 0.1);
        assert!((lo - 5.0).abs() < 1e-9 && (hi - 20.0).abs() < 1e-9);
        assert_eq!(axis_tick_label(1e-14, true), "1e-14");
        assert_eq!(axis_tick_label(1e-14, false), "0");
        assert_eq!(axis_tick_label(0.5, true), "0.5");
        assert_eq!(tick_label(0.0), "0");
        assert_eq!(tick_label(0.30000000000000004), "0.3");
        assert_eq!(tick_label(-2.5), "-2.5");
        assert_eq!(tick_label(2000.0), "2000");
        assert_eq!(tick_label(1e-5), "1e-5");
        assert_eq!(tick_label(2.5e6), "2.5e6");
        assert_eq!(tick_label(0.0123456), "0.01235");
        let offsets: Vec<f64> = (0..50).map(|j| jitter(j, 0.4)).collect();
        assert!(offsets.iter().all(|&o| (-0.2..0.2).contains(&o)));
        assert_eq!(offsets, (0..50).map(|j| jitter(j, 0.4)).collect::<Vec<_>>());
        let png = encode_png(&[255; 3 * 7 * 2], 7, 2).expect("encode");
        assert_eq!(decode_png(&png), (7, 2, vec![255; 42]));
        assert!(encode_png(&[0; 5], 7, 2).is_err());
    }

    /// Pixels of an RGB image whose channels are all within `tolerance` of `colour`.
    fn pixels_near(rgb: &[u8], colour: RGBColor, tolerance: u8) -> usize {
        let RGBColor(r, g, b) = colour;
        rgb.chunks_exact(3)
            .filter(|p| {
                p[0].abs_diff(r) <= tolerance
                    && p[1].abs_diff(g) <= tolerance
                    && p[2].abs_diff(b) <= tolerance
            })
            .count()
    }

    /// Number of `<polyline` elements stroked in `colour` in an SVG.
    fn polylines_in(svg: &str, colour: RGBColor) -> usize {
        let RGBColor(r, g, b) = colour;
        let stroke = format!("stroke=\"#{r:02X}{g:02X}{b:02X}\"");
        svg.split("<polyline")
            .skip(1)
            .filter(|element| {
                element
                    .split('>')
                    .next()
                    .is_some_and(|a| a.contains(&stroke))
            })
            .count()
    }

    #[test]
    fn figures_series_builder() {
        let points = vec![(0.0, 1.0), (1.0, 2.0)];
        assert_eq!(
            Series::new("fitted", points.clone()),
            Series {
                name: "fitted".to_string(),
                points: points.clone(),
                dashed: false,
                markers: true,
                colour: None,
            }
        );
        let truth = Series::new(String::from("true"), points.clone())
            .dashed()
            .colour(2);
        assert!(truth.dashed && !truth.markers && truth.colour == Some(2));
        let long = Series::new("long", points).without_markers();
        assert!(!long.dashed && !long.markers && long.colour.is_none());
    }

    #[test]
    fn figures_line_plot_dashed_markers_and_colour() {
        let dir = tempfile::tempdir().expect("test fixture");
        let draw = |name: &str, series: Vec<Series>| {
            let stem = dir.path().join(name);
            let paths =
                line_plot(&stem, "Styles", "x", "y", &series, false, false).expect("line plot");
            let (width, height, rgb) = decode_png(&fs::read(&paths[0]).expect("PNG written"));
            assert_eq!((width, height), DEFAULT_SIZE);
            (rgb, fs::read_to_string(&paths[1]).expect("SVG written"))
        };
        // Unnamed series (no legend): a long horizontal line across the plot, and a
        // short series of 20 points.
        let long: Vec<_> = (0..2000).map(|i| (f64::from(i), 1.0)).collect();
        let short: Vec<_> = (0..20).map(|i| (f64::from(i), f64::from(i % 3))).collect();
        let blue = PALETTE[0];

        let (solid, solid_svg) = draw(
            "solid",
            vec![Series::new("", long.clone()).without_markers()],
        );
        let (dashed, dashed_svg) = draw("dashed", vec![Series::new("", long.clone()).dashed()]);
        let n_solid = pixels_near(&solid, blue, 40);
        let n_dashed = pixels_near(&dashed, blue, 40);
        // A 2-pixel line across the ~680-pixel plot; dashes of 8 with gaps of 5 cover
        // about 8/13 of it.
        assert!(n_solid > 1000, "solid line: {n_solid} pixels");
        assert!(
            10 * n_dashed > 4 * n_solid && 10 * n_dashed < 8 * n_solid,
            "dashed {n_dashed} vs solid {n_solid} pixels"
        );
        assert_eq!(polylines_in(&solid_svg, blue), 1);
        assert!(polylines_in(&dashed_svg, blue) > 40, "dashes in the SVG");
        // Neither draws markers: 2000 points give no polygon at all.
        assert!(!solid_svg.contains("<polygon") && !dashed_svg.contains("<polygon"));

        let (marked, marked_svg) = draw("marked", vec![Series::new("", short.clone())]);
        let (plain, plain_svg) = draw(
            "plain",
            vec![Series::new("", short.clone()).without_markers()],
        );
        assert_eq!(marked_svg.matches("<polygon").count(), 20);
        assert_eq!(plain_svg.matches("<polygon").count(), 0);
        assert!(pixels_near(&marked, blue, 40) > pixels_near(&plain, blue, 40) + 20 * 20);

        // A palette index overrides the colour by position; a single point keeps its
        // marker even without markers.
        let vermillion = PALETTE[3];
        let (coloured, coloured_svg) = draw(
            "coloured",
            vec![
                Series::new("", long.clone()).without_markers().colour(3),
                Series::new("", vec![(1000.0, 1.05)])
                    .without_markers()
                    .colour(10),
            ],
        );
        assert!(pixels_near(&coloured, vermillion, 40) > 1000);
        assert_eq!(pixels_near(&coloured, blue, 40), 0);
        assert!(pixels_near(&coloured, PALETTE[10 % PALETTE.len()], 10) > 20);
        assert_eq!(coloured_svg.matches("<polygon").count(), 1);
    }

    #[test]
    fn figures_line_plot_legend() {
        let dir = tempfile::tempdir().expect("test fixture");
        fn figure(series: &[Series]) -> LineFigure<'_> {
            LineFigure {
                title: "Legend",
                x_label: "x",
                y_label: "y",
                series,
                log_x: false,
                log_y: false,
            }
        }
        register_bundled_font().expect("font");

        // The legend samples show dashed and solid lines: a named solid line without
        // markers is two polylines in its colour (the line and its sample), a dashed
        // one many; the marker appears in the legend too.
        let line = vec![(0.0, 0.0), (1.0, 1.0)];
        let pair = [
            Series::new("true", line.clone()).dashed().colour(1),
            Series::new("fitted", line.clone())
                .without_markers()
                .colour(2),
        ];
        let stem = dir.path().join("pair");
        let paths = line_plot(&stem, "Legend", "x", "y", &pair, false, false).expect("plot");
        let svg = fs::read_to_string(&paths[1]).expect("SVG written");
        assert!(
            svg.contains(">\ntrue\n<") && svg.contains(">\nfitted\n<"),
            "legend names"
        );
        assert_eq!(polylines_in(&svg, PALETTE[2]), 2);
        assert!(polylines_in(&svg, PALETTE[1]) > 2 + 20);
        assert!(!svg.contains("<polygon"));
        let marked = [Series::new("marked", line.clone())];
        let stem = dir.path().join("marked");
        let paths = line_plot(&stem, "Legend", "x", "y", &marked, false, false).expect("plot");
        let svg = fs::read_to_string(&paths[1]).expect("SVG written");
        assert_eq!(
            svg.matches("<polygon").count(),
            3,
            "2 markers and 1 in the legend"
        );

        // The legend goes to the first free corner.
        assert_eq!(
            figure(&pair).legend_placement(),
            LegendPlacement::Inside(Corner::UpperLeft)
        );
        let falling = [Series::new("falling", vec![(0.0, 1.0), (1.0, 0.0)])];
        assert_eq!(
            figure(&falling).legend_placement(),
            LegendPlacement::Inside(Corner::UpperRight)
        );
        let unnamed = [Series::new("", line.clone())];
        assert_eq!(figure(&unnamed).legend_placement(), LegendPlacement::None);
        let timing_series = timing_series();
        for (log_x, log_y) in [(false, false), (true, false), (false, true), (true, true)] {
            let timing = LineFigure {
                log_x,
                log_y,
                ..figure(&timing_series)
            };
            assert_eq!(
                timing.legend_placement(),
                LegendPlacement::Inside(Corner::UpperLeft)
            );
        }

        // Ten long waves fill the plot: the legend goes to the right, widening the
        // image, and every name is shown.
        let waves: Vec<Series> = (0..10)
            .map(|k| {
                let points = (0..2000)
                    .map(|i| {
                        let x = f64::from(i) * 0.01;
                        (x, (x + f64::from(k)).sin() + 0.1 * f64::from(k))
                    })
                    .collect();
                let series = Series::new(format!("wave {k}"), points);
                if k % 2 == 0 {
                    series.dashed().colour(k as usize / 2)
                } else {
                    series.without_markers().colour(k as usize / 2)
                }
            })
            .collect();
        let placement = figure(&waves).legend_placement();
        let LegendPlacement::Outside { width, height } = placement else {
            panic!("legend inside: {placement:?}");
        };
        assert!(
            width > DEFAULT_SIZE.0 + 80 && width < DEFAULT_SIZE.0 + 200,
            "{width}"
        );
        assert_eq!(height, DEFAULT_SIZE.1);
        let stem = dir.path().join("waves");
        let paths = line_plot(&stem, "Ten waves", "x", "y", &waves, false, false).expect("plot");
        let names: Vec<String> = (0..10).map(|k| format!("wave {k}")).collect();
        let mut texts: Vec<&str> = names.iter().map(String::as_str).collect();
        texts.push("Ten waves");
        check_outputs(&paths, &stem, (width, height), &texts);
        // The legend is right of the plot: its dashed and solid samples in the first
        // colour lie beyond x = 800 in the PNG.
        let (_, _, rgb) = decode_png(&fs::read(&paths[0]).expect("PNG written"));
        let right_of_plot: Vec<u8> = rgb
            .chunks_exact(3 * width as usize)
            .flat_map(|row| row[3 * DEFAULT_SIZE.0 as usize..].iter().copied())
            .collect();
        assert!(pixels_near(&right_of_plot, PALETTE[0], 10) > 2 * 30);

        // Many series make the outside legend, and the image, taller.
        let many: Vec<Series> = (0..40)
            .map(|k| Series::new(format!("s{k}"), vec![(0.0, 0.0), (1.0, f64::from(k))]))
            .collect();
        match figure(&many).legend_placement() {
            LegendPlacement::Outside { height, .. } => {
                assert!(height >= 40 * LEGEND_LINE_HEIGHT, "{height}")
            }
            other => panic!("legend {other:?}"),
        }
    }

    fn strings(texts: &[&str]) -> Vec<String> {
        texts.iter().map(|text| text.to_string()).collect()
    }

    #[test]
    fn figures_heat_map_writes_png_and_svg() {
        let dir = tempfile::tempdir().expect("test fixture");
        let stem = dir.path().join("r2");
        let columns = strings(&["x*y", "y^2", "w", "r"]);
        let rows = strings(&["fly 0", "fly 1", "fly 2"]);
        let values = vec![
            vec![0.95, 0.12, -0.3, 0.5],
            vec![-0.001, f64::NAN, 0.71, 0.33],
            vec![-0.5, 0.25, 0.8, f64::INFINITY],
        ];
        let paths = heat_map(
            &stem,
            "Held-out R²",
            "term",
            "subject",
            &columns,
            &rows,
            &values,
            "R² (held out)",
        )
        .expect("heat map");
        check_outputs(
            &paths,
            &stem,
            HEAT_MAP_MIN_SIZE,
            &[
                "Held-out R²",
                "term",
                "subject",
                "R² (held out)",
                "x*y",
                "y^2",
                "fly 0",
                "fly 2",
                ">\n0.95\n<",
                ">\n-0.30\n<",
                ">\n0.00\n<",
                ">\n0.71\n<",
                ">\n-0.5\n<",
                ">\n–\n<",
            ],
        );
        let svg = fs::read_to_string(&paths[1]).expect("SVG written");
        assert_eq!(svg.matches(">\n–\n<").count(), 2, "two missing cells");
        // Cells in the extreme colours of the map and in the missing grey; white text
        // on the darkest cell, black on the lightest.
        let (_, _, rgb) = decode_png(&fs::read(&paths[0]).expect("PNG written"));
        assert!(pixels_near(&rgb, viridis(1.0), 0) > 3000);
        assert!(pixels_near(&rgb, viridis(0.0), 0) > 3000);
        assert!(pixels_near(&rgb, MISSING_COLOUR, 0) > 2 * 3000);
        assert!(svg.contains("fill=\"#FFFFFF\">\n-0.50\n<"), "white on dark");
        assert!(svg.contains("fill=\"#000000\">\n0.95\n<"), "black on light");

        // A larger grid makes a larger image, at least 90 × 60 pixels a cell; equal
        // values are allowed.
        let columns: Vec<String> = (0..12).map(|c| format!("term {c}")).collect();
        let rows: Vec<String> = (0..9).map(|r| format!("a longer label {r}")).collect();
        let values = vec![vec![0.5; 12]; 9];
        let figure = HeatMapFigure {
            title: "Big",
            x_label: "x",
            y_label: "y",
            column_labels: &columns,
            row_labels: &rows,
            values: &values,
            value_label: "v",
            range: (0.5, 0.5),
        };
        let (width, height) = figure.size();
        assert!(
            width >= 12 * 90 + 150 && height >= 9 * 60 + 100,
            "{width}×{height}"
        );
        let stem = dir.path().join("big");
        let paths =
            heat_map(&stem, "Big", "x", "y", &columns, &rows, &values, "v").expect("heat map");
        check_outputs(
            &paths,
            &stem,
            (width, height),
            &["Big", "term 11", "a longer label 8", ">\n0.50\n<"],
        );
    }

    #[test]
    fn figures_heat_map_rejects_bad_input() {
        let dir = tempfile::tempdir().expect("test fixture");
        let stem = dir.path().join("bad");
        let two = strings(&["a", "b"]);
        let ok = vec![vec![1.0, 2.0], vec![3.0, 4.0]];
        // (argument at fault, columns, rows, values)
        type Case<'a> = (&'a str, &'a [String], &'a [String], Vec<Vec<f64>>);
        let cases: Vec<Case> = vec![
            ("column_labels", &[], &two, ok.clone()),
            ("row_labels", &two, &[], ok.clone()),
            ("values", &two, &two, vec![vec![1.0, 2.0]]),
            ("values", &two, &two, vec![]),
            (
                "values[1] (row 'b')",
                &two,
                &two,
                vec![vec![1.0, 2.0], vec![3.0]],
            ),
            (
                "values[0] (row 'a')",
                &two,
                &two,
                vec![vec![1.0, 2.0, 3.0], vec![3.0, 4.0]],
            ),
            (
                "values",
                &two,
                &two,
                vec![
                    vec![f64::NAN, f64::INFINITY],
                    vec![f64::NEG_INFINITY, f64::NAN],
                ],
            ),
        ];
        for (argument, columns, rows, values) in cases {
            let err = heat_map(&stem, "t", "x", "y", columns, rows, &values, "v").unwrap_err();
            match &err {
                Error::Config { key, .. } => assert_eq!(key, argument, "{err}"),
                other => panic!("expected a config error, got {other}"),
            }
        }
        assert_dir_empty(dir.path());
    }

    #[test]
    fn figures_heat_map_helpers() {
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(0.5), RGBColor(33, 145, 140));
        assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
        assert_eq!(viridis(0.05), RGBColor(70, 19, 101));
        assert_eq!(viridis(-1.0), viridis(0.0));
        assert_eq!(viridis(2.0), viridis(1.0));
        assert_eq!(viridis(f64::NAN), viridis(0.0));
        assert_eq!(text_colour_on(viridis(0.0)), WHITE);
        assert_eq!(text_colour_on(viridis(0.3)), WHITE);
        assert_eq!(text_colour_on(viridis(0.7)), BLACK);
        assert_eq!(text_colour_on(viridis(1.0)), BLACK);
        assert_eq!(text_colour_on(MISSING_COLOUR), BLACK);
        assert_eq!(cell_text(0.949), "0.95");
        assert_eq!(cell_text(-0.001), "0.00");
        assert_eq!(cell_text(-1.5), "-1.50");
        assert_eq!(cell_text(f64::NAN), "–");
        assert_eq!(cell_text(f64::NEG_INFINITY), "–");
    }
}
