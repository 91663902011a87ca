//! The paired per-subject plot ([`paired_plot`]): two columns, one point per subject in
//! each, joined by a line, with the median of each column.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::{Error, Result};

use super::{
    check_values, font, median, min_max, padded_range, render, text_size, tick_label, Categories,
    DrawResult, Figure, AXIS_DESC_SIZE, DEFAULT_SIZE, MAX_SUBJECT_LABELS, PALETTE, SMALL_TEXT_SIZE,
    TICK_LABEL_SIZE, TITLE_SIZE,
};

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
            // each subject named beside both its points, labels moved apart where they
            // would overlap and joined to their point by a thin line
            let (_, y_pixels) = chart.plotting_area().get_pixel_range();
            let line_height = text_size("Xg", SMALL_TEXT_SIZE).1 as i32 + 2;
            let leader = RGBColor(170, 170, 170).stroke_width(1);
            for (column, values) in self.values.iter().enumerate() {
                let x = column as f64;
                let pixels: Vec<i32> = values
                    .iter()
                    .map(|&y| chart.backend_coord(&(x, y)).1)
                    .collect();
                let placed = spread_labels(&pixels, line_height, (y_pixels.start, y_pixels.end));
                // clear of the median bar (±0.18 of a column)
                let half_bar =
                    chart.backend_coord(&(x + 0.18, 0.0)).0 - chart.backend_coord(&(x, 0.0)).0;
                let (anchor, gap) = if column == 0 {
                    (HPos::Right, -(half_bar + 8))
                } else {
                    (HPos::Left, half_bar + 8)
                };
                let style = font(SMALL_TEXT_SIZE)
                    .color(&RGBColor(70, 70, 70))
                    .pos(Pos::new(anchor, VPos::Center));
                chart.draw_series(
                    values
                        .iter()
                        .zip(self.labels)
                        .zip(&placed)
                        .zip(&pixels)
                        .map(|(((&y, label), &at), &from)| {
                            let dy = at - from;
                            EmptyElement::at((x, y))
                                + PathElement::new(
                                    vec![(gap.signum() * 5, 0), (gap - gap.signum() * 3, dy)],
                                    leader,
                                )
                                + Text::new(label.clone(), (gap, dy), style.clone())
                        }),
                )?;
            }
        }
        Ok(())
    }
}

/// Vertical pixel positions for labels wanted at `wanted` (one per label), each at
/// least `spacing` from the next and inside `range` where there is room: labels keep
/// their order from top to bottom and move as little as a sweep down and then up
/// allows.
pub(super) fn spread_labels(wanted: &[i32], spacing: i32, range: (i32, i32)) -> Vec<i32> {
    let mut order: Vec<usize> = (0..wanted.len()).collect();
    order.sort_by_key(|&i| (wanted[i], i));
    let mut placed: Vec<i32> = order.iter().map(|&i| wanted[i]).collect();
    let (top, bottom) = (range.0 + spacing / 2, range.1 - spacing / 2);
    // down: each at least `spacing` below the one above, none above the top
    for k in 0..placed.len() {
        let floor = if k == 0 { top } else { placed[k - 1] + spacing };
        placed[k] = placed[k].max(floor);
    }
    // up: none below the bottom, each at least `spacing` above the one below
    for k in (0..placed.len()).rev() {
        let ceiling = if k + 1 == placed.len() {
            bottom
        } else {
            placed[k + 1] - spacing
        };
        placed[k] = placed[k].min(ceiling);
    }
    let mut result = vec![0; wanted.len()];
    for (k, &i) in order.iter().enumerate() {
        result[i] = placed[k];
    }
    result
}

#[cfg(test)]
mod spread_tests {
    use super::spread_labels;

    #[test]
    fn labels_move_apart_keep_their_order_and_stay_inside() {
        let placed = spread_labels(&[100, 101, 102, 300], 14, (0, 400));
        assert_eq!(placed, vec![100, 114, 128, 300]);
        // crowded at the bottom: pushed up
        let placed = spread_labels(&[395, 396, 399], 10, (0, 400));
        assert_eq!(placed, vec![375, 385, 395]);
        // far apart: unchanged
        assert_eq!(spread_labels(&[10, 50], 14, (0, 400)), vec![10, 50]);
        // order by position, not by index
        let placed = spread_labels(&[200, 199], 14, (0, 400));
        assert!(placed[0] - placed[1] >= 14, "{placed:?}");
    }
}
