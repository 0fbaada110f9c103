"""safeweights.integrity: digests, seals, seal checks and model signatures from Python."""

import hashlib
import pathlib
import shutil
import subprocess

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


UPSTREAM = pathlib.Path(__file__).resolve().parent.parent / "data" / "openssf-model-signing"


def test_model_signatures_of_the_real_tool_verify_and_changes_are_named(tmp_path):
    for version in ("v1.0.1", "v1.1.0"):
        model = UPSTREAM / f"{version}-elliptic-key"
        report = integrity.verify_model(model, model / "model.sig", public_key=UPSTREAM / "keys/signing-key-pub.pem",
                                        ignore_paths=["ignore-me"])
        assert report.ok and report.resources == 2 and report.signer.startswith("key ecdsa-p384 ")
        model = UPSTREAM / f"{version}-certificate"
        report = integrity.verify_model(model, model / "model.sig", certificate_chain=[UPSTREAM / "keys/ca-cert.pem"],
                                        ignore_paths=["ignore-me"])
        assert report.ok and report.signer == "certificate /CN=intermediate-ca"
    copy = tmp_path / "copy"
    shutil.copytree(UPSTREAM / "v1.1.0-elliptic-key", copy)
    (copy / "signme-1").write_bytes(b"changed")
    report = integrity.verify_model(copy, copy / "model.sig", public_key=UPSTREAM / "keys/signing-key-pub.pem")
    assert not report.ok and report.changed == ["signme-1"]
    with pytest.raises(safeweights.DigestMismatchError, match="changed: signme-1"):
        integrity.verify_model(copy, copy / "model.sig", public_key=UPSTREAM / "keys/signing-key-pub.pem", check=True)
    with pytest.raises(safeweights.UntrustedSignerError):
        integrity.verify_model(copy, UPSTREAM / "v1.1.0-certificate/model.sig",
                               certificate_chain=[UPSTREAM / "keys/int-ca-cert.pem"])
    with pytest.raises(safeweights.WrongKeyError):
        integrity.verify_model(copy, UPSTREAM / "v1.1.0-certificate/model.sig",
                               public_key=UPSTREAM / "keys/signing-key-pub.pem")
    with pytest.raises(safeweights.InvalidArgumentError):
        integrity.verify_model(copy, copy / "model.sig")


def test_sign_model_then_verify_and_tamper(sample, tmp_path):
    path, _ = sample
    model = tmp_path / "model"
    model.mkdir()
    shutil.copy(path, model / "model.safetensors")
    (model / "config.json").write_text("{}")
    key, pub = tmp_path / "key.pem", tmp_path / "pub.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key],
                   check=True)
    subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", pub], check=True)
    for serialization in ("files", "shards"):
        signed = integrity.sign_model(model, tmp_path / "model.sig", key, serialization=serialization, shard_size=64)
        assert signed >= 2
        assert integrity.verify_model(model, tmp_path / "model.sig", public_key=pub).ok
    (model / "extra.txt").write_text("x")
    report = integrity.verify_model(model, tmp_path / "model.sig", public_key=pub)
    assert report.extra == ["extra.txt"] and not report
    sig = tmp_path / "model.sig"
    sig.write_text(sig.read_text()[:100])
    with pytest.raises(safeweights.InvalidSignatureError, match="not a valid Sigstore bundle"):
        integrity.verify_model(model, sig, public_key=pub)
