//! ML nodes: datasets from query rows, preprocessing, estimators, metrics,
//! model files and plots, as plain Rust types. The parser/DAG/runner wire a
//! node's spec (`spec`) to the rows of its compiled query and call `train`
//! or `Pipeline::predict`.

pub mod dataset;
pub mod metrics;
pub mod model_file;
pub mod models;
pub mod node;
pub mod plot;
pub mod preprocess;
pub mod spec;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::diag::Diagnostic;

use dataset::{from_rows, train_test_split};
use metrics::Metrics;
use models::Model;
use preprocess::Preprocessor;
use spec::{CheckKind, CheckSeverity, Kind, MlSpec, Transform};

#[derive(Debug, thiserror::Error)]
pub enum MlError {
    #[error("{0}")]
    Spec(#[from] spec::SpecError),
    /// Bad input data: missing/unknown columns, non-numeric values, no rows.
    #[error("{0}")]
    Data(String),
    /// A saved model does not fit the data or is unreadable.
    #[error("{0}")]
    Model(String),
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
}

/// A fitted pipeline: preprocessing, estimator and target transform, with
/// the feature schema (names, in order) it was trained on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pipeline {
    pub features: Vec<String>,
    pub target: String,
    pub target_transform: Transform,
    pub preprocessor: Preprocessor,
    pub model: Model,
}

impl Pipeline {
    /// Predictions (on the target's original scale) for query rows holding
    /// at least the pipeline's features.
    pub fn predict(&self, columns: &[String], rows: &[Vec<Value>]) -> Result<Vec<f64>, MlError> {
        let ds = from_rows(columns, rows, &self.features, None)?;
        self.predict_matrix(&ds.x)
    }

    pub fn predict_matrix(&self, x: &dataset::Matrix) -> Result<Vec<f64>, MlError> {
        let xt = self.preprocessor.transform(x)?;
        Ok(self.model.predict(&xt).into_iter().map(|v| preprocess::inverse(self.target_transform, v)).collect())
    }
}

/// One test-set prediction: the row's position in the input rows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    pub row: usize,
    pub actual: f64,
    pub predicted: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TrainOutput {
    pub pipeline: Pipeline,
    /// Metrics on the held-out test rows (original target scale).
    pub test_metrics: Metrics,
    pub train_metrics: Metrics,
    pub test_predictions: Vec<Prediction>,
    pub n_rows: usize,
    pub fit_seconds: f64,
}

/// Trains a `kind: train` spec on query rows: split, fit preprocessing and
/// estimator on the train rows, evaluate on the test rows.
pub fn train(spec: &MlSpec, columns: &[String], rows: &[Vec<Value>]) -> Result<TrainOutput, MlError> {
    let target = match (spec.kind, &spec.target) {
        (Kind::Train, Some(t)) => t.clone(),
        _ => return Err(MlError::Data(format!("ML node '{}' is not a train node", spec.name))),
    };
    let ds = from_rows(columns, rows, &spec.features, Some(&target))?;
    let y = ds.y.unwrap_or_default();
    let (train_idx, test_idx) = train_test_split(ds.x.rows, spec.split.test_size, spec.split.seed)?;
    let started = std::time::Instant::now();
    let x_train = ds.x.select_rows(&train_idx);
    let y_train: Vec<f64> = train_idx.iter().map(|&i| y[i]).collect();
    let (preprocessor, xt) = Preprocessor::fit_transform(&spec.features, &spec.preprocessing, &x_train)?;
    let yt = preprocess::transform_target(spec.target_transform, &target, &y_train)?;
    let model = Model::fit(&spec.estimator, &xt, &yt);
    let fit_seconds = started.elapsed().as_secs_f64();
    let pipeline =
        Pipeline { features: spec.features.clone(), target, target_transform: spec.target_transform, preprocessor, model };
    let train_pred = pipeline.predict_matrix(&x_train)?;
    let x_test = ds.x.select_rows(&test_idx);
    let test_pred = pipeline.predict_matrix(&x_test)?;
    let y_test: Vec<f64> = test_idx.iter().map(|&i| y[i]).collect();
    Ok(TrainOutput {
        test_metrics: metrics::evaluate(&y_test, &test_pred),
        train_metrics: metrics::evaluate(&y_train, &train_pred),
        test_predictions: test_idx
            .iter()
            .zip(&test_pred)
            .map(|(&row, &predicted)| Prediction { row, actual: y[row], predicted })
            .collect(),
        n_rows: ds.x.rows,
        pipeline,
        fit_seconds,
    })
}

impl MlError {
    /// Stable diagnostic code of each kind of error.
    pub fn code(&self) -> &'static str {
        match self {
            MlError::Spec(_) => "ml-spec",
            MlError::Data(_) => "ml-data",
            MlError::Model(_) => "ml-model",
            MlError::Io { .. } => "ml-io",
        }
    }

    /// A diagnostic (error) about ML node `node`; user-input errors, so the
    /// CLI exits with code 2. Spec errors with a file position are built with
    /// `SpecError::to_diagnostic` instead.
    pub fn to_diagnostic(&self, node: &str) -> Diagnostic {
        Diagnostic::error(self.code(), format!("ML node '{node}': {self}"))
    }
}

impl TrainOutput {
    /// The metrics relation: one row per split (`train`, `test`) with the
    /// row count and r2, mse, rmse, mae on the target's original scale.
    pub fn metrics_table(&self, node: &str) -> (Vec<String>, Vec<Vec<Value>>) {
        let columns = ["node", "split", "n_rows", "r2", "mse", "rmse", "mae"].map(String::from).to_vec();
        let row = |split: &str, m: &Metrics| {
            vec![
                Value::from(node),
                Value::from(split),
                Value::from(m.n as u64),
                number(m.r2),
                number(m.mse),
                number(m.rmse),
                number(m.mae),
            ]
        };
        (columns, vec![row("train", &self.train_metrics), row("test", &self.test_metrics)])
    }
}

/// A float as JSON; non-finite values (which JSON cannot hold) become null.
fn number(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

/// Input rows with a prediction column appended, for the predictions
/// relation: `preds` pairs a row index of `rows` with its prediction (the
/// test rows of a train node, or every row of a predict node).
pub fn append_predictions(
    columns: &[String],
    rows: &[Vec<Value>],
    preds: impl IntoIterator<Item = (usize, f64)>,
    column: &str,
) -> Result<(Vec<String>, Vec<Vec<Value>>), MlError> {
    if columns.iter().any(|c| c.eq_ignore_ascii_case(column)) {
        return Err(MlError::Data(format!("the data already has a column named '{column}' for the predictions")));
    }
    let mut out_cols = columns.to_vec();
    out_cols.push(column.to_string());
    let out_rows = preds
        .into_iter()
        .filter_map(|(i, p)| rows.get(i).map(|r| r.iter().cloned().chain([number(p)]).collect()))
        .collect();
    Ok((out_cols, out_rows))
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckResult {
    /// e.g. `min_rows_100`, `r2_min_0.9`.
    pub name: String,
    pub severity: CheckSeverity,
    pub passed: bool,
    /// The observed value and the bound, for the run log.
    pub message: String,
}

/// Evaluates a spec's checks on the input row count and (for a train node)
/// the test metrics. Checks that fail with severity error should fail the node.
pub fn evaluate_checks(spec: &MlSpec, n_rows: usize, test_metrics: Option<&Metrics>) -> Vec<CheckResult> {
    spec.checks
        .iter()
        .map(|c| match &c.kind {
            CheckKind::MinRows(min) => CheckResult {
                name: format!("min_rows_{min}"),
                severity: c.severity,
                passed: n_rows >= *min,
                message: format!("{n_rows} rows, at least {min} required"),
            },
            CheckKind::Metric { metric, min, max } => {
                let name = match (min, max) {
                    (Some(lo), Some(hi)) => format!("{}_between_{lo}_{hi}", metric.name()),
                    (Some(lo), None) => format!("{}_min_{lo}", metric.name()),
                    (None, Some(hi)) => format!("{}_max_{hi}", metric.name()),
                    (None, None) => metric.name().to_string(),
                };
                match test_metrics {
                    None => CheckResult { name, severity: c.severity, passed: false, message: "no metrics".into() },
                    Some(m) => {
                        let v = m.get(*metric);
                        let passed = !v.is_nan() && min.is_none_or(|lo| v >= lo) && max.is_none_or(|hi| v <= hi);
                        let bound = match (min, max) {
                            (Some(lo), Some(hi)) => format!("expected between {lo} and {hi}"),
                            (Some(lo), None) => format!("expected >= {lo}"),
                            (None, Some(hi)) => format!("expected <= {hi}"),
                            (None, None) => String::new(),
                        };
                        CheckResult { name, severity: c.severity, passed, message: format!("{} = {v:.6}, {bound}", metric.name()) }
                    }
                }
            }
        })
        .collect()
}

/// Where a train node's files go under the target path: `ml/<node>/`.
pub fn node_dir(target_path: &std::path::Path, node: &str) -> std::path::PathBuf {
    target_path.join("ml").join(node)
}

/// What a train node produced: the outcome, its check results and the
/// files written (none when the node failed).
#[derive(Debug, Clone)]
pub struct TrainNode {
    pub output: TrainOutput,
    pub checks: Vec<CheckResult>,
    /// `false` when a check of severity error failed: the previous model
    /// file, plot and metrics are then left as they were.
    pub passed: bool,
    pub model_path: std::path::PathBuf,
    pub plot_path: std::path::PathBuf,
    pub metrics_path: std::path::PathBuf,
}

/// Runs a train node end to end on its query's rows: train and evaluate in
/// memory, run the checks, and only if no error-severity check failed write
/// `model.json`, `plot.svg` and `metrics.json` (atomically) under
/// `node_dir(target_path, name)`. Bad input fails before anything is written.
pub fn run_train_node(
    spec: &MlSpec,
    columns: &[String],
    rows: &[Vec<Value>],
    target_path: &std::path::Path,
) -> Result<TrainNode, MlError> {
    let output = train(spec, columns, rows)?;
    let checks = evaluate_checks(spec, output.n_rows, Some(&output.test_metrics));
    let passed = !checks.iter().any(|c| !c.passed && c.severity == CheckSeverity::Error);
    let dir = node_dir(target_path, &spec.name);
    let (model_path, plot_path, metrics_path) = (dir.join("model.json"), dir.join("plot.svg"), dir.join("metrics.json"));
    if passed {
        let (actual, predicted): (Vec<f64>, Vec<f64>) =
            output.test_predictions.iter().map(|p| (p.actual, p.predicted)).unzip();
        let svg = plot::scatter_svg(
            &format!("{}: predicted vs actual (test set)", spec.name),
            &output.pipeline.target,
            &actual,
            &predicted,
            output.test_metrics.r2,
        );
        let metrics = serde_json::json!({
            "node": spec.name,
            "n_rows": output.n_rows,
            "fit_seconds": output.fit_seconds,
            "train": output.train_metrics,
            "test": output.test_metrics,
            "checks": checks,
        });
        let metrics_text = serde_json::to_string_pretty(&metrics)
            .map_err(|e| MlError::Model(format!("cannot serialise metrics: {e}")))?;
        let write = |path: &std::path::Path, bytes: &[u8]| {
            crate::artifacts::write_atomic(path, |w| w.write_all(bytes))
                .map_err(|e| MlError::Io { path: path.display().to_string(), source: e })
        };
        model_file::save(&model_path, &spec.name, &output.pipeline)?;
        write(&plot_path, svg.as_bytes())?;
        write(&metrics_path, metrics_text.as_bytes())?;
    }
    Ok(TrainNode { output, checks, passed, model_path, plot_path, metrics_path })
}

/// Runs a predict node: loads the model saved by its train node, checks the
/// data holds the model's features, and returns the data's rows with a
/// `prediction` column (the scoring relation) and the check results.
pub fn run_predict_node(
    spec: &MlSpec,
    columns: &[String],
    rows: &[Vec<Value>],
    target_path: &std::path::Path,
) -> Result<((Vec<String>, Vec<Vec<Value>>), Vec<CheckResult>), MlError> {
    let Some(model_node) = spec.model.as_deref().filter(|_| spec.kind == Kind::Predict) else {
        return Err(MlError::Data(format!("ML node '{}' is not a predict node", spec.name)));
    };
    let path = node_dir(target_path, model_node).join("model.json");
    if !path.exists() {
        return Err(MlError::Model(format!(
            "no saved model for '{model_node}' at {}; build the train node first",
            path.display()
        )));
    }
    let file = model_file::load(&path)?;
    model_file::check_schema(&file, columns)?;
    let predictions = file.pipeline.predict(columns, rows)?;
    let table = append_predictions(columns, rows, predictions.into_iter().enumerate(), "prediction")?;
    let checks = evaluate_checks(spec, rows.len(), None);
    Ok((table, checks))
}
