//! From query rows (JSON values, as `crate::adapter::QueryResult` holds them)
//! to a numeric feature matrix and target vector; seeded train/test split.

use serde_json::Value;

use super::MlError;

/// Row-major matrix of f64; missing values are NaN.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<f64>,
}

impl Matrix {
    pub fn new(rows: usize, cols: usize) -> Matrix {
        Matrix { rows, cols, data: vec![0.0; rows * cols] }
    }
    pub fn get(&self, r: usize, c: usize) -> f64 {
        self.data[r * self.cols + c]
    }
    pub fn set(&mut self, r: usize, c: usize, v: f64) {
        self.data[r * self.cols + c] = v;
    }
    pub fn row(&self, r: usize) -> &[f64] {
        &self.data[r * self.cols..(r + 1) * self.cols]
    }
    /// The rows at `idx`, in that order.
    pub fn select_rows(&self, idx: &[usize]) -> Matrix {
        let mut data = Vec::with_capacity(idx.len() * self.cols);
        for &i in idx {
            data.extend_from_slice(self.row(i));
        }
        Matrix { rows: idx.len(), cols: self.cols, data }
    }
    pub fn column(&self, c: usize) -> Vec<f64> {
        (0..self.rows).map(|r| self.get(r, c)).collect()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub feature_names: Vec<String>,
    pub x: Matrix,
    /// Present when a target column was asked for.
    pub y: Option<Vec<f64>>,
}

/// A JSON value as a number: numbers, booleans (1/0) and null (NaN). Strings
/// are refused rather than parsed, so that a VARCHAR column is reported
/// instead of silently coerced.
fn numeric(v: &Value) -> Option<f64> {
    match v {
        Value::Null => Some(f64::NAN),
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        _ => None,
    }
}

fn describe(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 40 { format!("{}…", s.chars().take(40).collect::<String>()) } else { s }
}

/// Builds the dataset of `features` (and `target`) from query output.
/// Row numbers in errors are 1-based, as a user counts them.
pub fn from_rows(columns: &[String], rows: &[Vec<Value>], features: &[String], target: Option<&str>) -> Result<Dataset, MlError> {
    let position = |name: &str| -> Result<usize, MlError> {
        columns.iter().position(|c| c.eq_ignore_ascii_case(name)).ok_or_else(|| {
            MlError::Data(format!("column '{name}' is not in the data; its columns are: {}", columns.join(", ")))
        })
    };
    let fpos = features.iter().map(|f| position(f)).collect::<Result<Vec<_>, _>>()?;
    let tpos = target.map(position).transpose()?;
    if rows.is_empty() {
        return Err(MlError::Data("the data has no rows".into()));
    }
    let mut x = Matrix::new(rows.len(), features.len());
    let mut y = tpos.map(|_| Vec::with_capacity(rows.len()));
    for (r, row) in rows.iter().enumerate() {
        if row.len() != columns.len() {
            return Err(MlError::Data(format!("row {} has {} values for {} columns", r + 1, row.len(), columns.len())));
        }
        for (c, &p) in fpos.iter().enumerate() {
            let v = numeric(&row[p]).ok_or_else(|| {
                MlError::Data(format!("feature '{}' is not numeric: row {} holds {}", features[c], r + 1, describe(&row[p])))
            })?;
            x.set(r, c, v);
        }
        if let (Some(p), Some(y), Some(t)) = (tpos, y.as_mut(), target) {
            let v = numeric(&row[p])
                .ok_or_else(|| MlError::Data(format!("target '{t}' is not numeric: row {} holds {}", r + 1, describe(&row[p]))))?;
            if v.is_nan() {
                return Err(MlError::Data(format!("target '{t}' is null at row {}; filter such rows with `where`", r + 1)));
            }
            y.push(v);
        }
    }
    Ok(Dataset { feature_names: features.to_vec(), x, y })
}

/// splitmix64: a small, well-mixed seeded generator, so that splits and
/// forests are reproducible without an external crate.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, n) (n > 0), by rejection-free multiply-shift; the bias
    /// is below 2^-32 for any n a dataset can have.
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() >> 32) * n as u64 >> 32) as usize
    }
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

/// Row indices of the train and test sets: a seeded shuffle, the test set
/// being the first ceil(test_size * n) rows (sklearn rounds the test size up).
pub fn train_test_split(n: usize, test_size: f64, seed: u64) -> Result<(Vec<usize>, Vec<usize>), MlError> {
    let n_test = (test_size * n as f64).ceil() as usize;
    if n_test == 0 || n_test >= n {
        return Err(MlError::Data(format!(
            "{n} rows cannot be split with test_size {test_size}: both sets need at least one row"
        )));
    }
    let mut idx: Vec<usize> = (0..n).collect();
    Rng::new(seed).shuffle(&mut idx);
    let train = idx.split_off(n_test);
    Ok((train, idx))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cols(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn builds_matrix_with_nan_for_null() {
        let rows = vec![vec![json!(1), json!(2.5), json!(true)], vec![json!(3), Value::Null, json!(false)]];
        let ds = from_rows(&cols(&["Y", "a", "b"]), &rows, &cols(&["a", "b"]), Some("y")).unwrap();
        assert_eq!(ds.x.row(0), &[2.5, 1.0]);
        assert!(ds.x.get(1, 0).is_nan());
        assert_eq!(ds.y, Some(vec![1.0, 3.0]));
    }

    #[test]
    fn errors_name_column_and_row() {
        let c = cols(&["y", "a"]);
        let rows = vec![vec![json!(1), json!(2)], vec![json!(1), json!("x")]];
        let e = from_rows(&c, &rows, &cols(&["a"]), Some("y")).unwrap_err().to_string();
        assert!(e.contains("'a'") && e.contains("row 2") && e.contains("\"x\""), "{e}");
        let e = from_rows(&c, &rows, &cols(&["zz"]), Some("y")).unwrap_err().to_string();
        assert!(e.contains("'zz'") && e.contains("y, a"), "{e}");
        let e = from_rows(&c, &[], &cols(&["a"]), Some("y")).unwrap_err().to_string();
        assert!(e.contains("no rows"), "{e}");
        let e = from_rows(&c, &[vec![Value::Null, json!(1)]], &cols(&["a"]), Some("y")).unwrap_err().to_string();
        assert!(e.contains("null at row 1"), "{e}");
    }

    #[test]
    fn split_is_seeded_and_partitions() {
        let (tr, te) = train_test_split(10, 0.25, 1).unwrap();
        assert_eq!((tr.len(), te.len()), (7, 3));
        let mut all: Vec<usize> = tr.iter().chain(&te).copied().collect();
        all.sort();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        assert_eq!(train_test_split(10, 0.25, 1).unwrap(), (tr.clone(), te.clone()));
        assert_ne!(train_test_split(10, 0.25, 2).unwrap().1, te);
        assert!(train_test_split(1, 0.2, 0).is_err());
    }
}
