//! Incremental loading of one resource: the start value a run requests from
//! (the stored last value moved back by `lag`, or `initial_value`), the
//! filter that keeps records inside `[start, end)` (ends configurable as in
//! dlt), and the largest cursor value seen, which becomes the new state.
//!
//! Cursor values are compared as numbers, as instants when both parse as
//! timestamps or dates (ISO 8601 / RFC 3339, `YYYY-MM-DD HH:MM:SS`,
//! `YYYY-MM-DD`), or else as strings. Records in the lag window are
//! emitted again on purpose: removing duplicates is the loader's merge.

use std::cmp::Ordering;

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use serde_json::Value;

use super::doc::JsonRef;

use super::spec::{Convert, IncrementalSpec, OnMissing, Range};

pub(crate) struct Incremental<'a> {
    spec: &'a IncrementalSpec,
    /// The previous run's last value.
    last: Option<Value>,
    pub start: Option<Value>,
    pub end: Option<Value>,
    max: Option<Value>,
}

impl<'a> Incremental<'a> {
    pub fn new(spec: &'a IncrementalSpec, last: Option<&Value>) -> Result<Incremental<'a>, String> {
        let start = match (last, spec.lag) {
            (Some(l), Some(lag)) if lag > 0.0 => Some(minus_lag(l, lag)?),
            (Some(l), _) => Some(l.clone()),
            (None, _) => spec.initial_value.clone(),
        };
        Ok(Incremental { spec, last: last.cloned(), start, end: spec.end_value.clone(), max: None })
    }

    /// The start value as written into the request (after `convert`).
    pub fn start_param(&self) -> Result<Option<String>, String> {
        self.start.as_ref().map(|v| convert(v, self.spec.convert)).transpose()
    }

    pub fn end_param(&self) -> Result<Option<String>, String> {
        self.end.as_ref().map(|v| convert(v, self.spec.convert)).transpose()
    }

    pub fn initial_param(&self) -> Result<Option<String>, String> {
        self.spec.initial_value.as_ref().map(|v| convert(v, self.spec.convert)).transpose()
    }

    /// Whether `record` is inside the range; tracks the largest cursor value.
    pub fn keep(&mut self, record: JsonRef<'_>) -> Result<bool, String> {
        let found = self.spec.cursor_path.find(record).filter(|v| !v.is_null()).map(|v| v.to_value());
        let v = match &found {
            Some(v) => v,
            _ => {
                return match self.spec.on_cursor_value_missing {
                    OnMissing::Raise => Err(format!(
                        "cursor `{}` is missing or null in a record (set `on_cursor_value_missing: include` or `exclude` to accept that)",
                        self.spec.cursor_path
                    )),
                    OnMissing::Include => Ok(true),
                    OnMissing::Exclude => Ok(false),
                };
            }
        };
        if let Some(s) = &self.start {
            match compare(v, s)? {
                Ordering::Less => return Ok(false),
                Ordering::Equal if self.spec.range_start == Range::Open => return Ok(false),
                _ => {}
            }
        }
        if let Some(e) = &self.end {
            match compare(v, e)? {
                Ordering::Greater => return Ok(false),
                Ordering::Equal if self.spec.range_end == Range::Open => return Ok(false),
                _ => {}
            }
        }
        let bigger = match &self.max {
            None => true,
            Some(m) => compare(v, m)? == Ordering::Greater,
        };
        if bigger {
            self.max = Some(v.clone());
        }
        Ok(true)
    }

    /// The state to store: the largest value seen or, if nothing newer, the
    /// previous one. A run with `end_value` is a backfill of a fixed range
    /// and leaves the state as it was (as dlt does).
    pub fn new_state(&self) -> Result<Option<Value>, String> {
        if self.end.is_some() {
            return Ok(self.last.clone());
        }
        Ok(match (&self.last, &self.max) {
            (Some(l), Some(m)) => Some(if compare(m, l)? == Ordering::Greater { m.clone() } else { l.clone() }),
            (Some(l), None) => Some(l.clone()),
            (None, m) => m.clone(),
        })
    }
}

/// How a timestamp string was written, to write a moved value back alike.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Shape {
    /// RFC 3339 with `Z` or an offset.
    Zoned { z: bool, offset_secs: i32, frac: bool },
    /// `YYYY-MM-DD HH:MM:SS` or with `T`, no zone (taken as UTC).
    Naive { t: bool, frac: bool },
    Date,
}

fn parse_time(s: &str) -> Option<(DateTime<Utc>, Shape)> {
    let s = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        let z = s.ends_with('Z') || s.ends_with('z');
        return Some((d.with_timezone(&Utc), Shape::Zoned { z, offset_secs: d.offset().local_minus_utc(), frac: s.contains('.') }));
    }
    for (fmt, t) in [("%Y-%m-%dT%H:%M:%S%.f", true), ("%Y-%m-%d %H:%M:%S%.f", false)] {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some((Utc.from_utc_datetime(&n), Shape::Naive { t, frac: s.contains('.') }));
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some((Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0)?), Shape::Date));
    }
    None
}

fn format_time(t: DateTime<Utc>, shape: Shape) -> String {
    match shape {
        Shape::Zoned { z: true, frac, .. } => t.to_rfc3339_opts(if frac { SecondsFormat::AutoSi } else { SecondsFormat::Secs }, true),
        Shape::Zoned { offset_secs, frac, .. } => {
            let off = chrono::FixedOffset::east_opt(offset_secs).unwrap_or(chrono::FixedOffset::east_opt(0).expect("zero offset"));
            t.with_timezone(&off).to_rfc3339_opts(if frac { SecondsFormat::AutoSi } else { SecondsFormat::Secs }, false)
        }
        Shape::Naive { t: sep_t, frac } => {
            let f = match (sep_t, frac) {
                (true, true) => "%Y-%m-%dT%H:%M:%S%.f",
                (true, false) => "%Y-%m-%dT%H:%M:%S",
                (false, true) => "%Y-%m-%d %H:%M:%S%.f",
                (false, false) => "%Y-%m-%d %H:%M:%S",
            };
            t.format(f).to_string()
        }
        Shape::Date => t.format("%Y-%m-%d").to_string(),
    }
}

/// Seconds since the epoch of a cursor value that is a number or a timestamp.
fn epoch_secs(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => parse_time(s).map(|(t, _)| t.timestamp_millis() as f64 / 1000.0).or_else(|| s.trim().parse().ok()),
        _ => None,
    }
}

pub(crate) fn compare(a: &Value, b: &Value) -> Result<Ordering, String> {
    let cmp_f = |x: f64, y: f64| x.partial_cmp(&y).ok_or_else(|| "NaN cursor value".to_string());
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => Ok(i.cmp(&j)),
            _ => cmp_f(x.as_f64().unwrap_or(f64::NAN), y.as_f64().unwrap_or(f64::NAN)),
        },
        (Value::String(x), Value::String(y)) => match (parse_time(x), parse_time(y)) {
            (Some((s, _)), Some((t, _))) => Ok(s.cmp(&t)),
            _ => Ok(x.cmp(y)),
        },
        _ => match (epoch_secs(a), epoch_secs(b)) {
            (Some(x), Some(y)) => cmp_f(x, y),
            _ => Err(format!("cannot compare cursor values {a} and {b}")),
        },
    }
}

/// `v` moved back by `lag`: seconds for timestamps, days for dates, units
/// for numbers.
fn minus_lag(v: &Value, lag: f64) -> Result<Value, String> {
    match v {
        Value::Number(n) => Ok(match n.as_i64() {
            Some(i) if lag.fract() == 0.0 => Value::from(i - lag as i64),
            _ => serde_json::Number::from_f64(n.as_f64().unwrap_or(0.0) - lag).map(Value::Number).unwrap_or(Value::Null),
        }),
        Value::String(s) => {
            let (t, shape) = parse_time(s).ok_or_else(|| format!("`lag` needs a number or timestamp cursor, found {v}"))?;
            let back = match shape {
                Shape::Date => chrono::Duration::days(lag as i64),
                _ => chrono::Duration::milliseconds((lag * 1000.0) as i64),
            };
            Ok(Value::String(format_time(t - back, shape)))
        }
        _ => Err(format!("`lag` needs a number or timestamp cursor, found {v}")),
    }
}

/// A cursor value as a request parameter.
pub(crate) fn convert(v: &Value, how: Option<Convert>) -> Result<String, String> {
    let plain = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let Some(how) = how else { return Ok(plain(v)) };
    let time = || -> Result<DateTime<Utc>, String> {
        match v {
            Value::String(s) => match parse_time(s) {
                Some((t, _)) => Ok(t),
                None => s.trim().parse::<f64>().ok().and_then(from_epoch).ok_or_else(|| format!("cannot convert `{s}`: not a timestamp")),
            },
            Value::Number(n) => n.as_f64().and_then(from_epoch).ok_or_else(|| format!("cannot convert {n}: out of range")),
            other => Err(format!("cannot convert {other}: not a timestamp")),
        }
    };
    Ok(match how {
        Convert::Epoch => match v {
            Value::Number(_) => plain(v),
            _ => time()?.timestamp().to_string(),
        },
        Convert::EpochMs => match v {
            Value::Number(_) => plain(v),
            _ => time()?.timestamp_millis().to_string(),
        },
        Convert::Iso => match v {
            Value::String(s) if parse_time(s).is_some() => s.clone(),
            _ => time()?.to_rfc3339_opts(SecondsFormat::Secs, true),
        },
        Convert::Date => time()?.format("%Y-%m-%d").to_string(),
    })
}

fn from_epoch(secs: f64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis((secs * 1000.0).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::doc::leaked;
    use crate::ingest::spec::JsonPath;
    use serde_json::json;

    fn spec(initial: Option<Value>, end: Option<Value>, lag: Option<f64>) -> IncrementalSpec {
        IncrementalSpec {
            cursor_path: JsonPath::parse("updated").unwrap(),
            start_param: None,
            end_param: None,
            initial_value: initial,
            end_value: end,
            convert: None,
            lag,
            range_start: Range::Closed,
            range_end: Range::Open,
            on_cursor_value_missing: OnMissing::Raise,
        }
    }

    #[test]
    fn conversions() {
        assert_eq!(convert(&json!("2024-01-01T00:00:00Z"), Some(Convert::Epoch)).unwrap(), "1704067200");
        assert_eq!(convert(&json!("2024-01-01T01:00:00+01:00"), Some(Convert::Epoch)).unwrap(), "1704067200");
        assert_eq!(convert(&json!("2024-01-01"), Some(Convert::EpochMs)).unwrap(), "1704067200000");
        assert_eq!(convert(&json!(1704067200), Some(Convert::Iso)).unwrap(), "2024-01-01T00:00:00Z");
        assert_eq!(convert(&json!(1704067200), Some(Convert::Date)).unwrap(), "2024-01-01");
        assert_eq!(convert(&json!("2024-03-05 10:00:00"), Some(Convert::Date)).unwrap(), "2024-03-05");
        assert_eq!(convert(&json!(17), None).unwrap(), "17");
        assert!(convert(&json!("yesterday"), Some(Convert::Epoch)).is_err());
    }

    #[test]
    fn lag_keeps_the_format() {
        assert_eq!(minus_lag(&json!("2024-01-02T00:00:00Z"), 3600.0).unwrap(), json!("2024-01-01T23:00:00Z"));
        assert_eq!(minus_lag(&json!("2024-01-02T00:00:00+02:00"), 60.0).unwrap(), json!("2024-01-01T23:59:00+02:00"));
        assert_eq!(minus_lag(&json!("2024-01-02 00:00:00"), 1.0).unwrap(), json!("2024-01-01 23:59:59"));
        assert_eq!(minus_lag(&json!("2024-01-02"), 1.0).unwrap(), json!("2024-01-01"));
        assert_eq!(minus_lag(&json!(100), 10.0).unwrap(), json!(90));
        assert!(minus_lag(&json!("abc"), 1.0).is_err());
    }

    #[test]
    fn range_filter_and_state() {
        let s = spec(Some(json!("2024-01-01T00:00:00Z")), None, Some(3600.0));
        let mut inc = Incremental::new(&s, Some(&json!("2024-01-02T00:00:00Z"))).unwrap();
        assert_eq!(inc.start, Some(json!("2024-01-01T23:00:00Z")));
        assert!(!inc.keep(leaked(&json!({"updated": "2024-01-01T22:59:59Z"}))).unwrap());
        assert!(inc.keep(leaked(&json!({"updated": "2024-01-01T23:00:00Z"}))).unwrap());
        assert!(inc.keep(leaked(&json!({"updated": "2024-01-01T23:30:00Z"}))).unwrap());
        assert_eq!(inc.new_state().unwrap(), Some(json!("2024-01-02T00:00:00Z")), "nothing newer: the old state stays");
        assert!(inc.keep(leaked(&json!({"updated": "2024-01-03T00:00:00.5+00:00"}))).unwrap());
        assert_eq!(inc.new_state().unwrap(), Some(json!("2024-01-03T00:00:00.5+00:00")));
        assert!(inc.keep(leaked(&json!({"id": 1}))).is_err());

        let s = spec(Some(json!(10)), Some(json!(20)), None);
        let mut inc = Incremental::new(&s, None).unwrap();
        let kept: Vec<i64> = (5..25).filter(|i| inc.keep(leaked(&json!({"updated": i}))).unwrap()).collect();
        assert_eq!(kept, (10..20).collect::<Vec<_>>());
        assert_eq!(inc.new_state().unwrap(), None, "a backfill with end_value leaves the state");
        assert_eq!(compare(&json!("2024-01-01T00:00:00Z"), &json!(1704067199)).unwrap(), Ordering::Greater);
    }
}
