"""How a tensor's bytes become a framework's array: NumPy, or torch built on NumPy.

Each framework says which NumPy dtype carries a safetensors code (or that it
has none), and turns the NumPy array the core handed out into its own type
without a copy.
"""

import numpy as np

from . import _dtypes
from ._errors import error

UNSUPPORTED_CHOICES = ("error", "bytes")


def _no_type(source, name, code, framework):
    return error("dtype_mismatch",
                 f"{source}: tensor {name!r} is {code}, which {framework} cannot hold; "
                 "pass unsupported=\"bytes\" to get its raw bytes as a flat uint8 array")


class NumpyFramework:
    name = "numpy"
    supports_readonly = True

    def __init__(self, device):
        if str(device) != "cpu":
            raise error("invalid_argument", f"NumPy arrays live on the CPU; device {device!r} is not supported")

    def carrier(self, source, name, code, unsupported):
        """(NumPy dtype, raw) for a tensor of `code`."""
        dtype = _dtypes.NUMPY.get(code)
        if dtype is not None:
            return dtype, False
        if unsupported == "bytes":
            return _dtypes.RAW, True
        raise _no_type(source, name, code, "NumPy")

    def convert(self, array, code, raw):
        return array


class TorchFramework:
    name = "torch"
    supports_readonly = False  # torch has no read-only tensors: a write to a read-only page would crash

    # torch.from_numpy takes these NumPy types directly.
    _DIRECT = {"F64", "F32", "F16", "I64", "I32", "I16", "I8", "U8", "BOOL", "C64"}
    # Signed carriers: torch.from_numpy refuses NumPy's wide unsigned types.
    _CARRIER = {1: np.dtype(np.uint8), 2: np.dtype(np.int16), 4: np.dtype(np.int32), 8: np.dtype(np.int64)}

    def __init__(self, device):
        import torch

        self.torch = torch
        self.device = torch.device(device if not isinstance(device, int) else f"cuda:{device}")
        names = {
            "BF16": "bfloat16", "F8_E5M2": "float8_e5m2", "F8_E4M3": "float8_e4m3fn",
            "F8_E8M0": "float8_e8m0fnu", "F8_E4M3FNUZ": "float8_e4m3fnuz", "F8_E5M2FNUZ": "float8_e5m2fnuz",
            "U16": "uint16", "U32": "uint32", "U64": "uint64",
        }
        # Only what the installed torch has (1.13: bfloat16 yes, float8 and wide unsigned no).
        self.viewed = {code: getattr(torch, attr) for code, attr in names.items() if hasattr(torch, attr)}

    def carrier(self, source, name, code, unsupported):
        if code in self._DIRECT:
            return _dtypes.NUMPY[code], False
        if code in self.viewed:
            return self._CARRIER[_dtypes.ITEM_BYTES[code]], False
        if unsupported == "bytes":
            return _dtypes.RAW, True
        raise _no_type(source, name, code, f"torch {self.torch.__version__}")

    def convert(self, array, code, raw):
        tensor = self.torch.from_numpy(array)
        if not raw and code in self.viewed:
            tensor = tensor.view(self.viewed[code])
        if self.device.type != "cpu":
            tensor = tensor.to(self.device)
        return tensor


def framework_for(framework, device):
    name = str(framework)
    if name in ("np", "numpy"):
        return NumpyFramework(device)
    if name in ("pt", "torch", "pytorch"):
        return TorchFramework(device)
    raise error("invalid_argument",
                f"framework {name!r} is not supported by safeweights: use \"numpy\" (\"np\") or \"pt\" (\"torch\")")
