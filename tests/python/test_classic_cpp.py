"""Python saves, C++ predicts: every estimator kind of tests/data/classic/make_fixtures.py on the
five bundled datasets, fitted here, saved with safeweights.sklearn.save and run by the C++ reader
through `safeweights predict`, on every row of the dataset plus 500 noisy rows (outside the
training range too: MinMaxScaler's clip, the trees' far branches). Labels must be equal;
probabilities, values and transforms within 1e-9 of scikit-learn's.

The CLI is the build's (SAFEWEIGHTS_CLI, which scripts/test sets; else build/src/cli/safeweights).
"""

import os
import pathlib
import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import safeweights.sklearn as sks

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT / "tests" / "data" / "classic"))
import make_fixtures as mf  # noqa: E402

CLI = pathlib.Path(os.environ.get("SAFEWEIGHTS_CLI", ROOT / "build" / "src" / "cli" / "safeweights"))
CASES = [(kind, dataset, factory)
         for dataset in mf.CLASSIFICATION + mf.REGRESSION
         for kind, factory in (mf.classifiers() if dataset in mf.CLASSIFICATION else mf.regressors())]
TOLERANCE = 1e-9


def predict_in_cpp(model_path, rows_path, out_path, *options):
    done = subprocess.run([str(CLI), "predict", *options, "--output", str(out_path), str(model_path),
                           str(rows_path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return np.load(out_path)


@pytest.mark.skipif(not CLI.exists(), reason=f"no safeweights CLI at {CLI} (build it, or set SAFEWEIGHTS_CLI)")
@pytest.mark.parametrize("kind,dataset,factory", CASES, ids=[f"{k}-{d}" for k, d, _ in CASES])
def test_cpp_predicts_what_scikit_learn_predicts(kind, dataset, factory, tmp_path):
    X, y = mf.load_dataset(dataset)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = factory().fit(X, y)
    model_path = tmp_path / "model.safetensors"
    sks.save(model, model_path)
    rng = np.random.default_rng(sum(map(ord, kind + dataset)))
    noisy = X[rng.integers(0, len(X), 500)] + rng.normal(size=(500, X.shape[1])) * 0.3 * X.std(axis=0)
    rows = np.ascontiguousarray(np.vstack([X, noisy]))
    rows_path = tmp_path / "rows.npy"
    np.save(rows_path, rows)
    out = tmp_path / "out.npy"
    if hasattr(model, "transform") and not hasattr(model, "predict"):
        got = predict_in_cpp(model_path, rows_path, out)
        assert np.abs(got - model.transform(rows)).max() <= TOLERANCE
        return
    got = predict_in_cpp(model_path, rows_path, out)
    want = model.predict(rows)
    if hasattr(model, "predict_proba"):
        assert np.array_equal(got, want.astype(np.float64)), f"{int((got != want).sum())} labels differ"
        proba = predict_in_cpp(model_path, rows_path, out, "--proba")
        assert proba.shape == (len(rows), len(model.classes_))
        assert np.abs(proba - model.predict_proba(rows)).max() <= TOLERANCE
    else:
        assert np.abs(got - want).max() <= TOLERANCE
