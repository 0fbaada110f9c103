"""safeweights.registry: a versioned model registry, from Python.

The same C++ core as ``safeweights registry`` (spec/REGISTRY.md): an SQLite
database of models, versions, their files and aliases, with an append-only
audit log, over a store of the files named by their SHA-256. It replaces
``model_v2_2024-01-15.joblib`` + a ``current`` symlink + a CSV::

    reg = Registry.init("/srv/models")
    reg.add("model.safetensors", "churn", note="retrained on January")
    reg.alias("churn@3", "production")
    with safeweights.safe_open(reg.resolve("churn@production"), "np") as f:
        ...
    reg.rollback("churn", "production")

``resolve`` re-hashes what it hands out and raises DigestMismatchError for
a stored file that changed. Errors are the package's (SafetensorError
subclasses by the core's code): ModelNotFoundError for an unknown model,
version or alias, ``RegistryFailedError`` for a
missing or broken registry, ValueError (InvalidArgumentError) for a bad
name or a duplicate version.
"""

import json
import os

from . import _core

__all__ = ["Registry"]


def _path(p):
    return os.fsdecode(os.fspath(p))


def _version(d):
    """A version dict, with each file's __metadata__ parsed (None for files that are not safetensors)."""
    for f in d["files"]:
        text = f.pop("metadata_json")
        f["metadata"] = None if text is None else json.loads(text)
    return d


class Registry:
    """A registry directory. Open one with ``Registry.open(dir)`` or create it with ``Registry.init(dir)``."""

    def __init__(self, core):
        self._core = core

    @classmethod
    def open(cls, directory):
        """Opens the registry in ``directory``; RegistryError when there is none."""
        return cls(_core.Registry.open(_path(directory)))

    @classmethod
    def init(cls, directory):
        """Creates a registry in ``directory`` (or opens the one there)."""
        return cls(_core.Registry.init(_path(directory)))

    @property
    def directory(self):
        return self._core.dir

    def add(self, path, name, version=None, note=None, *, link=False):
        """Stores a .safetensors file or a model directory as a new version of ``name``.

        ``version`` labels it (default: the next number, "1", "2", ...); a label
        the model already has raises InvalidArgumentError. ``link`` hard-links
        the files in instead of copying them. Returns the version (a dict).
        """
        return _version(self._core.add(_path(path), name, version, note, link))

    def resolve(self, ref, *, sizes_only=False):
        """The path to load ``ref`` ("name", "name@3", "name@production") from, as str.

        A single-file version gives its stored file, a directory version its
        model directory. Every file is re-hashed first (``sizes_only`` checks
        sizes only); a changed one raises DigestMismatchError.
        """
        return self._core.resolve(ref, sizes_only)

    def alias(self, ref, alias):
        """Points ``name@alias`` at the version ``ref`` names; returns {model, alias, previous, current}."""
        return self._core.alias(ref, alias)

    def rollback(self, name, alias):
        """Points ``name@alias`` back at its previous target; returns {model, alias, previous, current}."""
        return self._core.rollback(name, alias)

    def list(self, name=None):
        """Every version (of ``name``), by model, oldest first: a list of dicts."""
        return [_version(v) for v in self._core.list(name)]

    def show(self, ref):
        """One version, with its files (path, sha256, size, metadata)."""
        return _version(self._core.show(ref))

    def verify(self, key=None):
        """Re-hashes every stored file and checks each model.sig (with ``key``, a PEM public key file, fully).

        Returns {ok, versions, objects, bytes, signatures, problems, notes}.
        """
        return self._core.verify(None if key is None else _path(key))

    def gc(self, keep):
        """Keeps the newest ``keep`` versions per model (and every aliased one); removes the rest and unreferenced files."""
        return self._core.gc(int(keep))

    def log(self):
        """The audit log, oldest first: [{id, at, user, action, model, version, detail}]."""
        return self._core.log()

    def __repr__(self):
        return f"Registry({self.directory!r})"
