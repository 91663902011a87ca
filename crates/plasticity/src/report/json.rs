//! The text of every JSON file the project writes: pretty-printed (two-space indent,
//! one member per line) except that an array of numbers, booleans and nulls is written
//! on one line. The long numeric arrays of a fit's histories are then one line per
//! epoch instead of one line per number: the same JSON, about a third smaller.

use serde_json::Value;

/// `value` as JSON text: as `serde_json::to_string_pretty`, with arrays of scalars
/// (numbers, booleans, nulls) on one line, `[1.0, 2.5]`.
pub fn json_text(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value, 0);
    out
}

fn is_inline(value: &Value) -> bool {
    matches!(value, Value::Number(_) | Value::Bool(_) | Value::Null)
}

fn scalar(out: &mut String, value: &Value) {
    // a Value always serialises (keys are strings, numbers finite)
    out.push_str(&serde_json::to_string(value).unwrap_or_else(|_| "null".into()));
}

fn indent(out: &mut String, level: usize) {
    for _ in 0..level {
        out.push_str("  ");
    }
}

fn write_value(out: &mut String, value: &Value, level: usize) {
    match value {
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Array(items) if items.iter().all(is_inline) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                scalar(out, item);
            }
            out.push(']');
        }
        Value::Array(items) => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                indent(out, level + 1);
                write_value(out, item, level + 1);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            indent(out, level);
            out.push(']');
        }
        Value::Object(map) if map.is_empty() => out.push_str("{}"),
        Value::Object(map) => {
            out.push_str("{\n");
            for (i, (key, item)) in map.iter().enumerate() {
                indent(out, level + 1);
                scalar(out, &Value::String(key.clone()));
                out.push_str(": ");
                write_value(out, item, level + 1);
                out.push_str(if i + 1 < map.len() { ",\n" } else { "\n" });
            }
            indent(out, level);
            out.push('}');
        }
        other => scalar(out, other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numeric_arrays_go_on_one_line_and_the_json_is_the_same() {
        let value = json!({
            "loss_history": [1.5, 0.25],
            "parameter_history": [[0.1, -2.0], [3.0, 4e-300]],
            "names": ["x*y", "y^2*w"],
            "empty": [],
            "nested": {"a": {}, "b": [true, null]},
            "text": "a \"quoted\" line\n",
        });
        let text = json_text(&value);
        assert!(text.contains("\"loss_history\": [1.5, 0.25]"), "{text}");
        assert!(
            text.contains("    [0.1, -2.0],\n    [3.0, 4e-300]\n"),
            "{text}"
        );
        assert!(text.contains("\"names\": [\n    \"x*y\",\n"), "{text}");
        let back: Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(back, value);
        // everything but the arrays of scalars as to_string_pretty writes it
        let plain = json!({"a": {"b": "c"}, "d": [{"e": 1}]});
        assert_eq!(
            json_text(&plain),
            serde_json::to_string_pretty(&plain).expect("json")
        );
    }
}
