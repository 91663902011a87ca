//! `history.csv`: the loss and every parameter after each epoch of a fit, the same
//! numbers as `results.json`'s `loss_history` and `parameter_history`, as a table.

use super::csv_field;

/// `history.csv`: the header `epoch,loss,<name>…` (one column per parameter, named as
/// in `parameter_names`), then one row per epoch: its number (from 1), the loss after
/// it and θ after it. A history row longer than `names` is cut to them (a circuit fit's
/// fitted `W₀` follows its rules' θ); a missing value is an empty field.
pub fn history_csv(
    names: &[String],
    loss_history: &[f64],
    parameter_history: &[Vec<f64>],
) -> String {
    let mut csv = String::from("epoch,loss");
    for name in names {
        csv.push(',');
        csv.push_str(&csv_field(name));
    }
    csv.push('\n');
    let rows = loss_history.len().max(parameter_history.len());
    for epoch in 0..rows {
        csv.push_str(&(epoch + 1).to_string());
        csv.push(',');
        if let Some(loss) = loss_history.get(epoch) {
            csv.push_str(&number(*loss));
        }
        let theta = parameter_history.get(epoch);
        for k in 0..names.len() {
            csv.push(',');
            if let Some(value) = theta.and_then(|t| t.get(k)) {
                csv.push_str(&number(*value));
            }
        }
        csv.push('\n');
    }
    csv
}

/// The shortest text that reads back as `value`, in exponent notation for very small
/// and very large magnitudes (`1e-7`, not `0.0000001`).
fn number(value: f64) -> String {
    format!("{value:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_row_per_epoch_one_column_per_parameter() {
        let names = vec!["x*y".to_string(), "a,b".to_string()];
        let csv = history_csv(
            &names,
            &[2.0, 0.5],
            &[vec![0.1, 0.2, 9.0], vec![0.3, -0.4, 9.0]],
        );
        assert_eq!(
            csv,
            "epoch,loss,x*y,\"a,b\"\n1,2.0,0.1,0.2\n2,0.5,0.3,-0.4\n"
        );
        // a history without parameters still has its loss
        let csv = history_csv(&names, &[1e-300], &[]);
        assert_eq!(csv, "epoch,loss,x*y,\"a,b\"\n1,1e-300,,\n");
    }
}
