"""get_slice(name)[...]: NumPy-style indexing that reads only the selected rows.

The index is turned into, for each dimension, a first element, a positive
step and a count; the core fetches just those bytes (see Reader.slice).
Negative steps read forwards and are turned around here; integer indices
are slices of one that are dropped from the shape.
"""

import operator

import numpy as np

from ._errors import error


def _plan(index, shape, name):
    if not isinstance(index, tuple):
        index = (index,)
    ellipses = sum(1 for item in index if item is Ellipsis)
    if ellipses > 1:
        raise error("invalid_argument", f"tensor {name!r}: an index can have only one ellipsis (...)")
    if ellipses:
        at = index.index(Ellipsis)
        index = index[:at] + (slice(None),) * (len(shape) - len(index) + 1) + index[at + 1:]
    if len(index) > len(shape):
        raise error("invalid_argument",
                    f"tensor {name!r} has {len(shape)} dimensions; the index gives {len(index)}")
    index = index + (slice(None),) * (len(shape) - len(index))
    lo, step, count, flip, keep = [], [], [], [], []
    for dim, (item, extent) in enumerate(zip(index, shape)):
        if isinstance(item, slice):
            start, stop, stride = item.indices(extent)
            n = len(range(start, stop, stride))
            if stride < 0 and n:
                start, stride = start + (n - 1) * stride, -stride
                flip.append(True)
            else:
                flip.append(False)
            lo.append(start if n else 0)
            step.append(stride if stride > 0 else 1)
            count.append(n)
            keep.append(n)
            continue
        try:
            position = operator.index(item)
        except TypeError:
            raise error("invalid_argument",
                        f"tensor {name!r}: index {item!r} of dimension {dim} is not an integer, slice or ...") from None
        if position < 0:
            position += extent
        if not 0 <= position < extent:
            raise error("invalid_argument",
                        f"tensor {name!r}: index {item} is outside dimension {dim} of size {extent}")
        lo.append(position)
        step.append(1)
        count.append(1)
        flip.append(False)
    return lo, step, count, flip, keep


class TensorSlice:
    """What get_slice returns: the tensor's shape and dtype, and [...] to read part of it."""

    def __init__(self, opened, name):
        self._opened = opened
        self._name = name
        _, self._code, shape = opened._reader().info(name)
        self._shape = list(shape)

    def get_shape(self):
        return list(self._shape)

    def get_dtype(self):
        return self._code

    @property
    def shape(self):
        return tuple(self._shape)

    @property
    def dtype(self):
        return self._code

    def __len__(self):
        if not self._shape:
            raise TypeError("len() of a 0-d tensor")
        return self._shape[0]

    def __getitem__(self, index):
        reader = self._opened._reader()
        dtype, raw = self._opened._carrier(self._name, self._code)
        if raw:
            raise error("dtype_mismatch",
                        f"{reader.source}: tensor {self._name!r} is {self._code}; its raw bytes cannot be sliced")
        lo, step, count, flip, keep = _plan(index, self._shape, self._name)
        array = reader.slice(self._name, dtype, lo, step, count)
        if any(flip):
            array = np.ascontiguousarray(array[tuple(slice(None, None, -1) if f else slice(None) for f in flip)])
        array = array.reshape(keep)
        return self._opened._convert(array, self._code, False)
