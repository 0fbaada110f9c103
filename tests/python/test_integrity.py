"""safeweights.integrity: digests, seals and seal checks from Python."""

import hashlib

import pytest

import safeweights
import safeweights.integrity as integrity
from conftest import VALID, expect_of


def test_digests_match_hashlib_and_the_conformance_files():
    for path in VALID[:10]:
        expect = expect_of(path)
        assert integrity.digest(path) == hashlib.sha256(path.read_bytes()).hexdigest() == expect["file_sha256"]
        assert integrity.tensor_digests(path) == {t["name"]: t["sha256"] for t in expect["tensors"]}


def test_seal_verify_and_tamper(sample, tmp_path):
    path, _ = sample
    sealed = tmp_path / "sealed.safetensors"
    integrity.seal(path, sealed)
    report = integrity.verify(sealed)
    assert report.ok and report.tensors == 3 and bool(report)
    data = bytearray(sealed.read_bytes())
    data[-1] ^= 0x01  # the last tensor's last byte
    sealed.write_bytes(bytes(data))
    report = integrity.verify(sealed)
    assert not report.ok and len(report.failures) == 1 and "`h`" in report.failures[0]
    with pytest.raises(safeweights.DigestMismatchError, match="`h`"):
        integrity.verify(sealed, check=True)
    with pytest.raises(safeweights.NotSealedError):
        integrity.verify(path)
