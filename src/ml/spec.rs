//! The YAML declaration of an ML node, parsed from the `ml:` list of a
//! properties file into typed structs.
//!
//! A full example (every key shown; only `name`, `data`, `target` and
//! `features` are required for a `train` node):
//!
//! ```yaml
//! ml:
//!   - name: energy_model
//!     kind: train                      # train | predict
//!     data: "ref('fct_activities')"    # a ref() or SQL text; compiled by the integrator
//!     where: "kilojoules is not null"  # optional filter on the data
//!     target: kilojoules
//!     target_transform: sqrt           # none | sqrt | log (log is ln(1 + y))
//!     features: [distance, moving_time, elevation_gain, average_speed, average_watts, weighted_average_watts]
//!     preprocessing:
//!       default: {impute: iterative_linear, scale: standard}
//!       columns:
//!         elevation_gain: {transform: sqrt}
//!     estimator:
//!       type: random_forest            # linear_regression | random_forest | gradient_boosting
//!       n_trees: 100
//!       max_depth: 20                  # optional: unlimited
//!       min_samples_leaf: 1
//!       max_features: 1.0              # fraction (0, 1], a count >= 1, "sqrt", "log2" or "all"
//!       seed: 42
//!     split: {test_size: 0.2, seed: 42}
//!     checks:
//!       - min_rows: 100
//!       - {metric: r2, min: 0.9, severity: error}
//!       - {metric: rmse, max: 50, severity: warn}
//!   - name: energy_scores
//!     kind: predict
//!     model: energy_model              # the train node whose saved model scores `data`
//!     data: "ref('stg_new_activities')"
//! ```
//!
//! A `predict` node takes its target, features and preprocessing from the
//! saved model, so it declares only `model` and `data` (and optionally
//! `where` and `checks` with `min_rows`).
//!
//! Per-column preprocessing runs in the order transform → impute → scale so
//! that imputed values never leave a transform's domain (sqrt of a negative
//! imputed value); a column's settings override `default` key by key.
//! `gradient_boosting` takes `n_trees` (default 100), `learning_rate` (0.1),
//! `max_depth` (3), `min_samples_leaf` (1), `subsample` (1.0), `seed` (0).

use std::path::Path;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::yaml::find_entry;
use crate::diag::{Diagnostic, Span};

/// A spec error at a path inside the `ml:` list, e.g. `ml[0].estimator.type`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct SpecError {
    pub path: String,
    pub message: String,
}

impl SpecError {
    /// A diagnostic at the offending key of the properties file `file`
    /// (text `text`): best effort, as JSON values carry no positions — the
    /// `name: <node>` entry is found, then the path's last key after it.
    pub fn to_diagnostic(&self, file: &Path, text: &str, node: Option<&str>) -> Diagnostic {
        let d = Diagnostic::error("ml-spec", format!("invalid ML node: {self}")).in_file(file);
        let Some(start) = node.and_then(|n| find_entry(text, "name", n)) else { return d };
        let last = self.path.rsplit('.').next().unwrap_or("");
        let key = last.split('[').next().unwrap_or(last);
        let span = Span::find(text, &format!("{key}:"), start.start).unwrap_or(start);
        d.with_span(Some(span))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Train,
    Predict,
}

/// A value transform (features and target). `Log` is ln(1 + x) so that zero
/// stays finite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transform {
    #[default]
    None,
    Sqrt,
    Log,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Impute {
    Mean,
    Median,
    IterativeLinear,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    Standard,
}

/// One feature's preprocessing; `None` fields mean "not applied".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ColumnPrep {
    pub impute: Option<Impute>,
    pub transform: Transform,
    pub scale: Option<Scale>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaxFeatures {
    All,
    Sqrt,
    Log2,
    Fraction(f64),
    Count(usize),
}

impl MaxFeatures {
    /// Number of features tried at each split out of `n` (at least 1).
    pub fn resolve(self, n: usize) -> usize {
        let k = match self {
            MaxFeatures::All => n,
            MaxFeatures::Sqrt => (n as f64).sqrt().floor() as usize,
            MaxFeatures::Log2 => (n as f64).log2().floor() as usize,
            MaxFeatures::Fraction(f) => (f * n as f64).floor() as usize,
            MaxFeatures::Count(c) => c,
        };
        k.clamp(1, n.max(1))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ForestParams {
    pub n_trees: usize,
    pub max_depth: Option<usize>,
    pub min_samples_leaf: usize,
    pub max_features: MaxFeatures,
    pub seed: u64,
}

impl Default for ForestParams {
    fn default() -> Self {
        ForestParams { n_trees: 100, max_depth: None, min_samples_leaf: 1, max_features: MaxFeatures::All, seed: 0 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BoostingParams {
    pub n_trees: usize,
    pub learning_rate: f64,
    pub max_depth: usize,
    pub min_samples_leaf: usize,
    pub subsample: f64,
    pub seed: u64,
}

impl Default for BoostingParams {
    fn default() -> Self {
        BoostingParams { n_trees: 100, learning_rate: 0.1, max_depth: 3, min_samples_leaf: 1, subsample: 1.0, seed: 0 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Estimator {
    LinearRegression,
    RandomForest(ForestParams),
    GradientBoosting(BoostingParams),
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Split {
    pub test_size: f64,
    pub seed: u64,
}

impl Default for Split {
    fn default() -> Self {
        Split { test_size: 0.2, seed: 0 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    R2,
    Mse,
    Rmse,
    Mae,
}

impl Metric {
    pub fn name(self) -> &'static str {
        match self {
            Metric::R2 => "r2",
            Metric::Mse => "mse",
            Metric::Rmse => "rmse",
            Metric::Mae => "mae",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckSeverity {
    Error,
    Warn,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CheckKind {
    /// The (filtered) input data has at least this many rows.
    MinRows(usize),
    /// A test-set metric lies within [min, max] (either bound optional).
    Metric { metric: Metric, min: Option<f64>, max: Option<f64> },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub kind: CheckKind,
    pub severity: CheckSeverity,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MlSpec {
    pub name: String,
    pub kind: Kind,
    /// `ref('...')`/`source(...)` call or SQL text, kept verbatim for the
    /// integrator to compile.
    pub data: String,
    /// The `where` key: a SQL condition on the data's rows (the integrator
    /// wraps the query, e.g. `select * from (<data>) where <filter>`).
    pub filter: Option<String>,
    /// Train only (a predict node reads it from the saved model).
    pub target: Option<String>,
    pub features: Vec<String>,
    pub target_transform: Transform,
    /// The effective preprocessing of every feature, in `features` order.
    pub preprocessing: Vec<ColumnPrep>,
    pub estimator: Estimator,
    pub split: Split,
    pub checks: Vec<Check>,
    /// Predict only: the train node whose model is used.
    pub model: Option<String>,
}

fn err(path: &str, message: impl Into<String>) -> SpecError {
    SpecError { path: path.to_string(), message: message.into() }
}

fn as_object<'a>(v: &'a Value, path: &str) -> Result<&'a serde_json::Map<String, Value>, SpecError> {
    v.as_object().ok_or_else(|| err(path, format!("expected a mapping, found {}", crate::config::yaml::kind_of(v))))
}

/// Rejects keys outside `allowed`, so that a typo is not silently ignored.
fn check_keys(obj: &serde_json::Map<String, Value>, allowed: &[&str], path: &str) -> Result<(), SpecError> {
    for k in obj.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(err(&format!("{path}.{k}"), format!("unknown key; expected one of: {}", allowed.join(", "))));
        }
    }
    Ok(())
}

fn get_str(obj: &serde_json::Map<String, Value>, key: &str, path: &str) -> Result<Option<String>, SpecError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v) => Err(err(&format!("{path}.{key}"), format!("expected a string, found {}", crate::config::yaml::kind_of(v)))),
    }
}

fn choice<T: Copy>(v: &Value, path: &str, choices: &[(&str, T)]) -> Result<T, SpecError> {
    let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
    let s = v.as_str().ok_or_else(|| err(path, format!("expected one of: {}; found {}", names.join(", "), crate::config::yaml::kind_of(v))))?;
    choices
        .iter()
        .find(|(n, _)| *n == s)
        .map(|(_, t)| *t)
        .ok_or_else(|| err(path, format!("unknown value '{s}'; expected one of: {}", names.join(", "))))
}

fn get_usize(obj: &serde_json::Map<String, Value>, key: &str, path: &str, min: usize) -> Result<Option<usize>, SpecError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) if n as usize >= min => Ok(Some(n as usize)),
            _ => Err(err(&format!("{path}.{key}"), format!("expected an integer >= {min}, found {v}"))),
        },
    }
}

fn get_f64(obj: &serde_json::Map<String, Value>, key: &str, path: &str) -> Result<Option<f64>, SpecError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .map(Some)
            .ok_or_else(|| err(&format!("{path}.{key}"), format!("expected a number, found {}", crate::config::yaml::kind_of(v)))),
    }
}

const TRANSFORMS: &[(&str, Transform)] = &[("none", Transform::None), ("sqrt", Transform::Sqrt), ("log", Transform::Log)];

/// Parses the value of an `ml:` key (a list of node declarations).
/// `prefix` names the list in error paths, e.g. `ml`.
pub fn parse_specs(value: &Value, prefix: &str) -> Result<Vec<MlSpec>, SpecError> {
    let list = value.as_array().ok_or_else(|| err(prefix, format!("expected a list, found {}", crate::config::yaml::kind_of(value))))?;
    let mut out: Vec<MlSpec> = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let path = format!("{prefix}[{i}]");
        let spec = parse_spec(item, &path)?;
        if out.iter().any(|s| s.name == spec.name) {
            return Err(err(&format!("{path}.name"), format!("duplicate ML node name '{}'", spec.name)));
        }
        out.push(spec);
    }
    Ok(out)
}

/// Parses one node declaration; `path` prefixes error paths.
pub fn parse_spec(value: &Value, path: &str) -> Result<MlSpec, SpecError> {
    let obj = as_object(value, path)?;
    check_keys(
        obj,
        &[
            "name", "kind", "data", "where", "target", "features", "target_transform", "preprocessing", "estimator",
            "split", "checks", "model", "description",
        ],
        path,
    )?;
    let name = get_str(obj, "name", path)?.ok_or_else(|| err(&format!("{path}.name"), "required"))?;
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(err(&format!("{path}.name"), "must be a non-empty identifier (letters, digits, _)"));
    }
    let kind = match obj.get("kind") {
        None => Kind::Train,
        Some(v) => choice(v, &format!("{path}.kind"), &[("train", Kind::Train), ("predict", Kind::Predict)])?,
    };
    let data = get_str(obj, "data", path)?.ok_or_else(|| err(&format!("{path}.data"), "required: a ref() or SQL query"))?;
    let filter = get_str(obj, "where", path)?;
    let target = get_str(obj, "target", path)?;
    let model = get_str(obj, "model", path)?;
    let features = match obj.get("features") {
        None | Some(Value::Null) => vec![],
        Some(Value::Array(items)) => {
            let mut fs = Vec::new();
            for (j, f) in items.iter().enumerate() {
                let s = f.as_str().ok_or_else(|| err(&format!("{path}.features[{j}]"), "expected a column name"))?;
                if fs.iter().any(|x: &String| x == s) {
                    return Err(err(&format!("{path}.features[{j}]"), format!("duplicate feature '{s}'")));
                }
                fs.push(s.to_string());
            }
            fs
        }
        Some(v) => return Err(err(&format!("{path}.features"), format!("expected a list, found {}", crate::config::yaml::kind_of(v)))),
    };
    let target_transform = match obj.get("target_transform") {
        None | Some(Value::Null) => Transform::None,
        Some(v) => choice(v, &format!("{path}.target_transform"), TRANSFORMS)?,
    };
    let preprocessing = parse_preprocessing(obj.get("preprocessing"), &features, &format!("{path}.preprocessing"))?;
    let estimator = match obj.get("estimator") {
        None | Some(Value::Null) => Estimator::LinearRegression,
        Some(v) => parse_estimator(v, &format!("{path}.estimator"))?,
    };
    let split = match obj.get("split") {
        None | Some(Value::Null) => Split::default(),
        Some(v) => {
            let p = format!("{path}.split");
            let o = as_object(v, &p)?;
            check_keys(o, &["test_size", "seed"], &p)?;
            let test_size = get_f64(o, "test_size", &p)?.unwrap_or(0.2);
            if !(test_size > 0.0 && test_size < 1.0) {
                return Err(err(&format!("{p}.test_size"), "must be a fraction strictly between 0 and 1"));
            }
            Split { test_size, seed: get_usize(o, "seed", &p, 0)?.unwrap_or(0) as u64 }
        }
    };
    let checks = parse_checks(obj.get("checks"), &format!("{path}.checks"))?;
    match kind {
        Kind::Train => {
            if target.is_none() {
                return Err(err(&format!("{path}.target"), "required for a train node"));
            }
            if features.is_empty() {
                return Err(err(&format!("{path}.features"), "required for a train node: a non-empty list of columns"));
            }
            if let Some(t) = &target {
                if features.contains(t) {
                    return Err(err(&format!("{path}.features"), format!("the target '{t}' cannot also be a feature")));
                }
            }
            if model.is_some() {
                return Err(err(&format!("{path}.model"), "only a predict node names a model"));
            }
        }
        Kind::Predict => {
            if model.is_none() {
                return Err(err(&format!("{path}.model"), "required for a predict node: the train node's name"));
            }
            for key in ["target", "features", "target_transform", "preprocessing", "estimator", "split"] {
                if obj.contains_key(key) {
                    return Err(err(&format!("{path}.{key}"), "a predict node takes this from the saved model"));
                }
            }
            if checks.iter().any(|c| matches!(c.kind, CheckKind::Metric { .. })) {
                return Err(err(&format!("{path}.checks"), "a predict node has no metrics; only min_rows applies"));
            }
        }
    }
    Ok(MlSpec {
        name,
        kind,
        data,
        filter,
        target,
        features,
        target_transform,
        preprocessing,
        estimator,
        split,
        checks,
        model,
    })
}

/// Partial column settings: `None` means "inherit from default".
#[derive(Default, Clone, Copy)]
struct PrepPatch {
    impute: Option<Option<Impute>>,
    transform: Option<Transform>,
    scale: Option<Option<Scale>>,
}

fn parse_patch(v: &Value, path: &str) -> Result<PrepPatch, SpecError> {
    let o = as_object(v, path)?;
    check_keys(o, &["impute", "transform", "scale"], path)?;
    let mut p = PrepPatch::default();
    if let Some(v) = o.get("impute") {
        p.impute = Some(match v {
            Value::Null => None,
            _ => Some(choice(
                v,
                &format!("{path}.impute"),
                &[("mean", Impute::Mean), ("median", Impute::Median), ("iterative_linear", Impute::IterativeLinear)],
            )?),
        });
    }
    if let Some(v) = o.get("transform") {
        p.transform = Some(if v.is_null() { Transform::None } else { choice(v, &format!("{path}.transform"), TRANSFORMS)? });
    }
    if let Some(v) = o.get("scale") {
        p.scale = Some(match v {
            Value::Null => None,
            _ => choice(v, &format!("{path}.scale"), &[("standard", Some(Scale::Standard)), ("none", None)])?,
        });
    }
    Ok(p)
}

fn apply_patch(base: ColumnPrep, p: PrepPatch) -> ColumnPrep {
    ColumnPrep {
        impute: p.impute.unwrap_or(base.impute),
        transform: p.transform.unwrap_or(base.transform),
        scale: p.scale.unwrap_or(base.scale),
    }
}

fn parse_preprocessing(v: Option<&Value>, features: &[String], path: &str) -> Result<Vec<ColumnPrep>, SpecError> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(vec![ColumnPrep::default(); features.len()]);
    };
    let o = as_object(v, path)?;
    check_keys(o, &["default", "columns"], path)?;
    let default = match o.get("default") {
        None | Some(Value::Null) => ColumnPrep::default(),
        Some(d) => apply_patch(ColumnPrep::default(), parse_patch(d, &format!("{path}.default"))?),
    };
    let mut cols: IndexMap<String, PrepPatch> = IndexMap::new();
    if let Some(c) = o.get("columns").filter(|c| !c.is_null()) {
        let cp = format!("{path}.columns");
        for (name, patch) in as_object(c, &cp)? {
            if !features.contains(name) {
                return Err(err(&format!("{cp}.{name}"), format!("not a feature; features are: {}", features.join(", "))));
            }
            cols.insert(name.clone(), parse_patch(patch, &format!("{cp}.{name}"))?);
        }
    }
    Ok(features.iter().map(|f| cols.get(f).map_or(default, |p| apply_patch(default, *p))).collect())
}

fn parse_max_features(v: &Value, path: &str) -> Result<MaxFeatures, SpecError> {
    match v {
        Value::String(_) => choice(v, path, &[("all", MaxFeatures::All), ("sqrt", MaxFeatures::Sqrt), ("log2", MaxFeatures::Log2)]),
        Value::Number(n) => {
            if let Some(c) = n.as_u64().filter(|c| *c >= 2) {
                Ok(MaxFeatures::Count(c as usize))
            } else {
                match n.as_f64() {
                    Some(f) if f > 0.0 && f <= 1.0 => Ok(MaxFeatures::Fraction(f)),
                    _ => Err(err(path, "expected a fraction in (0, 1], a count >= 2, sqrt, log2 or all")),
                }
            }
        }
        _ => Err(err(path, "expected a fraction in (0, 1], a count >= 2, sqrt, log2 or all")),
    }
}

fn parse_estimator(v: &Value, path: &str) -> Result<Estimator, SpecError> {
    let o = as_object(v, path)?;
    let ty = o.get("type").ok_or_else(|| err(&format!("{path}.type"), "required: linear_regression, random_forest or gradient_boosting"))?;
    #[derive(Clone, Copy)]
    enum T {
        Lin,
        Rf,
        Gb,
    }
    let t = choice(
        ty,
        &format!("{path}.type"),
        &[("linear_regression", T::Lin), ("random_forest", T::Rf), ("gradient_boosting", T::Gb)],
    )?;
    Ok(match t {
        T::Lin => {
            check_keys(o, &["type"], path)?;
            Estimator::LinearRegression
        }
        T::Rf => {
            check_keys(o, &["type", "n_trees", "max_depth", "min_samples_leaf", "max_features", "seed"], path)?;
            let d = ForestParams::default();
            Estimator::RandomForest(ForestParams {
                n_trees: get_usize(o, "n_trees", path, 1)?.unwrap_or(d.n_trees),
                max_depth: get_usize(o, "max_depth", path, 1)?,
                min_samples_leaf: get_usize(o, "min_samples_leaf", path, 1)?.unwrap_or(d.min_samples_leaf),
                max_features: match o.get("max_features") {
                    None | Some(Value::Null) => d.max_features,
                    Some(m) => parse_max_features(m, &format!("{path}.max_features"))?,
                },
                seed: get_usize(o, "seed", path, 0)?.unwrap_or(0) as u64,
            })
        }
        T::Gb => {
            check_keys(o, &["type", "n_trees", "learning_rate", "max_depth", "min_samples_leaf", "subsample", "seed"], path)?;
            let d = BoostingParams::default();
            let learning_rate = get_f64(o, "learning_rate", path)?.unwrap_or(d.learning_rate);
            if !(learning_rate > 0.0 && learning_rate <= 1.0) {
                return Err(err(&format!("{path}.learning_rate"), "must be in (0, 1]"));
            }
            let subsample = get_f64(o, "subsample", path)?.unwrap_or(d.subsample);
            if !(subsample > 0.0 && subsample <= 1.0) {
                return Err(err(&format!("{path}.subsample"), "must be in (0, 1]"));
            }
            Estimator::GradientBoosting(BoostingParams {
                n_trees: get_usize(o, "n_trees", path, 1)?.unwrap_or(d.n_trees),
                learning_rate,
                max_depth: get_usize(o, "max_depth", path, 1)?.unwrap_or(d.max_depth),
                min_samples_leaf: get_usize(o, "min_samples_leaf", path, 1)?.unwrap_or(d.min_samples_leaf),
                subsample,
                seed: get_usize(o, "seed", path, 0)?.unwrap_or(0) as u64,
            })
        }
    })
}

fn parse_checks(v: Option<&Value>, path: &str) -> Result<Vec<Check>, SpecError> {
    let Some(v) = v.filter(|v| !v.is_null()) else { return Ok(vec![]) };
    let list = v.as_array().ok_or_else(|| err(path, format!("expected a list, found {}", crate::config::yaml::kind_of(v))))?;
    let mut out = Vec::new();
    for (i, c) in list.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let o = as_object(c, &p)?;
        let severity = match o.get("severity") {
            None | Some(Value::Null) => CheckSeverity::Error,
            Some(s) => choice(s, &format!("{p}.severity"), &[("error", CheckSeverity::Error), ("warn", CheckSeverity::Warn)])?,
        };
        let kind = if o.contains_key("min_rows") {
            check_keys(o, &["min_rows", "severity"], &p)?;
            CheckKind::MinRows(get_usize(o, "min_rows", &p, 0)?.unwrap_or(0))
        } else if let Some(m) = o.get("metric") {
            check_keys(o, &["metric", "min", "max", "severity"], &p)?;
            let metric = choice(
                m,
                &format!("{p}.metric"),
                &[("r2", Metric::R2), ("mse", Metric::Mse), ("rmse", Metric::Rmse), ("mae", Metric::Mae)],
            )?;
            let (min, max) = (get_f64(o, "min", &p)?, get_f64(o, "max", &p)?);
            if min.is_none() && max.is_none() {
                return Err(err(&p, "a metric check needs `min` and/or `max`"));
            }
            CheckKind::Metric { metric, min, max }
        } else {
            return Err(err(&p, "expected a check: {min_rows: N} or {metric: r2|mse|rmse|mae, min: X, max: Y}"));
        };
        out.push(Check { kind, severity });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn full() -> Value {
        json!([{
            "name": "energy_model",
            "data": "ref('fct_activities')",
            "where": "kilojoules is not null",
            "target": "kilojoules",
            "target_transform": "sqrt",
            "features": ["distance", "elevation_gain"],
            "preprocessing": {"default": {"impute": "iterative_linear", "scale": "standard"},
                              "columns": {"elevation_gain": {"transform": "sqrt"}}},
            "estimator": {"type": "random_forest", "n_trees": 10, "max_features": "sqrt", "seed": 7},
            "split": {"test_size": 0.25, "seed": 3},
            "checks": [{"min_rows": 10}, {"metric": "r2", "min": 0.9, "severity": "warn"}]
        }, {"name": "scores", "kind": "predict", "model": "energy_model", "data": "select 1"}])
    }

    #[test]
    fn parses_full_example() {
        let specs = parse_specs(&full(), "ml").unwrap();
        let s = &specs[0];
        assert_eq!(s.kind, Kind::Train);
        assert_eq!(s.filter.as_deref(), Some("kilojoules is not null"));
        assert_eq!(s.target_transform, Transform::Sqrt);
        let both = ColumnPrep { impute: Some(Impute::IterativeLinear), transform: Transform::None, scale: Some(Scale::Standard) };
        assert_eq!(s.preprocessing, vec![both, ColumnPrep { transform: Transform::Sqrt, ..both }]);
        assert_eq!(
            s.estimator,
            Estimator::RandomForest(ForestParams { n_trees: 10, max_features: MaxFeatures::Sqrt, seed: 7, ..Default::default() })
        );
        assert_eq!(s.split, Split { test_size: 0.25, seed: 3 });
        assert_eq!(s.checks[1], Check {
            kind: CheckKind::Metric { metric: Metric::R2, min: Some(0.9), max: None },
            severity: CheckSeverity::Warn
        });
        assert_eq!(specs[1].kind, Kind::Predict);
        assert_eq!(specs[1].model.as_deref(), Some("energy_model"));
    }

    fn error_of(mutate: impl FnOnce(&mut Value)) -> SpecError {
        let mut v = full();
        mutate(&mut v);
        parse_specs(&v, "ml").unwrap_err()
    }

    #[test]
    fn errors_name_the_path_and_choices() {
        let e = error_of(|v| v[0]["estimator"]["type"] = json!("svm"));
        assert_eq!(e.path, "ml[0].estimator.type");
        assert!(e.message.contains("linear_regression, random_forest, gradient_boosting"), "{e}");
        let e = error_of(|v| v[0]["preprocessing"]["columns"]["elevation_gain"]["impute"] = json!("mode"));
        assert_eq!(e.path, "ml[0].preprocessing.columns.elevation_gain.impute");
        let e = error_of(|v| v[0]["preprocessing"]["columns"]["nope"] = json!({}));
        assert_eq!(e.path, "ml[0].preprocessing.columns.nope");
        let e = error_of(|v| v[0]["estimator"]["n_tres"] = json!(3));
        assert_eq!(e.path, "ml[0].estimator.n_tres");
        let e = error_of(|v| v[0]["split"]["test_size"] = json!(1.5));
        assert_eq!(e.path, "ml[0].split.test_size");
        let e = error_of(|v| v[0].as_object_mut().unwrap().remove("target").map(|_| ()).unwrap());
        assert_eq!(e.path, "ml[0].target");
        let e = error_of(|v| v[1]["features"] = json!(["a"]));
        assert_eq!(e.path, "ml[1].features");
        let e = error_of(|v| v[1]["name"] = json!("energy_model"));
        assert!(e.message.contains("duplicate"), "{e}");
        let e = error_of(|v| v[0]["checks"][1]["metric"] = json!("auc"));
        assert_eq!(e.path, "ml[0].checks[1].metric");
    }

    #[test]
    fn diagnostic_points_at_the_key() {
        let text = "ml:\n  - name: other\n    estimator: {type: svm}\n  - name: m\n    estimator:\n      type: svm\n";
        let v = crate::config::yaml::parse(text, Path::new("p.yml")).unwrap();
        let e = parse_specs(&v["ml"], "ml").unwrap_err();
        // The first node lacks data; point at its name entry region.
        let d = e.to_diagnostic(Path::new("p.yml"), text, Some("other"));
        assert_eq!(d.code, "ml-spec");
        let e = SpecError { path: "ml[1].estimator.type".into(), message: "unknown value 'svm'".into() };
        let d = e.to_diagnostic(Path::new("p.yml"), text, Some("m"));
        let span = d.span.unwrap();
        assert_eq!(Diagnostic::line_col(text, span.start), (6, 7));
        assert!(d.render_with_source(None, Some(text)).contains("p.yml:6:7"), "{}", d.render_with_source(None, Some(text)));
    }
}
