//! The run figures' tables and file names.
use super::*;

fn table(text: &str) -> NumberTable {
    let mut lines = text.lines();
    NumberTable {
        header: lines
            .next()
            .unwrap_or("")
            .split(',')
            .map(str::to_string)
            .collect(),
        rows: lines
            .map(|l| {
                l.split(',')
                    .map(|v| v.parse().unwrap_or(f64::NAN))
                    .collect()
            })
            .collect(),
    }
}

#[test]
fn the_generating_rules_terms_come_from_the_first_finished_cell() {
    let run = std::env::temp_dir().join(format!("plasticity-gen-{}", std::process::id()));
    assert!(generating_terms(&run).is_empty(), "no run directory");
    let cell = run.join("cells").join("cell_0001");
    std::fs::create_dir_all(&cell).expect("cell directory");
    std::fs::create_dir_all(run.join("cells").join("cell_0000")).expect("unfinished cell");
    let result = r#"{"generating": {"w": 0.0, "x*y": 1.0, "y^2*w": -1.0}}"#;
    std::fs::write(cell.join("result.json"), result).expect("result");
    let terms = generating_terms(&run);
    std::fs::remove_dir_all(&run).expect("clean up");
    assert_eq!(
        terms,
        vec![("x*y".to_string(), 1.0), ("y^2*w".to_string(), -1.0)]
    );
    assert_eq!(file_safe("theta_y^2*w"), "theta_y2w");
    assert_eq!(file_safe("r2_weights"), "r2_weights");
}

#[test]
fn circuit_panels_one_line_per_noise_level_and_projection() {
    let t = table(
        "cell,noise_std,recorded_fraction,r2_weights_ff,r2_weights_rec,r2_weights_latent_rec,rule_output_error_ff,max_coefficient_error_ff\n\
         0,0,1,1,0.99,,0.5,0.1\n\
         1,0,0.5,0.9,0.98,0.97,0.25,-0.2\n\
         2,0.05,1,0.8,0.7,,0.125,0.3\n\
         3,0.05,0.5,0.6,0.5,0.4,0.0625,0.4\n",
    );
    let panels = circuit_panels(&t);
    assert_eq!(panels.len(), 3);
    let weights = &panels[0];
    let names: Vec<&str> = weights.series.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["ff, σ = 0", "ff, σ = 0.05", "rec, σ = 0", "rec, σ = 0.05"]
    );
    // sorted by fraction, 1 − R², an exact fit at the floor
    assert_eq!(
        weights.series[0].points,
        vec![(0.5, 1.0 - 0.9), (1.0, CIRCUIT_FLOOR)]
    );
    assert!(weights.series[2].dashed && !weights.series[0].dashed);
    assert_eq!(weights.series[1].colour, Some(1));
    assert_eq!(
        panels[1].series[1].points,
        vec![(0.5, 0.0625), (1.0, 0.125)]
    );
    // coefficient errors as magnitudes
    assert_eq!(panels[2].series[0].points, vec![(0.5, 0.2), (1.0, 0.1)]);
}

#[test]
fn circuit_panels_need_the_fraction_and_noise_columns() {
    assert!(circuit_panels(&table("cell,r2_weights_ff\n0,0.5\n")).is_empty());
    assert!(circuit_panels(&table("cell,noise_std,recorded_fraction\n0,0,1\n")).is_empty());
}
