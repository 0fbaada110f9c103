"""safeweights.registry: the model registry from Python, end to end on a real
SQLite database in a temporary directory (the same C++ core as the CLI)."""

import sqlite3

import numpy as np
import pytest

import safeweights
import safeweights.numpy as snp
from safeweights.registry import Registry


def _write(path, value, note="x"):
    snp.save_file({"w": np.full((4, 3), value, dtype=np.float32)}, path, metadata={"note": note})
    return path


def test_add_alias_resolve_load_rollback(tmp_path):
    reg = Registry.init(tmp_path / "reg")
    v1 = reg.add(_write(tmp_path / "a.safetensors", 1.0, "first"), "churn", note="January")
    v2 = reg.add(_write(tmp_path / "b.safetensors", 2.0, "second"), "churn")
    assert (v1["version"], v2["version"]) == ("1", "2")
    assert v1["note"] == "January" and v1["kind"] == "file"
    assert v1["files"][0]["metadata"] == {"note": "first"}
    assert reg.alias("churn@1", "production") == {"model": "churn", "alias": "production", "previous": None, "current": "1"}
    assert reg.alias("churn@2", "production")["previous"] == "1"
    with safeweights.safe_open(reg.resolve("churn@production"), "np") as f:
        assert f.metadata() == {"note": "second"}
        assert (f.get_tensor("w") == 2.0).all()
    assert reg.rollback("churn", "production")["current"] == "1"
    with safeweights.safe_open(Registry.open(tmp_path / "reg").resolve("churn@production"), "np") as f:
        assert (f.get_tensor("w") == 1.0).all()
    assert reg.show("churn")["version"] == "2"  # the latest
    assert [v["version"] for v in reg.list("churn")] == ["1", "2"]
    assert [e["action"] for e in reg.log()] == ["init", "add", "add", "alias", "alias", "rollback"]


def test_directory_version_resolves_to_a_model_directory(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    _write(model / "model-00001-of-00002.safetensors", 1.0)
    _write(model / "model-00002-of-00002.safetensors", 2.0)
    (model / "config.json").write_text("{}")
    reg = Registry.init(tmp_path / "reg")
    v = reg.add(model, "llm", version="2024-01-15")
    assert v["kind"] == "directory" and len(v["files"]) == 3
    path = reg.resolve("llm@2024-01-15")
    with safeweights.safe_open(f"{path}/model-00002-of-00002.safetensors", "np") as f:
        assert (f.get_tensor("w") == 2.0).all()


def test_errors_are_the_packages(tmp_path):
    with pytest.raises(safeweights.RegistryFailedError):
        Registry.open(tmp_path / "nowhere")
    reg = Registry.init(tmp_path / "reg")
    with pytest.raises(safeweights.ModelNotFoundError):
        reg.resolve("nobody@production")
    path = _write(tmp_path / "a.safetensors", 1.0)
    reg.add(path, "m", version="v1")
    with pytest.raises(ValueError):  # InvalidArgumentError: a duplicate version
        reg.add(path, "m", version="v1")
    with pytest.raises(safeweights.SafetensorError):
        reg.add(path, "bad/name")


def test_corruption_is_refused_and_reported(tmp_path):
    reg = Registry.init(tmp_path / "reg")
    reg.add(_write(tmp_path / "a.safetensors", 1.0), "m")
    stored = reg.resolve("m")
    with open(stored, "r+b") as f:
        f.seek(-1, 2)
        f.write(b"\x7f")
    with pytest.raises(safeweights.DigestMismatchError):
        reg.resolve("m")
    report = reg.verify()
    assert not report["ok"]
    assert report["problems"][0]["path"] == "a.safetensors"


def test_gc_keeps_aliased_and_the_audit_log_is_append_only(tmp_path):
    reg = Registry.init(tmp_path / "reg")
    for i in range(4):
        reg.add(_write(tmp_path / f"{i}.safetensors", float(i)), "m")
    reg.alias("m@1", "production")
    report = reg.gc(1)
    assert report["removed_versions"] == ["m@2", "m@3"]
    assert report["removed_objects"] == 2
    assert [v["version"] for v in reg.list()] == ["1", "4"]
    assert reg.verify()["ok"]
    db = sqlite3.connect(tmp_path / "reg" / "registry.db")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("DELETE FROM audit_log")
    db.close()
