#!/usr/bin/env python3
"""Golden ML results from scikit-learn for tests/ml.rs.

Writes tests/golden/ml/synthetic.csv (a deterministic synthetic data set:
Friedman #1-like target with 5% of x2 missing, correlated with x1) and
tests/golden/ml/sklearn.json (test-set metrics of sklearn pipelines fitted on
exactly the train/test split rdbt makes: the split below is a port of
rdbt's splitmix64 shuffle in src/ml/dataset.rs).

Run: pip install scikit-learn && python3 scripts/golden/ml.py
"""
import csv
import json
import math
import os
import random

import numpy as np
import sklearn
from sklearn.ensemble import RandomForestRegressor
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, SimpleImputer
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.compose import ColumnTransformer

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
OUT = os.path.join(ROOT, "tests", "golden", "ml")
M64 = (1 << 64) - 1
N = 2000
SEED = 42
TEST_SIZE = 0.2


class Rng:
    """rdbt's splitmix64 (src/ml/dataset.rs Rng)."""

    def __init__(self, seed):
        self.s = (seed ^ 0x5DEECE66D1CE4E5B) & M64

    def next_u64(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & M64
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return z ^ (z >> 31)

    def below(self, n):
        return ((self.next_u64() >> 32) * n) >> 32


def split(n, test_size, seed):
    n_test = math.ceil(test_size * n)
    idx = list(range(n))
    rng = Rng(seed)
    for i in range(n - 1, 0, -1):
        j = rng.below(i + 1)
        idx[i], idx[j] = idx[j], idx[i]
    return idx[n_test:], idx[:n_test]


def data():
    r = random.Random(7)
    rows = []
    for _ in range(N):
        x1, x3, x4, x5 = (r.random() for _ in range(4))
        x2 = 0.6 * x1 + 0.4 * r.random()
        y = 10 * math.sin(math.pi * x1 * x2) + 20 * (x3 - 0.5) ** 2 + 10 * x4 + 5 * x5 + r.gauss(0, 1) + 10
        x2_seen = None if r.random() < 0.05 else x2
        rows.append([round(v, 6) if v is not None else None for v in (x1, x2_seen, x3, x4, x5, y)])
    return rows


def metrics(y, p):
    mse = mean_squared_error(y, p)
    return {"r2": r2_score(y, p), "mse": mse, "rmse": math.sqrt(mse), "mae": mean_absolute_error(y, p)}


def main():
    os.makedirs(OUT, exist_ok=True)
    rows = data()
    with open(os.path.join(OUT, "synthetic.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["x1", "x2", "x3", "x4", "x5", "y"])
        for row in rows:
            w.writerow(["" if v is None else repr(v) for v in row])
    a = np.array([[np.nan if v is None else v for v in row] for row in rows])
    x, y = a[:, :5], a[:, 5]
    train, test = split(N, TEST_SIZE, SEED)
    xtr, xte, ytr, yte = x[train], x[test], y[train], y[test]
    out = {"sklearn_version": sklearn.__version__, "n": N, "test_size": TEST_SIZE, "split_seed": SEED,
           "test_rows_head": test[:5]}

    # linear: mean imputation, standard scaling, ordinary least squares.
    lin = make_pipeline(SimpleImputer(strategy="mean"), StandardScaler(), LinearRegression())
    lin.fit(xtr, ytr)
    out["linear_mean"] = metrics(yte, lin.predict(xte))

    # forest: sqrt on x3, iterative linear imputation, scaling, sqrt target,
    # 100 trees (the seed project's pipeline shape).
    sqrt_x3 = ColumnTransformer([("sqrt", FunctionTransformer(np.sqrt), [2])], remainder="passthrough")
    # ColumnTransformer moves x3 first; the order does not change the model.
    forest = make_pipeline(
        sqrt_x3,
        IterativeImputer(estimator=LinearRegression(), max_iter=10, random_state=0),
        StandardScaler(),
        RandomForestRegressor(n_estimators=100, random_state=0, n_jobs=-1),
    )
    forest.fit(xtr, np.sqrt(ytr))
    out["forest_iterative"] = metrics(yte, np.square(forest.predict(xte)))

    with open(os.path.join(OUT, "sklearn.json"), "w") as f:
        json.dump(out, f, indent=2, sort_keys=True)
        f.write("\n")
    print(json.dumps(out, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
