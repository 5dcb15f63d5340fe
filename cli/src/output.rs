//! Human output: aligned tables and `key: value` lines; `--json` prints the
//! API's JSON as it came.

use std::io::Write;

use serde_json::Value;

use crate::error::CliError;

/// `text` without terminal control characters (escape sequences could
/// retitle, clear or rewrite the user's terminal): other agents write most of
/// what we print. Newlines and tabs stay.
pub fn printable(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .collect()
}

/// Writes `text` (control characters removed) and a newline to stdout.
pub fn line(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", printable(text))
        .and_then(|()| out.flush())
        .map_err(|e| CliError::Local(format!("cannot write to stdout: {e}")))
}

/// Pretty JSON.
pub fn json(value: &Value) -> Result<(), CliError> {
    line(&serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string()))
}

/// A JSON value as a table cell or field: strings bare, null as `-`, lists comma-joined.
pub fn text(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Array(items) if items.is_empty() => "-".into(),
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// `s` on one line, cut to `max` characters with an ellipsis.
pub fn short(s: &str, max: usize) -> String {
    let one_line = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        return one_line;
    }
    let cut: String = one_line.chars().take(max.saturating_sub(1)).collect();
    format!("{cut}…")
}

/// Columns aligned to their widest cell.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let render = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        padded.join("  ").trim_end().to_string()
    };
    let mut lines = vec![render(headers.to_vec())];
    lines.extend(
        rows.iter()
            .map(|row| render(row.iter().map(String::as_str).collect())),
    );
    lines.join("\n")
}

/// `key: value` lines for the keys of `value` that are set.
pub fn fields(value: &Value, keys: &[&str]) -> String {
    let present: Vec<(&str, String)> = keys
        .iter()
        .filter_map(|k| match value.get(*k) {
            None | Some(Value::Null) => None,
            Some(v) => Some((*k, text(v))),
        })
        .collect();
    let width = present.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 1;
    present
        .iter()
        .map(|(k, v)| format!("{:<width$} {v}", format!("{k}:")))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The list under `key` of a response (empty when absent).
pub fn list<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value
        .get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn control_characters_are_dropped_but_lines_kept() {
        assert_eq!(
            printable("a\u{1b}]0;pwned\u{7}\u{1b}[2Jb\u{9b}c\nd\te\r"),
            "a]0;pwned[2Jbc\nd\te"
        );
    }

    #[test]
    fn tables_align_columns() {
        let t = table(
            &["ID", "NEED"],
            &[
                vec!["tk-1".into(), "a".into()],
                vec!["tk-123".into(), "b".into()],
            ],
        );
        assert_eq!(t, "ID      NEED\ntk-1    a\ntk-123  b");
    }

    #[test]
    fn fields_skip_nulls_and_join_lists() {
        let v = json!({"a": "x", "b": null, "tags": ["p", "q"]});
        assert_eq!(fields(&v, &["a", "b", "tags"]), "a:    x\ntags: p,q");
        assert_eq!(short("one\ntwo three", 7), "one tw…");
    }
}
