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

mod coefficients;
mod heat_map;
mod intervals;
mod line;
mod pair;
mod paired;
mod spiking;
#[cfg(test)]
mod tests;

pub use coefficients::{
    coefficient_distributions, coefficient_distributions_by_subject, CoefficientPanel,
};
pub use heat_map::heat_map;
pub use intervals::{coefficient_intervals, CoefficientInterval, Determination};
pub use line::{line_panels, line_plot, LinePanel, Series};
pub use pair::pair_plot;
pub use paired::paired_plot;
pub use spiking::{
    spike_fit_figures, spike_raster_plot, spike_weights_plot, stdp_window, stdp_window_plot,
    RASTER_MS, STDP_WINDOW_MS, STDP_WINDOW_WEIGHT,
};

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use crate::io::write_atomically;
use crate::{Error, Result};

/// The family name the bundled font is registered under and used everywhere.
const FONT_FAMILY: &str = "sans-serif";

/// DejaVu Sans (Bitstream Vera licence, see `assets/fonts/LICENSE-DejaVu.txt`).
static FONT_BYTES: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");

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
