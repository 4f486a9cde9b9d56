//! Materializations written once against `adapter::Connection`: view, table,
//! incremental, seed, test. No dialect `if`s here.

use crate::adapter::{AdapterError, AdapterResponse, Connection, Relation};
use crate::manifest::Node;
use crate::run::results::RunStatus;

/// Everything a materialization needs for one node.
pub struct MaterializeRequest<'a> {
    pub node: &'a Node,
    /// The compiled SELECT (for tests: the query returning failing rows;
    /// empty for seeds).
    pub compiled_sql: &'a str,
    /// Where the node's relation lives (for tests: where `store_failures`
    /// writes).
    pub relation: Relation,
    pub full_refresh: bool,
    /// Rendered `pre-hook` / `post-hook` statements.
    pub pre_hooks: Vec<String>,
    pub post_hooks: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MaterializeOutcome {
    pub status: RunStatus,
    /// dbt's message: `OK`, `INSERT 0 12`, `Got 3 results, configured to fail if != 0`.
    pub message: String,
    pub adapter_response: AdapterResponse,
    /// For tests: the number of failing rows (fail_calc).
    pub failures: Option<u64>,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum MaterializeError {
    #[error("{0}")]
    Database(#[from] AdapterError),
    /// A problem with the node's own inputs (bad CSV, on_schema_change=fail,
    /// unknown strategy), reported with the file and position when known.
    #[error("{}", .0.message)]
    Diagnostic(Box<crate::diag::Diagnostic>),
}

pub fn materialize(conn: &mut dyn Connection, req: &MaterializeRequest<'_>) -> Result<MaterializeOutcome, MaterializeError> {
    let _ = (conn, req);
    Err(MaterializeError::Database(AdapterError::new("materializations are not written yet")))
}
