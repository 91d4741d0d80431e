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


def test_fp16_copy_keeps_folders_metadata_and_values(tmp_path, monkeypatch):
    import torch
    from safetensors.torch import load_file, safe_open, save_file

    monkeypatch.setattr(C, "CHECKPOINTS", tmp_path / "checkpoints")
    monkeypatch.setattr(C, "MANIFEST", tmp_path / "checkpoints" / "manifest.json")
    run = tmp_path / "run"
    (run / "unet").mkdir(parents=True)
    weights = {"w": torch.linspace(-2, 2, 7), "steps": torch.arange(3)}
    save_file(weights, str(run / "unet" / "model.safetensors"), metadata={"format": "demo"})
    (run / "unet" / "config.json").write_text("{}")
    files = C.add(run, "demo/fp16", "train-demo", ("**/*",), fp16=True)
    assert sorted(f.relative_to(C.CHECKPOINTS).as_posix() for f in files) == ["demo/fp16/unet/config.json",
                                                                                "demo/fp16/unet/model.safetensors"]
    out = C.CHECKPOINTS / "demo" / "fp16" / "unet" / "model.safetensors"
    loaded = load_file(str(out))
    assert loaded["w"].dtype == torch.float16 and loaded["steps"].dtype == torch.int64
    torch.testing.assert_close(loaded["w"].float(), weights["w"], atol=1e-3, rtol=1e-3)
    with safe_open(str(out), "pt") as f:
        assert f.metadata() == {"format": "demo"}
    assert C.committed("demo/fp16") == C.CHECKPOINTS / "demo" / "fp16"


def test_identical_weights_are_committed_once_as_a_relative_link(tmp_path, monkeypatch):
    import os

    monkeypatch.setattr(C, "CHECKPOINTS", tmp_path / "checkpoints")
    monkeypatch.setattr(C, "MANIFEST", tmp_path / "checkpoints" / "manifest.json")
    frozen, big = os.urandom(C.SHARE_ABOVE + 1), os.urandom(C.SHARE_ABOVE + 1)
    for run, trained in (("base", b"a" * 10), ("variant", big)):
        (tmp_path / run / "vae").mkdir(parents=True)
        (tmp_path / run / "vae" / "w.safetensors").write_bytes(frozen)
        (tmp_path / run / "unet.safetensors").write_bytes(trained)
    C.add(tmp_path / "base", "s/base", "train-a", ("**/*",))
    C.add(tmp_path / "variant", "s/variant", "train-b", ("**/*",))
    link = C.CHECKPOINTS / "s" / "variant" / "vae" / "w.safetensors"
    assert link.is_symlink() and os.readlink(link) == "../../base/vae/w.safetensors" and link.read_bytes() == frozen
    assert C.manifest()["s/variant/vae/w.safetensors"]["same_as"] == "s/base/vae/w.safetensors"
    assert not (C.CHECKPOINTS / "s" / "variant" / "unet.safetensors").is_symlink()
    assert C.committed("s/variant") == C.CHECKPOINTS / "s" / "variant"  # verified through the link


def test_committed_checkpoints_match_their_manifest_and_make_targets():
    """Every file under the repository's checkpoints/ is listed, hash-identical, and retrained by a make target."""
    import json
    import re

    from mmgt.provenance import ROOT
    from mmgt.weights import sha256_file

    root = ROOT / "checkpoints"
    if not (root / "manifest.json").is_file():
        pytest.skip("no checkpoints committed")
    entries = json.loads((root / "manifest.json").read_text())
    targets = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), re.M))
    on_disk = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and p.name != "manifest.json"}
    assert on_disk == set(entries)
    for rel, entry in entries.items():
        assert sha256_file(root / rel) == entry["sha256"], rel
        assert entry["make"] in targets, rel
