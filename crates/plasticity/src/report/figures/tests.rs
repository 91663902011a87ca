use super::coefficients::{coefficient_distributions, coefficient_figure_width, CoefficientPanel};
use super::heat_map::{
    cell_decimals, cell_text, heat_map, text_colour_on, viridis, HeatMapFigure, HEAT_MAP_MIN_SIZE,
    MISSING_COLOUR,
};
use super::line::{
    line_panels, line_plot, Corner, LegendPlacement, LineFigure, LinePanel, Series,
    LEGEND_LINE_HEIGHT,
};
use super::paired::paired_plot;
use super::*;
use super::{
    axis_tick_label, encode_png, jitter, median, padded_log_range, padded_range,
    register_bundled_font, tick_label, DEFAULT_SIZE, PALETTE, PNG_SIGNATURE,
};
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
    paired_plot(&stem, "again", "y", &subjects(1), "a", &[1.0], "b", &[1.0]).expect("paired plot");
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
    let paths =
        coefficient_distributions(&stem, "Fitted coefficients", &panels).expect("coefficient plot");
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
    let err = line_plot(Path::new(""), "t", "x", "y", &timing_series(), false, false).unwrap_err();
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
    let close =
        |(lo, hi): (f64, f64), (a, b): (f64, f64)| (lo - a).abs() < 1e-12 && (hi - b).abs() < 1e-12;
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
            line: true,
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
        let paths = line_plot(&stem, "Styles", "x", "y", &series, false, false).expect("line plot");
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

/// A line figure of `series` titled "Legend", with linear axes.
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

#[test]
fn figures_line_plot_legend() {
    let dir = tempfile::tempdir().expect("test fixture");
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
}

#[test]
fn figures_line_plot_legend_outside() {
    let dir = tempfile::tempdir().expect("test fixture");
    register_bundled_font().expect("font");

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
    let paths = heat_map(&stem, "Big", "x", "y", &columns, &rows, &values, "v").expect("heat map");
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
    assert_eq!(cell_text(0.949, 2), "0.95");
    assert_eq!(cell_text(-0.001, 2), "0.00");
    assert_eq!(cell_text(-1.5, 2), "-1.50");
    assert_eq!(cell_text(f64::NAN, 2), "–");
    assert_eq!(cell_text(f64::NEG_INFINITY, 2), "–");
    assert_eq!(cell_text(0.99914, 4), "0.9991");
    assert_eq!(cell_text(-0.00001, 4), "0.0000");
    // as many decimals as tell the cells apart: 2 at least, 6 at most
    assert_eq!(cell_decimals((-1.117, -0.913)), 2);
    assert_eq!(cell_decimals((0.9991, 1.0)), 4);
    assert_eq!(cell_decimals((0.99, 0.999)), 3);
    assert_eq!(cell_decimals((1.0, 1.0)), 2);
    assert_eq!(cell_decimals((0.0, 1e-12)), 6);
    assert_eq!(cell_decimals((f64::NAN, 1.0)), 2);
}

#[test]
fn figures_spiking_stdp_window_of_pair_stdp() {
    let rule =
        crate::rule::spike::SpikeRule::from_names(&["s_post*x_trace", "s_pre*y_trace"]).unwrap();
    let theta = [0.005, -0.00525];
    let (dt, tau) = (1.0f64, 20.0);
    let decay = (-dt / tau).exp();
    let window = stdp_window(&rule, &theta, dt, decay, decay);
    assert_eq!(window.len(), 201);
    assert_eq!(window.first().unwrap().0, -100.0);
    assert_eq!(window.last().unwrap().0, 100.0);
    for &(lag, dw) in &window {
        let expected = if lag >= 0.0 {
            0.005 * (-lag / tau).exp()
        } else {
            // the post trace is 1 after the post spike's step and decays once a
            // step from the next: post_decay^{|Δt|/dt}
            -0.00525 * (-lag.abs() / tau).exp()
        };
        assert!(
            (dw - expected).abs() < 1e-15,
            "Δt = {lag}: {dw} vs {expected}"
        );
    }
    // a coarser step keeps the same exponentials
    let window = stdp_window(&rule, &theta, 2.0, decay.powi(2), decay.powi(2));
    assert_eq!(window.len(), 101);
    let (lag, dw) = window[45]; // Δt = −10 ms
    assert_eq!(lag, -10.0);
    assert!((dw + 0.00525 * (-0.5f64).exp()).abs() < 1e-15);
}
