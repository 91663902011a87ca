//! The dataset a command is given: its kind, loaded or streamed, and the gradient
//! strategy `--gradient auto` picks for it.

use std::path::Path;

use anyhow::{Context, Result};

use plasticity::data::Dataset;
use plasticity::gradient::GradientStrategy;

use crate::flags::GradientArg;
use crate::output::reading_dataset;

/// Half the memory the system reports available (`MemAvailable`), or 4 GiB where it
/// cannot be read: the default of --memory-budget.
fn default_memory_budget_bytes() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib * 1024 / 2)
        })
        .unwrap_or(4 << 30)
}

/// `--gradient auto` for the dataset at `path`: the cost model of
/// [`plasticity::gradient::choose_strategy`] on the sizes in the file's headers (no
/// array is read); other choices are returned as given.
pub(super) fn resolve_gradient(
    path: &Path,
    gradient: GradientArg,
    parameters: usize,
    memory_budget_mib: Option<u64>,
) -> Result<GradientArg> {
    if !matches!(gradient, GradientArg::Auto) {
        return Ok(gradient);
    }
    let kind = plasticity::data::dataset_kind(path).with_context(|| reading_dataset(path))?;
    if kind != "neural" {
        note!("gradient: checkpointed (behaviour sessions are short; the adjoint is faster)");
        return Ok(GradientArg::Checkpointed);
    }
    let stream = open_stream(path)?;
    let n_rec = stream.recorded_neurons().len() as u64;
    let (n, steps) = (stream.n_trajectories() as u64, stream.steps() as u64);
    let (n_pre, n_post) = (stream.n_pre() as u64, stream.n_post() as u64);
    let data_bytes = 8 * (n * steps * (n_pre + n_rec) + n * n_post * n_pre);
    // what the adjoint loads also counts against the dataset limit of `limits`
    let budget = memory_budget_mib
        .map(|mib| mib << 20)
        .unwrap_or_else(default_memory_budget_bytes)
        .min(plasticity::limits::max_dataset_bytes());
    let choice = plasticity::gradient::choose_strategy(
        data_bytes,
        n_pre * n_post,
        parameters as u64,
        steps,
        budget,
    )?;
    let chosen = match choice.strategy {
        GradientStrategy::Forward => GradientArg::Forward,
        GradientStrategy::FullTape => GradientArg::FullTape,
        _ => GradientArg::Checkpointed,
    };
    note!("gradient: {} ({})", chosen.name(), choice.reason);
    Ok(chosen)
}

pub(super) fn load_any(path: &Path) -> Result<Dataset> {
    Dataset::load(path).with_context(|| reading_dataset(path))
}

/// stream neural recordings from the file instead of loading them.
pub(super) fn streams(path: &Path, gradient: GradientArg) -> Result<bool> {
    if !matches!(gradient, GradientArg::Forward) {
        return Ok(false);
    }
    let kind = plasticity::data::dataset_kind(path).with_context(|| reading_dataset(path))?;
    Ok(kind == "neural")
}

pub(super) fn open_stream(path: &Path) -> Result<plasticity::data::NeuralStream> {
    plasticity::data::NeuralStream::open(path).with_context(|| reading_dataset(path))
}
