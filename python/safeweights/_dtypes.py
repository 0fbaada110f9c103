"""The element types: safetensors codes, NumPy types, and the names callers write them with."""

import numpy as np

from ._errors import error

# The safetensors codes NumPy holds natively.
NUMPY = {
    "F64": np.dtype(np.float64),
    "F32": np.dtype(np.float32),
    "F16": np.dtype(np.float16),
    "I64": np.dtype(np.int64),
    "I32": np.dtype(np.int32),
    "I16": np.dtype(np.int16),
    "I8": np.dtype(np.int8),
    "U64": np.dtype(np.uint64),
    "U32": np.dtype(np.uint32),
    "U16": np.dtype(np.uint16),
    "U8": np.dtype(np.uint8),
    "BOOL": np.dtype(np.bool_),
    "C64": np.dtype(np.complex64),
}

# Bytes per element of the whole-byte codes; for a framework that lacks a
# type, these carry its bytes (a torch bfloat16 is built on a uint16 array).
CARRIER = {1: np.dtype(np.uint8), 2: np.dtype(np.uint16), 4: np.dtype(np.uint32), 8: np.dtype(np.uint64)}
ITEM_BYTES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "F8_E8M0": 1, "F8_E4M3FNUZ": 1, "F8_E5M2FNUZ": 1,
    "I16": 2, "U16": 2, "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "C64": 8, "F64": 8, "I64": 8, "U64": 8,
}
RAW = np.dtype(np.uint8)

# Names a caller may give a dtype by when serializing (framework spellings,
# as the reference's TensorSpec accepts), and the codes themselves.
_BY_NAME = {
    "float64": "F64", "double": "F64", "float32": "F32", "float": "F32", "float16": "F16", "half": "F16",
    "bfloat16": "BF16", "int64": "I64", "long": "I64", "int32": "I32", "int": "I32", "int16": "I16",
    "short": "I16", "int8": "I8", "uint64": "U64", "uint32": "U32", "uint16": "U16", "uint8": "U8",
    "bool": "BOOL", "bool_": "BOOL", "complex64": "C64",
    "float8_e5m2": "F8_E5M2", "float8_e4m3fn": "F8_E4M3", "float8_e8m0fnu": "F8_E8M0",
    "float8_e4m3fnuz": "F8_E4M3FNUZ", "float8_e5m2fnuz": "F8_E5M2FNUZ", "float4_e2m1fn_x2": "F4",
}
CODES = ("BOOL", "F4", "F6_E2M3", "F6_E3M2", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0", "F8_E4M3FNUZ",
         "F8_E5M2FNUZ", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "C64", "F64", "I64", "U64")


def code_of(name):
    """The safetensors code for a dtype name ("float32", "F32", "torch.float32")."""
    text = str(name)
    if text in CODES:
        return text
    code = _BY_NAME.get(text.rsplit(".", 1)[-1])
    if code is None:
        raise error("unknown_dtype", f"unknown dtype {text!r}")
    return code


def numpy_code(dtype):
    """The safetensors code for a NumPy dtype."""
    dtype = np.dtype(dtype)
    for code, candidate in NUMPY.items():
        if candidate == dtype:
            return code
    raise error("unknown_dtype", f"NumPy dtype {dtype} has no safetensors equivalent")
