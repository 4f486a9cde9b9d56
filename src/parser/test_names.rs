//! Naming of generic test nodes, as dbt-core does it.
//!
//! A YAML test entry (`- not_null`, `- accepted_values: {arguments: {values: [..]}}`,
//! `- dbt_utils.expression_is_true: {...}`) attached to a model, seed, snapshot,
//! versioned model or source table becomes a test node whose `name`, `alias`,
//! file name and `unique_id` hash are all derived from the entry. The rules
//! (observed on dbt-core 1.11 and recorded in `tests/golden/test_names.json` by
//! `scripts/golden/test_names.py`):
//!
//! * **entry** — a bare string is a test with no arguments; a one-key mapping is
//!   `{test: {...}}`; a mapping with `test_name` names the test and the other keys
//!   are its arguments. `arguments:` is merged over the top-level keys. The keys
//!   in [`CONFIG_ARGS`] (top level, or under `config:`) are configs, not
//!   arguments; `description` and `name` are removed from the arguments too.
//! * **name** — `[<namespace>_][source_]<test>_<target>_<args>` where `<target>` is
//!   the node name (`<name>_v<version>` for a model version, `<source>_<table>` for
//!   a source table) and `<args>` joins, over the argument names in sorted order
//!   (skipping `model`), each argument's parts (the values of a mapping, the
//!   items of a list, or the value itself) written as Python's `str()` would,
//!   with every run of characters outside `[0-9A-Za-z_]` replaced by `_`, all
//!   joined with `__`. The attached column is the `column_name` argument.
//! * **short name** — when the name has 64 characters or more, the first 30
//!   characters of `[<namespace>_][source_]<test>_<target>` plus `_` plus the md5 of
//!   the full name. It names the compiled file (`<short>.sql`) and becomes the
//!   `alias` config unless one was given.
//! * **unique_id** — `test.<project>.<name>.<hash>` where `<hash>` is the last 10
//!   hex digits of md5(name + Python `repr` of the test metadata
//!   `{kwargs, name, namespace}` with mapping keys sorted and every scalar turned
//!   into a string).
//! * a `name:` key replaces both names (no truncation, no alias).

use md5::{Digest, Md5};
use serde_json::{Map, Value};

/// Name of the Jinja variable holding a generic test's keyword arguments in its
/// `raw_code`.
pub const GENERIC_TEST_KWARGS: &str = "_dbt_generic_test_kwargs";

/// Keys of a test entry that are configs even when written next to the
/// arguments, in the order dbt applies them.
pub const CONFIG_ARGS: [&str; 14] = [
    "severity",
    "tags",
    "enabled",
    "where",
    "limit",
    "warn_if",
    "error_if",
    "fail_calc",
    "store_failures",
    "store_failures_as",
    "meta",
    "database",
    "schema",
    "alias",
];

/// Names longer than this (in characters) get a hashed short name.
const MAX_NAME_CHARS: usize = 63;
const TRUNCATED_PREFIX_CHARS: usize = 30;
const HASH_CHARS: usize = 10;

/// One YAML test entry split into test, arguments and configs.
#[derive(Debug, Clone, PartialEq)]
pub struct TestEntry {
    /// The test without namespace, e.g. `not_null`, `expression_is_true`.
    pub test_name: String,
    /// `dbt_utils` for `dbt_utils.expression_is_true`.
    pub namespace: Option<String>,
    /// Keyword arguments for the test macro, without `model`, `config`,
    /// `description`, `name` and the config keys. `column_name` is present only
    /// if the entry itself set it (model-level tests).
    pub args: Map<String, Value>,
    /// Configs in dbt's order (the [`CONFIG_ARGS`] first, then the rest of
    /// `config:`), null values dropped. Values are as written: dbt renders
    /// string values with Jinja (native) before use, which the caller does.
    pub config: Map<String, Value>,
    pub description: Option<String>,
    /// The entry's `name:`, which replaces the synthesized name.
    pub custom_name: Option<String>,
}

/// What a generic test is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestTarget<'a> {
    /// A model, seed or snapshot; `version` for a model version.
    Node { name: &'a str, version: Option<&'a str> },
    /// A source table.
    Source { source: &'a str, table: &'a str },
}

/// The names and generated fields of one generic test node.
#[derive(Debug, Clone, PartialEq)]
pub struct GenericTestName {
    /// The node's `name` and last `fqn` element.
    pub name: String,
    /// The compiled file's stem: `name`, or the hashed form when `name` is long.
    pub short_name: String,
    /// The node's `alias` before `generate_alias_name`: the `alias` config, else `name`.
    pub alias: String,
    /// The node's `path`: `<short_name>.sql`.
    pub path: String,
    /// The 10 hex digits ending the unique_id.
    pub unique_id_suffix: String,
    /// `test_metadata.kwargs`: `column_name`, the arguments, and `model`.
    pub kwargs: Map<String, Value>,
    /// Configs from the entry, plus the synthesized `alias` for long names.
    pub config: Map<String, Value>,
    /// `{{ test_x(**_dbt_generic_test_kwargs) }}{{ config(...) }}`.
    pub raw_code: String,
    pub description: String,
}

impl GenericTestName {
    /// `test.<package>.<name>.<hash>`; `package` is the project whose YAML defines the test.
    pub fn unique_id(&self, package: &str) -> String {
        format!("test.{package}.{}.{}", self.name, self.unique_id_suffix)
    }
}

/// Splits a YAML test entry (as JSON) into test name, arguments and configs.
/// Errors are dbt's parse errors for malformed entries.
pub fn parse_test_entry(entry: &Value) -> Result<TestEntry, String> {
    let (full_name, mut args) = match entry {
        Value::String(s) => (s.clone(), Map::new()),
        Value::Object(map) => {
            if let Some(name) = map.get("test_name") {
                let rest: Map<String, Value> =
                    map.iter().filter(|(k, _)| k.as_str() != "test_name").map(|(k, v)| (k.clone(), v.clone())).collect();
                (as_test_name(name)?, rest)
            } else {
                let mut it = map.iter();
                match (it.next(), it.next()) {
                    (Some((name, value)), None) => match value {
                        Value::Object(args) => (name.clone(), args.clone()),
                        other => {
                            return Err(format!(
                                "test arguments must be a mapping, got {} for test `{name}`",
                                crate::config::yaml::kind_of(other)
                            ));
                        }
                    },
                    _ => {
                        return Err(format!(
                            "a test entry must have exactly one key (the test name), got {}",
                            map.len()
                        ));
                    }
                }
            }
        }
        other => return Err(format!("a test entry must be a string or a mapping, got {}", crate::config::yaml::kind_of(other))),
    };

    // `arguments:` that is not a mapping is dropped, as dbt does.
    if let Some(Value::Object(arguments)) = args.remove("arguments") {
        for (k, v) in arguments {
            args.insert(k, v);
        }
    }
    if args.contains_key("model") {
        return Err("test arguments must not include `model`: it is set to the tested node".into());
    }
    let (namespace, test_name) = split_test_name(&full_name)?;

    let mut nested = match args.remove("config") {
        Some(Value::Object(c)) => Some(c),
        Some(Value::Null) | None => None,
        Some(other) => return Err(format!("test `config` must be a mapping, got {}", crate::config::yaml::kind_of(&other))),
    };
    let mut config = Map::new();
    for key in CONFIG_ARGS {
        let mut value = args.remove(key);
        if let (Some(v), Some(c)) = (&value, &nested)
            && py_truthy(v)
            && c.contains_key(key)
        {
            return Err(format!("test config `{key}` is set both at the top level and under `config`"));
        }
        // A falsy top-level value gives way to `config:` (even to its absence).
        if !value.as_ref().is_some_and(py_truthy)
            && let Some(c) = nested.as_mut()
        {
            value = c.shift_remove(key);
        }
        if let Some(v) = value.filter(|v| !v.is_null()) {
            config.insert(key.to_string(), v);
        }
    }
    for (k, v) in nested.into_iter().flatten() {
        if !v.is_null() {
            config.insert(k, v);
        }
    }
    let description = args.remove("description").map(|d| match d {
        Value::String(s) => s,
        other => py_str(&other),
    });
    let custom_name = args.remove("name").map(|n| match n {
        Value::String(s) => s,
        other => py_str(&other),
    });
    Ok(TestEntry { test_name, namespace, args, config, description, custom_name })
}

/// Names a generic test. `column` is the attached column as dbt passes it
/// (already quoted, e.g. `"Order ID"`, when the column has `quote: true`).
pub fn generic_test_name(entry: &TestEntry, target: TestTarget<'_>, column: Option<&str>) -> GenericTestName {
    let mut kwargs = Map::new();
    if let Some(col) = column {
        kwargs.insert("column_name".into(), Value::String(col.to_string()));
    }
    for (k, v) in &entry.args {
        if !(k == "column_name" && column.is_some()) {
            kwargs.insert(k.clone(), v.clone());
        }
    }
    kwargs.insert("model".into(), Value::String(model_arg(target)));

    let mut config = entry.config.clone();
    let (name, short_name) = match &entry.custom_name {
        Some(custom) => (custom.clone(), custom.clone()),
        None => {
            let mut prefix = match target {
                TestTarget::Node { .. } => entry.test_name.clone(),
                TestTarget::Source { .. } => format!("source_{}", entry.test_name),
            };
            if let Some(ns) = &entry.namespace {
                prefix = format!("{ns}_{prefix}");
            }
            let target_name = match target {
                TestTarget::Node { name, version: Some(v) } => format!("{name}_v{v}"),
                TestTarget::Node { name, version: None } => name.to_string(),
                TestTarget::Source { source, table } => format!("{source}_{table}"),
            };
            let (short, full) = synthesize_test_names(&prefix, &target_name, &kwargs);
            if short != full && !config.contains_key("alias") {
                config.insert("alias".into(), Value::String(short.clone()));
            }
            (full, short)
        }
    };

    let metadata = serde_json::json!({
        "name": entry.test_name,
        "kwargs": Value::Object(kwargs.clone()),
        "namespace": entry.namespace,
    });
    let mut hasher = Md5::new();
    hasher.update(name.as_bytes());
    hasher.update(py_repr(&stringify_leaves(&metadata)).as_bytes());
    let digest = hex(&hasher.finalize());
    let unique_id_suffix = digest[digest.len() - HASH_CHARS..].to_string();

    let alias = match config.get("alias") {
        Some(Value::String(a)) => a.clone(),
        _ => name.clone(),
    };
    let raw_code = generic_test_raw_code(&entry.test_name, entry.namespace.as_deref(), &config);
    GenericTestName {
        path: format!("{short_name}.sql"),
        name,
        short_name,
        alias,
        unique_id_suffix,
        kwargs,
        config,
        raw_code,
        description: entry.description.clone().unwrap_or_default(),
    }
}

/// The `(short, full)` names from a prefix (`[ns_][source_]test`), the target
/// name and the test's kwargs (`model` is skipped).
pub fn synthesize_test_names(prefix: &str, target_name: &str, kwargs: &Map<String, Value>) -> (String, String) {
    let mut keys: Vec<&String> = kwargs.keys().filter(|k| k.as_str() != "model").collect();
    keys.sort();
    let mut parts: Vec<String> = Vec::new();
    for key in keys {
        match &kwargs[key.as_str()] {
            Value::Object(m) => parts.extend(m.values().map(py_str)),
            Value::Array(items) => parts.extend(items.iter().map(py_str)),
            other => parts.push(py_str(other)),
        }
    }
    let unique = parts.iter().map(|p| clean_identifier(p)).collect::<Vec<_>>().join("__");
    let identifier = format!("{prefix}_{target_name}");
    let full = format!("{identifier}_{unique}");
    if full.chars().count() > MAX_NAME_CHARS {
        let head: String = identifier.chars().take(TRUNCATED_PREFIX_CHARS).collect();
        let short = format!("{head}_{}", md5_hex(&full));
        (short, full)
    } else {
        (full.clone(), full)
    }
}

/// The `model` keyword argument: `{{ get_where_subquery(ref('orders')) }}`.
pub fn model_arg(target: TestTarget<'_>) -> String {
    let inner = match target {
        TestTarget::Node { name, version: None } => format!("ref('{name}')"),
        TestTarget::Node { name, version: Some(v) } => format!("ref('{name}', version='{v}')"),
        TestTarget::Source { source, table } => format!("source('{source}', '{table}')"),
    };
    format!("{{{{ get_where_subquery({inner}) }}}}")
}

/// A generic test node's `raw_code`: the macro call plus a `config(...)` call
/// with the entry's configs (strings double-quoted, other values as Python
/// writes them).
pub fn generic_test_raw_code(test_name: &str, namespace: Option<&str>, config: &Map<String, Value>) -> String {
    let macro_name = match namespace {
        Some(ns) => format!("{ns}.test_{test_name}"),
        None => format!("test_{test_name}"),
    };
    let mut out = format!("{{{{ {macro_name}(**{GENERIC_TEST_KWARGS}) }}}}");
    if !config.is_empty() {
        let items: Vec<String> = config
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}=\"{}\"", s.replace('"', "\\\"")),
                other => format!("{k}={}", py_str(other)),
            })
            .collect();
        out.push_str(&format!("{{{{ config({}) }}}}", items.join(",")));
    }
    out
}

fn as_test_name(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        other => Err(format!("test name must be a string, got {}", crate::config::yaml::kind_of(other))),
    }
}

/// `ns.name` → (Some(ns), name), matched as a prefix like dbt does.
fn split_test_name(full: &str) -> Result<(Option<String>, String), String> {
    fn ident_len(s: &str) -> usize {
        let mut n = 0;
        for (i, c) in s.char_indices() {
            let ok = c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit());
            if !ok {
                break;
            }
            n = i + c.len_utf8();
        }
        n
    }
    let first = ident_len(full);
    if first == 0 {
        return Err(format!("`{full}` is not a valid test name"));
    }
    let rest = &full[first..];
    if let Some(after_dot) = rest.strip_prefix('.') {
        let second = ident_len(after_dot);
        if second > 0 {
            return Ok((Some(full[..first].to_string()), after_dot[..second].to_string()));
        }
    }
    Ok((None, full[..first].to_string()))
}

/// Python truthiness of a YAML value.
fn py_truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// Runs of characters outside `[0-9A-Za-z_]` become one `_`.
fn clean_identifier(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_run = false;
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('_');
            in_run = true;
        }
    }
    out
}

/// Mappings keep their (sorted) structure, lists keep theirs, every scalar
/// becomes its Python `str()`; the input of the unique_id hash.
fn stringify_leaves(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(keys.into_iter().map(|k| (k.clone(), stringify_leaves(&m[k.as_str()]))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(stringify_leaves).collect()),
        other => Value::String(py_str(other)),
    }
}

pub fn md5_hex(s: &str) -> String {
    hex(&Md5::digest(s.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Python's `str()` of a YAML value (strings as-is, containers via `repr`).
pub fn py_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => py_repr(other),
    }
}

/// Python's `repr()` of a YAML value.
pub fn py_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.to_string()
            } else if let Some(u) = n.as_u64() {
                u.to_string()
            } else {
                py_float_repr(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Value::String(s) => py_str_repr(s),
        Value::Array(items) => format!("[{}]", items.iter().map(py_repr).collect::<Vec<_>>().join(", ")),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter().map(|(k, v)| format!("{}: {}", py_str_repr(k), py_repr(v))).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// Python's `repr(float)`: shortest round-trip digits, exponent form when the
/// decimal exponent is below -4 or at least 16.
pub fn py_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0".into() } else { "0.0".into() };
    }
    // Rust's `{:e}` gives the shortest round-trip digits: `-1.2345e-7`.
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let sign = if f < 0.0 { "-" } else { "" };
    let decpt = exp + 1; // position of the decimal point relative to the digits
    let body = if decpt <= -4 || decpt > 16 {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() { String::new() } else { format!(".{rest}") };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{first}{frac}e{esign}{:02}", exp.abs())
    } else if decpt <= 0 {
        format!("0.{}{digits}", "0".repeat((-decpt) as usize))
    } else {
        let d = decpt as usize;
        if d >= digits.len() {
            format!("{digits}{}.0", "0".repeat(d - digits.len()))
        } else {
            format!("{}.{}", &digits[..d], &digits[d..])
        }
    };
    format!("{sign}{body}")
}

/// Python's `repr(str)`.
pub fn py_str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if !py_printable(c) => {
                let cp = c as u32;
                if cp <= 0xff {
                    out.push_str(&format!("\\x{cp:02x}"));
                } else if cp <= 0xffff {
                    out.push_str(&format!("\\u{cp:04x}"));
                } else {
                    out.push_str(&format!("\\U{cp:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python's `str.isprintable` for one character: false for control, format,
/// surrogate, private-use and separator characters (except the ASCII space).
/// Unassigned code points (which Python also escapes) are not tracked.
fn py_printable(c: char) -> bool {
    let cp = c as u32;
    if c == ' ' {
        return true;
    }
    !matches!(cp,
        0x00..=0x1f | 0x7f..=0xa0 | 0xad
        | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x890..=0x891 | 0x8e2 | 0x1680 | 0x180e
        | 0x2000..=0x200f | 0x2028..=0x202f | 0x205f..=0x2064 | 0x2066..=0x206f
        | 0x3000 | 0xd800..=0xf8ff | 0xfeff | 0xfff9..=0xfffb
        | 0x110bd | 0x110cd | 0x13430..=0x1343f | 0x1bca0..=0x1bca3 | 0x1d173..=0x1d17a
        | 0xe0001 | 0xe0020..=0xe007f | 0xf0000..=0x10ffff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn float_repr_matches_python() {
        for (f, want) in [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (1e20, "1e+20"),
            (1e-7, "1e-07"),
            (1e16, "1e+16"),
            (1.5e15, "1500000000000000.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5, "-2.5"),
            (123.456, "123.456"),
            (1.5e300, "1.5e+300"),
            (-0.0, "-0.0"),
        ] {
            assert_eq!(py_float_repr(f), want, "{f}");
        }
    }

    #[test]
    fn str_repr_matches_python() {
        assert_eq!(py_str_repr("abc"), "'abc'");
        assert_eq!(py_str_repr("it's"), "\"it's\"");
        assert_eq!(py_str_repr("it's \"q\""), "'it\\'s \"q\"'");
        assert_eq!(py_str_repr("a\\b\n\u{7}\u{a0}é🎉"), "'a\\\\b\\n\\x07\\xa0é🎉'");
        assert_eq!(py_repr(&json!({"a": [1, null, true], "b": {"c": "d"}})), "{'a': [1, None, True], 'b': {'c': 'd'}}");
    }

    #[test]
    fn entry_errors() {
        assert!(parse_test_entry(&json!({"a": {}, "b": {}})).is_err());
        assert!(parse_test_entry(&json!({"unique": ["x"]})).is_err());
        assert!(parse_test_entry(&json!(3)).is_err());
        assert!(parse_test_entry(&json!({"unique": {"model": "x"}})).is_err());
        assert!(parse_test_entry(&json!({"unique": {"severity": "warn", "config": {"severity": "error"}}})).is_err());
        assert!(parse_test_entry(&json!("1bad")).is_err());
    }

    #[test]
    fn falsy_top_level_config_falls_back_to_nested() {
        let e = parse_test_entry(&json!({"unique": {"enabled": false, "config": {"where": "x"}}})).unwrap_or_else(|e| panic!("{e}"));
        // dbt drops a falsy top-level config value (it looks under `config:` instead).
        assert_eq!(e.config, json!({"where": "x"}).as_object().cloned().unwrap_or_default());
        assert!(e.args.is_empty());
    }

    #[derive(serde::Deserialize)]
    struct Golden {
        package: String,
        cases: Vec<Case>,
    }
    #[derive(serde::Deserialize)]
    struct Case {
        id: String,
        target: Value,
        column: Option<ColumnSpec>,
        entry: Value,
        expected: Vec<Expected>,
    }
    #[derive(serde::Deserialize)]
    struct ColumnSpec {
        name: String,
        quote: Option<bool>,
    }
    #[derive(serde::Deserialize)]
    struct Expected {
        version: Option<String>,
        name: String,
        alias: String,
        path: String,
        unique_id: String,
        column_name: Option<String>,
        description: String,
        raw_code: String,
        config_alias: Option<String>,
        test_metadata: Value,
    }

    /// Every case dbt-core named in `tests/golden/test_names.json`
    /// (regenerate with `scripts/golden/test_names.py`).
    #[test]
    fn golden_names_match_dbt() {
        let text = include_str!("../../tests/golden/test_names.json");
        let golden: Golden = serde_json::from_str(text).unwrap_or_else(|e| panic!("golden file: {e}"));
        assert!(golden.cases.len() > 30);
        let mut failures = Vec::new();
        for case in &golden.cases {
            let entry = match parse_test_entry(&case.entry) {
                Ok(e) => e,
                Err(e) => {
                    failures.push(format!("{}: {e}", case.id));
                    continue;
                }
            };
            let column = case.column.as_ref().map(|c| {
                if c.quote == Some(true) { format!("\"{}\"", c.name) } else { c.name.clone() }
            });
            for exp in &case.expected {
                let target = match case.target["kind"].as_str() {
                    Some("source") => TestTarget::Source {
                        source: case.target["source"].as_str().unwrap_or_default(),
                        table: case.target["table"].as_str().unwrap_or_default(),
                    },
                    _ => TestTarget::Node {
                        name: case.target["name"].as_str().unwrap_or_default(),
                        version: exp.version.as_deref(),
                    },
                };
                let got = generic_test_name(&entry, target, column.as_deref());
                let metadata = json!({
                    "name": entry.test_name,
                    "kwargs": got.kwargs,
                    "namespace": entry.namespace,
                });
                let checks = [
                    ("name", got.name.clone(), exp.name.clone()),
                    ("alias", got.alias.clone(), exp.alias.clone()),
                    ("path", got.path.clone(), exp.path.clone()),
                    ("unique_id", got.unique_id(&golden.package), exp.unique_id.clone()),
                    ("column_name", format!("{:?}", column), format!("{:?}", exp.column_name)),
                    ("description", got.description.clone(), exp.description.clone()),
                    ("raw_code", got.raw_code.clone(), exp.raw_code.clone()),
                    (
                        "config alias",
                        format!("{:?}", got.config.get("alias").and_then(Value::as_str)),
                        format!("{:?}", exp.config_alias),
                    ),
                    ("test_metadata", metadata.to_string(), exp.test_metadata.to_string()),
                ];
                for (what, g, w) in checks {
                    // test_metadata is compared as JSON values (key order aside).
                    let same = if what == "test_metadata" { metadata == exp.test_metadata } else { g == w };
                    if !same {
                        failures.push(format!("{} {what}:\n   got  {g}\n   want {w}", case.id));
                    }
                }
            }
        }
        assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
    }
}
