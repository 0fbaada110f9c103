#!/usr/bin/env python3
"""The C++ reader (through `safeweights predict`) against scikit-learn on many
more rows than the fixtures hold: every row of each dataset plus 2000 rows
drawn from it with noise of 0.3 of each feature's deviation (outside the
training range too: MinMaxScaler's clip, trees' far branches). Refits each
fixture's estimator as tests/data/classic/make_fixtures.py does (same seeds, so
the same model) and prints, per fixture, how many labels differ and the largest
|C++ - scikit-learn|. Not part of `meson test` (it needs scikit-learn):

    /usr/bin/python3 tests/classic_crosscheck.py [BUILD_DIR]
"""
import pathlib
import subprocess
import sys
import tempfile
import types
import warnings

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
# make_fixtures.py imports safeweights.sklearn to save; only its estimator lists are used here.
sys.modules.setdefault("safeweights", types.ModuleType("safeweights"))
sys.modules.setdefault("safeweights.sklearn", types.ModuleType("safeweights.sklearn"))
sys.path.insert(0, str(ROOT / "tests" / "data" / "classic"))
import make_fixtures as mf  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

D = ROOT / "tests" / "data" / "classic"
CLI = str(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "build") / "src" / "cli" / "safeweights")
rng = np.random.default_rng(1)
tmp = pathlib.Path(tempfile.mkdtemp())
for dataset in mf.CLASSIFICATION + mf.REGRESSION:
    X, y = mf.load_dataset(dataset)
    noisy = X[rng.integers(0, len(X), 2000)] + rng.normal(size=(2000, X.shape[1])) * 0.3 * X.std(axis=0)
    rows = np.ascontiguousarray(np.vstack([X, noisy]))
    np.save(tmp / 'x.npy', rows)
    kinds = mf.classifiers() if dataset in mf.CLASSIFICATION else mf.regressors()
    for kind, factory in kinds:
        name = f"{kind}_{dataset}"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = factory().fit(X, y)
        out = []
        if hasattr(model, 'transform'):
            subprocess.run([CLI, 'predict', '--output', str(tmp/'o.npy'), str(D/f'{name}.safetensors'), str(tmp/'x.npy')], check=True, capture_output=True)
            d = np.abs(np.load(tmp/'o.npy') - model.transform(rows)).max(); out.append(('transform', d))
        else:
            subprocess.run([CLI, 'predict', '--output', str(tmp/'o.npy'), str(D/f'{name}.safetensors'), str(tmp/'x.npy')], check=True, capture_output=True)
            p = np.load(tmp/'o.npy'); want = model.predict(rows)
            if hasattr(model, 'predict_proba'):
                out.append(('labels differ', int((p != want).sum())))
            else:
                out.append(('predict', np.abs(p - want).max()))
        if hasattr(model, 'predict_proba'):
            subprocess.run([CLI, 'predict', '--proba', '--output', str(tmp/'o.npy'), str(D/f'{name}.safetensors'), str(tmp/'x.npy')], check=True, capture_output=True)
            out.append(('proba', np.abs(np.load(tmp/'o.npy') - model.predict_proba(rows)).max()))
        print(name, len(rows), out)
