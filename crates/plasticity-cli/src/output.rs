//! What the commands show: quiet mode, progress bars and the observer of a fit's
//! epochs, the table of fitted coefficients and the notes on their uncertainty, and
//! the message of a dataset that cannot be read.

use std::ops::ControlFlow;
use std::path::Path;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use plasticity::fit::EpochReport;
use plasticity::report::Uncertainty;

use crate::interrupt::interrupted;

static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// `--quiet`: no progress bars and no messages but errors.
pub(crate) fn set_quiet(quiet: bool) {
    QUIET.store(quiet, std::sync::atomic::Ordering::Relaxed);
}

pub(crate) fn quiet() -> bool {
    QUIET.load(std::sync::atomic::Ordering::Relaxed)
}

static STDOUT_FAILURE: std::sync::OnceLock<fn(&std::io::Error)> = std::sync::OnceLock::new();

/// What a failed write to stdout does, for the rest of the process (the first call
/// wins). The binary ends itself (`main.rs`: status 0 for a reader that closed the
/// pipe, as tools killed by `SIGPIPE` do, 1 for another error); without a handler (a
/// host process) the output is dropped, and an error other than a closed pipe is
/// logged as a warning.
pub fn set_stdout_failure_handler(handler: fn(&std::io::Error)) {
    let _ = STDOUT_FAILURE.set(handler);
}

/// Writes `text` to stdout; a failed write goes to [`set_stdout_failure_handler`]'s
/// handler (every file a command writes is complete before it prints).
pub(crate) fn print_stdout(text: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let result = stdout.write_fmt(text).and_then(|()| stdout.flush());
    if let Err(error) = result {
        match STDOUT_FAILURE.get() {
            Some(handler) => handler(&error),
            None if error.kind() == std::io::ErrorKind::BrokenPipe => {}
            None => tracing::warn!("writing to standard output: {error}"),
        }
    }
}

/// "reading dataset PATH", and where the path looks like another kind of input, the
/// command that reads it.
pub(crate) fn reading_dataset(path: &Path) -> String {
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let hint = if path.is_dir() {
        " (a directory: `plasticity flies DIR` reads a directory of fly recordings; a dataset is one .npz file)"
    } else {
        match extension.as_str() {
            "mat" | "csv" => " (a fly recording? `plasticity flies DIR` reads a directory of .mat or .csv recordings; `fit` reads .npz datasets)",
            "toml" => " (a circuit or experiment file? `plasticity simulate circuit FILE --out DATA.npz` makes a dataset of a circuit; `plasticity run FILE --out DIR` runs an experiment)",
            _ => "",
        }
    };
    format!("reading dataset {}{hint}", path.display())
}

pub(crate) fn progress_bar(epochs: usize, label: &str) -> ProgressBar {
    let bar = ProgressBar::new(epochs as u64);
    if crate::output::quiet() {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix} [{elapsed_precise}] {bar:30} {pos}/{len}  ETA {eta}  {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_prefix(label.to_string());
    bar
}

/// What a fit shows after each epoch: the progress bar, or without a terminal (a batch
/// job's log) a line every 5 % of the epochs (when `log` is set); and whether Ctrl-C
/// asked it to stop.
pub(crate) fn epoch_observer<'a>(
    bar: &'a ProgressBar,
    start: Instant,
    epochs: usize,
    log: bool,
) -> impl FnMut(&EpochReport<'_>) -> ControlFlow<()> + 'a {
    let every = (epochs / 20).max(1);
    move |report: &EpochReport<'_>| {
        // a staged fit's epochs (Levenberg–Marquardt's horizons) exceed --epochs
        bar.set_length(report.epochs as u64);
        bar.set_position(report.epoch as u64);
        bar.set_message(format!("loss {:.6e}", report.loss));
        if log
            && !crate::output::quiet()
            && bar.is_hidden()
            && (report.epoch.is_multiple_of(every) || report.epoch == 1)
        {
            eprintln!(
                "epoch {}/{}  loss {:.6e}  ({:.1} s)",
                report.epoch,
                report.epochs,
                report.loss,
                start.elapsed().as_secs_f64()
            );
        }
        if interrupted() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}

/// The rows shown of a coefficient table; the rest are summarised in one line.
const SHOWN_TERMS: usize = 8;

/// The table of fitted coefficients a fit prints: the first [`SHOWN_TERMS`] of `order`
/// with the generating value (when known), the Laplace 95 % interval and a mark on
/// those the data do not determine ([`plasticity::report::CoefficientUncertainty`]);
/// one line on the others; then [`print_uncertainty_notes`].
pub(crate) fn print_coefficient_table(
    names: &[String],
    theta: &[f64],
    truth: Option<&[f64]>,
    order: &[usize],
    uncertainty: &Uncertainty,
) {
    let intervals = uncertainty.unavailable.is_none();
    let interval_of = |k: usize| -> String {
        let u = &uncertainty.coefficients[k];
        match (u.lower, u.upper, u.determined) {
            (Some(lower), Some(upper), _) => format!("[{lower:>9.4}, {upper:>9.4}]"),
            (_, _, Some(false)) => "unbounded".into(),
            _ => "-".into(),
        }
    };
    let mark = |k: usize| match uncertainty.coefficients[k].determined {
        Some(false) => "  not determined",
        _ => "",
    };
    if intervals {
        show!(
            "{:>14}  {:>10}  {:>10}  {:>22}",
            "term",
            "fitted",
            "generating",
            "95 % interval"
        );
    } else {
        show!("{:>14}  {:>10}  {:>10}", "term", "fitted", "generating");
    }
    for &k in order.iter().take(SHOWN_TERMS) {
        let generating = truth
            .map(|t| format!("{:>10.4}", t[k]))
            .unwrap_or_else(|| format!("{:>10}", "?"));
        if intervals {
            show!(
                "{:>14}  {:>10.4}  {generating}  {:>22}{}",
                names[k],
                theta[k],
                interval_of(k),
                mark(k)
            );
        } else {
            show!("{:>14}  {:>10.4}  {generating}", names[k], theta[k]);
        }
    }
    let others = &order[order.len().min(SHOWN_TERMS)..];
    let largest_other = others
        .iter()
        .map(|&k| theta[k].abs())
        .fold(0.0f64, f64::max);
    let undetermined = |ks: &[usize]| {
        ks.iter()
            .filter(|&&k| uncertainty.coefficients[k].determined == Some(false))
            .count()
    };
    if intervals && !others.is_empty() {
        show!(
            "{:>14}  {:>10.4}  ({} of these {} not determined)",
            "others |θ| ≤",
            largest_other,
            undetermined(others),
            others.len()
        );
    } else {
        show!("{:>14}  {:>10.4}", "others |θ| ≤", largest_other);
    }
    if undetermined(order) > 0 {
        show!(
            "not determined: a 95 % half-width above {} × the largest fitted |θ| \
             (Laplace intervals; results.json's identifiability section has the rest)",
            plasticity::analysis::identifiability::DETERMINED_RELATIVE_HALF_WIDTH
        );
    }
    print_uncertainty_notes(uncertainty);
}

/// One line naming the least-determined direction, or one saying why there are no
/// intervals.
pub(crate) fn print_uncertainty_notes(uncertainty: &Uncertainty) {
    if let Some(reason) = &uncertainty.unavailable {
        show!("no intervals: {reason}");
    }
    if let Some(sentence) = &uncertainty.least_determined {
        show!("least-determined direction: {sentence}");
    }
}
