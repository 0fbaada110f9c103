"""safeweights.torch: the reference's safetensors.torch API over the C++ core.

load_file returns ordinary writable tensors, lazily: views of a private
copy-on-write mapping (no byte is read until touched, no write reaches the
file). Saving refuses what the reference refuses (sparse, non-contiguous,
shared tensors); save_model/load_model handle tied weights as it does.
save_checkpoint/load_checkpoint keep a whole training state without pickle.
"""

import os
from collections import defaultdict

import torch

from . import _core
from ._checkpoint import load_checkpoint, save_checkpoint  # noqa: F401 (public API)
from ._errors import error
from ._open import safe_open

__all__ = ["save", "save_file", "load", "load_file", "save_model", "load_model", "save_checkpoint",
           "load_checkpoint", "storage_ptr", "storage_size"]

_CODES = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
    torch.bool: "BOOL", torch.complex64: "C64",
}
for _attr, _code in (("float8_e5m2", "F8_E5M2"), ("float8_e4m3fn", "F8_E4M3"), ("float8_e8m0fnu", "F8_E8M0"),
                     ("float8_e4m3fnuz", "F8_E4M3FNUZ"), ("float8_e5m2fnuz", "F8_E5M2FNUZ"),
                     ("uint16", "U16"), ("uint32", "U32"), ("uint64", "U64")):
    if hasattr(torch, _attr):
        _CODES[getattr(torch, _attr)] = _code


def storage_ptr(tensor):
    """Address of the tensor's storage (0 for meta tensors)."""
    try:
        return tensor.untyped_storage().data_ptr()
    except (AttributeError, NotImplementedError, RuntimeError):
        try:
            return tensor.storage().data_ptr()
        except NotImplementedError:
            return 0


def storage_size(tensor):
    """Bytes in the tensor's storage."""
    try:
        return tensor.untyped_storage().nbytes()
    except (AttributeError, NotImplementedError, RuntimeError):
        try:
            return tensor.storage().size() * tensor.element_size()
        except NotImplementedError:
            return tensor.nelement() * tensor.element_size()


def _end_ptr(tensor):
    if tensor.nelement():
        return tensor.view(-1)[-1].data_ptr() + tensor.element_size()
    return tensor.data_ptr()


def _filter_shared_not_shared(tensors, state_dict):
    """Splits groups on one storage into the names whose byte ranges really overlap."""
    result = []
    for names in tensors:
        if len(names) < 2:
            result.append(names)
            continue
        areas = sorted((state_dict[n].data_ptr(), _end_ptr(state_dict[n]), n) for n in names)
        _, last_stop, first = areas[0]
        result.append({first})
        for start, stop, name in areas[1:]:
            if start >= last_stop:
                result.append({name})
            else:
                result[-1].add(name)
            last_stop = stop
    return result


def _find_shared_tensors(state_dict):
    """Groups of names whose tensors share memory (one set per group, singletons included)."""
    groups = defaultdict(set)
    for name, tensor in state_dict.items():
        if tensor.device != torch.device("meta") and storage_ptr(tensor) != 0 and storage_size(tensor) != 0:
            groups[(tensor.device, storage_ptr(tensor), storage_size(tensor))].add(name)
    return _filter_shared_not_shared(list(sorted(groups.values())), state_dict)


def _is_complete(tensor):
    return tensor.data_ptr() == storage_ptr(tensor) and \
        tensor.nelement() * tensor.element_size() == storage_size(tensor)


def _remove_duplicate_names(state_dict, *, preferred_names=None, discard_names=None):
    """{name kept: [aliases to drop]} for each group of shared tensors."""
    preferred_names = set(preferred_names or [])
    discard_names = set(discard_names or [])
    to_remove = defaultdict(list)
    for shared in _find_shared_tensors(state_dict):
        complete = {n for n in shared if _is_complete(state_dict[n])}
        if not complete:
            raise RuntimeError(
                f"cannot save the shared tensors {sorted(shared)}: none of them covers its whole storage, so "
                "saving would store more memory than the tensors hold; save clones of them instead")
        keep = sorted(complete)[0]
        if complete - discard_names:
            keep = sorted(complete - discard_names)[0]
        if preferred_names & complete:
            keep = sorted(preferred_names & complete)[0]
        for name in sorted(shared):
            if name != keep:
                to_remove[keep].append(name)
    return to_remove


def _entries(tensors):
    if not isinstance(tensors, dict):
        raise ValueError(f"Expected a dict of [str, torch.Tensor] but received {type(tensors)}")
    sparse = []
    for name, tensor in tensors.items():
        if not isinstance(tensor, torch.Tensor):
            raise ValueError(f"Key `{name}` is invalid, expected torch.Tensor but received {type(tensor)}")
        if tensor.layout != torch.strided:
            sparse.append(name)
    if sparse:
        raise ValueError(f"cannot save the sparse tensors {sparse}: make them dense with .to_dense() first")
    failing = [names for names in _find_shared_tensors(tensors) if len(names) > 1]
    if failing:
        raise RuntimeError(
            f"Some tensors share memory, which would be stored twice and come back unshared: {failing}. "
            "Use save_model, which keeps one of each and records the others as aliases.")
    entries, keep = [], []
    for name, tensor in tensors.items():
        if not tensor.is_contiguous():
            raise ValueError(f"You are trying to save a non contiguous tensor: `{name}`; "
                             "call .contiguous() on it first")
        if tensor.dtype not in _CODES:
            raise error("unknown_dtype", f"tensor {name!r}: torch dtype {tensor.dtype} has no safetensors code")
        if tensor.device.type != "cpu":
            tensor = tensor.to("cpu")
        keep.append(tensor)  # alive until the write is done
        entries.append((name, _CODES[tensor.dtype], list(tensor.shape),
                        (tensor.data_ptr(), tensor.nelement() * tensor.element_size())))
    return entries, keep


def save(tensors, metadata=None):
    """The bytes of a safetensors file holding ``tensors``."""
    entries, _keep = _entries(tensors)
    return _core.write(entries, metadata)


def save_file(tensors, filename, metadata=None):
    """Writes ``tensors`` to ``filename`` atomically (an old file stays whole if the write fails)."""
    entries, _keep = _entries(tensors)
    _core.write(entries, metadata, os.fsdecode(os.fspath(filename)))


def load(data, *, unsupported="error"):
    """The tensors of a whole file given as bytes (copied once; writable)."""
    opened = safe_open.__new__(safe_open)
    opened._setup("pt", "cpu", "mmap", False, unsupported)
    opened._open = _core.Reader.from_bytes(data)
    return opened.get_tensors()


def load_file(filename, device="cpu", *, backend="mmap", copy=False, unsupported="error"):
    """The tensors of ``filename``, by name, in file order.

    By default writable views of a private copy-on-write mapping: pages are
    read when first touched, writes never reach the file. ``copy=True`` reads
    every byte now into fresh memory; ``backend="pread"`` never maps.
    """
    with safe_open(filename, "pt", device=device, backend=backend, unsupported=unsupported) as f:
        return f.get_tensors(copy=copy)


def save_model(model, filename, metadata=None, force_contiguous=True):
    """Saves ``model.state_dict()``, keeping one name of each group of tied tensors.

    Each dropped alias is recorded in the metadata as alias -> kept name
    (unless the caller's metadata already has that key).
    """
    state_dict = model.state_dict()
    for kept, aliases in _remove_duplicate_names(state_dict).items():
        for alias in aliases:
            if metadata is None:
                metadata = {}
            metadata.setdefault(alias, kept)
            del state_dict[alias]
    if force_contiguous:
        state_dict = {k: v.contiguous() for k, v in state_dict.items()}
    try:
        save_file(state_dict, filename, metadata=metadata)
    except ValueError as e:
        raise ValueError(f"{e} Or use save_model(..., force_contiguous=True).") from e


def load_model(model, filename, strict=True, device="cpu"):
    """Loads a file written by save_model into ``model``; returns (missing, unexpected) names."""
    state_dict = load_file(filename, device=device)
    aliases = _remove_duplicate_names(model.state_dict(), preferred_names=state_dict.keys())
    missing, unexpected = model.load_state_dict(state_dict, strict=False)
    missing = set(missing)
    for group in aliases.values():
        for alias in group:
            if alias in missing:
                missing.remove(alias)
            else:
                unexpected.append(alias)
    if strict and (missing or unexpected):
        text = f"Error(s) in loading state_dict for {model.__class__.__name__}:"
        if missing:
            text += "\n    Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in sorted(missing))
        if unexpected:
            text += "\n    Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in sorted(unexpected))
        raise RuntimeError(text)
    return missing, unexpected
