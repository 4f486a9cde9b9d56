//! Preprocessing fitted on the training rows and applied unchanged to any
//! other rows: per-column transform (sqrt, log) → imputation (mean, median,
//! iterative linear) → standard scaling; and the target transform.

use serde::{Deserialize, Serialize};

use super::dataset::Matrix;
use super::models::least_squares;
use super::spec::{ColumnPrep, Impute, Scale, Transform};
use super::MlError;

/// Rounds of the iterative imputer (sklearn's IterativeImputer default).
const ITERATIVE_ROUNDS: usize = 10;

/// Applies `t` to one value; `None` when the value is outside its domain.
/// NaN (missing) passes through so that it is imputed afterwards.
pub fn forward(t: Transform, v: f64) -> Option<f64> {
    if v.is_nan() {
        return Some(v);
    }
    match t {
        Transform::None => Some(v),
        Transform::Sqrt => (v >= 0.0).then(|| v.sqrt()),
        Transform::Log => (v > -1.0).then(|| v.ln_1p()),
    }
}

/// Inverse of `forward` (applied to predictions); a negative prediction of a
/// sqrt-transformed target maps to 0 as its square root cannot be negative.
pub fn inverse(t: Transform, v: f64) -> f64 {
    match t {
        Transform::None => v,
        Transform::Sqrt => v.max(0.0).powi(2),
        Transform::Log => v.exp_m1(),
    }
}

fn domain_error(t: Transform, what: &str, row: usize, v: f64) -> MlError {
    let domain = match t {
        Transform::Sqrt => "sqrt needs values >= 0",
        Transform::Log => "log (ln(1 + x)) needs values > -1",
        Transform::None => "",
    };
    MlError::Data(format!("{what} at row {}: {v} is outside the transform's domain ({domain})", row + 1))
}

/// Target values after the target transform.
pub fn transform_target(t: Transform, name: &str, y: &[f64]) -> Result<Vec<f64>, MlError> {
    y.iter()
        .enumerate()
        .map(|(i, &v)| forward(t, v).ok_or_else(|| domain_error(t, &format!("target '{name}'"), i, v)))
        .collect()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedColumn {
    pub name: String,
    pub prep: ColumnPrep,
    /// Fill value of mean/median imputation, or the initial fill of the
    /// iterative imputer (the mean).
    pub fill: Option<f64>,
    /// (mean, standard deviation) of standard scaling.
    pub scale: Option<(f64, f64)>,
}

/// One regression of the iterative imputer: `column` predicted from all the
/// other columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImputeStep {
    pub column: usize,
    pub coef: Vec<f64>,
    pub intercept: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preprocessor {
    pub columns: Vec<FittedColumn>,
    /// The regressions of every round, replayed in order on new data as
    /// sklearn's IterativeImputer replays its imputation sequence.
    pub steps: Vec<ImputeStep>,
}

fn mean(v: impl Iterator<Item = f64>) -> Option<f64> {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    (n > 0).then(|| s / n as f64)
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 0 { (v[m - 1] + v[m]) / 2.0 } else { v[m] })
}

/// Transforms in place and checks that missing values can be imputed.
fn transform_and_check(cols: &[(String, ColumnPrep)], x: &mut Matrix) -> Result<(), MlError> {
    for (c, (name, prep)) in cols.iter().enumerate() {
        for r in 0..x.rows {
            let v = x.get(r, c);
            if v.is_nan() && prep.impute.is_none() {
                return Err(MlError::Data(format!(
                    "feature '{name}' is null at row {} and has no `impute` setting",
                    r + 1
                )));
            }
            let t = forward(prep.transform, v).ok_or_else(|| domain_error(prep.transform, &format!("feature '{name}'"), r, v))?;
            x.set(r, c, t);
        }
    }
    Ok(())
}

fn regression_inputs(x: &Matrix, target: usize, rows: &[usize]) -> Matrix {
    let mut m = Matrix::new(rows.len(), x.cols - 1);
    for (i, &r) in rows.iter().enumerate() {
        let mut k = 0;
        for c in (0..x.cols).filter(|&c| c != target) {
            m.set(i, k, x.get(r, c));
            k += 1;
        }
    }
    m
}

fn apply_step(x: &mut Matrix, step: &ImputeStep, missing: &[usize]) {
    for &r in missing {
        let mut v = step.intercept;
        let mut k = 0;
        for c in (0..x.cols).filter(|&c| c != step.column) {
            v += step.coef[k] * x.get(r, c);
            k += 1;
        }
        x.set(r, step.column, v);
    }
}

impl Preprocessor {
    /// Fits on `x` (the training rows) and returns it transformed.
    pub fn fit_transform(names: &[String], preps: &[ColumnPrep], x: &Matrix) -> Result<(Preprocessor, Matrix), MlError> {
        let cols: Vec<(String, ColumnPrep)> = names.iter().cloned().zip(preps.iter().copied()).collect();
        let mut x = x.clone();
        transform_and_check(&cols, &mut x)?;
        let missing: Vec<Vec<usize>> = (0..x.cols).map(|c| (0..x.rows).filter(|&r| x.get(r, c).is_nan()).collect()).collect();
        let mut fitted = Vec::with_capacity(cols.len());
        for (c, (name, prep)) in cols.iter().enumerate() {
            let observed: Vec<f64> = x.column(c).into_iter().filter(|v| !v.is_nan()).collect();
            let fill = match prep.impute {
                None => None,
                Some(Impute::Mean | Impute::IterativeLinear) => mean(observed.iter().copied()),
                Some(Impute::Median) => median(observed),
            };
            if prep.impute.is_some() && fill.is_none() {
                return Err(MlError::Data(format!("feature '{name}' has no non-null value in the training data to impute from")));
            }
            if let Some(f) = fill {
                for &r in &missing[c] {
                    x.set(r, c, f);
                }
            }
            fitted.push(FittedColumn { name: name.clone(), prep: *prep, fill, scale: None });
        }
        let iterative: Vec<usize> = (0..x.cols)
            .filter(|&c| cols[c].1.impute == Some(Impute::IterativeLinear) && !missing[c].is_empty() && x.cols > 1)
            .collect();
        let mut steps = Vec::new();
        for _ in 0..if iterative.is_empty() { 0 } else { ITERATIVE_ROUNDS } {
            for &c in &iterative {
                let observed: Vec<usize> = (0..x.rows).filter(|r| missing[c].binary_search(r).is_err()).collect();
                let inputs = regression_inputs(&x, c, &observed);
                let y: Vec<f64> = observed.iter().map(|&r| x.get(r, c)).collect();
                let (coef, intercept) = least_squares(&inputs, &y);
                let step = ImputeStep { column: c, coef, intercept };
                apply_step(&mut x, &step, &missing[c]);
                steps.push(step);
            }
        }
        for (c, f) in fitted.iter_mut().enumerate() {
            if f.prep.scale == Some(Scale::Standard) {
                let m = mean(x.column(c).into_iter()).unwrap_or(0.0);
                let var = mean(x.column(c).into_iter().map(|v| (v - m) * (v - m))).unwrap_or(0.0);
                // A constant column keeps unit scale, as sklearn's StandardScaler does.
                let sd = if var > 0.0 { var.sqrt() } else { 1.0 };
                f.scale = Some((m, sd));
                for r in 0..x.rows {
                    x.set(r, c, (x.get(r, c) - m) / sd);
                }
            }
        }
        Ok((Preprocessor { columns: fitted, steps }, x))
    }

    /// Applies the fitted preprocessing to other rows (same column order).
    pub fn transform(&self, x: &Matrix) -> Result<Matrix, MlError> {
        let cols: Vec<(String, ColumnPrep)> = self.columns.iter().map(|c| (c.name.clone(), c.prep)).collect();
        let mut x = x.clone();
        transform_and_check(&cols, &mut x)?;
        let missing: Vec<Vec<usize>> = (0..x.cols).map(|c| (0..x.rows).filter(|&r| x.get(r, c).is_nan()).collect()).collect();
        for (c, f) in self.columns.iter().enumerate() {
            if let Some(fill) = f.fill {
                for &r in &missing[c] {
                    x.set(r, c, fill);
                }
            }
        }
        for step in &self.steps {
            apply_step(&mut x, step, &missing[step.column]);
        }
        for (c, f) in self.columns.iter().enumerate() {
            if let Some((m, sd)) = f.scale {
                for r in 0..x.rows {
                    x.set(r, c, (x.get(r, c) - m) / sd);
                }
            }
        }
        Ok(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prep(impute: Option<Impute>, transform: Transform, scale: bool) -> ColumnPrep {
        ColumnPrep { impute, transform, scale: scale.then_some(Scale::Standard) }
    }

    #[test]
    fn mean_median_scale_and_transform() {
        let nan = f64::NAN;
        let x = Matrix { rows: 4, cols: 2, data: vec![1.0, 4.0, 2.0, nan, 3.0, 16.0, nan, 100.0] };
        let names = vec!["a".to_string(), "b".to_string()];
        let preps = [prep(Some(Impute::Mean), Transform::None, true), prep(Some(Impute::Median), Transform::Sqrt, false)];
        let (p, out) = Preprocessor::fit_transform(&names, &preps, &x).unwrap();
        assert_eq!(p.columns[0].fill, Some(2.0));
        assert_eq!(p.columns[1].fill, Some(4.0)); // median of sqrt values 2, 4, 10
        let (m, sd) = p.columns[0].scale.unwrap();
        assert_eq!(m, 2.0);
        assert!((sd - (0.5f64).sqrt()).abs() < 1e-12);
        assert_eq!(out.get(1, 1), 4.0);
        assert_eq!(out.get(3, 0), 0.0);
        // New rows reuse the training statistics.
        let t = p.transform(&Matrix { rows: 1, cols: 2, data: vec![nan, 9.0] }).unwrap();
        assert_eq!(t.data, vec![0.0, 3.0]);
        let e = p.transform(&Matrix { rows: 1, cols: 2, data: vec![1.0, -1.0] }).unwrap_err().to_string();
        assert!(e.contains("'b'") && e.contains("sqrt"), "{e}");
    }

    #[test]
    fn nulls_without_impute_are_an_error() {
        let x = Matrix { rows: 2, cols: 1, data: vec![1.0, f64::NAN] };
        let e = Preprocessor::fit_transform(&["a".into()], &[ColumnPrep::default()], &x).unwrap_err().to_string();
        assert!(e.contains("'a' is null at row 2"), "{e}");
    }

    #[test]
    fn iterative_imputation_recovers_linear_relation() {
        // b = 2a + 1 exactly; every fourth b is missing.
        let n = 40;
        let mut data = Vec::new();
        for i in 0..n {
            let a = i as f64;
            data.push(a);
            data.push(if i % 4 == 0 { f64::NAN } else { 2.0 * a + 1.0 });
        }
        let x = Matrix { rows: n, cols: 2, data };
        let preps = [prep(None, Transform::None, false), prep(Some(Impute::IterativeLinear), Transform::None, false)];
        let (p, out) = Preprocessor::fit_transform(&["a".into(), "b".into()], &preps, &x).unwrap();
        for r in (0..n).step_by(4) {
            assert!((out.get(r, 1) - (2.0 * r as f64 + 1.0)).abs() < 1e-6, "row {r}: {}", out.get(r, 1));
        }
        let t = p.transform(&Matrix { rows: 1, cols: 2, data: vec![100.0, f64::NAN] }).unwrap();
        assert!((t.get(0, 1) - 201.0).abs() < 1e-6);
    }

    #[test]
    fn target_transform_round_trips() {
        for t in [Transform::None, Transform::Sqrt, Transform::Log] {
            let y = transform_target(t, "y", &[0.0, 2.5, 100.0]).unwrap();
            let back: Vec<f64> = y.iter().map(|&v| inverse(t, v)).collect();
            for (a, b) in back.iter().zip([0.0, 2.5, 100.0]) {
                assert!((a - b).abs() < 1e-9);
            }
        }
        assert!(transform_target(Transform::Sqrt, "y", &[-1.0]).is_err());
    }
}
