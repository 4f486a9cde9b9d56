//! Fits the seed project's energy pipeline (sqrt target; iterative linear
//! imputation; sqrt on elevation; standard scaling; random forest of 100
//! trees; 80/20 split with a fixed seed) on synthetic cycling activities and
//! prints fit/predict time and test R² — and, when `python3` has
//! scikit-learn, the same for sklearn's pipeline on the same split
//! (`scripts/bench_ml_sklearn.py`).
//!
//! `cargo run --no-default-features --features datafusion --example bench_ml [-- ROWS... [--trees N] [--no-sklearn]]`
//! (default rows: 2000 200000). The test profile compiles rdbt itself
//! without optimisation (about 4x slower here); for release-like figures
//! without rebuilding the dependencies add
//! `--config 'profile.dev.package.rdbt.opt-level=3'`.
//!
//! Measured on the 2-core build machine (rdbt at opt-level 3, sklearn 1.9.1
//! with n_jobs=-1, 100 trees, same 80/20 split):
//!
//! | rows    | rdbt fit | sklearn fit | rdbt predict | sklearn predict | rdbt R² | sklearn R² |
//! |---------|----------|-------------|--------------|-----------------|---------|------------|
//! | 2,000   | 0.06 s   | 0.29 s      | 0.02 s       | 0.04 s          | 0.9940  | 0.9948     |
//! | 200,000 | 5.7 s    | 33.4 s      | 1.9 s        | 4.3 s           | 0.9986  | 0.9988     |

use std::time::Instant;

use rdbt::ml::dataset::{Rng, train_test_split};
use rdbt::ml::spec::parse_spec;
use rdbt::ml::train;
use serde_json::{Value, json};

const FEATURES: [&str; 6] =
    ["distance", "moving_time", "elevation_gain", "average_speed", "average_watts", "weighted_average_watts"];

/// Synthetic activities: energy is power × time, with missing power and
/// elevation values as rides without a power meter or altimeter have.
fn activities(n: usize, seed: u64) -> Vec<Vec<Value>> {
    let mut r = Rng::new(seed);
    (0..n)
        .map(|_| {
            let speed = 15.0 + 25.0 * r.unit(); // km/h
            let distance = 5.0 + 145.0 * r.unit() * r.unit().sqrt(); // km
            let moving_time = (distance / speed * 3600.0).round(); // s
            let elevation = 3000.0 * r.unit().powi(3);
            let watts = 60.0 + 4.0 * speed + elevation / distance * 0.8 + 60.0 * r.unit();
            let weighted = watts * (1.02 + 0.1 * r.unit());
            let kj = watts * moving_time / 1000.0 * (0.97 + 0.06 * r.unit());
            let opt = |v: f64, p: f64, r: &mut Rng| if r.unit() < p { Value::Null } else { json!((v * 10.0).round() / 10.0) };
            vec![
                json!((distance * 1000.0).round() / 1000.0),
                json!(moving_time),
                opt(elevation, 0.03, &mut r),
                json!((speed * 100.0).round() / 100.0),
                json!((watts * 10.0).round() / 10.0),
                opt(weighted, 0.08, &mut r),
                json!((kj * 10.0).round() / 10.0),
            ]
        })
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut sizes = Vec::new();
    let mut trees = 100;
    let mut sklearn = true;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--trees" => trees = it.next().and_then(|t| t.parse().ok()).unwrap_or(trees),
            "--no-sklearn" => sklearn = false,
            n => sizes.push(n.parse::<usize>().unwrap_or_else(|_| panic!("not a row count: {n}"))),
        }
    }
    if sizes.is_empty() {
        sizes = vec![2000, 200_000];
    }
    let spec = parse_spec(
        &json!({
            "name": "energy_model", "data": "ref('fct_activities')", "target": "kilojoules",
            "target_transform": "sqrt", "features": FEATURES,
            "preprocessing": {"default": {"impute": "iterative_linear", "scale": "standard"},
                              "columns": {"elevation_gain": {"transform": "sqrt"}}},
            "estimator": {"type": "random_forest", "n_trees": trees, "seed": 42},
            "split": {"test_size": 0.2, "seed": 42}
        }),
        "ml[0]",
    )
    .expect("bench spec");
    let columns: Vec<String> = FEATURES.iter().map(|s| s.to_string()).chain(["kilojoules".to_string()]).collect();
    for n in sizes {
        let rows = activities(n, 7);
        let t = Instant::now();
        let out = train(&spec, &columns, &rows).expect("train");
        let total = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let pred = out.pipeline.predict(&columns, &rows).expect("predict");
        let predict = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let model_json = rdbt::ml::model_file::to_json("energy_model", &out.pipeline).expect("model file");
        let save = t.elapsed().as_secs_f64();
        println!(
            "rdbt    rows={n:>7} trees={trees} fit={:.2}s predict_all={predict:.2}s ({} rows) train+eval={total:.2}s test_r2={:.4} test_rmse={:.2} model_file={:.1}MB ({save:.2}s)",
            out.fit_seconds,
            pred.len(),
            out.test_metrics.r2,
            out.test_metrics.rmse,
            model_json.len() as f64 / 1e6
        );
        if sklearn {
            run_sklearn(&columns, &rows, trees);
        }
    }
}

/// Writes the rows and rdbt's split to a CSV and runs sklearn's pipeline on it.
fn run_sklearn(columns: &[String], rows: &[Vec<Value>], trees: usize) {
    let Ok(dir) = tempfile_dir() else { return };
    let path = dir.join("activities.csv");
    let (_, test) = train_test_split(rows.len(), 0.2, 42).expect("split");
    let mut is_test = vec![false; rows.len()];
    for i in test {
        is_test[i] = true;
    }
    let mut text = format!("{},is_test\n", columns.join(","));
    for (row, t) in rows.iter().zip(is_test) {
        let cells: Vec<String> = row.iter().map(|v| if v.is_null() { String::new() } else { v.to_string() }).collect();
        text.push_str(&format!("{},{}\n", cells.join(","), t as u8));
    }
    std::fs::write(&path, text).expect("write csv");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/bench_ml_sklearn.py");
    match std::process::Command::new("python3").arg(script).arg(&path).arg(trees.to_string()).output() {
        Ok(o) if o.status.success() => print!("{}", String::from_utf8_lossy(&o.stdout)),
        Ok(o) => println!("sklearn unavailable: {}", String::from_utf8_lossy(&o.stderr).lines().last().unwrap_or("")),
        Err(e) => println!("sklearn unavailable: {e}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("rdbt-bench-ml-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
