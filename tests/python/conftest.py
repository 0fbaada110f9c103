"""Shared fixtures: the conformance files and small files written per test."""

import json
import pathlib

import pytest

DATA = pathlib.Path(__file__).resolve().parent.parent / "data" / "conformance"
VALID = sorted(p for p in (DATA / "valid").glob("*.safetensors"))
MALFORMED_INDEX = json.loads((DATA / "malformed" / "INDEX.json").read_text())


def expect_of(path):
    return json.loads(pathlib.Path(str(path) + ".expect.json").read_text())


@pytest.fixture
def sample(tmp_path):
    """A small file with F32, I64 and BF16 tensors and metadata, written by safeweights.torch."""
    import torch

    import safeweights.torch as st

    g = torch.Generator().manual_seed(0)
    tensors = {
        "w": torch.randn(6, 5, 4, generator=g),
        "b": torch.arange(10, dtype=torch.int64),
        "h": torch.randn(3, 8, generator=g).to(torch.bfloat16),
    }
    path = tmp_path / "sample.safetensors"
    st.save_file(tensors, path, metadata={"format": "pt"})
    return path, tensors
