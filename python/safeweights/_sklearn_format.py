"""The facts of spec/CLASSIC.md that safeweights.sklearn's save and load share.

The rules a file must follow (C4) are not here: load() has the C++ core check
them (_core.check_classic_model, classic/model_rules.hpp), on the same bytes
it then rebuilds from, so Python and C++ refuse the same files for the same
reasons.
"""

import numpy as np

FORMAT = "safeweights.sklearn"
FORMAT_VERSION = 1
METADATA_KEY = "safeweights.sklearn"
RESERVED_PREFIX = "safeweights."

_TRANSFORMERS = ("StandardScaler", "MinMaxScaler")
_LINEAR_REGRESSORS = ("LinearRegression", "Ridge")
_SINGLE_TREES = ("DecisionTreeClassifier", "DecisionTreeRegressor")
_FORESTS = ("RandomForestClassifier", "RandomForestRegressor")
_BOOSTING = ("GradientBoostingClassifier", "GradientBoostingRegressor")
_REGRESSION_LOSSES = ("squared_error", "absolute_error", "huber", "quantile")

# The per-node tensors of spec/CLASSIC.md C3 (`trees.<name>`) and their dtypes.
_TREE_FIELDS = (
    ("children_left", np.int64), ("children_right", np.int64), ("feature", np.int64),
    ("threshold", np.float64), ("value", np.float64), ("impurity", np.float64),
    ("n_node_samples", np.int64), ("weighted_n_node_samples", np.float64),
)


_ALLOWED_NAMES = ("StandardScaler", "MinMaxScaler", "LinearRegression", "Ridge", "LogisticRegression",
                  "DecisionTreeClassifier", "DecisionTreeRegressor", "RandomForestClassifier",
                  "RandomForestRegressor", "GradientBoostingClassifier", "GradientBoostingRegressor", "Pipeline")


def _resolved_multi_class(multi_class, solver, count):
    """"ovr" or "multinomial", as LogisticRegression.predict_proba of scikit-learn 1.2 resolves it."""
    ovr = multi_class in ("ovr", "warn") or (
        multi_class == "auto" and (count <= 2 or solver in ("liblinear", "newton-cholesky")))
    return "ovr" if ovr else "multinomial"
