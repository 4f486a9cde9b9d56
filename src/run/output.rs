//! Progress lines as dbt prints them (`3 of 12 OK created sql table model
//! main.orders ... [OK in 0.02s]`), or JSON lines with `--log-format json`.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use crate::diag::Diagnostic;
use crate::manifest::{Node, ResourceType};
use crate::run::results::{RunResult, RunStatus};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

pub struct Output {
    pub format: LogFormat,
    pub root: Option<PathBuf>,
    lock: Mutex<()>,
}

const WIDTH: usize = 80;

fn now() -> String {
    // Written directly: chrono's `format` parses its pattern at every call,
    // and every node prints two lines.
    use chrono::Timelike;
    let t = chrono::Local::now();
    let (second, _) = crate::artifacts::second_and_nanos(&t);
    format!("{:02}:{:02}:{second:02}", t.hour(), t.minute())
}

/// `sql view model main.stg_orders`, `seed file main.raw_orders`, `test not_null_x`.
pub fn describe(node: &Node) -> String {
    let rel = format!("{}.{}", node.schema, node.alias);
    match node.resource_type {
        ResourceType::Model => format!("sql {} model {rel}", node.config.materialized()),
        ResourceType::Seed => format!("seed file {rel}"),
        ResourceType::Snapshot => format!("snapshot {rel}"),
        ResourceType::Ml => format!("ml node {rel}"),
        ResourceType::Test => format!("test {}", node.name),
        other => format!("{} {}", other.as_str(), node.name),
    }
}

fn dots(msg: &str, status: &str) -> String {
    let len = msg.chars().count();
    let n = WIDTH.saturating_sub(len + 1).max(1);
    format!("{msg} {} {status}", ".".repeat(n))
}

impl Output {
    pub fn new(format: LogFormat, root: Option<PathBuf>) -> Output {
        Output { format, root, lock: Mutex::new(()) }
    }

    fn emit(&self, level: &str, msg: &str, data: serde_json::Value) {
        let msg = &*crate::diag::scrub_secrets(msg);
        let _g = self.lock.lock();
        match self.format {
            LogFormat::Text => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{}  {msg}", now());
            }
            LogFormat::Json => {
                let line = serde_json::json!({
                    "info": {"level": level, "msg": msg, "ts": chrono::Utc::now().to_rfc3339(), "name": data.get("event").cloned().unwrap_or_default()},
                    "data": data,
                });
                println!("{line}");
            }
        }
    }

    pub fn info(&self, msg: &str) {
        self.emit("info", msg, serde_json::json!({"event": "Note"}));
    }

    pub fn warn(&self, msg: &str) {
        self.emit("warn", &format!("[WARNING]: {msg}"), serde_json::json!({"event": "Warning"}));
    }

    pub fn diagnostic(&self, d: &Diagnostic) {
        match self.format {
            LogFormat::Text => {
                let _g = self.lock.lock();
                eprint!("{}", d.render(self.root.as_deref()));
            }
            LogFormat::Json => {
                let text = d.file.as_ref().and_then(|f| std::fs::read_to_string(f).ok());
                let location = d.location(self.root.as_deref(), text.as_deref());
                self.emit(
                    if d.is_error() { "error" } else { "warn" },
                    &d.message,
                    serde_json::json!({"event": "Diagnostic", "code": d.code, "severity": d.severity, "location": location, "notes": d.notes}),
                );
            }
        }
    }

    /// A progress line with its status on the right (`... [RUN]`).
    pub fn progress(&self, level: &str, msg: &str, status: &str, data: serde_json::Value) {
        self.emit(level, &dots(msg, status), data);
    }

    pub fn start(&self, index: usize, total: usize, node: &Node) {
        let msg = format!("{index} of {total} START {}", describe(node));
        self.emit("info", &dots(&msg, "[RUN]"), serde_json::json!({"event": "NodeStart", "unique_id": node.unique_id, "index": index, "total": total}));
    }

    pub fn finish(&self, index: usize, total: usize, node: &Node, r: &RunResult) {
        let t = format!("{:.2}s", r.execution_time);
        let (what, status) = match (r.status, node.resource_type) {
            (RunStatus::Skipped, _) => (format!("SKIP relation {}.{}", node.schema, node.alias), "[SKIP]".to_string()),
            (RunStatus::Error, ResourceType::Test) => (format!("ERROR {}", node.name), format!("[ERROR in {t}]")),
            (RunStatus::Error, ResourceType::Seed) => (format!("ERROR loading {}", describe(node)), format!("[ERROR in {t}]")),
            (RunStatus::Error, ResourceType::Snapshot) => (format!("ERROR snapshotting {}.{}", node.schema, node.alias), format!("[ERROR in {t}]")),
            (RunStatus::Error, _) => (format!("ERROR creating {}", describe(node)), format!("[ERROR in {t}]")),
            (RunStatus::Pass, _) => (format!("PASS {}", node.name), format!("[PASS in {t}]")),
            (RunStatus::Fail, _) => (format!("FAIL {} {}", r.failures.unwrap_or(0), node.name), format!("[FAIL {} in {t}]", r.failures.unwrap_or(0))),
            (RunStatus::Warn, _) => (format!("WARN {} {}", r.failures.unwrap_or(0), node.name), format!("[WARN {} in {t}]", r.failures.unwrap_or(0))),
            (RunStatus::Compiled, _) => (format!("OK compiled {}", describe(node)), format!("[OK in {t}]")),
            (RunStatus::Success, ResourceType::Seed | ResourceType::Ingest) => {
                let msg = r.adapter_response.get("_message").and_then(|v| v.as_str()).unwrap_or("OK").to_string();
                (format!("OK loaded {}", describe(node)), format!("[{msg} in {t}]"))
            }
            (RunStatus::Success, ResourceType::Snapshot) => {
                let msg = r.adapter_response.get("_message").and_then(|v| v.as_str()).unwrap_or("OK").to_string();
                (format!("OK snapshotted {}.{}", node.schema, node.alias), format!("[{msg} in {t}]"))
            }
            (RunStatus::Success, _) => {
                let msg = r.adapter_response.get("_message").and_then(|v| v.as_str()).unwrap_or("OK").to_string();
                (format!("OK created {}", describe(node)), format!("[{msg} in {t}]"))
            }
        };
        let msg = format!("{index} of {total} {what}");
        self.emit(
            if r.status.is_failure() { "error" } else { "info" },
            &dots(&msg, &status),
            serde_json::json!({"event": "NodeFinished", "unique_id": node.unique_id, "status": r.status.as_str(), "execution_time": r.execution_time, "message": r.message, "failures": r.failures}),
        );
    }
}
