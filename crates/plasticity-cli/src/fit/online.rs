//! `fit --online`: one pass over the streamed recording, θ updated every K steps; the
//! report (results.json) is the library's [`plasticity::pipeline::online::OnlineReport`].

use std::ops::ControlFlow;
use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use plasticity::data::NeuralStream;
use plasticity::pipeline::neural::NeuralFitSettings;
use plasticity::pipeline::online::{
    fit_online_neural, followed_terms, online_report, OnlineFit, OnlineSettings, OnlineUpdate,
};
use plasticity::report::{write_json, write_text};
use plasticity::rule::{parse_expression, Variables};

use super::data::{open_stream, streams};
use super::FitArgs;
use crate::flags::GradientArg;
use crate::interrupt::interrupted;
use crate::output::progress_bar;

/// `fit --online`: one pass over the streamed recording, θ updated every K steps.
pub(super) fn fit_online_command(args: &FitArgs) -> Result<()> {
    if !streams(&args.data, GradientArg::Forward)? {
        bail!(
            "--online: {} is behaviour data; online fits take neural recordings",
            args.data.display()
        );
    }
    let stream = open_stream(&args.data)?;
    let settings = args.options.settings();
    let online = OnlineSettings {
        update_every: args.options.update_every,
        learning_rate: args.options.learning_rate,
        decay_after: args.options.online_decay_after,
    };
    let (fit, seconds) = fit_with_progress(&stream, &settings, &online)?;
    let out = &args.out;
    std::fs::create_dir_all(out.join("figures"))
        .with_context(|| format!("creating output directory {}", out.display()))?;
    let truth = stream
        .generating_rule()
        .map(|rule| parse_expression(rule, Variables::Xyw))
        .transpose()?;
    let rule = plasticity::pipeline::neural::build_rule(&settings)?;
    let report = online_report(&fit, &settings, &online, &args.data, &stream, seconds);
    write_json(&out.join("results.json"), &serde_json::to_value(&report)?)?;
    let truth_for_csv = rule.as_taylor().and(truth.as_deref());
    write_text(
        &out.join("coefficients.csv"),
        &plasticity::report::parameters_csv(&rule, &fit.theta, truth_for_csv),
    )?;
    write_text(&out.join("online.csv"), &online_csv(&fit))?;
    // the same histories by update, in the layout of every fit's history.csv
    write_text(
        &out.join("history.csv"),
        &plasticity::report::history_csv(
            &fit.parameter_names,
            &fit.window_loss,
            &fit.theta_history,
        ),
    )?;
    let terms = followed_terms(&fit, &rule, truth.as_deref());
    draw_online(out, &fit, &terms, truth.as_deref())?;
    print_online_summary(&fit, &terms, truth.as_deref(), seconds);
    note!("results written to {}", out.display());
    Ok(())
}

/// The online fit with a progress bar (one step per update); returns the fit and its
/// wall time.
fn fit_with_progress(
    stream: &NeuralStream,
    settings: &NeuralFitSettings,
    online: &OnlineSettings,
) -> Result<(OnlineFit, f64)> {
    let updates = stream.n_trajectories() * stream.steps() / online.update_every.max(1);
    let bar = progress_bar(updates, "online fit");
    let start = Instant::now();
    let mut observer = |update: &OnlineUpdate<'_>| {
        bar.set_position(update.update as u64);
        bar.set_message(format!(
            "step {} window loss {:.4e}",
            update.step, update.loss
        ));
        if interrupted() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let fit = fit_online_neural(stream, settings, online, &mut observer);
    bar.finish_and_clear();
    let seconds = start.elapsed().as_secs_f64();
    Ok((fit.context("fitting online")?, seconds))
}

/// online.csv: the step, the window loss and θ after every update.
fn online_csv(fit: &OnlineFit) -> String {
    let mut csv = String::from("step,window_loss");
    for name in &fit.parameter_names {
        csv.push(',');
        csv.push_str(&plasticity::report::csv_field(name));
    }
    csv.push('\n');
    for ((step, loss), theta) in fit
        .steps
        .iter()
        .zip(&fit.window_loss)
        .zip(&fit.theta_history)
    {
        csv.push_str(&format!("{step},{loss}"));
        for value in theta {
            csv.push_str(&format!(",{value}"));
        }
        csv.push('\n');
    }
    csv
}

/// figures/online.png: the estimate of each followed term as the recording streams
/// in, beside its generating value (dashed) when known.
fn draw_online(
    out: &Path,
    fit: &OnlineFit,
    terms: &[(usize, String)],
    truth: Option<&[f64]>,
) -> Result<()> {
    let mut series = Vec::new();
    for (colour, (k, term)) in terms.iter().enumerate() {
        let k = *k;
        let points: Vec<(f64, f64)> = fit
            .steps
            .iter()
            .zip(&fit.theta_history)
            .map(|(&step, theta)| (step as f64, theta[k]))
            .collect();
        if points.is_empty() {
            continue;
        }
        if let Some(truth) = truth {
            let ends = vec![
                (points[0].0, truth[k]),
                (points[points.len() - 1].0, truth[k]),
            ];
            series.push(
                plasticity::report::figures::Series::new(format!("{term} generating"), ends)
                    .dashed()
                    .without_markers()
                    .colour(colour),
            );
        }
        series.push(
            plasticity::report::figures::Series::new(format!("{term} online"), points)
                .without_markers()
                .colour(colour),
        );
    }
    if !series.is_empty() {
        plasticity::report::figures::line_plot(
            &out.join("figures").join("online"),
            "Online estimate of the rule while the recording streams in",
            "recording step",
            "coefficient",
            &series,
            false,
            false,
        )?;
    }
    Ok(())
}

/// The lines an online fit prints: updates and time, why it stopped early, and the
/// followed terms' final estimates.
fn print_online_summary(
    fit: &OnlineFit,
    terms: &[(usize, String)],
    truth: Option<&[f64]>,
    seconds: f64,
) {
    show!(
        "online fit: {} updates over {} steps in {:.1} s{}",
        fit.steps.len(),
        fit.steps.last().copied().unwrap_or(0),
        seconds,
        if fit.interrupted {
            " (interrupted)"
        } else {
            ""
        }
    );
    if let Some(reason) = &fit.non_finite {
        show!("stopped early, keeping the last finite estimate: {reason}");
    }
    for (k, term) in terms {
        let generating = truth
            .map(|t| format!(" (generating {:.4})", t[*k]))
            .unwrap_or_default();
        show!("{term:>8} {:.4}{generating}", fit.theta[*k]);
    }
}
