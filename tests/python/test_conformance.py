"""The shared conformance files through the Python API: every valid file read
exactly and rewritten byte for byte; every malformed file refused (or
accepted) as the core rules, by safe_open and load_file, never a crash."""

import hashlib

import numpy as np
import pytest

import safeweights
import safeweights.numpy as snp
import safeweights.torch as st
from conftest import DATA, MALFORMED_INDEX, VALID, expect_of


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
@pytest.mark.parametrize("backend", ["mmap", "pread"])
def test_valid_file_reads_exactly(path, backend):
    expect = expect_of(path)
    with safeweights.safe_open(path, "np", backend=backend, unsupported="bytes") as f:
        assert f.offset_keys() == [t["name"] for t in expect["tensors"]]
        assert f.keys() == sorted(t["name"] for t in expect["tensors"])
        assert f.metadata() == expect["metadata"]
        for t in expect["tensors"]:
            array = f.get_tensor(t["name"])
            assert hashlib.sha256(array.tobytes()).hexdigest() == t["sha256"], t["name"]
            if t["dtype"] in ("F4", "F6_E2M3", "F6_E3M2", "BF16") or t["dtype"].startswith("F8"):
                assert array.dtype == np.uint8 and array.ndim == 1  # raw bytes, asked for
            else:
                assert list(array.shape) == t["shape"]
            sl = f.get_slice(t["name"])
            assert sl.get_shape() == t["shape"] and sl.get_dtype() == t["dtype"]


def _file_metadata(path):
    with safeweights.safe_open(path, "np") as f:
        return f.metadata()


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_file_rewritten_byte_for_byte(path):
    """serialize(deserialize(file)) with the same metadata is the reference's bytes.

    The metadata goes in the file's order: the reference writes a hash map's
    order, which the expect files (sorted) do not keep.
    """
    data = path.read_bytes()
    expect = expect_of(path)
    tensors = {name: spec for name, spec in safeweights.deserialize(data)}
    again = safeweights.serialize(tensors, metadata=_file_metadata(path))
    assert hashlib.sha256(again).hexdigest() == expect["file_sha256"]


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_framework_writers_match_the_reference(path, tmp_path):
    """Arrays loaded and saved again by safeweights.numpy / .torch give the same file."""
    expect = expect_of(path)
    codes = {t["dtype"] for t in expect["tensors"]}
    if codes - {"F64", "F32", "F16", "I64", "I32", "I16", "I8", "U64", "U32", "U16", "U8", "BOOL", "C64"}:
        pytest.skip("a dtype NumPy lacks")
    arrays = snp.load_file(path)
    assert hashlib.sha256(snp.save(arrays, metadata=_file_metadata(path))).hexdigest() == expect["file_sha256"]
    if codes & {"U64", "U32", "U16"}:
        return  # torch 1.13 has no wide unsigned types
    tensors = st.load_file(path)
    st.save_file(tensors, tmp_path / "t.safetensors", metadata=_file_metadata(path))
    assert hashlib.sha256((tmp_path / "t.safetensors").read_bytes()).hexdigest() == expect["file_sha256"]


@pytest.mark.parametrize("name", sorted(MALFORMED_INDEX), ids=str)
def test_malformed_file(name):
    path = DATA / "malformed" / name
    verdict = MALFORMED_INDEX[name]["expect"]
    calls = [
        lambda: safeweights.safe_open(path, "np", backend="mmap", unsupported="bytes").get_tensors(),
        lambda: safeweights.safe_open(path, "pt", backend="pread", unsupported="bytes").get_tensors(),
        lambda: snp.load_file(path, unsupported="bytes"),
        lambda: st.load_file(path, unsupported="bytes"),
        lambda: snp.load(path.read_bytes(), unsupported="bytes"),
        lambda: safeweights.deserialize(path.read_bytes()),
    ]
    for call in calls:
        if verdict == "reject":
            with pytest.raises(safeweights.SafetensorError) as info:
                call()
            assert info.value.code != "unknown_error"
            assert str(info.value)
        else:
            call()
