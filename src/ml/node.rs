//! An ML node in the DAG: its input query (compiled like a model) is read
//! from the engine; a train node fits its pipeline and writes the test-set
//! predictions as its relation (`ref`-able), the metrics as
//! `<relation>__metrics`, and the model file, metrics and a
//! predicted-vs-actual plot under `<target>/ml/`; a predict node scores its
//! input with a saved model. Relations are replaced in one transaction and
//! only when the checks with severity `error` pass, so a failed node
//! leaves the previous outputs as they were.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::metrics::Metrics;
use super::spec::{CheckSeverity, Kind, MlSpec};
use super::{CheckResult, MlError, model_file, plot};

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

fn ml_err(node: &str) -> impl Fn(MlError) -> Diagnostic + '_ {
    move |e| Diagnostic::error("ml", format!("ML node '{node}': {e}"))
}

/// The model file of train node `name` under `ml_dir`.
pub fn model_path(ml_dir: &Path, name: &str) -> PathBuf {
    ml_dir.join(format!("{name}.model.json"))
}

/// Replaces `relation` (and `extra` relations) with tables of `rows`, in
/// one transaction.
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

fn metrics_row(split: &str, m: &Metrics) -> Vec<Value> {
    vec![json!(split), json!(m.n), json!(m.r2), json!(m.mse), json!(m.rmse), json!(m.mae)]
}

/// Runs `spec` on the rows of `input_sql`, writing `relation` (and for a
/// train node `<relation>__metrics`) and files under `ml_dir`.
pub fn run(conn: &mut dyn Connection, spec: &MlSpec, input_sql: &str, relation: &Relation, ml_dir: &Path) -> Result<MlOutcome, Diagnostic> {
    let err = ml_err(&spec.name);
    let input = conn
        .query(input_sql)
        .map_err(|e| Diagnostic::error("ml", format!("ML node '{}': reading its input failed: {}", spec.name, e.message)))?;
    let names: Vec<String> = input.columns.iter().map(|c| c.name.clone()).collect();
    let double = |name: &str| Column { name: name.to_string(), data_type: "DOUBLE".into() };
    match spec.kind {
        Kind::Train => {
            let out = super::train(spec, &names, &input.rows).map_err(&err)?;
            let checks = super::evaluate_checks(spec, out.n_rows, Some(&out.test_metrics));
            let outcome = MlOutcome { rows: out.n_rows, metrics: Some(out.test_metrics), checks, files: vec![] };
            if !outcome.failed_checks(CheckSeverity::Error).is_empty() {
                return Ok(outcome);
            }
            // Test-set predictions: the row's features, the actual target and the prediction.
            let target = out.pipeline.target.clone();
            let mut cols = vec![Column { name: "row_id".into(), data_type: "BIGINT".into() }];
            cols.extend(out.pipeline.features.iter().map(|f| double(f)));
            cols.push(double(&target));
            cols.push(double("predicted"));
            let index: Vec<usize> =
                out.pipeline.features.iter().map(|f| names.iter().position(|n| n.eq_ignore_ascii_case(f)).unwrap_or(usize::MAX)).collect();
            let rows: Vec<Vec<Value>> = out
                .test_predictions
                .iter()
                .map(|p| {
                    let src = &input.rows[p.row];
                    let mut r = vec![json!(p.row)];
                    r.extend(index.iter().map(|&i| src.get(i).cloned().unwrap_or(Value::Null)));
                    r.push(json!(p.actual));
                    r.push(json!(p.predicted));
                    r
                })
                .collect();
            let metrics_rel = relation.with_identifier(format!("{}__metrics", relation.identifier));
            let metric_cols = vec![
                Column { name: "split".into(), data_type: "VARCHAR".into() },
                Column { name: "n_rows".into(), data_type: "BIGINT".into() },
                double("r2"),
                double("mse"),
                double("rmse"),
                double("mae"),
            ];
            let metric_rows = vec![metrics_row("train", &out.train_metrics), metrics_row("test", &out.test_metrics)];
            replace_tables(conn, &[(relation.clone(), cols, rows), (metrics_rel, metric_cols, metric_rows)])
                .map_err(|e| Diagnostic::error("ml", format!("ML node '{}': writing its tables failed: {e}", spec.name)))?;

            std::fs::create_dir_all(ml_dir).map_err(|e| Diagnostic::error("ml", format!("cannot create {}: {e}", ml_dir.display())))?;
            let model = model_path(ml_dir, &spec.name);
            model_file::save(&model, &spec.name, &out.pipeline).map_err(&err)?;
            let metrics_file = ml_dir.join(format!("{}.metrics.json", spec.name));
            let doc = json!({"node": spec.name, "rows": out.n_rows, "fit_seconds": out.fit_seconds, "train": out.train_metrics, "test": out.test_metrics});
            crate::artifacts::write_json_atomic(&metrics_file, &doc).map_err(|e| Diagnostic::error("ml", format!("cannot write {}: {e}", metrics_file.display())))?;
            let actual: Vec<f64> = out.test_predictions.iter().map(|p| p.actual).collect();
            let predicted: Vec<f64> = out.test_predictions.iter().map(|p| p.predicted).collect();
            let svg = plot::scatter_svg(&format!("{}: predicted vs actual (test set)", spec.name), &target, &actual, &predicted, out.test_metrics.r2);
            let plot_file = ml_dir.join(format!("{}.svg", spec.name));
            crate::artifacts::write_atomic(&plot_file, |w| w.write_all(svg.as_bytes()))
                .map_err(|e| Diagnostic::error("ml", format!("cannot write {}: {e}", plot_file.display())))?;
            Ok(MlOutcome { files: vec![model, metrics_file, plot_file], ..outcome })
        }
        Kind::Predict => {
            let model_name = spec.model.clone().unwrap_or_default();
            let path = model_path(ml_dir, &model_name);
            if !path.is_file() {
                return Err(Diagnostic::error(
                    "ml",
                    format!("ML node '{}': no saved model {} (build the train node '{model_name}' first)", spec.name, path.display()),
                ));
            }
            let file = model_file::load(&path).map_err(&err)?;
            model_file::check_schema(&file, &names).map_err(&err)?;
            let checks = super::evaluate_checks(spec, input.rows.len(), None);
            let outcome = MlOutcome { rows: input.rows.len(), metrics: None, checks, files: vec![] };
            if !outcome.failed_checks(CheckSeverity::Error).is_empty() {
                return Ok(outcome);
            }
            let predictions = file.pipeline.predict(&names, &input.rows).map_err(&err)?;
            let mut cols = input.columns.clone();
            cols.push(double("predicted"));
            let rows: Vec<Vec<Value>> = input.rows.iter().zip(&predictions).map(|(r, p)| r.iter().cloned().chain([json!(p)]).collect()).collect();
            replace_tables(conn, &[(relation.clone(), cols, rows)])
                .map_err(|e| Diagnostic::error("ml", format!("ML node '{}': writing its predictions failed: {e}", spec.name)))?;
            Ok(outcome)
        }
    }
}
