//! Estimators: linear regression (least squares), random forest and gradient
//! boosting regressors on our own CART trees. Trees split on histogram bins
//! (at most 256 per feature): exact for features with few distinct values,
//! quantile cut points otherwise, which keeps a split search linear in the
//! node's rows.

use serde::{Deserialize, Serialize};

use super::dataset::{Matrix, Rng};
use super::spec::{BoostingParams, Estimator, ForestParams};

/// Least squares with intercept: returns (coefficients, intercept). Solved
/// through the normal equations of centred data with a tiny ridge (relative
/// to the diagonal) so that collinear or constant columns stay solvable.
pub fn least_squares(x: &Matrix, y: &[f64]) -> (Vec<f64>, f64) {
    let (n, p) = (x.rows, x.cols);
    if n == 0 {
        return (vec![0.0; p], 0.0);
    }
    let xm: Vec<f64> = (0..p).map(|c| (0..n).map(|r| x.get(r, c)).sum::<f64>() / n as f64).collect();
    let ym = y.iter().sum::<f64>() / n as f64;
    let mut a = vec![0.0; p * p];
    let mut b = vec![0.0; p];
    let mut row = vec![0.0; p];
    for r in 0..n {
        for c in 0..p {
            row[c] = x.get(r, c) - xm[c];
        }
        let yr = y[r] - ym;
        for i in 0..p {
            b[i] += row[i] * yr;
            for j in 0..=i {
                a[i * p + j] += row[i] * row[j];
            }
        }
    }
    for i in 0..p {
        for j in 0..i {
            a[j * p + i] = a[i * p + j];
        }
    }
    let scale = (0..p).map(|i| a[i * p + i]).fold(0.0f64, f64::max).max(f64::MIN_POSITIVE);
    let mut ridge = 1e-12 * scale;
    let coef = loop {
        let mut m = a.clone();
        for i in 0..p {
            m[i * p + i] += ridge;
        }
        if let Some(c) = cholesky_solve(&mut m, &b, p) {
            break c;
        }
        ridge *= 100.0;
    };
    let intercept = ym - coef.iter().zip(&xm).map(|(c, m)| c * m).sum::<f64>();
    (coef, intercept)
}

/// Solves m·x = b for symmetric positive definite m (overwritten by its
/// Cholesky factor); `None` when m is not positive definite.
fn cholesky_solve(m: &mut [f64], b: &[f64], p: usize) -> Option<Vec<f64>> {
    for j in 0..p {
        let mut d = m[j * p + j];
        for k in 0..j {
            d -= m[j * p + k] * m[j * p + k];
        }
        if !(d > 0.0) || !d.is_finite() {
            return None;
        }
        let d = d.sqrt();
        m[j * p + j] = d;
        for i in j + 1..p {
            let mut s = m[i * p + j];
            for k in 0..j {
                s -= m[i * p + k] * m[j * p + k];
            }
            m[i * p + j] = s / d;
        }
    }
    let mut z = vec![0.0; p];
    for i in 0..p {
        let mut s = b[i];
        for k in 0..i {
            s -= m[i * p + k] * z[k];
        }
        z[i] = s / m[i * p + i];
    }
    for i in (0..p).rev() {
        let mut s = z[i];
        for k in i + 1..p {
            s -= m[k * p + i] * z[k];
        }
        z[i] = s / m[i * p + i];
    }
    Some(z)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearModel {
    pub coef: Vec<f64>,
    pub intercept: f64,
}

const LEAF: u32 = u32::MAX;

/// One tree node, `(feature, left, value)`: a leaf when `feature == LEAF`,
/// `value` then being its prediction; otherwise rows with
/// x[feature] <= value go to `left` and the others to `left + 1` (children
/// are allocated in pairs). 16 bytes, so a traversal touches one cache line
/// per level. Serialised compactly, as most nodes of a deep tree are
/// leaves: a leaf as its value, a split as `[feature, left, threshold]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(into = "NodeRepr", from = "NodeRepr")]
pub struct Node(pub u32, pub u32, pub f64);

#[derive(Clone, Copy, Serialize, Deserialize)]
#[serde(untagged)]
enum NodeRepr {
    Leaf(f64),
    Split(u32, u32, f64),
}

impl From<Node> for NodeRepr {
    fn from(n: Node) -> NodeRepr {
        if n.0 == LEAF { NodeRepr::Leaf(n.2) } else { NodeRepr::Split(n.0, n.1, n.2) }
    }
}

impl From<NodeRepr> for Node {
    fn from(r: NodeRepr) -> Node {
        match r {
            NodeRepr::Leaf(v) => Node(LEAF, 0, v),
            NodeRepr::Split(f, l, t) => Node(f, l, t),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    pub nodes: Vec<Node>,
}

impl Tree {
    pub fn predict_row(&self, row: &[f64]) -> f64 {
        let mut node = self.nodes[0];
        while node.0 != LEAF {
            // NaN compares false and goes right; preprocessing leaves none.
            let next = if row[node.0 as usize] <= node.2 { node.1 } else { node.1 + 1 };
            node = self.nodes[next as usize];
        }
        node.2
    }
    fn push(&mut self) -> usize {
        self.nodes.push(Node(LEAF, 0, 0.0));
        self.nodes.len() - 1
    }
}

/// Features as bin numbers, column-major, with each column's cut points:
/// bin b holds values in (edges[b-1], edges[b]].
struct Binned {
    rows: usize,
    bins: Vec<u8>,
    edges: Vec<Vec<f64>>,
}

fn bin_matrix(x: &Matrix) -> Binned {
    let mut bins = vec![0u8; x.rows * x.cols];
    let mut edges = Vec::with_capacity(x.cols);
    for c in 0..x.cols {
        let mut v: Vec<f64> = x.column(c).into_iter().filter(|v| !v.is_nan()).collect();
        v.sort_by(f64::total_cmp);
        let mut uniq = v.clone();
        uniq.dedup();
        let e: Vec<f64> = if uniq.len() <= 256 {
            // Midpoints between distinct values: the thresholds an exact
            // CART would choose.
            uniq.windows(2).map(|w| w[0] + (w[1] - w[0]) / 2.0).collect()
        } else {
            let mut e: Vec<f64> = (1..256).map(|k| v[k * v.len() / 256]).collect();
            e.dedup();
            e.pop_if(|last| *last >= uniq[uniq.len() - 1]);
            e
        };
        for r in 0..x.rows {
            let val = x.get(r, c);
            bins[c * x.rows + r] = e.partition_point(|&edge| edge < val) as u8;
        }
        edges.push(e);
    }
    Binned { rows: x.rows, bins, edges }
}

struct TreeParams {
    max_depth: usize,
    min_samples_leaf: usize,
    max_features: usize,
}

/// Grows one tree on the rows `idx` (repeats allowed: a bootstrap sample).
fn grow(b: &Binned, y: &[f64], mut idx: Vec<usize>, p: &TreeParams, rng: &mut Rng) -> Tree {
    let mut tree = Tree { nodes: vec![] };
    let n_features = b.edges.len();
    let mut features: Vec<usize> = (0..n_features).collect();
    let mut count = [0usize; 256];
    let mut sum = [0f64; 256];
    let root = tree.push();
    let mut stack = vec![(root, 0usize, idx.len(), 0usize)];
    while let Some((node, start, end, depth)) = stack.pop() {
        let rows = &idx[start..end];
        let n = rows.len();
        let total: f64 = rows.iter().map(|&r| y[r]).sum();
        tree.nodes[node].2 = total / n as f64;
        if depth >= p.max_depth || n < 2 * p.min_samples_leaf || n < 2 {
            continue;
        }
        // Partial Fisher-Yates: the first max_features entries are this
        // node's random feature subset.
        for i in 0..p.max_features.min(n_features) {
            let j = i + rng.below(n_features - i);
            features.swap(i, j);
        }
        let parent_score = total * total / n as f64;
        let mut best: Option<(f64, usize, usize)> = None;
        for &f in &features[..p.max_features.min(n_features)] {
            let nb = b.edges[f].len() + 1;
            if nb < 2 {
                continue;
            }
            // `count` and `sum` are all zero here; only the bins between the
            // node's lowest and highest are scanned and reset, which keeps
            // the many small nodes of a deep tree cheap.
            let col = &b.bins[f * b.rows..(f + 1) * b.rows];
            let (mut lo, mut hi) = (usize::MAX, 0usize);
            for &r in rows {
                let bin = col[r] as usize;
                count[bin] += 1;
                sum[bin] += y[r];
                lo = lo.min(bin);
                hi = hi.max(bin);
            }
            let (mut lc, mut ls) = (0usize, 0f64);
            for bin in lo..hi {
                lc += count[bin];
                ls += sum[bin];
                let rc = n - lc;
                if lc < p.min_samples_leaf {
                    continue;
                }
                if rc < p.min_samples_leaf {
                    break;
                }
                if count[bin] == 0 {
                    // Same partition as the previous bin; keep the lower cut.
                    continue;
                }
                let rs = total - ls;
                let score = ls * ls / lc as f64 + rs * rs / rc as f64;
                if best.is_none_or(|(s, _, _)| score > s) {
                    best = Some((score, f, bin));
                }
            }
            count[lo..=hi].fill(0);
            sum[lo..=hi].fill(0.0);
        }
        let Some((score, f, bin)) = best else { continue };
        if score <= parent_score + 1e-12 * parent_score.abs() {
            continue;
        }
        let col = &b.bins[f * b.rows..(f + 1) * b.rows];
        let slice = &mut idx[start..end];
        let mut mid = 0;
        for i in 0..slice.len() {
            if col[slice[i]] as usize <= bin {
                slice.swap(i, mid);
                mid += 1;
            }
        }
        let left = tree.push();
        let right = tree.push();
        tree.nodes[node] = Node(f as u32, left as u32, b.edges[f][bin]);
        stack.push((right, start + mid, end, depth + 1));
        stack.push((left, start, start + mid, depth + 1));
    }
    tree
}

/// Seed of tree `t`: independent of the thread that grows it, so a forest
/// is the same on any number of cores.
fn tree_seed(seed: u64, t: usize) -> u64 {
    Rng::new(seed.wrapping_add((t as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))).next_u64()
}

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forest {
    pub trees: Vec<Tree>,
}

fn fit_forest(x: &Matrix, y: &[f64], p: &ForestParams) -> Forest {
    let b = bin_matrix(x);
    let tp = TreeParams {
        max_depth: p.max_depth.unwrap_or(usize::MAX),
        min_samples_leaf: p.min_samples_leaf.max(1),
        max_features: p.max_features.resolve(x.cols),
    };
    let n_threads = threads().min(p.n_trees).max(1);
    let mut slots: Vec<Option<Tree>> = vec![None; p.n_trees];
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n_threads)
            .map(|w| {
                let (b, tp) = (&b, &tp);
                s.spawn(move || {
                    (w..p.n_trees)
                        .step_by(n_threads)
                        .map(|t| {
                            let mut rng = Rng::new(tree_seed(p.seed, t));
                            let idx: Vec<usize> = (0..x.rows).map(|_| rng.below(x.rows)).collect();
                            (t, grow(b, y, idx, tp, &mut rng))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            // A panic in a worker is a bug in this module, not bad user data.
            for (t, tree) in h.join().expect("forest worker panicked") {
                slots[t] = Some(tree);
            }
        }
    });
    Forest { trees: slots.into_iter().flatten().collect() }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Boosting {
    pub init: f64,
    pub learning_rate: f64,
    pub trees: Vec<Tree>,
}

fn fit_boosting(x: &Matrix, y: &[f64], p: &BoostingParams) -> Boosting {
    let b = bin_matrix(x);
    let tp = TreeParams { max_depth: p.max_depth, min_samples_leaf: p.min_samples_leaf.max(1), max_features: x.cols };
    let init = y.iter().sum::<f64>() / y.len().max(1) as f64;
    let mut f = vec![init; y.len()];
    let mut rng = Rng::new(p.seed);
    let n_sub = ((p.subsample * x.rows as f64).round() as usize).clamp(1, x.rows.max(1));
    let mut trees = Vec::with_capacity(p.n_trees);
    let mut all: Vec<usize> = (0..x.rows).collect();
    for _ in 0..p.n_trees {
        let residual: Vec<f64> = y.iter().zip(&f).map(|(y, f)| y - f).collect();
        let idx = if n_sub < x.rows {
            rng.shuffle(&mut all);
            all[..n_sub].to_vec()
        } else {
            all.clone()
        };
        let tree = grow(&b, &residual, idx, &tp, &mut rng);
        for (r, fr) in f.iter_mut().enumerate() {
            *fr += p.learning_rate * tree.predict_row(x.row(r));
        }
        trees.push(tree);
    }
    Boosting { init, learning_rate: p.learning_rate, trees }
}

/// A fitted estimator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Model {
    LinearRegression(LinearModel),
    RandomForest(Forest),
    GradientBoosting(Boosting),
}

impl Model {
    /// Fits `est` on preprocessed features `x` (no NaN) and target `y`.
    pub fn fit(est: &Estimator, x: &Matrix, y: &[f64]) -> Model {
        match est {
            Estimator::LinearRegression => {
                let (coef, intercept) = least_squares(x, y);
                Model::LinearRegression(LinearModel { coef, intercept })
            }
            Estimator::RandomForest(p) => Model::RandomForest(fit_forest(x, y, p)),
            Estimator::GradientBoosting(p) => Model::GradientBoosting(fit_boosting(x, y, p)),
        }
    }

    pub fn n_features(&self) -> Option<usize> {
        match self {
            Model::LinearRegression(m) => Some(m.coef.len()),
            _ => None,
        }
    }

    /// Predictions for rows `start..start + out.len()` of `x`. Trees are the
    /// outer loop so that one tree stays in cache while it scores the rows.
    fn predict_into(&self, x: &Matrix, start: usize, out: &mut [f64]) {
        let rows = start..start + out.len();
        match self {
            Model::LinearRegression(m) => {
                for (o, r) in out.iter_mut().zip(rows) {
                    *o = m.intercept + m.coef.iter().zip(x.row(r)).map(|(c, v)| c * v).sum::<f64>();
                }
            }
            Model::RandomForest(f) => {
                out.fill(0.0);
                for t in &f.trees {
                    for (o, r) in out.iter_mut().zip(rows.clone()) {
                        *o += t.predict_row(x.row(r));
                    }
                }
                let n = f.trees.len().max(1) as f64;
                out.iter_mut().for_each(|o| *o /= n);
            }
            Model::GradientBoosting(g) => {
                out.fill(0.0);
                for t in &g.trees {
                    for (o, r) in out.iter_mut().zip(rows.clone()) {
                        *o += t.predict_row(x.row(r));
                    }
                }
                out.iter_mut().for_each(|o| *o = g.init + g.learning_rate * *o);
            }
        }
    }

    /// Predictions for every row, computed on all cores in row chunks.
    pub fn predict(&self, x: &Matrix) -> Vec<f64> {
        let mut out = vec![0.0; x.rows];
        let chunk = x.rows.div_ceil(threads()).max(1024);
        std::thread::scope(|s| {
            for (k, part) in out.chunks_mut(chunk).enumerate() {
                s.spawn(move || self.predict_into(x, k * chunk, part));
            }
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_squares_exact_and_collinear() {
        let x = Matrix { rows: 4, cols: 2, data: vec![0.0, 1.0, 1.0, 0.0, 2.0, 5.0, 3.0, 1.0] };
        let y: Vec<f64> = (0..4).map(|r| 3.0 * x.get(r, 0) - 2.0 * x.get(r, 1) + 7.0).collect();
        let (c, i) = least_squares(&x, &y);
        assert!((c[0] - 3.0).abs() < 1e-6 && (c[1] + 2.0).abs() < 1e-6 && (i - 7.0).abs() < 1e-6, "{c:?} {i}");
        // A duplicated column: still solvable, predictions still exact.
        let x2 = Matrix { rows: 3, cols: 2, data: vec![1.0, 1.0, 2.0, 2.0, 3.0, 3.0] };
        let (c, i) = least_squares(&x2, &[2.0, 4.0, 6.0]);
        assert!((c[0] + c[1] - 2.0).abs() < 1e-6 && i.abs() < 1e-6, "{c:?} {i}");
    }

    #[test]
    fn tree_fits_step_function_exactly() {
        let x = Matrix { rows: 6, cols: 1, data: vec![1.0, 2.0, 3.0, 10.0, 11.0, 12.0] };
        let y = [5.0, 5.0, 5.0, 9.0, 9.0, 9.0];
        let b = bin_matrix(&x);
        let p = TreeParams { max_depth: usize::MAX, min_samples_leaf: 1, max_features: 1 };
        let t = grow(&b, &y, (0..6).collect(), &p, &mut Rng::new(0));
        assert_eq!(t.nodes.len(), 3, "one split, two leaves");
        assert_eq!(t.nodes[0].2, 6.5, "midpoint threshold");
        assert_eq!(t.predict_row(&[0.0]), 5.0);
        assert_eq!(t.predict_row(&[100.0]), 9.0);
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, r#"{"nodes":[[0,1,6.5],5.0,9.0]}"#);
        assert_eq!(serde_json::from_str::<Tree>(&json).unwrap(), t);
    }

    #[test]
    fn many_distinct_values_use_quantile_bins() {
        let x = Matrix { rows: 1000, cols: 1, data: (0..1000).map(|i| i as f64).collect() };
        let b = bin_matrix(&x);
        assert!(b.edges[0].len() <= 255 && b.edges[0].len() > 200);
        assert!(b.edges[0].windows(2).all(|w| w[0] < w[1]));
    }
}
