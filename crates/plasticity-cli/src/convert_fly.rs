//! `plasticity convert-fly RAW_FLY_DIR --out FILE.mat|FILE.csv`: one fly's deposited raw
//! Y-arena data (odour crossings, choice points, choice and reward orders of
//! Rajagopalan et al., PNAS 2023) converted to the `X`/`Y`/`R` layout that
//! `plasticity flies` reads, as the authors' preprocessing does
//! (`plasticity::data::fly::raw`; docs/flies.md).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;

#[derive(Args, Debug)]
pub(crate) struct ConvertFlyArgs {
    /// One fly's raw directory: odor_crossing_1.mat, odor_crossing_2.mat (optionally
    /// odor_crossing_3.mat), cps_1.mat, cps_2.mat (cps_3.mat), choice_order.mat and
    /// reward_order.mat.
    raw_fly_dir: PathBuf,
    /// The file to write: FILE.mat (MATLAB v5, variables X, Y, R) or FILE.csv
    /// (trial,odour,decision,reward); odour 0 / column 1 is MCH, 1 / column 2 OCT.
    #[arg(long)]
    out: PathBuf,
}

/// Converts the directory and writes the file; prints what was read and dropped.
pub(crate) fn convert_fly_command(args: &ConvertFlyArgs) -> Result<()> {
    let extension = args
        .out
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    if !matches!(extension.as_deref(), Some("mat" | "csv")) {
        bail!(
            "--out {}: expected a file ending in .mat or .csv",
            args.out.display()
        );
    }
    if !args.raw_fly_dir.is_dir() {
        bail!(
            "{} is not a directory: convert-fly reads one fly's directory of raw files",
            args.raw_fly_dir.display()
        );
    }
    let fly = plasticity::data::convert_raw_fly(&args.raw_fly_dir)
        .with_context(|| format!("converting {}", args.raw_fly_dir.display()))?;
    fly.write(&args.out)
        .with_context(|| format!("writing {}", args.out.display()))?;
    let s = &fly.summary;
    show!(
        "{}: {} blocks, {} crossings, {} odour entries, {} choice points, {} trials with a \
         choice ({} without, dropped), {} choice points without a new entry (dropped); \
         {} presentations, {} accepted",
        fly.name,
        s.blocks,
        s.crossings,
        s.entries,
        s.choice_points,
        s.choices,
        s.trials_without_choice,
        s.choice_points_without_entry,
        fly.decisions.len(),
        s.accepts
    );
    show!("wrote {}", args.out.display());
    Ok(())
}
