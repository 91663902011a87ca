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

/// The widest coefficient plot, in pixels (columns get narrower beyond this).
const MAX_WIDTH: u32 = 10_000;

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
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The name shown in the legend (an empty name gives no legend entry).
    pub name: String,
    /// The `(x, y)` points, joined in the order given.
    pub points: Vec<(f64, f64)>,
}

/// Writes `stem.png` and `stem.svg`; returns the two paths.
///
/// Each series is a coloured line through its points in the order given, with a
/// marker at every point (colour and marker shape vary by series), and a legend in
/// the upper left naming the series. The axes are described by `x_label` and
/// `y_label`, span the data (padded) and are logarithmic when `log_x` / `log_y` is set.
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
    if series.is_empty() {
        return Err(Error::config(
            "series",
            "is empty: at least one series is needed",
        ));
    }
    for (i, s) in series.iter().enumerate() {
        let key = || format!("series[{i}].points (series '{}')", s.name);
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

impl LineFigure<'_> {
    fn draw_on<DB, X, Y>(
        &self,
        root: &DrawingArea<DB, Shift>,
        x_spec: X,
        y_spec: Y,
    ) -> DrawResult<DB>
    where
        DB: DrawingBackend,
        X: AsRangedCoord<Value = f64>,
        Y: AsRangedCoord<Value = f64>,
        X::CoordDescType: ValueFormatter<f64>,
        Y::CoordDescType: ValueFormatter<f64>,
    {
        let mut builder = ChartBuilder::on(root);
        builder
            .margin(20)
            .x_label_area_size(50)
            .y_label_area_size(80);
        if !self.title.is_empty() {
            builder.caption(self.title, font(TITLE_SIZE));
        }
        let mut chart = builder.build_cartesian_2d(x_spec, y_spec)?;
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(BLACK.mix(0.08))
            .x_label_formatter(&|x: &f64| tick_label(*x))
            .y_label_formatter(&|y: &f64| tick_label(*y))
            .x_desc(self.x_label)
            .y_desc(self.y_label)
            .label_style(font(TICK_LABEL_SIZE))
            .axis_desc_style(font(AXIS_DESC_SIZE))
            .draw()?;

        for (i, series) in self.series.iter().enumerate() {
            let colour = PALETTE[i % PALETTE.len()];
            let marker = Marker::for_series(i);
            let annotation = chart.draw_series(LineSeries::new(
                series.points.iter().copied(),
                colour.stroke_width(2),
            ))?;
            if !series.name.is_empty() {
                annotation
                    .label(series.name.as_str())
                    .legend(move |(x, y)| {
                        EmptyElement::at((x, y))
                            + PathElement::new(vec![(-12, 0), (12, 0)], colour.stroke_width(2))
                            + Polygon::new(marker.outline(), colour.filled())
                    });
            }
            chart.draw_series(series.points.iter().map(|&point| {
                EmptyElement::at(point) + Polygon::new(marker.outline(), colour.filled())
            }))?;
        }
        if self.series.iter().any(|s| !s.name.is_empty()) {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.9))
                .border_style(BLACK.mix(0.3))
                .label_font(font(TICK_LABEL_SIZE))
                .draw()?;
        }
        Ok(())
    }
}

impl Figure for LineFigure<'_> {
    fn size(&self) -> (u32, u32) {
        DEFAULT_SIZE
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let points = || self.series.iter().flat_map(|s| s.points.iter().copied());
        let (x_lo, x_hi) = min_max(points().map(|(x, _)| x));
        let (y_lo, y_hi) = min_max(points().map(|(_, y)| y));
        let linear_x = || {
            let (lo, hi) = padded_range(x_lo, x_hi, 0.03);
            lo..hi
        };
        let linear_y = || {
            let (lo, hi) = padded_range(y_lo, y_hi, 0.08);
            lo..hi
        };
        let log_x = || {
            let (lo, hi) = padded_log_range(x_lo, x_hi, 0.03);
            (lo..hi).log_scale()
        };
        let log_y = || {
            let (lo, hi) = padded_log_range(y_lo, y_hi, 0.08);
            (lo..hi).log_scale()
        };
        match (self.log_x, self.log_y) {
            (false, false) => self.draw_on(root, linear_x(), linear_y()),
            (true, false) => self.draw_on(root, log_x(), linear_y()),
            (false, true) => self.draw_on(root, linear_x(), log_y()),
            (true, true) => self.draw_on(root, log_x(), log_y()),
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
            Series {
                name: "full tape".to_string(),
                points: lengths.iter().map(|&t| (t, 2e-4 * t)).collect(),
            },
            Series {
                name: "checkpointed adjoint".to_string(),
                points: lengths.iter().map(|&t| (t, 3e-4 * t + 0.01)).collect(),
            },
            Series {
                name: "third".to_string(),
                points: vec![(500.0, 0.5)],
            },
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
    fn figures_line_plot_rejects_bad_input() {
        let dir = tempfile::tempdir().expect("test fixture");
        let stem = dir.path().join("bad");
        let series = |points: Vec<(f64, f64)>| Series {
            name: "s".to_string(),
            points,
        };
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
}
