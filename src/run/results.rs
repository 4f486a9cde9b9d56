//! What happened to each node in one invocation: the rows of run_results.json.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// model/seed/snapshot built
    Success,
    /// model/seed/snapshot failed
    Error,
    /// not run because an upstream node failed
    Skipped,
    /// test passed
    Pass,
    /// test failed with severity error
    Fail,
    /// test failed with severity warn
    Warn,
    /// compiled only (`rdbt compile`)
    #[serde(rename = "success")]
    Compiled,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Success | RunStatus::Compiled => "success",
            RunStatus::Error => "error",
            RunStatus::Skipped => "skipped",
            RunStatus::Pass => "pass",
            RunStatus::Fail => "fail",
            RunStatus::Warn => "warn",
        }
    }
    /// Does this status make the invocation exit 1?
    pub fn is_failure(self) -> bool {
        matches!(self, RunStatus::Error | RunStatus::Fail)
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TimingInfo {
    /// `compile` or `execute`
    pub name: String,
    pub started_at: DateTime<Utc>,
    pub completed_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunResult {
    pub unique_id: String,
    pub status: RunStatus,
    pub timing: Vec<TimingInfo>,
    /// `Thread-1 (worker)` style names, as dbt writes them.
    pub thread_id: String,
    pub execution_time: f64,
    pub adapter_response: Map<String, Value>,
    pub message: Option<String>,
    pub failures: Option<u64>,
    pub compiled_code: Option<String>,
    pub relation_name: Option<String>,
}

/// The whole invocation, for run_results.json.
#[derive(Debug, Clone, PartialEq)]
pub struct RunResults {
    pub invocation_id: String,
    pub generated_at: DateTime<Utc>,
    pub elapsed_time: f64,
    pub args: Map<String, Value>,
    pub results: Vec<RunResult>,
}
