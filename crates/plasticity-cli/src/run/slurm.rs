//! `run --executor slurm`: the cells as a Slurm job array.

use std::io::Write;
use std::path::Path;

use crate::output::quiet;
use anyhow::{bail, Context, Result};

use plasticity::report::write_text;

use super::experiment::Experiment;

/// Writes the Slurm job array script and submits it (unless `dry_run`).
pub(super) fn submit_array(
    experiment: &Experiment,
    out: &Path,
    indices: &[usize],
    dry_run: bool,
) -> Result<()> {
    let slurm_dir = out.join("slurm");
    std::fs::create_dir_all(slurm_dir.join("logs"))
        .with_context(|| format!("creating {}", slurm_dir.display()))?;
    let out_abs = out
        .canonicalize()
        .with_context(|| format!("resolving {}", out.display()))?;
    let exe = crate::invocation::binary_or_name().context("finding the plasticity binary")?;
    let array = compress_indices(indices);
    let throttle = experiment
        .slurm
        .max_parallel
        .map(|n| format!("%{n}"))
        .unwrap_or_default();
    let mut script = String::from("#!/bin/bash\n");
    script.push_str(&format!(
        "#SBATCH --job-name=plasticity-{}\n",
        experiment.kind.name()
    ));
    script.push_str(&format!("#SBATCH --array={array}{throttle}\n"));
    script.push_str(&format!(
        "#SBATCH --output={}/slurm/logs/cell_%a.out\n",
        out_abs.display()
    ));
    script.push_str(&format!(
        "#SBATCH --cpus-per-task={}\n",
        experiment.slurm.cpus_per_task
    ));
    if let Some(time) = &experiment.slurm.time {
        script.push_str(&format!("#SBATCH --time={time}\n"));
    }
    if let Some(partition) = &experiment.slurm.partition {
        script.push_str(&format!("#SBATCH --partition={partition}\n"));
    }
    for option in &experiment.slurm.options {
        script.push_str(&format!("#SBATCH {option}\n"));
    }
    script
        .push_str("# written by `plasticity run --executor slurm`; one grid cell per array task\n");
    script.push_str("export RAYON_NUM_THREADS=\"${SLURM_CPUS_PER_TASK:-1}\"\n");
    script.push_str(&format!(
        "exec {} --quiet cell {} --index \"$SLURM_ARRAY_TASK_ID\" --resume\n",
        shell_quote(&exe.display().to_string()),
        shell_quote(&out_abs.display().to_string())
    ));
    let script_path = slurm_dir.join("array.sh");
    write_text(&script_path, &script)?;
    if dry_run {
        say!(
            "wrote {} (not submitted: --dry-run); submit it with `sbatch {}`, then `plasticity collect {}`",
            script_path.display(),
            script_path.display(),
            out.display()
        );
        return Ok(());
    }
    let output = std::process::Command::new("sbatch")
        .arg("--parsable")
        .arg(&script_path)
        .output()
        .context("running sbatch (is Slurm installed and SLURM_CONF set?)")?;
    if !output.status.success() {
        bail!(
            "sbatch failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let job = String::from_utf8_lossy(&output.stdout)
        .trim()
        .split(';')
        .next()
        .unwrap_or("")
        .to_string();
    let mut jobs = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(slurm_dir.join("jobs.txt"))
        .context("recording the job id")?;
    writeln!(jobs, "{job} {array}")?;
    say!(
        "submitted job array {job} ({} cell{}); when it has finished: plasticity collect {}",
        indices.len(),
        if indices.len() == 1 { "" } else { "s" },
        out.display()
    );
    out!("{job}");
    Ok(())
}

/// `0-3,7,9-10` from sorted indices.
fn compress_indices(indices: &[usize]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < indices.len() {
        let start = indices[i];
        let mut end = start;
        while i + 1 < indices.len() && indices[i + 1] == end + 1 {
            i += 1;
            end = indices[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(",")
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}
