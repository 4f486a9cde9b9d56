//! YAML → JSON values with diagnostics that point at the offending line.

use std::path::Path;

use serde_json::{Map, Value};

use crate::diag::{Diagnostic, Span};

/// What kind of YAML value `v` is, for messages: "a string", "a list"…
pub fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

pub fn to_json(v: serde_yaml::Value) -> Value {
    match v {
        serde_yaml::Value::Null => Value::Null,
        serde_yaml::Value::Bool(b) => Value::Bool(b),
        serde_yaml::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64().and_then(serde_json::Number::from_f64).map(Value::Number).unwrap_or(Value::Null)
            }
        }
        serde_yaml::Value::String(s) => Value::String(s),
        serde_yaml::Value::Sequence(items) => Value::Array(items.into_iter().map(to_json).collect()),
        serde_yaml::Value::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let key = match k {
                    serde_yaml::Value::String(s) => s,
                    serde_yaml::Value::Bool(b) => b.to_string(),
                    serde_yaml::Value::Number(n) => n.to_string(),
                    serde_yaml::Value::Null => "null".to_string(),
                    other => serde_yaml::to_string(&other).unwrap_or_default().trim().to_string(),
                };
                out.insert(key, to_json(v));
            }
            Value::Object(out)
        }
        serde_yaml::Value::Tagged(t) => to_json(t.value),
    }
}

/// Parses YAML text; a syntax error becomes a `yaml-syntax` diagnostic at the
/// error's line and column.
pub fn parse(text: &str, file: &Path) -> Result<Value, Diagnostic> {
    match serde_yaml::from_str::<serde_yaml::Value>(text) {
        Ok(v) => Ok(to_json(v)),
        Err(e) => {
            let span = e.location().map(|l| Span::from_line_col(text, l.line(), l.column())).unwrap_or(Span::new(0, 0));
            let msg = e.to_string();
            // serde_yaml appends " at line N column M"; the location is shown separately.
            let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
            Err(Diagnostic::error("yaml-syntax", format!("invalid YAML: {msg}")).at(file, span))
        }
    }
}

/// Parses a YAML file whose top level must be a mapping (an empty file is an
/// empty mapping).
pub fn parse_mapping(text: &str, file: &Path) -> Result<Map<String, Value>, Diagnostic> {
    match parse(text, file)? {
        Value::Object(m) => Ok(m),
        Value::Null => Ok(Map::new()),
        _ => Err(Diagnostic::error("yaml-shape", "expected a YAML mapping at the top level").at(file, Span::new(0, 0))),
    }
}

/// Best-effort span of `key: name` / `name: name` entries, for diagnostics
/// about YAML items (serde values carry no positions).
pub fn find_entry(text: &str, key: &str, name: &str) -> Option<Span> {
    // A plain scan: this runs once per YAML entry, so no regex per call.
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let content = line.trim_end_matches(['\n', '\r']);
        let mut search = 0;
        while let Some(i) = content[search..].find(key) {
            let start = search + i;
            search = start + key.len();
            let boundary = start == 0 || !content[..start].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_');
            let rest = content[search..].trim_start();
            let Some(value) = rest.strip_prefix(':') else { continue };
            let value = value.trim().trim_matches(|c| c == '\'' || c == '"');
            if boundary && value == name {
                return Some(Span::new(offset + start, offset + content.len()));
            }
        }
        offset += line.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_error_points_at_line() {
        let text = "models:\n  - name: a\n    columns: [x\n";
        let d = parse(text, Path::new("m.yml")).unwrap_err();
        let (line, _) = Diagnostic::line_col(text, d.span.unwrap().start);
        assert!(line >= 3, "line {line}");
        assert_eq!(d.code, "yaml-syntax");
    }

    #[test]
    fn finds_entry() {
        let text = "models:\n  - name: orders\n  - name: 'customers'\n";
        let s = find_entry(text, "name", "customers").unwrap();
        assert_eq!(&text[s.start..s.start + 4], "name");
        assert_eq!(Diagnostic::line_col(text, s.start).0, 3);
    }
}
