"""The safetensors-compatible API and what safeweights adds: lazy writable
loads, read-only views, copies, pread, slices, dtypes, errors."""

import hashlib
import os
import random

import numpy as np
import pytest
import torch

import safeweights
import safeweights.numpy as snp
import safeweights.torch as st


def test_keys_metadata_and_tensors(sample):
    path, tensors = sample
    with safeweights.safe_open(path, framework="pt") as f:
        assert f.keys() == ["b", "h", "w"]
        assert f.offset_keys() == ["b", "w", "h"]  # the reference's order: dtype size, then name
        assert f.metadata() == {"format": "pt"}
        for name, t in tensors.items():
            got = f.get_tensor(name)
            assert got.dtype == t.dtype and torch.equal(got, t)
    snp.save_file({"x": np.zeros(2)}, path.parent / "none.safetensors")
    with safeweights.safe_open(path.parent / "none.safetensors", "numpy") as f:
        assert f.metadata() is None


def test_slices_match_numpy_indexing(tmp_path):
    rng = np.random.default_rng(1)
    full = rng.standard_normal((7, 6, 5)).astype(np.float32)
    path = tmp_path / "s.safetensors"
    snp.save_file({"t": full}, path)
    indexes = [(slice(None),), (1,), (-1,), (slice(1, 5),), (slice(None, None, 2),), (slice(None, None, -1),),
               (Ellipsis, 2), (Ellipsis, slice(1, None, 3)), (2, Ellipsis, -2), (slice(-3, -1), 0, slice(None, None, -2)),
               (slice(5, 1, -2), slice(None), slice(4, 0, -1)), (slice(3, 3),), (slice(None), slice(2, 5), 1),
               3, slice(0, 100), (0, 0, 0)]
    for _ in range(60):
        parts = []
        for extent in full.shape[:random.randint(1, 3)]:
            kind = random.random()
            if kind < 0.3:
                parts.append(random.randint(-extent, extent - 1))
            else:
                parts.append(slice(random.choice([None, random.randint(-extent, extent)]),
                                   random.choice([None, random.randint(-extent, extent)]),
                                   random.choice([None, 1, 2, 3, -1, -2])))
        indexes.append(tuple(parts))
    for backend in ("mmap", "pread"):
        with safeweights.safe_open(path, "np", backend=backend) as f:
            sl = f.get_slice("t")
            for index in indexes:
                got = sl[index]
                want = full[index]
                assert got.shape == want.shape and np.array_equal(got, want), index
                assert got.flags.c_contiguous
        with safeweights.safe_open(path, "pt", backend=backend) as f:
            assert torch.equal(f.get_slice("t")[1:, ::-2], torch.from_numpy(np.ascontiguousarray(full[1:, ::-2])))


def test_slice_errors_name_the_tensor(sample):
    path, _ = sample
    with safeweights.safe_open(path, "pt") as f:
        sl = f.get_slice("w")
        with pytest.raises(safeweights.InvalidArgumentError, match="'w'"):
            sl[6]
        with pytest.raises(safeweights.InvalidArgumentError, match="dimensions"):
            sl[0, 0, 0, 0]
        with pytest.raises(safeweights.InvalidArgumentError):
            sl["a"]
        with pytest.raises(safeweights.InvalidArgumentError):
            sl[..., 0, ...]


def test_pread_slices_fetch_only_their_rows(tmp_path):
    full = np.arange(1000 * 256, dtype=np.float32).reshape(1000, 256)
    path = tmp_path / "rows.safetensors"
    snp.save_file({"t": full}, path)
    with safeweights.safe_open(path, "np", backend="pread") as f:
        before = f._open.bytes_fetched
        part = f.get_slice("t")[100:110]
        assert np.array_equal(part, full[100:110])
        assert f._open.bytes_fetched - before == 10 * 256 * 4
        before = f._open.bytes_fetched
        assert np.array_equal(f.get_slice("t")[::100, 3], full[::100, 3])
        assert f._open.bytes_fetched - before == 10 * 4


def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_load_file_is_lazy_writable_and_private(tmp_path):
    big = np.random.default_rng(2).standard_normal(32 << 20 >> 2).astype(np.float32)  # 32 MiB
    path = tmp_path / "big.safetensors"
    snp.save_file({"big": big, "small": np.ones(4, np.float32)}, path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    before = _rss_bytes()
    loaded = st.load_file(path)
    assert _rss_bytes() - before < (8 << 20)  # nothing read yet
    total = float(loaded["big"].sum())  # touches every page
    assert _rss_bytes() - before > (24 << 20)
    assert total == pytest.approx(float(big.astype(np.float64).sum()), rel=1e-3)
    # Ordinary writable tensors: in-place ops work, and no write reaches the file.
    loaded["big"].mul_(2).add_(1)
    loaded["small"][0] = 42
    assert loaded["small"][0].item() == 42
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert st.load_file(path)["small"][0].item() == 1
    arrays = snp.load_file(path)
    assert arrays["big"].flags.writeable
    arrays["big"] += 1
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


def test_views_keep_the_file_alive(sample):
    path, tensors = sample
    with safeweights.safe_open(path, "np") as f:
        w = f.get_tensor("w")
    del f
    import gc

    gc.collect()
    assert np.array_equal(w, tensors["w"].numpy())
    with pytest.raises(safeweights.SafetensorError, match="closed"):
        f2 = safeweights.safe_open(path, "np")
        f2.close()
        f2.get_tensor("w")


def test_readonly_views_are_numpy_only(sample):
    path, tensors = sample
    arrays = snp.load_file(path, readonly=True, unsupported="bytes")
    assert not arrays["w"].flags.writeable
    with pytest.raises(ValueError):
        arrays["w"][0] = 1
    assert np.array_equal(arrays["w"], tensors["w"].numpy())
    with pytest.raises(safeweights.InvalidArgumentError, match="torch has no read-only"):
        safeweights.safe_open(path, "pt", readonly=True)


def test_copy_and_pread_own_their_bytes(sample, tmp_path):
    path, tensors = sample
    copy = tmp_path / "copy.safetensors"
    copy.write_bytes(path.read_bytes())
    for loaded in (st.load_file(copy, copy=True), st.load_file(copy, backend="pread")):
        for name, t in tensors.items():
            assert torch.equal(loaded[name], t)
    eager = st.load_file(copy, copy=True)
    os.truncate(copy, 0)  # the copies never read the file again
    assert torch.equal(eager["w"], tensors["w"])


def test_pread_on_a_file_cut_short_is_an_error_not_a_crash(sample, tmp_path):
    path, _ = sample
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(path.read_bytes())
    f = safeweights.safe_open(cut, "pt", backend="pread")
    os.truncate(cut, 100)
    with pytest.raises(safeweights.SafetensorError) as info:
        f.get_tensors()
    assert str(cut) in str(info.value)


def test_dtypes_the_framework_lacks(tmp_path):
    path = tmp_path / "d.safetensors"
    raw = bytes(range(16))
    safeweights.serialize_file({"f8": {"dtype": "F8_E4M3", "shape": [16], "data": raw},
                                "bf": {"dtype": "BF16", "shape": [8], "data": raw},
                                "u16": {"dtype": "U16", "shape": [8], "data": raw}}, path)
    with pytest.raises(safeweights.DtypeMismatchError, match="'bf' is BF16, which NumPy"):
        snp.load_file(path)
    got = snp.load_file(path, unsupported="bytes")
    assert got["bf"].dtype == np.uint8 and got["bf"].tobytes() == raw
    assert got["u16"].dtype == np.uint16
    with safeweights.safe_open(path, "pt") as f:
        assert f.get_tensor("bf").dtype == torch.bfloat16
        assert f.get_tensor("bf").view(torch.int16).numpy().tobytes() == raw
        if not hasattr(torch, "float8_e4m3fn"):
            with pytest.raises(safeweights.DtypeMismatchError, match="'f8' is F8_E4M3"):
                f.get_tensor("f8")
        if not hasattr(torch, "uint16"):
            with pytest.raises(safeweights.DtypeMismatchError, match="U16"):
                f.get_tensor("u16")
    with safeweights.safe_open(path, "pt", unsupported="bytes") as f:
        assert f.get_tensor("f8").numpy().tobytes() == raw


def test_errors_carry_the_core_code_and_name_file_and_tensor(sample, tmp_path):
    path, _ = sample
    with safeweights.safe_open(path, "np") as f:
        with pytest.raises(safeweights.TensorNotFoundError) as info:
            f.get_tensor("ghost")
    assert info.value.code == "tensor_not_found" and "ghost" in str(info.value) and str(path) in str(info.value)
    with pytest.raises(FileNotFoundError):
        safeweights.safe_open(tmp_path / "missing.safetensors", "np")
    with pytest.raises(safeweights.IoErrorError, match="not a regular file"):
        safeweights.safe_open(tmp_path, "np")
    bad = tmp_path / "bad.safetensors"
    data = bytearray(path.read_bytes())
    data[8:9] = b"["
    bad.write_bytes(bytes(data))
    with pytest.raises(safeweights.HeaderInvalidJsonError) as info:
        safeweights.safe_open(bad, "pt")
    assert str(bad) in str(info.value)
    assert isinstance(info.value, safeweights.SafetensorError)
    with pytest.raises(safeweights.InvalidArgumentError, match="framework 'tf'"):
        safeweights.safe_open(path, "tf")
    with pytest.raises(safeweights.InvalidArgumentError, match="backend"):
        safeweights.safe_open(path, "np", backend="io_uring")
    assert set(safeweights.ERRORS) >= {"offsets_not_contiguous", "duplicate_key", "file_changed"}


def test_saving_refuses_what_the_reference_refuses(tmp_path):
    shared = torch.zeros(4)
    with pytest.raises(RuntimeError, match="share memory"):
        st.save_file({"a": shared, "b": shared}, tmp_path / "x.safetensors")
    with pytest.raises(ValueError, match="non contiguous"):
        st.save({"a": torch.zeros(3, 4).t()})
    with pytest.raises(safeweights.InvalidMetadataError):
        st.save({"a": torch.zeros(2)}, metadata={"k": 1})
    with pytest.raises(safeweights.SafetensorError):
        safeweights.serialize({"a": {"dtype": "F32", "shape": [3], "data": b"\0" * 8}})
    with pytest.raises(safeweights.UnknownDtypeError):
        safeweights.TensorSpec(dtype="float128", shape=[1], data_ptr=0, data_len=0)
    assert not list(tmp_path.iterdir())  # no partial file


def test_bytes_round_trip_and_tensor_spec():
    t = {"a": torch.arange(6, dtype=torch.float32).reshape(2, 3), "z": torch.zeros(0, 3)}
    data = st.save(t, metadata={"m": "x"})
    back = st.load(data)
    assert torch.equal(back["a"], t["a"]) and back["z"].shape == (0, 3)
    arr = np.arange(6, dtype=np.float32)
    spec = safeweights.TensorSpec(dtype="float32", shape=[2, 3], data_ptr=arr.ctypes.data, data_len=arr.nbytes)
    assert safeweights.serialize({"a": spec}, metadata={"m": "x"}) == data[:0] + safeweights.serialize(
        {"a": {"dtype": "F32", "shape": [2, 3], "data": arr.tobytes()}}, metadata={"m": "x"})
    assert np.array_equal(snp.load(snp.save({"a": arr.reshape(2, 3)}))["a"], arr.reshape(2, 3))


def test_save_model_and_load_model_with_tied_weights(tmp_path):
    class Tied(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(10, 4)
            self.head = torch.nn.Linear(4, 10, bias=False)
            self.head.weight = self.embed.weight

    model = Tied()
    path = tmp_path / "m.safetensors"
    st.save_model(model, path)
    with safeweights.safe_open(path, "pt") as f:
        assert f.keys() == ["embed.weight"] and f.metadata() == {"head.weight": "embed.weight"}
    fresh = Tied()
    missing, unexpected = st.load_model(fresh, path)
    assert not missing and not unexpected
    assert torch.equal(fresh.head.weight, model.embed.weight)
    groups = st._find_shared_tensors(model.state_dict())
    assert {"embed.weight", "head.weight"} in groups
    assert st._remove_duplicate_names(model.state_dict()) == {"embed.weight": ["head.weight"]}
    assert st.storage_ptr(model.embed.weight) == st.storage_ptr(model.head.weight)
    assert st.storage_size(model.embed.weight) == 40 * 4


def test_safe_open_handle_takes_an_open_file(sample):
    path, tensors = sample
    with open(path, "rb") as fobj:
        with safeweights._safe_open_handle(fobj, "pt") as f:
            assert torch.equal(f.get_tensor("w"), tensors["w"])
        assert not fobj.closed  # the caller's descriptor stays the caller's
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        with pytest.raises(safeweights.IoErrorError, match="not a regular file"):
            safeweights._safe_open_handle(fd, "pt")
    finally:
        os.close(fd)


def test_the_install_holds_only_the_package():
    site = os.environ.get("SAFEWEIGHTS_PYTHON_SITE")
    if not site:
        pytest.skip("not run from scripts/test")
    names = {p for p in os.listdir(site) if p != "__pycache__"}
    assert names == {"safeweights", "safeweights-0.1.0.dist-info"}
    assert os.path.dirname(safeweights.__file__) == os.path.join(site, "safeweights")
