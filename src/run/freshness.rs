//! `rdbt source freshness`: for each selected source table with a
//! `freshness:` threshold and a `loaded_at_field`, how long ago its newest
//! row was loaded, judged against `warn_after` / `error_after`, and
//! written to target/sources.json as dbt does.

use std::time::Instant;

use chrono::Utc;
use serde_json::{Map, Value, json};

use crate::adapter::Connection;
use crate::manifest::SourceDefinition;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FreshnessStatus {
    Pass,
    Warn,
    /// Older than `error_after`.
    Error,
    /// The query failed.
    RuntimeError,
}

impl FreshnessStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FreshnessStatus::Pass => "pass",
            FreshnessStatus::Warn => "warn",
            FreshnessStatus::Error => "error",
            FreshnessStatus::RuntimeError => "runtime error",
        }
    }
}

/// One source table's freshness.
#[derive(Debug, Clone)]
pub struct FreshnessResult {
    pub unique_id: String,
    pub status: FreshnessStatus,
    pub max_loaded_at: Option<Value>,
    pub snapshotted_at: Option<Value>,
    pub age_seconds: Option<f64>,
    /// `{warn_after, error_after, filter}` as configured.
    pub criteria: Value,
    pub error: Option<String>,
    pub execution_time: f64,
    pub started_at: chrono::DateTime<Utc>,
    pub completed_at: chrono::DateTime<Utc>,
}

/// `{count, period}` in seconds; None when not set.
fn threshold_seconds(v: Option<&Value>) -> Option<f64> {
    let v = v?.as_object()?;
    let count = v.get("count").and_then(Value::as_f64)?;
    let unit = match v.get("period").and_then(Value::as_str)? {
        "minute" => 60.0,
        "hour" => 3600.0,
        "day" => 86_400.0,
        _ => return None,
    };
    Some(count * unit)
}

/// Whether `s` has something to check: a threshold and a loaded_at_field.
pub fn is_checkable(s: &SourceDefinition) -> bool {
    let f = s.freshness.as_ref();
    s.loaded_at_field.is_some() && (threshold_seconds(f.and_then(|f| f.get("warn_after"))).is_some() || threshold_seconds(f.and_then(|f| f.get("error_after"))).is_some())
}

/// dbt's criteria shape, every key present.
pub fn criteria(s: &SourceDefinition) -> Value {
    let f = s.freshness.as_ref().and_then(Value::as_object);
    let threshold = |k: &str| {
        let t = f.and_then(|f| f.get(k)).and_then(Value::as_object);
        json!({"count": t.and_then(|t| t.get("count")).cloned().unwrap_or(Value::Null), "period": t.and_then(|t| t.get("period")).cloned().unwrap_or(Value::Null)})
    };
    json!({"warn_after": threshold("warn_after"), "error_after": threshold("error_after"), "filter": f.and_then(|f| f.get("filter")).cloned().unwrap_or(Value::Null)})
}

/// Queries the newest `loaded_at_field` of `s` and judges its age.
pub fn check(conn: &mut dyn Connection, s: &SourceDefinition) -> FreshnessResult {
    let started_at = Utc::now();
    let clock = Instant::now();
    let criteria = criteria(s);
    let filter = criteria["filter"].as_str().filter(|f| !f.trim().is_empty());
    let column = s.loaded_at_field.as_deref().unwrap_or("");
    let sql = conn.freshness_sql(&s.relation_name, column, filter);
    let mut r = FreshnessResult {
        unique_id: s.unique_id.clone(),
        status: FreshnessStatus::RuntimeError,
        max_loaded_at: None,
        snapshotted_at: None,
        age_seconds: None,
        criteria: criteria.clone(),
        error: None,
        execution_time: 0.0,
        started_at,
        completed_at: started_at,
    };
    match conn.query(&sql) {
        Ok(q) => {
            let row = q.rows.first().cloned().unwrap_or_default();
            r.max_loaded_at = row.first().cloned().filter(|v| !v.is_null());
            r.snapshotted_at = row.get(1).cloned();
            r.age_seconds = row.get(2).and_then(Value::as_f64);
            match r.age_seconds {
                None => r.error = Some(format!("no rows: max({column}) of {} is null", s.relation_name)),
                Some(age) => {
                    let over = |k: &str| threshold_seconds(criteria.get(k)).is_some_and(|t| age > t);
                    r.status = if over("error_after") {
                        FreshnessStatus::Error
                    } else if over("warn_after") {
                        FreshnessStatus::Warn
                    } else {
                        FreshnessStatus::Pass
                    };
                }
            }
        }
        Err(e) => r.error = Some(e.message),
    }
    r.completed_at = Utc::now();
    r.execution_time = clock.elapsed().as_secs_f64();
    r
}

/// target/sources.json (dbt's sources v3 shape).
pub fn sources_json(results: &[FreshnessResult], metadata: Value, elapsed: f64) -> Value {
    let results: Vec<Value> = results
        .iter()
        .map(|r| {
            let timing = json!([
                {"name": "compile", "started_at": crate::artifacts::iso_timestamp(&r.started_at), "completed_at": crate::artifacts::iso_timestamp(&r.started_at)},
                {"name": "execute", "started_at": crate::artifacts::iso_timestamp(&r.started_at), "completed_at": crate::artifacts::iso_timestamp(&r.completed_at)},
            ]);
            match (&r.error, r.status) {
                (Some(e), FreshnessStatus::RuntimeError) => json!({"unique_id": r.unique_id, "error": e, "status": r.status.as_str()}),
                _ => json!({
                    "unique_id": r.unique_id,
                    "max_loaded_at": r.max_loaded_at,
                    "snapshotted_at": r.snapshotted_at,
                    "max_loaded_at_time_ago_in_s": r.age_seconds,
                    "status": r.status.as_str(),
                    "criteria": r.criteria,
                    "adapter_response": Map::new(),
                    "timing": timing,
                    "thread_id": "Thread-1",
                    "execution_time": r.execution_time,
                }),
            }
        })
        .collect();
    json!({"metadata": metadata, "results": results, "elapsed_time": elapsed})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_in_seconds() {
        assert_eq!(threshold_seconds(Some(&json!({"count": 2, "period": "hour"}))), Some(7200.0));
        assert_eq!(threshold_seconds(Some(&json!({"count": 1, "period": "day"}))), Some(86_400.0));
        assert_eq!(threshold_seconds(Some(&json!({"count": null, "period": null}))), None);
        assert_eq!(threshold_seconds(None), None);
    }
}
