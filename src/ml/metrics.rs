//! Regression metrics, as sklearn defines them.

use serde::{Deserialize, Serialize};

use super::spec::Metric;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub r2: f64,
    pub mse: f64,
    pub rmse: f64,
    pub mae: f64,
    pub n: usize,
}

impl Metrics {
    pub fn get(&self, m: Metric) -> f64 {
        match m {
            Metric::R2 => self.r2,
            Metric::Mse => self.mse,
            Metric::Rmse => self.rmse,
            Metric::Mae => self.mae,
        }
    }
}

/// Coefficient of determination. A constant `actual` gives 1.0 for a perfect
/// prediction and 0.0 otherwise (sklearn's convention).
pub fn r2(actual: &[f64], predicted: &[f64]) -> f64 {
    let n = actual.len().max(1) as f64;
    let mean = actual.iter().sum::<f64>() / n;
    let ss_res: f64 = actual.iter().zip(predicted).map(|(a, p)| (a - p) * (a - p)).sum();
    let ss_tot: f64 = actual.iter().map(|a| (a - mean) * (a - mean)).sum();
    if ss_tot == 0.0 {
        return if ss_res == 0.0 { 1.0 } else { 0.0 };
    }
    1.0 - ss_res / ss_tot
}

pub fn mse(actual: &[f64], predicted: &[f64]) -> f64 {
    actual.iter().zip(predicted).map(|(a, p)| (a - p) * (a - p)).sum::<f64>() / actual.len().max(1) as f64
}

pub fn mae(actual: &[f64], predicted: &[f64]) -> f64 {
    actual.iter().zip(predicted).map(|(a, p)| (a - p).abs()).sum::<f64>() / actual.len().max(1) as f64
}

pub fn evaluate(actual: &[f64], predicted: &[f64]) -> Metrics {
    let m = mse(actual, predicted);
    Metrics { r2: r2(actual, predicted), mse: m, rmse: m.sqrt(), mae: mae(actual, predicted), n: actual.len() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // sklearn: r2_score([3, -0.5, 2, 7], [2.5, 0.0, 2, 8]) = 0.9486081370449679
        let (a, p) = ([3.0, -0.5, 2.0, 7.0], [2.5, 0.0, 2.0, 8.0]);
        let m = evaluate(&a, &p);
        assert!((m.r2 - 0.9486081370449679).abs() < 1e-12);
        assert_eq!(m.mse, 0.375);
        assert_eq!(m.mae, 0.5);
        assert!((m.rmse - 0.375f64.sqrt()).abs() < 1e-15);
        assert_eq!(r2(&[1.0, 1.0], &[1.0, 1.0]), 1.0);
        assert_eq!(r2(&[1.0, 1.0], &[1.0, 2.0]), 0.0);
    }
}
