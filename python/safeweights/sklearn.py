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
from ._errors import FileNotFoundSafetensorError, error
from ._open import safe_open
from ._sklearn_format import (_FORESTS, _LINEAR_REGRESSORS, _REGRESSION_LOSSES, _SINGLE_TREES, _TRANSFORMERS,
                             _TREE_FIELDS, FORMAT, FORMAT_VERSION, METADATA_KEY, RESERVED_PREFIX,
                             _resolved_multi_class)
from .numpy import save_file

__all__ = ["save", "load"]

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
    """A copy of the user's metadata, checked: str -> str, no reserved key."""
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
    """get_params(deep=False) as JSON, or UnsupportedModelError naming the parameter JSON cannot hold."""
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
    """The class labels as a JSON list: integers or strings only."""
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
    """A Pipeline's node: its steps' nodes, step i under ``prefix`` + ``steps.<i>.``."""
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
    """A scaler's n_samples_seen_ as one integer (an array means it was fitted on NaNs: refused)."""
    seen = np.asarray(scaler.n_samples_seen_)
    if seen.ndim == 0:
        return int(seen)
    raise error("unsupported_model", f"{path}: {name} counts samples per feature (n_samples_seen_ is an array: it "
                                     f"was fitted on data with NaNs); only a single count is supported")


def _describe_trees(estimator, name, node, path, own):
    """The node fields and C3 tensors of a tree, forest or gradient boosting model, all trees concatenated."""
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
    try:
        with open(path_name, "rb") as f:
            image = f.read()
    except FileNotFoundError as e:
        raise FileNotFoundSafetensorError(f"{path_name}: cannot open: {e.strerror}") from None
    except OSError as e:
        raise error("io_error", f"{path_name}: cannot read: {e.strerror}") from None
    # The rules are the C++ core's (classic/model_rules.hpp), checked on the very bytes rebuilt below.
    _core.check_classic_model(image, path_name)
    opened = safe_open.__new__(safe_open)
    opened._setup("numpy", "cpu", "mmap", False, "bytes")
    opened._open = _core.Reader.from_bytes(image)
    metadata = opened.metadata() or {}
    tensors = opened.get_tensors()
    description = json.loads(metadata[METADATA_KEY])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # scikit-learn 1.2 warns on loss="deviance", kept as saved
        return _Builder(tensors, path_name).build(description["estimator"], "estimator")


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
        """The estimator of ``node`` (``where`` is its place in the description, for messages)."""
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
        """An unfitted ``name`` from the allow-list with the file's params, which scikit-learn must accept."""
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
        """Gives ``forest`` its trees, made as the forest's fit makes them, each with its own random_state."""
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
        """Gives gradient boosting its loss, init estimator and (stages, trees_per_stage) trees, as fit does."""
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
