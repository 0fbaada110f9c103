"""safeweights.numpy: the reference's safetensors.numpy API over the C++ core."""

import os

import numpy as np

from . import _core
from ._dtypes import numpy_code
from ._errors import error
from ._open import safe_open


def _entries(tensor_dict):
    if not isinstance(tensor_dict, dict):
        raise error("invalid_argument", f"expected a dict of NumPy arrays, got {type(tensor_dict).__name__}")
    entries = []
    for name, array in tensor_dict.items():
        if not isinstance(array, np.ndarray):
            raise error("invalid_argument", f"tensor {name!r}: expected a NumPy array, got {type(array).__name__}")
        if array.dtype.byteorder == ">":  # the format is little-endian
            array = array.astype(array.dtype.newbyteorder("<"))
        if not array.flags.c_contiguous:
            array = array.copy(order="C")  # (np.ascontiguousarray would turn a 0-d array into 1-d)
        entries.append((name, numpy_code(array.dtype), list(array.shape), array.reshape(-1).view(np.uint8)))
    return entries


def save(tensor_dict, metadata=None):
    """The bytes of a safetensors file holding the arrays of ``tensor_dict``."""
    return _core.write(_entries(tensor_dict), metadata)


def save_file(tensor_dict, filename, metadata=None):
    """Writes the arrays to ``filename`` atomically (an old file stays whole if the write fails)."""
    _core.write(_entries(tensor_dict), metadata, os.fsdecode(os.fspath(filename)))


def load(data, *, unsupported="error"):
    """The arrays of a whole file given as bytes (copied once; the arrays are writable)."""
    opened = safe_open.__new__(safe_open)
    opened._setup("numpy", "cpu", "mmap", False, unsupported)
    opened._open = _core.Reader.from_bytes(data)
    return opened.get_tensors()


def load_file(filename, *, backend="mmap", copy=False, readonly=False, unsupported="error"):
    """The arrays of ``filename``, by name, in file order.

    By default each array is a writable view of a private copy-on-write
    mapping: pages are read when first touched and writes never reach the
    file. ``copy=True`` reads every byte now into fresh memory; ``backend="pread"``
    never maps (network file systems); ``readonly=True`` gives read-only views
    of a shared mapping.
    """
    with safe_open(filename, "numpy", backend=backend, readonly=readonly, unsupported=unsupported) as f:
        return f.get_tensors(copy=copy)
