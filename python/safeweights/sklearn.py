"""safeweights.sklearn: fitted scikit-learn estimators as safetensors files, without pickle.

``save(estimator, path, metadata=None)`` writes a fitted estimator's arrays as
tensors and a JSON description of them under one ``__metadata__`` key
(spec/CLASSIC.md). ``load(path)`` checks every rule of the spec, then rebuilds
the estimator from an explicit allow-list of scikit-learn classes: nothing in
the file is imported, unpickled or run. The types kept are StandardScaler,
MinMaxScaler, LinearRegression, Ridge, LogisticRegression, the decision trees,
random forests and gradient boosting (classifier and regressor), and Pipelines
of those; anything else raises ``UnsupportedModelError`` naming the type.
"""

import json
import math
import os
import warnings

import numpy as np

from . import _core
from ._errors import error
from ._open import safe_open
from .numpy import save_file

__all__ = ["save", "load"]

FORMAT = "safeweights.sklearn"
FORMAT_VERSION = 1
METADATA_KEY = "safeweights.sklearn"
RESERVED_PREFIX = "safeweights."

_TRANSFORMERS = ("StandardScaler", "MinMaxScaler")
_LINEAR_REGRESSORS = ("LinearRegression", "Ridge")
_SINGLE_TREES = ("DecisionTreeClassifier", "DecisionTreeRegressor")
_FORESTS = ("RandomForestClassifier", "RandomForestRegressor")
_BOOSTING = ("GradientBoostingClassifier", "GradientBoostingRegressor")
_TREE_TYPES = _SINGLE_TREES + _FORESTS + _BOOSTING
_CLASSIFIERS = ("LogisticRegression", "DecisionTreeClassifier", "RandomForestClassifier",
                "GradientBoostingClassifier")
_REGRESSION_LOSSES = ("squared_error", "absolute_error", "huber", "quantile")

# Every node field of spec/CLASSIC.md C3, in file order: (name, dtype).
_TREE_FIELDS = (
    ("children_left", np.int64), ("children_right", np.int64), ("feature", np.int64),
    ("threshold", np.float64), ("value", np.float64), ("impurity", np.float64),
    ("n_node_samples", np.int64), ("weighted_n_node_samples", np.float64),
)
# scikit-learn's node record field for each of ours (the record has no `value`: values are separate).
_NODE_RECORD_FIELDS = {
    "left_child": "children_left", "right_child": "children_right", "feature": "feature",
    "threshold": "threshold", "impurity": "impurity", "n_node_samples": "n_node_samples",
    "weighted_n_node_samples": "weighted_n_node_samples",
}
# Parameters scikit-learn wants as tuples (JSON gives lists back).
_TUPLE_PARAMS = {"MinMaxScaler": ("feature_range",)}


def _allow_list():
    """The only classes load() builds, by the name a file gives: imported here, never by the file's strings."""
    from sklearn.ensemble import (GradientBoostingClassifier, GradientBoostingRegressor, RandomForestClassifier,
                                  RandomForestRegressor)
    from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import MinMaxScaler, StandardScaler
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    return {
        "StandardScaler": StandardScaler, "MinMaxScaler": MinMaxScaler,
        "LinearRegression": LinearRegression, "Ridge": Ridge, "LogisticRegression": LogisticRegression,
        "DecisionTreeClassifier": DecisionTreeClassifier, "DecisionTreeRegressor": DecisionTreeRegressor,
        "RandomForestClassifier": RandomForestClassifier, "RandomForestRegressor": RandomForestRegressor,
        "GradientBoostingClassifier": GradientBoostingClassifier,
        "GradientBoostingRegressor": GradientBoostingRegressor,
        "Pipeline": Pipeline,
    }


# ---------------------------------------------------------------------------------------------------------------
# save


def save(estimator, path, metadata=None):
    """Writes the fitted ``estimator`` to ``path`` as safetensors (spec/CLASSIC.md), atomically.

    ``metadata`` is the user's str -> str map, stored beside the description;
    keys starting with ``safeweights.`` are reserved. Raises
    ``UnsupportedModelError`` for a type or option outside the allow-list and
    ``InvalidArgumentError`` for an estimator that is not fitted; nothing is
    written then.
    """
    path_name = os.fsdecode(os.fspath(path))
    user_metadata = _user_metadata(metadata, path_name)
    import sklearn

    tensors = {}
    root = _describe(estimator, "", path_name, tensors)
    description = {"format": FORMAT, "format_version": FORMAT_VERSION, "sklearn_version": sklearn.__version__,
                   "estimator": root}
    user_metadata[METADATA_KEY] = json.dumps(description, allow_nan=False, separators=(",", ":"))
    save_file(tensors, path_name, metadata=user_metadata)


def _user_metadata(metadata, path):
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise error("invalid_argument", f"{path}: metadata must be a dict of str to str, got {type(metadata).__name__}")
    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise error("invalid_argument", f"{path}: metadata must map str to str, got {key!r}: {value!r}")
        if key.startswith(RESERVED_PREFIX):
            raise error("invalid_argument", f"{path}: metadata key {key!r} is reserved (keys starting with "
                                            f"{RESERVED_PREFIX!r} belong to safeweights)")
    return dict(metadata)


def _type_name(estimator, path):
    """The allow-list name of ``estimator``'s exact class (a subclass may predict differently: refused)."""
    name = type(estimator).__name__
    allowed = _allow_list()
    if allowed.get(name) is not type(estimator):
        raise error("unsupported_model", f"{path}: {type(estimator).__module__}.{type(estimator).__qualname__} is "
                                         f"not a supported estimator type (supported: {', '.join(allowed)})")
    return name


def _require_fitted(estimator, name, path):
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(estimator)
    except NotFittedError:
        raise error("invalid_argument", f"{path}: the {name} is not fitted: call fit before save") from None


def _json_value(value):
    """``value`` as JSON (numbers, strings, booleans, null, lists), or raises ValueError."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value):
            raise ValueError(f"the float {value!r} (JSON has no NaN or infinity)")
        return float(value)
    if isinstance(value, (list, tuple)):
        return [_json_value(item) for item in value]
    raise ValueError(f"a {type(value).__module__}.{type(value).__qualname__}")


def _params(estimator, name, path, skip=()):
    params = {}
    for key, value in estimator.get_params(deep=False).items():
        if key in skip:
            continue
        try:
            params[key] = _json_value(value)
        except ValueError as e:
            raise error("unsupported_model", f"{path}: {name} parameter {key}={value!r} cannot be stored: "
                                             f"it is {e}") from None
    return params


def _classes_json(classes, name, path):
    classes = np.asarray(classes)
    if classes.ndim != 1:
        raise error("unsupported_model", f"{path}: {name} is multi-output: only single-output models are supported")
    if classes.dtype.kind in "iu":
        return [int(c) for c in classes]
    if classes.dtype.kind in "UO" and all(isinstance(c, str) for c in classes):
        return [str(c) for c in classes]
    raise error("unsupported_model", f"{path}: {name} has class labels of dtype {classes.dtype} "
                                     f"(only integer or string labels are supported)")


def _f64(array):
    """A C-contiguous float64 copy (np.ascontiguousarray would turn a 0-d intercept into 1-d)."""
    return np.array(array, dtype=np.float64, order="C")


def _describe(estimator, prefix, path, tensors):
    """The description node of ``estimator``; its tensors are added to ``tensors`` under ``prefix``."""
    name = _type_name(estimator, path)
    if name == "Pipeline":
        return _describe_pipeline(estimator, prefix, path, tensors)
    _require_fitted(estimator, name, path)
    names = getattr(estimator, "feature_names_in_", None)
    node = {
        "type": name,
        "prefix": prefix,
        "params": _params(estimator, name, path),
        "n_features_in": int(estimator.n_features_in_),
        "feature_names_in": None if names is None else [str(n) for n in names],
    }
    own = {}
    if name == "StandardScaler":
        node["n_samples_seen"] = _samples_seen(estimator, name, path)
        for attribute in ("mean_", "var_", "scale_"):
            if getattr(estimator, attribute) is not None:
                own[attribute] = _f64(getattr(estimator, attribute))
    elif name == "MinMaxScaler":
        node["n_samples_seen"] = _samples_seen(estimator, name, path)
        for attribute in ("min_", "scale_", "data_min_", "data_max_", "data_range_"):
            own[attribute] = _f64(getattr(estimator, attribute))
    elif name in _LINEAR_REGRESSORS:
        coef = _f64(estimator.coef_)
        node["n_targets"] = 0 if coef.ndim == 1 else coef.shape[0]
        intercept = _f64(estimator.intercept_)
        if coef.ndim == 2 and intercept.ndim == 0:  # fit_intercept=False leaves a scalar 0.0 for any target count
            intercept = np.full(coef.shape[0], float(intercept))
        own["coef_"], own["intercept_"] = coef, intercept
    elif name == "LogisticRegression":
        node["classes"] = _classes_json(estimator.classes_, name, path)
        node["multi_class"] = _logistic_multi_class(estimator)
        own["coef_"], own["intercept_"] = _f64(estimator.coef_), _f64(estimator.intercept_)
    else:
        _describe_trees(estimator, name, node, path, own)
    for key, array in own.items():
        tensors[prefix + key] = array
    return node


def _describe_pipeline(pipeline, prefix, path, tensors):
    steps = []
    for i, (step_name, step) in enumerate(pipeline.steps):
        if step is None or isinstance(step, str):
            raise error("unsupported_model", f"{path}: Pipeline step {i} ({step_name!r}) is {step!r}: "
                                             f"every step must be a supported estimator")
        steps.append({"name": str(step_name), "estimator": _describe(step, f"{prefix}steps.{i}.", path, tensors)})
    for i, step in enumerate(steps[:-1]):
        if step["estimator"]["type"] not in _TRANSFORMERS:
            raise error("unsupported_model", f"{path}: Pipeline step {i} ({step['name']!r}) is a "
                                             f"{step['estimator']['type']}: every step but the last must be a "
                                             f"transformer ({', '.join(_TRANSFORMERS)})")
    first = steps[0]["estimator"]
    return {
        "type": "Pipeline",
        "prefix": prefix,
        "params": _params(pipeline, "Pipeline", path, skip=("steps",)),
        "n_features_in": first["n_features_in"],
        "feature_names_in": first["feature_names_in"],
        "steps": steps,
    }


def _samples_seen(scaler, name, path):
    seen = np.asarray(scaler.n_samples_seen_)
    if seen.ndim == 0:
        return int(seen)
    raise error("unsupported_model", f"{path}: {name} counts samples per feature (n_samples_seen_ is an array: it "
                                     f"was fitted on data with NaNs); only a single count is supported")


def _logistic_multi_class(model):
    """"ovr" or "multinomial", as LogisticRegression.predict_proba of scikit-learn 1.2 resolves it."""
    ovr = model.multi_class in ("ovr", "warn") or (
        model.multi_class == "auto" and (model.classes_.size <= 2 or model.solver in ("liblinear", "newton-cholesky")))
    return "ovr" if ovr else "multinomial"


def _describe_trees(estimator, name, node, path, own):
    if name in _SINGLE_TREES:
        trees = [estimator]
    elif name in _FORESTS:
        trees = list(estimator.estimators_)
        node["tree_random_state"] = [_json_value(t.random_state) if isinstance(t.random_state, (int, np.integer))
                                     else None for t in trees]
    else:
        trees = _describe_boosting(estimator, name, node, path, own)
    if getattr(estimator, "n_outputs_", 1) != 1:
        raise error("unsupported_model", f"{path}: {name} is multi-output ({estimator.n_outputs_} outputs): only "
                                         f"single-output models are supported")
    if name.endswith("Classifier"):
        node["classes"] = _classes_json(estimator.classes_, name, path)
    node["n_trees"] = len(trees)
    node["max_depth"] = [int(t.tree_.max_depth) for t in trees]
    states = [t.tree_.__getstate__() for t in trees]
    counts = [int(s["node_count"]) for s in states]
    own["trees.node_offset"] = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    records = np.concatenate([s["nodes"][:c] for s, c in zip(states, counts)])
    for field, ours in _NODE_RECORD_FIELDS.items():
        own["trees." + ours] = np.ascontiguousarray(records[field].astype(dict(_TREE_FIELDS)[ours]))
    own["trees.value"] = _f64(np.concatenate([s["values"][:c] for s, c in zip(states, counts)]))


def _describe_boosting(model, name, node, path, own):
    """Gradient boosting's node fields and init tensors; returns its trees in stage-major order."""
    if model.init is not None:
        raise error("unsupported_model", f"{path}: {name} with init={model.init!r}: only the default init "
                                         f"(init=None) is supported")
    if name == "GradientBoostingClassifier":
        if model.loss not in ("log_loss", "deviance"):
            raise error("unsupported_model", f"{path}: {name} with loss={model.loss!r}: only loss='log_loss' "
                                             f"is supported")
        node["loss"] = "log_loss"
        own["init.class_prior_"] = _f64(model.init_.class_prior_)
    else:
        if model.loss not in _REGRESSION_LOSSES:
            raise error("unsupported_model", f"{path}: {name} with loss={model.loss!r}: supported losses are "
                                             f"{', '.join(_REGRESSION_LOSSES)}")
        node["loss"] = model.loss
        own["init.constant_"] = _f64(model.init_.constant_).reshape(1, 1)
    stages, per_stage = model.estimators_.shape
    node["trees_per_stage"] = int(per_stage)
    node["learning_rate"] = float(model.learning_rate)
    width = int(model.n_features_in_)
    raw = model._loss.get_init_raw_predictions(np.zeros((1, width), dtype=np.float32), model.init_)
    own["init_raw_prediction"] = _f64(raw).reshape(per_stage)
    return [model.estimators_[s, k] for s in range(stages) for k in range(per_stage)]
