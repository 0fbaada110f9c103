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
_REGRESSION_LOSSES = ("squared_error", "absolute_error", "huber", "quantile")

# The per-node tensors of spec/CLASSIC.md C3 (`trees.<name>`) and their dtypes.
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
        node["multi_class"] = _resolved_multi_class(estimator.multi_class, estimator.solver, len(estimator.classes_))
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


# ---------------------------------------------------------------------------------------------------------------
# load


def load(path):
    """The scikit-learn estimator stored in ``path`` by ``save``, rebuilt without pickle.

    Every rule of spec/CLASSIC.md C4 is checked first (``InvalidModelError``
    naming the tensor or description field); a type or option outside the
    allow-list raises ``UnsupportedModelError``, before anything is imported.
    The arrays are read into fresh memory (never a view of the file).
    """
    path_name = os.fsdecode(os.fspath(path))
    if hasattr(_core, "check_classic_model"):
        _core.check_classic_model(path_name)
    with safe_open(path_name, "numpy", backend="pread", unsupported="bytes") as opened:
        metadata = opened.metadata() or {}
        tensors = {name: opened.get_tensor(name) for name in opened.keys()}
    description = _parse_description(metadata, path_name)
    _check(description, tensors, path_name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # scikit-learn 1.2 warns on loss="deviance", kept as saved
        return _Builder(tensors, path_name).build(description["estimator"], "estimator")


def _parse_description(metadata, path):
    text = metadata.get(METADATA_KEY)
    if text is None:
        raise error("invalid_model", f"{path}: no `{METADATA_KEY}` key in the metadata: not a model written by "
                                     f"safeweights.sklearn.save")
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except ValueError as e:
        raise error("invalid_model", f"{path}: metadata `{METADATA_KEY}` is not valid JSON: {e}") from None


def _refuse_constant(name):
    raise ValueError(f"{name} is not a JSON number")


# ---------------------------------------------------------------------------------------------------------------
# the rules (spec/CLASSIC.md C4): one entry point, so that the C++ checker can replace it

_ALLOWED_NAMES = ("StandardScaler", "MinMaxScaler", "LinearRegression", "Ridge", "LogisticRegression",
                  "DecisionTreeClassifier", "DecisionTreeRegressor", "RandomForestClassifier",
                  "RandomForestRegressor", "GradientBoostingClassifier", "GradientBoostingRegressor", "Pipeline")
_FLOAT32_EPS = float(np.finfo(np.float32).eps)
_INT64_MAX = 2**63 - 1


def _check(description, tensors, path="<model>"):
    """Checks ``description`` (the parsed JSON) and ``tensors`` (name -> NumPy array) against spec/CLASSIC.md C4.

    Raises ``InvalidModelError`` naming the tensor or the description field
    and the value, or ``UnsupportedModelError`` for a type or option outside
    the allow-list. Imports nothing and builds nothing.
    """
    checker = _Checker(tensors, path)
    if not isinstance(description, dict):
        checker.fail(f"metadata `{METADATA_KEY}` is a JSON {type(description).__name__}, expected an object")
    if description.get("format") != FORMAT:
        checker.fail(f"description `format` is {description.get('format')!r}, expected {FORMAT!r}")
    version = description.get("format_version")
    if not _is_int(version) or version != FORMAT_VERSION:
        checker.fail(f"description `format_version` is {version!r}, expected {FORMAT_VERSION} "
                     f"(a newer safeweights may read it)")
    if "estimator" not in description:
        checker.fail("description has no `estimator`")
    checker.node(description["estimator"], "", "estimator")
    left_over = sorted(set(tensors) - checker.named)
    if left_over:
        checker.fail(f"tensor `{left_over[0]}` is not named by the description"
                     + (f" (nor are {len(left_over) - 1} more)" if len(left_over) > 1 else ""))


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class _Checker:
    """The state of one _check: the tensors, which of them the description named so far, the file's name."""

    def __init__(self, tensors, path):
        self.tensors = tensors
        self.path = path
        self.named = set()

    def fail(self, message, code="invalid_model"):
        raise error(code, f"{self.path}: {message}")

    # -- description fields

    def field(self, node, key, where):
        if key not in node:
            self.fail(f"description `{where}` has no `{key}`")
        return node[key]

    def integer(self, node, key, where, minimum):
        value = self.field(node, key, where)
        if not _is_int(value) or not minimum <= value <= _INT64_MAX:
            self.fail(f"description `{where}.{key}` is {value!r}, expected an integer in [{minimum}, 2^63)")
        return value

    def number(self, value, where):
        if not _is_number(value) or not math.isfinite(value):
            self.fail(f"description `{where}` is {value!r}, expected a finite number")
        return value

    def classes(self, node, where, count=None):
        classes = self.field(node, "classes", where)
        if not isinstance(classes, list) or len(classes) < 2:
            self.fail(f"description `{where}.classes` is {classes!r}, expected a list of at least 2 labels")
        if not (all(_is_int(c) and -_INT64_MAX - 1 <= c <= _INT64_MAX for c in classes)
                or all(isinstance(c, str) for c in classes)):
            self.fail(f"description `{where}.classes` mixes types or holds a label that is neither a 64-bit "
                      f"integer nor a string: {classes!r}")
        if any(a >= b for a, b in zip(classes, classes[1:])):
            self.fail(f"description `{where}.classes` is not distinct and sorted: {classes!r}")
        return len(classes)

    def flag(self, params, key, where):
        """The boolean ``params[key]`` that C5 reads (a reader must not guess what "yes" or 1 means)."""
        value = params.get(key)
        if not isinstance(value, bool):
            self.fail(f"description `{where}.params.{key}` is {value!r}, expected true or false")
        return value

    def params(self, node, where):
        params = self.field(node, "params", where)
        if not isinstance(params, dict):
            self.fail(f"description `{where}.params` is a JSON {type(params).__name__}, expected an object")
        for key, value in params.items():
            if not _json_scalar_or_list(value):
                self.fail(f"description `{where}.params.{key}` is {value!r}: parameters are numbers, strings, "
                          f"booleans, null or lists of those")
        return params

    # -- tensors

    def tensor(self, name, dtype, shape):
        """The array ``name``, which must exist with ``dtype`` (float64 or int64) and ``shape``; marks it named."""
        if name not in self.tensors:
            self.fail(f"tensor `{name}` is missing")
        self.named.add(name)
        array = self.tensors[name]
        if array.dtype != dtype:
            code = "F64" if dtype == np.float64 else "I64"
            self.fail(f"tensor `{name}` has dtype {array.dtype}, expected {code} ({np.dtype(dtype).name})")
        if tuple(array.shape) != tuple(shape):
            self.fail(f"tensor `{name}` has shape {list(array.shape)}, expected {list(shape)}")
        return array

    def finite(self, name, dtype, shape):
        array = self.tensor(name, dtype, shape)
        bad = np.flatnonzero(~np.isfinite(array))
        if bad.size:
            self.fail(f"tensor `{name}`: element {int(bad[0])} is {array.reshape(-1)[bad[0]]!r}, expected a finite "
                      f"number")
        return array

    # -- nodes

    def node(self, node, prefix, where):
        """Checks one estimator node; returns (kind, output width): kind is transformer, classifier or regressor."""
        if not isinstance(node, dict):
            self.fail(f"description `{where}` is a JSON {type(node).__name__}, expected an object")
        name = self.field(node, "type", where)
        if name not in _ALLOWED_NAMES:
            self.fail(f"description `{where}.type` is {name!r}, which is not in the allow-list "
                      f"({', '.join(_ALLOWED_NAMES)})", "unsupported_model")
        if node.get("prefix") != prefix:
            self.fail(f"description `{where}.prefix` is {node.get('prefix')!r}, expected {prefix!r}")
        params = self.params(node, where)
        width = self.integer(node, "n_features_in", where, 1)
        names = self.field(node, "feature_names_in", where)
        if names is not None and (not isinstance(names, list) or len(names) != width
                                  or not all(isinstance(n, str) for n in names)):
            self.fail(f"description `{where}.feature_names_in` is {names!r}, expected null or a list of "
                      f"{width} strings")
        if name == "Pipeline":
            return self.pipeline(node, prefix, where, width, names)
        if name == "StandardScaler":
            self.integer(node, "n_samples_seen", where, 1)
            with_mean, with_std = (self.flag(params, key, where) for key in ("with_mean", "with_std"))
            if with_mean or with_std:
                self.finite(prefix + "mean_", np.float64, (width,))
            if with_std:
                self.finite(prefix + "var_", np.float64, (width,))
                scale = self.finite(prefix + "scale_", np.float64, (width,))
                zero = np.flatnonzero(scale == 0)
                if zero.size:
                    self.fail(f"tensor `{prefix}scale_`: element {int(zero[0])} is 0, and x is divided by it")
            return "transformer", width
        if name == "MinMaxScaler":
            self.integer(node, "n_samples_seen", where, 1)
            self.flag(params, "clip", where)
            feature_range = params.get("feature_range", [0, 1])
            if (not isinstance(feature_range, list) or len(feature_range) != 2
                    or not all(_is_number(v) for v in feature_range) or not feature_range[0] < feature_range[1]):
                self.fail(f"description `{where}.params.feature_range` is {feature_range!r}, expected [lo, hi] "
                          f"with lo < hi")
            for attribute in ("min_", "scale_", "data_min_", "data_max_", "data_range_"):
                self.finite(prefix + attribute, np.float64, (width,))
            return "transformer", width
        if name in _LINEAR_REGRESSORS:
            targets = self.integer(node, "n_targets", where, 0)
            self.finite(prefix + "coef_", np.float64, (width,) if targets == 0 else (targets, width))
            self.finite(prefix + "intercept_", np.float64, () if targets == 0 else (targets,))
            return "regressor", None
        if name == "LogisticRegression":
            count = self.classes(node, where)
            rows = 1 if count == 2 else count
            multi_class = self.field(node, "multi_class", where)
            if multi_class not in ("ovr", "multinomial"):
                self.fail(f"description `{where}.multi_class` is {multi_class!r}, expected \"ovr\" or \"multinomial\"")
            resolved = _resolved_multi_class(params.get("multi_class", "auto"), params.get("solver", "lbfgs"), count)
            if multi_class != resolved:
                self.fail(f"description `{where}.multi_class` is {multi_class!r}, but params.multi_class "
                          f"{params.get('multi_class', 'auto')!r} with solver {params.get('solver', 'lbfgs')!r} "
                          f"and {count} classes gives {resolved!r}")
            self.finite(prefix + "coef_", np.float64, (rows, width))
            self.finite(prefix + "intercept_", np.float64, (rows,))
            return "classifier", None
        return self.tree_model(node, name, params, prefix, where, width)

    def pipeline(self, node, prefix, where, width, names):
        steps = self.field(node, "steps", where)
        if not isinstance(steps, list) or not steps:
            self.fail(f"description `{where}.steps` is {steps!r}, expected a non-empty list")
        seen = set()
        kind, previous = None, width
        for i, step in enumerate(steps):
            step_where = f"{where}.steps[{i}]"
            if not isinstance(step, dict) or not isinstance(step.get("name"), str) or "estimator" not in step:
                self.fail(f"description `{step_where}` is not {{\"name\": string, \"estimator\": object}}")
            if step["name"] in seen or not step["name"] or "__" in step["name"]:
                self.fail(f"description `{step_where}.name` is {step['name']!r}: step names are distinct, "
                          f"non-empty and have no '__'")
            seen.add(step["name"])
            if kind is not None and kind != "transformer":
                self.fail(f"description `{where}.steps[{i - 1}]` is a {kind}: every step but the last is a "
                          f"transformer")
            estimator = step["estimator"]
            kind, output = self.node(estimator, f"{prefix}steps.{i}.", f"{step_where}.estimator")
            if estimator["n_features_in"] != previous:
                self.fail(f"description `{step_where}.estimator.n_features_in` is {estimator['n_features_in']}, "
                          f"but its input is {previous} wide")
            if i == 0 and estimator["feature_names_in"] != names:
                self.fail(f"description `{where}.feature_names_in` differs from its first step's")
            previous = output
        return kind, previous

    def tree_model(self, node, name, params, prefix, where, width):
        classifier = name.endswith("Classifier")
        count = self.classes(node, where) if classifier else 1
        trees = self.integer(node, "n_trees", where, 1)
        if name in _SINGLE_TREES and trees != 1:
            self.fail(f"description `{where}.n_trees` is {trees}, a decision tree has 1")
        depths = self.field(node, "max_depth", where)
        if not isinstance(depths, list) or len(depths) != trees or not all(_is_int(d) and d >= 0 for d in depths):
            self.fail(f"description `{where}.max_depth` is not a list of {trees} integers ≥ 0")
        states = node.get("tree_random_state")
        if states is not None and (name not in _FORESTS or not isinstance(states, list) or len(states) != trees
                                   or not all(s is None or _is_int(s) for s in states)):
            self.fail(f"description `{where}.tree_random_state` is not a list of {trees} integers or nulls "
                      f"(of a forest)")
        value_width = count if name in _SINGLE_TREES + _FORESTS and classifier else 1
        if name in _BOOSTING:
            self.boosting(node, name, params, prefix, where, trees, count)
        self.trees(prefix, where, trees, depths, width, value_width)
        return ("classifier" if classifier else "regressor"), None

    def boosting(self, node, name, params, prefix, where, trees, count):
        if params.get("init") is not None:
            self.fail(f"description `{where}.params.init` is {params['init']!r}: {name} is supported with the "
                      f"default init only", "unsupported_model")
        loss = self.field(node, "loss", where)
        param_loss = params.get("loss")
        if name == "GradientBoostingClassifier":
            if loss != "log_loss" or param_loss not in ("log_loss", "deviance"):
                self.fail(f"description `{where}.loss` is {loss!r} (params.loss {param_loss!r}): {name} is "
                          f"supported with loss \"log_loss\" only", "unsupported_model")
            per_stage = 1 if count == 2 else count
        else:
            if loss not in _REGRESSION_LOSSES:
                self.fail(f"description `{where}.loss` is {loss!r}: {name} supports {', '.join(_REGRESSION_LOSSES)}",
                          "unsupported_model")
            if param_loss != loss:
                self.fail(f"description `{where}.loss` is {loss!r}, but params.loss is {param_loss!r}")
            per_stage = 1
        if self.integer(node, "trees_per_stage", where, 1) != per_stage:
            self.fail(f"description `{where}.trees_per_stage` is {node['trees_per_stage']}, expected {per_stage}")
        if trees % per_stage:
            self.fail(f"description `{where}.n_trees` is {trees}, not a multiple of trees_per_stage {per_stage}")
        rate = self.number(self.field(node, "learning_rate", where), f"{where}.learning_rate")
        if params.get("learning_rate") != rate:
            self.fail(f"description `{where}.learning_rate` is {rate!r}, but params.learning_rate is "
                      f"{params.get('learning_rate')!r}")
        raw = self.finite(prefix + "init_raw_prediction", np.float64, (per_stage,))
        if name == "GradientBoostingClassifier":
            prior = self.finite(prefix + "init.class_prior_", np.float64, (count,))
            clipped = np.clip(prior, _FLOAT32_EPS, 1 - _FLOAT32_EPS)
            expected = np.log(clipped[1:] / (1 - clipped[1:])) if count == 2 else np.log(clipped)
            source = f"{prefix}init.class_prior_"
        else:
            expected = self.finite(prefix + "init.constant_", np.float64, (1, 1)).reshape(1)
            source = f"{prefix}init.constant_"
        if not np.allclose(raw, expected, rtol=1e-12, atol=0):
            self.fail(f"tensor `{prefix}init_raw_prediction` is {raw.tolist()}, but `{source}` gives "
                      f"{expected.tolist()}")

    def trees(self, prefix, where, count, depths, width, value_width):
        """The rules of C3 and C4.4 for ``count`` trees over ``width`` features, vectorised over all nodes."""
        offsets_name = prefix + "trees.node_offset"
        offsets = self.tensor(offsets_name, np.int64, (count + 1,))
        if offsets[0] != 0:
            self.fail(f"tensor `{offsets_name}`: element 0 is {int(offsets[0])}, expected 0")
        sizes = np.diff(offsets)
        empty = np.flatnonzero(sizes <= 0)
        if empty.size:
            t = int(empty[0])
            self.fail(f"tensor `{offsets_name}`: tree {t} has no nodes (elements {t} and {t + 1} are "
                      f"{int(offsets[t])} and {int(offsets[t + 1])}; they must increase)")
        total = int(offsets[-1])
        too_deep = np.flatnonzero(np.asarray(depths) >= sizes)
        if too_deep.size:
            t = int(too_deep[0])
            self.fail(f"description `{where}.max_depth`: tree {t} has depth {depths[t]} but {int(sizes[t])} nodes "
                      f"(a tree's depth is less than its node count)")
        arrays = {}
        for field, dtype in _TREE_FIELDS:
            shape = (total, 1, value_width) if field == "value" else (total,)
            arrays[field] = self.tensor(prefix + "trees." + field, dtype, shape)
        left, right = arrays["children_left"], arrays["children_right"]
        tree_of = np.repeat(np.arange(count), sizes)
        local = np.arange(total) - offsets[tree_of]
        size = sizes[tree_of]
        leaf = (left == -1) & (right == -1)
        split = ~leaf
        left_ok = (left >= 1) & (left < size) & (left > local)
        right_ok = (right >= 1) & (right < size) & (right > local)
        bad = np.flatnonzero(split & ~(left_ok & right_ok))
        if bad.size:
            i = int(bad[0])
            if (left[i] == -1) != (right[i] == -1):  # half a leaf: either array may be the wrong one
                named = f"tensors `{prefix}trees.children_left` and `{prefix}trees.children_right`"
            else:
                named = f"tensor `{prefix}trees.children_{'right' if left_ok[i] else 'left'}`"
            self.fail(f"{named}: node {int(local[i])} of tree {int(tree_of[i])} has children {int(left[i])} and "
                      f"{int(right[i])}: both must be -1 (a leaf) or in [{int(local[i]) + 1}, {int(size[i])}) "
                      f"(after the node, inside its tree)")
        base = offsets[tree_of[split]]
        parents = np.bincount(np.concatenate([base + left[split], base + right[split]]), minlength=total)
        expected = (local != 0).astype(parents.dtype)
        bad = np.flatnonzero(parents != expected)
        if bad.size:
            i = int(bad[0])
            self.fail(f"tensor `{prefix}trees.children_left`: node {int(local[i])} of tree {int(tree_of[i])} is "
                      f"the child of {int(parents[i])} nodes, expected {int(expected[i])}")
        feature = arrays["feature"]
        bad = np.flatnonzero(split & ((feature < 0) | (feature >= width)))
        if bad.size:
            i = int(bad[0])
            self.fail(f"tensor `{prefix}trees.feature`: node {int(local[i])} of tree {int(tree_of[i])} tests "
                      f"feature {int(feature[i])}, the input has {width}")
        threshold = arrays["threshold"]
        bad = np.flatnonzero(split & ~np.isfinite(threshold))
        if bad.size:
            i = int(bad[0])
            self.fail(f"tensor `{prefix}trees.threshold`: node {int(local[i])} of tree {int(tree_of[i])} splits "
                      f"at {float(threshold[i])!r}, expected a finite number")
        self.finite(prefix + "trees.value", np.float64, (total, 1, value_width))


def _json_scalar_or_list(value):
    if value is None or isinstance(value, (bool, str, int, float)):
        return True
    return isinstance(value, list) and all(_json_scalar_or_list(item) for item in value)


def _resolved_multi_class(multi_class, solver, count):
    """"ovr" or "multinomial", as LogisticRegression.predict_proba of scikit-learn 1.2 resolves it."""
    ovr = multi_class in ("ovr", "warn") or (
        multi_class == "auto" and (count <= 2 or solver in ("liblinear", "newton-cholesky")))
    return "ovr" if ovr else "multinomial"


# ---------------------------------------------------------------------------------------------------------------
# the rebuild, from a description _check accepted


class _Builder:
    """Builds scikit-learn objects from checked nodes: the classes come from _allow_list() only."""

    def __init__(self, tensors, path):
        self.tensors = tensors
        self.path = path
        self.allowed = _allow_list()

    def fail(self, message):
        raise error("invalid_model", f"{self.path}: {message}")

    def build(self, node, where):
        name = node["type"]
        if name == "Pipeline":
            steps = [(step["name"], self.build(step["estimator"], f"{where}.steps[{i}].estimator"))
                     for i, step in enumerate(node["steps"])]
            pipeline = self.construct(name, dict(node["params"], steps=steps), where)
            try:
                pipeline._validate_steps()
            except (TypeError, ValueError) as e:
                self.fail(f"description `{where}.steps`: scikit-learn refuses them: {e}")
            return pipeline
        estimator = self.construct(name, node["params"], where)
        estimator.n_features_in_ = node["n_features_in"]
        if node["feature_names_in"] is not None:
            estimator.feature_names_in_ = np.array(node["feature_names_in"], dtype=object)
        own = self.own_tensors(node["prefix"])
        if name == "StandardScaler":
            estimator.n_samples_seen_ = np.int64(node["n_samples_seen"])
            for attribute in ("mean_", "var_", "scale_"):
                setattr(estimator, attribute, own.get(attribute))
        elif name == "MinMaxScaler":
            estimator.n_samples_seen_ = node["n_samples_seen"]
            for attribute in ("min_", "scale_", "data_min_", "data_max_", "data_range_"):
                setattr(estimator, attribute, own[attribute])
        elif name in _LINEAR_REGRESSORS:
            estimator.coef_ = own["coef_"]
            intercept = own["intercept_"]
            if intercept.ndim == 0 or (not estimator.fit_intercept and not intercept.any()):
                intercept = np.float64(intercept.reshape(-1)[0]) if intercept.size else 0.0
            estimator.intercept_ = intercept
        elif name == "LogisticRegression":
            estimator.classes_ = np.array(node["classes"])
            estimator.coef_, estimator.intercept_ = own["coef_"], own["intercept_"]
        elif name in _SINGLE_TREES:
            self.fill_tree(estimator, node, own, 0)
            if name == "DecisionTreeClassifier":
                estimator.classes_ = np.array(node["classes"])
                estimator.n_classes_ = np.intp(len(node["classes"]))
        elif name in _FORESTS:
            self.build_forest(estimator, node, own)
        else:
            self.build_boosting(estimator, node, own)
        return estimator

    def construct(self, name, params, where):
        cls = self.allowed[name]
        known = set(cls._get_param_names())
        unknown = sorted(set(params) - known - {"steps"})
        if unknown:
            self.fail(f"description `{where}.params.{unknown[0]}`: {name} has no parameter {unknown[0]!r}")
        params = dict(params)
        for key in _TUPLE_PARAMS.get(name, ()):
            if isinstance(params.get(key), list):
                params[key] = tuple(params[key])
        estimator = cls(**params)
        try:
            if hasattr(estimator, "_parameter_constraints"):
                estimator._validate_params()
        except (TypeError, ValueError) as e:
            self.fail(f"description `{where}.params`: scikit-learn refuses them: {e}")
        return estimator

    def own_tensors(self, prefix):
        """The tensors under ``prefix``, by their names without it (a leaf node owns every name under its prefix)."""
        return {name[len(prefix):]: array for name, array in self.tensors.items() if name.startswith(prefix)}

    def fill_tree(self, estimator, node, own, t):
        """Gives ``estimator`` (a DecisionTree*) tree ``t`` of ``own``'s trees and the attributes fit sets."""
        from sklearn.tree._tree import Tree

        offsets = own["trees.node_offset"]
        start, stop = int(offsets[t]), int(offsets[t + 1])
        values = np.ascontiguousarray(own["trees.value"][start:stop])
        width = node["n_features_in"]
        tree = Tree(width, np.array([values.shape[2]], dtype=np.intp), 1)  # K classes, or 1 for a regressor
        records = np.zeros(stop - start, dtype=_node_dtype())
        for field in records.dtype.names:
            ours = _NODE_RECORD_FIELDS.get(field)
            if ours is not None:
                records[field] = own["trees." + ours][start:stop]
        tree.__setstate__({"max_depth": node["max_depth"][t], "node_count": stop - start, "nodes": records,
                           "values": values})
        estimator.tree_ = tree
        estimator.n_features_in_ = width
        estimator.n_outputs_ = 1
        estimator.max_features_ = _tree_max_features(estimator, width)

    def build_forest(self, forest, node, own):
        from sklearn.base import clone

        forest._validate_estimator()
        states = node.get("tree_random_state") or [None] * node["n_trees"]
        classifier = "classes" in node
        trees = []
        for t, state in enumerate(states):
            tree = clone(forest._estimator)
            tree.set_params(**{p: getattr(forest, p) for p in forest.estimator_params})
            if tree.max_features == "auto":  # as the forest's _make_estimator does in scikit-learn 1.2
                tree.set_params(max_features="sqrt" if classifier else 1.0)
            tree.set_params(random_state=state)
            self.fill_tree(tree, node, own, t)
            if classifier:  # the forest fits its trees on class indices, as float64
                tree.classes_ = np.arange(len(node["classes"]), dtype=np.float64)
                tree.n_classes_ = np.intp(len(node["classes"]))
            trees.append(tree)
        forest.estimators_ = trees
        forest.n_outputs_ = 1
        if classifier:
            forest.classes_ = np.array(node["classes"])
            forest.n_classes_ = len(node["classes"])

    def build_boosting(self, model, node, own):
        from sklearn.tree import DecisionTreeRegressor
        from sklearn.utils import check_random_state

        if "classes" in node:
            model.classes_ = np.array(node["classes"])
            model._n_classes = model.n_classes_ = len(node["classes"])
        model._check_params()  # sets _loss and max_features_ as fit does
        model._rng = check_random_state(model.random_state)
        init = model._loss.init_estimator()
        init._strategy = init.strategy
        init.n_outputs_ = 1
        if "classes" in node:
            init.sparse_output_ = False
            init.classes_ = np.array(node["classes"])
            init.n_classes_ = len(node["classes"])
            init.class_prior_ = own["init.class_prior_"]
        else:
            init.constant_ = own["init.constant_"]
        model.init_ = init
        per_stage = node["trees_per_stage"]
        stages = node["n_trees"] // per_stage
        estimators = np.empty((stages, per_stage), dtype=object)
        for s in range(stages):
            for k in range(per_stage):
                tree = DecisionTreeRegressor(  # as _fit_stage makes them in scikit-learn 1.2
                    criterion=model.criterion, splitter="best", max_depth=model.max_depth,
                    min_samples_split=model.min_samples_split, min_samples_leaf=model.min_samples_leaf,
                    min_weight_fraction_leaf=model.min_weight_fraction_leaf,
                    min_impurity_decrease=model.min_impurity_decrease, max_features=model.max_features,
                    max_leaf_nodes=model.max_leaf_nodes, random_state=model._rng, ccp_alpha=model.ccp_alpha)
                self.fill_tree(tree, node, own, s * per_stage + k)
                estimators[s, k] = tree
        model.estimators_ = estimators
        model.n_estimators_ = stages


def _node_dtype():
    """scikit-learn's tree node record, read from the running version (1.2's has the 7 fields format 1 stores)."""
    from sklearn.tree._tree import Tree

    dtype = Tree(1, np.array([1], dtype=np.intp), 1).__getstate__()["nodes"].dtype
    unknown = [f for f in dtype.names if f not in _NODE_RECORD_FIELDS and f != "missing_go_to_left"]
    if unknown:
        import sklearn

        raise error("unsupported_model", f"scikit-learn {sklearn.__version__}'s tree nodes have field "
                                         f"{unknown[0]!r}, which format {FORMAT_VERSION} does not store")
    return dtype


def _tree_max_features(tree, width):
    """max_features_ as DecisionTree*.fit of scikit-learn 1.2 computes it."""
    from numbers import Integral

    setting = tree.max_features
    if setting == "auto":
        return max(1, int(np.sqrt(width))) if type(tree).__name__.endswith("Classifier") else width
    if setting == "sqrt":
        return max(1, int(np.sqrt(width)))
    if setting == "log2":
        return max(1, int(np.log2(width)))
    if setting is None:
        return width
    if isinstance(setting, Integral):
        return setting
    return max(1, int(setting * width)) if setting > 0.0 else 0
