"""safeweights.sklearn: fitted estimators round-trip with the same predictions, nothing is pickled or imported
from the file, and a file that breaks a rule of spec/CLASSIC.md C4 is refused naming the tensor.

Run with the package installed: PYTHONPATH=<site> OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 -m pytest tests/python
"""

import functools
import json
import pathlib
import pickle
import sys
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn import datasets  # noqa: E402
from sklearn.dummy import DummyRegressor  # noqa: E402
from sklearn.ensemble import (GradientBoostingClassifier, GradientBoostingRegressor,  # noqa: E402
                              RandomForestClassifier, RandomForestRegressor)
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import MinMaxScaler, StandardScaler  # noqa: E402
from sklearn.svm import SVC  # noqa: E402
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor  # noqa: E402

import safeweights  # noqa: E402
import safeweights.sklearn as sks  # noqa: E402
from safeweights import safe_open  # noqa: E402
from safeweights._sklearn_format import _ALLOWED_NAMES  # noqa: E402
from safeweights.numpy import load_file, save_file  # noqa: E402

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "data" / "classic"
CLASSIFICATION = ("iris", "digits", "wine", "breast_cancer")
REGRESSION = ("diabetes",)
LINEAR = (StandardScaler, MinMaxScaler, LinearRegression, Ridge, LogisticRegression)

CLASSIFIERS = {
    "standard_scaler": StandardScaler,
    "minmax_scaler": lambda: MinMaxScaler(feature_range=(-1, 1), clip=True),
    "logistic_regression": lambda: LogisticRegression(max_iter=5000),
    "logistic_regression_ovr": lambda: LogisticRegression(multi_class="ovr", max_iter=5000),
    "logistic_regression_multinomial": lambda: LogisticRegression(multi_class="multinomial", max_iter=5000),
    "decision_tree": lambda: DecisionTreeClassifier(max_depth=8, random_state=0),
    "random_forest": lambda: RandomForestClassifier(n_estimators=10, max_depth=6, random_state=0),
    "gradient_boosting": lambda: GradientBoostingClassifier(n_estimators=10, max_depth=3, random_state=0),
    "pipeline_standard_logistic": lambda: Pipeline([("scale", StandardScaler()),
                                                    ("model", LogisticRegression(max_iter=5000))]),
    "pipeline_minmax_forest": lambda: Pipeline([("scale", MinMaxScaler()), ("model", RandomForestClassifier(
        n_estimators=10, max_depth=6, random_state=0))]),
    "pipeline_standard_minmax_tree": lambda: Pipeline([("a", StandardScaler()), ("b", MinMaxScaler()),
                                                       ("model", DecisionTreeClassifier(random_state=0))]),
}
REGRESSORS = {
    "standard_scaler": lambda: StandardScaler(with_mean=False),
    "minmax_scaler": MinMaxScaler,
    "linear_regression": LinearRegression,
    "ridge": lambda: Ridge(alpha=0.5),
    "decision_tree": lambda: DecisionTreeRegressor(max_depth=8, random_state=0),
    "random_forest": lambda: RandomForestRegressor(n_estimators=10, max_depth=6, random_state=0),
    "gradient_boosting": lambda: GradientBoostingRegressor(n_estimators=20, max_depth=3, random_state=0),
    "gradient_boosting_absolute": lambda: GradientBoostingRegressor(loss="absolute_error", n_estimators=10,
                                                                    random_state=0),
    "gradient_boosting_huber": lambda: GradientBoostingRegressor(loss="huber", n_estimators=10, random_state=0),
    "gradient_boosting_quantile": lambda: GradientBoostingRegressor(loss="quantile", alpha=0.8, n_estimators=10,
                                                                    random_state=0),
    "pipeline_standard_ridge": lambda: Pipeline([("scale", StandardScaler()), ("model", Ridge())]),
    "pipeline_minmax_forest": lambda: Pipeline([("scale", MinMaxScaler()), ("model", RandomForestRegressor(
        n_estimators=10, max_depth=6, random_state=0))]),
}
CASES = ([(kind, dataset) for dataset in CLASSIFICATION for kind in CLASSIFIERS]
         + [(kind, dataset) for dataset in REGRESSION for kind in REGRESSORS])


@functools.lru_cache(maxsize=None)
def dataset(name):
    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    return np.asarray(X, dtype=np.float64), y


@functools.lru_cache(maxsize=None)
def fitted(kind, dataset_name):
    """The estimator ``kind`` fitted on ``dataset_name`` (once per test session; tests must not change it)."""
    factory = (CLASSIFIERS if dataset_name in CLASSIFICATION else REGRESSORS)[kind]
    X, y = dataset(dataset_name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return factory().fit(X, y)


def final_step(estimator):
    return estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator


def outputs(estimator, X, y):
    """Every output the estimator has: transform, predict, predict_proba, decision_function, score."""
    out = {}
    for method in ("transform", "predict", "predict_proba", "decision_function"):
        if hasattr(estimator, method):
            out[method] = getattr(estimator, method)(X)
    if hasattr(estimator, "score") and not hasattr(estimator, "transform"):
        out["score"] = np.float64(estimator.score(X, y))
    return out


def max_difference(expected, actual):
    """The largest absolute difference of two output dicts (labels compared by equality: 0 or inf)."""
    assert expected.keys() == actual.keys()
    worst = 0.0
    for method, e in expected.items():
        a = actual[method]
        assert np.shape(a) == np.shape(e), method
        if np.asarray(e).dtype.kind in "OUS":
            worst = max(worst, 0.0 if np.array_equal(a, e) else np.inf)
        else:
            worst = max(worst, float(np.max(np.abs(np.asarray(a, dtype=np.float64) - e), initial=0.0)))
    return worst


@pytest.mark.parametrize("kind,dataset_name", CASES, ids=[f"{k}-{d}" for k, d in CASES])
def test_round_trip_predicts_the_same(kind, dataset_name, tmp_path):
    estimator = fitted(kind, dataset_name)
    X, y = dataset(dataset_name)
    path = tmp_path / "model.safetensors"
    sks.save(estimator, path)
    loaded = sks.load(path)
    assert type(loaded) is type(estimator)
    expected, actual = outputs(estimator, X, y), outputs(loaded, X, y)
    if isinstance(final_step(estimator), LINEAR):
        assert max_difference(expected, actual) <= 1e-12
    else:
        for method in expected:
            assert np.array_equal(actual[method], expected[method]), method
    if isinstance(estimator, Pipeline):
        assert [name for name, _ in loaded.steps] == [name for name, _ in estimator.steps]
    else:
        assert loaded.get_params() == estimator.get_params()
    model = final_step(estimator)
    if hasattr(model, "feature_importances_"):
        assert np.array_equal(final_step(loaded).feature_importances_, model.feature_importances_)
    if hasattr(model, "classes_"):
        assert np.array_equal(final_step(loaded).classes_, model.classes_)


def test_the_checker_and_the_builder_allow_the_same_types():
    assert set(_ALLOWED_NAMES) == set(sks._allow_list())


def test_forest_trees_keep_their_random_state(tmp_path):
    forest = fitted("random_forest", "wine")
    sks.save(forest, tmp_path / "f.safetensors")
    loaded = sks.load(tmp_path / "f.safetensors")
    assert [t.random_state for t in loaded.estimators_] == [t.random_state for t in forest.estimators_]
    assert [t.get_params() for t in loaded.estimators_] == [t.get_params() for t in forest.estimators_]


@pytest.mark.parametrize("make", [
    lambda: LogisticRegression(max_iter=5000),
    lambda: DecisionTreeClassifier(max_depth=4, random_state=0),
    lambda: RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0),
    lambda: GradientBoostingClassifier(n_estimators=5, random_state=0),
], ids=["logistic", "tree", "forest", "boosting"])
def test_string_labels_round_trip(make, tmp_path):
    X, y = dataset("iris")
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    model = make().fit(X, names)
    sks.save(model, tmp_path / "m.safetensors")
    loaded = sks.load(tmp_path / "m.safetensors")
    assert np.array_equal(loaded.classes_, model.classes_)
    assert np.array_equal(loaded.predict(X), model.predict(X))
    assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))


@pytest.mark.parametrize("make", [LinearRegression, lambda: Ridge(fit_intercept=False),
                                  lambda: LinearRegression(fit_intercept=False)],
                         ids=["linear", "ridge_no_intercept", "linear_no_intercept"])
def test_several_targets_round_trip(make, tmp_path):
    X, y = dataset("diabetes")
    Y = np.stack([y, -2 * y + 1, np.sqrt(y)], axis=1)
    model = make().fit(X, Y)
    sks.save(model, tmp_path / "m.safetensors")
    loaded = sks.load(tmp_path / "m.safetensors")
    assert np.max(np.abs(loaded.predict(X) - model.predict(X))) <= 1e-12
    assert np.shape(loaded.intercept_) == np.shape(model.intercept_)


@pytest.mark.parametrize("with_mean,with_std", [(True, False), (False, True), (False, False)])
def test_scaler_without_centering_or_scaling_round_trips(with_mean, with_std, tmp_path):
    X, _ = dataset("wine")
    scaler = StandardScaler(with_mean=with_mean, with_std=with_std).fit(X)
    sks.save(scaler, tmp_path / "s.safetensors")
    loaded = sks.load(tmp_path / "s.safetensors")
    for attribute in ("mean_", "var_", "scale_"):
        assert (getattr(loaded, attribute) is None) == (getattr(scaler, attribute) is None), attribute
    assert np.array_equal(loaded.transform(X), scaler.transform(X))
    assert np.array_equal(loaded.inverse_transform(X), scaler.inverse_transform(X))


@pytest.mark.parametrize("make,target", [
    (DecisionTreeRegressor, "constant"),
    (lambda: GradientBoostingRegressor(n_estimators=3), "constant"),
    (lambda: GradientBoostingClassifier(n_estimators=50, n_iter_no_change=1, validation_fraction=0.3,
                                        random_state=0), "binary"),
    (lambda: GradientBoostingClassifier(n_estimators=5, subsample=0.5, random_state=0), "three"),
], ids=["single_leaf_tree", "single_leaf_boosting", "early_stopped_boosting", "subsampled_boosting"])
def test_degenerate_and_early_stopped_models_round_trip(make, target, tmp_path):
    X = np.random.RandomState(0).rand(60, 3)
    y = {"constant": np.zeros(60), "binary": (X[:, 0] > 0.5).astype(int), "three": np.arange(60) % 3}[target]
    model = make().fit(X, y)
    sks.save(model, tmp_path / "m.safetensors")
    loaded = sks.load(tmp_path / "m.safetensors")
    assert np.array_equal(loaded.predict(X), model.predict(X))
    if hasattr(model, "n_estimators_"):
        assert loaded.n_estimators_ == model.n_estimators_ and loaded.estimators_.shape == model.estimators_.shape


def test_nothing_is_unpickled(tmp_path, monkeypatch):
    estimator = fitted("pipeline_minmax_forest", "iris")
    sks.save(estimator, tmp_path / "m.safetensors")

    def refuse(*args, **kwargs):
        raise AssertionError("pickle was used")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    loaded = sks.load(tmp_path / "m.safetensors")
    assert np.array_equal(loaded.predict(dataset("iris")[0]), estimator.predict(dataset("iris")[0]))


def test_the_cpp_rules_check_the_bytes_that_are_rebuilt(tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    sks.save(fitted("ridge", "diabetes"), path)
    calls = []
    check = safeweights._core.check_classic_model
    monkeypatch.setattr(safeweights._core, "check_classic_model", lambda *args: calls.append(args) or check(*args))
    sks.load(path)
    assert calls == [(path.read_bytes(), str(path))]


# -- metadata and feature names


def test_user_metadata_round_trips_and_safeweights_keys_are_reserved(tmp_path):
    path = tmp_path / "m.safetensors"
    sks.save(fitted("logistic_regression", "iris"), path, metadata={"author": "lab 7", "dataset": "iris"})
    with safe_open(path, "numpy") as f:
        metadata = f.metadata()
    assert metadata["author"] == "lab 7" and metadata["dataset"] == "iris"
    assert json.loads(metadata["safeweights.sklearn"])["estimator"]["type"] == "LogisticRegression"
    assert set(metadata) == {"author", "dataset", "safeweights.sklearn"}
    other = tmp_path / "other.safetensors"
    with pytest.raises(safeweights.InvalidArgumentError, match="'safeweights.note' is reserved"):
        sks.save(fitted("logistic_regression", "iris"), other, metadata={"safeweights.note": "x"})
    with pytest.raises(safeweights.InvalidArgumentError, match="str to str"):
        sks.save(fitted("logistic_regression", "iris"), other, metadata={"epoch": 3})
    assert not other.exists()


def test_feature_names_round_trip(tmp_path):
    X, y = dataset("iris")
    names = np.array(["sepal length", "sepal width", "petal length", "petal width"], dtype=object)
    model = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression(max_iter=5000))]).fit(X, y)
    for _, step in model.steps:  # as a DataFrame's fit would set them (pandas is not needed here)
        step.feature_names_in_ = names
    sks.save(model, tmp_path / "m.safetensors")
    loaded = sks.load(tmp_path / "m.safetensors")
    assert loaded.feature_names_in_.dtype == object
    assert list(loaded.feature_names_in_) == list(names)
    assert list(loaded.steps[0][1].get_feature_names_out()) == list(names)


def test_feature_names_are_absent_when_fitted_on_arrays(tmp_path):
    sks.save(fitted("random_forest", "iris"), tmp_path / "m.safetensors")
    assert not hasattr(sks.load(tmp_path / "m.safetensors"), "feature_names_in_")


# -- what save refuses


def multi_output_tree():
    X, y = dataset("diabetes")
    return DecisionTreeRegressor(max_depth=3).fit(X, np.stack([y, y], axis=1))


class MyLogisticRegression(LogisticRegression):
    pass


@pytest.mark.parametrize("make,named", [
    (lambda: SVC().fit(*dataset("iris")), "sklearn.svm._classes.SVC"),
    (lambda: MyLogisticRegression(max_iter=5000).fit(*dataset("iris")), "MyLogisticRegression"),
    (multi_output_tree, "multi-output"),
    (lambda: GradientBoostingRegressor(n_estimators=3, init=DummyRegressor()).fit(*dataset("diabetes")),
     "init=DummyRegressor()"),
    (lambda: GradientBoostingClassifier(n_estimators=3, loss="exponential").fit(*dataset("breast_cancer")),
     "loss='exponential'"),
    (lambda: GradientBoostingRegressor(n_estimators=3, init="zero").fit(*dataset("diabetes")), "init='zero'"),
    (lambda: Pipeline([("skip", "passthrough"), ("model", Ridge())]).fit(*dataset("diabetes")), "'passthrough'"),
    (lambda: Pipeline([("scale", StandardScaler()), ("svm", SVC())]).fit(*dataset("iris")), "SVC"),
    (lambda: LogisticRegression(class_weight={0: 1, 1: 2, 2: 1}, max_iter=5000).fit(*dataset("iris")),
     "class_weight"),
    (lambda: LogisticRegression(max_iter=5000).fit(dataset("iris")[0], dataset("iris")[1] + 0.0),
     "labels of dtype float64"),
], ids=["svc", "subclass", "multi_output", "boosting_init", "exponential_loss", "boosting_zero_init",
        "passthrough_step", "svc_in_pipeline", "class_weight_dict", "float_labels"])
def test_save_refuses_what_is_not_supported(make, named, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = make()
    path = tmp_path / "m.safetensors"
    with pytest.raises(safeweights.UnsupportedModelError) as caught:
        sks.save(model, path)
    assert named in str(caught.value)
    assert not path.exists()


@pytest.mark.parametrize("model", [LogisticRegression(), RandomForestClassifier(),
                                   Pipeline([("scale", StandardScaler()), ("model", Ridge())])],
                         ids=["logistic", "forest", "pipeline"])
def test_save_refuses_an_unfitted_estimator(model, tmp_path):
    path = tmp_path / "m.safetensors"
    with pytest.raises(safeweights.InvalidArgumentError, match="is not fitted: call fit before save"):
        sks.save(model, path)
    assert not path.exists()


# -- what load refuses: a valid file with one thing changed


def read_model(path):
    """(description, tensors) of a saved model, to corrupt and write back."""
    with safe_open(path, "numpy") as f:
        description = json.loads(f.metadata()["safeweights.sklearn"])
    return description, dict(load_file(path, copy=True))


def write_model(path, description, tensors, text=None):
    metadata = {"safeweights.sklearn": json.dumps(description) if text is None else text}
    save_file(tensors, path, metadata=metadata)


@functools.lru_cache(maxsize=None)
def saved(kind, dataset_name, directory):
    path = pathlib.Path(directory) / f"{kind}_{dataset_name}.safetensors"
    sks.save(fitted(kind, dataset_name), path)
    return path


@pytest.fixture(scope="module")
def valid_files(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("valid"))
    return lambda kind, dataset_name: saved(kind, dataset_name, directory)


def first_split(t):
    """The first node of tree 0 that is a split (the root of a fitted tree)."""
    return int(np.flatnonzero(t["trees.children_left"][: t["trees.node_offset"][1]] != -1)[0])


def last_split(t):
    """The last split of tree 0."""
    return int(np.flatnonzero(t["trees.children_left"][: t["trees.node_offset"][1]] != -1)[-1])


def set_at(name, index, value):
    def change(d, t):
        t[name][index] = value
    return change


def cycle(d, t):
    node = last_split(t)
    t["trees.children_left"][node] = node  # a node that is its own child


def back_to_root(d, t):
    t["trees.children_right"][last_split(t)] = 0


def twice(d, t):
    t["trees.children_right"][0] = t["trees.children_left"][0]


def child_outside_tree(d, t):
    t["trees.children_left"][0] = t["trees.node_offset"][1]  # the first node of tree 1


def leaf_with_one_child(d, t):
    leaf = int(np.flatnonzero(t["trees.children_left"] == -1)[0])
    t["trees.children_right"][leaf] = leaf + 1


def offsets_not_increasing(d, t):
    t["trees.node_offset"][2] = t["trees.node_offset"][1]


def offsets_not_from_zero(d, t):
    t["trees.node_offset"][0] = 1


def drop_class(d, t):
    d["estimator"]["classes"] = d["estimator"]["classes"][:-1]


def missing(name):
    def change(d, t):
        del t[name]
    return change


def extra(d, t):
    t["stowaway"] = np.zeros(3)


def as_dtype(name, dtype):
    def change(d, t):
        t[name] = t[name].astype(dtype)
    return change


def reshaped(name, shape):
    def change(d, t):
        t[name] = t[name].reshape(shape)
    return change


def described(*keys, value):
    def change(d, t):
        node = d
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
    return change


def undescribed(key):
    def change(d, t):
        del d["estimator"][key]
    return change


def step_width(d, t):
    d["estimator"]["steps"][1]["estimator"]["n_features_in"] = 3
    t["steps.1.coef_"] = np.ascontiguousarray(t["steps.1.coef_"][:, :3])


# (id, base model, change, exception, what the message names)
CORRUPTIONS = [
    ("child_out_of_range", ("random_forest", "iris"), set_at("trees.children_left", 0, 10_000),
     "InvalidModelError", "tensor `trees.children_left`: node 0 of tree 0"),
    ("child_negative", ("decision_tree", "wine"), set_at("trees.children_right", 0, -7),
     "InvalidModelError", "tensor `trees.children_right`: node 0"),
    ("child_outside_its_tree", ("random_forest", "iris"), child_outside_tree,
     "InvalidModelError", "tensor `trees.children_left`"),
    ("cycle_to_itself", ("decision_tree", "wine"), cycle, "InvalidModelError", "tensor `trees.children_left`"),
    ("cycle_to_root", ("gradient_boosting", "iris"), back_to_root, "InvalidModelError",
     "tensor `trees.children_right`"),
    ("node_reached_twice", ("decision_tree", "breast_cancer"), twice, "InvalidModelError",
     "tensor `trees.children_right`: node 0 of tree 0 (element 0) has child 1, which is already another node's child"),
    ("leaf_with_one_child", ("decision_tree", "iris"), leaf_with_one_child, "InvalidModelError",
     "tensor `trees.children_left`: node 1 of tree 0 (element 1) has child -1 (a leaf's) beside a split's"),
    ("offsets_not_increasing", ("random_forest", "wine"), offsets_not_increasing, "InvalidModelError",
     "tensor `trees.node_offset`: tree 1 has no nodes"),
    ("offsets_not_from_zero", ("random_forest", "wine"), offsets_not_from_zero, "InvalidModelError",
     "tensor `trees.node_offset`: element 0 is 1"),
    ("feature_too_large", ("random_forest", "breast_cancer"), set_at("trees.feature", 0, 30),
     "InvalidModelError", "tensor `trees.feature`: node 0 of tree 0 (element 0) splits on feature 30, outside [0, 30)"),
    ("feature_negative", ("decision_tree", "iris"), set_at("trees.feature", 0, -2),
     "InvalidModelError", "tensor `trees.feature`: node 0 of tree 0 (element 0) splits on feature -2, outside [0, 4)"),
    ("threshold_nan", ("gradient_boosting", "diabetes"), set_at("trees.threshold", 0, np.nan),
     "InvalidModelError", "tensor `trees.threshold`: node 0 of tree 0 (element 0) has threshold nan, not finite"),
    ("threshold_inf", ("random_forest", "diabetes"), set_at("trees.threshold", 0, np.inf),
     "InvalidModelError", "tensor `trees.threshold`"),
    ("value_nan", ("random_forest", "iris"), set_at("trees.value", (3, 0, 1), np.nan),
     "InvalidModelError", "tensor `trees.value`: element 10 is nan"),
    ("classes_wrong_size_tree", ("random_forest", "iris"), drop_class, "InvalidModelError",
     "tensor `trees.value`: shape [158, 1, 3], expected [158, 1, 2]"),
    ("classes_wrong_size_logistic", ("logistic_regression", "digits"), drop_class, "InvalidModelError",
     "tensor `coef_`: shape [10, 64], expected [9, 64]"),
    ("classes_wrong_size_binary", ("logistic_regression_multinomial", "wine"), drop_class, "InvalidModelError",
     "tensor `coef_`: shape [3, 13], expected [1, 13]"),
    ("classes_wrong_size_boosting", ("gradient_boosting", "wine"), drop_class, "InvalidModelError",
     'metadata "safeweights.sklearn": estimator: `trees_per_stage` is 3, not 1'),
    ("classes_too_few", ("decision_tree", "iris"), described("estimator", "classes", value=[0]),
     "InvalidModelError", 'metadata "safeweights.sklearn": estimator: `classes` has 1 labels; a classifier needs 2 or more'),
    ("classes_repeated", ("decision_tree", "iris"), described("estimator", "classes", value=[0, 0, 2]),
     "InvalidModelError", 'metadata "safeweights.sklearn": estimator: `classes` is not in increasing order: 0 after 0'),
    ("missing_tensor", ("random_forest", "iris"), missing("trees.impurity"), "InvalidModelError",
     "no tensor `trees.impurity` (RandomForestClassifier at estimator needs it)"),
    ("missing_init", ("gradient_boosting", "iris"), missing("init.class_prior_"), "InvalidModelError",
     "no tensor `init.class_prior_` (GradientBoostingClassifier at estimator needs it)"),
    ("extra_tensor", ("ridge", "diabetes"), extra, "InvalidModelError",
     "tensor `stowaway` belongs to no estimator of the description"),
    ("wrong_dtype_float32", ("decision_tree", "digits"), as_dtype("trees.threshold", np.float32),
     "InvalidModelError", "tensor `trees.threshold`: dtype F32, expected F64"),
    ("wrong_dtype_int32", ("decision_tree", "digits"), as_dtype("trees.feature", np.int32),
     "InvalidModelError", "tensor `trees.feature`: dtype I32, expected I64"),
    ("wrong_shape", ("logistic_regression", "iris"), reshaped("coef_", (4, 3)), "InvalidModelError",
     "tensor `coef_`: shape [4, 3], expected [3, 4]"),
    ("node_arrays_disagree", ("random_forest", "iris"), lambda d, t: t.update(
        {"trees.impurity": t["trees.impurity"][:-1]}), "InvalidModelError", "tensor `trees.impurity`: shape [157], expected [158]"),
    ("coef_nan", ("linear_regression", "diabetes"), set_at("coef_", 4, np.nan), "InvalidModelError",
     "tensor `coef_`: element 4 is nan"),
    ("intercept_inf", ("logistic_regression", "iris"), set_at("intercept_", 1, -np.inf), "InvalidModelError",
     "tensor `intercept_`: element 1 is -inf"),
    ("scale_zero", ("standard_scaler", "iris"), set_at("scale_", 2, 0.0), "InvalidModelError",
     "tensor `scale_`: element 2 is 0"),
    ("scaler_flag_not_bool", ("standard_scaler", "iris"), described("estimator", "params", "with_std", value=1),
     "InvalidModelError", 'metadata "safeweights.sklearn": estimator: params.with_std is not a boolean'),
    ("scaler_width", ("minmax_scaler", "wine"), reshaped("data_min_", (13, 1)), "InvalidModelError",
     "tensor `data_min_`: shape [13, 1], expected [13]"),
    ("init_raw_prediction_disagrees", ("gradient_boosting", "breast_cancer"), set_at("init_raw_prediction", 0, 0.5),
     "InvalidModelError", "tensor `init_raw_prediction`: element 0 is 0.500000, but init.class_prior_ gives 0.521150"),
    ("learning_rate_disagrees", ("gradient_boosting", "diabetes"), described("estimator", "learning_rate",
                                                                            value=0.5),
     "InvalidModelError", 'metadata "safeweights.sklearn": estimator: params.learning_rate is not `learning_rate` (0.500000)'),
    ("multi_class_disagrees", ("logistic_regression", "iris"), described("estimator", "multi_class", value="ovr"),
     "InvalidModelError", 'metadata "safeweights.sklearn": estimator: `multi_class` is "ovr", but params.multi_class "auto" resolves to "multinomial"'),
    ("pipeline_widths", ("pipeline_standard_logistic", "iris"), step_width, "InvalidModelError",
     "estimator.steps[1].estimator: `n_features_in` is 3; the previous step's output is 4"),
    ("pipeline_prefix", ("pipeline_standard_logistic", "iris"),
     described("estimator", "steps", 1, "estimator", "prefix", value="steps.0."), "InvalidModelError",
     'metadata "safeweights.sklearn": estimator.steps[1].estimator: `prefix` is "steps.0."; its place in the description makes it "steps.1."'),
    ("pipeline_step_in_a_pipeline", ("pipeline_minmax_forest", "wine"),
     lambda d, t: d["estimator"]["steps"].reverse(), "InvalidModelError", 'metadata "safeweights.sklearn": estimator.steps[0].estimator: `prefix` is "steps.1."; its place in the description makes it "steps.0."'),
    ("format_version", ("ridge", "diabetes"), described("format_version", value=2), "InvalidModelError",
     'metadata "safeweights.sklearn": `format_version` is 2; this reader knows version 1'),
    ("format", ("ridge", "diabetes"), described("format", value="pickle"), "InvalidModelError",
     'metadata "safeweights.sklearn": `format` is "pickle", not "safeweights.sklearn"'),
    ("no_estimator_type", ("ridge", "diabetes"), undescribed("type"), "InvalidModelError",
     'metadata "safeweights.sklearn": estimator: no "type"'),
    ("n_features_in_bool", ("ridge", "diabetes"), described("estimator", "n_features_in", value=True),
     "InvalidModelError", 'metadata "safeweights.sklearn": estimator: "n_features_in" is not an integer'),
    ("feature_names_wrong_count", ("ridge", "diabetes"), described("estimator", "feature_names_in", value=["a"]),
     "InvalidModelError", 'metadata "safeweights.sklearn": estimator: `feature_names_in` has 1 names for 10 features'),
    ("n_trees_wrong", ("random_forest", "iris"), described("estimator", "n_trees", value=9), "InvalidModelError",
     'metadata "safeweights.sklearn": estimator: `max_depth` has 10 entries for 9 trees'),
    ("max_depth_too_large", ("gradient_boosting", "iris"), described("estimator", "max_depth", 0, value=2**70),
     "InvalidModelError", 'metadata "safeweights.sklearn": not JSON: Problem while parsing a number'),
    ("n_samples_seen_too_large", ("standard_scaler", "iris"), described("estimator", "n_samples_seen", value=2**64),
     "InvalidModelError", 'metadata "safeweights.sklearn": not JSON: Problem while parsing a number'),
    ("params_not_json_shaped", ("ridge", "diabetes"), described("estimator", "params", "alpha", value={"x": 1}),
     "InvalidModelError", 'metadata "safeweights.sklearn": estimator: params.alpha is not a JSON scalar or a list of scalars'),
    ("params_unknown", ("ridge", "diabetes"), described("estimator", "params", "bogus", value=1),
     "InvalidModelError", "`estimator.params.bogus`: Ridge has no parameter 'bogus'"),
    ("params_refused_by_sklearn", ("logistic_regression", "iris"),
     described("estimator", "params", "penalty", value="l3"), "InvalidModelError",
     "`estimator.params`: scikit-learn refuses them"),
    ("type_os_system", ("ridge", "diabetes"), described("estimator", "type", value="os.system"),
     "UnsupportedModelError", 'metadata "safeweights.sklearn": estimator: estimator type "os.system" is not on the allow-list (spec/CLASSIC.md C2)'),
    ("type_builtins_eval", ("ridge", "diabetes"), described("estimator", "type", value="builtins.eval"),
     "UnsupportedModelError", 'metadata "safeweights.sklearn": estimator: estimator type "builtins.eval" is not on the allow-list (spec/CLASSIC.md C2)'),
    ("type_unknown", ("ridge", "diabetes"), described("estimator", "type", value="SVC"),
     "UnsupportedModelError", 'metadata "safeweights.sklearn": estimator: estimator type "SVC" is not on the allow-list (spec/CLASSIC.md C2)'),
    ("type_in_pipeline", ("pipeline_standard_logistic", "iris"),
     described("estimator", "steps", 0, "estimator", "type", value="sklearn.preprocessing.FunctionTransformer"),
     "UnsupportedModelError", 'metadata "safeweights.sklearn": estimator.steps[0].estimator: estimator type "sklearn.preprocessing.FunctionTransformer" is not on the allow-list (spec/CLASSIC.md C2)'),
    ("boosting_init", ("gradient_boosting", "diabetes"),
     described("estimator", "params", "init", value="sklearn.dummy.DummyRegressor"), "UnsupportedModelError",
     'metadata "safeweights.sklearn": estimator: params.init is not the default (null): only the default initial estimator is supported'),
    ("boosting_exponential", ("gradient_boosting", "breast_cancer"),
     described("estimator", "params", "loss", value="exponential"), "UnsupportedModelError",
     'metadata "safeweights.sklearn": estimator: params.loss "exponential" is not supported for GradientBoostingClassifier'),
]


@pytest.mark.parametrize("base,change,exception,named", [c[1:] for c in CORRUPTIONS],
                         ids=[c[0] for c in CORRUPTIONS])
def test_load_refuses_a_broken_file(base, change, exception, named, valid_files, tmp_path):
    description, tensors = read_model(valid_files(*base))
    change(description, tensors)
    path = tmp_path / "broken.safetensors"
    write_model(path, description, tensors)
    with pytest.raises(getattr(safeweights, exception)) as caught:
        sks.load(path)
    assert named in str(caught.value)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("text,named", [
    ('{"format": "safeweights.sklearn", "format_version": 1, "estimator": {', "not JSON"),
    ('[1, 2]', "not a JSON object"),
    ('{"format": "safeweights.sklearn", "format_version": 1, "estimator": {"type": "Ridge", "n": NaN}}',
     "not JSON"),
], ids=["truncated", "not_an_object", "nan"])
def test_load_refuses_a_malformed_description(text, named, valid_files, tmp_path):
    _, tensors = read_model(valid_files("ridge", "diabetes"))
    path = tmp_path / "broken.safetensors"
    write_model(path, None, tensors, text=text)
    with pytest.raises(safeweights.InvalidModelError, match="safeweights.sklearn") as caught:
        sks.load(path)
    assert named in str(caught.value)


def test_a_dtype_numpy_lacks_is_named_by_its_code(valid_files, tmp_path):
    description, tensors = read_model(valid_files("ridge", "diabetes"))
    coef = tensors.pop("coef_")
    path = tmp_path / "bf16.safetensors"
    specs = {name: {"dtype": "F64", "shape": list(a.shape), "data": a.tobytes()} for name, a in tensors.items()}
    specs["coef_"] = {"dtype": "BF16", "shape": list(coef.shape), "data": bytes(2 * coef.size)}
    safeweights.serialize_file(specs, path, metadata={"safeweights.sklearn": json.dumps(description)})
    with pytest.raises(safeweights.InvalidModelError, match="tensor `coef_`: dtype BF16, expected F64"):
        sks.load(path)


def test_load_refuses_a_file_without_a_description(tmp_path):
    path = tmp_path / "plain.safetensors"
    save_file({"w": np.zeros(3)}, path, metadata={"format": "np"})
    with pytest.raises(safeweights.InvalidModelError, match="no metadata key `safeweights.sklearn`"):
        sks.load(path)


@pytest.mark.parametrize("module,name", [("xmlrpc.server", "SimpleXMLRPCServer"), ("ftplib", "FTP"),
                                         ("turtle", "Turtle")])
def test_a_type_the_file_names_is_never_imported(module, name, valid_files, tmp_path):
    description, tensors = read_model(valid_files("ridge", "diabetes"))
    description["estimator"]["type"] = f"{module}.{name}"
    path = tmp_path / "evil.safetensors"
    write_model(path, description, tensors)
    assert module not in sys.modules  # else the test would prove nothing
    with pytest.raises(safeweights.UnsupportedModelError, match=f'"{module}.{name}"'):
        sks.load(path)
    assert module not in sys.modules


# -- the fixtures for the C++ reader: they load, and spec/CLASSIC.md C5's formulas give their expectations

FIXTURE_FILES = sorted(FIXTURES.glob("*.safetensors"))


def expectations(path):
    stem = str(path)[: -len(".safetensors")]
    found = {}
    for suffix in ("transform", "predict", "proba"):
        file = pathlib.Path(f"{stem}.{suffix}.npy")
        if file.exists():
            found[suffix] = np.load(file)
    return np.load(f"{stem}.X.npy"), found


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=[p.stem for p in FIXTURE_FILES])
def test_fixture_loads_and_predicts_its_expectations(path):
    X, expected = expectations(path)
    model = sks.load(path)
    methods = {"transform": "transform", "predict": "predict", "proba": "predict_proba"}
    for suffix, values in expected.items():
        assert np.array_equal(getattr(model, methods[suffix])(X), values), suffix


def sigmoid(s):
    return 1 / (1 + np.exp(-s))


def softmax(s):
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def leaf_values(t, X):
    """[trees, rows, V]: each tree's leaf value for each row, walking as C3 says (float32 inputs)."""
    offsets, left, right = t["trees.node_offset"], t["trees.children_left"], t["trees.children_right"]
    X32, rows = X.astype(np.float32), np.arange(len(X))
    out = []
    for start in offsets[:-1]:
        node = np.zeros(len(X), dtype=np.int64)
        while True:
            at = start + node
            leaf = left[at] == -1
            if leaf.all():
                break
            go_left = X32[rows, np.where(leaf, 0, t["trees.feature"][at])] <= t["trees.threshold"][at]
            node = np.where(leaf, node, np.where(go_left, left[at], right[at]))
        out.append(t["trees.value"][start + node][:, 0, :])
    return np.array(out)


def spec_predict(node, tensors, X):
    """spec/CLASSIC.md C5 from the tensors alone: the transform, the probabilities or the regression."""
    own = {k[len(node["prefix"]):]: v for k, v in tensors.items() if k.startswith(node["prefix"])}
    kind, params = node["type"], node["params"]
    if kind == "Pipeline":
        for step in node["steps"][:-1]:
            X = spec_predict(step["estimator"], tensors, X)
        return spec_predict(node["steps"][-1]["estimator"], tensors, X)
    if kind == "StandardScaler":
        X = X - own["mean_"] if params["with_mean"] else X
        return X / own["scale_"] if params["with_std"] else X
    if kind == "MinMaxScaler":
        X = X * own["scale_"] + own["min_"]
        return np.clip(X, *params["feature_range"]) if params["clip"] else X
    if kind in ("LinearRegression", "Ridge"):
        return X @ own["coef_"].T + own["intercept_"]
    if kind == "LogisticRegression":
        s = X @ own["coef_"].T + own["intercept_"]
        if s.shape[1] == 1:
            s = s[:, 0] * (2 if node["multi_class"] == "multinomial" else 1)
            return np.stack([1 - sigmoid(s), sigmoid(s)], axis=1)
        if node["multi_class"] == "ovr":
            return sigmoid(s) / sigmoid(s).sum(axis=1, keepdims=True)
        return softmax(s)
    values = leaf_values(own, X)
    if kind in ("DecisionTreeClassifier", "RandomForestClassifier"):
        sums = values.sum(axis=2, keepdims=True)
        return np.where(sums == 0, values, values / np.where(sums == 0, 1, sums)).mean(axis=0)
    if kind in ("DecisionTreeRegressor", "RandomForestRegressor"):
        return values.mean(axis=0)[:, 0]
    per_stage = node["trees_per_stage"]
    raw = own["init_raw_prediction"] + node["learning_rate"] * values[:, :, 0].reshape(
        -1, per_stage, len(X)).sum(axis=0).T
    if kind == "GradientBoostingRegressor":
        return raw[:, 0]
    return np.stack([1 - sigmoid(raw[:, 0]), sigmoid(raw[:, 0])], axis=1) if per_stage == 1 else softmax(raw)


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=[p.stem for p in FIXTURE_FILES])
def test_fixture_expectations_follow_the_spec_formulas(path):
    X, expected = expectations(path)
    description, tensors = read_model(path)
    root = description["estimator"]
    out = spec_predict(root, tensors, X)
    last = root["steps"][-1]["estimator"] if root["type"] == "Pipeline" else root
    for suffix, values in expected.items():
        if suffix == "predict" and "classes" in last:
            assert np.array_equal(np.array(last["classes"])[out.argmax(axis=1)], values)
        else:
            assert np.max(np.abs(out - values)) <= 1e-12, suffix
