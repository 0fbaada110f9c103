"""safeweights.integrity: SHA-256 digests, seals and seal checks from Python.

A seal (spec/EXTENSIONS.md) records each tensor's SHA-256 in the file's
__metadata__; ``verify`` re-hashes every tensor and names each that differs.
"""

import os

from . import _core
from ._errors import error


def _path(p):
    return os.fsdecode(os.fspath(p))


def digest(path):
    """The SHA-256 of the whole file, as lowercase hex (what ``sha256sum`` prints)."""
    return _core.file_sha256(_path(path))


def tensor_digests(path):
    """{name: SHA-256 hex of the tensor's bytes}, in file order."""
    return _core.tensor_sha256(_path(path))


def seal(source, destination):
    """Writes a sealed copy of ``source`` to ``destination`` (atomically)."""
    _core.seal(_path(source), _path(destination))


class SealReport:
    """What ``verify`` found: tensors checked and one message per tensor that differs."""

    def __init__(self, tensors, failures):
        self.tensors = tensors
        self.failures = list(failures)

    @property
    def ok(self):
        return not self.failures

    def __bool__(self):
        return self.ok

    def __repr__(self):
        return f"SealReport(tensors={self.tensors}, failures={self.failures!r})"


def verify(path, *, check=False):
    """Re-hashes every tensor of a sealed file against its seal.

    Returns a SealReport; with ``check=True`` raises DigestMismatchError
    listing every tensor that differs instead. A file without a seal raises
    NotSealedError.
    """
    tensors, failures = _core.verify_seal(_path(path))
    report = SealReport(tensors, failures)
    if check and failures:
        raise error("digest_mismatch", "; ".join(failures))
    return report
