//! A fitted pipeline saved as JSON with its feature schema, and loaded back
//! with a check that the data to score has the features it was trained on.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{MlError, Pipeline};

/// Format version of the file, bumped when `Pipeline`'s shape changes so an
/// old file is reported instead of misread.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelFile {
    pub format_version: u32,
    /// The ML node that trained the model.
    pub node: String,
    pub pipeline: Pipeline,
}

pub fn to_json(node: &str, pipeline: &Pipeline) -> Result<String, MlError> {
    let f = ModelFile { format_version: FORMAT_VERSION, node: node.to_string(), pipeline: pipeline.clone() };
    serde_json::to_string(&f).map_err(|e| MlError::Model(format!("cannot serialise model '{node}': {e}")))
}

pub fn from_json(text: &str, origin: &str) -> Result<ModelFile, MlError> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| MlError::Model(format!("{origin}: not a model file: {e}")))?;
    match v.get("format_version").and_then(|v| v.as_u64()) {
        Some(n) if n == FORMAT_VERSION as u64 => {}
        other => {
            return Err(MlError::Model(format!(
                "{origin}: model file format {} is not supported (expected {FORMAT_VERSION}); retrain the model",
                other.map_or("unknown".to_string(), |n| n.to_string())
            )));
        }
    }
    serde_json::from_value(v).map_err(|e| MlError::Model(format!("{origin}: malformed model file: {e}")))
}

/// Writes the model file atomically (a half-written model is never read).
pub fn save(path: &Path, node: &str, pipeline: &Pipeline) -> Result<(), MlError> {
    let text = to_json(node, pipeline)?;
    crate::artifacts::write_atomic(path, |w| w.write_all(text.as_bytes()))
        .map_err(|e| MlError::Io { path: path.display().to_string(), source: e })
}

pub fn load(path: &Path) -> Result<ModelFile, MlError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| MlError::Io { path: path.display().to_string(), source: e })?;
    from_json(&text, &path.display().to_string())
}

/// Checks that `columns` (of the relation to score) hold every feature of
/// the model; extra columns are fine. Names compare case-insensitively, as
/// the engine's identifiers do.
pub fn check_schema(file: &ModelFile, columns: &[String]) -> Result<(), MlError> {
    let missing: Vec<&str> = file
        .pipeline
        .features
        .iter()
        .filter(|f| !columns.iter().any(|c| c.eq_ignore_ascii_case(f)))
        .map(String::as_str)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(MlError::Model(format!(
        "the data does not match model '{}': missing feature(s) {}; the model was trained on [{}], the data has [{}]",
        file.node,
        missing.join(", "),
        file.pipeline.features.join(", "),
        columns.join(", ")
    )))
}
