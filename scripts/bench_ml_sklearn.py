#!/usr/bin/env python3
"""The seed project's energy pipeline in scikit-learn, for examples/bench_ml.rs.

Usage: bench_ml_sklearn.py CSV [TREES]. The CSV holds the six features,
kilojoules and is_test (rdbt's 80/20 split), so both fit the same rows.
"""
import sys
import time

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestRegressor
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_squared_error, r2_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

path = sys.argv[1]
trees = int(sys.argv[2]) if len(sys.argv) > 2 else 100
a = np.genfromtxt(path, delimiter=",", skip_header=1)
x, y, is_test = a[:, :6], a[:, 6], a[:, 7] == 1
sqrt_elevation = ColumnTransformer([("sqrt", FunctionTransformer(np.sqrt), [2])], remainder="passthrough")
model = make_pipeline(
    sqrt_elevation,
    IterativeImputer(estimator=LinearRegression(), max_iter=10, random_state=42),
    StandardScaler(),
    RandomForestRegressor(n_estimators=trees, random_state=42, n_jobs=-1),
)
t = time.perf_counter()
model.fit(x[~is_test], np.sqrt(y[~is_test]))
fit = time.perf_counter() - t
t = time.perf_counter()
pred_all = model.predict(x)
predict = time.perf_counter() - t
p = np.square(pred_all[is_test])
print(
    f"sklearn rows={len(y):>7} trees={trees} fit={fit:.2f}s predict_all={predict:.2f}s ({len(y)} rows) "
    f"test_r2={r2_score(y[is_test], p):.4f} test_rmse={mean_squared_error(y[is_test], p) ** 0.5:.2f}"
)
