//! Writing `target/`: manifest.json (v12), run_results.json (v6) and the
//! `compiled/` and `run/` SQL trees, in the shapes dbt-core 1.11 writes.
//!
//! The JSON is validated in tests against dbt's published schemas
//! (`tests/schemas/`). Where dbt 1.11 writes a field that its own published
//! schema rejects (a macro's `config`), rdbt follows the schema.

use chrono::{DateTime, Utc};
use md5::{Digest, Md5};
use serde_json::{Map, Value};
use std::io::Write;
use std::path::{Path, PathBuf};

pub mod catalog;
mod manifest;
mod run_results;
#[cfg(test)]
mod tests;

pub use manifest::{NodeRunInfo, manifest_json, manifest_json_with, write_manifest_atomic};
pub use run_results::run_results_json;

/// The dbt-core version rdbt reports in artifacts (`metadata.dbt_version`).
/// rdbt writes the artifact shapes of this release, and tools that read
/// `target/` (dbt-docs, state comparison, package parsers) gate on it.
pub const DBT_VERSION: &str = "1.11.16";
pub const MANIFEST_SCHEMA_VERSION: &str = "https://schemas.getdbt.com/dbt/manifest/v12.json";
pub const RUN_RESULTS_SCHEMA_VERSION: &str = "https://schemas.getdbt.com/dbt/run-results/v6.json";

/// Invocation-level facts shared by every artifact of one run. The
/// `dbt_schema_version` of each artifact is fixed by the writer function.
#[derive(Debug, Clone, PartialEq)]
pub struct ArtifactMeta {
    pub dbt_version: String,
    pub generated_at: DateTime<Utc>,
    pub invocation_id: String,
    pub invocation_started_at: DateTime<Utc>,
    /// `DBT_ENV_CUSTOM_ENV_*` variables with the prefix removed.
    pub env: Map<String, Value>,
    pub project_name: String,
    /// md5 of the project name, as dbt computes it.
    pub project_id: String,
    pub adapter_type: String,
    /// Always null: rdbt has no user id.
    pub user_id: Option<String>,
    pub send_anonymous_usage_stats: bool,
    /// The adapter's quoting policy (`metadata.quoting`).
    pub quoting: Value,
}

impl ArtifactMeta {
    /// Metadata for a run of `project_name` on `adapter_type` started now.
    pub fn new(project_name: &str, adapter_type: &str, invocation_id: &str, started_at: DateTime<Utc>) -> ArtifactMeta {
        ArtifactMeta {
            dbt_version: DBT_VERSION.to_string(),
            generated_at: started_at,
            invocation_id: invocation_id.to_string(),
            invocation_started_at: started_at,
            env: custom_env(std::env::vars()),
            project_name: project_name.to_string(),
            project_id: project_id(project_name),
            adapter_type: adapter_type.to_string(),
            user_id: None,
            send_anonymous_usage_stats: false,
            quoting: serde_json::json!({"database": true, "schema": true, "identifier": true, "column": null}),
        }
    }

    /// The `metadata` header of catalog.json / sources.json: schema
    /// version, dbt version, times, invocation id and custom env.
    pub fn header(&self, dbt_schema_version: &str) -> Value {
        serde_json::json!({
            "dbt_schema_version": dbt_schema_version,
            "dbt_version": self.dbt_version,
            "generated_at": iso_timestamp(&self.generated_at),
            "invocation_id": self.invocation_id,
            "invocation_started_at": iso_timestamp(&self.invocation_started_at),
            "env": self.env,
        })
    }

    /// The same metadata with `generated_at` set (each artifact is stamped when written).
    pub fn generated_now(&self, at: DateTime<Utc>) -> ArtifactMeta {
        ArtifactMeta { generated_at: at, ..self.clone() }
    }
}

/// dbt's `project_id`: the md5 hex digest of the project name.
pub fn project_id(project_name: &str) -> String {
    hex(&Md5::digest(project_name.as_bytes()))
}

/// `DBT_ENV_CUSTOM_ENV_FOO=bar` → `{"FOO": "bar"}`.
pub fn custom_env(vars: impl IntoIterator<Item = (String, String)>) -> Map<String, Value> {
    let mut env: Vec<(String, String)> = vars
        .into_iter()
        .filter_map(|(k, v)| k.strip_prefix("DBT_ENV_CUSTOM_ENV_").map(|k| (k.to_string(), v)))
        .collect();
    env.sort();
    env.into_iter().map(|(k, v)| (k, Value::String(v))).collect()
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// `2026-01-02T03:04:05.123456Z`, dbt's timestamp format in artifacts.
pub fn timestamp(t: &DateTime<Utc>) -> String {
    microsecond_timestamp(t, "Z")
}

/// `2026-01-02T03:04:05.123456+00:00` (Python `isoformat()`), used by `run_started_at`.
pub fn iso_timestamp(t: &DateTime<Utc>) -> String {
    microsecond_timestamp(t, "+00:00")
}

/// `%Y-%m-%dT%H:%M:%S%.6f` and `suffix`, written directly: chrono's `format`
/// parses its pattern at every call, and run_results.json holds four
/// timestamps per node (on the 1,000-model build, most of the 30-50 ms it
/// took to write).
fn microsecond_timestamp(t: &DateTime<Utc>, suffix: &str) -> String {
    use chrono::{Datelike, Timelike};
    if !(0..=9999).contains(&t.year()) {
        return format!("{}{suffix}", t.format("%Y-%m-%dT%H:%M:%S%.6f"));
    }
    let (second, nanos) = second_and_nanos(t);
    format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}{suffix}", t.year(), t.month(), t.day(), t.hour(), t.minute(), second, nanos / 1000)
}

/// The second of the minute and the nanoseconds within it, as chrono's `%S`
/// and `%f` print them: chrono keeps a leap second as second 59 with 1e9 or
/// more nanoseconds.
pub(crate) fn second_and_nanos(t: &impl chrono::Timelike) -> (u32, u32) {
    match t.nanosecond() {
        n if n >= 1_000_000_000 => (t.second() + 1, n - 1_000_000_000),
        n => (t.second(), n),
    }
}

/// Seconds since the epoch as a float (`created_at`).
pub fn epoch_seconds(t: &DateTime<Utc>) -> f64 {
    t.timestamp() as f64 + f64::from(t.timestamp_subsec_micros()) / 1e6
}

/// Writes `value` as JSON to a temporary file next to `path`, then renames it
/// over `path`, so readers never see a half-written artifact. Creates the
/// parent directory.
pub fn write_json_atomic(path: &Path, value: &Value) -> std::io::Result<()> {
    // Messages in run_results.json come from errors that may echo a value
    // read from a DBT_ENV_SECRET_ variable.
    let text = serde_json::to_string(value)?;
    let text = crate::diag::scrub_secrets(&text);
    write_atomic(path, |w| w.write_all(text.as_bytes()))
}

/// Runs `write` into a temporary file next to `path`, then renames it over
/// `path`; on any error the temporary file is removed and `path` is left as
/// it was. No fsync: artifacts are rebuilt by the next run, and syncing a
/// 50 MB manifest costs more than the rest of writing it.
pub fn write_atomic(path: &Path, write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>) -> std::io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "artifact".into());
    let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let result = (|| {
        let file = std::fs::File::create(&tmp)?;
        let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
        write(&mut w)?;
        w.flush()?;
        drop(w);
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Where a node's SQL goes under `target/<subdir>/<package>/`: the node's
/// `original_file_path`, or for nodes defined many-to-a-file (generic tests
/// in YAML) `<original_file_path>/<path>`, e.g.
/// `models/schema.yml/not_null_orders_order_id.sql`.
pub fn sql_tree_rel_path(path: &str, original_file_path: &str) -> String {
    let base = |p: &str| p.rsplit(['/', '\\']).next().unwrap_or(p).to_string();
    if base(path) == base(original_file_path) {
        original_file_path.to_string()
    } else {
        format!("{}/{}", original_file_path.trim_end_matches('/'), path)
    }
}

/// The `compiled_path` / `build_path` dbt records for a node:
/// `<target_path>/<subdir>/<package>/<sql_tree_rel_path>`, with
/// `target_path` as configured (usually `target`).
pub fn node_target_path(target_path: &str, subdir: &str, package_name: &str, path: &str, original_file_path: &str) -> String {
    format!(
        "{}/{subdir}/{package_name}/{}",
        target_path.trim_end_matches('/'),
        sql_tree_rel_path(path, original_file_path)
    )
}

/// Writes `sql` to `<target>/<subdir>/<package_name>/<rel_path>` (`subdir` is
/// `compiled` or `run`; `rel_path` from [`sql_tree_rel_path`]) and returns the
/// file written. Rejects absolute paths and `..` components.
pub fn write_sql_tree(target: &Path, subdir: &str, package_name: &str, rel_path: &str, sql: &str) -> std::io::Result<PathBuf> {
    let rel = Path::new(rel_path);
    let safe = |p: &Path| p.components().all(|c| matches!(c, std::path::Component::Normal(_) | std::path::Component::CurDir));
    if !safe(rel) || !safe(Path::new(subdir)) || !safe(Path::new(package_name)) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("refusing to write outside target/: {subdir}/{package_name}/{rel_path}"),
        ));
    }
    let full = target.join(subdir).join(package_name).join(rel);
    // Directories usually exist already (one write per node): try first.
    match std::fs::write(&full, sql) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(parent) = full.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&full, sql)?;
        }
        other => other?,
    }
    Ok(full)
}
