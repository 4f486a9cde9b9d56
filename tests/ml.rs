//! ML core (src/ml) on deterministic synthetic data: metrics within
//! tolerance, reproducibility with a seed, sklearn golden comparison
//! (scripts/golden/ml.py), model files and bad input.

use rdbt::ml::dataset::{Rng, train_test_split};
use rdbt::ml::spec::{parse_spec, CheckSeverity, MlSpec};
use rdbt::ml::{evaluate_checks, model_file, plot, train, MlError};
use serde_json::{json, Value};

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// y = 3*x1 - 2*x2 + noise, and a nonlinear z = 10*sin(pi*x1*x2) + 20*(x3-0.5)^2.
fn synthetic(n: usize, seed: u64) -> (Vec<String>, Vec<Vec<Value>>) {
    let mut rng = Rng::new(seed);
    let rows = (0..n)
        .map(|_| {
            let (x1, x2, x3) = (rng.unit(), rng.unit(), rng.unit());
            let noise = (rng.unit() + rng.unit() + rng.unit() - 1.5) * 0.1;
            let y = 3.0 * x1 - 2.0 * x2 + noise;
            let z = 10.0 * (std::f64::consts::PI * x1 * x2).sin() + 20.0 * (x3 - 0.5).powi(2) + noise;
            vec![json!(x1), json!(x2), json!(x3), json!(y), json!(z), json!(format!("row{}", rng.below(10)))]
        })
        .collect();
    (names(&["x1", "x2", "x3", "y", "z", "label"]), rows)
}

fn spec(v: Value) -> MlSpec {
    parse_spec(&v, "ml[0]").unwrap()
}

#[test]
fn linear_regression_recovers_the_plane() {
    let (cols, rows) = synthetic(1000, 1);
    let s = spec(json!({"name": "lin", "data": "select 1", "target": "y", "features": ["x1", "x2", "x3"],
                        "split": {"test_size": 0.2, "seed": 5}}));
    let out = train(&s, &cols, &rows).unwrap();
    assert!(out.test_metrics.r2 > 0.99, "{:?}", out.test_metrics);
    assert!(out.test_metrics.rmse < 0.06, "{:?}", out.test_metrics);
    assert_eq!(out.test_metrics.n, 200);
    assert_eq!(out.test_predictions.len(), 200);
    let rdbt::ml::models::Model::LinearRegression(m) = &out.pipeline.model else { panic!("not linear") };
    assert!((m.coef[0] - 3.0).abs() < 0.02 && (m.coef[1] + 2.0).abs() < 0.02 && m.coef[2].abs() < 0.02, "{m:?}");
}

#[test]
fn forest_and_boosting_fit_a_nonlinear_target_reproducibly() {
    let (cols, rows) = synthetic(1500, 2);
    for est in [
        json!({"type": "random_forest", "n_trees": 30, "seed": 9}),
        json!({"type": "random_forest", "n_trees": 30, "seed": 9, "max_features": "sqrt", "min_samples_leaf": 3, "max_depth": 8}),
        json!({"type": "gradient_boosting", "n_trees": 150, "learning_rate": 0.1, "max_depth": 3, "subsample": 0.8, "seed": 9}),
    ] {
        let s = spec(json!({"name": "f", "data": "x", "target": "z", "features": ["x1", "x2", "x3"],
                            "preprocessing": {"default": {"scale": "standard"}}, "estimator": est,
                            "split": {"seed": 1}}));
        let a = train(&s, &cols, &rows).unwrap();
        assert!(a.test_metrics.r2 > 0.85, "{est}: {:?}", a.test_metrics);
        let linear = spec(json!({"name": "l", "data": "x", "target": "z", "features": ["x1", "x2", "x3"], "split": {"seed": 1}}));
        let l = train(&linear, &cols, &rows).unwrap();
        assert!(a.test_metrics.r2 > l.test_metrics.r2 + 0.05, "trees beat a plane on a nonlinear target");
        // Same seed: the same model, bit for bit; another seed: another model.
        let b = train(&s, &cols, &rows).unwrap();
        assert_eq!(a.pipeline, b.pipeline);
        assert_eq!(a.test_metrics, b.test_metrics);
        let mut other = s.clone();
        match &mut other.estimator {
            rdbt::ml::spec::Estimator::RandomForest(p) => p.seed = 10,
            rdbt::ml::spec::Estimator::GradientBoosting(p) => p.seed = 10,
            _ => unreachable!(),
        }
        assert_ne!(train(&other, &cols, &rows).unwrap().pipeline, a.pipeline, "{est}");
    }
}

fn golden() -> (Vec<String>, Vec<Vec<Value>>, Value) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/ml");
    let mut r = csv::Reader::from_path(format!("{dir}/synthetic.csv")).unwrap();
    let cols: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|rec| {
            rec.unwrap().iter().map(|f| if f.is_empty() { Value::Null } else { json!(f.parse::<f64>().unwrap()) }).collect()
        })
        .collect();
    let expected: Value = serde_json::from_str(&std::fs::read_to_string(format!("{dir}/sklearn.json")).unwrap()).unwrap();
    (cols, rows, expected)
}

#[test]
fn split_matches_the_golden_port() {
    let (_, rows, expected) = golden();
    let (_, test) = train_test_split(rows.len(), 0.2, 42).unwrap();
    let head: Vec<u64> = test[..5].iter().map(|&i| i as u64).collect();
    assert_eq!(json!(head), expected["test_rows_head"]);
}

#[test]
fn linear_regression_matches_sklearn() {
    let (cols, rows, expected) = golden();
    let s = spec(json!({"name": "lin", "data": "x", "target": "y", "features": ["x1", "x2", "x3", "x4", "x5"],
                        "preprocessing": {"default": {"impute": "mean", "scale": "standard"}},
                        "split": {"test_size": 0.2, "seed": 42}}));
    let out = train(&s, &cols, &rows).unwrap();
    let sk = &expected["linear_mean"];
    for m in ["r2", "mse", "mae"] {
        let want = sk[m].as_f64().unwrap();
        let got = serde_json::to_value(out.test_metrics).unwrap()[m].as_f64().unwrap();
        // Same data, split and algorithm: equal up to floating point.
        assert!((got - want).abs() < 1e-6 * want.abs().max(1.0), "{m}: rdbt {got} sklearn {want}");
    }
}

#[test]
fn forest_pipeline_is_within_tolerance_of_sklearn() {
    let (cols, rows, expected) = golden();
    let s = spec(json!({"name": "rf", "data": "x", "target": "y", "target_transform": "sqrt",
                        "features": ["x1", "x2", "x3", "x4", "x5"],
                        "preprocessing": {"default": {"impute": "iterative_linear", "scale": "standard"},
                                          "columns": {"x3": {"transform": "sqrt"}}},
                        "estimator": {"type": "random_forest", "n_trees": 100, "seed": 0},
                        "split": {"test_size": 0.2, "seed": 42}}));
    let out = train(&s, &cols, &rows).unwrap();
    let want = expected["forest_iterative"]["r2"].as_f64().unwrap();
    // Forests differ in their random draws (and our quantile bins), so only
    // the quality is compared.
    assert!((out.test_metrics.r2 - want).abs() < 0.01, "rdbt {} sklearn {want}", out.test_metrics.r2);
}

#[test]
fn model_file_round_trip_and_schema_mismatch() {
    let (cols, rows) = synthetic(300, 3);
    let s = spec(json!({"name": "m", "data": "x", "target": "z", "features": ["x1", "x2"],
                        "estimator": {"type": "random_forest", "n_trees": 5, "seed": 1}}));
    let out = train(&s, &cols, &rows).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("models/m.json");
    model_file::save(&path, "m", &out.pipeline).unwrap();
    let loaded = model_file::load(&path).unwrap();
    // serde_json (without its float_roundtrip feature) may parse a float 1 ulp
    // off, so the reloaded model is compared through its predictions.
    assert_eq!(loaded.pipeline.features, out.pipeline.features);
    assert_eq!(loaded.node, "m");
    // Scoring a relation whose columns are in another order, with extras.
    let score_cols = names(&["X2", "other", "x1"]);
    let score_rows: Vec<Vec<Value>> = rows.iter().map(|r| vec![r[1].clone(), json!("a"), r[0].clone()]).collect();
    model_file::check_schema(&loaded, &score_cols).unwrap();
    let scored = loaded.pipeline.predict(&score_cols, &score_rows).unwrap();
    let direct = out.pipeline.predict(&cols, &rows).unwrap();
    assert_eq!(scored.len(), direct.len());
    for (a, b) in scored.iter().zip(&direct) {
        assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "{a} vs {b}");
    }
    let e = model_file::check_schema(&loaded, &names(&["x1", "x3"])).unwrap_err().to_string();
    assert!(e.contains("missing feature(s) x2") && e.contains("[x1, x2]"), "{e}");
    std::fs::write(&path, r#"{"format_version": 99}"#).unwrap();
    let e = model_file::load(&path).unwrap_err().to_string();
    assert!(e.contains("format 99"), "{e}");
}

#[test]
fn bad_input_is_reported() {
    let (cols, rows) = synthetic(50, 4);
    let base = json!({"name": "m", "data": "x", "target": "z", "features": ["x1", "label"]});
    let e = train(&spec(base.clone()), &cols, &rows).unwrap_err();
    assert!(matches!(e, MlError::Data(_)));
    assert!(e.to_string().contains("feature 'label' is not numeric: row 1"), "{e}");
    let mut v = base.clone();
    v["features"] = json!(["x1", "nope"]);
    assert!(train(&spec(v), &cols, &rows).unwrap_err().to_string().contains("column 'nope' is not in the data"));
    let mut v = base.clone();
    v["features"] = json!(["x1"]);
    assert!(train(&spec(v.clone()), &cols, &[]).unwrap_err().to_string().contains("no rows"));
    assert!(train(&spec(v), &cols, &rows[..1]).unwrap_err().to_string().contains("cannot be split"));
}

#[test]
fn checks_and_plot() {
    let (cols, rows) = synthetic(200, 5);
    let s = spec(json!({"name": "m", "data": "x", "target": "y", "features": ["x1", "x2"],
                        "checks": [{"min_rows": 500, "severity": "warn"}, {"metric": "r2", "min": 0.9},
                                   {"metric": "rmse", "max": 0.0001}]}));
    let out = train(&s, &cols, &rows).unwrap();
    let results = evaluate_checks(&s, out.n_rows, Some(&out.test_metrics));
    let summary: Vec<(&str, CheckSeverity, bool)> =
        results.iter().map(|r| (r.name.as_str(), r.severity, r.passed)).collect();
    assert_eq!(summary, vec![
        ("min_rows_500", CheckSeverity::Warn, false),
        ("r2_min_0.9", CheckSeverity::Error, true),
        ("rmse_max_0.0001", CheckSeverity::Error, false),
    ]);
    let (actual, predicted): (Vec<f64>, Vec<f64>) = out.test_predictions.iter().map(|p| (p.actual, p.predicted)).unzip();
    let svg = plot::scatter_svg("m", "y", &actual, &predicted, out.test_metrics.r2);
    assert_eq!(svg.matches("<circle").count(), 40);
    assert!(svg.contains(&format!("R² = {:.4}", out.test_metrics.r2)));
}

#[test]
fn relations_for_the_integrator() {
    let (cols, rows) = synthetic(100, 6);
    let s = spec(json!({"name": "m", "data": "x", "target": "y", "features": ["x1", "x2"]}));
    let out = train(&s, &cols, &rows).unwrap();
    let (mcols, mrows) = out.metrics_table("m");
    assert_eq!(mcols, names(&["node", "split", "n_rows", "r2", "mse", "rmse", "mae"]));
    assert_eq!(mrows[1][..3], [json!("m"), json!("test"), json!(20)]);
    assert_eq!(mrows[1][3].as_f64(), Some(out.test_metrics.r2));
    assert_eq!(mrows[0][2], json!(80));
    let preds = out.test_predictions.iter().map(|p| (p.row, p.predicted));
    let (pcols, prows) = rdbt::ml::append_predictions(&cols, &rows, preds, "prediction").unwrap();
    assert_eq!(pcols.last().map(String::as_str), Some("prediction"));
    assert_eq!(prows.len(), 20);
    let first = out.test_predictions[0];
    assert_eq!(prows[0][..6], rows[first.row][..]);
    assert_eq!(prows[0][6].as_f64(), Some(first.predicted));
    assert!(rdbt::ml::append_predictions(&cols, &rows, [], "X1").is_err());
    let d = rdbt::ml::MlError::Data("bad".into()).to_diagnostic("m");
    assert_eq!((d.code, d.message.as_str()), ("ml-data", "ML node 'm': bad"));
}

#[test]
fn train_and_predict_nodes_write_files_only_when_they_pass() {
    let (cols, rows) = synthetic(200, 7);
    let target = tempfile::tempdir().unwrap();
    let ok = spec(json!({"name": "m", "data": "x", "target": "y", "features": ["x1", "x2"],
                         "checks": [{"min_rows": 10}, {"metric": "r2", "min": 0.9}]}));
    let node = rdbt::ml::run_train_node(&ok, &cols, &rows, target.path()).unwrap();
    assert!(node.passed, "{:?}", node.checks);
    assert!(std::fs::read_to_string(&node.plot_path).unwrap().starts_with("<svg"));
    let metrics: Value = serde_json::from_str(&std::fs::read_to_string(&node.metrics_path).unwrap()).unwrap();
    assert_eq!(metrics["test"]["n"], json!(40));
    assert_eq!(metrics["checks"][1]["passed"], json!(true));
    let model_before = std::fs::read(&node.model_path).unwrap();

    // An error check failing, or bad input: the saved files stay as they were.
    let mut strict = ok.clone();
    strict.checks = parse_spec(&json!({"name": "m", "data": "x", "target": "y", "features": ["x1"],
                                       "checks": [{"metric": "r2", "min": 0.999999}]}), "ml[0]").unwrap().checks;
    strict.features = names(&["x2"]);
    strict.preprocessing = vec![Default::default()];
    let failed = rdbt::ml::run_train_node(&strict, &cols, &rows, target.path()).unwrap();
    assert!(!failed.passed);
    assert_eq!(std::fs::read(&node.model_path).unwrap(), model_before);
    assert!(rdbt::ml::run_train_node(&ok, &cols, &[], target.path()).is_err());
    assert_eq!(std::fs::read(&node.model_path).unwrap(), model_before);

    let p = spec(json!({"name": "scores", "kind": "predict", "model": "m", "data": "x", "checks": [{"min_rows": 1000, "severity": "warn"}]}));
    let ((pcols, prows), checks) = rdbt::ml::run_predict_node(&p, &cols, &rows, target.path()).unwrap();
    assert_eq!(pcols.len(), cols.len() + 1);
    assert_eq!(prows.len(), 200);
    let direct = node.output.pipeline.predict(&cols, &rows[..1]).unwrap()[0];
    assert!((prows[0][6].as_f64().unwrap() - direct).abs() < 1e-9);
    assert!(!checks[0].passed && checks[0].severity == CheckSeverity::Warn);
    let e = rdbt::ml::run_predict_node(&p, &names(&["x1", "y"]), &[vec![json!(1), json!(2)]], target.path()).unwrap_err();
    assert!(e.to_string().contains("missing feature(s) x2"), "{e}");
    let mut other = p.clone();
    other.model = Some("nope".into());
    let e = rdbt::ml::run_predict_node(&other, &cols, &rows, target.path()).unwrap_err();
    assert!(e.to_string().contains("no saved model for 'nope'"), "{e}");
}
