"""Training checkpoints without pickle: model, optimizer, scheduler, RNG and the caller's extra values.

A checkpoint is one safetensors file. Its tensors are named by where they
were found ("model/fc1.weight", "optimizer/state/0/exp_avg",
"rng/torch_cpu", "extra/..."); everything else is JSON in one
``__metadata__`` key, "safeweights.checkpoint". In that JSON a tensor is
``{"__sw__": "tensor", "name": ...}``, and what JSON cannot say exactly is
tagged the same way: tuples, dicts whose keys are not all str (an
optimizer's state is keyed by int), OrderedDicts, Counters and non-finite
floats. So
a value comes back with its Python type. Anything else (a function, an
arbitrary object) is refused, naming where it was found: nothing is
pickled, and loading runs no code from the file.
"""

import collections
import json
import math
import os

import torch

from ._errors import error
from ._open import safe_open

METADATA_KEY = "safeweights.checkpoint"
FORMAT_VERSION = 1
_TAG = "__sw__"
_SCALARS = (str, int, bool)
_RNG_NAME = "rng/torch_cpu"
# dict subclasses kept by name in a tagged dict's "type" (MultiStepLR's milestones are a Counter).
_DICT_TYPES = {"OrderedDict": collections.OrderedDict, "Counter": collections.Counter}


def _torch_module():
    # safeweights.torch imports this module; ask for it once both are loaded.
    from . import torch as sw_torch

    return sw_torch


def _class_name(obj):
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _describe(value):
    if isinstance(value, type):
        return f"the class {value.__module__}.{value.__qualname__}"
    if callable(value) and hasattr(value, "__qualname__"):
        return f"the function {getattr(value, '__module__', None) or '?'}.{value.__qualname__}"
    return f"a {_class_name(value)} object"


def _same_class(stored_name, obj):
    """Whether the class saved as ``stored_name`` is ``obj``'s (by qualified name: a module may move)."""
    return stored_name.endswith("." + type(obj).__qualname__)


def _shape_text(shape):
    return "[" + ", ".join(str(d) for d in shape) + "]"


def _tagged_float(value):
    return {_TAG: "float", "value": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}


class _Encoder:
    """Turns nested values into JSON-able ones, pulling tensors out into ``tensors`` (file name -> tensor)."""

    def __init__(self):
        self.tensors = {}
        self._name_of_view = {}
        self._open_containers = set()

    def refuse(self, where, what):
        return error("invalid_argument",
                     f"save_checkpoint: {where} is {what}, which a checkpoint cannot hold: it keeps tensors, str, int, "
                     "float, bool and None, and lists, tuples and dicts of them (nothing is pickled)")

    def encode(self, value, name, where):
        """The JSON form of ``value``; ``name`` is the path-like tensor name, ``where`` the place for errors."""
        kind = type(value)
        if value is None or kind in _SCALARS:
            return value
        if kind is float:
            return value if math.isfinite(value) else _tagged_float(value)
        if isinstance(value, torch.Tensor):
            return {_TAG: "tensor", "name": self._tensor(value, name, where)}
        if kind not in (list, tuple, dict) and kind not in _DICT_TYPES.values():
            raise self.refuse(where, _describe(value))
        if id(value) in self._open_containers:
            raise self.refuse(where, f"a {kind.__name__} that contains itself")
        self._open_containers.add(id(value))
        try:
            if kind is list:
                return [self.encode(item, f"{name}/{i}", f"{where}[{i}]") for i, item in enumerate(value)]
            if kind is tuple:
                return {_TAG: "tuple",
                        "items": [self.encode(item, f"{name}/{i}", f"{where}[{i}]") for i, item in enumerate(value)]}
            return self._dict(value, name, where)
        finally:
            self._open_containers.discard(id(value))

    def _dict(self, value, name, where):
        plain = type(value) is dict and _TAG not in value and all(type(key) is str for key in value)
        if plain:
            return {key: self.encode(item, f"{name}/{key}", f"{where}[{key!r}]") for key, item in value.items()}
        items = [[self._key(key, where), self.encode(item, f"{name}/{key}", f"{where}[{key!r}]")]
                 for key, item in value.items()]
        out = {_TAG: "dict", "items": items}
        if type(value) is not dict:
            out["type"] = type(value).__name__
        return out

    def _key(self, key, where):
        kind = type(key)
        if key is None or kind in _SCALARS:
            return key
        if kind is float:
            return key if math.isfinite(key) else _tagged_float(key)
        if kind is tuple:
            return {_TAG: "tuple", "items": [self._key(item, where) for item in key]}
        raise self.refuse(f"a key of {where}", f"{_describe(key)} ({key!r})")

    def _tensor(self, tensor, name, where):
        codes = _torch_module()._CODES
        if tensor.layout != torch.strided:
            raise self.refuse(where, f"a {tensor.layout} tensor (make it dense with .to_dense() first)")
        if tensor.dtype not in codes:
            raise self.refuse(where, f"a tensor of {tensor.dtype}, which has no safetensors dtype")
        if tensor.device.type == "meta":
            raise self.refuse(where, "a meta tensor (it has no data)")
        tensor = tensor.detach()
        view = None
        if tensor.nelement():
            view = (tensor.device, _torch_module().storage_ptr(tensor), tensor.data_ptr(), tensor.dtype,
                    tuple(tensor.shape), tensor.stride())
            if view in self._name_of_view:  # the same tensor again (tied weights): stored once
                return self._name_of_view[view]
        unique, n = name, 1
        while unique in self.tensors:
            n += 1
            unique = f"{name}#{n}"
        self.tensors[unique] = tensor
        if view is not None:
            self._name_of_view[view] = unique
        return unique

    def independent_tensors(self):
        """The tensors as save_file takes them: contiguous, and no two overlapping in memory.

        Of views of one storage whose bytes overlap (a tensor and a slice of
        it), the first by address is kept and the others are cloned: they
        load as separate tensors.
        """
        sw_torch = _torch_module()
        out = {}
        on_storage = collections.defaultdict(list)
        for name, tensor in self.tensors.items():
            if not tensor.nelement():  # own (empty) storage: nothing to overlap
                tensor = torch.empty(tensor.shape, dtype=tensor.dtype, device=tensor.device)
            elif not tensor.is_contiguous():
                tensor = tensor.contiguous()
            else:
                on_storage[(tensor.device, sw_torch.storage_ptr(tensor))].append(name)
            out[name] = tensor
        for names in on_storage.values():
            reach = None  # end of the bytes kept so far on this storage
            for start, stop, name in sorted((out[n].data_ptr(), sw_torch._end_ptr(out[n]), n) for n in names):
                if reach is not None and start < reach:
                    out[name] = out[name].clone()
                else:
                    reach = stop
        return out


def save_checkpoint(path, model, optimizer=None, scheduler=None, extra=None):
    """Writes a training checkpoint to ``path`` atomically (an old file stays whole if anything fails).

    Stored: ``model.state_dict()``, ``optimizer.state_dict()`` and
    ``scheduler.state_dict()`` when given, ``extra`` (any value made of
    tensors, str, int, float, bool, None, lists, tuples and dicts, e.g.
    ``{"epoch": 3, "step": 1200}``), and ``torch.get_rng_state()``. Tensors
    shared by several names (tied weights) are stored once. A value of any
    other type raises InvalidArgumentError naming where it was found, and
    nothing is written.
    """
    encoder = _Encoder()
    state_dict = model.state_dict()
    document = {
        "version": FORMAT_VERSION,
        "model": {
            "class": _class_name(model),
            "state": encoder.encode(dict(state_dict), "model", "model.state_dict()"),
            "metadata": encoder.encode(dict(getattr(state_dict, "_metadata", None) or {}), "model_metadata",
                                       "model.state_dict()._metadata"),
        },
        "optimizer": None,
        "scheduler": None,
    }
    if optimizer is not None:
        document["optimizer"] = {
            "class": _class_name(optimizer),
            "param_shapes": [[list(p.shape) for p in group["params"]] for group in optimizer.param_groups],
            "state": encoder.encode(optimizer.state_dict(), "optimizer", "optimizer.state_dict()"),
        }
    if scheduler is not None:
        document["scheduler"] = {
            "class": _class_name(scheduler),
            "state": encoder.encode(scheduler.state_dict(), "scheduler", "scheduler.state_dict()"),
        }
    document["extra"] = encoder.encode(extra, "extra", "extra")
    document["rng"] = {"torch_cpu": encoder.encode(torch.get_rng_state(), _RNG_NAME, "torch.get_rng_state()")}
    text = json.dumps(document, allow_nan=False, separators=(",", ":"))
    _torch_module().save_file(encoder.independent_tensors(), path, metadata={METADATA_KEY: text})


class _Stored:
    """A tensor of the file known by its table entry only: what the checks look at before any byte is read."""

    def __init__(self, name, code, shape):
        self.name = name
        self.code = code
        self.shape = tuple(shape)


class _Decoder:
    """The inverse of _Encoder; ``fetch(name)`` gives what a tensor reference becomes."""

    def __init__(self, source, names, fetch):
        self.source = source
        self.names = names
        self.fetch = fetch
        self.used = {}

    def bad(self, where, what):
        return error("invalid_metadata", f"{self.source}: the checkpoint's \"{METADATA_KEY}\" at {where}: {what}")

    def decode(self, value, where):
        kind = type(value)
        if value is None or kind in _SCALARS or kind is float:
            return value
        if kind is list:
            return [self.decode(item, f"{where}[{i}]") for i, item in enumerate(value)]
        if kind is not dict:
            raise self.bad(where, f"unexpected {kind.__name__}")
        if _TAG not in value:
            return {key: self.decode(item, f"{where}[{key!r}]") for key, item in value.items()}
        tag = value[_TAG]
        if tag == "tensor":
            name = self._field(value, "name", str, where)
            if name not in self.names:
                raise self.bad(where, f"no tensor {name!r} in the file")
            if name not in self.used:
                self.used[name] = self.fetch(name)
            return self.used[name]
        if tag == "tuple":
            return tuple(self.decode(item, f"{where}[{i}]")
                         for i, item in enumerate(self._field(value, "items", list, where)))
        if tag == "float":
            text = self._field(value, "value", str, where)
            if text not in ("nan", "inf", "-inf"):
                raise self.bad(where, f"{text!r} is not nan, inf or -inf")
            return float(text)
        if tag == "dict":
            kind = value.get("type", "dict")
            if kind != "dict" and kind not in _DICT_TYPES:
                raise self.bad(where, f"unknown dict type {kind!r}")
            out = _DICT_TYPES.get(kind, dict)()
            for i, pair in enumerate(self._field(value, "items", list, where)):
                if type(pair) is not list or len(pair) != 2:
                    raise self.bad(f"{where}[{i}]", "a dict item is not a [key, value] pair")
                key = self.decode(pair[0], f"{where} key {i}")
                try:
                    hash(key)
                except TypeError:
                    raise self.bad(f"{where} key {i}", f"{_describe(key)} cannot be a key") from None
                out[key] = self.decode(pair[1], f"{where}[{key!r}]")
            return out
        raise self.bad(where, f"unknown tag {tag!r}")

    def _field(self, value, key, kind, where):
        if type(value.get(key)) is not kind:
            raise self.bad(where, f"\"{key}\" is missing or not a {kind.__name__}")
        return value[key]


def _refuse_constant(text):
    raise ValueError(f"{text} is not JSON")


def _read_document(source, metadata):
    text = (metadata or {}).get(METADATA_KEY)
    if text is None:
        raise error("invalid_metadata",
                    f"{source}: not a checkpoint of save_checkpoint (its __metadata__ has no \"{METADATA_KEY}\")")
    try:
        document = json.loads(text, parse_constant=_refuse_constant)
    except ValueError as e:
        raise error("invalid_metadata", f"{source}: the checkpoint's \"{METADATA_KEY}\" is not JSON: {e}") from None
    if type(document) is not dict:
        raise error("invalid_metadata", f"{source}: the checkpoint's \"{METADATA_KEY}\" is not a JSON object")
    version = document.get("version")
    if type(version) is not int or version > FORMAT_VERSION or version < 1:
        raise error("invalid_metadata", f"{source}: checkpoint format version {version!r}; this safeweights reads "
                                        f"version {FORMAT_VERSION}")
    return document


def _section(decoder, document, key, optional):
    """document[key] as {"class", "state", ...} decoded, None when absent and optional."""
    section = document.get(key)
    if section is None and optional:
        return None
    if type(section) is not dict or type(section.get("class")) is not str or "state" not in section:
        raise decoder.bad(key, "expected an object with \"class\" and \"state\"")
    out = dict(section)
    out["state"] = decoder.decode(section["state"], f"{key}.state")
    return out


def _decode(decoder, document):
    """The checkpoint's parts: model state and metadata, optimizer and scheduler sections, extra, RNG state."""
    model = _section(decoder, document, "model", optional=False)
    if type(model["state"]) is not dict:
        raise decoder.bad("model.state", "not an object")
    model_metadata = decoder.decode(model.get("metadata", {}), "model.metadata")
    if type(model_metadata) is not dict:
        raise decoder.bad("model.metadata", "not an object")
    optimizer = _section(decoder, document, "optimizer", optional=True)
    if optimizer is not None:
        shapes = optimizer.get("param_shapes")
        if type(shapes) is not list or not all(
                type(group) is list and all(type(s) is list and all(type(d) is int for d in s) for s in group)
                for group in shapes):
            raise decoder.bad("optimizer.param_shapes", "expected a list of lists of shapes")
    scheduler = _section(decoder, document, "scheduler", optional=True)
    extra = decoder.decode(document.get("extra"), "extra")
    rng = document.get("rng")
    if type(rng) is not dict or "torch_cpu" not in rng:
        raise decoder.bad("rng", "expected an object with \"torch_cpu\"")
    rng_state = decoder.decode(rng["torch_cpu"], "rng.torch_cpu")
    unused = sorted(set(decoder.names) - set(decoder.used))
    if unused:
        raise error("invalid_metadata",
                    f"{decoder.source}: tensors the checkpoint's \"{METADATA_KEY}\" does not name: {unused}")
    return model, model_metadata, optimizer, scheduler, extra, rng_state


def _is_stored(value):
    return isinstance(value, _Stored)


def _dtype_text(code):
    dtype = _torch_dtypes().get(code)
    return str(dtype) if dtype is not None else code


def _torch_dtypes():
    return {code: dtype for dtype, code in _torch_module()._CODES.items()}


def _model_differences(model, stored_state):
    codes = _torch_module()._CODES
    current = model.state_dict()
    differences = []
    missing = [key for key in current if key not in stored_state]
    unexpected = [key for key in stored_state if key not in current]
    if missing:
        differences.append("model: missing key(s): " + ", ".join(repr(k) for k in missing))
    if unexpected:
        differences.append("model: unexpected key(s): " + ", ".join(repr(k) for k in unexpected))
    for key, stored in stored_state.items():
        if key not in current:
            continue
        value = current[key]
        if _is_stored(stored) != isinstance(value, torch.Tensor):
            differences.append(f"model: {key!r} is {'a tensor' if _is_stored(stored) else _describe(stored)} in the "
                               f"checkpoint, {'a tensor' if isinstance(value, torch.Tensor) else _describe(value)} "
                               "in the model")
        elif _is_stored(stored):
            if stored.shape != tuple(value.shape):
                differences.append(f"model: size mismatch for {key!r}: the checkpoint has "
                                   f"{_shape_text(stored.shape)}, the model has {_shape_text(value.shape)}")
            if stored.code != codes.get(value.dtype):
                differences.append(f"model: dtype mismatch for {key!r}: the checkpoint has "
                                   f"{_dtype_text(stored.code)}, the model has {value.dtype}")
    return differences


def _optimizer_differences(optimizer, section):
    if section is None:
        return ["optimizer: the checkpoint has no optimizer state"]
    differences = []
    if not _same_class(section["class"], optimizer):
        differences.append(f"optimizer: the checkpoint's is {section['class']}, the optimizer is "
                           f"{_class_name(optimizer)}")
    stored_groups = section["param_shapes"]
    groups = [[tuple(p.shape) for p in group["params"]] for group in optimizer.param_groups]
    if len(stored_groups) != len(groups):
        differences.append(f"optimizer: the checkpoint has {len(stored_groups)} parameter group(s), the optimizer "
                           f"has {len(groups)}")
    for g, (stored_shapes, shapes) in enumerate(zip(stored_groups, groups)):
        if len(stored_shapes) != len(shapes):
            differences.append(f"optimizer: parameter group {g} has {len(stored_shapes)} parameter(s) in the "
                               f"checkpoint, {len(shapes)} in the optimizer")
        for i, (stored_shape, shape) in enumerate(zip(stored_shapes, shapes)):
            if tuple(stored_shape) != shape:
                differences.append(f"optimizer: size mismatch for parameter {i} of group {g}: the checkpoint has "
                                   f"{_shape_text(stored_shape)}, the optimizer has {_shape_text(shape)}")
    differences += _state_differences(section, groups)
    return differences


def _state_differences(section, groups):
    """Per-parameter state tensors (those shaped like their parameter when saved) against the parameter now."""
    state_dict = section["state"]
    if type(state_dict) is not dict or type(state_dict.get("state")) is not dict or \
            type(state_dict.get("param_groups")) is not list:
        return []  # not torch's layout: the optimizer's own load_state_dict judges it
    where = {}  # saved parameter id -> (group, index)
    for g, group in enumerate(state_dict["param_groups"]):
        if type(group) is dict and type(group.get("params")) is list:
            for i, param_id in enumerate(group["params"]):
                where[param_id] = (g, i)
    differences = []
    stored_groups = section["param_shapes"]
    for param_id, param_state in state_dict["state"].items():
        if param_id not in where or type(param_state) is not dict:
            continue
        g, i = where[param_id]
        if g >= len(stored_groups) or i >= len(stored_groups[g]) or g >= len(groups) or i >= len(groups[g]):
            continue
        saved_shape, shape = tuple(stored_groups[g][i]), groups[g][i]
        for key, value in param_state.items():
            if _is_stored(value) and value.shape == saved_shape and value.shape != shape:
                differences.append(f"optimizer: state {key!r} of parameter {i} of group {g} has shape "
                                   f"{_shape_text(value.shape)}, the parameter has {_shape_text(shape)}")
    return differences


def _scheduler_differences(scheduler, section):
    if section is None:
        return ["scheduler: the checkpoint has no scheduler state"]
    if not _same_class(section["class"], scheduler):
        return [f"scheduler: the checkpoint's is {section['class']}, the scheduler is {_class_name(scheduler)}"]
    if type(section["state"]) is not dict:
        return ["scheduler: the checkpoint's state is not a dict"]
    return []


def load_checkpoint(path, model, optimizer=None, scheduler=None):
    """Restores what save_checkpoint wrote into ``model`` (and ``optimizer``, ``scheduler``); returns ``extra``.

    Everything is checked before anything changes: the model's keys, shapes
    and dtypes; the optimizer's class, parameter groups, parameter shapes
    and per-parameter state shapes; the scheduler's class. Any difference
    raises StateDictMismatchError listing them all, and model, optimizer
    and scheduler stay as they were. Then the states are loaded and the
    torch CPU RNG state is restored. An optimizer or scheduler in the file
    but not given is skipped; one given but not in the file is a mismatch.
    A malformed checkpoint raises InvalidMetadataError.
    """
    source = os.fsdecode(os.fspath(path))
    # pread: each tensor gets its own memory, so what the optimizer keeps does not pin the rest of the file.
    with safe_open(source, "pt", backend="pread") as opened:
        document = _read_document(source, opened.metadata())
        names = opened.keys()

        def stored(name):
            piece = opened.get_slice(name)
            return _Stored(name, piece.get_dtype(), piece.get_shape())

        model_part, _, optimizer_part, scheduler_part, _, rng_state = _decode(
            _Decoder(source, names, stored), document)
        if not _is_stored(rng_state) or rng_state.code != "U8" or len(rng_state.shape) != 1:
            raise error("invalid_metadata", f"{source}: the checkpoint's RNG state is not a 1-D U8 tensor")
        differences = _model_differences(model, model_part["state"])
        if optimizer is not None:
            differences += _optimizer_differences(optimizer, optimizer_part)
        if scheduler is not None:
            differences += _scheduler_differences(scheduler, scheduler_part)
        if differences:
            raise error("state_dict_mismatch", f"{source}: the checkpoint does not fit: " + "; ".join(differences))
        model_part, model_metadata, optimizer_part, scheduler_part, extra, rng_state = _decode(
            _Decoder(source, names, opened.get_tensor), document)

    state_dict = collections.OrderedDict(model_part["state"])
    state_dict._metadata = collections.OrderedDict(model_metadata)
    model.load_state_dict(state_dict)
    if optimizer is not None:
        optimizer.load_state_dict(optimizer_part["state"])
    if scheduler is not None:
        scheduler.load_state_dict(scheduler_part["state"])
    torch.set_rng_state(rng_state)
    return extra
