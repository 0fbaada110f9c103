"""safeweights: a strict, fast drop-in for the ``safetensors`` Python package.

Change ``safetensors`` to ``safeweights`` in an import and the same calls
work: ``safe_open``, ``serialize``, ``serialize_file``, ``deserialize``,
``SafetensorError``, ``safeweights.numpy`` and ``safeweights.torch``. Every
file is read and checked by the C++ core; see python/README.md for what
differs (stricter checks, lazy writable loads, pread, integrity).
"""

import os

from . import _core
from ._dtypes import RAW, code_of
from ._errors import ERRORS, FileNotFoundSafetensorError, SafetensorError, error
from ._open import _safe_open_handle, safe_open

__version__ = "0.1.0"

__all__ = [
    "SafetensorError", "TensorSpec", "deserialize", "safe_open", "serialize", "serialize_file", "ERRORS",
    "FileNotFoundSafetensorError",
]

for _cls in ERRORS.values():
    globals()[_cls.__name__] = _cls


class TensorSpec:
    """One tensor for serialize/serialize_file, by address: TensorSpec(dtype=, shape=, data_ptr=, data_len=).

    ``dtype`` is a safetensors code ("F32") or a framework name ("float32",
    "torch.bfloat16"), checked here. For the packed "float4_e2m1fn_x2" the
    storage shape is given and the last dimension doubled, as in the
    reference. The caller keeps the memory alive until the write is done.
    """

    __slots__ = ("dtype", "shape", "data_ptr", "data_len")

    def __init__(self, *, dtype, shape, data_ptr, data_len):
        packed = str(dtype).rsplit(".", 1)[-1] == "float4_e2m1fn_x2"
        self.dtype = code_of(dtype)
        self.shape = [int(d) for d in shape]
        if packed and self.shape:
            self.shape[-1] *= 2
        self.data_ptr = int(data_ptr)
        self.data_len = int(data_len)

    def __repr__(self):
        return f"TensorSpec(dtype={self.dtype!r}, shape={self.shape!r}, data_ptr={self.data_ptr}, data_len={self.data_len})"


def _entries(tensor_dict):
    if not isinstance(tensor_dict, dict):
        raise error("invalid_argument", f"expected a dict of tensors, got {type(tensor_dict).__name__}")
    entries = []
    for name, spec in tensor_dict.items():
        if not isinstance(name, str):
            raise error("invalid_argument", f"tensor names must be str, got {name!r}")
        if isinstance(spec, TensorSpec):
            entries.append((name, spec.dtype, spec.shape, (spec.data_ptr, spec.data_len)))
        elif isinstance(spec, dict):
            missing = {"dtype", "shape", "data"} - spec.keys()
            if missing:
                raise error("invalid_argument", f"tensor {name!r}: missing {', '.join(sorted(missing))}")
            entries.append((name, code_of(spec["dtype"]), [int(d) for d in spec["shape"]], spec["data"]))
        else:
            raise error("invalid_argument",
                        f"tensor {name!r}: expected a TensorSpec or a dict with dtype, shape and data")
    return entries


def serialize(tensor_dict, metadata=None):
    """The bytes of a safetensors file holding ``tensor_dict`` (name -> TensorSpec or {dtype, shape, data})."""
    return _core.write(_entries(tensor_dict), metadata)


def serialize_file(tensor_dict, filename, metadata=None):
    """Writes ``tensor_dict`` to ``filename`` atomically: a failed write leaves any old file as it was."""
    _core.write(_entries(tensor_dict), metadata, os.fsdecode(os.fspath(filename)))


def deserialize(data):
    """[(name, {"shape", "dtype", "data": bytes})] for the bytes of a whole file, in file order."""
    reader = _core.Reader.from_bytes(data)
    out = []
    for name, code, shape in reader.table():
        out.append((name, {"shape": list(shape), "dtype": code, "data": reader.tensor(name, RAW, True).tobytes()}))
    return out
