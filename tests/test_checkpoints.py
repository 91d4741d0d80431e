"""Committed checkpoints: copied in with their sha256, verified on use, refused when altered."""

from __future__ import annotations

import pytest

import mmgt.checkpoints as C
from mmgt.errors import DataError


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setattr(C, "CHECKPOINTS", tmp_path / "checkpoints")
    monkeypatch.setattr(C, "MANIFEST", tmp_path / "checkpoints" / "manifest.json")
    run = tmp_path / "run"
    run.mkdir()
    (run / "model.safetensors").write_bytes(b"weights")
    (run / "config.json").write_text("{}")
    (run / "optimizer.pt").write_bytes(b"not committed")
    return run


def test_add_then_use(store, tmp_path):
    files = C.add(store, "demo/tiny", "train-demo", ("*.safetensors", "*.json"))
    assert sorted(f.name for f in files) == ["config.json", "model.safetensors"]
    entry = C.manifest()["demo/tiny/model.safetensors"]
    assert entry["make"] == "train-demo" and entry["bytes"] == 7 and len(entry["sha256"]) == 64
    assert C.default_checkpoint("demo/tiny", tmp_path / "runs") == C.CHECKPOINTS / "demo" / "tiny"
    assert C.default_checkpoint("other", tmp_path / "runs") == tmp_path / "runs"


def test_altered_or_missing_file_is_refused(store):
    C.add(store, "demo/tiny", "train-demo", ("*.safetensors",))
    target = C.CHECKPOINTS / "demo" / "tiny" / "model.safetensors"
    target.write_bytes(b"weightz")
    with pytest.raises(DataError, match="make train-demo"):
        C.committed("demo/tiny")
    target.unlink()
    with pytest.raises(DataError, match="missing"):
        C.committed("demo/tiny")
