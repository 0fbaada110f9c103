"""safe_open: a file opened lazily, its tensors read on request.

Every byte goes through the C++ core's reader, which checks the whole
header (every rule of spec/FORMAT.md, duplicates included) at open. With
backend="mmap" (the default) tensors are views of a private copy-on-write
mapping: writable, paged in only when touched, and no write ever reaches
the file. backend="pread" never maps: each tensor is read into its own
memory (for network file systems). readonly=True (NumPy only) gives
read-only views of a shared mapping instead; the arrays keep it alive.
"""

import os

from . import _core
from ._errors import error
from ._frameworks import UNSUPPORTED_CHOICES, framework_for
from ._slicing import TensorSlice


class safe_open:  # noqa: N801 (the reference's name)
    """Opens a safetensors file lazily and returns tensors as asked.

    Args:
        filename: the file (str or os.PathLike).
        framework: "np"/"numpy" or "pt"/"torch".
        device: where torch tensors go ("cpu" by default).
        backend: "mmap" (writable copy-on-write views) or "pread" (copies, never maps).
        readonly: NumPy only: read-only views of a shared mapping instead of writable ones.
        unsupported: "error" (default) raises for a dtype the framework lacks, naming it;
            "bytes" returns such a tensor's bytes as a flat uint8 array.
    """

    def __init__(self, filename, framework, device="cpu", *, backend="mmap", readonly=False, unsupported="error"):
        self._setup(framework, device, backend, readonly, unsupported)
        self._open = _core.Reader.open(os.fsdecode(os.fspath(filename)), backend, bool(readonly))

    def _setup(self, framework, device, backend, readonly, unsupported):
        self._framework = framework_for(framework, device)
        if unsupported not in UNSUPPORTED_CHOICES:
            raise error("invalid_argument", f"unsupported must be \"error\" or \"bytes\", not {unsupported!r}")
        if readonly and not self._framework.supports_readonly:
            raise error("invalid_argument",
                        "readonly=True is for NumPy: torch has no read-only tensors, and an in-place op on a "
                        "read-only mapping would crash. The default views are writable copy-on-write pages")
        if backend not in ("mmap", "pread"):
            raise error("invalid_argument", f"backend must be \"mmap\" or \"pread\", not {backend!r}")
        self._unsupported = unsupported

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Forgets the file; tensors already handed out stay valid (they hold what they need)."""
        self._open = None

    def _reader(self):
        if self._open is None:
            raise error("invalid_argument", "the file is closed")
        return self._open

    def _carrier(self, name, code):
        return self._framework.carrier(self._reader().source, name, code, self._unsupported)

    def _convert(self, array, code, raw):
        return self._framework.convert(array, code, raw)

    def keys(self):
        """Tensor names, sorted."""
        return sorted(self._reader().names())

    def offset_keys(self):
        """Tensor names in the order of their bytes in the file."""
        return self._reader().names()

    def metadata(self):
        """The __metadata__ map, or None when the file has none."""
        return self._reader().metadata()

    def get_tensor(self, name):
        reader = self._reader()
        _, code, _ = reader.info(name)
        dtype, raw = self._carrier(name, code)
        return self._convert(reader.tensor(name, dtype, raw), code, raw)

    def get_slice(self, name):
        return TensorSlice(self, name)

    def get_tensors(self, *, copy=False):
        """Every tensor, by name, in file order. copy=True reads the whole file into fresh memory at once."""
        reader = self._reader()
        table = reader.table()
        carriers = [self._carrier(name, code) for name, code, _ in table]
        arrays = reader.tensors([c[0] for c in carriers], [c[1] for c in carriers], bool(copy))
        return {name: self._convert(array, code, raw)
                for (name, code, _), array, (_, raw) in zip(table, arrays, carriers)}


class _safe_open_handle(safe_open):  # noqa: N801 (the reference's name)
    """safe_open for a file the caller already opened: any object with fileno(), or a descriptor.

    The descriptor is duplicated; the caller's stays theirs to close.
    """

    def __init__(self, f, framework, device="cpu", *, backend="mmap", readonly=False, unsupported="error"):
        self._setup(framework, device, backend, readonly, unsupported)
        fd = f if isinstance(f, int) else f.fileno()
        label = getattr(f, "name", None)
        label = os.fsdecode(label) if isinstance(label, (str, bytes, os.PathLike)) else f"<descriptor {fd}>"
        self._open = _core.Reader.open_fd(fd, label, backend, bool(readonly))
