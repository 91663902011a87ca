//! Figures of a spike-train fit ([`spike_fit_figures`]): the recorded spikes
//! ([`spike_raster_plot`]), true and fitted weights on the recorded spikes
//! ([`spike_weights_plot`]) and the STDP window of the fitted and generating rules
//! ([`stdp_window_plot`], computed by [`stdp_window`]).

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use rand::rngs::ChaCha8Rng;
use rand::SeedableRng;

use crate::circuit::spiking::{run_circuit, RunDrive, SpikeRaster, SpikingCircuit, SpikingKind};
use crate::data::SpikeTrainDataset;
use crate::rule::spike::{SpikeRule, SpikeVariables};
use crate::{Error, Result};

use super::line::{CHART_MARGIN, LINE_X_LABEL_AREA, LINE_Y_LABEL_AREA};
use super::{
    font, line_plot, render, tick_label, DrawResult, Figure, Series, AXIS_DESC_SIZE, DEFAULT_SIZE,
    PALETTE, TICK_LABEL_SIZE, TITLE_SIZE,
};

/// The span of the raster, in ms from the start of the recording.
pub const RASTER_MS: f64 = 2000.0;

/// The window's largest |Δt|, in ms.
pub const STDP_WINDOW_MS: f64 = 100.0;

/// The weight held fixed while the window is computed.
pub const STDP_WINDOW_WEIGHT: f64 = 0.5;

/// Plastic synapses drawn by [`spike_weights_plot`].
const WEIGHT_SYNAPSES: usize = 6;

/// Draws `raster`, `weights` and `stdp_window` (PNG and SVG each) of θ fitted to
/// `dataset` into `dir` (created if missing), all on its first trajectory; the window
/// is left out when no projection is plastic. Returns the paths written.
pub fn spike_fit_figures(
    dir: &Path,
    dataset: &SpikeTrainDataset,
    theta: &[f64],
) -> Result<Vec<PathBuf>> {
    check_inputs(dataset, theta)?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let (circuit, raster) = (&dataset.circuit, &dataset.rasters[0]);
    let mut written = spike_raster_plot(&dir.join("raster"), circuit, raster)?;
    written.extend(spike_weights_plot(&dir.join("weights"), dataset, theta)?);
    written.extend(stdp_window_plot(&dir.join("stdp_window"), dataset, theta)?);
    Ok(written)
}

/// `dataset` has a trajectory and `theta` one value per parameter of its rules.
fn check_inputs(dataset: &SpikeTrainDataset, theta: &[f64]) -> Result<()> {
    if dataset.rasters.is_empty() || dataset.initial_weights.is_empty() {
        return Err(Error::config("dataset", "has no trajectory to draw"));
    }
    let n_theta = dataset.circuit.n_parameters();
    if theta.len() != n_theta {
        let message = format!("has {} values, the circuit's rules {n_theta}", theta.len());
        return Err(Error::config("theta", message));
    }
    Ok(())
}

/// Writes `stem.png` and `stem.svg`: the spikes of the first [`RASTER_MS`] ms of
/// `raster`, one tick per spike at its time (s) and neuron (global index), sources in
/// blue and neurons in vermillion, each population named at the right of its rows.
pub fn spike_raster_plot(
    stem: &Path,
    circuit: &SpikingCircuit,
    raster: &SpikeRaster,
) -> Result<Vec<PathBuf>> {
    let steps = ((RASTER_MS / circuit.dt()).round() as usize).clamp(1, raster.steps().max(1));
    let raster = raster.truncated(steps);
    render(
        stem,
        &RasterFigure {
            circuit,
            raster,
            steps,
        },
    )
}

/// The spikes of `raster` (its first `steps` steps) in `circuit`.
struct RasterFigure<'a> {
    circuit: &'a SpikingCircuit,
    raster: SpikeRaster,
    steps: usize,
}

impl Figure for RasterFigure<'_> {
    fn size(&self) -> (u32, u32) {
        DEFAULT_SIZE
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let populations = self.circuit.populations();
        let label_width = populations
            .iter()
            .map(|p| super::text_size(&p.name, TICK_LABEL_SIZE).0)
            .max()
            .unwrap_or(0);
        let seconds = |t: usize| t as f64 * self.circuit.dt() / 1000.0;
        let end = seconds(self.steps);
        let title = format!("Recorded spikes, first {} s", tick_label(end));
        let top = self.circuit.n_neurons() as f64 - 0.5;
        let mut chart = ChartBuilder::on(root)
            .margin(CHART_MARGIN)
            .margin_right(CHART_MARGIN + label_width + 12)
            .caption(title, font(TITLE_SIZE))
            .x_label_area_size(LINE_X_LABEL_AREA)
            .y_label_area_size(LINE_Y_LABEL_AREA)
            .build_cartesian_2d(0.0..end, -0.5..top)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(BLACK.mix(0.08))
            .x_label_formatter(&|x: &f64| tick_label(*x))
            .y_label_formatter(&|y: &f64| tick_label(*y))
            .x_desc("time (s)")
            .y_desc("neuron")
            .label_style(font(TICK_LABEL_SIZE))
            .axis_desc_style(font(AXIS_DESC_SIZE))
            .draw()?;
        let label_style = font(TICK_LABEL_SIZE).pos(Pos::new(HPos::Left, VPos::Center));
        for (p, population) in populations.iter().enumerate() {
            let range = self.circuit.neuron_range(p);
            let source = matches!(population.kind, SpikingKind::Source);
            let colour = PALETTE[if source { 0 } else { 3 }];
            let ticks = self
                .raster
                .events()
                .filter(|&(_, i)| range.contains(&(i as usize)));
            chart.draw_series(ticks.map(|(t, i)| {
                let (t, i) = (seconds(t), f64::from(i));
                PathElement::new(vec![(t, i - 0.45), (t, i + 0.45)], colour.stroke_width(1))
            }))?;
            if range.start > 0 {
                let y = range.start as f64 - 0.5;
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(0.0, y), (end, y)],
                    BLACK.mix(0.4).stroke_width(1),
                )))?;
            }
            let middle = (range.start + range.end) as f64 / 2.0 - 0.5;
            let (x, y) = chart.backend_coord(&(end, middle));
            let (base_x, base_y) = root.get_base_pixel();
            let (position, style) = ((x - base_x + 8, y - base_y), label_style.color(&colour));
            root.draw(&Text::new(population.name.as_str(), position, style))?;
        }
        Ok(())
    }
}

/// Writes `stem.png` and `stem.svg`: on the first trajectory, the weights of 6
/// plastic synapses (evenly spaced over all plastic synapses) over time (s), the true
/// ones (`dataset.weights` at `dataset.weight_steps`, solid) and those θ's rule gives
/// with the recorded spikes forced, from the recorded `W₀` (dashed, same colour).
/// Without recorded weights only the fitted ones are drawn; without plastic synapses
/// nothing is written (and no path returned).
pub fn spike_weights_plot(
    stem: &Path,
    dataset: &SpikeTrainDataset,
    theta: &[f64],
) -> Result<Vec<PathBuf>> {
    check_inputs(dataset, theta)?;
    let circuit = &dataset.circuit;
    let (raster, w0) = (&dataset.rasters[0], &dataset.initial_weights[0]);
    let plastic: Vec<_> = (0..circuit.projections().len())
        .filter(|&p| circuit.projections()[p].rule.is_some())
        .flat_map(|p| {
            circuit
                .weight_range(p)
                .enumerate()
                .map(move |(s, g)| (p, s, g))
        })
        .collect();
    if plastic.is_empty() {
        return Ok(Vec::new());
    }
    let chosen: Vec<_> = if plastic.len() <= WEIGHT_SYNAPSES {
        plastic
    } else {
        let n = plastic.len();
        (0..WEIGHT_SYNAPSES)
            .map(|k| plastic[(2 * k + 1) * n / (2 * WEIGHT_SYNAPSES)])
            .collect()
    };
    let truth = dataset.weights.first().filter(|w| {
        !w.is_empty()
            && w.len() == dataset.weight_steps.len()
            && w.iter().all(|w| w.len() == w0.len())
    });
    let interval = match (truth, dataset.weight_steps.as_slice()) {
        (Some(_), [first, second, ..]) => second - first,
        _ => (raster.steps() / 200).max(1),
    };
    let (forced, reward) = (Some(raster), None);
    let drive = RunDrive {
        sources: raster,
        forced,
        reward,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(0); // unused: every spike is forced
    let run = run_circuit(circuit, theta, w0, drive, &mut rng, interval);
    let seconds = |t: usize| t as f64 * circuit.dt() / 1000.0;
    let several = chosen.iter().any(|&(p, _, _)| p != chosen[0].0);
    let mut series = Vec::new();
    for (j, &(p, s, g)) in chosen.iter().enumerate() {
        let projection = &circuit.projections()[p];
        let c = &projection.connectivity;
        let post = (0..c.n_post())
            .find(|&i| c.row(i).contains(&s))
            .unwrap_or(0);
        let name = match several {
            true => format!("{}: post {post}, pre {}", projection.name, c.pre_index()[s]),
            false => format!("post {post}, pre {}", c.pre_index()[s]),
        };
        let column = |steps: &[usize], weights: &[Vec<f64>]| -> Vec<(f64, f64)> {
            steps
                .iter()
                .zip(weights)
                .map(|(&t, w)| (seconds(t), w[g]))
                .collect()
        };
        if let Some(truth) = truth {
            let points = column(&dataset.weight_steps, truth);
            series.push(
                Series::new(name.clone(), points)
                    .without_markers()
                    .colour(j),
            );
        }
        let points = column(&run.weight_steps, &run.weights);
        let name = if truth.is_some() { String::new() } else { name };
        series.push(Series::new(name, points).dashed().colour(j));
    }
    let title = match truth {
        Some(_) => "True (solid) and fitted (dashed) weights, spikes forced",
        None => "Fitted weights, recorded spikes forced",
    };
    let (x_label, y_label) = ("time (s)", "synaptic weight w");
    line_plot(stem, title, x_label, y_label, &series, false, false)
}

/// Writes `stem.png` and `stem.svg`: the [`stdp_window`] of the first plastic
/// projection's rule for θ (dashed) and, where the dataset's circuit names it, the
/// generating θ (solid), scaled by the projection's learning rate η, against Δt (ms).
/// Writes nothing (and returns no path) when no projection is plastic.
pub fn stdp_window_plot(
    stem: &Path,
    dataset: &SpikeTrainDataset,
    theta: &[f64],
) -> Result<Vec<PathBuf>> {
    check_inputs(dataset, theta)?;
    let circuit = &dataset.circuit;
    let Some((projection, r)) = circuit
        .projections()
        .iter()
        .find_map(|p| p.rule.map(|r| (p, r)))
    else {
        return Ok(Vec::new());
    };
    let rule = &circuit.rules()[r].rule;
    let range = circuit.theta_range(r);
    let window = |theta: &[f64]| -> Vec<(f64, f64)> {
        let (dt, pre, post) = (circuit.dt(), projection.pre_decay, projection.post_decay);
        let points = stdp_window(rule, &theta[range.clone()], dt, pre, post);
        points
            .into_iter()
            .map(|(t, w)| (t, projection.learning_rate * w))
            .collect()
    };
    let mut series = Vec::new();
    let named = dataset.spec.rules.get(r).is_some_and(|s| s.rule.is_some());
    let generating = dataset
        .spec
        .generating_theta()
        .ok()
        .filter(|g| named && g.len() == theta.len());
    if let Some(truth) = generating {
        let line = Series::new("generating rule", window(&truth));
        series.push(line.without_markers().colour(0));
    }
    series.push(Series::new("fitted rule", window(theta)).dashed().colour(3));
    let name = &circuit.rules()[r].name;
    let title = format!("STDP window of '{name}' (w = {STDP_WINDOW_WEIGHT})");
    let (x_label, y_label) = ("Δt = t_post − t_pre (ms)", "Δw per spike pair");
    line_plot(stem, &title, x_label, y_label, &series, false, false)
}

/// The STDP window of `rule` with θ: `(Δt, Δw)` for `Δt = t_post − t_pre` every `dt`
/// ms from −[`STDP_WINDOW_MS`] to +[`STDP_WINDOW_MS`], where `Δw` is the sum of the
/// rule's values (η not applied) at the two spikes of one isolated pair, the weight
/// held at [`STDP_WINDOW_WEIGHT`] and `r = 0`. With the circuit's trace conventions
/// (`pre_decay = e^{−dt/τ₊}`, `post_decay = e^{−dt/τ₋}` per step, `k = |Δt|/dt`):
/// for Δt > 0 the pre spike sees `x_trace = 1, y_trace = 0` and the post spike
/// `x_trace = pre_decay^k, y_trace = 0`; for Δt < 0 the post spike sees both traces
/// 0 and the pre spike `x_trace = 1, y_trace = post_decay^k`; for Δt = 0 one update
/// with both spikes, `x_trace = 1, y_trace = 0`.
pub fn stdp_window(
    rule: &SpikeRule,
    theta: &[f64],
    dt: f64,
    pre_decay: f64,
    post_decay: f64,
) -> Vec<(f64, f64)> {
    let at = |s_pre: f64, s_post: f64, x_trace: f64, y_trace: f64| {
        let v = SpikeVariables {
            s_pre,
            s_post,
            x_trace,
            y_trace,
            w: STDP_WINDOW_WEIGHT,
            r: 0.0,
            // isolated pairs: the second traces hold only this step's presynaptic spike
            x2_trace: s_pre,
            y2_trace: 0.0,
        };
        rule.evaluate(theta, &v)
    };
    let n = (STDP_WINDOW_MS / dt + 1e-9).floor() as i32;
    (-n..=n)
        .map(|k| {
            let lag = f64::from(k) * dt;
            let dw = match k {
                0 => at(1.0, 1.0, 1.0, 0.0),
                k if k > 0 => at(1.0, 0.0, 1.0, 0.0) + at(0.0, 1.0, pre_decay.powi(k), 0.0),
                k => at(0.0, 1.0, 0.0, 0.0) + at(1.0, 0.0, 1.0, post_decay.powi(-k)),
            };
            (lag, dw)
        })
        .collect()
}
