//! Engine values as JSON and text, formatted the way DuckDB casts them to
//! VARCHAR, shared by both engines so that a query answers the same JSON on
//! DuckDB and DataFusion.

use serde_json::Value;

/// The resolution of a timestamp's integer value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeUnit {
    Second,
    Millisecond,
    Microsecond,
    Nanosecond,
}

pub(crate) fn float_json(f: f64) -> Value {
    if f.is_nan() {
        return Value::String("nan".into());
    }
    if f.is_infinite() {
        return Value::String(if f > 0.0 { "inf".into() } else { "-inf".into() });
    }
    serde_json::Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null)
}

pub(crate) fn decimal_json(s: &str) -> Value {
    let digits = s.chars().filter(char::is_ascii_digit).collect::<String>();
    let significant = digits.trim_start_matches('0').len();
    if significant <= 15
        && let Ok(f) = s.parse::<f64>()
        && let Some(n) = serde_json::Number::from_f64(f)
    {
        return Value::Number(n);
    }
    Value::String(s.to_string())
}

pub(crate) fn trim_fraction(micros_or_nanos: i64, digits: usize) -> String {
    if micros_or_nanos == 0 {
        return String::new();
    }
    let s = format!("{:0width$}", micros_or_nanos, width = digits);
    format!(".{}", s.trim_end_matches('0'))
}

pub(crate) fn format_timestamp(unit: TimeUnit, v: i64) -> String {
    if v == i64::MAX {
        return "infinity".into();
    }
    if v == -i64::MAX || v == i64::MIN {
        return "-infinity".into();
    }
    let (secs, frac, digits) = match unit {
        TimeUnit::Second => (v, 0, 6),
        TimeUnit::Millisecond => (v.div_euclid(1000), v.rem_euclid(1000) * 1000, 6),
        TimeUnit::Microsecond => (v.div_euclid(1_000_000), v.rem_euclid(1_000_000), 6),
        TimeUnit::Nanosecond => (v.div_euclid(1_000_000_000), v.rem_euclid(1_000_000_000), 9),
    };
    match chrono::DateTime::from_timestamp(secs, 0) {
        Some(dt) => {
            let base = dt.naive_utc().format("%Y-%m-%d %H:%M:%S").to_string();
            let base = bc_year(base);
            format!("{base}{}", trim_fraction(frac, digits))
        }
        None => v.to_string(),
    }
}

/// DuckDB prints years before 1 as `0044-03-15 (BC)`; chrono prints `-0043`.
pub(crate) fn bc_year(s: String) -> String {
    if let Some(rest) = s.strip_prefix('-') {
        let (year, tail) = rest.split_at(rest.find('-').unwrap_or(rest.len()));
        if let Ok(y) = year.parse::<i64>() {
            return format!("{:04}{tail} (BC)", y + 1);
        }
    }
    s
}

pub(crate) fn format_date(days: i32) -> String {
    if days == i32::MAX {
        return "infinity".into();
    }
    if days == -i32::MAX || days == i32::MIN {
        return "-infinity".into();
    }
    match chrono::NaiveDate::from_ymd_opt(1970, 1, 1)
        .and_then(|epoch| epoch.checked_add_signed(chrono::TimeDelta::days(days as i64)))
    {
        Some(d) => bc_year(d.format("%Y-%m-%d").to_string()),
        None => days.to_string(),
    }
}

pub(crate) fn format_time(micros: i64) -> String {
    let total_secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    let (h, m, s) = (total_secs / 3600, (total_secs / 60) % 60, total_secs % 60);
    format!("{h:02}:{m:02}:{s:02}{}", trim_fraction(frac, 6))
}

pub(crate) fn format_interval(months: i32, days: i32, nanos: i64) -> String {
    let mut parts: Vec<String> = Vec::new();
    let years = months / 12;
    let months = months % 12;
    let plural = |n: i64, unit: &str| if n == 1 || n == -1 { format!("{n} {unit}") } else { format!("{n} {unit}s") };
    if years != 0 {
        parts.push(plural(years as i64, "year"));
    }
    if months != 0 {
        parts.push(plural(months as i64, "month"));
    }
    if days != 0 {
        parts.push(plural(days as i64, "day"));
    }
    let micros = nanos / 1000;
    if micros != 0 || parts.is_empty() {
        let neg = micros < 0;
        let t = format_time(micros.abs());
        parts.push(if neg { format!("-{t}") } else { t });
    }
    parts.join(" ")
}

pub(crate) fn format_blob(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len());
    for &c in b {
        if (0x20..0x7f).contains(&c) && c != b'\\' && c != b'\'' && c != b'"' {
            s.push(c as char);
        } else {
            s.push_str(&format!("\\x{c:02X}"));
        }
    }
    s
}

/// The `8-4-4-4-12` lowercase hex form of a UUID, as DuckDB prints one.
pub(crate) fn format_uuid(v: u128) -> String {
    uuid::Uuid::from_u128(v).hyphenated().to_string()
}


/// A MAP as JSON: an object when every key is a string, else an array of
/// `{"key", "value"}` objects.
pub(crate) fn map_json(pairs: Vec<(Value, Value)>) -> Value {
    if pairs.iter().all(|(k, _)| k.is_string()) {
        return Value::Object(pairs.into_iter().filter_map(|(k, v)| k.as_str().map(|k| (k.to_string(), v))).collect());
    }
    Value::Array(
        pairs
            .into_iter()
            .map(|(k, v)| {
                let mut m = serde_json::Map::new();
                m.insert("key".into(), k);
                m.insert("value".into(), v);
                Value::Object(m)
            })
            .collect(),
    )
}
