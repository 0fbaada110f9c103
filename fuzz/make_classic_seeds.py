#!/usr/bin/env python3
"""Writes fuzz/corpus/classic_model/: tiny valid classic models (spec/CLASSIC.md)
made by hand with the standard library, so that every estimator type, trees
included, starts the fuzzer from a file that loads. (The scikit-learn fixtures
of tests/data/classic are seeds too: fuzz/run and fuzz/meson.build add them.)
Run from anywhere; it rewrites only the files it makes."""
import json
import pathlib
import struct

OUT = pathlib.Path(__file__).resolve().parent / "corpus" / "classic_model"


def safetensors(tensors, description):
    """tensors: {name: (dtype, shape, values)}; F64 and I64 only, 8-byte aligned."""
    header, data = {}, b""
    for name in sorted(tensors):
        dtype, shape, values = tensors[name]
        raw = struct.pack("<%d%s" % (len(values), "d" if dtype == "F64" else "q"), *values)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    header["__metadata__"] = {"safeweights.sklearn": json.dumps(description, separators=(",", ":"))}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def node(type_, prefix, width, params, **fields):
    return {"type": type_, "prefix": prefix, "params": params, "n_features_in": width, "feature_names_in": None,
            **fields}


def describe(estimator):
    return {"format": "safeweights.sklearn", "format_version": 1, "sklearn_version": "1.2.1", "estimator": estimator}


def trees(prefix, trees_, width_values):
    """trees_: a list of trees, each a list of (left, right, feature, threshold, value list)."""
    offsets, cols = [0], {k: [] for k in ("l", "r", "f", "t", "v")}
    for tree in trees_:
        offsets.append(offsets[-1] + len(tree))
        for left, right, feature, threshold, value in tree:
            cols["l"].append(left)
            cols["r"].append(right)
            cols["f"].append(feature)
            cols["t"].append(threshold)
            cols["v"].extend(value)
    n = offsets[-1]
    return {
        prefix + "trees.node_offset": ("I64", [len(trees_) + 1], offsets),
        prefix + "trees.children_left": ("I64", [n], cols["l"]),
        prefix + "trees.children_right": ("I64", [n], cols["r"]),
        prefix + "trees.feature": ("I64", [n], cols["f"]),
        prefix + "trees.threshold": ("F64", [n], cols["t"]),
        prefix + "trees.value": ("F64", [n, 1, width_values], cols["v"]),
        prefix + "trees.impurity": ("F64", [n], [0.0] * n),
        prefix + "trees.n_node_samples": ("I64", [n], [1] * n),
        prefix + "trees.weighted_n_node_samples": ("F64", [n], [1.0] * n),
    }


def stump(feature, threshold, low, high):
    return [(1, 2, feature, threshold, [sum(low) + sum(high)] * len(low)), (-1, -1, -2, -2.0, low),
            (-1, -1, -2, -2.0, high)]


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    files = {}
    # A decision tree classifier: one split, two leaves, three classes.
    files["tree_classifier"] = safetensors(
        trees("", [stump(1, 0.5, [3.0, 1.0, 0.0], [0.0, 1.0, 4.0])], 3),
        describe(node("DecisionTreeClassifier", "", 2, {}, classes=[0, 1, 2], n_trees=1, max_depth=[1])))
    # A forest regressor of two trees, one of them a single leaf.
    forest = [stump(0, -1.0, [1.5], [2.5]), [(-1, -1, -2, -2.0, [7.0])]]
    files["forest_regressor"] = safetensors(
        trees("", forest, 1),
        describe(node("RandomForestRegressor", "", 2, {}, n_trees=2, max_depth=[1, 0])))
    # Gradient boosting, three classes, two stages: six stumps.
    prior = [0.25, 0.25, 0.5]
    eps = 2.0 ** -23
    import math
    raw = [math.log(min(max(p, eps), 1 - eps)) for p in prior]
    t = trees("", [stump(k % 2, 0.25 * k, [0.1 * k], [-0.2]) for k in range(6)], 1)
    t["init_raw_prediction"] = ("F64", [3], raw)
    t["init.class_prior_"] = ("F64", [3], prior)
    files["boosting_classifier"] = safetensors(
        t, describe(node("GradientBoostingClassifier", "", 2, {"init": None, "learning_rate": 0.5, "loss": "log_loss"},
                         classes=["a", "b", "c"], n_trees=6, trees_per_stage=3, learning_rate=0.5, loss="log_loss",
                         max_depth=[1] * 6)))
    # A pipeline: MinMaxScaler, then a binary logistic regression.
    p = {"steps.0.min_": ("F64", [2], [0.0, -1.0]), "steps.0.scale_": ("F64", [2], [1.0, 0.5]),
         "steps.0.data_min_": ("F64", [2], [0.0, 2.0]), "steps.0.data_max_": ("F64", [2], [1.0, 4.0]),
         "steps.0.data_range_": ("F64", [2], [1.0, 2.0]),
         "steps.1.coef_": ("F64", [1, 2], [1.0, -2.0]), "steps.1.intercept_": ("F64", [1], [0.25])}
    files["pipeline_minmax_logistic"] = safetensors(p, describe(node(
        "Pipeline", "", 2, {}, steps=[
            {"name": "scale", "estimator": node("MinMaxScaler", "steps.0.", 2, {"feature_range": [0, 1], "clip": True},
                                                n_samples_seen=4)},
            {"name": "model", "estimator": node("LogisticRegression", "steps.1.", 2, {"multi_class": "auto", "solver": "lbfgs"}, classes=[-1, 1],
                                                multi_class="ovr")}])))
    # A two-target linear regression after a StandardScaler without centring.
    s = {"steps.0.mean_": ("F64", [2], [1.0, 2.0]), "steps.0.var_": ("F64", [2], [4.0, 1.0]),
         "steps.0.scale_": ("F64", [2], [2.0, 1.0]),
         "steps.1.coef_": ("F64", [2, 2], [1.0, 2.0, 3.0, 4.0]), "steps.1.intercept_": ("F64", [2], [0.5, -0.5])}
    files["pipeline_scaler_linear"] = safetensors(s, describe(node(
        "Pipeline", "", 2, {}, steps=[
            {"name": "scale", "estimator": node("StandardScaler", "steps.0.", 2, {"with_mean": False, "with_std": True},
                                                n_samples_seen=4)},
            {"name": "model", "estimator": node("LinearRegression", "steps.1.", 2, {}, n_targets=2)}])))
    for name, data in files.items():
        (OUT / f"seed-{name}.safetensors").write_bytes(data)


if __name__ == "__main__":
    main()
