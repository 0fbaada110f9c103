"""save_checkpoint / load_checkpoint: resuming is bit-identical, values keep their types, nothing is pickled,
and a checkpoint that does not fit is refused before anything changes.

Run with the package installed: PYTHONPATH=<site> OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 -m pytest tests/python
"""

import collections
import json
import math
import os
import pickle
import struct
import subprocess
import sys

import pytest
import torch

import safeweights
from checkpoint_training import build, outcome_tensors, train
from safeweights.torch import load_checkpoint, load_file, save_checkpoint, save_file

HERE = os.path.dirname(os.path.abspath(__file__))
STEPS = 6

torch.set_num_threads(1)


def assert_same(expected, actual, where="value"):
    """Equal values of the same Python types all the way down; tensors bit-identical with the same dtype."""
    assert type(actual) is type(expected), f"{where}: {type(actual)} is not {type(expected)}"
    if isinstance(expected, torch.Tensor):
        assert actual.dtype == expected.dtype, f"{where}: {actual.dtype} is not {expected.dtype}"
        assert torch.equal(actual, expected), f"{where}: tensors differ"
    elif isinstance(expected, dict):
        assert list(actual) == list(expected), f"{where}: keys {list(actual)} are not {list(expected)}"
        for key in expected:
            assert type(key) is type(next(k for k in actual if k == key)), f"{where}: key {key!r} changed type"
            assert_same(expected[key], actual[key], f"{where}[{key!r}]")
    elif isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected), f"{where}: length {len(actual)} is not {len(expected)}"
        for i, (e, a) in enumerate(zip(expected, actual)):
            assert_same(e, a, f"{where}[{i}]")
    elif isinstance(expected, float) and math.isnan(expected):
        assert math.isnan(actual), f"{where}: {actual} is not nan"
    elif isinstance(expected, float):
        assert actual == expected and math.copysign(1, actual) == math.copysign(1, expected), f"{where}: {actual}"
    else:
        assert actual == expected, f"{where}: {actual!r} is not {expected!r}"


def snapshot(model, optimizer, scheduler=None):
    """Copies of everything a failed load must leave alone (the RNG state included)."""
    opt = optimizer.state_dict()
    return {
        "model": {k: v.clone() for k, v in model.state_dict().items()},
        "optimizer": {"state": {i: {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in s.items()}
                                for i, s in opt["state"].items()},
                      "param_groups": [dict(g) for g in opt["param_groups"]]},
        "scheduler": dict(scheduler.state_dict()) if scheduler is not None else None,
        "rng": torch.get_rng_state(),
    }


def test_resume_in_a_fresh_process_is_bit_identical(tmp_path):
    model, optimizer, scheduler = build(seed=0)
    train(model, optimizer, scheduler, 2 * STEPS)
    uninterrupted = outcome_tensors(model, optimizer)
    last_lr = scheduler.get_last_lr()

    model, optimizer, scheduler = build(seed=0)
    train(model, optimizer, scheduler, STEPS)
    checkpoint = tmp_path / "half.safetensors"
    save_checkpoint(checkpoint, model, optimizer, scheduler, extra={"epoch": 1, "step": STEPS})
    out = tmp_path / "resumed.safetensors"
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    run = subprocess.run([sys.executable, os.path.join(HERE, "checkpoint_training.py"), str(checkpoint), str(STEPS),
                          str(out)], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr

    resumed = load_file(out)
    assert sorted(resumed) == sorted(uninterrupted)
    assert len([name for name in resumed if name.startswith("state/")]) == 3 * len(list(model.parameters()))
    for name, tensor in uninterrupted.items():
        assert resumed[name].dtype == tensor.dtype, name
        assert torch.equal(resumed[name], tensor), f"{name} differs from the uninterrupted run"
    with safeweights.safe_open(out, "pt") as f:
        metadata = f.metadata()
    assert json.loads(metadata["last_lr"]) == last_lr
    assert json.loads(metadata["extra"]) == {"epoch": 1, "step": STEPS}


def test_sgd_with_momentum_resumes_bit_identical(tmp_path):
    model, optimizer, scheduler = build(seed=0, optimizer="sgd")
    train(model, optimizer, scheduler, 2 * STEPS)
    uninterrupted = outcome_tensors(model, optimizer)
    last_lr = scheduler.get_last_lr()

    model, optimizer, scheduler = build(seed=0, optimizer="sgd")
    train(model, optimizer, scheduler, STEPS)
    save_checkpoint(tmp_path / "sgd.safetensors", model, optimizer, scheduler)
    model, optimizer, scheduler = build(seed=7, optimizer="sgd")
    assert load_checkpoint(tmp_path / "sgd.safetensors", model, optimizer, scheduler) is None
    train(model, optimizer, scheduler, STEPS)
    resumed = outcome_tensors(model, optimizer)
    assert any(name.endswith("/momentum_buffer") for name in resumed)
    assert_same(uninterrupted, resumed)
    assert scheduler.get_last_lr() == last_lr and scheduler.last_epoch == 2 * STEPS
    assert optimizer.param_groups[0]["nesterov"] is True


def test_values_come_back_with_their_types(tmp_path):
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    extra = {
        "epoch": 3, "step": 10**30, "loss": 0.1 + 0.2, "zero": -0.0, "flag": True, "none": None, "name": "run/1",
        "pair": (1, (2.5, "x"), []), "empty_tuple": (), "list": [1, [2, (3,)]],
        "floats": [float("nan"), float("inf"), float("-inf")],
        "by_int": {0: "a", 1: {2: "b"}}, "by_mixed": {1: "int", False: "bool", 1.5: "float", None: "none", (1, "t"): 5,
                                                        float("inf"): "inf"},
        "ordered": collections.OrderedDict([("b", 1), ("a", 2)]), "counter": collections.Counter("abracadabra"),
        "tag_lookalike": {"__sw__": "tensor", "name": "x"},
        "tensors": {"f32": base, "bf16": torch.ones(2, dtype=torch.bfloat16), "i64": torch.tensor(7),
                    "bool": torch.tensor([True, False]), "transposed": base.t(), "empty": torch.zeros(0, 3),
                    "parameter": torch.nn.Parameter(torch.ones(2))},
    }
    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.Adam(model.parameters())
    # ReduceLROnPlateau keeps inf in its state (mode_worse, best).
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer)
    save_checkpoint(tmp_path / "values.safetensors", model, optimizer, scheduler, extra=extra)
    optimizer2 = torch.optim.Adam(model.parameters())
    scheduler2 = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer2, mode="max")
    loaded = load_checkpoint(tmp_path / "values.safetensors", model, optimizer2, scheduler2)

    expected = dict(extra)
    # Tensors come back as plain contiguous tensors, with their values and dtypes.
    expected["tensors"] = dict(extra["tensors"], parameter=torch.ones(2))
    assert_same(expected, loaded, "extra")
    assert loaded["tensors"]["transposed"].is_contiguous()
    assert_same(scheduler.state_dict(), scheduler2.state_dict(), "scheduler")
    assert scheduler2.mode_worse == float("inf") and scheduler2.mode == "min"
    assert_same(optimizer.state_dict(), optimizer2.state_dict(), "optimizer")


@pytest.mark.parametrize("extra, where, what", [
    ({"fn": lambda step: step}, "extra['fn']", "the function test_checkpoint.<lambda>"),
    ({"a": [1, object()]}, "extra['a'][1]", "a builtins.object object"),
    ({"ids": {1, 2}}, "extra['ids']", "a builtins.set object"),
    ({"n": torch.tensor(1.0).numpy()[()]}, "extra['n']", "a numpy.float32 object"),
    ({frozenset(): 1}, "a key of extra", "a builtins.frozenset object"),
    ({"sparse": torch.eye(2).to_sparse()}, "extra['sparse']", "torch.sparse_coo tensor"),
])
def test_refuses_what_it_cannot_store_and_writes_nothing(tmp_path, extra, where, what):
    model = torch.nn.Linear(2, 2)
    path = tmp_path / "refused.safetensors"
    with pytest.raises(safeweights.InvalidArgumentError) as caught:
        save_checkpoint(path, model, extra=extra)
    assert isinstance(caught.value, ValueError)
    message = str(caught.value)
    assert where in message and what in message and "nothing is pickled" in message, message
    assert os.listdir(tmp_path) == []


def test_refusal_leaves_an_old_checkpoint_whole(tmp_path):
    model = torch.nn.Linear(2, 2)
    path = tmp_path / "ckpt.safetensors"
    save_checkpoint(path, model, extra={"step": 1})
    before = path.read_bytes()
    looping = [1]
    looping.append(looping)
    with pytest.raises(safeweights.InvalidArgumentError, match=r"extra\[1\] is a list that contains itself"):
        save_checkpoint(path, model, extra=looping)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.safetensors"]


def trained(optimizer="adamw", **shape):
    model, opt, scheduler = build(seed=0, optimizer=optimizer, **shape)
    train(model, opt, scheduler, 2)
    return model, opt, scheduler


def assert_refused_untouched(path, model, optimizer, scheduler, *expected):
    before = snapshot(model, optimizer, scheduler)
    with pytest.raises(safeweights.StateDictMismatchError) as caught:
        load_checkpoint(path, model, optimizer, scheduler)
    message = str(caught.value)
    assert message.startswith(f"{path}: the checkpoint does not fit: "), message
    for text in expected:
        assert text in message, f"{text!r} not in {message!r}"
    assert_same(before, snapshot(model, optimizer, scheduler))
    return message


def test_a_different_layer_size_is_refused_with_every_difference(tmp_path):
    path = tmp_path / "h16.safetensors"
    save_checkpoint(path, *trained(hidden=16))
    message = assert_refused_untouched(
        path, *trained(hidden=32),
        "model: size mismatch for '0.weight': the checkpoint has [16, 8], the model has [32, 8]",
        "model: size mismatch for '0.bias': the checkpoint has [16], the model has [32]",
        "model: size mismatch for '3.weight': the checkpoint has [1, 16], the model has [1, 32]",
        "optimizer: size mismatch for parameter 0 of group 0: the checkpoint has [16, 8], the optimizer has [32, 8]",
        "optimizer: state 'exp_avg' of parameter 2 of group 0 has shape [1, 16], the parameter has [1, 32]")
    assert "'3.bias'" not in message


def test_a_missing_layer_is_refused_with_every_difference(tmp_path):
    path = tmp_path / "deep.safetensors"
    save_checkpoint(path, *trained(layers=3))
    assert_refused_untouched(
        path, *trained(layers=2),
        "model: unexpected key(s): '5.weight', '5.bias'",
        "model: size mismatch for '3.weight': the checkpoint has [16, 16], the model has [1, 16]",
        "optimizer: parameter group 0 has 6 parameter(s) in the checkpoint, 4 in the optimizer")
    path = tmp_path / "shallow.safetensors"
    save_checkpoint(path, *trained(layers=2))
    assert_refused_untouched(path, *trained(layers=3), "model: missing key(s): '5.weight', '5.bias'")


def test_a_different_optimizer_or_scheduler_is_refused(tmp_path):
    path = tmp_path / "sgd.safetensors"
    save_checkpoint(path, *trained(optimizer="sgd"))
    assert_refused_untouched(
        path, *trained(optimizer="adamw"),
        "optimizer: the checkpoint's is torch.optim.sgd.SGD, the optimizer is torch.optim.adamw.AdamW",
        "scheduler: the checkpoint's is torch.optim.lr_scheduler.StepLR, "
        "the scheduler is torch.optim.lr_scheduler.LambdaLR")
    model, optimizer, scheduler = trained()
    path = tmp_path / "model_only.safetensors"
    save_checkpoint(path, model)
    assert_refused_untouched(path, model, optimizer, scheduler, "optimizer: the checkpoint has no optimizer state",
                             "scheduler: the checkpoint has no scheduler state")
    model, optimizer, _ = trained()
    groups = torch.optim.AdamW([{"params": list(model.parameters())[:2]}, {"params": list(model.parameters())[2:]}])
    path = tmp_path / "two_groups.safetensors"
    save_checkpoint(path, model, groups)
    assert_refused_untouched(path, model, optimizer, None,
                             "optimizer: the checkpoint has 2 parameter group(s), the optimizer has 1")


def test_a_dtype_difference_is_refused(tmp_path):
    save_checkpoint(tmp_path / "f32.safetensors", torch.nn.Linear(2, 2))
    model = torch.nn.Linear(2, 2).double()
    assert_refused_untouched(tmp_path / "f32.safetensors", model, torch.optim.SGD(model.parameters(), lr=0.1), None,
                             "model: dtype mismatch for 'weight': the checkpoint has torch.float32, "
                             "the model has torch.float64")


def test_model_only_load_skips_the_stored_optimizer(tmp_path):
    model, optimizer, scheduler = trained()
    save_checkpoint(tmp_path / "full.safetensors", model, optimizer, scheduler, extra={"step": 2})
    fresh, _, _ = build(seed=5)
    assert load_checkpoint(tmp_path / "full.safetensors", fresh) == {"step": 2}
    assert_same(model.state_dict(), fresh.state_dict())


class Tied(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(10, 4)
        self.head = torch.nn.Linear(4, 10, bias=False)
        self.head.weight = self.embed.weight

    def forward(self, ids):
        return self.head(self.embed(ids))


def test_tied_weights_are_stored_once_and_load_tied(tmp_path):
    torch.manual_seed(0)
    model = Tied()
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
    model(torch.tensor([1, 2, 3])).sum().backward()
    optimizer.step()
    base = torch.arange(8.0)
    extra = {"same_as_embedding": model.embed.weight, "base": base, "overlap": base[2:6], "tail": base[6:]}
    save_checkpoint(tmp_path / "tied.safetensors", model, optimizer, extra=extra)
    with safeweights.safe_open(tmp_path / "tied.safetensors", "pt") as f:
        names = f.keys()
    assert [n for n in names if n.startswith("model/")] == ["model/embed.weight"]
    assert not any(n.startswith("extra/same_as_embedding") for n in names)

    torch.manual_seed(1)
    fresh = Tied()
    fresh_optimizer = torch.optim.AdamW(fresh.parameters(), lr=0.1)
    loaded = load_checkpoint(tmp_path / "tied.safetensors", fresh, fresh_optimizer)
    assert fresh.head.weight is fresh.embed.weight
    assert_same(model.state_dict(), fresh.state_dict())
    assert_same(optimizer.state_dict(), fresh_optimizer.state_dict())
    assert torch.equal(loaded["same_as_embedding"], model.embed.weight.detach())
    assert torch.equal(loaded["overlap"], base[2:6]) and torch.equal(loaded["tail"], base[6:])
    assert torch.equal(loaded["base"], base)


def test_the_file_is_safetensors_and_json_and_nothing_is_pickled(tmp_path, monkeypatch):
    def no_pickle(*args, **kwargs):
        raise AssertionError("pickle was used")

    for module, names in ((pickle, ("dump", "dumps", "load", "loads", "Pickler", "Unpickler")),
                          (torch, ("save", "load"))):
        for name in names:
            monkeypatch.setattr(module, name, no_pickle)
    model, optimizer, scheduler = trained()
    path = tmp_path / "plain.safetensors"
    save_checkpoint(path, model, optimizer, scheduler, extra={"epoch": 2})
    fresh, fresh_optimizer, fresh_scheduler = build(seed=3)
    assert load_checkpoint(path, fresh, fresh_optimizer, fresh_scheduler) == {"epoch": 2}
    monkeypatch.undo()

    # Read by hand: an 8-byte length, a JSON header, then exactly the tensors' bytes.
    data = path.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    metadata = header.pop("__metadata__")
    assert list(metadata) == ["safeweights.checkpoint"]
    document = json.loads(metadata["safeweights.checkpoint"])
    assert document["version"] == 1 and document["optimizer"]["class"] == "torch.optim.adamw.AdamW"
    assert max(entry["data_offsets"][1] for entry in header.values()) == len(data) - 8 - length
    with safeweights.safe_open(path, "pt") as f:
        assert f.metadata() == metadata
        assert sorted(f.keys()) == sorted(header)


def checkpoint_with(tmp_path, edit):
    """A real checkpoint whose JSON document went through ``edit`` (which may also return new tensors)."""
    model = torch.nn.Linear(2, 2)
    path = tmp_path / "edited.safetensors"
    save_checkpoint(path, model)
    tensors = load_file(path, copy=True)
    with safeweights.safe_open(path, "pt") as f:
        document = json.loads(f.metadata()["safeweights.checkpoint"])
    text = edit(document, tensors)
    if not isinstance(text, str):
        text = json.dumps(document)
    save_file(tensors, path, metadata={"safeweights.checkpoint": text})
    return path, model


def _set(document, tensors, key, value):
    document[key] = value


@pytest.mark.parametrize("edit, expected", [
    (lambda d, t: "{not json", "is not JSON"),
    (lambda d, t: "NaN", "is not JSON"),
    (lambda d, t: "[1]", "is not a JSON object"),
    (lambda d, t: _set(d, t, "version", 2), "checkpoint format version 2; this safeweights reads version 1"),
    (lambda d, t: _set(d, t, "extra", {"__sw__": "set", "items": []}), "at extra: unknown tag 'set'"),
    (lambda d, t: _set(d, t, "extra", {"__sw__": "tensor", "name": "nowhere"}), "no tensor 'nowhere' in the file"),
    (lambda d, t: _set(d, t, "extra", {"__sw__": "float", "value": "1.5"}), "'1.5' is not nan, inf or -inf"),
    (lambda d, t: _set(d, t, "extra", {"__sw__": "dict", "items": [[1]]}), "not a [key, value] pair"),
    (lambda d, t: _set(d, t, "extra", {"__sw__": "dict", "items": [], "type": "set"}), "unknown dict type 'set'"),
    (lambda d, t: _set(d, t, "extra", {"__sw__": "dict", "items": [[[1], 2]]}),
     "a builtins.list object cannot be a key"),
    (lambda d, t: _set(d, t, "model", None), "at model: expected an object"),
    (lambda d, t: t.update({"rng/torch_cpu": torch.ones(3)}), "RNG state is not a 1-D U8 tensor"),
    (lambda d, t: t.update(stray=torch.ones(1)), "does not name: ['stray']"),
])
def test_a_malformed_checkpoint_is_invalid_metadata(tmp_path, edit, expected):
    path, model = checkpoint_with(tmp_path, edit)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(safeweights.InvalidMetadataError) as caught:
        load_checkpoint(path, model)
    assert str(caught.value).startswith(f"{path}: ") and expected in str(caught.value), str(caught.value)
    assert_same(before, dict(model.state_dict()))


def test_a_plain_safetensors_file_is_not_a_checkpoint(tmp_path):
    save_file({"w": torch.ones(2)}, tmp_path / "plain.safetensors")
    with pytest.raises(safeweights.InvalidMetadataError, match="not a checkpoint of save_checkpoint"):
        load_checkpoint(tmp_path / "plain.safetensors", torch.nn.Linear(2, 2))
