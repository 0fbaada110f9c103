#!/usr/bin/env python3
"""Classic models: C++ (classic::model, bench-classic) beside scikit-learn on the
same fixtures and rows, per sample, at batch 1 and batch 1000.

    PYTHONPATH=SITE /usr/bin/python3 bench/classic_compare.py BUILD_DIR
    (bench-classic built in BUILD_DIR/bench; SITE: the installed package, e.g.
    build/python-site after scripts/test)

Each model is fitted here, saved with safeweights.sklearn.save for the C++
side, and scikit-learn's own object is timed: predict_proba (classifiers),
predict (regressors) or transform. The fixtures' small models (as
tests/data/classic/make_fixtures.py makes them) and the sizes people use
(scikit-learn's defaults: 100 trees, grown to the end for forests). Both sides get the same 1000 rows: the dataset's rows drawn at
random with noise of 5% of each feature's deviation (so that no branch
predictor learns a short repeated sequence), written to a temporary .npy. Prints a table and keeps
it in bench/results/classic-latest.txt. Timings are reported, never asserted.
"""
import pathlib
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import sklearn
from sklearn import datasets
from sklearn.ensemble import (GradientBoostingClassifier, GradientBoostingRegressor, RandomForestClassifier,
                              RandomForestRegressor)
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.tree import DecisionTreeClassifier

ROOT = pathlib.Path(__file__).resolve().parent.parent
# name: (dataset, factory).
MODELS = {
    "decision_tree_digits": ("digits", lambda: DecisionTreeClassifier(max_depth=8, random_state=0)),
    "random_forest_digits": ("digits", lambda: RandomForestClassifier(n_estimators=10, max_depth=6, random_state=0)),
    "gradient_boosting_digits": ("digits", lambda: GradientBoostingClassifier(n_estimators=10, max_depth=3,
                                                                              random_state=0)),
    "logistic_regression_digits": ("digits", lambda: LogisticRegression(max_iter=5000)),
    "pipeline_standard_logistic_digits": ("digits", lambda: Pipeline([("scale", StandardScaler()),
                                                                      ("model", LogisticRegression(max_iter=5000))])),
    "gradient_boosting_diabetes": ("diabetes", lambda: GradientBoostingRegressor(n_estimators=20, max_depth=3,
                                                                                 random_state=0)),
    "pipeline_minmax_forest_diabetes": ("diabetes", lambda: Pipeline([
        ("scale", MinMaxScaler()), ("model", RandomForestRegressor(n_estimators=10, max_depth=6, random_state=0))])),
    "standard_scaler_digits": ("digits", StandardScaler),
    "random_forest_100_digits": ("digits", lambda: RandomForestClassifier(random_state=0)),
    "random_forest_100_diabetes": ("diabetes", lambda: RandomForestRegressor(random_state=0)),
    "gradient_boosting_100_breast_cancer": ("breast_cancer", lambda: GradientBoostingClassifier(random_state=0)),
    "gradient_boosting_100_digits": ("digits", lambda: GradientBoostingClassifier(random_state=0)),
}


def ns_per_sample(fn, x, batch):
    """Median of 7 repetitions of calls on `batch` rows, each repetition >= 0.2 s."""
    reps = []
    for _ in range(7):
        samples, t0 = 0, time.perf_counter()
        while True:
            for first in range(0, len(x) - batch + 1, batch):
                fn(x[first:first + batch])
            samples += len(x) // batch * batch
            elapsed = time.perf_counter() - t0
            if elapsed >= 0.2:
                break
        reps.append(elapsed * 1e9 / samples)
    return sorted(reps)[len(reps) // 2]


def main():
    import safeweights.sklearn

    build = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "build")
    rng = np.random.default_rng(0)
    inputs, models = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        args = []
        for name, (dataset, factory) in MODELS.items():
            X, y = getattr(datasets, f"load_{dataset}")(return_X_y=True)
            X = np.asarray(X, dtype=np.float64)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                models[name] = factory().fit(X, y)
            model_path = pathlib.Path(tmp) / f"{name}.safetensors"
            safeweights.sklearn.save(models[name], model_path)
            rows = X[rng.integers(0, len(X), 1000)] + rng.normal(size=(1000, X.shape[1])) * 0.05 * X.std(axis=0)
            inputs[name] = np.ascontiguousarray(rows)
            np.save(pathlib.Path(tmp) / f"{name}.npy", inputs[name])
            args += [str(model_path), str(pathlib.Path(tmp) / f"{name}.npy")]
        out = subprocess.run([str(build / "bench" / "bench-classic")] + args, check=True, capture_output=True,
                             text=True).stdout
    cpp = {}
    for line in out.splitlines():
        path, batch, ns = line.split()
        cpp[pathlib.Path(path).stem, int(batch)] = float(ns)
    lines = [f"scikit-learn {sklearn.__version__}, numpy {np.__version__}; ns per sample, median of 7",
             "", "| model | batch | C++ classic | scikit-learn | speed-up |", "|---|---|---|---|---|"]
    for name, model in models.items():
        x = inputs[name]
        fn = (model.predict_proba if hasattr(model, "predict_proba")
              else model.transform if hasattr(model, "transform") else model.predict)
        for batch in (1, 1000):
            theirs = ns_per_sample(fn, x, batch)
            ours = cpp[name, batch]
            lines.append(f"| {name} | {batch} | {ours:,.0f} | {theirs:,.0f} | {theirs / ours:,.1f}x |")
    text = "\n".join(lines) + "\n"
    print(text, end="")
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "classic-latest.txt").write_text(text)


if __name__ == "__main__":
    main()
