"""The rules of spec/CLASSIC.md C4, checked by safeweights.sklearn.load before it builds anything.

One entry point, ``_check(description, tensors, path)``, over the parsed JSON
description and the file's arrays: vectorised NumPy, no scikit-learn import,
so a file naming any type is refused before anything it names could be
imported. It mirrors the C++ checker (``safeweights::classic::load_model``),
which can take its place.
"""

import math

import numpy as np

from ._errors import error

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
_FLOAT32_EPS = float(np.finfo(np.float32).eps)
_INT64_MAX = 2**63 - 1
# safetensors' name of each NumPy dtype a message may show.
_CODES = {np.dtype(t): code for t, code in (
    (np.float64, "F64"), (np.float32, "F32"), (np.float16, "F16"), (np.int64, "I64"), (np.int32, "I32"),
    (np.int16, "I16"), (np.int8, "I8"), (np.uint64, "U64"), (np.uint32, "U32"), (np.uint16, "U16"),
    (np.uint8, "U8"), (np.bool_, "BOOL"))}


def _check(description, tensors, path="<model>", dtypes=None):
    """Checks ``description`` (the parsed JSON) and ``tensors`` (name -> NumPy array) against spec/CLASSIC.md C4.

    ``dtypes`` (name -> safetensors code, "F64") names each tensor's dtype in
    the file; without it the arrays' NumPy dtypes are used (a dtype NumPy lacks,
    BF16, read as bytes, would show as U8).

    Raises ``InvalidModelError`` naming the tensor or the description field
    and the value, or ``UnsupportedModelError`` for a type or option outside
    the allow-list. Imports nothing and builds nothing.
    """
    checker = _Checker(tensors, path, dtypes)
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

    def __init__(self, tensors, path, dtypes):
        self.tensors = tensors
        self.path = path
        self.dtypes = dtypes or {}
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

    def classes(self, node, where):
        """K, the number of the node's class labels: K ≥ 2 integers or strings, distinct and sorted."""
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
        expected = _CODES[np.dtype(dtype)]
        found = self.dtypes.get(name) or _CODES.get(array.dtype, str(array.dtype))
        if found != expected or array.dtype != dtype:
            self.fail(f"tensor `{name}` has dtype {found}, expected {expected}")
        if tuple(array.shape) != tuple(shape):
            self.fail(f"tensor `{name}` has shape {list(array.shape)}, expected {list(shape)}")
        return array

    def finite(self, name, dtype, shape):
        """As tensor(), and every element finite (C4.5)."""
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
        """A pipeline's steps: transformers but the last, each as wide as the output before it."""
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
        """A tree, forest or gradient boosting node: its fields, then its trees."""
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
        """Gradient boosting's own fields and init tensors (C2, C4.6)."""
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
