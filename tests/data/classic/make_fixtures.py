"""Writes the classic-model fixtures (spec/CLASSIC.md) for the C++ reader's tests.

Run with Debian's python3 and the installed package:

    PYTHONPATH=/tmp/site-sklearn /usr/bin/python3 tests/data/classic/make_fixtures.py

For every estimator kind and every dataset scikit-learn ships (iris, digits,
wine, breast_cancer for classification; diabetes for regression) it fits the
estimator on the whole dataset and writes, next to this script:

- ``<name>.safetensors``: the model, by ``safeweights.sklearn.save``;
- ``<name>.X.npy``: float64 [50, F], the dataset's first 50 rows;
- ``<name>.predict.npy``: ``predict(X)`` (classifiers, regressors and pipelines ending in one);
- ``<name>.proba.npy``: ``predict_proba(X)`` (classifiers);
- ``<name>.transform.npy``: ``transform(X)`` (scalers).

``<name>`` is ``<estimator>_<dataset>``. Everything is seeded, so a rerun with
the same scikit-learn writes the same files. Forests and boosting are kept
small (few trees, limited depth) so that all files stay well under 3 MB.
"""

import pathlib
import warnings

import numpy as np
from sklearn import datasets
from sklearn.ensemble import (GradientBoostingClassifier, GradientBoostingRegressor, RandomForestClassifier,
                              RandomForestRegressor)
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

import safeweights.sklearn

HERE = pathlib.Path(__file__).resolve().parent
CLASSIFICATION = ("iris", "digits", "wine", "breast_cancer")
REGRESSION = ("diabetes",)
ROWS = 50


def classifiers():
    """(name, factory) of every classifier kind, factories returning unfitted estimators."""
    return [
        ("standard_scaler", StandardScaler),
        ("minmax_scaler", MinMaxScaler),
        ("logistic_regression", lambda: LogisticRegression(max_iter=5000)),
        ("logistic_regression_ovr", lambda: LogisticRegression(multi_class="ovr", max_iter=5000)),
        ("logistic_regression_multinomial", lambda: LogisticRegression(multi_class="multinomial", max_iter=5000)),
        ("decision_tree", lambda: DecisionTreeClassifier(max_depth=8, random_state=0)),
        ("random_forest", lambda: RandomForestClassifier(n_estimators=10, max_depth=6, random_state=0)),
        ("gradient_boosting", lambda: GradientBoostingClassifier(n_estimators=10, max_depth=3, random_state=0)),
        ("pipeline_standard_logistic", lambda: Pipeline([("scale", StandardScaler()),
                                                         ("model", LogisticRegression(max_iter=5000))])),
        ("pipeline_minmax_forest", lambda: Pipeline([
            ("scale", MinMaxScaler(feature_range=(-1, 1), clip=True)),
            ("model", RandomForestClassifier(n_estimators=10, max_depth=6, random_state=0))])),
    ]


def regressors():
    """(name, factory) of every regressor kind."""
    return [
        ("standard_scaler", StandardScaler),
        ("minmax_scaler", MinMaxScaler),
        ("linear_regression", LinearRegression),
        ("ridge", lambda: Ridge(alpha=0.5)),
        ("decision_tree", lambda: DecisionTreeRegressor(max_depth=8, random_state=0)),
        ("random_forest", lambda: RandomForestRegressor(n_estimators=10, max_depth=6, random_state=0)),
        ("gradient_boosting", lambda: GradientBoostingRegressor(n_estimators=20, max_depth=3, random_state=0)),
        ("gradient_boosting_huber", lambda: GradientBoostingRegressor(loss="huber", n_estimators=20, max_depth=3,
                                                                      random_state=0)),
        ("pipeline_standard_ridge", lambda: Pipeline([("scale", StandardScaler()), ("model", Ridge())])),
        ("pipeline_minmax_forest", lambda: Pipeline([
            ("scale", MinMaxScaler()),
            ("model", RandomForestRegressor(n_estimators=10, max_depth=6, random_state=0))])),
    ]


def load_dataset(name):
    """(X float64, y) of one of scikit-learn's bundled datasets (no download)."""
    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    return np.asarray(X, dtype=np.float64), y


def main():
    written = []
    for dataset in CLASSIFICATION + REGRESSION:
        X, y = load_dataset(dataset)
        kinds = classifiers() if dataset in CLASSIFICATION else regressors()
        for kind, factory in kinds:
            name = f"{kind}_{dataset}"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model = factory().fit(X, y)
            safeweights.sklearn.save(model, HERE / f"{name}.safetensors")
            rows = np.ascontiguousarray(X[:ROWS])
            np.save(HERE / f"{name}.X.npy", rows)
            if hasattr(model, "transform"):
                np.save(HERE / f"{name}.transform.npy", np.asarray(model.transform(rows), dtype=np.float64))
            else:
                np.save(HERE / f"{name}.predict.npy", model.predict(rows))
            if hasattr(model, "predict_proba"):
                np.save(HERE / f"{name}.proba.npy", model.predict_proba(rows))
            written.append(name)
    total = sum(p.stat().st_size for p in HERE.iterdir() if p.suffix in (".safetensors", ".npy"))
    print(f"make_fixtures: {len(written)} models, {total / 1e6:.2f} MB in {HERE}")


if __name__ == "__main__":
    main()
