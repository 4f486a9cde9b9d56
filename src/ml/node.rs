//! An ML node in the DAG: its input query (compiled like a model) is read
//! from the engine; a train node fits its pipeline and writes the test-set
//! predictions as its relation (`ref`-able), the metrics as
//! `<relation>__metrics`, and the model file, metrics and a
//! predicted-vs-actual plot under `<target>/ml/<name>/`; a predict node
//! scores its input with a saved model. Relations are replaced in one
//! transaction and only when the checks with severity `error` pass, so a
//! failed node leaves the previous outputs as they were.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::CheckResult;
use super::metrics::Metrics;
use super::spec::{CheckSeverity, Kind, MlSpec};

use crate::adapter::{Column, Connection, Relation};
use crate::diag::Diagnostic;

/// What one ML node did.
#[derive(Debug, Clone)]
pub struct MlOutcome {
    pub rows: usize,
    /// Test metrics of a train node.
    pub metrics: Option<Metrics>,
    pub checks: Vec<CheckResult>,
    /// Files written (model, metrics, plot).
    pub files: Vec<PathBuf>,
}

impl MlOutcome {
    /// `r2=0.9912 rmse=41.2 on 80 test rows` or `scored 120 rows`.
    pub fn message(&self) -> String {
        match &self.metrics {
            Some(m) => format!("r2={:.4} rmse={:.4} mae={:.4} on {} test rows of {}", m.r2, m.rmse, m.mae, m.n, self.rows),
            None => format!("scored {} rows", self.rows),
        }
    }
    pub fn failed_checks(&self, severity: CheckSeverity) -> Vec<&CheckResult> {
        self.checks.iter().filter(|c| !c.passed && c.severity == severity).collect()
    }
}

/// Replaces each relation with a table of its rows, in one transaction.
fn replace_tables(conn: &mut dyn Connection, tables: &[(Relation, Vec<Column>, Vec<Vec<Value>>)]) -> Result<(), String> {
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    conn.begin().map_err(|e| e.message)?;
    let result = (|| {
        for (rel, cols, rows) in tables {
            if let Some(kind) = conn.relation_kind(rel).map_err(|e| e.message)? {
                conn.drop_relation(rel, kind).map_err(|e| e.message)?;
            }
            let defs: Vec<String> = cols.iter().map(|c| format!("{} {}", quote(&c.name), c.data_type)).collect();
            conn.execute(&format!("create table {} ({})", rel.render(), defs.join(", "))).map_err(|e| e.message)?;
            conn.insert_rows(rel, cols, rows).map_err(|e| e.message)?;
        }
        Ok(())
    })();
    match result {
        Ok(()) => conn.commit().map_err(|e| e.message),
        Err(e) => {
            let _ = conn.rollback();
            Err(e)
        }
    }
}

/// The input's columns (with their engine types) followed by a DOUBLE
/// column for each extra name.
fn typed(input: &[Column], names: &[String]) -> Vec<Column> {
    names
        .iter()
        .enumerate()
        .map(|(i, n)| input.get(i).filter(|c| &c.name == n).cloned().unwrap_or(Column { name: n.clone(), data_type: "DOUBLE".into() }))
        .collect()
}

/// Runs `spec` on the rows of `input_sql`. A train node writes `relation`
/// (its test-set rows with a `prediction` column) and
/// `<relation>__metrics`, and its files under `<target_path>/ml/<name>/`
/// (`crate::ml::run_train_node`); a predict node writes `relation` (its
/// input rows with a `prediction` column).
pub fn run(conn: &mut dyn Connection, spec: &MlSpec, input_sql: &str, relation: &Relation, target_path: &Path) -> Result<MlOutcome, Diagnostic> {
    let input = conn
        .query(input_sql)
        .map_err(|e| Diagnostic::error("ml", format!("ML node '{}': reading its input failed: {}", spec.name, e.message)))?;
    let names: Vec<String> = input.columns.iter().map(|c| c.name.clone()).collect();
    let write_failed = |e: String| Diagnostic::error("ml", format!("ML node '{}': writing its tables failed: {e}", spec.name));
    match spec.kind {
        Kind::Train => {
            let node = super::run_train_node(spec, &names, &input.rows, target_path).map_err(|e| e.to_diagnostic(&spec.name))?;
            let mut outcome = MlOutcome { rows: node.output.n_rows, metrics: Some(node.output.test_metrics), checks: node.checks.clone(), files: vec![] };
            if !node.passed {
                return Ok(outcome);
            }
            let preds = node.output.test_predictions.iter().map(|p| (p.row, p.predicted));
            let (pred_cols, pred_rows) = super::append_predictions(&names, &input.rows, preds, "prediction").map_err(|e| e.to_diagnostic(&spec.name))?;
            let (metric_names, metric_rows) = node.output.metrics_table(&spec.name);
            let metric_cols: Vec<Column> = metric_names
                .iter()
                .map(|n| Column { name: n.clone(), data_type: if matches!(n.as_str(), "node" | "split") { "VARCHAR" } else { "DOUBLE" }.into() })
                .collect();
            let metrics_rel = relation.with_identifier(format!("{}__metrics", relation.identifier));
            replace_tables(conn, &[(relation.clone(), typed(&input.columns, &pred_cols), pred_rows), (metrics_rel, metric_cols, metric_rows)]).map_err(write_failed)?;
            outcome.files = vec![node.model_path, node.metrics_path, node.plot_path];
            Ok(outcome)
        }
        Kind::Predict => {
            let ((cols, rows), checks) = super::run_predict_node(spec, &names, &input.rows, target_path).map_err(|e| e.to_diagnostic(&spec.name))?;
            let outcome = MlOutcome { rows: input.rows.len(), metrics: None, checks, files: vec![] };
            if outcome.failed_checks(CheckSeverity::Error).is_empty() {
                replace_tables(conn, &[(relation.clone(), typed(&input.columns, &cols), rows)]).map_err(write_failed)?;
            }
            Ok(outcome)
        }
    }
}
