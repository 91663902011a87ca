//! `plasticity table`: the paper's table of reward rules.

use std::time::Instant;

use anyhow::{Context, Result};
use rayon::prelude::*;
use serde_json::json;

use plasticity::fit::FitConfig;
use plasticity::pipeline::behaviour::BehaviourFitSettings;
use plasticity::report::{write_json, write_text};
use plasticity::rule::RuleFamily;
use plasticity::rule::{parse_expression, Term, Variables};
use plasticity::task::BehaviourTask;

use crate::fitting::fit_quietly_or_with_progress;
use crate::flags::{behaviour_settings, FamilyArg, TableArgs};
use crate::journal::DirJournal;
use crate::output::progress_bar;

/// The generating rules of the paper's Tables 1 and 3.
pub const PAPER_RULES: [&str; 44] = [
    "x*r",
    "x*r^2 - 0.05*y",
    "x*r - 0.05*w",
    "x*r^2 - 0.05*x*w*r",
    "x*y*w*r - 0.05*r",
    "x*w*r^2 - 0.05*r",
    "x*y*w*r^2 - 0.05*r",
    "x*r^2 - 0.05*r",
    "x^2*y*w*r - 0.05",
    "x^2*y^2*r^2 - 0.05",
    "x*r - 0.05*x*y*r",
    "x*r - 0.05*x*w*r",
    "x*r - 0.05*x*y",
    "x*r - 0.05*r",
    "x*r - 0.05*x*y*w*r",
    "x*r - 0.05*x*w",
    "x*r - 0.05*x*y*w",
    "x*r - 0.05*x",
    "x*r^2 - 0.05*x*w",
    "x*r^2 - 0.05*x*y",
    "x*r^2",
    "x*r^2 - 0.05*x*y*r",
    "x*r^2 - 0.05*x*y*w",
    "x*r^2 - 0.05*x*y*w*r",
    "x*r^2 - 0.05*x",
    "x*r^2 - 0.05*x*r",
    "x*r - 0.05*y*w*r",
    "x*r - 0.05*y*r",
    "x*r - 0.05*w*r",
    "x*r - 0.05*y*w",
    "y*w*r^2 - 0.05",
    "x*r^2 - 0.05*w",
    "x*r^2 - 0.05*y*w*r",
    "x*r^2 - 0.05*y*r",
    "x^2*y*w*r^2 - 0.05*r",
    "y*w*r - 0.05",
    "y^2*r^2 - 0.05",
    "x^2*y^2*r^2 - 0.05*r",
    "x^2*y*w*r - 0.05*r",
    "y*w*r - 0.05*x*r",
    "x^2*y^2*r - 0.05*r",
    "y*w*r^2 - 0.05*x*r",
    "y*w*r^2 - 0.05*r",
    "y^2*r^2 - 0.05*r",
];

struct TableRow {
    rule: String,
    family: &'static str,
    seed: u64,
    fit: TableFit,
}

/// What the table keeps of one fit (a unit of the table's journal).
#[derive(serde::Serialize, serde::Deserialize)]
struct TableFit {
    taylor: bool,
    theta: Vec<f64>,
    stop_reason: plasticity::fit::StopReason,
    evaluation: Option<plasticity::pipeline::behaviour::BehaviourEvaluation>,
    seconds: f64,
}

pub(crate) fn table_command(args: &TableArgs) -> Result<()> {
    let rules: Vec<String> = match &args.rules {
        Some(text) => text.split(';').map(|r| r.trim().to_string()).collect(),
        None => PAPER_RULES.iter().map(|r| r.to_string()).collect(),
    };
    for rule in &rules {
        parse_expression(rule, Variables::Xywr).with_context(|| format!("--rules: '{rule}'"))?;
    }
    let base = behaviour_settings(&args.fit)?;
    let mut jobs = Vec::new();
    for rule in &rules {
        for seed in 0..args.seeds {
            for &family in &args.families {
                jobs.push((rule.clone(), seed, family));
            }
        }
    }
    let fingerprint = serde_json::to_string(&json!({
        "rules": rules,
        "families": format!("{:?}", args.families),
        "seeds": args.seeds,
        "sessions": args.sessions,
        "settings": base,
        "version": plasticity::VERSION,
    }))?;
    let journal = DirJournal::open(&args.out, &fingerprint, args.resume)?;
    let bar = progress_bar(jobs.len(), "table");
    let start = Instant::now();
    let rows: Vec<Option<TableRow>> = jobs
        .par_iter()
        .map(|(rule, seed, family)| -> Result<Option<TableRow>> {
            let family_name = match family {
                FamilyArg::Taylor => "taylor",
                FamilyArg::Mlp => "mlp",
            };
            let key = format!("table/{rule}/{family_name}/seed{seed}");
            let fit = journal.unit(&key, || table_fit(args, &base, rule, *seed, *family))?;
            bar.inc(1);
            Ok(fit.map(|fit| TableRow {
                rule: rule.clone(),
                family: family_name,
                seed: *seed,
                fit,
            }))
        })
        .collect::<Result<_>>()?;
    bar.finish_and_clear();
    let done = rows.iter().filter(|r| r.is_some()).count();
    if done < rows.len() {
        return journal.outcome(
            Err(plasticity::Error::Interrupted {
                what: "the table".into(),
                done,
                total: rows.len(),
            }),
            &args.out.join("table.json"),
            &crate::journal::command_line(),
        );
    }
    let rows: Vec<TableRow> = rows.into_iter().flatten().collect();
    let wall = start.elapsed().as_secs_f64();
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating output directory {}", args.out.display()))?;
    write_text(&args.out.join("table.csv"), &table_csv(&rows)?)?;
    let markdown = table_markdown(&rows)?;
    write_text(&args.out.join("table.md"), &markdown)?;
    write_json(
        &args.out.join("table.json"),
        &json!({
            "stop_reason": "completed",
            "rules": rules,
            "families": rows.iter().map(|r| r.family).collect::<std::collections::BTreeSet<_>>(),
            "seeds": args.seeds,
            "sessions": args.sessions,
            "settings": base,
            "version": plasticity::VERSION,
            "timing": {"wall_seconds": wall, "fit_seconds": rows.iter().map(|r| r.fit.seconds).sum::<f64>()},
        }),
    )?;
    journal.finish()?;
    if !crate::output::quiet() {
        crate::output::print_stdout(format_args!("{markdown}"));
    }
    note!(
        "{} fits in {:.1} s; table written to {}",
        rows.len(),
        wall,
        args.out.display()
    );
    Ok(())
}

/// One fit of the table: `rule` simulated with `seed`, fitted by `family`; `None` when
/// Ctrl-C or SIGTERM stopped it (it is then not recorded, and runs again on resume).
fn table_fit(
    args: &TableArgs,
    base: &BehaviourFitSettings,
    rule: &str,
    seed: u64,
    family: FamilyArg,
) -> Result<Option<TableFit>> {
    let task = BehaviourTask {
        rule: rule.to_string(),
        sessions: args.sessions,
        seed,
        ..BehaviourTask::default()
    };
    let dataset = task
        .simulate()
        .with_context(|| format!("simulating rule '{rule}', seed {seed}"))?;
    let settings = BehaviourFitSettings {
        rule_family: match family {
            FamilyArg::Taylor => RuleFamily::Taylor,
            FamilyArg::Mlp => RuleFamily::Mlp,
        },
        fit: FitConfig {
            seed,
            ..base.fit.clone()
        },
        input_seed: seed,
        ..base.clone()
    };
    let (fit, seconds) = fit_quietly_or_with_progress(&dataset, &settings, false, None)
        .with_context(|| format!("fitting rule '{rule}', seed {seed}"))?;
    if fit.outcome.stop_reason == plasticity::fit::StopReason::Interrupted {
        return Ok(None);
    }
    Ok(Some(TableFit {
        taylor: fit.rule.as_taylor().is_some(),
        theta: fit.outcome.theta,
        stop_reason: fit.outcome.stop_reason,
        evaluation: fit.metrics.evaluation,
        seconds,
    }))
}

/// The (up to) two terms of a generating expression, largest |coefficient| first.
fn generating_terms(rule: &str) -> Result<Vec<(usize, String)>> {
    let theta = parse_expression(rule, Variables::Xywr)?;
    let mut terms: Vec<usize> = (0..theta.len()).filter(|&k| theta[k] != 0.0).collect();
    terms.sort_by(|&a, &b| theta[b].abs().total_cmp(&theta[a].abs()));
    Ok(terms
        .into_iter()
        .take(2)
        .map(|k| (k, Term::from_index(k, Variables::Xywr).name()))
        .collect())
}

fn optional(value: Option<f64>) -> String {
    value.map(|v| format!("{v}")).unwrap_or_default()
}

fn table_csv(rows: &[TableRow]) -> Result<String> {
    let mut csv = String::from(
        "rule,family,seed,r2_weights,r2_activity,percent_deviance,ceiling_percent_deviance,term_1,theta_term_1,term_2,theta_term_2,stop_reason\n",
    );
    for row in rows {
        let terms = generating_terms(&row.rule)?;
        let evaluation = row.fit.evaluation.as_ref();
        let mut cells = vec![
            format!("\"{}\"", row.rule),
            row.family.to_string(),
            row.seed.to_string(),
            optional(evaluation.map(|e| e.r2_weights)),
            optional(evaluation.map(|e| e.r2_activity)),
            optional(evaluation.map(|e| e.percent_deviance)),
            optional(evaluation.map(|e| e.ceiling_percent_deviance)),
        ];
        for slot in 0..2 {
            match terms.get(slot) {
                Some((k, name)) => {
                    cells.push(format!("\"{name}\""));
                    cells.push(if row.fit.taylor {
                        format!("{}", row.fit.theta[*k])
                    } else {
                        String::new()
                    });
                }
                None => cells.extend([String::new(), String::new()]),
            }
        }
        let stop = serde_json::to_value(&row.fit.stop_reason)?;
        cells.push(
            stop.get("reason")
                .and_then(|r| r.as_str())
                .unwrap_or("")
                .to_string(),
        );
        csv.push_str(&cells.join(","));
        csv.push('\n');
    }
    Ok(csv)
}

fn table_markdown(rows: &[TableRow]) -> Result<String> {
    use plasticity::analysis::metrics::median;
    let mut md = String::from(
        "| generating rule | family | R² weights | R² activity | % deviance | ceiling % deviance | fitted generating terms |\n|---|---|---|---|---|---|---|\n",
    );
    let mut keys: Vec<(&str, &str)> = Vec::new();
    for row in rows {
        if !keys.contains(&(row.rule.as_str(), row.family)) {
            keys.push((row.rule.as_str(), row.family));
        }
    }
    for (rule, family) in keys {
        let group: Vec<&TableRow> = rows
            .iter()
            .filter(|r| r.rule == rule && r.family == family)
            .collect();
        let metric = |f: &dyn Fn(&plasticity::pipeline::behaviour::BehaviourEvaluation) -> f64| {
            let values: Vec<f64> = group
                .iter()
                .filter_map(|r| r.fit.evaluation.as_ref().map(f))
                .collect();
            median(&values)
        };
        let terms = generating_terms(rule)?;
        let fitted = if family == "taylor" {
            terms
                .iter()
                .map(|(k, name)| {
                    let values: Vec<f64> = group.iter().map(|r| r.fit.theta[*k]).collect();
                    format!("{name} {:.3}", median(&values))
                })
                .collect::<Vec<_>>()
                .join(", ")
        } else {
            String::new()
        };
        md.push_str(&format!(
            "| `{rule}` | {family} | {:.3} | {:.3} | {:.1} | {:.1} | {fitted} |\n",
            metric(&|e| e.r2_weights),
            metric(&|e| e.r2_activity),
            metric(&|e| e.percent_deviance),
            metric(&|e| e.ceiling_percent_deviance),
        ));
    }
    md.push_str(&format!(
        "\nMedians over {} seed(s); R² and % deviance on fresh evaluation sessions; the ceiling is the generating rule's own % deviance on the same sessions.\n",
        rows.iter().map(|r| r.seed).max().map(|s| s + 1).unwrap_or(0)
    ));
    Ok(md)
}
