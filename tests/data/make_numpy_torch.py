#!/usr/bin/python3
"""Writes the NumPy and PyTorch fixtures of tests/test_cli_tools.cpp into
tests/data/numpy/ and tests/data/torch/: real outputs of np.save, np.savez,
np.savez_compressed and torch.save, good and bad, plus what PyTorch computes
for them (its BF16/F16 rounding, its statistics) for the tests to compare
against. The outputs are committed, so the tests (and CI) need no Python.

Run with Debian's interpreter, which has python3-numpy and python3-torch:
    /usr/bin/python3 tests/data/make_numpy_torch.py
Deterministic (fixed seeds; zip members get a fixed date), except
state_dict_legacy.pt: torch's legacy format records object ids.
"""
import io
import json
import os
import pickle
import struct
import zipfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
NP_DIR = os.path.join(HERE, "numpy")
TORCH_DIR = os.path.join(HERE, "torch")
FIXED_DATE = (2020, 1, 1, 0, 0, 0)


def fixed_dates(path):
    """Rewrites a zip with every member dated FIXED_DATE (np.savez stamps the time)."""
    with zipfile.ZipFile(path) as z:
        members = [(info, z.read(info)) for info in z.infolist()]
    with zipfile.ZipFile(path, "w") as z:
        for info, data in members:
            info.date_time = FIXED_DATE
            z.writestr(info, data)


def save_npz(path, compressed=False, **arrays):
    (np.savez_compressed if compressed else np.savez)(path, **arrays)
    fixed_dates(path)


def npy_v1(header):
    """A version 1.0 preamble around a hand-written header dict, padded as NumPy pads."""
    header += b" " * ((64 - (10 + len(header) + 1) % 64) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header


def numpy_fixtures(rng):
    os.makedirs(NP_DIR, exist_ok=True)
    p = lambda name: os.path.join(NP_DIR, name)

    # One file per dtype safetensors shares with NumPy, C order, little-endian.
    arrays = {
        "f32": rng.standard_normal((2, 3)).astype(np.float32),
        "f64": rng.standard_normal((4,)),
        "f16": rng.standard_normal((5,)).astype(np.float16),
        "i8": rng.integers(-128, 128, (6,), dtype=np.int8),
        "u8": rng.integers(0, 256, (6,), dtype=np.uint8),
        "i16": rng.integers(-2**15, 2**15, (3, 2), dtype=np.int16),
        "u16": rng.integers(0, 2**16, (3, 2), dtype=np.uint16),
        "i32": rng.integers(-2**31, 2**31, (4,), dtype=np.int32),
        "u32": rng.integers(0, 2**32, (4,), dtype=np.uint32),
        "i64": rng.integers(-2**63, 2**63 - 1, (2, 2), dtype=np.int64),
        "u64": rng.integers(0, 2**64 - 1, (2, 2), dtype=np.uint64),
        "bool": rng.integers(0, 2, (7,)).astype(np.bool_),
        "c64": (rng.standard_normal(3) + 1j * rng.standard_normal(3)).astype(np.complex64),
        "scalar": np.float32(3.25).reshape(()),
        "empty": np.zeros((0, 3), dtype=np.float32),
    }
    for name, a in arrays.items():
        np.save(p(name + ".npy"), a)
    # Each file's raw C-order little-endian bytes, what the tensor must hold.
    for name, a in arrays.items():
        with open(p(name + ".bytes"), "wb") as f:
            f.write(np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<")).tobytes())

    # Layouts np.load undoes: Fortran order, big-endian; the C/LE twin beside each.
    fortran = np.asfortranarray(rng.standard_normal((3, 4, 2)))
    assert np.isfortran(fortran)
    np.save(p("fortran_f64.npy"), fortran)
    np.save(p("fortran_f64.c.npy"), np.ascontiguousarray(fortran))
    for name, dt in (("big_f32", ">f4"), ("big_i64", ">i8"), ("big_c64", ">c8"), ("big_u16", ">u2")):
        a = (rng.standard_normal((2, 3)) * 1000).astype(dt)
        if dt == ">c8":
            a = (rng.standard_normal((2, 3)) + 1j * rng.standard_normal((2, 3))).astype(dt)
        np.save(p(name + ".npy"), a)
        np.save(p(name + ".le.npy"), a.astype(a.dtype.newbyteorder("<")))
    big_fortran = np.asfortranarray((rng.standard_normal((3, 2)) * 100).astype(">f4"))
    np.save(p("big_fortran_f32.npy"), big_fortran)
    np.save(p("big_fortran_f32.c.npy"), np.ascontiguousarray(big_fortran).astype("<f4"))
    # Format version 2.0 (4-byte header length).
    with open(p("version2.npy"), "wb") as f:
        np.lib.format.write_array(f, arrays["f32"], version=(2, 0))

    # Archives: stored (np.savez) and deflated (np.savez_compressed).
    members = {"embed.weight": rng.standard_normal((4, 3)).astype(np.float32),
               "embed.bias": rng.standard_normal((3,)).astype(np.float16),
               "steps": np.array(7, dtype=np.int64),
               "mask": np.array([True, False, True])}
    save_npz(p("stored.npz"), **members)
    save_npz(p("compressed.npz"), compressed=True, **members)
    save_npz(p("layouts.npz"), fortran=fortran, big=(arrays["f32"] * 1).astype(">f4"))
    save_npz(p("layouts_compressed.npz"), compressed=True, fortran=fortran, big=(arrays["f32"] * 1).astype(">f4"))
    save_npz(p("empty.npz"))

    # Bad inputs.
    np.save(p("object.npy"), np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    save_npz(p("object.npz"), ok=arrays["f32"], bad=np.array([[1], "x"], dtype=object))
    np.save(p("structured.npy"), np.zeros(2, dtype=[("x", "<f4"), ("y", "<i4")]))
    np.save(p("unicode.npy"), np.array(["a", "bc"]))
    np.save(p("datetime.npy"), np.array(["2020-01-01"], dtype="datetime64[D]"))
    np.save(p("complex128.npy"), np.array([1 + 2j]))
    np.save(p("longdouble.npy"), np.array([1.5], dtype=np.longdouble))
    with open(p("f32.npy"), "rb") as f:
        good = f.read()
    with open(p("truncated.npy"), "wb") as f:
        f.write(good[:-5])
    with open(p("truncated_header.npy"), "wb") as f:
        f.write(good[:40])
    with open(p("trailing.npy"), "wb") as f:
        f.write(good + b"\0\0\0\0")
    with open(p("wrong_magic.npy"), "wb") as f:
        f.write(b"\x93NUMPX" + good[6:])
    data = good[10 + struct.unpack("<H", good[8:10])[0]:]
    with open(p("bad_header.npy"), "wb") as f:
        f.write(npy_v1(b"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'extra': 1, }") + data)
    with open(p("huge_shape.npy"), "wb") as f:
        f.write(npy_v1(b"{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }") + data)
    with open(p("pickle.npy"), "wb") as f:  # a pickle named like an array
        pickle.dump({"w": arrays["f32"]}, f, protocol=4)
    with open(p("stored.npz"), "rb") as f:
        archive = f.read()
    with open(p("truncated.npz"), "wb") as f:
        f.write(archive[: len(archive) // 2])
    with open(p("compressed.npz"), "rb") as f:
        deflated = f.read()
    with open(p("truncated_compressed.npz"), "wb") as f:
        f.write(deflated[: len(deflated) - 30])
    # A flipped byte inside the first member's data: the CRC check must catch it.
    corrupt = bytearray(archive)
    first = zipfile.ZipFile(io.BytesIO(archive)).infolist()[0]
    name_len, extra_len = struct.unpack("<HH", archive[first.header_offset + 26: first.header_offset + 30])
    data_at = first.header_offset + 30 + name_len + extra_len
    corrupt[data_at + 130] ^= 0x40
    with open(p("corrupt_crc.npz"), "wb") as f:
        f.write(bytes(corrupt))
    with zipfile.ZipFile(p("not_npy_member.npz"), "w") as z:
        z.writestr(zipfile.ZipInfo("readme.txt", FIXED_DATE), "not an array")


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(10, 4)
        self.fc = torch.nn.Linear(4, 8)
        self.norm = torch.nn.BatchNorm1d(8)
        self.out = torch.nn.Linear(8, 3)


def torch_fixtures():
    os.makedirs(TORCH_DIR, exist_ok=True)
    p = lambda name: os.path.join(TORCH_DIR, name)
    torch.manual_seed(0)
    model = Tiny()
    model.norm(torch.randn(16, 8))  # move the running statistics off their defaults
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}

    # What people have: torch.save files. Both are refused.
    torch.save(sd, p("state_dict.pt"))
    torch.save(sd, p("state_dict_legacy.pt"), _use_new_zipfile_serialization=False)

    # Values that test rounding: BF16/F16 ties, subnormals, overflow, NaN, Inf.
    f32 = lambda bits: np.array(bits, dtype=np.uint32).view(np.float32)
    special = np.concatenate([
        f32([0x3F808000, 0x3F818000, 0x3F80C000, 0x3F807FFF, 0x3F800001,  # BF16 ties and neighbours
             0x3F801000, 0x3F803000, 0x3F802000, 0x3F800FFF,              # F16 ties and neighbours
             0x33800000, 0x33000000, 0x33C00000, 0x387FC000, 0x00000001,  # F16 subnormals, below
             0x477FF000, 0x477FEFFF, 0x7F7FFFFF, 0x7F800000, 0xFF800000,  # overflow, infinities
             0x7FC00000, 0x80000000, 0x00000000]),
        np.random.default_rng(1).standard_normal(4000).astype(np.float32) * 10,
    ])
    sd_np = {k: v.numpy() for k, v in sd.items()}
    sd_np["special"] = special
    sd_np["wide"] = np.random.default_rng(2).standard_normal(3000) * 1e3  # float64
    save_npz(p("state_dict.npz"), **sd_np)

    # PyTorch's own casts of every float tensor, as raw 16-bit patterns.
    casts = {}
    for k, v in sd_np.items():
        if v.dtype.kind != "f":
            continue
        t = torch.from_numpy(np.ascontiguousarray(v))
        for name, dt in (("bf16", torch.bfloat16), ("f16", torch.float16)):
            casts[f"{k}@{name}"] = t.to(dt).view(torch.int16).numpy().view(np.uint16)
        casts[f"{k}@f32"] = t.to(torch.float32).numpy()
    save_npz(p("torch_casts.npz"), **casts)

    # PyTorch's statistics (in float64) of the float tensors, for `stats`.
    stats = {}
    for k, v in sd_np.items():
        t = torch.from_numpy(np.ascontiguousarray(v)).to(torch.float64).flatten()
        finite = t[torch.isfinite(t)]
        stats[k] = {
            "count": t.numel(),
            "min": finite.min().item(), "max": finite.max().item(),
            "mean": finite.mean().item(), "std": finite.std(unbiased=False).item(),
            "nan": int(torch.isnan(t).sum()), "inf": int(torch.isinf(t).sum()), "zeros": int((t == 0).sum()),
        }
    with open(p("torch_stats.json"), "w") as f:
        json.dump(stats, f, indent=2, sort_keys=True)
        f.write("\n")


def main():
    numpy_fixtures(np.random.default_rng(0))
    torch_fixtures()


if __name__ == "__main__":
    main()
