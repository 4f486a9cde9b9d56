//! Materializations written once against `adapter::Connection`: view, table,
//! incremental, seed, snapshot, test. No dialect `if`s here.
//!
//! Every materialization runs its pre-hooks, its statements and its
//! post-hooks inside one transaction (as dbt does with hooks whose
//! `transaction` is true, the default), so a failure anywhere leaves the
//! previous relation untouched and no intermediate relation behind.

use crate::adapter::{AdapterError, AdapterResponse, Connection, Relation, RelationKind};
use crate::diag::Diagnostic;
use crate::manifest::{Node, ResourceType};
use crate::run::results::RunStatus;

mod csv;
pub(crate) mod data_test;
mod incremental;
mod infer;
mod model;
pub mod seed;
pub mod snapshot;
#[cfg(test)]
pub(crate) mod testutil;

pub use infer::SeedType;

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
    /// dbt's message: `OK`, `INSERT 12`, `Got 3 results, configured to fail if != 0`.
    /// Empty for a passing test (dbt writes `null` there).
    pub message: String,
    pub adapter_response: AdapterResponse,
    /// For tests: the number of failing rows (fail_calc); 0 when the test passes.
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

impl From<Diagnostic> for MaterializeError {
    fn from(d: Diagnostic) -> Self {
        MaterializeError::Diagnostic(Box::new(d))
    }
}

pub type MaterializeResult<T> = Result<T, MaterializeError>;

pub fn materialize(conn: &mut dyn Connection, req: &MaterializeRequest<'_>) -> Result<MaterializeOutcome, MaterializeError> {
    match req.node.resource_type {
        ResourceType::Seed => seed::seed(conn, req),
        ResourceType::Test => data_test::test(conn, req),
        ResourceType::Snapshot => snapshot::snapshot(conn, req),
        ResourceType::Model => match req.node.config.materialized() {
            "view" => model::view(conn, req),
            "table" => model::table(conn, req),
            "incremental" => incremental::incremental(conn, req),
            // Ephemeral models are inlined as CTEs; there is nothing to build.
            "ephemeral" => Ok(ok_outcome()),
            other => Err(node_error(
                req.node,
                "unknown-materialization",
                format!("No materialization '{other}' is available for model {}", req.node.name),
            )
            .note("rdbt builds `view`, `table`, `incremental` and `ephemeral` models")
            .into()),
        },
        ResourceType::Operation => {
            in_transaction(conn, |conn| {
                run_hooks(conn, &req.pre_hooks)?;
                conn.execute(req.compiled_sql)?;
                run_hooks(conn, &req.post_hooks)
            })?;
            Ok(ok_outcome())
        }
        other => Err(node_error(
            req.node,
            "unknown-materialization",
            format!("rdbt cannot materialize {} nodes ({})", other.as_str(), req.node.unique_id),
        )
        .into()),
    }
}

// ---------------------------------------------------------------------------
// Helpers shared by the materializations

pub(crate) fn ok_outcome() -> MaterializeOutcome {
    MaterializeOutcome {
        status: RunStatus::Success,
        message: "OK".to_string(),
        adapter_response: AdapterResponse { message: "OK".to_string(), code: String::new(), rows_affected: None },
        failures: None,
    }
}

/// A diagnostic located at the node's definition.
pub(crate) fn node_error(node: &Node, code: &'static str, message: impl Into<String>) -> Diagnostic {
    let mut d = Diagnostic::error(code, message);
    if !node.file.as_os_str().is_empty() {
        d = d.in_file(node.file.clone()).with_span(node.span);
    }
    d
}

/// Runs `body` between BEGIN and COMMIT; rolls back on any error.
pub(crate) fn in_transaction<T>(
    conn: &mut dyn Connection,
    body: impl FnOnce(&mut dyn Connection) -> MaterializeResult<T>,
) -> MaterializeResult<T> {
    conn.begin()?;
    match body(conn) {
        Ok(v) => match conn.commit() {
            Ok(()) => Ok(v),
            Err(e) => {
                let _ = conn.rollback();
                Err(e.into())
            }
        },
        Err(e) => {
            let _ = conn.rollback();
            Err(e)
        }
    }
}

pub(crate) fn run_hooks(conn: &mut dyn Connection, hooks: &[String]) -> MaterializeResult<()> {
    for h in hooks {
        if !h.trim().is_empty() {
            conn.execute(h)?;
        }
    }
    Ok(())
}

/// dbt's `should_full_refresh()`: the node's `full_refresh` config, when set,
/// wins over the `--full-refresh` flag.
pub(crate) fn should_full_refresh(req: &MaterializeRequest<'_>) -> bool {
    req.node.config.get_bool("full_refresh").unwrap_or(req.full_refresh)
}

pub(crate) fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

pub(crate) fn suffixed(relation: &Relation, suffix: &str) -> Relation {
    relation.with_identifier(format!("{}{suffix}", relation.identifier))
}

/// Drops `relation` whatever its kind, if it exists.
pub(crate) fn drop_if_exists(conn: &mut dyn Connection, relation: &Relation) -> MaterializeResult<()> {
    if let Some(kind) = conn.relation_kind(relation)? {
        conn.drop_relation(relation, kind)?;
    }
    Ok(())
}

/// Puts `tmp` (of kind `tmp_kind`) in place of `target`: the old relation is
/// renamed to `backup`, `tmp` renamed to the target name, then the backup
/// dropped. Call inside a transaction.
pub(crate) fn swap_into_place(
    conn: &mut dyn Connection,
    tmp: &Relation,
    tmp_kind: RelationKind,
    target: &Relation,
) -> MaterializeResult<()> {
    let backup = suffixed(target, "__dbt_backup");
    match conn.relation_kind(target)? {
        Some(kind) => {
            conn.rename_relation(target, kind, &backup.identifier)?;
            conn.rename_relation(tmp, tmp_kind, &target.identifier)?;
            conn.drop_relation(&backup, kind)?;
        }
        None => conn.rename_relation(tmp, tmp_kind, &target.identifier)?,
    }
    Ok(())
}
